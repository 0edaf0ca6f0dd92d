/*
 * client.c - the SDK of include/causeway.h, embedded or over the network.
 *
 * A cw_client is a session: a backend and the session's causal clock. The
 * embedded backend (cw_open_local) runs each call on a transaction of the
 * in-process engine (txn/). The network backend (cw_connect) buffers a
 * transaction's writes and sends them with its next read or its commit,
 * so a write-only transaction is one round trip; the first read opens the
 * transaction on the server, later ones name it by id. Both backends run
 * the same operations (cw_op, schema.h) through the same executor
 * (cw_tx_exec), here or in causewayd.
 *
 * The clock absorbs every commit and every snapshot the session read
 * (once durable), and every transaction begins on a snapshot that
 * includes it: read-your-writes and monotonic reads hold even when the
 * clock is carried to another DC (DESIGN 1.4).
 *
 * Over the network a buffered write's error (CW_ETYPE, say) surfaces at
 * the next read or at commit: a failed write at commit aborts the whole
 * transaction; at a read it and the writes buffered after it are dropped.
 * A transaction whose server-side state is gone (the server restarted, or
 * the connection broke and the idle timeout passed) reports CW_EUNAVAIL
 * if the connection changed, CW_ESTATE if not (idle timeout): never a
 * silent success.
 *
 * A read-only network transaction ends without a round trip of its own:
 * its id rides on the session's next request, whatever it is, and the
 * server releases it before running that request (cw_close sends what
 * is left; an idle session's last one waits for the idle timeout at
 * worst). Its commit cannot fail: every read already returned.
 *
 * The embedded backend makes client/ depend on txn/ (DESIGN 8 has client
 * know only schema and causal); docs/design.md records it.
 *
 * Threading: c->mu guards c->clock and c->rel; the backends are
 * thread-safe. A
 * cw_txn is used by one thread at a time.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causeway.h"
#include "escrow.h"
#include "net.h"
#include "schema.h"
#include "txn.h"
#include "util.h"

/* How long an embedded begin waits for the session clock. */
#define SESSION_WAIT_MS 1000

struct cw_client {
	cw_db          *db;  /* embedded, or NULL */
	cw_escrow      *esc; /* embedded: db's escrow (refusals counted) */
	cw_net         *net; /* network, or NULL */
	pthread_mutex_t mu;
	/* mu guards: */
	cw_vc    clock;
	uint64_t rel[CW_MAX_RELEASE]; /* ended read-only transactions, to
	                               * release with the next request */
	size_t nrel;
};

/* A write buffered by a network transaction: offsets into wdata. */
struct pw {
	uint8_t op;
	size_t  koff, kl, foff, fl, voff, vl;
	int64_t n;
};

struct cw_txn {
	cw_client *c;
	cw_tx     *tx; /* embedded */
	/* network: */
	uint64_t   txid;  /* 0 until the server opened it */
	uint32_t   pipe;  /* connection of the opening reply */
	cw_vc      clock; /* session clock at begin */
	struct pw *w;
	size_t     nw, wcap;
	bool       wrote; /* a write was buffered, sent or not */
	cw_buf     wdata;
};

static void
clock_absorb(cw_client *c, const cw_vc *vc)
{
	pthread_mutex_lock(&c->mu);
	cw_causal_vc_merge(&c->clock, vc);
	pthread_mutex_unlock(&c->mu);
}

static int
client_new(cw_client **out)
{
	if ((*out = cw_calloc(1, sizeof(**out))) == NULL)
		return CW_ENOMEM;
	pthread_mutex_init(&(*out)->mu, NULL);
	cw_causal_vc_init(&(*out)->clock, 1);
	return 0;
}

int
cw_connect(cw_client **out, const char *url)
{
	return cw_connect_opts(out, url, NULL);
}

