/* virtio-blk's asynchronous I/O engines: io_uring, and the thread pool behind it (blk-aio.h). */
#include "devices/virtio/blk-aio.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/util.h"

static void signal_efd(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("virtio-blk: completion eventfd: %s", strerror(errno));
}

static void drain_efd(int efd)
{
	uint64_t v;

	while (read(efd, &v, sizeof(v)) == sizeof(v))
		;
}

/* ---- thread pool ---- */

/* May a worker start the request at the head now? A flush waits for the others, and they for it. */
static bool startable(const struct blk_aio *a)
{
	return a->head && !a->flushing && (a->head->op != VIRTIO_BLK_OP_FLUSH || !a->active);
}

static void *worker(void *arg)
{
	struct blk_aio *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct virtio_blk_io *io;
		bool flush;

		while (!a->stop && !startable(a))
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->stop)
			break;
		io = a->head;
		a->head = io->next;
		if (!a->head)
			a->tail = NULL;
		flush = io->op == VIRTIO_BLK_OP_FLUSH;
		a->active++;
		a->flushing |= flush;
		pthread_mutex_unlock(&a->lock);

		io->res = virtio_blk__execute(a->disk, io);

		pthread_mutex_lock(&a->lock);
		a->active--;
		if (flush)
			a->flushing = false;
		/* In completion order: a flush is answered after the writes it waited for. */
		io->next = NULL;
		if (a->done_tail)
			a->done_tail->next = io;
		else
			a->done = io;
		a->done_tail = io;
		signal_efd(a->efd);
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static int pool_init(struct blk_aio *a, char *err, size_t n)
{
	int ret;

	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	for (a->nthreads = 0; a->nthreads < BLK_AIO_THREADS; a->nthreads++) {
		ret = pthread_create(&a->thread[a->nthreads], NULL, worker, a);
		if (ret) {
			snprintf(err, n, "virtio-blk: cannot start an I/O worker thread: %s", strerror(ret));
			return -ret;
		}
	}
	return 0;
}

static void pool_exit(struct blk_aio *a)
{
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	for (unsigned i = 0; i < a->nthreads; i++)
		pthread_join(a->thread[i], NULL);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
}

static unsigned pool_reap(struct blk_aio *a, struct virtio_blk_io **out, unsigned max)
{
	unsigned n = 0;

	pthread_mutex_lock(&a->lock);
	while (a->done && n < max) {
		out[n++] = a->done;
		a->done = a->done->next;
	}
	if (!a->done)
		a->done_tail = NULL;
	if (a->done)
		signal_efd(a->efd);	/* more than @max: come back */
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* ---- io_uring ---- */

static void uring_submit(struct blk_aio *a)
{
	int ret;

	while (a->pending) {
		ret = io_uring_submit(&a->ring);
		if (ret > 0) {
			a->pending -= MIN((unsigned)ret, a->pending);
			continue;
		}
		if (ret == -EINTR || ret == -EAGAIN || ret == -EBUSY)
			continue;	/* the CQ is full of what the I/O thread reaps next: cannot be, depth < CQ */
		pr_warn("virtio-blk: io_uring_submit: %s", strerror(-ret));
		return;
	}
}

static void uring_prep(struct blk_aio *a, struct virtio_blk_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);

	if (!sqe) {
		uring_submit(a);
		sqe = io_uring_get_sqe(&a->ring);
	}
	switch (io->op) {
	case VIRTIO_BLK_OP_READ:
		io_uring_prep_readv(sqe, a->disk->fd, io->iov, io->niov, io->off);
		break;
	case VIRTIO_BLK_OP_WRITE:
		io_uring_prep_writev(sqe, a->disk->fd, io->iov, io->niov, io->off);
		break;
	default:
		/* Behind everything submitted before it, and before everything after (IOSQE_IO_DRAIN). */
		io_uring_prep_fsync(sqe, a->disk->fd, 0);
		io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
	a->pending++;
}

static unsigned uring_reap(struct blk_aio *a, struct virtio_blk_io **out, unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (n < max && !io_uring_peek_cqe(&a->ring, &cqe)) {
		struct virtio_blk_io *io = io_uring_cqe_get_data(cqe);

		io->res = cqe->res;
		io_uring_cqe_seen(&a->ring, cqe);
		out[n++] = io;
	}
	if (n == max)
		signal_efd(a->efd);	/* there may be more: come back */
	return n;
}

/* ---- the interface ---- */

int blk_aio__init(struct blk_aio *a, struct virtio_blk_disk *disk, unsigned depth, enum disk_aio want,
		  char *err, size_t n)
{
	int ret = -ENOSYS;

	memset(a, 0, sizeof(*a));
	a->disk = disk;
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd < 0) {
		ret = -errno;
		snprintf(err, n, "virtio-blk: eventfd: %s", strerror(errno));
		return ret;
	}
	if (want != DISK_AIO_THREADS) {
		ret = io_uring_queue_init(depth, &a->ring, 0);
		if (!ret) {
			ret = io_uring_register_eventfd(&a->ring, a->efd);
			if (ret)
				io_uring_queue_exit(&a->ring);
		}
		if (!ret) {
			a->uring = true;
			return 0;
		}
		if (want == DISK_AIO_IO_URING) {
			snprintf(err, n, "virtio-blk: aio=io_uring: io_uring is not available here (%s)", strerror(-ret));
			close(a->efd);
			return ret;
		}
	}
	a->uring_err = want == DISK_AIO_THREADS ? 0 : -ret;
	ret = pool_init(a, err, n);
	if (ret) {
		pool_exit(a);
		close(a->efd);
	}
	return ret;
}

void blk_aio__exit(struct blk_aio *a)
{
	if (a->uring)
		io_uring_queue_exit(&a->ring);
	else
		pool_exit(a);
	close(a->efd);
	a->efd = -1;
}

void blk_aio__submit(struct blk_aio *a, struct virtio_blk_io *io)
{
	a->inflight++;
	if (a->uring) {
		uring_prep(a, io);
		return;
	}
	io->next = NULL;
	pthread_mutex_lock(&a->lock);
	if (a->tail)
		a->tail->next = io;
	else
		a->head = io;
	a->tail = io;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

void blk_aio__kick(struct blk_aio *a)
{
	if (a->uring)
		uring_submit(a);
}

unsigned blk_aio__reap(struct blk_aio *a, struct virtio_blk_io **out, unsigned max)
{
	unsigned n;

	drain_efd(a->efd);
	n = a->uring ? uring_reap(a, out, max) : pool_reap(a, out, max);
	a->inflight -= n;
	return n;
}

unsigned blk_aio__wait(struct blk_aio *a, struct virtio_blk_io **out, unsigned max)
{
	struct pollfd p = { .fd = a->efd, .events = POLLIN };

	blk_aio__kick(a);
	while (a->inflight) {
		unsigned n = blk_aio__reap(a, out, max);

		if (n)
			return n;
		poll(&p, 1, -1);
	}
	return 0;
}
