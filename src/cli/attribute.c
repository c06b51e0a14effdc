/*
 * joulestat run's attribution options (--attribute, --pid, --cgroup and the
 * attribute.* settings) and the settings attribution reads from the library's
 * own options (procfs.root, sysfs.root, nvml.library), resolved the way the
 * library resolves them: --option, then the key's own variable, then
 * JOULESTAT_OPTIONS, then the default. Also the note that the estimate
 * backend's figure covers every process on a busy machine.
 */
#include "attribute.h"
#include "attrib_proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int jst_cli_attrib_option(struct jst_cli_attrib *a, int opt, const char *arg)
{
	if ((opt == JST_CLI_OPT_PID || opt == JST_CLI_OPT_CGROUP ||
	     (opt == JST_CLI_OPT_ATTRIBUTE && !a->command)) &&
	    (size_t)a->command + a->npids + a->ncgroups >= JST_ATTR_TARGETS_MAX) {
		jst_cli_usage_error("run", "at most %d targets (--attribute, --pid, --cgroup)",
		                    JST_ATTR_TARGETS_MAX);
		return -1;
	}
	switch (opt) {
	case JST_CLI_OPT_ATTRIBUTE:
		a->command = 1;
		return 1;
	case JST_CLI_OPT_PID: {
		unsigned pid;
		if (jst_cli_parse_uint("run", "--pid", arg, 1, 0x3fffffff, &pid))
			return -1;
		if (a->npids == JST_ATTR_TARGETS_MAX - 1) {
			jst_cli_usage_error("run", "--pid: at most %d", JST_ATTR_TARGETS_MAX - 1);
			return -1;
		}
		a->pids[a->npids++] = (pid_t)pid;
		return 1;
	}
	case JST_CLI_OPT_CGROUP:
		if (!*arg || strstr(arg, "..")) {
			jst_cli_usage_error("run",
			                    "--cgroup '%s': a path below the cgroup root, "
			                    "without '..'",
			                    arg);
			return -1;
		}
		if (a->ncgroups == JST_ATTR_TARGETS_MAX - 1) {
			jst_cli_usage_error("run", "--cgroup: at most %d",
			                    JST_ATTR_TARGETS_MAX - 1);
			return -1;
		}
		a->cgroups[a->ncgroups++] = arg;
		return 1;
	case JST_OPT_OPTION:
		if (strncmp(arg, "attribute.", 10) != 0)
			return 0;
		if (strncmp(arg, "attribute.cgroup-root=", 22) != 0 &&
		    strncmp(arg, "attribute.idle-w=", 17) != 0 &&
		    strncmp(arg, "attribute.period-ms=", 20) != 0) {
			jst_cli_usage_error("run",
			                    "--option %s: unknown (attribute.cgroup-root, "
			                    "attribute.idle-w, attribute.period-ms)",
			                    arg);
			return -1;
		}
		if (!strncmp(arg, "attribute.idle-w=", 17)) {
			double w;
			if (jst_attr_idle_lookup(arg + 17, "package-0", &w)) {
				jst_cli_usage_error("run",
				                    "--option %s: watts, or DOMAIN:WATTS,... "
				                    "(package-0:20,dram-0:3,gpu0:60)",
				                    arg);
				return -1;
			}
		}
		if (!strncmp(arg, "attribute.period-ms=", 20)) {
			unsigned p;
			if (jst_cli_parse_uint("run", "attribute.period-ms", arg + 20, 10, 60000,
			                       &p))
				return -1;
		}
		if (a->noptions == sizeof a->options / sizeof a->options[0]) {
			jst_cli_usage_error("run", "--option: too many");
			return -1;
		}
		a->options[a->noptions++] = arg;
		return 1;
	default:
		return 0;
	}
}

int jst_cli_attrib_wanted(const struct jst_cli_attrib *a)
{
	return a->command || a->npids || a->ncgroups;
}

/* The last "key=value" for key in list, or NULL. */
static const char *from_list(const char *const *list, size_t n, const char *key)
{
	size_t k = strlen(key);
	for (size_t i = n; i-- > 0;)
		if (!strncmp(list[i], key, k) && list[i][k] == '=')
			return list[i] + k + 1;
	return NULL;
}

/* key's value in JOULESTAT_OPTIONS ("k=v,k=v"; a piece with no '=' goes on
 * with the value before it, as the library reads it), copied into buf, or NULL. */
static const char *from_env_options(const char *key, char *buf, size_t len)
{
	const char *env = secure_getenv("JOULESTAT_OPTIONS");
	size_t k = strlen(key);
	int found = 0, in_key = 0;
	size_t used = 0;
	for (const char *p = env; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (eq) {
			in_key = (size_t)(eq - p) == k && !strncmp(p, key, k);
			if (in_key) {
				found = 1;
				used = 0;
				p = eq + 1;
				n -= k + 1;
			}
		}
		if (in_key) {
			if (used + n + 2 > len)
				return NULL;
			if (!eq)
				buf[used++] = ',';
			memcpy(buf + used, p, n);
			used += n;
			buf[used] = '\0';
		}
		p = end ? end + 1 : p + n;
	}
	return found ? buf : NULL;
}

