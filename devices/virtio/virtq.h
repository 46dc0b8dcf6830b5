/*
 * Split virtqueues (virtio 1.2 §2.7), device side, with indirect descriptors (§2.7.5.3) and event
 * index notification suppression (§2.7.7, §2.7.10).
 *
 * Every access to the rings and buffers goes through the queue's DMA address space (vmm/dma.h): with
 * the vIOMMU on, ring addresses are IOVAs and an unmapped one faults in the vIOMMU like real DMA.
 * The driver is hostile: a bad index, a loop, an unmapped or out-of-RAM address, an avail index that
 * moved by more than the queue size makes virtq__pop() fail with vq->err saying why; the transport
 * then marks the device broken (DEVICE_NEEDS_RESET). Nothing here trusts a value read from the guest
 * twice: each is read once into host memory and checked there.
 *
 * One thread consumes a queue (the device's I/O thread); the transport changes the configuration
 * only while the queue is stopped (reset) or not yet enabled.
 */
#ifndef MINIVMM_DEVICES_VIRTIO_VIRTQ_H
#define MINIVMM_DEVICES_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/dma.h"

#define VIRTQ_MAX_SIZE		32768	/* §2.7: Queue Size is at most 32768 */
#define VIRTQ_MAX_INDIRECT	1024	/* descriptors in one indirect table (as Linux and QEMU) */
/*
 * Host segments of one request. A guest buffer splits wherever its translation does (each 4 KiB page
 * under the vIOMMU), so this bounds a request at 16 MiB in the worst case; devices advertise limits
 * (seg_max, size_max) that keep well-behaved drivers far below it.
 */
#define VIRTQ_MAX_IOV		4096
#define VIRTQ_NO_VECTOR		0xffff

struct virtq {
	/* Configuration, written by the driver through the transport while the queue is disabled. */
	uint16_t num;		/* Queue Size */
	uint16_t max;		/* the device's maximum Queue Size */
	uint16_t vector;	/* MSI-X vector, VIRTQ_NO_VECTOR for none */
	bool enabled;
	uint64_t desc, avail, used;	/* DMA addresses of the three parts */
	/* Negotiated ring features (set at FEATURES_OK). */
	bool event_idx, indirect;

	unsigned index;
	struct dma_as *dma;

	/* Device state: only the consuming thread touches it once the queue runs. */
	uint16_t last_avail;	/* next avail ring entry to take */
	uint16_t used_idx;	/* our used->idx, published by virtq__flush() */
	uint16_t signalled_used;	/* used_idx when we last decided whether to interrupt */
	bool signalled_valid;
	char err[128];		/* why the queue broke (the first error; cleared by reset) */
};

/* One popped descriptor chain. @iov has VIRTQ_MAX_IOV entries (virtq__req_alloc). */
struct virtq_req {
	uint16_t head;		/* id to return in the used ring */
	unsigned nout, nin;	/* iov[0..nout) device-readable, iov[nout..nout+nin) device-writable */
	uint64_t out_len, in_len;
	unsigned ndesc;		/* descriptors in the chain (indirect ones included) */
	struct iovec *iov;
};

struct virtq_req *virtq__req_alloc(void);
void virtq__req_free(struct virtq_req *req);
static inline struct iovec *virtq__in_iov(const struct virtq_req *req)
{
	return req->iov + req->nout;
}

/* Power-on state: disabled, Queue Size = @max, no vector, addresses 0. */
void virtq__init(struct virtq *vq, unsigned index, uint16_t max, struct dma_as *dma);
void virtq__reset(struct virtq *vq);
/*
 * Check the configuration when the driver enables the queue (§2.7 alignment, power-of-two size
 * within the maximum, §4.1.4.3.2). 0, or -EINVAL with vq->err set.
 */
int virtq__check(struct virtq *vq);

/*
 * Take the next available chain and map its buffers: 1 with @req filled, 0 if none is available,
 * -EIO (ring or descriptor error, vq->err says what) or -EFAULT (a DMA fault on the ring or a buffer).
 */
int virtq__pop(struct virtq *vq, struct virtq_req *req);
/* Give back the last @n popped chains unused (they will be popped again). */
void virtq__unpop(struct virtq *vq, unsigned n);
/* Put @head in the used ring with @len bytes written; not visible to the driver until virtq__flush. */
int virtq__push(struct virtq *vq, uint16_t head, uint32_t len);
/* Publish the used index (store-release: the used elements are visible first). */
int virtq__flush(struct virtq *vq);
/* After a flush: does the driver want an interrupt now (VRING_AVAIL_F_NO_INTERRUPT / used_event)? */
bool virtq__need_interrupt(struct virtq *vq);
/*
 * Ask for (@on) or suppress kicks (VRING_USED_F_NO_NOTIFY / avail_event). Turning them on returns
 * true when buffers became available meanwhile: the caller must process them (no lost wake-up).
 */
bool virtq__set_notify(struct virtq *vq, bool on);
/* Are chains available (the avail index moved past ours)? False on a fault. */
bool virtq__has_avail(struct virtq *vq);

#endif
