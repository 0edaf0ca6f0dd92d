/*
 * objects.c - the operations on objects (DESIGN section 2): registers,
 * counters, sets and maps, on a transaction's snapshot and pending rows
 * (tx.c).
 *
 * An object is a type row (its type, written once by the transaction that
 * creates it, so a type check reads two bytes whatever the object's size)
 * and a value row, or for a map one row per field. A read looks up the
 * type (each key once per transaction: the lookup leaves a pending type
 * row behind), then folds the value row's state at the snapshot with the
 * transaction's own operands. A write checks the type, creating the
 * object if it is new, and appends a CRDT operand (crdt.h) to the pending
 * row; a register or field write supersedes the transaction's earlier
 * write of that row.
 *
 * Bounded counters have a file of their own (bcounter.c), on the same
 * two calls: cw_txn_obj_read and cw_txn_obj_write.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crdt.h"
#include "txn_int.h"

/* Common argument checks of every operation. */
static int
check_args(cw_tx *t, const void *k, size_t kl)
{
	if (t == NULL || k == NULL || kl == 0)
		return CW_EINVAL;
	if (t->state != TX_ACTIVE)
		return CW_ESTATE;
	if (kl > CW_MAX_KEY)
		return CW_ETOOBIG;
	return 0;
}

/* The type of object k as t sees it. A lookup leaves a pending type row
 * (with no operands) behind, so each key is read once per transaction.
 * OUT: *out, the pending type row. */
static int
obj_type(cw_tx *t, const void *k, size_t kl, struct prow **out)
{
	cw_buf key = { 0 };
	char  *v   = NULL;
	size_t vl;
	int    rc, type;
	if ((rc = check_args(t, k, kl)) != 0)
		return rc;
	if ((rc = cw_txn_row_key(&key, k, kl, ROW_TYPE, NULL)) != 0)
		goto out;
	if ((*out = cw_txn_row_find(t, key.p, key.len)) != NULL)
		goto out;
	if ((rc = cw_txn_read_snapshot(t, key.p, key.len, &v, &vl)) != 0)
		goto out;
	if ((rc = cw_crdt_type_read(v, vl, &type)) != 0)
		goto out;
	if ((rc = cw_txn_row_get(t, key.p, key.len, CW_T_TYPE, out)) != 0)
		goto out;
	(*out)->otype = type;
out:
	rocksdb_free(v);
	cw_buf_fini(&key);
	return rc;
}

/* Checks that object k is of `type` for a write, creating it (a type row
 * operand) if it does not exist. Returns 0, CW_ETYPE or an error. */
static int
need_type(cw_tx *t, const void *k, size_t kl, int type)
{
	struct prow *r;
	cw_buf       op = { 0 };
	int          rc;
	if ((rc = obj_type(t, k, kl, &r)) != 0)
		return rc;
	if (r->otype == type)
		return 0;
	if (r->otype != CW_T_NONE)
		return (rc = cw_txn_observe(t)) != 0 ? rc : CW_ETYPE;
	if ((rc = cw_crdt_op_type(&op, type)) == 0 &&
	    (rc = cw_txn_row_push(t, r, &op, true)) == 0)
		r->otype = type;
	cw_buf_fini(&op);
	return rc;
}

