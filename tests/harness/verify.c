/*
 * verify.c - cw-verify: attack a live deployment of N DCs with crashes,
 * pauses, partitions and slow links while clients run, record every
 * operation, and check the history against DESIGN §1 (history.h).
 *
 *   cw-verify run [--dcs 3] [--clients 12] [--duration 60] [--seed S]
 *                 [--faults partition,kill,pause,delay,loss]
 *                 [--history FILE]
 *                 [--bug NAME] [--no-fmk]
 *   cw-verify check HISTORY
 *
 * The fault schedule is drawn from the seed before the run starts and
 * printed; the same seed gives the same schedule (the clients' timing is
 * the machine's). Exit status: 0 when every checker passed, 1 on a
 * violation, 2 on a usage error, 3 when the run itself failed.
 *
 * Threading: one thread per client, one for the nemesis, and the main
 * thread for progress. `hmu` guards the history file and op ids;
 * counters are atomics.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "causeway.h"
#include "cluster.h"
#include "fmk.h"
#include "history.h"

#define MAXC 64
#define SET_KEYS_PER_GEN 32
#define GEN_SECONDS 3
#define COUNTER_KEYS 4
#define ESCROW_KEYS 2
#define REG_KEYS 8 /* registers g/0..5, and fields f6, f7 of map gm */
#define REG_PLAIN 6
#define RSET_KEYS 2  /* sets rs/0, rs/1 with adds and removes */
#define RSET_ELEMS 4 /* of elements e0..e3 */

static struct {
	int         dcs, clients;
	double      duration;
	uint64_t    seed;
	unsigned    faults; /* F_* */
	const char *history, *bug;
	bool        fmk, quiet, tls;
	int64_t     escrow;   /* bounded-counter units minted at each DC */
	int         forward;  /* FWD_* */
	int         converge; /* seconds to wait for the DCs to agree */
	int         readers;  /* sessions that only read (-1: a quarter) */
} opt = { 3, 12, 60, 0, 0, NULL, NULL, true, false, false, 400, 1, 120, -1 };

/* Forwarding: every DC (causewayd's default), none, or mixed (the
 * default here): DC 1 ships only its own records, so its transactions'
 * dependencies can reach a third DC by another link than they do, and
 * the receivers' dependency checks are exercised as well as forwarding. */
enum { FWD_ALL, FWD_MIXED, FWD_NONE };

enum {
	F_PARTITION = 1,
	F_KILL      = 2,
	F_PAUSE     = 4,
	F_DELAY     = 8,
	F_LOSS      = 16,
	F_SKEW      = 32, /* not in the default: it needs the test build */
};

static cluster             *cl;
static FILE                *hf;
static pthread_mutex_t      hmu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t             next_id;
static double               t_start;
static atomic_bool          stop_clients;
static atomic_uint_fast64_t n_ok, n_fail, n_unknown, n_faults;
static int                  set_keys; /* all generations */
static fmk_meta             fm;
static pthread_mutex_t      fault_mu       = PTHREAD_MUTEX_INITIALIZER;
static char                 fault_now[128] = "none";

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9 - t_start;
}

static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
	x          = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x          = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void
record(hop *o, const char *cb, const char *ca)
{
	pthread_mutex_lock(&hmu);
	o->id = ++next_id;
	hist_write(hf, o, cb, ca);
	pthread_mutex_unlock(&hmu);
	bool client_op = (o->kind >= K_TXN && o->kind <= K_FMK) ||
	    o->kind == K_REG || o->kind == K_RSET;
	if (!client_op)
		return;
	if (o->status == ST_OK)
		atomic_fetch_add(&n_ok, 1);
	else if (o->status == ST_FAIL)
		atomic_fetch_add(&n_fail, 1);
	else
		atomic_fetch_add(&n_unknown, 1);
}

/* ---- the nemesis ------------------------------------------------------ */

typedef struct {
	double start, len;
	int    type; /* F_* */
	int    sub;  /* partition: 0 link, 1 isolate, 2 non-transitive,
	              * 3 one direction (a to b) */
	int a, b, ms;
} fault;

static fault sched[1024];
static int   nsched;

static void
fault_text(const fault *f, char *out, size_t n)
{
	switch (f->type) {
	case F_PARTITION:
		if (f->sub == 0)
			snprintf(out, n, "cut link DC %d - DC %d", f->a, f->b);
		else if (f->sub == 1)
			snprintf(out, n, "isolate DC %d", f->a);
		else if (f->sub == 2)
			snprintf(out, n,
			    "non-transitive: DC %d - DC %d cut, both reach "
			    "DC %d",
			    f->a, f->b, 3 - f->a - f->b);
		else
			snprintf(
			    out, n, "cut one way: DC %d to DC %d", f->a, f->b);
		break;
	case F_LOSS:
		snprintf(out, n, "lossy link DC %d - DC %d, %d%% resets", f->a,
		    f->b, f->ms / 10);
		break;
	case F_KILL:
		snprintf(out, n, "SIGKILL DC %d, restart", f->a);
		break;
	case F_PAUSE:
		snprintf(out, n, "SIGSTOP DC %d, SIGCONT", f->a);
		break;
	case F_SKEW:
		snprintf(out, n, "DC %d's clock %+d ms", f->a, f->ms);
		break;
	default:
		snprintf(out, n, "slow link DC %d - DC %d by %d ms", f->a,
		    f->b, f->ms);
	}
}

static void
make_schedule(void)
{
	uint64_t r = opt.seed ^ 0x5eed;
	int      types[6], nt = 0;
	for (int t = 1; t <= F_SKEW; t <<= 1)
		if (opt.faults & (unsigned) t)
			types[nt++] = t;
	double t = 1.0 + (double) (rnd(&r) % 1000) / 1000.0;
	while (nt > 0 && nsched < 1024) {
		fault f;
		memset(&f, 0, sizeof(f));
		f.start = t;
		f.len   = 1.0 + (double) (rnd(&r) % 3000) / 1000.0;
		f.type  = types[rnd(&r) % (uint64_t) nt];
		f.a     = (int) (rnd(&r) % (uint64_t) opt.dcs);
		f.b = (f.a + 1 + (int) (rnd(&r) % (uint64_t) (opt.dcs - 1))) %
		    opt.dcs;
		f.sub = (int) (rnd(&r) % 4);
		if (f.sub == 2 && opt.dcs != 3)
			f.sub = 0; /* non-transitive: three DCs */
		f.ms = 20 + (int) (rnd(&r) % 180);
		if (f.type == F_SKEW) /* 0.3 to 4 s, ahead or behind */
			f.ms = (300 + (int) (rnd(&r) % 3700)) *
			    (rnd(&r) % 2 ? 1 : -1);
		if (f.start + f.len > opt.duration - 1)
			break;
		sched[nsched++] = f;
		t = f.start + f.len + 0.5 + (double) (rnd(&r) % 2000) / 1000.0;
	}
}

