/*
 * crdt_test.c - the CRDT types: merge semantics, commutativity of
 * concurrent effects under random permutations, rights accounting, and
 * decoders fed garbage.
 */
#include "testutil.h"

#include <stdlib.h>

#include "crdt.h"

static unsigned seed;

/* An operand kept in its own buffer. */
typedef struct {
	uint8_t *p;
	size_t   n;
} opb;

static opb
take(cw_buf *b)
{
	opb o = { b->p, b->len };
	memset(b, 0, sizeof(*b));
	return o;
}

/* Folds prefix then ops in the order perm; OUT: state in *out. */
static void
fold(const opb *prefix, size_t np, const opb *ops, const size_t *perm,
    size_t n, cw_buf *out)
{
	cw_buf st = { 0 }, next = { 0 };
	for (size_t i = 0; i < np + n; i++) {
		const opb  *o = i < np ? &prefix[i] : &ops[perm[i - np]];
		const void *p = o->p;
		assert_int_equal(cw_crdt_merge(st.len ? st.p : NULL, st.len,
		                     &p, &o->n, 1, &next),
		    0);
		cw_buf t = st;
		st       = next;
		next     = t;
	}
	cw_buf_fini(&next);
	*out = st;
}

static void
shuffle(size_t *perm, size_t n)
{
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j    = (size_t) rand_r(&seed) % i;
		size_t t    = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j]     = t;
	}
}

/* Applies ops in 30 random orders (one at a time, and also all in one
 * merge call) and checks every order gives the same state bytes. */
static void
check_permutations(const opb *prefix, size_t np, const opb *ops, size_t n)
{
	size_t *perm  = malloc(n * sizeof(*perm));
	cw_buf  first = { 0 };
	shuffle(perm, n);
	fold(prefix, np, ops, perm, n, &first);
	for (int round = 0; round < 30; round++) {
		cw_buf st = { 0 };
		shuffle(perm, n);
		fold(prefix, np, ops, perm, n, &st);
		assert_int_equal(st.len, first.len);
		assert_memory_equal(st.p, first.p, st.len);
		cw_buf_fini(&st);
	}
	/* all at once, as RocksDB's full merge does */
	const void **pp = malloc((np + n) * sizeof(*pp));
	size_t      *ll = malloc((np + n) * sizeof(*ll));
	shuffle(perm, n);
	for (size_t i = 0; i < np; i++) {
		pp[i] = prefix[i].p;
		ll[i] = prefix[i].n;
	}
	for (size_t i = 0; i < n; i++) {
		pp[np + i] = ops[perm[i]].p;
		ll[np + i] = ops[perm[i]].n;
	}
	cw_buf st = { 0 };
	assert_int_equal(cw_crdt_merge(NULL, 0, pp, ll, np + n, &st), 0);
	assert_int_equal(st.len, first.len);
	assert_memory_equal(st.p, first.p, st.len);
	cw_buf_fini(&st);
	cw_buf_fini(&first);
	free(pp);
	free(ll);
	free(perm);
}

static void
free_ops(opb *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ops[i].p);
}

static uint8_t elems[8][4] = { "a", "bb", "ccc", "d", "ee", "f", "g", "h" };

static void
reg_concurrent_puts_converge_to_largest_stamp(void **s)
{
	(void) s;
	opb      ops[40];
	cw_buf   b    = { 0 };
	uint64_t best = 0;
	for (int i = 0; i < 40; i++) {
		uint64_t hlc = (uint64_t) (rand_r(&seed) % 20) + 1;
		uint16_t dc  = (uint16_t) (rand_r(&seed) % 4);
		best         = hlc * 4 + dc > best ? hlc * 4 + dc : best;
		cw_crdt_op_reg(&b, CW_T_REG, CW_OP_PUT, hlc, dc, elems[i % 8],
		    strlen((char *) elems[i % 8]));
		ops[i] = take(&b);
	}
	check_permutations(NULL, 0, ops, 40);
	size_t perm[40];
	shuffle(perm, 40);
	cw_buf st = { 0 };
	fold(NULL, 0, ops, perm, 40, &st);
	bool           present;
	const uint8_t *v;
	size_t         vl;
	uint64_t       hlc;
	uint16_t       dc;
	assert_int_equal(
	    cw_crdt_reg_read(st.p, st.len, &present, &v, &vl, &hlc, &dc), 0);
	assert_true(present);
	assert_int_equal(hlc * 4 + dc, best);
	cw_buf_fini(&st);
	free_ops(ops, 40);
}

