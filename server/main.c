/*
 * main.c - causewayd: one datacenter's database server (DESIGN 5, 7).
 *
 *   causewayd --dc ID --data DIR --listen URL [--listen URL ...]
 *             [--peer-listen URL] [--peer ID=URL ...] [--config FILE]
 *             [--tls-cert FILE --tls-key FILE --tls-ca FILE]
 *             [--admin-password-file FILE] [--insecure]
 *
 * Security (docs/security.md): links between DCs are mutual TLS with the
 * deployment CA when --tls-* are given; clients log in as users once the
 * DC has one (the first admin comes from --admin-password-file). A plain
 * link, or a client link without users, is allowed only on loopback or
 * ipc:// addresses, unless --insecure says so explicitly; causewayd
 * refuses to start otherwise, and says why.
 *
 * Logs to stderr with levels and timestamps; SIGTERM or SIGINT stop it
 * cleanly: requests in flight finish, open transactions abort, RocksDB
 * closes. Exit status: 0 after a clean stop, 1 on a start-up error, 2 on
 * a usage error, 3 when storage failed in a way only a restart clears
 * and --on-fatal-storage-error exit says to leave the restart to a
 * supervisor.
 *
 * Such a failure (RocksDB's fatal background error: an I/O error on its
 * write-ahead log, which DB::Resume cannot clear) stops every write. By
 * default causewayd then restarts itself: it stops as on SIGTERM, and
 * executes itself again with the same arguments, keeping its pid. The
 * new start recovers from the log as after a crash (strictly: nothing
 * acknowledged is dropped); clients reconnect and resend. A start that
 * cannot open the database exits 1, as any start; restarts that follow
 * each other within a minute wait 1, 2, 4 ... up to 30 s first.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "escrow.h"
#include "replica.h"
#include "sec.h"
#include "server.h"
#include "txn.h"
#include "util.h"

#define MAX_URLS 8

struct conf {
	long        dc;
	const char *data;
	const char *listen[MAX_URLS];
	int         nlisten;
	const char *peer_listen;
	const char *cluster;
	uint64_t    log_retain;
	bool        retain_set;
	uint64_t    tags_kept;
	bool        tags_set;
	int64_t     grant_margin;
	bool        margin_set;
	bool        no_forward;
	const char *tls_cert, *tls_key, *tls_ca;
	const char *admin_pw_file;
	bool        insecure;
	bool        need_users; /* a client URL off this machine */
	long        max_conns;  /* --max-connections, or -1 */
	long        open_files; /* --max-open-files, or -1 */
	bool        per_addr_set;
	long        max_skew;                /* --max-clock-skew, or -1 */
	long        memtable_mib, cache_mib; /* --memtable-memory,
	                                      * --cache-memory, or -1 */
	int            wal_recovery;
	bool           check;      /* --check: verify --data offline, exit */
	bool           fatal_exit; /* --on-fatal-storage-error exit */
	long           peer_id[CW_MAX_DC];
	const char    *peer_url[CW_MAX_DC];
	int            npeers;
	cw_server_opts so;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: causewayd --data DIR [options]\n"
	    "\n"
	    "Runs one Causeway datacenter (DC): its database in DIR and the\n"
	    "client service on the --listen URLs.\n"
	    "\n"
	    "  --dc ID              this DC's id (default 0)\n"
	    "  --data DIR           data directory (created if missing)\n"
	    "  --listen URL         client URL, tcp://HOST:PORT or "
	    "ipc:///PATH\n"
	    "                       (repeatable; default "
	    "tcp://127.0.0.1:7400)\n"
	    "  --peer-listen URL    URL for other DCs (replication)\n"
	    "  --peer ID=URL        another DC (one per DC; none: single DC)\n"
	    "  --cluster NAME       deployment name; all DCs must agree "
	    "(causeway)\n"
	    "  --log-retain N       log records kept per origin below what "
	    "every\n"
	    "                       peer acknowledged (100000)\n"
	    "  --grant-margin N     rights granted beyond what a DC asks "
	    "(16)\n"
	    "  --forward yes|no     also ship other DCs' records, so a DC "
	    "cut\n"
	    "                       from one reaches it through another "
	    "(yes)\n"
	    "  --config FILE        read options from FILE, one `name value`\n"
	    "                       a line (names as above without --; # "
	    "comments)\n"
	    "  --workers N          concurrent requests (default 64)\n"
	    "  --io-threads N       threads reading and answering clients\n"
	    "                       (default 4)\n"
	    "  --idle-timeout MS    abort transactions idle this long "
	    "(10000)\n"
	    "  --session-wait MS    how long a begin waits for the DC to\n"
	    "                       catch up with a session (1000)\n"
	    "  --max-msg BYTES      largest request accepted (16777216)\n"
	    "  --max-transactions N open transactions at once (4096)\n"
	    "  --max-transactions-per-address N\n"
	    "                       of them from one client address (1024)\n"
	    "  --max-session-waits-per-address N\n"
	    "                       begins from one address that wait for\n"
	    "                       this DC to catch up with their session\n"
	    "                       (16)\n"
	    "  --max-connections N  client connections at once (4096, fewer\n"
	    "                       if the descriptor limit leaves fewer)\n"
	    "  --max-connections-per-address N\n"
	    "                       from one client address (1024, or half\n"
	    "                       of --max-connections if less; 0: any)\n"
	    "  --max-read-rate-per-address MIB\n"
	    "                       MiB a second read from one client\n"
	    "                       address, its connections together (64;\n"
	    "                       0: any); past it they wait\n"
	    "  --connection-idle-timeout S\n"
	    "                       close a client connection idle this many\n"
	    "                       seconds (300; 0: never)\n");
	fprintf(f,
	    "  --max-open-files N   RocksDB files kept open (512, fewer if "
	    "the\n"
	    "                       descriptor limit is low)\n"
	    "  --memtable-memory MIB\n"
	    "                       RocksDB's memtables together (128; 0:\n"
	    "                       RocksDB's default, 128 for each of 4)\n"
	    "  --cache-memory MIB   RocksDB's block cache, shared (32; 0:\n"
	    "                       RocksDB's default, 8 for each of 4)\n"
	    "  --wal-recovery MODE  absolute (default): refuse to start on a\n"
	    "                       damaged write-ahead log; point-in-time:\n"
	    "                       start with what precedes the damage\n"
	    "  --on-fatal-storage-error restart|exit\n"
	    "                       when the disk fails in a way only a\n"
	    "                       restart clears: restart causewayd in\n"
	    "                       place (default), or exit 3 for a\n"
	    "                       supervisor to restart it\n"
	    "  --check              verify every file of --data offline (no\n"
	    "                       causewayd may have it open), and exit:\n"
	    "                       0 sound, 1 damaged\n"
	    "  --max-clock-skew MS  a record of another DC stamped further\n"
	    "                       ahead of this DC's clock waits (500; 0:\n"
	    "                       no check)\n"
	    "  --tags-kept N        commits whose outcome a restart keeps,\n"
	    "                       for clients that resend (131072)\n"
	    "  --tls-cert FILE      this DC's certificate (PEM; it must name\n"
	    "                       dc-ID), for the links to other DCs\n"
	    "  --tls-key FILE       its private key (PEM)\n"
	    "  --tls-ca FILE        the deployment CA (PEM): peers must "
	    "present\n"
	    "                       a certificate it signed\n"
	    "  --admin-password-file FILE\n"
	    "                       the password of the first admin user\n"
	    "                       (\"admin\"), made at a start that finds "
	    "no\n"
	    "                       users; with users, every client logs in\n"
	    "  --insecure           allow plain, unauthenticated links on\n"
	    "                       addresses other than loopback and ipc://\n"
	    "  --log LEVEL          error, warn, info (default) or debug\n"
	    "  --help               this text\n"
	    "\n"
	    "With --peer, every DC needs --peer-listen. All DCs must agree "
	    "on\n"
	    "the cluster name and the number of DCs: a fingerprint of them\n"
	    "is checked on every batch. With --tls-*, peer URLs are\n"
	    "tls+tcp://HOST:PORT, and a DC ships to and accepts from only\n"
	    "holders of a certificate of the CA that names their DC id.\n");
}