int
cw_connect_opts(cw_client **out, const char *url, const cw_connect_options *o)
{
	cw_client *c;
	int        rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = NULL;
	if (url == NULL || *url == '\0')
		return CW_EINVAL;
	if ((rc = client_new(&c)) != 0)
		return rc;
	cw_net_tls t = { 0 };
	if (o != NULL)
		t = (cw_net_tls) { o->ca_file, o->cert_file, o->key_file,
			o->server_name };
	if ((rc = cw_net_open_tls(&c->net, url, o ? &t : NULL)) != 0) {
		cw_close(c);
		return rc;
	}
	if (o != NULL &&
	    (o->user != NULL || o->password != NULL ||
	        o->password_file != NULL)) {
		char pw[1025];
		if (o->user == NULL)
			rc = CW_EINVAL;
		else if (o->password != NULL)
			rc = cw_net_login(c->net, o->user, o->password);
		else if ((rc = cw_read_secret(
		              o->password_file, pw, sizeof(pw))) == 0)
			rc = cw_net_login(c->net, o->user, pw);
		explicit_bzero(pw, sizeof(pw));
		if (rc != 0) {
			cw_close(c);
			return rc;
		}
	}
	*out = c;
	return 0;
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
	if ((rc = client_new(&c)) != 0)
		return rc;
	cw_db_opts_default(&o);
	if ((rc = cw_db_open(&c->db, dir, &o)) != 0 ||
	    (rc = cw_escrow_new(&c->esc, c->db)) != 0) {
		cw_close(c);
		return rc;
	}
	cw_causal_vc_init(&c->clock, cw_db_ndc(c->db));
	*out = c;
	return 0;
}

static void take_releases(cw_client *c, cw_req *h);

void
cw_close(cw_client *c)
{
	if (c == NULL)
		return;
	if (c->net != NULL && c->nrel > 0) {
		/* what the session ended last: best effort */
		cw_req       h = { .kind = CW_REQ_ABORT };
		cw_net_reply rep;
		take_releases(c, &h);
		if (cw_net_call(c->net, &h, NULL, 0, NULL, 0, &rep) == 0)
			cw_net_reply_fini(&rep);
	}
	cw_escrow_free(c->esc);
	cw_db_close(c->db);
	cw_net_close(c->net);
	pthread_mutex_destroy(&c->mu);
	cw_free(c);
}

int
cw_set_timeout(cw_client *c, int ms)
{
	if (c == NULL || ms <= 0)
		return CW_EINVAL;
	if (c->net != NULL)
		cw_net_set_timeout(c->net, ms);
	return 0;
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
	if ((*bytes = cw_malloc(n)) == NULL) /* the caller free()s it */
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
	clock_absorb(c, &vc);
	return 0;
}

int
cw_begin(cw_client *c, cw_txn **out)
{
	cw_txn *t;
	int     rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = NULL;
	if (c == NULL)
		return CW_EINVAL;
	if ((t = cw_calloc(1, sizeof(*t))) == NULL)
		return CW_ENOMEM;
	t->c = c;
	pthread_mutex_lock(&c->mu);
	t->clock = c->clock;
	pthread_mutex_unlock(&c->mu);
	if (c->db != NULL &&
	    (rc = cw_tx_begin(c->db, &t->clock, SESSION_WAIT_MS, &t->tx)) !=
	        0) {
		cw_free(t);
		return rc;
	}
	/* over the network the transaction opens with its first request */
	*out = t;
	return 0;
}

/* ---- network transactions ---- */

/* Moves the session's ended read-only transactions into request h. */
static void
take_releases(cw_client *c, cw_req *h)
{
	pthread_mutex_lock(&c->mu);
	memcpy(h->release, c->rel, c->nrel * sizeof(c->rel[0]));
	h->nrelease = c->nrel;
	c->nrel     = 0;
	pthread_mutex_unlock(&c->mu);
}

/* Queues txid for release with the next request; false when the queue
 * is full (then the caller ends it with a request of its own). */