static void
field_puts_and_deletes_commute(void **s)
{
	(void) s;
	opb    ops[30];
	cw_buf b = { 0 };
	for (int i = 0; i < 30; i++) {
		int      kind = rand_r(&seed) % 3 == 0 ? CW_OP_DEL : CW_OP_PUT;
		uint64_t hlc  = (uint64_t) (rand_r(&seed) % 10) + 1;
		cw_crdt_op_reg(&b, CW_T_FIELD, kind, hlc,
		    (uint16_t) (rand_r(&seed) % 3), elems[i % 8],
		    kind == CW_OP_DEL ? 0 : 1);
		ops[i] = take(&b);
	}
	check_permutations(NULL, 0, ops, 30);
	free_ops(ops, 30);
}

static void
counter_adds_commute_and_sum(void **s)
{
	(void) s;
	opb     ops[50];
	cw_buf  b   = { 0 };
	int64_t sum = 0;
	for (int i = 0; i < 50; i++) {
		int64_t d = (int64_t) (rand_r(&seed) % 2001) - 1000;
		if (i == 7)
			d = INT64_MAX; /* wraps, in every order alike */
		sum = (int64_t) ((uint64_t) sum + (uint64_t) d);
		cw_crdt_op_counter(&b, d);
		ops[i] = take(&b);
	}
	check_permutations(NULL, 0, ops, 50);
	size_t perm[50];
	shuffle(perm, 50);
	cw_buf st = { 0 };
	fold(NULL, 0, ops, perm, 50, &st);
	int64_t v;
	assert_int_equal(cw_crdt_counter_read(st.p, st.len, &v), 0);
	assert_int_equal(v, sum);
	cw_buf_fini(&st);
	free_ops(ops, 50);
}

static void
bcounter_effects_commute(void **s)
{
	(void) s;
	opb    ops[60];
	cw_buf b = { 0 };
	for (int i = 0; i < 60; i++) {
		int      kind = 1 + rand_r(&seed) % 3;
		uint16_t a    = (uint16_t) (rand_r(&seed) % 3);
		uint16_t c = kind == CW_OP_XFER ? (uint16_t) ((a + 1) % 3) : 0;
		cw_crdt_op_bcounter(
		    &b, kind, a, c, (uint64_t) (rand_r(&seed) % 50) + 1);
		ops[i] = take(&b);
	}
	check_permutations(NULL, 0, ops, 60);
	free_ops(ops, 60);
}

