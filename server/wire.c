/*
 * wire.c - causewayd's rep0 side of the client wire on epoll; see wire.h.
 *
 * A connection's life: accepted by I/O thread 0 (which also owns the
 * listeners), it is given to a thread round robin and added to that
 * thread's epoll set, level-triggered. Its owner reads it: the peer's SP
 * header first, then frames, each handed to the handler. A request holds
 * a reference to its connection until it is answered, so a reply never
 * meets a closed (and maybe reused) descriptor: a connection that breaks
 * is marked dead, leaves the epoll set, and its descriptor is closed when
 * the last reference goes.
 *
 * Locks: w->mu guards the list of connections and its count; conn->mu
 * guards a connection's shared state (refs, dead, inflight, the output
 * queue, poked, held), and is held while writing to its socket, so replies go
 * out whole and in order; io->mu guards an I/O thread's list of poked
 * connections. Order: conn->mu, then io->mu.
 */
#include "wire.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "sec.h"
#include "util.h"

#define PROTO_REQ0 0x30
#define PROTO_REP0 0x31
#define MAX_HOPS 8       /* backtrace words, as nng's rep0 */
#define READ_CHUNK 4096  /* the least a read asks for */
#define READS_PER_WAKE 8 /* then other connections get their turn */
#define READ_BUDGET                                               \
	(256u << 10) /* nor more bytes than this a wake (a client \
	              * sending huge frames once kept its I/O     \
	              * thread copying for tens of ms a wake) */
#define MAX_LISTENERS 16
#define TLS_DIRECT 16384 /* a TLS reply this small skips the queue */
#define IN_KEEP                                               \
	16384 /* an input buffer larger than this is freed or \
	       * shrunk once the frames in it are taken */
struct obuf { /* reply bytes the socket did not take yet */
	struct obuf *next;
	size_t       len, off;
	uint8_t      p[];
};

struct io;

struct conn {
	cw_wire        *w;
	struct io      *io; /* the owner */
	int             fd;
	bool            ipc;
	char            peer[48]; /* the client's address, as text */
	pthread_mutex_t mu;
	/* mu guards: */
	cw_tls *tls;   /* tls+tcp://: the session (reads and writes) */
	int     refs;  /* the owner's (while owned) and each request's */
	bool    dead;  /* broken or closed: nothing more is written */
	bool    poked; /* in io->poked */
	bool    held;  /* whole requests wait in the input buffer for
	                * room (frames); whoever makes room pokes */
	uint32_t     inflight;
	size_t       in_bytes; /* of the requests in flight */
	struct obuf *oq, *oq_tail;
	size_t       oq_bytes; /* in oq */
	/* a whole request read, or reply bytes written (cw_mono_ms) */
	_Atomic uint64_t active_ms;
	cw_tally_ent    *addr; /* its count in w->addrs, or NULL (ipc://) */
	/* the owner's alone: */
	uint64_t     pause_ms;   /* not read before this (addr_bps), or 0 */
	struct conn *pause_next; /* in io->paused, while pause_ms */
	bool         owned;      /* the owner holds its reference */
	uint32_t     events;     /* the epoll interest now */
	bool         tls_up;     /* the TLS handshake is done (or no TLS) */
	int          hs_want;    /* what the TLS handshake waits for */
	uint8_t      hs[8];      /* the peer's SP header, as it comes */
	size_t       hs_got;
	uint8_t     *in; /* bytes read, not yet a whole frame: in_lead(c)
	                  * bytes into an allocation of in_cap + lead */
	size_t       in_len, in_cap;
	struct conn *poke_next;   /* in io->poked */
	struct conn *prev, *next; /* in w->conns */
};

struct io {
	cw_wire        *w;
	int             ep;  /* epoll */
	int             efd; /* eventfd: poked or stopping */
	pthread_t       th;
	bool            started;
	uint64_t        sweep_ms; /* the owner's: when to look for idle ones */
	struct conn    *paused;   /* the owner's: pause_ms set, a ref each */
	pthread_mutex_t mu;
	/* mu guards: */
	struct conn *poked; /* connections whose interest may change */
};

struct listener {
	int  fd;
	bool ipc, tls;
	char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
};

struct cw_wire_req {
	struct conn *c;
	size_t       hdr_len; /* the backtrace, at bytes */
	size_t       len;     /* of bytes */
	size_t       user;
	uint8_t     *bytes; /* the backtrace and the body */
	uint8_t     *own;   /* the input buffer bytes points into, when a
	                     * large frame was handed over, or NULL */
	_Alignas(max_align_t) uint8_t room[];
};

/* Where a frame's body lands, and why it matters: the schema reads a
 * request in place only when it is 8-byte aligned, and copies it
 * otherwise (schema.cc, prepare). A client's frame is the SP length (8
 * bytes, 9 on ipc), a backtrace of one request id (4), then the body; so
 * c->in starts in_lead(c) bytes into its allocation, and a frame at its
 * start has its body aligned. Before, every request's body sat 4 bytes
 * off: a 15 MiB frame was copied again, faulting in 15 MiB more. */
#define REQ_ID_LEN 4
static size_t
in_lead(const struct conn *c)
{
	size_t pl = c->ipc ? 9 : 8;
	return (8 - (pl + REQ_ID_LEN) % 8) % 8;
}

static void
in_free(struct conn *c)
{
	if (c->in != NULL)
		cw_free(c->in - in_lead(c));
	c->in     = NULL;
	c->in_cap = 0;
}

/* Resizes c->in to cap bytes (its lead kept). Returns false without
 * memory, c->in unchanged. */
static bool
in_resize(struct conn *c, size_t cap)
{
	size_t   lead = in_lead(c);
	uint8_t *p    = cw_realloc(c->in ? c->in - lead : NULL, cap + lead);
	if (p == NULL)
		return false;
	c->in     = p + lead;
	c->in_cap = cap;
	return true;
}

struct cw_wire {
	cw_wire_fn       fn;
	void            *arg;
	size_t           max_msg, user;
	struct io       *io;
	uint32_t         nio;
	_Atomic uint32_t next_io;
	_Atomic bool     stopping;
	int              spare; /* a descriptor held for EMFILE */
	cw_tls_conf     *tls;   /* borrowed; for tls+tcp:// listeners */
	cw_wire_limits   lim;
	_Atomic uint64_t refused_full, refused_addr, closed_idle, paused_rate;
	_Atomic uint64_t queued; /* every connection's oq_bytes */
	struct listener  lis[MAX_LISTENERS];
	int              nlis;
	pthread_mutex_t  mu;
	/* mu guards: */
	struct conn *conns;
	uint32_t     nconns;
	cw_tally    *addrs; /* connections per client address */
};

