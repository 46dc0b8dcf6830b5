/*
 * Tier 1 (Check, in-process, no KVM): the ACPI tables as ACPICA's own tools see them
 * (acpica-tools: iasl, acpiexec; missing tools fail the tests, they are not skipped).
 *
 * - every table disassembles (`iasl -d`) with no error or warning in iasl's output or complaint in
 *   the disassembly, and the disassembly compiles back with 0 errors, 0 warnings and 0 remarks:
 *   to the same bytes for data tables (except the checksum and creator fields iasl rewrites), to
 *   equivalent AML for the DSDT (iasl shortens names);
 * - iasl decodes our field values at the offsets we meant (an independent check of the structs);
 * - the RSDP, which iasl 20200925 cannot load ("Loading an RSDP is not supported"), is compiled by
 *   iasl from its field values, with iasl's own checksums, and compared;
 * - acpiexec (the ACPICA interpreter) runs \_SB.PCI0._OSC, reads \_S5 and walks every entry of
 *   \_SB.PCI0._PRT through test SSDTs.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/acpi_test.h"
#include "tests/unit/check_main.h"
#include "vmm/util.h"

#define BASE LAYOUT_ACPI_BASE
#define SIZE LAYOUT_ACPI_SIZE

struct built {
	uint8_t buf[SIZE];
	struct acpi_test_table t[ACPI_TEST_MAX_TABLES];
	int n;
};

static struct built B;

#define le32 acpi_test__le32
#define le64 acpi_test__le64

static void build(const struct acpi_config *cfg, struct built *b)
{
	int64_t r = acpi__build(cfg, b->buf, BASE, SIZE);

	ck_assert_msg(r == (int64_t)BASE, "acpi__build: %lld", (long long)r);
	b->n = acpi_test__walk(b->buf, BASE, SIZE, b->t);
	ck_assert_msg(b->n > 0, "tables do not link up");
}

static const struct acpi_test_table *find(const struct built *b, const char *sig)
{
	const struct acpi_test_table *found = NULL;

	for (int i = 0; i < b->n; i++) {
		if (!strcmp(b->t[i].sig, sig)) {
			ck_assert_msg(!found, "two %s tables", sig);
			found = &b->t[i];
		}
	}
	return found;
}

/* Temporary directories are removed after a passing test and kept (named in the message) on failure. */
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char tmpdir[64];

