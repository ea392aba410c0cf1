# mk/valgrind.mk: the cmocka suite under valgrind memcheck (issue 8), on the ordinary
# optimised build ($(BUILD), no sanitizers: valgrind and ASan do not mix).
#   make valgrind                          every tests/test_* binary
#   make valgrind VALGRIND_TESTS="test_cfg test_limits"
# A binary fails on any memcheck error, and on definite or indirect leaks
# (--errors-for-leak-kinds=definite,indirect; "still reachable" memory of libraries such
# as libcurl's global state is not an error). Programs the tests start (GPENLAB_BIN) run
# under valgrind too with VALGRIND_CHILDREN=1 (much slower). Logs: $(BUILD)/valgrind/.

VALGRIND ?= valgrind
VALGRIND_TESTS ?= $(TEST_SRC:tests/%.c=%)
VALGRIND_CHILDREN ?= 0
VALGRIND_CHILD_FLAGS := --trace-children=yes --trace-children-skip=*/sh,*/bash,*/gnuplot,*/sqlite3,*/rm
VALGRIND_FLAGS := --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --track-origins=yes --num-callers=30 --quiet \
    $(if $(filter 1,$(VALGRIND_CHILDREN)),$(VALGRIND_CHILD_FLAGS))

.PHONY: valgrind
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
