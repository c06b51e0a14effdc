/* The meter's internals, shared by the core's files only. */
#ifndef JST_METER_INTERNAL_H
#define JST_METER_INTERNAL_H

#include "backend.h"
#include "counter.h"
#include "integrate.h"
#include "sensor.h"
#include "series.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct jst_domtab;

/* Latched counter values a domain remembers for its edges (sensor.h). */
#define JST_LATCH_HISTORY 64

/* The reason of this thread's last jst_meter_open refused with -ENXIO, or NULL. */
const char *jst_meter_refusal(void);

/* A domain as the meter keeps it: what the backend declared, its sensor model,
 * and the running state the core derives from its readings. Guarded by
 * meter->mu. */
struct jst_dom {
	struct jst_domain_desc desc;
	size_t backend; /* index in meter->backends */
	size_t local;   /* index among its backend's domains */
	int parent;     /* global index, or -1 */
	int primary;
	int counted; /* in the total of all components (jst_domain_info's) */

	struct jst_sensor sensor;
	struct jst_counter counter;  /* COUNTER / ESTIMATE */
	struct jst_integrator integ; /* POWER */
	int64_t power_pushed_ns;     /* POWER: the last reading in the sensor's recent range */
	/* POWER: when the backend last moved the refresh the readings are modelled
	 * with (jst_raw.refresh_s), and the largest move: the steps between the
	 * means read before it stood up to that much off in time. */
	int64_t refresh_moved_ns;
	double refresh_lag_s;
	double counter_j; /* COUNTER / ESTIMATE: the counter's energy plus what was bridged */
	double energy_j;  /* since the meter opened, at the last reading (interpolated) */
	double edge_u_j;  /* uncertainty of energy_j as a window edge */
	/* energy_j is counter_j plus interp_w from the latch estimated in
	 * (interp_lo, interp_hi]: a window evaluates it again with the latest grid. */
	int interp_lazy;
	double interp_w, interp_spread_w; /* the power, and how far it moved lately */
	int64_t interp_lo, interp_hi, interp_latch;
	int64_t interp_err; /* the bracket's reading's t_err (jst_sensor_bracket_floor) */
	/* How much further than a refresh past interp_latch the value on show
	 * may be extended: a restart at 0 shows 0 until the first latch after
	 * it, which may come a refresh after the end of the restart's bracket. */
	int64_t interp_extra_ns;
	int64_t t_err_ns; /* the last reading's timing error (jst_raw.t_err_ns) */
	/* The counter's recent values with their latches (a ring): an edge between
	 * two of them is interpolated between them, exactly and in order. */
	struct {
		int64_t latch_ns;
		int64_t alt_ns; /* the other grid point its bracket held, else 0 */
		double counter_j;
	} hist[JST_LATCH_HISTORY];
	unsigned nhist, ihist;
	/* The latest latch in hist: an edge with none far enough after its own
	 * looks no further (window.c). */
	int64_t hist_max_ns;
	/* POWER: the reading before the last one (t_ns 0: none), so that an edge
	 * bridged from a reading older than it is settled on the trapezoid once
	 * a reading after it is folded (power_edge.c). */
	struct {
		int64_t t_ns;
		double power_w, energy_j;
	} prev_reading;
	double var_j2;    /* POWER: summed variance of the integration's sampling */
	double bridged_j; /* energy bridged from power over resets, jumps and gaps */
	/* A restart at 0 not yet placed (read.c restart_place): where it was
	 * taken, and the bracket it lies in; 0 when none is pending. */
	int64_t restart_at_ns, restart_lo_ns, restart_hi_ns;
	double bridge_u_j;
	double unseen_u_j; /* the backend's jst_raw.unseen_u_j taken into bridge_u_j so far */
	double unseen_s;   /* the backend's jst_raw.unseen_s taken so far */
	unsigned bridges;
	/* Gaps long enough for more than one count of a wrapping counter's
	 * wraps (read.c infer_wraps): how many, their seconds in all, the most
	 * wraps each allowed (summed) and the counts taken (summed). */
	unsigned wrap_gaps, wrap_max, wrap_taken;
	double wrap_gap_s;
	/* The latest such gap, until the power after it is known: the count
	 * taken, the most allowed, the gap's length, the power before it, what
	 * the counter showed across it, and the latch and extended value that
	 * the power after it is measured from. */
	int wrap_pending, wrap_k, wrap_kmax;
	int64_t wrap_from_ns;
	double wrap_t_s, wrap_p0_w, wrap_delta_j;
	int64_t wrap_latch_ns;
	uint64_t wrap_ext;
	unsigned transient;                  /* readings that failed and were skipped */
	unsigned transient_folded;           /* transient at the last good power reading */
	unsigned transient_good;             /* transient at the last good reading */
	char transient_error[JST_ERROR_MAX]; /* the last one's error */
	int64_t last_t_ns;                   /* the last good reading */

