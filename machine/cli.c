#include "machine/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/util.h"
#include "vmm/vfio.h"

_Static_assert(VMM_BDF_LEN == VFIO_BDF_LEN, "config.h and vfio.h disagree on the BDF length");

#define MEM_MIN (16ULL << 20)
#define MEM_MAX (1ULL << 40)

struct cli_option {
	const char *name;	/* without the leading "--" */
	const char *arg;	/* metavariable, NULL for a flag */
	const char *help;
	/* Returns 0, or -1 after writing a reason to err. */
	int (*parse)(struct vmm_config *cfg, const char *arg, char *err, size_t errlen);
};

const char cli__slts_vfio[] = "--viommu slts cannot take a passed-through device: its second-stage tables "
			       "would have to be shadowed on the host, which minivmm does not do (use --viommu off or flts)";

/* Option parsers say what is wrong in @e and return -1. */
#define fail(e, n, ...) errmsg(e, n, -1, __VA_ARGS__)

static int opt_kernel(struct vmm_config *c, const char *a, char *e, size_t n) { c->kernel = a; return 0; }
static int opt_initrd(struct vmm_config *c, const char *a, char *e, size_t n) { c->initrd = a; return 0; }
static int opt_cmdline(struct vmm_config *c, const char *a, char *e, size_t n) { c->cmdline = a; return 0; }
static int opt_dump_dtb(struct vmm_config *c, const char *a, char *e, size_t n) { c->dump_dtb = a; return 0; }
static int opt_verbose(struct vmm_config *c, const char *a, char *e, size_t n) { c->verbose++; return 0; }
static int opt_nested_virt(struct vmm_config *c, const char *a, char *e, size_t n) { c->nested_virt = true; return 0; }

static int opt_mem(struct vmm_config *c, const char *a, char *e, size_t n)
{
	uint64_t size;

	if (parse_size(a, &size))
		return fail(e, n, "--mem: '%s' is not a size (examples: 512M, 2G)", a);
	if (size < MEM_MIN || size > MEM_MAX)
		return fail(e, n, "--mem: %s is out of range (16M to 1T)", a);
	c->mem_size = ALIGN_UP(size, 2 * MiB);
	return 0;
}

static int opt_cpus(struct vmm_config *c, const char *a, char *e, size_t n)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(a, &end, 10);
	if (errno || end == a || *end || v < 1 || v > VMM_MAX_CPUS)
		return fail(e, n, "--cpus: '%s' is not a number from 1 to %d", a, VMM_MAX_CPUS);
	c->ncpus = (int)v;
	return 0;
}

static int opt_serial(struct vmm_config *c, const char *a, char *e, size_t n)
{
	if (!strcmp(a, "stdio")) {
		c->serial = SERIAL_STDIO;
	} else if (!strcmp(a, "none")) {
		c->serial = SERIAL_NONE;
	} else if (!strncmp(a, "file:", 5) && a[5]) {
		c->serial = SERIAL_FILE;
		c->serial_path = a + 5;
	} else {
		return fail(e, n, "--serial: '%s' is not stdio, file:PATH or none", a);
	}
	return 0;
}

