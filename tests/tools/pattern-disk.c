/*
 * pattern-disk MIB FILE: write the tier-2 TEST-DISK image (tests/guest/run.sh): MIB MiB whose 64-bit
 * little-endian word w of 512-byte sector s is s * 256 + w. A C program and not a perl one-liner because
 * tier 2 also runs inside the lab's L1, which has busybox and bash but no perl.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	uint64_t sector[64];
	char *end;
	unsigned long mib;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: pattern-disk MIB FILE\n");
		return 2;
	}
	errno = 0;
	mib = strtoul(argv[1], &end, 10);
	if (errno || *end || mib == 0 || mib > 4096) {
		fprintf(stderr, "pattern-disk: '%s' is not a size in MiB (1-4096)\n", argv[1]);
		return 2;
	}
	f = fopen(argv[2], "wb");
	if (!f) {
		fprintf(stderr, "pattern-disk: cannot create '%s': %s\n", argv[2], strerror(errno));
		return 1;
	}
	for (uint64_t s = 0; s < (uint64_t)mib * 2048; s++) {
		for (unsigned w = 0; w < 64; w++) {
			uint64_t v = s * 256 + w;
			uint8_t *b = (uint8_t *)&sector[w];

			for (unsigned i = 0; i < 8; i++)	/* little-endian whatever the host */
				b[i] = (uint8_t)(v >> (8 * i));
		}
		if (fwrite(sector, sizeof(sector), 1, f) != 1)
			break;
	}
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "pattern-disk: cannot write '%s': %s\n", argv[2], strerror(errno));
		return 1;
	}
	return 0;
}
