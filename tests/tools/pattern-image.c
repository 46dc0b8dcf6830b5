/*
 * pattern-image: write a disk image of MIB MiB in which 64-bit little-endian word w of 512-byte sector s
 * is s * 256 + w, the pattern the virtio-blk guest programs check every read against. A program
 * rather than a script so that bench/guest.sh needs no perl or python (the lab's L1 has neither).
 *
 *   pattern-image FILE MIB
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SECTOR_WORDS	64
#define CHUNK_SECTORS	2048	/* 1 MiB */

int main(int argc, char **argv)
{
	static uint64_t chunk[CHUNK_SECTORS * SECTOR_WORDS];
	char *end;
	unsigned long mib = argc == 3 ? strtoul(argv[2], &end, 10) : 0;
	int fd;

	if (argc != 3 || !mib || *end) {
		fprintf(stderr, "usage: pattern-image FILE MIB\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (uint64_t c = 0; c < mib; c++) {
		for (uint64_t i = 0; i < CHUNK_SECTORS * SECTOR_WORDS; i++)
			chunk[i] = (c * CHUNK_SECTORS + i / SECTOR_WORDS) * 256 + i % SECTOR_WORDS;
		if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk)) {
			perror(argv[1]);
			return 1;
		}
	}
	return close(fd) ? perror(argv[1]), 1 : 0;
}
