/*
 * rocks.c - the engine's RocksDB glue, in one place: the mapping of
 * RocksDB's error strings to CW_E codes, the merge operator's callbacks
 * (RocksDB calls them to fold a row's operands; crdt/ does the folding),
 * the row keys of txn.h's storage table, and reads of the latest state.
 *
 * Everything else in txn/ calls RocksDB too (a commit is a write batch, a
 * transaction reads through its snapshot), but no other file interprets a
 * RocksDB error or knows how a row key is built.
 */
#include <string.h>

#include "crdt.h"
#include "txn_int.h"

/* "Resource busy" and "Try again" are RocksDB's optimistic conflict (our
 * commits track nothing with RocksDB, so the callers that see one turn it
 * into CW_EIO). */
int
cw_txn_rdb_err(char *err, const char *what)
{
	int rc = CW_EIO;
	if (strncmp(err, "Resource busy", 13) == 0 ||
	    strncmp(err, "Operation aborted: Try again", 28) == 0) {
		rc = CW_ECONFLICT;
		cw_log(CW_LOG_DEBUG, "txn", "%s: %s", what, err);
	} else if (strncmp(err, "Corruption", 10) == 0) {
		rc = CW_ECORRUPT;
		cw_log(CW_LOG_ERROR, "txn",
		    "%s: %s (stored data is damaged: causewayd --check tells "
		    "what; docs/operations.md, \"Corruption\")",
		    what, err);
	} else {
		cw_log(CW_LOG_ERROR, "txn", "%s: %s", what, err);
	}
	rocksdb_free(err);
	return rc;
}

int
cw_txn_resume(cw_db *db)
{
	uint64_t now = cw_mono_ms(), last = atomic_load(&db->resume_ms);
	if ((last != 0 && now - last < 1000) ||
	    !atomic_compare_exchange_strong(&db->resume_ms, &last, now))
		return CW_EIO;
	char *err = NULL;
	int   rr  = cw_rocks_resume(db->base, &err);
	if (rr == 0) {
		cw_log(CW_LOG_WARN, "txn",
		    "storage error cleared (RocksDB resumed): writes go on");
		return 0;
	}
	if (rr == -2 && !atomic_exchange(&db->fatal, true)) {
		const char *why = err ? err : "(no message)";
		cw_log(CW_LOG_ERROR, "txn",
		    "storage error that only reopening the database clears: "
		    "%s; every write is refused until then",
		    why);
		if (db->o.on_fatal != NULL)
			db->o.on_fatal(db->o.fatal_arg, why);
		rocksdb_free(err);
		return CW_EIO;
	}
	static cw_ratelimit rl;
	cw_log_limited(&rl, CW_LOG_ERROR, "txn",
	    "storage error persists, writes still refused: %s",
	    err ? err : "(no message)");
	rocksdb_free(err);
	return CW_EIO;
}

/* ---- merge operator ---- */

static char *
merge_full(void *state, const char *key, size_t klen, const char *existing,
    size_t elen, const char *const *ops, const size_t *lens, int n,
    unsigned char *success, size_t *newlen)
{
	cw_buf out = { 0 };
	(void) state;
	(void) key;
	(void) klen;
	int rc = cw_crdt_merge(
	    existing, elen, (const void *const *) ops, lens, (size_t) n, &out);
	if (rc != 0) {
		cw_log(CW_LOG_ERROR, "txn", "merge of a row failed: %s",
		    cw_strerror(rc));
		cw_buf_fini(&out);
		*success = 0;
		*newlen  = 0;
		return NULL;
	}
	*success = 1;
	*newlen  = out.len;
	return (char *) out.p;
}

static char *
merge_partial(void *state, const char *key, size_t klen,
    const char *const *ops, const size_t *lens, int n, unsigned char *success,
    size_t *newlen)
{
	/* Not folded: RocksDB keeps the operands for the full merge. */
	(void) state, (void) key, (void) klen, (void) ops, (void) lens,
	    (void) n;
	*success = 0;
	*newlen  = 0;
	return NULL;
}

static void
merge_delete(void *state, const char *value, size_t len)
{
	(void) state;
	(void) len;
	cw_free((void *) value);
}

static void
merge_destroy(void *state)
{
	(void) state;
}

static const char *
merge_name(void *state)
{
	(void) state;
	return "cw_crdt_merge";
}

rocksdb_mergeoperator_t *
cw_txn_merge_new(void)
{
	return rocksdb_mergeoperator_create(NULL, merge_destroy, merge_full,
	    merge_partial, merge_delete, merge_name);
}

/* ---- keys and reads ---- */

int
cw_txn_row_key(
    cw_buf *b, const void *k, size_t kl, int kind, const char *field)
{
	int rc;
	assert(kl >= 1 && kl <= CW_MAX_KEY);
	assert(kind != ROW_FIELD || field != NULL);
	b->len       = 0;
	uint8_t h[2] = { (uint8_t) (kl >> 8), (uint8_t) kl };
	if ((rc = cw_buf_put(b, h, 2)) != 0 ||
	    (rc = cw_buf_put(b, k, kl)) != 0)
		return rc;
	if (kind == ROW_TYPE)
		return 0;
	if (kind == ROW_VALUE)
		return cw_buf_u8(b, 1);
	if ((rc = cw_buf_u8(b, 0)) != 0)
		return rc;
	return cw_buf_put(b, field, strlen(field));
}

int
cw_txn_get(cw_db *db, int cf, const void *k, size_t kl, char **v, size_t *vl)
{
	char *err = NULL;
	assert(cf > CF_DEFAULT && cf < NCF);
	*v = rocksdb_get_cf(
	    db->base, db->ro, db->cf[cf], (const char *) k, kl, vl, &err);
	if (err != NULL)
		return cw_txn_rdb_err(
		    err, cf == CF_META ? "read meta" : "read");
	return 0;
}

int
cw_txn_get_value(cw_db *db, const void *k, size_t kl, char **v, size_t *vl)
{
	cw_buf key = { 0 };
	int    rc;
	*v = NULL;
	if ((rc = cw_txn_row_key(&key, k, kl, ROW_VALUE, NULL)) == 0)
		rc = cw_txn_get(db, CF_DATA, key.p, key.len, v, vl);
	cw_buf_fini(&key);
	return rc;
}

int
cw_txn_meta_get(cw_db *db, const char *name, char **v, size_t *vl)
{
	return cw_txn_get(db, CF_META, name, strlen(name), v, vl);
}
