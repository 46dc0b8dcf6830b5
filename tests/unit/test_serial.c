/*
 * Tier 1: the 16550A UART (devices/serial.c) through the PIO bus, with IRQ 4 observed on the fake
 * KVM host: DLAB, IER/IIR priorities, THRE interrupts, RX FIFO and trigger levels, overrun, loop-back,
 * OUT2 gating, LSR/MSR bits, input flow control and a stuck output fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/serial_reg.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "fake_kvm.h"
#include "devices/serial.h"
#include "vmm/layout.h"
#include "vmm/util.h"
#include "vmm/vm.h"

static struct vm *vm;
static struct serial *uart;
static int out[2];	/* the UART writes to out[1]; tests read out[0] */

static void outb(unsigned reg, uint8_t v)
{
	ck_assert(bus__access(&vm->pio, PORT_COM1 + reg, &v, 1, true));
}

static uint8_t inb(unsigned reg)
{
	uint8_t v = 0;

	ck_assert(bus__access(&vm->pio, PORT_COM1 + reg, &v, 1, false));
	return v;
}

/* Everything the UART has written so far (non-blocking read of the pipe). */
static size_t drain_out(char *buf, size_t max)
{
	ssize_t n = read(out[0], buf, max);

	return n < 0 ? 0 : n;
}

static void setup(void)
{
	vm = fake_vm__new(0);
	ck_assert_int_eq(pipe2(out, O_NONBLOCK | O_CLOEXEC), 0);
	uart = serial__init(vm, out[1]);
	ck_assert_ptr_nonnull(uart);
}

static void teardown(void)
{
	serial__exit(uart);
	close(out[0]);
	close(out[1]);
	fake_vm__free(vm);
}

START_TEST(reset_values)
{
	ck_assert_uint_eq(inb(UART_IER), 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);
	ck_assert_uint_eq(inb(UART_LCR), 0);
	ck_assert_uint_eq(inb(UART_MCR), 0);
	ck_assert_uint_eq(inb(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), -1);	/* never driven */
	/* Ports beyond the 8 registers are not ours. */
	uint8_t v;
	ck_assert(!bus__access(&vm->pio, PORT_COM1 + 8, &v, 1, false));
}
END_TEST

START_TEST(dlab_selects_divisor_latch)
{
	char buf[8];

	outb(UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	outb(UART_DLL, 0x01);
	outb(UART_DLM, 0x02);
	ck_assert_uint_eq(inb(UART_DLL), 0x01);
	ck_assert_uint_eq(inb(UART_DLM), 0x02);
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 0);	/* DLL write is not a THR write */
	ck_assert_uint_eq(inb(UART_IER), 0x02);			/* DLM, not IER */
	outb(UART_LCR, UART_LCR_WLEN8);
	ck_assert_uint_eq(inb(UART_IER), 0);
	outb(UART_IER, 0xff);
	ck_assert_uint_eq(inb(UART_IER), 0x0f);	/* 16550A: IER bits 7:4 read 0 */
	outb(UART_TX, 'A');
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'A');
	outb(UART_LCR, UART_LCR_DLAB);
	ck_assert_uint_eq(inb(UART_DLL), 0x01);
	ck_assert_uint_eq(inb(UART_DLM), 0x02);
	/* IIR is not behind DLAB (Linux's EFR probe relies on that). */
	ck_assert_uint_ne(inb(UART_IIR), 0);
}
END_TEST

START_TEST(thre_interrupt_on_enable_and_after_tx)
{
	char buf[4];

	outb(UART_MCR, UART_MCR_OUT2);
	outb(UART_IER, UART_IER_THRI);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 1);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);
	/* The IIR read cleared the THRE condition, and the line follows. */
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 0);
	/* Transmitting empties THR again at once: the interrupt comes back. */
	outb(UART_TX, 'x');
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 1);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 1);
	/* Rewriting IER with ETBEI still set is no edge: nothing re-arms. */
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);
	/* Linux's THRE test: toggle ETBEI off and on, THRE is reported again. */
	outb(UART_IER, 0);
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);
	/* Disabling ETBEI drops a pending THRE interrupt. */
	outb(UART_TX, 'y');
	outb(UART_IER, 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 0);
}
END_TEST

