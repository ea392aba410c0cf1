/* test_cfg.c: the YAML tree (places and paths), every getter's edge cases, limits
 * (alias bomb, deep nesting), schema errors, and the bad-input files of tests/data/cfg/
 * (each X.yaml has its expected one-line error in X.err). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/cfg.h"

static cfg_doc *load_ok(const char *text)
{
    cfg_doc *d = NULL;
    gp_error e;
    gp_error_clear(&e);
    int rc = cfg_load_string("t.yaml", text, strlen(text), &d, &e);
    if (rc != 0) {
        char buf[1024];
        gp_error_format(&e, buf, sizeof(buf));
        fail_msg("load failed (%d): %s\n--- text:\n%s", rc, buf, text);
    }
    return d;
}

static const char good_doc[] = "name: tidal\n"                               /* 1 */
                               "policies:\n"                                 /* 2 */
                               "  - label: static-2\n"                       /* 3 */
                               "    spec: {pods: 2}\n"                       /* 4 */
                               "  - label: hpa-70\n"                         /* 5 */
                               "    spec:\n"                                 /* 6 */
                               "      behavior:\n"                           /* 7 */
                               "        scaleDown:\n"                        /* 8 */
                               "          stabilizationWindowSeconds: 300\n" /* 9 */
                               "empty:\n"                                    /* 10 */
                               "quoted: \"\"\n";                             /* 11 */

static void test_tree_places_and_paths(void **state)
{
    (void)state;
    cfg_doc *d = load_ok(good_doc);
    const cfg_node *root = cfg_root(d);
    assert_non_null(root);
    assert_int_equal(cfg_node_kind(root), CFG_MAP);
    assert_string_equal(cfg_node_path(root), "");
    assert_int_equal(cfg_len(root), 4);
    assert_string_equal(cfg_map_key_at(root, 1), "policies");
    assert_string_equal(cfg_scalar(cfg_map_get(root, "name")), "tidal");
    assert_string_equal(cfg_node_file(root), "t.yaml");

    const cfg_node *pol = cfg_map_get(root, "policies");
    assert_int_equal(cfg_node_kind(pol), CFG_SEQ);
    assert_int_equal(cfg_len(pol), 2);
    assert_null(cfg_seq_at(pol, 2));
    const cfg_node *sd =
        cfg_map_get(cfg_map_get(cfg_map_get(cfg_seq_at(pol, 1), "spec"), "behavior"), "scaleDown");
    assert_non_null(sd);
    assert_string_equal(cfg_node_path(sd), "policies[1].spec.behavior.scaleDown");
    assert_int_equal(cfg_node_line(sd), 9);
    assert_int_equal(cfg_node_col(sd), 11);
    const cfg_node *w = cfg_map_get(sd, "stabilizationWindowSeconds");
    assert_string_equal(cfg_node_path(w),
                        "policies[1].spec.behavior.scaleDown.stabilizationWindowSeconds");
    assert_int_equal(cfg_node_line(w), 9);
    assert_int_equal(cfg_node_col(w), 39);
    const cfg_node *pods = cfg_map_get(cfg_map_get(cfg_seq_at(pol, 0), "spec"), "pods");
    assert_string_equal(cfg_node_path(pods), "policies[0].spec.pods");
    assert_int_equal(cfg_node_line(pods), 4);
    assert_int_equal(cfg_node_col(pods), 18);

    assert_true(cfg_node_is_null(cfg_map_get(root, "empty")));
    assert_false(cfg_node_is_null(cfg_map_get(root, "quoted")));
    assert_null(cfg_map_get(root, "nope"));
    assert_null(cfg_scalar(pol));
    assert_int_equal(cfg_len(cfg_map_get(root, "name")), 0);
    cfg_free(d);
}

static void test_empty_documents(void **state)
{
    (void)state;
    static const char *const texts[] = {"",      "\n\n",    "# only a comment\n",
                                        "---\n", "--- ~\n", "null\n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        cfg_doc *d = load_ok(texts[i]);
        if (cfg_root(d) != NULL)
            fail_msg("row %zu (\"%s\"): want a NULL root", i, texts[i]);
        cfg_free(d);
    }
    cfg_doc *d = load_ok("42\n");
    assert_string_equal(cfg_scalar(cfg_root(d)), "42");
    cfg_free(d);
}

static void test_missing_file(void **state)
{
    (void)state;
    cfg_doc *d = (cfg_doc *)1;
    gp_error e;
    gp_error_clear(&e);
    assert_int_equal(cfg_load_file("tests/data/cfg/no-such-file.yaml", &d, &e), GP_EIO);
    assert_null(d);
    assert_string_equal(e.file, "tests/data/cfg/no-such-file.yaml");
}

