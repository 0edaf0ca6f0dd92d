/*
 * hostile_test.c - clients that attack a real causewayd (issue 18): idle
 * connections that once locked every client out, one address that took
 * every connection, a flood of connections past the descriptor limit that
 * once left RocksDB without a descriptor for its next WAL (every commit
 * failed until a restart), a client that never reads its replies (the
 * server once grew by gigabytes), huge frames whose buffers were
 * kept until the connection closed, and a file RocksDB could not
 * create, which once stopped every write until a restart. Each attack is
 * bounded and each checks that a legitimate client is served meanwhile.
 */
#include "../unit/testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "causal.h"
#include "causeway.h"
#include "dcproc.h"
#include "raw.h"
#include "schema.h"
#include "util.h"

/* One commit of a counter add through the SDK. */
static int
bump(const char *url)
{
	cw_client *c;
	cw_txn    *t;
	int        rc = cw_connect(&c, url);
	if (rc != 0)
		return rc;
	cw_set_timeout(c, 2000);
	if ((rc = cw_begin(c, &t)) == 0) {
		cw_counter_add(t, "n", 1, 1);
		rc = cw_commit(t);
	}
	cw_close(c);
	return rc;
}

struct fx {
	char  *tmp;
	char   dir[300];
	dcproc d;
};

static struct fx *
start(char **args)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->tmp = lab_tmpdir("cwhostile");
	snprintf(f->dir, sizeof(f->dir), "%s/dc0", f->tmp);
	assert_int_equal(dc_start(&f->d, f->dir, args), 0);
	return f;
}

/* start() for a test that measures the server's memory. Under `make
 * asan` causewayd's allocator keeps what is freed in a quarantine (256
 * MB by default), which is the sanitizer's memory, not the server's: it
 * is turned off for that causewayd (a build without ASan ignores it). */
static struct fx *
start_measured(char **args)
{
	const char *was       = getenv("ASAN_OPTIONS");
	char        keep[512] = "", opts[600];
	if (was != NULL)
		snprintf(keep, sizeof(keep), "%s", was);
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0", keep,
	    was != NULL && *was ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	struct fx *f = start(args);
	if (was != NULL)
		setenv("ASAN_OPTIONS", keep, 1);
	else
		unsetenv("ASAN_OPTIONS");
	return f;
}

static void
stop(struct fx *f)
{
	assert_int_equal(dc_stop(&f->d), 0);
	lab_rmrf(f->tmp);
	free(f->tmp);
	free(f);
}

/* Idle connections that fill the server are closed after the idle time,
 * and a client gets in again. Before: 4,096 idle connections locked
 * every client out for as long as they were held. */
static void
idle_connections_are_closed_and_clients_get_in_again(void **state)
{
	(void) state;
	char      *args[] = { "--max-connections", "32",
		     "--max-connections-per-address", "0",
		     "--connection-idle-timeout", "2", NULL };
	struct fx *f      = start(args);
	int        fds[40], n = 0;
	for (int i = 0; i < 40; i++)
		if ((fds[n] = lab_raw_connect("127.0.0.2", f->d.port)) >= 0)
			n++;
	assert_int_equal(n, 40);
	/* the 8 beyond the limit are closed at once */
	bool gone[40] = { false };
	int  closed   = 0;
	for (int i = 0; i < n; i++)
		closed += gone[i] = lab_closed_by_server(fds[i], 10);
	assert_int_equal(closed, 8);
	assert_int_equal(bump(f->d.url), CW_EUNAVAIL); /* full */
	/* the rest within the idle time (and a sweep) */
	for (int i = 0; i < n; i++)
		closed += !gone[i] && lab_closed_by_server(fds[i], 4000);
	assert_int_equal(closed, 40);
	assert_int_equal(bump(f->d.url), 0);
	/* a client that sits idle longer than that is not hurt: the SDK
	 * dials again */
	cw_client *c;
	cw_txn    *t;
	assert_int_equal(cw_connect(&c, f->d.url), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_add(t, "n", 1, 1), 0);
	assert_int_equal(cw_commit(t), 0);
	lab_sleep_until(lab_now_s() + 2.5);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_add(t, "n", 1, 1), 0);
	assert_int_equal(cw_commit(t), 0);
	cw_close(c);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	stop(f);
}

