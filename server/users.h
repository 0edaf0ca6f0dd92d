/*
 * users.h - who may use a DC: users, their roles, and the sessions they
 * log in (issue 17; docs/security.md has the design). Internal to
 * server/.
 *
 * Users are data of the deployment: one map at the system key
 * CW_USERS_KEY, a field per user name, its value the user's record (role,
 * key prefix, PBKDF2 hash; users.c), written by ordinary transactions, so
 * users replicate to every DC and converge like any map (last writer wins
 * per user). Keys that begin with byte 0xff are the system's: no client
 * request may name one, whoever asks (cw_users_allows).
 *
 * Users are on at a DC once its map holds a user (the first admin comes
 * from causewayd --admin-password-file; a user replicated from another DC
 * turns them on too). From then every request but a login needs the token
 * of a session. cw_users_refresh reads the map again; the server calls it
 * about once a second and after each change of its own.
 *
 * A login (cw_users_login) checks the password against the hash in the
 * map as read just then, so a user added at another DC logs in here as
 * soon as it has replicated. It costs one PBKDF2 (CW_PW_ITER: about
 * 450 ms of a core) the first time a user's password is seen by this
 * process; after a success the password's HMAC, under a key random to
 * this process, is kept beside the user, and a login with the same
 * password and hash is checked against it instead (microseconds; memory
 * only). A wrong password always pays the whole hash, and an unknown
 * user pays it against a dummy hash: neither the reply nor its time says
 * which of the two was wrong. Failures from one address make the next
 * login from it wait: 100 ms after the first, doubling up to 2 s; a login
 * that comes sooner is refused at once, unhashed.
 *
 * Sessions: a table of CW_SESSIONS slots. A token is a slot's index and
 * generation and 8 random bytes; a login takes a free slot or the least
 * recently used (that session's next request gets CW_EAUTH, and the SDK
 * logs in again). Checking a token (cw_users_check) is a lookup and a
 * copy under the slot's mutex. Each slot remembers the version of the
 * user table it was checked against; once the table changed, the next
 * check looks its user up again: a deleted user loses its sessions; a
 * new role or prefix applies from then. A new password keeps the
 * sessions logged in with the old one (as Redis does; every DC hashes
 * the first admin's password with its own salt, and the one record that
 * wins must not end the others' sessions): to end them, delete the user.
 *
 * Threading: thread-safe. mu guards the user table and its version;
 * refresh_mu serialises refreshes; each session slot has its own mutex;
 * fail_mu guards the failures by address. cw_users_login and the user
 * operations are slow (a hash, a commit) and belong on a worker.
 */
#ifndef CW_USERS_H
#define CW_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "causeway.h"
#include "schema.h"
#include "txn.h"

#define CW_USERS_KEY \
	"\xff"       \
	"cw/users" /* the map of users */
#define CW_USERS_KEYLEN 9
#define CW_USER_MAX CW_USER_NAME_MAX     /* bytes in a user name */
#define CW_PREFIX_MAX CW_USER_PREFIX_MAX /* bytes in a user's key prefix */
#define CW_SESSIONS 4096                 /* sessions logged in at once */
#define CW_ADMIN_USER "admin"            /* the first admin's name */

typedef struct cw_users cw_users;

/* Who a request is from. role 0: users are off, anything goes (but the
 * system's keys). */
typedef struct {
	uint8_t  role;  /* CW_ROLE_* of causeway.h, or 0 */
	uint64_t owner; /* the session, or 0: a transaction belongs to the
	                 * session that opened it */
	size_t  plen;
	uint8_t prefix[CW_PREFIX_MAX]; /* every key must begin with it */
} cw_principal;

/* The users of db (borrowed; it outlives u), read once now. OUT: *out.
 * Returns 0, CW_ENOMEM, CW_EIO or CW_EPROTO (a record that does not
 * decode; logged). */
int  cw_users_new(cw_users **out, cw_db *db);
void cw_users_free(cw_users *u);
/* Reads the map again. Returns 0 or what reading returns. */
int cw_users_refresh(cw_users *u);
/* Whether users are on (the map holds one). */
bool cw_users_on(cw_users *u);
/* Adds the first admin (CW_ADMIN_USER) with password pw[0..len) if there
 * is no user yet. Returns 1 (added), 0 (there are users: nothing done),
 * or an error of cw_users_add. */
int cw_users_bootstrap(cw_users *u, const char *pw, size_t len);

/* Logs user name[0..nl) in with pw[0..pl), from addr (the client's
 * address, for the failure delay; NUL-terminated). OUT: token, *p.
 * Returns 0 or CW_EAUTH (unknown user, wrong password, too soon after a
 * failure from addr: all the same to the caller; logged at warn, at most
 * once a second), CW_EIO. Slow: see above. */
int cw_users_login(cw_users *u, const char *addr, const void *name, size_t nl,
    const void *pw, size_t pl, uint8_t token[CW_TOKEN_LEN], cw_principal *p);
/* The session of token[0..len). OUT: *p. Returns 0, CW_EAUTH (no such
 * session, or its user was deleted) or 0 with p->role 0 when users are
 * off (whatever the token). */
int cw_users_check(
    cw_users *u, const void *token, size_t len, cw_principal *p);
/* Whether p may run r (its kind, and every key of its operations).
 * Returns 0 or CW_EPERM. */
int cw_users_allows(const cw_principal *p, const cw_req *r);

/* Adds (or replaces) a user: name (1 to CW_USER_MAX bytes of letters,
 * digits and "._@-"), password (1 to 1,024 bytes), role, key prefix (at
 * most CW_PREFIX_MAX bytes, no NUL; empty: every key). Commits it as a
 * transaction of this DC, which replicates. Returns 0, CW_EINVAL, or what
 * a commit returns. */
int cw_users_add(cw_users *u, const void *name, size_t nl, const void *pw,
    size_t pl, uint8_t role, const void *prefix, size_t plen);
/* Deletes a user (and, within a refresh, its sessions here). Returns 0,
 * CW_EINVAL (no such user) or what a commit returns. */
int cw_users_del(cw_users *u, const void *name, size_t nl);
/* The users, sorted by name: one result each (v: name, n: role, list:
 * the prefix). OUT: *out (cw_result_fini each, then cw_free), *n.
 * Returns 0 or CW_ENOMEM. */
int cw_users_list(cw_users *u, cw_result **out, size_t *n);

#endif /* CW_USERS_H */
