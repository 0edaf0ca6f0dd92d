/*
 * escrow.c - wants, grants and rebalancing of bounded-counter rights (the
 * contract and the protocol are escrow.h's).
 *
 * Two small tables, both under want_mu: the wants (at most WANTS; when
 * full, the oldest slot gives way) and the demand per counter (at most
 * DEMANDS), which the hooks fill as transactions spend or are refused and
 * the tick turns into a smoothed rate of rights per second. Both are
 * small on purpose: a DC spends from a handful of hot counters, and a
 * want that falls out is asked again by the next refusal.
 *
 * Nothing here is durable, and nothing needs to be: a want is asked again
 * by the next decrement that lacks rights, the demand is relearnt within
 * a tick or two, and a grant's once-only rule rests on the replicated
 * state (the rights a DC has received), not on anything the escrow keeps.
 */
#include "escrow.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "crdt.h"
#include "util.h"

#define WANTS 64
#define DEMANDS 32
#define WANT_TTL_MS 10000 /* a want unasked for this long expires */
#define IDLE_MS 10000     /* a counter unspent for this long is not hot */

struct demand {
	uint8_t  key[CW_MAX_KEY];
	size_t   kl;
	uint64_t spent;   /* since the last tick */
	double   rate;    /* rights spent per second, smoothed */
	uint64_t last_ms; /* last spend */
};

struct cw_escrow {
	cw_db          *db;
	pthread_mutex_t want_mu; /* a leaf */
	/* want_mu guards: */
	cw_want       wants[WANTS];
	uint64_t      want_ms[WANTS]; /* when each was last asked */
	int           nwants;
	struct demand demand[DEMANDS];
	int           ndemand;
	uint64_t      tick_ms;

	_Atomic uint64_t requests, grants, moved, refused;
};

/* OUT: *out, the rights DC dc has received for k (0 if k is no bounded
 * counter). */
static int
received(cw_escrow *e, const void *k, size_t kl, uint16_t dc, uint64_t *out)
{
	int rc = cw_db_received(e->db, k, kl, dc, out);
	if (rc == CW_ETYPE) {
		*out = 0;
		rc   = 0;
	}
	return rc;
}

/* Asks for `amount` more rights for k: a new want, or a larger one (a new
 * request id), or the same one kept alive. */
static void
want_add(cw_escrow *e, const void *k, size_t kl, int64_t amount, bool bg)
{
	int      i;
	uint64_t got = 0;
	if (amount <= 0 || kl == 0 || kl > CW_MAX_KEY)
		return;
	/* The request id is 1 + the rights received so far: every grant
	 * opens a new request, a repeat of this one keeps its id (so it is
	 * granted once), and a restart changes nothing. A failed read asks
	 * with id 1, which a granter that knows better ignores. */
	(void) received(e, k, kl, cw_db_dc(e->db), &got);
	pthread_mutex_lock(&e->want_mu);
	for (i = 0; i < e->nwants; i++)
		if (e->wants[i].kl == kl && !memcmp(e->wants[i].key, k, kl))
			break;
	if (i == e->nwants) {
		if (e->nwants == WANTS) /* full: the oldest gives way */
			i = 0;
		else
			e->nwants++;
		memcpy(e->wants[i].key, k, kl);
		e->wants[i].kl     = kl;
		e->wants[i].amount = 0;
		e->wants[i].id     = 0;
	}
	cw_want *w = &e->wants[i];
	if (w->id != got + 1) { /* a new request */
		w->amount     = amount;
		w->background = bg;
	} else { /* the same request: it only grows, and urgency wins */
		if (amount > w->amount)
			w->amount = amount;
		w->background = w->background && bg;
	}
	w->id         = got + 1;
	e->want_ms[i] = cw_mono_ms();
	pthread_mutex_unlock(&e->want_mu);
}

/* Drops want i. Caller holds want_mu. */
static void
want_drop_locked(cw_escrow *e, int i)
{
	assert(i >= 0 && i < e->nwants);
	e->wants[i]   = e->wants[e->nwants - 1];
	e->want_ms[i] = e->want_ms[e->nwants - 1];
	e->nwants--;
}

