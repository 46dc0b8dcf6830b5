/*
 * virtio-console: see console.h. Queue 0 (receiveq) carries host input to the guest, queue 1
 * (transmitq) guest output to the host. No VIRTIO_CONSOLE_F_MULTIPORT: one port, no control queues.
 *
 * Input is read only while the driver has receive buffers posted (one read per wake-up, so a blocking
 * stdin never stalls the thread). Output that the host side does not take at once (a pty nobody
 * reads) keeps its chain in flight and resumes when the descriptor becomes writable: nothing is lost,
 * and the guest's transmit queue fills up as it would with a slow line.
 */
#include "devices/virtio/console.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/virtio_console.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "devices/virtio/iov.h"
#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/term.h"
#include "vmm/util.h"

#define RXQ			0
#define TXQ			1
#define CONSOLE_QUEUE_SIZE	128
#define PCI_CLASS_COMMUNICATION_OTHER_CODE 0x078000	/* as QEMU's virtio-serial-pci */

struct virtio_console {
	struct virtio_dev vdev;
	struct virtio_console_config cfg;
	int in_fd, out_fd;
	int pty_slave;			/* held open so the master never reads EIO when nobody is attached */
	bool close_fds;			/* not stdin/stdout */
	bool in_reg, out_reg;		/* registered with the I/O thread's epoll */
	bool want_in, want_out, in_eof;
	struct virtq_req *rx_req, *tx_req;
	struct iovec *scratch;		/* VIRTQ_MAX_IOV */
	bool tx_pending;		/* tx_req is half written */
	uint64_t tx_off;
	uint64_t bytes_in, bytes_out, bytes_lost;
};

static void con_cfg_read(struct virtio_dev *vdev, unsigned off, void *data, unsigned len)
{
	struct virtio_console *c = vdev->priv;

	if (off < sizeof(c->cfg))
		memcpy(data, (uint8_t *)&c->cfg + off, MIN(len, sizeof(c->cfg) - off));
}

/* emerg_wr (§5.3.4): one character, written at once; vCPU thread. */
static void con_cfg_write(struct virtio_dev *vdev, unsigned off, const void *data, unsigned len)
{
	struct virtio_console *c = vdev->priv;
	uint8_t ch = *(const uint8_t *)data;

	if (off == offsetof(struct virtio_console_config, emerg_wr) &&
	    virtio__has(vdev, VIRTIO_CONSOLE_F_EMERG_WRITE) && write(c->out_fd, &ch, 1) != 1)
		c->bytes_lost++;
}

/* Tell epoll what we wait for now. */
static void con_arm(struct virtio_console *c)
{
	uint32_t in = c->want_in && !c->in_eof ? EPOLLIN : 0, out = c->want_out ? EPOLLOUT : 0;

	if (c->in_reg && c->out_reg && c->in_fd == c->out_fd) {
		virtio__mod_fd(&c->vdev, c->in_fd, in | out);
		return;
	}
	if (c->in_reg)
		virtio__mod_fd(&c->vdev, c->in_fd, in);
	if (c->out_reg)
		virtio__mod_fd(&c->vdev, c->out_fd, out);
}

/* One read from the host into one receive buffer. */
static void con_rx(struct virtio_console *c)
{
	struct virtq *vq = &c->vdev.vq[RXQ];
	ssize_t r;
	int ret;

	ret = virtq__pop(vq, c->rx_req);
	if (ret < 0) {
		virtio__queue_error(&c->vdev, vq);
		return;
	}
	if (ret == 0) {
		/* No buffer: stop reading until the driver posts one (and kicks). */
		c->want_in = virtq__set_notify(vq, true);
		con_arm(c);
		return;
	}
	r = readv(c->in_fd, virtq__in_iov(c->rx_req), MIN(c->rx_req->nin, (unsigned)IOV_MAX));
	if (r <= 0) {
		virtq__unpop(vq, 1);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* End of input (or the terminal went away): the guest just gets no more. */
		c->in_eof = true;
		con_arm(c);
		return;
	}
	c->bytes_in += r;
	if (virtq__push(vq, c->rx_req->head, r)) {
		virtio__queue_error(&c->vdev, vq);
		return;
	}
	virtio__queue_done(&c->vdev, vq);
}

