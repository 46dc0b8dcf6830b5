/*
 * The DMA engine test device: see dma-engine.h for the register interface.
 *
 * The vCPU side only latches registers and hands a command to the device thread; the thread does
 * every memory access through dma__map() on the function's DMA address space (translated by the
 * vIOMMU when there is one), a page or a contiguous run at a time, so a fault stops the command at the
 * exact address that failed. dma__map() rather than dma__rw(): no bounce buffer, the same translation.
 */
#include "devices/dma-engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci-host.h"
#include "devices/pci.h"
#include "vmm/dma.h"
#include "vmm/log.h"
#include "vmm/util.h"

/* A command as latched by the doorbell. */
struct dmae_cmd {
	uint64_t src, dst, pattern;
	uint32_t len, pasid, op;
};

/* What a command did. */
struct dmae_out {
	enum dmae_err err;
	uint64_t bytes, fault_addr, mismatch;
	uint32_t fault_dir, result;
};

struct dma_engine {
	struct pci_device pci;

	pthread_mutex_t lock;		/* the registers and the hand-off to the thread */
	pthread_cond_t cond;		/* to the thread: a command or stop */
	pthread_cond_t idle;		/* from the thread: a command ended and was signalled */
	pthread_t thread;
	bool thread_started, stop, pending, signalling;
	struct dmae_cmd run;		/* the command the doorbell latched, while @pending */

	/* Registers (dma-engine.h) */
	uint64_t src, dst, pattern, mismatch, fault_addr, completed, bytes;
	uint32_t len, pasid, cmd, status, result, fault_dir;
	bool warned_access;
};

/* ---- the commands (device thread, no lock held) ---- */

static enum dmae_err dma_fault(struct dmae_out *o, uint64_t addr, uint32_t dir, uint64_t done)
{
	o->fault_addr = addr;
	o->fault_dir = dir;
	o->bytes = done;
	return DMAE_ERR_DMA;
}

static enum dmae_err dmae_copy(struct dma_as *as, const struct dma_attrs *a, const struct dmae_cmd *c,
			       struct dmae_out *o)
{
	uint64_t done = 0;

	while (done < c->len) {
		size_t ns, nd;
		void *s = dma__map(as, a, c->src + done, c->len - done, DMA_READ, &ns), *t;

		if (!s)
			return dma_fault(o, c->src + done, DMAE_DIR_READ, done);
		t = dma__map(as, a, c->dst + done, ns, DMA_WRITE, &nd);
		if (!t)
			return dma_fault(o, c->dst + done, DMAE_DIR_WRITE, done);
		memmove(t, s, nd);
		done += nd;
	}
	o->bytes = done;
	return DMAE_ERR_NONE;
}

/* Byte i of the destination gets byte (i % 8) of the pattern: rotate it to each run's offset. */
static void fill_run(uint8_t *t, size_t n, uint64_t pattern, uint64_t off)
{
	unsigned k = off & 7;
	uint64_t rot = k ? pattern >> (8 * k) | pattern << (64 - 8 * k) : pattern;
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		memcpy(t + i, &rot, 8);		/* little-endian host: byte j of rot lands at t + i + j */
	for (; i < n; i++)
		t[i] = rot >> (8 * (i & 7));
}

static enum dmae_err dmae_fill(struct dma_as *as, const struct dma_attrs *a, const struct dmae_cmd *c,
			       struct dmae_out *o)
{
	uint64_t done = 0;

	while (done < c->len) {
		size_t n;
		void *t = dma__map(as, a, c->dst + done, c->len - done, DMA_WRITE, &n);

		if (!t)
			return dma_fault(o, c->dst + done, DMAE_DIR_WRITE, done);
		fill_run(t, n, c->pattern, done);
		done += n;
	}
	o->bytes = done;
	return DMAE_ERR_NONE;
}

static enum dmae_err dmae_compare(struct dma_as *as, const struct dma_attrs *a, const struct dmae_cmd *c,
				  struct dmae_out *o)
{
	uint64_t done = 0;

	while (done < c->len) {
		size_t ns, nd;
		const uint8_t *s = dma__map(as, a, c->src + done, c->len - done, DMA_READ, &ns), *t;

		if (!s)
			return dma_fault(o, c->src + done, DMAE_DIR_READ, done);
		t = dma__map(as, a, c->dst + done, ns, DMA_READ, &nd);
		if (!t)
			return dma_fault(o, c->dst + done, DMAE_DIR_READ, done);
		if (memcmp(s, t, nd)) {
			size_t i = 0;

			/* Bounded: the guest may change the bytes under us; then they count as equal. */
			while (i < nd && s[i] == t[i])
				i++;
			if (i == nd) {
				done += nd;
				continue;
			}
			o->result = 1;
			o->mismatch = done + i;
			o->bytes = done + i;
			return DMAE_ERR_NONE;
		}
		done += nd;
	}
	o->bytes = done;
	return DMAE_ERR_NONE;
}

static bool wraps(uint64_t addr, uint64_t len)
{
	return addr + len - 1 < addr;
}

