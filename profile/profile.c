/* profile.c: reading, writing and evaluating GPU profile files (see profile.h and
 * gpu/profiles/FORMAT.md). The parser is line-based and strict: every value is
 * checked, and an error names file:line and the directive. */
#include "profile/profile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/fileio.h"
#include "base/text.h"

#define MIB                (1024.0 * 1024.0)
#define PROFILE_MAX_TOKENS 4200

typedef struct tokens {
    int n;
    char *tok[PROFILE_MAX_TOKENS];
} tokens;

/* Splits a line in place into tokens; double quotes group words. Returns -1 on an
 * unterminated quote or too many tokens. */
static int split_line(char *line, tokens *t)
{
    t->n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p == '\0' || *p == '#')
            break;
        if (t->n == PROFILE_MAX_TOKENS)
            return -1;
        if (*p == '"') {
            char *start = ++p;
            while (*p && *p != '"')
                p++;
            if (*p != '"')
                return -1;
            *p++ = '\0';
            /* "ab"cd would not survive profile_write: a quote ends a word */
            if (*p && *p != ' ' && *p != '\t' && *p != '\r')
                return -1;
            t->tok[t->n++] = start;
        } else {
            t->tok[t->n++] = p;
            while (*p && *p != ' ' && *p != '\t' && *p != '\r') {
                if (*p == '"')
                    return -1; /* a quote inside a word */
                p++;
            }
            if (*p)
                *p++ = '\0';
        }
    }
    return 0;
}

typedef struct parse_ctx {
    const char *name;
    long line;
    const char *directive;
    gp_error *err;
} parse_ctx;

static int perr(const parse_ctx *c, int code, const char *fmt, const char *arg)
{
    return gp_error_set(c->err, code, c->name, c->line, 0, c->directive, fmt, arg);
}

static int parse_num(const parse_ctx *c, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return perr(c, GP_EPARSE, "expected a number, got \"%s\"", s);
    if (v < lo || v > hi) {
        char buf[160];
        snprintf(buf, sizeof(buf), "%s (allowed %g to %g)", s, lo, hi);
        return perr(c, GP_ERANGE, "value out of range: %s", buf);
    }
    *out = v;
    return 0;
}

