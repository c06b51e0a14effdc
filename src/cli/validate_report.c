/* How joulestat validate shows its comparison: a table per device, the
 * rest-of-system line of each platform or node meter, and a verdict. */
#include "table.h"
#include "validate.h"

#include <math.h>
#include <string.h>

static void cell_pct(struct jst_table *t, const struct jst_stat *s, size_t nruns)
{
	if (!s->n)
		jst_table_cell(t, "-");
	else if (nruns > 1)
		jst_table_cell(t, "%+.2f%% ± %.2f%%", 100 * s->mean, 100 * s->stddev);
	else
		jst_table_cell(t, "%+.2f%%", 100 * s->mean);
}

static void cell_energy(struct jst_table *t, const struct jst_stat *s, size_t nruns)
{
	if (!s->n)
		jst_table_cell(t, "-");
	else if (nruns > 1)
		jst_table_cell(t, "%.3f ± %.3f", s->mean, s->stddev);
	else
		jst_table_cell(t, "%.3f", s->mean);
}

static void print_group(FILE *f, const struct jst_vgroup *g, size_t nruns)
{
	fprintf(f, "\n%s  (%s, %s)\n", g->label, jst_kind_name(g->kind), g->device);
	if (g->covered) {
		/* Say plainly what is set against what: parts summed against a whole. */
		for (size_t k = 0; k < g->n; k++)
			fprintf(f, "  %s/%s: %s\n", g->methods[k].backend, g->methods[k].source,
			        g->methods[k].names);
		fprintf(f, "  (%s covers the whole device: each method's domains are summed)\n",
		        g->device);
	}
	struct jst_table *t = jst_table_new("llrrrl");
	jst_table_cell(t, "method");
	jst_table_cell(t, "accuracy");
	jst_table_cell(t, "energy J");
	jst_table_cell(t, "vs reference");
	jst_table_cell(t, "allowed");
	jst_table_cell(t, "verdict");
	jst_table_end_row(t);
	for (size_t k = 0; k < g->n; k++) {
		const struct jst_vmethod *m = &g->methods[k];
		jst_table_cell(t, "%s/%s (%s)%s", m->backend, m->source, jst_method_name(m->method),
		               m->partial ? " [partial]" : "");
		jst_table_cell(t, "± %.0f%%", 100 * m->accuracy);
		cell_energy(t, &m->e, nruns);
		if (m->reference) {
			jst_table_cell(t, "reference");
			jst_table_cell(t, "%s", "");
			jst_table_cell(t, "%s", "");
		} else {
			cell_pct(t, &m->d, nruns);
			jst_table_cell(t, "± %.0f%%", 100 * m->tolerance);
			if (nruns > 1)
				jst_table_cell(t, "%s (%zu/%zu runs inside)",
				               m->agrees ? "agrees" : "DISAGREES", m->agreed_runs,
				               nruns);
			else
				jst_table_cell(t, "%s", m->agrees ? "agrees" : "DISAGREES");
		}
		jst_table_end_row(t);
	}
	jst_table_print(t, f, "  ");
	jst_table_free(t);
}

static void print_system(FILE *f, const struct jst_vsystem *s, size_t nruns)
{
	const char *pm = nruns > 1 ? " (mean)" : "";
	int node = !strcmp(s->components, "total");
	const char *role = s->reference
	                       ? (node ? ", the reference for the node" : ", the reference")
	                   : s->meters > 1 ? ", compared with the reference above"
	                                   : "";
	fprintf(f, "\n%s  (%s/%s, %s, ± %.0f%%)%s%s\n", s->name, s->backend, s->source, s->device,
	        100 * s->accuracy, node || s->meters > 1 ? role : "",
	        s->partial ? ", partial" : "");
	fprintf(f, "  meter %.3f J%s; the components inside it (%s) %.3f J%s%s\n", s->meter_j.mean,
	        pm, s->components, s->components_j.mean, pm,
	        s->components_estimated ? ", an estimate among them" : "");
	fprintf(f, "  rest of system: %.3f J, %.1f%% of the meter", s->rest_j.mean,
	        100 * s->rest_fraction.mean);
	if (s->inconsistent)
		fprintf(f,
		        ": INCONSISTENT: the components exceed the meter by\n"
		        "  more than the %.3f J their accuracy classes allow: one side is wrong\n",
		        s->allowed_j);
	else
		fputs(" (what the meter sees beyond the measured\n"
		      "  components: power supply, fans, board...; not an error)\n",
		      f);
}

