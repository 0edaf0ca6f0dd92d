/*
 * tags.c - commit tags (cw_tx_tag): a commit may carry its session's id
 * and the request's id, so that a request resent after a crash or a lost
 * reply can be recognised as one already committed (the server's reply
 * cache forgets; the tags do not, until they are pruned).
 *
 * In CF_META: "tag/" + seq (big-endian) -> sid, rid, commit time (wall
 * ms), commit vector (ndc entries), little-endian; and "tagfloor" -> the
 * commit time of the newest tag pruned. A tag is written in its commit's
 * batch (commit.c), so a tag exists exactly when its commit does. Every
 * TAG_PRUNE_EVERY seqs the tags older than the last tags_kept seqs are
 * deleted with one range delete, and the floor raised in the same write:
 * a reader that finds no tag for a request newer than the floor knows it
 * was never committed.
 *
 * Threading: tag_mu guards tag_floor and orders prunes; it is a leaf.
 */
#include <string.h>

#include "txn_int.h"

#define TAG_KEY_LEN 12
#define TAG_PRUNE_EVERY 1024 /* seqs between two prunes */

static void
tag_key(uint8_t *out, uint64_t seq)
{
	memcpy(out, "tag/", 4);
	cw_st_be64(out + 4, seq);
}

int
cw_txn_tags_load(cw_db *db)
{
	char  *v;
	size_t vl;
	int    rc = cw_txn_meta_get(db, "tagfloor", &v, &vl);
	if (rc == 0)
		db->tag_floor = v && vl == 8 ? cw_ld_u64((uint8_t *) v) : 0;
	rocksdb_free(v);
	return rc;
}

void
cw_txn_tag_stage_locked(
    cw_tx *t, uint64_t seq, const cw_vc *vc, rocksdb_writebatch_t *wb)
{
	assert(cw_mutex_held(&t->db->commit_mu));
	assert(vc->n <= CW_MAX_DC);
	uint8_t k[TAG_KEY_LEN], v[24 + 8 * CW_MAX_DC];
	tag_key(k, seq);
	cw_st_u64(v, t->tag_sid);
	cw_st_u64(v + 8, t->tag_rid);
	cw_st_u64(v + 16, cw_now_ms());
	for (uint32_t i = 0; i < vc->n; i++)
		cw_st_u64(v + 24 + 8 * i, vc->v[i]);
	rocksdb_writebatch_put_cf(wb, t->db->cf[CF_META], (char *) k,
	    sizeof(k), (char *) v, 24 + 8 * (size_t) vc->n);
}

/* Deletes the tags of seqs below seq - tags_kept, and raises the floor to
 * the newest of their commit times, in one write. */
void
cw_txn_tags_prune(cw_db *db, uint64_t seq)
{
	if (seq % TAG_PRUNE_EVERY != 0 || db->o.tags_kept == 0 ||
	    seq <= db->o.tags_kept)
		return;
	uint8_t lo[TAG_KEY_LEN], hi[TAG_KEY_LEN], fv[8];
	tag_key(lo, 0);
	tag_key(hi, seq - db->o.tags_kept); /* the first seq kept */
	pthread_mutex_lock(&db->tag_mu);
	/* the newest tag pruned: the one just below hi */
	uint64_t            floor = db->tag_floor;
	rocksdb_iterator_t *it =
	    rocksdb_create_iterator_cf(db->base, db->ro, db->cf[CF_META]);
	uint8_t before[TAG_KEY_LEN];
	tag_key(before, seq - db->o.tags_kept - 1);
	rocksdb_iter_seek_for_prev(it, (char *) before, sizeof(before));
	if (rocksdb_iter_valid(it)) {
		size_t         kl, vl;
		const char    *ik = rocksdb_iter_key(it, &kl);
		const uint8_t *iv =
		    (const uint8_t *) rocksdb_iter_value(it, &vl);
		if (kl == TAG_KEY_LEN && memcmp(ik, "tag/", 4) == 0 &&
		    vl >= 24 && cw_ld_u64(iv + 16) > floor)
			floor = cw_ld_u64(iv + 16);
	}
	rocksdb_iter_destroy(it);
	char                 *err = NULL;
	rocksdb_writebatch_t *wb  = rocksdb_writebatch_create();
	rocksdb_writebatch_delete_range_cf(wb, db->cf[CF_META], (char *) lo,
	    sizeof(lo), (char *) hi, sizeof(hi));
	cw_st_u64(fv, floor);
	rocksdb_writebatch_put_cf(
	    wb, db->cf[CF_META], "tagfloor", 8, (char *) fv, sizeof(fv));
	rocksdb_write(db->base, db->wo, wb, &err);
	rocksdb_writebatch_destroy(wb);
	if (err == NULL)
		db->tag_floor = floor;
	else
		cw_txn_rdb_err(
		    err, "tag prune"); /* tried again 1024 seqs on */
	pthread_mutex_unlock(&db->tag_mu);
}

void
cw_tx_tag(cw_tx *t, uint64_t sid, uint64_t rid)
{
	t->tagged  = true;
	t->tag_sid = sid;
	t->tag_rid = rid;
}

int
cw_db_tags(cw_db *db, cw_tag_fn fn, void *arg, uint64_t *floor_ms)
{
	uint8_t lo[TAG_KEY_LEN];
	int     rc = 0;
	tag_key(lo, 0);
	pthread_mutex_lock(&db->tag_mu);
	*floor_ms = db->tag_floor;
	pthread_mutex_unlock(&db->tag_mu);
	rocksdb_iterator_t *it =
	    rocksdb_create_iterator_cf(db->base, db->ro, db->cf[CF_META]);
	for (rocksdb_iter_seek(it, (char *) lo, sizeof(lo));
	     rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t         kl, vl;
		const char    *k = rocksdb_iter_key(it, &kl);
		const uint8_t *v =
		    (const uint8_t *) rocksdb_iter_value(it, &vl);
		if (kl != TAG_KEY_LEN || memcmp(k, "tag/", 4) != 0)
			break;
		if (vl != 24 + 8 * (size_t) db->o.ndc) {
			rc = CW_EPROTO;
			break;
		}
		cw_vc vc;
		cw_causal_vc_init(&vc, db->o.ndc);
		for (uint32_t i = 0; i < db->o.ndc; i++)
			vc.v[i] = cw_ld_u64(v + 24 + 8 * i);
		rc = fn(arg, cw_ld_u64(v), cw_ld_u64(v + 8), cw_ld_u64(v + 16),
		    &vc);
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	if (err != NULL && rc == 0)
		rc = cw_txn_rdb_err(err, "tag scan");
	rocksdb_iter_destroy(it);
	return rc;
}
