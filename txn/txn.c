/*
 * txn.c - a DC's database on RocksDB; see txn.h for the design.
 *
 * A transaction buffers its writes as pending rows (struct prow): one per
 * data row it updates, holding that row's operands in order, with their
 * stamps (HLC time, set tags) left as placeholders until commit. A read
 * gets the row's state at the snapshot and folds the pending operands into
 * it with cw_crdt_merge, so a transaction sees its own writes through the
 * same code that merges everybody's writes. Commit stamps the operands,
 * writes them as Merge operands into the RocksDB transaction, adds the log
 * record, and commits.
 *
 * Meta column family:
 *
 *   | key           | value                       |
 *   | "format"      | "causeway-1"                |
 *   | "dc"          | u16 LE, this DC's id         |
 *   | "ndc"         | u32 LE, DCs in the deployment|
 *   | "fingerprint" | u64 LE, configuration        |
 */
#include "txn.h"

#include <errno.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crdt.h"
#include "schema.h"
#include "util.h"

/* rocks_log.cc: RocksDB's info log goes to cw_log, not a LOG file. */
int cw_rocks_log_to_stderr(rocksdb_options_t *opts, int verbose);

#define FORMAT "causeway-1"
#define LOG_KEY_LEN 10

enum { CF_DEFAULT, CF_DATA, CF_LOG, CF_META, NCF };
static const char *cf_names[NCF] = { "default", "data", "log", "meta" };

/* An entry of the local first-committer-wins table (see wl_put_locked). */
struct wlast {
	uint8_t *key; /* NULL: empty slot */
	size_t   kl;
	uint64_t seq;
};

struct cw_db {
	cw_db_opts               o;
	rocksdb_options_t       *opts;
	rocksdb_options_t       *cf_opts[NCF];
	rocksdb_mergeoperator_t *merge; /* owned by cf_opts[CF_DATA] */
	rocksdb_optimistictransactiondb_t *odb;
	rocksdb_t                         *base;
	rocksdb_column_family_handle_t    *cf[NCF];
	rocksdb_writeoptions_t *wo; /* sync off: the WAL sync is ours */
	rocksdb_readoptions_t  *ro; /* latest state, no snapshot */

	pthread_mutex_t tag_mu;    /* guards tag_floor, orders tag prunes */
	uint64_t        tag_floor; /* ms: no tag at or before it was pruned */

	pthread_mutex_t commit_mu;
	/* commit_mu guards: */
	cw_vc    S;       /* the state vector */
	cw_hlc   hlc;     /* the DC's hybrid logical clock */
	uint64_t ncommit; /* writes committed since open (commit tickets) */
	uint32_t writers; /* open transactions with pending writes */
	struct wlast *wl; /* local first-committer-wins table (see below) */
	size_t        wl_n, wl_cap, wl_prune_at;
	cw_tx        *open; /* open transactions, for the oldest snapshot */
	uint64_t      bug_applying[CW_MAX_DC]; /* split-apply test bug only */

	pthread_mutex_t want_mu;
	/* want_mu guards: */
	cw_want          wants[64]; /* escrow wants (see txn.h) */
	uint64_t         want_ms[64];
	int              nwants;
	uint64_t         next_want_id;
	_Atomic uint64_t esc_requests, esc_grants, esc_moved, esc_refused;
	struct {
		uint8_t  key[CW_MAX_KEY];
		size_t   kl;
		uint64_t spent;   /* since the last tick */
		double   rate;    /* rights spent per second, smoothed */
		uint64_t last_ms; /* last spend */
	} demand[32];             /* want_mu guards it */
	int            ndemand;
	uint64_t       tick_ms;
	pthread_cond_t applied_cv; /* signalled whenever S advances */

	pthread_mutex_t sync_mu;
	/* sync_mu guards: */
	uint64_t durable;    /* every ticket <= durable is synced */
	cw_vc    durable_S;  /* the state vector at `durable` */
	bool     syncing;    /* a leader is running the WAL sync */
	uint64_t last_batch; /* commits the last sync covered (leader) */
	uint64_t sync_us;    /* moving average of a sync's duration; only the
	                      * leader (syncing, handed over under sync_mu)
	                      * reads or writes it */
	pthread_cond_t sync_cv;

	/* Lock order: commit_mu, then dsnap_mu; sync_mu, then dsnap_mu.
	 * dsnap_mu is a leaf. */
	pthread_mutex_t dsnap_mu;
	/* dsnap_mu guards: */
	struct dsnap *dsnap; /* the latest durable state's snapshot, or NULL */
	struct dsnap *live;  /* every dsnap still referenced, oldest first */
};

/* A RocksDB snapshot of a durable state, shared by the transactions that
 * begin on it (see cw_tx_begin). Taken by the sync leader under commit_mu
 * together with the state vector and ticket it names; published as
 * db->dsnap once the sync that makes it durable returns. dsnap_mu guards
 * refs (one is db->dsnap's own while it is the current one). */
struct dsnap {
	const rocksdb_snapshot_t *snap;
	cw_vc                     vc;
	uint64_t                  ticket;
	uint32_t                  refs;
	struct dsnap             *prev, *next; /* db->live */
};

/* A pending row of a transaction. */
struct prow {
	uint8_t *key;
	size_t   klen;
	int      type;  /* CW_T_*: the row's type (CW_T_TYPE: a type row) */
	int      otype; /* type rows: the object's type as t sees it */
	cw_buf   ops;   /* operands, each preceded by its u32 length */
	uint32_t nops;
	bool     tracked;   /* reg/field: conflict-checked */
	bool     bc_spends; /* bcounter with a decrement or transfer */
};

enum { TX_ACTIVE, TX_DONE };

struct cw_tx {
	cw_db                    *db;
	cw_tx                    *prev, *next; /* db->open, under commit_mu */
	bool                      listed;      /* on db->open */
	bool                      unchecked;   /* test bug grant-unheld */
	const rocksdb_snapshot_t *snap; /* the txn's own, or NULL with ds */
	struct dsnap             *ds;   /* the durable snapshot it began on */
	rocksdb_readoptions_t    *ro;   /* carries the snapshot: every read */
	cw_vc                     snap_vc;
	uint64_t                  snap_ticket; /* commits in the snapshot */
	bool observed; /* the snapshot was shown to the caller (and is
	                * durable: observe() waited for it) */
	int          state;
	struct prow *rows;
	size_t       nrows, rcap;
	uint32_t    *index; /* open addressing: row number + 1, 0 = empty */
	size_t       icap;
	size_t       nops, bytes; /* operands pending, and their bytes */
	size_t       nmarks;  /* of them, type-row operands (not the user's) */
	bool         writer;  /* counted in db->writers */
	uint32_t     set_idx; /* next idx for a set tag */
	bool         tagged;  /* cw_tx_tag: sid, rid go with the commit */
	uint64_t     tag_sid, tag_rid;
};

/* ---- errors ---- */

/* Maps a RocksDB error string to a CW_E code (the one place that does),
 * logs it and frees it. "Resource busy" is the optimistic conflict. */
