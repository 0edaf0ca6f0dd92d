/*
 * orset.c - the checker of the add-and-remove sets (history.h "rset"):
 * observed-remove, add-wins semantics.
 *
 * Every rset transaction reads its set first and records the snapshot it
 * read: the session clock right after the read, which is the snapshot's
 * vector (the read's reply carries it and the session held no more). An
 * add or remove that committed has the sequence number of its clock after
 * at its DC. So for add a and remove r of one element, r observed a
 * exactly when a.seq <= S_r[a.dc], and a read with snapshot S shows the
 * element exactly when some add a in S (a.seq <= S[a.dc]) was observed by
 * no remove in S. The final state after the heal holds every commit: the
 * element is there exactly when some add was observed by no remove.
 *
 * For each add, the first remove at each DC that observed it is found by
 * binary search over that DC's removes in commit order (a running maximum
 * of their snapshots' entry for the add's DC), so a read is checked
 * against every add of the element in O(A * D). An element with an
 * unknown add or remove (it may or may not have happened) is not checked.
 * Cost: O(R * E * A * D + A * D log R) for R reads, E elements, A adds
 * of an element, D DCs.
 */
#include "history.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define INF UINT64_MAX

typedef struct {
	uint64_t   seq;
	int        dc;
	const hop *o;
	uint64_t   kill[H_MAXDC]; /* first remove seq at each DC that
	                           * observed it, or INF */
	const hop *killer;        /* one of them */
} radd;

typedef struct {
	uint64_t   seq;
	const hop *o;
} rrem;

typedef struct {
	radd  *a;
	size_t na;
	rrem  *r[H_MAXDC]; /* removes by DC, by seq */
	size_t nr[H_MAXDC];
	bool   uncertain;
} elem;

