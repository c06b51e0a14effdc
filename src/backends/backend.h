/*
 * The internal backend interface. A backend probes its hardware, declares its
 * domains and reads raw values. It does no arithmetic beyond unit conversion
 * and keeps no window state: wraps, integration, de-duplication and totals are
 * the core's (src/core/).
 */
#ifndef JST_BACKEND_H
#define JST_BACKEND_H

#include "joulestat.h"

#include <stddef.h>
#include <stdint.h>

#define JST_NAME_MAX 64
#define JST_DEVICE_MAX 128
#define JST_NOTE_MAX 160
/* Room for an error's text (a library's message, a URL, a reply quoted): what
 * makes a figure partial is said whole. Never on the daemon's wire. */
#define JST_ERROR_MAX 320
#define JST_REASON_MAX 1024

/* A setting a backend reads: a generic "key=value" option, so that a new
 * backend adds no field to the public header. The core accepts exactly the
 * keys the registry's backends declare, resolves each (jst_config_set, then
 * the legacy variable env, then JOULESTAT_OPTIONS, then dflt) and hands the
 * result to probe in the context. */
struct jst_option_desc {
	const char *key;     /* "<backend>.<name>": "nvml.library" */
	const char *env;     /* its own environment variable, or NULL */
	const char *dflt;    /* the value when nothing sets it */
	const char *accepts; /* what a value is, for messages: "a path or soname" */
};

/* What a backend is told when it probes. Its hardware's paths come from its
 * options, so the same code runs against real hardware and against sim/. */
struct jst_backend_ctx {
	/* Every option of every backend, resolved: "key=value\0...\0\0". Read
	 * with jst_backend_option. */
	const char *options;
	const char *gpus;   /* selection, already resolved from CUDA_VISIBLE_DEVICES; NULL = all */
	int gpus_from_env;  /* gpus came from CUDA_VISIBLE_DEVICES: read it as CUDA does */
	int cross_validate; /* declare every method it has, not just the best */
	/* A backend probed before this one was refused access (EACCES/EPERM):
	 * the daemon backend serves such a user through joulestatd. */
	int direct_denied;
	double period_s; /* the sampler's configured period; 0 when not known */
};

/* One domain as a backend declares it. */
struct jst_domain_desc {
	char name[JST_NAME_MAX]; /* "package-0", "gpu0" */
	jst_kind kind;
	char device[JST_DEVICE_MAX]; /* identity: "gpu:GPU-<uuid>", "cpu:package-0", "cpu" */
	jst_method method;
	char source[32]; /* "powercap", "energy-counter", "instant-power", "average-power",
	                    "tdp-utilization" */
	double accuracy; /* relative error class */
	int parent;      /* index among this backend's domains, or -1 */
	/* Counters: raw units and wrap. energy_j = raw * unit_j. */
	double unit_j;      /* joules per raw unit (1e-6 for uJ, 1e-3 for mJ) */
	uint64_t modulus;   /* counter wraps to 0 at this value; 0 = never wraps (64-bit) */
	double max_power_w; /* upper bound on power: sets the sampler period for wrap safety
	                       and the plausibility of a jump; 0 = unknown (the core then
	                       uses a bound no real device of this kind exceeds) */
	/* The sensor: how the hardware updates the value the core reads. */
	double refresh_s;        /* the value changes at most this often; 0 = unknown: the core
	                            measures it in the meter's first moments */
	double resolution_j;     /* one count of the counter in J; 0 = unit_j */
	char note[JST_NOTE_MAX]; /* caveat to show ("MIG enabled: energy is whole-GPU"), or "" */
	/* POWER domains: 1 where each reading is the mean power over the refresh
	 * that ended at its update (a BMC's), stamped at that refresh's middle;
	 * the core then states what a mean hides (src/core/power_edge.c). 0: the
	 * power at the reading's instant. */
	int power_mean;
	/* What the domain measures besides its own kind: JST_COVERS(kind) bits
	 * of the components it holds whole (a module's input rail: the CPU, GPU
	 * and memory on it). The CPU estimate steps aside for a measured domain
	 * that covers JST_KIND_PACKAGE (src/core/dedup.c). 0: nothing declared. */
	unsigned covers;
};

