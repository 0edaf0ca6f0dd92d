/*
 * fmk_pg.c - the FMK operations on PostgreSQL through libpq (fmk_store.h),
 * the SQL peer of the benchmark against peers.
 *
 * Tables with foreign keys: patients, pharmacies, staff and facilities;
 * prescriptions referencing a patient, a prescriber (staff) and a
 * pharmacy; stock (pharmacy, drug, units >= 0). The three indexes of
 * fmk.h are the prescriptions table's own secondary indexes, so a new
 * prescription is in all three at once, and the foreign keys give the
 * relative order. Every operation is one transaction at REPEATABLE READ
 * (PostgreSQL's snapshot isolation; the session's default), most of them
 * one statement; a serialization failure is retried like a Causeway
 * conflict. Durability is the server's: fsync and synchronous_commit on.
 *
 * Statements are prepared on first use, per connection.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmk_store.h"

enum {
	Q_INS, /* + kind */
	Q_UPD            = Q_INS + FMK_NKINDS,
	Q_GET            = Q_UPD + FMK_NKINDS,
	Q_LIST           = Q_GET + FMK_NKINDS,
	Q_PROCESSED_LIST = Q_LIST + FMK_NKINDS,
	Q_RX_INS,
	Q_RX_GET,
	Q_MED_GET,
	Q_MED_ADD,
	Q_PROCESS,
	Q_RX_STATE,
	Q_SPEND,
	Q_NSTMT
};

typedef struct {
	PGconn *c;
	int     retries;
	bool    prepared[Q_NSTMT];
	char    err[256];
} pg;

static const char *table[FMK_NKINDS]  = { "patients", "pharmacies", "staff",
	 "facilities" };
static const char *rx_col[FMK_NKINDS] = { "patient_id", "pharmacy_id",
	"prescriber_id", NULL };

static const char schema[] =
    "SET client_min_messages = warning;"
    "CREATE TABLE IF NOT EXISTS patients (id bigint PRIMARY KEY,"
    " name text NOT NULL, address text NOT NULL, extra text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS pharmacies (id bigint PRIMARY KEY,"
    " name text NOT NULL, address text NOT NULL, extra text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS staff (id bigint PRIMARY KEY,"
    " name text NOT NULL, address text NOT NULL, extra text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS facilities (id bigint PRIMARY KEY,"
    " name text NOT NULL, address text NOT NULL, extra text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS prescriptions (id bigint PRIMARY KEY,"
    " patient_id bigint NOT NULL REFERENCES patients,"
    " prescriber_id bigint NOT NULL REFERENCES staff,"
    " pharmacy_id bigint NOT NULL REFERENCES pharmacies,"
    " date_prescribed text NOT NULL,"
    " date_processed text NOT NULL DEFAULT '',"
    " processed boolean NOT NULL DEFAULT false,"
    " drugs text[] NOT NULL);"
    "CREATE INDEX IF NOT EXISTS rx_patient ON prescriptions (patient_id);"
    "CREATE INDEX IF NOT EXISTS rx_prescriber"
    " ON prescriptions (prescriber_id);"
    "CREATE INDEX IF NOT EXISTS rx_pharmacy ON prescriptions (pharmacy_id);"
    "CREATE TABLE IF NOT EXISTS stock ("
    " pharmacy_id bigint NOT NULL REFERENCES pharmacies,"
    " drug text NOT NULL, units bigint NOT NULL CHECK (units >= 0),"
    " PRIMARY KEY (pharmacy_id, drug));"
    "CREATE TABLE IF NOT EXISTS meta (k text PRIMARY KEY,"
    " v bigint NOT NULL);";

