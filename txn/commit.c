/*
 * commit.c - committing a local transaction (DESIGN section 4): the
 * first-committer-wins table, the rights check of bounded counters,
 * staging and the write.
 *
 * A commit takes commit_mu, checks that no local commit the snapshot did
 * not see wrote a register or field row t writes (the conflict table
 * below), checks that every bounded counter t spends from still leaves
 * this DC's rights >= 0 in the latest state, then takes the next seq and
 * an HLC time, stamps t's operands with them and writes them, the log
 * record and the commit tag as one RocksDB write batch: all of t or
 * nothing. The WAL is not synced here; the caller waits for its ticket
 * (durable.c), outside the lock, so that one sync covers many commits.
 *
 * Threading: everything named _locked runs under commit_mu and asserts
 * it. A conflict or refusal is answered only once the commits it reveals
 * are durable, like any other answer.
 */
#include <string.h>

#include "crdt.h"
#include "schema.h"
#include "txn_int.h"

#define TAG_PRUNE_EVERY_UNUSED 0

/* ---- local first-committer-wins ----
 *
 * A register or map-field row written by a local commit records that
 * commit's seq here. A transaction whose snapshot does not include that
 * seq (seq > snapshot S[dc]) and writes the same row conflicts. Remote
 * applies never enter the table: a concurrent write at another DC is
 * merged by last-writer-wins, it does not abort local work. Entries at or
 * below the oldest open snapshot can no longer conflict and are pruned.
 * Caller holds commit_mu for all of it.
 */

static struct wlast *
wl_slot(struct wlast *tab, size_t cap, const uint8_t *k, size_t kl)
{
	assert(cap > 0 && (cap & (cap - 1)) == 0);
	size_t i = hash_bytes(k, kl) & (cap - 1);
	while (tab[i].key != NULL &&
	    (tab[i].kl != kl || memcmp(tab[i].key, k, kl) != 0))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static uint64_t
wl_get_locked(cw_db *db, const uint8_t *k, size_t kl)
{
	assert(cw_mutex_held(&db->commit_mu));
	if (db->wl_cap == 0)
		return 0;
	struct wlast *e = wl_slot(db->wl, db->wl_cap, k, kl);
	return e->key ? e->seq : 0;
}

/* Rebuilds the table with room for `need` entries, keeping those with
 * seq > floor. */
static int
wl_rebuild_locked(cw_db *db, size_t need, uint64_t floor)
{
	assert(cw_mutex_held(&db->commit_mu));
	size_t cap = 1024;
	while (cap < need * 2)
		cap *= 2;
	struct wlast *tab = cw_calloc(cap, sizeof(*tab));
	if (tab == NULL)
		return CW_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < db->wl_cap; i++) {
		struct wlast *e = &db->wl[i];
		if (e->key == NULL)
			continue;
		if (e->seq <= floor) {
			cw_free(e->key);
			continue;
		}
		*wl_slot(tab, cap, e->key, e->kl) = *e;
		n++;
	}
	cw_free(db->wl);
	db->wl          = tab;
	db->wl_cap      = cap;
	db->wl_n        = n;
	db->wl_prune_at = n * 2 + 1024;
	return 0;
}

/* Records that local commit seq wrote row k. */
static int
wl_put_locked(cw_db *db, const uint8_t *k, size_t kl, uint64_t seq)
{
	assert(cw_mutex_held(&db->commit_mu));
	if (db->wl_n + 1 > db->wl_cap / 2 || db->wl_n >= db->wl_prune_at) {
		/* the oldest open snapshot; with none, everything is seen.
		 * Transactions on a durable snapshot are not listed: the
		 * oldest snapshot still referenced stands for them. */
		uint64_t floor = db->S.v[db->o.dc];
		for (cw_tx *t = db->open; t != NULL; t = t->next)
			if (t->snap_vc.v[db->o.dc] < floor)
				floor = t->snap_vc.v[db->o.dc];
		floor  = cw_txn_dsnap_floor(db, db->o.dc, floor);
		int rc = wl_rebuild_locked(db, db->wl_n + 1, floor);
		if (rc != 0)
			return rc;
	}
	struct wlast *e = wl_slot(db->wl, db->wl_cap, k, kl);
	assert(db->wl_n < db->wl_cap); /* the probe above ended on a slot */
	if (e->key == NULL) {
		if ((e->key = cw_memdup(k, kl)) == NULL)
			return CW_ENOMEM;
		e->kl = kl;
		db->wl_n++;
	}
	e->seq = seq;
	return 0;
}

/* Checks, under commit_mu, that the latest state of every bcounter row t
 * spends from, with t's operands folded in, leaves this DC's rights >= 0.
 * (Only this DC spends its rights, so no later commit can undo it.) */
