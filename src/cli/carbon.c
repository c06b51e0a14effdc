/* Carbon and cost settings from the command line, the environment and the
 * config file, and the figures they give. */
#include "carbon.h"
#include "cli.h"
#include "sinks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One setting from each place, in the order they are tried. */
struct setting {
	char value[128];
	char from[160]; /* "--region", "JOULESTAT_REGION", "/path/config" */
};

/* $XDG_CONFIG_HOME/joulestat/config, else ~/.config/joulestat/config. */
static int config_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && xdg[0] == '/')
		return snprintf(buf, len, "%s/joulestat/config", xdg) < (int)len ? 0 : -1;
	if (home && home[0])
		return snprintf(buf, len, "%s/.config/joulestat/config", home) < (int)len ? 0 : -1;
	return -1;
}

/* The keys of the config file. */
static const char *const config_keys[] = {"carbon_intensity", "region", "pue", "price"};
enum { NKEYS = sizeof config_keys / sizeof config_keys[0] };

/* The config file's settings, read once: each key's value where a line
 * gave it (a later line wins). */
struct config {
	char path[512];
	int has[NKEYS];
	char value[NKEYS][128];
};

/* Read the config file. A line is "key = value"; '#' starts a comment. A line
 * that is neither blank nor a setting of a known key is refused: a misspelt
 * key (Region, carbon-intensity) would otherwise be a setting silently not
 * made, a run reported without the carbon it was meant to have, where a bad
 * value of a known key is a usage error. 0, or -1 (said). No file is no
 * settings. */
static int config_read(const char *cmd, struct config *c)
{
	char line[512];
	*c = (struct config){0};
	if (config_path(c->path, sizeof c->path))
		return 0;
	FILE *f = fopen(c->path, "re");
	if (!f)
		return 0;
	int rc = 0;
	for (unsigned no = 1; !rc && fgets(line, sizeof line, f); no++) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *eq = strchr(line, '=');
		if (eq)
			*eq = '\0';
		jst_cli_trim(line);
		if (!eq || !line[0]) {
			if (eq || line[0])
				rc = jst_cli_usage_error(cmd,
				                         "%s:%u: '%s' is not a setting: a line is "
				                         "'key = value' (keys carbon_intensity, "
				                         "region, pue, price)",
				                         c->path, no, eq ? "=..." : line);
			continue;
		}
		const char *near = NULL;
		size_t known = NKEYS;
		for (size_t k = 0; k < NKEYS; k++) {
			if (!strcmp(line, config_keys[k]))
				known = k;
			if (!strcasecmp(line, config_keys[k]))
				near = config_keys[k];
		}
		if (known < NKEYS) {
			char *v = eq + 1;
			jst_cli_trim(v);
			snprintf(c->value[known], sizeof c->value[known], "%s", v);
			c->has[known] = 1;
		} else if (near) {
			rc = jst_cli_usage_error(cmd,
			                         "%s:%u: unknown key '%s' (keys are lower case: "
			                         "'%s')",
			                         c->path, no, line, near);
		} else {
			rc = jst_cli_usage_error(cmd,
			                         "%s:%u: unknown key '%s' (the keys are "
			                         "carbon_intensity, region, pue, price)",
			                         c->path, no, line);
		}
	}
	fclose(f);
	return rc ? -1 : 0;
}

/* key's value in the config file: 1 found, 0 not. */
static int from_config(const struct config *c, const char *key, struct setting *s)
{
	for (size_t k = 0; k < NKEYS; k++) {
		if (strcmp(key, config_keys[k]) != 0 || !c->has[k])
			continue;
		snprintf(s->value, sizeof s->value, "%s", c->value[k]);
		snprintf(s->from, sizeof s->from, "%.150s", c->path);
		return 1;
	}
	return 0;
}

static int from_env(const struct config *c, const char *var, struct setting *s)
{
	(void)c;
	const char *v = getenv(var);
	if (!v || !*v)
		return 0;
	snprintf(s->value, sizeof s->value, "%s", v);
	snprintf(s->from, sizeof s->from, "%s", var);
	return 1;
}

/* A setting's number, named in a message as where it came from and its key. */
static int number(const char *cmd, const struct setting *s, const char *what, double min,
                  double max, double *out)
{
	char name[256];
	snprintf(name, sizeof name, "%s: %s", s->from, what);
	return jst_cli_parse_number(cmd, name, s->value, min, max, out);
}

/* A number setting: the command line's (not NaN), else env, else config.
 * 1 set, 0 not set anywhere, -1 bad (reported). */
static int number_setting(const char *cmd, const struct config *c, double given, const char *opt,
                          const char *env, const char *key, double min, double max, double *out,
                          struct setting *s)
{
	if (!isnan(given)) {
		*out = given;
		snprintf(s->from, sizeof s->from, "%s", opt);
		return 1;
	}
	if (!from_env(c, env, s) && !from_config(c, key, s))
		return 0;
	return number(cmd, s, key, min, max, out) ? -1 : 1;
}