/* The SQL of statement q. */
static void
stmt_sql(int q, char *sql, size_t cap)
{
	int k = q % FMK_NKINDS;
	if (q < Q_UPD)
		snprintf(sql, cap,
		    "INSERT INTO %s (id, name, address, extra)"
		    " VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
		    table[k]);
	else if (q < Q_GET)
		snprintf(sql, cap,
		    "UPDATE %s SET name = $2, address = $3, extra = $4"
		    " WHERE id = $1",
		    table[k]);
	else if (q < Q_LIST)
		snprintf(sql, cap,
		    "SELECT name, address, extra FROM %s WHERE id = $1",
		    table[k]);
	else if (q < Q_PROCESSED_LIST)
		snprintf(sql, cap,
		    "SELECT p.id FROM %s o LEFT JOIN prescriptions p"
		    " ON p.%s = o.id WHERE o.id = $1",
		    table[k], rx_col[k] != NULL ? rx_col[k] : "patient_id");
	else if (q == Q_PROCESSED_LIST)
		snprintf(sql, cap,
		    "SELECT p.id FROM pharmacies o LEFT JOIN prescriptions p"
		    " ON p.pharmacy_id = o.id AND p.processed WHERE o.id = "
		    "$1");
	else if (q == Q_RX_INS)
		snprintf(sql, cap,
		    "INSERT INTO prescriptions (id, patient_id, prescriber_id,"
		    " pharmacy_id, date_prescribed, drugs) VALUES ($1, $2, $3,"
		    " $4, $5, string_to_array($6, ','))"
		    " ON CONFLICT (id) DO NOTHING");
	else if (q == Q_RX_GET)
		snprintf(sql, cap,
		    "SELECT patient_id, prescriber_id, pharmacy_id,"
		    " date_prescribed, date_processed, processed,"
		    " array_to_string(drugs, ',') FROM prescriptions"
		    " WHERE id = $1");
	else if (q == Q_MED_GET)
		snprintf(sql, cap,
		    "SELECT array_to_string(drugs, ',') FROM prescriptions"
		    " WHERE id = $1");
	else if (q == Q_MED_ADD) /* processed, new count, rows updated */
		snprintf(sql, cap,
		    "WITH cur AS (SELECT processed, ARRAY(SELECT DISTINCT x"
		    " FROM unnest(drugs || string_to_array($2, ',')) x"
		    " ORDER BY x) AS nd FROM prescriptions WHERE id = $1),"
		    " up AS (UPDATE prescriptions p SET drugs = cur.nd FROM "
		    "cur"
		    " WHERE p.id = $1 AND NOT cur.processed"
		    " AND cardinality(cur.nd) <= %d RETURNING 1)"
		    " SELECT cur.processed, cardinality(cur.nd),"
		    " (SELECT count(*) FROM up) FROM cur",
		    FMK_MAX_DRUGS);
	else if (q == Q_PROCESS)
		snprintf(sql, cap,
		    "UPDATE prescriptions SET processed = true,"
		    " date_processed = $2 WHERE id = $1 AND NOT processed"
		    " RETURNING pharmacy_id, array_to_string(drugs, ','),"
		    " cardinality(drugs)");
	else if (q == Q_RX_STATE)
		snprintf(sql, cap,
		    "SELECT processed FROM prescriptions WHERE id = $1");
	else /* Q_SPEND */
		snprintf(sql, cap,
		    "UPDATE stock SET units = units - 1 WHERE pharmacy_id = $1"
		    " AND drug = ANY (string_to_array($2, ',')) AND units > "
		    "0");
}

/* 0, or the code for a failed result (its message kept in s->err). */
static int
pg_err(pg *s, PGresult *r)
{
	ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	const char *code =
	    r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	snprintf(s->err, sizeof(s->err), "%s",
	    r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(s->c));
	s->err[strcspn(s->err, "\n")] = '\0';
	if (PQstatus(s->c) != CONNECTION_OK)
		return CW_EUNAVAIL;
	if (code == NULL)
		return CW_EIO;
	if (!strcmp(code, "40001") || !strcmp(code, "40P01"))
		return CW_ECONFLICT;
	if (!strcmp(code, "23503") || !strcmp(code, "42P01"))
		return FMK_ENOTFOUND; /* a foreign key; no tables yet */
	if (!strcmp(code, "23505"))
		return FMK_ETAKEN;
	if (!strcmp(code, "23514"))
		return FMK_ESTOCK;
	return CW_EIO;
}

