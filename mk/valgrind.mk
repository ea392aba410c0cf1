# mk/valgrind.mk: the cmocka suite under valgrind memcheck (issue 8), on the ordinary
# optimised build ($(BUILD), no sanitizers: valgrind and ASan do not mix).
#   make valgrind                          every tests/test_* binary
#   make valgrind VALGRIND_TESTS="test_cfg test_limits"
#   make valgrind-ci                       the CI subset (below)
#   make valgrind VALGRIND_JOBS=1          one binary at a time
# A binary fails on any memcheck error, and on definite or indirect leaks
# (--errors-for-leak-kinds=definite,indirect; "still reachable" memory of libraries such
# as libcurl's global state is not an error). Programs the tests start (GPENLAB_BIN) run
# under valgrind too with VALGRIND_CHILDREN=1 (much slower). Logs: $(BUILD)/valgrind/.
# Valgrind runs a program on one core, so VALGRIND_JOBS binaries (default 2, the CI
# machine's cores) run at once, the slowest first; each binary's lines come out together,
# with its wall and CPU seconds (CPU time says how slow it is when other work shares the
# cores).

VALGRIND ?= valgrind
VALGRIND_JOBS ?= 2
VALGRIND_SKIP ?=
# The slowest binaries start first, so that two at a time end together.
VALGRIND_SLOW_FIRST := test_queueing test_regress test_policies_tidal test_sweep test_limits \
    test_drive test_trace_gen test_kill_run test_results_db test_trace_real test_gpen_ref
VALGRIND_ALL := $(TEST_SRC:tests/%.c=%)
VALGRIND_TESTS ?= $(filter-out $(VALGRIND_SKIP),$(filter $(VALGRIND_ALL),$(VALGRIND_SLOW_FIRST)) \
    $(filter-out $(VALGRIND_SLOW_FIRST),$(VALGRIND_ALL)))
# CI (`make valgrind-ci`) leaves out the binaries that take over about 15 s under memcheck
# (the whole suite takes about 17 minutes on 2 cores; see docs/hardening.md). They run
# under ASan+UBSan in `make test`, and whole under `make valgrind`.
VALGRIND_CI_SKIP := test_policies_tidal test_queueing test_regress test_sweep test_trace_gen \
    test_trace_real test_gpen_ref test_drive_live test_kill_run test_exact \
    test_run_jobs test_worker_live test_trace_envelope
VALGRIND_CHILDREN ?= 0
# Only gpenlab's own programs: every other program a test starts is skipped (scripts, python3 and
# node for the schema and HTML checks, openssl, redis-server, the shell tools).
VALGRIND_CHILD_SKIP := sh bash dash *.sh env cat cp rm id pwd printf sleep true gnuplot sqlite3 python3* node \
    openssl redis-server redis-cli chromium* mpirun orterun
empty :=
space := $(empty) $(empty)
comma := ,
VALGRIND_CHILD_FLAGS := --trace-children=yes \
    --trace-children-skip=$(subst $(space),$(comma),$(VALGRIND_CHILD_SKIP:%=*/%))
VALGRIND_FLAGS := --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --track-origins=yes --num-callers=30 --quiet \
    $(if $(filter 1,$(VALGRIND_CHILDREN)),$(VALGRIND_CHILD_FLAGS))

.PHONY: valgrind valgrind-ci
valgrind-ci:
	@$(MAKE) --no-print-directory valgrind VALGRIND_SKIP="$(VALGRIND_CI_SKIP)"

valgrind: $(VALGRIND_TESTS:%=$(BUILD)/tests/%) gpenlab
	@command -v $(VALGRIND) >/dev/null 2>&1 || { echo "valgrind: not found (apt-get install valgrind)" >&2; exit 1; }
	@mkdir -p $(BUILD)/valgrind && rm -f $(BUILD)/valgrind/*
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j$(VALGRIND_JOBS) --output-sync=target \
	    $(VALGRIND_TESTS:%=valgrind-one-%); \
	secs=$$(( $$(date +%s) - start )); \
	pass=$$(cat /dev/null $(BUILD)/valgrind/*.ok 2>/dev/null | wc -l); \
	fail=$$(cat /dev/null $(BUILD)/valgrind/*.failed 2>/dev/null | tr '\n' ' '); \
	echo "valgrind: $$pass binaries clean, failed: $${fail:-none} ($$secs s, $(VALGRIND_JOBS) at a time)"; \
	[ -z "$$fail" ]

# One binary (run by `valgrind` above; always "succeeds", so that every binary runs; the
# verdict is the file $(BUILD)/valgrind/T.ok or T.failed). On a failure: cmocka's failed
# tests first, then the test's own valgrind log, then its children's.
valgrind-one-%:
	@t=$*; log=$(BUILD)/valgrind/$$t; start=$$(date +%s); \
	GPENLAB_BIN="$$PWD/$(BUILD)/gpenlab" \
	    $(VALGRIND) $(VALGRIND_FLAGS) --log-file=$$log.%p.log \
	    $(BUILD)/tests/$$t > $$log.out 2>&1 & vpid=$$!; wait $$vpid; rc=$$?; \
	secs=$$(( $$(date +%s) - start )); \
	times > $$log.times; \
	cpu=$$(awk 'NR == 2 { split($$1, u, "m"); split($$2, s, "m"); printf "%.0f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' $$log.times); \
	if [ $$rc -eq 0 ]; then echo $$t > $$log.ok; echo "valgrind $$t: ok ($$secs s, $$cpu s CPU)"; \
	else echo $$t > $$log.failed; echo "valgrind $$t: FAILED (exit $$rc, $$secs s, $$cpu s CPU)"; \
	    echo "--- $$t: failed tests (cmocka)"; \
	    grep -E '^\[  (ERROR|FAILED|LINE) +\]|^ERROR' $$log.out | head -n 40; \
	    echo "--- $$t: the end of its output"; tail -n 15 $$log.out; \
	    echo "--- $$t: valgrind's report ($$log.$$vpid.log)"; head -n 80 $$log.$$vpid.log; \
	    for c in $$log.*.log; do [ "$$c" = "$$log.$$vpid.log" ] || [ ! -s "$$c" ] || \
	        { echo "--- $$t: a child process ($$c)"; head -n 40 "$$c"; }; done; \
	    echo "--- $$t: note: a test that fails leaves what it allocated behind (cmocka jumps out" \
	         "of it), so leaks reported with failed tests are most likely theirs: fix the failure first"; \
	fi
