/* fuzz_targets.h: the fuzzing entry points, one per reader of untrusted input.
 * Each takes the raw input bytes and a scratch directory it may write (a temporary file
 * per call, replaced each time) and returns 0; a bug shows as a crash, a sanitizer
 * report, a leak or a hang. libFuzzer drives them through fuzz_main.c; the regression
 * test (tests/test_fuzz_regress.c) includes fuzz_targets.c and feeds the saved inputs
 * of tests/data/fuzz/ through the same functions, so a fixed bug stays fixed. */
#ifndef GP_FUZZ_TARGETS_H
#define GP_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* Byte 0: plain / gzip / raw bytes, time unit; byte 1: options; the rest is the file. */
int fuzz_trace_csv(const uint8_t *data, size_t size, const char *scratch_dir);
/* Byte 0 and 1: options (columns used, window, start/end, scales); the rest is the file. */
int fuzz_envelope(const uint8_t *data, size_t size, const char *scratch_dir);
/* YAML text through cfg_load_string, then every getter on every node. */
int fuzz_cfg(const uint8_t *data, size_t size, const char *scratch_dir);
/* An experiment file through experiment_load, then each policy entry created. */
int fuzz_experiment(const uint8_t *data, size_t size, const char *scratch_dir);
/* YAML text whose policy configs are given to every registered policy's create, then a
 * few decide calls. */
int fuzz_policy(const uint8_t *data, size_t size, const char *scratch_dir);
/* A GPU profile through profile_parse; what it accepts must write and parse back. */
int fuzz_profile(const uint8_t *data, size_t size, const char *scratch_dir);
/* The live driver's file readers: drive_cfg_load and the kubeconfig reader. */
int fuzz_drive(const uint8_t *data, size_t size, const char *scratch_dir);
/* A weight file (safetensors) through every reader of one: the safetensors parser (each
 * tensor read as float), GPEN's loader (a small config) and RetinaFace's and ParseNet's
 * (width / 16, the goldens' width). */
int fuzz_weights(const uint8_t *data, size_t size, const char *scratch_dir);

/* The one CSV reader (base/csv_reader.h, plain or gzip) on any bytes: byte 0 picks plain or
 * gzip, the rest is the file; every row and field is read (as a number and a date-time
 * too), then the same file as a regression baseline (report_read_csv). Every refusal must
 * carry its reason. */
int fuzz_csv(const uint8_t *data, size_t size, const char *scratch_dir);

/* Looks a target up by name ("trace_csv", ...); NULL if unknown. */
typedef int (*fuzz_target_fn)(const uint8_t *data, size_t size, const char *scratch_dir);
fuzz_target_fn fuzz_target_find(const char *name);

#endif
