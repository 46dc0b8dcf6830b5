/* Messages to stderr. One line each, prefixed "minivmm: ". */
#ifndef MINIVMM_LOG_H
#define MINIVMM_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log__level;

void log__msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...)   log__msg(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  log__msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log__msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) do { if (log__level >= LOG_DEBUG) log__msg(LOG_DEBUG, __VA_ARGS__); } while (0)

/* Exit statuses of minivmm (README "Exit status"). */
enum vmm_exit {
	VMM_EXIT_POWEROFF = 0,	/* guest powered off */
	VMM_EXIT_ERROR = 1,	/* the VMM failed at run time (host ioctl error, ...) */
	VMM_EXIT_USAGE = 2,	/* bad arguments or images: nothing was started */
	VMM_EXIT_RESET = 3,	/* guest asked for a reset */
	VMM_EXIT_CRASH = 4,	/* triple fault, KVM internal error, failed entry */
};

/* Print an error line and exit with @status. Runs the registered exit hooks (terminal restore). */
noreturn void die_status(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define die(...) die_status(VMM_EXIT_ERROR, __VA_ARGS__)

#endif
