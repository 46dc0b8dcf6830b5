/* Which devices the machine has and how they are wired (serial, power, PCI, vIOMMU). */
#ifndef MINIVMM_MACHINE_DEVICES_H
#define MINIVMM_MACHINE_DEVICES_H

#include <stddef.h>
#include <stdint.h>

struct machine;
struct acpi_config;

struct pci_fn_info {
	uint8_t bus, devfn;
	uint16_t vendor, device;
	uint32_t class_code;	/* base << 16 | sub << 8 | prog-if */
};

int machine_devices__init(struct machine *m);
void machine_devices__exit(struct machine *m);
/* Describe the machine's devices for the ACPI builder. */
void machine_devices__acpi_config(const struct machine *m, struct acpi_config *cfg);
/* Host console input for the guest's console; returns how many bytes it took (the rest must wait). */
size_t machine_devices__console_input(struct machine *m, const uint8_t *buf, size_t n);
/* Ask @fn(@opaque) to be called when the console can take more input. */
void machine_devices__console_on_ready(struct machine *m, void (*fn)(void *opaque), void *opaque);
/* The PCI functions present, in bus/devfn order. Returns how many (at most @max). */
int machine_devices__pci_list(const struct machine *m, struct pci_fn_info *out, int max);

#endif
