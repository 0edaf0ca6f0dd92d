/*
 * server.c - causewayd's client service; see server.h.
 *
 * Transaction ids are (generation << 16 | slot): a slot reused for a new
 * transaction gets a new generation, so a stale id never reaches another
 * transaction.
 *
 * The reply cache is direct-mapped on (sid, rid). An entry is PENDING while
 * its request runs (a copy of it waits, bounded), DONE with the reply
 * bytes after. A new request evicts a DONE entry of another request in its
 * place; it never evicts a PENDING one (it then runs uncached).
 */
#include "server.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "causal.h"
#include "schema.h"

#define SLOT_BITS 16
#define DEDUP_SIZE 65536
#define DEDUP_MAX_REPLY (1u << 20)
#define DEDUP_WAIT_MS 30000

struct slot {
	pthread_mutex_t mu;
	/* mu guards: */
	uint64_t id; /* 0: free */
	cw_tx   *tx;
	uint64_t last_ms;
};

enum { D_EMPTY, D_PENDING, D_DONE };

struct dentry {
	uint64_t sid, rid;
	int      state;
	uint8_t *reply; /* NULL with D_DONE: too large to keep */
	size_t   len;
};

struct worker {
	cw_server *s;
	pthread_t  th;
	nng_ctx    ctx;
	nng_aio   *aio;
	bool       started;
};

struct cw_server {
	cw_db         *db;
	cw_replica    *replica;
	cw_server_opts o;

	struct slot    *slots;
	pthread_mutex_t tbl_mu;
	/* tbl_mu guards: */
	uint32_t *free; /* stack of free slot numbers */
	uint32_t  nfree;
	uint64_t  gen;

	pthread_mutex_t dedup_mu;
	pthread_cond_t  dedup_cv;
	/* dedup_mu guards: */
	struct dentry *dedup;

	pthread_mutex_t stop_mu;
	pthread_cond_t  stop_cv;
	/* stop_mu guards: */
	bool stopping;

	pthread_t reaper;
	bool      reaper_started;

	_Atomic uint64_t nrequests; /* served since start */

	nng_socket     sock;
	bool           sock_open;
	struct worker *workers;
	uint32_t       nworkers;
};

void
cw_server_opts_default(cw_server_opts *o)
{
	o->workers         = 64;
	o->max_txns        = 4096;
	o->idle_ms         = 10000;
	o->session_wait_ms = 1000;
	o->max_msg         = 16u << 20;
	o->max_ops         = 100000;
}

/* ---- transaction table ---- */

/* Allocates a slot for tx. OUT: *id. Returns 0 or CW_EUNAVAIL (full). The
 * slot is returned locked. */
static int
slot_alloc(cw_server *s, cw_tx *tx, uint64_t *id, struct slot **out)
{
	pthread_mutex_lock(&s->tbl_mu);
	if (s->nfree == 0) {
		pthread_mutex_unlock(&s->tbl_mu);
		cw_log(CW_LOG_WARN, "server",
		    "%u transactions open: refusing another", s->o.max_txns);
		return CW_EUNAVAIL;
	}
	uint32_t i = s->free[--s->nfree];
	uint64_t g = ++s->gen;
	pthread_mutex_unlock(&s->tbl_mu);
	struct slot *sl = &s->slots[i];
	pthread_mutex_lock(&sl->mu);
	sl->id      = (g << SLOT_BITS) | i;
	sl->tx      = tx;
	sl->last_ms = cw_mono_ms();
	*id         = sl->id;
	*out        = sl;
	return 0;
}

/* Finds and locks the slot of id. Returns NULL if there is none. */
static struct slot *
slot_get(cw_server *s, uint64_t id)
{
	uint64_t i = id & ((1u << SLOT_BITS) - 1);
	if (id == 0 || i >= s->o.max_txns)
		return NULL;
	struct slot *sl = &s->slots[i];
	pthread_mutex_lock(&sl->mu);
	if (sl->id != id) {
		pthread_mutex_unlock(&sl->mu);
		return NULL;
	}
	return sl;
}

