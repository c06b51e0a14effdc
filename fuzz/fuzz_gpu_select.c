/* Fuzz target: GPU selections (--gpus, jst_config.gpus) and
 * CUDA_VISIBLE_DEVICES, through jst_gpu_selection_resolve. The input is the
 * explicit selection, a NUL, then CUDA_VISIBLE_DEVICES; a missing part is
 * unset. What it accepts must fit the buffer and hold only valid entries. */
#include "backend.h"
#include "fuzz.h"

#include <ctype.h>

static void check(const char *out, int rc, size_t len)
{
	if (rc <= 0)
		return;
	if (strlen(out) >= len)
		abort();
	for (const char *p = out; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-/,", *p))
			abort(); /* entries are indices, UUIDs and MIG names, comma-separated */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 2);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = s[size + 1] = 0;
	size_t first = strlen(s);
	const char *explicit_sel = s, *cuda = first < size ? s + first + 1 : NULL;
	/* Every buffer size up to the common one, so that each cut is tried. */
	size_t lens[] = {1, 2, 8, 64, 1024};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		char *out = malloc(lens[i]);
		if (!out)
			break;
		check(out, jst_gpu_selection_resolve(explicit_sel, cuda, out, lens[i]), lens[i]);
		check(out, jst_gpu_selection_resolve(NULL, explicit_sel, out, lens[i]), lens[i]);
		check(out, jst_gpu_selection_resolve("", cuda, out, lens[i]), lens[i]);
		free(out);
	}
	free(s);
	return 0;
}
