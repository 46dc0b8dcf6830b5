/*
 * Tier 1: the PCI host bridge (devices/pci-host.c) and device base (devices/pci.c) through the PIO/MMIO
 * buses on the fake KVM host: CF8/CFC and ECAM, config-space masks, RO and RW1C fields, capability
 * list, BAR sizing / moving / decoding, firmware BAR assignment, DMA requester IDs, bad offsets.
 * MSI, MSI-X and INTx are in test_pci_irq.c.
 */
#include "pci_test.h"

/* ---- host bridge and config mechanisms ---- */

START_TEST(host_bridge_ids)
{
	ck_assert_uint_eq(cf8_read(0, 0, PCI_VENDOR_ID, 4), PCI_HOST_DEVICE_ID << 16 | PCI_HOST_VENDOR_ID);
	ck_assert_uint_eq(ecam_read(0, 0, PCI_VENDOR_ID, 4), PCI_HOST_DEVICE_ID << 16 | PCI_HOST_VENDOR_ID);
	ck_assert_uint_eq(ecam_read(0, 0, PCI_CLASS_REVISION, 4) >> 8, 0x060000);
	ck_assert_uint_eq(ecam_read(0, 0, PCI_HEADER_TYPE, 1), 0);
	ck_assert_uint_eq(ecam_read(0, 0, PCI_SUBSYSTEM_VENDOR_ID, 4),
			  PCI_HOST_SUBSYS_ID << 16 | PCI_HOST_SUBSYS_VENDOR);
}
END_TEST

START_TEST(absent_functions_read_all_ones)
{
	ck_assert_uint_eq(cf8_read(0, PCI_DEVFN(5, 0), 0, 4), 0xffffffff);
	ck_assert_uint_eq(ecam_read(0, PCI_DEVFN(5, 0), 0, 4), 0xffffffff);
	ck_assert_uint_eq(ecam_read(0, PCI_DEVFN(0, 1), 0, 2), 0xffff);
	ck_assert_uint_eq(ecam_read(1, 0, 0, 4), 0xffffffff);	/* bus 1 does not exist */
	ck_assert_uint_eq(cf8_read(1, 0, 0, 4), 0xffffffff);
	ck_assert_uint_eq(ecam_read(255, 0xff, 0xffc, 4), 0xffffffff);
	/* Writes there vanish without harm. */
	ecam_write(0, PCI_DEVFN(5, 0), PCI_COMMAND, 2, 0xffff);
	cf8_write(3, 0, PCI_COMMAND, 2, 0xffff);
	/* CONFIG_ADDRESS without the enable bit: no config cycle. */
	uint32_t a = 0x00000000, v = 0;
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_ADDR, &a, 4, true));
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_DATA, &v, 4, false));
	ck_assert_uint_eq(v, 0xffffffff);
}
END_TEST

START_TEST(cf8_and_ecam_reach_the_same_register)
{
	struct tdev *t = tdev_new(0, 0x1000);

	ck_assert_int_eq(pci_host__add(host, &t->pci, PCI_DEVFN(3, 0)), 0);
	cf8_write(0, PCI_DEVFN(3, 0), PCI_INTERRUPT_LINE, 1, 0x2b);
	ck_assert_uint_eq(ecam_read(0, PCI_DEVFN(3, 0), PCI_INTERRUPT_LINE, 1), 0x2b);
	ecam_write(0, PCI_DEVFN(3, 0), PCI_CACHE_LINE_SIZE, 1, 0x10);
	ck_assert_uint_eq(cf8_read(0, PCI_DEVFN(3, 0), PCI_CACHE_LINE_SIZE, 1), 0x10);
	/* Byte and word accesses at 0xCFD-0xCFF pick the right bytes of the dword. */
	ck_assert_uint_eq(cf8_read(0, PCI_DEVFN(3, 0), PCI_DEVICE_ID, 2), 0x1000);
	ck_assert_uint_eq(cf8_read(0, PCI_DEVFN(3, 0), PCI_VENDOR_ID + 1, 1), 0x1a);
	ck_assert_uint_eq(cf8_read(0, PCI_DEVFN(3, 0), PCI_CLASS_REVISION + 3, 1), 0x02);
	/* ECAM 8-byte read: two dwords. */
	uint64_t q = 0;
	ck_assert(bus__access(&vm->mmio, ecam_addr(0, PCI_DEVFN(3, 0), 0), &q, 8, false));
	ck_assert_uint_eq((uint32_t)q, 0x10001af4);
	ck_assert_uint_eq(q >> 32, ecam_read(0, PCI_DEVFN(3, 0), PCI_COMMAND, 4));
	/* CONFIG_ADDRESS reads back; reserved bits and non-dword writes do not latch. */
	uint32_t a = 0xffffffff, b = 0;
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_ADDR, &a, 4, true));
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_ADDR, &b, 4, false));
	ck_assert_uint_eq(b, 0x80fffffc);
	a = 0;
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_ADDR, &a, 2, true));
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_ADDR, &b, 4, false));
	ck_assert_uint_eq(b, 0x80fffffc);
}
END_TEST

