/*
 * fmk_redis.c - the FMK operations on Redis through hiredis (fmk_store.h),
 * the key-value peer of the benchmark against peers.
 *
 * The key layout of FMKe's Redis driver: a hash per entity
 * ("patient_7" with fields patient_id, patient_name, patient_address),
 * a set per index ("patient_7_prescriptions" of "prescription_42"), a
 * prescription's drugs in one field joined by ";;". Stock, which FMKe
 * does not have, is one integer per pharmacy and drug ("stock_3_aspirin").
 *
 * Writes are MULTI/EXEC transactions, so a prescription and its three
 * index entries are applied together; a precondition is checked under
 * WATCH (optimistic: EXEC fails when a watched key changed, and the
 * operation is retried like a Causeway conflict). FMKe's own driver
 * checks without WATCH; this is the stronger reading, to compare like
 * with like. Durability is the server's: appendonly with appendfsync
 * always.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmk_store.h"

typedef struct {
	redisContext *c;
	char          host[256];
	int           port;
	int           retries;
	char          err[512];
} rd;

static const char *ent[FMK_NKINDS]   = { "patient", "pharmacy", "staff",
	  "facility" };
static const char *extra[FMK_NKINDS] = { NULL, NULL, "speciality", "type" };

#define NOT_PROCESSED "prescription_not_processed"
#define PROCESSED "prescription_processed"

/* 0, or the code of a failed exchange (message in s->err). */
static int
rd_err(rd *s, redisReply *r)
{
	if (r == NULL) {
		snprintf(s->err, sizeof(s->err), "%s",
		    s->c->errstr[0] ? s->c->errstr : "connection lost");
		return CW_EUNAVAIL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(s->err, sizeof(s->err), "%s", r->str);
		return CW_EIO;
	}
	return 0;
}

/* Reconnects after a lost connection. */
static int
rd_ready(rd *s)
{
	if (s->c != NULL && s->c->err == 0)
		return 0;
	if (s->c != NULL && redisReconnect(s->c) == REDIS_OK)
		return 0;
	snprintf(s->err, sizeof(s->err), "%.200s:%d: %.200s", s->host, s->port,
	    s->c != NULL ? s->c->errstr : "no connection");
	return CW_EUNAVAIL;
}

/* One command; *out the reply (freeReplyObject it, also on error). */
static int
cmd(rd *s, redisReply **out, const char *fmt, ...)
{
	va_list ap;
	int     rc;
	*out = NULL;
	if ((rc = rd_ready(s)) != 0)
		return rc;
	va_start(ap, fmt);
	*out = redisvCommand(s->c, fmt, ap);
	va_end(ap);
	return rd_err(s, *out);
}

/* The replies of n pipelined commands, into r[0..n-1]. */
static int
replies(rd *s, redisReply **r, int n)
{
	int rc = 0;
	for (int i = 0; i < n; i++) {
		void *x = NULL;
		if (redisGetReply(s->c, &x) != REDIS_OK)
			x = NULL;
		r[i] = x;
		if (rc == 0)
			rc = rd_err(s, r[i]);
		if (r[i] == NULL) {
			for (int j = i + 1; j < n; j++)
				r[j] = NULL;
			break;
		}
	}
	return rc;
}

static void
free_replies(redisReply **r, int n)
{
	for (int i = 0; i < n; i++)
		if (r[i] != NULL)
			freeReplyObject(r[i]);
}

static void
unwatch(rd *s)
{
	redisReply *r;
	if (s->c == NULL || s->c->err != 0)
		return;
	(void) cmd(s, &r, "UNWATCH");
	if (r != NULL)
		freeReplyObject(r);
}

/* After queuing MULTI, n commands and EXEC: 0 if EXEC ran them,
 * CW_ECONFLICT if a watched key changed. */
static int
exec_replies(rd *s, int n)
{
	redisReply *r[64] = { NULL };
	int         rc;
	if (n + 2 > 64)
		return CW_EINVAL;
	rc = replies(s, r, n + 2);
	if (rc == 0 && r[n + 1]->type == REDIS_REPLY_NIL)
		rc = CW_ECONFLICT;
	else if (rc == 0 && r[n + 1]->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; rc == 0 && i < r[n + 1]->elements; i++)
			rc = rd_err(s, r[n + 1]->element[i]);
	free_replies(r, n + 2);
	return rc;
}

typedef int (*rd_body)(rd *s, void *arg);

