/*
 * Reset paths a PC guest uses:
 *
 *  - the i8042 keyboard controller: command 0xFE on port 0x64 pulses output-port bit 0, the CPU reset
 *    line (Linux reboot=kbd, most boot loaders). Around it we model a controller with no keyboard or
 *    mouse attached that answers the handful of commands an OS uses to find it, so probing never waits
 *    on a status bit that cannot change: the status register reads 0x1C-like (system flag, not
 *    inhibited, input buffer empty) and the output buffer is only ever full with a command's answer.
 *  - the reset control register at 0xCF9 (Intel ICH/PCH "RST_CNT"): writing RST_CPU (bit 2) resets,
 *    with SYS_RST (bit 1) / FULL_RST (bit 3) choosing how hard. We cannot do a soft (INIT-only) reset, so
 *    every RST_CPU write is a full reset. Linux reboot=pci writes 0x02 then 0x06; ACPI reboot writes the
 *    FADT RESET_VALUE (0x06) here.
 *
 * 0xCF9 lies inside the PCI configuration-address dword at 0xCF8; it is registered as its own 1-byte
 * region, and the bus sends a byte access there to the smallest containing region (vmm/bus.h).
 */
#include "devices/reset.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* i8042 status register bits */
#define I8042_STR_OBF		0x01	/* output buffer full: data at 0x60 */
#define I8042_STR_IBF		0x02	/* input buffer full: always 0, we take bytes at once */
#define I8042_STR_SYSFLAG	0x04	/* self-test passed */
#define I8042_STR_CMDDAT	0x08	/* last write was to 0x64 (a command) */
#define I8042_STR_KEYLOCK	0x10	/* 1 = keyboard not inhibited */

/* i8042 commands (port 0x64) */
#define I8042_CMD_READ_CTR	0x20
#define I8042_CMD_WRITE_CTR	0x60
#define I8042_CMD_AUX_DISABLE	0xA7
#define I8042_CMD_AUX_ENABLE	0xA8
#define I8042_CMD_SELF_TEST	0xAA
#define I8042_CMD_KBD_DISABLE	0xAD
#define I8042_CMD_KBD_ENABLE	0xAE
#define I8042_CMD_WRITE_OUTPORT	0xD1
#define I8042_CMD_PULSE_MASK	0xF0	/* 0xF0-0xFF: pulse output-port bits 3:0 that are 0 in the command */

#define I8042_CTR_KBDDIS	0x10
#define I8042_CTR_AUXDIS	0x20
#define I8042_CTR_XLATE		0x40

#define I8042_OUTPORT_RESET	0x01	/* output-port bit 0: CPU reset line, active low */

/* RST_CNT bits (Intel PCH datasheet, "Reset Control Register") */
#define RST_CNT_SYS_RST		0x02
#define RST_CNT_RST_CPU		0x04
#define RST_CNT_FULL_RST	0x08

struct reset_dev {
	pthread_mutex_t lock;
	struct vm *vm;
	uint8_t status;		/* i8042 status, without OBF */
	uint8_t ctr;		/* i8042 command byte ("controller configuration") */
	uint8_t pending_cmd;	/* command waiting for its data byte on 0x60, or 0 */
	bool obf;
	uint8_t out;		/* output buffer */
	uint8_t rst_cnt;	/* 0xCF9: SYS_RST and FULL_RST as written */
	char reason[64];
};

static void reset_stop(struct reset_dev *r, const char *why)
{
	snprintf(r->reason, sizeof(r->reason), "guest reset (%s)", why);
}

static void i8042_answer(struct reset_dev *r, uint8_t v)
{
	r->out = v;
	r->obf = true;
}

/* Returns true when the command resets the machine. */
static bool i8042_command(struct reset_dev *r, uint8_t cmd)
{
	r->status |= I8042_STR_CMDDAT;
	r->pending_cmd = 0;
	if ((cmd & I8042_CMD_PULSE_MASK) == I8042_CMD_PULSE_MASK)
		return !(cmd & I8042_OUTPORT_RESET);
	switch (cmd) {
	case I8042_CMD_READ_CTR:
		i8042_answer(r, r->ctr);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTPORT:
		r->pending_cmd = cmd;
		break;
	case I8042_CMD_SELF_TEST:
		i8042_answer(r, 0x55);
		break;
	case I8042_CMD_AUX_DISABLE:
		r->ctr |= I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_ENABLE:
		r->ctr &= ~I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_KBD_DISABLE:
		r->ctr |= I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_KBD_ENABLE:
		r->ctr &= ~I8042_CTR_KBDDIS;
		break;
	default:
		/* Anything else addresses devices we do not have: no answer, as with nothing plugged in. */
		pr_debug("i8042: ignoring command %#x", cmd);
		break;
	}
	return false;
}

