# mk/worker.mk: the live stack of issue 7 (worker/): programs that run next to Redis on a
# GPU machine and need only libc, libjpeg and (for the GPU worker) CUDA:
#   $(BUILD)/gpenlab-worker      GPEN service process, CPU-reference stage only (tests, CI)
#   $(BUILD)/gpenlab-worker-gpu  the same with the CUDA pipeline of gpu/ (needs nvcc; without
#                                it, gpu/gpu_none.c: the stage then falls back to the CPU)
#   $(BUILD)/gpenlab-loadgen     replays an arrivals CSV onto gpen:pending (libc only)
#   $(BUILD)/gpenlab-loadgen-full  the same linked with libgpenlab: also `expand`, which
#                                turns any experiment workload into that CSV
#   $(BUILD)/gpenlab-promlite    a small scraper serving the Prometheus query API subset
#                                that `gpenlab drive` uses (Prometheus is too large to carry)
#   make worker                  all of the above that need no nvcc
#   make worker-gpu              gpenlab-worker-gpu
# The worker tests (tests/test_worker_live.c) run the CPU worker against a real redis-server.
WK_DIR    := $(BUILD)/wk
WK_CFLAGS  = $(CSTD) $(INCLUDES) $(WARN) $(OPT) $(EXTRA_CFLAGS) -pthread
# every program: Redis, HTTP, the queue, and its options through the one parser (base/opts.h)
WK_COMMON := worker/resp.c worker/httpd.c worker/queue.c worker/netaddr.c worker/wopts.c base/opts.c \
             base/error.c
# the arrivals CSV through the one CSV reader (no zlib: a plain file)
WK_CSV    := worker/arrivals.c base/csv_reader.c base/textparse.c base/text.c base/fileio.c
WK_WORKER := worker/worker.c worker/wprofile.c worker/wprofile_procs.c worker/stage.c gpu/jpeg_io.c profile/profile.c \
             $(wildcard gpu/ref/*.c)
WK_OBJ     = $(patsubst %.c,$(WK_DIR)/%.o,$(WK_COMMON) $(WK_WORKER) $(WK_CSV))

.PHONY: worker worker-gpu
worker: $(BUILD)/gpenlab-worker $(BUILD)/gpenlab-loadgen $(BUILD)/gpenlab-loadgen-full \
        $(BUILD)/gpenlab-promlite
worker-gpu: $(BUILD)/gpenlab-worker-gpu

$(WK_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WK_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gpenlab-worker: $(WK_OBJ) $(WK_DIR)/worker/stage_nocuda.o
	$(CC) $(OPT) $(EXTRA_CFLAGS) -pthread -o $@ $^ -ljpeg -lm

$(BUILD)/gpenlab-worker-gpu: $(WK_OBJ) $(WK_DIR)/worker/stage_cuda.o $(GPU_BACKEND_OBJ) \
                             $(GPU_DIR)/gpu/gpu_common.o $(GPU_JPEG_OBJ)
	$(CXX) -pthread -o $@ $^ $(GPU_LDLIBS) -ljpeg -lm

$(BUILD)/gpenlab-loadgen: $(patsubst %.c,$(WK_DIR)/%.o,$(WK_COMMON) $(WK_CSV) worker/loadgen.c)
	$(CC) $(OPT) $(EXTRA_CFLAGS) -pthread -o $@ $^ -lm

$(WK_DIR)/worker/loadgen_full.o: worker/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -pthread -DLOADGEN_WITH_TRACES -MMD -MP -c -o $@ $<

$(BUILD)/gpenlab-loadgen-full: $(patsubst %.c,$(WK_DIR)/%.o,$(WK_COMMON) worker/arrivals.c) \
                               $(WK_DIR)/worker/loadgen_full.o $(BUILD)/libgpenlab.a
	$(CC) $(OPT) $(NO_LTO) $(EXTRA_CFLAGS) -pthread -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/gpenlab-promlite: $(patsubst %.c,$(WK_DIR)/%.o,$(WK_COMMON) worker/promlite.c)
	$(CC) $(OPT) $(EXTRA_CFLAGS) -pthread -o $@ $^ -lm

# The live worker test needs the binaries of its own build (normal or ASan).
$(BUILD)/tests/test_worker_live: $(BUILD)/gpenlab-worker $(BUILD)/gpenlab-loadgen $(BUILD)/gpenlab-loadgen-full \
                                 $(BUILD)/gpenlab-promlite

-include $(wildcard $(WK_DIR)/worker/*.d $(WK_DIR)/gpu/*.d $(WK_DIR)/gpu/ref/*.d $(WK_DIR)/profile/*.d \
    $(WK_DIR)/base/*.d)
