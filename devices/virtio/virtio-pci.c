/*
 * virtio-pci transport, modern interface (virtio 1.2 §4.1): the vendor capabilities, the common
 * configuration structure (§4.1.4.3), the ISR status (§4.1.4.5), the device configuration window, the
 * notify area (§4.1.4.4), the PCI configuration access window (§4.1.4.9), feature negotiation
 * (§2.2, §3.1.1) and device reset (§2.4).
 *
 * Common configuration fields may be accessed at any width: a read builds the whole structure and
 * returns the bytes asked for; a write merges its bytes into each field it touches and applies that
 * field. So a driver that writes a 64-bit queue address as two dwords, or as one qword, gets the same.
 */
#include "devices/virtio/virtio.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/pci-host.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define PCI_CAP_VNDR_LEN	16	/* struct virtio_pci_cap */
#define PCI_CAP_NOTIFY_LEN	20	/* + notify_off_multiplier */
#define PCI_CAP_PCICFG_LEN	20	/* + pci_cfg_data */
#define PCICFG_DATA		16

struct field {
	uint8_t off, len;
};

static const struct field common_fields[] = {
	{ VIRTIO_PCI_COMMON_DFSELECT, 4 }, { VIRTIO_PCI_COMMON_DF, 4 }, { VIRTIO_PCI_COMMON_GFSELECT, 4 },
	{ VIRTIO_PCI_COMMON_GF, 4 }, { VIRTIO_PCI_COMMON_MSIX, 2 }, { VIRTIO_PCI_COMMON_NUMQ, 2 },
	{ VIRTIO_PCI_COMMON_STATUS, 1 }, { VIRTIO_PCI_COMMON_CFGGENERATION, 1 },
	{ VIRTIO_PCI_COMMON_Q_SELECT, 2 }, { VIRTIO_PCI_COMMON_Q_SIZE, 2 }, { VIRTIO_PCI_COMMON_Q_MSIX, 2 },
	{ VIRTIO_PCI_COMMON_Q_ENABLE, 2 }, { VIRTIO_PCI_COMMON_Q_NOFF, 2 }, { VIRTIO_PCI_COMMON_Q_DESCLO, 4 },
	{ VIRTIO_PCI_COMMON_Q_DESCHI, 4 }, { VIRTIO_PCI_COMMON_Q_AVAILLO, 4 }, { VIRTIO_PCI_COMMON_Q_AVAILHI, 4 },
	{ VIRTIO_PCI_COMMON_Q_USEDLO, 4 }, { VIRTIO_PCI_COMMON_Q_USEDHI, 4 }, { VIRTIO_PCI_COMMON_Q_NDATA, 2 },
	{ VIRTIO_PCI_COMMON_Q_RESET, 2 },
};

/* What a register write asks the caller to do once the register lock is dropped. */
struct after_write {
	bool reset, start;
	char broken[160];
};

static struct virtio_dev *to_vdev(struct pci_device *dev)
{
	return container_of(dev, struct virtio_dev, pci);
}

uint64_t virtio__offered(struct virtio_dev *vdev)
{
	uint64_t f = vdev->features | BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
		     BIT(VIRTIO_RING_F_EVENT_IDX);

	/* Behind the vIOMMU the device's addresses are IOVAs: say so (§6.1). */
	if (vdev->pci.dma.iommu)
		f |= BIT(VIRTIO_F_ACCESS_PLATFORM);
	return f;
}

