/* test_textparse.c: textparse_nonneg converts without strtod where it can (a plain decimal
 * of at most 19 significant digits, w <= 2^53 and |exponent| <= 22: one correctly rounded
 * multiplication or division); its double must be strtod's to the bit for every text.
 * Edge cases by name, then many generated decimals around every limit of that path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "base/rng.h"
#include "base/textparse.h"

/* textparse_nonneg(text) must be strtod(text) bit for bit where that is finite and >= 0,
 * decimal, and the whole text is the number (-0 reads as 0); else an error. */
static void check_against_strtod(const char *text, const char *name)
{
    char *end;
    double want = strtod(text, &end);
    bool converted = end != text;
    while (*end == ' ' || *end == '\t')
        end++;
    /* hexadecimal ("0x10") is refused on purpose: decimal only */
    bool valid = converted && !*end && isfinite(want) && !(want < 0) && !strpbrk(text, "xX");
    if (want == 0)
        want = 0.0;
    double got = -7;
    const char *why = NULL;
    int rc = textparse_nonneg(text, &got, &why);
    if (!valid) {
        if (rc == 0)
            fail_msg("%s '%s': accepted as %.17g, strtod says not a finite number >= 0", name, text,
                     got);
        return;
    }
    if (rc != 0)
        fail_msg("%s '%s': rejected (%s), strtod reads %.17g", name, text, why, want);
    if (memcmp(&got, &want, sizeof(got)) != 0)
        fail_msg("%s '%s': got %.17g (%a), strtod %.17g (%a)", name, text, got, got, want, want);
}

static void test_edge_cases(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "0",
        "00",
        "0.0",
        "-0",
        "-0.0e5",
        "+0",
        "0e999",
        "0.000e-999",
        "1",
        "+1",
        "1.",
        ".5",
        "+.5e+3",
        "1.e5",
        "5e0",
        "5E-0",
        " 7 ",
        "\t8\t",
        "0.1",
        "0.2",
        "0.3",
        "1.1",
        "2.675",
        "0.1e1",
        "123.456",
        "1.20767164",
        "1e22",
        "1e-22",
        "1E-22",
        "9e22",
        "1e23",
        "1e-23",
        "4.35e22", /* the fast path's ends */
        "9007199254740992",
        "9007199254740993",
        "9007199254740991",
        "9007199254740994",
        "9007199254740992e1",
        "9007199254740993e-1",
        "9007199254740992e-22",
        "9999999999999999999",
        "18446744073709551615",
        "18446744073709551616",
        "1234567890123456789",
        "12345678901234567890",
        "0.1234567890123456789",
        "123456789012345678e-5",
        "0.0000000000000000000001234",
        "000000000000000000000001",
        "1000000000000000000000",
        "10000000000000000000000",
        "0.00000000000000000000001",
        "4.9e-324",
        "2.2250738585072014e-308",
        "1.7976931348623157e308",
        "1e309",
        "1.5x",
        "1e",
        "1e+",
        "1e-x",
        "e5",
        ".",
        "+",
        "",
        " ",
        "0x10",
        "1,5",
        "1..5",
        "nan",
        "inf",
        "-1",
        "-1e-400",
        "\v5",
        "5\n",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        check_against_strtod(texts[i], "edge");
}

/* Decimals of 1 to 22 significant digits, the point anywhere (or none), leading and
 * trailing zeros, exponents -40 .. 40: inside the fast path and across each of its limits. */
static void test_generated_decimals(void **state)
{
    (void)state;
    char text[96];
    for (uint64_t id = 0; id < 400000; id++) {
        uint64_t h = rng_mix64(id * 0x9E3779B97F4A7C15ULL + 12345);
        uint64_t h2 = rng_mix64(h);
        int n_digits = 1 + (int)(h % 22);
        int lead_zeros = (int)((h >> 8) % 8) == 0 ? (int)((h >> 12) % 25) : 0;
        int point = (int)((h >> 20) % (unsigned)(n_digits + lead_zeros + 2)) - 1; /* -1: none */
        int has_exp = (int)((h >> 28) % 3) == 0;
        int exp10 = (int)((h >> 32) % 81) - 40;
        size_t k = 0;
        for (int i = 0; i < lead_zeros; i++)
            text[k++] = '0';
        for (int i = 0; i < n_digits; i++) {
            int d = (int)((h2 >> (2 * (i % 30))) % 10);
            if (i == 0 && d == 0)
                d = 1 + (int)(h2 % 9);
            /* runs of 9s and 0s: carries and exact powers */
            if ((h >> 40) % 5 == 0)
                d = (h >> 44) % 2 ? 9 : 0;
            text[k++] = (char)('0' + d);
        }
        if (point >= 0) {
            memmove(text + point + 1, text + point, k - (size_t)point);
            text[point] = '.';
            k++;
        }
        if (has_exp)
            k += (size_t)snprintf(text + k, sizeof(text) - k, "%s%d", (h >> 48) % 2 ? "e" : "E",
                                  exp10);
        text[k] = '\0';
        check_against_strtod(text, "generated");
    }
}

/* Every integer in [2^53 - 3000, 2^53 + 3000] over every power 10^-25 .. 10^25. */
static void test_around_two_to_53(void **state)
{
    (void)state;
    char text[64];
    for (int64_t d = -3000; d <= 3000; d += 7)
        for (int e = -25; e <= 25; e++) {
            snprintf(text, sizeof(text), "%llue%d", (unsigned long long)((1LL << 53) + d), e);
            check_against_strtod(text, "2^53");
        }
}

/* Doubles printed with 1 to 19 digits read back to the same bits as strtod reads them. */
static void test_printed_doubles(void **state)
{
    (void)state;
    char text[64];
    for (uint64_t id = 0; id < 100000; id++) {
        uint64_t h = rng_mix64(id + 777);
        double x = ldexp((double)(h >> 11) / 9007199254740992.0, (int)(h % 80) - 40);
        snprintf(text, sizeof(text), "%.*g", 1 + (int)((h >> 3) % 19), x);
        check_against_strtod(text, "printed");
        snprintf(text, sizeof(text), "%.*f", (int)((h >> 7) % 12), x);
        check_against_strtod(text, "printed fixed");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_generated_decimals),
        cmocka_unit_test(test_around_two_to_53),
        cmocka_unit_test(test_printed_doubles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
