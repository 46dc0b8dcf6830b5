/*
 * Tier 1: virtio-blk requests (devices/virtio/blk-req.c) against a real temporary image: read, write,
 * flush, get-id, discard, write-zeroes, requests split anywhere across descriptors, read-only refusal
 * (IOERR and the file unchanged), sectors out of range and partial sectors (IOERR), unknown types
 * (UNSUPP), host I/O errors reported as IOERR (a directory or a closed descriptor in place of the
 * image), chains without header or status (an error for the transport), O_DIRECT with unaligned guest
 * buffers (bounce), and the errors of opening an image (missing, directory, empty, locked).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "check_main.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/virtq.h"
#include "vmm/memory.h"
#include "vmm/util.h"

#define SECTORS		2048		/* 1 MiB image */
#define QNUM		16
#define DESC		0x10000ULL
#define AVAIL		0x11000ULL
#define USED		0x12000ULL
#define HDR		0x20000ULL
#define STATUS		0x21000ULL
#define DATA		0x100000ULL

static struct guest_mem mem;
static struct dma_as as;
static struct virtq vq;
static struct virtq_req *req;
static struct virtio_blk_disk disk;
static char path[64];
static char err[256];

static void *hva(uint64_t gpa)
{
	return guest_mem__hva(&mem, gpa, 1);
}

static uint64_t pattern(uint64_t sector, unsigned w)
{
	return sector * 256 + w;
}

static void make_image(void)
{
	uint64_t sec[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/vblk-test.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	for (uint64_t s = 0; s < SECTORS; s++) {
		for (unsigned w = 0; w < 64; w++)
			sec[w] = pattern(s, w);
		ck_assert_int_eq(write(fd, sec, 512), 512);
	}
	close(fd);
}

static uint64_t file_word(uint64_t sector, unsigned w)
{
	uint64_t v = 0;
	int fd = open(path, O_RDONLY);

	ck_assert_int_eq(pread(fd, &v, 8, sector * 512 + w * 8), 8);
	close(fd);
	return v;
}

static void setup(void)
{
	ck_assert_int_eq(guest_mem__init(&mem, 16 * MiB), 0);
	dma__init_as(&as, &mem, NULL, 0);
	virtq__init(&vq, 0, QNUM, &as);
	vq.desc = DESC, vq.avail = AVAIL, vq.used = USED;
	vq.enabled = vq.indirect = true;
	req = virtq__req_alloc();
	make_image();
	ck_assert_int_eq(virtio_blk__disk_open(&disk, path, false, false, err, sizeof(err)), 0);
}

static void teardown(void)
{
	virtio_blk__disk_close(&disk);
	unlink(path);
	virtq__req_free(req);
	guest_mem__exit(&mem);
}

static void put_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	memcpy(hva(DESC + 16 * i), &d, sizeof(d));
}

static void publish(uint16_t head)
{
	uint16_t idx;

	memcpy(&idx, hva(AVAIL + 2), 2);
	memcpy(hva(AVAIL + 4 + 2 * (idx % QNUM)), &head, 2);
	idx++;
	memcpy(hva(AVAIL + 2), &idx, 2);
}

static void put_hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };

	memcpy(hva(HDR), &h, sizeof(h));
	*(uint8_t *)hva(STATUS) = 0xee;
}

/* Pop the published chain and run it: the used length (or -EIO), the status in *@status. */
static int64_t run(uint8_t *status)
{
	int64_t ret;

	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	err[0] = 0;
	ret = virtio_blk__handle(&disk, req, err, sizeof(err));
	*status = *(uint8_t *)hva(STATUS);
	return ret;
}

/* header, optional data (@len bytes at DATA, device-writable for reads), status: 3 descriptors. */
static uint8_t request(uint32_t type, uint64_t sector, uint32_t len, int64_t *used)
{
	bool dev_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	uint8_t status;
	int64_t u;

	put_hdr(type, sector);
	put_desc(0, HDR, 16, VRING_DESC_F_NEXT, 1);
	put_desc(1, DATA, len, VRING_DESC_F_NEXT | (dev_writes ? VRING_DESC_F_WRITE : 0), 2);
	put_desc(2, STATUS, 1, VRING_DESC_F_WRITE, 0);
	publish(0);
	u = run(&status);
	if (used)
		*used = u;
	return status;
}

