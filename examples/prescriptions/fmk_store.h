/*
 * fmk_store.h - the stores behind fmk.h's operations, for the benchmark
 * against peers (issue 8, docs/benchmarks.md).
 *
 * Causeway is the store fmk.c is written on. fmk_pg.c (PostgreSQL through
 * libpq) and fmk_redis.c (Redis through hiredis) implement the same
 * operations on another database: fmk.c checks the arguments, generates
 * the populated dataset and then calls the store, so `fmk populate` and
 * `fmk run` are one code path above the storage whatever the store.
 *
 * A store reports the codes of fmk.h: 0, FMK_E* for the FMKe
 * preconditions, CW_ECONFLICT for a transaction that lost a race more
 * times than the handle's retries allow, CW_EUNAVAIL for a lost
 * connection, CW_EIO for any other error of the database (its message is
 * kept: fmk_store_error).
 *
 * Threading: as for an fmk handle, one thread at a time; every handle has
 * its own connection.
 */
#ifndef FMK_STORE_H
#define FMK_STORE_H

#include "fmk.h"

/* One populate batch: rows first..first+n-1 of `what` (fmk_kind,
 * FMK_POP_PRESCRIPTIONS or FMK_POP_STOCK), written in one transaction
 * with the progress mark done[what] = first+n-1. */
typedef struct {
	int                     what;
	uint64_t                first, n;
	const fmk_entity       *ent; /* what < FMK_NKINDS: n entities */
	const fmk_prescription *rx;  /* prescriptions: n of them */
	const fmk_meta         *m;   /* stock: m->stock units of each of
	                              * m->ndrugs drugs per pharmacy */
} fmk_pop_rows;

typedef struct {
	const char *name; /* "postgresql", "redis" */
	int (*ent_write)(
	    void *s, bool create, fmk_kind k, const fmk_entity *e);
	int (*get)(void *s, fmk_kind k, uint64_t id, fmk_entity *out);
	int (*list)(void *s, fmk_kind k, uint64_t id, bool processed_only,
	    fmk_ids *out);
	int (*create_rx)(void *s, const fmk_prescription *p);
	int (*get_rx)(void *s, uint64_t id, fmk_prescription *out);
	int (*medication)(void *s, uint64_t id, fmk_drugs *out);
	int (*add_medication)(void *s, uint64_t id, const fmk_drugs *add);
	int (*process)(void *s, uint64_t id, const char *date);
	int (*meta_get)(void *s, fmk_meta *out);
	int (*meta_put)(void *s, const fmk_meta *m);
	int (*populate)(void *s, const fmk_pop_rows *rows);
	const char *(*error)(void *s); /* the last database error, or "" */
	void (*close)(void *s);
} fmk_store;

/* Wraps store state s (owned from here on: closed by fmk_free, also when
 * this fails) in an fmk handle. CW_ENOMEM. */
int fmk_open_store(
    fmk **out, const fmk_store *ops, void *s, const fmk_opts *opts);

/* Sorts and removes duplicates: a set of drugs as Causeway reads it. */
void fmk_drugs_normalize(fmk_drugs *d);
/* Drugs as one string joined by sep (out[cap]), and back (normalized;
 * s[0..len) need not be terminated). */
void fmk_drugs_join(
    const fmk_drugs *d, const char *sep, char *out, size_t cap);
void fmk_drugs_split(const char *s, size_t len, const char *sep, fmk_drugs *d);

/* The meta as key/value pairs, as the stores keep it: "patients",
 * "pharmacies", "staff", "facilities", "prescriptions", "stock", "drugs",
 * and "done_" + the name of each populate step (fmk_pop_name). */
const char *fmk_pop_name(int what); /* fmk_kind, or FMK_POP_* */
void        fmk_meta_set(fmk_meta *m, const char *k, uint64_t v);
/* FMK_ENOTFOUND if nothing was set, FMK_ECORRUPT if it makes no sense. */
int fmk_meta_check(const fmk_meta *m, size_t nset);

/* The arguments of one operation, for a store's transaction body. */
struct fmk_op {
	fmk_kind                k;
	bool                    create, processed_only;
	uint64_t                id;
	const fmk_entity       *e;
	fmk_entity             *eout;
	fmk_ids                *ids;
	const fmk_prescription *p;
	fmk_prescription       *pout;
	const fmk_drugs        *drugs;
	fmk_drugs              *dout;
	const char             *date;
};

/* Appends id to l (ids stay unsorted until fmk_ids_sort). CW_ENOMEM. */
int  fmk_ids_push(fmk_ids *l, uint64_t id);
void fmk_ids_sort(fmk_ids *l);

#endif /* FMK_STORE_H */
