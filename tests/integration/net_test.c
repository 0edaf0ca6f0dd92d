/*
 * net_test.c - a real causewayd, driven through the network SDK, the cw
 * command line and raw nng sockets: every call, SI between clients, many
 * threads, the idle timeout, kill -9 and restart, bad messages, and
 * requests resent after a broken connection.
 */
#include "../unit/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/sdk_cases.h"
#include "causeway.h"
#include "dcproc.h"
#include "schema.h"

typedef struct {
	char  *tmp;
	dcproc d;
	bool   tls;   /* sessions go to tls_url, verifying with ca */
	bool   users; /* and log in as admin (password "pw") */
	char   tls_url[64];
	char   ca[300];
	char   args[6][300];
	char  *argv[12];
} fx;

static int
start_with(void **state, char *const *extra)
{
	fx *f  = calloc(1, sizeof(*f));
	f->tmp = lab_tmpdir("cwtest");
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/dc0", f->tmp);
	*state = f;
	return dc_start(&f->d, dir, extra);
}

static int
setup(void **state)
{
	return start_with(state, NULL);
}

/* A server with a tls+tcp:// listener (and users if asked). */
static int
tls_server(void **state, bool users)
{
	fx  *f = calloc(1, sizeof(*f));
	char dir[300], certs[256];
	f->tmp   = lab_tmpdir("cwtest");
	f->tls   = true;
	f->users = users;
	*state   = f;
	snprintf(certs, sizeof(certs), "%s/certs", f->tmp);
	if (lab_certs(certs, 1, false, NULL) != 0)
		return -1;
	snprintf(f->tls_url, sizeof(f->tls_url), "tls+tcp://127.0.0.1:%d",
	    dc_free_port());
	snprintf(f->ca, sizeof(f->ca), "%s/ca.crt", certs);
	static const char *flag[] = { "--listen", "--tls-cert", "--tls-key",
		"--tls-ca", "--admin-password-file" };
	snprintf(f->args[0], 300, "%s", f->tls_url);
	snprintf(f->args[1], 300, "%s/dc-0.crt", certs);
	snprintf(f->args[2], 300, "%s/dc-0.key", certs);
	snprintf(f->args[3], 300, "%s", f->ca);
	snprintf(f->args[4], 300, "%s/admin.pw", f->tmp);
	if (users && lab_write_secret(f->args[4], "pw") != 0)
		return -1;
	int k = 0;
	for (int i = 0; i < (users ? 5 : 4); i++) {
		f->argv[k++] = (char *) flag[i];
		f->argv[k++] = f->args[i];
	}
	f->argv[k] = NULL;
	snprintf(dir, sizeof(dir), "%s/dc0", f->tmp);
	return dc_start(&f->d, dir, f->argv);
}

/* The same server, and the tests' sessions over TLS: causewayd also
 * listens on tls+tcp:// with a certificate of a fresh CA (the plain URL
 * stays, for dcproc's readiness check). */
static int
setup_tls(void **state)
{
	return tls_server(state, false);
}

/* The TLS server with users on: sessions log in as admin. */
static int
setup_users(void **state)
{
	return tls_server(state, true);
}

static int
setup_short_idle(void **state)
{
	static char *extra[] = { "--idle-timeout", "300", "--session-wait",
		"100", NULL };
	return start_with(state, extra);
}

static int
setup_few_tags(void **state)
{
	static char *extra[] = { "--tags-kept", "1024", NULL };
	return start_with(state, extra);
}

static int
setup_long_session_wait(void **state)
{
	static char *extra[] = { "--session-wait", "5000", NULL };
	return start_with(state, extra);
}

static int
teardown(void **state)
{
	fx *f   = *state;
	int bad = 0;
	/* a server that does not stop cleanly fails the test: under make
	 * asan, that is how a sanitizer's report inside causewayd shows */
	if (f->d.pid > 0 && (bad = dc_stop(&f->d)) != 0)
		fprintf(stderr, "causewayd exited with %d\n", bad);
	lab_rmrf(f->tmp);
	free(f->tmp);
	free(f);
	return bad ? -1 : 0;
}

static cw_client *
connect_to(fx *f)
{
	cw_client *c;
	if (f->tls) {
		cw_connect_options o = { .ca_file = f->ca,
			.user                     = f->users ? "admin" : NULL,
			.password                 = f->users ? "pw" : NULL };
		assert_int_equal(cw_connect_opts(&c, f->tls_url, &o), 0);
	} else {
		assert_int_equal(cw_connect(&c, f->d.url), 0);
	}
	return c;
}

/* The value of counter `key`, read through a new session. */
static int64_t
counter_of(fx *f, const char *key)
{
	cw_client *c = connect_to(f);
	cw_txn    *t;
	int64_t    x;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, key, strlen(key), &x), 0);
	cw_abort(t);
	cw_close(c);
	return x;
}

