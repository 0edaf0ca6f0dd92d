/*
 * schema.h - the C interface to Causeway's FlatBuffers messages.
 *
 * The schemas live in the .fbs files of schema/; flatc generates C++ from them
 * and schema.cc, the only C++ in the tree besides generated code, wraps it in
 * these functions. Every buffer from outside (a socket, a file, RocksDB)
 * goes through a decode function here, which runs flatbuffers::Verifier
 * before anything reads it.
 *
 * Transaction record (record.fbs): origin, seq, HLC commit time,
 * dependency vector, and effects (row key + CRDT operand each). The record
 * stored in the log column family and the record shipped to other DCs are
 * the same bytes.
 *
 * Threading: all functions are thread-safe; a cw_rec is owned by one
 * thread.
 */
#ifndef CW_SCHEMA_H
#define CW_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CW_SCHEMA_MAX_DEPS 64

typedef struct {
	const void *key;
	size_t      keylen;
	const void *op;
	size_t      oplen;
} cw_rec_effect;

/* A decoded record. Effects are read with cw_schema_rec_effect and borrow
 * from the decoded buffer (or from rec's own aligned copy of it). */
typedef struct {
	uint16_t    origin;
	uint64_t    seq;
	uint64_t    hlc;
	uint32_t    ndeps;
	uint64_t    deps[CW_SCHEMA_MAX_DEPS];
	size_t      neffects;
	const void *root_; /* private */
	void       *own_;  /* private: aligned copy, freed by _fini */
} cw_rec;

/* Encodes a record into out (appending). deps: ndeps (1..64) entries;
 * effs: n effects, borrowed. Returns 0, CW_EINVAL or CW_ENOMEM. */
int cw_schema_rec_encode(uint16_t origin, uint64_t seq, uint64_t hlc,
    const uint64_t *deps, uint32_t ndeps, const cw_rec_effect *effs, size_t n,
    cw_buf *out);

/* Verifies and decodes buf[0..len). buf must outlive rec unless it was
 * copied (rec then owns a copy). Returns 0, CW_EPROTO (not a valid
 * record: wrong identifier, truncated, bad offsets, too many deps) or
 * CW_ENOMEM. Call cw_schema_rec_fini on success. */
int cw_schema_rec_decode(const void *buf, size_t len, cw_rec *rec);
/* Effect i < rec->neffects. OUT: *e, borrowing from the record bytes. */
void cw_schema_rec_effect(const cw_rec *rec, size_t i, cw_rec_effect *e);
void cw_schema_rec_fini(cw_rec *rec);

#ifdef __cplusplus
}
#endif
#endif /* CW_SCHEMA_H */
