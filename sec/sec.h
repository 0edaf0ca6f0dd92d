/*
 * sec.h - a DC's identity in its deployment: certificates, TLS
 * configurations for nng, and the proof that binds a replication
 * connection to one DC id (DESIGN section 1, guarantee 10;
 * docs/security.md).
 *
 * A deployment has one CA. Each DC holds a certificate signed by it that
 * names "dc-<ID>" (a DNS subject alternative name, or the common name of
 * a certificate without SANs: mbedTLS's rule, which the TLS handshake
 * applies too) and the certificate's private key.
 *
 * Between DCs, TLS is mutual (nng's tls+tcp transport): the listener takes
 * only certificates of the deployment CA, and the dialer takes only a
 * listener whose certificate names the DC id it dials. nng 1.5 does not
 * tell a listener which certificate a connection presented, so the
 * listener learns the sender's id in band: on a new connection it answers
 * the first batch with CW_EAUTH and a random nonce; the sender's next
 * batch carries its certificate chain and a signature, with the key of
 * that certificate, over
 *
 *     "causeway-peer-proof-v1" || fingerprint || from || to || nonce
 *
 * (fingerprint LE64, ids LE16). cw_sec_proof_check accepts it only if the
 * chain verifies against the CA, names dc-<from>, and the signature is
 * good; `to` stops a member from relaying a proof meant for itself, the
 * nonce stops a replay. The connection is then bound to `from` until it
 * closes.
 *
 * Threading: a cw_sec is immutable after cw_sec_load except for the
 * signing key's lazily built tables, which sign_mu guards; every function
 * is thread-safe.
 */
#ifndef CW_SEC_H
#define CW_SEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct cw_sec cw_sec;

#define CW_SEC_NONCE 32

/* Loads the certificate chain (PEM, own certificate first), its private
 * key (PEM, unencrypted) and the deployment CA (PEM). Checks that the key
 * belongs to the certificate and that the certificate verifies against
 * the CA now. OUT: *out. Returns 0, CW_ENOMEM, or CW_EINVAL (a file is
 * missing or unreadable, not PEM, the pair does not match, or the
 * certificate is expired or of another CA: logged, with the file). */
int  cw_sec_load(cw_sec **out, const char *cert_file, const char *key_file,
     const char *ca_file);
void cw_sec_free(cw_sec *s);

/* True when s's own certificate names `name` (e.g. "dc-2") and verifies
 * against the CA. */
bool cw_sec_names(const cw_sec *s, const char *name);

/* nng TLS configurations (nng_tls_config *, returned as void * so that
 * this header does not need nng's). A server one requires a client
 * certificate of the CA; a client one requires the server's certificate
 * to name server_name. OUT: *cfg, released with cw_sec_nng_free once set
 * on a listener or dialer (they hold their own reference). Returns 0,
 * CW_ENOMEM or CW_EINVAL (logged). */
int  cw_sec_nng_server(const cw_sec *s, void **cfg);
int  cw_sec_nng_client(const cw_sec *s, const char *server_name, void **cfg);
void cw_sec_nng_free(void *cfg);

/* Fills buf with n bytes from the kernel's CSPRNG. Returns 0 or CW_EIO. */
int cw_sec_random(void *buf, size_t n);

/* The DER encodings of s's own chain, own certificate first. OUT: *ders,
 * *lens (borrowed from s), *n. */
void cw_sec_chain(
    const cw_sec *s, const void *const **ders, const size_t **lens, size_t *n);

/* OUT: sig (owned by the caller: cw_buf_fini), the proof that s is DC
 * `from` to DC `to` for the challenge nonce. Returns 0, CW_ENOMEM or
 * CW_EIO (the key cannot sign). */
int cw_sec_proof_make(cw_sec *s, uint64_t fingerprint, uint16_t from,
    uint16_t to, const uint8_t nonce[CW_SEC_NONCE], cw_buf *sig);

/* Checks a proof received by DC `to` (s is its identity): chain
 * (ders[i], lens[i], own certificate first) verifies against s's CA,
 * names dc-<from>, and sig is its key's signature. Returns 0, CW_ENOMEM,
 * or CW_EAUTH (OUT: why, a static string for the log). */
int cw_sec_proof_check(const cw_sec *s, const void *const *ders,
    const size_t *lens, size_t n, uint64_t fingerprint, uint16_t from,
    uint16_t to, const uint8_t nonce[CW_SEC_NONCE], const void *sig,
    size_t siglen, const char **why);

/*
 * TLS sessions for the client links (causewayd's server/wire.c and the
 * SDK's client/net.c), which run their own non-blocking sockets and event
 * loops: mbedTLS with the socket as its BIO (send with MSG_NOSIGNAL, so a
 * closed peer never raises SIGPIPE in an application).
 *
 * A cw_tls_conf is immutable once made and shared by every session of
 * it. A cw_tls is used by one thread at a time (the caller's lock).
 */
