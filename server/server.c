/*
 * server.c - causewayd's client service; see server.h.
 *
 * Transaction ids are (generation << 16 | slot): a slot reused for a new
 * transaction gets a new generation, so a stale id never reaches another
 * transaction.
 *
 * A request that changes something goes through the reply cache
 * (replycache.h) first, by (sid, rid): a copy of one that ran gets the
 * first reply, a copy of one that runs waits for it. A resent copy the
 * cache cannot vouch for (it may have forgotten the first, or the first
 * went to an earlier incarnation of this server) is judged by the commit
 * tags in the store (cw_db_tags, prior_judge) or refused with
 * CW_EUNAVAIL: its outcome is unknown, and running it again could apply
 * its writes twice.
 *
 * A request is served first on the wire's I/O thread in no-wait mode; if
 * it would wait (a session clock not yet durable, a bounded counter, a
 * busy transaction) a worker serves it from where it stopped; if its
 * commit is not yet durable, the syncer sends its reply once it is.
 */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "causal.h"
#include "replycache.h"
#include "schema.h"
#include "users.h"
#include "wire.h"

#define SLOT_BITS 16
#define AUTH_THREADS 2 /* logins and user changes: each hashes a password */
#define AUTH_QUEUE 64  /* waiting for them; more are refused, CW_EUNAVAIL */
#define ADMIN_QUEUE 16 /* status requests waiting for their thread */

/* How far serving a request got, where a function returns it instead of
 * 0 or a (negative) CW_E code: never an error, never on the wire. */
enum serve_state {
	/* its reply is written already, nothing is left to run: a
	 * malformed request, or a copy answered from the reply cache */
	ANSWERED = 1,
	/* served in no-wait mode it would wait: nothing was done, and a
	 * worker serves it instead */
	WOULD_WAIT,
	/* served; its reply may go out once the job's commit ticket is
	 * durable (job_done) */
	DURABLE_WAIT,
	/* prior_judge: it had no effect before the restart, so it runs */
	PRIOR_RUN,
	/* prior_judge: it committed before the restart */
	PRIOR_COMMITTED,
};

struct slot {
	pthread_mutex_t mu;
	/* mu guards: */
	uint64_t      id;    /* 0: free */
	uint64_t      owner; /* the session that opened it (users.h), or 0 */
	cw_tx        *tx;
	uint64_t      last_ms;
	cw_tally_ent *addr; /* its count in txn_addrs (tbl_mu), or NULL */
};

/* A resent copy from before a restart is judged against the commit tags
 * of the store (cw_db_tags) only if it was first sent more than this after
 * the newest tag pruned: room for the copy's way over the network and for
 * the wall clock moving between two incarnations. */
#define PRIOR_MARGIN_MS 2000

/* The commits tagged before this incarnation started, by (sid, rid):
 * built by cw_server_new, read-only after. */
struct pentry {
	uint64_t sid, rid;
	uint32_t off, len; /* its commit clock, in clk */
};
struct prior {
	struct pentry *t; /* open addressing; sid 0 = empty */
	size_t         cap, n;
	uint8_t       *clk; /* encoded commit clocks */
	size_t         clen, ccap;
	uint64_t       floor_ms; /* every tag not here committed before */
};

/* One request on its way: decoded once, served in no-wait mode on the
 * wire's I/O thread and, if that would wait, by a worker, which carries on
 * from where it stopped. */
struct job {
	cw_req       r;
	const char  *addr;   /* the client's (cw_wire_peer) */
	bool         authed; /* who is known and may run r */
	cw_principal who;
	bool         released; /* r.release done */
	bool         deduped;  /* looked up in the reply cache */
	bool         claimed;  /* and owns its entry there */
	uint64_t     sid, rid; /* of r, kept past cw_schema_req_fini */
	uint64_t     ticket;   /* with DURABLE_WAIT: the commit to wait for */
	size_t       start;    /* where its reply begins in the output */
};

/* One request from the wire, in its room there (cw_wire_user): received
 * and served on an I/O thread, or queued to a worker or the syncer. Only
 * the thread that holds it touches it; answering it frees it. */
struct conn {
	cw_server   *s;
	cw_wire_req *wr;
	struct job   job;
	cw_buf       reply; /* its reply, while queued to the syncer */
	struct conn *next;  /* in s->work_q or s->sync_q */
};

/* A queue of conns that wait for a thread: the workers' or the syncer's.
 * mu guards all of it. Closed, it takes no more, and its takers see the
 * end once it is empty. */
struct connq {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	struct conn    *head, *tail;
	size_t          n, max; /* queued; at most max (0: no bound) */
	bool            closed;
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
	cw_tally *txn_addrs; /* open transactions per client address */

	pthread_mutex_t wait_mu;
	/* wait_mu guards: */
	cw_tally *wait_addrs; /* begins waiting for a session clock, per
	                       * client address */

	cw_rcache *rcache; /* the reply cache (thread-safe) */
	cw_users  *users;  /* users and sessions (thread-safe) */

	pthread_mutex_t stop_mu;
	pthread_cond_t  stop_cv;
	/* stop_mu guards: */
	bool stopping;

	pthread_t reaper;
	bool      reaper_started;

	_Atomic uint64_t nrequests; /* served since start */
	uint64_t         epoch;     /* this incarnation: random, never 0 */
	struct prior     prior;     /* read-only once built */

	cw_wire   *wire;    /* once listening */
	pthread_t *threads; /* the workers */
	uint32_t   nthreads;

