/*
 * sec.c - certificates, nng TLS configurations and peer proofs; see
 * sec.h. mbedTLS 2.28 (the library Debian's nng links) does the
 * cryptography; nothing here is written by hand but the framing of the
 * signed message.
 */
#include "sec.h"

#include <errno.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

struct cw_sec {
	char              *cert_pem, *key_pem, *ca_pem; /* NUL-terminated */
	mbedtls_x509_crt   chain;                       /* own, then more */
	mbedtls_x509_crt   ca;
	mbedtls_pk_context key;
	pthread_mutex_t    sign_mu; /* guards key while it signs */
	const void       **ders;
	size_t            *lens;
	size_t             nders;
};

static const char PROOF_TAG[] = "causeway-peer-proof-v1";

/* OUT: *out, the whole file plus a NUL. Returns 0, CW_ENOMEM or
 * CW_EINVAL (logged). */
static int
slurp(const char *path, const char *what, char **out)
{
	FILE  *f = fopen(path, "rb");
	cw_buf b = { 0 };
	char   chunk[4096];
	size_t n;
	*out = NULL;
	if (f == NULL) {
		cw_log(CW_LOG_ERROR, "sec", "%s %s: %s", what, path,
		    strerror(errno));
		return CW_EINVAL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (b.len + n > (1u << 20) || cw_buf_put(&b, chunk, n) != 0) {
			fclose(f);
			cw_buf_fini(&b);
			cw_log(CW_LOG_ERROR, "sec", "%s %s: %s", what, path,
			    b.len + n > (1u << 20) ? "larger than 1 MiB"
			                           : "out of memory");
			return CW_EINVAL;
		}
	int err = ferror(f);
	fclose(f);
	if (err || cw_buf_put(&b, "", 1) != 0) {
		cw_buf_fini(&b);
		cw_log(CW_LOG_ERROR, "sec", "%s %s: cannot read", what, path);
		return CW_EINVAL;
	}
	*out = (char *) b.p;
	return 0;
}

static void
log_mbed(const char *what, const char *path, int e)
{
	char msg[160];
	mbedtls_strerror(e, msg, sizeof(msg));
	cw_log(CW_LOG_ERROR, "sec", "%s %s: %s", what, path, msg);
}

static int
rng(void *arg, unsigned char *p, size_t n)
{
	(void) arg;
	return cw_sec_random(p, n) == 0 ? 0 : MBEDTLS_ERR_ERROR_GENERIC_ERROR;
}

int
cw_sec_random(void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t k = getrandom(p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return CW_EIO;
		p += k;
		n -= (size_t) k;
	}
	return 0;
}

/* Verifies crt against s's CA, for `name` (NULL: any name). OUT: *flags
 * (mbedTLS's verification flags). Returns true when it verifies. */
static bool
verify(
    const cw_sec *s, mbedtls_x509_crt *crt, const char *name, uint32_t *flags)
{
	*flags = 0;
	return mbedtls_x509_crt_verify(crt, (mbedtls_x509_crt *) &s->ca, NULL,
	           name, flags, NULL, NULL) == 0;
}

int
cw_sec_load(cw_sec **out, const char *cert_file, const char *key_file,
    const char *ca_file)
{
	cw_sec *s;
	int     rc, e;
	*out = NULL;
	if (cert_file == NULL || key_file == NULL || ca_file == NULL)
		return CW_EINVAL;
	if ((s = cw_calloc(1, sizeof(*s))) == NULL)
		return CW_ENOMEM;
	mbedtls_x509_crt_init(&s->chain);
	mbedtls_x509_crt_init(&s->ca);
	mbedtls_pk_init(&s->key);
	pthread_mutex_init(&s->sign_mu, NULL);
	if ((rc = slurp(cert_file, "certificate", &s->cert_pem)) != 0 ||
	    (rc = slurp(key_file, "key", &s->key_pem)) != 0 ||
	    (rc = slurp(ca_file, "CA", &s->ca_pem)) != 0)
		goto fail;
	rc = CW_EINVAL;
	if ((e = mbedtls_x509_crt_parse(&s->chain,
	         (const unsigned char *) s->cert_pem,
	         strlen(s->cert_pem) + 1)) != 0) {
		log_mbed("certificate", cert_file, e);
		goto fail;
	}
	if ((e = mbedtls_x509_crt_parse(&s->ca,
	         (const unsigned char *) s->ca_pem, strlen(s->ca_pem) + 1)) !=
	    0) {
		log_mbed("CA", ca_file, e);
		goto fail;
	}
	if ((e = mbedtls_pk_parse_key(&s->key,
	         (const unsigned char *) s->key_pem, strlen(s->key_pem) + 1,
	         NULL, 0)) != 0) {
		log_mbed("key", key_file, e);
		goto fail;
	}
	if ((e = mbedtls_pk_check_pair(&s->chain.pk, &s->key)) != 0) {
		cw_log(CW_LOG_ERROR, "sec",
		    "key %s does not belong to certificate %s", key_file,
		    cert_file);
		goto fail;
	}
	uint32_t flags;
	if (!verify(s, &s->chain, NULL, &flags)) {
		char why[256];
		mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags);
		why[strcspn(why, "\n")] = '\0';
		cw_log(CW_LOG_ERROR, "sec",
		    "certificate %s does not verify against CA %s: %s",
		    cert_file, ca_file, why);
		goto fail;
	}
	for (const mbedtls_x509_crt *c = &s->chain; c != NULL && c->raw.p;
	     c                         = c->next)
                s->nders++;
	s->ders = cw_calloc(s->nders, sizeof(*s->ders));
	s->lens = cw_calloc(s->nders, sizeof(*s->lens));
	if (s->ders == NULL || s->lens == NULL) {
		rc = CW_ENOMEM;
		goto fail;
	}
	size_t i = 0;
	for (const mbedtls_x509_crt *c = &s->chain; i < s->nders;
	     c                         = c->next, i++) {
		s->ders[i] = c->raw.p;
		s->lens[i] = c->raw.len;
	}
	*out = s;
	return 0;
fail:
	cw_sec_free(s);
	return rc;
}