static int
check_rights_locked(cw_tx *t)
{
	cw_db *db = t->db;
	int    rc = 0;
	assert(cw_mutex_held(&db->commit_mu));
	for (size_t i = 0; i < t->nrows && rc == 0 && !t->unchecked; i++) {
		struct prow *r = &t->rows[i];
		const void  *ops[64];
		size_t       lens[64];
		size_t       n = 0, off = 0, ol, vl;
		uint8_t     *op;
		int64_t      rights;
		if (!r->bc_spends)
			continue;
		char *v;
		if ((rc = cw_txn_get(db, CF_DATA, r->key, r->klen, &v, &vl)) !=
		    0)
			return rc;
		cw_buf      st   = { 0 };
		const void *cur  = v;
		size_t      curl = vl;
		/* fold in batches of 64 operands */
		bool more = true;
		while (rc == 0 && more) {
			more = cw_txn_row_next_op(r, &off, &op, &ol);
			if (more) {
				ops[n]    = op;
				lens[n++] = ol;
			}
			if (n == 64 || (!more && n > 0)) {
				cw_buf next = { 0 };
				rc          = cw_crdt_merge(
				             cur, curl, ops, lens, n, &next);
				cw_buf_fini(&st);
				st   = next;
				cur  = st.p;
				curl = st.len;
				n    = 0;
			}
		}
		if (rc == 0 &&
		    (rc = cw_crdt_bcounter_rights(
		         cur, curl, db->o.dc, &rights)) == 0 &&
		    rights < 0)
			rc = CW_ENORIGHTS;
		cw_buf_fini(&st);
		rocksdb_free(v);
	}
	return rc;
}

/* Stamps t's operands and writes them, with the log record, into wb.
 * Caller holds commit_mu. */
static int
stage_locked(cw_tx *t, uint64_t seq, uint64_t hlc, rocksdb_writebatch_t *wb,
    cw_buf *rec)
{
	cw_db         *db   = t->db;
	cw_rec_effect *effs = NULL;
	size_t         ne   = 0;
	int            rc   = 0;
	assert(cw_mutex_held(&db->commit_mu));
	if ((effs = cw_malloc(t->nops * sizeof(*effs))) == NULL)
		return CW_ENOMEM;
	for (size_t i = 0; i < t->nrows; i++) {
		struct prow *r   = &t->rows[i];
		size_t       off = 0;
		uint8_t     *op;
		size_t       ol;
		while (cw_txn_row_next_op(r, &off, &op, &ol)) {
			cw_crdt_op_stamp(op, ol, hlc, db->o.dc, seq);
			assert(ne < t->nops);
			effs[ne++] =
			    (cw_rec_effect) { r->key, r->klen, op, ol };
			rocksdb_writebatch_merge_cf(wb, db->cf[CF_DATA],
			    (char *) r->key, r->klen, (char *) op, ol);
		}
	}
	if ((rc = cw_schema_rec_encode(db->o.dc, seq, hlc, t->snap_vc.v,
	         db->o.ndc, effs, ne, rec)) != 0)
		goto out;
	uint8_t lk[LOG_KEY_LEN];
	log_key(lk, db->o.dc, seq);
	rocksdb_writebatch_put_cf(wb, db->cf[CF_LOG], (char *) lk, sizeof(lk),
	    (char *) rec->p, rec->len);
out:
	cw_free(effs);
	return rc;
}

/* Tells the escrow (db->hooks.demand) what t spent from bounded
 * counters, for rebalancing. Only decrements are demand: a transfer is
 * rights moved, not used. (Counting the escrow's own grants as demand
 * made two DCs pass rights back and forth without end, each chasing the
 * grant it had just made: issue 18.) */
static void
note_demand(cw_tx *t)
{
	if (t->db->hooks.demand == NULL)
		return;
	for (size_t i = 0; i < t->nrows; i++) {
		struct prow *r = &t->rows[i];
		if (!r->bc_spends)
			continue;
		uint64_t spent = 0;
		size_t   off   = 0, ol;
		uint8_t *op;
		while (cw_txn_row_next_op(r, &off, &op, &ol))
			if (ol == 14 && op[1] == CW_OP_DEC)
				spent += cw_ld_u64(op + 6);
		if (spent == 0)
			continue;
		/* the value row key: klen u16 BE, key, 0x01 */
		t->db->hooks.demand(
		    t->db->hooks.arg, r->key + 2, r->klen - 3, spent, false);
	}
}

int
cw_tx_commit(cw_tx *t, cw_vc *commit_vc)
{
	uint64_t ticket;
	if (t == NULL)
		return CW_EINVAL;
	cw_db *db  = t->db;
	int    rc  = cw_tx_commit_nosync(t, commit_vc, &ticket);
	int    src = cw_txn_wait_durable(db, ticket);
	return src != 0 ? src : rc;
}

