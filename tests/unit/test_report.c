/* joulestat report's model and writers (src/report): the JSON of a run read
 * into bars, traces and bands with the numbers it holds; text escaped for
 * XML whatever bytes it has; axes; the SVG free of NaN however sparse the run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *escaped(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	jst_report_xml_text(f, s);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void check_escape(const char *in, const char *want)
{
	char *got = escaped(in);
	assert_string_equal(got, want);
	free(got);
}

#define FFFD "\xef\xbf\xbd"

static void test_xml_text(void **state)
{
	(void)state;
	check_escape("a&b<c>\"'", "a&amp;b&lt;c&gt;&quot;&#39;");
	check_escape("\x01x\x1b[31m\x7f", "x[31m\x7f"); /* C0 dropped; DEL is allowed in XML */
	check_escape("tab\tline\nret\r", "tab\tline\nret\r");
	check_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	             "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	check_escape("\xff", FFFD);
	check_escape("\xc0\xaf", FFFD FFFD);                   /* overlong '/' */
	check_escape("\xed\xa0\x80", FFFD FFFD FFFD);          /* a surrogate */
	check_escape("\xef\xbf\xbe", FFFD FFFD FFFD);          /* U+FFFE */
	check_escape("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* beyond U+10FFFF */
	check_escape("ab\xe2\x82", "ab" FFFD FFFD);            /* cut short at the end */
	check_escape(NULL, "");
}

static void test_axis(void **state)
{
	(void)state;
	struct jst_report_axis a;
	jst_report_axis_nice(0, 387.5, 6, &a);
	assert_float_equal(a.step, 100, 1e-12);
	assert_float_equal(a.lo, 0, 1e-12);
	assert_float_equal(a.hi, 400, 1e-12);
	assert_int_equal(a.nticks, 5);
	jst_report_axis_nice(0, 1.95, 8, &a);
	assert_float_equal(a.step, 0.5, 1e-12);
	assert_float_equal(a.hi, 2, 1e-12);
	jst_report_axis_nice(-12, 30, 6, &a);
	assert_float_equal(a.step, 10, 1e-12);
	assert_float_equal(a.lo, -20, 1e-12);
	assert_float_equal(a.hi, 30, 1e-12);
	/* Exactly on a step: not widened by rounding. */
	jst_report_axis_nice(0, 0.3, 3, &a);
	assert_float_equal(a.step, 0.1, 1e-12);
	assert_float_equal(a.hi, 0.3, 1e-12);
	assert_int_equal(a.nticks, 4);
	/* Degenerate input still gives an axis to draw. */
	jst_report_axis_nice(0, 0, 6, &a);
	assert_true(a.hi > a.lo);
	jst_report_axis_nice(NAN, 5, 6, &a);
	assert_true(a.hi > a.lo && isfinite(a.step));
	jst_report_axis_nice(42, 42, 6, &a);
	assert_true(a.lo <= 0 && a.hi >= 42);
	assert_float_equal(jst_report_axis_map(&a, a.lo, 10, 110), 10, 1e-9);
	assert_float_equal(jst_report_axis_map(&a, a.hi, 10, 110), 110, 1e-9);
}

static struct jst_report *parse_ok(const char *text)
{
	json_error_t je;
	json_t *doc = json_loads(text, 0, &je);
	if (!doc)
		fail_msg("fixture: %s at %d", je.text, je.line);
	struct jst_report *r;
	char err[256] = "";
	int rc = jst_report_parse(doc, &r, err, sizeof err);
	json_decref(doc); /* the model keeps its own reference */
	if (rc)
		fail_msg("parse: %d %s", rc, err);
	return r;
}

static void parse_fails(const char *text, const char *want)
{
	json_t *doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	struct jst_report *r = (struct jst_report *)1;
	char err[256] = "";
	assert_int_equal(jst_report_parse(doc, &r, err, sizeof err), -EINVAL);
	assert_null(r);
	json_decref(doc);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
}

static const struct jst_report_bar *bar(const struct jst_report *r, const char *name, int total)
{
	for (size_t i = 0; i < r->nbars; i++)
		if (r->bars[i].total == total && !strcmp(r->bars[i].name, name))
			return &r->bars[i];
	fail_msg("no bar %s", name);
	return NULL;
}

