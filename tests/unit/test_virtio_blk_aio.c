/*
 * Tier 1 (Check, in-process, no KVM): virtio-blk's asynchronous I/O (devices/virtio/blk-aio.c) through
 * the whole device on the fake KVM host, driven by the test driver (test_virtio_driver.h), once with
 * io_uring and once with the thread pool (aio=threads).
 *
 * The writes' data pages are guest RAM registered with userfaultfd and left missing, so each write
 * blocks in the host kernel (an io-wq or pool thread waits on the page fault) until the test fills the
 * pages: that holds N writes in flight at once, deterministically. Then:
 *   - a flush submitted after them is not answered while they are in flight, and is answered after
 *     all of them (the used ring's order), with the data on the image;
 *   - queue 0 answers a read meanwhile: each queue completes on its own;
 *   - the device offers VIRTIO_BLK_F_MQ with num_queues as asked;
 *   - where io_uring_setup is refused (a seccomp filter in the test's own process), the device falls
 *     back to the thread pool and says why with -v, and aio=io_uring refuses with a clear error.
 * userfaultfd over kernel accesses needs CAP_SYS_PTRACE (root) or vm.unprivileged_userfaultfd=1: the
 * test fails saying so rather than skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <linux/virtio_blk.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_virtio_driver.h"
#include "devices/virtio/blk.h"
#include "vmm/config.h"
#include "vmm/log.h"

#define NWRITES		3	/* fewer than the pool's workers: a flush that did not wait would find one free */
#define QUEUES		2
#define HDRS		0x200000ULL	/* request headers and status bytes: 16 bytes + 1 each, 64 apart */
#define READBUF		0x300000ULL
#define HELD		0x800000ULL	/* write data: NWRITES pages under userfaultfd, never touched */
#define IMAGE_SECTORS	2048

static struct tdrv drv;
static struct virtio_blk *blk;
static char image[64];

static void setup(void)
{
	log__level = LOG_ERR;
	td_setup_vm();
}

static void teardown(void)
{
	virtio_blk__destroy(blk);
	blk = NULL;
	pci_host__exit(host);
	fake_vm__free(vm);
	if (*image)
		unlink(image);
	*image = 0;
}

static int uffd_register(void *addr, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .range = { (uintptr_t)addr, len }, .mode = UFFDIO_REGISTER_MODE_MISSING };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	ck_assert_msg(fd >= 0, "userfaultfd: %s (this test needs root or vm.unprivileged_userfaultfd=1)",
		      strerror(errno));
	ck_assert_int_eq(ioctl(fd, UFFDIO_API, &api), 0);
	ck_assert_msg(!ioctl(fd, UFFDIO_REGISTER, &reg), "UFFDIO_REGISTER: %s", strerror(errno));
	return fd;
}

/* A request on @q at descriptors 3*@slot: header (type, sector), data, status byte. */
static void request(unsigned q, unsigned slot, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		    bool data_writable)
{
	uint64_t h = HDRS + q * 0x10000 + slot * 64;
	struct virtio_blk_outhdr hdr = { .type = htole32(type), .sector = htole64(sector) };
	unsigned d = 3 * slot;

	memcpy(td_hva(h), &hdr, sizeof(hdr));
	*(uint8_t *)td_hva(h + 32) = 0xEE;
	if (len) {
		td_desc(q, d, h, sizeof(hdr), VRING_DESC_F_NEXT, d + 1);
		td_desc(q, d + 1, data, len, VRING_DESC_F_NEXT | (data_writable ? VRING_DESC_F_WRITE : 0), d + 2);
		td_desc(q, d + 2, h + 32, 1, VRING_DESC_F_WRITE, 0);
	} else {
		td_desc(q, d, h, sizeof(hdr), VRING_DESC_F_NEXT, d + 2);
		td_desc(q, d + 2, h + 32, 1, VRING_DESC_F_WRITE, 0);
	}
	td_publish(&drv, q, d, false);
}

static uint8_t status_of(unsigned q, unsigned slot)
{
	return *(uint8_t *)td_hva(HDRS + q * 0x10000 + slot * 64 + 32);
}

/* The head id of used entry @i of @q. */
static uint32_t used_id(unsigned q, unsigned i)
{
	struct vring_used_elem *e = td_hva(TD_RING(q) + 0x2000 + 4 + 8 * i);

	return e->id;
}

