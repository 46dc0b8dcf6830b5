/* Guest-side virtio-pci and a VT-d first-stage window for its DMA (see virtio.h). */
#include "guest.h"
#include "virtio.h"

/* Common configuration (virtio 1.2 §4.1.4.3). */
#define CC_DFSELECT	0x00
#define CC_DF		0x04
#define CC_GFSELECT	0x08
#define CC_GF		0x0c
#define CC_MSIX		0x10
#define CC_STATUS	0x14
#define CC_Q_SELECT	0x16
#define CC_Q_SIZE	0x18
#define CC_Q_MSIX	0x1a
#define CC_Q_ENABLE	0x1c
#define CC_Q_NOFF	0x1e
#define CC_Q_DESC	0x20
#define CC_Q_AVAIL	0x28
#define CC_Q_USED	0x30

#define PCI_CAP_ID_VNDR	0x09
#define CAP_COMMON	1
#define CAP_NOTIFY	2
#define CAP_ISR		3
#define CAP_DEVICE	4

struct find_ctx {
	uint16_t type;
	int nth;
	int found;
};

static void find_one(uint16_t bdf, void *arg)
{
	struct find_ctx *c = arg;

	if (c->found >= 0 || pci__read16(bdf, PCI_VENDOR_ID) != 0x1af4 ||
	    pci__read16(bdf, PCI_DEVICE_ID) != 0x1040 + c->type)
		return;
	if (c->nth-- == 0)
		c->found = bdf;
}