static void test_anchors_and_merge(void **state)
{
    (void)state;
    cfg_doc *d = load_ok("base: &b\n"
                         "  tolerance: 0.1\n"
                         "  window: 5m\n"
                         "a: *b\n"
                         "list: [&s 7, *s]\n"
                         "m:\n"
                         "  <<: *b\n"
                         "  window: 1m\n"
                         "n:\n"
                         "  <<: [{x: 1, y: 1}, {x: 2, z: 2}]\n");
    const cfg_node *root = cfg_root(d);
    const cfg_node *a = cfg_map_get(root, "a");
    assert_string_equal(cfg_node_path(a), "a");
    assert_string_equal(cfg_scalar(cfg_map_get(a, "tolerance")), "0.1");
    assert_string_equal(cfg_node_path(cfg_map_get(a, "tolerance")), "a.tolerance");
    /* a copy keeps the place of the text it was copied from */
    assert_int_equal(cfg_node_line(cfg_map_get(a, "tolerance")), 2);
    const cfg_node *list = cfg_map_get(root, "list");
    assert_string_equal(cfg_scalar(cfg_seq_at(list, 1)), "7");
    assert_string_equal(cfg_node_path(cfg_seq_at(list, 1)), "list[1]");
    const cfg_node *m = cfg_map_get(root, "m");
    assert_int_equal(cfg_len(m), 2);
    assert_string_equal(cfg_scalar(cfg_map_get(m, "window")), "1m");
    assert_string_equal(cfg_scalar(cfg_map_get(m, "tolerance")), "0.1");
    assert_string_equal(cfg_node_path(cfg_map_get(m, "tolerance")), "m.tolerance");
    assert_null(cfg_map_get(m, "<<"));
    const cfg_node *n = cfg_map_get(root, "n");
    assert_int_equal(cfg_len(n), 3);
    assert_string_equal(cfg_scalar(cfg_map_get(n, "x")), "1"); /* earlier source wins */
    assert_string_equal(cfg_scalar(cfg_map_get(n, "z")), "2");
    cfg_free(d);
}

/* ---------- getters: one table per type ---------- */

enum { G_DOUBLE, G_INT64, G_INT, G_BOOL, G_DURATION, G_STRING, G_ENUM };

typedef struct getter_row {
    const char *name;
    int getter;
    const char *value; /* YAML text after "v: "; NULL: key absent */
    double lo, hi;     /* bounds (converted for the integer getters) */
    int want_rc;
    double want;          /* numeric result, or bool, or enum index */
    const char *want_str; /* strings; or a substring of the error message */
    int64_t want_i;       /* when nonzero: the exact integer result (beyond 2^53) */
} getter_row;

