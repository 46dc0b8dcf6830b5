/* AP start-up and a one-slot job mailbox per CPU (see smp.h). */
#include "guest.h"

struct cpu_slot {
	volatile uint32_t online;
	volatile uint32_t apic_id;
	volatile uint32_t req_seq;	/* bumped by smp__run_on */
	volatile uint32_t done_seq;	/* = req_seq once the job ran */
	smp_fn_t fn;
	void *arg;
};

static struct cpu_slot cpus[GUEST_MAX_CPUS];

extern const char smp_tramp_start[], smp_tramp_end[];
extern const char smp_tramp_cr3[], smp_tramp_cpu[], smp_tramp_entry[];
extern const char ap_start64[];
extern char kstacks[], kstacks_end[], istacks[], ustacks[], ustacks_end[];

/* Where a trampoline variable lives once the trampoline is copied to TRAMP_BASE. */
#define TRAMP_VAR(sym) ((volatile void *)(uintptr_t)(TRAMP_BASE + ((sym) - smp_tramp_start)))

static void wake_handler(struct intr_frame *f, void *arg)
{
	/* Nothing to do: the interrupt itself ends the AP's hlt. */
}

void smp__init_bsp(void)
{
	cpus[0].apic_id = lapic__id();
	cpus[0].online = 1;
	intr__register(VEC_WAKE, wake_handler, NULL);
}

int smp__nr_online(void)
{
	int n = 0;

	for (int i = 0; i < GUEST_MAX_CPUS; i++)
		n += cpus[i].online != 0;
	return n;
}

int64_t smp__apic_id(int cpu)
{
	if (cpu < 0 || cpu >= GUEST_MAX_CPUS || !cpus[cpu].online)
		return -1;
	return cpus[cpu].apic_id;
}

static int stack_index(uintptr_t sp, const char *base, const char *end, unsigned size)
{
	if (sp <= (uintptr_t)base || sp > (uintptr_t)end)
		return -1;
	return (int)((sp - 1 - (uintptr_t)base) / size);
}

int smp__cpu_index(void)
{
	uintptr_t sp;
	int i;

	asm volatile("mov %%rsp, %0" : "=r"(sp));
	i = stack_index(sp, ustacks, ustacks_end, USTACK_SIZE);
	if (i < 0)
		i = stack_index(sp, kstacks, kstacks_end, KSTACK_SIZE);
	if (i < 0)
		i = stack_index(sp, istacks, istacks + GUEST_MAX_CPUS * ISTACK_SIZE, ISTACK_SIZE);
	return i;
}

static bool wait_online(int idx, unsigned ms)
{
	struct timeout t;

	timeout__start(&t, ms);
	while (!__atomic_load_n(&cpus[idx].online, __ATOMIC_ACQUIRE)) {
		if (timeout__expired(&t))
			return false;
		cpu_relax();
	}
	return true;
}

static bool start_one(int idx, uint32_t apic_id, unsigned ms)
{
	*(volatile uint32_t *)TRAMP_VAR(smp_tramp_cpu) = idx;
	barrier();
	lapic__send_icr(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	/*
	 * The SDM's 10 ms INIT-to-SIPI and 200 us SIPI-to-SIPI delays are for real hardware; KVM latches
	 * INIT and SIPI and processes them in order. A second SIPI goes out only if the first was lost.
	 */
	lapic__send_icr(apic_id, ICR_STARTUP | ICR_ASSERT | (TRAMP_BASE >> 12));
	if (wait_online(idx, ms / 10 ? ms / 10 : 1))
		return true;
	lapic__send_icr(apic_id, ICR_STARTUP | ICR_ASSERT | (TRAMP_BASE >> 12));
	return wait_online(idx, ms);
}

int smp__start_aps(unsigned ms_each)
{
	int next = 1;

	/* Trampoline page: code, then the variables every AP reads. */
	memcpy((void *)(uintptr_t)TRAMP_BASE, smp_tramp_start, smp_tramp_end - smp_tramp_start);
	*(volatile uint32_t *)TRAMP_VAR(smp_tramp_cr3) = (uint32_t)boot_cr3;
	*(volatile uint64_t *)TRAMP_VAR(smp_tramp_entry) = (uintptr_t)ap_start64;

	for (int i = 0; i < platform.ncpus && next < GUEST_MAX_CPUS; i++) {
		uint32_t id = platform.cpu_apic_id[i];
		bool running = false;

		for (int c = 0; c < next; c++)
			if (cpus[c].online && cpus[c].apic_id == id)
				running = true;
		if (running)
			continue;
		if (start_one(next, id, ms_each))
			next++;
		else
			printf("guest: CPU with LAPIC ID %u did not start\n", id);
	}
	return smp__nr_online();
}

int smp__run_on(int cpu, smp_fn_t fn, void *arg)
{
	struct cpu_slot *s;

	if (cpu <= 0 || cpu >= GUEST_MAX_CPUS || !cpus[cpu].online)
		return -1;
	s = &cpus[cpu];
	if (s->done_seq != s->req_seq)
		return -1;
	s->fn = fn;
	s->arg = arg;
	__atomic_store_n(&s->req_seq, s->req_seq + 1, __ATOMIC_RELEASE);
	lapic__send_ipi(s->apic_id, VEC_WAKE);
	return 0;
}

bool smp__wait_idle(int cpu, unsigned ms)
{
	struct timeout t;

	if (cpu <= 0 || cpu >= GUEST_MAX_CPUS)
		return false;
	timeout__start(&t, ms);
	while (__atomic_load_n(&cpus[cpu].done_seq, __ATOMIC_ACQUIRE) != cpus[cpu].req_seq) {
		if (timeout__expired(&t))
			return false;
		cpu_relax();
	}
	return true;
}

void smp__ap_main(unsigned idx)
{
	struct cpu_slot *s = &cpus[idx];

	lapic__init();
	s->apic_id = lapic__id();
	__atomic_store_n(&s->online, 1, __ATOMIC_RELEASE);
	for (;;) {
		uint32_t req = __atomic_load_n(&s->req_seq, __ATOMIC_ACQUIRE);

		if (req != s->done_seq) {
			s->fn((int)idx, s->arg);
			__atomic_store_n(&s->done_seq, req, __ATOMIC_RELEASE);
			continue;
		}
		sys__wait(&s->req_seq, req);
	}
}
