# Causeway - one plain Makefile (STYLE 24).
#
#   make            build the library, causewayd tools and tests into build/
#   make test       build and run every test (unit + integration)
#   make asan       the same under AddressSanitizer + UBSan, in build/asan
#   make bench      every benchmark, beside PostgreSQL and Redis:
#                   writes docs/benchmarks.md and docs/img/ (tools/bench.sh)
#   make verify     the longer cw-verify runs (docs/verification.md)
#   make demo       the main job (see README)
#   make deps       install the Debian packages the build needs
#   make install PREFIX=/usr/local
#
# Every target first checks that the Debian packages are present
# (tools/deps.sh): as root it installs what is missing, otherwise it prints
# the exact apt-get line and stops.

BUILD    ?= build
CC       := $(if $(filter default,$(origin CC)),gcc,$(CC))
CXX      := $(if $(filter default,$(origin CXX)),g++,$(CXX))
OPT      ?= -O2
SAN      ?=
PREFIX   ?= /usr/local

WARN     := -Wall -Wextra -Werror
INCS     := -Iinclude -Iutil -Icausal -Icrdt -Ischema -Itxn -Iescrow -Iclient -Iserver \
            -Ireplica -Isec -Iexamples/prescriptions -Itools/lab \
            -I$(BUILD)/gen
CFLAGS   := -std=c11 $(WARN) -Wpedantic -Wstrict-prototypes -D_GNU_SOURCE -fPIC \
            -MMD -MP -g $(OPT) $(SAN) $(INCS) $(EXTRA_CFLAGS)
CXXFLAGS := -std=c++17 $(WARN) -fPIC -MMD -MP -g $(OPT) $(SAN) $(INCS)
LDLIBS   := -lrocksdb -lnng -lmbedtls -lmbedx509 -lmbedcrypto -lpthread -lm
LDFLAGS  := $(SAN)

# libcauseway: what users link, the SDK and the embedded engine.
TXN_C    := txn/rocks.c txn/db.c txn/durable.c txn/tx.c txn/objects.c txn/bcounter.c \
            txn/commit.c txn/tags.c txn/remote.c txn/log.c txn/exec.c
LIB_C    := util/util.c sec/sec.c causal/causal.c crdt/crdt.c $(TXN_C) escrow/escrow.c \
            client/client.c client/net.c
LIB_CXX  := schema/schema.cc txn/rocks_log.cc txn/rocks_db.cc
LIB_OBJ  := $(LIB_C:%.c=$(BUILD)/obj/%.o) $(LIB_CXX:%.cc=$(BUILD)/obj/%.o)
# libcwserver (internal, never installed): causewayd's server, transport
# and replication; causewayd, cw-echo and the tests link it.
SRV_C    := server/server.c server/replycache.c server/users.c server/wire.c \
            replica/replica.c
SRV_OBJ  := $(SRV_C:%.c=$(BUILD)/obj/%.o)
SRV_LIB  := $(BUILD)/lib/libcwserver.a
# liblab (internal): temporary directories, causewayd processes, clusters
# and the fault relay, for the tests, the harness, cw-bench and cw-proxy.
LAB_C    := tools/lab/lab.c tools/lab/dcproc.c tools/lab/cluster.c \
            tools/lab/raw.c \
            tools/lab/proxy.c
LAB_OBJ  := $(LAB_C:%.c=$(BUILD)/obj/%.o)
LAB_LIB  := $(BUILD)/lib/liblab.a
LIB      := $(BUILD)/lib/libcauseway.a
TU       := $(BUILD)/obj/tests/unit/testutil.o
GEN      := $(BUILD)/gen/record_generated.h $(BUILD)/gen/proto_generated.h \
            $(BUILD)/gen/replica_generated.h

UNIT     := causal_test crdt_test schema_test txn_test client_test transport_test wire_test \
            server_test replycache_test escrow_test sec_test \
            crash_test fmk_test
UNIT_BIN := $(UNIT:%=$(BUILD)/tests/%) $(BUILD)/tests/fuzz_replay \
            $(BUILD)/tests/fuzz_seed $(BUILD)/tests/fuzz_peer_replay \
            $(BUILD)/tests/fuzz_peer_seed
INTEG    := net_test repl_test fmk_run_test peers_test verify_test security_test \
            users_test hostile_test
