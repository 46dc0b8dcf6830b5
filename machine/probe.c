/*
 * `minivmm probe [--viommu MODE] [--mem SIZE] [-v] BDF...`: can these host PCI functions be passed
 * through, with these options, on this host? Answered before any launch, by doing what a launch does:
 * for each function, the machine a launch with `--vfio BDF` would build (the same machine__init(),
 * the same device code: iommufd, VFIO cdev, bind, reset, the nesting parent and the vIOMMU's host
 * checks, guest RAM mapped for DMA), only offline (vmm/vm.h: no KVM, no vCPU, no kernel loaded), then
 * torn down. So a probe never says a function is usable that a launch would refuse, nor the reverse;
 * its reason is the launch's error line. One line per function on stdout, and with -v the host IOMMU
 * as iommufd describes it (CAP/ECAP decoded), which says what a refusal is about.
 */
#include "machine/probe.h"

#include <stdio.h>
#include <string.h>

#include "devices/vfio/vfio-pci.h"
#include "iommu/vtd.h"
#include "machine/cli.h"
#include "machine/machine.h"
#include "vmm/iommufd.h"
#include "vmm/log.h"

static const char *mode_name(const struct vmm_config *cfg)
{
	if (!cfg->viommu.enabled)
		return "off";
	if (cfg->viommu.slts)
		return "slts";
	if (cfg->viommu.nested)
		return cfg->viommu.fs1gp ? "nested" : "nested,fs1gp=off";
	return cfg->viommu.fs1gp ? "flts" : "flts,fs1gp=off";
}

/* The launch's line says "vfio BDF: why"; after "BDF: not usable ...: " the why is enough. */
static const char *reason(const char *bdf, const char *err)
{
	char head[VMM_BDF_LEN + 8];

	snprintf(head, sizeof(head), "vfio %s: ", bdf);
	if (!*err)
		return "the machine could not be built (see the error above)";
	return strncmp(err, head, strlen(head)) ? err : err + strlen(head);
}

static void describe_host(const struct vmm_config *cfg, const char *bdf, FILE *out)
{
	struct iommufd_hw_info hw;
	struct vtd_host_iommu h;
	char err[512], text[512];

	if (vfio_pci__host_iommu(bdf, cfg->vfio_paths, cfg->iommu_path, &hw, err, sizeof(err))) {
		fprintf(out, "  host IOMMU: not known (%s)\n", err);
		return;
	}
	h = (struct vtd_host_iommu){ .backend = VTD_HOST_BACKEND_IOMMUFD, .type = hw.type, .cap = hw.cap,
				     .ecap = hw.ecap };
	vtd__describe_host_iommu(&h, text, sizeof(text));
	fprintf(out, "  host IOMMU: ");
	for (const char *p = text; *p; p++)
		fprintf(out, *p == '\n' ? "\n  " : "%c", *p);
	fprintf(out, "\n");
}

int probe__one(const struct vmm_config *cfg, const char *bdf, char *line, size_t n)
{
	static struct machine m;	/* large: not on the stack */
	struct vmm_config one = *cfg;
	int ret;

	if (cfg->viommu.slts) {
		snprintf(line, n, "%s: not usable with --viommu slts: %s", bdf, cli__slts_vfio);
		return -1;
	}
	one.nvfio = 1;
	snprintf(one.vfio[0], sizeof(one.vfio[0]), "%s", bdf);
	ret = machine__init(&m, &one);
	if (ret == -1)
		snprintf(line, n, "%s: usable with --viommu %s", bdf, mode_name(cfg));
	else
		snprintf(line, n, "%s: not usable with --viommu %s: %s", bdf, mode_name(cfg), reason(bdf, m.device_err));
	machine__exit(&m);
	return ret == -1 ? 0 : -1;
}

int probe__run(const struct vmm_config *cfg, FILE *out)
{
	int bad = 0;

	for (int i = 0; i < cfg->nprobe; i++) {
		char line[768];

		if (probe__one(cfg, cfg->probe_bdf[i], line, sizeof(line)))
			bad++;
		fprintf(out, "%s\n", line);
		if (cfg->verbose)
			describe_host(cfg, cfg->probe_bdf[i], out);
		fflush(out);
	}
	return bad ? VMM_EXIT_ERROR : 0;
}