#define JST_COVERS(kind) (1u << (unsigned)(kind))
/* Everything on a module or SoC: its CPU, GPU, memory and the rest. */
#define JST_COVERS_MODULE                                                                          \
	(JST_COVERS(JST_KIND_GPU) | JST_COVERS(JST_KIND_PACKAGE) | JST_COVERS(JST_KIND_CORE) |     \
	 JST_COVERS(JST_KIND_UNCORE) | JST_COVERS(JST_KIND_DRAM) | JST_COVERS(JST_KIND_OTHER))

/* One domain's raw value at one instant. Set by read(). Telemetry fields are
 * NaN when absent or when JST_READ_TELEMETRY was not asked for. */
struct jst_raw {
	/* 0, or negative: this reading failed (then error says why). -ENODEV (the
	 * device is gone) and -ENOENT (the zone vanished) end the domain; any other
	 * code is transient: the reading is skipped and the domain read again.
	 * JST_RAW_UNCHANGED: nothing new since the last read (a meter its backend
	 * polls on its own thread): nothing is folded or counted, and an edge is
	 * bridged from the last reading with the known power. */
	int status;
	int64_t t_ns;     /* CLOCK_MONOTONIC when the energy or power was read; 0: the core
	                     stamps the middle of the backend's read */
	int64_t t_err_ns; /* how far the value's own instant may be from t_ns (half the
	                     call that read it: a thread preempted inside it shows here) */
	uint64_t counter; /* COUNTER and ESTIMATE-as-counter domains: raw units */
	double power_w;   /* POWER domains: watts at this instant */
	double temperature_c;
	double utilization_pct;
	double clock_mhz;
	double power_limit_w;
	double telemetry_power_w; /* the device's own power reading, for the series */
	/* COUNTER domains: the backend's running total (J, since it opened) of
	 * what its counter may be off by over spans it could not see (a PTD
	 * poller's missed samples, bridged at a neighbour's power); 0 where none.
	 * The core adds its increase to the figures' uncertainty. */
	double unseen_u_j;
	/* COUNTER domains: the backend's running total (s) of spans it bridged
	 * without seeing and too long for unseen_u_j's statement (a stalled
	 * server: the device had time to draw anything). The core states each
	 * second of its increase up to the domain's power bound. */
	double unseen_s;
	/* POWER domains: the refresh the backend has observed its device keep,
	 * where slower than the declared one (a BMC averaging over 5 s declared
	 * at 1 s: bmc_poll.c); 0: as declared. The core's model takes it. */
	double refresh_s;
	/* POWER means (power_mean): the energy (J) of the span between the last
	 * mean handed over and this one, from the end of the one's refresh to the
	 * start of the other's, where the backend knows it (a power analyser's
	 * samples it read but did not hand over, its integrator); NaN where not.
	 * The core then takes it instead of bridging the refreshes no reading
	 * showed. */
	double gap_j;
	char error[JST_ERROR_MAX];
};

#define JST_READ_TELEMETRY 1u
#define JST_RAW_UNCHANGED 1

struct jst_backend_ops {
	const char *name;
	const char *description;
	double accuracy; /* class of its best method */
	/* The options it reads, ended by a NULL key; NULL when none. */
	const struct jst_option_desc *options;
	/* Find the hardware. On success set *state and return 0 (a backend with no
	 * domains may still succeed). On failure return negative and write a
	 * reason a person can act on into reason. -ENXIO (only) when something the
	 * caller selected by name (jst_config.gpus, CUDA_VISIBLE_DEVICES) cannot be
	 * measured: jst_meter_open then fails with it, and the reason, which names
	 * what was asked and what exists, is jst_strerror(-ENXIO)'s text. */
	int (*probe)(const struct jst_backend_ctx *ctx, void **state, char *reason,
	             size_t reason_len);
	/* Domains declared by probe; the array stays valid until close. */
	size_t (*domains)(void *state, const struct jst_domain_desc **out);
	/* Read every domain now into out[0..n-1]. Returns 0 or negative when the
	 * whole backend failed; per-domain failure goes in out[i].status. */
	int (*read)(void *state, struct jst_raw *out, size_t n, unsigned flags);
	void (*close)(void *state);
	/* 1: read() stamps (jst_raw_stamp) every domain it reads, so the core
	 * reads no clock of its own around the call. */
	int stamps;
	/* Optional: reopen domain i (its value stopped changing while the device
	 * drew power: a file replaced under an open descriptor). 0 or negative. */
	int (*reopen)(void *state, size_t i);
};

