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

#include "record_generated.h"

using namespace cw::wire;

extern "C" int
cw_schema_rec_encode(uint16_t origin, uint64_t seq, uint64_t hlc,
    const uint64_t *deps, uint32_t ndeps, const cw_rec_effect *effs, size_t n,
    cw_buf *out)
{
	if (ndeps < 1 || ndeps > CW_SCHEMA_MAX_DEPS)
		return CW_EINVAL;
	try {
		flatbuffers::FlatBufferBuilder           fb(256 + n * 64);
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
		return cw_buf_put(out, fb.GetBufferPointer(), fb.GetSize());
	} catch (const std::bad_alloc &) {
		return CW_ENOMEM;
	} catch (...) {
		return CW_EINVAL;
	}
}

extern "C" int
cw_schema_rec_decode(const void *buf, size_t len, cw_rec *rec)
{
	std::memset(rec, 0, sizeof(*rec));
	if (buf == nullptr || len < 8 || len > FLATBUFFERS_MAX_BUFFER_SIZE)
		return CW_EPROTO;
	const uint8_t *p = static_cast<const uint8_t *>(buf);
	if (reinterpret_cast<uintptr_t>(p) % 8 != 0) {
		void *copy = std::aligned_alloc(8, (len + 7) / 8 * 8);
		if (copy == nullptr)
			return CW_ENOMEM;
		std::memcpy(copy, p, len);
		rec->own_ = copy;
		p         = static_cast<const uint8_t *>(copy);
	}
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
	std::free(rec->own_);
	rec->own_  = nullptr;
	rec->root_ = nullptr;
}
