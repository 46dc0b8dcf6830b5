/*
 * 16550A UART (COM1). Register behaviour follows the PC16550D datasheet (National/TI, "PC16550D
 * Universal Asynchronous Receiver/Transmitter with FIFOs", sections 8.4-8.8); where it is silent we do
 * what Linux's 8250 driver and Windows expect (noted below).
 *
 * Timing model: the transmitter is infinitely fast. A byte written to THR is handed to the host fd at
 * once, so THRE and TEMT always read 1 and the THRE interrupt condition comes back right after each
 * write. The receiver gets bytes in bursts from the I/O thread; a burst ends when serial__input()
 * returns, after which the line is idle, so "character timeout" (FIFO holds fewer bytes than the trigger
 * level and nothing arrives for 4 character times) is simply "0 < count < trigger" in FIFO mode.
 *
 * Interrupt line: ISA IRQ 4 is edge-triggered on a PC (no MADT override for it), but we drive it as a
 * level that follows "some enabled interrupt condition is pending" and only call irq__set_line() on a
 * change. KVM's IOAPIC and PIC see a rising edge each time the condition re-asserts; a condition that
 * stays asserted does not re-trigger, exactly as with the real chip's INTR pin, and the 8250 driver
 * copes by looping on IIR until it reads "no interrupt". Driving the level (rather than pulsing) also
 * keeps working if the OS programs the pin level-triggered.
 */
#include "devices/serial.h"

#include <errno.h>
#include <linux/serial_reg.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/irq.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define SERIAL_FIFO_SIZE	16
#define SERIAL_TX_STALL_MS	1000	/* how long a stuck output fd may hold a vCPU before we drop */

struct serial {
	pthread_mutex_t lock;
	struct vm *vm;
	unsigned port, irq;

	/* Output side. */
	int out_fd;
	bool out_is_file;	/* regular file: writes never block, skip poll() */
	bool tx_stalled;	/* the fd timed out: drop without waiting until it drains */
	bool tx_error_logged;
	uint64_t tx_dropped;

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;		/* FIFO enable + RX trigger bits as last written (FCR is write-only) */
	uint8_t lsr_err;	/* OE (and PE/FE/BI, never generated): cleared by reading LSR */
	uint8_t msr_delta;	/* DCTS/DDSR/TERI/DDCD: cleared by reading MSR */
	bool thr_ipending;	/* THRE interrupt condition, cleared by IIR read or THR write */
	bool irq_level;		/* what we last drove on the IRQ line */

	uint8_t rx[SERIAL_FIFO_SIZE];
	unsigned rx_head, rx_count;

	void (*rx_ready)(void *opaque);
	void *rx_ready_opaque;
};

static bool serial_fifo_on(const struct serial *s)
{
	return s->fcr & UART_FCR_ENABLE_FIFO;
}

/* Without FIFOs the receiver has a single holding register. */
static unsigned serial_rx_cap(const struct serial *s)
{
	return serial_fifo_on(s) ? SERIAL_FIFO_SIZE : 1;
}

static unsigned serial_rx_trigger(const struct serial *s)
{
	static const unsigned level[4] = { 1, 4, 8, 14 };

	return serial_fifo_on(s) ? level[(s->fcr & UART_FCR_TRIGGER_MASK) >> 6] : 1;
}

/*
 * The modem-status inputs. In loop-back mode they are wired to the MCR outputs (datasheet 8.6: CTS=RTS,
 * DSR=DTR, RI=OUT1, DCD=OUT2); otherwise we model a terminal that is always there (DCD, DSR, CTS up).
 */
static uint8_t serial_msr_inputs(uint8_t mcr)
{
	uint8_t v = 0;

	if (!(mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	if (mcr & UART_MCR_RTS)
		v |= UART_MSR_CTS;
	if (mcr & UART_MCR_DTR)
		v |= UART_MSR_DSR;
	if (mcr & UART_MCR_OUT1)
		v |= UART_MSR_RI;
	if (mcr & UART_MCR_OUT2)
		v |= UART_MSR_DCD;
	return v;
}

/* IIR in priority order (datasheet table IV): line status, RX data / timeout, THRE, modem status. */
static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = serial_fifo_on(s) ? UART_IIR_FIFO_ENABLED : 0;
	unsigned trig = serial_rx_trigger(s);

	if ((s->ier & UART_IER_RLSI) && (s->lsr_err & UART_LSR_BRK_ERROR_BITS))
		return fifo | UART_IIR_RLSI;
	if ((s->ier & UART_IER_RDI) && s->rx_count) {
		if (s->rx_count >= trig)
			return fifo | UART_IIR_RDI;
		return fifo | UART_IIR_RX_TIMEOUT;	/* FIFO mode only: trig is 1 otherwise */
	}
	if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		return fifo | UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && s->msr_delta)
		return fifo | UART_IIR_MSI;
	return fifo | UART_IIR_NO_INT;
}

