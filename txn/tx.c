/*
 * tx.c - a transaction from begin to free: its snapshot, its pending rows,
 * and how it reads (DESIGN sections 1 and 4).
 *
 * A transaction begins on the latest durable snapshot (durable.c) when
 * that covers its session's clock, and then nothing it reads waits;
 * otherwise on a snapshot of its own, taken under commit_mu together with
 * the state vector it names, after waiting (bounded) for the DC to apply
 * what the session needs. Every read carries the snapshot in its read
 * options.
 *
 * Writes are buffered as pending rows (struct prow in txn_int.h): one per
 * data row the transaction updates, its operands in order, found through
 * an open-addressing index by row key. A read gets the row's state at the
 * snapshot and folds the pending operands into it with cw_crdt_merge, so
 * a transaction sees its own writes through the same code that merges
 * everybody's writes. Commit (commit.c) stamps and writes them.
 *
 * Threading: a cw_tx is used by one thread at a time; it takes commit_mu
 * only to join or leave db->open and db->writers.
 */
#include <errno.h>
#include <string.h>

#include "crdt.h"
#include "txn_int.h"

static cw_tx *
tx_alloc(cw_db *db)
{
	cw_tx *t = cw_calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->db = db;
	if ((t->ro = rocksdb_readoptions_create()) == NULL) {
		cw_free(t);
		return NULL;
	}
	return t;
}

/* Puts t on the latest durable state if that covers need (NULL: none):
 * nothing read from it waits for a sync, and beginning on it takes no
 * commit_mu. While referenced it is on db->live, which holds the conflict
 * table's prune floor below it. Returns whether it did. */
static bool
begin_durable(cw_db *db, const cw_vc *need, cw_tx *t)
{
	if ((t->ds = cw_txn_dsnap_ref(db, need)) == NULL)
		return false;
	t->snap_vc     = t->ds->vc;
	t->snap_ticket = t->ds->ticket;
	rocksdb_readoptions_set_snapshot(t->ro, t->ds->snap);
	t->state = TX_ACTIVE;
	return true;
}

static void
tx_unalloc(cw_tx *t)
{
	rocksdb_readoptions_destroy(t->ro);
	cw_free(t);
}

/* Waits for S to dominate need. Caller holds commit_mu. */
static int
wait_for_locked(cw_db *db, const cw_vc *need, uint64_t wait_ms)
{
	struct timespec dl;
	assert(cw_mutex_held(&db->commit_mu));
	if (need == NULL || cw_causal_vc_dominates(&db->S, need))
		return 0;
	cw_deadline_after(&dl, wait_ms);
	while (!cw_causal_vc_dominates(&db->S, need)) {
		if (cw_mutex_wait(&db->commit_mu, &db->applied_cv, &dl) ==
		    ETIMEDOUT)
			return cw_causal_vc_dominates(&db->S, need)
			    ? 0
			    : CW_EUNAVAIL;
	}
	return 0;
}

int
cw_db_wait_for(cw_db *db, const cw_vc *need, uint64_t wait_ms)
{
	cw_mutex_lock(&db->commit_mu);
	int rc = wait_for_locked(db, need, wait_ms);
	cw_mutex_unlock(&db->commit_mu);
	return rc;
}

int
cw_tx_begin_nowait(cw_db *db, const cw_vc *need, cw_tx **out)
{
	cw_tx *t;
	*out = NULL;
	if ((t = tx_alloc(db)) == NULL)
		return CW_ENOMEM;
	if (!begin_durable(db, need, t)) {
		tx_unalloc(t);
		return CW_EUNAVAIL;
	}
	*out = t;
	return 0;
}

int
cw_tx_begin(cw_db *db, const cw_vc *need, uint64_t wait_ms, cw_tx **out)
{
	cw_tx *t;
	int    rc;
	*out = NULL;
	if ((t = tx_alloc(db)) == NULL)
		return CW_ENOMEM;
	if (begin_durable(db, need, t)) {
		*out = t;
		return 0;
	}
	cw_mutex_lock(&db->commit_mu);
	if (!cw_test_bug("skip-session-wait") &&
	    (rc = wait_for_locked(db, need, wait_ms)) != 0) {
		cw_mutex_unlock(&db->commit_mu);
		tx_unalloc(t);
		return rc;
	}
	/* The snapshot and its state vector, taken together. */
	t->snap        = rocksdb_create_snapshot(db->base);
	t->snap_vc     = db->S;
	t->snap_ticket = db->ncommit;
	t->next        = db->open;
	if (db->open != NULL)
		db->open->prev = t;
	db->open  = t;
	t->listed = true;
	cw_mutex_unlock(&db->commit_mu);
	rocksdb_readoptions_set_snapshot(t->ro, t->snap);
	t->state = TX_ACTIVE;
	*out     = t;
	return 0;
}

