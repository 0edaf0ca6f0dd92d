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

/*
 * A context and its two aios, kept for the next call once a call ends well
 * (opening them costs more than a small request). The receive is posted
 * by the send's completion callback, so the caller sleeps once per call,
 * until the reply (or an error) arrives, instead of once for the send and
 * once for the reply; receiving from the send's callback is the order nng
 * asks for.
 *
 * The call's timeout is ours, not nng's: nng 1.5.2 can deadlock its
 * timer thread when an aio's timeout fires just as its reply arrives, and
 * from then on every nng_close in the process hangs (net_test). At the
 * deadline the caller cancels the aios itself and waits for the callback.
 */
struct chan {
	nng_ctx         ctx;
	nng_aio        *send, *recv;
	uint64_t        deadline; /* of the call under way (cw_mono_ms) */
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	/* mu guards: */
	bool done;   /* the call under way has ended */
	int  rv;     /* with this nng result */
	bool sent;   /* after its request was sent */
	bool cancel; /* the caller gave up: post no receive */
};
#define POOL 32

struct cw_net {
	nng_socket       sock;
	uint64_t         sid;
	_Atomic uint64_t rid;
	_Atomic int      timeout_ms;
	pthread_mutex_t  mu;
	/* mu guards: */
	struct chan *pool[POOL];
	int          npool;
};

static void
chan_end(struct chan *c, int rv, bool sent)
{
	pthread_mutex_lock(&c->mu);
	c->done = true;
	c->rv   = rv;
	c->sent = sent;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* nng's callback: the request went out (or could not). */
static void
chan_sent(void *arg)
{
	struct chan *c  = arg;
	int          rv = nng_aio_result(c->send);
	if (rv != 0) {
		chan_end(c, rv, false);
		return;
	}
	pthread_mutex_lock(&c->mu);
	bool cancel = c->cancel;
	pthread_mutex_unlock(&c->mu);
	if (cancel)
		chan_end(c, NNG_ETIMEDOUT, true);
	else
		nng_ctx_recv(c->ctx, c->recv);
}

/* nng's callback: the reply arrived (or did not). */
static void
chan_received(void *arg)
{
	struct chan *c = arg;
	chan_end(c, nng_aio_result(c->recv), true);
}

static void
chan_close(struct chan *c)
{
	if (c == NULL)
		return;
	nng_aio_free(c->send); /* stops it first: no callback runs after */
	nng_aio_free(c->recv);
	nng_ctx_close(c->ctx);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	cw_free(c);
}

static int
chan_get(cw_net *n, struct chan **out)
{
	int          rv;
	struct chan *c;
	pthread_mutex_lock(&n->mu);
	if (n->npool > 0) {
		*out = n->pool[--n->npool];
		pthread_mutex_unlock(&n->mu);
		return 0;
	}
	pthread_mutex_unlock(&n->mu);
	if ((c = cw_calloc(1, sizeof(*c))) == NULL)
		return NNG_ENOMEM;
	if ((rv = nng_ctx_open(&c->ctx, n->sock)) != 0) {
		cw_free(c);
		return rv;
	}
	pthread_mutex_init(&c->mu, NULL);
	cw_cond_init_mono(&c->cv);
	if ((rv = nng_aio_alloc(&c->send, chan_sent, c)) != 0 ||
	    (rv = nng_aio_alloc(&c->recv, chan_received, c)) != 0) {
		chan_close(c);
		return rv;
	}
	*out = c;
	return 0;
}

/* Back to the pool after a call that ended well; closed otherwise. */
static void
chan_put(cw_net *n, struct chan *c, bool reuse)
{
	pthread_mutex_lock(&n->mu);
	if (reuse && n->npool < POOL) {
		n->pool[n->npool++] = c;
		c                   = NULL;
	}
	pthread_mutex_unlock(&n->mu);
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
		chan_close(n->pool[i]);
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
	cw_buf       req = { 0 };
	struct chan *ch;
	nng_msg     *msg = NULL;
	int          rc, rv;
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
	if ((rv = nng_msg_alloc(&msg, 0)) != 0 ||
	    (rv = nng_msg_append(msg, req.p, req.len)) != 0) {
		if (msg != NULL)
			nng_msg_free(msg);
		rc = nng_err(rv);
		goto out;
	}
	ch->deadline = cw_mono_ms() + (uint64_t) atomic_load(&n->timeout_ms);
	ch->done     = false;
	ch->cancel   = false;
	nng_aio_set_msg(ch->send, msg);
	nng_ctx_send(ch->ctx, ch->send);
	pthread_mutex_lock(&ch->mu);
	while (!ch->done) {
		struct timespec dl;
		uint64_t        now = cw_mono_ms();
		if (now >= ch->deadline) {
			/* give up: cancel whichever aio runs, again until
			 * its callback reports (the send's callback may be
			 * posting the receive right now) */
			ch->cancel = true;
			pthread_mutex_unlock(&ch->mu);
			nng_aio_cancel(ch->send);
			nng_aio_cancel(ch->recv);
			pthread_mutex_lock(&ch->mu);
			now = cw_mono_ms() - 10; /* check every 10 ms */
		}
		cw_deadline_after(
		    &dl, ch->deadline > now ? ch->deadline - now : 10);
		pthread_cond_timedwait(&ch->cv, &ch->mu, &dl);
	}
	rv        = ch->rv;
	bool sent = ch->sent;
	pthread_mutex_unlock(&ch->mu);
	if (rv != 0) {
		if (!sent) { /* the request is still ours */
			nng_msg_free(nng_aio_get_msg(ch->send));
			nng_aio_set_msg(ch->send, NULL);
		}
		rc = nng_err(rv);
		goto out;
	}
	out->msg = nng_aio_get_msg(ch->recv);
	nng_aio_set_msg(ch->recv, NULL);
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
	/* a context that failed may hold a request: never reuse it */
	chan_put(n, ch, rv == 0);
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
