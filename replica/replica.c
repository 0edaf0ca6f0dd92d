/*
 * replica.c - DC-to-DC shipping; see replica.h.
 */
#include "replica.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escrow.h"
#include "schema.h"
#include "util.h"

#define RECEIVERS 2
#define MAX_MSG (64u << 20)

struct link {
	cw_replica  *r;
	cw_peer_conf conf;
	pthread_t    th;
	bool         started;
	nng_socket   sock; /* the sender's; replaced (under link_mu) by
	                    * the sender, closed by stop */
	bool            sock_open;
	uint64_t        dialed_ms; /* when sock was opened */
	pthread_mutex_t link_mu;
	/* link_mu guards: */
	bool     known; /* acked holds an ack */
	bool     up;
	uint64_t heard_ms; /* monotonic time of the last ack, 0: never */
	cw_vc    acked;
	uint64_t behind_since; /* 0: not behind */
};

struct cw_replica {
	cw_db          *db;
	cw_replica_opts o;
	uint16_t        dc;
	uint32_t        ndc;
	atomic_bool     stopping;
	nng_socket      rsock;
	bool            rsock_open;
	struct receiver {
		cw_replica *r;
		pthread_t   th;
		nng_ctx     ctx;
		nng_aio    *aio;
	} recv[RECEIVERS];
	int         nrecv;
	pthread_t   prune_th;
	bool        pruning;
	struct link links[CW_MAX_DC];
	int         nlinks;
};

void
cw_replica_opts_default(cw_replica_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->heartbeat_ms = 50;
	o->timeout_ms   = 1000;
	o->batch_bytes  = 1u << 20;
	o->log_retain   = 100000;
	o->grant_margin = 16;
}

