/* cfg.h: YAML documents as a read-only tree that remembers where every node was.
 * Built on libyaml. A cfg_doc owns all its nodes; nodes live until cfg_free().
 * Every node knows its file, 1-based line and column, and its dotted path from the
 * root ("policies[1].spec.behavior.scaleDown"), so any error can name the place.
 * Anchors/aliases are resolved by copying, with a node budget (CFG_MAX_NODES) and a
 * depth limit (CFG_MAX_DEPTH) so an alias bomb or deep nesting is refused quickly.
 * Getters never abort: they return 0 / 1 / negative GP_E* and fill a gp_error. */
#ifndef GP_CFG_H
#define GP_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define CFG_MAX_NODES 1000000
#define CFG_MAX_DEPTH 64
/* Bytes of the tree (nodes, their paths, scalars): paths are copied per node, so long
 * keys under many aliases would otherwise pass the node budget's worth of memory. */
#define CFG_MAX_BYTES (256u << 20)

typedef enum { CFG_SCALAR, CFG_MAP, CFG_SEQ } cfg_kind;

typedef struct cfg_node cfg_node;
typedef struct cfg_doc cfg_doc;

int cfg_load_file(const char *path, cfg_doc **out, gp_error *err);
/* `name` is used as the file name in errors. */
int cfg_load_string(const char *name, const char *text, size_t len, cfg_doc **out, gp_error *err);
void cfg_free(cfg_doc *doc);
const cfg_node *cfg_root(const cfg_doc *doc); /* NULL for an empty document */

cfg_kind cfg_node_kind(const cfg_node *n);
const char *cfg_node_file(const cfg_node *n);
long cfg_node_line(const cfg_node *n);
long cfg_node_col(const cfg_node *n);
const char *cfg_node_path(const cfg_node *n); /* "" for the root */
const char *cfg_scalar(const cfg_node *n);    /* NULL unless a scalar */
size_t cfg_len(const cfg_node *n);            /* entries of a map or seq, 0 for scalars */
const cfg_node *cfg_seq_at(const cfg_node *seq, size_t i);
const char *cfg_map_key_at(const cfg_node *map, size_t i);
const cfg_node *cfg_map_value_at(const cfg_node *map, size_t i);
const cfg_node *cfg_map_get(const cfg_node *map, const char *key); /* NULL if absent */

