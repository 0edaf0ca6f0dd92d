/*
 * fmk_run_test.c - the prescription app on three real DCs: the `fmk`
 * program populates, runs the FMKe workload spread over the DCs while one
 * DC is cut off and healed, and `fmk check` must find every invariant
 * held. Then the checks must be able to fail: a torn create (test-only
 * --broken split-create) is reported by the run's auditors and by the
 * check, and processing without the token on both sides of a partition
 * is reported as processed twice.
 */
#include "../unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "causeway.h"
#include "cluster.h"
#include "fmk.h"

#define N 3

typedef struct {
	cluster *c;
	char     urls[N * 64];
	char     log[300];
} env;

static const char *
fmk_bin(void)
{
	const char *b = getenv("FMK");
	return b ? b : "build/bin/fmk";
}

static int
setup(void **state)
{
	static char *extra[] = { "--session-wait", "1000", NULL };
	env         *e       = calloc(1, sizeof(*e));
	if (e == NULL || cluster_start(&e->c, N, extra) != 0)
		return -1;
	size_t n = 0;
	for (int i = 0; i < N; i++)
		n += (size_t) snprintf(e->urls + n, sizeof(e->urls) - n,
		    "%s%s", i ? "," : "", e->c->d[i].url);
	snprintf(e->log, sizeof(e->log), "%s/fmk.out", e->c->tmp);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	env *e  = *state;
	int  rc = cluster_stop(e->c); /* -1: a DC did not stop cleanly */
	free(e);
	return rc;
}

static void
show_log(env *e)
{
	FILE *f = fopen(e->log, "r");
	char  line[512];
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	if (f != NULL)
		fclose(f);
	truncate(e->log, 0);
}

/* Runs `fmk ARGS...` to the end (at most `secs`); its exit status. */
static int
fmk_exec(env *e, unsigned secs, char **args)
{
	char *argv[40];
	int   n   = 0;
	argv[n++] = (char *) fmk_bin();
	for (int i = 0; args[i] != NULL && n < 39; i++)
		argv[n++] = args[i];
	argv[n]   = NULL;
	pid_t pid = proc_spawn(argv, e->log);
	assert_true(pid > 0);
	return proc_wait(pid, secs);
}

static void
populate(env *e)
{
	char *pop[] = { "populate", "--url", e->c->d[0].url, "--patients",
		"200", "--pharmacies", "10", "--staff", "20", "--facilities",
		"5", "--prescriptions", "100", "--stock", "30", NULL };
	int   rc    = fmk_exec(e, 60, pop);
	if (rc != 0)
		show_log(e);
	assert_int_equal(rc, 0);
	assert_true(cluster_converged(e->c, 30));
}

static int
check(env *e)
{
	char *chk[] = { "check", "--url", e->urls, "--converge", "30", NULL };
	int   rc    = fmk_exec(e, 120, chk);
	show_log(e);
	return rc;
}

static void
workload_with_a_partition_keeps_every_invariant(void **state)
{
	env  *e     = *state;
	char *run[] = { "run", "--url", e->urls, "--threads", "6",
		"--duration", "8", "--audit", "--every", "2", "--wait-ms",
		"200", NULL };
	populate(e);
	char *argv[20];
	int   n   = 0;
	argv[n++] = (char *) fmk_bin();
	for (int i = 0; run[i] != NULL; i++)
		argv[n++] = run[i];
	argv[n]   = NULL;
	pid_t pid = proc_spawn(argv, e->log);
	assert_true(pid > 0);
	sleep(2);
	cluster_isolate(e->c, 2, true); /* both sides keep working */
	sleep(3);
	cluster_isolate(e->c, 2, false);
	int rc = proc_wait(pid, 60);
	show_log(e);
	assert_int_equal(rc, 0);
	assert_int_equal(check(e), 0);
}

static void
torn_create_is_reported(void **state)
{
	env  *e     = *state;
	char *run[] = { "run", "--url", e->urls, "--threads", "4",
		"--duration", "4", "--audit", "--every", "2", "--broken",
		"split-create", NULL };
	populate(e);
	int rc = fmk_exec(e, 60, run);
	show_log(e);
	assert_int_equal(rc, 1); /* the auditors saw a torn create */
	assert_int_equal(check(e), 1);
}

static void
processing_twice_across_a_partition_is_reported(void **state)
{
	env       *e = *state;
	cw_client *c0, *c2;
	fmk       *f0, *f2, *b0, *b2;
	fmk_opts   ok  = { .wait_ms = 300, .retries = 3 };
	fmk_opts   bad = {
		  .wait_ms = 300, .retries = 3, .broken = FMK_BROKEN_NO_TOKEN
	};
	populate(e);
	assert_int_equal(cw_connect(&c0, e->c->d[0].url), 0);
	assert_int_equal(cw_connect(&c2, e->c->d[2].url), 0);
	assert_int_equal(fmk_open(&f0, c0, &ok), 0);
	assert_int_equal(fmk_open(&f2, c2, &ok), 0);
	assert_int_equal(fmk_open(&b0, c0, &bad), 0);
	assert_int_equal(fmk_open(&b2, c2, &bad), 0);

	/* the real thing: DC 2 cannot get the token of a prescription
	 * populated at DC 0 while cut off, so only DC 0 processes it */
	cluster_isolate(e->c, 2, true);
	assert_int_equal(fmk_process(f2, 7, "2026-11-24"), FMK_ETOKEN);
	assert_int_equal(fmk_process(f0, 7, "2026-11-24"), 0);
	cluster_isolate(e->c, 2, false);
	assert_true(cluster_converged(e->c, 30));
	assert_int_equal(fmk_process(f2, 7, "2026-11-25"), FMK_EPROCESSED);
	assert_int_equal(check(e), 0);

	/* the bug: both sides process prescription 8 (DC 2 gets stock of
	 * its own first, or it could not deliver while cut off) */
	fmk_prescription p;
	assert_int_equal(fmk_get_prescription(f2, 8, &p), 0);
	for (size_t i = 0; i < p.drugs.n; i++)
		assert_int_equal(
		    fmk_supply(f2, p.pharmacy, p.drugs.name[i], 1), 0);
	cluster_isolate(e->c, 2, true);
	assert_int_equal(fmk_process(b0, 8, "2026-11-24"), 0);
	assert_int_equal(fmk_process(b2, 8, "2026-11-24"), 0);
	cluster_isolate(e->c, 2, false);
	assert_true(cluster_converged(e->c, 30));
	fmk_report r;
	assert_int_equal(fmk_check_dc(f2, &r, NULL, NULL), 0);
	assert_int_equal(r.processed_twice, 1);
	assert_int_equal(r.first_bad, 8);
	assert_int_equal(check(e), 1);

	fmk_free(f0);
	fmk_free(f2);
	fmk_free(b0);
	fmk_free(b2);
	cw_close(c0);
	cw_close(c2);
}

int
main(void)
{
	dc_watchdog(600);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    workload_with_a_partition_keeps_every_invariant, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    torn_create_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    processing_twice_across_a_partition_is_reported, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