/* --viommu off | flts[,fs1gp=on|off][,ir=on|off] | slts[,ir=..] | nested[,fs1gp=..][,ir=..] */
static int opt_viommu(struct vmm_config *c, const char *a, char *e, size_t n)
{
	char buf[128], *save, *tok;

	if (!strcmp(a, "off")) {
		c->viommu.enabled = false;
		return 0;
	}
	if (strlen(a) >= sizeof(buf))
		return fail(e, n, "--viommu: argument too long");
	strcpy(buf, a);
	tok = strtok_r(buf, ",", &save);
	if (!tok || (strcmp(tok, "flts") && strcmp(tok, "slts") && strcmp(tok, "nested")))
		return fail(e, n, "--viommu: unknown mode '%s' (expected off, flts, slts or nested)", tok ? tok : "");
	c->viommu.enabled = true;
	c->viommu.slts = !strcmp(tok, "slts");
	c->viommu.nested = !strcmp(tok, "nested");
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "ir=on") || !strcmp(tok, "ir=off")) {
			c->viommu.ir = !strcmp(tok, "ir=on");
			continue;
		}
		if (c->viommu.slts)
			return fail(e, n, "--viommu: unknown option '%s' (slts takes ir=on|off)", tok);
		if (!strcmp(tok, "fs1gp=on"))
			c->viommu.fs1gp = true;
		else if (!strcmp(tok, "fs1gp=off"))
			c->viommu.fs1gp = false;
		else
			return fail(e, n, "--viommu: unknown option '%s' (%s takes fs1gp=on|off, ir=on|off)", tok,
				    c->viommu.nested ? "nested" : "flts");
	}
	return 0;
}

/* The next ","-separated item of *@p (advancing it), as a pointer and length; false at the end. */
static bool next_item(const char **p, const char **item, size_t *len)
{
	const char *comma;

	if (!*p)
		return false;
	comma = strchr(*p, ',');
	*item = *p;
	*len = comma ? (size_t)(comma - *p) : strlen(*p);
	*p = comma ? comma + 1 : NULL;
	return true;
}

static bool item_is(const char *item, size_t len, const char *word)
{
	return strlen(word) == len && !strncmp(item, word, len);
}

/* --disk PATH[,readonly][,direct] (repeatable). PATH cannot contain a comma. */
static int opt_disk(struct vmm_config *c, const char *a, char *e, size_t n)
{
	const char *p = a, *item = a;
	struct disk_config *d;
	size_t len = 0;

	if (c->ndisks >= VMM_MAX_DISKS)
		return fail(e, n, "--disk: at most %d disks", VMM_MAX_DISKS);
	d = &c->disks[c->ndisks];
	memset(d, 0, sizeof(*d));
	next_item(&p, &item, &len);
	if (!len)
		return fail(e, n, "--disk: '%s' has no image path (PATH[,readonly][,direct])", a);
	if (len >= sizeof(d->path))
		return fail(e, n, "--disk: the image path is longer than %d bytes", VMM_PATH_MAX - 1);
	memcpy(d->path, item, len);
	while (next_item(&p, &item, &len)) {
		if (item_is(item, len, "readonly"))
			d->readonly = true;
		else if (item_is(item, len, "direct"))
			d->direct = true;
		else if (item_is(item, len, "aio=io_uring"))
			d->aio = DISK_AIO_IO_URING;
		else if (item_is(item, len, "aio=threads"))
			d->aio = DISK_AIO_THREADS;
		else if (len > 7 && !strncmp(item, "queues=", 7)) {
			char num[8] = { 0 }, *end;
			unsigned long q;

			memcpy(num, item + 7, MIN(len - 7, sizeof(num) - 1));
			q = strtoul(num, &end, 10);
			if (len - 7 >= sizeof(num) || *end || q < 1 || q > VMM_MAX_DISK_QUEUES)
				return fail(e, n, "--disk: queues=%.*s: want 1 to %d", (int)(len - 7), item + 7,
					    VMM_MAX_DISK_QUEUES);
			d->queues = q;
		} else
			return fail(e, n, "--disk: unknown option '%.*s' (PATH takes readonly, direct, aio=io_uring|threads, "
				    "queues=N)", (int)len, item);
	}
	c->ndisks++;
	return 0;
}

