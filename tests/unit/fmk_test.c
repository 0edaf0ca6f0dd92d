/*
 * fmk_test.c - every operation of the prescription app (examples/
 * prescriptions) against an embedded engine, each with its precondition
 * and invariant, and the test-only broken variants, which the check must
 * catch.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "causeway.h"
#include "fmk.h"

typedef struct {
	char      *dir;
	cw_client *c;
	fmk       *f;
} env;

static int
setup(void **state)
{
	env *e = calloc(1, sizeof(*e));
	e->dir = lab_tmpdir("cwtest");
	if (cw_open_local(&e->c, e->dir) != 0 || fmk_open(&e->f, e->c, NULL))
		return -1;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	env *e = *state;
	fmk_free(e->f);
	cw_close(e->c);
	lab_rmrf(e->dir);
	free(e->dir);
	free(e);
	return 0;
}

/* Two patients, a pharmacy with stock, a doctor. */
static void
small_world(fmk *f, int64_t stock)
{
	assert_int_equal(
	    fmk_create(f, FMK_PATIENT, 1, "Ann", "1 A St", NULL), 0);
	assert_int_equal(
	    fmk_create(f, FMK_PATIENT, 2, "Bo", "2 B St", NULL), 0);
	assert_int_equal(
	    fmk_create(f, FMK_PHARMACY, 1, "Apotek", "3 C St", NULL), 0);
	assert_int_equal(
	    fmk_create(f, FMK_STAFF, 1, "Dr Dahl", "4 D St", "cardiology"), 0);
	fmk_meta m = { .n = { 2, 1, 1, 0 }, .stock = stock, .ndrugs = 3 };
	assert_int_equal(fmk_meta_put(f, &m), 0);
	for (int d = 0; d < 3 && stock > 0; d++)
		assert_int_equal(fmk_supply(f, 1, fmk_drug_name(d), stock), 0);
}

static fmk_prescription
rx(uint64_t id, uint64_t patient, int ndrugs)
{
	fmk_prescription p;
	memset(&p, 0, sizeof(p));
	p.id         = id;
	p.patient    = patient;
	p.prescriber = 1;
	p.pharmacy   = 1;
	strcpy(p.date_prescribed, "2026-11-23");
	p.drugs.n = (size_t) ndrugs;
	for (int i = 0; i < ndrugs; i++)
		strcpy(p.drugs.name[i], fmk_drug_name(i));
	return p;
}

static void
check_ok(fmk *f)
{
	fmk_report r;
	assert_int_equal(fmk_check_dc(f, &r, NULL, NULL), 0);
	if (!fmk_report_ok(&r))
		fprintf(stderr,
		    "report: dangling %llu missing %llu orphan %llu "
		    "twice %llu token %llu neg %llu stock %llu\n",
		    (unsigned long long) r.dangling,
		    (unsigned long long) r.missing_index,
		    (unsigned long long) r.orphan_index,
		    (unsigned long long) r.processed_twice,
		    (unsigned long long) r.token_mismatch,
		    (unsigned long long) r.stock_negative,
		    (unsigned long long) r.stock_mismatch);
	assert_true(fmk_report_ok(&r));
}

