/*
 * virtio-pci interrupts (virtio 1.2 §4.1.4.5, §4.1.5.4): MSI-X vectors delivered through irqfd, and
 * INTx with the ISR status when MSI-X is off.
 *
 * Each vector has an eventfd bound (KVM_IRQFD) to a GSI routed to the vector's message, so the I/O
 * thread raises an interrupt with one write(2) and no vCPU involvement. The route follows the guest:
 * the PCI base calls vector_changed() when an MSI-X entry, the function mask or bus mastering changes,
 * and the signal path checks the message again before every write, because KVM delivers an irqfd
 * whatever the MSI-X mask says. A vector that is not deliverable (masked, MSI-X off, bus mastering
 * off, or a message outside the interrupt window) goes through pci__notify(), which keeps the pending
 * bit (PCI Local Bus 3.0 §6.8.2.9) and sends the message on unmask. So does a vector whose message the
 * vIOMMU's interrupt remapping blocks, so that each of its interrupts records its fault.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "vmm/irq.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/util.h"

static bool msi_addr_ok(uint64_t addr)
{
	return addr - LAYOUT_MSI_BASE < LAYOUT_MSI_SIZE;
}

int virtio__irq_init(struct virtio_dev *vdev, unsigned nvec)
{
	vdev->vec = calloc(nvec, sizeof(*vdev->vec));
	if (!vdev->vec)
		return -ENOMEM;
	vdev->nvec = nvec;
	for (unsigned i = 0; i < nvec; i++) {
		vdev->vec[i].gsi = -1;
		vdev->vec[i].efd = -1;
	}
	for (unsigned i = 0; i < nvec; i++) {
		vdev->vec[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vdev->vec[i].efd < 0)
			return -errno;
	}
	return 0;
}

/* vec_lock held. */
static void vec_detach(struct virtio_dev *vdev, struct virtio_vec *v)
{
	if (!v->attached)
		return;
	irq__irqfd(vdev->pci.vm, v->gsi, v->efd, false);
	v->attached = false;
}

/* Make @v's irqfd deliver (@addr, @data). vec_lock held. False if it cannot: use pci__notify(). */
static bool vec_route(struct virtio_dev *vdev, struct virtio_vec *v, uint64_t addr, uint32_t data)
{
	struct vm *vm = vdev->pci.vm;

	if (!vm || !msi_addr_ok(addr)) {
		vec_detach(vdev, v);
		return false;
	}
	if (v->gsi < 0) {
		int gsi = irq__add_msi_route(vm, pci__sid(&vdev->pci), addr, data);

		if (gsi < 0)
			return false;
		v->gsi = gsi;
		v->addr = addr;
		v->data = data;
	} else if (v->addr != addr || v->data != data) {
		if (irq__update_msi_route(vm, v->gsi, addr, data)) {
			vec_detach(vdev, v);
			return false;
		}
		v->addr = addr;
		v->data = data;
	}
	if (!v->attached) {
		if (irq__irqfd(vm, v->gsi, v->efd, true))
			return false;
		v->attached = true;
	}
	/* Blocked by interrupt remapping: the direct path records the fault of every interrupt. */
	return !irq__route_blocked(vm, v->gsi);
}

void virtio__vector_changed(struct pci_device *dev, unsigned vector)
{
	struct virtio_dev *vdev = container_of(dev, struct virtio_dev, pci);
	uint64_t addr;
	uint32_t data;

	if (vector >= vdev->nvec)
		return;
	pthread_mutex_lock(&vdev->vec_lock);
	if (pci__vector_msg(dev, vector, &addr, &data) == 1)
		vec_route(vdev, &vdev->vec[vector], addr, data);
	else
		vec_detach(vdev, &vdev->vec[vector]);
	pthread_mutex_unlock(&vdev->vec_lock);
}

static void intx_raise(struct virtio_dev *vdev)
{
	pci__set_intx(&vdev->pci, true);
}

void virtio__signal(struct virtio_dev *vdev, uint16_t vector, uint8_t isr_bit)
{
	uint64_t addr;
	uint32_t data;
	int ret;

	pthread_mutex_lock(&vdev->lock);
	vdev->isr |= isr_bit;
	vdev->nr_irqs++;
	pthread_mutex_unlock(&vdev->lock);

	if (vector < vdev->nvec) {
		struct virtio_vec *v = &vdev->vec[vector];

		pthread_mutex_lock(&vdev->vec_lock);
		if (pci__vector_msg(&vdev->pci, vector, &addr, &data) == 1 && vec_route(vdev, v, addr, data)) {
			uint64_t one = 1;

			if (write(v->efd, &one, sizeof(one)) == sizeof(one)) {
				pthread_mutex_unlock(&vdev->vec_lock);
				return;
			}
		}
		pthread_mutex_unlock(&vdev->vec_lock);
	}
	/* Masked or no irqfd: the PCI base sends it or keeps it pending; INTx when MSI-X is off. */
	ret = pci__notify(&vdev->pci, vector);
	if (ret == PCI_NOTIFY_INTX)
		intx_raise(vdev);
}

void virtio__isr_read_clear(struct virtio_dev *vdev, uint8_t *val)
{
	/* §4.1.4.5.1: reading the ISR status resets it and deasserts INTx. */
	pthread_mutex_lock(&vdev->lock);
	*val = vdev->isr;
	vdev->isr = 0;
	pthread_mutex_unlock(&vdev->lock);
	pci__set_intx(&vdev->pci, false);
}

void virtio__irq_exit(struct virtio_dev *vdev)
{
	if (!vdev->vec)
		return;
	for (unsigned i = 0; i < vdev->nvec; i++) {
		vec_detach(vdev, &vdev->vec[i]);
		if (vdev->vec[i].efd >= 0)
			close(vdev->vec[i].efd);
	}
	free(vdev->vec);
	vdev->vec = NULL;
	vdev->nvec = 0;
}
