/*
 * Tier 1: the virtio-pci transport (devices/virtio/virtio-*.c) on the fake KVM host, with an "echo"
 * device that copies each chain's readable bytes into its writable ones. Covers the capability layout,
 * feature negotiation (VERSION_1 required, unknown features refused, device vetoes, ACCESS_PLATFORM
 * offered exactly when a translator is set and then required, features frozen after FEATURES_OK),
 * common configuration at every access width, queue set-up, kicks through the notify area and the
 * I/O thread, kicks before DRIVER_OK, MSI-X delivery through irqfd routes, masked vectors (pending bit,
 * sent on unmask), INTx with the ISR, a broken device (bad queue size, descriptor loop, DMA fault,
 * DRIVER_OK without FEATURES_OK: DEVICE_NEEDS_RESET and a configuration interrupt), reset, the PCI
 * configuration access window, and ioeventfd registration following BAR moves.
 */
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "test_virtio_driver.h"
#include "devices/virtio/iov.h"
#include "vmm/log.h"

#define ECHO_QUEUES	2
#define ECHO_QMAX	16
#define ECHO_F_A	0	/* device feature bits of the echo device */
#define ECHO_F_B	1	/* needs ECHO_F_A (its features_ok says so) */

struct echo {
	struct virtio_dev vdev;
	uint8_t cfg[8];
	struct virtq_req *req;
	unsigned starts, resets;
};

static struct echo echo;
static struct tdrv drv;

static void echo_cfg_read(struct virtio_dev *vdev, unsigned off, void *data, unsigned len)
{
	memcpy(data, echo.cfg + off, len);
}

static void echo_cfg_write(struct virtio_dev *vdev, unsigned off, const void *data, unsigned len)
{
	memcpy(echo.cfg + off, data, len);
}

static bool echo_features_ok(struct virtio_dev *vdev, uint64_t f)
{
	return !(f & BIT(ECHO_F_B)) || (f & BIT(ECHO_F_A));
}

static void echo_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	uint8_t tmp[4096];
	int ret;

	while ((ret = virtq__pop(vq, echo.req)) > 0) {
		size_t n = iov__to_buf(echo.req->iov, echo.req->nout, 0, tmp, sizeof(tmp));

		n = iov__from_buf(virtq__in_iov(echo.req), echo.req->nin, 0, tmp, n);
		virtq__push(vq, echo.req->head, n);
	}
	virtio__queue_done(vdev, vq);
	if (ret < 0)
		virtio__queue_error(vdev, vq);
}

static void echo_start(struct virtio_dev *vdev)
{
	echo.starts++;
}

static void echo_reset(struct virtio_dev *vdev)
{
	echo.resets++;
}

static const struct virtio_dev_ops echo_ops = {
	.features_ok = echo_features_ok,
	.cfg_read = echo_cfg_read,
	.cfg_write = echo_cfg_write,
	.queue_notify = echo_notify,
	.start = echo_start,
	.reset = echo_reset,
};

/* A translator that maps everything 1:1 except IOVAs at or above 8 MiB, which fault. */
static unsigned nr_faults;

static int tr_translate(void *opaque, uint16_t sid, const struct dma_attrs *attrs, uint64_t iova, enum dma_dir dir,
			uint64_t *gpa, uint64_t *len)
{
	if (iova >= 8 * MiB) {
		__atomic_fetch_add(&nr_faults, 1, __ATOMIC_RELAXED);
		return -EFAULT;
	}
	*gpa = iova;
	*len = 4096 - (iova & 4095);
	return 0;
}

static const struct dma_translator tr = { .translate = tr_translate };

static void add_echo(bool translated)
{
	memset(&echo, 0, sizeof(echo));
	echo.req = virtq__req_alloc();
	ck_assert_int_eq(virtio__init_dev(&echo.vdev, "virtio-echo", VIRTIO_ID_RNG, 0x00ff00, ECHO_QUEUES, ECHO_QMAX,
					  &echo_ops, &echo), 0);
	echo.vdev.features = BIT(ECHO_F_A) | BIT(ECHO_F_B);
	echo.vdev.cfg_size = sizeof(echo.cfg);
	if (translated)
		pci_host__set_translator(host, &tr);
	ck_assert_int_eq(virtio__add(&echo.vdev, host), 0);
	ck_assert_int_eq(pci_host__assign_resources(host), 0);
	td_attach(&drv, echo.vdev.pci.devfn);
}

