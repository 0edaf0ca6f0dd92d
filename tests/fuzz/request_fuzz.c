/*
 * request_fuzz.c - libFuzzer target for causewayd's request path: the
 * FlatBuffers decoder and the handler, on a real engine in a temporary
 * directory (fsync off, short idle timeout). Every input must get a reply
 * that decodes, and nothing may crash, leak or trip a sanitizer.
 *
 *   make fuzz                      bounded run (FUZZ_SECONDS, default 60)
 *   build/tests/fuzz_replay FILES  replays inputs without libFuzzer (make
 *                                  test replays the corpus and regress/)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "schema.h"
#include "server.h"
#include "txn.h"

#include "lab.h"

static cw_server *srv;
static cw_db     *db;
static char      *dir;

static void
done(void)
{
	cw_server_free(srv);
	cw_db_close(db);
	lab_rmrf(dir);
	free(dir);
}

static void
init(void)
{
	cw_db_opts     o;
	cw_server_opts so;
	cw_log_set_level(CW_LOG_ERROR);
	dir = lab_tmpdir("cwtest");
	cw_db_opts_default(&o);
	o.sync = false;
	cw_server_opts_default(&so);
	so.idle_ms         = 100;
	so.session_wait_ms = 0;
	so.max_txns        = 256;
	if (cw_db_open(&db, dir, &o) != 0 || cw_server_new(&srv, db, &so) != 0)
		abort();
	atexit(done);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cw_buf out = { 0 };
	cw_rep rep;
	if (srv == NULL)
		init();
	if (cw_server_handle(srv, data, size, &out) != 0)
		abort(); /* only out of memory may fail */
	if (cw_schema_rep_decode(out.p, out.len, &rep) != 0)
		abort(); /* every reply must be a valid reply */
	cw_schema_rep_fini(&rep);
	cw_buf_fini(&out);
	return 0;
}
