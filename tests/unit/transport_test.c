/*
 * transport_test.c - the SDK's transport (client/net.h) against real
 * peers: nng's own rep socket over tcp:// and ipc://, causewayd's
 * (server/wire.h) with replies late from many threads, and scripted peers
 * on loopback sockets that misbehave one way each (close mid-call, never
 * answer, answer another request, claim a huge reply, speak no SP).
 * Every peer runs in this process on 127.0.0.1 or in a temporary
 * directory, and every wait is bounded.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "causeway.h"
#include "net.h"
#include "util.h"
#include "wire.h"

/* ---- nng's rep socket, echoing every request ---- */

typedef struct {
	nng_socket  s;
	char        url[256];
	pthread_t   th[24];
	int         nth;
	_Atomic int served;
} rep_peer;

static void *
rep_work(void *arg)
{
	rep_peer *p = arg;
	nng_ctx   ctx;
	nng_aio  *aio;
	if (nng_ctx_open(&ctx, p->s) != 0 ||
	    nng_aio_alloc(&aio, NULL, NULL) != 0)
		return NULL;
	for (;;) {
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			break;
		atomic_fetch_add(&p->served, 1);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			nng_msg_free(nng_aio_get_msg(aio));
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return NULL;
}

/* Listens on url ("tcp://127.0.0.1:0" picks a free port; p->url then
 * names it) with nth workers. */
static void
rep_start(rep_peer *p, const char *url, int nth)
{
	nng_listener l;
	nng_sockaddr sa;
	memset(p, 0, sizeof(*p));
	p->nth = nth;
	assert_int_equal(nng_rep0_open(&p->s), 0);
	assert_int_equal(nng_listen(p->s, url, &l, 0), 0);
	if (strncmp(url, "tcp", 3) == 0) {
		assert_int_equal(
		    nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa), 0);
		snprintf(p->url, sizeof(p->url), "tcp://127.0.0.1:%u",
		    ntohs(sa.s_in.sa_port));
	} else {
		snprintf(p->url, sizeof(p->url), "%s", url);
	}
	for (int i = 0; i < nth; i++)
		pthread_create(&p->th[i], NULL, rep_work, p);
}

static void
rep_stop(rep_peer *p)
{
	nng_close(p->s); /* every worker's receive fails: they end */
	for (int i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
}

/* ---- scripted peers on a plain socket ---- */

typedef struct script script;
/* Serves connection number idx on fd (closed by the caller after). */
typedef void (*on_conn_fn)(script *s, int fd, int idx);

struct script {
	int         lfd, port;
	on_conn_fn  on_conn;
	pthread_t   th;
	atomic_bool stop;
	_Atomic int conns, requests;
	uint8_t     seen[4][256]; /* bodies of the first requests */
	size_t      seenlen[4];
};

static bool
full_io(int fd, void *p, size_t n, bool rd)
{
	for (size_t off = 0; off < n;) {
		struct pollfd pf = { fd, rd ? POLLIN : POLLOUT, 0 };
		if (poll(&pf, 1, 3000) != 1)
			return false;
		ssize_t k = rd
		    ? read(fd, (char *) p + off, n - off)
		    : send(fd, (char *) p + off, n - off, MSG_NOSIGNAL);
		if (k <= 0)
			return false;
		off += (size_t) k;
	}
	return true;
}

static bool
peer_handshake(int fd)
{
	uint8_t theirs[8], mine[8] = { 0, 'S', 'P', 0, 0, 0x31, 0, 0 };
	return full_io(fd, theirs, 8, true) && theirs[5] == 0x30 &&
	    full_io(fd, mine, 8, false);
}

/* Reads one request. OUT: its id and body (up to cap bytes kept). */
static bool
peer_read(
    script *s, int fd, uint32_t *id, uint8_t *body, size_t *len, size_t cap)
{
	uint8_t h[12];
	if (!full_io(fd, h, 12, true))
		return false;
	uint64_t fl = cw_ld_be64(h);
	*id         = (uint32_t) h[8] << 24 | (uint32_t) h[9] << 16 |
	    (uint32_t) h[10] << 8 | h[11];
	*len = (size_t) fl - 4;
	assert_true(*len <= cap);
	if (!full_io(fd, body, *len, true))
		return false;
	int n = atomic_fetch_add(&s->requests, 1);
	if (n < 4 && *len <= sizeof(s->seen[0])) {
		memcpy(s->seen[n], body, *len);
		s->seenlen[n] = *len;
	}
	return true;
}

/* Writes a reply frame: length field flen, then id and body. */
static bool
peer_reply(int fd, uint64_t flen, uint32_t id, const void *b, size_t len)
{
	uint8_t h[12];
	cw_st_be64(h, flen);
	h[8]  = (uint8_t) (id >> 24);
	h[9]  = (uint8_t) (id >> 16);
	h[10] = (uint8_t) (id >> 8);
	h[11] = (uint8_t) id;
	return full_io(fd, h, 12, false) &&
	    full_io(fd, (void *) b, len, false);
}

/* Echoes n requests (n < 0: until the end of the stream). */
static void
peer_echo(script *s, int fd, int n)
{
	uint8_t  b[65536];
	uint32_t id;
	size_t   len;
	for (int i = 0; n < 0 || i < n; i++)
		if (!peer_read(s, fd, &id, b, &len, sizeof(b)) ||
		    !peer_reply(fd, len + 4, id, b, len))
			return;
}

static void *
script_run(void *arg)
{
	script *s = arg;
	while (!atomic_load(&s->stop)) {
		struct pollfd pf = { s->lfd, POLLIN, 0 };
		if (poll(&pf, 1, 50) != 1)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		s->on_conn(s, fd, atomic_fetch_add(&s->conns, 1));
		close(fd);
	}
	return NULL;
}

static void
script_start(script *s, on_conn_fn fn)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t          sl = sizeof(sa);
	memset(s, 0, sizeof(*s));
	s->on_conn         = fn;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd             = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *) &sa, &sl), 0);
	s->port = ntohs(sa.sin_port);
	pthread_create(&s->th, NULL, script_run, s);
}