static void setup(void)
{
	log__level = LOG_ERR;	/* the refusals and breakages below are expected */
	td_setup_vm();
	nr_faults = 0;
}

static void teardown(void)
{
	if (echo.req) {
		virtio__exit_dev(&echo.vdev);
		virtq__req_free(echo.req);
		echo.req = NULL;
	}
	pci_host__exit(host);
	fake_vm__free(vm);
}

static uint64_t base_features(void)
{
	return BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_RING_F_EVENT_IDX);
}

/* Negotiate, queue 0 with vector 0, config vector 2, DRIVER_OK. */
static void bring_up(void)
{
	ck_assert(td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1)));
	td_cc_write(&drv, VIRTIO_PCI_COMMON_MSIX, 2, 2);
	td_queue(&drv, 0, 8, 0);
	td_driver_ok(&drv);
}

/* Echo "ping" through queue 0: readable at TD_BUF, writable at TD_BUF + 0x1000. */
static void echo_once(void)
{
	uint32_t id, len;

	memcpy(td_hva(TD_BUF), "ping", 4);
	memset(td_hva(TD_BUF + 0x1000), 0, 16);
	td_desc(0, 0, TD_BUF, 4, VRING_DESC_F_NEXT, 1);
	td_desc(0, 1, TD_BUF + 0x1000, 16, VRING_DESC_F_WRITE, 0);
	td_publish(&drv, 0, 0, true);
	ck_assert(td_wait_used(&drv, 0, &id, &len));
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(td_hva(TD_BUF + 0x1000), "ping", 4);
}

START_TEST(capability_layout)
{
	unsigned pos, found = 0;

	add_echo(false);
	ck_assert_uint_eq(td_cfg_read(&drv, PCI_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(td_cfg_read(&drv, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
	ck_assert_uint_eq(td_cfg_read(&drv, PCI_REVISION_ID, 1), 1);
	ck_assert_uint_eq(td_cfg_read(&drv, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(td_cfg_read(&drv, PCI_INTERRUPT_PIN, 1), 1);
	ck_assert_uint_eq(td_cfg_read(&drv, PCI_BASE_ADDRESS_4, 4) & 0xf, PCI_BASE_ADDRESS_MEM_TYPE_64);
	for (pos = td_cfg_read(&drv, PCI_CAPABILITY_LIST, 1); pos; pos = td_cfg_read(&drv, pos + 1, 1)) {
		unsigned type = td_cfg_read(&drv, pos + 3, 1), bar = td_cfg_read(&drv, pos + 4, 1);
		uint32_t off = td_cfg_read(&drv, pos + 8, 4), len = td_cfg_read(&drv, pos + 12, 4);

		if (td_cfg_read(&drv, pos, 1) == PCI_CAP_ID_MSIX) {
			ck_assert_uint_eq((td_cfg_read(&drv, pos + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1,
					  ECHO_QUEUES + 1);
			continue;
		}
		ck_assert_uint_eq(td_cfg_read(&drv, pos, 1), PCI_CAP_ID_VNDR);
		found |= 1u << type;
		if (type != VIRTIO_PCI_CAP_PCI_CFG)
			ck_assert_uint_eq(bar, VIRTIO_BAR);
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			ck_assert_uint_eq(off, VIRTIO_COMMON_OFF);
			ck_assert_uint_ge(len, 0x38);
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			ck_assert_uint_eq(off, VIRTIO_NOTIFY_OFF);
			ck_assert_uint_eq(len, VIRTIO_NOTIFY_MULT * ECHO_QUEUES);
			ck_assert_uint_eq(td_cfg_read(&drv, pos + 16, 4), VIRTIO_NOTIFY_MULT);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			ck_assert_uint_eq(off, VIRTIO_ISR_OFF);
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			ck_assert_uint_eq(off, VIRTIO_DEVCFG_OFF);
			break;
		}
	}
	ck_assert_uint_eq(found, 0x3e);	/* types 1 to 5 */
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_NUMQ, 2), ECHO_QUEUES);
}
END_TEST

START_TEST(feature_negotiation)
{
	uint64_t f;

	add_echo(false);
	f = td_device_features(&drv);
	ck_assert_uint_eq(f, base_features() | BIT(ECHO_F_A) | BIT(ECHO_F_B));	/* no ACCESS_PLATFORM */
	td_cc_write(&drv, VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_DF, 4), 0);
	/* Refused: no VERSION_1; a feature not offered; the device's own dependency. */
	ck_assert(!td_negotiate(&drv, BIT(ECHO_F_A)));
	ck_assert(!td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1) | BIT(40)));
	ck_assert(!td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1) | BIT(ECHO_F_B)));
	ck_assert(!td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_ACCESS_PLATFORM)));
	/* Accepted, then frozen. */
	ck_assert(td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1) | BIT(ECHO_F_A) | BIT(ECHO_F_B)));
	td_cc_write(&drv, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_GF, 4, 0);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_GF, 4), BIT(ECHO_F_A) | BIT(ECHO_F_B));
	ck_assert(virtio__has(&echo.vdev, ECHO_F_B));
	ck_assert(!echo.vdev.vq[0].event_idx);
	ck_assert(td_negotiate(&drv, base_features()));
	ck_assert(echo.vdev.vq[1].event_idx && echo.vdev.vq[1].indirect);
	/* Clearing FEATURES_OK in a later status write does not un-negotiate. */
	td_cc_write(&drv, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ck_assert(td_status(&drv) & VIRTIO_CONFIG_S_FEATURES_OK);
}
END_TEST

