/* test_gpu_run.c: `gpenlab-gpu run` from outside, on the build without CUDA
 * ($(BUILD)/gpenlab-gpu-nocuda, beside $GPENLAB_BIN): the CPU-reference path writes the
 * same output the library computes in this process (GPEN with random and with file
 * weights, whose configuration comes from the file's metadata; ParseNet narrowed), and
 * every refusal (no CUDA, bad options, missing or misshapen input, a command without a CPU
 * path) exits non-zero with one line naming what was wrong and writes no output; each
 * command's --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu/ref/gpen_load.h"
#include "gpu/ref/gpen_model.h"
#include "gpu/ref/gpen_ref.h"
#include "gpu/ref/pipe_nets.h"
#include "gpu/ref/safetensors.h"
#include "tests/testutil.h"

static char tmp_dir[256];

/* The small GPEN of the goldens: size 64, style 32, 2 MLP layers, cm 1, narrow 1/16. */
static const gpen_config SMALL = {64, 32, 2, 1, 1.0 / 16, 0.01};

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(tmp_dir, sizeof(tmp_dir), "gpurun");
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(tmp_dir);
}

static const char *path_in(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", tmp_dir, name);
    return p;
}

/* Runs the binary with args (argv[1..]); returns its exit code and what it printed (stdout
 * and stderr) in out. */
static int run_bin(const char *const *args, char *out, size_t cap)
{
    gp_proc_result r =
        tu_run_bin("gpenlab-gpu-nocuda", NULL, args, &(gp_proc_spec){.err = GP_PROC_STDOUT});
    snprintf(out, cap, "%s", r.out);
    int code = r.exit_code;
    gp_proc_result_free(&r);
    return code;
}

static void write_tensor(const char *path, const char *name, int64_t b, int64_t c, int64_t h,
                         int64_t w, const float *data)
{
    safetensors_item it = {name, 4, {b, c, h, w}, data};
    gp_error e;
    assert_int_equal(safetensors_write_f32(path, 1, &it, 0, NULL, &e), 0);
}

static float *read_tensor(const char *path, const char *name, size_t n)
{
    safetensors_file f;
    gp_error e;
    if (safetensors_open(path, &f, &e))
        fail_msg("%s: %s", path, e.msg);
    const safetensors_tensor *t = safetensors_find(&f, name);
    if (!t || safetensors_count(t) != n)
        fail_msg("%s: tensor %s missing or not %zu elements", path, name, n);
    float *d = malloc(n * sizeof(float));
    assert_int_equal(safetensors_read_f32(&f, t, d, n, &e), 0);
    safetensors_close(&f);
    return d;
}

static void test_gpen_cpu_matches_library(void **state)
{
    (void)state;
    const int B = 2;
    size_t n = (size_t)B * 3 * 64 * 64;
    float *in = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float)),
          *ref7 = malloc(n * sizeof(float));
    gpen_input_random(&SMALL, B, GPEN_DEFAULT_SEED, in);
    write_tensor(path_in("in.safetensors"), "input", B, 3, 64, 64, in);
    gp_error e;
    gpen_model m, m7;
    gpen_ref_opts ro = {GPEN_REF_F32_ACC64, GPEN_MODCONV_EXACT, NULL, NULL};
    assert_int_equal(gpen_model_init_random(&m, &SMALL, GPEN_DEFAULT_SEED, &e), 0);
    assert_int_equal(gpen_ref_forward(&m, in, B, &ro, ref, &e), 0);
    /* file weights (another seed): the configuration comes from the file's metadata */
    assert_int_equal(gpen_model_init_random(&m7, &SMALL, 7, &e), 0);
    assert_int_equal(gpen_model_save(&m7, path_in("w7.safetensors"), &e), 0);
    assert_int_equal(gpen_ref_forward(&m7, in, B, &ro, ref7, &e), 0);
    char out[4096];
    int rc =
        run_bin((const char *const[]){"run", "gpen", "--cpu", "--in", path_in("in.safetensors"),
                                      "--out", path_in("out.safetensors"), "--size", "64",
                                      "--style-dim", "32", "--n-mlp", "2", "--channel-multiplier",
                                      "1", "--narrow", "0.0625", NULL},
                out, sizeof(out));
    if (rc)
        fail_msg("exit %d: %s", rc, out);
    float *got = read_tensor(path_in("out.safetensors"), "out", n);
    assert_true(gpen_rel_l2(got, ref, n) == 0.0);
    free(got);
    rc = run_bin((const char *const[]){"run", "gpen", "--cpu", "--in", path_in("in.safetensors"),
                                       "--out", path_in("out7.safetensors"), "--weights",
                                       path_in("w7.safetensors"), NULL},
                 out, sizeof(out));
    if (rc)
        fail_msg("exit %d: %s", rc, out);
    got = read_tensor(path_in("out7.safetensors"), "out", n);
    assert_true(gpen_rel_l2(got, ref7, n) == 0.0);
    assert_true(gpen_rel_l2(got, ref, n) > 1e-3); /* the file's weights were used */
    free(got);
    gpen_model_free(&m);
    gpen_model_free(&m7);
    free(in);
    free(ref);
    free(ref7);
}

