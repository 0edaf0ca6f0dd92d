/*
 * verify_test.c - the verification harness in `make test`: a short
 * cw-verify run with every fault (fixed seed) must find every guarantee
 * held, and each seeded bug of causewayd-bugs must be reported by the
 * checker meant to catch it (docs/verification.md lists them with the
 * longer runs).
 */
#include "../unit/testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcproc.h"

static char log_path[256];

static const char *
verify_bin(void)
{
	const char *b = getenv("CW_VERIFY");
	return b ? b : "build/bin/cw-verify";
}

/* Runs cw-verify with args; its exit status. Its output is in log_path,
 * printed on a failure. */
static int
run(char **args, unsigned secs)
{
	char *argv[40];
	int   n   = 0;
	argv[n++] = (char *) verify_bin();
	argv[n++] = "run";
	for (int i = 0; args[i] != NULL && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	snprintf(log_path, sizeof(log_path), "%s/cw-verify-test.%d.out",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int) getpid());
	unlink(log_path);
	pid_t pid = proc_spawn(argv, log_path);
	assert_true(pid > 0);
	return proc_wait(pid, secs);
}

/* Does the output's table mark checker `name` FAILED? */
static bool
failed(const char *name)
{
	FILE *f = fopen(log_path, "r");
	char  line[512];
	bool  hit = false;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, strlen(name)) == 0 &&
		    strstr(line, "FAILED") != NULL)
			hit = true;
	if (f != NULL)
		fclose(f);
	return hit;
}

static void
show(void)
{
	FILE *f = fopen(log_path, "r");
	char  line[512];
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	if (f != NULL)
		fclose(f);
}

static void
expect_caught(char **args, const char *checker)
{
	int rc = run(args, 300);
	if (rc != 1 || !failed(checker))
		show();
	assert_int_equal(rc, 1);
	assert_true(failed(checker));
	unlink(log_path);
}

/* A hand-written history of one map field at two DCs, and cw-verify
 * check on it: session 0 puts 0.1 and removes it (0.2); session 1 reads
 * 0.1, then the field missing (the remove may be what it saw); both DCs
 * end with it missing. bad_* rewrite one line into a violation. */
static const char *const reg_history[] = {
	"{\"kind\":\"meta\",\"dcs\":2,\"sessions\":2,\"set_keys\":0,"
	"\"counter_keys\":0,\"escrow_keys\":0,\"reg_keys\":8,"
	"\"rset_keys\":0,\"rset_elems\":0,\"escrow_initial\":0,"
	"\"seed\":1}",
	"{\"id\":1,\"kind\":\"reg\",\"status\":\"ok\",\"session\":0,"
	"\"dc\":0,\"t0\":0.1,\"t1\":0.2,\"writes\":[{\"k\":6,\"v\":"
	"\"0.1\"}],\"reads\":[{\"k\":6,\"v\":[]}]}",
	"{\"id\":2,\"kind\":\"reg\",\"status\":\"ok\",\"session\":0,"
	"\"dc\":0,\"t0\":0.3,\"t1\":0.4,\"writes\":[{\"k\":6,\"v\":"
	"\"0.2\",\"d\":1}],\"reads\":[{\"k\":6,\"v\":[\"0.1\"]}]}",
	"{\"id\":3,\"kind\":\"reg\",\"status\":\"ok\",\"session\":1,"
	"\"dc\":1,\"t0\":0.5,\"t1\":0.6,\"writes\":[],\"reads\":[{\"k\":"
	"6,\"v\":[\"0.1\"]}]}",
	"{\"id\":4,\"kind\":\"reg\",\"status\":\"ok\",\"session\":1,"
	"\"dc\":1,\"t0\":0.7,\"t1\":0.8,\"writes\":[],\"reads\":[{\"k\":"
	"6,\"v\":[]}]}",
	"{\"id\":5,\"kind\":\"reg\",\"status\":\"ok\",\"session\":0,"
	"\"dc\":0,\"t0\":0.9,\"t1\":1.0,\"writes\":[],\"reads\":[{\"k\":"
	"6,\"v\":[]}]}",
	"{\"id\":6,\"kind\":\"digest\",\"status\":\"ok\",\"dc\":0,"
	"\"t0\":2,\"t1\":2,\"digest\":\"00000000000000aa\"}",
	"{\"id\":7,\"kind\":\"digest\",\"status\":\"ok\",\"dc\":1,"
	"\"t0\":2,\"t1\":2,\"digest\":\"00000000000000aa\"}",
	"{\"id\":8,\"kind\":\"final_reg\",\"status\":\"ok\",\"dc\":0,"
	"\"t0\":2,\"t1\":2,\"k\":6,\"v\":[]}",
	"{\"id\":9,\"kind\":\"final_reg\",\"status\":\"ok\",\"dc\":1,"
	"\"t0\":2,\"t1\":2,\"k\":6,\"v\":[]}",
};

