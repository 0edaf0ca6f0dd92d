/*
 * history.c - the history file (one JSON object per line) and the
 * checkers (history.h). Complexities are per checker, in the verdicts and
 * in docs/verification.md.
 */
#include "history.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char *const hist_kind_names[K_NKINDS] = { "meta", "txn", "add", "cread",
	"dec", "bread", "fmk", "final_set", "final_counter", "final_bcounter",
	"digest", "fmk_check", "fault", "reg", "final_reg", "rset",
	"final_rset" };
static const char *const status_names[]     = { "ok", "fail", "unknown" };

/* ---- writing ---------------------------------------------------------- */

static void
put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char) *s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

void
hist_write_meta(FILE *f, const history *h)
{
	fprintf(f,
	    "{\"kind\":\"meta\",\"dcs\":%d,\"sessions\":%d,\"set_keys\":%d,"
	    "\"counter_keys\":%d,\"escrow_keys\":%d,\"reg_keys\":%d,"
	    "\"rset_keys\":%d,\"rset_elems\":%d,"
	    "\"escrow_initial\":%" PRId64 ",\"seed\":%" PRIu64 "}\n",
	    h->dcs, h->sessions, h->set_keys, h->counter_keys, h->escrow_keys,
	    h->reg_keys, h->rset_keys, h->rset_elems, h->escrow_initial,
	    h->seed);
}

void
hist_write(FILE *f, const hop *o, const char *cb, const char *ca)
{
	fprintf(f,
	    "{\"id\":%" PRIu64
	    ",\"kind\":\"%s\",\"status\":\"%s\",\"client\":%d,"
	    "\"session\":%d,\"dc\":%d,\"t0\":%.6f,\"t1\":%.6f",
	    o->id, hist_kind_names[o->kind], status_names[o->status],
	    o->client, o->sess, o->dc, o->t0, o->t1);
	if (o->err[0] != '\0')
		fprintf(f, ",\"err\":\"%s\"", o->err);
	if (cb != NULL)
		fprintf(f, ",\"clock_before\":\"%s\"", cb);
	if (ca != NULL)
		fprintf(f, ",\"clock_after\":\"%s\"", ca);
	if (o->kind == K_REG) {
		fprintf(f, ",\"writes\":[");
		for (int i = 0; i < o->nw; i++)
			fprintf(f,
			    "%s{\"k\":%d,\"v\":\"%" PRIu32 ".%" PRIu32 "\"%s}",
			    i ? "," : "", o->wkey[i], o->wval[i].s,
			    o->wval[i].q, o->wdel >> i & 1 ? ",\"d\":1" : "");
		fprintf(f, "]");
		if (o->has_mid)
			fprintf(f,
			    ",\"mid\":{\"k\":%d,\"v\":\"%" PRIu32 ".%" PRIu32
			    "\"}",
			    o->mid_key, o->mid_val.s, o->mid_val.q);
	}
	if (o->kind == K_RSET)
		fprintf(f,
		    ",\"k\":%d,\"e\":%" PRId64 ",\"delta\":%" PRId64
		    ",\"snap\":\"%s\"",
		    o->key, o->value, o->delta, o->text);
	if (o->kind == K_TXN || o->kind == K_REG || o->kind == K_RSET) {
		if (o->kind == K_TXN) {
			fprintf(
			    f, ",\"seq\":%" PRIu32 ",\"writes\":[", o->seq);
			for (int i = 0; i < o->nw; i++)
				fprintf(f, "%s%d", i ? "," : "", o->wkey[i]);
			fprintf(f, "]");
		}
		fprintf(f, ",\"reads\":[");
		for (int i = 0; i < o->nr; i++) {
			fprintf(f, "%s{\"k\":%d,\"v\":[", i ? "," : "",
			    o->r[i].key);
			for (uint32_t j = 0; j < o->r[i].n; j++)
				fprintf(f, "%s\"%" PRIu32 ".%" PRIu32 "\"",
				    j ? "," : "", o->r[i].e[j].s,
				    o->r[i].e[j].q);
			fprintf(f, "]}");
		}
		fprintf(f, "]");
	} else if (o->kind == K_FINAL_SET || o->kind == K_FINAL_REG ||
	    o->kind == K_FINAL_RSET) {
		fprintf(f, ",\"k\":%d,\"v\":[", o->r[0].key);
		for (uint32_t j = 0; j < o->r[0].n; j++)
			fprintf(f, "%s\"%" PRIu32 ".%" PRIu32 "\"",
			    j ? "," : "", o->r[0].e[j].s, o->r[0].e[j].q);
		fprintf(f, "]");
	} else if (o->kind != K_DIGEST) {
		fprintf(f,
		    ",\"k\":%d,\"delta\":%" PRId64 ",\"value\":%" PRId64,
		    o->key, o->delta, o->value);
	}
	if (o->kind == K_DIGEST)
		fprintf(f,
		    ",\"digest\":\"%016" PRIx64 "\",\"grants\":%" PRId64
		    ",\"forwarded\":%" PRId64,
		    o->digest, o->value, o->delta);
	if (o->text[0] != '\0' && o->kind != K_RSET) {
		fprintf(f, ",\"text\":");
		put_str(f, o->text);
	}
	fprintf(f, "}\n");
}

/* ---- reading: a small JSON parser for the lines written above ---------- */

typedef struct jn {
	int         type; /* 'o' object, 'a' array, 's' string, 'n' number */
	const char *key;  /* in an object */
	char       *s;    /* string, unescaped in place */
	double      num;
	int64_t     i;
	struct jn  *child, *next;
} jn;

typedef struct {
	char  *p;
	jn    *pool;
	size_t n, cap;
	bool   bad;
} jp;

static jn *
jnew(jp *j)
{
	if (j->n == j->cap) {
		/* hist_load sizes the pool for the line: cannot happen */
		j->bad = true;
		return NULL;
	}
	jn *x = &j->pool[j->n++];
	memset(x, 0, sizeof(*x));
	return x;
}

static void
ws(jp *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')
		j->p++;
}

