/*
 * util.c - see util.h. The error table of causeway.h is expanded here into
 * cw_strerror and cw_errname.
 */
#include "util.h"

#include <errno.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static atomic_long fail_after = -1;

static bool
alloc_should_fail(void)
{
	long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
	if (n < 0)
		return false;
	if (n == 0)
		return true;
	atomic_fetch_sub_explicit(&fail_after, 1, memory_order_relaxed);
	return false;
}

void
cw_alloc_fail_after(long n)
{
	atomic_store(&fail_after, n);
}

void *
cw_malloc(size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *
cw_calloc(size_t n, size_t size)
{
	if (alloc_should_fail())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *
cw_realloc(void *p, size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void
cw_free(void *p)
{
	free(p);
}

int
cw_grow(void *pp, size_t *cap, size_t need, size_t sz)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 8;
	while (c < need)
		c *= 2;
	void *p = cw_realloc(*(void **) pp, c * sz);
	if (p == NULL)
		return CW_ENOMEM;
	*(void **) pp = p;
	*cap          = c;
	return 0;
}

void *
cw_memdup(const void *p, size_t n)
{
	void *q = cw_malloc(n);
	if (q != NULL && n > 0)
		memcpy(q, p, n);
	return q;
}

const char *
cw_strerror(int err)
{
	switch (err) {
	case CW_OK:
		return "success";
#define XX(name, code, msg) \
	case CW_##name:     \
		return msg;
		CW_ERRNO_MAP(XX)
#undef XX
	}
	return "unknown error";
}

const char *
cw_errname(int err)
{
	switch (err) {
	case CW_OK:
		return "OK";
#define XX(name, code, msg) \
	case CW_##name:     \
		return #name;
		CW_ERRNO_MAP(XX)
#undef XX
	}
	return "EUNKNOWN";
}

static atomic_int log_level = -1;

void
cw_log_set_level(int level)
{
	atomic_store(&log_level, level);
}

static int
current_level(void)
{
	int l = atomic_load(&log_level);
	if (l >= 0)
		return l;
	const char *e = getenv("CW_LOG");
	l             = CW_LOG_WARN;
	if (e != NULL) {
		if (strcmp(e, "error") == 0)
			l = CW_LOG_ERROR;
		else if (strcmp(e, "info") == 0)
			l = CW_LOG_INFO;
		else if (strcmp(e, "debug") == 0)
			l = CW_LOG_DEBUG;
	}
	atomic_store(&log_level, l);
	return l;
}

void
cw_log(int level, const char *mod, const char *fmt, ...)
{
	static const char *names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	if (level > current_level())
		return;
	struct timespec ts;
	struct tm       tm;
	char            when[32];
	char            msg[1024];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One fprintf per line, so lines of threads do not interleave. */
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000,
	    names[level], mod, msg);
}

void
cw_log_limited(
    cw_ratelimit *rl, int level, const char *mod, const char *fmt, ...)
{
	if (level > current_level())
		return;
	uint64_t now = cw_mono_ms(), last = atomic_load(&rl->last_ms);
	if ((last != 0 && now - last < 1000) ||
	    !atomic_compare_exchange_strong(&rl->last_ms, &last, now)) {
		atomic_fetch_add(&rl->quiet, 1);
		return;
	}
	char    msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	uint64_t q = atomic_exchange(&rl->quiet, 0);
	if (q > 0)
		cw_log(level, mod,
		    "%s (and %llu more like it since the last "
		    "such line)",
		    msg, (unsigned long long) q);
	else
		cw_log(level, mod, "%s", msg);
}

static uint64_t
clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

#ifdef CW_TEST_BUGS
/* The test build's clock offset (the harness's skew fault): ms, signed,
 * in the file $CW_TEST_CLOCK_FILE, read again every 20 ms. */
static int64_t
test_clock_offset(void)
{
	static _Atomic int64_t  off;
	static _Atomic uint64_t next;
	const char             *path = getenv("CW_TEST_CLOCK_FILE");
	uint64_t                now  = clock_ms(CLOCK_MONOTONIC);
	if (path == NULL)
		return 0;
	if (now >= atomic_load(&next)) {
		FILE     *f = fopen(path, "r");
		long long v = 0;
		if (f != NULL) {
			if (fscanf(f, "%lld", &v) != 1)
				v = 0;
			fclose(f);
		}
		atomic_store(&off, (int64_t) v);
		atomic_store(&next, now + 20);
	}
	return atomic_load(&off);
}
#endif

uint64_t
cw_now_ms(void)
{
#ifdef CW_TEST_BUGS
	return (uint64_t) ((int64_t) clock_ms(CLOCK_REALTIME) +
	    test_clock_offset());
#else
	return clock_ms(CLOCK_REALTIME);
#endif
}

#ifdef CW_TEST_BUGS
bool
cw_test_bug(const char *name)
{
	const char *b = getenv("CW_TEST_BUG");
	return b != NULL && strcmp(b, name) == 0;
}
#endif

uint64_t
cw_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

void
cw_deadline_after(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t) (ms / 1000);
	ts->tv_nsec += (long) (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

void
cw_cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

int
cw_buf_reserve(cw_buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2)
			return CW_ENOMEM;
		cap *= 2;
	}
	uint8_t *p = cw_realloc(b->p, cap);
	if (p == NULL)
		return CW_ENOMEM;
	b->p   = p;
	b->cap = cap;
	return 0;
}

