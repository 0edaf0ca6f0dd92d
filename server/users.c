/*
 * users.c - users, roles and sessions; see users.h.
 *
 * A user's record, the value of its field in CW_USERS_KEY:
 *
 *     version u8 (1) | role u8 | prefix length u16 LE | prefix |
 *     PBKDF2 hash (sec.h's text form, to the end)
 *
 * A token: slot u32 LE | generation u32 LE | 8 random bytes.
 */
#include "users.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causeway.h"
#include "sec.h"
#include "util.h"

#define REC_VERSION 1
#define PW_MAXLEN 1024
#define FAIL_SLOTS 1024      /* addresses whose failures are remembered */
#define FAIL_FIRST_MS 100    /* the wait after a first failure */
#define FAIL_MAX_MS 2000     /* doubling up to this */
#define FAIL_FORGET_MS 60000 /* failures this old are forgiven */

struct user {
	char    name[CW_USER_MAX + 1];
	uint8_t role;
	size_t  plen;
	uint8_t prefix[CW_PREFIX_MAX];
	char    hash[CW_PW_MAX];
	bool    has_mac; /* a password that matched hash: its HMAC */
	uint8_t mac[CW_SEC_MAC];
};

struct session {
	pthread_mutex_t mu;
	/* mu guards: */
	uint32_t     gen; /* of the token; 0: free */
	uint8_t      secret[8];
	char         name[CW_USER_MAX + 1];
	char         hash[CW_PW_MAX]; /* its user's hash at login */
	uint64_t     version;         /* of the user table, when checked */
	uint64_t     used_ms;
	cw_principal p;
};

struct fail {
	char     addr[48];
	uint32_t n;        /* failures in a row */
	uint64_t until_ms; /* no login before */
	uint64_t last_ms;
};

struct cw_users {
	cw_db  *db;
	uint8_t key[CW_SEC_MAC];  /* this process's, for the HMACs */
	char    dummy[CW_PW_MAX]; /* what an unknown user is checked against */

	pthread_mutex_t refresh_mu; /* one refresh at a time */
	pthread_mutex_t mu;
	/* mu guards: */
	struct user *t; /* sorted by name */
	size_t       n;
	uint64_t     version; /* bumped when the table changes */
	bool         on;      /* n > 0, also readable without mu */

	struct session s[CW_SESSIONS];

	pthread_mutex_t fail_mu;
	/* fail_mu guards: */
	struct fail fails[FAIL_SLOTS];
	uint64_t    logged_ms; /* the last failure logged */
	uint64_t    unlogged;  /* failures since, not logged */
};

/* ---- records ---- */

static bool
name_ok(const void *name, size_t nl)
{
	const uint8_t *p = name;
	if (nl < 1 || nl > CW_USER_MAX)
		return false;
	for (size_t i = 0; i < nl; i++) {
		uint8_t ch = p[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		        ch == '@' || ch == '-'))
			return false;
	}
	return true;
}

static bool
role_ok(uint8_t role)
{
	return role >= CW_ROLE_READONLY && role <= CW_ROLE_ADMIN;
}

/* Decodes a record into u (name set by the caller). Returns 0 or
 * CW_EPROTO. */
static int
rec_decode(const uint8_t *v, size_t vl, struct user *u)
{
	if (vl < 4 || v[0] != REC_VERSION || !role_ok(v[1]))
		return CW_EPROTO;
	size_t plen = (size_t) v[2] | (size_t) v[3] << 8;
	if (plen > CW_PREFIX_MAX || vl < 4 + plen ||
	    vl - 4 - plen >= CW_PW_MAX || vl - 4 - plen == 0)
		return CW_EPROTO;
	u->role = v[1];
	u->plen = plen;
	memcpy(u->prefix, v + 4, plen);
	memcpy(u->hash, v + 4 + plen, vl - 4 - plen);
	u->hash[vl - 4 - plen] = '\0';
	if (strlen(u->hash) != vl - 4 - plen)
		return CW_EPROTO;
	return 0;
}

static int
user_cmp(const void *a, const void *b)
{
	return strcmp(
	    ((const struct user *) a)->name, ((const struct user *) b)->name);
}

