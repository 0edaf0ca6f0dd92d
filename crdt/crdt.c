/*
 * crdt.c - operands, states and the merge fold; see crdt.h for the byte
 * formats and the merge rule of every type.
 *
 * cw_crdt_merge decodes the existing state into a struct st whose value
 * and element pointers borrow from the caller's buffers (the state and the
 * operands outlive the call), applies every operand, and encodes the
 * result. Only the arrays of a bcounter and a set are allocated.
 */
#include "crdt.h"

#include <stdlib.h>

struct bc_r {
	uint16_t i, j;
	uint64_t n;
};
struct bc_u {
	uint16_t i;
	uint64_t n;
};
struct selem {
	const uint8_t *e;
	size_t         el;
	cw_tag        *tags;
	uint32_t       nt, cap;
};

typedef struct {
	int type;
	int otype; /* typemark: the object type */
	/* reg, field */
	bool           present;
	uint64_t       hlc;
	uint16_t       dc;
	const uint8_t *v;
	size_t         vl;
	/* counter */
	uint64_t sum;
	/* bcounter */
	struct bc_r *r;
	size_t       nr, rcap;
	struct bc_u *u;
	size_t       nu, ucap;
	/* set */
	struct selem *el;
	size_t        ne, ecap;
} st;

const char *
cw_crdt_type_name(int type)
{
	static const char *names[] = { "none", "reg", "counter", "bcounter",
		"set", "map", "field", "typemark" };
	if (type < 0 || type > CW_T_TYPE)
		return "unknown";
	return names[type];
}

int
cw_crdt_type_of(const void *p, size_t len)
{
	if (p == NULL || len < 1)
		return CW_EPROTO;
	uint8_t t = *(const uint8_t *) p;
	if (t < CW_T_REG || t > CW_T_TYPE)
		return CW_EPROTO;
	return t;
}

/* ---- operand builders ---- */

int
cw_crdt_op_reg(cw_buf *out, int type, int kind, uint64_t hlc, uint16_t dc,
    const void *v, size_t vl)
{
	int rc;
	if ((rc = cw_buf_reserve(out, 16 + vl)) != 0)
		return rc;
	cw_buf_u8(out, (uint8_t) type);
	cw_buf_u8(out, (uint8_t) kind);
	cw_buf_u64(out, hlc);
	cw_buf_u16(out, dc);
	cw_buf_u32(out, (uint32_t) vl);
	return cw_buf_put(out, v, vl);
}

int
cw_crdt_op_counter(cw_buf *out, int64_t delta)
{
	int rc;
	if ((rc = cw_buf_reserve(out, 10)) != 0)
		return rc;
	cw_buf_u8(out, CW_T_COUNTER);
	cw_buf_u8(out, CW_OP_ADD);
	return cw_buf_u64(out, (uint64_t) delta);
}

int
cw_crdt_op_bcounter(cw_buf *out, int kind, uint16_t a, uint16_t b, uint64_t n)
{
	int rc;
	if ((rc = cw_buf_reserve(out, 14)) != 0)
		return rc;
	cw_buf_u8(out, CW_T_BCOUNTER);
	cw_buf_u8(out, (uint8_t) kind);
	cw_buf_u16(out, a);
	cw_buf_u16(out, b);
	return cw_buf_u64(out, n);
}

static void
tag_put(uint8_t *p, cw_tag t)
{
	cw_st_u16(p, t.dc);
	cw_st_u64(p + 2, t.seq);
	p[10] = (uint8_t) t.idx;
	p[11] = (uint8_t) (t.idx >> 8);
	p[12] = (uint8_t) (t.idx >> 16);
	p[13] = (uint8_t) (t.idx >> 24);
}

static cw_tag
tag_get(const uint8_t *p)
{
	cw_tag t;
	t.dc  = (uint16_t) (p[0] | (p[1] << 8));
	t.seq = cw_ld_u64(p + 2);
	t.idx = (uint32_t) p[10] | ((uint32_t) p[11] << 8) |
	    ((uint32_t) p[12] << 16) | ((uint32_t) p[13] << 24);
	return t;
}

static int
tag_cmp(const cw_tag *a, const cw_tag *b)
{
	if (a->dc != b->dc)
		return a->dc < b->dc ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	if (a->idx != b->idx)
		return a->idx < b->idx ? -1 : 1;
	return 0;
}

