// Tier 2: ACPI PM1a_CNT SLP_TYP=S5 | SLP_EN powers off: minivmm exits 0 (a failing test-exit otherwise).
// TEST-EXIT: 0
// TEST-EXPECT: poweroff: writing PM1a_CNT
#include "guest.h"

int main(void)
{
	printf("poweroff: writing PM1a_CNT at 0x%x\n", platform.pm_port + 4);
	poweroff();
}
