/*
 * fmk.h - the prescription application (FMK, after the FMKe benchmark) on
 * the public Causeway SDK.
 *
 * Patients, pharmacies, medical staff and facilities are maps; each of
 * patient, pharmacy and staff has an index (an add-wins set) of the
 * prescriptions that name it. Every operation is one Causeway transaction,
 * so the application's invariants hold by construction (README.md in this
 * folder gives the key layout):
 *
 *  - relative order: a prescription is created in a transaction that read
 *    its patient, prescriber and pharmacy, so causal delivery shows it at
 *    any DC only after them;
 *  - joint update: the prescription, its three index entries and its entry
 *    in the registry of all prescriptions are written by one transaction,
 *    visible together everywhere;
 *  - precondition: processing spends the prescription's token (a bounded
 *    counter of value 1, so exactly one DC can spend it) and one unit of
 *    the pharmacy's stock (a bounded counter) per drug, so a prescription
 *    is processed at most once and stock never goes below zero, even when
 *    two DCs process at once during a partition.
 *
 * Errors: 0, a negative CW_E* code of the SDK, or one of the FMK_E* codes
 * below (the FMKe preconditions); fmk_strerror and fmk_errname describe
 * both. A CW_ECONFLICT is retried (fmk_opts.retries) before it is
 * returned.
 *
 * Threading: an fmk handle is used by one thread at a time; give each
 * thread its own (they may share a cw_client).
 */
#ifndef FMK_H
#define FMK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "causeway.h"

#define FMK_ERRNO_MAP(XX)                                                  \
	XX(ENOTFOUND, -100,                                                \
	    "no such patient, pharmacy, staff, facility "                  \
	    "or prescription")                                             \
	XX(ETAKEN, -101, "id already taken")                               \
	XX(EPROCESSED, -102, "prescription already processed")             \
	XX(ESTOCK, -103, "a drug is out of stock at the pharmacy")         \
	XX(ETOKEN, -104,                                                   \
	    "another DC holds the right to process this prescription and " \
	    "did not grant it in time")                                    \
	XX(ECORRUPT, -105, "stored record is malformed")                   \
	XX(ENOTSUP, -106, "not supported by this store")

enum fmk_err {
#define FMK_XX_ENUM(name, code, msg) FMK_##name = (code),
	FMK_ERRNO_MAP(FMK_XX_ENUM)
#undef FMK_XX_ENUM
};

const char *fmk_strerror(int err);
const char *fmk_errname(int err);

typedef enum {
	FMK_PATIENT,
	FMK_PHARMACY,
	FMK_STAFF,
	FMK_FACILITY,
	FMK_NKINDS
} fmk_kind;

/* "patient", "pharmacy", "staff", "facility". */
const char *fmk_kind_name(fmk_kind k);

#define FMK_TEXT_MAX 127 /* bytes in a name, address, speciality, date */
#define FMK_MAX_DRUGS 16 /* drugs in one prescription */
#define FMK_DRUG_MAX 31  /* bytes in a drug name */

typedef struct {
	uint64_t id;
	char     name[FMK_TEXT_MAX + 1];
	char     address[FMK_TEXT_MAX + 1];
	char     extra[FMK_TEXT_MAX + 1]; /* staff: speciality; facility:
	                                   * type; others: "" */
} fmk_entity;

typedef struct {
	size_t n;
	char   name[FMK_MAX_DRUGS][FMK_DRUG_MAX + 1];
} fmk_drugs;

typedef struct {
	uint64_t  id, patient, prescriber, pharmacy;
	char      date_prescribed[FMK_TEXT_MAX + 1];
	char      date_processed[FMK_TEXT_MAX + 1]; /* "" until processed */
	bool      processed;
	fmk_drugs drugs;
} fmk_prescription;

/* A list of ids, ascending. Free with fmk_ids_free. */
typedef struct {
	size_t    n;
	uint64_t *id;
} fmk_ids;
void fmk_ids_free(fmk_ids *l);

/* Test-only variants that break an invariant on purpose, so tests can
 * show the checks catch it. Never set them in production. */
enum {
	/* create a prescription in two transactions: the prescription and
	 * its registry entry, then its index entries; every 32nd create of
	 * a handle stops after the first, as a client that crashed there
	 * would */
	FMK_BROKEN_SPLIT_CREATE = 1,
	/* process without spending the prescription's token */
	FMK_BROKEN_NO_TOKEN = 2,
};

typedef struct {
	uint32_t wait_ms; /* how long processing waits for another DC to
	                   * grant a token or stock (default 500) */
	int      retries; /* CW_ECONFLICT retries (default 3) */
	unsigned broken;  /* FMK_BROKEN_* (0) */
} fmk_opts;

typedef struct fmk fmk;

/* A handle on session c (borrowed: close it after fmk_free). opts may be
 * NULL for the defaults. Returns 0 or CW_ENOMEM. */
int  fmk_open(fmk **out, cw_client *c, const fmk_opts *opts);
void fmk_free(fmk *f);

/* FMKe's operations, each one transaction. */

/* FMK_ETAKEN if id exists. extra: speciality for staff, type for a
 * facility, ignored otherwise (may be NULL). */
int fmk_create(fmk *f, fmk_kind k, uint64_t id, const char *name,
    const char *address, const char *extra);
/* FMK_ENOTFOUND if id does not exist. */
int fmk_update(fmk *f, fmk_kind k, uint64_t id, const char *name,
    const char *address, const char *extra);
