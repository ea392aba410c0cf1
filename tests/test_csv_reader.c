/* test_csv_reader.c: the CSV reader against a model. Files are generated row by row with
 * what the reader must return (every field, its column, the row's line): plain and quoted
 * fields (commas, doubled quotes and newlines inside quotes), spaces and tabs around
 * fields, UTF-8, CRLF, blank and comment lines, a byte-order mark, rows longer than the
 * reader's 64 KiB chunk, and inputs that deliver the bytes in pieces of every size, so
 * that the common row (split where it lies in the chunk) and the general path (copied
 * into a record) are both held to the same result. Then one bad byte (NUL, invalid
 * UTF-8) or a short row placed anywhere: the rows before it come back, then the error
 * names its line and column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/csv_reader.h"
#include "base/rng.h"

/* ---- a growing text and the model of its rows ---- */

typedef struct text {
    char *b;
    size_t n, cap;
    long line, col; /* where the next byte goes: 1-based line, 0-based column */
} text;

static void put(text *t, const char *s, size_t len)
{
    if (t->n + len + 1 > t->cap) {
        t->cap = (t->n + len + 1) * 2;
        t->b = realloc(t->b, t->cap);
        assert_non_null(t->b);
    }
    for (size_t i = 0; i < len; i++) {
        t->b[t->n++] = s[i];
        if (s[i] == '\n')
            t->line++, t->col = 0;
        else
            t->col++;
    }
    t->b[t->n] = '\0';
}

static void puts_t(text *t, const char *s) { put(t, s, strlen(s)); }

#define MAX_COLS 5
typedef struct want_row {
    long line;
    char *field[MAX_COLS];
    long pos[MAX_COLS];
} want_row;

typedef struct model {
    text t;
    int n_cols;
    want_row *row;
    size_t n_rows, cap_rows;
} model;

static uint64_t next(uint64_t *s)
{
    *s = rng_mix64(*s);
    return *s;
}

static const char *const WORDS[] = {"0",
                                    "17",
                                    "1.5",
                                    "abc",
                                    "x y",
                                    "caf\xc3\xa9",
                                    "\xe6\x97\xa5\xe6\x9c\xac",
                                    "2025-02-01 09:57:50",
                                    "a#b",
                                    "\xf0\x9f\x98\x80",
                                    "-3e5"};

static void blank_or_comment(model *m, uint64_t *s)
{
    static const char *const LINES[] = {
        "", "  ", "\t", "# a comment, with \"quotes\"", "   # indented comment", "#"};
    puts_t(&m->t, LINES[next(s) % 6]);
    puts_t(&m->t, next(s) % 4 ? "\n" : "\r\n");
}

/* One data row; long_field > 0 gives one field of that many bytes. */
static void add_row(model *m, uint64_t *s, size_t long_field)
{
    if (m->n_rows == m->cap_rows) {
        m->cap_rows = m->cap_rows ? 2 * m->cap_rows : 64;
        m->row = realloc(m->row, m->cap_rows * sizeof(*m->row));
        assert_non_null(m->row);
    }
    want_row *w = &m->row[m->n_rows++];
    w->line = m->t.line;
    int long_col = long_field ? (int)(next(s) % (uint64_t)m->n_cols) : -1;
    for (int c = 0; c < m->n_cols; c++) {
        if (c > 0)
            puts_t(&m->t, ",");
        uint64_t h = next(s);
        int lead = h % 5 == 0 ? 1 + (int)(h >> 8) % 3 : 0;
        for (int i = 0; i < lead; i++)
            puts_t(&m->t, (h >> (12 + i)) & 1 ? " " : "\t");
        w->pos[c] = m->t.col + 1;
        char value[256];
        if (c == long_col) {
            char *v = malloc(long_field + 1);
            assert_non_null(v);
            memset(v, 'z', long_field);
            v[long_field] = '\0';
            puts_t(&m->t, v);
            w->field[c] = v;
        } else if ((h >> 16) % 9 == 0) {
            /* quoted: a comma, a doubled quote, sometimes a newline inside */
            static const char *const Q[][2] = {
                {"\"a,b\"", "a,b"},
                {"\"say \"\"hi\"\"\"", "say \"hi\""},
                {"\"two\nlines\"", "two\nlines"},
                {"\"\"", ""},
                {"\" sp \"", " sp "},
                {"\"x\r\ny\"", "x\ny"} /* CR before a newline is dropped */};
            int k = (int)((h >> 24) % 6);
            puts_t(&m->t, Q[k][0]);
            w->field[c] = strdup(Q[k][1]);
        } else {
            /* an empty field; not alone on its line, which would be a blank line */
            bool empty = (h >> 20) % 7 == 0 && m->n_cols > 1;
            snprintf(value, sizeof(value), "%s", empty ? "" : WORDS[(h >> 24) % 11]);
            puts_t(&m->t, value);
            w->field[c] = strdup(value);
        }
        int trail = (h >> 32) % 6 == 0 ? 1 + (int)((h >> 36) % 3) : 0;
        for (int i = 0; i < trail; i++)
            puts_t(&m->t, " ");
        if (!w->field[c][0] && m->t.b[m->t.n - 1 - (size_t)trail] != '"')
            w->pos[c] = m->t.col + 1; /* an empty field starts after all its spaces */
    }
    puts_t(&m->t, next(s) % 5 ? "\n" : "\r\n");
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n_rows; i++)
        for (int c = 0; c < m->n_cols; c++)
            free(m->row[i].field[c]);
    free(m->row);
    free(m->t.b);
}

