/*
 * Tier 1: the DMA-engine test device (devices/dma-engine.c) on the fake KVM host, driven through its
 * BAR like a guest would: identity and config space, copy / fill / compare untranslated, the MSI-X
 * completion interrupt (success, error, masked), every documented failure (bad opcode, length,
 * wrapping range, bus mastering off, memory outside RAM), RW1C status and the overrun bit, latched
 * registers; then through a fake translator (IOVA offset, PASID/PRIV attributes, a faulting page,
 * a command held mid-flight, the lock order of the completion interrupt, destroy while busy) and
 * through a real VT-d unit (first-stage tables, A/D bits, fault records with SID, T bit and PASID).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "fake_kvm.h"
#include "vtd_testlib.h"
#include "devices/dma-engine.h"
#include "devices/pci-host.h"
#include "devices/pci.h"
#include "iommu/vtd-hw.h"
#include "vmm/layout.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define DEVFN		PCI_DEVFN(1, 0)		/* the first free slot */
#define SID		DEVFN
#define MSI_ADDR	0xfee00000ULL
#define MSI_DATA	0x4045

static struct vm *vm;
static struct pci_host *host;
static struct dma_engine *eng;
static struct pci_device *pdev;
static uint64_t bar;
static bool borrowed_mem;

/* A machine with the engine at 00:01.0. @mem (else 16 MiB of its own) is the RAM, @tr the translator. */
static void start(struct guest_mem *mem, const struct dma_translator *tr)
{
	borrowed_mem = mem != NULL;
	vm = fake_vm__new(mem ? 0 : 16 * MiB);
	if (mem)
		vm->mem = *mem;		/* shared with a vtd_env: not ours to unmap */
	host = pci_host__init(vm);
	ck_assert_ptr_nonnull(host);
	if (tr)
		pci_host__set_translator(host, tr);
	eng = dma_engine__create(host);
	ck_assert_ptr_nonnull(eng);
	ck_assert_int_eq(pci_host__assign_resources(host), 0);
	pdev = pci_host__find(host, 0, DEVFN);
	ck_assert_ptr_nonnull(pdev);
	bar = pci__bar_addr(pdev, DMAE_REG_BAR);
	ck_assert_uint_ne(bar, 0);
}

/* Also the teardown: a test may have stopped already. */
static void stop(void)
{
	if (!vm)
		return;
	dma_engine__destroy(eng);
	pci_host__exit(host);
	if (borrowed_mem)
		memset(&vm->mem, 0, sizeof(vm->mem));
	fake_vm__free(vm);
	vm = NULL;
}

static void setup(void)
{
	start(NULL, NULL);
}

static uint64_t rd(unsigned off, unsigned len)
{
	uint64_t v = 0;

	ck_assert(bus__access(&vm->mmio, bar + off, &v, len, false));
	return v;
}

static void wr(unsigned off, uint64_t v, unsigned len)
{
	ck_assert(bus__access(&vm->mmio, bar + off, &v, len, true));
}

