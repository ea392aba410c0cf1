/* test_ytree.c: the project's one YAML writer (base/ytree, on libyaml's emitter).
 * - Every string that a YAML 1.1 or 1.2 reader would take for something else when plain
 *   (on, yes, no, off, y, n, null, ~, true, the empty string, numbers, times, dates, .inf)
 *   is written quoted, as a value and as a key, and reads back through cfg as the same
 *   text; so do strings with YAML's indicators, spaces, line breaks, control bytes and
 *   UTF-8.
 * - Plain values (integers, shortest-round-trip doubles, booleans, null) stay plain.
 * - A document copied with ytree_from_cfg (as export and --import copy configs) reads back
 *   as the same tree: kinds, keys, texts, nulls.
 * - A tree that lost a node reports GP_ENOMEM; a failed write GP_EIO. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/cfg.h"
#include "base/error.h"
#include "base/ytree.h"

static const char *const tricky[] = {"on",
                                     "On",
                                     "ON",
                                     "off",
                                     "Off",
                                     "OFF",
                                     "yes",
                                     "Yes",
                                     "YES",
                                     "no",
                                     "No",
                                     "NO",
                                     "y",
                                     "Y",
                                     "n",
                                     "N",
                                     "true",
                                     "True",
                                     "TRUE",
                                     "false",
                                     "False",
                                     "FALSE",
                                     "null",
                                     "Null",
                                     "NULL",
                                     "~",
                                     "",
                                     "80",
                                     "-1",
                                     "+1",
                                     "0.5",
                                     ".5",
                                     "-.5",
                                     "1e3",
                                     "0x1F",
                                     "0o17",
                                     "017",
                                     "1_000",
                                     "12:30",
                                     "2001-12-14",
                                     ".inf",
                                     "-.inf",
                                     "+.inf",
                                     ".nan",
                                     "<<",
                                     "-",
                                     "- a",
                                     "a: b",
                                     "#c",
                                     "a #c",
                                     "?",
                                     "? x",
                                     "[a]",
                                     "{a}",
                                     "&a",
                                     "*a",
                                     "!t",
                                     "%x",
                                     "@x",
                                     "`x",
                                     "|",
                                     ">",
                                     "'",
                                     "\"",
                                     "\\",
                                     " lead",
                                     "trail ",
                                     "tab\tin",
                                     "line\nbreak",
                                     "two\n\nlines\n",
                                     "\x01",
                                     "caf\xc3\xa9",
                                     "4500m",
                                     "gpen:pending",
                                     "nvidia.com/gpu",
                                     NULL};

static char *emit(const ytree *t)
{
    int rc = 0;
    char *text = ytree_emit_string(t, &rc);
    if (!text)
        fail_msg("ytree_emit_string: %d", rc);
    return text;
}

static cfg_doc *load(const char *text)
{
    cfg_doc *doc = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (cfg_load_string("out.yaml", text, strlen(text), &doc, &err) < 0)
        fail_msg("the writer's output does not read back: %s\n%s", err.msg, text);
    return doc;
}

/* The line of `text` that holds `needle` after `after` (or NULL). */
static const char *line_after(const char *text, const char *after)
{
    const char *p = strstr(text, after);
    return p ? p + strlen(after) : NULL;
}

/* A string that would read as something else when plain is quoted, as a value and as a
 * key; every one reads back as the same text, a string, not null. */
