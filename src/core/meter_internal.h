/* The meter's internals, shared by the core's files only. */
#ifndef JST_METER_INTERNAL_H
#define JST_METER_INTERNAL_H

#include "backend.h"
#include "counter.h"
#include "integrate.h"
#include "series.h"

#include <pthread.h>
#include <stdint.h>

struct jst_domtab;

/* A domain as the meter keeps it: what the backend declared plus the running
 * state the core derives from its readings. */
struct jst_dom {
	struct jst_domain_desc desc;
	size_t backend; /* index in meter->backends */
	size_t local;   /* index among its backend's domains */
	int parent;     /* global index, or -1 */
	int primary;

	struct jst_counter counter;  /* COUNTER / ESTIMATE */
	struct jst_integrator integ; /* POWER */
	double energy_j;             /* since the meter opened */
	int64_t last_t_ns;           /* time of the last good reading */

	/* Power derived from counter differences, over at least JST_MIN_POWER_DT. */
	int64_t pw_t_ns;
	double pw_energy_j;
	double power_w;
	int power_fresh; /* set when the last reading gave a new power value */

	int failed;
	int64_t failed_t_ns;
	char failure[JST_NOTE_MAX];

	struct jst_series series;
	jst_sample latest;
};

struct jst_be {
	const struct jst_backend_ops *ops;
	void *state;
	int available;
	int active; /* at least one of its domains is kept */
	char reason[JST_REASON_MAX];
	size_t ndecl;        /* domains it declared */
	int *map;            /* declared index -> global domain index, or -1 */
	struct jst_raw *raw; /* scratch for read(), ndecl entries */
};

/* Telemetry summed over the sampler's readings in a window. */
struct jst_wtel {
	double temp_max; /* NaN until seen */
	double util_sum, clock_sum;
	unsigned util_n, clock_n;
	double power_limit; /* the last one seen */
};

/* One domain's state at a window's begin, and what the sampler saw since. */
struct jst_wdom {
	double energy0; /* energy_j at begin */
	double peak_w;  /* NaN until a power value is seen */
	size_t samples;
	struct jst_wtel tel;
	unsigned disc0; /* counter discontinuities at begin */
	int failed0;
};

struct jst_window {
	struct jst_window *next;
	char *name; /* in the same allocation, after dom */
	int64_t begin_ns;
	struct jst_wdom dom[];
};

void jst_window_free(struct jst_window *w);

struct jst_meter {
	pthread_mutex_t mu; /* guards everything below except the sampler's control */
	struct jst_be *backends;
	size_t nbackends;
	struct jst_dom *doms;
	size_t ndoms;
	struct jst_window *windows;
	struct jst_domtab *tab; /* the domains' strings, shared with measurements */
	double period_s;
	int cross_validate;
	size_t series_capacity;

	/* Sampler control. */
	pthread_mutex_t smu;
	pthread_cond_t scond;
	int stop;
	int sampler_running;
	pthread_t sampler;
};

/* Minimum span over which a counter-derived power value is formed: below it,
 * quantisation of the counter dominates. */
#define JST_MIN_POWER_DT_NS 10000000LL

int64_t jst_now_ns(void);

/* jst_meter_open with a given list of backends instead of the registry: the seam
 * unit tests use to drive the core with backends whose values they control. */
int jst_meter_open_backends(const jst_config *cfg, const struct jst_backend_ops *const *ops,
                            size_t nops, jst_meter **out);

/* Read every active backend now and fold the values into each domain. Called
 * with meter->mu held. from_sampler marks the sampler's periodic reading (it
 * feeds the series and the windows' sample counts); telemetry asks backends for
 * temperature, utilisation and clocks too (dearer than energy alone). Returns
 * the instant of the reading. */
int64_t jst_meter_read_locked(struct jst_meter *m, int from_sampler, int telemetry);

int jst_sampler_start(struct jst_meter *m);
void jst_sampler_stop(struct jst_meter *m);

/* Resolve the configuration into what backends see (config.c). Strings are
 * copied into the buffers given. */
struct jst_resolved_config {
	char sysfs_root[512];
	char procfs_root[512];
	char nvml_library[512];
	char devfs_root[512];
	char perf_library[512];
	char amdsmi_library[512];
	char gpus[1024];
	int gpus_set;
	char backends[256];
	int backends_set;
	int allow_estimate;
	int cross_validate;
	double period_s;
	size_t series_capacity;
};
int jst_config_resolve(const jst_config *cfg, struct jst_resolved_config *out);
/* Is name listed in a comma-separated list? */
int jst_list_contains(const char *list, const char *name);

#endif
