/*
 * causal.c - vector clocks and the hybrid logical clock; see causal.h.
 */
#include "causal.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

void
cw_causal_vc_init(cw_vc *vc, uint32_t n)
{
	memset(vc, 0, sizeof(*vc));
	vc->n = n;
}

static uint32_t
max_n(const cw_vc *a, const cw_vc *b)
{
	return a->n > b->n ? a->n : b->n;
}

int
cw_causal_vc_compare(const cw_vc *a, const cw_vc *b)
{
	bool less = false;
	bool more = false;
	/* Entries past n are kept at zero, so a loop to max n is exact. */
	for (uint32_t k = 0; k < max_n(a, b); k++) {
		if (a->v[k] < b->v[k])
			less = true;
		else if (a->v[k] > b->v[k])
			more = true;
	}
	if (less && more)
		return CW_VC_CONCURRENT;
	if (less)
		return CW_VC_BEFORE;
	if (more)
		return CW_VC_AFTER;
	return CW_VC_EQUAL;
}

bool
cw_causal_vc_dominates(const cw_vc *a, const cw_vc *b)
{
	for (uint32_t k = 0; k < max_n(a, b); k++)
		if (a->v[k] < b->v[k])
			return false;
	return true;
}

void
cw_causal_vc_merge(cw_vc *a, const cw_vc *b)
{
	for (uint32_t k = 0; k < b->n; k++)
		if (b->v[k] > a->v[k])
			a->v[k] = b->v[k];
	if (b->n > a->n)
		a->n = b->n;
}

size_t
cw_causal_vc_size(const cw_vc *vc)
{
	return 1 + 8 * (size_t) vc->n;
}

void
cw_causal_vc_encode(const cw_vc *vc, uint8_t *out)
{
	out[0] = (uint8_t) vc->n;
	for (uint32_t k = 0; k < vc->n; k++)
		cw_st_u64(out + 1 + 8 * k, vc->v[k]);
}

int
cw_causal_vc_decode(cw_vc *vc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (buf == NULL || len < 1)
		return CW_EPROTO;
	uint32_t n = p[0];
	if (n < 1 || n > CW_MAX_DC || len != 1 + 8 * (size_t) n)
		return CW_EPROTO;
	cw_causal_vc_init(vc, n);
	for (uint32_t k = 0; k < n; k++)
		vc->v[k] = cw_ld_u64(p + 1 + 8 * k);
	return 0;
}

void
cw_causal_vc_format(const cw_vc *vc, char *out, size_t cap)
{
	size_t off = 0;
	if (cap == 0)
		return;
	out[0] = '\0';
	for (uint32_t k = 0; k < vc->n && off < cap; k++) {
		int w = snprintf(out + off, cap - off, "%s%llu", k ? "," : "[",
		    (unsigned long long) vc->v[k]);
		if (w < 0)
			return;
		off += (size_t) w;
	}
	if (off < cap)
		snprintf(out + off, cap - off, "]");
}

uint64_t
cw_causal_hlc_tick(cw_hlc *h, uint64_t now_ms)
{
	uint64_t phys = now_ms << CW_HLC_LOGICAL_BITS;
	h->last       = phys > h->last ? phys : h->last + 1;
	return h->last;
}

void
cw_causal_hlc_observe(cw_hlc *h, uint64_t ts)
{
	if (ts > h->last)
		h->last = ts;
}
