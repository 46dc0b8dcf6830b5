/*
 * virtio-rng (virtio 1.2 §5.4): one request queue; every device-writable buffer the driver offers is
 * filled from the host's getrandom(2) (the kernel CSPRNG, as /dev/urandom), at most 64 KiB a request.
 */
#ifndef MINIVMM_DEVICES_VIRTIO_RNG_H
#define MINIVMM_DEVICES_VIRTIO_RNG_H

#include <stddef.h>
#include <sys/uio.h>

struct pci_host;
struct virtio_rng;

#define VIRTIO_RNG_MAX_REQ	(64 * 1024)

/* NULL after printing why. */
struct virtio_rng *virtio_rng__create(struct pci_host *host);
void virtio_rng__destroy(struct virtio_rng *rng);
/* Fill up to VIRTIO_RNG_MAX_REQ bytes of @iov with random bytes; returns how many (0 on failure). */
size_t virtio_rng__fill(const struct iovec *iov, unsigned n);

#endif