static void test_parsenet_cpu_matches_library(void **state)
{
    (void)state;
    const int S = 32;
    size_t n = (size_t)3 * (size_t)S * (size_t)S,
           no = (size_t)PIPE_PN_OUT_CH * (size_t)S * (size_t)S;
    float *in = malloc(n * sizeof(float)), *ref = malloc(no * sizeof(float));
    for (size_t i = 0; i < n; i++)
        in[i] = (float)sin(0.37 * (double)i);
    write_tensor(path_in("pin.safetensors"), "input", 1, 3, S, S, in);
    pipe_net net;
    gp_error e;
    assert_int_equal(pipe_net_open(PIPE_PARSENET, 16, NULL, GPEN_DEFAULT_SEED, &net, &e), 0);
    assert_int_equal(pipe_parsenet_forward(&net, in, 1, S, ref, &e), 0);
    pipe_net_free(&net);
    char out[4096];
    int rc = run_bin((const char *const[]){"run", "parsenet", "--cpu", "--width-div", "16", "--in",
                                           path_in("pin.safetensors"), "--out",
                                           path_in("pout.safetensors"), NULL},
                     out, sizeof(out));
    if (rc)
        fail_msg("exit %d: %s", rc, out);
    float *got = read_tensor(path_in("pout.safetensors"), "out", no);
    assert_true(gpen_rel_l2(got, ref, no) == 0.0);
    free(got);
    free(in);
    free(ref);
}

/* Each refusal: arguments (IN = a valid small GPEN input [2, 3, 64, 64], ODD = [1, 3, 40,
 * 40], BAD = a file that is no safetensors / JPEG, OUT = the output path), the exit code,
 * a phrase of the message. */
typedef struct refusal {
    const char *name, *args[20]; /* the words IN, ODD, BAD and OUT stand for paths */
    int rc;
    const char *says;
} refusal;

