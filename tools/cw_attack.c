/*
 * cw_attack.c - one hostile client of causewayd, for cw-bench hostile
 * (issue 18): the attacks of tests/integration/hostile_test.c, kept up
 * for a given time instead of checked once. An internal tool: it encodes
 * requests with the schema's internals (schema.h), so it is built beside
 * cw-bench but never installed, as cw-echo.
 *
 *   cw-attack KIND PORT SECONDS [CONNS [FROM]]
 *
 * attacks the causewayd on 127.0.0.1:PORT for SECONDS from address FROM
 * (default 127.0.0.2) with CONNS connections (default per kind), then
 * prints one line: the kind and what it did (connections opened, of them
 * closed by the server, frames sent, replies, refusals).
 *
 *   idle       holds CONNS connections that send nothing (default 2000),
 *              opening a new one for each the server closes
 *   churn      connects, says hello and hangs up, as fast as it can
 *   garbage    connections that send 64 bytes of junk, again and again
 *   bigframes  CONNS connections (default 8) that each send a 15 MiB
 *              frame of junk, read the refusal, and send the next
 *   slowread   CONNS connections (default 8) that send reads of a 1 MB
 *              value and never read a reply
 *   begins     CONNS connections (default 4) that begin transactions and
 *              never end them, as fast as the replies come
 *   farclock   CONNS connections (default 4) that begin with a session
 *              clock the DC never reached
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "causal.h"
#include "causeway.h"
#include "lab.h"
#include "raw.h"
#include "schema.h"
#include "util.h"

enum { MAX_THREADS = 8 };

static const char *from = "127.0.0.2";
static int         port;
static double      end; /* lab_now_s() when the attack stops */

static atomic_ulong opened, closed, sent, replies, refused;

/* The request frames an attack sends (built once). */
static cw_buf frame;

typedef struct {
	int conns; /* this thread's */
	void (*fn)(int conns);
} part;

static void *
run_part(void *arg)
{
	part *p = arg;
	p->fn(p->conns);
	return NULL;
}