/* Frees the transaction of a locked slot and unlocks it. */
static void
slot_release(cw_server *s, struct slot *sl)
{
	cw_tx_free(sl->tx);
	sl->tx = NULL;
	sl->id = 0;
	pthread_mutex_unlock(&sl->mu);
	pthread_mutex_lock(&s->tbl_mu);
	s->free[s->nfree++] = (uint32_t) (sl - s->slots);
	pthread_mutex_unlock(&s->tbl_mu);
}

static void
slot_done(struct slot *sl)
{
	sl->last_ms = cw_mono_ms();
	pthread_mutex_unlock(&sl->mu);
}

void
cw_server_set_replica(cw_server *s, cw_replica *r)
{
	s->replica = r;
}

uint32_t
cw_server_open_txns(cw_server *s)
{
	pthread_mutex_lock(&s->tbl_mu);
	uint32_t n = s->o.max_txns - s->nfree;
	pthread_mutex_unlock(&s->tbl_mu);
	return n;
}

static void *
reaper(void *arg)
{
	cw_server *s      = arg;
	uint64_t   period = s->o.idle_ms / 4;
	if (period < 10)
		period = 10;
	if (period > 1000)
		period = 1000;
	pthread_mutex_lock(&s->stop_mu);
	while (!s->stopping) {
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += (time_t) (period / 1000);
		dl.tv_nsec += (long) (period % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->stop_cv, &s->stop_mu, &dl);
		pthread_mutex_unlock(&s->stop_mu);
		uint64_t now = cw_mono_ms();
		for (uint32_t i = 0; i < s->o.max_txns; i++) {
			struct slot *sl = &s->slots[i];
			/* a busy slot is in use: not idle */
			if (pthread_mutex_trylock(&sl->mu) != 0)
				continue;
			if (sl->id != 0 && now - sl->last_ms > s->o.idle_ms) {
				cw_log(CW_LOG_INFO, "server",
				    "transaction %llu idle for %llu ms: "
				    "aborted",
				    (unsigned long long) sl->id,
				    (unsigned long long) (now - sl->last_ms));
				slot_release(s, sl);
			} else {
				pthread_mutex_unlock(&sl->mu);
			}
		}
		pthread_mutex_lock(&s->stop_mu);
	}
	pthread_mutex_unlock(&s->stop_mu);
	return NULL;
}

/* ---- reply cache ---- */

static struct dentry *
dedup_slot(cw_server *s, uint64_t sid, uint64_t rid)
{
	uint64_t h =
	    (sid * 0x9e3779b97f4a7c15ull) ^ (rid * 0xc2b2ae3d27d4eb4full);
	return &s->dedup[(h >> 17) & (DEDUP_SIZE - 1)];
}

/* Looks the request up. Returns 1 and fills out with the first reply if
 * it ran before; 0 if this request owns the entry now (claimed = true)
 * or may run uncached (claimed = false). */
static int
dedup_begin(
    cw_server *s, uint64_t sid, uint64_t rid, cw_buf *out, bool *claimed)
{
	*claimed         = false;
	struct dentry *e = dedup_slot(s, sid, rid);
	pthread_mutex_lock(&s->dedup_mu);
	if (e->state != D_EMPTY && e->sid == sid && e->rid == rid) {
		uint64_t dl = cw_mono_ms() + DEDUP_WAIT_MS;
		while (e->state == D_PENDING && e->sid == sid &&
		    e->rid == rid && cw_mono_ms() < dl) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += 10 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(
			    &s->dedup_cv, &s->dedup_mu, &ts);
		}
		int rc = 0;
		if (e->state == D_DONE && e->sid == sid && e->rid == rid) {
			if (e->reply != NULL) {
				rc = cw_buf_put(out, e->reply, e->len) == 0;
			} else {
				/* ran, but its reply was too large to keep */
				cw_rep h = { .err = CW_EUNAVAIL };
				rc = cw_schema_rep_encode(&h, NULL, 0, out) ==
				    0;
			}
		}
		pthread_mutex_unlock(&s->dedup_mu);
		if (rc)
			cw_log(CW_LOG_INFO, "server",
			    "request %llu of session %llx repeated: answered "
			    "from the reply cache",
			    (unsigned long long) rid,
			    (unsigned long long) sid);
		return rc;
	}
	if (e->state != D_PENDING) {
		cw_free(e->reply);
		e->sid   = sid;
		e->rid   = rid;
		e->state = D_PENDING;
		e->reply = NULL;
		e->len   = 0;
		*claimed = true;
	}
	pthread_mutex_unlock(&s->dedup_mu);
	return 0;
}

