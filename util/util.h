/*
 * util.h - allocation, logging, byte buffers and byte order: the helpers
 * every module below the SDK shares.
 *
 * Allocation goes through cw_malloc/cw_calloc/cw_realloc/cw_free so that a
 * test can make the Nth allocation fail (cw_alloc_fail_after) and check
 * that every path returns CW_ENOMEM cleanly (STYLE 12, 22).
 *
 * Threading: every function here is thread-safe. The fault-injection
 * counter is a process-wide atomic.
 */
#ifndef CW_UTIL_H
#define CW_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#ifndef __cplusplus
#include <stdatomic.h>
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "causeway.h"

#ifdef __cplusplus
extern "C" {
#endif

void *cw_malloc(size_t n);
void *cw_calloc(size_t n, size_t size);
void *cw_realloc(void *p, size_t n);
void  cw_free(void *p);
/* Grows the array *pp (a pointer to the array pointer) of *cap elements
 * of size sz so that it holds at least need, doubling. Returns 0 or
 * CW_ENOMEM (the array is then unchanged). */
int cw_grow(void *pp, size_t *cap, size_t need, size_t sz);
/* Returns an owned copy of p[0..n) (n may be 0: a 1-byte buffer). */
void *cw_memdup(const void *p, size_t n);
/* From now on, the (n+1)th allocation fails and every one after it.
 * n < 0 turns fault injection off. For tests only. */
void cw_alloc_fail_after(long n);

/* Logging to stderr: "2026-11-23T10:00:00.123Z WARN txn: message". The
 * level comes from CW_LOG (error, warn, info, debug; default warn). */
enum { CW_LOG_ERROR, CW_LOG_WARN, CW_LOG_INFO, CW_LOG_DEBUG };
void cw_log(int level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cw_log_set_level(int level);

/* A warning that a flood of events could repeat (a refused connection, a
 * full table): cw_log_limited logs it at most once a second per
 * cw_ratelimit, and the next line it writes says how many it left out.
 * A static zeroed cw_ratelimit per call site; thread-safe. (C only:
 * rocks_log.cc includes this header too.) */
#ifndef __cplusplus
typedef struct {
	_Atomic uint64_t last_ms, quiet;
} cw_ratelimit;
void cw_log_limited(cw_ratelimit *rl, int level, const char *mod,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#endif

/* Counts per name (a client address): what each holds of a shared
 * resource, each held to a cap. Not thread-safe: the owner's lock guards
 * it. */
typedef struct cw_tally     cw_tally;
typedef struct cw_tally_ent cw_tally_ent;
/* OUT: *out, empty. Returns 0 or CW_ENOMEM. */
int cw_tally_new(cw_tally **out);
/* Frees t and its entries (those taken must not be put after). */
void cw_tally_free(cw_tally *t);
/* Counts one more for name, unless it holds cap already (cap 0: no
 * cap). Returns its entry (for cw_tally_put), or NULL: at its cap, or no
 * memory (*full says which; full may be NULL). */
cw_tally_ent *cw_tally_take(
    cw_tally *t, const char *name, uint32_t cap, bool *full);
/* Counts one fewer for e (NULL: nothing); an entry at 0 goes. */
void cw_tally_put(cw_tally *t, cw_tally_ent *e);
/* A word of e for its holders' own use (0 when e is new), valid while e
 * is counted. Atomic: threads that hold e share it without t's lock. */
#ifndef __cplusplus /* C11's _Atomic; the C++ files do not use it */
_Atomic uint64_t *cw_tally_word(cw_tally_ent *e);
#endif

/* Test-only seeded bugs for the verification harness (tests/harness,
 * docs/verification.md). Compiled in only with -DCW_TEST_BUGS (the
 * causewayd-bugs binary); there, true when $CW_TEST_BUG names the bug.
 * Everywhere else it is false and compiles away. */
#ifdef CW_TEST_BUGS
bool cw_test_bug(const char *name);
#else
static inline bool
cw_test_bug(const char *name)
{
	(void) name;
	return false;
}
#endif

/* Milliseconds of the realtime clock, and of the monotonic clock. In the
 * test build (-DCW_TEST_BUGS) the realtime clock is offset by the ms in
 * the file $CW_TEST_CLOCK_FILE, if set: the harness's clock skew. */
uint64_t cw_now_ms(void);
uint64_t cw_mono_ms(void);
/* OUT: *ts, the monotonic clock ms milliseconds from now: a deadline for
 * pthread_cond_timedwait on a condition made by cw_cond_init_mono. */
void cw_deadline_after(struct timespec *ts, uint64_t ms);
/* Initialises a condition variable that times out on the monotonic
 * clock. */
void cw_cond_init_mono(pthread_cond_t *cv);

/* A growable byte buffer. Initialise with {0}; free with cw_buf_fini. */
typedef struct {
	uint8_t *p;
	size_t   len;
	size_t   cap;
} cw_buf;
int  cw_buf_reserve(cw_buf *b, size_t extra);
int  cw_buf_put(cw_buf *b, const void *p, size_t n);
int  cw_buf_u8(cw_buf *b, uint8_t v);
int  cw_buf_u16(cw_buf *b, uint16_t v);
int  cw_buf_u32(cw_buf *b, uint32_t v);
int  cw_buf_u64(cw_buf *b, uint64_t v);
void cw_buf_fini(cw_buf *b);

/* A bounds-checked reader over bytes from outside. Every get returns
 * false (and reads nothing) when fewer bytes remain than asked. */
typedef struct {
	const uint8_t *p;
	size_t         len;
	size_t         off;
} cw_rd;
static inline cw_rd
cw_rd_init(const void *p, size_t len)
{
	cw_rd r = { (const uint8_t *) p, len, 0 };
	return r;
}
bool cw_rd_u8(cw_rd *r, uint8_t *v);
bool cw_rd_u16(cw_rd *r, uint16_t *v);
bool cw_rd_u32(cw_rd *r, uint32_t *v);
bool cw_rd_u64(cw_rd *r, uint64_t *v);
/* Borrows n bytes from the reader's buffer: OUT *p points into it. */
bool cw_rd_bytes(cw_rd *r, size_t n, const uint8_t **p);
static inline size_t
cw_rd_left(const cw_rd *r)
{
	return r->len - r->off;
}

/* Little-endian loads and stores (the formats of crdt/ are LE). */
static inline void
cw_st_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
}
static inline void
cw_st_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}
static inline uint64_t
cw_ld_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
/* Big-endian, for keys that must sort by number. */
static inline void
cw_st_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (56 - 8 * i));
}
static inline uint64_t
cw_ld_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* FNV-1a: folds p[0..n) into h, which starts at CW_FNV_BASIS. Not a
 * cryptographic hash: for tables and digests of data we hold. */
