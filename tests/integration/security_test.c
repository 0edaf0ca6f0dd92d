/*
 * security_test.c - the links between DCs under attack (issue 17), against
 * real causewayd processes with TLS: the forgery of a genuine-looking
 * record of DC 1, sent to DC 0's peer port with no certificate, with one
 * of another CA, with the deployment's client certificate, with an
 * expired one, with one for a DC id outside the deployment, and by a
 * member claiming another member's id; a process squatting a stopped
 * DC's peer address; garbage and plain TCP on a TLS port; and the start-up
 * checks of causewayd. Each attack must apply nothing, teach the attacker
 * nothing (no state vector), and leave the DCs up and converging.
 */
#include "../unit/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "causeway.h"
#include "cluster.h"
#include "replica.h"
#include "schema.h"
#include "sec.h"
#include "txn.h"
#include "util.h"

static char *extra[] = { "--session-wait", "500", NULL };

static int
setup2(void **state)
{
	cluster *c;
	if (cluster_start_tls(&c, 2, extra) != 0)
		return -1;
	*state = c;
	return 0;
}

static int
setup3(void **state)
{
	cluster *c;
	if (cluster_start_tls(&c, 3, extra) != 0)
		return -1;
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	/* a DC that does not stop cleanly fails the test (under make asan:
	 * a sanitizer's report inside causewayd) */
	return cluster_stop(*state);
}

static cw_client *
at(cluster *c, int i)
{
	cw_client         *cl;
	cw_connect_options o = { .user = "admin",
		.password_file         = c->admin_pw };
	assert_int_equal(cw_connect_opts(&cl, c->d[i].url, &o), 0);
	return cl;
}

static void
status(cluster *c, int i, cw_dc_info *s)
{
	cw_client *cl = at(c, i);
	assert_int_equal(cw_dc_status(cl, s), 0);
	cw_close(cl);
}

static void
put(cluster *c, int i, const char *k, const char *v)
{
	cw_client *cl = at(c, i);
	cw_txn    *t;
	assert_int_equal(cw_begin(cl, &t), 0);
	assert_int_equal(cw_reg_put(t, k, strlen(k), v, strlen(v)), 0);
	assert_int_equal(cw_commit(t), 0);
	cw_close(cl);
}

/* The register k at DC i: 1 when it holds v, 0 when absent. */
static int
has(cluster *c, int i, const char *k, const char *v)
{
	cw_client *cl = at(c, i);
	cw_txn    *t;
	void      *got = NULL;
	size_t     gl  = 0;
	assert_int_equal(cw_begin(cl, &t), 0);
	int rc = cw_reg_get(t, k, strlen(k), &got, &gl);
	cw_abort(t);
	cw_close(cl);
	int r = rc == 0 && gl == strlen(v) && memcmp(got, v, gl) == 0;
	free(got);
	return r;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char buf[8][16384];
	static int  next;
	char       *b = buf[next++ % 8];
	size_t      n = fread(b, 1, sizeof(buf[0]) - 1, f);
	b[n]          = '\0';
	fclose(f);
	return b;
}

/* A TLS configuration for a forger or a squatter: its certificate and
 * key from dir/name.crt and .key; verifying the other end against ca
 * (NULL: not at all) for server_name. */
static nng_tls_config *
tls_conf(nng_tls_mode mode, const char *dir, const char *name, const char *ca,
    const char *server_name)
{
	nng_tls_config *cfg;
	char            crt[400], key[400];
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	assert_int_equal(nng_tls_config_alloc(&cfg, mode), 0);
	assert_int_equal(
	    nng_tls_config_own_cert(cfg, slurp(crt), slurp(key), NULL), 0);
	if (ca != NULL) {
		assert_int_equal(nng_tls_config_ca_file(cfg, ca), 0);
		assert_int_equal(
		    nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED),
		    0);
	} else {
		assert_int_equal(
		    nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE), 0);
	}
	if (server_name != NULL)
		assert_int_equal(
		    nng_tls_config_server_name(cfg, server_name), 0);
	return cfg;
}

/* A req socket dialing url (TLS with cfg, or plain when NULL). */
static nng_socket
forger(const char *url, nng_tls_config *cfg)
{
	nng_socket s;
	nng_dialer d;
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1500);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 1500);
	assert_int_equal(nng_dialer_create(&d, s, url), 0);
	if (cfg != NULL)
		assert_int_equal(
		    nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg), 0);
	nng_dialer_start(d, NNG_FLAG_NONBLOCK);
	return s;
}

