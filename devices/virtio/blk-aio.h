/*
 * Asynchronous I/O for virtio-blk: many requests of one queue in flight at once (blk.c has one engine
 * per queue). Two engines behind one interface:
 *   io_uring	the requests' readv/writev/fsync as SQEs of the queue's ring; completions raise an
 *		eventfd registered with the ring (liburing, README says why);
 *   threads	where io_uring is unavailable (old kernel, seccomp, io_uring_disabled) or asked for
 *		(--disk ...,aio=threads): a few worker threads doing the same I/O blocking.
 * Both keep a flush behind the writes submitted before it: io_uring with IOSQE_IO_DRAIN, the pool by
 * starting a flush only when nothing else runs and nothing after it until it is done. So a flush
 * completes only after every write it covers reached the image and was fsync'ed.
 *
 *	blk_aio__init(&a, disk, depth, DISK_AIO_AUTO, name);	virtio__add_fd(vdev, blk_aio__fd(&a), EPOLLIN)
 *	blk_aio__submit(&a, io) ... blk_aio__kick(&a);		the I/O thread, after a batch of pops
 *	n = blk_aio__reap(&a, done, max);			on the eventfd: io->res is set
 */
#ifndef MINIVMM_DEVICES_VIRTIO_BLK_AIO_H
#define MINIVMM_DEVICES_VIRTIO_BLK_AIO_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>

#include "devices/virtio/blk.h"
#include "vmm/config.h"

#define BLK_AIO_THREADS	4	/* workers per queue of the thread pool */

struct blk_aio {
	bool uring;			/* else the thread pool */
	int uring_err;			/* why not io_uring (errno), 0 when the pool was asked for */
	struct virtio_blk_disk *disk;
	int efd;			/* completions (eventfd, non-blocking) */
	unsigned inflight;		/* submitted, not yet reaped */
	unsigned pending;		/* io_uring: SQEs prepared, not yet submitted */
	struct io_uring ring;

	/* The thread pool: FIFO of submitted requests, list of completed ones (lock). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct virtio_blk_io *head, *tail, *done, *done_tail;
	unsigned active;		/* requests a worker is doing */
	bool flushing, stop;
	pthread_t thread[BLK_AIO_THREADS];
	unsigned nthreads;
};

/*
 * @depth: most requests in flight. @want: DISK_AIO_AUTO (io_uring, else threads), IO_URING (fails
 * where it is unavailable) or THREADS. 0, or -errno with a line in @err.
 */
int blk_aio__init(struct blk_aio *a, struct virtio_blk_disk *disk, unsigned depth, enum disk_aio want,
		  char *err, size_t errlen);
/* After every request was reaped (blk_aio__drain). */
void blk_aio__exit(struct blk_aio *a);
static inline int blk_aio__fd(const struct blk_aio *a)
{
	return a->efd;
}
static inline const char *blk_aio__name(const struct blk_aio *a)
{
	return a->uring ? "io_uring" : "thread pool";
}
/* Queue a READ, WRITE or FLUSH (virtio_blk__prepare() left it); started at the latest by kick(). */
void blk_aio__submit(struct blk_aio *a, struct virtio_blk_io *io);
void blk_aio__kick(struct blk_aio *a);
/* Up to @max completed requests into @out, io->res set; 0 when none is ready. Never blocks. */
unsigned blk_aio__reap(struct blk_aio *a, struct virtio_blk_io **out, unsigned max);
/* Block until at least one request completes (or none is in flight), then reap as above. */
unsigned blk_aio__wait(struct blk_aio *a, struct virtio_blk_io **out, unsigned max);

#endif