static int
parse_num(const char *name, const char *v, long lo, long hi, long *out)
{
	char *end;
	errno  = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < lo || n > hi) {
		fprintf(stderr,
		    "causewayd: --%s: '%s' is not a number in "
		    "%ld..%ld\n",
		    name, v, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

static int conf_file(struct conf *c, const char *path);

/* Descriptors kept for everything but client connections and RocksDB's
 * table files: its WALs, MANIFEST and lock, the listeners, epoll and
 * eventfds of the I/O threads, peer links, the random device, a spare. */
#define FD_RESERVE 128

/* Shares the process's descriptors: RocksDB's table files, then client
 * connections, with FD_RESERVE left over, so that no flood of
 * connections can starve RocksDB of the descriptor its next WAL needs
 * (issue 18: every commit failed until a restart). Raises the soft
 * RLIMIT_NOFILE to the hard one first. Returns 0, or -1 after printing
 * why. */
static int
fd_budget(struct conf *c, cw_db_opts *o)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "causewayd: getrlimit: %s\n", strerror(errno));
		return -1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = { rl.rlim_max, rl.rlim_max };
		if (up.rlim_cur > (1u << 20))
			up.rlim_cur = 1u << 20;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = up.rlim_cur;
	}
	long nofile = rl.rlim_cur > (1u << 20) ? 1L << 20 : (long) rl.rlim_cur;
	long reserve = FD_RESERVE + 4L * c->npeers + 2L * c->so.io_threads;
	long files   = c->open_files > 0 ? c->open_files : 512;
	if (c->open_files < 0 && files > (nofile - reserve) / 2)
		files = (nofile - reserve) / 2;
	long conns = nofile - reserve - files;
	if (files < 16 || conns < 16) {
		fprintf(stderr,
		    "causewayd: %ld file descriptors (ulimit -n) are too few: "
		    "%ld are kept for the server, %ld for RocksDB's files "
		    "(--max-open-files), and at least 16 are needed for "
		    "clients. Raise the limit.\n",
		    nofile, reserve, files < 16 ? 16 : files);
		return -1;
	}
	long want = c->max_conns > 0 ? c->max_conns : 4096;
	if (want > conns) {
		if (c->max_conns > 0)
			cw_log(CW_LOG_WARN, "causewayd",
			    "--max-connections %ld lowered to %ld: the "
			    "descriptor limit is %ld",
			    want, conns, nofile);
		want = conns;
	}
	o->max_open_files    = (int) files;
	c->so.wire.max_conns = (uint32_t) want;
	/* unless told otherwise, no one address takes more than half */
	if (!c->per_addr_set && c->so.wire.per_addr > want / 2)
		c->so.wire.per_addr = (uint32_t) want / 2;
	if (c->so.wire.per_addr > want)
		c->so.wire.per_addr = (uint32_t) want;
	return 0;
}

