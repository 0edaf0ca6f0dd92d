/* replycache_test.c - the reply cache (server/replycache.h) on its own: a
 * copy gets the first reply, a running copy is busy in no-wait mode, the
 * ring forgets the oldest request first and raises the floor, a reply too
 * large to keep answers CW_EUNAVAIL, and a copy that cannot be answered
 * for want of memory is never taken for a new request. */
#include "testutil.h"

#include <string.h>

#include "replycache.h"
#include "schema.h"

static cw_buf
bytes(const char *s)
{
	return (cw_buf) { (uint8_t *) s, strlen(s), 0 };
}

static void
a_copy_gets_the_first_reply(void **state)
{
	(void) state;
	cw_rcache *c;
	cw_buf     out = { 0 }, r = bytes("first");
	uint64_t   floor;
	assert_int_equal(cw_rcache_new(&c), 0);
	assert_int_equal(
	    cw_rcache_begin(c, 7, 1, false, &out, &floor), CW_RCACHE_NEW);
	assert_int_equal(floor, 0);
	/* a copy while the first runs: busy without waiting */
	assert_int_equal(
	    cw_rcache_begin(c, 7, 1, true, &out, &floor), CW_RCACHE_BUSY);
	assert_int_equal(out.len, 0);
	cw_rcache_end(c, 7, 1, &r);
	assert_int_equal(
	    cw_rcache_begin(c, 7, 1, true, &out, &floor), CW_RCACHE_ANSWERED);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.p, "first", 5);
	/* another session's request 1 is another request */
	assert_int_equal(
	    cw_rcache_begin(c, 8, 1, false, &out, &floor), CW_RCACHE_NEW);
	cw_buf_fini(&out);
	cw_rcache_free(c);
}

static void
the_ring_forgets_the_oldest_and_raises_the_floor(void **state)
{
	(void) state;
	cw_rcache *c;
	cw_buf     out = { 0 }, r = bytes("x");
	uint64_t   floor;
	assert_int_equal(cw_rcache_new(&c), 0);
	for (uint64_t i = 1; i <= CW_RCACHE_SIZE; i++) {
		assert_int_equal(cw_rcache_begin(c, 1, i, false, &out, &floor),
		    CW_RCACHE_NEW);
		cw_rcache_end(c, 1, i, &r);
	}
	assert_int_equal(floor, 0); /* nothing forgotten yet */
	/* one more forgets request 1, and only it */
	assert_int_equal(
	    cw_rcache_begin(c, 2, 1, false, &out, &floor), CW_RCACHE_NEW);
	assert_int_equal(
	    cw_rcache_begin(c, 1, 2, true, &out, &floor), CW_RCACHE_ANSWERED);
	assert_true(floor > 0);
	assert_int_equal(
	    cw_rcache_begin(c, 1, 1, true, &out, &floor), CW_RCACHE_NEW);
	cw_buf_fini(&out);
	cw_rcache_free(c);
}

static void
a_reply_too_large_to_keep_answers_unavail(void **state)
{
	(void) state;
	cw_rcache *c;
	cw_buf     out = { 0 }, big = { 0 };
	uint64_t   floor;
	cw_rep     rep;
	assert_int_equal(cw_rcache_new(&c), 0);
	assert_int_equal(cw_buf_reserve(&big, CW_RCACHE_MAX_REPLY + 1), 0);
	memset(big.p, 'a', CW_RCACHE_MAX_REPLY + 1);
	big.len = CW_RCACHE_MAX_REPLY + 1;
	assert_int_equal(
	    cw_rcache_begin(c, 3, 9, false, &out, &floor), CW_RCACHE_NEW);
	cw_rcache_end(c, 3, 9, &big);
	assert_int_equal(
	    cw_rcache_begin(c, 3, 9, false, &out, &floor), CW_RCACHE_ANSWERED);
	assert_int_equal(cw_schema_rep_decode(out.p, out.len, &rep), 0);
	assert_int_equal(rep.err, CW_EUNAVAIL);
	cw_schema_rep_fini(&rep);
	cw_buf_fini(&big);
	cw_buf_fini(&out);
	cw_rcache_free(c);
}

/* The replies kept are bounded in bytes: 1,500 replies of a megabyte
 * once kept 1.4 GB (issue 18). Past the bound the oldest go first, their
 * copies refused; the newest are still answered; a pending entry older
 * than what was dropped keeps no reply when it ends. */
