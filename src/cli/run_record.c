/* Identity, series, carbon and the history record of one `joulestat run`.
 * Everything here happens after the command ended, except the spool of
 * intervals, so that none of it is measured. */
#include "run_record.h"
#include "cli.h"
#include "history.h"
#include "history_spool.h"
#include "identity.h"
#include "prefault.h"
#include "series_json.h"

#include <math.h>
#include <string.h>

void jst_run_record_begin(struct jst_run_record *rr)
{
	jst_identity_hostname(rr->hostname, sizeof rr->hostname);
	clock_gettime(CLOCK_REALTIME, &rr->start);
}

void jst_run_record_interval(struct jst_run_record *rr, const jst_measurement *m, size_t run)
{
	if (!rr->history || rr->spool_err)
		return;
	/* Made at the first interval: a run without -I has no file to make. */
	if (!rr->spool && !(rr->spool = tmpfile())) {
		rr->spool_err = 1;
		return;
	}
	if (jst_history_spool_interval(rr->spool, m, run))
		rr->spool_err = 1;
}

void jst_run_record_csv(const struct jst_run_record *rr, struct jst_csv_extra *x)
{
	const struct jst_carbon *c = &rr->carbon;
	*x = (struct jst_csv_extra){
	    .hostname = rr->hostname,
	    .co2e_g_per_j = c->set ? c->pue * c->intensity / 3.6e6 : NAN,
	    .cost_per_j = c->set ? c->pue * c->price / 3.6e6 : NAN,
	};
}

/* The energy of all the runs together, by the total the history and the
 * carbon figure use: the components' total, else the system's. */
static int invocation_energy(const struct jst_report *r, double *e, double *u)
{
	*e = *u = 0;
	int any = 0;
	for (size_t i = 0; i < r->nruns; i++) {
		jst_total t = {.size = sizeof t};
		if ((jst_measurement_total(r->runs[i], JST_TOTAL_ALL, &t) || !t.parts) &&
		    (jst_measurement_total(r->runs[i], JST_TOTAL_SYSTEM, &t) || !t.parts))
			continue;
		if (isfinite(t.energy_j)) {
			*e += t.energy_j;
			*u += isfinite(t.uncertainty_j) ? t.uncertainty_j : 0;
			any = 1;
		}
	}
	return any;
}

json_t *jst_run_record_extra(struct jst_run_record *rr, jst_meter *m, const struct jst_report *r)
{
	clock_gettime(CLOCK_REALTIME, &rr->end);
	json_t *x = json_object();
	if (rr->series) {
		json_t *s = jst_series_json(m);
		json_object_set_new(x, "series", s ? s : json_array());
	}
	json_object_set_new(x, "identity",
	                    jst_identity_json(m, &rr->start, &rr->end, json_incref(rr->options)));
	double e, u;
	if (rr->carbon.set && invocation_energy(r, &e, &u))
		json_object_set_new(x, "carbon", jst_carbon_json(&rr->carbon, e, u));
	return x;
}

void jst_run_record_text(FILE *f, const struct jst_run_record *rr, const json_t *extra)
{
	const json_t *c = json_object_get(extra, "carbon");
	const json_t *ident = json_object_get(extra, "identity");
	fprintf(f, " Host ");
	jst_sink_text_escaped(f, rr->hostname);
	fprintf(f, ", %s to %s (UTC)\n",
	        json_string_value(json_object_get(ident, "start"))
	            ? json_string_value(json_object_get(ident, "start"))
	            : "",
	        json_string_value(json_object_get(ident, "end"))
	            ? json_string_value(json_object_get(ident, "end"))
	            : "");
	if (c) {
		const struct jst_carbon *k = &rr->carbon;
		fprintf(f, " Carbon: %.4g ± %.2g g CO2e at %g g/kWh (",
		        json_number_value(json_object_get(c, "co2e_g")),
		        json_number_value(json_object_get(c, "co2e_uncertainty_g")), k->intensity);
		jst_sink_text_escaped(f, k->source);
		fprintf(f, "), PUE %g%s\n", k->pue,
		        k->pue_default ? " (the default: no PUE given)" : "");
		if (isfinite(k->price))
			fprintf(f, " Cost: %.4g ± %.2g at %g per kWh\n",
			        json_number_value(json_object_get(c, "cost")),
			        json_number_value(json_object_get(c, "cost_uncertainty")),
			        k->price);
	}
	if (rr->id)
		fprintf(f, " Recorded as run %lld in the history (joulestat show %lld)\n",
		        (long long)rr->id, (long long)rr->id);
}

void jst_run_record_history(struct jst_run_record *rr, const struct jst_report *r,
                            const json_t *extra)
{
	if (!rr->history)
		return;
	int rc = jst_history_path(rr->db, sizeof rr->db);
	if (rc) {
		jst_cli_warn("history: neither XDG_DATA_HOME nor HOME is set: the run is not "
		             "recorded (--no-history says nothing of it)");
		return;
	}
	jst_prefault_history();
	json_t *doc = json_object(), *cmd = json_array(), *runs = json_array();
	for (char *const *a = r->command; a && *a; a++)
		json_array_append_new(cmd, jst_json_string(*a));
	int partial = 0;
	for (size_t i = 0; i < r->nruns; i++) {
		json_t *m = jst_sink_json_measurement(r->runs[i]);
		if (m && r->run_status)
			json_object_set_new(m, "exit_status", json_integer(r->run_status[i]));
		if (m && r->run_note && r->run_note[i] && *r->run_note[i])
			json_object_set_new(m, "note", jst_json_string(r->run_note[i]));
		if (m && r->run_cut && r->run_cut[i])
			json_object_set_new(m, "interrupted", json_true());
		if (m && r->attribution && r->attribution[i])
			json_object_set_new(m, "attribution",
			                    jst_sink_json_attribution(r->attribution[i]));
		json_array_append_new(runs, m);
		partial |= jst_measurement_partial(r->runs[i]);
	}
	json_object_set_new(doc, "joulestat", jst_json_string(jst_version()));
	json_object_set_new(doc, "command", cmd);
	json_object_set_new(doc, "exit_status", json_integer(r->exit_status));
	json_object_set_new(doc, "partial", json_boolean(partial));
	json_object_set_new(doc, "runs", runs);
	if (r->nruns > 1)
		json_object_set_new(doc, "summary",
		                    jst_sink_json_summary(r->runs, r->nruns, r->run_cut));
	json_object_update(doc, (json_t *)extra);
	char err[512] = "";
	jst_history *h = NULL;
	rc = jst_history_open(rr->db, 1, &h, err, sizeof err);
	if (!rc)
		rc = jst_history_record(h, doc, rr->spool_err ? NULL : rr->spool, &rr->id, err,
		                        sizeof err);
	if (rc)
		jst_cli_warn("the run is not recorded in the history: %s", err);
	else if (rr->spool_err)
		jst_cli_warn("history: the intervals could not be kept: run %lld is recorded "
		             "without them",
		             (long long)rr->id);
	jst_history_close(h);
	json_decref(doc);
}

void jst_run_record_end(struct jst_run_record *rr)
{
	if (rr->spool)
		fclose(rr->spool);
	rr->spool = NULL;
	json_decref(rr->options);
	rr->options = NULL;
}