static uint8_t *ram(uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem__hva(&vm->mem, gpa, len);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* STATUS once BUSY clears (the device thread finished), failing the test after 10 s. */
static uint32_t wait_idle(void)
{
	for (int i = 0; i < 200000; i++) {
		uint32_t s = rd(DMAE_STATUS, 4);

		if (!(s & DMAE_STATUS_BUSY))
			return s;
		usleep(50);
	}
	ck_abort_msg("the DMA engine stayed busy");
	return 0;
}

static void set_cmd(unsigned op, uint64_t src, uint64_t dst, uint32_t len)
{
	wr(DMAE_SRC, src, 8);
	wr(DMAE_DST, dst, 8);
	wr(DMAE_LEN, len, 4);
	wr(DMAE_CMD, op, 4);
}

/* Run a command; returns STATUS after it ended. */
static uint32_t run(unsigned op, uint64_t src, uint64_t dst, uint32_t len)
{
	set_cmd(op, src, dst, len);
	wr(DMAE_DOORBELL, 1, 4);
	return wait_idle();
}

static void expect_error(uint32_t status, enum dmae_err err)
{
	ck_assert_uint_eq(status & (DMAE_STATUS_DONE | DMAE_STATUS_ERROR | DMAE_STATUS_BUSY), DMAE_STATUS_ERROR);
	ck_assert_uint_eq(DMAE_STATUS_ERRCODE(status), err);
}

static unsigned nr_msis(void)
{
	unsigned n;

	pthread_mutex_lock(&fake_kvm.lock);
	n = fake_kvm.nr_msis;
	pthread_mutex_unlock(&fake_kvm.lock);
	return n;
}

/* The message follows STATUS: once the device thread is idle every message it sends has gone. */
static void expect_msis(unsigned n)
{
	dma_engine__wait_idle(eng);
	ck_assert_uint_eq(nr_msis(), n);
}

static void msix_setup(void)
{
	unsigned cap = pci__find_cap(pdev, PCI_CAP_ID_MSIX);
	uint64_t t = pci__bar_addr(pdev, DMAE_MSIX_BAR);
	uint32_t v[4] = { (uint32_t)MSI_ADDR, 0, MSI_DATA, 0 };

	ck_assert_uint_ne(cap, 0);
	ck_assert_uint_ne(t, 0);
	for (int i = 0; i < 4; i++)
		ck_assert(bus__access(&vm->mmio, t + 4 * i, &v[i], 4, true));
	pci__cfg_write(pdev, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
}

static void fill_bytes(uint64_t gpa, uint64_t len, uint8_t seed)
{
	uint8_t *p = ram(gpa, len);

	for (uint64_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* ---- untranslated ---- */

START_TEST(identity_and_config)
{
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_VENDOR_ID, 2), DMAE_VENDOR_ID);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_DEVICE_ID, 2), DMAE_DEVICE_ID);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_CLASS_REVISION, 4) >> 8, DMAE_CLASS_CODE);
	ck_assert_uint_eq(pci__cfg_read(pdev, PCI_INTERRUPT_PIN, 1), 0);
	ck_assert_uint_ne(pci__find_cap(pdev, PCI_CAP_ID_MSIX), 0);
	ck_assert_uint_ne(pci__bar_addr(pdev, DMAE_MSIX_BAR), 0);
	ck_assert_uint_eq(rd(DMAE_ID, 4), DMAE_ID_VALUE);
	ck_assert_uint_eq(rd(DMAE_MAX_LEN_REG, 4), DMAE_MAX_LEN);
	ck_assert_uint_eq(rd(DMAE_ID, 8), (uint64_t)DMAE_MAX_LEN << 32 | DMAE_ID_VALUE);
	ck_assert_uint_eq(rd(DMAE_STATUS, 4), 0);
	/* 64-bit registers: whole, or as halves. */
	wr(DMAE_SRC, 0x1122334455667788ULL, 8);
	ck_assert_uint_eq(rd(DMAE_SRC + 4, 4), 0x11223344);
	wr(DMAE_SRC + 4, 0xaabbccdd, 4);
	ck_assert_uint_eq(rd(DMAE_SRC, 8), 0xaabbccdd55667788ULL);
	/* Reserved bits read 0; read-only registers ignore writes; bad widths read all-ones. */
	wr(DMAE_PASID, 0xffffffff, 4);
	ck_assert_uint_eq(rd(DMAE_PASID, 4), DMAE_PASID_PV | DMAE_PASID_PRIV | DMAE_PASID_MASK);
	wr(DMAE_CMD, 0xffffffff, 4);
	ck_assert_uint_eq(rd(DMAE_CMD, 4), 0xf);
	wr(DMAE_ID, 0, 4);
	wr(DMAE_COMPLETED, 5, 8);
	ck_assert_uint_eq(rd(DMAE_ID, 4), DMAE_ID_VALUE);
	ck_assert_uint_eq(rd(DMAE_COMPLETED, 8), 0);
	ck_assert_uint_eq(rd(DMAE_ID, 2), 0xffff);
	ck_assert_uint_eq(rd(DMAE_SRC + 4, 8), ~0ULL);	/* misaligned */
	wr(DMAE_LEN, 0x1234, 2);			/* ignored */
	ck_assert_uint_eq(rd(DMAE_LEN, 4), 0);
	ck_assert_uint_eq(rd(DMAE_DOORBELL, 4), 0);
	ck_assert_uint_eq(rd(0x800, 4), 0);
}
END_TEST