static bool
defer_release(cw_client *c, uint64_t txid)
{
	bool ok;
	pthread_mutex_lock(&c->mu);
	if ((ok = c->nrel < CW_MAX_RELEASE))
		c->rel[c->nrel++] = txid;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

static void
net_free(cw_txn *t)
{
	cw_free(t->w);
	cw_buf_fini(&t->wdata);
	cw_free(t);
}

/* Checks what the server would refuse anyway, so the caller hears of it
 * at the call that made the mistake (and cw_read_many runs nothing). */
static int
net_check(const cw_op *op)
{
	if (op->key == NULL || op->kl == 0 ||
	    (op->val == NULL && op->vl > 0) ||
	    (op->field == NULL && op->fl > 0))
		return CW_EINVAL;
	if (op->kl > CW_MAX_KEY || op->fl > CW_MAX_FIELD)
		return CW_ETOOBIG;
	return 0;
}

static int
net_buffer(cw_txn *t, const cw_op *op)
{
	int rc;
	if (cw_grow(&t->w, &t->wcap, t->nw + 1, sizeof(*t->w)) != 0)
		return CW_ENOMEM;
	struct pw p   = { op->op, t->wdata.len, op->kl, 0, op->fl, 0, op->vl,
		  op->n };
	size_t    old = t->wdata.len;
	p.foff        = old + op->kl;
	p.voff        = p.foff + op->fl;
	if ((rc = cw_buf_put(&t->wdata, op->key, op->kl)) != 0 ||
	    (rc = cw_buf_put(&t->wdata, op->field, op->fl)) != 0 ||
	    (rc = cw_buf_put(&t->wdata, op->val, op->vl)) != 0) {
		t->wdata.len = old;
		return rc;
	}
	t->w[t->nw++] = p;
	t->wrote      = true;
	return 0;
}

/* The buffered writes as operations (pointing into t->wdata). */
static cw_op *
net_writes(cw_txn *t)
{
	cw_op *ops = cw_calloc(t->nw ? t->nw : 1, sizeof(*ops));
	for (size_t i = 0; ops != NULL && i < t->nw; i++) {
		const struct pw *p = &t->w[i];
		ops[i] = (cw_op) { p->op, t->wdata.p + p->koff, p->kl,
			t->wdata.p + p->foff, p->fl, t->wdata.p + p->voff,
			p->vl, p->n };
	}
	return ops;
}

/* Sends kind (READ with nr reads, or COMMIT) with the buffered writes. */
static int
net_send(cw_txn *t, int kind, const cw_op *read, size_t nr, cw_net_reply *rep)
{
	uint8_t clk[1 + 8 * CW_MAX_DC];
	cw_req  h = { .kind = (uint8_t) kind, .txid = t->txid };
	memset(rep, 0, sizeof(*rep));
	take_releases(t->c, &h);
	cw_op *w = net_writes(t);
	if (w == NULL)
		return CW_ENOMEM;
	if (t->txid == 0) {
		cw_causal_vc_encode(&t->clock, clk);
		h.clock    = clk;
		h.clocklen = cw_causal_vc_size(&t->clock);
	}
	int rc = cw_net_call(t->c->net, &h, w, t->nw, read, nr, rep);
	cw_free(w);
	if (rc != 0)
		return rc;
	/* the writes reached the server: applied, or refused for good */
	t->nw        = 0;
	t->wdata.len = 0;
	if (rep->rep.clocklen > 0) {
		cw_vc vc;
		if (cw_causal_vc_decode(
		        &vc, rep->rep.clock, rep->rep.clocklen) == 0)
			clock_absorb(t->c, &vc);
	}
	rc = rep->rep.err;
	if (rc == CW_ESTATE && t->txid != 0 && rep->pipe != t->pipe)
		rc = CW_EUNAVAIL; /* the transaction was lost with its link */
	return rc;
}

/* Copies a reply's result i into a caller's result. */
static int
result_copy(cw_net_reply *rep, size_t i, cw_result *res)
{
	cw_rep_result x;
	memset(res, 0, sizeof(*res));
	if (i >= rep->rep.nresults)
		return CW_EPROTO;
	cw_schema_rep_result(&rep->rep, i, &x);
	res->err     = x.err;
	res->present = x.present;
	res->n       = x.n;
	if (x.present && (res->v = cw_memdup(x.v, x.vl)) == NULL)
		return CW_ENOMEM;
	res->vl = x.present ? x.vl : 0;
	if (x.nitems > 0 || x.err == 0) {
		if (cw_list_new(&res->list) != 0)
			return CW_ENOMEM;
		for (size_t j = 0; j < x.nitems; j++) {
			const void *p;
			size_t      l;
			cw_schema_rep_item(&rep->rep, i, j, &p, &l);
			if (cw_list_push(res->list, p, l) != 0)
				return CW_ENOMEM;
		}
	}
	return x.err;
}

/* The first reply of a transaction names it. */
static void
net_opened(cw_txn *t, const cw_net_reply *rep)
{
	if (t->txid == 0 && rep->rep.txid != 0) {
		t->txid = rep->rep.txid;
		t->pipe = rep->pipe;
	}
}

static int
net_run(cw_txn *t, const cw_op *op, cw_result *res)
{
	cw_net_reply rep;
	int          rc;
	memset(res, 0, sizeof(*res));
	if ((rc = net_check(op)) != 0)
		return rc;
	if (cw_schema_op_is_write(op->op))
		return net_buffer(t, op);
	rc = net_send(t, CW_REQ_READ, op, 1, &rep);
	if (rc == 0 || rep.buf != NULL) {
		net_opened(t, &rep);
		if (rc == 0)
			rc = rep.rep.nresults == 1 ? result_copy(&rep, 0, res)
			                           : CW_EPROTO;
	}
	cw_net_reply_fini(&rep);
	if (rc != 0)
		cw_result_fini(res);
	return rc;
}

/* ---- one dispatch for every object call ---- */

static int
run(cw_txn *t, const cw_op *op, cw_result *res)
{
	if (t == NULL) {
		memset(res, 0, sizeof(*res));
		return CW_EINVAL;
	}
	if (t->tx != NULL)
		return cw_tx_exec(t->tx, op, res);
	return net_run(t, op, res);
}

static int
run_write(cw_txn *t, const cw_op *op)
{
	cw_result res;
	int       rc = run(t, op, &res);
	cw_result_fini(&res);
	return rc;
}

int
cw_commit(cw_txn *t)
{
	cw_vc        vc;
	cw_net_reply rep;
	int          rc;
	if (t == NULL)
		return CW_EINVAL;
	if (t->tx != NULL) {
		if ((rc = cw_tx_commit(t->tx, &vc)) == 0)
			clock_absorb(t->c, &vc);
		cw_tx_free(t->tx);
		cw_free(t);
		return rc;
	}
	if (t->txid == 0 && t->nw == 0) {
		net_free(t); /* nothing read, nothing written */
		return 0;
	}
	if (!t->wrote && defer_release(t->c, t->txid)) {
		net_free(t); /* read only: ends with the next request */
		return 0;
	}
	rc = net_send(t, CW_REQ_COMMIT, NULL, 0, &rep);
	cw_net_reply_fini(&rep);
	net_free(t);
	return rc;
}

void
cw_abort(cw_txn *t)
{
	if (t == NULL)
		return;
	if (t->tx != NULL) {
		if (cw_tx_observed(t->tx)) {
			/* the session has read this snapshot */
			cw_vc snap;
			cw_tx_snapshot(t->tx, &snap);
			clock_absorb(t->c, &snap);
		}
		cw_tx_free(t->tx);
		cw_free(t);
		return;
	}
	if (t->txid != 0 && !defer_release(t->c, t->txid)) {
		/* best effort: the idle timeout reaps it otherwise */
		cw_req       h = { .kind = CW_REQ_ABORT, .txid = t->txid };
		cw_net_reply rep;
		take_releases(t->c, &h);
		if (cw_net_call(t->c->net, &h, NULL, 0, NULL, 0, &rep) == 0)
			cw_net_reply_fini(&rep);
	}
	net_free(t);
}

/* Copies a value result out to the caller. */
static int
value_out(int rc, cw_result *res, void **v, size_t *vl)
{
	if (rc == 0) {
		*v      = res->v; /* owned by the caller now */
		*vl     = res->vl;
		res->v  = NULL;
		res->vl = 0;
	}
	cw_result_fini(res);
	return rc;
}

static int
list_out(int rc, cw_result *res, cw_list **out)
{
	if (rc == 0) {
		if (res->list == NULL && cw_list_new(&res->list) != 0)
			rc = CW_ENOMEM;
		*out      = rc == 0 ? res->list : NULL;
		res->list = rc == 0 ? NULL : res->list;
	}
	cw_result_fini(res);
	return rc;
}

static int
n_out(int rc, cw_result *res, int64_t *out)
{
	if (rc == 0)
		*out = res->n;
	cw_result_fini(res);
	return rc;
}

#define OP(o, k, kl)                              \
	(cw_op)                                   \
	{                                         \
		.op = (o), .key = (k), .kl = (kl) \
	}

int
cw_reg_put(cw_txn *t, const void *k, size_t kl, const void *v, size_t vl)
{
	cw_op op = OP(CW_OP_REG_PUT, k, kl);
	op.val   = v;
	op.vl    = vl;
	return run_write(t, &op);
}

int
cw_reg_get(cw_txn *t, const void *k, size_t kl, void **v, size_t *vl)
{
	cw_result res;
	if (v == NULL || vl == NULL)
		return CW_EINVAL;
	*v       = NULL;
	*vl      = 0;
	cw_op op = OP(CW_OP_REG_GET, k, kl);
	return value_out(run(t, &op, &res), &res, v, vl);
}

int
cw_counter_add(cw_txn *t, const void *k, size_t kl, int64_t delta)
{
	cw_op op = OP(CW_OP_COUNTER_ADD, k, kl);
	op.n     = delta;
	return run_write(t, &op);
}

int
cw_counter_get(cw_txn *t, const void *k, size_t kl, int64_t *out)
{
	cw_result res;
	if (out == NULL)
		return CW_EINVAL;
	*out     = 0;
	cw_op op = OP(CW_OP_COUNTER_GET, k, kl);
	return n_out(run(t, &op, &res), &res, out);
}

int
cw_bcounter_add(cw_txn *t, const void *k, size_t kl, int64_t delta)
{
	cw_op op = OP(CW_OP_BCOUNTER_ADD, k, kl);
	op.n     = delta;
	return run_write(t, &op);
}

int
cw_bcounter_add_wait(
    cw_txn *t, const void *k, size_t kl, int64_t delta, uint32_t wait_ms)
{
	uint8_t w[4] = { (uint8_t) wait_ms, (uint8_t) (wait_ms >> 8),
		(uint8_t) (wait_ms >> 16), (uint8_t) (wait_ms >> 24) };
	cw_op   op   = OP(CW_OP_BCOUNTER_ADD_WAIT, k, kl);
	op.n         = delta;
	op.val       = w;
	op.vl        = sizeof(w);
	return run_write(t, &op);
}

int
cw_bcounter_get(cw_txn *t, const void *k, size_t kl, int64_t *out)
{
	cw_result res;
	if (out == NULL)
		return CW_EINVAL;
	*out     = 0;
	cw_op op = OP(CW_OP_BCOUNTER_GET, k, kl);
	return n_out(run(t, &op, &res), &res, out);
}

int
cw_bcounter_rights(cw_txn *t, const void *k, size_t kl, int64_t *out)
{
	cw_result res;
	if (out == NULL)
		return CW_EINVAL;
	*out     = 0;
	cw_op op = OP(CW_OP_BCOUNTER_RIGHTS, k, kl);
	return n_out(run(t, &op, &res), &res, out);
}

int
cw_bcounter_transfer(cw_txn *t, const void *k, size_t kl, int64_t n, int to_dc)
{
	if (to_dc < 0 || to_dc >= CW_MAX_DC)
		return CW_EINVAL;
	uint8_t to = (uint8_t) to_dc;
	cw_op   op = OP(CW_OP_BCOUNTER_TRANSFER, k, kl);
	op.n       = n;
	op.val     = &to;
	op.vl      = 1;
	return run_write(t, &op);
}

int
cw_set_add(cw_txn *t, const void *k, size_t kl, const void *e, size_t el)
{
	cw_op op = OP(CW_OP_SET_ADD, k, kl);
	op.val   = e;
	op.vl    = el;
	return run_write(t, &op);
}

int
cw_set_remove(cw_txn *t, const void *k, size_t kl, const void *e, size_t el)
{
	cw_op op = OP(CW_OP_SET_REMOVE, k, kl);
	op.val   = e;
	op.vl    = el;
	return run_write(t, &op);
}

int
cw_set_contains(
    cw_txn *t, const void *k, size_t kl, const void *e, size_t el, bool *out)
{
	cw_result res;
	if (out == NULL || (e == NULL && el > 0))
		return CW_EINVAL;
	*out     = false;
	cw_op op = OP(CW_OP_SET_CONTAINS, k, kl);
	op.val   = e;
	op.vl    = el;
	int rc   = run(t, &op, &res);
	if (rc == 0)
		*out = res.present;
	cw_result_fini(&res);
	return rc;
}

int
cw_set_members(cw_txn *t, const void *k, size_t kl, cw_list **out)
{
	cw_result res;
	if (out == NULL)
		return CW_EINVAL;
	*out     = NULL;
	cw_op op = OP(CW_OP_SET_MEMBERS, k, kl);
	return list_out(run(t, &op, &res), &res, out);
}

/* A map operation's field: NULL is CW_EINVAL. */
static int
map_op(cw_op *op, const char *field)
{
	if (field == NULL)
		return CW_EINVAL;
	op->field = field;
	op->fl    = strlen(field);
	return 0;
}

int
cw_map_put(cw_txn *t, const void *k, size_t kl, const char *field,
    const void *v, size_t vl)
{
	cw_op op = OP(CW_OP_MAP_PUT, k, kl);
	op.val   = v;
	op.vl    = vl;
	return map_op(&op, field) ? CW_EINVAL : run_write(t, &op);
}

int
cw_map_remove(cw_txn *t, const void *k, size_t kl, const char *field)
{
	cw_op op = OP(CW_OP_MAP_REMOVE, k, kl);
	return map_op(&op, field) ? CW_EINVAL : run_write(t, &op);
}

int
cw_map_get(cw_txn *t, const void *k, size_t kl, const char *field, void **v,
    size_t *vl)
{
	cw_result res;
	if (v == NULL || vl == NULL)
		return CW_EINVAL;
	*v       = NULL;
	*vl      = 0;
	cw_op op = OP(CW_OP_MAP_GET, k, kl);
	if (map_op(&op, field) != 0)
		return CW_EINVAL;
	return value_out(run(t, &op, &res), &res, v, vl);
}

int
cw_map_fields(cw_txn *t, const void *k, size_t kl, cw_list **out)
{
	cw_result res;
	if (out == NULL)
		return CW_EINVAL;
	*out     = NULL;
	cw_op op = OP(CW_OP_MAP_FIELDS, k, kl);
	return list_out(run(t, &op, &res), &res, out);
}

/* ---- several reads at once ---- */

static const uint8_t read_ops[] = {
	[CW_READ_REG]          = CW_OP_REG_GET,
	[CW_READ_COUNTER]      = CW_OP_COUNTER_GET,
	[CW_READ_BCOUNTER]     = CW_OP_BCOUNTER_GET,
	[CW_READ_SET_CONTAINS] = CW_OP_SET_CONTAINS,
	[CW_READ_SET_MEMBERS]  = CW_OP_SET_MEMBERS,
	[CW_READ_MAP_GET]      = CW_OP_MAP_GET,
	[CW_READ_MAP_FIELDS]   = CW_OP_MAP_FIELDS,
};

static int
read_op(const cw_read *r, cw_op *op)
{
	if (r->kind < CW_READ_REG || r->kind > CW_READ_MAP_FIELDS)
		return CW_EINVAL;
	*op = (cw_op) { .op = read_ops[r->kind], .key = r->key, .kl = r->kl };
	if (r->kind == CW_READ_SET_CONTAINS) {
		if (r->elem == NULL && r->el > 0)
			return CW_EINVAL;
		op->val = r->elem;
		op->vl  = r->el;
	}
	if (r->kind == CW_READ_MAP_GET)
		return map_op(op, r->field);
	return 0;
}

/* Moves a result into r. */
static void
read_out(cw_read *r, cw_result *res)
{
	r->err = res->err;
	if (r->err == 0) {
		r->found = res->present;
		r->n     = res->n;
		r->v     = res->v;
		r->vl    = res->vl;
		res->v   = NULL;
		if (r->kind == CW_READ_SET_MEMBERS ||
		    r->kind == CW_READ_MAP_FIELDS) {
			if (res->list == NULL && cw_list_new(&res->list) != 0)
				r->err = CW_ENOMEM;
			r->list   = res->list;
			res->list = NULL;
		}
	}
	cw_result_fini(res);
}

void
cw_read_fini(cw_read *r, size_t n)
{
	for (size_t i = 0; r != NULL && i < n; i++) {
		cw_free(r[i].v);
		cw_list_free(r[i].list);
		r[i].v     = NULL;
		r[i].vl    = 0;
		r[i].list  = NULL;
		r[i].found = false;
		r[i].n     = 0;
		r[i].err   = 0;
	}
}

int
cw_read_many(cw_txn *t, cw_read *r, size_t n)
{
	cw_net_reply rep;
	cw_result    res;
	cw_op       *ops;
	int          rc = 0;
	if (t == NULL || r == NULL || n == 0 || n > CW_MAX_READS)
		return CW_EINVAL;
	for (size_t i = 0; i < n; i++) {
		r[i].v    = NULL;
		r[i].list = NULL;
	}
	cw_read_fini(r, n);
	if ((ops = cw_calloc(n, sizeof(*ops))) == NULL)
		return CW_ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((rc = read_op(&r[i], &ops[i])) == 0)
			rc = net_check(&ops[i]);
	if (rc != 0)
		goto out;
	if (t->tx != NULL) {
		for (size_t i = 0; i < n; i++) {
			cw_tx_exec(t->tx, &ops[i], &res);
			read_out(&r[i], &res);
		}
		goto out;
	}
	rc = net_send(t, CW_REQ_READ, ops, n, &rep);
	if (rc == 0 || rep.buf != NULL) {
		net_opened(t, &rep);
		if (rc == 0 && rep.rep.nresults != n)
			rc = CW_EPROTO;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			int e = result_copy(&rep, i, &res);
			if (e == CW_ENOMEM || e == CW_EPROTO) {
				cw_result_fini(&res);
				rc = e;
				cw_read_fini(r, i);
				break;
			}
			res.err = e;
			read_out(&r[i], &res);
		}
	}
	cw_net_reply_fini(&rep);
out:
	cw_free(ops);
	return rc;
}

