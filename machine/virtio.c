/* The virtio devices of the machine (see machine_virtio.h), one kind after the other in PCI slot order. */
#include "machine/virtio.h"

#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "machine/machine.h"

/*
 * One machine per process: the devices live here rather than in struct machine, whose layout belongs
 * to the machine code.
 */
static struct {
	struct machine *m;
	struct virtio_blk *blk[VMM_MAX_DISKS];
	struct virtio_net *net[VMM_MAX_NICS];
	struct virtio_rng *rng;
	struct virtio_console *console;
} devs;

int machine_virtio__init(struct machine *m)
{
	const struct vmm_config *cfg = m->cfg;

	devs.m = m;
	for (int i = 0; i < cfg->ndisks; i++) {
		struct disk_config d = cfg->disks[i];

		/* A request queue per vCPU by default, as QEMU and Cloud Hypervisor do. */
		if (!d.queues)
			d.queues = MIN((unsigned)cfg->ncpus, VMM_MAX_DISK_QUEUES);
		devs.blk[i] = virtio_blk__create(m->pci, &d, i);
		if (!devs.blk[i])
			return VMM_EXIT_USAGE;
	}
	for (int i = 0; i < cfg->nnets; i++) {
		devs.net[i] = virtio_net__create(m->pci, &cfg->nets[i], i);
		if (!devs.net[i])
			return VMM_EXIT_USAGE;
	}
	if (cfg->rng) {
		devs.rng = virtio_rng__create(m->pci);
		if (!devs.rng)
			return VMM_EXIT_ERROR;
	}
	if (cfg->console != CONSOLE_NONE) {
		devs.console = virtio_console__create(m->pci, cfg->console, cfg->console_path);
		if (!devs.console)
			return VMM_EXIT_USAGE;
	}
	return 0;
}

void machine_virtio__exit(struct machine *m)
{
	if (devs.m != m)
		return;
	for (int i = 0; i < VMM_MAX_DISKS; i++) {
		virtio_blk__destroy(devs.blk[i]);
		devs.blk[i] = NULL;
	}
	for (int i = 0; i < VMM_MAX_NICS; i++) {
		virtio_net__destroy(devs.net[i]);
		devs.net[i] = NULL;
	}
	virtio_rng__destroy(devs.rng);
	virtio_console__destroy(devs.console);
	devs.rng = NULL;
	devs.console = NULL;
	devs.m = NULL;
}