/* Writes reg_history with line i replaced by over[i] where that is not
 * NULL, runs cw-verify check on it; its exit status. */
#define NREG_HISTORY (sizeof(reg_history) / sizeof(*reg_history))
static int
check_history(const char *const over[NREG_HISTORY])
{
	char  path[256];
	char *argv[] = { (char *) verify_bin(), "check", path, NULL };
	snprintf(path, sizeof(path), "%s/cw-verify-test.%d.jsonl",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int) getpid());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < NREG_HISTORY; i++)
		fprintf(f, "%s\n", over[i] ? over[i] : reg_history[i]);
	assert_int_equal(fclose(f), 0);
	snprintf(log_path, sizeof(log_path), "%s/cw-verify-test.%d.out",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int) getpid());
	pid_t pid = proc_spawn(argv, log_path);
	assert_true(pid > 0);
	int rc = proc_wait(pid, 60);
	unlink(path);
	return rc;
}

static void
expect_history(const char *const over[NREG_HISTORY], int want)
{
	int rc = check_history(over);
	if (rc != want || (want == 1 && !failed("LWW with causality")))
		show();
	assert_int_equal(rc, want);
	if (want == 1)
		assert_true(failed("LWW with causality"));
	unlink(log_path);
}

static void
map_field_removes_are_checked(void **state)
{
	(void) state;
	/* as written: every read and final state can be explained */
	expect_history((const char *[NREG_HISTORY]) { NULL }, 0);
	/* session 0 reads 0.1 after its own remove */
	expect_history(
	    (const char *[NREG_HISTORY]) {
	        [5] =
	            "{\"id\":5,\"kind\":\"reg\",\"status\":\"ok\",\"session\":"
	            "0,"
	            "\"dc\":0,\"t0\":0.9,\"t1\":1.0,\"writes\":[],\"reads\":[{"
	            "\"k\":6,\"v\":[\"0.1\"]}]}" },
	    1);
	/* DC 1 ends with the removed value */
	expect_history(
	    (const char *[NREG_HISTORY]) {
	        [9] = "{\"id\":9,\"kind\":\"final_reg\",\"status\":\"ok\","
	              "\"dc\":1,"
	              "\"t0\":2,\"t1\":2,\"k\":6,\"v\":[\"0.1\"]}" },
	    1);
	/* session 0 puts 0.3 after its remove and session 1 reads it: then
	 * no remove explains session 1's read of the field missing, nor the
	 * DCs ending without it */
	expect_history(
	    (const char *[NREG_HISTORY]) {
	        [3] =
	            "{\"id\":3,\"kind\":\"reg\",\"status\":\"ok\",\"session\":"
	            "1,"
	            "\"dc\":1,\"t0\":0.5,\"t1\":0.6,\"writes\":[],\"reads\":[{"
	            "\"k\":6,\"v\":[\"0.3\"]}]}",
	        [5] = "{\"id\":5,\"kind\":\"reg\",\"status\":\"ok\","
	              "\"session\":0,\"dc\":0,\"t0\":0.45,\"t1\":0.46,"
	              "\"writes\":[{"
	              "\"k\":6,\"v\":\"0.3\"}],\"reads\":[]}" },
	    1);
}

static void
short_run_holds_every_guarantee(void **state)
{
	char *args[] = { "--duration", "40", "--clients", "8", "--seed", "11",
		"--quiet", NULL };
	(void) state;
	int rc = run(args, 400);
	show(); /* the report is worth seeing in the test log */
	assert_int_equal(rc, 0);
	unlink(log_path);
}

/* The same guarantees with mutual TLS between the DCs, under every fault
 * (kills restart a DC, which proves its identity again on every link). */
static void
tls_run_holds_every_guarantee(void **state)
{
	char *args[] = { "--tls", "--duration", "20", "--clients", "8",
		"--seed", "19", "--quiet", NULL };
	(void) state;
	int rc = run(args, 400);
	show();
	assert_int_equal(rc, 0);
	unlink(log_path);
}

/* Clocks a few seconds apart, forward and back (the test build's clock
 * offset: causewayd-bugs with no bug on): last-writer-wins must still
 * follow causality. */
static void
skewed_clocks_hold_every_guarantee(void **state)
{
	char *args[] = { "--duration", "8", "--clients", "8", "--seed", "3",
		"--faults", "skew,delay", "--no-fmk", "--quiet", "--converge",
		"20", NULL };
	(void) state;
	int rc = run(args, 300);
	if (rc != 0)
		show();
	assert_int_equal(rc, 0);
	unlink(log_path);
}

/* A DC whose clock does not move past the records it applies: under skew,
 * a write that follows a remote one loses to it. */
static void
bug_hlc_not_absorbed(void **state)
{
	char *args[] = { "--bug", "hlc-not-absorbed", "--duration", "8",
		"--clients", "8", "--seed", "3", "--faults", "skew",
		"--no-fmk", "--quiet", "--converge", "20", NULL };
	(void) state;
	expect_caught(args, "LWW with causality");
}

