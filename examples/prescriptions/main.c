/*
 * main.c - the `fmk` program: populate, run and check the prescription
 * application against one or more Causeway DCs.
 *
 *   fmk populate --url URL [sizes]        the FMKe dataset, resumable
 *   fmk run --url URL[,URL...] [opts]     the FMKe workload and its table
 *   fmk check --url URL[,URL...]          every invariant at every DC
 *   fmk get KIND ID                       one patient, pharmacy, staff,
 *                                         facility or prescription
 *
 * Exit status: 0, 1 when an invariant is broken (check, or run --audit),
 * 2 on a usage error, 3 when a DC cannot be reached or an operation fails
 * outside the workload.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmk.h"

#define MAX_URLS 16

static const char *urls[MAX_URLS];
static int         nurls;
static char       *url_buf;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fmk COMMAND [OPTIONS]\n"
	    "\n"
	    "  populate   create the dataset (resumable: run it again after "
	    "an\n"
	    "             interruption and it goes on where it stopped)\n"
	    "  run        the FMKe workload, then a table per operation\n"
	    "  check      read every DC and report each invariant\n"
	    "  get KIND ID  print one patient|pharmacy|staff|facility|"
	    "prescription\n"
	    "\n"
	    "  --url URL[,URL...]  DCs (populate and get use the first;\n"
	    "                      default $CW_URL or tcp://127.0.0.1:7400)\n"
	    "                      or a peer for the benchmark (populate, run"
	    " and\n"
	    "                      get): postgresql://... or "
	    "redis://HOST:PORT\n"
	    "  --ca FILE           for tls+tcp:// URLs: the CA of the DCs'\n"
	    "                      certificates (default $CW_CA); --cert\n"
	    "                      FILE --key FILE: a client certificate\n"
	    "  --user NAME         log in as NAME (default $CW_USER) with\n"
	    "  --password-file F   the password on F's first line (default\n"
	    "                      $CW_PASSWORD)\n"
	    "populate:\n"
	    "  --patients N (10000)  --pharmacies N (300)  --staff N (1000)\n"
	    "  --facilities N (50)   --prescriptions N (5000)\n"
	    "  --stock N (100)       units of each drug at each pharmacy\n"
	    "  --drugs N (10)        drugs in the catalogue, at most 10\n"
	    "  --seed N (1)          --batch N (200) entities per "
	    "transaction\n"
	    "run:\n"
	    "  --threads N (16)      clients, spread over the URLs\n"
	    "  --duration S (30)     seconds\n"
	    "  --wait-ms MS (500)    how long processing waits for rights\n"
	    "  --audit               a reader per DC checks new "
	    "prescriptions'\n"
	    "                        references and indexes in one snapshot\n"
	    "  --every S (1)         seconds between progress lines\n"
	    "  --broken split-create|no-token  test only: break an "
	    "invariant\n"
	    "check:\n"
	    "  --converge S (60)     wait this long for the DCs to agree\n");
}

static int
parse_urls(const char *s)
{
	free(url_buf);
	if ((url_buf = strdup(s)) == NULL)
		return -1;
	nurls = 0;
	for (char *save, *p = strtok_r(url_buf, ",", &save); p != NULL;
	     p = strtok_r(NULL, ",", &save)) {
		if (nurls == MAX_URLS)
			return -1;
		urls[nurls++] = p;
	}
	return nurls > 0 ? 0 : -1;
}

static int
parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno                = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
today(char *out, size_t n)
{
	time_t    t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d", &tm);
}

/* A peer for the benchmark (fmk_store.h): postgresql://... or
 * redis://HOST:PORT. 1 if url names none. */
static int
connect_peer(const char *url, fmk **f, const fmk_opts *o, int *rc)
{
	char host[256];
	int  port = 6379;
	if (!strncmp(url, "postgres://", 11) ||
	    !strncmp(url, "postgresql://", 13))
		*rc = fmk_open_pg(f, url, o);
	else if (!strncmp(url, "redis://", 8)) {
		snprintf(host, sizeof(host), "%s", url + 8);
		char *colon = strrchr(host, ':');
		if (colon != NULL) {
			*colon = '\0';
			port   = atoi(colon + 1);
		}
		*rc = fmk_open_redis(f, host, port, o);
	} else
		return 1;
	if (*rc != 0)
		fprintf(stderr, "fmk: %s: %s\n", url, fmk_strerror(*rc));
	return 0;
}

/* --ca, --cert, --key (or $CW_CA, $CW_CERT, $CW_KEY): for tls+tcp://
 * URLs; --user, --password-file (or $CW_USER, $CW_PASSWORD): a login */
static cw_connect_options conn_opts;

