/*
 * The host files the machine writes, opened before any VM exists so that a bad path is said at once,
 * on any host: --serial file:PATH (COM1's output) and --dump-dtb FILE.
 */
#ifndef MINIVMM_MACHINE_FILES_H
#define MINIVMM_MACHINE_FILES_H

#include <stdbool.h>

struct machine;

/* m->serial_fd and m->dump_fd; VMM_EXIT_USAGE after one line saying why. */
int machine_files__open(struct machine *m);
/* Write m->dtb to the --dump-dtb FILE and close it; VMM_EXIT_USAGE after one line saying why. */
int machine_files__write_dtb(struct machine *m);
/* Close the --dump-dtb FILE if still open; @failed: remove it again if this run created it. */
void machine_files__close_dump(struct machine *m, bool failed);

#endif