static char *
jstring(jp *j)
{
	if (*j->p != '"') {
		j->bad = true;
		return NULL;
	}
	char *out = ++j->p, *w = out;
	while (*j->p && *j->p != '"') {
		if (*j->p == '\\' && j->p[1])
			j->p++;
		*w++ = *j->p++;
	}
	if (*j->p != '"') {
		j->bad = true;
		return NULL;
	}
	j->p++;
	*w = '\0';
	return out;
}

static jn *jvalue(jp *j);

static jn *
jlist(jp *j, int type, char close)
{
	jn *x = jnew(j), **tail;
	if (x == NULL)
		return NULL;
	x->type = type;
	tail    = &x->child;
	j->p++;
	ws(j);
	if (*j->p == close) {
		j->p++;
		return x;
	}
	for (;;) {
		const char *key = NULL;
		ws(j);
		if (type == 'o') {
			if ((key = jstring(j)) == NULL)
				return NULL;
			ws(j);
			if (*j->p++ != ':') {
				j->bad = true;
				return NULL;
			}
		}
		jn *v = jvalue(j);
		if (v == NULL)
			return NULL;
		v->key = key;
		*tail  = v;
		tail   = &v->next;
		ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p == close) {
			j->p++;
			return x;
		}
		j->bad = true;
		return NULL;
	}
}

static jn *
jvalue(jp *j)
{
	ws(j);
	if (*j->p == '{')
		return jlist(j, 'o', '}');
	if (*j->p == '[')
		return jlist(j, 'a', ']');
	jn *x = jnew(j);
	if (x == NULL)
		return NULL;
	if (*j->p == '"') {
		x->type = 's';
		x->s    = jstring(j);
		return x->s ? x : NULL;
	}
	char *end;
	x->type = 'n';
	x->num  = strtod(j->p, &end);
	x->i    = strtoll(j->p, NULL, 10);
	if (end == j->p) {
		j->bad = true;
		return NULL;
	}
	j->p = end;
	return x;
}