START_TEST(copy_fill_compare)
{
	uint8_t *src = ram(0x100003, 10000), *dst = ram(0x200001, 10000), *f;
	uint32_t s;

	fill_bytes(0x100003, 10000, 1);
	memset(dst, 0, 10000);
	s = run(DMAE_CMD_COPY, 0x100003, 0x200001, 9999);
	ck_assert_uint_eq(s, DMAE_STATUS_DONE);
	ck_assert_mem_eq(dst, src, 9999);
	ck_assert_uint_eq(dst[9999], 0);
	ck_assert_uint_eq(rd(DMAE_BYTES, 8), 9999);
	ck_assert_uint_eq(rd(DMAE_COMPLETED, 8), 1);

	/* COMPARE: equal, then a difference at offset 4321. */
	ck_assert_uint_eq(run(DMAE_CMD_COMPARE, 0x100003, 0x200001, 9999), DMAE_STATUS_DONE);
	ck_assert_uint_eq(rd(DMAE_RESULT, 4), 0);
	dst[4321] ^= 0x40;
	ck_assert_uint_eq(run(DMAE_CMD_COMPARE, 0x100003, 0x200001, 9999), DMAE_STATUS_DONE);
	ck_assert_uint_eq(rd(DMAE_RESULT, 4), 1);
	ck_assert_uint_eq(rd(DMAE_MISMATCH, 8), 4321);
	ck_assert_uint_eq(rd(DMAE_BYTES, 8), 4321);
	ck_assert_uint_eq(run(DMAE_CMD_COMPARE, 0x100003, 0x200001, 4321), DMAE_STATUS_DONE);
	ck_assert_uint_eq(rd(DMAE_RESULT, 4), 0);

	/* FILL: byte i gets byte (i % 8) of PATTERN, from an odd start, not past LEN. */
	f = ram(0x300000, 64);
	memset(f, 0xee, 64);
	wr(DMAE_PATTERN, 0x0807060504030201ULL, 8);
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, 0x300005, 21), DMAE_STATUS_DONE);
	ck_assert_uint_eq(f[4], 0xee);
	for (int i = 0; i < 21; i++)
		ck_assert_uint_eq(f[5 + i], 1 + i % 8);
	ck_assert_uint_eq(f[26], 0xee);
	/* A big fill crosses every run size. */
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, 0x400000, 3 * MiB + 3), DMAE_STATUS_DONE);
	f = ram(0x400000, 3 * MiB + 4);
	for (uint64_t i = 0; i < 3 * MiB + 3; i += 4093)
		ck_assert_uint_eq(f[i], 1 + i % 8);
	ck_assert_uint_eq(f[3 * MiB + 3], 0);
	ck_assert_uint_eq(rd(DMAE_COMPLETED, 8), 6);
}
END_TEST

START_TEST(msix_on_completion)
{
	unsigned cap;

	/* MSI-X off: the command still completes, nothing is sent (no INTx pin). */
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, 0x1000, 8), DMAE_STATUS_DONE);
	expect_msis(0);
	msix_setup();
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, 0x1000, 8), DMAE_STATUS_DONE);
	expect_msis(1);
	ck_assert_uint_eq(fake_kvm.msis[0].addr, MSI_ADDR);
	ck_assert_uint_eq(fake_kvm.msis[0].data, MSI_DATA);
	/* An error also ends a command. */
	expect_error(run(DMAE_CMD_FILL, 0, 0x1000, 0), DMAE_ERR_LEN);
	expect_msis(2);
	/* Function masked: the vector is left pending and sent on unmask. */
	cap = pci__find_cap(pdev, PCI_CAP_ID_MSIX);
	pci__cfg_write(pdev, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, 0x1000, 8), DMAE_STATUS_DONE);
	expect_msis(2);
	pci__cfg_write(pdev, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	ck_assert_uint_eq(nr_msis(), 3);
}
END_TEST

