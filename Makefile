# scrollkeep — build, run and test.
#
#   make               build ./scrollkeep (optimized, hardened)
#   make run           the main job: a private PostgreSQL under .var/, migrations, the server
#   make stop          stop that private cluster
#   make test          every test against a throwaway cluster; ends with "N passed, N failed"
#   make test-faults   the fault suite alone, longer (SK_FAULTS_SCALE, default 6)
#   make sanitize      the same tests on a build with AddressSanitizer and UBSan
#   make analyze       cppcheck, clang-tidy, unit tests under Valgrind, the hardening check
#   make fuzz          every libFuzzer target for FUZZ_SECONDS each (default 60)
#   make bench         the benchmarks (bench/), figures into bench/results.json
#   make docs          regenerate the generated docs (RLS map, data map, persistence standard)
#   make format        clang-format every C file; make format-check fails on a difference
#   make clean
#
# BUILD selects the variant under build/: release (-O2, NDEBUG), debug (asserts and test
# hooks on; what `make test` tests), asan (the same with ASan + UBSan) and fuzz (clang with
# libFuzzer, ASan and UBSan). Every library comes from pkg-config.

BUILD ?= release
O := build/$(BUILD)
PKGS := libpq libmicrohttpd jansson yajl libcrypto libcurl cairo pangocairo glib-2.0 libpng

CC ?= cc
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wvla -Wno-format-nonliteral
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now

ifeq ($(BUILD),release)
  OPT := -O2 -g -DNDEBUG $(HARDEN)
  OPT_LD := $(HARDEN_LD)
else ifeq ($(BUILD),debug)
  OPT := -O1 -g $(HARDEN) -DSCROLLKEEP_TEST_HOOKS
  OPT_LD := $(HARDEN_LD)
else ifeq ($(BUILD),fuzz)
  CC := clang
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -DSCROLLKEEP_TEST_HOOKS
  OPT_LD := -fsanitize=fuzzer,address,undefined
else ifeq ($(BUILD),asan)
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-DSCROLLKEEP_TEST_HOOKS
  OPT_LD := -fsanitize=address,undefined
else
  $(error BUILD must be release, debug, asan or fuzz)
endif

# Recursive (=) so pkg-config runs when a rule needs it, after scripts/setup.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -lpthread
CFLAGS_ALL = -std=c11 -D_DEFAULT_SOURCE $(WARN) $(OPT) -MMD -MP -Isrc $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(OPT_LD) $(LDFLAGS)

LIB_SRC := $(sort $(wildcard src/core/*.c src/domain/*.c src/jobs/*.c src/api/*.c src/cmd/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
LIB := $(O)/libscrollkeep.a
BIN := $(O)/scrollkeep
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:%.c=$(O)/%)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:%.c=$(O)/%)
FUZZ_SECONDS ?= 60
BENCH_SRC := $(sort $(wildcard bench/*_bench.c))
BENCH_BIN := $(BENCH_SRC:%.c=$(O)/%)


.PHONY: all run stop test test-faults analyze sanitize fuzz bench docs format format-check clean build-tests build-fuzz build-bench
.DEFAULT_GOAL := all

all: scrollkeep

scrollkeep: $(O)/scrollkeep
	@cp $< $@

# Quiet by default; `make V=1` shows whole commands.
Q := $(if $(V),,@)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(O)/src/main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs cmocka)

$(O)/fuzz/%: $(O)/fuzz/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(O)/bench/%: $(O)/bench/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

build-tests: $(BIN) $(UNIT_BIN)

build-bench: $(BIN) $(BENCH_BIN)

build-fuzz: $(FUZZ_BIN)

run:
	@scripts/setup
	@$(MAKE) --no-print-directory scrollkeep
	@scripts/dev run

stop:
	@scripts/dev stop

test:
	@scripts/setup
	@$(MAKE) --no-print-directory BUILD=debug build-tests
	@$(MAKE) --no-print-directory BUILD=fuzz build-fuzz
	@tests/run build/debug build/fuzz

# The fault suite alone, six times longer than its short form in `make test`.
test-faults:
	@scripts/setup
	@$(MAKE) --no-print-directory BUILD=debug build-tests
	@SK_SUITES=node SK_NODE_TESTS=tests/node/faults.test.mjs SK_FAULTS_SCALE=$${SK_FAULTS_SCALE:-6} tests/run build/debug

# cppcheck, clang-tidy, the unit tests under Valgrind, and the release build's hardening.
analyze:
	@scripts/setup
	@$(MAKE) --no-print-directory scrollkeep
	@$(MAKE) --no-print-directory BUILD=debug build-tests
	@scripts/analyze build/debug scrollkeep

sanitize:
	@scripts/setup
	@$(MAKE) --no-print-directory BUILD=asan build-tests
	@tests/run build/asan

fuzz:
	@scripts/setup
	@$(MAKE) --no-print-directory BUILD=fuzz build-fuzz
	@scripts/fuzz build/fuzz $(FUZZ_SECONDS)

bench:
	@scripts/setup bench
	@$(MAKE) --no-print-directory scrollkeep build-bench
	@bench/run

docs:
	@scripts/setup
	@$(MAKE) --no-print-directory BUILD=debug build-tests
	@scripts/docs build/debug/scrollkeep

FORMAT_FILES = $(shell git ls-files '*.c' '*.h')

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format: clean"

clean:
	rm -rf build scrollkeep

-include $(shell find build -name '*.d' 2>/dev/null)

# Keep the test objects between runs (they are intermediate files of a chained rule).
.SECONDARY:
