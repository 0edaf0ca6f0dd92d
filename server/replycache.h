/*
 * replycache.h - causewayd's reply cache: the replies to the last requests
 * that changed something, by (session id, request id), so that a copy of
 * a request resent after a lost reply or a broken connection gets the
 * first reply instead of running twice (DESIGN section 6, "exactly once";
 * client/net.h resends). Internal to server/.
 *
 * A ring of CW_RCACHE_SIZE entries in the order the requests arrived,
 * found through hash chains: the oldest request is forgotten first,
 * whatever its id, and the arrival time of the newest forgotten one (the
 * floor) tells the server whether a resent copy may be one the cache has
 * forgotten. An entry is pending while its request runs (a copy of it
 * waits, at most CW_RCACHE_WAIT_MS) and done once the reply is in; a
 * reply over CW_RCACHE_MAX_REPLY is not kept (a copy is refused with
 * CW_EUNAVAIL: its outcome cannot be told again), and past
 * CW_RCACHE_BYTES of replies kept the oldest are dropped the same way:
 * the cache holds at most CW_RCACHE_BYTES + CW_RCACHE_MAX_REPLY bytes of
 * replies, whatever they are. The server puts in it only the requests
 * that change something (a read runs again harmlessly).
 *
 * Threading: thread-safe; mu guards everything, cv wakes the copies that
 * wait for a pending entry.
 */
#ifndef CW_REPLYCACHE_H
#define CW_REPLYCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define CW_RCACHE_SIZE 65536
#define CW_RCACHE_MAX_REPLY (1u << 20)
#define CW_RCACHE_BYTES (64u << 20)
#define CW_RCACHE_WAIT_MS 30000

typedef struct cw_rcache cw_rcache;

/* What cw_rcache_begin found. */
enum {
	CW_RCACHE_NEW      = 0, /* unknown: the caller owns a new entry */
	CW_RCACHE_ANSWERED = 1, /* ran before: its reply is in out */
	CW_RCACHE_BUSY     = 2, /* nowait only: a copy runs; nothing taken */
};

/* OUT: *out, an empty cache. Returns 0 or CW_ENOMEM. */
int cw_rcache_new(cw_rcache **out);
/* Frees c. NULL is a no-op. */
void cw_rcache_free(cw_rcache *c);

/* Looks up request (sid, rid). If a copy of it is running, waits for its
 * reply (at most CW_RCACHE_WAIT_MS), unless nowait. Returns CW_RCACHE_NEW
 * (call cw_rcache_end with its reply), CW_RCACHE_ANSWERED (the first
 * reply, or a CW_EUNAVAIL reply if it is not kept, appended to out),
 * CW_RCACHE_BUSY, or CW_ENOMEM (nothing taken, out unchanged). OUT:
 * *floor, the arrival time (wall ms) of the newest request forgotten (0:
 * none yet). */
int cw_rcache_begin(cw_rcache *c, uint64_t sid, uint64_t rid, bool nowait,
    cw_buf *out, uint64_t *floor);
/* Records the reply of a request that cw_rcache_begin gave the caller,
 * and wakes its waiting copies. If the entry was forgotten meanwhile,
 * does nothing. */
void cw_rcache_end(
    cw_rcache *c, uint64_t sid, uint64_t rid, const cw_buf *reply);
/* Bytes of the replies kept now. */
size_t cw_rcache_bytes(cw_rcache *c);

#endif /* CW_REPLYCACHE_H */