static int
connect_to(const char *url, cw_client **c, fmk **f, const fmk_opts *o)
{
	int rc;
	*c = NULL;
	if (connect_peer(url, f, o, &rc) == 0)
		return rc;
	rc = cw_connect_opts(c, url, &conn_opts);
	if (rc != 0) {
		fprintf(stderr, "fmk: %s: %s\n", url, cw_strerror(rc));
		return rc;
	}
	if ((rc = fmk_open(f, *c, o)) != 0) {
		cw_close(*c);
		fprintf(stderr, "fmk: %s\n", fmk_strerror(rc));
	}
	return rc;
}

/* ---- populate -------------------------------------------------------- */

static void
bar(const char *what, uint64_t done, uint64_t total, double t0)
{
	int    w    = 30;
	int    fill = total ? (int) (done * (uint64_t) w / total) : w;
	double dt   = now_s() - t0;
	fprintf(stderr,
	    "\r  %-13s [%.*s%*s] %8" PRIu64 "/%-8" PRIu64 " %6.0f/s", what,
	    fill, "##############################", w - fill, "", done, total,
	    dt > 0 ? (double) done / dt : 0.0);
	if (done == total)
		fputc('\n', stderr);
}

static int
cmd_populate(fmk *f, fmk_meta *want, uint64_t seed, uint64_t batch)
{
	fmk_meta m;
	int      rc = fmk_meta_get(f, &m);
	if (rc == FMK_ENOTFOUND) {
		if ((rc = fmk_meta_put(f, want)) != 0)
			goto fail;
		if ((rc = fmk_meta_get(f, &m)) != 0)
			goto fail;
	} else if (rc != 0) {
		goto fail;
	} else {
		fprintf(stderr,
		    "fmk: resuming the dataset stored at this DC "
		    "(its sizes win over the flags)\n");
	}
	static const char *names[] = { "patients", "pharmacies", "staff",
		"facilities", "prescriptions", "stock" };
	for (int what = 0; what <= FMK_POP_STOCK; what++) {
		uint64_t total = what < FMK_NKINDS  ? m.n[what]
		    : what == FMK_POP_PRESCRIPTIONS ? m.prescriptions
		                                    : m.n[FMK_PHARMACY];
		uint64_t done  = m.done[what];
		double   t0    = now_s();
		uint64_t step = what == FMK_POP_STOCK ? batch / 10 + 1 : batch;
		if (what == FMK_POP_PRESCRIPTIONS)
			step = batch / 4 + 1;
		while (done < total) {
			uint64_t n = total - done < step ? total - done : step;
			if ((rc = fmk_populate_batch(
			         f, what, done + 1, n, seed)) != 0)
				goto fail;
			done += n;
			if (isatty(2) || done == total)
				bar(names[what], done, total, t0);
		}
		if (total == 0 || m.done[what] == total)
			bar(names[what], total, total, t0);
	}
	printf("populated: %" PRIu64 " patients, %" PRIu64
	       " pharmacies, %" PRIu64 " staff, %" PRIu64
	       " facilities, %" PRIu64 " prescriptions, %" PRId64
	       " units of %d drugs per pharmacy\n",
	    m.n[FMK_PATIENT], m.n[FMK_PHARMACY], m.n[FMK_STAFF],
	    m.n[FMK_FACILITY], m.prescriptions, m.stock, m.ndrugs);
	return 0;
fail:
	fprintf(stderr, "\nfmk populate: %s (run it again to resume)\n",
	    fmk_strerror(rc));
	return 3;
}

/* ---- run --------------------------------------------------------------- */

enum {
	OP_PHARMACY_RX,
	OP_MEDICATION,
	OP_STAFF_RX,
	OP_CREATE_RX,
	OP_PROCESSED_RX,
	OP_PATIENT,
	OP_PROCESS,
	OP_ADD_MEDICATION,
	OP_PRESCRIPTION,
	NOPS
};

/* FMKe's mix (config/benchmark_standard.config), in percent. */
static const struct {
	const char *name;
	int         pct;
} ops[NOPS] = {
	{ "get_pharmacy_prescriptions", 27 },
	{ "get_prescription_medication", 27 },
	{ "get_staff_prescriptions", 14 },
	{ "create_prescription", 8 },
	{ "get_processed_prescriptions", 7 },
	{ "get_patient", 5 },
	{ "process_prescription", 4 },
	{ "update_prescription_medication", 4 },
	{ "get_prescription", 4 },
};

#define NERR 128 /* error codes are -1..-127 */
#define FIFO 1024

typedef struct {
	uint64_t count[NOPS];
	uint64_t err[NOPS][NERR];
	double  *lat[NOPS]; /* seconds, every completed call */
	size_t   nlat[NOPS], cap[NOPS];
} stats;