/* Adds n rights of demand for k (a spend, or a refusal: demand that could
 * not be served counts too, or a starved DC would never look busy). */
static void
demand_add(cw_escrow *e, const void *k, size_t kl, uint64_t n)
{
	int j;
	if (kl == 0 || kl > CW_MAX_KEY)
		return;
	pthread_mutex_lock(&e->want_mu);
	for (j = 0; j < e->ndemand; j++)
		if (e->demand[j].kl == kl && !memcmp(e->demand[j].key, k, kl))
			break;
	if (j == e->ndemand) {
		if (e->ndemand == DEMANDS)
			j = 0; /* full: replace the first */
		else
			e->ndemand++;
		memcpy(e->demand[j].key, k, kl);
		e->demand[j].kl    = kl;
		e->demand[j].spent = 0;
		e->demand[j].rate  = 0;
	}
	e->demand[j].spent += n;
	e->demand[j].last_ms = cw_mono_ms();
	pthread_mutex_unlock(&e->want_mu);
}

/* ---- the hooks txn/ calls (cw_db_hooks) ---- */

static void
hook_want(void *arg, const void *k, size_t kl, int64_t missing)
{
	want_add(arg, k, kl, missing, false);
}

static void
hook_demand(void *arg, const void *k, size_t kl, uint64_t n, bool refused)
{
	cw_escrow *e = arg;
	demand_add(e, k, kl, n);
	if (refused)
		e->refused++;
}

int
cw_escrow_new(cw_escrow **out, cw_db *db)
{
	cw_escrow *e = cw_calloc(1, sizeof(*e));
	*out         = NULL;
	if (e == NULL)
		return CW_ENOMEM;
	if (pthread_mutex_init(&e->want_mu, NULL) != 0) {
		cw_free(e);
		return CW_ENOMEM;
	}
	e->db = db;
	cw_db_set_hooks(db,
	    &(cw_db_hooks) {
	        .arg = e, .want = hook_want, .demand = hook_demand });
	*out = e;
	return 0;
}

void
cw_escrow_free(cw_escrow *e)
{
	if (e == NULL)
		return;
	cw_db_set_hooks(e->db, NULL);
	pthread_mutex_destroy(&e->want_mu);
	cw_free(e);
}

int
cw_escrow_wants(cw_escrow *e, cw_want *out, int max)
{
	cw_want  w[WANTS];
	int      n   = 0;
	uint64_t now = cw_mono_ms();
	pthread_mutex_lock(&e->want_mu);
	for (int i = 0; i < e->nwants;) {
		if (now - e->want_ms[i] > WANT_TTL_MS)
			want_drop_locked(e, i);
		else
			w[n++] = e->wants[i++];
	}
	pthread_mutex_unlock(&e->want_mu);
	int m = 0;
	for (int i = 0; i < n && m < max; i++) {
		int64_t r;
		if (cw_db_rights(
		        e->db, w[i].key, w[i].kl, cw_db_dc(e->db), &r) == 0 &&
		    r >= w[i].amount) {
			/* satisfied: forget it, unless it grew meanwhile */
			pthread_mutex_lock(&e->want_mu);
			for (int j = 0; j < e->nwants; j++)
				if (e->wants[j].id == w[i].id) {
					want_drop_locked(e, j);
					break;
				}
			pthread_mutex_unlock(&e->want_mu);
			continue;
		}
		out[m++] = w[i];
	}
	return m;
}

int
cw_escrow_pick(cw_escrow *e, uint16_t peer, cw_want *out, int max)
{
	cw_want  w[WANTS];
	uint16_t self = cw_db_dc(e->db);
	int      n    = cw_escrow_wants(e, w, max < WANTS ? max : WANTS);
	int      m    = 0;
	for (int i = 0; i < n; i++) {
		int64_t best = 0, theirs = 0;
		int     who = -1;
		for (uint32_t d = 0; d < cw_db_ndc(e->db); d++) {
			int64_t x;
			if (d == self ||
			    cw_db_rights(e->db, w[i].key, w[i].kl,
			        (uint16_t) d, &x) != 0)
				continue;
			if (x > best) {
				best = x;
				who  = (int) d;
			}
			if (d == peer)
				theirs = x;
		}
		if (who == (int) peer && theirs > 0)
			out[m++] = w[i];
	}
	return m;
}

