/*
 * escrow_test.c - the escrow (escrow/escrow.h) over real engines: two DCs'
 * databases of a three-DC deployment, each with its escrow, and their log
 * records shipped between them by hand (cw_db_log_get, cw_db_apply_remote)
 * in place of replica/. A refused decrement leaves a want; the want goes
 * to the DC with the most rights; a grant is once per request id, at most
 * the rights held and, in the background, half; a granted want is
 * forgotten; steady spending asks ahead of need.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escrow.h"
#include "txn.h"

#define K "stock"
#define KL 5

typedef struct {
	char      *dir[2];
	cw_db     *db[2];
	cw_escrow *e[2];
} fx;

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	for (int i = 0; i < 2; i++) {
		cw_db_opts o;
		cw_db_opts_default(&o);
		o.ndc     = 3;
		o.dc      = (uint16_t) i;
		f->dir[i] = lab_tmpdir("cwtest");
		if (cw_db_open(&f->db[i], f->dir[i], &o) != 0 ||
		    cw_escrow_new(&f->e[i], f->db[i]) != 0)
			return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	for (int i = 0; i < 2; i++) {
		cw_escrow_free(f->e[i]);
		cw_db_close(f->db[i]);
		lab_rmrf(f->dir[i]);
		free(f->dir[i]);
	}
	free(f);
	return 0;
}

/* Applies at DC `to` every record of DC `from` it lacks. */
static void
ship(fx *f, int from, int to)
{
	cw_vc have, want;
	cw_db_state(f->db[to], &have);
	cw_db_state(f->db[from], &want);
	for (uint64_t s = have.v[from] + 1; s <= want.v[from]; s++) {
		void  *rec;
		size_t len;
		int    result;
		assert_int_equal(
		    cw_db_log_get(f->db[from], (uint16_t) from, s, &rec, &len),
		    0);
		assert_int_equal(
		    cw_db_apply_remote(f->db[to], rec, len, &result), 0);
		assert_int_equal(result, CW_APPLY_APPLIED);
		free(rec);
	}
}

/* bcounter K += delta (delta < 0: a decrement) at DC i. */
static int
add(fx *f, int i, int64_t delta)
{
	cw_tx *t;
	assert_int_equal(cw_tx_begin(f->db[i], NULL, 0, &t), 0);
	int rc = cw_tx_bcounter_add(t, K, KL, delta);
	if (rc == 0)
		rc = cw_tx_commit(t, NULL);
	cw_tx_free(t);
	return rc;
}

static int64_t
rights(fx *f, int i, uint16_t dc)
{
	int64_t r;
	assert_int_equal(cw_db_rights(f->db[i], K, KL, dc, &r), 0);
	return r;
}

/* DC 0's escrow serves a want of DC 1 for `amount` (request id, margin
 * 16). Returns the rights granted, or the error. */
static int64_t
grant(fx *f, uint16_t to, int64_t amount, uint64_t id, bool background)
{
	int64_t g;
	int     rc = cw_escrow_grant(
	        f->e[0], to, K, KL, amount, id, 16, background, &g);
	return rc != 0 ? rc : g;
}

