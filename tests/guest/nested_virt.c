// Tier 2: nested virtualization in the guest's CPUID. Without --nested-virt the guest sees neither VMX
// (CPUID.1:ECX[5]) nor SVM (CPUID.80000001h:ECX[2]) whatever the host has. With it (tests/errors/run.sh
// runs that on hosts whose KVM nests, "nested=shown"), exactly the host's one is there, and for SVM its
// leaf 8000000Ah with a revision and a number of ASIDs, what a guest KVM (kvm_amd) reads first.
// TEST-ARGS: --cmdline nested=hidden
// TEST-EXIT: 0
// TEST-EXPECT: PASS: nested_virt
#include "test.h"

int main(void)
{
	uint32_t a, b, c, d, maxext, vmx, svm;
	char want[16] = "hidden";

	platform__cmdline_get("nested", want, sizeof(want));
	cpuid(1, 0, &a, &b, &c, &d);
	vmx = (c >> 5) & 1;
	cpuid(0x80000000, 0, &maxext, &b, &c, &d);
	svm = 0;
	if (maxext >= 0x80000001) {
		cpuid(0x80000001, 0, &a, &b, &c, &d);
		svm = (c >> 2) & 1;
	}
	printf("nested_virt: VMX %u, SVM %u, max extended leaf %#x, want %s\n", vmx, svm, maxext, want);
	if (!strcmp(want, "hidden")) {
		TEST_ASSERT_MSG(!vmx && !svm, "a virtualization extension is visible without --nested-virt");
	} else {
		TEST_ASSERT_MSG(vmx + svm == 1, "--nested-virt: want exactly one of VMX and SVM");
		if (svm) {
			TEST_ASSERT_MSG(maxext >= 0x8000000A, "SVM without leaf 8000000Ah (max extended %#x)", maxext);
			cpuid(0x8000000A, 0, &a, &b, &c, &d);
			printf("nested_virt: leaf 8000000Ah: revision %u, %u ASIDs, features %#x\n", a & 0xFF, b, d);
			TEST_ASSERT_MSG(a & 0xFF, "SVM revision 0");
			TEST_ASSERT_MSG(b, "no ASIDs");
		}
	}
	test__pass("nested_virt");
}
