/* The statistics of `joulestat run -r N` (src/sinks/stats.c) and the table
 * that shows them (text.c), on measurements built with known figures: a run
 * cut short, by a lost device (partial) or by a signal (cut), is left out of
 * every statistic and counted; the accuracy of a mean is the sum of the kept
 * runs' uncertainties over the sum of their energies, and every row of the
 * table (domain and totals) shows that same figure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measurement_internal.h"
#include "sinks.h"

/* cmocka's assert_float_equal takes floats: doubles compared here. */
#define assert_double_equal(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

struct fig {
	double energy_j, uncertainty_j, duration_s;
	int partial;
};

/* A run of one GPU domain with the given figures. */
static jst_measurement *run_of(const struct fig *f)
{
	struct jst_domtab *tab = jst_domtab_new(1);
	assert_non_null(tab);
	snprintf(tab->dom[0].name, sizeof tab->dom[0].name, "gpu0");
	snprintf(tab->dom[0].device, sizeof tab->dom[0].device, "gpu:GPU-0");
	snprintf(tab->dom[0].backend, sizeof tab->dom[0].backend, "nvml");
	snprintf(tab->dom[0].source, sizeof tab->dom[0].source, "energy-counter");
	struct jst_measurement *m = jst_measurement_new(tab, "run", 1, 0, 0);
	jst_domtab_close(tab); /* as its meter would: the measurement holds its own */
	assert_non_null(m);
	m->begin_ns = 1000000000;
	m->end_ns = m->begin_ns + (int64_t)llround(f->duration_s * 1e9);
	m->partial = f->partial;
	m->doms[0] = (jst_domain_energy){
	    .size = sizeof(jst_domain_energy),
	    .name = tab->dom[0].name,
	    .device = tab->dom[0].device,
	    .backend = tab->dom[0].backend,
	    .source = tab->dom[0].source,
	    .note = tab->dom[0].note,
	    .kind = JST_KIND_GPU,
	    .method = JST_METHOD_COUNTER,
	    .accuracy = 0.05,
	    .energy_j = f->energy_j,
	    .uncertainty_j = f->uncertainty_j,
	    .avg_power_w = f->energy_j / f->duration_s,
	    .peak_power_w = NAN,
	    .temperature_max_c = NAN,
	    .utilization_mean_pct = NAN,
	    .clock_mean_mhz = NAN,
	    .power_limit_w = NAN,
	    .parent = -1,
	    .primary = 1,
	    .partial = f->partial,
	};
	return m;
}

/* Three runs: a short one whose figure is uncertain (60%), a long one (5%),
 * and a third the caller may mark cut short. */
static const struct fig FIGS[3] = {
    {10.0, 6.0, 0.12, 0},
    {600.0, 30.0, 2.0, 0},
    {80.0, 8.0, 0.3, 0},
};

static void make(jst_measurement *runs[3], int third_partial)
{
	for (int i = 0; i < 3; i++) {
		struct fig f = FIGS[i];
		f.partial = i == 2 && third_partial;
		runs[i] = run_of(&f);
	}
}

static void drop(jst_measurement *runs[3])
{
	for (int i = 0; i < 3; i++)
		jst_measurement_free(runs[i]);
}