/* Runs fn on up to MAX_THREADS threads sharing conns connections. */
static void
spread(int conns, int threads, void (*fn)(int))
{
	pthread_t th[MAX_THREADS];
	part      p[MAX_THREADS];
	if (threads > conns)
		threads = conns;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	for (int i = 0; i < threads; i++) {
		p[i] = (part) { conns / threads + (i < conns % threads), fn };
		pthread_create(&th[i], NULL, run_part, &p[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
}

/* A connection from the attacker's address, its hello sent (with
 * whole, the server's read too). */
static int
open_conn(bool whole)
{
	if (whole) {
		int fd = lab_sp_connect(from, port);
		if (fd >= 0)
			atomic_fetch_add(&opened, 1);
		return fd;
	}
	int fd = lab_raw_connect_until(from, port, end);
	if (fd >= 0 && lab_sp_hello(fd) != 0) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		atomic_fetch_add(&opened, 1);
	return fd;
}

static int
open_one(void)
{
	return open_conn(false);
}

/* idle: conns connections that send nothing; one closed by the server
 * is replaced at once. */
static void
idle(int conns)
{
	struct pollfd *p = calloc((size_t) conns, sizeof(*p));
	uint8_t        buf[256];
	if (p == NULL)
		return;
	for (int i = 0; i < conns; i++)
		p[i] = (struct pollfd) { .fd = open_one(), .events = POLLIN };
	while (lab_now_s() < end) {
		poll(p, (nfds_t) conns, 100);
		for (int i = 0; i < conns; i++) {
			if (p[i].fd >= 0 && p[i].revents == 0)
				continue;
			if (p[i].fd >= 0) {
				ssize_t n = recv(
				    p[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (n > 0 || (n < 0 && errno == EAGAIN))
					continue; /* its SP header */
				close(p[i].fd);
				atomic_fetch_add(&closed, 1);
			}
			p[i].fd = open_one();
		}
	}
	for (int i = 0; i < conns; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	free(p);
}

static void
churn(int conns)
{
	(void) conns;
	while (lab_now_s() < end) {
		int fd = open_one();
		if (fd >= 0)
			close(fd);
	}
}

static void
garbage(int conns)
{
	(void) conns;
	uint8_t junk[64];
	memset(junk, 0xa5, sizeof(junk)); /* a frame length no one takes */
	while (lab_now_s() < end) {
		int fd = open_one();
		if (fd < 0)
			continue;
		if (send(fd, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
			atomic_fetch_add(&sent, 1);
		if (lab_closed_by_server(fd, 1000))
			atomic_fetch_add(&closed, 1);
		close(fd);
	}
}

/* Sends frame and reads its reply on conns connections in turn, again
 * and again; a connection the server closes is replaced. */
static void
ask(int conns)
{
	int     *fd = calloc((size_t) conns, sizeof(*fd));
	uint32_t id = 0;
	if (fd == NULL)
		return;
	for (int i = 0; i < conns; i++)
		fd[i] = open_conn(true);
	while (lab_now_s() < end) {
		for (int i = 0; i < conns && lab_now_s() < end; i++) {
			uint8_t *body;
			size_t   len;
			cw_rep   rep;
			if (fd[i] < 0 && (fd[i] = open_conn(true)) < 0)
				continue;
			if (lab_send_frame(
			        fd[i], ++id, frame.p, frame.len, 0) < 0 ||
			    lab_recv_frame(fd[i], 5000, &body, &len) != 0) {
				close(fd[i]);
				fd[i] = -1;
				atomic_fetch_add(&closed, 1);
				continue;
			}
			atomic_fetch_add(&sent, 1);
			atomic_fetch_add(&replies, 1);
			if (cw_schema_rep_decode(body, len, &rep) == 0) {
				if (rep.err == CW_EUNAVAIL)
					atomic_fetch_add(&refused, 1);
				cw_schema_rep_fini(&rep);
			}
			free(body);
		}
	}
	for (int i = 0; i < conns; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	free(fd);
}

/* slowread: reads sent whenever the server takes them, no reply read */
static void
slowread(int conns)
{
	struct pollfd *p  = calloc((size_t) conns, sizeof(*p));
	uint32_t       id = 0;
	if (p == NULL)
		return;
	for (int i = 0; i < conns; i++)
		p[i] = (struct pollfd) { .fd = open_one(), .events = POLLOUT };
	while (lab_now_s() < end) {
		poll(p, (nfds_t) conns, 100);
		for (int i = 0; i < conns; i++)
			if (p[i].fd >= 0 && (p[i].revents & POLLOUT) &&
			    lab_send_frame(p[i].fd, ++id, frame.p, frame.len,
			        MSG_DONTWAIT) > 0)
				atomic_fetch_add(&sent, 1);
	}
	for (int i = 0; i < conns; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	free(p);
}

/* The 1 MB value slowread reads, written through the SDK. */
static int
write_big(void)
{
	char       url[64];
	cw_client *c;
	cw_txn    *t;
	char      *big = malloc(1000000);
	int        rc;
	if (big == NULL)
		return CW_ENOMEM;
	memset(big, 'x', 1000000);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	if ((rc = cw_connect(&c, url)) == 0) {
		if ((rc = cw_begin(c, &t)) == 0 &&
		    (rc = cw_reg_put(t, "cw-attack-big", 13, big, 1000000)) ==
		        0)
			rc = cw_commit(t);
		cw_close(c);
	}
	free(big);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cw-attack idle|churn|garbage|bigframes|slowread|begins|"
	    "farclock\n"
	    "                 PORT SECONDS [CONNS [FROM]]\n"
	    "attacks the causewayd on 127.0.0.1:PORT from address FROM "
	    "(default\n"
	    "127.0.0.2) for SECONDS, then prints what it did; see the top of\n"
	    "tools/cw_attack.c for each kind. An internal tool of cw-bench "
	    "hostile.\n");
}

int
main(int argc, char **argv)
{
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 4 || argc > 6) {
		usage(stderr);
		return 2;
	}
	const char *kind = argv[1];
	port             = atoi(argv[2]);
	double secs      = atof(argv[3]);
	int    conns     = argc > 4 ? atoi(argv[4]) : 0;
	if (argc > 5)
		from = argv[5];
	if (port <= 0 || port > 65535 || secs <= 0 || conns < 0) {
		usage(stderr);
		return 2;
	}
	/* as many descriptors as the hard limit allows */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	cw_req  h  = { .kind = CW_REQ_BEGIN };
	cw_op   rd = { .op = CW_OP_REG_GET, .key = "cw-attack-big", .kl = 13 };
	cw_vc   far;
	uint8_t clk[16];
	int     rc = 0;
	if (strcmp(kind, "slowread") == 0) {
		h.kind = CW_REQ_COMMIT;
		if ((rc = write_big()) == 0)
			rc = cw_schema_req_encode(&h, NULL, 0, &rd, 1, &frame);
	} else if (strcmp(kind, "begins") == 0) {
		rc = cw_schema_req_encode(&h, NULL, 0, NULL, 0, &frame);
	} else if (strcmp(kind, "farclock") == 0) {
		cw_causal_vc_init(&far, 1);
		far.v[0] = 1u << 30; /* commits of the DC it never made */
		cw_causal_vc_encode(&far, clk);
		h.clock    = clk;
		h.clocklen = cw_causal_vc_size(&far);
		rc = cw_schema_req_encode(&h, NULL, 0, NULL, 0, &frame);
	} else if (strcmp(kind, "bigframes") == 0) {
		/* not a request: each is answered CW_EPROTO */
		if (cw_buf_reserve(&frame, 15u << 20) != 0)
			rc = CW_ENOMEM;
		else {
			memset(frame.p, 0x5a, 15u << 20);
			frame.len = 15u << 20;
		}
	}
	if (rc != 0) {
		fprintf(stderr, "cw-attack: cannot prepare %s: %s\n", kind,
		    cw_strerror(rc));
		return 1;
	}
	end = lab_now_s() + secs;
	if (strcmp(kind, "idle") == 0)
		spread(conns ? conns : 2000, 4, idle);
	else if (strcmp(kind, "churn") == 0)
		spread(4, 4, churn);
	else if (strcmp(kind, "garbage") == 0)
		spread(4, 4, garbage);
	else if (strcmp(kind, "bigframes") == 0)
		spread(conns ? conns : 8, 8, ask);
	else if (strcmp(kind, "slowread") == 0)
		spread(conns ? conns : 8, 1, slowread);
	else if (strcmp(kind, "begins") == 0 || strcmp(kind, "farclock") == 0)
		spread(conns ? conns : 4, 4, ask);
	else {
		fprintf(stderr, "cw-attack: no attack '%s'\n", kind);
		usage(stderr);
		return 2;
	}
	printf("%s opened %lu closed %lu sent %lu replies %lu refused %lu\n",
	    kind, atomic_load(&opened), atomic_load(&closed),
	    atomic_load(&sent), atomic_load(&replies), atomic_load(&refused));
	cw_buf_fini(&frame);
	return 0;
}
