/*
 * cluster.h - a deployment of real causewayd processes for tests and the
 * verification harness: N DCs on loopback, each directed DC-to-DC link
 * through its own fault proxy (proxy.h), so any link can be cut alone.
 * Everything started is stopped by pid (dcproc.h).
 *
 * Threading: one thread drives a cluster; proxies run their own threads.
 */
#ifndef CW_CLUSTER_H
#define CW_CLUSTER_H

#include <stdbool.h>

#include "causeway.h"
#include "dcproc.h"
#include "proxy.h"

#define CL_MAX 8

typedef struct {
	int     n;
	char   *tmp; /* the DCs' data directories are tmp/dc<i> */
	dcproc  d[CL_MAX];
	int     peer_port[CL_MAX];
	tproxy *x[CL_MAX][CL_MAX]; /* x[i][j]: DC i's link to DC j */
	char    args[CL_MAX][CL_MAX + 24][300];
	char   *argv[CL_MAX][64];
	bool    tls;     /* mutual TLS between the DCs, and each DC also
	                  * serves clients on tls_url[i] */
	char certs[256]; /* then: tmp/certs, made by lab_certs */
	char tls_url[CL_MAX][64];
	char admin_pw[300]; /* with TLS, users too: tmp/admin.pw holds the
	                     * password of "admin" (CL_ADMIN_PW) */
} cluster;

#define CL_ADMIN_PW "lab-admin-password"

/* Starts n DCs (1..CL_MAX) in a new temporary directory, each with the
 * extra arguments (NULL-terminated, may be NULL), and waits until every
 * DC has heard from every peer. OUT: *out. Returns 0,
 * or -1 with everything started stopped again. */
int cluster_start(cluster **out, int n, char *const *extra);
/* The same, and DC i also gets per_dc[i] (NULL-terminated; per_dc or an
 * entry may be NULL). */
int cluster_start_each(
    cluster **out, int n, char *const *extra, char *const *const *per_dc);
/* The same over TLS and with users: certificates made fresh in tmp/certs
 * (lab_certs), tls+tcp:// peer URLs, --tls-* for every DC and
 * --admin-password-file tmp/admin.pw. The cluster's own sessions (and
 * cluster_connect's) log in as admin. */
int cluster_start_tls(cluster **out, int n, char *const *extra);
/* A session at DC i: over TLS (tls_url, verified with the cluster's CA)
 * and logged in as admin in a TLS cluster, else at its plain URL.
 * Returns what cw_connect does. */
int cluster_connect(cluster *c, int i, cw_client **out);
/* Either, with per-DC arguments. */
int cluster_start_full(cluster **out, int n, char *const *extra,
    char *const *const *per_dc, bool tls);
/* Stops every DC (SIGTERM) and proxy, removes the directory (unless
 * $CW_KEEP is set: then it says where it is), frees c.
 * Returns 0, or -1 if a DC did not stop cleanly. */
int cluster_stop(cluster *c);
/* Cuts (on) or heals both directions between DCs a and b. */
void cluster_cut(cluster *c, int a, int b, bool on);
/* Cuts or heals every link of DC i. */
void cluster_isolate(cluster *c, int i, bool on);
/* Slows both directions between a and b by ms (0: full speed). */
void cluster_delay(cluster *c, int a, int b, int ms);
/* Makes both directions between a and b lossy (proxy_lossy). */
void cluster_lossy(cluster *c, int a, int b, int pct);
/* Waits up to `seconds` until every DC reports the same state vector and
 * digest, all of it durable (what a new session reads); prints the DCs'
 * states to stderr if they do not. */
bool cluster_converged(cluster *c, int seconds);

#endif