static void
every_call_works_over_the_network(void **state)
{
	fx        *f = *state;
	cw_client *c = connect_to(f);
	cw_txn    *t;
	cw_list   *l;
	void      *v;
	size_t     vl, n;
	int64_t    x;
	bool       in;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_reg_put(t, "patient:1", 9, "Ann", 3), 0);
	assert_int_equal(cw_counter_add(t, "visits", 6, 2), 0);
	assert_int_equal(cw_bcounter_add(t, "stock", 5, 10), 0);
	assert_int_equal(cw_set_add(t, "rx", 2, "p1", 2), 0);
	assert_int_equal(cw_set_add(t, "rx", 2, "p2", 2), 0);
	assert_int_equal(cw_map_put(t, "doc", 3, "name", "Bo", 2), 0);
	assert_int_equal(cw_map_put(t, "doc", 3, "tmp", "x", 1), 0);
	/* reads in the same transaction see the buffered writes */
	assert_int_equal(cw_reg_get(t, "patient:1", 9, &v, &vl), 0);
	assert_int_equal(vl, 3);
	assert_memory_equal(v, "Ann", 3);
	free(v);
	assert_int_equal(cw_set_remove(t, "rx", 2, "p1", 2), 0);
	assert_int_equal(cw_map_remove(t, "doc", 3, "tmp"), 0);
	assert_int_equal(cw_bcounter_add(t, "stock", 5, -3), 0);
	assert_int_equal(cw_commit(t), 0);

	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "visits", 6, &x), 0);
	assert_int_equal(x, 2);
	assert_int_equal(cw_bcounter_get(t, "stock", 5, &x), 0);
	assert_int_equal(x, 7);
	assert_int_equal(cw_bcounter_rights(t, "stock", 5, &x), 0);
	assert_int_equal(x, 7);
	assert_int_equal(cw_set_members(t, "rx", 2, &l), 0);
	assert_int_equal(cw_list_len(l), 1);
	assert_memory_equal(cw_list_at(l, 0, &n), "p2", 2);
	cw_list_free(l);
	assert_int_equal(cw_set_contains(t, "rx", 2, "p2", 2, &in), 0);
	assert_true(in);
	assert_int_equal(cw_set_contains(t, "rx", 2, "p1", 2, &in), 0);
	assert_false(in);
	assert_int_equal(cw_map_get(t, "doc", 3, "name", &v, &vl), 0);
	assert_memory_equal(v, "Bo", 2);
	free(v);
	assert_int_equal(cw_map_get(t, "doc", 3, "tmp", &v, &vl), 0);
	assert_null(v);
	assert_int_equal(cw_map_fields(t, "doc", 3, &l), 0);
	assert_int_equal(cw_list_len(l), 1);
	cw_list_free(l);
	assert_int_equal(cw_reg_get(t, "nobody", 6, &v, &vl), 0);
	assert_null(v);
	/* a wrong type is refused at the read that sends it */
	assert_int_equal(cw_counter_add(t, "patient:1", 9, 1), 0);
	assert_int_equal(cw_counter_get(t, "visits", 6, &x), CW_ETYPE);
	/* a key too long is refused at once */
	char big[CW_MAX_KEY + 1] = { 0 };
	assert_int_equal(cw_reg_put(t, big, sizeof(big), "v", 1), CW_ETOOBIG);
	assert_int_equal(cw_bcounter_add(t, "stock", 5, -100), 0);
	assert_int_equal(cw_commit(t), CW_ENORIGHTS);

	cw_dc_info info;
	assert_int_equal(cw_dc_status(c, &info), 0);
	assert_int_equal(info.dc, 0);
	assert_int_equal(info.ndc, 1);
	assert_int_equal(info.state[0], 1);
	/* the commit was acknowledged, so it is durable */
	assert_int_equal(info.durable[0], 1);
	cw_close(c);
}

static void
read_many_is_one_request(void **state)
{
	fx        *f = *state;
	cw_client *c = connect_to(f);
	cw_dc_info a, b;
	sdk_case_read_many(c);
	/* one begin-with-reads: a transaction of 20 reads is one request,
	 * its read-only commit another */
	cw_txn *t;
	cw_read r[20];
	for (int i = 0; i < 20; i++)
		r[i] = (cw_read) {
			.kind = CW_READ_COUNTER, .key = "rm:cnt", .kl = 6
		};
	assert_int_equal(cw_dc_status(c, &a), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_read_many(t, r, 20), 0);
	assert_int_equal(r[19].n, 7);
	cw_read_fini(r, 20);
	assert_int_equal(cw_commit(t), 0);
	assert_int_equal(cw_dc_status(c, &b), 0);
	/* the read and this status: the read-only commit rides on the
	 * status request */
	assert_int_equal(b.requests - a.requests, 2);
	/* and is released there: more read-only transactions than the
	 * server has slots (4096), well within the idle timeout */
	for (int i = 0; i < 5000; i++) {
		int64_t x;
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(cw_counter_get(t, "rm:cnt", 6, &x), 0);
		if (i % 2)
			assert_int_equal(cw_commit(t), 0);
		else
			cw_abort(t);
	}
	cw_close(c);
}

static void
write_error_at_commit_aborts_the_whole_transaction(void **state)
{
	fx        *f = *state;
	cw_client *c = connect_to(f);
	cw_txn    *t;
	int64_t    x;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_reg_put(t, "r", 1, "v", 1), 0);
	assert_int_equal(cw_commit(t), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_add(t, "c", 1, 5), 0);
	assert_int_equal(cw_counter_add(t, "r", 1, 1), 0); /* a register */
	assert_int_equal(cw_commit(t), CW_ETYPE);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "c", 1, &x), 0);
	assert_int_equal(x, 0); /* nothing of it applied */
	cw_abort(t);
	cw_close(c);
}

static void
two_clients_first_committer_wins(void **state)
{
	fx        *f = *state;
	cw_client *a = connect_to(f), *b = connect_to(f);
	cw_txn    *ta, *tb;
	void      *v;
	size_t     vl;
	assert_int_equal(cw_begin(a, &ta), 0);
	assert_int_equal(cw_begin(b, &tb), 0);
	/* both read first, so both snapshots predate either write */
	assert_int_equal(cw_reg_get(ta, "k", 1, &v, &vl), 0);
	assert_int_equal(cw_reg_get(tb, "k", 1, &v, &vl), 0);
	assert_int_equal(cw_reg_put(ta, "k", 1, "a", 1), 0);
	assert_int_equal(cw_reg_put(tb, "k", 1, "b", 1), 0);
	assert_int_equal(cw_commit(ta), 0);
	assert_int_equal(cw_commit(tb), CW_ECONFLICT);
	assert_int_equal(cw_begin(b, &tb), 0);
	assert_int_equal(cw_reg_get(tb, "k", 1, &v, &vl), 0);
	assert_memory_equal(v, "a", 1);
	free(v);
	cw_abort(tb);
	cw_close(a);
	cw_close(b);
}

