/*
 * Attribution: the share of measured device energy that belongs to a process
 * tree or a cgroup (joulestat run --attribute, --pid, --cgroup). A thread
 * rotates its own window on the meter every period, reads how busy each device
 * was and how much of it was each target's, and keeps sums; at the end the
 * idle power comes off and each target gets its share of the rest, with the
 * idle energy beside it (docs/attribution.md). Built into the CLI, not the
 * library: it uses only the public API and the operating system's files.
 */
#ifndef JST_ATTRIB_H
#define JST_ATTRIB_H

#include <joulestat.h>
#include <stddef.h>
#include <sys/types.h>

#define JST_ATTR_TARGETS_MAX 16
#define JST_ATTR_DOMAINS_MAX 64

enum jst_attr_target_type { JST_ATTR_TREE, JST_ATTR_CGROUP };

struct jst_attr_target {
	enum jst_attr_target_type type;
	pid_t pid;          /* TREE: the root of the tree (0: set later, the command) */
	const char *cgroup; /* CGROUP: its path below the cgroup root */
	const char *label;  /* "command", "pid:1234", "cgroup:/a/b" */
};

struct jst_attr_settings {
	const char *procfs;       /* procfs.root */
	const char *sysfs;        /* sysfs.root */
	const char *cgroup_root;  /* attribute.cgroup-root */
	const char *nvml_library; /* nvml.library */
	const char *idle;         /* attribute.idle-w: "W" or "DOMAIN:W,..."; NULL: fit */
	unsigned period_ms;       /* attribute.period-ms */
};

/* What one target is attributed on one domain. */
struct jst_attr_figure {
	double energy_j;      /* share of the domain's dynamic energy */
	double uncertainty_j; /* ± J: the domain's own, the model's, the time counts' */
	double accuracy;      /* the domain's class widened by the model's */
	double idle_j;        /* its part of the idle energy, by the stated rule */
	double share;         /* energy_j over the domain's dynamic energy */
	double work_s;        /* CPU seconds (packages, DRAM) or GPU busy seconds */
};

struct jst_attr_domain {
	char name[64], device[128], backend[32];
	jst_kind kind;
	double energy_j;           /* measured, in the attribution's window */
	double dynamic_j;          /* energy_j less idle_j */
	double idle_j;             /* idle power x duration; 0 when not separated */
	double idle_w;             /* NaN when not separated */
	const char *idle_source;   /* "given", "fit", "none" */
	double busy_s, capacity_s; /* over the run, in the domain's unit of work */
	const char *model;         /* how it is shared out, one line */
};

struct jst_attribution {
	double duration_s;
	size_t ndomains, ntargets;
	struct jst_attr_domain domain[JST_ATTR_DOMAINS_MAX];
	char target[JST_ATTR_TARGETS_MAX][160];
	/* figure[t * ndomains + d] */
	struct jst_attr_figure figure[JST_ATTR_TARGETS_MAX * JST_ATTR_DOMAINS_MAX];
	struct jst_attr_figure total[JST_ATTR_TARGETS_MAX]; /* per target, over domains */
	unsigned ticks;
	char note[1024]; /* what the figures cannot see: "" or "; "-separated */
};

struct jst_attrib;

/* Start attributing to targets[0..n-1] on meter. A TREE target with pid 0 is
 * the command: set it with jst_attrib_set_command before the first tick.
 * 0, or -errno with why filled. */
int jst_attrib_start(jst_meter *meter, const struct jst_attr_settings *s,
                     const struct jst_attr_target *targets, size_t n, struct jst_attrib **out,
                     char *why, size_t len);
void jst_attrib_set_command(struct jst_attrib *a, pid_t pid);
/* The last tick, then the figures (malloc'd; free()). 0 or -errno; the thread
 * is gone either way. */
int jst_attrib_stop(struct jst_attrib *a, struct jst_attribution **out);

/* Parse the idle option: idle power of domain name (NaN when not given).
 * 0, or -EINVAL for a malformed spec. */
int jst_attr_idle_lookup(const char *spec, const char *domain, double *idle_w);

#endif
