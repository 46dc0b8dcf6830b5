/* What the user asked for on the command line (machine/cli.c fills it). */
#ifndef MINIVMM_CONFIG_H
#define MINIVMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct vfio_paths;

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };

struct viommu_config {
	bool enabled;		/* --viommu flts or slts */
	bool slts;		/* --viommu slts: second-stage translation (ECAP.SSTS) instead of first-stage */
	bool nested;		/* --viommu nested: both stages and nested translation (ECAP.NEST) */
	bool fs1gp;		/* first-stage 1 GiB pages offered (CAP.FS1GP); default on */
	bool ir;		/* interrupt remapping (ECAP.IR, EIM; split irqchip): ir=on|off, default on */
};

#define VMM_MAX_CPUS 288		/* with interrupt remapping (x2APIC); without it 64 */
#define VMM_MAX_CPUS_XAPIC 64
#define VMM_DEFAULT_MEM (256ULL << 20)
#define VMM_MAX_DISKS 8
#define VMM_MAX_DISK_QUEUES 8	/* VIRTIO_MAX_QUEUES */
#define VMM_MAX_NICS 4
#define VMM_PATH_MAX 4096
#define VMM_MAX_VFIO 4
#define VMM_MAX_PROBE 32	/* BDFs of one `minivmm probe` */
#define VMM_BDF_LEN 13		/* "0000:00:04.0" and its NUL (VFIO_BDF_LEN) */
#define VMM_IFNAME_MAX 16	/* IFNAMSIZ, terminating NUL included */

/* How virtio-blk does its I/O: io_uring where the host allows it, else a thread pool. */
enum disk_aio { DISK_AIO_AUTO, DISK_AIO_IO_URING, DISK_AIO_THREADS };

/* --disk PATH[,readonly][,direct][,aio=io_uring|threads][,queues=N]: virtio-blk on a raw image or block device. */
struct disk_config {
	char path[VMM_PATH_MAX];
	bool readonly;
	bool direct;		/* O_DIRECT: bypass the host page cache */
	enum disk_aio aio;
	unsigned queues;	/* request queues (VIRTIO_BLK_F_MQ); 0: one per vCPU */
};

/* --net tap=NAME[,mac=..]: a virtio-net device on a host tap interface. */
struct net_config {
	char tap[VMM_IFNAME_MAX];
	uint8_t mac[6];
	bool has_mac;		/* else 52:54:00:12:34:(56 + index) */
};

/* --console: a virtio-console device and where its host side goes. */
enum console_mode { CONSOLE_NONE, CONSOLE_PTY, CONSOLE_FILE, CONSOLE_STDIO };

struct vmm_config {
	const char *kernel;	/* NULL: the embedded default guest */
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	int ncpus;
	enum serial_mode serial;
	const char *serial_path;
	struct viommu_config viommu;
	struct disk_config disks[VMM_MAX_DISKS];
	int ndisks;
	struct net_config nets[VMM_MAX_NICS];
	int nnets;
	bool rng;		/* --rng: virtio-rng */
	enum console_mode console;
	const char *console_path;	/* CONSOLE_FILE */
	char vfio[VMM_MAX_VFIO][VMM_BDF_LEN];	/* --vfio: host PCI functions passed through */
	int nvfio;
	bool dma_engine;	/* --dma-engine: the DMA-engine test device */
	const char *dump_dtb;
	const char *kvm_dev;	/* "/dev/kvm" */
	bool nested_virt;	/* --nested-virt: the host's VMX or SVM passed to the guest */
	int verbose;

	/* `minivmm probe BDF...`: build each device as a launch would, without a VM, and say if it works. */
	bool probe;
	char probe_bdf[VMM_MAX_PROBE][VMM_BDF_LEN];
	int nprobe;
	/* Where the host's sysfs, /dev and /dev/iommu are (tests point them at a fake host). */
	const struct vfio_paths *vfio_paths;
	const char *iommu_path;
};

#endif