static jn *
field(const jn *o, const char *key)
{
	for (jn *c = o->child; c != NULL; c = c->next)
		if (c->key != NULL && strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

static int64_t
fint(const jn *o, const char *key, int64_t def)
{
	jn *f = field(o, key);
	return f != NULL && f->type == 'n' ? f->i : def;
}

static double
fnum(const jn *o, const char *key)
{
	jn *f = field(o, key);
	return f != NULL && f->type == 'n' ? f->num : 0;
}

static const char *
fstr(const jn *o, const char *key)
{
	jn *f = field(o, key);
	return f != NULL && f->type == 's' ? f->s : "";
}

static int
parse_elems(const jn *a, hread *r)
{
	uint32_t n = 0;
	for (jn *c = a ? a->child : NULL; c != NULL; c = c->next)
		n++;
	r->n = 0;
	r->e = n ? malloc(n * sizeof(hw)) : NULL;
	if (n > 0 && r->e == NULL)
		return -1;
	for (jn *c = a ? a->child : NULL; c != NULL; c = c->next) {
		unsigned long s, q;
		if (c->type != 's' || sscanf(c->s, "%lu.%lu", &s, &q) != 2)
			return -1;
		r->e[r->n++] = (hw) { (uint32_t) s, (uint32_t) q };
	}
	return 0;
}

/* A clock in hex (causal.h's encoding: a count, then 8 bytes an entry,
 * little-endian) into v[H_MAXDC]; returns its entries, 0 if none. */
static int
parse_clock(const char *hex, uint64_t *v)
{
	size_t len = strlen(hex);
	if (len < 2)
		return 0;
	unsigned n;
	if (sscanf(hex, "%2x", &n) != 1 || n > H_MAXDC ||
	    len < 2 + 16 * (size_t) n)
		return 0;
	for (unsigned k = 0; k < n; k++) {
		uint64_t x = 0;
		for (int b = 7; b >= 0; b--) {
			unsigned byte;
			if (sscanf(hex + 2 + 16 * k + 2 * (unsigned) b, "%2x",
			        &byte) != 1)
				return 0;
			x = x << 8 | byte;
		}
		v[k] = x;
	}
	return (int) n;
}

/* "S.Q" into *w; -1 if it is not one. */
static int
parse_hw(const jn *c, hw *w)
{
	unsigned long s, q;
	if (c == NULL || c->type != 's' ||
	    sscanf(c->s, "%lu.%lu", &s, &q) != 2)
		return -1;
	*w = (hw) { (uint32_t) s, (uint32_t) q };
	return 0;
}

static int
to_op(const jn *o, hop *op)
{
	const char *k = fstr(o, "kind");
	memset(op, 0, sizeof(*op));
	op->kind = -1;
	for (int i = 0; i < K_NKINDS; i++)
		if (strcmp(k, hist_kind_names[i]) == 0)
			op->kind = i;
	if (op->kind < 0)
		return -1;
	const char *st = fstr(o, "status");
	op->status     = strcmp(st, "fail") == 0 ? ST_FAIL
	        : strcmp(st, "unknown") == 0     ? ST_UNKNOWN
	                                         : ST_OK;
	op->id         = (uint64_t) fint(o, "id", 0);
	op->client     = (int) fint(o, "client", 0);
	op->sess       = (int) fint(o, "session", 0);
	op->dc         = (int) fint(o, "dc", 0);
	op->t0         = fnum(o, "t0");
	op->t1         = fnum(o, "t1");
	op->seq        = (uint32_t) fint(o, "seq", 0);
	op->key        = (int) fint(o, "k", 0);
	op->delta      = fint(o, "delta", 0);
	op->value      = fint(o, "value", 0);
	snprintf(op->err, sizeof(op->err), "%s", fstr(o, "err"));
	snprintf(op->text, sizeof(op->text), "%s", fstr(o, "text"));
	op->digest = strtoull(fstr(o, "digest"), NULL, 16);
	if (op->kind == K_DIGEST) { /* the DC's counters since its start */
		op->value = fint(o, "grants", 0);
		op->delta = fint(o, "forwarded", 0);
	}
	if (op->kind == K_RSET) {
		op->value = fint(o, "e", 0);
		op->nvc   = parse_clock(fstr(o, "snap"), op->snap);
		uint64_t after[H_MAXDC];
		if (parse_clock(fstr(o, "clock_after"), after) == op->nvc)
			memcpy(op->after, after, sizeof(after));
		else
			op->nvc = 0;
	}
	if (op->kind == K_TXN || op->kind == K_REG || op->kind == K_RSET) {
		jn *w = field(o, "writes"), *r = field(o, "reads");
		for (jn *c = w ? w->child : NULL; c && op->nw < H_MAXW;
		     c     = c->next) {
			if (op->kind == K_TXN) {
				op->wkey[op->nw++] = (int) c->i;
				continue;
			}
			op->wkey[op->nw] = (int) fint(c, "k", 0);
			if (fint(c, "d", 0))
				op->wdel |= (uint8_t) (1u << op->nw);
			if (parse_hw(field(c, "v"), &op->wval[op->nw++]) != 0)
				return -1;
		}
		jn *m = field(o, "mid");
		if (op->kind == K_REG && m != NULL) {
			op->has_mid = true;
			op->mid_key = (int) fint(m, "k", 0);
			if (parse_hw(field(m, "v"), &op->mid_val) != 0)
				return -1;
		}
		for (jn *c = r ? r->child : NULL; c && op->nr < H_MAXR;
		     c     = c->next) {
			op->r[op->nr].key = (int) fint(c, "k", 0);
			if (parse_elems(field(c, "v"), &op->r[op->nr++]) != 0)
				return -1;
		}
	} else if (op->kind == K_FINAL_SET || op->kind == K_FINAL_REG ||
	    op->kind == K_FINAL_RSET) {
		op->nr       = 1;
		op->r[0].key = op->key;
		if (parse_elems(field(o, "v"), &op->r[0]) != 0)
			return -1;
	}
	return 0;
}

int
hist_load(history *h, const char *path)
{
	FILE  *f    = fopen(path, "r");
	char  *line = NULL;
	size_t lcap = 0, lineno = 0;
	jp     j = { 0 };
	memset(h, 0, sizeof(*h));
	if (f == NULL) {
		perror(path);
		return -1;
	}
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) > 0) {
		lineno++;
		/* a node per ',' at most, plus a few */
		size_t need = 8;
		for (ssize_t i = 0; i < len; i++)
			need += (line[i] == ',') +
			    2 * (line[i] == '[' || line[i] == '{');
		if (need > j.cap) {
			free(j.pool);
			j.cap  = need * 2;
			j.pool = malloc(j.cap * sizeof(jn));
			if (j.pool == NULL)
				goto bad;
		}
		j.n   = 0;
		j.p   = line;
		j.bad = false;
		jn *o = jvalue(&j);
		if (o == NULL || j.bad || o->type != 'o')
			goto bad;
		if (strcmp(fstr(o, "kind"), "meta") == 0) {
			h->dcs            = (int) fint(o, "dcs", 0);
			h->sessions       = (int) fint(o, "sessions", 0);
			h->set_keys       = (int) fint(o, "set_keys", 0);
			h->counter_keys   = (int) fint(o, "counter_keys", 0);
			h->escrow_keys    = (int) fint(o, "escrow_keys", 0);
			h->reg_keys       = (int) fint(o, "reg_keys", 0);
			h->rset_keys      = (int) fint(o, "rset_keys", 0);
			h->rset_elems     = (int) fint(o, "rset_elems", 0);
			h->escrow_initial = fint(o, "escrow_initial", 0);
			h->seed           = (uint64_t) fint(o, "seed", 0);
			continue;
		}
		if (h->n == h->cap) {
			size_t c = h->cap ? h->cap * 2 : 1024;
			hop   *p = realloc(h->op, c * sizeof(hop));
			if (p == NULL)
				goto bad;
			h->op  = p;
			h->cap = c;
		}
		if (to_op(o, &h->op[h->n]) != 0) {
			for (int i = 0; i < h->op[h->n].nr; i++)
				free(h->op[h->n].r[i].e);
			goto bad;
		}
		h->n++;
	}
	free(line);
	free(j.pool);
	fclose(f);
	if (h->sessions <= 0 || h->dcs <= 0) {
		fprintf(stderr, "%s: no meta line\n", path);
		hist_free(h);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "%s:%zu: not a history line\n", path, lineno);
	free(line);
	free(j.pool);
	fclose(f);
	hist_free(h);
	return -1;
}

void
hist_free(history *h)
{
	for (size_t i = 0; i < h->n; i++)
		for (int r = 0; r < h->op[i].nr; r++)
			free(h->op[i].r[r].e);
	free(h->op);
	memset(h, 0, sizeof(*h));
}

/* ---- checkers ------------------------------------------------------------
 */

enum {
	C_CAUSAL,
	C_ATOMIC,
	C_SESSION,
	C_CONV,
	C_DURABLE,
	C_ESCROW,
	C_FMK,
	C_SI,
	C_LWW,
	C_ORSET
};

#include <stdarg.h>
void
hist_violation(verdict *v, bool verbose, const char *fmt, ...)
{
	char    msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (v->violations == 0)
		snprintf(v->first, sizeof(v->first), "%s", msg);
	if (verbose && v->violations < 20)
		fprintf(stderr, "  %s: %s\n", v->name, msg);
	v->violations++;
}

/* The writes of the set workload, indexed by session and sequence. */
typedef struct {
	size_t   *op; /* history index of write q of session s: [s][q] */
	uint32_t *nq; /* writes per session */
	uint32_t  ns;
} wtable;

static size_t
wt_find(const wtable *t, hw w)
{
	if (w.s >= t->ns || w.q == 0 || w.q > t->nq[w.s])
		return SIZE_MAX;
	return t->op[(size_t) w.s * (t->nq[t->ns] + 1) + w.q];
}

/* Sorted seqs of OK writes per (key, session): how many are <= q. */
typedef struct {
	uint32_t *seq;
	size_t    n, cap;
} seqs;

