/*
 * registers.c - the checkers of the register workload (history.h): snapshot
 * isolation at each DC, after Elle's rw-register model, and last-writer-
 * wins with causality across DCs.
 *
 * Every write is a value "S.Q" unique to its session S (Q counts the
 * session's writes), so a read names the write it saw. From the reads:
 *
 * 1. Causal pasts. Each transaction T gets V(T): for every session j, the
 *    highest write of j in T's causal past (its session's earlier
 *    transactions, the writes it read and their pasts), computed in a
 *    topological order of session order + reads-from, as the set checker
 *    does. A cycle there is a causality violation of its own.
 * 2. Version order. A write w2 of key k by T follows every write w1 of k in
 *    T's causal past (TCC+ with last-writer-wins: the DC's clock has moved
 *    past everything its snapshot holds, so w2 wins over w1 everywhere).
 *    Per key and session only the latest such w1 is kept: at most S
 *    predecessors a write.
 * 3. The dependency graph of committed transactions: ww (w1 < w2), wr (T2
 *    read what T1 wrote) and rw (T1 read w1, and w1 < w2 written by T2).
 *
 * Snapshot isolation forbids, and the checker reports with the operations
 * involved: G0 (a cycle of ww edges), G1a (a read of a write whose
 * transaction failed), G1b (a read of a value its transaction overwrote
 * itself), G1c (a cycle of ww and wr edges), G-single (a cycle with
 * exactly one rw edge: read skew) and lost update (two transactions
 * committed at one DC that read the same version of k and both wrote k:
 * first-committer-wins must refuse one). Write skew (two rw edges) is
 * allowed. Transactions at different DCs that write one key concurrently
 * are not a lost update: last-writer-wins merges them.
 *
 * Last-writer-wins with causality: no transaction reads w1 of k while its
 * causal past holds a write w2 of k that causally follows w1 (nor reads k
 * missing while its past holds a write of it), and no DC ends with w1 when
 * a committed w2 causally follows it.
 *
 * Map fields are also removed (a tombstone in last-writer-wins order, DESIGN
 * section 2). A remove is a write with its own unique name that no read
 * can show: a read or a final state that shows a field missing is right
 * when some remove of it that did not fail was not causally before any
 * write of it the reader's past holds (or, for a final state, any
 * committed write): that remove may be the winner. Such reads name no
 * version, so they give no wr, rw or lost-update evidence.
 *
 * Cost: O(T S log W + E) for T transactions, S sessions, W writes per key
 * and session, E edges (about T S).
 */
#include "history.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* A write: its transaction (index into ops) and key. */
typedef struct {
	uint32_t op;
	int      key;
	hw       val;
	bool     mid;
	bool     del; /* a map-field remove */
} rwrite;

typedef struct {
	uint32_t to;
	uint8_t  type; /* E_* */
	int      key;
} edge;

enum { E_WW, E_WR, E_RW };
static const char *const edge_names[] = { "ww", "wr", "rw" };

typedef struct {
	const history *h;
	uint32_t       S, K;
	/* the reg transactions */
	const hop **op;
	uint32_t    n;
	bool       *committed;
	uint32_t   *V; /* n * S: V before the transaction's own writes */
	/* writes, and a hash from value to write */
	rwrite   *w;
	uint32_t  nw;
	uint32_t *hash;
	uint32_t  hcap;
	/* per key and session: the committed final writes, by seq */
	uint32_t **kw; /* [k * S + j]: write indices */
	uint32_t  *kwn;
	/* per key and session: its removes that did not fail, by seq; per
	 * key: whether it has any, and for each session s the highest V[s]
	 * of a committed write of it */
	uint32_t **kd;
	uint32_t  *kdn;
	bool      *kdel;
	uint32_t  *dmax; /* [k * S + s] */
	uint32_t  *M;    /* S, scratch */
	/* version order: for each write its predecessors (pairs) */
	uint32_t *pred; /* nw * S, NONE where none */
	/* graph, CSR */
	uint32_t *eoff;
	edge     *e;
	size_t    ne;
} reg;

static uint64_t
vkey(hw v)
{
	return (uint64_t) v.s << 32 | v.q;
}

static uint32_t
hslot(const reg *g, hw v)
{
	uint64_t x = vkey(v) * 0x9e3779b97f4a7c15ull;
	return (uint32_t) (x >> 32) & (g->hcap - 1);
}

/* The write of value v, or NONE. */
static uint32_t
find(const reg *g, hw v)
{
	for (uint32_t i = hslot(g, v);; i = (i + 1) & (g->hcap - 1)) {
		uint32_t x = g->hash[i];
		if (x == NONE || vkey(g->w[x].val) == vkey(v))
			return x;
	}
}

static const char *
dcname(const hop *o, char *b, size_t n)
{
	snprintf(b, n, "DC %d", o->dc);
	return b;
}

/* The write of session j to key k latest in a past of vector V (seq <=
 * V[j]), or NONE; skip: a transaction whose writes do not count. */
static uint32_t
latest(const reg *g, int k, uint32_t j, const uint32_t *V, uint32_t skip)
{
	uint32_t *a = g->kw[(uint32_t) k * g->S + j], n = g->kwn[k * g->S + j];
	uint32_t  lo = 0, hi = n; /* first with seq > V[j] */
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (g->w[a[mid]].val.q <= V[j])
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo > 0 && g->w[a[lo - 1]].op == skip)
		lo--;
	return lo > 0 ? a[lo - 1] : NONE;
}

