/*
 * remote.c - applying another DC's transactions (DESIGN sections 3, 5).
 *
 * A record from a peer is bytes from outside: it passes the FlatBuffers
 * verifier (cw_schema_rec_decode), then check_record, which tests what the
 * verifier cannot (the origin, the dependency vector's size, every
 * operand's form and that its row key fits its type), before any of it
 * is used. A valid record is applied once and only in causal order: under
 * commit_mu, only if its seq is the next of its origin and every
 * dependency is already applied here; all its effects and the record
 * itself go into the log in one write batch, so a remote transaction is
 * seen whole or not at all. It never enters the conflict table: a
 * concurrent write at another DC is merged, it does not abort local work.
 *
 * The replication receiver calls cw_db_apply_remote_nosync for each record
 * of a batch, then one cw_db_sync for all of them.
 */
#include <string.h>
#include <unistd.h>

#include "crdt.h"
#include "schema.h"
#include "txn_int.h"

/* Checks a row key from outside and that operand type `type` belongs in
 * such a row. */
static bool
row_key_ok(const uint8_t *k, size_t len, int type)
{
	if (len < 3)
		return false;
	size_t kl = ((size_t) k[0] << 8) | k[1];
	if (kl < 1 || kl > CW_MAX_KEY || len < 2 + kl)
		return false;
	if (len == 2 + kl)
		return type == CW_T_TYPE;
	if (k[2 + kl] == 1)
		return len == 3 + kl && type >= CW_T_REG && type <= CW_T_SET;
	return k[2 + kl] == 0 && len - 3 - kl <= CW_MAX_FIELD &&
	    type == CW_T_FIELD;
}

/* Checks everything in a decoded record that the verifier cannot. */
static int
check_record(cw_db *db, const cw_rec *rec)
{
	if (rec->origin >= db->o.ndc || rec->origin == db->o.dc ||
	    rec->ndeps != db->o.ndc || rec->seq == 0 || rec->neffects == 0)
		return CW_EPROTO;
	for (size_t i = 0; i < rec->neffects; i++) {
		cw_rec_effect e;
		cw_schema_rec_effect(rec, i, &e);
		int rc = cw_crdt_op_validate(
		    e.op, e.oplen, db->o.ndc, db->o.max_value);
		if (rc != 0)
			return rc;
		if (!row_key_ok(
		        e.key, e.keylen, cw_crdt_type_of(e.op, e.oplen)))
			return CW_EPROTO;
	}
	return 0;
}

int
cw_db_apply_remote(cw_db *db, const void *buf, size_t len, int *result)
{
	int rc = cw_db_apply_remote_nosync(db, buf, len, result);
	if (rc == 0 && *result == CW_APPLY_APPLIED)
		rc = cw_db_sync(db);
	return rc;
}