#define DOM(name, dev, method, primary, e, u)                                                      \
	"{\"name\":\"" name "\",\"kind\":\"gpu\",\"device\":\"" dev "\",\"backend\":\"b\","        \
	"\"method\":\"" method "\",\"accuracy\":0.05,\"energy_j\":" #e ",\"uncertainty_j\":" #u    \
	",\"avg_power_w\":10,\"peak_power_w\":" #e ",\"primary\":" primary "}"

/* Three runs; the cross-check of gpu0 comes first in the JSON, its device's
 * counted figure last. */
static const char three_runs[] =
    "{\"joulestat\":\"0.1.0\",\"command\":[\"x\"],\"exit_status\":3,\"runs\":["
    "{\"begin_ns\":1000,\"end_ns\":2000,\"domains\":[" DOM("gpu0-power", "A", "power", "false", 9, 1) "," DOM(
        "pkg", "B", "counter",
        "true", 5,
        0.5) "," DOM("gpu0", "A", "counter", "true",
                     10, 0.5) "],"
                              "\"totals\":{\"accelerator\":{\"energy_j\":1,\"accuracy\":0.1},"
                              "\"gpu\":{\"energy_j\":10,"
                              "\"uncertainty_j\":0.5},\"total\":{\"energy_j\":15,\"uncertainty_j\":"
                              "1}}},"
                              "{\"begin_ns\":3000,\"end_ns\":4000,\"domains\":[" DOM(
                                  "gpu0-power",
                                  "A", "power",
                                  "false", 12,
                                  2) "," DOM("pkg", "B", "counter", "true", 6,
                                             0.5) "," DOM("gpu0", "A", "counter", "true", 11,
                                                          1.5) "],"
                                                               "\"totals\":{\"total\":{\"energy_"
                                                               "j\":"
                                                               "17,\"uncertainty_j\":2}}},"
                                                               "{\"begin_ns\":5000,\"end_ns\":6000,"
                                                               "\"domains\":[" DOM(
                                                                   "gpu0-power",
                                                                   "A",
                                                                   "power", "false", 9,
                                                                   3) "," DOM("pkg", "B", "counter",
                                                                              "true", 7,
                                                                              0.5) "," DOM("gpu0",
                                                                                           "A",
                                                                                           "counte"
                                                                                           "r",
                                                                                           "true",
                                                                                           12,
                                                                                           1) "],"
                                                                                              "\"to"
                                                                                              "t"
                                                                                              "als"
                                                                                              "\""
                                                                                              ":{"
                                                                                              "\"to"
                                                                                              "t"
                                                                                              "al\""
                                                                                              ":"
                                                                                              "{\"e"
                                                                                              "n"
                                                                                              "ergy"
                                                                                              "_"
                                                                                              "j\":"
                                                                                              "19,"
                                                                                              "\"un"
                                                                                              "c"
                                                                                              "erta"
                                                                                              "i"
                                                                                              "nty_"
                                                                                              "j\":"
                                                                                              "3}}}"
                                                                                              "]"
                                                                                              "}";

