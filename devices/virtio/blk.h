/*
 * virtio-blk (virtio 1.2 §5.2) on a raw image file or block device.
 *
 * Requests: read, write, flush (fsync: nothing the guest flushed is lost), get-id (the image's file
 * name, 20 bytes), discard (punches a hole) and write-zeroes. A failed host I/O call is reported to the
 * guest as VIRTIO_BLK_S_IOERR, a request beyond the capacity or not a whole number of sectors as IOERR,
 * a write to a read-only disk as IOERR, an unknown type as UNSUPP (§5.2.6.2). A request without room
 * for its header or status byte cannot be answered: the device breaks (DEVICE_NEEDS_RESET).
 *
 * With ",direct" the image is opened O_DIRECT; a request whose buffers are not sector-aligned, or that
 * the host refuses for O_DIRECT (EINVAL: not aligned as the file system wants), goes through an aligned
 * bounce buffer instead.
 * The image is locked (flock: shared when read-only, exclusive otherwise) so that two minivmm
 * processes cannot write one image.
 */
#ifndef MINIVMM_DEVICES_VIRTIO_BLK_H
#define MINIVMM_DEVICES_VIRTIO_BLK_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtq.h"

struct pci_host;
struct disk_config;

#define VIRTIO_BLK_SECTOR	512
#define VIRTIO_BLK_QUEUE_SIZE	256
#define VIRTIO_BLK_SEG_MAX	(VIRTIO_BLK_QUEUE_SIZE - 2)	/* header and status take two */
#define VIRTIO_BLK_MAX_DISCARD_SEG 32
#define VIRTIO_BLK_MAX_DISCARD_SECTORS 0x3fffff			/* 2 GiB per segment */
#define VIRTIO_BLK_DISCARD_ALIGN 8					/* sectors: 4 KiB */

struct virtio_blk_disk {
	int fd;
	uint64_t size;		/* bytes visible to the guest: whole sectors */
	bool readonly, direct;
	char serial[VIRTIO_BLK_ID_BYTES];
	void *bounce;		/* O_DIRECT fallback, VIRTIO_BLK_BOUNCE bytes, 4 KiB aligned */
	struct iovec *scratch;	/* VIRTQ_MAX_IOV entries: the data part of a request */
	/* Statistics. */
	uint64_t nr_reqs, nr_read, nr_write, nr_flush, nr_discard, nr_ioerr, bytes_read, bytes_written;
	uint64_t nr_bounced;	/* O_DIRECT requests that took the bounce buffer */
};

/* Open @path. 0, or -errno with a one-line reason in @err. */
int virtio_blk__disk_open(struct virtio_blk_disk *d, const char *path, bool readonly, bool direct, char *err,
			  size_t errlen);
void virtio_blk__disk_close(struct virtio_blk_disk *d);
/*
 * Carry out the request in @req (a popped chain whose buffers are mapped) and write its status byte.
 * Returns the used length (bytes written to the device-writable part), or -EIO if the chain cannot
 * carry a request (no header, no status byte) with a reason in @err. Synchronous: prepare, execute
 * and finish below, in one go.
 */
int64_t virtio_blk__handle(struct virtio_blk_disk *d, const struct virtq_req *req, char *err, size_t errlen);

/*
 * The same in three steps, for asynchronous I/O (blk-aio.c). prepare() reads the header and checks
 * the request; what needs no host I/O, or is rare (GET_ID, DISCARD, WRITE_ZEROES, a refusal, an
 * O_DIRECT request with unaligned buffers) it answers at once (VIRTIO_BLK_OP_DONE). What remains is
 * a read, a write or a flush, whose result (bytes transferred, or -errno) finish() turns into the
 * status byte; execute() is that I/O done synchronously. prepare() and finish() run on the device's
 * I/O thread, execute() on any thread.
 */
enum virtio_blk_op { VIRTIO_BLK_OP_DONE, VIRTIO_BLK_OP_READ, VIRTIO_BLK_OP_WRITE, VIRTIO_BLK_OP_FLUSH };

struct virtio_blk_io {
	const struct virtq_req *req;
	enum virtio_blk_op op;
	uint8_t status;		/* OP_DONE: the answer */
	uint32_t written;	/* OP_DONE: device-writable data bytes */
	uint64_t off, len;	/* READ/WRITE: byte offset in the image and length */
	struct iovec *iov;	/* READ/WRITE: the data buffers (in the caller's scratch array) */
	unsigned niov;
	int64_t res;		/* the engine's result: bytes transferred, or -errno */
	struct virtio_blk_io *next;	/* the engine's lists */
};

/* 0, or -EIO with @err when the chain cannot carry a request. @scratch: VIRTQ_MAX_IOV entries. */
int virtio_blk__prepare(struct virtio_blk_disk *d, const struct virtq_req *req, struct virtio_blk_io *io,
			struct iovec *scratch, char *err, size_t errlen);
/* READ/WRITE/FLUSH, blocking: bytes transferred (len for a flush), or -errno. Modifies io->iov. */
int64_t virtio_blk__execute(const struct virtio_blk_disk *d, struct virtio_blk_io *io);
/* Write the status byte for result @res; the used length. A short transfer is completed here. */
int64_t virtio_blk__finish(struct virtio_blk_disk *d, struct virtio_blk_io *io, int64_t res);

struct virtio_blk;
/* A virtio-blk function on @host for @cfg, named virtio-blk@index. NULL after printing why. */
struct virtio_blk *virtio_blk__create(struct pci_host *host, const struct disk_config *cfg, unsigned index);
/* Stop it (prints its statistics with -v) and free it. Before the PCI host goes. */
void virtio_blk__destroy(struct virtio_blk *blk);

#endif