	/* The latest power value for peaks: its time, or its span's start. */
	double peak_cand_w;
	int64_t peak_cand_ns;
	int peak_fresh;

	int stuck_now;     /* the value stopped changing while the device drew power */
	unsigned stucks;   /* times that happened */
	unsigned reopened; /* times the backend reopened it since */
	int reopen;        /* ask the backend to reopen it after this reading */
	int failed;        /* permanently: the device or zone is gone */
	int64_t failed_t_ns;
	/* The last edge held past the last good reading (0: none): a domain
	 * lost after it ends there, as the edges held meanwhile counted it. */
	int64_t held_t_ns;
	/* Until this instant the counter cannot latch again after its last
	 * reading, which was a clean one (no failure, jump, reset, bridge, wrap,
	 * stall or reopen): a window edge before it may be formed from the model
	 * without a reading (jst_sensor_hold_until). 0: it must be read. */
	int64_t hold_until;
	unsigned reopened_seen; /* reopened as of the last reading */
	char failure[JST_ERROR_MAX];

	struct jst_series series;
	jst_sample latest;
};

struct jst_be {
	const struct jst_backend_ops *ops;
	void *state;
	int available;
	int active; /* at least one of its domains is kept */
	char reason[JST_REASON_MAX];
	size_t ndecl;       /* domains it declared */
	int *map;           /* declared index -> global domain index, or -1 */
	pthread_mutex_t io; /* one reading of this backend at a time; taken before mu */
	/* Under io: until when a reading waits for the power after a stall
	 * across wraps (read.c stall_wait_ns), which one reading found. */
	int64_t stall_until_ns;
	int io_init;
	struct jst_raw *raw; /* scratch for read(), ndecl entries, guarded by io */
	/* The least hold_until of its domains that are not gone, 0 where one
	 * must be read: written under mu as a reading folds; read first without
	 * it by a window edge, which takes mu and looks again before it holds. */
	_Atomic int64_t held_until;
};

