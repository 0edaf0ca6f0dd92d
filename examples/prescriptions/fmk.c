/*
 * fmk.c - the FMK operations, each one Causeway transaction (fmk.h; the
 * key layout is in README.md).
 *
 * Over the network the SDK buffers writes until the next read or the
 * commit, and reports a write's error there. Processing therefore reads
 * right after spending the token and again after spending stock, so that
 * a refusal is told apart (FMK_ETOKEN, FMK_ESTOCK) whatever the backend.
 */
#include "fmk.h"
#include "fmk_store.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fmk {
	cw_client       *c;
	const fmk_store *ops; /* another store (fmk_store.h), or NULL */
	void            *st;
	fmk_opts         o;
	double          *zipf; /* CDF of Zipf(1) over 1..nzipf, for populate */
	uint64_t         nzipf;
	uint64_t         creates; /* prescriptions created, for the broken
	                           * variant */
};

#define FMK_XX_STR(name, code, msg) \
	case code:                  \
		return msg;
const char *
fmk_strerror(int err)
{
	switch (err) {
		FMK_ERRNO_MAP(FMK_XX_STR)
	default:
		return cw_strerror(err);
	}
}
#undef FMK_XX_STR

#define FMK_XX_NAME(name, code, msg) \
	case code:                   \
		return #name;
const char *
fmk_errname(int err)
{
	switch (err) {
		FMK_ERRNO_MAP(FMK_XX_NAME)
	default:
		return cw_errname(err);
	}
}
#undef FMK_XX_NAME

static const char *kind_names[FMK_NKINDS] = { "patient", "pharmacy", "staff",
	"facility" };

const char *
fmk_kind_name(fmk_kind k)
{
	return (unsigned) k < FMK_NKINDS ? kind_names[k] : "?";
}

static const char *drugs[FMK_NDRUGS] = { "amoxicillin", "atorvastatin",
	"ibuprofen", "insulin", "lisinopril", "metformin", "omeprazole",
	"paracetamol", "salbutamol", "warfarin" };

const char *
fmk_drug_name(int i)
{
	return i >= 0 && i < FMK_NDRUGS ? drugs[i] : NULL;
}

void
fmk_ids_free(fmk_ids *l)
{
	if (l != NULL) {
		free(l->id);
		l->id = NULL;
		l->n  = 0;
	}
}

int
fmk_ids_push(fmk_ids *l, uint64_t id)
{
	if ((l->n & (l->n + 1)) == 0 || l->id == NULL) { /* n+1 a power of 2 */
		uint64_t *g = realloc(l->id, (2 * l->n + 2) * sizeof(*g));
		if (g == NULL)
			return CW_ENOMEM;
		l->id = g;
	}
	l->id[l->n++] = id;
	return 0;
}

static int cmp_u64(const void *a, const void *b);

void
fmk_ids_sort(fmk_ids *l)
{
	if (l->n > 1)
		qsort(l->id, l->n, sizeof(*l->id), cmp_u64);
}

static int
cmp_drug(const void *a, const void *b)
{
	return strcmp(a, b);
}

void
fmk_drugs_normalize(fmk_drugs *d)
{
	if (d->n > 1)
		qsort(d->name, d->n, sizeof(d->name[0]), cmp_drug);
	size_t keep = 0;
	for (size_t i = 0; i < d->n; i++)
		if (keep == 0 || strcmp(d->name[keep - 1], d->name[i]) != 0)
			memmove(
			    d->name[keep++], d->name[i], sizeof(d->name[0]));
	d->n = keep;
}

void
fmk_drugs_join(const fmk_drugs *d, const char *sep, char *out, size_t cap)
{
	size_t n = 0;
	out[0]   = '\0';
	for (size_t i = 0; i < d->n && n < cap; i++)
		n += (size_t) snprintf(
		    out + n, cap - n, "%s%s", i ? sep : "", d->name[i]);
}

void
fmk_drugs_split(const char *s, size_t len, const char *sep, fmk_drugs *d)
{
	const char *end = s + len;
	size_t      sl  = strlen(sep);
	d->n            = 0;
	while (s < end && d->n < FMK_MAX_DRUGS) {
		const char *x = memmem(s, (size_t) (end - s), sep, sl);
		size_t n = x != NULL ? (size_t) (x - s) : (size_t) (end - s);
		snprintf(
		    d->name[d->n++], FMK_DRUG_MAX + 1, "%.*s", (int) n, s);
		s += n + sl;
	}
	fmk_drugs_normalize(d);
}

static const char *pop_names[FMK_POP_STOCK + 1] = { "patients", "pharmacies",
	"staff", "facilities", "prescriptions", "stock" };

const char *
fmk_pop_name(int what)
{
	return what >= 0 && what <= FMK_POP_STOCK ? pop_names[what] : "?";
}

void
fmk_meta_set(fmk_meta *m, const char *k, uint64_t v)
{
	bool done = strncmp(k, "done_", 5) == 0;
	for (int i = 0; i <= FMK_POP_STOCK; i++)
		if (strcmp(done ? k + 5 : k, pop_names[i]) == 0) {
			if (done)
				m->done[i] = v;
			else if (i < FMK_NKINDS)
				m->n[i] = v;
			else if (i == FMK_POP_PRESCRIPTIONS)
				m->prescriptions = v;
			else
				m->stock = (int64_t) v;
		}
	if (strcmp(k, "drugs") == 0)
		m->ndrugs = (int) v;
}

int
fmk_meta_check(const fmk_meta *m, size_t nset)
{
	if (nset == 0)
		return FMK_ENOTFOUND;
	if (m->ndrugs < 1 || m->ndrugs > FMK_NDRUGS || m->stock < 0)
		return FMK_ECORRUPT;
	return 0;
}

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

int
fmk_open(fmk **out, cw_client *c, const fmk_opts *opts)
{
	fmk *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return CW_ENOMEM;
	f->c = c;
	if (opts != NULL)
		f->o = *opts;
	else
		f->o = (fmk_opts) { .wait_ms = 500, .retries = 3 };
	*out = f;
	return 0;
}

int
fmk_open_store(fmk **out, const fmk_store *ops, void *s, const fmk_opts *opts)
{
	int rc = fmk_open(out, NULL, opts);
	if (rc != 0) {
		ops->close(s);
		return rc;
	}
	(*out)->ops = ops;
	(*out)->st  = s;
	return 0;
}

const char *
fmk_store_error(const fmk *f)
{
	return f->ops != NULL ? f->ops->error(f->st) : "";
}

void
fmk_free(fmk *f)
{
	if (f != NULL) {
		if (f->ops != NULL)
			f->ops->close(f->st);
		free(f->zipf);
		free(f);
	}
}

/* ---- keys ---------------------------------------------------------- */

typedef struct {
	char   s[96];
	size_t n;
} key;

static key
k_entity(fmk_kind k, uint64_t id)
{
	key r;
	r.n = (size_t) snprintf(
	    r.s, sizeof(r.s), "fmk/%s/%" PRIu64, kind_names[k], id);
	return r;
}