static int
rd_run(rd *s, rd_body body, void *arg)
{
	for (int attempt = 0;; attempt++) {
		int rc = body(s, arg);
		if (rc != 0 && rc != CW_EUNAVAIL)
			unwatch(s);
		if (rc != CW_ECONFLICT || attempt >= s->retries)
			return rc;
	}
}

static void
key_of(char *out, size_t cap, const char *kind, uint64_t id)
{
	snprintf(out, cap, "%s_%" PRIu64, kind, id);
}

/* ---- operations ------------------------------------------------------ */

/* Queues HSET of entity e of kind k (no reply read). */
static void
append_entity(rd *s, fmk_kind k, const fmk_entity *e)
{
	char key[64], f[4][40], id[24];
	key_of(key, sizeof(key), ent[k], e->id);
	snprintf(id, sizeof(id), "%" PRIu64, e->id);
	snprintf(f[0], sizeof(f[0]), "%s_id", ent[k]);
	snprintf(f[1], sizeof(f[1]), "%s_name", ent[k]);
	snprintf(f[2], sizeof(f[2]), "%s_address", ent[k]);
	if (extra[k] != NULL) {
		snprintf(f[3], sizeof(f[3]), "%s_%s", ent[k], extra[k]);
		redisAppendCommand(s->c, "HSET %s %s %s %s %s %s %s %s %s",
		    key, f[0], id, f[1], e->name, f[2], e->address, f[3],
		    e->extra);
	} else
		redisAppendCommand(s->c, "HSET %s %s %s %s %s %s %s", key,
		    f[0], id, f[1], e->name, f[2], e->address);
}

static int
ent_write_body(rd *s, void *arg)
{
	struct fmk_op *o = arg;
	char           key[64];
	redisReply    *r;
	int            rc;
	key_of(key, sizeof(key), ent[o->k], o->e->id);
	if ((rc = cmd(s, &r, "WATCH %s", key)) == 0) {
		freeReplyObject(r);
		rc = cmd(s, &r, "EXISTS %s", key);
	}
	if (rc == 0 && (r->integer != 0) != !o->create)
		rc = o->create ? FMK_ETAKEN : FMK_ENOTFOUND;
	if (r != NULL)
		freeReplyObject(r);
	if (rc != 0)
		return rc;
	redisAppendCommand(s->c, "MULTI");
	append_entity(s, o->k, o->e);
	redisAppendCommand(s->c, "EXEC");
	return exec_replies(s, 1);
}

static int
s_ent_write(void *st, bool create, fmk_kind k, const fmk_entity *e)
{
	struct fmk_op o = { .k = k, .create = create, .e = e };
	return rd_run(st, ent_write_body, &o);
}

static int
get_body(rd *s, void *arg)
{
	struct fmk_op *o = arg;
	fmk_kind       k = o->k;
	char           key[64], f[4][40];
	redisReply    *r;
	key_of(key, sizeof(key), ent[k], o->id);
	snprintf(f[0], sizeof(f[0]), "%s_id", ent[k]);
	snprintf(f[1], sizeof(f[1]), "%s_name", ent[k]);
	snprintf(f[2], sizeof(f[2]), "%s_address", ent[k]);
	snprintf(f[3], sizeof(f[3]), "%s_%s", ent[k],
	    extra[k] != NULL ? extra[k] : "extra");
	int rc =
	    cmd(s, &r, "HMGET %s %s %s %s %s", key, f[0], f[1], f[2], f[3]);
	if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != 4))
		rc = FMK_ECORRUPT;
	else if (rc == 0 && r->element[0]->type != REDIS_REPLY_STRING)
		rc = FMK_ENOTFOUND;
	if (rc == 0) {
		fmk_entity *e    = o->eout;
		char       *d[3] = { e->name, e->address, e->extra };
		memset(e, 0, sizeof(*e));
		e->id = o->id;
		for (int i = 0; i < 3; i++)
			if (r->element[i + 1]->type == REDIS_REPLY_STRING)
				snprintf(d[i], FMK_TEXT_MAX + 1, "%s",
				    r->element[i + 1]->str);
	}
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

static int
s_get(void *st, fmk_kind k, uint64_t id, fmk_entity *out)
{
	struct fmk_op o = { .k = k, .id = id, .eout = out };
	return rd_run(st, get_body, &o);
}

