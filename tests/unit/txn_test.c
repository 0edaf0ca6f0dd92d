/*
 * txn_test.c - the engine on a real RocksDB in a temporary directory:
 * every type, snapshot isolation, conflicts, concurrency, atomic
 * visibility, bounded counters, bad input, remote records, recovery.
 */
#include "testutil.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include "crdt.h"
#include "schema.h"
#include "txn.h"

typedef struct {
	char      *dir;
	cw_db     *db;
	cw_db_opts o;
} fx;

static int
open_fx(void **state, uint32_t ndc, uint16_t dc)
{
	fx *f  = calloc(1, sizeof(*f));
	f->dir = lab_tmpdir("cwtest");
	cw_db_opts_default(&f->o);
	f->o.ndc = ndc;
	f->o.dc  = dc;
	if (cw_db_open(&f->db, f->dir, &f->o) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
setup1(void **state)
{
	return open_fx(state, 1, 0);
}

static int
setup3(void **state)
{
	return open_fx(state, 3, 0);
}

static int
teardown(void **state)
{
	fx *f = *state;
	cw_db_close(f->db);
	lab_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static cw_tx *
begin(cw_db *db)
{
	cw_tx *t;
	assert_int_equal(cw_tx_begin(db, NULL, 0, &t), 0);
	return t;
}

static int
commit(cw_tx *t)
{
	int rc = cw_tx_commit(t, NULL);
	cw_tx_free(t);
	return rc;
}

static void
assert_reg(cw_tx *t, const char *k, const char *want)
{
	void  *v;
	size_t vl;
	assert_int_equal(cw_tx_reg_get(t, k, strlen(k), &v, &vl), 0);
	if (want == NULL) {
		assert_null(v);
		assert_int_equal(vl, 0);
		return;
	}
	assert_int_equal(vl, strlen(want));
	assert_memory_equal(v, want, vl);
	free(v);
}

static int64_t
counter(cw_tx *t, const char *k)
{
	int64_t v;
	assert_int_equal(cw_tx_counter_get(t, k, strlen(k), &v), 0);
	return v;
}

static void
objects_never_written_read_as_empty(void **state)
{
	fx      *f = *state;
	cw_tx   *t = begin(f->db);
	cw_list *l;
	int64_t  v;
	bool     in;
	assert_reg(t, "r", NULL);
	assert_int_equal(counter(t, "c"), 0);
	assert_int_equal(cw_tx_bcounter_get(t, "b", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cw_tx_set_members(t, "s", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 0);
	cw_list_free(l);
	assert_int_equal(cw_tx_set_contains(t, "s", 1, "x", 1, &in), 0);
	assert_false(in);
	assert_int_equal(cw_tx_map_fields(t, "m", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 0);
	cw_list_free(l);
	void  *p;
	size_t pl;
	assert_int_equal(cw_tx_map_get(t, "m", 1, "f", &p, &pl), 0);
	assert_null(p);
	assert_int_equal(commit(t), 0);
}

static void
own_writes_are_visible_and_survive_commit(void **state)
{
	fx      *f = *state;
	cw_tx   *t = begin(f->db);
	cw_list *l;
	assert_int_equal(cw_tx_reg_put(t, "r", 1, "one", 3), 0);
	assert_int_equal(cw_tx_reg_put(t, "r", 1, "two", 3), 0);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, 5), 0);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, -2), 0);
	assert_int_equal(cw_tx_set_add(t, "s", 1, "b", 1), 0);
	assert_int_equal(cw_tx_set_add(t, "s", 1, "a", 1), 0);
	assert_int_equal(cw_tx_map_put(t, "m", 1, "name", "ann", 3), 0);
	assert_int_equal(cw_tx_map_put(t, "m", 1, "age", "40", 2), 0);
	assert_int_equal(cw_tx_map_remove(t, "m", 1, "age"), 0);
	assert_int_equal(cw_tx_reg_put(t, "empty", 5, NULL, 0), 0);
	assert_reg(t, "r", "two");
	assert_int_equal(counter(t, "c"), 3);
	assert_int_equal(cw_tx_set_members(t, "s", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 2);
	size_t n;
	assert_memory_equal(cw_list_at(l, 0, &n), "a", 1);
	cw_list_free(l);
	assert_int_equal(cw_tx_map_fields(t, "m", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 1);
	assert_memory_equal(cw_list_at(l, 0, &n), "name", 4);
	cw_list_free(l);
	cw_vc cvc;
	assert_int_equal(cw_tx_commit(t, &cvc), 0);
	assert_int_equal(cvc.v[0], 1);
	cw_tx_free(t);

	t = begin(f->db);
	assert_reg(t, "r", "two");
	void  *v;
	size_t vl;
	assert_int_equal(cw_tx_reg_get(t, "empty", 5, &v, &vl), 0);
	assert_non_null(v); /* an empty value is present, not missing */
	assert_int_equal(vl, 0);
	free(v);
	assert_int_equal(counter(t, "c"), 3);
	assert_int_equal(cw_tx_map_get(t, "m", 1, "name", &v, &vl), 0);
	assert_memory_equal(v, "ann", 3);
	free(v);
	assert_int_equal(cw_tx_map_get(t, "m", 1, "age", &v, &vl), 0);
	assert_null(v);
	/* fields from the snapshot and from this transaction together */
	assert_int_equal(cw_tx_map_put(t, "m", 1, "zip", "1000", 4), 0);
	assert_int_equal(cw_tx_map_fields(t, "m", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 2);
	assert_memory_equal(cw_list_at(l, 1, &n), "zip", 3);
	cw_list_free(l);
	cw_vc S;
	cw_db_state(f->db, &S);
	assert_int_equal(S.v[0], 1);
	cw_tx_free(t);
}

static void
set_remove_takes_observed_and_pending_adds(void **state)
{
	fx    *f = *state;
	cw_tx *t = begin(f->db);
	bool   in;
	assert_int_equal(cw_tx_set_add(t, "s", 1, "x", 1), 0);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	assert_int_equal(cw_tx_set_add(t, "s", 1, "x", 1), 0); /* pending */
	assert_int_equal(cw_tx_set_remove(t, "s", 1, "x", 1), 0);
	assert_int_equal(cw_tx_set_contains(t, "s", 1, "x", 1, &in), 0);
	assert_false(in);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	assert_int_equal(cw_tx_set_contains(t, "s", 1, "x", 1, &in), 0);
	assert_false(in);
	/* remove then add again in one transaction: present */
	assert_int_equal(cw_tx_set_add(t, "s", 1, "y", 1), 0);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	assert_int_equal(cw_tx_set_remove(t, "s", 1, "y", 1), 0);
	assert_int_equal(cw_tx_set_add(t, "s", 1, "y", 1), 0);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	assert_int_equal(cw_tx_set_contains(t, "s", 1, "y", 1, &in), 0);
	assert_true(in);
	cw_tx_free(t);
}

static void
snapshot_does_not_see_later_commits(void **state)
{
	fx    *f = *state;
	cw_tx *t = begin(f->db);
	assert_int_equal(cw_tx_reg_put(t, "k", 1, "old", 3), 0);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, 1), 0);
	assert_int_equal(commit(t), 0);
	cw_tx *reader = begin(f->db);
	t             = begin(f->db);
	assert_int_equal(cw_tx_reg_put(t, "k", 1, "new", 3), 0);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, 1), 0);
	assert_int_equal(cw_tx_set_add(t, "s", 1, "e", 1), 0);
	assert_int_equal(commit(t), 0);
	assert_reg(reader, "k", "old");
	assert_int_equal(counter(reader, "c"), 1);
	cw_list *l;
	assert_int_equal(cw_tx_set_members(reader, "s", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 0);
	cw_list_free(l);
	cw_vc sv;
	cw_tx_snapshot(reader, &sv);
	assert_int_equal(sv.v[0], 1);
	cw_tx_free(reader);
	reader = begin(f->db);
	assert_reg(reader, "k", "new");
	cw_tx_free(reader);
}

/* A read takes an object's value row alone when it exists (objects.c):
 * it still reads its own snapshot, still refuses another type, still sees
 * its own pending writes, and an object made by a remove of an absent
 * element (a type row, no value row) still reads by its type row. */
static void
one_row_reads_keep_snapshot_type_and_own_writes(void **state)
{
	fx      *f = *state;
	cw_list *l;
	void    *v;
	size_t   vl;
	int64_t  n;
	bool     in;
	cw_tx   *t = begin(f->db);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, 5), 0);
	assert_int_equal(cw_tx_reg_put(t, "r", 1, "a", 1), 0);
	assert_int_equal(cw_tx_set_add(t, "s", 1, "x", 1), 0);
	assert_int_equal(cw_tx_set_remove(t, "e", 1, "x", 1), 0);
	assert_int_equal(commit(t), 0);
	cw_tx *old = begin(f->db);
	t          = begin(f->db);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, 2), 0);
	assert_int_equal(cw_tx_reg_put(t, "r", 1, "b", 1), 0);
	assert_int_equal(cw_tx_set_add(t, "late", 4, "y", 1), 0);
	assert_int_equal(cw_tx_set_add(t, "e", 1, "z", 1), 0);
	assert_int_equal(commit(t), 0);
	/* the snapshot, not the latest state */
	assert_int_equal(counter(old, "c"), 5);
	assert_reg(old, "r", "a");
	assert_int_equal(cw_tx_set_members(old, "late", 4, &l), 0);
	assert_int_equal(cw_list_len(l), 0);
	cw_list_free(l);
	assert_int_equal(cw_tx_set_members(old, "e", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 0);
	cw_list_free(l);
	/* the type, from the value row and from the type row alone */
	assert_int_equal(cw_tx_reg_get(old, "c", 1, &v, &vl), CW_ETYPE);
	assert_int_equal(cw_tx_counter_get(old, "r", 1, &n), CW_ETYPE);
	assert_int_equal(
	    cw_tx_set_contains(old, "c", 1, "x", 1, &in), CW_ETYPE);
	assert_int_equal(cw_tx_map_get(old, "s", 1, "f", &v, &vl), CW_ETYPE);
	assert_int_equal(cw_tx_counter_get(old, "e", 1, &n), CW_ETYPE);
	assert_int_equal(cw_tx_set_contains(old, "s", 1, "x", 1, &in), 0);
	assert_true(in);
	/* a map is read by a miss on the value row: every other type has
	 * one, the set made by a remove of nothing too */
	assert_int_equal(cw_tx_map_get(old, "e", 1, "f", &v, &vl), CW_ETYPE);
	assert_int_equal(cw_tx_map_fields(old, "c", 1, &l), CW_ETYPE);
	assert_int_equal(cw_tx_map_get(old, "none", 4, "f", &v, &vl), 0);
	assert_null(v);
	assert_int_equal(cw_tx_map_put(old, "nm", 2, "f", "v", 1), 0);
	assert_int_equal(cw_tx_map_get(old, "nm", 2, "f", &v, &vl), 0);
	assert_int_equal(vl, 1);
	free(v);
	/* its own writes over the snapshot */
	assert_int_equal(cw_tx_counter_add(old, "c", 1, 1), 0);
	assert_int_equal(counter(old, "c"), 6);
	assert_int_equal(cw_tx_set_add(old, "e", 1, "w", 1), 0);
	assert_int_equal(cw_tx_set_members(old, "e", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 1);
	cw_list_free(l);
	cw_tx_free(old);
	t = begin(f->db);
	assert_int_equal(counter(t, "c"), 7);
	assert_reg(t, "r", "b");
	cw_tx_free(t);
}

/* map_fields takes each field's state from its one seek and reads again
 * only the fields the transaction wrote: present, removed (a tombstone),
 * removed or put back by the transaction itself, and a field committed
 * after the snapshot, each as the snapshot plus its own writes say. */
static void
map_fields_merge_the_snapshot_and_own_writes(void **state)
{
	fx      *f = *state;
	cw_list *l;
	size_t   n;
	cw_tx   *t = begin(f->db);
	assert_int_equal(cw_tx_map_put(t, "m", 1, "a", "1", 1), 0);
	assert_int_equal(cw_tx_map_put(t, "m", 1, "b", "2", 1), 0);
	assert_int_equal(cw_tx_map_put(t, "m", 1, "c", "3", 1), 0);
	assert_int_equal(cw_tx_map_put(t, "m", 1, "d", "4", 1), 0);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	assert_int_equal(cw_tx_map_remove(t, "m", 1, "b"), 0);
	assert_int_equal(cw_tx_map_remove(t, "m", 1, "d"), 0);
	assert_int_equal(commit(t), 0);
	cw_tx *old = begin(f->db);
	t          = begin(f->db);
	assert_int_equal(cw_tx_map_put(t, "m", 1, "late", "5", 1), 0);
	assert_int_equal(commit(t), 0);
	/* a removes c, puts d back and adds e */
	assert_int_equal(cw_tx_map_remove(old, "m", 1, "c"), 0);
	assert_int_equal(cw_tx_map_put(old, "m", 1, "d", "6", 1), 0);
	assert_int_equal(cw_tx_map_put(old, "m", 1, "e", "7", 1), 0);
	assert_int_equal(cw_tx_map_fields(old, "m", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 3);
	assert_memory_equal(cw_list_at(l, 0, &n), "a", 1);
	assert_memory_equal(cw_list_at(l, 1, &n), "d", 1);
	assert_memory_equal(cw_list_at(l, 2, &n), "e", 1);
	cw_list_free(l);
	cw_tx_free(old);
	t = begin(f->db);
	assert_int_equal(cw_tx_map_fields(t, "m", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 3);
	assert_memory_equal(cw_list_at(l, 0, &n), "a", 1);
	assert_memory_equal(cw_list_at(l, 1, &n), "c", 1);
	assert_memory_equal(cw_list_at(l, 2, &n), "late", 4);
	cw_list_free(l);
	cw_tx_free(t);
}

static void
concurrent_register_writes_first_committer_wins(void **state)
{
	fx    *f = *state;
	cw_tx *a = begin(f->db), *b = begin(f->db);
	assert_int_equal(cw_tx_reg_put(a, "k", 1, "a", 1), 0);
	assert_int_equal(cw_tx_reg_put(b, "k", 1, "b", 1), 0);
	assert_int_equal(cw_tx_counter_add(b, "c", 1, 7), 0);
	assert_int_equal(commit(a), 0);
	assert_int_equal(commit(b), CW_ECONFLICT);
	cw_tx *t = begin(f->db);
	assert_reg(t, "k", "a");
	assert_int_equal(counter(t, "c"), 0); /* nothing of b applied */
	cw_vc S;
	cw_db_state(f->db, &S);
	assert_int_equal(S.v[0], 1);
	cw_tx_free(t);
	assert_int_equal(cw_db_verify(f->db, NULL), 0);
}

static void
map_fields_conflict_only_on_the_same_field(void **state)
{
	fx    *f = *state;
	cw_tx *a = begin(f->db), *b = begin(f->db);
	assert_int_equal(cw_tx_map_put(a, "m", 1, "x", "1", 1), 0);
	assert_int_equal(cw_tx_map_put(b, "m", 1, "y", "2", 1), 0);
	assert_int_equal(commit(a), 0);
	assert_int_equal(commit(b), 0);
	a = begin(f->db);
	b = begin(f->db);
	assert_int_equal(cw_tx_map_put(a, "m", 1, "x", "3", 1), 0);
	assert_int_equal(cw_tx_map_remove(b, "m", 1, "x"), 0);
	assert_int_equal(commit(a), 0);
	assert_int_equal(commit(b), CW_ECONFLICT);
	cw_tx   *t = begin(f->db);
	cw_list *l;
	assert_int_equal(cw_tx_map_fields(t, "m", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 2);
	cw_list_free(l);
	cw_tx_free(t);
}

struct adder {
	cw_db *db;
	int    n;
	int    conflicts;
	int    errors;
};

static void *
add_loop(void *arg)
{
	struct adder *a = arg;
	for (int i = 0; i < a->n; i++) {
		cw_tx *t;
		if (cw_tx_begin(a->db, NULL, 0, &t) != 0) {
			a->errors++;
			continue;
		}
		cw_tx_counter_add(t, "ctr", 3, 1);
		cw_tx_set_add(t, "set", 3, &i, sizeof(i));
		int rc = cw_tx_commit(t, NULL);
		cw_tx_free(t);
		if (rc == CW_ECONFLICT)
			a->conflicts++;
		else if (rc != 0)
			a->errors++;
	}
	return NULL;
}

static void
two_threads_adding_to_one_counter_never_conflict(void **state)
{
	fx          *f    = *state;
	struct adder a[2] = { { f->db, 10000, 0, 0 }, { f->db, 10000, 0, 0 } };
	pthread_t    th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, add_loop, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(a[0].conflicts + a[1].conflicts, 0);
	assert_int_equal(a[0].errors + a[1].errors, 0);
	cw_tx *t = begin(f->db);
	assert_int_equal(counter(t, "ctr"), 20000);
	cw_list *l;
	assert_int_equal(cw_tx_set_members(t, "set", 3, &l), 0);
	assert_int_equal(cw_list_len(l), 10000); /* both threads added 0..n */
	cw_list_free(l);
	cw_tx_free(t);
	uint64_t n;
	assert_int_equal(cw_db_verify(f->db, &n), 0);
	assert_int_equal(n, 20000);
}

struct rmw {
	cw_db *db;
	int    n, done, errors;
};

/* Read-modify-write of one register holding a number, retried on
 * conflict; each transaction also writes four fresh registers, so that
 * the conflict table fills and is pruned often while others are open. */
static void *
rmw_loop(void *arg)
{
	struct rmw *a = arg;
	for (int i = 0; a->done < a->n && a->errors == 0; i++) {
		cw_tx *t;
		void  *v;
		size_t vl;
		char   buf[32], fresh[32];
		if (cw_tx_begin(a->db, NULL, 0, &t) != 0 ||
		    cw_tx_reg_get(t, "n", 1, &v, &vl) != 0) {
			a->errors++;
			break;
		}
		long x = 0;
		if (v != NULL) {
			snprintf(
			    buf, sizeof(buf), "%.*s", (int) vl, (char *) v);
			x = atol(buf);
			free(v);
		}
		int bl = snprintf(buf, sizeof(buf), "%ld", x + 1);
		cw_tx_reg_put(t, "n", 1, buf, (size_t) bl);
		for (int j = 0; j < 4; j++) {
			int fl = snprintf(fresh, sizeof(fresh), "f%p.%d.%d",
			    (void *) a, i, j);
			cw_tx_reg_put(t, fresh, (size_t) fl, "x", 1);
		}
		int rc = cw_tx_commit(t, NULL);
		cw_tx_free(t);
		if (rc == 0)
			a->done++;
		else if (rc != CW_ECONFLICT)
			a->errors++;
	}
	return NULL;
}

/* Four threads incrementing one register: no increment is lost, whatever
 * snapshot (durable or latest) each transaction began on. */
static void
concurrent_increments_of_a_register_lose_nothing(void **state)
{
	fx        *f = *state;
	struct rmw a[4];
	pthread_t  th[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct rmw) { f->db, 1500, 0, 0 };
		pthread_create(&th[i], NULL, rmw_loop, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].errors, 0);
		assert_int_equal(a[i].done, 1500);
	}
	cw_tx *t = begin(f->db);
	assert_reg(t, "n", "6000");
	cw_tx_free(t);
}

struct vis {
	cw_db     *db;
	atomic_int stop;
	int        torn;
	int        reads;
};

static const char *keys5[5] = { "k0", "k1", "k2", "k3", "k4" };

static void *
visibility_reader(void *arg)
{
	struct vis *v = arg;
	while (!atomic_load(&v->stop)) {
		cw_tx *t;
		if (cw_tx_begin(v->db, NULL, 0, &t) != 0)
			continue;
		char    first[16] = "";
		size_t  firstl    = 0;
		int64_t c0        = 0;
		for (int i = 0; i < 5; i++) {
			void   *val;
			size_t  vl;
			int64_t c;
			char    ck[4] = { 'c', (char) ('0' + i), 0 };
			cw_tx_reg_get(t, keys5[i], 2, &val, &vl);
			cw_tx_counter_get(t, ck, 2, &c);
			if (i == 0) {
				firstl = vl;
				if (vl)
					memcpy(first, val, vl < 16 ? vl : 16);
				c0 = c;
			} else if (vl != firstl ||
			    memcmp(val, first, vl) != 0 || c != c0) {
				v->torn++;
			}
			free(val);
		}
		v->reads++;
		cw_tx_free(t);
	}
	return NULL;
}

static void
reader_never_sees_part_of_a_transaction(void **state)
{
	fx        *f = *state;
	struct vis v = { f->db, 0, 0, 0 };
	pthread_t  th;
	pthread_create(&th, NULL, visibility_reader, &v);
	for (int i = 0; i < 1500; i++) {
		cw_tx *t = begin(f->db);
		char   val[16];
		int    n = snprintf(val, sizeof(val), "v%d", i);
		for (int k = 0; k < 5; k++) {
			char ck[4] = { 'c', (char) ('0' + k), 0 };
			assert_int_equal(
			    cw_tx_reg_put(t, keys5[k], 2, val, (size_t) n), 0);
			assert_int_equal(cw_tx_counter_add(t, ck, 2, 1), 0);
		}
		assert_int_equal(commit(t), 0);
	}
	atomic_store(&v.stop, 1);
	pthread_join(th, NULL);
	assert_int_equal(v.torn, 0);
	assert_true(v.reads > 0);
}

static void
bcounter_spends_only_local_rights(void **state)
{
	fx     *f = *state; /* 3 DCs, this is DC 0 */
	int64_t v;
	cw_tx  *t = begin(f->db);
	assert_int_equal(cw_tx_bcounter_add(t, "stock", 5, -1), CW_ENORIGHTS);
	assert_int_equal(cw_tx_bcounter_add(t, "stock", 5, 10), 0);
	assert_int_equal(cw_tx_bcounter_add(t, "stock", 5, -4), 0);
	assert_int_equal(cw_tx_bcounter_rights(t, "stock", 5, &v), 0);
	assert_int_equal(v, 6);
	assert_int_equal(
	    cw_tx_bcounter_transfer(t, "stock", 5, 7, 1), CW_ENORIGHTS);
	assert_int_equal(cw_tx_bcounter_transfer(t, "stock", 5, 2, 1), 0);
	assert_int_equal(
	    cw_tx_bcounter_transfer(t, "stock", 5, 2, 0), CW_EINVAL);
	assert_int_equal(
	    cw_tx_bcounter_transfer(t, "stock", 5, 2, 3), CW_EINVAL);
	assert_int_equal(
	    cw_tx_bcounter_add(t, "stock", 5, INT64_MIN), CW_EINVAL);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	assert_int_equal(cw_tx_bcounter_get(t, "stock", 5, &v), 0);
	assert_int_equal(v, 6);
	assert_int_equal(cw_tx_bcounter_rights(t, "stock", 5, &v), 0);
	assert_int_equal(v, 4);
	cw_tx_free(t);
}

static void
concurrent_decrements_cannot_overspend(void **state)
{
	fx    *f = *state;
	cw_tx *t = begin(f->db);
	assert_int_equal(cw_tx_bcounter_add(t, "b", 1, 5), 0);
	assert_int_equal(commit(t), 0);
	cw_tx *a = begin(f->db), *b = begin(f->db);
	assert_int_equal(cw_tx_bcounter_add(a, "b", 1, -4), 0);
	assert_int_equal(cw_tx_bcounter_add(b, "b", 1, -4), 0);
	assert_int_equal(cw_tx_counter_add(b, "other", 5, 1), 0);
	assert_int_equal(commit(a), 0);
	assert_int_equal(commit(b), CW_ENORIGHTS);
	t = begin(f->db);
	int64_t v;
	assert_int_equal(cw_tx_bcounter_get(t, "b", 1, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(counter(t, "other"), 0);
	cw_tx_free(t);
}

static void
bad_input_gets_clear_errors_and_changes_nothing(void **state)
{
	fx  *f = *state;
	char big[CW_MAX_KEY + 1];
	memset(big, 'k', sizeof(big));
	cw_tx *t = begin(f->db);
	assert_int_equal(cw_tx_reg_put(t, "", 0, "v", 1), CW_EINVAL);
	assert_int_equal(cw_tx_reg_put(t, NULL, 1, "v", 1), CW_EINVAL);
	assert_int_equal(
	    cw_tx_reg_put(t, big, sizeof(big), "v", 1), CW_ETOOBIG);
	assert_int_equal(cw_tx_reg_put(t, big, CW_MAX_KEY, "v", 1), 0);
	assert_int_equal(cw_tx_reg_put(t, "k", 1, NULL, 3), CW_EINVAL);
	char *huge = calloc(1, CW_DEFAULT_MAX_VALUE + 1);
	assert_int_equal(
	    cw_tx_reg_put(t, "k", 1, huge, CW_DEFAULT_MAX_VALUE + 1),
	    CW_ETOOBIG);
	assert_int_equal(
	    cw_tx_set_add(t, "s", 1, huge, CW_DEFAULT_MAX_VALUE + 1),
	    CW_ETOOBIG);
	free(huge);
	char field[CW_MAX_FIELD + 2];
	memset(field, 'f', sizeof(field) - 1);
	field[sizeof(field) - 1] = 0;
	assert_int_equal(cw_tx_map_put(t, "m", 1, field, "v", 1), CW_ETOOBIG);
	assert_int_equal(cw_tx_map_put(t, "m", 1, NULL, "v", 1), CW_EINVAL);
	assert_int_equal(cw_tx_reg_put(t, "typed", 5, "v", 1), 0);
	assert_int_equal(cw_tx_counter_add(t, "typed", 5, 1), CW_ETYPE);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	int64_t  c;
	cw_list *l;
	void    *v;
	size_t   vl;
	assert_int_equal(cw_tx_counter_get(t, "typed", 5, &c), CW_ETYPE);
	assert_int_equal(cw_tx_set_add(t, "typed", 5, "e", 1), CW_ETYPE);
	assert_int_equal(cw_tx_set_members(t, "typed", 5, &l), CW_ETYPE);
	assert_int_equal(cw_tx_map_put(t, "typed", 5, "f", "v", 1), CW_ETYPE);
	assert_int_equal(cw_tx_map_get(t, "typed", 5, "f", &v, &vl), CW_ETYPE);
	assert_int_equal(cw_tx_bcounter_add(t, "typed", 5, 1), CW_ETYPE);
	assert_reg(t, "typed", "v");
	assert_reg(t, "k", NULL); /* the refused writes left nothing */
	cw_tx_free(t);
}

static void
finished_transaction_reports_estate(void **state)
{
	fx    *f = *state;
	cw_tx *t = begin(f->db);
	assert_int_equal(cw_tx_reg_put(t, "k", 1, "v", 1), 0);
	assert_int_equal(cw_tx_commit(t, NULL), 0);
	assert_int_equal(cw_tx_commit(t, NULL), CW_ESTATE);
	assert_int_equal(cw_tx_reg_put(t, "k", 1, "w", 1), CW_ESTATE);
	int64_t c;
	assert_int_equal(cw_tx_counter_get(t, "c", 1, &c), CW_ESTATE);
	cw_tx_free(t);
	cw_vc S;
	cw_db_state(f->db, &S);
	assert_int_equal(S.v[0], 1);
}

static void
too_many_operations_is_etoobig(void **state)
{
	fx *f = *state;
	cw_db_close(f->db);
	f->o.max_txn_ops = 10;
	assert_int_equal(cw_db_open(&f->db, f->dir, &f->o), 0);
	cw_tx *t  = begin(f->db);
	int    rc = 0, i;
	for (i = 0; i < 20 && rc == 0; i++)
		rc = cw_tx_set_add(t, "s", 1, &i, sizeof(i));
	assert_int_equal(rc, CW_ETOOBIG);
	assert_int_equal(i, 11);
	assert_int_equal(commit(t), 0); /* the first 10 */
	t = begin(f->db);
	cw_list *l;
	assert_int_equal(cw_tx_set_members(t, "s", 1, &l), 0);
	assert_int_equal(cw_list_len(l), 10);
	cw_list_free(l);
	cw_tx_free(t);
}

/* ---- remote records, built by hand as another DC would ---- */

enum { TYPE_ROW, VALUE_ROW, FIELD_ROW };

static void
rowkey(cw_buf *b, const char *k, int kind, const char *field)
{
	size_t kl = strlen(k);
	b->len    = 0;
	cw_buf_u8(b, (uint8_t) (kl >> 8));
	cw_buf_u8(b, (uint8_t) kl);
	cw_buf_put(b, k, kl);
	if (kind == VALUE_ROW)
		cw_buf_u8(b, 1);
	if (kind == FIELD_ROW) {
		cw_buf_u8(b, 0);
		cw_buf_put(b, field, strlen(field));
	}
}

/* A record of origin/seq with deps, adding `delta` to counter "c" and
 * putting `val` into register "r" at time hlc (with their type rows, as
 * the creating DC sends them). */
static void
mkrec(cw_buf *out, uint16_t origin, uint64_t seq, const uint64_t *deps,
    int64_t delta, const char *val, uint64_t hlc)
{
	cw_buf k[4] = { { 0 } }, o[4] = { { 0 } };
	rowkey(&k[0], "c", TYPE_ROW, NULL);
	cw_crdt_op_type(&o[0], CW_T_COUNTER);
	rowkey(&k[1], "c", VALUE_ROW, NULL);
	cw_crdt_op_counter(&o[1], delta);
	rowkey(&k[2], "r", TYPE_ROW, NULL);
	cw_crdt_op_type(&o[2], CW_T_REG);
	rowkey(&k[3], "r", VALUE_ROW, NULL);
	cw_crdt_op_reg(
	    &o[3], CW_T_REG, CW_OP_PUT, hlc, origin, val, strlen(val));
	cw_rec_effect e[4];
	for (int i = 0; i < 4; i++)
		e[i] = (cw_rec_effect) { k[i].p, k[i].len, o[i].p, o[i].len };
	out->len = 0;
	assert_int_equal(
	    cw_schema_rec_encode(origin, seq, hlc, deps, 3, e, 4, out), 0);
	for (int i = 0; i < 4; i++) {
		cw_buf_fini(&k[i]);
		cw_buf_fini(&o[i]);
	}
}

static int
apply(cw_db *db, const cw_buf *b, int *res)
{
	return cw_db_apply_remote(db, b->p, b->len, res);
}

static void
apply_remote_follows_causal_readiness(void **state)
{
	fx      *f = *state;
	cw_buf   b = { 0 };
	int      res;
	uint64_t d0[3] = { 0, 0, 0 }, d1[3] = { 0, 2, 0 };
	uint64_t now = cw_now_ms() << 16;
	/* DC 2's record depends on DC 1's second: not ready yet */
	mkrec(&b, 2, 1, d1, 100, "from2", now + 3);
	cw_buf rec2 = b;
	memset(&b, 0, sizeof(b));
	assert_int_equal(apply(f->db, &rec2, &res), 0);
	assert_int_equal(res, CW_APPLY_NOT_READY);
	mkrec(&b, 1, 2, d0, 10, "from1b", now + 2); /* gap: seq 1 missing */
	assert_int_equal(apply(f->db, &b, &res), 0);
	assert_int_equal(res, CW_APPLY_NOT_READY);
	mkrec(&b, 1, 1, d0, 1, "from1a", now + 1);
	assert_int_equal(apply(f->db, &b, &res), 0);
	assert_int_equal(res, CW_APPLY_APPLIED);
	assert_int_equal(apply(f->db, &b, &res), 0);
	assert_int_equal(res, CW_APPLY_DUPLICATE);
	mkrec(&b, 1, 2, d0, 10, "from1b", now + 2);
	assert_int_equal(apply(f->db, &b, &res), 0);
	assert_int_equal(res, CW_APPLY_APPLIED);
	assert_int_equal(apply(f->db, &rec2, &res), 0);
	assert_int_equal(res, CW_APPLY_APPLIED);
	cw_vc S;
	cw_db_state(f->db, &S);
	assert_int_equal(S.v[0], 0);
	assert_int_equal(S.v[1], 2);
	assert_int_equal(S.v[2], 1);
	cw_tx *t = begin(f->db);
	assert_int_equal(counter(t, "c"), 111);
	assert_reg(t, "r", "from2");
	cw_tx_free(t);
	/* the log holds the exact bytes received */
	void  *got;
	size_t gl;
	assert_int_equal(cw_db_log_get(f->db, 2, 1, &got, &gl), 0);
	assert_int_equal(gl, rec2.len);
	assert_memory_equal(got, rec2.p, gl);
	free(got);
	assert_int_equal(cw_db_log_get(f->db, 2, 2, &got, &gl), CW_EINVAL);
	assert_int_equal(cw_db_verify(f->db, NULL), 0);
	cw_buf_fini(&b);
	cw_buf_fini(&rec2);
}

/* A record stamped with HLC 2^64-1 once applied, and every later local
 * put of its register lost to it for good (issue 18). Past the allowed
 * skew a record is held back, and the register and the HLC stay
 * untouched; within it, it applies, and a local put after it still wins
 * (the HLC moves past what it applied). */
static void
a_record_from_the_future_is_held_back(void **state)
{
	fx      *f = *state;
	cw_buf   b = { 0 };
	int      res;
	uint64_t d0[3] = { 0, 0, 0 };
	mkrec(&b, 1, 1, d0, 1, "future", UINT64_MAX);
	assert_int_equal(apply(f->db, &b, &res), 0);
	assert_int_equal(res, CW_APPLY_NOT_READY);
	mkrec(&b, 1, 1, d0, 1, "ahead", (cw_now_ms() + 10000) << 16);
	assert_int_equal(apply(f->db, &b, &res), 0);
	assert_int_equal(res, CW_APPLY_NOT_READY);
	cw_vc S;
	cw_db_state(f->db, &S);
	assert_int_equal(S.v[1], 0);
	/* 200 ms ahead: within the 500 allowed */
	mkrec(&b, 1, 1, d0, 1, "soon", (cw_now_ms() + 200) << 16);
	assert_int_equal(apply(f->db, &b, &res), 0);
	assert_int_equal(res, CW_APPLY_APPLIED);
	cw_tx *t = begin(f->db);
	assert_int_equal(cw_tx_reg_put(t, "r", 1, "local", 5), 0);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	assert_reg(t, "r", "local");
	cw_tx_free(t);
	cw_buf_fini(&b);
}

static void
apply_remote_rejects_bad_records_and_changes_nothing(void **state)
{
	fx      *f = *state;
	cw_buf   b = { 0 };
	int      res;
	uint64_t d0[3] = { 0, 0, 0 };
	uint8_t  junk[64];
	memset(junk, 0xab, sizeof(junk));
	assert_int_equal(
	    cw_db_apply_remote(f->db, junk, sizeof(junk), &res), CW_EPROTO);
	mkrec(&b, 0, 1, d0, 1, "self", 5); /* claims to be from this DC */
	assert_int_equal(apply(f->db, &b, &res), CW_EPROTO);
	mkrec(&b, 5, 1, d0, 1, "nodc", 5); /* no such DC */
	assert_int_equal(apply(f->db, &b, &res), CW_EPROTO);
	/* a bad operand inside a valid record */
	cw_buf k = { 0 }, o = { 0 };
	rowkey(&k, "c", VALUE_ROW, NULL);
	cw_buf_u8(&o, CW_T_COUNTER);
	cw_buf_u8(&o, 9);
	cw_rec_effect e = { k.p, k.len, o.p, o.len };
	b.len           = 0;
	cw_schema_rec_encode(1, 1, 5, d0, 3, &e, 1, &b);
	assert_int_equal(apply(f->db, &b, &res), CW_EPROTO);
	/* a field operand on a value row */
	o.len = 0;
	cw_crdt_op_reg(&o, CW_T_FIELD, CW_OP_PUT, 5, 1, "v", 1);
	e     = (cw_rec_effect) { k.p, k.len, o.p, o.len };
	b.len = 0;
	cw_schema_rec_encode(1, 1, 5, d0, 3, &e, 1, &b);
	assert_int_equal(apply(f->db, &b, &res), CW_EPROTO);
	/* a key longer than CW_MAX_KEY */
	o.len = 0;
	cw_crdt_op_counter(&o, 1);
	uint8_t longkey[2 + CW_MAX_KEY + 2] = { (CW_MAX_KEY + 1) >> 8,
		(CW_MAX_KEY + 1) & 0xff };
	longkey[sizeof(longkey) - 1]        = 1;
	e     = (cw_rec_effect) { longkey, sizeof(longkey), o.p, o.len };
	b.len = 0;
	cw_schema_rec_encode(1, 1, 5, d0, 3, &e, 1, &b);
	assert_int_equal(apply(f->db, &b, &res), CW_EPROTO);
	/* a counter operand on a type row */
	rowkey(&k, "c", TYPE_ROW, NULL);
	e     = (cw_rec_effect) { k.p, k.len, o.p, o.len };
	b.len = 0;
	cw_schema_rec_encode(1, 1, 5, d0, 3, &e, 1, &b);
	assert_int_equal(apply(f->db, &b, &res), CW_EPROTO);
	rowkey(&k, "c", VALUE_ROW, NULL);
	/* deps of the wrong width */
	uint64_t d2[2] = { 0, 0 };
	e              = (cw_rec_effect) { k.p, k.len, o.p, o.len };
	b.len          = 0;
	cw_schema_rec_encode(1, 1, 5, d2, 2, &e, 1, &b);
	assert_int_equal(apply(f->db, &b, &res), CW_EPROTO);
	cw_vc S;
	cw_db_state(f->db, &S);
	assert_int_equal(S.v[1], 0);
	cw_tx *t = begin(f->db);
	assert_int_equal(counter(t, "c"), 0);
	cw_tx_free(t);
	cw_buf_fini(&b);
	cw_buf_fini(&k);
	cw_buf_fini(&o);
}

static void
local_write_after_remote_one_wins_even_with_clock_skew(void **state)
{
	fx      *f = *state;
	cw_buf   b = { 0 };
	int      res;
	uint64_t d0[3] = { 0, 0, 0 };
	/* DC 1's clock is an hour ahead of ours, and this DC takes it (no
	 * --max-clock-skew: a record that far ahead is held back otherwise,
	 * a_record_from_the_future_is_held_back) */
	cw_db_close(f->db);
	f->o.max_clock_skew_ms = 0;
	assert_int_equal(cw_db_open(&f->db, f->dir, &f->o), 0);
	uint64_t ahead = (cw_now_ms() + 3600 * 1000) << 16;
	mkrec(&b, 1, 1, d0, 1, "remote", ahead);
	assert_int_equal(apply(f->db, &b, &res), 0);
	cw_tx *t = begin(f->db);
	assert_reg(t, "r", "remote");
	assert_int_equal(cw_tx_reg_put(t, "r", 1, "local", 5), 0);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	assert_reg(t, "r", "local"); /* the causal successor wins */
	cw_tx_free(t);
	cw_buf_fini(&b);
}

/* Regression (found by repl_test): a remote write to a register after a
 * local transaction's snapshot made that transaction's write to the same
 * register abort with CW_ECONFLICT, because RocksDB's validation counts
 * every write. Concurrent writes at different DCs merge by LWW instead. */
static void
remote_write_does_not_abort_a_local_writer_of_the_same_register(void **state)
{
	fx    *f = *state;
	cw_buf b = { 0 };
	int    res;
	cw_tx *t = begin(f->db);
	assert_int_equal(cw_tx_reg_put(t, "r", 1, "local", 5), 0);
	uint64_t d0[3] = { 0, 0, 0 };
	mkrec(&b, 1, 1, d0, 1, "remote", 5); /* an old time: local wins */
	assert_int_equal(apply(f->db, &b, &res), 0);
	assert_int_equal(res, CW_APPLY_APPLIED);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	assert_reg(t, "r", "local");
	cw_tx_free(t);
	/* and local writers still conflict with each other */
	cw_tx *a = begin(f->db), *c = begin(f->db);
	assert_int_equal(cw_tx_reg_put(a, "r", 1, "a", 1), 0);
	assert_int_equal(cw_tx_reg_put(c, "r", 1, "c", 1), 0);
	assert_int_equal(commit(a), 0);
	assert_int_equal(commit(c), CW_ECONFLICT);
	cw_buf_fini(&b);
}

struct tags {
	size_t   n;
	uint64_t first_rid, last_rid, last_seq, min_ms, max_ms;
};

static int
count_tag(void *arg, uint64_t sid, uint64_t rid, uint64_t ms, const cw_vc *vc)
{
	struct tags *g = arg;
	assert_int_equal(sid, 0x5e55);
	assert_int_equal(vc->n, 3);
	if (g->n == 0) {
		g->first_rid = rid;
		g->min_ms    = ms;
	}
	assert_true(rid > g->last_rid); /* oldest first */
	assert_true(vc->v[0] > g->last_seq);
	g->last_rid = rid;
	g->last_seq = vc->v[0];
	g->max_ms   = ms;
	g->n++;
	return 0;
}

static void
commit_tags_survive_a_reopen_and_are_pruned(void **state)
{
	fx         *f = *state;
	struct tags g = { 0 };
	uint64_t    floor, t0 = cw_now_ms();
	cw_db_close(f->db);
	f->o.sync      = false; /* 5,000 commits: the tags, not the disk */
	f->o.tags_kept = 2048;
	assert_int_equal(cw_db_open(&f->db, f->dir, &f->o), 0);
	/* untagged, read-only and failed commits leave no tag */
	cw_tx *t = begin(f->db);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, 1), 0);
	assert_int_equal(commit(t), 0);
	t = begin(f->db);
	cw_tx_tag(t, 0x5e55, 1);
	assert_int_equal(counter(t, "c"), 1);
	assert_int_equal(commit(t), 0);
	cw_tx *a = begin(f->db), *b = begin(f->db);
	cw_tx_tag(b, 0x5e55, 2);
	assert_int_equal(cw_tx_reg_put(a, "r", 1, "a", 1), 0);
	assert_int_equal(cw_tx_reg_put(b, "r", 1, "b", 1), 0);
	assert_int_equal(commit(a), 0);
	assert_int_equal(commit(b), CW_ECONFLICT);
	assert_int_equal(cw_db_tags(f->db, count_tag, &g, &floor), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(floor, 0);
	/* a tagged commit: its tag names the commit's vector */
	t = begin(f->db);
	cw_tx_tag(t, 0x5e55, 3);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, 1), 0);
	cw_vc cvc;
	assert_int_equal(cw_tx_commit(t, &cvc), 0);
	cw_tx_free(t);
	cw_db_close(f->db);
	assert_int_equal(cw_db_open(&f->db, f->dir, &f->o), 0);
	assert_int_equal(cw_db_tags(f->db, count_tag, &g, &floor), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.first_rid, 3);
	assert_int_equal(g.last_seq, cvc.v[0]);
	assert_true(g.min_ms >= t0 && g.min_ms <= cw_now_ms());
	/* 5,000 more: only the last 2,048 seqs' tags stay (and at most one
	 * prune interval more), and the floor covers every pruned one */
	for (uint64_t i = 4; i < 5004; i++) {
		t = begin(f->db);
		cw_tx_tag(t, 0x5e55, i);
		assert_int_equal(cw_tx_counter_add(t, "c", 1, 1), 0);
		assert_int_equal(commit(t), 0);
	}
	cw_db_close(f->db);
	assert_int_equal(cw_db_open(&f->db, f->dir, &f->o), 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(cw_db_tags(f->db, count_tag, &g, &floor), 0);
	assert_true(g.n >= 2048 && g.n <= 2048 + 1024);
	assert_int_equal(g.last_rid, 5003);
	assert_true(floor > 0);
	assert_true(floor <= g.min_ms); /* pruned ones are no newer */
	assert_true(floor >= t0);
}

static void
reopen_recovers_state_vector_and_data(void **state)
{
	fx      *f = *state;
	cw_buf   b = { 0 };
	int      res;
	uint64_t d0[3] = { 0, 0, 0 };
	for (int i = 0; i < 5; i++) {
		cw_tx *t = begin(f->db);
		assert_int_equal(cw_tx_counter_add(t, "c", 1, 1), 0);
		assert_int_equal(commit(t), 0);
	}
	mkrec(&b, 2, 1, d0, 10, "r2", 77);
	assert_int_equal(apply(f->db, &b, &res), 0);
	cw_db_close(f->db);
	assert_int_equal(cw_db_open(&f->db, f->dir, &f->o), 0);
	cw_vc S;
	cw_db_state(f->db, &S);
	assert_int_equal(S.v[0], 5);
	assert_int_equal(S.v[1], 0);
	assert_int_equal(S.v[2], 1);
	assert_int_equal(cw_db_verify(f->db, NULL), 0);
	cw_tx *t = begin(f->db);
	assert_int_equal(counter(t, "c"), 15);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, 1), 0);
	cw_vc cvc;
	assert_int_equal(cw_tx_commit(t, &cvc), 0);
	assert_int_equal(cvc.v[0], 6); /* seq continues, no gap */
	cw_tx_free(t);
	assert_int_equal(cw_db_verify(f->db, NULL), 0);
	cw_buf_fini(&b);
}

