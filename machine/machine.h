/* The machine: builds the VM, its devices, firmware tables and boot state from a vmm_config, then runs it. */
#ifndef MINIVMM_MACHINE_H
#define MINIVMM_MACHINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "vmm/config.h"
#include "vmm/vcpu.h"
#include "vmm/vfio.h"
#include "vmm/vm.h"

struct serial;
struct reset_dev;
struct acpi_pm;
struct test_exit;
struct pci_host;
struct vtd;
struct dma_engine;
struct ioapic;
struct vfio_host;
struct vfio_pci;

struct machine {
	const struct vmm_config *cfg;
	struct vm vm;
	struct vcpu vcpus[VMM_MAX_CPUS];
	int ncpus;
	struct serial *serial;
	struct reset_dev *reset;
	struct acpi_pm *pm;
	struct test_exit *test_exit;
	struct pci_host *pci;
	struct vtd *vtd;		/* NULL with --viommu off */
	struct ioapic *ioapic;		/* the userspace IOAPIC of the split irqchip (interrupt remapping) */
	struct dma_engine *dma_engine;	/* --dma-engine */
	struct vfio_host *vfio_host;	/* --vfio: what the passthrough devices share */
	struct vfio_pci *vfio[VMM_MAX_VFIO];
	struct vfio_device vfio_dev[VMM_MAX_VFIO];	/* --vfio opened before the VM, until vfio[] takes them */
	void *dtb;
	size_t dtb_len;
	uint64_t rsdp;
	struct boot_entry entry;
	int serial_fd;			/* where COM1 output goes, -1 for none */
	int dump_fd;			/* --dump-dtb FILE, -1 without */
	bool dump_created;		/* FILE did not exist: removed again if the build fails */
	char device_err[512];		/* the last device's refusal, as printed (or, for a probe, not) */
	int input_wake;			/* eventfd: console can take input again, or the input thread must end */

	pthread_mutex_t lock;		/* protects the stop state below */
	pthread_cond_t cond;
	bool stopped;
	int status;
	char reason[160];
};

/*
 * Build everything. Returns 0, or the exit status to use (VMM_EXIT_USAGE for bad images or sizes,
 * VMM_EXIT_ERROR for host failures) after printing one line that says why, or -1 when --dump-dtb
 * has written the device tree (or, for a probe, when every device came up). Nothing runs yet. What needs
 * no VM (images, output files, --vfio devices) is checked before /dev/kvm is opened; --dump-dtb needs
 * no /dev/kvm at all, a probe never opens it.
 */
int machine__init(struct machine *m, const struct vmm_config *cfg);
/* A device could not be set up: remember @err for machine.device_err and print it (not for a probe). */
void machine__device_error(struct machine *m, const char *err);
/* Run until the guest stops the machine; returns the exit status. */
int machine__run(struct machine *m);
void machine__exit(struct machine *m);

#endif