void
cw_sec_free(cw_sec *s)
{
	if (s == NULL)
		return;
	mbedtls_x509_crt_free(&s->chain);
	mbedtls_x509_crt_free(&s->ca);
	mbedtls_pk_free(&s->key);
	pthread_mutex_destroy(&s->sign_mu);
	if (s->key_pem != NULL) /* the key leaves no copy behind */
		mbedtls_platform_zeroize(s->key_pem, strlen(s->key_pem));
	cw_free(s->cert_pem);
	cw_free(s->key_pem);
	cw_free(s->ca_pem);
	cw_free(s->ders);
	cw_free(s->lens);
	cw_free(s);
}

bool
cw_sec_names(const cw_sec *s, const char *name)
{
	uint32_t flags;
	return verify(s, (mbedtls_x509_crt *) &s->chain, name, &flags);
}

static int
nng_config(
    const cw_sec *s, nng_tls_mode mode, const char *server_name, void **out)
{
	nng_tls_config *cfg;
	int             rv;
	*out = NULL;
	if ((rv = nng_tls_config_alloc(&cfg, mode)) != 0)
		return rv == NNG_ENOMEM ? CW_ENOMEM : CW_EINVAL;
	if ((rv = nng_tls_config_own_cert(
	         cfg, s->cert_pem, s->key_pem, NULL)) != 0 ||
	    (rv = nng_tls_config_ca_chain(cfg, s->ca_pem, NULL)) != 0 ||
	    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	        0 ||
	    (server_name != NULL &&
	        (rv = nng_tls_config_server_name(cfg, server_name)) != 0)) {
		cw_log(CW_LOG_ERROR, "sec", "TLS configuration: %s",
		    nng_strerror(rv));
		nng_tls_config_free(cfg);
		return rv == NNG_ENOMEM ? CW_ENOMEM : CW_EINVAL;
	}
	*out = cfg;
	return 0;
}

int
cw_sec_nng_server(const cw_sec *s, void **cfg)
{
	return nng_config(s, NNG_TLS_MODE_SERVER, NULL, cfg);
}

int
cw_sec_nng_client(const cw_sec *s, const char *server_name, void **cfg)
{
	return nng_config(s, NNG_TLS_MODE_CLIENT, server_name, cfg);
}

