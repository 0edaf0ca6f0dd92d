/*
 * sec_test.c - sec.h on real certificates made by tools/certs.sh: what
 * cw_sec_load accepts and refuses, and that a proof of identity holds
 * only for its signer's DC id, its receiver, its nonce and its
 * deployment.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/x509_crt.h>

#include "dcproc.h"
#include "sec.h"
#include "util.h"

typedef struct {
	char *tmp;
	char  ca[300], other_ca[300];
} fx;

static char *
path(const fx *f, const char *sub, const char *name)
{
	static char buf[8][400];
	static int  next;
	char       *b = buf[next++ % 8];
	snprintf(b, sizeof(buf[0]), "%s/%s/%s", f->tmp, sub, name);
	return b;
}

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->tmp = lab_tmpdir("cwsec");
	char d[300], cmd[1000];
	snprintf(d, sizeof(d), "%s/a", f->tmp);
	const char *more[] = { "dc-9", NULL };
	if (lab_certs(d, 3, false, more) != 0)
		return -1;
	snprintf(d, sizeof(d), "%s/b", f->tmp);
	if (lab_certs(d, 3, false, NULL) != 0)
		return -1;
	/* expired certificates of CA a */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/old && cp %s/a/ca.* %s/old/",
	    f->tmp, f->tmp, f->tmp);
	if (system(cmd) != 0)
		return -1;
	snprintf(d, sizeof(d), "%s/old", f->tmp);
	const char *names[] = { "dc-1", NULL };
	if (lab_certs(d, 0, true, names) != 0)
		return -1;
	snprintf(f->ca, sizeof(f->ca), "%s/a/ca.crt", f->tmp);
	snprintf(f->other_ca, sizeof(f->other_ca), "%s/b/ca.crt", f->tmp);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	lab_rmrf(f->tmp);
	free(f->tmp);
	free(f);
	return 0;
}

static cw_sec *
load(const fx *f, const char *sub, const char *name, const char *ca)
{
	char crt[64], key[64];
	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	cw_sec *s  = NULL;
	int     rc = cw_sec_load(&s, path(f, sub, crt), path(f, sub, key), ca);
	return rc == 0 ? s : NULL;
}

static void
load_accepts_a_pair_of_the_ca_and_refuses_the_rest(void **state)
{
	fx     *f = *state;
	cw_sec *s = load(f, "a", "dc-1", f->ca);
	assert_non_null(s);
	assert_true(cw_sec_names(s, "dc-1"));
	assert_false(cw_sec_names(s, "dc-2"));
	assert_false(cw_sec_names(s, "dc-10"));
	cw_sec_free(s);
	/* another CA's certificate; an expired one; a key of another
	 * certificate; a missing file; a file that is not PEM */
	assert_null(load(f, "b", "dc-1", f->ca));
	assert_null(load(f, "old", "dc-1", f->ca));
	assert_int_equal(cw_sec_load(&s, path(f, "a", "dc-1.crt"),
	                     path(f, "a", "dc-2.key"), f->ca),
	    CW_EINVAL);
	assert_int_equal(cw_sec_load(&s, path(f, "a", "nope.crt"),
	                     path(f, "a", "dc-1.key"), f->ca),
	    CW_EINVAL);
	assert_int_equal(cw_sec_load(&s, path(f, "a", "dc-1.crt"),
	                     path(f, "a", "dc-1.key"), "/dev/null"),
	    CW_EINVAL);
	assert_null(s);
}

