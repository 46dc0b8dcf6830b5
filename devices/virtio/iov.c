#include "devices/virtio/iov.h"

#include <string.h>

#include "vmm/util.h"

enum iov_op { IOV_TO_BUF, IOV_FROM_BUF, IOV_ZERO };

/* The one walk behind the three copies: @len bytes from byte @off of the chain, to/from @buf or zeroed. */
static size_t iov__walk(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len, enum iov_op op)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		char *p;
		size_t c;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		p = (char *)iov[i].iov_base + off;
		c = MIN(iov[i].iov_len - off, len - done);
		if (op == IOV_TO_BUF)
			memcpy((char *)buf + done, p, c);
		else if (op == IOV_FROM_BUF)
			memcpy(p, (char *)buf + done, c);
		else
			memset(p, 0, c);
		done += c;
		off = 0;
	}
	return done;
}

size_t iov__to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	return iov__walk(iov, n, off, buf, len, IOV_TO_BUF);
}

size_t iov__from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
	return iov__walk(iov, n, off, (void *)buf, len, IOV_FROM_BUF);
}

size_t iov__memset0(const struct iovec *iov, unsigned n, size_t off, size_t len)
{
	return iov__walk(iov, n, off, NULL, len, IOV_ZERO);
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
