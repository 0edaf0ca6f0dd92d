/*
 * server.h - causewayd's client service (DESIGN section 5): requests of
 * schema/proto.fbs over nng's req/rep wire, run against one DC's database.
 *
 * Requests come through the wire (wire.h: nng's rep0 protocol on the
 * server's own epoll threads). A request that cannot wait (a begin or
 * read on the latest durable state, an abort, a commit of a transaction
 * that needs no wait and holds no escrow operation) is served on the I/O
 * thread that read it; any other goes to a queue of worker threads. A commit's
 * reply may go out only once the commit is durable: it is handed to the syncer
 * thread, which waits once for the newest commit of all those queued (one
 * group sync) and then sends their replies, so no worker sleeps on a sync.
 * Interactive transactions live in a table under a transaction id until
 * committed, aborted, or idle for longer than the idle timeout (then
 * aborted and their snapshot released). A request that changes something
 * (writes, the commit of an interactive transaction, a user change) is
 * remembered by its (session, request) id (the last 65,536 and 64 MiB of
 * replies, the oldest forgotten first; replycache.h), so that a copy
 * resent after a broken connection gets the first reply instead of
 * running twice; the reply enters that cache only once durable. Each
 * such commit also leaves a tag in the store (cw_tx_tag), loaded by
 * cw_server_new: a copy resent from before a restart is answered from
 * the tags where they cover it (docs/design.md, "Commit tags").
 *
 * cw_server_handle is the whole request path without the network, in
 * the caller's thread (the sync wait included): the tests and the fuzz
 * target call it; the network path runs the same steps.
 *
 * Threading: every function is thread-safe. Each table slot has a mutex,
 * held while a request runs on that transaction; tbl_mu guards the free
 * list; the reply cache has its own mutex; the workers' queue and the syncer's
 * have a mutex each; the table of tags is read-only once loaded. A
 * request is touched by one thread at a time: the
 * I/O thread, then the worker or the syncer it was queued to.
 */
#ifndef CW_SERVER_H
#define CW_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "escrow.h"
#include "replica.h"
#include "txn.h"
#include "util.h"
#include "wire.h"

typedef struct cw_server cw_server;

typedef struct {
	uint32_t workers;        /* worker threads (default 64) */
	uint32_t io_threads;     /* the wire's I/O threads (default 4) */
	uint32_t max_txns;       /* open transactions (default 4096) */
	uint32_t max_txns_addr;  /* of them, opened from one client address
	                          * (1,024; 0: any; ipc:// ones excepted) */
	uint32_t max_waits_addr; /* begins from one address waiting for the
	                          * DC to catch up with their session, each
	                          * on a worker (16; 0: any) */
	uint64_t idle_ms;        /* idle timeout (default 10,000) */
	uint64_t
	       session_wait_ms;  /* begin's wait for a session clock (1,000) */
	size_t max_msg;          /* bytes in a request (default 16 MiB) */
	size_t max_ops;          /* operations in one request (100,000) */
	cw_escrow *escrow;       /* borrowed, outlives the server: its figures
	                          * go in status replies (NULL: zeros) */
	struct cw_tls_conf *tls; /* borrowed, outlives the server: for
	                          * tls+tcp:// client URLs (sec.h) */
	cw_wire_limits wire;     /* what one client may hold (wire.h) */
} cw_server_opts;

void cw_server_opts_default(cw_server_opts *o);

/* A server on db (borrowed; it must outlive the server). OUT: *out.
 * Loads db's commit tags, then starts the idle reaper thread. Returns 0,
 * CW_EINVAL, CW_ENOMEM, or CW_EPROTO or CW_EIO (the tags could not be
 * read; logged). */
int cw_server_new(cw_server **out, cw_db *db, const cw_server_opts *o);
/* Handles one request (bytes from outside, borrowed) and writes the reply
 * into out (appending). Returns 0, or CW_ENOMEM if no reply could be
 * built; every other failure is an error reply. */
int cw_server_handle(cw_server *s, const void *req, size_t len, cw_buf *out);
/* Listens on url (tcp:// or ipc://) and starts the workers; may be called
 * for several URLs. Returns 0, CW_EINVAL (bad URL) or CW_EUNAVAIL (cannot
 * listen; logged). */
int cw_server_listen(cw_server *s, const char *url);
/* Stops listening and waits for the workers and the syncer: requests in
 * flight finish, and every commit's reply waits for its sync. */
void cw_server_stop(cw_server *s);
/* Stops, aborts every open transaction and frees s. NULL is a no-op. */
void cw_server_free(cw_server *s);

/* Lets Status report r's links (borrowed; NULL: none). Call before
 * listening. */
void cw_server_set_replica(cw_server *s, cw_replica *r);

/* Adds the first admin (users.h, CW_ADMIN_USER) with password
 * pw[0..len) if the DC has no user yet. Returns 1 (added), 0 (there were
 * users) or an error (CW_EINVAL: not a password; or a commit's). */
int cw_server_add_admin(cw_server *s, const char *pw, size_t len);
/* Whether users are on: every request needs a login. */
bool cw_server_users_on(cw_server *s);

/* Open transactions now (for tests and status). */
uint32_t cw_server_open_txns(cw_server *s);

#endif /* CW_SERVER_H */
