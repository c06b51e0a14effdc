/*
 * The sensor model: what the core knows of how a domain's value is updated by
 * its hardware, and what follows from it.
 *
 * A counter does not change continuously: it is latched every refresh R (RAPL
 * 1 ms, NVML 10-100 ms depending on the GPU). A reading taken at t shows the
 * energy up to the last latch before t, so without a model a window shorter
 * than R reads 0 J or a whole refresh's worth. The model tracks
 *  - R itself: declared by the backend, or measured from the spacing of the
 *    value's changes while the sampler polls fast in the meter's first second;
 *  - the grid of latch instants: each observed change brackets one latch
 *    between two reads; brackets taken at different phases narrow the grid;
 *  - the power the device draws, to interpolate between latches and to bridge
 *    what a counter cannot tell (a reset, a gap);
 *  - how far a reading can be trusted: plausibility of a jump from the time
 *    since the value last changed, and an uncertainty at each window edge.
 * All times are CLOCK_MONOTONIC ns.
 */
#ifndef JST_SENSOR_H
#define JST_SENSOR_H

#include <math.h>
#include <stdint.h>

/* Refresh assumed where it is not known (yet): the slowest common counter. */
#define JST_REFRESH_ASSUMED_S 0.1
/* Below this a refresh is too fast to model a grid: a reading is its own latch. */
#define JST_GRID_MIN_NS 2000000LL
/* Brackets at most this wide (or a quarter of R) measure the refresh. */
#define JST_MEASURE_BRACKET_NS 3000000LL
/* A grid is kept where every measured change lies within its bracket plus
 * this part of the refresh (at least JST_JITTER_TOL_MIN_NS) of it. */
#define JST_JITTER_TOL_DIV 20
#define JST_JITTER_TOL_MIN_NS 1000000LL
/* Changes recorded while measuring a refresh. */
#define JST_MEASURE_MAX 48
/* Power values remembered for the variation around an edge. */
#define JST_RECENT_POWER 16
/* Shortest span a power derived from counter differences is formed over: the
 * timing of its ends is then a small part of it. */
#define JST_POWER_SPAN_NS 100000000LL

struct jst_sensor {
	/* Declared or measured. */
	double refresh_s;   /* 0 while unknown */
	int64_t refresh_ns; /* refresh_s in whole ns (0 while unknown): read at every fold */
	int refresh_source; /* JST_REFRESH_* */
	int interpolate;    /* a hardware counter: energy between latches is modelled */
	double resolution_j;
	double bound_w; /* power no real device of its kind exceeds */

	/* The current value: it was latched in (chg_lo, chg_hi]. */
	int64_t last_read_ns;  /* the previous good reading */
	int64_t last_read_err; /* how far its value's instant may be from it */
	int64_t chg_lo, chg_hi;
	/* The t_err of the reading that showed the value first: its value was
	 * taken as early as chg_hi - 2 chg_err, and latched within a refresh
	 * before that (jst_sensor_bracket_floor). */
	int64_t chg_err;
	int64_t latch_ns; /* best estimate of when it was latched */
	/* The other grid point its change's bracket held, where two did on a
	 * grid narrower than a quarter refresh (the likelier is latch_ns); else
	 * 0. */
	int64_t latch_alt_ns;

	/* The grid of latches: a latch lies within ref_w around ref_ns. */
	int have_ref;
	int64_t ref_ns, ref_w;
	double refresh_sigma_ns; /* how far the refresh may be off, per refresh */
	/* Narrow brackets of consecutive changes the grid held (0 when it last
	 * started again): a grid is trusted to say when no latch can come
	 * (jst_sensor_hold_until) only once changes have confirmed it. */
	unsigned grid_runs;
	/* The last narrow bracket on the grid (0: none since it started): the
	 * next, some refreshes later, bounds a measured refresh. */
	int64_t narrow_lo, narrow_hi;

	/* Measuring the refresh: midpoints of narrow brackets of consecutive changes. */
	int measuring;
	int attempts;             /* measurings that found no refresh */
	int64_t measure_start_ns; /* on the real clock */
	unsigned nmeas;
	int64_t meas[JST_MEASURE_MAX];
	int64_t meas_h[JST_MEASURE_MAX]; /* each one's half-width: its latch lies within */
	int64_t prev_narrow;             /* midpoint of the previous change, if narrow; else 0 */

	/* How far the counter's latches stray from a regular grid (ns): measured
	 * with the refresh. A grid is kept where they stray less than
	 * JST_JITTER_TOL of it, and is then as much wider; past that the counter
	 * has no grid (grid_none): its readings are their own latches, edges are
	 * read, and each edge states a refresh plus twice the jitter of power. */
	int64_t jitter_ns;
	int grid_none;