typedef struct {
	int      err;
	uint16_t dc;
	uint32_t nstate;
	bool     has_nonce;
	uint8_t  nonce[CW_SEC_NONCE];
} answer;

/* Sends one batch; OUT: *a. Returns 0, or -1 when nothing came back. */
static int
call(nng_socket s, const cw_buf *b, answer *a)
{
	nng_msg *m;
	uint64_t st[64];
	memset(a, 0, sizeof(*a));
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, b->p, b->len), 0);
	if (nng_sendmsg(s, m, 0) != 0) {
		nng_msg_free(m);
		return -1;
	}
	if (nng_recvmsg(s, &m, 0) != 0)
		return -1;
	assert_int_equal(
	    cw_schema_ack_decode(nng_msg_body(m), nng_msg_len(m), &a->err,
	        &a->dc, st, &a->nstate, a->nonce, &a->has_nonce),
	    0);
	nng_msg_free(m);
	return 0;
}

/* A genuine-looking record of DC `from`'s first transaction, which writes
 * forged=evil: made by a real engine as that DC would. */
static int
forge_rec(
    void *arg, uint16_t origin, uint64_t seq, const void *rec, size_t len)
{
	(void) origin;
	(void) seq;
	cw_buf *b = arg;
	return cw_buf_put(b, rec, len);
}

/* A genuine-looking record of DC `from`: the next one DC 0 expects of it
 * (DC `from` has committed some already: at least its first admin).
 * Returns the seq DC 0 has of `from`, which the forgery must leave. */
static uint64_t
forged_record(cluster *c, uint16_t from, uint32_t ndc, cw_buf *rec)
{
	char      *dir = lab_tmpdir("cwforge");
	cw_db_opts o;
	cw_db     *db;
	cw_tx     *t;
	cw_dc_info st;
	status(c, 0, &st);
	uint64_t s1 = st.state[from];
	cw_db_opts_default(&o);
	o.dc  = from;
	o.ndc = ndc;
	assert_int_equal(cw_db_open(&db, dir, &o), 0);
	for (uint64_t i = 0; i <= s1; i++) {
		assert_int_equal(cw_tx_begin(db, NULL, 0, &t), 0);
		assert_int_equal(cw_tx_reg_put(t, "forged", 6, "evil", 4), 0);
		assert_int_equal(cw_tx_commit(t, NULL), 0);
		cw_tx_free(t);
	}
	assert_int_equal(
	    cw_db_log_scan(db, from, s1 + 1, s1 + 1, 1u << 20, forge_rec, rec),
	    0);
	assert_true(rec->len > 0);
	cw_db_close(db);
	lab_rmrf(dir);
	free(dir);
	return s1;
}

/* The batch a forger sends as DC `from`: the record and, unless sec is
 * NULL, a proof made with sec's key for nonce. */
static void
batch(uint16_t from, uint32_t ndc, const cw_buf *rec, cw_sec *sec,
    const uint8_t *nonce, cw_buf *out)
{
	uint64_t      st[64] = { 0 };
	const void   *r      = rec ? rec->p : NULL;
	size_t        rl     = rec ? rec->len : 0;
	cw_buf        sig    = { 0 };
	cw_batch_auth auth;
	uint64_t      fp = cw_replica_fingerprint("causeway", ndc);
	if (sec != NULL) {
		assert_int_equal(
		    cw_sec_proof_make(sec, fp, from, 0, nonce, &sig), 0);
		cw_sec_chain(sec, &auth.ders, &auth.lens, &auth.n);
		auth.sig    = sig.p;
		auth.siglen = sig.len;
	}
	out->len = 0;
	assert_int_equal(cw_schema_batch_encode(from, fp, st, ndc, &r, &rl,
	                     rec ? 1 : 0, NULL, 0, sec ? &auth : NULL, out),
	    0);
	cw_buf_fini(&sig);
}

static cw_sec *
identity(const char *dir, const char *name, const char *cadir)
{
	char    crt[400], key[400], ca[400];
	cw_sec *s;
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(ca, sizeof(ca), "%s/ca.crt", cadir);
	assert_int_equal(cw_sec_load(&s, crt, key, ca), 0);
	return s;
}

static void
url_of(cluster *c, int i, const char *scheme, char *out, size_t cap)
{
	snprintf(out, cap, "%s://127.0.0.1:%d", scheme, c->peer_port[i]);
}

