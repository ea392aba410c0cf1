/* testutil.c: the shared test fixtures (see testutil.h). */
#include "tests/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
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

void tu_card_text(char *buf, size_t cap, const char *name, double service_ms, const char *jitter,
                  double gpu_mem_mib, double req_mem_1, double req_mem_24, double cold_s)
{
    snprintf(buf, cap,
             "format gpenlab-profile 1\ncard \"%s\"\nprovenance seed\nmp_grid 1 24\n"
             "stage work image %g %g\njitter %s\neff 1 2 3 4 5 6 7 8\ngpu_mem_mib %g\n"
             "model_mem_mib 1000\nreq_mem_mib %g %g\ncold_phase start const %g\n",
             name, service_ms, service_ms, jitter, gpu_mem_mib, req_mem_1, req_mem_24, cold_s);
}

int tu_open_list(void *ctx, uint64_t seed, arrival_src **out, gp_error *err)
{
    (void)seed;
    const tu_list *l = ctx;
    return trace_open_list(l->specs, l->n, out, err);
}

int tu_open_poisson(void *ctx, uint64_t seed, arrival_src **out, gp_error *err)
{
    const tu_poisson *c = ctx;
    return trace_open_poisson(c->rate_per_s, c->duration_us, &c->mix, seed, out, err);
}

const request_row *tu_row_of(const request_log *log, uint64_t id)
{
    for (size_t i = 0; i < log->n; i++)
        if (log->row[i].id == id)
            return &log->row[i];
    fail_msg("no row for request %llu", (unsigned long long)id);
    return NULL;
}

bool tu_have_schema_check(void)
{
    if (tu_have_cmd("node") && access(TU_NODE_MODULES "/kubernetes-models", F_OK) == 0)
        return true;
    print_message("SKIP schemas: needs node and %s (scripts/install_live_deps.sh)\n",
                  TU_NODE_MODULES);
    return false;
}

typedef struct yaml_list {
    char **path;
    int n, cap;
} yaml_list;

static void yaml_list_add(yaml_list *l, const char *p)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->path = realloc(l->path, (size_t)l->cap * sizeof(*l->path));
        assert_non_null(l->path);
    }
    l->path[l->n] = strdup(p);
    assert_non_null(l->path[l->n]);
    l->n++;
}

static void yaml_list_walk(yaml_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        yaml_list_add(l, dir); /* a file */
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        size_t n = strlen(e->d_name);
        if (S_ISDIR(st.st_mode))
            yaml_list_walk(l, p);
        else if (n > 5 && strcmp(e->d_name + n - 5, ".yaml") == 0 &&
                 strcmp(e->d_name, "drive.yaml") != 0)
            yaml_list_add(l, p);
    }
    closedir(d);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tu_expect_schemas_ok(const char *const *paths, int min_ok)
{
    yaml_list l = {NULL, 0, 0};
    for (size_t i = 0; paths[i]; i++)
        yaml_list_walk(&l, paths[i]);
    qsort(l.path, (size_t)l.n, sizeof(*l.path), cmp_path);
    const char **argv = calloc((size_t)l.n + 4, sizeof(*argv));
    assert_non_null(argv);
    argv[0] = "node";
    argv[1] = "tests/schemas/validate.mjs";
    argv[2] = TU_NODE_MODULES;
    for (int i = 0; i < l.n; i++)
        argv[3 + i] = l.path[i];
    gp_proc_result r =
        tu_proc_run(&(gp_proc_spec){.argv = argv, .out = GP_PROC_CAPTURE, .err = GP_PROC_STDOUT});
    free(argv);
    if (!gp_proc_ok(&r))
        fail_msg("schema check failed:\n%s", r.out ? r.out : "(no output)");
    int oks = 0;
    for (const char *q = r.out; q && (q = strstr(q, "ok ")); q += 3)
        oks++;
    if (oks < min_ok || oks < l.n)
        fail_msg("only %d of %d manifests checked (at least %d expected):\n%s", oks, l.n, min_ok,
                 r.out);
    gp_proc_result_free(&r);
    int n = l.n;
    for (int i = 0; i < l.n; i++)
        free(l.path[i]);
    free(l.path);
    return n;
}

