/*
 * peers_test.c - the prescription app's other stores (fmk_store.h):
 * every operation the benchmark runs, with its precondition, against a
 * real PostgreSQL and a real Redis started from tools/peers.sh in a
 * temporary directory on free ports, and stopped by pid. Each test runs
 * on both stores from an empty database. The populated dataset must be
 * the one Causeway gets for the same seed.
 */
#include "../unit/testutil.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "causeway.h"
#include "dcproc.h"
#include "fmk.h"

static char *tmp;
static pid_t pg_pid, redis_pid;
static int   pg_port, redis_port;
static char  pg_url[128];

enum { PG, REDIS, NSTORES };
static const char *store_name[NSTORES] = { "postgresql", "redis" };

static int
wait_ready(const char *what, int port)
{
	char  p[16];
	char *argv[] = { "/bin/sh", "tools/peers.sh", "wait", (char *) what, p,
		NULL };
	snprintf(p, sizeof(p), "%d", port);
	return proc_wait(proc_spawn(argv, NULL), 60);
}

static int
start_peers(void **state)
{
	char dir[2][512], port[2][16], log[2][600];
	(void) state;
	tmp        = lab_tmpdir("cwtest");
	pg_port    = dc_free_port();
	redis_port = dc_free_port();
	snprintf(dir[0], sizeof(dir[0]), "%s/pg", tmp);
	snprintf(dir[1], sizeof(dir[1]), "%s/redis", tmp);
	snprintf(port[0], sizeof(port[0]), "%d", pg_port);
	snprintf(port[1], sizeof(port[1]), "%d", redis_port);
	snprintf(log[0], sizeof(log[0]), "%s/pg.log", tmp);
	snprintf(log[1], sizeof(log[1]), "%s/redis.log", tmp);
	char *pa[] = { "/bin/sh", "tools/peers.sh", "postgres", dir[0],
		port[0], NULL };
	char *ra[] = { "/bin/sh", "tools/peers.sh", "redis", dir[1], port[1],
		NULL };
	pg_pid     = proc_spawn(pa, log[0]);
	redis_pid  = proc_spawn(ra, log[1]);
	if (pg_pid < 0 || redis_pid < 0 || wait_ready("postgres", pg_port) ||
	    wait_ready("redis", redis_port)) {
		fprintf(stderr,
		    "peers_test: the servers did not start; see %s\n", tmp);
		return -1;
	}
	snprintf(pg_url, sizeof(pg_url),
	    "postgresql://fmk@127.0.0.1:%d/postgres", pg_port);
	return 0;
}

static int
stop_peers(void **state)
{
	(void) state;
	/* both exit 0 once they have shut down cleanly; SIGINT is
	 * PostgreSQL's fast shutdown, which ends open sessions */
	if (pg_pid > 0)
		kill(pg_pid, SIGINT);
	if (redis_pid > 0)
		kill(redis_pid, SIGTERM);
	int a = pg_pid > 0 ? proc_wait(pg_pid, 30) : 0;
	int b = redis_pid > 0 ? proc_wait(redis_pid, 30) : 0;
	lab_rmrf(tmp);
	free(tmp);
	return a == 0 && b == 0 ? 0 : -1;
}

/* An empty database. */
static void
wipe(int s)
{
	if (s == PG) {
		PGconn   *c = PQconnectdb(pg_url);
		PGresult *r = PQexec(c,
		    "SET client_min_messages = warning;"
		    "DROP TABLE IF EXISTS stock, prescriptions, patients,"
		    " pharmacies, staff, facilities, meta CASCADE");
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
		PQfinish(c);
	} else {
		redisContext *c = redisConnect("127.0.0.1", redis_port);
		assert_non_null(c);
		redisReply *r = redisCommand(c, "FLUSHALL");
		assert_non_null(r);
		freeReplyObject(r);
		redisFree(c);
	}
}

static fmk *
open_store(int s)
{
	fmk *f = NULL;
	int  rc;
	if (s == PG)
		rc = fmk_open_pg(&f, pg_url, NULL);
	else
		rc = fmk_open_redis(&f, "127.0.0.1", redis_port, NULL);
	if (rc != 0)
		fprintf(stderr, "%s: %s\n", store_name[s], fmk_strerror(rc));
	assert_int_equal(rc, 0);
	return f;
}

/* A fresh store with two patients, a pharmacy with `stock` units of each
 * of 3 drugs, a doctor (the meta and stock as populate writes them). */
