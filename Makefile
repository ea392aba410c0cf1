# gpenlab: one hand-written Makefile. The code is in layers, each folder including only
# the folders below it (docs/architecture.md; scripts/check_layers.sh checks it):
#   base/                            errors, YAML, files, RNG, CSV, gnuplot
#   traces/ policy/ profile/ gpu/ref/  the domain readers
#   sim/                             the simulator core
#   lab/                             experiments, sweeps, reports, the results database
#   cli/ drive/ worker/ gpu/         programs: the command line, the live driver, ...
# Libraries: libgpenlab.a (base .. lab; no curl, no jansson), libgpenlab-drive.a (drive/,
# mk/drive.mk: curl, jansson) and libgpenlab-cli.a (cli/ without main.c, for tests).
#   make              build ./gpenlab
#   make test         cmocka suite, once normally and once with ASan+UBSan
#   make bench        benchmarks (figures printed, no pass/fail timing)
#   make gpu          CUDA pieces (see gpu/gpu.mk); needs nvcc
#   make help         every target
# BUILD=dir puts objects elsewhere (parallel work trees share the sources).

CC      ?= gcc
BUILD   ?= build
PKGS    := gsl sqlite3 yaml-0.1 zlib
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
# Every project include names its layer from the root: #include "base/cfg.h".
INCLUDES := -I.
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wconversion
# gpu/ref (the CPU reference networks) keeps its dense int tensor-index arithmetic, checked
# against fp64 PyTorch outputs; -Wconversion is on everywhere else (issue 15).
WARN_GPU_REF := $(filter-out -Wconversion,$(WARN))
OPT     ?= -O2 -g
# Link-time optimisation of the programs that simulate (gpenlab, the benchmarks): the
# run loop crosses sim/, traces/, profile/ and base/ at every request, and inlining across
# them took 12-15% off the static 10 M-request day (docs/performance.md, step 18). The
# library objects are fat (IR and code): the tests and the other programs link them as
# plain objects ($(NO_LTO): gcc would otherwise optimise any link that meets the IR).
# LTO= turns it off (the sanitizer and fuzz builds do).
LTO     ?= -flto=auto -ffat-lto-objects
NO_LTO  := -fno-lto
CFLAGS_ALL = $(CSTD) $(INCLUDES) $(WARN) $(OPT) $(EXTRA_CFLAGS) $(shell pkg-config --cflags $(PKGS))
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS)) -lm -lpthread $(EXTRA_LDLIBS)

