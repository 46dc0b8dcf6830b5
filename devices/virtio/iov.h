/*
 * Scatter-gather helpers for device models: a request's buffers arrive as an array of host iovecs
 * (virtq.h maps guest buffers into them), and headers, payloads and status bytes may be split across
 * entries anywhere (VIRTIO_F_VERSION_1 implies any layout, virtio 1.2 §2.7.4.1).
 */
#ifndef MINIVMM_DEVICES_VIRTIO_IOV_H
#define MINIVMM_DEVICES_VIRTIO_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Copy up to @len bytes starting @off bytes into @iov to @buf. Returns how many were copied. */
size_t iov__to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
/* Copy up to @len bytes from @buf into @iov starting @off bytes in. Returns how many were copied. */
size_t iov__from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);
/* Zero up to @len bytes of @iov from @off. Returns how many were zeroed. */
size_t iov__memset0(const struct iovec *iov, unsigned n, size_t off, size_t len);
/*
 * The part [@off, @off + @len) of @iov as a new array in @dst (at most @max entries). Returns the
 * number of entries; the slice is shorter than @len if @iov is, or if @max entries were not enough.
 */
unsigned iov__slice(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *dst, unsigned max);
size_t iov__length(const struct iovec *iov, unsigned n);

#endif
