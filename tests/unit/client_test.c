/*
 * client_test.c - the public SDK (include/causeway.h) on the embedded
 * engine: every call, sessions and clocks, threads sharing one client,
 * and allocation failures on every path.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "causeway.h"
#include "sdk_cases.h"
#include "util.h"

typedef struct {
	char      *dir;
	cw_client *c;
} fx;

static int
setup(void **state)
{
	fx *f  = calloc(1, sizeof(*f));
	f->dir = lab_tmpdir("cwtest");
	if (cw_open_local(&f->c, f->dir) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	cw_close(f->c);
	lab_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void
errors_have_names_and_text(void **s)
{
	(void) s;
	assert_string_equal(cw_errname(CW_ECONFLICT), "ECONFLICT");
	assert_string_equal(cw_errname(0), "OK");
	assert_string_equal(
	    cw_strerror(CW_ETYPE), "key holds an object of another type");
	assert_string_equal(cw_strerror(-999), "unknown error");
	assert_string_equal(cw_errname(-999), "EUNKNOWN");
}

static void
every_call_works_through_the_sdk(void **state)
{
	fx      *f = *state;
	cw_txn  *t;
	cw_list *l;
	void    *v;
	size_t   vl;
	int64_t  n;
	bool     in;
	assert_int_equal(cw_begin(f->c, &t), 0);
	assert_int_equal(cw_reg_put(t, "patient:1", 9, "Ann", 3), 0);
	assert_int_equal(cw_counter_add(t, "visits", 6, 2), 0);
	assert_int_equal(cw_bcounter_add(t, "stock", 5, 10), 0);
	assert_int_equal(cw_bcounter_add(t, "stock", 5, -3), 0);
	assert_int_equal(cw_set_add(t, "rx", 2, "p1", 2), 0);
	assert_int_equal(cw_set_add(t, "rx", 2, "p2", 2), 0);
	assert_int_equal(cw_set_remove(t, "rx", 2, "p1", 2), 0);
	assert_int_equal(cw_map_put(t, "doc:1", 5, "name", "Bo", 2), 0);
	assert_int_equal(cw_map_put(t, "doc:1", 5, "tmp", "x", 1), 0);
	assert_int_equal(cw_map_remove(t, "doc:1", 5, "tmp"), 0);
	assert_int_equal(cw_commit(t), 0);

	assert_int_equal(cw_begin(f->c, &t), 0);
	assert_int_equal(cw_reg_get(t, "patient:1", 9, &v, &vl), 0);
	assert_int_equal(vl, 3);
	assert_memory_equal(v, "Ann", 3);
	free(v);
	assert_int_equal(cw_reg_get(t, "nobody", 6, &v, &vl), 0);
	assert_null(v);
	assert_int_equal(cw_counter_get(t, "visits", 6, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cw_bcounter_get(t, "stock", 5, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(cw_bcounter_rights(t, "stock", 5, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(cw_bcounter_add(t, "stock", 5, -8), CW_ENORIGHTS);
	/* one DC: there is nobody to transfer to */
	assert_int_equal(cw_bcounter_transfer(t, "stock", 5, 1, 1), CW_EINVAL);
	assert_int_equal(cw_set_members(t, "rx", 2, &l), 0);
	assert_int_equal(cw_list_len(l), 1);
	size_t len;
	assert_memory_equal(cw_list_at(l, 0, &len), "p2", 2);
	assert_null(cw_list_at(l, 1, &len));
	assert_int_equal(len, 0);
	cw_list_free(l);
	assert_int_equal(cw_set_contains(t, "rx", 2, "p2", 2, &in), 0);
	assert_true(in);
	assert_int_equal(cw_map_get(t, "doc:1", 5, "name", &v, &vl), 0);
	assert_memory_equal(v, "Bo", 2);
	free(v);
	assert_int_equal(cw_map_fields(t, "doc:1", 5, &l), 0);
	assert_int_equal(cw_list_len(l), 1);
	cw_list_free(l);
	assert_int_equal(cw_counter_add(t, "patient:1", 9, 1), CW_ETYPE);
	cw_abort(t);
	cw_abort(NULL);
	cw_close(NULL);
	cw_list_free(NULL);
	assert_int_equal(cw_list_len(NULL), 0);
}

static atomic_int slept;

static void
sleep_then_mark(void *arg)
{
	usleep((useconds_t) (intptr_t) arg * 1000);
	atomic_store(&slept, 1);
}

static void
bounded_calls_return_or_time_out(void **state)
{
	(void) state;
	assert_int_equal(
	    cw_run_bounded(sleep_then_mark, (void *) 10, 5000), 0);
	assert_int_equal(atomic_load(&slept), 1);
	atomic_store(&slept, 0);
	/* too slow: the caller goes on, the call finishes in the background */
	assert_int_equal(
	    cw_run_bounded(sleep_then_mark, (void *) 300, 50), CW_ETIMEDOUT);
	assert_int_equal(atomic_load(&slept), 0);
	for (int i = 0; i < 100 && !atomic_load(&slept); i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&slept), 1);
}

