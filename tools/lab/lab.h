/*
 * lab.h - the laboratory shared by the tests, the verification harness
 * and the shipped benchmark and fault tools (cw-bench, cw-proxy):
 * temporary directories, real causewayd processes (dcproc.h), whole
 * deployments on loopback (cluster.h) and the fault relay (proxy.h).
 *
 * Nothing in tools/lab/ knows cmocka or the tests: a test's assertions
 * stay in the test, and a program that ships (cw-bench, cw-proxy) links
 * liblab.a and the public library only. Its symbols carry no cw_ prefix
 * because liblab.a is never installed or linked into libcauseway.
 */
#ifndef CW_LAB_H
#define CW_LAB_H

#include <pthread.h>

/* A fresh directory under $TMPDIR (or /tmp), named prefix.XXXXXX. Returns
 * an owned path (free()); aborts with a message if it cannot make one. */
char *lab_tmpdir(const char *prefix);
/* Removes path and everything below it, not following symlinks. Errors
 * are ignored: what cannot be removed stays. */
void lab_rmrf(const char *path);

/* Writes a secret (a password) and a line end to path, readable by its
 * owner only. Returns 0 or -1 (with a message on stderr). */
int lab_write_secret(const char *path, const char *secret);

/* The lines of file path that contain what, or -1 if it cannot be
 * read. */
int lab_count_lines(const char *path, const char *what);

/* Seconds of the monotonic clock. */
double lab_now_s(void);
/* Sleeps until monotonic time t (lab_now_s); returns at once if past. */
void lab_sleep_until(double t);
/* A start line for a benchmark's threads: each waits (asleep) until it
 * opens. Before, threads spun on an atomic flag while the others
 * connected, taking the two cores from the server they measured (under
 * cw-bench hostile, for seconds). Open it or close it with lab_gate_set,
 * from any thread. */
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	int             open;
} lab_gate;
#define LAB_GATE_INIT                                                  \
	{                                                              \
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 \
	}
void lab_gate_wait(lab_gate *g);
void lab_gate_set(lab_gate *g, int open);

/* qsort's comparison of doubles, ascending. */
int lab_cmp_double(const void *a, const void *b);

#endif /* CW_LAB_H */
