/* `joulestat run --series`: what the sampler read of each domain over the whole
 * invocation, from jst_meter_series, as parallel arrays (docs/output.md). */
#include "series_json.h"
#include "sinks.h"

#include <stdlib.h>

json_t *jst_series_json(jst_meter *meter)
{
	json_t *all = json_array();
	size_t n = jst_meter_domain_count(meter);
	jst_sample *buf = calloc(JST_SERIES_CAPACITY, sizeof *buf);
	if (!all || !buf) {
		json_decref(all);
		free(buf);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		jst_domain_info d = {.size = sizeof d};
		if (jst_meter_domain(meter, i, &d))
			continue;
		for (size_t k = 0; k < JST_SERIES_CAPACITY; k++)
			buf[k].size = sizeof buf[k];
		int got = jst_meter_series(meter, i, buf, JST_SERIES_CAPACITY);
		if (got <= 0)
			continue;
		json_t *t = json_array(), *e = json_array(), *p = json_array();
		for (int k = 0; k < got; k++) {
			json_array_append_new(t, json_integer((json_int_t)buf[k].t_ns));
			json_array_append_new(e, jst_json_number(buf[k].energy_j));
			json_array_append_new(p, jst_json_number(buf[k].power_w));
		}
		json_t *o = json_object();
		json_object_set_new(o, "domain", jst_json_string(d.name));
		json_object_set_new(o, "kind", jst_json_string(jst_kind_name(d.kind)));
		json_object_set_new(o, "t_ns", t);
		json_object_set_new(o, "energy_j", e);
		json_object_set_new(o, "power_w", p);
		json_array_append_new(all, o);
	}
	free(buf);
	return all;
}
