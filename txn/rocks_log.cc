// rocks_log.cc - routes RocksDB's info log into cw_log (stderr, with
// levels) instead of a LOG file in the data directory.
//
// Why: Debian's RocksDB is built with assertions on, and when the data
// disk is full its LOG file writer asserts (writable_file_writer.h,
// sync_without_flush_called_) while the error handler logs the very
// ENOSPC that a commit just hit: the process aborts instead of returning
// the error. With the log on stderr, a full disk is an error code.
//
// RocksDB 7's C API can set a logger but not create one, so this file
// mirrors c.cc's `struct rocksdb_logger_t { std::shared_ptr<Logger> rep; }`
// (RocksDB 7.x; checked at compile time below).
#include <rocksdb/c.h>
#include <rocksdb/env.h>
#include <rocksdb/version.h>

#include <cstdarg>
#include <cstdio>
#include <memory>
#include <new>

#include "util.h"

#if ROCKSDB_MAJOR != 7
#error "rocks_log.cc mirrors RocksDB 7's c.cc: check rocksdb_logger_t"
#endif

struct rocksdb_logger_t {
	std::shared_ptr<rocksdb::Logger> rep;
};

namespace {

class CwLogger : public rocksdb::Logger {
    public:
	explicit CwLogger(rocksdb::InfoLogLevel l)
	    : rocksdb::Logger(l)
	{
	}
	using rocksdb::Logger::Logv;
	void Logv(const char *format, va_list ap) override
	{
		Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
	}
	void Logv(const rocksdb::InfoLogLevel level, const char *format,
	    va_list ap) override
	{
		int l = CW_LOG_DEBUG;
		if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL &&
		    level != rocksdb::InfoLogLevel::HEADER_LEVEL)
			l = CW_LOG_ERROR;
		else if (level == rocksdb::InfoLogLevel::WARN_LEVEL)
			l = CW_LOG_WARN;
		char msg[900];
		int  n = vsnprintf(msg, sizeof(msg), format, ap);
		if (n > 0 && (size_t) n < sizeof(msg) && msg[n - 1] == '\n')
			msg[n - 1] = '\0';
		cw_log(l, "rocksdb", "%s", msg);
	}
};

} // namespace

extern "C" int
cw_rocks_log_to_stderr(rocksdb_options_t *opts, int verbose)
{
	try {
		rocksdb_logger_t wrap;
		wrap.rep = std::make_shared<CwLogger>(verbose
		        ? rocksdb::InfoLogLevel::INFO_LEVEL
		        : rocksdb::InfoLogLevel::WARN_LEVEL);
		rocksdb_options_set_info_log(opts, &wrap);
		return 0;
	} catch (const std::bad_alloc &) {
		return CW_ENOMEM;
	}
}
