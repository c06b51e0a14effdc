/*
 * Which GPUs a meter measures. An explicit selection (jst_config.gpus, the
 * CLI's --gpus) wins; else CUDA_VISIBLE_DEVICES, read the way the CUDA runtime
 * reads it, so that a job measures the GPUs it was given and no others.
 *
 * Entries are indices ("0"), GPU UUIDs or unique prefixes of them ("GPU-8f1c"),
 * or MIG instances ("MIG-<uuid>", "MIG-GPU-<uuid>/gi/ci"): MIG entries are kept
 * as they are and the backend maps them to their parent GPU, since energy is
 * only measured per whole GPU.
 */
#include "backend.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int is_index(const char *s, size_t n)
{
	if (n == 0 || n > 4)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int is_uuid(const char *s, size_t n)
{
	if (n <= 4 || (strncmp(s, "GPU-", 4) != 0 && strncmp(s, "MIG-", 4) != 0))
		return 0;
	for (size_t i = 4; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '/')
			return 0;
	return 1;
}

/* Append each valid entry of list to out. strict: an invalid entry is an
 * error (our own option); else the list ends at it, as in the CUDA runtime,
 * which ignores an invalid entry and every one after it. */
static int parse_list(const char *list, int strict, char *out, size_t len)
{
	size_t used = 0;
	out[0] = 0;
	for (const char *p = list;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *s = p;
		while (n && isspace((unsigned char)*s))
			s++, n--;
		while (n && isspace((unsigned char)s[n - 1]))
			n--;
		if (!is_index(s, n) && !is_uuid(s, n)) {
			if (strict)
				return -EINVAL;
			break;
		}
		if (used + n + (used ? 1 : 0) + 1 > len)
			return -ENAMETOOLONG;
		if (used)
			out[used++] = ',';
		memcpy(out + used, s, n);
		used += n;
		out[used] = 0;
		if (!e)
			break;
		p = e + 1;
	}
	return 1;
}

int jst_gpu_selection_resolve(const char *explicit_sel, const char *cuda_visible, char *out,
                              size_t len)
{
	if (!out || len == 0)
		return -EINVAL;
	out[0] = 0;
	if (explicit_sel && *explicit_sel) {
		const char *s = explicit_sel;
		while (isspace((unsigned char)*s))
			s++;
		/* "all" overrides a CUDA_VISIBLE_DEVICES inherited from a job script. */
		if (!strcmp(s, "all"))
			return 0;
		int rc = parse_list(explicit_sel, 1, out, len);
		return rc > 0 ? JST_GPUS_EXPLICIT : rc;
	}
	if (!cuda_visible)
		return 0;
	/* Set but empty (or nothing valid in it): CUDA sees no GPU, so neither do we. */
	int rc = parse_list(cuda_visible, 0, out, len);
	return rc > 0 ? JST_GPUS_FROM_ENV : rc;
}