/* Reads every user from a fresh snapshot. OUT: *out (cw_free), *n.
 * Returns 0, CW_ENOMEM, CW_EIO or CW_EPROTO. */
static int
read_all(cw_users *u, struct user **out, size_t *n)
{
	cw_tx       *tx;
	cw_list     *names = NULL;
	struct user *t     = NULL;
	int          rc;
	*out = NULL;
	*n   = 0;
	if ((rc = cw_tx_begin(u->db, NULL, 0, &tx)) != 0)
		return rc;
	if ((rc = cw_tx_map_fields(
	         tx, CW_USERS_KEY, CW_USERS_KEYLEN, &names)) != 0)
		goto out;
	size_t m = cw_list_len(names);
	if (m > 0 && (t = cw_calloc(m, sizeof(*t))) == NULL) {
		rc = CW_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < m; i++) {
		size_t      nl;
		const char *name = cw_list_at(names, i, &nl);
		void       *v;
		size_t      vl;
		if (!name_ok(name, nl))
			continue; /* not a user of ours */
		struct user *x = &t[*n];
		memcpy(x->name, name, nl);
		x->name[nl] = '\0';
		if ((rc = cw_tx_map_get(tx, CW_USERS_KEY, CW_USERS_KEYLEN,
		         x->name, &v, &vl)) != 0)
			goto out;
		if (v == NULL)
			continue;
		rc = rec_decode(v, vl, x);
		cw_free(v);
		if (rc != 0) {
			cw_log(CW_LOG_ERROR, "users",
			    "the record of user %s does not decode: ignored",
			    x->name);
			rc = 0;
			continue;
		}
		(*n)++;
	}
	if (*n > 1)
		qsort(t, *n, sizeof(*t), user_cmp);
	*out = t;
	t    = NULL;
out:
	cw_free(t);
	cw_list_free(names);
	cw_tx_free(tx);
	return rc;
}

static struct user *
find(struct user *t, size_t n, const char *name)
{
	struct user key;
	if (n == 0)
		return NULL; /* and t may be NULL, which bsearch may not take
		              */
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, t, n, sizeof(*t), user_cmp);
}

int
cw_users_refresh(cw_users *u)
{
	struct user *t;
	size_t       n;
	pthread_mutex_lock(&u->refresh_mu);
	int rc = read_all(u, &t, &n);
	if (rc != 0) {
		pthread_mutex_unlock(&u->refresh_mu);
		return rc;
	}
	pthread_mutex_lock(&u->mu);
	bool same = n == u->n;
	for (size_t i = 0; i < n; i++) {
		struct user *old = find(u->t, u->n, t[i].name);
		if (old == NULL || old->role != t[i].role ||
		    old->plen != t[i].plen ||
		    memcmp(old->prefix, t[i].prefix, t[i].plen) != 0 ||
		    strcmp(old->hash, t[i].hash) != 0) {
			same = false;
			continue;
		}
		t[i].has_mac = old->has_mac; /* the same password */
		memcpy(t[i].mac, old->mac, sizeof(t[i].mac));
	}
	cw_free(u->t);
	u->t = t;
	u->n = n;
	if (!same)
		__atomic_add_fetch(&u->version, 1, __ATOMIC_RELEASE);
	if (!u->on && n > 0)
		cw_log(CW_LOG_INFO, "users",
		    "%zu users: every request needs a login now", n);
	__atomic_store_n(&u->on, n > 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&u->mu);
	pthread_mutex_unlock(&u->refresh_mu);
	return 0;
}

bool
cw_users_on(cw_users *u)
{
	return __atomic_load_n(&u->on, __ATOMIC_ACQUIRE);
}