bool tu_schema_accepts(const char *path)
{
    gp_proc_result r = tu_proc_run(
        &(gp_proc_spec){.argv = (const char *const[]){"node", "tests/schemas/validate.mjs",
                                                      TU_NODE_MODULES, path, NULL}});
    bool ok = gp_proc_ok(&r);
    gp_proc_result_free(&r);
    return ok;
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

void tu_check_bad_configs(const char *dir, const char *prefix, int min_files, tu_refuse_fn refuse,
                          void *ctx)
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

double tu_db_mean(const char *db_path, const char *exp_name, const char *label, const char *expr)
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

void tu_bin_path(const char *name, char *buf, size_t len)
{
    const char *gpenlab = getenv("GPENLAB_BIN");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", gpenlab ? gpenlab : "build/gpenlab");
    char *slash = strrchr(path, '/');
    size_t at = slash ? (size_t)(slash + 1 - path) : 0;
    snprintf(path + at, sizeof(path) - at, "%s", name);
    char real[PATH_MAX];
    if (!realpath(path, real))
        fail_msg("%s: %s (scripts/run_tests.sh sets GPENLAB_BIN)", path, strerror(errno));
    if (strlen(real) >= len)
        fail_msg("%s: path too long", real);
    memcpy(buf, real, strlen(real) + 1);
}

bool tu_have_cmd(const char *cmd)
{
    char path[PATH_MAX];
    return gp_proc_find(cmd, NULL, path, sizeof(path)) == 0;
}

gp_proc_result tu_proc_run(const gp_proc_spec *s)
{
    gp_proc_result r;
    gp_error err;
    gp_error_clear(&err);
    if (gp_proc_run(s, &r, &err) < 0)
        fail_msg("%s", err.msg);
    return r;
}

gp_proc *tu_proc_start(const gp_proc_spec *s)
{
    gp_proc *p = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (gp_proc_start(s, &p, &err) < 0)
        fail_msg("%s", err.msg);
    return p;
}

gp_proc *tu_proc_start_log(const char *const *argv, const char *log)
{
    return tu_proc_start(&(gp_proc_spec){
        .argv = argv, .out = GP_PROC_FILE, .out_path = log, .append = true, .err = GP_PROC_STDOUT});
}

const char *tu_words(const char *const *args, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; args[i] && at + 1 < cap; i++) {
        int n = snprintf(buf + at, cap - at, "%s%s", i ? " " : "", args[i]);
        at += n > 0 ? (size_t)n : 0;
    }
    return buf;
}

gp_proc_result tu_run_bin(const char *name, const char *dir, const char *const *args,
                          const gp_proc_spec *more)
{
    char bin[PATH_MAX];
    tu_bin_path(name, bin, sizeof(bin));
    size_t n = 0;
    while (args[n])
        n++;
    const char **argv = calloc(n + 2, sizeof(*argv));
    assert_non_null(argv);
    argv[0] = bin;
    memcpy(argv + 1, args, n * sizeof(*argv));
    gp_proc_spec s = {.argv = argv,
                      .cwd = dir,
                      .out = GP_PROC_CAPTURE,
                      .err = GP_PROC_CAPTURE,
                      .timeout_ms = 600000};
    if (more) {
        s.env = more->env;
        s.run_as_uid = more->run_as_uid;
        if (more->err == GP_PROC_STDOUT)
            s.err = GP_PROC_STDOUT;
    }
    gp_proc_result r = tu_proc_run(&s);
    free(argv);
    if (!r.exited) {
        char words[512], how[128];
        gp_proc_describe(&r, how, sizeof(how));
        fail_msg("%s %s: %s; stderr:\n%s", name, tu_words(args, words, sizeof(words)), how,
                 r.err ? r.err : "");
    }
    return r;
}

gp_proc_result tu_gpenlab(const char *dir, const char *const *args)
{
    return tu_run_bin("gpenlab", dir, args, NULL);
}