	struct connq work_q;  /* requests that wait for a worker */
	struct connq auth_q;  /* logins and user changes, for the authers */
	struct connq admin_q; /* status requests, for their own thread */
	pthread_t    admin;
	bool         admin_started;
	pthread_t    authers[AUTH_THREADS];
	uint32_t     nauthers;
	struct connq sync_q; /* replies that wait for a sync */
	pthread_t    syncer;
	bool         syncer_started;
};

void
cw_server_opts_default(cw_server_opts *o)
{
	o->workers         = 64;
	o->io_threads      = 4;
	o->max_txns        = 4096;
	o->max_txns_addr   = 1024;
	o->max_waits_addr  = 16;
	o->idle_ms         = 10000;
	o->session_wait_ms = 1000;
	o->max_msg         = 16u << 20;
	o->max_ops         = 100000;
	o->escrow          = NULL;
	cw_wire_limits_default(&o->wire);
}

/* ---- transaction table ---- */

/* Allocates a slot for tx. OUT: *id. Returns 0 or CW_EUNAVAIL (full). The
 * slot is returned locked. */
static int
slot_alloc(cw_server *s, cw_tx *tx, uint64_t owner, const char *addr,
    uint64_t *id, struct slot **out)
{
	static cw_ratelimit rl_full, rl_addr;
	cw_tally_ent       *ae   = NULL;
	bool                many = false;
	pthread_mutex_lock(&s->tbl_mu);
	if (s->nfree > 0 && strcmp(addr, "local") != 0 &&
	    (ae = cw_tally_take(
	         s->txn_addrs, addr, s->o.max_txns_addr, &many)) == NULL) {
		pthread_mutex_unlock(&s->tbl_mu);
		if (many)
			cw_log_limited(&rl_addr, CW_LOG_WARN, "server",
			    "%u transactions open from %s, the most from one "
			    "address: refusing another",
			    s->o.max_txns_addr, addr);
		return many ? CW_EUNAVAIL : CW_ENOMEM;
	}
	if (s->nfree == 0) {
		pthread_mutex_unlock(&s->tbl_mu);
		cw_log_limited(&rl_full, CW_LOG_WARN, "server",
		    "%u transactions open: refusing another", s->o.max_txns);
		return CW_EUNAVAIL;
	}
	uint32_t i = s->free[--s->nfree];
	uint64_t g = ++s->gen;
	pthread_mutex_unlock(&s->tbl_mu);
	struct slot *sl = &s->slots[i];
	pthread_mutex_lock(&sl->mu);
	sl->id      = (g << SLOT_BITS) | i;
	sl->addr    = ae;
	sl->owner   = owner;
	sl->tx      = tx;
	sl->last_ms = cw_mono_ms();
	*id         = sl->id;
	*out        = sl;
	return 0;
}

/* Finds and locks the slot of id, opened by owner. Returns NULL if there
 * is none. With nowait, a slot busy with another request is not waited
 * for: NULL and *busy. */
static struct slot *
slot_find(cw_server *s, uint64_t id, uint64_t owner, bool nowait, bool *busy)
{
	uint64_t i = id & ((1u << SLOT_BITS) - 1);
	*busy      = false;
	if (id == 0 || i >= s->o.max_txns)
		return NULL;
	struct slot *sl = &s->slots[i];
	if (!nowait)
		pthread_mutex_lock(&sl->mu);
	else if (pthread_mutex_trylock(&sl->mu) != 0) {
		*busy = true;
		return NULL;
	}
	if (sl->id != id || sl->owner != owner) {
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
	cw_tally_ent *ae = sl->addr;
	sl->tx           = NULL;
	sl->id           = 0;
	sl->addr         = NULL;
	pthread_mutex_unlock(&sl->mu);
	pthread_mutex_lock(&s->tbl_mu);
	cw_tally_put(s->txn_addrs, ae);
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
		cw_deadline_after(&dl, period);
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
		/* users replicated from other DCs, deleted ones */
		int rc = cw_users_refresh(s->users);
		if (rc != 0)
			cw_log(CW_LOG_ERROR, "server",
			    "cannot read the users: %s", cw_strerror(rc));
		pthread_mutex_lock(&s->stop_mu);
	}
	pthread_mutex_unlock(&s->stop_mu);
	return NULL;
}

/* ---- outcomes from before a restart ---- */

static struct pentry *
prior_slot(const struct prior *p, uint64_t sid, uint64_t rid)
{
	uint64_t h =
	    (sid * 0x9e3779b97f4a7c15ull) ^ (rid * 0xc2b2ae3d27d4eb4full);
	for (size_t i = (h >> 17) & (p->cap - 1);; i = (i + 1) & (p->cap - 1))
		if (p->t[i].sid == 0 ||
		    (p->t[i].sid == sid && p->t[i].rid == rid))
			return &p->t[i];
}

static int
prior_grow(struct prior *p)
{
	struct prior q = *p;
	q.cap          = p->cap ? p->cap * 2 : 1024;
	if ((q.t = cw_calloc(q.cap, sizeof(*q.t))) == NULL)
		return CW_ENOMEM;
	for (size_t i = 0; i < p->cap; i++)
		if (p->t[i].sid != 0)
			*prior_slot(&q, p->t[i].sid, p->t[i].rid) = p->t[i];
	cw_free(p->t);
	*p = q;
	return 0;
}

