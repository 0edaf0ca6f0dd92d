/*
 * history.h - what the verification harness records, and its checkers.
 *
 * A history is every operation the harness's clients ran, one JSON object
 * per line (docs/verification.md gives the format), written while the run
 * goes and read back for checking, so a run and `cw-verify check FILE`
 * check exactly the same thing.
 *
 * Workloads and what they record:
 *  - "txn": reads of add-only sets, then an add of one unique element
 *    "S.Q" (session S's Q-th write) to 1-3 sets, in one transaction;
 *  - "add" / "cread": counter increments and reads;
 *  - "dec" / "bread": bounded-counter decrements and reads;
 *  - "fmk": a prescription-app operation (with its audit's violations);
 *  - "reg": reads of 1-4 registers or map fields, then writes of unique
 *    values "S.Q" to 1-3 of them (one now and then written twice, its
 *    first value "mid": never to be read), in one transaction;
 *  - "rset": a read of one of the add-and-remove sets, then (writers)
 *    an add or a remove of one of 8 elements, with the snapshot it read
 *    ("snap", from the session clock right after the read);
 *  - "final_*" (final_reg and final_rset too), "digest", "fmk_check": what
 * every DC holds after the last heal;
 *  - "fault": what the nemesis did; "meta": the run's shape.
 *
 * Threading: none; a history is built and checked by one thread.
 */
#ifndef CW_HISTORY_H
#define CW_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { ST_OK, ST_FAIL, ST_UNKNOWN };
enum {
	K_META,
	K_TXN,
	K_ADD,
	K_CREAD,
	K_DEC,
	K_BREAD,
	K_FMK,
	K_FINAL_SET,
	K_FINAL_COUNTER,
	K_FINAL_BCOUNTER,
	K_DIGEST,
	K_FMK_CHECK,
	K_FAULT,
	K_REG,
	K_FINAL_REG,
	K_RSET,
	K_FINAL_RSET,
	K_NKINDS
};
extern const char *const hist_kind_names[K_NKINDS];

#define H_MAXW 3 /* sets one transaction writes */
#define H_MAXR 4 /* sets one transaction reads */
#define H_MAXDC 8

typedef struct {
	uint32_t s, q; /* session, its q-th write (from 1) */
} hw;

typedef struct {
	int      key;
	uint32_t n;
	hw      *e; /* the elements observed */
} hread;

typedef struct {
	uint64_t id;
	int      kind, status, client, sess, dc;
	char     err[16]; /* error name when not ok */
	double   t0, t1;  /* seconds since the run began */
	uint32_t seq;     /* txn: its write number in the session, or 0 */
	int      nw, wkey[H_MAXW];
	int      nr;
	hread    r[H_MAXR];
	int      key;          /* add, cread, dec, bread, final_* */
	int64_t  delta, value; /* add/dec: delta; reads: value */
	uint64_t digest;
	char     text[96]; /* fmk: operation; fault: what happened */
	/* reg: the value written to each wkey (reads: r[i].n is 0 for a
	 * missing register, else 1), and the first of two writes to one key
	 * (has_mid: mid_key got mid_val, then its wval); bit i of wdel: write
	 * i removed its map field instead (wval still names it) */
	hw      wval[H_MAXW];
	uint8_t wdel;
	bool    has_mid;
	int     mid_key;
	hw      mid_val;
	/* rset: the snapshot read and the session clock after (entries per
	 * DC; nvc of them); its element in value, +1 add / -1 remove / 0
	 * none in delta; its read in r[0] (elements as {index, 0}) */
	uint64_t snap[H_MAXDC], after[H_MAXDC];
	int      nvc;
} hop;

typedef struct {
	hop     *op;
	size_t   n, cap;
	int      dcs, sessions, set_keys, counter_keys, escrow_keys, reg_keys;
	int      rset_keys, rset_elems;
	int64_t  escrow_initial; /* per escrow key, all DCs together */
	uint64_t seed;
} history;

/* Writes op as one JSON line (clock_before/after as hex, may be NULL). */
void hist_write(
    FILE *f, const hop *op, const char *clock_before, const char *clock_after);
void hist_write_meta(FILE *f, const history *h);

/* Reads a history file. Returns 0, or -1 with a message on stderr. */
int  hist_load(history *h, const char *path);
void hist_free(history *h);

/* One checker's verdict. */
typedef struct {
	const char *name;
	const char *complexity;
	uint64_t    checked; /* operations or objects it looked at */
	uint64_t    violations;
	char        first[400]; /* the first violation, with op ids */
} verdict;

#define NCHECKS 10
/* Runs every checker; out[NCHECKS]. Returns the total of violations.
 * verbose: print every violation (up to 20 per checker) to stderr. */
uint64_t hist_check(const history *h, verdict out[NCHECKS], bool verbose);

/* Prints what happened in the run (FoundationDB's "sometimes"): the
 * situations the checkers are there for, with "NOT SEEN" beside those
 * that never came up, so a checker that saw none of its situation does
 * not pass in silence. Returns how many were not seen. */
int hist_coverage(const history *h, FILE *out);

/* Counts a violation in v, keeps the first, prints it if verbose (up to
 * 20 per checker). */
void hist_violation(verdict *v, bool verbose, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The register checkers (registers.c): snapshot isolation (G0, G1a,
 * G1b, G1c, G-single, lost update) and last-writer-wins with causality
 * across DCs. */
void hist_check_registers(
    const history *h, verdict *si, verdict *lww, bool verbose);

/* The checker of the add-and-remove sets (orset.c): observed-remove,
 * add-wins semantics, in every read and every DC's final state. */
void hist_check_orset(const history *h, verdict *v, bool verbose);

#endif