bool
cw_tx_nowait(const cw_tx *t)
{
	return t->ds != NULL || t->observed;
}

void
cw_tx_snapshot(const cw_tx *t, cw_vc *out)
{
	*out = t->snap_vc;
}

bool
cw_tx_observed(const cw_tx *t)
{
	return t->observed;
}

/* Called before anything of the snapshot reaches the caller (a value, or
 * an answer such as CW_ETYPE that depends on it). Waits until every commit
 * in the snapshot is durable, so no caller sees a state a crash could take
 * back. A transaction that only writes never waits here: its own commit is
 * durable only once everything before it in the WAL is. */
int
cw_txn_observe(cw_tx *t)
{
	if (t->observed)
		return 0;
	if (cw_test_bug("ack-before-sync")) {
		t->observed = true; /* test bug: no wait for the sync */
		return 0;
	}
	int rc = cw_txn_wait_durable(t->db, t->snap_ticket);
	if (rc == 0)
		t->observed = true;
	return rc;
}

/* Takes t out of db->writers. Caller holds commit_mu. */
void
cw_txn_unwrite_locked(cw_tx *t)
{
	assert(cw_mutex_held(&t->db->commit_mu));
	if (t->writer) {
		assert(t->db->writers > 0);
		t->db->writers--;
		t->writer = false;
		pthread_cond_broadcast(&t->db->applied_cv);
	}
}

void
cw_txn_release(cw_tx *t)
{
	if (t->writer || t->listed) {
		cw_db *db = t->db;
		cw_mutex_lock(&db->commit_mu);
		cw_txn_unwrite_locked(t);
		if (t->listed) {
			if (t->prev != NULL)
				t->prev->next = t->next;
			else
				db->open = t->next;
			if (t->next != NULL)
				t->next->prev = t->prev;
			t->listed = false;
		}
		cw_mutex_unlock(&db->commit_mu);
	}
	if (t->snap != NULL) {
		rocksdb_release_snapshot(t->db->base, t->snap);
		t->snap = NULL;
	}
	cw_txn_dsnap_unref(t->db, t->ds);
	t->ds    = NULL;
	t->state = TX_DONE;
}

void
cw_tx_free(cw_tx *t)
{
	if (t == NULL)
		return;
	cw_txn_release(t);
	for (size_t i = 0; i < t->nrows; i++) {
		cw_free(t->rows[i].key);
		cw_buf_fini(&t->rows[i].ops);
	}
	cw_free(t->rows);
	cw_free(t->index);
	rocksdb_readoptions_destroy(t->ro);
	cw_free(t);
}

struct prow *
cw_txn_row_find(cw_tx *t, const uint8_t *k, size_t kl)
{
	if (t->icap == 0)
		return NULL;
	size_t i = hash_bytes(k, kl) & (t->icap - 1);
	for (; t->index[i] != 0; i = (i + 1) & (t->icap - 1)) {
		struct prow *r = &t->rows[t->index[i] - 1];
		if (r->klen == kl && memcmp(r->key, k, kl) == 0)
			return r;
	}
	return NULL;
}

static int
index_rebuild(cw_tx *t, size_t cap)
{
	uint32_t *idx = cw_calloc(cap, sizeof(*idx));
	if (idx == NULL)
		return CW_ENOMEM;
	cw_free(t->index);
	t->index = idx;
	t->icap  = cap;
	for (size_t r = 0; r < t->nrows; r++) {
		size_t i =
		    hash_bytes(t->rows[r].key, t->rows[r].klen) & (cap - 1);
		while (idx[i] != 0)
			i = (i + 1) & (cap - 1);
		idx[i] = (uint32_t) r + 1;
	}
	return 0;
}

/* Finds or adds the pending row k of `type`. OUT: *out. */
int
cw_txn_row_get(
    cw_tx *t, const uint8_t *k, size_t kl, int type, struct prow **out)
{
	struct prow *r = cw_txn_row_find(t, k, kl);
	if (r != NULL) {
		*out = r;
		return 0;
	}
	if (cw_grow(&t->rows, &t->rcap, t->nrows + 1, sizeof(*t->rows)) != 0)
		return CW_ENOMEM;
	r = &t->rows[t->nrows];
	memset(r, 0, sizeof(*r));
	if ((r->key = cw_memdup(k, kl)) == NULL)
		return CW_ENOMEM;
	r->klen    = kl;
	r->type    = type;
	r->tracked = type == CW_T_REG || type == CW_T_FIELD;
	t->nrows++;
	if ((t->nrows + 1) * 2 > t->icap) {
		if (index_rebuild(t, t->icap ? t->icap * 2 : 16) != 0) {
			t->nrows--;
			cw_free(r->key);
			return CW_ENOMEM;
		}
	} else {
		size_t i = hash_bytes(k, kl) & (t->icap - 1);
		while (t->index[i] != 0)
			i = (i + 1) & (t->icap - 1);
		assert(t->nrows * 2 <= t->icap); /* a free slot was found */
		t->index[i] = (uint32_t) t->nrows;
	}
	*out = r;
	return 0;
}