static void test_runs_make_bars(void **state)
{
	(void)state;
	struct jst_report *r = parse_ok(three_runs);
	assert_int_equal(r->nruns, 3);
	assert_int_equal(r->exit_status, 3);
	/* A device's methods side by side, the counted one first; totals after,
	 * the usual ones in their order and a newer writer's last. */
	const char *order[] = {"gpu0", "gpu0-power", "pkg", "total", "gpu", "accelerator"};
	assert_int_equal(r->nbars, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(r->bars[i].name, order[i]);
	const struct jst_report_bar *g = bar(r, "gpu0", 0), *x = bar(r, "gpu0-power", 0),
	                            *p = bar(r, "pkg", 0);
	assert_int_equal(g->device_index, x->device_index);
	assert_int_not_equal(g->device_index, p->device_index);
	assert_int_equal(r->ndevices, 2);
	assert_true(g->primary && !x->primary);
	assert_float_equal(g->mean_j, 11, 1e-12);
	assert_float_equal(g->uncertainty_j, 1, 1e-12);
	assert_float_equal(g->min_j, 10, 1e-12);
	assert_float_equal(g->max_j, 12, 1e-12);
	assert_float_equal(g->peak_power_w, 12, 1e-12);
	assert_float_equal(x->mean_j, 10, 1e-12);
	assert_float_equal(x->uncertainty_j, 2, 1e-12);
	assert_float_equal(x->runs_j[1], 12, 1e-12);
	const struct jst_report_bar *t = bar(r, "total", 1);
	assert_int_equal(t->nruns, 3);
	assert_float_equal(t->mean_j, 17, 1e-12);
	assert_float_equal(t->uncertainty_j, 2, 1e-12);
	/* Only the first run had it; no uncertainty_j: its class times its energy. */
	const struct jst_report_bar *a = bar(r, "accelerator", 1);
	assert_int_equal(a->nruns, 1);
	assert_float_equal(a->uncertainty_j, 0.1, 1e-12);
	/* No series nor intervals: a step of each run's average power. */
	assert_int_equal(r->power_source, JST_REPORT_POWER_RUNS);
	assert_int_equal(r->ntraces, 3);
	assert_int_equal(r->traces[0].n, 6);
	assert_true(r->traces[0].steps);
	assert_int_equal(r->traces[0].t_ns[4], 5000);
	assert_int_equal(r->traces[0].t_ns[5], 6000);
	assert_int_equal(r->nbands, 3);
	assert_int_equal(r->t0_ns, 1000);
	assert_int_equal(r->t1_ns, 6000);
	jst_report_free(r);
}

static const char series_doc[] = "{\"runs\":[{\"begin_ns\":100,\"end_ns\":400,\"domains\":[" DOM(
    "gpu0", "A", "counter", "true", 3,
    0.1) "]}],"
         "\"intervals\":[{\"begin_ns\":100,\"end_ns\":250,\"run\":1},{\"begin_ns\":250,"
         "\"end_ns\":400,\"run\":1}],"
         "\"series\":[{\"domain\":\"gpu0\",\"kind\":\"gpu\",\"t_ns\":[100,200,300,400],"
         "\"energy_j\":[0,1,2,3],\"power_w\":[10,null,30.5,40]},"
         "{\"domain\":\"psys\",\"kind\":\"platform\",\"t_ns\":[50],\"power_w\":[7]}],"
         "\"identity\":{\"schema\":2,\"hostname\":\"h\"},\"carbon\":{\"co2e_g\":1.5}}";

static void test_series_make_traces(void **state)
{
	(void)state;
	struct jst_report *r = parse_ok(series_doc);
	assert_int_equal(r->power_source, JST_REPORT_POWER_SERIES);
	assert_int_equal(r->ntraces, 2);
	const struct jst_report_trace *t = &r->traces[0];
	assert_string_equal(t->domain, "gpu0");
	assert_string_equal(t->device, "A");
	assert_string_equal(t->method, "counter");
	assert_int_equal(t->n, 4);
	assert_false(t->steps);
	assert_float_equal(t->power_w[0], 10, 1e-12);
	assert_true(isnan(t->power_w[1]));
	assert_float_equal(t->power_w[2], 30.5, 1e-12);
	/* A domain with readings but no figure in the runs: a device of its own. */
	assert_string_equal(r->traces[1].kind, "platform");
	assert_int_equal(r->traces[1].device_index, 1);
	assert_int_equal(r->nbands, 3);
	assert_true(r->bands[1].interval && r->bands[2].interval);
	assert_int_equal(r->bands[2].begin_ns, 250);
	assert_int_equal(r->t0_ns, 50);
	assert_int_equal(r->t1_ns, 400);
	assert_non_null(r->identity);
	assert_non_null(r->carbon);
	jst_report_free(r);
}

static void test_bad_input_is_named(void **state)
{
	(void)state;
	parse_fails("[1]", "not a JSON object");
	parse_fails("{}", "no runs, intervals or series");
	parse_fails("{\"runs\":{}}", "runs: not an array");
	parse_fails("{\"runs\":[1]}", "runs[0]: not an object");
	parse_fails("{\"runs\":[{\"domains\":[{}]}]}", "runs[0].domains[0]: not a domain");
	parse_fails("{\"runs\":[{\"domains\":[{\"name\":\"a\",\"energy_j\":\"1\"}]}]}",
	            "runs[0].domains[0].energy_j: not a number");
	parse_fails("{\"runs\":[{\"domains\":[{\"name\":\"a\"}]}]}",
	            "runs[0].domains[0].energy_j: missing");
	parse_fails(
	    "{\"runs\":[{\"domains\":[{\"name\":\"a\",\"energy_j\":1,\"uncertainty_j\":-1}]}]}",
	    "uncertainty_j: negative");
	parse_fails("{\"runs\":[{\"totals\":{\"gpu\":3}}]}", "runs[0].totals.gpu: not an object");
	parse_fails("{\"runs\":[{\"begin_ns\":5,\"end_ns\":4}]}",
	            "runs[0].end_ns: 4, before begin_ns 5");
	parse_fails("{\"runs\":[{\"end_ns\":4}]}", "runs[0].begin_ns: missing");
	parse_fails("{\"series\":[{\"domain\":\"a\",\"t_ns\":[1,2],\"power_w\":[1]}]}",
	            "series[0].t_ns, energy_j and power_w differ in length");
	parse_fails("{\"series\":[{\"domain\":\"a\",\"t_ns\":[2,1],\"power_w\":[1,2]}]}",
	            "series[0].t_ns[1]: goes back in time");
	parse_fails("{\"series\":[{\"domain\":\"a\",\"t_ns\":[1],\"power_w\":[\"x\"]}]}",
	            "series[0].t_ns[0], power_w[0]: not a number, and a number or null");
	parse_fails("{\"series\":[{\"t_ns\":[1],\"power_w\":[1]}]}", "series[0]: not a series");
	parse_fails("{\"series\":[{\"domain\":\"a\",\"power_w\":[1]}]}",
	            "series[0].t_ns, power_w: missing");
	parse_fails("{\"runs\":[{}],\"identity\":[]}", "identity: not an object");
	parse_fails("{\"runs\":[{}],\"exit_status\":1.5}", "exit_status: not an integer");
	/* Numbers whose sums would overflow, instants that fit no int64_t. */
	parse_fails("{\"runs\":[{\"domains\":[{\"name\":\"a\",\"energy_j\":1e308}]}]}",
	            "runs[0].domains[0].energy_j: 1e+308 is out of range");
	parse_fails("{\"runs\":[{\"begin_ns\":-5,\"end_ns\":4}]}", "runs[0].begin_ns: negative");
	parse_fails("{\"runs\":[{\"begin_ns\":1,\"end_ns\":1e19}]}",
	            "runs[0].end_ns: 1e+19 is out of range");
	parse_fails("{\"series\":[{\"domain\":\"a\",\"t_ns\":[-1],\"power_w\":[1]}]}",
	            "series[0].t_ns[0]: -1 is out of range");
	parse_fails("{\"series\":[{\"domain\":\"a\",\"t_ns\":[1],\"power_w\":[-2e300]}]}",
	            "series[0].power_w[0]: -2e+300 is out of range");
}

/* Not inlined: GCC at -O3 then takes the text for the stack variable that
 * open_memstream filled (-Wdangling-pointer), not for the heap it points to. */
__attribute__((noinline)) static char *render(const struct jst_report *r, int html)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(html ? jst_report_write_html(r, f) : jst_report_write_svg(r, f, 1), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Whether word stands alone in text (printf's "nan", "-inf"), not inside a word. */
static int has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = text; (p = strcasestr(p, word)); p++)
		if ((p == text || !isalpha((unsigned char)p[-1])) && !isalpha((unsigned char)p[n]))
			return 1;
	return 0;
}

/* Whatever the run lacks (no time span, no power, one reading), no NaN or
 * infinity reaches the SVG. */
static void test_sparse_runs_draw_no_nan(void **state)
{
	(void)state;
	static const char zero_length[] = "{\"runs\":[{\"begin_ns\":7,\"end_ns\":7,\"domains\":[{"
	                                  "\"name\":\"a\",\"energy_j\":0}]}]}";
	static const char *const docs[] = {
	    three_runs,
	    series_doc,
	    zero_length,
	    "{\"series\":[{\"domain\":\"a\",\"t_ns\":[5],\"power_w\":[null]}]}",
	    "{\"series\":[{\"domain\":\"a\",\"t_ns\":[],\"power_w\":[]}]}",
	    "{\"intervals\":[{\"begin_ns\":1,\"end_ns\":2}]}",
	};
	for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
		struct jst_report *r = parse_ok(docs[i]);
		for (int html = 0; html < 2; html++) {
			char *out = render(r, html);
			if (has_word(out, "nan") || has_word(out, "inf"))
				fail_msg("doc %zu (%s) holds a NaN or an infinity", i,
				         html ? "html" : "svg");
			assert_true(strstr(out, "</svg>") != NULL);
			free(out);
		}
		jst_report_free(r);
	}
}

