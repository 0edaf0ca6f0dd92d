/*
 * net.h - the SDK's connection to a causewayd. Internal to client/.
 *
 * The SDK speaks nng's req/rep protocol (SP "req0", RFC sp-request-reply
 * and the SP TCP and IPC mappings) to causewayd's rep0 side (wire.h), but
 * without the nng library on this side: each call takes a connection of
 * its own from a small pool (or dials one), writes its request, and sleeps
 * in poll() on that socket until the reply arrives. A call costs its
 * caller two or three system calls and no thread hand-offs; through nng's
 * req socket, the same call crossed three threads on each side of the
 * kernel (docs/design.md, "The SDK's transport", has the measurements).
 *
 * On the wire, a connection opens with the 8-byte SP header of each side
 * (0, 'S', 'P', 0, protocol u16 BE, 0, 0; req0 is 0x30, rep0 0x31). Then
 * every message is a frame: on tcp:// a u64 BE length, on ipc:// a byte 1
 * and a u64 BE length, followed by that many bytes: the 4-byte request id
 * (high bit set, BE) and the body. A reply carries its request's id back.
 *
 * Every request carries this cw_net's random session id and a fresh
 * request id (schema.h), so the server answers a copy resent after a
 * broken connection from its reply cache (server.h): a call whose
 * connection breaks after its request went out reconnects and sends it
 * again, up to its deadline, the way nng's req socket does. The copy is
 * marked resent and names the server incarnation (epoch) the first send
 * knew of, so a server that restarted in between refuses it
 * (CW_EUNAVAIL) instead of running a commit that may have run already.
 *
 * Transport errors become CW_E* codes here and nowhere else: a call past
 * its deadline is CW_ETIMEDOUT; nobody listening, a reset, or a server
 * that keeps closing the connection is CW_EUNAVAIL; a peer that does not
 * speak rep0, or a malformed frame, CW_EPROTO.
 *
 * tls+tcp:// is the same wire inside TLS 1.2 (sec.h's cw_tls, mbedTLS):
 * the TLS handshake first, then the SP headers, then frames. A call waits
 * on the socket as above; bytes mbedTLS has already decrypted are read
 * before it sleeps again.
 *
 * Threading: thread-safe; mu guards the pool of idle connections. A
 * connection (and its TLS session) belongs to one call at a time.
 */
#ifndef CW_NET_H
#define CW_NET_H

#include <stddef.h>
#include <stdint.h>

#include "schema.h"

typedef struct cw_net cw_net;

/* Parses url (tcp://HOST:PORT, tcp4://, tcp6://, or ipc://PATH) and dials
 * it once, within the default timeout, to report a server that is not
 * there now. OUT: *out (cw_net_close). Returns 0, CW_EINVAL (bad URL),
 * CW_EUNAVAIL (nobody there), CW_EPROTO (not an SP rep0 peer),
 * CW_ETIMEDOUT or CW_ENOMEM. Later calls dial again as needed. */
int cw_net_open(cw_net **out, const char *url);

/* TLS for a tls+tcp:// URL (sec.h): the CA that the server's certificate
 * must chain to, a client certificate and key (both or neither), the
 * name the server's certificate must carry (NULL: the URL's host). */
typedef struct {
	const char *ca_file, *cert_file, *key_file, *server_name;
} cw_net_tls;
/* cw_net_open, also for tls+tcp://HOST:PORT with t (t may be NULL for
 * other URLs). Returns what it returns, and CW_EINVAL (no CA file for a
 * TLS URL, or a file that does not load; logged) or CW_EAUTH (the
 * server's certificate does not verify or name it). */
int cw_net_open_tls(cw_net **out, const char *url, const cw_net_tls *t);
/* Closes every idle connection and frees n; no call may be under way.
 * NULL is a no-op. */
void cw_net_close(cw_net *n);
/* Logs in as user with pw (copied, kept for logins again: every call
 * carries the login's token, and one refused with CW_EAUTH logs in again
 * once and is sent anew, as nothing of it ran). Once, before calls.
 * Returns 0, CW_EAUTH, CW_EINVAL, CW_ENOMEM or a transport error. */
int cw_net_login(cw_net *n, const char *user, const char *pw);
/* Sets the per-call timeout in milliseconds (default 5,000). */
void cw_net_set_timeout(cw_net *n, int ms);

/* A reply kept with the bytes it points into. */
typedef struct {
	cw_rep   rep;
	void    *buf; /* the reply's bytes, or NULL if none came */
	size_t   len;
	uint32_t pipe; /* the connection generation it came on: it changes
	                * only after a connection broke */
} cw_net_reply;

/* Sends a request (h's sid and rid are filled in) and waits for its
 * reply. OUT: *out (cw_net_reply_fini, also after an error). Returns 0,
 * CW_ETIMEDOUT, CW_EUNAVAIL, CW_EPROTO (the reply is malformed or does
 * not verify; out->buf holds nothing), CW_ETOOBIG (the request or the
 * reply exceeds its limit) or CW_ENOMEM. */
int  cw_net_call(cw_net *n, cw_req *h, const cw_op *w, size_t nw,
     const cw_op *r, size_t nr, cw_net_reply *out);
void cw_net_reply_fini(cw_net_reply *r);

/* One round trip of raw bytes (borrowed), as cw_net_call makes: for
 * cw-bench's measure of the transport alone. OUT: *rep (free()), *replen.
 * Returns as cw_net_call, without decoding. */
int cw_net_roundtrip(
    cw_net *n, const void *req, size_t len, void **rep, size_t *replen);

#endif /* CW_NET_H */
