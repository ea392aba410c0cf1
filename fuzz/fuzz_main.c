/* fuzz_main.c: the libFuzzer glue, built once per target with -DFUZZ_TARGET=name
 * (mk/fuzz.mk). The scratch directory is made once per process (in /dev/shm when there
 * is one, so the per-input temporary files cost no disk writes) and removed at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "fuzz/fuzz_targets.h"

#ifndef FUZZ_TARGET
#error "build with -DFUZZ_TARGET=<target> (see mk/fuzz.mk)"
#endif
#define STR2(x) #x
#define STR(x)  STR2(x)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer gives no context pointer: the scratch directory and the target live here. */
static char scratch[256];
static fuzz_target_fn target;

static void cleanup(void)
{
    if (!scratch[0])
        return;
    if (gp_remove_tree(scratch, NULL) != 0) /* no shell */
        fprintf(stderr, "fuzz: could not remove %s\n", scratch);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    target = fuzz_target_find(STR(FUZZ_TARGET));
    if (!target) {
        fprintf(stderr, "fuzz: unknown target %s\n", STR(FUZZ_TARGET));
        exit(2);
    }
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(scratch, sizeof(scratch), "%s/gpenlab-fuzz-XXXXXX", base);
    if (!mkdtemp(scratch)) {
        perror("fuzz: mkdtemp");
        exit(2);
    }
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return target(data, size, scratch); }
