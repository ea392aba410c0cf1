/* ytree.c: the mutable YAML tree and its block emitter (see ytree.h). */
#include "base/ytree.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
    static const char *const keys[] = {"metadata", "annotations", "labels", "matchLabels",
                                       "data", NULL};
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
        ytree_set(map, k, from_cfg(cfg_map_value_at(n, i), k, force || string_map_key(k) || quantity));
    }
    return map;
}

ytree *ytree_from_cfg(const cfg_node *n, bool force_strings)
{
    return from_cfg(n, NULL, force_strings);
}

/* ---------------------------------------------------------------- emitter */

static void emit_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\x%02x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* A map key plain when it is a simple word, quoted otherwise. */
static void emit_key(FILE *f, const char *k)
{
    bool plain = *k && !looks_numeric(k) && strcmp(k, "true") && strcmp(k, "false") &&
                 strcmp(k, "null") && strcmp(k, "y") && strcmp(k, "n");
    for (const char *p = k; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '_' || *p == '-' || *p == '.' || *p == '/';
    if (plain)
        fputs(k, f);
    else
        emit_quoted(f, k);
}

static bool is_scalar(const ytree *n) { return n->kind == Y_STR || n->kind == Y_PLAIN; }

static void emit_scalar(FILE *f, const ytree *n)
{
    if (n->kind == Y_STR)
        emit_quoted(f, n->text);
    else
        fputs(n->text, f);
}

static bool emit_node(FILE *f, const ytree *n, int indent);

/* The value of a key or an item at `indent` (children indent by 2). */
static bool emit_child(FILE *f, const ytree *v, int indent)
{
    if (is_scalar(v)) {
        fputc(' ', f);
        emit_scalar(f, v);
        fputc('\n', f);
        return true;
    }
    if (v->n == 0) {
        fputs(v->kind == Y_MAP ? " {}\n" : " []\n", f);
        return !v->broken;
    }
    fputc('\n', f);
    return emit_node(f, v, indent + 2);
}

static bool emit_node(FILE *f, const ytree *n, int indent)
{
    bool ok = !n->broken;
    if (n->kind == Y_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            fprintf(f, "%*s", indent, "");
            emit_key(f, n->keys[i]);
            fputc(':', f);
            ok = emit_child(f, n->items[i], indent) && ok;
        }
    } else if (n->kind == Y_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            const ytree *v = n->items[i];
            fprintf(f, "%*s-", indent, "");
            if (v->kind == Y_MAP && v->n > 0) {
                /* "- key: value" with the map's other keys under the first */
                fputc(' ', f);
                emit_key(f, v->keys[0]);
                fputc(':', f);
                ok = emit_child(f, v->items[0], indent + 2) && ok;
                for (size_t j = 1; j < v->n; j++) {
                    fprintf(f, "%*s", indent + 2, "");
                    emit_key(f, v->keys[j]);
                    fputc(':', f);
                    ok = emit_child(f, v->items[j], indent + 2) && ok;
                }
                ok = ok && !v->broken;
            } else {
                ok = emit_child(f, v, indent) && ok;
            }
        }
    } else {
        fprintf(f, "%*s", indent, "");
        emit_scalar(f, n);
        fputc('\n', f);
    }
    return ok;
}

int ytree_emit(FILE *f, const ytree *n)
{
    if (!n)
        return GP_ENOMEM;
    bool ok;
    if (is_scalar(n)) {
        emit_scalar(f, n);
        fputc('\n', f);
        ok = true;
    } else if (n->n == 0) {
        fputs(n->kind == Y_MAP ? "{}\n" : "[]\n", f);
        ok = !n->broken;
    } else {
        ok = emit_node(f, n, 0);
    }
    if (!ok)
        return GP_ENOMEM;
    return ferror(f) ? GP_EIO : 0;
}