static void
log_prune_keeps_the_last_record_and_a_strict_verify(void **state)
{
	fx    *f = *state;
	void  *r;
	size_t rl;
	for (int i = 0; i < 10; i++) {
		cw_tx *t = begin(f->db);
		assert_int_equal(cw_tx_counter_add(t, "c", 1, 1), 0);
		assert_int_equal(commit(t), 0);
	}
	assert_int_equal(cw_db_log_prune(f->db, 0, 5), 0);
	assert_int_equal(cw_db_log_get(f->db, 0, 5, &r, &rl), CW_EINVAL);
	assert_int_equal(cw_db_log_get(f->db, 0, 6, &r, &rl), 0);
	free(r);
	uint64_t n;
	assert_int_equal(cw_db_verify(f->db, &n), 0);
	assert_int_equal(n, 5);
	/* pruning past the end keeps the last record: S comes from it */
	assert_int_equal(cw_db_log_prune(f->db, 0, 1000), 0);
	assert_int_equal(cw_db_log_get(f->db, 0, 9, &r, &rl), CW_EINVAL);
	assert_int_equal(cw_db_log_get(f->db, 0, 10, &r, &rl), 0);
	free(r);
	assert_int_equal(cw_db_verify(f->db, &n), 0);
	assert_int_equal(n, 1);
	cw_db_close(f->db);
	assert_int_equal(cw_db_open(&f->db, f->dir, &f->o), 0);
	cw_vc S;
	cw_db_state(f->db, &S);
	assert_int_equal(S.v[0], 10);
	assert_int_equal(cw_db_verify(f->db, NULL), 0);
	cw_tx *t = begin(f->db);
	assert_int_equal(counter(t, "c"), 10); /* data is not the log */
	cw_tx_free(t);
}

