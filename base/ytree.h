/* ytree.h: a small mutable YAML tree, and the project's one YAML writer (the cfg tree is
 * read-only). Nodes are maps (keys in insertion order), sequences and scalars; a scalar
 * is a string (always written double-quoted, so "80", "on" and "null" stay strings for
 * every reader), or plain text written as is (numbers, true/false, null). Keys are
 * written plain when they are plain words that read as strings, double-quoted otherwise
 * (on, yes, no, off, y, n, ~, numbers, dates, the empty key). The writer is libyaml's
 * emitter (block style, UTF-8, no line folding), so what it writes reads back, through
 * cfg or any YAML 1.1 / 1.2 reader, as the same tree with the same texts.
 * A parent owns its children: ytree_free of the root frees all. Allocation failure never
 * aborts: the constructors return NULL and the first failed insertion marks the parent,
 * so ytree_emit returns GP_ENOMEM.
 * ytree_from_cfg copies a cfg subtree, typing scalars as the Kubernetes API wants them. */
#ifndef GP_YTREE_H
#define GP_YTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/cfg.h"

typedef struct ytree ytree;

ytree *ytree_map(void);
ytree *ytree_seq(void);
ytree *ytree_str(const char *s); /* a string: always quoted */
ytree *ytree_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
ytree *ytree_plain(const char *text); /* written as is: 12, 0.5, true, null */
ytree *ytree_int(int64_t v);
ytree *ytree_num(double v); /* shortest text that reads back equal */
ytree *ytree_bool(bool v);

/* Sets map[key] = v (replacing an existing value; v owned by the map from now on, even on
 * failure). Returns v, NULL if v was NULL or on allocation failure. */
ytree *ytree_set(ytree *map, const char *key, ytree *v);
ytree *ytree_push(ytree *seq, ytree *v);
ytree *ytree_get(const ytree *map, const char *key); /* NULL if absent or not a map */
ytree *ytree_at(const ytree *seq, size_t i);         /* NULL past the end or not a seq */
void ytree_del(ytree *map, const char *key);
void ytree_free(ytree *n);

/* A copy of a cfg subtree. Scalars that read as numbers or booleans are written plain,
 * except where the API wants strings: values under `metadata`, `annotations`, `labels`,
 * `matchLabels` and `data` maps, quantities (`value`/`averageValue` of a `target`,
 * `tolerance`), and every value when force_strings. Null scalars become null. */
ytree *ytree_from_cfg(const cfg_node *n, bool force_strings);

/* Writes n as one YAML document (block style). GP_ENOMEM if the tree lost a node to a
 * failed allocation, GP_EIO on a write error. */
int ytree_emit(FILE *f, const ytree *n);
/* The same into a new string (the caller frees); NULL on failure, with *rc (may be NULL)
 * the code. */
char *ytree_emit_string(const ytree *n, int *rc);
/* True when `text` written plain would read as something other than a string (null, a
 * YAML 1.1 boolean such as on/yes/y, a number, a time, a date): such text is quoted. */
bool ytree_plain_is_not_string(const char *text);

#endif
