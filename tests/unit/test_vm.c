/*
 * Tier 1: the VM object (vmm/vm.c) and the interrupt router (vmm/irq.c) on the fake host
 * (tests/unit/fake_kvm.h): host failures give one clear line naming the ioctl, never a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "fake_kvm.h"
#include "vmm/layout.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* stderr goes to a temporary file while @fn runs; its text is returned (static buffer). */
static char captured[4096];

static bool split_next;	/* the next init_capturing() asks for the split irqchip (interrupt remapping) */

static int init_capturing(struct vm *vm, const char *dev, uint64_t mem)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), ret;
	size_t n;

	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	ret = vm__init(vm, mem);
	vm->irq.split = split_next;
	if (!ret && (ret = vm__attach_kvm(vm, dev)))
		vm__exit(vm);	/* a failed attach leaves the offline object to its owner */
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(captured, 1, sizeof(captured) - 1, tmp);
	captured[n] = 0;
	fclose(tmp);
	return ret;
}

/* CPUID topology: one package of @ncpus cores, one thread each, on Intel and AMD leaves alike. */
START_TEST(cpuid_topology)
{
	struct kvm_cpuid_entry2 l1 = { .function = 1, .ebx = 0xABCD }, b0 = { .function = 0xB, .index = 0 },
		b1 = { .function = 0xB, .index = 1 }, a8 = { .function = 0x80000008, .ecx = 0xFFFF0F00 },
		ae = { .function = 0x8000001E, .eax = 7, .ebx = 0xFFFF, .ecx = 0xFFFF };

	cpuid__adjust(&l1, 3, 4);
	ck_assert_uint_eq(l1.ebx, 3u << 24 | 4u << 16 | 0xABCD);
	ck_assert(l1.ecx & (1u << 31));		/* hypervisor */
	cpuid__adjust(&b0, 3, 4);
	cpuid__adjust(&b1, 3, 4);
	ck_assert_uint_eq(b0.edx, 3);
	ck_assert_uint_eq(b0.ebx, 1);
	ck_assert_uint_eq(b1.eax, 2);		/* 4 cores: 2 APIC ID bits */
	ck_assert_uint_eq(b1.ebx, 4);
	cpuid__adjust(&a8, 3, 4);
	ck_assert_uint_eq(a8.ecx & 0xFF, 3);	/* NC: 4 threads in the package */
	ck_assert_uint_eq((a8.ecx >> 12) & 0xF, 2);
	ck_assert_uint_eq(a8.ecx & 0xFFFF0000, 0xFFFF0000);	/* other bits kept */
	cpuid__adjust(&ae, 3, 4);
	ck_assert_uint_eq(ae.eax, 3);		/* extended APIC ID = the vCPU's */
	ck_assert_uint_eq(ae.ebx, 3);		/* core 3, one thread per core */
	ck_assert_uint_eq(ae.ecx, 0);		/* node 0 of 1 */
	cpuid__adjust(&a8, 0, 1);
	ck_assert_uint_eq(a8.ecx & 0xF0FF, 0);
}
END_TEST

START_TEST(init_on_a_capable_host)
{
	struct vm vm;

	fake_kvm__reset();
	ck_assert_int_eq(init_capturing(&vm, "/dev/null", 64 << 20), 0);
	ck_assert_int_eq(vm.vm_fd, FAKE_KVM_VM_FD);
	ck_assert_uint_eq(vm.mem.ram_size, 64 << 20);
	/*
	 * Default routes: GSI 0-15 to a PIC, every GSI but the cascade (2) to the IOAPIC, and the PIT's
	 * GSI 0 on IOAPIC pin 2 as the MADT override says.
	 */
	ck_assert_uint_eq(fake_kvm.nr_routing_sets, 1);
	ck_assert_uint_eq(fake_kvm.nr_routes, 16 + IOAPIC_PINS - 1);
	for (unsigned i = 0; i < fake_kvm.nr_routes; i++) {
		const struct kvm_irq_routing_entry *e = &fake_kvm.routes[i];
		if (e->u.irqchip.irqchip != KVM_IRQCHIP_IOAPIC)
			continue;
		ck_assert_uint_ne(e->gsi, 2);
		ck_assert_uint_eq(e->u.irqchip.pin, e->gsi ? e->gsi : 2);
	}
	ck_assert_str_eq(captured, "");
	vm.kvm_fd = vm.vm_fd = -1; /* fake descriptors: nothing to close */
	vm__exit(&vm);
}
END_TEST

