/* markup.h: text into HTML or XML. The four characters with a meaning there (& < > ")
 * become entities, and the control characters XML 1.0 does not allow (below 0x20 except
 * tab, newline and carriage return) become spaces, so that a label, a file name or an
 * error message can go into an element or a double-quoted attribute as it is. */
#ifndef GP_MARKUP_H
#define GP_MARKUP_H

#include <stddef.h>
#include <stdio.h>

/* Writes s escaped to f. */
void markup_put(FILE *f, const char *s);
/* s escaped into buf (NUL-terminated; cut before an entity that does not fit). */
char *markup_escape(char *buf, size_t cap, const char *s);

#endif