static void
entities_create_update_get(void **state)
{
	env       *e = *state;
	fmk_entity x;
	assert_int_equal(fmk_get(e->f, FMK_STAFF, 1, &x), FMK_ENOTFOUND);
	assert_int_equal(
	    fmk_update(e->f, FMK_STAFF, 1, "a", "b", "c"), FMK_ENOTFOUND);
	for (int k = 0; k < FMK_NKINDS; k++) {
		assert_int_equal(
		    fmk_create(e->f, k, 7, "Name", "Addr", "X"), 0);
		assert_int_equal(
		    fmk_create(e->f, k, 7, "Other", "Addr", NULL), FMK_ETAKEN);
		assert_int_equal(fmk_get(e->f, k, 7, &x), 0);
		assert_int_equal(x.id, 7);
		assert_string_equal(x.name, "Name");
		assert_string_equal(x.address, "Addr");
		assert_string_equal(
		    x.extra, k == FMK_STAFF || k == FMK_FACILITY ? "X" : "");
		assert_int_equal(
		    fmk_update(e->f, k, 7, "New", "Street 9", "Y"), 0);
		assert_int_equal(fmk_get(e->f, k, 7, &x), 0);
		assert_string_equal(x.name, "New");
		assert_string_equal(x.address, "Street 9");
	}
	/* an empty name is a name; an entity's kind is part of its key */
	assert_int_equal(fmk_create(e->f, FMK_PATIENT, 8, "", "", NULL), 0);
	assert_int_equal(fmk_get(e->f, FMK_PATIENT, 8, &x), 0);
	assert_int_equal(fmk_get(e->f, FMK_PHARMACY, 8, &x), FMK_ENOTFOUND);
	/* bad input */
	char big[FMK_TEXT_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(
	    fmk_create(e->f, FMK_PATIENT, 9, big, "a", NULL), CW_EINVAL);
	assert_int_equal(
	    fmk_create(e->f, FMK_NKINDS, 9, "a", "a", NULL), CW_EINVAL);
	assert_int_equal(fmk_get(e->f, FMK_PATIENT, 9, &x), FMK_ENOTFOUND);
	fmk_ids l;
	assert_int_equal(
	    fmk_prescriptions(e->f, FMK_FACILITY, 7, &l), CW_EINVAL);
}

static void
create_prescription_is_one_joint_update(void **state)
{
	env             *e = *state;
	fmk_prescription p = rx(10, 1, 2), q;
	fmk_ids          l;
	small_world(e->f, 5);
	/* preconditions: every reference exists, nothing written otherwise */
	p.patient = 3;
	assert_int_equal(fmk_create_prescription(e->f, &p), FMK_ENOTFOUND);
	p.patient    = 1;
	p.prescriber = 2;
	assert_int_equal(fmk_create_prescription(e->f, &p), FMK_ENOTFOUND);
	p.prescriber = 1;
	p.pharmacy   = 2;
	assert_int_equal(fmk_create_prescription(e->f, &p), FMK_ENOTFOUND);
	p.pharmacy = 1;
	assert_int_equal(fmk_get_prescription(e->f, 10, &q), FMK_ENOTFOUND);
	check_ok(e->f);
	p.drugs.n = 0;
	assert_int_equal(fmk_create_prescription(e->f, &p), CW_EINVAL);
	p.drugs.n = 2;
	strcpy(p.drugs.name[1], "a,b");
	assert_int_equal(fmk_create_prescription(e->f, &p), CW_EINVAL);
	p = rx(10, 1, 2);

	assert_int_equal(fmk_create_prescription(e->f, &p), 0);
	assert_int_equal(fmk_create_prescription(e->f, &p), FMK_ETAKEN);
	assert_int_equal(fmk_get_prescription(e->f, 10, &q), 0);
	assert_int_equal(q.patient, 1);
	assert_int_equal(q.prescriber, 1);
	assert_int_equal(q.pharmacy, 1);
	assert_false(q.processed);
	assert_int_equal(q.drugs.n, 2);
	/* in all three indexes */
	const fmk_kind owners[] = { FMK_PATIENT, FMK_STAFF, FMK_PHARMACY };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fmk_prescriptions(e->f, owners[i], 1, &l), 0);
		assert_int_equal(l.n, 1);
		assert_int_equal(l.id[0], 10);
		fmk_ids_free(&l);
	}
	assert_int_equal(fmk_prescriptions(e->f, FMK_PATIENT, 2, &l), 0);
	assert_int_equal(l.n, 0);
	fmk_ids_free(&l);
	assert_int_equal(
	    fmk_prescriptions(e->f, FMK_PATIENT, 99, &l), FMK_ENOTFOUND);
	assert_int_equal(fmk_audit(e->f, 10), 0);
	assert_int_equal(fmk_audit(e->f, 11), 0); /* not visible: fine */
	check_ok(e->f);
}

static void
medication_read_and_update(void **state)
{
	env             *e = *state;
	fmk_prescription p = rx(20, 2, 1);
	fmk_drugs        d, add = { 2, { "insulin", "amoxicillin" } };
	small_world(e->f, 5);
	assert_int_equal(fmk_get_medication(e->f, 20, &d), FMK_ENOTFOUND);
	assert_int_equal(fmk_update_medication(e->f, 20, &add), FMK_ENOTFOUND);
	assert_int_equal(fmk_create_prescription(e->f, &p), 0);
	assert_int_equal(fmk_update_medication(e->f, 20, &add), 0);
	assert_int_equal(fmk_get_medication(e->f, 20, &d), 0);
	assert_int_equal(d.n, 2); /* amoxicillin was there: a set */
	assert_string_equal(d.name[0], "amoxicillin");
	assert_string_equal(d.name[1], "insulin");
	assert_int_equal(fmk_process(e->f, 20, "2026-11-24"), FMK_ESTOCK);
	assert_int_equal(fmk_supply(e->f, 1, "insulin", 1), 0);
	assert_int_equal(fmk_process(e->f, 20, "2026-11-24"), 0);
	/* FMKe: no medication changes once processed */
	assert_int_equal(
	    fmk_update_medication(e->f, 20, &add), FMK_EPROCESSED);
	check_ok(e->f);
}

