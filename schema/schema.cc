// schema.cc - the C interface over flatc's generated C++ (schema.h).
//
// No exception crosses into C: the builder's std::bad_alloc becomes
// CW_ENOMEM. Decoding runs flatbuffers::Verifier on the exact bytes first;
// a buffer that is not 8-byte aligned is copied so that the generated
// accessors' scalar loads are aligned.
#include "schema.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "proto_generated.h"
#include "record_generated.h"
#include "replica_generated.h"

using namespace cw::wire;
namespace P = cw::proto;
namespace R = cw::repl;

namespace {

bool u64s(const flatbuffers::Vector<uint64_t> *v, uint64_t *out, uint32_t *n);

// Checks a buffer's size and gives an 8-byte-aligned view of it, copying it
// when it is not aligned (the generated accessors load scalars in place).
// OUT: *p, and *own (the copy, to free) or nullptr.
int
prepare(const void *buf, size_t len, const uint8_t **p, void **own)
{
	*p   = static_cast<const uint8_t *>(buf);
	*own = nullptr;
	if (buf == nullptr || len < 8 || len > FLATBUFFERS_MAX_BUFFER_SIZE)
		return CW_EPROTO;
	if (reinterpret_cast<uintptr_t>(buf) % 8 == 0)
		return 0;
	void *copy = std::aligned_alloc(8, (len + 7) / 8 * 8);
	if (copy == nullptr)
		return CW_ENOMEM;
	std::memcpy(copy, buf, len);
	*own = copy;
	*p   = static_cast<const uint8_t *>(copy);
	return 0;
}

// Runs fill on a builder and appends the finished buffer to out. No
// exception crosses into C: std::bad_alloc is CW_ENOMEM, anything else
// CW_EINVAL.
template <typename F>
int
build(cw_buf *out, size_t initial, F &&fill)
{
	try {
		flatbuffers::FlatBufferBuilder fb(initial);
		fill(fb);
		return cw_buf_put(out, fb.GetBufferPointer(), fb.GetSize());
	} catch (const std::bad_alloc &) {
		return CW_ENOMEM;
	} catch (...) {
		return CW_EINVAL;
	}
}

// The end of every decoded view: frees the aligned copy, if any.
void
release(void **own, const void **root)
{
	std::free(*own);
	*own  = nullptr;
	*root = nullptr;
}

} // namespace

extern "C" int
cw_schema_rec_encode(uint16_t origin, uint64_t seq, uint64_t hlc,
    const uint64_t *deps, uint32_t ndeps, const cw_rec_effect *effs, size_t n,
    cw_buf *out)
{
	if (ndeps < 1 || ndeps > CW_SCHEMA_MAX_DEPS)
		return CW_EINVAL;
	return build(
	    out, 256 + n * 64, [&](flatbuffers::FlatBufferBuilder &fb) {
		    std::vector<flatbuffers::Offset<Effect>> ev;
		    ev.reserve(n);
		    for (size_t i = 0; i < n; i++) {
			    auto k = fb.CreateVector(
			        static_cast<const uint8_t *>(effs[i].key),
			        effs[i].keylen);
			    auto o = fb.CreateVector(
			        static_cast<const uint8_t *>(effs[i].op),
			        effs[i].oplen);
			    ev.push_back(CreateEffect(fb, k, o));
		    }
		    auto e = fb.CreateVector(ev);
		    auto d = fb.CreateVector(deps, ndeps);
		    auto r = CreateTxnRecord(fb, origin, seq, hlc, d, e);
		    FinishTxnRecordBuffer(fb, r);
	    });
}

