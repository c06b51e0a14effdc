/* Fuzz target: joulestat serve's reader of Prometheus's web-config file and
 * the Accept header negotiation. A parse either fails with a message that
 * fits, leaving nothing behind, or yields users with bcrypt hashes and both
 * or neither of the TLS files. */
#include "fuzz.h"
#include "prom.h"
#include "webconfig.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);
	if (!s)
		return 0;
	struct jst_webconfig c;
	int rc = jst_webconfig_parse(s, "/etc/joulestat", &c);
	if (strlen(c.error) >= sizeof c.error)
		abort();
	if (rc) {
		if (rc != -EINVAL && rc != -ENOMEM)
			abort();
		if (!c.error[0] || c.cert_file || c.key_file || c.nusers)
			abort();
	} else {
		if (!c.cert_file != !c.key_file || c.nusers > JST_WEBCONFIG_USERS_MAX)
			abort();
		for (size_t i = 0; i < c.nusers; i++)
			if (strncmp(c.users[i].hash, "$2", 2) != 0)
				abort();
		char prio[128];
		jst_webconfig_priorities(&c, prio, sizeof prio);
		if (strncmp(prio, "NORMAL:-VERS-ALL", 16) != 0)
			abort();
		jst_webconfig_free(&c);
	}
	int f = jst_prom_negotiate(s);
	if (f != JST_PROM_TEXT && f != JST_PROM_OPENMETRICS)
		abort();
	free(s);
	return 0;
}