uint64_t
cw_replica_fingerprint(const char *cluster, uint32_t ndc)
{
	uint8_t  sep = 0xff, n[4];
	uint64_t h   = cw_fnv1a(
	      CW_FNV_BASIS, cluster, cluster != NULL ? strlen(cluster) : 0);
	h = cw_fnv1a(h, &sep, 1);
	for (int i = 0; i < 4; i++)
		n[i] = (uint8_t) (ndc >> (8 * i));
	return cw_fnv1a(h, n, sizeof(n));
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t) (ms / 1000),
		(long) (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- receiver ---- */

static void
ack(cw_replica *r, int err, cw_buf *out)
{
	cw_vc S;
	cw_db_durable_state(r->db, &S);
	cw_schema_ack_encode(err, r->dc, S.v, S.n, out);
}

/* Applies the records of one batch: passes over the records until one
 * makes no progress, so records that depend on earlier ones of the same
 * batch (in any order) all go in. A stop ends it between two records
 * (CW_EUNAVAIL): what is applied stays, the ack names only durable
 * state, and the sender ships the rest again. A 1 MiB batch of a DC
 * catching up took longer than a stop may under ThreadSanitizer. */
static int
apply_batch(cw_replica *r, const cw_batch *b)
{
	size_t n        = b->nrecs;
	bool  *done     = cw_calloc(n ? n : 1, sizeof(*done));
	bool   progress = true;
	int    rc       = 0;
	if (done == NULL)
		return CW_ENOMEM;
	while (progress && rc == 0) {
		progress = false;
		for (size_t i = 0; i < n && rc == 0; i++) {
			const void *p;
			size_t      len;
			int         res;
			if (done[i])
				continue;
			if (atomic_load(&r->stopping)) {
				rc = CW_EUNAVAIL;
				break;
			}
			cw_schema_batch_rec(b, i, &p, &len);
			int e = cw_db_apply_remote_nosync(r->db, p, len, &res);
			if (e == CW_EPROTO || e == CW_ETOOBIG) {
				cw_log(CW_LOG_WARN, "replica",
				    "DC %u sent a bad record: dropped",
				    b->from);
				done[i] = true;
			} else if (e != 0) {
				rc = e; /* local trouble: stop, ack what we
				           have */
			} else if (res != CW_APPLY_NOT_READY) {
				done[i]  = true;
				progress = true;
			}
		}
	}
	cw_free(done);
	return rc;
}

static void
handle_batch(cw_replica *r, const void *buf, size_t len, cw_buf *out)
{
	cw_batch b;
	int      rc;
	if ((rc = cw_schema_batch_decode(buf, len, &b)) != 0) {
		cw_log(CW_LOG_WARN, "replica", "malformed batch (%zu bytes)",
		    len);
		ack(r, CW_EPROTO, out);
		return;
	}
	bool known = false;
	for (int i = 0; i < r->nlinks; i++)
		known |= r->links[i].conf.id == b.from;
	if (!known || b.fingerprint != r->o.fingerprint) {
		cw_log(CW_LOG_WARN, "replica",
		    "refused a batch from DC %u: %s", b.from,
		    known ? "its configuration differs" : "not a peer");
		ack(r, CW_EFORMAT, out);
		cw_schema_batch_fini(&b);
		return;
	}
	rc = apply_batch(r, &b);
	/* escrow: grant what the sender asks of us (it asks the DC with the
	 * most rights); the transfer goes back by ordinary replication */
	for (size_t i = 0; rc == 0 && r->o.escrow != NULL && i < b.nwants;
	     i++) {
		cw_batch_want w;
		int64_t       g;
		cw_schema_batch_want(&b, i, &w);
		cw_escrow_grant(r->o.escrow, b.from, w.key, w.kl, w.amount,
		    w.id, r->o.grant_margin, w.background, &g);
	}
	cw_schema_batch_fini(&b);
	/* one fsync for the whole batch; the ack names only durable state */
	int src = cw_db_sync(r->db);
	ack(r, rc ? rc : src, out);
}

static void *
receiver(void *arg)
{
	struct receiver *me  = arg;
	cw_replica      *r   = me->r;
	nng_ctx          ctx = me->ctx;
	nng_aio         *aio = me->aio;
	while (!atomic_load(&r->stopping)) {
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		int rv = nng_aio_result(aio);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			break;
		if (rv != 0)
			continue;
		nng_msg *m   = nng_aio_get_msg(aio);
		cw_buf   out = { 0 };
		handle_batch(r, nng_msg_body(m), nng_msg_len(m), &out);
		nng_msg_clear(m);
		if (out.len == 0 || nng_msg_append(m, out.p, out.len) != 0) {
			nng_msg_free(m);
			cw_buf_fini(&out);
			continue;
		}
		cw_buf_fini(&out);
		nng_aio_set_msg(aio, m);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			nng_msg_free(nng_aio_get_msg(aio));
	}
	return NULL;
}

/* ---- senders ---- */

struct collect {
	cw_buf  arena;
	size_t *offs, *lens;
	size_t  n, ocap, lcap;
};

static int
collect_rec(
    void *arg, uint16_t origin, uint64_t seq, const void *rec, size_t len)
{
	struct collect *c = arg;
	(void) origin;
	(void) seq;
	if (cw_grow(&c->offs, &c->ocap, c->n + 1, sizeof(*c->offs)) != 0 ||
	    cw_grow(&c->lens, &c->lcap, c->n + 1, sizeof(*c->lens)) != 0)
		return CW_ENOMEM;
	c->offs[c->n] = c->arena.len;
	c->lens[c->n] = len;
	if (cw_buf_put(&c->arena, rec, len) != 0)
		return CW_ENOMEM;
	c->n++;
	return 0;
}

/* One call: ships what the peer lacks (or a heartbeat), reads the ack.
 * Returns 0 or an error; OUT: *shipped. */
static int
ship(struct link *l, size_t *shipped)
{
	cw_replica    *r = l->r;
	cw_vc          D, A;
	struct collect c = { 0 };
	bool           known;
	int            rc = 0;
	*shipped          = 0;
	cw_db_durable_state(r->db, &D);
	pthread_mutex_lock(&l->link_mu);
	A     = l->acked;
	known = l->known;
	pthread_mutex_unlock(&l->link_mu);
	/* The records the peer lacks, every origin's next ones in each
	 * batch: each origin first gets an equal share of the batch, then
	 * what is left goes in id order. Filling the batch with one origin's
	 * records first would starve the others, and when the first's next
	 * records depend on another's (a session that moved between DCs
	 * during a partition), the peer could apply nothing at all. */
	uint32_t npend = 0;
	uint64_t next[CW_MAX_DC];
	for (uint32_t k = 0; k < r->ndc; k++) {
		/* never a peer's own records: it is their origin */
		bool mine = k == l->conf.id || D.v[k] <= A.v[k] ||
		    (r->o.no_forward && k != r->dc);
		next[k] = mine ? D.v[k] + 1 : A.v[k] + 1;
		npend += !mine;
	}
	for (int pass = 0; known && npend > 0 && pass < 2 && rc == 0; pass++)
		for (uint32_t k = 0; k < r->ndc && rc == 0; k++) {
			size_t room = r->o.batch_bytes - c.arena.len;
			if (next[k] > D.v[k] ||
			    c.arena.len >= r->o.batch_bytes)
				continue;
			if (pass == 0 && room > r->o.batch_bytes / npend)
				room = r->o.batch_bytes / npend;
			size_t before = c.n;
			rc = cw_db_log_scan(r->db, (uint16_t) k, next[k],
			    D.v[k], room, collect_rec, &c);
			next[k] += c.n - before;
		}
	const void **recs = cw_calloc(c.n ? c.n : 1, sizeof(*recs));
	cw_buf       msg  = { 0 };
	if (recs == NULL)
		rc = CW_ENOMEM;
	for (size_t i = 0; rc == 0 && i < c.n; i++)
		recs[i] = c.arena.p + c.offs[i];
	/* escrow: the wants this peer, holding the most rights, should
	 * serve */
	cw_want       wants[16];
	cw_batch_want bw[16];
	int           nw = known && r->o.escrow != NULL
	              ? cw_escrow_pick(r->o.escrow, l->conf.id, wants, 16)
	              : 0;
	for (int i = 0; i < nw; i++)
		bw[i] = (cw_batch_want) { wants[i].key, wants[i].kl,
			wants[i].amount, wants[i].id, wants[i].background };
	if (rc == 0)
		rc = cw_schema_batch_encode(r->dc, r->o.fingerprint, D.v, D.n,
		    recs, c.lens, c.n, bw, nw, &msg);
	if (rc == 0 && nw > 0)
		cw_escrow_sent(r->o.escrow, (uint64_t) nw);
	cw_free(recs);
	nng_msg *m = NULL, *reply = NULL;
	if (rc == 0 &&
	    (nng_msg_alloc(&m, 0) != 0 ||
	        nng_msg_append(m, msg.p, msg.len) != 0))
		rc = CW_ENOMEM;
	cw_buf_fini(&msg);
	if (rc == 0) {
		int rv = nng_sendmsg(l->sock, m, 0);
		if (rv == 0) {
			m  = NULL;
			rv = nng_recvmsg(l->sock, &reply, 0);
		}
		rc = rv == 0 ? 0 : CW_EUNAVAIL;
	}
	if (m != NULL)
		nng_msg_free(m);
	if (rc == 0) {
		int      err;
		uint16_t dc;
		cw_vc    acked;
		uint32_t n;
		cw_causal_vc_init(&acked, r->ndc);
		rc = cw_schema_ack_decode(nng_msg_body(reply),
		    nng_msg_len(reply), &err, &dc, acked.v, &n);
		if (rc == 0 && (dc != l->conf.id || n != r->ndc)) {
			cw_log(CW_LOG_WARN, "replica",
			    "DC %u answered as DC %u with %u entries",
			    l->conf.id, dc, n);
			rc = CW_EPROTO;
		} else if (rc == 0 && err == CW_EFORMAT) {
			cw_log(CW_LOG_ERROR, "replica",
			    "DC %u refuses us: configurations differ",
			    l->conf.id);
			rc = err;
		}
		if (rc == 0) {
			uint64_t now    = cw_mono_ms();
			uint64_t behind = 0;
			for (uint32_t k = 0; k < r->ndc; k++)
				if (k != l->conf.id && D.v[k] > acked.v[k])
					behind += D.v[k] - acked.v[k];
			pthread_mutex_lock(&l->link_mu);
			l->acked    = acked;
			l->known    = true;
			l->up       = true;
			l->heard_ms = now;
			if (behind == 0)
				l->behind_since = 0;
			else if (l->behind_since == 0)
				l->behind_since = now;
			pthread_mutex_unlock(&l->link_mu);
			*shipped = c.n;
		}
	}
	if (reply != NULL)
		nng_msg_free(reply);
	cw_free(c.offs);
	cw_free(c.lens);
	cw_buf_fini(&c.arena);
	return rc;
}

/* Opens l's req socket and starts dialing its peer (non-blocking: the
 * peer may not be up yet). Returns 0 or an nng error. */
static int
link_dial(struct link *l)
{
	const cw_replica_opts *o = &l->r->o;
	int                    rv;
	if ((rv = nng_req0_open(&l->sock)) != 0)
		return rv;
	l->sock_open = true;
	l->dialed_ms = cw_mono_ms();
	nng_socket_set_ms(l->sock, NNG_OPT_RECVTIMEO, (int) o->timeout_ms);
	nng_socket_set_ms(l->sock, NNG_OPT_SENDTIMEO, (int) o->timeout_ms);
	nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, 500);
	nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, 1u << 20);
	return nng_dial(l->sock, l->conf.url, NULL, NNG_FLAG_NONBLOCK);
}