/* Whether write a causally precedes write b (a is in b's past). */
static bool
before(const reg *g, uint32_t a, uint32_t b)
{
	const rwrite *x = &g->w[a], *y = &g->w[b];
	if (x->op == y->op)
		return false;
	return g->V[(size_t) y->op * g->S + x->val.s] >= x->val.q;
}

static int
cmp_seq(const void *pa, const void *pb, void *arg)
{
	const reg *g = arg;
	uint32_t   a = g->w[*(const uint32_t *) pa].val.q,
	         b   = g->w[*(const uint32_t *) pb].val.q;
	return a < b ? -1 : a > b;
}

/* ---- building --------------------------------------------------------- */

static int
index_writes(reg *g)
{
	size_t cap = 0;
	for (uint32_t i = 0; i < g->n; i++)
		cap += (size_t) g->op[i]->nw + g->op[i]->has_mid;
	g->w    = calloc(cap + 1, sizeof(rwrite));
	g->hcap = 16;
	while (g->hcap < 2 * cap + 2)
		g->hcap *= 2;
	g->hash = malloc(g->hcap * sizeof(uint32_t));
	if (g->w == NULL || g->hash == NULL)
		return -1;
	memset(g->hash, 0xff, g->hcap * sizeof(uint32_t));
	for (uint32_t i = 0; i < g->n; i++) {
		const hop *o = g->op[i];
		for (int s = 0; s <= o->nw; s++) {
			bool mid = s == o->nw;
			if (mid && !o->has_mid)
				break;
			rwrite x = { i, mid ? o->mid_key : o->wkey[s],
				mid ? o->mid_val : o->wval[s], mid,
				!mid && (o->wdel >> s & 1) };
			if (x.key < 0 || (uint32_t) x.key >= g->K ||
			    x.val.s >= g->S)
				continue;
			uint32_t at = hslot(g, x.val);
			while (g->hash[at] != NONE)
				at = (at + 1) & (g->hcap - 1);
			g->w[g->nw] = x;
			g->hash[at] = g->nw++;
		}
	}
	return 0;
}

/* Which transactions committed: ok ones, and unknown ones whose writes
 * were read. */
static void
mark_committed(reg *g)
{
	for (uint32_t i = 0; i < g->n; i++)
		g->committed[i] = g->op[i]->status == ST_OK;
	for (size_t i = 0; i < g->h->n; i++) {
		const hop *o = &g->h->op[i];
		if (o->kind != K_REG && o->kind != K_FINAL_REG)
			continue;
		for (int r = 0; r < o->nr; r++)
			for (uint32_t e = 0; e < o->r[r].n; e++) {
				uint32_t x = find(g, o->r[r].e[e]);
				if (x != NONE && !g->w[x].mid &&
				    g->op[g->w[x].op]->status == ST_UNKNOWN)
					g->committed[g->w[x].op] = true;
			}
	}
}

static int
index_keys(reg *g)
{
	size_t slots  = (size_t) g->K * g->S;
	g->kw         = calloc(slots, sizeof(uint32_t *));
	g->kwn        = calloc(slots, sizeof(uint32_t));
	uint32_t *cap = calloc(slots, sizeof(uint32_t));
	if (g->kw == NULL || g->kwn == NULL || cap == NULL) {
		free(cap);
		return -1;
	}
	for (uint32_t x = 0; x < g->nw; x++) {
		const rwrite *w = &g->w[x];
		if (w->mid || !g->committed[w->op])
			continue;
		size_t at = (size_t) w->key * g->S + w->val.s;
		if (g->kwn[at] == cap[at]) {
			cap[at] = cap[at] ? cap[at] * 2 : 16;
			uint32_t *p =
			    realloc(g->kw[at], cap[at] * sizeof(uint32_t));
			if (p == NULL) {
				free(cap);
				return -1;
			}
			g->kw[at] = p;
		}
		g->kw[at][g->kwn[at]++] = x;
	}
	free(cap);
	for (size_t at = 0; at < slots; at++)
		if (g->kwn[at] > 1) /* kw[at] is NULL when empty */
			qsort_r(g->kw[at], g->kwn[at], sizeof(uint32_t),
			    cmp_seq, g);
	return 0;
}

/* The removes of each key by session, and dmax; after causal_pasts. */
static int
index_removes(reg *g)
{
	size_t slots = (size_t) g->K * g->S;
	g->kd        = calloc(slots, sizeof(uint32_t *));
	g->kdn       = calloc(slots, sizeof(uint32_t));
	g->kdel      = calloc(g->K, sizeof(bool));
	g->dmax      = calloc(slots, sizeof(uint32_t));
	g->M         = malloc(g->S * sizeof(uint32_t));
	if (g->kd == NULL || g->kdn == NULL || g->kdel == NULL ||
	    g->dmax == NULL || g->M == NULL)
		return -1;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t x = 0; x < g->nw; x++) {
			const rwrite *w = &g->w[x];
			if (!w->del || g->op[w->op]->status == ST_FAIL)
				continue;
			size_t at = (size_t) w->key * g->S + w->val.s;
			if (pass)
				g->kd[at][g->kdn[at]++] = x;
			else
				g->kdn[at]++;
			g->kdel[w->key] = true;
		}
		if (pass)
			break;
		for (size_t at = 0; at < slots; at++) {
			if (g->kdn[at] == 0)
				continue;
			if ((g->kd[at] = malloc(
			         g->kdn[at] * sizeof(uint32_t))) == NULL)
				return -1;
			g->kdn[at] = 0;
		}
	}
	for (size_t at = 0; at < slots; at++)
		if (g->kdn[at] > 1)
			qsort_r(g->kd[at], g->kdn[at], sizeof(uint32_t),
			    cmp_seq, g);
	for (uint32_t x = 0; x < g->nw; x++) {
		const rwrite *w = &g->w[x];
		if (w->mid || !g->committed[w->op])
			continue;
		const uint32_t *V = &g->V[(size_t) w->op * g->S];
		uint32_t       *D = &g->dmax[(size_t) w->key * g->S];
		for (uint32_t s = 0; s < g->S; s++)
			D[s] = V[s] > D[s] ? V[s] : D[s];
	}
	return 0;
}