bool virtio__running(struct virtio_dev *vdev)
{
	bool on;

	pthread_mutex_lock(&vdev->lock);
	on = (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vdev->broken;
	pthread_mutex_unlock(&vdev->lock);
	return on;
}

void virtio__set_broken(struct virtio_dev *vdev, const char *why)
{
	uint16_t vec;
	bool first, loud;

	pthread_mutex_lock(&vdev->lock);
	first = !vdev->broken;
	/* A guest that breaks and resets the device in a loop must not flood the host's log. */
	loud = first && vdev->nr_broken++ < VIRTIO_LOG_LIMIT;
	vdev->broken = true;
	vdev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	vec = vdev->config_vector;
	pthread_mutex_unlock(&vdev->lock);
	if (!first)
		return;
	if (loud)
		pr_warn("%s: %s; the device needs a reset", vdev->name, why);
	else
		pr_debug("%s: %s; the device needs a reset", vdev->name, why);
	virtio__signal(vdev, vec, VIRTIO_ISR_CONFIG);
}

void virtio__config_changed(struct virtio_dev *vdev)
{
	uint16_t vec;

	pthread_mutex_lock(&vdev->lock);
	vdev->cfg_generation++;
	vec = vdev->config_vector;
	pthread_mutex_unlock(&vdev->lock);
	virtio__signal(vdev, vec, VIRTIO_ISR_CONFIG);
}

void virtio__queue_error(struct virtio_dev *vdev, struct virtq *vq)
{
	virtio__set_broken(vdev, vq->err[0] ? vq->err : "queue error");
}

void virtio__queue_done(struct virtio_dev *vdev, struct virtq *vq)
{
	uint16_t vec;

	if (virtq__flush(vq)) {
		virtio__queue_error(vdev, vq);
		return;
	}
	if (!virtq__need_interrupt(vq))
		return;
	pthread_mutex_lock(&vdev->lock);
	vec = vq->vector;
	pthread_mutex_unlock(&vdev->lock);
	virtio__signal(vdev, vec, VIRTIO_ISR_QUEUE);
}

/* ---- feature negotiation ---- */

/* May the driver's feature set be accepted (§3.1.1 step 5)? Locked. */
static bool features_acceptable(struct virtio_dev *vdev, char *why, size_t len)
{
	uint64_t offered = virtio__offered(vdev), f = vdev->driver_features;

	if (f & ~offered) {
		snprintf(why, len, "features %#llx were not offered", (unsigned long long)(f & ~offered));
		return false;
	}
	if (!(f & BIT(VIRTIO_F_VERSION_1))) {
		snprintf(why, len, "VIRTIO_F_VERSION_1 not accepted (legacy drivers are not supported)");
		return false;
	}
	if ((offered & BIT(VIRTIO_F_ACCESS_PLATFORM)) && !(f & BIT(VIRTIO_F_ACCESS_PLATFORM))) {
		snprintf(why, len, "VIRTIO_F_ACCESS_PLATFORM not accepted, but the device is behind the vIOMMU");
		return false;
	}
	if (vdev->ops->features_ok && !vdev->ops->features_ok(vdev, f)) {
		snprintf(why, len, "feature combination %#llx is invalid for this device", (unsigned long long)f);
		return false;
	}
	return true;
}

/* Locked. */
static void status_write(struct virtio_dev *vdev, uint8_t req, struct after_write *aw)
{
	const uint8_t dev_bits = VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET;
	uint8_t old = vdev->status, v;

	if (!req) {
		aw->reset = true;
		return;
	}
	/* The device owns FEATURES_OK (it may refuse it, §2.2.2) and NEEDS_RESET. */
	v = (req & ~dev_bits) | (old & dev_bits);
	if ((req & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		char why[128];

		if (features_acceptable(vdev, why, sizeof(why))) {
			v |= VIRTIO_CONFIG_S_FEATURES_OK;
			vdev->negotiated = vdev->driver_features;
			for (unsigned q = 0; q < vdev->nqueues; q++) {
				vdev->vq[q].event_idx = virtio__has(vdev, VIRTIO_RING_F_EVENT_IDX);
				vdev->vq[q].indirect = virtio__has(vdev, VIRTIO_RING_F_INDIRECT_DESC);
			}
		} else if (vdev->nr_refused++ < VIRTIO_LOG_LIMIT) {
			pr_warn("%s: FEATURES_OK refused: %s", vdev->name, why);
		} else {
			pr_debug("%s: FEATURES_OK refused: %s", vdev->name, why);
		}
	}
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (v & VIRTIO_CONFIG_S_FEATURES_OK)
			aw->start = true;
		else
			snprintf(aw->broken, sizeof(aw->broken), "DRIVER_OK set without FEATURES_OK");
	}
	vdev->status = v;
}

/* ---- common configuration ---- */

static struct virtq *selected_vq(struct virtio_dev *vdev)
{
	return vdev->queue_select < vdev->nqueues ? &vdev->vq[vdev->queue_select] : NULL;
}

static void put_le(uint8_t *p, unsigned len, uint64_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = v >> (8 * i);
}

static uint64_t get_le(const uint8_t *p, unsigned len)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The whole structure as the driver sees it now. Locked. */
static void common_image(struct virtio_dev *vdev, uint8_t *img)
{
	struct virtq *vq = selected_vq(vdev);
	uint64_t offered = virtio__offered(vdev);

	memset(img, 0, VIRTIO_COMMON_SIZE);
	put_le(img + VIRTIO_PCI_COMMON_DFSELECT, 4, vdev->dfselect);
	put_le(img + VIRTIO_PCI_COMMON_DF, 4, vdev->dfselect < 2 ? (uint32_t)(offered >> (32 * vdev->dfselect)) : 0);
	put_le(img + VIRTIO_PCI_COMMON_GFSELECT, 4, vdev->gfselect);
	put_le(img + VIRTIO_PCI_COMMON_GF, 4,
	       vdev->gfselect < 2 ? (uint32_t)(vdev->driver_features >> (32 * vdev->gfselect)) : 0);
	put_le(img + VIRTIO_PCI_COMMON_MSIX, 2, vdev->config_vector);
	put_le(img + VIRTIO_PCI_COMMON_NUMQ, 2, vdev->nqueues);
	img[VIRTIO_PCI_COMMON_STATUS] = vdev->status;
	img[VIRTIO_PCI_COMMON_CFGGENERATION] = vdev->cfg_generation;
	put_le(img + VIRTIO_PCI_COMMON_Q_SELECT, 2, vdev->queue_select);
	put_le(img + VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTQ_NO_VECTOR);
	if (!vq)
		return;
	put_le(img + VIRTIO_PCI_COMMON_Q_SIZE, 2, vq->num);
	put_le(img + VIRTIO_PCI_COMMON_Q_MSIX, 2, vq->vector);
	put_le(img + VIRTIO_PCI_COMMON_Q_ENABLE, 2, vq->enabled);
	put_le(img + VIRTIO_PCI_COMMON_Q_NOFF, 2, vq->index);
	put_le(img + VIRTIO_PCI_COMMON_Q_DESCLO, 8, vq->desc);
	put_le(img + VIRTIO_PCI_COMMON_Q_AVAILLO, 8, vq->avail);
	put_le(img + VIRTIO_PCI_COMMON_Q_USEDLO, 8, vq->used);
}

static uint16_t valid_vector(struct virtio_dev *vdev, uint32_t v)
{
	/* §4.1.4.3.2: a vector the device cannot use reads back as NO_VECTOR. */
	return v < vdev->nvec ? v : VIRTQ_NO_VECTOR;
}

static void set_half(uint64_t *reg, unsigned off, unsigned lo_off, uint32_t v)
{
	if (off == lo_off)
		*reg = (*reg & ~0xffffffffULL) | v;
	else
		*reg = (*reg & 0xffffffffULL) | (uint64_t)v << 32;
}

/* Apply a write of @v to the field at @off. Locked. */
static void common_field_write(struct virtio_dev *vdev, unsigned off, uint32_t v, struct after_write *aw)
{
	struct virtq *vq = selected_vq(vdev);
	bool feat_locked = vdev->status & VIRTIO_CONFIG_S_FEATURES_OK;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vdev->dfselect = v;
		return;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vdev->gfselect = v;
		return;
	case VIRTIO_PCI_COMMON_GF:
		/* §2.2.2: features are fixed once FEATURES_OK is accepted. */
		if (vdev->gfselect < 2 && !feat_locked) {
			unsigned shift = 32 * vdev->gfselect;

			vdev->driver_features = (vdev->driver_features & ~(0xffffffffULL << shift)) | (uint64_t)v << shift;
		}
		return;
	case VIRTIO_PCI_COMMON_MSIX:
		vdev->config_vector = valid_vector(vdev, v);
		return;
	case VIRTIO_PCI_COMMON_STATUS:
		status_write(vdev, v, aw);
		return;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vdev->queue_select = v;
		return;
	}
	if (!vq)
		return;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_MSIX:
		vq->vector = valid_vector(vdev, v);
		return;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* Only 1 may be written (§4.1.4.3.2); a bad configuration breaks the device. */
		if (v != 1 || vq->enabled)
			return;
		if (virtq__check(vq))
			snprintf(aw->broken, sizeof(aw->broken), "%s", vq->err);
		else
			vq->enabled = true;
		return;
	}
	/* The rest configures the queue: not once it is enabled (§4.1.4.3.2). */
	if (vq->enabled)
		return;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		vq->num = v;
		return;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		set_half(&vq->desc, off, VIRTIO_PCI_COMMON_Q_DESCLO, v);
		return;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		set_half(&vq->avail, off, VIRTIO_PCI_COMMON_Q_AVAILLO, v);
		return;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		set_half(&vq->used, off, VIRTIO_PCI_COMMON_Q_USEDLO, v);
		return;
	}
	/* Read-only fields and queue_reset (VIRTIO_F_RING_RESET is not offered): ignored. */
}

