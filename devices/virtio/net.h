/*
 * virtio-net (virtio 1.2 §5.1) on a host tap device: one receive and one transmit queue, the MAC and
 * link status in the configuration, mergeable receive buffers, and the checksum / TSO offloads
 * (§5.1.6.2, §5.1.6.4) passed through as the tap's vnet header: transmit offloads are always offered
 * (the tap takes partially checksummed and GSO packets from us), receive offloads when the tap accepts
 * TUNSETOFFLOAD for them, and they are switched on in the tap only once the driver accepts them.
 *
 * Frames cross the tap with the 12-byte struct virtio_net_hdr_v1 in front, as in the queues, so
 * transmit is one writev() of the driver's buffers. Receive reads one frame into a host buffer and
 * copies it into as many receive buffers as it needs (with VIRTIO_NET_F_MRG_RXBUF; otherwise into one,
 * dropping frames that do not fit). With no receive buffers posted the device stops reading the tap
 * until the driver adds some, so the tap's own queue, not the device, drops under pressure.
 */
#ifndef MINIVMM_DEVICES_VIRTIO_NET_H
#define MINIVMM_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

struct pci_host;
struct net_config;
struct virtio_net;

#define VIRTIO_NET_QUEUE_SIZE	256
#define VIRTIO_NET_HDR_LEN	12
#define VIRTIO_NET_MAX_FRAME	(65536 + 14 + 4)	/* a 64 KiB GSO packet, Ethernet header, VLAN tag */

/* A virtio-net function on tap @cfg->tap. NULL after printing why (e.g. the tap cannot be opened). */
struct virtio_net *virtio_net__create(struct pci_host *host, const struct net_config *cfg, unsigned index);
/*
 * The same on @fd, any descriptor that carries one frame with its 12-byte vnet header per read or write
 * (a SOCK_SEQPACKET socket in the unit tests). @guest_offloads: offer the receive offloads. Takes @fd.
 */
struct virtio_net *virtio_net__create_fd(struct pci_host *host, int fd, const uint8_t mac[6], bool guest_offloads,
					 unsigned index);
void virtio_net__destroy(struct virtio_net *net);

#endif
