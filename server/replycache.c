/*
 * replycache.c - the reply cache (replycache.h).
 *
 * The ring is an array of CW_RCACHE_SIZE entries and `head`, the next one
 * to take: taking it forgets whatever request held it, unlinking it from
 * its chain. Chains are singly linked through entry indices, their heads
 * in 2 * CW_RCACHE_SIZE buckets, so a chain holds one entry on average.
 * A forgotten entry that was pending still has a runner: its
 * cw_rcache_end finds nothing and keeps nothing, and a copy that waited
 * for it sees it gone and is refused (its outcome cannot be told).
 *
 * The replies kept are bounded in bytes too: past CW_RCACHE_BYTES the
 * oldest are dropped, their entries kept (a copy of one is refused, as
 * one whose reply was too large). `trim` walks the ring behind head:
 * the entries from head up to trim are the oldest, and hold no reply.
 */
#include "replycache.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

#include "schema.h"

#define BUCKETS (2 * CW_RCACHE_SIZE)

enum { E_EMPTY, E_PENDING, E_DONE };

struct entry {
	uint64_t sid, rid;
	int      state;
	uint8_t *reply; /* NULL with E_DONE: too large to keep */
	size_t   len;
	uint64_t ms;   /* wall clock when its first copy arrived */
	int32_t  next; /* in its bucket's chain; -1: last */
};

struct cw_rcache {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	/* mu guards: */
	struct entry *ring;
	int32_t      *bucket; /* chain heads; -1: empty */
	uint32_t      head;   /* the ring's next entry to take */
	uint32_t      trim;   /* entries from head to here hold no reply */
	size_t        bytes;  /* of the replies kept */
	uint64_t      floor;  /* ms: the newest forgotten arrived then */
};

/* How old entry i is: 0 for the oldest (head). Caller holds mu. */
static uint32_t
age(const cw_rcache *c, uint32_t i)
{
	return (i + CW_RCACHE_SIZE - c->head) % CW_RCACHE_SIZE;
}

static uint32_t
hash(uint64_t sid, uint64_t rid)
{
	uint64_t h =
	    (sid * 0x9e3779b97f4a7c15ull) ^ (rid * 0xc2b2ae3d27d4eb4full);
	return (uint32_t) (h >> 17) & (BUCKETS - 1);
}

int
cw_rcache_new(cw_rcache **out)
{
	cw_rcache *c = cw_calloc(1, sizeof(*c));
	*out         = NULL;
	if (c == NULL)
		return CW_ENOMEM;
	c->ring   = cw_calloc(CW_RCACHE_SIZE, sizeof(*c->ring));
	c->bucket = cw_malloc(BUCKETS * sizeof(*c->bucket));
	if (c->ring == NULL || c->bucket == NULL)
		goto fail;
	memset(c->bucket, 0xff, BUCKETS * sizeof(*c->bucket)); /* all -1 */
	if (pthread_mutex_init(&c->mu, NULL) != 0)
		goto fail;
	cw_cond_init_mono(&c->cv);
	*out = c;
	return 0;
fail:
	cw_free(c->ring);
	cw_free(c->bucket);
	cw_free(c);
	return CW_ENOMEM;
}

void
cw_rcache_free(cw_rcache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < CW_RCACHE_SIZE; i++)
		cw_free(c->ring[i].reply);
	cw_free(c->ring);
	cw_free(c->bucket);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	cw_free(c);
}

/* The entry of (sid, rid), or NULL. Caller holds mu. */
static struct entry *
find(cw_rcache *c, uint64_t sid, uint64_t rid)
{
	for (int32_t i = c->bucket[hash(sid, rid)]; i >= 0;
	     i         = c->ring[i].next) {
		assert(i < CW_RCACHE_SIZE && c->ring[i].state != E_EMPTY);
		if (c->ring[i].sid == sid && c->ring[i].rid == rid)
			return &c->ring[i];
	}
	return NULL;
}

/* Takes the ring's next entry for (sid, rid), pending, forgetting the
 * request that held it. Caller holds mu. */