static void
apply_fault(const fault *f, bool on)
{
	switch (f->type) {
	case F_PARTITION:
		if (f->sub == 1)
			cluster_isolate(cl, f->a, on);
		else if (f->sub == 3)
			proxy_cut(cl->x[f->a][f->b], on);
		else
			cluster_cut(cl, f->a, f->b, on);
		break;
	case F_LOSS:
		cluster_lossy(cl, f->a, f->b, on ? f->ms / 10 : 0);
		break;
	case F_KILL:
		if (on)
			dc_kill9(&cl->d[f->a]);
		else if (dc_restart(&cl->d[f->a]) != 0)
			fprintf(stderr, "cw-verify: DC %d did not restart\n",
			    f->a);
		break;
	case F_PAUSE:
		kill(cl->d[f->a].pid, on ? SIGSTOP : SIGCONT);
		break;
	case F_SKEW:
		if (dc_set_clock(&cl->d[f->a], on ? f->ms : 0) != 0)
			fprintf(
			    stderr, "cw-verify: cannot skew DC %d\n", f->a);
		break;
	default:
		cluster_delay(cl, f->a, f->b, on ? f->ms : 0);
	}
}

static void
sleep_until(double t)
{
	while (!atomic_load(&stop_clients) && now() < t)
		usleep(10000);
}

static void *
nemesis(void *arg)
{
	(void) arg;
	for (int i = 0; i < nsched && !atomic_load(&stop_clients); i++) {
		const fault *f = &sched[i];
		hop          o;
		sleep_until(f->start);
		if (atomic_load(&stop_clients))
			break;
		memset(&o, 0, sizeof(o));
		o.kind = K_FAULT;
		fault_text(f, o.text, sizeof(o.text));
		pthread_mutex_lock(&fault_mu);
		snprintf(fault_now, sizeof(fault_now), "%s", o.text);
		pthread_mutex_unlock(&fault_mu);
		o.t0 = now();
		apply_fault(f, true);
		atomic_fetch_add(&n_faults, 1);
		/* a kill stays down for the fault's length, then restarts */
		sleep_until(f->start + f->len);
		apply_fault(f, false);
		o.t1 = now();
		record(&o, NULL, NULL);
		pthread_mutex_lock(&fault_mu);
		snprintf(fault_now, sizeof(fault_now), "none");
		pthread_mutex_unlock(&fault_mu);
		if (atomic_load(&stop_clients))
			break;
	}
	return NULL;
}

/* ---- clients ------------------------------------------------------------ */

typedef struct {
	pthread_t  th;
	int        idx, dc;
	uint64_t   rng;
	uint32_t   wseq;
	cw_client *c;
	fmk       *f;
	uint64_t   fifo[64];
	int        nfifo;
	bool       reader; /* reads only, and moves a step in five */
} client;

static int
status_of(int rc, bool committing)
{
	if (rc == 0)
		return ST_OK;
	if (committing &&
	    (rc == CW_ETIMEDOUT || rc == CW_EUNAVAIL || rc == CW_EPROTO))
		return ST_UNKNOWN;
	return ST_FAIL;
}

static void
hexclock(cw_client *c, char *out, size_t n)
{
	void  *b;
	size_t l;
	out[0] = '\0';
	if (cw_clock_get(c, &b, &l) != 0)
		return;
	size_t o = 0;
	for (size_t i = 0; i < l && o + 3 < n; i++)
		o += (size_t) snprintf(
		    out + o, n - o, "%02x", ((unsigned char *) b)[i]);
	free(b);
}

static int
connect_dc(client *x, int dc)
{
	int rc = cluster_connect(cl, dc, &x->c);
	if (rc != 0)
		return rc;
	cw_set_timeout(x->c, 3000);
	x->dc       = dc;
	fmk_opts fo = { .wait_ms = 200, .retries = 2 };
	if (opt.fmk && (rc = fmk_open(&x->f, x->c, &fo)) != 0) {
		cw_close(x->c);
		x->c = NULL;
	}
	return rc;
}

/* The session moves to another DC, carrying its clock. */
static void
move(client *x)
{
	void  *b;
	size_t l;
	int    to =
	    (x->dc + 1 + (int) (rnd(&x->rng) % (uint64_t) (opt.dcs - 1))) %
	    opt.dcs;
	if (cw_clock_get(x->c, &b, &l) != 0)
		return;
	fmk_free(x->f);
	x->f = NULL;
	cw_close(x->c);
	while (connect_dc(x, to) != 0 && !atomic_load(&stop_clients))
		usleep(100000);
	if (x->c != NULL)
		cw_clock_merge(x->c, b, l);
	free(b);
}

static int
set_key_now(client *x)
{
	int gen = (int) (now() / GEN_SECONDS);
	int max = set_keys / SET_KEYS_PER_GEN - 1;
	if (gen > max)
		gen = max;
	/* now and then a key of the previous generation */
	if (gen > 0 && rnd(&x->rng) % 8 == 0)
		gen--;
	return gen * SET_KEYS_PER_GEN +
	    (int) (rnd(&x->rng) % SET_KEYS_PER_GEN);
}

