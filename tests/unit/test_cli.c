/* Tier 1: command-line parsing (machine/cli.c): defaults, every option, and every documented error. */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "machine/cli.h"

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
	ck_assert_int_eq(cfg.ndisks, 0);
	ck_assert_int_eq(cfg.nnets, 0);
	ck_assert(!cfg.rng);
	ck_assert_int_eq(cfg.console, CONSOLE_NONE);
}
END_TEST

START_TEST(virtio_devices)
{
	static const uint8_t mac[6] = { 0x02, 0xab, 0xcd, 0xef, 0x01, 0x23 };

	ck_assert_int_eq(parse("--disk a.img --disk /dev/sdx,readonly --disk=b.raw,direct,readonly "
			       "--net tap=tap0 --net tap=vm1,mac=02:AB:cd:ef:01:23 --rng --console pty"), CLI_RUN);
	ck_assert_int_eq(cfg.ndisks, 3);
	ck_assert_str_eq(cfg.disks[0].path, "a.img");
	ck_assert(!cfg.disks[0].readonly && !cfg.disks[0].direct);
	ck_assert_str_eq(cfg.disks[1].path, "/dev/sdx");
	ck_assert(cfg.disks[1].readonly && !cfg.disks[1].direct);
	ck_assert_str_eq(cfg.disks[2].path, "b.raw");
	ck_assert(cfg.disks[2].readonly && cfg.disks[2].direct);
	ck_assert_int_eq(cfg.disks[0].aio, DISK_AIO_AUTO);
	ck_assert_uint_eq(cfg.disks[0].queues, 0);
	ck_assert_int_eq(cfg.nnets, 2);
	ck_assert_str_eq(cfg.nets[0].tap, "tap0");
	ck_assert(!cfg.nets[0].has_mac);
	ck_assert_str_eq(cfg.nets[1].tap, "vm1");
	ck_assert(cfg.nets[1].has_mac);
	ck_assert_mem_eq(cfg.nets[1].mac, mac, 6);
	ck_assert(cfg.rng);
	ck_assert_int_eq(cfg.console, CONSOLE_PTY);
	ck_assert_int_eq(parse("--console file:/tmp/hvc0.log"), CLI_RUN);
	ck_assert_int_eq(cfg.console, CONSOLE_FILE);
	ck_assert_str_eq(cfg.console_path, "/tmp/hvc0.log");
	ck_assert_int_eq(parse("--serial none --console stdio"), CLI_RUN);
	ck_assert_int_eq(cfg.console, CONSOLE_STDIO);
	ck_assert_int_eq(parse("--console stdio --serial file:/tmp/s"), CLI_RUN);
	/* Eight disks fit, and the defaults come back for the next parse. */
	ck_assert_int_eq(parse("--disk 1 --disk 2 --disk 3 --disk 4 --disk 5 --disk 6 --disk 7 --disk 8"), CLI_RUN);
	ck_assert_int_eq(cfg.ndisks, 8);
	ck_assert_int_eq(parse(""), CLI_RUN);
	ck_assert_int_eq(cfg.ndisks, 0);
	ck_assert_int_eq(parse("--disk c.img,aio=threads,queues=3 --disk d.img,aio=io_uring"), CLI_RUN);
	ck_assert_int_eq(cfg.disks[0].aio, DISK_AIO_THREADS);
	ck_assert_uint_eq(cfg.disks[0].queues, 3);
	ck_assert_int_eq(cfg.disks[1].aio, DISK_AIO_IO_URING);
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
	ck_assert(cfg.viommu.ir);		/* interrupt remapping by default */
	ck_assert_int_eq(parse("--viommu flts,ir=off,fs1gp=off"), CLI_RUN);
	ck_assert(!cfg.viommu.ir && !cfg.viommu.fs1gp);
	ck_assert_int_eq(parse("--cpus 288 --viommu flts"), CLI_RUN);
	ck_assert_int_eq(cfg.ncpus, 288);
	ck_assert_int_eq(parse("--viommu slts,ir=off"), CLI_RUN);
	ck_assert(cfg.viommu.slts && !cfg.viommu.ir);
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
	expect_error("--cpus 0", "--cpus: '0' is not a number from 1 to 288");
	expect_error("--cpus 289 --viommu flts", "--cpus: '289' is not a number from 1 to 288");
	expect_error("--cpus 65", "--cpus 65: more than 64 vCPUs need x2APIC destinations, i.e. interrupt remapping (--viommu flts)");
	expect_error("--cpus 65 --viommu flts,ir=off", "--cpus 65: more than 64 vCPUs need x2APIC destinations");
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
	expect_error("--disk=,readonly", "--disk: ',readonly' has no image path");
	expect_error("--disk x.img,rw", "--disk: unknown option 'rw' (PATH takes readonly, direct, aio=io_uring|threads, queues=N)");
	expect_error("--disk x.img,aio=native", "--disk: unknown option 'aio=native'");
	expect_error("--viommu slts --vfio 01:00.0", "--vfio: --viommu slts cannot take a passed-through device");
	expect_error("--viommu slts,fs1gp=off", "--viommu: unknown option 'fs1gp=off' (slts takes ir=on|off)");
	expect_error("--viommu nested,bogus", "--viommu: unknown option 'bogus' (nested takes fs1gp=on|off, ir=on|off)");
	expect_error("--nested-virt=1", "--nested-virt takes no argument");
	expect_error("--viommu flts,ir=maybe", "--viommu: unknown option 'ir=maybe' (flts takes fs1gp=on|off, ir=on|off)");
	expect_error("--disk x.img,queues=0", "--disk: queues=0: want 1 to 8");
	expect_error("--disk x.img,queues=9", "--disk: queues=9: want 1 to 8");
	expect_error("--disk x.img,queues=2x", "--disk: queues=2x: want 1 to 8");
	expect_error("--disk x.img,queues=123456789", "--disk: queues=123456789: want 1 to 8");
	expect_error("--disk x.img,", "--disk: unknown option ''");
	expect_error("--disk 1 --disk 2 --disk 3 --disk 4 --disk 5 --disk 6 --disk 7 --disk 8 --disk 9",
		     "--disk: at most 8 disks");
	expect_error("--net tap=", "--net: '' is not an interface name");
	expect_error("--net tap=a-very-long-ifname", "--net: 'a-very-long-ifname' is not an interface name");
	expect_error("--net tap=../x", "not an interface name");
	expect_error("--net mac=02:00:00:00:00:01", "--net: 'mac=02:00:00:00:00:01' names no tap device");
	expect_error("--net tap=t0,mac=01:00:00:00:00:01", "--net: '01:00:00:00:00:01' is not a unicast MAC address");
	expect_error("--net tap=t0,mac=00:00:00:00:00:00", "is not a unicast MAC");
	expect_error("--net tap=t0,mac=02:00:00:00:00", "is not a unicast MAC");
	expect_error("--net tap=t0,mac=02-00-00-00-00-01", "is not a unicast MAC");
	expect_error("--net tap=t0,mac=02:00:00:00:00:0g", "is not a unicast MAC");
	expect_error("--net tap=t0,queues=2", "--net: unknown option 'queues=2'");
	expect_error("--net tap=t0 --net tap=t0", "--net: tap 't0' is used twice");
	expect_error("--net tap=a --net tap=b --net tap=c --net tap=d --net tap=e", "--net: at most 4 network devices");
	expect_error("--rng=1", "--rng takes no argument");
	expect_error("--console tty", "--console: 'tty' is not pty, file:PATH or stdio");
	expect_error("--console file:", "--console: 'file:' is not");
	expect_error("--console pty --console pty", "--console: only one virtio console");
	expect_error("--console stdio", "--console stdio needs --serial file:PATH or none");
	expect_error("--serial stdio --console stdio", "COM1 already uses stdio");
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
	tcase_add_test(tc, virtio_devices);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, help_and_version);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cli_suite)
