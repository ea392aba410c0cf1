# mk/fuzz.mk: libFuzzer harnesses (issue 8), built with Debian's clang
# (apt-get install clang libclang-rt-14-dev) into $(BUILD)-fuzz: the whole library is
# compiled with -fsanitize=fuzzer-no-link,address,undefined so coverage reaches into it.
#   make fuzz                 every target for FUZZ_SECONDS (default 60) each, 2 at a time
#   make fuzz FUZZ_TARGETS=cfg FUZZ_SECONDS=600
#   make fuzz FUZZ_JOBS=1     one target at a time
#   make fuzz-build           only build $(BUILD)-fuzz/fuzz/fuzz_<target>
# Seeds come from the repository's files (fuzz/make_seeds.sh); the growing corpus is kept
# in $(BUILD)-fuzz/corpus/<target>, findings in $(BUILD)-fuzz/artifacts/. Each finding
# becomes an input under tests/data/fuzz/<target>-<name> replayed by tests/test_fuzz_regress.c.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= trace_csv envelope cfg experiment policy profile drive weights csv
FUZZ_BUILD := $(BUILD)-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/fuzz_%)
# Per-run limits: a hang is an input that takes FUZZ_TIMEOUT seconds; inputs are kept
# small so that each execution stays in the millisecond range.
FUZZ_TIMEOUT ?= 10
# The library is linted by the gcc build (-Werror there); clang's extra warnings
# (e.g. -Wfor-loop-analysis) must not stop fuzzing, so they only warn here. The
# harnesses themselves keep -Werror.
FUZZ_LIB_WARN := -Wall -Wextra -Wno-unused-command-line-argument
FUZZ_HARNESS_WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
FUZZ_MAX_LEN ?= 16384
# weight files: a valid one (the seeds: tests/data/gpen, tests/data/pipe) is 0.2-0.5 MB
FUZZ_MAX_LEN_weights ?= 600000
FUZZ_RSS_MB ?= 2048

.PHONY: fuzz fuzz-build fuzz-seeds

fuzz-build: $(FUZZ_BINS)

# The instrumented libraries, by a recursive make (it always runs; it rebuilds only what
# changed). The harness reaches the driver's config reader, hence its library too.
$(FUZZ_BUILD)/libgpenlab-drive.a: $(FUZZ_BUILD)/libgpenlab.a
$(FUZZ_BUILD)/libgpenlab.a: fuzz-force
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "fuzz: $(FUZZ_CC) not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT="-O1 -g" LTO= \
	    WARN="$(FUZZ_LIB_WARN)" EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	    $(FUZZ_BUILD)/libgpenlab.a $(FUZZ_BUILD)/libgpenlab-drive.a

.PHONY: fuzz-force
fuzz-force:

# One binary per target: fuzz_main.c with the target's name, fuzz_targets.c, the library.
$(FUZZ_BUILD)/fuzz/fuzz_%: fuzz/fuzz_main.c fuzz/fuzz_targets.c fuzz/fuzz_targets.h \
                            $(FUZZ_BUILD)/libgpenlab.a $(FUZZ_BUILD)/libgpenlab-drive.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) $(INCLUDES) $(FUZZ_HARNESS_WARN) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) -DFUZZ_TARGET=$* \
	    $(shell pkg-config --cflags $(PKGS) $(DRIVE_PKGS)) -o $@ fuzz/fuzz_main.c fuzz/fuzz_targets.c \
	    $(FUZZ_BUILD)/libgpenlab-drive.a $(FUZZ_BUILD)/libgpenlab.a $(LDLIBS_ALL) $(DRIVE_LDLIBS)

fuzz-seeds:
	@fuzz/make_seeds.sh $(FUZZ_BUILD)/seeds

# Runs each target for FUZZ_SECONDS, FUZZ_JOBS at a time (libFuzzer runs on one core; 2 is
# the CI machine's cores), each target's lines together; a target with a finding fails
# (libFuzzer exits non-zero and writes the input to $(FUZZ_BUILD)/artifacts/) and no new
# target starts after it.
FUZZ_JOBS ?= 2
fuzz: fuzz-build fuzz-seeds
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) --output-sync=target $(FUZZ_TARGETS:%=fuzz-one-%)

fuzz-one-%:
	@t=$*; mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	dict=""; case $$t in cfg|experiment|policy|drive) dict="-dict=fuzz/yaml.dict";; esac; \
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(FUZZ_BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
	    -rss_limit_mb=$(FUZZ_RSS_MB) -max_len=$$(case $$t in weights) echo $(FUZZ_MAX_LEN_weights);; *) echo $(FUZZ_MAX_LEN);; esac) \
	    -print_final_stats=1 $$dict \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
	    $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/seeds/$$t </dev/null \
	    > $(FUZZ_BUILD)/fuzz_$$t.log 2>&1; rc=$$?; \
	grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE|^==[0-9]+==ERROR|^SUMMARY|ALARM|deadly signal' \
	    $(FUZZ_BUILD)/fuzz_$$t.log | sed "s/^/  $$t: /"; \
	if [ $$rc -ne 0 ]; then echo "fuzz $$t: finding (exit $$rc), see $(FUZZ_BUILD)/fuzz_$$t.log" >&2; tail -n 60 $(FUZZ_BUILD)/fuzz_$$t.log >&2; exit 1; fi
