/*
 * virtio-blk device: up to VIRTIO_MAX_QUEUES request queues (VIRTIO_BLK_F_MQ; one per vCPU by
 * default), configuration space (virtio 1.2 §5.2.4), and the I/O loop. The device's I/O thread pops
 * requests and hands their reads, writes and flushes to the queue's asynchronous engine (blk-aio.h:
 * io_uring, or a thread pool), up to BLK_DEPTH in flight per queue; what needs no I/O is answered on
 * the spot. Each queue completes on its own: its engine's eventfd wakes the I/O thread, which writes
 * the status bytes, pushes the used entries and interrupts the driver once per batch. A queue whose
 * slots are all in flight stops popping (the requests wait in the avail ring) until some complete.
 */
#include "devices/virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "devices/pci-host.h"
#include "devices/virtio/blk-aio.h"
#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define BATCH			32
#define BLK_DEPTH		64	/* requests in flight per queue */
#define PCI_CLASS_STORAGE_SCSI_CODE 0x010000	/* as QEMU's virtio-blk-pci */

/* One request's room: its chain, the engine's view of it, and its data's iovec. */
struct blk_slot {
	struct virtio_blk_io io;
	struct virtq_req *req;
	struct iovec *scratch;	/* VIRTQ_MAX_IOV entries */
	struct blk_slot *next;	/* free list */
};

struct blk_queue {
	struct blk_aio aio;
	bool aio_ok;
	struct blk_slot slot[BLK_DEPTH];
	unsigned nalloc;	/* slots with buffers, allocated as the queue gets deeper */
	struct blk_slot *free;
	bool stalled;		/* stopped popping for want of a slot */
};

struct virtio_blk {
	struct virtio_dev vdev;
	struct virtio_blk_disk disk;
	struct virtio_blk_config cfg;
	unsigned nq;
	struct blk_queue q[VIRTIO_MAX_QUEUES];
	char name[24];
};

static void blk_cfg_read(struct virtio_dev *vdev, unsigned off, void *data, unsigned len)
{
	struct virtio_blk *b = vdev->priv;

	if (off < sizeof(b->cfg))
		memcpy(data, (uint8_t *)&b->cfg + off, MIN(len, sizeof(b->cfg) - off));
}

static struct blk_slot *slot_get(struct blk_queue *q)
{
	struct blk_slot *s = q->free;

	if (s) {
		q->free = s->next;
		return s;
	}
	if (q->nalloc == BLK_DEPTH)
		return NULL;
	s = &q->slot[q->nalloc];
	s->req = virtq__req_alloc();
	s->scratch = calloc(VIRTQ_MAX_IOV, sizeof(*s->scratch));
	if (!s->req || !s->scratch) {
		virtq__req_free(s->req);
		free(s->scratch);
		s->req = NULL;
		s->scratch = NULL;
		return NULL;	/* the slots in flight come back */
	}
	q->nalloc++;
	return s;
}

static void slot_put(struct blk_queue *q, struct blk_slot *s)
{
	s->next = q->free;
	q->free = s;
}

static void blk_process(struct virtio_blk *b, unsigned qi);

/* A request is answered: its used entry. False when the device broke. */
static bool blk_answer(struct virtio_blk *b, struct virtq *vq, struct blk_slot *s, int64_t res)
{
	int64_t len = virtio_blk__finish(&b->disk, &s->io, res);

	if (virtq__push(vq, s->req->head, len)) {
		virtio__queue_error(&b->vdev, vq);
		return false;
	}
	return true;
}

static void blk_process(struct virtio_blk *b, unsigned qi)
{
	struct virtio_dev *vdev = &b->vdev;
	struct virtq *vq = &vdev->vq[qi];
	struct blk_queue *q = &b->q[qi];
	char err[160];

	do {
		unsigned n = 0;
		int ret = 0;

		virtq__set_notify(vq, false);
		for (;;) {
			struct blk_slot *s = slot_get(q);

			if (!s) {
				q->stalled = true;	/* completions resume the queue */
				break;
			}
			ret = virtq__pop(vq, s->req);
			if (ret <= 0) {
				slot_put(q, s);
				break;
			}
			if (virtio_blk__prepare(&b->disk, s->req, &s->io, s->scratch, err, sizeof(err))) {
				slot_put(q, s);
				blk_aio__kick(&q->aio);
				virtio__queue_done(vdev, vq);
				virtio__set_broken(vdev, err);
				return;
			}
			if (s->io.op != VIRTIO_BLK_OP_DONE && q->aio_ok) {
				blk_aio__submit(&q->aio, &s->io);
				if (++n % BATCH == 0)
					blk_aio__kick(&q->aio);
				continue;
			}
			ret = blk_answer(b, vq, s, s->io.op == VIRTIO_BLK_OP_DONE ? 0 : virtio_blk__execute(&b->disk, &s->io));
			slot_put(q, s);
			if (!ret)
				return;
			if (++n % BATCH == 0)
				virtio__queue_done(vdev, vq);
		}
		blk_aio__kick(&q->aio);
		virtio__queue_done(vdev, vq);
		if (ret < 0) {
			virtio__queue_error(vdev, vq);
			return;
		}
		if (q->stalled)
			return;
	} while (virtq__set_notify(vq, true));
}

