/*
 * peer_fuzz.c - libFuzzer target for what a DC reads from another DC's
 * connection: the batch decoder (the FlatBuffers verifier) and every part
 * of a batch it hands out (records, wants, certificates), the ack
 * decoder, and the proof check on the certificate chain a batch carries
 * (mbedTLS's X.509 parser and signature check on bytes from outside).
 * Nothing may crash, leak or trip a sanitizer, and no proof may verify:
 * it would have to sign a nonce drawn at random when this process
 * started.
 *
 *   make fuzz                     bounded runs of both targets
 *   build/tests/fuzz_peer_replay FILES   replays inputs without libFuzzer
 *                                 (make test replays the seeds)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dcproc.h"
#include "lab.h"
#include "schema.h"
#include "sec.h"

static cw_sec *me;
static char   *dir;
static uint8_t nonce[CW_SEC_NONCE];

static void
done(void)
{
	cw_sec_free(me);
	lab_rmrf(dir);
	free(dir);
}

static void
init(void)
{
	char crt[300], key[300], ca[300];
	cw_log_set_level(CW_LOG_ERROR);
	dir = lab_tmpdir("cwpeerfuzz");
	snprintf(crt, sizeof(crt), "%s/dc-0.crt", dir);
	snprintf(key, sizeof(key), "%s/dc-0.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	if (lab_certs(dir, 2, false, NULL) != 0 ||
	    cw_sec_load(&me, crt, key, ca) != 0 ||
	    cw_sec_random(nonce, sizeof(nonce)) != 0)
		abort();
	atexit(done);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cw_batch b;
	if (me == NULL)
		init();
	if (cw_schema_batch_decode(data, size, &b) == 0) {
		const void   *ders[8];
		size_t        lens[8], total = 0;
		const void   *p;
		size_t        len;
		cw_batch_want w;
		for (size_t i = 0; i < b.nrecs; i++) {
			cw_schema_batch_rec(&b, i, &p, &len);
			total += len;
		}
		for (size_t i = 0; i < b.nwants; i++) {
			cw_schema_batch_want(&b, i, &w);
			total += w.kl;
		}
		for (size_t i = 0; i < b.nchain && i < 8; i++)
			cw_schema_batch_cert(&b, i, &ders[i], &lens[i]);
		if (total > size)
			abort(); /* parts beyond the buffer */
		const char *why;
		if (b.nchain > 0 && b.nchain <= 8 && b.proof != NULL &&
		    cw_sec_proof_check(me, ders, lens, b.nchain, b.fingerprint,
		        b.from, 0, nonce, b.proof, b.prooflen, &why) == 0)
			abort(); /* a forged proof verified */
		cw_schema_batch_fini(&b);
	}
	int      err;
	uint16_t dc;
	uint64_t st[CW_SCHEMA_MAX_DEPS];
	uint32_t n;
	uint8_t  nc[CW_SCHEMA_NONCE];
	bool     has;
	if (cw_schema_ack_decode(data, size, &err, &dc, st, &n, nc, &has) ==
	        0 &&
	    n > CW_SCHEMA_MAX_DEPS)
		abort();
	return 0;
}