static int
list_body(rd *s, void *arg)
{
	struct fmk_op *o = arg;
	char           key[64], idx[96];
	redisReply    *r[4] = { NULL };
	int            rc;
	o->ids->n  = 0;
	o->ids->id = NULL;
	key_of(key, sizeof(key), ent[o->k], o->id);
	snprintf(idx, sizeof(idx), "%s_prescriptions", key);
	if ((rc = rd_ready(s)) != 0)
		return rc;
	redisAppendCommand(s->c, "MULTI");
	redisAppendCommand(s->c, "EXISTS %s", key);
	redisAppendCommand(s->c, "SMEMBERS %s", idx);
	redisAppendCommand(s->c, "EXEC");
	rc = replies(s, r, 4);
	if (rc == 0 && r[3]->type != REDIS_REPLY_ARRAY)
		rc = FMK_ECORRUPT;
	if (rc == 0 && r[3]->element[0]->integer == 0)
		rc = FMK_ENOTFOUND;
	redisReply *m = rc == 0 ? r[3]->element[1] : NULL;
	for (size_t i = 0; rc == 0 && i < m->elements; i++) {
		const char *v = strrchr(m->element[i]->str, '_');
		rc            = fmk_ids_push(
		               o->ids, v != NULL ? strtoull(v + 1, NULL, 10) : 0);
	}
	if (rc == 0 && o->processed_only && o->ids->n > 0) {
		/* FMKe reads every prescription of the pharmacy */
		for (size_t i = 0; i < o->ids->n; i++) {
			key_of(
			    key, sizeof(key), "prescription", o->ids->id[i]);
			redisAppendCommand(s->c, "HGET %s %s", key,
			    "prescription_is_processed");
		}
		size_t keep = 0;
		for (size_t i = 0; i < o->ids->n; i++) {
			void *x = NULL;
			if (redisGetReply(s->c, &x) != REDIS_OK)
				x = NULL;
			redisReply *y = x;
			if (rc == 0)
				rc = rd_err(s, y);
			if (rc == 0 && y->type == REDIS_REPLY_STRING &&
			    !strcmp(y->str, PROCESSED))
				o->ids->id[keep++] = o->ids->id[i];
			if (y == NULL)
				break;
			freeReplyObject(y);
		}
		o->ids->n = keep;
	}
	free_replies(r, 4);
	if (rc != 0)
		fmk_ids_free(o->ids);
	fmk_ids_sort(o->ids);
	return rc;
}

static int
s_list(void *st, fmk_kind k, uint64_t id, bool processed_only, fmk_ids *out)
{
	struct fmk_op o = {
		.k = k, .id = id, .processed_only = processed_only, .ids = out
	};
	return rd_run(st, list_body, &o);
}

static const fmk_kind owner_kind[3] = { FMK_PATIENT, FMK_STAFF, FMK_PHARMACY };

/* Queues the HSET of a new prescription and its three SADDs: 4
 * commands. */
static void
append_rx(rd *s, const fmk_prescription *p)
{
	char     key[64], own[3][64], idx[96], v[5][24];
	char     drugs[FMK_MAX_DRUGS * 34];
	uint64_t oid[3] = { p->patient, p->prescriber, p->pharmacy };
	key_of(key, sizeof(key), "prescription", p->id);
	fmk_drugs_join(&p->drugs, ";;", drugs, sizeof(drugs));
	snprintf(v[0], sizeof(v[0]), "%" PRIu64, p->id);
	for (int i = 0; i < 3; i++) {
		snprintf(v[i + 1], sizeof(v[i + 1]), "%" PRIu64, oid[i]);
		key_of(own[i], sizeof(own[i]), ent[owner_kind[i]], oid[i]);
	}
	redisAppendCommand(s->c,
	    "HSET %s prescription_id %s prescription_patient_id %s"
	    " prescription_prescriber_id %s prescription_pharmacy_id %s"
	    " prescription_date_prescribed %s prescription_date_processed %s"
	    " prescription_is_processed %s prescription_drugs %s",
	    key, v[0], v[1], v[2], v[3], p->date_prescribed, "", NOT_PROCESSED,
	    drugs);
	for (int i = 0; i < 3; i++) {
		snprintf(idx, sizeof(idx), "%.63s_prescriptions", own[i]);
		redisAppendCommand(s->c, "SADD %s %s", idx, key);
	}
}

