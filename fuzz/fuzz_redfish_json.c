/* Fuzz target: the Redfish documents a BMC sends (src/backends/redfish_json.c),
 * each parser on the same bytes, not NUL-terminated. Readings are finite and
 * non-negative or NaN, and every path kept is absolute and terminated. */
#include "fuzz.h"
#include "redfish_json.h"

#include <math.h>

static void check_path(const char *p, size_t cap)
{
	if (strnlen(p, cap) >= cap || (p[0] && p[0] != '/'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The parsers take a length: an exact-size copy lets ASan see an overread. */
	char *body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	char err[128];
	char paths[4][JST_REDFISH_PATH_MAX];
	size_t n = 0;
	if (jst_redfish_members(body, size, paths, 4, &n, err, sizeof err) == 0)
		for (size_t i = 0; i < n && i < 4; i++)
			check_path(paths[i], sizeof paths[i]);
	struct jst_redfish_chassis c;
	if (jst_redfish_chassis_parse(body, size, &c, err, sizeof err) == 0) {
		check_path(c.power, sizeof c.power);
		check_path(c.env, sizeof c.env);
		check_path(c.contained_by, sizeof c.contained_by);
		if (strnlen(c.id, sizeof c.id) >= sizeof c.id)
			abort();
	}
	double w, cap, kwh;
	int r = jst_redfish_power_watts(body, size, &w, &cap, err, sizeof err);
	if ((r == 0) != (w >= 0 && isfinite(w)) || (!isnan(cap) && !(cap >= 0 && isfinite(cap))))
		abort();
	r = jst_redfish_env_metrics(body, size, &w, &kwh, err, sizeof err);
	if (r == 0 && isnan(w) && isnan(kwh))
		abort();
	if (strnlen(err, sizeof err) >= sizeof err)
		abort();
	free(body);
	return 0;
}
