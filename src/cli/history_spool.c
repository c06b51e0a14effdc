/* Writing the intervals' spool (history_spool.h): called from the interval
 * thread at the end of each interval, so it only copies numbers and names. */
#include "history_spool.h"

#include <joulestat.h>
#include <string.h>

static int put_str(FILE *f, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n >= JST_SPOOL_NULL)
		n = JST_SPOOL_NULL - 1;
	uint16_t len = s ? (uint16_t)n : (uint16_t)JST_SPOOL_NULL;
	return fwrite(&len, sizeof len, 1, f) == 1 && (!n || fwrite(s, 1, n, f) == n) ? 0 : -1;
}

int jst_history_spool_interval(FILE *f, const jst_measurement *m, size_t run)
{
	size_t nd = jst_measurement_domain_count(m), entries = 0;
	jst_total t[JST_TOTAL_COUNT_];
	int has_total[JST_TOTAL_COUNT_];
	for (size_t i = 0; i < nd; i++) {
		jst_domain_energy d = {.size = sizeof d};
		entries += !jst_measurement_domain(m, i, &d);
	}
	for (int k = 0; k < JST_TOTAL_COUNT_; k++) {
		t[k] = (jst_total){.size = sizeof t[k]};
		has_total[k] =
		    !jst_measurement_total(m, (jst_total_kind)k, &t[k]) && t[k].parts > 0;
		entries += (size_t)has_total[k];
	}
	struct jst_spool_head h = {
	    .magic = JST_SPOOL_MAGIC,
	    .entries = (uint32_t)entries,
	    .run = run,
	    .begin_ns = (int64_t)jst_measurement_begin_ns(m),
	    .end_ns = (int64_t)jst_measurement_end_ns(m),
	    .duration_s = jst_measurement_duration(m),
	    .partial = (uint32_t)jst_measurement_partial(m),
	};
	if (fwrite(&h, sizeof h, 1, f) != 1 || put_str(f, jst_measurement_name(m)))
		return -1;
	for (size_t i = 0; i < nd; i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (jst_measurement_domain(m, i, &d))
			continue;
		jst_domain_energy parent = {.size = sizeof parent};
		struct jst_spool_entry e = {
		    .accuracy = d.accuracy,
		    .energy_j = d.energy_j,
		    .uncertainty_j = d.uncertainty_j,
		    .avg_power_w = d.avg_power_w,
		    .peak_power_w = d.peak_power_w,
		    .temperature_max_c = d.temperature_max_c,
		    .utilization_mean_pct = d.utilization_mean_pct,
		    .clock_mean_mhz = d.clock_mean_mhz,
		    .power_limit_w = d.power_limit_w,
		    .count = d.samples,
		    .primary = (uint8_t) !!d.primary,
		    .counted = (uint8_t) !!d.counted,
		    .partial = (uint8_t) !!d.partial,
		    .short_window = (uint8_t) !!d.short_window,
		    .bridged = (uint8_t) !!d.bridged,
		};
		const char *parent_name =
		    d.parent >= 0 && !jst_measurement_domain(m, (size_t)d.parent, &parent)
		        ? parent.name
		        : NULL;
		if (fwrite(&e, sizeof e, 1, f) != 1 || put_str(f, d.name) ||
		    put_str(f, jst_kind_name(d.kind)) || put_str(f, d.device) ||
		    put_str(f, d.backend) || put_str(f, jst_method_name(d.method)) ||
		    put_str(f, d.source) || put_str(f, d.note) || put_str(f, parent_name))
			return -1;
	}
	for (int k = 0; k < JST_TOTAL_COUNT_; k++) {
		if (!has_total[k])
			continue;
		struct jst_spool_entry e = {
		    .accuracy = t[k].accuracy,
		    .energy_j = t[k].energy_j,
		    .uncertainty_j = t[k].uncertainty_j,
		    .avg_power_w = t[k].avg_power_w,
		    .count = t[k].parts,
		    .is_total = 1,
		    .partial = (uint8_t) !!t[k].partial,
		    .estimated = (uint8_t) !!t[k].estimated,
		};
		if (fwrite(&e, sizeof e, 1, f) != 1 ||
		    put_str(f, jst_total_name((jst_total_kind)k)))
			return -1;
		for (int n = JST_SPOOL_NAME + 1; n < JST_SPOOL_STRINGS; n++)
			if (put_str(f, NULL))
				return -1;
	}
	return 0;
}