static void test_a_cut_run_is_left_out_like_a_partial_one(void **st)
{
	(void)st;
	static const unsigned char cut[3] = {0, 0, 1};
	for (int how = 0; how < 2; how++) { /* 0: cut by a signal, 1: partial */
		jst_measurement *runs[3];
		make(runs, how);
		const unsigned char *mask = how ? NULL : cut;
		struct jst_stat e, p, d;
		jst_stat_domain(runs, 3, mask, 0, 0, &e);
		jst_stat_domain(runs, 3, mask, 0, 1, &p);
		assert_int_equal(e.n, 2);
		assert_int_equal(e.excluded, 1);
		assert_double_equal(e.mean, 305.0, 1e-9);
		assert_double_equal(e.max, 600.0, 1e-9);
		assert_double_equal(p.mean, (10.0 / 0.12 + 300.0) / 2, 1e-9);
		assert_int_equal(jst_stat_total(runs, 3, mask, JST_TOTAL_ALL, 0, &e), 1);
		assert_int_equal(e.n, 2);
		assert_int_equal(e.excluded, 1);
		assert_double_equal(e.mean, 305.0, 1e-9);
		jst_stat_duration(runs, 3, cut, &d);
		assert_int_equal(d.n, 2);
		assert_double_equal(d.mean, 1.06, 1e-9);
		/* The accuracy of the mean: the kept runs' (6 + 30) / (10 + 600). */
		assert_double_equal(jst_stat_domain_accuracy(runs, 3, mask, 0), 36.0 / 610.0,
		                    1e-12);
		assert_double_equal(jst_stat_total_accuracy(runs, 3, mask, JST_TOTAL_GPU),
		                    36.0 / 610.0, 1e-12);
		drop(runs);
	}
	/* Nothing left out: every run counts. */
	jst_measurement *runs[3];
	make(runs, 0);
	struct jst_stat e;
	jst_stat_domain(runs, 3, NULL, 0, 0, &e);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.excluded, 0);
	assert_double_equal(jst_stat_domain_accuracy(runs, 3, NULL, 0), 44.0 / 690.0, 1e-12);
	/* Every run left out: the accuracy is still every run's, not NaN. */
	static const unsigned char all[3] = {1, 1, 1};
	assert_double_equal(jst_stat_total_accuracy(runs, 3, all, JST_TOTAL_ALL), 44.0 / 690.0,
	                    1e-12);
	drop(runs);
}

/* The table: the cut run's cells say "(2 of 3 runs)", it is shown on its
 * own, and each row's accuracy is the mean's: one figure for the domain and
 * for the totals of that one domain. */
static void test_the_table_agrees_row_by_row(void **st)
{
	(void)st;
	static const unsigned char cut[3] = {0, 0, 1};
	jst_measurement *runs[3];
	make(runs, 0);
	char *cmd[] = {"sleep", "1", NULL};
	struct jst_report r = {.command = cmd, .runs = runs, .nruns = 3, .run_cut = cut};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	jst_sink_text_report(f, &r);
	fclose(f);
	char want[16];
	snprintf(want, sizeof want, "± %.0f%%", 100 * 36.0 / 610.0); /* 6% */
	int rows = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char name[16] = "";
		if (sscanf(line, " %15s", name) != 1 ||
		    (strcmp(name, "gpu0") != 0 && strcmp(name, "gpu") != 0 &&
		     strcmp(name, "total") != 0) ||
		    !strstr(line, "runs)"))
			continue;
		rows++;
		assert_non_null(strstr(line, want));
		assert_non_null(strstr(line, "(2 of 3 runs)"));
	}
	assert_int_equal(rows, 3);
	free(text);

	text = NULL;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	jst_sink_text_report(f, &r);
	fclose(f);
	assert_non_null(strstr(text, "1.060 ± 1.329 s elapsed per run (2 of 3 runs)"));
	assert_non_null(strstr(text, "run 3, cut short by a signal: 80.000 ± 8.000 J (total) in "
	                             "0.300 s, left out of the statistics"));
	free(text);

	/* The JSON summary: the same runs, the same accuracy. */
	json_t *s = jst_sink_json_summary(runs, 3, cut);
	json_t *tot = json_object_get(json_object_get(s, "totals"), "total");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(tot, "energy_j"), "runs_excluded")),
	    1);
	assert_double_equal(json_real_value(json_object_get(tot, "accuracy")), 36.0 / 610.0, 1e-12);
	json_t *dom = json_array_get(json_object_get(s, "domains"), 0);
	assert_double_equal(json_real_value(json_object_get(dom, "accuracy")), 36.0 / 610.0, 1e-12);
	json_decref(s);
	drop(runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_cut_run_is_left_out_like_a_partial_one),
	    cmocka_unit_test(test_the_table_agrees_row_by_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