/* A link silent for REDIAL_MS gets a new socket. nng 1.5's dialer can
 * stop redialing for good after a peer (here: a partition) closes
 * connections during the SP handshake; the cluster test saw a link stay
 * down for minutes after a heal, which forwarding through a third DC had
 * hidden. */
#define REDIAL_MS 5000
static void
redial_if_stuck(struct link *l)
{
	cw_replica *r   = l->r;
	uint64_t    now = cw_mono_ms();
	pthread_mutex_lock(&l->link_mu);
	uint64_t last =
	    l->heard_ms > l->dialed_ms ? l->heard_ms : l->dialed_ms;
	if (!atomic_load(&r->stopping) && now - last >= REDIAL_MS) {
		if (l->sock_open)
			nng_close(l->sock);
		l->sock_open = false;
		int rv       = link_dial(l);
		cw_log(rv ? CW_LOG_WARN : CW_LOG_INFO, "replica",
		    "link to DC %u silent for %llu ms: new socket%s%s",
		    l->conf.id, (unsigned long long) (now - last),
		    rv ? ": " : "", rv ? nng_strerror(rv) : "");
		if (rv != 0 && l->sock_open) {
			nng_close(l->sock);
			l->sock_open = false;
		}
	}
	pthread_mutex_unlock(&l->link_mu);
}