START_TEST(bad_commands)
{
	uint8_t *p = ram(0x5000, 4096);
	uint64_t end = vm->mem.ram_end;

	memset(p, 0x33, 4096);
	expect_error(run(0, 0x5000, 0x6000, 16), DMAE_ERR_CMD);
	expect_error(run(7, 0x5000, 0x6000, 16), DMAE_ERR_CMD);
	expect_error(run(DMAE_CMD_COPY, 0x5000, 0x6000, 0), DMAE_ERR_LEN);
	expect_error(run(DMAE_CMD_COPY, 0x5000, 0x6000, DMAE_MAX_LEN + 1), DMAE_ERR_LEN);
	expect_error(run(DMAE_CMD_COPY, ~0ULL - 8, 0x6000, 16), DMAE_ERR_RANGE);
	expect_error(run(DMAE_CMD_COMPARE, 0x5000, ~0ULL - 8, 16), DMAE_ERR_RANGE);
	/* FILL has no source: SRC is not checked. */
	ck_assert_uint_eq(run(DMAE_CMD_FILL, ~0ULL, 0x5000, 16), DMAE_STATUS_DONE);
	/* The last byte of the address space is fine. */
	expect_error(run(DMAE_CMD_FILL, 0, ~0ULL, 1), DMAE_ERR_DMA);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), ~0ULL);
	/* ERROR and ERRCODE clear together (RW1C); DONE stays. */
	wr(DMAE_STATUS, DMAE_STATUS_ERROR, 4);
	ck_assert_uint_eq(rd(DMAE_STATUS, 4), 0);

	/* Bus mastering off: refused before any access. */
	memset(p, 0x33, 4096);
	pci__cfg_write(pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	expect_error(run(DMAE_CMD_FILL, 0, 0x5000, 16), DMAE_ERR_MASTER);
	ck_assert_uint_eq(p[0], 0x33);
	pci__cfg_write(pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

	/* Not RAM: the copy stops at the first byte beyond it, after writing what was RAM. */
	wr(DMAE_PATTERN, 0, 8);
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, 0x5000, 4096), DMAE_STATUS_DONE);
	expect_error(run(DMAE_CMD_COPY, 0x7000, end - 4096, 8192), DMAE_ERR_DMA);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), end);
	ck_assert_uint_eq(rd(DMAE_FAULT_DIR, 4), DMAE_DIR_WRITE);
	ck_assert_uint_eq(rd(DMAE_BYTES, 8), 4096);
	expect_error(run(DMAE_CMD_COPY, end - 100, 0x5000, 4096), DMAE_ERR_DMA);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), end);
	ck_assert_uint_eq(rd(DMAE_FAULT_DIR, 4), DMAE_DIR_READ);
	ck_assert_uint_eq(rd(DMAE_BYTES, 8), 100);
	expect_error(run(DMAE_CMD_COMPARE, 0x5000, LAYOUT_PCI_ECAM_BASE, 16), DMAE_ERR_DMA);
	ck_assert_uint_eq(rd(DMAE_FAULT_DIR, 4), DMAE_DIR_READ);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), LAYOUT_PCI_ECAM_BASE);
	/* A good command clears the error state. */
	ck_assert_uint_eq(run(DMAE_CMD_COPY, 0x5000, 0x6000, 16), DMAE_STATUS_DONE);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), 0);
	ck_assert_uint_eq(rd(DMAE_FAULT_DIR, 4), 0);
	ck_assert_uint_eq(rd(DMAE_COMPLETED, 8), 14);
}
END_TEST

/* ---- through a fake translator: IOVA = GPA + FT_OFFSET, 4 KiB at a time ---- */

