/*
 * proxy.h - a fault-injecting TCP relay for tests: listens on a free
 * loopback port and forwards every connection to an upstream port, until
 * cut. A cut link closes its connections and refuses new ones at once
 * (as a partition looks to nng: the dial fails, the pipe drops).
 */
#ifndef CW_PROXY_H
#define CW_PROXY_H

#include <stdbool.h>

typedef struct tproxy tproxy;

/* Starts a relay to 127.0.0.1:upstream. OUT: *out. Returns 0 or -1. */
int proxy_start(tproxy **out, int upstream);
/* The same, listening on a given port. */
int proxy_start_on(tproxy **out, int port, int upstream);
int proxy_port(const tproxy *p);
/* Cuts or heals the link; returns once in effect. */
void proxy_cut(tproxy *p, bool cut);
/* Slows the link: every chunk it relays waits `ms` first (0: full
 * speed). Bytes keep their order. */
void proxy_delay(tproxy *p, int ms);
/* Makes the link lossy: each chunk it would relay resets its connection
 * instead with probability pct % (0: never). Over TCP, loss shows as
 * connections that break mid-message and must be redialed. */
void proxy_lossy(tproxy *p, int pct);
void proxy_stop(tproxy *p);

#endif