START_TEST(access_platform_iff_translated)
{
	add_echo(true);
	ck_assert(td_device_features(&drv) & BIT(VIRTIO_F_ACCESS_PLATFORM));
	ck_assert(!td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1)));
	ck_assert(td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_ACCESS_PLATFORM)));
	/* Through the translator: a ring at a faulting IOVA breaks the device. */
	td_cc_write(&drv, VIRTIO_PCI_COMMON_MSIX, 2, 2);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_SIZE, 2, 8);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 8 * MiB);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, 8 * MiB + 0x1000);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_USEDLO, 8, 8 * MiB + 0x2000);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	td_driver_ok(&drv);	/* DRIVER_OK processes the queue: the avail index read faults */
	ck_assert(td_wait(td_needs_reset, &drv, 2000));
	ck_assert_uint_ge(__atomic_load_n(&nr_faults, __ATOMIC_RELAXED), 1);
}
END_TEST

START_TEST(common_config_widths)
{
	uint64_t img[8];

	add_echo(false);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	/* A 64-bit address as one qword, then as two dwords, then byte by byte. */
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x123456789000ULL);
	ck_assert_uint_eq(echo.vdev.vq[1].desc, 0x123456789000ULL);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, 0x2000);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 0x1);
	ck_assert_uint_eq(echo.vdev.vq[1].avail, 0x100002000ULL);
	for (unsigned i = 0; i < 8; i++)
		td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_USEDLO + i, 1, 0x11 * (i + 1));
	ck_assert_uint_eq(echo.vdev.vq[1].used, 0x8877665544332211ULL);
	/* A dword at 0x14 writes status (and the read-only generation) and queue_select. */
	td_cc_write(&drv, VIRTIO_PCI_COMMON_STATUS, 4, 0x00000001 | 0xff00 | 0x0000u << 16);
	ck_assert_uint_eq(td_status(&drv), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_CFGGENERATION, 1), 0);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
	/* Reading the structure as qwords agrees with the fields. */
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	for (unsigned i = 0; i < 8; i++)
		img[i] = td_cc(&drv, 8 * i, 8);
	ck_assert_uint_eq(((uint8_t *)img)[VIRTIO_PCI_COMMON_STATUS], VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ck_assert_uint_eq(*(uint16_t *)((uint8_t *)img + VIRTIO_PCI_COMMON_Q_SIZE), ECHO_QMAX);
	ck_assert_uint_eq(*(uint16_t *)((uint8_t *)img + VIRTIO_PCI_COMMON_Q_NOFF), 1);
	ck_assert_uint_eq(*(uint64_t *)((uint8_t *)img + VIRTIO_PCI_COMMON_Q_USEDLO), 0x8877665544332211ULL);
	/* Vectors the device does not have read back as NO_VECTOR; so does a queue it does not have. */
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_MSIX, 2, ECHO_QUEUES + 1);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_MSIX, 2, ECHO_QUEUES);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_MSIX, 2), ECHO_QUEUES);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_SELECT, 2, ECHO_QUEUES);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	/* Beyond the structure: zeros. Device configuration: through the ops, clipped at cfg_size. */
	ck_assert_uint_eq(td_cc(&drv, 0x40, 4), 0);
	td_write(drv.bar + VIRTIO_DEVCFG_OFF + 4, 4, 0xa1b2c3d4);
	ck_assert_uint_eq(td_read(drv.bar + VIRTIO_DEVCFG_OFF + 4, 4), 0xa1b2c3d4);
	ck_assert_uint_eq(td_read(drv.bar + VIRTIO_DEVCFG_OFF + 6, 4), 0xa1b2);
}
END_TEST