static void
a_proof_holds_for_its_signer_receiver_nonce_and_deployment(void **state)
{
	fx                *f  = *state;
	cw_sec            *me = load(f, "a", "dc-0", f->ca); /* the receiver */
	cw_sec            *p1 = load(f, "a", "dc-1", f->ca);
	cw_sec            *p2 = load(f, "a", "dc-2", f->ca);
	cw_sec            *cl = load(f, "a", "client", f->ca);
	cw_sec            *ot = load(f, "b", "dc-1", f->other_ca);
	uint8_t            nonce[CW_SEC_NONCE], other[CW_SEC_NONCE];
	cw_buf             sig = { 0 };
	const char        *why;
	const void *const *ders;
	const size_t      *lens;
	size_t             n;
	assert_non_null(me);
	assert_non_null(p1);
	assert_non_null(p2);
	assert_non_null(cl);
	assert_non_null(ot);
	assert_int_equal(cw_sec_random(nonce, sizeof(nonce)), 0);
	assert_int_equal(cw_sec_random(other, sizeof(other)), 0);
	assert_memory_not_equal(nonce, other, sizeof(nonce));
	/* DC 1 to DC 0: good */
	assert_int_equal(cw_sec_proof_make(p1, 42, 1, 0, nonce, &sig), 0);
	cw_sec_chain(p1, &ders, &lens, &n);
	assert_int_equal(n, 1);
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 42, 1, 0, nonce,
	                     sig.p, sig.len, &why),
	    0);
	assert_null(why);
	/* the same proof for another claim, receiver, nonce, deployment */
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 42, 2, 0, nonce,
	                     sig.p, sig.len, &why),
	    CW_EAUTH);
	assert_string_equal(why, "a certificate that names another DC");
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 42, 1, 2, nonce,
	                     sig.p, sig.len, &why),
	    CW_EAUTH);
	assert_string_equal(why, "a bad signature");
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 42, 1, 0, other,
	                     sig.p, sig.len, &why),
	    CW_EAUTH);
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 43, 1, 0, nonce,
	                     sig.p, sig.len, &why),
	    CW_EAUTH);
	/* one flipped bit; a truncated signature */
	sig.p[sig.len / 2] ^= 1;
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 42, 1, 0, nonce,
	                     sig.p, sig.len, &why),
	    CW_EAUTH);
	sig.p[sig.len / 2] ^= 1;
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 42, 1, 0, nonce,
	                     sig.p, sig.len - 1, &why),
	    CW_EAUTH);
	/* DC 1's certificate with DC 2's signature */
	cw_buf s2 = { 0 };
	assert_int_equal(cw_sec_proof_make(p2, 42, 1, 0, nonce, &s2), 0);
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 42, 1, 0, nonce,
	                     s2.p, s2.len, &why),
	    CW_EAUTH);
	assert_string_equal(why, "a bad signature");
	/* the client's certificate (of the CA, but no DC) */
	assert_int_equal(cw_sec_proof_make(cl, 42, 1, 0, nonce, &s2), 0);
	cw_sec_chain(cl, &ders, &lens, &n);
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 42, 1, 0, nonce,
	                     s2.p, s2.len, &why),
	    CW_EAUTH);
	/* dc-1 of another CA, with its own good signature */
	assert_int_equal(cw_sec_proof_make(ot, 42, 1, 0, nonce, &s2), 0);
	cw_sec_chain(ot, &ders, &lens, &n);
	assert_int_equal(cw_sec_proof_check(me, ders, lens, n, 42, 1, 0, nonce,
	                     s2.p, s2.len, &why),
	    CW_EAUTH);
	assert_string_equal(why, "a certificate of another CA");
	/* no chain; a chain of garbage */
	assert_int_equal(cw_sec_proof_check(me, NULL, NULL, 0, 42, 1, 0, nonce,
	                     s2.p, s2.len, &why),
	    CW_EAUTH);
	const void  *junk[] = { "not a certificate" };
	const size_t jl[]   = { 17 };
	assert_int_equal(cw_sec_proof_check(me, junk, jl, 1, 42, 1, 0, nonce,
	                     s2.p, s2.len, &why),
	    CW_EAUTH);
	assert_string_equal(why, "a certificate that does not parse");
	cw_buf_fini(&sig);
	cw_buf_fini(&s2);
	cw_sec_free(me);
	cw_sec_free(p1);
	cw_sec_free(p2);
	cw_sec_free(cl);
	cw_sec_free(ot);
}

