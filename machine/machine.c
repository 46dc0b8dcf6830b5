#include "machine/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acpi/acpi.h"
#include "machine/fdt.h"
#include "machine/files.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/stats.h"
#include "vmm/sys.h"
#include "machine/devices.h"
#include "vmm/term.h"
#include "vmm/util.h"

/* The embedded default guest (guest/default), linked in by the Makefile. */
extern const uint8_t default_guest_elf[], default_guest_elf_end[];

static void machine__stop(struct vm *vm, int status, const char *reason)
{
	struct machine *m = vm->owner;

	pthread_mutex_lock(&m->lock);
	if (!m->stopped) {
		m->stopped = true;
		m->status = status;
		snprintf(m->reason, sizeof(m->reason), "%s", reason);
		vm->stopping = 1;
		pthread_cond_signal(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
}

struct image {
	uint8_t *data;
	size_t len;
	bool owned;
};

static int load_file(const char *what, const char *path, struct image *img)
{
	int ret = read_file(path, &img->data, &img->len);

	if (ret) {
		pr_err("cannot read %s '%s': %s", what, path, ret == -EINVAL ? "not a regular file" : strerror(-ret));
		return VMM_EXIT_USAGE;
	}
	img->owned = true;
	return 0;
}

static int machine__build_tables(struct machine *m)
{
	struct acpi_config acpi;
	int64_t rsdp;
	int ret;

	machine_devices__acpi_config(m, &acpi);
	rsdp = acpi__build(&acpi, guest_mem__hva(&m->vm.mem, LAYOUT_ACPI_BASE, LAYOUT_ACPI_SIZE),
			   LAYOUT_ACPI_BASE, LAYOUT_ACPI_SIZE);
	if (rsdp < 0) {
		pr_err("building the ACPI tables: %s", strerror((int)-rsdp));
		return VMM_EXIT_ERROR;
	}
	m->rsdp = rsdp;
	ret = fdt__build(m, &m->dtb, &m->dtb_len);
	if (ret) {
		pr_err("building the device tree: %s", strerror(-ret));
		return VMM_EXIT_ERROR;
	}
	return 0;
}

static int machine__load(struct machine *m, const struct image *kernel, const struct image *initrd)
{
	const struct vmm_config *cfg = m->cfg;
	struct boot_input in = {
		.image = kernel->data, .image_len = kernel->len,
		.image_name = cfg->kernel ? cfg->kernel : "default guest",
		.initrd = initrd->data, .initrd_len = initrd->len,
		.cmdline = cfg->cmdline,
	};
	char err[256] = "";
	int ret = boot__load(&m->vm.mem, &in, &m->entry, err, sizeof(err));

	if (ret) {
		pr_err("%s", err[0] ? err : strerror(-ret));
		return VMM_EXIT_USAGE;
	}
	return 0;
}

/* The tables exist once the devices do, after the image was loaded: the guest learns where they are. */
static int machine__set_tables(struct machine *m)
{
	char err[256] = "";
	int ret = boot__set_tables(&m->vm.mem, &m->entry, m->dtb, m->dtb_len, m->rsdp, err, sizeof(err));

	if (ret) {
		pr_err("%s", err[0] ? err : strerror(-ret));
		return VMM_EXIT_USAGE;
	}
	return 0;
}

static int machine__create_vcpus(struct machine *m)
{
	/* KVM_CAP_MAX_VCPUS: the host's limit (0 would mean "not reported": KVM then refuses itself). */
	int max = sys__kvm_check_extension(m->vm.kvm_fd, KVM_CAP_MAX_VCPUS);

	if (max > 0 && m->cfg->ncpus > max) {
		pr_err("--cpus %d: the host KVM runs at most %d vCPUs in a VM (KVM_CAP_MAX_VCPUS)", m->cfg->ncpus, max);
		return VMM_EXIT_USAGE;
	}
	for (int i = 0; i < m->cfg->ncpus; i++) {
		if (vcpu__init(&m->vcpus[i], &m->vm, i, m->cfg->ncpus))
			return VMM_EXIT_ERROR;
		m->ncpus++;
	}
	return vcpu__setup_boot(&m->vcpus[0], &m->entry) ? VMM_EXIT_ERROR : 0;
}

/* --kernel (else the embedded default guest) and --initrd, read whole. */
static int machine__read_images(const struct vmm_config *cfg, struct image *kernel, struct image *initrd)
{
	int ret;

	if (cfg->kernel) {
		ret = load_file("kernel", cfg->kernel, kernel);
		if (ret)
			return ret;
	} else {
		kernel->data = (uint8_t *)default_guest_elf;
		kernel->len = default_guest_elf_end - default_guest_elf;
	}
	return cfg->initrd ? load_file("initrd", cfg->initrd, initrd) : 0;
}

void machine__device_error(struct machine *m, const char *err)
{
	snprintf(m->device_err, sizeof(m->device_err), "%s", err);
	if (!m->cfg->probe)
		pr_err("%s", err);
}

/* --vfio: the sysfs checks (no such device, not bound to vfio-pci) and the cdev; no VM needed. */
static int machine__open_vfio(struct machine *m)
{
	char err[512];

	for (int i = 0; i < m->cfg->nvfio; i++) {
		if (vfio__open(&m->vfio_dev[i], m->cfg->vfio[i], m->cfg->vfio_paths, err, sizeof(err))) {
			machine__device_error(m, err);
			return VMM_EXIT_ERROR;	/* the host cannot do it, as for the later VFIO steps */
		}
	}
	return 0;
}

/*
 * A run needs KVM. --dump-dtb does not: with a usable /dev/kvm it builds the machine as a run does
 * (the same host checks and objects, KVM-VFIO included), without one it stays offline (vmm/vm.h),
 * which builds the same devices and so the same device tree. A probe never creates a VM.
 */
static bool machine__needs_kvm(const struct machine *m)
{
	if (m->cfg->probe)
		return false;
	return !m->cfg->dump_dtb || !access(m->cfg->kvm_dev, R_OK | W_OK);
}

/*
 * --nested-virt keeps the host's VMX/SVM in the guest's CPUID (what a guest KVM needs besides, NX, the
 * vendor, the maximum extended leaf and SVM's leaf 8000000Ah, comes with KVM_GET_SUPPORTED_CPUID as it
 * is); without it they are hidden. Off by default: a guest hypervisor is a large surface, runs its own
 * guests slower than the host would, and most guests do not want one.
 */
static int machine__nested_virt(struct machine *m)
{
	const char *ext;

	if (vm__offline(&m->vm))
		return 0;
	if (!m->cfg->nested_virt) {
		cpuid__hide_virt_ext(m->vm.supported_cpuid);
		return 0;
	}
	ext = cpuid__virt_ext(m->vm.supported_cpuid);
	if (!ext) {
		pr_err("--nested-virt: the host KVM cannot run nested guests (KVM_GET_SUPPORTED_CPUID offers neither "
		       "VMX nor SVM: load kvm_intel or kvm_amd with nested=1, on a CPU that has them)");
		return VMM_EXIT_ERROR;
	}
	pr_info("nested virtualization: %s passed to the guest", ext);
	return 0;
}

static int machine__build(struct machine *m, const struct image *kernel, const struct image *initrd)
{
	const struct vmm_config *cfg = m->cfg;
	int ret;

	/* Everything that needs no VM comes first: a bad file, size or device says so on any host. */
	ret = machine_files__open(m);
	if (ret)
		return ret;
	if (vm__init(&m->vm, cfg->mem_size))
		return VMM_EXIT_ERROR;
	m->vm.owner = m;
	m->vm.stop = machine__stop;
	ret = machine__open_vfio(m);
	/* --dump-dtb and probe do not boot: the image is not loaded (nor checked). */
	if (!ret && !cfg->dump_dtb && !cfg->probe)
		ret = machine__load(m, kernel, initrd);
	if (ret)
		return ret;
	/* Interrupt remapping needs the IOAPIC's messages: the IOAPIC moves out of KVM (vmm/irq.h). */
	m->vm.irq.split = cfg->viommu.enabled && cfg->viommu.ir;
	if (machine__needs_kvm(m) && vm__attach_kvm(&m->vm, cfg->kvm_dev))
		return VMM_EXIT_ERROR;
	ret = machine__nested_virt(m);
	if (ret)
		return ret;
	ret = machine_devices__init(m);
	if (!ret && cfg->probe)
		return -1;	/* every device came up: what a probe asks */
	if (!ret)
		ret = machine__build_tables(m);
	if (ret)
		return ret;
	if (cfg->dump_dtb) {
		ret = machine_files__write_dtb(m);
		return ret ? ret : -1;	/* done: exit 0 without running */
	}
	ret = machine__set_tables(m);
	return ret ? ret : machine__create_vcpus(m);
}

int machine__init(struct machine *m, const struct vmm_config *cfg)
{
	struct image kernel = { 0 }, initrd = { 0 };
	int ret;

	memset(m, 0, sizeof(*m));
	stats__init();
	m->cfg = cfg;
	/* so machine__exit() is safe after any failure */
	m->serial_fd = m->dump_fd = -1;
	m->vm.kvm_fd = m->vm.vm_fd = -1;
	for (int i = 0; i < VMM_MAX_VFIO; i++)
		m->vfio_dev[i].fd = -1;
	m->input_wake = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	if (cfg->verbose)
		log__level = cfg->verbose > 1 ? LOG_DEBUG : LOG_INFO;

	/* Read the images first: a bad file must not leave anything half-started. */
	ret = machine__read_images(cfg, &kernel, &initrd);
	if (!ret)
		ret = machine__build(m, &kernel, &initrd);
	machine_files__close_dump(m, ret > 0);
	if (kernel.owned)
		free(kernel.data);
	if (initrd.owned)
		free(initrd.data);
	return ret;
}

static void machine__input_ready(void *opaque)
{
	struct machine *m = opaque;
	uint64_t one = 1;

	if (write(m->input_wake, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow: nothing to do */
	}
}

/*
 * The input thread: host stdin to the guest's console. When the UART's receive FIFO is full it stops
 * reading stdin (so nothing is lost) until the guest drains the FIFO and the UART says so through
 * m->input_wake; the same eventfd tells the thread to end once the machine has stopped.
 */
static void *machine__input_thread(void *arg)
{
	struct machine *m = arg;
	uint8_t buf[256];
	size_t have = 0, off = 0;

	pthread_setname_np(pthread_self(), "input");
	while (!m->vm.stopping) {
		/* A negative fd is ignored by poll: while input waits, a closed pipe's POLLHUP must not spin. */
		struct pollfd p[2] = { { .fd = have ? -1 : STDIN_FILENO, .events = POLLIN },
				       { .fd = m->input_wake, .events = POLLIN } };
		uint64_t cnt;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN && read(m->input_wake, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			break;
		if (!have && (p[0].revents & (POLLIN | POLLHUP))) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				if (n < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				break;	/* EOF: no more input, the guest keeps running */
			}
			have = n;
			off = 0;
		} else if (!have && (p[0].revents & (POLLNVAL | POLLERR))) {
			break;
		}
		if (have) {
			size_t took = machine_devices__console_input(m, buf + off, have);
			off += took;
			have -= took;
		}
	}
	return NULL;
}

static bool machine__start_input(struct machine *m, pthread_t *thread)
{
	m->input_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->input_wake < 0) {
		pr_warn("no console input: eventfd: %s", strerror(errno));
		return false;
	}
	machine_devices__console_on_ready(m, machine__input_ready, m);
	if (pthread_create(thread, NULL, machine__input_thread, m)) {
		pr_warn("no console input: cannot start the input thread");
		return false;
	}
	return true;
}

int machine__run(struct machine *m)
{
	pthread_t input;
	bool have_input = false;

	if (m->cfg->serial == SERIAL_STDIO) {
		term__raw(STDIN_FILENO);
		have_input = machine__start_input(m, &input);
	}
	for (int i = 0; i < m->ncpus; i++) {
		if (vcpu__start(&m->vcpus[i])) {
			machine__stop(&m->vm, VMM_EXIT_ERROR, "cannot start the vCPU threads");
			break;
		}
	}
	pthread_mutex_lock(&m->lock);
	while (!m->stopped)
		pthread_cond_wait(&m->cond, &m->lock);
	pthread_mutex_unlock(&m->lock);
	for (int i = 0; i < m->ncpus; i++)
		if (m->vcpus[i].thread)
			vcpu__kick(&m->vcpus[i]);
	for (int i = 0; i < m->ncpus; i++)
		if (m->vcpus[i].thread)
			pthread_join(m->vcpus[i].thread, NULL);
	if (have_input) {
		machine__input_ready(m);	/* vm.stopping is set: the thread ends */
		pthread_join(input, NULL);
	}
	term__restore();
	stats__report(&m->vm.mem);
	if (m->status == VMM_EXIT_CRASH || m->status == VMM_EXIT_ERROR)
		pr_err("%s", m->reason);
	else if (m->status == VMM_EXIT_RESET)
		pr_warn("%s", m->reason);
	else
		pr_info("%s", m->reason);
	return m->status;
}

void machine__exit(struct machine *m)
{
	machine_devices__exit(m);
	if (m->input_wake >= 0)
		close(m->input_wake);
	for (int i = 0; i < m->ncpus; i++)
		vcpu__exit(&m->vcpus[i]);
	free(m->dtb);
	vm__exit(&m->vm);
	if (m->serial_fd > STDERR_FILENO)
		close(m->serial_fd);
}