static enum dmae_err dmae_execute(struct dma_engine *d, const struct dmae_cmd *c, struct dmae_out *o)
{
	bool pv = c->pasid & DMAE_PASID_PV;
	struct dma_attrs a = {
		.pasid = c->pasid & DMAE_PASID_MASK, .has_pasid = pv, .priv = pv && (c->pasid & DMAE_PASID_PRIV),
	};
	bool reads_src = c->op == DMAE_CMD_COPY || c->op == DMAE_CMD_COMPARE;

	if (c->op != DMAE_CMD_COPY && c->op != DMAE_CMD_FILL && c->op != DMAE_CMD_COMPARE)
		return DMAE_ERR_CMD;
	if (!c->len || c->len > DMAE_MAX_LEN)
		return DMAE_ERR_LEN;
	if ((reads_src && wraps(c->src, c->len)) || wraps(c->dst, c->len))
		return DMAE_ERR_RANGE;
	/* PCI Local Bus 3.0 §6.2.2: with Bus Master clear the function issues no memory requests. */
	if (!pci__bus_master(&d->pci))
		return DMAE_ERR_MASTER;
	switch (c->op) {
	case DMAE_CMD_COPY:
		return dmae_copy(&d->pci.dma, &a, c, o);
	case DMAE_CMD_FILL:
		return dmae_fill(&d->pci.dma, &a, c, o);
	default:
		return dmae_compare(&d->pci.dma, &a, c, o);
	}
}

