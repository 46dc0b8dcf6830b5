/*
 * AML encoder: see aml.h. Encodings follow ACPI 6.5 chapter 20 (AML grammar) and 6.4 (resource
 * descriptors); the output matches what iasl generates for the same ASL.
 */
#include <errno.h>
#include <string.h>

#include "acpi/aml.h"

/*
 * Room reserved after an opcode for its PkgLength: one byte, the common case. When the object is
 * closed and needs a longer PkgLength (or, for a Buffer, also the BufferSize integer), its body
 * moves up, so encoding never needs more room than the final result.
 */
#define AML_PKG_RESERVE		1
#define AML_PKGLEN_MAX		(1u << 28)

void aml__init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->len = 0;
	a->err = 0;
}

static void aml__fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

static uint8_t *aml__reserve(struct aml *a, size_t n)
{
	uint8_t *p;

	if (a->err)
		return NULL;
	if (n > a->cap - a->len) {
		aml__fail(a, -ENOSPC);
		return NULL;
	}
	p = a->buf + a->len;
	a->len += n;
	return p;
}

void aml__byte(struct aml *a, uint8_t b)
{
	uint8_t *p = aml__reserve(a, 1);

	if (p)
		*p = b;
}

void aml__bytes(struct aml *a, const void *src, size_t n)
{
	uint8_t *p = aml__reserve(a, n);

	if (p)
		memcpy(p, src, n);
}

/* Little-endian value of @n bytes. */
static void aml__le(struct aml *a, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		aml__byte(a, v >> (8 * i));
}

/* 20.2.2 NameSeg: a lead character 'A'-'Z' or '_', then 'A'-'Z', '_' or '0'-'9'; padded with '_'. */
static void aml__nameseg(struct aml *a, const char *s, size_t n)
{
	char seg[4] = { '_', '_', '_', '_' };

	if (n == 0 || n > 4) {
		aml__fail(a, -EINVAL);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');

		if (!ok) {
			aml__fail(a, -EINVAL);
			return;
		}
		seg[i] = c;
	}
	aml__bytes(a, seg, 4);
}

void aml__namestring(struct aml *a, const char *path)
{
	const char *p = path;
	int nsegs = 0;

	if (*p == '\\') {
		aml__byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml__byte(a, AML_PARENT_PREFIX);
			p++;
		}
	}
	if (*p == '\0') {
		aml__byte(a, AML_ZERO_OP);	/* NullName */
		return;
	}
	nsegs = 1;
	for (const char *q = p; *q; q++)
		nsegs += *q == '.';
	if (nsegs > 255) {
		aml__fail(a, -EINVAL);
		return;
	}
	if (nsegs == 2) {
		aml__byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml__byte(a, AML_MULTI_NAME_PREFIX);
		aml__byte(a, nsegs);
	}
	while (nsegs--) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		aml__nameseg(a, p, n);
		p += n + (dot ? 1 : 0);
	}
}

void aml__int(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml__byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml__byte(a, AML_ONE_OP);
	} else if (v <= 0xFF) {
		aml__byte(a, AML_BYTE_PREFIX);
		aml__le(a, v, 1);
	} else if (v <= 0xFFFF) {
		aml__byte(a, AML_WORD_PREFIX);
		aml__le(a, v, 2);
	} else if (v <= 0xFFFFFFFF) {
		aml__byte(a, AML_DWORD_PREFIX);
		aml__le(a, v, 4);
	} else {
		aml__byte(a, AML_QWORD_PREFIX);
		aml__le(a, v, 8);
	}
}

/* 20.2.3 String: ASCII 0x01-0x7F, NUL-terminated. */
void aml__string(struct aml *a, const char *s)
{
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c > 0x7F) {
			aml__fail(a, -EINVAL);
			return;
		}
	}
	aml__byte(a, AML_STRING_PREFIX);
	aml__bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * 6.1.5 _HID: an EISA ID "UUUXXXX" is three letters of 5 bits each ('A' = 1) and four hex digits,
 * stored big-endian in the 32-bit integer's bytes: PNP0A03 is bytes 41 D0 0A 03.
 */
void aml__eisaid(struct aml *a, const char *id)
{
	uint8_t b[4];
	int h[4];

	if (strlen(id) != 7) {
		aml__fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			aml__fail(a, -EINVAL);
			return;
		}
	}
	for (int i = 0; i < 4; i++) {
		h[i] = hexval(id[3 + i]);
		if (h[i] < 0) {
			aml__fail(a, -EINVAL);
			return;
		}
	}
	b[0] = ((id[0] & 0x1F) << 2) | ((id[1] & 0x1F) >> 3);
	b[1] = ((id[1] & 0x1F) << 5) | (id[2] & 0x1F);
	b[2] = h[0] << 4 | h[1];
	b[3] = h[2] << 4 | h[3];
	aml__int(a, (uint64_t)b[0] | b[1] << 8 | b[2] << 16 | (uint64_t)b[3] << 24);
}