START_TEST(errors_name_the_ioctl)
{
	struct vm vm;

	fake_kvm__reset();
	fake_kvm__fail(KVM_CREATE_VM, ENOMEM);
	ck_assert_int_eq(init_capturing(&vm, "/dev/null", 64 << 20), -ENOMEM);
	ck_assert_msg(strstr(captured, "creating the VM: KVM_CREATE_VM: Cannot allocate memory"), "%s", captured);

	fake_kvm__reset();
	fake_kvm__fail(KVM_CREATE_IRQCHIP, EEXIST);
	ck_assert_int_eq(init_capturing(&vm, "/dev/null", 64 << 20), -EEXIST);
	ck_assert_msg(strstr(captured, "KVM_CREATE_IRQCHIP: File exists"), "%s", captured);

	fake_kvm__reset();
	fake_kvm__fail(KVM_SET_USER_MEMORY_REGION, EINVAL);
	ck_assert_int_eq(init_capturing(&vm, "/dev/null", 64 << 20), -EINVAL);
	ck_assert_msg(strstr(captured, "mapping guest RAM: KVM_SET_USER_MEMORY_REGION"), "%s", captured);

	fake_kvm__reset();
	fake_kvm__fail(KVM_SET_GSI_ROUTING, EINVAL);
	ck_assert_int_lt(init_capturing(&vm, "/dev/null", 64 << 20), 0);
	ck_assert_msg(strstr(captured, "KVM_SET_GSI_ROUTING"), "%s", captured);
}
END_TEST

START_TEST(host_checks)
{
	struct vm vm;

	fake_kvm__reset();
	fake_kvm__answer(KVM_GET_API_VERSION, 11);
	ck_assert_int_eq(init_capturing(&vm, "/dev/null", 64 << 20), -EINVAL);
	ck_assert_msg(strstr(captured, "KVM API version 11, minivmm needs 12"), "%s", captured);

	fake_kvm__reset();
	fake_kvm__answer(KVM_CHECK_EXTENSION, 0);
	ck_assert_int_eq(init_capturing(&vm, "/dev/null", 64 << 20), -EOPNOTSUPP);
	ck_assert_msg(strstr(captured, "the host KVM lacks KVM_CAP_IRQCHIP"), "%s", captured);

	fake_kvm__reset();
	ck_assert_int_eq(init_capturing(&vm, "/nonexistent/kvm", 64 << 20), -ENOENT);
	ck_assert_msg(strstr(captured, "cannot open /nonexistent/kvm: No such file or directory (is the kvm module loaded?)"),
		      "%s", captured);
}
END_TEST

/*
 * The split irqchip (interrupt remapping): no KVM irqchip routes, lines go to the userspace IOAPIC's
 * hook, and a host without KVM_CAP_SPLIT_IRQCHIP gets a sentence with the way out.
 */
static unsigned hooked_pin;
static int hooked_level = -1;

static void hook_line(void *opaque, unsigned pin, int level)
{
	hooked_pin = pin;
	hooked_level = level;
}

static void hook_eoi(void *opaque, uint8_t vector)
{
	hooked_pin = 100 + vector;
}

