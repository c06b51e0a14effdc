/*
 * joulestat — measure the energy that code and commands spend, with the most
 * accurate method each machine offers, and say how accurate every figure is.
 *
 * One public header. All handles are opaque. Functions that can fail return 0
 * or a negative errno-style code; jst_strerror() turns it into text.
 * Every function is thread-safe on its own meter: windows may be begun on one
 * thread and ended on another. jst_meter_close must not race any other call on
 * that meter (or on its windows): end or cancel them, join the threads that
 * use the meter, then close it.
 *
 * Structs the library fills (jst_backend_info, jst_domain_info, jst_sample,
 * jst_domain_energy, jst_total) start with `size_t size`: set it to sizeof the
 * struct before the call, e.g. `jst_total t = {.size = sizeof t};`. The library
 * writes min(size, its own size) bytes and never more, so a program built
 * against an older or newer header keeps working; a size of 0 or below the
 * first version's is -EINVAL. New fields are only ever appended.
 *
 * String lifetimes: strings the library returns (names, notes, reasons in the
 * structs above, jst_window_label, jst_measurement_name) stay valid as long as
 * the object they came from: the meter (until jst_meter_close), the window
 * (until it is ended or cancelled), the measurement (until
 * jst_measurement_free; a measurement's strings outlive its meter).
 * jst_version, jst_strerror and the *_name functions return static strings.
 * Strings the caller passes are copied before the call returns.
 *
 * A meter belongs to the process that opened it: its sampler thread does not
 * survive fork(), so in a forked child every call that reads (windows,
 * jst_meter_sample_now) fails with -ECHILD; the child may only close it, or
 * open a meter of its own.
 */
#ifndef JOULESTAT_H
#define JOULESTAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JST_VERSION_MAJOR 0
#define JST_VERSION_MINOR 1
#define JST_VERSION_PATCH 0
#define JST_VERSION "0.1.0"

/* The library exports exactly the functions marked JST_EXPORT (it is built with
 * hidden visibility and a version script, node JOULESTAT_0.1). */
#if defined(__GNUC__) || defined(__clang__)
#define JST_EXPORT __attribute__((visibility("default")))
#else
#define JST_EXPORT
#endif

/* Library version string, e.g. "0.1.0". */
JST_EXPORT const char *jst_version(void);

/* Text for a negative return code (or a positive errno). Never NULL. */
JST_EXPORT const char *jst_strerror(int code);

/* What a domain is. Totals are formed per kind (see jst_total). */
typedef enum jst_kind {
	JST_KIND_GPU = 0,  /* a whole GPU */
	JST_KIND_PACKAGE,  /* a CPU package (socket) or a die of one */
	JST_KIND_CORE,     /* cores of a package: contained in the package */
	JST_KIND_UNCORE,   /* uncore / graphics of a package: contained in the package */
	JST_KIND_DRAM,     /* memory attached to a package */
	JST_KIND_PLATFORM, /* RAPL psys: the whole SoC platform; reported as system */
	JST_KIND_NODE,     /* a whole-node meter (PDU, BMC); reported as system */
	JST_KIND_OTHER,
	JST_KIND_COUNT_
} jst_kind;

/* How a domain's energy is obtained. */
typedef enum jst_method {
	JST_METHOD_COUNTER = 0, /* hardware energy counter, extended past its wraps */
	JST_METHOD_POWER,       /* power readings integrated over time by the sampler */
	JST_METHOD_ESTIMATE,    /* a model (TDP x utilisation); not a measurement */
	JST_METHOD_COUNT_
} jst_method;

/* Totals a measurement offers. TOTAL never double counts: core and uncore
 * are inside their package, and platform/node meters are SYSTEM, not summed
 * into TOTAL. */
typedef enum jst_total_kind {
	JST_TOTAL_GPU = 0, /* all GPUs */
	JST_TOTAL_CPU,     /* all CPU packages (estimate included where it is all there is) */
	JST_TOTAL_DRAM,    /* all DRAM domains */
	JST_TOTAL_ALL,     /* GPU + CPU + DRAM + other components, each device once */
	JST_TOTAL_SYSTEM,  /* whole-platform and whole-node meters */
	JST_TOTAL_COUNT_
} jst_total_kind;

/* "gpu", "package", ...; "counter", "power", "estimate"; "gpu", "cpu", "dram",
 * "total", "system". */
JST_EXPORT const char *jst_kind_name(jst_kind kind);
JST_EXPORT const char *jst_method_name(jst_method method);
JST_EXPORT const char *jst_total_name(jst_total_kind total);

/* ---- configuration ---------------------------------------------------- */

