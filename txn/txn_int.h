/*
 * txn_int.h - what the files of txn/ share, and nothing outside txn/
 * includes: the structs behind cw_db and cw_tx, the key layout, and the
 * internal calls from one file of the engine to another (cw_txn_*).
 *
 * Files, each with its concern (docs/design.md, "The engine's files"):
 *
 *   | rocks.c   | RocksDB glue: errors, meta reads, the row keys, the merge
 *   |           | operator's callbacks                                    |
 *   | db.c      | open, close, format and identity checks, recovery        |
 *   | durable.c | group commit, the durable snapshot, syncs and waits      |
 *   | tx.c      | begin to free, pending rows, snapshot reads              |
 *   | objects.c | the reg, counter, set and map operations               |
 *   | bcounter.c| bounded counters: rights checks, waits, transfers      |
 *   | commit.c  | first-committer-wins table, rights check, staging, commit|
 *   | tags.c    | commit tags                                              |
 *   | remote.c  | applying another DC's records                            |
 *   | log.c     | the log: read, scan, prune, verify; the data digest      |
 *   | exec.c    | one wire or SDK operation onto the cw_tx_* calls         |
 *
 * Locks (see struct cw_db): commit_mu, then dsnap_mu; sync_mu, then
 * dsnap_mu; commit_mu is never taken under sync_mu's hold except by the
 * sync leader, which releases sync_mu first. dsnap_mu and tag_mu are
 * leaves. A function whose name ends in _locked runs under commit_mu
 * unless its comment names another lock, and asserts it.
 */
#ifndef CW_TXN_INT_H
#define CW_TXN_INT_H

#include <assert.h>
#include <pthread.h>
#include <rocksdb/c.h>

#include "lock.h"
#include "txn.h"
#include "util.h"

/* rocks_log.cc: RocksDB's info log goes to cw_log, not a LOG file. */
int cw_rocks_log_to_stderr(rocksdb_options_t *opts, int verbose);
/* rocks_db.cc: DB::VerifyChecksum (every table file) and DB::Resume
 * (clears a background error). Return 0, or -1 with *err RocksDB's
 * message (rocksdb_free; NULL without memory); cw_rocks_resume returns
 * -2 for an error only a reopen clears (fatal or unrecoverable). */
int cw_rocks_verify(rocksdb_t *db, char **err);
int cw_rocks_resume(rocksdb_t *db, char **err);
/* After a write failed with CW_EIO: asks RocksDB to clear the background
 * error that stops its writes (a new WAL or table file it could not
 * create: no descriptor, no space), at most once a second. Returns 0 if
 * writes may go on (the caller may retry once), else CW_EIO. An error
 * that only a reopen clears is logged and reported, once, to
 * db->o.on_fatal. */
int cw_txn_resume(cw_db *db);

#define FORMAT "causeway-1"
#define LOG_KEY_LEN 10 /* origin u16 BE, seq u64 BE */

enum { CF_DEFAULT, CF_DATA, CF_LOG, CF_META, NCF };

/* An entry of the local first-committer-wins table (commit.c). */
struct wlast {
	uint8_t *key; /* NULL: empty slot */
	size_t   kl;
	uint64_t seq;
};

struct cw_db {
	cw_db_opts               o;
	cw_db_hooks              hooks; /* set before use (cw_db_set_hooks) */
	rocksdb_options_t       *opts;
	rocksdb_options_t       *cf_opts[NCF];
	rocksdb_mergeoperator_t *merge; /* owned by cf_opts[CF_DATA] */
	rocksdb_cache_t         *cache; /* shared by the families, or NULL */
	rocksdb_block_based_table_options_t *table;  /* with cache, or NULL */
	rocksdb_block_based_table_options_t *dtable; /* the data family's:
	                                              * cache and a filter */
	rocksdb_optimistictransactiondb_t *odb;
	rocksdb_t                         *base;
	rocksdb_column_family_handle_t    *cf[NCF];
	rocksdb_writeoptions_t *wo; /* sync off: the WAL sync is ours */
	rocksdb_readoptions_t  *ro; /* latest state, no snapshot */

