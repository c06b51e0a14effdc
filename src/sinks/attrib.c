/*
 * The attribution section of `joulestat run --attribute/--pid/--cgroup`: text
 * below the energy table, an "attribution" object in each JSON run, and
 * "attributed"/"idle" rows in the CSV (csv.c). Layout in docs/output.md.
 */
#include "sinks.h"
#include "table.h"

#include <math.h>
#include <string.h>

static void pct(struct jst_table *t, double v)
{
	if (isfinite(v))
		jst_table_cell(t, "%.1f%%", v * 100);
	else
		jst_table_cell(t, "-");
}

static void attribution_text(FILE *f, const struct jst_attribution *a)
{
	struct jst_table *t = jst_table_new("llrrrrr");
	if (!t)
		return;
	jst_table_cell(t, "target");
	jst_table_cell(t, "domain");
	jst_table_cell(t, "energy J");
	jst_table_cell(t, "± J");
	jst_table_cell(t, "share");
	jst_table_cell(t, "work s");
	jst_table_cell(t, "idle J");
	jst_table_end_row(t);
	for (size_t i = 0; i < a->ntargets; i++) {
		for (size_t d = 0; d < a->ndomains; d++) {
			const struct jst_attr_figure *x = &a->figure[i * a->ndomains + d];
			jst_table_cell(t, "%s", d == 0 ? a->target[i] : "");
			jst_table_cell(t, "%s", a->domain[d].name);
			jst_table_cell(t, "%.3f", x->energy_j);
			jst_table_cell(t, "%.3f", x->uncertainty_j);
			pct(t, x->share);
			jst_table_cell(t, "%.2f", x->work_s);
			jst_table_cell(t, "%.3f", x->idle_j);
			jst_table_end_row(t);
		}
		if (a->ndomains > 1) {
			const struct jst_attr_figure *x = &a->total[i];
			jst_table_cell(t, "%s", "");
			jst_table_cell(t, "all");
			jst_table_cell(t, "%.3f", x->energy_j);
			jst_table_cell(t, "%.3f", x->uncertainty_j);
			jst_table_cell(t, "%s", "");
			jst_table_cell(t, "%s", "");
			jst_table_cell(t, "%.3f", x->idle_j);
			jst_table_end_row(t);
		}
	}
	jst_table_print(t, f, "   ");
	jst_table_free(t);

	struct jst_table *u = jst_table_new("lrrrrl");
	if (!u)
		return;
	fputc('\n', f);
	jst_table_cell(u, "domain");
	jst_table_cell(u, "measured J");
	jst_table_cell(u, "idle W");
	jst_table_cell(u, "idle J");
	jst_table_cell(u, "dynamic J");
	jst_table_cell(u, "idle from");
	jst_table_end_row(u);
	for (size_t d = 0; d < a->ndomains; d++) {
		const struct jst_attr_domain *x = &a->domain[d];
		jst_table_cell(u, "%s", x->name);
		jst_table_cell(u, "%.3f", x->energy_j);
		if (isfinite(x->idle_w))
			jst_table_cell(u, "%.2f", x->idle_w);
		else
			jst_table_cell(u, "-");
		jst_table_cell(u, "%.3f", x->idle_j);
		jst_table_cell(u, "%.3f", x->dynamic_j);
		jst_table_cell(u, "%s", x->idle_source);
		jst_table_end_row(u);
	}
	jst_table_print(u, f, "   ");
	jst_table_free(u);
}

