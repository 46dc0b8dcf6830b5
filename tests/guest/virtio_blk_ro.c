// Tier 2: virtio-blk on a read-only image (--disk PATH,readonly): VIRTIO_BLK_F_RO offered and
// discard / write-zeroes not, reads return the image, writes, discards and write-zeroes fail with
// IOERR, a flush succeeds, and the image is unchanged afterwards (checked on the host).
// TEST-DISK: 8M pattern
// TEST-ARGS: --disk @DISK@,readonly
// TEST-ARGS: --disk @DISK@,readonly --viommu flts --cmdline dma=iommu
// TEST-DISK-CHECK: 100 0 6400
// TEST-DISK-CHECK: 200 63 c83f
// TEST-EXPECT: PASS: virtio_blk_ro
#include "test.h"
#include "virtio.h"

#define QSIZE		16
#define IOVA_WINDOW	(1ULL << 39)

static uint8_t ring_mem[VRING_MEM_SIZE(QSIZE)] __attribute__((aligned(4096)));
static struct vblk_slot slots[QSIZE / 3];
static uint64_t buf[512] __attribute__((aligned(4096)));
static struct vdev dev;
static struct vring vq;

int main(void)
{
	uint64_t f;
	char dma[16];

	TEST_ASSERT_MSG(!virtio__find(VIRTIO_ID_BLOCK, 0, &dev), "no virtio-blk device (run with --disk)");
	if (platform__cmdline_get("dma", dma, sizeof(dma)) && !strcmp(dma, "iommu")) {
		TEST_EQ(virtio_dma__vtd_window(dev.bdf, IOVA_WINDOW), 0);
		dev.dma_off = IOVA_WINDOW;
	}
	f = virtio__device_features(&dev);
	TEST_ASSERT(f & (1ULL << VIRTIO_BLK_F_RO));
	TEST_ASSERT(!(f & (1ULL << VIRTIO_BLK_F_DISCARD)));
	TEST_ASSERT(!(f & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES)));
	f &= 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_ACCESS_PLATFORM | 1ULL << VIRTIO_F_INDIRECT_DESC |
	     1ULL << VIRTIO_BLK_F_RO |
	     1ULL << VIRTIO_BLK_F_FLUSH;
	TEST_EQ(virtio__negotiate(&dev, f), 0);
	TEST_EQ(virtio__queue_setup(&dev, 0, &vq, ring_mem, QSIZE, VIRTIO_NO_VECTOR), 0);
	virtio__driver_ok(&dev);

	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_IN, 100, buf, 4096, false), VIRTIO_BLK_S_OK);
	for (unsigned w = 0; w < 512; w++)
		TEST_EQ(buf[w], (100 + w / 64) * 256 + w % 64);
	memset(buf, 0x5a, sizeof(buf));
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_OUT, 100, buf, 4096, false), VIRTIO_BLK_S_IOERR);
	buf[0] = 200;
	buf[1] = 1;
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_DISCARD, 0, buf, 16, true), VIRTIO_BLK_S_IOERR);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_WRITE_ZEROES, 0, buf, 16, true), VIRTIO_BLK_S_IOERR);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false), VIRTIO_BLK_S_OK);
	TEST_EQ(vblk__do(&dev, &vq, slots, VIRTIO_BLK_T_IN, 200, buf, 512, true), VIRTIO_BLK_S_OK);
	TEST_EQ(buf[63], 200 * 256 + 63);
	test__pass("virtio_blk_ro");
}
