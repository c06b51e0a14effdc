/* Parsing the Redfish documents the redfish backend reads (redfish_json.h). */
#include "redfish_json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static json_t *load(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "not JSON: %s (line %d)", je.text, je.line);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* obj[key]["@odata.id"] into out when it is a string that fits. */
static void link_of(json_t *obj, const char *key, char *out, size_t len)
{
	json_t *l = json_object_get(obj, key);
	json_t *id = json_is_object(l) ? json_object_get(l, "@odata.id") : NULL;
	const char *s = json_string_value(id);
	if (s && s[0] == '/' && strlen(s) < len)
		memcpy(out, s, strlen(s) + 1);
}

int jst_redfish_members(const char *body, size_t len, char (*out)[JST_REDFISH_PATH_MAX], size_t max,
                        size_t *n, char *err, size_t errlen)
{
	*n = 0;
	json_t *root = load(body, len, err, errlen);
	if (!root)
		return -EINVAL;
	json_t *m = json_object_get(root, "Members");
	if (!json_is_array(m)) {
		snprintf(err, errlen, "no Members array");
		json_decref(root);
		return -EINVAL;
	}
	size_t i;
	json_t *v;
	json_array_foreach(m, i, v)
	{
		char path[JST_REDFISH_PATH_MAX] = "";
		const char *s =
		    json_is_object(v) ? json_string_value(json_object_get(v, "@odata.id")) : NULL;
		if (s && s[0] == '/' && strlen(s) < sizeof path)
			memcpy(path, s, strlen(s) + 1);
		if (!path[0])
			continue;
		if (*n < max)
			memcpy(out[*n], path, sizeof path);
		(*n)++;
	}
	json_decref(root);
	return 0;
}

int jst_redfish_chassis_parse(const char *body, size_t len, struct jst_redfish_chassis *c,
                              char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	json_t *root = load(body, len, err, errlen);
	if (!root)
		return -EINVAL;
	const char *id = json_string_value(json_object_get(root, "Id"));
	snprintf(c->id, sizeof c->id, "%s", id ? id : "");
	const char *self = json_string_value(json_object_get(root, "@odata.id"));
	if (self && strlen(self) < sizeof c->self)
		memcpy(c->self, self, strlen(self) + 1);
	link_of(root, "Power", c->power, sizeof c->power);
	link_of(root, "EnvironmentMetrics", c->env, sizeof c->env);
	json_t *links = json_object_get(root, "Links");
	if (json_is_object(links))
		link_of(links, "ContainedBy", c->contained_by, sizeof c->contained_by);
	json_decref(root);
	return 0;
}

/* A finite, non-negative number, else NaN. */
static double reading(json_t *v)
{
	if (!json_is_number(v))
		return NAN;
	double x = json_number_value(v);
	return isfinite(x) && x >= 0 ? x : NAN;
}

int jst_redfish_power_watts(const char *body, size_t len, double *watts, double *capacity,
                            char *err, size_t errlen)
{
	*watts = NAN;
	if (capacity)
		*capacity = NAN;
	json_t *root = load(body, len, err, errlen);
	if (!root)
		return -EINVAL;
	json_t *pc = json_object_get(root, "PowerControl");
	json_t *first = json_is_array(pc) ? json_array_get(pc, 0) : NULL;
	if (json_is_object(first)) {
		*watts = reading(json_object_get(first, "PowerConsumedWatts"));
		if (capacity)
			*capacity = reading(json_object_get(first, "PowerCapacityWatts"));
	}
	json_decref(root);
	if (isnan(*watts)) {
		snprintf(err, errlen, "no PowerControl[0].PowerConsumedWatts");
		return -ENODATA;
	}
	return 0;
}

int jst_redfish_env_metrics(const char *body, size_t len, double *watts, double *kwh, char *err,
                            size_t errlen)
{
	*watts = *kwh = NAN;
	json_t *root = load(body, len, err, errlen);
	if (!root)
		return -EINVAL;
	json_t *pw = json_object_get(root, "PowerWatts");
	json_t *en = json_object_get(root, "EnergykWh");
	if (json_is_object(pw))
		*watts = reading(json_object_get(pw, "Reading"));
	if (json_is_object(en))
		*kwh = reading(json_object_get(en, "Reading"));
	json_decref(root);
	if (isnan(*watts) && isnan(*kwh)) {
		snprintf(err, errlen, "no PowerWatts.Reading or EnergykWh.Reading");
		return -ENODATA;
	}
	return 0;
}
