/* cfg.c: libyaml events -> the cfg_node tree of cfg.h.
 * The tree is built from the event stream (not libyaml's document loader) so that
 * aliases can be priced before they are expanded: every node knows the size and height
 * of its subtree, and an alias is refused when copying it would pass CFG_MAX_NODES or
 * CFG_MAX_DEPTH. A billion-laughs document is thus refused after at most CFG_MAX_NODES
 * copies, never expanded. All nodes, strings and arrays live in one arena per document.
 * YAML merge keys ("<<: *base", "<<: [*a, *b]") are honoured: explicit keys win, then
 * earlier merge sources. Null scalars (plain "", "~", "null") read as absent. */
#include "base/cfg.h"
#include "base/fileio.h"
#include "base/text.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

/* Largest file cfg_load_file reads: a configuration, not a data set. */
#define CFG_MAX_FILE_BYTES (64u << 20)

typedef struct cfg_entry {
    const char *key;
    long key_line, key_col;
    cfg_node *value;
    const char *key_file; /* set by cfg_set; NULL: the map's file */
} cfg_entry;

struct cfg_node {
    cfg_kind kind;
    int height;    /* 0 for a scalar, 1 + the tallest child otherwise */
    bool plain;    /* scalar written without quotes (for null detection) */
    bool complete; /* children filled in (an alias to an open node is recursive) */
    long line, col;
    const char *file;
    const char *path;
    size_t subtree_nodes;     /* this node and all below it */
    const char *scalar;       /* CFG_SCALAR only */
    size_t n;                 /* children */
    cfg_node **items;         /* CFG_SEQ */
    cfg_entry *entries;       /* CFG_MAP, document order (merged keys last) */
    const cfg_entry **sorted; /* CFG_MAP, by key, for lookups */
    const char *dir;          /* set by cfg_set: what relative paths in it are relative to */
};

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
} arena_chunk;

struct cfg_doc {
    arena_chunk *chunks;
    const char *file;
    cfg_node *root;
    size_t n_nodes;
    size_t arena_bytes; /* all chunks, against CFG_MAX_BYTES */
    bool over_budget;   /* an allocation was refused by CFG_MAX_BYTES */
};

/* ---------- arena ---------- */