/* Runs prepared statement q with n text parameters. *out: the result, to
 * PQclear (also on error); returns pg_err's code. */
static int
pq(pg *s, int q, int n, const char *const *param, PGresult **out)
{
	char name[16];
	snprintf(name, sizeof(name), "q%d", q);
	*out = NULL;
	if (PQstatus(s->c) != CONNECTION_OK) {
		PQreset(s->c);
		memset(s->prepared, 0, sizeof(s->prepared));
		if (PQstatus(s->c) != CONNECTION_OK) {
			snprintf(s->err, sizeof(s->err), "%s",
			    PQerrorMessage(s->c));
			return CW_EUNAVAIL;
		}
	}
	if (!s->prepared[q]) {
		char sql[1024];
		stmt_sql(q, sql, sizeof(sql));
		PGresult *r  = PQprepare(s->c, name, sql, n, NULL);
		int       rc = pg_err(s, r);
		PQclear(r);
		if (rc != 0)
			return rc;
		s->prepared[q] = true;
	}
	*out = PQexecPrepared(s->c, name, n, param, NULL, NULL, 0);
	return pg_err(s, *out);
}

/* A statement without parameters or rows (BEGIN, COMMIT, ...). */
static int
pexec(pg *s, const char *sql)
{
	PGresult *r  = PQexec(s->c, sql);
	int       rc = pg_err(s, r);
	PQclear(r);
	return rc;
}

static void
rollback(pg *s)
{
	if (PQtransactionStatus(s->c) != PQTRANS_IDLE)
		PQclear(PQexec(s->c, "ROLLBACK"));
}

#define U64(buf, v) \
	(snprintf(buf, sizeof(buf), "%" PRIu64, (uint64_t) (v)), buf)

static uint64_t
col_u64(PGresult *r, int row, int col)
{
	return strtoull(PQgetvalue(r, row, col), NULL, 10);
}

static void
col_str(PGresult *r, int row, int col, char *out, size_t cap)
{
	snprintf(out, cap, "%s", PQgetvalue(r, row, col));
}

typedef int (*pg_body)(pg *s, void *arg);

/* Runs body (one transaction), retrying serialization failures. */
static int
pg_run(pg *s, pg_body body, void *arg)
{
	for (int attempt = 0;; attempt++) {
		int rc = body(s, arg);
		if (rc != 0)
			rollback(s);
		if (rc != CW_ECONFLICT || attempt >= s->retries)
			return rc;
	}
}

/* ---- operations ------------------------------------------------------ */

static int
ent_write_body(pg *s, void *arg)
{
	struct fmk_op *o = arg;
	char           id[24];
	const char    *v[4] = { U64(id, o->e->id), o->e->name, o->e->address,
		   o->e->extra };
	PGresult      *r;
	int rc = pq(s, (o->create ? Q_INS : Q_UPD) + o->k, 4, v, &r);
	if (rc == 0 && strcmp(PQcmdTuples(r), "1") != 0)
		rc = o->create ? FMK_ETAKEN : FMK_ENOTFOUND;
	PQclear(r);
	return rc;
}

static int
s_ent_write(void *st, bool create, fmk_kind k, const fmk_entity *e)
{
	struct fmk_op o = { .k = k, .create = create, .e = e };
	return pg_run(st, ent_write_body, &o);
}

static int
get_body(pg *s, void *arg)
{
	struct fmk_op *o = arg;
	char           id[24];
	const char    *v[1] = { U64(id, o->id) };
	PGresult      *r;
	int            rc = pq(s, Q_GET + o->k, 1, v, &r);
	if (rc == 0 && PQntuples(r) == 0)
		rc = FMK_ENOTFOUND;
	if (rc == 0) {
		memset(o->eout, 0, sizeof(*o->eout));
		o->eout->id = o->id;
		col_str(r, 0, 0, o->eout->name, sizeof(o->eout->name));
		col_str(r, 0, 1, o->eout->address, sizeof(o->eout->address));
		col_str(r, 0, 2, o->eout->extra, sizeof(o->eout->extra));
	}
	PQclear(r);
	return rc;
}