/* One address may hold its share of connections, not all of them; the
 * refusals are logged a line a second at most. */
static void
one_address_cannot_take_every_connection(void **state)
{
	(void) state;
	char      *args[] = { "--max-connections", "64",
		     "--max-connections-per-address", "16", NULL };
	struct fx *f      = start(args);
	int        fds[200], n = 0;
	for (int i = 0; i < 200; i++)
		if ((fds[n] = lab_raw_connect("127.0.0.2", f->d.port)) >= 0)
			n++;
	assert_int_equal(n, 200);
	int closed = 0;
	for (int i = 0; i < n; i++)
		closed += lab_closed_by_server(fds[i], 50);
	assert_int_equal(closed, 200 - 16);
	/* another address is served */
	for (int i = 0; i < 5; i++)
		assert_int_equal(bump(f->d.url), 0);
	int lines = lab_count_lines(f->d.log, "the most allowed from one");
	assert_true(lines >= 1 && lines <= 3);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	stop(f);
}

/* causewayd under `ulimit -n 256`, 400 connections from one address: the
 * connections beyond what the limit leaves are refused, and commits that
 * make RocksDB switch to new WAL and table files all succeed. Before:
 * 1,500 connections under `ulimit -n 1024` made every commit fail with
 * CW_EIO until a restart. */
static void
a_connection_flood_leaves_descriptors_for_rocksdb(void **state)
{
	(void) state;
	char       *tmp = lab_tmpdir("cwhostilefd"), wrap[300], real[4096];
	const char *bin = getenv("CAUSEWAYD");
	if (bin == NULL)
		bin = "build/bin/causewayd";
	assert_non_null(realpath(bin, real));
	snprintf(wrap, sizeof(wrap), "%s/causewayd", tmp);
	FILE *w = fopen(wrap, "w");
	assert_non_null(w);
	fprintf(
	    w, "#!/bin/sh\nulimit -n 256 || exit 1\nexec %s \"$@\"\n", real);
	fclose(w);
	chmod(wrap, 0755);
	setenv("CAUSEWAYD", wrap, 1);
	char      *args[] = { NULL };
	struct fx *f      = start(args);
	setenv("CAUSEWAYD", real, 1);
	/* a client connected before the flood */
	cw_client *c;
	cw_txn    *t;
	assert_int_equal(cw_connect(&c, f->d.url), 0);
	cw_set_timeout(c, 10000);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_add(t, "n", 1, 1), 0);
	assert_int_equal(cw_commit(t), 0);
	int *fds = calloc(400, sizeof(int)), n = 0;
	for (int i = 0; i < 400; i++)
		if ((fds[n] = lab_raw_connect("127.0.0.2", f->d.port)) >= 0)
			n++;
	int closed = 0;
	for (int i = 0; i < n; i++)
		closed += lab_closed_by_server(fds[i], 20);
	assert_true(closed > 400 - 256);
	/* 96 MB of values: the memtable (64 MB) fills and is flushed,
	 * which takes a new WAL and a new table file */
	static char big[1 << 20];
	memset(big, 'v', sizeof(big));
	for (int i = 0; i < 96; i++) {
		char k[16];
		snprintf(k, sizeof(k), "big%d", i);
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(
		    cw_reg_put(t, k, strlen(k), big, sizeof(big) - 64), 0);
		assert_int_equal(cw_commit(t), 0);
	}
	cw_close(c);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	stop(f);
	lab_rmrf(tmp);
	free(tmp);
}

/* A client that sends reads of a 1 MB value and never reads a reply: the
 * server stops reading it once its replies queue up, and stays small.
 * Before: it grew by 2.3 GB in 8 s. */