int
cw_dc_status(cw_client *c, cw_dc_info *out)
{
	if (c == NULL || out == NULL)
		return CW_EINVAL;
	memset(out, 0, sizeof(*out));
	if (c->db != NULL) {
		cw_vc S;
		cw_db_state(c->db, &S);
		out->dc  = cw_db_dc(c->db);
		out->ndc = (int) cw_db_ndc(c->db);
		memcpy(out->state, S.v, sizeof(uint64_t) * S.n);
		cw_db_durable_state(c->db, &S);
		memcpy(out->durable, S.v, sizeof(uint64_t) * S.n);
		cw_escrow_stats es;
		cw_escrow_figures(c->esc, &es);
		out->escrow_requests = es.requests;
		out->escrow_grants   = es.grants;
		out->escrow_moved    = es.moved;
		out->escrow_refused  = es.refused;
		return cw_db_digest(c->db, &out->digest);
	}
	cw_req       h = { .kind = CW_REQ_STATUS };
	cw_net_reply rep;
	take_releases(c, &h);
	int rc = cw_net_call(c->net, &h, NULL, 0, NULL, 0, &rep);
	if (rc != 0)
		return rc;
	if ((rc = rep.rep.err) == 0) {
		out->dc  = rep.rep.dc;
		out->ndc = (int) rep.rep.ndc;
		memcpy(out->state, rep.rep.state,
		    sizeof(uint64_t) * rep.rep.nstate);
		memcpy(out->durable, rep.rep.durable,
		    sizeof(uint64_t) * rep.rep.ndurable);
		out->digest          = rep.rep.digest;
		out->escrow_requests = rep.rep.escrow[0];
		out->escrow_grants   = rep.rep.escrow[1];
		out->escrow_moved    = rep.rep.escrow[2];
		out->escrow_refused  = rep.rep.escrow[3];
		out->requests        = rep.rep.requests;
		for (size_t i = 0; i < rep.rep.npeers && i < 63; i++) {
			cw_schema_peer p;
			cw_schema_rep_peer(&rep.rep, i, &p);
			out->peers[i].id           = p.id;
			out->peers[i].up           = p.up;
			out->peers[i].heard_ms_ago = p.heard_ms;
			out->peers[i].behind       = p.behind;
			out->peers[i].lag_ms       = p.lag_ms;
			out->peers[i].forwarded    = p.forwarded;
			memcpy(out->peers[i].acked, p.acked,
			    sizeof(uint64_t) * p.nacked);
			out->npeers++;
		}
	}
	cw_net_reply_fini(&rep);
	return rc;
}

