/* Fuzz target: the simulators' power traces (sim_trace_parse): the first byte
 * picks a spec string (the rest of the input) or a trace file (the rest
 * written to a file, parsed as file:PATH). A parsed trace must give finite,
 * non-negative power and energy that grows with time. */
#include "fuzz.h"
#include "trace.h"

#include <math.h>
#include <unistd.h>

static char path[64];

static void remove_file(void)
{
	unlink(path);
}

static void check(const struct sim_trace *tr)
{
	double max = sim_trace_max_power(tr), prev = 0;
	if (!(max >= 0) || !isfinite(max))
		abort();
	double t = 0;
	for (int i = 0; i < 16; i++, t = t * 1.7 + 0.01) { /* 0 to some 40 s */
		double p = sim_trace_power(tr, t), e = sim_trace_energy(tr, 0, t);
		if (!(p >= 0) || p > max || !isfinite(e) || e < prev - 1e-9 * fabs(prev))
			abort();
		prev = e;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *spec = NULL, err[256] = "";
	if (data[0] & 1) {
		if (!path[0]) {
			/* tmpfs where there is one: a file is written for every input */
			const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
			snprintf(path, sizeof path, "%s/jst-fuzz-trace-%d", dir, (int)getpid());
			atexit(remove_file);
		}
		FILE *f = fopen(path, "wb");
		if (!f)
			return 0;
		fwrite(data + 1, 1, size - 1, f);
		fclose(f);
		spec = malloc(sizeof path + 8);
		if (spec)
			snprintf(spec, sizeof path + 8, "file:%s", path);
	} else {
		spec = fuzz_cstring(data + 1, size - 1);
		/* A spec naming a file would read whatever the input names. */
		if (spec && !strncmp(spec, "file:", 5))
			spec[0] = 'F';
	}
	if (!spec)
		return 0;
	struct sim_trace *tr = sim_trace_parse(spec, err, sizeof err);
	if (strlen(err) >= sizeof err)
		abort();
	if (tr)
		check(tr);
	sim_trace_free(tr);
	free(spec);
	return 0;
}