START_TEST(flush_waits_for_writes_in_flight)
{
	struct disk_config cfg = { .aio = _i ? DISK_AIO_THREADS : DISK_AIO_IO_URING, .queues = QUEUES };
	struct td_used_wait w0 = { 0, 1 }, w1 = { 1, NWRITES + 1 };
	uint8_t *held = td_hva(HELD);
	int fd, uffd;

	snprintf(image, sizeof(image), "/tmp/minivmm-blk-aio-XXXXXX");
	fd = mkstemp(image);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, IMAGE_SECTORS * 512), 0);
	close(fd);
	snprintf(cfg.path, sizeof(cfg.path), "%s", image);
	blk = virtio_blk__create(host, &cfg, 0);
	ck_assert_ptr_nonnull(blk);
	ck_assert_int_eq(pci_host__assign_resources(host), 0);
	td_attach(&drv, PCI_DEVFN(1, 0));
	ck_assert(td_device_features(&drv) & BIT(VIRTIO_BLK_F_MQ));
	ck_assert_uint_eq(td_read(drv.bar + VIRTIO_DEVCFG_OFF + offsetof(struct virtio_blk_config, num_queues), 2),
			  QUEUES);
	ck_assert(td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_BLK_F_MQ) | BIT(VIRTIO_BLK_F_FLUSH)));
	for (unsigned q = 0; q < QUEUES; q++)
		td_queue(&drv, q, 64, VIRTIO_MSI_NO_VECTOR);
	td_driver_ok(&drv);

	/* Queue 1: NWRITES writes whose data pages are missing, then a flush; one kick. */
	uffd = uffd_register(held, NWRITES * 4096);
	for (unsigned i = 0; i < NWRITES; i++)
		request(1, i, VIRTIO_BLK_T_OUT, 8 * i, HELD + i * 4096, 4096, false);
	request(1, NWRITES, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	td_write(drv.bar + VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT * 1, 2, 1);

	/* Queue 0 is not held up by queue 1. */
	request(0, 0, VIRTIO_BLK_T_IN, 100, READBUF, 4096, true);
	td_write(drv.bar + VIRTIO_NOTIFY_OFF, 2, 0);
	ck_assert_msg(td_wait(td_used_reached, &w0, 2000), "queue 0's read was not answered while queue 1 waits");
	ck_assert_uint_eq(status_of(0, 0), VIRTIO_BLK_S_OK);

	/* The writes are in flight: nothing on queue 1 may be answered, the flush least of all. */
	usleep(200 * 1000);
	ck_assert_msg(td_used_idx(1) == 0, "queue 1 answered %u requests while its writes were held",
		      td_used_idx(1));
	ck_assert_uint_eq(status_of(1, NWRITES), 0xEE);

	/* Fill the pages (this wakes the blocked writers): everything completes, the flush last. */
	for (unsigned i = 0; i < NWRITES; i++) {
		static uint8_t page[4096] __attribute__((aligned(4096)));
		struct uffdio_copy c = { .dst = (uintptr_t)held + i * 4096, .src = (uintptr_t)page, .len = 4096 };

		memset(page, 0x40 + i, sizeof(page));
		ck_assert_msg(!ioctl(uffd, UFFDIO_COPY, &c) || errno == EEXIST, "UFFDIO_COPY: %s", strerror(errno));
	}
	ck_assert_msg(td_wait(td_used_reached, &w1, 5000), "queue 1 answered %u of %u requests", td_used_idx(1),
		      NWRITES + 1);
	ck_assert_uint_eq(used_id(1, NWRITES), 3 * NWRITES);	/* the flush's head, last */
	for (unsigned i = 0; i <= NWRITES; i++)
		ck_assert_uint_eq(status_of(1, i), VIRTIO_BLK_S_OK);
	fd = open(image, O_RDONLY);
	for (unsigned i = 0; i < NWRITES; i++) {
		uint8_t b[4096];

		ck_assert_int_eq(pread(fd, b, sizeof(b), i * 4096), sizeof(b));
		ck_assert_uint_eq(b[0], 0x40 + i);
		ck_assert_uint_eq(b[4095], 0x40 + i);
	}
	close(fd);
	close(uffd);
}
END_TEST

