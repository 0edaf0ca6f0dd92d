/*
 * lock.h - a mutex that knows its owner, so that code which must run under
 * a lock can assert that it does (STYLE 13, as SQLite asserts
 * sqlite3BtreeHoldsMutex): assert(cw_mutex_held(&db->commit_mu)).
 *
 * The owner is the holder's pthread_self(), written just after the lock is
 * taken and cleared just before it is released, so it is only ever equal
 * to the calling thread's id while that thread holds the lock; another
 * thread may read it at any time (it is atomic), and what it reads is
 * never its own id. Waits on a condition go through cw_mutex_wait, which
 * hands the ownership over across the wait.
 *
 * C only (C++ has no _Atomic): util.h stays includable from C++.
 */
#ifndef CW_LOCK_H
#define CW_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

typedef struct {
	pthread_mutex_t       mu;
	_Atomic unsigned long owner; /* the holder's pthread_self(), 0: none */
} cw_mutex;

static inline void
cw_mutex_init(cw_mutex *m)
{
	pthread_mutex_init(&m->mu, NULL);
	atomic_init(&m->owner, 0);
}

static inline void
cw_mutex_fini(cw_mutex *m)
{
	pthread_mutex_destroy(&m->mu);
}

static inline void
cw_mutex_lock(cw_mutex *m)
{
	pthread_mutex_lock(&m->mu);
	atomic_store_explicit(
	    &m->owner, (unsigned long) pthread_self(), memory_order_relaxed);
}

static inline void
cw_mutex_unlock(cw_mutex *m)
{
	atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
	pthread_mutex_unlock(&m->mu);
}

/* True if the calling thread holds m. */
static inline bool
cw_mutex_held(cw_mutex *m)
{
	return atomic_load_explicit(&m->owner, memory_order_relaxed) ==
	    (unsigned long) pthread_self();
}

/* pthread_cond_wait on m (which the caller holds), or, with a deadline
 * (NULL: none), pthread_cond_timedwait. Returns 0 or ETIMEDOUT; m is held
 * again on return either way. */
static inline int
cw_mutex_wait(cw_mutex *m, pthread_cond_t *cv, const struct timespec *dl)
{
	atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
	int rc = dl ? pthread_cond_timedwait(cv, &m->mu, dl)
	            : pthread_cond_wait(cv, &m->mu);
	atomic_store_explicit(
	    &m->owner, (unsigned long) pthread_self(), memory_order_relaxed);
	return rc;
}

#endif /* CW_LOCK_H */
