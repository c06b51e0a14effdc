/* Fuzz target: a sysfs value (jst_parse_u64, what every energy_uj and range
 * read goes through), the quoting of a bad value for a message, and the path
 * helpers. A parsed value must be the one strtoull reads from the same text. */
#include "backend.h"
#include "fuzz.h"
#include "rapl.h"

#include <ctype.h>
#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);
	if (!s)
		return 0;
	uint64_t v = 0;
	if (jst_parse_u64(s, &v) == 0) {
		/* Accepted: digits between spaces, and exactly strtoull's number. */
		const char *p = s;
		while (isspace((unsigned char)*p))
			p++;
		errno = 0;
		char *end;
		unsigned long long ref = strtoull(p, &end, 10);
		if (errno || ref != v || !isdigit((unsigned char)*p))
			abort();
	}
	char q[32];
	jst_rapl_quote(q, sizeof q, s);
	if (strlen(q) >= sizeof q)
		abort();
	for (size_t i = 0; q[i]; i++)
		if (!isprint((unsigned char)q[i]))
			abort(); /* what a message shows must be printable */
	char buf[64];
	const char *j = jst_path_join(buf, sizeof buf, s, s);
	if (j && strlen(j) >= sizeof buf)
		abort();
	const char *tail = jst_path_tail(s, 16);
	if (tail < s || tail > s + strlen(s))
		abort();
	free(s);
	return 0;
}