static void
dedup_end(cw_server *s, uint64_t sid, uint64_t rid, const cw_buf *reply)
{
	struct dentry *e = dedup_slot(s, sid, rid);
	pthread_mutex_lock(&s->dedup_mu);
	if (e->state == D_PENDING && e->sid == sid && e->rid == rid) {
		e->reply = reply->len <= DEDUP_MAX_REPLY
		    ? cw_memdup(reply->p, reply->len)
		    : NULL;
		e->len   = e->reply ? reply->len : 0;
		e->state = D_DONE;
		pthread_cond_broadcast(&s->dedup_cv);
	}
	pthread_mutex_unlock(&s->dedup_mu);
}

/* ---- requests ---- */

static int
open_txn(cw_server *s, const cw_req *r, cw_tx **tx)
{
	cw_vc need;
	int   rc;
	if (r->clocklen == 0)
		return cw_tx_begin(s->db, NULL, 0, tx);
	if ((rc = cw_causal_vc_decode(&need, r->clock, r->clocklen)) != 0)
		return rc;
	return cw_tx_begin(s->db, &need, s->o.session_wait_ms, tx);
}

/* Runs the writes, then the reads, of r on tx. OUT: results (nreads),
 * h->err and h->failed if a write failed (the reads then do not run). */
static void
run_ops(cw_tx *tx, const cw_req *r, cw_result *res, cw_rep *h)
{
	for (size_t i = 0; i < r->nwrites; i++) {
		cw_op     op;
		cw_result wr;
		cw_schema_req_op(r, true, i, &op);
		if (!cw_schema_op_is_write(op.op))
			cw_tx_exec(tx, &(cw_op) { .op = 0 }, &wr);
		else
			cw_tx_exec(tx, &op, &wr);
		cw_result_fini(&wr);
		if (wr.err != 0) {
			h->err    = wr.err;
			h->failed = (uint32_t) i + 1;
			return;
		}
	}
	for (size_t i = 0; i < r->nreads; i++) {
		cw_op op;
		cw_schema_req_op(r, false, i, &op);
		if (cw_schema_op_is_write(op.op))
			op.op = 0; /* writes go in `writes` */
		cw_tx_exec(tx, &op, &res[i]);
	}
}

static void
encode_clock(const cw_vc *vc, uint8_t *buf, cw_rep *h)
{
	cw_causal_vc_encode(vc, buf);
	h->clock    = buf;
	h->clocklen = cw_causal_vc_size(vc);
}

/* The replication links for a Status reply. OUT: *peers (cw_free). */
static int
status_peers(cw_server *s, cw_rep *h, cw_schema_peer **peers)
{
	cw_peer_status st[CW_MAX_DC];
	int            n = cw_replica_status(s->replica, st, CW_MAX_DC);
	if ((*peers = cw_calloc((size_t) n + 1, sizeof(**peers))) == NULL)
		return CW_ENOMEM;
	for (int i = 0; i < n; i++) {
		cw_schema_peer *p = &(*peers)[i];
		p->id             = st[i].id;
		p->up             = st[i].up;
		p->heard_ms       = st[i].heard_ms_ago;
		p->nacked         = st[i].acked.n;
		memcpy(
		    p->acked, st[i].acked.v, sizeof(uint64_t) * st[i].acked.n);
		p->behind = st[i].behind;
		p->lag_ms = st[i].lag_ms;
	}
	h->peers  = *peers;
	h->npeers = (size_t) n;
	return 0;
}