#define DMAX 1.7976931348623157e308
static const getter_row getter_rows[] = {
    {"double plain", G_DOUBLE, "0.5", 0, 1, 1, 0.5, NULL, 0},
    {"double exponent", G_DOUBLE, "1e3", 0, 1e4, 1, 1000, NULL, 0},
    {"double signs", G_DOUBLE, "-2.5", -3, 3, 1, -2.5, NULL, 0},
    {"double plus", G_DOUBLE, "+3", -3, 3, 1, 3, NULL, 0},
    {"double leading dot", G_DOUBLE, ".25", 0, 1, 1, 0.25, NULL, 0},
    {"double quoted ok", G_DOUBLE, "\"0.75\"", 0, 1, 1, 0.75, NULL, 0},
    {"double absent", G_DOUBLE, NULL, 0, 1, 0, 0, NULL, 0},
    {"double null", G_DOUBLE, "~", 0, 1, 0, 0, NULL, 0},
    {"double empty", G_DOUBLE, "", 0, 1, 0, 0, NULL, 0},
    {"double word", G_DOUBLE, "ten", 0, 1, GP_EPARSE, 0, "expected a number in [0, 1], got \"ten\"",
     0},
    {"double nan", G_DOUBLE, "nan", -DMAX, DMAX, GP_EPARSE, 0, "expected a number, got", 0},
    {"double inf", G_DOUBLE, "inf", -DMAX, DMAX, GP_EPARSE, 0, NULL, 0},
    {"double yaml inf", G_DOUBLE, ".inf", -DMAX, DMAX, GP_EPARSE, 0, NULL, 0},
    {"double hex", G_DOUBLE, "0x10", -DMAX, DMAX, GP_EPARSE, 0, NULL, 0},
    {"double trailing junk", G_DOUBLE, "1.5x", -DMAX, DMAX, GP_EPARSE, 0, NULL, 0},
    {"double inner space", G_DOUBLE, "\" 1\"", -DMAX, DMAX, GP_EPARSE, 0, NULL, 0},
    {"double bare exponent", G_DOUBLE, "1e", -DMAX, DMAX, GP_EPARSE, 0, NULL, 0},
    {"double overflow", G_DOUBLE, "1e999", -DMAX, DMAX, GP_ERANGE, 0, "too large", 0},
    {"double underflow is 0", G_DOUBLE, "1e-400", -1, 1, 1, 0, NULL, 0},
    {"double above range", G_DOUBLE, "1.5", 0, 1, GP_ERANGE, 0, "in [0, 1], got 1.5", 0},
    {"double below range", G_DOUBLE, "-0.1", 0, DMAX, GP_ERANGE, 0, ">= 0", 0},
    {"double a map", G_DOUBLE, "{a: 1}", 0, 1, GP_EPARSE, 0, "expected a number, got a map", 0},
    {"double a seq", G_DOUBLE, "[1]", 0, 1, GP_EPARSE, 0, "got a sequence", 0},

    {"int64 plain", G_INT64, "42", -1e18, 1e18, 1, 42, NULL, 0},
    {"int64 max", G_INT64, "9223372036854775807", -1e18, 1e19, 1, 9223372036854775807.0, NULL,
     INT64_MAX},
    {"int64 min", G_INT64, "-9223372036854775808", -1e19, 1e19, 1, -9223372036854775808.0, NULL,
     INT64_MIN},
    {"int64 overflow", G_INT64, "9223372036854775808", -1e19, 1e19, GP_ERANGE, 0, "64 bits", 0},
    {"int64 underflow", G_INT64, "-9223372036854775809", -1e19, 1e19, GP_ERANGE, 0, NULL, 0},
    {"int64 fraction", G_INT64, "1.0", 0, 10, GP_EPARSE, 0, "expected an integer in [0, 10]", 0},
    {"int64 exponent", G_INT64, "1e3", 0, 1e4, GP_EPARSE, 0, NULL, 0},
    {"int64 hex", G_INT64, "0x10", 0, 100, GP_EPARSE, 0, NULL, 0},
    {"int64 sign only", G_INT64, "\"-\"", -10, 10, GP_EPARSE, 0, NULL, 0},
    {"int64 plus", G_INT64, "+7", 0, 10, 1, 7, NULL, 0},
    {"int64 above", G_INT64, "11", 0, 10, GP_ERANGE, 0, "got 11", 0},

    {"int ok", G_INT, "100000", 0, 100000, 1, 100000, NULL, 0},
    {"int above", G_INT, "100001", 0, 100000, GP_ERANGE, 0, "in [0, 100000]", 0},
    {"int huge", G_INT, "99999999999999999999", 0, 10, GP_ERANGE, 0, NULL, 0},
    {"int word", G_INT, "four", 0, 10, GP_EPARSE, 0, NULL, 0},

    {"bool true", G_BOOL, "true", 0, 0, 1, 1, NULL, 0},
    {"bool False", G_BOOL, "False", 0, 0, 1, 0, NULL, 0},
    {"bool YES", G_BOOL, "YES", 0, 0, 1, 1, NULL, 0},
    {"bool no", G_BOOL, "no", 0, 0, 1, 0, NULL, 0},
    {"bool On", G_BOOL, "On", 0, 0, 1, 1, NULL, 0},
    {"bool off", G_BOOL, "off", 0, 0, 1, 0, NULL, 0},
    {"bool 1", G_BOOL, "1", 0, 0, GP_EPARSE, 0, "expected true or false, got \"1\"", 0},
    {"bool y", G_BOOL, "y", 0, 0, GP_EPARSE, 0, NULL, 0},
    {"bool map", G_BOOL, "{}", 0, 0, GP_EPARSE, 0, NULL, 0},

    {"dur ms", G_DURATION, "250ms", 0, 1e18, 1, 250000, NULL, 0},
    {"dur s", G_DURATION, "30s", 0, 1e18, 1, 30000000, NULL, 0},
    {"dur m", G_DURATION, "5m", 0, 1e18, 1, 300000000, NULL, 0},
    {"dur h", G_DURATION, "1h", 0, 1e18, 1, 3600000000.0, NULL, 0},
    {"dur h+m", G_DURATION, "1h30m", 0, 1e18, 1, 5400000000.0, NULL, 0},
    {"dur m+s+ms", G_DURATION, "2m3s4ms", 0, 1e18, 1, 123004000, NULL, 0},
    {"dur fraction", G_DURATION, "1.5s", 0, 1e18, 1, 1500000, NULL, 0},
    {"dur fraction h", G_DURATION, "0.5h", 0, 1e18, 1, 1800000000.0, NULL, 0},
    {"dur us", G_DURATION, "100us", 0, 1e18, 1, 100, NULL, 0},
    {"dur rounds to us", G_DURATION, "0.0000006s", 0, 1e18, 1, 1, NULL, 0},
    {"dur bare seconds", G_DURATION, "30", 0, 1e18, 1, 30000000, NULL, 0},
    {"dur bare fraction", G_DURATION, "0.5", 0, 1e18, 1, 500000, NULL, 0},
    {"dur zero", G_DURATION, "0", 0, 1e18, 1, 0, NULL, 0},
    {"dur negative", G_DURATION, "-1s", -1e18, 1e18, 1, -1000000, NULL, 0},
    {"dur negative refused", G_DURATION, "-1s", 0, 1e18, GP_ERANGE, 0, NULL, 0},
    {"dur unknown unit", G_DURATION, "5x", 0, 1e18, GP_EPARSE, 0,
     "expected a duration (seconds, or like 250ms", 0},
    {"dur missing unit", G_DURATION, "1h30", 0, 1e18, GP_EPARSE, 0, NULL, 0},
    {"dur unit only", G_DURATION, "s", 0, 1e18, GP_EPARSE, 0, NULL, 0},
    {"dur space", G_DURATION, "30 s", 0, 1e18, GP_EPARSE, 0, NULL, 0},
    {"dur exponent", G_DURATION, "1e3", 0, 1e18, GP_EPARSE, 0, NULL, 0},
    {"dur max", G_DURATION, "9223372036854775807us", 0, 1e19, 1, 9223372036854775807.0, NULL,
     INT64_MAX},
    {"dur overflow us", G_DURATION, "9223372036854775808us", 0, 1e19, GP_ERANGE, 0, "too long", 0},
    {"dur overflow h", G_DURATION, "99999999999h", 0, 1e19, GP_ERANGE, 0, "too long", 0},
    {"dur max as a sum", G_DURATION, "2562047788h54s775807us", 0, 1e19, 1, 9223372036854775807.0,
     NULL, INT64_MAX},
    {"dur overflow sum", G_DURATION, "2562047788h54s775808us", 0, 1e19, GP_ERANGE, 0, NULL, 0},
    {"dur huge digits", G_DURATION, "99999999999999999999999s", 0, 1e19, GP_ERANGE, 0, NULL, 0},
    {"dur above range", G_DURATION, "2h", 0, 3600e6, GP_ERANGE, 0, "got 2h", 0},

    {"string plain", G_STRING, "hello world", 0, 0, 1, 0, "hello world", 0},
    {"string quoted number", G_STRING, "\"42\"", 0, 0, 1, 0, "42", 0},
    {"string quoted empty", G_STRING, "\"\"", 0, 0, 1, 0, "", 0},
    {"string null", G_STRING, "null", 0, 0, 0, 0, NULL, 0},
    {"string seq", G_STRING, "[a]", 0, 0, GP_EPARSE, 0, "expected a string, got a sequence", 0},

    {"enum first", G_ENUM, "shared", 0, 0, 1, 0, NULL, 0},
    {"enum second", G_ENUM, "least_conn", 0, 0, 1, 1, NULL, 0},
    {"enum typo", G_ENUM, "least_con", 0, 0, GP_EUNKNOWN, 0, "did you mean 'least_conn'?", 0},
    {"enum far", G_ENUM, "roundrobin", 0, 0, GP_EUNKNOWN, 0,
     "expected one of shared, least_conn, got \"roundrobin\"", 0},
};

