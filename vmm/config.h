/* What the user asked for on the command line (vmm/cli.c fills it). */
#ifndef MINIVMM_CONFIG_H
#define MINIVMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };

struct viommu_config {
	bool enabled;		/* --viommu flts */
	bool fs1gp;		/* first-stage 1 GiB pages offered (CAP.FS1GP); default on */
};

#define VMM_MAX_CPUS 64
#define VMM_DEFAULT_MEM (256ULL << 20)

struct vmm_config {
	const char *kernel;	/* NULL: the embedded default guest */
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	int ncpus;
	enum serial_mode serial;
	const char *serial_path;
	struct viommu_config viommu;
	const char *dump_dtb;
	const char *kvm_dev;	/* "/dev/kvm" */
	int verbose;
};

#endif
