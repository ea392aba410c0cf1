/* safetensors.c: a small strict JSON reader for the header, tensor conversion, a writer. */
#include "gpu/ref/safetensors.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER (100u << 20)

typedef struct st_parser {
    const char *s;
    size_t n, pos;
    const char *file;
    gp_error *err;
} st_parser;

static int st_fail(st_parser *p, const char *field, const char *what)
{
    return gp_error_set(p->err, GP_EPARSE, p->file, 1, (long)p->pos + 1, field,
                        "safetensors header: %s", what);
}

static void st_ws(st_parser *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                             p->s[p->pos] == '\r'))
        p->pos++;
}

static int st_expect(st_parser *p, char c)
{
    st_ws(p);
    if (p->pos >= p->n || p->s[p->pos] != c) {
        char msg[32];
        snprintf(msg, sizeof(msg), "expected '%c'", c);
        return st_fail(p, NULL, msg);
    }
    p->pos++;
    return 0;
}

static int st_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A JSON string into out (truncation is an error); \u escapes become UTF-8. */
static int st_string(st_parser *p, char *out, size_t cap)
{
    size_t k = 0;
    st_ws(p);
    if (p->pos >= p->n || p->s[p->pos] != '"')
        return st_fail(p, NULL, "expected a string");
    p->pos++;
    while (p->pos < p->n && p->s[p->pos] != '"') {
        unsigned c = (unsigned char)p->s[p->pos++];
        if (c < 0x20)
            return st_fail(p, NULL, "control character in a string");
        if (c == '\\') {
            if (p->pos >= p->n)
                break;
            char e = p->s[p->pos++];
            switch (e) {
            case '"':
            case '\\':
            case '/': c = (unsigned char)e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = p->pos < p->n ? st_hex(p->s[p->pos]) : -1;
                    if (h < 0)
                        return st_fail(p, NULL, "bad \\u escape");
                    v = v * 16 + (unsigned)h;
                    p->pos++;
                }
                unsigned char u8[3];
                int m;
                if (v < 0x80) {
                    u8[0] = (unsigned char)v;
                    m = 1;
                } else if (v < 0x800) {
                    u8[0] = (unsigned char)(0xC0 | (v >> 6));
                    u8[1] = (unsigned char)(0x80 | (v & 0x3F));
                    m = 2;
                } else {
                    u8[0] = (unsigned char)(0xE0 | (v >> 12));
                    u8[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
                    u8[2] = (unsigned char)(0x80 | (v & 0x3F));
                    m = 3;
                }
                for (int i = 0; i < m; i++) {
                    if (k + 1 >= cap)
                        return st_fail(p, NULL, "string too long");
                    out[k++] = (char)u8[i];
                }
                continue;
            }
            default: return st_fail(p, NULL, "bad escape in a string");
            }
        }
        if (k + 1 >= cap)
            return st_fail(p, NULL, "string too long");
        out[k++] = (char)c;
    }
    if (p->pos >= p->n)
        return st_fail(p, NULL, "unterminated string");
    p->pos++;
    out[k] = '\0';
    return 0;
}

static int st_int(st_parser *p, int64_t *v)
{
    st_ws(p);
    size_t start = p->pos;
    int64_t x = 0;
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
        return st_fail(p, NULL, "expected a non-negative integer");
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        if (x > (INT64_MAX - 9) / 10)
            return st_fail(p, NULL, "integer too large");
        x = x * 10 + (p->s[p->pos++] - '0');
    }
    if (p->pos < p->n && (p->s[p->pos] == '.' || p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos = start;
        return st_fail(p, NULL, "expected an integer");
    }
    *v = x;
    return 0;
}

/* Skips any JSON value (for keys this reader does not use). */
static int st_skip(st_parser *p, int depth)
{
    char tmp[256];
    st_ws(p);
    if (depth > 32)
        return st_fail(p, NULL, "nesting too deep");
    if (p->pos >= p->n)
        return st_fail(p, NULL, "unexpected end");
    char c = p->s[p->pos];
    if (c == '"')
        return st_string(p, tmp, sizeof(tmp));
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        p->pos++;
        st_ws(p);
        if (p->pos < p->n && p->s[p->pos] == close) {
            p->pos++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                if (st_string(p, tmp, sizeof(tmp)) || st_expect(p, ':'))
                    return GP_EPARSE;
            }
            if (st_skip(p, depth + 1))
                return GP_EPARSE;
            st_ws(p);
            if (p->pos < p->n && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            return st_expect(p, close);
        }
    }
    /* number, true, false, null */
    size_t start = p->pos;
    while (p->pos < p->n && strchr("+-.0123456789eEtruefalsn", p->s[p->pos]))
        p->pos++;
    return p->pos > start ? 0 : st_fail(p, NULL, "unexpected character");
}

