/*
 * virtio-blk device: one request queue, configuration space (virtio 1.2 §5.2.4), and the I/O loop.
 * Requests run one after another on the device's I/O thread with synchronous preadv/pwritev (the
 * guest keeps the queue full; the page cache or the disk does the rest). The used index is published
 * and the driver interrupted every BATCH requests and when the queue runs dry.
 */
#include "devices/virtio/blk.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/pci-host.h"
#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define BATCH			32
#define PCI_CLASS_STORAGE_SCSI_CODE 0x010000	/* as QEMU's virtio-blk-pci */

struct virtio_blk {
	struct virtio_dev vdev;
	struct virtio_blk_disk disk;
	struct virtio_blk_config cfg;
	struct virtq_req *req;
	char name[24];
};

static void blk_cfg_read(struct virtio_dev *vdev, unsigned off, void *data, unsigned len)
{
	struct virtio_blk *b = vdev->priv;

	if (off < sizeof(b->cfg))
		memcpy(data, (uint8_t *)&b->cfg + off, MIN(len, sizeof(b->cfg) - off));
}

static void blk_queue_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct virtio_blk *b = vdev->priv;
	char err[160];
	int ret;

	do {
		unsigned n = 0;

		virtq__set_notify(vq, false);
		while ((ret = virtq__pop(vq, b->req)) > 0) {
			int64_t len = virtio_blk__handle(&b->disk, b->req, err, sizeof(err));

			if (len < 0) {
				virtio__queue_done(vdev, vq);
				virtio__set_broken(vdev, err);
				return;
			}
			if (virtq__push(vq, b->req->head, len)) {
				virtio__queue_error(vdev, vq);
				return;
			}
			if (++n % BATCH == 0)
				virtio__queue_done(vdev, vq);
		}
		virtio__queue_done(vdev, vq);
		if (ret < 0) {
			virtio__queue_error(vdev, vq);
			return;
		}
	} while (virtq__set_notify(vq, true));
}

static const struct virtio_dev_ops blk_ops = {
	.cfg_read = blk_cfg_read,
	.queue_notify = blk_queue_notify,
};

static void blk_fill_config(struct virtio_blk *b)
{
	struct virtio_blk_config *c = &b->cfg;

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(b->disk.size / VIRTIO_BLK_SECTOR);
	c->seg_max = htole32(VIRTIO_BLK_SEG_MAX);
	c->blk_size = htole32(VIRTIO_BLK_SECTOR);
	c->num_queues = htole16(1);
	c->max_discard_sectors = htole32(VIRTIO_BLK_MAX_DISCARD_SECTORS);
	c->max_discard_seg = htole32(VIRTIO_BLK_MAX_DISCARD_SEG);
	c->discard_sector_alignment = htole32(VIRTIO_BLK_DISCARD_ALIGN);
	c->max_write_zeroes_sectors = htole32(VIRTIO_BLK_MAX_DISCARD_SECTORS);
	c->max_write_zeroes_seg = htole32(VIRTIO_BLK_MAX_DISCARD_SEG);
	c->write_zeroes_may_unmap = 1;
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
	if (virtio_blk__disk_open(&b->disk, cfg->path, cfg->readonly, cfg->direct, err, sizeof(err))) {
		pr_err("%s", err);
		free(b);
		return NULL;
	}
	b->req = virtq__req_alloc();
	if (!b->req || virtio__init_dev(&b->vdev, b->name, VIRTIO_ID_BLOCK, PCI_CLASS_STORAGE_SCSI_CODE, 1,
					 VIRTIO_BLK_QUEUE_SIZE, &blk_ops, b)) {
		pr_err("%s: cannot create the device", b->name);
		goto fail;
	}
	blk_fill_config(b);
	f = BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH);
	if (cfg->readonly)
		f |= BIT(VIRTIO_BLK_F_RO);
	else
		f |= BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	b->vdev.features = f;
	b->vdev.cfg_size = sizeof(b->cfg);
	if (virtio__add(&b->vdev, host)) {
		virtio__exit_dev(&b->vdev);
		goto fail;
	}
	pr_info("%s: %s, %llu sectors%s%s", b->name, cfg->path, (unsigned long long)(b->disk.size / VIRTIO_BLK_SECTOR),
		cfg->readonly ? ", read-only" : "", cfg->direct ? ", O_DIRECT" : "");
	return b;
fail:
	virtq__req_free(b->req);
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
	virtq__req_free(b->req);
	virtio_blk__disk_close(d);
	free(b);
}
