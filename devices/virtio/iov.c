#include "devices/virtio/iov.h"

#include <string.h>

#include "vmm/util.h"

size_t iov__to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t c;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		c = MIN(iov[i].iov_len - off, len - done);
		memcpy((char *)buf + done, (char *)iov[i].iov_base + off, c);
		done += c;
		off = 0;
	}
	return done;
}

size_t iov__from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t c;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		c = MIN(iov[i].iov_len - off, len - done);
		memcpy((char *)iov[i].iov_base + off, (const char *)buf + done, c);
		done += c;
		off = 0;
	}
	return done;
}

size_t iov__memset0(const struct iovec *iov, unsigned n, size_t off, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t c;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		c = MIN(iov[i].iov_len - off, len - done);
		memset((char *)iov[i].iov_base + off, 0, c);
		done += c;
		off = 0;
	}
	return done;
}

unsigned iov__slice(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *dst, unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len && k < max; i++) {
		size_t c;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		c = MIN(iov[i].iov_len - off, len);
		dst[k].iov_base = (char *)iov[i].iov_base + off;
		dst[k++].iov_len = c;
		len -= c;
		off = 0;
	}
	return k;
}

size_t iov__length(const struct iovec *iov, unsigned n)
{
	size_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}
