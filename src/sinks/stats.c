/* Mean ± stddev over repeated runs (-r N). */
#include "sinks.h"

#include <math.h>
#include <stdlib.h>

void jst_stat_of(const double *x, size_t n, struct jst_stat *out)
{
	struct jst_stat s = {.mean = NAN, .stddev = NAN, .min = NAN, .max = NAN};
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			continue;
		sum += x[i];
		s.min = s.n == 0 || x[i] < s.min ? x[i] : s.min;
		s.max = s.n == 0 || x[i] > s.max ? x[i] : s.max;
		s.n++;
	}
	if (s.n) {
		s.mean = sum / (double)s.n;
		double ss = 0;
		for (size_t i = 0; i < n; i++)
			if (isfinite(x[i]))
				ss += (x[i] - s.mean) * (x[i] - s.mean);
		/* Sample deviation: the runs are a sample of what the command spends. */
		s.stddev = s.n > 1 ? sqrt(ss / (double)(s.n - 1)) : 0;
	}
	*out = s;
}

/* A run whose figure was cut short (a device lost mid-run, or a signal that
 * stopped the command) says nothing of what the command spends: the
 * statistics leave it out, and say how many. */
#define JST_STAT_CUT_SHORT (-INFINITY)

/* The values are gathered into a buffer first so that one routine does the math. */
static void stat_collect(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                         struct jst_stat *out, double (*get)(const jst_measurement *, const void *),
                         const void *arg)
{
	double *x = malloc((n ? n : 1) * sizeof *x);
	if (!x) {
		*out = (struct jst_stat){.mean = NAN, .stddev = NAN, .min = NAN, .max = NAN};
		return;
	}
	size_t excluded = 0;
	for (size_t i = 0; i < n; i++) {
		/* A run a signal cut short is no run of the command either. */
		x[i] = cut && cut[i] ? JST_STAT_CUT_SHORT : get(runs[i], arg);
		excluded += x[i] == JST_STAT_CUT_SHORT;
	}
	jst_stat_of(x, n, out);
	out->excluded = excluded;
	free(x);
}

struct dom_arg {
	size_t index;
	int power;
};

static double get_domain(const jst_measurement *m, const void *p)
{
	const struct dom_arg *a = p;
	jst_domain_energy d = {.size = sizeof d};
	if (jst_measurement_domain(m, a->index, &d))
		return NAN;
	if (d.partial)
		return JST_STAT_CUT_SHORT;
	return a->power ? d.avg_power_w : d.energy_j;
}

void jst_stat_domain(jst_measurement *const *runs, size_t n, const unsigned char *cut, size_t index,
                     int power, struct jst_stat *out)
{
	struct dom_arg a = {index, power};
	stat_collect(runs, n, cut, out, get_domain, &a);
}

struct total_arg {
	jst_total_kind which;
	int power;
};

static double get_total(const jst_measurement *m, const void *p)
{
	const struct total_arg *a = p;
	jst_total t = {.size = sizeof t};
	if (jst_measurement_total(m, a->which, &t) || t.parts == 0)
		return NAN;
	if (t.partial)
		return JST_STAT_CUT_SHORT;
	return a->power ? t.avg_power_w : t.energy_j;
}

int jst_stat_total(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                   jst_total_kind which, int power, struct jst_stat *out)
{
	struct total_arg a = {which, power};
	stat_collect(runs, n, cut, out, get_total, &a);
	return out->n > 0;
}

static double get_duration(const jst_measurement *m, const void *p)
{
	(void)p;
	return jst_measurement_duration(m);
}

void jst_stat_duration(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                       struct jst_stat *out)
{
	stat_collect(runs, n, cut, out, get_duration, NULL);
}

/* The measurement error of a mean is at most the mean of the runs' errors:
 * the ± of the mean over the runs the statistics keep is sum(u) / sum(E)
 * over those runs. With none kept, every run's. */
static double accuracy_of(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                          int (*get)(const jst_measurement *, const void *, double *, double *,
                                     int *),
                          const void *arg)
{
	double e[2] = {0, 0}, u[2] = {0, 0}, acc = NAN;
	for (size_t i = 0; i < n; i++) {
		double ei, ui;
		int partial;
		if (get(runs[i], arg, &ei, &ui, &partial))
			continue;
		int kept = !partial && !(cut && cut[i]);
		if (!isfinite(ei) || !isfinite(ui))
			continue;
		e[kept] += ei;
		u[kept] += ui;
	}
	int k = e[1] > 0 ? 1 : 0;
	if (e[k] > 0)
		acc = u[k] / e[k];
	return acc;
}

static int acc_domain(const jst_measurement *m, const void *p, double *e, double *u, int *partial)
{
	jst_domain_energy d = {.size = sizeof d};
	if (jst_measurement_domain(m, *(const size_t *)p, &d))
		return -1;
	*e = d.energy_j;
	*u = d.uncertainty_j;
	*partial = d.partial;
	return 0;
}

static int acc_total(const jst_measurement *m, const void *p, double *e, double *u, int *partial)
{
	jst_total t = {.size = sizeof t};
	if (jst_measurement_total(m, *(const jst_total_kind *)p, &t) || t.parts == 0)
		return -1;
	*e = t.energy_j;
	*u = t.uncertainty_j;
	*partial = t.partial;
	return 0;
}

double jst_stat_domain_accuracy(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                                size_t index)
{
	return accuracy_of(runs, n, cut, acc_domain, &index);
}

double jst_stat_total_accuracy(jst_measurement *const *runs, size_t n, const unsigned char *cut,
                               jst_total_kind which)
{
	return accuracy_of(runs, n, cut, acc_total, &which);
}