#define CW_FNV_BASIS 1469598103934665603ull
static inline uint64_t
cw_fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = (const uint8_t *) p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* Compares two byte strings: memcmp order, shorter first on a tie. */
int cw_bytes_cmp(const void *a, size_t al, const void *b, size_t bl);

/* Reads a secret (a password): the first line of path, without its line
 * end; warns if others than the owner may read the file. OUT:
 * out[0..n), NUL-terminated. Returns 0 or CW_EINVAL (no file, or an empty
 * line; logged). */
int cw_read_secret(const char *path, char *out, size_t n);

/* Lists returned to SDK users (cw_list of causeway.h). */
/* OUT: *out, an empty list. Returns 0 or CW_ENOMEM. */
int cw_list_new(cw_list **out);
/* Appends a copy of p[0..n). Returns 0 or CW_ENOMEM (l unchanged). */
int cw_list_push(cw_list *l, const void *p, size_t n);

/* Runs fn(arg) on a thread of its own and waits for it at most ms
 * milliseconds. Returns 0 once it returned, or CW_ETIMEDOUT: it is left
 * to finish (or not) in the background, so arg must stay valid. For
 * shutdown steps that a library may block forever (nng 1.5's nng_close
 * can wait for a pipe that a peer is dialing in at that moment). */
int cw_run_bounded(void (*fn)(void *), void *arg, int ms);
/* nng_close of the socket with id `sock` (nng_socket.id), bounded so:
 * logs a warning in module `mod` and returns CW_ETIMEDOUT if it takes
 * longer than ms. */
int cw_nng_close_bounded(uint32_t sock, int ms, const char *mod);

/* Splits a URL's "HOST:PORT" or "[V6HOST]:PORT" (what follows tcp://).
 * OUT: host (may be empty), port (decimal digits, at most 65535). Returns
 * 0 or CW_EINVAL (no port, a bad one, or either too long for its room). */
int cw_split_hostport(
    const char *s, char *host, size_t hcap, char *port, size_t pcap);

#ifdef __cplusplus
}
#endif
#endif /* CW_UTIL_H */