static void after_write(struct virtio_dev *vdev, struct after_write *aw)
{
	if (aw->broken[0])
		virtio__set_broken(vdev, aw->broken);
	if (aw->reset)
		virtio__reset(vdev);
	if (aw->start) {
		pthread_mutex_lock(&vdev->io_lock);
		if (vdev->ops->start)
			vdev->ops->start(vdev);
		pthread_mutex_unlock(&vdev->io_lock);
		/* Buffers the driver queued before DRIVER_OK are processed now. */
		for (unsigned q = 0; q < vdev->nqueues; q++)
			virtio__kick(vdev, q);
	}
}

static void common_io(struct virtio_dev *vdev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct after_write aw = { 0 };
	uint8_t img[VIRTIO_COMMON_SIZE];

	pthread_mutex_lock(&vdev->lock);
	common_image(vdev, img);
	if (!is_write) {
		for (unsigned i = 0; i < len; i++)
			data[i] = off + i < VIRTIO_COMMON_SIZE ? img[off + i] : 0;
		pthread_mutex_unlock(&vdev->lock);
		return;
	}
	for (size_t f = 0; f < ARRAY_SIZE(common_fields); f++) {
		unsigned fo = common_fields[f].off, fl = common_fields[f].len;

		if (off >= fo + fl || off + len <= fo)
			continue;
		for (unsigned i = 0; i < len; i++)
			if (off + i >= fo && off + i < fo + fl)
				img[off + i] = data[i];
		common_field_write(vdev, fo, get_le(img + fo, fl), &aw);
	}
	pthread_mutex_unlock(&vdev->lock);
	after_write(vdev, &aw);
}

