/*
 * cw_bench.c - Causeway benchmarks, printed as tables with ratios against
 * a baseline measured in the same run.
 *
 *   cw-bench local   the embedded engine against RocksDB's own transaction
 *                    API, same stream, same durability (issue 2)
 *   cw-bench net     a causewayd on loopback against the embedded engine,
 *                    same mix, same run: throughput and latency (issue 3)
 *
 * Each run commits the same stream of small transactions, three updates
 * each: a 100-byte register put, a counter add and a set add, on keys
 * drawn from per-thread random streams. The RocksDB baseline does what a
 * careful user of RocksDB alone would do: an OptimisticTransactionDB,
 * sync=1 commits, the counter as a uint64add merge and the set as one key
 * per element, retrying on conflict.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "causeway.h"

#include "../tests/unit/testutil.h"

static double      seconds      = 3.0;
static int         sync_commits = 1;
static const char *basedir      = NULL;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One transaction of the stream: keys from the thread's generator. */
typedef struct {
	char     reg[24], ctr[24], set[24];
	size_t   regl, ctrl, setl;
	uint64_t elem;
} op3;

static void
next_op(unsigned *seed, uint64_t i, op3 *o)
{
	o->regl = (size_t) snprintf(
	    o->reg, sizeof(o->reg), "r%u", (unsigned) rand_r(seed) % 100000);
	o->ctrl = (size_t) snprintf(
	    o->ctr, sizeof(o->ctr), "c%u", (unsigned) rand_r(seed) % 1000);
	o->setl = (size_t) snprintf(
	    o->set, sizeof(o->set), "s%u", (unsigned) rand_r(seed) % 1000);
	o->elem = i;
}

static char value[100];

typedef struct {
	int id;
	/* rocksdb */
	rocksdb_optimistictransactiondb_t       *odb;
	rocksdb_writeoptions_t                  *wo;
	rocksdb_optimistictransaction_options_t *oto;
	/* causeway */
	cw_client *c;
	/* results */
	uint64_t commits, retries, errors;
	double   t0, t1;
} worker;

static atomic_int go;

static void *
run_rocksdb(void *arg)
{
	worker                *w    = arg;
	unsigned               seed = 1000 + (unsigned) w->id;
	rocksdb_transaction_t *txn  = NULL;
	uint64_t               one  = 1;
	op3                    o;
	while (!atomic_load(&go))
		;
	w->t0      = now_s();
	double end = w->t0 + seconds;
	for (uint64_t i = 0; now_s() < end; i++) {
		next_op(&seed, i, &o);
		char sk[48];
		int  skl = snprintf(sk, sizeof(sk), "%s/%d/%llu", o.set, w->id,
		     (unsigned long long) o.elem);
		for (;;) {
			char *err = NULL;
			txn       = rocksdb_optimistictransaction_begin(
			          w->odb, w->wo, w->oto, txn);
			rocksdb_transaction_put(
			    txn, o.reg, o.regl, value, sizeof(value), &err);
			if (!err)
				rocksdb_transaction_merge(txn, o.ctr, o.ctrl,
				    (char *) &one, sizeof(one), &err);
			if (!err)
				rocksdb_transaction_put(
				    txn, sk, (size_t) skl, "", 0, &err);
			if (!err)
				rocksdb_transaction_commit(txn, &err);
			if (err == NULL) {
				w->commits++;
				break;
			}
			int busy = strncmp(err, "Resource busy", 13) == 0;
			rocksdb_free(err);
			err = NULL;
			rocksdb_transaction_rollback(txn, &err);
			if (err)
				rocksdb_free(err);
			if (!busy) {
				w->errors++;
				break;
			}
			w->retries++;
		}
	}
	w->t1 = now_s();
	if (txn)
		rocksdb_transaction_destroy(txn);
	return NULL;
}