typedef struct worker {
	pthread_t  th;
	int        idx, dc;
	cw_client *c;
	fmk       *f;
	uint64_t   rng;
	stats      st;
	uint64_t   fifo[FIFO]; /* prescriptions it created, oldest
	                        * first, for process (FMKe) */
	size_t               head, len;
	atomic_uint_fast64_t done, errs;
	int                  fail;
} worker;

static struct {
	fmk_meta             m;
	fmk_opts             o;
	atomic_bool          stop;
	pthread_mutex_t      mu; /* guards recent */
	uint64_t             recent[256];
	uint64_t             nrecent;
	atomic_uint_fast64_t audits, violations, audit_errors;
	char                 date[16];
} R = { .mu = PTHREAD_MUTEX_INITIALIZER };

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int
lat_push(stats *s, int op, double v)
{
	if (s->nlat[op] == s->cap[op]) {
		size_t  c = s->cap[op] ? s->cap[op] * 2 : 1024;
		double *p = realloc(s->lat[op], c * sizeof(double));
		if (p == NULL)
			return -1;
		s->lat[op] = p;
		s->cap[op] = c;
	}
	s->lat[op][s->nlat[op]++] = v;
	return 0;
}

static void
random_drugs(worker *w, fmk_drugs *d, size_t n)
{
	d->n = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = fmk_drug_name(
		    (int) (rnd(&w->rng) % (uint64_t) R.m.ndrugs));
		bool dup = false;
		for (size_t j = 0; j < d->n; j++)
			dup |= strcmp(d->name[j], name) == 0;
		if (!dup)
			snprintf(
			    d->name[d->n++], FMK_DRUG_MAX + 1, "%s", name);
	}
}

static uint64_t
pick(worker *w, uint64_t n)
{
	return rnd(&w->rng) % n + 1;
}

static int
one_op(worker *w, int op)
{
	fmk_ids          ids = { 0, NULL };
	fmk_drugs        d;
	fmk_prescription p;
	fmk_entity       e;
	int              rc;
	switch (op) {
	case OP_PHARMACY_RX:
		rc = fmk_prescriptions(
		    w->f, FMK_PHARMACY, pick(w, R.m.n[FMK_PHARMACY]), &ids);
		break;
	case OP_MEDICATION:
		rc = fmk_get_medication(w->f, pick(w, R.m.prescriptions), &d);
		break;
	case OP_STAFF_RX:
		rc = fmk_prescriptions(
		    w->f, FMK_STAFF, pick(w, R.m.n[FMK_STAFF]), &ids);
		break;
	case OP_CREATE_RX:
		memset(&p, 0, sizeof(p));
		/* a fresh random id above the populated ones: two DCs never
		 * pick the same one in practice (2^-62 per pair) */
		p.id         = R.m.prescriptions + 1 + (rnd(&w->rng) >> 2);
		p.patient    = pick(w, R.m.n[FMK_PATIENT]);
		p.prescriber = pick(w, R.m.n[FMK_STAFF]);
		p.pharmacy   = pick(w, R.m.n[FMK_PHARMACY]);
		snprintf(p.date_prescribed, sizeof(p.date_prescribed), "%s",
		    R.date);
		random_drugs(w, &p.drugs, rnd(&w->rng) % 3 + 1);
		rc = fmk_create_prescription(w->f, &p);
		if (rc == 0) {
			if (w->len == FIFO) { /* forget the oldest */
				w->head = (w->head + 1) % FIFO;
				w->len--;
			}
			w->fifo[(w->head + w->len++) % FIFO] = p.id;
			pthread_mutex_lock(&R.mu);
			R.recent[R.nrecent++ % 256] = p.id;
			pthread_mutex_unlock(&R.mu);
		}
		break;
	case OP_PROCESSED_RX:
		rc = fmk_processed_prescriptions(
		    w->f, pick(w, R.m.n[FMK_PHARMACY]), &ids);
		break;
	case OP_PATIENT:
		rc = fmk_get(
		    w->f, FMK_PATIENT, pick(w, R.m.n[FMK_PATIENT]), &e);
		break;
	case OP_PROCESS: {
		uint64_t id = pick(w, R.m.prescriptions);
		if (w->len > 0) {
			id      = w->fifo[w->head];
			w->head = (w->head + 1) % FIFO;
			w->len--;
		}
		rc = fmk_process(w->f, id, R.date);
		break;
	}
	case OP_ADD_MEDICATION:
		random_drugs(w, &d, 1);
		rc = fmk_update_medication(
		    w->f, pick(w, R.m.prescriptions), &d);
		break;
	default:
		rc =
		    fmk_get_prescription(w->f, pick(w, R.m.prescriptions), &p);
		break;
	}
	fmk_ids_free(&ids);
	return rc;
}