int
cw_buf_put(cw_buf *b, const void *p, size_t n)
{
	int rc = cw_buf_reserve(b, n);
	if (rc != 0)
		return rc;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int
cw_buf_u8(cw_buf *b, uint8_t v)
{
	return cw_buf_put(b, &v, 1);
}

int
cw_buf_u16(cw_buf *b, uint16_t v)
{
	uint8_t t[2];
	cw_st_u16(t, v);
	return cw_buf_put(b, t, 2);
}

int
cw_buf_u32(cw_buf *b, uint32_t v)
{
	uint8_t t[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16),
		(uint8_t) (v >> 24) };
	return cw_buf_put(b, t, 4);
}

int
cw_buf_u64(cw_buf *b, uint64_t v)
{
	uint8_t t[8];
	cw_st_u64(t, v);
	return cw_buf_put(b, t, 8);
}

void
cw_buf_fini(cw_buf *b)
{
	cw_free(b->p);
	b->p   = NULL;
	b->len = b->cap = 0;
}

bool
cw_rd_bytes(cw_rd *r, size_t n, const uint8_t **p)
{
	if (r->len - r->off < n)
		return false;
	*p = r->p + r->off;
	r->off += n;
	return true;
}

bool
cw_rd_u8(cw_rd *r, uint8_t *v)
{
	const uint8_t *p;
	if (!cw_rd_bytes(r, 1, &p))
		return false;
	*v = p[0];
	return true;
}

bool
cw_rd_u16(cw_rd *r, uint16_t *v)
{
	const uint8_t *p;
	if (!cw_rd_bytes(r, 2, &p))
		return false;
	*v = (uint16_t) (p[0] | (p[1] << 8));
	return true;
}

bool
cw_rd_u32(cw_rd *r, uint32_t *v)
{
	const uint8_t *p;
	if (!cw_rd_bytes(r, 4, &p))
		return false;
	*v = (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
	    ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
	return true;
}

bool
cw_rd_u64(cw_rd *r, uint64_t *v)
{
	const uint8_t *p;
	if (!cw_rd_bytes(r, 8, &p))
		return false;
	*v = cw_ld_u64(p);
	return true;
}

int
cw_bytes_cmp(const void *a, size_t al, const void *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int    c = n ? memcmp(a, b, n) : 0;
	if (c != 0)
		return c;
	return (al > bl) - (al < bl);
}

/* A list keeps its elements back to back in one buffer; items[i] records
 * where element i starts and how long it is. */
struct cw_list {
	size_t n, cap;
	struct {
		size_t off, len;
	} * items;
	cw_buf data;
};

int
cw_list_new(cw_list **out)
{
	*out = cw_calloc(1, sizeof(**out));
	return *out == NULL ? CW_ENOMEM : 0;
}

int
cw_list_push(cw_list *l, const void *p, size_t n)
{
	if (cw_grow(&l->items, &l->cap, l->n + 1, sizeof(*l->items)) != 0)
		return CW_ENOMEM;
	size_t off = l->data.len;
	if (cw_buf_put(&l->data, p, n) != 0)
		return CW_ENOMEM;
	l->items[l->n].off = off;
	l->items[l->n].len = n;
	l->n++;
	return 0;
}

size_t
cw_list_len(const cw_list *l)
{
	return l == NULL ? 0 : l->n;
}

const void *
cw_list_at(const cw_list *l, size_t i, size_t *len)
{
	if (l == NULL || i >= l->n) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = l->items[i].len;
	/* an empty element still gets a valid pointer */
	return l->data.p ? l->data.p + l->items[i].off : (const void *) "";
}

void
cw_list_free(cw_list *l)
{
	if (l == NULL)
		return;
	cw_free(l->items);
	cw_buf_fini(&l->data);
	cw_free(l);
}

/* ---- bounded calls ---- */

struct bounded {
	void (*fn)(void *);
	void           *arg;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	bool            done;
	int             refs; /* the caller and the thread; the last frees */
};

static void
bounded_unref(struct bounded *b)
{
	pthread_mutex_lock(&b->mu);
	bool last = --b->refs == 0;
	pthread_mutex_unlock(&b->mu);
	if (last) {
		pthread_mutex_destroy(&b->mu);
		pthread_cond_destroy(&b->cv);
		free(b);
	}
}

static void *
bounded_main(void *arg)
{
	struct bounded *b = arg;
	b->fn(b->arg);
	pthread_mutex_lock(&b->mu);
	b->done = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	bounded_unref(b);
	return NULL;
}

int
cw_run_bounded(void (*fn)(void *), void *arg, int ms)
{
	struct bounded *b = calloc(1, sizeof(*b));
	pthread_t       th;
	struct timespec dl;
	if (b == NULL) {
		fn(arg); /* no memory for a thread: unbounded, not skipped */
		return 0;
	}
	b->fn   = fn;
	b->arg  = arg;
	b->refs = 2;
	pthread_mutex_init(&b->mu, NULL);
	cw_cond_init_mono(&b->cv);
	if (pthread_create(&th, NULL, bounded_main, b) != 0) {
		b->refs = 1;
		bounded_unref(b);
		fn(arg);
		return 0;
	}
	pthread_detach(th);
	cw_deadline_after(&dl, ms > 0 ? (uint64_t) ms : 0);
	pthread_mutex_lock(&b->mu);
	while (!b->done &&
	    pthread_cond_timedwait(&b->cv, &b->mu, &dl) != ETIMEDOUT)
		;
	bool done = b->done;
	pthread_mutex_unlock(&b->mu);
	bounded_unref(b);
	return done ? 0 : CW_ETIMEDOUT;
}

static void
nng_close_id(void *arg)
{
	nng_socket s = { *(uint32_t *) arg };
	nng_close(s);
	free(arg);
}

int
cw_nng_close_bounded(uint32_t sock, int ms, const char *mod)
{
	uint32_t *id = malloc(sizeof(*id)); /* the closing thread frees it */
	if (id == NULL) {
		nng_close((nng_socket) { sock });
		return 0;
	}
	*id    = sock;
	int rc = cw_run_bounded(nng_close_id, id, ms);
	if (rc != 0)
		cw_log(CW_LOG_WARN, mod,
		    "a socket did not close in %d ms: left to the exit", ms);
	return rc;
}

int
cw_split_hostport(
    const char *s, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon, *h = s;
	size_t      hl;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return CW_EINVAL;
		h     = s + 1;
		hl    = (size_t) (end - h);
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return CW_EINVAL;
		hl = (size_t) (colon - s);
	}
	const char *p  = colon + 1;
	size_t      pl = strlen(p);
	if (hl >= hcap || pl == 0 || pl > 5 || pl >= pcap ||
	    strspn(p, "0123456789") != pl || atoi(p) > 65535)
		return CW_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, pl + 1);
	return 0;
}

