/*
 * causeway.h - the Causeway client SDK.
 *
 * Causeway is a transactional causally consistent (TCC+) database. A client
 * opens a session (cw_client) on one datacenter (DC), runs snapshot-isolated
 * transactions there, and reads CRDT objects by key: registers, counters,
 * bounded counters, sets and maps (DESIGN.md sections 1, 2 and 6).
 *
 * Errors: every function that can fail returns an int, 0 (CW_OK) on success
 * or a negative CW_E* code; cw_strerror() and cw_errname() describe it.
 *
 * Ownership: values returned through `void **v` are owned by the caller and
 * freed with free(); lists are freed with cw_list_free(). Every other pointer
 * argument is borrowed for the duration of the call.
 *
 * Threading: a cw_client may be shared by several threads. A cw_txn belongs
 * to one thread at a time; different threads may run different transactions
 * of the same client at once.
 */
#ifndef CAUSEWAY_H
#define CAUSEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The one error table: it generates the enum, cw_strerror and cw_errname. */
#define CW_ERRNO_MAP(XX)                                                      \
	XX(EINVAL, -1, "invalid argument")                                    \
	XX(ENOMEM, -2, "out of memory")                                       \
	XX(EIO, -3, "storage I/O error")                                      \
	XX(ECONFLICT, -4,                                                     \
	    "write-write conflict with a concurrent transaction")             \
	XX(ENORIGHTS, -5, "not enough local rights for a bounded decrement")  \
	XX(ETIMEDOUT, -6, "timed out")                                        \
	XX(EUNAVAIL, -7, "datacenter unavailable or behind the session")      \
	XX(ETYPE, -8, "key holds an object of another type")                  \
	XX(EPROTO, -9, "malformed or corrupt message or record")              \
	XX(ETOOBIG, -10, "key, value or transaction too large")               \
	XX(EFORMAT, -11, "data directory of another DC or an unknown format") \
	XX(ESTATE, -12, "transaction is no longer active")                    \
	XX(EAUTH, -13, "authentication failed or missing")                    \
	XX(EPERM, -14, "this user may not do this")                           \
	XX(ECORRUPT, -15, "stored data failed its checksum: see the DC's log")

enum cw_err {
	CW_OK = 0,
#define CW_XX_ENUM(name, code, msg) CW_##name = (code),
	CW_ERRNO_MAP(CW_XX_ENUM)
#undef CW_XX_ENUM
};

/* Human-readable text of an error code ("unknown error" if unknown). */
const char *cw_strerror(int err);
/* The code's name without prefix, e.g. "ECONFLICT". */
const char *cw_errname(int err);

typedef struct cw_client
                       cw_client; /* a session: a connection + causal clock */
typedef struct cw_txn  cw_txn;    /* one transaction of a session */
typedef struct cw_list cw_list;   /* a list of byte strings, owned */

/* Limits that hold for every deployment. */
#define CW_MAX_KEY 1024   /* bytes in a key */
#define CW_MAX_FIELD 1024 /* bytes in a map field name */
#define CW_DEFAULT_MAX_VALUE (1024 * 1024)

/* Connects a session to a causewayd at `url` ("tcp://127.0.0.1:7400" or
 * "ipc:///path"). OUT: *out, free with cw_close. Returns 0, CW_EINVAL
 * (bad URL), CW_EUNAVAIL (nobody listens there), CW_EPROTO (what listens
 * is not a causewayd), CW_ETIMEDOUT or CW_ENOMEM. After a broken
 * connection the next call reconnects; a call whose connection broke
 * after its request went out sends it again, and the server answers a
 * copy of a request it ran with its first reply.
 *
 * Over the network, writes are buffered and sent with the transaction's
 * next read or its commit (a write-only transaction is one round trip), so
 * an error of a write such as CW_ETYPE surfaces there: at commit it aborts
 * the transaction. A transaction lost with its connection (the server
 * restarted) reports CW_EUNAVAIL; one the server aborted when idle too
 * long reports CW_ESTATE. A commit whose connection broke is sent again,
 * and a restarted server answers it from the outcomes it keeps: 0 if it
 * had committed, CW_ESTATE if its transaction died uncommitted. A commit
 * that gets CW_ETIMEDOUT, or CW_EUNAVAIL after its connection broke (the
 * server was not back in time, or kept no outcome that old), may or may
 * not have been applied, and never twice. */