INTEG_BIN := $(INTEG:%=$(BUILD)/tests/%)
BINS     := $(BUILD)/bin/cw-bench $(BUILD)/bin/causewayd $(BUILD)/bin/cw \
            $(BUILD)/bin/cw-proxy $(BUILD)/bin/fmk $(BUILD)/bin/cw-verify
# built, never installed: they use internal modules (cw-echo measures two
# transports, cw-attack encodes requests by hand for cw-bench hostile)
INTERNAL_BINS := $(BUILD)/bin/cw-echo $(BUILD)/bin/cw-attack

DEPS_OK  := $(BUILD)/.deps-ok

.PHONY: all test asan tsan bench demo deps clean install format format-check fuzz \
        verify
.SECONDARY:

all: $(DEPS_OK) $(BUILD)/lib/libcauseway.a $(BUILD)/lib/libcauseway.so \
     $(BUILD)/lib/pkgconfig/causeway.pc $(BINS) $(INTERNAL_BINS) $(UNIT_BIN) \
     $(INTEG_BIN)

deps $(DEPS_OK):
	@sh tools/deps.sh
	@mkdir -p $(BUILD) && touch $(DEPS_OK)

$(BUILD)/gen/%_generated.h: schema/%.fbs | $(DEPS_OK)
	@mkdir -p $(dir $@)
	flatc --cpp -o $(BUILD)/gen $<