static size_t
count_le(const seqs *s, uint32_t q)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->seq[mid] <= q)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
seqs_push(seqs *s, uint32_t q)
{
	if (s->n == s->cap) {
		size_t    c = s->cap ? s->cap * 2 : 8;
		uint32_t *p = realloc(s->seq, c * sizeof(uint32_t));
		if (p == NULL)
			return -1;
		s->seq = p;
		s->cap = c;
	}
	if (s->n > 0 && s->seq[s->n - 1] == q)
		return 0;   /* the same set twice in one write */
	s->seq[s->n++] = q; /* sessions write in order: stays sorted */
	return 0;
}

/*
 * Causal, atomic and session checks of the set workload, in one pass.
 *
 * Each transaction T of session s gets the vector V(T): for every session
 * j, the highest write of j in T's causal past. V(T) joins what s had seen
 * before T (its own acknowledged writes, and everything its earlier reads
 * observed, with their causal past) and, for every write w that T's reads
 * observed, w itself and V(w's transaction). Under TCC, T's snapshot holds
 * every acknowledged write in V(T): so for each set k that T read and each
 * session j, T must observe every OK write of j to k with seq <= V(T)[j].
 * Unknown writes are never required (they may not have happened), and a
 * session's later writes do not depend on its unknown ones.
 *
 * Transactions are visited in a topological order of "session order +
 * reads-from" (Kahn), so V of every observed write is known; a cycle is a
 * causality violation of its own. Cost: O(T * (E + K * S * log W)) for T
 * transactions, E elements read, K sets read per transaction, S sessions,
 * W writes per set and session.
 */