static void *dmae_thread(void *arg)
{
	struct dma_engine *d = arg;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		struct dmae_out o = { 0 };
		struct dmae_cmd c;

		while (!d->pending && !d->stop)
			pthread_cond_wait(&d->cond, &d->lock);
		if (!d->pending)
			break;
		c = d->run;
		d->pending = false;
		pthread_mutex_unlock(&d->lock);

		o.err = dmae_execute(d, &c, &o);

		pthread_mutex_lock(&d->lock);
		d->result = o.result;
		d->mismatch = o.mismatch;
		d->fault_addr = o.fault_addr;
		d->fault_dir = o.fault_dir;
		d->bytes = o.bytes;
		d->completed++;
		d->status &= DMAE_STATUS_OVERRUN;
		d->status |= o.err ? DMAE_STATUS_ERROR | (uint32_t)o.err << 8 : DMAE_STATUS_DONE;
		/*
		 * The message follows the status, as on a bus: its handler sees the command ended, and a
		 * guest polling STATUS may see DONE a moment before the message is sent. Not under our
		 * lock: pci__notify() takes the function's lock, which a vCPU moving a BAR holds while it
		 * waits for the MMIO bus that another vCPU holds while it waits for our lock.
		 */
		d->signalling = true;
		pthread_mutex_unlock(&d->lock);
		pci__notify(&d->pci, DMAE_MSIX_VECTOR);
		pthread_mutex_lock(&d->lock);
		d->signalling = false;
		pthread_cond_broadcast(&d->idle);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- registers (vCPU threads) ---- */

static void dmae_doorbell(struct dma_engine *d)
{
	if (d->status & DMAE_STATUS_BUSY) {
		d->status |= DMAE_STATUS_OVERRUN;
		return;
	}
	d->run = (struct dmae_cmd){
		.src = d->src, .dst = d->dst, .pattern = d->pattern,
		.len = d->len, .pasid = d->pasid, .op = d->cmd & DMAE_CMD_OP_MASK,
	};
	d->status = (d->status & DMAE_STATUS_OVERRUN) | DMAE_STATUS_BUSY;
	d->result = 0;
	d->mismatch = d->fault_addr = d->bytes = 0;
	d->fault_dir = 0;
	d->pending = true;
	pthread_cond_signal(&d->cond);
}

static uint32_t lo32(uint64_t v)
{
	return (uint32_t)v;
}

static uint32_t hi32(uint64_t v)
{
	return v >> 32;
}

/* Set the 32-bit half of *@r that @off (a multiple of 4) selects. */
static void set_half(uint64_t *r, unsigned off, uint32_t v)
{
	if (off & 4)
		*r = (*r & 0xFFFFFFFFULL) | (uint64_t)v << 32;
	else
		*r = (*r & ~0xFFFFFFFFULL) | v;
}

static uint32_t reg_read32(struct dma_engine *d, unsigned off)
{
	switch (off) {
	case DMAE_ID:			return DMAE_ID_VALUE;
	case DMAE_MAX_LEN_REG:		return DMAE_MAX_LEN;
	case DMAE_SRC:			return lo32(d->src);
	case DMAE_SRC + 4:		return hi32(d->src);
	case DMAE_DST:			return lo32(d->dst);
	case DMAE_DST + 4:		return hi32(d->dst);
	case DMAE_LEN:			return d->len;
	case DMAE_PASID:		return d->pasid;
	case DMAE_PATTERN:		return lo32(d->pattern);
	case DMAE_PATTERN + 4:		return hi32(d->pattern);
	case DMAE_CMD:			return d->cmd;
	case DMAE_STATUS:		return d->status;
	case DMAE_RESULT:		return d->result;
	case DMAE_MISMATCH:		return lo32(d->mismatch);
	case DMAE_MISMATCH + 4:		return hi32(d->mismatch);
	case DMAE_FAULT_ADDR:		return lo32(d->fault_addr);
	case DMAE_FAULT_ADDR + 4:	return hi32(d->fault_addr);
	case DMAE_FAULT_DIR:		return d->fault_dir;
	case DMAE_COMPLETED:		return lo32(d->completed);
	case DMAE_COMPLETED + 4:	return hi32(d->completed);
	case DMAE_BYTES:		return lo32(d->bytes);
	case DMAE_BYTES + 4:		return hi32(d->bytes);
	default:			return 0;	/* DOORBELL and reserved offsets */
	}
}

static void reg_write32(struct dma_engine *d, unsigned off, uint32_t v)
{
	switch (off) {
	case DMAE_SRC:
	case DMAE_SRC + 4:
		set_half(&d->src, off, v);
		break;
	case DMAE_DST:
	case DMAE_DST + 4:
		set_half(&d->dst, off, v);
		break;
	case DMAE_PATTERN:
	case DMAE_PATTERN + 4:
		set_half(&d->pattern, off, v);
		break;
	case DMAE_LEN:
		d->len = v;
		break;
	case DMAE_PASID:
		d->pasid = v & (DMAE_PASID_MASK | DMAE_PASID_PRIV | DMAE_PASID_PV);
		break;
	case DMAE_CMD:
		d->cmd = v & DMAE_CMD_OP_MASK;
		break;
	case DMAE_DOORBELL:
		dmae_doorbell(d);
		break;
	case DMAE_STATUS:
		v &= DMAE_STATUS_DONE | DMAE_STATUS_ERROR | DMAE_STATUS_OVERRUN;
		if (v & DMAE_STATUS_ERROR)
			v |= 0xFF << 8;		/* ERRCODE goes with ERROR */
		d->status &= ~v;
		break;
	default:
		break;		/* read-only and reserved */
	}
}

/*
 * BAR0. An 8-byte access is its two 32-bit halves in address order, under one lock hold: writing
 * CMD and DOORBELL as one qword latches the new opcode and starts it.
 */
static void dmae_bar_io(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
	struct dma_engine *d = opaque;
	uint32_t v[2] = { 0, 0 };

	if ((len != 4 && len != 8) || (off & (len - 1)) || off >= DMAE_REG_SIZE) {
		pthread_mutex_lock(&d->lock);
		if (!d->warned_access)
			pr_warn("dma-engine: ignoring a %u-byte %s at register offset %#llx (4 or 8 bytes, aligned)",
				len, is_write ? "write" : "read", (unsigned long long)off);
		d->warned_access = true;
		pthread_mutex_unlock(&d->lock);
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (is_write) {
		memcpy(v, data, len);
		for (unsigned i = 0; i < len / 4; i++)
			reg_write32(d, off + 4 * i, v[i]);
	} else {
		for (unsigned i = 0; i < len / 4; i++)
			v[i] = reg_read32(d, off + 4 * i);
		memcpy(data, v, len);
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- life cycle ---- */

struct dma_engine *dma_engine__create(struct pci_host *host)
{
	struct dma_engine *d = calloc(1, sizeof(*d));
	int ret;

	if (!d) {
		pr_err("dma-engine: out of memory");
		return NULL;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	pthread_cond_init(&d->idle, NULL);
	pci__init_dev(&d->pci, "dma-engine", DMAE_VENDOR_ID, DMAE_DEVICE_ID, DMAE_CLASS_CODE, 1);
	pci__set_subsystem(&d->pci, PCI_HOST_SUBSYS_VENDOR, PCI_HOST_SUBSYS_ID);
	d->pci.priv = d;
	ret = pci__add_bar(&d->pci, DMAE_REG_BAR, PCI_BAR_MEM32, DMAE_REG_SIZE, false, dmae_bar_io, d);
	if (!ret)
		ret = pci__msix_init(&d->pci, 1, DMAE_MSIX_BAR);
	if (!ret) {
		ret = -pthread_create(&d->thread, NULL, dmae_thread, d);
		d->thread_started = !ret;
	}
	if (!ret)
		ret = pci_host__add(host, &d->pci, -1);
	if (ret) {
		pr_err("dma-engine: cannot create the device: %s", strerror(-ret));
		dma_engine__destroy(d);
		return NULL;
	}
	return d;
}

void dma_engine__wait_idle(struct dma_engine *d)
{
	pthread_mutex_lock(&d->lock);
	while (d->pending || (d->status & DMAE_STATUS_BUSY) || d->signalling)
		pthread_cond_wait(&d->idle, &d->lock);
	pthread_mutex_unlock(&d->lock);
}

void dma_engine__destroy(struct dma_engine *d)
{
	if (!d)
		return;
	if (d->thread_started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
	}
	pci__exit_dev(&d->pci);
	pthread_cond_destroy(&d->idle);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