static const char *setting(const struct jst_cli_common *c, const char *const *own, size_t nown,
                           const char *key, const char *env, const char *dflt, char *buf,
                           size_t len)
{
	const char *v = own ? from_list(own, nown, key) : from_list(c->options, c->noptions, key);
	if (!v && env)
		v = secure_getenv(env);
	if (!v)
		v = from_env_options(key, buf, len);
	return v && *v ? v : dflt;
}

int jst_cli_attrib_start(const struct jst_cli_attrib *a, const struct jst_cli_common *c,
                         jst_meter *meter, struct jst_attrib **out)
{
	/* jst_attrib_start copies what it keeps. */
	struct {
		char buf[6][1024];
		char labels[JST_ATTR_TARGETS_MAX][160];
	} st;
	struct jst_attr_settings s = {0};
	s.procfs = setting(c, NULL, 0, "procfs.root", "JOULESTAT_PROCFS_ROOT", "/proc", st.buf[0],
	                   sizeof st.buf[0]);
	s.sysfs = setting(c, NULL, 0, "sysfs.root", "JOULESTAT_SYSFS_ROOT", "/sys", st.buf[1],
	                  sizeof st.buf[1]);
	s.nvml_library = setting(c, NULL, 0, "nvml.library", "JOULESTAT_NVML_LIBRARY",
	                         "libnvidia-ml.so.1", st.buf[2], sizeof st.buf[2]);
	s.cgroup_root =
	    setting(c, a->options, a->noptions, "attribute.cgroup-root", "JOULESTAT_CGROUP_ROOT",
	            "/sys/fs/cgroup", st.buf[3], sizeof st.buf[3]);
	s.idle = setting(c, a->options, a->noptions, "attribute.idle-w", NULL, NULL, st.buf[4],
	                 sizeof st.buf[4]);
	const char *period = setting(c, a->options, a->noptions, "attribute.period-ms", NULL, "200",
	                             st.buf[5], sizeof st.buf[5]);
	unsigned p;
	if (jst_cli_parse_uint("run", "attribute.period-ms", period, 10, 60000, &p))
		return JST_EXIT_USAGE;
	s.period_ms = p;
	double probe;
	if (jst_attr_idle_lookup(s.idle, "package-0", &probe))
		return jst_cli_usage_error("run",
		                           "attribute.idle-w '%s': watts, or DOMAIN:WATTS,... "
		                           "(package-0:20,dram-0:3,gpu0:60)",
		                           s.idle);

	struct jst_attr_target t[JST_ATTR_TARGETS_MAX];
	size_t n = 0;
	if (a->command)
		t[n++] =
		    (struct jst_attr_target){.type = JST_ATTR_TREE, .pid = 0, .label = "command"};
	for (size_t i = 0; i < a->npids && n < JST_ATTR_TARGETS_MAX; i++) {
		snprintf(st.labels[n], sizeof st.labels[n], "pid:%ld", (long)a->pids[i]);
		t[n] = (struct jst_attr_target){
		    .type = JST_ATTR_TREE, .pid = a->pids[i], .label = st.labels[n]};
		n++;
	}
	for (size_t i = 0; i < a->ncgroups && n < JST_ATTR_TARGETS_MAX; i++) {
		snprintf(st.labels[n], sizeof st.labels[n], "cgroup:%s", a->cgroups[i]);
		t[n] = (struct jst_attr_target){
		    .type = JST_ATTR_CGROUP, .cgroup = a->cgroups[i], .label = st.labels[n]};
		n++;
	}
	char why[512] = "";
	int rc = jst_attrib_start(meter, &s, t, n, out, why, sizeof why);
	if (rc) {
		jst_cli_error("cannot attribute: %s", why);
		return JST_EXIT_RUN_FAIL;
	}
	return 0;
}

/* ---- the estimate on a busy machine ------------------------------------------ */

/* Busy CPU seconds of the whole machine (the aggregate line of procfs's stat). */
static double machine_busy_s(const char *procfs)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/stat", procfs);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	               &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / jst_attr_hz();
}

static double children_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_CHILDREN, &ru))
		return -1;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

void jst_cli_busy_begin(struct jst_cli_busy *b, const struct jst_cli_common *c, jst_meter *m)
{
	*b = (struct jst_cli_busy){0};
	for (size_t i = 0; i < jst_meter_domain_count(m); i++) {
		jst_domain_info d = {.size = sizeof d};
		if (jst_meter_domain(m, i, &d) == 0 && d.primary && !strcmp(d.backend, "estimate"))
			b->estimate = 1;
	}
	if (!b->estimate)
		return;
	b->procfs = setting(c, NULL, 0, "procfs.root", "JOULESTAT_PROCFS_ROOT", "/proc", b->buf,
	                    sizeof b->buf);
	b->busy0 = machine_busy_s(b->procfs);
	b->own0 = children_cpu_s();
}

double jst_cli_busy_end(struct jst_cli_busy *b)
{
	if (!b->estimate || b->busy0 < 0 || b->own0 < 0)
		return -1;
	double busy = machine_busy_s(b->procfs) - b->busy0;
	double own = children_cpu_s() - b->own0;
	/* Below a few clock ticks the counts say nothing either way. */
	if (busy < 5.0 / jst_attr_hz() || own < 0)
		return -1;
	double frac = own / busy;
	return frac > 1 ? 1 : frac;
}