START_TEST(queue_config_frozen_once_enabled)
{
	add_echo(false);
	ck_assert(td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1)));
	td_queue(&drv, 0, 8, 0);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x5000);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_DESCLO, 8), TD_RING(0));
	ck_assert_uint_eq(echo.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}
END_TEST

START_TEST(echo_through_kicks_and_irqfd)
{
	uint64_t cnt;

	add_echo(false);
	td_msix(&drv, 0, false);
	td_msix(&drv, 2, false);
	bring_up();
	ck_assert_uint_eq(echo.starts, 1);
	echo_once();
	/* The interrupt went out through an irqfd bound to a GSI routed to entry 0's message. */
	ck_assert(echo.vdev.vec[0].attached);
	ck_assert_int_ge(echo.vdev.vec[0].gsi, IOAPIC_PINS);
	ck_assert_int_eq(read(echo.vdev.vec[0].efd, &cnt, sizeof(cnt)), sizeof(cnt));
	ck_assert_uint_ge(cnt, 1);
	ck_assert_uint_eq(fake_kvm.nr_msis, 0);
	pthread_mutex_lock(&fake_kvm.lock);
	bool found = false;
	for (unsigned i = 0; i < fake_kvm.nr_irqfds; i++)
		found |= fake_kvm.irqfds[i].fd == echo.vdev.vec[0].efd && fake_kvm.irqfds[i].assign &&
			 fake_kvm.irqfds[i].gsi == (unsigned)echo.vdev.vec[0].gsi;
	for (unsigned i = 0; i < fake_kvm.nr_routes; i++)
		if (fake_kvm.routes[i].gsi == (unsigned)echo.vdev.vec[0].gsi)
			ck_assert_uint_eq(fake_kvm.routes[i].u.msi.data, 0x40);
	pthread_mutex_unlock(&fake_kvm.lock);
	ck_assert(found);
	/* The guest changes the message: the route follows. */
	td_write(drv.msix + 8, 4, 0x55);
	ck_assert_uint_eq(echo.vdev.vec[0].data, 0x55);
	echo_once();
	ck_assert_uint_ge(echo.vdev.nr_kicks, 2);
}
END_TEST

START_TEST(masked_vector_pends)
{
	add_echo(false);
	td_msix(&drv, 0, true);
	bring_up();
	echo_once();
	/* Masked: no irqfd (KVM would ignore the mask), the pending bit instead. */
	ck_assert(!echo.vdev.vec[0].attached);
	ck_assert_uint_eq(td_read(drv.msix + drv.pci->msix_pba_off, 1) & 1, 1);
	ck_assert_uint_eq(fake_kvm.nr_msis, 0);
	td_write(drv.msix + 12, 4, 0);	/* unmask: the PCI base sends it */
	ck_assert_uint_eq(fake_kvm.nr_msis, 1);
	ck_assert_uint_eq(fake_kvm.msis[0].data, 0x40);
	ck_assert(echo.vdev.vec[0].attached);	/* and later ones go through the irqfd */
}
END_TEST