static void
a_refusal_asks_the_dc_with_the_most_rights(void **state)
{
	fx             *f = *state;
	cw_want         w[4];
	cw_escrow_stats st;
	assert_int_equal(add(f, 0, 100), 0); /* DC 0 holds all 100 */
	ship(f, 0, 1);
	assert_int_equal(add(f, 1, -10), CW_ENORIGHTS);
	cw_escrow_figures(f->e[1], &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(cw_escrow_wants(f->e[1], w, 4), 1);
	assert_int_equal(w[0].kl, KL);
	assert_memory_equal(w[0].key, K, KL);
	assert_int_equal(w[0].amount, 10);
	assert_int_equal(w[0].id, 1); /* nothing received yet */
	assert_false(w[0].background);
	/* DC 0 holds the rights, DC 2 none: only DC 0 is asked */
	assert_int_equal(cw_escrow_pick(f->e[1], 0, w, 4), 1);
	assert_int_equal(cw_escrow_pick(f->e[1], 2, w, 4), 0);
	/* asked again, the same request (id), not a second one */
	assert_int_equal(add(f, 1, -10), CW_ENORIGHTS);
	assert_int_equal(cw_escrow_wants(f->e[1], w, 4), 1);
	assert_int_equal(w[0].id, 1);
	/* a DC without an escrow is not asked for anything */
	assert_int_equal(cw_escrow_pick(f->e[0], 1, w, 4), 0);
}

static void
a_grant_is_once_per_request_and_never_more_than_held(void **state)
{
	fx             *f = *state;
	int64_t         g;
	cw_want         w[4];
	cw_escrow_stats st;
	assert_int_equal(add(f, 0, 100), 0);
	ship(f, 0, 1);
	assert_int_equal(add(f, 1, -10), CW_ENORIGHTS);
	/* amount 10 and a margin of 16 */
	assert_int_equal(grant(f, 1, 10, 1, false), 26);
	assert_int_equal(rights(f, 0, 0), 74);
	/* the same request again (a resent batch): served already */
	assert_int_equal(grant(f, 1, 10, 1, false), 0);
	cw_escrow_figures(f->e[0], &st);
	assert_int_equal(st.grants, 1);
	assert_int_equal(st.moved, 26);
	/* the grant reaches DC 1: its want is met and forgotten */
	ship(f, 0, 1);
	assert_int_equal(rights(f, 1, 1), 26);
	assert_int_equal(cw_escrow_wants(f->e[1], w, 4), 0);
	assert_int_equal(add(f, 1, -10), 0);
	/* a new request (id 27: 26 received) in the background: at most
	 * half of what the granter holds */
	assert_int_equal(grant(f, 1, 1000, 27, true), 37);
	/* and an urgent one: everything held, never more */
	assert_int_equal(grant(f, 1, 1000, 64, false), 37);
	assert_int_equal(rights(f, 0, 0), 0);
	assert_int_equal(grant(f, 1, 1000, 101, false), 0);
	/* bad requests are refused, not granted */
	assert_int_equal(
	    grant(f, 0, 10, 500, false), CW_EINVAL); /* to itself */
	assert_int_equal(
	    grant(f, 3, 10, 500, false), CW_EINVAL); /* no such DC */
	assert_int_equal(
	    cw_escrow_grant(f->e[0], 1, K, 0, 10, 500, 16, false, &g),
	    CW_EINVAL);
	/* a key that is no bounded counter grants nothing */
	assert_int_equal(
	    cw_escrow_grant(f->e[0], 1, "none", 4, 10, 500, 16, false, &g), 0);
	assert_int_equal(g, 0);
}

static void
steady_spending_asks_ahead_of_need(void **state)
{
	fx     *f = *state;
	cw_want w[4];
	assert_int_equal(add(f, 1, 200), 0); /* DC 1's own rights */
	cw_escrow_tick(f->e[1]);
	for (int i = 0; i < 10; i++)
		assert_int_equal(add(f, 1, -10), 0);
	usleep(100 * 1000);
	/* 100 rights in 0.1 s: a rate of about 500/s smoothed, so three
	 * seconds of it are far more than the 100 left */
	cw_escrow_tick(f->e[1]);
	assert_int_equal(cw_escrow_wants(f->e[1], w, 4), 1);
	assert_true(w[0].background);
	assert_true(w[0].amount > 100);
	/* no refusal happened */
	cw_escrow_stats st;
	cw_escrow_figures(f->e[1], &st);
	assert_int_equal(st.refused, 0);
}

static void
without_its_escrow_the_engine_asks_nobody(void **state)
{
	fx             *f = *state;
	cw_escrow_stats st;
	cw_escrow_free(f->e[1]);
	f->e[1] = NULL;
	assert_int_equal(add(f, 1, -1), CW_ENORIGHTS); /* no hook, no crash */
	cw_escrow_figures(NULL, &st);
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.requests, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    a_refusal_asks_the_dc_with_the_most_rights, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    a_grant_is_once_per_request_and_never_more_than_held,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    steady_spending_asks_ahead_of_need, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    without_its_escrow_the_engine_asks_nobody, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
