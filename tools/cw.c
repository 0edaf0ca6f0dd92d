/*
 * cw.c - the Causeway command line: talks to a causewayd through the SDK.
 *
 *   cw [--url URL] [--json] [--timeout MS] COMMAND [ARGS]
 *
 * One command is one transaction; `txn` runs several operations, separated
 * by a lone ",", in one transaction. Human output by default, one line per
 * read; --json prints one JSON document. On failure: a one-line error on
 * stderr and exit status 1 (2 for a usage error).
 *
 *   cw user add NAME --role ROLE [--password-file FILE] [--keys PREFIX]
 *   cw user del NAME
 *   cw user list
 *
 * manage the users (an admin's login: --user, --password-file).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "causeway.h"

static int json;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cw [--url URL] [--json] [--timeout MS] COMMAND [ARGS]\n"
	    "\n"
	    "  get KEY                  read a register\n"
	    "  put KEY VALUE            write a register\n"
	    "  add KEY DELTA            add to a counter\n"
	    "  counter KEY              read a counter\n"
	    "  badd KEY DELTA           add to a bounded counter (>= 0)\n"
	    "  bget KEY                 read a bounded counter\n"
	    "  rights KEY               this DC's rights on a bounded "
	    "counter\n"
	    "  sadd KEY ELEM            add to a set\n"
	    "  srem KEY ELEM            remove from a set\n"
	    "  contains KEY ELEM        is ELEM in the set\n"
	    "  members KEY              the members of a set\n"
	    "  map-put KEY FIELD VALUE  write a map field\n"
	    "  map-del KEY FIELD        remove a map field\n"
	    "  map-get KEY FIELD        read a map field\n"
	    "  fields KEY               the fields of a map\n"
	    "  txn OP ARGS , OP ARGS ...  several operations, one "
	    "transaction\n"
	    "  status                   the DC's id and state vector\n"
	    "  user add NAME --role ROLE [--password-file FILE] [--keys "
	    "PREFIX]\n"
	    "                           add a user (ROLE: readonly,\n"
	    "                           readwrite or admin; the password is\n"
	    "                           the file's first line, or stdin's;\n"
	    "                           PREFIX: the only keys it may name)\n"
	    "  user del NAME            delete a user\n"
	    "  user list                the users\n"
	    "\n"
	    "  --url URL      causewayd to talk to (default $CW_URL or\n"
	    "                 tcp://127.0.0.1:7400)\n"
	    "  --json         JSON output\n"
	    "  --timeout MS   per-call timeout (default 5000)\n"
	    "  --ca FILE      for tls+tcp:// URLs: the CA that signed the\n"
	    "                 server's certificate (default $CW_CA)\n"
	    "  --cert FILE    a client certificate to present (default\n"
	    "                 $CW_CERT), with\n"
	    "  --key FILE     its key (default $CW_KEY)\n"
	    "  --user NAME    log in as this user (default $CW_USER), with\n"
	    "  --password-file FILE\n"
	    "                 the password on its first line (default:\n"
	    "                 $CW_PASSWORD)\n");
}

static void
print_bytes(FILE *f, const void *p, size_t n)
{
	const unsigned char *s = p;
	if (json)
		fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = s[i];
		if (json && (ch == '"' || ch == '\\'))
			fprintf(f, "\\%c", ch);
		else if (ch >= 0x20 && ch < 0x7f)
			fputc(ch, f);
		else if (json)
			fprintf(f, "\\u%04x", ch);
		else
			fprintf(f, "\\x%02x", ch);
	}
	if (json)
		fputc('"', f);
}

struct cmd {
	const char *name;
	int         nargs;
	bool        read;
};

static const struct cmd cmds[] = {
	{ "get", 1, true },
	{ "put", 2, false },
	{ "add", 2, false },
	{ "counter", 1, true },
	{ "badd", 2, false },
	{ "bget", 1, true },
	{ "rights", 1, true },
	{ "sadd", 2, false },
	{ "srem", 2, false },
	{ "contains", 2, true },
	{ "members", 1, true },
	{ "map-put", 3, false },
	{ "map-del", 2, false },
	{ "map-get", 2, true },
	{ "fields", 1, true },
};

static const struct cmd *
find(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static int
number(const char *s, int64_t *out)
{
	char *end;
	errno       = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return CW_EINVAL;
	*out = v;
	return 0;
}

static void
print_list(const char *k, cw_list *l, int *nout)
{
	if (json) {
		printf("%s{\"key\":", *nout ? "," : "");
		print_bytes(stdout, k, strlen(k));
		printf(",\"items\":[");
		for (size_t i = 0; i < cw_list_len(l); i++) {
			size_t      n;
			const void *p = cw_list_at(l, i, &n);
			printf("%s", i ? "," : "");
			print_bytes(stdout, p, n);
		}
		printf("]}");
	} else {
		for (size_t i = 0; i < cw_list_len(l); i++) {
			size_t      n;
			const void *p = cw_list_at(l, i, &n);
			print_bytes(stdout, p, n);
			putchar('\n');
		}
	}
	(*nout)++;
}

static void
print_value(const char *k, const void *v, size_t vl, bool null, int *nout)
{
	if (json) {
		printf("%s{\"key\":", *nout ? "," : "");
		print_bytes(stdout, k, strlen(k));
		printf(",\"value\":");
		if (null)
			printf("null");
		else
			print_bytes(stdout, v, vl);
		printf("}");
	} else {
		if (null)
			printf("(nil)");
		else
			print_bytes(stdout, v, vl);
		putchar('\n');
	}
	(*nout)++;
}

static void
print_num(const char *k, int64_t n, int *nout)
{
	if (json) {
		printf("%s{\"key\":", *nout ? "," : "");
		print_bytes(stdout, k, strlen(k));
		printf(",\"value\":%" PRId64 "}", n);
	} else {
		printf("%" PRId64 "\n", n);
	}
	(*nout)++;
}

/* Runs one operation. */
static int
run(cw_txn *t, const struct cmd *c, char **a, int *nout)
{
	const char *k  = a[0];
	size_t      kl = strlen(k);
	int64_t     n;
	void       *v;
	size_t      vl;
	cw_list    *l;
	bool        in;
	int         rc;
	if (!strcmp(c->name, "get")) {
		if ((rc = cw_reg_get(t, k, kl, &v, &vl)) == 0)
			print_value(k, v, vl, v == NULL, nout);
		free(v);
		return rc;
	}
	if (!strcmp(c->name, "put"))
		return cw_reg_put(t, k, kl, a[1], strlen(a[1]));
	if (!strcmp(c->name, "add") || !strcmp(c->name, "badd")) {
		if (number(a[1], &n) != 0)
			return CW_EINVAL;
		return c->name[0] == 'a' ? cw_counter_add(t, k, kl, n)
		                         : cw_bcounter_add(t, k, kl, n);
	}
	if (!strcmp(c->name, "counter") || !strcmp(c->name, "bget") ||
	    !strcmp(c->name, "rights")) {
		rc = c->name[0] == 'c'  ? cw_counter_get(t, k, kl, &n)
		    : c->name[0] == 'b' ? cw_bcounter_get(t, k, kl, &n)
		                        : cw_bcounter_rights(t, k, kl, &n);
		if (rc == 0)
			print_num(k, n, nout);
		return rc;
	}
	if (!strcmp(c->name, "sadd"))
		return cw_set_add(t, k, kl, a[1], strlen(a[1]));
	if (!strcmp(c->name, "srem"))
		return cw_set_remove(t, k, kl, a[1], strlen(a[1]));
	if (!strcmp(c->name, "contains")) {
		if ((rc = cw_set_contains(
		         t, k, kl, a[1], strlen(a[1]), &in)) == 0)
			print_num(k, in, nout);
		return rc;
	}
	if (!strcmp(c->name, "members") || !strcmp(c->name, "fields")) {
		rc = c->name[0] == 'm' ? cw_set_members(t, k, kl, &l)
		                       : cw_map_fields(t, k, kl, &l);
		if (rc == 0)
			print_list(k, l, nout);
		cw_list_free(l);
		return rc;
	}
	if (!strcmp(c->name, "map-put"))
		return cw_map_put(t, k, kl, a[1], a[2], strlen(a[2]));
	if (!strcmp(c->name, "map-del"))
		return cw_map_remove(t, k, kl, a[1]);
	if (!strcmp(c->name, "map-get")) {
		if ((rc = cw_map_get(t, k, kl, a[1], &v, &vl)) == 0)
			print_value(k, v, vl, v == NULL, nout);
		free(v);
		return rc;
	}
	return CW_EINVAL;
}

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "cw: %s: %s (%s)\n", what, cw_strerror(rc),
	    cw_errname(rc));
	return 1;
}