static const refusal REFUSALS[] = {
    {"no CUDA",
     {"run", "gpen", "--in", "IN", "--out", "OUT", "--size", "64", "--style-dim", "32", "--n-mlp",
      "2", "--channel-multiplier", "1", "--narrow", "0.0625"},
     1,
     "built without CUDA"},
    {"no --out", {"run", "gpen", "--cpu", "--in", "IN"}, 2, "--in and --out are required"},
    {"unknown option",
     {"run", "gpen", "--cpu", "--in", "IN", "--out", "OUT", "--bogus", "1"},
     2,
     "unknown option \"--bogus\""},
    {"option without value", {"run", "gpen", "--cpu", "--in", "IN", "--out"}, 2, "needs a value"},
    {"missing input",
     {"run", "gpen", "--cpu", "--in", "/nonexistent/x.safetensors", "--out", "OUT"},
     1,
     "/nonexistent/x.safetensors"},
    {"not safetensors", {"run", "gpen", "--cpu", "--in", "BAD", "--out", "OUT"}, 1, "bad.bin"},
    {"no such tensor",
     {"run", "gpen", "--cpu", "--in", "IN", "--out", "OUT", "--tensor", "nope"},
     1,
     "nope: no such tensor"},
    {"wrong size",
     {"run", "gpen", "--cpu", "--in", "IN", "--out", "OUT"},
     1,
     "expected [B, 3, 512, 512]"},
    {"bad config",
     {"run", "gpen", "--cpu", "--in", "IN", "--out", "OUT", "--size", "100"},
     1,
     "size"},
    {"narrow GPU net",
     {"run", "parsenet", "--in", "IN", "--out", "OUT", "--width-div", "16"},
     1,
     "use --cpu"},
    {"misshapen parsenet input",
     {"run", "parsenet", "--cpu", "--width-div", "16", "--in", "ODD", "--out", "OUT"},
     1,
     "multiple of 16"},
    {"misshapen retinaface input",
     {"run", "retinaface", "--cpu", "--width-div", "16", "--in", "IN", "--out", "OUT", "--tensor",
      "input"},
     1,
     "expected [1, 3, H, W]"},
    {"pipeline on the CPU",
     {"run", "pipeline", "--cpu", "--in", "BAD", "--out", "OUT"},
     2,
     "no CPU path"},
    {"pipeline, not a JPEG", {"run", "pipeline", "--in", "BAD", "--out", "OUT"}, 1, "bad.bin"},
    {"unknown network", {"run", "vgg", "--in", "IN", "--out", "OUT"}, 2, "unknown network \"vgg\""},
    {"bad precision",
     {"run", "gpen", "--cpu", "--in", "IN", "--out", "OUT", "--precision", "fp8"},
     2,
     "--precision"},
    {"bench option", {"bench", "--bogus"}, 2, "unknown option"},
    {"selftest jpeg path",
     {"selftest", "--jpeg", "gpu"},
     2,
     "--jpeg: expected auto, host or nvjpeg"},
    {"profile detector weights",
     {"profile", "--detector-weights", "x.safetensors"},
     2,
     "random detector weights"},
    /* the one option parser: each command's unknown option and bad value, the whole line */
    {"run: bad value",
     {"run", "pipeline", "--in", "BAD", "--out", "OUT", "--faces", "99"},
     2,
     "gpenlab-gpu run: --faces: expected an integer in [0, 64], got \"99\"\n"},
    {"run: no network",
     {"run", "--cpu"},
     2,
     "usage: gpenlab-gpu run gpen|retinaface|parsenet|pipeline --in FILE --out FILE [options]\n"},
    {"run: two networks",
     {"run", "gpen", "parsenet", "--in", "IN", "--out", "OUT"},
     2,
     "gpenlab-gpu run: unexpected argument \"parsenet\"\n"},
    {"bench: bad value",
     {"bench", "--reps", "0"},
     2,
     "gpenlab-gpu bench: --reps: expected an integer in [1, 100000], got \"0\"\n"},
    {"bench: bad conv kernel",
     {"bench", "--conv=tiles"},
     2,
     "gpenlab-gpu bench: --conv: expected auto, mma or wgmma, got \"tiles\"\n"},
    {"profile: bad value",
     {"profile", "--procs", "17"},
     2,
     "gpenlab-gpu profile: --procs: expected an integer in [0, 16], got \"17\"\n"},
    {"profile: unknown option",
     {"profile", "--slots", "2"},
     2,
     "gpenlab-gpu profile: unknown option \"--slots\"\n"},
    {"selftest: flag with a value",
     {"selftest", "--gpen-only=1"},
     2,
     "gpenlab-gpu selftest: --gpen-only: takes no value\n"},
    {"selftest: extra argument",
     {"selftest", "now"},
     2,
     "gpenlab-gpu selftest: unexpected argument \"now\"\n"},
    {"convcheck: no GPU options",
     {"convcheck", "--weights", "w"},
     2,
     "gpenlab-gpu convcheck: unknown option \"--weights\"\n"},
    {"derive: unknown option",
     {"profile", "derive", "--card", "t4"},
     2,
     "gpenlab-gpu profile derive: unknown option \"--card\"\n"},
    {"derive: no value",
     {"profile", "derive", "--in"},
     2,
     "gpenlab-gpu profile derive: --in: needs a value\n"},
    {"unknown command",
     {"train"},
     2,
     "gpenlab-gpu: unknown command \"train\" (selftest, bench, run, convcheck, profile)\n"},
};

