/* The tables below are laid out by hand: */
/* clang-format off */
/*
 * crdt.h - the CRDT object types of DESIGN section 2: their effects
 * (operands), their states, and the merge that folds effects into states.
 *
 * Every update is an *operand*: a self-contained downstream effect computed
 * at the origin DC. RocksDB stores operands with Merge and calls
 * cw_crdt_merge (through txn/) to fold them into the object's state; the
 * transaction layer calls the same function to show a transaction its own
 * pending writes. Local and remote updates take one path.
 *
 * Types and the merge rule for each:
 *
 *   | type     | id | state                      | merge                     |
 *   | reg      | 1  | (hlc, dc, value)           | last writer wins (hlc,dc) |
 *   | counter  | 2  | sum                        | add (mod 2^64)            |
 *   | bcounter | 3  | R[i][j] rights, U[i] spent | add entry-wise            |
 *   | set      | 4  | element -> set of tags     | add-wins observed-remove  |
 *   | map      | 5  | none: fields are rows      | -                         |
 *   | field    | 6  | (hlc, dc, present, value)  | last writer wins (hlc,dc) |
 *   | typemark | 7  | the object's type id       | lowest type id            |
 *
 * An object is stored as a type row (typemark, written once by the
 * transaction that creates the object) beside its value row or, for a map,
 * its field rows; see txn.h. A type check reads the few bytes of the type
 * row, never the value, so blind writes stay O(1).
 *
 * Concurrent creations of one key with two types (possible across DCs)
 * converge: the lowest type id wins, in the type row and in the value row,
 * where operands of a higher type are dropped. That rule is itself
 * commutative (the state is the merge of the lowest-typed operands).
 *
 * Operand formats (little-endian; T = type id, K = op kind):
 *
 *   reg/field put | T | K=1 | hlc u64 | dc u16 | vlen u32 | value |
 *   field delete  | T | K=2 | hlc u64 | dc u16 | vlen u32 = 0 |
 *   counter add   | T | K=1 | delta u64 |
 *   bcounter      | T | K=1 inc, 2 dec, 3 transfer | a u16 | b u16 | n u64 |
 *                   (inc: R[a][a] += n; dec: U[a] += n; transfer:
 *                    R[a][b] += n, a != b)
 *   set add       | T | K=1 | tag | elen u32 | element |
 *   set remove    | T | K=2 | elen u32 | element | ntags u32 | tag * ntags |
 *   typemark      | T=7 | type id u8 |
 *   tag           | dc u16 | seq u64 | idx u32 |   (14 bytes, unique)
 *
 * State formats:
 *
 *   reg/field     | T | present u8 | hlc u64 | dc u16 | vlen u32 | value |
 *   counter       | T | sum u64 |
 *   bcounter      | T | nR u32 | (i u16, j u16, n u64) * nR | nU u32 |
 *                   (i u16, n u64) * nU |       (sorted by (i,j) and i)
 *   set           | T | nelem u32 | (elen u32, element, ntags u32,
 *                   tag * ntags) * nelem |      (sorted, tags sorted)
 *   typemark      | T=7 | type id u8 |
 *
 * Bytes from outside (records from another DC) are checked by
 * cw_crdt_op_validate before they are stored; every decoder here is
 * bounds-checked and returns CW_EPROTO on bytes it cannot read.
 *
 * Threading: all functions are pure and thread-safe.
 */
/* clang-format on */
#ifndef CW_CRDT_H
#define CW_CRDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum cw_type {
	CW_T_NONE     = 0,
	CW_T_REG      = 1,
	CW_T_COUNTER  = 2,
	CW_T_BCOUNTER = 3,
	CW_T_SET      = 4,
	CW_T_MAP      = 5,
	CW_T_FIELD    = 6,
	CW_T_TYPE     = 7, /* type rows */
};

enum { CW_OP_PUT = 1, CW_OP_DEL = 2 };                 /* reg, field */
enum { CW_OP_ADD = 1, CW_OP_REM = 2 };                 /* counter, set */
enum { CW_OP_INC = 1, CW_OP_DEC = 2, CW_OP_XFER = 3 }; /* bcounter */

#define CW_CRDT_TAG_SIZE 14
/* DC ids in operands are below this (the same bound as causal.h). */
#define CW_MAX_DC_CRDT 64

typedef struct {
	uint16_t dc;
	uint64_t seq;
	uint32_t idx;
} cw_tag;