static int
s_get(void *st, fmk_kind k, uint64_t id, fmk_entity *out)
{
	struct fmk_op o = { .k = k, .id = id, .eout = out };
	return pg_run(st, get_body, &o);
}

static int
list_body(pg *s, void *arg)
{
	struct fmk_op *o = arg;
	char           id[24];
	const char    *v[1] = { U64(id, o->id) };
	PGresult      *r;
	int            rc = pq(
	               s, o->processed_only ? Q_PROCESSED_LIST : Q_LIST + o->k, 1, v, &r);
	if (rc == 0 && PQntuples(r) == 0)
		rc = FMK_ENOTFOUND;
	o->ids->n  = 0;
	o->ids->id = NULL;
	for (int i = 0; rc == 0 && i < PQntuples(r); i++)
		if (!PQgetisnull(r, i, 0))
			rc = fmk_ids_push(o->ids, col_u64(r, i, 0));
	if (rc != 0)
		fmk_ids_free(o->ids);
	fmk_ids_sort(o->ids);
	PQclear(r);
	return rc;
}

static int
s_list(void *st, fmk_kind k, uint64_t id, bool processed_only, fmk_ids *out)
{
	struct fmk_op o = {
		.k = k, .id = id, .processed_only = processed_only, .ids = out
	};
	return pg_run(st, list_body, &o);
}

static int
rx_create_body(pg *s, void *arg)
{
	struct fmk_op          *o = arg;
	const fmk_prescription *p = o->p;
	char id[24], pa[24], pr[24], ph[24], drugs[FMK_MAX_DRUGS * 33];
	fmk_drugs_join(&p->drugs, ",", drugs, sizeof(drugs));
	const char *v[6] = { U64(id, p->id), U64(pa, p->patient),
		U64(pr, p->prescriber), U64(ph, p->pharmacy),
		p->date_prescribed, drugs };
	PGresult   *r;
	int         rc = pq(s, Q_RX_INS, 6, v, &r);
	if (rc == 0 && strcmp(PQcmdTuples(r), "1") != 0)
		rc = FMK_ETAKEN;
	PQclear(r);
	return rc;
}

static int
s_create_rx(void *st, const fmk_prescription *p)
{
	struct fmk_op o = { .p = p };
	return pg_run(st, rx_create_body, &o);
}

static int
rx_get_body(pg *s, void *arg)
{
	struct fmk_op    *o = arg;
	fmk_prescription *p = o->pout;
	char              id[24];
	const char       *v[1] = { U64(id, o->id) };
	PGresult         *r;
	int               rc = pq(s, Q_RX_GET, 1, v, &r);
	if (rc == 0 && PQntuples(r) == 0)
		rc = FMK_ENOTFOUND;
	if (rc == 0) {
		memset(p, 0, sizeof(*p));
		p->id         = o->id;
		p->patient    = col_u64(r, 0, 0);
		p->prescriber = col_u64(r, 0, 1);
		p->pharmacy   = col_u64(r, 0, 2);
		col_str(
		    r, 0, 3, p->date_prescribed, sizeof(p->date_prescribed));
		col_str(r, 0, 4, p->date_processed, sizeof(p->date_processed));
		p->processed = PQgetvalue(r, 0, 5)[0] == 't';
		fmk_drugs_split(PQgetvalue(r, 0, 6),
		    (size_t) PQgetlength(r, 0, 6), ",", &p->drugs);
	}
	PQclear(r);
	return rc;
}

static int
s_get_rx(void *st, uint64_t id, fmk_prescription *out)
{
	struct fmk_op o = { .id = id, .pout = out };
	return pg_run(st, rx_get_body, &o);
}

