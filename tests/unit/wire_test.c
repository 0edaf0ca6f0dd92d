/*
 * wire_test.c - causewayd's transport (server/wire.h) against real peers
 * on loopback and in a temporary directory: nng's own req socket (one
 * request at a time, and many contexts in flight on one connection), the
 * SDK's transport, and raw sockets that misbehave one way each (a wrong
 * SP header, an oversized frame, a frame without a backtrace, a reader
 * too slow for a big reply, a peer that leaves before its reply).
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "causeway.h"
#include "net.h"
#include "util.h"
#include "wire.h"

/* ---- the handler: echo at once, or later from another thread ---- */

enum { ECHO, LATER, BIG, HOLD }; /* HOLD: the test replies */

typedef struct {
	int             mode;
	size_t          big;    /* BIG: the reply's size */
	_Atomic int     served; /* requests the handler saw */
	_Atomic int     askew;  /* of them, bodies not 8-byte aligned */
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	cw_wire_req    *q[256]; /* LATER: waiting for the replier */
	int             nq;
	bool            done;
	pthread_t       th;
} handler;

typedef struct { /* the handler's room in each request */
	const uint8_t *body;
	size_t         len;
} room;

static void
handle(void *arg, cw_wire_req *r, const uint8_t *body, size_t len)
{
	handler *h = arg;
	atomic_fetch_add(&h->served, 1);
	if ((uintptr_t) body % 8 != 0)
		atomic_fetch_add(&h->askew, 1);
	if (h->mode == ECHO) {
		cw_wire_reply(r, body, len);
		return;
	}
	if (h->mode == BIG) {
		uint8_t *p = malloc(h->big);
		assert_non_null(p);
		for (size_t i = 0; i < h->big; i++)
			p[i] = (uint8_t) (i * 7);
		cw_wire_reply(r, p, h->big);
		free(p);
		return;
	}
	room *m = cw_wire_user(r);
	m->body = body;
	m->len  = len;
	pthread_mutex_lock(&h->mu);
	assert_true(h->nq < 256);
	h->q[h->nq++] = r;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* LATER's replier: answers what is queued, newest first, after 1 ms. */
static void *
replier(void *arg)
{
	handler *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->nq == 0 && !h->done)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->nq == 0)
			break;
		cw_wire_req *r = h->q[--h->nq];
		pthread_mutex_unlock(&h->mu);
		usleep(1000);
		room *m = cw_wire_user(r);
		cw_wire_reply(r, m->body, m->len);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static cw_wire *
start(handler *h, int mode, const char *url, char *bound, size_t cap)
{
	cw_wire *w;
	memset(h, 0, sizeof(*h));
	h->mode = mode;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (mode == LATER)
		assert_int_equal(pthread_create(&h->th, NULL, replier, h), 0);
	assert_int_equal(
	    cw_wire_new(&w, 2, 1u << 20, sizeof(room), NULL, handle, h), 0);
	assert_int_equal(cw_wire_listen(w, url), 0);
	if (strncmp(url, "tcp", 3) == 0)
		snprintf(bound, cap, "tcp://127.0.0.1:%d", cw_wire_port(w));
	else
		snprintf(bound, cap, "%s", url);
	return w;
}

static void
finish(handler *h, cw_wire *w)
{
	cw_wire_stop(w);
	if (h->mode == LATER) {
		pthread_mutex_lock(&h->mu);
		h->done = true;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->th, NULL);
	}
	cw_wire_free(w);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
}

/* ---- clients ---- */

/* One request through an nng req socket; returns the reply's length,
 * checking its bytes. */
static void
nng_echo(const char *url, int n)
{
	nng_socket s;
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	assert_int_equal(nng_dial(s, url, NULL, 0), 0);
	for (int i = 0; i < n; i++) {
		char   msg[64], *rep = NULL;
		size_t len;
		int    ml = snprintf(msg, sizeof(msg), "request %d", i);
		assert_int_equal(nng_send(s, msg, (size_t) ml, 0), 0);
		assert_int_equal(nng_recv(s, &rep, &len, NNG_FLAG_ALLOC), 0);
		assert_int_equal(len, (size_t) ml);
		assert_memory_equal(rep, msg, len);
		nng_free(rep, len);
	}
	nng_close(s);
}

