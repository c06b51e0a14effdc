/*
 * Attribution arithmetic: per-tick shares folded into sums, idle power taken
 * off at the end. Shares are formed per tick, not over the run, so that a
 * target busy while the device drew much power is charged that power, not the
 * run's mean.
 */
#include "attrib_model.h"

#include <math.h>

void jst_attr_sums_add(struct jst_attr_sums *s, const struct jst_attr_tick *t)
{
	if (!(t->dt_s > 0) || !isfinite(t->energy_j))
		return;
	s->ticks++;
	s->energy_j += t->energy_j;
	s->dt_s += t->dt_s;
	s->busy_s += t->busy_s;
	s->capacity_s += t->capacity_s;
	/* A short tick's whole clock ticks (a run's last, a reading delayed)
	 * swing its utilisation past 1 while its power is steady: in the fit it
	 * would be a slope of nothing. */
	if (!(t->u_res <= JST_ATTR_FIT_RES))
		return;
	double u = t->capacity_s > 0 ? t->busy_s / t->capacity_s : 0;
	double p = t->energy_j / t->dt_s;
	if (s->fit_ticks == 0 || u < s->umin)
		s->umin = u;
	if (s->fit_ticks == 0 || u > s->umax)
		s->umax = u;
	if (t->u_res > s->ures)
		s->ures = t->u_res;
	s->fit_ticks++;
	s->fit_dt_s += t->dt_s;
	s->su += t->dt_s * u;
	s->suu += t->dt_s * u * u;
	s->sp += t->dt_s * p;
	s->spp += t->dt_s * p * p;
	s->sup += t->dt_s * u * p;
}

void jst_attr_target_add(struct jst_attr_target_sums *ts, const struct jst_attr_tick *t,
                         double work_s)
{
	if (!(t->dt_s > 0) || !isfinite(t->energy_j) || !(work_s > 0))
		return;
	/* Counters read a moment apart may show a target a little busier than
	 * its device: never more than all of it. */
	double busy = t->busy_s > work_s ? t->busy_s : work_s;
	double share = work_s / busy;
	ts->work_s += work_s;
	ts->es_j += t->energy_j * share;
	ts->dts_s += t->dt_s * share;
	if (t->capacity_s > 0)
		ts->dtc_s += t->dt_s * (work_s < t->capacity_s ? work_s / t->capacity_s : 1);
}

int jst_attr_idle_fit(const struct jst_attr_sums *s, double *idle_w)
{
	/* Two ticks each off by their resolution, the other way, show twice
	 * it of variation that is none. */
	if (s->fit_ticks < 5 || !(s->fit_dt_s > 0) || s->umax - s->umin < 0.2 + 2 * s->ures)
		return -1;
	double w = s->fit_dt_s;
	double mu = s->su / w, mp = s->sp / w;
	double var = s->suu / w - mu * mu;
	double cov = s->sup / w - mu * mp;
	if (!(var > 1e-9))
		return -1;
	double slope = cov / var;
	if (!(slope > 0))
		return -1;
	/* Use that varied only by the counts' quantisation in short ticks (a
	 * job at steady load) gives a slope of chance, whose intercept would
	 * leave a sliver of the power as "dynamic" and share it at random: the
	 * slope must stand clear of its own standard error. */
	double resid = s->spp / w - mp * mp - cov * cov / var;
	double dof = (double)s->fit_ticks - 2;
	if (resid > 0 && slope * slope * var * dof < JST_ATTR_FIT_T * JST_ATTR_FIT_T * resid)
		return -1;
	double idle = mp - slope * mu;
	/* Never below nothing, never above the mean power at the least busy tick
	 * could be: the mean power of the run bounds it. */
	if (idle < 0)
		idle = 0;
	if (idle > mp)
		idle = mp;
	*idle_w = idle;
	return 0;
}

void jst_attr_result(const struct jst_attr_sums *s, const struct jst_attr_target_sums *ts,
                     double idle_w, struct jst_attr_result *out)
{
	double idle = isnan(idle_w) ? 0 : idle_w;
	out->idle_j = idle * s->dt_s;
	if (out->idle_j > s->energy_j)
		out->idle_j = s->energy_j > 0 ? s->energy_j : 0;
	out->dynamic_j = s->energy_j - out->idle_j;
	/* Sum over ticks of (energy - idle x dt) x share: linear, so the idle
	 * power known only at the end comes off here. */
	double e = ts->es_j - idle * ts->dts_s;
	if (e < 0)
		e = 0;
	if (e > out->dynamic_j)
		e = out->dynamic_j > 0 ? out->dynamic_j : 0;
	out->energy_j = e;
	out->idle_share_j = isnan(idle_w) ? 0 : idle * ts->dtc_s;
	if (out->idle_share_j > out->idle_j)
		out->idle_share_j = out->idle_j;
	out->share = out->dynamic_j > 0 ? e / out->dynamic_j : 0;
}