int
cw_crdt_op_set_add(cw_buf *out, cw_tag tag, const void *e, size_t el)
{
	int     rc;
	uint8_t t[CW_CRDT_TAG_SIZE];
	if ((rc = cw_buf_reserve(out, 2 + CW_CRDT_TAG_SIZE + 4 + el)) != 0)
		return rc;
	cw_buf_u8(out, CW_T_SET);
	cw_buf_u8(out, CW_OP_ADD);
	tag_put(t, tag);
	cw_buf_put(out, t, sizeof(t));
	cw_buf_u32(out, (uint32_t) el);
	return cw_buf_put(out, e, el);
}

int
cw_crdt_op_set_rem(
    cw_buf *out, const void *e, size_t el, const uint8_t *tags, uint32_t ntags)
{
	int    rc;
	size_t tl = (size_t) ntags * CW_CRDT_TAG_SIZE;
	if ((rc = cw_buf_reserve(out, 2 + 4 + el + 4 + tl)) != 0)
		return rc;
	cw_buf_u8(out, CW_T_SET);
	cw_buf_u8(out, CW_OP_REM);
	cw_buf_u32(out, (uint32_t) el);
	cw_buf_put(out, e, el);
	cw_buf_u32(out, ntags);
	return cw_buf_put(out, tags, tl);
}

int
cw_crdt_op_type(cw_buf *out, int type)
{
	int rc;
	if ((rc = cw_buf_u8(out, CW_T_TYPE)) != 0)
		return rc;
	return cw_buf_u8(out, (uint8_t) type);
}

void
cw_crdt_op_stamp(
    uint8_t *op, size_t len, uint64_t hlc, uint16_t dc, uint64_t seq)
{
	if (len < 2)
		return;
	if ((op[0] == CW_T_REG || op[0] == CW_T_FIELD) && len >= 12) {
		cw_st_u64(op + 2, hlc);
		cw_st_u16(op + 10, dc);
	} else if (op[0] == CW_T_SET && op[1] == CW_OP_ADD &&
	    len >= 2 + CW_CRDT_TAG_SIZE) {
		cw_st_u16(op + 2, dc);
		cw_st_u64(op + 4, seq);
	}
}

/* ---- operand parsing ---- */

typedef struct {
	int            type;
	int            kind;
	uint64_t       hlc;  /* reg, field */
	uint16_t       dc;   /* reg, field */
	uint16_t       a, b; /* bcounter */
	uint64_t       n;    /* counter delta, bcounter amount */
	cw_tag         tag;  /* set add */
	const uint8_t *v;    /* value or element */
	size_t         vl;
	const uint8_t *tags; /* set remove */
	uint32_t       ntags;
} opv;

static int
op_parse(const void *buf, size_t len, opv *o)
{
	cw_rd          r = cw_rd_init(buf, len);
	uint8_t        t, k;
	uint32_t       l32;
	const uint8_t *p;
	memset(o, 0, sizeof(*o));
	if (!cw_rd_u8(&r, &t) || !cw_rd_u8(&r, &k))
		return CW_EPROTO;
	o->type = t;
	o->kind = k;
	switch (t) {
	case CW_T_REG:
	case CW_T_FIELD:
		if (k != CW_OP_PUT && !(k == CW_OP_DEL && t == CW_T_FIELD))
			return CW_EPROTO;
		if (!cw_rd_u64(&r, &o->hlc) || !cw_rd_u16(&r, &o->dc) ||
		    !cw_rd_u32(&r, &l32) || !cw_rd_bytes(&r, l32, &o->v))
			return CW_EPROTO;
		o->vl = l32;
		if (k == CW_OP_DEL && l32 != 0)
			return CW_EPROTO;
		break;
	case CW_T_COUNTER:
		if (k != CW_OP_ADD || !cw_rd_u64(&r, &o->n))
			return CW_EPROTO;
		break;
	case CW_T_BCOUNTER:
		if (k < CW_OP_INC || k > CW_OP_XFER || !cw_rd_u16(&r, &o->a) ||
		    !cw_rd_u16(&r, &o->b) || !cw_rd_u64(&r, &o->n))
			return CW_EPROTO;
		if (o->a >= CW_MAX_DC_CRDT || o->b >= CW_MAX_DC_CRDT ||
		    o->n == 0 || o->n > (uint64_t) INT64_MAX)
			return CW_EPROTO;
		if (k == CW_OP_XFER ? o->a == o->b : o->b != 0)
			return CW_EPROTO;
		break;
	case CW_T_SET:
		if (k == CW_OP_ADD) {
			if (!cw_rd_bytes(&r, CW_CRDT_TAG_SIZE, &p))
				return CW_EPROTO;
			o->tag = tag_get(p);
			if (!cw_rd_u32(&r, &l32) ||
			    !cw_rd_bytes(&r, l32, &o->v))
				return CW_EPROTO;
			o->vl = l32;
		} else if (k == CW_OP_REM) {
			if (!cw_rd_u32(&r, &l32) ||
			    !cw_rd_bytes(&r, l32, &o->v))
				return CW_EPROTO;
			o->vl = l32;
			if (!cw_rd_u32(&r, &o->ntags) ||
			    o->ntags > cw_rd_left(&r) / CW_CRDT_TAG_SIZE ||
			    !cw_rd_bytes(&r,
			        (size_t) o->ntags * CW_CRDT_TAG_SIZE,
			        &o->tags))
				return CW_EPROTO;
		} else {
			return CW_EPROTO;
		}
		break;
	case CW_T_TYPE:
		/* the kind byte is the object type */
		if (k < CW_T_REG || k > CW_T_MAP)
			return CW_EPROTO;
		break;
	default:
		return CW_EPROTO;
	}
	return cw_rd_left(&r) == 0 ? 0 : CW_EPROTO;
}

