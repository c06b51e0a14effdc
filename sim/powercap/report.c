/* What the simulator tells its tests: when it started (ready) and what it did (truth). */
#include "json_out.h"
#include "simpc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Readers poll for the file: it appears whole or not at all. */
static FILE *open_tmp(const char *path, char *tmp, size_t len)
{
	snprintf(tmp, len, "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		fprintf(stderr, "jst-sim-powercap: %s: %s\n", tmp, strerror(errno));
	return f;
}

static int commit_tmp(FILE *f, const char *tmp, const char *path)
{
	int bad = ferror(f);
	if (fclose(f) || bad || rename(tmp, path)) {
		fprintf(stderr, "jst-sim-powercap: cannot write %s\n", path);
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

int simpc_write_ready(const struct simpc *s)
{
	char tmp[4096];
	if (!s->o.ready_path)
		return 0;
	FILE *f = open_tmp(s->o.ready_path, tmp, sizeof tmp);
	if (!f)
		return -errno;
	fprintf(f, "{\"start_ns\": %lld, \"tick_s\": %.9g, \"pid\": %d, \"root\": ",
	        (long long)s->start_ns, s->o.tick_s, (int)getpid());
	sim_json_string(f, s->o.root);
	fprintf(f, "}\n");
	return commit_tmp(f, tmp, s->o.ready_path);
}

int simpc_write_truth(const struct simpc *s)
{
	static const char *modes[] = {"normal", "unreadable", "garbage", "garbage-range",
	                              "garbage-late"};
	char tmp[4096];
	if (!s->o.truth_path)
		return 0;
	FILE *f = open_tmp(s->o.truth_path, tmp, sizeof tmp);
	if (!f)
		return -errno;
	fprintf(f, "{\n  \"start_ns\": %lld,\n  \"tick_s\": %.9g,\n  \"trace\": ",
	        (long long)s->start_ns, s->o.tick_s);
	sim_json_string(f, s->o.trace_spec);
	fprintf(f, ",\n  \"mode\": \"%s\",\n  \"end_s\": %.9f,\n  \"last_tick_s\": %.9f,\n",
	        modes[s->o.mode], s->end_s, s->last_tick_s);
	fprintf(f, "  \"max_lag_s\": %.9f,\n  \"late_ticks\": %lu,\n  \"realtime\": %s,\n",
	        (double)s->max_lag_ns * 1e-9, s->late_ticks, s->realtime ? "true" : "false");
	fprintf(f, "  \"late\": [");
	for (size_t i = 0; i < s->nlate; i++)
		fprintf(f, "%s[%.6f, %.6f]", i ? ", " : "", (double)s->late[i][0] * 1e-9,
		        (double)s->late[i][1] * 1e-9);
	fprintf(f, "],\n");
	fprintf(f, "  \"zones\": [\n");
	for (size_t i = 0; i < s->nzones; i++) {
		const struct simpc_zone *z = &s->zones[i];
		double exact = z->scale * sim_trace_energy(s->trace, 0, s->end_s);
		unsigned long long wraps = (z->base_uj + z->counted_uj) / z->modulus_uj;
		fprintf(f,
		        "    {\"name\": \"%s\", \"zone_name\": \"%s\", \"kind\": \"%s\", "
		        "\"max_power_w\": %.9g, \"path\": ",
		        z->name, z->zone_name, z->kind, z->scale * sim_trace_max_power(s->trace));
		sim_json_string(f, z->path);
		fprintf(
		    f,
		    ", \"mmio\": %s, \"scale\": %.17g, \"base_uj\": %llu, \"modulus_uj\": %llu, "
		    "\"energy_j\": %.9f, \"counted_j\": %.6f, \"wraps\": %llu, ",
		    z->mmio ? "true" : "false", z->scale, (unsigned long long)z->base_uj,
		    (unsigned long long)z->modulus_uj, exact, (double)z->counted_uj * 1e-6, wraps);
		fprintf(f,
		        "\"msr\": %u, \"perf_event\": %u, \"msr_unit_j\": %.17g, "
		        "\"msr_base\": %llu, \"msr_wraps\": %llu}%s\n",
		        (unsigned)z->msr, z->event, z->msr_unit_j, (unsigned long long)z->msr_base,
		        (unsigned long long)((z->msr_base + z->msr_counted) >> 32),
		        i + 1 < s->nzones ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	return commit_tmp(f, tmp, s->o.truth_path);
}