static int
rx_create_body(rd *s, void *arg)
{
	struct fmk_op          *o = arg;
	const fmk_prescription *p = o->p;
	char                    key[64], own[3][64];
	uint64_t    oid[3] = { p->patient, p->prescriber, p->pharmacy };
	redisReply *r[4]   = { NULL };
	int         rc;
	key_of(key, sizeof(key), "prescription", p->id);
	for (int i = 0; i < 3; i++)
		key_of(own[i], sizeof(own[i]), ent[owner_kind[i]], oid[i]);
	if ((rc = cmd(s, &r[0], "WATCH %s", key)) != 0) {
		free_replies(r, 1);
		return rc;
	}
	freeReplyObject(r[0]);
	redisAppendCommand(s->c, "EXISTS %s", key);
	for (int i = 0; i < 3; i++)
		redisAppendCommand(s->c, "EXISTS %s", own[i]);
	rc = replies(s, r, 4);
	if (rc == 0 && r[0]->integer != 0)
		rc = FMK_ETAKEN;
	for (int i = 1; rc == 0 && i < 4; i++)
		if (r[i]->integer == 0)
			rc = FMK_ENOTFOUND;
	free_replies(r, 4);
	if (rc != 0)
		return rc;
	redisAppendCommand(s->c, "MULTI");
	append_rx(s, p);
	redisAppendCommand(s->c, "EXEC");
	return exec_replies(s, 4);
}

static int
s_create_rx(void *st, const fmk_prescription *p)
{
	struct fmk_op o = { .p = p };
	return rd_run(st, rx_create_body, &o);
}

/* HMGET of a prescription's fields into p; FMK_ENOTFOUND. */
static int
rx_read(rd *s, uint64_t id, fmk_prescription *p)
{
	char        key[64];
	redisReply *r;
	key_of(key, sizeof(key), "prescription", id);
	int rc = cmd(s, &r,
	    "HMGET %s prescription_id prescription_patient_id"
	    " prescription_prescriber_id prescription_pharmacy_id"
	    " prescription_date_prescribed prescription_date_processed"
	    " prescription_is_processed prescription_drugs",
	    key);
	if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != 8))
		rc = FMK_ECORRUPT;
	else if (rc == 0 && r->element[0]->type != REDIS_REPLY_STRING)
		rc = FMK_ENOTFOUND;
	for (int i = 1; rc == 0 && i < 8; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING)
			rc = FMK_ECORRUPT;
	if (rc == 0) {
		memset(p, 0, sizeof(*p));
		p->id         = id;
		p->patient    = strtoull(r->element[1]->str, NULL, 10);
		p->prescriber = strtoull(r->element[2]->str, NULL, 10);
		p->pharmacy   = strtoull(r->element[3]->str, NULL, 10);
		snprintf(p->date_prescribed, sizeof(p->date_prescribed), "%s",
		    r->element[4]->str);
		snprintf(p->date_processed, sizeof(p->date_processed), "%s",
		    r->element[5]->str);
		p->processed = !strcmp(r->element[6]->str, PROCESSED);
		fmk_drugs_split(
		    r->element[7]->str, r->element[7]->len, ";;", &p->drugs);
	}
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

static int
rx_get_body(rd *s, void *arg)
{
	struct fmk_op *o = arg;
	return rx_read(s, o->id, o->pout);
}

static int
s_get_rx(void *st, uint64_t id, fmk_prescription *out)
{
	struct fmk_op o = { .id = id, .pout = out };
	return rd_run(st, rx_get_body, &o);
}

static int
med_body(rd *s, void *arg)
{
	struct fmk_op *o = arg;
	char           key[64];
	redisReply    *r;
	key_of(key, sizeof(key), "prescription", o->id);
	int rc =
	    cmd(s, &r, "HMGET %s prescription_id prescription_drugs", key);
	if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != 2))
		rc = FMK_ECORRUPT;
	else if (rc == 0 &&
	    (r->element[0]->type != REDIS_REPLY_STRING ||
	        r->element[1]->type != REDIS_REPLY_STRING))
		rc = FMK_ENOTFOUND;
	if (rc == 0)
		fmk_drugs_split(
		    r->element[1]->str, r->element[1]->len, ";;", o->dout);
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

static int
s_medication(void *st, uint64_t id, fmk_drugs *out)
{
	struct fmk_op o = { .id = id, .dout = out };
	return rd_run(st, med_body, &o);
}

/* WATCHes prescription `key`, then reads it: FMK_ENOTFOUND,
 * FMK_EPROCESSED. */