static void *
worker_main(void *arg)
{
	worker *w = arg;
	while (!atomic_load(&R.stop)) {
		int r = (int) (rnd(&w->rng) % 100), op = 0;
		for (; op < NOPS - 1 && r >= ops[op].pct; op++)
			r -= ops[op].pct;
		double t0 = now_s();
		int    rc = one_op(w, op);
		if (lat_push(&w->st, op, now_s() - t0) != 0) {
			w->fail = CW_ENOMEM;
			break;
		}
		w->st.count[op]++;
		if (rc < 0 && -rc < NERR)
			w->st.err[op][-rc]++;
		else if (rc != 0)
			w->st.err[op][NERR - 1]++;
		if (rc != 0)
			atomic_fetch_add(&w->errs, 1);
		atomic_fetch_add(&w->done, 1);
	}
	return NULL;
}

typedef struct {
	pthread_t  th;
	cw_client *c;
	fmk       *f;
} auditor;

static void *
audit_main(void *arg)
{
	auditor *a    = arg;
	uint64_t last = 0;
	while (!atomic_load(&R.stop)) {
		pthread_mutex_lock(&R.mu);
		uint64_t n  = R.nrecent;
		uint64_t id = n ? R.recent[(n - 1) % 256] : 0;
		pthread_mutex_unlock(&R.mu);
		if (id == 0 || n == last) {
			usleep(200);
			continue;
		}
		last   = n;
		int rc = fmk_audit(a->f, id);
		atomic_fetch_add(&R.audits, 1);
		if (rc > 0 &&
		    atomic_fetch_add(&R.violations, (uint64_t) rc) < 10) {
			fprintf(stderr,
			    "fmk: VIOLATION: prescription %" PRIu64
			    " visible without its references or index "
			    "entries\n",
			    id);
		} else if (rc < 0) {
			atomic_fetch_add(&R.audit_errors, 1);
		}
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return x < y ? -1 : x > y;
}

static void
report(worker *w, int nw, double secs)
{
	stats all;
	memset(&all, 0, sizeof(all));
	printf("\n%-31s %9s %9s %8s %8s  %s\n", "operation", "count", "ops/s",
	    "p50 ms", "p99 ms", "errors");
	uint64_t total = 0, errs = 0;
	size_t   nall = 0, kall = 0;
	for (int op = 0; op < NOPS; op++)
		for (int i = 0; i < nw; i++)
			nall += w[i].st.nlat[op];
	double *lall = malloc((nall ? nall : 1) * sizeof(double));
	if (lall == NULL)
		return;
	for (int op = 0; op < NOPS; op++) {
		size_t n = 0;
		for (int i = 0; i < nw; i++)
			n += w[i].st.nlat[op];
		double *l = malloc((n ? n : 1) * sizeof(double));
		if (l == NULL) {
			free(lall);
			return;
		}
		n = 0;
		for (int i = 0; i < nw; i++) {
			if (w[i].st.nlat[op] > 0)
				memcpy(l + n, w[i].st.lat[op],
				    w[i].st.nlat[op] * sizeof(double));
			n += w[i].st.nlat[op];
			all.count[op] += w[i].st.count[op];
			for (int e = 0; e < NERR; e++)
				all.err[op][e] += w[i].st.err[op][e];
		}
		if (n > 0)
			memcpy(lall + kall, l, n * sizeof(double));
		kall += n;
		qsort(l, n, sizeof(double), cmp_double);
		double p50 = n ? l[n / 2] * 1e3 : 0;
		double p99 = n ? l[(size_t) ((double) n * 0.99)] * 1e3 : 0;
		free(l);
		char   eb[256] = "-";
		size_t el      = 0;
		for (int e = 1; e < NERR; e++)
			if (all.err[op][e] > 0 && el < sizeof(eb) - 40) {
				el += (size_t) snprintf(eb + el,
				    sizeof(eb) - el, "%s%s %" PRIu64,
				    el ? ", " : "",
				    e == NERR - 1 ? "other" : fmk_errname(-e),
				    all.err[op][e]);
				errs += all.err[op][e];
			}
		total += all.count[op];
		printf("%-31s %9" PRIu64 " %9.0f %8.2f %8.2f  %s\n",
		    ops[op].name, all.count[op], (double) all.count[op] / secs,
		    p50, p99, eb);
	}
	if (kall > 1)
		qsort(lall, kall, sizeof(double), cmp_double);
	printf("%-31s %9" PRIu64 " %9.0f %8.2f %8.2f  %" PRIu64 " (%.1f%%)\n",
	    "all", total, (double) total / secs,
	    kall ? lall[kall / 2] * 1e3 : 0,
	    kall ? lall[(size_t) ((double) kall * 0.99)] * 1e3 : 0, errs,
	    total ? 100.0 * (double) errs / (double) total : 0.0);
	free(lall);
}

static void
on_signal(int sig)
{
	(void) sig;
	atomic_store(&R.stop, true);
}

static int
cmd_run(int threads, double duration, bool audit, double every)
{
	worker    *w = calloc((size_t) threads, sizeof(worker));
	auditor    a[MAX_URLS];
	int        nw = 0, na = 0, rc = 0, status = 0;
	cw_client *mc;
	fmk       *mf;
	if (w == NULL)
		return 3;
	memset(a, 0, sizeof(a));
	if (connect_to(urls[0], &mc, &mf, &R.o) != 0) {
		free(w);
		return 3;
	}
	rc = fmk_meta_get(mf, &R.m);
	fmk_free(mf);
	cw_close(mc);
	if (rc != 0) {
		fprintf(stderr,
		    "fmk run: %s: no dataset (%s); run fmk "
		    "populate first\n",
		    urls[0], fmk_strerror(rc));
		free(w);
		return 3;
	}
	if (R.m.prescriptions == 0 || R.m.n[FMK_PATIENT] == 0 ||
	    R.m.n[FMK_PHARMACY] == 0 || R.m.n[FMK_STAFF] == 0) {
		fprintf(stderr,
		    "fmk run: the dataset has no prescriptions, "
		    "patients, pharmacies or staff\n");
		free(w);
		return 3;
	}
	today(R.date, sizeof(R.date));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	uint64_t seed = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
	for (; nw < threads; nw++) {
		w[nw].idx = nw;
		w[nw].dc  = nw % nurls;
		w[nw].rng = (seed * 2654435761u +
		                (uint64_t) nw * 0x9e3779b97f4a7c15ull) |
		    1;
		if (connect_to(urls[w[nw].dc], &w[nw].c, &w[nw].f, &R.o) !=
		    0) {
			status = 3;
			goto stop;
		}
	}
	for (; audit && na < nurls; na++)
		if (connect_to(urls[na], &a[na].c, &a[na].f, &R.o) != 0) {
			status = 3;
			goto stop;
		}
	printf("fmk run: %d clients over %d DC(s), %.0f s, FMKe mix%s\n",
	    threads, nurls, duration, audit ? ", with an auditor per DC" : "");
	double t0 = now_s();
	for (int i = 0; i < nw; i++)
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
			nw     = i;
			status = 3;
			goto join;
		}
	for (int i = 0; i < na; i++)
		if (pthread_create(&a[i].th, NULL, audit_main, &a[i]) != 0) {
			na     = i;
			status = 3;
			goto join;
		}
	uint64_t last = 0;
	double   tl   = t0;
	while (!atomic_load(&R.stop) && now_s() - t0 < duration) {
		usleep(20000);
		double t = now_s();
		if (t - tl < every && t - t0 < duration)
			continue;
		uint64_t per[MAX_URLS] = { 0 }, sum = 0, errs = 0;
		for (int i = 0; i < nw; i++) {
			uint64_t d = atomic_load(&w[i].done);
			per[w[i].dc] += d;
			sum += d;
		}
		for (int i = 0; i < nw; i++)
			errs += atomic_load(&w[i].errs);
		char   pb[256] = "";
		size_t pl      = 0;
		for (int d = 0; nurls > 1 && d < nurls && pl < 200; d++)
			pl += (size_t) snprintf(pb + pl, sizeof(pb) - pl,
			    "%sDC %d %" PRIu64, d ? ", " : " (", d, per[d]);
		if (nurls > 1)
			snprintf(pb + pl, sizeof(pb) - pl, ")");
		printf("  %5.1f s  %8" PRIu64
		       " ops%s  %6.0f ops/s  errors %" PRIu64,
		    t - t0, sum, pb, (double) (sum - last) / (t - tl), errs);
		if (audit)
			printf("  audits %" PRIu64 ", violations %" PRIu64,
			    (uint64_t) atomic_load(&R.audits),
			    (uint64_t) atomic_load(&R.violations));
		printf("\n");
		fflush(stdout);
		last = sum;
		tl   = t;
	}
join:
	atomic_store(&R.stop, true);
	for (int i = 0; i < nw; i++)
		pthread_join(w[i].th, NULL);
	for (int i = 0; i < na; i++)
		pthread_join(a[i].th, NULL);
	double secs = now_s() - t0;
	for (int i = 0; i < nw; i++)
		if (w[i].fail != 0)
			status = 3;
	report(w, nw, secs);
	if (audit) {
		printf("audit: %" PRIu64 " snapshots of new prescriptions "
		       "read, %" PRIu64 " violations, %" PRIu64 " errors\n",
		    (uint64_t) atomic_load(&R.audits),
		    (uint64_t) atomic_load(&R.violations),
		    (uint64_t) atomic_load(&R.audit_errors));
		if (atomic_load(&R.violations) > 0)
			status = 1;
	}
stop:
	for (int i = 0; i < threads; i++) {
		fmk_free(w[i].f);
		cw_close(w[i].c);
		for (int op = 0; op < NOPS; op++)
			free(w[i].st.lat[op]);
	}
	for (int i = 0; i < nurls; i++) {
		fmk_free(a[i].f);
		cw_close(a[i].c);
	}
	free(w);
	return status;
}

