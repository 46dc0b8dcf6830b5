#include "vmm/log.h"

#include <stdio.h>
#include <stdlib.h>

enum log_level log__level = LOG_WARN;	/* -v: info, -vv: debug */

static const char *const level_prefix[] = {
	[LOG_ERR] = "error: ", [LOG_WARN] = "warning: ", [LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
};

static void vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One fprintf call so lines from different threads do not interleave. */
	fprintf(stderr, "minivmm: %s%s\n", level_prefix[lvl], line);
}

void log__msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log__level)
		return;
	va_start(ap, fmt);
	vmsg(lvl, fmt, ap);
	va_end(ap);
}

noreturn void die_status(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(status); /* atexit hooks restore the terminal */
}