static void
read_many_runs_every_read_at_once(void **state)
{
	fx *f = *state;
	sdk_case_read_many(f->c);
}

static void
null_arguments_are_einval(void **state)
{
	fx        *f = *state;
	cw_client *c;
	cw_txn    *t;
	assert_int_equal(cw_open_local(NULL, f->dir), CW_EINVAL);
	assert_int_equal(cw_open_local(&c, NULL), CW_EINVAL);
	assert_int_equal(cw_open_local(&c, ""), CW_EINVAL);
	assert_int_equal(cw_begin(NULL, &t), CW_EINVAL);
	assert_int_equal(cw_begin(f->c, NULL), CW_EINVAL);
	assert_int_equal(cw_commit(NULL), CW_EINVAL);
	assert_int_equal(cw_reg_put(NULL, "k", 1, "v", 1), CW_EINVAL);
	assert_int_equal(cw_clock_merge(f->c, NULL, 0), CW_EINVAL);
	assert_int_equal(cw_connect(&c, NULL), CW_EINVAL);
	assert_int_equal(cw_connect(NULL, "tcp://127.0.0.1:1"), CW_EINVAL);
	assert_int_equal(cw_begin(f->c, &t), 0);
	assert_int_equal(cw_reg_get(t, "k", 1, NULL, NULL), CW_EINVAL);
	assert_int_equal(cw_counter_get(t, "k", 1, NULL), CW_EINVAL);
	assert_int_equal(cw_set_members(t, "k", 1, NULL), CW_EINVAL);
	assert_int_equal(cw_set_add(t, "k", 1, NULL, 2), CW_EINVAL);
	cw_abort(t);
}

static void
status_names_the_applied_and_the_durable_state(void **state)
{
	fx        *f = *state;
	cw_txn    *t;
	cw_dc_info a;
	assert_int_equal(cw_dc_status(f->c, &a), 0);
	assert_int_equal(a.ndc, 1);
	assert_int_equal(cw_begin(f->c, &t), 0);
	assert_int_equal(cw_counter_add(t, "n", 1, 1), 0);
	assert_int_equal(cw_commit(t), 0);
	cw_dc_info b;
	assert_int_equal(cw_dc_status(f->c, &b), 0);
	assert_int_equal(b.state[0], a.state[0] + 1);
	/* a commit returns once durable */
	assert_int_equal(b.durable[0], b.state[0]);
	assert_int_equal(cw_dc_status(NULL, &b), CW_EINVAL);
}

static void
a_second_open_of_a_directory_in_use_fails_cleanly(void **state)
{
	fx        *f = *state;
	cw_client *c = (cw_client *) 1;
	/* RocksDB's LOCK file keeps two processes (or opens) apart */
	assert_int_equal(cw_open_local(&c, f->dir), CW_EIO);
	assert_null(c);
}

static void
session_clock_carries_causality_and_rejects_garbage(void **state)
{
	fx     *f = *state;
	cw_txn *t;
	void   *clk;
	size_t  len;
	assert_int_equal(cw_begin(f->c, &t), 0);
	assert_int_equal(cw_counter_add(t, "c", 1, 1), 0);
	assert_int_equal(cw_commit(t), 0);
	assert_int_equal(cw_clock_get(f->c, &clk, &len), 0);
	assert_int_equal(len, 9);                  /* one DC */
	assert_int_equal(((uint8_t *) clk)[1], 1); /* has seen seq 1 */
	assert_int_equal(cw_clock_merge(f->c, clk, len), 0);
	assert_int_equal(cw_clock_merge(f->c, clk, len - 1), CW_EPROTO);
	free(clk);
	/* a clock that has seen a transaction this DC never applied: begin
	 * waits for a bounded time, then says the DC is behind */
	uint8_t ahead[9] = { 1, 50, 0, 0, 0, 0, 0, 0, 0 };
	assert_int_equal(cw_clock_merge(f->c, ahead, sizeof(ahead)), 0);
	uint64_t t0 = cw_mono_ms();
	assert_int_equal(cw_begin(f->c, &t), CW_EUNAVAIL);
	assert_null(t);
	uint64_t waited = cw_mono_ms() - t0;
	assert_true(waited >= 900 && waited < 5000);
}

static void
connect_to_nobody_is_eunavail_and_a_bad_url_einval(void **s)
{
	(void) s;
	cw_client *c = (cw_client *) 1;
	assert_int_equal(cw_connect(&c, "tcp://127.0.0.1:1"), CW_EUNAVAIL);
	assert_null(c);
	assert_int_equal(cw_connect(&c, "nonsense"), CW_EINVAL);
	assert_int_equal(cw_connect(&c, ""), CW_EINVAL);
}

