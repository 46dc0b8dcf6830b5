/* virtio-net: see net.h. Queue 0 receives (tap -> guest), queue 1 transmits (guest -> tap). */
#include "devices/virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/iov.h"
#include "devices/virtio/tap.h"
#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define RXQ			0
#define TXQ			1
#define RX_BUDGET		64	/* frames per wake-up before other work gets a turn */
#define PCI_CLASS_NETWORK_ETHERNET_CODE 0x020000
#define NUM_BUFFERS_OFF		offsetof(struct virtio_net_hdr_v1, num_buffers)

struct virtio_net {
	struct virtio_dev vdev;
	struct virtio_net_config cfg;
	char name[24];
	int fd;
	bool is_tap;
	unsigned tap_offloads;		/* TUN_F_* the tap accepts, 0 for other descriptors */
	bool rx_armed;
	struct virtq_req *req;
	uint8_t *frame;			/* receive: header + frame read from the tap */
	uint8_t *txbuf;			/* transmit: a frame too fragmented for one writev */
	size_t frame_len;
	bool frame_pending;		/* read, waiting for receive buffers */
	uint16_t heads[VIRTIO_NET_QUEUE_SIZE];
	uint32_t lens[VIRTIO_NET_QUEUE_SIZE];
	uint64_t rx_frames, tx_frames, rx_dropped, tx_dropped;
};

static void net_cfg_read(struct virtio_dev *vdev, unsigned off, void *data, unsigned len)
{
	struct virtio_net *n = vdev->priv;

	if (off < sizeof(n->cfg))
		memcpy(data, (uint8_t *)&n->cfg + off, MIN(len, sizeof(n->cfg) - off));
}

/* §5.1.3.1: the offload features that need others. */
static bool net_features_ok(struct virtio_dev *vdev, uint64_t f)
{
#define HAS(b) (!!(f & BIT(VIRTIO_NET_F_##b)))
	if ((HAS(GUEST_TSO4) || HAS(GUEST_TSO6) || HAS(GUEST_UFO)) && !HAS(GUEST_CSUM))
		return false;
	if (HAS(GUEST_ECN) && !HAS(GUEST_TSO4) && !HAS(GUEST_TSO6))
		return false;
	if ((HAS(HOST_TSO4) || HAS(HOST_TSO6) || HAS(HOST_UFO)) && !HAS(CSUM))
		return false;
	if (HAS(HOST_ECN) && !HAS(HOST_TSO4) && !HAS(HOST_TSO6))
		return false;
	return true;
#undef HAS
}

static void rx_arm(struct virtio_net *n, bool on)
{
	if (n->rx_armed == on)
		return;
	n->rx_armed = on;
	virtio__mod_fd(&n->vdev, n->fd, on ? EPOLLIN : 0);
}

/*
 * Copy the pending frame into receive buffers. True when the frame is done with (delivered, or dropped
 * because it cannot fit); false when the ring has too few buffers now (they are given back).
 */
static bool rx_deliver(struct virtio_net *n, struct virtq *vq, int *err)
{
	bool mrg = virtio__has(&n->vdev, VIRTIO_NET_F_MRG_RXBUF);
	struct iovec nb[2];
	unsigned nbufs = 0, nnb = 0;
	size_t off = 0;
	uint16_t num;

	if (!mrg) {
		/* One buffer per frame: num_buffers is 1 (§5.1.6.4). */
		n->frame[NUM_BUFFERS_OFF] = 1;
		n->frame[NUM_BUFFERS_OFF + 1] = 0;
	}
	while (off < n->frame_len) {
		int ret;
		size_t c;

		if (nbufs == ARRAY_SIZE(n->heads)) {
			/* Buffers so small that a queue's worth does not hold the frame. */
			virtq__unpop(vq, nbufs);
			n->rx_dropped++;
			return true;
		}
		ret = virtq__pop(vq, n->req);
		if (ret <= 0) {
			virtq__unpop(vq, nbufs);
			*err = ret;
			return false;
		}
		if (!mrg && n->req->in_len < n->frame_len) {
			/* §5.1.6.3.1 sizes buffers for the frames the driver can take: this one it cannot. */
			virtq__unpop(vq, 1);
			n->rx_dropped++;
			return true;
		}
		if (nbufs == 0)
			nnb = iov__slice(virtq__in_iov(n->req), n->req->nin, NUM_BUFFERS_OFF, 2, nb, 2);
		c = iov__from_buf(virtq__in_iov(n->req), n->req->nin, 0, n->frame + off, n->frame_len - off);
		if (!c) {
			/* A buffer with no device-writable room: nothing can be delivered into it. */
			snprintf(vq->err, sizeof(vq->err), "queue 0: receive buffer at head %u has no writable part",
				 n->req->head);
			virtq__unpop(vq, nbufs + 1);
			*err = -EIO;
			return false;
		}
		n->heads[nbufs] = n->req->head;
		n->lens[nbufs++] = c;
		off += c;
		if (!mrg)
			break;
	}
	/* num_buffers in the first buffer's header (§5.1.6.4). */
	num = htole16(nbufs);
	if (mrg && iov__from_buf(nb, nnb, 0, &num, 2) != 2) {
		snprintf(vq->err, sizeof(vq->err), "queue 0: receive buffer at head %u is shorter than the header",
			 n->heads[0]);
		*err = -EIO;
		return false;
	}
	for (unsigned i = 0; i < nbufs; i++) {
		if (virtq__push(vq, n->heads[i], n->lens[i])) {
			*err = -EFAULT;
			return false;
		}
	}
	n->rx_frames++;
	return true;
}