static void test_strings_quoted_and_read_back(void **state)
{
    (void)state;
    for (size_t i = 0; tricky[i]; i++) {
        const char *s = tricky[i];
        ytree *m = ytree_map();
        ytree_set(m, s, ytree_str("as key"));
        ytree_set(m, "value", ytree_str(s));
        char *text = emit(m);
        ytree_free(m);
        cfg_doc *doc = load(text);
        const cfg_node *root = cfg_root(doc);
        assert_int_equal(cfg_len(root), 2);
        const cfg_node *v = cfg_map_get(root, "value");
        if (!v || cfg_node_is_null(v) || cfg_node_kind(v) != CFG_SCALAR ||
            strcmp(cfg_scalar(v), s) != 0 || cfg_scalar_plain(v))
            fail_msg("value \"%s\" read back as %s%s%s\n%s", s, v ? "\"" : "(none)",
                     v && cfg_scalar(v) ? cfg_scalar(v) : "", v ? "\"" : "", text);
        if (strcmp(cfg_map_key_at(root, 0), s) != 0)
            fail_msg("key \"%s\" read back as \"%s\"\n%s", s, cfg_map_key_at(root, 0), text);
        /* the value is quoted (or a literal block); so is a key that is not a plain word */
        const char *after = line_after(text, "value: ");
        if (!after || !(after[0] == '"' || after[0] == '|'))
            fail_msg("value \"%s\" written unquoted:\n%s", s, text);
        if (ytree_plain_is_not_string(s) && text[0] != '"' && text[0] != '\'')
            fail_msg("key \"%s\" written plain:\n%s", s, text); /* the first line */
        cfg_free(doc);
        free(text);
    }
}

/* What reads as a string when plain, and what does not. */
static void test_plain_is_not_string(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool not_string;
    } rows[] = {
        {"on", true},    {"OFF", true},        {"y", true},          {"~", true},
        {"", true},      {"12", true},         {"-3.5", true},       {"1e9", true},
        {"12:30", true}, {"2024-01-01", true}, {"-.inf", true},      {".NaN", true},
        {"gpen", false}, {"onward", false},    {"yesterday", false}, {"nvidia.com/gpu", false},
        {"a1", false},   {"-x", false},        {".x", false}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (ytree_plain_is_not_string(rows[i].text) != rows[i].not_string)
            fail_msg("\"%s\": want %s", rows[i].text,
                     rows[i].not_string ? "not a string" : "a string");
}

/* Plain values stay plain and read back as their text. */
static void test_plain_values(void **state)
{
    (void)state;
    ytree *m = ytree_map();
    ytree_set(m, "int", ytree_int(-42));
    ytree_set(m, "big", ytree_int(INT64_MAX));
    ytree_set(m, "tenth", ytree_num(0.1));
    ytree_set(m, "tiny", ytree_num(1e-300));
    ytree_set(m, "nan", ytree_num(NAN));
    ytree_set(m, "inf", ytree_num(-INFINITY));
    ytree_set(m, "yes", ytree_bool(true));
    ytree_set(m, "nothing", ytree_plain("null"));
    ytree_set(m, "empty_map", ytree_map());
    ytree_set(m, "empty_seq", ytree_seq());
    char *text = emit(m);
    ytree_free(m);
    static const struct {
        const char *key, *want; /* NULL: null */
    } rows[] = {{"int", "-42"},   {"big", "9223372036854775807"},
                {"tenth", "0.1"}, {"tiny", "1e-300"},
                {"nan", ".nan"},  {"inf", "-.inf"},
                {"yes", "true"},  {"nothing", NULL}};
    cfg_doc *doc = load(text);
    const cfg_node *root = cfg_root(doc);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const cfg_node *v = cfg_map_get(root, rows[i].key);
        if (!rows[i].want) {
            if (!cfg_node_is_null(v))
                fail_msg("%s: not null\n%s", rows[i].key, text);
            continue;
        }
        if (!v || !cfg_scalar_plain(v) || strcmp(cfg_scalar(v), rows[i].want) != 0)
            fail_msg("%s: got %s want plain %s\n%s", rows[i].key, v ? cfg_scalar(v) : "(none)",
                     rows[i].want, text);
    }
    assert_int_equal(cfg_node_kind(cfg_map_get(root, "empty_map")), CFG_MAP);
    assert_int_equal(cfg_len(cfg_map_get(root, "empty_map")), 0);
    assert_int_equal(cfg_node_kind(cfg_map_get(root, "empty_seq")), CFG_SEQ);
    assert_int_equal(cfg_len(cfg_map_get(root, "empty_seq")), 0);
    cfg_free(doc);
    free(text);
}

