/*
 * exec.c - runs one operation (cw_op of schema.h) on a transaction: the
 * single place that maps the operations of the SDK and of the wire onto
 * the cw_tx_* calls, for the embedded SDK and for causewayd alike.
 */
#include "schema.h"
#include "txn.h"
#include "util.h"

/* A map field from the wire is counted bytes; the engine wants a C
 * string. A field with a NUL byte cannot be named through the SDK. */
static int
field_str(const cw_op *op, char *buf, size_t cap, const char **out)
{
	if (op->fl > CW_MAX_FIELD)
		return CW_ETOOBIG;
	if (op->fl >= cap || (op->fl > 0 && op->field == NULL) ||
	    (op->fl > 0 && memchr(op->field, 0, op->fl) != NULL))
		return CW_EINVAL;
	if (op->fl > 0)
		memcpy(buf, op->field, op->fl);
	buf[op->fl] = '\0';
	*out        = buf;
	return 0;
}

int
cw_tx_exec(cw_tx *t, const cw_op *op, cw_result *res)
{
	char        fbuf[CW_MAX_FIELD + 1];
	const char *field = NULL;
	int         rc;
	memset(res, 0, sizeof(*res));
	if (op->op == CW_OP_MAP_PUT || op->op == CW_OP_MAP_REMOVE ||
	    op->op == CW_OP_MAP_GET) {
		if ((rc = field_str(op, fbuf, sizeof(fbuf), &field)) != 0)
			return res->err = rc;
	}
	switch (op->op) {
	case CW_OP_REG_PUT:
		rc = cw_tx_reg_put(t, op->key, op->kl, op->val, op->vl);
		break;
	case CW_OP_REG_GET:
		rc = cw_tx_reg_get(t, op->key, op->kl, &res->v, &res->vl);
		res->present = res->v != NULL;
		break;
	case CW_OP_COUNTER_ADD:
		rc = cw_tx_counter_add(t, op->key, op->kl, op->n);
		break;
	case CW_OP_COUNTER_GET:
		rc = cw_tx_counter_get(t, op->key, op->kl, &res->n);
		break;
	case CW_OP_BCOUNTER_ADD:
		rc = cw_tx_bcounter_add(t, op->key, op->kl, op->n);
		break;
	case CW_OP_BCOUNTER_ADD_WAIT:
		if (op->vl != 4 || op->val == NULL) {
			rc = CW_EINVAL;
			break;
		} else {
			const uint8_t *w = op->val;
			uint32_t ms = (uint32_t) w[0] | (uint32_t) w[1] << 8 |
			    (uint32_t) w[2] << 16 | (uint32_t) w[3] << 24;
			rc = cw_tx_bcounter_add_wait(
			    t, op->key, op->kl, op->n, ms);
		}
		break;
	case CW_OP_BCOUNTER_GET:
		rc = cw_tx_bcounter_get(t, op->key, op->kl, &res->n);
		break;
	case CW_OP_BCOUNTER_RIGHTS:
		rc = cw_tx_bcounter_rights(t, op->key, op->kl, &res->n);
		break;
	case CW_OP_BCOUNTER_TRANSFER:
		/* the target DC travels in the value: one byte */
		if (op->vl != 1 || op->val == NULL) {
			rc = CW_EINVAL;
			break;
		}
		rc = cw_tx_bcounter_transfer(
		    t, op->key, op->kl, op->n, *(const uint8_t *) op->val);
		break;
	case CW_OP_SET_ADD:
		rc = cw_tx_set_add(t, op->key, op->kl, op->val, op->vl);
		break;
	case CW_OP_SET_REMOVE:
		rc = cw_tx_set_remove(t, op->key, op->kl, op->val, op->vl);
		break;
	case CW_OP_SET_CONTAINS:
		rc = cw_tx_set_contains(
		    t, op->key, op->kl, op->val, op->vl, &res->present);
		break;
	case CW_OP_SET_MEMBERS:
		rc = cw_tx_set_members(t, op->key, op->kl, &res->list);
		break;
	case CW_OP_MAP_PUT:
		rc = cw_tx_map_put(t, op->key, op->kl, field, op->val, op->vl);
		break;
	case CW_OP_MAP_REMOVE:
		rc = cw_tx_map_remove(t, op->key, op->kl, field);
		break;
	case CW_OP_MAP_GET:
		rc = cw_tx_map_get(
		    t, op->key, op->kl, field, &res->v, &res->vl);
		res->present = res->v != NULL;
		break;
	case CW_OP_MAP_FIELDS:
		rc = cw_tx_map_fields(t, op->key, op->kl, &res->list);
		break;
	default:
		rc = CW_EINVAL; /* unknown operation */
	}
	if (rc != 0)
		cw_result_fini(res);
	return res->err = rc;
}
