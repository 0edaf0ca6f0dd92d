/*
 * db.c - a DC's database opened and closed: the RocksDB options and column
 * families, the format and identity checks of an existing directory, and
 * recovery.
 *
 * Meta column family, as written at creation and checked at every open:
 *
 *   | key           | value                        |
 *   | "format"      | "causeway-1"                 |
 *   | "dc"          | u16 LE, this DC's id         |
 *   | "ndc"         | u32 LE, DCs in the deployment|
 *   | "fingerprint" | u64 LE, configuration        |
 *
 * (tags.c and log.c keep their own keys in meta: "tag/...", "tagfloor",
 * "pruned/...".) A directory that belongs to another DC or deployment, or
 * has data but no format marker, is refused with CW_EFORMAT before
 * anything is written to it.
 *
 * Recovery reads nothing but the log: S[k] is the seq of origin k's last
 * record, the HLC the largest time among those records, so no separate
 * counter can disagree with the log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema.h"
#include "txn_int.h"

static const char *cf_names[NCF] = { "default", "data", "log", "meta" };

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
	/* bounded, so that a process's descriptors are counted: the rest
	 * go to client connections (causewayd sizes both from its
	 * RLIMIT_NOFILE) */
	o->max_open_files = 512;
	/* as CockroachDB's default maximum clock offset */
	o->max_clock_skew_ms = 500;
	/* bounded and shared, so that the server's memory has a bound
	 * (docs/operations.md, "Limits and memory"): RocksDB's defaults
	 * give each of the four families two 64 MiB memtables and a cache
	 * of its own */
	o->memtable_bytes = 128u << 20;
	o->cache_bytes    = 32u << 20;
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
	if ((rc = cw_txn_meta_get(db, "format", &v, &vl)) != 0)
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
		return err ? cw_txn_rdb_err(err, "write meta") : 0;
	}
	bool ok = vl == strlen(FORMAT) && memcmp(v, FORMAT, vl) == 0;
	rocksdb_free(v);
	if (!ok) {
		cw_log(CW_LOG_ERROR, "txn", "unknown data format (want %s)",
		    FORMAT);
		return CW_EFORMAT;
	}
	if ((rc = cw_txn_meta_get(db, "dc", &v, &vl)) != 0)
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
	if ((rc = cw_txn_meta_get(db, "ndc", &v, &vl)) != 0)
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
	if ((rc = cw_txn_meta_get(db, "fingerprint", &v, &vl)) != 0)
		return rc;
	uint64_t fp = (v && vl == 8) ? cw_ld_u64((uint8_t *) v) : 0;
	rocksdb_free(v);
	if (db->o.fingerprint != 0 && fp != 0 && fp != db->o.fingerprint) {
		cw_log(CW_LOG_ERROR, "txn",
		    "data directory belongs to another deployment: its "
		    "cluster name (--cluster) is not this one");
		return CW_EFORMAT;
	}
	if (db->o.fingerprint != 0 && fp == 0) {
		/* made by a version that did not record it: it is this
		 * deployment's from now on */
		char   *err = NULL;
		uint8_t b8[8];
		cw_st_u64(b8, db->o.fingerprint);
		rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
		rocksdb_writeoptions_set_sync(wo, 1);
		rocksdb_put_cf(db->base, wo, db->cf[CF_META], "fingerprint",
		    11, (char *) b8, 8, &err);
		rocksdb_writeoptions_destroy(wo);
		if (err != NULL)
			return cw_txn_rdb_err(err, "write meta");
		cw_log(CW_LOG_INFO, "txn",
		    "data directory now records its deployment's name");
	}
	return 0;
}

/* Rebuilds S and the HLC from the log (see above). */
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
		rc = cw_txn_rdb_err(err, "recover");
	rocksdb_iter_destroy(it);
	return rc;
}

/* A closed database with o's options: RocksDB's options and column
 * family options, the merge operator, the read and write options.
 * Returns NULL without memory. */