START_TEST(split_irqchip)
{
	static const struct irq_ioapic_ops ops = { .set_line = hook_line, .eoi = hook_eoi };
	struct vm vm;

	fake_kvm__reset();
	split_next = true;
	ck_assert_int_eq(init_capturing(&vm, "/dev/null", 64 << 20), 0);
	ck_assert_uint_eq(fake_kvm.nr_routes, 0);		/* no PIC/IOAPIC routes in KVM */
	ck_assert_int_eq(irq__set_line(&vm, 4, 1), -EINVAL);	/* no IOAPIC yet */
	irq__set_ioapic(&vm, &ops, NULL);
	ck_assert_int_eq(irq__set_line(&vm, 4, 1), 0);
	ck_assert_uint_eq(hooked_pin, 4);
	ck_assert_int_eq(hooked_level, 1);
	ck_assert_int_eq(fake_kvm__line_calls(4), 0);		/* nothing went to KVM_IRQ_LINE */
	irq__eoi(&vm, 0x33);
	ck_assert_uint_eq(hooked_pin, 100 + 0x33);
	/* A pin's level-triggered message for KVM's EOI exits, on GSI = pin. */
	ck_assert_int_eq(irq__set_pin_route(&vm, 9, 0xFF00, 0xFEE00000, 0xC031, true), 0);
	ck_assert_uint_eq(fake_kvm.nr_routes, 1);
	ck_assert_uint_eq(fake_kvm.routes[0].gsi, 9);
	ck_assert_int_eq(irq__set_pin_route(&vm, 9, 0xFF00, 0, 0, false), 0);
	ck_assert_uint_eq(fake_kvm.nr_routes, 0);
	/* x2APIC destinations (address bits 63:40) are deliverable on the split irqchip. */
	ck_assert_int_eq(irq__send_msi(&vm, 0xFEE00000ULL | 1ULL << 40, 0x30), 0);
	ck_assert_int_eq(irq__send_msi(&vm, 0xFEE00000ULL | 1ULL << 32, 0x30), -EINVAL);
	vm__exit(&vm);

	fake_kvm__reset();
	fake_kvm__fail(KVM_ENABLE_CAP, EINVAL);
	ck_assert_int_eq(init_capturing(&vm, "/dev/null", 64 << 20), -EINVAL);
	ck_assert_msg(strstr(captured, "interrupt remapping needs the IOAPIC in minivmm (KVM_CAP_SPLIT_IRQCHIP)") &&
		      strstr(captured, "--viommu MODE,ir=off"), "%s", captured);
	split_next = false;
}
END_TEST

START_TEST(msi_routes_and_lines)
{
	struct vm *vm = fake_vm__new(16 << 20);
	int gsi;

	gsi = irq__add_msi_route(vm, 0x10, 0xfee00000, 0x4041);
	ck_assert_int_eq(gsi, IOAPIC_PINS);
	ck_assert_uint_eq(fake_kvm.nr_routes, 16 + IOAPIC_PINS - 1 + 1);
	ck_assert_uint_eq(fake_kvm.routes[fake_kvm.nr_routes - 1].u.msi.data, 0x4041);
	ck_assert_int_eq(irq__update_msi_route(vm, gsi, 0xfee01000, 0x42), 0);
	ck_assert_uint_eq(fake_kvm.routes[fake_kvm.nr_routes - 1].u.msi.address_lo, 0xfee01000);
	ck_assert_int_eq(irq__update_msi_route(vm, 3, 0xfee00000, 1), -ENOENT); /* not an MSI route */
	ck_assert_int_eq(irq__irqfd(vm, gsi, 7, true), 0);
	ck_assert_uint_eq(fake_kvm.irqfds[0].gsi, (unsigned)gsi);
	/* A failed routing update leaves the table as it was. */
	fake_kvm__fail(KVM_SET_GSI_ROUTING, ENOMEM);
	ck_assert_int_eq(irq__add_msi_route(vm, 0x10, 0xfee00000, 1), -ENOMEM);
	fake_kvm__fail(0, 0);
	ck_assert_int_eq(irq__add_msi_route(vm, 0x10, 0xfee00000, 2), IOAPIC_PINS + 1);
	/* Lines and MSIs. */
	ck_assert_int_eq(irq__pulse(vm, 4), 0);
	ck_assert_int_eq(fake_kvm__level(4), 0);
	ck_assert_uint_eq(fake_kvm__line_calls(4), 2);
	ck_assert_int_eq(irq__send_msi(vm, 0xfee00000, 0x30), 0);
	ck_assert_uint_eq(fake_kvm.nr_msis, 1);
	ck_assert_int_eq(irq__send_msi(vm, 0xfed00000, 0x30), -EINVAL); /* outside the interrupt window */
	ck_assert_uint_eq(fake_kvm.nr_msis, 1);
	fake_vm__free(vm);
}
END_TEST

