/* Fuzz target: attribution's procfs parsers, a per-CPU /proc/stat and one
 * /proc/PID/stat line (a command name may hold anything, parentheses and
 * spaces included). CPUs stay in range, a parsed process has a pid, and
 * an error message fits its buffer. */
#include "attrib/attrib_proc.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);
	if (!s)
		return 0;
	struct jst_attr_cpus c = {0};
	char why[128];
	why[0] = '\0';
	if (jst_attr_cpus_parse(s, &c, why, sizeof why) == 0) {
		if (c.n == 0 || c.n > 65536)
			abort();
		size_t online = 0;
		for (size_t i = 0; i < c.n; i++)
			online += c.online[i];
		if (online == 0 || !c.online[c.n - 1])
			abort();
	}
	if (strlen(why) >= sizeof why)
		abort();
	jst_attr_cpus_free(&c);
	struct jst_attr_pid p;
	if (jst_attr_pid_parse(s, &p) == 0 && p.pid <= 0)
		abort();
	free(s);
	return 0;
}