static fmk *
small_world(int s, int64_t stock)
{
	wipe(s);
	fmk     *f = open_store(s);
	fmk_meta m = { .n = { 2, 1, 1, 0 }, .stock = stock, .ndrugs = 3 };
	assert_int_equal(fmk_meta_put(f, &m), 0);
	assert_int_equal(
	    fmk_create(f, FMK_PATIENT, 1, "Ann", "1 A St", NULL), 0);
	assert_int_equal(
	    fmk_create(f, FMK_PATIENT, 2, "Bo", "2 B St", NULL), 0);
	assert_int_equal(
	    fmk_create(f, FMK_PHARMACY, 1, "Apotek", "3 C St", NULL), 0);
	assert_int_equal(
	    fmk_create(f, FMK_STAFF, 1, "Dr Dahl", "4 D St", "cardiology"), 0);
	assert_int_equal(fmk_populate_batch(f, FMK_POP_STOCK, 1, 1, 1), 0);
	return f;
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
	for (int i = 0; i < ndrugs; i++) /* reversed: stores sort them */
		strcpy(p.drugs.name[i], fmk_drug_name(ndrugs - 1 - i));
	return p;
}

static void
entities(void **state)
{
	(void) state;
	for (int s = 0; s < NSTORES; s++) {
		fmk       *f = small_world(s, 10);
		fmk_entity e;
		assert_int_equal(
		    fmk_create(f, FMK_PATIENT, 1, "X", "Y", NULL), FMK_ETAKEN);
		assert_int_equal(fmk_get(f, FMK_PATIENT, 1, &e), 0);
		assert_int_equal(e.id, 1);
		assert_string_equal(e.name, "Ann");
		assert_string_equal(e.address, "1 A St");
		assert_int_equal(fmk_get(f, FMK_STAFF, 1, &e), 0);
		assert_string_equal(e.extra, "cardiology");
		assert_int_equal(
		    fmk_update(f, FMK_PATIENT, 1, "Ann B", "9 Z St", NULL), 0);
		assert_int_equal(fmk_get(f, FMK_PATIENT, 1, &e), 0);
		assert_string_equal(e.name, "Ann B");
		assert_string_equal(e.address, "9 Z St");
		assert_int_equal(fmk_update(f, FMK_FACILITY, 5, "H", "A", "x"),
		    FMK_ENOTFOUND);
		assert_int_equal(
		    fmk_get(f, FMK_PHARMACY, 99, &e), FMK_ENOTFOUND);
		assert_int_equal(
		    fmk_create(f, FMK_FACILITY, 5, "Rigshospitalet",
		        "Blegdamsvej", "hospital"),
		    0);
		assert_int_equal(fmk_get(f, FMK_FACILITY, 5, &e), 0);
		assert_string_equal(e.extra, "hospital");
		fmk_free(f);
	}
}

static void
prescriptions(void **state)
{
	(void) state;
	for (int s = 0; s < NSTORES; s++) {
		fmk             *f = small_world(s, 10);
		fmk_prescription p = rx(7, 2, 2), q;
		fmk_ids          l;
		fmk_drugs        d;
		p.patient = 3; /* no such patient */
		assert_int_equal(
		    fmk_create_prescription(f, &p), FMK_ENOTFOUND);
		p.patient = 2;
		assert_int_equal(fmk_create_prescription(f, &p), 0);
		assert_int_equal(fmk_create_prescription(f, &p), FMK_ETAKEN);
		/* in the three indexes, and nowhere else */
		fmk_kind k[3]  = { FMK_PATIENT, FMK_STAFF, FMK_PHARMACY };
		uint64_t id[3] = { 2, 1, 1 };
		for (int i = 0; i < 3; i++) {
			assert_int_equal(
			    fmk_prescriptions(f, k[i], id[i], &l), 0);
			assert_int_equal(l.n, 1);
			assert_int_equal(l.id[0], 7);
			fmk_ids_free(&l);
		}
		assert_int_equal(fmk_prescriptions(f, FMK_PATIENT, 1, &l), 0);
		assert_int_equal(l.n, 0);
		fmk_ids_free(&l);
		assert_int_equal(
		    fmk_prescriptions(f, FMK_PATIENT, 9, &l), FMK_ENOTFOUND);
		assert_int_equal(fmk_get_prescription(f, 7, &q), 0);
		assert_int_equal(q.patient, 2);
		assert_int_equal(q.prescriber, 1);
		assert_int_equal(q.pharmacy, 1);
		assert_false(q.processed);
		assert_string_equal(q.date_prescribed, "2026-11-23");
		assert_int_equal(q.drugs.n, 2);
		assert_string_equal(q.drugs.name[0], fmk_drug_name(0));
		assert_string_equal(q.drugs.name[1], fmk_drug_name(1));
		/* medication: adding one it has already changes nothing */
		fmk_drugs add = { 2, { "", "" } };
		strcpy(add.name[0], fmk_drug_name(1));
		strcpy(add.name[1], fmk_drug_name(2));
		assert_int_equal(fmk_update_medication(f, 7, &add), 0);
		assert_int_equal(fmk_get_medication(f, 7, &d), 0);
		assert_int_equal(d.n, 3);
		assert_string_equal(d.name[2], fmk_drug_name(2));
		assert_int_equal(fmk_get_medication(f, 8, &d), FMK_ENOTFOUND);
		assert_int_equal(
		    fmk_update_medication(f, 8, &add), FMK_ENOTFOUND);
		assert_int_equal(
		    fmk_get_prescription(f, 8, &q), FMK_ENOTFOUND);
		fmk_free(f);
	}
}