static void
print_vec(const uint64_t *v, int n)
{
	printf("[");
	for (int k = 0; k < n; k++)
		printf("%s%" PRIu64, k ? "," : "", v[k]);
	printf("]");
}

static int
status(cw_client *c)
{
	static cw_dc_info s; /* 34 KiB: not on the stack */
	int               rc = cw_dc_status(c, &s);
	if (rc != 0)
		return fail("status", rc);
	if (json) {
		printf("{\"dc\":%d,\"ndc\":%d,\"state\":", s.dc, s.ndc);
		print_vec(s.state, s.ndc);
		printf(",\"durable\":");
		print_vec(s.durable, s.ndc);
		printf(",\"digest\":\"%016" PRIx64 "\"", s.digest);
		printf(",\"escrow\":{\"requests\":%" PRIu64
		       ",\"grants\":%" PRIu64 ",\"moved\":%" PRIu64
		       ",\"refused\":%" PRIu64 "}",
		    s.escrow_requests, s.escrow_grants, s.escrow_moved,
		    s.escrow_refused);
		printf(",\"requests\":%" PRIu64, s.requests);
		printf(",\"peers\":[");
		for (int i = 0; i < s.npeers; i++) {
			printf("%s{\"id\":%d,\"up\":%s,\"heard_ms_ago\":",
			    i ? "," : "", s.peers[i].id,
			    s.peers[i].up ? "true" : "false");
			if (s.peers[i].heard_ms_ago == UINT64_MAX)
				printf("null");
			else
				printf("%" PRIu64, s.peers[i].heard_ms_ago);
			printf(",\"acked\":");
			print_vec(s.peers[i].acked, s.ndc);
			printf(",\"behind\":%" PRIu64 ",\"lag_ms\":%" PRIu64
			       ",\"forwarded\":%" PRIu64 "}",
			    s.peers[i].behind, s.peers[i].lag_ms,
			    s.peers[i].forwarded);
		}
		printf("]}\n");
		return 0;
	}
	printf("dc %d of %d\nstate ", s.dc, s.ndc);
	print_vec(s.state, s.ndc);
	printf(", durable ");
	print_vec(s.durable, s.ndc);
	printf("\ndigest %016" PRIx64 "\n", s.digest);
	printf("escrow: %" PRIu64 " requests sent, %" PRIu64
	       " granted (%" PRIu64 " rights), %" PRIu64
	       " decrements refused\n",
	    s.escrow_requests, s.escrow_grants, s.escrow_moved,
	    s.escrow_refused);
	printf("requests served: %" PRIu64 "\n", s.requests);
	for (int i = 0; i < s.npeers; i++) {
		printf("peer %d: %s, ", s.peers[i].id,
		    s.peers[i].up ? "up" : "down");
		if (s.peers[i].heard_ms_ago == UINT64_MAX)
			printf("never heard");
		else
			printf("heard %" PRIu64 " ms ago",
			    s.peers[i].heard_ms_ago);
		printf(", acked ");
		print_vec(s.peers[i].acked, s.ndc);
		printf(", behind %" PRIu64 ", lag %" PRIu64
		       " ms, forwarded %" PRIu64 "\n",
		    s.peers[i].behind, s.peers[i].lag_ms,
		    s.peers[i].forwarded);
	}
	return 0;
}