/* "xx:xx:xx:xx:xx:xx": a unicast, non-zero Ethernet address. */
static bool parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	if (len != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		char hex[3] = { s[3 * i], s[3 * i + 1], 0 }, *end;

		if ((i < 5 && s[3 * i + 2] != ':') || !isxdigit((unsigned char)hex[0]) ||
		    !isxdigit((unsigned char)hex[1]))
			return false;
		mac[i] = strtoul(hex, &end, 16);
	}
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* --net tap=NAME[,mac=xx:xx:xx:xx:xx:xx] (repeatable). */
static int opt_net(struct vmm_config *c, const char *a, char *e, size_t n)
{
	const char *p = a, *item;
	struct net_config *net;
	size_t len;

	if (c->nnets >= VMM_MAX_NICS)
		return fail(e, n, "--net: at most %d network devices", VMM_MAX_NICS);
	net = &c->nets[c->nnets];
	memset(net, 0, sizeof(*net));
	while (next_item(&p, &item, &len)) {
		if (len >= 4 && !strncmp(item, "tap=", 4)) {
			if (len == 4 || len - 4 >= sizeof(net->tap) || memchr(item + 4, '/', len - 4))
				return fail(e, n, "--net: '%.*s' is not an interface name (1 to %d characters, no '/')",
					    (int)(len - 4), item + 4, VMM_IFNAME_MAX - 1);
			memcpy(net->tap, item + 4, len - 4);
		} else if (len >= 4 && !strncmp(item, "mac=", 4)) {
			if (!parse_mac(item + 4, len - 4, net->mac))
				return fail(e, n, "--net: '%.*s' is not a unicast MAC address (xx:xx:xx:xx:xx:xx)",
					    (int)(len - 4), item + 4);
			net->has_mac = true;
		} else {
			return fail(e, n, "--net: unknown option '%.*s' (expected tap=NAME[,mac=xx:xx:xx:xx:xx:xx])",
				    (int)len, item);
		}
	}
	if (!net->tap[0])
		return fail(e, n, "--net: '%s' names no tap device (tap=NAME)", a);
	for (int i = 0; i < c->nnets; i++)
		if (!strcmp(c->nets[i].tap, net->tap))
			return fail(e, n, "--net: tap '%s' is used twice", net->tap);
	c->nnets++;
	return 0;
}

static int opt_rng(struct vmm_config *c, const char *a, char *e, size_t n) { c->rng = true; return 0; }

/* --console pty|file:PATH|stdio */
static int opt_console(struct vmm_config *c, const char *a, char *e, size_t n)
{
	if (c->console != CONSOLE_NONE)
		return fail(e, n, "--console: only one virtio console");
	if (!strcmp(a, "pty")) {
		c->console = CONSOLE_PTY;
	} else if (!strcmp(a, "stdio")) {
		c->console = CONSOLE_STDIO;
	} else if (!strncmp(a, "file:", 5) && a[5]) {
		c->console = CONSOLE_FILE;
		c->console_path = a + 5;
	} else {
		return fail(e, n, "--console: '%s' is not pty, file:PATH or stdio", a);
	}
	return 0;
}

/* --vfio BDF (repeatable): a host PCI function bound to vfio-pci, passed through. */
static int opt_vfio(struct vmm_config *c, const char *a, char *e, size_t n)
{
	char bdf[VFIO_BDF_LEN];

	if (c->nvfio >= VMM_MAX_VFIO)
		return fail(e, n, "--vfio: at most %d passthrough devices", VMM_MAX_VFIO);
	if (vfio__parse_bdf(a, bdf))
		return fail(e, n, "--vfio: '%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", a);
	for (int i = 0; i < c->nvfio; i++)
		if (!strcmp(c->vfio[i], bdf))
			return fail(e, n, "--vfio: %s is given twice", bdf);
	strcpy(c->vfio[c->nvfio++], bdf);
	return 0;
}

/* --dma-engine: the DMA-engine test device (devices/dma-engine.h); one is enough, a repeat changes nothing. */
static int opt_dma_engine(struct vmm_config *c, const char *a, char *e, size_t n) { c->dma_engine = true; return 0; }