int
cw_users_new(cw_users **out, cw_db *db)
{
	cw_users *u;
	int       rc;
	*out = NULL;
	if ((u = cw_calloc(1, sizeof(*u))) == NULL)
		return CW_ENOMEM;
	u->db = db;
	pthread_mutex_init(&u->refresh_mu, NULL);
	pthread_mutex_init(&u->mu, NULL);
	pthread_mutex_init(&u->fail_mu, NULL);
	for (size_t i = 0; i < CW_SESSIONS; i++)
		pthread_mutex_init(&u->s[i].mu, NULL);
	/* a dummy of the same cost as a real hash: an unknown user takes as
	 * long to refuse as a wrong password */
	static const char nobody[] = "no user has this password";
	if ((rc = cw_sec_random(u->key, sizeof(u->key))) != 0 ||
	    (rc = cw_pw_hash(nobody, sizeof(nobody) - 1, 0, u->dummy)) != 0 ||
	    (rc = cw_users_refresh(u)) != 0) {
		cw_users_free(u);
		return rc;
	}
	*out = u;
	return 0;
}

void
cw_users_free(cw_users *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < CW_SESSIONS; i++)
		pthread_mutex_destroy(&u->s[i].mu);
	pthread_mutex_destroy(&u->refresh_mu);
	pthread_mutex_destroy(&u->mu);
	pthread_mutex_destroy(&u->fail_mu);
	cw_free(u->t);
	memset(u->key, 0, sizeof(u->key));
	cw_free(u);
}

/* ---- failures by address ---- */

static struct fail *
fail_find(cw_users *u, const char *addr, bool make)
{
	struct fail *oldest = &u->fails[0];
	for (size_t i = 0; i < FAIL_SLOTS; i++) {
		struct fail *f = &u->fails[i];
		if (f->addr[0] != '\0' && strcmp(f->addr, addr) == 0)
			return f;
		if (f->last_ms < oldest->last_ms)
			oldest = f;
	}
	if (!make)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	return oldest;
}

/* Whether addr may try now. */
static bool
fail_may_try(cw_users *u, const char *addr, uint64_t now)
{
	pthread_mutex_lock(&u->fail_mu);
	struct fail *f  = fail_find(u, addr, false);
	bool         ok = f == NULL || now >= f->until_ms;
	pthread_mutex_unlock(&u->fail_mu);
	return ok;
}

/* Counts a failure from addr (user name[0..nl), refused for why) and
 * logs it, at most once a second. */
static void
fail_count(cw_users *u, const char *addr, const char *name, const char *why,
    uint64_t now)
{
	pthread_mutex_lock(&u->fail_mu);
	struct fail *f = fail_find(u, addr, true);
	if (f->last_ms + FAIL_FORGET_MS < now)
		f->n = 0;
	f->n++;
	uint64_t wait = FAIL_FIRST_MS;
	for (uint32_t i = 1; i < f->n && wait < FAIL_MAX_MS; i++)
		wait *= 2;
	if (wait > FAIL_MAX_MS)
		wait = FAIL_MAX_MS;
	f->until_ms   = now + wait;
	f->last_ms    = now;
	uint32_t n    = f->n;
	bool     log  = now >= u->logged_ms + 1000;
	uint64_t more = u->unlogged;
	if (log) {
		u->logged_ms = now;
		u->unlogged  = 0;
	} else {
		u->unlogged++;
	}
	pthread_mutex_unlock(&u->fail_mu);
	if (log)
		cw_log(CW_LOG_WARN, "users",
		    "login as \"%s\" from %s refused: %s (%u in a row from "
		    "there: the next waits %llu ms; %llu other refusals not "
		    "logged since the last line)",
		    name, addr, why, n, (unsigned long long) wait,
		    (unsigned long long) more);
}

static void
fail_clear(cw_users *u, const char *addr)
{
	pthread_mutex_lock(&u->fail_mu);
	struct fail *f = fail_find(u, addr, false);
	if (f != NULL)
		memset(f, 0, sizeof(*f));
	pthread_mutex_unlock(&u->fail_mu);
}

/* ---- sessions ---- */

static void
principal_of(
    const struct user *x, uint32_t slot, uint32_t gen, cw_principal *p)
{
	p->role  = x->role;
	p->owner = (uint64_t) gen << 32 | (slot + 1);
	p->plen  = x->plen;
	memcpy(p->prefix, x->prefix, x->plen);
}

/* Takes a free session slot, or the least recently used, for x. OUT:
 * token, *p. Returns 0 or CW_EIO (no randomness). */