int cw_connect(cw_client **out, const char *url);

/* How to reach a causewayd over TLS. Every field is optional (NULL). */
typedef struct {
	const char *ca_file;       /* PEM: the CA the server's certificate must
	                            * chain to; required for tls+tcp:// */
	const char *cert_file;     /* PEM: a client certificate to present, */
	const char *key_file;      /* with its key */
	const char *server_name;   /* the name the server's certificate must
	                            * carry (default: the URL's host) */
	const char *user;          /* log in as this user, */
	const char *password;      /* with this password, */
	const char *password_file; /* or the first line of this file */
} cw_connect_options;

/* cw_connect with options: a "tls+tcp://HOST:PORT" URL speaks TLS 1.2 and
 * verifies the server's certificate against o->ca_file and its name (a
 * DNS name of its certificate: mbedTLS 2.28 matches no IP-address SANs,
 * so tools/certs.sh also writes 127.0.0.1 and ::1 as DNS names). o may be
 * NULL for the URLs cw_connect takes. Returns what cw_connect returns, and
 * CW_EINVAL (a TLS URL without a CA file, or a file that does not load;
 * logged) or CW_EAUTH (the server's certificate does not verify, or the
 * server refused ours, or o->user and o->password did not log in).
 *
 * With o->user, the session logs in (the server says CW_EAUTH whether the
 * user or the password was wrong, and makes a failed address wait up to
 * 2 s before its next try); its calls carry the login's token, and a call
 * refused for want of one (a restarted DC, one the session moved to, a
 * session the DC ended) logs in again with the same password and runs.
 * A DC with users refuses every call of a session that did not log in
 * with CW_EAUTH, and calls its user may not make with CW_EPERM, nothing
 * of them done. */
int cw_connect_opts(
    cw_client **out, const char *url, const cw_connect_options *o);
/* Sets the time a network call may take before CW_ETIMEDOUT (default
 * 5,000 ms). No effect on an embedded session. */
int cw_set_timeout(cw_client *c, int ms);

/* Opens (creating if needed) an embedded single-DC database in directory
 * `dir` and a session on it. OUT: *out, free with cw_close.
 * Returns 0, CW_EINVAL, CW_ENOMEM, CW_EIO or CW_EFORMAT (dir belongs to a
 * DC other than 0 or has an unknown format). */
int cw_open_local(cw_client **out, const char *dir);

/* Closes a session. Transactions still open on it must be finished first.
 * cw_close(NULL) is a no-op. */
void cw_close(cw_client *c);

/* The session's causal clock as opaque bytes, to carry the session to
 * another DC. OUT: *bytes (free with free()) and *len. */
int cw_clock_get(cw_client *c, void **bytes, size_t *len);
/* Merges a clock from cw_clock_get into this session's clock: later
 * transactions see everything the other session saw. CW_EPROTO if the
 * bytes are not a clock. */
int cw_clock_merge(cw_client *c, const void *bytes, size_t len);

/* Begins a transaction on a snapshot that includes everything the session
 * has seen. OUT: *out. Returns 0, CW_ENOMEM, CW_EIO, or CW_EUNAVAIL if the
 * DC has not applied the session's clock within the wait bound. */
int cw_begin(cw_client *c, cw_txn **out);
/* Commits. Frees t whatever the outcome. Returns 0 once the commit is
 * durable, CW_ECONFLICT (a concurrent transaction committed a write to the
 * same register or map field first; nothing was applied), CW_ENORIGHTS
 * (a bounded decrement exceeds this DC's rights; nothing was applied),
 * CW_EIO or CW_ENOMEM (nothing was applied). */
int cw_commit(cw_txn *t);
/* Aborts and frees t. cw_abort(NULL) is a no-op. */
void cw_abort(cw_txn *t);

/*
 * Object operations. A key is 1..CW_MAX_KEY bytes; a value at most the DC's
 * value limit (default 1 MiB). Reads see the transaction's snapshot plus its
 * own earlier writes. Reading an object never written gives its empty
 * value. Using a key with another type than it holds is CW_ETYPE; an
 * operation on a transaction the DC has already ended (for a server, the
 * idle timeout) is CW_ESTATE. A failed operation leaves the transaction
 * open and unchanged. Every
 * operation may also return CW_EINVAL, CW_ETOOBIG, CW_ENOMEM or CW_EIO.
 */