static int st_dtype(const char *s)
{
    static const struct {
        const char *name;
        int code;
    } map[] = {{"F32", ST_F32}, {"F64", ST_F64}, {"F16", ST_F16}, {"BF16", ST_BF16},
               {"I32", ST_I32}, {"I64", ST_I64}, {"U8", ST_U8}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(s, map[i].name) == 0)
            return map[i].code;
    return ST_OTHER;
}

static size_t st_elem_size(int dtype)
{
    switch (dtype) {
    case ST_F64:
    case ST_I64: return 8;
    case ST_F32:
    case ST_I32: return 4;
    case ST_F16:
    case ST_BF16: return 2;
    case ST_U8: return 1;
    default: return 0;
    }
}

static int st_tensor_entry(st_parser *p, safetensors_tensor *t)
{
    char key[64], val[32];
    int have_dtype = 0, have_shape = 0, have_off = 0;
    int64_t off[2] = {0, 0};
    if (st_expect(p, '{'))
        return GP_EPARSE;
    for (;;) {
        if (st_string(p, key, sizeof(key)) || st_expect(p, ':'))
            return GP_EPARSE;
        if (strcmp(key, "dtype") == 0) {
            if (st_string(p, val, sizeof(val)))
                return GP_EPARSE;
            t->dtype = st_dtype(val);
            have_dtype = 1;
        } else if (strcmp(key, "shape") == 0 || strcmp(key, "data_offsets") == 0) {
            int is_shape = key[0] == 's', k = 0;
            if (st_expect(p, '['))
                return GP_EPARSE;
            st_ws(p);
            if (p->pos < p->n && p->s[p->pos] == ']') {
                p->pos++;
            } else {
                for (;;) {
                    int64_t v = 0;
                    if (st_int(p, &v))
                        return GP_EPARSE;
                    if (is_shape ? k >= SAFETENSORS_MAX_DIMS : k >= 2)
                        return st_fail(p, t->name,
                                       is_shape ? "too many dimensions"
                                                : "data_offsets needs 2 values");
                    if (is_shape)
                        t->shape[k++] = v;
                    else
                        off[k++] = v;
                    st_ws(p);
                    if (p->pos < p->n && p->s[p->pos] == ',') {
                        p->pos++;
                        continue;
                    }
                    if (st_expect(p, ']'))
                        return GP_EPARSE;
                    break;
                }
            }
            if (is_shape) {
                t->ndim = k;
                have_shape = 1;
            } else {
                if (k != 2)
                    return st_fail(p, t->name, "data_offsets needs 2 values");
                have_off = 1;
            }
        } else if (st_skip(p, 1)) {
            return GP_EPARSE;
        }
        st_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (st_expect(p, '}'))
            return GP_EPARSE;
        break;
    }
    if (!have_dtype || !have_shape || !have_off)
        return st_fail(p, t->name, "tensor needs dtype, shape and data_offsets");
    if (off[1] < off[0])
        return st_fail(p, t->name, "data_offsets decrease");
    t->offset = (size_t)off[0];
    t->nbytes = (size_t)(off[1] - off[0]);
    return 0;
}