static int64_t clamp_i64(double x)
{
    if (x >= 9.2e18)
        return INT64_MAX;
    if (x <= -9.2e18)
        return INT64_MIN;
    return (int64_t)x;
}

static void test_getters(void **state)
{
    (void)state;
    static const char *const modes[] = {"shared", "least_conn", NULL};
    for (size_t i = 0; i < sizeof(getter_rows) / sizeof(getter_rows[0]); i++) {
        const getter_row *r = &getter_rows[i];
        char text[256];
        if (r->value)
            snprintf(text, sizeof(text), "other: 1\nv: %s\n", r->value);
        else
            snprintf(text, sizeof(text), "other: 1\n");
        cfg_doc *d = load_ok(text);
        const cfg_node *m = cfg_root(d);
        gp_error e;
        gp_error_clear(&e);
        int rc = -100;
        double got = 0;
        int64_t got_i = 0;
        const char *got_s = NULL;
        switch (r->getter) {
        case G_DOUBLE: rc = cfg_opt_double(m, "v", r->lo, r->hi, &got, &e); break;
        case G_INT64: {
            int64_t v = 0;
            rc = cfg_opt_int64(m, "v", clamp_i64(r->lo), clamp_i64(r->hi), &v, &e);
            got = (double)v;
            got_i = v;
            break;
        }
        case G_INT: {
            int v = 0;
            rc = cfg_opt_int(m, "v", (int)r->lo, (int)r->hi, &v, &e);
            got = v;
            break;
        }
        case G_BOOL: {
            bool v = false;
            rc = cfg_opt_bool(m, "v", &v, &e);
            got = v;
            break;
        }
        case G_DURATION: {
            int64_t v = 0;
            rc = cfg_opt_duration_us(m, "v", clamp_i64(r->lo), clamp_i64(r->hi), &v, &e);
            got = (double)v;
            got_i = v;
            break;
        }
        case G_STRING: rc = cfg_opt_string(m, "v", &got_s, &e); break;
        case G_ENUM: {
            int v = -1;
            rc = cfg_opt_enum(m, "v", modes, &v, &e);
            got = v;
            break;
        }
        }
        if (rc != r->want_rc)
            fail_msg("%s: got rc %d want %d (msg \"%s\")", r->name, rc, r->want_rc, e.msg);
        if (rc == 1 && r->getter == G_STRING) {
            if (strcmp(got_s, r->want_str) != 0)
                fail_msg("%s: got \"%s\" want \"%s\"", r->name, got_s, r->want_str);
        } else if (rc == 1 && r->want_i != 0 && got_i != r->want_i) {
            fail_msg("%s: got %" PRId64 " want %" PRId64, r->name, got_i, r->want_i);
        } else if (rc == 1 && got != r->want) {
            fail_msg("%s: got %.17g want %.17g", r->name, got, r->want);
        }
        if (rc < 0) {
            /* every error names the place and the full path of the value */
            if (strcmp(e.file, "t.yaml") != 0 || e.line != 2 || e.col != 4 ||
                strcmp(e.field, "v") != 0)
                fail_msg("%s: error place %s:%ld:%ld field '%s', want t.yaml:2:4 field 'v'",
                         r->name, e.file, e.line, e.col, e.field);
            if (e.code != rc)
                fail_msg("%s: err.code %d != rc %d", r->name, e.code, rc);
            if (r->want_str && !strstr(e.msg, r->want_str))
                fail_msg("%s: message \"%s\" lacks \"%s\"", r->name, e.msg, r->want_str);
        }
        cfg_free(d);
    }
}