void
cw_escrow_sent(cw_escrow *e, uint64_t n)
{
	e->requests += n;
}

int
cw_escrow_grant(cw_escrow *e, uint16_t to, const void *k, size_t kl,
    int64_t amount, uint64_t id, int64_t margin, bool background,
    int64_t *granted)
{
	cw_db   *db = e->db;
	cw_tx   *t;
	int64_t  rights;
	uint64_t got;
	int      rc;
	*granted = 0;
	if (to >= cw_db_ndc(db) || to == cw_db_dc(db) || amount <= 0 ||
	    margin < 0 || kl == 0 || kl > CW_MAX_KEY)
		return CW_EINVAL;
	/* A request's id is 1 + what the asker had received when it asked
	 * (want_add). If this DC's state shows it has received as much
	 * since, from us or another DC, the request is served or stale:
	 * granting from the replicated state keeps it once across restarts. */
	if ((rc = cw_db_received(db, k, kl, to, &got)) != 0 || got >= id)
		return rc == CW_ETYPE ? 0 : rc; /* no bounded counter */
	if ((rc = cw_tx_begin(db, NULL, 0, &t)) != 0)
		return rc;
	/* test bug grant-unheld: grant what is asked, held or not (the
	 * transfer then skips its checks, txn/objects.c) */
	bool unheld = cw_test_bug("grant-unheld");
	if ((rc = cw_tx_bcounter_rights(t, k, kl, &rights)) == 0 &&
	    (rights > 0 || unheld)) {
		/* never more than held; for a background request, never more
		 * than half: this DC may need its rights too */
		int64_t ask =
		    amount > INT64_MAX - margin ? INT64_MAX : amount + margin;
		int64_t cap = unheld ? ask : background ? rights / 2 : rights;
		int64_t g   = ask < cap ? ask : cap;
		if (g > 0 &&
		    (rc = cw_tx_bcounter_transfer(t, k, kl, g, to)) == 0 &&
		    (rc = cw_tx_commit(t, NULL)) == 0) {
			*granted = g;
			e->grants++;
			e->moved += (uint64_t) g;
			cw_log(CW_LOG_INFO, "escrow",
			    "granted %lld rights to DC %u", (long long) g, to);
		}
	}
	cw_tx_free(t);
	return rc == CW_ENORIGHTS || rc == CW_ECONFLICT ? 0 : rc;
}

void
cw_escrow_tick(cw_escrow *e)
{
	struct {
		uint8_t key[CW_MAX_KEY];
		size_t  kl;
		double  rate;
	} hot[DEMANDS];
	int      n   = 0;
	uint64_t now = cw_mono_ms();
	pthread_mutex_lock(&e->want_mu);
	double dt  = e->tick_ms ? (double) (now - e->tick_ms) / 1000.0 : 0;
	e->tick_ms = now;
	for (int j = 0; j < e->ndemand; j++) {
		struct demand *d = &e->demand[j];
		if (dt > 0)
			d->rate =
			    0.5 * d->rate + 0.5 * ((double) d->spent / dt);
		d->spent = 0;
		if (now - d->last_ms > IDLE_MS)
			d->rate = 0;
		if (d->rate > 0) {
			memcpy(hot[n].key, d->key, d->kl);
			hot[n].kl   = d->kl;
			hot[n].rate = d->rate;
			n++;
		}
	}
	pthread_mutex_unlock(&e->want_mu);
	for (int i = 0; i < n; i++) {
		int64_t rights, low = (int64_t) (3 * hot[i].rate + 0.5);
		if (low < 1 ||
		    cw_db_rights(e->db, hot[i].key, hot[i].kl, cw_db_dc(e->db),
		        &rights) != 0)
			continue;
		if (rights < low) /* under three seconds of demand */
			want_add(
			    e, hot[i].key, hot[i].kl, 2 * low - rights, true);
	}
}

void
cw_escrow_figures(const cw_escrow *e, cw_escrow_stats *out)
{
	if (e == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	out->requests = e->requests;
	out->grants   = e->grants;
	out->moved    = e->moved;
	out->refused  = e->refused;
}