START_TEST(intx_and_isr)
{
	int gsi;
	uint8_t isr;

	add_echo(false);
	gsi = drv.pci->intx_gsi;
	bring_up();	/* no MSI-X: INTx */
	echo_once();
	ck_assert_int_eq(fake_kvm__level(gsi), 1);
	isr = td_read(drv.bar + VIRTIO_ISR_OFF, 1);
	ck_assert_uint_eq(isr, VIRTIO_ISR_QUEUE);
	ck_assert_int_eq(fake_kvm__level(gsi), 0);	/* reading the ISR deasserts */
	ck_assert_uint_eq(td_read(drv.bar + VIRTIO_ISR_OFF, 1), 0);
	/* A configuration change: ISR bit 1. */
	virtio__config_changed(&echo.vdev);
	ck_assert_int_eq(fake_kvm__level(gsi), 1);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_CFGGENERATION, 1), 1);
	ck_assert_uint_eq(td_read(drv.bar + VIRTIO_ISR_OFF, 1), VIRTIO_ISR_CONFIG);
}
END_TEST

START_TEST(kicks_before_driver_ok)
{
	uint32_t len;

	add_echo(false);
	ck_assert(td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1)));
	td_queue(&drv, 1, 8, VIRTIO_MSI_NO_VECTOR);
	memcpy(td_hva(TD_BUF), "early", 5);
	td_desc(1, 3, TD_BUF, 5, VRING_DESC_F_NEXT, 4);
	td_desc(1, 4, TD_BUF + 0x1000, 8, VRING_DESC_F_WRITE, 0);
	td_publish(&drv, 1, 3, true);
	usleep(20000);
	ck_assert_uint_eq(td_used_idx(1), 0);	/* §3.1.1: nothing is used before DRIVER_OK */
	td_driver_ok(&drv);
	ck_assert(td_wait_used(&drv, 1, NULL, &len));
	ck_assert_uint_eq(len, 5);
}
END_TEST

static void expect_broken_with_config_irq(void)
{
	uint64_t cnt = 0;

	ck_assert(td_wait(td_needs_reset, &drv, 2000));
	ck_assert(echo.vdev.broken);
	ck_assert_int_eq(read(echo.vdev.vec[2].efd, &cnt, sizeof(cnt)), sizeof(cnt));
	ck_assert_uint_ge(cnt, 1);
}

START_TEST(broken_bad_queue_size)
{
	add_echo(false);
	td_msix(&drv, 2, false);
	ck_assert(td_negotiate(&drv, BIT(VIRTIO_F_VERSION_1)));
	td_cc_write(&drv, VIRTIO_PCI_COMMON_MSIX, 2, 2);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_SIZE, 2, 12);	/* not a power of two */
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	expect_broken_with_config_irq();
}
END_TEST

START_TEST(broken_descriptor_loop_then_reset)
{
	unsigned resets;

	add_echo(false);
	td_msix(&drv, 0, false);
	td_msix(&drv, 2, false);
	bring_up();
	td_desc(0, 0, TD_BUF, 4, VRING_DESC_F_NEXT, 0);
	td_publish(&drv, 0, 0, true);
	expect_broken_with_config_irq();
	/* Broken: further kicks are ignored. */
	td_desc(0, 1, TD_BUF, 4, 0, 0);
	td_publish(&drv, 0, 1, true);
	usleep(20000);
	ck_assert_uint_eq(td_used_idx(0), 0);
	/* Reset: everything back to power-on values, and it works again. */
	resets = echo.resets;
	td_cc_write(&drv, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	ck_assert_uint_eq(td_status(&drv), 0);
	ck_assert_uint_eq(echo.resets, resets + 1);
	ck_assert(!echo.vdev.broken);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_SIZE, 2), ECHO_QMAX);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
	td_cc_write(&drv, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	ck_assert_uint_eq(td_cc(&drv, VIRTIO_PCI_COMMON_GF, 4), 0);
	bring_up();
	echo_once();
}
END_TEST

