/* The devices of the minivmm machine, registered explicitly in one place (kvmtool style). */
#include "machine/devices.h"

#include <errno.h>
#include <string.h>

#include "acpi/acpi.h"
#include "devices/acpi-pm.h"
#include "devices/dma-engine.h"
#include "devices/pci-host.h"
#include "devices/reset.h"
#include "devices/serial.h"
#include "devices/test-exit.h"
#include "devices/vfio/vfio-pci.h"
#include "devices/ioapic.h"
#include "iommu/vtd.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "machine/machine.h"
#include "machine/virtio.h"
#include "vmm/util.h"

/* --dma-engine: one machine per process, so the device lives here rather than in struct machine. */

/* Port 0x80: POST codes. Guest programs write one as their first instruction (see vmm/stats.h). */
#define PORT_POST_CODE 0x80

static void post_code_io(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	if (!is_write)
		memset(data, 0xff, len);
}

static void machine__vtd_msi(void *opaque, uint64_t addr, uint32_t data)
{
	pr_debug("vtd: MSI %#llx data %#x", (unsigned long long)addr, data);
	irq__send_msi(opaque, addr, data);
}

static int machine__remap_msi(void *opaque, uint16_t sid, uint64_t *addr, uint32_t *data, bool record)
{
	return vtd__remap_msi(opaque, sid, addr, data, record);
}

static void machine__ir_changed(void *opaque)
{
	irq__remap_changed(opaque);
}

/* --viommu flts: one VT-d unit in front of every PCI function, remapping their interrupts (ir=on). */
static int machine__viommu_init(struct machine *m)
{
	struct vm *vm = &m->vm;
	struct vtd_options opt = { .fs1gp = m->cfg->viommu.fs1gp, .slts = m->cfg->viommu.slts,
				   .nested = m->cfg->viommu.nested, .ir = m->cfg->viommu.ir };

	m->vtd = vtd__create(&vm->mem, &opt, machine__vtd_msi, vm);
	if (!m->vtd) {
		pr_err("cannot create the virtual VT-d unit: %s", strerror(errno));
		return VMM_EXIT_ERROR;
	}
	if (bus__register(&vm->mmio, LAYOUT_VTD_BASE, LAYOUT_VTD_SIZE, vtd__mmio, m->vtd, "vtd")) {
		pr_err("cannot register the virtual VT-d unit at %#llx", LAYOUT_VTD_BASE);
		return VMM_EXIT_ERROR;
	}
	pci_host__set_translator(m->pci, vtd__translator(m->vtd));
	if (opt.ir) {
		vtd__set_ir_notify(m->vtd, machine__ir_changed, vm);
		irq__set_remapper(vm, machine__remap_msi, m->vtd);
	}
	return 0;
}

/* --vfio: host functions passed through (opened by machine__init), after the vIOMMU they may have to join. */
static int machine__vfio_init(struct machine *m)
{
	char err[512];

	if (!m->cfg->nvfio)
		return 0;
	m->vfio_host = vfio_host__create(&m->vm, m->pci, m->vtd, m->cfg->iommu_path);
	if (!m->vfio_host)
		return VMM_EXIT_ERROR;
	for (int i = 0; i < m->cfg->nvfio; i++) {
		if (vfio_pci__create(m->vfio_host, &m->vfio_dev[i], &m->vfio[i], err, sizeof(err))) {
			machine__device_error(m, err);
			return VMM_EXIT_ERROR;
		}
	}
	return 0;
}

int machine_devices__init(struct machine *m)
{
	struct vm *vm = &m->vm;
	int ret;

	if (vm->irq.split && !(m->ioapic = ioapic__init(vm)))
		return VMM_EXIT_ERROR;
	m->serial = serial__init(vm, m->serial_fd);
	m->reset = reset__init(vm);
	m->pm = acpi_pm__init(vm);
	m->test_exit = test_exit__init(vm);
	m->pci = pci_host__init(vm);
	if (!m->serial || !m->reset || !m->pm || !m->test_exit || !m->pci)
		return VMM_EXIT_ERROR;
	if (bus__register(&vm->pio, PORT_POST_CODE, 1, post_code_io, NULL, "post-code")) {
		pr_err("cannot register the POST-code port");
		return VMM_EXIT_ERROR;
	}
	if (m->cfg->viommu.enabled && machine__viommu_init(m))
		return VMM_EXIT_ERROR;
	if (m->cfg->dma_engine && !(m->dma_engine = dma_engine__create(m->pci)))
		return VMM_EXIT_ERROR;
	ret = machine_virtio__init(m);
	if (!ret)
		ret = machine__vfio_init(m);
	if (ret)
		return ret;
	/* The VMM is the firmware: give every BAR an address before the guest runs. */
	if (pci_host__assign_resources(m->pci)) {
		pr_err("the PCI devices' BARs do not fit in the PCI windows");
		return VMM_EXIT_USAGE;
	}
	return 0;
}

