/* ytree.h: a small mutable YAML tree for writing manifests (the cfg tree is read-only).
 * Nodes are maps (keys in insertion order), sequences and scalars; a scalar is a string
 * (always written double-quoted, JSON escapes, so "80" stays a string), or plain text
 * written as is (numbers, true/false, null). A parent owns its children: ytree_free of
 * the root frees all. Allocation failure never aborts: the constructors return NULL and
 * the first failed insertion marks the parent, so ytree_emit returns GP_ENOMEM.
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
ytree *ytree_str(const char *s);            /* a string: always quoted */
ytree *ytree_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
ytree *ytree_plain(const char *text);       /* written as is: 12, 0.5, true, null */
ytree *ytree_int(int64_t v);
ytree *ytree_num(double v);                 /* shortest text that reads back equal */
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

/* Writes n as block YAML at the given indent (0 for a document). GP_ENOMEM if the tree
 * lost a node to a failed allocation, GP_EIO on a write error. */
int ytree_emit(FILE *f, const ytree *n);

#endif
