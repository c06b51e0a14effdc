/* The ground truth the tests compare with: written at nvmlShutdown and at
 * exit, whole (written aside, then renamed), as JSON. */
#include "json_out.h"
#include "simnvml.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void sim_truth_write(const struct sim_nvml *s, int64_t now_ns)
{
	if (!s->truth_path[0] || !s->trace || s->pid != getpid())
		return;
	char tmp[1100];
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", s->truth_path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	double life = (double)(now_ns - s->start_ns) / 1e9;
	fprintf(f, "{\n  \"start_ns\": %lld,\n  \"end_ns\": %lld,\n", (long long)s->start_ns,
	        (long long)now_ns);
	fprintf(f, "  \"counter_tick_s\": %.3f,\n  \"power_tick_s\": %.3f,\n",
	        (double)s->counter_tick_ns / 1e9, (double)s->power_tick_ns / 1e9);
	fprintf(f, "  \"read_s\": %.6f,\n  \"read_spread_s\": %.6f,\n  \"latch_jitter_s\": %.6f,\n",
	        (double)s->read_ns / 1e9, (double)s->read_spread_ns / 1e9,
	        (double)s->latch_jitter_ns / 1e9);
	fprintf(f, "  \"trace\": ");
	sim_json_string(f, s->spec);
	fprintf(f, ",\n  \"mode\": {\"nocounter\": %s, \"noinstant\": %s},\n  \"gpus\": [",
	        s->nocounter ? "true" : "false", s->noinstant ? "true" : "false");
	for (unsigned k = 0; k < s->ngpus; k++) {
		const struct sim_gpu *g = &s->gpu[k];
		fprintf(f, "%s\n    {\"index\": %u, \"uuid\": \"%s\", \"scale\": %.17g, ",
		        k ? "," : "", k, g->uuid, g->scale);
		fprintf(f,
		        "\"base_mj\": %llu, \"energy_j\": %.17g, \"mig\": %s, \"lost_after_s\": ",
		        (unsigned long long)g->base_mj,
		        g->scale * sim_trace_energy(s->trace, 0, life), g->mig ? "true" : "false");
		if (g->lost_after_ns == INT64_MAX)
			fprintf(f, "null}");
		else
			fprintf(f, "%.9f}", g->lost_after_ns / 1e9);
	}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f) == 0)
		rename(tmp, s->truth_path);
	else
		unlink(tmp);
}