/* Iterates the operands of a row: *off is the cursor, starting at 0. */
bool
cw_txn_row_next_op(
    const struct prow *r, size_t *off, uint8_t **op, size_t *len)
{
	if (*off >= r->ops.len)
		return false;
	uint32_t l = (uint32_t) r->ops.p[*off] |
	    ((uint32_t) r->ops.p[*off + 1] << 8) |
	    ((uint32_t) r->ops.p[*off + 2] << 16) |
	    ((uint32_t) r->ops.p[*off + 3] << 24);
	assert(*off + 4 + l <= r->ops.len);
	*op  = r->ops.p + *off + 4;
	*len = l;
	*off += 4 + l;
	return true;
}

/* Appends the operand in `op` to row r, or replaces r's operands with it
 * (a register write supersedes the earlier ones of its transaction).
 * Returns 0, CW_ETOOBIG (the transaction's limits) or CW_ENOMEM; on error
 * r is unchanged. */
int
cw_txn_row_push(cw_tx *t, struct prow *r, const cw_buf *op, bool replace)
{
	bool     mark       = r->type == CW_T_TYPE;
	uint32_t gone       = replace ? r->nops : 0;
	size_t   gone_bytes = replace ? r->ops.len - 4 * (size_t) r->nops : 0;
	size_t   user_ops   = t->nops - t->nmarks - (mark ? 0 : gone);
	if ((!mark && user_ops >= t->db->o.max_txn_ops) ||
	    t->bytes - gone_bytes + op->len > t->db->o.max_txn_bytes)
		return CW_ETOOBIG;
	size_t base = replace ? 0 : r->ops.len;
	size_t need = base + 4 + op->len;
	if (need > r->ops.len &&
	    cw_buf_reserve(&r->ops, need - r->ops.len) != 0)
		return CW_ENOMEM;
	if (!t->writer) {
		cw_mutex_lock(&t->db->commit_mu);
		t->db->writers++;
		cw_mutex_unlock(&t->db->commit_mu);
		t->writer = true;
	}
	assert(r >= t->rows && r < t->rows + t->nrows);
	/* nothing below can fail */
	r->ops.len = base;
	cw_buf_u32(&r->ops, (uint32_t) op->len);
	cw_buf_put(&r->ops, op->p, op->len);
	r->nops = r->nops - gone + 1;
	t->nops = t->nops - gone + 1;
	if (mark)
		t->nmarks = t->nmarks - gone + 1;
	t->bytes = t->bytes - gone_bytes + op->len;
	return 0;
}

/* The state of row k at the snapshot. OUT: *v (rocksdb_free) and *vl;
 * NULL if the row does not exist. */
int
cw_txn_read_snapshot(
    cw_tx *t, const uint8_t *k, size_t kl, char **v, size_t *vl)
{
	char *err = NULL;
	*v        = rocksdb_get_cf(t->db->base, t->ro, t->db->cf[CF_DATA],
	           (const char *) k, kl, vl, &err);
	if (err != NULL)
		return cw_txn_rdb_err(err, "read");
	return 0;
}

/* The state of row k as t sees it: the snapshot plus t's own pending
 * operands. OUT: state in *out (reset first); *exists false if there is
 * neither. */
int
cw_txn_read_row(
    cw_tx *t, const uint8_t *k, size_t kl, cw_buf *out, bool *exists)
{
	char  *v;
	size_t vl;
	int    rc;
	out->len = 0;
	*exists  = false;
	if ((rc = cw_txn_read_snapshot(t, k, kl, &v, &vl)) != 0)
		return rc;
	struct prow *r = cw_txn_row_find(t, k, kl);
	if (r == NULL || r->nops == 0) {
		if (v != NULL) {
			rc      = cw_buf_put(out, v, vl);
			*exists = rc == 0;
		}
		rocksdb_free(v);
		return rc;
	}
	const void  *stack[16];
	size_t       stackl[16];
	const void **ops  = stack;
	size_t      *lens = stackl;
	if (r->nops > 16) {
		ops  = cw_malloc(r->nops * sizeof(*ops));
		lens = cw_malloc(r->nops * sizeof(*lens));
		if (ops == NULL || lens == NULL) {
			rc = CW_ENOMEM;
			goto out;
		}
	}
	size_t   off = 0, n = 0;
	uint8_t *op;
	size_t   ol;
	while (cw_txn_row_next_op(r, &off, &op, &ol)) {
		ops[n]    = op;
		lens[n++] = ol;
	}
	rc      = cw_crdt_merge(v, vl, ops, lens, n, out);
	*exists = rc == 0;
out:
	if (ops != stack) {
		cw_free(ops);
		cw_free(lens);
	}
	rocksdb_free(v);
	return rc;
}
