/*
 * causal.h - vector clocks and the hybrid logical clock (DESIGN section 3).
 *
 * A vector clock (cw_vc) has one entry per DC: v[k] = how many transactions
 * of origin k are included, contiguously. A DC's state vector S, a
 * transaction's dependency vector and a session's clock are all cw_vc.
 *
 * Wire form of a vector clock (cw_causal_vc_encode), little-endian:
 *
 *   | offset | size  | field                          |
 *   | 0      | 1     | n, the number of entries (1..64) |
 *   | 1      | 8 * n | v[0..n), u64 each              |
 *
 * The hybrid logical clock (HLC) is one u64: the upper 48 bits are
 * milliseconds of the realtime clock, the lower 16 a logical counter. It
 * only moves forward, past the wall clock and past every timestamp it has
 * observed, so a commit that causally follows another gets a larger time.
 *
 * Threading: the functions are pure; a cw_vc or cw_hlc is guarded by
 * whoever owns it (the DC's commit lock, a session's lock).
 */
#ifndef CW_CAUSAL_H
#define CW_CAUSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_MAX_DC 64

typedef struct {
	uint32_t n;            /* entries in use, 1..CW_MAX_DC */
	uint64_t v[CW_MAX_DC]; /* v[k] for k < n; the rest are 0 */
} cw_vc;

/* Order of two clocks. CONCURRENT means neither includes the other. */
enum { CW_VC_EQUAL, CW_VC_BEFORE, CW_VC_AFTER, CW_VC_CONCURRENT };

/* Sets vc to n zero entries. n must be 1..CW_MAX_DC. */
void cw_causal_vc_init(cw_vc *vc, uint32_t n);
/* Compares a with b; entries beyond a clock's n count as 0. */
int cw_causal_vc_compare(const cw_vc *a, const cw_vc *b);
/* True if a[k] >= b[k] for every k. */
bool cw_causal_vc_dominates(const cw_vc *a, const cw_vc *b);
/* a[k] = max(a[k], b[k]); a->n grows to b->n if smaller. */
void cw_causal_vc_merge(cw_vc *a, const cw_vc *b);
/* Bytes cw_causal_vc_encode writes: 1 + 8 * n. */
size_t cw_causal_vc_size(const cw_vc *vc);
/* Writes the wire form into out, which holds cw_causal_vc_size bytes. */
void cw_causal_vc_encode(const cw_vc *vc, uint8_t *out);
/* Reads the wire form. Returns 0, or CW_EPROTO if the bytes are not
 * exactly one clock. */
int cw_causal_vc_decode(cw_vc *vc, const void *buf, size_t len);
/* Formats vc as "[3,0,12]" into out (at most cap bytes, NUL-terminated). */
void cw_causal_vc_format(const cw_vc *vc, char *out, size_t cap);

typedef struct {
	uint64_t last; /* the largest time issued or observed */
} cw_hlc;

#define CW_HLC_LOGICAL_BITS 16

/* Returns a new time, larger than every earlier one and than now_ms. */
uint64_t cw_causal_hlc_tick(cw_hlc *h, uint64_t now_ms);
/* Moves the clock past a remote time ts. */
void cw_causal_hlc_observe(cw_hlc *h, uint64_t ts);
/* The physical milliseconds of an HLC time. */
static inline uint64_t
cw_causal_hlc_ms(uint64_t ts)
{
	return ts >> CW_HLC_LOGICAL_BITS;
}

#endif /* CW_CAUSAL_H */