int virtio__find(uint16_t type, int nth, struct vdev *d)
{
	struct find_ctx c = { type, nth, -1 };
	uint64_t bar_addr[6] = { 0 };
	unsigned have = 0;
	uint8_t off;

	memset(d, 0, sizeof(*d));
	if (!platform.has_pci)
		return -1;
	pci__enumerate(find_one, &c);
	if (c.found < 0)
		return -1;
	d->bdf = c.found;
	for (int i = 0; i < 6;) {
		struct pci_bar b;
		int n = pci__bar_probe(d->bdf, i, &b);

		bar_addr[i] = b.io ? 0 : b.addr;
		i += n ? n : 1;
	}
	pci__write16(d->bdf, PCI_COMMAND, pci__read16(d->bdf, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* The vendor-specific capabilities say where each structure is (§4.1.4). */
	off = pci__read8(d->bdf, PCI_CAPABILITY_LIST) & 0xfc;
	for (int n = 0; off >= 0x40 && n < 48; n++, off = pci__read8(d->bdf, off + 1) & 0xfc) {
		uint8_t type_ = pci__read8(d->bdf, off + 3), bar = pci__read8(d->bdf, off + 4);
		uint64_t addr;

		if (pci__read8(d->bdf, off) != PCI_CAP_ID_VNDR || bar > 5 || !bar_addr[bar])
			continue;
		addr = bar_addr[bar] + pci__read32(d->bdf, off + 8);
		switch (type_) {
		case CAP_COMMON:
			d->common = addr;
			break;
		case CAP_NOTIFY:
			d->notify = addr;
			d->notify_mult = pci__read32(d->bdf, off + 16);
			break;
		case CAP_ISR:
			d->isr = addr;
			break;
		case CAP_DEVICE:
			d->device = addr;
			break;
		default:
			continue;
		}
		have |= 1u << type_;
	}
	return have == 0x1e ? 0 : -1;
}

uint64_t virtio__dma(const struct vdev *d, const void *p)
{
	return (uint64_t)(uintptr_t)p + d->dma_off;
}

uint8_t virtio__status(const struct vdev *d)
{
	return mmio_read8(d->common + CC_STATUS);
}

void virtio__set_status(const struct vdev *d, uint8_t s)
{
	mmio_write8(d->common + CC_STATUS, s);
}

int virtio__reset(const struct vdev *d)
{
	struct timeout t;

	virtio__set_status(d, 0);
	timeout__start(&t, 1000);
	while (virtio__status(d)) {
		if (timeout__expired(&t))
			return -1;
	}
	return 0;
}

uint64_t virtio__device_features(const struct vdev *d)
{
	uint64_t f;

	mmio_write32(d->common + CC_DFSELECT, 0);
	f = mmio_read32(d->common + CC_DF);
	mmio_write32(d->common + CC_DFSELECT, 1);
	return f | (uint64_t)mmio_read32(d->common + CC_DF) << 32;
}

int virtio__negotiate(const struct vdev *d, uint64_t features)
{
	if (virtio__reset(d))
		return -1;
	virtio__set_status(d, VIRTIO_S_ACKNOWLEDGE);
	virtio__set_status(d, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	mmio_write32(d->common + CC_GFSELECT, 0);
	mmio_write32(d->common + CC_GF, (uint32_t)features);
	mmio_write32(d->common + CC_GFSELECT, 1);
	mmio_write32(d->common + CC_GF, features >> 32);
	virtio__set_status(d, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	/* §3.1.1 step 6: the device may refuse them by leaving FEATURES_OK clear. */
	return virtio__status(d) & VIRTIO_S_FEATURES_OK ? 0 : -1;
}

static void write64(uint64_t addr, uint64_t v)
{
	/* As Linux does: two dword writes, low half first. */
	mmio_write32(addr, (uint32_t)v);
	mmio_write32(addr + 4, v >> 32);
}

int virtio__queue_setup(const struct vdev *d, uint16_t q, struct vring *vr, void *mem, uint16_t num,
			uint16_t msix_vector)
{
	uint8_t *m = mem;
	uint64_t used_off = (16 * num + 6 + 2 * num + 4095) & ~4095ULL;

	memset(mem, 0, VRING_MEM_SIZE(num));
	memset(vr, 0, sizeof(*vr));
	vr->num = num;
	vr->index = q;
	vr->desc = (struct vring_desc *)m;
	vr->avail = (struct vring_avail *)(m + 16 * num);
	vr->used = (struct vring_used *)(m + used_off);
	mmio_write16(d->common + CC_Q_SELECT, q);
	if (mmio_read16(d->common + CC_Q_SIZE) < num)
		return -1;
	mmio_write16(d->common + CC_Q_SIZE, num);
	mmio_write16(d->common + CC_Q_MSIX, msix_vector);
	write64(d->common + CC_Q_DESC, virtio__dma(d, vr->desc));
	write64(d->common + CC_Q_AVAIL, virtio__dma(d, vr->avail));
	write64(d->common + CC_Q_USED, virtio__dma(d, vr->used));
	vr->notify = d->notify + (uint64_t)mmio_read16(d->common + CC_Q_NOFF) * d->notify_mult;
	mmio_write16(d->common + CC_Q_ENABLE, 1);
	return mmio_read16(d->common + CC_Q_ENABLE) == 1 ? 0 : -1;
}

uint16_t virtio__set_config_vector(const struct vdev *d, uint16_t vector)
{
	mmio_write16(d->common + CC_MSIX, vector);
	return mmio_read16(d->common + CC_MSIX);
}

void virtio__driver_ok(const struct vdev *d)
{
	virtio__set_status(d, virtio__status(d) | VIRTIO_S_DRIVER_OK);
}

uint8_t virtio__cfg_read8(const struct vdev *d, unsigned off)
{
	return mmio_read8(d->device + off);
}

uint32_t virtio__cfg_read32(const struct vdev *d, unsigned off)
{
	return mmio_read32(d->device + off);
}

uint64_t virtio__cfg_read64(const struct vdev *d, unsigned off)
{
	return mmio_read32(d->device + off) | (uint64_t)mmio_read32(d->device + off + 4) << 32;
}

void vring__kick(struct vring *vr)
{
	mmio_write16(vr->notify, vr->index);
}

void vring__publish(struct vring *vr, uint16_t head, bool kick)
{
	vr->avail->ring[vr->avail_idx % vr->num] = head;
	if (vr->event_idx)
		vr->avail->ring[vr->num] = vr->last_used;	/* used_event: interrupt for the next one */
	/* The entry before the index (§2.7.13): x86 keeps stores in order, the compiler must too. */
	barrier();
	WRITE_ONCE(vr->avail->idx, ++vr->avail_idx);
	barrier();
	if (kick)
		vring__kick(vr);
}

bool vring__pop_used(struct vring *vr, uint32_t *id, uint32_t *len)
{
	struct vring_used_elem *e;

	if (READ_ONCE(vr->used->idx) == vr->last_used)
		return false;
	barrier();
	e = &vr->used->ring[vr->last_used % vr->num];
	*id = e->id;
	*len = e->len;
	vr->last_used++;
	return true;
}

bool vring__wait_used(struct vring *vr, uint32_t *id, uint32_t *len, unsigned ms)
{
	struct timeout t;

	timeout__start(&t, ms);
	while (!vring__pop_used(vr, id, len)) {
		if (timeout__expired(&t))
			return false;
		cpu_relax();
	}
	return true;
}

/* ---- virtio-blk ---- */

void vblk__submit(const struct vdev *d, struct vring *vr, struct vblk_slot *slots, unsigned slot, uint32_t type,
		  uint64_t sector, void *buf, uint32_t len, bool indirect, bool kick)
{
	struct vblk_slot *s = &slots[slot];
	bool dev_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct vring_desc *t = indirect ? s->ind : &vr->desc[3 * slot];
	uint16_t base = indirect ? 0 : 3 * slot, n = 0;

	s->hdr.type = type;
	s->hdr.ioprio = 0;
	s->hdr.sector = sector;
	s->status = 0xff;
	t[n] = (struct vring_desc){ virtio__dma(d, &s->hdr), sizeof(s->hdr), VRING_DESC_F_NEXT, base + 1 };
	n++;
	if (len) {
		t[n] = (struct vring_desc){ virtio__dma(d, buf), len,
					    VRING_DESC_F_NEXT | (dev_writes ? VRING_DESC_F_WRITE : 0), base + 2 };
		n++;
	}
	t[n] = (struct vring_desc){ virtio__dma(d, (void *)&s->status), 1, VRING_DESC_F_WRITE, 0 };
	n++;
	if (indirect)
		vr->desc[3 * slot] = (struct vring_desc){ virtio__dma(d, s->ind), n * sizeof(struct vring_desc),
							   VRING_DESC_F_INDIRECT, 0 };
	vring__publish(vr, 3 * slot, kick);
}

int vblk__do(const struct vdev *d, struct vring *vr, struct vblk_slot *slots, uint32_t type, uint64_t sector,
	     void *buf, uint32_t len, bool indirect)
{
	uint32_t id, used;

	vblk__submit(d, vr, slots, 0, type, sector, buf, len, indirect, true);
	if (!vring__wait_used(vr, &id, &used, 2000))
		return -1;
	return id == 0 ? slots[0].status : -1;
}

/* ---- VT-d: a first-stage window for the device's DMA ---- */

#define VTD_CAP		0x08
#define VTD_ECAP	0x10
#define VTD_GCMD	0x18
#define VTD_GSTS	0x1c
#define VTD_RTADDR	0x20
#define VTD_FSTS	0x34
#define GCMD_TE		(1u << 31)
#define GCMD_SRTP	(1u << 30)
#define ECAP_SMTS	(1ULL << 43)
#define ECAP_FSTS	(1ULL << 47)
#define CAP_FS1GP	(1ULL << 56)
#define RTADDR_SMT	(1ULL << 10)	/* TTM = 01: scalable mode */
#define FS_P		0x1
#define FS_RW		0x2
#define FS_US		0x4		/* virtio requests are user requests (no PASID, RID_PRIV 0) */
#define FS_PS		0x80
#define PGTT_FS		1		/* PASID entry: first-stage only */

static uint64_t root_table[512] __attribute__((aligned(4096)));
static uint64_t ctx_table[512] __attribute__((aligned(4096)));
static uint64_t pasid_dir[512] __attribute__((aligned(4096)));
static uint64_t pasid_table[512] __attribute__((aligned(4096)));
static uint64_t fs_pml4[512] __attribute__((aligned(4096)));
static uint64_t fs_pdpt[512] __attribute__((aligned(4096)));
static uint64_t fs_pd[4][512] __attribute__((aligned(4096)));

static void vtd_cmd(uint64_t base, uint32_t cmd)
{
	struct timeout t;

	mmio_write32(base + VTD_GCMD, cmd);
	/* The status follows the command synchronously on this unit; wait a little anyway. */
	timeout__start(&t, 100);
	while ((mmio_read32(base + VTD_GSTS) & cmd) != cmd && !timeout__expired(&t))
		cpu_relax();
}

int virtio_dma__vtd_window(uint16_t bdf, uint64_t iova_base)
{
	uint64_t base = platform.iommu_base, cap, ecap;
	unsigned devfn = bdf & 0xff;

	if (!platform.has_iommu || (iova_base & ((1ULL << 39) - 1))) {
		printf("virtio: no VT-d unit, or the window is not 512 GiB aligned\n");
		return -1;
	}
	cap = mmio_read64(base + VTD_CAP);
	ecap = mmio_read64(base + VTD_ECAP);
	if (!(ecap & ECAP_SMTS) || !(ecap & ECAP_FSTS)) {
		printf("virtio: VT-d ECAP 0x%llx lacks scalable mode or first-stage translation\n",
		       (unsigned long long)ecap);
		return -1;
	}
	/* Root entry of bus 0, lower half (devfn 0-127) or upper half; its context table. */
	root_table[2 * (bdf >> 8) + (devfn >= 128)] = (uint64_t)(uintptr_t)ctx_table | 1;
	/* Scalable context entry (256 bits): P, PDTS 0 (128 PASIDs), PASID directory; RID_PASID 0. */
	ctx_table[4 * (devfn & 0x7f)] = (uint64_t)(uintptr_t)pasid_dir | 1;
	ctx_table[4 * (devfn & 0x7f) + 1] = 0;
	pasid_dir[0] = (uint64_t)(uintptr_t)pasid_table | 1;
	/* PASID entry 0 (512 bits): P, AW 48-bit, PGTT first-stage; DID 1; 4-level FS tables. */
	pasid_table[0] = 1 | 2 << 2 | (uint64_t)PGTT_FS << 6;
	pasid_table[1] = 1;
	pasid_table[2] = (uint64_t)(uintptr_t)fs_pml4;
	/* IOVA [base, base + 4 GiB) -> [0, 4 GiB). */
	fs_pml4[(iova_base >> 39) & 0x1ff] = (uint64_t)(uintptr_t)fs_pdpt | FS_P | FS_RW | FS_US;
	for (uint64_t g = 0; g < 4; g++) {
		if (cap & CAP_FS1GP) {
			fs_pdpt[g] = g << 30 | FS_P | FS_RW | FS_US | FS_PS;
			continue;
		}
		fs_pdpt[g] = (uint64_t)(uintptr_t)fs_pd[g] | FS_P | FS_RW | FS_US;
		for (uint64_t m = 0; m < 512; m++)
			fs_pd[g][m] = g << 30 | m << 21 | FS_P | FS_RW | FS_US | FS_PS;
	}
	barrier();
	mmio_write64(base + VTD_RTADDR, (uint64_t)(uintptr_t)root_table | RTADDR_SMT);
	vtd_cmd(base, GCMD_SRTP);
	vtd_cmd(base, GCMD_TE);
	if (!(mmio_read32(base + VTD_GSTS) & GCMD_TE)) {
		printf("virtio: VT-d translation did not turn on\n");
		return -1;
	}
	printf("virtio: VT-d first-stage window 0x%llx for %02x:%02x.%x (%s pages)\n",
	       (unsigned long long)iova_base, PCI_BUS(bdf), PCI_DEV(bdf), PCI_FN(bdf),
	       cap & CAP_FS1GP ? "1 GiB" : "2 MiB");
	return 0;
}

int virtio_dma__vtd_fault(uint16_t *sid, uint8_t *reason, uint64_t *addr)
{
	uint64_t base = platform.iommu_base, cap = mmio_read64(base + VTD_CAP);
	unsigned fro = ((cap >> 24) & 0x3ff) * 16, nfr = ((cap >> 40) & 0xff) + 1;

	for (unsigned i = 0; i < nfr; i++) {
		uint64_t lo = mmio_read64(base + fro + 16 * i), hi = mmio_read64(base + fro + 16 * i + 8);

		if (!(hi >> 63))
			continue;
		*sid = hi & 0xffff;
		*reason = (hi >> 32) & 0xff;
		*addr = lo & ~0xfffULL;
		mmio_write32(base + fro + 16 * i + 12, 1u << 31);	/* F is write-1-to-clear */
		mmio_write32(base + VTD_FSTS, 0x3);			/* PFO, PPF */
		return 0;
	}
	return -1;
}