/* ---- check -------------------------------------------------------------- */

typedef struct {
	pthread_t  th;
	int        dc;
	cw_client *c;
	fmk       *f;
	fmk_report r;
	int        rc;
	cw_dc_info info;
} checker;

static void *
check_main(void *arg)
{
	checker *k = arg;
	k->rc      = fmk_check_dc(k->f, &k->r, NULL, NULL);
	return NULL;
}

/* Waits until every DC reports the same state vector and digest. */
static bool
converge(checker *k, double secs)
{
	double t0 = now_s();
	for (;;) {
		bool same = true;
		for (int i = 0; i < nurls; i++) {
			if (cw_dc_status(k[i].c, &k[i].info) != 0) {
				same = false;
				continue;
			}
			if (i > 0 &&
			    (k[i].info.digest != k[0].info.digest ||
			        memcmp(k[i].info.state, k[0].info.state,
			            sizeof(k[i].info.state)) != 0))
				same = false;
		}
		if (same)
			return true;
		if (now_s() - t0 > secs)
			return false;
		usleep(50000);
	}
}

static const char *
verdict(uint64_t bad)
{
	return bad ? "BROKEN" : "held";
}

static int
cmd_check(double conv_secs)
{
	checker k[MAX_URLS];
	int     status = 0;
	memset(k, 0, sizeof(k));
	for (int i = 0; i < nurls; i++)
		if (connect_to(urls[i], &k[i].c, &k[i].f, NULL) != 0) {
			status = 3;
			goto out;
		}
	bool conv = true;
	if (nurls > 1) {
		printf("waiting for %d DCs to converge (up to %.0f s)...\n",
		    nurls, conv_secs);
		fflush(stdout);
		conv = converge(k, conv_secs);
	}
	for (int i = 0; i < nurls; i++)
		if (pthread_create(&k[i].th, NULL, check_main, &k[i]) != 0) {
			k[i].rc = CW_ENOMEM;
			k[i].th = 0;
		}
	for (int i = 0; i < nurls; i++)
		if (k[i].th != 0)
			pthread_join(k[i].th, NULL);
	printf("\n%-4s %13s %9s %8s %8s %8s %8s %8s %8s %8s  %s\n", "DC",
	    "prescriptions", "processed", "dangling", "no-index", "orphans",
	    "twice", "token", "stock<0", "stock!=", "digest");
	fmk_report sum;
	memset(&sum, 0, sizeof(sum));
	for (int i = 0; i < nurls; i++) {
		fmk_report *r = &k[i].r;
		if (k[i].rc != 0) {
			printf("%-4d check failed: %s\n", i,
			    fmk_strerror(k[i].rc));
			status = 3;
			continue;
		}
		printf("%-4d %13" PRIu64 " %9" PRIu64 " %8" PRIu64 " %8" PRIu64
		       " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
		       " %8" PRIu64 "  %016" PRIx64 "\n",
		    nurls > 1 ? k[i].info.dc : i, r->prescriptions,
		    r->processed, r->dangling, r->missing_index,
		    r->orphan_index, r->processed_twice, r->token_mismatch,
		    r->stock_negative, r->stock_mismatch, k[i].info.digest);
		sum.dangling += r->dangling;
		sum.missing_index += r->missing_index;
		sum.orphan_index += r->orphan_index;
		sum.processed_twice += r->processed_twice;
		sum.token_mismatch += r->token_mismatch;
		sum.stock_negative += r->stock_negative;
		sum.stock_mismatch += r->stock_mismatch;
		if (r->first_bad != 0)
			printf("     e.g. prescription %" PRIu64 "\n",
			    r->first_bad);
	}
	printf("\ninvariants:\n");
	printf("  relative order: no prescription without its patient, "
	       "prescriber, pharmacy   %s\n",
	    verdict(sum.dangling));
	printf("  joint update: each prescription in all three indexes, "
	       "no orphan entries  %s\n",
	    verdict(sum.missing_index + sum.orphan_index));
	printf("  precondition: processed at most once, token spent exactly "
	       "when processed  %s\n",
	    verdict(sum.processed_twice + sum.token_mismatch));
	printf("  precondition: stock never below zero, stock = supplied - "
	       "delivered       %s\n",
	    verdict(sum.stock_negative + sum.stock_mismatch));
	if (nurls > 1)
		printf("  convergence: all %d DCs hold the same state and "
		       "digest                    %s\n",
		    nurls, conv ? "held" : "BROKEN");
	if (!conv ||
	    sum.dangling + sum.missing_index + sum.orphan_index +
	            sum.processed_twice + sum.token_mismatch +
	            sum.stock_negative + sum.stock_mismatch >
	        0)
		status = status ? status : 1;
	printf("%s\n",
	    status == 0       ? "fmk check: every invariant held"
	        : status == 1 ? "fmk check: INVARIANT BROKEN"
	                      : "fmk check: could not check every DC");
out:
	for (int i = 0; i < nurls; i++) {
		fmk_free(k[i].f);
		cw_close(k[i].c);
	}
	return status;
}