static void *arena_alloc(cfg_doc *d, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    arena_chunk *c = d->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 60000 ? n : 60000;
        /* Node paths are copied per node, so long keys repeated by aliases could grow
         * the tree far beyond the node budget's worth of memory: bound the bytes too. */
        if (cap > CFG_MAX_BYTES - d->arena_bytes) {
            d->over_budget = true;
            return NULL;
        }
        d->arena_bytes += cap;
        arena_chunk *nc = malloc(sizeof(*nc) + cap);
        if (!nc)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (c && n > 60000) { /* keep filling the current chunk after a big one */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            d->chunks = nc;
        }
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static char *arena_strndup(cfg_doc *d, const char *s, size_t len)
{
    char *p = arena_alloc(d, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* "a.b" + key, or "a.b" + "[i]"; key == NULL means index. */
static char *path_child(cfg_doc *d, const char *parent, const char *key, size_t index)
{
    char buf[32];
    size_t pl = strlen(parent);
    if (key) {
        size_t kl = strlen(key);
        char *p = arena_alloc(d, pl + kl + 2);
        if (!p)
            return NULL;
        memcpy(p, parent, pl);
        size_t o = pl;
        if (pl)
            p[o++] = '.';
        memcpy(p + o, key, kl + 1);
        return p;
    }
    int bl = snprintf(buf, sizeof(buf), "[%zu]", index);
    char *p = arena_alloc(d, pl + (size_t)bl + 1);
    if (!p)
        return NULL;
    memcpy(p, parent, pl);
    memcpy(p + pl, buf, (size_t)bl + 1);
    return p;
}

/* ---------- builder state ---------- */

typedef struct anchor_slot {
    const char *name; /* NULL: empty slot */
    cfg_node *node;
} anchor_slot;

typedef struct frame {
    cfg_node *node;
    cfg_node **items;
    size_t n, cap;
    cfg_entry *entries;
    size_t ne, cape;
    bool have_key;
    bool key_is_merge;
    const char *key;
    long key_line, key_col;
    const cfg_node **merge; /* sources of "<<" */
    size_t nm, capm;
} frame;

typedef struct builder {
    cfg_doc *doc;
    gp_error *err;
    frame stack[CFG_MAX_DEPTH + 2];
    int depth;
    anchor_slot *anchors;
    size_t n_anchors, cap_anchors; /* open addressing, power-of-two capacity */
    bool doc_seen;
    long line, col; /* of the event being handled, for errors found below it */
} builder;

static int oom(builder *b)
{
    if (b->doc->over_budget)
        return gp_error_set(b->err, GP_ELIMIT, b->doc->file, b->line, b->col, NULL,
                            "document expands to more than %u MiB (long keys repeated by "
                            "aliases?)",
                            CFG_MAX_BYTES >> 20u);
    return gp_error_set(b->err, GP_ENOMEM, b->doc->file, b->line, b->col, NULL, "out of memory");
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int anchor_put(builder *b, const char *name, cfg_node *node)
{
    if ((b->n_anchors + 1) * 2 > b->cap_anchors) {
        size_t cap = b->cap_anchors ? b->cap_anchors * 2 : 64;
        anchor_slot *t = calloc(cap, sizeof(*t));
        if (!t)
            return oom(b);
        for (size_t i = 0; i < b->cap_anchors; i++) {
            if (!b->anchors[i].name)
                continue;
            size_t j = hash_str(b->anchors[i].name) & (cap - 1);
            while (t[j].name)
                j = (j + 1) & (cap - 1);
            t[j] = b->anchors[i];
        }
        free(b->anchors);
        b->anchors = t;
        b->cap_anchors = cap;
    }
    size_t j = hash_str(name) & (b->cap_anchors - 1);
    while (b->anchors[j].name) {
        if (strcmp(b->anchors[j].name, name) == 0) { /* redefinition: the latest wins */
            b->anchors[j].node = node;
            return 0;
        }
        j = (j + 1) & (b->cap_anchors - 1);
    }
    const char *copy = arena_strndup(b->doc, name, strlen(name));
    if (!copy)
        return oom(b);
    b->anchors[j].name = copy;
    b->anchors[j].node = node;
    b->n_anchors++;
    return 0;
}

static cfg_node *anchor_get(const builder *b, const char *name)
{
    if (!b->cap_anchors)
        return NULL;
    size_t j = hash_str(name) & (b->cap_anchors - 1);
    while (b->anchors[j].name) {
        if (strcmp(b->anchors[j].name, name) == 0)
            return b->anchors[j].node;
        j = (j + 1) & (b->cap_anchors - 1);
    }
    return NULL;
}

/* Room for `need` elements: the (possibly moved) array, or NULL with it unchanged. */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *p = realloc(arr, nc * elem);
    if (p)
        *cap = nc;
    return p;
}

static void frame_release(frame *f)
{
    free(f->items);
    free(f->entries);
    free(f->merge);
    memset(f, 0, sizeof(*f));
}

static int budget_error(builder *b, long line, long col, const char *path, const char *what)
{
    return gp_error_set(b->err, GP_ELIMIT, b->doc->file, line, col, path,
                        "document expands to more than %d nodes%s%s (alias bomb?)", CFG_MAX_NODES,
                        what ? " at " : "", what ? what : "");
}

static cfg_node *node_new(builder *b, cfg_kind kind, long line, long col, const char *path)
{
    cfg_node *n = arena_alloc(b->doc, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->line = line;
    n->col = col;
    n->file = b->doc->file;
    n->path = path;
    n->subtree_nodes = 1;
    n->complete = kind == CFG_SCALAR;
    return n;
}

/* Where a copy from another document comes from (cfg_set): its nodes and keys take this
 * file (line 0) and base directory, and its strings are copied into the document. */
typedef struct copy_origin {
    const char *file, *dir;
} copy_origin;

/* Deep copy of `src` placed at `path` of d: an alias within the document (o NULL), or an
 * overlay's value from another document. Budget and depth are the caller's (an alias) or
 * checked here (an overlay: the node budget). */
static cfg_node *tree_copy(cfg_doc *d, const cfg_node *src, const char *path, const copy_origin *o)
{
    if (o && d->n_nodes >= CFG_MAX_NODES)
        return NULL;
    cfg_node *n = arena_alloc(d, sizeof(*n));
    if (!n)
        return NULL;
    *n = *src;
    n->path = path;
    n->items = NULL;
    n->entries = NULL;
    n->sorted = NULL;
    d->n_nodes++;
    if (o) {
        n->file = o->file;
        n->dir = o->dir;
        n->line = n->col = 0;
        if (src->kind == CFG_SCALAR &&
            !(n->scalar = arena_strndup(d, src->scalar, strlen(src->scalar))))
            return NULL;
    }
    if (src->kind == CFG_SEQ && src->n) {
        n->items = arena_alloc(d, src->n * sizeof(*n->items));
        if (!n->items)
            return NULL;
        for (size_t i = 0; i < src->n; i++) {
            const char *cp = path_child(d, path, NULL, i);
            if (!cp || !(n->items[i] = tree_copy(d, src->items[i], cp, o)))
                return NULL;
        }
    } else if (src->kind == CFG_MAP && src->n) {
        n->entries = arena_alloc(d, src->n * sizeof(*n->entries));
        n->sorted = arena_alloc(d, src->n * sizeof(*n->sorted));
        if (!n->entries || !n->sorted)
            return NULL;
        for (size_t i = 0; i < src->n; i++) {
            n->entries[i] = src->entries[i];
            if (o) {
                cfg_entry *e = &n->entries[i];
                if (!(e->key = arena_strndup(d, e->key, strlen(e->key))))
                    return NULL;
                e->key_line = e->key_col = 0;
                e->key_file = o->file;
            }
            const char *cp = path_child(d, path, n->entries[i].key, 0);
            if (!cp || !(n->entries[i].value = tree_copy(d, src->entries[i].value, cp, o)))
                return NULL;
        }
        for (size_t i = 0; i < src->n; i++)
            n->sorted[i] = n->entries + (src->sorted[i] - src->entries);
    }
    return n;
}

/* Checks budget and depth, then copies. `depth` is the copy's depth below the root. */
static int place_copy(builder *b, const cfg_node *src, const char *path, int depth, long line,
                      long col, const char *alias, cfg_node **out)
{
    if (src->subtree_nodes > (size_t)CFG_MAX_NODES - b->doc->n_nodes) {
        char what[160];
        snprintf(what, sizeof(what), "alias '*%.100s'", alias);
        return budget_error(b, line, col, path, what);
    }
    if (depth + src->height > CFG_MAX_DEPTH)
        return gp_error_set(b->err, GP_ELIMIT, b->doc->file, line, col, path,
                            "alias '*%.100s' nests deeper than %d levels", alias, CFG_MAX_DEPTH);
    *out = tree_copy(b->doc, src, path, NULL);
    return *out ? 0 : oom(b);
}

/* The path and depth a new child of the top frame gets (the root: "" and 0). */
static const char *next_child_path(builder *b)
{
    if (b->depth == 0)
        return "";
    frame *f = &b->stack[b->depth - 1];
    if (f->node->kind == CFG_SEQ)
        return path_child(b->doc, f->node->path, NULL, f->n);
    return path_child(b->doc, f->node->path, f->key, 0);
}

static int cmp_entry_ptr(const void *a, const void *b)
{
    const cfg_entry *x = *(const cfg_entry *const *)a, *y = *(const cfg_entry *const *)b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x < y ? -1 : x > y;
}

static const cfg_entry *sorted_find(const cfg_entry *const *sorted, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sorted[mid]->key, key);
        if (c == 0)
            return sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Appends the merged keys of frame f's "<<" sources to its entries (not yet sorted into
 * the node): explicit keys win, then earlier sources. */
static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds key to an open-addressing set of `cap` slots (a power of two, never full);
 * false if it was there already. */
static bool key_set_add(const char **set, size_t cap, const char *key)
{
    size_t j = hash_str(key) & (cap - 1);
    while (set[j]) {
        if (strcmp(set[j], key) == 0)
            return false;
        j = (j + 1) & (cap - 1);
    }
    set[j] = key;
    return true;
}

static int apply_merges(builder *b, frame *f, const char **explicit_keys, size_t n_explicit)
{
    cfg_node *map = f->node;
    /* Keys taken from an earlier source, in a hash set: a scan per key would make
     * "<<: [*a, *a, ...]" over a large map quadratic (seconds for a few KiB). */
    size_t total = 0;
    for (size_t s = 0; s < f->nm; s++)
        total += f->merge[s]->n;
    size_t cap = 16;
    while (cap < 2 * total)
        cap *= 2;
    const char **seen = calloc(cap, sizeof(*seen));
    if (!seen)
        return oom(b);
    int rc = 0;
    for (size_t s = 0; s < f->nm && rc == 0; s++) {
        const cfg_node *src = f->merge[s];
        for (size_t i = 0; i < src->n && rc == 0; i++) {
            const cfg_entry *e = &src->entries[i];
            if (n_explicit &&
                bsearch(&e->key, explicit_keys, n_explicit, sizeof(*explicit_keys), cmp_str_ptr))
                continue;
            if (!key_set_add(seen, cap, e->key))
                continue; /* taken from an earlier source */
            const char *cp = path_child(b->doc, map->path, e->key, 0);
            if (!cp) {
                rc = oom(b);
                break;
            }
            cfg_node *v;
            rc = place_copy(b, e->value, cp, b->depth, e->value->line, e->value->col, "<<", &v);
            if (rc < 0)
                break;
            void *grown = grow(f->entries, &f->cape, f->ne + 1, sizeof(*f->entries));
            if (!grown) {
                rc = oom(b);
                break;
            }
            f->entries = grown;
            f->entries[f->ne++] = (cfg_entry){e->key, e->key_line, e->key_col, v, NULL};
        }
    }
    free(seen);
    return rc;
}

/* Closes the top frame: checks duplicates, merges, moves children into the arena. */
static int frame_close(builder *b, cfg_node **out)
{
    frame *f = &b->stack[b->depth - 1];
    cfg_node *n = f->node;
    int rc = 0;
    if (n->kind == CFG_SEQ) {
        n->n = f->n;
        if (f->n) {
            n->items = arena_alloc(b->doc, f->n * sizeof(*n->items));
            if (!n->items) {
                rc = oom(b);
                goto out;
            }
            memcpy(n->items, f->items, f->n * sizeof(*n->items));
        }
        for (size_t i = 0; i < f->n; i++) {
            n->subtree_nodes += f->items[i]->subtree_nodes;
            if (f->items[i]->height + 1 > n->height)
                n->height = f->items[i]->height + 1;
        }
    } else {
        size_t n_explicit = f->ne;
        const cfg_entry **idx = NULL;
        if (n_explicit) {
            idx = malloc(n_explicit * sizeof(*idx));
            if (!idx) {
                rc = oom(b);
                goto out;
            }
            for (size_t i = 0; i < n_explicit; i++)
                idx[i] = &f->entries[i];
            qsort(idx, n_explicit, sizeof(*idx), cmp_entry_ptr);
            for (size_t i = 1; i < n_explicit; i++) {
                if (strcmp(idx[i - 1]->key, idx[i]->key) == 0) {
                    const cfg_entry *first = idx[i - 1], *again = idx[i];
                    const char *p = path_child(b->doc, n->path, again->key, 0);
                    rc = gp_error_set(b->err, GP_EPARSE, b->doc->file, again->key_line,
                                      again->key_col, p ? p : n->path,
                                      "duplicate key '%s' (first at line %ld, column %ld)",
                                      again->key, first->key_line, first->key_col);
                    free(idx);
                    goto out;
                }
            }
        }
        if (f->nm) {
            /* apply_merges grows f->entries, so it gets the keys (arena strings), sorted */
            const char **keys = (const char **)idx;
            for (size_t i = 0; i < n_explicit; i++)
                keys[i] = idx[i]->key;
            rc = apply_merges(b, f, keys, n_explicit);
        }
        free(idx);
        if (rc < 0)
            goto out;
        n->n = f->ne;
        if (f->ne) {
            n->entries = arena_alloc(b->doc, f->ne * sizeof(*n->entries));
            n->sorted = arena_alloc(b->doc, f->ne * sizeof(*n->sorted));
            if (!n->entries || !n->sorted) {
                rc = oom(b);
                goto out;
            }
            memcpy(n->entries, f->entries, f->ne * sizeof(*n->entries));
            for (size_t i = 0; i < f->ne; i++)
                n->sorted[i] = &n->entries[i];
            qsort(n->sorted, f->ne, sizeof(*n->sorted), cmp_entry_ptr);
        }
        for (size_t i = 0; i < f->ne; i++) {
            n->subtree_nodes += f->entries[i].value->subtree_nodes;
            if (f->entries[i].value->height + 1 > n->height)
                n->height = f->entries[i].value->height + 1;
        }
    }
    n->complete = true;
    *out = n;
out:
    frame_release(f);
    b->depth--;
    return rc;
}

/* Attaches a finished value (or key) to the top frame, or makes it the root. */
static int attach(builder *b, cfg_node *v, long line, long col)
{
    if (b->depth == 0) {
        b->doc->root = v;
        return 0;
    }
    frame *f = &b->stack[b->depth - 1];
    if (f->node->kind == CFG_SEQ) {
        void *grown = grow(f->items, &f->cap, f->n + 1, sizeof(*f->items));
        if (!grown)
            return oom(b);
        f->items = grown;
        f->items[f->n++] = v;
        return 0;
    }
    if (!f->have_key) {
        /* v is a key: it must be a scalar */
        if (v->kind != CFG_SCALAR)
            return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col, f->node->path,
                                "a map key must be a scalar, not a %s",
                                v->kind == CFG_MAP ? "map" : "sequence");
        f->have_key = true;
        f->key = v->scalar;
        f->key_is_merge = v->plain && strcmp(v->scalar, "<<") == 0;
        f->key_line = line;
        f->key_col = col;
        return 0;
    }
    f->have_key = false;
    if (f->key_is_merge) {
        if (v->kind == CFG_MAP) {
            void *grown = grow(f->merge, &f->capm, f->nm + 1, sizeof(*f->merge));
            if (!grown)
                return oom(b);
            f->merge = grown;
            f->merge[f->nm++] = v;
            return 0;
        }
        if (v->kind == CFG_SEQ) {
            for (size_t i = 0; i < v->n; i++) {
                if (v->items[i]->kind != CFG_MAP)
                    return gp_error_set(b->err, GP_EPARSE, b->doc->file, v->items[i]->line,
                                        v->items[i]->col, v->items[i]->path,
                                        "a merge key '<<' takes maps only");
                void *grown = grow(f->merge, &f->capm, f->nm + 1, sizeof(*f->merge));
                if (!grown)
                    return oom(b);
                f->merge = grown;
                f->merge[f->nm++] = v->items[i];
            }
            return 0;
        }
        return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col, v->path,
                            "a merge key '<<' takes a map or a sequence of maps");
    }
    void *grown = grow(f->entries, &f->cape, f->ne + 1, sizeof(*f->entries));
    if (!grown)
        return oom(b);
    f->entries = grown;
    f->entries[f->ne++] = (cfg_entry){f->key, f->key_line, f->key_col, v, NULL};
    return 0;
}

static bool top_expects_key(const builder *b)
{
    return b->depth > 0 && b->stack[b->depth - 1].node->kind == CFG_MAP &&
           !b->stack[b->depth - 1].have_key;
}

static bool top_expects_merge_value(const builder *b)
{
    if (b->depth == 0)
        return false;
    const frame *f = &b->stack[b->depth - 1];
    return f->node->kind == CFG_MAP && f->have_key && f->key_is_merge;
}

static int on_scalar(builder *b, const yaml_event_t *ev, long line, long col)
{
    const char *val = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(val, '\0', len))
        return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col, NULL,
                            "a scalar contains a NUL byte");
    const char *path = top_expects_key(b) ? "" : next_child_path(b);
    if (!path)
        return oom(b);
    if (b->depth > CFG_MAX_DEPTH)
        return gp_error_set(b->err, GP_ELIMIT, b->doc->file, line, col, NULL,
                            "nesting deeper than %d levels", CFG_MAX_DEPTH);
    if (b->doc->n_nodes >= CFG_MAX_NODES)
        return budget_error(b, line, col, path, NULL);
    cfg_node *n = node_new(b, CFG_SCALAR, line, col, path);
    if (!n || !(n->scalar = arena_strndup(b->doc, val, len)))
        return oom(b);
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    b->doc->n_nodes++;
    if (ev->data.scalar.anchor) {
        int rc = anchor_put(b, (const char *)ev->data.scalar.anchor, n);
        if (rc < 0)
            return rc;
    }
    return attach(b, n, line, col);
}