/* True when url reaches only this machine: ipc://, or tcp:// (or
 * tls+tcp://) to a loopback address or "localhost". */
static bool
url_is_local(const char *url)
{
	char        host[256], port[8];
	const char *hp;
	if (strncmp(url, "ipc://", 6) == 0)
		return true;
	if (strncmp(url, "tcp://", 6) == 0)
		hp = url + 6;
	else if (strncmp(url, "tls+tcp://", 10) == 0)
		hp = url + 10;
	else
		return false;
	if (cw_split_hostport(hp, host, sizeof(host), port, sizeof(port)) != 0)
		return false;
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	    strncmp(host, "127.", 4) == 0;
}

/* The rule of DESIGN 1.10: no plain link off this machine unless asked
 * for. Returns 0, or -1 after printing why. */
static int
check_exposure(struct conf *c)
{
	const char *bad = NULL, *what = NULL;
	/* a client URL off this machine: TLS, and users (checked once the
	 * data is open: c->need_users) */
	for (int i = 0; i < c->nlisten && bad == NULL; i++)
		if (url_is_local(c->listen[i]))
			continue;
		else if (strncmp(c->listen[i], "tls+tcp://", 10) == 0)
			c->need_users = true;
		else {
			bad  = c->listen[i];
			what = "--listen";
		}
	bool tls = c->tls_cert != NULL;
	if (!tls && bad == NULL && c->peer_listen != NULL &&
	    !url_is_local(c->peer_listen)) {
		bad  = c->peer_listen;
		what = "--peer-listen";
	}
	for (int i = 0; !tls && bad == NULL && i < c->npeers; i++)
		if (!url_is_local(c->peer_url[i])) {
			bad  = c->peer_url[i];
			what = "--peer";
		}
	if (bad == NULL || c->insecure)
		return 0;
	fprintf(stderr,
	    "causewayd: %s %s is not a loopback or ipc:// address, and the "
	    "link would be plain: anyone who reaches it could %s. Give %s, "
	    "or --insecure to run it so anyway.\n",
	    what, bad,
	    strcmp(what, "--listen") == 0
	        ? "read every password and key on the way"
	        : "send this DC forged transactions or read what it ships",
	    strcmp(what, "--listen") == 0 ? "a tls+tcp:// URL (with --tls-*)"
	                                  : "--tls-cert, --tls-key and "
	                                    "--tls-ca");
	return -1;
}

