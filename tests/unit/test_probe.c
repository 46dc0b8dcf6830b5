/*
 * Tier 1 (Check, in-process, no KVM): `minivmm probe` (machine/probe.c) on the fake VFIO/iommufd host.
 *
 * For each way the fake host can refuse a passthrough (and two where it accepts), the probe's line is
 * compared with what a launch gives for the same device on the same host: the launch's device set-up
 * (vfio_pci__create in a machine on the fake KVM, tests/unit/vfio_testlib.h) must fail exactly when
 * the probe says "not usable", with the probe's reason word for word. Each scenario also names the
 * verdict it expects, so agreement on a wrong answer fails too. The fixture's teardown checks that
 * neither left a descriptor or an HWPT behind.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iommu/vtd-hw.h"
#include "machine/cli.h"
#include "machine/probe.h"
#include "tests/unit/check_main.h"
#include "tests/unit/vfio_testlib.h"
#include "vmm/util.h"

#define UNBOUND	"0000:02:00.0"
#define ABSENT	"0000:03:00.0"

struct scenario {
	const char *name;
	const char *viommu;	/* --viommu argument */
	const char *bdf;
	bool usable;		/* the verdict both must give */
	const char *why;	/* part of the reason when not usable */
	void (*host)(void);	/* how the fake host differs from a capable one */
};

static void capable(void) {}
static void no_nest(void) { fake_vfio.ecap &= ~VTD_ECAP_NEST; }
static void not_vtd(void) { fake_vfio.hw_type = 2; }
static void no_fs1gp(void) { fake_vfio.cap &= ~VTD_CAP_FS1GP; }
static void aw39(void) { fake_vfio.cap = (fake_vfio.cap & ~VTD_CAP_MGAW(64)) | VTD_CAP_MGAW(39); }
static void no_srs(void) { fake_vfio.ecap &= ~VTD_ECAP_SRS; }
static void no_smpwc(void) { fake_vfio.ecap &= ~VTD_ECAP_SMPWC; }
static void bind_refused(void) { fake_vfio__fail(VFIO_DEVICE_BIND_IOMMUFD, EPERM, 0, 0); }
static void attach_refused(void) { fake_vfio__fail(VFIO_DEVICE_ATTACH_IOMMUFD_PT, EINVAL, 0, 0); }
static void map_refused(void) { fake_vfio__fail(IOMMU_IOAS_MAP, ENOMEM, 0, 0); }
static void hw_info_refused(void) { fake_vfio__fail(IOMMU_GET_HW_INFO, EOPNOTSUPP, 0, 0); }
static void no_iommufd(void) { ck_assert_int_eq(unlink(fake_vfio.iommu), 0); }
static void unbound(void) { fake_vfio__add_unbound(UNBOUND); }

static const struct scenario scenarios[] = {
	{ "off, capable host", "off", BDF, true, NULL, capable },
	{ "flts, capable host", "flts", BDF, true, NULL, capable },
	{ "flts,fs1gp=off without FS1GP", "flts,fs1gp=off", BDF, true, NULL, no_fs1gp },
	{ "flts without nesting", "flts", BDF, false, "no nested translation (VT-d ECAP.NEST=0", no_nest },
	{ "flts, not VT-d", "flts", BDF, false, "is not Intel VT-d", not_vtd },
	{ "flts without FS1GP", "flts", BDF, false, "use --viommu flts,fs1gp=off", no_fs1gp },
	{ "flts, 39-bit host", "flts", BDF, false, "the host IOMMU only 39", aw39 },
	{ "flts without SRS", "flts", BDF, false, "ECAP.SRS=0", no_srs },
	{ "flts without SMPWC", "flts", BDF, false, "ECAP.SMPWC=0", no_smpwc },
	{ "flts, GET_HW_INFO refused", "flts", BDF, false, "IOMMU_GET_HW_INFO", hw_info_refused },
	{ "off, bind refused", "off", BDF, false, "BIND", bind_refused },
	{ "off, attach refused", "off", BDF, false, "VFIO_DEVICE_ATTACH_IOMMUFD_PT", attach_refused },
	{ "flts, attach refused", "flts", BDF, false, "VFIO_DEVICE_ATTACH_IOMMUFD_PT", attach_refused },
	{ "off, RAM not mappable", "off", BDF, false, "locked-memory limit", map_refused },
	{ "off, no /dev/iommu", "off", BDF, false, "does not exist", no_iommufd },
	{ "off, not bound to vfio-pci", "off", UNBOUND, false, "not bound to vfio-pci", unbound },
	{ "flts, no such device", "flts", ABSENT, false, "no such PCI device", capable },
};

