/* Memory and string helpers (the guest is built with -fno-builtin, so these are the only ones). */
#ifndef GUEST_MEM_H
#define GUEST_MEM_H

#include <stddef.h>

void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strstr(const char *haystack, const char *needle);
/* Parse an unsigned number (decimal, or hex with 0x); *end (if not NULL) gets the first unparsed char. */
unsigned long strtoul(const char *s, char **end, int base);

#endif