LIB_SRC := $(wildcard base/*.c traces/*.c policy/*.c profile/*.c gpu/ref/*.c sim/*.c lab/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC := $(filter-out cli/main.c,$(wildcard cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
# Libraries a test links besides libgpenlab.a: the command line's (tests of cli/ code);
# mk/drive.mk adds the driver's library to the tests that need it (DRIVE_TESTS).
TEST_LIBS = $(BUILD)/libgpenlab-cli.a

.PHONY: all test test-normal test-asan check-layers bench clean gpu test-gpu bench-gpu check-deps \
        help
all: gpenlab

gpenlab: $(BUILD)/gpenlab
	cp $< $@

# The program: cli/, then the driver's library (mk/drive.mk), then libgpenlab.a.
$(BUILD)/gpenlab: $(BUILD)/cli/main.o $(BUILD)/libgpenlab-cli.a $(BUILD)/libgpenlab-drive.a \
                  $(BUILD)/libgpenlab.a
	$(CC) $(OPT) $(LTO) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_ALL) $(DRIVE_LDLIBS)

$(BUILD)/libgpenlab.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libgpenlab-cli.a: $(CLI_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_OBJ) $(CLI_OBJ) $(BUILD)/cli/main.o: OBJ_LTO := $(LTO)
$(foreach d,$(BUILD) $(BUILD)/wk $(BUILD)/gpu-bin $(BUILD)/gpu-nocuda,$(d)/gpu/ref/%.o): WARN := $(WARN_GPU_REF)
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(OBJ_LTO) -MMD -MP -c -o $@ $<

# Every test links the shared fixtures (tests/testutil.{h,c}).
$(BUILD)/tests/%: tests/%.c tests/testutil.h $(BUILD)/tests/testutil.o $(BUILD)/libgpenlab-cli.a $(BUILD)/libgpenlab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(NO_LTO) $(TEST_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< \
	    $(BUILD)/tests/testutil.o $(TEST_LIBS) $(BUILD)/libgpenlab.a \
	    $(shell pkg-config --libs cmocka) $(LDLIBS_ALL) $(TEST_LDLIBS)

$(BUILD)/tests/testutil.o: tests/testutil.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(shell pkg-config --cflags cmocka) -MMD -MP -c -o $@ $<

# Compiled with the warnings, then linked like gpenlab (warnings at the link's LTO stage
# would be -Werror's guesses across files, not the compile's checks).
$(BUILD)/bench/%.o: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LTO) -MMD -MP -c -o $@ $<
.SECONDARY: $(BENCH_BIN:%=%.o)
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libgpenlab.a
	$(CC) $(OPT) $(LTO) $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_ALL)

# The suite runs twice: an optimised build, then ASan+UBSan (halting on the first report).
# One after the other (each builds in parallel under -j): tests start servers and kill
# processes, and two suites at once would meet on ports and files.
test:
	$(MAKE) --no-print-directory test-normal
	$(MAKE) --no-print-directory test-asan

test-normal: check-layers $(TEST_BIN) gpenlab
	@scripts/run_tests.sh $(BUILD) normal

# No include may go upward or sideways between the layers (docs/architecture.md), and no
# source file calls system() or popen() (base/proc.h runs programs without a shell).
check-layers:
	@scripts/check_layers.sh

test-asan:
	$(MAKE) --no-print-directory BUILD=$(BUILD)-asan OPT="-O1 -g" LTO= \
	    EXTRA_CFLAGS="-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    $(BUILD)-asan/gpenlab $(patsubst $(BUILD)/%,$(BUILD)-asan/%,$(TEST_BIN))
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    scripts/run_tests.sh $(BUILD)-asan asan

# Each benchmark prints its figures and its targets ("target: ...: met" or "NOT met"),
# collected at the end. BENCH_SMALL=1 (CI) runs smaller inputs; docs/performance.md.
bench: $(BENCH_BIN) gpenlab
	@mkdir -p $(BUILD)/bench && rm -f $(BUILD)/bench/out-*.txt
	@for b in $(BENCH_BIN); do echo "== $$b"; \
	    $$b > $(BUILD)/bench/out-$${b##*/}.txt 2>&1; rc=$$?; cat $(BUILD)/bench/out-$${b##*/}.txt; \
	    [ $$rc -eq 0 ] || exit 1; done
	@echo "== targets (load now: $$(cut -d' ' -f1-3 /proc/loadavg))"; \
	    grep -h '^target:' $(BUILD)/bench/out-*.txt | sed 's/^target: /  /'

check-deps:
	@pkg-config --exists $(PKGS) cmocka || { echo "missing: run scripts/install_deps.sh" >&2; exit 1; }

clean:
	rm -rf $(BUILD) $(BUILD)-asan gpenlab

help:
	@echo 'gpenlab: make targets (BUILD=dir builds elsewhere; default build/)'
	@echo '  make [gpenlab]        build ./gpenlab (the command line)'
	@echo '  make test             layer check, then the cmocka suite normally and under ASan+UBSan'
	@echo '  make test-normal      layer check and the suite once, optimised (quicker)'
	@echo '  make test-asan        the suite under ASan+UBSan only'
	@echo '  make check-layers     scripts/check_layers.sh: no include upward, no system()/popen()'
	@echo '  make bench            benchmarks (figures printed, no pass/fail timing)'
	@echo '  make regress          canonical experiments against experiments/baselines/'
	@echo '  make regress-update   rewrite the baselines (commit the diff for review)'
	@echo '  make reproduce        the seed article'"'"'s tables, sweeps and HTML report (results/)'
	@echo '  make gpenlab-mpi      the MPI variant of the program (needs mpicc)'
	@echo '  make worker           gpenlab-worker, -loadgen, -loadgen-full, -promlite (live stack)'
	@echo '  make worker-gpu       gpenlab-worker-gpu (needs nvcc)'
	@echo '  make gpu              gpenlab-gpu, the CUDA pipeline and profiler (gpu/gpu.mk)'
	@echo '  make test-gpu         gpenlab-gpu selftest (on a GPU machine)'
	@echo '  make bench-gpu        GPEN timings against PyTorch (on a GPU machine)'
	@echo '  make fuzz             every libFuzzer target for FUZZ_SECONDS (default 60) each'
	@echo '  make fuzz-build       only build the fuzzers (clang)'
	@echo '  make valgrind         the suite under valgrind memcheck (VALGRIND_TESTS="...")'
	@echo '  make valgrind-ci      the CI subset of it'
	@echo '  make schemas          the npm models for the manifest schema checks'
	@echo '  make check-deps       are the build packages installed?'
	@echo '  make clean            remove $(BUILD), $(BUILD)-asan and ./gpenlab'

-include gpu/gpu.mk
# Further targets (sweeps, reports, regression, live driver) live in mk/*.mk.
-include $(wildcard mk/*.mk)
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BUILD)/cli/main.d $(BUILD)/tests/testutil.d