static cw_db *
db_new(const cw_db_opts *o)
{
	cw_db *db = cw_calloc(1, sizeof(*db));
	if (db == NULL)
		return NULL;
	db->o = *o;
	cw_mutex_init(&db->commit_mu);
	pthread_mutex_init(&db->tag_mu, NULL);
	pthread_mutex_init(&db->sync_mu, NULL);
	cw_mutex_init(&db->dsnap_mu);
	cw_cond_init_mono(&db->applied_cv);
	cw_cond_init_mono(&db->sync_cv);

	db->opts = rocksdb_options_create();
	if (cw_rocks_log_to_stderr(db->opts,
	        getenv("CW_LOG") && !strcmp(getenv("CW_LOG"), "debug")) != 0) {
		cw_db_close(db);
		return NULL;
	}
	rocksdb_options_set_create_if_missing(db->opts, 1);
	rocksdb_options_set_create_missing_column_families(db->opts, 1);
	rocksdb_options_set_max_open_files(db->opts, o->max_open_files);
	/* Never drop an acknowledged commit in silence: RocksDB's default
	 * (point-in-time recovery) opens a damaged WAL by truncating it at
	 * the damage, losing every commit after it with a warning in the
	 * log. Absolute consistency refuses to open instead; every commit
	 * is fsynced before it is acknowledged, so a WAL's tail is whole
	 * unless its disk damaged it (docs/operations.md, "Corruption"). */
	rocksdb_options_set_wal_recovery_mode(db->opts,
	    o->wal_recovery == CW_WAL_POINT_IN_TIME
	        ? rocksdb_point_in_time_recovery
	        : rocksdb_absolute_consistency_recovery);
	/* RocksDB's write buffer manager: when the memtables of every
	 * family together pass the budget, the largest is flushed */
	if (o->memtable_bytes > 0)
		rocksdb_options_set_db_write_buffer_size(
		    db->opts, o->memtable_bytes);
	if (o->cache_bytes > 0) {
		db->cache = rocksdb_cache_create_lru(o->cache_bytes);
		db->table = rocksdb_block_based_options_create();
		rocksdb_block_based_options_set_block_cache(
		    db->table, db->cache);
	}
	for (int i = 0; i < NCF; i++) {
		db->cf_opts[i] = rocksdb_options_create();
		if (db->table != NULL && i != CF_DATA)
			rocksdb_options_set_block_based_table_factory(
			    db->cf_opts[i], db->table);
	}
	/* The data family is read by point lookups, most of an object's
	 * type row and value row, and many of keys never written (the type
	 * check of a new object, a set element's absence): a Bloom filter
	 * per table file (10 bits a key, 1% false positives) answers those
	 * without reading a data block, and one over each memtable's whole
	 * keys spares the skip-list search of a key the memtable lacks
	 * (docs/design.md, "RocksDB options"). */
	db->dtable = rocksdb_block_based_options_create();
	if (db->cache != NULL)
		rocksdb_block_based_options_set_block_cache(
		    db->dtable, db->cache);
	rocksdb_block_based_options_set_filter_policy(
	    db->dtable, rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_options_set_block_based_table_factory(
	    db->cf_opts[CF_DATA], db->dtable);
	rocksdb_options_set_memtable_whole_key_filtering(
	    db->cf_opts[CF_DATA], 1);
	rocksdb_options_set_memtable_prefix_bloom_size_ratio(
	    db->cf_opts[CF_DATA], 0.05);
	db->merge = cw_txn_merge_new();
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
	return db;
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
	if ((db = db_new(o)) == NULL)
		return CW_ENOMEM;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		cw_log(CW_LOG_ERROR, "txn", "cannot create %s: %s", dir,
		    strerror(errno));
		rc = CW_EIO;
		goto out_close;
	}
	db->odb = rocksdb_optimistictransactiondb_open_column_families(
	    db->opts, dir, NCF, cf_names,
	    (const rocksdb_options_t *const *) db->cf_opts, db->cf, &err);
	if (err != NULL) {
		rc      = cw_txn_rdb_err(err, "open");
		db->odb = NULL;
		if (rc == CW_ECORRUPT)
			cw_log(CW_LOG_ERROR, "txn",
			    "%s was not opened, and nothing in it changed. "
			    "`causewayd --check --data %s` lists the damage. "
			    "To open it with what precedes the damage, losing "
			    "the commits after it, start with --wal-recovery "
			    "point-in-time; with other DCs, rather rebuild "
			    "this one from them (docs/operations.md, "
			    "\"Corruption\")",
			    dir, dir);
		goto out_close;
	}
	db->base = rocksdb_optimistictransactiondb_get_base_db(db->odb);
	if ((rc = check_meta(db)) != 0)
		goto out_close;
	if ((rc = recover(db)) != 0 || (rc = cw_txn_tags_load(db)) != 0)
		goto out_close;
	db->durable_S = db->S; /* what was recovered is on disk */
	if (o->wal_recovery == CW_WAL_POINT_IN_TIME) {
		char sv[256];
		cw_causal_vc_format(&db->S, sv, sizeof(sv));
		cw_log(CW_LOG_WARN, "txn",
		    "opened with point-in-time recovery: commits after any "
		    "damage to the write-ahead log are gone (RocksDB's lines "
		    "above say where); state now %s",
		    sv);
	}
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
		cw_txn_dsnap_fini(db); /* every transaction has ended */
		for (int i = 0; i < NCF; i++)
			if (db->cf[i] != NULL)
				rocksdb_column_family_handle_destroy(
				    db->cf[i]);
		rocksdb_optimistictransactiondb_close_base_db(db->base);
		rocksdb_optimistictransactiondb_close(db->odb);
	}
	rocksdb_readoptions_destroy(db->ro);
	rocksdb_writeoptions_destroy(db->wo);
	/* The CF options own the merge operator and destroy it. */
	for (int i = 0; i < NCF; i++)
		rocksdb_options_destroy(db->cf_opts[i]);
	rocksdb_options_destroy(db->opts);
	if (db->table != NULL)
		rocksdb_block_based_options_destroy(db->table);
	if (db->dtable != NULL) /* it owns the filter policy */
		rocksdb_block_based_options_destroy(db->dtable);
	if (db->cache != NULL)
		rocksdb_cache_destroy(db->cache);
	for (size_t i = 0; i < db->wl_cap; i++)
		cw_free(db->wl[i].key);
	cw_free(db->wl);
	pthread_cond_destroy(&db->applied_cv);
	pthread_cond_destroy(&db->sync_cv);
	cw_mutex_fini(&db->commit_mu);
	pthread_mutex_destroy(&db->tag_mu);
	pthread_mutex_destroy(&db->sync_mu);
	cw_mutex_fini(&db->dsnap_mu);
	cw_free(db);
}