static int
prior_add(void *arg, uint64_t sid, uint64_t rid, uint64_t ms, const cw_vc *vc)
{
	struct prior *p = arg;
	size_t        n = cw_causal_vc_size(vc);
	(void) ms;
	if (sid == 0)
		return 0;
	if ((p->n + 1) * 2 > p->cap && prior_grow(p) != 0)
		return CW_ENOMEM;
	if (cw_grow(&p->clk, &p->ccap, p->clen + n, 1) != 0)
		return CW_ENOMEM;
	cw_causal_vc_encode(vc, p->clk + p->clen);
	struct pentry *e = prior_slot(p, sid, rid);
	p->n += e->sid == 0;
	*e = (struct pentry) { sid, rid, (uint32_t) p->clen, (uint32_t) n };
	p->clen += n;
	return 0;
}

static void
prior_fini(struct prior *p)
{
	cw_free(p->t);
	cw_free(p->clk);
}

/* Loads the tags. Returns 0, CW_ENOMEM, CW_EPROTO or CW_EIO. */
static int
prior_load(cw_server *s)
{
	int rc = cw_db_tags(s->db, prior_add, &s->prior, &s->prior.floor_ms);
	if (rc == 0 && s->prior.n > 0)
		cw_log(CW_LOG_INFO, "server",
		    "%zu commits' outcomes kept from before the start",
		    s->prior.n);
	return rc;
}

/* Was a request first sent age_ms ago (0: unknown) surely sent after the
 * wall-clock time floor? */
static bool
sent_after(uint64_t floor, uint64_t age_ms)
{
	uint64_t now = cw_now_ms();
	return age_ms > 0 && now > age_ms + PRIOR_MARGIN_MS &&
	    now - age_ms - PRIOR_MARGIN_MS > floor;
}

/* Judges a copy that the reply cache does not know, first sent to another
 * incarnation, whose cache is gone. Returns PRIOR_COMMITTED (it committed
 * there: OUT: *e, its tag), PRIOR_RUN (it had no effect there, so it may
 * run now), CW_ESTATE (a commit of a transaction that died uncommitted
 * with that incarnation), or CW_EUNAVAIL (its outcome is not known). */
static int
prior_judge(cw_server *s, const cw_req *r, const struct pentry **e)
{
	if (r->kind != CW_REQ_COMMIT)
		return PRIOR_RUN; /* only a commit leaves anything behind */
	/* the tags cover every commit after floor_ms (a copy with no age
	 * may be older than any tag: a commit of a server that did not tag)
	 */
	if (!sent_after(s->prior.floor_ms, r->age_ms))
		return CW_EUNAVAIL;
	*e = s->prior.cap ? prior_slot(&s->prior, r->sid, r->rid) : NULL;
	if (*e != NULL && (*e)->sid != 0)
		/* committed; the results of its reads are gone */
		return r->nreads == 0 ? PRIOR_COMMITTED : CW_EUNAVAIL;
	return r->txid != 0 ? CW_ESTATE : PRIOR_RUN;
}

/* ---- requests ---- */

/* Session clocks beyond what this DC holds by more than this many
 * transactions of one origin are not waited for. */
#define FAR_AHEAD (1u << 20)

/* Whether a session clock can be reached by waiting: it names no commit
 * of this DC that this DC does not have (none can come: this DC made
 * them, or would have), and no other origin further ahead of what this
 * DC holds than FAR_AHEAD. Returns 0 or CW_EUNAVAIL (logged, once a
 * second at most). */
static int
clock_reachable(cw_server *s, const cw_vc *need)
{
	static cw_ratelimit rl;
	cw_vc               S;
	uint16_t            self = cw_db_dc(s->db);
	cw_db_state(s->db, &S);
	for (uint32_t k = 0; k < need->n && k < S.n; k++) {
		uint64_t have = S.v[k];
		bool     far  = k == self ? need->v[k] > have
		                          : need->v[k] > have + FAR_AHEAD;
		if (!far)
			continue;
		cw_log_limited(&rl, CW_LOG_WARN, "server",
		    "a begin needs %llu transactions of DC %u, and this DC "
		    "holds %llu: refused, no wait can reach it",
		    (unsigned long long) need->v[k], k,
		    (unsigned long long) have);
		return CW_EUNAVAIL;
	}
	return 0;
}

/* Begins the transaction of j's request. With nowait, only on the latest
 * durable state: WOULD_WAIT if that does not include the session's
 * clock. */
static int
open_txn(cw_server *s, const struct job *j, bool nowait, cw_tx **tx)
{
	const cw_req *r = &j->r;
	cw_vc         need, *np = NULL;
	int           rc;
	if (r->clocklen != 0) {
		if ((rc = cw_causal_vc_decode(&need, r->clock, r->clocklen)) !=
		    0)
			return rc;
		np = &need;
		/* a clock no wait can reach is refused at once: it must not
		 * hold a worker for the session wait (issue 18: 1,024 such
		 * begins held every worker) */
		if ((rc = clock_reachable(s, &need)) != 0)
			return rc;
	}
	if (nowait)
		return (rc = cw_tx_begin_nowait(s->db, np, tx)) == CW_EUNAVAIL
		    ? WOULD_WAIT
		    : rc;
	if (np == NULL || cw_tx_begin_nowait(s->db, np, tx) == 0)
		return np == NULL ? cw_tx_begin(s->db, NULL, 0, tx) : 0;
	/* it waits for the DC to catch up: one address holds at most
	 * max_waits_addr workers so */
	static cw_ratelimit rl;
	cw_tally_ent       *w = NULL;
	bool local = strcmp(j->addr, "local") == 0, many = false;
	if (!local) {
		pthread_mutex_lock(&s->wait_mu);
		w = cw_tally_take(
		    s->wait_addrs, j->addr, s->o.max_waits_addr, &many);
		pthread_mutex_unlock(&s->wait_mu);
		if (w == NULL) {
			if (many)
				cw_log_limited(&rl, CW_LOG_WARN, "server",
				    "%u begins from %s wait for the DC to "
				    "catch up, the most from one address: "
				    "refusing another",
				    s->o.max_waits_addr, j->addr);
			return many ? CW_EUNAVAIL : CW_ENOMEM;
		}
	}
	rc = cw_tx_begin(s->db, np, s->o.session_wait_ms, tx);
	if (!local) {
		pthread_mutex_lock(&s->wait_mu);
		cw_tally_put(s->wait_addrs, w);
		pthread_mutex_unlock(&s->wait_mu);
	}
	return rc;
}

