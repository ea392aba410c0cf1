# mk/drive.mk: the live side of gpenlab (drive/): `gpenlab drive` (the same policy code
# against Prometheus, Redis and the Kubernetes scale subresource). Its sources build their
# own library, libgpenlab-drive.a, the only one that needs libcurl and jansson: the
# program and the tests in DRIVE_TESTS link it; libgpenlab.a and every other test do not.
DRIVE_PKGS := libcurl jansson
DRIVE_CFLAGS = $(shell pkg-config --cflags $(DRIVE_PKGS))
DRIVE_LDLIBS = $(shell pkg-config --libs $(DRIVE_PKGS))
# The RESP client (worker/resp.c, worker/netaddr.c) is the worker's own: one Redis client
# for both, built into this library too (the worker's programs compile their own copy).
DRIVE_SRC := $(wildcard drive/*.c) worker/resp.c worker/netaddr.c
DRIVE_OBJ := $(DRIVE_SRC:%.c=$(BUILD)/%.o)
DRIVE_TESTS := test_drive test_drive_live test_fuzz_regress test_resp test_usage test_fleet_lab

$(BUILD)/drive/%.o: drive/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(DRIVE_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libgpenlab-drive.a: $(DRIVE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(DRIVE_TESTS:%=$(BUILD)/tests/%): $(BUILD)/libgpenlab-drive.a
$(DRIVE_TESTS:%=$(BUILD)/tests/%): TEST_LIBS += $(BUILD)/libgpenlab-drive.a
$(DRIVE_TESTS:%=$(BUILD)/tests/%): TEST_CFLAGS += $(DRIVE_CFLAGS)
$(DRIVE_TESTS:%=$(BUILD)/tests/%): TEST_LDLIBS += $(DRIVE_LDLIBS)
-include $(DRIVE_OBJ:.o=.d)

# Node modules for the schema checks of exported manifests (tests/schemas/validate.mjs):
# the official Kubernetes, KEDA, Knative and prometheus-operator models, pinned by
# tests/schemas/package-lock.json, installed into build-node/ (ignored by git).
.PHONY: schemas
schemas:
	@scripts/install_live_deps.sh --npm-only
