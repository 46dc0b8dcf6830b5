/* The devices of the minivmm machine, registered explicitly in one place (kvmtool style). */
#include "vmm/machine_devices.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "acpi/acpi.h"
#include "devices/acpi-pm.h"
#include "devices/reset.h"
#include "devices/serial.h"
#include "devices/test-exit.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/util.h"

/* Port 0x80: POST codes. Guest programs write one as their first instruction (see vmm/stats.h). */
#define PORT_POST_CODE 0x80

static void post_code_io(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	if (!is_write)
		memset(data, 0xff, len);
}

static int machine__serial_fd(struct machine *m)
{
	const struct vmm_config *cfg = m->cfg;
	int fd;

	switch (cfg->serial) {
	case SERIAL_STDIO:
		return STDOUT_FILENO;
	case SERIAL_FILE:
		fd = open(cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			pr_err("--serial file:%s: %s", cfg->serial_path, strerror(errno));
		return fd < 0 ? -2 : fd;
	case SERIAL_NONE:
	default:
		return -1;
	}
}

int machine_devices__init(struct machine *m)
{
	struct vm *vm = &m->vm;

	m->serial_fd = machine__serial_fd(m);
	if (m->serial_fd == -2)
		return VMM_EXIT_USAGE;
	m->serial = serial__init(vm, m->serial_fd);
	if (!m->serial || !reset__init(vm) || !acpi_pm__init(vm) || !test_exit__init(vm))
		return VMM_EXIT_ERROR;
	if (bus__register(&vm->pio, PORT_POST_CODE, 1, post_code_io, NULL, "post-code"))
		return VMM_EXIT_ERROR;
	return 0;
}

void machine_devices__exit(struct machine *m)
{
	if (m->serial)
		serial__exit(m->serial);
}

void machine_devices__acpi_config(const struct machine *m, struct acpi_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ncpus = m->cfg->ncpus;
	cfg->lapic_addr = LAYOUT_LAPIC_BASE;
	cfg->ioapic_addr = LAYOUT_IOAPIC_BASE;
	cfg->ioapic_id = IOAPIC_ID;
	cfg->ecam_base = LAYOUT_PCI_ECAM_BASE;
	cfg->ecam_last_bus = 0;
	cfg->mmio32_base = LAYOUT_PCI_MMIO32_BASE;
	cfg->mmio32_size = LAYOUT_PCI_MMIO32_SIZE;
	cfg->mmio64_base = ALIGN_UP(MAX(m->vm.mem.ram_end, LAYOUT_HIGHMEM_BASE), GiB);
	cfg->mmio64_size = LAYOUT_PCI_MMIO64_SIZE;
	cfg->pio_base = PORT_PCI_IO_BASE;
	cfg->pio_size = PORT_PCI_IO_SIZE;
	cfg->pm_base = PORT_ACPI_PM_BASE;
	cfg->sci_irq = ACPI_SCI_IRQ;
	cfg->reset_port = PORT_RESET_CTRL;
	cfg->com1_port = PORT_COM1;
	cfg->com1_irq = IRQ_COM1;
	cfg->dmar = m->vtd != NULL;
	cfg->haw = 48;
	cfg->dmar_base = LAYOUT_VTD_BASE;
}

size_t machine_devices__console_input(struct machine *m, const uint8_t *buf, size_t n)
{
	return serial__input(m->serial, buf, n);
}

int machine_devices__pci_list(const struct machine *m, struct pci_fn_info *out, int max)
{
	return 0;
}

void machine_devices__console_on_ready(struct machine *m, void (*fn)(void *opaque), void *opaque)
{
	serial__set_rx_ready(m->serial, fn, opaque);
}
