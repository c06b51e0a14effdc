/* Fuzz target: the estimate backend's procfs parsers, /proc/stat (the
 * aggregate line, alone and in the whole file) and /proc/cpuinfo. Busy time
 * can never exceed the total, and the counts stay in range. */
#include "estimate.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);
	if (!s)
		return 0;
	struct jst_cpu_ticks t;
	char why[128];
	if (jst_proc_stat_ticks_parse(s, &t, why, sizeof why) == 0 && t.busy > t.total)
		abort();
	if (strlen(why) >= sizeof why)
		abort();
	unsigned ncpu = 0;
	if (jst_proc_stat_parse(s, &t, &ncpu, why, sizeof why) == 0 &&
	    (t.busy > t.total || ncpu == 0))
		abort();
	struct jst_cpuinfo ci;
	jst_proc_cpuinfo_parse(s, &ci);
	if (strlen(ci.model) >= sizeof ci.model || ci.sockets == 0)
		abort();
	free(s);
	return 0;
}
