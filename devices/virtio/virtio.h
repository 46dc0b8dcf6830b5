/*
 * virtio over PCI, modern interface only (virtio 1.2 §4.1; no legacy I/O BAR, device IDs 0x1040 +
 * type). A device model embeds struct virtio_dev, fills it, and the transport does the rest:
 *
 *	virtio__init_dev(&d->vdev, "virtio-blk", VIRTIO_ID_BLOCK, PCI_CLASS_CODE_STORAGE, nqueues, qmax,
 *			 &blk_ops, d);
 *	d->vdev.features = VIRTIO_BLK_F_... bits; d->vdev.cfg_size = sizeof(config);
 *	virtio__add(&d->vdev, host);		// PCI function, I/O thread
 *	...
 *	virtio__exit_dev(&d->vdev);
 *
 * Layout: BAR 1 holds the MSI-X table and PBA (one vector per queue plus one for configuration
 * changes); BAR 4 (64-bit memory, 16 KiB) holds the common configuration at 0x0000, the ISR status at
 * 0x1000, the device configuration at 0x2000 and the queue notify addresses at 0x3000 + 4 x queue.
 * A VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.9) reaches the same registers through config space.
 *
 * Threads: register accesses run on vCPU threads. The device's work (ops->queue_notify, ops->fd_ready)
 * runs on its own I/O thread, woken through an eventfd per queue that KVM signals on a notify write
 * (ioeventfd), so a kick costs the vCPU no exit to user space. Interrupts go out through irqfd when
 * the vector is deliverable, through the PCI base (pending bits) when it is masked, and as INTx with
 * the ISR when MSI-X is off.
 *
 * DMA: every ring and buffer access goes through the function's DMA address space (pci.dma). With the
 * vIOMMU the device offers VIRTIO_F_ACCESS_PLATFORM and insists on it (FEATURES_OK is refused
 * without it: addresses would be IOVAs whatever the driver believes).
 *
 * A driver error (bad ring, DMA fault, enabling a queue with a bad size) marks the device broken: it
 * sets DEVICE_NEEDS_RESET, sends a configuration-change interrupt (§2.1.2) and stops processing until
 * the driver resets it.
 */
#ifndef MINIVMM_DEVICES_VIRTIO_VIRTIO_H
#define MINIVMM_DEVICES_VIRTIO_VIRTIO_H

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"
#include "devices/virtio/virtq.h"

struct pci_host;

#define VIRTIO_PCI_VENDOR_ID	0x1af4
#define VIRTIO_PCI_DEVICE_BASE	0x1040		/* + device type: modern-only devices (§4.1.2.1) */
#define VIRTIO_PCI_REVISION	1		/* non-transitional (§4.1.2.1) */
#define VIRTIO_MAX_QUEUES	8

/* BAR 4 layout. */
#define VIRTIO_BAR		4
#define VIRTIO_MSIX_BAR		1
#define VIRTIO_BAR_SIZE		0x4000
#define VIRTIO_COMMON_OFF	0x0000
#define VIRTIO_COMMON_SIZE	0x40
#define VIRTIO_ISR_OFF		0x1000
#define VIRTIO_DEVCFG_OFF	0x2000
#define VIRTIO_DEVCFG_MAX	0x1000
#define VIRTIO_NOTIFY_OFF	0x3000
#define VIRTIO_NOTIFY_MULT	4		/* notify_off_multiplier: queue q kicks at 0x3000 + 4q */

#define VIRTIO_LOG_LIMIT	8		/* warnings per device and kind, then -vv only */

#define VIRTIO_ISR_QUEUE	0x1
#define VIRTIO_ISR_CONFIG	0x2

struct virtio_dev;

struct virtio_dev_ops {
	/* At FEATURES_OK: may the driver have @features (device-specific dependencies)? Optional. */
	bool (*features_ok)(struct virtio_dev *vdev, uint64_t features);
	/* Device configuration space, @off + @len <= cfg_size. Reads fill @data; writes are optional. */
	void (*cfg_read)(struct virtio_dev *vdev, unsigned off, void *data, unsigned len);
	void (*cfg_write)(struct virtio_dev *vdev, unsigned off, const void *data, unsigned len);
	/* I/O thread: queue @vq was kicked (or the driver set DRIVER_OK). Only while the device runs. */
	void (*queue_notify)(struct virtio_dev *vdev, struct virtq *vq);
	/* I/O thread: a descriptor added with virtio__add_fd() is ready, whatever the device state. */
	void (*fd_ready)(struct virtio_dev *vdev, int fd, uint32_t events);
	/* The driver set DRIVER_OK (features negotiated, queues set up). I/O thread quiesced. Optional. */
	void (*start)(struct virtio_dev *vdev);
	/* Device reset (status 0 written, or teardown). I/O thread quiesced. Optional. */
	void (*reset)(struct virtio_dev *vdev);
};

struct virtio_vec {
	int efd;		/* irqfd eventfd */
	int gsi;		/* MSI route, -1 before the first */
	bool attached;		/* irqfd assigned to @gsi */
	uint64_t addr;		/* the route's message */
	uint32_t data;
};