/* The operations a request served without waiting may hold: every one but
 * the escrow's, which may commit, ask other DCs, or wait for rights. */
static bool
op_nowait(int op)
{
	switch (op) {
	case CW_OP_BCOUNTER_ADD:
	case CW_OP_BCOUNTER_ADD_WAIT:
	case CW_OP_BCOUNTER_TRANSFER:
		return false;
	default:
		return true;
	}
}

/* Whether r may be served without waiting, as far as its kind and
 * operations tell (the state of its transaction is checked later). */
static bool
req_nowait(const cw_req *r)
{
	if (r->kind != CW_REQ_BEGIN && r->kind != CW_REQ_READ &&
	    r->kind != CW_REQ_ABORT && r->kind != CW_REQ_COMMIT)
		return false; /* a status reads every row for its digest */
	for (size_t i = 0; i < r->nwrites + r->nreads; i++) {
		cw_op op;
		bool  w = i < r->nwrites;
		cw_schema_req_op(r, w, w ? i : i - r->nwrites, &op);
		if (!op_nowait(op.op))
			return false;
	}
	return true;
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
		p->behind    = st[i].behind;
		p->lag_ms    = st[i].lag_ms;
		p->forwarded = st[i].forwarded;
	}
	h->peers  = *peers;
	h->npeers = (size_t) n;
	return 0;
}

/* Serves r into out. With nowait, returns WOULD_WAIT, having changed
 * nothing and written nothing, where it would wait. OUT: *ticket: a
 * commit ticket that must be durable before the reply goes out, or 0. */
static int
handle(cw_server *s, struct job *j, bool nowait, cw_buf *out, uint64_t *ticket)
{
	const cw_req   *r     = &j->r;
	uint64_t        own   = j->who.owner;
	cw_rep          h     = { .epoch = s->epoch };
	cw_result      *res   = NULL;
	cw_result      *ures  = NULL; /* a user list */
	size_t          nures = 0;
	uint8_t         tok[CW_TOKEN_LEN];
	cw_principal    who;
	cw_tx          *tx = NULL;
	struct slot    *sl = NULL;
	uint8_t         clk[1 + 8 * CW_MAX_DC];
	cw_vc           vc;
	size_t          n;
	int             rc;
	cw_schema_peer *peers = NULL;
	bool            busy;

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
		cw_db_durable_state(s->db, &vc);
		h.ndurable = vc.n;
		memcpy(h.durable, vc.v, sizeof(uint64_t) * vc.n);
		if ((h.err = cw_db_digest(s->db, &h.digest)) != 0)
			break;
		cw_escrow_stats es;
		cw_escrow_figures(s->o.escrow, &es);
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
			if ((h.err = open_txn(s, j, nowait, &tx)) != 0) {
				if (h.err == WOULD_WAIT)
					goto would_wait;
				break;
			}
			if ((h.err = slot_alloc(
			         s, tx, own, j->addr, &h.txid, &sl)) != 0) {
				cw_tx_free(tx);
				break;
			}
		} else if ((sl = slot_find(s, r->txid, own, nowait, &busy)) ==
		    NULL) {
			if (busy)
				goto would_wait;
			h.err = CW_ESTATE;
			break;
		} else if (nowait && !cw_tx_nowait(sl->tx)) {
			pthread_mutex_unlock(&sl->mu);
			goto would_wait;
		} else {
			h.txid = r->txid;
		}
		run_ops(sl->tx, r, res, &h);
		cw_tx_snapshot(sl->tx, &vc);
		/* the session absorbs what it read (a read-only transaction
		 * sends no commit to learn it from) */
		if (cw_tx_observed(sl->tx) &&
		    !cw_test_bug("read-clock-dropped"))
			encode_clock(&vc, clk, &h);
		slot_done(sl);
		break;
	case CW_REQ_COMMIT:
		/* everything that may wait is decided before anything is
		 * done; the sync the commit needs is the caller's (job_done)
		 */
		if (r->txid == 0) {
			if ((h.err = open_txn(s, j, nowait, &tx)) != 0) {
				if (h.err == WOULD_WAIT)
					goto would_wait;
				break;
			}
		} else if ((sl = slot_find(s, r->txid, own, nowait, &busy)) ==
		    NULL) {
			if (busy)
				goto would_wait;
			h.err = CW_ESTATE;
			break;
		} else if (nowait && !cw_tx_nowait(sl->tx)) {
			pthread_mutex_unlock(&sl->mu);
			goto would_wait;
		} else {
			tx = sl->tx;
		}
		run_ops(tx, r, res, &h);
		if (r->sid != 0) /* its outcome outlives a restart */
			cw_tx_tag(tx, r->sid, r->rid);
		if (h.err == 0) {
			if ((rc = cw_tx_commit_nosync(tx, &vc, ticket)) == 0 &&
			    (r->nwrites > 0 ||
			        !cw_test_bug("read-clock-dropped")))
				encode_clock(&vc, clk, &h);
			h.err = rc;
		}
		if (sl != NULL)
			slot_release(s, sl); /* frees tx */
		else
			cw_tx_free(tx);
		break;
	case CW_REQ_ABORT:
		if ((sl = slot_find(s, r->txid, own, nowait, &busy)) != NULL)
			slot_release(s, sl);
		else if (busy)
			goto would_wait;
		else
			h.err = CW_ESTATE;
		break;
	case CW_REQ_AUTH:
		h.err = cw_users_login(s->users, j->addr, r->user, r->userlen,
		    r->password, r->pwlen, tok, &who);
		if (h.err == 0) {
			h.token     = tok;
			h.tokenlen  = sizeof(tok);
			h.role      = who.role;
			h.prefix    = who.prefix;
			h.prefixlen = who.plen;
		}
		break;
	case CW_REQ_USER:
		switch (r->uop) {
		case CW_UOP_ADD:
			h.err = cw_users_add(s->users, r->user, r->userlen,
			    r->password, r->pwlen, r->role, r->prefix,
			    r->prefixlen);
			break;
		case CW_UOP_DEL:
			h.err = cw_users_del(s->users, r->user, r->userlen);
			break;
		case CW_UOP_LIST:
			h.err = cw_users_list(s->users, &ures, &nures);
			break;
		default:
			h.err = CW_EPROTO;
		}
		break;
	default:
		h.err = CW_EPROTO;
	}
