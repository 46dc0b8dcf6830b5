/*
 * Split virtqueue, device side (virtio 1.2 §2.7). Layout, for a queue of size N:
 *   descriptor table  N x 16 bytes, 16-byte aligned: le64 addr, le32 len, le16 flags, le16 next
 *   available ring    le16 flags, le16 idx, le16 ring[N], le16 used_event; 2-byte aligned
 *   used ring         le16 flags, le16 idx, {le32 id, le32 len}[N], le16 avail_event; 4-byte aligned
 * The two indices are free-running 16-bit counters; entries are taken modulo N, which is why N must
 * be a power of two (§2.7: "Queue Size value is always a power of 2" for split rings).
 */
#include "devices/virtio/virtq.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/util.h"

#define AVAIL_IDX	2
#define AVAIL_RING	4
#define USED_IDX	2
#define USED_RING	4
#define DESC_SIZE	16
#define USED_ELEM_SIZE	8

static int vq_fail(struct virtq *vq, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int vq_fail(struct virtq *vq, int err, const char *fmt, ...)
{
	va_list ap;

	/* The first error is the cause; later ones (a flush after it) only follow from it. */
	if (vq->err[0])
		return err;
	va_start(ap, fmt);
	vsnprintf(vq->err, sizeof(vq->err), fmt, ap);
	va_end(ap);
	return err;
}

struct virtq_req *virtq__req_alloc(void)
{
	struct virtq_req *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	req->iov = calloc(VIRTQ_MAX_IOV, sizeof(*req->iov));
	if (!req->iov) {
		free(req);
		return NULL;
	}
	return req;
}

void virtq__req_free(struct virtq_req *req)
{
	if (!req)
		return;
	free(req->iov);
	free(req);
}

void virtq__init(struct virtq *vq, unsigned index, uint16_t max, struct dma_as *dma)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->max = max;
	vq->dma = dma;
	virtq__reset(vq);
}

void virtq__reset(struct virtq *vq)
{
	vq->num = vq->max;
	vq->vector = VIRTQ_NO_VECTOR;
	vq->enabled = false;
	vq->desc = vq->avail = vq->used = 0;
	vq->event_idx = vq->indirect = false;
	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->err[0] = '\0';
}

int virtq__check(struct virtq *vq)
{
	uint64_t n = vq->num;

	if (!n || n > vq->max || (n & (n - 1)))
		return vq_fail(vq, -EINVAL, "queue %u: size %u is not a power of two from 1 to %u", vq->index,
			       vq->num, vq->max);
	/* §2.7 "Virtqueue Alignment": descriptor table 16, available ring 2, used ring 4. */
	if (!IS_ALIGNED(vq->desc, 16) || !IS_ALIGNED(vq->avail, 2) || !IS_ALIGNED(vq->used, 4))
		return vq_fail(vq, -EINVAL, "queue %u: misaligned rings (desc %#llx, driver %#llx, device %#llx)",
			       vq->index, (unsigned long long)vq->desc, (unsigned long long)vq->avail,
			       (unsigned long long)vq->used);
	if (vq->desc + n * DESC_SIZE < vq->desc || vq->avail + AVAIL_RING + 2 * n + 2 < vq->avail ||
	    vq->used + USED_RING + USED_ELEM_SIZE * n + 2 < vq->used)
		return vq_fail(vq, -EINVAL, "queue %u: a ring wraps around the address space", vq->index);
	return 0;
}

/* Ring indices and flags: aligned 16-bit fields, read and written whole (the driver runs concurrently). */
static int load16(struct virtq *vq, uint64_t addr, uint16_t *v)
{
	size_t c;
	uint16_t *p = dma__map(vq->dma, NULL, addr, 2, DMA_READ, &c);

	if (!p || c < 2)
		return -EFAULT;
	*v = le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
	return 0;
}

static int store16(struct virtq *vq, uint64_t addr, uint16_t v)
{
	size_t c;
	uint16_t *p = dma__map(vq->dma, NULL, addr, 2, DMA_WRITE, &c);

	if (!p || c < 2)
		return -EFAULT;
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
	return 0;
}