/* a and b: the same kinds, keys, texts and nulls */
static void same_tree(const cfg_node *a, const cfg_node *b, const char *text)
{
    if (cfg_node_is_null(a) || cfg_node_is_null(b)) {
        if (cfg_node_is_null(a) != cfg_node_is_null(b))
            fail_msg("%s: null on one side only\n%s", cfg_node_path(a), text);
        return;
    }
    if (cfg_node_kind(a) != cfg_node_kind(b) || cfg_len(a) != cfg_len(b))
        fail_msg("%s: kind or length differs\n%s", cfg_node_path(a), text);
    if (cfg_node_kind(a) == CFG_SCALAR) {
        if (strcmp(cfg_scalar(a), cfg_scalar(b)) != 0)
            fail_msg("%s: \"%s\" read back as \"%s\"\n%s", cfg_node_path(a), cfg_scalar(a),
                     cfg_scalar(b), text);
        return;
    }
    for (size_t i = 0; i < cfg_len(a); i++) {
        if (cfg_node_kind(a) == CFG_MAP) {
            if (strcmp(cfg_map_key_at(a, i), cfg_map_key_at(b, i)) != 0)
                fail_msg("%s: key %zu differs\n%s", cfg_node_path(a), i, text);
            same_tree(cfg_map_value_at(a, i), cfg_map_value_at(b, i), text);
        } else {
            same_tree(cfg_seq_at(a, i), cfg_seq_at(b, i), text);
        }
    }
}

/* A document copied by ytree_from_cfg, typed or as strings, reads back as itself. */
static void test_copy_round_trip(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "name: tidal\nseed: 1\nrate: 0.5\nflag: on\nquoted_flag: \"on\"\nnothing: ~\n"
        "also: null\nempty:\nstr: '12'\nlist: [1, \"2\", three, {a: b}]\n"
        "nested: {a: {b: [x, {c: \"yes\"}]}}\nempty_map: {}\nempty_seq: []\n",
        "anchors: &a {k: v, n: 3}\ncopy: *a\nblock: |\n  line one\n  line two\n"
        "folded: >\n  one\n  two\nunicode: caf\xc3\xa9\n\"quoted key\": 1\n\"on\": yes\n",
        "- 1\n- - nested\n  - seq\n- {}\n",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        cfg_doc *src = load(docs[i]);
        for (int force = 0; force < 2; force++) {
            ytree *t = ytree_from_cfg(cfg_root(src), force);
            char *text = emit(t);
            ytree_free(t);
            cfg_doc *back = load(text);
            same_tree(cfg_root(src), cfg_root(back), text);
            cfg_free(back);
            free(text);
        }
        cfg_free(src);
    }
}

/* A tree that lost a node is GP_ENOMEM; a write that fails is GP_EIO. */
static void test_errors(void **state)
{
    (void)state;
    ytree *m = ytree_map();
    ytree_set(m, "a", ytree_str("x"));
    ytree_set(m, "lost", NULL); /* as after a failed allocation */
    int rc = 0;
    char *text = ytree_emit_string(m, &rc);
    assert_null(text);
    assert_int_equal(rc, GP_ENOMEM);
    ytree_free(m);
    FILE *full = fopen("/dev/full", "w");
    if (!full) {
        print_message("SKIP the write error: no /dev/full\n");
        return;
    }
    setvbuf(full, NULL, _IONBF, 0);
    m = ytree_map();
    ytree_set(m, "a", ytree_str("x"));
    assert_int_equal(ytree_emit(full, m), GP_EIO);
    ytree_free(m);
    fclose(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_quoted_and_read_back),
        cmocka_unit_test(test_plain_is_not_string),
        cmocka_unit_test(test_plain_values),
        cmocka_unit_test(test_copy_round_trip),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
