/* server_test.c - causewayd's request path without the network
 * (cw_server_handle) on a real engine in a temporary directory: the reply
 * cache that keeps a resent copy from running twice. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "server.h"
#include "txn.h"

typedef struct {
	char      *dir;
	cw_db     *db;
	cw_server *s;
	uint64_t   epoch;
} fx;

/* Sends h (with the writes w[0..nw)) and returns the reply's err. */
static int
call(fx *f, cw_req *h, const cw_op *w, size_t nw)
{
	cw_buf b = { 0 }, out = { 0 };
	cw_rep rep;
	assert_int_equal(cw_schema_req_encode(h, w, nw, NULL, 0, &b), 0);
	assert_int_equal(cw_server_handle(f->s, b.p, b.len, &out), 0);
	assert_int_equal(cw_schema_rep_decode(out.p, out.len, &rep), 0);
	int err = rep.err;
	if (rep.epoch != 0)
		f->epoch = rep.epoch;
	cw_schema_rep_fini(&rep);
	cw_buf_fini(&b);
	cw_buf_fini(&out);
	return err;
}

/* A one-shot commit of session sid, request rid: counter k += 1. */
static int
add(fx *f, uint64_t sid, uint64_t rid, const char *k, bool resent,
    uint64_t age_ms)
{
	cw_op op = {
		.op = CW_OP_COUNTER_ADD, .key = k, .kl = strlen(k), .n = 1
	};
	cw_req h = { .kind = CW_REQ_COMMIT,
		.sid       = sid,
		.rid       = rid,
		.epoch     = resent ? f->epoch : 0,
		.resent    = resent,
		.age_ms    = age_ms };
	return call(f, &h, &op, 1);
}

static int64_t
counter(fx *f, const char *k)
{
	cw_tx  *t;
	int64_t v;
	assert_int_equal(cw_tx_begin(f->db, NULL, 0, &t), 0);
	assert_int_equal(cw_tx_counter_get(t, k, strlen(k), &v), 0);
	cw_tx_free(t);
	return v;
}

static int
setup(void **state)
{
	fx            *f = calloc(1, sizeof(*f));
	cw_db_opts     o;
	cw_server_opts so;
	f->dir = lab_tmpdir("cwtest");
	cw_db_opts_default(&o);
	o.sync = false; /* many requests: the cache, not the disk */
	cw_server_opts_default(&so);
	if (cw_db_open(&f->db, f->dir, &o) != 0 ||
	    cw_server_new(&f->s, f->db, &so) != 0)
		return -1;
	cw_req h = { .kind = CW_REQ_STATUS };
	call(f, &h, NULL, 0); /* learns the epoch */
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	cw_server_free(f->s);
	cw_db_close(f->db);
	lab_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void
a_resent_copy_never_runs_twice_however_many_requests_came_between(void **state)
{
	fx      *f  = *state;
	uint64_t t0 = cw_mono_ms(); /* before the first send, as the SDK */
	assert_int_equal(add(f, 1, 1, "a", false, 0), 0);
	/* enough requests to push the first out of any cache of 65,536:
	 * a cache that forgot it must not take the copy for a first one */
	for (uint64_t i = 1; i <= 70000; i++)
		assert_int_equal(add(f, 2, i, "b", false, 0), 0);
	int rc = add(f, 1, 1, "a", true, cw_mono_ms() - t0 + 1);
	assert_true(rc == 0 || rc == CW_EUNAVAIL);
	assert_int_equal(counter(f, "a"), 1);
	/* and every copy gets the same answer */
	assert_int_equal(add(f, 1, 1, "a", true, cw_mono_ms() - t0 + 1), rc);
	assert_int_equal(counter(f, "b"), 70000);
	/* a resent begin has no effect to repeat: it runs */
	cw_op  rd = { .op = CW_OP_COUNTER_GET, .key = "a", .kl = 1 };
	cw_buf b = { 0 }, out = { 0 };
	cw_rep rep;
	cw_req h = { .kind = CW_REQ_READ,
		.sid       = 1,
		.rid       = 2,
		.epoch     = f->epoch,
		.resent    = true,
		.age_ms    = 50 };
	assert_int_equal(cw_schema_req_encode(&h, NULL, 0, &rd, 1, &b), 0);
	assert_int_equal(cw_server_handle(f->s, b.p, b.len, &out), 0);
	assert_int_equal(cw_schema_rep_decode(out.p, out.len, &rep), 0);
	assert_int_equal(rep.err, 0);
	assert_true(rep.txid != 0);
	cw_schema_rep_fini(&rep);
	cw_buf_fini(&b);
	cw_buf_fini(&out);
}

static void
a_resent_copy_the_cache_never_saw_runs_once(void **state)
{
	/* its first copy never arrived (the connection broke before) */
	fx *f = *state;
	assert_int_equal(add(f, 3, 1, "c", true, 50), 0);
	assert_int_equal(add(f, 3, 1, "c", true, 60), 0);
	assert_int_equal(counter(f, "c"), 1);
	/* a copy with no age, from an older SDK, is judged the same while
	 * the cache has forgotten nothing */
	assert_int_equal(add(f, 3, 2, "c", true, 0), 0);
	assert_int_equal(counter(f, "c"), 2);
}

/* A one-shot read of counter k by session sid, request rid. OUT: *v. */
static int
read_once(
    fx *f, uint64_t sid, uint64_t rid, const char *k, bool resent, int64_t *v)
{
	cw_op  rd = { .op = CW_OP_COUNTER_GET, .key = k, .kl = strlen(k) };
	cw_buf b = { 0 }, out = { 0 };
	cw_rep rep;
	cw_req h = { .kind = CW_REQ_COMMIT,
		.sid       = sid,
		.rid       = rid,
		.epoch     = resent ? f->epoch : 0,
		.resent    = resent,
		.age_ms    = resent ? 10 : 0 };
	assert_int_equal(cw_schema_req_encode(&h, NULL, 0, &rd, 1, &b), 0);
	assert_int_equal(cw_server_handle(f->s, b.p, b.len, &out), 0);
	assert_int_equal(cw_schema_rep_decode(out.p, out.len, &rep), 0);
	int err = rep.err;
	if (err == 0) {
		cw_rep_result r;
		assert_int_equal(rep.nresults, 1);
		cw_schema_rep_result(&rep, 0, &r);
		*v = r.n;
	}
	cw_schema_rep_fini(&rep);
	cw_buf_fini(&b);
	cw_buf_fini(&out);
	return err;
}

/* The reply cache once kept every reply of a request with a session id,
 * reads included: 200 `cw get` of a 1 MB value kept 143 MB (issue 18).
 * A read changes nothing, so a copy of it runs again: it sees what is
 * there now, not the first reply. */
static void
a_resent_read_runs_again_and_is_not_kept(void **state)
{
	fx     *f = *state;
	int64_t v = -1;
	assert_int_equal(add(f, 4, 1, "r", false, 0), 0);
	assert_int_equal(read_once(f, 4, 2, "r", false, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(add(f, 4, 3, "r", false, 0), 0);
	assert_int_equal(read_once(f, 4, 2, "r", true, &v), 0);
	assert_int_equal(v, 2);
	/* a write's copy is still answered from the cache */
	assert_int_equal(add(f, 4, 3, "r", true, 10), 0);
	assert_int_equal(counter(f, "r"), 2);
}

int
main(void)
{
	cw_log_set_level(CW_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    a_resent_copy_never_runs_twice_however_many_requests_came_between,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_resent_copy_the_cache_never_saw_runs_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_resent_read_runs_again_and_is_not_kept, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
