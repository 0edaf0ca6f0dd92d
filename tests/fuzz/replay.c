/*
 * replay.c - runs LLVMFuzzerTestOneInput over files, without libFuzzer:
 * the regression run of `make test` for every input the fuzzer has kept
 * (corpus/) or that once crashed (regress/).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		uint8_t *buf = malloc(1 << 24);
		size_t   len = fread(buf, 1, 1 << 24, f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		n++;
	}
	printf("fuzz replay: %d inputs, no crash\n", n);
	return 0;
}