START_TEST(read_only_fields_and_masks)
{
	struct tdev *t = tdev_new(0, 0x1000);
	unsigned d = PCI_DEVFN(1, 0);

	pci__cfg_set(&t->pci, PCI_INTERRUPT_PIN, 1, 1);
	pci__set_subsystem(&t->pci, 0x1af4, 0x0002);
	ck_assert_int_eq(pci_host__add(host, &t->pci, d), 0);
	for (unsigned reg = 0; reg < 0x40; reg += 4)
		ecam_write(0, d, reg, 4, 0xffffffff);
	ck_assert_uint_eq(ecam_read(0, d, PCI_VENDOR_ID, 4), 0x10001af4);
	ck_assert_uint_eq(ecam_read(0, d, PCI_CLASS_REVISION, 4), 0x02000003);
	ck_assert_uint_eq(ecam_read(0, d, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x00021af4);
	ck_assert_uint_eq(ecam_read(0, d, PCI_COMMAND, 2), 0x0547);
	ck_assert_uint_eq(ecam_read(0, d, PCI_HEADER_TYPE, 1), 0);
	ck_assert_uint_eq(ecam_read(0, d, PCI_CACHE_LINE_SIZE, 1), 0xff);
	ck_assert_uint_eq(ecam_read(0, d, PCI_LATENCY_TIMER, 1), 0);
	ck_assert_uint_eq(ecam_read(0, d, PCI_INTERRUPT_LINE, 2), 0x01ff);	/* pin read-only */
	ck_assert_uint_eq(ecam_read(0, d, PCI_ROM_ADDRESS, 4), 0);		/* no expansion ROM */
	ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_0, 4), 0);		/* no BARs */
	ck_assert_uint_eq(ecam_read(0, d, PCI_CAPABILITY_LIST, 1), 0);
	ck_assert_uint_eq(ecam_read(0, d, 0x80, 4), 0);
}
END_TEST