static int
rdb_err(char *err, const char *what)
{
	int rc = CW_EIO;
	if (strncmp(err, "Resource busy", 13) == 0 ||
	    strncmp(err, "Operation aborted: Try again", 28) == 0) {
		rc = CW_ECONFLICT;
		cw_log(CW_LOG_DEBUG, "txn", "%s: %s", what, err);
	} else {
		cw_log(CW_LOG_ERROR, "txn", "%s: %s", what, err);
	}
	rocksdb_free(err);
	return rc;
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

/* ---- keys ---- */

static void
log_key(uint8_t *out, uint16_t origin, uint64_t seq)
{
	out[0] = (uint8_t) (origin >> 8);
	out[1] = (uint8_t) origin;
	cw_st_be64(out + 2, seq);
}

enum { ROW_TYPE, ROW_VALUE, ROW_FIELD };

/* Builds the key of row `kind` of object k into b (reset first); field is
 * the map field of a ROW_FIELD. */
static int
row_key(cw_buf *b, const void *k, size_t kl, int kind, const char *field)
{
	int rc;
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

/* ---- open and close ---- */

void
cw_db_opts_default(cw_db_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->dc            = 0;
	o->ndc           = 1;
	o->max_value     = CW_DEFAULT_MAX_VALUE;
	o->max_txn_ops   = 100000;
	o->max_txn_bytes = 64u << 20;
	o->sync          = true;
	o->tags_kept     = 131072;
}

static int
meta_get(cw_db *db, const char *name, char **v, size_t *vl)
{
	char *err = NULL;
	*v        = rocksdb_get_cf(
	           db->base, db->ro, db->cf[CF_META], name, strlen(name), vl, &err);
	if (err != NULL)
		return rdb_err(err, "read meta");
	return 0;
}

static bool
cf_empty(cw_db *db, int cf)
{
	rocksdb_iterator_t *it =
	    rocksdb_create_iterator_cf(db->base, db->ro, db->cf[cf]);
	rocksdb_iter_seek_to_first(it);
	bool empty = !rocksdb_iter_valid(it);
	rocksdb_iter_destroy(it);
	return empty;
}

/* Checks the meta of an existing database against the options, or writes
 * it for a new one. */
static int
check_meta(cw_db *db)
{
	char   *v = NULL;
	size_t  vl;
	int     rc;
	uint8_t b[8];
	if ((rc = meta_get(db, "format", &v, &vl)) != 0)
		return rc;
	if (v == NULL) {
		if (!cf_empty(db, CF_DEFAULT) || !cf_empty(db, CF_DATA) ||
		    !cf_empty(db, CF_LOG)) {
			cw_log(CW_LOG_ERROR, "txn",
			    "data directory has data but no Causeway format "
			    "marker");
			return CW_EFORMAT;
		}
		rocksdb_writebatch_t *wb  = rocksdb_writebatch_create();
		char                 *err = NULL;
		rocksdb_writebatch_put_cf(
		    wb, db->cf[CF_META], "format", 6, FORMAT, strlen(FORMAT));
		cw_st_u16(b, db->o.dc);
		rocksdb_writebatch_put_cf(
		    wb, db->cf[CF_META], "dc", 2, (char *) b, 2);
		cw_st_u64(b, db->o.ndc);
		rocksdb_writebatch_put_cf(
		    wb, db->cf[CF_META], "ndc", 3, (char *) b, 4);
		cw_st_u64(b, db->o.fingerprint);
		rocksdb_writebatch_put_cf(
		    wb, db->cf[CF_META], "fingerprint", 11, (char *) b, 8);
		rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
		rocksdb_writeoptions_set_sync(wo, 1);
		rocksdb_write(db->base, wo, wb, &err);
		rocksdb_writeoptions_destroy(wo);
		rocksdb_writebatch_destroy(wb);
		return err ? rdb_err(err, "write meta") : 0;
	}
	bool ok = vl == strlen(FORMAT) && memcmp(v, FORMAT, vl) == 0;
	rocksdb_free(v);
	if (!ok) {
		cw_log(CW_LOG_ERROR, "txn", "unknown data format (want %s)",
		    FORMAT);
		return CW_EFORMAT;
	}
	if ((rc = meta_get(db, "dc", &v, &vl)) != 0)
		return rc;
	uint16_t dc = (v && vl == 2)
	    ? (uint16_t) ((uint8_t) v[0] | ((uint8_t) v[1] << 8))
	    : 0xffff;
	rocksdb_free(v);
	if (dc != db->o.dc) {
		cw_log(CW_LOG_ERROR, "txn",
		    "data directory belongs to DC %u, not DC %u", dc,
		    db->o.dc);
		return CW_EFORMAT;
	}
	if ((rc = meta_get(db, "ndc", &v, &vl)) != 0)
		return rc;
	uint32_t ndc = (v && vl == 4)
	    ? (uint32_t) cw_ld_u64((uint8_t[8]) { (uint8_t) v[0],
	          (uint8_t) v[1], (uint8_t) v[2], (uint8_t) v[3] })
	    : 0;
	rocksdb_free(v);
	if (ndc != db->o.ndc) {
		cw_log(CW_LOG_ERROR, "txn",
		    "data directory was made for %u DCs, not %u", ndc,
		    db->o.ndc);
		return CW_EFORMAT;
	}
	if ((rc = meta_get(db, "fingerprint", &v, &vl)) != 0)
		return rc;
	uint64_t fp = (v && vl == 8) ? cw_ld_u64((uint8_t *) v) : 0;
	rocksdb_free(v);
	if (db->o.fingerprint != 0 && fp != db->o.fingerprint) {
		cw_log(CW_LOG_ERROR, "txn",
		    "data directory belongs to another configuration");
		return CW_EFORMAT;
	}
	return 0;
}

/* ---- commit tags (cw_tx_tag) ----
 *
 * In CF_META: "tag/" + seq (big-endian) -> sid, rid, commit time (wall
 * ms), commit vector (ndc entries), little-endian; and "tagfloor" -> the
 * commit time of the newest tag pruned. */

#define TAG_KEY_LEN 12
#define TAG_PRUNE_EVERY 1024 /* seqs between two prunes */

static void
tag_key(uint8_t *out, uint64_t seq)
{
	memcpy(out, "tag/", 4);
	cw_st_be64(out + 4, seq);
}

static int
tag_floor_load(cw_db *db)
{
	char  *v;
	size_t vl;
	int    rc = meta_get(db, "tagfloor", &v, &vl);
	if (rc == 0)
		db->tag_floor = v && vl == 8 ? cw_ld_u64((uint8_t *) v) : 0;
	rocksdb_free(v);
	return rc;
}

/* Puts t's tag for its commit as seq (vector vc) into wb. */
static void
tag_stage(cw_tx *t, uint64_t seq, const cw_vc *vc, rocksdb_writebatch_t *wb)
{
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
static void
tags_prune(cw_db *db, uint64_t seq)
{
	if (db->o.tags_kept == 0 || seq <= db->o.tags_kept)
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
		rdb_err(err, "tag prune"); /* tried again 1024 seqs on */
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
		rc = rdb_err(err, "tag scan");
	rocksdb_iter_destroy(it);
	return rc;
}

/* Rebuilds S and the HLC from the log: S[k] is the seq of origin k's last
 * record. */
static int
recover(cw_db *db)
{
	uint8_t             k[LOG_KEY_LEN];
	int                 rc = 0;
	rocksdb_iterator_t *it =
	    rocksdb_create_iterator_cf(db->base, db->ro, db->cf[CF_LOG]);
	cw_causal_vc_init(&db->S, db->o.ndc);
	db->hlc.last = 0;
	for (uint32_t o = 0; o < db->o.ndc; o++) {
		log_key(k, (uint16_t) o, UINT64_MAX);
		rocksdb_iter_seek_for_prev(it, (char *) k, sizeof(k));
		if (!rocksdb_iter_valid(it))
			continue;
		size_t      kl, vl;
		const char *key = rocksdb_iter_key(it, &kl);
		if (kl != LOG_KEY_LEN ||
		    (((uint8_t) key[0] << 8) | (uint8_t) key[1]) != (int) o)
			continue;
		db->S.v[o]      = cw_ld_be64((const uint8_t *) key + 2);
		const char *val = rocksdb_iter_value(it, &vl);
		cw_rec      rec;
		if (cw_schema_rec_decode(val, vl, &rec) != 0) {
			cw_log(CW_LOG_ERROR, "txn",
			    "log record (%u, %llu) is corrupt", o,
			    (unsigned long long) db->S.v[o]);
			rc = CW_EPROTO;
			break;
		}
		cw_causal_hlc_observe(&db->hlc, rec.hlc);
		cw_schema_rec_fini(&rec);
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	if (err != NULL)
		rc = rdb_err(err, "recover");
	rocksdb_iter_destroy(it);
	return rc;
}

int
cw_db_open(cw_db **out, const char *dir, const cw_db_opts *o)
{
	cw_db *db;
	char  *err = NULL;
	int    rc;
	*out = NULL;
	if (dir == NULL || o == NULL || o->ndc < 1 || o->ndc > CW_MAX_DC ||
	    o->dc >= o->ndc || o->max_value < 1 || o->max_txn_ops < 1)
		return CW_EINVAL;
	if ((db = cw_calloc(1, sizeof(*db))) == NULL)
		return CW_ENOMEM;
	db->o = *o;
	pthread_mutex_init(&db->commit_mu, NULL);
	pthread_mutex_init(&db->tag_mu, NULL);
	pthread_mutex_init(&db->sync_mu, NULL);
	pthread_mutex_init(&db->dsnap_mu, NULL);
	pthread_mutex_init(&db->want_mu, NULL);
	cw_cond_init_mono(&db->applied_cv);
	cw_cond_init_mono(&db->sync_cv);

	db->opts = rocksdb_options_create();
	if ((rc = cw_rocks_log_to_stderr(db->opts,
	         getenv("CW_LOG") && !strcmp(getenv("CW_LOG"), "debug"))) != 0)
		goto out_close;
	rocksdb_options_set_create_if_missing(db->opts, 1);
	rocksdb_options_set_create_missing_column_families(db->opts, 1);
	for (int i = 0; i < NCF; i++)
		db->cf_opts[i] = rocksdb_options_create();
	db->merge = rocksdb_mergeoperator_create(NULL, merge_destroy,
	    merge_full, merge_partial, merge_delete, merge_name);
	rocksdb_options_set_merge_operator(db->cf_opts[CF_DATA], db->merge);
	db->wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(db->wo, 0);
	/* The test bugs about durability need a kill -9 to lose what was
	 * not synced, as a power cut would: keep the WAL in the process
	 * until it is flushed. */
	if (cw_test_bug("ack-before-sync") ||
	    cw_test_bug("ship-before-durable"))
		rocksdb_options_set_manual_wal_flush(db->opts, 1);
	db->ro = rocksdb_readoptions_create();

	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		cw_log(CW_LOG_ERROR, "txn", "cannot create %s: %s", dir,
		    strerror(errno));
		rc = CW_EIO;
		goto out_close;
	}
	db->odb = rocksdb_optimistictransactiondb_open_column_families(
	    db->opts, dir, NCF, cf_names,
	    (const rocksdb_options_t *const *) db->cf_opts, db->cf, &err);
	if (err != NULL) {
		rc      = rdb_err(err, "open");
		db->odb = NULL;
		goto out_close;
	}
	db->base = rocksdb_optimistictransactiondb_get_base_db(db->odb);
	if ((rc = check_meta(db)) != 0)
		goto out_close;
	if ((rc = recover(db)) != 0 || (rc = tag_floor_load(db)) != 0)
		goto out_close;
	db->durable_S = db->S; /* what was recovered is on disk */
	if (cw_causal_hlc_ms(db->hlc.last) > cw_now_ms() + 1000)
		cw_log(CW_LOG_WARN, "txn",
		    "stored HLC is ahead of the wall clock by %llu ms",
		    (unsigned long long) (cw_causal_hlc_ms(db->hlc.last) -
		        cw_now_ms()));
	*out = db;
	return 0;
out_close:
	cw_db_close(db);
	return rc;
}

void
cw_db_close(cw_db *db)
{
	if (db == NULL)
		return;
	if (db->odb != NULL) {
		if (db->dsnap != NULL) /* every transaction has ended */
			rocksdb_release_snapshot(db->base, db->dsnap->snap);
		for (int i = 0; i < NCF; i++)
			if (db->cf[i] != NULL)
				rocksdb_column_family_handle_destroy(
				    db->cf[i]);
		rocksdb_optimistictransactiondb_close_base_db(db->base);
		rocksdb_optimistictransactiondb_close(db->odb);
	}
	cw_free(db->dsnap);
	rocksdb_readoptions_destroy(db->ro);
	rocksdb_writeoptions_destroy(db->wo);
	/* The CF options own the merge operator and destroy it. */
	for (int i = 0; i < NCF; i++)
		rocksdb_options_destroy(db->cf_opts[i]);
	rocksdb_options_destroy(db->opts);
	for (size_t i = 0; i < db->wl_cap; i++)
		cw_free(db->wl[i].key);
	cw_free(db->wl);
	pthread_cond_destroy(&db->applied_cv);
	pthread_cond_destroy(&db->sync_cv);
	pthread_mutex_destroy(&db->commit_mu);
	pthread_mutex_destroy(&db->tag_mu);
	pthread_mutex_destroy(&db->sync_mu);
	pthread_mutex_destroy(&db->dsnap_mu);
	pthread_mutex_destroy(&db->want_mu);
	cw_free(db);
}

uint16_t
cw_db_dc(const cw_db *db)
{
	return db->o.dc;
}

uint32_t
cw_db_ndc(const cw_db *db)
{
	return db->o.ndc;
}

void
cw_db_state(cw_db *db, cw_vc *out)
{
	pthread_mutex_lock(&db->commit_mu);
	*out = db->S;
	pthread_mutex_unlock(&db->commit_mu);
}

/* Microseconds of the monotonic clock. */
static uint64_t
mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Waits for S to dominate need. Caller holds commit_mu. */
static int
wait_for_locked(cw_db *db, const cw_vc *need, uint64_t wait_ms)
{
	struct timespec dl;
	if (need == NULL || cw_causal_vc_dominates(&db->S, need))
		return 0;
	cw_deadline_after(&dl, wait_ms);
	while (!cw_causal_vc_dominates(&db->S, need)) {
		if (pthread_cond_timedwait(
		        &db->applied_cv, &db->commit_mu, &dl) == ETIMEDOUT)
			return cw_causal_vc_dominates(&db->S, need)
			    ? 0
			    : CW_EUNAVAIL;
	}
	return 0;
}

int
cw_db_wait_for(cw_db *db, const cw_vc *need, uint64_t wait_ms)
{
	pthread_mutex_lock(&db->commit_mu);
	int rc = wait_for_locked(db, need, wait_ms);
	pthread_mutex_unlock(&db->commit_mu);
	return rc;
}

/* Drops a reference to d (NULL: none). Caller holds dsnap_mu. */
static void
dsnap_unref_locked(cw_db *db, struct dsnap *d)
{
	if (d != NULL && --d->refs == 0) {
		if (d->prev != NULL)
			d->prev->next = d->next;
		else
			db->live = d->next;
		if (d->next != NULL)
			d->next->prev = d->prev;
		rocksdb_release_snapshot(db->base, d->snap);
		cw_free(d);
	}
}

/* The sync leader's snapshot of the state vc at ticket, taken under
 * commit_mu. It is live at once (its one reference is the leader's), so
 * that no commit prunes the conflict table above it before transactions
 * can begin on it. Returns NULL if out of memory (then there is none,
 * and transactions take their own snapshot as before). */
static struct dsnap *
dsnap_take_locked(cw_db *db, const cw_vc *vc, uint64_t ticket)
{
	struct dsnap *d = cw_calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->snap   = rocksdb_create_snapshot(db->base);
	d->vc     = *vc;
	d->ticket = ticket;
	d->refs   = 1;
	pthread_mutex_lock(&db->dsnap_mu);
	/* taken in commit order: the newest is the last of the live ones */
	struct dsnap **p = &db->live, *prev = NULL;
	while (*p != NULL) {
		prev = *p;
		p    = &(*p)->next;
	}
	d->prev = prev;
	*p      = d;
	pthread_mutex_unlock(&db->dsnap_mu);
	return d;
}

/* Makes d (NULL: none) the snapshot new transactions begin on, now that
 * it is durable; the leader's reference becomes db->dsnap's. */
static void
dsnap_publish(cw_db *db, struct dsnap *d)
{
	pthread_mutex_lock(&db->dsnap_mu);
	dsnap_unref_locked(db, db->dsnap);
	db->dsnap = d;
	pthread_mutex_unlock(&db->dsnap_mu);
}

/* Drops the leader's reference to d, whose sync made nothing new
 * durable or failed. */
static void
dsnap_drop(cw_db *db, struct dsnap *d)
{
	pthread_mutex_lock(&db->dsnap_mu);
	dsnap_unref_locked(db, d);
	pthread_mutex_unlock(&db->dsnap_mu);
}

/* Returns once commit ticket `ticket` is durable. The first waiter that
 * finds no sync running becomes the leader: it syncs the WAL for every
 * commit made so far and wakes the rest (group commit). */
static int
wait_durable(cw_db *db, uint64_t ticket)
{
	int rc = 0;
	if (!db->o.sync)
		return 0;
	pthread_mutex_lock(&db->sync_mu);
	while (db->durable < ticket) {
		if (db->syncing) {
			pthread_cond_wait(&db->sync_cv, &db->sync_mu);
			continue;
		}
		db->syncing           = true;
		uint64_t pending_from = db->durable;
		pthread_mutex_unlock(&db->sync_mu);
		pthread_mutex_lock(&db->commit_mu);
		/* Commit delay: wait, for at most half a sync, while
		 * transactions with pending writes are open or fewer commits
		 * are pending than the last sync covered, so that one sync
		 * covers them too. A lone committer never waits. */
		if (db->writers > 0 ||
		    db->ncommit - pending_from < db->last_batch) {
			struct timespec dl;
			clock_gettime(CLOCK_MONOTONIC, &dl);
			dl.tv_nsec += (long) (db->sync_us / 2) * 1000;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			while (
			    (db->writers > 0 ||
			        db->ncommit - pending_from < db->last_batch) &&
			    pthread_cond_timedwait(&db->applied_cv,
			        &db->commit_mu, &dl) != ETIMEDOUT)
				;
		}
		uint64_t target    = db->ncommit;
		cw_vc    synced    = db->S; /* what this sync makes durable */
		struct dsnap *snap = dsnap_take_locked(db, &synced, target);
		pthread_mutex_unlock(&db->commit_mu);
		uint64_t t0  = mono_us();
		char    *err = NULL;
		if (cw_test_bug("ship-before-durable"))
			usleep(20000); /* a slow disk: the window is wide */
		rocksdb_flush_wal(db->base, 1, &err);
		pthread_mutex_lock(&db->sync_mu);
		db->sync_us = (db->sync_us * 7 + (mono_us() - t0)) / 8;
		db->syncing = false;
		pthread_cond_broadcast(&db->sync_cv);
		if (err != NULL) {
			rdb_err(err, "sync WAL");
			dsnap_drop(db, snap);
			rc = CW_EIO;
			break;
		}
		if (target > db->durable) {
			db->last_batch = target - db->durable;
			db->durable    = target;
			db->durable_S  = synced;
			dsnap_publish(db, snap);
		} else {
			dsnap_drop(db, snap);
		}
	}
	pthread_mutex_unlock(&db->sync_mu);
	return rc;
}

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
static uint64_t hash_bytes(const uint8_t *p, size_t n);

static struct wlast *
wl_slot(struct wlast *tab, size_t cap, const uint8_t *k, size_t kl)
{
	size_t i = hash_bytes(k, kl) & (cap - 1);
	while (tab[i].key != NULL &&
	    (tab[i].kl != kl || memcmp(tab[i].key, k, kl) != 0))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static uint64_t
wl_get_locked(cw_db *db, const uint8_t *k, size_t kl)
{
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
	if (db->wl_n + 1 > db->wl_cap / 2 || db->wl_n >= db->wl_prune_at) {
		/* the oldest open snapshot; with none, everything is seen.
		 * Transactions on a durable snapshot are not listed: the
		 * oldest snapshot still referenced stands for them. */
		uint64_t floor = db->S.v[db->o.dc];
		for (cw_tx *t = db->open; t != NULL; t = t->next)
			if (t->snap_vc.v[db->o.dc] < floor)
				floor = t->snap_vc.v[db->o.dc];
		pthread_mutex_lock(&db->dsnap_mu);
		if (db->live != NULL && db->live->vc.v[db->o.dc] < floor)
			floor = db->live->vc.v[db->o.dc];
		pthread_mutex_unlock(&db->dsnap_mu);
		int rc = wl_rebuild_locked(db, db->wl_n + 1, floor);
		if (rc != 0)
			return rc;
	}
	struct wlast *e = wl_slot(db->wl, db->wl_cap, k, kl);
	if (e->key == NULL) {
		if ((e->key = cw_memdup(k, kl)) == NULL)
			return CW_ENOMEM;
		e->kl = kl;
		db->wl_n++;
	}
	e->seq = seq;
	return 0;
}

/* ---- transactions: lifecycle ---- */

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
	pthread_mutex_lock(&db->dsnap_mu);
	if (db->dsnap != NULL &&
	    (need == NULL || cw_causal_vc_dominates(&db->dsnap->vc, need))) {
		t->ds = db->dsnap;
		t->ds->refs++;
	}
	pthread_mutex_unlock(&db->dsnap_mu);
	if (t->ds == NULL)
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
	pthread_mutex_lock(&db->commit_mu);
	if (!cw_test_bug("skip-session-wait") &&
	    (rc = wait_for_locked(db, need, wait_ms)) != 0) {
		pthread_mutex_unlock(&db->commit_mu);
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
	pthread_mutex_unlock(&db->commit_mu);
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
 * an answer such as CW_ETYPE that depends on it): waits until every commit
 * in the snapshot is durable, so no caller sees a state a crash could take
 * back. A transaction that only writes never waits here: its own commit is
 * durable only once everything before it in the WAL is. */
static int
observe(cw_tx *t)
{
	if (t->observed)
		return 0;
	if (cw_test_bug("ack-before-sync")) {
		t->observed = true; /* test bug: no wait for the sync */
		return 0;
	}
	int rc = wait_durable(t->db, t->snap_ticket);
	if (rc == 0)
		t->observed = true;
	return rc;
}

/* Takes t out of db->writers. Caller holds commit_mu. */
static void
unwrite_locked(cw_tx *t)
{
	if (t->writer) {
		t->db->writers--;
		t->writer = false;
		pthread_cond_broadcast(&t->db->applied_cv);
	}
}

static void
tx_release(cw_tx *t)
{
	if (t->writer || t->listed) {
		cw_db *db = t->db;
		pthread_mutex_lock(&db->commit_mu);
		unwrite_locked(t);
		if (t->listed) {
			if (t->prev != NULL)
				t->prev->next = t->next;
			else
				db->open = t->next;
			if (t->next != NULL)
				t->next->prev = t->prev;
			t->listed = false;
		}
		pthread_mutex_unlock(&db->commit_mu);
	}
	if (t->snap != NULL) {
		rocksdb_release_snapshot(t->db->base, t->snap);
		t->snap = NULL;
	}
	if (t->ds != NULL) {
		pthread_mutex_lock(&t->db->dsnap_mu);
		dsnap_unref_locked(t->db, t->ds);
		pthread_mutex_unlock(&t->db->dsnap_mu);
		t->ds = NULL;
	}
	t->state = TX_DONE;
}

void
cw_tx_free(cw_tx *t)
{
	if (t == NULL)
		return;
	tx_release(t);
	for (size_t i = 0; i < t->nrows; i++) {
		cw_free(t->rows[i].key);
		cw_buf_fini(&t->rows[i].ops);
	}
	cw_free(t->rows);
	cw_free(t->index);
	rocksdb_readoptions_destroy(t->ro);
	cw_free(t);
}

/* ---- pending rows ---- */

static uint64_t
hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static struct prow *
row_find(cw_tx *t, const uint8_t *k, size_t kl)
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
static int
row_get(cw_tx *t, const uint8_t *k, size_t kl, int type, struct prow **out)
{
	struct prow *r = row_find(t, k, kl);
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
		t->index[i] = (uint32_t) t->nrows;
	}
	*out = r;
	return 0;
}

/* Iterates the operands of a row: *off is the cursor, starting at 0. */
static bool
row_next_op(const struct prow *r, size_t *off, uint8_t **op, size_t *len)
{
	if (*off >= r->ops.len)
		return false;
	uint32_t l = (uint32_t) r->ops.p[*off] |
	    ((uint32_t) r->ops.p[*off + 1] << 8) |
	    ((uint32_t) r->ops.p[*off + 2] << 16) |
	    ((uint32_t) r->ops.p[*off + 3] << 24);
	*op  = r->ops.p + *off + 4;
	*len = l;
	*off += 4 + l;
	return true;
}

/* Appends the operand in `op` to row r, or replaces r's operands with it
 * (a register write supersedes the earlier ones of its transaction).
 * Returns 0, CW_ETOOBIG (the transaction's limits) or CW_ENOMEM; on error
 * r is unchanged. */
static int
row_push(cw_tx *t, struct prow *r, const cw_buf *op, bool replace)
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
		pthread_mutex_lock(&t->db->commit_mu);
		t->db->writers++;
		pthread_mutex_unlock(&t->db->commit_mu);
		t->writer = true;
	}
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

/* ---- reads ---- */

/* The state of row k at the snapshot. OUT: *v (rocksdb_free) and *vl;
 * NULL if the row does not exist. */
static int
read_snapshot(cw_tx *t, const uint8_t *k, size_t kl, char **v, size_t *vl)
{
	char *err = NULL;
	*v        = rocksdb_get_cf(t->db->base, t->ro, t->db->cf[CF_DATA],
	           (const char *) k, kl, vl, &err);
	if (err != NULL)
		return rdb_err(err, "read");
	return 0;
}

/* The state of row k as t sees it: the snapshot plus t's own pending
 * operands. OUT: state in *out (reset first); *exists false if there is
 * neither. */
static int
read_row(cw_tx *t, const uint8_t *k, size_t kl, cw_buf *out, bool *exists)
{
	char  *v;
	size_t vl;
	int    rc;
	out->len = 0;
	*exists  = false;
	if ((rc = read_snapshot(t, k, kl, &v, &vl)) != 0)
		return rc;
	struct prow *r = row_find(t, k, kl);
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
	while (row_next_op(r, &off, &op, &ol)) {
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

/* Common argument checks of every operation. */
static int
check_args(cw_tx *t, const void *k, size_t kl)
{
	if (t == NULL || k == NULL || kl == 0)
		return CW_EINVAL;
	if (t->state != TX_ACTIVE)
		return CW_ESTATE;
	if (kl > CW_MAX_KEY)
		return CW_ETOOBIG;
	return 0;
}

/* The type of object k as t sees it. A lookup leaves a pending type row
 * (with no operands) behind, so each key is read once per transaction.
 * OUT: *out, the pending type row. */
static int
obj_type(cw_tx *t, const void *k, size_t kl, struct prow **out)
{
	cw_buf key = { 0 };
	char  *v   = NULL;
	size_t vl;
	int    rc, type;
	if ((rc = check_args(t, k, kl)) != 0)
		return rc;
	if ((rc = row_key(&key, k, kl, ROW_TYPE, NULL)) != 0)
		goto out;
	if ((*out = row_find(t, key.p, key.len)) != NULL)
		goto out;
	if ((rc = read_snapshot(t, key.p, key.len, &v, &vl)) != 0)
		goto out;
	if ((rc = cw_crdt_type_read(v, vl, &type)) != 0)
		goto out;
	if ((rc = row_get(t, key.p, key.len, CW_T_TYPE, out)) != 0)
		goto out;
	(*out)->otype = type;
out:
	rocksdb_free(v);
	cw_buf_fini(&key);
	return rc;
}

/* Checks that object k is of `type` for a write, creating it (a type row
 * operand) if it does not exist. Returns 0, CW_ETYPE or an error. */
static int
need_type(cw_tx *t, const void *k, size_t kl, int type)
{
	struct prow *r;
	cw_buf       op = { 0 };
	int          rc;
	if ((rc = obj_type(t, k, kl, &r)) != 0)
		return rc;
	if (r->otype == type)
		return 0;
	if (r->otype != CW_T_NONE)
		return (rc = observe(t)) != 0 ? rc : CW_ETYPE;
	if ((rc = cw_crdt_op_type(&op, type)) == 0 &&
	    (rc = row_push(t, r, &op, true)) == 0)
		r->otype = type;
	cw_buf_fini(&op);
	return rc;
}

/* Reads the value row of object k, which must be of `type` (or not
 * exist). OUT: the state in *st, *exists; the value row key in *key. For
 * a map only the type is checked: *exists says whether it exists. */
static int
read_object(cw_tx *t, const void *k, size_t kl, int type, cw_buf *key,
    cw_buf *st, bool *exists)
{
	struct prow *r;
	int          rc;
	*exists = false;
	if ((rc = check_args(t, k, kl)) != 0 || (rc = observe(t)) != 0)
		return rc;
	if ((rc = obj_type(t, k, kl, &r)) != 0)
		return rc;
	if (r->otype == CW_T_NONE)
		return 0;
	if (r->otype != type)
		return CW_ETYPE;
	if (type == CW_T_MAP) {
		/* a map has no value row: its fields are read one by one */
		*exists = true;
		return 0;
	}
	if ((rc = row_key(key, k, kl, ROW_VALUE, NULL)) != 0)
		return rc;
	return read_row(t, key->p, key->len, st, exists);
}

/* The write side of an operation on object k of `type`: checks the type
 * (creating the object if new) and limits, and builds the value row key
 * into *key. */
static int
write_object(
    cw_tx *t, const void *k, size_t kl, int type, size_t vl, cw_buf *key)
{
	int rc;
	if ((rc = check_args(t, k, kl)) != 0)
		return rc;
	if (vl > t->db->o.max_value)
		return CW_ETOOBIG;
	if ((rc = need_type(t, k, kl, type)) != 0)
		return rc;
	return row_key(key, k, kl, ROW_VALUE, NULL);
}

static int
copy_out(const uint8_t *p, size_t n, bool present, void **v, size_t *vl)
{
	*v  = NULL;
	*vl = 0;
	if (!present)
		return 0;
	if ((*v = cw_memdup(p, n)) == NULL)
		return CW_ENOMEM;
	*vl = n;
	return 0;
}

/* ---- registers (and map fields, which are registers) ---- */

/* Pushes a last-writer-wins operand (register or map field) for row key,
 * superseding the transaction's earlier write of that row. */
static int
push_lww(
    cw_tx *t, const cw_buf *key, int type, int kind, const void *v, size_t vl)
{
	cw_buf       op = { 0 };
	struct prow *r;
	int          rc;
	if ((rc = cw_crdt_op_reg(
	         &op, type, kind, UINT64_MAX, t->db->o.dc, v, vl)) == 0 &&
	    (rc = row_get(t, key->p, key->len, type, &r)) == 0)
		rc = row_push(t, r, &op, true);
	cw_buf_fini(&op);
	return rc;
}

/* Gives the caller the value of a register or map-field state (if
 * exists). OUT: *v (free with free()) and *vl; NULL, 0 if absent. */
static int
lww_value(const cw_buf *st, bool exists, void **v, size_t *vl)
{
	bool           present = false;
	const uint8_t *p       = NULL;
	size_t         n       = 0;
	int            rc;
	if (exists &&
	    (rc = cw_crdt_reg_read(
	         st->p, st->len, &present, &p, &n, NULL, NULL)) != 0)
		return rc;
	return copy_out(p, n, present, v, vl);
}

int
cw_tx_reg_put(cw_tx *t, const void *k, size_t kl, const void *v, size_t vl)
{
	cw_buf key = { 0 };
	int    rc;
	if (v == NULL && vl > 0)
		return CW_EINVAL;
	if ((rc = write_object(t, k, kl, CW_T_REG, vl, &key)) == 0)
		rc = push_lww(t, &key, CW_T_REG, CW_OP_PUT, v, vl);
	cw_buf_fini(&key);
	return rc;
}

int
cw_tx_reg_get(cw_tx *t, const void *k, size_t kl, void **v, size_t *vl)
{
	cw_buf key = { 0 }, st = { 0 };
	bool   exists;
	int    rc;
	if (v == NULL || vl == NULL)
		return CW_EINVAL;
	*v  = NULL;
	*vl = 0;
	if ((rc = read_object(t, k, kl, CW_T_REG, &key, &st, &exists)) == 0)
		rc = lww_value(&st, exists, v, vl);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

/* ---- counters ---- */

int
cw_tx_counter_add(cw_tx *t, const void *k, size_t kl, int64_t delta)
{
	cw_buf       key = { 0 }, op = { 0 };
	struct prow *r;
	int          rc;
	if ((rc = write_object(t, k, kl, CW_T_COUNTER, 0, &key)) != 0)
		goto out;
	if ((rc = row_get(t, key.p, key.len, CW_T_COUNTER, &r)) != 0)
		goto out;
	if (r->nops == 1) {
		/* fold into the one pending add: | len u32 | T | K | delta |
		 */
		uint8_t *d = r->ops.p + 6;
		cw_st_u64(d, cw_ld_u64(d) + (uint64_t) delta);
		goto out;
	}
	if ((rc = cw_crdt_op_counter(&op, delta)) != 0)
		goto out;
	rc = row_push(t, r, &op, false);
out:
	cw_buf_fini(&key);
	cw_buf_fini(&op);
	return rc;
}

int
cw_tx_counter_get(cw_tx *t, const void *k, size_t kl, int64_t *out)
{
	cw_buf key = { 0 }, st = { 0 };
	bool   exists;
	int    rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = 0;
	if ((rc = read_object(t, k, kl, CW_T_COUNTER, &key, &st, &exists)) ==
	        0 &&
	    exists)
		rc = cw_crdt_counter_read(st.p, st.len, out);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

/* ---- bounded counters ---- */

static int
bc_read(cw_tx *t, const void *k, size_t kl, int64_t *value, int64_t *rights)
{
	cw_buf key = { 0 }, st = { 0 };
	bool   exists;
	int    rc;
	*value = *rights = 0;
	if ((rc = read_object(t, k, kl, CW_T_BCOUNTER, &key, &st, &exists)) ==
	        0 &&
	    exists) {
		if ((rc = cw_crdt_bcounter_value(st.p, st.len, value)) == 0)
			rc = cw_crdt_bcounter_rights(
			    st.p, st.len, t->db->o.dc, rights);
	}
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

static int
bc_push(cw_tx *t, const void *k, size_t kl, int kind, uint16_t b, uint64_t n)
{
	cw_buf       key = { 0 }, op = { 0 };
	struct prow *r;
	int          rc;
	if ((rc = write_object(t, k, kl, CW_T_BCOUNTER, 0, &key)) != 0)
		goto out;
	if ((rc = cw_crdt_op_bcounter(&op, kind, t->db->o.dc, b, n)) != 0 ||
	    (rc = row_get(t, key.p, key.len, CW_T_BCOUNTER, &r)) != 0)
		goto out;
	if ((rc = row_push(t, r, &op, false)) == 0 && kind != CW_OP_INC)
		r->bc_spends = true;
out:
	cw_buf_fini(&key);
	cw_buf_fini(&op);
	return rc;
}

/* ---- escrow wants ---- */

static void demand_add(cw_db *db, const void *k, size_t kl, uint64_t n);

/* Asks for `amount` more rights for k: a new want, or a larger one (a new
 * request id), or the same one kept alive. */
static void want_add_bg(
    cw_db *db, const void *k, size_t kl, int64_t amount, bool bg);

static void
want_add(cw_db *db, const void *k, size_t kl, int64_t amount)
{
	want_add_bg(db, k, kl, amount, false);
}

static void
want_add_bg(cw_db *db, const void *k, size_t kl, int64_t amount, bool bg)
{
	int      i;
	uint64_t received = 0;
	if (amount <= 0)
		return;
	/* The request id is 1 + the rights received so far: every grant
	 * opens a new request, a repeat of this one keeps its id (so it is
	 * granted once), and a restart changes nothing. */
	cw_buf key = { 0 };
	if (row_key(&key, k, kl, ROW_VALUE, NULL) == 0) {
		char  *err = NULL;
		size_t vl;
		char  *v = rocksdb_get_cf(db->base, db->ro, db->cf[CF_DATA],
		     (char *) key.p, key.len, &vl, &err);
		if (err != NULL)
			rdb_err(err, "read rights");
		else if (v != NULL)
			cw_crdt_bcounter_received(v, vl, db->o.dc, &received);
		rocksdb_free(v);
	}
	cw_buf_fini(&key);
	pthread_mutex_lock(&db->want_mu);
	for (i = 0; i < db->nwants; i++)
		if (db->wants[i].kl == kl && !memcmp(db->wants[i].key, k, kl))
			break;
	if (i == db->nwants) {
		if (db->nwants == 64) /* full: the oldest gives way */
			i = 0;
		else
			db->nwants++;
		memcpy(db->wants[i].key, k, kl);
		db->wants[i].kl     = kl;
		db->wants[i].amount = 0;
		db->wants[i].id     = 0;
	}
	if (db->wants[i].id != received + 1) { /* a new request */
		db->wants[i].amount     = amount;
		db->wants[i].background = bg;
	} else { /* the same request: it only grows, and urgency wins */
		if (amount > db->wants[i].amount)
			db->wants[i].amount = amount;
		db->wants[i].background = db->wants[i].background && bg;
	}
	db->wants[i].id = received + 1;
	db->want_ms[i]  = cw_mono_ms();
	pthread_mutex_unlock(&db->want_mu);
}

int
cw_db_rights(cw_db *db, const void *k, size_t kl, uint16_t dc, int64_t *out)
{
	cw_buf key = { 0 };
	char  *err = NULL;
	size_t vl;
	int    rc;
	*out = 0;
	if ((rc = row_key(&key, k, kl, ROW_VALUE, NULL)) != 0)
		return rc;
	char *v = rocksdb_get_cf(db->base, db->ro, db->cf[CF_DATA],
	    (char *) key.p, key.len, &vl, &err);
	cw_buf_fini(&key);
	if (err != NULL)
		return rdb_err(err, "read rights");
	rc = v ? cw_crdt_bcounter_rights(v, vl, dc, out) : 0;
	rocksdb_free(v);
	return rc == CW_ETYPE ? 0 : rc;
}

int
cw_db_wants(cw_db *db, cw_want *out, int max)
{
	cw_want  w[64];
	int      n   = 0;
	uint64_t now = cw_mono_ms();
	pthread_mutex_lock(&db->want_mu);
	for (int i = 0; i < db->nwants;) {
		if (now - db->want_ms[i] > 10000) { /* expired */
			db->wants[i]   = db->wants[db->nwants - 1];
			db->want_ms[i] = db->want_ms[db->nwants - 1];
			db->nwants--;
			continue;
		}
		w[n++] = db->wants[i++];
	}
	pthread_mutex_unlock(&db->want_mu);
	int m = 0;
	for (int i = 0; i < n && m < max; i++) {
		int64_t r;
		if (cw_db_rights(db, w[i].key, w[i].kl, db->o.dc, &r) == 0 &&
		    r >= w[i].amount) {
			/* satisfied: forget it, unless it grew meanwhile */
			pthread_mutex_lock(&db->want_mu);
			for (int j = 0; j < db->nwants; j++)
				if (db->wants[j].id == w[i].id) {
					db->wants[j] =
					    db->wants[db->nwants - 1];
					db->want_ms[j] =
					    db->want_ms[db->nwants - 1];
					db->nwants--;
					break;
				}
			pthread_mutex_unlock(&db->want_mu);
			continue;
		}
		out[m++] = w[i];
	}
	return m;
}

int
cw_db_grant(cw_db *db, uint16_t to, const void *k, size_t kl, int64_t amount,
    uint64_t id, int64_t margin, bool background, int64_t *granted)
{
	cw_tx   *t;
	int64_t  rights;
	uint64_t received = 0;
	int      rc;
	*granted = 0;
	if (to >= db->o.ndc || to == db->o.dc || amount <= 0)
		return CW_EINVAL;
	/* A request's id is 1 + what the asker had received when it asked
	 * (want_add_bg). If this DC's state shows it has received as much
	 * since, from us or another DC, the request is served or stale:
	 * granting from the replicated state keeps it once across restarts. */
	cw_buf key = { 0 };
	if ((rc = row_key(&key, k, kl, ROW_VALUE, NULL)) != 0)
		return rc;
	char  *err = NULL;
	size_t vl;
	char  *v = rocksdb_get_cf(db->base, db->ro, db->cf[CF_DATA],
	     (char *) key.p, key.len, &vl, &err);
	cw_buf_fini(&key);
	if (err != NULL)
		return rdb_err(err, "read rights");
	rc = v ? cw_crdt_bcounter_received(v, vl, to, &received) : 0;
	rocksdb_free(v);
	if (rc != 0 || received >= id)
		return rc == CW_ETYPE ? 0 : rc;
	if ((rc = cw_tx_begin(db, NULL, 0, &t)) != 0)
		return rc;
	/* test bug: grant what is asked, held or not */
	t->unchecked = cw_test_bug("grant-unheld");
	if ((rc = cw_tx_bcounter_rights(t, k, kl, &rights)) == 0 &&
	    (rights > 0 || t->unchecked)) {
		/* never more than held; for a background request, never more
		 * than half: this DC may need its rights too */
		int64_t cap = t->unchecked ? amount + margin
		    : background           ? rights / 2
		                           : rights;
		int64_t g   = amount + margin < cap ? amount + margin : cap;
		if (g > 0 &&
		    (rc = cw_tx_bcounter_transfer(t, k, kl, g, to)) == 0 &&
		    (rc = cw_tx_commit(t, NULL)) == 0) {
			*granted = g;
			db->esc_grants++;
			db->esc_moved += (uint64_t) g;
			cw_log(CW_LOG_INFO, "escrow",
			    "granted %lld rights to DC %u", (long long) g, to);
		}
	}
	cw_tx_free(t);
	return rc == CW_ENORIGHTS || rc == CW_ECONFLICT ? 0 : rc;
}

int
cw_tx_bcounter_add_wait(
    cw_tx *t, const void *k, size_t kl, int64_t delta, uint64_t wait_ms)
{
	int64_t value, vis, snap, latest;
	int     rc = cw_tx_bcounter_add(t, k, kl, delta);
	if (rc != CW_ENORIGHTS || wait_ms == 0)
		return rc;
	/* the rights this transaction already spent, beyond its snapshot */
	if ((rc = bc_read(t, k, kl, &value, &vis)) != 0)
		return rc;
	char  *v;
	size_t vlen;
	cw_buf key = { 0 };
	if ((rc = row_key(&key, k, kl, ROW_VALUE, NULL)) != 0 ||
	    (rc = read_snapshot(t, key.p, key.len, &v, &vlen)) != 0) {
		cw_buf_fini(&key);
		return rc;
	}
	cw_buf_fini(&key);
	rc = v ? cw_crdt_bcounter_rights(v, vlen, t->db->o.dc, &snap) : 0;
	if (v == NULL)
		snap = 0;
	rocksdb_free(v);
	if (rc != 0)
		return rc;
	int64_t  need = -delta + (snap - vis); /* in the latest state */
	uint64_t dl   = cw_mono_ms() + wait_ms;
	cw_db   *db   = t->db;
	for (;;) {
		if ((rc = cw_db_rights(db, k, kl, db->o.dc, &latest)) != 0)
			return rc;
		if (latest >= need) /* checked again at commit */
			return bc_push(
			    t, k, kl, CW_OP_DEC, 0, (uint64_t) -delta);
		want_add(db, k, kl, need - latest);
		uint64_t now = cw_mono_ms();
		if (now >= dl)
			return CW_ENORIGHTS; /* counted once, above */
		struct timespec ts;
		cw_deadline_after(&ts, dl - now < 20 ? dl - now : 20);
		pthread_mutex_lock(&db->commit_mu);
		pthread_cond_timedwait(&db->applied_cv, &db->commit_mu, &ts);
		pthread_mutex_unlock(&db->commit_mu);
	}
}

int
cw_tx_bcounter_add(cw_tx *t, const void *k, size_t kl, int64_t delta)
{
	int64_t value, rights;
	int     rc;
	if (delta == INT64_MIN)
		return CW_EINVAL;
	if (delta == 0)
		return bc_read(t, k, kl, &value, &rights);
	if (delta > 0)
		return bc_push(t, k, kl, CW_OP_INC, 0, (uint64_t) delta);
	if ((rc = bc_read(t, k, kl, &value, &rights)) != 0)
		return rc;
	if (rights < -delta) {
		want_add(t->db, k, kl, -delta - rights); /* ask, fail fast */
		demand_add(t->db, k, kl, (uint64_t) -delta);
		t->db->esc_refused++;
		return CW_ENORIGHTS;
	}
	return bc_push(t, k, kl, CW_OP_DEC, 0, (uint64_t) -delta);
}

int
cw_tx_bcounter_transfer(
    cw_tx *t, const void *k, size_t kl, int64_t n, int to_dc)
{
	int64_t value, rights;
	int     rc;
	if (n <= 0 || to_dc < 0 || (uint32_t) to_dc >= t->db->o.ndc ||
	    to_dc == t->db->o.dc)
		return CW_EINVAL;
	if ((rc = bc_read(t, k, kl, &value, &rights)) != 0)
		return rc;
	if (rights < n && !t->unchecked)
		return CW_ENORIGHTS;
	return bc_push(t, k, kl, CW_OP_XFER, (uint16_t) to_dc, (uint64_t) n);
}

int
cw_tx_bcounter_get(cw_tx *t, const void *k, size_t kl, int64_t *out)
{
	int64_t rights;
	if (out == NULL)
		return CW_EINVAL;
	return bc_read(t, k, kl, out, &rights);
}

int
cw_tx_bcounter_rights(cw_tx *t, const void *k, size_t kl, int64_t *out)
{
	int64_t value;
	if (out == NULL)
		return CW_EINVAL;
	return bc_read(t, k, kl, &value, out);
}

/* ---- sets ---- */

int
cw_tx_set_add(cw_tx *t, const void *k, size_t kl, const void *e, size_t el)
{
	cw_buf       key = { 0 }, op = { 0 };
	struct prow *r;
	int          rc;
	if (e == NULL && el > 0)
		return CW_EINVAL;
	if ((rc = write_object(t, k, kl, CW_T_SET, el, &key)) != 0)
		goto out;
	/* tag (dc, seq 0, idx): seq is stamped at commit */
	cw_tag tag = { t->db->o.dc, 0, t->set_idx };
	if ((rc = cw_crdt_op_set_add(&op, tag, e, el)) != 0 ||
	    (rc = row_get(t, key.p, key.len, CW_T_SET, &r)) != 0)
		goto out;
	if ((rc = row_push(t, r, &op, false)) == 0)
		t->set_idx++;
out:
	cw_buf_fini(&key);
	cw_buf_fini(&op);
	return rc;
}

/* Drops the pending adds of element e from row r. */
static void
drop_pending_adds(cw_tx *t, struct prow *r, const void *e, size_t el)
{
	size_t   off = 0, w = 0;
	uint8_t *op;
	size_t   ol;
	uint32_t kept = 0;
	while (row_next_op(r, &off, &op, &ol)) {
		/* set add: | T | K | tag 14 | elen u32 | e | */
		bool drop = op[1] == CW_OP_ADD && ol == 20 + el &&
		    memcmp(op + 20, e, el) == 0;
		if (drop) {
			t->nops--;
			t->bytes -= ol;
			continue;
		}
		memmove(r->ops.p + w, op - 4, 4 + ol);
		w += 4 + ol;
		kept++;
	}
	r->ops.len = w;
	r->nops    = kept;
}

int
cw_tx_set_remove(cw_tx *t, const void *k, size_t kl, const void *e, size_t el)
{
	cw_buf         key = { 0 }, op = { 0 };
	struct prow   *r;
	char          *v = NULL;
	size_t         vl;
	bool           found;
	const uint8_t *tags;
	uint32_t       ntags;
	int            rc;
	if (e == NULL && el > 0)
		return CW_EINVAL;
	if ((rc = write_object(t, k, kl, CW_T_SET, el, &key)) != 0)
		goto out;
	if ((r = row_find(t, key.p, key.len)) != NULL)
		drop_pending_adds(t, r, e, el);
	/* remove the tags observed in the snapshot */
	if ((rc = read_snapshot(t, key.p, key.len, &v, &vl)) != 0)
		goto out;
	if ((rc = cw_crdt_set_find(v, vl, e, el, &found, &tags, &ntags)) != 0)
		goto out;
	if (!found)
		goto out;
	if ((rc = cw_crdt_op_set_rem(&op, e, el, tags, ntags)) != 0 ||
	    (rc = row_get(t, key.p, key.len, CW_T_SET, &r)) != 0)
		goto out;
	rc = row_push(t, r, &op, false);
out:
	rocksdb_free(v);
	cw_buf_fini(&key);
	cw_buf_fini(&op);
	return rc;
}

int
cw_tx_set_contains(
    cw_tx *t, const void *k, size_t kl, const void *e, size_t el, bool *out)
{
	cw_buf         key = { 0 }, st = { 0 };
	bool           exists;
	const uint8_t *tags;
	uint32_t       ntags;
	int            rc;
	if (out == NULL || (e == NULL && el > 0))
		return CW_EINVAL;
	*out = false;
	if ((rc = read_object(t, k, kl, CW_T_SET, &key, &st, &exists)) == 0 &&
	    exists)
		rc = cw_crdt_set_find(st.p, st.len, e, el, out, &tags, &ntags);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

int
cw_tx_set_members(cw_tx *t, const void *k, size_t kl, cw_list **out)
{
	cw_buf         key = { 0 }, st = { 0 };
	cw_list       *l = NULL;
	bool           exists;
	cw_set_iter    it;
	const uint8_t *e, *tags;
	size_t         el;
	uint32_t       ntags;
	int            rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = NULL;
	if ((rc = read_object(t, k, kl, CW_T_SET, &key, &st, &exists)) != 0)
		goto out;
	if ((rc = cw_list_new(&l)) != 0)
		goto out;
	if ((rc = cw_crdt_set_iter(&it, exists ? st.p : NULL, st.len)) != 0)
		goto out;
	while ((rc = cw_crdt_set_next(&it, &e, &el, &tags, &ntags)) == 1)
		if ((rc = cw_list_push(l, e, el)) != 0)
			goto out;
	if (rc == 0) {
		*out = l;
		l    = NULL;
	}
out:
	cw_list_free(l);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

/* ---- maps ---- */

static int
map_field_ok(const char *field)
{
	if (field == NULL)
		return CW_EINVAL;
	return strlen(field) > CW_MAX_FIELD ? CW_ETOOBIG : 0;
}

/* A map write: the field row (tracked, so writers of one field conflict
 * and writers of different fields do not). */
static int
map_write(cw_tx *t, const void *k, size_t kl, const char *field, int kind,
    const void *v, size_t vl)
{
	cw_buf key = { 0 };
	int    rc;
	if ((rc = map_field_ok(field)) != 0)
		return rc;
	if (v == NULL && vl > 0)
		return CW_EINVAL;
	if ((rc = write_object(t, k, kl, CW_T_MAP, vl, &key)) == 0 &&
	    (rc = row_key(&key, k, kl, ROW_FIELD, field)) == 0)
		rc = push_lww(t, &key, CW_T_FIELD, kind, v, vl);
	cw_buf_fini(&key);
	return rc;
}

int
cw_tx_map_put(cw_tx *t, const void *k, size_t kl, const char *field,
    const void *v, size_t vl)
{
	return map_write(t, k, kl, field, CW_OP_PUT, v, vl);
}

int
cw_tx_map_remove(cw_tx *t, const void *k, size_t kl, const char *field)
{
	return map_write(t, k, kl, field, CW_OP_DEL, NULL, 0);
}

int
cw_tx_map_get(cw_tx *t, const void *k, size_t kl, const char *field, void **v,
    size_t *vl)
{
	cw_buf key = { 0 }, st = { 0 };
	bool   exists;
	int    rc;
	if (v == NULL || vl == NULL)
		return CW_EINVAL;
	*v  = NULL;
	*vl = 0;
	if ((rc = map_field_ok(field)) != 0)
		return rc;
	if ((rc = read_object(t, k, kl, CW_T_MAP, &key, &st, &exists)) == 0 &&
	    exists && (rc = row_key(&key, k, kl, ROW_FIELD, field)) == 0 &&
	    (rc = read_row(t, key.p, key.len, &st, &exists)) == 0)
		rc = lww_value(&st, exists, v, vl);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

static int
cmp_name(const void *a, const void *b)
{
	const cw_buf *x = a, *y = b;
	return cw_bytes_cmp(x->p, x->len, y->p, y->len);
}

/* Adds name to names (no duplicates: the caller sorts and skips them). */
static int
names_push(cw_buf **names, size_t *n, size_t *cap, const void *p, size_t len)
{
	if (cw_grow(names, cap, *n + 1, sizeof(**names)) != 0)
		return CW_ENOMEM;
	cw_buf *b = &(*names)[*n];
	memset(b, 0, sizeof(*b));
	if (cw_buf_put(b, p, len) != 0)
		return CW_ENOMEM;
	(*n)++;
	return 0;
}

int
cw_tx_map_fields(cw_tx *t, const void *k, size_t kl, cw_list **out)
{
	cw_buf              key = { 0 }, st = { 0 }, fk = { 0 };
	cw_buf             *names = NULL;
	size_t              nn = 0, ncap = 0;
	cw_list            *l  = NULL;
	rocksdb_iterator_t *it = NULL;
	bool                exists;
	int                 rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = NULL;
	if ((rc = read_object(t, k, kl, CW_T_MAP, &key, &st, &exists)) != 0)
		goto out;
	if ((rc = cw_list_new(&l)) != 0)
		goto out;
	if (!exists)
		goto done;
	/* candidate names: field rows at the snapshot and pending ones */
	if ((rc = row_key(&key, k, kl, ROW_FIELD, "")) != 0)
		goto out;
	it =
	    rocksdb_create_iterator_cf(t->db->base, t->ro, t->db->cf[CF_DATA]);
	for (rocksdb_iter_seek(it, (char *) key.p, key.len);
	     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t      rl;
		const char *rk = rocksdb_iter_key(it, &rl);
		if (rl < key.len || memcmp(rk, key.p, key.len) != 0)
			break;
		if ((rc = names_push(
		         &names, &nn, &ncap, rk + key.len, rl - key.len)) != 0)
			goto out;
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	if (err != NULL) {
		rc = rdb_err(err, "map fields");
		goto out;
	}
	for (size_t i = 0; i < t->nrows; i++) {
		struct prow *r = &t->rows[i];
		if (r->type == CW_T_FIELD && r->klen >= key.len &&
		    memcmp(r->key, key.p, key.len) == 0 &&
		    (rc = names_push(&names, &nn, &ncap, r->key + key.len,
		         r->klen - key.len)) != 0)
			goto out;
	}
	qsort(names, nn, sizeof(*names), cmp_name);
	for (size_t i = 0; i < nn; i++) {
		bool           present;
		const uint8_t *p;
		size_t         n;
		if (i > 0 && cmp_name(&names[i - 1], &names[i]) == 0)
			continue;
		fk.len = 0;
		if ((rc = cw_buf_put(&fk, key.p, key.len)) != 0 ||
		    (rc = cw_buf_put(&fk, names[i].p, names[i].len)) != 0 ||
		    (rc = read_row(t, fk.p, fk.len, &st, &exists)) != 0)
			goto out;
		if (!exists)
			continue;
		if ((rc = cw_crdt_reg_read(
		         st.p, st.len, &present, &p, &n, NULL, NULL)) != 0)
			goto out;
		if (present &&
		    (rc = cw_list_push(l, names[i].p, names[i].len)) != 0)
			goto out;
	}
done:
	*out = l;
	l    = NULL;
out:
	if (it != NULL)
		rocksdb_iter_destroy(it);
	for (size_t i = 0; i < nn; i++)
		cw_buf_fini(&names[i]);
	cw_free(names);
	cw_list_free(l);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	cw_buf_fini(&fk);
	return rc;
}

/* ---- commit ---- */

/* Checks, under commit_mu, that the latest state of every bcounter row t
 * spends from, with t's operands folded in, leaves this DC's rights >= 0.
 * (Only this DC spends its rights, so no later commit can undo it.) */
static int
check_rights_locked(cw_tx *t)
{
	cw_db *db = t->db;
	int    rc = 0;
	for (size_t i = 0; i < t->nrows && rc == 0 && !t->unchecked; i++) {
		struct prow *r = &t->rows[i];
		const void  *ops[64];
		size_t       lens[64];
		size_t       n = 0, off = 0, ol, vl;
		uint8_t     *op;
		int64_t      rights;
		if (!r->bc_spends)
			continue;
		char *err = NULL;
		char *v   = rocksdb_get_cf(db->base, db->ro, db->cf[CF_DATA],
		      (const char *) r->key, r->klen, &vl, &err);
		if (err != NULL)
			return rdb_err(err, "read rights");
		cw_buf      st   = { 0 };
		const void *cur  = v;
		size_t      curl = vl;
		/* fold in batches of 64 operands */
		bool more = true;
		while (rc == 0 && more) {
			more = row_next_op(r, &off, &op, &ol);
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
	if ((effs = cw_malloc(t->nops * sizeof(*effs))) == NULL)
		return CW_ENOMEM;
	for (size_t i = 0; i < t->nrows; i++) {
		struct prow *r   = &t->rows[i];
		size_t       off = 0;
		uint8_t     *op;
		size_t       ol;
		while (row_next_op(r, &off, &op, &ol)) {
			cw_crdt_op_stamp(op, ol, hlc, db->o.dc, seq);
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

/* Adds n rights of demand for bounded counter k (a spend, or a refusal:
 * demand that could not be served counts too, or a starved DC would never
 * look busy). */
static void
demand_add(cw_db *db, const void *k, size_t kl, uint64_t n)
{
	pthread_mutex_lock(&db->want_mu);
	int j;
	for (j = 0; j < db->ndemand; j++)
		if (db->demand[j].kl == kl &&
		    !memcmp(db->demand[j].key, k, kl))
			break;
	if (j == db->ndemand) {
		if (db->ndemand == 32)
			j = 0; /* full: replace the first */
		else
			db->ndemand++;
		memcpy(db->demand[j].key, k, kl);
		db->demand[j].kl    = kl;
		db->demand[j].spent = 0;
		db->demand[j].rate  = 0;
	}
	db->demand[j].spent += n;
	db->demand[j].last_ms = cw_mono_ms();
	pthread_mutex_unlock(&db->want_mu);
}

/* Records what t spent from bounded counters, for rebalancing. */
static void
note_demand(cw_tx *t)
{
	for (size_t i = 0; i < t->nrows; i++) {
		struct prow *r = &t->rows[i];
		if (!r->bc_spends)
			continue;
		uint64_t spent = 0;
		size_t   off   = 0, ol;
		uint8_t *op;
		while (row_next_op(r, &off, &op, &ol))
			if (ol == 14 &&
			    (op[1] == CW_OP_DEC || op[1] == CW_OP_XFER))
				spent += cw_ld_u64(op + 6);
		/* the value row key: klen u16 BE, key, 0x01 */
		demand_add(t->db, r->key + 2, r->klen - 3, spent);
	}
}

void
cw_db_escrow_tick(cw_db *db)
{
	struct {
		uint8_t key[CW_MAX_KEY];
		size_t  kl;
		double  rate;
	} hot[32];
	int      n   = 0;
	uint64_t now = cw_mono_ms();
	pthread_mutex_lock(&db->want_mu);
	double dt   = db->tick_ms ? (now - db->tick_ms) / 1000.0 : 0;
	db->tick_ms = now;
	for (int j = 0; j < db->ndemand; j++) {
		if (dt > 0) {
			double r = db->demand[j].spent / dt;
			db->demand[j].rate =
			    0.5 * db->demand[j].rate + 0.5 * r;
		}
		db->demand[j].spent = 0;
		/* idle for 10 s: no longer hot */
		if (now - db->demand[j].last_ms > 10000)
			db->demand[j].rate = 0;
		if (db->demand[j].rate > 0) {
			memcpy(
			    hot[n].key, db->demand[j].key, db->demand[j].kl);
			hot[n].kl   = db->demand[j].kl;
			hot[n].rate = db->demand[j].rate;
			n++;
		}
	}
	pthread_mutex_unlock(&db->want_mu);
	for (int i = 0; i < n; i++) {
		int64_t rights, low = (int64_t) (3 * hot[i].rate + 0.5);
		if (low < 1 ||
		    cw_db_rights(db, hot[i].key, hot[i].kl, db->o.dc, &rights))
			continue;
		if (rights < low) /* under three seconds of demand */
			want_add_bg(
			    db, hot[i].key, hot[i].kl, 2 * low - rights, true);
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
	int    src = wait_durable(db, ticket);
	return src != 0 ? src : rc;
}

int
cw_db_wait_ticket(cw_db *db, uint64_t ticket)
{
	return wait_durable(db, ticket);
}

bool
cw_db_ticket_durable(cw_db *db, uint64_t ticket)
{
	if (!db->o.sync || ticket == 0)
		return true;
	pthread_mutex_lock(&db->sync_mu);
	bool durable = db->durable >= ticket;
	pthread_mutex_unlock(&db->sync_mu);
	return durable;
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
		tx_release(t);
		return 0;
	}
	if ((wb = rocksdb_writebatch_create()) == NULL)
		return CW_ENOMEM;
	pthread_mutex_lock(&db->commit_mu);
	/* first committer wins among local transactions */
	for (size_t i = 0; i < t->nrows; i++) {
		struct prow *r = &t->rows[i];
		if (r->tracked && r->nops > 0 &&
		    wl_get_locked(db, r->key, r->klen) >
		        t->snap_vc.v[db->o.dc]) {
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
		tag_stage(t, seq, &cvc, wb);
	}
	/* One batch: all of t, and its log record, or nothing. */
	char *err = NULL;
	rocksdb_optimistictransactiondb_write(db->odb, db->wo, wb, &err);
	if (err != NULL) {
		rc = rdb_err(err, "commit");
		if (rc == CW_ECONFLICT) /* RocksDB tracks nothing of ours */
			rc = CW_EIO;
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
	unwrite_locked(t);
	pthread_cond_broadcast(&db->applied_cv);
	pthread_mutex_unlock(&db->commit_mu);
	rocksdb_writebatch_destroy(wb);
	cw_buf_fini(&rec);
	note_demand(t);
	tx_release(t);
	if (commit_vc != NULL)
		commit_vc->v[db->o.dc] = seq;
	if (seq % TAG_PRUNE_EVERY == 0)
		tags_prune(db, seq);
	if (cw_test_bug("ack-before-sync"))
		*ticket = 0; /* test bug: durable later, maybe */
	return 0;
out_unlock:
	/* a conflict or refusal reveals other commits: they must be
	 * durable before it is told */
	if (rc == CW_ECONFLICT || rc == CW_ENORIGHTS)
		*ticket = db->ncommit;
	unwrite_locked(t);
	pthread_mutex_unlock(&db->commit_mu);
	rocksdb_writebatch_destroy(wb);
	cw_buf_fini(&rec);
	tx_release(t); /* rolls back: nothing of t is applied */
	return rc;
}

/* ---- remote records ---- */

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
cw_db_sync(cw_db *db)
{
	pthread_mutex_lock(&db->commit_mu);
	uint64_t ticket = db->ncommit;
	pthread_mutex_unlock(&db->commit_mu);
	return wait_durable(db, ticket);
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
		cw_log(CW_LOG_WARN, "txn", "rejected a record from DC %u: %s",
		    rec.origin, cw_strerror(rc));
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

	pthread_mutex_lock(&db->commit_mu);
	if (rec.seq <= db->S.v[rec.origin] ||
	    rec.seq <= db->bug_applying[rec.origin]) {
		*result = CW_APPLY_DUPLICATE;
		pthread_mutex_unlock(&db->commit_mu);
		goto out;
	}
	bool ready = rec.seq == db->S.v[rec.origin] + 1;
	for (uint32_t k = 0; k < db->o.ndc && ready; k++)
		if (k != rec.origin && rec.deps[k] > db->S.v[k] &&
		    !cw_test_bug("ignore-deps"))
			ready = false;
	if (!ready) {
		*result = CW_APPLY_NOT_READY;
		pthread_mutex_unlock(&db->commit_mu);
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
		pthread_mutex_unlock(&db->commit_mu);
		usleep(3000);
		pthread_mutex_lock(&db->commit_mu);
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
		rc = rdb_err(err, "apply");
		if (rc == CW_ECONFLICT)
			rc = CW_EIO;
		pthread_mutex_unlock(&db->commit_mu);
		goto out;
	}
	db->S.v[rec.origin] = rec.seq;
	cw_causal_hlc_observe(&db->hlc, rec.hlc);
	ticket = ++db->ncommit;
	pthread_cond_broadcast(&db->applied_cv);
	pthread_mutex_unlock(&db->commit_mu);
	*result = CW_APPLY_APPLIED;
	(void) ticket; /* durable at the caller's cw_db_sync */
out:
	if (wb != NULL)
		rocksdb_writebatch_destroy(wb);
	cw_schema_rec_fini(&rec);
	return rc;
}

int
cw_db_log_get(
    cw_db *db, uint16_t origin, uint64_t seq, void **rec, size_t *len)
{
	uint8_t lk[LOG_KEY_LEN];
	char   *err = NULL;
	size_t  vl;
	*rec = NULL;
	*len = 0;
	log_key(lk, origin, seq);
	char *v = rocksdb_get_cf(db->base, db->ro, db->cf[CF_LOG], (char *) lk,
	    sizeof(lk), &vl, &err);
	if (err != NULL)
		return rdb_err(err, "read log");
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
			cw_log(CW_LOG_ERROR, "txn",
			    "log record (%u, %llu) "
			    "is corrupt",
			    o, (unsigned long long) s);
			rc = CW_EPROTO;
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
			cw_log(CW_LOG_ERROR, "txn",
			    "log gap or misfiled "
			    "record at (%u, %llu)",
			    o, (unsigned long long) s);
			rc = CW_EPROTO;
			break;
		}
		seen.v[o] = s;
		n++;
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	if (err != NULL && rc == 0)
		rc = rdb_err(err, "verify");
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

void
cw_db_durable_state(cw_db *db, cw_vc *out)
{
	/* test bug: replication ships (and acks) what is not durable yet */
	if (!db->o.sync || cw_test_bug("ship-before-durable")) {
		cw_db_state(db, out);
		return;
	}
	pthread_mutex_lock(&db->sync_mu);
	*out = db->durable_S;
	pthread_mutex_unlock(&db->sync_mu);
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
		rc = rdb_err(err, "log scan");
	rocksdb_iter_destroy(it);
	return rc < 0 ? rc : 0;
}

int
cw_db_digest(cw_db *db, uint64_t *out)
{
	/* FNV-1a over every data row (key and merged state) in key order,
	 * at one snapshot: equal exactly when the DCs hold the same state,
	 * since states are canonical (crdt.h) */
	uint64_t                  h    = 1469598103934665603ull;
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
		for (int i = 0; i < 8; i++)
			h = (h ^ len[i]) * 1099511628211ull;
		for (size_t i = 0; i < kl; i++)
			h = (h ^ (uint8_t) k[i]) * 1099511628211ull;
		cw_st_u64(len, vl);
		for (int i = 0; i < 8; i++)
			h = (h ^ len[i]) * 1099511628211ull;
		for (size_t i = 0; i < vl; i++)
			h = (h ^ (uint8_t) v[i]) * 1099511628211ull;
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_release_snapshot(db->base, snap);
	*out = h;
	return err ? rdb_err(err, "digest") : 0;
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
	char   *err = NULL;
	size_t  vl;
	pruned_key(k, o);
	char *v = rocksdb_get_cf(db->base, db->ro, db->cf[CF_META], (char *) k,
	    sizeof(k), &vl, &err);
	if (err != NULL)
		return rdb_err(err, "read prune floor");
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
	return err ? rdb_err(err, "log prune") : 0;
}

void
cw_db_escrow_stats(cw_db *db, cw_escrow_stats *out)
{
	out->requests = db->esc_requests;
	out->grants   = db->esc_grants;
	out->moved    = db->esc_moved;
	out->refused  = db->esc_refused;
}

void
cw_db_escrow_sent(cw_db *db, uint64_t n)
{
	db->esc_requests += n;
}
