/*
 * net.c - the SDK's connection to causewayd: nng's req0 protocol spoken
 * on plain sockets; see net.h for the wire and the contract.
 *
 * A call owns one connection from start to end: it pops an idle one from
 * the pool (or dials), writes its frame with one sendmsg(), sleeps in
 * poll() until the reply is readable, reads it (one recv() for a small
 * reply) and returns the connection to the pool. All sockets are
 * non-blocking and every wait is a poll() bounded by the call's deadline,
 * so nothing here can hang past it, and a timed-out call closes its
 * connection (a late reply dies with it; the next call dials afresh).
 *
 * A connection that breaks (end of stream, reset, a write that fails)
 * makes the call dial again and resend the same bytes: the request may
 * have reached the server, whose reply cache answers a copy with the
 * first reply. Each break bumps n->gen; a connection remembers the gen it
 * was dialed at, and a reply reports it (cw_net_reply.pipe), so the SDK
 * can tell "the transaction expired" from "the server it lived on is
 * gone" (client.c). A call rides out MAX_BREAKS breaks, then gives up
 * with CW_EUNAVAIL rather than resend to a server that keeps closing.
 */
#include "net.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sec.h"
#include "util.h"

/* Requests larger than this are refused before sending (the server's
 * default limit); replies may be larger. */
#define MAX_REQUEST (16u << 20)
#define MAX_REPLY (256u << 20)
#define POOL 32      /* idle connections kept */
#define MAX_BREAKS 4 /* broken connections one call rides out */
#define PROTO_REQ0 0x30
#define PROTO_REP0 0x31
#define FIRST_READ 4096 /* bytes a reply's first recv() takes */

/* Not a CW_E* code: the connection broke, dial again and resend. */
#define BROKEN 1

struct conn {
	int      fd;
	cw_tls  *tls; /* tls+tcp://: the session on fd */
	uint32_t gen; /* n->gen when it was dialed */
	uint32_t id;  /* of the last request sent */
};

struct cw_net {
	bool               ipc;
	struct sockaddr_un un;        /* ipc:// */
	char               host[256]; /* tcp:// */
	char               port[8];
	int                family; /* AF_UNSPEC, AF_INET or AF_INET6 */
	cw_tls_conf       *tls;    /* tls+tcp:// */
	char               server_name[256]; /* what its certificate names */
	uint64_t           sid;
	_Atomic uint64_t   rid;
	_Atomic int        timeout_ms;
	_Atomic uint32_t   gen;   /* connections broken so far */
	_Atomic uint64_t   epoch; /* the server's, from its last reply */
	char              *user;  /* cw_net_login's, or NULL; then fixed */
	char              *pw;
	size_t             pwlen;
	pthread_mutex_t    login_mu; /* one login at a time */
	pthread_mutex_t    mu;
	/* mu guards: */
	struct conn *idle[POOL];
	int          nidle;
	uint8_t      token[CW_TOKEN_LEN]; /* of the last login */
	bool         has_token;
	uint32_t     logins; /* so far */
};

/* ---- waiting on a socket, bounded by a deadline (cw_mono_ms) ---- */

/* Waits until fd is ready for ev (or has an error to report, which the
 * next read or write returns). Returns 0 or CW_ETIMEDOUT. */
static int
wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = cw_mono_ms();
		if (now >= deadline)
			return CW_ETIMEDOUT;
		uint64_t      left = deadline - now;
		struct pollfd p    = { .fd = fd, .events = ev };
		int rv = poll(&p, 1, left > INT_MAX ? INT_MAX : (int) left);
		if (rv > 0)
			return 0;
		if (rv < 0 && errno != EINTR)
			return BROKEN;
	}
}

/* Waits until the TLS session can go on (rc is its CW_TLS_WANT_*).
 * Returns 0, BROKEN or CW_ETIMEDOUT. */
static int
tls_wait(int fd, int rc, uint64_t deadline)
{
	return wait_fd(
	    fd, rc == CW_TLS_WANT_WRITE ? POLLOUT : POLLIN, deadline);
}