static key
k_index(fmk_kind k, uint64_t id)
{
	key r;
	r.n = (size_t) snprintf(
	    r.s, sizeof(r.s), "fmk/%s/%" PRIu64 "/rx", kind_names[k], id);
	return r;
}

static key
k_rx(uint64_t id, const char *part) /* part: NULL for the record */
{
	key r;
	r.n = (size_t) snprintf(r.s, sizeof(r.s), "fmk/rx/%" PRIu64 "%s%s", id,
	    part ? "/" : "", part ? part : "");
	return r;
}

#define FMK_SHARDS 64
static key
k_registry(uint64_t id)
{
	key r;
	r.n = (size_t) snprintf(
	    r.s, sizeof(r.s), "fmk/rxs/%u", (unsigned) (id % FMK_SHARDS));
	return r;
}

static key
k_stock(const char *what, uint64_t pharmacy, const char *drug)
{
	key r;
	r.n = (size_t) snprintf(
	    r.s, sizeof(r.s), "fmk/%s/%" PRIu64 "/%s", what, pharmacy, drug);
	return r;
}

static const char meta_key[] = "fmk/meta";

/* ---- helpers ------------------------------------------------------- */

typedef int (*body_fn)(fmk *f, cw_txn *t, void *arg);

/* Runs body in a transaction, retrying conflicts. */
static int
run(fmk *f, body_fn body, void *arg)
{
	for (int attempt = 0;; attempt++) {
		cw_txn *t;
		int     rc = cw_begin(f->c, &t);
		if (rc != 0)
			return rc;
		rc = body(f, t, arg);
		if (rc == 0)
			rc = cw_commit(t);
		else
			cw_abort(t);
		if (rc != CW_ECONFLICT || attempt >= f->o.retries)
			return rc;
	}
}

static int
put_str(cw_txn *t, const key *k, const char *field, const char *v)
{
	return cw_map_put(t, k->s, k->n, field, v, strlen(v));
}

static int
put_u64(cw_txn *t, const key *k, const char *field, uint64_t v)
{
	char s[24];
	int  n = snprintf(s, sizeof(s), "%" PRIu64, v);
	return cw_map_put(t, k->s, k->n, field, s, (size_t) n);
}

/* ---- reads, several per round trip (cw_read_many) ------------------ */

static void
rd_field(cw_read *r, const key *k, const char *field)
{
	*r = (cw_read) { .kind = CW_READ_MAP_GET,
		.key           = k->s,
		.kl            = k->n,
		.field         = field };
}

static void
rd_members(cw_read *r, const key *k)
{
	*r =
	    (cw_read) { .kind = CW_READ_SET_MEMBERS, .key = k->s, .kl = k->n };
}