/* A file of about `rows` data rows; `long_every` > 0 puts a 70,000-byte field in every
 * that-many rows. */
static void generate(model *m, uint64_t seed, size_t rows, size_t long_every)
{
    memset(m, 0, sizeof(*m));
    m->t.line = 1;
    uint64_t s = seed;
    m->n_cols = 1 + (int)(next(&s) % MAX_COLS);
    if (next(&s) % 3 == 0)
        puts_t(&m->t, "\xEF\xBB\xBF");
    m->t.col = 0; /* columns count after the byte-order mark */
    for (int i = 0; next(&s) % 3 == 0 && i < 3; i++)
        blank_or_comment(m, &s);
    for (int c = 0; c < m->n_cols; c++) {
        char name[16];
        snprintf(name, sizeof(name), "%sc%d", c ? "," : "", c);
        puts_t(&m->t, name);
    }
    puts_t(&m->t, "\n");
    for (size_t r = 0; r < rows; r++) {
        if (next(&s) % 8 == 0)
            blank_or_comment(m, &s);
        add_row(m, &s, long_every && r % long_every == long_every - 1 ? 70000 : 0);
    }
}

/* ---- an input that hands the bytes over in pieces ---- */

typedef struct piece_input {
    const char *b;
    size_t n, at;
    uint64_t s;
    int mode; /* 0: as much as asked; 1: random sizes; 2: one byte at a time */
} piece_input;

static long piece_read(void *ctx, char *buf, size_t cap, gp_error *err)
{
    (void)err;
    piece_input *p = ctx;
    size_t k = p->n - p->at;
    if (p->mode == 1)
        k = k < 1 + next(&p->s) % 9000 ? k : 1 + p->s % 9000;
    else if (p->mode == 2)
        k = k < 1 ? k : 1;
    if (k > cap)
        k = cap;
    memcpy(buf, p->b + p->at, k);
    p->at += k;
    return (long)k;
}

static csv_reader *open_model(const text *t, piece_input *in, int mode, gp_error *e)
{
    memset(in, 0, sizeof(*in));
    in->b = t->b;
    in->n = t->n;
    in->s = 99 + (uint64_t)mode;
    in->mode = mode;
    csv_reader *r = NULL;
    int rc = csv_open_input("gen.csv", (csv_input){in, piece_read, NULL}, &r, e);
    if (rc < 0)
        fail_msg("open: %s (line %ld col %ld)", e->msg, e->line, e->col);
    return r;
}

/* Reads rows 0..upto-1 of the model and checks each; returns the reader's next result. */
static int read_and_check(csv_reader *r, const model *m, size_t upto, const char *name, gp_error *e)
{
    for (size_t i = 0; i < upto; i++) {
        int rc = csv_next_row(r, e);
        if (rc != 1)
            fail_msg("%s: row %zu (line %ld): got %d (%s, line %ld col %ld)", name, i,
                     m->row[i].line, rc, rc < 0 ? e->msg : "", e->line, e->col);
        const want_row *w = &m->row[i];
        if (csv_line(r) != w->line)
            fail_msg("%s: row %zu: line %ld, want %ld", name, i, csv_line(r), w->line);
        for (int c = 0; c < m->n_cols; c++) {
            if (strcmp(csv_field(r, (size_t)c), w->field[c]) != 0)
                fail_msg("%s: row %zu (line %ld) field %d: '%.40s' want '%.40s'", name, i, w->line,
                         c, csv_field(r, (size_t)c), w->field[c]);
            if (csv_field_pos(r, (size_t)c) != w->pos[c])
                fail_msg("%s: row %zu (line %ld) field %d: column %ld want %ld", name, i, w->line,
                         c, csv_field_pos(r, (size_t)c), w->pos[c]);
        }
    }
    return csv_next_row(r, e);
}

