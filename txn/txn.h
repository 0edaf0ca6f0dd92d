/*
 * txn.h - a DC's database: snapshot-isolated transactions over CRDT objects,
 * the transaction log, and the application of remote records (DESIGN
 * sections 1, 3 and 4).
 *
 * Storage (one RocksDB database per DC, opened as an
 * OptimisticTransactionDB for its write path; txn/ tracks conflicts
 * itself):
 *
 *   | column family | key                                  | value          |
 *   | data          | klen u16 BE, key                     | type row       |
 *   | data          | klen u16 BE, key, 0x01               | value row      |
 *   | data          | klen u16 BE, key, 0x00, field        | map field row  |
 *   | log           | origin u16 BE, seq u64 BE            | TxnRecord bytes|
 *   | meta          | "format", "dc", "ndc", "fingerprint" | see db.c       |
 *   | meta          | "tag/" seq u64 BE; "tagfloor"        | see tags.c     |
 *   | meta          | "pruned/" origin u16 BE              | see log.c      |
 *
 * Every update is a CRDT operand written with Merge into `data`; the merge
 * operator is crdt/'s cw_crdt_merge. The type row holds the object's type,
 * written once by the transaction that creates the object, so that a type
 * check reads two bytes whatever the object's size. A commit writes its
 * operands, its log record and its commit tag in one RocksDB write batch.
 * Register and map-field rows are tracked in the engine's own conflict
 * table (commit.c), so the first local committer wins (CW_ECONFLICT for the
 * other); counter, set, bcounter and type-row operands are not tracked and
 * never conflict. A bounded decrement is
 * checked against this DC's rights when it is issued and again at commit,
 * under the commit lock, against the latest state.
 *
 * Commits are ordered by one short critical section (commit_mu) that
 * assigns seq = S[dc] + 1 and the HLC time, commits with sync off and
 * advances S. The WAL fsync happens after it and is shared by every
 * committer waiting (group commit); a commit returns only once durable. A
 * snapshot and its state vector are taken together under commit_mu. A
 * commit is visible before it is synced, and no caller may see a state a
 * crash could take back. So a transaction begins on the latest durable
 * state (a snapshot the sync leader took with its vector, published once
 * the sync returned) when that state includes the session's `need`:
 * nothing it reads waits. Otherwise it begins on the latest state, and
 * before it shows its caller anything of it (a value, CW_ETYPE,
 * CW_ENORIGHTS) it waits until all of it is durable (at most one group
 * sync). A write-only transaction never waits for that: its commit is
 * durable only once all that precedes it in the WAL is.
 *
 * Recovery: S[k] is the seq of the last log record of origin k (records of
 * one origin are applied contiguously), the HLC the largest time among
 * them. No separate counter can disagree with the log.
 *
 * Threading: cw_db is thread-safe. commit_mu guards S, the HLC, the
 * commit counter and the conflict table; sync_mu guards the durable
 * counter and the syncing flag; dsnap_mu (a leaf) the durable snapshot
 * and its references; tag_mu (a leaf) the tag floor. The files of txn/
 * and what each holds: txn_int.h.
 * A cw_tx is owned by one thread at a time; different threads may run
 * different transactions at once.
 */
#ifndef CW_TXN_H
#define CW_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "causal.h"
#include "causeway.h"
#include "schema.h"

typedef struct cw_db cw_db;
typedef struct cw_tx cw_tx;

typedef struct {
	uint16_t dc;            /* this DC's id, < ndc */
	uint32_t ndc;           /* DCs in the deployment, 1..CW_MAX_DC */
	size_t   max_value;     /* bytes in a value or set element */
	size_t   max_txn_ops;   /* operations in one transaction */
	size_t   max_txn_bytes; /* bytes of effects in one transaction */
	bool     sync;          /* fsync the WAL before a commit returns */
	uint64_t fingerprint;   /* configuration fingerprint; 0: not checked */
	uint64_t tags_kept;     /* commit tags kept: those of the last
	                         * tags_kept seqs of this DC (131,072; 0:
	                         * all) */
	int max_open_files;     /* RocksDB's table files open at once (512;
	                         * -1: no bound, as RocksDB's own default) */
	uint64_t max_clock_skew_ms; /* a remote record stamped further ahead
	                             * of this DC's clock is held back (500;
	                             * 0: no check) */
	int    wal_recovery;        /* CW_WAL_* (CW_WAL_ABSOLUTE) */
	size_t memtable_bytes;      /* RocksDB's memtables together, all column
	                             * families (128 MiB; 0: RocksDB's own
	                             * default, 128 MiB for each family) */
	size_t cache_bytes;         /* the block cache the families share (32
	                             * MiB; 0: RocksDB's own, 8 MiB for each) */
	/* Called once, on the thread whose write found it, when RocksDB
	 * stops writes for an error that only a reopen clears (an I/O error
	 * on the WAL: RocksDB's fatal background error); every later write
	 * fails with CW_EIO. why: RocksDB's message. NULL: only logged.
	 * causewayd restarts itself (server/main.c). */
	void (*on_fatal)(void *arg, const char *why);
	void *fatal_arg;
} cw_db_opts;