static const struct cli_option options[] = {
	{ "kernel", "IMAGE", "Linux bzImage or ELF64 guest program (default: the embedded guest)", opt_kernel },
	{ "initrd", "FILE", "initial ramdisk for a Linux kernel", opt_initrd },
	{ "cmdline", "TEXT", "kernel command line", opt_cmdline },
	{ "mem", "SIZE", "guest RAM, e.g. 512M or 2G (default 256M)", opt_mem },
	{ "cpus", "N", "number of vCPUs (default 1)", opt_cpus },
	{ "serial", "stdio|file:PATH|none", "where COM1 goes (default stdio)", opt_serial },
	{ "viommu", "off|flts[,fs1gp=..][,ir=..]|slts[,ir=..]|nested[,..]", "virtual VT-d (default off): first stage, second stage or both nested; ir=off: no interrupt remapping", opt_viommu },
	{ "disk", "PATH[,readonly][,direct][,aio=..][,queues=N]", "virtio-blk on a raw image or block device (repeatable)", opt_disk },
	{ "net", "tap=NAME[,mac=MAC]", "virtio-net on host tap NAME, created if missing (repeatable)", opt_net },
	{ "rng", NULL, "virtio-rng, fed from the host's getrandom()", opt_rng },
	{ "console", "pty|file:PATH|stdio", "virtio-console (hvc0); stdio only without --serial stdio", opt_console },
	{ "vfio", "BDF", "pass a host PCI function bound to vfio-pci through (iommufd; repeatable)", opt_vfio },
	{ "dma-engine", NULL, "PCI DMA-engine test device (copy/fill/compare through the vIOMMU)", opt_dma_engine },
	{ "nested-virt", NULL, "pass the host KVM's VMX or SVM to the guest, to run its own guests", opt_nested_virt },
	{ "dump-dtb", "FILE", "write the machine's device tree to FILE and exit", opt_dump_dtb },
	{ "verbose", NULL, "more messages (repeat for debug)", opt_verbose },
};

/* The options `minivmm probe` takes: those that change what a launch does with a --vfio device. */
static bool probe_option(const struct cli_option *o)
{
	return o->parse == opt_mem || o->parse == opt_viommu || o->parse == opt_verbose;
}

static void usage_options(FILE *out, bool probe)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		char left[64];

		if (probe && !probe_option(&options[i]))
			continue;
		snprintf(left, sizeof(left), "--%s%s%s", options[i].name, options[i].arg ? " " : "",
			 options[i].arg ? options[i].arg : "");
		fprintf(out, "  %-36s %s\n", left, options[i].help);
	}
}

void cli__usage(FILE *out)
{
	fprintf(out, "usage: minivmm [options]\n       minivmm probe [--viommu MODE] [--mem SIZE] [-v] BDF...\n\n");
	usage_options(out, false);
	fprintf(out, "  %-36s %s\n  %-36s %s\n", "--help", "this text", "--version", "print the version");
	fprintf(out, "\nExit status: 0 guest powered off, 1 VMM error, 2 bad arguments or images,\n"
		     "3 guest reset, 4 guest crash (triple fault); guest programs may exit with their own code.\n");
}

static void probe_usage(FILE *out)
{
	fprintf(out, "usage: minivmm probe [options] BDF...\n\n"
		     "Opens each host PCI function as a launch with --vfio BDF and these options would (iommufd,\n"
		     "VFIO cdev, bind, the nesting parent and the vIOMMU's host checks with --viommu flts, guest\n"
		     "RAM mapped for DMA), without creating a VM, undoes it, and prints one line per function.\n\n");
	usage_options(out, true);
	fprintf(out, "  %-36s %s\n", "--help", "this text");
	fprintf(out, "\nExit status: 0 every function is usable, 1 one is not, 2 bad arguments.\n");
}