/* Nothing of the forgery at DC 0: not the key, not DC 1's seq. */
static void
nothing_applied(cluster *c, uint64_t s1)
{
	cw_dc_info s;
	status(c, 0, &s);
	assert_int_equal(s.state[1], s1);
	assert_int_equal(has(c, 0, "forged", "evil"), 0);
}

/* Lines of DC i's log that contain what. */
static int
log_count(cluster *c, int i, const char *what)
{
	return lab_count_lines(c->d[i].log, what);
}

static void
a_tls_deployment_replicates(void **state)
{
	cluster *c = *state;
	put(c, 0, "a", "1");
	put(c, 1, "b", "2");
	put(c, 2, "c", "3");
	assert_true(cluster_converged(c, 30));
	assert_int_equal(has(c, 2, "a", "1"), 1);
	assert_int_equal(has(c, 0, "c", "3"), 1);
	/* and each DC bound every peer's connection by its proof */
	for (int i = 0; i < 3; i++)
		assert_true(log_count(c, i, "proved its identity") >= 2);
}

static void
a_forger_without_a_deployment_certificate_gets_nothing_in(void **state)
{
	cluster *c = *state;
	char     url[64], plain[64], *other = lab_tmpdir("cwother");
	cw_buf   rec = { 0 }, b = { 0 };
	answer   a;
	uint64_t s1 = forged_record(c, 1, 2, &rec);
	batch(1, 2, &rec, NULL, NULL, &b);
	url_of(c, 0, "tls+tcp", url, sizeof(url));
	url_of(c, 0, "tcp", plain, sizeof(plain));
	/* plain SP over TCP to the TLS port */
	nng_socket s = forger(plain, NULL);
	assert_int_equal(call(s, &b, &a), -1);
	nng_close(s);
	/* TLS with no certificate of ours */
	nng_tls_config *cfg;
	assert_int_equal(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
	nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE);
	s = forger(url, cfg);
	assert_int_equal(call(s, &b, &a), -1);
	nng_close(s);
	nng_tls_config_free(cfg);
	/* a certificate that says dc-1, from another CA */
	assert_int_equal(lab_certs(other, 2, false, NULL), 0);
	cfg = tls_conf(NNG_TLS_MODE_CLIENT, other, "dc-1", NULL, NULL);
	s   = forger(url, cfg);
	assert_int_equal(call(s, &b, &a), -1);
	nng_close(s);
	nng_tls_config_free(cfg);
	nothing_applied(c, s1);
	/* DC 1's real first transaction still arrives: no seq was taken */
	put(c, 1, "real", "yes");
	assert_true(cluster_converged(c, 30));
	assert_int_equal(has(c, 0, "real", "yes"), 1);
	assert_int_equal(has(c, 0, "forged", "evil"), 0);
	lab_rmrf(other);
	free(other);
	cw_buf_fini(&rec);
	cw_buf_fini(&b);
}

static void
a_certificate_of_the_ca_that_names_no_member_proves_nothing(void **state)
{
	cluster *c = *state;
	char     url[64];
	cw_buf   rec = { 0 }, b = { 0 };
	answer   a;
	/* the deployment's client certificate and one for dc-9: both of
	 * the CA, so TLS lets them in, but neither is DC 1 */
	const char *names[] = { "dc-9", NULL };
	assert_int_equal(lab_certs(c->certs, 3, false, names), 0);
	uint64_t s1 = forged_record(c, 1, 3, &rec);
	url_of(c, 0, "tls+tcp", url, sizeof(url));
	const char *who[] = { "client", "dc-9" };
	for (int w = 0; w < 2; w++) {
		nng_tls_config *cfg = tls_conf(
		    NNG_TLS_MODE_CLIENT, c->certs, who[w], NULL, NULL);
		nng_socket s  = forger(url, cfg);
		cw_sec    *id = identity(c->certs, who[w], c->certs);
		/* the first batch of a connection: a challenge, and no
		 * state vector */
		batch(1, 3, &rec, NULL, NULL, &b);
		assert_int_equal(call(s, &b, &a), 0);
		assert_int_equal(a.err, CW_EAUTH);
		assert_true(a.has_nonce);
		assert_int_equal(a.nstate, 0);
		/* a proof with a certificate that is not dc-1's, many times
		 * on one connection */
		for (int i = 0; i < 5; i++) {
			batch(1, 3, &rec, id, a.nonce, &b);
			assert_int_equal(call(s, &b, &a), 0);
			assert_int_equal(a.err, CW_EAUTH);
			assert_int_equal(a.nstate, 0);
		}
		/* as DC 9, outside the deployment: not a peer */
		batch(9, 3, NULL, id, a.nonce, &b);
		assert_int_equal(call(s, &b, &a), 0);
		assert_int_equal(a.err, CW_EFORMAT);
		assert_int_equal(a.nstate, 0);
		cw_sec_free(id);
		nng_close(s);
		nng_tls_config_free(cfg);
	}
	/* logged at warn once per connection, not once per batch */
	assert_int_equal(log_count(c, 0,
	                     "claims to be from DC 1: a certificate that "
	                     "names another DC"),
	    2);
	nothing_applied(c, s1);
	cw_buf_fini(&rec);
	cw_buf_fini(&b);
}