	pthread_mutex_t tag_mu;    /* guards tag_floor, orders tag prunes */
	uint64_t        tag_floor; /* ms: no tag at or before it was pruned */

	cw_mutex commit_mu;
	/* commit_mu guards: */
	cw_vc    S;        /* the state vector */
	cw_hlc   hlc;      /* the DC's hybrid logical clock */
	uint64_t ncommit;  /* writes committed since open (commit tickets) */
	uint32_t writers;  /* open transactions with pending writes */
	struct wlast  *wl; /* local first-committer-wins table (commit.c) */
	size_t         wl_n, wl_cap, wl_prune_at;
	cw_tx         *open; /* open transactions, for the oldest snapshot */
	uint64_t       bug_applying[CW_MAX_DC]; /* split-apply test bug only */
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

	cw_mutex dsnap_mu; /* a leaf */
	/* dsnap_mu guards: */
	struct dsnap *dsnap; /* the latest durable state's snapshot, or NULL */
	struct dsnap *live;  /* every dsnap still referenced, oldest first */

	_Atomic uint64_t resume_ms; /* the last cw_txn_resume that tried */
	atomic_bool      fatal;     /* on_fatal was called */
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

/* A pending row of a transaction: one per data row it updates, holding
 * that row's operands in order, with their stamps (HLC time, set tags)
 * left as placeholders until commit. */
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
	                * durable: cw_txn_observe waited for it) */
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

/* ---- keys (the layout is txn.h's table) ---- */

static inline void
log_key(uint8_t *out, uint16_t origin, uint64_t seq)
{
	out[0] = (uint8_t) (origin >> 8);
	out[1] = (uint8_t) origin;
	cw_st_be64(out + 2, seq);
}

enum { ROW_TYPE, ROW_VALUE, ROW_FIELD };

/* FNV-1a of p[0..n): the hash of the pending-row index and the conflict
 * table. */
static inline uint64_t
hash_bytes(const uint8_t *p, size_t n)
{
	return cw_fnv1a(CW_FNV_BASIS, p, n);
}

/* ---- rocks.c ---- */

/* Maps a RocksDB error string to a CW_E code (the one place that does),
 * logs it under `what` and frees it. Returns CW_ECONFLICT for RocksDB's
 * Busy and TryAgain, else CW_EIO. */
int cw_txn_rdb_err(char *err, const char *what);
/* A new merge operator folding rows with cw_crdt_merge; the column
 * family options it is set on own it. Returns NULL if out of memory. */
rocksdb_mergeoperator_t *cw_txn_merge_new(void);
/* Builds the key of row `kind` of object k into b (reset first); field is
 * the map field of a ROW_FIELD. Returns 0 or CW_ENOMEM. */
int cw_txn_row_key(
    cw_buf *b, const void *k, size_t kl, int kind, const char *field);
/* Reads key k of column family cf in the latest state (db->ro). OUT: *v
 * (rocksdb_free; NULL if absent) and *vl. Returns 0 or CW_EIO. */
int cw_txn_get(
    cw_db *db, int cf, const void *k, size_t kl, char **v, size_t *vl);
/* The latest value row of object k (what a commit folds onto, and what
 * the escrow's figures read): cw_txn_get of its ROW_VALUE key. Returns 0,
 * CW_ENOMEM or CW_EIO. */
int cw_txn_get_value(
    cw_db *db, const void *k, size_t kl, char **v, size_t *vl);
/* Reads meta key `name` (a C string). As cw_txn_get. */
int cw_txn_meta_get(cw_db *db, const char *name, char **v, size_t *vl);

/* ---- durable.c ---- */

/* Returns once commit ticket `ticket` is durable (group commit: the first
 * waiter that finds no sync running leads one for everybody). Returns 0
 * or CW_EIO. Caller holds no engine lock. */
int cw_txn_wait_durable(cw_db *db, uint64_t ticket);
/* A reference to the latest durable snapshot if it covers need (NULL:
 * none), or NULL. Drop it with cw_txn_dsnap_unref. */
