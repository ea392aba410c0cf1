/* testutil.c: the shared test fixtures (see testutil.h). */
#include "tests/testutil.h"

#include <dirent.h>
#include <math.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "base/fileio.h"

/* Test inputs are small; the fuzz findings and weight files stay below this. */
#define TU_MAX_FILE_BYTES (256u << 20)

char *tu_slurp(const char *path)
{
    char *buf;
    gp_error e;
    gp_error_clear(&e);
    return gp_read_file(path, TU_MAX_FILE_BYTES, &buf, NULL, &e) < 0 ? NULL : buf;
}

uint8_t *tu_slurp_bytes(const char *path, size_t *len)
{
    char *buf;
    gp_error e;
    gp_error_clear(&e);
    if (gp_read_file(path, TU_MAX_FILE_BYTES, &buf, len, &e) < 0)
        fail_msg("cannot read %s", path);
    return (uint8_t *)buf;
}

void tu_first_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f || !fgets(buf, (int)len, f))
        fail_msg("cannot read %s", path);
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

void tu_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s", path);
}

void tu_bin_path(const char *name, char *buf, size_t len)
{
    const char *bin = getenv("GPENLAB_BIN");
    if (!bin)
        bin = "build/gpenlab";
    const char *slash = strrchr(bin, '/');
    if (slash)
        snprintf(buf, len, "%.*s/%s", (int)(slash - bin), bin, name);
    else
        snprintf(buf, len, "./%s", name);
}

int tu_run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        fail_msg("%s: cannot start", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    char rest[4096];
    while (fread(rest, 1, sizeof(rest), p) > 0) /* let it finish writing */
        ;
    int st = pclose(p);
    if (WIFSIGNALED(st))
        fail_msg("%s: killed by signal %d", cmd, WTERMSIG(st));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tu_mkdtemp(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "/tmp/gpenlab-%s-XXXXXX", name);
    return mkdtemp(buf) ? 0 : -1;
}

int tu_rm_rf(const char *path)
{
    return gp_remove_tree(path, NULL) == 0 ? 0 : -1; /* no shell with a path inside */
}

gpu_profile *tu_profile(const char *text)
{
    gpu_profile *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    gp_error err;
    gp_error_clear(&err);
    if (profile_parse("t", text, p, &err) < 0)
        fail_msg("profile: %s", err.msg);
    return p;
}

int tu_open_list(void *ctx, uint64_t seed, arrival_src **out, gp_error *err)
{
    (void)seed;
    const tu_list *l = ctx;
    return trace_open_list(l->specs, l->n, out, err);
}

policy_decision tu_decide(const policy_ops *ops, void *st, const policy_obs *o)
{
    policy_decision d;
    policy_decision_init(&d);
    gp_error err;
    gp_error_clear(&err);
    assert_int_equal(ops->decide(st, o, &d, &err), 0);
    return d;
}

void tu_fail_error(const gp_error *e, const char *what)
{
    char line[1200];
    gp_error_format(e, line, sizeof(line));
    fail_msg("%s: %s", what, line);
    abort(); /* fail_msg does not return; this tells the compiler */
}

void tu_check_bad_files(const char *dir, const char *prefix, const char *suffix, bool exact,
                        int min_files, const char *what, tu_refuse_path_fn refuse, void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (len < sl || strcmp(e->d_name + len - sl, suffix) != 0 ||
            strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        char *text = tu_slurp(path);
        if (!text)
            fail_msg("%s: unreadable", path);
        const char *w = strstr(text, "# expect: ");
        if (!w) {
            free(text);
            fail_msg("%s: no '# expect: ' line", path);
        }
        w += strlen("# expect: ");
        char want[512];
        snprintf(want, sizeof(want), "%.*s", (int)strcspn(w, "\n"), w);
        free(text);
        gp_error err;
        gp_error_clear(&err);
        if (refuse(path, ctx, &err) >= 0)
            fail_msg("%s: accepted, want error \"%s\"", path, want);
        char got[1024];
        gp_error_format(&err, got, sizeof(got));
        if (exact ? strcmp(got, want) != 0 : strncmp(got, want, strlen(want)) != 0)
            fail_msg("%s:\n got  %s\n want %s", path, got, want);
        files++;
    }
    closedir(d);
    if (files < min_files)
        fail_msg("only %d %s found", files, what);
}

typedef struct refuse_config {
    tu_refuse_fn refuse;
    void *ctx;
} refuse_config;

static int refuse_yaml(const char *path, void *ctx, gp_error *err)
{
    const refuse_config *rc = ctx;
    cfg_doc *doc = NULL;
    if (cfg_load_file(path, &doc, err) < 0)
        fail_msg("%s: yaml: %s", path, err->msg);
    int r = rc->refuse(cfg_root(doc), rc->ctx, err);
    cfg_free(doc);
    return r;
}

void tu_check_bad_configs(const char *dir, const char *prefix, int min_files,
                          tu_refuse_fn refuse, void *ctx)
{
    char what[64];
    snprintf(what, sizeof(what), "bad %.*s configs", (int)strcspn(prefix, "_"), prefix);
    refuse_config rc = {refuse, ctx};
    tu_check_bad_files(dir, prefix, ".yaml", false, min_files, what, refuse_yaml, &rc);
}

char *tu_tag_with(const char *page, const char *marker)
{
    const char *at = strstr(page, marker);
    if (!at)
        return NULL;
    const char *open = at;
    while (open > page && *open != '<')
        open--;
    const char *close = strchr(at, '>');
    return close ? strndup(open, (size_t)(close - open + 1)) : NULL;
}

char *tu_attr(const char *tag, const char *name)
{
    char key[80];
    snprintf(key, sizeof(key), " %s=\"", name);
    const char *at = tag ? strstr(tag, key) : NULL;
    if (!at)
        return NULL;
    at += strlen(key);
    return strndup(at, strcspn(at, "\""));
}

double tu_attr_num(const char *tag, const char *name)
{
    char *v = tu_attr(tag, name);
    double d = v && v[0] ? strtod(v, NULL) : NAN;
    free(v);
    return d;
}

double tu_db_mean(const char *db_path, const char *exp_name, const char *label,
                  const char *expr)
{
    sqlite3 *db = NULL;
    double v = NAN;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT AVG(%s) FROM runs r JOIN experiments e ON e.id = r.experiment_id "
             "WHERE e.name = ?1 AND (?2 IS NULL OR r.label = ?2)",
             expr);
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, exp_name, -1, SQLITE_STATIC);
        if (label)
            sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = sqlite3_column_double(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}