static void
a_member_that_claims_another_members_id_is_refused(void **state)
{
	cluster *c = *state;
	char     url[64];
	cw_buf   rec = { 0 }, b = { 0 };
	answer   a;
	uint64_t s1 = forged_record(c, 1, 3, &rec);
	url_of(c, 0, "tls+tcp", url, sizeof(url));
	nng_tls_config *cfg =
	    tls_conf(NNG_TLS_MODE_CLIENT, c->certs, "dc-2", NULL, NULL);
	nng_socket s  = forger(url, cfg);
	cw_sec    *id = identity(c->certs, "dc-2", c->certs);
	/* DC 2's key cannot prove DC 1 */
	batch(1, 3, &rec, NULL, NULL, &b);
	assert_int_equal(call(s, &b, &a), 0);
	assert_int_equal(a.err, CW_EAUTH);
	batch(1, 3, &rec, id, a.nonce, &b);
	assert_int_equal(call(s, &b, &a), 0);
	assert_int_equal(a.err, CW_EAUTH);
	/* DC 2 proves itself honestly (a heartbeat: acked with state)... */
	batch(2, 3, NULL, id, a.nonce, &b);
	assert_int_equal(call(s, &b, &a), 0);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.nstate, 3);
	/* ...then speaks as DC 1 on the bound connection */
	for (int i = 0; i < 3; i++) {
		batch(1, 3, &rec, NULL, NULL, &b);
		assert_int_equal(call(s, &b, &a), 0);
		assert_int_equal(a.err, CW_EAUTH);
		assert_int_equal(a.nstate, 0);
	}
	/* each reason logged once per connection */
	assert_int_equal(log_count(c, 0, "a connection of another DC"), 1);
	/* a proof for another receiver does not carry over: DC 2's proof
	 * made for DC 1 (to = 1) is refused by DC 0 */
	nng_close(s);
	s = forger(url, cfg);
	batch(2, 3, NULL, NULL, NULL, &b);
	assert_int_equal(call(s, &b, &a), 0);
	assert_int_equal(a.err, CW_EAUTH);
	{
		uint64_t      st[64] = { 0 };
		cw_buf        sig    = { 0 };
		cw_batch_auth auth;
		uint64_t      fp = cw_replica_fingerprint("causeway", 3);
		assert_int_equal(
		    cw_sec_proof_make(id, fp, 2, 1, a.nonce, &sig), 0);
		cw_sec_chain(id, &auth.ders, &auth.lens, &auth.n);
		auth.sig    = sig.p;
		auth.siglen = sig.len;
		b.len       = 0;
		assert_int_equal(cw_schema_batch_encode(2, fp, st, 3, NULL,
		                     NULL, 0, NULL, 0, &auth, &b),
		    0);
		cw_buf_fini(&sig);
	}
	assert_int_equal(call(s, &b, &a), 0);
	assert_int_equal(a.err, CW_EAUTH);
	nng_close(s);
	nng_tls_config_free(cfg);
	cw_sec_free(id);
	nothing_applied(c, s1);
	/* and the real DCs still replicate */
	put(c, 1, "after", "ok");
	assert_true(cluster_converged(c, 30));
	assert_int_equal(has(c, 0, "after", "ok"), 1);
	assert_int_equal(has(c, 0, "forged", "evil"), 0);
	cw_buf_fini(&rec);
	cw_buf_fini(&b);
}

