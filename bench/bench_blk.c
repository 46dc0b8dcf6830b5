/*
 * In-process benchmark of the virtio-blk backend, no KVM: ns per request for 4 KiB reads, 4 KiB writes
 * and 64 KiB reads against a 64 MiB image in ${TMPDIR:-/tmp} (so in the host page cache: this measures
 * the VMM, not a disk), untranslated and through the VT-d unit (the rings and buffers mapped with
 * first-stage 4 KiB pages at IOVAs far from their guest physical addresses, the driver negotiating
 * VIRTIO_F_ACCESS_PLATFORM). Two ways in:
 *
 *   backend  the request path alone on this thread: virtq__pop(), virtio_blk__handle(), virtq__push()
 *            and virtq__flush() on a queue in guest RAM, as the device's queue handler runs them;
 *   device   the whole device (devices/virtio/blk.c on the virtio-pci transport, a struct vm without
 *            KVM, bench/bench.h) driven like a polling guest driver: descriptors and the avail ring
 *            written in guest RAM, a kick written to the queue's notify register unless the device
 *            suppressed kicks (VRING_USED_F_NO_NOTIFY), the used ring polled (interrupts off,
 *            VRING_AVAIL_F_NO_INTERRUPT). The kick reaches the device's I/O thread through the MMIO
 *            handler and the queue's eventfd, as on a host without ioeventfd; queue depth 32 and 1.
 *
 * Every request must end VIRTIO_BLK_S_OK; the first batch of each figure is checked against the
 * image's pattern (word w of sector s is s * 256 + w, as the tests' images). Reads cover the first
 * half of the image, writes (of whatever the buffers hold) the second half.
 * Each figure is the median of RUNS runs, untranslated and translated alternating; the ratio is the
 * median of the runs' ratios (each translated run against the untranslated one just before it).
 *
 *   make build/bench/bench_blk && build/bench/bench_blk	(bench/run.sh, `make bench`)
 * Not a test: nothing here fails on a number.
 */
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "devices/pci-host.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/virtq.h"
#include "iommu/vtd.h"
#include "vmm/config.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define RUNS		11
#define RAM		(64 * MiB)
#define TABLES		(16 * MiB)
#define IMAGE_SIZE	(64 * MiB)
#define QSIZE		128
#define SLOTS		32		/* requests in flight at queue depth 32 */
#define RING		0x100000ULL	/* desc +0, avail +0x1000, used +0x2000 */
#define HDRS		0x110000ULL	/* 16 bytes per slot */
#define STATUSES	0x111000ULL	/* 1 byte per slot */
#define BUFS		0x200000ULL	/* 64 KiB per slot: [2 MiB, 4 MiB) */
#define BUF_SIZE	(64 * KiB)
#define MAPPED		0x100000ULL	/* the vIOMMU maps [1 MiB, 4 MiB) ... */
#define MAPPED_END	0x400000ULL
#define IOVA_OFFSET	0x0000123400000000ULL	/* ... at GPA + this, far from RAM: nothing gets through untranslated */

struct pattern {
	const char *name;
	uint32_t type, len;
	unsigned qd, nreq;	/* queue depth, requests per run */
};

static const struct pattern patterns[] = {
	{ "4 KiB reads, qd 32", VIRTIO_BLK_T_IN, 4096, 32, 4096 },
	{ "4 KiB writes, qd 32", VIRTIO_BLK_T_OUT, 4096, 32, 4096 },
	{ "64 KiB reads, qd 32", VIRTIO_BLK_T_IN, 65536, 32, 1024 },
	{ "4 KiB reads, qd 1", VIRTIO_BLK_T_IN, 4096, 1, 2048 },
};
#define NR_PATTERNS ARRAY_SIZE(patterns)

static struct vm *vm;
static struct bench_iommu io;
static char image[128];
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

/* The driver's avail index, and what it adds to a guest physical address to make its DMA address. */
static uint16_t avail_idx;
static uint64_t dma_offset;

static void *hva(uint64_t gpa, uint64_t len)
{
	void *p = guest_mem__hva(&vm->mem, gpa, len);

	if (!p)
		bench__die("%#llx is not RAM", (unsigned long long)gpa);
	return p;
}