/* Reads set k into r: its elements "S.Q". */
static int
read_set(cw_txn *t, int k, hread *r)
{
	char     kb[32];
	cw_list *l;
	int      n  = snprintf(kb, sizeof(kb), "v/%d", k);
	int      rc = cw_set_members(t, kb, (size_t) n, &l);
	r->key      = k;
	r->n        = 0;
	r->e        = NULL;
	if (rc != 0)
		return rc;
	if ((r->e = malloc((cw_list_len(l) + 1) * sizeof(hw))) == NULL) {
		cw_list_free(l);
		return CW_ENOMEM;
	}
	for (size_t j = 0; j < cw_list_len(l); j++) {
		size_t      len;
		const char *p = cw_list_at(l, j, &len);
		char        s[32];
		unsigned    a, b;
		snprintf(s, sizeof(s), "%.*s", (int) len, p);
		if (sscanf(s, "%u.%u", &a, &b) == 2)
			r->e[r->n++] = (hw) { a, b };
	}
	cw_list_free(l);
	return 0;
}

/* Ends a workload transaction after its operations (rc: the first
 * error): aborts it, or commits it; sets o's status. Returns the error. */
static int
end_txn(cw_txn *t, int rc, hop *o)
{
	if (rc != 0) {
		cw_abort(t);
		o->status = ST_FAIL;
		return rc;
	}
	rc        = cw_commit(t);
	o->status = status_of(rc, true);
	return rc;
}

/* The operation's end: its time and error name. */
static void
stamp_end(hop *o, int rc)
{
	o->t1 = now();
	if (rc != 0)
		snprintf(o->err, sizeof(o->err), "%s", cw_errname(rc));
}

static void
set_txn(client *x)
{
	hop     o;
	char    kb[32], cb[140], ca[140];
	cw_txn *t;
	int     rc;
	memset(&o, 0, sizeof(o));
	o.kind   = K_TXN;
	o.client = o.sess = x->idx;
	o.dc              = x->dc;
	hexclock(x->c, cb, sizeof(cb));
	o.t0   = now();
	o.nr   = 1 + (int) (rnd(&x->rng) % H_MAXR);
	bool w = rnd(&x->rng) % 10 < 7 && !x->reader;
	if (w) {
		o.nw  = 1 + (int) (rnd(&x->rng) % H_MAXW);
		o.seq = ++x->wseq;
		for (int i = 0; i < o.nw; i++) {
			bool dup;
			do { /* distinct sets */
				o.wkey[i] = set_key_now(x);
				dup       = false;
				for (int j = 0; j < i; j++)
					dup |= o.wkey[j] == o.wkey[i];
			} while (dup);
		}
	}
	for (int i = 0; i < o.nr; i++)
		o.r[i].key = set_key_now(x);
	rc = cw_begin(x->c, &t);
	if (rc != 0) {
		o.status = ST_FAIL;
		goto done;
	}
	for (int i = 0; i < o.nr && rc == 0; i++) {
		if ((rc = read_set(t, o.r[i].key, &o.r[i])) != 0)
			break;
	}
	if (rc != 0) {
		cw_abort(t);
		o.status = ST_FAIL;
		goto done;
	}
	for (int i = 0; i < o.nw && rc == 0; i++) {
		char e[32];
		int  n  = snprintf(kb, sizeof(kb), "v/%d", o.wkey[i]);
		int  en = snprintf(e, sizeof(e), "%d.%u", x->idx, o.seq);
		rc      = cw_set_add(t, kb, (size_t) n, e, (size_t) en);
	}
	rc = end_txn(t, rc, &o);
done:
	stamp_end(&o, rc);
	if (o.status == ST_FAIL)
		for (int i = 0; i < o.nr; i++) {
			free(o.r[i].e);
			o.r[i].e = NULL;
			o.r[i].n = 0;
		}
	hexclock(x->c, ca, sizeof(ca));
	record(&o, cb, ca);
	for (int i = 0; i < o.nr; i++)
		free(o.r[i].e);
}

/* Register key k: read into *v ("S.Q"; n 0 when missing) or write. */
static int
reg_get(cw_txn *t, int k, hread *r)
{
	char   kb[16], f[16];
	void  *v = NULL;
	size_t vl;
	int    rc;
	r->key = k;
	r->n   = 0;
	r->e   = NULL;
	if (k < REG_PLAIN) {
		int n = snprintf(kb, sizeof(kb), "g/%d", k);
		rc    = cw_reg_get(t, kb, (size_t) n, &v, &vl);
	} else {
		snprintf(f, sizeof(f), "f%d", k);
		rc = cw_map_get(t, "gm", 2, f, &v, &vl);
	}
	if (rc != 0 || v == NULL)
		return rc;
	char     s[32];
	unsigned a, b;
	snprintf(s, sizeof(s), "%.*s", (int) vl, (char *) v);
	free(v);
	if (sscanf(s, "%u.%u", &a, &b) != 2)
		return CW_EPROTO; /* a value the workload never writes */
	if ((r->e = malloc(sizeof(hw))) == NULL)
		return CW_ENOMEM;
	r->e[0] = (hw) { a, b };
	r->n    = 1;
	return 0;
}

/* Writes v to k, or (del, a map field) removes the field. */
static int
reg_put(cw_txn *t, int k, hw v, bool del)
{
	char kb[16], f[16], val[24];
	int  vl = snprintf(val, sizeof(val), "%u.%u", v.s, v.q);
	if (del) {
		snprintf(f, sizeof(f), "f%d", k);
		return cw_map_remove(t, "gm", 2, f);
	}
	if (k < REG_PLAIN) {
		int n = snprintf(kb, sizeof(kb), "g/%d", k);
		return cw_reg_put(t, kb, (size_t) n, val, (size_t) vl);
	}
	snprintf(f, sizeof(f), "f%d", k);
	return cw_map_put(t, "gm", 2, f, val, (size_t) vl);
}

/* The register workload: read 1-4 of the keys, then write unique values
 * to 1-3 (most of them among those read: read-modify-write, where lost
 * updates hide), now and then one key twice (its first value must never
 * be read). A third of the writes to the map fields remove the field. */