static void
an_expired_certificate_is_refused(void **state)
{
	cluster *c = *state;
	char     url[64], cmd[900], *old = lab_tmpdir("cwexpired");
	cw_buf   rec = { 0 }, b = { 0 };
	answer   a;
	/* dc-1 again, of the same CA, expired */
	snprintf(cmd, sizeof(cmd), "cp %s/ca.crt %s/ca.key %s/", c->certs,
	    c->certs, old);
	assert_int_equal(system(cmd), 0);
	const char *names[] = { "dc-1", NULL };
	assert_int_equal(lab_certs(old, 0, true, names), 0);
	uint64_t s1 = forged_record(c, 1, 2, &rec);
	batch(1, 2, &rec, NULL, NULL, &b);
	url_of(c, 0, "tls+tcp", url, sizeof(url));
	nng_tls_config *cfg =
	    tls_conf(NNG_TLS_MODE_CLIENT, old, "dc-1", NULL, NULL);
	nng_socket s = forger(url, cfg);
	assert_int_equal(call(s, &b, &a), -1);
	nng_close(s);
	nng_tls_config_free(cfg);
	nothing_applied(c, s1);
	lab_rmrf(old);
	free(old);
	cw_buf_fini(&rec);
	cw_buf_fini(&b);
}

/* Listens where DC 1 was, as a squatter would (cfg NULL: plain), while
 * DC 0 commits. Returns the number of messages DC 0 sent it. */
static int
squat(cluster *c, nng_tls_config *cfg, int seconds)
{
	char         url[64];
	nng_socket   s;
	nng_listener l;
	int          got = 0;
	url_of(c, 1, cfg ? "tls+tcp" : "tcp", url, sizeof(url));
	assert_int_equal(nng_rep0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 200);
	assert_int_equal(nng_listener_create(&l, s, url), 0);
	if (cfg != NULL)
		assert_int_equal(
		    nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg), 0);
	assert_int_equal(nng_listener_start(l, 0), 0);
	put(c, 0, "secret", "value");
	for (int i = 0; i < seconds * 5; i++) {
		nng_msg *m;
		if (nng_recvmsg(s, &m, 0) == 0) {
			got++;
			nng_msg_free(m);
		}
	}
	nng_close(s);
	return got;
}

static void
a_squatter_on_a_stopped_dcs_address_receives_nothing(void **state)
{
	cluster *c     = *state;
	char    *other = lab_tmpdir("cwother");
	assert_int_equal(dc_stop(&c->d[1]), 0);
	/* plain; another CA's dc-1; the deployment's own client and dc-0
	 * certificates, which name no dc-1 */
	assert_int_equal(squat(c, NULL, 2), 0);
	assert_int_equal(lab_certs(other, 2, false, NULL), 0);
	const char *dirs[]  = { other, c->certs, c->certs };
	const char *names[] = { "dc-1", "client", "dc-0" };
	for (int i = 0; i < 3; i++) {
		nng_tls_config *cfg = tls_conf(
		    NNG_TLS_MODE_SERVER, dirs[i], names[i], NULL, NULL);
		assert_int_equal(squat(c, cfg, 2), 0);
		nng_tls_config_free(cfg);
	}
	/* the control: with dc-1's own key the squatter is DC 1, and DC 0
	 * ships to it (so the zeros above are the refusals, not a dead
	 * link) */
	nng_tls_config *cfg =
	    tls_conf(NNG_TLS_MODE_SERVER, c->certs, "dc-1", NULL, NULL);
	assert_true(squat(c, cfg, 3) > 0);
	nng_tls_config_free(cfg);
	/* the real DC 1 comes back and gets everything */
	assert_int_equal(dc_restart(&c->d[1]), 0);
	assert_true(cluster_converged(c, 30));
	assert_int_equal(has(c, 1, "secret", "value"), 1);
	lab_rmrf(other);
	free(other);
}

/* Sends bytes on a raw TCP connection to port and closes it. */
static void
raw_send(int port, const void *p, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int                s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port        = htons((uint16_t) port);
	assert_int_equal(connect(s, (struct sockaddr *) &a, sizeof(a)), 0);
	if (n > 0)
		assert_true(write(s, p, n) == (ssize_t) n);
	usleep(100 * 1000);
	close(s);
}

