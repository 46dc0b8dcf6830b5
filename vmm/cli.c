#include "vmm/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/util.h"

#define MEM_MIN (16ULL << 20)
#define MEM_MAX (1ULL << 40)

struct cli_option {
	const char *name;	/* without the leading "--" */
	const char *arg;	/* metavariable, NULL for a flag */
	const char *help;
	/* Returns 0, or -1 after writing a reason to err. */
	int (*parse)(struct vmm_config *cfg, const char *arg, char *err, size_t errlen);
};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int opt_kernel(struct vmm_config *c, const char *a, char *e, size_t n) { c->kernel = a; return 0; }
static int opt_initrd(struct vmm_config *c, const char *a, char *e, size_t n) { c->initrd = a; return 0; }
static int opt_cmdline(struct vmm_config *c, const char *a, char *e, size_t n) { c->cmdline = a; return 0; }
static int opt_dump_dtb(struct vmm_config *c, const char *a, char *e, size_t n) { c->dump_dtb = a; return 0; }
static int opt_verbose(struct vmm_config *c, const char *a, char *e, size_t n) { c->verbose++; return 0; }

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

/* --viommu off | flts[,fs1gp=on|off] */
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
	if (!tok || strcmp(tok, "flts"))
		return fail(e, n, "--viommu: unknown mode '%s' (expected off or flts)", tok ? tok : "");
	c->viommu.enabled = true;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "fs1gp=on"))
			c->viommu.fs1gp = true;
		else if (!strcmp(tok, "fs1gp=off"))
			c->viommu.fs1gp = false;
		else
			return fail(e, n, "--viommu: unknown option '%s' (flts takes fs1gp=on|off)", tok);
	}
	return 0;
}

static const struct cli_option options[] = {
	{ "kernel", "IMAGE", "Linux bzImage or ELF64 guest program (default: the embedded guest)", opt_kernel },
	{ "initrd", "FILE", "initial ramdisk for a Linux kernel", opt_initrd },
	{ "cmdline", "TEXT", "kernel command line", opt_cmdline },
	{ "mem", "SIZE", "guest RAM, e.g. 512M or 2G (default 256M)", opt_mem },
	{ "cpus", "N", "number of vCPUs (default 1)", opt_cpus },
	{ "serial", "stdio|file:PATH|none", "where COM1 goes (default stdio)", opt_serial },
	{ "viommu", "off|flts[,fs1gp=on|off]", "virtual VT-d, first-stage translation (default off)", opt_viommu },
	{ "dump-dtb", "FILE", "write the machine's device tree to FILE and exit", opt_dump_dtb },
	{ "verbose", NULL, "more messages (repeat for debug)", opt_verbose },
};

void cli__usage(FILE *out)
{
	fprintf(out, "usage: minivmm [options]\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", options[i].name, options[i].arg ? " " : "",
			 options[i].arg ? options[i].arg : "");
		fprintf(out, "  %-36s %s\n", left, options[i].help);
	}
	fprintf(out, "  %-36s %s\n  %-36s %s\n", "--help", "this text", "--version", "print the version");
	fprintf(out, "\nExit status: 0 guest powered off, 1 VMM error, 2 bad arguments or images,\n"
		     "3 guest reset, 4 guest crash (triple fault); guest programs may exit with their own code.\n");
}

static void config_defaults(struct vmm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = VMM_DEFAULT_MEM;
	cfg->ncpus = 1;
	cfg->serial = SERIAL_STDIO;
	cfg->viommu.fs1gp = true;
	cfg->kvm_dev = "/dev/kvm";
}

enum cli_result cli__parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen, FILE *out)
{
	config_defaults(cfg);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		const struct cli_option *o = NULL;
		size_t len;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cli__usage(out);
			return CLI_EXIT;
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
		if (!o) {
			fail(err, errlen, "unknown option '--%.*s' (see --help)", (int)len, a);
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
	if (cfg->initrd && !cfg->kernel) {
		fail(err, errlen, "--initrd needs --kernel");
		return CLI_ERROR;
	}
	return CLI_RUN;
}