START_TEST(irq_line_only_driven_on_change)
{
	outb(UART_MCR, UART_MCR_OUT2);
	outb(UART_IER, UART_IER_THRI);
	for (int i = 0; i < 10; i++)
		outb(UART_TX, '0' + i);
	ck_assert_uint_eq(fake_kvm__line_calls(IRQ_COM1), 1);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 1);
}
END_TEST

START_TEST(rx_fifo_trigger_and_timeout)
{
	char buf[16];

	outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_8);
	outb(UART_MCR, UART_MCR_OUT2);
	outb(UART_IER, UART_IER_RDI);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_NO_INT);
	ck_assert_uint_eq(serial__input(uart, "abc", 3), 3);
	/* Below the trigger level, after the burst: character timeout. */
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_RX_TIMEOUT);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 1);
	ck_assert_uint_eq(serial__input(uart, "defgh", 5), 5);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_RDI);
	for (int i = 0; i < 8; i++)
		buf[i] = inb(UART_RX);
	ck_assert_mem_eq(buf, "abcdefgh", 8);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_NO_INT);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 0);
	/* Trigger 14 and 4 */
	outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_14);
	ck_assert_uint_eq(serial__input(uart, "0123456789abcd", 14), 14);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_RDI);
	outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_4 | UART_FCR_CLEAR_RCVR);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(serial__input(uart, "wxyz", 4), 4);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_RDI);
}
END_TEST

START_TEST(rx_without_fifo_holds_one_byte)
{
	outb(UART_IER, UART_IER_RDI);
	ck_assert_uint_eq(serial__input(uart, "ab", 2), 1);
	ck_assert_uint_eq(serial__rx_room(uart), 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_RDI);	/* no FIFO bits */
	ck_assert_uint_eq(inb(UART_RX), 'a');
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);
	ck_assert_uint_eq(inb(UART_RX), 0);	/* empty receiver */
	/* Turning the FIFO on (or off) empties the receiver. */
	ck_assert_uint_eq(serial__input(uart, "c", 1), 1);
	outb(UART_FCR, UART_FCR_ENABLE_FIFO);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(serial__rx_room(uart), 16);
}
END_TEST

static unsigned ready_calls;
static void on_ready(void *opaque)
{
	ck_assert_ptr_eq(opaque, &ready_calls);
	ready_calls++;
}

START_TEST(input_flow_control)
{
	char in[20];

	memset(in, 'q', sizeof(in));
	serial__set_rx_ready(uart, on_ready, &ready_calls);
	outb(UART_FCR, UART_FCR_ENABLE_FIFO);	/* emptied the receiver: room */
	ck_assert_uint_eq(ready_calls, 1);
	ready_calls = 0;
	ck_assert_uint_eq(serial__rx_room(uart), 16);
	ck_assert_uint_eq(serial__input(uart, in, sizeof(in)), 16);	/* the rest waits */
	ck_assert_uint_eq(serial__rx_room(uart), 0);
	ck_assert_uint_eq(serial__input(uart, in, 4), 0);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_OE, 0);	/* host input never overruns */
	for (int i = 0; i < 15; i++)
		inb(UART_RX);
	ck_assert_uint_eq(ready_calls, 0);
	inb(UART_RX);	/* FIFO empty now */
	ck_assert_uint_eq(ready_calls, 1);
	ck_assert_uint_eq(serial__rx_room(uart), 16);
	/* Clearing the FIFO also makes room. */
	serial__input(uart, in, 3);
	outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
	ck_assert_uint_eq(ready_calls, 2);
}
END_TEST

START_TEST(loopback_overrun_and_line_status)
{
	char buf[4];

	outb(UART_FCR, UART_FCR_ENABLE_FIFO);
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	outb(UART_IER, UART_IER_RDI | UART_IER_RLSI);
	for (int i = 0; i < 17; i++)
		outb(UART_TX, 'A' + i);
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 0);	/* nothing leaves the chip */
	/* Line status outranks received data. */
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_RLSI);
	ck_assert_uint_eq(inb(UART_LSR), UART_LSR_OE | UART_LSR_DR | UART_LSR_THRE | UART_LSR_TEMT);
	/* Reading LSR cleared OE and the line-status interrupt. */
	ck_assert_uint_eq(inb(UART_LSR), UART_LSR_DR | UART_LSR_THRE | UART_LSR_TEMT);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_RDI);
	/* The 17th byte was lost, the first 16 are intact. */
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(inb(UART_RX), 'A' + i);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
	/* Line input is disconnected in loop-back mode. */
	ck_assert_uint_eq(serial__rx_room(uart), 0);
	ck_assert_uint_eq(serial__input(uart, "z", 1), 0);
}
END_TEST

