/* ytree.c: the mutable YAML tree and its writer on libyaml's emitter (see ytree.h). */
#include "base/ytree.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/error.h"

typedef enum { Y_MAP, Y_SEQ, Y_STR, Y_PLAIN } ykind;

struct ytree {
    ykind kind;
    bool broken; /* a child was lost to a failed allocation */
    char *text;  /* Y_STR, Y_PLAIN */
    size_t n, cap;
    char **keys; /* Y_MAP */
    ytree **items;
};

static ytree *node_new(ykind k)
{
    ytree *n = calloc(1, sizeof(*n));
    if (n)
        n->kind = k;
    return n;
}

ytree *ytree_map(void) { return node_new(Y_MAP); }
ytree *ytree_seq(void) { return node_new(Y_SEQ); }

static ytree *scalar_new(ykind k, const char *s)
{
    ytree *n = node_new(k);
    if (n && !(n->text = strdup(s ? s : ""))) {
        free(n);
        return NULL;
    }
    return n;
}

ytree *ytree_str(const char *s) { return scalar_new(Y_STR, s); }
ytree *ytree_plain(const char *text) { return scalar_new(Y_PLAIN, text); }

ytree *ytree_strf(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return ytree_str(buf);
}

ytree *ytree_int(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    return ytree_plain(buf);
}

ytree *ytree_num(double v)
{
    char buf[40];
    if (!isfinite(v))
        return ytree_plain(isnan(v) ? ".nan" : (v > 0 ? ".inf" : "-.inf"));
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return ytree_plain(buf);
}

ytree *ytree_bool(bool v) { return ytree_plain(v ? "true" : "false"); }

static bool grow(ytree *p)
{
    if (p->n < p->cap)
        return true;
    size_t cap = p->cap ? p->cap * 2 : 8;
    ytree **items = realloc(p->items, cap * sizeof(*items));
    if (!items)
        return false;
    p->items = items;
    if (p->kind == Y_MAP) {
        char **keys = realloc(p->keys, cap * sizeof(*keys));
        if (!keys)
            return false;
        p->keys = keys;
    }
    p->cap = cap;
    return true;
}

ytree *ytree_set(ytree *map, const char *key, ytree *v)
{
    if (!map)
        goto fail;
    if (!v || map->kind != Y_MAP) {
        map->broken = true;
        goto fail;
    }
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0) {
            ytree_free(map->items[i]);
            map->items[i] = v;
            return v;
        }
    }
    char *k = strdup(key);
    if (!k || !grow(map)) {
        free(k);
        map->broken = true;
        goto fail;
    }
    map->keys[map->n] = k;
    map->items[map->n++] = v;
    return v;
fail:
    ytree_free(v);
    return NULL;
}

ytree *ytree_push(ytree *seq, ytree *v)
{
    if (!seq || !v || seq->kind != Y_SEQ || !grow(seq)) {
        if (seq)
            seq->broken = true;
        ytree_free(v);
        return NULL;
    }
    seq->items[seq->n++] = v;
    return v;
}

ytree *ytree_get(const ytree *map, const char *key)
{
    if (!map || map->kind != Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

ytree *ytree_at(const ytree *seq, size_t i)
{
    return seq && seq->kind == Y_SEQ && i < seq->n ? seq->items[i] : NULL;
}

void ytree_del(ytree *map, const char *key)
{
    if (!map || map->kind != Y_MAP)
        return;
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0) {
            free(map->keys[i]);
            ytree_free(map->items[i]);
            memmove(map->keys + i, map->keys + i + 1, (map->n - i - 1) * sizeof(*map->keys));
            memmove(map->items + i, map->items + i + 1, (map->n - i - 1) * sizeof(*map->items));
            map->n--;
            return;
        }
    }
}

void ytree_free(ytree *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        ytree_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->text);
    free(n);
}

/* ---------------------------------------------------------------- from cfg */

/* A YAML 1.2 core-schema number (what a JSON/YAML reader turns into a number). */
static bool looks_numeric(const char *s)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    bool digits = false, dot = false;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            digits = true;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else if ((*p == 'e' || *p == 'E') && digits) {
            p++;
            if (*p == '+' || *p == '-')
                p++;
            if (!*p)
                return false;
            for (; *p; p++)
                if (*p < '0' || *p > '9')
                    return false;
            return true;
        } else {
            return false;
        }
    }
    return digits;
}

static bool string_map_key(const char *k)
{
    static const char *const keys[] = {"metadata",    "annotations", "labels",
                                       "matchLabels", "data",        NULL};
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return false;
}