/* ---- get ---------------------------------------------------------------- */

static int
cmd_get(const char *kind, const char *ids)
{
	uint64_t   id;
	cw_client *c;
	fmk       *f;
	int        rc, k;
	if (parse_num(ids, UINT64_MAX, &id) != 0) {
		fprintf(stderr, "fmk get: bad id '%s'\n", ids);
		return 2;
	}
	for (k = 0; k < FMK_NKINDS && strcmp(kind, fmk_kind_name(k)); k++)
		;
	if (k == FMK_NKINDS && strcmp(kind, "prescription") != 0) {
		fprintf(stderr, "fmk get: unknown kind '%s'\n", kind);
		return 2;
	}
	if (connect_to(urls[0], &c, &f, NULL) != 0)
		return 3;
	if (k == FMK_NKINDS) {
		fmk_prescription p;
		if ((rc = fmk_get_prescription(f, id, &p)) == 0) {
			printf("prescription %" PRIu64
			       "\n  patient     %" PRIu64
			       "\n  prescriber  %" PRIu64
			       "\n  pharmacy    %" PRIu64
			       "\n  prescribed  %s\n  processed   %s\n  drugs "
			       "     ",
			    p.id, p.patient, p.prescriber, p.pharmacy,
			    p.date_prescribed,
			    p.processed ? p.date_processed : "no");
			for (size_t i = 0; i < p.drugs.n; i++)
				printf(" %s", p.drugs.name[i]);
			printf("\n");
		}
	} else {
		fmk_entity e;
		fmk_ids    l = { 0, NULL };
		if ((rc = fmk_get(f, k, id, &e)) == 0 && k != FMK_FACILITY)
			rc = fmk_prescriptions(f, k, id, &l);
		if (rc == 0) {
			printf("%s %" PRIu64
			       "\n  name        %s\n  address     "
			       "%s\n",
			    kind, e.id, e.name, e.address);
			if (e.extra[0] != '\0')
				printf("  %-11s %s\n",
				    k == FMK_STAFF ? "speciality" : "type",
				    e.extra);
			if (k != FMK_FACILITY) {
				printf("  prescriptions (%zu):", l.n);
				for (size_t i = 0; i < l.n && i < 20; i++)
					printf(" %" PRIu64, l.id[i]);
				printf("%s\n", l.n > 20 ? " ..." : "");
			}
		}
		fmk_ids_free(&l);
	}
	fmk_free(f);
	cw_close(c);
	if (rc != 0) {
		fprintf(stderr, "fmk get: %s\n", fmk_strerror(rc));
		return rc == FMK_ENOTFOUND ? 1 : 3;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	enum {
		O_PATIENTS = 256,
		O_PHARMACIES,
		O_STAFF,
		O_FACILITIES,
		O_PRESCRIPTIONS,
		O_STOCK,
		O_DRUGS,
		O_SEED,
		O_BATCH,
		O_THREADS,
		O_DURATION,
		O_WAIT,
		O_AUDIT,
		O_EVERY,
		O_BROKEN,
		O_CONVERGE,
		O_CA,
		O_CERT,
		O_KEY,
		O_USER,
		O_PWFILE
	};
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca", required_argument, NULL, O_CA },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "user", required_argument, NULL, O_USER },
		{ "password-file", required_argument, NULL, O_PWFILE },
		{ "help", no_argument, NULL, 'h' },
		{ "patients", required_argument, NULL, O_PATIENTS },
		{ "pharmacies", required_argument, NULL, O_PHARMACIES },
		{ "staff", required_argument, NULL, O_STAFF },
		{ "facilities", required_argument, NULL, O_FACILITIES },
		{ "prescriptions", required_argument, NULL, O_PRESCRIPTIONS },
		{ "stock", required_argument, NULL, O_STOCK },
		{ "drugs", required_argument, NULL, O_DRUGS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "wait-ms", required_argument, NULL, O_WAIT },
		{ "audit", no_argument, NULL, O_AUDIT },
		{ "every", required_argument, NULL, O_EVERY },
		{ "broken", required_argument, NULL, O_BROKEN },
		{ "converge", required_argument, NULL, O_CONVERGE },
		{ NULL, 0, NULL, 0 },
	};
	fmk_meta m    = { .n      = { 10000, 300, 1000, 50 },
		   .prescriptions = 5000,
		   .stock         = 100,
		   .ndrugs        = FMK_NDRUGS };
	uint64_t seed = 1, batch = 200, threads = 16, duration = 30,
	         wait = 500, every = 1, conv = 60, v;
	bool        audit = false;
	const char *env   = getenv("CW_URL");
	R.o               = (fmk_opts) { .wait_ms = 500, .retries = 3 };
	conn_opts         = (cw_connect_options) { .ca_file = getenv("CW_CA"),
		        .cert_file                          = getenv("CW_CERT"),
		        .key_file                           = getenv("CW_KEY"),
		        .user                               = getenv("CW_USER"),
		        .password                           = getenv("CW_PASSWORD") };
	if (parse_urls(env ? env : "tcp://127.0.0.1:7400") != 0)
		goto bad;
	int o, li = 0;
	while ((o = getopt_long(argc, argv, "u:h", lo, &li)) != -1) {
		uint64_t *dst = NULL, max = UINT32_MAX;
		switch (o) {
		case 'u':
			if (parse_urls(optarg) != 0) {
				fprintf(
				    stderr, "fmk: bad --url '%s'\n", optarg);
				return 2;
			}
			continue;
		case 'h':
			usage(stdout);
			return 0;
		case O_CA:
			conn_opts.ca_file = optarg;
			continue;
		case O_CERT:
			conn_opts.cert_file = optarg;
			continue;
		case O_KEY:
			conn_opts.key_file = optarg;
			continue;
		case O_USER:
			conn_opts.user = optarg;
			continue;
		case O_PWFILE:
			conn_opts.password_file = optarg;
			conn_opts.password      = NULL;
			continue;
		case O_AUDIT:
			audit = true;
			continue;
		case O_BROKEN:
			if (strcmp(optarg, "split-create") == 0)
				R.o.broken |= FMK_BROKEN_SPLIT_CREATE;
			else if (strcmp(optarg, "no-token") == 0)
				R.o.broken |= FMK_BROKEN_NO_TOKEN;
			else {
				fprintf(stderr, "fmk: unknown --broken '%s'\n",
				    optarg);
				return 2;
			}
			continue;
		case O_PATIENTS:
		case O_PHARMACIES:
		case O_STAFF:
		case O_FACILITIES:
			dst = &m.n[(int[]) { FMK_PATIENT, FMK_PHARMACY,
			    FMK_STAFF, FMK_FACILITY }[o - O_PATIENTS]];
			break;
		case O_PRESCRIPTIONS:
			dst = &m.prescriptions;
			break;
		case O_SEED:
			dst = &seed;
			max = UINT64_MAX;
			break;
		case O_BATCH:
			dst = &batch;
			max = 10000;
			break;
		case O_THREADS:
			dst = &threads;
			max = 1024;
			break;
		case O_DURATION:
			dst = &duration;
			max = 86400 * 7;
			break;
		case O_WAIT:
			dst = &wait;
			max = 60000;
			break;
		case O_EVERY:
			dst = &every;
			max = 3600;
			break;
		case O_CONVERGE:
			dst = &conv;
			max = 3600;
			break;
		case O_STOCK:
			if (parse_num(optarg, INT32_MAX, &v) != 0)
				goto badnum;
			m.stock = (int64_t) v;
			continue;
		case O_DRUGS:
			if (parse_num(optarg, FMK_NDRUGS, &v) != 0 || v == 0)
				goto badnum;
			m.ndrugs = (int) v;
			continue;
		default:
			goto bad;
		}
		if (parse_num(optarg, max, dst) != 0)
			goto badnum;
	}
	R.o.wait_ms = (uint32_t) wait;
	if (optind >= argc)
		goto bad;
	const char *cmd = argv[optind];
	if (strcmp(cmd, "populate") == 0 && optind + 1 == argc) {
		cw_client *c;
		fmk       *f;
		if (batch == 0 || connect_to(urls[0], &c, &f, NULL) != 0)
			return batch == 0 ? 2 : 3;
		int rc = cmd_populate(f, &m, seed, batch);
		fmk_free(f);
		cw_close(c);
		return rc;
	}
	if (strcmp(cmd, "run") == 0 && optind + 1 == argc && threads > 0)
		return cmd_run((int) threads, (double) duration, audit,
		    every ? (double) every : 1.0);
	if (strcmp(cmd, "check") == 0 && optind + 1 == argc)
		return cmd_check((double) conv);
	if (strcmp(cmd, "get") == 0 && optind + 3 == argc)
		return cmd_get(argv[optind + 1], argv[optind + 2]);
bad:
	usage(stderr);
	return 2;
badnum:
	fprintf(
	    stderr, "fmk: bad number '%s' for --%s\n", optarg, lo[li].name);
	return 2;
}