void jst_sink_text_attribution(FILE *f, const struct jst_report *r)
{
	for (size_t k = 0; r->attribution && k < r->nruns; k++) {
		const struct jst_attribution *a = r->attribution[k];
		if (!a)
			continue;
		fputs(" Attributed", f);
		if (r->nruns > 1)
			fprintf(f, " (run %zu)", k + 1);
		fputs(": each target's share of the energy above idle; idle apart\n\n", f);
		if (a->ndomains == 0)
			fputs("   no domain that can be attributed\n", f);
		else
			attribution_text(f, a);
		fputs("\n share: of the domain's dynamic energy. idle J: the target's part of "
		      "the idle\n energy, by CPU (GPU) time over the device's capacity; the "
		      "rest of the idle\n energy is no target's. Figures are a model: see "
		      "docs/attribution.md.\n",
		      f);
		if (*a->note) {
			fputs(" ", f);
			jst_sink_text_escaped(f, a->note);
			fputc('\n', f);
		}
		fputc('\n', f);
	}
	fflush(f);
}

json_t *jst_sink_json_attribution(const struct jst_attribution *a)
{
	json_t *o = json_object();
	json_t *doms = json_array(), *tgs = json_array();
	if (!o || !doms || !tgs) {
		json_decref(o);
		json_decref(doms);
		json_decref(tgs);
		return NULL;
	}
	json_object_set_new(o, "duration_s", jst_json_number(a->duration_s));
	json_object_set_new(o, "ticks", json_integer(a->ticks));
	for (size_t d = 0; d < a->ndomains; d++) {
		const struct jst_attr_domain *x = &a->domain[d];
		json_t *j = json_object();
		json_object_set_new(j, "name", jst_json_string(x->name));
		json_object_set_new(j, "kind", jst_json_string(jst_kind_name(x->kind)));
		json_object_set_new(j, "device", jst_json_string(x->device));
		json_object_set_new(j, "backend", jst_json_string(x->backend));
		json_object_set_new(j, "energy_j", jst_json_number(x->energy_j));
		json_object_set_new(j, "dynamic_j", jst_json_number(x->dynamic_j));
		json_object_set_new(j, "idle_j", jst_json_number(x->idle_j));
		json_object_set_new(j, "idle_w", jst_json_number(x->idle_w));
		json_object_set_new(j, "idle_source", jst_json_string(x->idle_source));
		json_object_set_new(j, "busy_s", jst_json_number(x->busy_s));
		json_object_set_new(j, "capacity_s", jst_json_number(x->capacity_s));
		json_object_set_new(j, "model", jst_json_string(x->model));
		json_array_append_new(doms, j);
	}
	for (size_t i = 0; i < a->ntargets; i++) {
		json_t *t = json_object(), *figs = json_array();
		json_object_set_new(t, "target", jst_json_string(a->target[i]));
		for (size_t d = 0; d < a->ndomains; d++) {
			const struct jst_attr_figure *x = &a->figure[i * a->ndomains + d];
			json_t *j = json_object();
			json_object_set_new(j, "domain", jst_json_string(a->domain[d].name));
			json_object_set_new(j, "energy_j", jst_json_number(x->energy_j));
			json_object_set_new(j, "uncertainty_j", jst_json_number(x->uncertainty_j));
			json_object_set_new(j, "accuracy", jst_json_number(x->accuracy));
			json_object_set_new(j, "share", jst_json_number(x->share));
			json_object_set_new(j, "work_s", jst_json_number(x->work_s));
			json_object_set_new(j, "idle_j", jst_json_number(x->idle_j));
			json_array_append_new(figs, j);
		}
		json_object_set_new(t, "domains", figs);
		const struct jst_attr_figure *x = &a->total[i];
		json_t *tot = json_object();
		json_object_set_new(tot, "energy_j", jst_json_number(x->energy_j));
		json_object_set_new(tot, "uncertainty_j", jst_json_number(x->uncertainty_j));
		json_object_set_new(tot, "accuracy", jst_json_number(x->accuracy));
		json_object_set_new(tot, "idle_j", jst_json_number(x->idle_j));
		json_object_set_new(t, "total", tot);
		json_array_append_new(tgs, t);
	}
	json_object_set_new(o, "domains", doms);
	json_object_set_new(o, "targets", tgs);
	json_object_set_new(o, "note", jst_json_string(a->note));
	return o;
}