struct virtio_dev {
	struct pci_device pci;
	const char *name;
	const struct virtio_dev_ops *ops;
	void *priv;
	uint16_t type;			/* VIRTIO_ID_* */
	uint64_t features;		/* device-specific features offered (the transport adds its own) */
	unsigned cfg_size;		/* bytes of device configuration */
	unsigned nqueues;
	struct virtq vq[VIRTIO_MAX_QUEUES];

	/* Registers (lock). */
	pthread_mutex_t lock;
	uint32_t dfselect, gfselect;
	uint64_t driver_features;	/* as written by the driver */
	uint64_t negotiated;		/* accepted at FEATURES_OK */
	uint8_t status;
	uint8_t cfg_generation;
	uint16_t queue_select;
	uint16_t config_vector;
	uint8_t isr;
	bool broken;
	uint32_t pcicfg_cap;		/* offset of the VIRTIO_PCI_CAP_PCI_CFG capability */

	/* Interrupts (vec_lock, taken before the PCI base's lock). */
	pthread_mutex_t vec_lock;
	struct virtio_vec *vec;
	unsigned nvec;

	/* Kicks and the I/O thread. io_lock is held while the device works, and by reset. */
	pthread_mutex_t io_lock;
	int kick_fd[VIRTIO_MAX_QUEUES];
	uint64_t ioeventfd_addr;	/* notify base the ioeventfds are registered at, 0 if none */
	bool ioeventfd_ok;		/* KVM took them (else kicks exit to the MMIO handler) */
	int epfd, stop_fd;
	pthread_t thread;
	bool thread_running;

	/* Statistics. */
	uint64_t nr_kicks, nr_irqs;
	unsigned nr_broken, nr_refused;	/* warnings after VIRTIO_LOG_LIMIT go to debug */
};

/* Fill the PCI function and the queues. Returns 0 or -errno. */
int virtio__init_dev(struct virtio_dev *vdev, const char *name, uint16_t type, uint32_t class_code,
		     unsigned nqueues, uint16_t queue_max, const struct virtio_dev_ops *ops, void *priv);
/* Put the function on the PCI bus and start the I/O thread. 0, or -errno after saying why. */
int virtio__add(struct virtio_dev *vdev, struct pci_host *host);
/* Stop the I/O thread, reset, release everything; the function must be off the bus (host gone). */
void virtio__exit_dev(struct virtio_dev *vdev);

/* Features the device offers now (device-specific + VERSION_1, rings, ACCESS_PLATFORM if translated). */
uint64_t virtio__offered(struct virtio_dev *vdev);
static inline bool virtio__has(const struct virtio_dev *vdev, unsigned bit)
{
	return vdev->negotiated & (1ULL << bit);
}
/* Is the device running: DRIVER_OK and not broken? */
bool virtio__running(struct virtio_dev *vdev);
/* Mark the device broken: DEVICE_NEEDS_RESET and a configuration-change interrupt. Any thread. */
void virtio__set_broken(struct virtio_dev *vdev, const char *why);
/* The device configuration changed: new generation and a configuration-change interrupt. */
void virtio__config_changed(struct virtio_dev *vdev);

/* I/O thread: publish used entries and interrupt the driver if it wants. Broken on a DMA fault. */
void virtio__queue_done(struct virtio_dev *vdev, struct virtq *vq);
/* I/O thread: a virtq__pop() failed: mark the device broken with the queue's reason. */
void virtio__queue_error(struct virtio_dev *vdev, struct virtq *vq);
/* CPU time the I/O thread used so far (0 if it is not running). */
uint64_t virtio__thread_cpu_ns(struct virtio_dev *vdev);
/* Wake the I/O thread for queue @q as a kick would. */
void virtio__kick(struct virtio_dev *vdev, unsigned q);

/* Watch @fd on the I/O thread (epoll @events, level-triggered); 0 or -errno. */
int virtio__add_fd(struct virtio_dev *vdev, int fd, uint32_t events);
int virtio__mod_fd(struct virtio_dev *vdev, int fd, uint32_t events);
void virtio__del_fd(struct virtio_dev *vdev, int fd);

/* ---- Internal to the transport (virtio-pci.c, virtio-irq.c, virtio-io.c) ---- */
void virtio__signal(struct virtio_dev *vdev, uint16_t vector, uint8_t isr_bit);
void virtio__vector_changed(struct pci_device *dev, unsigned vector);
int virtio__irq_init(struct virtio_dev *vdev, unsigned nvec);
void virtio__irq_exit(struct virtio_dev *vdev);
void virtio__isr_read_clear(struct virtio_dev *vdev, uint8_t *val);
int virtio__io_init(struct virtio_dev *vdev);
int virtio__io_start(struct virtio_dev *vdev);
void virtio__io_stop(struct virtio_dev *vdev);
void virtio__io_exit(struct virtio_dev *vdev);
void virtio__ioeventfd_update(struct virtio_dev *vdev);
void virtio__reset(struct virtio_dev *vdev);

#endif