START_TEST(status_rw1c)
{
	struct tdev *t = tdev_new(0, 0x1000);
	unsigned d = PCI_DEVFN(1, 0);

	pci__add_cap(&t->pci, PCI_CAP_ID_VNDR, 8);
	ck_assert_int_eq(pci_host__add(host, &t->pci, d), 0);
	pci__cfg_set(&t->pci, PCI_STATUS, 2,
		     pci__cfg_get(&t->pci, PCI_STATUS, 2) | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DETECTED_PARITY);
	ck_assert_uint_eq(ecam_read(0, d, PCI_STATUS, 2),
			  PCI_STATUS_CAP_LIST | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DETECTED_PARITY);
	ecam_write(0, d, PCI_STATUS, 2, 0);	/* 0s clear nothing */
	ck_assert_uint_eq(ecam_read(0, d, PCI_STATUS, 2),
			  PCI_STATUS_CAP_LIST | PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DETECTED_PARITY);
	/* A dword write to COMMAND that carries a 1 for one status error bit clears only that one. */
	ecam_write(0, d, PCI_COMMAND, 4, (uint32_t)PCI_STATUS_REC_MASTER_ABORT << 16 | PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(ecam_read(0, d, PCI_STATUS, 2), PCI_STATUS_CAP_LIST | PCI_STATUS_DETECTED_PARITY);
	ck_assert_uint_eq(ecam_read(0, d, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	ecam_write(0, d, PCI_STATUS, 2, 0xffff);	/* the capability bit is read-only */
	ck_assert_uint_eq(ecam_read(0, d, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
}
END_TEST

START_TEST(capability_list_walk)
{
	struct tdev *t = tdev_new(0, 0x1000);
	unsigned d = PCI_DEVFN(2, 0), pos, n = 0;
	uint8_t ids[8];
	int vndr;

	vndr = pci__add_cap(&t->pci, PCI_CAP_ID_VNDR, 14);
	ck_assert_int_eq(vndr, 0x40);
	ck_assert_int_eq(pci__msi_init(&t->pci), 0);
	ck_assert_int_eq(pci__msix_init(&t->pci, 4, 2), 0);
	ck_assert_int_eq(pci_host__add(host, &t->pci, d), 0);
	ck_assert(ecam_read(0, d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (pos = ecam_read(0, d, PCI_CAPABILITY_LIST, 1); pos && n < 8; pos = ecam_read(0, d, pos + 1, 1)) {
		ck_assert_uint_eq(pos % 4, 0);
		ck_assert_uint_ge(pos, 0x40);
		ids[n++] = ecam_read(0, d, pos, 1);
	}
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ids[0], PCI_CAP_ID_VNDR);
	ck_assert_uint_eq(ids[1], PCI_CAP_ID_MSI);
	ck_assert_uint_eq(ids[2], PCI_CAP_ID_MSIX);
	ck_assert_uint_eq(pci__find_cap(&t->pci, PCI_CAP_ID_MSIX), t->pci.msix_cap);
	ck_assert_uint_eq(pci__find_cap(&t->pci, PCI_CAP_ID_EXP), 0);
	/* Capability bodies are read-only unless the device says otherwise. */
	ecam_write(0, d, vndr, 4, 0xffffffff);
	ck_assert_uint_eq(ecam_read(0, d, vndr, 1), PCI_CAP_ID_VNDR);
	ck_assert_uint_eq(ecam_read(0, d, vndr + 1, 1), 0x50);	/* 0x40 + 14, aligned up */
	/* The list ends at 256 bytes. */
	while (pci__add_cap(&t->pci, PCI_CAP_ID_VNDR, 16) > 0)
		;
	ck_assert_int_eq(pci__add_cap(&t->pci, PCI_CAP_ID_VNDR, 16), -ENOSPC);
	ck_assert_int_eq(pci__add_cap(&t->pci, PCI_CAP_ID_VNDR, 1), -ENOSPC);
	/* A loop in a (device-corrupted) list does not hang the walk. */
	pci__cfg_set(&t->pci, vndr + 1, 1, vndr);
	ck_assert_uint_eq(pci__find_cap(&t->pci, PCI_CAP_ID_MSI), 0);
}
END_TEST

/* ---- BARs ---- */

START_TEST(bar_sizing_each_type)
{
	struct tdev *t = tdev_new(0, 0x1000);
	unsigned d = PCI_DEVFN(1, 0);

	ck_assert_int_eq(pci__add_bar(&t->pci, 0, PCI_BAR_IO, 32, false, tdev_io, t), 0);
	ck_assert_int_eq(pci__add_bar(&t->pci, 1, PCI_BAR_MEM32, 4096, false, tdev_io, t), 0);
	ck_assert_int_eq(pci__add_bar(&t->pci, 2, PCI_BAR_MEM64, 1 * MiB, true, tdev_io, t), 0);
	ck_assert_int_eq(pci__add_bar(&t->pci, 4, PCI_BAR_MEM64, 8 * GiB, true, tdev_io, t), 0);
	ck_assert_int_eq(pci_host__add(host, &t->pci, d), 0);

	ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_0, 4), PCI_BASE_ADDRESS_SPACE_IO);
	ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_2, 4),
			  PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	for (unsigned reg = PCI_BASE_ADDRESS_0; reg <= PCI_BASE_ADDRESS_5; reg += 4)
		ecam_write(0, d, reg, 4, 0xffffffff);
	ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_0, 4), 0xffffffe1);
	ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_1, 4), 0xfffff000);
	ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_2, 4), 0xfff0000c);
	ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_3, 4), 0xffffffff);
	ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_4, 4), 0x0000000c);
	ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_5, 4), 0xfffffffe);
	/* Decoding is off (command 0): nothing got registered at the sizing patterns. */
	bool hit;
	mmio_read32(0xfffff000, &hit);
	ck_assert(!hit);
	/* Even with decoding on, a sizing pattern is not an address. */
	ecam_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	ck_assert_uint_eq(pci__bar_addr(&t->pci, 1), 0);
	ck_assert_uint_eq(pci__bar_addr(&t->pci, 2), 0);
	ck_assert_uint_eq(pci__bar_addr(&t->pci, 4), 0);
	ck_assert_uint_eq(pci__bar_addr(&t->pci, 0), 0);
}
END_TEST

