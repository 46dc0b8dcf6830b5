/*
 * virtio-blk requests against the image (virtio 1.2 §5.2.6). A request is
 *	struct virtio_blk_outhdr { le32 type; le32 ioprio; le64 sector; }	device-readable
 *	data (read: device-writable; write, discard, write-zeroes: device-readable)
 *	u8 status								device-writable, last byte
 * in any split over descriptors; the header and the status are found by offset, not by descriptor.
 */
#include "devices/virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/iov.h"
#include "vmm/util.h"

#define BOUNCE_SIZE	(1 * MiB)
#define HDR_SIZE	sizeof(struct virtio_blk_outhdr)

int virtio_blk__disk_open(struct virtio_blk_disk *d, const char *path, bool readonly, bool direct, char *err,
			  size_t errlen)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct stat st;
	off_t end;
	int ret;

	memset(d, 0, sizeof(*d));
	d->readonly = readonly;
	d->direct = direct;
	d->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (d->fd < 0) {
		ret = -errno;
		if (direct && errno == EINVAL)
			snprintf(err, errlen, "disk '%s': the file system does not support O_DIRECT (drop ,direct)", path);
		else
			snprintf(err, errlen, "cannot open disk image '%s'%s: %s", path, readonly ? "" : " for writing",
				 strerror(errno));
		return ret;
	}
	if (fstat(d->fd, &st) || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		snprintf(err, errlen, "disk '%s' is not a regular file or block device", path);
		ret = -EINVAL;
		goto fail;
	}
	/* Shared for readers, exclusive for a writer: two VMs must not write one image. */
	if (flock(d->fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		ret = -errno;
		snprintf(err, errlen, "disk image '%s' is in use by another process (%s)", path, strerror(errno));
		goto fail;
	}
	end = lseek(d->fd, 0, SEEK_END);	/* works for block devices too */
	if (end < VIRTIO_BLK_SECTOR) {
		ret = end < 0 ? -errno : -EINVAL;
		snprintf(err, errlen, "disk image '%s' is smaller than one %u-byte sector", path, VIRTIO_BLK_SECTOR);
		goto fail;
	}
	d->size = ALIGN_DOWN((uint64_t)end, VIRTIO_BLK_SECTOR);
	d->scratch = calloc(VIRTQ_MAX_IOV, sizeof(*d->scratch));
	if (direct && posix_memalign(&d->bounce, 4096, BOUNCE_SIZE))
		d->bounce = NULL;
	if (!d->scratch || (direct && !d->bounce)) {
		ret = -ENOMEM;
		snprintf(err, errlen, "disk '%s': out of memory", path);
		goto fail;
	}
	/* GET_ID: up to 20 bytes, not NUL-terminated when all are used (§5.2.6). */
	memcpy(d->serial, base, MIN(strlen(base), sizeof(d->serial)));
	return 0;
fail:
	virtio_blk__disk_close(d);
	return ret;
}

void virtio_blk__disk_close(struct virtio_blk_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(d->bounce);
	free(d->scratch);
	d->bounce = NULL;
	d->scratch = NULL;
}

/* preadv/pwritev the whole of @iov at @off, past short transfers and IOV_MAX. 0 or -errno. */
static int rw_all(int fd, struct iovec *iov, unsigned n, uint64_t off, bool write)
{
	while (n) {
		int cnt = MIN(n, (unsigned)IOV_MAX);
		ssize_t r = write ? pwritev(fd, iov, cnt, off) : preadv(fd, iov, cnt, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;	/* the image shrank under us: not zeros, an error */
		off += r;
		while (n && (size_t)r >= iov->iov_len) {
			r -= iov->iov_len;
			iov++;
			n--;
		}
		if (r) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= r;
		}
	}
	return 0;
}

/* The same through the aligned bounce buffer, for O_DIRECT with buffers the host refused. */
static int rw_bounce(struct virtio_blk_disk *d, const struct iovec *iov, unsigned n, uint64_t off, uint64_t len,
		     bool write)
{
	for (uint64_t done = 0; done < len;) {
		size_t c = MIN(len - done, BOUNCE_SIZE);
		struct iovec b = { d->bounce, c };
		int ret;

		if (write)
			iov__to_buf(iov, n, done, d->bounce, c);
		ret = rw_all(d->fd, &b, 1, off + done, write);
		if (ret)
			return ret;
		if (!write)
			iov__from_buf(iov, n, done, d->bounce, c);
		done += c;
	}
	return 0;
}

static bool iov_aligned(const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!IS_ALIGNED((uintptr_t)iov[i].iov_base | iov[i].iov_len, VIRTIO_BLK_SECTOR))
			return false;
	return true;
}

