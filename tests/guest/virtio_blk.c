// Tier 2: virtio-blk driven by a guest program: feature negotiation (VERSION_1 required, unknown
// features refused, ACCESS_PLATFORM offered exactly when the vIOMMU is there and then required), the
// image's data through direct and indirect chains, writes + flush that reach the file (checked on the
// host afterwards), get-id, discard, write-zeroes, out-of-range and misaligned requests (IOERR), an
// unknown type (UNSUPP), MSI-X interrupts, a descriptor loop and a buffer outside guest RAM (the device
// says DEVICE_NEEDS_RESET with a configuration interrupt, and works again after a reset).
// With "dma=iommu" on the command line the program builds VT-d first-stage tables that map an IOVA
// window onto low RAM and runs everything through them; a ring outside the window then also leaves a
// DMAR fault record naming the device.
// TEST-DISK: 8M pattern
// TEST-ARGS: --disk @DISK@
// TEST-ARGS: --disk @DISK@,direct
// TEST-ARGS: --disk @DISK@ --viommu flts
// TEST-ARGS: --disk @DISK@ --viommu flts --cmdline dma=iommu
// TEST-ARGS: --disk @DISK@ --viommu flts,fs1gp=off --cmdline dma=iommu
// TEST-ARGS: --disk @DISK@,aio=threads
// TEST-ARGS: --disk @DISK@,aio=threads,direct --viommu flts --cmdline dma=iommu
// TEST-ARGS: --cpus 2 --disk @DISK@,queues=4
// TEST-DISK-CHECK: 99 63 633f
// TEST-DISK-CHECK: 100 0 ffffffffffff9bff
// TEST-DISK-CHECK: 163 63 ffffffffffff5cc0
// TEST-DISK-CHECK: 164 0 a400
// TEST-DISK-CHECK: 300 0 0
// TEST-DISK-CHECK: 307 63 0
// TEST-DISK-CHECK: 308 0 13400
// TEST-EXPECT: PASS: virtio_blk
#include "test.h"
#include "virtio.h"

#define DISK_SECTORS	16384		/* TEST-DISK: 8M */
#define QSIZE		64
#define VEC_QUEUE	0x50
#define VEC_CONFIG	0x51
#define IOVA_WINDOW	(1ULL << 39)	/* 512 GiB: PML4 entry 1 */

static uint8_t ring_mem[VRING_MEM_SIZE(QSIZE)] __attribute__((aligned(4096)));
static struct vblk_slot slots[QSIZE / 3];
static uint64_t buf[128 * 1024 / 8] __attribute__((aligned(4096)));
static struct vdev dev;
static struct vring vq;
static volatile uint32_t queue_irqs, config_irqs;
static bool translated;

static void on_queue(struct intr_frame *f, void *arg)
{
	queue_irqs++;
}

static void on_config(struct intr_frame *f, void *arg)
{
	config_irqs++;
}

static uint64_t pattern(uint64_t sector, unsigned word)
{
	return sector * 256 + word;
}

static uint64_t wanted_features(uint64_t offered)
{
	uint64_t want = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VIRTIO_F_EVENT_IDX |
			1ULL << VIRTIO_F_ACCESS_PLATFORM | 1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_SEG_MAX |
			1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_DISCARD |
			1ULL << VIRTIO_BLK_F_WRITE_ZEROES | 1ULL << VIRTIO_BLK_F_RO;

	return offered & want;
}

/* Reset, negotiate, one queue with MSI-X vector 0, configuration vector 1, DRIVER_OK. */
static void bring_up(void)
{
	uint64_t f = wanted_features(virtio__device_features(&dev));

	TEST_EQ(virtio__negotiate(&dev, f), 0);
	TEST_EQ(virtio__set_config_vector(&dev, 1), 1);
	TEST_EQ(virtio__queue_setup(&dev, 0, &vq, ring_mem, QSIZE, 0), 0);
	vq.event_idx = f & (1ULL << VIRTIO_F_EVENT_IDX);
	virtio__driver_ok(&dev);
	TEST_EQ(virtio__status(&dev), VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
				      VIRTIO_S_DRIVER_OK);
}

