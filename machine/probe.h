/* `minivmm probe BDF...`: whether host PCI functions can be passed through, before a launch (probe.c). */
#ifndef MINIVMM_PROBE_H
#define MINIVMM_PROBE_H

#include <stddef.h>
#include <stdio.h>

#include "vmm/config.h"

/*
 * Build the machine a launch with `--vfio @bdf` and @cfg's options would build, offline, and tear it
 * down. 0 with "BDF: usable with --viommu MODE" in @line, or -1 with "BDF: not usable with --viommu
 * MODE: <the launch's reason>".
 */
int probe__one(const struct vmm_config *cfg, const char *bdf, char *line, size_t n);
/* Every BDF of @cfg, a line each on @out (and with -v the host IOMMU). 0 if all usable, else 1. */
int probe__run(const struct vmm_config *cfg, FILE *out);

#endif
