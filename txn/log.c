/*
 * log.c - the log of committed transactions (DESIGN section 3): reading
 * one record, scanning an origin's records for replication, pruning what
 * every DC has, verifying the log against the state vector, and the
 * digest of the data that tells whether two DCs converged.
 *
 * In CF_LOG: origin u16 BE + seq u64 BE -> the record (schema.h), local
 * and remote alike. In CF_META: "pruned/" + origin u16 BE -> the highest
 * seq of that origin pruned, written in the same batch as the range
 * delete, so that verify knows where each origin's log now begins.
 *
 * Threading: none of its own; reads go to the latest state (db->ro) or,
 * for the digest, to one snapshot.
 */
#include <string.h>

#include "schema.h"
#include "txn_int.h"

int
cw_db_log_get(
    cw_db *db, uint16_t origin, uint64_t seq, void **rec, size_t *len)
{
	uint8_t lk[LOG_KEY_LEN];
	char   *v;
	size_t  vl;
	int     rc;
	*rec = NULL;
	*len = 0;
	log_key(lk, origin, seq);
	if ((rc = cw_txn_get(db, CF_LOG, lk, sizeof(lk), &v, &vl)) != 0)
		return rc;
	if (v == NULL)
		return CW_EINVAL;
	*rec = cw_memdup(v, vl);
	rocksdb_free(v);
	if (*rec == NULL)
		return CW_ENOMEM;
	*len = vl;
	return 0;
}

static int pruned_get(cw_db *db, uint16_t o, uint64_t *floor);

/* Logs that log record (o, s) is bad (`what`). Returns CW_EPROTO. */
static int
log_bad(const char *what, uint16_t o, uint64_t s)
{
	cw_log(CW_LOG_ERROR, "txn", "log record (%u, %llu) %s", o,
	    (unsigned long long) s, what);
	return CW_EPROTO;
}