static void test_generated_files(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t seed;
        size_t rows, long_every;
    } cases[] = {
        {"small", 1, 40, 0},           {"many rows", 2, 20000, 0},   {"many rows 2", 3, 20000, 0},
        {"long fields", 4, 3000, 500}, {"long fields 2", 5, 600, 7}, {"one row", 6, 1, 0},
    };
    static const char *const MODES[] = {"whole", "pieces", "bytes"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        model m;
        generate(&m, cases[i].seed, cases[i].rows, cases[i].long_every);
        for (int mode = 0; mode < 3; mode++) {
            if (mode == 2 && m.t.n > 300000)
                continue;
            char name[128];
            snprintf(name, sizeof(name), "%s (%s)", cases[i].name, MODES[mode]);
            piece_input in;
            gp_error e;
            csv_reader *r = open_model(&m.t, &in, mode, &e);
            if (csv_ncols(r) != (size_t)m.n_cols)
                fail_msg("%s: %zu columns, want %d", name, csv_ncols(r), m.n_cols);
            int rc = read_and_check(r, &m, m.n_rows, name, &e);
            if (rc != 0)
                fail_msg("%s: after the last row got %d (%s), want the end", name, rc, e.msg);
            if (csv_rows(r) != m.n_rows)
                fail_msg("%s: %llu rows counted, want %zu", name, (unsigned long long)csv_rows(r),
                         m.n_rows);
            csv_close(r);
        }
        model_free(&m);
    }
}

/* One bad thing at row k of a generated file: the rows before it, then its error. */
static void test_bad_byte_anywhere(void **state)
{
    (void)state;
    static const struct {
        const char *what, *bytes, *msg;
    } bad[] = {
        {"NUL", "\0", "NUL byte (binary data, not text)"},
        {"0xff", "\xff", "invalid UTF-8 (byte 0xff): save the file as UTF-8"},
        {"cut sequence", "\xc3", "invalid UTF-8 (byte 0xc3): save the file as UTF-8"},
        {"surrogate", "\xed\xa0\x80", "invalid UTF-8 (byte 0xed): save the file as UTF-8"},
        {"short row", NULL, "too few columns"},
    };
    for (uint64_t trial = 0; trial < 60; trial++) {
        model m;
        generate(&m, 1000 + trial, 4000, trial % 3 == 0 ? 900 : 0);
        uint64_t h = rng_mix64(trial + 5);
        size_t k = (size_t)(h % m.n_rows);
        int b = (int)((h >> 20) % 5);
        if (bad[b].bytes == NULL && m.n_cols == 1)
            b = 0; /* one column: no row is short */
        /* the row's first line, from its start to its end */
        const want_row *w = &m.row[k];
        size_t at = 0;
        for (long line = 1; line < w->line; at++)
            if (m.t.b[at] == '\n')
                line++;
        size_t line_len = strcspn(m.t.b + at, "\n");
        size_t col;
        text t = {0};
        t.line = 1;
        long want_col;
        if (bad[b].bytes) {
            col = (size_t)((h >> 32) % (line_len + 1));
            /* not inside a UTF-8 character of the row */
            while (col > 0 && ((unsigned char)m.t.b[at + col] & 0xc0) == 0x80)
                col--;
            put(&t, m.t.b, at + col);
            put(&t, bad[b].bytes, strlen(bad[b].bytes) ? strlen(bad[b].bytes) : 1);
            put(&t, m.t.b + at + col, m.t.n - at - col);
            want_col = (long)col + 1;
        } else {
            /* a row of one field before row k */
            put(&t, m.t.b, at);
            put(&t, "short\n", 6);
            put(&t, m.t.b + at, m.t.n - at);
            want_col = 0;
        }
        char name[128];
        snprintf(name, sizeof(name), "trial %llu: %s in row %zu (line %ld)",
                 (unsigned long long)trial, bad[b].what, k, w->line);
        for (int mode = 0; mode < 2; mode++) {
            piece_input in;
            gp_error e;
            csv_reader *r = open_model(&t, &in, mode, &e);
            int rc = read_and_check(r, &m, k, name, &e);
            if (rc >= 0)
                fail_msg("%s: got %d, want an error", name, rc);
            if (e.line != w->line || e.col != want_col || !strstr(e.msg, bad[b].msg))
                fail_msg("%s: got line %ld col %ld '%s', want line %ld col %ld '%s'", name, e.line,
                         e.col, e.msg, w->line, want_col, bad[b].msg);
            csv_close(r);
        }
        free(t.b);
        model_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_files),
        cmocka_unit_test(test_bad_byte_anywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