static void net_rx(struct virtio_net *n)
{
	struct virtq *vq = &n->vdev.vq[RXQ];

	for (int budget = RX_BUDGET; budget > 0; budget--) {
		int err = 0;

		if (!n->frame_pending) {
			ssize_t r = read(n->fd, n->frame, VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;	/* EAGAIN: drained; an error: nothing to deliver now */
			if (r < VIRTIO_NET_HDR_LEN) {
				n->rx_dropped++;
				continue;
			}
			n->frame_len = r;
			n->frame_pending = true;
		}
		if (rx_deliver(n, vq, &err)) {
			n->frame_pending = false;
			continue;
		}
		if (err) {
			virtio__queue_done(&n->vdev, vq);
			virtio__queue_error(&n->vdev, vq);
			rx_arm(n, false);
			return;
		}
		/* Out of receive buffers: stop reading the tap until the driver kicks the queue. */
		rx_arm(n, false);
		if (!virtq__set_notify(vq, true))
			break;
		rx_arm(n, true);
	}
	virtio__queue_done(&n->vdev, vq);
}

/* One frame: header and data in the driver's buffers, written to the tap in one go. */
static void tx_one(struct virtio_net *n, const struct virtq_req *req)
{
	unsigned cnt = req->nout;
	ssize_t w;

	if (req->out_len < VIRTIO_NET_HDR_LEN || req->out_len > VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME) {
		n->tx_dropped++;
		return;
	}
	if (cnt > IOV_MAX) {
		/* Too fragmented for one writev: linearise (frames are at most 64 KiB). */
		iov__to_buf(req->iov, req->nout, 0, n->txbuf, req->out_len);
		w = write(n->fd, n->txbuf, req->out_len);
	} else {
		do
			w = writev(n->fd, req->iov, cnt);
		while (w < 0 && errno == EINTR);
	}
	/* A full tap queue (EAGAIN) drops the frame, as a full NIC transmit queue would. */
	if (w < 0)
		n->tx_dropped++;
	else
		n->tx_frames++;
}

static void net_tx(struct virtio_net *n, struct virtq *vq)
{
	int ret;

	do {
		virtq__set_notify(vq, false);
		while ((ret = virtq__pop(vq, n->req)) > 0) {
			tx_one(n, n->req);
			if (virtq__push(vq, n->req->head, 0)) {
				virtio__queue_error(&n->vdev, vq);
				return;
			}
		}
		virtio__queue_done(&n->vdev, vq);
		if (ret < 0) {
			virtio__queue_error(&n->vdev, vq);
			return;
		}
	} while (virtq__set_notify(vq, true));
}

static void net_queue_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct virtio_net *n = vdev->priv;

	if (vq->index == TXQ) {
		net_tx(n, vq);
	} else {
		/* New receive buffers: take frames from the tap again (a pending one first). */
		rx_arm(n, true);
		if (n->frame_pending)
			net_rx(n);
	}
}

static void net_fd_ready(struct virtio_dev *vdev, int fd, uint32_t events)
{
	struct virtio_net *n = vdev->priv;

	if (!virtio__running(vdev) || !vdev->vq[RXQ].enabled) {
		rx_arm(n, false);
		return;
	}
	net_rx(n);
}