/* ---- the BAR ---- */

static void devcfg_io(struct virtio_dev *vdev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	unsigned n = off < vdev->cfg_size ? MIN(len, vdev->cfg_size - (unsigned)off) : 0;

	if (!is_write) {
		memset(data, 0, len);
		if (n)
			vdev->ops->cfg_read(vdev, off, data, n);
	} else if (n && vdev->ops->cfg_write) {
		vdev->ops->cfg_write(vdev, off, data, n);
	}
}

static void virtio_bar_io(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	struct virtio_dev *vdev = opaque;

	if (off < VIRTIO_ISR_OFF) {
		common_io(vdev, off - VIRTIO_COMMON_OFF, data, len, is_write);
	} else if (off < VIRTIO_DEVCFG_OFF) {
		if (!is_write) {
			memset(data, 0, len);
			if (off == VIRTIO_ISR_OFF)
				virtio__isr_read_clear(vdev, data);
		}
	} else if (off < VIRTIO_NOTIFY_OFF) {
		devcfg_io(vdev, off - VIRTIO_DEVCFG_OFF, data, len, is_write);
	} else if (!is_write) {
		memset(data, 0, len);
	} else {
		/* A kick KVM did not take as an ioeventfd (other width, or no ioeventfd support). */
		uint64_t q = (off - VIRTIO_NOTIFY_OFF) / VIRTIO_NOTIFY_MULT;

		if (q < vdev->nqueues && (off - VIRTIO_NOTIFY_OFF) % VIRTIO_NOTIFY_MULT == 0)
			virtio__kick(vdev, q);
	}
}

/* ---- PCI configuration: the VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.9) ---- */

static bool pcicfg_window(struct virtio_dev *vdev, uint32_t *off, unsigned *len)
{
	unsigned cap = vdev->pcicfg_cap;

	if (pci__cfg_get(&vdev->pci, cap + VIRTIO_PCI_CAP_BAR, 1) != VIRTIO_BAR)
		return false;
	*off = pci__cfg_get(&vdev->pci, cap + VIRTIO_PCI_CAP_OFFSET, 4);
	*len = pci__cfg_get(&vdev->pci, cap + VIRTIO_PCI_CAP_LENGTH, 4);
	/* §4.1.4.9.1: 1, 2 or 4 bytes, naturally aligned, inside the BAR. */
	return (*len == 1 || *len == 2 || *len == 4) && IS_ALIGNED(*off, *len) && *off < VIRTIO_BAR_SIZE;
}