static void
script_stop(script *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
	close(s->lfd);
}

static int
script_open(script *s, cw_net **n)
{
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", s->port);
	return cw_net_open(n, url);
}

static int
call(cw_net *n, const char *msg, char *out, size_t cap)
{
	void  *rep;
	size_t len;
	int    rc = cw_net_roundtrip(n, msg, strlen(msg), &rep, &len);
	if (rc != 0)
		return rc;
	assert_true(len < cap);
	memcpy(out, rep, len);
	out[len] = '\0';
	cw_free(rep);
	return 0;
}

/* ---- tests ---- */

static void
round_trip_sizes(cw_net *n)
{
	/* around the first read's 4 KiB, empty, and large */
	static const size_t sizes[] = { 0, 1, 100, 4083, 4084, 4085, 4096,
		70000, 2u << 20 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *b = malloc(sizes[i] + 1);
		for (size_t j = 0; j < sizes[i]; j++)
			b[j] = (uint8_t) (j * 31 + i);
		void  *rep;
		size_t len;
		assert_int_equal(
		    cw_net_roundtrip(n, b, sizes[i], &rep, &len), 0);
		assert_int_equal(len, sizes[i]);
		assert_memory_equal(rep, b, sizes[i]);
		cw_free(rep);
		free(b);
	}
}

static void
echoes_every_size_through_nng_over_tcp_and_ipc(void **state)
{
	(void) state;
	rep_peer p;
	cw_net  *n;
	rep_start(&p, "tcp://127.0.0.1:0", 4);
	assert_int_equal(cw_net_open(&n, p.url), 0);
	round_trip_sizes(n);
	cw_net_close(n);
	rep_stop(&p);

	char *dir = lab_tmpdir("cwtest"), url[512];
	snprintf(url, sizeof(url), "ipc://%s/s", dir);
	rep_start(&p, url, 4);
	assert_int_equal(cw_net_open(&n, url), 0);
	round_trip_sizes(n);
	cw_net_close(n);
	rep_stop(&p);
	lab_rmrf(dir);
	free(dir);
}

