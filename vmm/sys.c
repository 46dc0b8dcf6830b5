#include "vmm/sys.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stddef.h>
#include <sys/ioctl.h>

static int real_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

int (*sys__ioctl_fn)(int fd, unsigned long req, void *arg) = real_ioctl;

static __thread const char *last_failed = "";

const char *sys__last_ioctl(void)
{
	return last_failed;
}

int sys__ioctl(int fd, unsigned long req, void *arg, const char *name)
{
	int ret;

	do {
		ret = sys__ioctl_fn(fd, req, arg);
	} while (ret < 0 && errno == EINTR && req != KVM_RUN); /* KVM_RUN's EINTR means "kicked" */
	if (ret < 0) {
		last_failed = name;
		return -errno;
	}
	return ret;
}

/* Wrappers whose argument is a value rather than a pointer pass it through the void * slot. */
#define VAL(x) ((void *)(uintptr_t)(x))
#define PTR(x) ((void *)(x))

int sys__kvm_get_api_version(int kvm_fd) { return sys__ioctl(kvm_fd, KVM_GET_API_VERSION, NULL, "KVM_GET_API_VERSION"); }
int sys__kvm_create_vm(int kvm_fd) { return sys__ioctl(kvm_fd, KVM_CREATE_VM, NULL, "KVM_CREATE_VM"); }
int sys__kvm_check_extension(int fd, long cap) { return sys__ioctl(fd, KVM_CHECK_EXTENSION, VAL(cap), "KVM_CHECK_EXTENSION"); }
int sys__kvm_get_vcpu_mmap_size(int kvm_fd) { return sys__ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL, "KVM_GET_VCPU_MMAP_SIZE"); }
int sys__kvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid2 *c) { return sys__ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c, "KVM_GET_SUPPORTED_CPUID"); }