static void blk_queue_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct virtio_blk *b = vdev->priv;

	if (!b->q[vq->index].stalled)
		blk_process(b, vq->index);
}

/* A queue's engine finished requests: answer them, then carry on with a queue that ran out of slots. */
static void blk_fd_ready(struct virtio_dev *vdev, int fd, uint32_t events)
{
	struct virtio_blk *b = vdev->priv;
	struct virtio_blk_io *done[BATCH];
	struct blk_queue *q = NULL;
	unsigned qi, n;
	bool ok;

	for (qi = 0; qi < b->nq && !q; qi++)
		if (b->q[qi].aio_ok && blk_aio__fd(&b->q[qi].aio) == fd)
			q = &b->q[qi];
	if (!q)
		return;
	qi--;
	ok = virtio__running(vdev);
	while ((n = blk_aio__reap(&q->aio, done, BATCH))) {
		for (unsigned i = 0; i < n; i++) {
			struct blk_slot *s = container_of(done[i], struct blk_slot, io);

			ok = ok && blk_answer(b, &vdev->vq[qi], s, s->io.res);
			slot_put(q, s);
		}
		if (ok)
			virtio__queue_done(vdev, &vdev->vq[qi]);
	}
	if (q->stalled && ok) {
		q->stalled = false;
		blk_process(b, qi);
	}
}

/* Reset: wait for what is in flight (its DMA must end before the rings go) and forget it. */
static void blk_reset(struct virtio_dev *vdev)
{
	struct virtio_blk *b = vdev->priv;
	struct virtio_blk_io *done[BATCH];

	for (unsigned qi = 0; qi < b->nq; qi++) {
		struct blk_queue *q = &b->q[qi];
		unsigned n;

		while (q->aio_ok && (n = blk_aio__wait(&q->aio, done, BATCH)))
			for (unsigned i = 0; i < n; i++)
				slot_put(q, container_of(done[i], struct blk_slot, io));
		q->stalled = false;
	}
}

static const struct virtio_dev_ops blk_ops = {
	.cfg_read = blk_cfg_read,
	.queue_notify = blk_queue_notify,
	.fd_ready = blk_fd_ready,
	.reset = blk_reset,
};

static void blk_fill_config(struct virtio_blk *b)
{
	struct virtio_blk_config *c = &b->cfg;

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(b->disk.size / VIRTIO_BLK_SECTOR);
	c->seg_max = htole32(VIRTIO_BLK_SEG_MAX);
	c->blk_size = htole32(VIRTIO_BLK_SECTOR);
	c->num_queues = htole16(b->nq);
	c->max_discard_sectors = htole32(VIRTIO_BLK_MAX_DISCARD_SECTORS);
	c->max_discard_seg = htole32(VIRTIO_BLK_MAX_DISCARD_SEG);
	c->discard_sector_alignment = htole32(VIRTIO_BLK_DISCARD_ALIGN);
	c->max_write_zeroes_sectors = htole32(VIRTIO_BLK_MAX_DISCARD_SECTORS);
	c->max_write_zeroes_seg = htole32(VIRTIO_BLK_MAX_DISCARD_SEG);
	c->write_zeroes_may_unmap = 1;
}

static void blk_free_queues(struct virtio_blk *b)
{
	for (unsigned qi = 0; qi < b->nq; qi++) {
		struct blk_queue *q = &b->q[qi];

		if (q->aio_ok)
			blk_aio__exit(&q->aio);
		q->aio_ok = false;
		for (unsigned i = 0; i < q->nalloc; i++) {
			virtq__req_free(q->slot[i].req);
			free(q->slot[i].scratch);
		}
		q->nalloc = 0;
		q->free = NULL;
	}
}

