/* Tier 1: the PIO/MMIO buses (vmm/bus.c) and the untranslated DMA interface (vmm/dma.c). */
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "vmm/bus.h"
#include "vmm/dma.h"
#include "vmm/layout.h"
#include "vmm/memory.h"

struct rec {
	uint64_t off;
	unsigned len, calls;
	bool write;
	uint32_t val;
};

static void handler(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	struct rec *r = opaque;

	r->off = off;
	r->len = len;
	r->write = is_write;
	r->calls++;
	if (is_write)
		memcpy(&r->val, data, len < 4 ? len : 4);
	else
		memset(data, 0xab, len);
}

START_TEST(dispatch_and_unhandled)
{
	struct bus bus;
	struct rec a = { 0 };
	uint32_t v = 0x1234;

	bus__init(&bus, "pio");
	ck_assert_int_eq(bus__register(&bus, 0x3f8, 8, handler, &a, "com1"), 0);
	ck_assert(bus__access(&bus, 0x3fa, &v, 1, true));
	ck_assert_uint_eq(a.off, 2);
	ck_assert_uint_eq(a.val & 0xff, 0x34);
	ck_assert(!bus__access(&bus, 0x400, &v, 4, false));
	ck_assert_uint_eq(v, 0xffffffff); /* nothing there: all-ones */
	ck_assert(!bus__access(&bus, 0x3f7, &v, 1, false));
	ck_assert_int_eq(bus__register(&bus, 0x3f8, 8, handler, &a, "dup"), -EEXIST);
	ck_assert_int_eq(bus__register(&bus, 0x10, 0, handler, &a, "empty"), -EINVAL);
	ck_assert_int_eq(bus__register(&bus, UINT64_MAX - 2, 8, handler, &a, "wrap"), -EINVAL);
	bus__exit(&bus);
}
END_TEST

START_TEST(smallest_region_wins)
{
	struct bus bus;
	struct rec pci = { 0 }, rst = { 0 };
	uint8_t b = 6;
	uint32_t d = 0x80000000;

	bus__init(&bus, "pio");
	bus__register(&bus, PORT_PCI_CONFIG_ADDR, 4, handler, &pci, "pci");
	bus__register(&bus, PORT_RESET_CTRL, 1, handler, &rst, "reset");
	bus__access(&bus, PORT_RESET_CTRL, &b, 1, true);
	ck_assert_uint_eq(rst.calls, 1);
	ck_assert_uint_eq(pci.calls, 0);
	bus__access(&bus, PORT_PCI_CONFIG_ADDR, &d, 4, true);
	ck_assert_uint_eq(pci.calls, 1);
	ck_assert_uint_eq(rst.calls, 1);
	bus__exit(&bus);
}
END_TEST

START_TEST(unregister_moves)
{
	struct bus bus;
	struct rec a = { 0 };
	uint32_t v;

	bus__init(&bus, "mmio");
	bus__register(&bus, 0xc0000000, 0x1000, handler, &a, "bar0");
	ck_assert_int_eq(bus__unregister(&bus, 0xc0000000, &a), 0);
	ck_assert_int_eq(bus__unregister(&bus, 0xc0000000, &a), -ENOENT);
	ck_assert(!bus__access(&bus, 0xc0000000, &v, 4, false));
	bus__register(&bus, 0xc0001000, 0x1000, handler, &a, "bar0");
	ck_assert(bus__access(&bus, 0xc0001ffc, &v, 4, false));
	ck_assert_uint_eq(a.off, 0xffc);
	bus__exit(&bus);
}
END_TEST

START_TEST(dma_untranslated_bounds)
{
	struct guest_mem mem;
	struct dma_as as;
	uint8_t buf[64];
	size_t n;

	ck_assert_int_eq(guest_mem__init(&mem, 64 << 20), 0);
	dma__init_as(&as, &mem, NULL, 0x0008);
	memset(buf, 0x5a, sizeof(buf));
	ck_assert_int_eq(dma__write(&as, 0x1000, buf, sizeof(buf)), 0);
	ck_assert_int_eq(((uint8_t *)mem.r[0].hva)[0x1000 + 63], 0x5a);
	/* Past the end of RAM, straddling it, in the MSI window, wrapping: all refused. */
	ck_assert_int_eq(dma__read(&as, (64 << 20) - 32, buf, 64), -EFAULT);
	ck_assert_int_eq(dma__read(&as, 64 << 20, buf, 1), -EFAULT);
	ck_assert_int_eq(dma__read(&as, LAYOUT_MSI_BASE, buf, 4), -EFAULT);
	ck_assert_int_eq(dma__read(&as, UINT64_MAX - 8, buf, 16), -EFAULT);
	ck_assert_ptr_nonnull(dma__map(&as, NULL, 0x2000, 4096, DMA_READ, &n));
	ck_assert_uint_eq(n, 4096);
	ck_assert_ptr_null(dma__map(&as, NULL, 0x2000, 0, DMA_READ, &n));
	guest_mem__exit(&mem);
}
END_TEST

START_TEST(memory_layout)
{
	struct guest_mem mem;

	ck_assert_int_eq(guest_mem__init(&mem, 5ULL << 30), 0);
	ck_assert_int_eq(mem.nr, 2);
	ck_assert_uint_eq(mem.r[0].size, LAYOUT_LOWMEM_LIMIT);
	ck_assert_uint_eq(mem.r[1].gpa, LAYOUT_HIGHMEM_BASE);
	ck_assert_uint_eq(mem.r[1].size, (5ULL << 30) - LAYOUT_LOWMEM_LIMIT);
	ck_assert_ptr_null(guest_mem__hva(&mem, LAYOUT_LOWMEM_LIMIT - 8, 16));	/* straddles the hole */
	ck_assert_ptr_nonnull(guest_mem__hva(&mem, LAYOUT_HIGHMEM_BASE, 16));
	ck_assert_uint_eq(guest_mem__contig(&mem, LAYOUT_PCI_ECAM_BASE), 0);
	guest_mem__exit(&mem);
	ck_assert_int_eq(guest_mem__init(&mem, 1000), -EINVAL);
}
END_TEST

static Suite *bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("bus");

	tcase_add_test(tc, dispatch_and_unhandled);
	tcase_add_test(tc, smallest_region_wins);
	tcase_add_test(tc, unregister_moves);
	tcase_add_test(tc, dma_untranslated_bounds);
	tcase_add_test(tc, memory_layout);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(bus_suite)
