/* Host tap interfaces for virtio-net (see tap.c). */
#ifndef MINIVMM_DEVICES_VIRTIO_TAP_H
#define MINIVMM_DEVICES_VIRTIO_TAP_H

#include <stddef.h>

#define TAP_DEV			"/dev/net/tun"
#define TAP_VNET_HDR_LEN	12	/* struct virtio_net_hdr_v1 */

/*
 * Create or attach tap @name through @dev (TAP_DEV; tests pass another path) with vnet headers.
 * 0 with a non-blocking *@fd and in *@offloads the TUN_F_* receive offloads the tap supports (all off
 * for now), or -errno with a reason in @err.
 */
int tap__open(const char *dev, const char *name, int *fd, unsigned *offloads, char *err, size_t errlen);
/* TUNSETOFFLOAD: which offloaded packets (TUN_F_*) the tap may hand us. 0 or -errno. */
int tap__set_offload(int fd, unsigned flags);

#endif