static void
check_sets(const history *h, verdict *v, bool verbose)
{
	uint32_t S    = (uint32_t) h->sessions;
	uint32_t maxq = 0;
	size_t   ntx  = 0;
	int      K    = h->set_keys;
	/* index writes */
	uint32_t *nq = calloc(S + 1, sizeof(uint32_t));
	for (size_t i = 0; i < h->n; i++) {
		const hop *o = &h->op[i];
		if (o->kind != K_TXN)
			continue;
		ntx++;
		if (o->sess < 0 || (uint32_t) o->sess >= S || o->key < 0)
			continue;
		if (o->seq > nq[o->sess])
			nq[o->sess] = o->seq;
		if (o->seq > maxq)
			maxq = o->seq;
	}
	nq[S]     = maxq;
	wtable wt = { calloc((size_t) S * (maxq + 1), sizeof(size_t)), nq, S };
	seqs  *ok = calloc((size_t) K * S + 1, sizeof(seqs));
	size_t *tx   = malloc((ntx + 1) * sizeof(size_t)); /* txn -> op */
	size_t *txof = malloc((h->n + 1) * sizeof(size_t));
	if (wt.op == NULL || ok == NULL || tx == NULL || txof == NULL)
		goto out;
	for (size_t i = 0; i < (size_t) S * (maxq + 1); i++)
		wt.op[i] = SIZE_MAX;
	ntx = 0;
	for (size_t i = 0; i < h->n; i++) {
		const hop *o = &h->op[i];
		txof[i]      = SIZE_MAX;
		if (o->kind != K_TXN)
			continue;
		txof[i]   = ntx;
		tx[ntx++] = i;
		if (o->seq == 0 || (uint32_t) o->sess >= S)
			continue;
		wt.op[(size_t) o->sess * (maxq + 1) + o->seq] = i;
		if (o->status == ST_OK)
			for (int w = 0; w < o->nw; w++)
				if (o->wkey[w] >= 0 && o->wkey[w] < K &&
				    seqs_push(&ok[(size_t) o->wkey[w] * S +
				                  (size_t) o->sess],
				        o->seq) != 0)
					goto out;
	}
	/* element sanity: every observed element was written, not by an
	 * aborted transaction */
	uint32_t *indeg = calloc(ntx + 1, sizeof(uint32_t));
	size_t   *prev  = malloc((S + 1) * sizeof(size_t));
	uint32_t *V     = calloc((size_t) (ntx + 1) * S, sizeof(uint32_t));
	uint32_t *seen  = calloc((size_t) S, sizeof(uint32_t) * (S + 1));
	size_t   *queue = malloc((ntx + 1) * sizeof(size_t));
	/* successors as an edge list: session successor + readers */
	size_t *nsucc = calloc(ntx + 1, sizeof(size_t));
	size_t *soff = NULL, *succ = NULL;
	if (!indeg || !prev || !V || !seen || !queue || !nsucc)
		goto out2;
	for (uint32_t s = 0; s < S; s++)
		prev[s] = SIZE_MAX;
	/* pass 1: count edges */
	for (size_t t = 0; t < ntx; t++) {
		const hop *o = &h->op[tx[t]];
		if ((uint32_t) o->sess < S) {
			if (prev[o->sess] != SIZE_MAX) {
				nsucc[prev[o->sess]]++;
				indeg[t]++;
			}
			prev[o->sess] = t;
		}
		for (int r = 0; r < o->nr; r++)
			for (uint32_t e = 0; e < o->r[r].n; e++) {
				size_t wi = wt_find(&wt, o->r[r].e[e]);
				if (wi == SIZE_MAX) {
					hist_violation(&v[C_CAUSAL], verbose,
					    "op %" PRIu64 " read %" PRIu32
					    ".%" PRIu32 ", which nobody wrote",
					    o->id, o->r[r].e[e].s,
					    o->r[r].e[e].q);
					continue;
				}
				if (h->op[wi].status == ST_FAIL)
					hist_violation(&v[C_ATOMIC], verbose,
					    "op %" PRIu64 " read %" PRIu32
					    ".%" PRIu32 " of op %" PRIu64
					    ", which failed (%s)",
					    o->id, o->r[r].e[e].s,
					    o->r[r].e[e].q, h->op[wi].id,
					    h->op[wi].err);
				if (wi != tx[t]) {
					nsucc[txof[wi]]++;
					indeg[t]++;
				}
			}
	}
	size_t ne = 0;
	if ((soff = malloc((ntx + 1) * sizeof(size_t))) == NULL)
		goto out2;
	for (size_t t = 0; t < ntx; t++) {
		soff[t] = ne;
		ne += nsucc[t];
		nsucc[t] = 0;
	}
	soff[ntx] = ne;
	if ((succ = malloc((ne + 1) * sizeof(size_t))) == NULL)
		goto out2;
	for (uint32_t s = 0; s < S; s++)
		prev[s] = SIZE_MAX;
	for (size_t t = 0; t < ntx; t++) {
		const hop *o = &h->op[tx[t]];
		if ((uint32_t) o->sess < S) {
			if (prev[o->sess] != SIZE_MAX) {
				size_t p                   = prev[o->sess];
				succ[soff[p] + nsucc[p]++] = t;
			}
			prev[o->sess] = t;
		}
		for (int r = 0; r < o->nr; r++)
			for (uint32_t e = 0; e < o->r[r].n; e++) {
				size_t wi = wt_find(&wt, o->r[r].e[e]);
				if (wi != SIZE_MAX && wi != tx[t]) {
					size_t p                   = txof[wi];
					succ[soff[p] + nsucc[p]++] = t;
				}
			}
	}
	/* pass 2: Kahn */
	size_t qh = 0, qt = 0, done = 0;
	for (size_t t = 0; t < ntx; t++)
		if (indeg[t] == 0)
			queue[qt++] = t;
	uint32_t *cnt = calloc(S, sizeof(uint32_t));
	if (cnt == NULL)
		goto out2;
	while (qh < qt) {
		size_t     t  = queue[qh++];
		const hop *o  = &h->op[tx[t]];
		uint32_t   s  = (uint32_t) o->sess;
		uint32_t  *vt = &V[t * S];
		uint32_t  *sn = s < S ? &seen[(size_t) s * S] : NULL;
		done++;
		if (sn != NULL)
			memcpy(vt, sn, S * sizeof(uint32_t));
		for (int r = 0; r < o->nr; r++)
			for (uint32_t e = 0; e < o->r[r].n; e++) {
				hw     w  = o->r[r].e[e];
				size_t wi = wt_find(&wt, w);
				if (wi == SIZE_MAX || wi == tx[t])
					continue;
				const uint32_t *vw = &V[txof[wi] * S];
				for (uint32_t j = 0; j < S; j++)
					if (vw[j] > vt[j])
						vt[j] = vw[j];
				if (w.q > vt[w.s])
					vt[w.s] = w.q;
			}
		/* the check: every read holds every OK write in V(T) */
		for (int r = 0; r < o->nr && o->status != ST_FAIL; r++) {
			const hread *rd = &o->r[r];
			if (rd->key < 0 || rd->key >= K)
				continue;
			memset(cnt, 0, S * sizeof(uint32_t));
			for (uint32_t e = 0; e < rd->n; e++) {
				hw     w  = rd->e[e];
				size_t wi = wt_find(&wt, w);
				if (wi != SIZE_MAX &&
				    h->op[wi].status == ST_OK &&
				    w.q <= vt[w.s])
					cnt[w.s]++;
			}
			for (uint32_t j = 0; j < S; j++) {
				const seqs *sq = &ok[(size_t) rd->key * S + j];
				size_t      need = count_le(sq, vt[j]);
				if (cnt[j] >= need)
					continue;
				/* find a missing write, to name it */
				uint32_t miss = 0;
				for (size_t x = 0; x < need && miss == 0;
				     x++) {
					bool found = false;
					for (uint32_t e = 0;
					     e < rd->n && !found; e++)
						found = rd->e[e].s == j &&
						    rd->e[e].q == sq->seq[x];
					if (!found)
						miss = sq->seq[x];
				}
				size_t mi = wt_find(&wt, (hw) { j, miss });
				/* which checker: did T observe that very write
				 * elsewhere (atomic), was it in the session's
				 * own past (session), or is it causal */
				bool elsewhere = false;
				for (int r2 = 0; r2 < o->nr; r2++)
					for (uint32_t e = 0; e < o->r[r2].n;
					     e++)
						elsewhere |=
						    o->r[r2].e[e].s == j &&
						    o->r[r2].e[e].q == miss;
				int which = elsewhere               ? C_ATOMIC
				    : (sn != NULL && miss <= sn[j]) ? C_SESSION
				                                    : C_CAUSAL;
				hist_violation(&v[which], verbose,
				    "op %" PRIu64
				    " (session %u, DC %d) read set "
				    "%d without %u.%u (op %" PRIu64 ")%s",
				    o->id, s, o->dc, rd->key, j, miss,
				    mi != SIZE_MAX ? h->op[mi].id : 0,
				    which == C_ATOMIC
				        ? ", a write it saw in another set"
				        : which == C_SESSION
				        ? ", which its session had already "
				          "written or seen"
				        : ", which is in the causal past of "
				          "what it read");
			}
		}
		v[C_CAUSAL].checked++;
		v[C_ATOMIC].checked++;
		v[C_SESSION].checked++;
		/* the session has now seen V(T), and its own write if OK */
		if (sn != NULL) {
			memcpy(sn, vt, S * sizeof(uint32_t));
			if (o->seq > 0 && o->status == ST_OK && o->seq > sn[s])
				sn[s] = o->seq;
		}
		for (size_t x = soff[t]; x < soff[t] + nsucc[t]; x++)
			if (--indeg[succ[x]] == 0)
				queue[qt++] = succ[x];
	}
	if (done < ntx)
		hist_violation(&v[C_CAUSAL], verbose,
		    "%zu transactions sit on a cycle of session order and "
		    "reads-from (a read saw a write from its own future)",
		    ntx - done);
	free(cnt);
out2:
	free(indeg);
	free(prev);
	free(V);
	free(seen);
	free(queue);
	free(nsucc);
	free(soff);
	free(succ);
out:
	for (size_t i = 0; ok != NULL && i < (size_t) K * S; i++)
		free(ok[i].seq);
	free(ok);
	free(wt.op);
	free(nq);
	free(tx);
	free(txof);
}

