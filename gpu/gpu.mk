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
GPU_CFLAGS := $(CSTD) $(INCLUDES) $(WARN) -O2 -g
GPU_C_SRC := gpu/gpenlab_gpu.c gpu/gpu_common.c gpu/jpeg_io.c profile/profile.c profile/profile_derive.c \
             $(wildcard gpu/ref/*.c) base/error.c base/text.c base/fileio.c
GPU_C_OBJ := $(GPU_C_SRC:%.c=$(GPU_DIR)/%.o)
GPU_CU_HDR := gpu/gpu_kernels.cuh gpu/gpu_internal.cuh gpu/gpu_pipeline.cuh gpu/gpu.h gpu/jpeg_io.h \
              $(wildcard gpu/ref/*.h)
PYTHON    ?= python3
# -ljpeg; GPU_JPEG_LIB=-l:libjpeg.a links it statically, for a binary built here and run on the
# GPU machine (Ubuntu ships libjpeg.so.8, Debian libjpeg.so.62)
GPU_JPEG_LIB ?= -ljpeg

ifneq ($(NVCC),)
GPU_BACKEND_OBJ := $(GPU_DIR)/gpu/gpu_cuda.o
GPU_LDLIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart_static -ldl -lrt
else
GPU_BACKEND_OBJ := $(GPU_DIR)/gpu/gpu_none.o
GPU_LDLIBS :=
endif

.PHONY: gpu test-gpu bench-gpu
gpu: $(BUILD)/gpenlab-gpu

$(BUILD)/gpenlab-gpu: $(GPU_C_OBJ) $(GPU_BACKEND_OBJ)
	$(CXX) -o $@ $^ $(GPU_LDLIBS) $(GPU_JPEG_LIB) -lpthread -lm

$(GPU_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(GPU_CFLAGS) -MMD -MP -c -o $@ $<

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
	    $(PYTHON) scripts/gpen_torch.py bench --batches 1,8 | tee $(BUILD)/torch_bench.txt; \
	else echo "bench-gpu: no PyTorch with CUDA here: gpenlab figures only" >&2; : > $(BUILD)/torch_bench.txt; fi
	$(BUILD)/gpenlab-gpu bench --torch $(BUILD)/torch_bench.txt --out $(BUILD)/bench_gpu.txt

-include $(GPU_C_OBJ:.o=.d)