/* Whether transaction i (past V) can read k missing: some remove of k,
 * not i's own nor in its future as far as the history shows, that no
 * write of k in i's past causally follows. */
static bool
tombstone_read(const reg *g, uint32_t i, int k, const uint32_t *V)
{
	const hop *o = g->op[i];
	uint32_t   S = g->S, q0 = UINT32_MAX;
	if (!g->kdel[k])
		return false;
	for (int w = 0; w < o->nw; w++)
		q0 = o->wval[w].q < q0 ? o->wval[w].q : q0;
	memset(g->M, 0, S * sizeof(uint32_t));
	for (uint32_t j = 0; j < S; j++) {
		uint32_t y = latest(g, k, j, V, i);
		if (y == NONE)
			continue;
		const uint32_t *W = &g->V[(size_t) g->w[y].op * S];
		for (uint32_t s = 0; s < S; s++)
			g->M[s] = W[s] > g->M[s] ? W[s] : g->M[s];
	}
	for (uint32_t s = 0; s < S; s++) {
		const uint32_t *a = g->kd[(size_t) k * S + s];
		for (uint32_t n = g->kdn[(size_t) k * S + s]; n > 0; n--) {
			const rwrite *r = &g->w[a[n - 1]];
			if (r->val.q <= g->M[s])
				break; /* this one and the earlier ones lose */
			if (r->op == i ||
			    (s == (uint32_t) o->sess && r->val.q > V[s]))
				continue; /* its own, or its session's future
				           */
			if (q0 != UINT32_MAX && (uint32_t) o->sess < S &&
			    g->V[(size_t) r->op * S + (uint32_t) o->sess] >=
			        q0)
				continue; /* after i */
			return true;
		}
	}
	return false;
}

/* Whether a DC can end with k missing: some remove of k that no
 * committed write of k causally follows. */
static bool
tombstone_final(const reg *g, int k)
{
	if (!g->kdel[k])
		return false;
	for (uint32_t s = 0; s < g->S; s++) {
		size_t at = (size_t) k * g->S + s;
		if (g->kdn[at] > 0 &&
		    g->w[g->kd[at][g->kdn[at] - 1]].val.q >
		        g->dmax[(size_t) k * g->S + s])
			return true;
	}
	return false;
}

/* V of every transaction, in a topological order of session order +
 * reads-from. Returns the transactions left in a cycle. */
static uint32_t
causal_pasts(reg *g, verdict *lww, bool verbose)
{
	uint32_t  n = g->n, S = g->S;
	uint32_t *sprev = malloc(n * sizeof(uint32_t));
	uint32_t *indeg = calloc(n, sizeof(uint32_t));
	uint32_t *last  = malloc(S * sizeof(uint32_t));
	uint32_t *q     = malloc(n * sizeof(uint32_t));
	uint32_t *off = calloc(n + 1, sizeof(uint32_t)), *succ = NULL;
	uint32_t  left = 0;
	if (sprev == NULL || indeg == NULL || last == NULL || q == NULL ||
	    off == NULL)
		goto out;
	for (uint32_t j = 0; j < S; j++)
		last[j] = NONE;
	/* session order: the previous ok transaction of the session (an
	 * unknown one may land after its successors) */
	for (uint32_t i = 0; i < n; i++) {
		const hop *o = g->op[i];
		uint32_t   s = (uint32_t) o->sess;
		sprev[i]     = s < S ? last[s] : NONE;
		if (s < S && o->status == ST_OK)
			last[s] = i;
	}
	/* successor lists: session successor and readers */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < n; i++) {
			const hop *o = g->op[i];
			if (sprev[i] != NONE) {
				if (pass)
					succ[off[sprev[i]]++] = i;
				else
					off[sprev[i]]++;
			}
			for (int r = 0; r < o->nr; r++)
				for (uint32_t e = 0; e < o->r[r].n; e++) {
					uint32_t x = find(g, o->r[r].e[e]);
					if (x == NONE || g->w[x].op == i ||
					    !g->committed[g->w[x].op])
						continue;
					if (pass)
						succ[off[g->w[x].op]++] = i;
					else
						off[g->w[x].op]++;
				}
		}
		if (pass == 0) {
			uint32_t sum = 0;
			for (uint32_t i = 0; i <= n; i++) {
				uint32_t c = off[i];
				off[i]     = sum;
				sum += c;
			}
			if ((succ = malloc((sum + 1) * sizeof(uint32_t))) ==
			    NULL)
				goto out;
		}
	}
	/* off[i] is now the end of i's list; its start is off[i-1] */
	for (uint32_t i = n; i > 0; i--)
		off[i] = off[i - 1];
	off[0] = 0;
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t e = off[i]; e < off[i + 1]; e++)
			indeg[succ[e]]++;
	uint32_t qh = 0, qt = 0;
	for (uint32_t i = 0; i < n; i++)
		if (indeg[i] == 0)
			q[qt++] = i;
	while (qh < qt) {
		uint32_t   i = q[qh++];
		const hop *o = g->op[i];
		uint32_t  *V = &g->V[(size_t) i * S];
		if (sprev[i] != NONE) {
			const uint32_t *P = &g->V[(size_t) sprev[i] * S];
			for (uint32_t j = 0; j < S; j++)
				V[j] = P[j] > V[j] ? P[j] : V[j];
			/* and the predecessor's own writes */
			const hop *p = g->op[sprev[i]];
			for (int w = 0; w < p->nw; w++)
				if (p->wval[w].s < S &&
				    p->wval[w].q > V[p->wval[w].s])
					V[p->wval[w].s] = p->wval[w].q;
		}
		for (int r = 0; r < o->nr; r++)
			for (uint32_t e = 0; e < o->r[r].n; e++) {
				hw       v = o->r[r].e[e];
				uint32_t x = find(g, v);
				if (x == NONE || g->w[x].op == i ||
				    !g->committed[g->w[x].op])
					continue;
				const uint32_t *W =
				    &g->V[(size_t) g->w[x].op * S];
				const hop *wo = g->op[g->w[x].op];
				for (uint32_t j = 0; j < S; j++)
					V[j] = W[j] > V[j] ? W[j] : V[j];
				for (int k = 0; k < wo->nw; k++)
					if (wo->wval[k].s < S &&
					    wo->wval[k].q > V[wo->wval[k].s])
						V[wo->wval[k].s] =
						    wo->wval[k].q;
			}
		for (uint32_t e = off[i]; e < off[i + 1]; e++)
			if (--indeg[succ[e]] == 0)
				q[qt++] = succ[e];
	}
	left = n - qt;
	if (left > 0) {
		for (uint32_t i = 0; i < n; i++)
			if (indeg[i] > 0) {
				hist_violation(lww, verbose,
				    "a cycle of session order and reads-from "
				    "through op %" PRIu64 " (session %d, DC "
				    "%d) and %" PRIu32
				    " others: a transaction "
				    "read what its own future wrote",
				    g->op[i]->id, g->op[i]->sess, g->op[i]->dc,
				    left - 1);
				break;
			}
	}