struct adder {
	const char *url;
	cw_client  *c;
	int         n, fails;
};

static void *
adder(void *arg)
{
	struct adder *a = arg;
	for (int i = 0; i < a->n; i++) {
		cw_txn *t;
		int     rc = cw_begin(a->c, &t);
		if (rc == 0 && (rc = cw_counter_add(t, "hits", 4, 1)) == 0)
			rc = cw_commit(t);
		if (rc != 0)
			a->fails++;
	}
	return NULL;
}

static void
sixteen_threads_lose_no_update(void **state)
{
	fx          *f      = *state;
	cw_client   *shared = connect_to(f);
	struct adder a[16];
	pthread_t    th[16];
	for (int i = 0; i < 16; i++) {
		/* half share one client, half have their own */
		a[i] = (struct adder) { f->d.url, i % 2 ? shared : NULL, 1000,
			0 };
		if (a[i].c == NULL)
			a[i].c = connect_to(f);
		pthread_create(&th[i], NULL, adder, &a[i]);
	}
	int fails = 0;
	for (int i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		fails += a[i].fails;
		if (i % 2 == 0)
			cw_close(a[i].c);
	}
	assert_int_equal(fails, 0);
	cw_txn *t;
	int64_t x;
	assert_int_equal(cw_begin(shared, &t), 0);
	assert_int_equal(cw_counter_get(t, "hits", 4, &x), 0);
	assert_int_equal(x, 16000);
	cw_abort(t);
	cw_close(shared);
}

/* A session whose clock is ahead of the DC: its first read waits for the
 * DC to catch up (--session-wait), then gets CW_EUNAVAIL. */
struct waiter {
	const char *url;
	int         rc;
	uint64_t    done_ms;
};

static void *
wait_ahead(void *arg)
{
	struct waiter *w = arg;
	cw_client     *c;
	cw_txn        *t;
	w->rc = -100;
	if (cw_connect(&c, w->url) != 0)
		return NULL;
	cw_set_timeout(c, 15000); /* past the 5 s wait */
	/* a decrement that waits 5 s at the server for rights no DC has.
	 * (This waited for a session clock ahead of the DC's own commits
	 * before; such a clock is refused at once now, as no wait can
	 * reach it: hostile_test.) */
	if ((w->rc = cw_begin(c, &t)) == 0) {
		w->rc = cw_bcounter_add_wait(t, "none", 4, -1, 5000);
		if (w->rc == 0)
			w->rc = cw_commit(t);
		else
			cw_abort(t);
	}
	w->done_ms = cw_mono_ms();
	cw_close(c);
	return NULL;
}

static void
requests_that_wait_do_not_hold_up_others(void **state)
{
	/* More waiting sessions than nng has threads for callbacks: a
	 * server that waited on those threads would serve nobody else
	 * until the waits end. */
	enum { N = 24 };
	fx           *f = *state;
	struct waiter w[N];
	pthread_t     th[N];
	for (int i = 0; i < N; i++) {
		w[i] = (struct waiter) { .url = f->d.url };
		pthread_create(&th[i], NULL, wait_ahead, &w[i]);
	}
	usleep(300 * 1000); /* every waiter's read is at the server */
	cw_client *c = connect_to(f);
	for (int i = 0; i < 20; i++) {
		cw_txn *t;
		int64_t x;
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(cw_counter_add(t, "other", 5, 1), 0);
		assert_int_equal(cw_commit(t), 0);
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(cw_counter_get(t, "other", 5, &x), 0);
		assert_int_equal(x, i + 1);
		assert_int_equal(cw_commit(t), 0);
	}
	uint64_t mine = cw_mono_ms();
	cw_close(c);
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].rc, CW_ENORIGHTS);
		/* the others were served while every waiter still waited */
		assert_true(mine < w[i].done_ms);
	}
}

static void
idle_transaction_is_aborted_with_estate(void **state)
{
	fx        *f = *state;
	cw_client *c = connect_to(f);
	cw_txn    *t;
	int64_t    x;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_add(t, "c", 1, 1), 0);
	assert_int_equal(cw_counter_get(t, "c", 1, &x), 0); /* opens it */
	assert_int_equal(x, 1);
	usleep(900 * 1000); /* idle timeout 300 ms */
	assert_int_equal(cw_counter_get(t, "c", 1, &x), CW_ESTATE);
	assert_int_equal(cw_commit(t), CW_ESTATE);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "c", 1, &x), 0);
	assert_int_equal(x, 0); /* the aborted add never happened */
	cw_abort(t);
	/* a session clock the DC has not reached: bounded wait, then
	 * EUNAVAIL */
	uint8_t ahead[9] = { 1, 99, 0, 0, 0, 0, 0, 0, 0 };
	assert_int_equal(cw_clock_merge(c, ahead, sizeof(ahead)), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "c", 1, &x), CW_EUNAVAIL);
	cw_abort(t);
	cw_close(c);
}

static void
killed_server_keeps_commits_and_client_reconnects(void **state)
{
	fx        *f = *state;
	cw_client *c = connect_to(f);
	cw_txn    *t, *open;
	int64_t    x;
	for (int i = 0; i < 50; i++) {
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(cw_counter_add(t, "acked", 5, 1), 0);
		assert_int_equal(cw_commit(t), 0);
	}
	assert_int_equal(cw_begin(c, &open), 0);
	assert_int_equal(cw_counter_get(open, "acked", 5, &x), 0);
	dc_kill9(&f->d);
	assert_int_equal(dc_restart(&f->d), 0);
	/* the open transaction died with the server: never a success */
	assert_int_equal(cw_counter_add(open, "acked", 5, 1), 0);
	assert_int_equal(cw_commit(open), CW_EUNAVAIL);
	/* the next transaction goes to the new server */
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "acked", 5, &x), 0);
	assert_int_equal(x, 50);
	cw_abort(t);
	cw_close(c);
}