static bool range_ok_sectors(const struct virtio_blk_disk *d, uint64_t sector, uint64_t bytes)
{
	return sector <= d->size / VIRTIO_BLK_SECTOR && bytes <= d->size - sector * VIRTIO_BLK_SECTOR;
}

/* The data part of @io's request, sliced into io->iov from byte @skip on (READ: the writable part). */
static unsigned slice_data(const struct virtio_blk_io *io, uint64_t skip, struct iovec *out)
{
	const struct virtq_req *req = io->req;

	if (io->op == VIRTIO_BLK_OP_READ)
		return iov__slice(virtq__in_iov(req), req->nin, skip, io->len - skip, out, VIRTQ_MAX_IOV);
	return iov__slice(req->iov, req->nout, HDR_SIZE + skip, io->len - skip, out, VIRTQ_MAX_IOV);
}

/*
 * The status of a read or write whose I/O gave @res (bytes, or -errno). Whatever the engine left
 * undone is done here, synchronously: the rest of a short transfer, or the whole request through the
 * bounce buffer when O_DIRECT refused the guest's buffers (EINVAL: not aligned as the file system
 * wants).
 */
static uint8_t rw_status(struct virtio_blk_disk *d, struct virtio_blk_io *io, int64_t res)
{
	bool write = io->op == VIRTIO_BLK_OP_WRITE;
	int ret = res < 0 ? (int)res : 0;
	unsigned n;

	if (ret == -EINVAL && d->direct) {
		n = slice_data(io, 0, io->iov);
		ret = rw_bounce(d, io->iov, n, io->off, io->len, write);
		d->nr_bounced++;
	} else if (!ret && (uint64_t)res < io->len) {
		n = slice_data(io, res, io->iov);
		ret = rw_all(d->fd, io->iov, n, io->off + res, write);
	}
	if (ret)
		return VIRTIO_BLK_S_IOERR;
	if (write) {
		d->nr_write++;
		d->bytes_written += io->len;
	} else {
		d->nr_read++;
		d->bytes_read += io->len;
	}
	return VIRTIO_BLK_S_OK;
}

/* A read or write of @len bytes at @sector: checked, sliced, left to the engine or done here. */
static void prep_rw(struct virtio_blk_disk *d, struct virtio_blk_io *io, enum virtio_blk_op op, uint64_t len,
		    uint64_t sector, struct iovec *scratch)
{
	if (len % VIRTIO_BLK_SECTOR || !range_ok_sectors(d, sector, len) ||
	    (op == VIRTIO_BLK_OP_WRITE && d->readonly)) {
		io->status = VIRTIO_BLK_S_IOERR;	/* §5.2.6.2: and no data is written */
		return;
	}
	io->op = op;
	io->off = sector * VIRTIO_BLK_SECTOR;
	io->len = len;
	io->iov = scratch;
	io->niov = slice_data(io, 0, scratch);
	/* O_DIRECT wants sector-aligned buffers; one SQE or preadv takes at most IOV_MAX: these, here. */
	if ((d->direct && !iov_aligned(scratch, io->niov)) || io->niov > IOV_MAX || !len) {
		int64_t res = d->direct && !iov_aligned(scratch, io->niov) ? -EINVAL : virtio_blk__execute(d, io);

		io->status = rw_status(d, io, res);
		io->written = op == VIRTIO_BLK_OP_READ && io->status == VIRTIO_BLK_S_OK ? len : 0;
		io->op = VIRTIO_BLK_OP_DONE;
	}
}

static int write_zeroes(struct virtio_blk_disk *d, uint64_t off, uint64_t len, bool unmap)
{
	static const uint8_t zero[64 * 1024] __attribute__((aligned(4096)));
	int mode = unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

	if (!fallocate(d->fd, mode, off, len))
		return 0;
	/* Not supported here: write the zeros. */
	for (uint64_t done = 0; done < len;) {
		struct iovec v = { (void *)zero, MIN(len - done, sizeof(zero)) };
		int ret = rw_all(d->fd, &v, 1, off + done, true);

		if (ret)
			return ret;
		done += v.iov_len;
	}
	return 0;
}