#define FT_OFFSET 0x40000000ULL

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool hold, entered;
	uint64_t fault_lo, fault_hi;
	unsigned calls;
	struct dma_attrs last;
	uint16_t last_sid;
	enum dma_dir last_dir;
} ft = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static int ft_translate(void *opaque, uint16_t sid, const struct dma_attrs *a, uint64_t iova, enum dma_dir dir,
			uint64_t *gpa, uint64_t *len)
{
	int ret = 0;

	pthread_mutex_lock(&ft.lock);
	ft.calls++;
	ft.last = *a;
	ft.last_sid = sid;
	ft.last_dir = dir;
	ft.entered = true;
	pthread_cond_broadcast(&ft.cond);
	while (ft.hold)
		pthread_cond_wait(&ft.cond, &ft.lock);
	if (iova < FT_OFFSET || (iova >= ft.fault_lo && iova < ft.fault_hi))
		ret = -EFAULT;
	pthread_mutex_unlock(&ft.lock);
	*gpa = iova - FT_OFFSET;
	*len = 4096 - (iova & 4095);
	return ret;
}

static const struct dma_translator fake_tr = { .translate = ft_translate };

static void ft_setup(void)
{
	pthread_mutex_lock(&ft.lock);
	ft.hold = ft.entered = false;
	ft.fault_lo = ft.fault_hi = 0;
	ft.calls = 0;
	pthread_mutex_unlock(&ft.lock);
	start(NULL, &fake_tr);
}

static void ft_hold(bool on)
{
	pthread_mutex_lock(&ft.lock);
	ft.hold = on;
	ft.entered = false;
	pthread_cond_broadcast(&ft.cond);
	pthread_mutex_unlock(&ft.lock);
}

static void ft_wait_entered(void)
{
	pthread_mutex_lock(&ft.lock);
	while (!ft.entered)
		pthread_cond_wait(&ft.cond, &ft.lock);
	pthread_mutex_unlock(&ft.lock);
}

START_TEST(translated_copy_and_attrs)
{
	uint8_t *src = ram(0x100800, 20000), *dst = ram(0x300400, 20000);

	fill_bytes(0x100800, 20000, 9);
	memset(dst, 0, 20000);
	ck_assert_uint_eq(run(DMAE_CMD_COPY, FT_OFFSET + 0x100800, FT_OFFSET + 0x300400, 20000), DMAE_STATUS_DONE);
	ck_assert_mem_eq(dst, src, 20000);
	/* Page by page: 5 source pages, 6 destination runs (the offsets differ), at least 11 calls. */
	ck_assert_uint_ge(ft.calls, 11);
	ck_assert_uint_eq(ft.last_sid, SID);
	ck_assert_int_eq(ft.last_dir, DMA_WRITE);
	ck_assert(!ft.last.has_pasid && !ft.last.priv);
	/* The guest physical address is not a DMA address any more. */
	expect_error(run(DMAE_CMD_COPY, 0x100800, FT_OFFSET + 0x300400, 16), DMAE_ERR_DMA);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), 0x100800);

	/* PASID attributes: PV carries the PASID and PRIV; PRIV alone is dropped. */
	wr(DMAE_PASID, DMAE_PASID_PV | DMAE_PASID_PRIV | 0x12345, 4);
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, FT_OFFSET + 0x5000, 8), DMAE_STATUS_DONE);
	ck_assert(ft.last.has_pasid && ft.last.priv);
	ck_assert_uint_eq(ft.last.pasid, 0x12345);
	wr(DMAE_PASID, DMAE_PASID_PV | 7, 4);
	ck_assert_uint_eq(run(DMAE_CMD_COMPARE, FT_OFFSET, FT_OFFSET + 0x5000, 8), DMAE_STATUS_DONE);
	ck_assert(ft.last.has_pasid && !ft.last.priv);
	ck_assert_uint_eq(ft.last.pasid, 7);
	ck_assert_int_eq(ft.last_dir, DMA_READ);
	wr(DMAE_PASID, DMAE_PASID_PRIV | 7, 4);
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, FT_OFFSET + 0x5000, 8), DMAE_STATUS_DONE);
	ck_assert(!ft.last.has_pasid && !ft.last.priv);
}
END_TEST

