// Tier 2: virtio-blk throughput from a guest program, with a data check on every completion:
// sequential and random 4 KiB reads, QD requests in flight, polling (no interrupts: MSI-X entries
// stay masked and used_event points behind), kicks only when avail_event asks for one. Prints
// "bench: <mode> ..." lines that bench/guest.sh collects. Command line: ms=N per pattern
// (default 300), qd=N (default 32), dma=iommu to go through VT-d first-stage tables.
// TEST-DISK: 16M pattern
// TEST-ARGS: --disk @DISK@
// TEST-ARGS: --disk @DISK@ --viommu flts --cmdline dma=iommu
// TEST-EXPECT: PASS: virtio_blk_bench
#include "test.h"
#include "virtio.h"

#define QSIZE		128
#define MAX_QD		(QSIZE / 3)
#define BS		4096
#define IOVA_WINDOW	(1ULL << 39)

static uint8_t ring_mem[VRING_MEM_SIZE(QSIZE)] __attribute__((aligned(4096)));
static struct vblk_slot slots[MAX_QD];
static uint64_t bufs[MAX_QD][BS / 8] __attribute__((aligned(4096)));
static uint64_t slot_sector[MAX_QD];
static struct vdev dev;
static struct vring vq;
static uint64_t sectors;
static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static unsigned cmdline_num(const char *key, unsigned def)
{
	char v[16];

	return platform__cmdline_get(key, v, sizeof(v)) ? strtoul(v, NULL, 0) : def;
}

/* Kick only if the device asked for one since @old (avail_event, §2.7.10). */
static void kick_if_needed(uint16_t old)
{
	uint16_t now = vq.avail_idx, event;

	/* Our avail index store before the device's avail_event load (the device does the converse). */
	asm volatile("mfence" ::: "memory");
	event = READ_ONCE(((uint16_t *)vq.used)[2 + 4 * vq.num]);	/* avail_event follows the used ring */
	if ((uint16_t)(now - event - 1) < (uint16_t)(now - old))
		vring__kick(&vq);
}

static void submit(unsigned slot, bool random, uint64_t *next)
{
	uint64_t s;

	if (random) {
		s = (uint64_t)rnd() % (sectors / 8) * 8;
	} else {
		s = *next;
		*next = (*next + 8) % sectors;
	}
	slot_sector[slot] = s;
	vblk__submit(&dev, &vq, slots, slot, VIRTIO_BLK_T_IN, s, bufs[slot], BS, false, false);
}

/* Keep @qd reads in flight for @ms milliseconds; print and return the I/O rate. */
static uint64_t run(const char *name, bool random, unsigned qd, unsigned ms)
{
	uint64_t next = 0, done = 0, checked = 0, spins = 0, us;
	struct timeout t;
	uint16_t old = vq.avail_idx;

	for (unsigned i = 0; i < qd; i++)
		submit(i, random, &next);
	vring__kick(&vq);
	timeout__start(&t, ms);
	for (;;) {
		uint32_t id, len;
		unsigned n = 0;

		old = vq.avail_idx;
		while (vring__pop_used(&vq, &id, &len)) {
			unsigned slot = id / 3;

			TEST_ASSERT_MSG(slot < qd && slots[slot].status == VIRTIO_BLK_S_OK, "request %u failed", id);
			TEST_EQ(bufs[slot][0], slot_sector[slot] * 256);
			TEST_EQ(bufs[slot][BS / 8 - 1], (slot_sector[slot] + 7) * 256 + 63);
			done++;
			n++;
			submit(slot, random, &next);
		}
		/* Interrupts: used_event stays just behind us, so the device never needs to send one. */
		WRITE_ONCE(vq.avail->ring[vq.num], vq.last_used - 1);
		if (n)
			kick_if_needed(old);
		/* The PM timer must be read often enough (timer.h), but each read is a VM exit. */
		if (done - checked >= 64 || ++spins >= 4096) {
			checked = done;
			spins = 0;
			if (timeout__expired(&t))
				break;
		}
		cpu_relax();
	}
	us = timeout__elapsed_us(&t);
	/* Drain what is still in flight. */
	for (unsigned left = qd; left;) {
		uint32_t id, len;

		TEST_ASSERT_MSG(vring__wait_used(&vq, &id, &len, 2000), "requests lost");
		left--;
	}
	printf("bench: %s 4k qd%u: %llu requests in %llu us: %llu IOPS, %llu MiB/s\n", name, qd,
	       (unsigned long long)done, (unsigned long long)us, (unsigned long long)(done * 1000000 / us),
	       (unsigned long long)(done * BS * 1000000 / us / (1024 * 1024)));
	return done * 1000000 / us;
}

int main(void)
{
	unsigned qd = cmdline_num("qd", 32), ms = cmdline_num("ms", 300);
	uint64_t f;
	char dma[16];

	TEST_ASSERT_MSG(!virtio__find(VIRTIO_ID_BLOCK, 0, &dev), "no virtio-blk device (run with --disk)");
	if (platform__cmdline_get("dma", dma, sizeof(dma)) && !strcmp(dma, "iommu")) {
		TEST_EQ(virtio_dma__vtd_window(dev.bdf, IOVA_WINDOW), 0);
		dev.dma_off = IOVA_WINDOW;
	}
	if (qd < 1 || qd > MAX_QD)
		qd = MAX_QD;
	/* MSI-X on and the queue without a vector: the device sends no interrupt at all (polling). */
	TEST_EQ(pci__msix_enable(dev.bdf, 0, msi__address(lapic__id()), msi__data(0x50)), 0);
	f = virtio__device_features(&dev) & (1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_EVENT_IDX |
					     1ULL << VIRTIO_F_ACCESS_PLATFORM | 1ULL << VIRTIO_BLK_F_BLK_SIZE);
	TEST_ASSERT(f & (1ULL << VIRTIO_F_EVENT_IDX));
	TEST_EQ(virtio__negotiate(&dev, f), 0);
	TEST_EQ(virtio__queue_setup(&dev, 0, &vq, ring_mem, QSIZE, VIRTIO_NO_VECTOR), 0);
	vq.event_idx = true;
	virtio__driver_ok(&dev);
	sectors = virtio__cfg_read64(&dev, 0);
	TEST_ASSERT(sectors >= 64);
	printf("bench: %s, %llu MiB disk, %u ms per pattern\n", dev.dma_off ? "VT-d first-stage" : "untranslated",
	       (unsigned long long)(sectors / 2048), ms);
	run("seq-read", false, qd, ms);
	run("rand-read", true, qd, ms);
	run("rand-read-qd1", true, 1, ms);
	test__pass("virtio_blk_bench");
}