/* kill -9 while 16 sessions commit, each to a counter of its own, then a
 * restart: a commit in flight at the kill may have reached the log, and
 * the SDK sends it again once the server is back, which answers it from
 * the commit tags. Each counter must hold every acknowledged commit, no
 * commit twice, and none whose failure was definite. */
/* A session committing counter adds in a loop until *stop: to a counter
 * of its own, or (read_first) to a shared one after reading a register,
 * so that the commit names an open transaction. */
struct loader {
	cw_client  *c;
	char        key[8];
	bool        read_first;
	atomic_int *stop;
	long        acked, tried;
	long        unknown; /* commits whose outcome the SDK could not
	                      * learn: CW_ETIMEDOUT or CW_EUNAVAIL */
};

static void *
load(void *arg)
{
	struct loader *l = arg;
	while (!atomic_load(l->stop)) {
		cw_txn *t;
		void   *v;
		size_t  vl;
		int     rc = 0;
		if (cw_begin(l->c, &t) != 0)
			continue;
		if (l->read_first &&
		    (rc = cw_reg_get(t, "r", 1, &v, &vl)) == 0)
			free(v);
		if (rc == 0 &&
		    (rc = cw_counter_add(t, l->key, strlen(l->key), 1)) == 0) {
			l->tried++;
			rc = cw_commit(t);
			l->acked += rc == 0;
			l->unknown += rc == CW_ETIMEDOUT || rc == CW_EUNAVAIL;
		} else {
			cw_abort(t);
		}
	}
	return NULL;
}

/* Starts n loaders on their own clients, on key "acked" or "k<i>". */
static void
loaders_start(fx *f, struct loader *l, pthread_t *th, int n, bool shared,
    atomic_int *stop)
{
	for (int i = 0; i < n; i++) {
		l[i] = (struct loader) {
			.c = connect_to(f), .read_first = shared, .stop = stop
		};
		snprintf(
		    l[i].key, sizeof(l[i].key), shared ? "acked" : "k%d", i);
		pthread_create(&th[i], NULL, load, &l[i]);
	}
}

static void
a_restart_under_load_applies_no_commit_twice(void **state)
{
	fx           *f    = *state;
	atomic_int    stop = 0;
	struct loader o[16];
	pthread_t     th[16];
	loaders_start(f, o, th, 16, false, &stop);
	usleep(400 * 1000);
	uint64_t t0 = cw_mono_ms();
	dc_kill9(&f->d);
	assert_int_equal(dc_restart(&f->d), 0);
	/* back well within the SDK's 5-s call timeout: every commit in
	 * flight at the kill is resent in time and learns its outcome */
	uint64_t restart_ms = cw_mono_ms() - t0;
	bool     quick      = restart_ms < 3000;
	usleep(400 * 1000);
	atomic_store(&stop, 1);
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	cw_client *c = connect_to(f);
	for (int i = 0; i < 16; i++) {
		cw_txn *t;
		int64_t x;
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(
		    cw_counter_get(t, o[i].key, strlen(o[i].key), &x), 0);
		cw_abort(t);
		if (x < o[i].acked || x > o[i].acked + o[i].unknown)
			fail_msg("%s: %lld, with %ld acknowledged and %ld "
			         "unknown of %ld tried",
			    o[i].key, (long long) x, o[i].acked, o[i].unknown,
			    o[i].tried);
		if (quick && o[i].unknown != 0)
			fail_msg("%s: %ld commits of unknown outcome after a "
			         "restart of %llu ms",
			    o[i].key, o[i].unknown,
			    (unsigned long long) restart_ms);
		cw_close(o[i].c);
	}
	cw_close(c);
}

/* A session idle while its server restarts: its pooled connection is
 * dead, and its next request must not go into it and come back "resent
 * from before the restart" (refused): it is served, once. */
static int
add_one(cw_client *c)
{
	cw_txn *t;
	int     rc = cw_begin(c, &t);
	if (rc == 0 && (rc = cw_counter_add(t, "idle", 4, 1)) == 0)
		rc = cw_commit(t);
	return rc;
}

static void
an_idle_session_is_served_by_its_restarted_server(void **state)
{
	fx        *f = *state;
	cw_client *c = connect_to(f);
	cw_txn    *t;
	int64_t    x;
	assert_int_equal(add_one(c), 0);
	assert_int_equal(dc_stop(&f->d), 0); /* SIGTERM */
	assert_int_equal(dc_restart(&f->d), 0);
	assert_int_equal(add_one(c), 0);
	dc_kill9(&f->d);
	assert_int_equal(dc_restart(&f->d), 0);
	assert_int_equal(add_one(c), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "idle", 4, &x), 0);
	assert_int_equal(x, 3);
	cw_abort(t);
	cw_close(c);
}

/* ---- raw messages ---- */

static int
raw_call(fx *f, const void *req, size_t len, cw_rep *rep, nng_msg **keep)
{
	nng_socket s;
	nng_msg   *m;
	int        rv;
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 2000);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	assert_int_equal(nng_dial(s, f->d.url, NULL, 0), 0);
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, req, len), 0);
	assert_int_equal(nng_sendmsg(s, m, 0), 0);
	if ((rv = nng_recvmsg(s, &m, 0)) != 0) {
		nng_close(s);
		return rv;
	}
	nng_close(s);
	assert_int_equal(
	    cw_schema_rep_decode(nng_msg_body(m), nng_msg_len(m), rep), 0);
	*keep = m;
	return 0;
}

static int
raw_err(fx *f, const void *req, size_t len)
{
	cw_rep   rep;
	nng_msg *m;
	int      rv = raw_call(f, req, len, &rep, &m);
	if (rv != 0)
		return 1000 + rv; /* no reply at all */
	int err = rep.err;
	cw_schema_rep_fini(&rep);
	nng_msg_free(m);
	return err;
}