START_TEST(loopback_modem_lines)
{
	/* Linux's 8250 autoconfig: LOOP | RTS | OUT2 must read CTS | DCD. */
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
	ck_assert_uint_eq(inb(UART_MSR) & 0xf0, UART_MSR_CTS | UART_MSR_DCD);
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_DSR | UART_MSR_RI | UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_DSR | UART_MSR_RI);	/* deltas clear on read */
	/* RI's trailing edge sets TERI; its leading edge does not. */
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_DSR | UART_MSR_TERI);
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	ck_assert_uint_eq(inb(UART_MSR), UART_MSR_DSR | UART_MSR_RI);
	/* MCR bits 7:5 read 0. */
	outb(UART_MCR, 0xff);
	ck_assert_uint_eq(inb(UART_MCR), 0x1f);
}
END_TEST

START_TEST(out2_gates_the_irq)
{
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);
	outb(UART_IER, 0);
	outb(UART_IER, UART_IER_THRI);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), -1);	/* pending, but OUT2 is off */
	outb(UART_MCR, UART_MCR_OUT2);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 1);
	outb(UART_MCR, 0);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 0);
	/* Loop-back forces the OUT2 pin inactive: no interrupt reaches the PIC/IOAPIC. */
	outb(UART_MCR, UART_MCR_OUT2 | UART_MCR_LOOP);
	ck_assert_int_eq(fake_kvm__level(IRQ_COM1), 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);	/* though IIR reports it */
}
END_TEST

START_TEST(iir_priority_order)
{
	outb(UART_FCR, UART_FCR_ENABLE_FIFO);
	/* Entering loop-back changes DSR and DCD: modem status deltas pending. */
	outb(UART_MCR, UART_MCR_LOOP);
	outb(UART_IER, 0x0f);
	for (int i = 0; i < 17; i++)
		outb(UART_TX, i);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_RLSI);
	inb(UART_LSR);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_RDI);
	for (int i = 0; i < 16; i++)
		inb(UART_RX);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_THRI);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_MSI);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_MSI);	/* an IIR read does not clear MSI */
	inb(UART_MSR);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_NO_INT);
	/* Outside loop-back the modem inputs are steady: no new modem status interrupt appears. */
	outb(UART_MCR, UART_MCR_OUT2);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_MSI);	/* leaving loop-back changed them */
	inb(UART_MSR);
	outb(UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR);
	ck_assert_uint_eq(inb(UART_IIR), 0xc0 | UART_IIR_NO_INT);
}
END_TEST