static void
the_replies_kept_are_bounded_in_bytes(void **state)
{
	(void) state;
	cw_rcache *c;
	cw_buf     out = { 0 }, big = { 0 };
	uint64_t   floor;
	cw_rep     rep;
	size_t     n = 2 * CW_RCACHE_BYTES / CW_RCACHE_MAX_REPLY;
	assert_int_equal(cw_rcache_new(&c), 0);
	assert_int_equal(cw_buf_reserve(&big, CW_RCACHE_MAX_REPLY), 0);
	memset(big.p, 'b', CW_RCACHE_MAX_REPLY);
	big.len = CW_RCACHE_MAX_REPLY;
	/* request 0 stays pending while the others come and go */
	assert_int_equal(
	    cw_rcache_begin(c, 4, 0, false, &out, &floor), CW_RCACHE_NEW);
	for (uint64_t i = 1; i <= n; i++) {
		assert_int_equal(cw_rcache_begin(c, 4, i, false, &out, &floor),
		    CW_RCACHE_NEW);
		cw_rcache_end(c, 4, i, &big);
		assert_true(cw_rcache_bytes(c) <= CW_RCACHE_BYTES);
	}
	assert_int_equal(floor, 0); /* nothing forgotten: dropped */
	assert_true(cw_rcache_bytes(c) > CW_RCACHE_BYTES / 2);
	/* the oldest: refused, its outcome cannot be told again */
	assert_int_equal(
	    cw_rcache_begin(c, 4, 1, false, &out, &floor), CW_RCACHE_ANSWERED);
	assert_int_equal(cw_schema_rep_decode(out.p, out.len, &rep), 0);
	assert_int_equal(rep.err, CW_EUNAVAIL);
	cw_schema_rep_fini(&rep);
	out.len = 0;
	/* the newest: its reply */
	assert_int_equal(
	    cw_rcache_begin(c, 4, n, false, &out, &floor), CW_RCACHE_ANSWERED);
	assert_int_equal(out.len, CW_RCACHE_MAX_REPLY);
	out.len = 0;
	/* the old pending one ends: not kept, the bound holds */
	cw_rcache_end(c, 4, 0, &big);
	assert_true(cw_rcache_bytes(c) <= CW_RCACHE_BYTES);
	assert_int_equal(
	    cw_rcache_begin(c, 4, 0, false, &out, &floor), CW_RCACHE_ANSWERED);
	assert_int_equal(cw_schema_rep_decode(out.p, out.len, &rep), 0);
	assert_int_equal(rep.err, CW_EUNAVAIL);
	cw_schema_rep_fini(&rep);
	cw_buf_fini(&big);
	cw_buf_fini(&out);
	cw_rcache_free(c);
}

/* Before the reply cache had a file of its own, a copy whose first reply
 * could not be copied out for want of memory was taken for a request
 * never seen, and ran a second time. */
static void
a_copy_without_memory_for_its_answer_is_not_run_again(void **state)
{
	(void) state;
	cw_rcache *c;
	cw_buf     out = { 0 }, r = bytes("the first reply");
	uint64_t   floor;
	assert_int_equal(cw_rcache_new(&c), 0);
	assert_int_equal(
	    cw_rcache_begin(c, 5, 5, false, &out, &floor), CW_RCACHE_NEW);
	cw_rcache_end(c, 5, 5, &r);
	cw_alloc_fail_after(0);
	int rc = cw_rcache_begin(c, 5, 5, false, &out, &floor);
	cw_alloc_fail_after(-1);
	assert_int_equal(rc, CW_ENOMEM);
	assert_int_equal(out.len, 0);
	/* and with memory again, the same first reply */
	assert_int_equal(
	    cw_rcache_begin(c, 5, 5, false, &out, &floor), CW_RCACHE_ANSWERED);
	assert_int_equal(out.len, r.len);
	cw_buf_fini(&out);
	cw_rcache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_copy_gets_the_first_reply),
		cmocka_unit_test(
		    the_ring_forgets_the_oldest_and_raises_the_floor),
		cmocka_unit_test(a_reply_too_large_to_keep_answers_unavail),
		cmocka_unit_test(the_replies_kept_are_bounded_in_bytes),
		cmocka_unit_test(
		    a_copy_without_memory_for_its_answer_is_not_run_again),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
