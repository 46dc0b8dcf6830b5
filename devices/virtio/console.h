/*
 * virtio-console (virtio 1.2 §5.3): one port (hvc0 in Linux), besides the UART. Where its host side
 * goes (--console):
 *   pty        a new pseudo-terminal; minivmm prints its path ("virtio-console: /dev/pts/N") on stderr,
 *              attach with e.g. `screen /dev/pts/N`. Output waits (does not drop) while nobody reads.
 *   file:PATH  output to PATH (created or truncated), no input.
 *   stdio      minivmm's stdin and stdout (raw terminal), only when COM1 is not on stdio.
 * Emergency writes (VIRTIO_CONSOLE_F_EMERG_WRITE, the emerg_wr config field) go to the same output.
 */
#ifndef MINIVMM_DEVICES_VIRTIO_CONSOLE_H
#define MINIVMM_DEVICES_VIRTIO_CONSOLE_H

#include "vmm/config.h"

struct pci_host;
struct virtio_console;

/* NULL after printing why. */
struct virtio_console *virtio_console__create(struct pci_host *host, enum console_mode mode, const char *path);
/*
 * On explicit descriptors (unit tests): input from @in_fd (-1: none), output to @out_fd, which may be
 * the same descriptor. They are closed by virtio_console__destroy.
 */
struct virtio_console *virtio_console__create_fds(struct pci_host *host, int in_fd, int out_fd);
void virtio_console__destroy(struct virtio_console *con);

#endif