static int on_alias(builder *b, const yaml_event_t *ev, long line, long col)
{
    const char *name = (const char *)ev->data.alias.anchor;
    cfg_node *src = anchor_get(b, name);
    if (!src)
        return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col, NULL,
                            "alias '*%.100s' names no anchor defined before it", name);
    if (!src->complete)
        return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col, src->path,
                            "alias '*%.100s' refers to a node that contains it", name);
    if (top_expects_key(b)) {
        if (src->kind != CFG_SCALAR)
            return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col,
                                b->stack[b->depth - 1].node->path,
                                "a map key must be a scalar (alias '*%.100s' is not)", name);
        return attach(b, src, line, col); /* keys are only read, never placed */
    }
    if (top_expects_merge_value(b) && src->kind == CFG_MAP)
        return attach(b, src, line, col); /* merged entries are copied at map end */
    const char *path = next_child_path(b);
    if (!path)
        return oom(b);
    cfg_node *v;
    int rc = place_copy(b, src, path, b->depth, line, col, name, &v);
    if (rc < 0)
        return rc;
    return attach(b, v, line, col);
}

static int on_start(builder *b, const yaml_event_t *ev, cfg_kind kind, long line, long col)
{
    if (top_expects_key(b))
        return gp_error_set(
            b->err, GP_EPARSE, b->doc->file, line, col, b->stack[b->depth - 1].node->path,
            "a map key must be a scalar, not a %s", kind == CFG_MAP ? "map" : "sequence");
    const char *path = next_child_path(b);
    if (!path)
        return oom(b);
    if (b->depth > CFG_MAX_DEPTH)
        return gp_error_set(b->err, GP_ELIMIT, b->doc->file, line, col, NULL,
                            "nesting deeper than %d levels", CFG_MAX_DEPTH);
    if (b->doc->n_nodes >= CFG_MAX_NODES)
        return budget_error(b, line, col, path, NULL);
    cfg_node *n = node_new(b, kind, line, col, path);
    if (!n)
        return oom(b);
    b->doc->n_nodes++;
    const yaml_char_t *anchor =
        kind == CFG_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    if (anchor) {
        int rc = anchor_put(b, (const char *)anchor, n);
        if (rc < 0)
            return rc;
    }
    frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof(*f));
    f->node = n;
    return 0;
}

