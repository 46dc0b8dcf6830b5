/*
 * Interrupts of a passthrough function: the guest programs minivmm's MSI-X (or MSI) capability; the
 * host function's vectors are enabled through VFIO_DEVICE_SET_IRQS with one eventfd each, for as long
 * as the guest has MSI-X (MSI) enabled. Otherwise the host's INTx is enabled (when the function has a
 * pin): VFIO signals and masks it, a level irqfd asserts the function's GSI in KVM, and the guest's EOI
 * comes back through KVM's resample eventfd as VFIO's unmask, so the line works as a level line without
 * an exit to minivmm.
 *
 * A vector the guest can receive now goes to KVM: its eventfd is an irqfd on a GSI routed to the
 * vector's message, so a host interrupt reaches the guest without leaving the kernel. A masked vector
 * (entry mask, function mask, bus mastering off) must not be delivered, and KVM would deliver an irqfd
 * whatever the mask says, so its eventfd is taken from KVM and watched by the device's poller thread,
 * which sets the pending bit through pci__notify(); the PCI base sends the message on unmask
 * (PCI Local Bus 3.0 §6.8.2.9). When KVM takes an eventfd back, a signal left in it is delivered at once
 * (KVM_IRQFD checks the eventfd when it is assigned).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/vfio/vfio-priv.h"
#include "vmm/irq.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/sys.h"
#include "vmm/util.h"

#define STOP_TOKEN UINT64_MAX

static void *poller(void *arg)
{
	struct vfio_pci *vp = arg;

	for (;;) {
		struct epoll_event ev[8];
		int n = epoll_wait(vp->epfd, ev, ARRAY_SIZE(ev), -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_err("vfio %s: interrupt poller: epoll_wait: %s; masked vectors no longer set their pending bits",
			       vp->dev.bdf, strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t v = ev[i].data.u64, cnt;

			if (v == STOP_TOKEN)
				return NULL;
			if (read(vp->vec[v].efd, &cnt, sizeof(cnt)) == sizeof(cnt))
				pci__notify(&vp->pci, v);
		}
	}
	return NULL;
}

int vfio_irq__init(struct vfio_pci *vp, unsigned nvec, bool intx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = STOP_TOKEN };

	if (intx) {
		vp->has_intx = true;
		vp->intx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vp->intx_unmask_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->intx_efd < 0 || vp->intx_unmask_efd < 0)
			return -errno;
	}
	vp->vec = calloc(nvec ? nvec : 1, sizeof(*vp->vec));
	if (!vp->vec)
		return -ENOMEM;
	vp->nvec = nvec;
	for (unsigned i = 0; i < nvec; i++)
		vp->vec[i] = (struct vfio_vec){ .efd = -1, .gsi = -1 };
	for (unsigned i = 0; i < nvec; i++) {
		vp->vec[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->vec[i].efd < 0)
			return -errno;
	}
	vp->epfd = epoll_create1(EPOLL_CLOEXEC);
	vp->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vp->epfd < 0 || vp->stop_efd < 0 || epoll_ctl(vp->epfd, EPOLL_CTL_ADD, vp->stop_efd, &ev))
		return -errno;
	if (pthread_create(&vp->poller, NULL, poller, vp))
		return -EAGAIN;
	vp->poller_started = true;
	return 0;
}

/* irq_lock held. */
static void vec_unpoll(struct vfio_pci *vp, unsigned v)
{
	if (vp->vec[v].polled)
		epoll_ctl(vp->epfd, EPOLL_CTL_DEL, vp->vec[v].efd, NULL);
	vp->vec[v].polled = false;
}

static void vec_poll(struct vfio_pci *vp, unsigned v)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = v };

	if (vp->vec[v].irqfd)
		irq__irqfd(vp->pci.vm, vp->vec[v].gsi, vp->vec[v].efd, false);
	vp->vec[v].irqfd = false;
	if (!vp->vec[v].polled && !epoll_ctl(vp->epfd, EPOLL_CTL_ADD, vp->vec[v].efd, &ev))
		vp->vec[v].polled = true;
}

/* Give vector @v to KVM with message (@addr, @data); false if that cannot be done. */
static bool vec_route(struct vfio_pci *vp, unsigned v, uint64_t addr, uint32_t data)
{
	struct vfio_vec *x = &vp->vec[v];
	struct vm *vm = vp->pci.vm;

	if (!vm || addr - LAYOUT_MSI_BASE >= LAYOUT_MSI_SIZE)
		return false;
	if (x->gsi < 0) {
		int gsi = irq__add_msi_route(vm, pci__sid(&vp->pci), addr, data);

		if (gsi < 0)
			return false;
		x->gsi = gsi;
	} else if ((x->addr != addr || x->data != data) && irq__update_msi_route(vm, x->gsi, addr, data)) {
		return false;
	}
	x->addr = addr;
	x->data = data;
	vec_unpoll(vp, v);
	if (!x->irqfd) {
		if (irq__irqfd(vm, x->gsi, x->efd, true))
			return false;
		x->irqfd = true;
	}
	return true;
}

static void vec_update(struct vfio_pci *vp, unsigned v)
{
	uint64_t addr;
	uint32_t data;

	if (pci__vector_msg(&vp->pci, v, &addr, &data) == 1 && vec_route(vp, v, addr, data))
		return;
	vec_poll(vp, v);
}

