/*
 * A minimal virtio-pci (modern, virtio 1.2 §4.1) driver for guest programs: find a device by type,
 * negotiate features, set up split virtqueues (§2.7) in memory the program provides, kick, reap, and
 * optionally make the device's DMA go through the VT-d unit with first-stage tables the program builds
 * (virtio_dma__vtd_window): then every DMA address is an IOVA in a window that maps low RAM.
 *
 * Memory is identity-mapped (virtual = guest physical), so a buffer's DMA address is its address plus
 * the device's dma_off (0 untranslated, the window base with the vIOMMU).
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_RNG		4

#define VIRTIO_S_ACKNOWLEDGE	1
#define VIRTIO_S_DRIVER		2
#define VIRTIO_S_DRIVER_OK	4
#define VIRTIO_S_FEATURES_OK	8
#define VIRTIO_S_NEEDS_RESET	64
#define VIRTIO_S_FAILED		128

#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_NO_VECTOR	0xffff

#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

struct vdev {
	uint16_t bdf;
	uint64_t common, isr, device, notify;	/* MMIO addresses of the structures */
	uint32_t notify_mult;
	uint64_t dma_off;			/* DMA address = address + dma_off */
};

struct vring {
	uint16_t num, index;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;	/* next avail->idx to publish */
	uint16_t last_used;	/* used entries consumed */
	uint64_t notify;	/* this queue's notify address */
	bool event_idx;		/* VIRTIO_F_EVENT_IDX negotiated: keep used_event current */
};

/* Bytes of ring memory a queue of @num entries needs (aligned 4 KiB parts). */
#define VRING_MEM_SIZE(num)	(((16 * (num) + 6 + 2 * (num) + 4095) & ~4095) + ((6 + 8 * (num) + 4095) & ~4095))

/* The @nth (0-based) virtio function of @type; 0, or -1 if absent or without the capabilities. */
int virtio__find(uint16_t type, int nth, struct vdev *d);
uint64_t virtio__dma(const struct vdev *d, const void *p);
uint8_t virtio__status(const struct vdev *d);
void virtio__set_status(const struct vdev *d, uint8_t s);
/* Write 0 and wait until the device reads back 0 (§4.1.4.3.2). 0, or -1 on timeout. */
int virtio__reset(const struct vdev *d);
uint64_t virtio__device_features(const struct vdev *d);
/*
 * Reset, ACKNOWLEDGE, DRIVER, write @features, FEATURES_OK. Returns 0 if the device kept FEATURES_OK,
 * -1 if it refused them.
 */
int virtio__negotiate(const struct vdev *d, uint64_t features);
/* Set up queue @q (size @num, a power of two) in @mem (VRING_MEM_SIZE(num), 4 KiB aligned), enable it. */
int virtio__queue_setup(const struct vdev *d, uint16_t q, struct vring *vr, void *mem, uint16_t num,
			uint16_t msix_vector);
/* Configuration-change MSI-X vector; returns what the device read back. */
uint16_t virtio__set_config_vector(const struct vdev *d, uint16_t vector);
void virtio__driver_ok(const struct vdev *d);

uint8_t virtio__cfg_read8(const struct vdev *d, unsigned off);
uint32_t virtio__cfg_read32(const struct vdev *d, unsigned off);
uint64_t virtio__cfg_read64(const struct vdev *d, unsigned off);

/* Make chain @head available and kick (the kick is skipped when @kick is false). */
void vring__publish(struct vring *vr, uint16_t head, bool kick);
void vring__kick(struct vring *vr);
/* Take the next used entry: true with *@id and *@len, false if none yet. */
bool vring__pop_used(struct vring *vr, uint32_t *id, uint32_t *len);
/* Wait (polling) up to @ms milliseconds for a used entry. */
bool vring__wait_used(struct vring *vr, uint32_t *id, uint32_t *len, unsigned ms);

/* ---- virtio-blk requests (§5.2.6): slot i uses descriptors 3i..3i+2 (or 3i and an indirect table) ---- */
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8
#define VIRTIO_BLK_T_DISCARD	11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2
#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_BLK_SIZE	6
#define VIRTIO_BLK_F_FLUSH	9
#define VIRTIO_BLK_F_DISCARD	13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

struct vblk_slot {
	struct vring_desc ind[3];	/* indirect table */
	struct {
		uint32_t type, ioprio;
		uint64_t sector;
	} hdr;
	volatile uint8_t status;
} __attribute__((aligned(64)));

/*
 * Queue a request in slot @slot (head 3 * slot): @len bytes of @buf after the header (device-writable
 * for reads and GET_ID, readable otherwise; none if 0), then the status byte. @indirect: one descriptor
 * pointing at the slot's indirect table. Kicks when @kick.
 */
void vblk__submit(const struct vdev *d, struct vring *vr, struct vblk_slot *slots, unsigned slot, uint32_t type,
		  uint64_t sector, void *buf, uint32_t len, bool indirect, bool kick);
/* Submit in slot 0 and wait for it (2 s): its status, or -1 on timeout. */
int vblk__do(const struct vdev *d, struct vring *vr, struct vblk_slot *slots, uint32_t type, uint64_t sector,
	     void *buf, uint32_t len, bool indirect);

/*
 * VT-d (scalable mode, first-stage translation, virtio has only requests without PASID): point the
 * unit at tables that translate IOVA [@iova_base, + 4 GiB) to guest physical [0, 4 GiB) for function
 * @bdf, with 1 GiB pages when the unit offers them, and enable translation. Every other address faults.
 * Returns 0, or -1 (printing why) if the unit lacks scalable mode or first-stage support.
 */
int virtio_dma__vtd_window(uint16_t bdf, uint64_t iova_base);
/* The first pending fault record, if any: 0 with the values, -1 if none. Clears it. */
int virtio_dma__vtd_fault(uint16_t *sid, uint8_t *reason, uint64_t *addr);

#endif
