/*
 * Tier 1: split virtqueues (devices/virtio/virtq.c) against hostile rings in a guest memory: loops,
 * indices out of range, zero-length and huge chains, indirect tables (nested, with NEXT, bad sizes),
 * a descriptor table crossing the end of RAM, an available index that jumps by more than the queue
 * size, readable-after-writable, buffers outside RAM and at IOVAs a translator refuses (the fault is
 * recorded, as a vIOMMU would); and the used ring, event-index interrupt suppression and kick
 * suppression of well-formed traffic.
 */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "check_main.h"
#include "devices/virtio/virtq.h"
#include "vmm/memory.h"
#include "vmm/util.h"

#define RAM		(16 * MiB)
#define QNUM		8
#define DESC		0x10000ULL
#define AVAIL		0x11000ULL
#define USED		0x12000ULL
#define BUF		0x100000ULL

static struct guest_mem mem;
static struct dma_as as;
static struct virtq vq;
static struct virtq_req *req;

/* A translator that maps IOVA x to x - 1 GiB, in 4 KiB pages, below 1 GiB + RAM; faults elsewhere. */
static unsigned nr_faults;
static uint64_t last_fault;

static int fake_translate(void *opaque, uint16_t sid, const struct dma_attrs *attrs, uint64_t iova,
			  enum dma_dir dir, uint64_t *gpa, uint64_t *len)
{
	if (iova < GiB || iova - GiB >= RAM) {
		nr_faults++;
		last_fault = iova;
		return -EFAULT;
	}
	*gpa = iova - GiB;
	*len = 4096 - (iova & 4095);
	return 0;
}

static const struct dma_translator fake_iommu = { .translate = fake_translate };

static void *hva(uint64_t gpa)
{
	return guest_mem__hva(&mem, gpa, 1);
}

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	memcpy(hva(table + 16 * i), &d, sizeof(d));
}

static void put16(uint64_t gpa, uint16_t v)
{
	memcpy(hva(gpa), &v, 2);
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, hva(gpa), 2);
	return v;
}

/* Make @head the next available chain. */
static void avail(uint16_t head)
{
	uint16_t idx = get16(AVAIL + 2);

	put16(AVAIL + 4 + 2 * (idx % QNUM), head);
	put16(AVAIL + 2, idx + 1);
}

static void setup_mem(uint64_t size)
{
	ck_assert_int_eq(guest_mem__init(&mem, size), 0);
	dma__init_as(&as, &mem, NULL, 0x0008);
	virtq__init(&vq, 0, QNUM, &as);
	vq.desc = DESC;
	vq.avail = AVAIL;
	vq.used = USED;
	ck_assert_int_eq(virtq__check(&vq), 0);
	vq.enabled = true;
	vq.indirect = true;
	req = virtq__req_alloc();
	ck_assert_ptr_nonnull(req);
	nr_faults = 0;
}

static void setup(void)
{
	setup_mem(RAM);
}

static void teardown(void)
{
	virtq__req_free(req);
	guest_mem__exit(&mem);
}

static void expect_error(int want, const char *needle)
{
	int ret = virtq__pop(&vq, req);

	ck_assert_int_eq(ret, want);
	ck_assert_msg(strstr(vq.err, needle), "error '%s' lacks '%s'", vq.err, needle);
}

START_TEST(chain_and_used_ring)
{
	uint32_t id, len;

	put_desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT, 3);
	put_desc(DESC, 3, BUF + 0x1000, 0x2000, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	put_desc(DESC, 5, BUF + 0x8000, 1, VRING_DESC_F_WRITE, 0);
	ck_assert_int_eq(virtq__pop(&vq, req), 0);	/* nothing yet */
	avail(0);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	ck_assert_uint_eq(req->head, 0);
	ck_assert_uint_eq(req->nout, 1);
	ck_assert_uint_eq(req->nin, 2);
	ck_assert_uint_eq(req->out_len, 16);
	ck_assert_uint_eq(req->in_len, 0x2001);
	ck_assert_uint_eq(req->ndesc, 3);
	ck_assert_ptr_eq(req->iov[0].iov_base, hva(BUF));
	ck_assert_ptr_eq(virtq__in_iov(req)[1].iov_base, hva(BUF + 0x8000));
	ck_assert_int_eq(virtq__pop(&vq, req), 0);

	ck_assert_int_eq(virtq__push(&vq, 0, 0x2001), 0);
	ck_assert_uint_eq(get16(USED + 2), 0);	/* not visible before the flush */
	ck_assert_int_eq(virtq__flush(&vq), 0);
	ck_assert_uint_eq(get16(USED + 2), 1);
	memcpy(&id, hva(USED + 4), 4);
	memcpy(&len, hva(USED + 8), 4);
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 0x2001);
	/* Without event index: an interrupt unless the driver set NO_INTERRUPT. */
	ck_assert(virtq__need_interrupt(&vq));
	put16(AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	ck_assert(!virtq__need_interrupt(&vq));
}
END_TEST