/* Applies one option. Returns 0, or -1 after printing why. */
static int
apply(struct conf *c, const char *name, const char *v)
{
	long n;
	if (strcmp(name, "dc") == 0)
		return parse_num(name, v, 0, CW_MAX_DC - 1, &c->dc);
	if (strcmp(name, "data") == 0) {
		c->data = v;
		return 0;
	}
	if (strcmp(name, "listen") == 0) {
		if (c->nlisten == MAX_URLS) {
			fprintf(stderr, "causewayd: at most %d --listen\n",
			    MAX_URLS);
			return -1;
		}
		c->listen[c->nlisten++] = v;
		return 0;
	}
	if (strcmp(name, "grant-margin") == 0) {
		if (parse_num(name, v, 0, 1L << 40, &n) != 0)
			return -1;
		c->grant_margin = n;
		c->margin_set   = true;
		return 0;
	}
	if (strcmp(name, "tags-kept") == 0) {
		if (parse_num(name, v, 1024, 1L << 30, &n) != 0)
			return -1;
		c->tags_kept = (uint64_t) n;
		c->tags_set  = true;
		return 0;
	}
	if (strcmp(name, "log-retain") == 0) {
		if (parse_num(name, v, 0, 1L << 62, &n) != 0)
			return -1;
		c->log_retain = (uint64_t) n;
		c->retain_set = true;
		return 0;
	}
	if (strcmp(name, "forward") == 0) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
			fprintf(stderr, "causewayd: --forward yes|no\n");
			return -1;
		}
		c->no_forward = strcmp(v, "no") == 0;
		return 0;
	}
	if (strcmp(name, "tls-cert") == 0) {
		c->tls_cert = v;
		return 0;
	}
	if (strcmp(name, "tls-key") == 0) {
		c->tls_key = v;
		return 0;
	}
	if (strcmp(name, "tls-ca") == 0) {
		c->tls_ca = v;
		return 0;
	}
	if (strcmp(name, "admin-password-file") == 0) {
		c->admin_pw_file = v;
		return 0;
	}
	if (strcmp(name, "insecure") == 0) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
			fprintf(stderr, "causewayd: insecure yes|no\n");
			return -1;
		}
		c->insecure = strcmp(v, "yes") == 0;
		return 0;
	}
	if (strcmp(name, "cluster") == 0) {
		c->cluster = v;
		return 0;
	}
	if (strcmp(name, "peer-listen") == 0) {
		c->peer_listen = v;
		return 0;
	}
	if (strcmp(name, "peer") == 0) {
		const char *eq = strchr(v, '=');
		char        id[16];
		if (eq == NULL || eq == v || (size_t) (eq - v) >= sizeof(id) ||
		    eq[1] == '\0') {
			fprintf(stderr,
			    "causewayd: --peer wants ID=URL, not "
			    "'%s'\n",
			    v);
			return -1;
		}
		memcpy(id, v, (size_t) (eq - v));
		id[eq - v] = '\0';
		if (c->npeers == CW_MAX_DC - 1 ||
		    parse_num("peer", id, 0, CW_MAX_DC - 1, &n) != 0)
			return -1;
		c->peer_id[c->npeers]    = n;
		c->peer_url[c->npeers++] = eq + 1;
		return 0;
	}
	if (strcmp(name, "config") == 0)
		return conf_file(c, v);
	if (strcmp(name, "workers") == 0) {
		if (parse_num(name, v, 1, 4096, &n) != 0)
			return -1;
		c->so.workers = (uint32_t) n;
		return 0;
	}
	if (strcmp(name, "io-threads") == 0) {
		if (parse_num(name, v, 1, 64, &n) != 0)
			return -1;
		c->so.io_threads = (uint32_t) n;
		return 0;
	}
	if (strcmp(name, "idle-timeout") == 0) {
		if (parse_num(name, v, 1, 86400000, &n) != 0)
			return -1;
		c->so.idle_ms = (uint64_t) n;
		return 0;
	}
	if (strcmp(name, "session-wait") == 0) {
		if (parse_num(name, v, 0, 600000, &n) != 0)
			return -1;
		c->so.session_wait_ms = (uint64_t) n;
		return 0;
	}
	if (strcmp(name, "max-msg") == 0) {
		if (parse_num(name, v, 1024, 1L << 30, &n) != 0)
			return -1;
		c->so.max_msg = (size_t) n;
		return 0;
	}
	if (strcmp(name, "max-transactions") == 0) {
		if (parse_num(name, v, 1, 65536, &n) != 0)
			return -1;
		c->so.max_txns = (uint32_t) n;
		if (c->so.max_txns_addr > c->so.max_txns)
			c->so.max_txns_addr = c->so.max_txns;
		return 0;
	}
	if (strcmp(name, "max-transactions-per-address") == 0) {
		if (parse_num(name, v, 0, 65536, &n) != 0)
			return -1;
		c->so.max_txns_addr = (uint32_t) n;
		return 0;
	}
	if (strcmp(name, "max-session-waits-per-address") == 0) {
		if (parse_num(name, v, 0, 4096, &n) != 0)
			return -1;
		c->so.max_waits_addr = (uint32_t) n;
		return 0;
	}
	if (strcmp(name, "max-connections") == 0)
		return parse_num(name, v, 1, 1L << 20, &c->max_conns);
	if (strcmp(name, "max-connections-per-address") == 0) {
		if (parse_num(name, v, 0, 1L << 20, &n) != 0)
			return -1;
		c->so.wire.per_addr = (uint32_t) n;
		c->per_addr_set     = true;
		return 0;
	}
	if (strcmp(name, "max-read-rate-per-address") == 0) {
		if (parse_num(name, v, 0, 1L << 20, &n) != 0)
			return -1;
		c->so.wire.addr_bps = (uint64_t) n << 20;
		return 0;
	}
	if (strcmp(name, "connection-idle-timeout") == 0) {
		if (parse_num(name, v, 0, 1L << 30, &n) != 0)
			return -1;
		c->so.wire.idle_ms = (uint64_t) n * 1000;
		return 0;
	}
	if (strcmp(name, "on-fatal-storage-error") == 0) {
		if (strcmp(v, "restart") == 0 || strcmp(v, "exit") == 0) {
			c->fatal_exit = strcmp(v, "exit") == 0;
			return 0;
		}
		fprintf(stderr,
		    "causewayd: --on-fatal-storage-error is restart or exit, "
		    "not '%s'\n",
		    v);
		return -1;
	}
	if (strcmp(name, "wal-recovery") == 0) {
		if (strcmp(v, "absolute") == 0)
			c->wal_recovery = CW_WAL_ABSOLUTE;
		else if (strcmp(v, "point-in-time") == 0)
			c->wal_recovery = CW_WAL_POINT_IN_TIME;
		else {
			fprintf(stderr,
			    "causewayd: --wal-recovery "
			    "absolute|point-in-time\n");
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "max-clock-skew") == 0)
		return parse_num(name, v, 0, 1L << 40, &c->max_skew);
	if (strcmp(name, "max-open-files") == 0)
		return parse_num(name, v, 16, 1L << 20, &c->open_files);
	if (strcmp(name, "memtable-memory") == 0)
		return parse_num(name, v, 0, 1L << 20, &c->memtable_mib);
	if (strcmp(name, "cache-memory") == 0)
		return parse_num(name, v, 0, 1L << 20, &c->cache_mib);
	if (strcmp(name, "log") == 0) {
		static const char *lv[] = { "error", "warn", "info", "debug" };
		for (int i = 0; i < 4; i++) {
			if (strcmp(v, lv[i]) == 0) {
				cw_log_set_level(i);
				return 0;
			}
		}
		fprintf(stderr, "causewayd: --log: unknown level '%s'\n", v);
		return -1;
	}
	fprintf(stderr, "causewayd: unknown option '%s'\n", name);
	return -1;
}