/*
 * On a PC the UART's INTR pin reaches the interrupt controller through a buffer enabled by the OUT2
 * output. In loop-back mode the chip forces its modem-control output pins inactive (datasheet 8.6), so
 * OUT2 is off at the pin and the interrupt does not get out either, although IIR still reports it.
 */
static void serial_update_irq(struct serial *s)
{
	bool level = !(serial_iir(s) & UART_IIR_NO_INT) && (s->mcr & UART_MCR_OUT2) &&
		     !(s->mcr & UART_MCR_LOOP);

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (irq__set_line(s->vm, s->irq, level) < 0)
		pr_debug("serial: cannot drive IRQ %u", s->irq);
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = s->rx_count = 0;
}

/* One character arrives at the receiver; a full FIFO (or holding register) loses it and flags overrun. */
static bool serial_rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count >= serial_rx_cap(s)) {
		s->lsr_err |= UART_LSR_OE;
		return false;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = c;
	s->rx_count++;
	return true;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t c;

	if (!s->rx_count)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
	s->rx_count--;
	return c;
}

static void serial_tx_drop(struct serial *s, const char *why, int err)
{
	s->tx_dropped++;
	if (!s->tx_error_logged) {
		s->tx_error_logged = true;
		pr_warn("serial: dropping guest output (%s%s%s)", why, err ? ": " : "", err ? strerror(err) : "");
	}
}

/*
 * Hand one byte to the output fd. A vCPU must never hang here: when the fd is a pipe or terminal whose
 * reader stopped, we wait up to SERIAL_TX_STALL_MS once, then drop bytes without waiting until the fd
 * accepts data again.
 */
static void serial_tx(struct serial *s, uint8_t c)
{
	int tries = 0;

	if (s->out_fd < 0)
		return;
	while (tries++ < 4) {
		ssize_t w;

		if (!s->out_is_file) {
			struct pollfd p = { .fd = s->out_fd, .events = POLLOUT };
			int r = poll(&p, 1, s->tx_stalled ? 0 : SERIAL_TX_STALL_MS);

			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) {
				s->tx_stalled = true;
				serial_tx_drop(s, "output not accepting data", 0);
				return;
			}
		}
		w = write(s->out_fd, &c, 1);
		if (w == 1) {
			s->tx_stalled = false;
			return;
		}
		if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		serial_tx_drop(s, "write failed", w < 0 ? errno : EIO);
		return;
	}
	serial_tx_drop(s, "output not accepting data", 0);
}

/*
 * serial_read() and serial_write() return true when the access made room for line input (FIFO
 * emptied or cleared, loop-back left): the I/O thread may have input waiting for that.
 */
static bool serial_read(struct serial *s, unsigned reg, uint8_t *val)
{
	bool room = false;

	switch (reg) {
	case UART_RX:
		if (s->lcr & UART_LCR_DLAB) {
			*val = s->dll;
		} else {
			bool had = s->rx_count;

			*val = serial_rx_pop(s);
			room = had && !s->rx_count;
		}
		break;
	case UART_IER:
		*val = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
		break;
	case UART_IIR:
		*val = serial_iir(s);
		/* Reading IIR while it reports THRE clears that condition (datasheet table IV). */
		if ((*val & UART_IIR_ID) == UART_IIR_THRI)
			s->thr_ipending = false;
		break;
	case UART_LCR:
		*val = s->lcr;
		break;
	case UART_MCR:
		*val = s->mcr;
		break;
	case UART_LSR:
		*val = s->lsr_err | UART_LSR_THRE | UART_LSR_TEMT | (s->rx_count ? UART_LSR_DR : 0);
		s->lsr_err = 0;
		break;
	case UART_MSR:
		*val = serial_msr_inputs(s->mcr) | s->msr_delta;
		s->msr_delta = 0;
		break;
	case UART_SCR:
		*val = s->scr;
		break;
	}
	return room;
}