int
cw_db_verify(cw_db *db, uint64_t *nrecords)
{
	cw_vc    S, seen;
	uint64_t n  = 0;
	int      rc = 0;
	cw_db_state(db, &S);
	cw_causal_vc_init(&seen, db->o.ndc);
	bool                started[CW_MAX_DC] = { false };
	rocksdb_iterator_t *it =
	    rocksdb_create_iterator_cf(db->base, db->ro, db->cf[CF_LOG]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t         kl, vl;
		const uint8_t *k = (const uint8_t *) rocksdb_iter_key(it, &kl);
		const char    *v = rocksdb_iter_value(it, &vl);
		cw_rec         rec;
		if (kl != LOG_KEY_LEN) {
			cw_log(
			    CW_LOG_ERROR, "txn", "log key of %zu bytes", kl);
			rc = CW_EPROTO;
			break;
		}
		uint16_t o = (uint16_t) ((k[0] << 8) | k[1]);
		uint64_t s = cw_ld_be64(k + 2);
		if (o >= db->o.ndc || cw_schema_rec_decode(v, vl, &rec) != 0) {
			rc = log_bad("is corrupt", o, s);
			break;
		}
		bool ok = rec.origin == o && rec.seq == s;
		cw_schema_rec_fini(&rec);
		if (!started[o]) {
			/* the first record follows the prune floor exactly */
			uint64_t floor;
			if ((rc = pruned_get(db, o, &floor)) != 0)
				break;
			seen.v[o]  = floor;
			started[o] = true;
		}
		if (!ok || s != seen.v[o] + 1) {
			rc = log_bad("follows a gap, or is misfiled", o, s);
			break;
		}
		seen.v[o] = s;
		n++;
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	if (err != NULL && rc == 0)
		rc = cw_txn_rdb_err(err, "verify");
	else if (err != NULL)
		rocksdb_free(err);
	rocksdb_iter_destroy(it);
	if (rc == 0 && cw_causal_vc_compare(&seen, &S) != CW_VC_EQUAL) {
		cw_log(CW_LOG_ERROR, "txn", "state vector does not match log");
		rc = CW_EPROTO;
	}
	if (nrecords != NULL)
		*nrecords = n;
	return rc;
}

int
cw_db_log_scan(cw_db *db, uint16_t origin, uint64_t from, uint64_t to,
    size_t max_bytes, cw_log_fn fn, void *arg)
{
	uint8_t lo[LOG_KEY_LEN];
	size_t  bytes = 0;
	int     rc    = 0;
	if (from > to)
		return 0;
	log_key(lo, origin, from);
	rocksdb_iterator_t *it =
	    rocksdb_create_iterator_cf(db->base, db->ro, db->cf[CF_LOG]);
	for (rocksdb_iter_seek(it, (char *) lo, sizeof(lo));
	     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t         kl, vl;
		const uint8_t *k = (const uint8_t *) rocksdb_iter_key(it, &kl);
		if (kl != LOG_KEY_LEN || ((k[0] << 8) | k[1]) != origin)
			break;
		uint64_t seq = cw_ld_be64(k + 2);
		if (seq > to)
			break;
		const char *v = rocksdb_iter_value(it, &vl);
		if ((rc = fn(arg, origin, seq, v, vl)) != 0)
			break;
		bytes += vl;
		if (bytes >= max_bytes)
			break;
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	if (err != NULL)
		rc = cw_txn_rdb_err(err, "log scan");
	rocksdb_iter_destroy(it);
	return rc < 0 ? rc : 0;
}

int
cw_db_digest(cw_db *db, uint64_t *out)
{
	/* FNV-1a over every data row (key and merged state) in key order,
	 * at one snapshot: equal exactly when the DCs hold the same state,
	 * since states are canonical (crdt.h) */
	uint64_t                  h    = CW_FNV_BASIS;
	const rocksdb_snapshot_t *snap = rocksdb_create_snapshot(db->base);
	rocksdb_readoptions_t    *ro   = rocksdb_readoptions_create();
	rocksdb_readoptions_set_snapshot(ro, snap);
	rocksdb_iterator_t *it =
	    rocksdb_create_iterator_cf(db->base, ro, db->cf[CF_DATA]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t      kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		const char *v = rocksdb_iter_value(it, &vl);
		uint8_t     len[8];
		cw_st_u64(len, kl);
		h = cw_fnv1a(h, len, sizeof(len));
		h = cw_fnv1a(h, k, kl);
		cw_st_u64(len, vl);
		h = cw_fnv1a(h, len, sizeof(len));
		h = cw_fnv1a(h, v, vl);
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_release_snapshot(db->base, snap);
	*out = h;
	return err ? cw_txn_rdb_err(err, "digest") : 0;
}

/* The meta key of origin o's prune floor: "pruned/" + o as u16 BE. */
static void
pruned_key(uint8_t *out, uint16_t o)
{
	memcpy(out, "pruned/", 7);
	out[7] = (uint8_t) (o >> 8);
	out[8] = (uint8_t) o;
}

/* OUT: *floor, the highest seq of origin o pruned (0: none). */
static int
pruned_get(cw_db *db, uint16_t o, uint64_t *floor)
{
	uint8_t k[9];
	char   *v;
	size_t  vl;
	int     rc;
	pruned_key(k, o);
	if ((rc = cw_txn_get(db, CF_META, k, sizeof(k), &v, &vl)) != 0)
		return rc;
	*floor = v && vl == 8 ? cw_ld_u64((uint8_t *) v) : 0;
	rocksdb_free(v);
	return 0;
}

int
cw_db_log_prune(cw_db *db, uint16_t origin, uint64_t upto)
{
	uint8_t  lo[LOG_KEY_LEN], hi[LOG_KEY_LEN], pk[9], fv[8];
	char    *err = NULL;
	uint64_t floor;
	cw_vc    S;
	int      rc;
	if (origin >= db->o.ndc)
		return CW_EINVAL;
	cw_db_state(db, &S);
	if (upto >= S.v[origin])
		upto = S.v[origin] ? S.v[origin] - 1 : 0; /* keep the last */
	if ((rc = pruned_get(db, origin, &floor)) != 0 || upto <= floor)
		return rc;
	/* the range and the new floor in one atomic write */
	log_key(lo, origin, floor + 1);
	log_key(hi, origin, upto + 1);
	pruned_key(pk, origin);
	cw_st_u64(fv, upto);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	rocksdb_writebatch_delete_range_cf(wb, db->cf[CF_LOG], (char *) lo,
	    sizeof(lo), (char *) hi, sizeof(hi));
	rocksdb_writebatch_put_cf(
	    wb, db->cf[CF_META], (char *) pk, sizeof(pk), (char *) fv, 8);
	rocksdb_write(db->base, db->wo, wb, &err);
	rocksdb_writebatch_destroy(wb);
	return err ? cw_txn_rdb_err(err, "log prune") : 0;
}