/* What opening does with a damaged write-ahead log. */
enum {
	/* refuse to open (CW_ECORRUPT): an acknowledged commit is never
	 * dropped in silence */
	CW_WAL_ABSOLUTE = 0,
	/* open with what precedes the damage, dropping the rest (RocksDB's
	 * point-in-time recovery): the operator's choice, logged */
	CW_WAL_POINT_IN_TIME = 1,
};

/* Fills o with the defaults: DC 0 of 1, 1 MiB values, 100,000 operations
 * and 64 MiB per transaction, sync on. */
void cw_db_opts_default(cw_db_opts *o);

/* Opens or creates the database in directory dir. OUT: *out (free with
 * cw_db_close). Returns 0, CW_EINVAL (bad options), CW_ENOMEM, CW_EIO
 * (RocksDB failed; logged), CW_ECORRUPT (a damaged log or file; logged,
 * nothing changed) or CW_EFORMAT (dir belongs to another DC, another
 * deployment, or holds an unknown format). */
int cw_db_open(cw_db **out, const char *dir, const cw_db_opts *o);
/* Checks the database in dir without changing it (read-only, and
 * offline: no process may have it open): replays its write-ahead log
 * strictly, verifies the checksum of every block of every table file,
 * and decodes every log record. Writes what it found to out, a line per
 * finding. OUT: *state (if not NULL), the state vector recovered.
 * Returns 0 (sound), CW_ECORRUPT, CW_EFORMAT (not a Causeway directory)
 * or CW_EIO. */
int cw_db_check(const char *dir, FILE *out, cw_vc *state);
/* Closes db. Every cw_tx of it must be freed first. NULL is a no-op. */
void cw_db_close(cw_db *db);

uint16_t cw_db_dc(const cw_db *db);
uint32_t cw_db_ndc(const cw_db *db);
/* OUT: *out, the current state vector S. */
void cw_db_state(cw_db *db, cw_vc *out);
/* Waits until S dominates need, at most wait_ms. Returns 0 or
 * CW_EUNAVAIL. */
int cw_db_wait_for(cw_db *db, const cw_vc *need, uint64_t wait_ms);

/* Begins a transaction on a snapshot that includes `need` (NULL: none),
 * waiting up to wait_ms for the DC to apply it: the latest durable state
 * if it includes need, else the latest state. OUT: *out (free with
 * cw_tx_free). Returns 0, CW_EUNAVAIL, CW_ENOMEM or CW_EIO. */
int cw_tx_begin(cw_db *db, const cw_vc *need, uint64_t wait_ms, cw_tx **out);
/* Begins on the latest durable state if it includes need, without waiting
 * for anything; else returns CW_EUNAVAIL at once (cw_tx_begin may still
 * succeed). Returns 0, CW_EUNAVAIL or CW_ENOMEM. */
int cw_tx_begin_nowait(cw_db *db, const cw_vc *need, cw_tx **out);
/* True if no read of t waits for a sync: its snapshot is known durable
 * (it began on the durable state, or has already waited once). Writes and
 * reads still take short engine locks; only a commit and a waiting
 * bounded decrement (cw_tx_bcounter_add_wait) wait for other threads. */
bool cw_tx_nowait(const cw_tx *t);
/* OUT: *out, the state vector of t's snapshot. */
void cw_tx_snapshot(const cw_tx *t, cw_vc *out);
/* True once t has shown its caller anything of its snapshot (which is then
 * durable): a session that aborts t has still seen the snapshot. */
bool cw_tx_observed(const cw_tx *t);
/* Commits t (which stays allocated; free it with cw_tx_free). OUT:
 * *commit_vc (if not NULL): the snapshot vector with this DC's entry set
 * to the commit's seq (for a read-only transaction, the snapshot vector).
 * Returns 0 once durable, CW_ECONFLICT, CW_ENORIGHTS, CW_EIO, CW_ENOMEM, or
 * CW_ESTATE if t was already committed or aborted. On error nothing of t
 * is applied. */
int cw_tx_commit(cw_tx *t, cw_vc *commit_vc);
/* cw_tx_commit without its wait for durability, for a caller that waits
 * for many commits at once (causewayd's syncer). OUT: *ticket: 0 if the
 * outcome may be told now; otherwise it may be told only once
 * cw_db_wait_ticket(db, *ticket) has returned 0 (a commit, a read-only
 * transaction whose snapshot was not yet shown, or a conflict or refusal,
 * which reveals other commits). Returns as cw_tx_commit, except that 0
 * means committed, durable once the ticket is. */