static void
reg_txn(client *x)
{
	hop     o;
	char    cb[140], ca[140];
	cw_txn *t;
	int     rc, keys[REG_KEYS];
	memset(&o, 0, sizeof(o));
	o.kind   = K_REG;
	o.client = o.sess = x->idx;
	o.dc              = x->dc;
	for (int i = 0; i < REG_KEYS; i++)
		keys[i] = i;
	for (int i = REG_KEYS - 1; i > 0; i--) { /* shuffled */
		int j = (int) (rnd(&x->rng) % (uint64_t) (i + 1)), c = keys[i];
		keys[i] = keys[j];
		keys[j] = c;
	}
	o.nr = 1 + (int) (rnd(&x->rng) % H_MAXR);
	for (int i = 0; i < o.nr; i++)
		o.r[i].key = keys[i];
	if (!x->reader) {
		o.nw = 1 + (int) (rnd(&x->rng) % H_MAXW);
		/* from the keys read first, then others */
		int from = rnd(&x->rng) % 4 == 0 ? o.nr : 0;
		for (int i = 0; i < o.nw; i++) {
			o.wkey[i] = keys[(from + i) % REG_KEYS];
			o.wval[i] = (hw) { (uint32_t) x->idx, ++x->wseq };
			if (o.wkey[i] >= REG_PLAIN && rnd(&x->rng) % 3 == 0)
				o.wdel |= (uint8_t) (1u << i);
		}
		if (rnd(&x->rng) % 10 == 0) {
			o.has_mid = true;
			o.mid_key = o.wkey[0];
			o.mid_val = (hw) { (uint32_t) x->idx, ++x->wseq };
		}
	}
	hexclock(x->c, cb, sizeof(cb));
	o.t0 = now();
	if ((rc = cw_begin(x->c, &t)) != 0) {
		o.status = ST_FAIL;
		goto done;
	}
	for (int i = 0; i < o.nr && rc == 0; i++)
		rc = reg_get(t, o.r[i].key, &o.r[i]);
	if (rc == 0 && o.has_mid)
		rc = reg_put(t, o.mid_key, o.mid_val, false);
	for (int i = 0; i < o.nw && rc == 0; i++)
		rc = reg_put(t, o.wkey[i], o.wval[i], o.wdel >> i & 1);
	rc = end_txn(t, rc, &o);
done:
	stamp_end(&o, rc);
	hexclock(x->c, ca, sizeof(ca));
	record(&o, cb, ca);
	for (int i = 0; i < o.nr; i++)
		free(o.r[i].e);
}

/* Reads add-and-remove set k into r: its elements eN as {N, 0}. */
static int
rset_read(cw_txn *t, int k, hread *r)
{
	char     kb[16];
	cw_list *l;
	int      n  = snprintf(kb, sizeof(kb), "rs/%d", k);
	int      rc = cw_set_members(t, kb, (size_t) n, &l);
	r->key      = k;
	r->n        = 0;
	r->e        = NULL;
	if (rc != 0)
		return rc;
	if ((r->e = malloc((cw_list_len(l) + 1) * sizeof(hw))) == NULL) {
		cw_list_free(l);
		return CW_ENOMEM;
	}
	for (size_t j = 0; j < cw_list_len(l); j++) {
		size_t      len;
		const char *p = cw_list_at(l, j, &len);
		unsigned    el;
		char        b[16];
		snprintf(b, sizeof(b), "%.*s", (int) len, p);
		if (sscanf(b, "e%u", &el) == 1)
			r->e[r->n++] = (hw) { el, 0 };
	}
	cw_list_free(l);
	return 0;
}

/* The add-and-remove sets: read one, then (writers) add one of its 8
 * elements or remove one, most often one the read showed, so that
 * removes meet concurrent adds. The session clock right after the read
 * is the snapshot's vector, recorded for the checker (orset.c). */
static void
rset_txn(client *x)
{
	hop     o;
	char    kb[16], e[16], cb[140], ca[140];
	cw_txn *t;
	int     rc;
	memset(&o, 0, sizeof(o));
	o.kind   = K_RSET;
	o.client = o.sess = x->idx;
	o.dc              = x->dc;
	o.key             = (int) (rnd(&x->rng) % RSET_KEYS);
	o.value           = (int64_t) (rnd(&x->rng) % RSET_ELEMS);
	o.nr              = 1;
	hexclock(x->c, cb, sizeof(cb));
	o.t0 = now();
	if ((rc = cw_begin(x->c, &t)) != 0) {
		o.status = ST_FAIL;
		goto done;
	}
	if ((rc = rset_read(t, o.key, &o.r[0])) == 0) {
		hexclock(x->c, o.text, sizeof(o.text));
		if (!x->reader) {
			/* remove what it saw, half the time */
			if (o.r[0].n > 0 && rnd(&x->rng) % 2 == 0) {
				o.value = o.r[0].e[rnd(&x->rng) % o.r[0].n].s;
				o.delta = -1;
			} else
				o.delta = rnd(&x->rng) % 3 == 0 ? -1 : 1;
			int n  = snprintf(kb, sizeof(kb), "rs/%d", o.key);
			int en = snprintf(e, sizeof(e), "e%d", (int) o.value);
			rc     = o.delta > 0
			        ? cw_set_add(t, kb, (size_t) n, e, (size_t) en)
			        : cw_set_remove(t, kb, (size_t) n, e, (size_t) en);
		}
	}
	rc = end_txn(t, rc, &o);
done:
	stamp_end(&o, rc);
	hexclock(x->c, ca, sizeof(ca));
	record(&o, cb, ca);
	free(o.r[0].e);
}

/* Counter and bounded-counter operations: one transaction each. */
static void
counter_op(client *x, int kind)
{
	hop     o;
	char    kb[32];
	cw_txn *t;
	memset(&o, 0, sizeof(o));
	o.kind   = kind;
	o.client = o.sess = x->idx;
	o.dc              = x->dc;
	o.key             = (int) (rnd(&x->rng) %
            (kind == K_ADD || kind == K_CREAD ? COUNTER_KEYS : ESCROW_KEYS));
	int n             = snprintf(kb, sizeof(kb), "%s/%d",
            kind == K_ADD || kind == K_CREAD ? "c" : "e", o.key);
	o.t0              = now();
	int rc            = cw_begin(x->c, &t);
	if (rc == 0) {
		switch (kind) {
		case K_ADD:
			o.delta = 1 + (int64_t) (rnd(&x->rng) % 5);
			rc      = cw_counter_add(t, kb, (size_t) n, o.delta);
			break;
		case K_CREAD:
			rc = cw_counter_get(t, kb, (size_t) n, &o.value);
			break;
		case K_DEC:
			o.delta = -1;
			rc = cw_bcounter_add_wait(t, kb, (size_t) n, -1, 100);
			break;
		default:
			rc = cw_bcounter_get(t, kb, (size_t) n, &o.value);
		}
		if (rc == 0) {
			rc = cw_commit(t);
			o.status =
			    status_of(rc, kind == K_ADD || kind == K_DEC);
		} else {
			cw_abort(t);
			o.status = ST_FAIL;
		}
	} else {
		o.status = ST_FAIL;
	}
	o.t1 = now();
	if (rc != 0)
		snprintf(o.err, sizeof(o.err), "%s", cw_errname(rc));
	record(&o, NULL, NULL);
}