void
cw_sec_nng_free(void *cfg)
{
	if (cfg != NULL)
		nng_tls_config_free(cfg);
}

void
cw_sec_chain(
    const cw_sec *s, const void *const **ders, const size_t **lens, size_t *n)
{
	*ders = s->ders;
	*lens = s->lens;
	*n    = s->nders;
}

/* OUT: h, the SHA-256 of the message a proof signs. */
static void
proof_hash(uint64_t fp, uint16_t from, uint16_t to,
    const uint8_t nonce[CW_SEC_NONCE], uint8_t h[32])
{
	uint8_t m[sizeof(PROOF_TAG) + 12 + CW_SEC_NONCE], *p = m;
	memcpy(p, PROOF_TAG, sizeof(PROOF_TAG)); /* with its NUL */
	p += sizeof(PROOF_TAG);
	cw_st_u64(p, fp);
	cw_st_u16(p + 8, from);
	cw_st_u16(p + 10, to);
	memcpy(p + 12, nonce, CW_SEC_NONCE);
	mbedtls_sha256_ret(m, sizeof(m), h, 0);
}

int
cw_sec_proof_make(cw_sec *s, uint64_t fingerprint, uint16_t from, uint16_t to,
    const uint8_t nonce[CW_SEC_NONCE], cw_buf *sig)
{
	uint8_t h[32], out[MBEDTLS_MPI_MAX_SIZE];
	size_t  n = 0;
	proof_hash(fingerprint, from, to, nonce, h);
	pthread_mutex_lock(&s->sign_mu);
	int e = mbedtls_pk_sign(
	    &s->key, MBEDTLS_MD_SHA256, h, sizeof(h), out, &n, rng, NULL);
	pthread_mutex_unlock(&s->sign_mu);
	if (e != 0) {
		log_mbed("signing with key", "", e);
		return CW_EIO;
	}
	sig->len = 0;
	return cw_buf_put(sig, out, n);
}

int
cw_sec_proof_check(const cw_sec *s, const void *const *ders,
    const size_t *lens, size_t n, uint64_t fingerprint, uint16_t from,
    uint16_t to, const uint8_t nonce[CW_SEC_NONCE], const void *sig,
    size_t siglen, const char **why)
{
	mbedtls_x509_crt chain;
	uint32_t         flags;
	uint8_t          h[32];
	char             name[16];
	int              rc = CW_EAUTH;
	*why                = "no certificate";
	if (n == 0)
		return CW_EAUTH;
	mbedtls_x509_crt_init(&chain);
	for (size_t i = 0; i < n; i++) {
		int e = mbedtls_x509_crt_parse_der(&chain, ders[i], lens[i]);
		if (e == MBEDTLS_ERR_X509_ALLOC_FAILED) {
			rc = CW_ENOMEM;
			goto out;
		}
		if (e != 0) {
			*why = "a certificate that does not parse";
			goto out;
		}
	}
	snprintf(name, sizeof(name), "dc-%u", (unsigned) from);
	if (!verify(s, &chain, name, &flags)) {
		*why = flags & MBEDTLS_X509_BADCERT_CN_MISMATCH
		    ? "a certificate that names another DC"
		    : flags & MBEDTLS_X509_BADCERT_EXPIRED
		    ? "an expired certificate"
		    : "a certificate of another CA";
		goto out;
	}
	proof_hash(fingerprint, from, to, nonce, h);
	if (mbedtls_pk_verify(&chain.pk, MBEDTLS_MD_SHA256, h, sizeof(h), sig,
	        siglen) != 0) {
		*why = "a bad signature";
		goto out;
	}
	*why = NULL;
	rc   = 0;
out:
	mbedtls_x509_crt_free(&chain);
	return rc;
}

/* ---- TLS sessions on the client links ---- */

struct cw_tls_conf {
	mbedtls_ssl_config conf;
	/* a client's own (a server's are its cw_sec's, borrowed) */
	mbedtls_x509_crt   ca, cert;
	mbedtls_pk_context key;
};

struct cw_tls {
	mbedtls_ssl_context ssl;
	int                 fd;
	size_t              pend; /* bytes of the record under way, taken */
};

