/* test_fuzz_regress.c: every input saved under tests/data/fuzz/ (a fuzzer finding, or an
 * input built to reproduce one) goes again through the fuzz target it came from, the
 * same entry point libFuzzer called (fuzz/fuzz_targets.c, compiled in here), so a fixed
 * crash, hang or leak stays fixed under ASan+UBSan and valgrind. A file is named
 * <target>-<what>; the table below adds, per finding, what the fixed reader must now say
 * about it. A new finding only needs its file; a row documents it. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../fuzz/fuzz_targets.c"

#define FUZZ_DATA "tests/data/fuzz/"

static char scratch_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(scratch_dir, sizeof(scratch_dir), "/tmp/gpenlab-fuzzreg-XXXXXX");
    return mkdtemp(scratch_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2 + 1);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        fail_msg("out of memory reading %s", path);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Every saved input through its target: none may crash, leak or hang. */
static void test_all_inputs_replay(void **state)
{
    (void)state;
    DIR *d = opendir(FUZZ_DATA);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char target[64];
        snprintf(target, sizeof(target), "%.*s", (int)strcspn(de->d_name, "-"), de->d_name);
        fuzz_target_fn fn = fuzz_target_find(target);
        if (!fn)
            fail_msg("%s: no fuzz target '%s' (name inputs <target>-<what>)", de->d_name, target);
        char path[512];
        snprintf(path, sizeof(path), FUZZ_DATA "%s", de->d_name);
        size_t len;
        uint8_t *data = slurp(path, &len);
        if (fn(data, len, scratch_dir) != 0)
            fail_msg("%s: target %s returned non-zero", de->d_name, target);
        free(data);
        n++;
    }
    closedir(d);
    assert_true(n > 0);
}

/* ---- what each finding now gives through the reader's own API ---- */

typedef struct finding {
    const char *file;   /* under tests/data/fuzz/ */
    int want_rc;        /* 0: accepted (and round-trips where that applies) */
    const char *want;   /* fragment of the one-line error, NULL when accepted */
} finding;

static void check_result(const finding *f, int rc, const gp_error *e)
{
    char line[1200];
    gp_error_format(e, line, sizeof(line));
    if (rc != f->want_rc)
        fail_msg("%s: got %d want %d (%s)", f->file, rc, f->want_rc, line);
    if (f->want && !strstr(line, f->want))
        fail_msg("%s: '%s' not in: %s", f->file, f->want, line);
}

/* profile: `source "a,"b c"` was accepted, and profile_write then wrote a line that did
 * not parse back (the writer cannot quote a '"'). The reader now refuses a quote inside a
 * word. close_grid: %.6g wrote 24.0000001 and 24.0000002 both as 24, so the written
 * mp_grid was no longer increasing; numbers are now written to read back exactly. */
static void test_profile_findings(void **state)
{
    (void)state;
    static const finding rows[] = {
        {"profile-quote_in_word", GP_EPARSE, "fuzz:7: unterminated quote, a quote inside a word"},
        {"profile-close_grid", 0, NULL},
    };
    gpu_profile *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
    assert_non_null(p);
    assert_non_null(q);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), FUZZ_DATA "%s", rows[i].file);
        size_t len;
        char *text = (char *)slurp(path, &len);
        gp_error e;
        gp_error_clear(&e);
        int rc = profile_parse("fuzz", text, p, &e);
        check_result(&rows[i], rc, &e);
        if (rc == 0) {
            char *buf = NULL;
            size_t blen = 0;
            FILE *f = open_memstream(&buf, &blen);
            assert_non_null(f);
            assert_int_equal(profile_write(p, f, &e), 0);
            fclose(f);
            gp_error_clear(&e);
            if (profile_parse("rewritten", buf, q, &e) != 0)
                fail_msg("%s: written profile does not parse back: %s", rows[i].file, e.msg);
            for (int k = 0; k < p->n_grid; k++)
                if (p->mp_grid[k] != q->mp_grid[k])
                    fail_msg("%s: mp_grid[%d] %.17g came back as %.17g", rows[i].file, k,
                             p->mp_grid[k], q->mp_grid[k]);
            free(buf);
        }
        free(text);
    }
    free(p);
    free(q);
}

/* cfg: a near-limit alias expansion (about 600,000 nodes from 540 bytes) is accepted
 * under the node budget and loads in a fraction of a second; the fuzz harness timed out
 * walking all of it (fixed in the harness: it walks at most FUZZ_WALK_NODES nodes). */
static void test_cfg_findings(void **state)
{
    (void)state;
    size_t len;
    char *text = (char *)slurp(FUZZ_DATA "cfg-laughs_walk", &len);
    cfg_doc *doc = NULL;
    gp_error e;
    gp_error_clear(&e);
    int rc = cfg_load_string("laughs", text, len, &doc, &e);
    if (rc != 0)
        fail_msg("cfg-laughs_walk: got %d want 0 (%s)", rc, e.msg);
    assert_non_null(cfg_map_get(cfg_root(doc), "a9"));
    cfg_free(doc);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_inputs_replay),
        cmocka_unit_test(test_profile_findings),
        cmocka_unit_test(test_cfg_findings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
