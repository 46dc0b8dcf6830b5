/*
 * The minivmm DMA engine (--dma-engine): a PCI test device in the spirit of QEMU's "edu", made to drive
 * the vIOMMU. It copies, fills and compares guest memory, always through its own DMA address space
 * (vmm/dma.h), so with --viommu flts every byte it touches is translated by the VT-d unit, with the
 * PASID and privilege the guest asked for.
 *
 * PCI function: vendor 0x1b36 (Red Hat, QEMU's test devices), device 0x0011, class 0x088000 (base system
 * peripheral, other), conventional config space, no INTx. BAR0: the registers below (32-bit memory,
 * 4 KiB). BAR1: MSI-X table and PBA, one vector (DMAE_MSIX_VECTOR): sent when a command ends, whether
 * it succeeded or failed. Bus mastering (command register bit 2) must be on or commands fail with
 * DMAE_ERR_MASTER before any access.
 *
 * Registers: little-endian, 4- or 8-byte accesses, naturally aligned; a 64-bit register may also be
 * accessed as two 32-bit halves. Other accesses read all-ones and are ignored on write.
 *
 *   0x00 ID         RO 32  DMAE_ID_VALUE
 *   0x04 MAX_LEN    RO 32  largest LEN (DMAE_MAX_LEN, 64 MiB)
 *   0x08 SRC        RW 64  source DMA address (COPY, COMPARE)
 *   0x10 DST        RW 64  destination DMA address (COPY, FILL, COMPARE)
 *   0x18 LEN        RW 32  bytes, 1 .. MAX_LEN
 *   0x1C PASID      RW 32  19:0 PASID value, 30 PRIV (privileged-mode request), 31 PV (PASID valid).
 *                          Requests carry a PASID only with PV; PRIV without PV is dropped, as PCIe
 *                          carries the privileged-mode bit in the PASID TLP prefix.
 *   0x20 PATTERN    RW 64  FILL: byte i of the destination gets byte (i % 8) of PATTERN
 *   0x28 CMD        RW 32  3:0 opcode: DMAE_CMD_COPY, DMAE_CMD_FILL, DMAE_CMD_COMPARE
 *   0x2C DOORBELL   WO 32  any write starts CMD with the registers as they are now (they are latched:
 *                          rewriting them while BUSY does not affect the running command). A doorbell
 *                          while BUSY is dropped and sets STATUS.OVERRUN.
 *   0x30 STATUS     32     0 BUSY (RO), 1 DONE (RW1C), 2 ERROR (RW1C), 3 OVERRUN (RW1C),
 *                          15:8 ERRCODE (RO, enum dmae_err; cleared with ERROR). A doorbell clears
 *                          DONE, ERROR and ERRCODE; the end of a command clears BUSY and sets DONE
 *                          (success) or ERROR (failure) in one update; the MSI-X message follows.
 *   0x34 RESULT     RO 32  COMPARE: 0 equal, 1 different
 *   0x38 MISMATCH   RO 64  COMPARE: offset of the first differing byte (when RESULT = 1)
 *   0x40 FAULT_ADDR RO 64  DMAE_ERR_DMA: the DMA address that could not be accessed
 *   0x48 FAULT_DIR  RO 32  DMAE_ERR_DMA: DMAE_DIR_READ (fetching the source) or DMAE_DIR_WRITE
 *   0x50 COMPLETED  RO 64  commands ended since the device was created (success or error)
 *   0x58 BYTES      RO 64  bytes the last command processed: LEN on success, MISMATCH when COMPARE
 *                          found a difference (it stops there), the bytes before the failing access
 *                          on DMAE_ERR_DMA
 *
 * Commands run on the device's own thread, so the guest polls STATUS (or waits for the MSI-X vector)
 * while they run. Failures (ERRCODE): bad opcode, LEN 0 or above MAX_LEN, an address range that wraps
 * past 2^64, bus mastering off, or a DMA access that failed (vIOMMU fault, or not RAM when untranslated);
 * a failed copy or fill may have written the bytes before the failing access. Overlapping copies are
 * memory-safe but leave unspecified data in the overlap.
 *
 * The register definitions need nothing else, so guest programs include this header too.
 */
#ifndef MINIVMM_DEVICES_DMA_ENGINE_H
#define MINIVMM_DEVICES_DMA_ENGINE_H

#define DMAE_VENDOR_ID		0x1b36
#define DMAE_DEVICE_ID		0x0011
#define DMAE_CLASS_CODE		0x088000
#define DMAE_REG_BAR		0
#define DMAE_MSIX_BAR		1
#define DMAE_REG_SIZE		0x1000
#define DMAE_MSIX_VECTOR	0

#define DMAE_ID_VALUE		0x31454d44	/* "DME1" */
#define DMAE_MAX_LEN		(64u << 20)

#define DMAE_ID			0x00
#define DMAE_MAX_LEN_REG	0x04
#define DMAE_SRC		0x08
#define DMAE_DST		0x10
#define DMAE_LEN		0x18
#define DMAE_PASID		0x1C
#define  DMAE_PASID_MASK	0x000FFFFFu
#define  DMAE_PASID_PRIV	(1u << 30)
#define  DMAE_PASID_PV		(1u << 31)
#define DMAE_PATTERN		0x20
#define DMAE_CMD		0x28
#define  DMAE_CMD_OP_MASK	0xFu
#define  DMAE_CMD_COPY		1
#define  DMAE_CMD_FILL		2
#define  DMAE_CMD_COMPARE	3
#define DMAE_DOORBELL		0x2C
#define DMAE_STATUS		0x30
#define  DMAE_STATUS_BUSY	(1u << 0)
#define  DMAE_STATUS_DONE	(1u << 1)
#define  DMAE_STATUS_ERROR	(1u << 2)
#define  DMAE_STATUS_OVERRUN	(1u << 3)
#define  DMAE_STATUS_ERRCODE(s)	(((s) >> 8) & 0xFF)
#define DMAE_RESULT		0x34
#define DMAE_MISMATCH		0x38
#define DMAE_FAULT_ADDR		0x40
#define DMAE_FAULT_DIR		0x48
#define  DMAE_DIR_READ		1
#define  DMAE_DIR_WRITE		2
#define DMAE_COMPLETED		0x50
#define DMAE_BYTES		0x58
#define DMAE_REGS_END		0x60

enum dmae_err {
	DMAE_ERR_NONE = 0,
	DMAE_ERR_CMD = 1,	/* unknown opcode */
	DMAE_ERR_LEN = 2,	/* LEN is 0 or above MAX_LEN */
	DMAE_ERR_RANGE = 3,	/* SRC + LEN or DST + LEN wraps past 2^64 */
	DMAE_ERR_MASTER = 4,	/* bus mastering is off */
	DMAE_ERR_DMA = 5,	/* an access failed: FAULT_ADDR, FAULT_DIR */
};

#ifndef __ASSEMBLER__
struct pci_host;
struct dma_engine;

/* Create the function and put it on @host (first free slot). NULL after printing why. */
struct dma_engine *dma_engine__create(struct pci_host *host);
/*
 * Until no command is queued or running and the last one's interrupt went out (STATUS shows the end a
 * moment before the message is sent). For tests: a guest has only STATUS and the interrupt.
 */
void dma_engine__wait_idle(struct dma_engine *d);
/* Wait for the running command, stop the thread, release the function. NULL is fine. */
void dma_engine__destroy(struct dma_engine *d);
#endif

#endif
