/*
 * Tier 1: virtio-rng (devices/virtio/rng.c) and virtio-console (devices/virtio/console.c) on the fake
 * KVM host. rng: buffers filled with random bytes, at most 64 KiB per request, nothing for a chain
 * without writable room. console (on pipes): output, input, input that waits for receive buffers,
 * output that waits for a full pipe without losing bytes, emergency writes, end of input; the file and
 * pty host sides; the error for an output file that cannot be created.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_console.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_virtio_driver.h"
#include "devices/virtio/console.h"
#include "devices/virtio/rng.h"
#include "vmm/log.h"

static struct tdrv drv;

static void setup(void)
{
	log__level = LOG_ERR;
	td_setup_vm();
}

static void teardown(void)
{
	pci_host__exit(host);
	fake_vm__free(vm);
}

static void attach_and_start(uint64_t features, unsigned nq)
{
	ck_assert_int_eq(pci_host__assign_resources(host), 0);
	td_attach(&drv, PCI_DEVFN(1, 0));
	ck_assert(td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1) | features));
	for (unsigned q = 0; q < nq; q++)
		td_queue(&drv, q, 16, VIRTIO_MSI_NO_VECTOR);
	td_driver_ok(&drv);
}

/* ---- rng ---- */

START_TEST(rng_fills_buffers)
{
	struct virtio_rng *rng = virtio_rng__create(host);
	uint8_t zero[64] = { 0 };
	uint32_t len;

	ck_assert_ptr_nonnull(rng);
	attach_and_start(0, 1);
	memset(td_hva(TD_BUF), 0, 64);
	td_desc(0, 0, TD_BUF, 64, VRING_DESC_F_WRITE, 0);
	td_publish(&drv, 0, 0, true);
	ck_assert(td_wait_used(&drv, 0, NULL, &len));
	ck_assert_uint_eq(len, 64);
	ck_assert(memcmp(td_hva(TD_BUF), zero, 64));	/* 2^-512 to fail by chance */
	/* A huge buffer gets 64 KiB; a chain with nothing writable gets nothing. */
	td_desc(0, 1, TD_BUF, 1 * MiB, VRING_DESC_F_WRITE, 0);
	td_publish(&drv, 0, 1, true);
	ck_assert(td_wait_used(&drv, 0, NULL, &len));
	ck_assert_uint_eq(len, VIRTIO_RNG_MAX_REQ);
	td_desc(0, 2, TD_BUF, 16, 0, 0);
	td_publish(&drv, 0, 2, true);
	ck_assert(td_wait_used(&drv, 0, NULL, &len));
	ck_assert_uint_eq(len, 0);
	virtio_rng__destroy(rng);
}
END_TEST

/* ---- console ---- */

static int in_w = -1, out_r = -1;
static struct virtio_console *con;

static void add_console(void)
{
	int in[2], out[2];

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	con = virtio_console__create_fds(host, in[0], out[1]);
	ck_assert_ptr_nonnull(con);
	in_w = in[1];
	out_r = out[0];
	attach_and_start(BIT(VIRTIO_CONSOLE_F_EMERG_WRITE), 2);
}

static void remove_console(void)
{
	virtio_console__destroy(con);
	if (in_w >= 0)
		close(in_w);
	close(out_r);
	in_w = out_r = -1;
}

/* Guest output: @n bytes from TD_BUF + @off as descriptor @i of the transmit queue. */
static void tx(unsigned i, uint64_t off, uint32_t n)
{
	td_desc(1, i, TD_BUF + off, n, 0, 0);
	td_publish(&drv, 1, i, true);
}