static void check_data(uint64_t gpa, uint64_t sector, unsigned nsec)
{
	const uint64_t *p = hva(gpa);

	for (unsigned s = 0; s < nsec; s++)
		for (unsigned w = 0; w < 64; w++)
			ck_assert_uint_eq(p[s * 64 + w], pattern(sector + s, w));
}

START_TEST(read_write_flush)
{
	uint64_t *p = hva(DATA);
	int64_t used;

	ck_assert_uint_eq(disk.size, SECTORS * 512);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, 10, 4 * 512, &used), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(used, 4 * 512 + 1);
	check_data(DATA, 10, 4);
	for (unsigned w = 0; w < 128; w++)
		p[w] = ~pattern(20 + w / 64, w % 64);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_OUT, 20, 1024, &used), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(used, 1);	/* only the status byte was written */
	ck_assert_uint_eq(file_word(20, 0), ~pattern(20, 0));
	ck_assert_uint_eq(file_word(21, 63), ~pattern(21, 63));
	ck_assert_uint_eq(file_word(22, 0), pattern(22, 0));
	ck_assert_uint_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0, &used), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(disk.nr_flush, 1);
	/* Last sector. */
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, SECTORS - 1, 512, NULL), VIRTIO_BLK_S_OK);
	check_data(DATA, SECTORS - 1, 1);
}
END_TEST

START_TEST(split_anywhere)
{
	uint8_t status;

	/* Header in two pieces, data in three pieces of odd sizes, status after them. */
	put_hdr(VIRTIO_BLK_T_IN, 7);
	put_desc(0, HDR, 5, VRING_DESC_F_NEXT, 1);
	put_desc(1, HDR + 5, 11, VRING_DESC_F_NEXT, 2);
	put_desc(2, DATA, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	put_desc(3, DATA + 100, 1000, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 4);
	put_desc(4, DATA + 1100, 436, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	put_desc(5, STATUS, 1, VRING_DESC_F_WRITE, 0);
	publish(0);
	ck_assert_int_eq(run(&status), 1536 + 1);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_OK);
	check_data(DATA, 7, 3);
	/* The status byte may share the last data descriptor. */
	put_hdr(VIRTIO_BLK_T_IN, 9);
	*(uint8_t *)hva(DATA + 512) = 0xee;
	put_desc(0, HDR, 16, VRING_DESC_F_NEXT, 1);
	put_desc(1, DATA, 513, VRING_DESC_F_WRITE, 0);
	publish(0);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	ck_assert_int_eq(virtio_blk__handle(&disk, req, err, sizeof(err)), 513);
	ck_assert_uint_eq(*(uint8_t *)hva(DATA + 512), VIRTIO_BLK_S_OK);
	check_data(DATA, 9, 1);
}
END_TEST

START_TEST(get_id)
{
	const char *base = strrchr(path, '/') + 1;
	int64_t used;

	memset(hva(DATA), 0, 64);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, &used), VIRTIO_BLK_S_OK);
	ck_assert_str_eq(hva(DATA), base);
	ck_assert_int_eq(used, VIRTIO_BLK_ID_BYTES + 1);	/* the whole field, NUL-padded */
	/* A shorter buffer gets what fits. */
	memset(hva(DATA), 0, 64);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_GET_ID, 0, 4, &used), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(strncmp(hva(DATA), base, 4), 0);
	ck_assert_uint_eq(*(uint8_t *)hva(DATA + 4), 0);
}
END_TEST

static void put_seg(unsigned i, uint64_t sector, uint32_t n, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = { .sector = sector, .num_sectors = n, .flags = flags };

	memcpy(hva(DATA + 16 * i), &s, sizeof(s));
}

