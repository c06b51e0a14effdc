/* Filling caller-sized public structs (see abi.h). */
#include "abi.h"

#include <errno.h>
#include <string.h>

int jst_abi_check(const void *out, size_t v1)
{
	size_t size;
	memcpy(&size, out, sizeof size);
	return size < v1 ? -EINVAL : 0; /* 0 is below every v1 */
}

int jst_abi_fill(void *out, const void *full, size_t own, size_t v1)
{
	size_t size;
	memcpy(&size, out, sizeof size);
	if (size < v1)
		return -EINVAL;
	size_t n = size < own ? size : own;
	memcpy((char *)out + sizeof size, (const char *)full + sizeof size, n - sizeof size);
	return 0;
}

void jst_abi_spread(void *buf, size_t n, size_t own, size_t stride)
{
	char *b = buf;
	for (size_t i = n; i-- > 0;) {
		char *dst = b + i * stride;
		/* Element i's source ends at (i + 1) * own <= i * stride + own: a
		 * move, and nothing of a lower element is touched. */
		memmove(dst, b + i * own, own);
		memset(dst + own, 0, stride - own);
		memcpy(dst, &stride, sizeof stride);
	}
}