void machine_devices__exit(struct machine *m)
{
	dma_engine__destroy(m->dma_engine);
	m->dma_engine = NULL;
	machine_virtio__exit(m);	/* before the host: the devices release their INTx lines through it */
	for (int i = 0; i < VMM_MAX_VFIO; i++) {
		vfio_pci__destroy(m->vfio[i]);
		m->vfio[i] = NULL;
	}
	vfio_host__destroy(m->vfio_host);
	m->vfio_host = NULL;
	for (int i = 0; i < VMM_MAX_VFIO; i++)
		vfio__close(&m->vfio_dev[i]);	/* opened but never handed to a device */
	if (m->pci)
		pci_host__exit(m->pci);
	if (m->vtd) {
		irq__set_remapper(&m->vm, NULL, NULL);
		vtd__destroy(m->vtd);
	}
	ioapic__exit(m->ioapic);
	m->ioapic = NULL;
	if (m->test_exit)
		test_exit__exit(m->test_exit);
	if (m->pm)
		acpi_pm__exit(m->pm);
	if (m->reset)
		reset__exit(m->reset);
	if (m->serial)
		serial__exit(m->serial);
}

void machine_devices__acpi_config(const struct machine *m, struct acpi_config *cfg)
{
	struct pci_fn_info fns[ACPI_MAX_DMAR_SCOPES];
	struct pci_windows w;
	int n;

	memset(cfg, 0, sizeof(*cfg));
	cfg->ncpus = m->cfg->ncpus;
	cfg->lapic_addr = LAYOUT_LAPIC_BASE;
	cfg->ioapic_addr = LAYOUT_IOAPIC_BASE;
	cfg->ioapic_id = IOAPIC_ID;
	cfg->ecam_base = LAYOUT_PCI_ECAM_BASE;
	cfg->ecam_last_bus = PCI_HOST_LAST_BUS;
	pci_host__windows(m->pci, &w);
	cfg->mmio32_base = w.mmio32_base;
	cfg->mmio32_size = w.mmio32_size;
	cfg->mmio64_base = w.mmio64_base;
	cfg->mmio64_size = w.mmio64_size;
	cfg->pio_base = w.io_base;
	cfg->pio_size = w.io_size;
	cfg->pm_base = PORT_ACPI_PM_BASE;
	cfg->sci_irq = ACPI_SCI_IRQ;
	cfg->reset_port = PORT_RESET_CTRL;
	cfg->com1_port = PORT_COM1;
	cfg->com1_irq = IRQ_COM1;
	cfg->dmar = m->vtd != NULL;
	cfg->intr_remap = m->vtd && m->cfg->viommu.ir;
	cfg->no_pic = m->vm.irq.split;
	cfg->ioapic_sid = IOAPIC_SID;
	cfg->haw = VTD_HOST_ADDR_WIDTH;
	cfg->dmar_base = LAYOUT_VTD_BASE;
	/*
	 * DRHD device scopes: every PCI function, the host bridge included (as QEMU does). Linux ignores a
	 * unit whose scopes name no PCI device (IOAPIC scopes do not count), and a machine with no other
	 * device would then run without its IOMMU.
	 */
	n = machine_devices__pci_list(m, fns, ACPI_MAX_DMAR_SCOPES);
	for (int i = 0; i < n; i++)
		cfg->scopes[cfg->nr_scopes++] = (uint16_t)fns[i].bus << 8 | fns[i].devfn;
}

size_t machine_devices__console_input(struct machine *m, const uint8_t *buf, size_t n)
{
	return serial__input(m->serial, buf, n);
}

struct pci_list_ctx {
	struct pci_fn_info *out;
	int n, max;
};

static int pci_list_one(struct pci_device *dev, void *arg)
{
	struct pci_list_ctx *c = arg;

	if (c->n < c->max)
		c->out[c->n++] = (struct pci_fn_info){
			.bus = dev->bus, .devfn = dev->devfn,
			.vendor = pci__cfg_get(dev, PCI_VENDOR_ID, 2),
			.device = pci__cfg_get(dev, PCI_DEVICE_ID, 2),
			.class_code = pci__cfg_get(dev, PCI_CLASS_REVISION, 4) >> 8,
		};
	return 0;
}

int machine_devices__pci_list(const struct machine *m, struct pci_fn_info *out, int max)
{
	struct pci_list_ctx c = { out, 0, max };

	pci_host__for_each(m->pci, pci_list_one, &c);
	return c.n;
}

void machine_devices__console_on_ready(struct machine *m, void (*fn)(void *opaque), void *opaque)
{
	serial__set_rx_ready(m->serial, fn, opaque);
}
