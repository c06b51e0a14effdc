/* Opening the meter the common options describe, and saying why when nothing measures. */
#include "cli.h"
#include "forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void config_of(const struct jst_cli_common *c, jst_config *cfg)
{
	jst_config_init(cfg);
	cfg->backends = c->backends;
	cfg->gpus = c->gpus;
	cfg->sample_period_ms = c->period_ms;
	cfg->cross_validate = c->cross_validate;
	cfg->allow_estimate = !c->no_estimate;
}

/* -EINVAL from the library means a backend name or the GPU selection is wrong;
 * find which by asking a meter with every backend for their names. */
static int explain_invalid(const char *cmd, const struct jst_cli_common *c)
{
	jst_config cfg;
	jst_meter *all = NULL;
	config_of(c, &cfg);
	cfg.backends = NULL;
	cfg.gpus = NULL;
	if (c->backends && jst_meter_open(&cfg, &all) == 0) {
		char list[256], known[256] = "";
		size_t n = jst_meter_backend_count(all);
		for (size_t i = 0; i < n; i++) {
			jst_backend_info b = {.size = sizeof b};
			if (!jst_meter_backend(all, i, &b))
				snprintf(known + strlen(known), sizeof known - strlen(known),
				         "%s%s", i ? ", " : "", b.name);
		}
		snprintf(list, sizeof list, "%s", c->backends);
		for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			int found = 0;
			for (size_t i = 0; i < n && !found; i++) {
				jst_backend_info b = {.size = sizeof b};
				found = !jst_meter_backend(all, i, &b) && !strcmp(b.name, tok);
			}
			if (!found) {
				jst_meter_close(all);
				return jst_cli_usage_error(cmd, "unknown backend '%s' (known: %s)",
				                           tok, known);
			}
		}
		jst_meter_close(all);
	}
	if (c->gpus)
		return jst_cli_usage_error(cmd,
		                           "bad GPU selection '--gpus %s': want indices or "
		                           "UUIDs separated by commas, such as '0,2'",
		                           c->gpus);
	return jst_cli_usage_error(cmd, "invalid configuration (CUDA_VISIBLE_DEVICES='%s'?)",
	                           getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES")
	                                                          : "");
}

int jst_cli_meter_open(const char *cmd, const struct jst_cli_common *c, jst_meter **out)
{
	jst_config cfg;
	config_of(c, &cfg);
	int rc = jst_meter_open(&cfg, out);
	if (rc == -EINVAL)
		return explain_invalid(cmd, c);
	if (rc) {
		jst_cli_error("cannot open the meter: %s", jst_strerror(rc));
		return JST_EXIT_FAIL;
	}
	return 0;
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