/* ---------- schema errors: unknown keys, missing keys, wrong kinds ---------- */

typedef struct schema_row {
    const char *name;
    const char *text;
    int want_rc;
    const char *want_line; /* the formatted one-line error */
} schema_row;

static const char *const hpa_keys[] = {"tolerance", "minReplicas", "maxReplicas", "behavior", NULL};

static int schema_check(const cfg_doc *d, gp_error *e)
{
    const cfg_node *spec = cfg_map_get(cfg_seq_at(cfg_map_get(cfg_root(d), "policies"), 0), "spec");
    int rc = cfg_check_keys(spec, hpa_keys, e);
    if (rc < 0)
        return rc;
    double tol;
    rc = cfg_req_double(spec, "tolerance", 0, 1, &tol, e);
    if (rc < 0)
        return rc;
    int max_r;
    rc = cfg_req_int(spec, "maxReplicas", 1, 1000, &max_r, e);
    if (rc < 0)
        return rc;
    const cfg_node *beh;
    rc = cfg_opt_map(spec, "behavior", &beh, e);
    return rc < 0 ? rc : 0;
}

static const schema_row schema_rows[] = {
    {"valid", "policies:\n  - spec:\n      tolerance: 0.1\n      maxReplicas: 4\n", 0, NULL},
    {"null spec behaves as empty map", "policies:\n  - spec:\n", GP_EMISSING,
     "t.yaml:2:10: policies[0].spec.tolerance: required key 'tolerance' is missing"},
    {"typo", "policies:\n  - spec:\n      tolerence: 0.1\n", GP_EUNKNOWN,
     "t.yaml:3:7: policies[0].spec.tolerence: unknown key 'tolerence' (did you mean "
     "'tolerance'?)"},
    {"unknown, nothing near", "policies:\n  - spec:\n      zzz: 1\n", GP_EUNKNOWN,
     "t.yaml:3:7: policies[0].spec.zzz: unknown key 'zzz' (allowed: tolerance, "
     "minReplicas, maxReplicas, behavior)"},
    {"missing key names the map", "policies:\n  - spec:\n      tolerance: 0.1\n", GP_EMISSING,
     "t.yaml:3:7: policies[0].spec.maxReplicas: required key 'maxReplicas' is missing"},
    {"required key with no value",
     "policies:\n  - spec:\n      tolerance: 0.1\n      maxReplicas:\n", GP_EMISSING,
     "t.yaml:3:7: policies[0].spec.maxReplicas: required key 'maxReplicas' has no value"},
    {"wrong type", "policies:\n  - spec:\n      tolerance: ten\n      maxReplicas: 4\n", GP_EPARSE,
     "t.yaml:3:18: policies[0].spec.tolerance: expected a number in [0, 1], got \"ten\""},
    {"spec not a map", "policies:\n  - spec: [1]\n", GP_EPARSE,
     "t.yaml:2:11: policies[0].spec: expected a map, got a sequence"},
    {"behavior not a map", "policies:\n  - spec: {tolerance: 0, maxReplicas: 2, behavior: 3}\n",
     GP_EPARSE, "t.yaml:2:52: policies[0].spec.behavior: expected a map, got a scalar"},
};

