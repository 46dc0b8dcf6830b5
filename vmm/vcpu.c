#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/boot.h"
#include "vmm/log.h"
#include "vmm/stats.h"
#include "vmm/sys.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MISC_ENABLE_FAST_STRING BIT(0)

/* The vCPU running on this thread, so the kick signal handler can set immediate_exit. */
static __thread struct vcpu *this_vcpu;

static void vcpu__kick_handler(int sig)
{
	if (this_vcpu)
		this_vcpu->run->immediate_exit = 1;
}

int vcpu__init(struct vcpu *vcpu, struct vm *vm, int id, int ncpus)
{
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = -1;
	ret = sys__kvm_create_vcpu(vm->vm_fd, id);
	if (ret < 0) {
		pr_err("creating vCPU %d: %s: %s", id, sys__last_ioctl(), strerror(-ret));
		return ret;
	}
	vcpu->fd = ret;
	vcpu->run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		vcpu->run = NULL;
		pr_err("vCPU %d: mmap of kvm_run: %s", id, strerror(errno));
		return ret;
	}
	return cpuid__setup(vcpu, ncpus);
}

void vcpu__exit(struct vcpu *vcpu)
{
	if (vcpu->exits)
		pr_info("vcpu%d: stats: %llu exits to minivmm (%llu MMIO, %llu port I/O)", vcpu->id,
			(unsigned long long)vcpu->exits, (unsigned long long)vcpu->exits_mmio,
			(unsigned long long)vcpu->exits_io);
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->vcpu_mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
}

static void seg64(struct kvm_segment *s, uint16_t sel, bool code)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xFFFFFFFF, .selector = sel, .present = 1, .dpl = 0, .s = 1, .g = 1,
		.type = code ? 0xB : 0x3,	/* execute/read accessed; read/write accessed */
		.l = code, .db = !code,
	};
}

int vcpu__setup_boot(struct vcpu *vcpu, const struct boot_entry *entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 0x2, .rip = entry->rip, .rsi = entry->rsi, .rsp = entry->rsp };
	struct kvm_fpu fpu = { .fcw = 0x37F, .mxcsr = 0x1F80 };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} msrs = { .hdr.nmsrs = 1, .e[0] = { .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING } };
	int ret;

	ret = sys__kvm_get_sregs(vcpu->fd, &sregs);
	if (ret < 0)
		goto fail;
	seg64(&sregs.cs, 0x10, true);
	seg64(&sregs.ds, 0x18, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = entry->gdt_base;
	sregs.gdt.limit = entry->gdt_limit;
	sregs.cr3 = entry->cr3;
	sregs.cr4 = BIT(5);					/* PAE */
	sregs.cr0 = BIT(0) | BIT(1) | BIT(4) | BIT(5) | BIT(16) | BIT(18) | BIT(31); /* PE MP ET NE WP AM PG */
	sregs.efer = BIT(8) | BIT(10);				/* LME LMA */
	ret = sys__kvm_set_sregs(vcpu->fd, &sregs);
	if (ret < 0)
		goto fail;
	ret = sys__kvm_set_regs(vcpu->fd, &regs);
	if (ret < 0)
		goto fail;
	ret = sys__kvm_set_fpu(vcpu->fd, &fpu);
	if (ret < 0)
		goto fail;
	ret = sys__kvm_set_msrs(vcpu->fd, &msrs.hdr);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	pr_err("vCPU %d: setting the boot state: %s: %s", vcpu->id, sys__last_ioctl(), strerror(-ret));
	return ret;
}

static void vcpu__crash(struct vcpu *vcpu, const char *what)
{
	struct kvm_regs regs;
	char reason[160];

	if (sys__kvm_get_regs(vcpu->fd, &regs) == 0)
		snprintf(reason, sizeof(reason), "vCPU %d: %s (RIP 0x%llx)", vcpu->id, what,
			 (unsigned long long)regs.rip);
	else
		snprintf(reason, sizeof(reason), "vCPU %d: %s", vcpu->id, what);
	vcpu->vm->stop(vcpu->vm, VMM_EXIT_CRASH, reason);
}

static void vcpu__handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		bus__access(&vcpu->vm->pio, run->io.port, data, run->io.size, run->io.direction == KVM_EXIT_IO_OUT);
}

static void vcpu__handle_system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vcpu->vm->stop(vcpu->vm, VMM_EXIT_POWEROFF, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vcpu->vm->stop(vcpu->vm, VMM_EXIT_RESET, "guest reset");
		break;
	default:
		vcpu__crash(vcpu, "guest crash (system event)");
		break;
	}
}

/* Handle one exit from KVM_RUN. Returns false when the vCPU must stop. */
static bool vcpu__handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[96];

	vcpu->exits++;
	stats__vcpu_exit();
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu->exits_io++;
		vcpu__handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu->exits_mmio++;
		bus__access(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len, run->mmio.is_write);
		return true;
	case KVM_EXIT_IOAPIC_EOI:	/* split irqchip: a level-triggered IOAPIC vector was EOI'd */
		irq__eoi(vcpu->vm, run->eoi.vector);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT:	/* only without an in-kernel LAPIC; nothing to do */
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu__crash(vcpu, "triple fault");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu__handle_system_event(vcpu);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "entry failed (hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu__crash(vcpu, what);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error (suberror %u)", run->internal.suberror);
		vcpu__crash(vcpu, what);
		return false;
	default:
		snprintf(what, sizeof(what), "unexpected exit reason %u", run->exit_reason);
		vcpu__crash(vcpu, what);
		return false;
	}
}

static void *vcpu__thread(void *arg)
{
	struct vcpu *vcpu = arg;
	char name[16];

	this_vcpu = vcpu;
	snprintf(name, sizeof(name), "vcpu%d", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	while (!vcpu->vm->stopping) {
		int ret = sys__kvm_run(vcpu->fd);

		if (ret < 0) {
			if (ret == -EINTR || ret == -EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			char what[96];
			/* A host ioctl failure, not a guest crash: VMM_EXIT_ERROR. */
			snprintf(what, sizeof(what), "vCPU %d: KVM_RUN: %s", vcpu->id, strerror(-ret));
			vcpu->vm->stop(vcpu->vm, VMM_EXIT_ERROR, what);
			break;
		}
		if (!vcpu__handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu__start(struct vcpu *vcpu)
{
	static bool handler_installed;
	int ret;

	if (!handler_installed) {
		struct sigaction sa = { .sa_handler = vcpu__kick_handler };
		sigemptyset(&sa.sa_mask);
		sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
		handler_installed = true;
	}
	ret = pthread_create(&vcpu->thread, NULL, vcpu__thread, vcpu);
	if (ret) {
		pr_err("vCPU %d: cannot start its thread: %s", vcpu->id, strerror(ret));
		return -ret;
	}
	return 0;
}

void vcpu__kick(struct vcpu *vcpu)
{
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}