/* The name of a type ("reg", ...), for messages. */
const char *cw_crdt_type_name(int type);

/* Operand builders: each appends one operand to out. Return 0 or
 * CW_ENOMEM. */
int cw_crdt_op_reg(cw_buf *out, int type, int kind, uint64_t hlc, uint16_t dc,
    const void *v, size_t vl);
int cw_crdt_op_counter(cw_buf *out, int64_t delta);
int cw_crdt_op_bcounter(
    cw_buf *out, int kind, uint16_t a, uint16_t b, uint64_t n);
int cw_crdt_op_set_add(cw_buf *out, cw_tag tag, const void *e, size_t el);
/* tags: ntags tags in their 14-byte wire form, borrowed. */
int cw_crdt_op_set_rem(cw_buf *out, const void *e, size_t el,
    const uint8_t *tags, uint32_t ntags);
/* The type row operand of a new object of `type` (CW_T_REG..CW_T_MAP). */
int cw_crdt_op_type(cw_buf *out, int type);

/* Rewrites the stamp of a pending operand in place, at commit: a reg or
 * field operand gets (hlc, dc); a set add gets tag (dc, seq), keeping its
 * idx. Other operands have no stamp and are left as they are. */
void cw_crdt_op_stamp(
    uint8_t *op, size_t len, uint64_t hlc, uint16_t dc, uint64_t seq);

/* The type id of an operand or a state (its first byte), or CW_EPROTO. */
int cw_crdt_type_of(const void *p, size_t len);

/* Checks that op is exactly one well-formed operand whose DC ids are below
 * ndc and whose value is at most max_value bytes. Returns 0, CW_EPROTO or
 * CW_ETOOBIG. */
int cw_crdt_op_validate(
    const void *op, size_t len, uint32_t ndc, size_t max_value);

/* Folds operands ops[0..n) into the state `existing` (NULL for none) and
 * writes the new state into out (which it resets first). Operands are
 * folded in the order given; for concurrent operands every order gives the
 * same state. Returns 0, CW_ENOMEM, or CW_EPROTO if a state or operand
 * cannot be read. */
int cw_crdt_merge(const void *existing, size_t elen, const void *const *ops,
    const size_t *lens, size_t n, cw_buf *out);

/*
 * Readers of a state. state may be NULL (object never written): each then
 * gives the empty value. They return 0 or CW_EPROTO (and CW_ETYPE if the
 * state is of another type). Pointers they return borrow from state.
 */
/* OUT: *present, *v, *vl (the value), and *hlc, *dc if not NULL. */
int cw_crdt_reg_read(const void *state, size_t len, bool *present,
    const uint8_t **v, size_t *vl, uint64_t *hlc, uint16_t *dc);
/* OUT: *type, the object type a type row holds (CW_T_NONE for NULL). */
int cw_crdt_type_read(const void *state, size_t len, int *type);
int cw_crdt_counter_read(const void *state, size_t len, int64_t *out);
/* OUT: *value = sum of increments - sum of decrements. */
int cw_crdt_bcounter_value(const void *state, size_t len, int64_t *value);
/* OUT: *rights of DC dc: its increments + rights received - rights given
 * - its own decrements. */
int cw_crdt_bcounter_rights(
    const void *state, size_t len, uint16_t dc, int64_t *rights);

/* OUT: *received, the rights DC dc has received from other DCs in all
 * (the sum of R[j][dc], j != dc): it grows with every grant. */
int cw_crdt_bcounter_received(
    const void *state, size_t len, uint16_t dc, uint64_t *received);

/* Iterates the members of a set state in byte order. Initialise it with
 * cw_crdt_set_iter; cw_crdt_set_next returns 1 and fills *e, *el, *tags
 * (the wire form of *ntags tags), 0 at the end, or CW_EPROTO. */
typedef struct {
	cw_rd    rd;
	uint32_t left;
} cw_set_iter;
int cw_crdt_set_iter(cw_set_iter *it, const void *state, size_t len);
int cw_crdt_set_next(cw_set_iter *it, const uint8_t **e, size_t *el,
    const uint8_t **tags, uint32_t *ntags);
/* Finds element e. OUT: *found, and its tags as in cw_crdt_set_next. */
int cw_crdt_set_find(const void *state, size_t len, const void *e, size_t el,
    bool *found, const uint8_t **tags, uint32_t *ntags);

#endif /* CW_CRDT_H */