static int
handle(cw_server *s, const cw_req *r, cw_buf *out)
{
	cw_rep          h   = { 0 };
	cw_result      *res = NULL;
	cw_tx          *tx  = NULL;
	struct slot    *sl  = NULL;
	uint8_t         clk[1 + 8 * CW_MAX_DC];
	cw_vc           vc;
	size_t          n;
	int             rc;
	cw_schema_peer *peers = NULL;

	if (r->nreads > 0 &&
	    (res = cw_calloc(r->nreads, sizeof(*res))) == NULL) {
		h.err = CW_ENOMEM;
		goto reply;
	}
	switch (r->kind) {
	case CW_REQ_STATUS:
		cw_db_state(s->db, &vc);
		h.dc     = cw_db_dc(s->db);
		h.ndc    = cw_db_ndc(s->db);
		h.nstate = vc.n;
		memcpy(h.state, vc.v, sizeof(uint64_t) * vc.n);
		if ((h.err = cw_db_digest(s->db, &h.digest)) != 0)
			break;
		cw_escrow_stats es;
		cw_db_escrow_stats(s->db, &es);
		h.escrow[0] = es.requests;
		h.escrow[1] = es.grants;
		h.escrow[2] = es.moved;
		h.escrow[3] = es.refused;
		h.requests  = atomic_load(&s->nrequests);
		if (s->replica != NULL)
			h.err = status_peers(s, &h, &peers);
		break;
	case CW_REQ_BEGIN:
	case CW_REQ_READ:
		if (r->txid == 0) {
			if ((h.err = open_txn(s, r, &tx)) != 0)
				break;
			if ((h.err = slot_alloc(s, tx, &h.txid, &sl)) != 0) {
				cw_tx_free(tx);
				break;
			}
		} else if ((sl = slot_get(s, r->txid)) == NULL) {
			h.err = CW_ESTATE;
			break;
		} else {
			h.txid = r->txid;
		}
		run_ops(sl->tx, r, res, &h);
		cw_tx_snapshot(sl->tx, &vc);
		if (cw_tx_observed(sl->tx))
			encode_clock(&vc, clk, &h);
		slot_done(sl);
		break;
	case CW_REQ_COMMIT:
		if (r->txid == 0) {
			if ((h.err = open_txn(s, r, &tx)) != 0)
				break;
		} else if ((sl = slot_get(s, r->txid)) == NULL) {
			h.err = CW_ESTATE;
			break;
		} else {
			tx = sl->tx;
		}
		run_ops(tx, r, res, &h);
		if (h.err == 0) {
			if ((rc = cw_tx_commit(tx, &vc)) == 0)
				encode_clock(&vc, clk, &h);
			h.err = rc;
		}
		if (sl != NULL)
			slot_release(s, sl); /* frees tx */
		else
			cw_tx_free(tx);
		break;
	case CW_REQ_ABORT:
		if ((sl = slot_get(s, r->txid)) == NULL)
			h.err = CW_ESTATE;
		else
			slot_release(s, sl);
		break;
	default:
		h.err = CW_EPROTO;
	}
reply:
	/* results go with success, and with a READ (each has its error) */
	n  = res != NULL && (h.err == 0 || r->kind == CW_REQ_READ) ? r->nreads
	                                                           : 0;
	rc = cw_schema_rep_encode(&h, res, n, out);
	cw_free(peers);
	for (size_t i = 0; res != NULL && i < r->nreads; i++)
		cw_result_fini(&res[i]);
	cw_free(res);
	return rc;
}

static int
error_reply(int err, cw_buf *out)
{
	cw_rep h = { .err = err };
	return cw_schema_rep_encode(&h, NULL, 0, out);
}