static int st_header(st_parser *p, safetensors_file *f)
{
    int cap = 0, mcap = 0;
    char key[128];
    if (st_expect(p, '{'))
        return GP_EPARSE;
    st_ws(p);
    int empty_top = p->pos < p->n && p->s[p->pos] == '}';
    if (empty_top)
        p->pos++;
    while (!empty_top) {
        if (st_string(p, key, sizeof(key)) || st_expect(p, ':'))
            return GP_EPARSE;
        if (strcmp(key, "__metadata__") == 0) {
            if (st_expect(p, '{'))
                return GP_EPARSE;
            st_ws(p);
            int empty = p->pos < p->n && p->s[p->pos] == '}';
            if (empty)
                p->pos++;
            while (!empty) {
                if (f->n_meta == mcap) {
                    mcap = mcap ? 2 * mcap : 16;
                    void *k2 = realloc(f->meta_key, (size_t)mcap * sizeof(*f->meta_key));
                    if (k2)
                        f->meta_key = k2;
                    void *v2 = realloc(f->meta_val, (size_t)mcap * sizeof(*f->meta_val));
                    if (v2)
                        f->meta_val = v2;
                    if (!k2 || !v2)
                        return gp_error_set(p->err, GP_ENOMEM, p->file, 0, 0, NULL,
                                            "out of memory");
                }
                if (st_string(p, f->meta_key[f->n_meta], sizeof(f->meta_key[0])) ||
                    st_expect(p, ':') ||
                    st_string(p, f->meta_val[f->n_meta], sizeof(f->meta_val[0])))
                    return GP_EPARSE;
                f->n_meta++;
                st_ws(p);
                if (p->pos < p->n && p->s[p->pos] == ',') {
                    p->pos++;
                    continue;
                }
                if (st_expect(p, '}'))
                    return GP_EPARSE;
                break;
            }
        } else {
            if (f->n_tensors == cap) {
                cap = cap ? 2 * cap : 64;
                safetensors_tensor *t2 = realloc(f->tensor, (size_t)cap * sizeof(*t2));
                if (!t2)
                    return gp_error_set(p->err, GP_ENOMEM, p->file, 0, 0, NULL, "out of memory");
                f->tensor = t2;
            }
            safetensors_tensor *t = &f->tensor[f->n_tensors];
            memset(t, 0, sizeof(*t));
            snprintf(t->name, sizeof(t->name), "%s", key);
            if (st_tensor_entry(p, t))
                return GP_EPARSE;
            f->n_tensors++;
        }
        st_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (st_expect(p, '}'))
            return GP_EPARSE;
        break;
    }
    st_ws(p);
    if (p->pos != p->n)
        return st_fail(p, NULL, "trailing characters after the header object");
    return 0;
}

static int st_parse_owned(const char *name, unsigned char *buf, size_t len, safetensors_file *f,
                          gp_error *err)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "%s", name);
    f->buf = buf;
    f->buf_len = len;
    int rc;
    if (len < 8) {
        rc = gp_error_set(err, GP_EPARSE, name, 0, 0, NULL, "file shorter than 8 bytes");
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | buf[i];
    if (hlen > ST_MAX_HEADER || hlen > len - 8) {
        rc = gp_error_set(err, GP_EPARSE, name, 0, 0, NULL,
                          "header length %llu does not fit the file (%zu bytes)",
                          (unsigned long long)hlen, len);
        goto fail;
    }
    st_parser p = {(const char *)buf + 8, (size_t)hlen, 0, name, err};
    rc = st_header(&p, f);
    if (rc)
        goto fail;
    f->data = buf + 8 + hlen;
    f->data_len = len - 8 - (size_t)hlen;
    for (int i = 0; i < f->n_tensors; i++) {
        safetensors_tensor *t = &f->tensor[i];
        size_t es = st_elem_size(t->dtype), cnt = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] > 0 && cnt > SIZE_MAX / (size_t)t->shape[d]) {
                rc = gp_error_set(err, GP_EPARSE, name, 0, 0, t->name, "shape overflows");
                goto fail;
            }
            cnt *= (size_t)t->shape[d];
        }
        if (t->offset > f->data_len || t->nbytes > f->data_len - t->offset) {
            rc = gp_error_set(err, GP_EPARSE, name, 0, 0, t->name,
                              "data_offsets [%zu, %zu) outside the %zu data bytes", t->offset,
                              t->offset + t->nbytes, f->data_len);
            goto fail;
        }
        if (es && cnt * es != t->nbytes) {
            rc = gp_error_set(err, GP_EPARSE, name, 0, 0, t->name,
                              "%zu bytes for %zu elements of %zu bytes", t->nbytes, cnt, es);
            goto fail;
        }
    }
    return 0;
fail:
    safetensors_close(f);
    return rc;
}

int safetensors_parse(const char *name, const unsigned char *bytes, size_t len, safetensors_file *f,
                      gp_error *err)
{
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf)
        return gp_error_set(err, GP_ENOMEM, name, 0, 0, NULL, "out of memory");
    memcpy(buf, bytes, len);
    return st_parse_owned(name, buf, len, f, err);
}

int safetensors_open(const char *path, safetensors_file *f, gp_error *err)
{
    memset(f, 0, sizeof(*f));
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : (1u << 20);
            unsigned char *b2 = realloc(buf, cap);
            if (!b2) {
                free(buf);
                fclose(fp);
                return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
            }
            buf = b2;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "read error");
    }
    return st_parse_owned(path, buf, len, f, err);
}

void safetensors_close(safetensors_file *f)
{
    free(f->tensor);
    free(f->meta_key);
    free(f->meta_val);
    free(f->buf);
    memset(f, 0, sizeof(*f));
}