static int on_end(builder *b)
{
    cfg_node *n = NULL;
    int rc = frame_close(b, &n);
    if (rc < 0)
        return rc;
    return attach(b, n, n->line, n->col);
}

/* Line and column (1-based) of byte `offset` of text. */
static void offset_to_mark(const char *text, size_t len, size_t offset, long *line, long *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int parser_error(builder *b, const yaml_parser_t *p, const char *text, size_t len)
{
    long line, col;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return oom(b);
    if (p->error == YAML_READER_ERROR) {
        offset_to_mark(text, len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col, NULL,
                                "%s (byte 0x%02x)", problem, (unsigned)p->problem_value);
        return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col, NULL, "%s", problem);
    }
    line = (long)p->problem_mark.line + 1;
    col = (long)p->problem_mark.column + 1;
    if (p->context)
        return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col, NULL,
                            "%s %s (line %ld, column %ld)", problem, p->context,
                            (long)p->context_mark.line + 1, (long)p->context_mark.column + 1);
    return gp_error_set(b->err, GP_EPARSE, b->doc->file, line, col, NULL, "%s", problem);
}

static bool is_null_scalar(const cfg_node *n)
{
    return n && n->kind == CFG_SCALAR && n->plain &&
           (n->scalar[0] == '\0' || strcmp(n->scalar, "~") == 0 || strcmp(n->scalar, "null") == 0 ||
            strcmp(n->scalar, "Null") == 0 || strcmp(n->scalar, "NULL") == 0);
}

int cfg_load_string(const char *name, const char *text, size_t len, cfg_doc **out, gp_error *err)
{
    *out = NULL;
    /* a NUL would end the text early for libyaml's scanner and C strings alike */
    int trc = gp_text_check(name, text, len, 1, err);
    if (trc < 0)
        return trc;
    cfg_doc *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return gp_error_set(err, GP_ENOMEM, name, 0, 0, NULL, "out of memory");
    doc->file = arena_strndup(doc, name ? name : "", name ? strlen(name) : 0);
    if (!doc->file) {
        free(doc);
        return gp_error_set(err, GP_ENOMEM, name, 0, 0, NULL, "out of memory");
    }
    builder b = {.doc = doc, .err = err};
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        cfg_free(doc);
        return gp_error_set(err, GP_ENOMEM, name, 0, 0, NULL, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    bool done = false;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(&b, &parser, text, len);
            break;
        }
        long line = (long)ev.start_mark.line + 1, col = (long)ev.start_mark.column + 1;
        b.line = line;
        b.col = col;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_DOCUMENT_START_EVENT:
            if (b.doc_seen)
                rc = gp_error_set(err, GP_EPARSE, doc->file, line, col, NULL,
                                  "a second YAML document; one document per file");
            b.doc_seen = true;
            break;
        case YAML_SCALAR_EVENT: rc = on_scalar(&b, &ev, line, col); break;
        case YAML_ALIAS_EVENT: rc = on_alias(&b, &ev, line, col); break;
        case YAML_SEQUENCE_START_EVENT: rc = on_start(&b, &ev, CFG_SEQ, line, col); break;
        case YAML_MAPPING_START_EVENT: rc = on_start(&b, &ev, CFG_MAP, line, col); break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: rc = on_end(&b); break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (b.depth > 0)
        frame_release(&b.stack[--b.depth]);
    free(b.anchors);
    if (rc < 0) {
        cfg_free(doc);
        return rc;
    }
    if (is_null_scalar(doc->root))
        doc->root = NULL; /* "---" alone, "~": as empty as an empty file */
    *out = doc;
    return 0;
}

int cfg_load_file(const char *path, cfg_doc **out, gp_error *err)
{
    *out = NULL;
    char *buf;
    size_t len;
    int rc = gp_read_file(path, CFG_MAX_FILE_BYTES, &buf, &len, err);
    if (rc == GP_EMISSING) { /* cfg's contract: a file that cannot be opened is GP_EIO */
        rc = GP_EIO;
        if (err)
            err->code = GP_EIO;
    }
    if (rc < 0)
        return rc;
    rc = cfg_load_string(path, buf, len, out, err);
    free(buf);
    return rc;
}