static void
processing(void **state)
{
	(void) state;
	for (int s = 0; s < NSTORES; s++) {
		fmk             *f = small_world(s, 1); /* one unit of each */
		fmk_prescription a = rx(1, 1, 2), b = rx(2, 2, 3), q;
		fmk_ids          l;
		assert_int_equal(fmk_create_prescription(f, &a), 0);
		assert_int_equal(fmk_create_prescription(f, &b), 0);
		assert_int_equal(fmk_process(f, 1, "2026-11-24"), 0);
		assert_int_equal(
		    fmk_process(f, 1, "2026-11-25"), FMK_EPROCESSED);
		assert_int_equal(
		    fmk_process(f, 9, "2026-11-25"), FMK_ENOTFOUND);
		assert_int_equal(fmk_get_prescription(f, 1, &q), 0);
		assert_true(q.processed);
		assert_string_equal(q.date_processed, "2026-11-24");
		fmk_drugs add = { 1, { "" } };
		strcpy(add.name[0], fmk_drug_name(2));
		assert_int_equal(
		    fmk_update_medication(f, 1, &add), FMK_EPROCESSED);
		/* drugs 0 and 1 are gone: b gets nothing, not even drug 2 */
		assert_int_equal(fmk_process(f, 2, "2026-11-24"), FMK_ESTOCK);
		assert_int_equal(fmk_get_prescription(f, 2, &q), 0);
		assert_false(q.processed);
		assert_int_equal(fmk_processed_prescriptions(f, 1, &l), 0);
		assert_int_equal(l.n, 1);
		assert_int_equal(l.id[0], 1);
		fmk_ids_free(&l);
		/* drug 2 alone is still there, once */
		fmk_prescription c = rx(3, 2, 1), d = rx(4, 2, 1);
		strcpy(c.drugs.name[0], fmk_drug_name(2));
		strcpy(d.drugs.name[0], fmk_drug_name(2));
		assert_int_equal(fmk_create_prescription(f, &c), 0);
		assert_int_equal(fmk_create_prescription(f, &d), 0);
		assert_int_equal(fmk_process(f, 3, "2026-11-24"), 0);
		assert_int_equal(fmk_process(f, 4, "2026-11-24"), FMK_ESTOCK);
		assert_int_equal(
		    fmk_supply(f, 1, fmk_drug_name(0), 1), FMK_ENOTSUP);
		fmk_free(f);
	}
}

struct racer {
	int      s, rc;
	uint64_t id;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	fmk          *f = open_store(r->s);
	r->rc           = fmk_process(f, r->id, "2026-11-24");
	fmk_free(f);
	return NULL;
}

static void
concurrent_processing_succeeds_once(void **state)
{
	(void) state;
	for (int s = 0; s < NSTORES; s++) {
		fmk *f = small_world(s, 100);
		for (uint64_t id = 1; id <= 10; id++) {
			fmk_prescription p = rx(id, 1 + id % 2, 2);
			assert_int_equal(fmk_create_prescription(f, &p), 0);
		}
		for (uint64_t id = 1; id <= 10; id++) {
			struct racer r[4];
			pthread_t    th[4];
			for (int i = 0; i < 4; i++) {
				r[i] = (struct racer) { s, -1, id };
				pthread_create(&th[i], NULL, race, &r[i]);
			}
			int ok = 0;
			for (int i = 0; i < 4; i++) {
				pthread_join(th[i], NULL);
				ok += r[i].rc == 0;
				/* the losers see it processed, or lost every
				 * retry to the winner */
				assert_true(r[i].rc == 0 ||
				    r[i].rc == FMK_EPROCESSED ||
				    r[i].rc == CW_ECONFLICT);
			}
			assert_int_equal(ok, 1);
		}
		fmk_free(f);
	}
}