static void
process_spends_token_and_stock_once(void **state)
{
	env             *e = *state;
	fmk_prescription p = rx(30, 1, 3), q;
	int64_t          s;
	fmk_ids          l;
	small_world(e->f, 1);
	assert_int_equal(fmk_process(e->f, 30, "2026-11-24"), FMK_ENOTFOUND);
	assert_int_equal(fmk_create_prescription(e->f, &p), 0);
	p = rx(31, 2, 1);
	assert_int_equal(fmk_create_prescription(e->f, &p), 0);
	assert_int_equal(fmk_processed_prescriptions(e->f, 1, &l), 0);
	assert_int_equal(l.n, 0);
	fmk_ids_free(&l);
	assert_int_equal(fmk_process(e->f, 30, "2026-11-24"), 0);
	assert_int_equal(fmk_process(e->f, 30, "2026-11-25"), FMK_EPROCESSED);
	assert_int_equal(fmk_get_prescription(e->f, 30, &q), 0);
	assert_true(q.processed);
	assert_string_equal(q.date_processed, "2026-11-24");
	for (int d = 0; d < 3; d++) {
		assert_int_equal(fmk_stock(e->f, 1, fmk_drug_name(d), &s), 0);
		assert_int_equal(s, 0);
	}
	/* out of stock: nothing delivered, the token still unspent */
	assert_int_equal(fmk_process(e->f, 31, "2026-11-24"), FMK_ESTOCK);
	assert_int_equal(fmk_get_prescription(e->f, 31, &q), 0);
	assert_false(q.processed);
	assert_int_equal(fmk_processed_prescriptions(e->f, 1, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.id[0], 30);
	fmk_ids_free(&l);
	check_ok(e->f);
	assert_int_equal(fmk_supply(e->f, 1, fmk_drug_name(0), 2), 0);
	assert_int_equal(
	    fmk_supply(e->f, 9, fmk_drug_name(0), 2), FMK_ENOTFOUND);
	assert_int_equal(fmk_process(e->f, 31, "2026-11-26"), 0);
	assert_int_equal(fmk_stock(e->f, 1, fmk_drug_name(0), &s), 0);
	assert_int_equal(s, 1);
	check_ok(e->f);
}

struct racer {
	cw_client *c;
	uint64_t   id;
	int        rc;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	fmk          *f;
	if (fmk_open(&f, r->c, NULL) != 0) {
		r->rc = CW_ENOMEM;
		return NULL;
	}
	r->rc = fmk_process(f, r->id, "2026-11-24");
	fmk_free(f);
	return NULL;
}

static void
concurrent_processing_succeeds_once(void **state)
{
	env *e = *state;
	small_world(e->f, 100);
	for (uint64_t id = 40; id < 50; id++) {
		fmk_prescription p = rx(id, 1 + id % 2, 2);
		assert_int_equal(fmk_create_prescription(e->f, &p), 0);
		struct racer r[4];
		pthread_t    th[4];
		for (int i = 0; i < 4; i++) {
			r[i] = (struct racer) { e->c, id, 0 };
			assert_int_equal(
			    pthread_create(&th[i], NULL, race, &r[i]), 0);
		}
		int ok = 0;
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			ok += r[i].rc == 0;
			/* the losers see it processed, or lose the token */
			assert_true(r[i].rc == 0 ||
			    r[i].rc == FMK_EPROCESSED ||
			    r[i].rc == CW_ENORIGHTS ||
			    r[i].rc == CW_ECONFLICT);
		}
		assert_int_equal(ok, 1);
	}
	int64_t s;
	assert_int_equal(fmk_stock(e->f, 1, fmk_drug_name(0), &s), 0);
	assert_int_equal(s, 90);
	check_ok(e->f);
}

