/* Small helpers shared by every layer. */
#ifndef MINIVMM_UTIL_H
#define MINIVMM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((uint64_t)(a) - 1)) == 0)
#define BIT(n) (1ULL << (n))
/* Bits h..l inclusive, as a mask. */
#define GENMASK(h, l) ((~0ULL >> (63 - (h))) & (~0ULL << (l)))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Does [base, base+len) fit inside [0, limit) without wrapping? */
static inline bool range_ok(uint64_t base, uint64_t len, uint64_t limit)
{
	return base <= limit && len <= limit - base;
}

/* Write a one-line message into @err (@n bytes) and return @ret: "return errmsg(err, n, -EINVAL, ...)". */
int errmsg(char *err, size_t n, int ret, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Parse a size such as "512M", "2G", "4096", "64k". Returns 0 and sets *out, or -EINVAL. */
int parse_size(const char *s, uint64_t *out);

/* Read a whole file into a malloc'd buffer. Returns 0 or -errno. */
int read_file(const char *path, uint8_t **buf, size_t *len);

#endif