static void test_schema_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(schema_rows) / sizeof(schema_rows[0]); i++) {
        const schema_row *r = &schema_rows[i];
        cfg_doc *d = load_ok(r->text);
        gp_error e;
        gp_error_clear(&e);
        int rc = schema_check(d, &e);
        char line[1024];
        gp_error_format(&e, line, sizeof(line));
        if (rc != r->want_rc)
            fail_msg("%s: got rc %d want %d (%s)", r->name, rc, r->want_rc, line);
        if (r->want_line && strcmp(line, r->want_line) != 0)
            fail_msg("%s:\n got  %s\n want %s", r->name, line, r->want_line);
        cfg_free(d);
    }
}

static void test_nearest(void **state)
{
    (void)state;
    static const char *const keys[] = {"tolerance", "scaleDown", "scaleUp", "pods", NULL};
    static const struct {
        const char *word, *want;
    } rows[] = {
        {"tolerence", "tolerance"},
        {"Tolerance", "tolerance"},
        {"scaledown", "scaleDown"},
        {"scaleUP", "scaleUp"},
        {"pod", "pods"},
        {"xyz", NULL},
        {"scale", "scaleUp"},
        {"replicas", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *got = cfg_nearest(rows[i].word, keys);
        bool same = got == rows[i].want || (got && rows[i].want && strcmp(got, rows[i].want) == 0);
        if (!same)
            fail_msg("%s: got %s want %s", rows[i].word, got ? got : "NULL",
                     rows[i].want ? rows[i].want : "NULL");
    }
}

/* ---------- limits ---------- */

static void test_alias_bomb_refused(void **state)
{
    (void)state;
    /* 12 levels of 10 aliases: 10^12 nodes expanded; refused when the budget would pass */
    size_t cap = 8192, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 12; i++) {
        len += (size_t)snprintf(text + len, cap - len, "l%d: &l%d [", i, i);
        for (int k = 0; k < 10; k++)
            len += (size_t)snprintf(text + len, cap - len, "%s*l%d", k ? ", " : "", i - 1);
        len += (size_t)snprintf(text + len, cap - len, "]\n");
    }
    cfg_doc *d = (cfg_doc *)1;
    gp_error e;
    gp_error_clear(&e);
    int rc = cfg_load_string("bomb.yaml", text, len, &d, &e);
    assert_int_equal(rc, GP_ELIMIT);
    assert_null(d);
    assert_non_null(strstr(e.msg, "more than 1000000 nodes"));
    /* l4 expands to 111111 nodes: the 9th copy of it inside l5 would pass 1e6 */
    assert_non_null(strstr(e.msg, "alias '*l4'"));
    assert_int_equal(e.line, 6);
    free(text);
}

static char *nested_seq(int depth)
{
    char *t = malloc((size_t)depth * 2 + 2);
    for (int i = 0; i < depth; i++) {
        t[i] = '[';
        t[depth * 2 - 1 - i] = ']';
    }
    t[depth * 2] = '\n';
    t[depth * 2 + 1] = '\0';
    return t;
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* root at depth 0, so CFG_MAX_DEPTH + 1 nested sequences is the deepest allowed */
    static const struct {
        const char *name;
        int depth, want;
    } rows[] = {
        {"at the limit", CFG_MAX_DEPTH + 1, 0},
        {"one past the limit", CFG_MAX_DEPTH + 2, GP_ELIMIT},
        {"far past the limit", 200000, GP_ELIMIT},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *t = nested_seq(rows[i].depth);
        cfg_doc *d = NULL;
        gp_error e;
        gp_error_clear(&e);
        int rc = cfg_load_string("deep.yaml", t, strlen(t), &d, &e);
        if (rc != rows[i].want)
            fail_msg("%s: got %d want %d (%s)", rows[i].name, rc, rows[i].want, e.msg);
        cfg_free(d);
        free(t);
    }
    /* an alias can push a subtree past the limit too */
    char text[1024];
    char *inner = nested_seq(40);
    inner[strlen(inner) - 1] = '\0';
    snprintf(text, sizeof(text),
             "a: &a %s\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", inner);
    free(inner);
    cfg_doc *d = NULL;
    gp_error e;
    gp_error_clear(&e);
    assert_int_equal(cfg_load_string("deep.yaml", text, strlen(text), &d, &e), GP_ELIMIT);
    assert_non_null(strstr(e.msg, "alias '*a' nests deeper"));
}