int
cw_server_handle(cw_server *s, const void *buf, size_t len, cw_buf *out)
{
	cw_req r;
	bool   claimed = false;
	int    rc;
	atomic_fetch_add(&s->nrequests, 1);
	if ((rc = cw_schema_req_decode(buf, len, &r)) != 0) {
		cw_log(CW_LOG_DEBUG, "server", "malformed request (%zu bytes)",
		    len);
		return error_reply(rc == CW_ENOMEM ? rc : CW_EPROTO, out);
	}
	if (r.nwrites + r.nreads > s->o.max_ops) {
		cw_schema_req_fini(&r);
		return error_reply(CW_ETOOBIG, out);
	}
	/* read-only transactions the client ended without a round trip;
	 * an id already gone (reaped, or a resent request) is ignored */
	for (size_t i = 0; i < r.nrelease; i++) {
		struct slot *sl = slot_get(s, r.release[i]);
		if (sl != NULL)
			slot_release(s, sl);
	}
	bool mutates = r.kind == CW_REQ_COMMIT || r.nwrites > 0 ||
	    (r.kind != CW_REQ_STATUS && r.kind != CW_REQ_ABORT && r.txid == 0);
	if (r.sid != 0 && mutates &&
	    dedup_begin(s, r.sid, r.rid, out, &claimed) == 1) {
		cw_schema_req_fini(&r);
		return 0;
	}
	size_t start = out->len;
	rc           = handle(s, &r, out);
	if (claimed) {
		cw_buf mine = { out->p + start, out->len - start, 0 };
		dedup_end(s, r.sid, r.rid, &mine);
	}
	cw_schema_req_fini(&r);
	return rc;
}

/* ---- network ---- */

static void *
work(void *arg)
{
	struct worker *w = arg;
	cw_server     *s = w->s;
	for (;;) {
		nng_ctx_recv(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		int rv = nng_aio_result(w->aio);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			break;
		if (rv != 0) {
			cw_log(CW_LOG_WARN, "server", "receive: %s",
			    nng_strerror(rv));
			continue;
		}
		nng_msg *m     = nng_aio_get_msg(w->aio);
		cw_buf   reply = { 0 };
		rv             = cw_server_handle(
		                s, nng_msg_body(m), nng_msg_len(m), &reply);
		if (rv != 0 || nng_msg_realloc(m, 0) != 0 ||
		    nng_msg_append(m, reply.p, reply.len) != 0) {
			/* no reply: the client times out, nothing is lost */
			cw_log(
			    CW_LOG_ERROR, "server", "no memory for a reply");
			nng_msg_free(m);
			cw_buf_fini(&reply);
			continue;
		}
		cw_buf_fini(&reply);
		nng_aio_set_msg(w->aio, m);
		nng_ctx_send(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		if ((rv = nng_aio_result(w->aio)) != 0) {
			nng_msg_free(nng_aio_get_msg(w->aio));
			if (rv == NNG_ECLOSED)
				break;
		}
	}
	return NULL;
}

static int
start_workers(cw_server *s)
{
	if (s->workers != NULL)
		return 0;
	s->workers = cw_calloc(s->o.workers, sizeof(*s->workers));
	if (s->workers == NULL)
		return CW_ENOMEM;
	for (uint32_t i = 0; i < s->o.workers; i++) {
		struct worker *w = &s->workers[i];
		w->s             = s;
		if (nng_ctx_open(&w->ctx, s->sock) != 0 ||
		    nng_aio_alloc(&w->aio, NULL, NULL) != 0)
			return CW_ENOMEM;
		if (pthread_create(&w->th, NULL, work, w) != 0)
			return CW_ENOMEM;
		w->started = true;
		s->nworkers++;
	}
	return 0;
}

int
cw_server_listen(cw_server *s, const char *url)
{
	int rv;
	if (url == NULL)
		return CW_EINVAL;
	if (!s->sock_open) {
		if ((rv = nng_rep0_open(&s->sock)) != 0) {
			cw_log(CW_LOG_ERROR, "server", "socket: %s",
			    nng_strerror(rv));
			return CW_EUNAVAIL;
		}
		s->sock_open = true;
		/* refuse oversized requests before reading them */
		nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, s->o.max_msg);
		if ((rv = start_workers(s)) != 0)
			return rv;
	}
	if ((rv = nng_listen(s->sock, url, NULL, 0)) != 0) {
		cw_log(CW_LOG_ERROR, "server", "listen on %s: %s", url,
		    nng_strerror(rv));
		return rv == NNG_EINVAL || rv == NNG_ENOTSUP ||
		        rv == NNG_EADDRINVAL
		    ? CW_EINVAL
		    : CW_EUNAVAIL;
	}
	cw_log(CW_LOG_INFO, "server", "listening on %s", url);
	return 0;
}

int
cw_server_new(cw_server **out, cw_db *db, const cw_server_opts *o)
{
	cw_server *s;
	*out = NULL;
	if (db == NULL || o == NULL || o->workers < 1 || o->max_txns < 1 ||
	    o->max_txns > (1u << SLOT_BITS) || o->max_msg < 64)
		return CW_EINVAL;
	if ((s = cw_calloc(1, sizeof(*s))) == NULL)
		return CW_ENOMEM;
	s->db    = db;
	s->o     = *o;
	s->slots = cw_calloc(o->max_txns, sizeof(*s->slots));
	s->free  = cw_calloc(o->max_txns, sizeof(*s->free));
	s->dedup = cw_calloc(DEDUP_SIZE, sizeof(*s->dedup));
	if (s->slots == NULL || s->free == NULL || s->dedup == NULL) {
		cw_free(s->slots);
		cw_free(s->free);
		cw_free(s->dedup);
		cw_free(s);
		return CW_ENOMEM;
	}
	for (uint32_t i = 0; i < o->max_txns; i++) {
		pthread_mutex_init(&s->slots[i].mu, NULL);
		s->free[s->nfree++] = o->max_txns - 1 - i;
	}
	pthread_mutex_init(&s->tbl_mu, NULL);
	pthread_mutex_init(&s->dedup_mu, NULL);
	pthread_mutex_init(&s->stop_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->dedup_cv, &ca);
	pthread_cond_init(&s->stop_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->reaper, NULL, reaper, s) == 0)
		s->reaper_started = true;
	*out = s;
	return s->reaper_started ? 0
	                         : (cw_server_free(s), *out = NULL, CW_ENOMEM);
}