static int
session_new(cw_users *u, const struct user *x, uint64_t version,
    uint8_t token[CW_TOKEN_LEN], cw_principal *p)
{
	uint8_t  secret[8];
	uint32_t r;
	int      rc;
	if ((rc = cw_sec_random(secret, sizeof(secret))) != 0 ||
	    (rc = cw_sec_random(&r, sizeof(r))) != 0)
		return rc;
	/* a free slot, or the oldest of a few looked at from a random
	 * start: enough to keep busy sessions, cheap to find */
	uint32_t best   = r % CW_SESSIONS;
	uint64_t oldest = UINT64_MAX;
	for (uint32_t k = 0; k < 64; k++) {
		uint32_t        i = (r + k) % CW_SESSIONS;
		struct session *s = &u->s[i];
		pthread_mutex_lock(&s->mu);
		uint64_t used = s->gen == 0 ? 0 : s->used_ms;
		pthread_mutex_unlock(&s->mu);
		if (used < oldest) {
			oldest = used;
			best   = i;
			if (used == 0)
				break;
		}
	}
	struct session *s = &u->s[best];
	pthread_mutex_lock(&s->mu);
	static _Atomic uint32_t gens = 0;
	uint32_t                gen  = atomic_fetch_add(&gens, 1) + 1;
	if (gen == 0) /* 0 means a free slot */
		gen = atomic_fetch_add(&gens, 1) + 1;
	s->gen = gen;
	memcpy(s->secret, secret, sizeof(secret));
	snprintf(s->name, sizeof(s->name), "%s", x->name);
	s->version = version;
	s->used_ms = cw_mono_ms();
	principal_of(x, best, gen, &s->p);
	*p = s->p;
	pthread_mutex_unlock(&s->mu);
	cw_st_u64(token, (uint64_t) gen << 32 | best);
	memcpy(token + 8, secret, sizeof(secret));
	return 0;
}