/* A series longer than the plot is wide keeps each column's extremes. */
static void test_long_series_thinned(void **state)
{
	(void)state;
	size_t n = 100000;
	json_t *t = json_array(), *p = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(t, json_integer((json_int_t)i * 1000));
		json_array_append_new(p, json_real(i == 77777 ? 900.0 : 100.0 + (double)(i % 10)));
	}
	json_t *doc =
	    json_pack("{s:[{s:s, s:o, s:o}]}", "series", "domain", "a", "t_ns", t, "power_w", p);
	assert_non_null(doc);
	struct jst_report *r;
	char err[128];
	assert_int_equal(jst_report_parse(doc, &r, err, sizeof err), 0);
	json_decref(doc);
	char *out = render(r, 0);
	const char *d = strstr(out, " d=\"");
	assert_non_null(d);
	size_t points = count(d, "L") + 1;
	assert_true(points <= (size_t)2 * 632);
	assert_true(points >= 630);
	/* The spike is the top of the axis (1000 W) less a tenth: y = 50 + 280 * 0.1. */
	assert_non_null(strstr(d, " 78.00 "));
	free(out);
	jst_report_free(r);
}

/* --cross-validate: one name, a domain per source. Series are matched by
 * their source when they name it, else the k-th of a name to the k-th domain
 * of that name; -I rows likewise by name and source. */