static void
directory_of_another_dc_or_format_is_refused(void **state)
{
	fx        *f = *state;
	cw_db     *db;
	cw_db_opts o = f->o;
	cw_tx     *t = begin(f->db);
	assert_int_equal(cw_tx_counter_add(t, "c", 1, 1), 0);
	assert_int_equal(commit(t), 0);
	cw_db_close(f->db);
	f->db = NULL;
	o.dc  = 1;
	assert_int_equal(cw_db_open(&db, f->dir, &o), CW_EFORMAT);
	o     = f->o;
	o.ndc = 4;
	assert_int_equal(cw_db_open(&db, f->dir, &o), CW_EFORMAT);
	o    = f->o;
	o.dc = 3; /* out of range */
	assert_int_equal(cw_db_open(&db, f->dir, &o), CW_EINVAL);
	/* the refused opens changed nothing */
	assert_int_equal(cw_db_open(&f->db, f->dir, &f->o), 0);
	t = begin(f->db);
	assert_int_equal(counter(t, "c"), 1);
	cw_tx_free(t);

	/* a plain RocksDB with data of its own */
	char              *other = lab_tmpdir("cwtest");
	rocksdb_options_t *ro    = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(ro, 1);
	char      *err = NULL;
	rocksdb_t *rdb = rocksdb_open(ro, other, &err);
	assert_null(err);
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_put(rdb, wo, "x", 1, "y", 1, &err);
	assert_null(err);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_close(rdb);
	rocksdb_options_destroy(ro);
	assert_int_equal(cw_db_open(&db, other, &f->o), CW_EFORMAT);
	lab_rmrf(other);
	free(other);
}