/* Sends one SP/TCP frame of `len` bytes (a REQ peer's handshake first)
 * over a plain socket, without nng on this side, and returns true if the
 * server closes the connection without answering: what it must do with a
 * message over its limit. Every call is bounded by socket timeouts. */
static bool
oversized_frame_is_dropped(fx *f, uint64_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port                     = htons((uint16_t) f->d.port) };
	struct timeval     tv = { 2, 0 };
	uint8_t hs[8] = { 0, 'S', 'P', 0, 0, 48, 0, 0 }; /* req0 is 48 */
	uint8_t peer[8], hdr[8], buf[65536] = { 0 };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd             = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, hs, sizeof(hs)), (ssize_t) sizeof(hs));
	assert_int_equal(read(fd, peer, sizeof(peer)), (ssize_t) sizeof(peer));
	for (int i = 0; i < 8; i++)
		hdr[i] = (uint8_t) (len >> (56 - 8 * i));
	bool dropped =
	    send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) != (ssize_t) sizeof(hdr);
	/* the body: the server may close before it is all written */
	for (uint64_t sent = 0; !dropped && sent < len;) {
		ssize_t w = write(fd, buf,
		    len - sent < sizeof(buf) ? (size_t) (len - sent)
		                             : sizeof(buf));
		if (w <= 0)
			dropped = true;
		else
			sent += (uint64_t) w;
	}
	if (!dropped) /* all written: the close shows as end of stream */
		dropped = read(fd, buf, sizeof(buf)) <= 0;
	close(fd);
	return dropped;
}

static void
encode(cw_req *h, const cw_op *w, size_t nw, const cw_op *r, size_t nr,
    cw_buf *out)
{
	out->len = 0;
	assert_int_equal(cw_schema_req_encode(h, w, nw, r, nr, out), 0);
}

static void
bad_messages_get_error_replies_and_the_server_goes_on(void **state)
{
	fx     *f = *state;
	cw_buf  b = { 0 };
	uint8_t junk[200];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t) (i * 37);
	assert_int_equal(raw_err(f, junk, sizeof(junk)), CW_EPROTO);
	assert_int_equal(raw_err(f, "", 0), CW_EPROTO);
	cw_req h = { .kind = 99 };
	encode(&h, NULL, 0, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), CW_EPROTO);
	h = (cw_req) { .kind = CW_REQ_READ, .txid = 12345 };
	encode(&h, NULL, 0, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), CW_ESTATE); /* unknown txid */
	h = (cw_req) { .kind = CW_REQ_ABORT, .txid = 777 };
	encode(&h, NULL, 0, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), CW_ESTATE);
	cw_op bad = { .op = 200, .key = "k", .kl = 1 };
	h         = (cw_req) { .kind = CW_REQ_COMMIT };
	encode(&h, &bad, 1, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), CW_EINVAL); /* unknown op */
	cw_op nokey = { .op = CW_OP_REG_PUT };
	encode(&h, &nokey, 1, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), CW_EINVAL);
	cw_op badclock = { .op = CW_OP_COUNTER_ADD, .key = "k", .kl = 1 };
	h = (cw_req) { .kind = CW_REQ_COMMIT, .clock = "xyz", .clocklen = 3 };
	encode(&h, &badclock, 1, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), CW_EPROTO);
	/* too many operations in one request */
	cw_op *many = calloc(100001, sizeof(*many));
	for (int i = 0; i < 100001; i++)
		many[i] = (cw_op) {
			.op = CW_OP_COUNTER_ADD, .key = "k", .kl = 1, .n = 1
		};
	h = (cw_req) { .kind = CW_REQ_COMMIT };
	encode(&h, many, 100001, NULL, 0, &b);
	free(many);
	assert_int_equal(raw_err(f, b.p, b.len), CW_ETOOBIG);
	/* over the message limit: the server drops it unread, no reply */
	assert_true(oversized_frame_is_dropped(f, 17u << 20));
	/* every field truncated: an error reply each time, never a crash */
	cw_op ok = { .op = CW_OP_COUNTER_ADD, .key = "k", .kl = 1, .n = 1 };
	h        = (cw_req) { .kind = CW_REQ_COMMIT };
	encode(&h, &ok, 1, NULL, 0, &b);
	for (size_t n = 0; n < b.len; n += 7) {
		int err = raw_err(f, b.p, n);
		assert_true(err == CW_EPROTO || err == 0);
	}
	/* and the server still answers correctly */
	cw_client *c = connect_to(f);
	cw_txn    *t;
	int64_t    x;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_add(t, "after", 5, 1), 0);
	assert_int_equal(cw_commit(t), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "after", 5, &x), 0);
	assert_int_equal(x, 1);
	cw_abort(t);
	cw_close(c);
	cw_buf_fini(&b);
}

static void
a_resent_commit_is_applied_once(void **state)
{
	fx    *f   = *state;
	cw_buf b   = { 0 };
	cw_op  add = {
		 .op = CW_OP_COUNTER_ADD, .key = "once", .kl = 4, .n = 1
	};
	/* the same (session, request) twice, as nng resends it after a
	 * broken connection */
	cw_req h = { .kind = CW_REQ_COMMIT, .sid = 0xabc1, .rid = 7 };
	encode(&h, &add, 1, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), 0);
	assert_int_equal(raw_err(f, b.p, b.len), 0);
	h.rid = 8; /* a new request */
	encode(&h, &add, 1, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), 0);
	assert_int_equal(counter_of(f, "once"), 2);
	cw_buf_fini(&b);
}

/* A copy resent after a broken connection that the reply cache does not
 * know, first sent to another incarnation of the server, may have run
 * there: it is refused, never run again. */