static void
bcounter_rights_account_for_transfers_and_spending(void **s)
{
	(void) s;
	cw_buf b = { 0 }, st = { 0 };
	opb    ops[4];
	cw_crdt_op_bcounter(&b, CW_OP_INC, 0, 0, 10);
	ops[0] = take(&b);
	cw_crdt_op_bcounter(&b, CW_OP_XFER, 0, 1, 4);
	ops[1] = take(&b);
	cw_crdt_op_bcounter(&b, CW_OP_DEC, 1, 0, 3);
	ops[2] = take(&b);
	cw_crdt_op_bcounter(&b, CW_OP_INC, 2, 0, 5);
	ops[3]         = take(&b);
	size_t perm[4] = { 0, 1, 2, 3 };
	fold(NULL, 0, ops, perm, 4, &st);
	int64_t v;
	assert_int_equal(cw_crdt_bcounter_value(st.p, st.len, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(cw_crdt_bcounter_rights(st.p, st.len, 0, &v), 0);
	assert_int_equal(v, 6);
	assert_int_equal(cw_crdt_bcounter_rights(st.p, st.len, 1, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(cw_crdt_bcounter_rights(st.p, st.len, 2, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(cw_crdt_bcounter_rights(NULL, 0, 2, &v), 0);
	assert_int_equal(v, 0);
	cw_buf_fini(&st);
	free_ops(ops, 4);
}

static cw_tag
tag(uint16_t dc, uint64_t seq, uint32_t idx)
{
	cw_tag t = { dc, seq, idx };
	return t;
}

static void
set_concurrent_adds_and_removes_commute(void **s)
{
	(void) s;
	/* causal prefix: every element added with two tags */
	opb    prefix[16], ops[40];
	cw_buf b = { 0 }, st = { 0 };
	for (int i = 0; i < 16; i++) {
		cw_crdt_op_set_add(&b,
		    tag((uint16_t) (i % 2), 1 + (uint64_t) i, 0), elems[i / 2],
		    strlen((char *) elems[i / 2]));
		prefix[i] = take(&b);
	}
	size_t pperm[16];
	for (int i = 0; i < 16; i++)
		pperm[i] = (size_t) i;
	fold(NULL, 0, prefix, pperm, 16, &st);
	/* concurrent: removes of observed tags, adds with fresh tags */
	for (int i = 0; i < 40; i++) {
		int    e  = rand_r(&seed) % 8;
		size_t el = strlen((char *) elems[e]);
		if (rand_r(&seed) % 2) {
			bool           found;
			const uint8_t *tags;
			uint32_t       nt;
			assert_int_equal(cw_crdt_set_find(st.p, st.len,
			                     elems[e], el, &found, &tags, &nt),
			    0);
			assert_true(found);
			cw_crdt_op_set_rem(&b, elems[e], el, tags, nt);
		} else {
			cw_crdt_op_set_add(
			    &b, tag(2, 100 + (uint64_t) i, 1), elems[e], el);
		}
		ops[i] = take(&b);
	}
	check_permutations(prefix, 16, ops, 40);
	cw_buf_fini(&st);
	free_ops(prefix, 16);
	free_ops(ops, 40);
}

static void
set_add_wins_over_concurrent_remove(void **s)
{
	(void) s;
	cw_buf b = { 0 }, st = { 0 };
	opb    prefix[1], ops[2];
	cw_crdt_op_set_add(&b, tag(0, 1, 0), "x", 1);
	prefix[0]    = take(&b);
	size_t p0[1] = { 0 };
	fold(NULL, 0, prefix, p0, 1, &st);
	bool           found;
	const uint8_t *tags;
	uint32_t       nt;
	assert_int_equal(
	    cw_crdt_set_find(st.p, st.len, "x", 1, &found, &tags, &nt), 0);
	cw_crdt_op_set_rem(&b, "x", 1, tags, nt); /* at DC 0 */
	ops[0] = take(&b);
	cw_crdt_op_set_add(&b, tag(1, 1, 0), "x", 1); /* at DC 1 */
	ops[1] = take(&b);
	for (int order = 0; order < 2; order++) {
		size_t perm[2] = { (size_t) order, (size_t) !order };
		cw_buf out     = { 0 };
		fold(prefix, 1, ops, perm, 2, &out);
		assert_int_equal(cw_crdt_set_find(out.p, out.len, "x", 1,
		                     &found, &tags, &nt),
		    0);
		assert_true(found);
		assert_int_equal(nt, 1);
		cw_buf_fini(&out);
	}
	/* and a remove of every observed tag removes the element */
	cw_buf out     = { 0 };
	size_t perm[1] = { 0 };
	fold(prefix, 1, ops, perm, 1, &out);
	assert_int_equal(
	    cw_crdt_set_find(out.p, out.len, "x", 1, &found, &tags, &nt), 0);
	assert_false(found);
	cw_buf_fini(&out);
	cw_buf_fini(&st);
	free_ops(prefix, 1);
	free_ops(ops, 2);
}

static void
types_created_concurrently_converge_to_lowest_type(void **s)
{
	(void) s;
	opb    ops[12];
	cw_buf b = { 0 }, st = { 0 };
	for (int i = 0; i < 12; i++) {
		switch (i % 4) {
		case 0:
			cw_crdt_op_counter(&b, i);
			break;
		case 1:
			cw_crdt_op_set_add(
			    &b, tag(1, (uint64_t) i, 0), "e", 1);
			break;
		case 2:
			cw_crdt_op_reg(&b, CW_T_REG, CW_OP_PUT, 9, 0, "v", 1);
			break;
		default:
			cw_crdt_op_bcounter(&b, CW_OP_INC, 0, 0, 1);
		}
		ops[i] = take(&b);
	}
	check_permutations(NULL, 0, ops, 12);
	size_t perm[12];
	shuffle(perm, 12);
	fold(NULL, 0, ops, perm, 12, &st);
	assert_int_equal(cw_crdt_type_of(st.p, st.len), CW_T_REG);
	bool           present;
	const uint8_t *v;
	size_t         vl;
	assert_int_equal(
	    cw_crdt_reg_read(st.p, st.len, &present, &v, &vl, NULL, NULL), 0);
	assert_true(present);
	int64_t c;
	assert_int_equal(cw_crdt_bcounter_value(st.p, st.len, &c), CW_ETYPE);
	cw_buf_fini(&st);
	free_ops(ops, 12);
}

static void
type_rows_converge_to_lowest_type(void **s)
{
	(void) s;
	opb    ops[10];
	cw_buf b = { 0 }, st = { 0 };
	for (int i = 0; i < 10; i++) {
		cw_crdt_op_type(&b, CW_T_COUNTER + i % 4); /* 2..5 */
		ops[i] = take(&b);
	}
	check_permutations(NULL, 0, ops, 10);
	size_t perm[10];
	shuffle(perm, 10);
	fold(NULL, 0, ops, perm, 10, &st);
	int type;
	assert_int_equal(cw_crdt_type_read(st.p, st.len, &type), 0);
	assert_int_equal(type, CW_T_COUNTER);
	assert_int_equal(cw_crdt_type_read(NULL, 0, &type), 0);
	assert_int_equal(type, CW_T_NONE);
	cw_crdt_op_type(&b, 6); /* a field is no object type */
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 1, 10), CW_EPROTO);
	cw_buf_fini(&b);
	cw_buf_fini(&st);
	free_ops(ops, 10);
}

static void
validate_accepts_good_and_rejects_bad_operands(void **s)
{
	(void) s;
	cw_buf b = { 0 };
	cw_crdt_op_reg(&b, CW_T_REG, CW_OP_PUT, 5, 2, "value", 5);
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 3, 100), 0);
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 2, 100), CW_EPROTO);
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 3, 4), CW_ETOOBIG);
	for (size_t i = 0; i < b.len; i++) /* every truncation */
		assert_int_equal(
		    cw_crdt_op_validate(b.p, i, 3, 100), CW_EPROTO);
	cw_buf_u8(&b, 0); /* trailing byte */
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 3, 100), CW_EPROTO);
	b.len = 0;
	cw_crdt_op_reg(&b, CW_T_REG, CW_OP_DEL, 5, 0, NULL, 0);
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 1, 100), CW_EPROTO);
	b.len = 0;
	cw_crdt_op_bcounter(&b, CW_OP_XFER, 1, 1, 5); /* to itself */
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 3, 100), CW_EPROTO);
	b.len = 0;
	cw_crdt_op_bcounter(&b, CW_OP_INC, 1, 0, 0); /* zero amount */
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 3, 100), CW_EPROTO);
	b.len                          = 0;
	uint8_t tags[CW_CRDT_TAG_SIZE] = { 0 };
	cw_crdt_op_set_rem(&b, "e", 1, tags, 1);
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 1, 100), 0);
	b.p[2 + 4 + 1] = 0xff; /* ntags far beyond the bytes */
	assert_int_equal(cw_crdt_op_validate(b.p, b.len, 1, 100), CW_EPROTO);
	uint8_t junk[2] = { 9, 1 };
	assert_int_equal(cw_crdt_op_validate(junk, 2, 1, 100), CW_EPROTO);
	cw_buf_fini(&b);
}

