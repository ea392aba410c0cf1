# gpenlab: one hand-written Makefile. Everything except sim/main.c builds one static
# library (libgpenlab.a) that the program, the tests, the benchmarks and the fuzzers link.
#   make              build ./gpenlab
#   make test         cmocka suite, once normally and once with ASan+UBSan
#   make bench        benchmarks (figures printed, no pass/fail timing)
#   make gpu          CUDA pieces (see gpu/gpu.mk); needs nvcc
# BUILD=dir puts objects elsewhere (parallel work trees share the sources).

CC      ?= gcc
BUILD   ?= build
PKGS    := gsl sqlite3 yaml-0.1 zlib
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT     ?= -O2 -g
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(EXTRA_CFLAGS) $(shell pkg-config --cflags $(PKGS))
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS)) -lm -lpthread $(EXTRA_LDLIBS)

LIB_SRC := $(filter-out sim/main.c,$(wildcard sim/*.c policy/*.c traces/*.c gpu/profile*.c gpu/ref/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test test-normal test-asan bench clean gpu test-gpu bench-gpu check-deps
all: gpenlab

gpenlab: $(BUILD)/gpenlab
	cp $< $@

$(BUILD)/gpenlab: $(BUILD)/sim/main.o $(BUILD)/libgpenlab.a
	$(CC) $(OPT) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/libgpenlab.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(BUILD)/libgpenlab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/libgpenlab.a \
	    $(shell pkg-config --libs cmocka) $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libgpenlab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libgpenlab.a $(LDLIBS_ALL)

# The suite runs twice: an optimised build, then ASan+UBSan (halting on the first report).
# One after the other (each builds in parallel under -j): tests start servers and kill
# processes, and two suites at once would meet on ports and files.
test:
	$(MAKE) --no-print-directory test-normal
	$(MAKE) --no-print-directory test-asan

test-normal: $(TEST_BIN) gpenlab
	@scripts/run_tests.sh $(BUILD) normal

test-asan:
	$(MAKE) --no-print-directory BUILD=$(BUILD)-asan OPT="-O1 -g" \
	    EXTRA_CFLAGS="-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    $(BUILD)-asan/gpenlab $(patsubst $(BUILD)/%,$(BUILD)-asan/%,$(TEST_BIN))
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    scripts/run_tests.sh $(BUILD)-asan asan

bench: $(BENCH_BIN) gpenlab
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

check-deps:
	@pkg-config --exists $(PKGS) cmocka || { echo "missing: run scripts/install_deps.sh" >&2; exit 1; }

clean:
	rm -rf $(BUILD) $(BUILD)-asan gpenlab

-include gpu/gpu.mk
# Further targets (sweeps, reports, regression, live driver) live in mk/*.mk.
-include $(wildcard mk/*.mk)
-include $(LIB_OBJ:.o=.d) $(BUILD)/sim/main.d