static int
med_body(pg *s, void *arg)
{
	struct fmk_op *o = arg;
	char           id[24];
	const char    *v[1] = { U64(id, o->id) };
	PGresult      *r;
	int            rc = pq(s, Q_MED_GET, 1, v, &r);
	if (rc == 0 && PQntuples(r) == 0)
		rc = FMK_ENOTFOUND;
	if (rc == 0)
		fmk_drugs_split(PQgetvalue(r, 0, 0),
		    (size_t) PQgetlength(r, 0, 0), ",", o->dout);
	PQclear(r);
	return rc;
}

static int
s_medication(void *st, uint64_t id, fmk_drugs *out)
{
	struct fmk_op o = { .id = id, .dout = out };
	return pg_run(st, med_body, &o);
}

static int
med_add_body(pg *s, void *arg)
{
	struct fmk_op *o = arg;
	char           id[24], drugs[FMK_MAX_DRUGS * 33];
	const char    *v[2] = { U64(id, o->id), drugs };
	PGresult      *r;
	fmk_drugs_join(o->drugs, ",", drugs, sizeof(drugs));
	int rc = pq(s, Q_MED_ADD, 2, v, &r);
	if (rc == 0 && PQntuples(r) == 0)
		rc = FMK_ENOTFOUND;
	else if (rc == 0 && PQgetvalue(r, 0, 0)[0] == 't')
		rc = FMK_EPROCESSED;
	else if (rc == 0 && col_u64(r, 0, 1) > FMK_MAX_DRUGS)
		rc = CW_ETOOBIG;
	else if (rc == 0 && col_u64(r, 0, 2) != 1)
		rc = CW_ECONFLICT; /* processed meanwhile: try again */
	PQclear(r);
	return rc;
}

static int
s_add_medication(void *st, uint64_t id, const fmk_drugs *add)
{
	struct fmk_op o = { .id = id, .drugs = add };
	return pg_run(st, med_add_body, &o);
}

static int
process_body(pg *s, void *arg)
{
	struct fmk_op *o = arg;
	char           id[24], ph[24], drugs[FMK_MAX_DRUGS * 33];
	const char    *v[2] = { U64(id, o->id), o->date };
	PGresult      *r;
	int            rc;
	if ((rc = pexec(s, "BEGIN")) != 0)
		return rc;
	if ((rc = pq(s, Q_PROCESS, 2, v, &r)) != 0)
		goto out;
	if (PQntuples(r) == 0) { /* processed already, or no such id */
		PQclear(r);
		if ((rc = pq(s, Q_RX_STATE, 1, v, &r)) == 0)
			rc =
			    PQntuples(r) == 0 ? FMK_ENOTFOUND : FMK_EPROCESSED;
		goto out;
	}
	/* one unit of each drug, or none: ESTOCK rolls the whole back */
	uint64_t ndrugs = col_u64(r, 0, 2);
	U64(ph, col_u64(r, 0, 0));
	col_str(r, 0, 1, drugs, sizeof(drugs));
	PQclear(r);
	const char *w[2] = { ph, drugs };
	if ((rc = pq(s, Q_SPEND, 2, w, &r)) != 0)
		goto out;
	if (strtoull(PQcmdTuples(r), NULL, 10) != ndrugs) {
		rc = FMK_ESTOCK;
		goto out;
	}
	rc = pexec(s, "COMMIT");
out:
	PQclear(r);
	return rc;
}

static int
s_process(void *st, uint64_t id, const char *date)
{
	struct fmk_op o = { .id = id, .date = date };
	return pg_run(st, process_body, &o);
}

/* ---- dataset ---------------------------------------------------------- */

static int
s_meta_get(void *st, fmk_meta *m)
{
	pg       *s = st;
	PGresult *r = PQexec(s->c, "SELECT k, v FROM meta");
	int       rc;
	memset(m, 0, sizeof(*m));
	if ((rc = pg_err(s, r)) == 0) {
		for (int i = 0; i < PQntuples(r); i++)
			fmk_meta_set(m, PQgetvalue(r, i, 0), col_u64(r, i, 1));
		rc = fmk_meta_check(m, (size_t) PQntuples(r));
	}
	PQclear(r);
	return rc;
}

