/* Deadlines on the ACPI PM timer (see timer.h). */
#include "guest.h"

#define PM_TMR_OFFSET	8
#define PM_TMR_MASK	0xffffff

uint32_t pmtimer__read(void)
{
	uint16_t base = platform.pm_port ? platform.pm_port : 0x600;

	return inl(base + PM_TMR_OFFSET) & PM_TMR_MASK;
}

void timeout__start(struct timeout *t, unsigned ms)
{
	t->last = pmtimer__read();
	t->same = 0;
	t->ticks = 0;
	t->limit = (uint64_t)ms * PM_TIMER_HZ / 1000;
}

static void timeout_update(struct timeout *t)
{
	uint32_t now = pmtimer__read();

	if (now == t->last) {
		/*
		 * A read takes a VM exit, far longer than one 279 ns tick: a timer that stops moving is
		 * missing or broken. Count each such read as 1 us so deadlines still end.
		 */
		if (++t->same > 1000)
			t->ticks += 4;
		return;
	}
	t->same = 0;
	t->ticks += (now - t->last) & PM_TMR_MASK;
	t->last = now;
}

bool timeout__expired(struct timeout *t)
{
	timeout_update(t);
	return t->ticks >= t->limit;
}

uint64_t timeout__elapsed_us(struct timeout *t)
{
	timeout_update(t);
	return t->ticks * 1000000 / PM_TIMER_HZ;
}

void udelay(unsigned us)
{
	struct timeout t;

	timeout__start(&t, 0);
	t.limit = (uint64_t)us * PM_TIMER_HZ / 1000000;
	while (!timeout__expired(&t))
		cpu_relax();
}

void mdelay(unsigned ms)
{
	struct timeout t;

	timeout__start(&t, ms);
	while (!timeout__expired(&t))
		cpu_relax();
}