int
cw_crdt_op_validate(const void *op, size_t len, uint32_t ndc, size_t max_value)
{
	opv o;
	int rc = op_parse(op, len, &o);
	if (rc != 0)
		return rc;
	if (o.vl > max_value)
		return CW_ETOOBIG;
	switch (o.type) {
	case CW_T_REG:
	case CW_T_FIELD:
		return o.dc < ndc ? 0 : CW_EPROTO;
	case CW_T_BCOUNTER:
		return (o.a < ndc && o.b < ndc) ? 0 : CW_EPROTO;
	case CW_T_SET:
		if (o.kind == CW_OP_ADD)
			return o.tag.dc < ndc ? 0 : CW_EPROTO;
		for (uint32_t i = 0; i < o.ntags; i++)
			if (tag_get(o.tags + i * CW_CRDT_TAG_SIZE).dc >= ndc)
				return CW_EPROTO;
		return 0;
	default:
		return 0;
	}
}

/* ---- in-memory state ---- */

static void
st_fini(st *s)
{
	for (size_t i = 0; i < s->ne; i++)
		cw_free(s->el[i].tags);
	cw_free(s->el);
	cw_free(s->r);
	cw_free(s->u);
	memset(s, 0, sizeof(*s));
}

static void
st_reset(st *s, int type)
{
	st_fini(s);
	s->type = type;
}