START_TEST(bar_declaration_errors)
{
	struct tdev *t = tdev_new(0, 0x1000);

	ck_assert_int_eq(pci__add_bar(&t->pci, 6, PCI_BAR_MEM32, 4096, false, tdev_io, t), -EINVAL);
	ck_assert_int_eq(pci__add_bar(&t->pci, -1, PCI_BAR_MEM32, 4096, false, tdev_io, t), -EINVAL);
	ck_assert_int_eq(pci__add_bar(&t->pci, 0, PCI_BAR_MEM32, 3000, false, tdev_io, t), -EINVAL);
	ck_assert_int_eq(pci__add_bar(&t->pci, 0, PCI_BAR_IO, 512, false, tdev_io, t), -EINVAL);
	ck_assert_int_eq(pci__add_bar(&t->pci, 0, PCI_BAR_MEM32, 8, false, tdev_io, t), -EINVAL);
	ck_assert_int_eq(pci__add_bar(&t->pci, 5, PCI_BAR_MEM64, 4096, false, tdev_io, t), -EINVAL);
	ck_assert_int_eq(pci__add_bar(&t->pci, 0, PCI_BAR_MEM32, 4096, false, NULL, t), -EINVAL);
	ck_assert_int_eq(pci__add_bar(&t->pci, 1, PCI_BAR_MEM64, 4096, false, tdev_io, t), 0);
	ck_assert_int_eq(pci__add_bar(&t->pci, 2, PCI_BAR_MEM32, 4096, false, tdev_io, t), -EBUSY);
	ck_assert_int_eq(pci__add_bar(&t->pci, 1, PCI_BAR_MEM32, 4096, false, tdev_io, t), -EBUSY);
	ck_assert_int_eq(pci__add_bar(&t->pci, 0, PCI_BAR_MEM64, 4096, false, tdev_io, t), -EBUSY);
}
END_TEST

START_TEST(bar_move_reregisters)
{
	struct tdev *t = tdev_new(0, 0x1000);
	unsigned d = PCI_DEVFN(1, 0);
	uint64_t a, b = LAYOUT_PCI_MMIO32_BASE + 0x100000;
	bool hit;

	ck_assert_int_eq(pci__add_bar(&t->pci, 1, PCI_BAR_MEM32, 4096, false, tdev_io, t), 0);
	ck_assert_int_eq(pci_host__add(host, &t->pci, d), 0);
	ck_assert_int_eq(pci_host__assign_resources(host), 0);
	a = pci__bar_addr(&t->pci, 1);
	ck_assert_uint_eq(a, ecam_read(0, d, PCI_BASE_ADDRESS_1, 4));
	ck_assert_uint_ne(a, b);
	ck_assert_uint_eq(mmio_read32(a + 8, &hit), 0x5a5a5a5a);
	ck_assert(hit);
	ck_assert_uint_eq(t->off, 8);
	/* The OS way: decoding off, move, decoding on. */
	ecam_write(0, d, PCI_COMMAND, 2, 0);
	mmio_read32(a, &hit);
	ck_assert(!hit);
	ecam_write(0, d, PCI_BASE_ADDRESS_1, 4, b);
	mmio_read32(b, &hit);
	ck_assert(!hit);
	ecam_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	t->calls = 0;
	mmio_read32(a, &hit);
	ck_assert(!hit);
	mmio_write32(b + 0x10, 0xcafe);
	ck_assert_uint_eq(t->calls, 1);
	ck_assert_uint_eq(t->off, 0x10);
	ck_assert_uint_eq(t->val, 0xcafe);
	/* Moved while decoding: takes effect at once. */
	ecam_write(0, d, PCI_BASE_ADDRESS_1, 4, a);
	mmio_read32(b, &hit);
	ck_assert(!hit);
	mmio_read32(a, &hit);
	ck_assert(hit);
	/* Address 0 does not decode. */
	ecam_write(0, d, PCI_BASE_ADDRESS_1, 4, 0);
	ck_assert_uint_eq(pci__bar_addr(&t->pci, 1), 0);
	mmio_read32(0, &hit);
	ck_assert(!hit);
}
END_TEST