/* Settings are generic "key=value" options: jst_config_set (the CLI's
 * --option KEY=VALUE), else the environment (JOULESTAT_OPTIONS="k=v,k=v", and
 * a few keys' own variables, which win over JOULESTAT_OPTIONS), else the
 * default. Keys (docs/api.md has the full list):
 *   backends        comma-separated backend names to try ("nvml,rapl"); all by default
 *   gpus            GPU indices or UUIDs ("0,2"); CUDA_VISIBLE_DEVICES, else all
 *   period_ms       sampler period, 1 to 3600000 ms; 100
 *   cross_validate  0 or 1: keep every method per device; 0
 *   estimate        0 or 1: allow the CPU estimate where nothing measures; 1
 *   series_capacity samples kept per domain, 1 to 16777216; 4096
 *   nvml.library    path or soname of libnvidia-ml ($JOULESTAT_NVML_LIBRARY)
 *   sysfs.root      where sysfs is ($JOULESTAT_SYSFS_ROOT); "/sys"
 *   procfs.root     where procfs is ($JOULESTAT_PROCFS_ROOT); "/proc"
 * The fields below are the core settings' older form; a backend's settings
 * are options only, so that a new backend adds nothing to this struct. Its
 * layout is fixed: new settings come as new keys. */
#define JST_CONFIG_OPTIONS_MAX 2048
#define JST_CONFIG_ERROR_MAX 256
typedef struct jst_config {
	const char *backends;      /* as the key backends; NULL: not set here */
	const char *gpus;          /* as the key gpus; NULL: not set here */
	unsigned sample_period_ms; /* as period_ms; 0: not set here */
	int allow_estimate;        /* as estimate; 1 after jst_config_init */
	int cross_validate;        /* as cross_validate */
	size_t series_capacity;    /* as series_capacity; 0: not set here */
	/* Private: what jst_config_set stored, and the text of the last error. */
	char options_[JST_CONFIG_OPTIONS_MAX];
	char error_[JST_CONFIG_ERROR_MAX];
} jst_config;

/* Fill *cfg with defaults. Always call this before setting anything. */
JST_EXPORT void jst_config_init(jst_config *cfg);
/* Set option key to value (copied); value NULL unsets it. A later set of the
 * same key wins, and a set of a core key wins over its field set before.
 * 0, -EINVAL for an unknown key or a bad value, -ENOSPC when the options
 * fill JST_CONFIG_OPTIONS_MAX; jst_config_error then says which setting is
 * wrong and what it accepts. */
JST_EXPORT int jst_config_set(jst_config *cfg, const char *key, const char *value);
/* Text of the last failure of jst_config_set or jst_meter_open with cfg,
 * naming the setting and the values it accepts; "" after a success. Valid
 * until the next call with cfg. */
JST_EXPORT const char *jst_config_error(const jst_config *cfg);

/* ---- meter ------------------------------------------------------------ */

typedef struct jst_meter jst_meter;

/* Probe backends, declare domains, start the sampler. A meter with no
 * available domain is still opened (list shows why); windows then fail with
 * -ENODEV. cfg may be NULL for defaults (and the environment). -EINVAL when
 * a setting, from cfg or the environment, is wrong: jst_config_error(cfg)
 * names it and what it accepts. */
JST_EXPORT int jst_meter_open(jst_config *cfg, jst_meter **out);
/* Stop the sampler and release everything. Open windows are discarded and
 * their handles become invalid. Must not race any other call on this meter. */
JST_EXPORT void jst_meter_close(jst_meter *meter);

/* Wait until every domain's sensor is known: a counter whose refresh the
 * hardware does not state (NVML) is measured from its changes while the
 * sampler polls fast in the meter's first second. Windows begun before then are
 * still measured, with a wider uncertainty. 0, or -ETIMEDOUT. */
JST_EXPORT int jst_meter_settle(jst_meter *meter, unsigned timeout_ms);

typedef struct jst_backend_info {
	size_t size;             /* set to sizeof(jst_backend_info) before the call */
	const char *name;        /* "nvml", "rapl", "estimate" */
	const char *description; /* one line: what it reads */
	double accuracy;         /* typical relative error of its class, 0.05 = 5% */
	int available;           /* 1 when it declared at least one domain */
	const char *reason;      /* why unavailable and what to do; "" when available */
} jst_backend_info;

/* Backends in registry order (most accurate first), whether or not available. */
JST_EXPORT size_t jst_meter_backend_count(const jst_meter *meter);
JST_EXPORT int jst_meter_backend(const jst_meter *meter, size_t index, jst_backend_info *out);