void cfg_free(cfg_doc *doc)
{
    if (!doc)
        return;
    arena_chunk *c = doc->chunks;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

const cfg_node *cfg_root(const cfg_doc *doc) { return doc ? doc->root : NULL; }

/* ---------- accessors ---------- */

cfg_kind cfg_node_kind(const cfg_node *n) { return n->kind; }
const char *cfg_node_file(const cfg_node *n) { return n ? n->file : ""; }
long cfg_node_line(const cfg_node *n) { return n ? n->line : 0; }
long cfg_node_col(const cfg_node *n) { return n ? n->col : 0; }
const char *cfg_node_path(const cfg_node *n) { return n ? n->path : ""; }

const char *cfg_scalar(const cfg_node *n) { return n && n->kind == CFG_SCALAR ? n->scalar : NULL; }

size_t cfg_len(const cfg_node *n) { return n && n->kind != CFG_SCALAR ? n->n : 0; }

const cfg_node *cfg_seq_at(const cfg_node *seq, size_t i)
{
    return seq && seq->kind == CFG_SEQ && i < seq->n ? seq->items[i] : NULL;
}

const char *cfg_map_key_at(const cfg_node *map, size_t i)
{
    return map && map->kind == CFG_MAP && i < map->n ? map->entries[i].key : NULL;
}

const cfg_node *cfg_map_value_at(const cfg_node *map, size_t i)
{
    return map && map->kind == CFG_MAP && i < map->n ? map->entries[i].value : NULL;
}

const cfg_node *cfg_map_get(const cfg_node *map, const char *key)
{
    if (!map || map->kind != CFG_MAP || !key)
        return NULL;
    const cfg_entry *e = sorted_find(map->sorted, map->n, key);
    return e ? e->value : NULL;
}

bool cfg_node_is_null(const cfg_node *n) { return n == NULL || is_null_scalar(n); }

bool cfg_scalar_plain(const cfg_node *n) { return n && n->kind == CFG_SCALAR && n->plain; }

const char *cfg_kind_name(cfg_kind k)
{
    switch (k) {
    case CFG_SCALAR: return "scalar";
    case CFG_MAP: return "map";
    case CFG_SEQ: return "sequence";
    }
    return "?";
}

int cfg_error(const cfg_node *n, gp_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gp_error_set(err, code, n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0,
                        n ? n->path : NULL, "%s", msg);
}

/* Error naming `key` below `map` (a missing key): the map's place, the key's path. */
static int key_error(const cfg_node *map, const char *key, gp_error *err, int code, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static int key_error(const cfg_node *map, const char *key, gp_error *err, int code, const char *fmt,
                     ...)
{
    if (!err)
        return code;
    char field[sizeof(err->field)];
    if (map->path[0])
        snprintf(field, sizeof(field), "%s.%s", map->path, key);
    else
        snprintf(field, sizeof(field), "%s", key);
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gp_error_set(err, code, map->file, map->line, map->col, field, "%s", msg);
}

/* Levenshtein distance, bounded lengths (keys are short; longer ones get no hint). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return SIZE_MAX;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t sub =
                diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cfg_nearest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; candidates[i]; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    size_t len = strlen(word);
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return best && best_d <= limit ? best : NULL;
}

/* "a, b, c" into buf, truncated with "..." */
static void join_names(const char *const *names, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i]; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= len - used) {
            if (len > 4)
                memcpy(buf + len - 4, "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

int cfg_check_keys(const cfg_node *map, const char *const *allowed, gp_error *err)
{
    if (cfg_node_is_null(map))
        return 0; /* "spec:" with nothing: an empty map */
    if (map->kind != CFG_MAP)
        return cfg_error(map, err, GP_EPARSE, "expected a map, got a %s", cfg_kind_name(map->kind));
    for (size_t i = 0; i < map->n; i++) {
        const cfg_entry *e = &map->entries[i];
        bool ok = false;
        for (size_t k = 0; allowed[k] && !ok; k++)
            ok = strcmp(allowed[k], e->key) == 0;
        if (ok)
            continue;
        char field[sizeof(((gp_error *)0)->field)];
        if (map->path[0])
            snprintf(field, sizeof(field), "%s.%s", map->path, e->key);
        else
            snprintf(field, sizeof(field), "%s", e->key);
        const char *near = cfg_nearest(e->key, allowed);
        if (near)
            return gp_error_set(err, GP_EUNKNOWN, e->key_file ? e->key_file : map->file,
                                e->key_line, e->key_col, field,
                                "unknown key '%s' (did you mean '%s'?)", e->key, near);
        char list[300];
        join_names(allowed, list, sizeof(list));
        return gp_error_set(err, GP_EUNKNOWN, e->key_file ? e->key_file : map->file, e->key_line,
                            e->key_col, field, "unknown key '%s' (allowed: %s)", e->key, list);
    }
    return 0;
}

/* ---------- scalar conversions ---------- */

/* Looks up key: 1 and *v when present and not null, 0 when absent or null. */
static int lookup(const cfg_node *map, const char *key, const cfg_node **v, gp_error *err)
{
    if (cfg_node_is_null(map))
        return 0;
    if (map->kind != CFG_MAP)
        return cfg_error(map, err, GP_EPARSE, "expected a map, got a %s", cfg_kind_name(map->kind));
    *v = cfg_map_get(map, key);
    return *v && !is_null_scalar(*v) ? 1 : 0;
}

static int want_scalar(const cfg_node *n, const char *what, gp_error *err)
{
    if (n->kind != CFG_SCALAR)
        return cfg_error(n, err, GP_EPARSE, "expected %s, got a %s", what, cfg_kind_name(n->kind));
    return 0;
}

/* Strict decimal number: optional sign, digits with optional fraction and exponent,
 * nothing else (no spaces, hex, nan, inf). */
static bool looks_decimal(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    bool digits = false;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

static void describe_range_d(char *buf, size_t len, double lo, double hi)
{
    bool has_lo = lo > -DBL_MAX, has_hi = hi < DBL_MAX;
    if (has_lo && has_hi)
        snprintf(buf, len, " in [%.15g, %.15g]", lo, hi);
    else if (has_lo)
        snprintf(buf, len, " >= %.15g", lo);
    else if (has_hi)
        snprintf(buf, len, " <= %.15g", hi);
    else
        buf[0] = '\0';
}

static void describe_range_i(char *buf, size_t len, int64_t lo, int64_t hi)
{
    bool has_lo = lo > INT64_MIN, has_hi = hi < INT64_MAX;
    if (has_lo && has_hi)
        snprintf(buf, len, " in [%" PRId64 ", %" PRId64 "]", lo, hi);
    else if (has_lo)
        snprintf(buf, len, " >= %" PRId64, lo);
    else if (has_hi)
        snprintf(buf, len, " <= %" PRId64, hi);
    else
        buf[0] = '\0';
}

int cfg_node_double(const cfg_node *n, double lo, double hi, double *out, gp_error *err)
{
    char range[96];
    describe_range_d(range, sizeof(range), lo, hi);
    int rc = want_scalar(n, "a number", err);
    if (rc < 0)
        return rc;
    const char *s = n->scalar;
    if (!looks_decimal(s))
        return cfg_error(n, err, GP_EPARSE, "expected a number%s, got \"%.64s\"", range, s);
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno == ERANGE && fabs(v) > 1.0)
        return cfg_error(n, err, GP_ERANGE, "number \"%.64s\" is too large", s);
    if (*end != '\0' || !isfinite(v))
        return cfg_error(n, err, GP_EPARSE, "expected a number%s, got \"%.64s\"", range, s);
    if (!(v >= lo && v <= hi))
        return cfg_error(n, err, GP_ERANGE, "expected a number%s, got %.64s", range, s);
    *out = v;
    return 0;
}

int cfg_node_int64(const cfg_node *n, int64_t lo, int64_t hi, int64_t *out, gp_error *err)
{
    char range[96];
    describe_range_i(range, sizeof(range), lo, hi);
    int rc = want_scalar(n, "an integer", err);
    if (rc < 0)
        return rc;
    const char *s = n->scalar;
    const char *p = s + (*s == '+' || *s == '-');
    bool ok = isdigit((unsigned char)*p);
    for (; *p && ok; p++)
        ok = isdigit((unsigned char)*p);
    if (!ok)
        return cfg_error(n, err, GP_EPARSE, "expected an integer%s, got \"%.64s\"", range, s);
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return cfg_error(n, err, GP_ERANGE, "integer \"%.64s\" does not fit in 64 bits", s);
    if (*end != '\0')
        return cfg_error(n, err, GP_EPARSE, "expected an integer%s, got \"%.64s\"", range, s);
    if (v < lo || v > hi)
        return cfg_error(n, err, GP_ERANGE, "expected an integer%s, got %.64s", range, s);
    *out = (int64_t)v;
    return 0;
}

int cfg_node_int(const cfg_node *n, int lo, int hi, int *out, gp_error *err)
{
    int64_t v;
    int rc = cfg_node_int64(n, lo, hi, &v, err);
    if (rc == 0)
        *out = (int)v;
    return rc;
}

int cfg_node_bool(const cfg_node *n, bool *out, gp_error *err)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    int rc = want_scalar(n, "true or false", err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(n->scalar, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(n->scalar, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return cfg_error(n, err, GP_EPARSE, "expected true or false, got \"%.64s\"", n->scalar);
}

/* One "<decimal><unit>" component at *pp, scaled exactly: whole * unit + frac * unit,
 * the fraction rounded to the nearest microsecond. Returns 0, -1 (syntax), -2 (overflow). */
static int duration_part(const char **pp, bool need_unit, int64_t *out_us)
{
    static const struct {
        const char *name;
        int64_t us;
    } units[] = {{"ms", 1000},        {"us", 1},         {"\xc2\xb5s", 1},
                 {"h", 3600000000LL}, {"m", 60000000LL}, {"s", 1000000LL}};
    const char *p = *pp;
    uint64_t whole = 0;
    bool digits = false, wide = false;
    while (isdigit((unsigned char)*p)) {
        if (whole > (UINT64_MAX - 9) / 10)
            wide = true;
        else
            whole = whole * 10 + (uint64_t)(*p - '0');
        p++;
        digits = true;
    }
    const char *frac = NULL;
    size_t frac_len = 0;
    if (*p == '.') {
        frac = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        frac_len = (size_t)(p - frac);
        digits = digits || frac_len > 0;
    }
    if (!digits)
        return -1;
    int64_t unit = 1000000;
    bool found = false;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t ul = strlen(units[i].name);
        if (strncmp(p, units[i].name, ul) == 0) {
            unit = units[i].us;
            p += ul;
            found = true;
            break;
        }
    }
    if (!found && need_unit)
        return -1;
    if (wide)
        return -2;
    int64_t v;
    if (whole > (uint64_t)INT64_MAX || __builtin_mul_overflow((int64_t)whole, unit, &v))
        return -2;
    /* fraction: digits beyond 18 cannot change a microsecond of any unit here */
    uint64_t fnum = 0, fden = 1;
    for (size_t i = 0; i < frac_len && i < 18; i++) {
        fnum = fnum * 10 + (uint64_t)(frac[i] - '0');
        fden *= 10;
    }
    /* frac * unit / fden, rounded: unit <= 3.6e9 and fnum < 1e18 would overflow 64 bits */
    long double part = (long double)fnum * (long double)unit / (long double)fden;
    int64_t add = (int64_t)(part + 0.5L);
    if (__builtin_add_overflow(v, add, &v))
        return -2;
    *out_us = v;
    *pp = p;
    return found ? 0 : 1; /* 1: a bare number */
}

int cfg_node_duration_us(const cfg_node *n, int64_t lo_us, int64_t hi_us, int64_t *out_us,
                         gp_error *err)
{
    int rc = want_scalar(n, "a duration", err);
    if (rc < 0)
        return rc;
    const char *s = n->scalar, *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    int64_t total = 0;
    int parts = 0;
    while (*p) {
        int64_t v;
        int r = duration_part(&p, parts > 0, &v);
        if (r == -2)
            return cfg_error(n, err, GP_ERANGE, "duration \"%.64s\" is too long", s);
        if (r < 0 || (r == 1 && *p))
            break;
        if (__builtin_add_overflow(total, v, &total))
            return cfg_error(n, err, GP_ERANGE, "duration \"%.64s\" is too long", s);
        parts++;
        if (r == 1)
            break;
    }
    if (parts == 0 || *p)
        return cfg_error(n, err, GP_EPARSE,
                         "expected a duration (seconds, or like 250ms, 30s, 5m, 1h30m), got "
                         "\"%.64s\"",
                         s);
    if (neg)
        total = -total;
    if (total < lo_us || total > hi_us) {
        char range[96];
        describe_range_i(range, sizeof(range), lo_us, hi_us);
        return cfg_error(n, err, GP_ERANGE, "expected a duration%s us, got %.64s (%" PRId64 " us)",
                         range, s, total);
    }
    *out_us = total;
    return 0;
}

int cfg_node_enum(const cfg_node *n, const char *const *names, int *out, gp_error *err)
{
    char list[300];
    join_names(names, list, sizeof(list));
    int rc = want_scalar(n, "a name", err);
    if (rc < 0)
        return rc;
    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], n->scalar) == 0) {
            *out = i;
            return 0;
        }
    }
    const char *near = cfg_nearest(n->scalar, names);
    if (near)
        return cfg_error(n, err, GP_EUNKNOWN, "unknown value \"%.64s\" (did you mean '%s'?)",
                         n->scalar, near);
    return cfg_error(n, err, GP_EUNKNOWN, "expected one of %s, got \"%.64s\"", list, n->scalar);
}

