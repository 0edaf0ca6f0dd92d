/*
 * peer_seed.c - writes the starting corpus of the peer fuzzer
 * (peer_fuzz.c) into a directory: a heartbeat, a batch with a record and
 * a want, one with a genuine proof of DC 1 (for a nonce the fuzzer will
 * not know), acks with and without a state vector and a challenge.
 *
 *   fuzz_peer_seed DIR    (the certificates come from tools/certs.sh or
 *                          $CW_CERTS_SH)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcproc.h"
#include "lab.h"
#include "replica.h"
#include "schema.h"
#include "sec.h"

static int
emit(const char *dir, const char *name, const cw_buf *b)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/peer-%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(b->p, 1, b->len, f) != b->len) {
		perror(path);
		return 1;
	}
	fclose(f);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_peer_seed DIR\n");
		return 2;
	}
	char    *tmp   = lab_tmpdir("cwpeerseed"), crt[300], key[300], ca[300];
	cw_sec  *s     = NULL;
	uint64_t st[3] = { 4, 1, 7 },
	         fp    = cw_replica_fingerprint("causeway", 3);
	uint8_t nonce[CW_SEC_NONCE] = { 9 };
	cw_buf  b = { 0 }, sig = { 0 };
	int     bad = 0;
	snprintf(crt, sizeof(crt), "%s/dc-1.crt", tmp);
	snprintf(key, sizeof(key), "%s/dc-1.key", tmp);
	snprintf(ca, sizeof(ca), "%s/ca.crt", tmp);
	if (lab_certs(tmp, 2, false, NULL) != 0 ||
	    cw_sec_load(&s, crt, key, ca) != 0) {
		fprintf(stderr, "fuzz_peer_seed: no certificates\n");
		return 1;
	}
	const void   *rec = "not really a record";
	size_t        rl  = 19;
	cw_batch_want w   = { "stock", 5, 3, 42, false };
	bad |= cw_schema_batch_encode(
	           1, fp, st, 3, NULL, NULL, 0, NULL, 0, NULL, &b) ||
	    emit(argv[1], "heartbeat", &b);
	b.len = 0;
	bad |= cw_schema_batch_encode(
	           1, fp, st, 3, &rec, &rl, 1, &w, 1, NULL, &b) ||
	    emit(argv[1], "records", &b);
	cw_batch_auth auth;
	cw_sec_chain(s, &auth.ders, &auth.lens, &auth.n);
	bad |= cw_sec_proof_make(s, fp, 1, 0, nonce, &sig);
	auth.sig    = sig.p;
	auth.siglen = sig.len;
	b.len       = 0;
	bad |= cw_schema_batch_encode(
	           1, fp, st, 3, &rec, &rl, 1, NULL, 0, &auth, &b) ||
	    emit(argv[1], "proof", &b);
	b.len = 0;
	bad |= cw_schema_ack_encode(0, 2, st, 3, NULL, &b) ||
	    emit(argv[1], "ack", &b);
	b.len = 0;
	bad |= cw_schema_ack_encode(CW_EAUTH, 2, NULL, 0, nonce, &b) ||
	    emit(argv[1], "challenge", &b);
	cw_buf_fini(&b);
	cw_buf_fini(&sig);
	cw_sec_free(s);
	lab_rmrf(tmp);
	free(tmp);
	return bad ? 1 : 0;
}
