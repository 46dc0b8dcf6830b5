/*
 * A small AML encoder (ACPI 6.5 chapter 20, "ACPI Machine Language Specification") and resource
 * descriptor writer (6.4, "Resource Data Types for ACPI") for the DSDT.
 *
 * AML is written front to back into a caller-supplied buffer. Objects whose encoding starts with a
 * PkgLength (Scope, Device, Method, If, Else, Package, Buffer) are opened with one of the *_begin
 * calls, which return a mark, and closed with aml__end (aml__buffer_end for buffers); the close
 * writes the shortest PkgLength, moving the body up when it needs more than one byte, so encoding
 * never needs more room than the result. The first failure (buffer full, bad name)
 * is latched in aml.err and makes every later call a no-op, so callers check once at the end.
 */
#ifndef MINIVMM_ACPI_AML_H
#define MINIVMM_ACPI_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;		/* 0, -ENOSPC or -EINVAL */
};

/* 20.2 opcodes used by minivmm (one byte unless marked "ext": after AML_EXT_PREFIX). */
#define AML_ZERO_OP		0x00
#define AML_ONE_OP		0x01
#define AML_NAME_OP		0x08
#define AML_BYTE_PREFIX		0x0A
#define AML_WORD_PREFIX		0x0B
#define AML_DWORD_PREFIX	0x0C
#define AML_STRING_PREFIX	0x0D
#define AML_QWORD_PREFIX	0x0E
#define AML_SCOPE_OP		0x10
#define AML_BUFFER_OP		0x11
#define AML_PACKAGE_OP		0x12
#define AML_METHOD_OP		0x14
#define AML_DUAL_NAME_PREFIX	0x2E
#define AML_MULTI_NAME_PREFIX	0x2F
#define AML_EXT_PREFIX		0x5B
#define AML_ROOT_CHAR		0x5C
#define AML_PARENT_PREFIX	0x5E
#define AML_LOCAL0_OP		0x60
#define AML_ARG0_OP		0x68
#define AML_STORE_OP		0x70
#define AML_AND_OP		0x7B
#define AML_OR_OP		0x7D
#define AML_DEVICE_OP		0x82	/* ext */
#define AML_CREATE_DWORD_FIELD_OP 0x8A
#define AML_LNOT_OP		0x92
#define AML_LEQUAL_OP		0x93
#define AML_IF_OP		0xA0
#define AML_ELSE_OP		0xA1
#define AML_RETURN_OP		0xA4

void aml__init(struct aml *a, uint8_t *buf, size_t cap);

/* Raw bytes (opcodes, operands already encoded by the caller). */
void aml__byte(struct aml *a, uint8_t b);
void aml__bytes(struct aml *a, const void *p, size_t n);

/* 20.2.2 NameString: "\\_SB.PCI0", "^FOO", "_HID"; segments shorter than 4 are padded with '_'. */
void aml__namestring(struct aml *a, const char *path);

/* 20.2.3 ComputationalData: the shortest of Zero/One/Byte/Word/DWord/QWord. */
void aml__int(struct aml *a, uint64_t v);
void aml__string(struct aml *a, const char *s);
/* EisaId ("PNP0A08"): the compressed 32-bit form (6.1.5) as an integer. */
void aml__eisaid(struct aml *a, const char *id);
/* ToUUID ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") (19.6.142): a 16-byte Buffer. */
void aml__uuid(struct aml *a, const char *uuid);
void aml__arg(struct aml *a, int n);
void aml__local(struct aml *a, int n);

/* Name (NAME, ...): the value term follows. */
void aml__name(struct aml *a, const char *name);

/* PkgLength objects. Each returns a mark for aml__end. */
size_t aml__scope_begin(struct aml *a, const char *path);
size_t aml__device_begin(struct aml *a, const char *name);
size_t aml__method_begin(struct aml *a, const char *name, int nargs, bool serialized);
size_t aml__if_begin(struct aml *a);		/* the predicate term follows */
size_t aml__else_begin(struct aml *a);
size_t aml__package_begin(struct aml *a, uint8_t nelems);
void aml__end(struct aml *a, size_t mark);

/* Buffer (n) {bytes}: n is the number of bytes written between begin and end. */
size_t aml__buffer_begin(struct aml *a);
void aml__buffer_end(struct aml *a, size_t mark);

/* ResourceTemplate () {...}: a Buffer ending with an End Tag. */
size_t aml__rt_begin(struct aml *a);
void aml__rt_end(struct aml *a, size_t mark);

/* 6.4 resource descriptors, written inside a ResourceTemplate. */
void aml__rs_io(struct aml *a, uint16_t base, uint8_t len);		/* IO (Decode16, ...) */
void aml__rs_irq_noflags(struct aml *a, uint8_t irq);			/* IRQNoFlags () {irq} */
void aml__rs_memory32_fixed(struct aml *a, uint32_t base, uint32_t len);	/* ReadWrite */
void aml__rs_word_bus_number(struct aml *a, uint16_t min, uint16_t max);
void aml__rs_word_io(struct aml *a, uint16_t min, uint32_t len);	/* EntireRange window */
void aml__rs_dword_memory(struct aml *a, uint32_t min, uint64_t len);	/* NonCacheable, RW window */
void aml__rs_qword_memory(struct aml *a, uint64_t min, uint64_t len);	/* NonCacheable, RW window */

#endif
