/*
 * The sys layer: one thin wrapper per host ioctl. Each returns the ioctl's non-negative result or
 * -errno, and on failure records the ioctl's name so that callers can say which one failed:
 *     ret = sys__kvm_create_vm(kvm_fd); if (ret < 0) die("%s: %s", sys__last_ioctl(), strerror(-ret));
 * Nothing above this layer calls ioctl(2) directly. Unit tests replace sys__ioctl_fn to fake a host.
 */
#ifndef MINIVMM_SYS_H
#define MINIVMM_SYS_H

#include <linux/iommufd.h>
#include <linux/kvm.h>
#include <linux/vfio.h>
#include <stdint.h>

struct ifreq;

/* The ioctl implementation; ioctl(2) by default, a fake in unit tests. Returns -1 and sets errno on error. */
extern int (*sys__ioctl_fn)(int fd, unsigned long req, void *arg);

/* Name of the last ioctl that failed in this thread ("KVM_CREATE_VM"), or "" if none. */
const char *sys__last_ioctl(void);

/* Generic form used by every wrapper: run @req, record @name on failure, return result or -errno. */
int sys__ioctl(int fd, unsigned long req, void *arg, const char *name);

/* /dev/kvm */
int sys__kvm_get_api_version(int kvm_fd);
int sys__kvm_create_vm(int kvm_fd);
int sys__kvm_check_extension(int fd, long cap);
int sys__kvm_get_vcpu_mmap_size(int kvm_fd);
int sys__kvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid2 *cpuid);

/* VM */
int sys__kvm_set_user_memory_region(int vm_fd, const struct kvm_userspace_memory_region *r);
int sys__kvm_set_tss_addr(int vm_fd, uint64_t addr);
int sys__kvm_set_identity_map_addr(int vm_fd, uint64_t addr);
int sys__kvm_create_irqchip(int vm_fd);
int sys__kvm_create_pit2(int vm_fd, const struct kvm_pit_config *cfg);
int sys__kvm_irq_line(int vm_fd, const struct kvm_irq_level *irq);
int sys__kvm_set_gsi_routing(int vm_fd, const struct kvm_irq_routing *routing);
int sys__kvm_irqfd(int vm_fd, const struct kvm_irqfd *irqfd);
int sys__kvm_ioeventfd(int vm_fd, const struct kvm_ioeventfd *ioeventfd);
int sys__kvm_signal_msi(int vm_fd, const struct kvm_msi *msi);
int sys__kvm_enable_cap(int fd, const struct kvm_enable_cap *cap);
int sys__kvm_create_vcpu(int vm_fd, unsigned long id);

/* vCPU */
int sys__kvm_run(int vcpu_fd);
int sys__kvm_get_regs(int vcpu_fd, struct kvm_regs *regs);
int sys__kvm_set_regs(int vcpu_fd, const struct kvm_regs *regs);
int sys__kvm_get_sregs(int vcpu_fd, struct kvm_sregs *sregs);
int sys__kvm_set_sregs(int vcpu_fd, const struct kvm_sregs *sregs);
int sys__kvm_set_fpu(int vcpu_fd, const struct kvm_fpu *fpu);
int sys__kvm_set_msrs(int vcpu_fd, const struct kvm_msrs *msrs);
int sys__kvm_set_cpuid2(int vcpu_fd, const struct kvm_cpuid2 *cpuid);
int sys__kvm_set_signal_mask(int vcpu_fd, const struct kvm_signal_mask *mask);

/* VM devices (KVM_CREATE_DEVICE; the KVM-VFIO pseudo-device) */
int sys__kvm_create_device(int vm_fd, struct kvm_create_device *cd);
int sys__kvm_set_device_attr(int dev_fd, const struct kvm_device_attr *attr);

/* /dev/iommu (iommufd, <linux/iommufd.h>) */
int sys__iommu_destroy(int iommufd, uint32_t id);
int sys__iommu_ioas_alloc(int iommufd, struct iommu_ioas_alloc *a);
int sys__iommu_ioas_iova_ranges(int iommufd, struct iommu_ioas_iova_ranges *r);
int sys__iommu_ioas_map(int iommufd, const struct iommu_ioas_map *m);
int sys__iommu_ioas_unmap(int iommufd, struct iommu_ioas_unmap *u);
int sys__iommu_hwpt_alloc(int iommufd, struct iommu_hwpt_alloc *a);
int sys__iommu_get_hw_info(int iommufd, struct iommu_hw_info *i);
int sys__iommu_hwpt_invalidate(int iommufd, struct iommu_hwpt_invalidate *i);

/* VFIO device cdev (/dev/vfio/devices/vfioN, <linux/vfio.h>) */
int sys__vfio_device_bind_iommufd(int dev_fd, struct vfio_device_bind_iommufd *b);
int sys__vfio_device_attach_iommufd_pt(int dev_fd, struct vfio_device_attach_iommufd_pt *a);
int sys__vfio_device_detach_iommufd_pt(int dev_fd, const struct vfio_device_detach_iommufd_pt *d);
int sys__vfio_device_get_info(int dev_fd, struct vfio_device_info *i);
int sys__vfio_device_get_region_info(int dev_fd, struct vfio_region_info *i);
int sys__vfio_device_get_irq_info(int dev_fd, struct vfio_irq_info *i);
int sys__vfio_device_set_irqs(int dev_fd, const struct vfio_irq_set *s);
int sys__vfio_device_reset(int dev_fd);

/* /dev/net/tun (tap devices for virtio-net) and interface flags on a socket */
int sys__tun_set_iff(int tun_fd, struct ifreq *ifr);
int sys__tun_set_vnet_hdr_sz(int tun_fd, int size);
int sys__tun_set_offload(int tun_fd, unsigned flags);
int sys__siocgifflags(int sock, struct ifreq *ifr);
int sys__siocsifflags(int sock, const struct ifreq *ifr);

#endif