START_TEST(zero_length_descriptors)
{
	put_desc(DESC, 0, BUF, 0, VRING_DESC_F_NEXT, 1);
	put_desc(DESC, 1, BUF, 8, VRING_DESC_F_NEXT, 2);
	put_desc(DESC, 2, BUF, 0, VRING_DESC_F_WRITE, 0);
	avail(0);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	ck_assert_uint_eq(req->ndesc, 3);
	ck_assert_uint_eq(req->nout, 1);	/* zero-length buffers add no segment */
	ck_assert_uint_eq(req->nin, 0);
	ck_assert_uint_eq(req->out_len, 8);
}
END_TEST

START_TEST(loops)
{
	put_desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	put_desc(DESC, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	avail(0);
	expect_error(-EIO, "loops");
}
END_TEST

START_TEST(self_loop)
{
	put_desc(DESC, 4, BUF, 8, VRING_DESC_F_NEXT, 4);
	avail(4);
	expect_error(-EIO, "loops");
}
END_TEST

START_TEST(longest_chain_is_queue_size)
{
	for (unsigned i = 0; i < QNUM; i++)
		put_desc(DESC, i, BUF + 64 * i, 64, i < QNUM - 1 ? VRING_DESC_F_NEXT : 0, i + 1);
	avail(0);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	ck_assert_uint_eq(req->ndesc, QNUM);
	ck_assert_uint_eq(req->out_len, 64 * QNUM);
}
END_TEST

START_TEST(indices_out_of_range)
{
	put_desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT, QNUM);
	avail(0);
	expect_error(-EIO, "next index 8 out of range");
	virtq__reset(&vq);
	vq.num = QNUM, vq.desc = DESC, vq.avail = AVAIL, vq.used = USED, vq.enabled = true;
	vq.last_avail = get16(AVAIL + 2);
	avail(QNUM + 3);
	expect_error(-EIO, "names descriptor 11");
}
END_TEST

START_TEST(avail_index_jump)
{
	put_desc(DESC, 0, BUF, 8, 0, 0);
	put16(AVAIL + 2, QNUM);		/* exactly a full ring: fine */
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	put16(AVAIL + 2, 2 * QNUM + 1);	/* 8 + 1 past the 1 we took */
	expect_error(-EIO, "entries past");
	vq.err[0] = 0;
	vq.last_avail = 0;
	put16(AVAIL + 2, 0xfff0);	/* backwards is a huge jump forwards */
	expect_error(-EIO, "entries past");
}
END_TEST

START_TEST(readable_after_writable)
{
	put_desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(DESC, 1, BUF, 8, 0, 0);
	avail(0);
	expect_error(-EIO, "readable descriptor after a writable");
}
END_TEST