static void
session_wait_times_out_with_eunavail(void **state)
{
	fx    *f = *state;
	cw_vc  need;
	cw_tx *t;
	cw_causal_vc_init(&need, 3);
	need.v[1]   = 1; /* a DC 1 transaction this DC has not applied */
	uint64_t t0 = cw_mono_ms();
	assert_int_equal(cw_tx_begin(f->db, &need, 50, &t), CW_EUNAVAIL);
	assert_true(cw_mono_ms() - t0 >= 50);
	assert_null(t);
	need.v[1] = 0;
	assert_int_equal(cw_tx_begin(f->db, &need, 50, &t), 0);
	cw_tx_free(t);
}

/* A new transaction begins on the latest durable state when it covers the
 * session, so its reads never wait for a sync: a remote record applied but
 * not yet synced is not in it; a session that needs the record gets the
 * latest state instead (and waits for its sync); after the sync, every new
 * transaction has it. */
static void
new_transactions_read_the_latest_durable_state(void **state)
{
	fx      *f     = *state;
	uint64_t d0[3] = { 0, 0, 0 };
	cw_buf   b     = { 0 };
	int      res;
	cw_tx   *t = begin(f->db);
	assert_int_equal(cw_tx_reg_put(t, "x", 1, "local", 5), 0);
	assert_int_equal(commit(t), 0);
	mkrec(&b, 1, 1, d0, 5, "from1", (cw_now_ms() << 16) + 1);
	assert_int_equal(
	    cw_db_apply_remote_nosync(f->db, b.p, b.len, &res), 0);
	assert_int_equal(res, CW_APPLY_APPLIED);
	cw_vc S, snap;
	cw_db_state(f->db, &S);
	assert_int_equal(S.v[1], 1);

	t = begin(f->db); /* no session: the durable state */
	cw_tx_snapshot(t, &snap);
	assert_int_equal(snap.v[0], 1);
	assert_int_equal(snap.v[1], 0);
	assert_reg(t, "x", "local");
	assert_int_equal(counter(t, "c"), 0);
	cw_tx_free(t);

	cw_vc need;
	cw_causal_vc_init(&need, 3);
	need.v[1] = 1; /* a session that saw the record at another DC */
	assert_int_equal(cw_tx_begin(f->db, &need, 0, &t), 0);
	cw_tx_snapshot(t, &snap);
	assert_int_equal(snap.v[1], 1);
	assert_int_equal(counter(t, "c"), 5); /* waited for the sync */
	assert_reg(t, "r", "from1");
	cw_tx_free(t);

	t = begin(f->db); /* synced since: in the durable state */
	cw_tx_snapshot(t, &snap);
	assert_int_equal(snap.v[1], 1);
	assert_int_equal(counter(t, "c"), 5);
	cw_tx_free(t);
	cw_buf_fini(&b);
}

