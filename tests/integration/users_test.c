/*
 * users_test.c - users and roles (issue 17) against real causewayd
 * processes: no login, a wrong password and an unknown user (the same
 * CW_EAUTH); readonly, readwrite and admin; a user limited to a key
 * prefix; the system's keys; a deleted user's session; 1,000 failed
 * logins in a row while a logged-in client is served; users that survive
 * a restart and replicate, so a user added at DC 0 logs in at DC 2.
 */
#include "../unit/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "causeway.h"
#include "cluster.h"

struct one {
	char  *tmp;
	char   pw[300], url[64], tls[64], ca[320];
	dcproc d;
};

/* One DC with users on (admin's password in tmp/admin.pw), plain and
 * TLS client ports. */
static int
setup1(void **state)
{
	struct one *o = calloc(1, sizeof(*o));
	char        certs[200], crt[300], key[300], dir[300];
	if (o == NULL)
		return -1;
	o->tmp = lab_tmpdir("cwusers");
	snprintf(certs, sizeof(certs), "%s/certs", o->tmp);
	snprintf(o->pw, sizeof(o->pw), "%s/admin.pw", o->tmp);
	snprintf(o->ca, sizeof(o->ca), "%s/ca.crt", certs);
	snprintf(crt, sizeof(crt), "%s/dc-0.crt", certs);
	snprintf(key, sizeof(key), "%s/dc-0.key", certs);
	snprintf(
	    o->tls, sizeof(o->tls), "tls+tcp://127.0.0.1:%d", dc_free_port());
	snprintf(dir, sizeof(dir), "%s/dc0", o->tmp);
	if (lab_certs(certs, 1, false, NULL) != 0 ||
	    lab_write_secret(o->pw, "the-admin-pw") != 0)
		return -1;
	char *args[] = { "--listen", o->tls, "--tls-cert", crt, "--tls-key",
		key, "--tls-ca", o->ca, "--admin-password-file", o->pw,
		"--idle-timeout", "2000", NULL };
	if (dc_start(&o->d, dir, args) != 0)
		return -1;
	snprintf(o->url, sizeof(o->url), "%s", o->d.url);
	*state = o;
	return 0;
}

static int
teardown1(void **state)
{
	struct one *o  = *state;
	int         rc = dc_stop(&o->d) == 0 ? 0 : -1;
	lab_rmrf(o->tmp);
	free(o->tmp);
	free(o);
	return rc;
}

/* A session as user (NULL: none) with password pw, over TLS or plain.
 * Returns what cw_connect_opts returns. */
static int
login(
    struct one *o, bool tls, const char *user, const char *pw, cw_client **out)
{
	cw_connect_options co = {
		.ca_file = o->ca, .user = user, .password = pw
	};
	*out = NULL;
	return cw_connect_opts(out, tls ? o->tls : o->url, &co);
}

static cw_client *
admin(struct one *o)
{
	cw_client *c;
	assert_int_equal(login(o, true, "admin", "the-admin-pw", &c), 0);
	return c;
}

/* Commits a put of k=v in one transaction with a put of k2 (NULL:
 * none). Returns the commit's result. */
static int
put2(cw_client *c, const char *k, const char *k2)
{
	cw_txn *t;
	int     rc = cw_begin(c, &t);
	if (rc != 0)
		return rc;
	cw_reg_put(t, k, strlen(k), "v", 1);
	if (k2 != NULL)
		cw_reg_put(t, k2, strlen(k2), "v", 1);
	return cw_commit(t);
}

/* 1 if register k holds a value (read as admin). */
static int
present(struct one *o, const char *k)
{
	cw_client *c = admin(o);
	cw_txn    *t;
	void      *v = NULL;
	size_t     vl;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_reg_get(t, k, strlen(k), &v, &vl), 0);
	cw_abort(t);
	cw_close(c);
	free(v);
	return v != NULL;
}

static int
log_count(struct one *o, const char *what)
{
	int n = lab_count_lines(o->d.log, what);
	assert_true(n >= 0);
	return n;
}