static int
raw_dial(int port)
{
	struct sockaddr_in a  = { .sin_family = AF_INET,
		 .sin_port                    = htons((uint16_t) port),
		 .sin_addr.s_addr             = htonl(INADDR_LOOPBACK) };
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads exactly n bytes, or fails the test. */
static void
raw_read(int fd, void *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t r = recv(fd, (char *) p + off, n - off, 0);
		assert_true(r > 0);
		off += (size_t) r;
	}
}

/* True if the server closed fd (end of stream or reset) within 5 s. */
static bool
raw_closed(int fd)
{
	char    b[256];
	ssize_t r;
	while ((r = recv(fd, b, sizeof(b), 0)) > 0)
		;
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void
raw_hello(int fd)
{
	static const uint8_t req0[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	uint8_t              rep0[8];
	assert_int_equal(send(fd, req0, 8, 0), 8);
	raw_read(fd, rep0, 8);
	assert_int_equal(rep0[5], 0x31);
}

static void
st_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t) v;
}

/* ---- the cases ---- */

static void
an_nng_req_socket_is_answered_over_tcp_and_ipc(void **state)
{
	(void) state;
	handler  h;
	char     url[300];
	cw_wire *w = start(&h, ECHO, "tcp://127.0.0.1:0", url, sizeof(url));
	nng_echo(url, 100);
	assert_int_equal(atomic_load(&h.served), 100);
	finish(&h, w);

	char *dir = lab_tmpdir("cwtest"), ipc[300];
	snprintf(ipc, sizeof(ipc), "ipc://%s/w.sock", dir);
	w = start(&h, ECHO, ipc, url, sizeof(url));
	nng_echo(url, 100);
	finish(&h, w);
	struct stat st; /* the path goes with the listener */
	assert_int_not_equal(stat(ipc + 6, &st), 0);
	lab_rmrf(dir);
	free(dir);
}

/* Every request body reaches the handler 8-byte aligned, small or
 * large, over tcp and ipc: the schema reads an aligned body in place and
 * copies any other (schema.cc). Before, each body sat 4 bytes off, so
 * every request was copied twice, and a client's 15 MiB junk frames
 * cost causewayd a 15 MiB copy each (cw-bench hostile, bigframes). */
static void
request_bodies_reach_the_handler_aligned(void **state)
{
	(void) state;
	char *dir = lab_tmpdir("cwtest"), ipc[300];
	snprintf(ipc, sizeof(ipc), "ipc://%s/w.sock", dir);
	const char *urls[] = { "tcp://127.0.0.1:0", ipc };
	for (int u = 0; u < 2; u++) {
		handler    h;
		char       url[300];
		cw_wire   *w = start(&h, ECHO, urls[u], url, sizeof(url));
		nng_socket s;
		assert_int_equal(nng_req0_open(&s), 0);
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
		assert_int_equal(nng_dial(s, url, NULL, 0), 0);
		static uint8_t msg[300 << 10];
		const size_t   lens[] = { 1, 13, 100, 20000, sizeof(msg) };
		for (int i = 0; i < 5; i++) {
			char  *rep = NULL;
			size_t len;
			memset(msg, 'a' + i, lens[i]);
			assert_int_equal(nng_send(s, msg, lens[i], 0), 0);
			assert_int_equal(
			    nng_recv(s, &rep, &len, NNG_FLAG_ALLOC), 0);
			assert_int_equal(len, lens[i]);
			assert_memory_equal(rep, msg, len);
			nng_free(rep, len);
		}
		nng_close(s);
		assert_int_equal(atomic_load(&h.served), 5);
		assert_int_equal(atomic_load(&h.askew), 0);
		finish(&h, w);
	}
	lab_rmrf(dir);
	free(dir);
}

typedef struct {
	nng_socket s;
	int        id, n, ok;
} ctxarg;