/* ---------- getters ---------- */

int cfg_opt_double(const cfg_node *map, const char *key, double lo, double hi, double *out,
                   gp_error *err)
{
    const cfg_node *v;
    int rc = lookup(map, key, &v, err);
    if (rc <= 0)
        return rc;
    rc = cfg_node_double(v, lo, hi, out, err);
    return rc < 0 ? rc : 1;
}

int cfg_opt_int64(const cfg_node *map, const char *key, int64_t lo, int64_t hi, int64_t *out,
                  gp_error *err)
{
    const cfg_node *v;
    int rc = lookup(map, key, &v, err);
    if (rc <= 0)
        return rc;
    rc = cfg_node_int64(v, lo, hi, out, err);
    return rc < 0 ? rc : 1;
}

int cfg_opt_int(const cfg_node *map, const char *key, int lo, int hi, int *out, gp_error *err)
{
    const cfg_node *v;
    int rc = lookup(map, key, &v, err);
    if (rc <= 0)
        return rc;
    rc = cfg_node_int(v, lo, hi, out, err);
    return rc < 0 ? rc : 1;
}

int cfg_opt_bool(const cfg_node *map, const char *key, bool *out, gp_error *err)
{
    const cfg_node *v;
    int rc = lookup(map, key, &v, err);
    if (rc <= 0)
        return rc;
    rc = cfg_node_bool(v, out, err);
    return rc < 0 ? rc : 1;
}

