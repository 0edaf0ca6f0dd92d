/*
 * cw_echo.c - the transport's ceiling, measured alone: causewayd's
 * transport (server/wire.h) answering each request with its own bytes,
 * against the SDK's (client/net.h). An internal benchmark: it links the
 * two transports' internals, so it is built beside cw-bench but never
 * installed, and cw-bench net runs it when it finds it next to itself.
 *
 *   cw-echo serve URL
 *       answers on URL until killed, from the I/O thread that read each
 *       request, with as many I/O threads as causewayd's default: the way
 *       causewayd serves a request that need not wait
 *   cw-echo run URL THREADS PAIRS SECONDS
 *       THREADS clients, each making pairs of 100-byte round trips (the
 *       mix of cw-bench net makes two per transaction), flat out (PAIRS
 *       0) or paced to PAIRS pairs a second in all (open loop); prints
 *       one line: round trips/s, p50 and p99 of a pair in ms, errors
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab.h"
#include "net.h"  /* the SDK's transport */
#include "util.h" /* cw_free */
#include "wire.h" /* causewayd's transport */

enum { ECHO_IO_THREADS = 4 }; /* cw_server_opts_default's io_threads */

static char     value[100];
static lab_gate go = LAB_GATE_INIT;

static void
echo_cb(void *arg, cw_wire_req *r, const uint8_t *body, size_t len)
{
	(void) arg;
	cw_wire_reply(r, body, len);
}

/* Serves until killed. */
static int
serve(const char *url)
{
	cw_wire *w;
	if (cw_wire_new(
	        &w, ECHO_IO_THREADS, 16u << 20, 0, NULL, echo_cb, NULL) != 0 ||
	    cw_wire_listen(w, url) != 0) {
		fprintf(stderr, "cw-echo serve: cannot listen on %s\n", url);
		return 1;
	}
	for (;;)
		pause();
}

typedef struct {
	const char *url;
	double      rate;    /* pairs of round trips a second; 0: flat out */
	double      t0;      /* this thread's first pair, paced */
	double      seconds; /* of the run */
	uint64_t    n;       /* round trips */
	double     *lat;     /* of each pair, seconds */
	size_t      nlat;
	int         err;
} eworker;

/* One round trip of a 100-byte message. Returns 0 or -1. */
static int
echo_once(cw_net *n)
{
	void  *rep;
	size_t len;
	if (cw_net_roundtrip(n, value, sizeof(value), &rep, &len) != 0)
		return -1;
	cw_free(rep);
	return len == sizeof(value) ? 0 : -1;
}

/* Pairs of round trips, as the mix makes per transaction. */
static void *
run_echo(void *arg)
{
	eworker *w   = arg;
	cw_net  *n   = NULL;
	size_t   cap = 0;
	/* the server may still be starting: retry the dial for 5 s */
	for (int i = 0; i < 100 && cw_net_open(&n, w->url) != 0; i++)
		lab_sleep_until(lab_now_s() + 0.05);
	if (n == NULL) {
		w->err = 1;
		return NULL;
	}
	lab_gate_wait(&go);
	double next = lab_now_s() + w->t0, end = lab_now_s() + w->seconds;
	while (lab_now_s() < end) {
		double start = lab_now_s();
		if (w->rate > 0) { /* open loop, from the scheduled start */
			lab_sleep_until(next);
			start = next;
			next += 1.0 / w->rate;
		}
		if (echo_once(n) != 0 || echo_once(n) != 0) {
			w->err = 1;
			break;
		}
		w->n += 2;
		if (w->nlat == cap) {
			double *lat;
			cap = cap ? cap * 2 : 4096;
			if ((lat = realloc(w->lat, cap * sizeof(*lat))) ==
			    NULL) {
				w->err = 1;
				break;
			}
			w->lat = lat;
		}
		w->lat[w->nlat++] = lab_now_s() - start;
	}
	cw_net_close(n);
	return NULL;
}

/* n client threads against the echo server at url for `seconds`. pairs:
 * the pairs a second offered, paced (0: flat out). */
static int
run(const char *url, int n, double pairs, double seconds)
{
	eworker   *w     = calloc((size_t) n, sizeof(*w));
	pthread_t *th    = calloc((size_t) n, sizeof(*th));
	uint64_t   total = 0;
	size_t     nlat = 0, k = 0;
	int        errors = 0, started = 0;
	if (w == NULL || th == NULL) {
		fprintf(stderr, "cw-echo: out of memory\n");
		return 1;
	}
	for (int i = 0; i < n; i++, started++) {
		w[i].url     = url;
		w[i].seconds = seconds;
		w[i].rate    = pairs / n;
		/* stagger the paced threads over one interval */
		w[i].t0 = pairs > 0 ? (double) i / n / w[i].rate : 0;
		if (pthread_create(&th[i], NULL, run_echo, &w[i]) != 0) {
			errors++;
			break;
		}
	}
	lab_sleep_until(lab_now_s() + 0.2); /* every client connected */
	lab_gate_set(&go, 1);
	double t0 = lab_now_s();
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		total += w[i].n;
		nlat += w[i].nlat;
		errors += w[i].err;
	}
	double  t   = lab_now_s() - t0;
	double *all = malloc((nlat ? nlat : 1) * sizeof(*all));
	for (int i = 0; i < started && all != NULL; i++) {
		memcpy(all + k, w[i].lat, w[i].nlat * sizeof(*all));
		k += w[i].nlat;
	}
	for (int i = 0; i < started; i++)
		free(w[i].lat);
	if (all == NULL) {
		fprintf(stderr, "cw-echo: out of memory\n");
		return 1;
	}
	qsort(all, nlat, sizeof(*all), lab_cmp_double);
	printf("%.0f %.3f %.3f %d\n", (double) total / t,
	    nlat ? all[nlat / 2] * 1e3 : 0,
	    nlat ? all[(size_t) ((double) nlat * 0.99)] * 1e3 : 0, errors);
	free(all);
	free(w);
	free(th);
	return errors ? 1 : 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cw-echo serve URL\n"
	    "       cw-echo run URL THREADS PAIRS SECONDS\n"
	    "The transport's ceiling for cw-bench net (internal; see "
	    "tools/cw_echo.c).\n");
}

int
main(int argc, char **argv)
{
	if (argc == 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc == 6 && strcmp(argv[1], "run") == 0) {
		int    n       = atoi(argv[3]);
		double pairs   = atof(argv[4]);
		double seconds = atof(argv[5]);
		if (n >= 1 && n <= 4096 && pairs >= 0 && seconds > 0)
			return run(argv[2], n, pairs, seconds);
	}
	usage(stderr);
	return 2;
}