/*
 * 19.6.142 ToUUID: "aabbccdd-eeff-gghh-iijj-kkllmmnnoopp" is stored as dd cc bb aa ff ee hh gg
 * ii jj kk ll mm nn oo pp: the first three groups little-endian, the last two as written.
 */
void aml__uuid(struct aml *a, const char *uuid)
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t bytes[16], out[16];
	size_t mark;
	int n = 0;

	if (strlen(uuid) != 36) {
		aml__fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 36; i += 2) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (uuid[i] != '-') {
				aml__fail(a, -EINVAL);
				return;
			}
			i++;
		}
		hi = hexval(uuid[i]);
		lo = hexval(uuid[i + 1]);
		if (hi < 0 || lo < 0) {
			aml__fail(a, -EINVAL);
			return;
		}
		bytes[n++] = hi << 4 | lo;
	}
	for (int i = 0; i < 16; i++)
		out[i] = bytes[order[i]];
	mark = aml__buffer_begin(a);
	aml__bytes(a, out, sizeof(out));
	aml__buffer_end(a, mark);
}

void aml__arg(struct aml *a, int n)
{
	if (n < 0 || n > 6)
		aml__fail(a, -EINVAL);
	else
		aml__byte(a, AML_ARG0_OP + n);
}

void aml__local(struct aml *a, int n)
{
	if (n < 0 || n > 7)
		aml__fail(a, -EINVAL);
	else
		aml__byte(a, AML_LOCAL0_OP + n);
}

void aml__name(struct aml *a, const char *name)
{
	aml__byte(a, AML_NAME_OP);
	aml__namestring(a, name);
}

/* Opcode(s) already written: reserve the header room and return the mark. */
static size_t aml__open(struct aml *a)
{
	size_t mark = a->len;

	aml__reserve(a, AML_PKG_RESERVE);
	return mark;
}

/*
 * 20.2.4 PkgLength: the length counts its own bytes and everything up to the end of the object.
 * One byte holds up to 63; otherwise bits 7:6 of the lead byte give the number of following bytes,
 * its bits 3:0 are the low nibble and the following bytes the rest.
 */
static int aml__pkglen(uint8_t out[4], size_t body)
{
	size_t total;
	int n;

	for (n = 1; n <= 4; n++) {
		total = body + n;
		if ((n == 1 && total < 0x40) || (n > 1 && total < (1u << (4 + 8 * (n - 1)))))
			break;
	}
	if (n > 4)
		return -1;
	if (n == 1) {
		out[0] = total;
		return 1;
	}
	out[0] = (n - 1) << 6 | (total & 0xF);
	for (int i = 1; i < n; i++)
		out[i] = total >> (4 + 8 * (i - 1));
	return n;
}

/* Replace the reserved byte at @mark by PkgLength + @extra, moving the body up as needed. */
static void aml__close(struct aml *a, size_t mark, const uint8_t *extra, int nextra)
{
	uint8_t hdr[4 + 5];
	size_t body_start = mark + AML_PKG_RESERVE, body, grow;
	int n;

	if (a->err)
		return;
	body = a->len - body_start;
	if (body + nextra >= AML_PKGLEN_MAX) {
		aml__fail(a, -ENOSPC);
		return;
	}
	n = aml__pkglen(hdr, body + nextra);
	if (nextra)
		memcpy(hdr + n, extra, nextra);
	n += nextra;
	grow = n - AML_PKG_RESERVE;
	if (grow > a->cap - a->len) {
		aml__fail(a, -ENOSPC);
		return;
	}
	memmove(a->buf + mark + n, a->buf + body_start, body);
	memcpy(a->buf + mark, hdr, n);
	a->len += grow;
}

void aml__end(struct aml *a, size_t mark)
{
	aml__close(a, mark, NULL, 0);
}

size_t aml__scope_begin(struct aml *a, const char *path)
{
	size_t mark;

	aml__byte(a, AML_SCOPE_OP);
	mark = aml__open(a);
	aml__namestring(a, path);
	return mark;
}

size_t aml__device_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml__byte(a, AML_EXT_PREFIX);
	aml__byte(a, AML_DEVICE_OP);
	mark = aml__open(a);
	aml__namestring(a, name);
	return mark;
}

/* 20.2.5.2 MethodFlags: bits 2:0 ArgCount, bit 3 SerializeFlag, bits 7:4 SyncLevel (0). */
size_t aml__method_begin(struct aml *a, const char *name, int nargs, bool serialized)
{
	size_t mark;

	if (nargs < 0 || nargs > 7)
		aml__fail(a, -EINVAL);
	aml__byte(a, AML_METHOD_OP);
	mark = aml__open(a);
	aml__namestring(a, name);
	aml__byte(a, (nargs & 7) | (serialized ? 1 << 3 : 0));
	return mark;
}

size_t aml__if_begin(struct aml *a)
{
	aml__byte(a, AML_IF_OP);
	return aml__open(a);
}

size_t aml__else_begin(struct aml *a)
{
	aml__byte(a, AML_ELSE_OP);
	return aml__open(a);
}

