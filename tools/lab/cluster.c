/*
 * cluster.c - N real DCs with a fault proxy on every directed link
 * (cluster.h).
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab.h"

/* Waits up to `seconds` until every DC reports an answer from every peer.
 */
/* A session at DC i's plain loopback URL, logged in if users are on. */
static int
plain_at(cluster *c, int i, cw_client **out)
{
	cw_connect_options o = { .user = "admin",
		.password_file         = c->admin_pw };
	return cw_connect_opts(out, c->d[i].url, c->tls ? &o : NULL);
}

static bool
links_up(cluster *c, int seconds)
{
	static cw_dc_info s;
	for (int t = 0; t < seconds * 100; t++) {
		bool up = true;
		for (int i = 0; i < c->n && up; i++) {
			cw_client *cl;
			if (plain_at(c, i, &cl) != 0)
				return false;
			up = cw_dc_status(cl, &s) == 0 && s.npeers == c->n - 1;
			for (int p = 0; up && p < s.npeers; p++)
				up = s.peers[p].up;
			cw_close(cl);
		}
		if (up)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

int
cluster_start(cluster **out, int n, char *const *extra)
{
	return cluster_start_full(out, n, extra, NULL, false);
}

int
cluster_start_tls(cluster **out, int n, char *const *extra)
{
	return cluster_start_full(out, n, extra, NULL, true);
}

int
cluster_start_each(
    cluster **out, int n, char *const *extra, char *const *const *per_dc)
{
	return cluster_start_full(out, n, extra, per_dc, false);
}

int
cluster_start_full(cluster **out, int n, char *const *extra,
    char *const *const *per_dc, bool tls)
{
	cluster    *c;
	const char *scheme = tls ? "tls+tcp" : "tcp";
	if (n < 1 || n > CL_MAX || (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->n   = n;
	c->tmp = lab_tmpdir("cwcluster");
	c->tls = tls;
	if (snprintf(c->certs, sizeof(c->certs), "%s/certs", c->tmp) >=
	    (int) sizeof(c->certs))
		goto fail;
	if (tls && lab_certs(c->certs, n, false, NULL) != 0) {
		fprintf(stderr, "cluster: cannot make certificates\n");
		goto fail;
	}
	snprintf(c->admin_pw, sizeof(c->admin_pw), "%s/admin.pw", c->tmp);
	if (tls && lab_write_secret(c->admin_pw, CL_ADMIN_PW) != 0)
		goto fail;
	for (int i = 0; i < n; i++)
		c->peer_port[i] = dc_free_port();
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (i != j &&
			    proxy_start(&c->x[i][j], c->peer_port[j]) != 0)
				goto fail;
	for (int i = 0; i < n; i++) {
		int a = 0, k = 0;
		snprintf(c->args[i][a], 300, "%d", i);
		c->argv[i][k++] = "--dc";
		c->argv[i][k++] = c->args[i][a++];
		snprintf(c->args[i][a], 300, "%s://127.0.0.1:%d", scheme,
		    c->peer_port[i]);
		c->argv[i][k++] = "--peer-listen";
		c->argv[i][k++] = c->args[i][a++];
		for (int j = 0; j < n; j++) {
			if (j == i)
				continue;
			snprintf(c->args[i][a], 300, "%d=%s://127.0.0.1:%d", j,
			    scheme, proxy_port(c->x[i][j]));
			c->argv[i][k++] = "--peer";
			c->argv[i][k++] = c->args[i][a++];
		}
		if (tls) {
			snprintf(c->tls_url[i], sizeof(c->tls_url[i]),
			    "tls+tcp://127.0.0.1:%d", dc_free_port());
			c->argv[i][k++] = "--listen";
			c->argv[i][k++] = c->tls_url[i];
		}
		if (tls) {
			c->argv[i][k++] = "--admin-password-file";
			c->argv[i][k++] = c->admin_pw;
		}
		static const char *const flag[] = { "--tls-cert", "--tls-key",
			"--tls-ca" };
		for (int f = 0; tls && f < 3; f++) {
			if (f < 2)
				snprintf(c->args[i][a], 300, "%s/dc-%d.%s",
				    c->certs, i, f == 0 ? "crt" : "key");
			else
				snprintf(
				    c->args[i][a], 300, "%s/ca.crt", c->certs);
			c->argv[i][k++] = (char *) flag[f];
			c->argv[i][k++] = c->args[i][a++];
		}
		for (int e = 0; extra != NULL && extra[e] != NULL; e++) {
			if (k >= 62)
				goto fail;
			c->argv[i][k++] = extra[e];
		}
		for (int e = 0; per_dc != NULL && per_dc[i] != NULL &&
		     per_dc[i][e] != NULL;
		     e++) {
			if (k >= 62)
				goto fail;
			c->argv[i][k++] = per_dc[i][e];
		}
		c->argv[i][k] = NULL;
		char dir[300];
		snprintf(dir, sizeof(dir), "%s/dc%d", c->tmp, i);
		if (dc_start(&c->d[i], dir, c->argv[i]) != 0)
			goto fail;
	}
	/* a DC answers clients before its links are up (its senders dial
	 * with a backoff of up to 0.5 s): a test that began at once could
	 * wait on a link that had not yet connected, which on a slow machine
	 * outlasted a begin's session wait */
	if (!links_up(c, 30)) {
		fprintf(stderr, "cluster: links not up within 30 s\n");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	cluster_stop(c);
	return -1;
}

int
cluster_connect(cluster *c, int i, cw_client **out)
{
	char ca[300];
	if (!c->tls)
		return cw_connect(out, c->d[i].url);
	snprintf(ca, sizeof(ca), "%s/ca.crt", c->certs);
	cw_connect_options o = {
		.ca_file = ca, .user = "admin", .password_file = c->admin_pw
	};
	return cw_connect_opts(out, c->tls_url[i], &o);
}

int
cluster_stop(cluster *c)
{
	int rc = 0;
	if (c == NULL)
		return 0;
	for (int i = 0; i < c->n; i++)
		if (c->d[i].pid > 0 && dc_stop(&c->d[i]) != 0) {
			fprintf(stderr, "DC %d did not stop cleanly\n", i);
			rc = -1;
		}
	for (int i = 0; i < c->n; i++)
		for (int j = 0; j < c->n; j++)
			if (c->x[i][j] != NULL)
				proxy_stop(c->x[i][j]);
	if (getenv("CW_KEEP") != NULL)
		fprintf(stderr, "cluster: kept %s (CW_KEEP)\n", c->tmp);
	else
		lab_rmrf(c->tmp);
	free(c->tmp);
	free(c);
	return rc;
}

void
cluster_cut(cluster *c, int a, int b, bool on)
{
	proxy_cut(c->x[a][b], on);
	proxy_cut(c->x[b][a], on);
}

void
cluster_isolate(cluster *c, int i, bool on)
{
	for (int j = 0; j < c->n; j++)
		if (j != i)
			cluster_cut(c, i, j, on);
}

void
cluster_delay(cluster *c, int a, int b, int ms)
{
	proxy_delay(c->x[a][b], ms);
	proxy_delay(c->x[b][a], ms);
}

void
cluster_lossy(cluster *c, int a, int b, int pct)
{
	proxy_lossy(c->x[a][b], pct);
	proxy_lossy(c->x[b][a], pct);
}

bool
cluster_converged(cluster *c, int seconds)
{
	static cw_dc_info s[CL_MAX];
	for (int t = 0; t < seconds * 20; t++) {
		bool same = true;
		for (int i = 0; i < c->n && same; i++) {
			cw_client *cl;
			if (plain_at(c, i, &cl) != 0) {
				same = false;
				break;
			}
			/* and all of it durable: a new session reads the
			 * durable state, which may lag the applied one by a
			 * sync (a test read one remote commit short) */
			same = cw_dc_status(cl, &s[i]) == 0 &&
			    !memcmp(
			        s[i].durable, s[i].state, sizeof(s[i].state));
			cw_close(cl);
		}
		for (int i = 1; i < c->n && same; i++)
			same = s[i].digest == s[0].digest &&
			    !memcmp(
			        s[i].state, s[0].state, sizeof(s[0].state));
		if (same)
			return true;
		usleep(50 * 1000);
	}
	for (int i = 0; i < c->n; i++) {
		fprintf(stderr, "DC %d: state [", i);
		for (int j = 0; j < c->n; j++)
			fprintf(stderr, "%s%llu", j ? "," : "",
			    (unsigned long long) s[i].state[j]);
		fprintf(stderr, "] digest %llx\n",
		    (unsigned long long) s[i].digest);
	}
	return false;
}