int
cw_users_check(cw_users *u, const void *token, size_t len, cw_principal *p)
{
	if (!cw_users_on(u)) {
		p->role  = 0;
		p->owner = 0;
		p->plen  = 0;
		return 0;
	}
	if (token == NULL || len != CW_TOKEN_LEN)
		return CW_EAUTH;
	uint64_t w    = cw_ld_u64(token);
	uint32_t slot = (uint32_t) w, gen = (uint32_t) (w >> 32);
	if (slot >= CW_SESSIONS || gen == 0)
		return CW_EAUTH;
	struct session *s = &u->s[slot];
	pthread_mutex_lock(&s->mu);
	if (s->gen != gen ||
	    !cw_sec_equal(s->secret, (const uint8_t *) token + 8, 8)) {
		pthread_mutex_unlock(&s->mu);
		return CW_EAUTH;
	}
	uint64_t version = __atomic_load_n(&u->version, __ATOMIC_ACQUIRE);
	if (s->version != version) {
		/* the users changed since: look this one up again (order:
		 * a session's mu, then u->mu) */
		pthread_mutex_lock(&u->mu);
		struct user *x = find(u->t, u->n, s->name);
		if (x == NULL) {
			pthread_mutex_unlock(&u->mu);
			cw_log(CW_LOG_INFO, "users",
			    "user %s deleted: a session of it here ends",
			    s->name);
			s->gen = 0;
			pthread_mutex_unlock(&s->mu);
			return CW_EAUTH;
		}
		principal_of(x, slot, gen, &s->p);
		s->version = u->version;
		pthread_mutex_unlock(&u->mu);
	}
	s->used_ms = cw_mono_ms();
	*p         = s->p;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* ---- logins ---- */

int
cw_users_login(cw_users *u, const char *addr, const void *name, size_t nl,
    const void *pw, size_t pl, uint8_t token[CW_TOKEN_LEN], cw_principal *p)
{
	char        nm[CW_USER_MAX + 1] = "";
	struct user x;
	uint8_t     mac[CW_SEC_MAC];
	uint64_t    now = cw_mono_ms();
	int         rc;
	if (name_ok(name, nl)) {
		memcpy(nm, name, nl);
		nm[nl] = '\0';
	}
	if (!fail_may_try(u, addr, now)) {
		fail_count(u, addr, nm, "too soon after a failure", now);
		return CW_EAUTH;
	}
	/* the users as they are now: one added at another DC a moment ago
	 * logs in as soon as it has replicated */
	if ((rc = cw_users_refresh(u)) != 0)
		return rc;
	pthread_mutex_lock(&u->mu);
	struct user *f     = nm[0] ? find(u->t, u->n, nm) : NULL;
	bool         found = f != NULL;
	if (found)
		x = *f;
	uint64_t version = u->version;
	pthread_mutex_unlock(&u->mu);
	if (pl > PW_MAXLEN)
		pl = PW_MAXLEN; /* hashed as sent, cut: it will not match */
	if ((rc = cw_sec_hmac(u->key, pw, pl, mac)) != 0)
		return rc;
	bool ok;
	if (found && x.has_mac)
		ok = cw_sec_equal(mac, x.mac, sizeof(mac));
	else
		ok = false;
	if (!ok) {
		/* the whole hash, against a dummy for an unknown user */
		rc = cw_pw_verify(pw, pl, found ? x.hash : u->dummy);
		ok = found && rc == 0;
		if (rc == CW_EINVAL)
			cw_log(CW_LOG_ERROR, "users",
			    "the hash of user %s is not one of ours", x.name);
	}
	if (!ok) {
		fail_count(u, addr, nm,
		    found ? "wrong password or user"
		          : "wrong user or password",
		    cw_mono_ms());
		memset(mac, 0, sizeof(mac));
		return CW_EAUTH;
	}
	if (!x.has_mac) {
		pthread_mutex_lock(&u->mu);
		struct user *y = find(u->t, u->n, x.name);
		if (y != NULL && strcmp(y->hash, x.hash) == 0) {
			memcpy(y->mac, mac, sizeof(mac));
			y->has_mac = true;
		}
		pthread_mutex_unlock(&u->mu);
	}
	memset(mac, 0, sizeof(mac));
	fail_clear(u, addr);
	return session_new(u, &x, version, token, p);
}

/* ---- what a user may do ---- */

static bool
key_ok(const cw_principal *p, const cw_op *op)
{
	const uint8_t *k = op->key;
	if (op->kl > 0 && k[0] == 0xff)
		return false; /* the system's */
	return p->plen == 0 ||
	    (op->kl >= p->plen && memcmp(k, p->prefix, p->plen) == 0);
}

int
cw_users_allows(const cw_principal *p, const cw_req *r)
{
	switch (r->kind) {
	case CW_REQ_AUTH:
		return 0;
	case CW_REQ_USER:
		return p->role == CW_ROLE_ADMIN ? 0 : CW_EPERM;
	default:
		break;
	}
	if (p->role == CW_ROLE_READONLY && r->nwrites > 0)
		return CW_EPERM;
	for (size_t i = 0; i < r->nwrites + r->nreads; i++) {
		cw_op op;
		bool  w = i < r->nwrites;
		cw_schema_req_op(r, w, w ? i : i - r->nwrites, &op);
		if (p->role == CW_ROLE_READONLY &&
		    cw_schema_op_is_write(op.op))
			return CW_EPERM;
		if (!key_ok(p, &op))
			return CW_EPERM;
	}
	return 0;
}

/* ---- managing users ---- */

/* Commits one change of the users map: put (rec non-NULL) or remove. */
static int
commit_change(cw_users *u, const char *name, const cw_buf *rec)
{
	cw_tx *tx;
	cw_vc  vc;
	int    rc;
	if ((rc = cw_tx_begin(u->db, NULL, 0, &tx)) != 0)
		return rc;
	if (rec != NULL)
		rc = cw_tx_map_put(
		    tx, CW_USERS_KEY, CW_USERS_KEYLEN, name, rec->p, rec->len);
	else
		rc = cw_tx_map_remove(tx, CW_USERS_KEY, CW_USERS_KEYLEN, name);
	if (rc == 0)
		rc = cw_tx_commit(tx, &vc);
	cw_tx_free(tx);
	if (rc == 0)
		rc = cw_users_refresh(u);
	return rc;
}

int
cw_users_add(cw_users *u, const void *name, size_t nl, const void *pw,
    size_t pl, uint8_t role, const void *prefix, size_t plen)
{
	char   nm[CW_USER_MAX + 1];
	char   hash[CW_PW_MAX];
	cw_buf rec = { 0 };
	int    rc;
	if (!name_ok(name, nl) || pl < 1 || pl > PW_MAXLEN || !role_ok(role) ||
	    plen > CW_PREFIX_MAX ||
	    (plen > 0 && memchr(prefix, 0, plen) != NULL) ||
	    (plen > 0 && ((const uint8_t *) prefix)[0] == 0xff))
		return CW_EINVAL;
	memcpy(nm, name, nl);
	nm[nl] = '\0';
	if ((rc = cw_pw_hash(pw, pl, 0, hash)) != 0)
		return rc;
	if ((rc = cw_buf_u8(&rec, REC_VERSION)) != 0 ||
	    (rc = cw_buf_u8(&rec, role)) != 0 ||
	    (rc = cw_buf_u16(&rec, (uint16_t) plen)) != 0 ||
	    (rc = cw_buf_put(&rec, prefix, plen)) != 0 ||
	    (rc = cw_buf_put(&rec, hash, strlen(hash))) != 0)
		goto out;
	if ((rc = commit_change(u, nm, &rec)) != 0)
		goto out;
	cw_log(CW_LOG_INFO, "users", "user %s added (role %s)", nm,
	    role == CW_ROLE_ADMIN           ? "admin"
	        : role == CW_ROLE_READWRITE ? "readwrite"
	                                    : "readonly");
	/* the password is known: its first login need not hash */
	uint8_t mac[CW_SEC_MAC];
	if (cw_sec_hmac(u->key, pw, pl, mac) == 0) {
		pthread_mutex_lock(&u->mu);
		struct user *y = find(u->t, u->n, nm);
		if (y != NULL && strcmp(y->hash, hash) == 0) {
			memcpy(y->mac, mac, sizeof(mac));
			y->has_mac = true;
		}
		pthread_mutex_unlock(&u->mu);
		memset(mac, 0, sizeof(mac));
	}
out:
	cw_buf_fini(&rec);
	return rc;
}

int
cw_users_del(cw_users *u, const void *name, size_t nl)
{
	char nm[CW_USER_MAX + 1];
	if (!name_ok(name, nl))
		return CW_EINVAL;
	memcpy(nm, name, nl);
	nm[nl] = '\0';
	int rc = cw_users_refresh(u);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&u->mu);
	bool found = find(u->t, u->n, nm) != NULL;
	pthread_mutex_unlock(&u->mu);
	if (!found)
		return CW_EINVAL;
	if ((rc = commit_change(u, nm, NULL)) == 0)
		cw_log(CW_LOG_INFO, "users", "user %s deleted", nm);
	return rc;
}