static void check_features(void)
{
	uint64_t f = virtio__device_features(&dev);

	printf("virtio_blk: %02x:%02x.%x features 0x%llx\n", PCI_BUS(dev.bdf), PCI_DEV(dev.bdf), PCI_FN(dev.bdf),
	       (unsigned long long)f);
	TEST_ASSERT(f & (1ULL << VIRTIO_F_VERSION_1));
	TEST_EQ(!!(f & (1ULL << VIRTIO_F_ACCESS_PLATFORM)), platform.has_iommu);
	TEST_ASSERT(f & (1ULL << VIRTIO_BLK_F_FLUSH));
	TEST_ASSERT(f & (1ULL << VIRTIO_BLK_F_DISCARD));
	TEST_ASSERT(!(f & (1ULL << VIRTIO_BLK_F_RO)));
	/* FEATURES_OK is refused without VERSION_1, with a feature not offered, and (vIOMMU) without
	 * ACCESS_PLATFORM. */
	TEST_EQ(virtio__negotiate(&dev, wanted_features(f) & ~(1ULL << VIRTIO_F_VERSION_1)), -1);
	TEST_EQ(virtio__negotiate(&dev, wanted_features(f) | 1ULL << 62), -1);
	if (platform.has_iommu)
		TEST_EQ(virtio__negotiate(&dev, wanted_features(f) & ~(1ULL << VIRTIO_F_ACCESS_PLATFORM)), -1);
	TEST_EQ(virtio__negotiate(&dev, wanted_features(f)), 0);
}

static void check_pattern(uint64_t sector, unsigned nsec, bool inverted)
{
	for (unsigned s = 0; s < nsec; s++)
		for (unsigned w = 0; w < 64; w++) {
			uint64_t want = pattern(sector + s, w);

			TEST_ASSERT_MSG(buf[s * 64 + w] == (inverted ? ~want : want),
					"sector %llu word %u: 0x%llx", (unsigned long long)(sector + s), w,
					(unsigned long long)buf[s * 64 + w]);
		}
}

static void read_check(uint64_t sector, unsigned nsec, bool indirect, bool inverted)
{
	memset(buf, 0xee, nsec * 512);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_IN, sector, buf, nsec * 512, indirect), VIRTIO_BLK_S_OK);
	check_pattern(sector, nsec, inverted);
}

static void test_io(void)
{
	char id[21] = { 0 };

	TEST_EQ(virtio__cfg_read64(&dev, 0), DISK_SECTORS);	/* capacity */
	TEST_EQ(virtio__cfg_read32(&dev, 20), 512);		/* blk_size */
	TEST_ASSERT(virtio__cfg_read32(&dev, 12) >= 2);		/* seg_max */
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_GET_ID, 0, id, 20, false), VIRTIO_BLK_S_OK);
	TEST_STREQ(id, "disk.img");

	read_check(0, 8, false, false);
	read_check(777, 1, true, false);
	read_check(1000, 256, false, false);	/* 128 KiB: many pages */
	read_check(DISK_SECTORS - 256, 256, true, false);

	/* Write 64 sectors, flush, read back; the host checks the file afterwards (TEST-DISK-CHECK). */
	for (unsigned s = 0; s < 64; s++)
		for (unsigned w = 0; w < 64; w++)
			buf[s * 64 + w] = ~pattern(100 + s, w);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_OUT, 100, buf, 64 * 512, true), VIRTIO_BLK_S_OK);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false), VIRTIO_BLK_S_OK);
	read_check(100, 64, false, true);
	read_check(164, 1, false, false);

	/* Discard, and write zeroes (read back as zeros). */
	buf[0] = 200;
	buf[1] = 8;	/* struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags */
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_DISCARD, 0, buf, 16, false), VIRTIO_BLK_S_OK);
	buf[0] = 300;
	buf[1] = 8;
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_WRITE_ZEROES, 0, buf, 16, false), VIRTIO_BLK_S_OK);
	memset(buf, 0xee, 4096);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_IN, 300, buf, 4096, false), VIRTIO_BLK_S_OK);
	for (unsigned w = 0; w < 512; w++)
		TEST_EQ(buf[w], 0);

	/* Requests the device must refuse, each with a status. */
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_IN, DISK_SECTORS, buf, 512, false), VIRTIO_BLK_S_IOERR);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, buf, 1024, false), VIRTIO_BLK_S_IOERR);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_OUT, ~0ULL / 256, buf, 512, false), VIRTIO_BLK_S_IOERR);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_IN, 0, buf, 100, false), VIRTIO_BLK_S_IOERR);
	TEST_EQ(vblk__do(&dev, &vq, slots, 0x77, 0, buf, 512, false), VIRTIO_BLK_S_UNSUPP);
	TEST_ASSERT_MSG(queue_irqs > 0, "no queue interrupt arrived");
	printf("virtio_blk: I/O checks passed, %u queue interrupts\n", queue_irqs);
}

/*
 * The device must end up wanting a reset, and say so with a configuration interrupt (more than the
 * @irqs counted before the driver provoked it).
 */
