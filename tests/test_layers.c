/* test_layers.c: scripts/check_layers.sh, the layer check `make test` runs first. The
 * source folders are copied once into a temporary directory; each case appends one line
 * (an #include) to one file there, runs the check and restores the file: an include upward
 * or sideways (where not allowed), or one written relative to its file, must fail naming
 * the file and line; an allowed one must pass. The same check refuses a call of system() or popen()
 * anywhere (issue 13: no shell with a path inside), but not the words in a comment or a string. The
 * unmodified copy must pass too (it is the tree under test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/testutil.h"

typedef struct layer_case {
    const char *name;
    const char *file;    /* NULL: the copy as it is */
    const char *include; /* the line appended to file */
    int want_rc;
    const char *want; /* in the output when the check fails: "FILE:LINE:" */
} layer_case;

static const layer_case cases[] = {
    {"the tree as it is", NULL, NULL, 0, NULL},
    {"sim includes lab (upward)", "sim/engine.h", "#include \"lab/lab.h\"", 1, "sim/engine.h:"},
    {"base includes traces (upward)", "base/error.h", "#include \"traces/trace.h\"", 1,
     "base/error.h:"},
    {"lab includes drive (upward)", "lab/report.c", "#include \"drive/drive.h\"", 1,
     "lab/report.c:"},
    {"lab includes cli (upward)", "lab/lab.c", "#include \"cli/commands.h\"", 1, "lab/lab.c:"},
    {"policy includes traces (sideways)", "policy/static.c", "#include \"traces/trace.h\"", 1,
     "policy/static.c:"},
    {"gpu/ref includes profile (sideways)", "gpu/ref/gpen_model.h",
     "#include \"profile/profile.h\"", 1, "gpu/ref/gpen_model.h:"},
    {"relative include in sim", "sim/metrics.c", "#include \"qhist.h\"", 1, "sim/metrics.c:"},
    {"cli includes drive (allowed)", "cli/cmd_trace.c", "#include \"drive/drive.h\"", 0, NULL},
    {"lab includes sim (downward)", "lab/plot.c", "#include \"sim/stats.h\"", 0, NULL},
    {"bench may include any layer", "bench/bench_sim.c", "#include \"cli/commands.h\"", 0, NULL},
    {"relative include in bench", "bench/bench_sim.c", "#include \"../sim/sim.h\"", 1,
     "bench/bench_sim.c:"},
    /* no shell: system() and popen() */
    {"system() in lab", "lab/lab.c", "static int sh(void) { return system(\"true\"); }", 1,
     "lab/lab.c:"},
    {"popen() in a test", "tests/test_rng.c",
     "static FILE *sh(void) { return popen(\"ls\", \"r\"); }", 1, "calls popen()"},
    {"system () in bench", "bench/bench_sim.c", "static int sh(void) { return system (\"x\"); }", 1,
     "calls system()"},
    {"system() after a comment", "base/fileio.c", "/* rm */ int rm(void) { return system(\"x\"); }",
     1, "base/fileio.c:"},
    {"system() in a comment", "lab/lab.c", "/* it used to call system(\"rm -rf x\") */", 0, NULL},
    {"popen() in a comment of lines", "worker/worker.c", "/*\n * popen(cmd, \"r\")\n */", 0, NULL},
    {"popen() after //", "cli/cmd_trace.c", "// popen(cmd, \"r\") was here", 0, NULL},
    {"system( in a string", "cli/cmd_trace.c", "static const char *const said = \"system(x)\";", 0,
     NULL},
    {"a name that ends in system", "sim/sim.c", "static int file_system(void) { return 0; }", 0,
     NULL},
};

/* The copy of the tree the cases change, one line at a time. */
static char dir[256];

static int copy_tree(void **state)
{
    (void)state;
    if (tu_mkdtemp(dir, sizeof(dir), "layers") < 0)
        return -1;
    const char *const copy[] = {"cp",    "-r",    "base", "traces", "policy", "profile",
                                "sim",   "lab",   "cli",  "drive",  "worker", "gpu",
                                "bench", "tests", dir,    NULL};
    gp_proc_result r;
    gp_error err;
    if (gp_proc_run(&(gp_proc_spec){.argv = copy, .out = GP_PROC_CAPTURE, .err = GP_PROC_STDOUT},
                    &r, &err) < 0 ||
        !gp_proc_ok(&r)) {
        fprintf(stderr, "could not copy the sources: %s\n", r.out ? r.out : err.msg);
        gp_proc_result_free(&r);
        return -1;
    }
    gp_proc_result_free(&r);
    return 0;
}

static int remove_tree(void **state)
{
    (void)state;
    return tu_rm_rf(dir);
}

static void test_layer_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const layer_case *c = &cases[i];
        char path[1200];
        struct stat st;
        if (c->file) {
            snprintf(path, sizeof(path), "%s/%s", dir, c->file);
            FILE *f = fopen(path, "a");
            if (!f || stat(path, &st) != 0)
                fail_msg("%s: cannot open %s", c->name, path);
            fprintf(f, "%s\n", c->include);
            fclose(f);
        }
        gp_proc_result r = tu_proc_run(
            &(gp_proc_spec){.argv = (const char *const[]){"scripts/check_layers.sh", dir, NULL},
                            .out = GP_PROC_CAPTURE,
                            .err = GP_PROC_STDOUT});
        if (c->file && truncate(path, st.st_size) != 0) /* the copy as it was */
            fail_msg("%s: cannot restore %s", c->name, path);
        const char *out = r.out;
        int rc = r.exited ? r.exit_code : -1;
        if (rc != c->want_rc)
            fail_msg("%s: exit %d, want %d; output:\n%s", c->name, rc, c->want_rc, out);
        if (c->want && !strstr(out, c->want))
            fail_msg("%s: output does not name %s:\n%s", c->name, c->want, out);
        /* a failing case reports exactly the one added line */
        if (c->want_rc != 0 && !strstr(out, ", 1 violation(s)"))
            fail_msg("%s: expected exactly one violation:\n%s", c->name, out);
        gp_proc_result_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_cases),
    };
    return cmocka_run_group_tests(tests, copy_tree, remove_tree);
}