/* One domain's state at a window's edge: everything a figure is a difference of. */
struct jst_edge {
	double energy_j;
	/* Counters interpolated between latches: energy_j's parts, so that the
	 * window evaluates both its edges with the same, latest latch grid
	 * (jst_sensor_latch_of) when it forms its figure. The parts are set, and
	 * read, only where lazy is. */
	int lazy;
	double counter_j, interp_w, spread_w;
	int64_t lo_ns, hi_ns, latch_ns, extra_ns;
	int64_t lo_err_ns; /* the bracket's reading's t_err (jst_sensor_bracket_floor) */
	/* The counter's first value latched after the edge, pinned as it is
	 * read (window.c): its latch as then placed (0 while none is pinned) and
	 * its change's bracket, so that a window longer than the latch history
	 * still evaluates the edge between the values around it. */
	int64_t pin_ns, pin_lo, pin_hi, pin_err;
	double pin_j;
	double power_w; /* POWER domains: the power read at this edge; else NaN */
	double u_j;     /* uncertainty of energy_j at this edge */
	/* POWER domains: energy_j bridged from the last reading (older than the
	 * edge) with its power, u_j including bridge_spread_j for it; settled
	 * once a reading after the edge is folded (jst_power_edge_settle).
	 * bridge_spread_j is set, and read, only where unsettled is. */
	int unsettled;
	double bridge_spread_j;
	/* POWER domains: taken before the domain had any good reading (its
	 * first failed, or came later): energy_j is 0 then, and is placed once
	 * the first reading is in (jst_power_edge_settle). */
	int unprimed;
	/* Settled on readings that are means (power_edge.c): where the edge lies
	 * in its refresh (share f, mean m) and u_j without what the mean hides,
	 * which is stated again as later readings show more of the power. */
	int mean_part;
	double mean_m, mean_f, mean_base_u_j;
	double var_j2;
	double bridged_j, bridge_u_j;
	double wrap_gap_s; /* the domain's wrap_*, as at the edge */
	unsigned bridges, transient, stucks, reopened;
	unsigned wrap_gaps, wrap_max, wrap_taken;
	int failed;
	/* Taken while the domain's readings fail with no power known to bridge
	 * the time since its last good one: that reading's instant (else 0),
	 * where a figure ending on this edge ends (window.c). */
	int64_t cut_ns;
	int64_t t_ns;
	int64_t t_err_ns; /* how far the reading's own instant may be from t_ns */
	/* A settled end's outcome for this edge (settle.c): JST_SETTLE_*. */
	unsigned char settle;
	/* While it waits: when the last of its reads that did not fail began,
	 * when the last of them began (failed or not), and the domain's failed
	 * readings as that read began. */
	int64_t looked_ns, tried_ns;
	unsigned look_transient;
	/* Formed from the model without a reading: the counter's value held
	 * from its last reading (read.c, jst_sensor_hold_until). */
	unsigned char held;
};

/* Telemetry summed over the sampler's readings in a window. */
struct jst_wtel {
	double temp_max; /* NaN until seen */
	double util_sum, clock_sum;
	unsigned util_n, clock_n;
	double power_limit; /* the last one seen */
};

/* One domain in an open window. */
struct jst_wdom {
	struct jst_edge begin;
	/* Rotated windows: the first span's begin and the energy the spans since
	 * have reported. A span's energy is what accrued since the origin, as the
	 * sensor knows it when the span ends, less what was reported: rows absorb
	 * what the grid learnt since earlier rows and add up to the whole. */
	struct jst_edge origin;
	/* The origin was copied apart at the first begin (an unsettled one);
	 * else it is the begin until the first rotation copies it (window.c). */
	int origin_apart;
	double reported_j;
	/* The origin's energy as the last rotation evaluated it (NaN before the
	 * first): a span over which its evaluation moved states the move. */
	double origin_j;
	double peak_w; /* NaN until a power value inside the window is seen */
	size_t samples;
	struct jst_wtel tel;
};

struct jst_window {
	struct jst_window *prev, *next; /* the meter's open windows, guarded by mu */
	struct jst_meter *meter;
	char *label;          /* label_in, or allocated apart once relabelled */
	size_t label_room;    /* bytes for label_in */
	int rotated;          /* a span has ended on this handle: origin differs from begin */
	struct jst_edge *end; /* scratch for the end edge, ndoms entries, same allocation */
	double *rows_j;       /* scratch for a rotation's energies, ndoms entries, same too */
	int64_t begin_ns;
	struct jst_wdom dom[];
	/* then end, rows_j and label_in: one allocation */
};

struct jst_meter {
	pthread_mutex_t mu; /* guards domains, windows and series; never held across I/O */
	struct jst_be *backends;
	size_t nbackends;
	/* The active ones, in order: a reading visits these alone, not every
	 * backend's (large, cold) record. */
	size_t *active; /* indices in backends */
	size_t nactive;
	struct jst_dom *doms;
	size_t ndoms;
	struct jst_window *windows;
	/* The last window ended, kept for the next begin (window.c). */
	_Atomic(struct jst_window *) spare;
	struct jst_domtab *tab; /* the domains' strings, shared with measurements */
	double period_s;
	int cross_validate;
	size_t series_capacity;
	pid_t pid; /* the process that opened it */
	/* edge_read=auto: a window edge where no counter of a backend can have
	 * latched since its last reading is formed without reading it. */
	int edge_hold;
	/* Backends' window edges formed from the model, and read (under mu):
	 * what the benchmarks report. */
	unsigned long edges_held, edges_read;