	/* Power: the latest estimate, where it came from, and its recent range. */
	double power_w; /* NaN until known */
	int power_from_device;
	double recent[JST_RECENT_POWER];
	unsigned nrecent, irecent;
	/* The least and greatest of recent (+inf and -inf while none): formed as
	 * a value comes, read at every edge. */
	double recent_lo, recent_hi;

	/* Counter-derived power: energy and latch time at the span's start. */
	int have_anchor;
	double anchor_j;
	int64_t anchor_ns;
	double span_power_w; /* the last span's mean power, NaN until one */
	int64_t span_start_ns;
	int span_fresh;
};

void jst_sensor_init(struct jst_sensor *s, double declared_refresh_s, double resolution_j,
                     double bound_w, int measure, int interpolate);

/* Refresh in seconds, the assumed one where unknown. (This and the other
 * small accessors are inline: each fold and each figure reads them several
 * times.) */
static inline double jst_sensor_refresh(const struct jst_sensor *s)
{
	return s->refresh_s > 0 ? s->refresh_s : JST_REFRESH_ASSUMED_S;
}

/* A good reading at t (its value taken within t_err of it): changed says the
 * value differs from the previous one. Updates the bracket, the grid and the
 * refresh measurement. */
void jst_sensor_observe(struct jst_sensor *s, int64_t t, int64_t t_err, int changed);
/* A counter that restarted (a reset) or jumped further than any power could
 * take it, seen at t. The value on show stands for an instant in the bracket
 * since the last reading: the restart itself where it shows 0 (anywhere in the
 * bracket, taken at its middle), else the grid's latch in the bracket where
 * one fits. Neither the grid nor the refresh's measurement learns from it: a
 * restart is no latch of the grid's. Returns how far that instant may be
 * from the one taken (ns). */
int64_t jst_sensor_observe_restart(struct jst_sensor *s, int64_t t, int64_t t_err, int at_zero);

/* A good reading at t whose value stands for no latch of the grid's (a
 * counter that restarted at 0 and has not latched since): only its instant
 * is kept, for the next change's bracket; the grid learns nothing from it. */
static inline void jst_sensor_observe_still(struct jst_sensor *s, int64_t t, int64_t t_err)
{
	s->last_read_ns = t;
	s->last_read_err = t_err;
}

/* Has measuring seen enough changes to finish? */
int jst_sensor_measure_enough(const struct jst_sensor *s);

/* Finish measuring the refresh (enough changes, or the time is up). Returns 1
 * when a refresh was measured. fast_poll_ns: the spacing of the reads that
 * measured it (a refresh at or below it is only known to be that fast). */
int jst_sensor_measure_finish(struct jst_sensor *s, int64_t fast_poll_ns);

/* Largest plausible increase in joules of a counter read at t, since the
 * value it showed before: the bound power over the time since that value was
 * latched, plus one refresh, with margin. */
double jst_sensor_max_energy(const struct jst_sensor *s, int64_t t);

/* A new power value (device reading or counter-derived). */
void jst_sensor_power(struct jst_sensor *s, double w, int from_device);

/* A counter latched energy_j (extended, in J) at the current latch: forms the
 * derived power over spans of at least JST_POWER_SPAN_NS and a refresh. */
void jst_sensor_counter_latched(struct jst_sensor *s, double energy_j);

/* Is the sensor a counter whose latches are modelled (a refresh slow enough
 * for a grid, not measuring)? Does it interpolate now (its power known too)? */
static inline int jst_sensor_gridded(const struct jst_sensor *s)
{
	return s->interpolate && s->refresh_ns >= JST_GRID_MIN_NS && !s->measuring && !s->grid_none;
}

/* How old the value on show may be at the most, in seconds: a refresh, and
 * twice the latches' jitter (one latch late, the next early). */
static inline double jst_sensor_staleness(const struct jst_sensor *s)
{
	return jst_sensor_refresh(s) + 2e-9 * (double)s->jitter_ns;
}

static inline int jst_sensor_interpolates(const struct jst_sensor *s)
{
	return jst_sensor_gridded(s) && !isnan(s->power_w);
}

/* Energy accrued since the latch, to add to the counter's value at t: power x
 * time since the latch, at most one refresh. 0 where it cannot be modelled. */
static inline double jst_sensor_interpolate(const struct jst_sensor *s, int64_t t)
{
	if (!jst_sensor_interpolates(s))
		return 0;
	int64_t dt = t - s->latch_ns;
	if (dt <= 0)
		return 0;
	if (dt > s->refresh_ns)
		dt = s->refresh_ns;
	return s->power_w * (double)dt * 1e-9;
}

