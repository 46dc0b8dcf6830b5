/*
 * Test-exit port, in the spirit of QEMU's isa-debug-exit but without its (v << 1) | 1 encoding: the
 * guest's value is the exit status, so "outl(0, PORT_TEST_EXIT)" means success. Reads return 0.
 * The port is 4 bytes wide; accesses that do not start at its first byte are ignored.
 */
#include "devices/test-exit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/vm.h"

struct test_exit {
	pthread_mutex_t lock;
	struct vm *vm;
	char reason[48];
};

static void test_exit_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
	struct test_exit *t = opaque;
	uint32_t v = 0;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset)
		return;
	memcpy(&v, data, len < sizeof(v) ? len : sizeof(v));	/* little-endian host */
	pthread_mutex_lock(&t->lock);
	snprintf(t->reason, sizeof(t->reason), "guest test-exit %u", v);
	pthread_mutex_unlock(&t->lock);
	t->vm->stop(t->vm, v & 0xff, t->reason);
}

struct test_exit *test_exit__init(struct vm *vm)
{
	struct test_exit *t = calloc(1, sizeof(*t));
	int ret;

	if (!t) {
		pr_err("test-exit: out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->vm = vm;
	ret = bus__register(&vm->pio, PORT_TEST_EXIT, 4, test_exit_io, t, "test-exit");
	if (ret < 0) {
		pr_err("test-exit: cannot register port %#x: %s", PORT_TEST_EXIT, strerror(-ret));
		pthread_mutex_destroy(&t->lock);
		free(t);
		return NULL;
	}
	return t;
}

void test_exit__exit(struct test_exit *t)
{
	if (!t)
		return;
	bus__unregister(&t->vm->pio, PORT_TEST_EXIT, t);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
