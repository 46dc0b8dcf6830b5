/*
 * The serial console (16550A at the device tree's uart, polled output, interrupt-driven input) and a
 * small printf: %s %c %d %i %u %x %X %p %%, the l/ll/z length modifiers, width, '-' and '0' flags,
 * and a precision for %s (%.4s, %.*s).
 */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void serial__init(uint16_t port);
void serial__putc(char c);
void serial__write(const char *s, size_t n);
/* Polled input: a byte, or -1 if none is waiting. */
int serial__poll_getc(void);
/*
 * Interrupt-driven input: route the uart's IOAPIC pin to this CPU at VEC_COM1 and enable the receive
 * interrupt; bytes then collect in a ring buffer.
 */
void serial__rx_irq_enable(void);
/* A byte from the ring buffer; waits (hlt) up to @ms milliseconds (0 = forever). -1 on timeout. */
int serial__getc(unsigned ms);
/* Bytes dropped because the ring buffer was full. */
unsigned serial__rx_overruns(void);
/* Bytes that were already waiting when serial__init ran (polled into the ring then). */
unsigned serial__rx_early(void);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* To the serial port, whole calls serialized between CPUs. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
/* Without the lock: for interrupt/exception handlers (CPL0), which may interrupt a printf. */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int puts(const char *s);

#endif
