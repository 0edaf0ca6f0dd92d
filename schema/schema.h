/*
 * schema.h - the C interface to Causeway's FlatBuffers messages.
 *
 * The schemas live in the .fbs files of schema/; flatc generates C++ from them
 * and schema.cc, the only C++ in the tree besides generated code, wraps it in
 * these functions. Every buffer from outside (a socket, a file, RocksDB)
 * goes through a decode function here, which runs flatbuffers::Verifier
 * before anything reads it.
 *
 * Transaction record (record.fbs): origin, seq, HLC commit time,
 * dependency vector, and effects (row key + CRDT operand each). The record
 * stored in the log column family and the record shipped to other DCs are
 * the same bytes.
 *
 * Threading: all functions are thread-safe; a cw_rec is owned by one
 * thread.
 */
#ifndef CW_SCHEMA_H
#define CW_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CW_SCHEMA_MAX_DEPS 64

typedef struct {
	const void *key;
	size_t      keylen;
	const void *op;
	size_t      oplen;
} cw_rec_effect;

/* A decoded record. Effects are read with cw_schema_rec_effect and borrow
 * from the decoded buffer (or from rec's own aligned copy of it). */
typedef struct {
	uint16_t    origin;
	uint64_t    seq;
	uint64_t    hlc;
	uint32_t    ndeps;
	uint64_t    deps[CW_SCHEMA_MAX_DEPS];
	size_t      neffects;
	const void *root_; /* private */
	void       *own_;  /* private: aligned copy, freed by _fini */
} cw_rec;

/* Encodes a record into out (appending). deps: ndeps (1..64) entries;
 * effs: n effects, borrowed. Returns 0, CW_EINVAL or CW_ENOMEM. */
int cw_schema_rec_encode(uint16_t origin, uint64_t seq, uint64_t hlc,
    const uint64_t *deps, uint32_t ndeps, const cw_rec_effect *effs, size_t n,
    cw_buf *out);

/* Verifies and decodes buf[0..len). buf must outlive rec unless it was
 * copied (rec then owns a copy). Returns 0, CW_EPROTO (not a valid
 * record: wrong identifier, truncated, bad offsets, too many deps) or
 * CW_ENOMEM. Call cw_schema_rec_fini on success. */
int cw_schema_rec_decode(const void *buf, size_t len, cw_rec *rec);
/* Effect i < rec->neffects. OUT: *e, borrowing from the record bytes. */
void cw_schema_rec_effect(const cw_rec *rec, size_t i, cw_rec_effect *e);
void cw_schema_rec_fini(cw_rec *rec);

/*
 * Client protocol (proto.fbs).
 */

/* Operations of a transaction: one per object call of causeway.h. */
enum {
	CW_OP_REG_PUT = 1,
	CW_OP_REG_GET,
	CW_OP_COUNTER_ADD,
	CW_OP_COUNTER_GET,
	CW_OP_BCOUNTER_ADD,
	CW_OP_BCOUNTER_GET,
	CW_OP_BCOUNTER_RIGHTS,
	CW_OP_BCOUNTER_TRANSFER,
	CW_OP_SET_ADD,
	CW_OP_SET_REMOVE,
	CW_OP_SET_CONTAINS,
	CW_OP_SET_MEMBERS,
	CW_OP_MAP_PUT,
	CW_OP_MAP_REMOVE,
	CW_OP_MAP_GET,
	CW_OP_MAP_FIELDS,
	CW_OP_BCOUNTER_ADD_WAIT, /* n: delta; val: wait in ms, u32 LE */
	CW_OP_LAST = CW_OP_BCOUNTER_ADD_WAIT,
};

/* True for the operations that update (and may be buffered). */
int cw_schema_op_is_write(int op);

/* One operation. All pointers are borrowed. */
typedef struct {
	uint8_t     op;
	const void *key;
	size_t      kl;
	const void *field; /* map operations; not NUL-terminated */
	size_t      fl;
	const void *val;
	size_t      vl;
	int64_t     n; /* delta, amount, or target DC */
} cw_op;