int sys__kvm_set_user_memory_region(int vm_fd, const struct kvm_userspace_memory_region *r) { return sys__ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, PTR(r), "KVM_SET_USER_MEMORY_REGION"); }
int sys__kvm_set_tss_addr(int vm_fd, uint64_t addr) { return sys__ioctl(vm_fd, KVM_SET_TSS_ADDR, VAL(addr), "KVM_SET_TSS_ADDR"); }
int sys__kvm_set_identity_map_addr(int vm_fd, uint64_t addr) { return sys__ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr, "KVM_SET_IDENTITY_MAP_ADDR"); }
int sys__kvm_create_irqchip(int vm_fd) { return sys__ioctl(vm_fd, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP"); }
int sys__kvm_create_pit2(int vm_fd, const struct kvm_pit_config *cfg) { return sys__ioctl(vm_fd, KVM_CREATE_PIT2, PTR(cfg), "KVM_CREATE_PIT2"); }
int sys__kvm_irq_line(int vm_fd, const struct kvm_irq_level *irq) { return sys__ioctl(vm_fd, KVM_IRQ_LINE, PTR(irq), "KVM_IRQ_LINE"); }
int sys__kvm_set_gsi_routing(int vm_fd, const struct kvm_irq_routing *r) { return sys__ioctl(vm_fd, KVM_SET_GSI_ROUTING, PTR(r), "KVM_SET_GSI_ROUTING"); }
int sys__kvm_irqfd(int vm_fd, const struct kvm_irqfd *f) { return sys__ioctl(vm_fd, KVM_IRQFD, PTR(f), "KVM_IRQFD"); }
int sys__kvm_ioeventfd(int vm_fd, const struct kvm_ioeventfd *e) { return sys__ioctl(vm_fd, KVM_IOEVENTFD, PTR(e), "KVM_IOEVENTFD"); }
int sys__kvm_signal_msi(int vm_fd, const struct kvm_msi *msi) { return sys__ioctl(vm_fd, KVM_SIGNAL_MSI, PTR(msi), "KVM_SIGNAL_MSI"); }
int sys__kvm_enable_cap(int fd, const struct kvm_enable_cap *cap) { return sys__ioctl(fd, KVM_ENABLE_CAP, PTR(cap), "KVM_ENABLE_CAP"); }
int sys__kvm_create_vcpu(int vm_fd, unsigned long id) { return sys__ioctl(vm_fd, KVM_CREATE_VCPU, VAL(id), "KVM_CREATE_VCPU"); }

int sys__kvm_run(int vcpu_fd) { return sys__ioctl(vcpu_fd, KVM_RUN, NULL, "KVM_RUN"); }
int sys__kvm_get_regs(int fd, struct kvm_regs *r) { return sys__ioctl(fd, KVM_GET_REGS, r, "KVM_GET_REGS"); }
int sys__kvm_set_regs(int fd, const struct kvm_regs *r) { return sys__ioctl(fd, KVM_SET_REGS, PTR(r), "KVM_SET_REGS"); }
int sys__kvm_get_sregs(int fd, struct kvm_sregs *s) { return sys__ioctl(fd, KVM_GET_SREGS, s, "KVM_GET_SREGS"); }
int sys__kvm_set_sregs(int fd, const struct kvm_sregs *s) { return sys__ioctl(fd, KVM_SET_SREGS, PTR(s), "KVM_SET_SREGS"); }
int sys__kvm_set_fpu(int fd, const struct kvm_fpu *f) { return sys__ioctl(fd, KVM_SET_FPU, PTR(f), "KVM_SET_FPU"); }
int sys__kvm_set_msrs(int fd, const struct kvm_msrs *m) { return sys__ioctl(fd, KVM_SET_MSRS, PTR(m), "KVM_SET_MSRS"); }
int sys__kvm_set_cpuid2(int fd, const struct kvm_cpuid2 *c) { return sys__ioctl(fd, KVM_SET_CPUID2, PTR(c), "KVM_SET_CPUID2"); }
int sys__kvm_set_signal_mask(int fd, const struct kvm_signal_mask *m) { return sys__ioctl(fd, KVM_SET_SIGNAL_MASK, PTR(m), "KVM_SET_SIGNAL_MASK"); }

int sys__kvm_create_device(int fd, struct kvm_create_device *cd) { return sys__ioctl(fd, KVM_CREATE_DEVICE, cd, "KVM_CREATE_DEVICE"); }
int sys__kvm_set_device_attr(int fd, const struct kvm_device_attr *a) { return sys__ioctl(fd, KVM_SET_DEVICE_ATTR, PTR(a), "KVM_SET_DEVICE_ATTR"); }

int sys__iommu_destroy(int fd, uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return sys__ioctl(fd, IOMMU_DESTROY, &d, "IOMMU_DESTROY");
}
int sys__iommu_ioas_alloc(int fd, struct iommu_ioas_alloc *a) { return sys__ioctl(fd, IOMMU_IOAS_ALLOC, a, "IOMMU_IOAS_ALLOC"); }
int sys__iommu_ioas_iova_ranges(int fd, struct iommu_ioas_iova_ranges *r) { return sys__ioctl(fd, IOMMU_IOAS_IOVA_RANGES, r, "IOMMU_IOAS_IOVA_RANGES"); }
int sys__iommu_ioas_map(int fd, const struct iommu_ioas_map *m) { return sys__ioctl(fd, IOMMU_IOAS_MAP, PTR(m), "IOMMU_IOAS_MAP"); }
int sys__iommu_ioas_unmap(int fd, struct iommu_ioas_unmap *u) { return sys__ioctl(fd, IOMMU_IOAS_UNMAP, u, "IOMMU_IOAS_UNMAP"); }
int sys__iommu_hwpt_alloc(int fd, struct iommu_hwpt_alloc *a) { return sys__ioctl(fd, IOMMU_HWPT_ALLOC, a, "IOMMU_HWPT_ALLOC"); }
int sys__iommu_get_hw_info(int fd, struct iommu_hw_info *i) { return sys__ioctl(fd, IOMMU_GET_HW_INFO, i, "IOMMU_GET_HW_INFO"); }
int sys__iommu_hwpt_invalidate(int fd, struct iommu_hwpt_invalidate *i) { return sys__ioctl(fd, IOMMU_HWPT_INVALIDATE, i, "IOMMU_HWPT_INVALIDATE"); }

int sys__vfio_device_bind_iommufd(int fd, struct vfio_device_bind_iommufd *b) { return sys__ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, b, "VFIO_DEVICE_BIND_IOMMUFD"); }
int sys__vfio_device_attach_iommufd_pt(int fd, struct vfio_device_attach_iommufd_pt *a) { return sys__ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, a, "VFIO_DEVICE_ATTACH_IOMMUFD_PT"); }
int sys__vfio_device_detach_iommufd_pt(int fd, const struct vfio_device_detach_iommufd_pt *d) { return sys__ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, PTR(d), "VFIO_DEVICE_DETACH_IOMMUFD_PT"); }
int sys__vfio_device_get_info(int fd, struct vfio_device_info *i) { return sys__ioctl(fd, VFIO_DEVICE_GET_INFO, i, "VFIO_DEVICE_GET_INFO"); }
int sys__vfio_device_get_region_info(int fd, struct vfio_region_info *i) { return sys__ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, i, "VFIO_DEVICE_GET_REGION_INFO"); }
int sys__vfio_device_get_irq_info(int fd, struct vfio_irq_info *i) { return sys__ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, i, "VFIO_DEVICE_GET_IRQ_INFO"); }
int sys__vfio_device_set_irqs(int fd, const struct vfio_irq_set *s) { return sys__ioctl(fd, VFIO_DEVICE_SET_IRQS, PTR(s), "VFIO_DEVICE_SET_IRQS"); }
int sys__vfio_device_reset(int fd) { return sys__ioctl(fd, VFIO_DEVICE_RESET, NULL, "VFIO_DEVICE_RESET"); }

int sys__tun_set_iff(int fd, struct ifreq *ifr) { return sys__ioctl(fd, TUNSETIFF, ifr, "TUNSETIFF"); }
int sys__tun_set_vnet_hdr_sz(int fd, int size) { return sys__ioctl(fd, TUNSETVNETHDRSZ, &size, "TUNSETVNETHDRSZ"); }
int sys__tun_set_offload(int fd, unsigned flags) { return sys__ioctl(fd, TUNSETOFFLOAD, VAL(flags), "TUNSETOFFLOAD"); }
int sys__siocgifflags(int sock, struct ifreq *ifr) { return sys__ioctl(sock, SIOCGIFFLAGS, ifr, "SIOCGIFFLAGS"); }
int sys__siocsifflags(int sock, const struct ifreq *ifr) { return sys__ioctl(sock, SIOCSIFFLAGS, PTR(ifr), "SIOCSIFFLAGS"); }