/* Map [addr, addr + len) into request segments, split wherever the translation is not contiguous. */
static int map_buf(struct virtq *vq, struct virtq_req *req, uint64_t addr, uint32_t len, bool write)
{
	while (len) {
		unsigned n = req->nout + req->nin;
		size_t c;
		void *p;

		if (n >= VIRTQ_MAX_IOV)
			return vq_fail(vq, -EIO, "queue %u: chain at head %u needs more than %u segments", vq->index,
				       req->head, VIRTQ_MAX_IOV);
		p = dma__map(vq->dma, NULL, addr, len, write ? DMA_WRITE : DMA_READ, &c);
		if (!p)
			return vq_fail(vq, -EFAULT, "queue %u: %s buffer at %#llx (%u bytes) is not mapped", vq->index,
				       write ? "device-writable" : "device-readable", (unsigned long long)addr, len);
		req->iov[n].iov_base = p;
		req->iov[n].iov_len = c;
		if (write)
			req->nin++;
		else
			req->nout++;
		addr += c;
		len -= c;
	}
	return 0;
}

/* Walk the chain from @head (direct table, at most one indirect table) into @req. */
static int walk_chain(struct virtq *vq, struct virtq_req *req, uint16_t head)
{
	uint64_t table = vq->desc;
	unsigned size = vq->num, idx = head, count = 0;
	bool in_indirect = false;

	for (;;) {
		struct vring_desc d;
		uint16_t flags;
		uint32_t len;
		int ret;

		/* A chain visits each descriptor of its table at most once: longer means a loop (§2.7.5.3.1). */
		if (++count > size)
			return vq_fail(vq, -EIO, "queue %u: descriptor chain at head %u loops (more than %u %s)",
				       vq->index, head, size, in_indirect ? "indirect descriptors" : "descriptors");
		if (dma__read(vq->dma, table + (uint64_t)idx * DESC_SIZE, &d, sizeof(d)))
			return vq_fail(vq, -EFAULT, "queue %u: cannot read %sdescriptor %u at %#llx", vq->index,
				       in_indirect ? "indirect " : "", idx,
				       (unsigned long long)(table + (uint64_t)idx * DESC_SIZE));
		req->ndesc++;
		flags = le16toh(d.flags);
		len = le32toh(d.len);

		if (flags & VRING_DESC_F_INDIRECT) {
			/* §2.7.5.3.1: only with the feature, never nested, never together with NEXT. */
			if (!vq->indirect)
				return vq_fail(vq, -EIO, "queue %u: indirect descriptor %u without VIRTIO_F_INDIRECT_DESC",
					       vq->index, idx);
			if (in_indirect)
				return vq_fail(vq, -EIO, "queue %u: indirect descriptor inside an indirect table (head %u)",
					       vq->index, head);
			if (flags & VRING_DESC_F_NEXT)
				return vq_fail(vq, -EIO, "queue %u: descriptor %u has both INDIRECT and NEXT", vq->index,
					       idx);
			if (!len || len % DESC_SIZE || len / DESC_SIZE > VIRTQ_MAX_INDIRECT)
				return vq_fail(vq, -EIO, "queue %u: indirect table of %u bytes (not 16 to %u x 16)",
					       vq->index, len, VIRTQ_MAX_INDIRECT);
			table = le64toh(d.addr);
			size = len / DESC_SIZE;
			idx = 0;
			count = 0;
			in_indirect = true;
			continue;
		}

		if (flags & VRING_DESC_F_WRITE) {
			req->in_len += len;
		} else {
			/* §2.7.4.2: device-readable descriptors come first. */
			if (req->nin || req->in_len)
				return vq_fail(vq, -EIO, "queue %u: device-readable descriptor after a writable one (head %u)",
					       vq->index, head);
			req->out_len += len;
		}
		if (req->in_len > UINT32_MAX || req->out_len > UINT32_MAX)
			return vq_fail(vq, -EIO, "queue %u: chain at head %u is longer than 4 GiB", vq->index, head);
		ret = map_buf(vq, req, le64toh(d.addr), len, flags & VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		idx = le16toh(d.next);
		if (idx >= size)
			return vq_fail(vq, -EIO, "queue %u: next index %u out of range (table of %u, head %u)",
				       vq->index, idx, size, head);
	}
}

int virtq__pop(struct virtq *vq, struct virtq_req *req)
{
	uint16_t avail_idx, pending, head;

	if (!vq->enabled)
		return 0;
	if (load16(vq, vq->avail + AVAIL_IDX, &avail_idx))
		return vq_fail(vq, -EFAULT, "queue %u: cannot read the available index at %#llx", vq->index,
			       (unsigned long long)(vq->avail + AVAIL_IDX));
	pending = avail_idx - vq->last_avail;
	if (!pending)
		return 0;
	if (pending > vq->num)
		return vq_fail(vq, -EIO, "queue %u: available index moved to %u, %u entries past %u (queue size %u)",
			       vq->index, avail_idx, pending, vq->last_avail, vq->num);
	if (load16(vq, vq->avail + AVAIL_RING + 2ULL * (vq->last_avail & (vq->num - 1)), &head))
		return vq_fail(vq, -EFAULT, "queue %u: cannot read available ring entry %u", vq->index,
			       vq->last_avail & (vq->num - 1));
	if (head >= vq->num)
		return vq_fail(vq, -EIO, "queue %u: available ring entry %u names descriptor %u (queue size %u)",
			       vq->index, vq->last_avail & (vq->num - 1), head, vq->num);
	vq->last_avail++;

	req->head = head;
	req->nout = req->nin = 0;
	req->out_len = req->in_len = 0;
	req->ndesc = 0;
	return walk_chain(vq, req, head) ?: 1;
}

void virtq__unpop(struct virtq *vq, unsigned n)
{
	vq->last_avail -= n;
}

int virtq__push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem e = { .id = htole32(head), .len = htole32(len) };
	uint64_t addr = vq->used + USED_RING + (uint64_t)USED_ELEM_SIZE * (vq->used_idx & (vq->num - 1));

	if (dma__write(vq->dma, addr, &e, sizeof(e)))
		return vq_fail(vq, -EFAULT, "queue %u: cannot write used ring entry at %#llx", vq->index,
			       (unsigned long long)addr);
	vq->used_idx++;
	return 0;
}