static int
conf_file(struct conf *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char  line[1024];
	int   lineno = 0;
	if (f == NULL) {
		fprintf(stderr, "causewayd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *p                = line + strspn(line, " \t");
		p[strcspn(p, "#\r\n")] = '\0';
		if (*p == '\0')
			continue;
		char *name = p;
		p += strcspn(p, " \t=");
		if (*p == '\0') {
			fprintf(stderr, "causewayd: %s:%d: no value\n", path,
			    lineno);
			fclose(f);
			return -1;
		}
		*p++ = '\0';
		p += strspn(p, " \t=");
		char *end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		/* the value must outlive the file: keep it */
		char *v = strdup(p);
		if (v == NULL || apply(c, name, v) != 0) {
			fprintf(stderr, "causewayd: %s:%d: bad line\n", path,
			    lineno);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* Set by on_fatal, read by main after sigwait: SIGUSR2 alone (sent by
 * someone else) means nothing. */
static atomic_bool fatal_storage;
/* argv as given (a global: the early returns of main leave it, and it is
 * not a leak) */
static char **args;

/* cw_db_opts.on_fatal: wakes main's sigwait, which stops everything and
 * restarts (or exits 3). */
static void
on_fatal(void *arg, const char *why)
{
	(void) arg;
	(void) why; /* logged by the engine */
	atomic_store(&fatal_storage, true);
	kill(getpid(), SIGUSR2);
}

/* Executes causewayd again with argv, after a pause that grows when
 * restarts follow each other within a minute ($CW_FATAL_RESTART keeps
 * "COUNT UNIX_MS" of the last one). Returns only if exec failed. */
static void
restart_self(char **argv)
{
	const char        *prev  = getenv("CW_FATAL_RESTART");
	unsigned           count = 0;
	unsigned long long last = 0, now = (unsigned long long) cw_now_ms();
	if (prev == NULL || sscanf(prev, "%u %llu", &count, &last) != 2 ||
	    now < last || now - last > 60000)
		count = 0;
	count++;
	unsigned wait_ms = count <= 1 ? 0
	    : count >= 7              ? 30000
	                              : 1000u << (count - 2);
	char     env[64];
	snprintf(env, sizeof(env), "%u %llu", count, now + wait_ms);
	setenv("CW_FATAL_RESTART", env, 1);
	cw_log(CW_LOG_ERROR, "causewayd",
	    "restarting to reopen the database (restart %u within a "
	    "minute%s)",
	    count, wait_ms ? ", after a pause" : "");
	if (wait_ms > 0) {
		struct timespec ts = { (time_t) (wait_ms / 1000),
			(long) (wait_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	execv("/proc/self/exe", argv);
	cw_log(CW_LOG_ERROR, "causewayd", "cannot restart: exec: %s",
	    strerror(errno));
}

int
main(int argc, char **argv)
{
	static struct option lo[] = {
		{ "dc", 1, 0, 0 },
		{ "data", 1, 0, 0 },
		{ "listen", 1, 0, 0 },
		{ "peer-listen", 1, 0, 0 },
		{ "cluster", 1, 0, 0 },
		{ "log-retain", 1, 0, 0 },
		{ "tags-kept", 1, 0, 0 },
		{ "grant-margin", 1, 0, 0 },
		{ "forward", 1, 0, 0 },
		{ "peer", 1, 0, 0 },
		{ "config", 1, 0, 0 },
		{ "workers", 1, 0, 0 },
		{ "io-threads", 1, 0, 0 },
		{ "idle-timeout", 1, 0, 0 },
		{ "session-wait", 1, 0, 0 },
		{ "max-msg", 1, 0, 0 },
		{ "max-connections", 1, 0, 0 },
		{ "max-transactions", 1, 0, 0 },
		{ "max-transactions-per-address", 1, 0, 0 },
		{ "max-session-waits-per-address", 1, 0, 0 },
		{ "max-connections-per-address", 1, 0, 0 },
		{ "connection-idle-timeout", 1, 0, 0 },
		{ "max-read-rate-per-address", 1, 0, 0 },
		{ "max-open-files", 1, 0, 0 },
		{ "memtable-memory", 1, 0, 0 },
		{ "cache-memory", 1, 0, 0 },
		{ "max-clock-skew", 1, 0, 0 },
		{ "wal-recovery", 1, 0, 0 },
		{ "on-fatal-storage-error", 1, 0, 0 },
		{ "check", 0, 0, 'C' },
		{ "log", 1, 0, 0 },
		{ "tls-cert", 1, 0, 0 },
		{ "tls-key", 1, 0, 0 },
		{ "tls-ca", 1, 0, 0 },
		{ "admin-password-file", 1, 0, 0 },
		{ "insecure", 0, 0, 'I' },
		{ "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct conf c = { .max_conns = -1,
		.open_files          = -1,
		.max_skew            = -1,
		.memtable_mib        = -1,
		.cache_mib           = -1 };
	int         ch, idx;
	/* getopt_long permutes argv: a restart executes this copy */
	args = calloc((size_t) argc + 1, sizeof(*args));
	if (args == NULL)
		return 1;
	for (int i = 0; i < argc; i++)
		args[i] = argv[i];
	/* Buffers of a megabyte or more (a large request, a large reply)
	 * are mapped for themselves and unmapped when freed. glibc's
	 * default moves this threshold up to the largest block freed (32
	 * MiB at most), after which such buffers come from the heap and
	 * stay resident: 30 frames of 15 MiB left 90 MB held. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	/* the data are medical records: files only for this user */
	umask(077);
	cw_server_opts_default(&c.so);
	cw_log_set_level(getenv("CW_LOG") ? -1 : CW_LOG_INFO);
	while ((ch = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return 0;
		}
		if (ch == 'I') {
			c.insecure = true;
			continue;
		}
		if (ch == 'C') {
			c.check = true;
			continue;
		}
		if (ch != 0 || apply(&c, lo[idx].name, optarg) != 0) {
			if (ch != 0)
				usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "causewayd: unexpected argument '%s'\n",
		    argv[optind]);
		return 2;
	}
	if (c.data == NULL) {
		fprintf(stderr,
		    "causewayd: --data DIR is required (see "
		    "--help)\n");
		return 2;
	}
	if (c.check) {
		/* offline: read-only, no network, nothing written */
		int rc = cw_db_check(c.data, stdout, NULL);
		printf(
		    "%s: %s\n", c.data, rc == 0 ? "sound" : cw_strerror(rc));
		return rc == 0 ? 0 : 1;
	}
	if (c.nlisten == 0)
		c.listen[c.nlisten++] = "tcp://127.0.0.1:7400";

	/* the DCs: this one and one --peer for every other */
	cw_db_opts o;
	cw_db_opts_default(&o);
	o.ndc = (uint32_t) c.npeers + 1;
	if (c.tags_set)
		o.tags_kept = c.tags_kept;
	if (fd_budget(&c, &o) != 0)
		return 1;
	if (c.max_skew >= 0)
		o.max_clock_skew_ms = (uint64_t) c.max_skew;
	if (c.memtable_mib >= 0)
		o.memtable_bytes = (size_t) c.memtable_mib << 20;
	if (c.cache_mib >= 0)
		o.cache_bytes = (size_t) c.cache_mib << 20;
	o.wal_recovery = c.wal_recovery;
	o.on_fatal     = on_fatal;
	/* the directory remembers its deployment: another --cluster or
	 * number of DCs is refused when it opens */
	o.fingerprint =
	    cw_replica_fingerprint(c.cluster ? c.cluster : "causeway", o.ndc);
	o.dc                 = (uint16_t) c.dc;
	bool seen[CW_MAX_DC] = { false };
	seen[c.dc]           = true;
	for (int i = 0; i < c.npeers; i++) {
		if (c.peer_id[i] >= (long) o.ndc || seen[c.peer_id[i]]) {
			fprintf(stderr,
			    "causewayd: with %u DCs the ids are 0..%u, each "
			    "once: DC %ld is out of range or repeated\n",
			    o.ndc, o.ndc - 1, c.peer_id[i]);
			return 2;
		}
		seen[c.peer_id[i]] = true;
	}
	if (c.dc >= (long) o.ndc) {
		fprintf(stderr,
		    "causewayd: --dc %ld, but %u DCs are "
		    "configured (ids 0..%u)\n",
		    c.dc, o.ndc, o.ndc - 1);
		return 2;
	}
	if (c.npeers > 0 && c.peer_listen == NULL) {
		fprintf(stderr, "causewayd: --peer needs --peer-listen\n");
		return 2;
	}
	int ntls =
	    (c.tls_cert != NULL) + (c.tls_key != NULL) + (c.tls_ca != NULL);
	if (ntls != 0 && ntls != 3) {
		fprintf(stderr,
		    "causewayd: --tls-cert, --tls-key and --tls-ca go "
		    "together\n");
		return 2;
	}
	if (check_exposure(&c) != 0)
		return 2;
	cw_sec      *sec = NULL;
	cw_tls_conf *tls = NULL;
	if (ntls == 3) {
		char name[16];
		snprintf(name, sizeof(name), "dc-%ld", c.dc);
		if (cw_sec_load(&sec, c.tls_cert, c.tls_key, c.tls_ca) != 0)
			return 1; /* logged */
		if (!cw_sec_names(sec, name)) {
			cw_log(CW_LOG_ERROR, "causewayd",
			    "certificate %s does not name %s: peers would "
			    "refuse it",
			    c.tls_cert, name);
			cw_tls_conf_free(tls);
			cw_sec_free(sec);
			return 1;
		}
		/* the same certificate for clients (tls+tcp:// --listen) */
		if (cw_tls_conf_server(&tls, sec) != 0) {
			cw_tls_conf_free(tls);
			cw_sec_free(sec);
			return 1;
		}
		c.so.tls = tls;
	}

	/* signals go to sigwait below, not to the worker threads */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR2); /* on_fatal */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	cw_db      *db     = NULL;
	cw_escrow  *esc    = NULL;
	cw_server  *srv    = NULL;
	cw_replica *rep    = NULL;
	int         rc     = 0;
	int         status = 1; /* the exit status of a failure below */
	if ((rc = cw_db_open(&db, c.data, &o)) != 0) {
		cw_log(CW_LOG_ERROR, "causewayd", "cannot open %s: %s", c.data,
		    cw_strerror(rc));
		goto out;
	}
	struct stat st;
	if (stat(c.data, &st) == 0 && (st.st_mode & 022) != 0)
		cw_log(CW_LOG_WARN, "causewayd",
		    "data directory %s is writable by its group or others "
		    "(mode %03o): anyone of them could change or remove the "
		    "data; chmod 700 it",
		    c.data, (unsigned) (st.st_mode & 0777));
	if (geteuid() == 0)
		cw_log(CW_LOG_WARN, "causewayd",
		    "running as root: a flaw in causewayd would be a flaw of "
		    "the whole machine; run it as a user of its own");
	/* the escrow before anything runs a transaction; it goes last */
	if ((rc = cw_escrow_new(&esc, db)) != 0) {
		cw_log(
		    CW_LOG_ERROR, "causewayd", "escrow: %s", cw_strerror(rc));
		goto out;
	}
	c.so.escrow = esc;
	if ((rc = cw_server_new(&srv, db, &c.so)) != 0) {
		cw_log(
		    CW_LOG_ERROR, "causewayd", "server: %s", cw_strerror(rc));
		goto out;
	}
	if (c.admin_pw_file != NULL) {
		char pw[1025];
		if (cw_read_secret(c.admin_pw_file, pw, sizeof(pw)) != 0)
			rc = CW_EINVAL;
		else if ((rc = cw_server_add_admin(srv, pw, strlen(pw))) == 1)
			cw_log(CW_LOG_INFO, "causewayd",
			    "no users yet: user \"admin\" made with the "
			    "password of %s",
			    c.admin_pw_file);
		else if (rc == 0)
			cw_log(CW_LOG_INFO, "causewayd",
			    "users exist: %s is not needed now",
			    c.admin_pw_file);
		explicit_bzero(pw, sizeof(pw));
		if (rc < 0) {
			cw_log(CW_LOG_ERROR, "causewayd",
			    "the first admin: %s", cw_strerror(rc));
			goto out;
		}
	}
	if (c.need_users && !c.insecure && !cw_server_users_on(srv)) {
		fprintf(stderr,
		    "causewayd: a --listen URL is not a loopback or ipc:// "
		    "address, and this DC has no users: anyone who reaches it "
		    "could read and write every key. Give "
		    "--admin-password-file, or --insecure to run it so "
		    "anyway.\n");
		status = 2;
		goto out;
	}
	if (c.npeers > 0) {
		cw_replica_opts ro;
		cw_replica_opts_default(&ro);
		ro.listen = c.peer_listen;
		for (int i = 0; i < c.npeers; i++) {
			ro.peers[i].id  = (uint16_t) c.peer_id[i];
			ro.peers[i].url = c.peer_url[i];
		}
		ro.npeers = c.npeers;
		if (c.retain_set)
			ro.log_retain = c.log_retain;
		if (c.margin_set)
			ro.grant_margin = c.grant_margin;
		ro.no_forward  = c.no_forward;
		ro.escrow      = esc;
		ro.sec         = sec;
		ro.fingerprint = o.fingerprint;
		if ((rc = cw_replica_start(&rep, db, &ro)) != 0) {
			cw_log(CW_LOG_ERROR, "causewayd", "replication: %s",
			    cw_strerror(rc));
			goto out;
		}
		cw_server_set_replica(srv, rep);
	}
	for (int i = 0; i < c.nlisten; i++) {
		if ((rc = cw_server_listen(srv, c.listen[i])) != 0) {
			goto out;
		}
	}
	cw_vc S;
	char  sv[256];
	cw_db_state(db, &S);
	cw_causal_vc_format(&S, sv, sizeof(sv));
	cw_log(CW_LOG_INFO, "causewayd",
	    "DC %ld of %u ready: data %s, state %s, %u workers, up to %u "
	    "clients%s, %s",
	    c.dc, o.ndc, c.data, sv, c.so.workers, c.so.wire.max_conns,
	    c.npeers == 0     ? ""
	        : sec != NULL ? ", peer links mutual TLS"
	                      : ", peer links plain (no TLS)",
	    cw_server_users_on(srv) ? "users on (clients log in)"
	                            : "no users (clients need no login)");

	int sig = 0;
	while (sigwait(&sigs, &sig) == 0 && sig == SIGUSR2 &&
	    !atomic_load(&fatal_storage))
		;
	if (sig == SIGUSR2) {
		cw_log(CW_LOG_ERROR, "causewayd",
		    "storage failed in a way only a restart clears: stopping "
		    "to %s",
		    c.fatal_exit ? "exit (status 3) for a supervisor"
		                 : "restart");
		status = 3;
	} else {
		cw_log(CW_LOG_INFO, "causewayd", "%s: stopping",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		status = 0;
	}
out:
	/* in the reverse order of the start; each takes NULL */
	cw_server_free(srv);
	cw_replica_stop(rep);
	cw_escrow_free(esc);
	cw_db_close(db);
	cw_tls_conf_free(tls);
	cw_sec_free(sec);
	if (status == 0)
		cw_log(CW_LOG_INFO, "causewayd", "stopped");
	if (status == 3 && !c.fatal_exit)
		restart_self(args); /* returns only if it failed */
	return status;
}