/* Which host interrupt the guest's capability state asks for. */
static unsigned wanted_index(struct vfio_pci *vp)
{
	struct pci_device *d = &vp->pci;

	if (d->msix_cap && (pci__cfg_get(d, d->msix_cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE))
		return VFIO_PCI_MSIX_IRQ_INDEX;
	if (d->msi_cap && (pci__cfg_get(d, d->msi_cap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE))
		return VFIO_PCI_MSI_IRQ_INDEX;
	if (vp->has_intx && d->intx_gsi >= 0 && d->vm)
		return VFIO_PCI_INTX_IRQ_INDEX;
	return VFIO_PCI_NUM_IRQS;
}

/* irq_lock held. */
static int intx_enable(struct vfio_pci *vp)
{
	struct vm *vm = vp->pci.vm;
	int ret;

	ret = vfio__set_irq_eventfds(&vp->dev, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &vp->intx_efd);
	if (ret)
		return ret;
	ret = irq__irqfd_resample(vm, vp->pci.intx_gsi, vp->intx_efd, vp->intx_unmask_efd, true);
	if (!ret)
		ret = vfio__set_irq_unmask_eventfd(&vp->dev, VFIO_PCI_INTX_IRQ_INDEX, vp->intx_unmask_efd);
	if (ret) {
		irq__irqfd_resample(vm, vp->pci.intx_gsi, vp->intx_efd, vp->intx_unmask_efd, false);
		vfio__disable_irqs(&vp->dev, VFIO_PCI_INTX_IRQ_INDEX);
	}
	return ret;
}

/* irq_lock held. */
static int host_irqs_off(struct vfio_pci *vp, unsigned index)
{
	if (index == VFIO_PCI_INTX_IRQ_INDEX)
		irq__irqfd_resample(vp->pci.vm, vp->pci.intx_gsi, vp->intx_efd, vp->intx_unmask_efd, false);
	return vfio__disable_irqs(&vp->dev, index);
}

/* irq_lock held. Enable the host vectors of @index (or none), each on its eventfd. */
static void switch_host_irqs(struct vfio_pci *vp, unsigned index)
{
	int ret, fds[PCI_MSIX_MAX_VECTORS];

	if (vp->irq_index != VFIO_PCI_NUM_IRQS && (ret = host_irqs_off(vp, vp->irq_index)))
		pr_warn("vfio %s: disabling host interrupts: %s", vp->dev.bdf, strerror(-ret));
	vp->irq_index = VFIO_PCI_NUM_IRQS;
	if (index == VFIO_PCI_NUM_IRQS)
		return;
	if (index == VFIO_PCI_INTX_IRQ_INDEX) {
		ret = intx_enable(vp);
	} else {
		for (unsigned i = 0; i < vp->nvec; i++)
			fds[i] = vp->vec[i].efd;
		ret = vfio__set_irq_eventfds(&vp->dev, index, 0, vp->nvec, fds);
	}
	if (ret) {
		pr_err("vfio %s: enabling host %s: %s: %s", vp->dev.bdf,
		       index == VFIO_PCI_MSIX_IRQ_INDEX ? "MSI-X" : index == VFIO_PCI_MSI_IRQ_INDEX ? "MSI" : "INTx",
		       sys__last_ioctl(), strerror(-ret));
		vp->irq_refused = index;	/* once per guest enable, not once per vector */
		return;
	}
	vp->irq_index = index;
}

void vfio_irq__start(struct vfio_pci *vp)
{
	pthread_mutex_lock(&vp->irq_lock);
	switch_host_irqs(vp, wanted_index(vp));
	pthread_mutex_unlock(&vp->irq_lock);
}

void vfio_irq__vector_changed(struct pci_device *dev, unsigned vector)
{
	struct vfio_pci *vp = dev->priv;
	unsigned index;

	if (!vp->vec || vector >= vp->nvec)
		return;
	pthread_mutex_lock(&vp->irq_lock);
	index = wanted_index(vp);
	if (index != vp->irq_refused)
		vp->irq_refused = VFIO_IRQ_NONE_REFUSED;
	if (index != vp->irq_index && index != vp->irq_refused) {
		switch_host_irqs(vp, index);
		for (unsigned v = 0; v < vp->nvec; v++)
			vec_update(vp, v);
	} else {
		vec_update(vp, vector);
	}
	pthread_mutex_unlock(&vp->irq_lock);
}

void vfio_irq__exit(struct vfio_pci *vp)
{
	uint64_t one = 1;

	if (vp->poller_started) {
		if (write(vp->stop_efd, &one, sizeof(one)) != sizeof(one))
			pr_warn("vfio %s: cannot stop the interrupt poller", vp->dev.bdf);
		pthread_join(vp->poller, NULL);
		vp->poller_started = false;
	}
	if (vp->irq_index != VFIO_PCI_NUM_IRQS)
		host_irqs_off(vp, vp->irq_index);
	vp->irq_index = VFIO_PCI_NUM_IRQS;
	if (vp->intx_efd >= 0)
		close(vp->intx_efd);
	if (vp->intx_unmask_efd >= 0)
		close(vp->intx_unmask_efd);
	vp->intx_efd = vp->intx_unmask_efd = -1;
	vp->has_intx = false;
	for (unsigned i = 0; vp->vec && i < vp->nvec; i++) {
		if (vp->vec[i].irqfd)
			irq__irqfd(vp->pci.vm, vp->vec[i].gsi, vp->vec[i].efd, false);
		if (vp->vec[i].efd >= 0)
			close(vp->vec[i].efd);
	}
	free(vp->vec);
	vp->vec = NULL;
	vp->nvec = 0;
	if (vp->epfd >= 0)
		close(vp->epfd);
	if (vp->stop_efd >= 0)
		close(vp->stop_efd);
	vp->epfd = vp->stop_efd = -1;
}
