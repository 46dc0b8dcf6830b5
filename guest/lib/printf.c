/* A small vsnprintf and the console printf built on it. */
#include "guest.h"

struct out {
	char *buf;
	size_t size;	/* capacity of buf, including the NUL */
	size_t len;	/* characters produced since the last flush (may exceed size without flush) */
	size_t flushed;	/* characters already flushed */
	void (*flush)(struct out *o);
	bool crlf;	/* '\n' -> "\r\n", for terminals in raw mode */
};

static void put_raw(struct out *o, char c)
{
	if (o->flush && o->len == o->size) {
		o->flush(o);
		o->flushed += o->len;
		o->len = 0;
	}
	if (o->len < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put(struct out *o, char c)
{
	if (c == '\n' && o->crlf)
		put_raw(o, '\r');
	put_raw(o, c);
}

static void put_padded(struct out *o, const char *s, size_t n, int width, bool left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;

	/* A zero pad goes after the sign. */
	if (pad == '0' && n && s[0] == '-') {
		put(o, '-');
		s++;
		n--;
	}
	if (!left)
		while (fill-- > 0)
			put(o, pad);
	while (n--)
		put(o, *s++);
	if (left)
		while (fill-- > 0)
			put(o, ' ');
}

static size_t utoa(char *tmp, unsigned long long v, unsigned base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char rev[24];
	size_t n = 0, i = 0;

	do {
		rev[n++] = digits[v % base];
		v /= base;
	} while (v);
	while (n)
		tmp[i++] = rev[--n];
	return i;
}

static void format(struct out *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		char tmp[32], pad = ' ';
		bool left = false, is_signed = false, upper = false, alt = false;
		int width = 0, lng = 0, prec = -1;
		unsigned base = 10;
		unsigned long long v;
		size_t n;

		if (*fmt != '%') {
			put(o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '#')
				alt = true;	/* 0x before a non-zero %x */
			else if (*fmt == '0')
				pad = '0';
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.') {	/* precision: only for %s (at most that many bytes) */
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			}
			while (*fmt >= '0' && *fmt <= '9')
				prec = prec * 10 + (*fmt++ - '0');
		}
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		if (left)
			pad = ' ';
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (!s)
				s = "(null)";
			put_padded(o, s, prec >= 0 ? strnlen(s, prec) : strlen(s), width, left, ' ');
			continue;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			put_padded(o, tmp, 1, width, left, ' ');
			continue;
		case '%':
			put(o, '%');
			continue;
		case 'p':
			tmp[0] = '0';
			tmp[1] = 'x';
			n = 2 + utoa(tmp + 2, (uintptr_t)va_arg(ap, void *), 16, false);
			put_padded(o, tmp, n, width, left, ' ');
			continue;
		case 'd':
		case 'i':
			is_signed = true;
			break;
		case 'u':
			break;
		case 'X':
			upper = true;
			/* fall through */
		case 'x':
			base = 16;
			break;
		case '\0':
			return;
		default:	/* unknown: print it as is */
			put(o, '%');
			put(o, *fmt);
			continue;
		}
		if (is_signed) {
			long long s = lng ? va_arg(ap, long long) : va_arg(ap, int);

			n = 0;
			if (s < 0) {
				tmp[n++] = '-';
				v = -(unsigned long long)s;
			} else {
				v = s;
			}
		} else {
			v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
			n = 0;
			if (alt && base == 16 && v) {
				tmp[n++] = '0';
				tmp[n++] = upper ? 'X' : 'x';
			}
		}
		n += utoa(tmp + n, v, base, upper);
		put_padded(o, tmp, n, width, left, pad);
	}
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { .buf = buf, .size = size ? size - 1 : 0 };

	format(&o, fmt, ap);
	if (size)
		buf[o.len < o.size ? o.len : o.size] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void flush_serial(struct out *o)
{
	serial__write(o->buf, o->len < o->size ? o->len : o->size);
}

static int console_vprintf(const char *fmt, va_list ap)
{
	char buf[128];
	struct out o = { .buf = buf, .size = sizeof(buf), .flush = flush_serial, .crlf = true };
	size_t total;

	format(&o, fmt, ap);
	total = o.flushed + o.len;
	flush_serial(&o);
	return (int)total;
}

static volatile int console_lock;

int vprintf(const char *fmt, va_list ap)
{
	int n;

	while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
	n = console_vprintf(fmt, ap);
	__atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = console_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int puts(const char *s)
{
	return printf("%s\n", s);
}