static bool serial_write(struct serial *s, unsigned reg, uint8_t val)
{
	bool room = false;

	switch (reg) {
	case UART_TX:
		if (s->lcr & UART_LCR_DLAB) {
			s->dll = val;
			break;
		}
		/* In loop-back mode the transmitter feeds the receiver and nothing leaves the chip. */
		if (s->mcr & UART_MCR_LOOP)
			serial_rx_push(s, val);
		else
			serial_tx(s, val);
		s->thr_ipending = true;	/* THR emptied again at once */
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = val;
			break;
		}
		/*
		 * Setting ETBEI while THR is empty raises the THRE interrupt even if an IIR read had cleared
		 * it. The datasheet does not say so, but Windows and Linux's THRE-bug probe (8250 startup)
		 * depend on it; like QEMU and Bochs we re-arm on the 0->1 edge of ETBEI.
		 */
		if ((s->ier ^ val) & UART_IER_THRI)
			s->thr_ipending = val & UART_IER_THRI;
		s->ier = val & 0x0f;	/* bits 7:4 are always 0 on a 16550A */
		break;
	case UART_FCR: {
		uint8_t fcr = (val & UART_FCR_ENABLE_FIFO) ? val & (UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_MASK) : 0;

		/* Changing the FIFO enable empties both FIFOs; the clear bits are self-clearing. */
		if (((s->fcr ^ fcr) & UART_FCR_ENABLE_FIFO) ||
		    ((fcr & UART_FCR_ENABLE_FIFO) && (val & UART_FCR_CLEAR_RCVR))) {
			room = true;
			serial_rx_clear(s);
		}
		s->fcr = fcr;
		break;
	}
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR: {
		uint8_t old_in = serial_msr_inputs(s->mcr), new_in, diff;

		/* Leaving loop-back mode reconnects the line input. */
		room = (s->mcr & UART_MCR_LOOP) && !(val & UART_MCR_LOOP);
		s->mcr = val & 0x1f;	/* bits 7:5 are always 0 on a 16550A */
		new_in = serial_msr_inputs(s->mcr);
		diff = old_in ^ new_in;
		if (diff & UART_MSR_CTS)
			s->msr_delta |= UART_MSR_DCTS;
		if (diff & UART_MSR_DSR)
			s->msr_delta |= UART_MSR_DDSR;
		if (diff & UART_MSR_DCD)
			s->msr_delta |= UART_MSR_DDCD;
		if ((old_in & UART_MSR_RI) && !(new_in & UART_MSR_RI))
			s->msr_delta |= UART_MSR_TERI;	/* trailing edge only */
		break;
	}
	case UART_LSR:
	case UART_MSR:
		break;	/* factory-test writes: ignored */
	case UART_SCR:
		s->scr = val;
		break;
	}
	return room;
}

/* ISA decoding: a wider access is a sequence of byte accesses to consecutive ports. */
static void serial_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	struct serial *s = opaque;
	uint8_t *p = data;
	bool room = false;
	void (*notify)(void *) = NULL;
	void *notify_opaque = NULL;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < len; i++) {
		uint64_t reg = offset + i;

		if (reg > UART_SCR) {
			if (!is_write)
				p[i] = 0xff;
			continue;
		}
		if (is_write)
			room |= serial_write(s, reg, p[i]);
		else
			room |= serial_read(s, reg, &p[i]);
	}
	serial_update_irq(s);
	if (room) {
		notify = s->rx_ready;
		notify_opaque = s->rx_ready_opaque;
	}
	pthread_mutex_unlock(&s->lock);
	if (notify)
		notify(notify_opaque);
}

size_t serial__input(struct serial *s, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	size_t taken = 0;

	pthread_mutex_lock(&s->lock);
	if (!(s->mcr & UART_MCR_LOOP)) {
		while (taken < n && s->rx_count < serial_rx_cap(s))
			serial_rx_push(s, p[taken++]);
		serial_update_irq(s);
	}
	pthread_mutex_unlock(&s->lock);
	return taken;
}

size_t serial__rx_room(struct serial *s)
{
	size_t room = 0;

	pthread_mutex_lock(&s->lock);
	if (!(s->mcr & UART_MCR_LOOP))
		room = serial_rx_cap(s) - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return room;
}

void serial__set_rx_ready(struct serial *s, void (*fn)(void *opaque), void *opaque)
{
	pthread_mutex_lock(&s->lock);
	s->rx_ready = fn;
	s->rx_ready_opaque = opaque;
	pthread_mutex_unlock(&s->lock);
}

uint64_t serial__tx_dropped(struct serial *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->tx_dropped;
	pthread_mutex_unlock(&s->lock);
	return n;
}

struct serial *serial__init(struct vm *vm, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));
	struct stat st;
	int ret;

	if (!s) {
		pr_err("serial: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->vm = vm;
	s->port = PORT_COM1;
	s->irq = IRQ_COM1;
	s->out_fd = out_fd;
	s->out_is_file = out_fd >= 0 && !fstat(out_fd, &st) && S_ISREG(st.st_mode);
	/* Reset values (datasheet table III); divisor latch 12 = 9600 baud, as PC firmware leaves it. */
	s->dll = 12;
	ret = bus__register(&vm->pio, s->port, 8, serial_io, s, "serial");
	if (ret < 0) {
		pr_err("serial: cannot register ports %#x-%#x: %s", s->port, s->port + 7, strerror(-ret));
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	return s;
}

void serial__exit(struct serial *s)
{
	if (!s)
		return;
	bus__unregister(&s->vm->pio, s->port, s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