int cfg_opt_string(const cfg_node *map, const char *key, const char **out, gp_error *err)
{
    const cfg_node *v;
    int rc = lookup(map, key, &v, err);
    if (rc <= 0)
        return rc;
    rc = want_scalar(v, "a string", err);
    if (rc < 0)
        return rc;
    *out = v->scalar;
    return 1;
}

int cfg_opt_duration_us(const cfg_node *map, const char *key, int64_t lo_us, int64_t hi_us,
                        int64_t *out_us, gp_error *err)
{
    const cfg_node *v;
    int rc = lookup(map, key, &v, err);
    if (rc <= 0)
        return rc;
    rc = cfg_node_duration_us(v, lo_us, hi_us, out_us, err);
    return rc < 0 ? rc : 1;
}

int cfg_opt_enum(const cfg_node *map, const char *key, const char *const *names, int *out,
                 gp_error *err)
{
    const cfg_node *v;
    int rc = lookup(map, key, &v, err);
    if (rc <= 0)
        return rc;
    rc = cfg_node_enum(v, names, out, err);
    return rc < 0 ? rc : 1;
}

static int opt_kind(const cfg_node *map, const char *key, cfg_kind kind, const cfg_node **out,
                    gp_error *err)
{
    const cfg_node *v;
    int rc = lookup(map, key, &v, err);
    if (rc <= 0)
        return rc;
    if (v->kind != kind)
        return cfg_error(v, err, GP_EPARSE, "expected a %s, got a %s", cfg_kind_name(kind),
                         cfg_kind_name(v->kind));
    *out = v;
    return 1;
}

int cfg_opt_map(const cfg_node *map, const char *key, const cfg_node **out, gp_error *err)
{
    return opt_kind(map, key, CFG_MAP, out, err);
}

int cfg_opt_seq(const cfg_node *map, const char *key, const cfg_node **out, gp_error *err)
{
    return opt_kind(map, key, CFG_SEQ, out, err);
}

/* A required key: 0 when present, GP_EMISSING naming the map's place otherwise. */
static int missing(const cfg_node *map, const char *key, int rc, gp_error *err)
{
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (!map)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, key, "required key '%s' is missing", key);
    if (cfg_map_get(map, key))
        return key_error(map, key, err, GP_EMISSING, "required key '%s' has no value", key);
    return key_error(map, key, err, GP_EMISSING, "required key '%s' is missing", key);
}

int cfg_req_double(const cfg_node *map, const char *key, double lo, double hi, double *out,
                   gp_error *err)
{
    return missing(map, key, cfg_opt_double(map, key, lo, hi, out, err), err);
}

int cfg_req_int(const cfg_node *map, const char *key, int lo, int hi, int *out, gp_error *err)
{
    return missing(map, key, cfg_opt_int(map, key, lo, hi, out, err), err);
}

int cfg_req_string(const cfg_node *map, const char *key, const char **out, gp_error *err)
{
    return missing(map, key, cfg_opt_string(map, key, out, err), err);
}

int cfg_req_int64(const cfg_node *map, const char *key, int64_t lo, int64_t hi, int64_t *out,
                  gp_error *err)
{
    return missing(map, key, cfg_opt_int64(map, key, lo, hi, out, err), err);
}

int cfg_req_bool(const cfg_node *map, const char *key, bool *out, gp_error *err)
{
    return missing(map, key, cfg_opt_bool(map, key, out, err), err);
}

int cfg_req_duration_us(const cfg_node *map, const char *key, int64_t lo_us, int64_t hi_us,
                        int64_t *out_us, gp_error *err)
{
    return missing(map, key, cfg_opt_duration_us(map, key, lo_us, hi_us, out_us, err), err);
}

int cfg_req_enum(const cfg_node *map, const char *key, const char *const *names, int *out,
                 gp_error *err)
{
    return missing(map, key, cfg_opt_enum(map, key, names, out, err), err);
}

int cfg_req_map(const cfg_node *map, const char *key, const cfg_node **out, gp_error *err)
{
    return missing(map, key, cfg_opt_map(map, key, out, err), err);
}

int cfg_req_seq(const cfg_node *map, const char *key, const cfg_node **out, gp_error *err)
{
    return missing(map, key, cfg_opt_seq(map, key, out, err), err);
}

/* ---------- overlays ---------- */

const char *cfg_node_base_dir(const cfg_node *n) { return n ? n->dir : NULL; }

typedef struct overlay {
    cfg_doc *doc;
    const char *file; /* origin, in doc's arena */
    const char *dir;  /* in doc's arena, or NULL */
    gp_error *err;
} overlay;

static int overlay_oom(overlay *o)
{
    return gp_error_set(o->err, o->doc->over_budget ? GP_ELIMIT : GP_ENOMEM, o->file, 0, 0, NULL,
                        o->doc->over_budget ? "the document would grow past %u MiB"
                                            : "out of memory",
                        CFG_MAX_BYTES >> 20u);
}