/* DISCARD / WRITE_ZEROES: an array of struct virtio_blk_discard_write_zeroes after the header. */
static uint8_t do_discard(struct virtio_blk_disk *d, const struct virtq_req *req, uint32_t type)
{
	uint64_t bytes = req->out_len - HDR_SIZE;
	unsigned nseg = bytes / sizeof(struct virtio_blk_discard_write_zeroes);

	if (d->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!nseg || bytes % sizeof(struct virtio_blk_discard_write_zeroes) || nseg > VIRTIO_BLK_MAX_DISCARD_SEG)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned i = 0; i < nseg; i++) {
		struct virtio_blk_discard_write_zeroes s;
		uint64_t sector, len;
		uint32_t flags;

		iov__to_buf(req->iov, req->nout, HDR_SIZE + i * sizeof(s), &s, sizeof(s));
		sector = le64toh(s.sector);
		len = (uint64_t)le32toh(s.num_sectors) * VIRTIO_BLK_SECTOR;
		flags = le32toh(s.flags);
		/* §5.2.6.2: unknown flags, or unmap on a discard, are unsupported. */
		if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
		    (type == VIRTIO_BLK_T_DISCARD && flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (le32toh(s.num_sectors) > VIRTIO_BLK_MAX_DISCARD_SECTORS || !range_ok_sectors(d, sector, len))
			return VIRTIO_BLK_S_IOERR;
		if (type == VIRTIO_BLK_T_DISCARD) {
			/* A hint: where holes cannot be punched the data simply stays. */
			fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, sector * VIRTIO_BLK_SECTOR, len);
		} else if (write_zeroes(d, sector * VIRTIO_BLK_SECTOR, len,
					flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)) {
			return VIRTIO_BLK_S_IOERR;
		}
	}
	d->nr_discard++;
	return VIRTIO_BLK_S_OK;
}

int virtio_blk__prepare(struct virtio_blk_disk *d, const struct virtq_req *req, struct virtio_blk_io *io,
			struct iovec *scratch, char *err, size_t errlen)
{
	const struct iovec *in = virtq__in_iov(req);
	struct virtio_blk_outhdr hdr;
	uint64_t data_in, sector;
	uint32_t type;

	if (req->out_len < HDR_SIZE || req->in_len < 1) {
		snprintf(err, errlen, "request at head %u has %llu header bytes and %llu status bytes", req->head,
			 (unsigned long long)req->out_len, (unsigned long long)req->in_len);
		return -EIO;
	}
	memset(io, 0, sizeof(*io));
	io->req = req;
	io->op = VIRTIO_BLK_OP_DONE;
	io->status = VIRTIO_BLK_S_OK;
	d->nr_reqs++;
	iov__to_buf(req->iov, req->nout, 0, &hdr, HDR_SIZE);
	type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);
	data_in = req->in_len - 1;	/* the status byte is the last writable byte */

	switch (type) {
	case VIRTIO_BLK_T_IN:
		prep_rw(d, io, VIRTIO_BLK_OP_READ, data_in, sector, scratch);
		break;
	case VIRTIO_BLK_T_OUT:
		prep_rw(d, io, VIRTIO_BLK_OP_WRITE, req->out_len - HDR_SIZE, sector, scratch);
		break;
	case VIRTIO_BLK_T_FLUSH:
		d->nr_flush++;
		if (!d->readonly)
			io->op = VIRTIO_BLK_OP_FLUSH;
		break;
	case VIRTIO_BLK_T_GET_ID:
		io->written = iov__from_buf(in, req->nin, 0, d->serial, MIN(data_in, sizeof(d->serial)));
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		io->status = do_discard(d, req, type);
		break;
	default:
		io->status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	return 0;
}

int64_t virtio_blk__execute(const struct virtio_blk_disk *d, struct virtio_blk_io *io)
{
	int ret;

	switch (io->op) {
	case VIRTIO_BLK_OP_READ:
	case VIRTIO_BLK_OP_WRITE:
		ret = rw_all(d->fd, io->iov, io->niov, io->off, io->op == VIRTIO_BLK_OP_WRITE);
		return ret ? ret : (int64_t)io->len;
	case VIRTIO_BLK_OP_FLUSH:
		return fsync(d->fd) ? -errno : 0;
	default:
		return 0;
	}
}

int64_t virtio_blk__finish(struct virtio_blk_disk *d, struct virtio_blk_io *io, int64_t res)
{
	const struct virtq_req *req = io->req;
	uint64_t data_in = req->in_len - 1;

	switch (io->op) {
	case VIRTIO_BLK_OP_READ:
	case VIRTIO_BLK_OP_WRITE:
		io->status = rw_status(d, io, res);
		io->written = io->op == VIRTIO_BLK_OP_READ && io->status == VIRTIO_BLK_S_OK ? io->len : 0;
		break;
	case VIRTIO_BLK_OP_FLUSH:
		io->status = res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_OP_DONE:
		break;
	}
	if (io->status == VIRTIO_BLK_S_IOERR)
		d->nr_ioerr++;
	iov__from_buf(virtq__in_iov(req), req->nin, data_in, &io->status, 1);
	return (int64_t)io->written + 1;
}

int64_t virtio_blk__handle(struct virtio_blk_disk *d, const struct virtq_req *req, char *err, size_t errlen)
{
	struct virtio_blk_io io;

	if (virtio_blk__prepare(d, req, &io, d->scratch, err, errlen))
		return -EIO;
	return virtio_blk__finish(d, &io, io.op == VIRTIO_BLK_OP_DONE ? 0 : virtio_blk__execute(d, &io));
}