static void
a_copy_resent_from_before_a_restart_is_refused_not_run(void **state)
{
	fx      *f = *state;
	cw_buf   b = { 0 };
	cw_rep   rep;
	nng_msg *m;
	cw_op    add = {
		   .op = CW_OP_COUNTER_ADD, .key = "twice", .kl = 5, .n = 1
	};
	/* this incarnation's epoch, as every reply carries it */
	cw_req h = { .kind = CW_REQ_STATUS };
	encode(&h, NULL, 0, NULL, 0, &b);
	assert_int_equal(raw_call(f, b.p, b.len, &rep, &m), 0);
	uint64_t epoch = rep.epoch;
	cw_schema_rep_fini(&rep);
	nng_msg_free(m);
	assert_true(epoch != 0);
	/* resent, first sent to another incarnation (or to none known) */
	h = (cw_req) { .kind = CW_REQ_COMMIT,
		.sid         = 0xe1,
		.rid         = 1,
		.epoch       = epoch ^ 2,
		.resent      = true };
	encode(&h, &add, 1, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), CW_EUNAVAIL);
	assert_int_equal(raw_err(f, b.p, b.len), CW_EUNAVAIL); /* cached */
	h.rid   = 2;
	h.epoch = 0;
	encode(&h, &add, 1, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), CW_EUNAVAIL);
	/* resent to the incarnation it was first sent to: it runs (its
	 * first copy never arrived, or the cache would know it) */
	h.rid   = 3;
	h.epoch = epoch;
	encode(&h, &add, 1, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), 0);
	/* a first copy runs whatever epoch it names */
	h = (cw_req) { .kind = CW_REQ_COMMIT,
		.sid         = 0xe1,
		.rid         = 4,
		.epoch       = epoch ^ 2 };
	encode(&h, &add, 1, NULL, 0, &b);
	assert_int_equal(raw_err(f, b.p, b.len), 0);
	assert_int_equal(counter_of(f, "twice"), 2);
	cw_buf_fini(&b);
}

/* Sends h (one counter add of key k) and checks its reply. OUT: the
 * reply's epoch, and its clock in clk[0..*cl). Returns the reply's err. */
static int
raw_commit(
    fx *f, cw_req *h, const char *k, uint64_t *epoch, uint8_t *clk, size_t *cl)
{
	cw_buf   b = { 0 };
	cw_rep   rep;
	nng_msg *m;
	cw_op    add = {
		   .op = CW_OP_COUNTER_ADD, .key = k, .kl = strlen(k), .n = 1
	};
	encode(h, &add, 1, NULL, 0, &b);
	assert_int_equal(raw_call(f, b.p, b.len, &rep, &m), 0);
	int err = rep.err;
	*epoch  = rep.epoch;
	*cl     = rep.clocklen;
	assert_true(rep.clocklen <= 64);
	if (rep.clocklen > 0) /* an error reply has none */
		memcpy(clk, rep.clock, rep.clocklen);
	cw_schema_rep_fini(&rep);
	nng_msg_free(m);
	cw_buf_fini(&b);
	return err;
}

/* A copy resent after the server was killed and restarted is judged by
 * the commit tags the first incarnation left: a commit they show gets its
 * first reply, never a second run; one they do not show did not commit. */
static void
a_commit_resent_after_a_kill_gets_its_outcome(void **state)
{
	fx      *f = *state;
	uint8_t  clk[64], clk2[64];
	size_t   cl, cl2;
	uint64_t e0, e1;
	cw_req   h = { .kind = CW_REQ_COMMIT, .sid = 0xf1, .rid = 1 };
	assert_int_equal(raw_commit(f, &h, "k9", &e0, clk, &cl), 0);
	assert_true(cl > 0);
	dc_kill9(&f->d);
	assert_int_equal(dc_restart(&f->d), 0);
	/* the same commit, resent: its first reply */
	h = (cw_req) { .kind = CW_REQ_COMMIT,
		.sid         = 0xf1,
		.rid         = 1,
		.epoch       = e0,
		.resent      = true,
		.age_ms      = 50 };
	assert_int_equal(raw_commit(f, &h, "k9", &e1, clk2, &cl2), 0);
	assert_true(e1 != e0);
	assert_int_equal(cl2, cl);
	assert_memory_equal(clk2, clk, cl);
	assert_int_equal(counter_of(f, "k9"), 1);
	/* one whose first copy never reached the old server: it runs, once */
	h.rid = 2;
	assert_int_equal(raw_commit(f, &h, "k9", &e1, clk2, &cl2), 0);
	assert_int_equal(raw_commit(f, &h, "k9", &e1, clk2, &cl2), 0);
	assert_int_equal(counter_of(f, "k9"), 2);
	/* the commit of a transaction that died with the old server: it did
	 * not commit */
	h.rid  = 3;
	h.txid = 77;
	assert_int_equal(raw_commit(f, &h, "k9", &e1, clk2, &cl2), CW_ESTATE);
	/* no age (an older client), or one older than any tag: unknown */
	h.rid    = 4;
	h.txid   = 0;
	h.age_ms = 0;
	assert_int_equal(
	    raw_commit(f, &h, "k9", &e1, clk2, &cl2), CW_EUNAVAIL);
	h.rid    = 5;
	h.age_ms = cw_now_ms();
	assert_int_equal(
	    raw_commit(f, &h, "k9", &e1, clk2, &cl2), CW_EUNAVAIL);
	assert_int_equal(counter_of(f, "k9"), 2);
}

/* With --tags-kept 1024, tags are pruned: a copy first sent before the
 * newest pruned tag is unknown; one sent after it is judged. */
