/*
 * Starting the other CPUs with INIT + SIPI (SDM Vol. 3A 9.4.4 "MP Initialization Example") and giving
 * them work. CPU indices: 0 = the BSP, then the APs in device tree order. APs run at CPL3 like the BSP
 * and sleep (hlt through the gate) until smp__run_on() sends them a job.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*smp_fn_t)(int cpu, void *arg);

/* Called by the runtime on the BSP. */
void smp__init_bsp(void);
/*
 * Start every CPU of platform.cpu_apic_id that is not running yet; each waits at most @ms_each
 * milliseconds. Returns the number of CPUs online (BSP included).
 */
int smp__start_aps(unsigned ms_each);
int smp__nr_online(void);
/* LAPIC ID of CPU @cpu as that CPU read it itself, or -1 if it is not online. */
int64_t smp__apic_id(int cpu);
/* This CPU's index, from the stack it runs on (works at CPL3 and in handlers); -1 if unknown. */
int smp__cpu_index(void);
/* Run @fn(cpu, arg) on AP @cpu. -1 if it is not online or still busy with the previous job. */
int smp__run_on(int cpu, smp_fn_t fn, void *arg);
/* Wait until AP @cpu finished its last job. False on timeout. */
bool smp__wait_idle(int cpu, unsigned ms);

/* start.S jumps here (CPL3) on each AP. */
void smp__ap_main(unsigned cpu);

#endif