void
cw_server_stop(cw_server *s)
{
	/* In-flight requests finish; their replies are dropped. The
	 * workers' aios stop first, so that no worker touches a context of
	 * a closed socket (nng 1.5 can crash on that), then the socket. */
	for (uint32_t i = 0; s->workers != NULL && i < s->o.workers; i++)
		if (s->workers[i].aio != NULL)
			nng_aio_stop(s->workers[i].aio);
	for (uint32_t i = 0; s->workers != NULL && i < s->o.workers; i++) {
		struct worker *w = &s->workers[i];
		if (w->started)
			pthread_join(w->th, NULL);
		if (w->aio != NULL) {
			nng_ctx_close(w->ctx);
			nng_aio_free(w->aio);
		}
	}
	if (s->sock_open) { /* nng 1.5 can hang here: a client dialing in */
		cw_nng_close_bounded(s->sock.id, 2000, "server");
		s->sock_open = false;
	}
	cw_free(s->workers);
	s->workers  = NULL;
	s->nworkers = 0;
	pthread_mutex_lock(&s->stop_mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->stop_cv);
	pthread_mutex_unlock(&s->stop_mu);
	if (s->reaper_started) {
		pthread_join(s->reaper, NULL);
		s->reaper_started = false;
	}
}

void
cw_server_free(cw_server *s)
{
	if (s == NULL)
		return;
	cw_server_stop(s);
	uint32_t aborted = 0;
	for (uint32_t i = 0; i < s->o.max_txns; i++) {
		if (s->slots[i].id != 0) {
			cw_tx_free(s->slots[i].tx);
			aborted++;
		}
		pthread_mutex_destroy(&s->slots[i].mu);
	}
	if (aborted)
		cw_log(CW_LOG_INFO, "server", "aborted %u open transactions",
		    aborted);
	for (uint32_t i = 0; i < DEDUP_SIZE; i++)
		cw_free(s->dedup[i].reply);
	cw_free(s->dedup);
	cw_free(s->slots);
	cw_free(s->free);
	pthread_mutex_destroy(&s->tbl_mu);
	pthread_mutex_destroy(&s->dedup_mu);
	pthread_mutex_destroy(&s->stop_mu);
	pthread_cond_destroy(&s->dedup_cv);
	pthread_cond_destroy(&s->stop_cv);
	cw_free(s);
}
