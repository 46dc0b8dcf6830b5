/*
 * Tier 1 helper: a fake KVM host for unit tests (linked into every unit test binary).
 *
 *	struct vm *vm = fake_vm__new(16 * MiB);	// also installs the fake and clears its records
 *	...exercise a device through bus__access(&vm->pio / &vm->mmio, ...)...
 *	ck_assert_int_eq(fake_kvm__level(4), 1);	// IRQ 4 was last driven high
 *	ck_assert_uint_eq(fake_kvm.nr_msis, 1);	// one KVM_SIGNAL_MSI: fake_kvm.msis[0].addr / .data
 *	ck_assert_uint_eq(fake_kvm.nr_stops, 1);	// vm->stop() was called: .stop_status / .stop_reason
 *	fake_vm__free(vm);
 *
 * The fake answers like a capable host (API version 12, every capability, KVM_CREATE_VM gives
 * FAKE_KVM_VM_FD, other ioctls 0) except the one fake_kvm__fail() or fake_kvm__answer() names, and records:
 *   KVM_IRQ_LINE		lines[] (gsi, level), in call order
 *   KVM_SIGNAL_MSI		msis[] (address, data)
 *   KVM_IRQFD			irqfds[] (fd, gsi, assign)
 *   KVM_SET_GSI_ROUTING	nr_routing_sets, and a copy of the last table in routes[]
 *   KVM_SET_USER_MEMORY_REGION	memslots[] (slot, gpa, size, hva), in call order
 * Counters keep counting past the array sizes; only the first entries are stored. The records are
 * guarded by fake_kvm.lock for tests that run device code on several threads; read them after joining.
 */
#ifndef MINIVMM_TESTS_FAKE_KVM_H
#define MINIVMM_TESTS_FAKE_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

#define FAKE_KVM_KVM_FD		1000	/* vm->kvm_fd of a fake VM: never a real descriptor */
#define FAKE_KVM_VM_FD		1001
#define FAKE_KVM_MAX_RECORDS	4096
#define FAKE_KVM_MAX_ROUTES	1024

struct fake_irq_line {
	unsigned gsi;
	int level;
};

struct fake_msi {
	uint64_t addr;
	uint32_t data;
};

struct fake_irqfd {
	int fd;
	unsigned gsi;
	bool assign;
	bool resample;		/* KVM_IRQFD_FLAG_RESAMPLE, with @resamplefd */
	int resamplefd;
};

struct fake_kvm {
	pthread_mutex_t lock;
	unsigned nr_ioctls;			/* every ioctl, failed ones included */
	unsigned nr_lines;
	struct fake_irq_line lines[FAKE_KVM_MAX_RECORDS];
	unsigned nr_msis;
	struct fake_msi msis[FAKE_KVM_MAX_RECORDS];
	unsigned nr_irqfds;
	struct fake_irqfd irqfds[256];
	unsigned nr_routing_sets;
	unsigned nr_routes;			/* entries in the last KVM_SET_GSI_ROUTING table */
	struct kvm_irq_routing_entry routes[FAKE_KVM_MAX_ROUTES];
	unsigned nr_memslots;			/* KVM_SET_USER_MEMORY_REGION calls */
	struct kvm_userspace_memory_region memslots[64];
	unsigned long fail_req;			/* this ioctl fails with fail_errno (0: none) */
	int fail_errno;
	unsigned long answer_req;		/* this ioctl returns answer_value (0: none) */
	int answer_value;
	/* vm->stop() of fake VMs */
	unsigned nr_stops;
	int stop_status;			/* of the last call */
	char stop_reason[256];
};

extern struct fake_kvm fake_kvm;

/* Install the fake as sys__ioctl_fn and clear every record and the failure setting. */
void fake_kvm__reset(void);
/* Make every later @req ioctl (e.g. KVM_SIGNAL_MSI) fail with @err (not EINTR); @req 0 stops that. */
void fake_kvm__fail(unsigned long req, int err);
/* Make every later @req ioctl return @value (e.g. KVM_CHECK_EXTENSION 0); @req 0 stops that. */
void fake_kvm__answer(unsigned long req, int value);
/* The level last driven on @gsi with KVM_IRQ_LINE, or -1 if never. */
int fake_kvm__level(unsigned gsi);
/* How many KVM_IRQ_LINE calls drove @gsi. */
unsigned fake_kvm__line_calls(unsigned gsi);

/*
 * A struct vm on the fake host: fake_kvm__reset(), then guest RAM of @mem_size bytes (0: none; else
 * at least 2 MiB, 4 KiB aligned), both buses, the interrupt router (irq__init, irq__attach_kvm through the fake) and a
 * stop() that records into fake_kvm. Aborts the test on failure.
 */
struct vm *fake_vm__new(uint64_t mem_size);
void fake_vm__free(struct vm *vm);

#endif