static void
a_client_that_reads_no_replies_holds_a_bounded_amount(void **state)
{
	(void) state;
	char       *args[] = { NULL };
	struct fx  *f      = start_measured(args);
	static char big[1000000];
	memset(big, 'x', sizeof(big));
	cw_client *c;
	cw_txn    *t;
	assert_int_equal(cw_connect(&c, f->d.url), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_reg_put(t, "big", 3, big, sizeof(big)), 0);
	assert_int_equal(cw_commit(t), 0);
	long   before = lab_proc_kb(f->d.pid, "VmRSS");
	cw_op  rd     = { .op = CW_OP_REG_GET, .key = "big", .kl = 3 };
	cw_req h      = { .kind = CW_REQ_COMMIT };
	cw_buf b      = { 0 };
	assert_int_equal(cw_schema_req_encode(&h, NULL, 0, &rd, 1, &b), 0);
	int fd = lab_raw_connect("127.0.0.2", f->d.port);
	assert_true(fd >= 0);
	assert_int_equal(lab_sp_hello(fd), 0);
	/* 600 reads (600 MB of replies), or until the server stops taking
	 * them for a second */
	int    sent = 0;
	double idle = lab_now_s() + 1;
	while (sent < 600 && lab_now_s() < idle) {
		if (lab_send_frame(fd, (uint32_t) sent + 1, b.p, b.len,
		        MSG_DONTWAIT) > 0) {
			sent++;
			idle = lab_now_s() + 1;
		} else {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			poll(&p, 1, 50);
		}
	}
	lab_sleep_until(lab_now_s() + 0.5);
	long grown = lab_proc_kb(f->d.pid, "VmRSS") - before;
	fprintf(stderr, "  %d reads sent; the server grew by %ld kB\n", sent,
	    grown);
	assert_true(grown < 200 * 1024);
	/* another client is served meanwhile */
	int64_t v;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "n", 1, &v), 0);
	assert_int_equal(cw_commit(t), 0);
	cw_close(c);
	close(fd);
	cw_buf_fini(&b);
	stop(f);
}

/* Frames of 15 MiB that each connection sent once: their buffers go
 * back once they are read, not when the connection closes. Before: 50
 * such connections held 1 GB until they closed. */
static void
huge_frames_give_their_memory_back(void **state)
{
	(void) state;
	char      *args[] = { NULL };
	struct fx *f      = start_measured(args);
	long       before = lab_proc_kb(f->d.pid, "VmRSS");
	size_t     len    = 15u << 20;
	uint8_t   *junk   = malloc(len);
	int        fds[30];
	assert_non_null(junk);
	memset(junk, 0x5a, len); /* not a request: answered CW_EPROTO */
	for (int i = 0; i < 30; i++) {
		fds[i] = lab_raw_connect("127.0.0.2", f->d.port);
		assert_true(fds[i] >= 0);
		assert_int_equal(lab_sp_hello(fds[i]), 0);
		/* blocking: the whole frame goes */
		assert_true(lab_send_frame(fds[i], 1, junk, len, 0) > 0);
	}
	/* every one answered, the connections held open */
	for (int i = 0; i < 30; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };
		assert_int_equal(poll(&p, 1, 5000), 1);
	}
	lab_sleep_until(lab_now_s() + 0.5);
	long grown = lab_proc_kb(f->d.pid, "VmRSS") - before;
	fprintf(stderr,
	    "  30 frames of 15 MiB read; the server holds %ld kB "
	    "more\n",
	    grown);
	assert_true(grown < 100 * 1024);
	assert_int_equal(bump(f->d.url), 0);
	for (int i = 0; i < 30; i++)
		close(fds[i]);
	free(junk);
	stop(f);
}

/* Reads one reply frame from fd (at most 5 s) and returns its err (1 if
 * none came). */
static int
recv_reply(int fd)
{
	uint8_t *body;
	size_t   len;
	cw_rep   rep;
	int      err = 1;
	if (lab_recv_frame(fd, 5000, &body, &len) != 0)
		return 1;
	if (cw_schema_rep_decode(body, len, &rep) == 0) {
		err = rep.err;
		cw_schema_rep_fini(&rep);
	}
	free(body);
	return err;
}

/* A connection from src, past its SP header. */
static int
sp_connect(const char *src, int port)
{
	int fd = lab_sp_connect(src, port);
	assert_true(fd >= 0);
	return fd;
}

/* One address may open its share of the transaction table, not all of
 * it. Before: 4,100 begins re-sent every 0.5 s made every other client's
 * `cw get` fail for 20 s. */