static void expect_broken(const char *what, uint32_t irqs)
{
	struct timeout t;

	timeout__start(&t, 2000);
	while (!(virtio__status(&dev) & VIRTIO_S_NEEDS_RESET)) {
		TEST_ASSERT_MSG(!timeout__expired(&t), "%s: no DEVICE_NEEDS_RESET", what);
		cpu_relax();
	}
	timeout__start(&t, 1000);
	while (config_irqs == irqs) {
		TEST_ASSERT_MSG(!timeout__expired(&t), "%s: no configuration interrupt", what);
		cpu_relax();
	}
	printf("virtio_blk: %s: DEVICE_NEEDS_RESET and a configuration interrupt\n", what);
	TEST_EQ(virtio__reset(&dev), 0);
	bring_up();
	read_check(5, 1, false, false);
}

static void test_hostile(void)
{
	uint32_t irqs = config_irqs;

	/* A descriptor that chains to itself. */
	vq.desc[0] = (struct vring_desc){ virtio__dma(&dev, &slots[0].hdr), 16, VRING_DESC_F_NEXT, 0 };
	vring__publish(&vq, 0, true);
	expect_broken("descriptor loop", irqs);

	/* A data buffer far outside guest RAM (and, translated, outside the window). */
	vq.desc[0] = (struct vring_desc){ virtio__dma(&dev, &slots[0].hdr), 16, VRING_DESC_F_NEXT, 1 };
	vq.desc[1] = (struct vring_desc){ 0x7fff00000000ULL, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2 };
	vq.desc[2] = (struct vring_desc){ virtio__dma(&dev, (void *)&slots[0].status), 1, VRING_DESC_F_WRITE, 0 };
	irqs = config_irqs;
	vring__publish(&vq, 0, true);
	expect_broken("buffer outside RAM", irqs);

	if (translated) {
		/* The descriptor table itself at an IOVA the tables do not map: a DMAR fault. */
		uint64_t bad = IOVA_WINDOW + (8ULL << 30), addr;
		uint16_t sid;
		uint8_t reason;

		while (!virtio_dma__vtd_fault(&sid, &reason, &addr))
			;	/* forget earlier records (the buffer outside RAM faulted too) */
		TEST_EQ(virtio__negotiate(&dev, wanted_features(virtio__device_features(&dev))), 0);
		TEST_EQ(virtio__set_config_vector(&dev, 1), 1);
		dev.dma_off = bad - (uint64_t)(uintptr_t)ring_mem;	/* every ring address lands at @bad */
		TEST_EQ(virtio__queue_setup(&dev, 0, &vq, ring_mem, QSIZE, 0), 0);
		dev.dma_off = IOVA_WINDOW;
		irqs = config_irqs;
		virtio__driver_ok(&dev);
		vring__publish(&vq, 0, true);
		expect_broken("ring at an unmapped IOVA", irqs);
		TEST_EQ(virtio_dma__vtd_fault(&sid, &reason, &addr), 0);
		printf("virtio_blk: DMAR fault: source %02x:%02x.%x reason 0x%x address 0x%llx\n", PCI_BUS(sid),
		       PCI_DEV(sid), PCI_FN(sid), reason, (unsigned long long)addr);
		TEST_EQ(sid, dev.bdf);
		TEST_EQ(addr, bad & ~0xfffULL);
	}
}

int main(void)
{
	char dma[16];

	TEST_ASSERT_MSG(!virtio__find(VIRTIO_ID_BLOCK, 0, &dev), "no virtio-blk device (run with --disk)");
	translated = platform__cmdline_get("dma", dma, sizeof(dma)) && !strcmp(dma, "iommu");
	if (translated) {
		TEST_ASSERT_MSG(platform.has_iommu, "dma=iommu needs --viommu flts");
		TEST_EQ(virtio_dma__vtd_window(dev.bdf, IOVA_WINDOW), 0);
		dev.dma_off = IOVA_WINDOW;
	}
	intr__register(VEC_QUEUE, on_queue, NULL);
	intr__register(VEC_CONFIG, on_config, NULL);
	TEST_EQ(pci__msix_enable(dev.bdf, 0, msi__address(lapic__id()), msi__data(VEC_QUEUE)), 0);
	TEST_EQ(pci__msix_enable(dev.bdf, 1, msi__address(lapic__id()), msi__data(VEC_CONFIG)), 0);

	check_features();
	bring_up();
	test_io();
	test_hostile();
	read_check(1000, 256, true, false);
	test__pass("virtio_blk");
}
