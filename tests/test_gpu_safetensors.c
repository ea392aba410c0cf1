/* test_gpu_safetensors.c: the safetensors reader and writer (gpu/ref/safetensors.c): a
 * round trip through a file the test writes, dtype conversion, and malformed headers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu/ref/safetensors.h"

static void test_round_trip(void **state)
{
    (void)state;
    char path[] = "/tmp/gpenlab-test-st-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    float a[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 65504}, b[1] = {42};
    safetensors_item items[] = {
        {"layer.a \"quoted\"", 2, {2, 3}, a},
        {"b", 0, {0}, b},
    };
    const char *meta[] = {"size", "64", "note", "tab\there"};
    gp_error err;
    assert_int_equal(safetensors_write_f32(path, 2, items, 2, meta, &err), 0);
    safetensors_file f;
    if (safetensors_open(path, &f, &err))
        fail_msg("open: %s", err.msg);
    assert_int_equal(f.n_tensors, 2);
    const safetensors_tensor *t = safetensors_find(&f, "layer.a \"quoted\"");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal((int)t->shape[1], 3);
    float got[6];
    assert_int_equal(safetensors_read_f32(&f, t, got, 6, &err), 0);
    assert_memory_equal(got, a, sizeof(a));
    t = safetensors_find(&f, "b");
    assert_non_null(t);
    assert_int_equal(t->ndim, 0);
    assert_int_equal(safetensors_read_f32(&f, t, got, 1, &err), 0);
    assert_true(got[0] == 42);
    assert_int_equal(safetensors_read_f32(&f, t, got, 2, &err), GP_ERANGE);
    assert_string_equal(safetensors_meta(&f, "size"), "64");
    assert_string_equal(safetensors_meta(&f, "note"), "tab\there");
    assert_null(safetensors_meta(&f, "absent"));
    assert_null(safetensors_find(&f, "absent"));
    safetensors_close(&f);
    unlink(path);
    assert_int_equal(safetensors_open("/nonexistent/x.safetensors", &f, &err), GP_EIO);
}

/* Builds a file image from a header string and raw data bytes. */
static size_t image(const char *hdr, const unsigned char *data, size_t dlen, unsigned char *out)
{
    size_t h = strlen(hdr);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(out + 8, hdr, h);
    memcpy(out + 8 + h, data, dlen);
    return 8 + h + dlen;
}

static void test_dtypes(void **state)
{
    (void)state;
    /* F16 1.0, -2.0, 2^-24 (smallest subnormal); BF16 1.5; F64 0.25 */
    const unsigned char data[] = {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0xC0, 0x3F,
                                  0,    0,    0,    0,    0,    0,    0xD0, 0x3F};
    const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                      "\"bf\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[6,8]},"
                      "\"d\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[8,16]},"
                      "\"i\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
    unsigned char buf[512];
    size_t n = image(hdr, data, sizeof(data), buf);
    safetensors_file f;
    gp_error err;
    if (safetensors_parse("mem", buf, n, &f, &err))
        fail_msg("parse: %s", err.msg);
    float v[3];
    assert_int_equal(safetensors_read_f32(&f, safetensors_find(&f, "h"), v, 3, &err), 0);
    assert_true(v[0] == 1.0f && v[1] == -2.0f && v[2] == ldexpf(1.0f, -24));
    assert_int_equal(safetensors_read_f32(&f, safetensors_find(&f, "bf"), v, 1, &err), 0);
    assert_true(v[0] == 1.5f);
    assert_int_equal(safetensors_read_f32(&f, safetensors_find(&f, "d"), v, 1, &err), 0);
    assert_true(v[0] == 0.25f);
    assert_int_equal(safetensors_read_f32(&f, safetensors_find(&f, "i"), v, 2, &err), GP_ENOTSUP);
    safetensors_close(&f);
}

static void test_malformed(void **state)
{
    (void)state;
    const unsigned char data[8] = {0};
    const struct {
        const char *name, *hdr;
        size_t dlen;
        const char *want_msg;
    } rows[] = {
        {"not an object", "[1]", 8, "expected '{'"},
        {"unterminated string", "{\"a", 8, "unterminated"},
        {"missing dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "needs dtype"},
        {"offsets beyond data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
         8, "outside"},
        {"size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
         "bytes for"},
        {"decreasing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}",
         8, "decrease"},
        {"float in shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8,
         "integer"},
        {"trailing garbage", "{} x", 8, "trailing"},
        {"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8,
         "2 values"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unsigned char buf[512];
        size_t n = image(rows[i].hdr, data, rows[i].dlen, buf);
        safetensors_file f;
        gp_error err;
        gp_error_clear(&err);
        int rc = safetensors_parse("bad.safetensors", buf, n, &f, &err);
        if (rc != GP_EPARSE || !strstr(err.msg, rows[i].want_msg))
            fail_msg("%s: got %d '%s' want %d '%s'", rows[i].name, rc, err.msg, GP_EPARSE,
                     rows[i].want_msg);
        if (strcmp(err.file, "bad.safetensors") != 0)
            fail_msg("%s: error names file '%s'", rows[i].name, err.file);
    }
    /* header length larger than the file */
    unsigned char buf[16] = {0xFF, 0xFF, 0, 0, 0, 0, 0, 0};
    safetensors_file f;
    gp_error err;
    assert_int_equal(safetensors_parse("short", buf, sizeof(buf), &f, &err), GP_EPARSE);
    assert_int_equal(safetensors_parse("tiny", buf, 4, &f, &err), GP_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