static void *
sender(void *arg)
{
	struct link *l    = arg;
	cw_replica  *r    = l->r;
	uint64_t     last = 0;
	while (!atomic_load(&r->stopping)) {
		cw_vc D, A;
		bool  known, due;
		cw_db_durable_state(r->db, &D);
		pthread_mutex_lock(&l->link_mu);
		A     = l->acked;
		known = l->known;
		pthread_mutex_unlock(&l->link_mu);
		A.v[l->conf.id] =
		    D.v[l->conf.id]; /* its own: never ours to send */
		for (uint32_t k = 0; r->o.no_forward && k < r->ndc; k++)
			if (k != r->dc)
				A.v[k] = D.v[k]; /* not ours to send either */
		due = !known || !cw_causal_vc_dominates(&A, &D) ||
		    cw_mono_ms() - last >= r->o.heartbeat_ms;
		if (!due) {
			sleep_ms(1); /* poll for new durable records */
			continue;
		}
		size_t shipped;
		int    rc = ship(l, &shipped);
		last      = cw_mono_ms();
		if (rc != 0) {
			pthread_mutex_lock(&l->link_mu);
			if (l->up)
				cw_log(CW_LOG_WARN, "replica",
				    "link to DC %u down: %s", l->conf.id,
				    cw_strerror(rc));
			l->up = false;
			pthread_mutex_unlock(&l->link_mu);
			sleep_ms(r->o.heartbeat_ms); /* nng redials */
			redial_if_stuck(l);
		}
	}
	return NULL;
}