START_TEST(lsr_msr_scr_and_wide_access)
{
	uint16_t w = UART_LCR_WLEN8 | (UART_MCR_OUT2 | UART_MCR_RTS) << 8;

	outb(UART_SCR, 0x5a);
	ck_assert_uint_eq(inb(UART_SCR), 0x5a);
	outb(UART_LSR, 0);	/* factory test: ignored */
	ck_assert_uint_eq(inb(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	outb(UART_MSR, 0);
	ck_assert_uint_eq(inb(UART_MSR), 0xb0);
	/* A word write at LCR is LCR then MCR. */
	ck_assert(bus__access(&vm->pio, PORT_COM1 + UART_LCR, &w, 2, true));
	ck_assert_uint_eq(inb(UART_LCR), UART_LCR_WLEN8);
	ck_assert_uint_eq(inb(UART_MCR), UART_MCR_OUT2 | UART_MCR_RTS);
	/* A dword read at SCR: SCR, then three ports that are not ours. */
	uint32_t d = 0;
	ck_assert(bus__access(&vm->pio, PORT_COM1 + UART_SCR, &d, 4, false));
	ck_assert_uint_eq(d, 0xffffff5a);
}
END_TEST

START_TEST(discarded_output)
{
	struct serial *s2;

	serial__exit(uart);
	s2 = serial__init(vm, -1);
	ck_assert_ptr_nonnull(s2);
	uart = s2;
	outb(UART_TX, 'x');
	ck_assert_uint_eq(serial__tx_dropped(uart), 0);
	ck_assert_uint_eq(inb(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}
END_TEST

START_TEST(second_uart_on_same_ports_fails)
{
	ck_assert_ptr_null(serial__init(vm, -1));
}
END_TEST

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(stuck_output_drops_instead_of_hanging)
{
	char fill[4096], buf[8];
	double t;

	memset(fill, 'f', sizeof(fill));
	ck_assert_int_ge(fcntl(out[1], F_SETPIPE_SZ, 4096), 4096);
	while (write(out[1], fill, sizeof(fill)) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	t = now_s();
	outb(UART_TX, 'a');	/* waits for the reader once, then gives up */
	ck_assert_uint_eq(serial__tx_dropped(uart), 1);
	ck_assert(now_s() - t >= 0.5);
	t = now_s();
	outb(UART_TX, 'b');	/* still stuck: dropped without waiting */
	ck_assert(now_s() - t < 0.2);
	ck_assert_uint_eq(serial__tx_dropped(uart), 2);
	while (read(out[0], fill, sizeof(fill)) > 0)
		;
	outb(UART_TX, 'c');	/* the reader is back */
	ck_assert_uint_eq(drain_out(buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'c');
	ck_assert_uint_eq(serial__tx_dropped(uart), 2);
}
END_TEST

START_TEST(closed_output_counts_drops)
{
	signal(SIGPIPE, SIG_IGN);	/* the VMM ignores SIGPIPE too */
	close(out[0]);
	out[0] = open("/dev/null", O_RDONLY);
	outb(UART_TX, 'a');
	outb(UART_TX, 'b');
	ck_assert_uint_eq(serial__tx_dropped(uart), 2);
	ck_assert_uint_eq(inb(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}
END_TEST

START_TEST(failing_irq_line_is_survivable)
{
	fake_kvm__fail(KVM_IRQ_LINE, EIO);
	outb(UART_MCR, UART_MCR_OUT2);
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);
}
END_TEST

/* The I/O thread feeds input while a vCPU thread reads it: nothing lost, reordered or duplicated. */
#define STRESS_BYTES 20000

static void *stress_feeder(void *arg)
{
	uint8_t chunk[64];
	size_t sent = 0;

	while (sent < STRESS_BYTES) {
		size_t n = MIN(sizeof(chunk), STRESS_BYTES - sent), taken;

		for (size_t i = 0; i < n; i++)
			chunk[i] = (sent + i) % 251;
		taken = serial__input(uart, chunk, n);
		sent += taken;
		if (!taken)
			sched_yield();
	}
	return NULL;
}

START_TEST(concurrent_input_and_reads)
{
	pthread_t th;
	size_t got = 0;

	outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_8);
	ck_assert_int_eq(pthread_create(&th, NULL, stress_feeder, NULL), 0);
	while (got < STRESS_BYTES) {
		if (!(inb(UART_LSR) & UART_LSR_DR)) {
			sched_yield();
			continue;
		}
		ck_assert_uint_eq(inb(UART_RX), got % 251);
		got++;
	}
	pthread_join(th, NULL);
	ck_assert_uint_eq(inb(UART_LSR) & (UART_LSR_DR | UART_LSR_OE), 0);
}
END_TEST

static Suite *serial_suite(void)
{
	Suite *s = suite_create("serial");
	TCase *tc = tcase_create("16550a");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, reset_values);
	tcase_add_test(tc, dlab_selects_divisor_latch);
	tcase_add_test(tc, thre_interrupt_on_enable_and_after_tx);
	tcase_add_test(tc, irq_line_only_driven_on_change);
	tcase_add_test(tc, rx_fifo_trigger_and_timeout);
	tcase_add_test(tc, rx_without_fifo_holds_one_byte);
	tcase_add_test(tc, input_flow_control);
	tcase_add_test(tc, loopback_overrun_and_line_status);
	tcase_add_test(tc, loopback_modem_lines);
	tcase_add_test(tc, out2_gates_the_irq);
	tcase_add_test(tc, iir_priority_order);
	tcase_add_test(tc, lsr_msr_scr_and_wide_access);
	tcase_add_test(tc, discarded_output);
	tcase_add_test(tc, second_uart_on_same_ports_fails);
	tcase_add_test(tc, stuck_output_drops_instead_of_hanging);
	tcase_add_test(tc, closed_output_counts_drops);
	tcase_add_test(tc, failing_irq_line_is_survivable);
	tcase_add_test(tc, concurrent_input_and_reads);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(serial_suite)