/* Each queue's engine, its eventfd watched by the I/O thread, and its first slot. */
static int blk_init_queues(struct virtio_blk *b, const struct disk_config *cfg)
{
	char err[160];

	for (unsigned qi = 0; qi < b->nq; qi++) {
		struct blk_queue *q = &b->q[qi];
		struct blk_slot *s;

		if (blk_aio__init(&q->aio, &b->disk, BLK_DEPTH, cfg->aio, err, sizeof(err))) {
			pr_err("%s: %s", b->name, err);
			return -1;
		}
		q->aio_ok = true;
		if (virtio__add_fd(&b->vdev, blk_aio__fd(&q->aio), EPOLLIN)) {
			pr_err("%s: cannot watch the completions of queue %u", b->name, qi);
			return -1;
		}
		/* One slot from the start: a queue with nothing in flight can always take a request. */
		s = slot_get(q);
		if (!s) {
			pr_err("%s: out of memory", b->name);
			return -1;
		}
		slot_put(q, s);
	}
	if (b->q[0].aio.uring)
		pr_info("%s: io_uring, %u queue%s, up to %u requests in flight each", b->name, b->nq,
			b->nq > 1 ? "s" : "", BLK_DEPTH);
	else
		pr_info("%s: a thread pool of %u workers per queue, %u queue%s (%s%s)", b->name, BLK_AIO_THREADS,
			b->nq, b->nq > 1 ? "s" : "", b->q[0].aio.uring_err ? "io_uring is not available: " : "aio=threads",
			b->q[0].aio.uring_err ? strerror(b->q[0].aio.uring_err) : "");
	return 0;
}

struct virtio_blk *virtio_blk__create(struct pci_host *host, const struct disk_config *cfg, unsigned index)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	char err[VMM_PATH_MAX + 128];
	uint64_t f;

	if (!b) {
		pr_err("virtio-blk: out of memory");
		return NULL;
	}
	snprintf(b->name, sizeof(b->name), "virtio-blk%u", index);
	b->nq = cfg->queues ? MIN(cfg->queues, VIRTIO_MAX_QUEUES) : 1;
	if (virtio_blk__disk_open(&b->disk, cfg->path, cfg->readonly, cfg->direct, err, sizeof(err))) {
		pr_err("%s", err);
		free(b);
		return NULL;
	}
	if (virtio__init_dev(&b->vdev, b->name, VIRTIO_ID_BLOCK, PCI_CLASS_STORAGE_SCSI_CODE, b->nq,
			     VIRTIO_BLK_QUEUE_SIZE, &blk_ops, b)) {
		pr_err("%s: cannot create the device", b->name);
		goto fail;
	}
	if (blk_init_queues(b, cfg))
		goto fail_dev;
	blk_fill_config(b);
	f = BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH);
	if (b->nq > 1)
		f |= BIT(VIRTIO_BLK_F_MQ);
	if (cfg->readonly)
		f |= BIT(VIRTIO_BLK_F_RO);
	else
		f |= BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	b->vdev.features = f;
	b->vdev.cfg_size = sizeof(b->cfg);
	if (virtio__add(&b->vdev, host))
		goto fail_dev;
	pr_info("%s: %s, %llu sectors%s%s", b->name, cfg->path, (unsigned long long)(b->disk.size / VIRTIO_BLK_SECTOR),
		cfg->readonly ? ", read-only" : "", cfg->direct ? ", O_DIRECT" : "");
	return b;
fail_dev:
	virtio__exit_dev(&b->vdev);
fail:
	blk_free_queues(b);
	virtio_blk__disk_close(&b->disk);
	free(b);
	return NULL;
}

void virtio_blk__destroy(struct virtio_blk *b)
{
	struct virtio_blk_disk *d;
	uint64_t cpu_ns;

	if (!b)
		return;
	d = &b->disk;
	cpu_ns = virtio__thread_cpu_ns(&b->vdev);
	virtio__exit_dev(&b->vdev);
	/* `minivmm -v` prints these; bench/guest.sh reads them. */
	pr_info("%s: stats: %llu requests (%llu reads, %llu writes, %llu flushes, %llu discards, %llu I/O errors), "
		"%llu kicks, %llu interrupts, I/O thread %llu ns CPU per request",
		b->name, (unsigned long long)d->nr_reqs, (unsigned long long)d->nr_read,
		(unsigned long long)d->nr_write, (unsigned long long)d->nr_flush, (unsigned long long)d->nr_discard,
		(unsigned long long)d->nr_ioerr, (unsigned long long)b->vdev.nr_kicks,
		(unsigned long long)b->vdev.nr_irqs, (unsigned long long)(d->nr_reqs ? cpu_ns / d->nr_reqs : 0));
	blk_free_queues(b);
	virtio_blk__disk_close(d);
	free(b);
}
