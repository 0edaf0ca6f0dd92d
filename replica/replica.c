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
#define MAX_PIPES 64 /* connections a listener tracks (TLS) */

struct link {
	cw_replica  *r;
	cw_peer_conf conf;
	pthread_t    th;
	bool         started;
	nng_socket   sock; /* the sender's; replaced (under link_mu) by
	                    * the sender, closed by stop */
	bool     sock_open;
	uint64_t dialed_ms; /* when sock was opened */
	/* TLS: the peer's challenge to answer in the next batch */
	bool    challenged;
	uint8_t nonce[CW_SEC_NONCE];
	bool    proof_refused_logged;
	bool    unproved; /* no call succeeded since the link (re)started: the
	                   * connection may be new, so the next batch is a
	                   * heartbeat (a challenge refuses it) */
	pthread_mutex_t link_mu;
	/* link_mu guards: */
	bool     known; /* acked holds an ack */
	bool     up;
	uint64_t heard_ms; /* monotonic time of the last ack, 0: never */
	cw_vc    acked;
	uint64_t behind_since; /* 0: not behind */
	uint64_t forwarded;    /* other origins' records it acknowledged */
};

/* The connections a TLS listener has seen and the DC id each proved
 * (sec.h). Allocated apart from the replica: nng's pipe callback may run
 * while a socket that did not close in time is still closing, after the
 * replica is gone, and then this is left to the exit. */
struct pipes {
	pthread_mutex_t auth_mu;
	/* auth_mu guards: */
	struct pipe_auth {
		uint32_t    id;    /* nng's pipe id; 0: a free slot */
		uint64_t    since; /* when it was first seen (monotonic ms) */
		bool        bound;
		uint16_t    dc;
		bool        challenged;
		uint8_t     nonce[CW_SEC_NONCE];
		const char *warned; /* the reason last logged: each is
		                     * logged once per connection */
	} p[MAX_PIPES];
};

struct cw_replica {
	cw_db          *db;
	cw_replica_opts o;
	uint16_t        dc;
	uint32_t        ndc;
	atomic_bool     stopping;
	nng_socket      rsock;
	bool            rsock_open;
	struct pipes   *pipes;
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
	cw_schema_ack_encode(err, r->dc, S.v, S.n, NULL, out);
}

/* The answer to a refused batch: the error, no state vector (nonce: a
 * challenge, or NULL). */
static void
refuse(cw_replica *r, int err, const uint8_t *nonce, cw_buf *out)
{
	cw_schema_ack_encode(err, r->dc, NULL, 0, nonce, out);
}

/* ---- the connections of a TLS listener (sec.h) ---- */

static void
pipe_gone(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct pipes *t  = arg;
	uint32_t      id = (uint32_t) nng_pipe_id(p);
	(void) ev;
	pthread_mutex_lock(&t->auth_mu);
	for (int i = 0; i < MAX_PIPES; i++)
		if (t->p[i].id == id)
			memset(&t->p[i], 0, sizeof(t->p[i]));
	pthread_mutex_unlock(&t->auth_mu);
}

/* The slot of pipe id, made if new: a new connection may take the slot
 * of the oldest one that never proved itself (a member proves itself in
 * one round trip; a slot unproved for long is a stranger's). Call with
 * auth_mu held. NULL: the table is full of bound connections. */
static struct pipe_auth *
pipe_slot(struct pipes *t, uint32_t id)
{
	struct pipe_auth *free_slot = NULL, *unbound = NULL;
	for (int i = 0; i < MAX_PIPES; i++) {
		struct pipe_auth *a = &t->p[i];
		if (a->id == id)
			return a;
		if (a->id == 0 && free_slot == NULL)
			free_slot = a;
		else if (a->id != 0 && !a->bound &&
		    (unbound == NULL || a->since < unbound->since))
			unbound = a;
	}
	struct pipe_auth *a = free_slot ? free_slot : unbound;
	if (a != NULL) {
		memset(a, 0, sizeof(*a));
		a->id    = id;
		a->since = cw_mono_ms();
	}
	return a;
}

