/*
 * sdk_cases.c - see sdk_cases.h.
 */
#include "sdk_cases.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
sdk_case_read_many(cw_client *c)
{
	cw_txn *t;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_reg_put(t, "rm:reg", 6, "Ann", 3), 0);
	assert_int_equal(cw_counter_add(t, "rm:cnt", 6, 5), 0);
	assert_int_equal(cw_bcounter_add(t, "rm:bc", 5, 9), 0);
	assert_int_equal(cw_set_add(t, "rm:set", 6, "a", 1), 0);
	assert_int_equal(cw_set_add(t, "rm:set", 6, "b", 1), 0);
	assert_int_equal(cw_map_put(t, "rm:map", 6, "name", "Bo", 2), 0);
	assert_int_equal(cw_commit(t), 0);

	assert_int_equal(cw_begin(c, &t), 0);
	/* a buffered write goes with the reads and is seen by them */
	assert_int_equal(cw_counter_add(t, "rm:cnt", 6, 2), 0);
	cw_read r[10] = {
		{ .kind = CW_READ_REG, .key = "rm:reg", .kl = 6 },
		{ .kind = CW_READ_COUNTER, .key = "rm:cnt", .kl = 6 },
		{ .kind = CW_READ_BCOUNTER, .key = "rm:bc", .kl = 5 },
		{ .kind   = CW_READ_SET_CONTAINS,
		    .key  = "rm:set",
		    .kl   = 6,
		    .elem = "b",
		    .el   = 1 },
		{ .kind   = CW_READ_SET_CONTAINS,
		    .key  = "rm:set",
		    .kl   = 6,
		    .elem = "z",
		    .el   = 1 },
		{ .kind = CW_READ_SET_MEMBERS, .key = "rm:set", .kl = 6 },
		{ .kind    = CW_READ_MAP_GET,
		    .key   = "rm:map",
		    .kl    = 6,
		    .field = "name" },
		{ .kind    = CW_READ_MAP_GET,
		    .key   = "rm:map",
		    .kl    = 6,
		    .field = "none" },
		{ .kind = CW_READ_MAP_FIELDS, .key = "rm:map", .kl = 6 },
		/* a wrong type fails this read alone */
		{ .kind = CW_READ_COUNTER, .key = "rm:reg", .kl = 6 },
	};
	assert_int_equal(cw_read_many(t, r, 10), 0);
	for (int i = 0; i < 9; i++)
		assert_int_equal(r[i].err, 0);
	assert_true(r[0].found);
	assert_int_equal(r[0].vl, 3);
	assert_memory_equal(r[0].v, "Ann", 3);
	assert_int_equal(r[1].n, 7);
	assert_int_equal(r[2].n, 9);
	assert_true(r[3].found);
	assert_false(r[4].found);
	assert_int_equal(cw_list_len(r[5].list), 2);
	size_t l;
	assert_memory_equal(cw_list_at(r[5].list, 1, &l), "b", 1);
	assert_true(r[6].found);
	assert_memory_equal(r[6].v, "Bo", 2);
	assert_false(r[7].found);
	assert_null(r[7].v);
	assert_int_equal(cw_list_len(r[8].list), 1);
	assert_int_equal(r[9].err, CW_ETYPE);
	cw_read_fini(r, 10);
	assert_null(r[0].v);
	assert_null(r[5].list);

	/* many reads in one call */
	enum { N = 1000 };
	cw_read *m      = calloc(N, sizeof(*m));
	char(*keys)[16] = calloc(N, sizeof(*keys));
	assert_non_null(m);
	assert_non_null(keys);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "rm:k%d", i);
		m[i] = (cw_read) { .kind = CW_READ_REG,
			.key             = keys[i],
			.kl              = strlen(keys[i]) };
	}
	m[N - 1].key = "rm:reg";
	m[N - 1].kl  = 6;
	assert_int_equal(cw_read_many(t, m, N), 0);
	assert_false(m[0].found);
	assert_true(m[N - 1].found);
	cw_read_fini(m, N);

	/* bad arguments: nothing runs */
	assert_int_equal(cw_read_many(t, m, 0), CW_EINVAL);
	assert_int_equal(cw_read_many(NULL, m, 1), CW_EINVAL);
	assert_int_equal(cw_read_many(t, NULL, 1), CW_EINVAL);
	assert_int_equal(cw_read_many(t, m, CW_MAX_READS + 1), CW_EINVAL);
	cw_read bad[2] = {
		{ .kind = CW_READ_REG, .key = "rm:reg", .kl = 6 },
		{ .kind = (cw_read_kind) 99, .key = "rm:reg", .kl = 6 },
	};
	assert_int_equal(cw_read_many(t, bad, 2), CW_EINVAL);
	assert_null(bad[0].v);
	bad[1] =
	    (cw_read) { .kind = CW_READ_MAP_GET, .key = "rm:map", .kl = 6 };
	assert_int_equal(cw_read_many(t, bad, 2), CW_EINVAL); /* no field */
	bad[1] = (cw_read) { .kind = CW_READ_REG, .key = NULL, .kl = 0 };
	assert_int_equal(cw_read_many(t, bad, 2), CW_EINVAL);
	free(m);
	free(keys);
	assert_int_equal(cw_commit(t), 0);
}