/* Fills err with the node's place and path, and returns code. */
int cfg_error(const cfg_node *n, gp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fails with GP_EUNKNOWN naming the first key of `map` not in the NULL-terminated
 * list `allowed` (and suggests the nearest allowed key). Fails with GP_EPARSE if
 * `map` is not a map. */
int cfg_check_keys(const cfg_node *map, const char *const *allowed, gp_error *err);

/* Optional typed getters: return 1 and set *out when the key is present and valid,
 * 0 and leave *out untouched when absent, negative on a wrong type or a value outside
 * [lo, hi] (error names file:line:col and the key's path). */
int cfg_opt_double(const cfg_node *map, const char *key, double lo, double hi, double *out,
                   gp_error *err);
int cfg_opt_int64(const cfg_node *map, const char *key, int64_t lo, int64_t hi, int64_t *out,
                  gp_error *err);
int cfg_opt_int(const cfg_node *map, const char *key, int lo, int hi, int *out, gp_error *err);
int cfg_opt_bool(const cfg_node *map, const char *key, bool *out, gp_error *err);
/* *out points into the document (valid until cfg_free). */
int cfg_opt_string(const cfg_node *map, const char *key, const char **out, gp_error *err);
/* A duration: a number of seconds ("30", "0.5") or with a unit suffix
 * "250ms", "30s", "5m", "1h", "1h30m"; stored in microseconds. */
int cfg_opt_duration_us(const cfg_node *map, const char *key, int64_t lo_us, int64_t hi_us,
                        int64_t *out_us, gp_error *err);
/* One of the NULL-terminated `names`; *out = its index. */
int cfg_opt_enum(const cfg_node *map, const char *key, const char *const *names, int *out,
                 gp_error *err);
/* Required variants: a missing key is a GP_EMISSING error naming the map's place. */
int cfg_req_double(const cfg_node *map, const char *key, double lo, double hi, double *out,
                   gp_error *err);
int cfg_req_int(const cfg_node *map, const char *key, int lo, int hi, int *out, gp_error *err);
int cfg_req_string(const cfg_node *map, const char *key, const char **out, gp_error *err);

/* Scalar conversions used by the getters, usable on any scalar node. */
int cfg_node_double(const cfg_node *n, double lo, double hi, double *out, gp_error *err);
int cfg_node_int64(const cfg_node *n, int64_t lo, int64_t hi, int64_t *out, gp_error *err);
int cfg_node_duration_us(const cfg_node *n, int64_t lo_us, int64_t hi_us, int64_t *out_us,
                         gp_error *err);

/* Additions (same conventions as above). */
/* True for NULL and for a plain null scalar ("", "~", "null"): getters read it as absent,
 * cfg_check_keys as an empty map; a required getter reports it as missing. */
bool cfg_node_is_null(const cfg_node *n);
/* True for a scalar written plain (not quoted, not a block scalar). */
bool cfg_scalar_plain(const cfg_node *n);
const char *cfg_kind_name(cfg_kind k); /* "scalar", "map", "sequence" */
/* The candidate nearest to `word` by edit distance (case-insensitive), or NULL when none
 * is close enough to be a plausible typo. `candidates` is NULL-terminated. */
const char *cfg_nearest(const char *word, const char *const *candidates);
int cfg_node_int(const cfg_node *n, int lo, int hi, int *out, gp_error *err);
int cfg_node_bool(const cfg_node *n, bool *out, gp_error *err);
int cfg_node_enum(const cfg_node *n, const char *const *names, int *out, gp_error *err);
/* A map or sequence under `key`: 1 and *out, 0 when absent/null, negative on a wrong kind. */
int cfg_opt_map(const cfg_node *map, const char *key, const cfg_node **out, gp_error *err);
int cfg_opt_seq(const cfg_node *map, const char *key, const cfg_node **out, gp_error *err);
/* Required variants return 0 when present and valid. */
int cfg_req_int64(const cfg_node *map, const char *key, int64_t lo, int64_t hi, int64_t *out,
                  gp_error *err);
int cfg_req_bool(const cfg_node *map, const char *key, bool *out, gp_error *err);
int cfg_req_duration_us(const cfg_node *map, const char *key, int64_t lo_us, int64_t hi_us,
                        int64_t *out_us, gp_error *err);
int cfg_req_enum(const cfg_node *map, const char *key, const char *const *names, int *out,
                 gp_error *err);
int cfg_req_map(const cfg_node *map, const char *key, const cfg_node **out, gp_error *err);
int cfg_req_seq(const cfg_node *map, const char *key, const cfg_node **out, gp_error *err);

/* Overlays (what `gpenlab run --set PATH=VALUE` and a sweep point change): sets the node
 * at `path` to `value`, parsed as YAML (a scalar, or a flow map or sequence: "12",
 * "[a, b]", "{x: 1}"; "" is null). PATH is dotted keys and [INDEX]es from the root
 * ("cluster.max_pods", "policies[2].config.spec.minReplicas"); a key of the document that
 * itself contains dots matches whole ("annotations.autoscaling.knative.dev/target").
 * Map keys missing along the path are added (a null value on the way becomes a map), so a
 * reader's key check refuses an unknown one as it would in a file; an index must exist.
 * The new nodes and keys carry `origin` as their file (line 0: errors read
 * "ORIGIN: PATH: message") and `base_dir` (may be NULL) as the directory their relative
 * paths are relative to. The document keeps its other nodes; the tree is modified in place
 * (the only mutation of a loaded document). */
int cfg_set(cfg_doc *doc, const char *path, const char *value, const char *origin,
            const char *base_dir, gp_error *err);
/* `v` as a YAML double-quoted scalar (escapes for quotes, backslashes, control bytes), so
 * that cfg_set reads it back as the same one string. -1 when it does not fit in cap. */
int cfg_quote_scalar(const char *v, char *out, size_t cap);
/* The base_dir cfg_set gave the node, or NULL for a node read from the document's text
 * (relative paths in it are then relative to the document's own directory). */
const char *cfg_node_base_dir(const cfg_node *n);

#endif
