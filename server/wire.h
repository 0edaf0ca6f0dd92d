/*
 * wire.h - causewayd's side of the client wire: nng's rep0 protocol (SP
 * "req/rep" over the SP TCP and IPC mappings) spoken on plain sockets by
 * a few epoll threads. Internal to server/.
 *
 * The wire is the one client/net.h describes: each side opens with its
 * 8-byte SP header (0, 'S', 'P', 0, protocol u16 BE, 0, 0; the peer must
 * be req0, 0x30, and we are rep0, 0x31), then every message is a frame:
 * on tcp:// a u64 BE length, on ipc:// a byte 1 and a u64 BE length, then
 * that many bytes. A request's bytes begin with its backtrace: 4-byte BE
 * words up to the first with the high bit set (the request id; more
 * words when it came through nng devices, at most 8). The reply carries
 * the same backtrace back. Any nng req socket can talk to it, and the
 * SDK does.
 *
 * What nng's rep socket did, and this keeps: a frame longer than max_msg
 * closes its connection before a byte of it is read (NNG_OPT_RECVMAXSZ);
 * a peer that is not req0, or a request too short to hold a backtrace,
 * is disconnected; a backtrace of more than 8 hops is dropped. What it
 * changes: a request is handed to the handler on the thread that read
 * it, and a reply is written by the thread that has it, straight into
 * the socket, so a round trip crosses no thread of ours that it need not
 * (docs/design.md, "causewayd's transport", has the measurements).
 *
 * Every connection belongs to one I/O thread (round robin at accept):
 * only that thread reads it and changes its epoll interest. A reply is
 * written under the connection's mutex by whoever has it; what the
 * socket does not take is queued, and the owner writes it when the
 * socket drains. A connection that holds its share (cw_wire_limits:
 * requests unanswered, or replies its client does not read) is not read
 * until it holds less (back-pressure through TCP), nor while its
 * address has sent more than its byte rate; one that does nothing
 * for the idle time is closed, and so are connections beyond the limits
 * as soon as they are accepted.
 *
 * tls+tcp:// is the same wire inside TLS 1.2 (sec.h, mbedTLS with the
 * socket as its BIO): the handshake first (its failure is logged at
 * warn and closes the connection), then the SP headers, then frames. A
 * connection's session is used under its mutex, by the owner's reads and
 * by whoever writes a reply; a reply goes into the session whole, as one
 * buffer, so its frame is one record when it fits in one.
 *
 * Threading: cw_wire_reply and cw_wire_drop may be called from any
 * thread, once per request. The handler runs on an I/O thread and must
 * not block for long: it holds up that thread's other connections.
 * cw_wire_listen, cw_wire_stop and cw_wire_free are for the owner's
 * thread.
 */
#ifndef CW_WIRE_H
#define CW_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Requests a connection may have unanswered before it is no longer
 * read. */
#define WIRE_INFLIGHT 16

/* What one client may hold of the server (cw_wire_new). A
 * connection is not read (TCP pushes back on its client) while it has
 * WIRE_INFLIGHT requests unanswered, or requests of in_max bytes or more
 * unanswered, or more than out_max bytes of replies queued that its
 * client has not read; whole requests already read past that wait in
 * its input buffer until replies make room (nor is a connection read
 * for more than 256 KiB a wake while others are ready); so one connection
 * holds at most max_msg bytes of a frame being read, in_max + max_msg of
 * requests in flight, and out_max + WIRE_INFLIGHT replies queued
 * (docs/operations.md, "Memory", adds it up for the whole server). */
typedef struct {
	uint32_t
	    max_conns;     /* at once; more are closed when accepted (4,096) */
	uint32_t per_addr; /* from one client address, ipc:// ones excepted;
	                    * more are closed when accepted (1,024; 0:
	                    * any) */
	uint64_t idle_ms;  /* a connection with nothing in flight that sent
	                    * no whole request and took no reply bytes for
	                    * this long is closed (300,000; 0: never) */
	size_t   in_max;   /* request bytes in flight (1 MiB) */
	size_t   out_max;  /* reply bytes queued (4 MiB) */
	uint64_t addr_bps; /* bytes a second read from one client address,
	                    * all its connections together, with a second's
	                    * worth of burst; past it they are not read until
	                    * the rate allows (TCP pushes back), ipc://
	                    * excepted (64 MiB; 0: any) */
} cw_wire_limits;

void cw_wire_limits_default(cw_wire_limits *l);

/* What the wire did, for status and tests. */
typedef struct {
	uint32_t conns;        /* open now */
	uint64_t refused_full; /* closed when accepted: max_conns reached */
	uint64_t refused_addr; /* closed when accepted: per_addr reached */
	uint64_t closed_idle;  /* closed for idle_ms */
	uint64_t paused_rate;  /* times a connection waited for addr_bps */
	uint64_t queued_bytes; /* reply bytes queued now, all connections */
} cw_wire_stats;

typedef struct cw_wire     cw_wire;
typedef struct cw_wire_req cw_wire_req;

/* Called on an I/O thread for each request: body[0..len) (the backtrace
 * taken off) stays valid until r is answered. The handler, or whoever it
 * hands r to, ends r with cw_wire_reply or cw_wire_drop. */
typedef void (*cw_wire_fn)(
    void *arg, cw_wire_req *r, const uint8_t *body, size_t len);

/* A wire with `threads` I/O threads, started now, with limits lim
 * (copied; NULL: the defaults). Each request gets `user` bytes of zeroed
 * room for the handler (cw_wire_user). OUT: *out. Returns 0, CW_EINVAL or
 * CW_ENOMEM. */
int cw_wire_new(cw_wire **out, uint32_t threads, size_t max_msg, size_t user,
    const cw_wire_limits *lim, cw_wire_fn fn, void *arg);
struct cw_tls_conf;
/* The TLS configuration of tls+tcp:// listeners (sec.h; borrowed, it
 * outlives w). Before the first cw_wire_listen. */
void cw_wire_set_tls(cw_wire *w, struct cw_tls_conf *tls);
void cw_wire_stats_get(cw_wire *w, cw_wire_stats *st);
/* Listens on url: tcp://HOST:PORT (HOST may be * or empty for every
 * address, or [V6]), tcp4://, tcp6://, tls+tcp://HOST:PORT (with
 * cw_wire_set_tls), ipc://PATH. Returns 0, CW_EINVAL (bad URL, or TLS
 * without a configuration) or CW_EUNAVAIL (cannot listen; logged). */
int cw_wire_listen(cw_wire *w, const char *url);
/* The port the newest tcp:// listener is bound to (its URL may say port
 * 0: any free one), or 0 if there is none. */
int cw_wire_port(cw_wire *w);
/* The address of r's client, without its port ("local" for ipc://),
 * valid until r is answered. */
const char *cw_wire_peer(cw_wire_req *r);
/* The handler's room in r (`user` bytes). */
void *cw_wire_user(cw_wire_req *r);
/* Sends p[0..len) as r's reply (or nothing, if the connection is gone)
 * and frees r. */
void cw_wire_reply(cw_wire_req *r, const void *p, size_t len);
/* Frees r unanswered: its client times out. */
void cw_wire_drop(cw_wire_req *r);
/* Stops accepting and reading, and waits for the I/O threads: after it,
 * the handler is not called again. Requests handed out may still be
 * answered. */
void cw_wire_stop(cw_wire *w);
/* Stops, writes what replies are still queued (for at most a second),
 * closes every connection and frees w. Every request must have been
 * answered or dropped. NULL is a no-op. */
void cw_wire_free(cw_wire *w);

#endif /* CW_WIRE_H */