static void
no_login_and_bad_passwords_get_eauth_and_nothing_is_applied(void **state)
{
	struct one *o = *state;
	cw_client  *c;
	cw_txn     *t;
	cw_dc_info  s;
	/* a session that did not log in: every call refused */
	assert_int_equal(cw_connect(&c, o->url), 0);
	assert_int_equal(cw_dc_status(c, &s), CW_EAUTH);
	assert_int_equal(put2(c, "k", NULL), CW_EAUTH);
	cw_close(c);
	assert_int_equal(login(o, true, NULL, NULL, &c), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	void  *v;
	size_t vl;
	assert_int_equal(cw_reg_get(t, "k", 1, &v, &vl), CW_EAUTH);
	cw_abort(t);
	cw_close(c);
	/* a wrong password and an unknown user: the same answer */
	assert_int_equal(login(o, true, "admin", "wrong", &c), CW_EAUTH);
	assert_null(c);
	usleep(150 * 1000); /* past the wait a failure sets */
	assert_int_equal(
	    login(o, false, "nobody", "the-admin-pw", &c), CW_EAUTH);
	/* even the right password waits out the failures' delay (200 ms
	 * after two in a row from this address; a try too soon is a
	 * failure too: 400 ms) */
	assert_int_equal(
	    login(o, true, "admin", "the-admin-pw", &c), CW_EAUTH);
	usleep(500 * 1000);
	assert_int_equal(present(o, "k"), 0);
	assert_true(log_count(o, "refused") >= 1);
	c = admin(o);
	assert_int_equal(put2(c, "k", NULL), 0);
	cw_close(c);
	assert_int_equal(present(o, "k"), 1);
}

static void
roles_and_prefixes_are_enforced_before_anything_runs(void **state)
{
	struct one *o = *state;
	cw_client  *a = admin(o), *c;
	assert_int_equal(
	    cw_user_add(a, "viewer", "view-pw", CW_ROLE_READONLY, NULL), 0);
	assert_int_equal(
	    cw_user_add(a, "app", "app-pw", CW_ROLE_READWRITE, "fmk/"), 0);
	assert_int_equal(
	    cw_user_add(a, "bad name", "pw", CW_ROLE_ADMIN, NULL), CW_EINVAL);
	assert_int_equal(cw_user_add(a, "x", "pw", 9, NULL), CW_EINVAL);
	assert_int_equal(put2(a, "fmk/seen", NULL), 0);
	/* the users, by name */
	cw_user_info *u;
	size_t        n;
	assert_int_equal(cw_user_list(a, &u, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(u[0].name, "admin");
	assert_int_equal(u[0].role, CW_ROLE_ADMIN);
	assert_string_equal(u[1].name, "app");
	assert_int_equal(u[1].role, CW_ROLE_READWRITE);
	assert_string_equal(u[1].prefix, "fmk/");
	assert_string_equal(u[2].name, "viewer");
	assert_int_equal(u[2].role, CW_ROLE_READONLY);
	free(u);

	/* readonly: reads and status, no writes, no user management */
	assert_int_equal(login(o, true, "viewer", "view-pw", &c), 0);
	cw_txn    *t;
	void      *v = NULL;
	size_t     vl;
	cw_dc_info s;
	assert_int_equal(cw_dc_status(c, &s), 0);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_reg_get(t, "fmk/seen", 8, &v, &vl), 0);
	assert_non_null(v);
	free(v);
	assert_int_equal(cw_commit(t), 0); /* read-only: fine */
	assert_int_equal(put2(c, "ro-write", NULL), CW_EPERM);
	assert_int_equal(cw_user_list(c, &u, &n), CW_EPERM);
	assert_int_equal(cw_user_del(c, "app"), CW_EPERM);
	cw_close(c);
	assert_int_equal(present(o, "ro-write"), 0);

	/* a prefix: its keys only, and a transaction that strays is
	 * refused whole */
	assert_int_equal(login(o, false, "app", "app-pw", &c), 0);
	assert_int_equal(put2(c, "fmk/a", NULL), 0);
	assert_int_equal(put2(c, "fmk/b", "other"), CW_EPERM);
	assert_int_equal(put2(c, "other", NULL), CW_EPERM);
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_reg_get(t, "secret", 6, &v, &vl), CW_EPERM);
	cw_abort(t);
	assert_int_equal(
	    cw_user_add(c, "mine", "pw", CW_ROLE_ADMIN, NULL), CW_EPERM);
	cw_close(c);
	assert_int_equal(present(o, "fmk/a"), 1);
	assert_int_equal(present(o, "fmk/b"), 0);
	assert_int_equal(present(o, "other"), 0);

	/* the system's keys: not even an admin names them */
	assert_int_equal(put2(a,
	                     "\xff"
	                     "cw/users",
	                     NULL),
	    CW_EPERM);
	assert_int_equal(cw_begin(a, &t), 0);
	cw_list *fields = NULL;
	assert_int_equal(cw_map_fields(t,
	                     "\xff"
	                     "cw/users",
	                     9, &fields),
	    CW_EPERM);
	cw_abort(t);
	cw_list_free(fields);

	/* a deleted user's session ends (within a refresh: about a
	 * second), and it cannot log in again */
	assert_int_equal(login(o, true, "viewer", "view-pw", &c), 0);
	assert_int_equal(cw_dc_status(c, &s), 0);
	assert_int_equal(cw_user_del(a, "viewer"), 0);
	assert_int_equal(cw_user_del(a, "viewer"), CW_EINVAL);
	int rc = 0;
	for (int i = 0; i < 40 && rc == 0; i++) {
		rc = cw_dc_status(c, &s);
		usleep(100 * 1000);
	}
	assert_int_equal(rc, CW_EAUTH);
	cw_close(c);
	usleep(2100 * 1000); /* past the failure's wait */
	assert_int_equal(login(o, true, "viewer", "view-pw", &c), CW_EAUTH);
	cw_close(a);
}

struct storm {
	struct one  *o;
	int          n, refused;
	_Atomic bool done;
};

static void *
storm_main(void *arg)
{
	struct storm *st = arg;
	for (int i = 0; i < st->n; i++) {
		cw_client *c;
		st->refused +=
		    login(st->o, false, "admin", "guess", &c) == CW_EAUTH;
		cw_close(c);
	}
	atomic_store(&st->done, true);
	return NULL;
}

static void
a_thousand_failed_logins_leave_the_others_served(void **state)
{
	struct one *o = *state;
	cw_client  *c = admin(o);
	/* a session logged in before: served all along */
	struct storm st = { o, 1000, 0, false };
	pthread_t    th;
	double       t0 = lab_now_s();
	assert_int_equal(pthread_create(&th, NULL, storm_main, &st), 0);
	int    ok    = 0;
	double worst = 0;
	while (!atomic_load(&st.done) || ok < 50) {
		double  a = lab_now_s();
		cw_txn *t;
		assert_int_equal(cw_begin(c, &t), 0);
		assert_int_equal(cw_counter_add(t, "n", 1, 1), 0);
		assert_int_equal(cw_commit(t), 0);
		if (lab_now_s() - a > worst)
			worst = lab_now_s() - a;
		ok++;
	}
	pthread_join(th, NULL);
	double secs = lab_now_s() - t0;
	assert_int_equal(st.refused, 1000);
	/* nothing but the good client's commits was applied */
	cw_txn *t;
	int64_t n;
	assert_int_equal(cw_begin(c, &t), 0);
	assert_int_equal(cw_counter_get(t, "n", 1, &n), 0);
	assert_int_equal(n, ok);
	cw_abort(t);
	cw_close(c);
	/* the failures slowed the attacker down: most refused unhashed,
	 * and logged once a second at most */
	int lines = log_count(o, "refused");
	assert_true(lines >= 1);
	assert_true(lines <= (int) secs + 2);
	fprintf(stderr,
	    "# 1000 failed logins in %.1f s; %d commits of another session "
	    "meanwhile, the slowest %.0f ms; %d log lines\n",
	    secs, ok, worst * 1000, lines);
	/* and the right password works once the wait is over */
	usleep(2100 * 1000);
	c = admin(o);
	cw_close(c);
}

/* ---- users are data: a restart keeps them, they replicate ---- */

static void
a_user_added_at_dc0_logs_in_at_dc2_and_survives_a_restart(void **state)
{
	(void) state;
	cluster *cl;
	char    *extra[] = { "--session-wait", "500", NULL };
	assert_int_equal(cluster_start_tls(&cl, 3, extra), 0);
	cw_client *a;
	assert_int_equal(cluster_connect(cl, 0, &a), 0);
	assert_int_equal(
	    cw_user_add(a, "nurse", "nurse-pw", CW_ROLE_READWRITE, "rx/"), 0);
	cw_close(a);
	char ca[300];
	snprintf(ca, sizeof(ca), "%s/ca.crt", cl->certs);
	cw_connect_options co = {
		.ca_file = ca, .user = "nurse", .password = "nurse-pw"
	};
	/* at DC 2 once replicated */
	cw_client *c  = NULL;
	int        rc = CW_EAUTH;
	for (int i = 0; i < 100 && rc != 0; i++) {
		if ((rc = cw_connect_opts(&c, cl->tls_url[2], &co)) != 0)
			usleep(2100 * 1000 / 10 + 100 * 1000);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(put2(c, "rx/1", NULL), 0);
	assert_int_equal(put2(c, "patients/1", NULL), CW_EPERM);
	cw_close(c);
	/* a session at DC 0 across its restart: it logs in again by
	 * itself (a restarted DC knows no token) */
	assert_int_equal(cw_connect_opts(&c, cl->tls_url[0], &co), 0);
	assert_int_equal(put2(c, "rx/2", NULL), 0);
	assert_int_equal(dc_stop(&cl->d[0]), 0);
	assert_int_equal(dc_restart(&cl->d[0]), 0);
	cw_set_timeout(c, 20000);
	assert_int_equal(put2(c, "rx/3", NULL), 0);
	cw_close(c);
	assert_true(cluster_converged(cl, 30));
	assert_int_equal(cluster_stop(cl), 0);
}

int
main(void)
{
	dc_watchdog(300);
	if (getenv("CW_TEST") != NULL) /* one case: CW_TEST=pattern */
		cmocka_set_test_filter(getenv("CW_TEST"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    no_login_and_bad_passwords_get_eauth_and_nothing_is_applied,
		    setup1, teardown1),
		cmocka_unit_test_setup_teardown(
		    roles_and_prefixes_are_enforced_before_anything_runs,
		    setup1, teardown1),
		cmocka_unit_test_setup_teardown(
		    a_thousand_failed_logins_leave_the_others_served, setup1,
		    teardown1),
		cmocka_unit_test(
		    a_user_added_at_dc0_logs_in_at_dc2_and_survives_a_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