static void
a_copy_older_than_the_tags_kept_is_unknown(void **state)
{
	fx        *f = *state;
	uint8_t    clk[64];
	size_t     cl;
	uint64_t   e0, e1;
	cw_req     h  = { .kind = CW_REQ_COMMIT, .sid = 0xf2 };
	cw_client *c  = connect_to(f);
	uint64_t   t0 = cw_now_ms();
	/* 2,100 commits: the tags of the first ones are pruned */
	for (int i = 0; i < 2100; i++) {
		cw_txn *t;
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(cw_counter_add(t, "many", 4, 1), 0);
		assert_int_equal(cw_commit(t), 0);
	}
	cw_close(c);
	/* the newest pruned tag is older than the loop's end, so a copy
	 * sent PRIOR_MARGIN_MS (2 s) after it is judged */
	usleep(2500 * 1000);
	h.rid           = 1;
	uint64_t t_send = cw_now_ms();
	assert_int_equal(raw_commit(f, &h, "k8", &e0, clk, &cl), 0);
	dc_kill9(&f->d);
	assert_int_equal(dc_restart(&f->d), 0);
	h = (cw_req) { .kind = CW_REQ_COMMIT,
		.sid         = 0xf2,
		.rid         = 1,
		.epoch       = e0,
		.resent      = true,
		.age_ms      = cw_now_ms() - t_send + 10 };
	assert_int_equal(raw_commit(f, &h, "k8", &e1, clk, &cl), 0);
	/* first sent before the whole loop: its tag may be pruned */
	h.rid    = 2;
	h.age_ms = cw_now_ms() - t0 + 1000;
	assert_int_equal(raw_commit(f, &h, "k8", &e1, clk, &cl), CW_EUNAVAIL);
	assert_int_equal(counter_of(f, "k8"), 1);
}

/* ---- the cw command line ---- */

static int
cw_run(fx *f, const char *args, char *out, size_t cap)
{
	const char *bin = getenv("CW_CLI");
	char        cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s --url %s %s 2>&1",
	    bin ? bin : "build/bin/cw", f->d.url, args);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n]   = '\0';
	int st   = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
command_line_reads_writes_and_reports_errors(void **state)
{
	fx  *f = *state;
	char out[4096];
	assert_int_equal(cw_run(f, "put name Ann", out, sizeof(out)), 0);
	assert_int_equal(cw_run(f, "get name", out, sizeof(out)), 0);
	assert_string_equal(out, "Ann\n");
	assert_int_equal(cw_run(f,
	                     "txn add c 2 , sadd s b , sadd s a , map-put m f "
	                     "v , counter c , members s , fields m",
	                     out, sizeof(out)),
	    0);
	assert_string_equal(out, "2\na\nb\nf\n");
	assert_int_equal(
	    cw_run(f, "--json txn get name , get none , counter c", out,
	        sizeof(out)),
	    0);
	assert_string_equal(out,
	    "[{\"key\":\"name\",\"value\":\"Ann\"},{\"key\":\"none\","
	    "\"value\":null},{\"key\":\"c\",\"value\":2}]\n");
	assert_int_equal(cw_run(f, "add name 1", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "ETYPE"));
	assert_int_equal(cw_run(f, "get", out, sizeof(out)), 2);
	assert_int_equal(cw_run(f, "frobnicate x", out, sizeof(out)), 2);
	assert_int_equal(cw_run(f, "--json status", out, sizeof(out)), 0);
	assert_int_equal(
	    strncmp(out,
	        "{\"dc\":0,\"ndc\":1,\"state\":[2],\"durable\":[2],"
	        "\"digest\":\"",
	        52),
	    0);
	assert_non_null(strstr(out,
	    ",\"escrow\":{\"requests\":0,\"grants\":0,\"moved\":0,"
	    "\"refused\":0},\"requests\":"));
	/* requests served: at least the cw calls above and this status */
	const char *rq = strstr(out, "},\"requests\":");
	assert_non_null(rq);
	assert_true(atoi(rq + 13) >= 8);
	assert_non_null(strstr(rq, ",\"peers\":[]}\n"));
	assert_int_equal(cw_run(f, "--help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: cw"));
}

static void
sigterm_stops_cleanly_and_aborts_open_transactions(void **state)
{
	fx        *f = *state;
	cw_client *c = connect_to(f);
	cw_txn    *t;
	int64_t    x;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_add(t, "c", 1, 1), 0);
	assert_int_equal(cw_counter_get(t, "c", 1, &x), 0); /* open */
	assert_int_equal(dc_stop(&f->d), 0);                /* exit 0 */
	FILE  *log = fopen(f->d.log, "r");
	char   buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, log);
	buf[n]   = '\0';
	fclose(log);
	assert_non_null(strstr(buf, "aborted 1 open transactions"));
	assert_non_null(strstr(buf, "stopped"));
	cw_abort(t);
	cw_close(c);
}

/* SIGTERM while 16 sessions commit: commits in flight wait for their sync
 * in the server's syncer, or inline once it has stopped; the server exits
 * 0, and every commit acknowledged before it stopped is there after a
 * restart (and none that was never tried). */
static void
sigterm_under_commit_load_keeps_every_acknowledged_commit(void **state)
{
	fx           *f    = *state;
	atomic_int    stop = 0;
	struct loader l[16];
	pthread_t     th[16];
	loaders_start(f, l, th, 16, true, &stop);
	usleep(500 * 1000);
	assert_int_equal(dc_stop(&f->d), 0); /* exit 0: a clean stop */
	atomic_store(&stop, 1);
	long acked = 0, unknown = 0;
	for (int i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		acked += l[i].acked;
		unknown += l[i].unknown;
		cw_close(l[i].c);
	}
	assert_true(acked > 0);
	assert_int_equal(dc_restart(&f->d), 0);
	int64_t x = counter_of(f, "acked");
	assert_true(x >= acked && x <= acked + unknown);
}

/* Over TLS: values of many records each way, and a reply that leaves
 * part of a record in mbedTLS when the socket shows nothing more. */
