/*
 * Tier 1: interrupts of the PCI device base (devices/pci-msi.c, devices/pci.c) on the fake KVM host:
 * MSI and MSI-X delivery, per-vector and function masking, pending bits delivered on unmask, the
 * vector-change callback, bus-master gating, KVM failures, and the INTx wired-OR with INTx Disable.
 */
#include "pci_test.h"

/* ---- MSI / MSI-X ---- */

START_TEST(msi_delivery_masking_pending)
{
	struct tdev *t = tdev_new(0, 0x1000);
	unsigned d = PCI_DEVFN(1, 0), c;
	uint64_t addr;
	uint32_t data;

	ck_assert_int_eq(pci__msi_init(&t->pci), 0);
	ck_assert_int_eq(pci__msi_init(&t->pci), -EBUSY);
	ck_assert_int_eq(pci_host__add(host, &t->pci, d), 0);
	c = t->pci.msi_cap;
	ck_assert_uint_eq(ecam_read(0, d, c + PCI_MSI_FLAGS, 2), PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	ck_assert_int_eq(pci__notify(&t->pci, 0), PCI_NOTIFY_INTX);	/* MSI off */
	ecam_write(0, d, c + PCI_MSI_ADDRESS_LO, 4, 0xfee01003);	/* low 2 bits are read-only 0 */
	ecam_write(0, d, c + PCI_MSI_ADDRESS_HI, 4, 0);
	ecam_write(0, d, c + PCI_MSI_DATA_64, 2, 0x4041);
	ecam_write(0, d, c + PCI_MSI_FLAGS, 2, 0xffff);	/* only the enable bit sticks */
	ck_assert_uint_eq(ecam_read(0, d, c + PCI_MSI_FLAGS, 2),
			  PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | PCI_MSI_FLAGS_ENABLE);
	ecam_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	ck_assert_int_eq(pci__notify(&t->pci, 0), PCI_NOTIFY_SENT);
	ck_assert_uint_eq(fake_kvm.nr_msis, 1);
	ck_assert_uint_eq(fake_kvm.msis[0].addr, 0xfee01000);
	ck_assert_uint_eq(fake_kvm.msis[0].data, 0x4041);
	ck_assert_int_eq(pci__vector_msg(&t->pci, 0, &addr, &data), 1);
	ck_assert_uint_eq(addr, 0xfee01000);
	/* Masked: pending, then delivered on unmask. */
	ecam_write(0, d, c + PCI_MSI_MASK_64, 4, 0xffffffff);
	ck_assert_uint_eq(ecam_read(0, d, c + PCI_MSI_MASK_64, 4), 1);
	ck_assert_int_eq(pci__vector_msg(&t->pci, 0, &addr, &data), 0);
	ck_assert_int_eq(pci__notify(&t->pci, 0), PCI_NOTIFY_PENDING);
	ck_assert_uint_eq(ecam_read(0, d, c + PCI_MSI_PENDING_64, 4), 1);
	ck_assert_uint_eq(fake_kvm.nr_msis, 1);
	ecam_write(0, d, c + PCI_MSI_PENDING_64, 4, 0);	/* read-only */
	ck_assert_uint_eq(ecam_read(0, d, c + PCI_MSI_PENDING_64, 4), 1);
	ecam_write(0, d, c + PCI_MSI_MASK_64, 4, 0);
	ck_assert_uint_eq(fake_kvm.nr_msis, 2);
	ck_assert_uint_eq(ecam_read(0, d, c + PCI_MSI_PENDING_64, 4), 0);
	ck_assert_uint_gt(t->vec_changed, 0);
	/* Bus mastering off: the message is lost. */
	ecam_write(0, d, PCI_COMMAND, 2, 0);
	ck_assert_int_eq(pci__notify(&t->pci, 0), PCI_NOTIFY_DROPPED);
	ck_assert_uint_eq(fake_kvm.nr_msis, 2);
	ck_assert_uint_eq(t->pci.msi_lost, 1);
	/* A KVM failure comes back as an error. */
	ecam_write(0, d, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	fake_kvm__fail(KVM_SIGNAL_MSI, EINVAL);
	ck_assert_int_eq(pci__notify(&t->pci, 0), -EINVAL);
	/* So does a message outside the interrupt window. */
	fake_kvm__fail(0, 0);
	ecam_write(0, d, c + PCI_MSI_ADDRESS_LO, 4, 0x1000);
	ck_assert_int_lt(pci__notify(&t->pci, 0), 0);
}
END_TEST

struct msix_fixture {
	struct tdev *t;
	unsigned d, c;
	uint64_t bar, pba;
};

static void msix_setup(struct msix_fixture *f, unsigned nvec)
{
	uint32_t table, pba;

	f->t = tdev_new(0, 0x1000);
	f->d = PCI_DEVFN(4, 0);
	ck_assert_int_eq(pci__msix_init(&f->t->pci, nvec, 3), 0);
	ck_assert_int_eq(pci__msix_init(&f->t->pci, nvec, 4), -EBUSY);
	ck_assert_int_eq(pci_host__add(host, &f->t->pci, f->d), 0);
	ck_assert_int_eq(pci_host__assign_resources(host), 0);
	f->c = f->t->pci.msix_cap;
	ck_assert_uint_eq(ecam_read(0, f->d, f->c + PCI_MSIX_FLAGS, 2), nvec - 1);
	table = ecam_read(0, f->d, f->c + PCI_MSIX_TABLE, 4);
	pba = ecam_read(0, f->d, f->c + PCI_MSIX_PBA, 4);
	ck_assert_uint_eq(table & PCI_MSIX_TABLE_BIR, 3);
	ck_assert_uint_eq(pba & PCI_MSIX_PBA_BIR, 3);
	f->bar = pci__bar_addr(&f->t->pci, 3);
	ck_assert_uint_ne(f->bar, 0);
	f->pba = f->bar + (pba & PCI_MSIX_PBA_OFFSET);
	f->bar += table & PCI_MSIX_TABLE_OFFSET;
	ck_assert_uint_ge(f->pba, f->bar + nvec * PCI_MSIX_ENTRY_SIZE);
}

static void msix_program(struct msix_fixture *f, unsigned v, uint32_t addr, uint32_t data)
{
	mmio_write32(f->bar + v * 16 + PCI_MSIX_ENTRY_LOWER_ADDR, addr);
	mmio_write32(f->bar + v * 16 + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
	mmio_write32(f->bar + v * 16 + PCI_MSIX_ENTRY_DATA, data);
}

START_TEST(msix_table_pba_masking)
{
	struct msix_fixture f;
	bool hit;

	msix_setup(&f, 4);
	/* Entries reset masked. */
	for (unsigned v = 0; v < 4; v++)
		ck_assert_uint_eq(mmio_read32(f.bar + v * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, &hit), 1);
	msix_program(&f, 1, 0xfee00000, 0x31);
	ck_assert_uint_eq(mmio_read32(f.bar + 16 + PCI_MSIX_ENTRY_DATA, &hit), 0x31);
	ck_assert_int_eq(pci__notify(&f.t->pci, 1), PCI_NOTIFY_INTX);	/* MSI-X not enabled yet */
	ecam_write(0, f.d, f.c + PCI_MSIX_FLAGS, 2, 0xffff);		/* enable | mask all; size RO */
	ck_assert_uint_eq(ecam_read(0, f.d, f.c + PCI_MSIX_FLAGS, 2),
			  PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 3);
	ecam_write(0, f.d, f.c + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	/* Entry still masked: pending bit. */
	ck_assert_int_eq(pci__notify(&f.t->pci, 1), PCI_NOTIFY_PENDING);
	ck_assert_uint_eq(mmio_read32(f.pba, &hit), 1u << 1);
	ck_assert_uint_eq(fake_kvm.nr_msis, 0);
	mmio_write32(f.pba, 0);	/* PBA is read-only */
	ck_assert_uint_eq(mmio_read32(f.pba, &hit), 1u << 1);
	/* Unmasking delivers it. Reserved vector-control bits stay 0. */
	mmio_write32(f.bar + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0xfffffffe);
	ck_assert_uint_eq(mmio_read32(f.bar + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, &hit), 0);
	ck_assert_uint_eq(fake_kvm.nr_msis, 1);
	ck_assert_uint_eq(fake_kvm.msis[0].addr, 0xfee00000);
	ck_assert_uint_eq(fake_kvm.msis[0].data, 0x31);
	ck_assert_uint_eq(mmio_read32(f.pba, &hit), 0);
	ck_assert_int_eq(pci__notify(&f.t->pci, 1), PCI_NOTIFY_SENT);
	ck_assert_uint_eq(fake_kvm.nr_msis, 2);
	/* Function mask holds every vector; clearing it delivers what is pending. */
	ecam_write(0, f.d, f.c + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ck_assert_int_eq(pci__notify(&f.t->pci, 1), PCI_NOTIFY_PENDING);
	ck_assert_int_eq(pci__notify(&f.t->pci, 2), PCI_NOTIFY_PENDING);
	ck_assert_uint_eq(mmio_read32(f.pba, &hit), 0x6);
	ecam_write(0, f.d, f.c + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	ck_assert_uint_eq(fake_kvm.nr_msis, 3);		/* vector 1 went, vector 2 is still entry-masked */
	ck_assert_uint_eq(mmio_read32(f.pba, &hit), 0x4);
	/* Bad vector. */
	ck_assert_int_eq(pci__notify(&f.t->pci, 4), -EINVAL);
	uint64_t a;
	uint32_t dt;
	ck_assert_int_eq(pci__vector_msg(&f.t->pci, 4, &a, &dt), -EINVAL);
	ck_assert_int_eq(pci__vector_msg(&f.t->pci, 1, &a, &dt), 1);
	ck_assert_uint_eq(a, 0xfee00000);
	ck_assert_uint_eq(dt, 0x31);
	ck_assert_int_eq(pci__vector_msg(&f.t->pci, 2, &a, &dt), 0);
	/* Holes in the BAR read 0 and ignore writes. */
	mmio_write32(f.pba + 64, 0x12345678);
	ck_assert_uint_eq(mmio_read32(f.pba + 64, &hit), 0);
	ck_assert(hit);
}
END_TEST

START_TEST(msix_qword_access_and_callbacks)
{
	struct msix_fixture f;
	uint64_t q = 0xfee0000cULL | 0ULL << 32;
	unsigned before;
	bool hit;

	msix_setup(&f, 3);
	ecam_write(0, f.d, f.c + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	before = f.t->vec_changed;
	ck_assert_uint_ge(before, 3);	/* enabling touched every vector */
	ck_assert(bus__access(&vm->mmio, f.bar + 32, &q, 8, true));
	ck_assert_uint_eq(f.t->vec_changed, before + 1);
	q = 0x55ULL;	/* data 0x55, control 0: unmasked */
	ck_assert(bus__access(&vm->mmio, f.bar + 40, &q, 8, true));
	ck_assert_uint_eq(f.t->vec_changed, before + 2);
	ck_assert(bus__access(&vm->mmio, f.bar + 40, &q, 8, true));	/* no change: no callback */
	ck_assert_uint_eq(f.t->vec_changed, before + 2);
	ck_assert_int_eq(pci__notify(&f.t->pci, 2), PCI_NOTIFY_SENT);
	ck_assert_uint_eq(fake_kvm.msis[0].addr, 0xfee0000c);
	ck_assert_uint_eq(fake_kvm.msis[0].data, 0x55);
	/* Byte access to a table entry works too. */
	uint8_t b = 0x66;
	ck_assert(bus__access(&vm->mmio, f.bar + 32 + PCI_MSIX_ENTRY_DATA, &b, 1, true));
	ck_assert_uint_eq(mmio_read32(f.bar + 32 + PCI_MSIX_ENTRY_DATA, &hit), 0x66);
}
END_TEST

START_TEST(msix_large_table)
{
	struct tdev *t = tdev_new(0, 0x1000);

	ck_assert_int_eq(pci__msix_init(&t->pci, 0, 0), -EINVAL);
	ck_assert_int_eq(pci__msix_init(&t->pci, PCI_MSIX_MAX_VECTORS + 1, 0), -EINVAL);
	ck_assert_int_eq(pci__msix_init(&t->pci, PCI_MSIX_MAX_VECTORS, 0), 0);
	ck_assert_uint_eq(t->pci.bar[0].size, 64 * KiB);
	ck_assert_uint_eq(t->pci.msix_pba_off, 32 * KiB);
}
END_TEST

/* ---- INTx, DMA, device table ---- */

START_TEST(intx_wired_or_and_disable)
{
	struct tdev *t0 = tdev_new(0, 0x1000), *t1 = tdev_new(1, 0x1001);
	unsigned gsi = pci_host__intx_gsi(1, 1);

	pci__cfg_set(&t0->pci, PCI_INTERRUPT_PIN, 1, 1);
	pci__cfg_set(&t1->pci, PCI_INTERRUPT_PIN, 1, 1);
	ck_assert_int_eq(pci_host__add(host, &t0->pci, PCI_DEVFN(1, 0)), 0);
	ck_assert_int_eq(pci_host__add(host, &t1->pci, PCI_DEVFN(5, 0)), 0);	/* same line as slot 1 */
	ck_assert_int_eq(t0->pci.intx_gsi, (int)gsi);
	ck_assert_int_eq(t1->pci.intx_gsi, (int)gsi);
	pci__set_intx(&t0->pci, true);
	ck_assert_int_eq(fake_kvm__level(gsi), 1);
	ck_assert(ecam_read(0, PCI_DEVFN(1, 0), PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	pci__set_intx(&t1->pci, true);
	pci__set_intx(&t0->pci, false);
	ck_assert_int_eq(fake_kvm__level(gsi), 1);	/* t1 still holds it */
	ck_assert(!(ecam_read(0, PCI_DEVFN(1, 0), PCI_STATUS, 2) & PCI_STATUS_INTERRUPT));
	ecam_write(0, PCI_DEVFN(5, 0), PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
	ck_assert_int_eq(fake_kvm__level(gsi), 0);
	ck_assert(ecam_read(0, PCI_DEVFN(5, 0), PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	ecam_write(0, PCI_DEVFN(5, 0), PCI_COMMAND, 2, 0);
	ck_assert_int_eq(fake_kvm__level(gsi), 1);
	pci__set_intx(&t1->pci, false);
	ck_assert_int_eq(fake_kvm__level(gsi), 0);
	ck_assert_uint_eq(fake_kvm__line_calls(gsi), 4);
}
END_TEST

static Suite *pci_irq_suite(void)
{
	Suite *s = suite_create("pci-irq");
	TCase *tc = tcase_create("pci-irq");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, msi_delivery_masking_pending);
	tcase_add_test(tc, msix_table_pba_masking);
	tcase_add_test(tc, msix_qword_access_and_callbacks);
	tcase_add_test(tc, msix_large_table);
	tcase_add_test(tc, intx_wired_or_and_disable);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(pci_irq_suite)