static int
cmp_hw(const void *a, const void *b)
{
	const hw *x = a, *y = b;
	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return x->q < y->q ? -1 : x->q > y->q;
}

/*
 * Convergence and durability, from the final reads after the last heal.
 * Every DC reported the same digest; each set is the same at every DC,
 * holds every OK write to it (durability) and nothing but OK or unknown
 * writes; each counter is the same everywhere and lies between the sum of
 * OK adds and that plus the unknown ones. O(W log W + K * D * E).
 */
static void
check_final(const history *h, verdict *v, bool verbose)
{
	int      K = h->set_keys, C = h->counter_keys, D = h->dcs;
	uint64_t d0 = 0;
	int      nd = 0;
	/* digests */
	for (size_t i = 0; i < h->n; i++) {
		const hop *o = &h->op[i];
		if (o->kind != K_DIGEST)
			continue;
		if (nd++ == 0)
			d0 = o->digest;
		else if (o->digest != d0)
			hist_violation(&v[C_CONV], verbose,
			    "DC %d digest %016" PRIx64
			    " != DC 0's %016" PRIx64,
			    o->dc, o->digest, d0);
	}
	v[C_CONV].checked += (uint64_t) nd;
	if (nd < D)
		hist_violation(&v[C_CONV], verbose,
		    "only %d of %d DCs reported a final digest (no "
		    "convergence after the heal?)",
		    nd, D);
	/* sets: expected contents from the writes */
	for (int k = 0; k < K; k++) {
		const hop *first = NULL;
		for (size_t i = 0; i < h->n; i++) {
			const hop *o = &h->op[i];
			if (o->kind != K_FINAL_SET || o->key != k)
				continue;
			hw *e = o->r[0].e;
			if (o->r[0].n > 1)
				qsort(e, o->r[0].n, sizeof(hw), cmp_hw);
			v[C_CONV].checked++;
			if (first == NULL)
				first = o;
			else if (first->r[0].n != o->r[0].n ||
			    (o->r[0].n > 0 &&
			        memcmp(first->r[0].e, e,
			            o->r[0].n * sizeof(hw)) != 0))
				hist_violation(&v[C_CONV], verbose,
				    "set %d differs between DC %d (%u) and DC "
				    "%d (%u elements)",
				    k, first->dc, first->r[0].n, o->dc,
				    o->r[0].n);
		}
		if (first == NULL)
			continue;
		/* each write to k: OK ones must be there, failed ones not */
		for (size_t i = 0; i < h->n; i++) {
			const hop *o = &h->op[i];
			if (o->kind != K_TXN || o->seq == 0)
				continue;
			bool writes = false;
			for (int w = 0; w < o->nw; w++)
				writes |= o->wkey[w] == k;
			if (!writes)
				continue;
			hw   key = { (uint32_t) o->sess, o->seq };
			bool in  = first->r[0].n > 0 &&
			    bsearch(&key, first->r[0].e, first->r[0].n,
			        sizeof(hw), cmp_hw) != NULL;
			v[C_DURABLE].checked++;
			if (o->status == ST_OK && !in)
				hist_violation(&v[C_DURABLE], verbose,
				    "op %" PRIu64 " (session %d) committed "
				    "%d.%u to set %d, missing from the final "
				    "state",
				    o->id, o->sess, o->sess, o->seq, k);
			if (o->status == ST_FAIL && in)
				hist_violation(&v[C_CONV], verbose,
				    "op %" PRIu64
				    " failed (%s), yet its write "
				    "is in set %d",
				    o->id, o->err, k);
		}
	}
	/* counters */
	for (int k = 0; k < C; k++) {
		int64_t lo = 0, hi = 0, val = 0;
		int     seen = 0;
		for (size_t i = 0; i < h->n; i++) {
			const hop *o = &h->op[i];
			if (o->kind == K_ADD && o->key == k) {
				if (o->status == ST_OK)
					lo += o->delta;
				if (o->status != ST_FAIL)
					hi += o->delta;
			}
		}
		for (size_t i = 0; i < h->n; i++) {
			const hop *o = &h->op[i];
			if (o->kind != K_FINAL_COUNTER || o->key != k)
				continue;
			v[C_CONV].checked++;
			if (seen++ == 0)
				val = o->value;
			else if (o->value != val)
				hist_violation(&v[C_CONV], verbose,
				    "counter %d is %" PRId64
				    " at DC %d, %" PRId64 " at another",
				    k, o->value, o->dc, val);
			if (o->value < lo)
				hist_violation(&v[C_DURABLE], verbose,
				    "counter %d is %" PRId64
				    " at DC %d, below "
				    "the %" PRId64 " acknowledged",
				    k, o->value, o->dc, lo);
			else if (o->value > hi)
				hist_violation(&v[C_CONV], verbose,
				    "counter %d is %" PRId64
				    " at DC %d, above "
				    "every add issued (%" PRId64 ")",
				    k, o->value, o->dc, hi);
		}
	}
}

/*
 * Escrow: no read of a bounded counter anywhere below 0, and the final
 * value equals initial - acknowledged decrements, less at most the
 * unknown ones (a final value above that is a lost acknowledged
 * decrement: durability). O(n).
 */
