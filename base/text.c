/* text.c: UTF-8 validation and cutting (see text.h). */
#include "base/text.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when invalid or NUL. */
static size_t seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c >= 0x01 && c <= 0x7f)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* no overlong forms */
        else if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        return 0; /* NUL, a continuation byte, 0xc0, 0xc1 or 0xf5..0xff */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

size_t gp_text_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, eight bytes at a time: no byte with the high bit, none zero */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            if ((w & 0x8080808080808080ull) ||
                ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        size_t l = seq_len(u + i, n - i);
        if (l == 0)
            return i;
        i += l;
    }
    return n;
}

int gp_text_check(const char *path, const char *s, size_t n, long first_line, gp_error *err)
{
    size_t bad = gp_text_prefix(s, n);
    if (bad == n)
        return 0;
    long line = first_line;
    size_t line_start = 0;
    for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + bad - p))) != NULL; p++) {
        line++;
        line_start = (size_t)(p - s) + 1;
    }
    long col = (long)(bad - line_start) + 1;
    unsigned char b = (unsigned char)s[bad];
    if (b == 0)
        return gp_error_set(err, GP_EPARSE, path, line, col, NULL,
                            "NUL byte (binary data, not text)");
    return gp_error_set(err, GP_EPARSE, path, line, col, NULL,
                        "invalid UTF-8 (byte 0x%02x): save the file as UTF-8", b);
}

size_t gp_utf8_cut(const char *s, size_t max_bytes)
{
    size_t len = strnlen(s, max_bytes + 1);
    if (len <= max_bytes)
        return len;
    size_t cut = max_bytes;
    /* step back over continuation bytes to the start of the character at the cut */
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--;
    return cut;
}

bool gp_copy_utf8(char *dst, size_t cap, const char *src)
{
    if (cap == 0)
        return src[0] != '\0';
    size_t len = gp_utf8_cut(src, cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
    return src[len] != '\0';
}