static void
one_address_cannot_fill_the_transaction_table(void **state)
{
	(void) state;
	char      *args[] = { "--max-transactions", "64",
		     "--max-transactions-per-address", "16", NULL };
	struct fx *f      = start(args);
	cw_req     h      = { .kind = CW_REQ_BEGIN };
	cw_buf     b      = { 0 };
	assert_int_equal(cw_schema_req_encode(&h, NULL, 0, NULL, 0, &b), 0);
	int fd = sp_connect("127.0.0.2", f->d.port), ok = 0, refused = 0;
	for (int i = 0; i < 40; i++) {
		assert_true(
		    lab_send_frame(fd, (uint32_t) i + 1, b.p, b.len, 0) > 0);
		int err = recv_reply(fd);
		ok += err == 0;
		refused += err == CW_EUNAVAIL;
	}
	assert_int_equal(ok, 16);
	assert_int_equal(refused, 24);
	/* another address is served meanwhile */
	for (int i = 0; i < 5; i++)
		assert_int_equal(bump(f->d.url), 0);
	int lines = lab_count_lines(f->d.log, "the most from one address");
	assert_true(lines >= 1 && lines <= 3);
	close(fd);
	cw_buf_fini(&b);
	stop(f);
}

/* Begins whose session clock this DC can never reach are refused at
 * once, not after the session wait on a worker. Before: 1,024 of them
 * held every worker for its session wait. */
static void
unreachable_session_clocks_are_refused_at_once(void **state)
{
	(void) state;
	char      *args[] = { "--workers", "4", NULL };
	struct fx *f      = start(args);
	cw_vc      far;
	uint8_t    clk[16];
	cw_causal_vc_init(&far, 1);
	far.v[0] = 1u << 30; /* commits of this very DC it never made */
	cw_causal_vc_encode(&far, clk);
	cw_req h = { .kind = CW_REQ_BEGIN,
		.clock     = clk,
		.clocklen  = cw_causal_vc_size(&far) };
	cw_buf b = { 0 };
	assert_int_equal(cw_schema_req_encode(&h, NULL, 0, NULL, 0, &b), 0);
	int    fd = sp_connect("127.0.0.2", f->d.port), refused = 0;
	double t0 = lab_now_s();
	for (int i = 0; i < 64; i++) {
		assert_true(
		    lab_send_frame(fd, (uint32_t) i + 1, b.p, b.len, 0) > 0);
		refused += recv_reply(fd) == CW_EUNAVAIL;
	}
	double took = lab_now_s() - t0;
	fprintf(stderr, "  64 unreachable begins refused in %.3f s\n", took);
	assert_int_equal(refused, 64);
	/* at the session wait (1 s) on 4 workers, they took 16 s */
	assert_true(took < 3);
	close(fd);
	cw_buf_fini(&b);
	stop(f);
}

struct waiter {
	const char *url;
	int         rc;
};

static void *
wait_for_rights(void *arg)
{
	struct waiter *w = arg;
	cw_client     *c;
	cw_txn        *t;
	if ((w->rc = cw_connect(&c, w->url)) != 0)
		return NULL;
	cw_set_timeout(c, 15000); /* a worker, then 3 s of wait */
	if ((w->rc = cw_begin(c, &t)) == 0 &&
	    (w->rc = cw_bcounter_add_wait(t, "stock", 5, -1, 3000)) == 0)
		w->rc = cw_commit(t);
	cw_close(c);
	return NULL;
}

/* A status request does not queue behind client work: with every worker
 * waiting 3 s for rights no DC has, `cw status` answers at once. */
static void
status_answers_while_every_worker_waits(void **state)
{
	(void) state;
	char         *args[] = { "--workers", "8", NULL };
	struct fx    *f      = start(args);
	struct waiter w[12];
	pthread_t     th[12];
	for (int i = 0; i < 12; i++) {
		w[i] = (struct waiter) { .url = f->d.url };
		assert_int_equal(
		    pthread_create(&th[i], NULL, wait_for_rights, &w[i]), 0);
	}
	lab_sleep_until(lab_now_s() + 0.5);
	cw_client        *c;
	static cw_dc_info info;
	assert_int_equal(cw_connect(&c, f->d.url), 0);
	double t0 = lab_now_s();
	assert_int_equal(cw_dc_status(c, &info), 0);
	double took = lab_now_s() - t0;
	fprintf(stderr, "  status with every worker busy: %.3f s\n", took);
	assert_true(took < 1);
	cw_close(c);
	for (int i = 0; i < 12; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].rc, CW_ENORIGHTS);
	}
	stop(f);
}