int
cw_db_check(const char *dir, FILE *out, cw_vc *state)
{
	cw_db_opts o;
	cw_db     *db;
	char      *err = NULL, *v = NULL;
	size_t     vl;
	uint64_t   nrec = 0;
	int        rc;
	cw_db_opts_default(&o);
	o.ndc = CW_MAX_DC; /* until its own is read */
	if ((db = db_new(&o)) == NULL)
		return CW_ENOMEM;
	rocksdb_options_set_create_if_missing(db->opts, 0);
	rocksdb_options_set_paranoid_checks(db->opts, 1);
	/* read-only: the WAL is replayed (strictly) into memory only */
	db->base = rocksdb_open_for_read_only_column_families(db->opts, dir,
	    NCF, cf_names, (const rocksdb_options_t *const *) db->cf_opts,
	    db->cf, 0, &err);
	if (err != NULL) {
		fprintf(out, "open: %s\n", err);
		rc       = cw_txn_rdb_err(err, "check");
		db->base = NULL;
		goto out;
	}
	fprintf(out, "write-ahead log: replayed, no damage\n");
	if ((rc = cw_txn_meta_get(db, "ndc", &v, &vl)) != 0)
		goto out;
	if (v == NULL || vl != 4) {
		fprintf(out, "not a Causeway data directory (no \"ndc\")\n");
		rocksdb_free(v);
		rc = CW_EFORMAT;
		goto out;
	}
	db->o.ndc = (uint32_t) ((uint8_t) v[0] | (uint8_t) v[1] << 8 |
	    (uint8_t) v[2] << 16 | (uint32_t) (uint8_t) v[3] << 24);
	rocksdb_free(v);
	if (db->o.ndc < 1 || db->o.ndc > CW_MAX_DC) {
		rc = CW_EFORMAT;
		goto out;
	}
	if (cw_rocks_verify(db->base, &err) != 0) {
		fprintf(out, "table files: %s\n",
		    err ? err : "cannot be verified (no memory)");
		rc = err ? cw_txn_rdb_err(err, "check") : CW_ENOMEM;
		goto out;
	}
	fprintf(out, "table files: every block's checksum verified\n");
	if ((rc = recover(db)) != 0 || (rc = cw_db_verify(db, &nrec)) != 0) {
		fprintf(out,
		    "transaction log: damaged (%s; the lines above "
		    "say where)\n",
		    cw_strerror(rc));
		goto out;
	}
	char sv[256];
	cw_causal_vc_format(&db->S, sv, sizeof(sv));
	fprintf(out,
	    "transaction log: %llu records, each whole and in order\n"
	    "state %s\n",
	    (unsigned long long) nrec, sv);
	if (state != NULL)
		*state = db->S;
out:
	for (int i = 0; i < NCF; i++)
		if (db->cf[i] != NULL) {
			rocksdb_column_family_handle_destroy(db->cf[i]);
			db->cf[i] = NULL;
		}
	if (db->base != NULL)
		rocksdb_close(db->base);
	db->base = NULL;
	cw_db_close(db);
	return rc;
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
	cw_mutex_lock(&db->commit_mu);
	*out = db->S;
	cw_mutex_unlock(&db->commit_mu);
}

void
cw_db_set_hooks(cw_db *db, const cw_db_hooks *h)
{
	if (h != NULL)
		db->hooks = *h;
	else
		memset(&db->hooks, 0, sizeof(db->hooks));
}