static int
watch_unprocessed(rd *s, const char *key, uint64_t id, fmk_prescription *p)
{
	redisReply *r;
	int         rc = cmd(s, &r, "WATCH %s", key);
	if (r != NULL)
		freeReplyObject(r);
	if (rc == 0 && (rc = rx_read(s, id, p)) == 0 && p->processed)
		rc = FMK_EPROCESSED;
	return rc;
}

static int
med_add_body(rd *s, void *arg)
{
	struct fmk_op   *o = arg;
	fmk_prescription p;
	char             key[64], drugs[FMK_MAX_DRUGS * 34];
	int              rc;
	key_of(key, sizeof(key), "prescription", o->id);
	if ((rc = watch_unprocessed(s, key, o->id, &p)) != 0)
		return rc;
	for (size_t i = 0; i < o->drugs->n && p.drugs.n <= FMK_MAX_DRUGS;
	     i++) {
		bool dup = false;
		for (size_t j = 0; j < p.drugs.n; j++)
			dup |= !strcmp(p.drugs.name[j], o->drugs->name[i]);
		if (dup)
			continue;
		if (p.drugs.n == FMK_MAX_DRUGS)
			return CW_ETOOBIG;
		memcpy(p.drugs.name[p.drugs.n++], o->drugs->name[i],
		    sizeof(p.drugs.name[0]));
	}
	fmk_drugs_normalize(&p.drugs);
	fmk_drugs_join(&p.drugs, ";;", drugs, sizeof(drugs));
	redisAppendCommand(s->c, "MULTI");
	redisAppendCommand(s->c, "HSET %s prescription_drugs %s", key, drugs);
	redisAppendCommand(s->c, "EXEC");
	return exec_replies(s, 1);
}

static int
s_add_medication(void *st, uint64_t id, const fmk_drugs *add)
{
	struct fmk_op o = { .id = id, .drugs = add };
	return rd_run(st, med_add_body, &o);
}

static int
process_body(rd *s, void *arg)
{
	struct fmk_op   *o = arg;
	fmk_prescription p;
	char             key[64], sk[FMK_MAX_DRUGS][96];
	redisReply      *r;
	int              rc;
	key_of(key, sizeof(key), "prescription", o->id);
	if ((rc = watch_unprocessed(s, key, o->id, &p)) != 0)
		return rc;
	/* the stock keys are watched too, then read: one unit of each */
	for (size_t i = 0; i < p.drugs.n; i++) {
		snprintf(sk[i], sizeof(sk[i]), "stock_%" PRIu64 "_%s",
		    p.pharmacy, p.drugs.name[i]);
		redisAppendCommand(s->c, "WATCH %s", sk[i]);
		redisAppendCommand(s->c, "GET %s", sk[i]);
	}
	for (size_t i = 0; i < 2 * p.drugs.n; i++) {
		void *x = NULL;
		if (redisGetReply(s->c, &x) != REDIS_OK)
			x = NULL;
		r = x;
		if (rc == 0)
			rc = rd_err(s, r);
		if (rc == 0 && i % 2 == 1 &&
		    (r->type != REDIS_REPLY_STRING ||
		        strtoll(r->str, NULL, 10) < 1))
			rc = FMK_ESTOCK;
		if (r == NULL)
			break;
		freeReplyObject(r);
	}
	if (rc != 0)
		return rc;
	redisAppendCommand(s->c, "MULTI");
	redisAppendCommand(s->c,
	    "HSET %s prescription_is_processed %s"
	    " prescription_date_processed %s",
	    key, PROCESSED, o->date);
	for (size_t i = 0; i < p.drugs.n; i++)
		redisAppendCommand(s->c, "DECR %s", sk[i]);
	redisAppendCommand(s->c, "EXEC");
	return exec_replies(s, 1 + (int) p.drugs.n);
}

static int
s_process(void *st, uint64_t id, const char *date)
{
	struct fmk_op o = { .id = id, .date = date };
	return rd_run(st, process_body, &o);
}

/* ---- dataset ---------------------------------------------------------- */

