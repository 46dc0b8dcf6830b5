/* The host files the machine writes (machine/files.h). */
#include "machine/files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/machine.h"
#include "vmm/log.h"

static int open_serial(struct machine *m)
{
	const struct vmm_config *cfg = m->cfg;

	switch (cfg->serial) {
	case SERIAL_STDIO:
		m->serial_fd = STDOUT_FILENO;
		return 0;
	case SERIAL_FILE:
		m->serial_fd = open(cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (m->serial_fd < 0) {
			pr_err("--serial file:%s: %s", cfg->serial_path, strerror(errno));
			return VMM_EXIT_USAGE;
		}
		return 0;
	case SERIAL_NONE:
	default:
		m->serial_fd = -1;
		return 0;
	}
}

static int dump_fail(struct machine *m)
{
	pr_err("cannot write the device tree to '%s': %s", m->cfg->dump_dtb, strerror(errno));
	return VMM_EXIT_USAGE;
}

/*
 * Opened now but written only at the end: a FILE that exists keeps its contents if the build fails
 * (it is cut to the new length only once written), and one this run created is removed again.
 */
static int open_dump(struct machine *m)
{
	const char *path = m->cfg->dump_dtb;

	if (!path)
		return 0;
	m->dump_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	m->dump_created = m->dump_fd >= 0;
	if (m->dump_fd < 0 && errno == EEXIST)
		m->dump_fd = open(path, O_WRONLY | O_CLOEXEC);
	return m->dump_fd < 0 ? dump_fail(m) : 0;
}

int machine_files__open(struct machine *m)
{
	int ret = open_serial(m);

	return ret ? ret : open_dump(m);
}

int machine_files__write_dtb(struct machine *m)
{
	struct stat st;
	int ret = 0;

	/* Only a regular file has an old tail to cut; a pipe or /dev/stdout takes the bytes as they come. */
	if (write(m->dump_fd, m->dtb, m->dtb_len) != (ssize_t)m->dtb_len ||
	    fstat(m->dump_fd, &st) || (S_ISREG(st.st_mode) && ftruncate(m->dump_fd, m->dtb_len)))
		ret = dump_fail(m);
	machine_files__close_dump(m, ret != 0);
	return ret;
}

void machine_files__close_dump(struct machine *m, bool failed)
{
	if (m->dump_fd < 0)
		return;
	close(m->dump_fd);
	m->dump_fd = -1;
	if (failed && m->dump_created)
		unlink(m->cfg->dump_dtb);
}