static void test_refusals(void **state)
{
    (void)state;
    const int B = 2;
    size_t n = (size_t)B * 3 * 64 * 64;
    float *in = calloc(n, sizeof(float));
    write_tensor(path_in("small.safetensors"), "input", B, 3, 64, 64, in);
    write_tensor(path_in("odd.safetensors"), "input", 1, 3, 40, 40, in);
    free(in);
    FILE *f = fopen(path_in("bad.bin"), "wb");
    assert_non_null(f);
    fputs("neither safetensors nor JPEG", f);
    fclose(f);
    for (size_t i = 0; i < sizeof(REFUSALS) / sizeof(REFUSALS[0]); i++) {
        const refusal *r = &REFUSALS[i];
        char out[4096];
        const char *outp = path_in("refused.out");
        unlink(outp);
        const char *args[20] = {NULL};
        for (size_t w = 0; r->args[w]; w++) {
            const char *a = r->args[w];
            args[w] = strcmp(a, "IN") == 0    ? path_in("small.safetensors")
                      : strcmp(a, "ODD") == 0 ? path_in("odd.safetensors")
                      : strcmp(a, "BAD") == 0 ? path_in("bad.bin")
                      : strcmp(a, "OUT") == 0 ? outp
                                              : a;
        }
        int rc = run_bin(args, out, sizeof(out));
        struct stat sb;
        if (rc != r->rc || !strstr(out, r->says) || stat(outp, &sb) == 0)
            fail_msg("refusal \"%s\": exit %d (expected %d), output file %s, printed: %s (expected "
                     "a line with \"%s\")",
                     r->name, rc, r->rc, stat(outp, &sb) == 0 ? "written" : "absent", out, r->says);
        /* one line */
        char *nl = strchr(out, '\n');
        if (!nl || nl[1] != 0)
            fail_msg("refusal \"%s\": expected one line, got: %s", r->name, out);
    }
}

/* --help: every command's usage on stdout, exit 0, before any other check */
static void test_help(void **state)
{
    (void)state;
    static const struct {
        const char *args[5], *starts;
    } cases[] = {
        {{"--help"}, "usage: gpenlab-gpu selftest"},
        {{"run", "--help"}, "usage: gpenlab-gpu run gpen|retinaface|parsenet|pipeline"},
        {{"run", "gpen", "--bogus", "-h"}, "usage: gpenlab-gpu run"},
        {{"bench", "-h"}, "usage: gpenlab-gpu bench"},
        {{"profile", "--help"}, "usage: gpenlab-gpu profile [--out FILE]"},
        {{"profile", "derive", "--help"}, "usage: gpenlab-gpu profile derive"},
        {{"convcheck", "--help"}, "usage: gpenlab-gpu convcheck [--tiles]\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gp_proc_result r = tu_run_bin("gpenlab-gpu-nocuda", NULL, cases[i].args, NULL);
        char words[128];
        if (r.exit_code != 0 || strncmp(r.out, cases[i].starts, strlen(cases[i].starts)) != 0)
            fail_msg("%s: exit %d, printed: %s", tu_words(cases[i].args, words, sizeof(words)),
                     r.exit_code, r.out);
        gp_proc_result_free(&r);
    }
}

static void test_device_commands_skip_without_gpu(void **state)
{
    (void)state;
    static const char *const cmds[][5] = {
        {"selftest"}, {"bench", "--reps", "3"}, {"profile", "--quick", "--out", "/nonexistent/p"}};
    for (size_t i = 0; i < 3; i++) {
        char out[4096], words[128];
        int rc = run_bin(cmds[i], out, sizeof(out));
        if (rc != 0 || !strstr(out, "no CUDA device: skipped"))
            fail_msg("%s: exit %d, printed: %s", tu_words(cmds[i], words, sizeof(words)), rc, out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpen_cpu_matches_library),
        cmocka_unit_test(test_parsenet_cpu_matches_library),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_device_commands_skip_without_gpu),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