/* ---- connections ---- */

/* Frees c's queued replies. Caller holds c->mu (or the last reference). */
static void
oq_free(struct conn *c)
{
	while (c->oq != NULL) {
		struct obuf *b = c->oq;
		c->oq          = b->next;
		cw_free(b);
	}
	c->oq_tail = NULL;
	atomic_fetch_sub(&c->w->queued, c->oq_bytes);
	c->oq_bytes = 0;
}

/* Takes n bytes off the head of c's queue (they were written). Caller
 * holds c->mu. */
static void
oq_took(struct conn *c, size_t n)
{
	struct obuf *b = c->oq;
	b->off += n;
	c->oq_bytes -= n;
	atomic_fetch_sub(&c->w->queued, n);
	if (n > 0)
		atomic_store(&c->active_ms, cw_mono_ms());
	if (b->off < b->len)
		return;
	c->oq = b->next;
	if (c->oq == NULL)
		c->oq_tail = NULL;
	cw_free(b);
}

/* Whether c may take no more requests for now. Caller holds c->mu. */
static bool
full_locked(const struct conn *c)
{
	return c->inflight >= WIRE_INFLIGHT ||
	    c->in_bytes >= c->w->lim.in_max || c->oq_bytes > c->w->lim.out_max;
}

static void
conn_unref(struct conn *c)
{
	pthread_mutex_lock(&c->mu);
	assert(c->refs > 0);
	bool last = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	cw_wire *w = c->w;
	pthread_mutex_lock(&w->mu);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	w->nconns--;
	cw_tally_put(w->addrs, c->addr);
	pthread_mutex_unlock(&w->mu);
	cw_tls_free(c->tls);
	close(c->fd);
	oq_free(c);
	pthread_mutex_destroy(&c->mu);
	in_free(c);
	cw_free(c);
}

/* Asks c's owner to look at its interest again (a reply left bytes
 * queued, or freed room for requests). Caller holds c->mu. */