START_TEST(console_output_and_input)
{
	char got[16] = { 0 };
	uint32_t id, len;

	add_console();
	memcpy(td_hva(TD_BUF), "hello", 5);
	tx(0, 0, 5);
	ck_assert(td_wait_used(&drv, 1, &id, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(read(out_r, got, sizeof(got)), 5);
	ck_assert_str_eq(got, "hello");
	/* Input: a receive buffer, then bytes from the host. */
	td_desc(0, 0, TD_BUF + 0x1000, 64, VRING_DESC_F_WRITE, 0);
	td_publish(&drv, 0, 0, true);
	ck_assert_int_eq(write(in_w, "abc", 3), 3);
	ck_assert(td_wait_used(&drv, 0, &id, &len));
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(td_hva(TD_BUF + 0x1000), "abc", 3);
	/* Input before a buffer is posted waits for it. */
	ck_assert_int_eq(write(in_w, "xyz", 3), 3);
	usleep(20000);
	ck_assert_uint_eq(td_used_idx(0), 1);
	td_desc(0, 1, TD_BUF + 0x2000, 64, VRING_DESC_F_WRITE, 0);
	td_publish(&drv, 0, 1, true);
	ck_assert(td_wait_used(&drv, 0, &id, &len));
	ck_assert_uint_eq(id, 1);
	ck_assert_mem_eq(td_hva(TD_BUF + 0x2000), "xyz", 3);
	/* Emergency write: one character through the configuration space. */
	td_write(drv.bar + VIRTIO_DEVCFG_OFF + 8, 4, 'Z');
	ck_assert_int_eq(read(out_r, got, 1), 1);
	ck_assert_int_eq(got[0], 'Z');
	/* End of input: the device stops reading; output still works. */
	close(in_w);
	in_w = -1;
	td_desc(0, 2, TD_BUF + 0x3000, 64, VRING_DESC_F_WRITE, 0);
	td_publish(&drv, 0, 2, true);
	tx(1, 0, 5);
	ck_assert(td_wait_used(&drv, 1, NULL, NULL));
	ck_assert_uint_eq(td_used_idx(0), 2);
	remove_console();
}
END_TEST

START_TEST(console_output_waits_for_a_full_pipe)
{
	static char sink[256 * 1024];
	size_t total = 0;
	ssize_t r;

	add_console();
	ck_assert_int_gt(fcntl(out_r, F_SETPIPE_SZ, 4096), 0);
	for (int i = 0; i < 32 * 1024; i++)
		((char *)td_hva(TD_BUF))[i] = 'a' + i % 26;
	/* 32 KiB into a 4 KiB pipe nobody reads: the chain stays in flight. */
	tx(0, 0, 32 * 1024);
	usleep(50000);
	ck_assert_uint_eq(td_used_idx(1), 0);
	/* Drain: everything arrives, in order, and the chain completes. */
	while (total < 32 * 1024 && (r = read(out_r, sink + total, sizeof(sink) - total)) > 0)
		total += r;
	ck_assert_uint_eq(total, 32 * 1024);
	ck_assert_mem_eq(sink, td_hva(TD_BUF), 32 * 1024);
	ck_assert(td_wait_used(&drv, 1, NULL, NULL));
	remove_console();
}
END_TEST

START_TEST(console_file_and_pty)
{
	char path[] = "/tmp/vcon-test.XXXXXX", got[8] = { 0 };
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	con = virtio_console__create(host, CONSOLE_FILE, path);
	ck_assert_ptr_nonnull(con);
	attach_and_start(0, 2);
	memcpy(td_hva(TD_BUF), "to-file", 7);
	tx(0, 0, 7);
	ck_assert(td_wait_used(&drv, 1, NULL, NULL));
	ck_assert_int_eq(pread(fd, got, 7, 0), 7);
	ck_assert_str_eq(got, "to-file");
	virtio_console__destroy(con);
	close(fd);
	unlink(path);
	ck_assert_ptr_null(virtio_console__create(host, CONSOLE_FILE, "/nonexistent/dir/out"));
	con = virtio_console__create(host, CONSOLE_PTY, NULL);
	ck_assert_ptr_nonnull(con);
	virtio_console__destroy(con);
}
END_TEST

static Suite *devices_suite(void)
{
	Suite *s = suite_create("virtio_devices");
	TCase *tc = tcase_create("rng_console");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rng_fills_buffers);
	tcase_add_test(tc, console_output_and_input);
	tcase_add_test(tc, console_output_waits_for_a_full_pipe);
	tcase_add_test(tc, console_file_and_pty);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(devices_suite)
