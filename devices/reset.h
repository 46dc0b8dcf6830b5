/*
 * Machine reset: the i8042 keyboard controller's reset pulse (command 0xFE on port 0x64) and the reset
 * control register at 0xCF9 (FADT RESET_REG). Both end the run with vm->stop(VMM_EXIT_RESET, ...).
 */
#ifndef MINIVMM_DEVICES_RESET_H
#define MINIVMM_DEVICES_RESET_H

struct vm;
struct reset_dev;

/* Register ports 0x60, 0x64 and 0xCF9 (one byte each). NULL (after a message) on failure. */
struct reset_dev *reset__init(struct vm *vm);
void reset__exit(struct reset_dev *r);

#endif
