/*
 * replica.h - DC-to-DC shipping of transactions (DESIGN sections 3, 5).
 *
 * Each DC runs a receiver on its --peer-listen URL and one sender per
 * other DC. A sender ships, in batches over nng req/rep, the log records
 * its peer has not acknowledged: for every origin k (its own and, as
 * forwarding, every other) the records after the peer's acknowledged
 * S[k], up to this DC's *durable* S[k], so nothing leaves before it is
 * durable here (and so at its origin). The peer applies a batch with
 * cw_db_apply_remote in passes until no record becomes ready, drops what
 * is not ready (the sender ships it again after the next ack: the ack is
 * the back-pressure, and nothing queues without bound), and acknowledges
 * with its durable state vector. An empty batch is a heartbeat; a sender
 * with nothing to ship sends one every heartbeat interval, so each DC
 * knows which peers are alive and how far behind each is. After a
 * partition or a restart a sender resumes from the acknowledged vector;
 * nng redials by itself.
 *
 * Escrow (escrow.h): every batch to a peer carries the wants that peer
 * should serve (cw_escrow_pick), and a receiver grants what a batch asks
 * (cw_escrow_grant); the grant travels back as an ordinary transaction.
 * The pruner thread also runs cw_escrow_tick twice a second.
 *
 * The log is pruned: for every origin, the records every peer has
 * acknowledged, less the last log_retain of them (the last record of each
 * origin always stays). A peer that is down holds the floor where it was.
 *
 * The handshake is in every batch: the sender's id must be a configured
 * peer and its deployment fingerprint (cw_replica_fingerprint: cluster
 * name and number of DCs) must equal the receiver's, or the batch is
 * refused with CW_EFORMAT. A refused batch is answered without the
 * receiver's state vector: a stranger learns nothing.
 *
 * With a cw_sec (sec.h) both ends speak TLS and authenticate each other:
 * the listener takes only certificates of the deployment CA, a sender
 * dials DC j only if its certificate names dc-<j>, and each connection
 * the listener accepts is bound to one DC id by the challenge of sec.h
 * (CW_EAUTH with a nonce, then the sender's proof, once per connection).
 * A batch from a connection bound to another id, or with a bad proof, is
 * refused with CW_EAUTH, logged once per connection, and nothing of it
 * is applied.
 *
 * Threading: cw_replica_status is thread-safe. Each sender thread owns
 * its link; link_mu guards the status fields the other threads read.
 * auth_mu guards the receivers' table of connections (pipes) and what
 * each is bound to; nng's pipe callback removes closed ones.
 */
#ifndef CW_REPLICA_H
#define CW_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

#include "causal.h"
#include "escrow.h"
#include "sec.h"
#include "txn.h"

typedef struct cw_replica cw_replica;

typedef struct {
	uint16_t    id;
	const char *url; /* its --peer-listen URL */
} cw_peer_conf;

typedef struct {
	const char  *listen; /* this DC's --peer-listen URL */
	cw_peer_conf peers[CW_MAX_DC];
	int          npeers;
	uint64_t     fingerprint;
	uint64_t     heartbeat_ms; /* default 50 */
	uint64_t timeout_ms;   /* a call longer than this: link down (1000) */
	size_t   batch_bytes;  /* records in one batch (1 MiB) */
	int64_t  grant_margin; /* rights granted beyond what was asked (16) */
	bool     no_forward;   /* ship only this DC's own records (false:
	                        * also forward other DCs', so a DC reaches
	                        * another through a third) */
	uint64_t log_retain;   /* per origin, records kept below what every
	                        * peer acknowledged (100,000; UINT64_MAX: never
	                        * prune) */
	cw_escrow *escrow;     /* borrowed, outlives the replica; NULL: no
	                        * wants shipped, no grants served */
	cw_sec *sec;           /* borrowed, outlives the replica; NULL: plain
	                        * links (tcp://, ipc://), no authentication;
	                        * else every URL is tls+tcp:// */
} cw_replica_opts;

/* Fills the defaults (no listen URL, no peers). */
void cw_replica_opts_default(cw_replica_opts *o);

/* The fingerprint of a deployment: its name and number of DCs, which every
 * DC must agree on (peer URLs may differ by viewpoint: proxies, NAT). */
uint64_t cw_replica_fingerprint(const char *cluster, uint32_t ndc);

/* Starts the receiver and the senders on db (borrowed; it must outlive
 * the replica). OUT: *out. Returns 0, CW_EINVAL (bad options, or a peer
 * URL nng refuses; logged), CW_ENOMEM, or CW_EUNAVAIL (cannot listen, or
 * cannot start a thread; logged). */
int cw_replica_start(cw_replica **out, cw_db *db, const cw_replica_opts *o);
/* Stops and joins every thread, closes the sockets, frees r. NULL: no-op.
 */
void cw_replica_stop(cw_replica *r);

typedef struct {
	uint16_t id;
	bool     up;           /* the last call got an ack */
	uint64_t heard_ms_ago; /* since the last ack (UINT64_MAX: never) */
	cw_vc    acked;        /* its acknowledged (durable) vector */
	uint64_t behind;       /* records this DC has that it lacks */
	uint64_t lag_ms;       /* how long it has been behind (0: not) */
	uint64_t forwarded;    /* records of other origins than this DC
	                        * it acknowledged, since start */
} cw_peer_status;

/* OUT: out[0..n) for the n peers (at most max). Returns n. */
int cw_replica_status(cw_replica *r, cw_peer_status *out, int max);

#endif /* CW_REPLICA_H */