static void
bad_urls_are_einval(void **state)
{
	(void) state;
	static const char *bad[] = { "", "http://127.0.0.1:80", "tcp://",
		"tcp://127.0.0.1", "tcp://:7400", "tcp://127.0.0.1:0",
		"tcp://127.0.0.1:65536", "tcp://127.0.0.1:12a",
		"tcp://[::1:7400", "ipc://", "127.0.0.1:7400" };
	cw_net            *n;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_net_open(&n, bad[i]), CW_EINVAL);
	cw_client *c;
	assert_int_equal(cw_connect(&c, "udp://x:1"), CW_EINVAL);
}

static void
close_always(script *s, int fd, int idx)
{
	(void) idx;
	uint8_t  b[256];
	uint32_t id;
	size_t   len;
	if (peer_handshake(fd))
		peer_read(s, fd, &id, b, &len, sizeof(b));
}

static void
nobody_listening_is_eunavail_at_once(void **state)
{
	(void) state;
	script  s;
	cw_net *n;
	script_start(&s, close_always);
	script_stop(&s); /* the port is free again */
	uint64_t t0 = cw_mono_ms();
	assert_int_equal(script_open(&s, &n), CW_EUNAVAIL);
	assert_true(cw_mono_ms() - t0 < 2000); /* not the 5 s timeout */
	char *dir = lab_tmpdir("cwtest"), url[512];
	snprintf(url, sizeof(url), "ipc://%s/none", dir);
	assert_int_equal(cw_net_open(&n, url), CW_EUNAVAIL);
	lab_rmrf(dir);
	free(dir);
}

static void
speak_http(script *s, int fd, int idx)
{
	(void) s;
	(void) idx;
	const char *r = "HTTP/1.1 400 Bad Request\r\n\r\n";
	full_io(fd, (void *) r, strlen(r), false);
}

static void
a_peer_that_is_not_rep0_is_eproto(void **state)
{
	(void) state;
	script  s;
	cw_net *n;
	script_start(&s, speak_http);
	assert_int_equal(script_open(&s, &n), CW_EPROTO);
	script_stop(&s);
	/* nng speaking another protocol: req0, not rep0 */
	nng_socket   req;
	nng_listener l;
	nng_sockaddr sa;
	char         url[64];
	assert_int_equal(nng_req0_open(&req), 0);
	assert_int_equal(nng_listen(req, "tcp://127.0.0.1:0", &l, 0), 0);
	assert_int_equal(nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa), 0);
	snprintf(
	    url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(sa.s_in.sa_port));
	assert_int_equal(cw_net_open(&n, url), CW_EPROTO);
	nng_close(req);
}

/* Connection 0 holds its first request unanswered; later ones echo. */
static void
hold_first(script *s, int fd, int idx)
{
	if (!peer_handshake(fd))
		return;
	if (idx == 0) {
		uint8_t  b[256];
		uint32_t id;
		size_t   len;
		if (!peer_read(s, fd, &id, b, &len, sizeof(b)))
			return;
		struct pollfd pf = { fd, POLLIN, 0 };
		poll(&pf, 1, 3000); /* until the client closes */
		return;
	}
	peer_echo(s, fd, -1);
}

static void
a_reply_that_never_comes_times_out_and_the_next_call_works(void **state)
{
	(void) state;
	script  s;
	cw_net *n;
	char    out[64];
	script_start(&s, hold_first);
	assert_int_equal(script_open(&s, &n), 0);
	cw_net_set_timeout(n, 300);
	uint64_t t0 = cw_mono_ms();
	assert_int_equal(call(n, "lost", out, sizeof(out)), CW_ETIMEDOUT);
	uint64_t took = cw_mono_ms() - t0;
	assert_true(took >= 300 && took < 3000);
	/* the timed-out connection is closed; a new one answers */
	assert_int_equal(call(n, "next", out, sizeof(out)), 0);
	assert_string_equal(out, "next");
	cw_net_close(n);
	script_stop(&s);
}

/* Connection 0 answers one request and closes on reading the second;
 * later connections echo. */
static void
close_on_second(script *s, int fd, int idx)
{
	if (!peer_handshake(fd))
		return;
	if (idx == 0) {
		uint8_t  b[256];
		uint32_t id;
		size_t   len;
		peer_echo(s, fd, 1);
		peer_read(s, fd, &id, b, &len, sizeof(b));
		return;
	}
	peer_echo(s, fd, -1);
}