/* A remove that takes away adds it never observed: a concurrent add of
 * the element at another DC disappears with it. */
static void
bug_remove_unobserved(void **state)
{
	char *args[] = { "--bug", "remove-unobserved", "--duration", "8",
		"--clients", "8", "--seed", "3", "--faults", "delay,partition",
		"--no-fmk", "--quiet", "--converge", "10", NULL };
	(void) state;
	expect_caught(args, "observed-remove sets");
}

static void
bug_skip_session_wait(void **state)
{
	char *args[] = { "--bug", "skip-session-wait", "--duration", "12",
		"--clients", "8", "--seed", "3", "--faults", "delay,partition",
		"--no-fmk", "--quiet", "--converge", "10", NULL };
	(void) state;
	expect_caught(args, "session guarantees");
}

/* The readers (a quarter of the sessions, moving a step in five) catch
 * it; the writers' own reads almost never do. */
static void
bug_read_clock_dropped(void **state)
{
	char *args[] = { "--bug", "read-clock-dropped", "--duration", "6",
		"--clients", "8", "--seed", "3", "--faults", "delay,partition",
		"--no-fmk", "--quiet", "--converge", "10", NULL };
	(void) state;
	expect_caught(args, "session guarantees");
}

/* Lost updates: the register workload's read-modify-writes at one DC. */
static void
bug_conflict_vs_state(void **state)
{
	char *args[] = { "--bug", "conflict-vs-state", "--duration", "6",
		"--clients", "8", "--seed", "3", "--faults", "none",
		"--no-fmk", "--quiet", "--converge", "10", NULL };
	(void) state;
	expect_caught(args, "snapshot isolation");
}

static void
bug_ignore_deps(void **state)
{
	char *args[] = { "--bug", "ignore-deps", "--no-forward", "--duration",
		"12", "--clients", "8", "--seed", "5", "--faults", "delay",
		"--no-fmk", "--quiet", "--converge", "10", NULL };
	(void) state;
	expect_caught(args, "causal visibility");
}

static void
bug_split_apply(void **state)
{
	char *args[] = { "--bug", "split-apply", "--duration", "10",
		"--clients", "8", "--seed", "3", "--faults", "none",
		"--no-fmk", "--quiet", "--converge", "10", NULL };
	(void) state;
	expect_caught(args, "atomic visibility");
}

static void
bug_grant_unheld(void **state)
{
	char *args[] = { "--bug", "grant-unheld", "--escrow", "60",
		"--duration", "12", "--clients", "8", "--seed", "3",
		"--faults", "none", "--no-fmk", "--quiet", "--converge", "10",
		NULL };
	(void) state;
	expect_caught(args, "escrow bound");
}

static void
bug_ack_before_sync(void **state)
{
	/* 30 s for eight or nine kills; no grants (whose commits sync) */
	char *args[] = { "--bug", "ack-before-sync", "--duration", "30",
		"--clients", "8", "--seed", "3", "--faults", "kill",
		"--escrow", "100000", "--no-fmk", "--quiet", "--converge",
		"10", NULL };
	(void) state;
	expect_caught(args, "durability");
}

static void
bug_ship_before_durable(void **state)
{
	/* the WAL stays in the process until flushed, and flushing is slow:
	 * a kill loses records that the other DCs already have. A kill
	 * catches it only if a shipped record is still unflushed then: with
	 * 8 clients a run of 6 kills missed it in about 1 of 4 runs (also
	 * before this session's engine changes; a clean-clone CI run went
	 * red on it), with 24 clients none of 8 runs under load missed.
	 * Under ASan, beside the rest of `make asan`, 20 s (6 kills) missed
	 * it once; 30 s gives eight kills. */
	char *args[] = { "--bug", "ship-before-durable", "--duration", "30",
		"--clients", "24", "--seed", "3", "--faults", "kill",
		"--escrow", "100000", "--no-fmk", "--quiet", "--converge",
		"10", NULL };
	(void) state;
	expect_caught(args, "convergence");
}

int
main(void)
{
	dc_watchdog(1500);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(map_field_removes_are_checked),
		cmocka_unit_test(short_run_holds_every_guarantee),
		cmocka_unit_test(tls_run_holds_every_guarantee),
		cmocka_unit_test(skewed_clocks_hold_every_guarantee),
		cmocka_unit_test(bug_hlc_not_absorbed),
		cmocka_unit_test(bug_remove_unobserved),
		cmocka_unit_test(bug_skip_session_wait),
		cmocka_unit_test(bug_read_clock_dropped),
		cmocka_unit_test(bug_conflict_vs_state),
		cmocka_unit_test(bug_ignore_deps),
		cmocka_unit_test(bug_split_apply),
		cmocka_unit_test(bug_grant_unheld),
		cmocka_unit_test(bug_ack_before_sync),
		cmocka_unit_test(bug_ship_before_durable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