int cw_reg_put(cw_txn *t, const void *k, size_t kl, const void *v, size_t vl);
/* OUT: *v (free with free()) and *vl; a missing register gives NULL, 0. */
int cw_reg_get(cw_txn *t, const void *k, size_t kl, void **v, size_t *vl);
int cw_counter_add(cw_txn *t, const void *k, size_t kl, int64_t delta);
int cw_counter_get(cw_txn *t, const void *k, size_t kl, int64_t *out);
/* Bounded counter (bound 0): a positive delta mints rights at this DC; a
 * negative one spends this DC's rights, CW_ENORIGHTS if they do not cover
 * it (checked again at commit). */
int cw_bcounter_add(cw_txn *t, const void *k, size_t kl, int64_t delta);
/* A decrement that, if this DC's rights do not cover it, asks the DC with
 * the most rights for a grant and waits up to wait_ms for it (0: fail at
 * once with CW_ENORIGHTS, still asking, so a retry soon may succeed). Over
 * the network the wait happens at the server when the write is sent. */
int cw_bcounter_add_wait(
    cw_txn *t, const void *k, size_t kl, int64_t delta, uint32_t wait_ms);
int cw_bcounter_get(cw_txn *t, const void *k, size_t kl, int64_t *out);
/* OUT: *out, the rights this DC holds for key k. */
int cw_bcounter_rights(cw_txn *t, const void *k, size_t kl, int64_t *out);
/* Moves `n` of this DC's rights for k to DC `to_dc`. CW_ENORIGHTS if this
 * DC holds fewer than n, CW_EINVAL if to_dc is this DC or out of range. */
int cw_bcounter_transfer(
    cw_txn *t, const void *k, size_t kl, int64_t n, int to_dc);
int cw_set_add(cw_txn *t, const void *k, size_t kl, const void *e, size_t el);
int cw_set_remove(
    cw_txn *t, const void *k, size_t kl, const void *e, size_t el);
int cw_set_contains(
    cw_txn *t, const void *k, size_t kl, const void *e, size_t el, bool *out);
/* OUT: *out, the members in byte order (free with cw_list_free). */
int cw_set_members(cw_txn *t, const void *k, size_t kl, cw_list **out);
int cw_map_put(cw_txn *t, const void *k, size_t kl, const char *field,
    const void *v, size_t vl);
int cw_map_remove(cw_txn *t, const void *k, size_t kl, const char *field);
/* OUT: *v (free with free()) and *vl; a missing field gives NULL, 0. */
int cw_map_get(cw_txn *t, const void *k, size_t kl, const char *field,
    void **v, size_t *vl);
/* OUT: *out, the present field names in byte order (cw_list_free). */
int cw_map_fields(cw_txn *t, const void *k, size_t kl, cw_list **out);

/*
 * Several reads in one call. Over the network they travel in one request
 * with the writes buffered before it: one round trip however many there
 * are. Each read names its object as the single calls above do and gets
 * its own result and error (a CW_ETYPE on one leaves the others intact).
 */
typedef enum {
	CW_READ_REG = 1,      /* v, vl; found: the register was written */
	CW_READ_COUNTER,      /* n */
	CW_READ_BCOUNTER,     /* n: the value */
	CW_READ_SET_CONTAINS, /* found; elem, el name the element */
	CW_READ_SET_MEMBERS,  /* list, in byte order */
	CW_READ_MAP_GET,      /* v, vl; found: the field is present; field */
	CW_READ_MAP_FIELDS,   /* list: the present field names */
} cw_read_kind;

typedef struct {
	cw_read_kind kind;
	const void  *key;
	size_t       kl;
	const char  *field; /* CW_READ_MAP_GET */
	const void  *elem;  /* CW_READ_SET_CONTAINS */
	size_t       el;
	/* results, owned by the cw_read until cw_read_fini: */
	int      err; /* 0 or this read's CW_E* */
	bool     found;
	void    *v;
	size_t   vl;
	int64_t  n;
	cw_list *list;
} cw_read;

#define CW_MAX_READS 4096 /* reads in one cw_read_many */