out:
	free(sprev);
	free(indeg);
	free(last);
	free(q);
	free(off);
	free(succ);
	return left;
}

/* The version order: each committed write's latest predecessor per
 * session. */
static int
version_order(reg *g)
{
	g->pred = malloc((size_t) g->nw * g->S * sizeof(uint32_t));
	if (g->pred == NULL)
		return -1;
	memset(g->pred, 0xff, (size_t) g->nw * g->S * sizeof(uint32_t));
	for (uint32_t x = 0; x < g->nw; x++) {
		const rwrite *w = &g->w[x];
		if (w->mid || !g->committed[w->op])
			continue;
		const uint32_t *V = &g->V[(size_t) w->op * g->S];
		for (uint32_t j = 0; j < g->S; j++)
			g->pred[(size_t) x * g->S + j] =
			    latest(g, w->key, j, V, w->op);
	}
	return 0;
}

/* ---- the graph -------------------------------------------------------- */

typedef struct {
	uint32_t from;
	edge     e;
} fedge;

typedef struct {
	fedge *p;
	size_t n, cap;
} fedges;

static int
push(fedges *f, uint32_t from, uint32_t to, int type, int key)
{
	if (from == to)
		return 0;
	if (f->n == f->cap) {
		size_t c = f->cap ? f->cap * 2 : 4096;
		fedge *p = realloc(f->p, c * sizeof(fedge));
		if (p == NULL)
			return -1;
		f->p   = p;
		f->cap = c;
	}
	f->p[f->n++] = (fedge) { from, { to, (uint8_t) type, key } };
	return 0;
}

static int
build_graph(reg *g)
{
	fedges    f    = { 0 };
	uint32_t  S    = g->S;
	uint32_t *soff = calloc((size_t) g->nw + 1, sizeof(uint32_t));
	uint32_t *sl   = NULL; /* successors of each write */
	int       rc   = -1;
	if (soff == NULL)
		goto out;
	/* ww, and the successor lists of writes for rw */
	for (uint32_t x = 0; x < g->nw; x++)
		for (uint32_t j = 0; j < S; j++) {
			uint32_t p = g->pred[(size_t) x * S + j];
			if (p == NONE || g->pred == NULL)
				continue;
			soff[p]++;
			if (push(&f, g->w[p].op, g->w[x].op, E_WW,
			        g->w[x].key) != 0)
				goto out;
		}
	uint32_t sum = 0;
	for (uint32_t x = 0; x <= g->nw; x++) {
		uint32_t c = soff[x];
		soff[x]    = sum;
		sum += c;
	}
	if ((sl = malloc(((size_t) sum + 1) * sizeof(uint32_t))) == NULL)
		goto out;
	for (uint32_t x = 0; x < g->nw; x++)
		for (uint32_t j = 0; j < S; j++) {
			uint32_t p = g->pred[(size_t) x * S + j];
			if (p != NONE)
				sl[soff[p]++] = x;
		}
	for (uint32_t x = g->nw; x > 0; x--)
		soff[x] = soff[x - 1];
	soff[0] = 0;
	/* wr and rw */
	for (uint32_t i = 0; i < g->n; i++) {
		const hop *o = g->op[i];
		if (!g->committed[i])
			continue;
		for (int r = 0; r < o->nr; r++) {
			if (o->r[r].n == 0) {
				/* read k missing: before every first write of
				 * k, unless a remove may be what it read */
				int k = o->r[r].key;
				if (k < 0 || (uint32_t) k >= g->K ||
				    g->kdel[k])
					continue;
				for (uint32_t j = 0; j < S; j++) {
					size_t at = (size_t) k * S + j;
					if (g->kwn[at] == 0)
						continue;
					uint32_t x    = g->kw[at][0];
					bool     root = true;
					for (uint32_t m = 0; m < S && root;
					     m++)
						root = g->pred[(size_t) x * S +
						           m] == NONE;
					if (root &&
					    push(&f, i, g->w[x].op, E_RW, k) !=
					        0)
						goto out;
				}
				continue;
			}
			uint32_t x = find(g, o->r[r].e[0]);
			if (x == NONE || g->w[x].mid ||
			    !g->committed[g->w[x].op])
				continue;
			if (push(&f, g->w[x].op, i, E_WR, g->w[x].key) != 0)
				goto out;
			for (uint32_t s = soff[x]; s < soff[x + 1]; s++)
				if (push(&f, i, g->w[sl[s]].op, E_RW,
				        g->w[x].key) != 0)
					goto out;
		}
	}
	/* CSR by source */
	g->eoff = calloc((size_t) g->n + 1, sizeof(uint32_t));
	g->e    = malloc((f.n + 1) * sizeof(edge));
	if (g->eoff == NULL || g->e == NULL)
		goto out;
	for (size_t i = 0; i < f.n; i++)
		g->eoff[f.p[i].from + 1]++;
	for (uint32_t i = 0; i < g->n; i++)
		g->eoff[i + 1] += g->eoff[i];
	uint32_t *at = malloc(((size_t) g->n + 1) * sizeof(uint32_t));
	if (at == NULL)
		goto out;
	memcpy(at, g->eoff, ((size_t) g->n + 1) * sizeof(uint32_t));
	for (size_t i = 0; i < f.n; i++)
		g->e[at[f.p[i].from]++] = f.p[i].e;
	free(at);
	g->ne = f.n;
	rc    = 0;
out:
	free(f.p);
	free(soff);
	free(sl);
	return rc;
}