static int
s_meta_get(void *st, fmk_meta *m)
{
	rd         *s = st;
	redisReply *r;
	int         rc = cmd(s, &r, "HGETALL fmk_meta");
	memset(m, 0, sizeof(*m));
	if (rc == 0 && r->type != REDIS_REPLY_ARRAY)
		rc = FMK_ECORRUPT;
	if (rc == 0) {
		for (size_t i = 0; i + 1 < r->elements; i += 2)
			fmk_meta_set(m, r->element[i]->str,
			    strtoull(r->element[i + 1]->str, NULL, 10));
		rc = fmk_meta_check(m, r->elements / 2);
	}
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

static int
s_meta_put(void *st, const fmk_meta *m)
{
	rd         *s = st;
	redisReply *r;
	char        v[FMK_NKINDS + 3][24];
	for (int i = 0; i < FMK_NKINDS; i++)
		snprintf(v[i], sizeof(v[i]), "%" PRIu64, m->n[i]);
	snprintf(v[4], sizeof(v[4]), "%" PRIu64, m->prescriptions);
	snprintf(v[5], sizeof(v[5]), "%" PRId64, m->stock);
	snprintf(v[6], sizeof(v[6]), "%d", m->ndrugs);
	int rc = cmd(s, &r,
	    "HSET fmk_meta patients %s pharmacies %s staff %s facilities %s"
	    " prescriptions %s stock %s drugs %s",
	    v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

static int
pop_body(rd *s, void *arg)
{
	const fmk_pop_rows *p = arg;
	char                mark[40], done[24];
	int                 n = 0, rc;
	if ((rc = rd_ready(s)) != 0)
		return rc;
	redisAppendCommand(s->c, "MULTI");
	for (uint64_t i = 0; i < p->n; i++) {
		if (p->what < FMK_NKINDS) {
			append_entity(s, (fmk_kind) p->what, &p->ent[i]);
			n++;
		} else if (p->what == FMK_POP_PRESCRIPTIONS) {
			append_rx(s, &p->rx[i]);
			n += 4;
		} else
			for (int d = 0; d < p->m->ndrugs; d++, n++) {
				char k[96], v[24];
				snprintf(k, sizeof(k), "stock_%" PRIu64 "_%s",
				    p->first + i, fmk_drug_name(d));
				snprintf(
				    v, sizeof(v), "%" PRId64, p->m->stock);
				redisAppendCommand(s->c, "SET %s %s", k, v);
			}
	}
	snprintf(mark, sizeof(mark), "done_%s", fmk_pop_name(p->what));
	snprintf(done, sizeof(done), "%" PRIu64, p->first + p->n - 1);
	redisAppendCommand(s->c, "HSET fmk_meta %s %s", mark, done);
	redisAppendCommand(s->c, "EXEC");
	/* replies: MULTI, n + 1 QUEUED, EXEC */
	redisReply *r = NULL;
	for (int i = 0; i < n + 3; i++) {
		void *x = NULL;
		if (redisGetReply(s->c, &x) != REDIS_OK)
			x = NULL;
		r = x;
		if (rc == 0)
			rc = rd_err(s, r);
		if (r == NULL)
			return rc;
		if (i < n + 2)
			freeReplyObject(r);
	}
	if (rc == 0 && r->type != REDIS_REPLY_ARRAY)
		rc = CW_EIO;
	for (size_t i = 0; rc == 0 && i < r->elements; i++)
		rc = rd_err(s, r->element[i]);
	freeReplyObject(r);
	return rc;
}

static int
s_populate(void *st, const fmk_pop_rows *rows)
{
	return rd_run(st, pop_body, (void *) rows);
}

static const char *
s_error(void *st)
{
	return ((rd *) st)->err;
}

static void
s_close(void *st)
{
	rd *s = st;
	if (s->c != NULL)
		redisFree(s->c);
	free(s);
}

static const fmk_store redis_store = { "redis", s_ent_write, s_get, s_list,
	s_create_rx, s_get_rx, s_medication, s_add_medication, s_process,
	s_meta_get, s_meta_put, s_populate, s_error, s_close };

int
fmk_open_redis(fmk **out, const char *host, int port, const fmk_opts *opts)
{
	struct timeval tv = { 5, 0 };
	rd            *s  = calloc(1, sizeof(*s));
	if (s == NULL)
		return CW_ENOMEM;
	snprintf(s->host, sizeof(s->host), "%s", host);
	s->port    = port;
	s->retries = opts != NULL ? opts->retries : 3;
	s->c       = redisConnectWithTimeout(host, port, tv);
	if (s->c == NULL || s->c->err != 0) {
		s_close(s);
		return CW_EUNAVAIL;
	}
	return fmk_open_store(out, &redis_store, s, opts);
}