static void *
ctx_client(void *arg)
{
	ctxarg  *a = arg;
	nng_ctx  ctx;
	nng_aio *aio;
	assert_int_equal(nng_ctx_open(&ctx, a->s), 0);
	assert_int_equal(nng_aio_alloc(&aio, NULL, NULL), 0);
	nng_aio_set_timeout(aio, 10000);
	for (int i = 0; i < a->n; i++) {
		nng_msg *m;
		char     body[32];
		int      bl = snprintf(body, sizeof(body), "%d/%d", a->id, i);
		assert_int_equal(nng_msg_alloc(&m, 0), 0);
		assert_int_equal(nng_msg_append(m, body, (size_t) bl), 0);
		nng_aio_set_msg(aio, m);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		assert_int_equal(nng_aio_result(aio), 0);
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		assert_int_equal(nng_aio_result(aio), 0);
		m = nng_aio_get_msg(aio);
		if (nng_msg_len(m) == (size_t) bl &&
		    memcmp(nng_msg_body(m), body, (size_t) bl) == 0)
			a->ok++;
		nng_msg_free(m);
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return NULL;
}

/* 40 nng contexts share one connection: more requests in flight on it
 * than WIRE_INFLIGHT, answered out of order from another thread. Each
 * gets its own reply (nng matches them by request id), and reading
 * stops and resumes without losing one. */
static void
many_requests_in_flight_on_one_connection_get_their_own_replies(void **state)
{
	(void) state;
	handler    h;
	char       url[300];
	cw_wire   *w = start(&h, LATER, "tcp://127.0.0.1:0", url, sizeof(url));
	nng_socket s;
	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_dial(s, url, NULL, 0), 0);
	enum { N = 40, EACH = 25 };
	ctxarg    a[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		a[i] = (ctxarg) { s, i, EACH, 0 };
		assert_int_equal(
		    pthread_create(&th[i], NULL, ctx_client, &a[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].ok, EACH);
	}
	assert_int_equal(atomic_load(&h.served), N * EACH);
	nng_close(s);
	finish(&h, w);
}

static void
the_sdk_transport_talks_to_it(void **state)
{
	(void) state;
	handler  h;
	char     url[300];
	cw_wire *w = start(&h, ECHO, "tcp://127.0.0.1:0", url, sizeof(url));
	cw_net  *n;
	assert_int_equal(cw_net_open(&n, url), 0);
	for (int i = 0; i < 50; i++) {
		char   msg[32];
		void  *rep;
		size_t len;
		int    ml = snprintf(msg, sizeof(msg), "sdk %d", i);
		assert_int_equal(
		    cw_net_roundtrip(n, msg, (size_t) ml, &rep, &len), 0);
		assert_int_equal(len, (size_t) ml);
		assert_memory_equal(rep, msg, len);
		cw_free(rep);
	}
	cw_net_close(n);
	finish(&h, w);
}

/* A peer that is not req0, one whose frame is over the limit (closed on
 * its length, before its body is sent), and one whose frame has no
 * backtrace are disconnected; none is handed to the handler, and the
 * wire answers the next client. */
static void
bad_peers_are_disconnected_and_the_wire_goes_on(void **state)
{
	(void) state;
	handler  h;
	char     url[300];
	cw_wire *w    = start(&h, ECHO, "tcp://127.0.0.1:0", url, sizeof(url));
	int      port = cw_wire_port(w);

	int     fd      = raw_dial(port);
	uint8_t pub0[8] = { 0, 'S', 'P', 0, 0, 0x20, 0, 0 }; /* pub0 */
	assert_int_equal(send(fd, pub0, 8, 0), 8);
	assert_true(raw_closed(fd));
	close(fd);

	fd = raw_dial(port);
	raw_hello(fd);
	uint8_t len[8];
	st_be64(len, (1u << 20) + 1);
	assert_int_equal(send(fd, len, 8, 0), 8);
	assert_true(raw_closed(fd));
	close(fd);

	fd = raw_dial(port);
	raw_hello(fd);
	uint8_t frame[10];
	st_be64(frame, 2);
	frame[8] = 0x80;
	frame[9] = 1;
	assert_int_equal(send(fd, frame, 10, 0), 10);
	assert_true(raw_closed(fd));
	close(fd);

	/* nine backtrace words: dropped, as nng does, the connection kept */
	fd = raw_dial(port);
	raw_hello(fd);
	uint8_t hops[8 + 36 + 8 + 8];
	st_be64(hops, 36);
	memset(hops + 8, 0, 36);
	hops[8 + 32] = 0x80;
	st_be64(hops + 44, 8); /* then a good one */
	memcpy(hops + 52, "\x80\0\0\x07ping", 8);
	assert_int_equal(
	    send(fd, hops, sizeof(hops), 0), (ssize_t) sizeof(hops));
	uint8_t rep[16];
	raw_read(fd, rep, 16);
	assert_memory_equal(rep + 8, "\x80\0\0\x07ping", 8);
	close(fd);

	assert_int_equal(atomic_load(&h.served), 1);
	nng_echo(url, 5);
	finish(&h, w);
}

/* A reply of 8 MiB to a peer that reads it slowly: the socket takes a
 * part, the rest is queued and written as it drains, whole and in order,
 * and the next reply on the same connection comes after it. */
static void
a_big_reply_to_a_slow_reader_arrives_whole_and_in_order(void **state)
{
	(void) state;
	handler  h;
	char     url[300];
	cw_wire *w = start(&h, BIG, "tcp://127.0.0.1:0", url, sizeof(url));
	h.big      = 8u << 20;
	int fd     = raw_dial(cw_wire_port(w));
	raw_hello(fd);
	uint8_t two[2][12];
	for (int i = 0; i < 2; i++) {
		st_be64(two[i], 4);
		memcpy(two[i] + 8, i ? "\x80\0\0\x02" : "\x80\0\0\x01", 4);
	}
	assert_int_equal(send(fd, two, sizeof(two), 0), (ssize_t) sizeof(two));
	usleep(200 * 1000); /* let the socket's buffer fill */
	uint8_t *got = malloc(h.big);
	assert_non_null(got);
	for (int i = 0; i < 2; i++) {
		uint8_t hdr[12];
		raw_read(fd, hdr, 12);
		assert_int_equal(
		    hdr[7] | hdr[6] << 8 | hdr[5] << 16, h.big + 4);
		assert_int_equal(hdr[11], i + 1);
		for (size_t off = 0; off < h.big; off += 65536) {
			size_t n = h.big - off < 65536 ? h.big - off : 65536;
			raw_read(fd, got + off, n);
			if (off % (1u << 20) == 0)
				usleep(1000); /* slowly */
		}
		for (size_t k = 0; k < h.big; k++)
			if (got[k] != (uint8_t) (k * 7))
				fail_msg(
				    "byte %zu of reply %d is wrong", k, i);
	}
	free(got);
	close(fd);
	finish(&h, w);
}

/* Replies to what the HOLD handler holds; returns how many. */
static int
reply_held(handler *h)
{
	int n = 0;
	pthread_mutex_lock(&h->mu);
	while (h->nq > 0) {
		cw_wire_req *r = h->q[--h->nq];
		room        *m = cw_wire_user(r);
		cw_wire_reply(r, m->body, m->len);
		n++;
	}
	pthread_mutex_unlock(&h->mu);
	return n;
}

/* Waits up to 2 s for the handler to have seen n requests. */
static void
wait_served(handler *h, int n)
{
	for (int i = 0; i < 200 && atomic_load(&h->served) < n; i++)
		usleep(10 * 1000);
	usleep(100 * 1000); /* and a moment for any beyond n */
}

/* 100 requests in one write: the handler sees at most WIRE_INFLIGHT at
 * a time, and the rest, waiting in the input buffer with nothing more
 * on the socket, are taken as replies make room. Before, all 100 were
 * dispatched from the one read: a client that never read its replies
 * held tens of megabytes a connection. */
static void
requests_in_one_read_wait_for_room(void **state)
{
	(void) state;
	handler  h;
	char     url[300];
	cw_wire *w  = start(&h, HOLD, "tcp://127.0.0.1:0", url, sizeof(url));
	int      fd = raw_dial(cw_wire_port(w));
	raw_hello(fd);
	uint8_t f[100][12];
	for (int i = 0; i < 100; i++) {
		st_be64(f[i], 4);
		f[i][8]  = 0x80;
		f[i][9]  = 0;
		f[i][10] = 0;
		f[i][11] = (uint8_t) (i + 1);
	}
	assert_int_equal(send(fd, f, sizeof(f), 0), (ssize_t) sizeof(f));
	int replied = 0;
	for (int round = 1; replied < 100; round++) {
		int want = replied + WIRE_INFLIGHT < 100
		    ? replied + WIRE_INFLIGHT
		    : 100;
		wait_served(&h, want);
		assert_int_equal(atomic_load(&h.served), want);
		replied += reply_held(&h);
		assert_true(round <= 7);
	}
	for (int i = 0; i < 100; i++) { /* every reply, each once */
		uint8_t hdr[12];
		raw_read(fd, hdr, 12);
		assert_int_equal(hdr[7], 4);
	}
	close(fd);
	finish(&h, w);
}

/* A raw connection from src (a loopback address) to port, SP header
 * exchanged. */
static int
raw_dial_from(const char *src, int port)
{
	struct sockaddr_in b  = { .sin_family = AF_INET };
	struct sockaddr_in a  = { .sin_family = AF_INET,
		 .sin_port                    = htons((uint16_t) port),
		 .sin_addr.s_addr             = htonl(INADDR_LOOPBACK) };
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, src, &b.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *) &b, sizeof(b)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	raw_hello(fd);
	return fd;
}

