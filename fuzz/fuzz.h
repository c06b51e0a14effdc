/* What the fuzz targets share: the libFuzzer entry point and a NUL-terminated
 * copy of an input, since every parser here takes a C string. */
#ifndef JST_FUZZ_H
#define JST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as a malloc'd C string (cut at its first NUL), or NULL without memory. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = 0;
	}
	return s;
}

/* Messages a parser prints for people (usage errors) go nowhere while it runs:
 * millions of them would only slow the fuzzer. The sanitizers and libFuzzer
 * write to descriptor 2 themselves and are not affected. */
static inline FILE *fuzz_quiet_begin(void)
{
	static FILE *null;
	if (!null)
		null = fopen("/dev/null", "w");
	FILE *saved = stderr;
	if (null)
		stderr = null;
	return saved;
}

static inline void fuzz_quiet_end(FILE *saved)
{
	stderr = saved;
}

#endif