static void
an_expired_certificate_proves_nothing(void **state)
{
	fx              *f  = *state;
	cw_sec          *me = load(f, "a", "dc-0", f->ca);
	mbedtls_x509_crt old;
	uint8_t          nonce[CW_SEC_NONCE] = { 0 };
	const char      *why;
	assert_non_null(me);
	/* as a receiver meets it: the DER a sender ships (the signature is
	 * never looked at: the certificate fails first) */
	mbedtls_x509_crt_init(&old);
	assert_int_equal(
	    mbedtls_x509_crt_parse_file(&old, path(f, "old", "dc-1.crt")), 0);
	const void  *ders[] = { old.raw.p };
	const size_t lens[] = { old.raw.len };
	assert_int_equal(cw_sec_proof_check(me, ders, lens, 1, 42, 1, 0, nonce,
	                     "sig", 3, &why),
	    CW_EAUTH);
	assert_string_equal(why, "an expired certificate");
	mbedtls_x509_crt_free(&old);
	cw_sec_free(me);
}

static void
password_hashes_verify_only_their_password(void **state)
{
	(void) state;
	char a[CW_PW_MAX], b[CW_PW_MAX];
	assert_int_equal(cw_pw_hash("s3cret", 6, 1000, a), 0);
	assert_int_equal(cw_pw_hash("s3cret", 6, 1000, b), 0);
	assert_string_not_equal(a, b); /* salted */
	assert_int_equal(strncmp(a, "pbkdf2-sha256$1000$", 19), 0);
	assert_null(strstr(a, "s3cret"));
	assert_int_equal(cw_pw_verify("s3cret", 6, a), 0);
	assert_int_equal(cw_pw_verify("s3cret", 6, b), 0);
	assert_int_equal(cw_pw_verify("s3creT", 6, a), CW_EAUTH);
	assert_int_equal(cw_pw_verify("s3cre", 5, a), CW_EAUTH);
	assert_int_equal(cw_pw_verify("", 0, a), CW_EAUTH);
	/* a password with a NUL in it is all of its bytes */
	assert_int_equal(cw_pw_hash("a\0b", 3, 1000, a), 0);
	assert_int_equal(cw_pw_verify("a\0b", 3, a), 0);
	assert_int_equal(cw_pw_verify("a", 1, a), CW_EAUTH);
	/* malformed: another scheme, a bad count, short or non-hex parts */
	const char *bad[] = { "", "sha1$1$00$00", "pbkdf2-sha256$0$",
		"pbkdf2-sha256$x$", "pbkdf2-sha256$1000$00$00",
		"pbkdf2-sha256$99999999999$", NULL };
	for (int i = 0; bad[i] != NULL; i++)
		assert_int_equal(cw_pw_verify("x", 1, bad[i]), CW_EINVAL);
	char m[CW_PW_MAX];
	snprintf(m, sizeof(m), "%s", a);
	m[strlen(m) - 1] = 'g';
	assert_int_equal(cw_pw_verify("a\0b", 3, m), CW_EINVAL);
	assert_int_equal(cw_pw_hash("x", 1, 20000000, a), CW_EINVAL);
}

/* A known answer, computed apart from mbedTLS (Python's
 * hashlib.pbkdf2_hmac("sha256", b"correct horse", bytes(range(16)),
 * 1000)): the format's hash is PBKDF2-HMAC-SHA256 with that count. */
static void
pbkdf2_gives_the_known_answer(void **state)
{
	(void) state;
	const char *e =
	    "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$"
	    "c914cc4f06cc6e8f46d157e3a1b5aa7abceebb17bb0444cd4c4ac16c"
	    "a2ae9864";
	assert_int_equal(cw_pw_verify("correct horse", 13, e), 0);
	assert_int_equal(cw_pw_verify("correct horsf", 13, e), CW_EAUTH);
	/* the same bytes with another count are another hash */
	const char *e2 =
	    "pbkdf2-sha256$999$000102030405060708090a0b0c0d0e0f$"
	    "c914cc4f06cc6e8f46d157e3a1b5aa7abceebb17bb0444cd4c4ac1"
	    "6ca2ae9864";
	assert_int_equal(cw_pw_verify("correct horse", 13, e2), CW_EAUTH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    load_accepts_a_pair_of_the_ca_and_refuses_the_rest),
		cmocka_unit_test(
		    a_proof_holds_for_its_signer_receiver_nonce_and_deployment),
		cmocka_unit_test(an_expired_certificate_proves_nothing),
		cmocka_unit_test(password_hashes_verify_only_their_password),
		cmocka_unit_test(pbkdf2_gives_the_known_answer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