/* The registry: every backend, most accurate class first. */
size_t jst_registry_count(void);
const struct jst_backend_ops *jst_registry_get(size_t index);

/* Backends (one extern per file in src/backends/). */
extern const struct jst_backend_ops jst_backend_ptd;
extern const struct jst_backend_ops jst_backend_dcgm;
extern const struct jst_backend_ops jst_backend_nvml;
extern const struct jst_backend_ops jst_backend_rapl;
extern const struct jst_backend_ops jst_backend_rapl_perf;
extern const struct jst_backend_ops jst_backend_rapl_msr;
extern const struct jst_backend_ops jst_backend_daemon;
extern const struct jst_backend_ops jst_backend_hwmon;
extern const struct jst_backend_ops jst_backend_jetson;
extern const struct jst_backend_ops jst_backend_amdsmi;
extern const struct jst_backend_ops jst_backend_apple;
extern const struct jst_backend_ops jst_backend_estimate;
extern const struct jst_backend_ops jst_backend_redfish;
extern const struct jst_backend_ops jst_backend_ipmi;

/* Helpers backends share (src/backends/util.c). */
/* The value of an option in the context, or dflt when it has none (a context
 * a test builds by hand may carry only the options it cares about). */
const char *jst_backend_option(const struct jst_backend_ctx *ctx, const char *key,
                               const char *dflt);
/* Join root and a relative path into buf; returns buf or NULL when too long. */
char *jst_path_join(char *buf, size_t len, const char *root, const char *rel);
/* Read a small text file whole (NUL-terminated, trailing newline stripped).
 * Returns length or negative errno. */
int jst_file_read_text(const char *path, char *buf, size_t len);
/* Parse an unsigned decimal integer with nothing but whitespace around it. */
int jst_parse_u64(const char *text, uint64_t *out);
/* pread a decimal u64 from an open fd at offset 0. */
int jst_fd_read_u64(int fd, uint64_t *out);
/* The end of a long path, for messages with little room: at most max
 * characters, starting at a '/' where one is near. */
const char *jst_path_tail(const char *path, size_t max);
/* The value after "key<spaces or tabs>:" when a /proc/cpuinfo line holds
 * that key, else NULL. */
const char *jst_cpuinfo_value(const char *line, const char *key);
/* CLOCK_MONOTONIC in ns, the clock of every timestamp. */
int64_t jst_backend_now_ns(void);
/* Stamp a reading taken by a call between t0 and t1: its middle, give or take half. */
void jst_raw_stamp(struct jst_raw *raw, int64_t t0, int64_t t1);
/* Initialise a raw record: status 0, telemetry NaN. */
void jst_raw_clear(struct jst_raw *raw);

/* GPU selection (src/backends/gpu_select.c): an explicit selection wins, else
 * CUDA_VISIBLE_DEVICES. Writes the comma-separated indices/UUIDs to out and
 * returns JST_GPUS_EXPLICIT or JST_GPUS_FROM_ENV when GPUs are restricted
 * ("" = none at all), 0 when every GPU is selected, negative when malformed. */
enum { JST_GPUS_EXPLICIT = 1, JST_GPUS_FROM_ENV = 2 };
int jst_gpu_selection_resolve(const char *explicit_sel, const char *cuda_visible, char *out,
                              size_t len);

#endif