static void *
run_causeway(void *arg)
{
	worker  *w    = arg;
	unsigned seed = 1000 + (unsigned) w->id;
	op3      o;
	while (!atomic_load(&go))
		;
	w->t0      = now_s();
	double end = w->t0 + seconds;
	for (uint64_t i = 0; now_s() < end; i++) {
		next_op(&seed, i, &o);
		uint64_t elem[2] = { (uint64_t) w->id, o.elem };
		for (;;) {
			cw_txn *t;
			int     rc = cw_begin(w->c, &t);
			if (rc == 0 &&
			    (rc = cw_reg_put(t, o.reg, o.regl, value,
			         sizeof(value))) == 0 &&
			    (rc = cw_counter_add(t, o.ctr, o.ctrl, 1)) == 0 &&
			    (rc = cw_set_add(
			         t, o.set, o.setl, elem, sizeof(elem))) == 0) {
				rc = cw_commit(t);
			} else if (rc == 0 || t != NULL) {
				cw_abort(t);
			}
			if (rc == 0) {
				w->commits++;
				break;
			}
			if (rc != CW_ECONFLICT) {
				w->errors++;
				break;
			}
			w->retries++;
		}
	}
	w->t1 = now_s();
	return NULL;
}

typedef struct {
	double   rate;
	uint64_t retries, errors;
} result;

static char *
fresh_dir(void)
{
	char *p;
	if (asprintf(&p, "%s/cwbench.XXXXXX", basedir) < 0 ||
	    mkdtemp(p) == NULL) {
		perror("cw-bench: mkdtemp");
		exit(1);
	}
	return p;
}

static result
run(int causeway, int nthreads)
{
	worker            *w    = calloc((size_t) nthreads, sizeof(*w));
	pthread_t         *th   = calloc((size_t) nthreads, sizeof(*th));
	char              *dir  = fresh_dir();
	rocksdb_options_t *opts = NULL;
	rocksdb_optimistictransactiondb_t       *odb = NULL;
	rocksdb_writeoptions_t                  *wo  = NULL;
	rocksdb_optimistictransaction_options_t *oto = NULL;
	cw_client                               *c   = NULL;
	result                                   r   = { 0, 0, 0 };
	if (causeway) {
		int rc = cw_open_local(&c, dir);
		if (rc != 0) {
			fprintf(stderr, "cw-bench: open %s: %s\n", dir,
			    cw_strerror(rc));
			exit(1);
		}
	} else {
		char *err = NULL;
		opts      = rocksdb_options_create();
		rocksdb_options_set_create_if_missing(opts, 1);
		rocksdb_options_set_uint64add_merge_operator(opts);
		odb = rocksdb_optimistictransactiondb_open(opts, dir, &err);
		if (err) {
			fprintf(stderr, "cw-bench: rocksdb: %s\n", err);
			exit(1);
		}
		wo = rocksdb_writeoptions_create();
		rocksdb_writeoptions_set_sync(
		    wo, (unsigned char) sync_commits);
		oto = rocksdb_optimistictransaction_options_create();
		rocksdb_optimistictransaction_options_set_set_snapshot(oto, 1);
	}
	atomic_store(&go, 0);
	for (int i = 0; i < nthreads; i++) {
		w[i] = (worker) {
			.id = i, .odb = odb, .wo = wo, .oto = oto, .c = c
		};
		pthread_create(&th[i], NULL,
		    causeway ? run_causeway : run_rocksdb, &w[i]);
	}
	atomic_store(&go, 1);
	double   t0 = 1e300, t1 = 0;
	uint64_t commits = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		commits += w[i].commits;
		r.retries += w[i].retries;
		r.errors += w[i].errors;
		t0 = w[i].t0 < t0 ? w[i].t0 : t0;
		t1 = w[i].t1 > t1 ? w[i].t1 : t1;
	}
	r.rate = commits / (t1 - t0);
	if (causeway) {
		cw_close(c);
	} else {
		rocksdb_optimistictransaction_options_destroy(oto);
		rocksdb_writeoptions_destroy(wo);
		rocksdb_optimistictransactiondb_close(odb);
		rocksdb_options_destroy(opts);
	}
	tu_rmrf(dir);
	free(dir);
	free(w);
	free(th);
	return r;
}

/* ---- cw-bench net ---- */

/* The mix of one transaction: read a register, then add to a counter and
 * overwrite the register (two round trips over the network: the read,
 * and the commit carrying both writes). */
