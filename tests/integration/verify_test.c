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