void jst_validation_print(FILE *f, const struct jst_validation *v)
{
	size_t compared = 0, single = 0;
	for (size_t i = 0; i < v->ngroups; i++) {
		if (v->groups[i].n > 1) {
			print_group(f, &v->groups[i], v->nruns);
			compared++;
		}
	}
	for (size_t i = 0; i < v->nsystems; i++)
		print_system(f, &v->systems[i], v->nruns);
	for (size_t i = 0; i < v->ngroups; i++) {
		const struct jst_vgroup *g = &v->groups[i];
		if (g->n != 1)
			continue;
		fprintf(f, "%s %s (%s/%s)",
		        single++ ? "," : "\nmeasured by one method only:", g->label,
		        g->methods[0].backend, g->methods[0].source);
	}
	if (single)
		fputc('\n', f);
	if (v->disagreements)
		fprintf(
		    f,
		    "\n%zu DISAGREEMENT%s beyond the combined accuracy classes (marked above).\n",
		    v->disagreements, v->disagreements == 1 ? "" : "S");
	else if (!compared && !v->nsystems)
		fputs("\nnothing to compare: every device here is measured by one method only.\n",
		      f);
	else
		fputs("\nevery comparison lies within the combined accuracy classes.\n", f);
}

static json_t *method_json(const struct jst_vmethod *m, size_t nruns)
{
	json_t *o = json_object(), *e = json_array(), *d = json_array();
	for (size_t i = 0; i < nruns; i++) {
		json_array_append_new(e, jst_json_number(m->energy[i]));
		json_array_append_new(d, jst_json_number(m->diff[i]));
	}
	json_object_set_new(o, "backend", jst_json_string(m->backend));
	json_object_set_new(o, "source", jst_json_string(m->source));
	json_object_set_new(o, "method", jst_json_string(jst_method_name(m->method)));
	json_object_set_new(o, "domains", jst_json_string(m->names));
	json_object_set_new(o, "accuracy", jst_json_number(m->accuracy));
	json_object_set_new(o, "primary", json_boolean(m->primary));
	json_object_set_new(o, "partial", json_boolean(m->partial));
	json_object_set_new(o, "reference", json_boolean(m->reference));
	json_object_set_new(o, "energy_j", jst_sink_json_stat(&m->e));
	json_object_set_new(o, "energy_j_runs", e);
	json_object_set_new(o, "rel_diff", m->reference ? json_null() : jst_sink_json_stat(&m->d));
	json_object_set_new(o, "rel_diff_runs", d);
	json_object_set_new(o, "tolerance",
	                    m->reference ? json_null() : jst_json_number(m->tolerance));
	json_object_set_new(o, "agrees", json_boolean(m->agrees));
	json_object_set_new(o, "agreed_runs", json_integer((json_int_t)m->agreed_runs));
	return o;
}

static json_t *system_json(const struct jst_vsystem *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", jst_json_string(s->name));
	json_object_set_new(o, "device", jst_json_string(s->device));
	json_object_set_new(o, "backend", jst_json_string(s->backend));
	json_object_set_new(o, "source", jst_json_string(s->source));
	json_object_set_new(o, "accuracy", jst_json_number(s->accuracy));
	json_object_set_new(o, "energy_j", jst_sink_json_stat(&s->meter_j));
	json_object_set_new(o, "components", jst_json_string(s->components));
	json_object_set_new(o, "components_j", jst_sink_json_stat(&s->components_j));
	json_object_set_new(o, "components_estimated", json_boolean(s->components_estimated));
	json_object_set_new(o, "rest_of_system_j", jst_sink_json_stat(&s->rest_j));
	json_object_set_new(o, "rest_of_system_fraction", jst_sink_json_stat(&s->rest_fraction));
	json_object_set_new(o, "reference", json_boolean(s->reference));
	json_object_set_new(o, "partial", json_boolean(s->partial));
	json_object_set_new(o, "allowed_j", jst_json_number(s->allowed_j));
	json_object_set_new(o, "inconsistent", json_boolean(s->inconsistent));
	return o;
}

void jst_validation_json(json_t *doc, const struct jst_validation *v)
{
	json_t *groups = json_array(), *systems = json_array();
	for (size_t i = 0; i < v->ngroups; i++) {
		const struct jst_vgroup *g = &v->groups[i];
		json_t *o = json_object(), *ms = json_array();
		for (size_t k = 0; k < g->n; k++)
			json_array_append_new(ms, method_json(&g->methods[k], v->nruns));
		json_object_set_new(o, "label", jst_json_string(g->label));
		json_object_set_new(o, "kind", jst_json_string(jst_kind_name(g->kind)));
		json_object_set_new(o, "device", jst_json_string(g->device));
		json_object_set_new(o, "covered", json_boolean(g->covered));
		json_object_set_new(o, "compared", json_boolean(g->n > 1));
		json_object_set_new(o, "methods", ms);
		json_array_append_new(groups, o);
	}
	for (size_t i = 0; i < v->nsystems; i++)
		json_array_append_new(systems, system_json(&v->systems[i]));
	json_object_set_new(doc, "groups", groups);
	json_object_set_new(doc, "systems", systems);
	json_object_set_new(doc, "disagreements", json_integer((json_int_t)v->disagreements));
	json_object_set_new(doc, "agree", json_boolean(v->disagreements == 0));
}