int
cw_txn_obj_read(cw_tx *t, const void *k, size_t kl, int type, cw_buf *key,
    cw_buf *st, bool *exists)
{
	struct prow *r;
	int          rc;
	*exists = false;
	if ((rc = check_args(t, k, kl)) != 0 || (rc = cw_txn_observe(t)) != 0)
		return rc;
	/* One point read where one is enough. A value row's state begins
	 * with its object's type, and it is the type of the type row: both
	 * keep the lowest type created (crdt.h), and every write to the
	 * value row comes with its type row in one atomic batch. A map, the
	 * highest type, has no value row. So when t has not touched k (no
	 * pending type row) and k's value row exists, it answers alone; the
	 * type row is read only when it does not (k is absent, a map, or an
	 * object made by a remove of an absent element before such removes
	 * wrote a value: a data directory of 2026-12-06 or older).
	 *
	 * A map: every other type writes a value row with its type row, so
	 * a map has one exactly when a lower type won it (two DCs created
	 * the key with two types): a miss on the value row, which the
	 * memtable's and the tables' Bloom filters answer without a search,
	 * says the key is a map or nothing, and either reads as a map with
	 * no fields. Only a value row found needs its type. */
	if (type == CW_T_MAP) {
		char  *v = NULL;
		size_t vl;
		if ((rc = cw_txn_row_key(key, k, kl, ROW_TYPE, NULL)) != 0)
			return rc;
		if (cw_txn_row_find(t, key->p, key->len) == NULL) {
			if ((rc = cw_txn_row_key(
			         key, k, kl, ROW_VALUE, NULL)) != 0 ||
			    (rc = cw_txn_read_snapshot(
			         t, key->p, key->len, &v, &vl)) != 0)
				return rc;
			if (v == NULL) {
				*exists = true;
				return 0;
			}
			int vt = cw_crdt_type_of(v, vl);
			rocksdb_free(v);
			return vt < 0 ? vt : CW_ETYPE;
		}
	} else {
		bool pending;
		if ((rc = cw_txn_row_key(key, k, kl, ROW_TYPE, NULL)) != 0)
			return rc;
		pending = cw_txn_row_find(t, key->p, key->len) != NULL;
		if (!pending &&
		    ((rc = cw_txn_row_key(key, k, kl, ROW_VALUE, NULL)) != 0 ||
		        (rc = cw_txn_read_row(
		             t, key->p, key->len, st, exists)) != 0))
			return rc;
		if (*exists) {
			int vt = cw_crdt_type_of(st->p, st->len);
			if (vt == type)
				return 0;
			*exists = false;
			return vt < 0 ? vt : CW_ETYPE;
		}
	}
	if ((rc = obj_type(t, k, kl, &r)) != 0)
		return rc;
	if (r->otype == CW_T_NONE)
		return 0;
	if (r->otype != type)
		return CW_ETYPE;
	if (type == CW_T_MAP) {
		/* a map has no value row: its fields are read one by one */
		*exists = true;
		return 0;
	}
	if ((rc = cw_txn_row_key(key, k, kl, ROW_VALUE, NULL)) != 0)
		return rc;
	return cw_txn_read_row(t, key->p, key->len, st, exists);
}

int
cw_txn_obj_write(
    cw_tx *t, const void *k, size_t kl, int type, size_t vl, cw_buf *key)
{
	int rc;
	if ((rc = check_args(t, k, kl)) != 0)
		return rc;
	if (vl > t->db->o.max_value)
		return CW_ETOOBIG;
	if ((rc = need_type(t, k, kl, type)) != 0)
		return rc;
	return cw_txn_row_key(key, k, kl, ROW_VALUE, NULL);
}

static int
copy_out(const uint8_t *p, size_t n, bool present, void **v, size_t *vl)
{
	*v  = NULL;
	*vl = 0;
	if (!present)
		return 0;
	if ((*v = cw_memdup(p, n)) == NULL)
		return CW_ENOMEM;
	*vl = n;
	return 0;
}

/* Pushes a last-writer-wins operand (register or map field) for row key,
 * superseding the transaction's earlier write of that row. */
static int
push_lww(
    cw_tx *t, const cw_buf *key, int type, int kind, const void *v, size_t vl)
{
	cw_buf       op = { 0 };
	struct prow *r;
	int          rc;
	if ((rc = cw_crdt_op_reg(
	         &op, type, kind, UINT64_MAX, t->db->o.dc, v, vl)) == 0 &&
	    (rc = cw_txn_row_get(t, key->p, key->len, type, &r)) == 0)
		rc = cw_txn_row_push(t, r, &op, true);
	cw_buf_fini(&op);
	return rc;
}

/* Gives the caller the value of a register or map-field state (if
 * exists). OUT: *v (free with free()) and *vl; NULL, 0 if absent. */
static int
lww_value(const cw_buf *st, bool exists, void **v, size_t *vl)
{
	bool           present = false;
	const uint8_t *p       = NULL;
	size_t         n       = 0;
	int            rc;
	if (exists &&
	    (rc = cw_crdt_reg_read(
	         st->p, st->len, &present, &p, &n, NULL, NULL)) != 0)
		return rc;
	return copy_out(p, n, present, v, vl);
}

int
cw_tx_reg_put(cw_tx *t, const void *k, size_t kl, const void *v, size_t vl)
{
	cw_buf key = { 0 };
	int    rc;
	if (v == NULL && vl > 0)
		return CW_EINVAL;
	if ((rc = cw_txn_obj_write(t, k, kl, CW_T_REG, vl, &key)) == 0)
		rc = push_lww(t, &key, CW_T_REG, CW_OP_PUT, v, vl);
	cw_buf_fini(&key);
	return rc;
}