/* Many requests at once on one queue: all answered, each with its own data. */
START_TEST(deep_queue_reads)
{
	struct disk_config cfg = { .aio = _i ? DISK_AIO_THREADS : DISK_AIO_IO_URING, .queues = 1 };
	struct td_used_wait w = { 0, 20 };
	int fd;

	snprintf(image, sizeof(image), "/tmp/minivmm-blk-aio-XXXXXX");
	fd = mkstemp(image);
	ck_assert_int_ge(fd, 0);
	for (unsigned s = 0; s < IMAGE_SECTORS; s++) {
		uint8_t sec[512];

		memset(sec, (uint8_t)s, sizeof(sec));
		ck_assert_int_eq(write(fd, sec, sizeof(sec)), sizeof(sec));
	}
	close(fd);
	snprintf(cfg.path, sizeof(cfg.path), "%s", image);
	blk = virtio_blk__create(host, &cfg, 0);
	ck_assert_ptr_nonnull(blk);
	ck_assert_int_eq(pci_host__assign_resources(host), 0);
	td_attach(&drv, PCI_DEVFN(1, 0));
	ck_assert(!(td_device_features(&drv) & BIT(VIRTIO_BLK_F_MQ)));
	ck_assert(td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1)));
	td_queue(&drv, 0, 64, VIRTIO_MSI_NO_VECTOR);
	td_driver_ok(&drv);
	for (unsigned i = 0; i < 20; i++)
		request(0, i, VIRTIO_BLK_T_IN, 37 * i, READBUF + i * 512, 512, true);
	td_write(drv.bar + VIRTIO_NOTIFY_OFF, 2, 0);
	ck_assert(td_wait(td_used_reached, &w, 5000));
	for (unsigned i = 0; i < 20; i++) {
		ck_assert_uint_eq(status_of(0, i), VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(*(uint8_t *)td_hva(READBUF + i * 512 + 511), (uint8_t)(37 * i));
	}
}
END_TEST

/* Make io_uring_setup fail with ENOSYS in this process (Check runs each test in its own fork). */
static void refuse_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(f), .filter = f };

	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

/* virtio_blk__create() for @aio on a fresh image, with what it printed (at -v) in @out. */
static struct virtio_blk *create_logged(enum disk_aio aio, char *out, size_t n)
{
	struct disk_config cfg = { .aio = aio, .queues = 1 };
	struct virtio_blk *b;
	int fd, saved = dup(2), log;
	ssize_t len;

	snprintf(image, sizeof(image), "/tmp/minivmm-blk-aio-XXXXXX");
	fd = mkstemp(image);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	snprintf(cfg.path, sizeof(cfg.path), "%s", image);
	log = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	ck_assert_int_ge(log, 0);
	log__level = LOG_INFO;
	dup2(log, 2);
	b = virtio_blk__create(host, &cfg, 0);
	dup2(saved, 2);
	close(saved);
	len = pread(log, out, n - 1, 0);
	out[len > 0 ? len : 0] = 0;
	close(log);
	return b;
}

START_TEST(falls_back_without_io_uring)
{
	char out[2048];

	refuse_io_uring();
	blk = create_logged(DISK_AIO_AUTO, out, sizeof(out));
	ck_assert_ptr_nonnull(blk);
	ck_assert_msg(strstr(out, "a thread pool of") && strstr(out, "io_uring is not available: Function not implemented"),
		      "-v said: %s", out);
	virtio_blk__destroy(blk);
	blk = NULL;
	unlink(image);
	ck_assert_ptr_null(create_logged(DISK_AIO_IO_URING, out, sizeof(out)));
	ck_assert_msg(strstr(out, "aio=io_uring: io_uring is not available here (Function not implemented)"), "said: %s",
		      out);
}
END_TEST

static Suite *blk_aio_suite(void)
{
	Suite *s = suite_create("virtio_blk_aio");
	TCase *tc = tcase_create("aio");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	/* _i = 0: io_uring, 1: the thread pool */
	tcase_add_loop_test(tc, flush_waits_for_writes_in_flight, 0, 2);
	tcase_add_loop_test(tc, deep_queue_reads, 0, 2);
	tcase_add_test(tc, falls_back_without_io_uring);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(blk_aio_suite)