static void
fmk_op(client *x)
{
	hop o;
	int rc = 0;
	memset(&o, 0, sizeof(o));
	o.kind   = K_FMK;
	o.client = o.sess = x->idx;
	o.dc              = x->dc;
	o.t0              = now();
	uint64_t r        = rnd(&x->rng) % 10;
	if (r < 4) {
		fmk_prescription p;
		memset(&p, 0, sizeof(p));
		p.id         = fm.prescriptions + 1 + (rnd(&x->rng) >> 2);
		p.patient    = rnd(&x->rng) % fm.n[FMK_PATIENT] + 1;
		p.prescriber = rnd(&x->rng) % fm.n[FMK_STAFF] + 1;
		p.pharmacy   = rnd(&x->rng) % fm.n[FMK_PHARMACY] + 1;
		strcpy(p.date_prescribed, "2026-11-23");
		p.drugs.n = 1;
		strcpy(p.drugs.name[0],
		    fmk_drug_name(
		        (int) (rnd(&x->rng) % (uint64_t) fm.ndrugs)));
		snprintf(o.text, sizeof(o.text), "create_prescription");
		rc = fmk_create_prescription(x->f, &p);
		if (rc == 0 && x->nfifo < 64)
			x->fifo[x->nfifo++] = p.id;
		if (rc == 0)
			rc = fmk_audit(x->f, p.id);
	} else if (r < 6) {
		uint64_t id = x->nfifo > 0
		    ? x->fifo[--x->nfifo]
		    : rnd(&x->rng) % fm.prescriptions + 1;
		snprintf(o.text, sizeof(o.text), "process_prescription");
		rc = fmk_process(x->f, id, "2026-11-24");
	} else {
		uint64_t id = rnd(&x->rng) % fm.prescriptions + 1;
		snprintf(o.text, sizeof(o.text), "audit_prescription");
		rc = fmk_audit(x->f, id);
	}
	o.t1 = now();
	if (rc > 0) { /* an audit's violations */
		o.value = rc;
		rc      = 0;
	}
	o.status = rc == 0 ? ST_OK : ST_FAIL;
	if (rc != 0)
		snprintf(o.err, sizeof(o.err), "%s", fmk_errname(rc));
	record(&o, NULL, NULL);
}

static void *
client_main(void *arg)
{
	client *x = arg;
	while (!atomic_load(&stop_clients)) {
		if (x->c == NULL) {
			if (connect_dc(x, x->dc) != 0) {
				usleep(100000);
				continue;
			}
		}
		if (opt.dcs > 1 && rnd(&x->rng) % 100 < (x->reader ? 20 : 3)) {
			move(x);
			continue;
		}
		uint64_t r = rnd(&x->rng) % 100;
		if (x->reader) { /* what a session that never writes sees,
			          * DC after DC: monotonic reads */
			if (r < 35)
				set_txn(x);
			else if (r < 55)
				reg_txn(x);
			else if (r < 70)
				rset_txn(x);
			else
				counter_op(x, r < 85 ? K_CREAD : K_BREAD);
			continue;
		}
		if (r < 30 || (r >= 85 && !opt.fmk))
			set_txn(x);
		else if (r < 45)
			reg_txn(x);
		else if (r < 55)
			rset_txn(x);
		else if (r < 70)
			counter_op(x, r < 66 ? K_ADD : K_CREAD);
		else if (r < 85)
			counter_op(x, r < 81 ? K_DEC : K_BREAD);
		else
			fmk_op(x);
	}
	fmk_free(x->f);
	cw_close(x->c);
	return NULL;
}

/* ---- setup and the end ----------------------------------------------------
 */

static int
setup_data(void)
{
	for (int d = 0; d < opt.dcs; d++) {
		cw_client *c;
		cw_txn    *t;
		int        rc = cluster_connect(cl, d, &c);
		if (rc != 0)
			return rc;
		if ((rc = cw_begin(c, &t)) == 0) {
			for (int k = 0; k < ESCROW_KEYS && rc == 0; k++) {
				char kb[16];
				int  n = snprintf(kb, sizeof(kb), "e/%d", k);
				rc     = cw_bcounter_add(
				        t, kb, (size_t) n, opt.escrow);
			}
			rc = rc == 0 ? cw_commit(t) : (cw_abort(t), rc);
		}
		if (rc == 0 && d == 0 && opt.fmk) {
			fmk *f;
			fm = (fmk_meta) { .n   = { 100, 5, 10, 2 },
				.prescriptions = 50,
				.stock         = 1000,
				.ndrugs        = 5 };
			if ((rc = fmk_open(&f, c, NULL)) == 0) {
				rc = fmk_meta_put(f, &fm);
				for (int k = 0; rc == 0 && k < FMK_NKINDS; k++)
					rc = fmk_populate_batch(
					    f, k, 1, fm.n[k], 7);
				if (rc == 0)
					rc = fmk_populate_batch(f,
					    FMK_POP_PRESCRIPTIONS, 1, 50, 7);
				if (rc == 0)
					rc = fmk_populate_batch(
					    f, FMK_POP_STOCK, 1, 5, 7);
				fmk_free(f);
			}
		}
		cw_close(c);
		if (rc != 0)
			return rc;
	}
	return cluster_converged(cl, 30) ? 0 : CW_ETIMEDOUT;
}

/* After the last heal: every DC's digest and every object, and `fmk
 * check` at every DC. */