START_TEST(broken_driver_ok_without_features_ok)
{
	add_echo(false);
	td_msix(&drv, 2, false);
	ck_assert(!td_negotiate(&drv, 0));
	td_cc_write(&drv, VIRTIO_PCI_COMMON_MSIX, 2, 2);
	td_driver_ok(&drv);
	expect_broken_with_config_irq();
	ck_assert_uint_eq(echo.starts, 0);
}
END_TEST

START_TEST(pci_cfg_window)
{
	unsigned cap;

	add_echo(false);
	cap = echo.vdev.pcicfg_cap;
	td_cfg_write(&drv, cap + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_BAR);
	td_cfg_write(&drv, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_COMMON_OFF + VIRTIO_PCI_COMMON_NUMQ);
	td_cfg_write(&drv, cap + VIRTIO_PCI_CAP_LENGTH, 4, 2);
	ck_assert_uint_eq(td_cfg_read(&drv, cap + 16, 4) & 0xffff, ECHO_QUEUES);
	/* A write through the window: the status register. */
	td_cfg_write(&drv, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS);
	td_cfg_write(&drv, cap + VIRTIO_PCI_CAP_LENGTH, 4, 1);
	td_cfg_write(&drv, cap + 16, 4, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ck_assert_uint_eq(td_status(&drv), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	/* Bad windows read nothing special: another BAR, a bad length, misaligned. */
	td_cfg_write(&drv, cap + VIRTIO_PCI_CAP_LENGTH, 4, 3);
	td_cfg_write(&drv, cap + 16, 4, 0);
	ck_assert_uint_eq(td_status(&drv), VIRTIO_CONFIG_S_ACKNOWLEDGE);
}
END_TEST

START_TEST(ioeventfd_follows_the_bar)
{
	uint64_t old;

	add_echo(false);
	ck_assert(echo.vdev.ioeventfd_ok);
	ck_assert_uint_eq(echo.vdev.ioeventfd_addr, drv.bar + VIRTIO_NOTIFY_OFF);
	/* Memory decoding off: unregistered; the BAR moves; decoding on: registered at the new place. */
	old = drv.bar;
	td_cfg_write(&drv, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	ck_assert_uint_eq(echo.vdev.ioeventfd_addr, 0);
	td_cfg_write(&drv, PCI_BASE_ADDRESS_4, 4, (uint32_t)(old + 0x100000));
	td_cfg_write(&drv, PCI_COMMAND, 2, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
	drv.bar = pci__bar_addr(drv.pci, VIRTIO_BAR);
	ck_assert_uint_eq(drv.bar, old + 0x100000);
	ck_assert_uint_eq(echo.vdev.ioeventfd_addr, drv.bar + VIRTIO_NOTIFY_OFF);
	/* KVM refuses ioeventfds: kicks take the MMIO exit and still work. */
	fake_kvm__fail(KVM_IOEVENTFD, ENOSPC);
	td_cfg_write(&drv, PCI_BASE_ADDRESS_4, 4, (uint32_t)old);
	drv.bar = pci__bar_addr(drv.pci, VIRTIO_BAR);
	ck_assert(!echo.vdev.ioeventfd_ok);
	ck_assert_uint_eq(echo.vdev.ioeventfd_addr, 0);
	bring_up();
	echo_once();
}
END_TEST

static Suite *virtio_pci_suite(void)
{
	Suite *s = suite_create("virtio_pci");
	TCase *tc = tcase_create("transport");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, capability_layout);
	tcase_add_test(tc, feature_negotiation);
	tcase_add_test(tc, access_platform_iff_translated);
	tcase_add_test(tc, common_config_widths);
	tcase_add_test(tc, queue_config_frozen_once_enabled);
	tcase_add_test(tc, echo_through_kicks_and_irqfd);
	tcase_add_test(tc, masked_vector_pends);
	tcase_add_test(tc, intx_and_isr);
	tcase_add_test(tc, kicks_before_driver_ok);
	tcase_add_test(tc, broken_bad_queue_size);
	tcase_add_test(tc, broken_descriptor_loop_then_reset);
	tcase_add_test(tc, broken_driver_ok_without_features_ok);
	tcase_add_test(tc, pci_cfg_window);
	tcase_add_test(tc, ioeventfd_follows_the_bar);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(virtio_pci_suite)