START_TEST(discard_and_write_zeroes)
{
	put_seg(0, 100, 8, 0);
	put_seg(1, 200, 16, 0);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_DISCARD, 0, 32, NULL), VIRTIO_BLK_S_OK);
	put_seg(0, 300, 8, 0);
	put_seg(1, 400, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, NULL), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(file_word(300, 0), 0);
	ck_assert_uint_eq(file_word(307, 63), 0);
	ck_assert_uint_eq(file_word(308, 0), pattern(308, 0));
	ck_assert_uint_eq(file_word(400, 5), 0);
	ck_assert_uint_eq(file_word(399, 63), pattern(399, 63));
	/* Bad segments: unmap on a discard, unknown flags, out of range, none, too many, ragged. */
	put_seg(0, 100, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_DISCARD, 0, 16, NULL), VIRTIO_BLK_S_UNSUPP);
	put_seg(0, 100, 8, 0x8);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, NULL), VIRTIO_BLK_S_UNSUPP);
	put_seg(0, SECTORS - 4, 8, 0);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(file_word(SECTORS - 4, 0), pattern(SECTORS - 4, 0));
	ck_assert_uint_eq(request(VIRTIO_BLK_T_DISCARD, 0, 0, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_DISCARD, 0, 16 * (VIRTIO_BLK_MAX_DISCARD_SEG + 1), NULL),
			  VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_DISCARD, 0, 20, NULL), VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(out_of_range)
{
	uint64_t *p = hva(DATA);

	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, SECTORS, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, SECTORS - 1, 1024, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, ~0ULL, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, ~0ULL / 512 + 1, 512, NULL), VIRTIO_BLK_S_IOERR);
	p[0] = 42;
	ck_assert_uint_eq(request(VIRTIO_BLK_T_OUT, SECTORS - 1, 1024, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(file_word(SECTORS - 1, 0), pattern(SECTORS - 1, 0));
	/* Not whole sectors. */
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, 0, 100, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_OUT, 0, 513, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(file_word(0, 0), pattern(0, 0));
	ck_assert_uint_eq(disk.nr_ioerr, 7);
}
END_TEST

START_TEST(unsupported_types)
{
	ck_assert_uint_eq(request(0x77, 0, 512, NULL), VIRTIO_BLK_S_UNSUPP);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_SCSI_CMD, 0, 512, NULL), VIRTIO_BLK_S_UNSUPP);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_SECURE_ERASE, 0, 16, NULL), VIRTIO_BLK_S_UNSUPP);
}
END_TEST

START_TEST(read_only)
{
	uint64_t *p = hva(DATA);

	virtio_blk__disk_close(&disk);
	ck_assert_int_eq(virtio_blk__disk_open(&disk, path, true, false, err, sizeof(err)), 0);
	p[0] = 1;
	ck_assert_uint_eq(request(VIRTIO_BLK_T_OUT, 3, 512, NULL), VIRTIO_BLK_S_IOERR);
	put_seg(0, 3, 1, 0);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_DISCARD, 0, 16, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(file_word(3, 0), pattern(3, 0));
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, 3, 512, NULL), VIRTIO_BLK_S_OK);
	check_data(DATA, 3, 1);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0, NULL), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(io_errors_are_reported)
{
	int good = disk.fd;

	/* pread/pwrite on a directory fail (EISDIR): the guest sees IOERR, never stale data. */
	disk.fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(disk.fd, 0);
	memset(hva(DATA), 0xab, 512);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, 0, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_OUT, 0, 512, NULL), VIRTIO_BLK_S_IOERR);
	close(disk.fd);
	/* A closed descriptor (EBADF): reads, writes and flushes fail. */
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, 0, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_OUT, 0, 512, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0, NULL), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(disk.nr_ioerr, 5);
	disk.fd = good;
	/* The image shrank under us: the read hits end-of-file, an error, not zeros. */
	ck_assert_int_eq(ftruncate(good, 512 * 10), 0);
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, 9, 1024, NULL), VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(chains_without_header_or_status)
{
	uint8_t status;

	/* No device-writable byte for the status. */
	put_hdr(VIRTIO_BLK_T_IN, 0);
	put_desc(0, HDR, 16, 0, 0);
	publish(0);
	ck_assert_int_eq(run(&status), -EIO);
	ck_assert_msg(strstr(err, "status"), "%s", err);
	/* A header shorter than 16 bytes. */
	put_desc(0, HDR, 8, VRING_DESC_F_NEXT, 1);
	put_desc(1, STATUS, 1, VRING_DESC_F_WRITE, 0);
	publish(0);
	ck_assert_int_eq(run(&status), -EIO);
	ck_assert_uint_eq(status, 0xee);	/* untouched */
}
END_TEST

