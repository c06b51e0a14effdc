/* Opening the meter the common options describe, and saying why when nothing measures. */
#include "cli.h"
#include "forward.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The configuration of the common options: 0, or -1 after reporting a wrong
 * --option (the library's message names the setting and what it accepts). */
static int config_of(const char *cmd, const struct jst_cli_common *c, jst_config *cfg)
{
	jst_config_init(cfg);
	cfg->backends = c->backends;
	cfg->gpus = c->gpus;
	cfg->sample_period_ms = c->period_ms;
	cfg->cross_validate = c->cross_validate;
	cfg->allow_estimate = !c->no_estimate;
	for (size_t i = 0; i < c->noptions; i++) {
		char key[128];
		const char *eq = strchr(c->options[i], '=');
		size_t n = (size_t)(eq - c->options[i]);
		if (n >= sizeof key) {
			jst_cli_usage_error(cmd, "--option %s: no option has so long a key",
			                    c->options[i]);
			return -1;
		}
		memcpy(key, c->options[i], n);
		key[n] = '\0';
		if (jst_config_set(cfg, key, eq + 1)) {
			jst_cli_usage_error(cmd, "--option %s: %s", c->options[i],
			                    jst_config_error(cfg));
			return -1;
		}
	}
	return 0;
}

int jst_cli_meter_open(const char *cmd, const struct jst_cli_common *c, jst_meter **out)
{
	jst_config cfg;
	*out = NULL;
	if (config_of(cmd, c, &cfg))
		return JST_EXIT_USAGE;
	jst_cli_warn_ignored_overrides();
	int rc = jst_meter_open(&cfg, out);
	/* The meter holds its counters open now: whatever follows (outputs, the
	 * command, a usage message) runs as the user, privileged install or not. */
	int drop = jst_cli_drop_privileges();
	if (drop) {
		if (!rc)
			jst_meter_close(*out);
		*out = NULL;
		jst_cli_error("cannot give up privileges: %s", strerror(-drop));
		return JST_EXIT_FAIL;
	}
	if (rc == -EINVAL && *jst_config_error(&cfg))
		return jst_cli_usage_error(cmd, "%s", jst_config_error(&cfg));
	if (rc) {
		jst_cli_error("cannot open the meter: %s", jst_strerror(rc));
		return JST_EXIT_FAIL;
	}
	/* A counter whose refresh the hardware does not state is measured in the
	 * meter's first second; figures begun before are only less precise, but
	 * the command line has the time to wait for it. */
	if (jst_meter_settle(*out, 2000) == -ETIMEDOUT)
		jst_cli_warn(
		    "the sensors' refresh is still being measured after 2 s (a machine too "
		    "busy to bracket the counters' changes): figures assume 100 ms, with a "
		    "wider uncertainty, until it is known");
	return 0;
}

double jst_cli_slowest_refresh(jst_meter *m, int method, const char **name)
{
	double slowest = 0;
	for (size_t i = 0; i < jst_meter_domain_count(m); i++) {
		jst_domain_info d = {.size = sizeof d};
		if (jst_meter_domain(m, i, &d) || (method >= 0 && (int)d.method != method))
			continue;
		if (d.refresh_s > slowest) {
			slowest = d.refresh_s;
			if (name)
				*name = d.name;
		}
	}
	return slowest;
}

void jst_cli_warn_sensors(jst_meter *m, unsigned interval_ms)
{
	const char *name = NULL;
	double r = jst_cli_slowest_refresh(m, JST_METHOD_COUNTER, &name);
	if (interval_ms && r > 0 && interval_ms * 1e-3 < 3 * r)
		jst_cli_warn("--interval %u ms is shorter than 3 refreshes of %s's counter "
		             "(%.0f ms): rows are interpolated from power and marked short_window",
		             interval_ms, name, r * 1e3);
	r = jst_cli_slowest_refresh(m, JST_METHOD_POWER, &name);
	if (interval_ms && r > 0 && interval_ms * 1e-3 < 3 * r)
		jst_cli_warn("--interval %u ms is shorter than 3 refreshes of %s's power readings "
		             "(%.0f ms): what it draws between them is unseen; rows are marked "
		             "short_window",
		             interval_ms, name, r * 1e3);
	for (size_t i = 0; i < jst_meter_domain_count(m); i++) {
		jst_domain_info d = {.size = sizeof d};
		if (jst_meter_domain(m, i, &d) || d.method != JST_METHOD_POWER ||
		    !(d.refresh_s > 0))
			continue;
		/* The period that sees it: a whole ms, at least 1 (--period's unit). */
		double fit_ms = floor(2 * d.refresh_s * 1e3);
		if (d.sample_period_s > 2 * d.refresh_s)
			jst_cli_warn(
			    "--period %.0f ms is longer than twice %s's refresh (%.0f ms): "
			    "what it draws between readings is unseen, and its uncertainty is "
			    "widened to cover it, up to the device's power bound (--period %.0f "
			    "or shorter reads it every other refresh)",
			    d.sample_period_s * 1e3, d.name, d.refresh_s * 1e3,
			    fit_ms >= 1 ? fit_ms : 1);
	}
}

void jst_cli_explain_no_domain(FILE *f, jst_meter *meter)
{
	size_t n = jst_meter_backend_count(meter);
	for (size_t i = 0; i < n; i++) {
		jst_backend_info b = {.size = sizeof b};
		if (!jst_meter_backend(meter, i, &b))
			fprintf(f, "  %-9s %s%s\n", b.name,
			        b.available ? "available" : "unavailable: ",
			        b.available ? "" : b.reason);
	}
}

int jst_cli_meter_open_measuring(const char *cmd, const struct jst_cli_common *c, jst_meter **out)
{
	/* Handlers first, so that a signal while the meter opens is not fatal; the
	 * meter's sampler thread starts with them blocked, so the main thread alone
	 * takes them. */
	int rc = jst_forward_install();
	if (rc) {
		jst_cli_error("cannot handle signals: %s", strerror(-rc));
		return JST_EXIT_FAIL;
	}
	jst_forward_block();
	rc = jst_cli_meter_open(cmd, c, out);
	jst_forward_unblock();
	if (rc)
		return rc;
	if (jst_meter_domain_count(*out) == 0) {
		jst_cli_error("%s: nothing can measure energy here: no energy domain is "
		              "available:",
		              cmd);
		jst_cli_explain_no_domain(stderr, *out);
		jst_meter_close(*out);
		*out = NULL;
		return JST_EXIT_FAIL;
	}
	return 0;
}
