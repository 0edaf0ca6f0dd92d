/* causal_test.c - vector clocks and the HLC. */
#include "testutil.h"

#include "causal.h"
#include "causeway.h"

static cw_vc
vc3(uint64_t a, uint64_t b, uint64_t c)
{
	cw_vc v;
	cw_causal_vc_init(&v, 3);
	v.v[0] = a;
	v.v[1] = b;
	v.v[2] = c;
	return v;
}

static void
compare_orders_clocks(void **s)
{
	(void) s;
	cw_vc a = vc3(1, 2, 3), b = vc3(1, 2, 3), c = vc3(2, 2, 3),
	      d = vc3(0, 5, 0);
	assert_int_equal(cw_causal_vc_compare(&a, &b), CW_VC_EQUAL);
	assert_int_equal(cw_causal_vc_compare(&a, &c), CW_VC_BEFORE);
	assert_int_equal(cw_causal_vc_compare(&c, &a), CW_VC_AFTER);
	assert_int_equal(cw_causal_vc_compare(&a, &d), CW_VC_CONCURRENT);
	assert_true(cw_causal_vc_dominates(&c, &a));
	assert_false(cw_causal_vc_dominates(&a, &c));
	assert_false(cw_causal_vc_dominates(&a, &d));
}

static void
clocks_of_different_width_compare_with_zeros(void **s)
{
	(void) s;
	cw_vc a, b = vc3(1, 0, 0);
	cw_causal_vc_init(&a, 1);
	a.v[0] = 1;
	assert_int_equal(cw_causal_vc_compare(&a, &b), CW_VC_EQUAL);
	b.v[2] = 1;
	assert_int_equal(cw_causal_vc_compare(&a, &b), CW_VC_BEFORE);
	cw_causal_vc_merge(&a, &b);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.v[2], 1);
}

static void
merge_takes_entrywise_max(void **s)
{
	(void) s;
	cw_vc a = vc3(1, 7, 0), b = vc3(4, 2, 9);
	cw_causal_vc_merge(&a, &b);
	assert_int_equal(a.v[0], 4);
	assert_int_equal(a.v[1], 7);
	assert_int_equal(a.v[2], 9);
}

static void
encode_decode_round_trips_and_rejects_garbage(void **s)
{
	(void) s;
	cw_vc   a = vc3(1, UINT64_MAX, 42), b;
	uint8_t buf[1 + 8 * CW_MAX_DC];
	size_t  n = cw_causal_vc_size(&a);
	assert_int_equal(n, 25);
	cw_causal_vc_encode(&a, buf);
	assert_int_equal(cw_causal_vc_decode(&b, buf, n), 0);
	assert_int_equal(cw_causal_vc_compare(&a, &b), CW_VC_EQUAL);
	for (size_t i = 0; i < n; i++) /* every truncation */
		assert_int_equal(cw_causal_vc_decode(&b, buf, i), CW_EPROTO);
	buf[0] = 0;
	assert_int_equal(cw_causal_vc_decode(&b, buf, 1), CW_EPROTO);
	buf[0] = 65;
	assert_int_equal(cw_causal_vc_decode(&b, buf, 1 + 8 * 65), CW_EPROTO);
	assert_int_equal(cw_causal_vc_decode(&b, NULL, 0), CW_EPROTO);
	char txt[64];
	cw_causal_vc_format(&a, txt, sizeof(txt));
	assert_string_equal(txt, "[1,18446744073709551615,42]");
}

static void
hlc_moves_forward_even_when_wall_clock_goes_back(void **s)
{
	(void) s;
	cw_hlc   h  = { 0 };
	uint64_t t1 = cw_causal_hlc_tick(&h, 1000);
	uint64_t t2 = cw_causal_hlc_tick(&h, 1000);
	uint64_t t3 = cw_causal_hlc_tick(&h, 500); /* clock stepped back */
	assert_true(t2 > t1);
	assert_true(t3 > t2);
	assert_int_equal(cw_causal_hlc_ms(t1), 1000);
	/* a remote time from the future is observed: later ticks pass it */
	uint64_t remote = (uint64_t) 5000 << CW_HLC_LOGICAL_BITS;
	cw_causal_hlc_observe(&h, remote);
	assert_true(cw_causal_hlc_tick(&h, 1001) > remote);
	assert_true(cw_causal_hlc_tick(&h, 9000) >= (uint64_t) 9000
	        << CW_HLC_LOGICAL_BITS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compare_orders_clocks),
		cmocka_unit_test(clocks_of_different_width_compare_with_zeros),
		cmocka_unit_test(merge_takes_entrywise_max),
		cmocka_unit_test(
		    encode_decode_round_trips_and_rejects_garbage),
		cmocka_unit_test(
		    hlc_moves_forward_even_when_wall_clock_goes_back),
	};
	return cmocka_run_group_tests_name("causal", tests, NULL, NULL);
}