	/* Sampler control, and the end of the sensors' measuring phase. */
	pthread_mutex_t smu;
	pthread_cond_t scond;
	int stop;
	int sampler_running;
	int settled; /* every refresh is known, or measuring gave up */
	pthread_t sampler;
};

void jst_window_free(struct jst_window *w);

/* Settled ends (settle.c): how the wait for a counter's next value after an
 * end edge went. DONE: no wait was needed, or the value came; the others are
 * why the edge was evaluated as an immediate end evaluates it. */
enum {
	JST_SETTLE_DONE = 0,
	JST_SETTLE_TIMEOUT,
	JST_SETTLE_FAILED,
	JST_SETTLE_STILL,
	JST_SETTLE_LATE,
	JST_SETTLE_WAIT, /* still waiting: never left on an edge */
};
/* Wait, outside mu, until each interpolated counter's end edge in edges (read
 * at end) lies between two known counter values, reading the meter every
 * tenth of a refresh; at most timeout_ms (0: a second) on the core's clock
 * from end and on the real clock. Each edge's settle says how it went. */
void jst_settle_wait(struct jst_meter *m, struct jst_edge *edges, int64_t end, unsigned timeout_ms);
/* The note clause of an edge's settle outcome ("" for DONE). */
const char *jst_settle_miss_text(unsigned miss);
/* The earliest instant an edge's reading showed its value, for
 * jst_sensor_latch_of; 0 where the edge was formed without one (held by the
 * model, or after its domain failed) or where the value then stood still
 * past a latch (a settled end's wait saw it not move: a counter that stopped,
 * whose latches no longer move it). */
static inline int64_t jst_edge_seen(const struct jst_edge *e)
{
	return e->held || e->failed || e->settle == JST_SETTLE_STILL ? 0 : e->t_ns - e->t_err_ns;
}
/* The settled end's pause between readings: real sleep; tests set a virtual
 * one that advances their clock. */
extern void (*jst_sleep_ns)(int64_t ns);

int64_t jst_now_ns(void);
/* The core's clock (CLOCK_MONOTONIC). Tests and benchmarks set a virtual one
 * before opening a meter, so that a sensor model's arithmetic is checked
 * against a trace's exact truth with no timing in it; the sampler's waits
 * stay on the real clock. */
extern int64_t (*jst_clock_ns)(void);
/* CLOCK_MONOTONIC whatever jst_clock_ns is: for the sampler's own waits. */
int64_t jst_real_now_ns(void);

/* jst_meter_open with a given list of backends instead of the registry: the seam
 * unit tests use to drive the core with backends whose values they control. */
int jst_meter_open_backends(const jst_config *cfg, const struct jst_backend_ops *const *ops,
                            size_t nops, jst_meter **out);

/* Probing and layout (probe.c): backends probed, domains kept and laid out,
 * their sensors set up, the strings table built, the sampling period chosen. */
struct jst_resolved_config;
int jst_meter_layout(struct jst_meter *m, const struct jst_resolved_config *rc,
                     const struct jst_backend_ops *const *ops, size_t nops);

/* Reading and folding (read.c). Read every active backend now, each under its
 * own I/O lock and outside mu, and fold the values into the domains under mu.
 * edges, when given (ndoms entries), receives each domain's state as folded
 * by this reading: a window edge. Returns the reading's instant. */
enum {
	JST_READ_SAMPLER = 1u, /* the sampler's periodic reading: series, window samples */
	JST_READ_TELE = 2u,    /* ask for temperature, utilisation, clocks, device power */
	/* A window edge (begin, end, rotate; not a settled end): a backend whose
	 * counters cannot have latched since their last reading is not read,
	 * its values held (read.c). Only with edges. */
	JST_READ_HOLD = 4u,
};
int64_t jst_meter_read(struct jst_meter *m, unsigned how, struct jst_edge *edges);
/* The same, calling fn(m, arg, the reading's instant) under mu as the last
 * backend's values are folded: what a window does at an edge takes no hold of
 * the lock of its own. */
