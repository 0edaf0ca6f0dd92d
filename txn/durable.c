/*
 * durable.c - group commit and the durable snapshot (DESIGN section 4).
 *
 * A commit is written with the WAL sync off, under commit_mu, so that the
 * critical section stays short; it is durable only once a later
 * rocksdb_flush_wal(sync) returns. Every commit and remote apply takes a
 * ticket (db->ncommit after it); cw_txn_wait_durable(ticket) returns once
 * the ticket is covered by a sync. The first waiter that finds no sync
 * running becomes the leader: it gathers the commits of everybody who is
 * about to commit (the commit delay, at most half a sync), takes the
 * state vector, the ticket and a RocksDB snapshot together under
 * commit_mu, syncs, and wakes the rest.
 *
 * That snapshot is the durable state. Once its sync returned it is
 * published as db->dsnap, and a transaction whose session it covers
 * begins on it (tx.c) without waiting for anything: nothing it shows can
 * be taken back by a crash. While a durable snapshot is referenced it
 * stays on db->live, oldest first, so that the conflict table (commit.c)
 * keeps every entry that a transaction on it could still conflict with.
 *
 * Threading: sync_mu guards the durable counter, the state vector at it
 * and the leader's flag; dsnap_mu (a leaf) the snapshots and their
 * references. The leader takes commit_mu only after releasing sync_mu.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "txn_int.h"

/* Microseconds of the monotonic clock. */
static uint64_t
mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Drops a reference to d (NULL: none). Caller holds dsnap_mu. */
static void
dsnap_unref_locked(cw_db *db, struct dsnap *d)
{
	assert(cw_mutex_held(&db->dsnap_mu));
	assert(d == NULL || d->refs > 0);
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
	assert(cw_mutex_held(&db->commit_mu));
	struct dsnap *d = cw_calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->snap   = rocksdb_create_snapshot(db->base);
	d->vc     = *vc;
	d->ticket = ticket;
	d->refs   = 1;
	cw_mutex_lock(&db->dsnap_mu);
	/* taken in commit order: the newest is the last of the live ones */
	struct dsnap **p = &db->live, *prev = NULL;
	while (*p != NULL) {
		prev = *p;
		p    = &(*p)->next;
	}
	assert(prev == NULL || prev->ticket <= ticket);
	d->prev = prev;
	*p      = d;
	cw_mutex_unlock(&db->dsnap_mu);
	return d;
}

/* Makes d (NULL: none) the snapshot new transactions begin on, now that
 * it is durable; the leader's reference becomes db->dsnap's. */
static void
dsnap_publish(cw_db *db, struct dsnap *d)
{
	cw_mutex_lock(&db->dsnap_mu);
	dsnap_unref_locked(db, db->dsnap);
	db->dsnap = d;
	cw_mutex_unlock(&db->dsnap_mu);
}

struct dsnap *
cw_txn_dsnap_ref(cw_db *db, const cw_vc *need)
{
	struct dsnap *d = NULL;
	cw_mutex_lock(&db->dsnap_mu);
	if (db->dsnap != NULL &&
	    (need == NULL || cw_causal_vc_dominates(&db->dsnap->vc, need))) {
		d = db->dsnap;
		d->refs++;
	}
	cw_mutex_unlock(&db->dsnap_mu);
	return d;
}

void
cw_txn_dsnap_unref(cw_db *db, struct dsnap *d)
{
	if (d == NULL)
		return;
	cw_mutex_lock(&db->dsnap_mu);
	dsnap_unref_locked(db, d);
	cw_mutex_unlock(&db->dsnap_mu);
}

uint64_t
cw_txn_dsnap_floor(cw_db *db, uint16_t dc, uint64_t floor)
{
	cw_mutex_lock(&db->dsnap_mu);
	if (db->live != NULL && db->live->vc.v[dc] < floor)
		floor = db->live->vc.v[dc];
	cw_mutex_unlock(&db->dsnap_mu);
	return floor;
}

void
cw_txn_dsnap_fini(cw_db *db)
{
	if (db->dsnap != NULL) {
		assert(db->dsnap->refs == 1 && db->live == db->dsnap);
		rocksdb_release_snapshot(db->base, db->dsnap->snap);
		cw_free(db->dsnap);
		db->dsnap = db->live = NULL;
	}
}

int
cw_txn_wait_durable(cw_db *db, uint64_t ticket)
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
		cw_mutex_lock(&db->commit_mu);
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
			    cw_mutex_wait(&db->commit_mu, &db->applied_cv,
			        &dl) != ETIMEDOUT)
				;
		}
		uint64_t target    = db->ncommit;
		cw_vc    synced    = db->S; /* what this sync makes durable */
		struct dsnap *snap = dsnap_take_locked(db, &synced, target);
		cw_mutex_unlock(&db->commit_mu);
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
			cw_txn_rdb_err(err, "sync WAL");
			cw_txn_dsnap_unref(db, snap);
			rc = CW_EIO;
			break;
		}
		if (target > db->durable) {
			assert(
			    cw_causal_vc_dominates(&synced, &db->durable_S));
			db->last_batch = target - db->durable;
			db->durable    = target;
			db->durable_S  = synced;
			dsnap_publish(db, snap);
		} else {
			cw_txn_dsnap_unref(db, snap);
		}
	}
	pthread_mutex_unlock(&db->sync_mu);
	return rc;
}

int
cw_db_wait_ticket(cw_db *db, uint64_t ticket)
{
	return cw_txn_wait_durable(db, ticket);
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
cw_db_sync(cw_db *db)
{
	cw_mutex_lock(&db->commit_mu);
	uint64_t ticket = db->ncommit;
	cw_mutex_unlock(&db->commit_mu);
	return cw_txn_wait_durable(db, ticket);
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