reply:
	/* results go with success, and with a READ (each has its error) */
	n  = res != NULL && (h.err == 0 || r->kind == CW_REQ_READ) ? r->nreads
	                                                           : 0;
	rc = ures != NULL ? cw_schema_rep_encode(&h, ures, nures, out)
	                  : cw_schema_rep_encode(&h, res, n, out);
	for (size_t i = 0; i < nures; i++)
		cw_result_fini(&ures[i]);
	cw_free(ures);
	memset(tok, 0, sizeof(tok));
	cw_free(peers);
	for (size_t i = 0; res != NULL && i < r->nreads; i++)
		cw_result_fini(&res[i]);
	cw_free(res);
	return rc;
would_wait:
	cw_free(res);
	return WOULD_WAIT;
}

static int
error_reply(int err, cw_buf *out)
{
	cw_rep h = { .err = err };
	return cw_schema_rep_encode(&h, NULL, 0, out);
}

/* Decodes a request into j. Returns 0, or ANSWERED with a reply written
 * into out (malformed, too many operations), or CW_ENOMEM. */
static int
job_decode(
    cw_server *s, struct job *j, const void *buf, size_t len, cw_buf *out)
{
	int rc;
	memset(j, 0, sizeof(*j));
	atomic_fetch_add(&s->nrequests, 1);
	if ((rc = cw_schema_req_decode(buf, len, &j->r)) != 0) {
		cw_log(CW_LOG_DEBUG, "server", "malformed request (%zu bytes)",
		    len);
		rc = error_reply(rc == CW_ENOMEM ? rc : CW_EPROTO, out);
		return rc != 0 ? rc : ANSWERED;
	}
	if (j->r.nwrites + j->r.nreads > s->o.max_ops) {
		cw_schema_req_fini(&j->r);
		rc = error_reply(CW_ETOOBIG, out);
		return rc != 0 ? rc : ANSWERED;
	}
	return 0;
}

static int job_done(cw_server *s, struct job *j, cw_buf *out, int rc);

/* Serves a decoded request into out. Returns 0 or CW_ENOMEM; with nowait,
 * WOULD_WAIT where it would wait, having written nothing (call again
 * without nowait: what was done is not done twice); DURABLE_WAIT when the
 * reply is written but may go out only once j->ticket is durable: call
 * job_done then. */
