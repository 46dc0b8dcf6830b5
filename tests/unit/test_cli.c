/* Tier 1: command-line parsing (vmm/cli.c): defaults, every option, and every documented error. */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "vmm/cli.h"

static struct vmm_config cfg;
static char err[256];

static enum cli_result parse(const char *line)
{
	static char buf[512];
	char *argv[32], *save;
	int argc = 0;

	snprintf(buf, sizeof(buf), "minivmm %s", line);
	for (char *t = strtok_r(buf, " ", &save); t && argc < 31; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	err[0] = 0;
	FILE *devnull = fopen("/dev/null", "w");
	enum cli_result r = cli__parse(argc, argv, &cfg, err, sizeof(err), devnull);
	fclose(devnull);
	return r;
}

START_TEST(defaults)
{
	ck_assert_int_eq(parse(""), CLI_RUN);
	ck_assert_ptr_null(cfg.kernel);
	ck_assert_uint_eq(cfg.mem_size, 256ULL << 20);
	ck_assert_int_eq(cfg.ncpus, 1);
	ck_assert_int_eq(cfg.serial, SERIAL_STDIO);
	ck_assert(!cfg.viommu.enabled);
	ck_assert(cfg.viommu.fs1gp);
	ck_assert_str_eq(cfg.kvm_dev, "/dev/kvm");
}
END_TEST

START_TEST(every_option)
{
	ck_assert_int_eq(parse("--kernel k.img --initrd i.cpio --cmdline console=ttyS0 --mem 2G --cpus 4 "
			       "--serial file:/tmp/x --viommu flts,fs1gp=off --dump-dtb d.dtb -v"), CLI_RUN);
	ck_assert_str_eq(cfg.kernel, "k.img");
	ck_assert_str_eq(cfg.initrd, "i.cpio");
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0");
	ck_assert_uint_eq(cfg.mem_size, 2ULL << 30);
	ck_assert_int_eq(cfg.ncpus, 4);
	ck_assert_int_eq(cfg.serial, SERIAL_FILE);
	ck_assert_str_eq(cfg.serial_path, "/tmp/x");
	ck_assert(cfg.viommu.enabled);
	ck_assert(!cfg.viommu.fs1gp);
	ck_assert_str_eq(cfg.dump_dtb, "d.dtb");
	ck_assert_int_eq(cfg.verbose, 1);
}
END_TEST

START_TEST(equals_form_and_sizes)
{
	ck_assert_int_eq(parse("--mem=512M --cpus=2 --viommu=flts --serial=none"), CLI_RUN);
	ck_assert_uint_eq(cfg.mem_size, 512ULL << 20);
	ck_assert_int_eq(cfg.serial, SERIAL_NONE);
	ck_assert(cfg.viommu.enabled && cfg.viommu.fs1gp);
	ck_assert_int_eq(parse("--mem 33M"), CLI_RUN);
	ck_assert_uint_eq(cfg.mem_size, 34ULL << 20); /* rounded up to 2 MiB */
	ck_assert_int_eq(parse("--mem 1GiB"), CLI_RUN);
	ck_assert_uint_eq(cfg.mem_size, 1ULL << 30);
	ck_assert_int_eq(parse("--viommu off"), CLI_RUN);
	ck_assert(!cfg.viommu.enabled);
}
END_TEST

static void expect_error(const char *line, const char *needle)
{
	ck_assert_msg(parse(line) == CLI_ERROR, "'%s' should fail", line);
	ck_assert_msg(strstr(err, needle), "'%s': error '%s' lacks '%s'", line, err, needle);
}

START_TEST(errors)
{
	expect_error("--mem lots", "--mem: 'lots' is not a size");
	expect_error("--mem 1M", "out of range");
	expect_error("--mem -5G", "not a size");
	expect_error("--mem 99999999999999T", "--mem");
	expect_error("--cpus 0", "--cpus: '0' is not a number from 1 to 64");
	expect_error("--cpus 65", "--cpus");
	expect_error("--cpus 2x", "--cpus");
	expect_error("--serial tty", "--serial: 'tty' is not stdio, file:PATH or none");
	expect_error("--serial file:", "--serial");
	expect_error("--viommu legacy", "--viommu: unknown mode 'legacy'");
	expect_error("--viommu flts,fs1gp=maybe", "unknown option 'fs1gp=maybe'");
	expect_error("--viommu flts,sm=on", "unknown option");
	expect_error("--bogus", "unknown option '--bogus'");
	expect_error("stray", "unexpected argument 'stray'");
	expect_error("--kernel", "--kernel needs an argument");
	expect_error("--verbose=3", "takes no argument");
	expect_error("--initrd x.cpio", "--initrd needs --kernel");
}
END_TEST

START_TEST(help_and_version)
{
	ck_assert_int_eq(parse("--help"), CLI_EXIT);
	ck_assert_int_eq(parse("-h"), CLI_EXIT);
	ck_assert_int_eq(parse("--version"), CLI_EXIT);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_option);
	tcase_add_test(tc, equals_form_and_sizes);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, help_and_version);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cli_suite)
