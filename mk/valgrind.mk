# mk/valgrind.mk: the cmocka suite under valgrind memcheck (issue 8), on the ordinary
# optimised build ($(BUILD), no sanitizers: valgrind and ASan do not mix).
#   make valgrind                          every tests/test_* binary
#   make valgrind VALGRIND_TESTS="test_cfg test_limits"
#   make valgrind-ci                       the CI subset (below)
# A binary fails on any memcheck error, and on definite or indirect leaks
# (--errors-for-leak-kinds=definite,indirect; "still reachable" memory of libraries such
# as libcurl's global state is not an error). Programs the tests start (GPENLAB_BIN) run
# under valgrind too with VALGRIND_CHILDREN=1 (much slower). Logs: $(BUILD)/valgrind/.

VALGRIND ?= valgrind
VALGRIND_SKIP ?=
VALGRIND_TESTS ?= $(filter-out $(VALGRIND_SKIP),$(TEST_SRC:tests/%.c=%))
# CI (`make valgrind-ci`) leaves out the binaries that take over 20 s under memcheck
# (the whole suite takes about 17 minutes on 2 cores; see docs/hardening.md). They run
# under ASan+UBSan in `make test`, and whole under `make valgrind`.
VALGRIND_CI_SKIP := test_policies_tidal test_queueing test_regress test_sweep test_trace_gen \
    test_trace_real test_gpen_ref test_drive_live test_kill_run test_exact
VALGRIND_CHILDREN ?= 0
VALGRIND_CHILD_FLAGS := --trace-children=yes --trace-children-skip=*/sh,*/bash,*/gnuplot,*/sqlite3,*/rm
VALGRIND_FLAGS := --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --track-origins=yes --num-callers=30 --quiet \
    $(if $(filter 1,$(VALGRIND_CHILDREN)),$(VALGRIND_CHILD_FLAGS))

.PHONY: valgrind valgrind-ci
valgrind-ci:
	@$(MAKE) --no-print-directory valgrind VALGRIND_SKIP="$(VALGRIND_CI_SKIP)"

valgrind: $(VALGRIND_TESTS:%=$(BUILD)/tests/%) gpenlab
	@command -v $(VALGRIND) >/dev/null 2>&1 || { echo "valgrind: not found (apt-get install valgrind)" >&2; exit 1; }
	@mkdir -p $(BUILD)/valgrind && rm -f $(BUILD)/valgrind/*
	@fail=""; pass=0; \
	for t in $(VALGRIND_TESTS); do \
	    start=$$(date +%s); \
	    GPENLAB_BIN="$$PWD/$(BUILD)/gpenlab" \
	        $(VALGRIND) $(VALGRIND_FLAGS) --log-file=$(BUILD)/valgrind/$$t.%p.log \
	        $(BUILD)/tests/$$t > $(BUILD)/valgrind/$$t.out 2>&1; rc=$$?; \
	    secs=$$(( $$(date +%s) - start )); \
	    if [ $$rc -eq 0 ]; then pass=$$((pass + 1)); echo "valgrind $$t: ok ($$secs s)"; \
	    else fail="$$fail $$t"; echo "valgrind $$t: FAILED (exit $$rc, $$secs s)"; \
	        tail -n 30 $(BUILD)/valgrind/$$t.out; cat $(BUILD)/valgrind/$$t.*.log | head -n 80; fi; \
	done; \
	echo "valgrind: $$pass binaries clean, failed:$${fail:- none}"; [ -z "$$fail" ]
