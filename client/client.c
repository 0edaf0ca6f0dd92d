/*
 * client.c - the SDK of include/causeway.h.
 *
 * A cw_client is a session: a backend (today the embedded engine of txn/,
 * opened by cw_open_local; the network backend of cw_connect comes with
 * the server) and the session's causal clock. Every transaction begins on
 * a snapshot that includes the clock, and the clock absorbs every commit
 * and every snapshot the session read (once durable), which gives
 * read-your-writes and monotonic reads even when the clock is carried to
 * another DC (DESIGN 1.4).
 *
 * The embedded backend makes client/ depend on txn/ (DESIGN 8 has client
 * know only schema and causal): the dependency is confined to this file,
 * and docs/design.md records it.
 *
 * Threading: c->mu guards c->clock; c->db is thread-safe. A cw_txn is used
 * by one thread at a time.
 */
#include <pthread.h>
#include <stdlib.h>

#include "causeway.h"
#include "txn.h"
#include "util.h"

/* How long begin waits for the DC to catch up with the session clock. */
#define SESSION_WAIT_MS 1000

struct cw_client {
	cw_db          *db;
	pthread_mutex_t mu;
	/* mu guards: */
	cw_vc clock;
};

struct cw_txn {
	cw_client *c;
	cw_tx     *tx;
};

int
cw_connect(cw_client **out, const char *url)
{
	if (out != NULL)
		*out = NULL;
	if (out == NULL || url == NULL)
		return CW_EINVAL;
	cw_log(CW_LOG_ERROR, "client",
	    "cw_connect: the network SDK is not built yet; use cw_open_local");
	return CW_EUNAVAIL;
}

int
cw_open_local(cw_client **out, const char *dir)
{
	cw_client *c;
	cw_db_opts o;
	int        rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = NULL;
	if (dir == NULL || *dir == '\0')
		return CW_EINVAL;
	if ((c = cw_calloc(1, sizeof(*c))) == NULL)
		return CW_ENOMEM;
	cw_db_opts_default(&o);
	if ((rc = cw_db_open(&c->db, dir, &o)) != 0) {
		cw_free(c);
		return rc;
	}
	pthread_mutex_init(&c->mu, NULL);
	cw_causal_vc_init(&c->clock, cw_db_ndc(c->db));
	*out = c;
	return 0;
}

void
cw_close(cw_client *c)
{
	if (c == NULL)
		return;
	cw_db_close(c->db);
	pthread_mutex_destroy(&c->mu);
	cw_free(c);
}

int
cw_clock_get(cw_client *c, void **bytes, size_t *len)
{
	if (c == NULL || bytes == NULL || len == NULL)
		return CW_EINVAL;
	pthread_mutex_lock(&c->mu);
	cw_vc vc = c->clock;
	pthread_mutex_unlock(&c->mu);
	size_t n = cw_causal_vc_size(&vc);
	/* plain malloc: the caller frees with free() */
	if ((*bytes = cw_malloc(n)) == NULL)
		return CW_ENOMEM;
	cw_causal_vc_encode(&vc, *bytes);
	*len = n;
	return 0;
}