#define RATE_FRAMES 8
#define RATE_BODY (256 << 10)

static void *
rate_sender(void *arg)
{
	int      fd = *(int *) arg;
	uint8_t *f  = calloc(1, 12 + RATE_BODY);
	assert_non_null(f);
	st_be64(f, 4 + RATE_BODY);
	f[8] = 0x80;
	for (int i = 0; i < RATE_FRAMES; i++) {
		f[11] = (uint8_t) (i + 1);
		for (size_t off = 0; off < 12 + RATE_BODY;) {
			ssize_t n = send(fd, f + off, 12 + RATE_BODY - off, 0);
			if (n <= 0)
				break;
			off += (size_t) n;
		}
	}
	free(f);
	return NULL;
}

/* One address that sends faster than addr_bps (1 MiB/s here) is read at
 * that rate, all its connections together, while another address is
 * served meanwhile. Before there was no such rate: 8 connections sending
 * 15 MiB frames flat out cut everyone else's throughput to a tenth
 * (cw-bench hostile, bigframes). */
static void
one_address_is_read_at_its_byte_rate(void **state)
{
	(void) state;
	handler        h;
	cw_wire       *w;
	cw_wire_limits lim;
	cw_wire_limits_default(&lim);
	lim.addr_bps = 1u << 20;
	memset(&h, 0, sizeof(h));
	h.mode = ECHO;
	assert_int_equal(
	    cw_wire_new(&w, 2, 1u << 20, sizeof(room), &lim, handle, &h), 0);
	assert_int_equal(cw_wire_listen(w, "tcp://127.0.0.1:0"), 0);
	int port = cw_wire_port(w);
	/* 4 MiB from 127.0.0.2 on two connections: about 3 s at 1 MiB/s
	 * with a second's burst */
	int       fd[2] = { raw_dial_from("127.0.0.2", port),
		      raw_dial_from("127.0.0.2", port) };
	pthread_t th[2];
	uint64_t  t0 = cw_mono_ms();
	for (int i = 0; i < 2; i++)
		assert_int_equal(
		    pthread_create(&th[i], NULL, rate_sender, &fd[i]), 0);
	/* another address meanwhile: 20 round trips, all before the first
	 * address is done */
	int other = raw_dial_from("127.0.0.1", port);
	for (int i = 0; i < 20; i++) {
		uint8_t q[16], r[16];
		st_be64(q, 8);
		memcpy(q + 8, "\x80\0\0\x01ping", 8);
		assert_int_equal(send(other, q, 16, 0), 16);
		raw_read(other, r, 16);
		assert_memory_equal(q, r, 16);
	}
	int served_then = atomic_load(&h.served);
	close(other);
	/* every echo comes back, at the rate */
	uint8_t *buf = malloc(12 + RATE_BODY);
	assert_non_null(buf);
	for (int c = 0; c < 2; c++)
		for (int i = 0; i < RATE_FRAMES; i++)
			raw_read(fd[c], buf, 12 + RATE_BODY);
	uint64_t took = cw_mono_ms() - t0;
	free(buf);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		close(fd[i]);
	}
	cw_wire_stats st;
	cw_wire_stats_get(w, &st);
	printf("# 4 MiB from one address read in %.2f s at 1 MiB/s; another "
	       "address served 20 round trips meanwhile (%d of %d frames "
	       "read by then); %llu pauses\n",
	    took / 1000.0, served_then - 20, 2 * RATE_FRAMES,
	    (unsigned long long) st.paused_rate);
	assert_true(served_then - 20 < 2 * RATE_FRAMES);
	assert_true(took >= 2500); /* 4 MiB - 1 MiB of burst, at 1 MiB/s */
	assert_true(st.paused_rate > 0);
	cw_wire_free(w);
}