/* The outcome of one operation. v and list are owned (cw_result_fini). */
typedef struct {
	int      err;
	bool     present; /* a register or field exists; set membership */
	void    *v;
	size_t   vl;
	int64_t  n;
	cw_list *list;
} cw_result;

void cw_result_fini(cw_result *r);

enum {
	CW_REQ_BEGIN  = 1,
	CW_REQ_READ   = 2,
	CW_REQ_COMMIT = 3,
	CW_REQ_ABORT  = 4,
	CW_REQ_STATUS = 5,
	CW_REQ_AUTH   = 6,
	CW_REQ_USER   = 7,
};

/* User requests (uop). */
enum {
	CW_UOP_ADD  = 1,
	CW_UOP_DEL  = 2,
	CW_UOP_LIST = 3,
};

#define CW_TOKEN_LEN 16 /* bytes of a session token */

#define CW_MAX_RELEASE 32 /* transaction ids a request may release */

/* A request's header; decoded, it also gives access to its operations. */
typedef struct {
	uint8_t     kind;
	uint64_t    sid, rid, txid;
	const void *clock;
	size_t      clocklen;
	size_t      nwrites, nreads;
	uint64_t    release[CW_MAX_RELEASE]; /* read-only transactions to end
	                                      * first (more: CW_EPROTO) */
	size_t      nrelease;
	uint64_t    epoch;  /* the server incarnation known at first send */
	bool        resent; /* sent again after a broken connection */
	uint64_t    age_ms; /* resent: ms since the first send (0: unknown) */
	const void *token;  /* the session's token (users on), borrowed */
	size_t      tokenlen;
	const void *user; /* Auth, User: a user name (not NUL-terminated) */
	size_t      userlen;
	const void *password; /* Auth, User add */
	size_t      pwlen;
	uint8_t     role; /* User add */
	const void *prefix;
	size_t      prefixlen;
	uint8_t     uop;   /* User: CW_UOP_* */
	const void *root_; /* private */
	void       *own_;  /* private */
} cw_req;

/* Encodes a request. Returns 0, CW_EINVAL or CW_ENOMEM. */
int cw_schema_req_encode(const cw_req *h, const cw_op *writes, size_t nw,
    const cw_op *reads, size_t nr, cw_buf *out);
/* Verifies and decodes a request (borrowing buf, or a copy it owns).
 * Returns 0, CW_EPROTO or CW_ENOMEM. Call cw_schema_req_fini on 0. */
int  cw_schema_req_decode(const void *buf, size_t len, cw_req *r);
void cw_schema_req_op(const cw_req *r, bool write, size_t i, cw_op *op);
void cw_schema_req_fini(cw_req *r);

/* A replication link, as Status reports it. */
typedef struct {
	uint16_t id;
	bool     up;
	uint64_t heard_ms;
	uint32_t nacked;
	uint64_t acked[CW_SCHEMA_MAX_DEPS];
	uint64_t behind;
	uint64_t lag_ms;
	uint64_t forwarded;
} cw_schema_peer;

/* A reply's header. */
typedef struct {
	int                   err;
	uint32_t              failed; /* 1 + index of the failed write, or 0 */
	uint64_t              txid;
	const void           *clock;
	size_t                clocklen;
	size_t                nresults;
	uint16_t              dc;
	uint32_t              ndc;
	uint32_t              nstate;
	uint64_t              state[CW_SCHEMA_MAX_DEPS]; /* applied */
	uint32_t              ndurable;
	uint64_t              durable[CW_SCHEMA_MAX_DEPS]; /* synced */
	uint64_t              digest;
	uint64_t              escrow[4]; /* requests, grants, moved, refused */
	uint64_t              requests;  /* client requests served */
	uint64_t              epoch;     /* the server's incarnation */
	const cw_schema_peer *peers;     /* encoding: npeers links, borrowed */
	size_t                npeers;
	const void           *token; /* Auth: the session's token */
	size_t                tokenlen;
	uint8_t               role; /* Auth: the user's role */
	const void           *prefix;
	size_t                prefixlen;
	const void           *root_; /* private */
	void                 *own_;  /* private */
} cw_rep;