/* Runs r[0..n-1]; the first read's error, if any, is the result. */
static int
read_all(cw_txn *t, cw_read *r, size_t n)
{
	int rc = cw_read_many(t, r, n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = r[i].err;
	if (rc != 0)
		cw_read_fini(r, n);
	return rc;
}

/* A text field read into out[cap]; a missing field gives "" and
 * *present = false. */
static int
take_str(const cw_read *r, char *out, size_t cap, bool *present)
{
	if (present != NULL)
		*present = r->found;
	if (r->vl >= cap)
		return FMK_ECORRUPT;
	if (r->vl > 0)
		memcpy(out, r->v, r->vl);
	out[r->vl] = '\0';
	return 0;
}

static int parse_u64(const char *s, size_t n, uint64_t *out);

/* A decimal field; missing gives 0 and *present = false. */
static int
take_u64(const cw_read *r, uint64_t *out, bool *present)
{
	if (present != NULL)
		*present = r->found;
	*out = 0;
	return r->found ? parse_u64(r->v, r->vl, out) : 0;
}

static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return FMK_ECORRUPT;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    v > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
			return FMK_ECORRUPT;
		v = v * 10 + (uint64_t) (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
get_u64(
    cw_txn *t, const key *k, const char *field, uint64_t *out, bool *present)
{
	cw_read r;
	rd_field(&r, k, field);
	int rc = read_all(t, &r, 1);
	if (rc == 0)
		rc = take_u64(&r, out, present);
	cw_read_fini(&r, 1);
	return rc;
}

/* An entity or prescription exists once its "id" field is written. */
static int
exists(cw_txn *t, const key *k, bool *out)
{
	uint64_t id;
	return get_u64(t, k, "id", &id, out);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

/* The members of a set of decimal ids, ascending. */
static int
take_ids(const cw_read *r, fmk_ids *out)
{
	const cw_list *l = r->list;
	out->n           = 0;
	out->id          = NULL;
	size_t n         = cw_list_len(l);
	if (n > 0 && (out->id = malloc(n * sizeof(uint64_t))) == NULL)
		return CW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t      len;
		const char *p  = cw_list_at(l, i, &len);
		int         rc = parse_u64(p, len, &out->id[i]);
		if (rc != 0) {
			fmk_ids_free(out);
			return rc;
		}
	}
	out->n = n;
	if (n > 1) /* qsort wants a non-null base, even for 0 */
		qsort(out->id, n, sizeof(uint64_t), cmp_u64);
	return 0;
}

static int
read_ids(cw_txn *t, const key *k, fmk_ids *out)
{
	cw_read r;
	rd_members(&r, k);
	out->n  = 0;
	out->id = NULL;
	int rc  = read_all(t, &r, 1);
	if (rc == 0)
		rc = take_ids(&r, out);
	cw_read_fini(&r, 1);
	return rc;
}

static int
set_add_id(cw_txn *t, const key *k, uint64_t id)
{
	char s[24];
	int  n = snprintf(s, sizeof(s), "%" PRIu64, id);
	return cw_set_add(t, k->s, k->n, s, (size_t) n);
}

static int
take_drugs(const cw_read *r, fmk_drugs *out)
{
	out->n = 0;
	for (size_t i = 0; i < cw_list_len(r->list); i++) {
		size_t      len;
		const char *p = cw_list_at(r->list, i, &len);
		if (out->n == FMK_MAX_DRUGS || len > FMK_DRUG_MAX)
			return FMK_ECORRUPT;
		memcpy(out->name[out->n], p, len);
		out->name[out->n++][len] = '\0';
	}
	return 0;
}

static bool
text_ok(const char *s)
{
	return s != NULL && strlen(s) <= FMK_TEXT_MAX;
}

static bool
drug_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= FMK_DRUG_MAX && strchr(s, ',') == NULL;
}

/* ---- entities ------------------------------------------------------ */

struct ent_arg {
	fmk_kind    k;
	uint64_t    id;
	const char *name, *address, *extra;
	bool        create;
	fmk_entity *out;
};

static const char *
extra_field(fmk_kind k)
{
	return k == FMK_STAFF   ? "speciality"
	    : k == FMK_FACILITY ? "type"
	                        : NULL;
}

static int
write_entity(cw_txn *t, const struct ent_arg *a)
{
	key         k  = k_entity(a->k, a->id);
	const char *xf = extra_field(a->k);
	int         rc;
	if ((rc = put_u64(t, &k, "id", a->id)) != 0 ||
	    (rc = put_str(t, &k, "name", a->name)) != 0 ||
	    (rc = put_str(t, &k, "address", a->address)) != 0)
		return rc;
	if (xf != NULL)
		rc = put_str(t, &k, xf, a->extra ? a->extra : "");
	return rc;
}

static int
ent_write_body(fmk *f, cw_txn *t, void *arg)
{
	struct ent_arg *a = arg;
	key             k = k_entity(a->k, a->id);
	bool            there;
	int             rc;
	(void) f;
	if ((rc = exists(t, &k, &there)) != 0)
		return rc;
	if (a->create && there)
		return FMK_ETAKEN;
	if (!a->create && !there)
		return FMK_ENOTFOUND;
	return write_entity(t, a);
}

static int
ent_write(fmk *f, bool create, fmk_kind k, uint64_t id, const char *name,
    const char *address, const char *extra)
{
	if ((unsigned) k >= FMK_NKINDS || !text_ok(name) ||
	    !text_ok(address) || (extra != NULL && !text_ok(extra)))
		return CW_EINVAL;
	if (f->ops != NULL) {
		fmk_entity e = { .id = id };
		snprintf(e.name, sizeof(e.name), "%s", name);
		snprintf(e.address, sizeof(e.address), "%s", address);
		snprintf(e.extra, sizeof(e.extra), "%s",
		    extra != NULL && extra_field(k) != NULL ? extra : "");
		return f->ops->ent_write(f->st, create, k, &e);
	}
	struct ent_arg a = { k, id, name, address, extra, create, NULL };
	return run(f, ent_write_body, &a);
}

int
fmk_create(fmk *f, fmk_kind k, uint64_t id, const char *name,
    const char *address, const char *extra)
{
	return ent_write(f, true, k, id, name, address, extra);
}

int
fmk_update(fmk *f, fmk_kind k, uint64_t id, const char *name,
    const char *address, const char *extra)
{
	return ent_write(f, false, k, id, name, address, extra);
}

static int
ent_get_body(fmk *f, cw_txn *t, void *arg)
{
	struct ent_arg *a  = arg;
	key             k  = k_entity(a->k, a->id);
	const char     *xf = extra_field(a->k);
	fmk_entity     *e  = a->out;
	cw_read         r[4];
	bool            there;
	int             rc;
	(void) f;
	memset(e, 0, sizeof(*e));
	rd_field(&r[0], &k, "id");
	rd_field(&r[1], &k, "name");
	rd_field(&r[2], &k, "address");
	rd_field(&r[3], &k, xf != NULL ? xf : "id");
	if ((rc = read_all(t, r, 4)) != 0)
		return rc;
	if ((rc = take_u64(&r[0], &e->id, &there)) == 0 && !there)
		rc = FMK_ENOTFOUND;
	if (rc == 0)
		rc = take_str(&r[1], e->name, sizeof(e->name), NULL);
	if (rc == 0)
		rc = take_str(&r[2], e->address, sizeof(e->address), NULL);
	if (rc == 0 && xf != NULL)
		rc = take_str(&r[3], e->extra, sizeof(e->extra), NULL);
	cw_read_fini(r, 4);
	return rc;
}

int
fmk_get(fmk *f, fmk_kind k, uint64_t id, fmk_entity *out)
{
	if ((unsigned) k >= FMK_NKINDS || out == NULL)
		return CW_EINVAL;
	if (f->ops != NULL)
		return f->ops->get(f->st, k, id, out);
	struct ent_arg a = { .k = k, .id = id, .out = out };
	return run(f, ent_get_body, &a);
}

struct list_arg {
	fmk_kind k;
	uint64_t id;
	bool     processed_only;
	fmk_ids *out;
};

static int
list_body(fmk *f, cw_txn *t, void *arg)
{
	struct list_arg *a = arg;
	key              k = k_entity(a->k, a->id);
	key              i = k_index(a->k, a->id);
	cw_read          r[2], *q = NULL;
	bool             there;
	uint64_t         id;
	int              rc;
	(void) f;
	a->out->n  = 0;
	a->out->id = NULL;
	rd_field(&r[0], &k, "id");
	rd_members(&r[1], &i);
	if ((rc = read_all(t, r, 2)) != 0)
		return rc;
	if ((rc = take_u64(&r[0], &id, &there)) == 0 && !there)
		rc = FMK_ENOTFOUND;
	if (rc == 0)
		rc = take_ids(&r[1], a->out);
	cw_read_fini(r, 2);
	if (rc != 0 || !a->processed_only || a->out->n == 0)
		return rc;
	/* the processed mark of each, in one round trip per CW_MAX_READS */
	size_t n    = a->out->n;
	key   *keys = malloc(n * sizeof(*keys));
	if (keys == NULL || (q = calloc(n, sizeof(*q))) == NULL) {
		rc = CW_ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		keys[j] = k_rx(a->out->id[j], NULL);
		rd_field(&q[j], &keys[j], "processed");
	}
	for (size_t j = 0; j < n && rc == 0; j += CW_MAX_READS)
		rc = read_all(
		    t, q + j, n - j < CW_MAX_READS ? n - j : CW_MAX_READS);
	size_t keep = 0;
	for (size_t j = 0; rc == 0 && j < n; j++)
		if (q[j].found && q[j].vl > 0)
			a->out->id[keep++] = a->out->id[j];
	if (rc == 0)
		a->out->n = keep;
	cw_read_fini(q, n);
out:
	free(q);
	free(keys);
	if (rc != 0)
		fmk_ids_free(a->out);
	return rc;
}

int
fmk_prescriptions(fmk *f, fmk_kind k, uint64_t id, fmk_ids *out)
{
	if (k == FMK_FACILITY || (unsigned) k >= FMK_NKINDS || out == NULL)
		return CW_EINVAL;
	if (f->ops != NULL)
		return f->ops->list(f->st, k, id, false, out);
	struct list_arg a = { k, id, false, out };
	return run(f, list_body, &a);
}

int
fmk_processed_prescriptions(fmk *f, uint64_t pharmacy, fmk_ids *out)
{
	if (out == NULL)
		return CW_EINVAL;
	if (f->ops != NULL)
		return f->ops->list(f->st, FMK_PHARMACY, pharmacy, true, out);
	struct list_arg a = { FMK_PHARMACY, pharmacy, true, out };
	return run(f, list_body, &a);
}

/* ---- prescriptions ------------------------------------------------- */

struct rx_arg {
	const fmk_prescription *p;
	int                     part; /* 0 all, 1 record, 2 indexes */
	uint64_t                id;
	fmk_prescription       *out;
	fmk_drugs              *drugs;
	const char             *date;
};

static const fmk_kind owners[3] = { FMK_PATIENT, FMK_STAFF, FMK_PHARMACY };

static void
rx_owners(const fmk_prescription *p, uint64_t id[3])
{
	id[0] = p->patient;
	id[1] = p->prescriber;
	id[2] = p->pharmacy;
}

/* The writes of a create: part 1 the record, its drugs, token and
 * registry entry; part 2 the three index entries; 0 both. */
static int
rx_write(cw_txn *t, const fmk_prescription *p, int part)
{
	key      r = k_rx(p->id, NULL);
	uint64_t own[3];
	int      rc;
	rx_owners(p, own);
	if (part != 2) {
		key d   = k_rx(p->id, "drugs");
		key tok = k_rx(p->id, "token");
		key reg = k_registry(p->id);
		if ((rc = put_u64(t, &r, "id", p->id)) != 0 ||
		    (rc = put_u64(t, &r, "patient", p->patient)) != 0 ||
		    (rc = put_u64(t, &r, "prescriber", p->prescriber)) != 0 ||
		    (rc = put_u64(t, &r, "pharmacy", p->pharmacy)) != 0 ||
		    (rc = put_str(
		         t, &r, "date_prescribed", p->date_prescribed)) != 0 ||
		    (rc = cw_bcounter_add(t, tok.s, tok.n, 1)) != 0 ||
		    (rc = set_add_id(t, &reg, p->id)) != 0)
			return rc;
		for (size_t i = 0; i < p->drugs.n; i++)
			if ((rc = cw_set_add(t, d.s, d.n, p->drugs.name[i],
			         strlen(p->drugs.name[i]))) != 0)
				return rc;
	}
	if (part != 1)
		for (int i = 0; i < 3; i++) {
			key x = k_index(owners[i], own[i]);
			if ((rc = set_add_id(t, &x, p->id)) != 0)
				return rc;
		}
	return 0;
}

static int
rx_create_body(fmk *f, cw_txn *t, void *arg)
{
	struct rx_arg          *a = arg;
	const fmk_prescription *p = a->p;
	key                     r = k_rx(p->id, NULL);
	uint64_t                own[3];
	int                     rc;
	(void) f;
	rx_owners(p, own);
	if (a->part != 2) {
		/* reading the three owners puts them in the causal past of
		 * this commit: relative order at every DC */
		key     e[3];
		cw_read q[4];
		rd_field(&q[0], &r, "id");
		for (int i = 0; i < 3; i++) {
			e[i] = k_entity(owners[i], own[i]);
			rd_field(&q[i + 1], &e[i], "id");
		}
		if ((rc = read_all(t, q, 4)) != 0)
			return rc;
		rc = q[0].found ? FMK_ETAKEN : 0;
		for (int i = 1; i < 4 && rc == 0; i++)
			if (!q[i].found)
				rc = FMK_ENOTFOUND;
		cw_read_fini(q, 4);
		if (rc != 0)
			return rc;
	}
	return rx_write(t, p, a->part);
}

static bool
drugs_ok(const fmk_drugs *d)
{
	if (d->n == 0 || d->n > FMK_MAX_DRUGS)
		return false;
	for (size_t i = 0; i < d->n; i++)
		if (!drug_ok(d->name[i]))
			return false;
	return true;
}

int
fmk_create_prescription(fmk *f, const fmk_prescription *p)
{
	if (p == NULL || !drugs_ok(&p->drugs) || !text_ok(p->date_prescribed))
		return CW_EINVAL;
	if (f->ops != NULL) {
		fmk_prescription q = *p;
		fmk_drugs_normalize(&q.drugs);
		return f->ops->create_rx(f->st, &q);
	}
	struct rx_arg a = { .p = p };
	if (!(f->o.broken & FMK_BROKEN_SPLIT_CREATE))
		return run(f, rx_create_body, &a);
	/* test-only: the joint update torn in two */
	a.part = 1;
	int rc = run(f, rx_create_body, &a);
	if (rc != 0 || ++f->creates % 32 == 0)
		return rc;
	a.part = 2;
	return run(f, rx_create_body, &a);
}

/* A prescription in one round trip, with `nx` more reads of the caller's
 * in the same request (x: their results, left to the caller, freed on an
 * error). FMK_ENOTFOUND. */
static int
rx_read_with(
    cw_txn *t, uint64_t id, fmk_prescription *out, cw_read *x, size_t nx)
{
	static const char *const f[] = { "id", "patient", "prescriber",
		"pharmacy", "date_prescribed", "date_processed", "processed" };
	enum { NF = sizeof(f) / sizeof(f[0]), NR = NF + 1 };
	key     r = k_rx(id, NULL), d = k_rx(id, "drugs");
	cw_read q[NR + 8];
	bool    there;
	int     rc;
	memset(out, 0, sizeof(*out));
	if (nx > 8)
		return CW_EINVAL;
	for (size_t i = 0; i < NF; i++)
		rd_field(&q[i], &r, f[i]);
	rd_members(&q[NF], &d);
	for (size_t i = 0; i < nx; i++)
		q[NR + i] = x[i];
	if ((rc = read_all(t, q, NR + nx)) != 0)
		return rc;
	if ((rc = take_u64(&q[0], &out->id, &there)) == 0 && !there)
		rc = FMK_ENOTFOUND;
	if (rc == 0)
		rc = take_u64(&q[1], &out->patient, NULL);
	if (rc == 0)
		rc = take_u64(&q[2], &out->prescriber, NULL);
	if (rc == 0)
		rc = take_u64(&q[3], &out->pharmacy, NULL);
	if (rc == 0)
		rc = take_str(&q[4], out->date_prescribed,
		    sizeof(out->date_prescribed), NULL);
	if (rc == 0)
		rc = take_str(&q[5], out->date_processed,
		    sizeof(out->date_processed), NULL);
	out->processed = q[6].found && q[6].vl > 0;
	if (rc == 0)
		rc = take_drugs(&q[NF], &out->drugs);
	cw_read_fini(q, NR);
	for (size_t i = 0; i < nx; i++)
		x[i] = q[NR + i];
	if (rc != 0)
		cw_read_fini(x, nx);
	return rc;
}

static int
rx_read(cw_txn *t, uint64_t id, fmk_prescription *out)
{
	return rx_read_with(t, id, out, NULL, 0);
}

static int
rx_get_body(fmk *f, cw_txn *t, void *arg)
{
	struct rx_arg *a = arg;
	(void) f;
	return rx_read(t, a->id, a->out);
}

int
fmk_get_prescription(fmk *f, uint64_t id, fmk_prescription *out)
{
	if (out == NULL)
		return CW_EINVAL;
	if (f->ops != NULL)
		return f->ops->get_rx(f->st, id, out);
	struct rx_arg a = { .id = id, .out = out };
	return run(f, rx_get_body, &a);
}

static int
med_body(fmk *f, cw_txn *t, void *arg)
{
	struct rx_arg *a = arg;
	key            r = k_rx(a->id, NULL), d = k_rx(a->id, "drugs");
	cw_read        q[2];
	int            rc;
	(void) f;
	rd_field(&q[0], &r, "id");
	rd_members(&q[1], &d);
	if ((rc = read_all(t, q, 2)) != 0)
		return rc;
	rc = q[0].found ? take_drugs(&q[1], a->drugs) : FMK_ENOTFOUND;
	cw_read_fini(q, 2);
	return rc;
}

int
fmk_get_medication(fmk *f, uint64_t id, fmk_drugs *out)
{
	if (out == NULL)
		return CW_EINVAL;
	if (f->ops != NULL)
		return f->ops->medication(f->st, id, out);
	struct rx_arg a = { .id = id, .drugs = out };
	return run(f, med_body, &a);
}

static int
med_add_body(fmk *f, cw_txn *t, void *arg)
{
	struct rx_arg   *a = arg;
	key              d = k_rx(a->id, "drugs");
	fmk_prescription p;
	fmk_drugs        cur;
	int              rc;
	(void) f;
	if ((rc = rx_read(t, a->id, &p)) != 0)
		return rc;
	if (p.processed)
		return FMK_EPROCESSED;
	cur      = p.drugs;
	size_t n = cur.n;
	for (size_t i = 0; i < a->drugs->n; i++) {
		bool dup = false;
		for (size_t j = 0; j < cur.n; j++)
			dup |= strcmp(cur.name[j], a->drugs->name[i]) == 0;
		n += !dup;
	}
	if (n > FMK_MAX_DRUGS)
		return CW_ETOOBIG;
	for (size_t i = 0; i < a->drugs->n; i++)
		if ((rc = cw_set_add(t, d.s, d.n, a->drugs->name[i],
		         strlen(a->drugs->name[i]))) != 0)
			return rc;
	return 0;
}

int
fmk_update_medication(fmk *f, uint64_t id, const fmk_drugs *add)
{
	if (add == NULL || !drugs_ok(add))
		return CW_EINVAL;
	if (f->ops != NULL)
		return f->ops->add_medication(f->st, id, add);
	struct rx_arg a = { .id = id, .drugs = (fmk_drugs *) add };
	return run(f, med_add_body, &a);
}

/* Spends n units of a bounded counter, waiting for grants; the read
 * after it makes a network write's refusal surface here. */
static int
spend(fmk *f, cw_txn *t, const key *k, int64_t n)
{
	int64_t v;
	int     rc = cw_bcounter_add_wait(t, k->s, k->n, -n, f->o.wait_ms);
	if (rc == 0)
		rc = cw_bcounter_get(t, k->s, k->n, &v);
	return rc;
}

static int
process_body(fmk *f, cw_txn *t, void *arg)
{
	struct rx_arg   *a = arg;
	fmk_prescription p;
	key              r = k_rx(a->id, NULL);
	int              rc;
	if ((rc = rx_read(t, a->id, &p)) != 0)
		return rc;
	if (p.processed)
		return FMK_EPROCESSED;
	if (!(f->o.broken & FMK_BROKEN_NO_TOKEN)) {
		key tok = k_rx(a->id, "token");
		rc      = spend(f, t, &tok, 1);
		if (rc == CW_ENORIGHTS)
			return FMK_ETOKEN;
		if (rc != 0)
			return rc;
	}
	char   delivered[FMK_MAX_DRUGS * (FMK_DRUG_MAX + 1) + 1] = "";
	size_t dl                                                = 0;
	for (size_t i = 0; i < p.drugs.n; i++) {
		key s = k_stock("stock", p.pharmacy, p.drugs.name[i]);
		if ((rc = spend(f, t, &s, 1)) != 0)
			return rc == CW_ENORIGHTS ? FMK_ESTOCK : rc;
		dl += (size_t) snprintf(delivered + dl, sizeof(delivered) - dl,
		    "%s%s", i ? "," : "", p.drugs.name[i]);
	}
	key n = k_rx(a->id, "nproc");
	if ((rc = put_str(t, &r, "processed", "yes")) != 0 ||
	    (rc = put_str(t, &r, "date_processed", a->date)) != 0 ||
	    (rc = put_str(t, &r, "delivered", delivered)) != 0 ||
	    (rc = cw_counter_add(t, n.s, n.n, 1)) != 0)
		return rc;
	return 0;
}

int
fmk_process(fmk *f, uint64_t id, const char *date)
{
	if (!text_ok(date) || date[0] == '\0')
		return CW_EINVAL;
	if (f->ops != NULL)
		return f->ops->process(f->st, id, date);
	struct rx_arg a = { .id = id, .date = date };
	return run(f, process_body, &a);
}

/* ---- stock ---------------------------------------------------------- */

struct stock_arg {
	uint64_t    pharmacy;
	const char *drug;
	int64_t     n;
	int64_t    *out;
};

static int
supply(cw_txn *t, uint64_t pharmacy, const char *drug, int64_t n)
{
	key s = k_stock("stock", pharmacy, drug);
	key u = k_stock("supplied", pharmacy, drug);
	int rc;
	if ((rc = cw_bcounter_add(t, s.s, s.n, n)) != 0 ||
	    (rc = cw_counter_add(t, u.s, u.n, n)) != 0)
		return rc;
	return 0;
}

static int
supply_body(fmk *f, cw_txn *t, void *arg)
{
	struct stock_arg *a = arg;
	key               p = k_entity(FMK_PHARMACY, a->pharmacy);
	bool              there;
	int               rc;
	(void) f;
	if ((rc = exists(t, &p, &there)) != 0)
		return rc;
	if (!there)
		return FMK_ENOTFOUND;
	return supply(t, a->pharmacy, a->drug, a->n);
}

int
fmk_supply(fmk *f, uint64_t pharmacy, const char *drug, int64_t n)
{
	if (drug == NULL || !drug_ok(drug) || n <= 0)
		return CW_EINVAL;
	if (f->ops != NULL)
		return FMK_ENOTSUP;
	struct stock_arg a = { pharmacy, drug, n, NULL };
	return run(f, supply_body, &a);
}

static int
stock_body(fmk *f, cw_txn *t, void *arg)
{
	struct stock_arg *a = arg;
	key               s = k_stock("stock", a->pharmacy, a->drug);
	(void) f;
	return cw_bcounter_get(t, s.s, s.n, a->out);
}

int
fmk_stock(fmk *f, uint64_t pharmacy, const char *drug, int64_t *out)
{
	if (drug == NULL || !drug_ok(drug) || out == NULL)
		return CW_EINVAL;
	if (f->ops != NULL)
		return FMK_ENOTSUP;
	struct stock_arg a = { pharmacy, drug, 0, out };
	return run(f, stock_body, &a);
}

/* ---- dataset -------------------------------------------------------- */

static int
meta_read(cw_txn *t, fmk_meta *m)
{
	key  k = { "", sizeof(meta_key) - 1 };
	bool there;
	int  rc;
	memcpy(k.s, meta_key, sizeof(meta_key));
	memset(m, 0, sizeof(*m));
	if ((rc = get_u64(t, &k, "id", &m->prescriptions, &there)) != 0)
		return rc;
	if (!there)
		return FMK_ENOTFOUND;
	for (int i = 0; i < FMK_NKINDS; i++) {
		char f[40];
		if ((rc = get_u64(t, &k, pop_names[i], &m->n[i], NULL)) != 0)
			return rc;
		snprintf(f, sizeof(f), "done_%s", pop_names[i]);
		if ((rc = get_u64(t, &k, f, &m->done[i], NULL)) != 0)
			return rc;
	}
	uint64_t stock, nd;
	if ((rc = get_u64(t, &k, "prescriptions", &m->prescriptions, NULL)) !=
	        0 ||
	    (rc = get_u64(t, &k, "done_prescriptions", &m->done[FMK_NKINDS],
	         NULL)) != 0 ||
	    (rc = get_u64(
	         t, &k, "done_stock", &m->done[FMK_NKINDS + 1], NULL)) != 0 ||
	    (rc = get_u64(t, &k, "stock", &stock, NULL)) != 0 ||
	    (rc = get_u64(t, &k, "drugs", &nd, NULL)) != 0)
		return rc;
	if (stock > INT64_MAX || nd > FMK_NDRUGS)
		return FMK_ECORRUPT;
	m->stock  = (int64_t) stock;
	m->ndrugs = (int) nd;
	return 0;
}

static int
meta_get_body(fmk *f, cw_txn *t, void *arg)
{
	(void) f;
	return meta_read(t, arg);
}

int
fmk_meta_get(fmk *f, fmk_meta *out)
{
	if (f->ops != NULL)
		return f->ops->meta_get(f->st, out);
	return run(f, meta_get_body, out);
}

static int
meta_put_body(fmk *f, cw_txn *t, void *arg)
{
	const fmk_meta *m = arg;
	key             k = { "", sizeof(meta_key) - 1 };
	int             rc;
	(void) f;
	memcpy(k.s, meta_key, sizeof(meta_key));
	if ((rc = put_u64(t, &k, "id", 1)) != 0)
		return rc;
	for (int i = 0; i < FMK_NKINDS; i++)
		if ((rc = put_u64(t, &k, pop_names[i], m->n[i])) != 0)
			return rc;
	if ((rc = put_u64(t, &k, "prescriptions", m->prescriptions)) != 0 ||
	    (rc = put_u64(t, &k, "stock", (uint64_t) m->stock)) != 0 ||
	    (rc = put_u64(t, &k, "drugs", (uint64_t) m->ndrugs)) != 0)
		return rc;
	return 0;
}

int
fmk_meta_put(fmk *f, const fmk_meta *m)
{
	if (m == NULL || m->stock < 0 || m->ndrugs < 1 ||
	    m->ndrugs > FMK_NDRUGS)
		return CW_EINVAL;
	if (f->ops != NULL)
		return f->ops->meta_put(f->st, m);
	return run(f, meta_put_body, (void *) m);
}

/* Deterministic text for entity i of kind k from the seed. */
static const char *first[]  = { "Ann", "Bo", "Carl", "Dorte", "Emil", "Freja",
	 "Gustav", "Hanne", "Ida", "Jens", "Karen", "Lars", "Mette", "Niels",
	 "Ole", "Pia" };
static const char *last[]   = { "Andersen", "Berg", "Christensen", "Dahl",
	  "Eriksen", "Frost", "Hansen", "Jensen", "Larsen", "Madsen", "Nielsen",
	  "Olsen", "Poulsen", "Rasmussen", "Sorensen", "Thomsen" };
static const char *street[] = { "Norrebrogade", "Vesterbro", "Amagerbrogade",
	"Jagtvej", "Strandvejen", "Bredgade", "Havnegade", "Kongevej" };
static const char *city[]   = { "Copenhagen", "Aarhus", "Odense", "Aalborg",
	  "Esbjerg", "Roskilde" };
static const char *spec[]   = { "general practice", "cardiology", "oncology",
	  "paediatrics", "psychiatry", "dermatology" };
static const char *ftype[]  = { "hospital", "clinic", "hospice" };
#define PICK(a, h) a[(h) % (sizeof(a) / sizeof(a[0]))]

static void
entity_text(fmk_kind k, uint64_t id, uint64_t seed, char *name, char *address,
    char *extra)
{
	uint64_t h = mix64(seed ^ mix64(((uint64_t) k << 56) ^ id));
	if (k == FMK_PATIENT || k == FMK_STAFF)
		snprintf(name, FMK_TEXT_MAX + 1, "%s %s", PICK(first, h),
		    PICK(last, h >> 8));
	else
		snprintf(name, FMK_TEXT_MAX + 1, "%s %s %" PRIu64,
		    PICK(city, h), k == FMK_PHARMACY ? "Apotek" : "Sygehus",
		    id);
	snprintf(address, FMK_TEXT_MAX + 1, "%u %s, %s",
	    (unsigned) (h >> 16) % 200 + 1, PICK(street, h >> 24),
	    PICK(city, h >> 32));
	snprintf(extra, FMK_TEXT_MAX + 1, "%s",
	    k == FMK_STAFF          ? PICK(spec, h >> 40)
	        : k == FMK_FACILITY ? PICK(ftype, h >> 40)
	                            : "");
}

/* Zipf(1) over 1..n by inverse CDF: few patients, many prescriptions. */
static int
zipf_pick(fmk *f, uint64_t n, uint64_t h, uint64_t *out)
{
	if (f->nzipf != n) {
		free(f->zipf);
		f->nzipf = 0;
		if ((f->zipf = malloc(n * sizeof(double))) == NULL)
			return CW_ENOMEM;
		double s = 0;
		for (uint64_t i = 0; i < n; i++)
			f->zipf[i] = (s += 1.0 / (double) (i + 1));
		f->nzipf = n;
	}
	double   u  = (double) (h >> 11) / 9007199254740992.0 * f->zipf[n - 1];
	uint64_t lo = 0, hi = n - 1;
	while (lo < hi) {
		uint64_t mid = (lo + hi) / 2;
		if (f->zipf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	*out = lo + 1;
	return 0;
}

/* Populated prescription id, from the seed: Zipf patient, uniform
 * prescriber and pharmacy, 1-3 drugs (normalized, as a set holds them). */
static int
gen_rx(
    fmk *f, const fmk_meta *m, uint64_t id, uint64_t seed, fmk_prescription *p)
{
	uint64_t h = mix64(seed ^ mix64(~id));
	int      rc;
	memset(p, 0, sizeof(*p));
	p->id = id;
	if ((rc = zipf_pick(f, m->n[FMK_PATIENT], h, &p->patient)) != 0)
		return rc;
	h             = mix64(h);
	p->prescriber = h % m->n[FMK_STAFF] + 1;
	h             = mix64(h);
	p->pharmacy   = h % m->n[FMK_PHARMACY] + 1;
	h             = mix64(h);
	p->drugs.n    = h % 3 + 1;
	for (size_t i = 0; i < p->drugs.n; i++)
		snprintf(p->drugs.name[i], FMK_DRUG_MAX + 1, "%s",
		    drugs[(h >> (8 * (i + 1))) % (uint64_t) m->ndrugs]);
	fmk_drugs_normalize(&p->drugs);
	snprintf(p->date_prescribed, sizeof(p->date_prescribed),
	    "2026-%02u-%02u", (unsigned) (h >> 40) % 12 + 1,
	    (unsigned) (h >> 48) % 28 + 1);
	return 0;
}

/* A populate batch for another store: its rows generated here, so every
 * store holds the same dataset for the same seed. */
static int
pop_store(fmk *f, int what, uint64_t first, uint64_t n, uint64_t seed,
    const fmk_meta *m)
{
	fmk_pop_rows      rows = { what, first, n, NULL, NULL, m };
	fmk_entity       *e    = NULL;
	fmk_prescription *p    = NULL;
	int               rc   = 0;
	if (what < FMK_NKINDS) {
		if ((e = calloc(n, sizeof(*e))) == NULL)
			return CW_ENOMEM;
		for (uint64_t i = 0; i < n; i++) {
			e[i].id = first + i;
			entity_text((fmk_kind) what, first + i, seed,
			    e[i].name, e[i].address, e[i].extra);
		}
		rows.ent = e;
	} else if (what == FMK_POP_PRESCRIPTIONS) {
		if ((p = calloc(n, sizeof(*p))) == NULL)
			return CW_ENOMEM;
		for (uint64_t i = 0; i < n && rc == 0; i++)
			rc = gen_rx(f, m, first + i, seed, &p[i]);
		rows.rx = p;
	}
	if (rc == 0)
		rc = f->ops->populate(f->st, &rows);
	free(e);
	free(p);
	return rc;
}

struct pop_arg {
	int      what; /* fmk_kind, FMK_NKINDS: prescriptions, +1: stock */
	uint64_t first, n, seed;
	fmk_meta m;
};

static int
pop_body(fmk *f, cw_txn *t, void *arg)
{
	struct pop_arg *a  = arg;
	key             mk = { "", sizeof(meta_key) - 1 };
	char            field[40];
	int             rc;
	memcpy(mk.s, meta_key, sizeof(meta_key));
	for (uint64_t id = a->first; id < a->first + a->n; id++) {
		if (a->what < FMK_NKINDS) {
			char name[FMK_TEXT_MAX + 1], addr[FMK_TEXT_MAX + 1],
			    extra[FMK_TEXT_MAX + 1];
			entity_text((fmk_kind) a->what, id, a->seed, name,
			    addr, extra);
			struct ent_arg e = { (fmk_kind) a->what, id, name,
				addr, extra, true, NULL };
			rc               = write_entity(t, &e);
		} else if (a->what == FMK_NKINDS) {
			fmk_prescription p;
			if ((rc = gen_rx(f, &a->m, id, a->seed, &p)) != 0)
				return rc;
			/* the batch and its progress mark commit together,
			 * so no id is created twice and no check is needed */
			rc = rx_write(t, &p, 0);
		} else {
			for (int d = 0; d < a->m.ndrugs; d++)
				if ((rc = supply(
				         t, id, drugs[d], a->m.stock)) != 0)
					return rc;
			rc = 0;
		}
		if (rc != 0)
			return rc;
	}
	snprintf(field, sizeof(field), "done_%s", fmk_pop_name(a->what));
	return put_u64(t, &mk, field, a->first + a->n - 1);
}

int
fmk_populate_batch(fmk *f, int what, uint64_t first, uint64_t n, uint64_t seed)
{
	struct pop_arg a;
	int            rc;
	memset(&a, 0, sizeof(a));
	a.what  = what;
	a.first = first;
	a.n     = n;
	a.seed  = seed;
	if (what < 0 || what > FMK_POP_STOCK || first == 0)
		return CW_EINVAL;
	if (what >= FMK_POP_PRESCRIPTIONS && (rc = fmk_meta_get(f, &a.m)) != 0)
		return rc;
	if (what == FMK_POP_PRESCRIPTIONS &&
	    (a.m.n[FMK_PATIENT] == 0 || a.m.n[FMK_STAFF] == 0 ||
	        a.m.n[FMK_PHARMACY] == 0))
		return CW_EINVAL;
	if (f->ops != NULL)
		return pop_store(f, what, first, n, seed, &a.m);
	return run(f, pop_body, &a);
}

/* ---- checks --------------------------------------------------------- */

/* The relative-order and joint-update checks of one prescription:
 * violations counted into r. */
static int
check_refs(cw_txn *t, const fmk_prescription *p, fmk_report *r)
{
	uint64_t own[3];
	key      e[3], x[3];
	char     id[24];
	cw_read  q[6];
	int      rc;
	rx_owners(p, own);
	snprintf(id, sizeof(id), "%" PRIu64, p->id);
	for (int i = 0; i < 3; i++) {
		e[i] = k_entity(owners[i], own[i]);
		x[i] = k_index(owners[i], own[i]);
		rd_field(&q[2 * i], &e[i], "id");
		q[2 * i + 1] = (cw_read) { .kind = CW_READ_SET_CONTAINS,
			.key                     = x[i].s,
			.kl                      = x[i].n,
			.elem                    = id,
			.el                      = strlen(id) };
	}
	if ((rc = read_all(t, q, 6)) != 0)
		return rc;
	for (int i = 0; i < 3; i++) {
		bool there = q[2 * i].found, listed = q[2 * i + 1].found;
		if (!there)
			r->dangling++;
		if (!listed)
			r->missing_index++;
		if ((!there || !listed) && r->first_bad == 0)
			r->first_bad = p->id;
	}
	cw_read_fini(q, 6);
	return 0;
}

static int
audit_body(fmk *f, cw_txn *t, void *arg)
{
	fmk_report      *r = arg;
	fmk_prescription p;
	int              rc = rx_read(t, r->first_bad, &p);
	(void) f;
	r->first_bad = 0;
	if (rc == FMK_ENOTFOUND)
		return 0;
	return rc != 0 ? rc : check_refs(t, &p, r);
}

int
fmk_audit(fmk *f, uint64_t id)
{
	fmk_report r;
	if (f->ops != NULL)
		return FMK_ENOTSUP;
	memset(&r, 0, sizeof(r));
	r.first_bad = id;
	int rc      = run(f, audit_body, &r);
	if (rc != 0)
		return rc;
	return (int) (r.dangling + r.missing_index);
}

/* Adds the units in a "delivered" list ("a,b") to del[drug]. */
static int
deliver_count(int64_t *del, const char *list)
{
	while (*list != '\0') {
		size_t len = strcspn(list, ",");
		int    d   = -1;
		for (int i = 0; i < FMK_NDRUGS; i++)
			if (strlen(drugs[i]) == len &&
			    memcmp(drugs[i], list, len) == 0)
				d = i;
		if (d < 0)
			return FMK_ECORRUPT;
		del[d]++;
		list += len + (list[len] == ',');
	}
	return 0;
}

struct check_arg {
	fmk_report *r;
	void (*progress)(void *, uint64_t, uint64_t);
	void *parg;
};

static bool
contains(const fmk_ids *l, uint64_t id)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (l->id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && l->id[lo] == id;
}

#define CHECK_BATCH 256 /* index reads per round trip */

static int
check_body(fmk *f, cw_txn *t, void *arg)
{
	struct check_arg *a = arg;
	fmk_report       *r = a->r;
	fmk_meta          m;
	fmk_ids           all = { 0, NULL };
	int64_t          *del = NULL; /* [pharmacy - 1][drug] delivered */
	int               rc;
	(void) f;
	memset(r, 0, sizeof(*r));
	if ((rc = meta_read(t, &m)) != 0)
		return rc;
	if ((del = calloc(m.n[FMK_PHARMACY] * FMK_NDRUGS + 1, 8)) == NULL)
		return CW_ENOMEM;
	/* every prescription, from the registry */
	for (unsigned s = 0; s < FMK_SHARDS; s++) {
		key     k = k_registry(s);
		fmk_ids part;
		if ((rc = read_ids(t, &k, &part)) != 0)
			goto out;
		uint64_t *p =
		    realloc(all.id, (all.n + part.n + 1) * sizeof(uint64_t));
		if (p == NULL) {
			fmk_ids_free(&part);
			rc = CW_ENOMEM;
			goto out;
		}
		all.id = p;
		if (part.n > 0)
			memcpy(all.id + all.n, part.id,
			    part.n * sizeof(uint64_t));
		all.n += part.n;
		fmk_ids_free(&part);
	}
	qsort(all.id, all.n, sizeof(uint64_t), cmp_u64);
	for (size_t i = 0; i < all.n; i++) {
		fmk_prescription p;
		uint64_t         id = all.id[i];
		key              rk = k_rx(id, NULL);
		key              tk = k_rx(id, "token");
		key              nk = k_rx(id, "nproc");
		int64_t          tok, nproc;
		char             dl[FMK_MAX_DRUGS * (FMK_DRUG_MAX + 1) + 1];
		cw_read          x[3] = {
			         { .kind = CW_READ_BCOUNTER, .key = tk.s, .kl = tk.n },
			         { .kind = CW_READ_COUNTER, .key = nk.s, .kl = nk.n },
			         { .kind    = CW_READ_MAP_GET,
			             .key   = rk.s,
			             .kl    = rk.n,
			             .field = "delivered" },
		};
		if ((rc = rx_read_with(t, id, &p, x, 3)) != 0) {
			if (rc != FMK_ENOTFOUND)
				goto out;
			/* in the registry, yet no record: a torn create */
			r->missing_index++;
			if (r->first_bad == 0)
				r->first_bad = id;
			continue;
		}
		r->prescriptions++;
		tok   = x[0].n;
		nproc = x[1].n;
		rc    = take_str(&x[2], dl, sizeof(dl), NULL);
		cw_read_fini(x, 3);
		if (rc != 0 || (rc = check_refs(t, &p, r)) != 0)
			goto out;
		uint64_t bad0 = r->processed_twice + r->token_mismatch;
		if (p.processed)
			r->processed++;
		if (nproc > 1)
			r->processed_twice++;
		if (p.processed != (nproc >= 1))
			r->token_mismatch++;
		/* the token: 1 until processed, then 0, never below */
		if (tok != (p.processed ? 0 : 1))
			r->token_mismatch++;
		if (tok < 0)
			r->stock_negative++;
		if (r->processed_twice + r->token_mismatch > bad0 &&
		    r->first_bad == 0)
			r->first_bad = id;
		if (p.processed && p.pharmacy >= 1 &&
		    p.pharmacy <= m.n[FMK_PHARMACY] &&
		    (rc = deliver_count(
		         del + (p.pharmacy - 1) * FMK_NDRUGS, dl)) != 0)
			goto out;
		if (a->progress != NULL && (i + 1) % 256 == 0)
			a->progress(a->parg, i + 1, all.n);
	}
	/* the other direction: an index entry with no prescription */
	for (int o = 0; o < 3; o++)
		for (uint64_t id = 1; id <= m.n[owners[o]];
		     id += CHECK_BATCH) {
			key     x[CHECK_BATCH];
			cw_read q[CHECK_BATCH];
			size_t  n = m.n[owners[o]] - id + 1;
			if (n > CHECK_BATCH)
				n = CHECK_BATCH;
			for (size_t j = 0; j < n; j++) {
				x[j] = k_index(owners[o], id + j);
				rd_members(&q[j], &x[j]);
			}
			if ((rc = read_all(t, q, n)) != 0)
				goto out;
			for (size_t j = 0; j < n && rc == 0; j++) {
				fmk_ids l;
				if ((rc = take_ids(&q[j], &l)) != 0)
					break;
				for (size_t e = 0; e < l.n; e++)
					if (!contains(&all, l.id[e])) {
						r->orphan_index++;
						if (r->first_bad == 0)
							r->first_bad = l.id[e];
					}
				fmk_ids_free(&l);
				r->entities_checked++;
			}
			cw_read_fini(q, n);
			if (rc != 0)
				goto out;
		}
	/* stock: never below zero, and supplied - delivered */
	for (uint64_t ph = 1; ph <= m.n[FMK_PHARMACY]; ph++) {
		key     sk[FMK_NDRUGS], uk[FMK_NDRUGS];
		cw_read q[2 * FMK_NDRUGS];
		for (int d = 0; d < m.ndrugs; d++) {
			sk[d]        = k_stock("stock", ph, drugs[d]);
			uk[d]        = k_stock("supplied", ph, drugs[d]);
			q[2 * d]     = (cw_read) { .kind = CW_READ_BCOUNTER,
				    .key                 = sk[d].s,
				    .kl                  = sk[d].n };
			q[2 * d + 1] = (cw_read) { .kind = CW_READ_COUNTER,
				.key                     = uk[d].s,
				.kl                      = uk[d].n };
		}
		if ((rc = read_all(t, q, 2 * (size_t) m.ndrugs)) != 0)
			goto out;
		for (int d = 0; d < m.ndrugs; d++) {
			int64_t v = q[2 * d].n, sup = q[2 * d + 1].n;
			r->stock_keys++;
			if (v < 0)
				r->stock_negative++;
			if (v != sup - del[(ph - 1) * FMK_NDRUGS + d])
				r->stock_mismatch++;
		}
		cw_read_fini(q, 2 * (size_t) m.ndrugs);
	}
	if (a->progress != NULL)
		a->progress(a->parg, all.n, all.n);
	rc = 0;
out:
	fmk_ids_free(&all);
	free(del);
	return rc;
}

int
fmk_check_dc(fmk *f, fmk_report                                      *r,
    void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg)
{
	struct check_arg a = { r, progress, arg };
	if (r == NULL)
		return CW_EINVAL;
	if (f->ops != NULL)
		return FMK_ENOTSUP;
	return run(f, check_body, &a);
}

bool
fmk_report_ok(const fmk_report *r)
{
	return r->dangling == 0 && r->missing_index == 0 &&
	    r->orphan_index == 0 && r->processed_twice == 0 &&
	    r->token_mismatch == 0 && r->stock_negative == 0 &&
	    r->stock_mismatch == 0;
}