int64_t jst_meter_read_then(struct jst_meter *m, unsigned how, struct jst_edge *edges,
                            void (*fn)(struct jst_meter *m, void *arg, int64_t t), void *arg);
/* End the sensors' measuring phase; under mu. fast_poll_ns: the spacing of the
 * measuring reads. */
void jst_meter_sensors_settle(struct jst_meter *m, int64_t fast_poll_ns);
/* Are sensors still measuring their refresh? Under mu. */
int jst_meter_sensors_measuring(const struct jst_meter *m);
/* The windows' per-domain updates of one folded domain: under mu. */
void jst_windows_fold(struct jst_meter *m, size_t i, unsigned how);
/* power_edge.c: settle a POWER domain's edge that was bridged from an older
 * reading, once dom has folded a reading after it: its energy is then the
 * integration's own (the trapezoid through the readings around it), and what
 * the bridge could have missed leaves its uncertainty. Under mu. */
void jst_power_edge_settle(const struct jst_dom *dom, struct jst_edge *e);
/* What a power domain's energy may be off by over gap_s that no reading
 * showed, bridged from one at power p: the recent power's spread, beyond two
 * refreshes anything up to the bound (a mean's own half refresh excluded). */
double jst_power_bridge_miss(const struct jst_dom *dom, double p, double gap_s);
/* Whether jst_power_edge_settle has more to do on e (unsettled, or settled
 * on means whose range later readings refine). */
static inline int jst_power_edge_open(const struct jst_edge *e)
{
	return e->unsettled || e->mean_part;
}
/* power_edge.c, for readings that are means over the refresh (power_mean):
 * the range [lo, hi] the power may take within a refresh; the most the
 * share after an edge at f (0..1) of a refresh whose mean is m can differ
 * from (1 - f) R m; the most span_s unseen can differ from m x span_s. */
void jst_power_mean_range(const struct jst_sensor *s, double *lo, double *hi);
double jst_power_mean_part(const struct jst_dom *dom, double m, double f);
double jst_power_mean_unseen(const struct jst_dom *dom, double m, double span_s);
/* The most that placing the readings t_err_ns off in time moves one edge of
 * a window: the steps of the means move, by t_err x a mean at each edge; both
 * edges alike, so only the means' spread about their middle counts, half of
 * it at each. */
double jst_power_mean_shift(const struct jst_dom *dom, int64_t t_err_ns);

int jst_sampler_start(struct jst_meter *m);
void jst_sampler_stop(struct jst_meter *m);
/* Spacing of the measuring reads (sampler.c). */
#define JST_FAST_POLL_NS 2000000LL
/* After a measuring read made at now (the core's clock): finishes each
 * domain whose refresh has been measured long enough, and, once none is
 * measuring, marks the meter settled and wakes jst_meter_settle. Returns 1
 * then. The sampler calls it; so do tests that drive measuring in virtual
 * time (with jst_sampler_measures cleared, the sampler leaves it to them). */
int jst_meter_measure_step(struct jst_meter *m, int64_t now);
extern int jst_sampler_measures;

/* Resolve the configuration into what backends see (config.c). Strings are
 * copied into the buffers given. */
struct jst_resolved_config {
	char options[4096]; /* every backend option: "key=value\0...\0\0" */
	char gpus[1024];
	int gpus_set;
	char backends[256];
	int backends_set;
	int allow_estimate;
	int cross_validate;
	int edge_hold; /* edge_read=auto */
	double period_s;
	size_t series_capacity;
};
int jst_config_resolve(const jst_config *cfg, struct jst_resolved_config *out);
/* The same, checking backend names against ops (when given) and writing what
 * is wrong, naming the setting and what it accepts, into err. */
int jst_config_resolve_checked(const jst_config *cfg, const struct jst_backend_ops *const *ops,
                               size_t nops, struct jst_resolved_config *out, char *err, size_t len);
/* Is name listed in a comma-separated list? */
int jst_list_contains(const char *list, const char *name);

#endif