/* ---- users ---- */

static const char *const role_names[] = { NULL, "readonly", "readwrite",
	"admin" };

const char *
cw_role_name(int role)
{
	return role >= CW_ROLE_READONLY && role <= CW_ROLE_ADMIN
	    ? role_names[role]
	    : NULL;
}

int
cw_role_of(const char *name)
{
	for (int r = CW_ROLE_READONLY; name != NULL && r <= CW_ROLE_ADMIN; r++)
		if (strcmp(name, role_names[r]) == 0)
			return r;
	return 0;
}

/* One user request h; OUT: *rep when rep is non-NULL (else finished
 * here). Returns its error. */
static int
user_call(cw_client *c, cw_req *h, cw_net_reply *rep)
{
	cw_net_reply mine;
	if (c == NULL || c->net == NULL)
		return CW_EINVAL; /* an embedded session has no users */
	if (rep == NULL)
		rep = &mine;
	int rc = cw_net_call(c->net, h, NULL, 0, NULL, 0, rep);
	if (rc == 0)
		rc = rep->rep.err;
	if (rep == &mine || rc != 0)
		cw_net_reply_fini(rep);
	return rc;
}

int
cw_user_add(cw_client *c, const char *name, const char *password, int role,
    const char *prefix)
{
	if (name == NULL || password == NULL || cw_role_name(role) == NULL)
		return CW_EINVAL;
	cw_req h = { .kind = CW_REQ_USER,
		.uop       = CW_UOP_ADD,
		.user      = name,
		.userlen   = strlen(name),
		.password  = password,
		.pwlen     = strlen(password),
		.role      = (uint8_t) role,
		.prefix    = prefix,
		.prefixlen = prefix ? strlen(prefix) : 0 };
	return user_call(c, &h, NULL);
}