static int
final_reads(void)
{
	/* Escrow may still move rights for a moment after the load stops
	 * (its demand decays over seconds): take the digests when all DCs
	 * agree in one round, or the last round's after --converge. */
	static cw_dc_info info[CL_MAX];
	for (int round = 0; round < opt.converge * 10; round++) {
		bool same = true;
		for (int d = 0; d < opt.dcs; d++) {
			cw_client *c;
			if (cluster_connect(cl, d, &c) != 0) {
				same = false;
				continue;
			}
			if (cw_dc_status(c, &info[d]) != 0)
				same = false;
			cw_close(c);
			if (d > 0 &&
			    (info[d].digest != info[0].digest ||
			        memcmp(info[d].state, info[0].state,
			            sizeof(info[0].state)) != 0))
				same = false;
		}
		if (same)
			break;
		usleep(100000);
	}
	for (int d = 0; d < opt.dcs; d++) {
		hop o;
		memset(&o, 0, sizeof(o));
		o.kind   = K_DIGEST;
		o.dc     = d;
		o.digest = info[d].digest;
		/* since the DC's last start: coverage only */
		o.value = (int64_t) info[d].escrow_grants;
		for (int p = 0; p < info[d].npeers; p++)
			o.delta += (int64_t) info[d].peers[p].forwarded;
		o.t0 = o.t1 = now();
		record(&o, NULL, NULL);
	}
	for (int d = 0; d < opt.dcs; d++) {
		cw_client *c;
		cw_txn    *t;
		hop        o;
		char       kb[32];
		int        rc = cluster_connect(cl, d, &c);
		if (rc != 0)
			return rc;
		cw_set_timeout(c, 30000);
		if ((rc = cw_begin(c, &t)) != 0) {
			cw_close(c);
			return rc;
		}
		for (int k = 0; k < set_keys && rc == 0; k++) {
			memset(&o, 0, sizeof(o));
			o.kind = K_FINAL_SET;
			o.dc   = d;
			o.key  = k;
			o.nr   = 1;
			if ((rc = read_set(t, k, &o.r[0])) != 0)
				break;
			record(&o, NULL, NULL);
			free(o.r[0].e);
		}
		for (int k = 0; k < RSET_KEYS && rc == 0; k++) {
			memset(&o, 0, sizeof(o));
			o.kind = K_FINAL_RSET;
			o.dc   = d;
			o.key  = k;
			o.nr   = 1;
			if ((rc = rset_read(t, k, &o.r[0])) != 0)
				break;
			record(&o, NULL, NULL);
			free(o.r[0].e);
		}
		for (int k = 0; k < REG_KEYS && rc == 0; k++) {
			memset(&o, 0, sizeof(o));
			o.kind = K_FINAL_REG;
			o.dc   = d;
			o.key  = k;
			o.nr   = 1;
			if ((rc = reg_get(t, k, &o.r[0])) != 0)
				break;
			record(&o, NULL, NULL);
			free(o.r[0].e);
		}
		for (int k = 0; k < COUNTER_KEYS + ESCROW_KEYS && rc == 0;
		     k++) {
			bool esc = k >= COUNTER_KEYS;
			int  key = esc ? k - COUNTER_KEYS : k;
			int  n   = snprintf(
			       kb, sizeof(kb), "%s/%d", esc ? "e" : "c", key);
			memset(&o, 0, sizeof(o));
			o.kind = esc ? K_FINAL_BCOUNTER : K_FINAL_COUNTER;
			o.dc   = d;
			o.key  = key;
			rc = esc ? cw_bcounter_get(t, kb, (size_t) n, &o.value)
			         : cw_counter_get(t, kb, (size_t) n, &o.value);
			if (rc == 0)
				record(&o, NULL, NULL);
		}
		cw_abort(t);
		if (rc == 0 && opt.fmk) {
			fmk       *f;
			fmk_report r;
			if ((rc = fmk_open(&f, c, NULL)) == 0) {
				rc = fmk_check_dc(f, &r, NULL, NULL);
				fmk_free(f);
			}
			if (rc == 0) {
				memset(&o, 0, sizeof(o));
				o.kind  = K_FMK_CHECK;
				o.dc    = d;
				o.value = (int64_t) (r.dangling +
				    r.missing_index + r.orphan_index +
				    r.processed_twice + r.token_mismatch +
				    r.stock_negative + r.stock_mismatch);
				snprintf(o.text, sizeof(o.text),
				    "fmk check: %" PRIu64 " prescriptions",
				    r.prescriptions);
				record(&o, NULL, NULL);
			}
		}
		cw_close(c);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
report(const char *path)
{
	history h;
	verdict v[NCHECKS];
	double  t0 = now();
	if (hist_load(&h, path) != 0)
		return 3;
	uint64_t bad = hist_check(&h, v, true);
	uint64_t by[K_NKINDS][3];
	memset(by, 0, sizeof(by));
	for (size_t i = 0; i < h.n; i++)
		by[h.op[i].kind][h.op[i].status]++;
	printf(
	    "\n%-16s %9s %9s %9s\n", "operations", "ok", "failed", "unknown");
	for (int k = K_TXN; k <= K_RSET; k++)
		if (k <= K_FMK || k == K_REG || k == K_RSET)
			printf("%-16s %9" PRIu64 " %9" PRIu64 " %9" PRIu64
			       "\n",
			    hist_kind_names[k], by[k][0], by[k][1], by[k][2]);
	printf("faults injected: %" PRIu64 "\n", by[K_FAULT][0]);
	int unseen = hist_coverage(&h, stdout);
	if (unseen > 0)
		printf("cw-verify: %d situation(s) the checkers are for never "
		       "came up in this run: its pass says nothing of them\n",
		    unseen);
	printf("\n%-20s %10s %11s  %-18s %s\n", "checker", "checked",
	    "violations", "cost", "");
	for (int i = 0; i < NCHECKS; i++)
		printf("%-20s %10" PRIu64 " %11" PRIu64 "  %-18s %s\n",
		    v[i].name, v[i].checked, v[i].violations, v[i].complexity,
		    v[i].violations ? "FAILED" : "passed");
	for (int i = 0; i < NCHECKS; i++)
		if (v[i].violations)
			printf(
			    "first %s violation: %s\n", v[i].name, v[i].first);
	printf("checked %zu operations in %.2f s; seed %" PRIu64
	       " (replay: --seed %" PRIu64 ")\n",
	    h.n, now() - t0, h.seed, h.seed);
	printf("%s\n",
	    bad ? "cw-verify: VIOLATIONS FOUND"
	        : "cw-verify: every guarantee held");
	hist_free(&h);
	return bad ? 1 : 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cw-verify run [OPTIONS]\n"
	    "       cw-verify check HISTORY\n"
	    "\n"
	    "  --dcs N (3)          DCs on loopback, every link through a "
	    "fault proxy\n"
	    "  --clients N (12)     client sessions, spread over the DCs; "
	    "3%% of their\n"
	    "                       steps move to another DC with their "
	    "clock\n"
	    "  --readers N          of them, sessions that only read and "
	    "move\n"
	    "                       a step in five (default: a quarter)\n"
	    "  --duration S (60)    seconds of workload and faults\n"
	    "  --faults LIST        partition,kill,pause,delay,loss (the "
	    "default), none,\n"
	    "                       or with skew: a DC's clock 0.3-4 s ahead "
	    "or behind\n"
	    "                       (runs causewayd-bugs, whose clock can be "
	    "offset)\n"
	    "  --seed N             the fault schedule and workload (default: "
	    "time)\n"
	    "  --history FILE       where the history goes (default: in the "
	    "run's\n"
	    "                       temporary directory, kept on a "
	    "violation)\n"
	    "  --bug NAME           run causewayd-bugs with CW_TEST_BUG=NAME "
	    "(docs/verification.md)\n"
	    "  --escrow N (400)     units of each bounded counter minted at "
	    "each DC\n"
	    "  --converge S (120)   how long to wait after the heal for the "
	    "DCs to agree\n"
	    "  --no-fmk             leave out the prescription app\n"
	    "  --forward all|mixed|none  which DCs forward others' records "
	    "(mixed:\n"
	    "                       all but DC 1, the default)\n"
	    "  --no-forward         DCs ship only their own records "
	    "(causewayd\n"
	    "                       --forward no): causal order then rests "
	    "on the\n"
	    "                       receivers' dependency checks alone\n"
	    "  --tls                mutual TLS between the DCs and TLS for "
	    "every\n"
	    "                       client (certificates made fresh by\n"
	    "                       tools/certs.sh, or $CW_CERTS_SH)\n"
	    "  --quiet              no progress lines\n");
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = { { "dcs", 1, NULL, 'd' },
		{ "clients", 1, NULL, 'c' }, { "duration", 1, NULL, 't' },
		{ "faults", 1, NULL, 'f' }, { "seed", 1, NULL, 's' },
		{ "history", 1, NULL, 'o' }, { "bug", 1, NULL, 'b' },
		{ "no-fmk", 0, NULL, 'n' }, { "quiet", 0, NULL, 'q' },
		{ "escrow", 1, NULL, 'e' }, { "no-forward", 0, NULL, 'F' },
		{ "converge", 1, NULL, 'C' }, { "forward", 1, NULL, 'W' },
		{ "tls", 0, NULL, 'T' }, { "readers", 1, NULL, 'R' },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	int                        o;
	opt.faults = F_PARTITION | F_KILL | F_PAUSE | F_DELAY | F_LOSS;
	opt.seed   = (uint64_t) time(NULL) % 1000000;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end;
		switch (o) {
		case 'd':
			opt.dcs = (int) strtol(optarg, &end, 10);
			if (*end || opt.dcs < 1 || opt.dcs > CL_MAX)
				goto bad;
			break;
		case 'c':
			opt.clients = (int) strtol(optarg, &end, 10);
			if (*end || opt.clients < 1 || opt.clients > MAXC)
				goto bad;
			break;
		case 'R':
			opt.readers = (int) strtol(optarg, &end, 10);
			if (*end || opt.readers < 0 || opt.readers > MAXC)
				goto bad;
			break;
		case 't':
			opt.duration = strtod(optarg, &end);
			if ((*end && strcmp(end, "s") != 0) ||
			    opt.duration < 2 || opt.duration > 86400)
				goto bad;
			break;
		case 'f':
			opt.faults = 0;
			for (char *save, *p = strtok_r(optarg, ",", &save); p;
			     p = strtok_r(NULL, ",", &save)) {
				if (strcmp(p, "partition") == 0)
					opt.faults |= F_PARTITION;
				else if (strcmp(p, "kill") == 0)
					opt.faults |= F_KILL;
				else if (strcmp(p, "pause") == 0)
					opt.faults |= F_PAUSE;
				else if (strcmp(p, "delay") == 0)
					opt.faults |= F_DELAY;
				else if (strcmp(p, "loss") == 0)
					opt.faults |= F_LOSS;
				else if (strcmp(p, "skew") == 0)
					opt.faults |= F_SKEW;
				else if (strcmp(p, "none") != 0)
					goto bad;
			}
			break;
		case 's':
			opt.seed = strtoull(optarg, &end, 10);
			if (*end)
				goto bad;
			break;
		case 'o':
			opt.history = optarg;
			break;
		case 'e':
			opt.escrow = strtoll(optarg, &end, 10);
			if (*end || opt.escrow < 0 || opt.escrow > 1000000000)
				goto bad;
			break;
		case 'b':
			opt.bug = optarg;
			break;
		case 'n':
			opt.fmk = false;
			break;
		case 'F':
			opt.forward = FWD_NONE;
			break;
		case 'W':
			if (strcmp(optarg, "all") == 0)
				opt.forward = FWD_ALL;
			else if (strcmp(optarg, "mixed") == 0)
				opt.forward = FWD_MIXED;
			else if (strcmp(optarg, "none") == 0)
				opt.forward = FWD_NONE;
			else
				goto bad;
			break;
		case 'C':
			opt.converge = (int) strtol(optarg, &end, 10);
			if (*end || opt.converge < 1 || opt.converge > 3600)
				goto bad;
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'T':
			opt.tls = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind + 2 == argc && strcmp(argv[optind], "check") == 0)
		return report(argv[optind + 1]);
	if (optind + 1 != argc || strcmp(argv[optind], "run") != 0)
		goto bad;
	if (opt.dcs < 2)
		opt.faults = 0;
	if (opt.readers < 0)
		opt.readers = opt.clients / 4;
	if (opt.readers >= opt.clients && opt.clients > 1) {
		fprintf(stderr, "cw-verify: --readers leaves no writer\n");
		return 2;
	}

	/* the deployment */
	static char *extra[] = { "--session-wait", "1000", "--log", "warn",
		NULL, NULL, NULL };
	static char *nofwd[] = { "--forward", "no", NULL };
	char *const *per_dc[CL_MAX];
	for (int i = 0; i < CL_MAX; i++)
		per_dc[i] = opt.forward == FWD_NONE ||
		        (opt.forward == FWD_MIXED && i == 1)
		    ? nofwd
		    : NULL;
	/* the skew fault offsets a DC's clock, which only the test build
	 * can (util.h cw_now_ms): with no --bug every seeded bug is off */
	if (opt.bug != NULL || (opt.faults & F_SKEW)) {
		const char *d = getenv("CAUSEWAYD");
		char        bin[512];
		snprintf(bin, sizeof(bin), "%s-bugs",
		    d ? d : "build/bin/causewayd");
		setenv("CAUSEWAYD", bin, 1);
		if (opt.bug != NULL)
			setenv("CW_TEST_BUG", opt.bug, 1);
		setenv("CW_TEST_CLOCKS", "1", 1);
	}
	dc_watchdog((unsigned) opt.duration + 600);
	if (cluster_start_full(&cl, opt.dcs, extra, per_dc, opt.tls) != 0) {
		fprintf(
		    stderr, "cw-verify: could not start %d DCs\n", opt.dcs);
		return 3;
	}
	char hpath[512];
	if (opt.history != NULL)
		snprintf(hpath, sizeof(hpath), "%s", opt.history);
	else
		snprintf(hpath, sizeof(hpath), "%s/cw-verify.%d.jsonl",
		    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		    (int) getpid());
	if ((hf = fopen(hpath, "w")) == NULL) {
		perror(hpath);
		cluster_stop(cl);
		return 3;
	}
	set_keys = SET_KEYS_PER_GEN * ((int) (opt.duration / GEN_SECONDS) + 1);
	history meta = { .dcs   = opt.dcs,
		.sessions       = opt.clients,
		.set_keys       = set_keys,
		.counter_keys   = COUNTER_KEYS,
		.escrow_keys    = ESCROW_KEYS,
		.reg_keys       = REG_KEYS,
		.rset_keys      = RSET_KEYS,
		.rset_elems     = RSET_ELEMS,
		.escrow_initial = (int64_t) opt.escrow * opt.dcs,
		.seed           = opt.seed };
	hist_write_meta(hf, &meta);
	make_schedule();
	printf("cw-verify: %d DCs, %d clients, %.0f s, seed %" PRIu64
	       "%s%s%s\nfault schedule (%d):\n",
	    opt.dcs, opt.clients, opt.duration, opt.seed,
	    opt.bug ? ", seeded bug " : "", opt.bug ? opt.bug : "",
	    opt.tls ? ", TLS on every link" : "", nsched);
	for (int i = 0; i < nsched; i++) {
		char t[128];
		fault_text(&sched[i], t, sizeof(t));
		printf("  %6.2f s  +%.2f s  %s\n", sched[i].start,
		    sched[i].len, t);
	}
	fflush(stdout);
	int             rc;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t_start = (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
	if ((rc = setup_data()) != 0) {
		fprintf(stderr, "cw-verify: setup: %s\n", cw_strerror(rc));
		cluster_stop(cl);
		return 3;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t_start = (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;

	static client cs[MAXC];
	pthread_t     nem;
	for (int i = 0; i < opt.clients; i++) {
		cs[i].idx = i;
		cs[i].dc  = i % opt.dcs;
		cs[i].rng = opt.seed * 1000003 + (uint64_t) i;
		/* the last sessions are the readers */
		cs[i].reader = opt.dcs > 1 && i >= opt.clients - opt.readers;
		pthread_create(&cs[i].th, NULL, client_main, &cs[i]);
	}
	pthread_create(&nem, NULL, nemesis, NULL);
	double last = 0;
	while (now() < opt.duration) {
		usleep(100000);
		if (opt.quiet || now() - last < 5)
			continue;
		last = now();
		pthread_mutex_lock(&fault_mu);
		printf("  %5.1f s  ok %" PRIu64 ", failed %" PRIu64
		       ", unknown %" PRIu64 "; faults %" PRIu64 ", now: %s\n",
		    last, (uint64_t) atomic_load(&n_ok),
		    (uint64_t) atomic_load(&n_fail),
		    (uint64_t) atomic_load(&n_unknown),
		    (uint64_t) atomic_load(&n_faults), fault_now);
		pthread_mutex_unlock(&fault_mu);
		fflush(stdout);
	}
	atomic_store(&stop_clients, true);
	pthread_join(nem, NULL);
	for (int i = 0; i < opt.clients; i++)
		pthread_join(cs[i].th, NULL);
	/* heal everything, then wait for the DCs to agree */
	for (int i = 0; i < opt.dcs; i++) {
		if (cl->d[i].pid > 0)
			kill(cl->d[i].pid, SIGCONT);
		else
			dc_restart(&cl->d[i]);
		for (int j = 0; j < opt.dcs; j++)
			if (i != j) {
				cluster_cut(cl, i, j, false);
				cluster_delay(cl, i, j, 0);
				cluster_lossy(cl, i, j, 0);
			}
	}
	printf("workload done at %.1f s; healed; waiting for convergence\n",
	    now());
	fflush(stdout);
	bool conv = cluster_converged(cl, opt.converge);
	if (!conv)
		fprintf(stderr,
		    "cw-verify: the DCs did not converge in %d s\n",
		    opt.converge);
	if ((rc = final_reads()) != 0)
		fprintf(
		    stderr, "cw-verify: final reads: %s\n", cw_strerror(rc));
	fclose(hf);
	/* the DCs stop before the check: nothing it does can leave them
	 * running */
	int stopped = cluster_stop(cl);
	int status  = report(hpath);
	if (stopped != 0 && status == 0)
		status = 3;
	if (opt.history == NULL) {
		if (status == 0)
			unlink(hpath);
		else
			printf("history kept in %s (cw-verify check %s)\n",
			    hpath, hpath);
	}
	return status;
bad:
	usage(stderr);
	return 2;
}
