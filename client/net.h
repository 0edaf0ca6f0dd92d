/*
 * net.h - the SDK's connection to a causewayd: one nng req socket, and
 * one request/reply call at a time per nng context (several threads may
 * call at once). Internal to client/.
 *
 * Every request carries this connection's random session id and a fresh
 * request id, so the server can answer a copy that nng resends after a
 * broken connection from its reply cache (server.h).
 *
 * nng's errors become CW_E* codes here and nowhere else: a timeout is
 * CW_ETIMEDOUT; a refused, closed or reset connection CW_EUNAVAIL.
 *
 * Threading: thread-safe.
 */
#ifndef CW_NET_H
#define CW_NET_H

#include <nng/nng.h>

#include "schema.h"

typedef struct cw_net cw_net;

/* Dials url. OUT: *out (cw_net_close). Returns 0, CW_EINVAL (bad URL),
 * CW_EUNAVAIL (nobody there) or CW_ENOMEM. After a connection breaks, nng
 * redials in the background. */
int  cw_net_open(cw_net **out, const char *url);
void cw_net_close(cw_net *n);
/* Sets the per-call timeout in milliseconds (default 5,000). */
void cw_net_set_timeout(cw_net *n, int ms);

/* A reply kept with the message it points into. */
typedef struct {
	cw_rep   rep;
	nng_msg *msg;
	uint32_t pipe; /* the connection it came on */
} cw_net_reply;

/* Sends a request (h's sid and rid are filled in) and waits for its
 * reply. OUT: *out (cw_net_reply_fini). Returns 0, CW_ETIMEDOUT,
 * CW_EUNAVAIL, CW_EPROTO (the reply does not verify), CW_ETOOBIG (the
 * request exceeds the message limit) or CW_ENOMEM. */
int  cw_net_call(cw_net *n, cw_req *h, const cw_op *w, size_t nw,
     const cw_op *r, size_t nr, cw_net_reply *out);
void cw_net_reply_fini(cw_net_reply *r);

#endif /* CW_NET_H */