typedef struct jst_domain_info {
	size_t size;         /* set to sizeof(jst_domain_info) before the call */
	const char *name;    /* "gpu0", "package-0", "core-0", "dram-0", "psys", "cpu" */
	const char *device;  /* device identity, used for de-duplication */
	const char *backend; /* backend that reads it */
	const char *source;  /* finer method label: "energy-counter", "instant-power", ... */
	const char *note;    /* caveat worth showing ("MIG enabled: whole-GPU energy"), or "" */
	jst_kind kind;
	jst_method method;
	double accuracy;        /* relative error class, 0.05 = 5% */
	double sample_period_s; /* how often the sampler reads it */
	/* The sensor: how the hardware updates what joulestat reads. */
	double refresh_s;    /* the value changes this often; 0 while not yet known */
	double resolution_j; /* one count in J (counters), 0 for power readings */
	double max_power_w;  /* the bound a reading is judged against */
	int refresh_source;  /* JST_REFRESH_* : where refresh_s comes from */
	int parent;          /* index of the containing domain, or -1 */
	int primary;         /* 1 when it is the figure counted for its device */
	/* 1 when its energy is in the total of all components (JST_TOTAL_ALL):
	 * primary, inside no other domain (a core, uncore or rail is in its
	 * socket or module), and not a meter of the whole system beside them
	 * (psys, a BMC's node reading: JST_TOTAL_SYSTEM). What every output
	 * calls "counted". */
	int counted;
} jst_domain_info;

/* Where a domain's refresh interval comes from. The core measures it (time
 * between counter changes, in the meter's first second) where the hardware
 * does not say. */
enum {
	JST_REFRESH_UNKNOWN = 0, /* not yet measured (or the value never changed) */
	JST_REFRESH_DECLARED,    /* the backend knows it (RAPL: 1 ms) */
	JST_REFRESH_MEASURED,    /* measured on this device */
};

JST_EXPORT size_t jst_meter_domain_count(const jst_meter *meter);
JST_EXPORT int jst_meter_domain(const jst_meter *meter, size_t index, jst_domain_info *out);

/* ---- time series -------------------------------------------------------- */

/* One sampler reading of one domain. Fields it does not have are NaN. */
typedef struct jst_sample {
	size_t size;     /* set to sizeof(jst_sample) before the call */
	int64_t t_ns;    /* CLOCK_MONOTONIC */
	double energy_j; /* energy since the meter opened */
	double power_w;  /* power at or just before t */
	double temperature_c;
	double utilization_pct;
	double clock_mhz;     /* SM / core clock */
	double power_limit_w; /* enforced power limit */
} jst_sample;

/* Copy up to cap of the most recent samples of a domain, oldest first.
 * Returns the number copied (>= 0) or a negative code. */
JST_EXPORT int jst_meter_series(jst_meter *meter, size_t domain, jst_sample *buf, size_t cap);

/* Take a fresh reading of every domain now and return the latest sample of one. */
JST_EXPORT int jst_meter_sample_now(jst_meter *meter, size_t domain, jst_sample *out);

/* ---- windows ------------------------------------------------------------ */

typedef struct jst_window jst_window;
typedef struct jst_measurement jst_measurement;

/* Begin a window: a fresh reading of every domain now. label names it in
 * outputs (NULL = ""); labels need not be unique, so a function measured
 * recursively or from many threads at once opens a window each. Windows nest
 * and overlap freely and may be ended on another thread. *out is valid until
 * jst_window_end or jst_window_cancel, or until the meter is closed. */
JST_EXPORT int jst_window_begin(jst_meter *meter, const char *label, jst_window **out);
/* End a window and hand back its measurement (free with jst_measurement_free);
 * out may be NULL to discard it. The handle is freed, except on -ENOMEM: the
 * window then stays open and the call may be repeated. */
JST_EXPORT int jst_window_end(jst_window *w, jst_measurement **out);
/* End a window settled: its end instant, duration and energy are those of the
 * moment of the call, as jst_window_end's, but the figure is formed once each
 * energy counter that refreshes slower than a few ms (NVML's 10-100 ms) has
 * latched again after that moment, so that the end edge is evaluated between
 * two known counter values instead of extrapolated from the last one: long
 * windows then state their method's class, not the power's recent spread
 * times a refresh. Cost: blocks up to about one and a half refreshes of the
 * slowest such counter (the meter is read every tenth of a refresh meanwhile),
 * at most timeout_ms (0: 1000 ms); power readings, estimates, counters of an
 * unknown or fast refresh (RAPL) are not waited for. A wait cut short (the
 * timeout, a domain that failed, a counter that did not move) forms the figure
 * as jst_window_end does and says so in the domain's note. For per-step
 * windows use jst_window_end. Same handle and -ENOMEM rules as
 * jst_window_end; with out NULL it is jst_window_end. */
JST_EXPORT int jst_window_end_settled(jst_window *w, unsigned timeout_ms, jst_measurement **out);
/* End the window's current span and begin the next one on the same reading:
 * the handle stays open, and consecutive spans tile time: their energies add
 * up to what one window over all of them shows (a span is never negative: one
 * whose interpolated edges crossed reports 0, and the next absorbs it). */