/* Writes p[0..n) into c's TLS session and flushes it. */
static int
tls_send(struct conn *c, const uint8_t *p, size_t n, uint64_t deadline)
{
	for (;;) {
		size_t took = 0;
		int    rc   = n > 0 ? cw_tls_write(c->tls, p, n, &took)
		                    : cw_tls_flush(c->tls);
		if (rc == 0) {
			p += took;
			n -= took;
			if (n == 0 && !cw_tls_pending_out(c->tls))
				return 0;
			continue;
		}
		if (rc != CW_TLS_WANT_WRITE && rc != CW_TLS_WANT_READ)
			return BROKEN;
		if ((rc = tls_wait(c->fd, rc, deadline)) != 0)
			return rc;
	}
}

/* Writes every byte of iov[0..n). Returns 0, BROKEN or CW_ETIMEDOUT. */
static int
send_all(struct conn *c, struct iovec *iov, int n, uint64_t deadline)
{
	if (c->tls != NULL) {
		/* one record for a small request: the pieces copied
		 * together, so a frame's header rides with its body */
		uint8_t buf[16384];
		size_t  bl = 0;
		int     rc;
		for (int i = 0; i < n; i++) {
			const uint8_t *p = iov[i].iov_base;
			size_t         l = iov[i].iov_len;
			if (bl + l <= sizeof(buf)) {
				memcpy(buf + bl, p, l);
				bl += l;
				continue;
			}
			if (bl > 0 &&
			    (rc = tls_send(c, buf, bl, deadline)) != 0)
				return rc;
			bl = 0;
			if ((rc = tls_send(c, p, l, deadline)) != 0)
				return rc;
		}
		return bl > 0 ? tls_send(c, buf, bl, deadline) : 0;
	}
	int fd = c->fd;
	while (n > 0) {
		struct msghdr mh = { .msg_iov = iov,
			.msg_iovlen           = (size_t) n };
		ssize_t       w  = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			int rc;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return BROKEN;
			if ((rc = wait_fd(fd, POLLOUT, deadline)) != 0)
				return rc;
			continue;
		}
		size_t k = (size_t) w; /* skip what went out */
		while (n > 0 && k >= iov->iov_len) {
			k -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *) iov->iov_base + k;
			iov->iov_len -= k;
		}
	}
	return 0;
}

/* Reads at least 1 and at most cap bytes. OUT: *got. Returns 0, BROKEN
 * (end of stream or an error) or CW_ETIMEDOUT. */
static int
recv_some(struct conn *c, void *p, size_t cap, size_t *got, uint64_t deadline)
{
	for (;;) {
		if (c->tls != NULL) {
			int rc = cw_tls_read(c->tls, p, cap, got);
			if (rc == 0)
				return 0;
			if (rc != CW_TLS_WANT_READ && rc != CW_TLS_WANT_WRITE)
				return BROKEN;
			if ((rc = tls_wait(c->fd, rc, deadline)) != 0)
				return rc;
			continue;
		}
		ssize_t r = recv(c->fd, p, cap, 0);
		if (r > 0) {
			*got = (size_t) r;
			return 0;
		}
		if (r == 0)
			return BROKEN;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return BROKEN;
		int rc = wait_fd(c->fd, POLLIN, deadline);
		if (rc != 0)
			return rc;
	}
}

static int
recv_all(struct conn *c, void *p, size_t len, uint64_t deadline)
{
	for (size_t off = 0, got; off < len; off += got) {
		int rc =
		    recv_some(c, (char *) p + off, len - off, &got, deadline);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- connections ---- */

static void
conn_close(struct conn *c)
{
	if (c == NULL)
		return;
	cw_tls_free(c->tls);
	close(c->fd);
	cw_free(c);
}

/* Connects fd to sa within the deadline. Returns 0, CW_EUNAVAIL (refused,
 * unreachable) or CW_ETIMEDOUT. */
static int
connect_fd(int fd, const struct sockaddr *sa, socklen_t len, uint64_t deadline)
{
	int       err = 0;
	socklen_t el  = sizeof(err);
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR)
		return CW_EUNAVAIL;
	int rc = wait_fd(fd, POLLOUT, deadline);
	if (rc != 0)
		return rc == BROKEN ? CW_EUNAVAIL : rc;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)
		return CW_EUNAVAIL;
	return 0;
}

/* The SP header exchange. Returns 0, CW_EPROTO (the peer is not an nng
 * rep socket), CW_EUNAVAIL (it closed) or CW_ETIMEDOUT. */
