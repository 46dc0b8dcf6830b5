/* Reporting an unexpected exception: one line on the serial port, then a failing test-exit. */
#include "guest.h"

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
	"#UD invalid opcode", "#NM no math coprocessor", "#DF double fault", "coprocessor overrun",
	"#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check", "#MC machine check",
	"#XM SIMD exception", "#VE virtualization", "#CP control protection",
};

static uint64_t read_cr2(void)
{
	uint64_t v;

	asm volatile("mov %%cr2, %0" : "=r"(v));	/* runs at CPL0 */
	return v;
}

void exception__report(const struct intr_frame *f)
{
	unsigned v = f->vector & 0xff;
	const char *name = v < 32 && exception_names[v] ? exception_names[v] : "exception";

	kprintf("\nguest: unexpected exception %u (%s) on cpu %d at rip=0x%lx error=0x%lx\n", v, name,
		smp__cpu_index(), f->rip, f->error_code);
	kprintf("guest:   cs=0x%lx rflags=0x%lx rsp=0x%lx ss=0x%lx cr2=0x%lx\n", f->cs, f->rflags, f->rsp,
		f->ss, read_cr2());
	kprintf("guest:   rax=0x%lx rbx=0x%lx rcx=0x%lx rdx=0x%lx rsi=0x%lx rdi=0x%lx\n", f->rax, f->rbx,
		f->rcx, f->rdx, f->rsi, f->rdi);
	outl(platform.test_exit_port, GUEST_EXIT_EXCEPTION);
	/* No test-exit device: stop here (CPL0, so plain cli; hlt). */
	for (;;)
		asm volatile("cli; hlt");
}
