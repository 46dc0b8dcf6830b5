/*
 * Tier 1: virtio-net (devices/virtio/net.c, tap.c) on the fake KVM host, with a SOCK_SEQPACKET socket
 * standing in for the tap (one frame with its 12-byte vnet header per message): configuration (MAC,
 * link up), offered offloads and the feature dependencies of §5.1.3.1, transmit, receive into mergeable
 * buffers with num_buffers, receive into single buffers (num_buffers 1, frames too big dropped), frames
 * that arrive before receive buffers are posted, and the error messages when a tap cannot be opened.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_virtio_driver.h"
#include "devices/virtio/net.h"
#include "devices/virtio/tap.h"
#include "vmm/log.h"

#define RXQ 0
#define TXQ 1

static struct virtio_net *net;
static struct tdrv drv;
static int peer = -1;
static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

static void add_net(bool guest_offloads)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	net = virtio_net__create_fd(host, sv[0], mac, guest_offloads, 0);
	ck_assert_ptr_nonnull(net);
	peer = sv[1];
	ck_assert_int_eq(pci_host__assign_resources(host), 0);
	td_attach(&drv, PCI_DEVFN(1, 0));
}

static void setup(void)
{
	log__level = LOG_ERR;
	td_setup_vm();
	add_net(true);
}

static void teardown(void)
{
	virtio_net__destroy(net);
	close(peer);
	pci_host__exit(host);
	fake_vm__free(vm);
}

static uint64_t f(unsigned bit)
{
	return 1ULL << bit;
}

static void bring_up(uint64_t features)
{
	ck_assert(td_negotiate(&drv, f(VIRTIO_F_VERSION_1) | features));
	td_queue(&drv, RXQ, 16, VIRTIO_MSI_NO_VECTOR);
	td_queue(&drv, TXQ, 16, VIRTIO_MSI_NO_VECTOR);
	td_driver_ok(&drv);
}

/* Receive buffer @i: @len device-writable bytes at TD_BUF + 0x1000 * i, descriptor i. */
static void post_rx(unsigned i, uint32_t len, bool kick)
{
	memset(td_hva(TD_BUF + 0x1000 * i), 0xee, len);
	td_desc(RXQ, i, TD_BUF + 0x1000 * i, len, VRING_DESC_F_WRITE, 0);
	td_publish(&drv, RXQ, i, kick);
}

/* A frame of @n bytes with a vnet header in front, as the tap would hand it over. */
static void send_frame(size_t n, uint8_t seed)
{
	uint8_t buf[2048] = { 0 };

	((struct virtio_net_hdr_v1 *)buf)->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	for (size_t i = 0; i < n; i++)
		buf[12 + i] = seed + i;
	ck_assert_int_eq(write(peer, buf, 12 + n), 12 + n);
}

START_TEST(config_and_features)
{
	uint64_t offered = td_device_features(&drv);

	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(td_read(drv.bar + VIRTIO_DEVCFG_OFF + i, 1), mac[i]);
	ck_assert_uint_eq(td_read(drv.bar + VIRTIO_DEVCFG_OFF + 6, 2), VIRTIO_NET_S_LINK_UP);
	ck_assert(offered & f(VIRTIO_NET_F_MAC));
	ck_assert(offered & f(VIRTIO_NET_F_STATUS));
	ck_assert(offered & f(VIRTIO_NET_F_MRG_RXBUF));
	ck_assert(offered & f(VIRTIO_NET_F_CSUM));
	ck_assert(offered & f(VIRTIO_NET_F_HOST_TSO4));
	ck_assert(offered & f(VIRTIO_NET_F_GUEST_TSO6));
	ck_assert(!(offered & f(VIRTIO_NET_F_CTRL_VQ)));
	/* §5.1.3.1 dependencies. */
	ck_assert(!td_negotiate(&drv, f(VIRTIO_F_VERSION_1) | f(VIRTIO_NET_F_GUEST_TSO4)));
	ck_assert(!td_negotiate(&drv, f(VIRTIO_F_VERSION_1) | f(VIRTIO_NET_F_GUEST_CSUM) | f(VIRTIO_NET_F_GUEST_ECN)));
	ck_assert(!td_negotiate(&drv, f(VIRTIO_F_VERSION_1) | f(VIRTIO_NET_F_HOST_TSO6)));
	ck_assert(!td_negotiate(&drv, f(VIRTIO_F_VERSION_1) | f(VIRTIO_NET_F_CSUM) | f(VIRTIO_NET_F_HOST_ECN)));
	ck_assert(td_negotiate(&drv, f(VIRTIO_F_VERSION_1) | f(VIRTIO_NET_F_CSUM) | f(VIRTIO_NET_F_HOST_TSO4) |
					     f(VIRTIO_NET_F_HOST_ECN) | f(VIRTIO_NET_F_GUEST_CSUM) |
					     f(VIRTIO_NET_F_GUEST_TSO4)));
}
END_TEST