int
cw_clock_merge(cw_client *c, const void *bytes, size_t len)
{
	cw_vc vc;
	int   rc;
	if (c == NULL || bytes == NULL)
		return CW_EINVAL;
	if ((rc = cw_causal_vc_decode(&vc, bytes, len)) != 0)
		return rc;
	pthread_mutex_lock(&c->mu);
	cw_causal_vc_merge(&c->clock, &vc);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static void
clock_absorb(cw_client *c, const cw_vc *vc)
{
	pthread_mutex_lock(&c->mu);
	cw_causal_vc_merge(&c->clock, vc);
	pthread_mutex_unlock(&c->mu);
}

int
cw_begin(cw_client *c, cw_txn **out)
{
	cw_txn *t;
	cw_vc   need;
	int     rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = NULL;
	if (c == NULL)
		return CW_EINVAL;
	if ((t = cw_calloc(1, sizeof(*t))) == NULL)
		return CW_ENOMEM;
	pthread_mutex_lock(&c->mu);
	need = c->clock;
	pthread_mutex_unlock(&c->mu);
	if ((rc = cw_tx_begin(c->db, &need, SESSION_WAIT_MS, &t->tx)) != 0) {
		cw_free(t);
		return rc;
	}
	t->c = c;
	*out = t;
	return 0;
}

int
cw_commit(cw_txn *t)
{
	cw_vc vc;
	if (t == NULL)
		return CW_EINVAL;
	int rc = cw_tx_commit(t->tx, &vc);
	if (rc == 0)
		clock_absorb(t->c, &vc);
	cw_tx_free(t->tx);
	cw_free(t);
	return rc;
}

void
cw_abort(cw_txn *t)
{
	if (t == NULL)
		return;
	if (cw_tx_observed(t->tx)) {
		/* the session has read this snapshot */
		cw_vc snap;
		cw_tx_snapshot(t->tx, &snap);
		clock_absorb(t->c, &snap);
	}
	cw_tx_free(t->tx);
	cw_free(t);
}

int
cw_reg_put(cw_txn *t, const void *k, size_t kl, const void *v, size_t vl)
{
	return t ? cw_tx_reg_put(t->tx, k, kl, v, vl) : CW_EINVAL;
}

int
cw_reg_get(cw_txn *t, const void *k, size_t kl, void **v, size_t *vl)
{
	return t ? cw_tx_reg_get(t->tx, k, kl, v, vl) : CW_EINVAL;
}

int
cw_counter_add(cw_txn *t, const void *k, size_t kl, int64_t delta)
{
	return t ? cw_tx_counter_add(t->tx, k, kl, delta) : CW_EINVAL;
}

int
cw_counter_get(cw_txn *t, const void *k, size_t kl, int64_t *out)
{
	return t ? cw_tx_counter_get(t->tx, k, kl, out) : CW_EINVAL;
}

int
cw_bcounter_add(cw_txn *t, const void *k, size_t kl, int64_t delta)
{
	return t ? cw_tx_bcounter_add(t->tx, k, kl, delta) : CW_EINVAL;
}

int
cw_bcounter_get(cw_txn *t, const void *k, size_t kl, int64_t *out)
{
	return t ? cw_tx_bcounter_get(t->tx, k, kl, out) : CW_EINVAL;
}

int
cw_bcounter_rights(cw_txn *t, const void *k, size_t kl, int64_t *out)
{
	return t ? cw_tx_bcounter_rights(t->tx, k, kl, out) : CW_EINVAL;
}

int
cw_bcounter_transfer(cw_txn *t, const void *k, size_t kl, int64_t n, int to_dc)
{
	return t ? cw_tx_bcounter_transfer(t->tx, k, kl, n, to_dc) : CW_EINVAL;
}

int
cw_set_add(cw_txn *t, const void *k, size_t kl, const void *e, size_t el)
{
	return t ? cw_tx_set_add(t->tx, k, kl, e, el) : CW_EINVAL;
}

int
cw_set_remove(cw_txn *t, const void *k, size_t kl, const void *e, size_t el)
{
	return t ? cw_tx_set_remove(t->tx, k, kl, e, el) : CW_EINVAL;
}

int
cw_set_contains(
    cw_txn *t, const void *k, size_t kl, const void *e, size_t el, bool *out)
{
	return t ? cw_tx_set_contains(t->tx, k, kl, e, el, out) : CW_EINVAL;
}

int
cw_set_members(cw_txn *t, const void *k, size_t kl, cw_list **out)
{
	return t ? cw_tx_set_members(t->tx, k, kl, out) : CW_EINVAL;
}

int
cw_map_put(cw_txn *t, const void *k, size_t kl, const char *field,
    const void *v, size_t vl)
{
	return t ? cw_tx_map_put(t->tx, k, kl, field, v, vl) : CW_EINVAL;
}

int
cw_map_remove(cw_txn *t, const void *k, size_t kl, const char *field)
{
	return t ? cw_tx_map_remove(t->tx, k, kl, field) : CW_EINVAL;
}

int
cw_map_get(cw_txn *t, const void *k, size_t kl, const char *field, void **v,
    size_t *vl)
{
	return t ? cw_tx_map_get(t->tx, k, kl, field, v, vl) : CW_EINVAL;
}

int
cw_map_fields(cw_txn *t, const void *k, size_t kl, cw_list **out)
{
	return t ? cw_tx_map_fields(t->tx, k, kl, out) : CW_EINVAL;
}