/* Tarjan's strongly connected components over the edges of the types in
 * mask, iterative. comp[i]: i's component; returns how many, or -1
 * without memory. */
static int64_t
scc(const reg *g, unsigned mask, uint32_t *comp)
{
	uint32_t  n     = g->n;
	uint32_t *index = malloc(n * sizeof(uint32_t));
	uint32_t *low   = malloc(n * sizeof(uint32_t));
	uint32_t *stack = malloc(n * sizeof(uint32_t));
	uint32_t *cs    = malloc(n * sizeof(uint32_t)); /* call stack */
	uint32_t *ce    = malloc(n * sizeof(uint32_t)); /* next edge */
	bool     *on    = calloc(n, sizeof(bool));
	int64_t   nc    = -1;
	if (index == NULL || low == NULL || stack == NULL || cs == NULL ||
	    ce == NULL || on == NULL)
		goto out;
	memset(index, 0xff, n * sizeof(uint32_t));
	uint32_t next = 0, sp = 0;
	nc = 0;
	for (uint32_t root = 0; root < n; root++) {
		if (index[root] != NONE)
			continue;
		uint32_t csp = 0;
		cs[csp]      = root;
		ce[csp++]    = g->eoff[root];
		index[root] = low[root] = next++;
		stack[sp++]             = root;
		on[root]                = true;
		while (csp > 0) {
			uint32_t v = cs[csp - 1];
			if (ce[csp - 1] < g->eoff[v + 1]) {
				const edge *ed = &g->e[ce[csp - 1]++];
				uint32_t    w  = ed->to;
				if (!(mask & 1u << ed->type))
					continue;
				if (index[w] == NONE) {
					index[w] = low[w] = next++;
					stack[sp++]       = w;
					on[w]             = true;
					cs[csp]           = w;
					ce[csp++]         = g->eoff[w];
				} else if (on[w] && index[w] < low[v])
					low[v] = index[w];
				continue;
			}
			if (low[v] == index[v]) {
				uint32_t w;
				do {
					w       = stack[--sp];
					on[w]   = false;
					comp[w] = (uint32_t) nc;
				} while (w != v);
				nc++;
			}
			csp--;
			if (csp > 0 && low[v] < low[cs[csp - 1]])
				low[cs[csp - 1]] = low[v];
		}
	}
out:
	free(index);
	free(low);
	free(stack);
	free(cs);
	free(ce);
	free(on);
	return nc;
}

/* A path from a to b inside component c over edges of the types in mask,
 * by breadth-first search; writes it (the edges' sources in order) to
 * path and returns its length, 0 if none. */
static uint32_t
find_path(const reg *g, const uint32_t *comp, uint32_t c, uint32_t a,
    uint32_t b, unsigned mask, uint32_t *par, uint8_t *pty, int *pkey,
    uint32_t *queue, uint32_t *path, uint8_t *ptype, int *pk, uint32_t max)
{
	uint32_t qh = 0, qt = 0;
	par[a]      = a;
	queue[qt++] = a;
	bool found  = false;
	while (qh < qt && !found) {
		uint32_t v = queue[qh++];
		for (uint32_t e = g->eoff[v]; e < g->eoff[v + 1]; e++) {
			uint32_t w = g->e[e].to;
			if (comp[w] != c || !(mask & 1u << g->e[e].type) ||
			    par[w] != NONE)
				continue;
			par[w]      = v;
			pty[w]      = g->e[e].type;
			pkey[w]     = g->e[e].key;
			queue[qt++] = w;
			if (w == b) {
				found = true;
				break;
			}
		}
	}
	uint32_t len = 0;
	if (found) {
		/* b back to a */
		for (uint32_t v = b; v != a && len < max; v = par[v]) {
			path[len]  = par[v];
			ptype[len] = pty[v];
			pk[len++]  = pkey[v];
		}
	}
	for (uint32_t i = 0; i < qt; i++)
		par[queue[i]] = NONE;
	return found ? len : 0;
}

