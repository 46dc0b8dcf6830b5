/*
 * Time from the ACPI PM timer (3.579545 MHz, 24 bits; ACPI 6.5 4.8.3.3 "Power Management Timer"), read
 * at CPL3 through its I/O port. Deadlines must be polled at least every 4.6 s (one 24-bit wrap).
 */
#ifndef GUEST_TIMER_H
#define GUEST_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define PM_TIMER_HZ 3579545u

struct timeout {
	uint32_t last;
	uint32_t same;		/* consecutive identical reads: a stuck or missing timer */
	uint64_t ticks;		/* elapsed so far */
	uint64_t limit;
};

uint32_t pmtimer__read(void);
void timeout__start(struct timeout *t, unsigned ms);
bool timeout__expired(struct timeout *t);
/* Elapsed microseconds since timeout__start (valid while polled in time). */
uint64_t timeout__elapsed_us(struct timeout *t);
void udelay(unsigned us);
void mdelay(unsigned ms);

#endif