int
cw_db_apply_remote_nosync(cw_db *db, const void *buf, size_t len, int *result)
{
	cw_rec                rec;
	rocksdb_writebatch_t *wb = NULL;
	uint64_t              ticket;
	int                   rc;
	*result = 0;
	if ((rc = cw_schema_rec_decode(buf, len, &rec)) != 0)
		return rc;
	if ((rc = check_record(db, &rec)) != 0) {
		static cw_ratelimit rl;
		cw_log_limited(&rl, CW_LOG_WARN, "txn",
		    "rejected a record from DC %u: %s", rec.origin,
		    cw_strerror(rc));
		goto out;
	}
	uint64_t stamp = cw_causal_hlc_ms(rec.hlc), now = cw_now_ms();
	if (db->o.max_clock_skew_ms != 0 && stamp > now &&
	    stamp - now > db->o.max_clock_skew_ms) {
		static cw_ratelimit rl;
		cw_log_limited(&rl, CW_LOG_ERROR, "txn",
		    "record %llu of DC %u is stamped %llu ms ahead of this "
		    "DC's clock, more than the %llu ms allowed "
		    "(--max-clock-skew): held back until the clock catches "
		    "up. Check the clocks of both DCs.",
		    (unsigned long long) rec.seq, rec.origin,
		    (unsigned long long) (stamp - now),
		    (unsigned long long) db->o.max_clock_skew_ms);
		*result = CW_APPLY_NOT_READY;
		goto out;
	}
	if ((wb = rocksdb_writebatch_create()) == NULL) {
		rc = CW_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < rec.neffects; i++) {
		cw_rec_effect e;
		cw_schema_rec_effect(&rec, i, &e);
		rocksdb_writebatch_merge_cf(
		    wb, db->cf[CF_DATA], e.key, e.keylen, e.op, e.oplen);
	}
	uint8_t lk[LOG_KEY_LEN];
	log_key(lk, rec.origin, rec.seq);
	rocksdb_writebatch_put_cf(
	    wb, db->cf[CF_LOG], (char *) lk, sizeof(lk), buf, len);

	cw_mutex_lock(&db->commit_mu);
	if (rec.seq <= db->S.v[rec.origin] ||
	    rec.seq <= db->bug_applying[rec.origin]) {
		*result = CW_APPLY_DUPLICATE;
		cw_mutex_unlock(&db->commit_mu);
		goto out;
	}
	bool ready = rec.seq == db->S.v[rec.origin] + 1;
	for (uint32_t k = 0; k < db->o.ndc && ready; k++)
		if (k != rec.origin && rec.deps[k] > db->S.v[k] &&
		    !cw_test_bug("ignore-deps"))
			ready = false;
	if (!ready) {
		*result = CW_APPLY_NOT_READY;
		cw_mutex_unlock(&db->commit_mu);
		goto out;
	}
	char *err = NULL;
	if (cw_test_bug("split-apply") && rec.neffects > 1) {
		/* test bug: the first effect alone, visible for a while */
		cw_rec_effect e;
		cw_schema_rec_effect(&rec, 0, &e);
		rocksdb_merge_cf(db->base, db->wo, db->cf[CF_DATA], e.key,
		    e.keylen, e.op, e.oplen, &err);
		/* the same record through another link must not apply twice
		 * meanwhile: the bug is the split, not a double apply */
		if (err == NULL)
			db->bug_applying[rec.origin] = rec.seq;
		cw_mutex_unlock(&db->commit_mu);
		usleep(3000);
		cw_mutex_lock(&db->commit_mu);
		rocksdb_writebatch_clear(wb);
		for (size_t i = 1; i < rec.neffects; i++) {
			cw_schema_rec_effect(&rec, i, &e);
			rocksdb_writebatch_merge_cf(wb, db->cf[CF_DATA], e.key,
			    e.keylen, e.op, e.oplen);
		}
		rocksdb_writebatch_put_cf(
		    wb, db->cf[CF_LOG], (char *) lk, sizeof(lk), buf, len);
	}
	if (err == NULL)
		rocksdb_optimistictransactiondb_write(
		    db->odb, db->wo, wb, &err);
	if (err != NULL) {
		rc = cw_txn_rdb_err(err, "apply");
		if (rc == CW_ECONFLICT)
			rc = CW_EIO;
		/* as a commit does (commit.c): the sender sends it again */
		if (rc == CW_EIO)
			(void) cw_txn_resume(db);
		cw_mutex_unlock(&db->commit_mu);
		goto out;
	}
	db->S.v[rec.origin] = rec.seq;
	/* this DC's clock moves past every record it applies, so that a
	 * write that follows it wins over it everywhere */
	if (!cw_test_bug("hlc-not-absorbed"))
		cw_causal_hlc_observe(&db->hlc, rec.hlc);
	ticket = ++db->ncommit;
	pthread_cond_broadcast(&db->applied_cv);
	cw_mutex_unlock(&db->commit_mu);
	*result = CW_APPLY_APPLIED;
	(void) ticket; /* durable at the caller's cw_db_sync */
out:
	if (wb != NULL)
		rocksdb_writebatch_destroy(wb);
	cw_schema_rec_fini(&rec);
	return rc;
}