JST_EXPORT int jst_window_rotate(jst_window *w, jst_measurement **out);
/* Give the window's next spans a new label (a row number, a step): the spans
 * already measured keep theirs. 0, -EINVAL or -ENOMEM. */
JST_EXPORT int jst_window_relabel(jst_window *w, const char *label);
/* Discard an open window without measuring; frees the handle. NULL is a no-op. */
JST_EXPORT void jst_window_cancel(jst_window *w);
/* The label given at begin (never NULL). */
JST_EXPORT const char *jst_window_label(const jst_window *w);

/* ---- measurement ---------------------------------------------------------- */

typedef struct jst_domain_energy {
	size_t size; /* set to sizeof(jst_domain_energy) before the call */
	const char *name;
	const char *device;
	const char *backend;
	const char *source;
	jst_kind kind;
	jst_method method;
	double accuracy; /* relative error class of the method, 0.05 = 5% */
	double energy_j;
	double uncertainty_j; /* ± this many joules: the method's class, quantisation at each
	                         edge (resolution, power x refresh), sampling of power
	                         readings, and energy bridged over resets, combined */
	double avg_power_w;   /* energy / duration */
	double peak_power_w;  /* highest sampled power in the window; NaN if none */
	size_t samples;       /* sampler readings that fell inside the window */
	const char *note;     /* why partial, or a caveat; "" otherwise */
	/* Telemetry over the sampler's readings inside the window (GPUs); NaN
	 * where the device does not report it or no reading fell inside. */
	double temperature_max_c;
	double utilization_mean_pct;
	double clock_mean_mhz; /* SM / core clock */
	double power_limit_w;  /* enforced power limit at the last reading */
	int parent;            /* index within the measurement, or -1 */
	int primary;           /* counted in totals */
	int partial;           /* figure ended early (device failed) */
	int short_window;      /* window shorter than three refreshes of the sensor */
	int bridged;           /* a reset, a jump or a gap was bridged from power */
	int counted;           /* in the total of all components: as jst_domain_info's */
} jst_domain_energy;

typedef struct jst_total {
	size_t size; /* set to sizeof(jst_total) before the call */
	double energy_j;
	double avg_power_w;
	double accuracy;      /* energy-weighted accuracy class of its parts */
	double uncertainty_j; /* ± J: the sum of its parts' uncertainties */
	size_t parts;         /* domains summed; 0 when nothing measured this total */
	int estimated;        /* 1 when any part is an estimate */
	int partial;
} jst_total;

JST_EXPORT const char *jst_measurement_name(const jst_measurement *m);
JST_EXPORT double jst_measurement_duration(const jst_measurement *m);  /* seconds */
JST_EXPORT int64_t jst_measurement_begin_ns(const jst_measurement *m); /* CLOCK_MONOTONIC */
JST_EXPORT int64_t jst_measurement_end_ns(const jst_measurement *m);
JST_EXPORT int jst_measurement_partial(const jst_measurement *m);
JST_EXPORT size_t jst_measurement_domain_count(const jst_measurement *m);
JST_EXPORT int jst_measurement_domain(const jst_measurement *m, size_t index,
                                      jst_domain_energy *out);
JST_EXPORT int jst_measurement_total(const jst_measurement *m, jst_total_kind which,
                                     jst_total *out);
JST_EXPORT void jst_measurement_free(jst_measurement *m);

/* ---- scoped and wrapped forms ------------------------------------------- */

/* Run fn(arg) inside a window and return its measurement (the equivalent of a
 * decorator). fn's own result is not interpreted. Re-entrant and thread-safe:
 * each call opens a window of its own. */
JST_EXPORT int jst_measure_call(jst_meter *meter, const char *label, void (*fn)(void *arg),
                                void *arg, jst_measurement **out);

/* Scope guard (the equivalent of a context manager), GCC/Clang only:
 *
 *     jst_measurement *m = NULL;
 *     {
 *         JST_SCOPED_WINDOW(meter, "prefill", &m);
 *         run_prefill();
 *     }   // window ends here, however the block is left
 *     print(m);
 */
typedef struct jst_scope {
	jst_window *window;
	jst_measurement **out;
	int status; /* result of begin, then of end */
} jst_scope;

JST_EXPORT jst_scope jst_scope_begin(jst_meter *meter, const char *label, jst_measurement **out);
JST_EXPORT void jst_scope_end(jst_scope *scope);

#define JST_CONCAT_(a, b) a##b
#define JST_CONCAT(a, b) JST_CONCAT_(a, b)
#define JST_SCOPED_WINDOW(meter, name, out)                                                        \
	jst_scope JST_CONCAT(jst_scope_, __LINE__)                                                 \
	    __attribute__((cleanup(jst_scope_end), unused)) =                                      \
	        jst_scope_begin((meter), (name), (out))

#ifdef __cplusplus
}
#endif
#endif /* JOULESTAT_H */