/* The intensity of a region's code, from where s says. 0, or -1 (said). */
static int use_region(const char *cmd, const struct setting *s, struct jst_carbon *out)
{
	const struct jst_carbon_region *r = jst_carbon_region_find(s->value);
	if (!r) {
		jst_cli_usage_error(cmd,
		                    "%s: no carbon intensity is known for region "
		                    "'%s': give an ISO country code (FR, DE, US) or "
		                    "a grid region (US-CAMX) from docs/carbon.md, or "
		                    "--carbon-intensity G_PER_KWH",
		                    s->from, s->value);
		return -1;
	}
	out->set = 1;
	out->intensity = r->g_per_kwh;
	snprintf(out->region, sizeof out->region, "%s", r->code);
	snprintf(out->source, sizeof out->source, "%s %d (%s)", r->source, r->year, r->name);
	return 0;
}

/* A number given as the intensity, from where s says. 0, or -1 (said). */
static int use_intensity(const char *cmd, const struct setting *s, struct jst_carbon *out)
{
	if (number(cmd, s, "carbon_intensity", 0, 5000, &out->intensity))
		return -1;
	out->set = 1;
	snprintf(out->source, sizeof out->source, "%s", s->from);
	return 0;
}

int jst_carbon_resolve(const char *cmd, const struct jst_carbon_request *req,
                       struct jst_carbon *out)
{
	*out = (struct jst_carbon){.pue = 1.0, .pue_default = 1, .price = NAN};
	struct setting s = {0};
	struct config c;
	if (config_read(cmd, &c))
		return -1;
	int rc = 0;
	/* The first of (docs/carbon.md): --carbon-intensity, --region, the
	 * environment's intensity, else its region, the config file's
	 * intensity, else its region. A command line's choice is never
	 * overridden by a setting made elsewhere. */
	if (!isnan(req->intensity)) {
		out->set = 1;
		out->intensity = req->intensity;
		snprintf(out->source, sizeof out->source, "--carbon-intensity");
	} else if (req->region) {
		snprintf(s.value, sizeof s.value, "%s", req->region);
		snprintf(s.from, sizeof s.from, "--region");
		rc = use_region(cmd, &s, out);
	} else {
		static const struct {
			int (*get)(const struct config *c, const char *name, struct setting *s);
			const char *name;
			int region; /* a region's code, else a number */
		} from[] = {
		    {from_env, "JOULESTAT_CARBON_INTENSITY", 0},
		    {from_env, "JOULESTAT_REGION", 1},
		    {from_config, "carbon_intensity", 0},
		    {from_config, "region", 1},
		};
		for (size_t k = 0; k < sizeof from / sizeof from[0]; k++)
			if (from[k].get(&c, from[k].name, &s)) {
				rc = from[k].region ? use_region(cmd, &s, out)
				                    : use_intensity(cmd, &s, out);
				break;
			}
	}
	if (rc < 0)
		return -1;
	s = (struct setting){0};
	rc = number_setting(cmd, &c, req->pue, "--pue", "JOULESTAT_PUE", "pue", 1, 10, &out->pue,
	                    &s);
	if (rc < 0)
		return -1;
	out->pue_default = rc == 0;
	s = (struct setting){0};
	rc = number_setting(cmd, &c, req->price, "--price", "JOULESTAT_PRICE", "price", 0, 1e6,
	                    &out->price, &s);
	if (rc < 0)
		return -1;
	if (rc > 0 && !out->set) {
		jst_cli_usage_error(cmd,
		                    "%s: a price goes with a carbon intensity: give --region or "
		                    "--carbon-intensity too",
		                    s.from);
		return -1;
	}
	return 0;
}

void jst_carbon_of(const struct jst_carbon *c, double energy_j, double uncertainty_j,
                   struct jst_carbon_figure *out)
{
	double kwh = energy_j / 3.6e6 * c->pue, ukwh = uncertainty_j / 3.6e6 * c->pue;
	out->co2e_g = kwh * c->intensity;
	out->co2e_uncertainty_g = ukwh * c->intensity;
	out->cost = kwh * c->price;
	out->cost_uncertainty = ukwh * c->price;
}

json_t *jst_carbon_json(const struct jst_carbon *c, double energy_j, double uncertainty_j)
{
	struct jst_carbon_figure f;
	jst_carbon_of(c, energy_j, uncertainty_j, &f);
	json_t *o = json_object();
	json_object_set_new(o, "region", c->region[0] ? jst_json_string(c->region) : json_null());
	json_object_set_new(o, "intensity_g_per_kwh", jst_json_number(c->intensity));
	json_object_set_new(o, "pue", jst_json_number(c->pue));
	json_object_set_new(o, "pue_default", json_boolean(c->pue_default));
	json_object_set_new(o, "source", jst_json_string(c->source));
	json_object_set_new(o, "energy_j", jst_json_number(energy_j));
	json_object_set_new(o, "uncertainty_j", jst_json_number(uncertainty_j));
	json_object_set_new(o, "co2e_g", jst_json_number(f.co2e_g));
	json_object_set_new(o, "co2e_uncertainty_g", jst_json_number(f.co2e_uncertainty_g));
	json_object_set_new(o, "price_per_kwh", jst_json_number(c->price));
	json_object_set_new(o, "cost", jst_json_number(f.cost));
	json_object_set_new(o, "cost_uncertainty", jst_json_number(f.cost_uncertainty));
	return o;
}