/* Its files are the user's alone, and the directory remembers its
 * deployment: before, files were made 0644 in a 0755 directory, and a
 * directory opened under another --cluster. */
static void
the_data_directory_is_private_and_remembers_its_cluster(void **state)
{
	(void) state;
	char       *args[] = { "--cluster", "north", NULL };
	struct fx  *f      = start(args);
	struct stat st;
	char        path[400];
	assert_int_equal(bump(f->d.url), 0);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/CURRENT", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	if (geteuid() == 0)
		assert_int_equal(
		    lab_count_lines(f->d.log, "running as root"), 1);
	assert_int_equal(dc_stop(&f->d), 0);
	/* another cluster's name: refused, and said why */
	const char *bin = getenv("CAUSEWAYD");
	char        out[400], url[64];
	snprintf(out, sizeof(out), "%s/south.log", f->tmp);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", dc_free_port());
	char *argv[] = { (char *) (bin ? bin : "build/bin/causewayd"),
		"--data", f->dir, "--listen", url, "--cluster", "south",
		NULL };
	pid_t pid    = proc_spawn(argv, out);
	assert_true(pid > 0);
	assert_int_equal(proc_wait(pid, 20), 1);
	assert_int_equal(lab_count_lines(out, "another deployment"), 1);
	/* its own name still opens it */
	assert_int_equal(dc_restart(&f->d), 0);
	assert_int_equal(bump(f->d.url), 0);
	stop(f);
}

/* The number of descriptors pid has open. */
static int
open_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
	DIR *d = opendir(path);
	assert_non_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Commits 8 small values, takes f's causewayd's descriptors away (its
 * soft limit lowered to what it has open, with prlimit), then commits
 * 256 KiB values, with 4 MiB of memtables a flush every ~16, until the log
 * has `until` or 400 were tried. OUT: acked[i] for each commit "w<i>"
 * acknowledged. Returns how many were tried. */
static int
starve(struct fx *f, cw_client *c, const char *until, bool acked[400])
{
	static char big[256 << 10];
	cw_txn     *t;
	int         nacked = 0, failed = 0, i;
	memset(big, 'w', sizeof(big));
	for (i = 0; i < 8; i++) {
		char k[16];
		snprintf(k, sizeof(k), "w%d", i);
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(cw_reg_put(t, k, strlen(k), "before", 6), 0);
		assert_int_equal(cw_commit(t), 0);
		acked[i] = true;
		nacked++;
	}
	struct rlimit rl;
	assert_int_equal(prlimit(f->d.pid, RLIMIT_NOFILE, NULL, &rl), 0);
	struct rlimit low = { (rlim_t) open_fds(f->d.pid), rl.rlim_max };
	assert_int_equal(prlimit(f->d.pid, RLIMIT_NOFILE, &low, NULL), 0);
	for (; i < 400 && lab_count_lines(f->d.log, until) == 0; i++) {
		char k[16];
		snprintf(k, sizeof(k), "w%d", i);
		int rc = cw_begin(c, &t);
		if (rc == 0 &&
		    (rc = cw_reg_put(t, k, strlen(k), big, sizeof(big))) == 0)
			rc = cw_commit(t);
		else if (rc == 0)
			cw_abort(t);
		if (rc == 0) {
			acked[i] = true;
			nacked++;
		} else {
			failed++;
		}
	}
	printf("# %d commits acknowledged, %d failed, before \"%s\"\n", nacked,
	    failed, until);
	assert_int_equal(
	    lab_count_lines(f->d.log, "only reopening the database clears"),
	    1);
	return i;
}