/* The receive offloads the driver accepted, as TUN_F_* for the tap. */
static unsigned tap_flags(struct virtio_dev *vdev)
{
	unsigned f = 0;

	if (virtio__has(vdev, VIRTIO_NET_F_GUEST_CSUM))
		f |= TUN_F_CSUM;
	if (virtio__has(vdev, VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (virtio__has(vdev, VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if (virtio__has(vdev, VIRTIO_NET_F_GUEST_ECN))
		f |= TUN_F_TSO_ECN;
	return f;
}

static void net_start(struct virtio_dev *vdev)
{
	struct virtio_net *n = vdev->priv;
	int ret;

	if (n->is_tap) {
		ret = tap__set_offload(n->fd, tap_flags(vdev));
		if (ret < 0)
			pr_warn("%s: TUNSETOFFLOAD %#x: %s", n->name, tap_flags(vdev), strerror(-ret));
	}
	rx_arm(n, vdev->vq[RXQ].enabled);
}

static void net_reset(struct virtio_dev *vdev)
{
	struct virtio_net *n = vdev->priv;

	rx_arm(n, false);
	n->frame_pending = false;
	/* No offloaded frames for a driver that has not accepted them yet. */
	if (n->is_tap)
		tap__set_offload(n->fd, 0);
}

static const struct virtio_dev_ops net_ops = {
	.features_ok = net_features_ok,
	.cfg_read = net_cfg_read,
	.queue_notify = net_queue_notify,
	.fd_ready = net_fd_ready,
	.start = net_start,
	.reset = net_reset,
};

static struct virtio_net *net_new(struct pci_host *host, int fd, bool is_tap, unsigned offloads, const uint8_t mac[6],
				  unsigned index)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	uint64_t f;

	if (!n)
		goto fail_fd;
	snprintf(n->name, sizeof(n->name), "virtio-net%u", index);
	n->fd = fd;
	n->is_tap = is_tap;
	n->tap_offloads = offloads;
	n->req = virtq__req_alloc();
	n->frame = malloc(VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME);
	n->txbuf = malloc(VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME);
	if (!n->req || !n->frame || !n->txbuf || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) ||
	    virtio__init_dev(&n->vdev, n->name, VIRTIO_ID_NET, PCI_CLASS_NETWORK_ETHERNET_CODE, 2,
			     VIRTIO_NET_QUEUE_SIZE, &net_ops, n)) {
		pr_err("%s: cannot create the device", n->name);
		goto fail;
	}
	memcpy(n->cfg.mac, mac, 6);
	n->cfg.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->cfg.max_virtqueue_pairs = htole16(1);
	f = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CSUM) |
	    BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN);
	if (offloads & TUN_F_CSUM)
		f |= BIT(VIRTIO_NET_F_GUEST_CSUM);
	if ((offloads & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) == (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6))
		f |= BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6);
	if ((f & BIT(VIRTIO_NET_F_GUEST_TSO4)) && (offloads & TUN_F_TSO_ECN))
		f |= BIT(VIRTIO_NET_F_GUEST_ECN);
	n->vdev.features = f;
	n->vdev.cfg_size = offsetof(struct virtio_net_config, mtu);
	if (virtio__add_fd(&n->vdev, fd, 0) || virtio__add(&n->vdev, host)) {
		pr_err("%s: cannot start the device", n->name);
		virtio__exit_dev(&n->vdev);
		goto fail;
	}
	return n;
fail:
	virtq__req_free(n->req);
	free(n->frame);
	free(n->txbuf);
	free(n);
fail_fd:
	close(fd);
	return NULL;
}

struct virtio_net *virtio_net__create_fd(struct pci_host *host, int fd, const uint8_t mac[6], bool guest_offloads,
					 unsigned index)
{
	return net_new(host, fd, false, guest_offloads ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN : 0,
		       mac, index);
}

struct virtio_net *virtio_net__create(struct pci_host *host, const struct net_config *cfg, unsigned index)
{
	uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 + index };
	struct virtio_net *n;
	unsigned offloads;
	char err[256];
	int fd;

	if (tap__open(TAP_DEV, cfg->tap, &fd, &offloads, err, sizeof(err))) {
		pr_err("%s", err);
		return NULL;
	}
	if (cfg->has_mac)
		memcpy(mac, cfg->mac, 6);
	n = net_new(host, fd, true, offloads, mac, index);
	if (n)
		pr_info("%s: tap %s, MAC %02x:%02x:%02x:%02x:%02x:%02x, receive offloads %#x", n->name, cfg->tap,
			mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], offloads);
	return n;
}

void virtio_net__destroy(struct virtio_net *n)
{
	if (!n)
		return;
	virtio__exit_dev(&n->vdev);
	pr_info("%s: stats: %llu frames received (%llu dropped), %llu sent (%llu dropped)", n->name,
		(unsigned long long)n->rx_frames, (unsigned long long)n->rx_dropped, (unsigned long long)n->tx_frames,
		(unsigned long long)n->tx_dropped);
	close(n->fd);
	virtq__req_free(n->req);
	free(n->frame);
	free(n->txbuf);
	free(n);
}
