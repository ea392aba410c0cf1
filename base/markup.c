/* markup.c: escaping text for HTML and XML (see markup.h). */
#include "base/markup.h"

#include <string.h>

/* What c becomes: an entity, a space, or NULL for itself. */
static const char *replacement(unsigned char c)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\t':
    case '\n':
    case '\r': return NULL;
    default: return c < 0x20 ? " " : NULL;
    }
}

void markup_put(FILE *f, const char *s)
{
    for (; *s; s++) {
        const char *r = replacement((unsigned char)*s);
        if (r)
            fputs(r, f);
        else
            fputc(*s, f);
    }
}

char *markup_escape(char *buf, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s; s++) {
        const char *r = replacement((unsigned char)*s);
        size_t len = r ? strlen(r) : 1;
        if (k + len + 1 > cap)
            break;
        if (r)
            memcpy(buf + k, r, len);
        else
            buf[k] = *s;
        k += len;
    }
    if (cap)
        buf[k] = '\0';
    return buf;
}
