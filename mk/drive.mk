# mk/drive.mk: the live side of gpenlab (drive/): `gpenlab export` (Kubernetes manifests for
# a policy) and `gpenlab drive` (the same policy code against Prometheus, Redis and the
# Kubernetes scale subresource). Its sources join libgpenlab.a; libcurl and jansson join
# the packages every binary links (the Makefile's LDLIBS_ALL/CFLAGS_ALL read PKGS lazily).
# The top-level LIB_OBJ is already expanded when this file is read, so the objects are
# added to the archive as extra prerequisites (the archive rule archives $^).
PKGS += libcurl jansson
# The RESP client (worker/resp.c, worker/netaddr.c) is the worker's own: one client for both.
DRIVE_SRC := $(wildcard drive/*.c) worker/resp.c worker/netaddr.c
DRIVE_OBJ := $(DRIVE_SRC:%.c=$(BUILD)/%.o)
$(BUILD)/libgpenlab.a: $(DRIVE_OBJ)
-include $(DRIVE_OBJ:.o=.d)

# Node modules for the schema checks of exported manifests (tests/schemas/validate.mjs):
# the official Kubernetes, KEDA, Knative and prometheus-operator models, pinned by
# tests/schemas/package-lock.json, installed into build-node/ (ignored by git).
.PHONY: schemas
schemas:
	@scripts/install_live_deps.sh --npm-only
