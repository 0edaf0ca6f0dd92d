/*
 * cw_bench.c - Causeway benchmarks, printed as tables with ratios against
 * a baseline measured in the same run.
 *
 *   cw-bench local   the embedded engine against RocksDB's own transaction
 *                    API, same stream, same durability (issue 2)
 *   cw-bench net     a causewayd on loopback against the embedded engine,
 *                    same mix, same run: throughput and latency (issue 3)
 *   cw-bench escrow  three DCs decrementing one bounded counter, demand
 *                    skewed to DC 1: the share served locally (issue 5)
 *   cw-bench repl    three DCs on loopback: the rate one DC commits and
 *                    the others apply, and the visibility latency from a
 *                    commit at one DC to readable at another (issue 4)
 *   cw-bench hostile a causewayd under each attack of issue 18 (cw-attack)
 *                    against the same load alone: throughput, p99, RSS
 *   cw-bench lag     three DCs, each link through a fault proxy: the
 *                    replication lag over time while DC 1 is cut off and
 *                    after it heals (issue 8; a time series to plot)
 *
 * Each run commits the same stream of small transactions, three updates
 * each: a 100-byte register put, a counter add and a set add, on keys
 * drawn from per-thread random streams. The RocksDB baseline does what a
 * careful user of RocksDB alone would do: an OptimisticTransactionDB,
 * sync=1 commits, the counter as a uint64add merge and the set as one key
 * per element, retrying on conflict.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "causeway.h"

#include "cluster.h"
#include "dcproc.h"
#include "lab.h"
#include "raw.h"

static double seconds = 3.0;
/* --tls: the CA that verifies causewayd's tls+tcp:// listener */
static char tls_ca[700];

/* --users: the DCs it starts have users (admin's password in this
 * file), and every session logs in as admin */
static char admin_pw[700];

/* cw_connect, over TLS for a tls+tcp:// URL (with tls_ca), logged in as
 * admin with --users. */
static int
bench_connect(cw_client **c, const char *url)
{
	cw_connect_options o = { .ca_file = tls_ca };
	if (admin_pw[0] != '\0') {
		o.user          = "admin";
		o.password_file = admin_pw;
	}
	return cw_connect_opts(c, url, &o);
}

/* With --users: writes dir/admin.pw and sets admin_pw. */
static void
users_file(const char *dir)
{
	char path[700];
	if (admin_pw[0] != '\1')
		return;
	snprintf(path, sizeof(path), "%s/admin.pw", dir);
	if (lab_write_secret(path, "cw-bench-admin") != 0)
		exit(1);
	snprintf(admin_pw, sizeof(admin_pw), "%s", path);
}
static int         sync_commits = 1;
static const char *basedir      = NULL;

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

static lab_gate go = LAB_GATE_INIT;