/* A positional argument of `minivmm probe`: a BDF, once. */
static int probe_bdf(struct vmm_config *c, const char *a, char *e, size_t n)
{
	char bdf[VMM_BDF_LEN];

	if (c->nprobe >= VMM_MAX_PROBE)
		return fail(e, n, "probe: at most %d functions at once", VMM_MAX_PROBE);
	if (vfio__parse_bdf(a, bdf))
		return fail(e, n, "probe: '%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", a);
	for (int i = 0; i < c->nprobe; i++)
		if (!strcmp(c->probe_bdf[i], bdf))
			return fail(e, n, "probe: %s is given twice", bdf);
	strcpy(c->probe_bdf[c->nprobe++], bdf);
	return 0;
}

static void config_defaults(struct vmm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = VMM_DEFAULT_MEM;
	cfg->ncpus = 1;
	cfg->serial = SERIAL_STDIO;
	cfg->viommu.fs1gp = true;
	cfg->viommu.ir = true;
	cfg->kvm_dev = "/dev/kvm";
	cfg->vfio_paths = &vfio__host_paths;
	cfg->iommu_path = "/dev/iommu";
}

enum cli_result cli__parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen, FILE *out)
{
	bool probe = argc > 1 && !strcmp(argv[1], "probe");

	config_defaults(cfg);
	if (probe) {
		cfg->probe = true;
		cfg->serial = SERIAL_NONE;
	}
	for (int i = probe ? 2 : 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		const struct cli_option *o = NULL;
		size_t len;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			probe ? probe_usage(out) : cli__usage(out);
			return CLI_EXIT;
		}
		if (probe && strncmp(a, "-", 1)) {
			if (probe_bdf(cfg, a, err, errlen))
				return CLI_ERROR;
			continue;
		}
		if (!strcmp(a, "--version")) {
			fprintf(out, "minivmm %s\n", MINIVMM_VERSION);
			return CLI_EXIT;
		}
		if (!strcmp(a, "-v"))
			a = "--verbose";
		if (strncmp(a, "--", 2)) {
			fail(err, errlen, "unexpected argument '%s' (see --help)", a);
			return CLI_ERROR;
		}
		a += 2;
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		for (size_t k = 0; k < ARRAY_SIZE(options); k++)
			if (strlen(options[k].name) == len && !strncmp(options[k].name, a, len))
				o = &options[k];
		if (!o || (probe && !probe_option(o))) {
			fail(err, errlen, "%sunknown option '--%.*s' (see %s--help)", probe ? "probe: " : "", (int)len, a,
			     probe ? "minivmm probe " : "");
			return CLI_ERROR;
		}
		if (o->arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else {
				fail(err, errlen, "--%s needs an argument (%s)", o->name, o->arg);
				return CLI_ERROR;
			}
		} else if (eq) {
			fail(err, errlen, "--%s takes no argument", o->name);
			return CLI_ERROR;
		}
		if (o->parse(cfg, val, err, errlen))
			return CLI_ERROR;
	}
	if (probe && !cfg->nprobe) {
		fail(err, errlen, "probe: which PCI functions? (minivmm probe [--viommu MODE] BDF...)");
		return CLI_ERROR;
	}
	if (cfg->nvfio && cfg->viommu.slts) {
		fail(err, errlen, "--vfio: %s", cli__slts_vfio);
		return CLI_ERROR;
	}
	if (cfg->ncpus > VMM_MAX_CPUS_XAPIC && !(cfg->viommu.enabled && cfg->viommu.ir)) {
		fail(err, errlen, "--cpus %d: more than %d vCPUs need x2APIC destinations, i.e. interrupt remapping "
		     "(--viommu flts)", cfg->ncpus, VMM_MAX_CPUS_XAPIC);
		return CLI_ERROR;
	}
	if (cfg->initrd && !cfg->kernel) {
		fail(err, errlen, "--initrd needs --kernel");
		return CLI_ERROR;
	}
	if (cfg->console == CONSOLE_STDIO && cfg->serial == SERIAL_STDIO) {
		fail(err, errlen, "--console stdio needs --serial file:PATH or none (COM1 already uses stdio)");
		return CLI_ERROR;
	}
	return CLI_RUN;
}