static ytree *from_cfg(const cfg_node *n, const char *parent_key, bool force)
{
    if (!n || cfg_node_is_null(n))
        return ytree_plain("null");
    if (cfg_node_kind(n) == CFG_SCALAR) {
        const char *s = cfg_scalar(n);
        if (!force && (looks_numeric(s) || strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
            return ytree_plain(s);
        return ytree_str(s);
    }
    if (cfg_node_kind(n) == CFG_SEQ) {
        ytree *seq = ytree_seq();
        for (size_t i = 0; seq && i < cfg_len(n); i++)
            ytree_push(seq, from_cfg(cfg_seq_at(n, i), parent_key, force));
        return seq;
    }
    ytree *map = ytree_map();
    for (size_t i = 0; map && i < cfg_len(n); i++) {
        const char *k = cfg_map_key_at(n, i);
        bool quantity = (parent_key && strcmp(parent_key, "target") == 0 &&
                         (strcmp(k, "value") == 0 || strcmp(k, "averageValue") == 0)) ||
                        strcmp(k, "tolerance") == 0;
        ytree_set(map, k,
                  from_cfg(cfg_map_value_at(n, i), k, force || string_map_key(k) || quantity));
    }
    return map;
}

ytree *ytree_from_cfg(const cfg_node *n, bool force_strings)
{
    return from_cfg(n, NULL, force_strings);
}

/* ---------------------------------------------------------------- emitter */

/* Text that a YAML 1.1 or 1.2 reader takes for something other than a string when it is
 * written plain: null (~, null, the empty text), a boolean in any YAML 1.1 spelling (y,
 * yes, on, off, ...), the merge key, or anything that starts like a number, a time or a
 * date (12, -1, .5, 1e3, 0x1F, 1_000, 12:30, 2001-12-14, .inf, -.inf, .nan). Such a
 * string is written quoted; so is a key that is not a plain word. */
bool ytree_plain_is_not_string(const char *s)
{
    static const char *const words[] = {
        "",    "~",   "null", "Null", "NULL", "y",    "Y",     "yes",   "Yes",   "YES", "n",  "N",
        "no",  "No",  "NO",   "true", "True", "TRUE", "false", "False", "FALSE", "on",  "On", "ON",
        "off", "Off", "OFF",  ".inf", ".Inf", ".INF", ".nan",  ".NaN",  ".NAN",  "<<",  NULL};
    const char *p = s + (*s == '+' || *s == '-');
    for (size_t i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0 || (p != s && *p == '.' && strcmp(p, words[i]) == 0))
            return true;
    if (*p == '.')
        p++;
    return *p >= '0' && *p <= '9';
}

/* A key written plain: a word of letters, digits and _-./ that reads as a string. */
static bool key_plain(const char *k)
{
    if (ytree_plain_is_not_string(k) || k[0] == '-' || k[0] == '.' || k[0] == '/')
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.' || *p == '/'))
            return false;
    return true;
}

typedef struct yemit {
    yaml_emitter_t em;
    bool ok;     /* every event went out */
    bool broken; /* the tree lost a node to a failed allocation */
} yemit;

static void put(yemit *e, yaml_event_t *ev, int made)
{
    if (!made || !yaml_emitter_emit(&e->em, ev))
        e->ok = false; /* yaml_emitter_emit frees the event, also on failure */
}

/* A scalar: `quoted` text is a string, double-quoted (so "80" and "on" stay strings for
 * every reader), or a literal block (|) when it has several lines (a file in a ConfigMap;
 * libyaml falls back to double quotes where a block cannot hold it exactly); plain text
 * (numbers, true/false, null, and plain scalars copied as they were) is written as is,
 * quoted by libyaml only where YAML allows no plain scalar. */
static void put_scalar(yemit *e, const char *text, bool quoted)
{
    if (!e->ok)
        return;
    yaml_scalar_style_t style = !quoted              ? YAML_PLAIN_SCALAR_STYLE
                                : strchr(text, '\n') ? YAML_LITERAL_SCALAR_STYLE
                                                     : YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    yaml_event_t ev;
    int made = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
                                            quoted ? 0 : 1, 1, style);
    put(e, &ev, made);
}

static void put_node(yemit *e, const ytree *n)
{
    if (!e->ok)
        return;
    e->broken |= n->broken;
    yaml_event_t ev;
    switch (n->kind) {
    case Y_STR: put_scalar(e, n->text, true); return;
    case Y_PLAIN: put_scalar(e, n->text, false); return;
    case Y_MAP:
        put(e, &ev,
            yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
        for (size_t i = 0; i < n->n; i++) {
            put_scalar(e, n->keys[i], !key_plain(n->keys[i]));
            put_node(e, n->items[i]);
        }
        if (e->ok)
            put(e, &ev, yaml_mapping_end_event_initialize(&ev));
        return;
    case Y_SEQ:
        put(e, &ev,
            yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE));
        for (size_t i = 0; i < n->n; i++)
            put_node(e, n->items[i]);
        if (e->ok)
            put(e, &ev, yaml_sequence_end_event_initialize(&ev));
        return;
    }
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, data) == size;
}

int ytree_emit(FILE *f, const ytree *n)
{
    if (!n)
        return GP_ENOMEM;
    yemit e = {.ok = true};
    if (!yaml_emitter_initialize(&e.em))
        return GP_ENOMEM;
    yaml_emitter_set_output(&e.em, write_handler, f);
    yaml_emitter_set_unicode(&e.em, 1); /* UTF-8 as is, not \u escapes */
    yaml_emitter_set_width(&e.em, -1);  /* no folding of long strings */
    yaml_emitter_set_indent(&e.em, 2);
    yaml_event_t ev;
    put(&e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    if (e.ok)
        put(&e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
    put_node(&e, n);
    if (e.ok)
        put(&e, &ev, yaml_document_end_event_initialize(&ev, 1));
    if (e.ok)
        put(&e, &ev, yaml_stream_end_event_initialize(&ev));
    if (e.ok && !yaml_emitter_flush(&e.em))
        e.ok = false;
    bool memory = e.em.error == YAML_MEMORY_ERROR;
    yaml_emitter_delete(&e.em);
    if (e.broken || memory)
        return GP_ENOMEM;
    if (!e.ok || ferror(f))
        return GP_EIO;
    return 0;
}

char *ytree_emit_string(const ytree *n, int *rc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int r = f ? ytree_emit(f, n) : GP_ENOMEM;
    if (f && fclose(f) != 0 && r == 0)
        r = GP_ENOMEM;
    if (r < 0) {
        free(text);
        text = NULL;
    }
    if (rc)
        *rc = r;
    return text;
}