static void
check_escrow(const history *h, verdict *v, bool verbose)
{
	for (int k = 0; k < h->escrow_keys; k++) {
		int64_t ok = 0, unk = 0;
		for (size_t i = 0; i < h->n; i++) {
			const hop *o = &h->op[i];
			if (o->key != k)
				continue;
			if (o->kind == K_DEC && o->status == ST_OK)
				ok += -o->delta;
			if (o->kind == K_DEC && o->status == ST_UNKNOWN)
				unk += -o->delta;
			if ((o->kind == K_BREAD && o->status == ST_OK) ||
			    o->kind == K_FINAL_BCOUNTER) {
				v[C_ESCROW].checked++;
				if (o->value < 0)
					hist_violation(&v[C_ESCROW], verbose,
					    "op %" PRIu64
					    " read bounded counter "
					    "%d = %" PRId64 " at DC %d",
					    o->id, k, o->value, o->dc);
			}
		}
		for (size_t i = 0; i < h->n; i++) {
			const hop *o = &h->op[i];
			if (o->kind != K_FINAL_BCOUNTER || o->key != k)
				continue;
			int64_t hi = h->escrow_initial - ok;
			/* above: an acknowledged decrement was lost; below:
			 * more was spent than was acknowledged or may be */
			if (o->value > hi || o->value < hi - unk)
				hist_violation(
				    &v[o->value > hi ? C_DURABLE : C_ESCROW],
				    verbose,
				    "bounded counter %d ends at %" PRId64
				    " at DC %d: initial %" PRId64 " - %" PRId64
				    " acknowledged decrements (- up to "
				    "%" PRId64 " unknown)",
				    k, o->value, o->dc, h->escrow_initial, ok,
				    unk);
		}
	}
}

/* FMK: the audits during the run and `fmk check` at every DC. O(n). */
static void
check_fmk(const history *h, verdict *v, bool verbose)
{
	for (size_t i = 0; i < h->n; i++) {
		const hop *o = &h->op[i];
		if (o->kind == K_FMK || o->kind == K_FMK_CHECK) {
			v[C_FMK].checked++;
			if (o->value > 0)
				hist_violation(&v[C_FMK], verbose,
				    "op %" PRIu64 " at DC %d: %s: %" PRId64
				    " violations",
				    o->id, o->dc, o->text, o->value);
		}
	}
}

uint64_t
hist_check(const history *h, verdict v[NCHECKS], bool verbose)
{
	static const char *names[NCHECKS] = { "causal visibility",
		"atomic visibility", "session guarantees", "convergence",
		"durability", "escrow bound", "fmk invariants",
		"snapshot isolation", "LWW with causality",
		"observed-remove sets" };
	static const char *cost[NCHECKS] = { "O(T(E+KS log W))", "(same pass)",
		"(same pass)", "O(W log W + KDE)", "(same pass)", "O(n)",
		"O(n)", "O(T S log W + E)", "(same pass)",
		"O(R A + A D log R)" };
	memset(v, 0, NCHECKS * sizeof(verdict));
	for (int i = 0; i < NCHECKS; i++) {
		v[i].name       = names[i];
		v[i].complexity = cost[i];
	}
	check_sets(h, v, verbose);
	check_final(h, v, verbose);
	check_escrow(h, v, verbose);
	check_fmk(h, v, verbose);
	hist_check_registers(h, &v[C_SI], &v[C_LWW], verbose);
	hist_check_orset(h, &v[C_ORSET], verbose);
	uint64_t total = 0;
	for (int i = 0; i < NCHECKS; i++)
		total += v[i].violations;
	return total;
}

/* ---- coverage ----------------------------------------------------------- */

static int
cmp_regw(const void *pa, const void *pb)
{
	const double *a = pa, *b = pb; /* key, t1, dc */
	if (a[0] != b[0])
		return a[0] < b[0] ? -1 : 1;
	return a[1] < b[1] ? -1 : a[1] > b[1];
}