/* Peers that leave with requests unanswered: the replies find the
 * connection gone and are dropped, and nothing else is disturbed
 * (AddressSanitizer checks that no reply touches a freed connection). */
static void
replies_to_peers_that_left_are_dropped(void **state)
{
	(void) state;
	handler  h;
	char     url[300];
	cw_wire *w = start(&h, LATER, "tcp://127.0.0.1:0", url, sizeof(url));
	int      port = cw_wire_port(w);
	for (int k = 0; k < 20; k++) {
		int fd = raw_dial(port);
		raw_hello(fd);
		uint8_t f[3][12];
		for (int i = 0; i < 3; i++) {
			st_be64(f[i], 4);
			memcpy(f[i] + 8, "\x80\0\0\x09", 4);
		}
		assert_int_equal(
		    send(fd, f, sizeof(f), 0), (ssize_t) sizeof(f));
		close(fd); /* before any reply */
	}
	for (int i = 0; i < 500 && atomic_load(&h.served) < 60; i++)
		usleep(10 * 1000);
	assert_int_equal(atomic_load(&h.served), 60);
	nng_echo(url, 5);
	finish(&h, w);
}

static void
listen_errors_are_reported(void **state)
{
	(void) state;
	handler  h;
	char     url[300], dup[300];
	cw_wire *w = start(&h, ECHO, "tcp://127.0.0.1:0", url, sizeof(url));
	assert_int_equal(cw_wire_listen(w, "http://127.0.0.1:1"), CW_EINVAL);
	assert_int_equal(cw_wire_listen(w, "tcp://127.0.0.1"), CW_EINVAL);
	assert_int_equal(
	    cw_wire_listen(w, "tcp://127.0.0.1:99999"), CW_EINVAL);
	assert_int_equal(cw_wire_listen(w, "ipc://"), CW_EINVAL);
	snprintf(dup, sizeof(dup), "tcp://127.0.0.1:%d", cw_wire_port(w));
	assert_int_equal(cw_wire_listen(w, dup), CW_EUNAVAIL); /* in use */

	/* an ipc path left by a dead process is taken over; a live one is
	 * not */
	char *dir = lab_tmpdir("cwtest"), ipc[300];
	snprintf(ipc, sizeof(ipc), "ipc://%s/s", dir);
	int                fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	assert_true(strlen(ipc + 6) < sizeof(un.sun_path));
	memcpy(un.sun_path, ipc + 6, strlen(ipc + 6) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *) &un, sizeof(un)), 0);
	close(fd); /* the file stays, nobody listens */
	assert_int_equal(cw_wire_listen(w, ipc), 0);
	nng_echo(ipc, 3);
	handler  h2;
	char     url2[300];
	cw_wire *w2;
	assert_int_equal(cw_wire_new(&w2, 1, 1024, 0, NULL, handle, &h2), 0);
	assert_int_equal(cw_wire_listen(w2, ipc), CW_EUNAVAIL);
	cw_wire_free(w2);
	(void) url2;
	nng_echo(ipc, 3); /* still the first one's */
	finish(&h, w);
	lab_rmrf(dir);
	free(dir);
}

int
main(void)
{
	cw_log_set_level(-1); /* the bad peers are logged, as they should be */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    an_nng_req_socket_is_answered_over_tcp_and_ipc),
		cmocka_unit_test(
		    many_requests_in_flight_on_one_connection_get_their_own_replies),
		cmocka_unit_test(the_sdk_transport_talks_to_it),
		cmocka_unit_test(request_bodies_reach_the_handler_aligned),
		cmocka_unit_test(
		    bad_peers_are_disconnected_and_the_wire_goes_on),
		cmocka_unit_test(
		    a_big_reply_to_a_slow_reader_arrives_whole_and_in_order),
		cmocka_unit_test(requests_in_one_read_wait_for_room),
		cmocka_unit_test(replies_to_peers_that_left_are_dropped),
		cmocka_unit_test(one_address_is_read_at_its_byte_rate),
		cmocka_unit_test(listen_errors_are_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