/* Prints a cycle: from -type(key)-> ... -> from. path holds len edges
 * from the end back. */
static void
cycle_text(const reg *g, char *out, size_t cap, uint32_t start,
    const uint32_t *path, const uint8_t *ptype, const int *pk, uint32_t len,
    const char *first)
{
	size_t at = 0;
	at += (size_t) snprintf(out + at, cap - at, "op %" PRIu64 " (DC %d)",
	    g->op[start]->id, g->op[start]->dc);
	if (first != NULL && at < cap)
		at += (size_t) snprintf(out + at, cap - at, "%s", first);
	for (uint32_t i = len; i > 0 && at < cap; i--) {
		uint32_t to = i > 1 ? path[i - 2] : start;
		at += (size_t) snprintf(out + at, cap - at,
		    " -%s(k%d)-> op %" PRIu64 " (DC %d)",
		    edge_names[ptype[i - 1]], pk[i - 1], g->op[to]->id,
		    g->op[to]->dc);
	}
}

enum { MAXPATH = 64 };

/* Whether transaction a is in b's causal past (b's V holds a's writes). */
static bool
op_before(const reg *g, uint32_t a, uint32_t b)
{
	const hop *o = g->op[a];
	if (a == b || o->nw == 0 || o->wval[0].s >= g->S)
		return false;
	return g->V[(size_t) b * g->S + o->wval[0].s] >= o->wval[0].q;
}

/*
 * G0 and G1c: ww and wr edges follow causality (a write follows what is
 * in its causal past, a reader follows the writer it read), so a cycle of
 * them is also a cycle of causality; each component of the ww+wr graph
 * that is not a single transaction is reported with one cycle in it.
 *
 * G-single: a cycle of one rw edge u -> v (u read w1 of k, v wrote w2
 * after w1) and a path of ww and wr edges back from v to u, that is, v in
 * u's causal past: u's snapshot held v and yet showed w1. Checked for
 * every rw edge in O(1) with V; the way back is through causality
 * (session order included: sessions are guaranteed to see their past).
 */
static void
cycles(reg *g, verdict *si, bool verbose)
{
	uint32_t *comp  = malloc(((size_t) g->n + 1) * sizeof(uint32_t));
	uint32_t *size  = NULL;
	uint32_t *par   = malloc(((size_t) g->n + 1) * sizeof(uint32_t));
	uint8_t  *pty   = malloc((size_t) g->n + 1);
	int      *pkey  = malloc(((size_t) g->n + 1) * sizeof(int));
	uint32_t *queue = malloc(((size_t) g->n + 1) * sizeof(uint32_t));
	bool     *done  = NULL;
	uint32_t  path[MAXPATH];
	uint8_t   ptype[MAXPATH];
	int       pk[MAXPATH];
	char      text[360];
	if (comp == NULL || par == NULL || pty == NULL || pkey == NULL ||
	    queue == NULL)
		goto out;
	unsigned causal = 1u << E_WW | 1u << E_WR;
	int64_t  nc     = scc(g, causal, comp);
	if (nc < 0 ||
	    (size = calloc((size_t) nc + 1, sizeof(uint32_t))) == NULL ||
	    (done = calloc((size_t) nc + 1, sizeof(bool))) == NULL)
		goto out;
	for (uint32_t i = 0; i < g->n; i++)
		size[comp[i]]++;
	memset(par, 0xff, ((size_t) g->n + 1) * sizeof(uint32_t));
	for (uint32_t u = 0; u < g->n; u++) {
		uint32_t c = comp[u];
		if (size[c] < 2 || done[c])
			continue;
		for (uint32_t e = g->eoff[u]; e < g->eoff[u + 1]; e++) {
			uint32_t v = g->e[e].to;
			int      t = g->e[e].type;
			if (comp[v] != c || t == E_RW)
				continue;
			uint32_t len = 0;
			bool     g0  = t == E_WW &&
			    (len = find_path(g, comp, c, v, u, 1u << E_WW, par,
			         pty, pkey, queue, path, ptype, pk, MAXPATH)) >
			        0;
			if (!g0)
				len = find_path(g, comp, c, v, u, causal, par,
				    pty, pkey, queue, path, ptype, pk,
				    MAXPATH);
			if (len == 0)
				continue;
			cycle_text(g, text, sizeof(text), v, path, ptype, pk,
			    len, NULL);
			hist_violation(si, verbose,
			    "%s: op %" PRIu64 " (DC %d) -%s(k%d)-> %s",
			    g0 ? "G0 (write cycle)"
			       : "G1c (circular information flow)",
			    g->op[u]->id, g->op[u]->dc, edge_names[t],
			    g->e[e].key, text);
			done[c] = true; /* one cycle a component */
			break;
		}
	}
	for (uint32_t u = 0; u < g->n; u++)
		for (uint32_t e = g->eoff[u]; e < g->eoff[u + 1]; e++) {
			uint32_t v = g->e[e].to;
			if (g->e[e].type != E_RW || !op_before(g, v, u))
				continue;
			hist_violation(si, verbose,
			    "G-single (read skew): op %" PRIu64 " (DC %d) "
			    "-rw(k%d)-> op %" PRIu64 " (DC %d), which is in "
			    "op %" PRIu64 "'s causal past: its snapshot held "
			    "op %" PRIu64 "'s write of k%d and showed an "
			    "older one",
			    g->op[u]->id, g->op[u]->dc, g->e[e].key,
			    g->op[v]->id, g->op[v]->dc, g->op[u]->id,
			    g->op[v]->id, g->e[e].key);
		}
out:
	free(comp);
	free(size);
	free(done);
	free(par);
	free(pty);
	free(pkey);
	free(queue);
}

