# scrollkeep — build, run and test.
#
#   make               build ./scrollkeep (optimized, hardened)
#   make run           the main job: a private PostgreSQL under .var/, migrations, the server
#   make stop          stop that private cluster
#   make test          every test against a throwaway cluster; ends with "N passed, N failed"
#   make sanitize      the same tests on a build with AddressSanitizer and UBSan
#   make docs          regenerate the generated docs (the RLS policy map)
#   make format        clang-format every C file; make format-check fails on a difference
#   make clean
#
# BUILD selects the variant under build/: release (-O2, NDEBUG), debug (asserts on; what
# `make test` tests) and asan (asserts on, ASan + UBSan). Every library comes from pkg-config.

BUILD ?= release
O := build/$(BUILD)
PKGS := libpq libmicrohttpd jansson libcrypto

CC ?= cc
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wvla -Wno-format-nonliteral
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now

ifeq ($(BUILD),release)
  OPT := -O2 -g -DNDEBUG $(HARDEN)
  OPT_LD := $(HARDEN_LD)
else ifeq ($(BUILD),debug)
  OPT := -O1 -g $(HARDEN)
  OPT_LD := $(HARDEN_LD)
else ifeq ($(BUILD),asan)
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  OPT_LD := -fsanitize=address,undefined
else
  $(error BUILD must be release, debug or asan)
endif

# Recursive (=) so pkg-config runs when a rule needs it, after scripts/setup.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -lpthread
CFLAGS_ALL = -std=c11 -D_DEFAULT_SOURCE $(WARN) $(OPT) -MMD -MP -Isrc $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(OPT_LD) $(LDFLAGS)

LIB_SRC := $(sort $(wildcard src/core/*.c src/domain/*.c src/api/*.c src/cmd/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
LIB := $(O)/libscrollkeep.a
BIN := $(O)/scrollkeep
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:%.c=$(O)/%)

.PHONY: all run stop test sanitize docs format format-check clean build-tests
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

build-tests: $(BIN) $(UNIT_BIN)

run:
	@scripts/setup
	@$(MAKE) --no-print-directory scrollkeep
	@scripts/dev run

stop:
	@scripts/dev stop

test:
	@scripts/setup
	@$(MAKE) --no-print-directory BUILD=debug build-tests
	@tests/run build/debug

sanitize:
	@scripts/setup
	@$(MAKE) --no-print-directory BUILD=asan build-tests
	@tests/run build/asan

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