/* The first line of stdin, for `user add` without --password-file. */
static int
password_stdin(char *pw, size_t n)
{
	if (isatty(0))
		fprintf(stderr, "password: ");
	if (fgets(pw, (int) n, stdin) == NULL)
		return -1;
	pw[strcspn(pw, "\r\n")] = '\0';
	return pw[0] != '\0' ? 0 : -1;
}

/* cw user add|del|list. */
static int
user_cmd(const char *url, const cw_connect_options *co, int timeout, int argc,
    char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "", *name = NULL;
	const char *role = NULL, *pwfile = NULL, *keys = NULL;
	char        pw[1025] = "";
	int         rc;
	bool        add = !strcmp(sub, "add"), del = !strcmp(sub, "del");
	if (!add && !del && strcmp(sub, "list") != 0) {
		fprintf(stderr, "cw: user add|del|list (see --help)\n");
		return 2;
	}
	int i = 1;
	if (add || del) {
		if (argc < 2 || argv[1][0] == '-') {
			fprintf(stderr, "cw: user %s NAME\n", sub);
			return 2;
		}
		name = argv[i++];
	}
	for (; i < argc; i++) {
		const char **to = NULL;
		if (add && !strcmp(argv[i], "--role"))
			to = &role;
		else if (add && !strcmp(argv[i], "--password-file"))
			to = &pwfile;
		else if (add && !strcmp(argv[i], "--keys"))
			to = &keys;
		if (to == NULL || i + 1 >= argc) {
			fprintf(stderr, "cw: user %s: unexpected '%s'\n", sub,
			    argv[i]);
			return 2;
		}
		*to = argv[++i];
	}
	if (add && cw_role_of(role) == 0) {
		fprintf(stderr,
		    "cw: user add needs --role readonly, readwrite or "
		    "admin\n");
		return 2;
	}
	if (add) {
		FILE *f = pwfile ? fopen(pwfile, "r") : NULL;
		if (pwfile != NULL && f == NULL) {
			fprintf(stderr, "cw: cannot read %s: %s\n", pwfile,
			    strerror(errno));
			return 1;
		}
		if (f != NULL) {
			if (fgets(pw, sizeof(pw), f) == NULL)
				pw[0] = '\0';
			pw[strcspn(pw, "\r\n")] = '\0';
			fclose(f);
		} else if (password_stdin(pw, sizeof(pw)) != 0) {
			pw[0] = '\0';
		}
		if (pw[0] == '\0') {
			fprintf(stderr, "cw: user add: no password\n");
			return 1;
		}
	}
	cw_client *c;
	if ((rc = cw_connect_opts(&c, url, co)) != 0) {
		fprintf(stderr, "cw: cannot connect to %s: %s (%s)\n", url,
		    cw_strerror(rc), cw_errname(rc));
		return 1;
	}
	/* a user add hashes the password at the server: half a second */
	cw_set_timeout(c, timeout < 30000 ? 30000 : timeout);
	if (add) {
		rc = cw_user_add(c, name, pw, cw_role_of(role), keys);
		memset(pw, 0, sizeof(pw));
		if (rc == 0 && !json)
			printf("user %s added (%s%s%s)\n", name, role,
			    keys ? ", keys " : "", keys ? keys : "");
	} else if (del) {
		rc = cw_user_del(c, name);
		if (rc == 0 && !json)
			printf("user %s deleted\n", name);
	} else {
		cw_user_info *u;
		size_t        n;
		if ((rc = cw_user_list(c, &u, &n)) == 0) {
			if (json)
				printf("[");
			for (size_t k = 0; k < n; k++) {
				if (json) {
					printf("%s{\"name\":", k ? "," : "");
					print_bytes(stdout, u[k].name,
					    strlen(u[k].name));
					printf(",\"role\":\"%s\",\"keys\":",
					    cw_role_name(u[k].role));
					print_bytes(stdout, u[k].prefix,
					    strlen(u[k].prefix));
					printf("}");
				} else {
					printf("%-20s %-10s %s\n", u[k].name,
					    cw_role_name(u[k].role)
					        ? cw_role_name(u[k].role)
					        : "?",
					    u[k].prefix[0] ? u[k].prefix
					                   : "(every key)");
				}
			}
			if (json)
				printf("]\n");
			free(u);
		}
	}
	cw_close(c);
	if (rc != 0)
		return fail("user", rc);
	if (json && (add || del))
		printf("{\"ok\":true}\n");
	return 0;
}