/* The probe's configuration, as `minivmm probe --viommu V --mem 64M BDF` parses it, on the fake host. */
static void probe_config(struct vmm_config *cfg, const struct scenario *sc)
{
	char *argv[] = { "minivmm", "probe", "--viommu", (char *)sc->viommu, "--mem", "64M", (char *)sc->bdf };
	char err[256];

	ck_assert_int_eq(cli__parse(ARRAY_SIZE(argv), argv, cfg, err, sizeof(err), stdout), CLI_RUN);
	ck_assert(cfg->probe);
	cfg->vfio_paths = &fake_vfio.paths;
	cfg->iommu_path = fake_vfio.iommu;
}

static void nothing(void) {}

START_TEST(probe_agrees_with_launch)
{
	const struct scenario *sc = &scenarios[_i];
	static struct vmm_config cfg;
	char line[768], want[768], head[32];
	const char *mode = strncmp(sc->viommu, "off", 3) ? sc->viommu : "off";
	struct vtd_options no1g = { .fs1gp = false };
	int probe, launch;

	vfx__start(strcmp(sc->viommu, "off"), strstr(sc->viommu, "fs1gp=off") ? &no1g : NULL);
	sc->host();
	probe_config(&cfg, sc);
	probe = probe__one(&cfg, sc->bdf, line, sizeof(line));
	launch = vfx__create_on(vfx.vh, sc->bdf, &vfx.vp);

	snprintf(head, sizeof(head), "vfio %s: ", sc->bdf);
	if (launch) {
		ck_assert_int_eq(strncmp(vfx.err, head, strlen(head)), 0);
		snprintf(want, sizeof(want), "%s: not usable with --viommu %s: %s", sc->bdf, mode, vfx.err + strlen(head));
	} else {
		snprintf(want, sizeof(want), "%s: usable with --viommu %s", sc->bdf, mode);
	}
	ck_assert_msg(!strcmp(line, want), "%s:\n  probe:  %s\n  launch: %s", sc->name, line, want);
	ck_assert_int_eq(probe == 0, launch == 0);
	ck_assert_msg((probe == 0) == sc->usable, "%s: %s", sc->name, line);
	if (sc->why)
		ck_assert_contains(line, sc->why);
}
END_TEST

/* The whole command: a line per function, status 1 when one is not usable, -v describes the host. */
START_TEST(probe_run_lines_and_status)
{
	static struct vmm_config cfg;
	char *argv[] = { "minivmm", "probe", "-v", "--viommu", "flts", BDF, ABSENT };
	char err[256], *out = NULL;
	size_t len = 0;
	FILE *f;

	vfx__start(true, NULL);
	fake_vfio.ecap &= ~VTD_ECAP_NEST;
	ck_assert_int_eq(cli__parse(ARRAY_SIZE(argv), argv, &cfg, err, sizeof(err), stdout), CLI_RUN);
	cfg.vfio_paths = &fake_vfio.paths;
	cfg.iommu_path = fake_vfio.iommu;
	f = open_memstream(&out, &len);
	ck_assert_int_eq(probe__run(&cfg, f), 1);
	fclose(f);
	ck_assert_contains(out, BDF ": not usable with --viommu flts: host IOMMU incompatible with --viommu flts: "
				"no nested translation (VT-d ECAP.NEST=0");
	ck_assert_contains(out, "NEST 0");
	ck_assert_contains(out, "SMTS 1");
	ck_assert_contains(out, "\n" ABSENT ": not usable with --viommu flts: no such PCI device");
	free(out);

	/* All usable: status 0. */
	fake_vfio.ecap |= VTD_ECAP_NEST;
	cfg.nprobe = 1;
	f = open_memstream(&out, &len);
	ck_assert_int_eq(probe__run(&cfg, f), 0);
	fclose(f);
	ck_assert_contains(out, BDF ": usable with --viommu flts\n");
	ck_assert_contains(out, "NEST 1");
	free(out);
}
END_TEST

/* Bad probe arguments: each a clear error. */
START_TEST(probe_arguments)
{
	static const struct { int argc; const char *argv[4]; const char *why; } bad[] = {
		{ 2, { "minivmm", "probe" }, "which PCI functions?" },
		{ 3, { "minivmm", "probe", "nonsense" }, "is not a PCI address" },
		{ 4, { "minivmm", "probe", "01:00.0", "0000:01:00.0" }, "is given twice" },
		{ 4, { "minivmm", "probe", "--disk", "x" }, "unknown option '--disk'" },
		{ 4, { "minivmm", "probe", "--viommu", "bogus" }, "unknown mode 'bogus'" },
	};
	static struct vmm_config cfg;
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(cli__parse(bad[i].argc, (char **)bad[i].argv, &cfg, err, sizeof(err), stdout), CLI_ERROR);
		ck_assert_contains(err, bad[i].why);
	}
}
END_TEST

static Suite *probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = vfx__tcase(s, "probe", nothing, vfx__stop);

	tcase_add_loop_test(tc, probe_agrees_with_launch, 0, ARRAY_SIZE(scenarios));
	tcase_add_test(tc, probe_run_lines_and_status);
	tcase_add_test(tc, probe_arguments);
	return s;
}

CHECK_MAIN(probe_suite)