int cw_tx_commit_nosync(cw_tx *t, cw_vc *commit_vc, uint64_t *ticket);
/* Returns once commit ticket `ticket` is durable (one group sync at most,
 * shared with every other waiter): 0 or CW_EIO. */
int cw_db_wait_ticket(cw_db *db, uint64_t ticket);
/* True if ticket is durable now; never waits. */
bool cw_db_ticket_durable(cw_db *db, uint64_t ticket);
/* Aborts t if still active, and frees it. NULL is a no-op. */
void cw_tx_free(cw_tx *t);

/* Commit tags, so that a server can tell after a restart whether a request
 * it got before committed: cw_tx_tag marks t's commit with a request id
 * (sid, rid), written in the same atomic batch as the commit, with the
 * commit's wall-clock time and vector. Nothing is written for a read-only
 * or failed commit. The tags of the last tags_kept seqs of this DC are
 * kept; older ones are pruned every 1,024 seqs. */
void cw_tx_tag(cw_tx *t, uint64_t sid, uint64_t rid);
typedef int (*cw_tag_fn)(void *arg, uint64_t sid, uint64_t rid,
    uint64_t commit_ms, const cw_vc *commit_vc);
/* Calls fn for every kept tag, oldest first, until it returns non-zero.
 * OUT: *floor_ms: every tag pruned so far committed at or before it (0:
 * none pruned), so every commit tagged after it is listed. Returns 0,
 * fn's result, CW_EPROTO (a corrupt tag) or CW_EIO. */
int cw_db_tags(cw_db *db, cw_tag_fn fn, void *arg, uint64_t *floor_ms);

/* Object operations with the meaning and errors of causeway.h; after
 * commit or abort they return CW_ESTATE. */
int cw_tx_reg_put(
    cw_tx *t, const void *k, size_t kl, const void *v, size_t vl);
int cw_tx_reg_get(cw_tx *t, const void *k, size_t kl, void **v, size_t *vl);
int cw_tx_counter_add(cw_tx *t, const void *k, size_t kl, int64_t delta);
int cw_tx_counter_get(cw_tx *t, const void *k, size_t kl, int64_t *out);
int cw_tx_bcounter_add(cw_tx *t, const void *k, size_t kl, int64_t delta);
int cw_tx_bcounter_get(cw_tx *t, const void *k, size_t kl, int64_t *out);
int cw_tx_bcounter_rights(cw_tx *t, const void *k, size_t kl, int64_t *out);
int cw_tx_bcounter_transfer(
    cw_tx *t, const void *k, size_t kl, int64_t n, int to_dc);
/* A decrement (delta < 0) that, when this DC's rights do not cover it,
 * asks for rights (the want hook, cw_db_hooks) and waits up to wait_ms for
 * them to arrive; then it is checked again at commit like any decrement.
 * Returns 0, CW_ENORIGHTS (not covered in time), or the errors of
 * cw_tx_bcounter_add. wait_ms = 0: fail fast, still asking. */
int cw_tx_bcounter_add_wait(
    cw_tx *t, const void *k, size_t kl, int64_t delta, uint64_t wait_ms);
int cw_tx_set_add(
    cw_tx *t, const void *k, size_t kl, const void *e, size_t el);
int cw_tx_set_remove(
    cw_tx *t, const void *k, size_t kl, const void *e, size_t el);
int cw_tx_set_contains(
    cw_tx *t, const void *k, size_t kl, const void *e, size_t el, bool *out);
int cw_tx_set_members(cw_tx *t, const void *k, size_t kl, cw_list **out);
int cw_tx_map_put(cw_tx *t, const void *k, size_t kl, const char *field,
    const void *v, size_t vl);
int cw_tx_map_remove(cw_tx *t, const void *k, size_t kl, const char *field);
int cw_tx_map_get(cw_tx *t, const void *k, size_t kl, const char *field,
    void **v, size_t *vl);
int cw_tx_map_fields(cw_tx *t, const void *k, size_t kl, cw_list **out);

/* Runs one operation (schema.h) on t: the call of causeway.h it names,
 * with that call's meaning and errors. A transfer's target DC is the one
 * byte of op->val. OUT: *res (cw_result_fini), with res->err the result.
 * Returns res->err; CW_EINVAL for an unknown operation. */
int cw_tx_exec(cw_tx *t, const cw_op *op, cw_result *res);

/* OUT: *out, DC dc's rights for k in the latest state (0 if k is no
 * bounded counter). Returns 0, CW_ENOMEM or CW_EIO. */
int cw_db_rights(
    cw_db *db, const void *k, size_t kl, uint16_t dc, int64_t *out);