static void
large_values_cross_tls_whole(void **state)
{
	fx        *f  = *state;
	cw_client *c  = connect_to(f);
	size_t     n  = 1u << 20;
	char      *v  = malloc(n), *got;
	size_t     gl = 0;
	cw_txn    *t;
	for (size_t i = 0; i < n; i++)
		v[i] = (char) (i * 7 + i / 4096);
	for (int round = 0; round < 3; round++) {
		v[round] ^= 1;
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(cw_reg_put(t, "big", 3, v, n), 0);
		assert_int_equal(cw_commit(t), 0);
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(
		    cw_reg_get(t, "big", 3, (void **) &got, &gl), 0);
		cw_abort(t);
		assert_int_equal(gl, n);
		assert_memory_equal(got, v, n);
		free(got);
	}
	free(v);
	cw_close(c);
}

/* What a client gets from a TLS port when it is wrong: no CA, another CA,
 * another name, plain TCP; and a TLS client at the plain port. */
static void
tls_clients_that_do_not_fit_are_refused(void **state)
{
	fx                *f     = *state;
	cw_client         *c     = NULL;
	char              *other = lab_tmpdir("cwother"), oca[300];
	cw_connect_options o     = { .ca_file = f->ca };
	assert_int_equal(lab_certs(other, 1, false, NULL), 0);
	snprintf(oca, sizeof(oca), "%s/ca.crt", other);
	assert_int_equal(cw_connect(&c, f->tls_url), CW_EINVAL);
	cw_connect_options wrong = { .ca_file = oca };
	assert_int_equal(cw_connect_opts(&c, f->tls_url, &wrong), CW_EAUTH);
	cw_connect_options name = { .ca_file = f->ca, .server_name = "dc-7" };
	assert_int_equal(cw_connect_opts(&c, f->tls_url, &name), CW_EAUTH);
	cw_connect_options nofile = { .ca_file = "/nonexistent/ca.crt" };
	assert_int_equal(cw_connect_opts(&c, f->tls_url, &nofile), CW_EINVAL);
	char plain[64];
	snprintf(plain, sizeof(plain), "tcp://%s", f->tls_url + 10);
	assert_int_not_equal(cw_connect(&c, plain), 0);
	char at_plain[64];
	snprintf(at_plain, sizeof(at_plain), "tls+tcp://%s", f->d.url + 6);
	assert_int_equal(cw_connect_opts(&c, at_plain, &o), CW_EPROTO);
	assert_null(c);
	/* and the right one works, by address and by name */
	assert_int_equal(cw_connect_opts(&c, f->tls_url, &o), 0);
	cw_close(c);
	cw_connect_options byname = { .ca_file = f->ca,
		.server_name                   = "localhost" };
	assert_int_equal(cw_connect_opts(&c, f->tls_url, &byname), 0);
	cw_close(c);
	lab_rmrf(other);
	free(other);
}

int
main(void)
{
	dc_watchdog(300);         /* the whole file takes about 10 s */
	signal(SIGPIPE, SIG_IGN); /* a peer closing is an error, not a kill */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    every_call_works_over_the_network, setup, teardown),
		/* the SDK's cases again, over TLS */
		{ "tls: every_call_works_over_the_network",
		    every_call_works_over_the_network, setup_tls, teardown,
		    NULL },
		{ "tls: read_many_is_one_request", read_many_is_one_request,
		    setup_tls, teardown, NULL },
		{ "tls: two_clients_first_committer_wins",
		    two_clients_first_committer_wins, setup_tls, teardown,
		    NULL },
		{ "tls: sixteen_threads_lose_no_update",
		    sixteen_threads_lose_no_update, setup_tls, teardown,
		    NULL },
		{ "tls: killed_server_keeps_commits_and_client_reconnects",
		    killed_server_keeps_commits_and_client_reconnects,
		    setup_tls, teardown, NULL },
		{ "tls: a_restart_under_load_applies_no_commit_twice",
		    a_restart_under_load_applies_no_commit_twice, setup_tls,
		    teardown, NULL },
		/* with users, a copy resent to the restarted server is
		 * refused for its token (CW_EAUTH); the SDK logs in again and
		 * sent it anew, as a new request, so a commit that had
		 * committed before the kill ran twice (cw-verify --tls found
		 * it: a counter 5 above every add issued) */
		{ "users: a_restart_under_load_applies_no_commit_twice",
		    a_restart_under_load_applies_no_commit_twice, setup_users,
		    teardown, NULL },
		{ "tls: an_idle_session_is_served_by_its_restarted_server",
		    an_idle_session_is_served_by_its_restarted_server,
		    setup_tls, teardown, NULL },
		cmocka_unit_test_setup_teardown(
		    large_values_cross_tls_whole, setup_tls, teardown),
		cmocka_unit_test_setup_teardown(
		    tls_clients_that_do_not_fit_are_refused, setup_tls,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    read_many_is_one_request, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    write_error_at_commit_aborts_the_whole_transaction, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    two_clients_first_committer_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    sixteen_threads_lose_no_update, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    requests_that_wait_do_not_hold_up_others,
		    setup_long_session_wait, teardown),
		cmocka_unit_test_setup_teardown(
		    idle_transaction_is_aborted_with_estate, setup_short_idle,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    killed_server_keeps_commits_and_client_reconnects, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_restart_under_load_applies_no_commit_twice, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    an_idle_session_is_served_by_its_restarted_server, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    bad_messages_get_error_replies_and_the_server_goes_on,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_resent_commit_is_applied_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_copy_resent_from_before_a_restart_is_refused_not_run,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_commit_resent_after_a_kill_gets_its_outcome, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_copy_older_than_the_tags_kept_is_unknown, setup_few_tags,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    command_line_reads_writes_and_reports_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    sigterm_stops_cleanly_and_aborts_open_transactions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    sigterm_under_commit_load_keeps_every_acknowledged_commit,
		    setup, teardown),
	};
	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