/* A copy of src (another document's node) placed at `path` of o->doc, from o->file. */
static cfg_node *overlay_import(overlay *o, const cfg_node *src, const char *path)
{
    copy_origin origin = {o->file, o->dir};
    return tree_copy(o->doc, src, path, &origin);
}

/* Adds `key` (not present) to a map, its value v; the entry arrays are copied whole. */
static int overlay_add_key(overlay *o, cfg_node *map, const char *key, cfg_node *v)
{
    cfg_entry *ents = arena_alloc(o->doc, (map->n + 1) * sizeof(*ents));
    const cfg_entry **sorted = arena_alloc(o->doc, (map->n + 1) * sizeof(*sorted));
    const char *k = arena_strndup(o->doc, key, strlen(key));
    if (!ents || !sorted || !k)
        return overlay_oom(o);
    if (map->n)
        memcpy(ents, map->entries, map->n * sizeof(*ents));
    ents[map->n] = (cfg_entry){k, 0, 0, v, o->file};
    map->n++;
    for (size_t i = 0; i < map->n; i++)
        sorted[i] = &ents[i];
    qsort(sorted, map->n, sizeof(*sorted), cmp_entry_ptr);
    map->entries = ents;
    map->sorted = sorted;
    return 0;
}

/* An empty map at `path`, from the overlay. */
static cfg_node *overlay_new_map(overlay *o, const char *path)
{
    cfg_node *n = arena_alloc(o->doc, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->kind = CFG_MAP;
    n->complete = true;
    n->file = o->file;
    n->dir = o->dir;
    n->path = path;
    n->subtree_nodes = 1;
    o->doc->n_nodes++;
    return n;
}

/* The key of `map` that `rest` starts with, longest first, followed by '.', '[' or the
 * end (so "autoscaling.knative.dev/target" is one key where the map has it); NULL if none. */
static cfg_entry *overlay_match_key(cfg_node *map, const char *rest, size_t *klen)
{
    cfg_entry *best = NULL;
    for (size_t i = 0; i < map->n; i++) {
        size_t l = strlen(map->entries[i].key);
        if (strncmp(rest, map->entries[i].key, l) == 0 &&
            (rest[l] == '\0' || rest[l] == '.' || rest[l] == '[') && (!best || l > *klen)) {
            best = &map->entries[i];
            *klen = l;
        }
    }
    return best;
}

int cfg_set(cfg_doc *doc, const char *path, const char *value, const char *origin,
            const char *base_dir, gp_error *err)
{
    if (!doc || !doc->root || doc->root->kind != CFG_MAP)
        return gp_error_set(err, GP_EPARSE, origin, 0, 0, path,
                            "the document is not a map: nothing to set");
    if (!path || !path[0])
        return gp_error_set(err, GP_EPARSE, origin, 0, 0, NULL, "an empty path");
    cfg_doc *val = NULL;
    int rc = cfg_load_string(origin, value, strlen(value), &val, err);
    if (rc < 0)
        return rc;
    overlay o = {doc, arena_strndup(doc, origin, strlen(origin)),
                 base_dir ? arena_strndup(doc, base_dir, strlen(base_dir)) : NULL, err};
    cfg_node empty = {.kind = CFG_SCALAR, .plain = true, .scalar = "", .complete = true};
    const cfg_node *src = val->root ? val->root : &empty;
    if (!o.file || (base_dir && !o.dir)) {
        cfg_free(val);
        return overlay_oom(&o);
    }
    cfg_node **slot = &doc->root, *cur = doc->root;
    const char *rest = path;
    rc = 0;
    while (rc == 0 && *rest) {
        if (*rest == '[') {
            char *end;
            errno = 0;
            unsigned long long i = strtoull(rest + 1, &end, 10);
            if (end == rest + 1 || *end != ']' || errno) {
                rc = gp_error_set(err, GP_EPARSE, origin, 0, 0, path, "expected [INDEX] at \"%s\"",
                                  rest);
                break;
            }
            if (cur->kind != CFG_SEQ || i >= cur->n) {
                rc = gp_error_set(err, GP_ERANGE, origin, 0, 0, path,
                                  "%s has no item [%llu] (%s of %zu)",
                                  cur->path[0] ? cur->path : "the document", i,
                                  cfg_kind_name(cur->kind), cfg_len(cur));
                break;
            }
            slot = &cur->items[i];
            cur = *slot;
            rest = end + 1;
        } else {
            if (*rest == '.')
                rest++;
            if (is_null_scalar(cur)) { /* "metrics:" with nothing: becomes a map */
                cfg_node *m = overlay_new_map(&o, cur->path);
                if (!m) {
                    rc = overlay_oom(&o);
                    break;
                }
                *slot = cur = m;
            }
            if (cur->kind != CFG_MAP) {
                rc = gp_error_set(err, GP_EPARSE, origin, 0, 0, path,
                                  "%s is a %s, not a map: cannot set a key below it", cur->path,
                                  cfg_kind_name(cur->kind));
                break;
            }
            size_t klen = 0;
            cfg_entry *e = overlay_match_key(cur, rest, &klen);
            if (e) {
                slot = &e->value;
                cur = e->value;
                rest += klen;
                continue;
            }
            /* a new key: up to the next '.' or '[' */
            klen = strcspn(rest, ".[");
            if (klen == 0) {
                rc = gp_error_set(err, GP_EPARSE, origin, 0, 0, path, "an empty key in the path");
                break;
            }
            char key[256];
            if (klen >= sizeof(key)) {
                rc = gp_error_set(err, GP_ELIMIT, origin, 0, 0, path, "key too long");
                break;
            }
            memcpy(key, rest, klen);
            key[klen] = '\0';
            rest += klen;
            const char *cp = path_child(doc, cur->path, key, 0);
            cfg_node *child = !cp     ? NULL
                              : *rest ? overlay_new_map(&o, cp)
                                      : overlay_import(&o, src, cp);
            if (!child) {
                rc = overlay_oom(&o);
                break;
            }
            if ((rc = overlay_add_key(&o, cur, key, child)) < 0)
                break;
            if (!*rest) {
                cfg_free(val);
                return 0;
            }
            slot = &cur->entries[cur->n - 1].value; /* the entry just added */
            cur = child;
        }
    }
    if (rc == 0) {
        /* replace the node the path names */
        cfg_node *n = overlay_import(&o, src, cur->path);
        if (!n)
            rc = overlay_oom(&o);
        else
            *slot = n;
    }
    cfg_free(val);
    return rc;
}

int cfg_quote_scalar(const char *v, char *out, size_t cap)
{
    size_t n = 0;
    if (cap < 3)
        return -1;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (n + 6 >= cap)
            return -1;
        if (*p == '"' || *p == '\\')
            n += (size_t)snprintf(out + n, cap - n, "\\%c", *p);
        else if (*p < 0x20)
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", *p);
        else
            out[n++] = (char)*p;
    }
    out[n++] = '"';
    out[n] = '\0';
    return 0;
}