static int
mix_txn(cw_client *c, unsigned *seed)
{
	char   reg[24], ctr[24];
	size_t rl = (size_t) snprintf(
	    reg, sizeof(reg), "r%u", (unsigned) rand_r(seed) % 100000);
	size_t cl = (size_t) snprintf(
	    ctr, sizeof(ctr), "c%u", (unsigned) rand_r(seed) % 1000);
	cw_txn *t;
	void   *v;
	size_t  vl;
	int     rc = cw_begin(c, &t);
	if (rc != 0)
		return rc;
	if ((rc = cw_reg_get(t, reg, rl, &v, &vl)) != 0) {
		cw_abort(t);
		return rc;
	}
	free(v);
	if ((rc = cw_counter_add(t, ctr, cl, 1)) != 0 ||
	    (rc = cw_reg_put(t, reg, rl, value, sizeof(value))) != 0) {
		cw_abort(t);
		return rc;
	}
	return cw_commit(t);
}

typedef struct {
	cw_client *c;
	int        id;
	double     rate; /* per thread, 0: as fast as possible */
	int        nthreads;
	double    *lat; /* seconds */
	size_t     nlat, cap;
	uint64_t   conflicts, errors;
	double     t0, t1;
} nworker;

static void *
run_mix(void *arg)
{
	nworker *w    = arg;
	unsigned seed = 77 + (unsigned) w->id;
	while (!atomic_load(&go))
		;
	w->t0      = now_s();
	double end = w->t0 + seconds, next = w->t0;
	if (w->rate > 0) /* stagger the threads over one interval */
		next += (double) w->id / w->nthreads / w->rate;
	while (now_s() < end) {
		double start = now_s();
		if (w->rate > 0) {
			/* open loop: latency counts from the scheduled start
			 */
			double wait = next - now_s();
			if (wait > 0) {
				struct timespec ts = { (time_t) wait,
					(long) ((wait - (time_t) wait) *
					    1e9) };
				nanosleep(&ts, NULL);
			}
			start = next;
			next += 1.0 / w->rate;
		}
		int rc = mix_txn(w->c, &seed);
		if (rc == CW_ECONFLICT)
			w->conflicts++;
		else if (rc != 0)
			w->errors++;
		if (rc != 0)
			continue;
		if (w->nlat == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 4096;
			w->lat = realloc(w->lat, w->cap * sizeof(*w->lat));
		}
		w->lat[w->nlat++] = now_s() - start;
	}
	w->t1 = now_s();
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return (x > y) - (x < y);
}

typedef struct {
	double   rate, p50, p99;
	uint64_t conflicts, errors;
} mix_result;

/* Runs the mix with n threads on clients made by connect(); rate is the
 * total paced rate (0: as fast as possible). */
static mix_result
run_mix_threads(const char *url, const char *dir, int n, double rate)
{
	nworker   *w     = calloc((size_t) n, sizeof(*w));
	pthread_t *th    = calloc((size_t) n, sizeof(*th));
	cw_client *local = NULL;
	mix_result r     = { 0 };
	if (dir != NULL && cw_open_local(&local, dir) != 0) {
		fprintf(stderr, "cw-bench: cannot open %s\n", dir);
		exit(1);
	}
	atomic_store(&go, 0);
	for (int i = 0; i < n; i++) {
		w[i].id       = i;
		w[i].rate     = rate / n;
		w[i].nthreads = n;
		w[i].c        = local;
		if (url != NULL && cw_connect(&w[i].c, url) != 0) {
			fprintf(
			    stderr, "cw-bench: cannot connect to %s\n", url);
			exit(1);
		}
		pthread_create(&th[i], NULL, run_mix, &w[i]);
	}
	atomic_store(&go, 1);
	size_t total = 0, k = 0;
	double t0 = 1e300, t1 = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		total += w[i].nlat;
		r.conflicts += w[i].conflicts;
		r.errors += w[i].errors;
		t0 = w[i].t0 < t0 ? w[i].t0 : t0;
		t1 = w[i].t1 > t1 ? w[i].t1 : t1;
	}
	double *all = malloc((total ? total : 1) * sizeof(*all));
	for (int i = 0; i < n; i++) {
		memcpy(all + k, w[i].lat, w[i].nlat * sizeof(*all));
		k += w[i].nlat;
		free(w[i].lat);
		if (url != NULL)
			cw_close(w[i].c);
	}
	qsort(all, total, sizeof(*all), cmp_double);
	r.rate = total / (t1 - t0);
	r.p50  = total ? all[total / 2] * 1e3 : 0;
	r.p99  = total ? all[(size_t) (total * 0.99)] * 1e3 : 0;
	free(all);
	free(w);
	free(th);
	cw_close(local);
	return r;
}

