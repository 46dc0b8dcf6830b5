/* Command-line parsing: every option is one row of the table in cli.c. */
#ifndef MINIVMM_CLI_H
#define MINIVMM_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "vmm/config.h"

enum cli_result {
	CLI_RUN = 0,	/* start the machine */
	CLI_EXIT = 1,	/* --help / --version printed: exit 0 */
	CLI_ERROR = -1,	/* bad arguments: @err says why; exit 2 */
};

/* Fill @cfg from argv. Defaults first; @err gets one line on CLI_ERROR. */
enum cli_result cli__parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen, FILE *out);
void cli__usage(FILE *out);
/* Why --vfio (and a probe) cannot go with --viommu slts: one wording for both. */
extern const char cli__slts_vfio[];

#endif