static int
s_meta_put(void *st, const fmk_meta *m)
{
	pg  *s = st;
	char sql[1024];
	int  rc, n;
	if ((rc = pexec(s, schema)) != 0)
		return rc;
	n = snprintf(sql, sizeof(sql), "INSERT INTO meta (k, v) VALUES");
	for (int i = 0; i < FMK_NKINDS; i++)
		n += snprintf(sql + n, sizeof(sql) - (size_t) n,
		    " ('%s', %" PRIu64 "),", fmk_pop_name(i), m->n[i]);
	snprintf(sql + n, sizeof(sql) - (size_t) n,
	    " ('prescriptions', %" PRIu64 "), ('stock', %" PRId64
	    "), ('drugs', %d) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
	    m->prescriptions, m->stock, m->ndrugs);
	return pexec(s, sql);
}

/* Rows as one multi-row INSERT: ncol parameters a row, each row closed
 * by rowend. */
static int
insert_rows(pg *s, const char *head, int ncol, const char *rowend,
    size_t nrows, const char *const *param)
{
	size_t cap = strlen(head) + nrows * (strlen(rowend) + 12 * ncol) + 64;
	char  *sql = malloc(cap);
	size_t n;
	if (sql == NULL)
		return CW_ENOMEM;
	n = (size_t) snprintf(sql, cap, "%s", head);
	for (size_t i = 0; i < nrows; i++) {
		n += (size_t) snprintf(sql + n, cap - n, "%s(", i ? "," : "");
		for (int c = 0; c < ncol; c++)
			n += (size_t) snprintf(sql + n, cap - n, "%s$%zu",
			    c ? "," : "", i * (size_t) ncol + (size_t) c + 1);
		n += (size_t) snprintf(sql + n, cap - n, "%s", rowend);
	}
	PGresult *r  = PQexecParams(s->c, sql, (int) (nrows * (size_t) ncol),
	     NULL, param, NULL, NULL, 0);
	int       rc = pg_err(s, r);
	PQclear(r);
	free(sql);
	return rc;
}