START_TEST(translation_fault_mid_copy)
{
	uint8_t *src = ram(0x100000, 16384), *dst = ram(0x300000, 16384);

	fill_bytes(0x100000, 16384, 3);
	memset(dst, 0, 16384);
	ft.fault_lo = FT_OFFSET + 0x302000;
	ft.fault_hi = FT_OFFSET + 0x303000;
	expect_error(run(DMAE_CMD_COPY, FT_OFFSET + 0x100000, FT_OFFSET + 0x300000, 16384), DMAE_ERR_DMA);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), FT_OFFSET + 0x302000);
	ck_assert_uint_eq(rd(DMAE_FAULT_DIR, 4), DMAE_DIR_WRITE);
	ck_assert_uint_eq(rd(DMAE_BYTES, 8), 0x2000);
	ck_assert_mem_eq(dst, src, 0x2000);
	ck_assert_uint_eq(dst[0x2000], 0);
	ck_assert_uint_eq(dst[0x3000], 0);
	/* The same page as a source. */
	expect_error(run(DMAE_CMD_COPY, FT_OFFSET + 0x301ffc, FT_OFFSET + 0x100000, 16), DMAE_ERR_DMA);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), FT_OFFSET + 0x302000);
	ck_assert_uint_eq(rd(DMAE_FAULT_DIR, 4), DMAE_DIR_READ);
	ck_assert_uint_eq(rd(DMAE_BYTES, 8), 4);
}
END_TEST

START_TEST(busy_latch_and_overrun)
{
	uint8_t *dst = ram(0x200000, 64);

	msix_setup();
	memset(dst, 0, 64);
	wr(DMAE_PATTERN, 0x1111111111111111ULL, 8);
	set_cmd(DMAE_CMD_FILL, 0, FT_OFFSET + 0x200000, 16);
	ft_hold(true);
	wr(DMAE_DOORBELL, 1, 4);
	ft_wait_entered();
	ck_assert_uint_eq(rd(DMAE_STATUS, 4), DMAE_STATUS_BUSY);
	/* Registers written now do not change the running command; a second doorbell is an overrun. */
	wr(DMAE_PATTERN, 0x2222222222222222ULL, 8);
	wr(DMAE_LEN, 32, 4);
	wr(DMAE_DOORBELL, 1, 4);
	ck_assert_uint_eq(rd(DMAE_STATUS, 4), DMAE_STATUS_BUSY | DMAE_STATUS_OVERRUN);
	wr(DMAE_STATUS, DMAE_STATUS_DONE | DMAE_STATUS_ERROR, 4);	/* nothing to clear, BUSY is RO */
	ck_assert_uint_eq(rd(DMAE_STATUS, 4), DMAE_STATUS_BUSY | DMAE_STATUS_OVERRUN);
	ck_assert_uint_eq(nr_msis(), 0);
	ft_hold(false);
	ck_assert_uint_eq(wait_idle(), DMAE_STATUS_DONE | DMAE_STATUS_OVERRUN);
	expect_msis(1);
	ck_assert_uint_eq(dst[15], 0x11);
	ck_assert_uint_eq(dst[16], 0);
	ck_assert_uint_eq(rd(DMAE_COMPLETED, 8), 1);
	wr(DMAE_STATUS, DMAE_STATUS_OVERRUN | DMAE_STATUS_DONE, 4);
	ck_assert_uint_eq(rd(DMAE_STATUS, 4), 0);
	/* The next doorbell uses the new values. */
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, FT_OFFSET + 0x200000, 0), DMAE_STATUS_ERROR | DMAE_ERR_LEN << 8);
	wr(DMAE_LEN, 32, 4);
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, FT_OFFSET + 0x200000, 32), DMAE_STATUS_DONE);
	ck_assert_uint_eq(dst[31], 0x22);
}
END_TEST

/*
 * The device thread signals the end of a command without holding the device's lock: pci__notify()
 * takes the function's lock, which a vCPU moving a BAR holds while it waits for the MMIO bus, which a
 * vCPU reading STATUS holds while it waits for the device's lock. Here the test takes the function's
 * lock (as the BAR mover would) while the command is held in translation (past the bus-master check),
 * then reads STATUS: with the lock order wrong this hangs and Check's timeout fails the test.
 */