static int
cmp_rem(const void *pa, const void *pb)
{
	const rrem *a = pa, *b = pb;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int
push_add(elem *e, radd x)
{
	radd *p = realloc(e->a, (e->na + 1) * sizeof(radd));
	if (p == NULL)
		return -1;
	e->a          = p;
	e->a[e->na++] = x;
	return 0;
}

static int
push_rem(elem *e, int dc, rrem x)
{
	rrem *p = realloc(e->r[dc], (e->nr[dc] + 1) * sizeof(rrem));
	if (p == NULL)
		return -1;
	e->r[dc]              = p;
	e->r[dc][e->nr[dc]++] = x;
	return 0;
}

static bool
has(const hop *o, int el)
{
	for (uint32_t i = 0; i < o->r[0].n; i++)
		if ((int) o->r[0].e[i].s == el)
			return true;
	return false;
}

/* For every add: the first remove at each DC that observed it. */
static int
kills(elem *e, int D)
{
	for (int d = 0; d < D; d++) {
		size_t n = e->nr[d];
		if (n > 1) /* e->r[d] is NULL when empty */
			qsort(e->r[d], n, sizeof(rrem), cmp_rem);
		uint64_t *pm = malloc((n + 1) * sizeof(uint64_t));
		if (pm == NULL)
			return -1;
		for (int s = 0; s < D; s++) {
			uint64_t m = 0;
			for (size_t i = 0; i < n; i++) {
				uint64_t v = e->r[d][i].o->snap[s];
				pm[i] = m = v > m ? v : m;
			}
			for (size_t i = 0; i < e->na; i++) {
				radd *a = &e->a[i];
				if (a->dc != s)
					continue;
				size_t lo = 0, hi = n; /* first pm >= seq */
				while (lo < hi) {
					size_t mid = (lo + hi) / 2;
					if (pm[mid] >= a->seq)
						hi = mid;
					else
						lo = mid + 1;
				}
				a->kill[d] = lo < n ? e->r[d][lo].seq : INF;
				if (lo < n && a->killer == NULL)
					a->killer = e->r[d][lo].o;
			}
		}
		free(pm);
	}
	return 0;
}

/* Whether the element is in a snapshot S (NULL: every commit); *why: an
 * add that keeps it, or one removed. */
static bool
present_in(const elem *e, const uint64_t *S, int D, const radd **why)
{
	*why = NULL;
	for (size_t i = 0; i < e->na; i++) {
		const radd *a = &e->a[i];
		if (S != NULL && a->seq > S[a->dc])
			continue;
		bool killed = false;
		for (int d = 0; d < D && !killed; d++)
			killed = a->kill[d] != INF &&
			    (S == NULL || a->kill[d] <= S[d]);
		*why = a;
		if (!killed)
			return true;
	}
	return false;
}

static void
check_one(const history *h, const hop *o, const elem *es, int E,
    const uint64_t *S, verdict *v, bool verbose)
{
	int D = h->dcs;
	for (int el = 0; el < E; el++) {
		const elem *e =
		    &es[(size_t) o->key * (size_t) E + (size_t) el];
		if (e->uncertain)
			continue;
		v->checked++;
		const radd *why;
		bool        want = present_in(e, S, D, &why);
		bool        got  = has(o, el);
		if (want == got)
			continue;
		const char *where = S ? "read" : "ended with";
		if (got)
			hist_violation(v, verbose,
			    "%s %" PRIu64
			    " (DC %d) %s set %d holding e%d, though "
			    "every add of it %s was removed%s (e.g. op "
			    "%" PRIu64 "'s add, which op %" PRIu64
			    " observed)",
			    S ? "op" : "DC", S ? o->id : (uint64_t) o->dc,
			    o->dc, where, o->key, el,
			    S ? "in its snapshot" : "", S ? " in it" : "",
			    why ? why->o->id : 0,
			    why && why->killer ? why->killer->id : 0);
		else
			hist_violation(v, verbose,
			    "%s %" PRIu64
			    " (DC %d) %s set %d without e%d, though "
			    "op %" PRIu64 "'s add of it%s was observed by no "
			    "remove%s",
			    S ? "op" : "DC", S ? o->id : (uint64_t) o->dc,
			    o->dc, where, o->key, el, why ? why->o->id : 0,
			    S ? " is in its snapshot and" : "",
			    S ? " in that snapshot" : "");
	}
}

void
hist_check_orset(const history *h, verdict *v, bool verbose)
{
	int K = h->rset_keys, E = h->rset_elems, D = h->dcs;
	if (K <= 0 || E <= 0 || D <= 0 || D > H_MAXDC)
		return;
	elem *es = calloc((size_t) K * (size_t) E, sizeof(elem));
	if (es == NULL)
		goto nomem;
	for (size_t i = 0; i < h->n; i++) {
		const hop *o = &h->op[i];
		if (o->kind != K_RSET || o->delta == 0 || o->key < 0 ||
		    o->key >= K || o->value < 0 || o->value >= E ||
		    o->status == ST_FAIL)
			continue;
		elem *e =
		    &es[(size_t) o->key * (size_t) E + (size_t) o->value];
		/* a remove of an element its snapshot did not hold removes
		 * nothing, and commits nothing (no sequence number of its
		 * own) */
		if (o->delta < 0 && !has(o, (int) o->value))
			continue;
		if (o->status == ST_UNKNOWN || o->nvc != D || o->dc < 0 ||
		    o->dc >= D) {
			e->uncertain = true;
			continue;
		}
		int rc = o->delta > 0
		    ? push_add(e,
		          (radd) {
		              .seq = o->after[o->dc], .dc = o->dc, .o = o })
		    : push_rem(e, o->dc, (rrem) { o->after[o->dc], o });
		if (rc != 0)
			goto nomem;
	}
	for (size_t i = 0; i < (size_t) K * (size_t) E; i++)
		if (kills(&es[i], D) != 0)
			goto nomem;
	for (size_t i = 0; i < h->n; i++) {
		const hop *o = &h->op[i];
		if (o->kind == K_RSET && o->status == ST_OK && o->nvc == D &&
		    o->key >= 0 && o->key < K)
			check_one(h, o, es, E, o->snap, v, verbose);
		else if (o->kind == K_FINAL_RSET && o->key >= 0 && o->key < K)
			check_one(h, o, es, E, NULL, v, verbose);
	}
	goto out;
nomem:
	hist_violation(v, verbose, "no memory to check the sets");
out:
	if (es != NULL)
		for (size_t i = 0; i < (size_t) K * (size_t) E; i++) {
			free(es[i].a);
			for (int d = 0; d < H_MAXDC; d++)
				free(es[i].r[d]);
		}
	free(es);
}