START_TEST(no_guest_offloads_without_tap_support)
{
	/* A new host bridge: the PCI host has no hot-unplug. */
	virtio_net__destroy(net);
	close(peer);
	pci_host__exit(host);
	host = pci_host__init(vm);
	add_net(false);
	ck_assert(!(td_device_features(&drv) & f(VIRTIO_NET_F_GUEST_CSUM)));
	ck_assert(!(td_device_features(&drv) & f(VIRTIO_NET_F_GUEST_TSO4)));
	ck_assert(td_device_features(&drv) & f(VIRTIO_NET_F_HOST_TSO4));
}
END_TEST

START_TEST(transmit)
{
	uint8_t got[256];
	uint32_t len;

	bring_up(f(VIRTIO_NET_F_MRG_RXBUF) | f(VIRTIO_NET_F_CSUM));
	memset(td_hva(TD_BUF), 0, 12);
	((struct virtio_net_hdr_v1 *)td_hva(TD_BUF))->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	for (int i = 0; i < 60; i++)
		((uint8_t *)td_hva(TD_BUF + 0x100))[i] = i;
	td_desc(TXQ, 0, TD_BUF, 12, VRING_DESC_F_NEXT, 1);
	td_desc(TXQ, 1, TD_BUF + 0x100, 60, 0, 0);
	td_publish(&drv, TXQ, 0, true);
	ck_assert(td_wait_used(&drv, TXQ, NULL, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(read(peer, got, sizeof(got)), 72);	/* header and frame in one message */
	ck_assert_uint_eq(((struct virtio_net_hdr_v1 *)got)->flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	ck_assert_mem_eq(got + 12, td_hva(TD_BUF + 0x100), 60);
	/* A chain shorter than the header is dropped, but given back. */
	td_desc(TXQ, 2, TD_BUF, 6, 0, 0);
	td_publish(&drv, TXQ, 2, true);
	ck_assert(td_wait_used(&drv, TXQ, NULL, NULL));
}
END_TEST

START_TEST(receive_mergeable)
{
	uint32_t id, len;
	uint8_t frame[80];

	bring_up(f(VIRTIO_NET_F_MRG_RXBUF));
	for (unsigned i = 0; i < 4; i++)
		post_rx(i, 40, i == 3);
	send_frame(80, 7);	/* 92 bytes: 40 + 40 + 12 */
	for (unsigned i = 0; i < 3; i++) {
		ck_assert(td_wait_used(&drv, RXQ, &id, &len));
		ck_assert_uint_eq(id, i);
		ck_assert_uint_eq(len, i < 2 ? 40 : 12);
	}
	ck_assert_uint_eq(((struct virtio_net_hdr_v1 *)td_hva(TD_BUF))->num_buffers, 3);
	ck_assert_uint_eq(((struct virtio_net_hdr_v1 *)td_hva(TD_BUF))->flags, VIRTIO_NET_HDR_F_DATA_VALID);
	memcpy(frame, td_hva(TD_BUF + 12), 28);
	memcpy(frame + 28, td_hva(TD_BUF + 0x1000), 40);
	memcpy(frame + 68, td_hva(TD_BUF + 0x2000), 12);
	for (int i = 0; i < 80; i++)
		ck_assert_uint_eq(frame[i], (uint8_t)(7 + i));
	/* The fourth buffer takes the next small frame alone. */
	send_frame(20, 1);
	ck_assert(td_wait_used(&drv, RXQ, &id, &len));
	ck_assert_uint_eq(id, 3);
	ck_assert_uint_eq(len, 32);
	ck_assert_uint_eq(((struct virtio_net_hdr_v1 *)td_hva(TD_BUF + 0x3000))->num_buffers, 1);
}
END_TEST

START_TEST(receive_single_buffers)
{
	uint32_t id, len;

	bring_up(0);
	post_rx(0, 64, false);
	post_rx(1, 1600, true);
	send_frame(100, 3);	/* does not fit buffer 0: dropped, buffer 0 stays for the next frame */
	send_frame(40, 5);
	ck_assert(td_wait_used(&drv, RXQ, &id, &len));
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 52);
	ck_assert_uint_eq(((struct virtio_net_hdr_v1 *)td_hva(TD_BUF))->num_buffers, 1);
	ck_assert_uint_eq(((uint8_t *)td_hva(TD_BUF + 12))[0], 5);
	send_frame(1000, 9);
	ck_assert(td_wait_used(&drv, RXQ, &id, &len));
	ck_assert_uint_eq(id, 1);
	ck_assert_uint_eq(len, 1012);
}
END_TEST

START_TEST(frames_wait_for_buffers)
{
	uint32_t id, len;

	bring_up(f(VIRTIO_NET_F_MRG_RXBUF));
	send_frame(30, 2);
	send_frame(31, 2);
	usleep(20000);
	ck_assert_uint_eq(td_used_idx(RXQ), 0);
	post_rx(0, 100, true);	/* the kick makes the device read the tap again */
	ck_assert(td_wait_used(&drv, RXQ, &id, &len));
	ck_assert_uint_eq(len, 42);
	post_rx(1, 100, true);
	ck_assert(td_wait_used(&drv, RXQ, &id, &len));
	ck_assert_uint_eq(id, 1);
	ck_assert_uint_eq(len, 43);
}
END_TEST

START_TEST(tap_open_errors)
{
	char err[256];
	unsigned offl;
	int fd;

	ck_assert_int_eq(tap__open("/nonexistent/tun", "tap0", &fd, &offl, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "tap tap0: cannot open /nonexistent/tun"), "%s", err);
	ck_assert_msg(strstr(err, "modprobe tun"), "%s", err);
	ck_assert_int_eq(fd, -1);
	/* TUNSETIFF refused (the fake host answers for the kernel; /dev/null stands in for the tun device). */
	fake_kvm__fail(TUNSETIFF, EPERM);
	ck_assert_int_eq(tap__open("/dev/null", "tap0", &fd, &offl, err, sizeof(err)), -EPERM);
	ck_assert_msg(strstr(err, "TUNSETIFF") && strstr(err, "CAP_NET_ADMIN") && strstr(err, "ip tuntap add tap0"),
		      "%s", err);
	fake_kvm__fail(TUNSETIFF, EBUSY);
	ck_assert_int_eq(tap__open("/dev/null", "tap0", &fd, &offl, err, sizeof(err)), -EBUSY);
	ck_assert_msg(strstr(err, "busy"), "%s", err);
	fake_kvm__fail(TUNSETIFF, EINVAL);
	ck_assert_int_eq(tap__open("/dev/null", "eth0", &fd, &offl, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "not a tap device"), "%s", err);
	fake_kvm__fail(TUNSETVNETHDRSZ, EINVAL);
	ck_assert_int_eq(tap__open("/dev/null", "tap0", &fd, &offl, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "TUNSETVNETHDRSZ"), "%s", err);
	/* Offloads the tap refuses are not offered. */
	fake_kvm__fail(TUNSETOFFLOAD, EINVAL);
	ck_assert_int_eq(tap__open("/dev/null", "tap0", &fd, &offl, err, sizeof(err)), 0);
	ck_assert_uint_eq(offl, 0);
	close(fd);
	fake_kvm__fail(0, 0);
	ck_assert_int_eq(tap__open("/dev/null", "tap0", &fd, &offl, err, sizeof(err)), 0);
	ck_assert_uint_eq(offl, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
	close(fd);
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("virtio_net");
	TCase *tc = tcase_create("net");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_and_features);
	tcase_add_test(tc, no_guest_offloads_without_tap_support);
	tcase_add_test(tc, transmit);
	tcase_add_test(tc, receive_mergeable);
	tcase_add_test(tc, receive_single_buffers);
	tcase_add_test(tc, frames_wait_for_buffers);
	tcase_add_test(tc, tap_open_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(net_suite)