static int
job_serve(cw_server *s, struct job *j, bool nowait, cw_buf *out)
{
	cw_req *r = &j->r;
	int     rc;
	if (!j->authed) {
		/* who asks, and whether they may: before anything runs */
		if (r->kind == CW_REQ_AUTH)
			rc = 0;
		else if ((rc = cw_users_check(
		              s->users, r->token, r->tokenlen, &j->who)) == 0)
			rc = cw_users_allows(&j->who, r);
		if (rc != 0) {
			if ((rc = error_reply(rc, out)) != 0)
				return rc;
			return ANSWERED;
		}
		j->authed = true;
	}
	if (nowait && !req_nowait(r))
		return WOULD_WAIT;
	/* read-only transactions the client ended without a round trip;
	 * an id already gone (reaped, or a resent request) is ignored */
	for (size_t i = 0; !j->released && i < r->nrelease; i++) {
		bool         busy;
		struct slot *sl =
		    slot_find(s, r->release[i], j->who.owner, nowait, &busy);
		if (sl != NULL)
			slot_release(s, sl);
		else if (busy)
			return WOULD_WAIT; /* those released stay released */
	}
	j->released = true;
	/* what a copy must not run again: writes, the commit of a
	 * transaction (it may hold writes), a change of users. A read runs
	 * again harmlessly, so its reply (maybe large) is not kept; nor is a
	 * begin's: a copy opens another transaction, and the idle reaper
	 * ends the one whose reply was lost. */
	bool mutates = r->kind == CW_REQ_USER
	    ? r->uop != CW_UOP_LIST
	    : r->nwrites > 0 || (r->kind == CW_REQ_COMMIT && r->txid != 0);
	j->sid       = r->sid;
	j->rid       = r->rid;
	j->start     = out->len; /* where this request's reply begins */
	if (r->sid != 0 && mutates && !j->deduped) {
		uint64_t floor;
		rc = cw_rcache_begin(
		    s->rcache, r->sid, r->rid, nowait, out, &floor);
		if (rc == CW_RCACHE_BUSY)
			return WOULD_WAIT;
		if (rc < 0)
			return rc;
		j->deduped = true;
		if (rc == CW_RCACHE_ANSWERED)
			return 0; /* the first reply, from the cache */
		j->claimed = true;
		if (r->resent && r->epoch == s->epoch && floor != 0 &&
		    (r->kind == CW_REQ_COMMIT || r->nwrites > 0) &&
		    !sent_after(floor, r->age_ms)) {
			/* the cache may have forgotten its first copy, which
			 * may have run: its writes must not go in twice.
			 * Refused, the refusal cached. */
			cw_log(CW_LOG_INFO, "server",
			    "request %llu of session %llx resent after the "
			    "reply cache forgot what came then: refused, its "
			    "outcome is unknown",
			    (unsigned long long) r->rid,
			    (unsigned long long) r->sid);
			return job_done(s, j, out, CW_EUNAVAIL);
		}
		const struct pentry *e;
		if (r->resent && r->epoch != s->epoch &&
		    (rc = prior_judge(s, r, &e)) != PRIOR_RUN) {
			/* first sent to another incarnation, whose cache is
			 * gone: answered from the tags that incarnation left,
			 * and the answer cached, so every copy gets the
			 * same */
			if (rc == CW_EUNAVAIL)
				cw_log(CW_LOG_INFO, "server",
				    "request %llu of session %llx resent from "
				    "before a restart: refused, its outcome "
				    "is "
				    "unknown",
				    (unsigned long long) r->rid,
				    (unsigned long long) r->sid);
			if (rc != PRIOR_COMMITTED)
				return job_done(s, j, out, rc);
			cw_rep h = { .epoch = s->epoch,
				.clock      = s->prior.clk + e->off,
				.clocklen   = e->len };
			return job_done(
			    s, j, out, cw_schema_rep_encode(&h, NULL, 0, out));
		}
	}
	j->ticket = 0;
	if ((rc = handle(s, j, nowait, out, &j->ticket)) == WOULD_WAIT)
		return rc;
	if (rc == 0 && !cw_db_ticket_durable(s->db, j->ticket))
		return DURABLE_WAIT;
	return job_done(s, j, out, rc);
}

/* Ends a job whose reply is in out from j->start: rc is 0 once its commit
 * ticket is durable, or the error of the sync (the reply becomes that
 * error) or of handle. Only then may its reply be seen: it goes into the
 * reply cache here, and out on the wire after. Returns 0 or CW_ENOMEM. */
static int
job_done(cw_server *s, struct job *j, cw_buf *out, int rc)
{
	if (rc != 0 && rc != CW_ENOMEM) {
		out->len = j->start;
		rc       = error_reply(rc, out);
	}
	if (j->claimed) {
		cw_buf mine = { out->p + j->start, out->len - j->start, 0 };
		cw_rcache_end(s->rcache, j->sid, j->rid, &mine);
	}
	return rc;
}

int
cw_server_handle(cw_server *s, const void *buf, size_t len, cw_buf *out)
{
	struct job j;
	int        rc = job_decode(s, &j, buf, len, out);
	if (rc != 0)
		return rc == ANSWERED ? 0 : rc;
	j.addr = "local";
	if ((rc = job_serve(s, &j, false, out)) == ANSWERED)
		rc = 0;
	if (rc == DURABLE_WAIT)
		rc = job_done(s, &j, out, cw_db_wait_ticket(s->db, j.ticket));
	cw_schema_req_fini(&j.r);
	return rc;
}

/* ---- network ---- */

/* Sends reply (rc 0) as c's answer, which frees c. */
static void
conn_reply(struct conn *c, cw_buf *reply, int rc)
{
	if (rc != 0) {
		/* no reply: the client times out, nothing is lost */
		cw_log(CW_LOG_ERROR, "server", "no memory for a reply");
		cw_wire_drop(c->wr);
	} else {
		cw_wire_reply(c->wr, reply->p, reply->len);
	}
	cw_buf_fini(reply);
}

static void
connq_init(struct connq *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
}

static void
connq_fini(struct connq *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
}