int virtq__flush(struct virtq *vq)
{
	if (store16(vq, vq->used + USED_IDX, vq->used_idx))
		return vq_fail(vq, -EFAULT, "queue %u: cannot write the used index at %#llx", vq->index,
			       (unsigned long long)(vq->used + USED_IDX));
	return 0;
}

bool virtq__need_interrupt(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, event, flags;
	bool valid = vq->signalled_valid;

	/* The used index store must be visible before we read what the driver asked for (§2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx) {
		if (load16(vq, vq->avail, &flags))
			return true;
		return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
	}
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	if (load16(vq, vq->avail + AVAIL_RING + 2ULL * vq->num, &event))	/* used_event */
		return true;
	return vring_need_event(event, vq->used_idx, old);
}

bool virtq__has_avail(struct virtq *vq)
{
	uint16_t idx;

	if (!vq->enabled || load16(vq, vq->avail + AVAIL_IDX, &idx))
		return false;
	return idx != vq->last_avail;
}

bool virtq__set_notify(struct virtq *vq, bool on)
{
	if (!vq->enabled)
		return false;
	if (vq->event_idx) {
		/* Suppressing: leave avail_event behind; the driver kicks only when it passes it. */
		if (on)
			store16(vq, vq->used + USED_RING + (uint64_t)USED_ELEM_SIZE * vq->num, vq->last_avail);
	} else {
		store16(vq, vq->used, on ? 0 : VRING_USED_F_NO_NOTIFY);
	}
	if (!on)
		return false;
	/* Our store before the driver's index: otherwise a buffer added meanwhile gets no kick. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq__has_avail(vq);
}