START_TEST(bar_64bit_above_4g_and_io_decode)
{
	struct tdev *t = tdev_new(0, 0x1000);
	unsigned d = PCI_DEVFN(1, 0);
	uint64_t hi = 0x8000000000ULL;
	uint32_t v = 0;
	bool hit;

	ck_assert_int_eq(pci__add_bar(&t->pci, 0, PCI_BAR_MEM64, 64 * KiB, true, tdev_io, t), 0);
	ck_assert_int_eq(pci__add_bar(&t->pci, 2, PCI_BAR_IO, 16, false, tdev_io, t), 0);
	ck_assert_int_eq(pci_host__add(host, &t->pci, d), 0);
	ecam_write(0, d, PCI_BASE_ADDRESS_0, 4, (uint32_t)hi);
	ecam_write(0, d, PCI_BASE_ADDRESS_1, 4, hi >> 32);
	ecam_write(0, d, PCI_BASE_ADDRESS_2, 4, 0xd000);
	/* Memory decoding on, I/O decoding off. */
	ecam_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(pci__bar_addr(&t->pci, 0), hi);
	mmio_read32(hi + 0x100, &hit);
	ck_assert(hit);
	ck_assert(!bus__access(&vm->pio, 0xd000, &v, 4, false));
	ecam_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_IO);
	mmio_read32(hi + 0x100, &hit);
	ck_assert(!hit);
	ck_assert(bus__access(&vm->pio, 0xd004, &v, 2, false));
	ck_assert_uint_eq(t->off, 4);
	/* Writing only the upper half moves a 64-bit BAR. */
	ecam_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ecam_write(0, d, PCI_BASE_ADDRESS_1, 4, 0x90);
	ck_assert_uint_eq(pci__bar_addr(&t->pci, 0), 0x9000000000ULL);
	/* Accesses running past the BAR's end read all-ones and never reach the device. */
	uint64_t q = 0;
	t->calls = 0;
	ck_assert(bus__access(&vm->mmio, 0x9000000000ULL + 64 * KiB - 4, &q, 8, false));
	ck_assert_uint_eq(q, ~0ULL);
	ck_assert_uint_eq(t->calls, 0);
	/* An I/O BAR beyond 64 KiB does not decode. */
	ecam_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_IO);
	ecam_write(0, d, PCI_BASE_ADDRESS_2, 4, 0x10000);
	ck_assert_uint_eq(pci__bar_addr(&t->pci, 2), 0);
	ecam_write(0, d, PCI_BASE_ADDRESS_2, 4, 0xfff0);	/* the very top is fine */
	ck_assert_uint_eq(pci__bar_addr(&t->pci, 2), 0xfff0);
}
END_TEST