static void
poke_locked(struct conn *c)
{
	if (c->poked || c->dead)
		return;
	c->poked = true;
	c->refs++; /* the poked list's */
	struct io *io = c->io;
	pthread_mutex_lock(&io->mu);
	c->poke_next = io->poked;
	io->poked    = c;
	pthread_mutex_unlock(&io->mu);
	uint64_t one = 1;
	if (write(io->efd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the owner is awake anyway */
	}
}

static bool
write_queued_locked(struct conn *c)
{
	if (c->tls != NULL) {
		int rc = 0;
		while (rc == 0 && c->oq != NULL) {
			struct obuf *b    = c->oq;
			size_t       took = 0;
			rc                = cw_tls_write(
			                   c->tls, b->p + b->off, b->len - b->off, &took);
			if (rc == 0 || took > 0)
				oq_took(c, took);
		}
		if (rc == 0)
			rc = cw_tls_flush(c->tls);
		return rc == 0 || rc == CW_TLS_WANT_WRITE;
	}
	while (c->oq != NULL) {
		struct obuf *b = c->oq;
		ssize_t      n =
		    send(c->fd, b->p + b->off, b->len - b->off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		oq_took(c, (size_t) n);
	}
	return true;
}

/* Writes what is queued on c, as far as the socket takes it; if that
 * made room for requests that wait in the input buffer, its owner is
 * poked to take them. Caller holds c->mu. Returns false if the
 * connection broke. */
static bool
flush_locked(struct conn *c)
{
	bool ok = write_queued_locked(c);
	if (ok && c->held && !full_locked(c))
		poke_locked(c);
	return ok;
}

/* Whether c has bytes to write: queued replies, or the rest of a TLS
 * record. Caller holds c->mu. */
static bool
queued_locked(const struct conn *c)
{
	return c->oq != NULL || (c->tls != NULL && cw_tls_pending_out(c->tls));
}

/* Marks c dead: nothing more is read or written. Caller holds c->mu. */
static void
kill_locked(struct conn *c)
{
	c->dead = true;
	oq_free(c);
}

/* The owner drops a connection that broke or spoke garbage: out of the
 * epoll set, and the owner's reference goes. */
static void
conn_close(struct conn *c)
{
	pthread_mutex_lock(&c->mu);
	kill_locked(c);
	pthread_mutex_unlock(&c->mu);
	epoll_ctl(c->io->ep, EPOLL_CTL_DEL, c->fd, NULL);
	/* shut it now: requests still out hold the descriptor open */
	shutdown(c->fd, SHUT_RDWR);
	c->owned = false;
	conn_unref(c);
}

/* The owner sets c's epoll interest from its state: read while it has
 * room for requests, write while replies are queued. */
static void
conn_rearm(struct conn *c)
{
	pthread_mutex_lock(&c->mu);
	uint32_t want = 0;
	if (!c->dead && !full_locked(c) && c->pause_ms == 0)
		want |= EPOLLIN;
	if (!c->dead && queued_locked(c))
		want |= EPOLLOUT;
	if (!c->dead && !c->tls_up) /* the handshake decides */
		want = c->hs_want == CW_TLS_WANT_WRITE ? EPOLLOUT : EPOLLIN;
	pthread_mutex_unlock(&c->mu);
	if (want == c->events)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = c };
	if (epoll_ctl(c->io->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/* ---- requests ---- */

const char *
cw_wire_peer(cw_wire_req *r)
{
	return r->c->peer;
}

void *
cw_wire_user(cw_wire_req *r)
{
	return r->room;
}

/* Ends r: its connection may take another request. */
static void
req_end(cw_wire_req *r)
{
	struct conn *c = r->c;
	pthread_mutex_lock(&c->mu);
	assert(c->inflight > 0 && c->in_bytes >= r->len);
	bool was_full = full_locked(c);
	c->inflight--;
	c->in_bytes -= r->len;
	if ((was_full || c->held) && !full_locked(c))
		poke_locked(c); /* read it again */
	pthread_mutex_unlock(&c->mu);
	cw_free(r->own);
	cw_free(r);
	conn_unref(c);
}

void
cw_wire_drop(cw_wire_req *r)
{
	if (r != NULL)
		req_end(r);
}

void
cw_wire_reply(cw_wire_req *r, const void *p, size_t len)
{
	struct conn *c = r->c;
	uint8_t      pre[9];
	size_t       pl = 0;
	assert(r->hdr_len >= 4 && r->hdr_len <= 4 * MAX_HOPS);
	if (c->ipc)
		pre[pl++] = 1;
	cw_st_be64(pre + pl, r->hdr_len + len);
	pl += 8;
	struct iovec iov[3] = { { pre, pl }, { r->bytes, r->hdr_len },
		{ (void *) p, len } };
	size_t       total = pl + r->hdr_len + len, sent = 0;
	pthread_mutex_lock(&c->mu);
	if (c->dead)
		goto out;
	if (c->oq == NULL && c->tls != NULL && !cw_tls_pending_out(c->tls) &&
	    total <= TLS_DIRECT) {
		/* a small reply: one record straight into the session, no
		 * queue (what the socket does not take of the record, the
		 * session keeps: cw_tls_pending_out) */
		uint8_t buf[TLS_DIRECT];
		size_t  at = 0, took = 0;
		for (int i = 0; i < 3; i++) {
			memcpy(buf + at, iov[i].iov_base, iov[i].iov_len);
			at += iov[i].iov_len;
		}
		int rc = cw_tls_write(c->tls, buf, total, &took);
		if (rc != 0 && rc != CW_TLS_WANT_WRITE) {
			kill_locked(c); /* the owner sees the error too */
			goto out;
		}
		sent = took;
		if (sent == total && cw_tls_pending_out(c->tls))
			poke_locked(c); /* the owner flushes the rest */
	}
	if (c->oq == NULL && c->tls == NULL) { /* straight into the socket */
		for (;;) {
			struct iovec v[3];
			int          nv = 0;
			size_t       k  = sent;
			for (int i = 0; i < 3; i++) {
				if (k >= iov[i].iov_len) {
					k -= iov[i].iov_len;
					continue;
				}
				v[nv].iov_base =
				    (uint8_t *) iov[i].iov_base + k;
				v[nv].iov_len = iov[i].iov_len - k;
				nv++;
				k = 0;
			}
			if (nv == 0)
				break;
			struct msghdr mh = { .msg_iov = v,
				.msg_iovlen           = (size_t) nv };
			ssize_t       n  = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
			if (n > 0) {
				sent += (size_t) n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			kill_locked(c); /* the owner sees the error too */
			goto out;
		}
	}
	if (sent > 0)
		atomic_store(&c->active_ms, cw_mono_ms());
	if (sent < total) { /* queue the rest for the owner */
		struct obuf *b = cw_malloc(sizeof(*b) + total - sent);
		if (b == NULL) {
			/* a reply cut short would desynchronise the stream */
			cw_log(CW_LOG_ERROR, "wire",
			    "no memory to queue a reply: closing");
			kill_locked(c);
			shutdown(c->fd, SHUT_RDWR);
			goto out;
		}
		b->next  = NULL;
		b->len   = total - sent;
		b->off   = 0;
		size_t k = sent, at = 0;
		for (int i = 0; i < 3; i++) {
			if (k >= iov[i].iov_len) {
				k -= iov[i].iov_len;
				continue;
			}
			memcpy(b->p + at, (uint8_t *) iov[i].iov_base + k,
			    iov[i].iov_len - k);
			at += iov[i].iov_len - k;
			k = 0;
		}
		if (c->oq_tail != NULL)
			c->oq_tail->next = b;
		else
			c->oq = b;
		c->oq_tail = b;
		c->oq_bytes += b->len;
		atomic_fetch_add(&c->w->queued, b->len);
		/* TLS: the whole reply is one buffer, which goes into
		 * records now, as far as the socket takes them */
		if (c->tls != NULL && !flush_locked(c)) {
			kill_locked(c); /* the owner sees the error too */
			goto out;
		}
		if (queued_locked(c))
			poke_locked(c);
	}
out:
	pthread_mutex_unlock(&c->mu);
	req_end(r);
}

/* Hands one frame (its bytes: the backtrace and the body) to the
 * handler: copied, or with own (the buffer p points into, then the
 * request's) not. Returns false if the connection must be closed. */
static bool
dispatch(struct conn *c, const uint8_t *p, size_t len, uint8_t *own)
{
	cw_wire *w   = c->w;
	size_t   hdr = 0;
	for (int hops = 0;; hops++) {
		if (len - hdr < 4) {
			cw_log(CW_LOG_INFO, "wire",
			    "a request without a backtrace: disconnecting");
			return false;
		}
		bool end = p[hdr] & 0x80;
		hdr += 4;
		if (end)
			break;
		if (hops + 1 == MAX_HOPS)
			return true; /* too many hops: dropped, as nng does */
	}
	assert(hdr <= len);
	/* room: the struct, the handler's part, then the bytes */
	/* a copied frame's body 8-byte aligned too (see in_lead) */
	size_t       uroom = (w->user + 15) & ~(size_t) 15;
	size_t       pad   = (8 - hdr % 8) % 8;
	cw_wire_req *r = cw_malloc(sizeof(*r) + uroom + (own ? 0 : pad + len));
	if (r == NULL) {
		cw_log(CW_LOG_ERROR, "wire", "no memory for a request");
		cw_free(own);
		return true; /* dropped: the client times out */
	}
	memset(r, 0, sizeof(*r) + uroom);
	r->c       = c;
	r->hdr_len = hdr;
	r->len     = len;
	r->user    = w->user;
	r->own     = own;
	r->bytes   = own ? (uint8_t *) p : r->room + uroom + pad;
	if (own == NULL)
		memcpy(r->bytes, p, len);
	pthread_mutex_lock(&c->mu);
	c->refs++;
	c->inflight++;
	c->in_bytes += len;
	pthread_mutex_unlock(&c->mu);
	atomic_store(&c->active_ms, cw_mono_ms());
	w->fn(w->arg, r, r->bytes + hdr, len - hdr);
	return true;
}

/* After a large frame, gives its room back: an idle connection holds no
 * more than IN_KEEP bytes of input buffer. */
static void
in_shrink(struct conn *c)
{
	if (c->in_cap <= IN_KEEP)
		return;
	if (c->in_len == 0) {
		in_free(c);
		return;
	}
	size_t pl = c->ipc ? 9 : 8;
	if (c->in_len > IN_KEEP / 2 ||
	    (c->in_len >= pl && cw_ld_be64(c->in + pl - 8) + pl > IN_KEEP))
		return;               /* a large frame is coming in */
	(void) in_resize(c, IN_KEEP); /* else the larger one stays */
}

/* Takes the whole frames off c->in. Returns false if c must close. */
static bool
frames(struct conn *c)
{
	size_t pl   = c->ipc ? 9 : 8;
	size_t off  = 0;
	bool   ok   = true;
	bool   held = false;
	assert(c->in_len <= c->in_cap);
	while (c->in_len - off >= pl) {
		const uint8_t *f = c->in + off;
		/* one read may hold hundreds of small requests: past the
		 * limit of those in flight the rest wait in the buffer, to
		 * be taken when replies make room (take_pokes). Before, all
		 * were dispatched: a client that never read its replies
		 * held 35 MB a connection, not the 4 MiB and 16 replies the
		 * limits say. */
		pthread_mutex_lock(&c->mu);
		bool full = held = full_locked(c);
		pthread_mutex_unlock(&c->mu);
		if (full)
			break;
		if (c->ipc && f[0] != 1) {
			cw_log(CW_LOG_INFO, "wire",
			    "an ipc frame of type %u: disconnecting", f[0]);
			ok = false;
			break;
		}
		uint64_t len = cw_ld_be64(f + pl - 8);
		if (len > c->w->max_msg) {
			static cw_ratelimit rl;
			cw_log_limited(&rl, CW_LOG_WARN, "wire",
			    "a request of %llu bytes, over the limit of %zu: "
			    "disconnecting",
			    (unsigned long long) len, c->w->max_msg);
			ok = false;
			break;
		}
		if (c->in_len - off < pl + len)
			break;
		/* a large frame alone in the buffer goes with it: no copy,
		 * and no second mapping to fault in (a client sending
		 * frames of 15 MiB once spent most of causewayd's CPU in
		 * page faults) */
		if (off == 0 && pl + len == c->in_len && len > IN_KEEP) {
			uint8_t *body = c->in + pl, *own = c->in - in_lead(c);
			c->in     = NULL;
			c->in_cap = c->in_len = 0;
			ok = dispatch(c, body, (size_t) len, own);
			break;
		}
		if (!dispatch(c, f + pl, (size_t) len, NULL)) {
			ok = false;
			break;
		}
		off += pl + (size_t) len;
	}
	assert(off <= c->in_len);
	pthread_mutex_lock(&c->mu);
	c->held = held;
	pthread_mutex_unlock(&c->mu);
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	in_shrink(c);
	return ok;
}

/* Room in c->in for the frame under way (at least READ_CHUNK more
 * bytes). Returns false without memory. */
static bool
in_room(struct conn *c)
{
	size_t pl   = c->ipc ? 9 : 8;
	size_t need = c->in_len + READ_CHUNK;
	if (c->in_len >= pl) {
		size_t frame = pl + (size_t) cw_ld_be64(c->in + pl - 8);
		/* frames() closed the connection of a longer one */
		assert(frame - pl <= c->w->max_msg);
		if (frame > need)
			need = frame;
	}
	if (need <= c->in_cap)
		return true;
	size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
	while (cap < need)
		cap *= 2;
	return in_resize(c, cap);
}

/* recv() on c, through its TLS session if it has one: > 0 bytes, 0 at
 * the end, -1 with errno (EAGAIN: nothing now). */
static ssize_t
conn_recv(struct conn *c, void *p, size_t n)
{
	if (c->tls == NULL)
		return recv(c->fd, p, n, 0);
	size_t got = 0;
	pthread_mutex_lock(&c->mu);
	int rc = cw_tls_read(c->tls, p, n, &got);
	pthread_mutex_unlock(&c->mu);
	if (rc == 0)
		return (ssize_t) got;
	if (rc == CW_TLS_WANT_READ || rc == CW_TLS_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (rc == CW_EUNAVAIL)
		return 0;
	errno = EPROTO;
	return -1;
}

static bool
tls_pending_in(struct conn *c)
{
	if (c->tls == NULL)
		return false;
	pthread_mutex_lock(&c->mu);
	bool more = cw_tls_pending_in(c->tls) > 0;
	pthread_mutex_unlock(&c->mu);
	return more;
}

/* Drives c's TLS handshake; once it is done, sends our SP header inside
 * it. Returns 1 when done, 0 while it goes on (c->hs_want says for
 * what), -1 if the peer must go (logged once, at warn: a client with
 * the wrong CA, plain TCP, garbage). */
static int
tls_step(struct conn *c)
{
	static const uint8_t rep0[8] = { 0, 'S', 'P', 0, 0, PROTO_REP0, 0, 0 };
	const char          *why     = NULL;
	pthread_mutex_lock(&c->mu);
	int rc = cw_tls_handshake(c->tls, &why);
	if (rc == 0) {
		struct obuf *b = cw_malloc(sizeof(*b) + sizeof(rep0));
		if (b == NULL) {
			rc = CW_ENOMEM;
		} else {
			b->next = NULL;
			b->len  = sizeof(rep0);
			b->off  = 0;
			memcpy(b->p, rep0, sizeof(rep0));
			c->oq = c->oq_tail =
			    b; /* nothing else is queued yet */
			c->oq_bytes = b->len;
			atomic_fetch_add(&c->w->queued, b->len);
			c->tls_up = true;
			if (!flush_locked(c))
				rc = CW_EUNAVAIL;
		}
	} else if (rc == CW_TLS_WANT_READ || rc == CW_TLS_WANT_WRITE) {
		c->hs_want = rc;
	}
	pthread_mutex_unlock(&c->mu);
	if (rc == 0)
		return 1;
	if (rc == CW_TLS_WANT_READ || rc == CW_TLS_WANT_WRITE)
		return 0;
	/* one line a second at most: a storm of bad clients must not
	 * drown the log */
	static cw_ratelimit rl;
	cw_log_limited(&rl, rc == CW_EUNAVAIL ? CW_LOG_INFO : CW_LOG_WARN,
	    "wire", "TLS handshake with a client failed: %s (from %s)",
	    why ? why : cw_strerror(rc), c->peer);
	return -1;
}

/* The peer's SP header. Returns 1 once it is whole and right, 0 while it
 * is still coming, -1 if the peer must go. */
static int
handshake(struct conn *c)
{
	while (c->hs_got < sizeof(c->hs)) {
		ssize_t n =
		    conn_recv(c, c->hs + c->hs_got, sizeof(c->hs) - c->hs_got);
		if (n > 0) {
			c->hs_got += (size_t) n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	static const uint8_t req0[8] = { 0, 'S', 'P', 0, 0, PROTO_REQ0, 0, 0 };
	if (memcmp(c->hs, req0, sizeof(req0)) != 0) {
		cw_log(CW_LOG_INFO, "wire",
		    "a peer that is not an SP req0 socket: disconnecting");
		return -1;
	}
	return 1;
}

/* ---- the byte rate of an address ---- */

/* addr_bps as GCRA (the generic cell rate algorithm): the address's word
 * (cw_tally_word) is the time, in µs of the monotonic clock, at which
 * what it sent would have been read at exactly the rate. Bytes read
 * push it on; reading waits while it is more than a second ahead. */
#define RATE_BURST_US 1000000ull

static void
rate_charge(struct conn *c, size_t n)
{
	uint64_t bps = c->w->lim.addr_bps;
	if (c->addr == NULL || bps == 0)
		return;
	_Atomic uint64_t *tat  = cw_tally_word(c->addr);
	uint64_t          now  = cw_mono_ms() * 1000;
	uint64_t          cost = (uint64_t) n * 1000000ull / bps;
	uint64_t          old  = atomic_load(tat), nt;
	do
		nt = (old > now ? old : now) + cost;
	while (!atomic_compare_exchange_weak(tat, &old, nt));
}

/* If c's address is over its rate: c is not read until it is within it
 * (io->paused; the owner rearms it then). Returns whether it paused. */
static bool
rate_pause(struct conn *c)
{
	if (c->pause_ms != 0)
		return true; /* paused already */
	if (c->addr == NULL || c->w->lim.addr_bps == 0)
		return false;
	uint64_t now = cw_mono_ms(), tat = atomic_load(cw_tally_word(c->addr));
	if (tat <= now * 1000 + RATE_BURST_US)
		return false;
	c->pause_ms = (tat - RATE_BURST_US) / 1000 + 1;
	if (c->pause_ms <= now)
		c->pause_ms = now + 1;
	pthread_mutex_lock(&c->mu);
	c->refs++; /* io->paused's */
	pthread_mutex_unlock(&c->mu);
	c->pause_next = c->io->paused;
	c->io->paused = c;
	atomic_fetch_add(&c->w->paused_rate, 1);
	return true;
}

/* Rearms io's paused connections whose time came. Returns the ms until
 * the next one's, or -1 if none waits. */
static int
rate_resume(struct io *io)
{
	uint64_t      now  = cw_mono_ms();
	int           next = -1;
	struct conn **p    = &io->paused;
	while (*p != NULL) {
		struct conn *c = *p;
		if (c->pause_ms > now) {
			uint64_t d = c->pause_ms - now;
			if (next < 0 || d < (uint64_t) next)
				next = d > 1000 ? 1000 : (int) d;
			p = &c->pause_next;
			continue;
		}
		*p          = c->pause_next;
		c->pause_ms = 0;
		pthread_mutex_lock(&c->mu);
		bool dead = c->dead;
		pthread_mutex_unlock(&c->mu);
		if (!dead && c->owned)
			conn_rearm(c);
		conn_unref(c);
	}
	return next;
}

/* The owner reads c: its header, then requests. hup: the peer is gone
 * both ways (what it sent may still be read). */
static void
conn_read(struct conn *c, bool hup)
{
	/* the TLS handshake (if any), then the peer's SP header */
	int h = c->tls_up ? 1 : tls_step(c);
	if (h > 0 && c->hs_got < sizeof(c->hs))
		h = handshake(c);
	if (h < 0) {
		conn_close(c);
		return;
	}
	if (h == 0) {
		conn_rearm(c);
		return;
	}
	/* TLS: mbedTLS may hold decrypted bytes the socket no longer shows;
	 * they are read before this connection waits again */
	size_t got = 0;
	for (int i = 0; i < READS_PER_WAKE || tls_pending_in(c); i++) {
		/* epoll is level-triggered: what is left wakes it again,
		 * after the other connections ready now; bytes mbedTLS
		 * holds would not, so they are read first */
		if (got >= READ_BUDGET && !tls_pending_in(c))
			break;
		pthread_mutex_lock(&c->mu);
		bool full = full_locked(c);
		pthread_mutex_unlock(&c->mu);
		if (full && hup) {
			conn_close(c); /* its replies cannot reach it */
			return;
		}
		if (full)
			break; /* rearmed without EPOLLIN until there is room
			        */
		if (rate_pause(c))
			break; /* and until its address is within its rate */
		if (!in_room(c)) {
			cw_log(CW_LOG_ERROR, "wire",
			    "no memory to read a request: disconnecting");
			conn_close(c);
			return;
		}
		size_t room = c->in_cap - c->in_len;
		if (room > READ_BUDGET)
			room = READ_BUDGET;
		size_t pl = c->ipc ? 9 : 8;
		if (c->in_len >= pl) { /* a large frame: to its end only,
			                * so that frames() can hand it over */
			size_t frame =
			    pl + (size_t) cw_ld_be64(c->in + pl - 8);
			if (frame - pl > IN_KEEP && frame > c->in_len &&
			    frame - c->in_len < room)
				room = frame - c->in_len;
		}
		ssize_t n = conn_recv(c, c->in + c->in_len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c); /* the end, or a reset */
			return;
		}
		c->in_len += (size_t) n;
		got += (size_t) n;
		rate_charge(c, (size_t) n);
		if (!frames(c)) {
			conn_close(c);
			return;
		}
		if ((size_t) n < room && c->tls == NULL)
			break; /* the socket had no more */
	}
	conn_rearm(c);
}

/* ---- accepting ---- */

/* The address of fd's peer, without its port: what counts failed logins
 * (users.h). */
static void
peer_name(int fd, bool ipc, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t               sl = sizeof(ss);
	snprintf(out, n, "local");
	if (ipc || getpeername(fd, (struct sockaddr *) &ss, &sl) != 0)
		return;
	if (getnameinfo((struct sockaddr *) &ss, sl, out, (socklen_t) n, NULL,
	        0, NI_NUMERICHOST) != 0)
		snprintf(out, n, "unknown");
}

static void
conn_new(cw_wire *w, int fd, bool ipc, bool tls)
{
	static const uint8_t rep0[8] = { 0, 'S', 'P', 0, 0, PROTO_REP0, 0, 0 };
	int                  one     = 1;
	if (!ipc)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* an empty socket takes 8 bytes at once (with TLS, they go once the
	 * handshake is done) */
	if (!tls &&
	    send(fd, rep0, sizeof(rep0), MSG_NOSIGNAL) != sizeof(rep0)) {
		close(fd);
		return;
	}
	struct conn *c = cw_calloc(1, sizeof(*c));
	if (c == NULL || (tls && cw_tls_new(&c->tls, w->tls, fd, NULL) != 0)) {
		cw_log(CW_LOG_ERROR, "wire", "no memory for a connection");
		cw_free(c);
		close(fd);
		return;
	}
	c->w   = w;
	c->fd  = fd;
	c->ipc = ipc;
	peer_name(fd, ipc, c->peer, sizeof(c->peer));
	c->tls_up = !tls;
	c->refs   = 1;
	c->owned  = true;
	c->io     = &w->io[atomic_fetch_add(&w->next_io, 1) % w->nio];
	atomic_store(&c->active_ms, cw_mono_ms());
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_lock(&w->mu);
	bool full = w->nconns >= w->lim.max_conns, many = false;
	if (!full && !ipc)
		many = (c->addr = cw_tally_take(
		            w->addrs, c->peer, w->lim.per_addr, NULL)) == NULL;
	if (!full && !many) {
		c->next = w->conns;
		if (w->conns != NULL)
			w->conns->prev = c;
		w->conns = c;
		w->nconns++;
	}
	uint32_t n = w->nconns;
	pthread_mutex_unlock(&w->mu);
	if (full || many) {
		static cw_ratelimit rl_full, rl_many;
		if (full) {
			atomic_fetch_add(&w->refused_full, 1);
			cw_log_limited(&rl_full, CW_LOG_WARN, "wire",
			    "%u connections open, the most allowed: one from "
			    "%s refused",
			    n, c->peer);
		} else {
			atomic_fetch_add(&w->refused_addr, 1);
			cw_log_limited(&rl_many, CW_LOG_WARN, "wire",
			    "%u connections open from %s, the most allowed "
			    "from one address: another refused",
			    w->lim.per_addr, c->peer);
		}
		pthread_mutex_destroy(&c->mu);
		cw_tls_free(c->tls);
		cw_free(c);
		close(fd);
		return;
	}
	c->events             = EPOLLIN;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (epoll_ctl(c->io->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		cw_log(CW_LOG_ERROR, "wire", "epoll: %s", strerror(errno));
		c->dead  = true;
		c->owned = false;
		conn_unref(c);
	}
}

static void
accept_all(cw_wire *w, struct listener *l)
{
	for (int i = 0; i < 64; i++) {
		int fd =
		    accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_new(w, fd, l->ipc, l->tls);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE) && w->spare >= 0) {
			/* out of descriptors: take the one waiting off the
			 * backlog and close it, rather than spin on it */
			close(w->spare);
			fd = accept(l->fd, NULL, NULL);
			if (fd >= 0)
				close(fd);
			w->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
			static cw_ratelimit rl;
			cw_log_limited(&rl, CW_LOG_WARN, "wire",
			    "out of file descriptors: a connection refused");
		}
		return; /* EAGAIN, or an error to try again later */
	}
}

/* ---- the I/O threads ---- */

/* Rearms what replies poked. */
static void
take_pokes(struct io *io)
{
	uint64_t v;
	if (read(io->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already taken */
	}
	pthread_mutex_lock(&io->mu);
	struct conn *list = io->poked;
	io->poked         = NULL;
	pthread_mutex_unlock(&io->mu);
	while (list != NULL) {
		struct conn *c = list;
		list           = c->poke_next;
		pthread_mutex_lock(&c->mu);
		c->poked  = false;
		bool dead = c->dead;
		pthread_mutex_unlock(&c->mu);
		/* room again: the requests that waited in the buffer go
		 * first (no socket event announces them) */
		if (!dead && c->owned && c->in_len > 0 && !frames(c)) {
			conn_close(c);
			dead = true;
		}
		if (!dead)
			conn_rearm(c);
		/* and mbedTLS holds bytes the socket will not announce:
		 * read them now */
		if (!dead && c->owned && tls_pending_in(c))
			conn_read(c, false);
		conn_unref(c);
	}
}

/* How often an I/O thread looks for idle connections: a quarter of the
 * idle time, between 10 ms and a second (-1: never). */
static int
sweep_period(const cw_wire *w)
{
	if (w->lim.idle_ms == 0)
		return -1;
	uint64_t p = w->lim.idle_ms / 4;
	return p < 10 ? 10 : p > 1000 ? 1000 : (int) p;
}

/* Closes io's connections that have nothing in flight and did nothing
 * for idle_ms: those a client forgot, and those that hold a descriptor
 * without ever sending a whole request. */
static void
sweep(struct io *io)
{
	cw_wire *w   = io->w;
	uint64_t now = cw_mono_ms();
	for (;;) {
		struct conn *idle[64];
		int          n = 0;
		pthread_mutex_lock(&w->mu);
		for (struct conn *c = w->conns; c != NULL && n < 64;
		     c              = c->next) {
			if (c->io != io || !c->owned ||
			    now - atomic_load(&c->active_ms) < w->lim.idle_ms)
				continue;
			pthread_mutex_lock(&c->mu);
			bool quiet = !c->dead && c->inflight == 0;
			pthread_mutex_unlock(&c->mu);
			if (quiet)
				idle[n++] = c;
		}
		pthread_mutex_unlock(&w->mu);
		/* only this thread closes what it owns: they are all there */
		for (int i = 0; i < n; i++) {
			static cw_ratelimit rl;
			cw_log_limited(&rl, CW_LOG_INFO, "wire",
			    "a connection from %s idle for %llu s: closed",
			    idle[i]->peer,
			    (unsigned long long) (now -
			        atomic_load(&idle[i]->active_ms)) /
			        1000);
			atomic_fetch_add(&w->closed_idle, 1);
			conn_close(idle[i]);
		}
		if (n < 64)
			return;
	}
}

static void *
io_main(void *arg)
{
	struct io         *io = arg;
	cw_wire           *w  = io->w;
	struct epoll_event ev[64];
	int                period = sweep_period(w);
	io->sweep_ms              = cw_mono_ms() + (uint64_t) period;
	while (!atomic_load(&w->stopping)) {
		int wait = period, resume = rate_resume(io);
		if (resume >= 0 && (wait < 0 || resume < wait))
			wait = resume;
		int n = epoll_wait(io->ep, ev, 64, wait);
		if (period >= 0 && cw_mono_ms() >= io->sweep_ms) {
			sweep(io);
			io->sweep_ms = cw_mono_ms() + (uint64_t) period;
		}
		if (n < 0 && errno != EINTR) {
			cw_log(CW_LOG_ERROR, "wire", "epoll_wait: %s",
			    strerror(errno));
			break;
		}
		for (int i = 0; i < n && !atomic_load(&w->stopping); i++) {
			void *p = ev[i].data.ptr;
			if (p == io) {
				take_pokes(io);
				continue;
			}
			if (p >= (void *) w->lis &&
			    p < (void *) (w->lis + MAX_LISTENERS)) {
				accept_all(w, p);
				continue;
			}
			struct conn *c = p;
			if (!c->tls_up) { /* the TLS handshake, either way */
				if (ev[i].events & EPOLLERR)
					conn_close(c);
				else
					conn_read(c, false);
				continue;
			}
			if (ev[i].events & (EPOLLOUT | EPOLLERR)) {
				pthread_mutex_lock(&c->mu);
				bool ok = c->dead || flush_locked(c);
				if (!ok)
					kill_locked(c);
				pthread_mutex_unlock(&c->mu);
				if (!ok) {
					conn_close(c);
					continue;
				}
			}
			pthread_mutex_lock(&c->mu);
			bool dead = c->dead;
			pthread_mutex_unlock(&c->mu);
			if (dead) { /* a reply's write failed */
				conn_close(c);
				continue;
			}
			if (ev[i].events & EPOLLERR)
				conn_close(c);
			else if (ev[i].events & (EPOLLIN | EPOLLHUP))
				conn_read(c, ev[i].events & EPOLLHUP);
			else
				conn_rearm(c);
		}
	}
	return NULL;
}

/* ---- listening ---- */

static int
listen_tcp(const char *hp, int family, const char *url)
{
	char            host[256], port[8];
	bool            any;
	struct addrinfo hints = { .ai_family = family,
		.ai_socktype                 = SOCK_STREAM,
		.ai_flags                    = AI_NUMERICSERV | AI_PASSIVE },
	                *res;
	if (cw_split_hostport(hp, host, sizeof(host), port, sizeof(port)))
		return CW_EINVAL;
	any     = host[0] == '\0' || strcmp(host, "*") == 0;
	int gai = getaddrinfo(any ? NULL : host, port, &hints, &res);
	if (gai != 0) {
		cw_log(CW_LOG_ERROR, "wire", "listen on %s: %s", url,
		    gai_strerror(gai));
		return gai == EAI_MEMORY || gai == EAI_AGAIN ? CW_EUNAVAIL
		                                             : CW_EINVAL;
	}
	int fd = socket(
	    res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, 1024) != 0)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	cw_log(CW_LOG_ERROR, "wire", "listen on %s: %s", url, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return CW_EUNAVAIL;
}

static int
listen_ipc(const char *path, const char *url)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	size_t             pl = strlen(path);
	if (pl == 0 || pl >= sizeof(un.sun_path))
		return CW_EINVAL;
	memcpy(un.sun_path, path, pl + 1);
	int fd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *) &un, sizeof(un)) != 0) {
		/* a path left by a process that died: nobody answers on it */
		int  probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool stale = errno == EADDRINUSE && probe >= 0 &&
		    connect(probe, (struct sockaddr *) &un, sizeof(un)) != 0 &&
		    errno == ECONNREFUSED;
		if (probe >= 0)
			close(probe);
		if (!stale || unlink(path) != 0 ||
		    bind(fd, (struct sockaddr *) &un, sizeof(un)) != 0) {
			errno = stale ? errno : EADDRINUSE;
			goto fail;
		}
	}
	if (listen(fd, 1024) != 0)
		goto fail;
	return fd;
fail:
	cw_log(CW_LOG_ERROR, "wire", "listen on %s: %s", url, strerror(errno));
	if (fd >= 0)
		close(fd);
	return CW_EUNAVAIL;
}

int
cw_wire_listen(cw_wire *w, const char *url)
{
	static const struct {
		const char *scheme;
		int         family;
	} tcp[] = { { "tcp://", AF_UNSPEC }, { "tcp4://", AF_INET },
		{ "tcp6://", AF_INET6 }, { "tls+tcp://", AF_UNSPEC } };
	if (url == NULL || w->nlis == MAX_LISTENERS)
		return CW_EINVAL;
	struct listener *l  = &w->lis[w->nlis];
	int              fd = CW_EINVAL;
	memset(l, 0, sizeof(*l));
	l->tls = strncmp(url, "tls+tcp://", 10) == 0;
	if (l->tls && w->tls == NULL) {
		cw_log(CW_LOG_ERROR, "wire",
		    "%s: a tls+tcp:// URL needs a certificate (--tls-cert)",
		    url);
		return CW_EINVAL;
	}
	for (size_t i = 0; i < sizeof(tcp) / sizeof(tcp[0]); i++) {
		size_t sl = strlen(tcp[i].scheme);
		if (strncmp(url, tcp[i].scheme, sl) == 0)
			fd = listen_tcp(url + sl, tcp[i].family, url);
	}
	if (strncmp(url, "ipc://", 6) == 0) {
		fd = listen_ipc(url + 6, url);
		if (fd >= 0) {
			l->ipc = true;
			snprintf(l->path, sizeof(l->path), "%s", url + 6);
		}
	}
	if (fd < 0) {
		if (fd == CW_EINVAL)
			cw_log(CW_LOG_ERROR, "wire",
			    "not a tcp://, tls+tcp:// or ipc:// URL: %s", url);
		return fd;
	}
	l->fd                 = fd;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
	if (epoll_ctl(w->io[0].ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		cw_log(CW_LOG_ERROR, "wire", "epoll: %s", strerror(errno));
		close(fd);
		if (l->ipc)
			unlink(l->path);
		return CW_EUNAVAIL;
	}
	w->nlis++;
	return 0;
}

int
cw_wire_port(cw_wire *w)
{
	for (int i = w->nlis - 1; i >= 0; i--) {
		struct sockaddr_storage ss;
		socklen_t               sl = sizeof(ss);
		if (w->lis[i].ipc ||
		    getsockname(w->lis[i].fd, (struct sockaddr *) &ss, &sl) !=
		        0)
			continue;
		if (ss.ss_family == AF_INET)
			return ntohs(((struct sockaddr_in *) &ss)->sin_port);
		if (ss.ss_family == AF_INET6)
			return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
	}
	return 0;
}

/* ---- life ---- */

void
cw_wire_set_tls(cw_wire *w, cw_tls_conf *tls)
{
	w->tls = tls;
}

void
cw_wire_limits_default(cw_wire_limits *l)
{
	l->max_conns = 4096;
	l->per_addr  = 1024;
	l->idle_ms   = 300000;
	l->addr_bps  = 64ull << 20;
	l->in_max    = 1u << 20;
	l->out_max   = 4u << 20;
}

void
cw_wire_stats_get(cw_wire *w, cw_wire_stats *st)
{
	pthread_mutex_lock(&w->mu);
	st->conns = w->nconns;
	pthread_mutex_unlock(&w->mu);
	st->refused_full = atomic_load(&w->refused_full);
	st->refused_addr = atomic_load(&w->refused_addr);
	st->closed_idle  = atomic_load(&w->closed_idle);
	st->paused_rate  = atomic_load(&w->paused_rate);
	st->queued_bytes = atomic_load(&w->queued);
}

int
cw_wire_new(cw_wire **out, uint32_t threads, size_t max_msg, size_t user,
    const cw_wire_limits *lim, cw_wire_fn fn, void *arg)
{
	cw_wire *w;
	*out = NULL;
	if (threads < 1 || threads > 64 || fn == NULL)
		return CW_EINVAL;
	if ((w = cw_calloc(1, sizeof(*w))) == NULL)
		return CW_ENOMEM;
	w->fn      = fn;
	w->arg     = arg;
	w->max_msg = max_msg;
	w->user    = user;
	w->spare   = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (lim != NULL)
		w->lim = *lim;
	else
		cw_wire_limits_default(&w->lim);
	if (w->lim.max_conns < 1)
		w->lim.max_conns = 1;
	if (w->lim.in_max < 1)
		w->lim.in_max = 1;
	pthread_mutex_init(&w->mu, NULL);
	if (cw_tally_new(&w->addrs) != 0 ||
	    (w->io = cw_calloc(threads, sizeof(*w->io))) == NULL)
		goto fail;
	for (uint32_t i = 0; i < threads; i++) {
		struct io *io = &w->io[i];
		io->w         = w;
		io->ep        = -1;
		io->efd       = -1;
		pthread_mutex_init(&io->mu, NULL);
		w->nio++;
		io->ep                = epoll_create1(EPOLL_CLOEXEC);
		io->efd               = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = io };
		if (io->ep < 0 || io->efd < 0 ||
		    epoll_ctl(io->ep, EPOLL_CTL_ADD, io->efd, &ev) != 0)
			goto fail;
		if (pthread_create(&io->th, NULL, io_main, io) != 0)
			goto fail;
		io->started = true;
	}
	*out = w;
	return 0;
fail:
	cw_wire_free(w);
	return CW_ENOMEM;
}

void
cw_wire_stop(cw_wire *w)
{
	if (w == NULL || atomic_exchange(&w->stopping, true))
		return;
	for (uint32_t i = 0; i < w->nio; i++) {
		uint64_t one = 1;
		if (w->io[i].efd >= 0 &&
		    write(w->io[i].efd, &one, sizeof(one)) < 0) {
			/* saturated: it wakes anyway */
		}
	}
	for (uint32_t i = 0; i < w->nio; i++)
		if (w->io[i].started) {
			pthread_join(w->io[i].th, NULL);
			w->io[i].started = false;
		}
	for (int i = 0; i < w->nlis; i++) {
		close(w->lis[i].fd);
		if (w->lis[i].ipc)
			unlink(w->lis[i].path);
	}
	w->nlis = 0;
}

void
cw_wire_free(cw_wire *w)
{
	if (w == NULL)
		return;
	cw_wire_stop(w);
	/* the I/O threads are gone: what they had poked is ours now */
	for (uint32_t i = 0; i < w->nio; i++) {
		struct conn *list = w->io[i].poked;
		w->io[i].poked    = NULL;
		while (list != NULL) {
			struct conn *c = list;
			list           = c->poke_next;
			c->poked       = false;
			conn_unref(c);
		}
		while (w->io[i].paused != NULL) {
			struct conn *c  = w->io[i].paused;
			w->io[i].paused = c->pause_next;
			c->pause_ms     = 0;
			conn_unref(c);
		}
	}
	/* write what replies left queued, for at most a second */
	uint64_t deadline = cw_mono_ms() + 1000;
	pthread_mutex_lock(&w->mu);
	for (struct conn *c = w->conns; c != NULL; c = c->next) {
		pthread_mutex_lock(&c->mu);
		while (!c->dead && queued_locked(c) && flush_locked(c) &&
		    queued_locked(c) && cw_mono_ms() < deadline) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			poll(&p, 1, (int) (deadline - cw_mono_ms()));
		}
		pthread_mutex_unlock(&c->mu);
	}
	pthread_mutex_unlock(&w->mu);
	/* then the owner's reference of each: the last one closes it */
	for (;;) {
		pthread_mutex_lock(&w->mu);
		struct conn *c = w->conns;
		while (c != NULL && !c->owned)
			c = c->next;
		pthread_mutex_unlock(&w->mu);
		if (c == NULL)
			break;
		c->owned = false;
		conn_unref(c);
	}
	if (w->nconns > 0) /* a caller's bug: they are left, not freed */
		cw_log(CW_LOG_ERROR, "wire",
		    "%u connections freed with requests unanswered",
		    w->nconns);
	for (uint32_t i = 0; i < w->nio; i++) {
		if (w->io[i].ep >= 0)
			close(w->io[i].ep);
		if (w->io[i].efd >= 0)
			close(w->io[i].efd);
		pthread_mutex_destroy(&w->io[i].mu);
	}
	if (w->spare >= 0)
		close(w->spare);
	cw_tally_free(w->addrs);
	pthread_mutex_destroy(&w->mu);
	cw_free(w->io);
	cw_free(w);
}