static int
handshake(struct conn *c, uint64_t deadline)
{
	uint8_t      mine[8] = { 0, 'S', 'P', 0, 0, PROTO_REQ0, 0, 0 };
	uint8_t      peer[8];
	struct iovec iov = { mine, sizeof(mine) };
	int          rc  = send_all(c, &iov, 1, deadline);
	if (rc == 0)
		rc = recv_all(c, peer, sizeof(peer), deadline);
	if (rc != 0)
		return rc == BROKEN ? CW_EUNAVAIL : rc;
	if (peer[0] != 0 || peer[1] != 'S' || peer[2] != 'P' || peer[3] != 0 ||
	    peer[4] != 0 || peer[5] != PROTO_REP0 || peer[6] != 0 ||
	    peer[7] != 0)
		return CW_EPROTO;
	return 0;
}

/* The TLS handshake on c. Returns 0, CW_EAUTH (the server's certificate
 * does not verify or name it; logged), CW_EPROTO (no TLS server there),
 * CW_EUNAVAIL, CW_ETIMEDOUT or CW_ENOMEM. */
static int
tls_start(cw_net *n, struct conn *c, uint64_t deadline)
{
	int         rc;
	const char *why;
	if ((rc = cw_tls_new(&c->tls, n->tls, c->fd, n->server_name)) != 0)
		return rc;
	while ((rc = cw_tls_handshake(c->tls, &why)) == CW_TLS_WANT_READ ||
	    rc == CW_TLS_WANT_WRITE)
		if ((rc = tls_wait(c->fd, rc, deadline)) != 0)
			return rc == BROKEN ? CW_EUNAVAIL : rc;
	if (rc != 0)
		cw_log(CW_LOG_INFO, "client", "TLS with %s: %s",
		    n->server_name, why ? why : cw_strerror(rc));
	return rc;
}

/* One attempt at one address. OUT: *fd, and c's session. */
static int
dial_one(cw_net *n, struct conn *c, int family, const struct sockaddr *sa,
    socklen_t len, uint64_t deadline)
{
	int one = 1;
	int rc;
	c->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return errno == ENOMEM || errno == ENOBUFS ? CW_ENOMEM
		                                           : CW_EUNAVAIL;
	if ((rc = connect_fd(c->fd, sa, len, deadline)) != 0)
		goto out_close;
	if (family != AF_UNIX)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (n->tls != NULL && (rc = tls_start(n, c, deadline)) != 0)
		goto out_close;
	if ((rc = handshake(c, deadline)) != 0)
		goto out_close;
	return 0;
out_close:
	cw_tls_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	return rc;
}

/* Dials a new connection. OUT: *out. Returns 0, CW_EUNAVAIL,
 * CW_ETIMEDOUT, CW_EPROTO, CW_EINVAL (the host does not resolve) or
 * CW_ENOMEM. */