/*
 * The offline object (--dump-dtb without /dev/kvm): RAM, buses and router, and not one ioctl, whatever
 * the devices ask of it; attaching KVM later installs what was asked meanwhile.
 */
START_TEST(offline_then_attach)
{
	struct vm vm;
	int gsi, slot;

	fake_kvm__reset();
	ck_assert_int_eq(vm__init(&vm, 64 << 20), 0);
	ck_assert(vm__offline(&vm));
	ck_assert_int_eq(vm.kvm_fd, -1);
	ck_assert_uint_eq(vm.mem.ram_size, 64 << 20);
	ck_assert_ptr_nonnull(guest_mem__hva(&vm.mem, 0, 64 << 20));
	ck_assert_uint_eq(vm.irq.table->nr, 16 + IOAPIC_PINS - 1);
	gsi = irq__add_msi_route(&vm, 0x10, 0xfee00000, 0x4041);
	ck_assert_int_eq(gsi, IOAPIC_PINS);
	ck_assert_int_eq(irq__update_msi_route(&vm, gsi, 0xfee01000, 0x42), 0);
	ck_assert_int_eq(irq__irqfd(&vm, gsi, 7, true), 0);
	ck_assert_int_eq(irq__irqfd_resample(&vm, 5, 7, 8, true), 0);
	ck_assert_int_eq(irq__pulse(&vm, 4), 0);
	ck_assert_int_eq(irq__send_msi(&vm, 0xfee00000, 0x30), 0);
	ck_assert_int_eq(irq__send_msi(&vm, 0xfed00000, 0x30), -EINVAL);	/* still checked */
	slot = vm__add_slot(&vm, 0xc0000000, 0x1000, guest_mem__hva(&vm.mem, 0, 0x1000));
	ck_assert_int_eq(slot, VM_FIRST_DEVICE_SLOT);
	ck_assert_int_eq(vm__add_slot(&vm, 0xc0001000, 0x1000, guest_mem__hva(&vm.mem, 0, 0x1000)), slot + 1);
	vm__del_slot(&vm, slot);
	ck_assert_uint_eq(fake_kvm.nr_ioctls, 0);

	/* A failed attach leaves it offline and whole; the next one installs RAM and every route. */
	fake_kvm__fail(KVM_CREATE_IRQCHIP, EEXIST);
	ck_assert_int_eq(vm__attach_kvm(&vm, "/dev/null"), -EEXIST);
	ck_assert(vm__offline(&vm));
	ck_assert_int_eq(vm.kvm_fd, -1);
	ck_assert_uint_eq(vm.irq.table->nr, 16 + IOAPIC_PINS - 1 + 1);
	fake_kvm__reset();
	ck_assert_int_eq(vm__attach_kvm(&vm, "/dev/null"), 0);
	ck_assert(!vm__offline(&vm));
	ck_assert_uint_eq(fake_kvm.nr_memslots, 1);
	ck_assert_uint_eq(fake_kvm.memslots[0].memory_size, 64 << 20);
	ck_assert_uint_eq(fake_kvm.nr_routing_sets, 1);
	ck_assert_uint_eq(fake_kvm.nr_routes, 16 + IOAPIC_PINS - 1 + 1);
	ck_assert_uint_eq(fake_kvm.routes[fake_kvm.nr_routes - 1].gsi, (unsigned)gsi);
	ck_assert_uint_eq(fake_kvm.routes[fake_kvm.nr_routes - 1].u.msi.data, 0x42);
	close(vm.kvm_fd);
	vm.kvm_fd = vm.vm_fd = -1; /* the fake VM fd: nothing to close */
	vm__exit(&vm);
}
END_TEST

static Suite *vm_suite(void)
{
	Suite *s = suite_create("vm");
	TCase *tc = tcase_create("vm");

	tcase_add_test(tc, cpuid_topology);
	tcase_add_test(tc, init_on_a_capable_host);
	tcase_add_test(tc, errors_name_the_ioctl);
	tcase_add_test(tc, host_checks);
	tcase_add_test(tc, msi_routes_and_lines);
	tcase_add_test(tc, split_irqchip);
	tcase_add_test(tc, offline_then_attach);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(vm_suite)
