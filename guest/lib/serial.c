/*
 * 16550A UART driver: polled output, interrupt-driven input into a ring buffer. Register offsets and
 * bits from the National Semiconductor PC16550D data sheet (table II, "Register Summary").
 */
#include "guest.h"

#define UART_RBR	0	/* receive buffer (read, DLAB=0) */
#define UART_THR	0	/* transmit holding (write, DLAB=0) */
#define UART_DLL	0	/* divisor latch low (DLAB=1) */
#define UART_IER	1
#define UART_DLM	1
#define UART_IIR	2	/* read */
#define UART_FCR	2	/* write */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5

#define IER_RDI		0x01	/* received data available */
#define LCR_8N1		0x03
#define LCR_DLAB	0x80
#define FCR_ENABLE	0x07	/* enable FIFOs, clear RX and TX FIFO */
#define MCR_DTR_RTS_OUT2 0x0b	/* OUT2 gates the interrupt line on PC hardware */
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define IIR_FIFO	0xc0	/* both bits set: FIFOs enabled */

#define RX_RING		1024

static uint16_t port = 0x3f8;
static unsigned tx_burst = 1;	/* bytes we may write per THRE: 16 with the FIFO on */
static volatile uint32_t rx_head;	/* written by the handler */
static volatile uint32_t rx_tail;	/* written by the reader */
static volatile unsigned rx_overruns;
static unsigned rx_early;
static char rx_buf[RX_RING];

/* One received byte into the ring (single producer: init, then only the handler). */
static void rx_push(char c)
{
	uint32_t h = rx_head;

	if (h - rx_tail >= RX_RING) {
		rx_overruns++;
		return;
	}
	rx_buf[h % RX_RING] = c;
	barrier();
	rx_head = h + 1;
}

void serial__init(uint16_t p)
{
	port = p;
	outb(port + UART_IER, 0);
	/*
	 * Input may be waiting already (the VMM feeds stdin from the start). Switching the FIFOs on
	 * empties them in emulated UARTs (QEMU, minivmm), so keep those bytes first. Each read makes
	 * room for the next, so this takes whatever the VMM has buffered (the ring bounds it).
	 */
	for (int i = 0; i < RX_RING && (inb(port + UART_LSR) & LSR_DR); i++) {
		rx_push(inb(port + UART_RBR));
		rx_early++;
	}
	outb(port + UART_LCR, LCR_DLAB);
	outb(port + UART_DLL, 1);	/* 115200 baud */
	outb(port + UART_DLM, 0);
	outb(port + UART_LCR, LCR_8N1);
	outb(port + UART_FCR, FCR_ENABLE);
	outb(port + UART_MCR, MCR_DTR_RTS_OUT2);
	/* THRE with the FIFO on means the whole 16-byte TX FIFO is empty (PC16550D, LSR bit 5). */
	tx_burst = (inb(port + UART_IIR) & IIR_FIFO) == IIR_FIFO ? 16 : 1;
}

void serial__write(const char *s, size_t n)
{
	while (n) {
		size_t k;

		if (!(inb(port + UART_LSR) & LSR_THRE)) {
			cpu_relax();
			continue;
		}
		k = n < tx_burst ? n : tx_burst;
		outsb(port + UART_THR, s, k);
		s += k;
		n -= k;
	}
}

void serial__putc(char c)
{
	serial__write(&c, 1);
}

int serial__poll_getc(void)
{
	if (!(inb(port + UART_LSR) & LSR_DR))
		return -1;
	return inb(port + UART_RBR);
}

/*
 * CPL0: drain the receiver completely. The ISA line is edge-triggered at the IOAPIC: if we left a byte
 * behind, the request would stay asserted and no new edge (so no new interrupt) would ever come. The
 * bound only stops a UART that never runs dry.
 */
static void serial_rx_handler(struct intr_frame *f, void *arg)
{
	for (int i = 0; i < 4 * RX_RING && (inb(port + UART_LSR) & LSR_DR); i++)
		rx_push(inb(port + UART_RBR));
}

void serial__rx_irq_enable(void)
{
	intr__register(VEC_COM1, serial_rx_handler, NULL);
	ioapic__route(platform.com1_irq, VEC_COM1, lapic__id(), false, false);
	/* Writing IER with data already waiting raises the request at once (PC16550D, IIR priority 2). */
	outb(port + UART_IER, 0);
	outb(port + UART_IER, IER_RDI);
}

int serial__getc(unsigned ms)
{
	struct timeout t;
	uint32_t h;

	if (ms)
		timeout__start(&t, ms);
	for (unsigned spin = 0;; spin++) {
		h = rx_head;
		if (h != rx_tail) {
			char c = rx_buf[rx_tail % RX_RING];

			barrier();
			rx_tail = rx_tail + 1;
			return (unsigned char)c;
		}
		if (!ms) {
			sys__wait(&rx_head, h);	/* hlt until the next interrupt */
			continue;
		}
		/* With a deadline: no timer interrupt to wake a hlt, so poll (checking the clock now and then). */
		if (spin % 256 == 0 && timeout__expired(&t))
			return -1;
		cpu_relax();
	}
}

unsigned serial__rx_overruns(void)
{
	return rx_overruns;
}

unsigned serial__rx_early(void)
{
	return rx_early;
}