/* OUT: *out, the rights DC dc has received by transfers for k, in the
 * latest state. Returns 0, CW_ETYPE (k is no bounded counter; *out 0),
 * CW_ENOMEM or CW_EIO. */
int cw_db_received(
    cw_db *db, const void *k, size_t kl, uint16_t dc, uint64_t *out);

/* Hooks through which the engine tells the layer above it (escrow/) about
 * bounded counters, without knowing it. Each is called on the thread that
 * runs the transaction, holding no engine lock, and may read the latest
 * state (cw_db_rights) but must not begin a transaction. NULL: not told.
 *
 *   want:   a decrement of k found this DC's rights `missing` short; it is
 *           refused (cw_tx_bcounter_add) or waits (_add_wait)
 *   demand: n rights of k were spent by a commit (refused false), or a
 *           decrement of n was refused (refused true) */
typedef struct {
	void *arg;
	void (*want)(void *arg, const void *k, size_t kl, int64_t missing);
	void (*demand)(
	    void *arg, const void *k, size_t kl, uint64_t n, bool refused);
} cw_db_hooks;
/* Sets db's hooks (copied; NULL: none). Call it before any transaction
 * runs on db, or once none does any more. */
void cw_db_set_hooks(cw_db *db, const cw_db_hooks *h);

/* What cw_db_apply_remote did with a record. */
enum { CW_APPLY_APPLIED = 1, CW_APPLY_DUPLICATE = 2, CW_APPLY_NOT_READY = 3 };

/* Applies a transaction record of another DC (bytes from outside,
 * borrowed): verifies it, and if it is causally ready (S[origin] == seq - 1
 * and S[k] >= deps[k] for the other k) applies all its effects and stores
 * it in the log in one atomic write, advances S[origin] and returns once
 * durable. OUT: *result, one of CW_APPLY_*: a record already covered by S
 * is a duplicate and changes nothing; one whose dependencies are missing
 * is not ready and changes nothing, and so is one whose HLC is more than
 * max_clock_skew_ms ahead of this DC's wall clock (logged: applied, it
 * would win every register it writes against any later local write, and
 * drag this DC's HLC along; held back, it applies once the clock catches
 * up, or never if the sender's clock is broken). Returns 0, CW_EPROTO (not a
 * valid record, or from this DC or an unknown one), CW_ETOOBIG, CW_ENOMEM or
 * CW_EIO; on error nothing is applied. */
int cw_db_apply_remote(cw_db *db, const void *rec, size_t len, int *result);
/* The same without waiting for durability: the caller applies many, then
 * calls cw_db_sync once (one fsync for all) before telling anyone. */
int cw_db_apply_remote_nosync(
    cw_db *db, const void *rec, size_t len, int *result);
/* Returns once everything committed or applied so far is durable. Returns
 * 0 or CW_EIO. */
int cw_db_sync(cw_db *db);

/* Reads the log record (origin, seq). OUT: *rec (free with free()) and
 * *len. Returns 0, CW_EINVAL if there is no such record, or CW_EIO. */
int cw_db_log_get(
    cw_db *db, uint16_t origin, uint64_t seq, void **rec, size_t *len);
/* OUT: *out, the state vector as of the last WAL sync: everything in it is
 * durable here (with sync off, the current S). Replication ships nothing
 * beyond it. */
void cw_db_durable_state(cw_db *db, cw_vc *out);

/* Called for each log record of a scan: (origin, seq) and its bytes,
 * borrowed for the call. Return 0 to go on, anything else to stop. */
typedef int (*cw_log_fn)(
    void *arg, uint16_t origin, uint64_t seq, const void *rec, size_t len);
/* Calls fn for the records of `origin` with from <= seq <= to, in seq
 * order, stopping after max_bytes of records. Returns 0, or CW_EIO. */
int cw_db_log_scan(cw_db *db, uint16_t origin, uint64_t from, uint64_t to,
    size_t max_bytes, cw_log_fn fn, void *arg);

/* Deletes the log records of `origin` with seq <= upto, but never its last
 * one (S is rebuilt from it at recovery). Returns 0 or CW_EIO. */
int cw_db_log_prune(cw_db *db, uint16_t origin, uint64_t upto);

/* OUT: *out, a digest of all data at one snapshot: two DCs have equal
 * digests exactly when they hold the same state (barring hash
 * collisions). Reads everything: O(data). Returns 0 or CW_EIO. */
int cw_db_digest(cw_db *db, uint64_t *out);

/* Checks the log: every record decodes and is filed under its own (origin,
 * seq); each origin's seqs run without a gap (from 1, or from where it was
 * pruned) up to S[origin]. OUT:
 * *nrecords (if not NULL). Returns 0, CW_EPROTO (logged) or CW_EIO. */
int cw_db_verify(cw_db *db, uint64_t *nrecords);

#endif /* CW_TXN_H */
