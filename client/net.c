/*
 * net.c - the SDK's connection to causewayd; see net.h.
 */
#include "net.h"

#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>

#include "util.h"

/* Requests larger than this are refused before sending (the server's
 * default limit); replies may be larger. */
#define MAX_REQUEST (16u << 20)
#define MAX_REPLY (256u << 20)

/* A context and its aio, kept for the next call once a call ends well
 * (opening them costs more than a small request). */
struct chan {
	nng_ctx  ctx;
	nng_aio *aio;
};
#define POOL 32

struct cw_net {
	nng_socket       sock;
	uint64_t         sid;
	_Atomic uint64_t rid;
	_Atomic int      timeout_ms;
	pthread_mutex_t  mu;
	/* mu guards: */
	struct chan pool[POOL];
	int         npool;
};

static int
chan_get(cw_net *n, struct chan *c)
{
	int rv;
	pthread_mutex_lock(&n->mu);
	if (n->npool > 0) {
		*c = n->pool[--n->npool];
		pthread_mutex_unlock(&n->mu);
		return 0;
	}
	pthread_mutex_unlock(&n->mu);
	if ((rv = nng_ctx_open(&c->ctx, n->sock)) != 0)
		return rv;
	if ((rv = nng_aio_alloc(&c->aio, NULL, NULL)) != 0)
		nng_ctx_close(c->ctx);
	return rv;
}

static void
chan_close(struct chan *c)
{
	nng_aio_free(c->aio);
	nng_ctx_close(c->ctx);
}

/* Back to the pool after a call that ended well; closed otherwise. */
static void
chan_put(cw_net *n, struct chan *c, bool reuse)
{
	pthread_mutex_lock(&n->mu);
	if (reuse && n->npool < POOL) {
		n->pool[n->npool++] = *c;
		reuse               = false;
		c                   = NULL;
	}
	pthread_mutex_unlock(&n->mu);
	if (c != NULL)
		chan_close(c);
}

/* The one place where nng errors become CW_E* codes. */
static int
nng_err(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case NNG_ETIMEDOUT:
		return CW_ETIMEDOUT;
	case NNG_ENOMEM:
		return CW_ENOMEM;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
		return CW_EINVAL;
	case NNG_EMSGSIZE:
		return CW_ETOOBIG;
	default: /* refused, closed, reset, unreachable, ... */
		return CW_EUNAVAIL;
	}
}

int
cw_net_open(cw_net **out, const char *url)
{
	cw_net *n;
	int     rv;
	*out = NULL;
	if ((n = cw_calloc(1, sizeof(*n))) == NULL)
		return CW_ENOMEM;
	if ((rv = nng_req0_open(&n->sock)) != 0) {
		cw_free(n);
		return nng_err(rv);
	}
	nng_socket_set_size(n->sock, NNG_OPT_RECVMAXSZ, MAX_REPLY);
	/* a request is resent only when its connection breaks (nng does
	 * that whatever this says); never on a timer */
	nng_socket_set_ms(
	    n->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(n->sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(n->sock, NNG_OPT_RECONNMAXT, 1000);
	if ((rv = nng_dial(n->sock, url, NULL, 0)) != 0) {
		cw_log(CW_LOG_INFO, "client", "dial %s: %s", url,
		    nng_strerror(rv));
		nng_close(n->sock);
		cw_free(n);
		return nng_err(rv);
	}
	if (getrandom(&n->sid, sizeof(n->sid), 0) != sizeof(n->sid))
		n->sid = cw_now_ms() ^ (uint64_t) (uintptr_t) n;
	n->sid |= 1; /* 0 means "no session" */
	atomic_store(&n->timeout_ms, 5000);
	pthread_mutex_init(&n->mu, NULL);
	*out = n;
	return 0;
}

void
cw_net_close(cw_net *n)
{
	if (n == NULL)
		return;
	for (int i = 0; i < n->npool; i++)
		chan_close(&n->pool[i]);
	nng_close(n->sock);
	pthread_mutex_destroy(&n->mu);
	cw_free(n);
}

void
cw_net_set_timeout(cw_net *n, int ms)
{
	atomic_store(&n->timeout_ms, ms);
}

int
cw_net_call(cw_net *n, cw_req *h, const cw_op *w, size_t nw, const cw_op *r,
    size_t nr, cw_net_reply *out)
{
	cw_buf      req = { 0 };
	struct chan ch;
	nng_aio    *aio;
	nng_msg    *msg = NULL;
	int         rc, rv;
	memset(out, 0, sizeof(*out));
	h->sid = n->sid;
	h->rid = atomic_fetch_add(&n->rid, 1) + 1;
	if ((rc = cw_schema_req_encode(h, w, nw, r, nr, &req)) != 0)
		return rc;
	if (req.len > MAX_REQUEST) {
		cw_buf_fini(&req);
		return CW_ETOOBIG;
	}
	if ((rv = chan_get(n, &ch)) != 0) {
		cw_buf_fini(&req);
		return nng_err(rv);
	}
	aio = ch.aio;
	if ((rv = nng_msg_alloc(&msg, 0)) != 0 ||
	    (rv = nng_msg_append(msg, req.p, req.len)) != 0) {
		rc = nng_err(rv);
		goto out;
	}
	nng_aio_set_timeout(aio, atomic_load(&n->timeout_ms));
	nng_aio_set_msg(aio, msg);
	nng_ctx_send(ch.ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		rc = nng_err(rv); /* msg still ours */
		goto out;
	}
	msg = NULL; /* sent: nng owns it */
	nng_ctx_recv(ch.ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		rc = nng_err(rv);
		goto out;
	}
	out->msg  = nng_aio_get_msg(aio);
	out->pipe = nng_pipe_id(nng_msg_get_pipe(out->msg));
	rc        = cw_schema_rep_decode(
	           nng_msg_body(out->msg), nng_msg_len(out->msg), &out->rep);
	if (rc != 0) {
		cw_log(CW_LOG_WARN, "client", "malformed reply (%zu bytes)",
		    nng_msg_len(out->msg));
		nng_msg_free(out->msg);
		out->msg = NULL;
	}
out:
	if (msg != NULL)
		nng_msg_free(msg);
	/* a context that failed may hold a request: never reuse it */
	chan_put(n, &ch, rv == 0);
	cw_buf_fini(&req);
	return rc;
}

void
cw_net_reply_fini(cw_net_reply *r)
{
	if (r->msg != NULL) {
		cw_schema_rep_fini(&r->rep);
		nng_msg_free(r->msg);
		r->msg = NULL;
	}
}
