// Tier 2: writing 0x06 to the reset control port (0xCF9) ends minivmm with exit status 3.
// TEST-EXIT: 3
// TEST-EXPECT: reset: writing 0x06
#include "guest.h"

int main(void)
{
	printf("reset: writing 0x06 to port 0x%x\n", platform.reset_port);
	reset();
}