extern "C" int
cw_schema_rec_decode(const void *buf, size_t len, cw_rec *rec)
{
	const uint8_t *p;
	std::memset(rec, 0, sizeof(*rec));
	int rc = prepare(buf, len, &p, &rec->own_);
	if (rc != 0)
		return rc;
	flatbuffers::Verifier v(p, len, 16, 1000000);
	if (!VerifyTxnRecordBuffer(v))
		goto bad;
	{
		const TxnRecord *r    = GetTxnRecord(p);
		const auto      *deps = r->deps();
		if (deps->size() < 1 || deps->size() > CW_SCHEMA_MAX_DEPS)
			goto bad;
		rec->origin = r->origin();
		rec->seq    = r->seq();
		rec->hlc    = r->hlc();
		rec->ndeps  = deps->size();
		// The verifier checks a vector's length prefix for 4-byte
		// alignment only: a hostile buffer can leave u64 elements
		// misaligned, so copy them out bytewise.
		const uint8_t *d = deps->Data();
		for (uint32_t k = 0; k < rec->ndeps; k++) {
			uint64_t v;
			std::memcpy(&v, d + 8 * (size_t) k, sizeof(v));
			rec->deps[k] = flatbuffers::EndianScalar(v);
		}
		rec->neffects = r->effects()->size();
		rec->root_    = r;
	}
	return 0;
bad:
	std::free(rec->own_);
	rec->own_ = nullptr;
	return CW_EPROTO;
}

extern "C" void
cw_schema_rec_effect(const cw_rec *rec, size_t i, cw_rec_effect *e)
{
	const TxnRecord *r = static_cast<const TxnRecord *>(rec->root_);
	const Effect    *x = r->effects()->Get(static_cast<uint32_t>(i));
	e->key             = x->key()->data();
	e->keylen          = x->key()->size();
	e->op              = x->op()->data();
	e->oplen           = x->op()->size();
}

extern "C" void
cw_schema_rec_fini(cw_rec *rec)
{
	release(&rec->own_, &rec->root_);
}

// ---- client protocol ----

extern "C" int
cw_schema_op_is_write(int op)
{
	switch (op) {
	case CW_OP_REG_PUT:
	case CW_OP_COUNTER_ADD:
	case CW_OP_BCOUNTER_ADD:
	case CW_OP_BCOUNTER_ADD_WAIT:
	case CW_OP_BCOUNTER_TRANSFER:
	case CW_OP_SET_ADD:
	case CW_OP_SET_REMOVE:
	case CW_OP_MAP_PUT:
	case CW_OP_MAP_REMOVE:
		return 1;
	default:
		return 0;
	}
}

extern "C" void
cw_result_fini(cw_result *r)
{
	cw_free(r->v);
	cw_list_free(r->list);
	r->v    = nullptr;
	r->list = nullptr;
}