int
cw_user_del(cw_client *c, const char *name)
{
	if (name == NULL)
		return CW_EINVAL;
	cw_req h = { .kind = CW_REQ_USER,
		.uop       = CW_UOP_DEL,
		.user      = name,
		.userlen   = strlen(name) };
	return user_call(c, &h, NULL);
}

int
cw_user_list(cw_client *c, cw_user_info **out, size_t *n)
{
	cw_net_reply rep;
	if (out == NULL || n == NULL)
		return CW_EINVAL;
	*out      = NULL;
	*n        = 0;
	cw_req h  = { .kind = CW_REQ_USER, .uop = CW_UOP_LIST };
	int    rc = user_call(c, &h, &rep);
	if (rc != 0)
		return rc;
	size_t        m = rep.rep.nresults;
	cw_user_info *u = calloc(m + 1, sizeof(*u));
	if (u == NULL) {
		cw_net_reply_fini(&rep);
		return CW_ENOMEM;
	}
	for (size_t i = 0; i < m; i++) {
		cw_rep_result x;
		const void   *p;
		size_t        pl = 0;
		cw_schema_rep_result(&rep.rep, i, &x);
		snprintf(u[i].name, sizeof(u[i].name), "%.*s",
		    (int) (x.vl < CW_USER_NAME_MAX ? x.vl : CW_USER_NAME_MAX),
		    (const char *) x.v);
		u[i].role = (int) x.n;
		if (x.nitems > 0)
			cw_schema_rep_item(&rep.rep, i, 0, &p, &pl);
		snprintf(u[i].prefix, sizeof(u[i].prefix), "%.*s",
		    (int) (pl < CW_USER_PREFIX_MAX ? pl : CW_USER_PREFIX_MAX),
		    pl ? (const char *) p : "");
	}
	cw_net_reply_fini(&rep);
	*out = u;
	*n   = m;
	return 0;
}
