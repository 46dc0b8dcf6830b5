/* minivmm: a small VMM on raw KVM ioctls with a virtual VT-d. See README.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "machine/cli.h"
#include "vmm/log.h"
#include "machine/machine.h"
#include "machine/probe.h"

int main(int argc, char **argv)
{
	static struct vmm_config cfg;
	static struct machine m;
	char err[256];
	int ret;

	/* A closed console pipe must not kill the VMM: the UART drops what it cannot write. */
	signal(SIGPIPE, SIG_IGN);
	switch (cli__parse(argc, argv, &cfg, err, sizeof(err), stdout)) {
	case CLI_EXIT:
		return 0;
	case CLI_ERROR:
		pr_err("%s", err);
		return VMM_EXIT_USAGE;
	case CLI_RUN:
		break;
	}
	if (cfg.probe) {
		if (cfg.verbose)
			log__level = cfg.verbose > 1 ? LOG_DEBUG : LOG_INFO;
		return probe__run(&cfg, stdout);
	}
	ret = machine__init(&m, &cfg);
	if (ret == -1)		/* --dump-dtb: written, nothing to run */
		ret = 0;
	else if (ret == 0)
		ret = machine__run(&m);
	machine__exit(&m);
	return ret;
}