static void test_one_name_many_methods(void **state)
{
	(void)state;
#define XV(src, e, primary)                                                                        \
	"{\"name\":\"gpu0\",\"device\":\"G\",\"backend\":\"nvml\",\"method\":\"x\",\"source\":"    \
	"\"" src "\",\"energy_j\":" #e ",\"avg_power_w\":" #e ",\"primary\":" primary "}"
	static const char runs[] = "{\"runs\":[{\"begin_ns\":0,\"end_ns\":10,\"domains\":[" XV(
	    "energy-counter", 1,
	    "true") "," XV("instant-power", 2,
	                   "false") "," XV("average-power", 3,
	                                   "false") "]}],"
	                                            "\"intervals\":[{\"begin_ns\":0,\"end_ns\":10,"
	                                            "\"domains\":[" XV(
	                                                "average-power", 30,
	                                                "false") "," XV("energy-counter", 10,
	                                                                "true") "," XV("instant-"
	                                                                               "power",
	                                                                               20,
	                                                                               "false") "]}"
	                                                                                        "]";
#undef XV
	char doc[2048];
	/* No series: each -I row's figure of the same name and source. */
	snprintf(doc, sizeof doc, "%s}", runs);
	struct jst_report *r = parse_ok(doc);
	assert_int_equal(r->nbars, 3);
	const char *sources[] = {"energy-counter", "instant-power", "average-power"};
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(r->bars[i].source, sources[i]);
		assert_float_equal(r->bars[i].mean_j, (double)i + 1, 1e-12);
		assert_int_equal(r->bars[i].rank, i);
		assert_int_equal(r->bars[i].device_index, 0);
		assert_string_equal(r->traces[i].source, sources[i]);
		assert_float_equal(r->traces[i].power_w[0], 10.0 * ((double)i + 1), 1e-12);
	}
	jst_report_free(r);
	/* Series: the k-th of a name is the k-th domain of it, unless it names
	 * its source. */
	snprintf(
	    doc, sizeof doc,
	    "%s,\"series\":[{\"domain\":\"gpu0\",\"t_ns\":[1],\"power_w\":[100]},"
	    "{\"domain\":\"gpu0\",\"t_ns\":[1],\"power_w\":[200]},"
	    "{\"domain\":\"gpu0\",\"source\":\"energy-counter\",\"t_ns\":[1],\"power_w\":[1]}]}",
	    runs);
	r = parse_ok(doc);
	assert_int_equal(r->ntraces, 3);
	assert_string_equal(r->traces[0].source, "energy-counter");
	assert_string_equal(r->traces[1].source, "instant-power");
	assert_int_equal(r->traces[1].rank, 1);
	assert_false(r->traces[1].primary);
	assert_string_equal(r->traces[2].source, "energy-counter");
	jst_report_free(r);
}