int
cw_users_list(cw_users *u, cw_result **out, size_t *n)
{
	*out = NULL;
	*n   = 0;
	pthread_mutex_lock(&u->mu);
	size_t     m   = u->n;
	cw_result *res = cw_calloc(m + 1, sizeof(*res));
	int        rc  = res == NULL ? CW_ENOMEM : 0;
	for (size_t i = 0; rc == 0 && i < m; i++) {
		struct user *x = &u->t[i];
		res[i].present = true;
		res[i].n       = x->role;
		if ((res[i].v = cw_memdup(x->name, strlen(x->name))) == NULL ||
		    (rc = cw_list_new(&res[i].list)) != 0 ||
		    (rc = cw_list_push(res[i].list, x->prefix, x->plen)) != 0)
			rc = CW_ENOMEM;
		res[i].vl = strlen(x->name);
	}
	pthread_mutex_unlock(&u->mu);
	if (rc != 0) {
		for (size_t i = 0; i < m; i++)
			cw_result_fini(&res[i]);
		cw_free(res);
		return rc;
	}
	*out = res;
	*n   = m;
	return 0;
}

int
cw_users_bootstrap(cw_users *u, const char *pw, size_t len)
{
	if (cw_users_on(u))
		return 0;
	int rc = cw_users_add(u, CW_ADMIN_USER, strlen(CW_ADMIN_USER), pw, len,
	    CW_ROLE_ADMIN, "", 0);
	return rc == 0 ? 1 : rc;
}