static void
a_broken_connection_is_redialed_and_the_request_resent(void **state)
{
	(void) state;
	script  s;
	cw_net *n;
	script_start(&s, close_on_second);
	assert_int_equal(script_open(&s, &n), 0);
	char out[64];
	assert_int_equal(call(n, "first", out, sizeof(out)), 0);
	assert_int_equal(call(n, "second", out, sizeof(out)), 0);
	assert_string_equal(out, "second");
	/* the peer saw "second" twice: once on each connection */
	assert_int_equal(atomic_load(&s.requests), 3);
	assert_int_equal(atomic_load(&s.conns), 2);
	assert_int_equal(s.seenlen[1], 6);
	assert_memory_equal(s.seen[1], "second", 6);
	assert_memory_equal(s.seen[2], "second", 6);
	cw_net_close(n);
	script_stop(&s);
}

static void
a_server_that_keeps_closing_is_eunavail(void **state)
{
	(void) state;
	script  s;
	cw_net *n;
	char    out[64];
	script_start(&s, close_always);
	assert_int_equal(script_open(&s, &n), 0);
	assert_int_equal(call(n, "x", out, sizeof(out)), CW_EUNAVAIL);
	/* bounded: the first send and four resends, no more */
	assert_int_equal(atomic_load(&s.requests), 5);
	cw_net_close(n);
	script_stop(&s);
}

static _Atomic int bad_kind;

/* Answers the first request with a malformed frame of kind bad_kind. */
static void
reply_badly(script *s, int fd, int idx)
{
	(void) idx;
	uint8_t  b[256];
	uint32_t id;
	size_t   len;
	if (!peer_handshake(fd) || !peer_read(s, fd, &id, b, &len, sizeof(b)))
		return;
	switch (atomic_load(&bad_kind)) {
	case 0: /* another request's id */
		peer_reply(fd, len + 4, id ^ 1, b, len);
		break;
	case 1: /* a length shorter than the id */
		peer_reply(fd, 2, id, NULL, 0);
		break;
	case 2: /* a terabyte */
		peer_reply(fd, 1ull << 40, id, NULL, 0);
		break;
	case 3: { /* more bytes than the frame says, in one write */
		uint8_t f[15];
		cw_st_be64(f, 4 + 1);
		f[8]  = (uint8_t) (id >> 24);
		f[9]  = (uint8_t) (id >> 16);
		f[10] = (uint8_t) (id >> 8);
		f[11] = (uint8_t) id;
		memcpy(f + 12, "xyz", 3);
		full_io(fd, f, sizeof(f), false);
		break;
	}
	}
	struct pollfd pf = { fd, POLLIN, 0 };
	poll(&pf, 1, 3000); /* until the client closes */
}

static void
malformed_replies_are_refused(void **state)
{
	(void) state;
	static const int want[] = { CW_EPROTO, CW_EPROTO, CW_ETOOBIG,
		CW_EPROTO };
	for (int k = 0; k < 4; k++) {
		script  s;
		cw_net *n;
		char    out[64];
		atomic_store(&bad_kind, k);
		script_start(&s, reply_badly);
		assert_int_equal(script_open(&s, &n), 0);
		assert_int_equal(call(n, "q", out, sizeof(out)), want[k]);
		cw_net_close(n);
		script_stop(&s);
	}
}

/* nng 1.5.2's client could deadlock its timer thread when a call's
 * timeout fired as its reply arrived; every later nng_close in the
 * process then hung. Calls that time out just as replies come, from
 * many threads, must leave every close working. */
typedef struct {
	const char *url;
	int         timeouts, ok;
} racer;

static void *
race(void *arg)
{
	racer  *r = arg;
	cw_net *n;
	if (cw_net_open(&n, r->url) != 0)
		return NULL;
	cw_net_set_timeout(n, 20); /* the peer waits 0-40 ms */
	for (int i = 0; i < 60; i++) {
		void  *rep;
		size_t len;
		int    rc = cw_net_roundtrip(n, "race", 4, &rep, &len);
		if (rc == 0) {
			cw_free(rep);
			r->ok++;
		} else if (rc == CW_ETIMEDOUT) {
			r->timeouts++;
		}
	}
	cw_net_close(n);
	return NULL;
}