static uint64_t word(uint64_t sector, unsigned w)
{
	return sector * 256 + w;
}

static void remove_image(void)
{
	unlink(image);
}

static void make_image(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	static uint64_t chunk[MiB / 8];
	int fd;

	snprintf(image, sizeof(image), "%s/bench-blk.XXXXXX", dir);
	fd = mkstemp(image);
	if (fd < 0)
		bench__die("cannot create an image in %s", dir);
	atexit(remove_image);
	for (uint64_t off = 0; off < IMAGE_SIZE; off += sizeof(chunk)) {
		for (unsigned i = 0; i < ARRAY_SIZE(chunk); i++)
			chunk[i] = word((off + 8 * i) / 512, i % 64);
		if (write(fd, chunk, sizeof(chunk)) != sizeof(chunk))
			bench__die("cannot write the image %s", image);
	}
	close(fd);
}

static uint64_t next_random(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

/* A random @len-aligned sector: reads in the first half of the image, writes in the second. */
static uint64_t pick_sector(const struct pattern *p)
{
	uint64_t blocks = IMAGE_SIZE / 2 / p->len;
	uint64_t b = next_random() % blocks;

	return (p->type == VIRTIO_BLK_T_OUT ? IMAGE_SIZE / 2 : 0) / 512 + b * (p->len / 512);
}

static void ring_reset(void)
{
	memset(hva(RING, 0x3000), 0, 0x3000);
	/* A polling driver: no interrupts (§2.7.7). */
	*(uint16_t *)hva(RING + 0x1000, 2) = VRING_AVAIL_F_NO_INTERRUPT;
	avail_idx = 0;
}

/* Descriptors 3 * @slot .. + 2: header, data, status; the head in the avail ring (not yet published). */
static void put_request(const struct pattern *p, unsigned slot, uint64_t sector)
{
	struct vring_desc *d = hva(RING + 16 * 3 * slot, 48);
	struct virtio_blk_outhdr *h = hva(HDRS + 16 * slot, 16);
	uint64_t buf = BUFS + (uint64_t)slot * BUF_SIZE;
	uint16_t *ring = hva(RING + 0x1000 + 4, 2 * QSIZE);

	*h = (struct virtio_blk_outhdr){ .type = p->type, .sector = sector };
	*(uint8_t *)hva(STATUSES + slot, 1) = 0xee;
	d[0] = (struct vring_desc){ dma_offset + HDRS + 16 * slot, 16, VRING_DESC_F_NEXT, 3 * slot + 1 };
	d[1] = (struct vring_desc){ dma_offset + buf, p->len,
				    VRING_DESC_F_NEXT | (p->type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0),
				    3 * slot + 2 };
	d[2] = (struct vring_desc){ dma_offset + STATUSES + slot, 1, VRING_DESC_F_WRITE, 0 };
	ring[avail_idx++ % QSIZE] = 3 * slot;
}

static void publish(void)
{
	__atomic_store_n((uint16_t *)hva(RING + 0x1000 + 2, 2), avail_idx, __ATOMIC_RELEASE);
}

/* Every request of the batch ended OK; with @sectors, every read brought its sectors' pattern. */
static void check_batch(const struct pattern *p, unsigned n, const uint64_t *sectors)
{
	for (unsigned s = 0; s < n; s++) {
		uint8_t st = *(uint8_t *)hva(STATUSES + s, 1);
		const uint64_t *buf = hva(BUFS + (uint64_t)s * BUF_SIZE, p->len);

		if (st != VIRTIO_BLK_S_OK)
			bench__die("%s: request status %u", p->name, st);
		for (uint32_t i = 0; sectors && p->type == VIRTIO_BLK_T_IN && i < p->len / 8; i++)
			if (buf[i] != word(sectors[s] + i / 64, i % 64))
				bench__die("%s: wrong data read at sector %llu", p->name,
					   (unsigned long long)(sectors[s] + i / 64));
	}
}

/* ---- the request path alone, on this thread ---- */

static struct dma_as backend_as;
static struct virtq backend_vq;
static struct virtio_blk_disk disk;
static struct virtq_req *req;

static void backend_process(void)
{
	char err[160];
	int ret;

	while ((ret = virtq__pop(&backend_vq, req)) > 0) {
		int64_t len = virtio_blk__handle(&disk, req, err, sizeof(err));

		if (len < 0)
			bench__die("backend: %s", err);
		if (virtq__push(&backend_vq, req->head, len))
			bench__die("backend: %s", backend_vq.err);
	}
	if (ret < 0 || virtq__flush(&backend_vq))
		bench__die("backend: %s", backend_vq.err);
}

static void backend_start(bool translated)
{
	dma__init_as(&backend_as, &vm->mem, translated ? vtd__translator(io.vtd) : NULL, 0x0008);
	virtq__init(&backend_vq, 0, QSIZE, &backend_as);
	backend_vq.num = QSIZE;
	dma_offset = translated ? IOVA_OFFSET : 0;
	backend_vq.desc = dma_offset + RING;
	backend_vq.avail = dma_offset + RING + 0x1000;
	backend_vq.used = dma_offset + RING + 0x2000;
	if (virtq__check(&backend_vq))
		bench__die("backend: %s", backend_vq.err);
	backend_vq.enabled = true;
	ring_reset();
}

/* ns per request of one run of @p (batches of @p->qd requests, each processed at once). */
static double backend_run(const struct pattern *p, bool check)
{
	uint64_t sectors[SLOTS];
	double t = bench__now_ns();

	for (unsigned done = 0; done < p->nreq; done += p->qd) {
		for (unsigned s = 0; s < p->qd; s++)
			put_request(p, s, sectors[s] = pick_sector(p));
		publish();
		backend_process();
		if (check && !done)
			check_batch(p, p->qd, sectors);
	}
	return (bench__now_ns() - t) / p->nreq;
}

/* ---- the whole device, as a polling driver sees it ---- */

static struct pci_host *host;
static struct virtio_blk *blk;
static uint64_t bar;

static uint64_t cc_read(unsigned off, unsigned len)
{
	uint64_t v = 0;

	if (!bus__access(&vm->mmio, bar + VIRTIO_COMMON_OFF + off, &v, len, false))
		bench__die("no virtio register at %#x", off);
	return v;
}

static void cc_write(unsigned off, uint64_t v, unsigned len)
{
	if (!bus__access(&vm->mmio, bar + VIRTIO_COMMON_OFF + off, &v, len, true))
		bench__die("no virtio register at %#x", off);
}

static void cc_write64(unsigned off, uint64_t v)
{
	cc_write(off, (uint32_t)v, 4);
	cc_write(off + 4, v >> 32, 4);
}

/* Reset, negotiate (ACCESS_PLATFORM when @translated), set up queue 0 and start the device. */
static void device_start(bool translated)
{
	uint64_t want = BIT(VIRTIO_F_VERSION_1) | (translated ? BIT(VIRTIO_F_ACCESS_PLATFORM) : 0);
	uint8_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	cc_write(VIRTIO_PCI_COMMON_STATUS, 0, 1);
	pci_host__set_translator(host, translated ? vtd__translator(io.vtd) : NULL);
	cc_write(VIRTIO_PCI_COMMON_STATUS, st, 1);
	cc_write(VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	cc_write(VIRTIO_PCI_COMMON_GF, (uint32_t)want, 4);
	cc_write(VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	cc_write(VIRTIO_PCI_COMMON_GF, want >> 32, 4);
	cc_write(VIRTIO_PCI_COMMON_STATUS, st |= VIRTIO_CONFIG_S_FEATURES_OK, 1);
	if (!(cc_read(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK))
		bench__die("device: FEATURES_OK refused");
	ring_reset();
	cc_write(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	cc_write(VIRTIO_PCI_COMMON_Q_SIZE, QSIZE, 2);
	dma_offset = translated ? IOVA_OFFSET : 0;
	cc_write64(VIRTIO_PCI_COMMON_Q_DESCLO, dma_offset + RING);
	cc_write64(VIRTIO_PCI_COMMON_Q_AVAILLO, dma_offset + RING + 0x1000);
	cc_write64(VIRTIO_PCI_COMMON_Q_USEDLO, dma_offset + RING + 0x2000);
	cc_write(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	cc_write(VIRTIO_PCI_COMMON_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK, 1);
	if (cc_read(VIRTIO_PCI_COMMON_STATUS, 1) != (st | VIRTIO_CONFIG_S_DRIVER_OK))
		bench__die("device: DRIVER_OK not taken (status %#llx)",
			   (unsigned long long)cc_read(VIRTIO_PCI_COMMON_STATUS, 1));
}

/* Kick queue 0 unless the device asked for no kicks (checked after publishing: §2.7.10). */
static void device_kick(void)
{
	uint16_t zero = 0;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(__atomic_load_n((uint16_t *)hva(RING + 0x2000, 2), __ATOMIC_ACQUIRE) & VRING_USED_F_NO_NOTIFY))
		bus__access(&vm->mmio, bar + VIRTIO_NOTIFY_OFF, &zero, 2, true);
}

static void device_wait(void)
{
	uint16_t *used = hva(RING + 0x2002, 2);

	for (unsigned long spins = 0; __atomic_load_n(used, __ATOMIC_ACQUIRE) != avail_idx; spins++)
		if (spins > 4000000000UL || cc_read(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET)
			bench__die("device: requests did not complete (used %u of %u)", *used, avail_idx);
}

static double device_run(const struct pattern *p, bool check)
{
	uint64_t sectors[SLOTS];
	double t = bench__now_ns();

	for (unsigned done = 0; done < p->nreq; done += p->qd) {
		for (unsigned s = 0; s < p->qd; s++)
			put_request(p, s, sectors[s] = pick_sector(p));
		publish();
		device_kick();
		device_wait();
		if (check && !done)
			check_batch(p, p->qd, sectors);
	}
	return (bench__now_ns() - t) / p->nreq;
}

static void device_create(void)
{
	struct disk_config cfg = { 0 };
	struct pci_device *pdev;

	snprintf(cfg.path, sizeof(cfg.path), "%s", image);
	host = pci_host__init(vm);
	if (!host || !(blk = virtio_blk__create(host, &cfg, 0)) || pci_host__assign_resources(host))
		bench__die("cannot set up the virtio-blk device");
	pdev = pci_host__find(host, 0, PCI_DEVFN(1, 0));
	if (!pdev || !(bar = pci__bar_addr(pdev, VIRTIO_BAR)))
		bench__die("the virtio-blk device is not at 00:01.0");
}

/* ---- figures ---- */

static void measure(const char *way, void (*start)(bool), double (*run)(const struct pattern *, bool))
{
	double r[2][RUNS], q[RUNS];

	for (unsigned k = 0; k < NR_PATTERNS; k++) {
		const struct pattern *p = &patterns[k];

		for (int i = 0; i < RUNS; i++) {
			for (int tr = 0; tr < 2; tr++) {
				start(tr);
				r[tr][i] = run(p, i == 0);
			}
		}
		for (int i = 0; i < RUNS; i++)
			q[i] = r[1][i] / r[0][i];
		printf("blk:   %-7s %-22s %9.0f %9.0f %7.2f\n", way, p->name, bench__median(r[0], RUNS),
		       bench__median(r[1], RUNS), bench__median(q, RUNS));
	}
}

int main(void)
{
	char err[256];

	vm = bench_vm__new(RAM);
	make_image();
	bench_iommu__init(&io, &vm->mem, TABLES, 0x0008);
	bench_iommu__map(&io, IOVA_OFFSET + MAPPED, MAPPED, MAPPED_END - MAPPED, 4 * KiB);
	bench_iommu__enable(&io);
	printf("blk: virtio-blk, ns per request (image in the page cache, no KVM), median of %d runs\n", RUNS);
	printf("blk:   %-7s %-22s %9s %9s %7s\n", "path", "requests", "off", "vIOMMU", "ratio");

	req = virtq__req_alloc();
	if (!req || virtio_blk__disk_open(&disk, image, false, false, err, sizeof(err)))
		bench__die("%s", req ? err : "out of memory");
	measure("backend", backend_start, backend_run);
	virtio_blk__disk_close(&disk);
	virtq__req_free(req);

	device_create();	/* the image is free again: the device locks it */
	measure("device", device_start, device_run);
	virtio_blk__destroy(blk);
	pci_host__exit(host);

	bench_iommu__exit(&io);
	bench_vm__free(vm);
	return 0;
}