/* The latch of the value a reading showed, known then to lie in (lo, hi] (err:
 * the t_err of the reading that showed it first, jst_sensor_bracket_floor): the
 * grid's point there, where the grid (as known now) has one overlapping that
 * bracket; else fallback. A window's two edges evaluated with the same, latest
 * grid agree with each other even where the grid was not yet known when the
 * first edge was read (a window begun as the meter opened). Where the read
 * fell within the grid's width of a latch, two points fit: the likelier is
 * returned and the other goes to *other (else INT64_MIN), for the edge's
 * uncertainty. seen (0: not known) is an instant the value was still on
 * show: where every latch moves the value, the next latch came after it, so
 * the value's came after seen less a refresh, which rules out the earlier of
 * two points a bracket a refresh wide can hold (as a reading that saw no
 * change narrows the grid, grid_unchanged). */
int64_t jst_sensor_latch_of(const struct jst_sensor *s, int64_t lo, int64_t hi, int64_t err,
                            int64_t seen, int64_t fallback, int64_t *other);

/* The earliest a value first shown by a reading whose call ended at hi, its
 * value taken within 2 err before that, can have been latched, r the refresh:
 * a refresh before the earliest instant the value was taken. (A slow call can
 * take its value before a latch it straddles: the value is then the latch's
 * before, up to a refresh and the call's length before hi.) */
static inline int64_t jst_sensor_bracket_floor(int64_t lo, int64_t hi, int64_t err, int64_t r)
{
	int64_t f = hi - 2 * err - r;
	return lo < f ? f : lo;
}

/* How wide the grid's interval around its point nearest t is (ns): as
 * pinned, plus the refresh's uncertainty over the refreshes since; the
 * refresh where there is no grid. */
int64_t jst_sensor_grid_width(const struct jst_sensor *s, int64_t t);

/* Changes that confirm a grid before it says when no latch can come. */
#define JST_HOLD_RUNS 2
/* The fixed part of the margin before the earliest next latch: at least
 * JST_HOLD_SAFETY_NS, or 1/JST_HOLD_SAFETY_DIV of the refresh. */
#define JST_HOLD_SAFETY_NS 1000000LL
#define JST_HOLD_SAFETY_DIV 20

/* A good reading at t (its value taken within t_err of it) showed the value
 * latched last: the instant before which the counter cannot latch again,
 * so that a reading before it would show the same value (window.c forms an
 * edge there from the model: docs/sensor-model.md, "Edges between latches").
 * 0 where that is not known: not an interpolated counter on a grid
 * confirmed by JST_HOLD_RUNS narrow brackets, a grid wider than half a
 * refresh, or a reading already within the margin of the next grid point.
 * The margin is the grid's width there (with the refresh's uncertainty over
 * the refreshes since the grid's reference), the reading's t_err and a fixed
 * safety; never more than one refresh after t. */
int64_t jst_sensor_hold_until(const struct jst_sensor *s, int64_t t, int64_t t_err);

/* Spread of recent power values, at least 5% of the current one. */
static inline double jst_sensor_power_spread(const struct jst_sensor *s)
{
	double p = isnan(s->power_w) ? 0 : s->power_w;
	double lo = s->recent_lo < p ? s->recent_lo : p;
	double hi = s->recent_hi > p ? s->recent_hi : p;
	double spread = hi - lo;
	return spread > 0.05 * p ? spread : 0.05 * p;
}

/* How far the power may have been from p where nothing showed it: anywhere
 * from 0 to the bound. */
static inline double jst_sensor_power_away(const struct jst_sensor *s, double p)
{
	return s->bound_w - p > p ? s->bound_w - p : p;
}

/* Uncertainty in J of the energy at one edge read at t: one count, plus the
 * power's variation over the part of a refresh that is interpolated (or the
 * whole refresh where nothing is). */
static inline double jst_sensor_edge_uncertainty(const struct jst_sensor *s)
{
	double r = jst_sensor_staleness(s);
	if (isnan(s->power_w) && s->nrecent == 0)
		return s->resolution_j + s->bound_w * r; /* nothing known of the power yet */
	/* Interpolated: what is left is how far the power moved from the guide,
	 * and how far the latch strays from its grid point. */
	if (jst_sensor_interpolates(s))
		return s->resolution_j + jst_sensor_power_spread(s) * jst_sensor_refresh(s) +
		       s->power_w * 1e-9 * (double)s->jitter_ns;
	/* Else the most it drew lately, over the whole refresh. */
	double hi = isnan(s->power_w) ? 0 : s->power_w;
	return s->resolution_j + (s->recent_hi > hi ? s->recent_hi : hi) * r;
}

/* The lowest of the recent power values and the current one (NaN while none
 * is known): what the device draws at the least, for an interpolation that
 * must not over-count (a rotated span's end, jst_window_rotate). */
double jst_sensor_power_floor(const struct jst_sensor *s);

#endif
