/*
 * Start-up and memory figures for `make bench`. Enabled by the environment variable MINIVMM_BENCH_T0_NS
 * (CLOCK_MONOTONIC nanoseconds taken by the benchmark just before exec). The first exit of any vCPU is
 * timestamped: guest programs write a POST code to port 0x80 as their first instruction, so that exit marks
 * the first guest instruction. At the end minivmm prints one "minivmm: stats: ..." line on stderr.
 */
#ifndef MINIVMM_STATS_H
#define MINIVMM_STATS_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;

extern bool stats__enabled;

void stats__init(void);
/* Called on every vCPU exit; cheap unless enabled. */
void stats__first_exit_slow(void);
static inline void stats__vcpu_exit(void)
{
	if (__builtin_expect(stats__enabled, 0))
		stats__first_exit_slow();
}
/* Print the figures: first exit and end times since exec, VMM RSS excluding guest RAM. */
void stats__report(const struct guest_mem *mem);

#endif
