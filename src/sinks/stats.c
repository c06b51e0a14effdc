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

/* A run whose figure was cut short (a device lost mid-run) says nothing of
 * what the command spends: the statistics leave it out, and say how many. */
#define JST_STAT_CUT_SHORT (-INFINITY)

/* The values are gathered into a buffer first so that one routine does the math. */
static void stat_collect(jst_measurement *const *runs, size_t n, struct jst_stat *out,
                         double (*get)(const jst_measurement *, const void *), const void *arg)
{
	double *x = malloc((n ? n : 1) * sizeof *x);
	if (!x) {
		*out = (struct jst_stat){.mean = NAN, .stddev = NAN, .min = NAN, .max = NAN};
		return;
	}
	size_t excluded = 0;
	for (size_t i = 0; i < n; i++) {
		x[i] = get(runs[i], arg);
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

void jst_stat_domain(jst_measurement *const *runs, size_t n, size_t index, int power,
                     struct jst_stat *out)
{
	struct dom_arg a = {index, power};
	stat_collect(runs, n, out, get_domain, &a);
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

int jst_stat_total(jst_measurement *const *runs, size_t n, jst_total_kind which, int power,
                   struct jst_stat *out)
{
	struct total_arg a = {which, power};
	stat_collect(runs, n, out, get_total, &a);
	return out->n > 0;
}

static double get_duration(const jst_measurement *m, const void *p)
{
	(void)p;
	return jst_measurement_duration(m);
}

void jst_stat_duration(jst_measurement *const *runs, size_t n, struct jst_stat *out)
{
	stat_collect(runs, n, out, get_duration, NULL);
}