static void mk_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/minivmm-acpi-XXXXXX");
	ck_assert(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

static void write_file(const char *name, const void *p, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	ck_assert(fwrite(p, 1, len, f) == len);
	ck_assert(fclose(f) == 0);
}

/* A file of tmpdir as a NUL-terminated string (NULL if missing). */
static char *slurp(const char *name, size_t *len)
{
	char path[256];
	uint8_t *data;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (read_file(path, &data, &n))
		return NULL;
	data = realloc(data, n + 1);
	ck_assert(data);
	data[n] = '\0';
	if (len)
		*len = n;
	return (char *)data;
}

/* Run a shell command in tmpdir with its output in tmpdir/@log. Returns the exit status. */
static int run(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(const char *log, const char *fmt, ...)
{
	char cmd[1024], full[1400];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && %s > '%s' 2>&1 < /dev/null", tmpdir, cmd, log);
	st = system(full);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void need_tool(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s > /dev/null 2>&1", tool);
	ck_assert_msg(system(cmd) == 0, "%s not found: install acpica-tools (scripts/install-deps.sh)", tool);
}

/* One table in tmpdir, e.g. FACP.dat. */
static void put(const struct acpi_test_table *t)
{
	char name[16];

	snprintf(name, sizeof(name), "%s.dat", t->sig);
	write_file(name, t->p, t->len);
}

/* No line of iasl's output mentions an error or a warning (iasl prints both in mixed case). */
static void check_clean_log(const char *log, const char *what)
{
	char *out = slurp(log, NULL);

	ck_assert_msg(out, "%s: no iasl output", what);
	ck_assert_msg(!strcasestr(out, "error") && !strcasestr(out, "warning"), "%s: iasl said (in %s):\n%.2000s",
		      what, tmpdir, out);
	free(out);
}

/*
 * The compiler's summary: "Compilation successful. 0 Errors, 0 Warnings, 0 Remarks" and no message
 * lines ("Error    6xxx -", "Warning  3xxx -") before it. Remarks count too: iasl reports some real
 * mistakes only as remarks (a Package with fewer elements than its declared count).
 */
static void check_compile_log(const char *log, const char *what)
{
	char *out = slurp(log, NULL), *sum;

	ck_assert_msg(out, "%s: no iasl output", what);
	sum = strstr(out, "Compilation successful. 0 Errors, 0 Warnings, 0 Remarks");
	ck_assert_msg(sum, "%s: iasl said (in %s):\n%.2000s", what, tmpdir, out);
	*sum = '\0';
	ck_assert_msg(!strcasestr(out, "error") && !strcasestr(out, "warning"), "%s: iasl said (in %s):\n%.2000s",
		      what, tmpdir, out);
	free(out);
}

/* Disassemble every table, check the output, and compile the disassembly back. */
static void iasl_roundtrip(const struct built *b)
{
	for (int i = 1; i < b->n; i++) {		/* [0] is the RSDP: see iasl_rsdp */
		const struct acpi_test_table *t = &b->t[i];
		char name[16], *dsl, *aml, *bad;
		size_t aml_len;

		put(t);
		snprintf(name, sizeof(name), "%s.dat", t->sig);
		ck_assert_msg(run("d.log", "iasl -d %s.dat", t->sig) == 0, "iasl -d %s failed", t->sig);
		check_clean_log("d.log", name);
		snprintf(name, sizeof(name), "%s.dsl", t->sig);
		dsl = slurp(name, NULL);
		ck_assert_msg(dsl, "iasl -d wrote no %s", name);
		/* Data-table disassembler complaints are comments in the output ("****", "Incorrect"). */
		bad = strstr(dsl, "****");
		if (!bad)
			bad = strcasestr(dsl, "incorrect");
		ck_assert_msg(!bad, "%s/%s: %.200s", tmpdir, name, bad);
		free(dsl);

		ck_assert_msg(run("c.log", "iasl %s.dsl", t->sig) == 0, "iasl %s.dsl failed", t->sig);
		check_compile_log("c.log", name);
		snprintf(name, sizeof(name), "%s.aml", t->sig);
		aml = slurp(name, &aml_len);
		ck_assert_msg(aml, "iasl wrote no %s", name);
		/*
		 * Data tables come back byte for byte, except the checksum and the creator ID and
		 * revision, which iasl sets to its own. The DSDT does not: iasl optimizes names.
		 */
		if (strcmp(t->sig, "DSDT")) {
			ck_assert_uint_eq(aml_len, t->len);
			for (size_t j = 0; j < aml_len; j++)
				if (j != 9 && (j < 28 || j >= 36))
					ck_assert_msg((uint8_t)aml[j] == t->p[j], "%s byte %zu", t->sig, j);
		}
		free(aml);
	}
}

/* iasl 20200925 cannot load a binary RSDP; compile one from our field values and compare. */
static void iasl_rsdp(const struct built *b)
{
	const uint8_t *r = b->buf;
	char src[1024], *aml;
	size_t len;

	snprintf(src, sizeof(src),
		 "[0008] Signature : \"RSD PTR \"\n[0001] Checksum : 00\n[0006] Oem ID : \"%.6s\"\n"
		 "[0001] Revision : %02X\n[0004] RSDT Address : %08X\n[0004] Length : %08X\n"
		 "[0008] XSDT Address : %016llX\n[0001] Extended Checksum : 00\n[0003] Reserved : 000000\n",
		 (const char *)r + 9, r[15], le32(r + 16), le32(r + 20), (unsigned long long)le64(r + 24));
	write_file("rsdp.asl", src, strlen(src));
	ck_assert_msg(run("r.log", "iasl rsdp.asl") == 0, "iasl rsdp.asl failed");
	check_compile_log("r.log", "rsdp.asl");
	aml = slurp("rsdp.aml", &len);
	ck_assert(aml);
	ck_assert_uint_eq(len, 36);
	ck_assert_msg(!memcmp(aml, r, 36), "iasl's RSDP (its own checksums) differs from ours");
	free(aml);
}

/* iasl's decoding of @sig contains the line "Field : Value" (any spacing). */
static void dsl_has(const char *sig, const char *field, const char *value)
{
	char name[16], *dsl, *p;
	bool found = false;

	snprintf(name, sizeof(name), "%s.dsl", sig);
	dsl = slurp(name, NULL);
	ck_assert(dsl);
	for (p = dsl; (p = strstr(p, field)); p++) {
		const char *v = p + strlen(field);

		while (*v == ' ' || *v == ':')
			v++;
		if (p[-1] == ' ' && !strncmp(v, value, strlen(value))) {
			found = true;
			break;
		}
	}
	ck_assert_msg(found, "%s: no \"%s : %s\" in iasl's decoding", sig, field, value);
	free(dsl);
}

static void check_iasl(const struct acpi_config *cfg)
{
	need_tool("iasl");
	build(cfg, &B);
	mk_tmpdir();
	iasl_roundtrip(&B);
	iasl_rsdp(&B);
	rm_tmpdir();
}

START_TEST(test_iasl_goldens)
{
	struct acpi_config cfg;

	acpi_test__golden_config(&cfg, &acpi_goldens[_i]);
	check_iasl(&cfg);
}
END_TEST

START_TEST(test_iasl_b)
{
	struct acpi_config cfg;

	acpi_test__config_b(&cfg);
	if (_i)
		cfg.ncpus = 288;	/* x2APIC MADT entries (and their NMI entry) from APIC ID 255 */
	check_iasl(&cfg);
}
END_TEST

/* iasl reads our fields at the offsets we wrote them to (an independent check of the structs). */
START_TEST(test_iasl_fields)
{
	struct acpi_config cfg;

	need_tool("iasl");
	acpi_test__config_b(&cfg);
	build(&cfg, &B);
	mk_tmpdir();
	iasl_roundtrip(&B);
	dsl_has("FACP", "SCI Interrupt", "000A");
	dsl_has("FACP", "PM1A Event Block Address", "0000B000");
	dsl_has("FACP", "PM1A Control Block Address", "0000B004");
	dsl_has("FACP", "PM Timer Block Address", "0000B008");
	dsl_has("FACP", "Value to cause reset", "06");
	dsl_has("FACP", "CMOS RTC Not Present (V5)", "1");
	dsl_has("FACP", "8042 Present on ports 60/64 (V2)", "0");
	dsl_has("FACP", "Reset Register Supported (V2)", "1");
	dsl_has("FACP", "Hardware Reduced (V5)", "0");
	dsl_has("APIC", "Local Apic Address", "FEE00000");
	dsl_has("APIC", "I/O Apic ID", "03");
	dsl_has("APIC", "Interrupt Input LINT", "01");
	dsl_has("MCFG", "Base Address", "00000000B0000000");
	dsl_has("MCFG", "End Bus Number", "3F");
	dsl_has("DMAR", "Host Address Width", "26");
	dsl_has("DMAR", "Register Base Address", "00000000FED91000");
	dsl_has("DMAR", "PCI Path", "1F,07");
	dsl_has("DMAR", "Enumeration ID", "03");
	rm_tmpdir();
}
END_TEST

/*
 * acpiexec (ACPICA's interpreter) loads the DSDT with a test SSDT whose method checks _OSC and
 * \_S5 and returns 0 on success or the number of the failed check.
 */
static const char osc_test_asl[] =
	"DefinitionBlock (\"\", \"SSDT\", 2, \"MINVMM\", \"OSCTEST\", 1)\n"
	"{\n"
	"  External (\\_SB.PCI0._OSC, MethodObj)\n"
	"  External (\\_S5, PkgObj)\n"
	"  Method (TEST, 0, NotSerialized)\n"
	"  {\n"
	"    Local0 = Buffer (12) { 0, 0, 0, 0,  0x1F, 0, 0, 0,  0x9D, 0, 0, 0 }\n"
	"    Local1 = \\_SB.PCI0._OSC (ToUUID (\"33DB4D5B-1FF7-401C-9657-7441C03DD766\"), 1, 3, Local0)\n"
	"    CreateDWordField (Local1, 0, CDW1)\n"
	"    CreateDWordField (Local1, 8, CDW3)\n"
	"    If (CDW1 != 0) { Return (1) }\n"
	"    If (CDW3 != 0x9D) { Return (2) }\n"
	"    Local0 = Buffer (12) { 0, 0, 0, 0,  0, 0, 0, 0,  0x1F, 0, 0, 0 }\n"
	"    Local1 = \\_SB.PCI0._OSC (ToUUID (\"33DB4D5B-1FF7-401C-9657-7441C03DD766\"), 2, 3, Local0)\n"
	"    CreateDWordField (Local1, 0, CDW4)\n"
	"    If (CDW4 != 0x08) { Return (3) }\n"
	"    Local0 = Buffer (12) { 0, 0, 0, 0,  0, 0, 0, 0,  0x1F, 0, 0, 0 }\n"
	"    Local1 = \\_SB.PCI0._OSC (ToUUID (\"00000000-0000-0000-0000-000000000000\"), 1, 3, Local0)\n"
	"    CreateDWordField (Local1, 0, CDW5)\n"
	"    If (CDW5 != 0x04) { Return (4) }\n"
	"    If (DerefOf (\\_S5 [0]) != 5) { Return (5) }\n"
	"    If (SizeOf (\\_S5) != 4) { Return (6) }\n"
	"    Return (0)\n"
	"  }\n"
	"}\n";

/*
 * The PCI routing table as the interpreter sees it: 124 entries, slot-major, each
 * { slot << 16 | 0xFFFF, pin, 0, 16 + ((slot + pin) & 3) } (devices/pci-host.h's swizzle). A
 * failure returns entry << 8 | check.
 */
static const char prt_test_asl[] =
	"DefinitionBlock (\"\", \"SSDT\", 2, \"MINVMM\", \"PRTTEST\", 1)\n"
	"{\n"
	"  External (\\_SB.PCI0._PRT, PkgObj)\n"
	"  Method (TEST, 0, NotSerialized)\n"
	"  {\n"
	"    If (SizeOf (\\_SB.PCI0._PRT) != 124) { Return (1) }\n"
	"    Local0 = 0\n"
	"    While (Local0 < 124)\n"
	"    {\n"
	"      Local1 = DerefOf (\\_SB.PCI0._PRT [Local0])\n"
	"      Local2 = (Local0 / 4) + 1\n"
	"      Local3 = Local0 % 4\n"
	"      If (SizeOf (Local1) != 4) { Return ((Local0 << 8) | 2) }\n"
	"      If (DerefOf (Local1 [0]) != ((Local2 << 16) | 0xFFFF)) { Return ((Local0 << 8) | 3) }\n"
	"      If (DerefOf (Local1 [1]) != Local3) { Return ((Local0 << 8) | 4) }\n"
	"      If (DerefOf (Local1 [2]) != 0) { Return ((Local0 << 8) | 5) }\n"
	"      If (DerefOf (Local1 [3]) != (16 + ((Local2 + Local3) & 3))) { Return ((Local0 << 8) | 6) }\n"
	"      Local0++\n"
	"    }\n"
	"    Return (0)\n"
	"  }\n"
	"}\n";

/* Load the golden reference DSDT and the SSDT @asl in acpiexec; \TEST must return 0. */
static void acpiexec_test(const char *asl)
{
	const struct acpi_test_table *dsdt;
	struct acpi_config cfg;
	char *out;

	need_tool("iasl");
	need_tool("acpiexec");
	acpi_test__golden_config(&cfg, &acpi_goldens[0]);
	build(&cfg, &B);
	mk_tmpdir();
	dsdt = find(&B, "DSDT");
	if (!dsdt)
		ck_abort_msg("no DSDT");
	else
		put(dsdt);
	write_file("test.asl", asl, strlen(asl));
	ck_assert_msg(run("t.log", "iasl test.asl") == 0, "iasl test.asl failed");
	check_compile_log("t.log", "test.asl");
	ck_assert_msg(run("x.log", "timeout 60 acpiexec -b 'evaluate \\TEST' DSDT.dat test.aml") == 0,
		      "acpiexec failed");
	out = slurp("x.log", NULL);
	ck_assert(out);
	ck_assert_msg(strstr(out, "Evaluation of \\TEST returned") && strstr(out, "[Integer] = 0000000000000000"),
		      "acpiexec (in %s):\n%.3000s", tmpdir, out);
	free(out);
	rm_tmpdir();
}

START_TEST(test_acpiexec_osc)
{
	acpiexec_test(osc_test_asl);
}
END_TEST

START_TEST(test_acpiexec_prt)
{
	acpiexec_test(prt_test_asl);
}
END_TEST

static Suite *acpi_iasl_suite(void)
{
	Suite *s = suite_create("acpi_iasl");
	TCase *ti = tcase_create("iasl");

	tcase_add_loop_test(ti, test_iasl_goldens, 0, ACPI_NR_GOLDENS);
	tcase_add_loop_test(ti, test_iasl_b, 0, 2);
	tcase_add_test(ti, test_iasl_fields);
	tcase_add_test(ti, test_acpiexec_osc);
	tcase_add_test(ti, test_acpiexec_prt);
	tcase_set_timeout(ti, 120);
	suite_add_tcase(s, ti);
	return s;
}

CHECK_MAIN(acpi_iasl_suite)