START_TEST(indirect_tables)
{
	uint64_t t = 0x20000;

	put_desc(t, 0, BUF, 16, VRING_DESC_F_NEXT, 2);
	put_desc(t, 2, BUF + 4096, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(t, 1, BUF + 8192, 1, VRING_DESC_F_WRITE, 0);
	put_desc(DESC, 0, t, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	ck_assert_uint_eq(req->ndesc, 4);
	ck_assert_uint_eq(req->out_len, 16);
	ck_assert_uint_eq(req->in_len, 513);

	/* Not negotiated. */
	vq.indirect = false;
	avail(0);
	expect_error(-EIO, "without VIRTIO_F_INDIRECT_DESC");
}
END_TEST

START_TEST(indirect_nested)
{
	uint64_t t = 0x20000, t2 = 0x21000;

	put_desc(t2, 0, BUF, 8, 0, 0);
	put_desc(t, 0, t2, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(DESC, 0, t, 16, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_error(-EIO, "indirect descriptor inside an indirect table");
}
END_TEST

START_TEST(indirect_with_next)
{
	put_desc(0x20000, 0, BUF, 8, 0, 0);
	put_desc(DESC, 0, 0x20000, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	avail(0);
	expect_error(-EIO, "both INDIRECT and NEXT");
}
END_TEST

START_TEST(indirect_bad_sizes)
{
	static const uint32_t bad[] = { 0, 15, 17, 16 * (VIRTQ_MAX_INDIRECT + 1) };

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		vq.err[0] = 0;
		put_desc(DESC, 0, 0x20000, bad[i], VRING_DESC_F_INDIRECT, 0);
		avail(0);
		expect_error(-EIO, "indirect table of");
	}
}
END_TEST

START_TEST(indirect_loop_and_range)
{
	uint64_t t = 0x20000;

	put_desc(t, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	put_desc(t, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	put_desc(DESC, 0, t, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	avail(0);
	expect_error(-EIO, "loops");
	vq.err[0] = 0;
	put_desc(t, 1, BUF, 8, VRING_DESC_F_NEXT, 2);	/* beyond the 2-entry table */
	avail(0);
	expect_error(-EIO, "out of range (table of 2");
}
END_TEST

START_TEST(indirect_table_outside_ram)
{
	put_desc(DESC, 0, RAM - 16, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(RAM - 16, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	avail(0);
	expect_error(-EFAULT, "cannot read indirect descriptor 1");
}
END_TEST

START_TEST(descriptor_table_crosses_ram_end)
{
	/* A table whose last entries lie beyond RAM: the first ones work, the others fault. */
	vq.desc = RAM - 2 * 16;
	put_desc(vq.desc, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	put_desc(vq.desc, 1, BUF, 8, VRING_DESC_F_NEXT, 2);
	avail(0);
	expect_error(-EFAULT, "cannot read descriptor 2");
}
END_TEST

START_TEST(buffer_outside_ram)
{
	put_desc(DESC, 0, RAM - 8, 16, 0, 0);	/* straddles the end */
	avail(0);
	expect_error(-EFAULT, "is not mapped");
	vq.err[0] = 0;
	put_desc(DESC, 0, ~0ULL - 4, 16, 0, 0);	/* wraps around */
	avail(0);
	expect_error(-EFAULT, "is not mapped");
}
END_TEST

START_TEST(rings_outside_ram)
{
	vq.avail = RAM;
	expect_error(-EFAULT, "cannot read the available index");
	ck_assert(!virtq__has_avail(&vq));
	vq.avail = AVAIL;
	vq.used = RAM;
	vq.err[0] = 0;
	ck_assert_int_eq(virtq__push(&vq, 0, 0), -EFAULT);
	ck_assert_int_eq(virtq__flush(&vq), -EFAULT);
	ck_assert_msg(strstr(vq.err, "used ring entry"), "%s", vq.err);	/* the first error stays */
}
END_TEST

START_TEST(chain_longer_than_4g)
{
	/* 3 GiB of low RAM: two 2 GiB buffers map, their sum does not fit a 32-bit used length. */
	teardown();
	setup_mem(3 * GiB);
	put_desc(DESC, 0, 0x1000, 0x80000000u, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(DESC, 1, 0x1000, 0x80000000u, VRING_DESC_F_WRITE, 0);
	avail(0);
	expect_error(-EIO, "longer than 4 GiB");
}
END_TEST

START_TEST(translated_segments_and_faults)
{
	dma__init_as(&as, &mem, &fake_iommu, 0x0008);
	vq.desc = GiB + DESC;
	vq.avail = GiB + AVAIL;
	vq.used = GiB + USED;
	/* A 20 KiB buffer at an unaligned IOVA: one segment per page it touches. */
	put_desc(DESC, 0, GiB + BUF + 100, 5 * 4096, 0, 0);
	avail(0);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	ck_assert_uint_eq(req->nout, 6);
	ck_assert_uint_eq(req->iov[0].iov_len, 4096 - 100);
	ck_assert_ptr_eq(req->iov[1].iov_base, hva(BUF + 4096));
	ck_assert_uint_eq(nr_faults, 0);

	/* More than VIRTQ_MAX_IOV pages in one chain. */
	put_desc(DESC, 0, GiB, (VIRTQ_MAX_IOV + 1) * 4096, 0, 0);
	avail(0);
	expect_error(-EIO, "segments");

	/* An IOVA the translator does not map: the fault is recorded, the pop fails. */
	vq.err[0] = 0;
	put_desc(DESC, 0, 2 * GiB, 8, 0, 0);
	avail(0);
	expect_error(-EFAULT, "is not mapped");
	ck_assert_uint_eq(nr_faults, 1);
	ck_assert_uint_eq(last_fault, 2 * GiB);
	/* The rings themselves at an unmapped IOVA. */
	vq.err[0] = 0;
	vq.avail = 3 * GiB;
	expect_error(-EFAULT, "available index");
	ck_assert_uint_eq(last_fault, 3 * GiB + 2);
}
END_TEST

START_TEST(event_index)
{
	vq.event_idx = true;
	put_desc(DESC, 0, BUF, 8, 0, 0);
	for (int i = 0; i < 3; i++)
		avail(0);
	/* First decision: always interrupt. */
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	virtq__push(&vq, 0, 0);
	virtq__flush(&vq);
	ck_assert(virtq__need_interrupt(&vq));
	/* used_event = 5: the driver wants an interrupt only once used idx passes 5. */
	put16(AVAIL + 4 + 2 * QNUM, 5);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	virtq__push(&vq, 0, 0);
	virtq__flush(&vq);
	ck_assert(!virtq__need_interrupt(&vq));
	/* used_event = 2: the driver wants to hear when entry 2 is used, i.e. used idx goes 2 -> 3. */
	put16(AVAIL + 4 + 2 * QNUM, 2);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	virtq__push(&vq, 0, 0);
	virtq__flush(&vq);
	ck_assert(virtq__need_interrupt(&vq));
	ck_assert(!virtq__need_interrupt(&vq));	/* nothing new since */

	/* Kick suppression: avail_event follows our position when we ask for kicks. */
	ck_assert(!virtq__set_notify(&vq, true));
	ck_assert_uint_eq(get16(USED + 4 + 8 * QNUM), 3);
	avail(0);
	ck_assert(virtq__set_notify(&vq, true));	/* a buffer arrived: process it, no lost wake-up */
}
END_TEST

START_TEST(notify_flag_and_unpop)
{
	put_desc(DESC, 0, BUF, 8, 0, 0);
	virtq__set_notify(&vq, false);
	ck_assert_uint_eq(get16(USED), VRING_USED_F_NO_NOTIFY);
	ck_assert(!virtq__set_notify(&vq, true));
	ck_assert_uint_eq(get16(USED), 0);
	avail(0);
	avail(0);
	ck_assert(virtq__has_avail(&vq));
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
	virtq__unpop(&vq, 2);
	ck_assert_uint_eq(vq.last_avail, 0);
	ck_assert_int_eq(virtq__pop(&vq, req), 1);
}
END_TEST

START_TEST(configuration_checks)
{
	static const uint16_t bad_sizes[] = { 0, 3, 6, QNUM * 2 };

	for (unsigned i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
		vq.num = bad_sizes[i];
		ck_assert_int_eq(virtq__check(&vq), -EINVAL);
		ck_assert_msg(strstr(vq.err, "not a power of two"), "%s", vq.err);
		vq.err[0] = 0;
	}
	vq.num = 4;
	ck_assert_int_eq(virtq__check(&vq), 0);
	vq.desc = DESC + 8;
	ck_assert_int_eq(virtq__check(&vq), -EINVAL);
	vq.desc = DESC;
	vq.used = USED + 2;
	ck_assert_int_eq(virtq__check(&vq), -EINVAL);
	vq.err[0] = 0;
	vq.used = ~0ULL - 3;
	ck_assert_int_eq(virtq__check(&vq), -EINVAL);
	ck_assert_msg(strstr(vq.err, "wraps"), "%s", vq.err);
	/* Disabled queues pop nothing. */
	vq.used = USED;
	vq.enabled = false;
	ck_assert_int_eq(virtq__pop(&vq, req), 0);
}
END_TEST

static Suite *virtq_suite(void)
{
	Suite *s = suite_create("virtq");
	TCase *tc = tcase_create("split");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, chain_and_used_ring);
	tcase_add_test(tc, zero_length_descriptors);
	tcase_add_test(tc, loops);
	tcase_add_test(tc, self_loop);
	tcase_add_test(tc, longest_chain_is_queue_size);
	tcase_add_test(tc, indices_out_of_range);
	tcase_add_test(tc, avail_index_jump);
	tcase_add_test(tc, readable_after_writable);
	tcase_add_test(tc, indirect_tables);
	tcase_add_test(tc, indirect_nested);
	tcase_add_test(tc, indirect_with_next);
	tcase_add_test(tc, indirect_bad_sizes);
	tcase_add_test(tc, indirect_loop_and_range);
	tcase_add_test(tc, indirect_table_outside_ram);
	tcase_add_test(tc, descriptor_table_crosses_ram_end);
	tcase_add_test(tc, buffer_outside_ram);
	tcase_add_test(tc, rings_outside_ram);
	tcase_add_test(tc, chain_longer_than_4g);
	tcase_add_test(tc, translated_segments_and_faults);
	tcase_add_test(tc, event_index);
	tcase_add_test(tc, notify_flag_and_unpop);
	tcase_add_test(tc, configuration_checks);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(virtq_suite)