int
cw_tx_reg_get(cw_tx *t, const void *k, size_t kl, void **v, size_t *vl)
{
	cw_buf key = { 0 }, st = { 0 };
	bool   exists;
	int    rc;
	if (v == NULL || vl == NULL)
		return CW_EINVAL;
	*v  = NULL;
	*vl = 0;
	if ((rc = cw_txn_obj_read(t, k, kl, CW_T_REG, &key, &st, &exists)) ==
	    0)
		rc = lww_value(&st, exists, v, vl);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

int
cw_tx_counter_add(cw_tx *t, const void *k, size_t kl, int64_t delta)
{
	cw_buf       key = { 0 }, op = { 0 };
	struct prow *r;
	int          rc;
	if ((rc = cw_txn_obj_write(t, k, kl, CW_T_COUNTER, 0, &key)) != 0)
		goto out;
	if ((rc = cw_txn_row_get(t, key.p, key.len, CW_T_COUNTER, &r)) != 0)
		goto out;
	if (r->nops == 1) {
		/* fold into the one pending add: | len u32 | T | K | delta |
		 */
		uint8_t *d = r->ops.p + 6;
		cw_st_u64(d, cw_ld_u64(d) + (uint64_t) delta);
		goto out;
	}
	if ((rc = cw_crdt_op_counter(&op, delta)) != 0)
		goto out;
	rc = cw_txn_row_push(t, r, &op, false);
out:
	cw_buf_fini(&key);
	cw_buf_fini(&op);
	return rc;
}

int
cw_tx_counter_get(cw_tx *t, const void *k, size_t kl, int64_t *out)
{
	cw_buf key = { 0 }, st = { 0 };
	bool   exists;
	int    rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = 0;
	if ((rc = cw_txn_obj_read(
	         t, k, kl, CW_T_COUNTER, &key, &st, &exists)) == 0 &&
	    exists)
		rc = cw_crdt_counter_read(st.p, st.len, out);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

int
cw_tx_set_add(cw_tx *t, const void *k, size_t kl, const void *e, size_t el)
{
	cw_buf       key = { 0 }, op = { 0 };
	struct prow *r;
	int          rc;
	if (e == NULL && el > 0)
		return CW_EINVAL;
	if ((rc = cw_txn_obj_write(t, k, kl, CW_T_SET, el, &key)) != 0)
		goto out;
	/* tag (dc, seq 0, idx): seq is stamped at commit */
	cw_tag tag = { t->db->o.dc, 0, t->set_idx };
	if ((rc = cw_crdt_op_set_add(&op, tag, e, el)) != 0 ||
	    (rc = cw_txn_row_get(t, key.p, key.len, CW_T_SET, &r)) != 0)
		goto out;
	if ((rc = cw_txn_row_push(t, r, &op, false)) == 0)
		t->set_idx++;
out:
	cw_buf_fini(&key);
	cw_buf_fini(&op);
	return rc;
}

/* Drops the pending adds of element e from row r. */
static void
drop_pending_adds(cw_tx *t, struct prow *r, const void *e, size_t el)
{
	size_t   off = 0, w = 0;
	uint8_t *op;
	size_t   ol;
	uint32_t kept = 0;
	while (cw_txn_row_next_op(r, &off, &op, &ol)) {
		/* set add: | T | K | tag 14 | elen u32 | e | */
		bool drop = op[1] == CW_OP_ADD && ol == 20 + el &&
		    memcmp(op + 20, e, el) == 0;
		if (drop) {
			t->nops--;
			t->bytes -= ol;
			continue;
		}
		memmove(r->ops.p + w, op - 4, 4 + ol);
		w += 4 + ol;
		kept++;
	}
	r->ops.len = w;
	r->nops    = kept;
}

int
cw_tx_set_remove(cw_tx *t, const void *k, size_t kl, const void *e, size_t el)
{
	cw_buf         key = { 0 }, op = { 0 };
	struct prow   *r;
	char          *v = NULL;
	size_t         vl;
	bool           found;
	const uint8_t *tags;
	uint32_t       ntags;
	int            rc;
	if (e == NULL && el > 0)
		return CW_EINVAL;
	if ((rc = cw_txn_obj_write(t, k, kl, CW_T_SET, el, &key)) != 0)
		goto out;
	if ((r = cw_txn_row_find(t, key.p, key.len)) != NULL)
		drop_pending_adds(t, r, e, el);
	/* remove the tags observed in the snapshot */
	if ((rc = cw_txn_read_snapshot(t, key.p, key.len, &v, &vl)) != 0)
		goto out;
	if ((rc = cw_crdt_set_find(v, vl, e, el, &found, &tags, &ntags)) != 0)
		goto out;
	if (!found && (v != NULL || cw_txn_row_find(t, key.p, key.len)))
		goto out; /* nothing to remove */
	if (!found) {     /* a new set: a remove of nothing gives it its value
		           * row, which every object but a map has (see
		           * cw_txn_obj_read) */
		tags  = NULL;
		ntags = 0;
	}
	if ((rc = cw_crdt_op_set_rem(&op, e, el, tags, ntags)) != 0 ||
	    (rc = cw_txn_row_get(t, key.p, key.len, CW_T_SET, &r)) != 0)
		goto out;
	rc = cw_txn_row_push(t, r, &op, false);
out:
	rocksdb_free(v);
	cw_buf_fini(&key);
	cw_buf_fini(&op);
	return rc;
}

int
cw_tx_set_contains(
    cw_tx *t, const void *k, size_t kl, const void *e, size_t el, bool *out)
{
	cw_buf         key = { 0 }, st = { 0 };
	bool           exists;
	const uint8_t *tags;
	uint32_t       ntags;
	int            rc;
	if (out == NULL || (e == NULL && el > 0))
		return CW_EINVAL;
	*out = false;
	if ((rc = cw_txn_obj_read(t, k, kl, CW_T_SET, &key, &st, &exists)) ==
	        0 &&
	    exists)
		rc = cw_crdt_set_find(st.p, st.len, e, el, out, &tags, &ntags);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

int
cw_tx_set_members(cw_tx *t, const void *k, size_t kl, cw_list **out)
{
	cw_buf         key = { 0 }, st = { 0 };
	cw_list       *l = NULL;
	bool           exists;
	cw_set_iter    it;
	const uint8_t *e, *tags;
	size_t         el;
	uint32_t       ntags;
	int            rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = NULL;
	if ((rc = cw_txn_obj_read(t, k, kl, CW_T_SET, &key, &st, &exists)) !=
	    0)
		goto out;
	if ((rc = cw_list_new(&l)) != 0)
		goto out;
	if ((rc = cw_crdt_set_iter(&it, exists ? st.p : NULL, st.len)) != 0)
		goto out;
	while ((rc = cw_crdt_set_next(&it, &e, &el, &tags, &ntags)) == 1)
		if ((rc = cw_list_push(l, e, el)) != 0)
			goto out;
	if (rc == 0) {
		*out = l;
		l    = NULL;
	}
out:
	cw_list_free(l);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

static int
map_field_ok(const char *field)
{
	if (field == NULL)
		return CW_EINVAL;
	return strlen(field) > CW_MAX_FIELD ? CW_ETOOBIG : 0;
}

/* A map write: the field row (tracked, so writers of one field conflict
 * and writers of different fields do not). */
static int
map_write(cw_tx *t, const void *k, size_t kl, const char *field, int kind,
    const void *v, size_t vl)
{
	cw_buf key = { 0 };
	int    rc;
	if ((rc = map_field_ok(field)) != 0)
		return rc;
	if (v == NULL && vl > 0)
		return CW_EINVAL;
	if ((rc = cw_txn_obj_write(t, k, kl, CW_T_MAP, vl, &key)) == 0 &&
	    (rc = cw_txn_row_key(&key, k, kl, ROW_FIELD, field)) == 0)
		rc = push_lww(t, &key, CW_T_FIELD, kind, v, vl);
	cw_buf_fini(&key);
	return rc;
}

int
cw_tx_map_put(cw_tx *t, const void *k, size_t kl, const char *field,
    const void *v, size_t vl)
{
	return map_write(t, k, kl, field, CW_OP_PUT, v, vl);
}

int
cw_tx_map_remove(cw_tx *t, const void *k, size_t kl, const char *field)
{
	return map_write(t, k, kl, field, CW_OP_DEL, NULL, 0);
}

int
cw_tx_map_get(cw_tx *t, const void *k, size_t kl, const char *field, void **v,
    size_t *vl)
{
	cw_buf key = { 0 }, st = { 0 };
	bool   exists;
	int    rc;
	if (v == NULL || vl == NULL)
		return CW_EINVAL;
	*v  = NULL;
	*vl = 0;
	if ((rc = map_field_ok(field)) != 0)
		return rc;
	if ((rc = cw_txn_obj_read(t, k, kl, CW_T_MAP, &key, &st, &exists)) ==
	        0 &&
	    exists &&
	    (rc = cw_txn_row_key(&key, k, kl, ROW_FIELD, field)) == 0 &&
	    (rc = cw_txn_read_row(t, key.p, key.len, &st, &exists)) == 0)
		rc = lww_value(&st, exists, v, vl);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}

static int
cmp_name(const void *a, const void *b)
{
	const cw_buf *x = a, *y = b;
	return cw_bytes_cmp(x->p, x->len, y->p, y->len);
}

/* A field name map_fields found, and whether the snapshot already said if
 * it is present (PRESENT, ABSENT) or its pending writes must be merged
 * (PENDING). The name comes first: cmp_name sorts these. */
struct fname {
	cw_buf name;
	enum { ABSENT, PRESENT, PENDING } st;
};

/* Adds a name (no duplicates: the caller sorts and skips them). */
static int
names_push(struct fname **names, size_t *n, size_t *cap, const void *p,
    size_t len, int st)
{
	if (cw_grow(names, cap, *n + 1, sizeof(**names)) != 0)
		return CW_ENOMEM;
	struct fname *b = &(*names)[*n];
	memset(b, 0, sizeof(*b));
	b->st = st;
	if (cw_buf_put(&b->name, p, len) != 0)
		return CW_ENOMEM;
	(*n)++;
	return 0;
}

/* Whether a field state says present. */
static int
field_present(const void *st, size_t len, bool *present)
{
	const uint8_t *p;
	size_t         n;
	return cw_crdt_reg_read(st, len, present, &p, &n, NULL, NULL);
}

int
cw_tx_map_fields(cw_tx *t, const void *k, size_t kl, cw_list **out)
{
	cw_buf              key = { 0 }, st = { 0 };
	struct fname       *names = NULL;
	size_t              nn = 0, ncap = 0;
	cw_list            *l  = NULL;
	rocksdb_iterator_t *it = NULL;
	bool                exists, present;
	int                 rc;
	if (out == NULL)
		return CW_EINVAL;
	*out = NULL;
	if ((rc = cw_txn_obj_read(t, k, kl, CW_T_MAP, &key, &st, &exists)) !=
	    0)
		goto out;
	if ((rc = cw_list_new(&l)) != 0)
		goto out;
	if (!exists)
		goto done;
	/* one seek over the field rows at the snapshot: each row's state
	 * comes with it, so only a field t wrote is read again (to merge its
	 * pending writes); then the fields only t wrote */
	if ((rc = cw_txn_row_key(&key, k, kl, ROW_FIELD, "")) != 0)
		goto out;
	it =
	    rocksdb_create_iterator_cf(t->db->base, t->ro, t->db->cf[CF_DATA]);
	for (rocksdb_iter_seek(it, (char *) key.p, key.len);
	     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t      rl, vl;
		const char *rk = rocksdb_iter_key(it, &rl);
		if (rl < key.len || memcmp(rk, key.p, key.len) != 0)
			break;
		int fs = PENDING;
		if (cw_txn_row_find(t, (const uint8_t *) rk, rl) == NULL) {
			const char *v = rocksdb_iter_value(it, &vl);
			if ((rc = field_present(v, vl, &present)) != 0)
				goto out;
			fs = present ? PRESENT : ABSENT;
		}
		if ((rc = names_push(&names, &nn, &ncap, rk + key.len,
		         rl - key.len, fs)) != 0)
			goto out;
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	if (err != NULL) {
		rc = cw_txn_rdb_err(err, "map fields");
		goto out;
	}
	for (size_t i = 0; i < t->nrows; i++) {
		struct prow *r = &t->rows[i];
		if (r->type == CW_T_FIELD && r->klen >= key.len &&
		    memcmp(r->key, key.p, key.len) == 0 &&
		    (rc = names_push(&names, &nn, &ncap, r->key + key.len,
		         r->klen - key.len, PENDING)) != 0)
			goto out;
	}
	if (nn > 1) /* names is NULL when there are none */
		qsort(names, nn, sizeof(*names), cmp_name);
	for (size_t i = 0; i < nn; i++) {
		const cw_buf *nm = &names[i].name;
		if (i > 0 && cmp_name(&names[i - 1], &names[i]) == 0)
			continue;
		present = names[i].st == PRESENT;
		if (names[i].st == PENDING) {
			/* key still holds the field rows' prefix */
			size_t plen = key.len;
			if ((rc = cw_buf_put(&key, nm->p, nm->len)) != 0 ||
			    (rc = cw_txn_read_row(
			         t, key.p, key.len, &st, &exists)) != 0)
				goto out;
			key.len = plen;
			present = false;
			if (exists &&
			    (rc = field_present(st.p, st.len, &present)) != 0)
				goto out;
		}
		if (present && (rc = cw_list_push(l, nm->p, nm->len)) != 0)
			goto out;
	}
done:
	*out = l;
	l    = NULL;
out:
	if (it != NULL)
		rocksdb_iter_destroy(it);
	for (size_t i = 0; i < nn; i++)
		cw_buf_fini(&names[i].name);
	cw_free(names);
	cw_list_free(l);
	cw_buf_fini(&key);
	cw_buf_fini(&st);
	return rc;
}