static int
bio_send(void *arg, const unsigned char *p, size_t n)
{
	cw_tls *t = arg;
	for (;;) {
		ssize_t k = send(t->fd, p, n, MSG_NOSIGNAL);
		if (k >= 0)
			return (int) k;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_WRITE;
		return errno == EPIPE || errno == ECONNRESET
		    ? MBEDTLS_ERR_NET_CONN_RESET
		    : MBEDTLS_ERR_NET_SEND_FAILED;
	}
}

static int
bio_recv(void *arg, unsigned char *p, size_t n)
{
	cw_tls *t = arg;
	for (;;) {
		ssize_t k = recv(t->fd, p, n, 0);
		if (k >= 0)
			return (int) k; /* 0: mbedTLS reports the EOF */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return MBEDTLS_ERR_SSL_WANT_READ;
		return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
		                           : MBEDTLS_ERR_NET_RECV_FAILED;
	}
}

static cw_tls_conf *
conf_new(int endpoint)
{
	cw_tls_conf *c = cw_calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_x509_crt_init(&c->cert);
	mbedtls_pk_init(&c->key);
	if (mbedtls_ssl_config_defaults(&c->conf, endpoint,
	        MBEDTLS_SSL_TRANSPORT_STREAM,
	        MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
		cw_tls_conf_free(c);
		return NULL;
	}
	mbedtls_ssl_conf_rng(&c->conf, rng, NULL);
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
	return c;
}

int
cw_tls_conf_server(cw_tls_conf **out, const cw_sec *s)
{
	cw_tls_conf *c = conf_new(MBEDTLS_SSL_IS_SERVER);
	*out           = NULL;
	if (c == NULL)
		return CW_ENOMEM;
	/* clients are authenticated by the server's own protocol (users),
	 * not by certificates, so none is asked for */
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	if (mbedtls_ssl_conf_own_cert(&c->conf, (mbedtls_x509_crt *) &s->chain,
	        (mbedtls_pk_context *) &s->key) != 0) {
		cw_tls_conf_free(c);
		return CW_ENOMEM;
	}
	*out = c;
	return 0;
}

int
cw_tls_conf_client(cw_tls_conf **out, const char *ca_file,
    const char *cert_file, const char *key_file)
{
	cw_tls_conf *c = conf_new(MBEDTLS_SSL_IS_CLIENT);
	int          e;
	*out = NULL;
	if (c == NULL)
		return CW_ENOMEM;
	if (ca_file == NULL || (cert_file == NULL) != (key_file == NULL)) {
		cw_log(CW_LOG_ERROR, "sec",
		    ca_file == NULL ? "TLS: a CA file is needed to verify "
		                      "the server"
		                    : "TLS: a certificate goes with its key");
		goto bad;
	}
	if ((e = mbedtls_x509_crt_parse_file(&c->ca, ca_file)) != 0) {
		log_mbed("CA", ca_file, e);
		goto bad;
	}
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	if (cert_file != NULL) {
		if ((e = mbedtls_x509_crt_parse_file(&c->cert, cert_file)) !=
		    0) {
			log_mbed("certificate", cert_file, e);
			goto bad;
		}
		if ((e = mbedtls_pk_parse_keyfile(&c->key, key_file, NULL)) !=
		    0) {
			log_mbed("key", key_file, e);
			goto bad;
		}
		if (mbedtls_pk_check_pair(&c->cert.pk, &c->key) != 0) {
			cw_log(CW_LOG_ERROR, "sec",
			    "key %s does not belong to certificate %s",
			    key_file, cert_file);
			goto bad;
		}
		if (mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key) !=
		    0)
			goto bad;
	}
	*out = c;
	return 0;
bad:
	cw_tls_conf_free(c);
	return CW_EINVAL;
}

void
cw_tls_conf_free(cw_tls_conf *c)
{
	if (c == NULL)
		return;
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_x509_crt_free(&c->cert);
	mbedtls_pk_free(&c->key);
	cw_free(c);
}

