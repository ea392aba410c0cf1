/* image_mix_cfg.c: the `image_mix:` YAML sequence. Kept apart from image_mix.c so code
 * that only draws from a mix does not link the YAML layer.
 *   image_mix:
 *     - {name: phone, weight: 0.7, mp: [1.5, 2.5], faces: {0: 0.08, 1: 0.6, 2: 0.32}}
 *     - {name: scan,  weight: 0.3, mp: [4, 24],    faces: {0: 0.14, 1: 0.86}}
 * `mp` is [min, max] or one number; `faces` maps a count (0..16) to a relative share
 * (default {1: 1}). Errors name file:line:col and the key path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/trace_internal.h"

static int parse_mp(const cfg_node *cls, image_class *c, gp_error *err)
{
    const cfg_node *mp = cfg_map_get(cls, "mp");
    if (!mp)
        return cfg_error(cls, err, GP_EMISSING, "missing key 'mp' ([min, max] megapixels)");
    if (cfg_node_kind(mp) == CFG_SCALAR) {
        int rc = cfg_node_double(mp, 0.001, 1000, &c->mp_min, err);
        c->mp_max = c->mp_min;
        return rc < 0 ? rc : 0;
    }
    if (cfg_node_kind(mp) != CFG_SEQ || cfg_len(mp) != 2)
        return cfg_error(mp, err, GP_EPARSE, "expected [min, max] megapixels");
    int rc = cfg_node_double(cfg_seq_at(mp, 0), 0.001, 1000, &c->mp_min, err);
    if (rc < 0)
        return rc;
    rc = cfg_node_double(cfg_seq_at(mp, 1), 0.001, 1000, &c->mp_max, err);
    if (rc < 0)
        return rc;
    if (c->mp_max < c->mp_min)
        return cfg_error(mp, err, GP_ERANGE, "max %g is below min %g", c->mp_max, c->mp_min);
    return 0;
}

static int parse_faces(const cfg_node *cls, image_class *c, gp_error *err)
{
    const cfg_node *faces = cfg_map_get(cls, "faces");
    memset(c->faces_p, 0, sizeof(c->faces_p));
    if (!faces) {
        c->faces_p[1] = 1.0;
        return 0;
    }
    if (cfg_node_kind(faces) != CFG_MAP || cfg_len(faces) == 0)
        return cfg_error(faces, err, GP_EPARSE,
                         "expected a map of face count to share, e.g. {0: 0.1, 1: 0.9}");
    double sum = 0;
    for (size_t i = 0; i < cfg_len(faces); i++) {
        const char *key = cfg_map_key_at(faces, i);
        const cfg_node *v = cfg_map_value_at(faces, i);
        char *end;
        long k = strtol(key, &end, 10);
        if (end == key || *end || k < 0 || k > IMAGE_MIX_MAX_FACES)
            return cfg_error(v, err, GP_ERANGE, "face count '%s' is not a whole number in [0, %d]",
                             key, IMAGE_MIX_MAX_FACES);
        int rc = cfg_node_double(v, 0, 1e9, &c->faces_p[k], err);
        if (rc < 0)
            return rc;
        sum += c->faces_p[k];
    }
    if (!(sum > 0))
        return cfg_error(faces, err, GP_ERANGE, "the shares sum to 0");
    return 0;
}

int image_mix_from_cfg(const cfg_node *seq, image_mix *mix, gp_error *err)
{
    if (!seq) {
        image_mix_default(mix);
        return 0;
    }
    if (cfg_node_kind(seq) != CFG_SEQ)
        return cfg_error(seq, err, GP_EPARSE,
                         "expected a sequence of image classes ({name, weight, mp, faces})");
    size_t n = cfg_len(seq);
    if (n == 0 || n > IMAGE_MIX_MAX_CLASSES)
        return cfg_error(seq, err, GP_ERANGE, "expected 1 to %d image classes, got %zu",
                         IMAGE_MIX_MAX_CLASSES, n);
    image_mix m;
    memset(&m, 0, sizeof(m));
    m.n_classes = (int)n;
    double total = 0;
    static const char *const keys[] = {"name", "weight", "mp", "faces", NULL};
    for (size_t i = 0; i < n; i++) {
        const cfg_node *cls = cfg_seq_at(seq, i);
        image_class *c = &m.cls[i];
        int rc = cfg_check_keys(cls, keys, err);
        if (rc < 0)
            return rc;
        const char *name = NULL;
        rc = cfg_opt_string(cls, "name", &name, err);
        if (rc < 0)
            return rc;
        snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
        if (!name)
            snprintf(c->name, sizeof(c->name), "class%zu", i);
        c->weight = 1.0;
        rc = cfg_opt_double(cls, "weight", 0, 1e9, &c->weight, err);
        if (rc < 0)
            return rc;
        total += c->weight;
        if ((rc = parse_mp(cls, c, err)) < 0 || (rc = parse_faces(cls, c, err)) < 0)
            return rc;
    }
    if (!(total > 0))
        return cfg_error(seq, err, GP_ERANGE, "the class weights sum to 0");
    *mix = m;
    return 0;
}