/* A byte on 0x60: the data of a pending command, or a byte for the (absent) keyboard. */
static bool i8042_data(struct reset_dev *r, uint8_t v)
{
	uint8_t cmd = r->pending_cmd;

	r->status &= ~I8042_STR_CMDDAT;
	r->pending_cmd = 0;
	if (cmd == I8042_CMD_WRITE_CTR)
		r->ctr = v;
	else if (cmd == I8042_CMD_WRITE_OUTPORT)
		return !(v & I8042_OUTPORT_RESET);
	return false;
}

static void i8042_io(struct reset_dev *r, bool is_cmd_port, uint8_t *p, bool is_write)
{
	char why[sizeof(r->reason)];
	bool reset = false;

	pthread_mutex_lock(&r->lock);
	if (is_write) {
		reset = is_cmd_port ? i8042_command(r, *p) : i8042_data(r, *p);
		if (reset)
			reset_stop(r, is_cmd_port ? "i8042 reset pulse" : "i8042 output port");
	} else if (is_cmd_port) {
		*p = r->status | (r->obf ? I8042_STR_OBF : 0);
	} else {
		*p = r->out;
		r->obf = false;
	}
	/* A copy made under the lock: another vCPU may write the reason again once it is dropped. */
	if (reset)
		memcpy(why, r->reason, sizeof(why));
	pthread_mutex_unlock(&r->lock);
	if (reset)
		r->vm->stop(r->vm, VMM_EXIT_RESET, why);
}

/* Only the first byte of a wider access reaches the i8042: its registers are one byte wide. */
static void i8042_data_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	if (!is_write)
		memset(data, 0xff, len);
	i8042_io(opaque, false, data, is_write);
}

static void i8042_cmd_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	if (!is_write)
		memset(data, 0xff, len);
	i8042_io(opaque, true, data, is_write);
}

static void rst_cnt_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	struct reset_dev *r = opaque;
	char why[sizeof(r->reason)];
	uint8_t *p = data;
	bool reset = false;

	pthread_mutex_lock(&r->lock);
	if (!is_write) {
		memset(data, 0, len);
		*p = r->rst_cnt;
	} else {
		r->rst_cnt = *p & (RST_CNT_SYS_RST | RST_CNT_FULL_RST);
		if (*p & RST_CNT_RST_CPU) {
			reset = true;
			reset_stop(r, *p & (RST_CNT_SYS_RST | RST_CNT_FULL_RST) ? "port 0xcf9, hard" :
				   "port 0xcf9, soft reset done as hard");
		}
	}
	/* A copy made under the lock: another vCPU may write the reason again once it is dropped. */
	if (reset)
		memcpy(why, r->reason, sizeof(why));
	pthread_mutex_unlock(&r->lock);
	if (reset)
		r->vm->stop(r->vm, VMM_EXIT_RESET, why);
}

struct reset_dev *reset__init(struct vm *vm)
{
	struct reset_dev *r = calloc(1, sizeof(*r));
	int ret;

	if (!r) {
		pr_err("reset: out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->vm = vm;
	r->status = I8042_STR_SYSFLAG | I8042_STR_CMDDAT | I8042_STR_KEYLOCK;	/* 0x1C */
	r->ctr = I8042_CTR_XLATE | I8042_CTR_AUXDIS | I8042_CTR_KBDDIS;
	ret = bus__register(&vm->pio, PORT_I8042, 1, i8042_data_io, r, "i8042-data");
	if (!ret) {
		ret = bus__register(&vm->pio, PORT_I8042 + 4, 1, i8042_cmd_io, r, "i8042-cmd");
		if (!ret) {
			ret = bus__register(&vm->pio, PORT_RESET_CTRL, 1, rst_cnt_io, r, "reset-control");
			if (ret)
				bus__unregister(&vm->pio, PORT_I8042 + 4, r);
		}
		if (ret)
			bus__unregister(&vm->pio, PORT_I8042, r);
	}
	if (ret) {
		pr_err("reset: cannot register ports: %s", strerror(-ret));
		pthread_mutex_destroy(&r->lock);
		free(r);
		return NULL;
	}
	return r;
}

void reset__exit(struct reset_dev *r)
{
	if (!r)
		return;
	bus__unregister(&r->vm->pio, PORT_I8042, r);
	bus__unregister(&r->vm->pio, PORT_I8042 + 4, r);
	bus__unregister(&r->vm->pio, PORT_RESET_CTRL, r);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
