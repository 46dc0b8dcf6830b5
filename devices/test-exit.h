/*
 * The test-exit port (PORT_TEST_EXIT) for guest programs: writing a value v (1, 2 or 4 bytes) ends the
 * run with vm->stop(vm, v & 0xff, "guest test-exit v"); minivmm then exits with that status.
 */
#ifndef MINIVMM_DEVICES_TEST_EXIT_H
#define MINIVMM_DEVICES_TEST_EXIT_H

struct vm;
struct test_exit;

struct test_exit *test_exit__init(struct vm *vm);
void test_exit__exit(struct test_exit *t);

#endif