static void test_many_keys(void **state)
{
    (void)state;
    /* a big map: lookups and duplicate checks stay correct */
    size_t n = 5000, cap = n * 24 + 64, len = 0;
    char *t = malloc(cap);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(t + len, cap - len, "k%zu: %zu\n", (i * 7919) % n, i);
    cfg_doc *d = load_ok(t);
    assert_int_equal(cfg_len(cfg_root(d)), n);
    for (size_t i = 0; i < n; i += 97) {
        char key[32], want[32];
        snprintf(key, sizeof(key), "k%zu", (i * 7919) % n);
        snprintf(want, sizeof(want), "%zu", i);
        assert_string_equal(cfg_scalar(cfg_map_get(cfg_root(d), key)), want);
    }
    cfg_free(d);
    len += (size_t)snprintf(t + len, cap - len, "k17: again\n");
    gp_error e;
    gp_error_clear(&e);
    assert_int_equal(cfg_load_string("big.yaml", t, len, &d, &e), GP_EPARSE);
    assert_int_equal(e.line, (long)n + 1);
    assert_non_null(strstr(e.msg, "duplicate key 'k17'"));
    free(t);
}

/* ---------- bad-input files with their expected one-line errors ---------- */

static const struct {
    const char *file;
    int want_rc;
} bad_files[] = {
    {"alias_bomb", GP_ELIMIT},
    {"bad_indent", GP_EPARSE},
    {"deep_nesting", GP_ELIMIT},
    {"dup_key", GP_EPARSE},
    {"invalid_utf8", GP_EPARSE},
    {"nonscalar_key", GP_EPARSE},
    {"recursive_alias", GP_EPARSE},
    {"truncated", GP_EPARSE},
    {"two_docs", GP_EPARSE},
    {"undefined_alias", GP_EPARSE},
    {"unterminated_string", GP_EPARSE},
    {"nul_byte", GP_EPARSE}, /* issue 13: the rest of the file used to be dropped silently */
};

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        char path[256], err_path[256], want[1024] = "";
        snprintf(path, sizeof(path), "tests/data/cfg/%s.yaml", bad_files[i].file);
        snprintf(err_path, sizeof(err_path), "tests/data/cfg/%s.err", bad_files[i].file);
        FILE *f = fopen(err_path, "r");
        if (!f || !fgets(want, sizeof(want), f))
            fail_msg("%s: cannot read %s", bad_files[i].file, err_path);
        fclose(f);
        want[strcspn(want, "\n")] = '\0';
        cfg_doc *d = (cfg_doc *)1;
        gp_error e;
        gp_error_clear(&e);
        int rc = cfg_load_file(path, &d, &e);
        char got[1024];
        gp_error_format(&e, got, sizeof(got));
        if (rc != bad_files[i].want_rc)
            fail_msg("%s: got rc %d want %d (%s)", bad_files[i].file, rc, bad_files[i].want_rc,
                     got);
        if (d != NULL)
            fail_msg("%s: doc not NULL on error", bad_files[i].file);
        if (strcmp(got, want) != 0)
            fail_msg("%s:\n got  %s\n want %s", bad_files[i].file, got, want);
    }
}

/* cfg_set: an overlay replaces or adds the node at a path; the rest stays; new nodes carry
 * their origin (for errors) and base directory; bad paths are errors naming them. */