/* Reads values for a per-grid table: either one value (constant) or one per point. */
static int parse_grid_values(const parse_ctx *c, const gpu_profile *p, const tokens *t, int first,
                             double lo, double hi, double *out)
{
    int n = t->n - first;
    if (p->n_grid == 0)
        return perr(c, GP_EPARSE, "%s", "mp_grid must come before per-megapixel tables");
    if (n != 1 && n != p->n_grid) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%d values for a grid of %d", n, p->n_grid);
        return perr(c, GP_EPARSE, "expected 1 value or one per mp_grid point, got %s", buf);
    }
    for (int i = 0; i < p->n_grid; i++) {
        int rc = parse_num(c, t->tok[first + (n == 1 ? 0 : i)], lo, hi, &out[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_dist(const parse_ctx *c, const tokens *t, int *i, dist_spec *d)
{
    if (*i >= t->n)
        return perr(c, GP_EPARSE, "%s",
                    "expected a distribution: const, uniform, normal or lognormal");
    const char *k = t->tok[(*i)++];
    int args;
    if (strcmp(k, "const") == 0) {
        d->kind = DIST_CONST;
        args = 1;
    } else if (strcmp(k, "uniform") == 0) {
        d->kind = DIST_UNIFORM;
        args = 2;
    } else if (strcmp(k, "normal") == 0) {
        d->kind = DIST_NORMAL;
        args = 2;
    } else if (strcmp(k, "lognormal") == 0) {
        d->kind = DIST_LOGNORMAL;
        args = 2;
    } else {
        return perr(c, GP_EUNKNOWN,
                    "unknown distribution \"%s\" (const, uniform, normal, lognormal)", k);
    }
    if (*i + args > t->n)
        return perr(c, GP_EPARSE, "distribution %s needs more arguments", k);
    d->b = 0;
    int rc = parse_num(c, t->tok[(*i)++], 0, 1e6, &d->a);
    if (rc == 0 && args == 2)
        rc = parse_num(c, t->tok[(*i)++], 0, 1e6, &d->b);
    if (rc < 0)
        return rc;
    if (d->kind == DIST_UNIFORM && d->b < d->a)
        return perr(c, GP_ERANGE, "%s", "uniform: upper bound below lower bound");
    return 0;
}

/* Stage and phase names are written unquoted by profile_write: a non-empty word. */
static bool one_word(const char *s) { return s[0] && s[0] != '#' && !strpbrk(s, " \t\r\""); }

static void copy_joined(char *dst, size_t cap, const tokens *t, int first)
{
    size_t used = strlen(dst);
    for (int i = first; i < t->n && used + 1 < cap; i++) {
        int w = snprintf(dst + used, cap - used, "%s%s", used ? (i == first ? "\n" : " ") : "",
                         t->tok[i]);
        if (w < 0)
            break;
        used += (size_t)w;
        if (used >= cap)
            used = cap - 1;
    }
}

/* A cold-start phase from tokens first.. : NAME DIST A [B] [pod] [serverless] [cached_skip]. */
static int parse_phase(const parse_ctx *c, const tokens *t, int first, profile_phase *ph)
{
    if (t->n - first < 3)
        return perr(c, GP_EPARSE, "%s", "expected: NAME DIST A [B] [pod|serverless|cached_skip]");
    if (!one_word(t->tok[first]))
        return perr(c, GP_EPARSE, "phase name \"%s\" must be one word", t->tok[first]);
    memset(ph, 0, sizeof(*ph));
    snprintf(ph->name, sizeof(ph->name), "%s", t->tok[first]);
    int i = first + 1;
    int rc = parse_dist(c, t, &i, &ph->seconds);
    if (rc < 0)
        return rc;
    for (; i < t->n; i++) {
        if (strcmp(t->tok[i], "pod") == 0)
            ph->applies |= PHASE_POD;
        else if (strcmp(t->tok[i], "serverless") == 0)
            ph->applies |= PHASE_SERVERLESS;
        else if (strcmp(t->tok[i], "cached_skip") == 0)
            ph->applies |= PHASE_CACHED_SKIP;
        else
            return perr(c, GP_EPARSE, "unknown phase flag \"%s\" (pod, serverless, cached_skip)",
                        t->tok[i]);
    }
    if (!(ph->applies & (PHASE_POD | PHASE_SERVERLESS)))
        ph->applies |= PHASE_POD | PHASE_SERVERLESS;
    return 0;
}

int profile_phase_parse(const char *file, long line, const char *field, const char *text,
                        profile_phase *out, gp_error *err)
{
    char buf[512];
    if (strlen(text) >= sizeof(buf))
        return gp_error_set(err, GP_ELIMIT, file, line, 0, field, "phase longer than 511 bytes");
    memcpy(buf, text, strlen(text) + 1);
    tokens *t = malloc(sizeof(*t));
    if (!t)
        return gp_error_set(err, GP_ENOMEM, file, line, 0, field, "out of memory");
    parse_ctx c = {.name = file, .line = line, .directive = field, .err = err};
    int rc = split_line(buf, t) < 0
                 ? perr(&c, GP_EPARSE, "%s", "unterminated quote or too many values")
                 : parse_phase(&c, t, 0, out);
    free(t);
    return rc;
}

static int parse_directive(const parse_ctx *c, gpu_profile *p, const tokens *t, bool *have_format)
{
    const char *d = t->tok[0];
    int rc = 0;
    if (!*have_format) {
        if (strcmp(d, "format") != 0 || t->n != 3 || strcmp(t->tok[1], "gpenlab-profile") != 0)
            return perr(c, GP_EPARSE, "%s",
                        "the first directive must be \"format gpenlab-profile 1\"");
        if (strcmp(t->tok[2], "1") != 0)
            return perr(c, GP_ENOTSUP, "unsupported format version %s (this build reads 1)",
                        t->tok[2]);
        *have_format = true;
        return 0;
    }
    if (strcmp(d, "format") == 0)
        return perr(c, GP_EPARSE, "%s", "format given twice");
    if (strcmp(d, "card") == 0) {
        if (t->n != 2)
            return perr(c, GP_EPARSE, "%s", "expected one (quoted) card name");
        snprintf(p->card, sizeof(p->card), "%s", t->tok[1]);
    } else if (strcmp(d, "provenance") == 0) {
        if (t->n != 2 || (strcmp(t->tok[1], "measured") && strcmp(t->tok[1], "derived") &&
                          strcmp(t->tok[1], "seed")))
            return perr(c, GP_EPARSE, "%s", "expected measured, derived or seed");
        snprintf(p->provenance, sizeof(p->provenance), "%s", t->tok[1]);
    } else if (strcmp(d, "source") == 0) {
        copy_joined(p->source, sizeof(p->source), t, 1);
    } else if (strcmp(d, "mp_grid") == 0) {
        if (t->n < 2 || t->n - 1 > PROFILE_MAX_GRID)
            return perr(c, GP_EPARSE, "%s", "expected 1 to 32 megapixel values");
        if (p->n_grid)
            return perr(c, GP_EPARSE, "%s", "mp_grid given twice");
        for (int i = 1; i < t->n; i++) {
            rc = parse_num(c, t->tok[i], 1e-3, 1e4, &p->mp_grid[i - 1]);
            if (rc < 0)
                return rc;
            if (i > 1 && p->mp_grid[i - 1] <= p->mp_grid[i - 2])
                return perr(c, GP_EPARSE, "%s", "mp_grid must be strictly increasing");
        }
        p->n_grid = t->n - 1;
    } else if (strcmp(d, "stage") == 0) {
        if (t->n < 4)
            return perr(c, GP_EPARSE, "%s", "expected: stage NAME image|face MS...");
        if (p->n_stages == PROFILE_MAX_STAGES)
            return perr(c, GP_ELIMIT, "%s", "too many stages (16 at most)");
        if (!one_word(t->tok[1]))
            return perr(c, GP_EPARSE, "stage name \"%s\" must be one word", t->tok[1]);
        profile_stage *s = &p->stage[p->n_stages];
        memset(s, 0, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", t->tok[1]);
        for (int i = 0; i < p->n_stages; i++)
            if (strcmp(p->stage[i].name, s->name) == 0)
                return perr(c, GP_EPARSE, "stage \"%s\" given twice", s->name);
        if (strcmp(t->tok[2], "image") == 0)
            s->scaling = STAGE_PER_IMAGE;
        else if (strcmp(t->tok[2], "face") == 0)
            s->scaling = STAGE_PER_FACE;
        else
            return perr(c, GP_EPARSE, "expected image or face, got \"%s\"", t->tok[2]);
        rc = parse_grid_values(c, p, t, 3, 0, 1e7, s->ms);
        if (rc < 0)
            return rc;
        p->n_stages++;
    } else if (strcmp(d, "stage_spread") == 0) {
        if (t->n < 3)
            return perr(c, GP_EPARSE, "%s", "expected: stage_spread NAME MS...");
        for (int i = 0; i < p->n_stages; i++)
            if (strcmp(p->stage[i].name, t->tok[1]) == 0)
                return parse_grid_values(c, p, t, 2, 0, 1e7, p->stage[i].spread_ms);
        return perr(c, GP_EUNKNOWN, "stage_spread for unknown stage \"%s\"", t->tok[1]);
    } else if (strcmp(d, "jitter") == 0) {
        if (t->n < 2)
            return perr(c, GP_EPARSE, "%s", "expected none, lognormal CV or samples F...");
        if (strcmp(t->tok[1], "none") == 0 && t->n == 2) {
            p->jitter = JITTER_NONE;
        } else if (strcmp(t->tok[1], "lognormal") == 0 && t->n == 3) {
            p->jitter = JITTER_LOGNORMAL;
            rc = parse_num(c, t->tok[2], 0, 10, &p->jitter_cv);
        } else if (strcmp(t->tok[1], "exponential") == 0 && t->n == 2) {
            p->jitter = JITTER_EXPONENTIAL;
        } else if (strcmp(t->tok[1], "samples") == 0 && t->n >= 3) {
            if (p->jitter != JITTER_SAMPLES)
                p->n_jitter_samples = 0;
            p->jitter = JITTER_SAMPLES;
            for (int i = 2; i < t->n && rc == 0; i++) {
                if (p->n_jitter_samples == PROFILE_MAX_JITTER)
                    return perr(c, GP_ELIMIT, "%s", "more than 4096 jitter samples");
                rc = parse_num(c, t->tok[i], 1e-3, 1e3, &p->jitter_samples[p->n_jitter_samples++]);
            }
        } else {
            return perr(c, GP_EPARSE, "%s", "expected none, lognormal CV or samples F...");
        }
    } else if (strcmp(d, "eff") == 0) {
        if (t->n < 2 || t->n - 1 > PROFILE_MAX_EFF)
            return perr(c, GP_EPARSE, "%s", "expected 1 to 64 values");
        for (int i = 1; i < t->n && rc == 0; i++)
            rc = parse_num(c, t->tok[i], 1e-3, 1e3, &p->eff[i - 1]);
        if (rc < 0)
            return rc;
        if (fabs(p->eff[0] - 1.0) > 1e-9)
            return perr(c, GP_ERANGE, "eff(1) must be 1, got %s", t->tok[1]);
        /* n requests together cannot finish faster than n alone: eff(n) <= n */
        for (int n = 2; n < t->n; n++)
            if (p->eff[n - 1] > n * (1 + 1e-9))
                return gp_error_set(c->err, GP_ERANGE, c->name, c->line, 0, c->directive,
                                    "eff(%d) = %s is more than %d: %d requests together would "
                                    "finish faster than each alone",
                                    n, t->tok[n], n, n);
        p->n_eff = t->n - 1;
    } else if (strcmp(d, "gpu_mem_mib") == 0 || strcmp(d, "model_mem_mib") == 0 ||
               strcmp(d, "req_mem_per_face_mib") == 0 || strcmp(d, "first_request_extra_ms") == 0 ||
               strcmp(d, "share_slowdown") == 0 || strcmp(d, "start_interference") == 0) {
        if (t->n != 2)
            return perr(c, GP_EPARSE, "%s", "expected one value");
        double v;
        bool is_interf = strcmp(d, "start_interference") == 0;
        bool is_share = strcmp(d, "share_slowdown") == 0 || is_interf;
        rc = parse_num(c, t->tok[1], is_share ? 1e-3 : 0, is_share ? 1 : 1e9, &v);
        if (rc < 0)
            return rc;
        if (strcmp(d, "gpu_mem_mib") == 0)
            p->gpu_mem_bytes = v * MIB;
        else if (strcmp(d, "model_mem_mib") == 0)
            p->model_mem_bytes = v * MIB;
        else if (strcmp(d, "req_mem_per_face_mib") == 0)
            p->req_mem_per_face_bytes = v * MIB;
        else if (is_interf)
            p->start_interference = v;
        else if (is_share)
            p->share_slowdown = v;
        else
            p->first_request_extra_ms = v;
    } else if (strcmp(d, "req_mem_mib") == 0) {
        double mib[PROFILE_MAX_GRID];
        rc = parse_grid_values(c, p, t, 1, 0, 1e9, mib);
        for (int i = 0; rc == 0 && i < p->n_grid; i++)
            p->req_mem_bytes[i] = mib[i] * MIB;
    } else if (strcmp(d, "cold_phase") == 0) {
        if (p->n_phases == PROFILE_MAX_PHASES)
            return perr(c, GP_ELIMIT, "%s", "too many cold-start phases (16 at most)");
        rc = parse_phase(c, t, 1, &p->phase[p->n_phases]);
        if (rc < 0)
            return rc;
        p->n_phases++;
    } else if (strcmp(d, "info") == 0) {
        /* free-form measurements, kept for people and for derivation */
    } else {
        return perr(c, GP_EUNKNOWN, "unknown directive \"%s\"", d);
    }
    return rc;
}

static void profile_defaults(gpu_profile *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->provenance, sizeof(p->provenance), "seed");
    p->share_slowdown = 1.0;
    p->start_interference = 1.0;
    p->jitter = JITTER_NONE;
}

int profile_parse(const char *name, const char *text, gpu_profile *p, gp_error *err)
{
    profile_defaults(p);
    snprintf(p->path, sizeof(p->path), "%s", name);
    size_t len = strlen(text);
    /* a profile kept in a results database comes here without passing a file reader */
    TRY(gp_text_check(name, text, len, 1, err));
    char *buf = malloc(len + 1);
    if (!buf)
        return gp_error_set(err, GP_ENOMEM, name, 0, 0, NULL, "out of memory");
    memcpy(buf, text, len + 1);
    tokens *t = malloc(sizeof(*t));
    if (!t) {
        free(buf);
        return gp_error_set(err, GP_ENOMEM, name, 0, 0, NULL, "out of memory");
    }
    parse_ctx c = {.name = name, .line = 0, .directive = NULL, .err = err};
    bool have_format = false;
    int rc = 0;
    char *line = buf;
    while (line && rc == 0) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        c.line++;
        c.directive = NULL;
        if (split_line(line, t) < 0) {
            rc = perr(&c, GP_EPARSE, "%s",
                      "unterminated quote, a quote inside a word, or too "
                      "many values on one line");
            break;
        }
        if (t->n > 0) {
            c.directive = t->tok[0];
            rc = parse_directive(&c, p, t, &have_format);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(t);
    free(buf);
    if (rc < 0)
        return rc;
    c.directive = NULL;
    c.line = 0;
    if (!have_format)
        return perr(&c, GP_EPARSE, "%s", "empty profile: expected \"format gpenlab-profile 1\"");
    const char *missing = NULL;
    if (!p->card[0])
        missing = "card";
    else if (p->n_grid == 0)
        missing = "mp_grid";
    else if (p->n_stages == 0)
        missing = "stage";
    else if (p->n_eff == 0)
        missing = "eff";
    else if (p->gpu_mem_bytes <= 0)
        missing = "gpu_mem_mib";
    else if (p->n_phases == 0)
        missing = "cold_phase";
    if (missing)
        return gp_error_set(err, GP_EMISSING, name, 0, 0, missing, "required directive missing");
    if (p->model_mem_bytes >= p->gpu_mem_bytes)
        return gp_error_set(err, GP_ERANGE, name, 0, 0, "model_mem_mib",
                            "the model does not fit in gpu_mem_mib");
    profile_finalize(p);
    return 0;
}

void profile_finalize(gpu_profile *p)
{
    for (int k = 0; k < p->n_grid; k++) {
        p->image_ms[k] = p->face_ms[k] = 0;
        for (int i = 0; i < p->n_stages; i++) {
            if (p->stage[i].scaling == STAGE_PER_IMAGE)
                p->image_ms[k] += p->stage[i].ms[k];
            else
                p->face_ms[k] += p->stage[i].ms[k];
        }
    }
    double s2 = log1p(p->jitter_cv * p->jitter_cv);
    p->jitter_sigma = sqrt(s2);
    p->jitter_mu = -0.5 * s2;
    p->finalized = true;
}

int profile_load(const char *path, gpu_profile *p, gp_error *err)
{
    char *text = NULL;
    int rc = gp_read_text_file(path, PROFILE_MAX_FILE_BYTES, &text, NULL, err);
    if (rc < 0)
        return rc;
    rc = profile_parse(path, text, p, err);
    free(text);
    return rc;
}

/* " v" with the fewest digits (15, else 17) that read back as the same double, so a
 * written profile parses back to the same values (and passes the same checks). */
static void put_num(FILE *f, double v)
{
    char buf[40];
    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof(buf), "%.17g", v);
    fprintf(f, " %s", buf);
}

static void write_grid(FILE *f, const gpu_profile *p, const double *v, double scale)
{
    for (int i = 0; i < p->n_grid; i++)
        put_num(f, v[i] / scale);
}

int profile_write(const gpu_profile *p, FILE *f, gp_error *err)
{
    fprintf(f, "format gpenlab-profile 1\ncard \"%s\"\nprovenance %s\n", p->card, p->provenance);
    if (p->source[0]) {
        /* source lines were joined with newlines when read: one `source` line each */
        char buf[sizeof(p->source)];
        snprintf(buf, sizeof(buf), "%s", p->source);
        char *save = NULL;
        for (char *s = strtok_r(buf, "\n", &save); s; s = strtok_r(NULL, "\n", &save))
            fprintf(f, "source \"%s\"\n", s);
    }
    fprintf(f, "mp_grid");
    write_grid(f, p, p->mp_grid, 1);
    fprintf(f, "\n");
    for (int i = 0; i < p->n_stages; i++) {
        const profile_stage *s = &p->stage[i];
        fprintf(f, "stage %s %s", s->name, s->scaling == STAGE_PER_FACE ? "face" : "image");
        write_grid(f, p, s->ms, 1);
        fprintf(f, "\n");
        bool any = false;
        for (int k = 0; k < p->n_grid; k++)
            any |= s->spread_ms[k] != 0;
        if (any) {
            fprintf(f, "stage_spread %s", s->name);
            write_grid(f, p, s->spread_ms, 1);
            fprintf(f, "\n");
        }
    }
    if (p->jitter == JITTER_LOGNORMAL) {
        fprintf(f, "jitter lognormal");
        put_num(f, p->jitter_cv);
        fprintf(f, "\n");
    } else if (p->jitter == JITTER_SAMPLES) {
        for (int i = 0; i < p->n_jitter_samples; i++) {
            fprintf(f, "%s", i % 16 == 0 ? "jitter samples" : "");
            put_num(f, p->jitter_samples[i]);
            fprintf(f, "%s", (i % 16 == 15 || i + 1 == p->n_jitter_samples) ? "\n" : "");
        }
    } else if (p->jitter == JITTER_EXPONENTIAL)
        fprintf(f, "jitter exponential\n");
    else
        fprintf(f, "jitter none\n");
    fprintf(f, "eff");
    for (int i = 0; i < p->n_eff; i++)
        put_num(f, p->eff[i]);
    fprintf(f, "\ngpu_mem_mib");
    put_num(f, p->gpu_mem_bytes / MIB);
    fprintf(f, "\nmodel_mem_mib");
    put_num(f, p->model_mem_bytes / MIB);
    fprintf(f, "\nreq_mem_mib");
    write_grid(f, p, p->req_mem_bytes, MIB);
    fprintf(f, "\nreq_mem_per_face_mib");
    put_num(f, p->req_mem_per_face_bytes / MIB);
    fprintf(f, "\n");
    static const char *const kinds[] = {"const", "uniform", "normal", "lognormal"};
    for (int i = 0; i < p->n_phases; i++) {
        const profile_phase *ph = &p->phase[i];
        fprintf(f, "cold_phase %s %s", ph->name, kinds[ph->seconds.kind]);
        put_num(f, ph->seconds.a);
        if (ph->seconds.kind != DIST_CONST)
            put_num(f, ph->seconds.b);
        if ((ph->applies & (PHASE_POD | PHASE_SERVERLESS)) != (PHASE_POD | PHASE_SERVERLESS))
            fprintf(f, "%s", (ph->applies & PHASE_POD) ? " pod" : " serverless");
        if (ph->applies & PHASE_CACHED_SKIP)
            fprintf(f, " cached_skip");
        fprintf(f, "\n");
    }
    fprintf(f, "first_request_extra_ms");
    put_num(f, p->first_request_extra_ms);
    fprintf(f, "\nshare_slowdown");
    put_num(f, p->share_slowdown);
    if (p->start_interference < 1.0) {
        fprintf(f, "\nstart_interference");
        put_num(f, p->start_interference);
    }
    fprintf(f, "\n");
    if (ferror(f))
        return gp_error_set(err, GP_EIO, p->path, 0, 0, NULL, "write error");
    return 0;
}

profile_at profile_locate(const gpu_profile *p, double mp)
{
    int n = p->n_grid, i = 0;
    if (n == 1 || mp <= p->mp_grid[0])
        i = 0;
    else if (mp >= p->mp_grid[n - 1])
        i = n - 2;
    else
        while (i < n - 2 && mp > p->mp_grid[i + 1])
            i++;
    return (profile_at){.mp = mp, .seg = i};
}

/* v over the grid at `at`: linear interpolation within its segment; beyond the ends, the
 * end segment's slope; clamped at 0. */
static double interp_at(const gpu_profile *p, const double *v, profile_at at)
{
    if (p->n_grid == 1)
        return v[0];
    int i = at.seg;
    double x0 = p->mp_grid[i], x1 = p->mp_grid[i + 1];
    double y = v[i] + (v[i + 1] - v[i]) * (at.mp - x0) / (x1 - x0);
    return y > 0 ? y : 0;
}

double profile_stage_ms(const gpu_profile *p, const profile_stage *s, double mp)
{
    return interp_at(p, s->ms, profile_locate(p, mp));
}

double profile_demand_us(const gpu_profile *p, double mp, int faces)
{
    return profile_demand_us_at(p, profile_locate(p, mp), faces);
}

double profile_demand_us_at(const gpu_profile *p, profile_at at, int faces)
{
    double mp = at.mp;
    if (p->finalized) {
        /* sums of stages interpolate as the sum of interpolations, except where a stage
           is clamped at 0 below its grid, which the per-stage path below handles */
        double image = interp_at(p, p->image_ms, at);
        double face = faces > 0 ? interp_at(p, p->face_ms, at) : 0;
        if (mp >= p->mp_grid[0] && mp <= p->mp_grid[p->n_grid - 1])
            return 1000.0 * (image + (faces > 0 ? faces * face : 0));
    }
    double image_ms = 0, face_ms = 0;
    for (int i = 0; i < p->n_stages; i++) {
        double ms = interp_at(p, p->stage[i].ms, at);
        if (p->stage[i].scaling == STAGE_PER_IMAGE)
            image_ms += ms;
        else
            face_ms += ms;
    }
    return 1000.0 * (image_ms + (faces > 0 ? faces * face_ms : 0));
}

double profile_req_mem_bytes(const gpu_profile *p, double mp, int faces)
{
    return profile_req_mem_bytes_at(p, profile_locate(p, mp), faces);
}

double profile_req_mem_bytes_at(const gpu_profile *p, profile_at at, int faces)
{
    return interp_at(p, p->req_mem_bytes, at) + (faces > 0 ? faces : 0) * p->req_mem_per_face_bytes;
}

double profile_eff(const gpu_profile *p, int n)
{
    if (n <= 1 || p->n_eff == 0)
        return 1.0;
    return n <= p->n_eff ? p->eff[n - 1] : p->eff[p->n_eff - 1];
}

int profile_eff_first_drop(const gpu_profile *p)
{
    for (int n = 2; n <= p->n_eff; n++)
        if (p->eff[n - 1] < p->eff[n - 2])
            return n;
    return 0;
}

double profile_jitter_factor(const gpu_profile *p, double u, double z)
{
    switch (p->jitter) {
    case JITTER_LOGNORMAL: {
        /* mean-1 lognormal with coefficient of variation cv */
        if (p->finalized)
            return exp(p->jitter_sigma * z + p->jitter_mu);
        double s2 = log1p(p->jitter_cv * p->jitter_cv);
        return exp(sqrt(s2) * z - 0.5 * s2);
    }
    case JITTER_SAMPLES: {
        int i = (int)(u * p->n_jitter_samples);
        if (i >= p->n_jitter_samples)
            i = p->n_jitter_samples - 1;
        return p->jitter_samples[i];
    }
    case JITTER_EXPONENTIAL: return -log(u);
    default: return 1.0;
    }
}

double dist_sample(const dist_spec *d, double u, double z)
{
    double v;
    switch (d->kind) {
    case DIST_UNIFORM: v = d->a + (d->b - d->a) * u; break;
    case DIST_NORMAL: v = d->a + d->b * z; break;
    case DIST_LOGNORMAL: {
        double s2 = log1p(d->b * d->b);
        v = d->a * exp(sqrt(s2) * z - 0.5 * s2);
        break;
    }
    default: v = d->a;
    }
    return v > 0 ? v : 0;
}

double dist_mean(const dist_spec *d)
{
    switch (d->kind) {
    case DIST_UNIFORM: return 0.5 * (d->a + d->b);
    default: return d->a;
    }
}

double profile_mean_start_s(const gpu_profile *p, unsigned kind)
{
    double s = 0;
    for (int i = 0; i < p->n_phases; i++)
        if (p->phase[i].applies & kind)
            s += dist_mean(&p->phase[i].seconds);
    return s;
}

bool profile_has_cluster_start(const gpu_profile *p)
{
    static const char *const cluster[] = {"schedule", "scheduling",      "image_pull",
                                          "pull",     "container_start", "container_create",
                                          NULL};
    for (int i = 0; i < p->n_phases; i++) {
        const profile_phase *ph = &p->phase[i];
        if (!(ph->applies & PHASE_POD))
            continue;
        if (ph->applies & PHASE_CACHED_SKIP)
            return true;
        for (int k = 0; cluster[k]; k++)
            if (strcmp(ph->name, cluster[k]) == 0)
                return true;
    }
    return false;
}

void profile_cluster_start_note(const gpu_profile *p, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "pods start in %.1f s: the profile has only the GPU process's part of a pod start "
             "(no scheduling, image pull, container start); cluster.pod_start_phases adds it "
             "(as experiments/tidal_day.yaml does)",
             profile_mean_start_s(p, PHASE_POD));
}
