/*
 * dcproc.h - real causewayd processes for integration tests: each on a
 * free loopback port with its own temporary directory, stopped by pid
 * (never by name), and killed at exit if a test failed before stopping
 * it.
 */
#ifndef CW_DCPROC_H
#define CW_DCPROC_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
	pid_t pid;
	int   port;
	char  url[64];
	char  dir[256];  /* data directory */
	char  log[300];  /* its stderr */
	char *extra[48]; /* more arguments, NULL-terminated */
} dcproc;

/* Starts causewayd ($CAUSEWAYD or build/bin/causewayd) with data in dir
 * (created by the caller or by causewayd) and the extra arguments, on a
 * new free port unless d->port is set; waits until it answers. Returns 0
 * or -1. */
int dc_start(dcproc *d, const char *dir, char *const *extra);
/* Starts it again with the same port, directory and arguments. */
int dc_restart(dcproc *d);
/* SIGTERM, then SIGKILL after 10 s. Returns its exit status, or -1. */
int dc_stop(dcproc *d);
/* SIGKILL. */
void dc_kill9(dcproc *d);
/* Offsets the DC's wall clock by ms (0: none), within 20 ms: only a
 * causewayd-bugs started while $CW_TEST_CLOCKS is set reads it (from the
 * file DIR.clock beside its data). Returns 0 or -1. */
int dc_set_clock(const dcproc *d, long ms);
/* Arms a watchdog: if the test process is still running after `seconds`,
 * or gets SIGTERM or SIGINT, it kills every causewayd it started (by pid)
 * and exits with status 3, so a hung test can never hang CI. */
void dc_watchdog(unsigned seconds);
/* Starts any program (argv[0] its path) with stdout and stderr appended
 * to file `out` (NULL: inherited), tracked like a causewayd: the watchdog
 * and exit kill it. Returns its pid or -1. */
pid_t proc_spawn(char *const *argv, const char *out);
/* Waits up to `seconds` for it to exit; then SIGTERM, and SIGKILL 10 s
 * later.
 * Returns its exit status, or -1 if it was killed or crashed. */
int proc_wait(pid_t pid, unsigned seconds);

/* Certificates for a deployment of ndc DCs in dir (tools/certs.sh, or
 * $CW_CERTS_SH): ca.crt, dc-<i>.crt/.key, client.crt/.key, and each of
 * the NULL-terminated names (may be NULL); expired ones if `expired`.
 * Returns 0 or -1 (with what certs.sh said on stderr). */
int lab_certs(
    const char *dir, int ndc, bool expired, const char *const *names);

/* A free TCP port on 127.0.0.1, below the kernel's ephemeral range so no
 * outgoing connection takes it before the caller listens on it. */
int dc_free_port(void);

#endif