int
main(int argc, char **argv)
{
	static struct option lo[] = {
		{ "url", 1, 0, 'u' },
		{ "json", 0, 0, 'j' },
		{ "timeout", 1, 0, 't' },
		{ "ca", 1, 0, 'C' },
		{ "cert", 1, 0, 'E' },
		{ "key", 1, 0, 'K' },
		{ "user", 1, 0, 'U' },
		{ "password-file", 1, 0, 'P' },
		{ "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	cw_connect_options co      = { .ca_file = getenv("CW_CA"),
		     .cert_file                 = getenv("CW_CERT"),
		     .key_file                  = getenv("CW_KEY"),
		     .user                      = getenv("CW_USER"),
		     .password                  = getenv("CW_PASSWORD") };
	const char        *url     = getenv("CW_URL");
	int                timeout = 5000;
	int                ch;
	while ((ch = getopt_long(argc, argv, "+u:jt:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'C':
			co.ca_file = optarg;
			break;
		case 'E':
			co.cert_file = optarg;
			break;
		case 'K':
			co.key_file = optarg;
			break;
		case 'U':
			co.user = optarg;
			break;
		case 'P':
			co.password_file = optarg;
			co.password      = NULL;
			break;
		case 't':
			timeout = atoi(optarg);
			if (timeout <= 0) {
				fprintf(stderr, "cw: bad --timeout\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (url == NULL)
		url = "tcp://127.0.0.1:7400";

	/* check the whole command line before connecting */
	const char *cmd  = argv[optind];
	int         from = optind, to = argc;
	bool        txn = !strcmp(cmd, "txn");
	if (!strcmp(cmd, "user"))
		return user_cmd(
		    url, &co, timeout, argc - optind - 1, argv + optind + 1);
	if (co.password != NULL || co.password_file != NULL) {
		if (co.user == NULL) {
			fprintf(stderr, "cw: a password needs --user\n");
			return 2;
		}
	}
	if (txn)
		from++;
	else if (strcmp(cmd, "status") != 0 && find(cmd) == NULL) {
		fprintf(
		    stderr, "cw: unknown command '%s' (see --help)\n", cmd);
		return 2;
	}
	for (int i = from; !txn || i < to;) {
		if (!strcmp(cmd, "status"))
			break;
		const struct cmd *c = find(argv[i]);
		if (c == NULL) {
			fprintf(
			    stderr, "cw: unknown operation '%s'\n", argv[i]);
			return 2;
		}
		int end = i + 1 + c->nargs;
		if (end > to ||
		    (end < to && (!txn || strcmp(argv[end], ",")))) {
			fprintf(stderr, "cw: %s takes %d argument%s\n",
			    c->name, c->nargs, c->nargs > 1 ? "s" : "");
			return 2;
		}
		if (!txn)
			break;
		i = end + 1;
	}

	cw_client *c;
	int        rc;
	if ((rc = cw_connect_opts(&c, url, &co)) != 0) {
		fprintf(stderr, "cw: cannot connect to %s: %s (%s)\n", url,
		    cw_strerror(rc), cw_errname(rc));
		return 1;
	}
	cw_set_timeout(c, timeout);
	if (!strcmp(cmd, "status")) {
		rc = status(c);
		cw_close(c);
		return rc;
	}
	cw_txn *t;
	int     nout = 0;
	if ((rc = cw_begin(c, &t)) != 0) {
		cw_close(c);
		return fail("begin", rc);
	}
	if (json)
		printf("[");
	for (int i = from; i < to;) {
		const struct cmd *op = find(argv[i]);
		if ((rc = run(t, op, &argv[i + 1], &nout)) != 0) {
			if (json)
				printf("]\n");
			cw_abort(t);
			cw_close(c);
			return fail(op->name, rc);
		}
		i += 2 + op->nargs;
	}
	rc = cw_commit(t);
	if (json)
		printf("]\n");
	cw_close(c);
	if (rc != 0)
		return fail("commit", rc);
	return 0;
}