/* ---- the checks -------------------------------------------------------- */

/* G1a, G1b, values never written; and LWW with causality for reads. */
static void
check_reads(reg *g, verdict *si, verdict *lww, bool verbose)
{
	char d[16];
	for (uint32_t i = 0; i < g->n; i++) {
		const hop *o = g->op[i];
		if (o->status == ST_FAIL)
			continue;
		const uint32_t *V = &g->V[(size_t) i * g->S];
		for (int r = 0; r < o->nr; r++) {
			int k = o->r[r].key;
			if (k < 0 || (uint32_t) k >= g->K)
				continue;
			lww->checked++;
			uint32_t x = NONE;
			if (o->r[r].n > 0) {
				hw v = o->r[r].e[0];
				x    = find(g, v);
				if (x == NONE) {
					hist_violation(si, verbose,
					    "op %" PRIu64 " (%s) read k%d = "
					    "%" PRIu32 ".%" PRIu32 ", which "
					    "no one wrote",
					    o->id, dcname(o, d, sizeof(d)), k,
					    v.s, v.q);
					continue;
				}
				const hop *w = g->op[g->w[x].op];
				if (g->w[x].del) {
					hist_violation(si, verbose,
					    "op %" PRIu64 " (%s) read k%d = "
					    "%" PRIu32 ".%" PRIu32
					    ", the name "
					    "of op %" PRIu64
					    "'s remove, which "
					    "writes no value",
					    o->id, dcname(o, d, sizeof(d)), k,
					    v.s, v.q, w->id);
					continue;
				}
				if (g->w[x].mid && g->w[x].op != i) {
					hist_violation(si, verbose,
					    "G1b (intermediate read): op "
					    "%" PRIu64
					    " (%s) read k%d = %" PRIu32
					    ".%" PRIu32 ", which op %" PRIu64
					    " overwrote "
					    "before it committed",
					    o->id, dcname(o, d, sizeof(d)), k,
					    v.s, v.q, w->id);
					continue;
				}
				if (w->status == ST_FAIL) {
					hist_violation(si, verbose,
					    "G1a (aborted read): op %" PRIu64
					    " (%s) read k%d = %" PRIu32
					    ".%" PRIu32 " of op %" PRIu64
					    ", which failed "
					    "(%s)",
					    o->id, dcname(o, d, sizeof(d)), k,
					    v.s, v.q, w->id, w->err);
					continue;
				}
				if (g->w[x].op == i)
					continue; /* its own write */
			} else if (tombstone_read(g, i, k, V))
				continue;
			/* a write of k in its past that overwrote what it read
			 */
			for (uint32_t j = 0; j < g->S; j++) {
				uint32_t y = latest(g, k, j, V, i);
				if (y == NONE || y == x ||
				    (x != NONE && !before(g, x, y)) ||
				    (x == NONE && g->w[y].del))
					continue;
				const hop *wy = g->op[g->w[y].op];
				if (x == NONE)
					hist_violation(lww, verbose,
					    "op %" PRIu64 " (%s, session %d) "
					    "read k%d missing, though its "
					    "causal past holds op %" PRIu64
					    "'s write %" PRIu32 ".%" PRIu32
					    " of it",
					    o->id, dcname(o, d, sizeof(d)),
					    o->sess, k, wy->id, g->w[y].val.s,
					    g->w[y].val.q);
				else
					hist_violation(lww, verbose,
					    "op %" PRIu64 " (%s, session %d) "
					    "read k%d = %" PRIu32 ".%" PRIu32
					    " (op %" PRIu64 "), though its "
					    "causal past holds %" PRIu32
					    ".%" PRIu32 " (op %" PRIu64
					    "), %s "
					    "causally after it",
					    o->id, dcname(o, d, sizeof(d)),
					    o->sess, k, g->w[x].val.s,
					    g->w[x].val.q,
					    g->op[g->w[x].op]->id,
					    g->w[y].val.s, g->w[y].val.q,
					    wy->id,
					    g->w[y].del ? "a remove"
					                : "written");
				break;
			}
		}
	}
}

/* Lost updates: two transactions ok at one DC that read one version of
 * k and both wrote k. */
typedef struct {
	int      key, dc;
	uint32_t ver; /* the write read, NONE: k missing */
	uint32_t op;
} rmw;

static int
cmp_rmw(const void *pa, const void *pb)
{
	const rmw *a = pa, *b = pb;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->ver != b->ver)
		return a->ver < b->ver ? -1 : 1;
	if (a->dc != b->dc)
		return a->dc < b->dc ? -1 : 1;
	return a->op < b->op ? -1 : a->op > b->op;
}