/* A result of a decoded reply: pointers borrow from the reply. */
typedef struct {
	int         err;
	bool        present;
	const void *v;
	size_t      vl;
	int64_t     n;
	size_t      nitems;
} cw_rep_result;

/* Encodes a reply with n results (borrowed). Returns 0 or CW_ENOMEM. */
int cw_schema_rep_encode(
    const cw_rep *h, const cw_result *res, size_t n, cw_buf *out);
int  cw_schema_rep_decode(const void *buf, size_t len, cw_rep *r);
void cw_schema_rep_result(const cw_rep *r, size_t i, cw_rep_result *out);
/* Item j of result i. OUT: *p (borrowed), *len. */
void cw_schema_rep_item(
    const cw_rep *r, size_t i, size_t j, const void **p, size_t *len);
/* Peer i of a decoded Status reply. */
void cw_schema_rep_peer(const cw_rep *r, size_t i, cw_schema_peer *out);
void cw_schema_rep_fini(cw_rep *r);

/*
 * Replication (replica.fbs).
 */

typedef struct {
	uint16_t    from;
	uint64_t    fingerprint;
	uint32_t    nstate;
	uint64_t    state[CW_SCHEMA_MAX_DEPS];
	size_t      nrecs;
	size_t      nwants;
	size_t      nchain; /* certificates of the sender's proof */
	const void *proof;  /* its signature (NULL: none), borrowed */
	size_t      prooflen;
	const void *root_; /* private */
	void       *own_;  /* private */
} cw_batch;

/* An escrow request carried by a batch. */
typedef struct {
	const void *key;
	size_t      kl;
	int64_t     amount;
	uint64_t    id;
	bool        background;
} cw_batch_want;

/* A sender's proof of identity (sec.h): its certificate chain (DER) and
 * signature, all borrowed. */
typedef struct {
	const void *const *ders;
	const size_t      *lens;
	size_t             n;
	const void        *sig;
	size_t             siglen;
} cw_batch_auth;

/* Encodes a batch of n records (recs[i], lens[i], borrowed) and, unless
 * auth is NULL, a proof of identity. Returns 0, CW_EINVAL or CW_ENOMEM. */
int cw_schema_batch_encode(uint16_t from, uint64_t fingerprint,
    const uint64_t *state, uint32_t nstate, const void *const *recs,
    const size_t *lens, size_t n, const cw_batch_want *wants, size_t nwants,
    const cw_batch_auth *auth, cw_buf *out);
/* Verifies and decodes a batch. Returns 0, CW_EPROTO or CW_ENOMEM. Call
 * cw_schema_batch_fini on 0. */
int cw_schema_batch_decode(const void *buf, size_t len, cw_batch *b);
/* Record i. OUT: *p (borrowed from the batch), *len. */
void cw_schema_batch_rec(
    const cw_batch *b, size_t i, const void **p, size_t *len);
/* Want i of a decoded batch (borrowing from it). */
void cw_schema_batch_want(const cw_batch *b, size_t i, cw_batch_want *w);
/* Certificate i of the sender's proof (DER, borrowed from the batch). */
void cw_schema_batch_cert(
    const cw_batch *b, size_t i, const void **p, size_t *len);
void cw_schema_batch_fini(cw_batch *b);

#define CW_SCHEMA_NONCE 32
/* An ack: err, the receiver's id, its durable state vector (nstate 0:
 * none) and a challenge (nonce NULL: none; else CW_SCHEMA_NONCE bytes). */
int cw_schema_ack_encode(int err, uint16_t dc, const uint64_t *state,
    uint32_t nstate, const uint8_t *nonce, cw_buf *out);
/* OUT: *err, *dc, state[0..*nstate), and *has_nonce with nonce[0..32)
 * (nonce may be NULL when the caller wants none). Returns 0 or
 * CW_EPROTO (a nonce of another length too). */
int cw_schema_ack_decode(const void *buf, size_t len, int *err, uint16_t *dc,
    uint64_t *state, uint32_t *nstate, uint8_t *nonce, bool *has_nonce);

#ifdef __cplusplus
}
#endif
#endif /* CW_SCHEMA_H */