typedef struct cw_tls_conf cw_tls_conf;
typedef struct cw_tls      cw_tls;

/* Not CW_E* codes: what a session needs before it can go on. */
enum { CW_TLS_WANT_READ = 1, CW_TLS_WANT_WRITE = 2 };

/* A server configuration with s's certificate and key (TLS 1.2). OUT:
 * *out. Returns 0, CW_ENOMEM or CW_EINVAL (logged). */
int cw_tls_conf_server(cw_tls_conf **out, const cw_sec *s);
/* A client configuration that trusts the CA in ca_file and, when
 * cert_file and key_file are given, presents that certificate. OUT:
 * *out. Returns 0, CW_ENOMEM or CW_EINVAL (a file missing or not PEM, the
 * pair not matching; logged). */
int  cw_tls_conf_client(cw_tls_conf **out, const char *ca_file,
     const char *cert_file, const char *key_file);
void cw_tls_conf_free(cw_tls_conf *c);

/* A session on the connected non-blocking socket fd (which the caller
 * keeps and closes); a client verifies that the server's certificate
 * names server_name. OUT: *out. Returns 0 or CW_ENOMEM. */
int cw_tls_new(
    cw_tls **out, const cw_tls_conf *c, int fd, const char *server_name);
void cw_tls_free(cw_tls *t);

/* Advances the handshake. Returns 0 once it is done, CW_TLS_WANT_READ or
 * CW_TLS_WANT_WRITE (wait for the socket, call again), CW_EAUTH (the
 * other side's certificate does not verify, or it refused ours),
 * CW_EUNAVAIL (the peer closed) or CW_EPROTO (it does not speak TLS).
 * OUT: *why, for the log, on an error. */
int cw_tls_handshake(cw_tls *t, const char **why);
/* Reads up to cap bytes of plaintext. OUT: *got > 0 on 0. Returns 0,
 * CW_TLS_WANT_READ, CW_TLS_WANT_WRITE, CW_EUNAVAIL (the peer closed or
 * reset) or CW_EPROTO (a bad record). */
int cw_tls_read(cw_tls *t, void *p, size_t cap, size_t *got);
/* Bytes already decrypted and waiting for cw_tls_read: the socket may
 * show nothing to read while these are there. */
size_t cw_tls_pending_in(const cw_tls *t);
/* Takes up to n bytes (at most one record) to send. OUT: *took > 0 on 0:
 * those bytes are the session's now, even if the socket has not taken
 * all of the record yet (cw_tls_pending_out; cw_tls_flush sends the
 * rest, and so does the next cw_tls_write). Returns 0, CW_TLS_WANT_WRITE
 * (a record is still on its way: nothing taken), CW_EUNAVAIL or
 * CW_EPROTO. */
int cw_tls_write(cw_tls *t, const void *p, size_t n, size_t *took);
/* Sends what is left of the last record. Returns 0 (nothing left),
 * CW_TLS_WANT_WRITE or CW_EUNAVAIL. */
int  cw_tls_flush(cw_tls *t);
bool cw_tls_pending_out(const cw_tls *t);

/*
 * Password hashes, for the users of issue 17 (docs/security.md): PBKDF2-
 * HMAC-SHA256 (mbedTLS) with a 16-byte random salt, written as
 *
 *     pbkdf2-sha256$ITERATIONS$SALT$HASH     (salt and hash in hex)
 *
 * Nothing stores or compares a password in the clear; cw_pw_verify
 * compares in constant time.
 */
#define CW_PW_ITER 600000 /* OWASP's figure for PBKDF2-HMAC-SHA256 */
#define CW_PW_MAX 160     /* bytes of an encoded hash, with its NUL */
/* OUT: out[0..CW_PW_MAX), the encoded hash of pw[0..len) with iter
 * iterations (0: CW_PW_ITER). Returns 0, CW_EINVAL (iter above
 * 10,000,000) or CW_EIO (no randomness). */
int cw_pw_hash(const char *pw, size_t len, uint32_t iter, char out[CW_PW_MAX]);
/* Returns 0 when pw matches the encoded hash, CW_EAUTH when it does not,
 * CW_EINVAL when `encoded` is not a hash of this format. */
int cw_pw_verify(const char *pw, size_t len, const char *encoded);

#define CW_SEC_MAC 32 /* bytes of an HMAC-SHA256 and of its key */
/* OUT: out, HMAC-SHA256 of p[0..n) under key. Returns 0 or CW_EIO. */
int cw_sec_hmac(const uint8_t key[CW_SEC_MAC], const void *p, size_t n,
    uint8_t out[CW_SEC_MAC]);
/* Whether a[0..n) equals b[0..n), in time that depends on n only. */
bool cw_sec_equal(const void *a, const void *b, size_t n);

#endif /* CW_SEC_H */
