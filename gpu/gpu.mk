# gpu/gpu.mk: the CUDA side of gpenlab (included by the top-level Makefile).
#   make gpu        build $(BUILD)/gpenlab-gpu (CUDA core + pipeline + profiler); without
#                   nvcc it builds the same program on gpu/gpu_none.c (every call: "built
#                   without CUDA")
#   make test-gpu   gpenlab-gpu selftest (skips with a message when no GPU is present); with
#                   PyTorch it also checks GPEN-512 against an fp64 forward of scripts/gpen_torch.py
#   make bench-gpu  PyTorch (eager, torch.compile) and gpenlab GPEN timings on this card
# The program needs only CUDA (cudart, cuBLASLt), libjpeg, libc: no GSL, SQLite or YAML.
# None of this is part of the default `make` or `make test`.

NVCC      ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
GPU_ARCH  ?= -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=sm_80
GPU_DIR   := $(BUILD)/gpu-bin
GPU_CFLAGS = $(CSTD) $(INCLUDES) $(WARN) -O2 -g
GPU_C_SRC := gpu/gpenlab_gpu.c gpu/gpu_cli.c gpu/run_cmd.c gpu/gpu_common.c gpu/jpeg_io.c profile/profile.c \
             profile/profile_derive.c $(wildcard gpu/ref/*.c) base/error.c base/opts.c base/fileio.c base/text.c \
             gpu/torch_csv.c base/csv_reader.c base/textparse.c
GPU_C_OBJ = $(GPU_C_SRC:%.c=$(GPU_DIR)/%.o) $(GPU_JPEG_OBJ)
GPU_CU_HDR := gpu/gpu_kernels.cuh gpu/gpu_internal.cuh gpu/gpu_pipeline.cuh gpu/gpu.h gpu/jpeg_io.h gpu/jpeg_gpu.h \
              $(wildcard gpu/ref/*.h)
PYTHON    ?= python3
# -ljpeg; GPU_JPEG_LIB=-l:libjpeg.a links it statically, for a binary built here and run on the
# GPU machine (Ubuntu ships libjpeg.so.8, Debian libjpeg.so.62)
GPU_JPEG_LIB ?= -ljpeg

# nvJPEG (gpu/jpeg_gpu.c) where its header is: the GPU machine has it, this development
# machine and CI do not, and build the same program with libjpeg alone (GPU_NVJPEG=0 forces
# that). Only gpu/jpeg_gpu.c depends on it, so a gpu_cuda.o built elsewhere links either way.
GPU_NVJPEG ?= $(if $(and $(NVCC),$(wildcard $(CUDA_HOME)/include/nvjpeg.h)),1,0)

ifneq ($(NVCC),)
GPU_BACKEND_OBJ := $(GPU_DIR)/gpu/gpu_cuda.o
GPU_LDLIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart_static -ldl -lrt
ifeq ($(GPU_NVJPEG),1)
GPU_LDLIBS += -lnvjpeg
GPU_JPEG_OBJ := $(GPU_DIR)/gpu/jpeg_gpu-nvjpeg.o
endif
else
GPU_BACKEND_OBJ := $(GPU_DIR)/gpu/gpu_none.o
GPU_LDLIBS :=
endif

GPU_JPEG_OBJ ?= $(GPU_DIR)/gpu/jpeg_gpu.o

.PHONY: gpu test-gpu bench-gpu gpu-objs
gpu: $(BUILD)/gpenlab-gpu

# The objects of $(BUILD)/gpenlab-gpu but the JPEG one, for relinking carried objects with
# nvJPEG on the GPU machine (scripts/gpu_session.sh); builds nothing.
gpu-objs:
	@echo $(filter-out $(GPU_JPEG_OBJ),$(GPU_C_OBJ)) $(GPU_BACKEND_OBJ)

$(BUILD)/gpenlab-gpu: $(GPU_C_OBJ) $(GPU_BACKEND_OBJ)
	$(CXX) -o $@ $^ $(GPU_LDLIBS) $(GPU_JPEG_LIB) -lpthread -lm

$(GPU_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(GPU_CFLAGS) -MMD -MP -c -o $@ $<

$(GPU_DIR)/gpu/jpeg_gpu-nvjpeg.o: gpu/jpeg_gpu.c
	@mkdir -p $(dir $@)
	$(CC) $(GPU_CFLAGS) -DGPENLAB_NVJPEG -I$(CUDA_HOME)/include -MMD -MP -c -o $@ $<

$(GPU_DIR)/gpu/gpu_cuda.o: gpu/gpu_cuda.cu $(GPU_CU_HDR)
	@mkdir -p $(dir $@)
	$(NVCC) -std=c++17 $(INCLUDES) -O3 $(GPU_ARCH) -Xcompiler -Wall -lineinfo -c -o $@ $<

test-gpu: $(BUILD)/gpenlab-gpu
	@if $(PYTHON) -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then \
	    $(PYTHON) scripts/gpen_torch.py ref $(BUILD)/gpen512_ref.safetensors && \
	    $(BUILD)/gpenlab-gpu selftest --ref $(BUILD)/gpen512_ref.safetensors; \
	else $(BUILD)/gpenlab-gpu selftest; fi

bench-gpu: $(BUILD)/gpenlab-gpu
	@if $(PYTHON) -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then \
	    $(PYTHON) scripts/gpen_torch.py bench --batches 1,8 --csv $(BUILD)/torch_bench.csv | tee $(BUILD)/torch_bench.txt; \
	else echo "bench-gpu: no PyTorch with CUDA here: gpenlab figures only" >&2; echo dtype,mode,modconv,batch,ms > $(BUILD)/torch_bench.csv; fi
	$(BUILD)/gpenlab-gpu bench --torch $(BUILD)/torch_bench.csv --out $(BUILD)/bench_gpu.txt

-include $(GPU_C_OBJ:.o=.d)

# gpenlab-gpu on gpu/gpu_none.c (and without nvJPEG) whatever this machine has, built with
# the test build's flags: tests/test_gpu_run.c runs its argument and file handling and the
# CPU-reference path of `gpenlab-gpu run` (no nvcc, no GPU needed; seconds to build).
GPU_NC_DIR = $(BUILD)/gpu-nocuda
GPU_NC_OBJ = $(patsubst %.c,$(GPU_NC_DIR)/%.o,$(GPU_C_SRC) gpu/gpu_none.c gpu/jpeg_gpu.c)

$(BUILD)/gpenlab-gpu-nocuda: $(GPU_NC_OBJ)
	$(CC) $(OPT) $(EXTRA_CFLAGS) -o $@ $^ -ljpeg -lpthread -lm

$(GPU_NC_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(INCLUDES) $(WARN) $(OPT) $(EXTRA_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/test_gpu_run: $(BUILD)/gpenlab-gpu-nocuda

-include $(GPU_NC_OBJ:.o=.d)