/* A file RocksDB cannot create (the table file of a flush, or a new WAL):
 * its fatal background error, which DB::Resume cannot clear. Before:
 * every commit failed with CW_EIO until someone restarted the DC. Now the
 * DC restarts itself in place (same pid), recovers, and every commit it
 * acknowledged is there. */
static void
a_file_rocksdb_cannot_create_restarts_the_dc_in_place(void **state)
{
	(void) state;
	char      *args[] = { "--memtable-memory", "4", NULL };
	struct fx *f      = start(args);
	cw_client *c;
	cw_txn    *t;
	bool       acked[400] = { false };
	assert_int_equal(cw_connect(&c, f->d.url), 0);
	cw_set_timeout(c, 10000);
	int n = starve(f, c, "restarting to", acked);
	assert_int_equal(lab_count_lines(f->d.log, "restarting to"), 1);
	/* the same process, ready again within a few seconds */
	for (int w = 0; w < 200 && lab_count_lines(f->d.log, " ready: ") < 2;
	     w++)
		usleep(50000);
	assert_int_equal(lab_count_lines(f->d.log, " ready: "), 2);
	assert_int_equal(kill(f->d.pid, 0), 0);
	/* it writes again, and lost nothing it acknowledged */
	int rc = CW_EUNAVAIL;
	for (int w = 0; w < 50 && rc != 0; w++) {
		if ((rc = cw_begin(c, &t)) == 0 &&
		    (rc = cw_reg_put(t, "after", 5, "yes", 3)) == 0)
			rc = cw_commit(t);
		if (rc != 0)
			usleep(100000);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(cw_begin(c, &t), 0);
	for (int j = 0; j < n; j++) {
		char   k[16];
		void  *v  = NULL;
		size_t vl = 0;
		snprintf(k, sizeof(k), "w%d", j);
		assert_int_equal(cw_reg_get(t, k, strlen(k), &v, &vl), 0);
		if (acked[j])
			assert_int_equal(vl, j < 8 ? 6 : 256 << 10);
		free(v);
	}
	cw_abort(t);
	cw_close(c);
	stop(f);
}

/* The same with --on-fatal-storage-error exit: status 3, for a
 * supervisor, and the directory opens again with what was acknowledged. */
static void
under_a_supervisor_a_fatal_storage_error_exits_3(void **state)
{
	(void) state;
	char *args[] = { "--memtable-memory", "4", "--on-fatal-storage-error",
		"exit", NULL };
	struct fx *f = start(args);
	cw_client *c;
	bool       acked[400] = { false };
	assert_int_equal(cw_connect(&c, f->d.url), 0);
	cw_set_timeout(c, 2000);
	starve(f, c, "exit (status 3)", acked);
	cw_close(c);
	assert_int_equal(proc_wait(f->d.pid, 20), 3);
	f->d.pid = 0;
	assert_int_equal(lab_count_lines(f->d.log, "restarting to"), 0);
	assert_int_equal(dc_restart(&f->d), 0);
	assert_int_equal(bump(f->d.url), 0);
	stop(f);
}

int
main(void)
{
	cw_log_set_level(CW_LOG_ERROR);
	dc_watchdog(300);
	if (getenv("CW_TEST") != NULL) /* one case: CW_TEST=pattern */
		cmocka_set_test_filter(getenv("CW_TEST"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    idle_connections_are_closed_and_clients_get_in_again),
		cmocka_unit_test(one_address_cannot_take_every_connection),
		cmocka_unit_test(
		    a_connection_flood_leaves_descriptors_for_rocksdb),
		cmocka_unit_test(
		    a_client_that_reads_no_replies_holds_a_bounded_amount),
		cmocka_unit_test(huge_frames_give_their_memory_back),
		cmocka_unit_test(
		    the_data_directory_is_private_and_remembers_its_cluster),
		cmocka_unit_test(
		    one_address_cannot_fill_the_transaction_table),
		cmocka_unit_test(
		    unreachable_session_clocks_are_refused_at_once),
		cmocka_unit_test(status_answers_while_every_worker_waits),
		cmocka_unit_test(
		    a_file_rocksdb_cannot_create_restarts_the_dc_in_place),
		cmocka_unit_test(
		    under_a_supervisor_a_fatal_storage_error_exits_3),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