START_TEST(direct_io_with_unaligned_buffers)
{
	uint64_t *p;

	virtio_blk__disk_close(&disk);
	if (virtio_blk__disk_open(&disk, path, false, true, err, sizeof(err))) {
		/* /tmp without O_DIRECT (tmpfs): the error must say so. */
		ck_assert_msg(strstr(err, "O_DIRECT"), "%s", err);
		return;
	}
	/* Aligned: straight through. Unaligned guest buffer: the host refuses it, the bounce takes over. */
	ck_assert_uint_eq(request(VIRTIO_BLK_T_IN, 8, 4096, NULL), VIRTIO_BLK_S_OK);
	check_data(DATA, 8, 8);
	ck_assert_uint_eq(disk.nr_bounced, 0);
	put_hdr(VIRTIO_BLK_T_IN, 16);
	put_desc(0, HDR, 16, VRING_DESC_F_NEXT, 1);
	put_desc(1, DATA + 3, 1024, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	put_desc(2, STATUS, 1, VRING_DESC_F_WRITE, 0);
	publish(0);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	ck_assert_int_eq(virtio_blk__handle(&disk, req, err, sizeof(err)), 1025);
	ck_assert_uint_eq(*(uint8_t *)hva(STATUS), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(disk.nr_bounced, 1);
	memmove(hva(DATA), hva(DATA + 3), 1024);
	check_data(DATA, 16, 2);
	p = hva(DATA + 3);
	for (unsigned w = 0; w < 64; w++)
		memcpy((uint8_t *)p + 8 * w, &(uint64_t){ ~pattern(30, w) }, 8);
	put_hdr(VIRTIO_BLK_T_OUT, 30);
	put_desc(1, DATA + 3, 512, VRING_DESC_F_NEXT, 2);
	publish(0);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	ck_assert_int_eq(virtio_blk__handle(&disk, req, err, sizeof(err)), 1);
	ck_assert_uint_eq(*(uint8_t *)hva(STATUS), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(file_word(30, 7), ~pattern(30, 7));
	ck_assert_uint_eq(disk.nr_bounced, 2);
}
END_TEST

START_TEST(open_errors)
{
	struct virtio_blk_disk d2;
	int fd;

	ck_assert_int_eq(virtio_blk__disk_open(&d2, "/nonexistent/disk.img", false, false, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "cannot open disk image '/nonexistent/disk.img'"), "%s", err);
	ck_assert_int_lt(virtio_blk__disk_open(&d2, "/tmp", true, false, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "not a regular file or block device"), "%s", err);
	/* Another open of the image wants it exclusively: the first writer holds it. */
	ck_assert_int_eq(virtio_blk__disk_open(&d2, path, false, false, err, sizeof(err)), -EWOULDBLOCK);
	ck_assert_msg(strstr(err, "in use by another process"), "%s", err);
	ck_assert_int_eq(virtio_blk__disk_open(&d2, path, true, false, err, sizeof(err)), -EWOULDBLOCK);
	virtio_blk__disk_close(&disk);
	/* Readers share it. */
	ck_assert_int_eq(virtio_blk__disk_open(&disk, path, true, false, err, sizeof(err)), 0);
	ck_assert_int_eq(virtio_blk__disk_open(&d2, path, true, false, err, sizeof(err)), 0);
	virtio_blk__disk_close(&d2);
	/* Smaller than a sector; a ragged tail is cut off. */
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(ftruncate(fd, 100), 0);
	ck_assert_int_eq(virtio_blk__disk_open(&d2, path, true, false, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "smaller than one 512-byte sector"), "%s", err);
	ck_assert_int_eq(ftruncate(fd, 1000), 0);
	close(fd);
	ck_assert_int_eq(virtio_blk__disk_open(&d2, path, true, false, err, sizeof(err)), 0);
	ck_assert_uint_eq(d2.size, 512);
	virtio_blk__disk_close(&d2);
}
END_TEST

static Suite *blk_suite(void)
{
	Suite *s = suite_create("virtio_blk");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, read_write_flush);
	tcase_add_test(tc, split_anywhere);
	tcase_add_test(tc, get_id);
	tcase_add_test(tc, discard_and_write_zeroes);
	tcase_add_test(tc, out_of_range);
	tcase_add_test(tc, unsupported_types);
	tcase_add_test(tc, read_only);
	tcase_add_test(tc, io_errors_are_reported);
	tcase_add_test(tc, chains_without_header_or_status);
	tcase_add_test(tc, direct_io_with_unaligned_buffers);
	tcase_add_test(tc, open_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(blk_suite)
