/*
 * escrow.h - moving the rights of bounded counters between DCs (DESIGN
 * section 2, "bounded counters", and section 5).
 *
 * A bounded counter's invariant (value >= 0) holds without coordination
 * on the common path because each DC spends only rights it holds (txn/
 * checks that, at issue and at commit). The escrow moves rights to where
 * they are spent:
 *
 *   - on demand: a decrement that finds too few rights leaves a *want*
 *     (txn/ tells us through its hooks, cw_db_hooks); replication carries
 *     each want to the peer holding the most rights (cw_escrow_pick), and
 *     that peer grants by committing a transfer (cw_escrow_grant), which
 *     travels back as an ordinary replicated transaction;
 *   - ahead of need: twice a second (cw_escrow_tick) every counter this DC
 *     spent from lately whose rights are below three seconds of its
 *     demand gets a *background* want for six seconds' worth, of which a
 *     granter gives at most half its rights.
 *
 * A want's id is 1 + the rights this DC had received for that counter
 * when it asked. A granter grants only if its replicated state shows the
 * asker has received less than that: a repeated or stale request, after
 * a resend or a restart on either side, is granted once. A want lasts
 * until the rights cover it or 10 s pass.
 *
 * Layering: escrow/ sits above txn/ (it runs ordinary transactions and
 * reads rights through txn.h) and below replica/ and server/, which call
 * it; txn/ never includes this header.
 *
 * Threading: every call is thread-safe. want_mu guards the wants and the
 * demand table; the figures are atomics. The hooks run on whichever
 * thread runs a transaction and take only want_mu (a leaf) and short
 * reads of the latest state.
 */
#ifndef CW_ESCROW_H
#define CW_ESCROW_H

#include <stdbool.h>
#include <stdint.h>

#include "txn.h"

typedef struct cw_escrow cw_escrow;

/* One want: rights this DC has asked for, for one bounded counter. */
typedef struct {
	uint8_t  key[CW_MAX_KEY];
	size_t   kl;
	int64_t  amount;     /* rights wanted in all */
	uint64_t id;         /* changes when the want grows: a new request */
	bool     background; /* rebalancing ahead of need, not a refusal */
} cw_want;

/* Figures since cw_escrow_new. */
typedef struct {
	uint64_t requests; /* want entries sent to other DCs */
	uint64_t grants;   /* requests of other DCs this DC granted */
	uint64_t moved;    /* rights it granted in all */
	uint64_t refused;  /* decrements refused for want of rights */
} cw_escrow_stats;

/* The escrow of db (borrowed; it must outlive the escrow): installs db's
 * hooks (cw_db_set_hooks), so call it before any transaction runs. OUT:
 * *out. Returns 0 or CW_ENOMEM. */
int cw_escrow_new(cw_escrow **out, cw_db *db);
/* Removes the hooks and frees e, once nothing runs transactions on the db
 * or calls e any more. NULL is a no-op. */
void cw_escrow_free(cw_escrow *e);

/* OUT: out[0..n) (at most max) of the current wants, expired and
 * satisfied ones dropped. Returns n. */
int cw_escrow_wants(cw_escrow *e, cw_want *out, int max);
/* The wants that DC `peer` should serve: those for which, of all the
 * other DCs, it holds the most rights (and some). OUT: out[0..n) (at most
 * max). Returns n. */
int cw_escrow_pick(cw_escrow *e, uint16_t peer, cw_want *out, int max);
/* Counts n want entries sent (by replica/). */
void cw_escrow_sent(cw_escrow *e, uint64_t n);

/* Grants a want of DC `to` (key borrowed): commits a transfer of
 * min(amount + margin, this DC's rights; half of them for a background
 * want) to it, unless this DC's state shows `to` has received as much as
 * the request's id says since it asked (served, or stale). OUT:
 * *granted. Returns 0 (also when nothing was granted: no rights, a
 * conflict) or an error of commit; CW_EINVAL for a bad `to`, key or
 * amount. */
int cw_escrow_grant(cw_escrow *e, uint16_t to, const void *k, size_t kl,
    int64_t amount, uint64_t id, int64_t margin, bool background,
    int64_t *granted);

/* Rebalancing ahead of need; call it twice a second (replica/ does). */
void cw_escrow_tick(cw_escrow *e);

/* OUT: *out, the figures so far. e may be NULL: all zero. */
void cw_escrow_figures(const cw_escrow *e, cw_escrow_stats *out);

#endif /* CW_ESCROW_H */