static void
garbage_and_truncated_handshakes_leave_the_dc_up(void **state)
{
	cluster *c = *state;
	/* a TLS record header that promises a ClientHello, then stops; an
	 * SP header in the clear; noise; nothing at all */
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
		0x00, 0x01, 0xfc, 0x03, 0x03 };
	static const uint8_t sp[] = { 0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00,
		0x00 };
	char                 noise[4096];
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (char) (i * 131 + 7);
	for (int i = 0; i < 20; i++) {
		raw_send(c->peer_port[0], hello, sizeof(hello));
		raw_send(c->peer_port[0], sp, sizeof(sp));
		raw_send(c->peer_port[0], noise, sizeof(noise));
		raw_send(c->peer_port[0], NULL, 0);
	}
	put(c, 0, "still", "up");
	put(c, 1, "and", "replicating");
	assert_true(cluster_converged(c, 30));
	assert_int_equal(has(c, 1, "still", "up"), 1);
	assert_int_equal(has(c, 0, "and", "replicating"), 1);
}

/* ---- the client port over TLS ---- */

struct storm {
	int          port;
	const char  *url, *other_ca;
	int          n, refused;
	_Atomic bool done;
};

/* Opens a connection to port, writes p[0..n) and closes it at once. */
static void
hit(int port, const void *p, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int                s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr    = htonl(INADDR_LOOPBACK);
	a.sin_port           = htons((uint16_t) port);
	if (s < 0)
		return;
	if (connect(s, (struct sockaddr *) &a, sizeof(a)) == 0 && n > 0 &&
	    write(s, p, n) < 0) {
		/* the server may have closed first */
	}
	close(s);
}

static void *
storm_main(void *arg)
{
	struct storm        *st      = arg;
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
		0x00, 0x01, 0xfc, 0x03, 0x03 };
	static const uint8_t sp[] = { 0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00,
		0x00 };
	char                 noise[512];
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (char) (i * 131 + 7);
	cw_connect_options wrong = { .ca_file = st->other_ca };
	for (int i = 0; i < st->n; i++) {
		switch (i % 4) {
		case 0:
			hit(st->port, hello, sizeof(hello));
			break;
		case 1:
			hit(st->port, sp, sizeof(sp));
			break;
		case 2:
			hit(st->port, noise, sizeof(noise));
			break;
		default: {
			cw_client *c = NULL;
			st->refused +=
			    cw_connect_opts(&c, st->url, &wrong) == CW_EAUTH;
			cw_close(c);
		}
		}
	}
	atomic_store(&st->done, true);
	return NULL;
}

static void
a_storm_of_bad_tls_clients_leaves_the_others_served(void **state)
{
	(void) state;
	char  *tmp = lab_tmpdir("cwstorm");
	char   certs[200], other[200], url[64], dir[300], a[4][300];
	dcproc d = { 0 };
	snprintf(certs, sizeof(certs), "%s/certs", tmp);
	snprintf(other, sizeof(other), "%s/other", tmp);
	assert_int_equal(lab_certs(certs, 1, false, NULL), 0);
	assert_int_equal(lab_certs(other, 1, false, NULL), 0);
	int port = dc_free_port();
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	snprintf(a[0], 300, "%s/dc-0.crt", certs);
	snprintf(a[1], 300, "%s/dc-0.key", certs);
	snprintf(a[2], 300, "%s/ca.crt", certs);
	snprintf(a[3], 300, "%s/ca.crt", other);
	char *args[] = { "--listen", url, "--tls-cert", a[0], "--tls-key",
		a[1], "--tls-ca", a[2], NULL };
	snprintf(dir, sizeof(dir), "%s/dc0", tmp);
	assert_int_equal(dc_start(&d, dir, args), 0);
	struct storm st = { port, url, a[3], 1000, 0, false };
	pthread_t    th;
	double       t0 = lab_now_s();
	assert_int_equal(pthread_create(&th, NULL, storm_main, &st), 0);
	/* meanwhile a good client commits, each call within its timeout */
	cw_connect_options o  = { .ca_file = a[2] };
	int                ok = 0;
	while (!atomic_load(&st.done) || ok < 200) {
		cw_client *c;
		cw_txn    *t;
		assert_int_equal(cw_connect_opts(&c, url, &o), 0);
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(cw_counter_add(t, "n", 1, 1), 0);
		assert_int_equal(cw_commit(t), 0);
		cw_close(c);
		ok++;
	}
	pthread_join(th, NULL);
	double secs = lab_now_s() - t0;
	assert_int_equal(st.refused, 250);
	/* nothing else was applied, and the server is up */
	cw_client *c;
	cw_txn    *t;
	int64_t    n;
	assert_int_equal(cw_connect_opts(&c, url, &o), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "n", 1, &n), 0);
	assert_int_equal(n, ok);
	cw_abort(t);
	cw_close(c);
	/* a line a second at most about the failures, not a thousand */
	FILE *f = fopen(d.log, "r");
	char  line[1024];
	int   lines = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		lines +=
		    strstr(line, "TLS handshake with a client failed") != NULL;
	fclose(f);
	assert_true(lines >= 1);
	assert_true(lines <= (int) secs + 2);
	assert_int_equal(dc_stop(&d), 0);
	lab_rmrf(tmp);
	free(tmp);
}

