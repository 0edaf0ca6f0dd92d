/* schema_test.c - the transaction record: round trip, and the verifier
 * against truncated, mutated and foreign buffers. */
#include "testutil.h"

#include <stdlib.h>

#include "schema.h"

static unsigned seed;

static void
encode_sample(cw_buf *out)
{
	uint64_t      deps[3] = { 4, 0, 9 };
	cw_rec_effect e[2]    = {
		   { "\x00\x01k", 3, "\x02\x01\x05\0\0\0\0\0\0\0", 10 },
		   { "\x00\x02kk", 4, "op", 2 },
	};
	assert_int_equal(
	    cw_schema_rec_encode(1, 77, 123456, deps, 3, e, 2, out), 0);
}

static void
request_carries_its_releases(void **s)
{
	(void) s;
	cw_req h  = { .kind = CW_REQ_READ,
		 .txid      = 7,
		 .nrelease  = 3,
		 .release   = { 11, 12, 1ull << 40 } };
	cw_op  rd = { .op = CW_OP_REG_GET, .key = "k", .kl = 1 };
	cw_buf b  = { 0 };
	cw_req r;
	assert_int_equal(cw_schema_req_encode(&h, NULL, 0, &rd, 1, &b), 0);
	assert_int_equal(cw_schema_req_decode(b.p, b.len, &r), 0);
	assert_int_equal(r.txid, 7);
	assert_int_equal(r.nreads, 1);
	assert_int_equal(r.nrelease, 3);
	assert_int_equal(r.release[2], 1ull << 40);
	cw_schema_req_fini(&r);
	/* none at all: an older client's request */
	h.nrelease = 0;
	b.len      = 0;
	assert_int_equal(cw_schema_req_encode(&h, NULL, 0, &rd, 1, &b), 0);
	assert_int_equal(cw_schema_req_decode(b.p, b.len, &r), 0);
	assert_int_equal(r.nrelease, 0);
	cw_schema_req_fini(&r);
	h.nrelease = CW_MAX_RELEASE + 1;
	assert_int_equal(
	    cw_schema_req_encode(&h, NULL, 0, &rd, 1, &b), CW_EINVAL);
	cw_buf_fini(&b);
}

static void
status_reply_carries_both_state_vectors(void **s)
{
	(void) s;
	cw_rep h = { .dc  = 2,
		.ndc      = 3,
		.nstate   = 3,
		.ndurable = 3,
		.state    = { 5, 6, 7 },
		.durable  = { 5, 4, 7 },
		.digest   = 99 };
	cw_buf b = { 0 };
	cw_rep r;
	assert_int_equal(cw_schema_rep_encode(&h, NULL, 0, &b), 0);
	assert_int_equal(cw_schema_rep_decode(b.p, b.len, &r), 0);
	assert_int_equal(r.dc, 2);
	assert_int_equal(r.nstate, 3);
	assert_int_equal(r.state[1], 6);
	assert_int_equal(r.ndurable, 3);
	assert_int_equal(r.durable[1], 4);
	assert_int_equal(r.digest, 99);
	cw_schema_rep_fini(&r);
	/* an older server's reply has no durable vector */
	h.ndurable = 0;
	b.len      = 0;
	assert_int_equal(cw_schema_rep_encode(&h, NULL, 0, &b), 0);
	assert_int_equal(cw_schema_rep_decode(b.p, b.len, &r), 0);
	assert_int_equal(r.ndurable, 0);
	assert_int_equal(r.nstate, 3);
	cw_schema_rep_fini(&r);
	cw_buf_fini(&b);
}

static void
record_round_trips(void **s)
{
	(void) s;
	cw_buf        b = { 0 };
	cw_rec        r;
	cw_rec_effect e;
	encode_sample(&b);
	assert_int_equal(cw_schema_rec_decode(b.p, b.len, &r), 0);
	assert_int_equal(r.origin, 1);
	assert_int_equal(r.seq, 77);
	assert_int_equal(r.hlc, 123456);
	assert_int_equal(r.ndeps, 3);
	assert_int_equal(r.deps[2], 9);
	assert_int_equal(r.neffects, 2);
	cw_schema_rec_effect(&r, 1, &e);
	assert_int_equal(e.keylen, 4);
	assert_memory_equal(e.key, "\x00\x02kk", 4);
	assert_int_equal(e.oplen, 2);
	assert_memory_equal(e.op, "op", 2);
	cw_schema_rec_fini(&r);
	cw_buf_fini(&b);
}