int
cw_tls_new(cw_tls **out, const cw_tls_conf *c, int fd, const char *name)
{
	cw_tls *t = cw_calloc(1, sizeof(*t));
	*out      = NULL;
	if (t == NULL)
		return CW_ENOMEM;
	t->fd = fd;
	mbedtls_ssl_init(&t->ssl);
	if (mbedtls_ssl_setup(&t->ssl, &c->conf) != 0 ||
	    (name != NULL && mbedtls_ssl_set_hostname(&t->ssl, name) != 0)) {
		cw_tls_free(t);
		return CW_ENOMEM;
	}
	mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
	*out = t;
	return 0;
}

void
cw_tls_free(cw_tls *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_free(&t->ssl);
	cw_free(t);
}

/* The code of an mbedTLS error on an established or handshaking
 * session. */
static int
tls_rc(int e)
{
	switch (e) {
	case MBEDTLS_ERR_SSL_WANT_READ:
		return CW_TLS_WANT_READ;
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		return CW_TLS_WANT_WRITE;
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
		return CW_ENOMEM;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
	case MBEDTLS_ERR_SSL_CONN_EOF:
	case MBEDTLS_ERR_NET_CONN_RESET:
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED:
		return CW_EUNAVAIL;
	default:
		return CW_EPROTO;
	}
}

int
cw_tls_handshake(cw_tls *t, const char **why)
{
	int e = mbedtls_ssl_handshake(&t->ssl);
	*why  = NULL;
	if (e == 0)
		return 0;
	if (e == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		uint32_t f = mbedtls_ssl_get_verify_result(&t->ssl);
		*why       = f & MBEDTLS_X509_BADCERT_CN_MISMATCH
		          ? "its certificate does not name the host"
		          : f & MBEDTLS_X509_BADCERT_EXPIRED
		          ? "its certificate has expired"
		          : "its certificate is not of the CA";
		return CW_EAUTH;
	}
	int rc = tls_rc(e);
	if (rc == CW_EPROTO) {
		static _Thread_local char msg[128];
		mbedtls_strerror(e, msg, sizeof(msg));
		*why = msg;
		/* an alert from the other side: it refused us */
		if (e == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
			rc = CW_EAUTH;
	} else if (rc == CW_EUNAVAIL) {
		*why = "the connection closed during the handshake";
	}
	return rc;
}

int
cw_tls_read(cw_tls *t, void *p, size_t cap, size_t *got)
{
	int e = mbedtls_ssl_read(&t->ssl, p, cap);
	*got  = 0;
	if (e > 0) {
		*got = (size_t) e;
		return 0;
	}
	return e == 0 ? CW_EUNAVAIL : tls_rc(e);
}

size_t
cw_tls_pending_in(const cw_tls *t)
{
	return mbedtls_ssl_get_bytes_avail(&t->ssl);
}

/*
 * mbedTLS takes a record's bytes on the first mbedtls_ssl_write even when
 * it returns WANT_WRITE, and wants the call repeated until the record is
 * out; a repeat only flushes (its buffer is not read) and returns the
 * length it is given. So a WANT_WRITE here means: took min(n, one
 * record), the rest of the record is pending; and a flush is a repeat.
 */
int
cw_tls_flush(cw_tls *t)
{
	static const unsigned char none[1];
	if (t->pend == 0)
		return 0;
	int e = mbedtls_ssl_write(&t->ssl, none, t->pend);
	if (e >= 0) {
		t->pend = 0;
		return 0;
	}
	int rc = tls_rc(e);
	return rc == CW_TLS_WANT_WRITE ? rc : CW_EUNAVAIL;
}

bool
cw_tls_pending_out(const cw_tls *t)
{
	return t->pend > 0;
}

int
cw_tls_write(cw_tls *t, const void *p, size_t n, size_t *took)
{
	int rc;
	*took = 0;
	if ((rc = cw_tls_flush(t)) != 0)
		return rc;
	if (n == 0)
		return 0;
	int e = mbedtls_ssl_write(&t->ssl, p, n);
	if (e > 0) {
		*took = (size_t) e;
		return 0;
	}
	if (e == MBEDTLS_ERR_SSL_WANT_WRITE) {
		int    max = mbedtls_ssl_get_max_out_record_payload(&t->ssl);
		size_t k   = max > 0 && (size_t) max < n ? (size_t) max : n;
		t->pend    = k;
		*took      = k;
		return 0;
	}
	rc = tls_rc(e);
	return rc == CW_TLS_WANT_READ ? CW_EPROTO : rc;
}

/* ---- password hashes ---- */

#define PW_SALT 16
#define PW_HASH 32

/* OUT: out[0..32), PBKDF2-HMAC-SHA256 of pw with salt. */
static int
pbkdf2(const char *pw, size_t len, const uint8_t *salt, size_t sl,
    uint32_t iter, uint8_t out[PW_HASH])
{
	mbedtls_md_context_t md;
	mbedtls_md_init(&md);
	int e = mbedtls_md_setup(
	    &md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
	if (e == 0)
		e = mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *) pw,
		    len, salt, sl, iter, PW_HASH, out);
	mbedtls_md_free(&md);
	return e == 0                          ? 0
	    : e == MBEDTLS_ERR_MD_ALLOC_FAILED ? CW_ENOMEM
	                                       : CW_EIO;
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i]     = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Parses exactly 2n hex digits at s. */
static bool
unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int  v = c >= '0' && c <= '9' ? c - '0'
		     : c >= 'a' && c <= 'f'   ? c - 'a' + 10
		                              : -1;
		if (v < 0)
			return false;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t) (v << 4);
		else
			out[i / 2] |= (uint8_t) v;
	}
	return true;
}