START_TEST(bar_conflict_stays_dark)
{
	struct tdev *t0 = tdev_new(0, 0x1000), *t1 = tdev_new(1, 0x1001);
	uint64_t a = LAYOUT_PCI_MMIO32_BASE;
	bool hit;

	pci__add_bar(&t0->pci, 0, PCI_BAR_MEM32, 4096, false, tdev_io, t0);
	pci__add_bar(&t1->pci, 0, PCI_BAR_MEM32, 4096, false, tdev_io, t1);
	ck_assert_int_eq(pci_host__add(host, &t0->pci, PCI_DEVFN(1, 0)), 0);
	ck_assert_int_eq(pci_host__add(host, &t1->pci, PCI_DEVFN(2, 0)), 0);
	ecam_write(0, PCI_DEVFN(1, 0), PCI_BASE_ADDRESS_0, 4, a);
	ecam_write(0, PCI_DEVFN(2, 0), PCI_BASE_ADDRESS_0, 4, a);
	ecam_write(0, PCI_DEVFN(1, 0), PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ecam_write(0, PCI_DEVFN(2, 0), PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(pci__bar_addr(&t0->pci, 0), a);
	ck_assert_uint_eq(pci__bar_addr(&t1->pci, 0), 0);
	mmio_read32(a, &hit);
	ck_assert_uint_eq(t0->calls, 1);
	ck_assert_uint_eq(t1->calls, 0);
	/* Once the first one moves away, re-enabling the second one works. */
	ecam_write(0, PCI_DEVFN(1, 0), PCI_BASE_ADDRESS_0, 4, a + 4096);
	ecam_write(0, PCI_DEVFN(2, 0), PCI_COMMAND, 2, 0);
	ecam_write(0, PCI_DEVFN(2, 0), PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(pci__bar_addr(&t1->pci, 0), a);
}
END_TEST

START_TEST(firmware_assignment)
{
	struct tdev *t0 = tdev_new(0, 0x1000), *t1 = tdev_new(1, 0x1001);
	struct pci_windows w;
	uint64_t a[4];

	pci__add_bar(&t0->pci, 0, PCI_BAR_IO, 64, false, tdev_io, t0);
	pci__add_bar(&t0->pci, 1, PCI_BAR_MEM32, 4096, false, tdev_io, t0);
	pci__add_bar(&t0->pci, 2, PCI_BAR_MEM64, 16 * KiB, true, tdev_io, t0);
	pci__add_bar(&t1->pci, 0, PCI_BAR_MEM32, 1 * MiB, false, tdev_io, t1);
	pci__add_bar(&t1->pci, 2, PCI_BAR_MEM64, 1 * GiB, true, tdev_io, t1);	/* does not fit below 4G */
	pci__cfg_set(&t1->pci, PCI_INTERRUPT_PIN, 1, 2);
	ck_assert_int_eq(pci_host__add(host, &t0->pci, -1), 0);
	ck_assert_int_eq(pci_host__add(host, &t1->pci, -1), 0);
	ck_assert_uint_eq(t0->pci.devfn, PCI_DEVFN(1, 0));
	ck_assert_uint_eq(t1->pci.devfn, PCI_DEVFN(2, 0));
	ck_assert_int_eq(pci_host__assign_resources(host), 0);
	pci_host__windows(host, &w);

	a[0] = pci__bar_addr(&t0->pci, 1);
	a[1] = pci__bar_addr(&t0->pci, 2);
	a[2] = pci__bar_addr(&t1->pci, 0);
	a[3] = pci__bar_addr(&t1->pci, 2);
	ck_assert_uint_eq(pci__bar_addr(&t0->pci, 0) % 64, 0);
	ck_assert_uint_ge(pci__bar_addr(&t0->pci, 0), w.io_base);
	ck_assert_uint_lt(pci__bar_addr(&t0->pci, 0), w.io_base + w.io_size);
	ck_assert_uint_eq(a[0] % 4096, 0);
	ck_assert_uint_eq(a[1] % (16 * KiB), 0);
	ck_assert_uint_eq(a[2] % MiB, 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_ge(a[i], w.mmio32_base);
		ck_assert_uint_lt(a[i], w.mmio32_base + w.mmio32_size);
	}
	ck_assert(a[0] + 4096 <= a[1] || a[1] + 16 * KiB <= a[0]);
	ck_assert(a[0] + 4096 <= a[2] || a[2] + MiB <= a[0]);
	ck_assert_uint_eq(a[3], w.mmio64_base);		/* 1 GiB went above 4G */
	ck_assert_uint_ge(w.mmio64_base, vm->mem.ram_end);
	ck_assert_uint_eq(w.mmio64_base % GiB, 0);
	ck_assert_uint_eq(ecam_read(0, PCI_DEVFN(1, 0), PCI_COMMAND, 2),
			  PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(ecam_read(0, PCI_DEVFN(2, 0), PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ck_assert_uint_eq(ecam_read(0, PCI_DEVFN(2, 0), PCI_INTERRUPT_LINE, 1), pci_host__intx_gsi(2, 2));
	ck_assert_int_eq(t1->pci.intx_gsi, 16 + ((2 + 1) & 3));
}
END_TEST

START_TEST(firmware_assignment_out_of_room)
{
	struct tdev *t0 = tdev_new(0, 0x1000);

	pci__add_bar(&t0->pci, 0, PCI_BAR_MEM32, 1 * GiB, false, tdev_io, t0);	/* window is 512 MiB */
	pci__add_bar(&t0->pci, 1, PCI_BAR_MEM32, 4096, false, tdev_io, t0);
	ck_assert_int_eq(pci_host__add(host, &t0->pci, -1), 0);
	ck_assert_int_eq(pci_host__assign_resources(host), -ENOSPC);
	ck_assert_uint_eq(pci__bar_addr(&t0->pci, 0), 0);
	ck_assert_uint_ne(pci__bar_addr(&t0->pci, 1), 0);
}
END_TEST

static int dummy_translate(void *opaque, uint16_t sid, const struct dma_attrs *attrs, uint64_t iova,
			   enum dma_dir dir, uint64_t *gpa_out, uint64_t *len_out)
{
	return -EFAULT;
}

struct collect {
	unsigned n;
	uint8_t devfn[8];
};

static int collect_fn(struct pci_device *dev, void *arg)
{
	struct collect *c = arg;

	c->devfn[c->n++] = dev->devfn;
	return c->n == 3 ? 42 : 0;
}

START_TEST(device_table_dma_and_iteration)
{
	static const struct dma_translator tr = { .translate = dummy_translate };
	struct tdev *t0 = tdev_new(0, 0x1000), *t1 = tdev_new(1, 0x1001), *t2 = tdev_new(2, 0x1002);
	struct tdev *t3 = tdev_new(3, 0x1003);
	struct collect c = { 0 };
	uint8_t buf[4];

	ck_assert_int_eq(pci_host__add(host, &t0->pci, PCI_DEVFN(3, 1)), 0);
	ck_assert_int_eq(pci_host__add(host, &t1->pci, PCI_DEVFN(3, 1)), -EEXIST);
	ck_assert_int_eq(pci_host__add(host, &t1->pci, 256), -EINVAL);
	ck_assert_int_eq(pci_host__add(host, &t1->pci, -1), 0);
	ck_assert_uint_eq(t1->pci.devfn, PCI_DEVFN(1, 0));
	ck_assert_uint_eq(t1->pci.dma.sid, PCI_DEVFN(1, 0));
	ck_assert_ptr_null(t1->pci.dma.iommu);
	ck_assert_int_eq(dma__write(&t1->pci.dma, 0x1000, "abcd", 4), 0);	/* untranslated: plain RAM */
	pci_host__set_translator(host, &tr);
	ck_assert_ptr_eq(t1->pci.dma.iommu, &tr);
	ck_assert_int_eq(dma__read(&t1->pci.dma, 0x1000, buf, sizeof(buf)), -EFAULT);
	/* Function 0 added after function 1 of its slot gets the multi-function bit. */
	ck_assert_int_eq(pci_host__add(host, &t2->pci, PCI_DEVFN(3, 0)), 0);
	ck_assert_uint_eq(ecam_read(0, PCI_DEVFN(3, 0), PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_MFD);
	ck_assert_ptr_eq(t2->pci.dma.iommu, &tr);	/* later devices too */
	ck_assert_uint_eq(t0->pci.dma.sid, PCI_DEVFN(3, 1));
	/* The next free slot skips slot 3. */
	ck_assert_int_eq(pci_host__add(host, &t3->pci, -1), 0);
	ck_assert_uint_eq(t3->pci.devfn, PCI_DEVFN(2, 0));
	ck_assert_ptr_eq(pci_host__find(host, 0, PCI_DEVFN(3, 1)), &t0->pci);
	ck_assert_ptr_null(pci_host__find(host, 1, 0));
	ck_assert_int_eq(pci_host__for_each(host, collect_fn, &c), 42);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_uint_eq(c.devfn[0], 0);
	ck_assert_uint_eq(c.devfn[1], PCI_DEVFN(1, 0));
	ck_assert_uint_eq(c.devfn[2], PCI_DEVFN(2, 0));
}
END_TEST

START_TEST(bad_offsets)
{
	struct tdev *t = tdev_new(0, 0x1000), *x = tdev_new(1, 0x1001);
	unsigned d = PCI_DEVFN(1, 0), e = PCI_DEVFN(2, 0);
	uint32_t v;

	x->pci.express = true;
	ck_assert_int_eq(pci_host__add(host, &t->pci, d), 0);
	ck_assert_int_eq(pci_host__add(host, &x->pci, e), 0);
	/* Conventional function: extended space does not exist. PCIe function: it reads 0. */
	ck_assert_uint_eq(ecam_read(0, d, 0x100, 4), 0xffffffff);
	ck_assert_uint_eq(ecam_read(0, e, 0x100, 4), 0);
	ck_assert_uint_eq(ecam_read(0, e, 0xffc, 4), 0);
	ecam_write(0, d, 0x100, 4, 0x12345678);
	ecam_write(0, e, 0xffc, 4, 0x12345678);
	ck_assert_uint_eq(ecam_read(0, e, 0xffc, 4), 0);
	/* Accesses that run off the 4 KiB function page. */
	ck_assert_uint_eq(ecam_read(0, e, 0xffe, 4), 0xffffffff);
	ecam_write(0, e, 0xffe, 4, 0);
	v = 0;
	ck_assert(bus__access(&vm->mmio, ecam_addr(0, e, 0xfff), &v, 2, false));
	ck_assert_uint_eq(v, 0xffff);
	/* Odd widths. */
	v = 0;
	ck_assert(bus__access(&vm->mmio, ecam_addr(0, d, 0), &v, 3, false));
	ck_assert_uint_eq(v, 0xffffff);
	/* Direct calls with nonsense. */
	ck_assert_uint_eq(pci__cfg_read(&t->pci, 5000, 4), 0xffffffff);
	ck_assert_uint_eq(pci__cfg_read(&t->pci, 0, 0), 0xffffffff);
	ck_assert_uint_eq(pci__cfg_read(&t->pci, 0, 9), 0xffffffff);
	ck_assert_uint_eq(pci__cfg_read(&t->pci, 0xff, 2), 0xffff);
	pci__cfg_write(&t->pci, 0xffffffff, 4, 0);
	pci__cfg_write(&t->pci, 0xfe, 4, 0);
	pci__cfg_set(&t->pci, 4095, 4, 0);
	ck_assert_uint_eq(pci__cfg_get(&t->pci, 4096, 1), 0);
	/* CONFIG_DATA accesses past the dword. */
	uint32_t a = 0x80000000u | d << 8, q = 0;
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_ADDR, &a, 4, true));
	ck_assert(bus__access(&vm->pio, PORT_PCI_CONFIG_DATA + 2, &q, 4, false));
	ck_assert_uint_eq(q, 0xffff1000);
}
END_TEST

static Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *tc = tcase_create("pci");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, host_bridge_ids);
	tcase_add_test(tc, absent_functions_read_all_ones);
	tcase_add_test(tc, cf8_and_ecam_reach_the_same_register);
	tcase_add_test(tc, read_only_fields_and_masks);
	tcase_add_test(tc, status_rw1c);
	tcase_add_test(tc, capability_list_walk);
	tcase_add_test(tc, bar_sizing_each_type);
	tcase_add_test(tc, bar_declaration_errors);
	tcase_add_test(tc, bar_move_reregisters);
	tcase_add_test(tc, bar_64bit_above_4g_and_io_decode);
	tcase_add_test(tc, bar_conflict_stays_dark);
	tcase_add_test(tc, firmware_assignment);
	tcase_add_test(tc, firmware_assignment_out_of_room);
	tcase_add_test(tc, device_table_dma_and_iteration);
	tcase_add_test(tc, bad_offsets);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(pci_suite)