static pid_t server_pid;

static void
stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
}

/* Starts causewayd (next to this binary) on a free port in dir. */
static void
start_server(const char *self, const char *dir, char *url, size_t cap)
{
	char bin[4096];
	snprintf(bin, sizeof(bin), "%s", self);
	char *slash = strrchr(bin, '/');
	snprintf(slash ? slash + 1 : bin,
	    sizeof(bin) - (size_t) (slash ? slash + 1 - bin : 0), "causewayd");
	/* a free port: bind to 0 and let the server take it */
	int port = 0;
	for (int tries = 0; tries < 5 && server_pid == 0; tries++) {
		port = 20000 +
		    (int) ((unsigned) getpid() * 7 + tries * 131) % 30000;
		snprintf(url, cap, "tcp://127.0.0.1:%d", port);
		pid_t pid = fork();
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);
			dup2(fd, 2);
			execl(bin, bin, "--data", dir, "--listen", url,
			    "--log", "error", (char *) NULL);
			_exit(127);
		}
		server_pid = pid;
		atexit(stop_server);
		for (int i = 0; i < 100; i++) {
			cw_client *c;
			if (cw_connect(&c, url) == 0) {
				cw_close(c);
				return;
			}
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid) {
				server_pid = 0; /* port taken: next */
				break;
			}
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	fprintf(stderr, "cw-bench: cannot start %s\n", bin);
	exit(1);
}

static int
bench_net(const char *self, int *list, int n)
{
	char  url[64];
	char *sdir = fresh_dir(), *ldir = fresh_dir();
	start_server(self, sdir, url, sizeof(url));
	printf("cw-bench net: transactions of a register read, a counter add "
	       "and a 100 B\nregister put, durable; causewayd on %s against "
	       "the embedded engine;\n%.1f s per run, data in %s\n\n",
	    url, seconds, basedir);
	printf("| threads | embedded txn/s | network txn/s | net/embedded "
	       "| net p50 ms | net p99 ms | emb p50 ms | emb p99 ms |\n");
	printf("|--------:|---------------:|--------------:|-------------:"
	       "|-----------:|-----------:|-----------:|-----------:|\n");
	double peak         = 0;
	int    peak_threads = 1, errors = 0;
	for (int i = 0; i < n; i++) {
		mix_result e = run_mix_threads(NULL, ldir, list[i], 0);
		mix_result r = run_mix_threads(url, NULL, list[i], 0);
		printf("| %7d | %14.0f | %13.0f | %12.2f | %10.2f | %10.2f "
		       "| %10.2f | %10.2f |\n",
		    list[i], e.rate, r.rate, r.rate / e.rate, r.p50, r.p99,
		    e.p50, e.p99);
		fflush(stdout);
		errors += (int) (e.errors + r.errors);
		if (r.rate > peak) {
			peak         = r.rate;
			peak_threads = list[i];
		}
	}
	mix_result h = run_mix_threads(url, NULL, peak_threads, peak / 2);
	printf("\nat half the network peak (%.0f txn/s offered, %d threads, "
	       "open loop): %.0f txn/s, p50 %.2f ms, p99 %.2f ms (target "
	       "p99 < 2 ms)\n",
	    peak / 2, peak_threads, h.rate, h.p50, h.p99);
	errors += (int) h.errors;
	stop_server();
	tu_rmrf(sdir);
	tu_rmrf(ldir);
	free(sdir);
	free(ldir);
	if (errors) {
		fprintf(stderr, "cw-bench: %d transactions failed\n", errors);
		return 1;
	}
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cw-bench local|net [--seconds S] [--threads L] "
	    "[--no-sync]\n"
	    "                      [--dir DIR]\n"
	    "\n"
	    "local  commits the same stream of small transactions (a "
	    "100-byte\n"
	    "       register put, a counter add, a set add) through "
	    "RocksDB's\n"
	    "       transaction API and through the embedded Causeway "
	    "engine,\n"
	    "       and prints commits/s for both and the ratio.\n"
	    "net    runs transactions of a register read, a counter add and "
	    "a\n"
	    "       register put with L client threads against a causewayd "
	    "it\n"
	    "       starts on loopback, and against the embedded engine: "
	    "rate,\n"
	    "       p50 and p99 latency; then the network at half its peak.\n"
	    "\n"
	    "  --seconds S   length of each run (default 3)\n"
	    "  --threads L   comma-separated thread counts (default 1,4;\n"
	    "                net: 1,4,16)\n"
	    "  --no-sync     commits without fsync (both sides)\n"
	    "  --dir DIR     where the temporary databases go (default "
	    "$TMPDIR\n"
	    "                or /tmp)\n"
	    "\n"
	    "repl and escrow arrive with replication and escrow.\n");
}