static int
bc_add_r(st *s, uint16_t i, uint16_t j, uint64_t n)
{
	size_t   lo = 0, hi = s->nr;
	uint32_t key = ((uint32_t) i << 16) | j;
	while (lo < hi) {
		size_t   mid = (lo + hi) / 2;
		uint32_t m   = ((uint32_t) s->r[mid].i << 16) | s->r[mid].j;
		if (m == key) {
			s->r[mid].n += n;
			return 0;
		}
		if (m < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (cw_grow(&s->r, &s->rcap, s->nr + 1, sizeof(*s->r)) != 0)
		return CW_ENOMEM;
	memmove(s->r + lo + 1, s->r + lo, (s->nr - lo) * sizeof(*s->r));
	s->r[lo] = (struct bc_r) { i, j, n };
	s->nr++;
	return 0;
}

static int
bc_add_u(st *s, uint16_t i, uint64_t n)
{
	size_t lo = 0, hi = s->nu;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->u[mid].i == i) {
			s->u[mid].n += n;
			return 0;
		}
		if (s->u[mid].i < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (cw_grow(&s->u, &s->ucap, s->nu + 1, sizeof(*s->u)) != 0)
		return CW_ENOMEM;
	memmove(s->u + lo + 1, s->u + lo, (s->nu - lo) * sizeof(*s->u));
	s->u[lo] = (struct bc_u) { i, n };
	s->nu++;
	return 0;
}

/* Finds element e: returns its index, or ~(insertion point) if absent. */
static long
set_find(const st *s, const uint8_t *e, size_t el)
{
	size_t lo = 0, hi = s->ne;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int    c   = cw_bytes_cmp(s->el[mid].e, s->el[mid].el, e, el);
		if (c == 0)
			return (long) mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return ~(long) lo;
}

static int
set_add_tag(st *s, const uint8_t *e, size_t el, cw_tag tag)
{
	long          at = set_find(s, e, el);
	struct selem *x;
	if (at < 0) {
		size_t pos = (size_t) ~at;
		if (cw_grow(&s->el, &s->ecap, s->ne + 1, sizeof(*s->el)) != 0)
			return CW_ENOMEM;
		memmove(s->el + pos + 1, s->el + pos,
		    (s->ne - pos) * sizeof(*s->el));
		s->el[pos] = (struct selem) { e, el, NULL, 0, 0 };
		s->ne++;
		at = (long) pos;
	}
	x            = &s->el[at];
	size_t   cap = x->cap;
	uint32_t lo = 0, hi = x->nt;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int      c   = tag_cmp(&x->tags[mid], &tag);
		if (c == 0)
			return 0; /* already present: adds are idempotent */
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (cw_grow(&x->tags, &cap, (size_t) x->nt + 1, sizeof(cw_tag)) != 0) {
		if (x->nt == 0) { /* undo the empty element just inserted */
			memmove(x, x + 1,
			    (s->ne - (size_t) at - 1) * sizeof(*s->el));
			s->ne--;
		}
		return CW_ENOMEM;
	}
	x->cap = (uint32_t) cap;
	memmove(x->tags + lo + 1, x->tags + lo, (x->nt - lo) * sizeof(cw_tag));
	x->tags[lo] = tag;
	x->nt++;
	return 0;
}

static void
set_rem_tags(
    st *s, const uint8_t *e, size_t el, const uint8_t *tags, uint32_t ntags)
{
	long at = set_find(s, e, el);
	if (at < 0)
		return;
	struct selem *x = &s->el[at];
	/* only the adds the remove observed: a concurrent add survives (the
	 * seeded bug takes every tag up to an observed one, a concurrent
	 * add of a lower DC with it) */
	bool upto = cw_test_bug("remove-unobserved");
	for (uint32_t i = 0; i < ntags; i++) {
		cw_tag t = tag_get(tags + (size_t) i * CW_CRDT_TAG_SIZE);
		for (uint32_t j = 0; j < x->nt;) {
			int c = tag_cmp(&x->tags[j], &t);
			if (c != 0 && !(upto && c < 0)) {
				j++;
				continue;
			}
			memmove(x->tags + j, x->tags + j + 1,
			    (x->nt - j - 1) * sizeof(cw_tag));
			x->nt--;
			if (c == 0)
				break;
		}
	}
	if (x->nt == 0) {
		cw_free(x->tags);
		memmove(x, x + 1, (s->ne - (size_t) at - 1) * sizeof(*s->el));
		s->ne--;
	}
}

/* Decodes a state into s, borrowing from buf. */
static int
st_decode(st *s, const void *buf, size_t len)
{
	cw_rd    r = cw_rd_init(buf, len);
	uint8_t  t, b;
	uint32_t n, l32;
	int      rc;
	if (!cw_rd_u8(&r, &t))
		return CW_EPROTO;
	st_reset(s, t);
	switch (t) {
	case CW_T_REG:
	case CW_T_FIELD:
		if (!cw_rd_u8(&r, &b) || b > 1 || !cw_rd_u64(&r, &s->hlc) ||
		    !cw_rd_u16(&r, &s->dc) || !cw_rd_u32(&r, &l32) ||
		    !cw_rd_bytes(&r, l32, &s->v))
			return CW_EPROTO;
		s->present = b;
		s->vl      = l32;
		break;
	case CW_T_COUNTER:
		if (!cw_rd_u64(&r, &s->sum))
			return CW_EPROTO;
		break;
	case CW_T_BCOUNTER:
		if (!cw_rd_u32(&r, &n) || n > cw_rd_left(&r) / 12)
			return CW_EPROTO;
		for (uint32_t i = 0; i < n; i++) {
			uint16_t a, c;
			uint64_t v;
			cw_rd_u16(&r, &a);
			cw_rd_u16(&r, &c);
			cw_rd_u64(&r, &v);
			if ((rc = bc_add_r(s, a, c, v)) != 0)
				return rc;
		}
		if (!cw_rd_u32(&r, &n) || n > cw_rd_left(&r) / 10)
			return CW_EPROTO;
		for (uint32_t i = 0; i < n; i++) {
			uint16_t a;
			uint64_t v;
			cw_rd_u16(&r, &a);
			cw_rd_u64(&r, &v);
			if ((rc = bc_add_u(s, a, v)) != 0)
				return rc;
		}
		break;
	case CW_T_SET:
		if (!cw_rd_u32(&r, &n) || n > cw_rd_left(&r) / 8)
			return CW_EPROTO;
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *e, *tags;
			uint32_t       nt;
			if (!cw_rd_u32(&r, &l32) ||
			    !cw_rd_bytes(&r, l32, &e) || !cw_rd_u32(&r, &nt) ||
			    nt > cw_rd_left(&r) / CW_CRDT_TAG_SIZE ||
			    !cw_rd_bytes(
			        &r, (size_t) nt * CW_CRDT_TAG_SIZE, &tags))
				return CW_EPROTO;
			for (uint32_t j = 0; j < nt; j++) {
				rc = set_add_tag(s, e, l32,
				    tag_get(
				        tags + (size_t) j * CW_CRDT_TAG_SIZE));
				if (rc != 0)
					return rc;
			}
		}
		break;
	case CW_T_TYPE:
		if (!cw_rd_u8(&r, &b) || b < CW_T_REG || b > CW_T_MAP)
			return CW_EPROTO;
		s->otype = b;
		break;
	default:
		return CW_EPROTO;
	}
	return cw_rd_left(&r) == 0 ? 0 : CW_EPROTO;
}

static int
st_encode(const st *s, cw_buf *out)
{
	int     rc = 0;
	uint8_t tb[CW_CRDT_TAG_SIZE];
	out->len = 0;
	if ((rc = cw_buf_u8(out, (uint8_t) s->type)) != 0)
		return rc;
	switch (s->type) {
	case CW_T_REG:
	case CW_T_FIELD:
		if ((rc = cw_buf_reserve(out, 15 + s->vl)) != 0)
			return rc;
		cw_buf_u8(out, s->present);
		cw_buf_u64(out, s->hlc);
		cw_buf_u16(out, s->dc);
		cw_buf_u32(out, (uint32_t) s->vl);
		return cw_buf_put(out, s->v, s->vl);
	case CW_T_COUNTER:
		return cw_buf_u64(out, s->sum);
	case CW_T_BCOUNTER:
		if ((rc = cw_buf_reserve(out, 8 + 12 * s->nr + 10 * s->nu)) !=
		    0)
			return rc;
		cw_buf_u32(out, (uint32_t) s->nr);
		for (size_t i = 0; i < s->nr; i++) {
			cw_buf_u16(out, s->r[i].i);
			cw_buf_u16(out, s->r[i].j);
			cw_buf_u64(out, s->r[i].n);
		}
		cw_buf_u32(out, (uint32_t) s->nu);
		for (size_t i = 0; i < s->nu; i++) {
			cw_buf_u16(out, s->u[i].i);
			cw_buf_u64(out, s->u[i].n);
		}
		return 0;
	case CW_T_SET:
		if ((rc = cw_buf_u32(out, (uint32_t) s->ne)) != 0)
			return rc;
		for (size_t i = 0; i < s->ne; i++) {
			const struct selem *x = &s->el[i];
			if ((rc = cw_buf_u32(out, (uint32_t) x->el)) != 0 ||
			    (rc = cw_buf_put(out, x->e, x->el)) != 0 ||
			    (rc = cw_buf_u32(out, x->nt)) != 0)
				return rc;
			for (uint32_t j = 0; j < x->nt; j++) {
				tag_put(tb, x->tags[j]);
				if ((rc = cw_buf_put(out, tb, sizeof(tb))) !=
				    0)
					return rc;
			}
		}
		return 0;
	case CW_T_TYPE:
		return cw_buf_u8(out, (uint8_t) s->otype);
	default:
		return 0;
	}
}

/* Last writer wins on (hlc, dc); an exact tie (one transaction) is broken
 * by presence and then the value bytes, so any order picks the same. */
static bool
lww_newer(const opv *o, const st *s)
{
	if (o->hlc != s->hlc)
		return o->hlc > s->hlc;
	if (o->dc != s->dc)
		return o->dc > s->dc;
	bool present = o->kind == CW_OP_PUT;
	if (present != s->present)
		return present;
	return cw_bytes_cmp(o->v, o->vl, s->v, s->vl) > 0;
}

static int
st_apply(st *s, const opv *o)
{
	if (s->type == CW_T_NONE || o->type < s->type)
		st_reset(s, o->type);
	else if (o->type > s->type)
		return 0; /* a higher type id loses (see crdt.h) */
	switch (o->type) {
	case CW_T_REG:
	case CW_T_FIELD:
		if (!s->present &&
		    ((s->hlc == 0 && s->dc == 0 && s->vl == 0) ||
		        cw_test_bug("tombstone-as-empty"))) {
			/* the empty state loses to any write (the bug: so
			 * does a remove's tombstone) */
		} else if (!lww_newer(o, s)) {
			return 0;
		}
		s->present = o->kind == CW_OP_PUT;
		s->hlc     = o->hlc;
		s->dc      = o->dc;
		s->v       = o->v;
		s->vl      = o->vl;
		return 0;
	case CW_T_COUNTER:
		s->sum += o->n;
		return 0;
	case CW_T_BCOUNTER:
		if (o->kind == CW_OP_INC)
			return bc_add_r(s, o->a, o->a, o->n);
		if (o->kind == CW_OP_XFER)
			return bc_add_r(s, o->a, o->b, o->n);
		return bc_add_u(s, o->a, o->n);
	case CW_T_SET:
		if (o->kind == CW_OP_ADD)
			return set_add_tag(s, o->v, o->vl, o->tag);
		set_rem_tags(s, o->v, o->vl, o->tags, o->ntags);
		return 0;
	case CW_T_TYPE:
		if (s->otype == 0 || o->kind < s->otype)
			s->otype = o->kind;
		return 0;
	default:
		return 0;
	}
}

int
cw_crdt_merge(const void *existing, size_t elen, const void *const *ops,
    const size_t *lens, size_t n, cw_buf *out)
{
	st  s;
	opv o;
	int rc = 0;
	memset(&s, 0, sizeof(s));
	if (existing != NULL && (rc = st_decode(&s, existing, elen)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((rc = op_parse(ops[i], lens[i], &o)) != 0)
			goto out;
		if ((rc = st_apply(&s, &o)) != 0)
			goto out;
	}
	if (s.type == CW_T_NONE) {
		rc = CW_EPROTO; /* no state and no operand: nothing to write */
		goto out;
	}
	rc = st_encode(&s, out);
out:
	st_fini(&s);
	return rc;
}

/* ---- readers ---- */

/* Checks the state's type: 0 if it is `type`, CW_ETYPE if another. */
static int
want(const void *state, size_t len, int type)
{
	int t = cw_crdt_type_of(state, len);
	if (t < 0)
		return t;
	return t == type ? 0 : CW_ETYPE;
}

int
cw_crdt_reg_read(const void *state, size_t len, bool *present,
    const uint8_t **v, size_t *vl, uint64_t *hlc, uint16_t *dc)
{
	cw_rd    r = cw_rd_init(state, len);
	uint8_t  t, b;
	uint64_t h   = 0;
	uint16_t d   = 0;
	uint32_t l32 = 0;
	*present     = false;
	*v           = NULL;
	*vl          = 0;
	if (state != NULL) {
		if (!cw_rd_u8(&r, &t))
			return CW_EPROTO;
		if (t != CW_T_REG && t != CW_T_FIELD)
			return CW_ETYPE;
		if (!cw_rd_u8(&r, &b) || !cw_rd_u64(&r, &h) ||
		    !cw_rd_u16(&r, &d) || !cw_rd_u32(&r, &l32) ||
		    !cw_rd_bytes(&r, l32, v) || cw_rd_left(&r) != 0)
			return CW_EPROTO;
		*present = b != 0;
		*vl      = l32;
		if (!*present) {
			*v  = NULL;
			*vl = 0;
		}
	}
	if (hlc != NULL)
		*hlc = h;
	if (dc != NULL)
		*dc = d;
	return 0;
}

int
cw_crdt_type_read(const void *state, size_t len, int *type)
{
	*type = CW_T_NONE;
	if (state == NULL)
		return 0;
	int rc = want(state, len, CW_T_TYPE);
	if (rc != 0)
		return rc;
	const uint8_t *p = state;
	if (len != 2 || p[1] < CW_T_REG || p[1] > CW_T_MAP)
		return CW_EPROTO;
	*type = p[1];
	return 0;
}

int
cw_crdt_counter_read(const void *state, size_t len, int64_t *out)
{
	*out = 0;
	if (state == NULL)
		return 0;
	int rc = want(state, len, CW_T_COUNTER);
	if (rc != 0)
		return rc;
	if (len != 9)
		return CW_EPROTO;
	*out = (int64_t) cw_ld_u64((const uint8_t *) state + 1);
	return 0;
}

static int
bc_decode(const void *state, size_t len, st *s)
{
	int rc = want(state, len, CW_T_BCOUNTER);
	if (rc != 0)
		return rc;
	return st_decode(s, state, len);
}

int
cw_crdt_bcounter_value(const void *state, size_t len, int64_t *value)
{
	st       s;
	uint64_t v = 0;
	*value     = 0;
	if (state == NULL)
		return 0;
	memset(&s, 0, sizeof(s));
	int rc = bc_decode(state, len, &s);
	if (rc == 0) {
		for (size_t i = 0; i < s.nr; i++)
			if (s.r[i].i == s.r[i].j)
				v += s.r[i].n;
		for (size_t i = 0; i < s.nu; i++)
			v -= s.u[i].n;
		*value = (int64_t) v;
	}
	st_fini(&s);
	return rc;
}

int
cw_crdt_bcounter_rights(
    const void *state, size_t len, uint16_t dc, int64_t *rights)
{
	st       s;
	uint64_t v = 0;
	*rights    = 0;
	if (state == NULL)
		return 0;
	memset(&s, 0, sizeof(s));
	int rc = bc_decode(state, len, &s);
	if (rc == 0) {
		for (size_t i = 0; i < s.nr; i++) {
			if (s.r[i].j == dc)
				v += s.r[i].n; /* minted here or received */
			else if (s.r[i].i == dc)
				v -= s.r[i].n; /* given away */
		}
		for (size_t i = 0; i < s.nu; i++)
			if (s.u[i].i == dc)
				v -= s.u[i].n;
		*rights = (int64_t) v;
	}
	st_fini(&s);
	return rc;
}

int
cw_crdt_bcounter_received(
    const void *state, size_t len, uint16_t dc, uint64_t *received)
{
	st s;
	*received = 0;
	if (state == NULL)
		return 0;
	memset(&s, 0, sizeof(s));
	int rc = bc_decode(state, len, &s);
	for (size_t i = 0; rc == 0 && i < s.nr; i++)
		if (s.r[i].j == dc && s.r[i].i != dc)
			*received += s.r[i].n;
	st_fini(&s);
	return rc;
}

int
cw_crdt_set_iter(cw_set_iter *it, const void *state, size_t len)
{
	uint8_t t;
	it->rd   = cw_rd_init(state, len);
	it->left = 0;
	if (state == NULL)
		return 0;
	if (!cw_rd_u8(&it->rd, &t))
		return CW_EPROTO;
	if (t != CW_T_SET)
		return CW_ETYPE;
	if (!cw_rd_u32(&it->rd, &it->left))
		return CW_EPROTO;
	return 0;
}

int
cw_crdt_set_next(cw_set_iter *it, const uint8_t **e, size_t *el,
    const uint8_t **tags, uint32_t *ntags)
{
	uint32_t l32;
	if (it->left == 0)
		return 0;
	if (!cw_rd_u32(&it->rd, &l32) || !cw_rd_bytes(&it->rd, l32, e) ||
	    !cw_rd_u32(&it->rd, ntags) ||
	    *ntags > cw_rd_left(&it->rd) / CW_CRDT_TAG_SIZE ||
	    !cw_rd_bytes(&it->rd, (size_t) *ntags * CW_CRDT_TAG_SIZE, tags))
		return CW_EPROTO;
	*el = l32;
	it->left--;
	return 1;
}

int
cw_crdt_set_find(const void *state, size_t len, const void *e, size_t el,
    bool *found, const uint8_t **tags, uint32_t *ntags)
{
	cw_set_iter    it;
	const uint8_t *x;
	size_t         xl;
	int            rc;
	*found = false;
	*tags  = NULL;
	*ntags = 0;
	if ((rc = cw_crdt_set_iter(&it, state, len)) != 0)
		return rc;
	while ((rc = cw_crdt_set_next(&it, &x, &xl, tags, ntags)) == 1) {
		int c = cw_bytes_cmp(x, xl, e, el);
		if (c == 0) {
			*found = true;
			return 0;
		}
		if (c > 0)
			break;
	}
	*tags  = NULL;
	*ntags = 0;
	return rc < 0 ? rc : 0;
}