/* Write what is left of the chain in flight. True when it is all out. */
static bool tx_write(struct virtio_console *c)
{
	const struct virtq_req *req = c->tx_req;

	while (c->tx_off < req->out_len) {
		unsigned n = iov__slice(req->iov, req->nout, c->tx_off, req->out_len - c->tx_off, c->scratch, IOV_MAX);
		ssize_t w = writev(c->out_fd, c->scratch, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return false;
		if (w <= 0) {
			/* The host side is gone (EIO, EPIPE, disk full): count what could not go out. */
			c->bytes_lost += req->out_len - c->tx_off;
			break;
		}
		c->tx_off += w;
		c->bytes_out += w;
	}
	return true;
}

static void con_tx(struct virtio_console *c)
{
	struct virtq *vq = &c->vdev.vq[TXQ];
	int ret;

	for (;;) {
		if (!c->tx_pending) {
			virtq__set_notify(vq, false);
			ret = virtq__pop(vq, c->tx_req);
			if (ret < 0) {
				virtio__queue_error(&c->vdev, vq);
				return;
			}
			if (ret == 0) {
				if (virtq__set_notify(vq, true))
					continue;
				break;
			}
			c->tx_pending = true;
			c->tx_off = 0;
		}
		if (!tx_write(c)) {
			c->want_out = true;	/* resume on EPOLLOUT */
			con_arm(c);
			virtio__queue_done(&c->vdev, vq);
			return;
		}
		c->tx_pending = false;
		if (virtq__push(vq, c->tx_req->head, 0)) {
			virtio__queue_error(&c->vdev, vq);
			return;
		}
	}
	virtio__queue_done(&c->vdev, vq);
	if (c->want_out) {
		c->want_out = false;
		con_arm(c);
	}
}

static void con_queue_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct virtio_console *c = vdev->priv;

	if (vq->index == TXQ) {
		con_tx(c);
	} else if (c->in_reg && !c->want_in) {
		c->want_in = true;
		con_arm(c);
	}
}

static void con_fd_ready(struct virtio_dev *vdev, int fd, uint32_t events)
{
	struct virtio_console *c = vdev->priv;

	if (!virtio__running(vdev)) {
		c->want_in = c->want_out = false;
		con_arm(c);
		return;
	}
	if (fd == c->out_fd && (events & (EPOLLOUT | EPOLLERR)) && c->want_out)
		con_tx(c);
	if (fd == c->in_fd && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->want_in && vdev->vq[RXQ].enabled)
		con_rx(c);
}

static void con_start(struct virtio_dev *vdev)
{
	struct virtio_console *c = vdev->priv;

	c->want_in = c->in_reg;
	con_arm(c);
}

static void con_reset(struct virtio_dev *vdev)
{
	struct virtio_console *c = vdev->priv;

	c->want_in = c->want_out = false;
	c->tx_pending = false;
	con_arm(c);
}

static const struct virtio_dev_ops con_ops = {
	.cfg_read = con_cfg_read,
	.cfg_write = con_cfg_write,
	.queue_notify = con_queue_notify,
	.fd_ready = con_fd_ready,
	.start = con_start,
	.reset = con_reset,
};

static void con_free(struct virtio_console *c)
{
	virtq__req_free(c->rx_req);
	virtq__req_free(c->tx_req);
	free(c->scratch);
	if (c->close_fds) {
		if (c->in_fd >= 0)
			close(c->in_fd);
		if (c->out_fd >= 0 && c->out_fd != c->in_fd)
			close(c->out_fd);
	}
	if (c->pty_slave >= 0)
		close(c->pty_slave);
	free(c);
}

static struct virtio_console *con_new(struct pci_host *host, int in_fd, int out_fd, int pty_slave, bool close_fds)
{
	struct virtio_console *c = calloc(1, sizeof(*c));

