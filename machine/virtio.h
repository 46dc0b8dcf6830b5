/*
 * The machine's virtio-pci devices, from the configuration: --disk (virtio-blk), --net (virtio-net),
 * --rng (virtio-rng), --console (virtio-console). Called by machine_devices.c after the PCI host and the
 * vIOMMU exist (each device's DMA goes through the translator the host has then) and before the BARs
 * are assigned.
 */
#ifndef MINIVMM_MACHINE_VIRTIO_H
#define MINIVMM_MACHINE_VIRTIO_H

struct machine;

/* Create the devices and put them on m->pci. 0, or the exit status to use after printing why. */
int machine_virtio__init(struct machine *m);
/* Stop and free them. Before pci_host__exit(m->pci); safe after a failed or no init. */
void machine_virtio__exit(struct machine *m);

#endif
