/*
 * seed.c - writes a few valid requests into a directory: the starting
 * corpus of the request fuzzer (one of every kind, every operation).
 */
#include <stdio.h>
#include <string.h>

#include "schema.h"

static int
emit(const char *dir, int n, cw_req *h, const cw_op *w, size_t nw,
    const cw_op *r, size_t nr)
{
	cw_buf b = { 0 };
	char   path[512];
	if (cw_schema_req_encode(h, w, nw, r, nr, &b) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/seed-%02d", dir, n);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(b.p, 1, b.len, f) != b.len)
		return 1;
	fclose(f);
	cw_buf_fini(&b);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seed DIR\n");
		return 2;
	}
	uint8_t to    = 0;
	uint8_t clk[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
	cw_op   w[]   = {
		    { CW_OP_REG_PUT, "r", 1, NULL, 0, "v", 1, 0 },
		    { CW_OP_COUNTER_ADD, "c", 1, NULL, 0, NULL, 0, 3 },
		    { CW_OP_BCOUNTER_ADD, "b", 1, NULL, 0, NULL, 0, 5 },
		    { CW_OP_BCOUNTER_ADD, "b", 1, NULL, 0, NULL, 0, -2 },
		    { CW_OP_BCOUNTER_TRANSFER, "b", 1, NULL, 0, &to, 1, 1 },
		    { CW_OP_SET_ADD, "s", 1, NULL, 0, "e", 1, 0 },
		    { CW_OP_SET_REMOVE, "s", 1, NULL, 0, "e", 1, 0 },
		    { CW_OP_MAP_PUT, "m", 1, "f", 1, "v", 1, 0 },
		    { CW_OP_MAP_REMOVE, "m", 1, "g", 1, NULL, 0, 0 },
	};
	cw_op r[] = {
		{ CW_OP_REG_GET, "r", 1, NULL, 0, NULL, 0, 0 },
		{ CW_OP_COUNTER_GET, "c", 1, NULL, 0, NULL, 0, 0 },
		{ CW_OP_BCOUNTER_GET, "b", 1, NULL, 0, NULL, 0, 0 },
		{ CW_OP_BCOUNTER_RIGHTS, "b", 1, NULL, 0, NULL, 0, 0 },
		{ CW_OP_SET_CONTAINS, "s", 1, NULL, 0, "e", 1, 0 },
		{ CW_OP_SET_MEMBERS, "s", 1, NULL, 0, NULL, 0, 0 },
		{ CW_OP_MAP_GET, "m", 1, "f", 1, NULL, 0, 0 },
		{ CW_OP_MAP_FIELDS, "m", 1, NULL, 0, NULL, 0, 0 },
	};
	cw_req h[] = {
		{ .kind = CW_REQ_COMMIT, .sid = 1, .rid = 1 },
		{ .kind       = CW_REQ_READ,
		    .sid      = 1,
		    .rid      = 2,
		    .clock    = clk,
		    .clocklen = sizeof(clk) },
		{ .kind = CW_REQ_READ, .txid = 1 },
		{ .kind = CW_REQ_COMMIT, .txid = 65537 },
		{ .kind = CW_REQ_ABORT, .txid = 65537 },
		{ .kind = CW_REQ_STATUS },
		{ .kind = CW_REQ_BEGIN, .sid = 2, .rid = 1 },
		{ .kind       = CW_REQ_AUTH,
		    .user     = "admin",
		    .userlen  = 5,
		    .password = "pw",
		    .pwlen    = 2 },
		{ .kind        = CW_REQ_USER,
		    .uop       = CW_UOP_ADD,
		    .user      = "app",
		    .userlen   = 3,
		    .password  = "pw",
		    .pwlen     = 2,
		    .role      = 2,
		    .prefix    = "fmk/",
		    .prefixlen = 4,
		    .token     = "0123456789abcdef",
		    .tokenlen  = 16 },
		{ .kind = CW_REQ_USER, .uop = CW_UOP_LIST },
		{ .kind       = CW_REQ_USER,
		    .uop      = CW_UOP_DEL,
		    .user     = "app",
		    .userlen  = 3,
		    .token    = "0123456789abcdef",
		    .tokenlen = 16 },
	};
	int n = 0, bad = 0;
	bad |= emit(argv[1], n++, &h[0], w, 9, r, 8);
	bad |= emit(argv[1], n++, &h[1], w, 3, r, 8);
	bad |= emit(argv[1], n++, &h[2], NULL, 0, r, 8);
	bad |= emit(argv[1], n++, &h[3], w + 5, 4, NULL, 0);
	bad |= emit(argv[1], n++, &h[4], NULL, 0, NULL, 0);
	bad |= emit(argv[1], n++, &h[5], NULL, 0, NULL, 0);
	bad |= emit(argv[1], n++, &h[6], NULL, 0, NULL, 0);
	for (int i = 7; i < 11; i++) /* logins and user management */
		bad |= emit(argv[1], n++, &h[i], NULL, 0, NULL, 0);
	return bad;
}
