/* The identity block: wall-clock edges, host, hardware, drivers, versions and
 * options, so that a figure read weeks later says where it came from. Read
 * once per invocation, after the measurement, so that it costs the measured
 * command nothing. */
#include "identity.h"
#include "cli.h"
#include "sinks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

void jst_identity_rfc3339(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;
	time_t s = ts->tv_sec;
	if (!gmtime_r(&s, &tm)) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	char date[32];
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	/* Milliseconds as an int within 0-999: GCC then knows the text's length. */
	int ms = (int)(ts->tv_nsec / 1000000L % 1000);
	int n = snprintf(buf, len, "%s.%03dZ", date, ms < 0 ? 0 : ms);
	if (n < 0 && len)
		buf[0] = '\0';
}

void jst_identity_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len))
		buf[0] = '\0';
	buf[len - 1] = '\0';
}

/* The first "model name" of /proc/cpuinfo (x86), else "Model" or "Hardware"
 * (Arm boards), else the machine's architecture. */
static void cpu_model(char *buf, size_t len)
{
	static const char *const keys[] = {"model name", "Model", "Hardware", "cpu model"};
	buf[0] = '\0';
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];
	int best = (int)(sizeof keys / sizeof keys[0]);
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		jst_cli_trim(line);
		for (int k = 0; k < best; k++) {
			if (strcmp(line, keys[k]) != 0)
				continue;
			snprintf(buf, len, "%s", colon + 1);
			jst_cli_trim(buf);
			best = k;
			break;
		}
		if (best == 0)
			break;
	}
	if (f)
		fclose(f);
	if (!buf[0]) {
		struct utsname u;
		snprintf(buf, len, "%s", uname(&u) == 0 ? u.machine : "unknown");
	}
}

/* A GPU backend's reason names its models: "gpu0-1, gpu3: MODEL; gpu2: OTHER".
 * The model of GPU index idx in it, or NULL. Written into buf. */
static const char *model_in_reason(const char *reason, unsigned idx, char *buf, size_t len)
{
	char *copy = strdup(reason), *save = NULL;
	const char *found = NULL;
	for (char *part = copy ? strtok_r(copy, ";", &save) : NULL; part && !found;
	     part = strtok_r(NULL, ";", &save)) {
		char *colon = strstr(part, ": ");
		if (!colon)
			continue;
		*colon = '\0';
		char *save2 = NULL;
		for (char *g = strtok_r(part, ",", &save2); g; g = strtok_r(NULL, ",", &save2)) {
			unsigned lo, hi;
			int n = sscanf(g, " gpu%u-%u", &lo, &hi);
			if (n == 1)
				hi = lo;
			if (n >= 1 && idx >= lo && idx <= hi) {
				snprintf(buf, len, "%s", colon + 2);
				jst_cli_trim(buf);
				found = buf;
				break;
			}
		}
	}
	free(copy);
	return found;
}

/* One model per GPU measured (each device once), in the meter's order. */
static json_t *gpu_models(jst_meter *m)
{
	json_t *a = json_array();
	size_t n = m ? jst_meter_domain_count(m) : 0;
	for (size_t i = 0; i < n; i++) {
		jst_domain_info d = {.size = sizeof d};
		if (jst_meter_domain(m, i, &d) || d.kind != JST_KIND_GPU || !d.primary)
			continue;
		const char *model = NULL;
		char buf[256];
		unsigned idx;
		for (size_t b = 0; !model && b < jst_meter_backend_count(m); b++) {
			jst_backend_info bi = {.size = sizeof bi};
			if (!jst_meter_backend(m, b, &bi) && bi.available &&
			    !strcmp(bi.name, d.backend) && sscanf(d.name, "gpu%u", &idx) == 1)
				model = model_in_reason(bi.reason, idx, buf, sizeof buf);
		}
		json_array_append_new(a, jst_json_string(model ? model : "unknown"));
	}
	return a;
}

/* The NVIDIA kernel module's version, from its /proc file. */
static int nvidia_version(char *buf, size_t len)
{
	FILE *f = fopen("/proc/driver/nvidia/version", "re");
	char line[512];
	int ok = 0;
	if (f && fgets(line, sizeof line, f)) {
		const char *k = strstr(line, "Kernel Module");
		char v[64];
		if (k && sscanf(k + strlen("Kernel Module"), " %63s", v) == 1) {
			snprintf(buf, len, "%s", v);
			ok = 1;
		}
	}
	if (f)
		fclose(f);
	return ok;
}

/* What each backend in use reads through: NVIDIA's driver for nvml, the
 * kernel's drivers (powercap, hwmon, perf, msr) for the others. */
static json_t *driver_versions(jst_meter *m)
{
	json_t *o = json_object();
	struct utsname u;
	char linux_v[128], nv[64];
	snprintf(linux_v, sizeof linux_v, "linux %s", uname(&u) == 0 ? u.release : "unknown");
	size_t n = m ? jst_meter_backend_count(m) : 0;
	for (size_t i = 0; i < n; i++) {
		jst_backend_info b = {.size = sizeof b};
		if (jst_meter_backend(m, i, &b) || !b.available)
			continue;
		if (!strcmp(b.name, "nvml"))
			json_object_set_new(
			    o, b.name,
			    jst_json_string(nvidia_version(nv, sizeof nv) ? nv : "unknown"));
		else
			json_object_set_new(o, b.name, jst_json_string(linux_v));
	}
	return o;
}

/* The environment's settings, which shape a measurement as much as the command
 * line's: joulestat's variables and CUDA_VISIBLE_DEVICES (the GPUs it
 * selects), by name; in a privileged process only those it still reads. */
static json_t *environment(void)
{
	extern char **environ;
	json_t *o = json_object();
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || !jst_cli_env_applies(*e, (size_t)(eq - *e)))
			continue;
		char name[128];
		snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
		json_object_set_new(o, name, jst_json_string(eq + 1));
	}
	return o;
}

json_t *jst_identity_json(jst_meter *meter, const struct timespec *start,
                          const struct timespec *end, json_t *options)
{
	char t0[40], t1[40], host[256], cpu[256];
	jst_identity_rfc3339(start, t0, sizeof t0);
	jst_identity_rfc3339(end, t1, sizeof t1);
	jst_identity_hostname(host, sizeof host);
	cpu_model(cpu, sizeof cpu);
	json_t *o = json_object();
	json_object_set_new(o, "schema", json_integer(JST_OUTPUT_SCHEMA));
	json_object_set_new(o, "start", json_string(t0));
	json_object_set_new(o, "end", json_string(t1));
	json_object_set_new(o, "hostname", jst_json_string(host));
	json_object_set_new(o, "cpu_model", jst_json_string(cpu));
	json_object_set_new(o, "gpus", gpu_models(meter));
	json_object_set_new(o, "driver_versions", driver_versions(meter));
	json_object_set_new(o, "joulestat", jst_json_string(jst_version()));
	json_object_set_new(o, "options", options ? options : json_object());
	json_object_set_new(o, "environment", environment());
	return o;
}