static int
pop_body(pg *s, void *arg)
{
	const fmk_pop_rows *p         = arg;
	char(*num)[24]                = NULL; /* ids as text */
	char(*dl)[FMK_MAX_DRUGS * 33] = NULL;
	const char **param            = NULL;
	char         sql[256];
	int          rc;
	if (p->n > 10000)
		return CW_ETOOBIG; /* parameters per statement: 65535 */
	if ((rc = pexec(s, "BEGIN")) != 0)
		return rc;
	if (p->what < FMK_NKINDS) {
		num   = calloc(p->n, sizeof(*num));
		param = calloc(p->n * 4, sizeof(*param));
		if (num == NULL || param == NULL) {
			rc = CW_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < p->n; i++) {
			const fmk_entity *e = &p->ent[i];
			param[4 * i]        = U64(num[i], e->id);
			param[4 * i + 1]    = e->name;
			param[4 * i + 2]    = e->address;
			param[4 * i + 3]    = e->extra;
		}
		snprintf(sql, sizeof(sql),
		    "INSERT INTO %s (id, name, address, extra) VALUES ",
		    table[p->what]);
		rc = insert_rows(s, sql, 4, ")", p->n, param);
	} else if (p->what == FMK_POP_PRESCRIPTIONS) {
		num   = calloc(p->n * 4, sizeof(*num));
		dl    = calloc(p->n, sizeof(*dl));
		param = calloc(p->n * 6, sizeof(*param));
		if (num == NULL || dl == NULL || param == NULL) {
			rc = CW_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < p->n; i++) {
			const fmk_prescription *x = &p->rx[i];
			fmk_drugs_join(&x->drugs, ",", dl[i], sizeof(dl[i]));
			param[6 * i]     = U64(num[4 * i], x->id);
			param[6 * i + 1] = U64(num[4 * i + 1], x->patient);
			param[6 * i + 2] = U64(num[4 * i + 2], x->prescriber);
			param[6 * i + 3] = U64(num[4 * i + 3], x->pharmacy);
			param[6 * i + 4] = x->date_prescribed;
			param[6 * i + 5] = dl[i];
		}
		size_t cap = 160 + p->n * 96;
		char  *q   = malloc(cap);
		if (q == NULL) {
			rc = CW_ENOMEM;
			goto out;
		}
		size_t n = (size_t) snprintf(q, cap,
		    "INSERT INTO prescriptions (id, patient_id, prescriber_id,"
		    " pharmacy_id, date_prescribed, drugs) VALUES ");
		for (size_t i = 0; i < p->n; i++)
			n += (size_t) snprintf(q + n, cap - n,
			    "%s($%zu,$%zu,$%zu,$%zu,$%zu,"
			    "string_to_array($%zu,','))",
			    i ? "," : "", 6 * i + 1, 6 * i + 2, 6 * i + 3,
			    6 * i + 4, 6 * i + 5, 6 * i + 6);
		PGresult *r = PQexecParams(
		    s->c, q, (int) (6 * p->n), NULL, param, NULL, NULL, 0);
		rc = pg_err(s, r);
		PQclear(r);
		free(q);
	} else {
		char   first[24], last[24], units[24], drugs[FMK_NDRUGS * 33];
		size_t n = 0;
		drugs[0] = '\0';
		for (int d = 0; d < p->m->ndrugs; d++)
			n += (size_t) snprintf(drugs + n, sizeof(drugs) - n,
			    "%s%s", d ? "," : "", fmk_drug_name(d));
		const char *v[4] = { U64(first, p->first),
			U64(last, p->first + p->n - 1),
			U64(units, p->m->stock), drugs };
		PGresult   *r    = PQexecParams(s->c,
		         "INSERT INTO stock (pharmacy_id, drug, units)"
		              " SELECT ph, d, $3::bigint"
		              " FROM generate_series($1::bigint, $2::bigint) ph,"
		              " unnest(string_to_array($4, ',')) d",
		         4, NULL, v, NULL, NULL, 0);
		rc               = pg_err(s, r);
		PQclear(r);
	}
	if (rc != 0)
		goto out;
	const char *mark = fmk_pop_name(p->what);
	snprintf(sql, sizeof(sql),
	    "INSERT INTO meta (k, v) VALUES ('done_%s', %" PRIu64
	    ") ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
	    mark, p->first + p->n - 1);
	if ((rc = pexec(s, sql)) == 0)
		rc = pexec(s, "COMMIT");
out:
	free(num);
	free(dl);
	free(param);
	return rc;
}

static int
s_populate(void *st, const fmk_pop_rows *rows)
{
	return pg_run(st, pop_body, (void *) rows);
}

static const char *
s_error(void *st)
{
	return ((pg *) st)->err;
}

static void
s_close(void *st)
{
	pg *s = st;
	PQfinish(s->c);
	free(s);
}

static const fmk_store pg_store = { "postgresql", s_ent_write, s_get, s_list,
	s_create_rx, s_get_rx, s_medication, s_add_medication, s_process,
	s_meta_get, s_meta_put, s_populate, s_error, s_close };

int
fmk_open_pg(fmk **out, const char *conninfo, const fmk_opts *opts)
{
	pg *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CW_ENOMEM;
	s->retries = opts != NULL ? opts->retries : 3;
	s->c       = PQconnectdb(conninfo);
	if (s->c == NULL || PQstatus(s->c) != CONNECTION_OK) {
		s_close(s);
		return CW_EUNAVAIL;
	}
	int rc = pexec(s,
	    "SET default_transaction_isolation = 'repeatable read';"
	    "SET synchronous_commit = on");
	if (rc != 0) {
		s_close(s);
		return rc;
	}
	return fmk_open_store(out, &pg_store, s, opts);
}