int
cw_read_secret(const char *path, char *out, size_t n)
{
	FILE *f = path != NULL ? fopen(path, "r") : NULL;
	out[0]  = '\0';
	if (f == NULL) {
		cw_log(CW_LOG_ERROR, "util",
		    "cannot read a password from %s: %s",
		    path ? path : "(none)",
		    path ? strerror(errno) : "no file");
		return CW_EINVAL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		cw_log(CW_LOG_WARN, "util",
		    "%s can be read by others than its owner (mode %o)", path,
		    (unsigned) (st.st_mode & 0777));
	bool ok = fgets(out, (int) n, f) != NULL;
	fclose(f);
	if (ok)
		out[strcspn(out, "\r\n")] = '\0';
	if (!ok || out[0] == '\0') {
		cw_log(CW_LOG_ERROR, "util", "%s holds no password", path);
		return CW_EINVAL;
	}
	return 0;
}

/* ---- tallies ---- */

#define TALLY_BUCKETS 1024

struct cw_tally_ent {
	cw_tally_ent    *next;
	_Atomic uint64_t word; /* cw_tally_word */
	uint32_t         n;
	size_t           b; /* its bucket */
	char             name[48];
};

struct cw_tally {
	cw_tally_ent *b[TALLY_BUCKETS];
};

int
cw_tally_new(cw_tally **out)
{
	*out = cw_calloc(1, sizeof(**out));
	return *out != NULL ? 0 : CW_ENOMEM;
}

void
cw_tally_free(cw_tally *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < TALLY_BUCKETS; i++)
		while (t->b[i] != NULL) {
			cw_tally_ent *e = t->b[i];
			t->b[i]         = e->next;
			cw_free(e);
		}
	cw_free(t);
}

cw_tally_ent *
cw_tally_take(cw_tally *t, const char *name, uint32_t cap, bool *full)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t) *p) * 1099511628211ull;
	size_t        b = (size_t) (h % TALLY_BUCKETS);
	cw_tally_ent *e = t->b[b];
	while (e != NULL && strncmp(e->name, name, sizeof(e->name) - 1) != 0)
		e = e->next;
	if (full != NULL)
		*full = e != NULL && cap != 0 && e->n >= cap;
	if (e != NULL && cap != 0 && e->n >= cap)
		return NULL;
	if (e == NULL) {
		if ((e = cw_calloc(1, sizeof(*e))) == NULL)
			return NULL;
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->b    = b;
		e->next = t->b[b];
		t->b[b] = e;
	}
	e->n++;
	return e;
}

_Atomic uint64_t *
cw_tally_word(cw_tally_ent *e)
{
	return &e->word;
}

void
cw_tally_put(cw_tally *t, cw_tally_ent *e)
{
	if (e == NULL || --e->n > 0)
		return;
	cw_tally_ent **p = &t->b[e->b];
	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	cw_free(e);
}