START_TEST(signals_without_holding_its_lock)
{
	msix_setup();
	set_cmd(DMAE_CMD_FILL, 0, FT_OFFSET + 0x1000, 64);
	ft_hold(true);
	wr(DMAE_DOORBELL, 1, 4);
	ft_wait_entered();
	pthread_mutex_lock(&pdev->lock);
	ft_hold(false);
	ck_assert_uint_eq(wait_idle(), DMAE_STATUS_DONE);	/* the thread is in, or on its way to, pci__notify() */
	ck_assert_uint_eq(nr_msis(), 0);
	pthread_mutex_unlock(&pdev->lock);
	expect_msis(1);
}
END_TEST

static void *release_later(void *arg)
{
	usleep(20000);
	ft_hold(false);
	return NULL;
}

START_TEST(destroy_while_busy)
{
	pthread_t t;

	set_cmd(DMAE_CMD_FILL, 0, FT_OFFSET + 0x200000, 4096);
	ft_hold(true);
	wr(DMAE_DOORBELL, 1, 4);
	ft_wait_entered();
	ck_assert_int_eq(pthread_create(&t, NULL, release_later, NULL), 0);
	stop();		/* waits for the command, then frees */
	pthread_join(t, NULL);
	ck_assert(!ft.hold);
}
END_TEST

/* ---- through a real VT-d unit ---- */

static struct vtd_env env;

static void vtd_setup(void)
{
	vtd_env__init(&env, NULL);
	start(&env.mem, env.tr);
}

static void vtd_teardown(void)
{
	stop();
	vtd_env__exit(&env);
}

static unsigned fault_reason(uint64_t hi)
{
	return (hi >> VTD_FRCD_FR_SHIFT) & 0xFF;
}

START_TEST(vtd_first_stage)
{
	uint64_t fs = vtd_env__fs_domain(&env, SID, 0, 3), *src_pte[2], *dst_pte, hi;
	uint8_t *src = ram(0x100000, 8192), *dst = ram(0x400000, 8192);

	/* Source: two 4 KiB pages, read-only; destination: a 2 MiB page. */
	src_pte[0] = vtd_env__map(&env, fs, 0x7000000, 0x100000, 1, FS_P | FS_US);
	src_pte[1] = vtd_env__map(&env, fs, 0x7001000, 0x101000, 1, FS_P | FS_US);
	dst_pte = vtd_env__map(&env, fs, 0x8000000, 0x400000, 2, FS_RWU);
	vtd_env__enable(&env);
	fill_bytes(0x100000, 8192, 5);
	memset(dst, 0, 8192);
	ck_assert_uint_eq(run(DMAE_CMD_COPY, 0x7000010, 0x8000100, 8000), DMAE_STATUS_DONE);
	ck_assert_mem_eq(dst + 0x100, src + 0x10, 8000);
	/* A in every entry used; D only in the written leaf. */
	ck_assert_uint_eq(*src_pte[0] & (FS_A | FS_D), FS_A);
	ck_assert_uint_eq(*src_pte[1] & (FS_A | FS_D), FS_A);
	ck_assert_uint_eq(*dst_pte & (FS_A | FS_D), FS_A | FS_D);
	ck_assert_uint_eq(*vtd_env__q(&env, fs) & FS_A, FS_A);

	/* Write to the read-only source: fault 0x85 on the write (T = 0) at the exact address. */
	expect_error(run(DMAE_CMD_COPY, 0x8000000, 0x7001008, 16), DMAE_ERR_DMA);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), 0x7001008);
	ck_assert_uint_eq(rd(DMAE_FAULT_DIR, 4), DMAE_DIR_WRITE);
	hi = vtd_env__frcd(&env, 0, true);
	ck_assert(hi & VTD_FRCD_F);
	ck_assert_uint_eq((uint16_t)hi, SID);
	ck_assert(!(hi & VTD_FRCD_T) && !(hi & VTD_FRCD_PP));
	ck_assert_uint_eq(vtd_env__frcd(&env, 0, false), 0x7001000);
	ck_assert_int_eq(vtd_env__take_fault(&env), VTD_FR_WRITE);

	/* Reading past the mapped source: not present (0x71), a read (T = 1), after 4 KiB were copied. */
	expect_error(run(DMAE_CMD_COPY, 0x7001000, 0x8000000, 8192), DMAE_ERR_DMA);
	ck_assert_uint_eq(rd(DMAE_FAULT_ADDR, 8), 0x7002000);
	ck_assert_uint_eq(rd(DMAE_FAULT_DIR, 4), DMAE_DIR_READ);
	ck_assert_uint_eq(rd(DMAE_BYTES, 8), 4096);
	hi = vtd_env__frcd(&env, 1, true);
	ck_assert(hi & VTD_FRCD_T);
	ck_assert_uint_eq(fault_reason(hi), VTD_FR_FS_P);
	ck_assert_int_eq(vtd_env__take_fault(&env), VTD_FR_FS_P);
}
END_TEST

