// rocks_db.cc - two calls of RocksDB's C++ DB that its C API (RocksDB 7)
// lacks: DB::VerifyChecksum, which reads every table file and checks each
// block's checksum (causewayd --check), and DB::Resume, which clears a
// background error so that writes go on once its cause is gone (a
// descriptor or the disk space a new WAL needed; docs/operations.md).
// Resume cannot clear an error RocksDB classes above kHardError (an I/O
// error creating or writing the WAL with paranoid checks on, the
// default: db/error_handler.cc's severity maps): its DBImpl::ResumeImpl
// returns that error itself, and only a reopen clears it. That case is
// told apart, so that the engine can say so (cw_db_opts.on_fatal).
//
// Like rocks_log.cc, this mirrors c.cc's wrapper,
// `struct rocksdb_t { DB* rep; }` (RocksDB 7.x; checked at compile time).
#include <rocksdb/c.h>
#include <rocksdb/db.h>
#include <rocksdb/version.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "util.h"

#if ROCKSDB_MAJOR != 7
#error "rocks_db.cc mirrors RocksDB 7's c.cc: check rocksdb_t"
#endif

struct rocksdb_t {
	rocksdb::DB *rep;
};

namespace {

// 0, or -1 with *err an owned copy of s's message (free it with
// rocksdb_free, as the C API's errors).
int
status(const rocksdb::Status &s, char **err)
{
	if (s.ok())
		return 0;
	std::string m = s.ToString();
	*err          = static_cast<char *>(std::malloc(m.size() + 1));
	if (*err != nullptr)
		std::memcpy(*err, m.c_str(), m.size() + 1);
	return -1;
}

} // namespace

extern "C" int
cw_rocks_verify(rocksdb_t *db, char **err)
{
	try {
		return status(db->rep->VerifyChecksum(), err);
	} catch (...) {
		*err = nullptr;
		return -1;
	}
}

extern "C" int
cw_rocks_resume(rocksdb_t *db, char **err)
{
	try {
		rocksdb::Status s = db->rep->Resume();
		if (status(s, err) == 0)
			return 0;
		return s.severity() > rocksdb::Status::Severity::kHardError
		    ? -2
		    : -1;
	} catch (...) {
		*err = nullptr;
		return -1;
	}
}