/* Runs r[0..n-1] on t's snapshot. Returns 0 when they ran (then each
 * r[i].err tells), or what stopped them all: CW_EINVAL (n is 0 or above
 * CW_MAX_READS, or a read is malformed: nothing ran), an error of a
 * buffered write (as for a single read), CW_ESTATE, CW_EUNAVAIL,
 * CW_ETIMEDOUT, CW_ENOMEM. */
int cw_read_many(cw_txn *t, cw_read *r, size_t n);
/* Frees the results of r[0..n-1] (v and list) and clears them. */
void cw_read_fini(cw_read *r, size_t n);

/* What a DC reports about itself. */
typedef struct {
	int      dc;        /* its id */
	int      ndc;       /* DCs in the deployment */
	uint64_t state[64]; /* state vector: transactions applied per origin */
	uint64_t durable[64]; /* of those, the ones synced to disk: what a
	                       * fresh session reads (one group sync behind
	                       * state at most) */
	uint64_t digest; /* of all data: equal at two DCs exactly when they
	                  * hold the same state */
	/* escrow since start: rights requests sent, requests of other DCs
	 * granted, rights granted in all, decrements refused */
	uint64_t escrow_requests, escrow_grants, escrow_moved, escrow_refused;
	uint64_t requests; /* client requests served since start (0 for an
	                    * embedded engine) */
	int npeers;        /* replication links, one per other DC */
	struct {
		int      id;
		bool     up;           /* the last call got an answer */
		uint64_t heard_ms_ago; /* UINT64_MAX: never */
		uint64_t acked[64];    /* its acknowledged state vector */
		uint64_t behind;       /* transactions it lacks */
		uint64_t lag_ms;       /* how long it has been behind */
		uint64_t forwarded;    /* records of other DCs' origin this
		                        * DC forwarded to it, since start */
	} peers[63];
} cw_dc_info;

/* OUT: *out, the status of the session's DC. Returns 0, CW_ETIMEDOUT,
 * CW_EUNAVAIL or CW_EPROTO. */
int cw_dc_status(cw_client *c, cw_dc_info *out);

/* Roles of users. */
enum {
	CW_ROLE_READONLY  = 1, /* begin, read, commit without writes, status */
	CW_ROLE_READWRITE = 2, /* also writes */
	CW_ROLE_ADMIN = 3, /* also cw_user_add, cw_user_del, cw_user_list */
};
/* The role's name ("readonly", "readwrite", "admin"), or NULL. */
const char *cw_role_name(int role);
/* The role of a name, or 0. */
int cw_role_of(const char *name);

#define CW_USER_NAME_MAX 64 /* letters, digits and "._@-" */
#define CW_USER_PREFIX_MAX 256

typedef struct {
	char name[CW_USER_NAME_MAX + 1];
	int  role;
	char prefix[CW_USER_PREFIX_MAX + 1]; /* "" : every key */
} cw_user_info;

/* Adds a user, or replaces the one of that name, at the session's DC;
 * users replicate to every DC like any transaction. password: 1 to 1,024
 * bytes. prefix: NULL or "" for every key, else the user may name only
 * keys that begin with it. Needs an admin's session. Returns 0, CW_EINVAL,
 * CW_EPERM, CW_EAUTH, or a network error. Slow on purpose: the server
 * hashes the password (PBKDF2, about half a second). */
int cw_user_add(cw_client *c, const char *name, const char *password, int role,
    const char *prefix);
/* Deletes a user; its sessions end within about a second at every DC it
 * has reached. Returns 0, CW_EINVAL (no such user), CW_EPERM, CW_EAUTH,
 * or a network error. */
int cw_user_del(cw_client *c, const char *name);
/* OUT: *out (free()), *n: the users, by name. Returns 0, CW_EPERM,
 * CW_EAUTH, CW_ENOMEM or a network error. */
int cw_user_list(cw_client *c, cw_user_info **out, size_t *n);

size_t cw_list_len(const cw_list *l);
/* Element i, borrowed until cw_list_free(l). OUT: *len. NULL if i is out
 * of range. */
const void *cw_list_at(const cw_list *l, size_t i, size_t *len);
void        cw_list_free(cw_list *l);

#ifdef __cplusplus
}
#endif
#endif /* CAUSEWAY_H */