static void test_overlays(void **state)
{
    (void)state;
    static const struct {
        const char *name, *path, *value, *check_path, *want_scalar, *want_err;
    } rows[] = {
        {"replace a scalar", "cluster.max_pods", "12", "cluster.max_pods", "12", NULL},
        {"add a key to a map", "cluster.gpus", "4", "cluster.gpus", "4", NULL},
        {"add a map on the way", "metrics.delay", "5s", "metrics.delay", "5s", NULL},
        {"a null value becomes a map", "output.db", "x.db", "output.db", "x.db", NULL},
        {"into a sequence item", "policies[1].config.pods", "3", "policies[1].config.pods", "3",
         NULL},
        {"a dotted key of the document, whole", "ann.autoscaling.knative.dev/target", "7",
         "ann.autoscaling.knative.dev/target", "7", NULL},
        {"a flow sequence", "cluster.list", "[a, b]", "cluster.list[1]", "b", NULL},
        {"a quoted scalar stays one", "cluster.name", "\"a: b\"", "cluster.name", "a: b", NULL},
        {"no such item", "policies[5].config.pods", "3", NULL, NULL, "policies has no item [5]"},
        {"below a scalar", "name.x", "1", NULL, NULL, "name is a scalar, not a map"},
        {"bad index", "policies[x]", "1", NULL, NULL, "expected [INDEX]"},
        {"bad YAML value", "cluster.max_pods", "[1,", NULL, NULL, ""},
    };
    static const char doc[] = "name: n\ncluster: {max_pods: 2}\noutput:\n"
                              "ann: {autoscaling.knative.dev/target: \"4\"}\n"
                              "policies: [{config: {pods: 1}}, {config: {pods: 2}}]\n";
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *d = load_ok(doc);
        gp_error e;
        gp_error_clear(&e);
        int rc = cfg_set(d, rows[i].path, rows[i].value, "--set x", "/some/dir", &e);
        if (rows[i].want_err) {
            if (rc >= 0 || !strstr(e.msg, rows[i].want_err))
                fail_msg("%s: rc %d msg \"%s\", want an error with \"%s\"", rows[i].name, rc, e.msg,
                         rows[i].want_err);
            cfg_free(d);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: rc %d: %s", rows[i].name, rc, e.msg);
        /* walk check_path by cfg_map_get / cfg_seq_at */
        const cfg_node *n = cfg_root(d);
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", rows[i].check_path);
        if (strncmp(buf, "ann.", 4) == 0) {
            n = cfg_map_get(cfg_map_get(n, "ann"), buf + 4);
        } else {
            for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && n;
                 tok = strtok_r(NULL, ".", &save)) {
                char *br = strchr(tok, '[');
                if (br) {
                    *br = '\0';
                    n = cfg_seq_at(cfg_map_get(n, tok), (size_t)atoi(br + 1));
                } else {
                    n = cfg_map_get(n, tok);
                }
            }
        }
        if (!n || !cfg_scalar(n) || strcmp(cfg_scalar(n), rows[i].want_scalar) != 0)
            fail_msg("%s: %s is %s, want %s", rows[i].name, rows[i].check_path,
                     n && cfg_scalar(n) ? cfg_scalar(n) : "(none)", rows[i].want_scalar);
        if (strcmp(cfg_node_file(n), "--set x") != 0 || !cfg_node_base_dir(n) ||
            strcmp(cfg_node_base_dir(n), "/some/dir") != 0)
            fail_msg("%s: the new node's origin %s / dir %s", rows[i].name, cfg_node_file(n),
                     cfg_node_base_dir(n) ? cfg_node_base_dir(n) : "(none)");
        /* the rest of the document is untouched */
        const char *nm = cfg_scalar(cfg_map_get(cfg_root(d), "name"));
        if (!nm || strcmp(nm, "n") != 0)
            fail_msg("%s: name changed", rows[i].name);
        cfg_free(d);
    }
    /* an unknown key set on top is refused by the key check, naming the overlay */
    cfg_doc *d = load_ok(doc);
    gp_error e;
    assert_int_equal(cfg_set(d, "cluster.max_podz", "3", "--set cluster.max_podz=3", NULL, &e), 0);
    static const char *const allowed[] = {"max_pods", NULL};
    assert_int_equal(cfg_check_keys(cfg_map_get(cfg_root(d), "cluster"), allowed, &e), GP_EUNKNOWN);
    char line[600];
    gp_error_format(&e, line, sizeof(line));
    assert_string_equal(line, "--set cluster.max_podz=3: cluster.max_podz: unknown key "
                              "'max_podz' (did you mean 'max_pods'?)");
    cfg_free(d);
    char q[64];
    assert_int_equal(cfg_quote_scalar("a\"b\\c", q, sizeof(q)), 0);
    assert_string_equal(q, "\"a\\\"b\\\\c\"");
}

static void test_cfg_error_helper(void **state)
{
    (void)state;
    cfg_doc *d = load_ok("cluster:\n  pools:\n    - gpu: h100\n");
    const cfg_node *gpu = cfg_map_get(
        cfg_seq_at(cfg_map_get(cfg_map_get(cfg_root(d), "cluster"), "pools"), 0), "gpu");
    gp_error e;
    gp_error_clear(&e);
    assert_int_equal(cfg_error(gpu, &e, GP_EUNKNOWN, "no profile for '%s'", cfg_scalar(gpu)),
                     GP_EUNKNOWN);
    char line[512];
    gp_error_format(&e, line, sizeof(line));
    assert_string_equal(line, "t.yaml:3:12: cluster.pools[0].gpu: no profile for 'h100'");
    cfg_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_places_and_paths),
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_anchors_and_merge),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_alias_bomb_refused),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_cfg_error_helper),
        cmocka_unit_test(test_overlays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