static int
dial(cw_net *n, uint64_t deadline, struct conn **out)
{
	struct conn *c;
	int          rc;
	if ((c = cw_calloc(1, sizeof(*c))) == NULL)
		return CW_ENOMEM;
	c->fd  = -1;
	c->gen = atomic_load(&n->gen);
	if (n->ipc) {
		rc = dial_one(n, c, AF_UNIX, (const struct sockaddr *) &n->un,
		    sizeof(n->un), deadline);
	} else {
		struct addrinfo hints = { .ai_family = n->family,
			.ai_socktype                 = SOCK_STREAM,
			.ai_flags                    = AI_NUMERICSERV },
		                *res, *ai;
		int gai = getaddrinfo(n->host, n->port, &hints, &res);
		if (gai != 0) {
			cw_log(CW_LOG_INFO, "client", "resolve %s: %s",
			    n->host, gai_strerror(gai));
			cw_free(c);
			return gai == EAI_MEMORY ? CW_ENOMEM
			    : gai == EAI_AGAIN   ? CW_EUNAVAIL
			                         : CW_EINVAL;
		}
		rc = CW_EUNAVAIL;
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			rc = dial_one(n, c, ai->ai_family, ai->ai_addr,
			    ai->ai_addrlen, deadline);
			if (rc == 0 || rc == CW_ETIMEDOUT || rc == CW_ENOMEM ||
			    rc == CW_EAUTH)
				break;
		}
		freeaddrinfo(res);
	}
	if (rc != 0) {
		cw_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* True if the server has not closed idle c, nor sent on it. */
static bool
conn_alive(struct conn *c)
{
	char    b;
	ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	/* with TLS too: a close_notify, or anything, is bytes to read */
	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
	    (c->tls == NULL || cw_tls_pending_in(c->tls) == 0);
}

/* An idle connection, or NULL. One the server closed while it sat idle
 * (it stopped, or restarted) is dropped here, before a request goes into
 * it: that request then never is in doubt. The drop counts as a break
 * all the same: the server's transactions may be gone. */
static struct conn *
pool_get(cw_net *n)
{
	for (;;) {
		struct conn *c = NULL;
		pthread_mutex_lock(&n->mu);
		if (n->nidle > 0)
			c = n->idle[--n->nidle];
		pthread_mutex_unlock(&n->mu);
		if (c == NULL || conn_alive(c))
			return c;
		conn_close(c);
		atomic_fetch_add(&n->gen, 1);
	}
}

static void
pool_put(cw_net *n, struct conn *c)
{
	pthread_mutex_lock(&n->mu);
	if (n->nidle < POOL) {
		n->idle[n->nidle++] = c;
		c                   = NULL;
	}
	pthread_mutex_unlock(&n->mu);
	conn_close(c);
}

/* One request and its reply on c. OUT: *rep (cw_free), *replen. Returns
 * 0, BROKEN, CW_ETIMEDOUT, CW_EPROTO (a malformed frame, or the reply of
 * another request), CW_ETOOBIG (the reply exceeds MAX_REPLY) or
 * CW_ENOMEM. On anything but 0 the connection is in an unknown state and
 * must be closed. */
static int
exchange(cw_net *n, struct conn *c, const void *req, size_t len,
    uint64_t deadline, void **rep, size_t *replen)
{
	uint8_t hdr[13], first[FIRST_READ];
	size_t  hl = n->ipc ? 13 : 12, got = 0, more;
	int     rc;
	c->id = (c->id + 1) & 0x7fffffffu;
	if (c->id == 0)
		c->id = 1;
	uint32_t id = c->id | 0x80000000u;
	uint8_t *h  = hdr;
	if (n->ipc)
		*h++ = 1;
	cw_st_be64(h, (uint64_t) len + 4);
	h[8]                = (uint8_t) (id >> 24);
	h[9]                = (uint8_t) (id >> 16);
	h[10]               = (uint8_t) (id >> 8);
	h[11]               = (uint8_t) id;
	struct iovec iov[2] = { { hdr, hl }, { (void *) req, len } };
	if ((rc = send_all(c, iov, len > 0 ? 2 : 1, deadline)) != 0)
		return rc;
	/* the reply is not there yet: sleep until it is */
	if ((rc = wait_fd(c->fd, POLLIN, deadline)) != 0)
		return rc;
	while (got < hl) {
		if ((rc = recv_some(c, first + got, sizeof(first) - got, &more,
		         deadline)) != 0)
			return rc;
		got += more;
	}
	h = first;
	if (n->ipc && *h++ != 1)
		return CW_EPROTO;
	uint64_t flen = cw_ld_be64(h);
	uint32_t rid  = (uint32_t) h[8] << 24 | (uint32_t) h[9] << 16 |
	    (uint32_t) h[10] << 8 | h[11];
	if (flen < 4 || rid != id)
		return CW_EPROTO;
	if (flen - 4 > MAX_REPLY)
		return CW_ETOOBIG;
	size_t blen = (size_t) (flen - 4), have = got - hl;
	if (have > blen) /* bytes past the reply: not a rep0 peer */
		return CW_EPROTO;
	uint8_t *body = cw_malloc(blen ? blen : 1);
	if (body == NULL)
		return CW_ENOMEM;
	memcpy(body, first + hl, have);
	if ((rc = recv_all(c, body + have, blen - have, deadline)) != 0) {
		cw_free(body);
		return rc;
	}
	*rep    = body;
	*replen = blen;
	return 0;
}

static void
pause_ms(uint64_t ms)
{
	struct timespec ts = { (time_t) (ms / 1000),
		(long) (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* How to build a request's copy for a resend: the same request marked
 * resent (cw_net_call); NULL for raw bytes, sent again as they are. */
struct again {
	cw_req      *h;
	const cw_op *w, *r;
	size_t       nw, nr;
	uint64_t     first_ms; /* when the request was first sent */
	cw_buf       buf;      /* the copy, once made */
};

/* The round trip of cw_net_roundtrip, also reporting the generation of
 * the connection the reply came on. */
static int
roundtrip(cw_net *n, const void *req, size_t len, void **rep, size_t *replen,
    uint32_t *gen, struct again *ag)
{
	uint64_t t0       = cw_mono_ms(); /* before the first send */
	uint64_t deadline = t0 + (uint64_t) atomic_load(&n->timeout_ms);
	uint64_t backoff  = 50;
	int      breaks   = 0, rc;
	bool     doubt = false; /* the request may have reached the server */
	*rep           = NULL;
	*replen        = 0;
	if (len > MAX_REQUEST)
		return CW_ETOOBIG;
	for (;;) {
		struct conn *c = pool_get(n);
		if (c == NULL && (rc = dial(n, deadline, &c)) != 0) {
			/* a new request fails at once: the caller may try
			 * another DC. One that may have gone out waits for
			 * the server to come back, to learn its outcome. */
			if (!doubt || rc != CW_EUNAVAIL)
				return rc;
			uint64_t now = cw_mono_ms();
			if (now >= deadline)
				return CW_EUNAVAIL;
			pause_ms(deadline - now < backoff ? deadline - now
			                                  : backoff);
			backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
			continue;
		}
		if (doubt && ag != NULL) {
			/* the copy: marked resent, the epoch the one of the
			 * first send, and its age now, which the server needs
			 * to judge a copy from before its restart (never
			 * less than the true age) */
			ag->h->resent = true;
			ag->h->age_ms = cw_mono_ms() - ag->first_ms + 1;
			ag->buf.len   = 0;
			if ((rc = cw_schema_req_encode(ag->h, ag->w, ag->nw,
			         ag->r, ag->nr, &ag->buf)) != 0) {
				pool_put(n, c);
				return rc;
			}
			req = ag->buf.p;
			len = ag->buf.len;
		}
		rc = exchange(n, c, req, len, deadline, rep, replen);
		if (rc == 0) {
			*gen = c->gen;
			pool_put(n, c);
			return 0;
		}
		conn_close(c);
		if (rc != BROKEN)
			return rc;
		atomic_fetch_add(&n->gen, 1);
		doubt = true;
		if (++breaks > MAX_BREAKS) {
			cw_log(CW_LOG_INFO, "client",
			    "the server closed the connection %d times",
			    breaks);
			return CW_EUNAVAIL;
		}
	}
}

int
cw_net_roundtrip(
    cw_net *n, const void *req, size_t len, void **rep, size_t *replen)
{
	uint32_t gen;
	return roundtrip(n, req, len, rep, replen, &gen, NULL);
}

/* Splits "HOST:PORT" or "[V6HOST]:PORT" into n: a host to dial and a
 * port from 1. Returns 0 or CW_EINVAL. */
static int
parse_hostport(cw_net *n, const char *s)
{
	if (cw_split_hostport(
	        s, n->host, sizeof(n->host), n->port, sizeof(n->port)) != 0 ||
	    n->host[0] == '\0' || atoi(n->port) < 1)
		return CW_EINVAL;
	return 0;
}

static int
parse_url(cw_net *n, const char *url)
{
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		n->family = AF_UNSPEC;
		return parse_hostport(n, url + 10);
	}
	static const struct {
		const char *scheme;
		int         family;
	} tcp[] = { { "tcp://", AF_UNSPEC }, { "tcp4://", AF_INET },
		{ "tcp6://", AF_INET6 } };
	for (size_t i = 0; i < sizeof(tcp) / sizeof(tcp[0]); i++) {
		size_t sl = strlen(tcp[i].scheme);
		if (strncmp(url, tcp[i].scheme, sl) == 0) {
			n->family = tcp[i].family;
			return parse_hostport(n, url + sl);
		}
	}
	if (strncmp(url, "ipc://", 6) == 0) {
		const char *path = url + 6;
		size_t      pl   = strlen(path);
		if (pl == 0 || pl >= sizeof(n->un.sun_path))
			return CW_EINVAL;
		n->ipc           = true;
		n->un.sun_family = AF_UNIX;
		memcpy(n->un.sun_path, path, pl + 1);
		return 0;
	}
	return CW_EINVAL;
}

int
cw_net_open(cw_net **out, const char *url)
{
	return cw_net_open_tls(out, url, NULL);
}

int
cw_net_open_tls(cw_net **out, const char *url, const cw_net_tls *t)
{
	cw_net      *n;
	struct conn *c;
	int          rc;
	*out = NULL;
	if ((n = cw_calloc(1, sizeof(*n))) == NULL)
		return CW_ENOMEM;
	if ((rc = parse_url(n, url)) != 0) {
		cw_log(CW_LOG_INFO, "client",
		    "not a tcp://, tls+tcp:// or ipc:// URL: %s", url);
		goto out_free;
	}
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		if (t == NULL || t->ca_file == NULL) {
			cw_log(CW_LOG_ERROR, "client",
			    "%s: TLS needs the CA file that signed the "
			    "server's certificate",
			    url);
			rc = CW_EINVAL;
			goto out_free;
		}
		if ((rc = cw_tls_conf_client(
		         &n->tls, t->ca_file, t->cert_file, t->key_file)) != 0)
			goto out_free;
		snprintf(n->server_name, sizeof(n->server_name), "%s",
		    t->server_name ? t->server_name : n->host);
	}
	atomic_store(&n->timeout_ms, 5000);
	if ((rc = dial(n, cw_mono_ms() + 5000, &c)) != 0) {
		cw_log(CW_LOG_INFO, "client", "dial %s: %s", url,
		    cw_strerror(rc));
		goto out_free;
	}
	if (getrandom(&n->sid, sizeof(n->sid), 0) != sizeof(n->sid))
		n->sid = cw_now_ms() ^ (uint64_t) (uintptr_t) n;
	n->sid |= 1; /* 0 means "no session" */
	pthread_mutex_init(&n->mu, NULL);
	pthread_mutex_init(&n->login_mu, NULL);
	n->idle[n->nidle++] = c;
	*out                = n;
	return 0;
out_free:
	cw_tls_conf_free(n->tls);
	cw_free(n);
	return rc;
}

void
cw_net_close(cw_net *n)
{
	if (n == NULL)
		return;
	for (int i = 0; i < n->nidle; i++)
		conn_close(n->idle[i]);
	pthread_mutex_destroy(&n->mu);
	pthread_mutex_destroy(&n->login_mu);
	cw_tls_conf_free(n->tls);
	cw_free(n->user);
	if (n->pw != NULL)
		explicit_bzero(n->pw, n->pwlen);
	cw_free(n->pw);
	explicit_bzero(n->token, sizeof(n->token));
	cw_free(n);
}

void
cw_net_set_timeout(cw_net *n, int ms)
{
	atomic_store(&n->timeout_ms, ms);
}

/* One call: the request with the session's token. *first_ms is 0 for a
 * new request (it gets its id and the epoch known now, and *first_ms
 * the time); otherwise h is a copy of the request first sent then, with
 * the same id and epoch, marked resent: an earlier copy may have run at
 * a server whose reply never came, and the server must judge this one
 * as its copy (its reply cache, the commit tags), never run it as a new
 * request. */
static int
call_once(cw_net *n, cw_req *h, const cw_op *w, size_t nw, const cw_op *r,
    size_t nr, cw_net_reply *out, uint64_t *first_ms)
{
	cw_buf       req = { 0 };
	struct again ag  = { h, w, r, nw, nr, 0, { 0 } };
	int          rc;
	memset(out, 0, sizeof(*out));
	if (*first_ms == 0) {
		*first_ms = cw_mono_ms();
		h->sid    = n->sid;
		h->rid    = atomic_fetch_add(&n->rid, 1) + 1;
		h->epoch  = atomic_load(&n->epoch);
		h->resent = false;
		h->age_ms = 0;
	} else {
		h->resent = true;
		h->age_ms = cw_mono_ms() - *first_ms + 1;
	}
	ag.first_ms = *first_ms;
	if ((rc = cw_schema_req_encode(h, w, nw, r, nr, &req)) != 0)
		return rc;
	rc = roundtrip(
	    n, req.p, req.len, &out->buf, &out->len, &out->pipe, &ag);
	cw_buf_fini(&req);
	cw_buf_fini(&ag.buf);
	if (rc != 0)
		return rc;
	rc = cw_schema_rep_decode(out->buf, out->len, &out->rep);
	if (rc != 0) {
		cw_log(CW_LOG_WARN, "client", "malformed reply (%zu bytes)",
		    out->len);
		cw_free(out->buf);
		out->buf = NULL;
	} else if (out->rep.epoch != 0) {
		atomic_store(&n->epoch, out->rep.epoch);
	}
	return rc;
}

/* Logs in with the session's user and password, unless another call did
 * since login number `seen`. Returns 0, CW_EAUTH or a transport error. */
static int
relogin(cw_net *n, uint32_t seen)
{
	cw_net_reply rep;
	pthread_mutex_lock(&n->login_mu);
	pthread_mutex_lock(&n->mu);
	bool done = n->logins != seen;
	pthread_mutex_unlock(&n->mu);
	if (done) {
		pthread_mutex_unlock(&n->login_mu);
		return 0;
	}
	cw_req   h     = { .kind = CW_REQ_AUTH,
		      .user      = n->user,
		      .userlen   = strlen(n->user),
		      .password  = n->pw,
		      .pwlen     = n->pwlen };
	uint64_t first = 0; /* a login of its own */
	int      rc    = call_once(n, &h, NULL, 0, NULL, 0, &rep, &first);
	if (rc == 0 && (rc = rep.rep.err) == 0 &&
	    rep.rep.tokenlen != CW_TOKEN_LEN)
		rc = CW_EPROTO;
	pthread_mutex_lock(&n->mu);
	if (rc == 0) {
		memcpy(n->token, rep.rep.token, CW_TOKEN_LEN);
		n->has_token = true;
	}
	n->logins++;
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_unlock(&n->login_mu);
	cw_net_reply_fini(&rep);
	return rc;
}

int
cw_net_login(cw_net *n, const char *user, const char *pw)
{
	if (user == NULL || pw == NULL || n->user != NULL)
		return CW_EINVAL;
	if ((n->user = cw_memdup(user, strlen(user) + 1)) == NULL ||
	    (n->pw = cw_memdup(pw, strlen(pw) + 1)) == NULL)
		return CW_ENOMEM;
	n->pwlen = strlen(pw);
	return relogin(n, 0);
}

int
cw_net_call(cw_net *n, cw_req *h, const cw_op *w, size_t nw, const cw_op *r,
    size_t nr, cw_net_reply *out)
{
	uint8_t  tok[CW_TOKEN_LEN];
	uint64_t first_ms = 0;
	for (int attempt = 0;; attempt++) {
		pthread_mutex_lock(&n->mu);
		uint32_t seen = n->logins;
		bool     has  = n->has_token;
		memcpy(tok, n->token, sizeof(tok));
		pthread_mutex_unlock(&n->mu);
		h->token    = has ? tok : NULL;
		h->tokenlen = has ? sizeof(tok) : 0;
		int rc      = call_once(n, h, w, nw, r, nr, out, &first_ms);
		/* refused for want of a login that this DC knows (it
		 * restarted, the session moved, or it ended the session):
		 * this copy did not run, but one sent before a broken
		 * connection may have (a restarted server refuses the old
		 * token): log in again and send the same request again, a
		 * copy (call_once) */
		if (rc != 0 || out->rep.err != CW_EAUTH || n->user == NULL ||
		    attempt > 0)
			return rc;
		if ((rc = relogin(n, seen)) == CW_EAUTH)
			return 0; /* the login failed: out says CW_EAUTH */
		if (rc != 0) {
			cw_net_reply_fini(out);
			return rc;
		}
		cw_net_reply_fini(out);
	}
}

void
cw_net_reply_fini(cw_net_reply *r)
{
	if (r->buf != NULL) {
		cw_schema_rep_fini(&r->rep);
		cw_free(r->buf);
		r->buf = NULL;
	}
}