static void virtio_pci_cfg_read(struct pci_device *dev, unsigned off, unsigned len, uint32_t *val)
{
	struct virtio_dev *vdev = to_vdev(dev);
	unsigned data = vdev->pcicfg_cap + PCICFG_DATA, n;
	uint32_t boff;
	uint8_t buf[4] = { 0 };

	if (off != data || !pcicfg_window(vdev, &boff, &n) || len < n)
		return;
	virtio_bar_io(vdev, boff, buf, n, false);
	*val = (uint32_t)get_le(buf, len);
}

static void virtio_pci_cfg_write(struct pci_device *dev, unsigned off, unsigned len, uint32_t val)
{
	struct virtio_dev *vdev = to_vdev(dev);
	unsigned data = vdev->pcicfg_cap + PCICFG_DATA, n;
	uint32_t boff;
	uint8_t buf[4];

	if (off == data && pcicfg_window(vdev, &boff, &n) && len >= n) {
		put_le(buf, 4, val);
		virtio_bar_io(vdev, boff, buf, n, true);
	}
	/* The guest may have moved the BAR or turned decoding on or off: follow with the ioeventfds. */
	if (off < PCI_BASE_ADDRESS_0 + 4 * (VIRTIO_BAR + 2) && off + len > PCI_COMMAND)
		virtio__ioeventfd_update(vdev);
}

static const struct pci_device_ops virtio_pci_ops = {
	.cfg_read = virtio_pci_cfg_read,
	.cfg_write = virtio_pci_cfg_write,
	.vector_changed = virtio__vector_changed,
};

/* ---- set-up ---- */

static int add_cap(struct virtio_dev *vdev, uint8_t type, unsigned cap_len, uint32_t off, uint32_t len)
{
	int c = pci__add_cap(&vdev->pci, PCI_CAP_ID_VNDR, cap_len);

	if (c < 0)
		return c;
	pci__cfg_set(&vdev->pci, c + VIRTIO_PCI_CAP_LEN, 1, cap_len);
	pci__cfg_set(&vdev->pci, c + VIRTIO_PCI_CAP_CFG_TYPE, 1, type);
	pci__cfg_set(&vdev->pci, c + VIRTIO_PCI_CAP_BAR, 1, type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_BAR);
	pci__cfg_set(&vdev->pci, c + VIRTIO_PCI_CAP_OFFSET, 4, off);
	pci__cfg_set(&vdev->pci, c + VIRTIO_PCI_CAP_LENGTH, 4, len);
	return c;
}