static void
claim(cw_rcache *c, uint64_t sid, uint64_t rid)
{
	assert(c->head < CW_RCACHE_SIZE);
	int32_t       i = (int32_t) c->head;
	struct entry *e = &c->ring[i];
	if (c->trim == c->head) /* it becomes the newest */
		c->trim = (c->trim + 1) % CW_RCACHE_SIZE;
	c->head = (c->head + 1) % CW_RCACHE_SIZE;
	if (e->state != E_EMPTY) {
		int32_t *p = &c->bucket[hash(e->sid, e->rid)];
		while (*p != i) {
			assert(*p >= 0); /* a taken entry is on its chain */
			p = &c->ring[*p].next;
		}
		*p = e->next;
		if (e->ms > c->floor)
			c->floor = e->ms;
		c->bytes -= e->len;
		cw_free(e->reply);
	}
	uint32_t b = hash(sid, rid);
	*e = (struct entry) { sid, rid, E_PENDING, NULL, 0, cw_now_ms(),
		c->bucket[b] };
	c->bucket[b] = i;
}

int
cw_rcache_begin(cw_rcache *c, uint64_t sid, uint64_t rid, bool nowait,
    cw_buf *out, uint64_t *floor)
{
	pthread_mutex_lock(&c->mu);
	*floor          = c->floor;
	struct entry *e = find(c, sid, rid);
	if (e == NULL) {
		claim(c, sid, rid);
		pthread_mutex_unlock(&c->mu);
		return CW_RCACHE_NEW;
	}
	if (nowait && e->state == E_PENDING) {
		pthread_mutex_unlock(&c->mu);
		return CW_RCACHE_BUSY;
	}
	uint64_t dl = cw_mono_ms() + CW_RCACHE_WAIT_MS;
	while ((e = find(c, sid, rid)) != NULL && e->state == E_PENDING &&
	    cw_mono_ms() < dl) {
		struct timespec ts;
		cw_deadline_after(&ts, 10);
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	}
	int rc;
	if (e != NULL && e->state == E_DONE && e->reply != NULL) {
		rc = cw_buf_put(out, e->reply, e->len);
	} else {
		/* ran (or runs still), but its reply is not kept: too
		 * large, or forgotten while this copy waited */
		cw_rep h = { .err = CW_EUNAVAIL };
		rc       = cw_schema_rep_encode(&h, NULL, 0, out);
	}
	pthread_mutex_unlock(&c->mu);
	if (rc != 0)
		return CW_ENOMEM; /* never run again: that could run it twice
		                   */
	cw_log(CW_LOG_INFO, "server",
	    "request %llu of session %llx repeated: answered from the "
	    "reply cache",
	    (unsigned long long) rid, (unsigned long long) sid);
	return CW_RCACHE_ANSWERED;
}

size_t
cw_rcache_bytes(cw_rcache *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->bytes;
	pthread_mutex_unlock(&c->mu);
	return n;
}

void
cw_rcache_end(cw_rcache *c, uint64_t sid, uint64_t rid, const cw_buf *reply)
{
	pthread_mutex_lock(&c->mu);
	struct entry *e = find(c, sid, rid);
	if (e != NULL && e->state == E_PENDING) {
		uint32_t i = (uint32_t) (e - c->ring);
		/* kept unless too large, or older than what was trimmed */
		bool keep = reply->len <= CW_RCACHE_MAX_REPLY &&
		    age(c, i) >= age(c, c->trim);
		e->reply = keep ? cw_memdup(reply->p, reply->len) : NULL;
		e->len   = e->reply ? reply->len : 0;
		e->state = E_DONE;
		c->bytes += e->len;
		/* over the bound: the oldest replies go first (never the
		 * newest's: one reply fits) */
		while (c->bytes > CW_RCACHE_BYTES &&
		    age(c, c->trim) < CW_RCACHE_SIZE - 1) {
			struct entry *o = &c->ring[c->trim];
			c->bytes -= o->len;
			cw_free(o->reply);
			o->reply = NULL;
			o->len   = 0;
			c->trim  = (c->trim + 1) % CW_RCACHE_SIZE;
		}
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}