/* A run cut short is left out of the bars, as the JSON's summary leaves it
 * out, unless no run is whole. */
static void test_partial_runs_left_out(void **state)
{
	(void)state;
#define RUN(e, partial)                                                                            \
	"{\"begin_ns\":0,\"end_ns\":1,\"partial\":" partial ",\"domains\":[{\"name\":\"a\","       \
	"\"energy_j\":" #e ",\"partial\":" partial "}]}"
	struct jst_report *r = parse_ok("{\"runs\":[" RUN(10, "false") "," RUN(2, "true") "," RUN(
	    14, "false") "],\"partial\":true}");
	assert_int_equal(r->runs_left_out, 1);
	assert_int_equal(r->bars[0].nruns, 2);
	assert_float_equal(r->bars[0].mean_j, 12, 1e-12);
	assert_false(r->bars[0].partial);
	char *out = render(r, 1);
	assert_non_null(strstr(out, "1 partial run left out of the energy figures"));
	free(out);
	jst_report_free(r);
	r = parse_ok("{\"runs\":[" RUN(2, "true") "," RUN(4, "true") "]}");
	assert_int_equal(r->runs_left_out, 0);
	assert_float_equal(r->bars[0].mean_j, 3, 1e-12);
	assert_true(r->bars[0].partial);
	jst_report_free(r);
#undef RUN
}

/* The identity is shown whole, and a newer schema said to be one. */
static void test_identity_shown_as_written(void **state)
{
	(void)state;
	struct jst_report *r = parse_ok("{\"runs\":[{\"begin_ns\":1,\"end_ns\":2}],\"identity\":{"
	                                "\"schema\":3,\"hostname\":\"n<1>\",\"gpus\":[\"A\",\"B\"],"
	                                "\"future\":{\"k\":1.5}}}");
	char *out = render(r, 1);
	assert_non_null(strstr(out, "Identity of schema 3, newer than this joulestat knows (2)"));
	assert_non_null(strstr(out, "<td data-key=\"hostname\">n&lt;1&gt;</td>"));
	assert_non_null(strstr(out, "<td data-key=\"gpus\">A, B</td>"));
	assert_non_null(strstr(out, "<code>k</code> 1.5"));
	free(out);
	jst_report_free(r);
	r = parse_ok(series_doc); /* schema 2: nothing to say */
	out = render(r, 1);
	assert_null(strstr(out, "newer than"));
	free(out);
	jst_report_free(r);
}

static void test_write_error_is_reported(void **state)
{
	(void)state;
	FILE *f = fopen("/dev/full", "w");
	if (!f)
		skip();
	setvbuf(f, NULL, _IONBF, 0);
	struct jst_report *r = parse_ok(three_runs);
	assert_int_equal(jst_report_write_html(r, f), -EIO);
	fclose(f);
	jst_report_free(r);
}

static void test_load_a_missing_file(void **state)
{
	(void)state;
	json_t *doc = (json_t *)1;
	char err[256];
	assert_int_equal(jst_report_load_file("/nonexistent/x.json", &doc, err, sizeof err),
	                 -ENOENT);
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_xml_text),
	    cmocka_unit_test(test_axis),
	    cmocka_unit_test(test_runs_make_bars),
	    cmocka_unit_test(test_series_make_traces),
	    cmocka_unit_test(test_bad_input_is_named),
	    cmocka_unit_test(test_sparse_runs_draw_no_nan),
	    cmocka_unit_test(test_long_series_thinned),
	    cmocka_unit_test(test_one_name_many_methods),
	    cmocka_unit_test(test_partial_runs_left_out),
	    cmocka_unit_test(test_identity_shown_as_written),
	    cmocka_unit_test(test_write_error_is_reported),
	    cmocka_unit_test(test_load_a_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