static void *
run_rocksdb(void *arg)
{
	worker                *w    = arg;
	unsigned               seed = 1000 + (unsigned) w->id;
	rocksdb_transaction_t *txn  = NULL;
	uint64_t               one  = 1;
	op3                    o;
	lab_gate_wait(&go);
	w->t0      = lab_now_s();
	double end = w->t0 + seconds;
	for (uint64_t i = 0; lab_now_s() < end; i++) {
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
	w->t1 = lab_now_s();
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
	lab_gate_wait(&go);
	w->t0      = lab_now_s();
	double end = w->t0 + seconds;
	for (uint64_t i = 0; lab_now_s() < end; i++) {
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
	w->t1 = lab_now_s();
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
	lab_gate_set(&go, 0);
	for (int i = 0; i < nthreads; i++) {
		w[i] = (worker) {
			.id = i, .odb = odb, .wo = wo, .oto = oto, .c = c
		};
		pthread_create(&th[i], NULL,
		    causeway ? run_causeway : run_rocksdb, &w[i]);
	}
	lab_gate_set(&go, 1);
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
	lab_rmrf(dir);
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
	lab_gate_wait(&go);
	w->t0      = lab_now_s();
	double end = w->t0 + seconds, next = w->t0;
	if (w->rate > 0) /* stagger the threads over one interval */
		next += (double) w->id / w->nthreads / w->rate;
	while (lab_now_s() < end) {
		double start = lab_now_s();
		if (w->rate > 0) {
			/* open loop: latency counts from the scheduled start
			 */
			lab_sleep_until(next);
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
		w->lat[w->nlat++] = lab_now_s() - start;
	}
	w->t1 = lab_now_s();
	return NULL;
}

typedef struct {
	double rate, p50, p99;
	double cpu_us, server_us; /* CPU per transaction: this process's
	                           * (the clients, or the embedded engine)
	                           * and causewayd's (0: none running) */
	uint64_t conflicts, errors;
} mix_result;

static pid_t server_pid; /* the causewayd bench_net started, or 0 */

/* CPU seconds (user and system) used so far by pid, 0 for this process;
 * 0 if unknown. */
static double
cpu_seconds(pid_t pid)
{
	if (pid == 0) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		return (double) ru.ru_utime.tv_sec +
		    ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec +
		    ru.ru_stime.tv_usec / 1e6;
	}
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len]         = '\0';
	const char   *p  = strrchr(buf, ')'); /* the name may hold spaces */
	unsigned long ut = 0, st = 0;
	if (p == NULL ||
	    sscanf(p + 2,
	        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
	        &st) != 2)
		return 0;
	return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

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
	lab_gate_set(&go, 0);
	for (int i = 0; i < n; i++) {
		w[i].id       = i;
		w[i].rate     = rate / n;
		w[i].nthreads = n;
		w[i].c        = local;
		if (url != NULL && bench_connect(&w[i].c, url) != 0) {
			fprintf(
			    stderr, "cw-bench: cannot connect to %s\n", url);
			exit(1);
		}
		pthread_create(&th[i], NULL, run_mix, &w[i]);
	}
	double cpu0 = cpu_seconds(0), srv0 = url ? cpu_seconds(server_pid) : 0;
	lab_gate_set(&go, 1);
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
	if (total > 0) {
		r.cpu_us = (cpu_seconds(0) - cpu0) / (double) total * 1e6;
		if (url != NULL && server_pid > 0)
			r.server_us = (cpu_seconds(server_pid) - srv0) /
			    (double) total * 1e6;
	}
	qsort(all, total, sizeof(*all), lab_cmp_double);
	r.rate = total / (t1 - t0);
	r.p50  = total ? all[total / 2] * 1e3 : 0;
	r.p99  = total ? all[(size_t) (total * 0.99)] * 1e3 : 0;
	free(all);
	free(w);
	free(th);
	cw_close(local);
	return r;
}

/* ---- cw-bench net: the transport's ceiling ----
 *
 * The same round trip the SDK and causewayd make, with no work behind it,
 * measured by cw-echo (tools/cw_echo.c, an internal benchmark next to this
 * binary: it links the two transports' internals, which a shipped program
 * must not): `cw-echo serve URL` answers each request with its own bytes
 * from the I/O thread that read it, on causewayd's transport, and
 * `cw-echo run` drives it with the SDK's. A mix of two round trips per
 * transaction cannot go faster than half the echo's round trips. */

enum { ECHO_IO_THREADS = 4 }; /* cw-echo's, as causewayd's default */

/* The path of program name beside self, or "" if it is not there. */
static void
sibling_path(const char *self, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s", self);
	char *slash = strrchr(out, '/');
	snprintf(slash ? slash + 1 : out,
	    cap - (size_t) (slash ? slash + 1 - out : 0), "%s", name);
	if (access(out, X_OK) != 0)
		out[0] = '\0';
}

/* `cw-echo run url n pairs seconds`: n client threads against the echo
 * server at url: round trips a second (rate), and p50/p99 of a pair of
 * round trips. pairs: the pairs a second offered, paced (0: flat out).
 * errors: 1 on failure. */
static mix_result
echo_run(const char *bin, const char *url, int n, double pairs)
{
	mix_result r = { .errors = 1 };
	char       ns[16], ps[32], ss[32], line[256];
	int        fd[2], errs = 1;
	snprintf(ns, sizeof(ns), "%d", n);
	snprintf(ps, sizeof(ps), "%.3f", pairs);
	snprintf(ss, sizeof(ss), "%.3f", seconds);
	if (pipe(fd) != 0)
		return r;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execl(bin, bin, "run", url, ns, ps, ss, (char *) NULL);
		_exit(127);
	}
	close(fd[1]);
	FILE *f = fdopen(fd[0], "r");
	if (f != NULL && fgets(line, sizeof(line), f) != NULL &&
	    sscanf(line, "%lf %lf %lf %d", &r.rate, &r.p50, &r.p99, &errs) ==
	        4)
		r.errors = errs != 0;
	if (f != NULL)
		fclose(f);
	else
		close(fd[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return r;
}

static void
stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
}

/* Starts causewayd (next to this binary) on a free port in dir; with
 * tls_url, also on a tls+tcp:// port with certificates made in
 * dir/certs. */
static void
start_server(
    const char *self, const char *dir, char *url, size_t cap, char *tls_url)
{
	char certs[600], crt[700], key[700];
	if (tls_url != NULL) {
		snprintf(certs, sizeof(certs), "%s/certs", dir);
		if (lab_certs(certs, 1, false, NULL) != 0) {
			fprintf(stderr,
			    "cw-bench: cannot make certificates "
			    "(tools/certs.sh, or $CW_CERTS_SH)\n");
			exit(1);
		}
		snprintf(tls_ca, sizeof(tls_ca), "%s/ca.crt", certs);
		snprintf(crt, sizeof(crt), "%s/dc-0.crt", certs);
		snprintf(key, sizeof(key), "%s/dc-0.key", certs);
	}
	char bin[4096];
	snprintf(bin, sizeof(bin), "%s", self);
	char *slash = strrchr(bin, '/');
	snprintf(slash ? slash + 1 : bin,
	    sizeof(bin) - (size_t) (slash ? slash + 1 - bin : 0), "causewayd");
	users_file(dir);
	atexit(stop_server);
	for (int tries = 0; tries < 5 && server_pid == 0; tries++) {
		/* a port free a moment ago; if taken since, try another */
		snprintf(url, cap, "tcp://127.0.0.1:%d", dc_free_port());
		if (tls_url != NULL)
			snprintf(tls_url, 64, "tls+tcp://127.0.0.1:%d",
			    dc_free_port());
		pid_t pid = fork();
		if (pid == 0) {
			int   fd = open("/dev/null", O_WRONLY);
			char *av[20];
			int   k = 0;
			dup2(fd, 2);
			av[k++] = bin;
			av[k++] = "--data";
			av[k++] = (char *) dir;
			av[k++] = "--listen";
			av[k++] = url;
			av[k++] = "--log";
			av[k++] = "error";
			if (tls_url != NULL) {
				av[k++] = "--listen";
				av[k++] = tls_url;
				av[k++] = "--tls-cert";
				av[k++] = crt;
				av[k++] = "--tls-key";
				av[k++] = key;
				av[k++] = "--tls-ca";
				av[k++] = tls_ca;
			}
			if (admin_pw[0] != '\0') {
				av[k++] = "--admin-password-file";
				av[k++] = admin_pw;
			}
			av[k] = NULL;
			execv(bin, av);
			_exit(127);
		}
		server_pid = pid;
		for (int i = 0; i < 100; i++) {
			cw_client *c;
			if (bench_connect(&c, url) == 0) {
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

/* The disk alone, in dir: 300-byte appends to one file, each followed by
 * fdatasync, back to back for `secs` seconds, as a commit's WAL write.
 * Prints the syncs' p50/p99/p99.9/max and the share of the time a commit
 * arriving then would still wait over 2 ms for the sync under way: the
 * sum over syncs of max(0, length - 2 ms), over the run's length. A
 * durable commit's p99 cannot be under 2 ms if that share is over 1%. */
static void
disk_alone(const char *dir, double secs)
{
	char *path;
	if (asprintf(&path, "%s/disk-alone", dir) < 0)
		return;
	int     fd  = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	size_t  cap = 1 << 16, nl = 0;
	double *lat = malloc(cap * sizeof(*lat)), over = 0, t0 = lab_now_s();
	char    rec[300] = { 0 };
	if (fd < 0 || lat == NULL) {
		fprintf(stderr, "cw-bench: cannot write %s\n", path);
		goto out;
	}
	while (lab_now_s() - t0 < secs) {
		if (write(fd, rec, sizeof(rec)) != (ssize_t) sizeof(rec))
			break;
		double t = lab_now_s();
		if (fdatasync(fd) != 0)
			break;
		double l = lab_now_s() - t;
		if (l > 0.002)
			over += l - 0.002;
		if (nl == cap) {
			double *p = realloc(lat, 2 * cap * sizeof(*lat));
			if (p == NULL)
				break;
			lat = p;
			cap *= 2;
		}
		lat[nl++] = l;
	}
	double span = lab_now_s() - t0;
	if (nl > 0) {
		qsort(lat, nl, sizeof(*lat), lab_cmp_double);
		printf(
		    "\nthe disk alone (%zu fdatasyncs of a 300 B append, back "
		    "to back, in %s): p50 %.2f ms, p99 %.2f ms, p99.9 %.2f "
		    "ms, max %.2f ms;\na commit arriving at a random moment "
		    "would wait over 2 ms for the sync under way %.2f%% of "
		    "the time\n",
		    nl, dir, lat[nl / 2] * 1e3, lat[nl * 99 / 100] * 1e3,
		    lat[nl * 999 / 1000] * 1e3, lat[nl - 1] * 1e3,
		    100 * over / span);
	}
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(lat);
	free(path);
}

static int
bench_net(const char *self, int *list, int n, double open_rate, bool tls)
{
	char  url[64], tls_url[64];
	char *sdir = fresh_dir(), *ldir = fresh_dir();
	start_server(self, sdir, url, sizeof(url), tls ? tls_url : NULL);
	printf("cw-bench net: transactions of a register read, a counter add "
	       "and a 100 B\nregister put, durable; causewayd on %s%s against "
	       "the embedded engine;\n%.1f s per run, data in %s\n\n",
	    url, admin_pw[0] ? " (users on: every session logged in)" : "",
	    seconds, basedir);
	printf("| threads | embedded txn/s | network txn/s | net/embedded "
	       "| net p50 ms | net p99 ms | emb p50 ms | emb p99 ms "
	       "| emb CPU µs/txn | causewayd CPU µs/txn | clients CPU µs/txn "
	       "|\n");
	printf("|--------:|---------------:|--------------:|-------------:"
	       "|-----------:|-----------:|-----------:|-----------:"
	       "|---------------:|---------------------:|-------------------:"
	       "|\n");
	double peak         = 0;
	int    peak_threads = 1, errors = 0;
	double emb[16];
	for (int i = 0; i < n; i++) {
		mix_result e = run_mix_threads(NULL, ldir, list[i], 0);
		emb[i]       = e.rate;
		mix_result r = run_mix_threads(url, NULL, list[i], 0);
		printf("| %7d | %14.0f | %13.0f | %12.2f | %10.2f | %10.2f "
		       "| %10.2f | %10.2f | %14.0f | %20.0f | %18.0f |\n",
		    list[i], e.rate, r.rate, r.rate / e.rate, r.p50, r.p99,
		    e.p50, e.p99, e.cpu_us, r.server_us, r.cpu_us);
		fflush(stdout);
		errors += (int) (e.errors + r.errors);
		if (r.rate > peak) {
			peak         = r.rate;
			peak_threads = list[i];
		}
	}
	double     half = open_rate > 0 ? open_rate : peak / 2;
	mix_result h    = run_mix_threads(url, NULL, peak_threads, half);
	printf("\nat %s (%.0f txn/s offered, %d threads, "
	       "open loop): %.0f txn/s, p50 %.2f ms, p99 %.2f ms (target "
	       "p99 < 2 ms); CPU per transaction: causewayd %.0f µs, the "
	       "clients %.0f µs\n",
	    open_rate > 0 ? "the rate given" : "half the network peak", half,
	    peak_threads, h.rate, h.p50, h.p99, h.server_us, h.cpu_us);
	errors += (int) h.errors;
	if (tls) {
		/* the same server, its plain and TLS ports in interleaved
		 * pairs, so both runs see the same machine */
		printf("\n## plain against TLS sessions: the same causewayd, "
		       "interleaved pairs\n\n");
		printf("| threads | plain txn/s | TLS txn/s | TLS/plain | "
		       "plain p50/p99 ms | TLS p50/p99 ms | causewayd CPU "
		       "µs/txn plain | TLS | clients CPU µs/txn plain | TLS "
		       "|\n");
		printf(
		    "|--------:|------------:|----------:|----------:|------"
		    "-----------:|---------------:|------------------------"
		    "--:|----:|------------------------:|----:|\n");
		for (int i = 0; i < n; i++) {
			mix_result a = run_mix_threads(url, NULL, list[i], 0);
			mix_result b =
			    run_mix_threads(tls_url, NULL, list[i], 0);
			printf("| %7d | %11.0f | %9.0f | %9.2f | %6.2f / "
			       "%-6.2f | %6.2f / %-6.2f | %25.0f | %3.0f | "
			       "%24.0f | %3.0f |\n",
			    list[i], a.rate, b.rate,
			    a.rate > 0 ? b.rate / a.rate : 0, a.p50, a.p99,
			    b.p50, b.p99, a.server_us, b.server_us, a.cpu_us,
			    b.cpu_us);
			fflush(stdout);
			errors += (int) (a.errors + b.errors);
		}
	}
	stop_server();
	disk_alone(sdir, seconds);

	/* the transport alone, in the same run */
	char eurl[64], ebin[4096];
	sibling_path(self, "cw-echo", ebin, sizeof(ebin));
	snprintf(eurl, sizeof(eurl), "tcp://127.0.0.1:%d", dc_free_port());
	pid_t ep = -1;
	if (ebin[0] == '\0')
		printf("\nthe transport's ceiling: skipped, no cw-echo beside "
		       "%s\n",
		    self);
	else if ((ep = fork()) == 0) {
		execl(ebin, ebin, "serve", eurl, (char *) NULL);
		_exit(127);
	}
	if (ep > 0) {
		printf("\nthe transport's ceiling: round trips of 100 B on "
		       "loopback, the SDK's transport\nagainst causewayd's, "
		       "answering at once from the I/O thread that read it "
		       "(%d\nthreads, as causewayd); the mix makes two round "
		       "trips per transaction, so it\ncannot exceed half of "
		       "them (cw-echo)\n\n",
		    ECHO_IO_THREADS);
		printf("| threads | echo round trips/s | mix txn/s at most | "
		       "that / embedded | 2 round trips p50 ms | p99 ms |\n");
		printf(
		    "|--------:|-------------------:|------------------:|----"
		    "------------:|---------------------:|-------:|\n");
	}
	for (int i = 0; i < n && ep > 0; i++) {
		mix_result r = echo_run(ebin, eurl, list[i], 0);
		if (r.errors) {
			fprintf(stderr,
			    "cw-bench: the echo server at %s failed\n", eurl);
			errors++;
			break;
		}
		printf("| %7d | %18.0f | %17.0f | %15.2f | %20.2f | %6.2f |\n",
		    list[i], r.rate, r.rate / 2, r.rate / 2 / emb[i], r.p50,
		    r.p99);
		fflush(stdout);
	}
	if (ep > 0 && errors == 0) {
		/* the load of the half-peak run above, on the transport */
		mix_result r = echo_run(ebin, eurl, peak_threads, half);
		printf(
		    "\nthe transport alone at the half-peak load (%.0f pairs "
		    "of round trips/s offered,\n%d threads, open loop): "
		    "p50 %.2f ms, p99 %.2f ms for two round trips\n",
		    half, peak_threads, r.p50, r.p99);
		errors += (int) r.errors;
	}
	if (ep > 0) {
		kill(ep, SIGTERM);
		waitpid(ep, NULL, 0);
	}

	lab_rmrf(sdir);
	lab_rmrf(ldir);
	free(sdir);
	free(ldir);
	if (errors) {
		fprintf(stderr, "cw-bench: %d transactions failed\n", errors);
		return 1;
	}
	return 0;
}

/* ---- cw-bench repl ---- */

#define RDC 3

static pid_t repl_pids[RDC];

static void
stop_dcs(void)
{
	for (int i = 0; i < RDC; i++)
		if (repl_pids[i] > 0) {
			kill(repl_pids[i], SIGTERM);
			waitpid(repl_pids[i], NULL, 0);
			repl_pids[i] = 0;
		}
}

/* Starts three DCs next to this binary, their links plain or mutual TLS
 * (certificates made in base/certs); OUT: their client URLs. */
static void
start_dcs(const char *self, const char *base, char urls[RDC][64], bool tls)
{
	char bin[4096], peer[RDC][64], dir[RDC][512], id[RDC][8];
	char certs[600], crt[RDC][640], key[RDC][640], ca[640];
	snprintf(certs, sizeof(certs), "%s/certs", base);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	if (tls && lab_certs(certs, RDC, false, NULL) != 0) {
		fprintf(stderr,
		    "cw-bench: cannot make certificates "
		    "(tools/certs.sh, or $CW_CERTS_SH)\n");
		exit(1);
	}
	snprintf(bin, sizeof(bin), "%s", self);
	char *slash = strrchr(bin, '/');
	snprintf(slash ? slash + 1 : bin,
	    sizeof(bin) - (size_t) (slash ? slash + 1 - bin : 0), "causewayd");
	for (int i = 0; i < RDC; i++) {
		snprintf(urls[i], 64, "tcp://127.0.0.1:%d", dc_free_port());
		snprintf(peer[i], 64, "%s://127.0.0.1:%d",
		    tls ? "tls+tcp" : "tcp", dc_free_port());
		snprintf(dir[i], sizeof(dir[i]), "%s/dc%d", base, i);
		snprintf(crt[i], sizeof(crt[i]), "%s/dc-%d.crt", certs, i);
		snprintf(key[i], sizeof(key[i]), "%s/dc-%d.key", certs, i);
		snprintf(id[i], sizeof(id[i]), "%d", i);
	}
	users_file(base);
	atexit(stop_dcs);
	for (int i = 0; i < RDC; i++) {
		char  pa[RDC][96];
		char *argv[32];
		int   n   = 0;
		argv[n++] = bin;
		argv[n++] = "--dc";
		argv[n++] = id[i];
		argv[n++] = "--data";
		argv[n++] = dir[i];
		argv[n++] = "--listen";
		argv[n++] = urls[i];
		argv[n++] = "--peer-listen";
		argv[n++] = peer[i];
		argv[n++] = "--log";
		argv[n++] = "error";
		argv[n++] = "--session-wait";
		argv[n++] = "10000";
		for (int j = 0; j < RDC; j++) {
			if (j == i)
				continue;
			snprintf(pa[j], sizeof(pa[j]), "%d=%.60s", j, peer[j]);
			argv[n++] = "--peer";
			argv[n++] = pa[j];
		}
		if (admin_pw[0] != '\0') {
			argv[n++] = "--admin-password-file";
			argv[n++] = admin_pw;
		}
		if (tls) {
			argv[n++] = "--tls-cert";
			argv[n++] = crt[i];
			argv[n++] = "--tls-key";
			argv[n++] = key[i];
			argv[n++] = "--tls-ca";
			argv[n++] = ca;
		}
		argv[n]   = NULL;
		pid_t pid = fork();
		if (pid == 0) {
			execv(bin, argv);
			_exit(127);
		}
		repl_pids[i] = pid;
	}
	for (int i = 0; i < RDC; i++) {
		for (int t = 0;; t++) {
			cw_client *c;
			if (bench_connect(&c, urls[i]) == 0) {
				cw_close(c);
				break;
			}
			if (t > 200) {
				fprintf(stderr,
				    "cw-bench: DC %d did not start\n", i);
				exit(1);
			}
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
}

static uint64_t
applied_from(const char *url, int origin)
{
	static cw_dc_info s;
	cw_client        *c;
	uint64_t          v = 0;
	if (bench_connect(&c, url) == 0) {
		if (cw_dc_status(c, &s) == 0)
			v = s.state[origin];
		cw_close(c);
	}
	return v;
}

typedef struct {
	const char *url;
	int         id;
	double      rate; /* per thread; 0: as fast as possible */
	int         nthreads;
	uint64_t    n;
} rwriter;

static void *
run_writes(void *arg)
{
	rwriter   *w    = arg;
	unsigned   seed = 99 + (unsigned) w->id;
	cw_client *c;
	if (bench_connect(&c, w->url) != 0)
		return NULL;
	lab_gate_wait(&go);
	double t0 = lab_now_s(), end = t0 + seconds, next = t0;
	if (w->rate > 0)
		next += (double) w->id / w->nthreads / w->rate;
	while (lab_now_s() < end) {
		if (w->rate > 0) {
			lab_sleep_until(next);
			next += 1.0 / w->rate;
		}
		char   k[24];
		size_t kl = (size_t) snprintf(
		    k, sizeof(k), "c%u", (unsigned) rand_r(&seed) % 1000);
		cw_txn *t;
		if (cw_begin(c, &t) != 0)
			continue;
		cw_counter_add(t, k, kl, 1);
		cw_reg_put(t, "last", 4, value, sizeof(value));
		if (cw_commit(t) == 0)
			w->n++;
	}
	cw_close(c);
	return NULL;
}

/* Commits at DC 0 with nthreads writers for `seconds`, paced at rate
 * (0: flat out). OUT: commits/s at DC 0. */
static double
repl_load(
    const char *url, int nthreads, double rate, pthread_t *th, rwriter *w)
{
	lab_gate_set(&go, 0);
	for (int i = 0; i < nthreads; i++) {
		w[i] = (rwriter) { url, i, rate / nthreads, nthreads, 0 };
		pthread_create(&th[i], NULL, run_writes, &w[i]);
	}
	lab_gate_set(&go, 1);
	return 0;
}

typedef struct {
	double peak;     /* commits/s at DC 0, flat out */
	double p50, p99; /* ms, commit at DC 0 to readable at DC 1 */
	double cpu_us;   /* CPU of the three causewayd per peak commit */
} repl_result;

/* CPU seconds (user + system) that pid has used, from /proc. */
static double
proc_cpu_s(pid_t pid)
{
	char  path[64], buf[1024];
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n]  = '\0';
	char *p = strrchr(buf, ')'); /* the name may hold spaces */
	unsigned long long ut = 0, st = 0;
	if (p == NULL ||
	    sscanf(p + 2,
	        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
	        &st) != 2)
		return 0;
	return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

static double
dcs_cpu_s(void)
{
	double s = 0;
	for (int i = 0; i < RDC; i++)
		s += proc_cpu_s(repl_pids[i]);
	return s;
}

static int bench_repl_one(
    const char *self, int nthreads, bool tls, repl_result *out);

/* The plain run; with --tls, plain and TLS in interleaved pairs, then the
 * comparison. */
static int
bench_repl(const char *self, int nthreads, bool tls)
{
	repl_result r[4];
	int         runs = tls ? 4 : 1;
	for (int i = 0; i < runs; i++)
		if (bench_repl_one(self, nthreads, i % 2 == 1, &r[i]) != 0)
			return 1;
	if (!tls)
		return 0;
	printf("\n## plain against TLS links, interleaved pairs (plain, TLS, "
	       "plain, TLS)\n\n");
	printf("| pair | plain commits/s | TLS commits/s | TLS/plain | plain "
	       "CPU us/commit | TLS CPU us/commit | plain p50/p99 ms | TLS "
	       "p50/p99 ms |\n");
	printf("|-----:|----------------:|--------------:|----------:|-------"
	       "-------------:|------------------:|-----------------:|-------"
	       "---------:|\n");
	for (int p = 0; p < 2; p++) {
		repl_result *a = &r[2 * p], *b = &r[2 * p + 1];
		printf("| %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f / %.2f "
		       "| %.2f / %.2f |\n",
		    p + 1, a->peak, b->peak,
		    a->peak > 0 ? b->peak / a->peak : 0, a->cpu_us, b->cpu_us,
		    a->p50, a->p99, b->p50, b->p99);
	}
	return 0;
}

static int
bench_repl_one(const char *self, int nthreads, bool tls, repl_result *res)
{
	char      urls[RDC][64];
	char     *base = fresh_dir();
	pthread_t th[64];
	rwriter   w[64];
	if (nthreads > 64)
		nthreads = 64;
	start_dcs(self, base, urls, tls);
	printf("%scw-bench repl: three DCs on loopback, links %s; %d client "
	       "threads commit small transactions\n(a counter add, a 100 B "
	       "register put) at DC 0 for %.1f s; data in %s\n\n",
	    tls ? "\n" : "", tls ? "mutual TLS" : "plain TCP", nthreads,
	    seconds, basedir);
	double cpu0 = dcs_cpu_s();

	/* 1: as fast as possible; sample how far DC 1 and 2 trail */
	uint64_t b0[RDC];
	for (int i = 0; i < RDC; i++)
		b0[i] = applied_from(urls[i], 0);
	double t0 = lab_now_s();
	repl_load(urls[0], nthreads, 0, th, w);
	uint64_t        trail_mid[RDC] = { 0 };
	struct timespec half           = { (time_t) (seconds / 2),
		          (long) ((seconds / 2 - (time_t) (seconds / 2)) * 1e9) };
	nanosleep(&half, NULL);
	/* followers first, then DC 0: a trail is never understated */
	uint64_t f_mid[RDC] = { 0 };
	for (int i = 1; i < RDC; i++)
		f_mid[i] = applied_from(urls[i], 0);
	uint64_t a_mid = applied_from(urls[0], 0);
	for (int i = 1; i < RDC; i++)
		trail_mid[i] = a_mid > f_mid[i] ? a_mid - f_mid[i] : 0;
	uint64_t total = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		total += w[i].n;
	}
	double   t1         = lab_now_s();
	uint64_t f_end[RDC] = { 0 }, trail_end[RDC] = { 0 };
	for (int i = 1; i < RDC; i++)
		f_end[i] = applied_from(urls[i], 0);
	uint64_t a_end = applied_from(urls[0], 0);
	for (int i = 1; i < RDC; i++)
		trail_end[i] = a_end > f_end[i] ? a_end - f_end[i] : 0;
	/* time until both have applied everything */
	double drain = 0;
	for (;;) {
		bool all = true;
		for (int i = 1; i < RDC; i++)
			all &= applied_from(urls[i], 0) >= a_end;
		if (all)
			break;
		drain = lab_now_s() - t1;
		if (drain > 60)
			break;
	}
	double peak = total / (t1 - t0);
	res->peak   = peak;
	res->cpu_us = total ? (dcs_cpu_s() - cpu0) / (double) total * 1e6 : 0;
	printf("| run | commits/s at DC 0 | DC 1 trails (mid, end) | DC 2 "
	       "trails (mid, end) | all applied after |\n");
	printf("|-----|------------------:|-----------------------:|---------"
	       "---------------:|------------------:|\n");
	printf(
	    "| peak | %17.0f | %10llu, %-10llu | %10llu, %-11llu | %11.1f ms "
	    "|\n",
	    peak, (unsigned long long) trail_mid[1],
	    (unsigned long long) trail_end[1],
	    (unsigned long long) trail_mid[2],
	    (unsigned long long) trail_end[2], drain * 1e3);
	fflush(stdout);
	(void) b0;

	/* 2: half that rate, and a probe measuring commit-at-0 to
	 * readable-at-1 through a session clock */
	repl_load(urls[0], nthreads, peak / 2, th, w);
	cw_client *a, *b;
	if (bench_connect(&a, urls[0]) != 0 || bench_connect(&b, urls[1]) != 0)
		return 1;
	double *lat = malloc(100000 * sizeof(*lat));
	size_t  nl  = 0;
	double  end = lab_now_s() + seconds;
	while (lab_now_s() < end && nl < 100000) {
		cw_txn *t;
		void   *clk;
		size_t  cl;
		int64_t v;
		if (cw_begin(a, &t) != 0)
			continue;
		cw_counter_add(t, "probe", 5, 1);
		if (cw_commit(t) != 0 || cw_clock_get(a, &clk, &cl) != 0)
			continue;
		double c0 = lab_now_s();
		cw_clock_merge(b, clk, cl);
		free(clk);
		/* the read waits at DC 1 until it has applied the commit */
		if (cw_begin(b, &t) == 0 &&
		    cw_counter_get(t, "probe", 5, &v) == 0)
			lat[nl++] = lab_now_s() - c0;
		cw_abort(t);
		struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
	}
	uint64_t done = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		done += w[i].n;
	}
	qsort(lat, nl, sizeof(*lat), lab_cmp_double);
	printf("\nat half the peak (%.0f commits/s offered, %.0f done): "
	       "commit at DC 0 to readable at DC 1, %zu probes:\np50 %.2f ms, "
	       "p99 %.2f ms (target p99 < 5 ms; includes one read round "
	       "trip)\n",
	    peak / 2, done / seconds, nl, nl ? lat[nl / 2] * 1e3 : 0,
	    nl ? lat[(size_t) (nl * 0.99)] * 1e3 : 0);
	res->p50 = nl ? lat[nl / 2] * 1e3 : 0;
	res->p99 = nl ? lat[(size_t) (nl * 0.99)] * 1e3 : 0;
	free(lat);
	cw_close(a);
	cw_close(b);
	stop_dcs();
	lab_rmrf(base);
	free(base);
	return 0;
}

/* ---- cw-bench lag ---- */

/*
 * Writers commit at DC 0 at a steady rate for `seconds`; DC 1 is cut off
 * from both others from 30% to 60% of the run. Every 100 ms a sampler
 * reads how far DC 0 has committed and how far DC 1 and DC 2 have applied
 * its records. A DC's lag is in records (DC 0's count minus its own) and
 * in time: how long ago DC 0 had committed what the DC has applied now
 * (its staleness). Prints one line per sample: t, cut (0/1), DC 0's
 * commits, then lag records and lag ms for DC 1 and DC 2; then a
 * summary.
 */
static int
bench_lag(const char *self, int nthreads, double rate)
{
	char bin[4096];
	snprintf(bin, sizeof(bin), "%s", self);
	char *slash = strrchr(bin, '/');
	snprintf(slash ? slash + 1 : bin,
	    sizeof(bin) - (size_t) (slash ? slash + 1 - bin : 0), "causewayd");
	setenv("CAUSEWAYD", bin, 0);
	cluster *c;
	char    *extra[] = { "--log", "error", NULL };
	if (cluster_start(&c, 3, extra) != 0) {
		fprintf(stderr, "cw-bench lag: the DCs did not start\n");
		return 1;
	}
	const char *url[3] = { c->d[0].url, c->d[1].url, c->d[2].url };
	size_t      cap    = (size_t) (seconds * 10 + 400);
	double     *st     = calloc(cap, sizeof(double));
	uint64_t   *sa     = calloc(cap, sizeof(uint64_t));
	pthread_t   th[64];
	rwriter     w[64];
	if (st == NULL || sa == NULL || nthreads > 64) {
		cluster_stop(c);
		return 1;
	}
	printf("# cw-bench lag: 3 DCs, %d writers at DC 0 offering %.0f "
	       "commits/s for %.0f s;\n# DC 1 cut off from %.0f s to %.0f "
	       "s\n",
	    nthreads, rate, seconds, seconds * 0.3, seconds * 0.6);
	printf("# t_s\tcut\tdc0_commits\tdc1_lag\tdc1_lag_ms\tdc2_lag\t"
	       "dc2_lag_ms\n");
	uint64_t base = applied_from(url[0], 0);
	double   t0   = lab_now_s();
	repl_load(url[0], nthreads, rate, th, w);
	bool     cut = false, healed = false;
	double   max_ms[3] = { 0 }, caught_up = -1, healed_at = 0;
	uint64_t max_rec[3] = { 0 };
	size_t   n          = 0;
	for (;;) {
		double t = lab_now_s() - t0;
		if (!cut && !healed && t >= seconds * 0.3) {
			cluster_isolate(c, 1, true);
			cut = true;
		} else if (cut && t >= seconds * 0.6) {
			cluster_isolate(c, 1, false);
			cut       = false;
			healed    = true;
			healed_at = t;
		}
		/* the followers first: a lag is never understated */
		uint64_t f1 = applied_from(url[1], 0) - base;
		uint64_t f2 = applied_from(url[2], 0) - base;
		uint64_t a  = applied_from(url[0], 0) - base;
		if (n < cap) {
			st[n]   = t;
			sa[n++] = a;
		}
		uint64_t f[3] = { 0, f1, f2 };
		double   ms[3];
		for (int i = 1; i < 3; i++) {
			/* when DC 0 first had f[i]: binary search the samples
			 */
			size_t lo = 0, hi = n - 1;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (sa[mid] < f[i])
					lo = mid + 1;
				else
					hi = mid;
			}
			/* between two samples DC 0 committed steadily */
			double when = st[lo];
			if (lo > 0 && sa[lo] > sa[lo - 1])
				when = st[lo - 1] +
				    (st[lo] - st[lo - 1]) *
				        (double) (f[i] - sa[lo - 1]) /
				        (double) (sa[lo] - sa[lo - 1]);
			ms[i] = f[i] >= a ? 0 : (t - when) * 1e3;
			if (ms[i] > max_ms[i])
				max_ms[i] = ms[i];
			if (a - f[i] > max_rec[i] && f[i] < a)
				max_rec[i] = a - f[i];
		}
		printf("%.2f\t%d\t%llu\t%llu\t%.0f\t%llu\t%.0f\n", t, cut,
		    (unsigned long long) a,
		    (unsigned long long) (a > f1 ? a - f1 : 0), ms[1],
		    (unsigned long long) (a > f2 ? a - f2 : 0), ms[2]);
		fflush(stdout);
		if (healed && caught_up < 0 && f1 + rate * 0.5 >= a)
			caught_up = t - healed_at;
		if (t >= seconds + 2)
			break;
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
	uint64_t done = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		done += w[i].n;
	}
	bool conv = cluster_converged(c, 60);
	printf("# %llu commits at DC 0 (%.0f/s); DC 1 lag at most %llu "
	       "records, %.0f ms; DC 2 at most %llu records, %.0f ms;\n# "
	       "DC 1 back within half a second of DC 0 %.1f s after the "
	       "heal; converged: %s\n",
	    (unsigned long long) done, done / seconds,
	    (unsigned long long) max_rec[1], max_ms[1],
	    (unsigned long long) max_rec[2], max_ms[2], caught_up,
	    conv ? "yes" : "NO");
	free(st);
	free(sa);
	int rc = cluster_stop(c);
	return conv && rc == 0 ? 0 : 1;
}

/* ---- cw-bench escrow ---- */

typedef struct {
	const char *url;
	int         id;
	uint64_t    local, waited, failed;
	double     *lat;
	size_t      nlat;
} espender;

static void *
run_spend(void *arg)
{
	espender  *e = arg;
	cw_client *c;
	if (bench_connect(&c, e->url) != 0)
		return NULL;
	e->lat = malloc(200000 * sizeof(*e->lat));
	lab_gate_wait(&go);
	double end = lab_now_s() + seconds;
	while (lab_now_s() < end) {
		cw_txn *t;
		/* first try: only this DC's own rights, no waiting */
		if (cw_begin(c, &t) != 0)
			continue;
		int rc = cw_bcounter_add_wait(t, "stock", 5, -1, 0);
		if (rc == 0 && cw_commit(t) == 0) {
			e->local++;
			continue;
		}
		if (rc != 0)
			cw_abort(t);
		/* refused: wait for a grant */
		double t0 = lab_now_s();
		if (cw_begin(c, &t) != 0)
			continue;
		rc = cw_bcounter_add_wait(t, "stock", 5, -1, 1000);
		if (rc == 0 && cw_commit(t) == 0) {
			e->waited++;
			if (e->nlat < 200000)
				e->lat[e->nlat++] = lab_now_s() - t0;
		} else {
			if (rc != 0)
				cw_abort(t);
			e->failed++;
		}
	}
	cw_close(c);
	return NULL;
}

static int
bench_escrow(const char *self)
{
	char      urls[RDC][64];
	char     *base  = fresh_dir();
	int       at[6] = { 0, 1, 1, 1, 1, 2 }; /* demand skewed to DC 1 */
	espender  e[6];
	pthread_t th[6];
	start_dcs(self, base, urls, false);
	cw_client *c;
	cw_txn    *t;
	if (bench_connect(&c, urls[0]) != 0 || cw_begin(c, &t) != 0 ||
	    cw_bcounter_add(t, "stock", 5, 10000000) != 0 || cw_commit(t) != 0)
		return 1;
	cw_close(c);
	while (applied_from(urls[1], 0) < 1 || applied_from(urls[2], 0) < 1)
		lab_sleep_until(lab_now_s() + 0.01);
	printf("cw-bench escrow: three DCs, one bounded counter with all its "
	       "rights minted at DC 0;\n6 client threads decrement it by 1 "
	       "(1 at DC 0, 4 at DC 1, 1 at DC 2) for %.1f s.\nEach "
	       "decrement first tries this DC's own rights; if refused, it "
	       "waits up to 1 s for a grant.\n\n",
	    seconds);
	lab_gate_set(&go, 0);
	for (int i = 0; i < 6; i++) {
		e[i] = (espender) { urls[at[i]], i, 0, 0, 0, NULL, 0 };
		pthread_create(&th[i], NULL, run_spend, &e[i]);
	}
	lab_gate_set(&go, 1);
	uint64_t local = 0, waited = 0, failed = 0, per[RDC] = { 0 },
	         perl[RDC] = { 0 };
	size_t  nl         = 0;
	double *lat        = malloc(6 * 200000 * sizeof(*lat));
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		local += e[i].local;
		waited += e[i].waited;
		failed += e[i].failed;
		per[at[i]] += e[i].local + e[i].waited;
		perl[at[i]] += e[i].local;
		memcpy(lat + nl, e[i].lat, e[i].nlat * sizeof(*lat));
		nl += e[i].nlat;
		free(e[i].lat);
	}
	qsort(lat, nl, sizeof(*lat), lab_cmp_double);
	uint64_t done = local + waited;
	printf("| DC | decrements | served locally |\n|---:|---:|---:|\n");
	for (int d = 0; d < RDC; d++)
		printf("| %d | %llu | %.1f%% |\n", d,
		    (unsigned long long) per[d],
		    per[d] ? 100.0 * perl[d] / per[d] : 0);
	printf("\n%.0f decrements/s; %.1f%% served locally (target >= 95%%); "
	       "%llu waited for a grant, p99 %.2f ms; %llu failed\n",
	    done / seconds, done ? 100.0 * local / done : 0,
	    (unsigned long long) waited,
	    nl ? lat[(size_t) (nl * 0.99)] * 1e3 : 0,
	    (unsigned long long) failed);
	free(lat);
	stop_dcs();
	lab_rmrf(base);
	free(base);
	return 0;
}

/* ---- cw-bench hostile ----
 *
 * A legitimate load (the net mix, L threads) against one causewayd, alone
 * and while cw-attack (tools/cw_attack.c, beside this binary) attacks it
 * from 127.0.0.2 and up (an address each), one attack at a time, each run
 * after a run without attack so both see the same machine. */

typedef struct {
	const char *kind;
	int         conns;                /* the attacker's connections */
	double      frame_mib, reply_mib; /* its requests and replies */
	const char *what;
} attack;

static const attack attacks[] = {
	{ "idle", 2000, 0, 0, "2,000 idle connections, reopened when closed" },
	{ "churn", 4, 0, 0, "connect and hang up, flat out (4 threads)" },
	{ "garbage", 4, 0, 0, "64 bytes of junk per connection, flat out" },
	{ "bigframes", 8, 15, 0, "8 connections sending 15 MiB junk frames" },
	{ "slowread", 8, 0, 0.954,
	    "8 connections reading a 1 MB value, never reading a reply" },
	{ "begins", 4, 0, 0, "begins never ended, as fast as answered" },
	{ "farclock", 4, 0, 0, "begins with a session clock never reached" },
};

static atomic_int rss_on;
static long       rss_peak; /* kB, the sampler's */

static void *
sample_rss(void *arg)
{
	(void) arg;
	while (atomic_load(&rss_on)) {
		long kb = lab_proc_kb(server_pid, "VmRSS");
		if (kb > rss_peak)
			rss_peak = kb;
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* The mix with n threads; *peak: causewayd's largest RSS meanwhile. */
static mix_result
run_mix_sampled(const char *url, int n, long *peak)
{
	pthread_t th;
	rss_peak = 0;
	atomic_store(&rss_on, 1);
	pthread_create(&th, NULL, sample_rss, NULL);
	mix_result r = run_mix_threads(url, NULL, n, 0);
	atomic_store(&rss_on, 0);
	pthread_join(th, NULL);
	*peak = rss_peak;
	return r;
}

/* Starts `cw-attack kind port secs conns`; its summary line comes on
 * *out (a pipe). Returns its pid or -1. */
static pid_t
start_attack(const char *bin, const attack *a, int port, double secs,
    const char *from, int *out)
{
	char ps[16], ss[32], cs[16];
	int  fd[2];
	snprintf(ps, sizeof(ps), "%d", port);
	snprintf(ss, sizeof(ss), "%.3f", secs);
	snprintf(cs, sizeof(cs), "%d", a->conns);
	if (pipe(fd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execl(bin, bin, a->kind, ps, ss, cs, from, (char *) NULL);
		_exit(127);
	}
	close(fd[1]);
	*out = fd[0];
	return pid;
}

/* What the documented bounds (docs/operations.md, "Limits and memory")
 * let the attack hold, in MiB: the reply cache (65 MiB) and, for each
 * connection it can hold (one address: 1,024 at most), its buffers (16
 * KiB), the frame being read, the requests in flight (16 of them, 1 MiB
 * and one frame at most) and the replies queued (4 MiB and the replies
 * of the 16 in flight). */
static double
attack_bound_mib(const attack *a)
{
	double held   = a->conns < 1024 ? a->conns : 1024;
	double f      = a->frame_mib;
	double flight = 16 * f < 1 + f ? 16 * f : 1 + f;
	double out    = a->reply_mib > 0 ? 4 + 16 * a->reply_mib : 0;
	return 65 + held * (16.0 / 1024 + f + flight + out);
}

/* --attacks: the attacks cw-bench hostile runs (comma-separated), or
 * NULL for all */
static const char *only_attacks;

static bool
attack_chosen(const char *kind)
{
	if (only_attacks == NULL)
		return true;
	size_t n = strlen(kind);
	for (const char *p = only_attacks; (p = strstr(p, kind)) != NULL;
	     p += n)
		if ((p == only_attacks || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static int
bench_hostile(const char *self, int threads)
{
	char  url[64], abin[4096], line[256];
	char *sdir   = fresh_dir();
	int   errors = 0, missed = 0;
	sibling_path(self, "cw-attack", abin, sizeof(abin));
	if (abin[0] == '\0') {
		fprintf(stderr,
		    "cw-bench hostile: no cw-attack beside %s (make builds "
		    "it in build/bin)\n",
		    self);
		return 1;
	}
	start_server(self, sdir, url, sizeof(url), NULL);
	int port = atoi(strrchr(url, ':') + 1);
	printf("cw-bench hostile: %d client threads run the net mix (a "
	       "register read, a counter\nadd and a 100 B register put, "
	       "durable) against causewayd on %s, alone\nand while "
	       "cw-attack attacks it from 127.0.0.2 and up (an address each "
	       "attack); %.1f s per run, each "
	       "attacked\nrun after one without (targets: throughput >= "
	       "0.7x, p99 <= 3x, peak RSS\nwithin the documented bound)\n\n",
	    threads, url, seconds);
	printf("| attack | txn/s alone | attacked | ratio | p99 ms alone | "
	       "attacked | ratio | causewayd CPU µs/txn alone | attacked | "
	       "attacker CPU %% | causewayd RSS MiB before | peak attacked "
	       "| bound | failed txns | the attacker did |\n");
	printf("|--------|------------:|---------:|------:|-------------:|"
	       "---------:|------:|---------------------------:|---------:|"
	       "---------------:|-------------------------:|--------------"
	       ":|------:|------------:|------------------|\n");
	/* a first run warms the server (its caches, RocksDB's memtable) */
	long       peak0;
	mix_result warm = run_mix_sampled(url, threads, &peak0);
	errors += (int) warm.errors;
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		const attack *a = &attacks[i];
		long          before, peak;
		if (!attack_chosen(a->kind))
			continue;
		mix_result alone = run_mix_sampled(url, threads, &before);
		int        out   = -1;
		char       from[32]; /* each attack its own address: one the
		                      * server blocked stays out of the next */
		snprintf(from, sizeof(from), "127.0.0.%d", 2 + (int) i);
		pid_t ap =
		    start_attack(abin, a, port, seconds + 1, from, &out);
		if (ap < 0) {
			fprintf(stderr, "cw-bench: cannot start %s\n", abin);
			errors++;
			break;
		}
		lab_sleep_until(lab_now_s() + 0.5); /* the attack ramps up */
		mix_result hit = run_mix_sampled(url, threads, &peak);
		FILE      *f   = fdopen(out, "r");
		line[0]        = '\0';
		if (f == NULL || fgets(line, sizeof(line), f) == NULL)
			snprintf(line, sizeof(line), "(no summary)");
		line[strcspn(line, "\n")] = '\0';
		if (f != NULL)
			fclose(f);
		else
			close(out);
		struct rusage ru;
		wait4(ap, NULL, 0, &ru);
		double acpu = (double) ru.ru_utime.tv_sec +
		    ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec +
		    ru.ru_stime.tv_usec / 1e6;
		double ratio = alone.rate > 0 ? hit.rate / alone.rate : 0;
		double p99r  = alone.p99 > 0 ? hit.p99 / alone.p99 : 0;
		double bound = before / 1024.0 + attack_bound_mib(a);
		bool   ok    = ratio >= 0.7 && p99r <= 3 &&
		    peak / 1024.0 <= bound && hit.errors == 0;
		missed += !ok;
		printf(
		    "| %s%s | %.0f | %.0f | %.2f | %.2f | %.2f | %.1f | %.0f "
		    "| %.0f | %.0f | %.0f | %.0f | %.0f | %llu | %s |\n",
		    a->kind, ok ? "" : " (missed)", alone.rate, hit.rate,
		    ratio, alone.p99, hit.p99, p99r, alone.server_us,
		    hit.server_us, acpu / (seconds + 1) * 100, before / 1024.0,
		    peak / 1024.0, bound, (unsigned long long) hit.errors,
		    line);
		fflush(stdout);
		errors += (int) alone.errors;
	}
	printf("\nthe attacks: ");
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++)
		printf("%s%s: %s", i ? "; " : "", attacks[i].kind,
		    attacks[i].what);
	printf(".\ncausewayd CPU: its CPU time over the legitimate "
	       "transactions (the attack's\nwork included); attacker CPU: "
	       "its share of one core (it runs on this machine,\nso what it "
	       "spends the clients and causewayd do not get).\nbound: the "
	       "RSS before the attack, the reply cache (65 "
	       "MiB) and what each connection\nthe attacker holds may "
	       "keep by docs/operations.md (\"Limits and memory\").\n");
	if (missed)
		printf("\n%d attack(s) missed a target\n", missed);
	stop_server();
	lab_rmrf(sdir);
	free(sdir);
	if (errors) {
		fprintf(stderr,
		    "cw-bench: %d transactions failed without an attack\n",
		    errors);
		return 1;
	}
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cw-bench local|net|repl|escrow|lag|hostile [--seconds S] "
	    "[--threads L] "
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
	    "       p50 and p99 latency; then the network at half its peak\n"
	    "       (or at --rate R txn/s, open loop). With --tls: then\n"
	    "       the same server's plain and TLS ports in interleaved\n"
	    "       pairs at each thread count.\n"
	    "\n"
	    "  --seconds S   length of each run (default 3)\n"
	    "  --users       the DCs it starts have users, and every session\n"
	    "                logs in (net, repl, escrow, lag)\n"
	    "  --threads L   comma-separated thread counts (default 1,4;\n"
	    "                net: 1,4,16)\n"
	    "  --no-sync     commits without fsync (both sides)\n"
	    "  --dir DIR     where the temporary databases go (default "
	    "$TMPDIR\n"
	    "                or /tmp)\n"
	    "\n"
	    "repl   starts three DCs on loopback; L client threads (the last\n"
	    "       of the list, default 8) commit at DC 0 flat out, then at\n"
	    "       half that rate while a probe measures how long a commit "
	    "at\n"
	    "       DC 0 takes to be readable at DC 1. With --tls: plain\n"
	    "       and mutually authenticated TLS links in interleaved\n"
	    "       pairs, and a table of the two side by side (throughput,\n"
	    "       CPU of the DCs per commit, remote visibility p50/p99).\n"
	    "\n"
	    "escrow starts three DCs; 6 client threads (4 at DC 1) decrement\n"
	    "       a bounded counter whose rights were minted at DC 0; "
	    "prints\n"
	    "       the share served with local rights and the p99 of those\n"
	    "       that waited for a grant.\n"
	    "\n"
	    "lag    starts three DCs, every link through a fault proxy; L\n"
	    "       writers (default 4) commit at DC 0 at --rate R "
	    "(default\n"
	    "       1000/s) while DC 1 is cut off from 30%% to 60%% of the\n"
	    "       run; prints the lag of DC 1 and DC 2 every 100 ms.\n"
	    "\n"
	    "hostile  L client threads (the last of the list, default 16)\n"
	    "       run the net mix against a causewayd, alone and while\n"
	    "       cw-attack (beside cw-bench) attacks it from 127.0.0.2 and "
	    "up,\n"
	    "       one attack at a time: throughput, p99 and causewayd's\n"
	    "       peak RSS against its documented bound. --attacks K,...\n"
	    "       runs only those (idle, churn, garbage, bigframes,\n"
	    "       slowread, begins, farclock).\n");
}

int
main(int argc, char **argv)
{
	static struct option lo[]       = { { "seconds", 1, 0, 's' },
		      { "threads", 1, 0, 't' }, { "no-sync", 0, 0, 'n' },
		      { "dir", 1, 0, 'd' }, { "rate", 1, 0, 'r' },
		      { "tls", 0, 0, 'T' }, { "users", 0, 0, 'U' },
		      { "attacks", 1, 0, 'A' }, { "help", 0, 0, 'h' },
		      { 0, 0, 0, 0 } };
	bool                 tls        = false;
	double               rate       = 1000;
	bool                 rate_given = false;
	const char          *threads    = NULL;
	int                  ch;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	optind          = 2;
	while ((ch = getopt_long(argc, argv, "s:t:nd:r:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if ((rate = atof(optarg)) <= 0) {
				fprintf(stderr, "cw-bench: bad --rate\n");
				return 2;
			}
			rate_given = true;
			break;
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
		case 'T':
			tls = true;
			break;
		case 'A':
			only_attacks = optarg;
			break;
		case 'U':
			admin_pw[0] = '\1'; /* the file is written at start */
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
	if (strcmp(cmd, "local") != 0 && strcmp(cmd, "net") != 0 &&
	    strcmp(cmd, "repl") != 0 && strcmp(cmd, "escrow") != 0 &&
	    strcmp(cmd, "lag") != 0 && strcmp(cmd, "hostile") != 0) {
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
		threads = strcmp(cmd, "net") == 0 ? "1,4,16"
		    : strcmp(cmd, "repl") == 0    ? "8"
		    : strcmp(cmd, "lag") == 0     ? "4"
		    : strcmp(cmd, "hostile") == 0 ? "16"
		                                  : "1,4";
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
		return bench_net(argv[0], list, n, rate_given ? rate : 0, tls);
	if (strcmp(cmd, "repl") == 0)
		return bench_repl(argv[0], list[n - 1], tls);
	if (strcmp(cmd, "escrow") == 0)
		return bench_escrow(argv[0]);
	if (strcmp(cmd, "lag") == 0)
		return bench_lag(argv[0], list[n - 1], rate);
	if (strcmp(cmd, "hostile") == 0)
		return bench_hostile(argv[0], list[n - 1]);
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