int virtio__init_dev(struct virtio_dev *vdev, const char *name, uint16_t type, uint32_t class_code,
		     unsigned nqueues, uint16_t queue_max, const struct virtio_dev_ops *ops, void *priv)
{
	struct pci_device *pci = &vdev->pci;
	int c, ret;

	if (!nqueues || nqueues > VIRTIO_MAX_QUEUES || !queue_max || !ops || !ops->cfg_read)
		return -EINVAL;
	memset(vdev, 0, sizeof(*vdev));
	pci__init_dev(pci, name, VIRTIO_PCI_VENDOR_ID, VIRTIO_PCI_DEVICE_BASE + type, class_code,
		      VIRTIO_PCI_REVISION);
	pci__set_subsystem(pci, VIRTIO_PCI_VENDOR_ID, 0x1100);
	pci__cfg_set(pci, PCI_INTERRUPT_PIN, 1, 1);	/* INTA: the ISR path when MSI-X is off */
	pci->ops = &virtio_pci_ops;
	pci->priv = vdev;
	vdev->name = name;
	vdev->type = type;
	vdev->ops = ops;
	vdev->priv = priv;
	vdev->nqueues = nqueues;
	vdev->config_vector = VIRTQ_NO_VECTOR;
	vdev->epfd = vdev->stop_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vdev->kick_fd[q] = -1;
	pthread_mutex_init(&vdev->lock, NULL);
	pthread_mutex_init(&vdev->vec_lock, NULL);
	pthread_mutex_init(&vdev->io_lock, NULL);
	for (unsigned q = 0; q < nqueues; q++)
		virtq__init(&vdev->vq[q], q, queue_max, &pci->dma);

	ret = pci__add_bar(pci, VIRTIO_BAR, PCI_BAR_MEM64, VIRTIO_BAR_SIZE, false, virtio_bar_io, vdev);
	if (ret)
		goto fail;
	if ((ret = add_cap(vdev, VIRTIO_PCI_CAP_COMMON_CFG, PCI_CAP_VNDR_LEN, VIRTIO_COMMON_OFF,
			   VIRTIO_COMMON_SIZE)) < 0 ||
	    (ret = add_cap(vdev, VIRTIO_PCI_CAP_ISR_CFG, PCI_CAP_VNDR_LEN, VIRTIO_ISR_OFF, 1)) < 0 ||
	    (ret = add_cap(vdev, VIRTIO_PCI_CAP_DEVICE_CFG, PCI_CAP_VNDR_LEN, VIRTIO_DEVCFG_OFF,
			   VIRTIO_DEVCFG_MAX)) < 0)
		goto fail;
	c = add_cap(vdev, VIRTIO_PCI_CAP_NOTIFY_CFG, PCI_CAP_NOTIFY_LEN, VIRTIO_NOTIFY_OFF,
		    VIRTIO_NOTIFY_MULT * nqueues);
	if (c < 0) {
		ret = c;
		goto fail;
	}
	pci__cfg_set(pci, c + PCI_CAP_VNDR_LEN, 4, VIRTIO_NOTIFY_MULT);
	c = add_cap(vdev, VIRTIO_PCI_CAP_PCI_CFG, PCI_CAP_PCICFG_LEN, 0, 0);
	if (c < 0) {
		ret = c;
		goto fail;
	}
	vdev->pcicfg_cap = c;
	/* The driver picks the window (bar, offset, length) and moves data through pci_cfg_data. */
	pci__set_wmask(pci, c + VIRTIO_PCI_CAP_BAR, 1, 0xff);
	pci__set_wmask(pci, c + VIRTIO_PCI_CAP_OFFSET, 4, 0xffffffff);
	pci__set_wmask(pci, c + VIRTIO_PCI_CAP_LENGTH, 4, 0xffffffff);
	pci__set_wmask(pci, c + PCICFG_DATA, 4, 0xffffffff);
	/* One vector per queue and one for configuration changes. */
	ret = pci__msix_init(pci, nqueues + 1, VIRTIO_MSIX_BAR);
	if (ret)
		goto fail;
	ret = virtio__irq_init(vdev, nqueues + 1);
	if (ret)
		goto fail;
	ret = virtio__io_init(vdev);
	if (ret)
		goto fail;
	return 0;
fail:
	virtio__io_exit(vdev);
	virtio__irq_exit(vdev);
	pci__exit_dev(pci);
	return ret;
}

int virtio__add(struct virtio_dev *vdev, struct pci_host *host)
{
	int ret = pci_host__add(host, &vdev->pci, -1);

	if (ret) {
		pr_err("%s: no room on the PCI bus: %s", vdev->name, strerror(-ret));
		return ret;
	}
	ret = virtio__io_start(vdev);
	if (ret)
		pr_err("%s: cannot start the I/O thread: %s", vdev->name, strerror(-ret));
	return ret;
}

void virtio__reset(struct virtio_dev *vdev)
{
	/* Wait for the I/O thread to finish what it is doing: after this the device touches no ring. */
	pthread_mutex_lock(&vdev->io_lock);
	pthread_mutex_lock(&vdev->lock);
	vdev->status = 0;
	vdev->dfselect = vdev->gfselect = 0;
	vdev->driver_features = vdev->negotiated = 0;
	vdev->queue_select = 0;
	vdev->config_vector = VIRTQ_NO_VECTOR;
	vdev->isr = 0;
	vdev->broken = false;
	for (unsigned q = 0; q < vdev->nqueues; q++)
		virtq__reset(&vdev->vq[q]);
	pthread_mutex_unlock(&vdev->lock);
	pci__set_intx(&vdev->pci, false);
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	pthread_mutex_unlock(&vdev->io_lock);
}

void virtio__exit_dev(struct virtio_dev *vdev)
{
	virtio__io_stop(vdev);
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	virtio__io_exit(vdev);
	virtio__irq_exit(vdev);
	pci__exit_dev(&vdev->pci);
	pthread_mutex_destroy(&vdev->io_lock);
	pthread_mutex_destroy(&vdev->vec_lock);
	pthread_mutex_destroy(&vdev->lock);
}