int
cw_tx_commit_nosync(cw_tx *t, cw_vc *commit_vc, uint64_t *ticket)
{
	cw_db                *db;
	cw_buf                rec = { 0 };
	rocksdb_writebatch_t *wb  = NULL;
	uint64_t              seq;
	int                   rc;
	*ticket = 0;
	if (t == NULL)
		return CW_EINVAL;
	if (t->state != TX_ACTIVE)
		return CW_ESTATE;
	db = t->db;
	if (commit_vc != NULL)
		*commit_vc = t->snap_vc;
	if (t->nops == 0) {
		/* read-only: nothing to write; the vector we return must
		 * name a durable state */
		if (!t->observed && !cw_test_bug("ack-before-sync"))
			*ticket = t->snap_ticket;
		cw_txn_release(t);
		return 0;
	}
	if ((wb = rocksdb_writebatch_create()) == NULL)
		return CW_ENOMEM;
	cw_mutex_lock(&db->commit_mu);
	/* first committer wins among local transactions: a row written
	 * since the snapshot (the seeded bug compares against the DC's
	 * state instead, which no write is ever past) */
	uint64_t since = cw_test_bug("conflict-vs-state")
	    ? db->S.v[db->o.dc]
	    : t->snap_vc.v[db->o.dc];
	for (size_t i = 0; i < t->nrows; i++) {
		struct prow *r = &t->rows[i];
		if (r->tracked && r->nops > 0 &&
		    wl_get_locked(db, r->key, r->klen) > since) {
			rc = CW_ECONFLICT;
			goto out_unlock;
		}
	}
	if ((rc = check_rights_locked(t)) != 0)
		goto out_unlock;
	seq          = db->S.v[db->o.dc] + 1;
	uint64_t hlc = cw_causal_hlc_tick(&db->hlc, cw_now_ms());
	if ((rc = stage_locked(t, seq, hlc, wb, &rec)) != 0)
		goto out_unlock;
	if (t->tagged) {
		cw_vc cvc       = t->snap_vc;
		cvc.v[db->o.dc] = seq;
		cw_txn_tag_stage_locked(t, seq, &cvc, wb);
	}
	/* One batch: all of t, and its log record, or nothing. */
	char *err = NULL;
	rocksdb_optimistictransactiondb_write(db->odb, db->wo, wb, &err);
	if (err != NULL) {
		rc = cw_txn_rdb_err(err, "commit");
		if (rc == CW_ECONFLICT) /* RocksDB tracks nothing of ours */
			rc = CW_EIO;
		/* a background error (no descriptor or no space for a new
		 * WAL) stops every write until cleared: clear it, once its
		 * cause is gone, and try this one again */
		if (rc == CW_EIO && cw_txn_resume(db) == 0) {
			rocksdb_optimistictransactiondb_write(
			    db->odb, db->wo, wb, &err);
			rc = err != NULL ? cw_txn_rdb_err(err, "commit") : 0;
			if (rc == CW_ECONFLICT)
				rc = CW_EIO;
		}
		if (rc != 0)
			goto out_unlock;
	}
	t->state          = TX_DONE;
	db->S.v[db->o.dc] = seq;
	*ticket           = ++db->ncommit;
	for (size_t i = 0; i < t->nrows; i++) {
		struct prow *r = &t->rows[i];
		/* on ENOMEM a later writer of this row could miss its
		 * conflict: logged; the commit itself stands */
		if (r->tracked && r->nops > 0 &&
		    wl_put_locked(db, r->key, r->klen, seq) != 0)
			cw_log(CW_LOG_ERROR, "txn",
			    "no memory to record a write for conflict checks");
	}
	cw_txn_unwrite_locked(t);
	pthread_cond_broadcast(&db->applied_cv);
	cw_mutex_unlock(&db->commit_mu);
	rocksdb_writebatch_destroy(wb);
	cw_buf_fini(&rec);
	note_demand(t);
	cw_txn_release(t);
	if (commit_vc != NULL)
		commit_vc->v[db->o.dc] = seq;
	cw_txn_tags_prune(db, seq);
	if (cw_test_bug("ack-before-sync"))
		*ticket = 0; /* test bug: durable later, maybe */
	return 0;
out_unlock:
	/* a conflict or refusal reveals other commits: they must be
	 * durable before it is told */
	if (rc == CW_ECONFLICT || rc == CW_ENORIGHTS)
		*ticket = db->ncommit;
	cw_txn_unwrite_locked(t);
	cw_mutex_unlock(&db->commit_mu);
	rocksdb_writebatch_destroy(wb);
	cw_buf_fini(&rec);
	cw_txn_release(t); /* rolls back: nothing of t is applied */
	return rc;
}
