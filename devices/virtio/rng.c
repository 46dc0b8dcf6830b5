/* virtio-rng: see rng.h. */
#include "devices/virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define RNG_QUEUE_SIZE		64
#define PCI_CLASS_OTHERS_CODE	0x00ff00	/* as QEMU's virtio-rng-pci */

struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq_req *req;
	uint64_t bytes;
};

size_t virtio_rng__fill(const struct iovec *iov, unsigned n)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < VIRTIO_RNG_MAX_REQ; i++) {
		size_t want = MIN(iov[i].iov_len, VIRTIO_RNG_MAX_REQ - done), got = 0;

		while (got < want) {
			ssize_t r = getrandom((char *)iov[i].iov_base + got, want - got, 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				return done + got;
			}
			got += r;
		}
		done += got;
	}
	return done;
}

static void rng_cfg_read(struct virtio_dev *vdev, unsigned off, void *data, unsigned len)
{
	/* No device configuration (§5.4.4). */
}

static void rng_queue_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct virtio_rng *rng = vdev->priv;
	int ret;

	do {
		virtq__set_notify(vq, false);
		while ((ret = virtq__pop(vq, rng->req)) > 0) {
			size_t n = virtio_rng__fill(virtq__in_iov(rng->req), rng->req->nin);

			rng->bytes += n;
			if (virtq__push(vq, rng->req->head, n)) {
				virtio__queue_error(vdev, vq);
				return;
			}
		}
		virtio__queue_done(vdev, vq);
		if (ret < 0) {
			virtio__queue_error(vdev, vq);
			return;
		}
	} while (virtq__set_notify(vq, true));
}

static const struct virtio_dev_ops rng_ops = {
	.cfg_read = rng_cfg_read,
	.queue_notify = rng_queue_notify,
};

struct virtio_rng *virtio_rng__create(struct pci_host *host)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));

	if (!rng || !(rng->req = virtq__req_alloc()) ||
	    virtio__init_dev(&rng->vdev, "virtio-rng", VIRTIO_ID_RNG, PCI_CLASS_OTHERS_CODE, 1, RNG_QUEUE_SIZE,
			     &rng_ops, rng)) {
		pr_err("virtio-rng: cannot create the device");
		goto fail;
	}
	if (virtio__add(&rng->vdev, host)) {
		virtio__exit_dev(&rng->vdev);
		goto fail;
	}
	return rng;
fail:
	if (rng)
		virtq__req_free(rng->req);
	free(rng);
	return NULL;
}

void virtio_rng__destroy(struct virtio_rng *rng)
{
	if (!rng)
		return;
	virtio__exit_dev(&rng->vdev);
	pr_info("virtio-rng: stats: %llu bytes to the guest", (unsigned long long)rng->bytes);
	virtq__req_free(rng->req);
	free(rng);
}