/* ---- pruning ---- */

static void *
pruner(void *arg)
{
	cw_replica *r = arg;
	while (!atomic_load(&r->stopping)) {
		for (int i = 0; i < 50 && !atomic_load(&r->stopping); i++)
			sleep_ms(10);
		cw_vc D, floor;
		bool  known = true;
		cw_db_durable_state(r->db, &D);
		floor = D;
		for (int i = 0; i < r->nlinks; i++) {
			struct link *l = &r->links[i];
			pthread_mutex_lock(&l->link_mu);
			known &= l->known;
			for (uint32_t k = 0; k < r->ndc; k++)
				if (k != l->conf.id &&
				    l->acked.v[k] < floor.v[k])
					floor.v[k] = l->acked.v[k];
			pthread_mutex_unlock(&l->link_mu);
		}
		if (r->o.escrow != NULL) /* rebalancing ahead of need */
			cw_escrow_tick(r->o.escrow);
		if (!known || r->o.log_retain == UINT64_MAX)
			continue; /* not heard from everyone yet */
		for (uint32_t k = 0; k < r->ndc; k++)
			if (floor.v[k] > r->o.log_retain)
				cw_db_log_prune(r->db, (uint16_t) k,
				    floor.v[k] - r->o.log_retain);
	}
	return NULL;
}

/* ---- lifecycle ---- */

/* The CW_E code of a failed nng call: out of memory, or else the network
 * cannot be used as configured. */
static int
nng_rc(int rv)
{
	return rv == NNG_ENOMEM ? CW_ENOMEM : CW_EUNAVAIL;
}

/* Starts fn(arg) on a thread of its own. Returns 0, or CW_EUNAVAIL (the
 * system has no thread to give; logged). */
static int
start_thread(pthread_t *th, void *(*fn)(void *), void *arg, const char *what)
{
	int e = pthread_create(th, NULL, fn, arg);
	if (e != 0)
		cw_log(CW_LOG_ERROR, "replica",
		    "cannot start the %s thread: %s", what, strerror(e));
	return e == 0 ? 0 : CW_EUNAVAIL;
}

int
cw_replica_start(cw_replica **out, cw_db *db, const cw_replica_opts *o)
{
	cw_replica *r;
	int         rv, rc;
	*out = NULL;
	if (db == NULL || o == NULL || o->listen == NULL || o->npeers < 1 ||
	    o->npeers >= CW_MAX_DC)
		return CW_EINVAL;
	if ((r = cw_calloc(1, sizeof(*r))) == NULL)
		return CW_ENOMEM;
	r->db  = db;
	r->o   = *o;
	r->dc  = cw_db_dc(db);
	r->ndc = cw_db_ndc(db);
	if ((rv = nng_rep0_open(&r->rsock)) != 0) {
		rc = nng_rc(rv);
		goto fail;
	}
	r->rsock_open = true;
	nng_socket_set_size(r->rsock, NNG_OPT_RECVMAXSZ, MAX_MSG);
	if ((rv = nng_listen(r->rsock, o->listen, NULL, 0)) != 0) {
		cw_log(CW_LOG_ERROR, "replica", "listen on %s: %s", o->listen,
		    nng_strerror(rv));
		rc = nng_rc(rv);
		goto fail;
	}
	for (int i = 0; i < o->npeers; i++) {
		struct link *l = &r->links[i];
		l->r           = r;
		l->conf        = o->peers[i];
		pthread_mutex_init(&l->link_mu, NULL);
		cw_causal_vc_init(&l->acked, r->ndc);
		r->nlinks++;
		if ((rv = link_dial(l)) != 0) {
			cw_log(CW_LOG_ERROR, "replica", "peer %u at %s: %s",
			    l->conf.id, l->conf.url, nng_strerror(rv));
			rc = rv == NNG_ENOMEM ? CW_ENOMEM : CW_EINVAL;
			goto fail;
		}
		if ((rc = start_thread(&l->th, sender, l, "sender")) != 0)
			goto fail;
		l->started = true;
	}
	/* the receivers last: a batch they take reads the links (a peer
	 * may send one as soon as we listen; nng holds it until then) */
	for (int i = 0; i < RECEIVERS; i++) {
		struct receiver *x = &r->recv[i];
		x->r               = r;
		if ((rv = nng_ctx_open(&x->ctx, r->rsock)) != 0) {
			rc = nng_rc(rv);
			goto fail;
		}
		if ((rv = nng_aio_alloc(&x->aio, NULL, NULL)) != 0) {
			nng_ctx_close(x->ctx);
			rc = nng_rc(rv);
			goto fail;
		}
		if ((rc = start_thread(&x->th, receiver, x, "receiver")) !=
		    0) {
			nng_aio_free(x->aio);
			nng_ctx_close(x->ctx);
			goto fail;
		}
		r->nrecv++;
	}
	if ((rc = start_thread(&r->prune_th, pruner, r, "pruner")) != 0)
		goto fail;
	r->pruning = true;
	cw_log(CW_LOG_INFO, "replica", "DC %u: peers on %s, %d peer(s)", r->dc,
	    o->listen, o->npeers);
	*out = r;
	return 0;
fail:
	cw_replica_stop(r);
	return rc;
}

