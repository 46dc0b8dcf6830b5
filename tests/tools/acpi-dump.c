/*
 * acpi-dump: build minivmm's ACPI tables for one configuration and write each as DIR/<SIG>.dat
 * (RSDP.dat, XSDT.dat, FACP.dat, FACS.dat, DSDT.dat, APIC.dat, MCFG.dat, DMAR.dat), ready for
 * `iasl -d`. Used by scripts/golden-acpi.sh to regenerate tests/golden/acpi/.
 *
 *   acpi-dump [--cpus N] [--dmar | --no-dmar] [--scope BB:DD.F]... DIR
 *   acpi-dump --golden NAME DIR     a reference configuration (tests/unit/acpi_test.h)
 *   acpi-dump --list-golden         print the reference configuration names
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/acpi_test.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: acpi-dump [--cpus N] [--dmar | --no-dmar] [--scope BB:DD.F]... DIR\n"
		   "       acpi-dump --golden NAME DIR\n"
		   "       acpi-dump --list-golden\n");
}

static int parse_bdf(const char *s, uint16_t *out)
{
	unsigned bus, dev, fn;
	char end;

	if (sscanf(s, "%x:%x.%x%c", &bus, &dev, &fn, &end) != 3 || bus > 0xFF || dev > 0x1F || fn > 7)
		return -1;
	*out = bus << 8 | dev << 3 | fn;
	return 0;
}

static int write_file(const char *dir, const char *sig, const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, sig);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "acpi-dump: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fwrite(p, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "acpi-dump: %s: write failed\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cpus", required_argument, NULL, 'c' },
		{ "dmar", no_argument, NULL, 'd' },
		{ "no-dmar", no_argument, NULL, 'n' },
		{ "scope", required_argument, NULL, 's' },
		{ "golden", required_argument, NULL, 'g' },
		{ "list-golden", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct acpi_test_table t[ACPI_TEST_MAX_TABLES];
	struct acpi_config *cfg = calloc(1, sizeof(*cfg));
	uint8_t *buf = malloc(LAYOUT_ACPI_SIZE);
	const struct acpi_golden *g = NULL;
	int ncpus = 1, dmar = 0, nscopes = 0, c, n;
	uint16_t scopes[ACPI_MAX_DMAR_SCOPES];
	char *end;
	int64_t r;

	if (!cfg || !buf) {
		fprintf(stderr, "acpi-dump: out of memory\n");
		return 1;
	}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ncpus = strtol(optarg, &end, 0);
			if (*end || end == optarg) {
				fprintf(stderr, "acpi-dump: bad --cpus '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			dmar = 1;
			break;
		case 'n':
			dmar = 0;
			break;
		case 's':
			if (nscopes == ACPI_MAX_DMAR_SCOPES || parse_bdf(optarg, &scopes[nscopes])) {
				fprintf(stderr, "acpi-dump: bad --scope '%s' (BB:DD.F, at most %d)\n", optarg,
					ACPI_MAX_DMAR_SCOPES);
				return 2;
			}
			nscopes++;
			break;
		case 'g':
			g = acpi_test__golden(optarg);
			if (!g) {
				fprintf(stderr, "acpi-dump: no reference configuration '%s'\n", optarg);
				return 2;
			}
			break;
		case 'l':
			for (int i = 0; i < ACPI_NR_GOLDENS; i++)
				printf("%s\n", acpi_goldens[i].name);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}

	if (g) {
		acpi_test__golden_config(cfg, g);
	} else {
		acpi_test__config(cfg, ncpus);
		cfg->dmar = dmar;
		cfg->nr_scopes = nscopes;
		memcpy(cfg->scopes, scopes, nscopes * sizeof(scopes[0]));
	}
	r = acpi__build(cfg, buf, LAYOUT_ACPI_BASE, LAYOUT_ACPI_SIZE);
	if (r < 0) {
		fprintf(stderr, "acpi-dump: acpi__build: %s\n", strerror(-r));
		return 1;
	}
	n = acpi_test__walk(buf, LAYOUT_ACPI_BASE, LAYOUT_ACPI_SIZE, t);
	if (n < 0) {
		fprintf(stderr, "acpi-dump: the built tables do not link up\n");
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (write_file(argv[optind], t[i].sig, t[i].p, t[i].len))
			return 1;
	free(buf);
	free(cfg);
	return 0;
}