int
cw_pw_hash(const char *pw, size_t len, uint32_t iter, char out[CW_PW_MAX])
{
	uint8_t salt[PW_SALT], h[PW_HASH];
	char    sh[2 * PW_SALT + 1], hh[2 * PW_HASH + 1];
	int     rc;
	out[0] = '\0';
	if (iter == 0)
		iter = CW_PW_ITER;
	if (iter > 10000000)
		return CW_EINVAL;
	if ((rc = cw_sec_random(salt, sizeof(salt))) != 0 ||
	    (rc = pbkdf2(pw, len, salt, sizeof(salt), iter, h)) != 0)
		return rc;
	hex(salt, sizeof(salt), sh);
	hex(h, sizeof(h), hh);
	snprintf(
	    out, CW_PW_MAX, "pbkdf2-sha256$%u$%s$%s", (unsigned) iter, sh, hh);
	mbedtls_platform_zeroize(h, sizeof(h));
	return 0;
}

int
cw_pw_verify(const char *pw, size_t len, const char *enc)
{
	static const char tag[] = "pbkdf2-sha256$";
	uint8_t           salt[PW_SALT], want[PW_HASH], got[PW_HASH];
	char             *end;
	if (strncmp(enc, tag, sizeof(tag) - 1) != 0)
		return CW_EINVAL;
	const char   *p    = enc + sizeof(tag) - 1;
	unsigned long iter = strtoul(p, &end, 10);
	if (end == p || *end != '$' || iter < 1 || iter > 10000000)
		return CW_EINVAL;
	p = end + 1;
	if (strlen(p) != 2 * PW_SALT + 1 + 2 * PW_HASH ||
	    !unhex(p, PW_SALT, salt) || p[2 * PW_SALT] != '$' ||
	    !unhex(p + 2 * PW_SALT + 1, PW_HASH, want))
		return CW_EINVAL;
	int rc = pbkdf2(pw, len, salt, sizeof(salt), (uint32_t) iter, got);
	if (rc != 0)
		return rc;
	bool same = cw_sec_equal(got, want, PW_HASH);
	mbedtls_platform_zeroize(got, sizeof(got));
	return same ? 0 : CW_EAUTH;
}

bool
cw_sec_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x    = a;
	const volatile uint8_t *y    = b;
	uint8_t                 diff = 0;
	/* every byte compared, whatever the first says */
	for (size_t i = 0; i < n; i++)
		diff |= (uint8_t) (x[i] ^ y[i]);
	return diff == 0;
}

int
cw_sec_hmac(const uint8_t key[CW_SEC_MAC], const void *p, size_t n,
    uint8_t out[CW_SEC_MAC])
{
	const mbedtls_md_info_t *md =
	    mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	if (md == NULL || mbedtls_md_hmac(md, key, CW_SEC_MAC, p, n, out) != 0)
		return CW_EIO;
	return 0;
}
