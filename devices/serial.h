/*
 * 16550A UART on COM1. The guest's transmitter writes to a host fd; the I/O thread feeds the receiver
 * with serial__input(). One struct serial per port, with its own lock: vCPU threads (register
 * accesses) and the I/O thread (input) call in concurrently.
 */
#ifndef MINIVMM_DEVICES_SERIAL_H
#define MINIVMM_DEVICES_SERIAL_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct serial;

/*
 * Register COM1 (PORT_COM1, 8 ports, IRQ_COM1) on @vm. Transmitted bytes go to @out_fd (stdout, a file;
 * -1 discards them). The fd is not closed by serial__exit(). NULL (after a message) on failure.
 */
struct serial *serial__init(struct vm *vm, int out_fd);
void serial__exit(struct serial *s);

/*
 * Bytes arriving on the line (I/O thread). Takes what fits in the receive FIFO (16 bytes, or the one
 * holding register with FIFOs off) and returns how many it took; the caller keeps the rest until
 * serial__set_rx_ready()'s callback runs. The host side is thus flow-controlled and no console input
 * is lost; receiver overrun (LSR.OE) happens when the guest's own loop-back transmission outruns its
 * reads. In loop-back mode the line input is disconnected: nothing is taken.
 */
size_t serial__input(struct serial *s, const void *buf, size_t n);

/* How many bytes serial__input() would accept now (0 in loop-back mode). For input flow control. */
size_t serial__rx_room(struct serial *s);

/*
 * @fn(@opaque) is called (from a vCPU thread, without the UART lock held) whenever the guest makes room
 * for input: it emptied or cleared the receive FIFO, or left loop-back mode.
 */
void serial__set_rx_ready(struct serial *s, void (*fn)(void *opaque), void *opaque);

/* Transmitted bytes that could not be written to the output fd (reader gone or stuck). */
uint64_t serial__tx_dropped(struct serial *s);

#endif
