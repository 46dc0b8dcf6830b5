/*
 * The I/O thread of a virtio device and its kicks. One thread per device waits in epoll on one
 * eventfd per queue, a stop eventfd and the device's own descriptors (tap, console input). KVM signals
 * a queue's eventfd when the guest writes the queue's notify address (KVM_IOEVENTFD, 2-byte writes as
 * Linux and the spec's notify structure use, §4.1.4.4), so a kick does not stop the vCPU; other
 * widths, or a host without ioeventfd, reach virtio_bar_io() which writes the same eventfd.
 *
 * The thread holds io_lock while the device works; a reset takes it too, so once the reset returns
 * the device no longer touches the rings (§2.4.1: the driver may reuse the memory).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/sys.h"
#include "vmm/vm.h"

#define TAG_STOP	(1ULL << 32)
#define TAG_QUEUE	(2ULL << 32)
#define TAG_FD		(3ULL << 32)
#define MAX_EVENTS	16

void virtio__kick(struct virtio_dev *vdev, unsigned q)
{
	uint64_t one = 1;

	if (q < vdev->nqueues && vdev->kick_fd[q] >= 0 && write(vdev->kick_fd[q], &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, so a wake-up is pending anyway. */
	}
}

static int epoll_add(struct virtio_dev *vdev, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(vdev->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int virtio__add_fd(struct virtio_dev *vdev, int fd, uint32_t events)
{
	return epoll_add(vdev, fd, events, TAG_FD | (uint32_t)fd);
}

int virtio__mod_fd(struct virtio_dev *vdev, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = TAG_FD | (uint32_t)fd };

	return epoll_ctl(vdev->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

void virtio__del_fd(struct virtio_dev *vdev, int fd)
{
	epoll_ctl(vdev->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int virtio__io_init(struct virtio_dev *vdev)
{
	int ret;

	vdev->epfd = epoll_create1(EPOLL_CLOEXEC);
	vdev->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vdev->epfd < 0 || vdev->stop_fd < 0)
		return -errno;
	ret = epoll_add(vdev, vdev->stop_fd, EPOLLIN, TAG_STOP);
	for (unsigned q = 0; q < vdev->nqueues && !ret; q++) {
		vdev->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vdev->kick_fd[q] < 0)
			return -errno;
		ret = epoll_add(vdev, vdev->kick_fd[q], EPOLLIN, TAG_QUEUE | q);
	}
	return ret;
}

static void run_queue(struct virtio_dev *vdev, unsigned q)
{
	uint64_t cnt;
	bool ready;

	if (read(vdev->kick_fd[q], &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&vdev->io_lock);
	pthread_mutex_lock(&vdev->lock);
	vdev->nr_kicks++;
	/* Queue fields are stable while it is enabled; the lock orders them before our reads. */
	ready = (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vdev->broken && vdev->vq[q].enabled;
	pthread_mutex_unlock(&vdev->lock);
	if (ready && vdev->ops->queue_notify)
		vdev->ops->queue_notify(vdev, &vdev->vq[q]);
	pthread_mutex_unlock(&vdev->io_lock);
}

static void *io_thread(void *arg)
{
	struct virtio_dev *vdev = arg;
	struct epoll_event ev[MAX_EVENTS];

	for (;;) {
		int n = epoll_wait(vdev->epfd, ev, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_err("%s: epoll_wait: %s; the device stops", vdev->name, strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			switch (tag & ~0xffffffffULL) {
			case TAG_STOP:
				return NULL;
			case TAG_QUEUE:
				run_queue(vdev, (uint32_t)tag);
				break;
			case TAG_FD:
				pthread_mutex_lock(&vdev->io_lock);
				if (vdev->ops->fd_ready)
					vdev->ops->fd_ready(vdev, (int)(uint32_t)tag, ev[i].events);
				pthread_mutex_unlock(&vdev->io_lock);
				break;
			}
		}
	}
}

int virtio__io_start(struct virtio_dev *vdev)
{
	char name[16];
	int ret = pthread_create(&vdev->thread, NULL, io_thread, vdev);

	if (ret)
		return -ret;
	vdev->thread_running = true;
	snprintf(name, sizeof(name), "%s", vdev->name);
	pthread_setname_np(vdev->thread, name);
	return 0;
}

uint64_t virtio__thread_cpu_ns(struct virtio_dev *vdev)
{
	struct timespec ts;
	clockid_t cid;

	if (!vdev->thread_running || pthread_getcpuclockid(vdev->thread, &cid) || clock_gettime(cid, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Register (@assign) or remove the ioeventfd of every queue at notify base @base. */
static int ioeventfd_set(struct virtio_dev *vdev, uint64_t base, bool assign)
{
	int ret = 0;

	for (unsigned q = 0; q < vdev->nqueues; q++) {
		struct kvm_ioeventfd e = {
			.addr = base + (uint64_t)VIRTIO_NOTIFY_MULT * q,
			.len = 2,
			.fd = vdev->kick_fd[q],
			.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
		};
		int r = sys__kvm_ioeventfd(vdev->pci.vm->vm_fd, &e);

		if (r < 0 && assign) {
			/* Undo the ones that were taken: all or nothing. */
			for (unsigned k = 0; k < q; k++) {
				e.addr = base + (uint64_t)VIRTIO_NOTIFY_MULT * k;
				e.fd = vdev->kick_fd[k];
				e.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
				sys__kvm_ioeventfd(vdev->pci.vm->vm_fd, &e);
			}
			return r;
		}
		ret = ret ?: r;
	}
	return ret;
}

void virtio__ioeventfd_update(struct virtio_dev *vdev)
{
	uint64_t bar = pci__bar_addr(&vdev->pci, VIRTIO_BAR);
	uint64_t want = bar ? bar + VIRTIO_NOTIFY_OFF : 0;
	int ret;

	if (!vdev->pci.vm || vdev->kick_fd[0] < 0)
		return;
	pthread_mutex_lock(&vdev->lock);
	if (want != vdev->ioeventfd_addr) {
		if (vdev->ioeventfd_addr)
			ioeventfd_set(vdev, vdev->ioeventfd_addr, false);
		vdev->ioeventfd_addr = 0;
		if (want) {
			ret = ioeventfd_set(vdev, want, true);
			if (ret == 0)
				vdev->ioeventfd_addr = want;
			else
				pr_debug("%s: KVM_IOEVENTFD: %s; kicks take the MMIO exit", vdev->name, strerror(-ret));
			vdev->ioeventfd_ok = ret == 0;
		}
	}
	pthread_mutex_unlock(&vdev->lock);
}

void virtio__io_stop(struct virtio_dev *vdev)
{
	uint64_t one = 1;

	if (!vdev->thread_running)
		return;
	if (write(vdev->stop_fd, &one, sizeof(one)) < 0)
		pr_err("%s: cannot stop the I/O thread: %s", vdev->name, strerror(errno));
	pthread_join(vdev->thread, NULL);
	vdev->thread_running = false;
}

void virtio__io_exit(struct virtio_dev *vdev)
{
	virtio__io_stop(vdev);
	if (vdev->pci.vm && vdev->ioeventfd_addr)
		ioeventfd_set(vdev, vdev->ioeventfd_addr, false);
	vdev->ioeventfd_addr = 0;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (vdev->kick_fd[q] >= 0)
			close(vdev->kick_fd[q]);
		vdev->kick_fd[q] = -1;
	}
	if (vdev->stop_fd >= 0)
		close(vdev->stop_fd);
	if (vdev->epfd >= 0)
		close(vdev->epfd);
	vdev->stop_fd = vdev->epfd = -1;
}