static void
unaligned_buffer_decodes_through_a_copy(void **s)
{
	(void) s;
	cw_buf        b = { 0 };
	cw_rec        r;
	cw_rec_effect e;
	encode_sample(&b);
	uint8_t *odd = malloc(b.len + 1);
	memcpy(odd + 1, b.p, b.len);
	assert_int_equal(cw_schema_rec_decode(odd + 1, b.len, &r), 0);
	assert_int_equal(r.deps[0], 4);
	cw_schema_rec_effect(&r, 0, &e);
	assert_memory_equal(e.key, "\x00\x01k", 3);
	cw_schema_rec_fini(&r);
	free(odd);
	cw_buf_fini(&b);
}

/* A truncation is rejected, unless all it cut is the builder's zero
 * alignment padding at the end: then the record is whole and identical. */
static void
every_truncation_is_rejected_or_cut_only_padding(void **s)
{
	(void) s;
	cw_buf b = { 0 };
	cw_rec r;
	int    rejected = 0;
	encode_sample(&b);
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, b.p, n);
		int rc = cw_schema_rec_decode(copy, n, &r);
		if (rc == 0) {
			for (size_t j = n; j < b.len; j++)
				assert_int_equal(b.p[j], 0);
			assert_int_equal(r.seq, 77);
			assert_int_equal(r.neffects, 2);
			cw_rec_effect e;
			cw_schema_rec_effect(&r, 0, &e);
			assert_memory_equal(e.op, "\x02\x01\x05", 3);
			cw_schema_rec_fini(&r);
		} else {
			assert_int_equal(rc, CW_EPROTO);
			rejected++;
		}
		free(copy);
	}
	assert_true(rejected >= (int) b.len - 8);
	cw_buf_fini(&b);
}

static void
wrong_identifier_and_bad_deps_are_rejected(void **s)
{
	(void) s;
	cw_buf b = { 0 };
	cw_rec r;
	encode_sample(&b);
	b.p[4] = 'X'; /* "CWR1" -> "XWR1" */
	assert_int_equal(cw_schema_rec_decode(b.p, b.len, &r), CW_EPROTO);
	b.len             = 0;
	uint64_t deps[65] = { 0 };
	assert_int_equal(
	    cw_schema_rec_encode(0, 1, 1, deps, 65, NULL, 0, &b), CW_EINVAL);
	assert_int_equal(
	    cw_schema_rec_encode(0, 1, 1, deps, 0, NULL, 0, &b), CW_EINVAL);
	assert_int_equal(cw_schema_rec_decode(NULL, 0, &r), CW_EPROTO);
	cw_buf_fini(&b);
}

static void
random_mutations_never_crash_and_decoded_fields_stay_in_bounds(void **s)
{
	(void) s;
	cw_buf b = { 0 };
	cw_rec r;
	encode_sample(&b);
	uint8_t *m        = malloc(b.len);
	int      accepted = 0;
	for (int i = 0; i < 100000; i++) {
		memcpy(m, b.p, b.len);
		int flips = 1 + rand_r(&seed) % 4;
		for (int f = 0; f < flips; f++)
			m[(size_t) rand_r(&seed) % b.len] =
			    (uint8_t) rand_r(&seed);
		if (cw_schema_rec_decode(m, b.len, &r) != 0)
			continue;
		accepted++;
		assert_true(r.ndeps >= 1 && r.ndeps <= CW_SCHEMA_MAX_DEPS);
		for (size_t j = 0; j < r.neffects; j++) {
			cw_rec_effect e;
			cw_schema_rec_effect(&r, j, &e);
			const uint8_t *k = e.key, *o = e.op;
			assert_true(k >= m && k + e.keylen <= m + b.len);
			assert_true(o >= m && o + e.oplen <= m + b.len);
		}
		cw_schema_rec_fini(&r);
	}
	free(m);
	cw_buf_fini(&b);
	(void) accepted;
}

int
main(void)
{
	seed                            = tu_seed();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_round_trips),
		cmocka_unit_test(request_carries_its_releases),
		cmocka_unit_test(status_reply_carries_both_state_vectors),
		cmocka_unit_test(unaligned_buffer_decodes_through_a_copy),
		cmocka_unit_test(
		    every_truncation_is_rejected_or_cut_only_padding),
		cmocka_unit_test(wrong_identifier_and_bad_deps_are_rejected),
		cmocka_unit_test(
		    random_mutations_never_crash_and_decoded_fields_stay_in_bounds),
	};
	return cmocka_run_group_tests_name("schema", tests, NULL, NULL);
}
