/*
 * The arithmetic of attribution, apart from where its inputs come from, so
 * that tests can hold it to exact numbers. Per domain and per tick of the
 * attribution thread it is given the domain's energy, the tick's length, how
 * busy the domain's device was and how much of that was the target's; it keeps
 * only sums (flat memory, however long the run), from which the idle power and
 * the attributed energy are formed at the end (docs/attribution.md).
 */
#ifndef JST_ATTRIB_MODEL_H
#define JST_ATTRIB_MODEL_H

#include <stddef.h>

/* One tick of one domain. Busy and capacity are in the device's own unit of
 * work: CPU seconds (busy CPU time on the package, and CPUs x tick) or
 * utilisation seconds of a GPU (SM busy fraction x tick, and the tick). */
struct jst_attr_tick {
	double energy_j;   /* the domain's energy in the tick */
	double dt_s;       /* the tick's length */
	double busy_s;     /* all work done on the device */
	double capacity_s; /* work the device could have done */
	/* How far busy / capacity may be off from the counts' resolution alone
	 * (CPU times in whole clock ticks: 1 / (USER_HZ x the span)); 0: exact. */
	double u_res;
};

/* The sums one domain keeps over a run. */
struct jst_attr_sums {
	size_t ticks;
	double energy_j, dt_s, busy_s, capacity_s;
	/* For the fit of power against utilisation u = busy / capacity, with
	 * P = energy / dt per tick, weighted by dt: over the ticks whose u is
	 * good to JST_ATTR_FIT_RES (fit_ticks of them, fit_dt_s long). */
	size_t fit_ticks;
	double fit_dt_s, su, suu, sp, spp, sup;
	double umin, umax, ures;
};

/* The sums one target keeps per domain. share = target / busy of each tick. */
struct jst_attr_target_sums {
	double work_s; /* the target's work on the device */
	double es_j;   /* sum of energy x share */
	double dts_s;  /* sum of dt x share: the idle energy in it is taken off at the end */
	double dtc_s;  /* sum of dt x target / capacity: the idle rule's weight */
};

void jst_attr_sums_add(struct jst_attr_sums *s, const struct jst_attr_tick *t);
/* A target's work in the tick (clamped to the tick's busy work). */
void jst_attr_target_add(struct jst_attr_target_sums *ts, const struct jst_attr_tick *t,
                         double work_s);

/* Where a domain's idle power came from. */
enum jst_idle_source {
	JST_IDLE_NONE = 0, /* unknown: not separated (the figure says so) */
	JST_IDLE_GIVEN,    /* attribute.idle-w, or the --idle-power option */
	JST_IDLE_FIT,      /* the intercept of power against utilisation over the run */
};

/* The idle power by a least-squares fit of the ticks' power against their
 * utilisation, over the ticks whose utilisation is good to JST_ATTR_FIT_RES
 * (at least 5), where it varied enough (by 0.2 between the least and most
 * busy of them, beyond what their resolution could show) and the power
 * followed it: a positive slope at least JST_ATTR_FIT_T standard errors from
 * none. 0 and *idle_w set, else -1. The intercept is clamped to [0, the mean
 * power]. */
#define JST_ATTR_FIT_RES 0.1
#define JST_ATTR_FIT_T 4.0
int jst_attr_idle_fit(const struct jst_attr_sums *s, double *idle_w);

/* What a target is attributed on one domain, once the idle power is known
 * (idle_w NaN: not separated). */
struct jst_attr_result {
	double dynamic_j;    /* the domain's energy above idle over the run */
	double idle_j;       /* the domain's idle energy over the run */
	double energy_j;     /* the target's share of dynamic_j */
	double idle_share_j; /* the target's part of idle_j, by the capacity rule */
	double share;        /* energy_j / dynamic_j (0 when dynamic_j is 0) */
};
void jst_attr_result(const struct jst_attr_sums *s, const struct jst_attr_target_sums *ts,
                     double idle_w, struct jst_attr_result *out);

#endif