void
cw_replica_stop(cw_replica *r)
{
	if (r == NULL)
		return;
	/* Every thread stops before any socket closes: nng 1.5 can crash on
	 * a context of a closed socket, and its nng_close can hang while a
	 * send or receive on the socket is in flight in another thread
	 * (repl_test a_dc_stops_cleanly_while_batches_arrive saw both). */
	atomic_store(&r->stopping, true);
	for (int i = 0; i < r->nrecv; i++)
		nng_aio_stop(r->recv[i].aio); /* wakes the receivers */
	for (int i = 0; i < r->nrecv; i++) {
		pthread_join(r->recv[i].th, NULL);
		nng_ctx_close(r->recv[i].ctx);
		nng_aio_free(r->recv[i].aio);
	}
	if (r->pruning)
		pthread_join(r->prune_th, NULL);
	/* a sender notices `stopping` once its call returns: at most the
	 * link timeout */
	for (int i = 0; i < r->nlinks; i++)
		if (r->links[i].started)
			pthread_join(r->links[i].th, NULL);
	for (int i = 0; i < r->nlinks; i++) {
		if (r->links[i].sock_open)
			cw_nng_close_bounded(
			    r->links[i].sock.id, 2000, "replica");
		pthread_mutex_destroy(&r->links[i].link_mu);
	}
	if (r->rsock_open) /* and here: a peer dialing in */
		cw_nng_close_bounded(r->rsock.id, 2000, "replica");
	cw_free(r);
}

int
cw_replica_status(cw_replica *r, cw_peer_status *out, int max)
{
	uint64_t now = cw_mono_ms();
	cw_vc    D;
	int      n = 0;
	cw_db_durable_state(r->db, &D);
	for (int i = 0; i < r->nlinks && n < max; i++, n++) {
		struct link    *l = &r->links[i];
		cw_peer_status *s = &out[n];
		pthread_mutex_lock(&l->link_mu);
		s->id           = l->conf.id;
		s->up           = l->up;
		s->heard_ms_ago = l->heard_ms ? now - l->heard_ms : UINT64_MAX;
		s->acked        = l->acked;
		/* behind since it was seen behind, or else at most since its
		 * last ack (it was level then) */
		uint64_t since =
		    l->behind_since ? l->behind_since : l->heard_ms;
		pthread_mutex_unlock(&l->link_mu);
		s->behind = 0;
		for (uint32_t k = 0; k < r->ndc; k++)
			if (k != l->conf.id && D.v[k] > s->acked.v[k])
				s->behind += D.v[k] - s->acked.v[k];
		s->lag_ms = s->behind > 0 && since > 0 ? now - since : 0;
	}
	return n;
}