/* The peer: causewayd's transport, with 24 threads that answer each
 * request after 0-40 ms. (nng's rep socket, the peer here before, leaks
 * a message inside nng 1.5.2 when clients vanish under it like this:
 * LeakSanitizer saw it in 3 runs of 12.) */
typedef struct {
	cw_wire        *w;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	cw_wire_req    *q[1024];
	int             nq;
	bool            done;
	pthread_t       th[24];
} late_peer;

typedef struct {
	const uint8_t *body;
	size_t         len;
} late_req;

static void
late_take(void *arg, cw_wire_req *r, const uint8_t *body, size_t len)
{
	late_peer *p = arg;
	late_req  *m = cw_wire_user(r);
	m->body      = body;
	m->len       = len;
	pthread_mutex_lock(&p->mu);
	if (p->nq < 1024) {
		p->q[p->nq++] = r;
		r             = NULL;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	cw_wire_drop(r); /* NULL: queued */
}

static void *
late_work(void *arg)
{
	late_peer *p    = arg;
	unsigned   seed = (unsigned) (uintptr_t) &seed;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->nq == 0 && !p->done)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->nq == 0)
			break;
		cw_wire_req *r = p->q[--p->nq];
		pthread_mutex_unlock(&p->mu);
		usleep((useconds_t) (rand_r(&seed) % 40) * 1000);
		late_req *m = cw_wire_user(r);
		cw_wire_reply(r, m->body, m->len);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
timeouts_racing_replies_leave_every_close_working(void **state)
{
	(void) state;
	late_peer p = { 0 };
	racer     r[24];
	pthread_t th[24];
	char      url[64];
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	for (int i = 0; i < 24; i++)
		assert_int_equal(
		    pthread_create(&p.th[i], NULL, late_work, &p), 0);
	/* every timed-out call closes its connection and dials anew, and
	 * a closed one counts until its late reply is gone: more than one
	 * address's share of connections at a time, which is not what this
	 * checks */
	cw_wire_limits lim;
	cw_wire_limits_default(&lim);
	lim.per_addr = 0;
	assert_int_equal(cw_wire_new(&p.w, 2, 1u << 20, sizeof(late_req), &lim,
	                     late_take, &p),
	    0);
	assert_int_equal(cw_wire_listen(p.w, "tcp://127.0.0.1:0"), 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", cw_wire_port(p.w));
	for (int i = 0; i < 24; i++) {
		r[i] = (racer) { .url = url };
		pthread_create(&th[i], NULL, race, &r[i]);
	}
	int timeouts = 0, ok = 0;
	for (int i = 0; i < 24; i++) {
		pthread_join(th[i], NULL);
		timeouts += r[i].timeouts;
		ok += r[i].ok;
	}
	/* both outcomes happened, and every call ended in one of them */
	assert_true(timeouts > 0 && ok > 0);
	assert_int_equal(timeouts + ok, 24 * 60);
	cw_wire_stop(p.w);
	pthread_mutex_lock(&p.mu);
	p.done = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	for (int i = 0; i < 24; i++)
		pthread_join(p.th[i], NULL);
	cw_wire_free(p.w);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(120); /* every wait is bounded; this bounds the whole file */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    echoes_every_size_through_nng_over_tcp_and_ipc),
		cmocka_unit_test(bad_urls_are_einval),
		cmocka_unit_test(nobody_listening_is_eunavail_at_once),
		cmocka_unit_test(a_peer_that_is_not_rep0_is_eproto),
		cmocka_unit_test(
		    a_reply_that_never_comes_times_out_and_the_next_call_works),
		cmocka_unit_test(
		    a_broken_connection_is_redialed_and_the_request_resent),
		cmocka_unit_test(a_server_that_keeps_closing_is_eunavail),
		cmocka_unit_test(malformed_replies_are_refused),
		cmocka_unit_test(
		    timeouts_racing_replies_leave_every_close_working),
	};
	return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