/* ---- causewayd's start-up checks ---- */

/* Runs causewayd with args; returns its exit status and leaves its
 * output in out. If it is still running after 2 s it is stopped: -1. */
static int
run_daemon(char *const *args, const char *out)
{
	char *argv[40];
	int   k = 0;
	argv[k++] =
	    getenv("CAUSEWAYD") ? getenv("CAUSEWAYD") : "build/bin/causewayd";
	for (int i = 0; args[i] != NULL; i++)
		argv[k++] = args[i];
	argv[k]   = NULL;
	pid_t pid = proc_spawn(argv, out);
	assert_true(pid > 0);
	return proc_wait(pid, 2);
}

static bool
file_has(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char  line[2048];
	bool  found = false;
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

static void
causewayd_refuses_exposed_plain_links_and_bad_certificates(void **state)
{
	(void) state;
	char *tmp = lab_tmpdir("cwstart");
	char  d[300], out[300], pl[64], crt[300], key[300], ca[300], ocrt[300],
	    okey[300], ecrt[300], ekey[300], cmd[1200];
	char certs[200], other[200], old[200];
	snprintf(certs, sizeof(certs), "%s/certs", tmp);
	snprintf(other, sizeof(other), "%s/other", tmp);
	snprintf(old, sizeof(old), "%s/old", tmp);
	assert_int_equal(lab_certs(certs, 2, false, NULL), 0);
	assert_int_equal(lab_certs(other, 2, false, NULL), 0);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/ca.* %s/", old, certs,
	    old);
	assert_int_equal(system(cmd), 0);
	const char *names[] = { "dc-0", NULL };
	assert_int_equal(lab_certs(old, 0, true, names), 0);
	snprintf(d, sizeof(d), "%s/data", tmp);
	snprintf(out, sizeof(out), "%s/out", tmp);
	snprintf(pl, sizeof(pl), "tcp://127.0.0.1:%d", dc_free_port());
	snprintf(crt, sizeof(crt), "%s/dc-0.crt", certs);
	snprintf(key, sizeof(key), "%s/dc-0.key", certs);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	snprintf(ocrt, sizeof(ocrt), "%s/dc-0.crt", other);
	snprintf(okey, sizeof(okey), "%s/dc-0.key", other);
	snprintf(ecrt, sizeof(ecrt), "%s/dc-0.crt", old);
	snprintf(ekey, sizeof(ekey), "%s/dc-0.key", old);
	char lst[64], tls_pl[64], tls_peer[64], ok_peer[64];
	snprintf(lst, sizeof(lst), "tcp://127.0.0.1:%d", dc_free_port());
	snprintf(
	    tls_pl, sizeof(tls_pl), "tls+tcp://127.0.0.1:%d", dc_free_port());
	snprintf(tls_peer, sizeof(tls_peer), "1=tls+tcp://127.0.0.1:%d",
	    dc_free_port());
	snprintf(
	    ok_peer, sizeof(ok_peer), "1=tcp://127.0.0.1:%d", dc_free_port());
	/* plain peer links to another machine */
	{
		char *a[] = { "--data", d, "--listen", lst, "--peer-listen",
			pl, "--peer", "1=tcp://192.0.2.1:7500", NULL };
		assert_int_equal(run_daemon(a, out), 2);
		assert_true(file_has(out, "--insecure"));
		char *b[] = { "--data", d, "--listen", lst, "--peer-listen",
			pl, "--peer", "1=tcp://192.0.2.1:7500", "--insecure",
			NULL };
		assert_int_equal(run_daemon(b, out), -1); /* it ran */
		assert_true(file_has(out, "ready"));
	}
	/* clients on an address off this machine (no client TLS yet) */
	{
		char any[64];
		snprintf(any, sizeof(any), "tcp://0.0.0.0:%d", dc_free_port());
		char *a[] = { "--data", d, "--listen", any, NULL };
		assert_int_equal(run_daemon(a, out), 2);
		assert_true(file_has(out, "is not a loopback"));
	}
	/* clients over TLS off this machine, but no users: refused; with
	 * the first admin's password, it runs */
	{
		char any[64], pw[300];
		snprintf(
		    any, sizeof(any), "tls+tcp://0.0.0.0:%d", dc_free_port());
		snprintf(pw, sizeof(pw), "%s/admin.pw", tmp);
		assert_int_equal(lab_write_secret(pw, "first-admin"), 0);
		lab_rmrf(d); /* a data directory of one DC, not two */
		char *a[] = { "--data", d, "--listen", any, "--tls-cert", crt,
			"--tls-key", key, "--tls-ca", ca, NULL };
		assert_int_equal(run_daemon(a, out), 2);
		assert_true(file_has(out, "has no users"));
		char *b[] = { "--data", d, "--listen", any, "--tls-cert", crt,
			"--tls-key", key, "--tls-ca", ca,
			"--admin-password-file", pw, NULL };
		assert_int_equal(run_daemon(b, out), -1); /* it ran */
		assert_true(file_has(out, "users on"));
		lab_rmrf(d);
	}
	/* half the TLS options */
	{
		char *a[] = { "--data", d, "--listen", lst, "--tls-cert", crt,
			NULL };
		assert_int_equal(run_daemon(a, out), 2);
		assert_true(file_has(out, "go together"));
	}
	/* a certificate that names another DC, one of another CA, an
	 * expired one, a key of another certificate */
	struct {
		char       *crt, *key, *dc;
		const char *why;
	} bad[] = {
		{ crt, key, "1", "does not name dc-1" },
		{ ocrt, okey, "0", "does not verify" },
		{ ecrt, ekey, "0", "expired" },
		{ crt, ekey, "0", "does not belong" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char peer[64];
		snprintf(peer, sizeof(peer), "%s=tls+tcp://127.0.0.1:%d",
		    strcmp(bad[i].dc, "0") == 0 ? "1" : "0", dc_free_port());
		char *a[] = { "--dc", bad[i].dc, "--data", d, "--listen", lst,
			"--peer-listen", tls_pl, "--peer", peer, "--tls-cert",
			bad[i].crt, "--tls-key", bad[i].key, "--tls-ca", ca,
			NULL };
		assert_int_equal(run_daemon(a, out), 1);
		if (!file_has(out, bad[i].why)) {
			fprintf(
			    stderr, "case %zu: no '%s' in:\n", i, bad[i].why);
			snprintf(cmd, sizeof(cmd), "cat %s >&2", out);
			assert_int_equal(system(cmd), 0);
			fail();
		}
	}
	/* a tls+tcp:// URL without certificates; tcp:// with them */
	{
		char *a[] = { "--data", d, "--listen", lst, "--peer-listen",
			tls_pl, "--peer", tls_peer, NULL };
		assert_int_equal(run_daemon(a, out), 1);
		assert_true(file_has(out, "needs a certificate"));
		char *b[] = { "--data", d, "--listen", lst, "--peer-listen",
			pl, "--peer", ok_peer, "--tls-cert", crt, "--tls-key",
			key, "--tls-ca", ca, NULL };
		assert_int_equal(run_daemon(b, out), 1);
		assert_true(file_has(out, "peer URLs are tls+tcp"));
	}
	lab_rmrf(tmp);
	free(tmp);
}

int
main(void)
{
	dc_watchdog(300);
	if (getenv("CW_TEST") != NULL) /* one case: CW_TEST=pattern */
		cmocka_set_test_filter(getenv("CW_TEST"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    a_tls_deployment_replicates, setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    a_forger_without_a_deployment_certificate_gets_nothing_in,
		    setup2, teardown),
		cmocka_unit_test_setup_teardown(
		    a_certificate_of_the_ca_that_names_no_member_proves_nothing,
		    setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    a_member_that_claims_another_members_id_is_refused, setup3,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    an_expired_certificate_is_refused, setup2, teardown),
		cmocka_unit_test_setup_teardown(
		    a_squatter_on_a_stopped_dcs_address_receives_nothing,
		    setup2, teardown),
		cmocka_unit_test_setup_teardown(
		    garbage_and_truncated_handshakes_leave_the_dc_up, setup2,
		    teardown),
		cmocka_unit_test(
		    a_storm_of_bad_tls_clients_leaves_the_others_served),
		cmocka_unit_test(
		    causewayd_refuses_exposed_plain_links_and_bad_certificates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