static void
populate_is_resumable_and_checks(void **state)
{
	env     *e = *state;
	fmk_meta m = { .n      = { 50, 5, 10, 3 },
		.prescriptions = 40,
		.stock         = 7,
		.ndrugs        = 4 },
	         g;
	assert_int_equal(fmk_meta_get(e->f, &g), FMK_ENOTFOUND);
	assert_int_equal(fmk_meta_put(e->f, &m), 0);
	/* an interrupted populate: only part of each kind */
	assert_int_equal(fmk_populate_batch(e->f, FMK_PATIENT, 1, 20, 5), 0);
	assert_int_equal(fmk_meta_get(e->f, &g), 0);
	assert_int_equal(g.done[FMK_PATIENT], 20);
	assert_int_equal(g.n[FMK_PATIENT], 50);
	assert_int_equal(g.prescriptions, 40);
	assert_int_equal(g.stock, 7);
	assert_int_equal(g.ndrugs, 4);
	assert_int_equal(fmk_populate_batch(e->f, FMK_PATIENT, 21, 30, 5), 0);
	for (int k = 1; k < FMK_NKINDS; k++)
		assert_int_equal(fmk_populate_batch(e->f, k, 1, m.n[k], 5), 0);
	assert_int_equal(
	    fmk_populate_batch(e->f, FMK_POP_PRESCRIPTIONS, 1, 25, 5), 0);
	assert_int_equal(
	    fmk_populate_batch(e->f, FMK_POP_PRESCRIPTIONS, 26, 15, 5), 0);
	assert_int_equal(fmk_populate_batch(e->f, FMK_POP_STOCK, 1, 5, 5), 0);
	assert_int_equal(fmk_meta_get(e->f, &g), 0);
	assert_int_equal(g.done[FMK_POP_PRESCRIPTIONS], 40);
	assert_int_equal(g.done[FMK_POP_STOCK], 5);
	fmk_report r;
	assert_int_equal(fmk_check_dc(e->f, &r, NULL, NULL), 0);
	assert_true(fmk_report_ok(&r));
	assert_int_equal(r.prescriptions, 40);
	assert_int_equal(r.stock_keys, 5 * 4);
	assert_int_equal(r.entities_checked, 50 + 5 + 10);
	/* the same seed gives the same data */
	fmk_entity a;
	assert_int_equal(fmk_get(e->f, FMK_PATIENT, 33, &a), 0);
	assert_true(strlen(a.name) > 0);
	fmk_prescription p;
	assert_int_equal(fmk_get_prescription(e->f, 40, &p), 0);
	assert_true(p.patient >= 1 && p.patient <= 50);
	assert_true(p.drugs.n >= 1 && p.drugs.n <= 3);
	assert_int_equal(
	    fmk_populate_batch(e->f, FMK_POP_STOCK + 1, 1, 1, 5), CW_EINVAL);
}

/* The check can fail: each broken variant is caught. */
static void
check_catches_a_torn_create(void **state)
{
	env     *e = *state;
	fmk_opts o = {
		.wait_ms = 0, .retries = 3, .broken = FMK_BROKEN_SPLIT_CREATE
	};
	fmk *bad;
	small_world(e->f, 5);
	assert_int_equal(fmk_open(&bad, e->c, &o), 0);
	for (uint64_t id = 100; id < 164; id++) {
		fmk_prescription p = rx(id, 1, 1);
		assert_int_equal(fmk_create_prescription(bad, &p), 0);
	}
	fmk_free(bad);
	fmk_report r;
	assert_int_equal(fmk_check_dc(e->f, &r, NULL, NULL), 0);
	assert_false(fmk_report_ok(&r));
	assert_int_equal(r.missing_index, 2 * 3); /* 2 of 64, 3 indexes */
	assert_int_equal(r.dangling, 0);
	assert_int_equal(r.first_bad, 131);
	assert_int_equal(fmk_audit(e->f, 131), 3);
	assert_int_equal(fmk_audit(e->f, 130), 0);
}

static void
check_catches_processing_without_token(void **state)
{
	env     *e = *state;
	fmk_opts o = {
		.wait_ms = 0, .retries = 3, .broken = FMK_BROKEN_NO_TOKEN
	};
	fmk *bad;
	small_world(e->f, 5);
	fmk_prescription p = rx(200, 1, 1);
	assert_int_equal(fmk_create_prescription(e->f, &p), 0);
	assert_int_equal(fmk_open(&bad, e->c, &o), 0);
	assert_int_equal(fmk_process(bad, 200, "2026-11-24"), 0);
	fmk_free(bad);
	fmk_report r;
	assert_int_equal(fmk_check_dc(e->f, &r, NULL, NULL), 0);
	assert_false(fmk_report_ok(&r));
	assert_int_equal(r.token_mismatch, 1);
	assert_int_equal(r.first_bad, 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    entities_create_update_get, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    create_prescription_is_one_joint_update, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    medication_read_and_update, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    process_spends_token_and_stock_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    concurrent_processing_succeeds_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    populate_is_resumable_and_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    check_catches_a_torn_create, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    check_catches_processing_without_token, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