static void
lost_updates(reg *g, verdict *si, bool verbose)
{
	size_t cap = 0, n = 0;
	for (uint32_t i = 0; i < g->n; i++)
		cap += (size_t) g->op[i]->nr;
	rmw *a = malloc((cap + 1) * sizeof(rmw));
	if (a == NULL)
		return;
	for (uint32_t i = 0; i < g->n; i++) {
		const hop *o = g->op[i];
		if (o->status != ST_OK)
			continue;
		for (int r = 0; r < o->nr; r++) {
			bool wrote = false;
			for (int w = 0; w < o->nw; w++)
				wrote |= o->wkey[w] == o->r[r].key;
			if (!wrote)
				continue;
			uint32_t x = o->r[r].n ? find(g, o->r[r].e[0]) : NONE;
			if (o->r[r].n && (x == NONE || g->w[x].op == i))
				continue;
			if (x == NONE &&
			    (o->r[r].key < 0 ||
			        (uint32_t) o->r[r].key >= g->K ||
			        g->kdel[o->r[r].key]))
				continue; /* which remove it read is unknown */
			a[n++] = (rmw) { o->r[r].key, o->dc, x, i };
		}
	}
	qsort(a, n, sizeof(*a), cmp_rmw);
	for (size_t i = 1; i < n; i++) {
		if (a[i].key != a[i - 1].key || a[i].ver != a[i - 1].ver ||
		    a[i].dc != a[i - 1].dc)
			continue;
		char v[40] = "missing";
		if (a[i].ver != NONE)
			snprintf(v, sizeof(v), "%" PRIu32 ".%" PRIu32,
			    g->w[a[i].ver].val.s, g->w[a[i].ver].val.q);
		hist_violation(si, verbose,
		    "lost update: ops %" PRIu64 " and %" PRIu64 " both "
		    "committed at DC %d, both read k%d = %s and wrote it "
		    "(first-committer-wins refuses one)",
		    g->op[a[i - 1].op]->id, g->op[a[i].op]->id, a[i].dc,
		    a[i].key, v);
	}
	free(a);
}

/* Each DC's final value of each key: no committed write causally after
 * it. */
static void
check_final(reg *g, verdict *lww, bool verbose)
{
	uint32_t *all = malloc(g->S * sizeof(uint32_t));
	if (all == NULL)
		return;
	memset(all, 0xff, g->S * sizeof(uint32_t)); /* every seq */
	for (size_t i = 0; i < g->h->n; i++) {
		const hop *o = &g->h->op[i];
		int        k = o->key;
		if (o->kind != K_FINAL_REG || k < 0 || (uint32_t) k >= g->K)
			continue;
		lww->checked++;
		uint32_t x = o->r[0].n ? find(g, o->r[0].e[0]) : NONE;
		if (x == NONE && tombstone_final(g, k))
			continue;
		for (uint32_t j = 0; j < g->S; j++) {
			uint32_t y = latest(g, k, j, all, NONE);
			if (y == NONE || y == x ||
			    (x != NONE && !before(g, x, y)) ||
			    (x == NONE && g->w[y].del))
				continue;
			if (x == NONE)
				hist_violation(lww, verbose,
				    "DC %d ended with k%d missing, though "
				    "op %" PRIu64 " wrote it (%" PRIu32
				    ".%" PRIu32 ")",
				    o->dc, k, g->op[g->w[y].op]->id,
				    g->w[y].val.s, g->w[y].val.q);
			else
				hist_violation(lww, verbose,
				    "DC %d ended with k%d = %" PRIu32
				    ".%" PRIu32 " (op %" PRIu64
				    "), though op %" PRIu64 " %s %" PRIu32
				    ".%" PRIu32 " causally after it",
				    o->dc, k, g->w[x].val.s, g->w[x].val.q,
				    g->op[g->w[x].op]->id,
				    g->op[g->w[y].op]->id,
				    g->w[y].del ? "removed it by" : "wrote",
				    g->w[y].val.s, g->w[y].val.q);
			break;
		}
	}
	free(all);
}

void
hist_check_registers(const history *h, verdict *si, verdict *lww, bool verbose)
{
	reg g = { .h = h,
		.S   = (uint32_t) h->sessions,
		.K   = (uint32_t) h->reg_keys };
	if (g.K == 0)
		return;
	for (size_t i = 0; i < h->n; i++)
		g.n += h->op[i].kind == K_REG;
	g.op        = malloc((g.n + 1) * sizeof(hop *));
	g.committed = calloc(g.n + 1, sizeof(bool));
	g.V         = calloc((size_t) (g.n + 1) * g.S, sizeof(uint32_t));
	if (g.op == NULL || g.committed == NULL || g.V == NULL)
		goto nomem;
	g.n = 0;
	for (size_t i = 0; i < h->n; i++)
		if (h->op[i].kind == K_REG)
			g.op[g.n++] = &h->op[i];
	if (index_writes(&g) != 0)
		goto nomem;
	mark_committed(&g);
	if (index_keys(&g) != 0)
		goto nomem;
	causal_pasts(&g, lww, verbose);
	if (index_removes(&g) != 0 || version_order(&g) != 0 ||
	    build_graph(&g) != 0)
		goto nomem;
	for (uint32_t i = 0; i < g.n; i++)
		si->checked += g.committed[i];
	check_reads(&g, si, lww, verbose);
	lost_updates(&g, si, verbose);
	cycles(&g, si, verbose);
	check_final(&g, lww, verbose);
	goto out;
nomem:
	hist_violation(si, verbose, "no memory to check the registers");
out:
	if (g.kw != NULL)
		for (size_t i = 0; i < (size_t) g.K * g.S; i++)
			free(g.kw[i]);
	free(g.kw);
	free(g.kwn);
	if (g.kd != NULL)
		for (size_t i = 0; i < (size_t) g.K * g.S; i++)
			free(g.kd[i]);
	free(g.kd);
	free(g.kdn);
	free(g.kdel);
	free(g.dmax);
	free(g.M);
	free(g.op);
	free(g.committed);
	free(g.V);
	free(g.w);
	free(g.hash);
	free(g.pred);
	free(g.eoff);
	free(g.e);
}