namespace {

flatbuffers::Offset<flatbuffers::Vector<uint8_t>>
bytes(flatbuffers::FlatBufferBuilder &fb, const void *p, size_t n)
{
	if (p == nullptr && n == 0)
		return 0;
	return fb.CreateVector(static_cast<const uint8_t *>(p), n);
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<P::Op>>>
ops(flatbuffers::FlatBufferBuilder &fb, const cw_op *o, size_t n)
{
	std::vector<flatbuffers::Offset<P::Op>> v;
	v.reserve(n);
	for (size_t i = 0; i < n; i++) {
		auto k = bytes(fb, o[i].key, o[i].kl);
		auto f = bytes(fb, o[i].field, o[i].fl);
		auto x = bytes(fb, o[i].val, o[i].vl);
		v.push_back(P::CreateOp(fb, o[i].op, k, f, x, o[i].n));
	}
	return fb.CreateVector(v);
}

template <typename V>
void
vec(const V *v, const void **p, size_t *n)
{
	*p = v ? v->data() : nullptr;
	*n = v ? v->size() : 0;
}

} // namespace

extern "C" int
cw_schema_req_encode(const cw_req *h, const cw_op *writes, size_t nw,
    const cw_op *reads, size_t nr, cw_buf *out)
{
	if (h->nrelease > CW_MAX_RELEASE)
		return CW_EINVAL;
	return build(out, 256, [&](flatbuffers::FlatBufferBuilder &fb) {
		auto c   = bytes(fb, h->clock, h->clocklen);
		auto w   = ops(fb, writes, nw);
		auto r   = ops(fb, reads, nr);
		auto rel = h->nrelease > 0
		    ? fb.CreateVector(h->release, h->nrelease)
		    : 0;
		auto tok = bytes(fb, h->token, h->tokenlen);
		auto usr = bytes(fb, h->user, h->userlen);
		auto pw  = bytes(fb, h->password, h->pwlen);
		auto pfx = bytes(fb, h->prefix, h->prefixlen);
		auto q = P::CreateRequest(fb, h->kind, h->sid, h->rid, h->txid,
		    c, w, r, rel, h->epoch, h->resent, h->age_ms, tok, usr, pw,
		    h->role, pfx, h->uop);
		P::FinishRequestBuffer(fb, q);
	});
}

extern "C" int
cw_schema_req_decode(const void *buf, size_t len, cw_req *r)
{
	const uint8_t *p;
	std::memset(r, 0, sizeof(*r));
	int rc = prepare(buf, len, &p, &r->own_);
	if (rc != 0)
		return rc;
	flatbuffers::Verifier v(p, len, 16, 1000000);
	if (!P::VerifyRequestBuffer(v)) {
		std::free(r->own_);
		r->own_ = nullptr;
		return CW_EPROTO;
	}
	const P::Request *q = P::GetRequest(p);
	r->kind             = q->kind();
	r->sid              = q->sid();
	r->rid              = q->rid();
	r->txid             = q->txid();
	r->epoch            = q->epoch();
	r->resent           = q->resent();
	r->age_ms           = q->age_ms();
	vec(q->clock(), &r->clock, &r->clocklen);
	vec(q->token(), &r->token, &r->tokenlen);
	vec(q->user(), &r->user, &r->userlen);
	vec(q->password(), &r->password, &r->pwlen);
	vec(q->prefix(), &r->prefix, &r->prefixlen);
	r->role    = q->role();
	r->uop     = q->uop();
	r->nwrites = q->writes() ? q->writes()->size() : 0;
	r->nreads  = q->reads() ? q->reads()->size() : 0;
	if (q->release() != nullptr) {
		if (q->release()->size() > CW_MAX_RELEASE) {
			std::free(r->own_);
			r->own_ = nullptr;
			return CW_EPROTO;
		}
		for (uint32_t i = 0; i < q->release()->size(); i++)
			r->release[i] = q->release()->Get(i);
		r->nrelease = q->release()->size();
	}
	r->root_ = q;
	return 0;
}

extern "C" void
cw_schema_req_op(const cw_req *r, bool write, size_t i, cw_op *op)
{
	const P::Request *q = static_cast<const P::Request *>(r->root_);
	const P::Op *o = (write ? q->writes() : q->reads())->Get((uint32_t) i);
	op->op         = o->op();
	vec(o->key(), &op->key, &op->kl);
	vec(o->field(), &op->field, &op->fl);
	vec(o->value(), &op->val, &op->vl);
	op->n = o->n();
}

extern "C" void
cw_schema_req_fini(cw_req *r)
{
	release(&r->own_, &r->root_);
}

extern "C" int
cw_schema_rep_encode(
    const cw_rep *h, const cw_result *res, size_t n, cw_buf *out)
{
	return build(out, 256, [&](flatbuffers::FlatBufferBuilder &fb) {
		std::vector<flatbuffers::Offset<P::Result>> rv;
		rv.reserve(n);
		for (size_t i = 0; i < n; i++) {
			const cw_result *x = &res[i];
			flatbuffers::Offset<
			    flatbuffers::Vector<flatbuffers::Offset<P::Item>>>
			    items = 0;
			if (x->list != nullptr) {
				std::vector<flatbuffers::Offset<P::Item>> iv;
				size_t m = cw_list_len(x->list);
				iv.reserve(m);
				for (size_t j = 0; j < m; j++) {
					size_t      l;
					const void *e =
					    cw_list_at(x->list, j, &l);
					iv.push_back(P::CreateItem(
					    fb, bytes(fb, e, l)));
				}
				items = fb.CreateVector(iv);
			}
			auto v = x->present ? bytes(fb, x->v, x->vl) : 0;
			rv.push_back(P::CreateResult(
			    fb, x->err, x->present, v, x->n, items));
		}
		auto results = fb.CreateVector(rv);
		auto c       = bytes(fb, h->clock, h->clocklen);
		auto st = h->nstate ? fb.CreateVector(h->state, h->nstate) : 0;
		auto du =
		    h->ndurable ? fb.CreateVector(h->durable, h->ndurable) : 0;
		std::vector<flatbuffers::Offset<P::Peer>> pv;
		for (size_t i = 0; i < h->npeers; i++) {
			const cw_schema_peer *x = &h->peers[i];
			pv.push_back(P::CreatePeer(fb, x->id, x->up,
			    x->heard_ms, fb.CreateVector(x->acked, x->nacked),
			    x->behind, x->lag_ms, x->forwarded));
		}
		auto peers = h->npeers ? fb.CreateVector(pv) : 0;
		auto esc   = fb.CreateVector(h->escrow, 4);
		auto tok   = bytes(fb, h->token, h->tokenlen);
		auto pfx   = bytes(fb, h->prefix, h->prefixlen);
		auto rep   = P::CreateReply(fb, h->err, h->failed, h->txid, c,
		      results, h->dc, h->ndc, st, h->digest, peers, esc,
		      h->requests, h->epoch, du, tok, h->role, pfx);
		fb.Finish(rep, P::RequestIdentifier());
	});
}

extern "C" int
cw_schema_rep_decode(const void *buf, size_t len, cw_rep *r)
{
	const uint8_t *p;
	std::memset(r, 0, sizeof(*r));
	int rc = prepare(buf, len, &p, &r->own_);
	if (rc != 0)
		return rc;
	flatbuffers::Verifier v(p, len, 16, 1000000);
	if (!v.VerifyBuffer<P::Reply>(P::RequestIdentifier()))
		goto bad;
	{
		const P::Reply *q = flatbuffers::GetRoot<P::Reply>(p);
		r->err            = q->err();
		r->failed         = q->failed();
		r->txid           = q->txid();
		vec(q->clock(), &r->clock, &r->clocklen);
		vec(q->token(), &r->token, &r->tokenlen);
		vec(q->prefix(), &r->prefix, &r->prefixlen);
		r->role     = q->role();
		r->nresults = q->results() ? q->results()->size() : 0;
		r->dc       = q->dc();
		r->ndc      = q->ndc();
		r->digest   = q->digest();
		r->requests = q->requests();
		r->epoch    = q->epoch();
		if (q->escrow() != nullptr) {
			uint32_t ne;
			uint64_t e[CW_SCHEMA_MAX_DEPS];
			if (!u64s(q->escrow(), e, &ne))
				goto bad;
			for (uint32_t i = 0; i < ne && i < 4; i++)
				r->escrow[i] = e[i];
		}
		r->npeers = q->peers() ? q->peers()->size() : 0;
		for (size_t i = 0; i < r->npeers; i++) {
			const auto *a = q->peers()->Get((uint32_t) i)->acked();
			if (a != nullptr && a->size() > CW_SCHEMA_MAX_DEPS)
				goto bad;
		}
		if (!u64s(q->state(), r->state, &r->nstate) ||
		    !u64s(q->durable(), r->durable, &r->ndurable))
			goto bad;
		r->root_ = q;
	}
	return 0;
bad:
	std::free(r->own_);
	r->own_ = nullptr;
	return CW_EPROTO;
}

extern "C" void
cw_schema_rep_result(const cw_rep *r, size_t i, cw_rep_result *out)
{
	const P::Reply  *q = static_cast<const P::Reply *>(r->root_);
	const P::Result *x = q->results()->Get((uint32_t) i);
	out->err           = x->err();
	out->present       = x->present();
	vec(x->value(), &out->v, &out->vl);
	out->n      = x->n();
	out->nitems = x->items() ? x->items()->size() : 0;
}

extern "C" void
cw_schema_rep_item(
    const cw_rep *r, size_t i, size_t j, const void **p, size_t *len)
{
	const P::Reply  *q = static_cast<const P::Reply *>(r->root_);
	const P::Result *x = q->results()->Get((uint32_t) i);
	vec(x->items()->Get((uint32_t) j)->v(), p, len);
}

extern "C" void
cw_schema_rep_peer(const cw_rep *r, size_t i, cw_schema_peer *out)
{
	const P::Reply *q = static_cast<const P::Reply *>(r->root_);
	const P::Peer  *x = q->peers()->Get((uint32_t) i);
	std::memset(out, 0, sizeof(*out));
	out->id        = x->id();
	out->up        = x->up();
	out->heard_ms  = x->heard_ms();
	out->behind    = x->behind();
	out->lag_ms    = x->lag_ms();
	out->forwarded = x->forwarded();
	u64s(x->acked(), out->acked, &out->nacked);
}

extern "C" void
cw_schema_rep_fini(cw_rep *r)
{
	release(&r->own_, &r->root_);
}

// ---- replication ----

namespace {

// Copies a verified vector of u64 bytewise (see cw_schema_rec_decode).
bool
u64s(const flatbuffers::Vector<uint64_t> *v, uint64_t *out, uint32_t *n)
{
	*n = 0;
	if (v == nullptr)
		return true;
	if (v->size() > CW_SCHEMA_MAX_DEPS)
		return false;
	*n               = v->size();
	const uint8_t *d = v->Data();
	for (uint32_t k = 0; k < *n; k++) {
		uint64_t x;
		std::memcpy(&x, d + 8 * (size_t) k, sizeof(x));
		out[k] = flatbuffers::EndianScalar(x);
	}
	return true;
}

} // namespace

extern "C" int
cw_schema_batch_encode(uint16_t from, uint64_t fingerprint,
    const uint64_t *state, uint32_t nstate, const void *const *recs,
    const size_t *lens, size_t n, const cw_batch_want *wants, size_t nwants,
    const cw_batch_auth *auth, cw_buf *out)
{
	if (nstate > CW_SCHEMA_MAX_DEPS)
		return CW_EINVAL;
	return build(out, 1024, [&](flatbuffers::FlatBufferBuilder &fb) {
		std::vector<flatbuffers::Offset<R::Rec>> rv;
		rv.reserve(n);
		for (size_t i = 0; i < n; i++)
			rv.push_back(R::CreateRec(fb,
			    fb.CreateVector(
			        static_cast<const uint8_t *>(recs[i]),
			        lens[i])));
		auto r  = fb.CreateVector(rv);
		auto st = fb.CreateVector(state, nstate);
		std::vector<flatbuffers::Offset<R::Want>> wv;
		for (size_t i = 0; i < nwants; i++)
			wv.push_back(R::CreateWant(fb,
			    fb.CreateVector(
			        static_cast<const uint8_t *>(wants[i].key),
			        wants[i].kl),
			    wants[i].amount, wants[i].id,
			    wants[i].background));
		auto ws = nwants ? fb.CreateVector(wv) : 0;
		flatbuffers::Offset<
		    flatbuffers::Vector<flatbuffers::Offset<R::Rec>>>
		                                                  chain = 0;
		flatbuffers::Offset<flatbuffers::Vector<uint8_t>> proof = 0;
		if (auth != nullptr) {
			std::vector<flatbuffers::Offset<R::Rec>> cv;
			for (size_t i = 0; i < auth->n; i++)
				cv.push_back(R::CreateRec(fb,
				    fb.CreateVector(
				        static_cast<const uint8_t *>(
				            auth->ders[i]),
				        auth->lens[i])));
			chain = fb.CreateVector(cv);
			proof = fb.CreateVector(
			    static_cast<const uint8_t *>(auth->sig),
			    auth->siglen);
		}
		R::FinishBatchBuffer(fb,
		    R::CreateBatch(
		        fb, from, fingerprint, st, r, ws, chain, proof));
	});
}

extern "C" int
cw_schema_batch_decode(const void *buf, size_t len, cw_batch *b)
{
	const uint8_t *p;
	std::memset(b, 0, sizeof(*b));
	int rc = prepare(buf, len, &p, &b->own_);
	if (rc != 0)
		return rc;
	flatbuffers::Verifier v(p, len, 16, 10000000);
	const R::Batch       *q = nullptr;
	if (!R::VerifyBatchBuffer(v))
		goto bad;
	q = R::GetBatch(p);
	if (!u64s(q->state(), b->state, &b->nstate))
		goto bad;
	b->from        = q->from();
	b->fingerprint = q->fingerprint();
	b->nrecs       = q->records() ? q->records()->size() : 0;
	b->nwants      = q->wants() ? q->wants()->size() : 0;
	b->nchain      = q->chain() ? q->chain()->size() : 0;
	if (q->proof() != nullptr) {
		b->proof    = q->proof()->data();
		b->prooflen = q->proof()->size();
	}
	b->root_ = q;
	return 0;
bad:
	std::free(b->own_);
	b->own_ = nullptr;
	return CW_EPROTO;
}

extern "C" void
cw_schema_batch_rec(const cw_batch *b, size_t i, const void **p, size_t *len)
{
	const R::Batch *q = static_cast<const R::Batch *>(b->root_);
	const auto     *r = q->records()->Get((uint32_t) i)->b();
	*p                = r->data();
	*len              = r->size();
}

extern "C" void
cw_schema_batch_want(const cw_batch *b, size_t i, cw_batch_want *w)
{
	const R::Batch *q = static_cast<const R::Batch *>(b->root_);
	const R::Want  *x = q->wants()->Get((uint32_t) i);
	w->key            = x->key()->data();
	w->kl             = x->key()->size();
	w->amount         = x->amount();
	w->id             = x->id();
	w->background     = x->background();
}

extern "C" void
cw_schema_batch_cert(const cw_batch *b, size_t i, const void **p, size_t *len)
{
	const R::Batch *q = static_cast<const R::Batch *>(b->root_);
	const auto     *r = q->chain()->Get((uint32_t) i)->b();
	*p                = r->data();
	*len              = r->size();
}

extern "C" void
cw_schema_batch_fini(cw_batch *b)
{
	release(&b->own_, &b->root_);
}

extern "C" int
cw_schema_ack_encode(int err, uint16_t dc, const uint64_t *state,
    uint32_t nstate, const uint8_t *nonce, cw_buf *out)
{
	return build(out, 256, [&](flatbuffers::FlatBufferBuilder &fb) {
		auto st = nstate ? fb.CreateVector(state, nstate) : 0;
		auto nc = nonce ? fb.CreateVector(nonce, CW_SCHEMA_NONCE) : 0;
		fb.Finish(
		    R::CreateAck(fb, err, dc, st, nc), R::BatchIdentifier());
	});
}

extern "C" int
cw_schema_ack_decode(const void *buf, size_t len, int *err, uint16_t *dc,
    uint64_t *state, uint32_t *nstate, uint8_t *nonce, bool *has_nonce)
{
	const uint8_t *p;
	void          *own = nullptr;
	int            rc  = prepare(buf, len, &p, &own);
	if (rc != 0)
		return rc;
	flatbuffers::Verifier v(p, len, 16, 1000);
	rc = CW_EPROTO;
	if (v.VerifyBuffer<R::Ack>(R::BatchIdentifier())) {
		const R::Ack *a  = flatbuffers::GetRoot<R::Ack>(p);
		const auto   *nc = a->nonce();
		if (u64s(a->state(), state, nstate) &&
		    (nc == nullptr || nc->size() == CW_SCHEMA_NONCE)) {
			*err = a->err();
			*dc  = a->dc();
			if (has_nonce != nullptr)
				*has_nonce = nc != nullptr;
			if (nc != nullptr && nonce != nullptr)
				std::memcpy(
				    nonce, nc->data(), CW_SCHEMA_NONCE);
			rc = 0;
		}
	}
	std::free(own);
	return rc;
}
