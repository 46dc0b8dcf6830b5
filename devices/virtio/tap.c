/*
 * Host tap interfaces for virtio-net: open /dev/net/tun, create the tap or attach to an existing one
 * (TUNSETIFF: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR), set the virtio 1 header size (TUNSETVNETHDRSZ 12:
 * struct virtio_net_hdr_v1, num_buffers included), find which receive offloads the tap can hand us
 * (TUNSETOFFLOAD) and bring the link up. Every failure says what to do about it.
 */
#include "devices/virtio/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/sys.h"

#define TAP_GUEST_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

static void tap_up(const char *name)
{
	struct ifreq ifr;
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = -errno;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (sock >= 0) {
		ret = sys__siocgifflags(sock, &ifr);
		if (ret >= 0 && !(ifr.ifr_flags & IFF_UP)) {
			ifr.ifr_flags |= IFF_UP;
			ret = sys__siocsifflags(sock, &ifr);
		}
		close(sock);
	}
	if (ret < 0)
		pr_warn("tap %s: cannot bring the link up (%s); run: ip link set %s up", name, strerror(-ret), name);
}

int tap__open(const char *dev, const char *name, int *fd_out, unsigned *offloads, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, ret;

	*fd_out = -1;
	*offloads = 0;
	fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "tap %s: cannot open %s: %s%s", name, dev, strerror(errno),
			 errno == ENOENT ? " (load the tun module: modprobe tun)" :
			 errno == EACCES || errno == EPERM ? " (run as root or get access to it)" : "");
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	ret = sys__tun_set_iff(fd, &ifr);
	if (ret < 0) {
		if (ret == -EPERM)
			snprintf(err, errlen, "tap %s: %s: not permitted: creating a tap needs CAP_NET_ADMIN; run as root "
				 "or create it first (ip tuntap add %s mode tap user $USER)", name, sys__last_ioctl(), name);
		else if (ret == -EBUSY)
			snprintf(err, errlen, "tap %s: %s: the interface is busy (another process has it open)", name,
				 sys__last_ioctl());
		else if (ret == -EINVAL)
			snprintf(err, errlen, "tap %s: %s: an interface of that name exists and is not a tap device "
				 "(with vnet headers)", name, sys__last_ioctl());
		else
			snprintf(err, errlen, "tap %s: %s: %s", name, sys__last_ioctl(), strerror(-ret));
		goto fail;
	}
	ret = sys__tun_set_vnet_hdr_sz(fd, TAP_VNET_HDR_LEN);
	if (ret < 0) {
		snprintf(err, errlen, "tap %s: %s: %s (the host kernel is too old for virtio 1 headers)", name,
			 sys__last_ioctl(), strerror(-ret));
		goto fail;
	}
	/* Offloads the tap can give the guest; off until the driver accepts them (tap__set_offload). */
	if (sys__tun_set_offload(fd, TAP_GUEST_OFFLOADS) >= 0)
		*offloads = TAP_GUEST_OFFLOADS;
	else if (sys__tun_set_offload(fd, TUN_F_CSUM) >= 0)
		*offloads = TUN_F_CSUM;
	sys__tun_set_offload(fd, 0);
	tap_up(name);
	*fd_out = fd;
	return 0;
fail:
	close(fd);
	return ret;
}

int tap__set_offload(int fd, unsigned flags)
{
	return sys__tun_set_offload(fd, flags);
}