size_t aml__package_begin(struct aml *a, uint8_t nelems)
{
	size_t mark;

	aml__byte(a, AML_PACKAGE_OP);
	mark = aml__open(a);
	aml__byte(a, nelems);
	return mark;
}

size_t aml__buffer_begin(struct aml *a)
{
	aml__byte(a, AML_BUFFER_OP);
	return aml__open(a);
}

/* DefBuffer := BufferOp PkgLength BufferSize ByteList; BufferSize is an integer term. */
void aml__buffer_end(struct aml *a, size_t mark)
{
	struct aml sz;
	uint8_t size_term[5];

	if (a->err)
		return;
	aml__init(&sz, size_term, sizeof(size_term));
	aml__int(&sz, a->len - (mark + AML_PKG_RESERVE));
	if (sz.err) {
		aml__fail(a, -ENOSPC);
		return;
	}
	aml__close(a, mark, size_term, sz.len);
}

size_t aml__rt_begin(struct aml *a)
{
	return aml__buffer_begin(a);
}

/* 6.4.2.9 End Tag: checksum 0 means "the template is not checksummed" (iasl does the same). */
void aml__rt_end(struct aml *a, size_t mark)
{
	aml__byte(a, 0x79);
	aml__byte(a, 0x00);
	aml__buffer_end(a, mark);
}

/* 6.4.2.5 I/O Port Descriptor: 16-bit decode, fixed at @base. */
void aml__rs_io(struct aml *a, uint16_t base, uint8_t len)
{
	aml__byte(a, 0x47);
	aml__byte(a, 0x01);		/* Decode16 */
	aml__le(a, base, 2);		/* minimum */
	aml__le(a, base, 2);		/* maximum */
	aml__byte(a, 0x01);		/* alignment */
	aml__byte(a, len);
}

/* 6.4.2.1 IRQ Descriptor, 2-byte form: edge, active high, exclusive. */
void aml__rs_irq_noflags(struct aml *a, uint8_t irq)
{
	if (irq > 15) {
		aml__fail(a, -EINVAL);
		return;
	}
	aml__byte(a, 0x22);
	aml__le(a, 1u << irq, 2);
}

/* 6.4.3.4 32-Bit Fixed Memory Range Descriptor. */
void aml__rs_memory32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	aml__byte(a, 0x86);
	aml__le(a, 9, 2);
	aml__byte(a, 0x01);		/* ReadWrite */
	aml__le(a, base, 4);
	aml__le(a, len, 4);
}

/*
 * 6.4.3.5 Address Space Descriptors (Word 0x88, DWord 0x87, QWord 0x8A): resource type, general
 * flags, type-specific flags, then granularity, minimum, maximum, translation offset and length,
 * each of the descriptor's width. General flags 0x0C: ResourceProducer (bit 0 clear), PosDecode,
 * MinFixed (bit 2), MaxFixed (bit 3) — a bridge window that the OS may not move.
 */
#define AML_ADDR_MEMORY		0
#define AML_ADDR_IO		1
#define AML_ADDR_BUS		2
#define AML_ADDR_GEN_FLAGS	0x0C
#define AML_ADDR_IO_ENTIRE	0x03	/* _RNG: ISA and non-ISA ranges */
#define AML_ADDR_MEM_RW		0x01	/* _RW; _MEM = 0: non-cacheable */

static void aml__rs_addr(struct aml *a, uint8_t tag, int width, uint8_t type, uint8_t tflags,
			 uint64_t min, uint64_t len)
{
	uint64_t max = min + len - 1;

	if (len == 0 || max < min || (width < 8 && (max >> (8 * width) || len >> (8 * width)))) {
		aml__fail(a, -EINVAL);
		return;
	}
	aml__byte(a, tag);
	aml__le(a, 3 + 5 * width, 2);
	aml__byte(a, type);
	aml__byte(a, AML_ADDR_GEN_FLAGS);
	aml__byte(a, tflags);
	aml__le(a, 0, width);		/* granularity */
	aml__le(a, min, width);
	aml__le(a, max, width);
	aml__le(a, 0, width);		/* translation offset */
	aml__le(a, len, width);
}

void aml__rs_word_bus_number(struct aml *a, uint16_t min, uint16_t max)
{
	if (max < min) {
		aml__fail(a, -EINVAL);
		return;
	}
	aml__rs_addr(a, 0x88, 2, AML_ADDR_BUS, 0, min, (uint32_t)max - min + 1);
}

void aml__rs_word_io(struct aml *a, uint16_t min, uint32_t len)
{
	aml__rs_addr(a, 0x88, 2, AML_ADDR_IO, AML_ADDR_IO_ENTIRE, min, len);
}

void aml__rs_dword_memory(struct aml *a, uint32_t min, uint64_t len)
{
	aml__rs_addr(a, 0x87, 4, AML_ADDR_MEMORY, AML_ADDR_MEM_RW, min, len);
}

void aml__rs_qword_memory(struct aml *a, uint64_t min, uint64_t len)
{
	aml__rs_addr(a, 0x8A, 8, AML_ADDR_MEMORY, AML_ADDR_MEM_RW, min, len);
}