struct worker {
	cw_client *c;
	int        n;
	int        failures;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->n; i++) {
		cw_txn *t;
		if (cw_begin(w->c, &t) != 0) {
			w->failures++;
			continue;
		}
		if (cw_counter_add(t, "shared", 6, 1) != 0 ||
		    cw_commit(t) != 0)
			w->failures++;
	}
	return NULL;
}

static void
threads_share_one_client(void **state)
{
	fx           *f = *state;
	struct worker w[4];
	pthread_t     th[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker) { f->c, 500, 0 };
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(w[i].failures, 0);
	cw_txn *t;
	int64_t n;
	assert_int_equal(cw_begin(f->c, &t), 0);
	assert_int_equal(cw_counter_get(t, "shared", 6, &n), 0);
	assert_int_equal(n, 2000);
	cw_abort(t);
}

/* One transaction of every kind of write; returns the first error. */
static int
scripted_txn(cw_client *c, int round)
{
	cw_txn  *t;
	cw_list *l = NULL, *fields = NULL;
	void    *v = NULL;
	size_t   vl;
	int      rc;
	char     val[32];
	int      n = snprintf(val, sizeof(val), "round-%d", round);
	if ((rc = cw_begin(c, &t)) != 0)
		return rc;
	if ((rc = cw_reg_put(t, "r", 1, val, (size_t) n)) != 0 ||
	    (rc = cw_counter_add(t, "c", 1, 1)) != 0 ||
	    (rc = cw_set_add(t, "s", 1, val, (size_t) n)) != 0 ||
	    (rc = cw_set_remove(t, "s", 1, "round-0", 7)) != 0 ||
	    (rc = cw_map_put(t, "m", 1, "f", val, (size_t) n)) != 0 ||
	    (rc = cw_bcounter_add(t, "b", 1, 1)) != 0 ||
	    (rc = cw_reg_get(t, "r", 1, &v, &vl)) != 0 ||
	    (rc = cw_set_members(t, "s", 1, &l)) != 0 ||
	    (rc = cw_map_fields(t, "m", 1, &fields)) != 0) {
		free(v);
		cw_list_free(l);
		cw_list_free(fields);
		cw_abort(t);
		return rc;
	}
	free(v);
	cw_list_free(l);
	cw_list_free(fields);
	return cw_commit(t);
}

static void
allocation_failures_return_enomem_and_leak_nothing(void **state)
{
	fx *f      = *state;
	int failed = 0;
	/* the Nth allocation fails, for every N until the script succeeds */
	for (long nth = 0; nth < 10000; nth++) {
		cw_alloc_fail_after(nth);
		int rc = scripted_txn(f->c, (int) nth + 1);
		cw_alloc_fail_after(-1);
		if (rc == 0)
			break;
		/* a merge that could not allocate surfaces as a read error */
		if (rc != CW_ENOMEM && rc != CW_EIO)
			fail_msg("allocation %ld failed with %s", nth,
			    cw_errname(rc));
		failed++;
	}
	assert_true(failed > 10);
	/* the database is intact and usable */
	assert_int_equal(scripted_txn(f->c, 99999), 0);
	cw_txn *t;
	int64_t n;
	assert_int_equal(cw_begin(f->c, &t), 0);
	assert_int_equal(cw_counter_get(t, "c", 1, &n), 0);
	assert_int_equal(n, 2); /* the one success in the loop, and ours */
	cw_abort(t);
	/* opening fails cleanly too */
	char *dir = lab_tmpdir("cwtest");
	for (long nth = 0; nth < 5; nth++) {
		cw_client *c;
		cw_alloc_fail_after(nth);
		int rc = cw_open_local(&c, dir);
		cw_alloc_fail_after(-1);
		if (rc == 0) {
			cw_close(c);
			break;
		}
		assert_int_equal(rc, CW_ENOMEM);
	}
	lab_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errors_have_names_and_text),
		cmocka_unit_test(bounded_calls_return_or_time_out),
		cmocka_unit_test_setup_teardown(
		    read_many_runs_every_read_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    every_call_works_through_the_sdk, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    null_arguments_are_einval, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    status_names_the_applied_and_the_durable_state, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_second_open_of_a_directory_in_use_fails_cleanly, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    session_clock_carries_causality_and_rejects_garbage, setup,
		    teardown),
		cmocka_unit_test(
		    connect_to_nobody_is_eunavail_and_a_bad_url_einval),
		cmocka_unit_test_setup_teardown(
		    threads_share_one_client, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    allocation_failures_return_enomem_and_leak_nothing, setup,
		    teardown),
	};
	return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