static void
garbage_states_and_operands_never_crash_merge(void **s)
{
	(void) s;
	uint8_t buf[64];
	cw_buf  out = { 0 };
	int     ok  = 0;
	for (int i = 0; i < 200000; i++) {
		size_t n = (size_t) rand_r(&seed) % sizeof(buf);
		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t) rand_r(&seed);
		if (n > 0)
			buf[0] = (uint8_t) (1 + rand_r(&seed) % 7);
		const void *p = buf;
		int rc = cw_crdt_merge(i % 2 ? buf : NULL, n, &p, &n, 1, &out);
		assert_true(rc == 0 || rc == CW_EPROTO);
		ok += rc == 0;
		rc = cw_crdt_op_validate(buf, n, 64, 1 << 20);
		assert_true(rc == 0 || rc == CW_EPROTO);
	}
	cw_buf_fini(&out);
	(void) ok;
}

int
main(void)
{
	seed                            = tu_seed();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    reg_concurrent_puts_converge_to_largest_stamp),
		cmocka_unit_test(field_puts_and_deletes_commute),
		cmocka_unit_test(counter_adds_commute_and_sum),
		cmocka_unit_test(bcounter_effects_commute),
		cmocka_unit_test(
		    bcounter_rights_account_for_transfers_and_spending),
		cmocka_unit_test(set_concurrent_adds_and_removes_commute),
		cmocka_unit_test(set_add_wins_over_concurrent_remove),
		cmocka_unit_test(
		    types_created_concurrently_converge_to_lowest_type),
		cmocka_unit_test(type_rows_converge_to_lowest_type),
		cmocka_unit_test(
		    validate_accepts_good_and_rejects_bad_operands),
		cmocka_unit_test(
		    garbage_states_and_operands_never_crash_merge),
	};
	return cmocka_run_group_tests_name("crdt", tests, NULL, NULL);
}