const safetensors_tensor *safetensors_find(const safetensors_file *f, const char *name)
{
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensor[i].name, name) == 0)
            return &f->tensor[i];
    return NULL;
}

size_t safetensors_count(const safetensors_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

const char *safetensors_meta(const safetensors_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_key[i], key) == 0)
            return f->meta_val[i];
    return NULL;
}

static float st_half_to_float(uint16_t h)
{
    unsigned sign = h >> 15, e = (h >> 10) & 0x1F, m = h & 0x3FF;
    float v;
    if (e == 0)
        v = (float)m * (1.0f / 16777216.0f); /* subnormal: m * 2^-24 */
    else if (e == 31)
        v = m ? (float)NAN : (float)INFINITY;
    else
        v = (1.0f + (float)m / 1024.0f) * (float)ldexp(1.0, (int)e - 15);
    return sign ? -v : v;
}

int safetensors_read_f32(const safetensors_file *f, const safetensors_tensor *t, float *dst,
                         size_t n, gp_error *err)
{
    size_t cnt = safetensors_count(t);
    if (cnt != n)
        return gp_error_set(err, GP_ERANGE, f->path, 0, 0, t->name,
                            "has %zu elements, expected %zu", cnt, n);
    const unsigned char *p = f->data + t->offset;
    for (size_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case ST_F32: {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                         (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&dst[i], &u, 4);
            break;
        }
        case ST_F64: {
            uint64_t u = 0;
            double d;
            for (int b = 7; b >= 0; b--)
                u = (u << 8) | p[8 * i + (size_t)b];
            memcpy(&d, &u, 8);
            dst[i] = (float)d;
            break;
        }
        case ST_F16: dst[i] = st_half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case ST_BF16: {
            uint32_t u = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &u, 4);
            break;
        }
        default:
            return gp_error_set(err, GP_ENOTSUP, f->path, 0, 0, t->name,
                                "dtype is not a floating-point type");
        }
    }
    return 0;
}

/* Writes s as a JSON string. */
static void st_put_json_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(fp, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(fp, "\\u%04x", *c);
        else
            fputc(*c, fp);
    }
    fputc('"', fp);
}

int safetensors_write_f32(const char *path, int n, const safetensors_item *items, int n_meta,
                          const char *const *meta, gp_error *err)
{
    /* The header goes through a memory stream first, to learn its length. */
    char *hdr = NULL;
    size_t hlen = 0;
    FILE *hs = open_memstream(&hdr, &hlen);
    if (!hs)
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    size_t off = 0;
    fputc('{', hs);
    for (int i = 0; i < n; i++) {
        size_t cnt = 1;
        for (int d = 0; d < items[i].ndim; d++)
            cnt *= (size_t)items[i].shape[d];
        if (i)
            fputc(',', hs);
        st_put_json_string(hs, items[i].name);
        fprintf(hs, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < items[i].ndim; d++)
            fprintf(hs, "%s%lld", d ? "," : "", (long long)items[i].shape[d]);
        fprintf(hs, "],\"data_offsets\":[%zu,%zu]}", off, off + 4 * cnt);
        off += 4 * cnt;
    }
    if (n_meta > 0) {
        fprintf(hs, "%s\"__metadata__\":{", n ? "," : "");
        for (int i = 0; i < n_meta; i++) {
            if (i)
                fputc(',', hs);
            st_put_json_string(hs, meta[2 * i]);
            fputc(':', hs);
            st_put_json_string(hs, meta[2 * i + 1]);
        }
        fputc('}', hs);
    }
    fputc('}', hs);
    while (ftell(hs) % 8 != 0)
        fputc(' ', hs);
    fclose(hs);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        free(hdr);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot create: %s", strerror(errno));
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    int bad = fwrite(len8, 1, 8, fp) != 8 || fwrite(hdr, 1, hlen, fp) != hlen;
    free(hdr);
    for (int i = 0; i < n && !bad; i++) {
        size_t cnt = 1;
        for (int d = 0; d < items[i].ndim; d++)
            cnt *= (size_t)items[i].shape[d];
        for (size_t q = 0; q < cnt && !bad; q++) {
            uint32_t u;
            unsigned char b[4];
            memcpy(&u, &items[i].data[q], 4);
            for (int k = 0; k < 4; k++)
                b[k] = (unsigned char)(u >> (8 * k));
            bad = fwrite(b, 1, 4, fp) != 4;
        }
    }
    if (fclose(fp) != 0)
        bad = 1;
    return bad ? gp_error_set(err, GP_EIO, path, 0, 0, NULL, "write failed") : 0;
}