START_TEST(vtd_with_pasid)
{
	uint64_t fs, hi;
	uint8_t *dst = ram(0x600000, 64);

	vtd_env__fs_domain(&env, SID, 0, 1);		/* requests without PASID: an empty domain */
	vtd_env__set_ctx(&env, SID, VTD_CE0_PASIDE, 0);
	fs = vtd_env__set_pasid_fs(&env, SID, 9, 2);
	vtd_env__map(&env, fs, 0x1000, 0x600000, 1, FS_RWU);
	vtd_env__enable(&env);
	memset(dst, 0, 64);
	wr(DMAE_PATTERN, 0xa5a5a5a5a5a5a5a5ULL, 8);
	/* Without PASID the address is not mapped. */
	expect_error(run(DMAE_CMD_FILL, 0, 0x1000, 64), DMAE_ERR_DMA);
	ck_assert_int_eq(vtd_env__take_fault(&env), VTD_FR_FS_P);
	wr(DMAE_PASID, DMAE_PASID_PV | 9, 4);
	ck_assert_uint_eq(run(DMAE_CMD_FILL, 0, 0x1000, 64), DMAE_STATUS_DONE);
	ck_assert_uint_eq(dst[63], 0xa5);
	/* A supervisor request needs SRE: fault 0x5D with PASID and PRIV recorded. */
	wr(DMAE_PASID, DMAE_PASID_PV | DMAE_PASID_PRIV | 9, 4);
	expect_error(run(DMAE_CMD_FILL, 0, 0x1000, 64), DMAE_ERR_DMA);
	hi = vtd_env__frcd(&env, 1, true);
	ck_assert_uint_eq(fault_reason(hi), VTD_FR_SM_SRE);
	ck_assert(hi & VTD_FRCD_PP);
	ck_assert_uint_eq((hi >> VTD_FRCD_PV_SHIFT) & 0xFFFFF, 9);
	ck_assert(hi & VTD_FRCD_PRIV);
	ck_assert_int_eq(vtd_env__take_fault(&env), VTD_FR_SM_SRE);
	/* A PASID with no entry. */
	wr(DMAE_PASID, DMAE_PASID_PV | 10, 4);
	expect_error(run(DMAE_CMD_FILL, 0, 0x1000, 64), DMAE_ERR_DMA);
	ck_assert_int_eq(vtd_env__take_fault(&env), VTD_FR_SM_PE_P);
}
END_TEST

static Suite *dma_engine_suite(void)
{
	Suite *s = suite_create("dma_engine");
	TCase *tc = tcase_create("untranslated");
	TCase *tf = tcase_create("fake translator");
	TCase *tv = tcase_create("vtd");

	tcase_add_checked_fixture(tc, setup, stop);
	tcase_add_test(tc, identity_and_config);
	tcase_add_test(tc, copy_fill_compare);
	tcase_add_test(tc, msix_on_completion);
	tcase_add_test(tc, bad_commands);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, ft_setup, stop);
	tcase_add_test(tf, translated_copy_and_attrs);
	tcase_add_test(tf, translation_fault_mid_copy);
	tcase_add_test(tf, busy_latch_and_overrun);
	tcase_add_test(tf, signals_without_holding_its_lock);
	tcase_add_test(tf, destroy_while_busy);
	suite_add_tcase(s, tf);
	tcase_add_checked_fixture(tv, vtd_setup, vtd_teardown);
	tcase_add_test(tv, vtd_first_stage);
	tcase_add_test(tv, vtd_with_pasid);
	suite_add_tcase(s, tv);
	return s;
}

CHECK_MAIN(dma_engine_suite)