int
hist_coverage(const history *h, FILE *out)
{
	uint64_t conflicts = 0, unknown = 0, moved = 0, moved_ro = 0;
	uint64_t skewed = 0, norights = 0, mids = 0, lww_close = 0, nregw = 0;
	uint64_t fremoves = 0, grants = 0, forwarded = 0;
	uint64_t faults[8]           = { 0 };
	static const char *fnames[8] = { "cut", "isolate", "non-transitive",
		"slow link", "lossy", "SIGKILL", "SIGSTOP", "DC " };
	int                S         = h->sessions > 0 ? h->sessions : 1;
	int               *last_dc   = malloc((size_t) S * sizeof(int));
	bool              *wrote     = calloc((size_t) S, sizeof(bool));
	double            *skew      = malloc((h->n + 1) * 2 * sizeof(double));
	double *regw     = malloc((h->n * H_MAXW + 1) * 3 * sizeof(double));
	size_t  nskew    = 0;
	int     not_seen = 0;
	if (last_dc == NULL || wrote == NULL || skew == NULL || regw == NULL)
		goto out;
	for (int s = 0; s < S; s++)
		last_dc[s] = -1;
	for (size_t i = 0; i < h->n; i++) {
		const hop *o = &h->op[i];
		if (o->kind == K_DIGEST) {
			grants += (uint64_t) o->value;
			forwarded += (uint64_t) o->delta;
			continue;
		}
		if (o->kind == K_FAULT) {
			for (int f = 0; f < 8; f++)
				if (strncmp(o->text, fnames[f],
				        strlen(fnames[f])) == 0) {
					faults[f]++;
					if (f == 7) {
						skew[2 * nskew]     = o->t0;
						skew[2 * nskew + 1] = o->t1;
						nskew++;
					}
					break;
				}
			continue;
		}
		if ((o->kind == K_TXN || o->kind == K_REG) && o->nw > 0)
			wrote[o->sess % S] = true;
		if (o->kind == K_ADD || o->kind == K_DEC || o->kind == K_FMK)
			wrote[o->sess % S] = true;
	}
	for (size_t i = 0; i < h->n; i++) {
		const hop *o = &h->op[i];
		if (o->kind != K_TXN && o->kind != K_REG && o->kind != K_ADD &&
		    o->kind != K_CREAD && o->kind != K_DEC &&
		    o->kind != K_BREAD && o->kind != K_FMK)
			continue;
		int s = o->sess % S;
		conflicts += strcmp(o->err, "ECONFLICT") == 0;
		norights += strcmp(o->err, "ENORIGHTS") == 0;
		unknown += o->status == ST_UNKNOWN;
		bool reads = o->kind == K_TXN || o->kind == K_REG ||
		    o->kind == K_CREAD || o->kind == K_BREAD;
		if (reads && o->status == ST_OK && last_dc[s] >= 0 &&
		    last_dc[s] != o->dc) {
			moved++;
			moved_ro += !wrote[s];
		}
		last_dc[s] = o->dc;
		for (size_t f = 0; f < nskew; f++)
			if (o->status == ST_OK && o->t1 >= skew[2 * f] &&
			    o->t0 <= skew[2 * f + 1]) {
				skewed++;
				break;
			}
		if (o->kind == K_REG && o->status == ST_OK) {
			mids += o->has_mid;
			for (int w = 0; w < o->nw; w++) {
				fremoves += o->wdel >> w & 1;
				regw[3 * nregw]     = o->wkey[w];
				regw[3 * nregw + 1] = o->t1;
				regw[3 * nregw + 2] = o->dc;
				nregw++;
			}
		}
	}
	/* removes that met a concurrent add of their element: neither in
	 * the other's snapshot (add-wins decides) */
	uint64_t concurrent_rm = 0;
	int      RK = h->rset_keys, RE = h->rset_elems;
	if (RK > 0 && RE > 0) {
		size_t  slots = (size_t) RK * (size_t) RE;
		size_t *cnt   = calloc(slots + 1, sizeof(size_t));
		size_t *idx   = malloc((h->n + 1) * sizeof(size_t));
		if (cnt == NULL || idx == NULL)
			goto no_rm;
		/* the ok adds, grouped by (set, element): counting sort */
		for (size_t i = 0; i < h->n; i++) {
			const hop *a = &h->op[i];
			if (a->kind == K_RSET && a->delta > 0 &&
			    a->status == ST_OK && a->nvc > a->dc &&
			    a->key >= 0 && a->key < RK && a->value >= 0 &&
			    a->value < RE)
				cnt[(size_t) a->key * (size_t) RE +
				    (size_t) a->value + 1]++;
		}
		for (size_t k = 0; k < slots; k++)
			cnt[k + 1] += cnt[k];
		size_t *at = malloc((slots + 1) * sizeof(size_t));
		if (at == NULL)
			goto no_rm;
		memcpy(at, cnt, (slots + 1) * sizeof(size_t));
		for (size_t i = 0; i < h->n; i++) {
			const hop *a = &h->op[i];
			if (a->kind == K_RSET && a->delta > 0 &&
			    a->status == ST_OK && a->nvc > a->dc &&
			    a->key >= 0 && a->key < RK && a->value >= 0 &&
			    a->value < RE) {
				idx[at[(size_t) a->key * (size_t) RE +
				    (size_t) a->value]++] = i;
			}
		}
		free(at);
		for (size_t i = 0; i < h->n; i++) {
			const hop *r = &h->op[i];
			if (r->kind != K_RSET || r->delta >= 0 ||
			    r->status != ST_OK || r->nvc <= r->dc ||
			    r->key < 0 || r->key >= RK || r->value < 0 ||
			    r->value >= RE)
				continue;
			bool held = false; /* else the remove did nothing */
			for (uint32_t e = 0; e < r->r[0].n; e++)
				held |= (int64_t) r->r[0].e[e].s == r->value;
			if (!held)
				continue;
			size_t k =
			    (size_t) r->key * (size_t) RE + (size_t) r->value;
			for (size_t j = cnt[k]; j < cnt[k + 1]; j++) {
				const hop *a = &h->op[idx[j]];
				if (a->nvc == r->nvc &&
				    a->after[a->dc] > r->snap[a->dc] &&
				    r->after[r->dc] > a->snap[r->dc]) {
					concurrent_rm++;
					break;
				}
			}
		}
	no_rm:
		free(cnt);
		free(idx);
	}
	/* writes of one key from two DCs within 50 ms: the races
	 * last-writer-wins decides */
	qsort(regw, nregw, 3 * sizeof(double), cmp_regw);
	for (size_t i = 1; i < nregw; i++)
		lww_close += regw[3 * i] == regw[3 * i - 3] &&
		    regw[3 * i + 2] != regw[3 * i - 1] &&
		    regw[3 * i + 1] - regw[3 * i - 2] < 0.05;
	struct {
		const char *what;
		uint64_t    n;
		bool        expected; /* its absence is worth saying */
	} rows[] = {
		{ "transactions refused ECONFLICT (first committer wins)",
		    conflicts, h->reg_keys > 0 },
		{ "register writes of one key from two DCs within 50 ms",
		    lww_close, h->reg_keys > 0 && h->dcs > 1 },
		{ "register transactions that wrote a key twice", mids,
		    h->reg_keys > 0 },
		{ "map fields removed (committed removes)", fremoves,
		    h->reg_keys > 0 },
		{ "removes that met a concurrent add of their element",
		    concurrent_rm, h->rset_keys > 0 && h->dcs > 1 },
		{ "reads right after the session moved DC", moved,
		    h->dcs > 1 },
		{ "  of them by sessions that never write", moved_ro,
		    h->dcs > 1 },
		{ "escrow decrements refused for want of rights", norights,
		    h->escrow_keys > 0 },
		{ "escrow requests granted (since each DC's last start)",
		    grants, h->escrow_keys > 0 && h->dcs > 1 },
		{ "records a DC forwarded for another origin (same)",
		    forwarded, false },
		{ "outcomes unknown (timeouts, lost links)", unknown, false },
		{ "operations completed while a DC's clock was skewed", skewed,
		    faults[7] > 0 },
	};
	fprintf(out, "\n%-56s %9s\n", "what happened", "times");
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		bool miss = rows[r].n == 0 && rows[r].expected;
		not_seen += miss;
		fprintf(out, "%-56s %9" PRIu64 "%s\n", rows[r].what, rows[r].n,
		    miss ? "  NOT SEEN" : "");
	}
	fprintf(out, "faults: ");
	for (int f = 0; f < 8; f++)
		fprintf(out, "%s%s %" PRIu64, f ? ", " : "",
		    f == 7 ? "skew" : fnames[f], faults[f]);
	fprintf(out, "\n");
out:
	free(last_dc);
	free(wrote);
	free(skew);
	free(regw);
	return not_seen;
}