/* Appends c. Returns false if q is closed or full. */
static bool
connq_push(struct connq *q, struct conn *c)
{
	pthread_mutex_lock(&q->mu);
	bool ok = !q->closed && (q->max == 0 || q->n < q->max);
	if (ok) {
		q->n++;
		c->next = NULL;
		if (q->tail != NULL)
			q->tail->next = c;
		else
			q->head = c;
		q->tail = c;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return ok;
}

/* Waits for a conn and takes the first one (all: the whole list, linked
 * by next). Returns NULL once q is closed and empty. */
static struct conn *
connq_take(struct connq *q, bool all)
{
	pthread_mutex_lock(&q->mu);
	while (q->head == NULL && !q->closed)
		pthread_cond_wait(&q->cv, &q->mu);
	struct conn *c = q->head;
	if (c != NULL) {
		q->n    = all ? 0 : q->n - 1;
		q->head = all ? NULL : c->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	pthread_mutex_unlock(&q->mu);
	return c;
}

/* Closes q and wakes every taker. */
static void
connq_close(struct connq *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* Finishes c's job once its ticket's sync returned rc, and sends the
 * reply. */
static void
conn_durable(struct conn *c, int rc)
{
	cw_buf reply = c->reply;
	c->reply     = (cw_buf) { 0 };
	rc           = job_done(c->s, &c->job, &reply, rc);
	conn_reply(c, &reply, rc);
}

/* Hands c (its reply in `reply`) to the syncer, or, once the syncer has
 * stopped, waits for the sync here. */
static void
sync_push(struct conn *c, cw_buf *reply)
{
	cw_server *s = c->s;
	c->reply     = *reply;
	if (!connq_push(&s->sync_q, c))
		conn_durable(c, cw_db_wait_ticket(s->db, c->job.ticket));
}

/* The syncer: takes every reply that waits for a sync, waits once for the
 * newest of their tickets (one group sync covers them all, and it is the
 * only thread that waits for them), then writes their replies in turn,
 * each straight into its socket. Commits served on the wire's I/O
 * threads go no further than this queue, and no herd of workers wakes on
 * the same sync. */
static void *
syncer(void *arg)
{
	cw_server   *s = arg;
	struct conn *list;
	while ((list = connq_take(&s->sync_q, true)) != NULL) {
		uint64_t newest = 0;
		for (struct conn *c = list; c != NULL; c = c->next)
			if (c->job.ticket > newest)
				newest = c->job.ticket;
		int rc = cw_db_wait_ticket(s->db, newest);
		while (list != NULL) {
			struct conn *c = list;
			list           = c->next;
			conn_durable(c, rc);
		}
	}
	return NULL; /* closed and drained */
}

/* The wire's handler, on one of its I/O threads: a request to serve. One
 * that can be served without waiting is served right here, which spares
 * two thread switches; a commit served here waits for its sync in the
 * syncer; any other request goes to a worker. */
static void
serve_cb(void *arg, cw_wire_req *wr, const uint8_t *body, size_t len)
{
	cw_server   *s = arg;
	struct conn *c = cw_wire_user(wr);
	c->s           = s;
	c->wr          = wr;
	cw_buf reply   = { 0 };
	int    rc      = job_decode(s, &c->job, body, len, &reply);
	if (rc == 0) {
		c->job.addr = cw_wire_peer(wr);
		rc          = job_serve(s, &c->job, true, &reply);
		if (rc == DURABLE_WAIT) {
			cw_schema_req_fini(&c->job.r);
			sync_push(c, &reply);
			return;
		}
		uint8_t kind = c->job.r.kind;
		if (rc == WOULD_WAIT && kind == CW_REQ_STATUS) {
			/* an operator's window: never behind client work */
			if (connq_push(&s->admin_q, c))
				return;
			static cw_ratelimit rl;
			cw_log_limited(&rl, CW_LOG_WARN, "server",
			    "%d status requests waiting: one from %s refused",
			    ADMIN_QUEUE, c->job.addr);
			rc = error_reply(CW_EUNAVAIL, &reply);
		} else if (rc == WOULD_WAIT &&
		    (kind == CW_REQ_AUTH || kind == CW_REQ_USER)) {
			/* a password to hash: never on the workers, which
			 * serve everyone else meanwhile */
			if (connq_push(&s->auth_q, c))
				return;
			/* full (or stopping): refused, said once a second
			 * at most however many come */
			static cw_ratelimit rl;
			cw_log_limited(&rl, CW_LOG_WARN, "server",
			    "%d logins waiting: one from %s refused",
			    AUTH_QUEUE, c->job.addr);
			rc = error_reply(CW_EUNAVAIL, &reply);
		} else if (rc == WOULD_WAIT) {
			if (connq_push(&s->work_q, c))
				return;
			/* stopping: dropped unserved */
			cw_schema_req_fini(&c->job.r);
			cw_buf_fini(&reply);
			cw_wire_drop(wr);
			return;
		}
		cw_schema_req_fini(&c->job.r);
	}
	conn_reply(c, &reply, rc == ANSWERED ? 0 : rc);
}

/* Serves what q hands out until it closes. */
static void
serve_queue(cw_server *s, struct connq *q)
{
	struct conn *c;
	while ((c = connq_take(q, false)) != NULL) {
		cw_buf reply = { 0 };
		int    rc    = job_serve(s, &c->job, false, &reply);
		cw_schema_req_fini(&c->job.r);
		if (rc == DURABLE_WAIT)
			sync_push(c, &reply); /* the worker is free now */
		else
			conn_reply(c, &reply, rc == ANSWERED ? 0 : rc);
	}
}

static void *
work(void *arg)
{
	cw_server *s = arg;
	serve_queue(s, &s->work_q);
	return NULL;
}

static void *
auth_work(void *arg)
{
	cw_server *s = arg;
	serve_queue(s, &s->auth_q);
	return NULL;
}

static void *
admin_work(void *arg)
{
	cw_server *s = arg;
	serve_queue(s, &s->admin_q);
	return NULL;
}

/* Starts the workers, the syncer and the wire. */
static int
start_service(cw_server *s)
{
	int rc;
	if (s->threads != NULL) /* an earlier start failed half-way */
		return CW_ENOMEM;
	s->threads = cw_calloc(s->o.workers, sizeof(*s->threads));
	if (s->threads == NULL)
		return CW_ENOMEM;
	for (uint32_t i = 0; i < s->o.workers; i++) {
		if (pthread_create(&s->threads[i], NULL, work, s) != 0)
			return CW_ENOMEM;
		s->nthreads++;
	}
	for (uint32_t i = 0; i < AUTH_THREADS; i++) {
		if (pthread_create(&s->authers[i], NULL, auth_work, s) != 0)
			return CW_ENOMEM;
		s->nauthers++;
	}
	if (pthread_create(&s->admin, NULL, admin_work, s) != 0)
		return CW_ENOMEM;
	s->admin_started = true;
	if (pthread_create(&s->syncer, NULL, syncer, s) != 0)
		return CW_ENOMEM;
	s->syncer_started = true;
	if ((rc = cw_wire_new(&s->wire, s->o.io_threads, s->o.max_msg,
	         sizeof(struct conn), &s->o.wire, serve_cb, s)) != 0)
		return rc;
	cw_wire_set_tls(s->wire, s->o.tls);
	return 0;
}

int
cw_server_listen(cw_server *s, const char *url)
{
	int rc;
	if (url == NULL)
		return CW_EINVAL;
	if (s->wire == NULL && (rc = start_service(s)) != 0)
		return rc;
	if ((rc = cw_wire_listen(s->wire, url)) != 0)
		return rc;
	cw_log(CW_LOG_INFO, "server", "listening on %s", url);
	return 0;
}

int
cw_server_new(cw_server **out, cw_db *db, const cw_server_opts *o)
{
	cw_server *s;
	*out = NULL;
	if (db == NULL || o == NULL || o->workers < 1 || o->io_threads < 1 ||
	    o->io_threads > 64 || o->max_txns < 1 ||
	    o->max_txns > (1u << SLOT_BITS) || o->max_msg < 64)
		return CW_EINVAL;
	if ((s = cw_calloc(1, sizeof(*s))) == NULL)
		return CW_ENOMEM;
	s->db = db;
	s->o  = *o;
	if (getrandom(&s->epoch, sizeof(s->epoch), 0) != sizeof(s->epoch))
		s->epoch = cw_now_ms() ^ (uint64_t) (uintptr_t) s;
	s->epoch |= 1; /* 0 means "none known" */
	s->slots = cw_calloc(o->max_txns, sizeof(*s->slots));
	s->free  = cw_calloc(o->max_txns, sizeof(*s->free));
	if (s->slots == NULL || s->free == NULL ||
	    cw_rcache_new(&s->rcache) != 0 ||
	    cw_tally_new(&s->txn_addrs) != 0 ||
	    cw_tally_new(&s->wait_addrs) != 0) {
		cw_rcache_free(s->rcache);
		cw_tally_free(s->txn_addrs);
		cw_tally_free(s->wait_addrs);
		cw_free(s->slots);
		cw_free(s->free);
		cw_free(s);
		return CW_ENOMEM;
	}
	for (uint32_t i = 0; i < o->max_txns; i++) {
		pthread_mutex_init(&s->slots[i].mu, NULL);
		s->free[s->nfree++] = o->max_txns - 1 - i;
	}
	pthread_mutex_init(&s->tbl_mu, NULL);
	pthread_mutex_init(&s->stop_mu, NULL);
	connq_init(&s->work_q);
	connq_init(&s->auth_q);
	connq_init(&s->admin_q);
	connq_init(&s->sync_q);
	s->auth_q.max  = AUTH_QUEUE;
	s->admin_q.max = ADMIN_QUEUE;
	pthread_mutex_init(&s->wait_mu, NULL);
	cw_cond_init_mono(&s->stop_cv);
	int rc = prior_load(s);
	if (rc == 0)
		rc = cw_users_new(&s->users, db);
	if (rc == 0 && pthread_create(&s->reaper, NULL, reaper, s) == 0)
		s->reaper_started = true;
	else if (rc == 0)
		rc = CW_ENOMEM;
	if (rc != 0) {
		cw_server_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void
cw_server_stop(cw_server *s)
{
	/* No request is read any more (the wire's I/O threads, which serve
	 * some themselves, are gone); the workers serve what is queued and
	 * exit; the syncer sends what waits for a sync, and exits (a commit
	 * a worker hands over after that waits for its sync there); then
	 * the wire writes out what replies are left and closes. */
	cw_wire_stop(s->wire);
	connq_close(&s->work_q);
	connq_close(&s->auth_q);
	connq_close(&s->admin_q);
	for (uint32_t i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	if (s->admin_started) {
		pthread_join(s->admin, NULL);
		s->admin_started = false;
	}
	s->nthreads = 0;
	for (uint32_t i = 0; i < s->nauthers; i++)
		pthread_join(s->authers[i], NULL);
	s->nauthers = 0;
	connq_close(&s->sync_q);
	if (s->syncer_started) {
		pthread_join(s->syncer, NULL);
		s->syncer_started = false;
	}
	cw_wire_free(s->wire);
	s->wire = NULL;
	cw_free(s->threads);
	s->threads = NULL;
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
	cw_rcache_free(s->rcache);
	cw_users_free(s->users);
	prior_fini(&s->prior);
	cw_free(s->slots);
	cw_free(s->free);
	pthread_mutex_destroy(&s->tbl_mu);
	pthread_mutex_destroy(&s->stop_mu);
	connq_fini(&s->work_q);
	connq_fini(&s->auth_q);
	connq_fini(&s->admin_q);
	connq_fini(&s->sync_q);
	pthread_mutex_destroy(&s->wait_mu);
	cw_tally_free(s->txn_addrs);
	cw_tally_free(s->wait_addrs);
	pthread_cond_destroy(&s->stop_cv);
	cw_free(s);
}

int
cw_server_add_admin(cw_server *s, const char *pw, size_t len)
{
	return cw_users_bootstrap(s->users, pw, len);
}

bool
cw_server_users_on(cw_server *s)
{
	return cw_users_on(s->users);
}