	if (!c)
		goto fail_fds;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->pty_slave = pty_slave;
	c->close_fds = close_fds;
	c->rx_req = virtq__req_alloc();
	c->tx_req = virtq__req_alloc();
	c->scratch = calloc(VIRTQ_MAX_IOV, sizeof(*c->scratch));
	if (!c->rx_req || !c->tx_req || !c->scratch ||
	    virtio__init_dev(&c->vdev, "virtio-console", VIRTIO_ID_CONSOLE, PCI_CLASS_COMMUNICATION_OTHER_CODE, 2,
			     CONSOLE_QUEUE_SIZE, &con_ops, c)) {
		pr_err("virtio-console: cannot create the device");
		con_free(c);
		return NULL;
	}
	c->cfg.max_nr_ports = htole32(1);
	c->vdev.features = BIT(VIRTIO_CONSOLE_F_EMERG_WRITE);
	c->vdev.cfg_size = sizeof(c->cfg);
	/* Regular files and /dev/null cannot be polled (EPERM): they are always ready anyway. */
	c->in_reg = in_fd >= 0 && !virtio__add_fd(&c->vdev, in_fd, 0);
	if (in_fd >= 0 && !c->in_reg)
		pr_warn("virtio-console: input cannot be polled; the guest gets no input");
	c->out_reg = out_fd != in_fd && !virtio__add_fd(&c->vdev, out_fd, 0);
	if (out_fd == in_fd && c->in_reg)
		c->out_reg = true;
	if (virtio__add(&c->vdev, host)) {
		virtio__exit_dev(&c->vdev);
		con_free(c);
		return NULL;
	}
	return c;
fail_fds:
	if (close_fds) {
		if (in_fd >= 0)
			close(in_fd);
		if (out_fd >= 0 && out_fd != in_fd)
			close(out_fd);
	}
	if (pty_slave >= 0)
		close(pty_slave);
	return NULL;
}

/* A new pty: the master is ours (non-blocking), the slave raw, its path printed for the user. */
static int open_pty(int *master, int *slave)
{
	char name[64];
	struct termios t;

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (*master < 0)
		return -errno;
	if (grantpt(*master) || unlockpt(*master) || ptsname_r(*master, name, sizeof(name)))
		goto fail;
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0)
		goto fail;
	if (!tcgetattr(*slave, &t)) {
		cfmakeraw(&t);
		tcsetattr(*slave, TCSANOW, &t);
	}
	fprintf(stderr, "minivmm: virtio-console: %s\n", name);
	return 0;
fail:
	close(*master);
	return -errno;
}

struct virtio_console *virtio_console__create(struct pci_host *host, enum console_mode mode, const char *path)
{
	int fd, slave = -1, ret;

	switch (mode) {
	case CONSOLE_PTY:
		ret = open_pty(&fd, &slave);
		if (ret) {
			pr_err("--console pty: cannot create a pseudo-terminal: %s", strerror(-ret));
			return NULL;
		}
		return con_new(host, fd, fd, slave, true);
	case CONSOLE_FILE:
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			pr_err("--console file:%s: %s", path, strerror(errno));
			return NULL;
		}
		return con_new(host, -1, fd, -1, true);
	case CONSOLE_STDIO:
		term__raw(STDIN_FILENO);
		return con_new(host, STDIN_FILENO, STDOUT_FILENO, -1, false);
	default:
		return NULL;
	}
}

struct virtio_console *virtio_console__create_fds(struct pci_host *host, int in_fd, int out_fd)
{
	if (in_fd >= 0)
		fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
	if (out_fd >= 0 && out_fd != in_fd)
		fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK);
	return con_new(host, in_fd, out_fd, -1, true);
}

void virtio_console__destroy(struct virtio_console *c)
{
	if (!c)
		return;
	virtio__exit_dev(&c->vdev);
	pr_info("virtio-console: stats: %llu bytes in, %llu out, %llu lost", (unsigned long long)c->bytes_in,
		(unsigned long long)c->bytes_out, (unsigned long long)c->bytes_lost);
	con_free(c);
}