$(BUILD)/obj/%.o: %.c | $(DEPS_OK) $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cc $(GEN) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/lib/libcauseway.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SRV_LIB): $(SRV_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LAB_LIB): $(LAB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lib/libcauseway.so: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/lib/pkgconfig/causeway.pc: tools/causeway.pc.in
	@mkdir -p $(dir $@)
	sed 's|@PREFIX@|$(PREFIX)|' $< > $@

# Shipped programs link the public library and the lab, nothing of the
# tests (no cmocka).
$(BUILD)/bin/cw-bench: $(BUILD)/obj/tools/cw_bench.o $(LAB_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/cw-echo: $(BUILD)/obj/tools/cw_echo.o $(LAB_LIB) $(SRV_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/cw-attack: $(BUILD)/obj/tools/cw_attack.o $(LAB_LIB) $(SRV_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/causewayd: $(BUILD)/obj/server/main.o $(SRV_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/cw-proxy: $(BUILD)/obj/tools/cw_proxy.o $(LAB_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

# The prescription app sees the public SDK only: -Iinclude, nothing else.
EX_CFLAGS := -std=c11 $(WARN) -Wpedantic -Wstrict-prototypes -D_GNU_SOURCE \
             -MMD -MP -g $(OPT) $(SAN) -Iinclude $(EXTRA_CFLAGS)
$(BUILD)/obj/examples/%.o: examples/%.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(EX_CFLAGS) -c $< -o $@

FMK_OBJ := $(BUILD)/obj/examples/prescriptions/fmk.o
# The same operations on PostgreSQL and Redis, for the benchmark against
# peers (fmk_store.h): in the fmk program only.
PEER_OBJ := $(BUILD)/obj/examples/prescriptions/fmk_pg.o \
            $(BUILD)/obj/examples/prescriptions/fmk_redis.o
$(BUILD)/obj/examples/prescriptions/fmk_pg.o: EX_CFLAGS += -I/usr/include/postgresql

$(BUILD)/bin/fmk: $(BUILD)/obj/examples/prescriptions/main.o $(FMK_OBJ) \
                 $(PEER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpq -lhiredis

$(BUILD)/bin/cw: $(BUILD)/obj/tools/cw.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Every test links the lab, causewayd's internal library and the public
# one; the linker takes from each only what the test uses.
TEST_LIBS := $(LAB_LIB) $(SRV_LIB) $(LIB)

$(BUILD)/tests/net_test: $(BUILD)/obj/tests/integration/net_test.o \
                        $(BUILD)/obj/tests/unit/sdk_cases.o $(TU) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/fmk_run_test: $(BUILD)/obj/tests/integration/fmk_run_test.o $(FMK_OBJ) \
                            $(TU) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/obj/tests/integration/peers_test.o: CFLAGS += -I/usr/include/postgresql
$(BUILD)/tests/peers_test: $(BUILD)/obj/tests/integration/peers_test.o $(FMK_OBJ) \
                          $(PEER_OBJ) $(TU) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpq -lhiredis -lcmocka

# causewayd-bugs: causewayd with the harness's seeded bugs compiled in
# (util.h cw_test_bug, docs/verification.md); only cw-verify starts it.
BUG_SRC := util/util.c $(TXN_C) escrow/escrow.c replica/replica.c \
           server/server.c crdt/crdt.c
BUG_OBJ := $(BUG_SRC:%.c=$(BUILD)/obj/bugs/%.o)
$(BUILD)/obj/bugs/%.o: %.c | $(DEPS_OK) $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCW_TEST_BUGS -c $< -o $@

$(BUILD)/bin/causewayd-bugs: $(BUILD)/obj/server/main.o $(BUG_OBJ) \
                            $(filter-out $(BUG_SRC:%.c=$(BUILD)/obj/%.o),$(SRV_OBJ) $(LIB_OBJ))
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The harness is a shipped program too: the lab and the public library.
$(BUILD)/bin/cw-verify: $(BUILD)/bin/causewayd-bugs $(BUILD)/obj/tests/harness/verify.o \
                       $(BUILD)/obj/tests/harness/history.o \
                       $(BUILD)/obj/tests/harness/registers.o \
                       $(BUILD)/obj/tests/harness/orset.o $(FMK_OBJ) $(LAB_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $(filter-out %causewayd-bugs,$^) $(LDLIBS)

$(BUILD)/tests/verify_test: $(BUILD)/obj/tests/integration/verify_test.o $(TU) \
                           $(TEST_LIBS) | $(BUILD)/bin/cw-verify
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/fuzz_replay: $(BUILD)/obj/tests/fuzz/replay.o \
                           $(BUILD)/obj/tests/fuzz/request_fuzz.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/fuzz_seed: $(BUILD)/obj/tests/fuzz/seed.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/fuzz_peer_replay: $(BUILD)/obj/tests/fuzz/replay.o \
                                $(BUILD)/obj/tests/fuzz/peer_fuzz.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/fuzz_peer_seed: $(BUILD)/obj/tests/fuzz/peer_seed.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/fmk_test: $(BUILD)/obj/tests/unit/fmk_test.o $(FMK_OBJ) $(TU) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/client_test: $(BUILD)/obj/tests/unit/client_test.o \
                           $(BUILD)/obj/tests/unit/sdk_cases.o $(TU) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TU) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/%: $(BUILD)/obj/tests/integration/%.o $(TU) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

test: all format-check
	@sh tests/symbols.sh $(BUILD)/lib/libcauseway.a
	@rm -rf $(BUILD)/seeds && mkdir -p $(BUILD)/seeds && \
	    $(BUILD)/tests/fuzz_seed $(BUILD)/seeds && \
	    $(BUILD)/tests/fuzz_replay $(BUILD)/seeds/* \
	    $$(ls tests/fuzz/corpus/* tests/fuzz/regress/* 2>/dev/null)
	@rm -rf $(BUILD)/peer-seeds && mkdir -p $(BUILD)/peer-seeds && \
	    $(BUILD)/tests/fuzz_peer_seed $(BUILD)/peer-seeds && \
	    $(BUILD)/tests/fuzz_peer_replay $(BUILD)/peer-seeds/* \
	    $$(ls tests/fuzz/peer-corpus/* 2>/dev/null)
	@CAUSEWAYD=$(BUILD)/bin/causewayd CW_CLI=$(BUILD)/bin/cw FMK=$(BUILD)/bin/fmk \
	    CW_VERIFY=$(BUILD)/bin/cw-verify \
	    sh tests/run.sh $(BUILD)/tests $(UNIT) $(INTEG)

asan:
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	$(MAKE) BUILD=build/asan CC=clang CXX=clang++ OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -fsanitize-ignorelist=$(CURDIR)/tests/ubsan.ignore" test

# libFuzzer on the request path, bounded; new inputs it finds interesting
# go to tests/fuzz/corpus (commit the small ones), crashes to
# build/fuzz/crash-*: move those to tests/fuzz/regress with the fix.
FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang CXX=clang++ OPT=-O1 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	    build/fuzz/lib/libcauseway.a build/fuzz/lib/libcwserver.a \
	    build/fuzz/lib/liblab.a build/fuzz/obj/tests/fuzz/request_fuzz.o \
	    build/fuzz/tests/fuzz_seed
	clang++ -fsanitize=fuzzer,address,undefined -o build/fuzz/request_fuzz \
	    build/fuzz/obj/tests/fuzz/request_fuzz.o build/fuzz/lib/liblab.a \
	    build/fuzz/lib/libcwserver.a build/fuzz/lib/libcauseway.a $(LDLIBS)
	rm -rf build/fuzz/seeds && mkdir -p build/fuzz/seeds tests/fuzz/corpus && \
	    build/fuzz/tests/fuzz_seed build/fuzz/seeds
	cd build/fuzz && ./request_fuzz -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=4096 -timeout=10 -rss_limit_mb=4096 \
	    ../../tests/fuzz/corpus seeds ../../tests/fuzz/regress
	$(MAKE) BUILD=build/fuzz CC=clang CXX=clang++ OPT=-O1 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	    build/fuzz/obj/tests/fuzz/peer_fuzz.o build/fuzz/tests/fuzz_peer_seed
	clang++ -fsanitize=fuzzer,address,undefined -o build/fuzz/peer_fuzz \
	    build/fuzz/obj/tests/fuzz/peer_fuzz.o build/fuzz/lib/liblab.a \
	    build/fuzz/lib/libcwserver.a build/fuzz/lib/libcauseway.a $(LDLIBS)
	rm -rf build/fuzz/peer-seeds && mkdir -p build/fuzz/peer-seeds tests/fuzz/peer-corpus && \
	    build/fuzz/tests/fuzz_peer_seed build/fuzz/peer-seeds
	cd build/fuzz && CW_CERTS_SH=$(CURDIR)/tools/certs.sh ./peer_fuzz \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
	    -rss_limit_mb=4096 ../../tests/fuzz/peer-corpus peer-seeds

# ThreadSanitizer over the threaded tests; tests/tsan_filter.py leaves out
# the reports inside (uninstrumented) RocksDB.
TSAN_TESTS := txn_test client_test transport_test wire_test net_test repl_test
tsan:
	$(MAKE) BUILD=build/tsan CC=clang CXX=clang++ OPT=-O1 SAN=-fsanitize=thread \
	    $(TSAN_TESTS:%=build/tsan/tests/%) build/tsan/bin/causewayd build/tsan/bin/cw
	rm -f build/tsan/report.*
	for t in $(TSAN_TESTS); do \
	    TSAN_OPTIONS="halt_on_error=0 exitcode=0 report_signal_unsafe=0 log_path=$(CURDIR)/build/tsan/report" \
	    CAUSEWAYD=build/tsan/bin/causewayd CW_CLI=build/tsan/bin/cw \
	    build/tsan/tests/$$t > build/tsan/$$t.log 2>&1 || exit 1; done
	python3 tests/tsan_filter.py build/tsan/report.*

# The longer harness runs of docs/verification.md: three seeds, 120 s each,
# every fault. SEEDS="7 8" picks others.
SEEDS ?= 1 2 3
verify: all
	@for s in $(SEEDS); do \
	    CAUSEWAYD=$(BUILD)/bin/causewayd $(BUILD)/bin/cw-verify run \
	        --duration 120 --seed $$s \
	        --faults partition,kill,pause,delay,loss,skew || exit 1; done

bench: all
	@BIN=$(BUILD)/bin sh tools/bench.sh

demo: all
	@BIN=$(BUILD)/bin sh tools/demo.sh

install: all
	install -d $(PREFIX)/lib/pkgconfig $(PREFIX)/include $(PREFIX)/bin
	install -m 644 include/causeway.h $(PREFIX)/include/
	install -m 644 $(BUILD)/lib/libcauseway.a $(BUILD)/lib/libcauseway.so $(PREFIX)/lib/
	sed 's|@PREFIX@|$(PREFIX)|' tools/causeway.pc.in > $(PREFIX)/lib/pkgconfig/causeway.pc
	install -m 755 $(BINS) $(PREFIX)/bin/
	install -d $(PREFIX)/share/causeway
	install -m 755 tools/certs.sh $(PREFIX)/share/causeway/certs.sh

FORMATTED := $(shell git ls-files '*.c' '*.h' '*.cc' 2>/dev/null)

format:
	clang-format -i $(FORMATTED)

format-check:
	@if [ -z "$(FORMATTED)" ]; then echo "format-check: not a git checkout, skipped"; \
	 else clang-format --dry-run --Werror $(FORMATTED) && \
	    echo "format-check: clang-format finds nothing to change"; fi


clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