/* The same seed gives every store the same dataset as Causeway. */
static void
populate_matches_causeway(void **state)
{
	(void) state;
	char      *dir = lab_tmpdir("cwtest");
	cw_client *c;
	fmk       *ref;
	assert_int_equal(cw_open_local(&c, dir), 0);
	assert_int_equal(fmk_open(&ref, c, NULL), 0);
	fmk_meta m = { .n      = { 50, 5, 10, 3 },
		.prescriptions = 40,
		.stock         = 7,
		.ndrugs        = 5 };
	fmk     *f[NSTORES + 1];
	f[NSTORES] = ref;
	for (int s = 0; s < NSTORES; s++) {
		wipe(s);
		f[s] = open_store(s);
		fmk_meta none;
		assert_int_equal(fmk_meta_get(f[s], &none), FMK_ENOTFOUND);
	}
	for (int s = 0; s <= NSTORES; s++) {
		assert_int_equal(fmk_meta_put(f[s], &m), 0);
		for (int k = 0; k < FMK_NKINDS; k++)
			for (uint64_t i = 1; i <= m.n[k]; i += 20)
				assert_int_equal(
				    fmk_populate_batch(f[s], k, i,
				        i + 19 <= m.n[k] ? 20 : m.n[k] - i + 1,
				        3),
				    0);
		assert_int_equal(
		    fmk_populate_batch(f[s], FMK_POP_PRESCRIPTIONS, 1, 40, 3),
		    0);
		assert_int_equal(
		    fmk_populate_batch(f[s], FMK_POP_STOCK, 1, 5, 3), 0);
		fmk_meta got;
		assert_int_equal(fmk_meta_get(f[s], &got), 0);
		assert_memory_equal(got.n, m.n, sizeof(m.n));
		assert_int_equal(got.prescriptions, 40);
		assert_int_equal(got.stock, 7);
		assert_int_equal(got.ndrugs, 5);
		assert_int_equal(got.done[FMK_PATIENT], 50);
		assert_int_equal(got.done[FMK_POP_PRESCRIPTIONS], 40);
		assert_int_equal(got.done[FMK_POP_STOCK], 5);
	}
	for (int s = 0; s < NSTORES; s++) {
		for (uint64_t id = 1; id <= 40; id++) {
			fmk_prescription a, b;
			assert_int_equal(fmk_get_prescription(ref, id, &a), 0);
			assert_int_equal(
			    fmk_get_prescription(f[s], id, &b), 0);
			assert_int_equal(a.patient, b.patient);
			assert_int_equal(a.prescriber, b.prescriber);
			assert_int_equal(a.pharmacy, b.pharmacy);
			assert_string_equal(
			    a.date_prescribed, b.date_prescribed);
			assert_int_equal(a.drugs.n, b.drugs.n);
			for (size_t i = 0; i < a.drugs.n; i++)
				assert_string_equal(
				    a.drugs.name[i], b.drugs.name[i]);
		}
		for (int k = 0; k < FMK_NKINDS; k++) {
			fmk_entity a, b;
			assert_int_equal(
			    fmk_get(ref, (fmk_kind) k, m.n[k], &a), 0);
			assert_int_equal(
			    fmk_get(f[s], (fmk_kind) k, m.n[k], &b), 0);
			assert_string_equal(a.name, b.name);
			assert_string_equal(a.address, b.address);
			assert_string_equal(a.extra, b.extra);
		}
		fmk_ids a, b;
		assert_int_equal(
		    fmk_prescriptions(ref, FMK_PHARMACY, 2, &a), 0);
		assert_int_equal(
		    fmk_prescriptions(f[s], FMK_PHARMACY, 2, &b), 0);
		assert_int_equal(a.n, b.n);
		if (a.n > 0)
			assert_memory_equal(a.id, b.id, a.n * sizeof(*a.id));
		fmk_ids_free(&a);
		fmk_ids_free(&b);
		fmk_free(f[s]);
	}
	fmk_free(ref);
	cw_close(c);
	lab_rmrf(dir);
	free(dir);
}

static void
unreachable_server_is_unavail(void **state)
{
	(void) state;
	fmk *f    = NULL;
	int  port = dc_free_port();
	char url[128];
	snprintf(
	    url, sizeof(url), "postgresql://fmk@127.0.0.1:%d/postgres", port);
	assert_int_equal(fmk_open_pg(&f, url, NULL), CW_EUNAVAIL);
	assert_int_equal(
	    fmk_open_redis(&f, "127.0.0.1", port, NULL), CW_EUNAVAIL);
}

int
main(void)
{
	dc_watchdog(300);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(entities),
		cmocka_unit_test(prescriptions),
		cmocka_unit_test(processing),
		cmocka_unit_test(concurrent_processing_succeeds_once),
		cmocka_unit_test(populate_matches_causeway),
		cmocka_unit_test(unreachable_server_is_unavail),
	};
	return cmocka_run_group_tests(tests, start_peers, stop_peers);
}