/* A transaction on an older durable snapshot still loses to a commit made
 * after it, even when thousands of commits since have pruned the conflict
 * table (the floor is the oldest open snapshot). */
static void
an_old_snapshot_still_conflicts_after_the_table_is_pruned(void **state)
{
	fx    *f = *state;
	cw_tx *t = begin(f->db);
	assert_int_equal(cw_tx_reg_put(t, "k", 1, "0", 1), 0);
	assert_int_equal(commit(t), 0);
	cw_tx *old = begin(f->db);
	t          = begin(f->db);
	assert_int_equal(cw_tx_reg_put(t, "k", 1, "1", 1), 0);
	assert_int_equal(commit(t), 0);
	for (int i = 0; i < 3000; i++) {
		char k[16];
		int  kl = snprintf(k, sizeof(k), "r%d", i);
		t       = begin(f->db);
		assert_int_equal(cw_tx_reg_put(t, k, (size_t) kl, "v", 1), 0);
		assert_int_equal(commit(t), 0);
	}
	assert_reg(old, "k", "0");
	assert_int_equal(cw_tx_reg_put(old, "k", 1, "old", 3), 0);
	assert_int_equal(commit(old), CW_ECONFLICT);
	t = begin(f->db);
	assert_reg(t, "k", "1");
	cw_tx_free(t);
}