struct dsnap *cw_txn_dsnap_ref(cw_db *db, const cw_vc *need);
/* Drops a reference to d (NULL: none). */
void cw_txn_dsnap_unref(cw_db *db, struct dsnap *d);
/* The lowest S[dc] of any durable snapshot still referenced, or `floor`
 * if that is lower (commit.c's prune floor). */
uint64_t cw_txn_dsnap_floor(cw_db *db, uint16_t dc, uint64_t floor);
/* Releases the current durable snapshot at close (every transaction has
 * ended). */
void cw_txn_dsnap_fini(cw_db *db);

/* ---- tx.c ---- */

/* Waits until everything in t's snapshot is durable, before anything of it
 * reaches the caller. Returns 0 or CW_EIO. */
int cw_txn_observe(cw_tx *t);
/* Takes t out of db->writers. Caller holds commit_mu. */
void cw_txn_unwrite_locked(cw_tx *t);
/* Ends t: off db->open and db->writers, its snapshot released. */
void cw_txn_release(cw_tx *t);
/* t's pending row with key k, or NULL. */
struct prow *cw_txn_row_find(cw_tx *t, const uint8_t *k, size_t kl);
/* Finds or adds the pending row k of `type`. OUT: *out. Returns 0 or
 * CW_ENOMEM. */
int cw_txn_row_get(
    cw_tx *t, const uint8_t *k, size_t kl, int type, struct prow **out);
/* Iterates the operands of a row: *off is the cursor, starting at 0. OUT:
 * *op (borrowed, in the row) and *len. Returns false after the last. */
bool cw_txn_row_next_op(
    const struct prow *r, size_t *off, uint8_t **op, size_t *len);
/* Appends `op` to row r, or replaces r's operands with it. Returns 0,
 * CW_ETOOBIG (the transaction's limits) or CW_ENOMEM; on error r is
 * unchanged. */
int cw_txn_row_push(cw_tx *t, struct prow *r, const cw_buf *op, bool replace);
/* The state of row k at t's snapshot. OUT: *v (rocksdb_free; NULL if
 * absent) and *vl. Returns 0 or CW_EIO. */
int cw_txn_read_snapshot(
    cw_tx *t, const uint8_t *k, size_t kl, char **v, size_t *vl);
/* The state of row k as t sees it: the snapshot plus t's own pending
 * operands. OUT: state in *out (reset first); *exists false if there is
 * neither. */
int cw_txn_read_row(
    cw_tx *t, const uint8_t *k, size_t kl, cw_buf *out, bool *exists);

/* ---- objects.c ---- */

/* Reads the value row of object k, which must be of `type` (or not
 * exist), waiting first until t's snapshot is durable. OUT: the state in
 * *st, *exists; the value row key in *key. For a map only the type is
 * checked: *exists says whether it exists. */
int cw_txn_obj_read(cw_tx *t, const void *k, size_t kl, int type, cw_buf *key,
    cw_buf *st, bool *exists);
/* The write side of an operation on object k of `type`: checks the
 * arguments, the type (creating the object if new) and the value's size
 * vl, and builds the value row key into *key. */
int cw_txn_obj_write(
    cw_tx *t, const void *k, size_t kl, int type, size_t vl, cw_buf *key);

/* ---- tags.c ---- */

/* Loads the tag floor at open. Returns 0 or CW_EIO. */
int cw_txn_tags_load(cw_db *db);
/* Puts t's tag for its commit as seq (vector vc) into wb. Caller holds
 * commit_mu. */
void cw_txn_tag_stage_locked(
    cw_tx *t, uint64_t seq, const cw_vc *vc, rocksdb_writebatch_t *wb);
/* After local commit seq: every 1,024 seqs, prunes the tags older than
 * the last tags_kept seqs. Caller holds no engine lock. */
void cw_txn_tags_prune(cw_db *db, uint64_t seq);

#endif /* CW_TXN_INT_H */