/* Decides whether batch b, which came on pipe `pipe`, is from the DC it
 * names. Returns 0 (go on), or CW_EAUTH with *out the refusal: a
 * challenge for a new connection, or a bad proof or a connection bound
 * to another id (logged once per connection). */
static int
authenticate(cw_replica *r, uint32_t pipe, const cw_batch *b, cw_buf *out)
{
	struct pipes *t   = r->pipes;
	const char   *why = NULL;
	int           rc  = CW_EAUTH;
	bool          log = false;
	uint8_t       nonce[CW_SEC_NONCE];
	pthread_mutex_lock(&t->auth_mu);
	struct pipe_auth *a = pipe_slot(t, pipe);
	if (a == NULL) {
		why = "too many connections";
	} else if (a->bound) {
		if (a->dc == b->from)
			rc = 0;
		else
			why = "a connection of another DC";
	} else if (a->challenged && b->proof != NULL && b->nchain <= 8) {
		const void *ders[8];
		size_t      lens[8];
		for (size_t i = 0; i < b->nchain; i++)
			cw_schema_batch_cert(b, i, &ders[i], &lens[i]);
		/* verified under the lock: once per connection, a few
		 * hundred microseconds, and no two receivers race for the
		 * slot */
		int e = cw_sec_proof_check(r->o.sec, ders, lens, b->nchain,
		    r->o.fingerprint, b->from, r->dc, a->nonce, b->proof,
		    b->prooflen, &why);
		if (e == 0) {
			a->bound = true;
			a->dc    = b->from;
			rc       = 0;
			cw_log(CW_LOG_INFO, "replica",
			    "DC %u proved its identity", b->from);
		} else if (e == CW_ENOMEM) {
			why = "out of memory";
		}
	} else if (a->challenged && b->proof != NULL) {
		why = "a certificate chain longer than 8";
	}
	if (rc != 0 && a != NULL) {
		/* a fresh challenge every time: a proof answers one */
		if (cw_sec_random(a->nonce, sizeof(a->nonce)) == 0) {
			a->challenged = true;
			memcpy(nonce, a->nonce, sizeof(nonce));
		} else {
			a->challenged = false;
		}
		log = why != NULL && why != a->warned;
		if (why != NULL)
			a->warned = why;
	} else if (rc != 0) {
		log = true;
	}
	bool challenge = rc != 0 && a != NULL && a->challenged;
	pthread_mutex_unlock(&t->auth_mu);
	if (log)
		cw_log(CW_LOG_WARN, "replica",
		    "refused a batch that claims to be from DC %u: %s",
		    b->from, why);
	if (rc != 0)
		refuse(r, CW_EAUTH, challenge ? nonce : NULL, out);
	return rc;
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
				static cw_ratelimit rl;
				cw_log_limited(&rl, CW_LOG_WARN, "replica",
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
handle_batch(
    cw_replica *r, uint32_t pipe, const void *buf, size_t len, cw_buf *out)
{
	cw_batch b;
	int      rc;
	if ((rc = cw_schema_batch_decode(buf, len, &b)) != 0) {
		static cw_ratelimit rl;
		cw_log_limited(&rl, CW_LOG_WARN, "replica",
		    "malformed batch (%zu bytes)", len);
		refuse(r, CW_EPROTO, NULL, out);
		return;
	}
	bool known = false;
	for (int i = 0; i < r->nlinks; i++)
		known |= r->links[i].conf.id == b.from;
	if (!known || b.fingerprint != r->o.fingerprint) {
		static cw_ratelimit rl;
		cw_log_limited(&rl, CW_LOG_WARN, "replica",
		    "refused a batch from DC %u: %s", b.from,
		    known ? "its configuration differs" : "not a peer");
		refuse(r, CW_EFORMAT, NULL, out);
		cw_schema_batch_fini(&b);
		return;
	}
	if (r->o.sec != NULL && authenticate(r, pipe, &b, out) != 0) {
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
		nng_msg *m    = nng_aio_get_msg(aio);
		cw_buf   out  = { 0 };
		uint32_t pipe = (uint32_t) nng_pipe_id(nng_msg_get_pipe(m));
		handle_batch(r, pipe, nng_msg_body(m), nng_msg_len(m), &out);
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
 * Returns 0 or an error; OUT: *shipped, *proved (the batch answered a
 * challenge). */
static int
ship_once(struct link *l, size_t *shipped, bool *proved)
{
	cw_replica    *r = l->r;
	cw_vc          D, A;
	struct collect c = { 0 };
	bool           known;
	int            rc = 0;
	*shipped          = 0;
	*proved           = false;
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
	size_t   fwd = 0; /* records of other origins in the batch */
	for (uint32_t k = 0; k < r->ndc; k++) {
		/* never a peer's own records: it is their origin */
		bool mine = k == l->conf.id || D.v[k] <= A.v[k] ||
		    (r->o.no_forward && k != r->dc);
		next[k] = mine ? D.v[k] + 1 : A.v[k] + 1;
		npend += !mine;
	}
	/* TLS: on what may be a new connection, no records until it is
	 * proved (the challenge would refuse them and they would go twice) */
	bool hold = r->o.sec != NULL && l->unproved && !l->challenged;
	for (int pass = 0; known && !hold && npend > 0 && pass < 2 && rc == 0;
	     pass++)
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
			if (k != r->dc)
				fwd += c.n - before;
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
	/* TLS: the answer to the peer's challenge (sec.h) */
	cw_buf        sig = { 0 };
	cw_batch_auth auth;
	if (rc == 0 && r->o.sec != NULL && l->challenged) {
		rc = cw_sec_proof_make(r->o.sec, r->o.fingerprint, r->dc,
		    l->conf.id, l->nonce, &sig);
		cw_sec_chain(r->o.sec, &auth.ders, &auth.lens, &auth.n);
		auth.sig      = sig.p;
		auth.siglen   = sig.len;
		l->challenged = false; /* a nonce is answered once */
		*proved       = rc == 0;
	}
	if (rc == 0)
		rc = cw_schema_batch_encode(r->dc, r->o.fingerprint, D.v, D.n,
		    recs, c.lens, c.n, bw, nw, *proved ? &auth : NULL, &msg);
	cw_buf_fini(&sig);
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
		bool     has_nonce = false;
		uint8_t  nonce[CW_SEC_NONCE];
		cw_causal_vc_init(&acked, r->ndc);
		rc = cw_schema_ack_decode(nng_msg_body(reply),
		    nng_msg_len(reply), &err, &dc, acked.v, &n, nonce,
		    &has_nonce);
		if (rc == 0 && err == CW_EAUTH && dc == l->conf.id) {
			if (*proved && !l->proof_refused_logged)
				cw_log(CW_LOG_ERROR, "replica",
				    "DC %u refuses our proof of identity: "
				    "does our certificate name dc-%u?",
				    l->conf.id, r->dc);
			l->proof_refused_logged |= *proved;
			if (has_nonce && r->o.sec != NULL) {
				memcpy(l->nonce, nonce, sizeof(nonce));
				l->challenged = true;
			}
			rc = CW_EAUTH;
		} else if (rc == 0 && err == CW_EFORMAT) {
			cw_log(CW_LOG_ERROR, "replica",
			    "DC %u refuses us: configurations differ",
			    l->conf.id);
			rc = err;
		} else if (rc == 0 && (dc != l->conf.id || n != r->ndc)) {
			cw_log(CW_LOG_WARN, "replica",
			    "DC %u answered as DC %u with %u entries",
			    l->conf.id, dc, n);
			rc = CW_EPROTO;
		}
		if (rc == 0 && *proved)
			l->proof_refused_logged = false;
		if (rc == 0)
			l->unproved = false;
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
			l->forwarded += fwd;
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

/* ship_once, and once more when the peer's answer was a challenge for a
 * new connection (TLS): the second batch carries the proof. */
static int
ship(struct link *l, size_t *shipped)
{
	bool proved;
	int  rc = ship_once(l, shipped, &proved);
	if (rc == CW_EAUTH && !proved && l->challenged)
		rc = ship_once(l, shipped, &proved);
	return rc;
}

/* Opens l's req socket and starts dialing its peer (non-blocking: the
 * peer may not be up yet); with TLS, only to a listener whose certificate
 * names dc-<its id>. Returns 0 or an nng error. */
static int
link_dial(struct link *l)
{
	const cw_replica_opts *o = &l->r->o;
	nng_dialer             d;
	int                    rv;
	if ((rv = nng_req0_open(&l->sock)) != 0)
		return rv;
	l->sock_open = true;
	l->unproved  = true;
	l->dialed_ms = cw_mono_ms();
	nng_socket_set_ms(l->sock, NNG_OPT_RECVTIMEO, (int) o->timeout_ms);
	nng_socket_set_ms(l->sock, NNG_OPT_SENDTIMEO, (int) o->timeout_ms);
	nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, 500);
	nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, 1u << 20);
	if ((rv = nng_dialer_create(&d, l->sock, l->conf.url)) != 0)
		return rv;
	if (o->sec != NULL) {
		char  name[16];
		void *cfg;
		snprintf(name, sizeof(name), "dc-%u", (unsigned) l->conf.id);
		if (cw_sec_nng_client(o->sec, name, &cfg) != 0)
			return NNG_ENOMEM;
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
		cw_sec_nng_free(cfg); /* the dialer holds its own */
		if (rv != 0)
			return rv;
	}
	return nng_dialer_start(d, NNG_FLAG_NONBLOCK);
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
			l->unproved = true;
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

/* True when url's scheme is the one the links use: tls+tcp:// with TLS,
 * anything else without. */
static bool
url_fits(const cw_replica_opts *o, const char *url, const char *what)
{
	bool tls = strncmp(url, "tls+tcp://", 10) == 0;
	if (tls == (o->sec != NULL))
		return true;
	cw_log(CW_LOG_ERROR, "replica", "%s %s: %s", what, url,
	    tls ? "a tls+tcp:// URL needs a certificate (--tls-cert)"
	        : "with TLS, peer URLs are tls+tcp://");
	return false;
}

/* Listens on url, with TLS when r has a cw_sec. Returns 0 or a CW_E code
 * (logged). */
static int
listen_on(cw_replica *r, const char *url)
{
	nng_listener ls;
	void        *cfg = NULL;
	int          rv, rc;
	if ((rv = nng_listener_create(&ls, r->rsock, url)) != 0)
		goto nng_fail;
	if (r->o.sec != NULL) {
		if ((rc = cw_sec_nng_server(r->o.sec, &cfg)) != 0)
			return rc;
		rv = nng_listener_set_ptr(ls, NNG_OPT_TLS_CONFIG, cfg);
		cw_sec_nng_free(cfg); /* the listener holds its own */
		if (rv != 0)
			goto nng_fail;
	}
	if ((rv = nng_listener_start(ls, 0)) != 0)
		goto nng_fail;
	return 0;
nng_fail:
	cw_log(CW_LOG_ERROR, "replica", "listen on %s: %s", url,
	    nng_strerror(rv));
	return nng_rc(rv);
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
	if (!url_fits(o, o->listen, "--peer-listen"))
		return CW_EINVAL;
	for (int i = 0; i < o->npeers; i++)
		if (!url_fits(o, o->peers[i].url, "peer"))
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
	if (o->sec != NULL) {
		if ((r->pipes = cw_calloc(1, sizeof(*r->pipes))) == NULL) {
			rc = CW_ENOMEM;
			goto fail;
		}
		pthread_mutex_init(&r->pipes->auth_mu, NULL);
		if ((rv = nng_pipe_notify(r->rsock, NNG_PIPE_EV_REM_POST,
		         pipe_gone, r->pipes)) != 0) {
			rc = nng_rc(rv);
			goto fail;
		}
	}
	if ((rc = listen_on(r, o->listen)) != 0)
		goto fail;
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
	bool closed = true;
	if (r->rsock_open) /* and here: a peer dialing in */
		closed =
		    cw_nng_close_bounded(r->rsock.id, 2000, "replica") == 0;
	if (r->pipes != NULL && closed) { /* else nng may still call back */
		pthread_mutex_destroy(&r->pipes->auth_mu);
		cw_free(r->pipes);
	}
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
		s->forwarded    = l->forwarded;
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