/* A full disk on commit: CW_EIO, nothing of the transaction applied,
 * no crash; once space is back, a restart finds every commit that was
 * acknowledged and takes new ones. Needs root for a small tmpfs. */
static void
full_disk_fails_commits_whole_with_eio(void **state)
{
	(void) state;
	if (geteuid() != 0)
		skip();
	char *mnt = lab_tmpdir("cwtest");
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=16m") != 0) {
		free(mnt);
		skip();
	}
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/db", mnt);
	cw_db     *db;
	cw_db_opts o;
	cw_db_opts_default(&o);
	assert_int_equal(cw_db_open(&db, dir, &o), 0);
	static char big[256 * 1024];
	memset(big, 'x', sizeof(big));
	int ok = 0, rc = 0;
	for (int i = 0; i < 200 && rc == 0; i++) {
		cw_tx *t = begin(db);
		char   k[16];
		int    kl = snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(
		    cw_tx_reg_put(t, k, (size_t) kl, big, sizeof(big)), 0);
		assert_int_equal(cw_tx_counter_add(t, "n", 1, 1), 0);
		rc = commit(t);
		ok += rc == 0;
	}
	assert_int_equal(rc, CW_EIO);
	assert_true(ok > 0);
	cw_vc S;
	cw_db_state(db, &S);
	assert_int_equal(S.v[0], (uint64_t) ok);
	cw_tx *t = begin(db);
	assert_int_equal(counter(t, "n"), ok); /* the failed one: nothing */
	cw_tx_free(t);
	cw_db_close(db);
	/* make room, as an operator would, and restart */
	assert_int_equal(
	    mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=64m"), 0);
	assert_int_equal(cw_db_open(&db, dir, &o), 0);
	assert_int_equal(cw_db_verify(db, NULL), 0);
	t = begin(db);
	assert_int_equal(counter(t, "n"), ok);
	assert_int_equal(cw_tx_counter_add(t, "n", 1, 1), 0);
	assert_int_equal(commit(t), 0);
	cw_db_close(db);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	free(mnt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    objects_never_written_read_as_empty, setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    own_writes_are_visible_and_survive_commit, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    set_remove_takes_observed_and_pending_adds, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    snapshot_does_not_see_later_commits, setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    one_row_reads_keep_snapshot_type_and_own_writes, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    map_fields_merge_the_snapshot_and_own_writes, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    concurrent_register_writes_first_committer_wins, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    map_fields_conflict_only_on_the_same_field, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    two_threads_adding_to_one_counter_never_conflict, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    reader_never_sees_part_of_a_transaction, setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    concurrent_increments_of_a_register_lose_nothing, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    bcounter_spends_only_local_rights, setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    concurrent_decrements_cannot_overspend, setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    bad_input_gets_clear_errors_and_changes_nothing, setup1,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    finished_transaction_reports_estate, setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    too_many_operations_is_etoobig, setup1, teardown),
		cmocka_unit_test_setup_teardown(
		    apply_remote_follows_causal_readiness, setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    a_record_from_the_future_is_held_back, setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    apply_remote_rejects_bad_records_and_changes_nothing,
		    setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    local_write_after_remote_one_wins_even_with_clock_skew,
		    setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    remote_write_does_not_abort_a_local_writer_of_the_same_register,
		    setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    commit_tags_survive_a_reopen_and_are_pruned, setup3,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    reopen_recovers_state_vector_and_data, setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    log_prune_keeps_the_last_record_and_a_strict_verify,
		    setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    directory_of_another_dc_or_format_is_refused, setup3,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    session_wait_times_out_with_eunavail, setup3, teardown),
		cmocka_unit_test_setup_teardown(
		    new_transactions_read_the_latest_durable_state, setup3,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    an_old_snapshot_still_conflicts_after_the_table_is_pruned,
		    setup1, teardown),
		cmocka_unit_test(full_disk_fails_commits_whole_with_eio),
	};
	return cmocka_run_group_tests_name("txn", tests, NULL, NULL);
}