int
main(int argc, char **argv)
{
	static struct option lo[]    = { { "seconds", 1, 0, 's' },
		   { "threads", 1, 0, 't' }, { "no-sync", 0, 0, 'n' },
		   { "dir", 1, 0, 'd' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 } };
	const char          *threads = NULL;
	int                  ch;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	optind          = 2;
	while ((ch = getopt_long(argc, argv, "s:t:nd:h", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			seconds = atof(optarg);
			if (seconds <= 0) {
				fprintf(stderr, "cw-bench: bad --seconds\n");
				return 2;
			}
			break;
		case 't':
			threads = optarg;
			break;
		case 'n':
			sync_commits = 0;
			break;
		case 'd':
			basedir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(cmd, "local") != 0 && strcmp(cmd, "net") != 0) {
		fprintf(stderr,
		    "cw-bench: '%s' is not available yet; see "
		    "--help\n",
		    cmd);
		return 2;
	}
	if (!sync_commits) {
		fprintf(stderr,
		    "cw-bench: --no-sync: the Causeway side still "
		    "syncs; it has no unsynced mode in the SDK\n");
		return 2;
	}
	if (basedir == NULL)
		basedir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	if (threads == NULL)
		threads = strcmp(cmd, "net") == 0 ? "1,4,16" : "1,4";
	memset(value, 'v', sizeof(value));

	int list[16], n = 0;
	for (char *s = strdup(threads), *tok = strtok(s, ","); tok && n < 16;
	     tok = strtok(NULL, ","))
		if ((list[n] = atoi(tok)) > 0)
			n++;
	if (n == 0) {
		fprintf(stderr, "cw-bench: bad --threads\n");
		return 2;
	}
	if (strcmp(cmd, "net") == 0)
		return bench_net(argv[0], list, n);
	printf("cw-bench local: transactions of 3 updates (100 B register "
	       "put, counter add, set add),\n%s commits, %.1f s per run, "
	       "data in %s\n\n",
	    sync_commits ? "durable (fsync)" : "unsynced", seconds, basedir);
	printf("| threads | rocksdb txn/s | causeway txn/s | causeway/rocksdb "
	       "| retries (r/c) |\n");
	printf("|--------:|--------------:|---------------:|-----------------:"
	       "|--------------:|\n");
	double first = 0, rate4 = 0;
	int    errors = 0;
	for (int i = 0; i < n; i++) {
		result a = run(0, list[i]);
		result b = run(1, list[i]);
		printf("| %7d | %13.0f | %14.0f | %16.2f | %6llu/%-6llu |\n",
		    list[i], a.rate, b.rate, b.rate / a.rate,
		    (unsigned long long) a.retries,
		    (unsigned long long) b.retries);
		fflush(stdout);
		errors += (int) (a.errors + b.errors);
		if (list[i] == 1)
			first = b.rate;
		if (list[i] == 4)
			rate4 = b.rate;
	}
	if (first > 0 && rate4 > 0)
		printf("\ngroup commit: causeway with 4 threads = %.2fx one "
		       "thread (target >= 2)\n",
		    rate4 / first);
	if (errors) {
		fprintf(stderr, "cw-bench: %d transactions failed\n", errors);
		return 1;
	}
	return 0;
}