/* OUT: *out. FMK_ENOTFOUND. */
int fmk_get(fmk *f, fmk_kind k, uint64_t id, fmk_entity *out);
/* The prescriptions of a patient, pharmacy or staff member. OUT: *out.
 * FMK_ENOTFOUND if the owner does not exist. */
int fmk_prescriptions(fmk *f, fmk_kind k, uint64_t id, fmk_ids *out);
/* The processed prescriptions of a pharmacy. */
int fmk_processed_prescriptions(fmk *f, uint64_t pharmacy, fmk_ids *out);

/* Creates prescription p (its processed fields are ignored): FMK_ETAKEN,
 * FMK_ENOTFOUND if the patient, prescriber or pharmacy does not exist,
 * CW_EINVAL if it has no drugs or too many. Its token is minted at the
 * session's DC. */
int fmk_create_prescription(fmk *f, const fmk_prescription *p);
int fmk_get_prescription(fmk *f, uint64_t id, fmk_prescription *out);
int fmk_get_medication(fmk *f, uint64_t id, fmk_drugs *out);
/* Adds drugs: FMK_ENOTFOUND, FMK_EPROCESSED. */
int fmk_update_medication(fmk *f, uint64_t id, const fmk_drugs *add);
/* Processes a prescription on `date`: delivers one unit of each of its
 * drugs from the pharmacy's stock. FMK_ENOTFOUND, FMK_EPROCESSED,
 * FMK_ETOKEN (another DC may process it, or has), FMK_ESTOCK (nothing
 * was delivered). */
int fmk_process(fmk *f, uint64_t id, const char *date);

/* Stock: `n` more units of `drug` at a pharmacy, minted at the session's
 * DC. */
int fmk_supply(fmk *f, uint64_t pharmacy, const char *drug, int64_t n);
/* OUT: the units in stock (as seen at this DC). */
int fmk_stock(fmk *f, uint64_t pharmacy, const char *drug, int64_t *out);

/*
 * The same operations on PostgreSQL or on Redis (fmk_store.h), for the
 * benchmark against peers: conninfo is libpq's (a postgresql:// URI);
 * Redis is host and port. CW_EUNAVAIL when the server does not answer.
 * They serve the operations of populate and run; the check, the audit,
 * supply and stock are Causeway's alone (FMK_ENOTSUP).
 */
int fmk_open_pg(fmk **out, const char *conninfo, const fmk_opts *opts);
int fmk_open_redis(
    fmk **out, const char *host, int port, const fmk_opts *opts);
/* The last error message of the store behind f, or "". */
const char *fmk_store_error(const fmk *f);

/* The dataset's shape, stored at populate time. */
typedef struct {
	uint64_t n[FMK_NKINDS]; /* entities of each kind: ids 1..n */
	uint64_t prescriptions; /* populated prescriptions: ids 1..n */
	int64_t  stock;         /* initial units per pharmacy and drug */
	int      ndrugs;        /* drugs fmk_drug_name(0..ndrugs) */
	uint64_t done[FMK_NKINDS + 2]; /* populate progress per kind, then
	                                * prescriptions, then stock */
} fmk_meta;
int fmk_meta_get(fmk *f, fmk_meta *out); /* FMK_ENOTFOUND */
int fmk_meta_put(fmk *f, const fmk_meta *m);
/* Catalogue of drug names, i in 0..FMK_NDRUGS. */
#define FMK_NDRUGS 10
const char *fmk_drug_name(int i);

/* Populate, a batch per transaction: ids first..first+n-1 of `what`, a
 * fmk_kind, FMK_POP_PRESCRIPTIONS or FMK_POP_STOCK (every drug of those
 * pharmacies gets the meta's stock, minted at the session's DC), their
 * contents derived from `seed`, and in the same transaction the progress
 * mark done[what] = first+n-1. The prescriptions and stock need the meta
 * (fmk_meta_put) first. Prescriptions' patients are Zipf(1), prescriber,
 * pharmacy and 1-3 drugs uniform (FMKe). */
#define FMK_POP_PRESCRIPTIONS FMK_NKINDS
#define FMK_POP_STOCK (FMK_NKINDS + 1)
int fmk_populate_batch(
    fmk *f, int what, uint64_t first, uint64_t n, uint64_t seed);

/*
 * The invariant check of one DC, in one snapshot. Counts what it read and
 * every violation found.
 */
typedef struct {
	uint64_t prescriptions, processed, entities_checked, stock_keys;
	uint64_t dangling;        /* a reference to a missing entity */
	uint64_t missing_index;   /* a prescription absent from an index */
	uint64_t orphan_index;    /* an index entry with no prescription */
	uint64_t processed_twice; /* processed more than once */
	uint64_t token_mismatch;  /* processed, yet its token unspent, or
	                           * the reverse */
	uint64_t stock_negative;  /* stock below zero */
	uint64_t stock_mismatch;  /* stock != supplied - delivered */
	uint64_t first_bad;       /* a prescription id in violation, or 0 */
} fmk_report;
/* OUT: *r. progress (may be NULL) is called now and then with done/total
 * prescriptions. */
int  fmk_check_dc(fmk *f, fmk_report                                  *r,
     void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg);
bool fmk_report_ok(const fmk_report *r);

/* The audit a concurrent reader runs on one prescription, in one
 * snapshot: its references exist and it is in all three indexes.
 * Returns 0 (also when the prescription is not visible yet), a violation
 * count > 0, or an error. */
int fmk_audit(fmk *f, uint64_t id);

#endif /* FMK_H */
