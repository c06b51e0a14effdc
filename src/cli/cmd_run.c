/* joulestat run: measure a command the way `perf stat` counts it. */
#include "attribute.h"
#include "cli.h"
#include "command.h"
#include "forward.h"
#include "interval.h"
#include "run_record.h"
#include "series_json.h"
#include "sinks.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

struct run_opts {
	struct jst_cli_common common;
	const char *json_path, *csv_path, *out_path;
	unsigned repeat;
	unsigned interval_ms;
	int quiet;
	char **command;
	/* identity, --series, --no-history, carbon (run_record.c) */
	int series, no_history;
	int no_settle; /* --no-settle: end each run's window at once */
	struct jst_carbon_request carbon;
	struct jst_cli_attrib attrib; /* --attribute, --pid, --cgroup */
};

enum {
	OPT_JSON = JST_OPT_FIRST_OWN,
	OPT_CSV,
	OPT_INTERVAL,
	OPT_SERIES,
	OPT_NO_HISTORY,
	OPT_REGION,
	OPT_CARBON_INTENSITY,
	OPT_PUE,
	OPT_PRICE,
	OPT_NO_SETTLE,
};

static int parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
	    JST_CLI_COMMON_OPTIONS,
	    {"json", required_argument, NULL, OPT_JSON},
	    {"csv", required_argument, NULL, OPT_CSV},
	    {"repeat", required_argument, NULL, 'r'},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"output", required_argument, NULL, 'o'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"series", no_argument, NULL, OPT_SERIES},
	    {"no-history", no_argument, NULL, OPT_NO_HISTORY},
	    {"no-settle", no_argument, NULL, OPT_NO_SETTLE},
	    {"region", required_argument, NULL, OPT_REGION},
	    {"carbon-intensity", required_argument, NULL, OPT_CARBON_INTENSITY},
	    {"pue", required_argument, NULL, OPT_PUE},
	    {"price", required_argument, NULL, OPT_PRICE},
	    JST_CLI_ATTRIB_OPTIONS,
	    {0},
	};
	int opt;
	while ((opt = jst_cli_getopt("run", argc, argv, "r:o:qI:h", opts)) != -1) {
		int a = jst_cli_attrib_option(&o->attrib, opt, optarg);
		if (a < 0)
			return JST_EXIT_USAGE;
		if (a > 0)
			continue;
		int c = jst_cli_common_option("run", opt, optarg, &o->common);
		if (c < 0)
			return JST_EXIT_USAGE;
		if (c > 0)
			continue;
		switch (opt) {
		case OPT_JSON:
			if (jst_cli_parse_path("run", "--json", optarg, &o->json_path))
				return JST_EXIT_USAGE;
			break;
		case OPT_CSV:
			if (jst_cli_parse_path("run", "--csv", optarg, &o->csv_path))
				return JST_EXIT_USAGE;
			break;
		case 'r':
			if (jst_cli_parse_uint("run", "-r", optarg, 1, 100000, &o->repeat))
				return JST_EXIT_USAGE;
			break;
		case 'I':
		case OPT_INTERVAL:
			if (jst_cli_parse_uint("run", "--interval", optarg, 1, 3600000,
			                       &o->interval_ms))
				return JST_EXIT_USAGE;
			break;
		case 'o':
			if (jst_cli_parse_path("run", "-o", optarg, &o->out_path))
				return JST_EXIT_USAGE;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_SERIES:
			o->series = 1;
			break;
		case OPT_NO_HISTORY:
			o->no_history = 1;
			break;
		case OPT_NO_SETTLE:
			o->no_settle = 1;
			break;
		case OPT_REGION:
			o->carbon.region = optarg;
			break;
		case OPT_CARBON_INTENSITY:
			if (jst_cli_parse_number("run", "--carbon-intensity", optarg, 0, 5000,
			                         &o->carbon.intensity))
				return JST_EXIT_USAGE;
			break;
		case OPT_PUE:
			if (jst_cli_parse_number("run", "--pue", optarg, 1, 10, &o->carbon.pue))
				return JST_EXIT_USAGE;
			break;
		case OPT_PRICE:
			if (jst_cli_parse_number("run", "--price", optarg, 0, 1e6,
			                         &o->carbon.price))
				return JST_EXIT_USAGE;
			break;
		case 'h':
		case JST_OPT_HELP:
			jst_cli_help(stdout, "run");
			return -1;
		default:
			return JST_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return jst_cli_usage_error("run", "no command given: joulestat run [OPTIONS] -- "
		                                  "COMMAND [ARGS]");
	o->command = &argv[optind];
	int to_stdout = !!(o->json_path && !strcmp(o->json_path, "-")) +
	                !!(o->csv_path && !strcmp(o->csv_path, "-")) +
	                !!(o->out_path && !strcmp(o->out_path, "-"));
	if (to_stdout > 1)
		return jst_cli_usage_error("run", "only one of --json, --csv and -o can write to "
		                                  "stdout ('-')");
	/* Two outputs in one file: the second to be finished would replace the
	 * first, which would be lost without a word. */
	const char *paths[] = {o->json_path, o->csv_path, o->quiet ? NULL : o->out_path};
	const char *names[] = {"--json", "--csv", "-o"};
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (paths[i] && paths[j] && jst_cli_output_same(paths[i], paths[j]))
				return jst_cli_usage_error(
				    "run",
				    "%s '%s' and %s '%s' are the same file: give each its own",
				    names[i], paths[i], names[j], paths[j]);
	return 0;
}

struct outputs {
	struct jst_cli_output json, csv, file; /* file: -o */
	FILE *table;                           /* stderr, or file's; NULL with -q */
	/* The JSON and CSV are written as the intervals end, not kept until the
	 * end: their temporaries grow, joulestat does not. */
	struct jst_json_stream js;
	struct jst_run_record *rr;
	int csv_head; /* the CSV header is written */
	int csv_err;  /* first CSV write error: nothing more is written to it */
	size_t run;   /* 1-based run whose intervals are being written */
	/* Set when the run's command could not start: its intervals measured
	 * nothing and are not written (a run that measures nothing writes nothing). */
	atomic_int drop;
};

/* Give up every output opened: the files named keep what they had. */
static void outputs_discard(struct outputs *out)
{
	jst_cli_output_discard(&out->json);
	jst_cli_output_discard(&out->csv);
	jst_cli_output_discard(&out->file);
	out->table = NULL;
}

static int outputs_open(const struct run_opts *o, struct outputs *out)
{
	*out = (struct outputs){0};
	if ((o->json_path && jst_cli_output_open(&out->json, o->json_path, 0)) ||
	    (o->csv_path && jst_cli_output_open(&out->csv, o->csv_path, 0)) ||
	    (!o->quiet && o->out_path &&
	     jst_cli_output_open(&out->file, o->out_path, o->interval_ms > 0))) {
		/* Nothing will be written: the outputs already open keep their files. */
		outputs_discard(out);
		return -1;
	}
	if (!o->quiet)
		out->table = o->out_path ? out->file.f : stderr;
	if (out->json.f)
		jst_sink_json_stream_begin(&out->js, out->json.f, o->command, o->interval_ms > 0);
	return 0;
}

/* Rows of one window to the CSV, after its header: nothing is written before
 * there is a row, so that a run that measures nothing writes nothing. */
static void csv_window(struct outputs *out, const jst_measurement *m, size_t run, const int *status)
{
	if (!out->csv_head) {
		out->csv_head = 1;
		out->csv_err = jst_sink_csv_header(out->csv.f);
	}
	if (!out->csv_err) {
		struct jst_csv_extra x;
		jst_run_record_csv(out->rr, &x);
		out->csv_err = jst_sink_csv_window(out->csv.f, m, run, status, &x);
	}
}

/* The interval writer: each interval goes to the JSON and the CSV, then is gone. */
static void put_interval(void *ctx, const jst_measurement *m)
{
	struct outputs *out = ctx;
	if (atomic_load(&out->drop))
		return;
	if (out->json.f)
		jst_sink_json_stream_interval(&out->js, m, out->run);
	if (out->csv.f)
		csv_window(out, m, out->run, NULL);
	jst_run_record_interval(out->rr, m, out->run);
}

/* Write everything that was asked for; -1 when any output failed. Each output
 * stands alone: one that cannot be written does not keep the others back. */
static int outputs_write(struct outputs *out, const struct jst_report *r)
{
	int bad = 0;
	if (out->table) {
		jst_sink_text_report(out->table, r);
		jst_run_record_text(out->table, out->rr, r->extra);
	}
	bad |= jst_cli_output_commit(&out->file);
	if (out->json.f)
		bad |= jst_cli_output_finish(&out->json, jst_sink_json_stream_end(&out->js, r));
	if (out->csv.f) {
		/* The runs' rows come after their intervals: they end last. */
		for (size_t i = 0; i < r->nruns; i++) {
			csv_window(out, r->runs[i], i + 1,
			           r->run_status ? &r->run_status[i] : NULL);
			if (r->attribution && r->attribution[i] && !out->csv_err)
				out->csv_err = jst_sink_csv_attribution(
				    out->csv.f, r->runs[i], i + 1,
				    r->run_status ? &r->run_status[i] : NULL, r->attribution[i]);
		}
		bad |= jst_cli_output_finish(&out->csv, out->csv_err);
	}
	return bad ? -1 : 0;
}

/* What the runs gathered: measurements and statuses (the intervals are
 * already written). */
struct runs {
	jst_measurement **m;
	int *status;
	struct jst_attribution **attr; /* per run, with --attribute, --pid, --cgroup */
	char **note;                   /* per run: what its figures cover beyond the command */
	unsigned char *cut;            /* per run: a forwarded signal stopped it */
	size_t n;
	unsigned serial;
	int header;
};

static void runs_free(struct runs *r)
{
	for (size_t i = 0; i < r->n; i++)
		jst_measurement_free(r->m[i]);
	for (size_t i = 0; r->attr && i < r->n; i++)
		free(r->attr[i]);
	for (size_t i = 0; r->note && i < r->n; i++)
		free(r->note[i]);
	free(r->attr);
	free(r->note);
	free(r->cut);
	free(r->m);
	free(r->status);
}

static void stop_intervals(struct jst_interval *iv)
{
	int rc = iv ? jst_interval_stop(iv) : 0;
	if (rc)
		jst_cli_error("--interval: %s", jst_strerror(rc));
}

/* One run of the command in its own window. The command's exit status, or a
 * start failure's (126, 127), or -1 when joulestat could not measure it. */
static int run_once(jst_meter *meter, const struct run_opts *o, struct outputs *out, struct runs *r)
{
	char name[32];
	size_t k = r->n + 1;
	snprintf(name, sizeof name, "run-%zu", k);
	jst_window *w;
	int rc = jst_window_begin(meter, name, &w);
	if (rc) {
		jst_cli_error("cannot begin a measurement: %s", jst_strerror(rc));
		return -1;
	}
	struct jst_interval *iv = NULL;
	if (o->interval_ms) {
		/* Only the files want every interval; the table has its rows already. */
		struct jst_interval_writer writer = {put_interval, out};
		out->run = k;
		rc = jst_interval_start(
		    meter, o->interval_ms, out->table, k, &r->header, &r->serial,
		    out->json.f || out->csv.f || out->rr->history ? &writer : NULL, &iv);
		if (rc)
			jst_cli_error("--interval: %s", jst_strerror(rc));
	}
	struct jst_attrib *attrib = NULL;
	struct jst_cli_busy busy;
	jst_cli_busy_begin(&busy, &o->common, meter);
	if (jst_cli_attrib_wanted(&o->attrib) &&
	    jst_cli_attrib_start(&o->attrib, &o->common, meter, &attrib)) {
		stop_intervals(iv);
		jst_window_cancel(w);
		return -1;
	}
	pid_t pid;
	rc = jst_command_start(o->command, &pid);
	if (rc) {
		atomic_store(&out->drop, 1);
		stop_intervals(iv);
		atomic_store(&out->drop, 0);
		if (attrib) {
			struct jst_attribution *a = NULL;
			jst_attrib_stop(attrib, &a);
			free(a);
		}
		jst_window_cancel(w);
		return jst_command_failure_status(rc);
	}
	if (attrib)
		jst_attrib_set_command(attrib, pid);
	struct jst_attribution *attribution = NULL;
	if (attrib) {
		/* The last reading while the command is a zombie, not yet reaped:
		 * its own and its reaped children's times are still in procfs. */
		siginfo_t si;
		while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
			;
		int arc = jst_attrib_stop(attrib, &attribution);
		if (arc)
			jst_cli_warn("attribution: %s: its figures may be short",
			             jst_strerror(arc));
	}
	int status = jst_command_wait(pid);
	/* A signal passed on while the command ran: its figure is not the
	 * command's (one after it ended, during the settled end, cuts nothing). */
	int cut = jst_forward_received() != 0;
	double own = jst_cli_busy_end(&busy);
	char note[256] = "";
	if (own >= 0 && own < 0.9)
		snprintf(note, sizeof note,
		         "the estimate covers every process: the command used %.0f%% of the CPU "
		         "time spent while it ran; --attribute gives its share",
		         own * 100);
	jst_measurement *m = NULL;
	/* Settled: the command has ended, its figure is worth a refresh's wait
	 * for the slow counters' next values (RAPL and power readings do not
	 * wait). Not with -I: its rows rotate at once and stop after the run's
	 * end, so that they cover the run whole; a settled end would leave the
	 * last row running through the wait, counting energy after the command
	 * that the run does not. */
	rc = o->no_settle || iv ? jst_window_end(w, &m) : jst_window_end_settled(w, 0, &m);
	stop_intervals(iv);
	if (rc) {
		free(attribution);
		jst_cli_error("cannot end the measurement: %s", jst_strerror(rc));
		return -1;
	}
	r->attr[r->n] = attribution;
	r->note[r->n] = *note ? strdup(note) : NULL;
	r->cut[r->n] = (unsigned char)cut;
	r->m[r->n] = m;
	r->status[r->n++] = status;
	return status;
}

/* *meterp is closed, and set NULL, once the runs are over and what the
 * outputs take from it is taken. */
static int measure(jst_meter **meterp, const struct run_opts *o, struct outputs *out)
{
	jst_meter *meter = *meterp;
	struct runs r = {.serial = 1};
	r.m = calloc(o->repeat, sizeof *r.m); // NOLINT(bugprone-sizeof-expression)
	r.status = calloc(o->repeat, sizeof *r.status);
	r.attr = calloc(o->repeat, sizeof *r.attr); // NOLINT(bugprone-sizeof-expression)
	r.note = calloc(o->repeat, sizeof *r.note); // NOLINT(bugprone-sizeof-expression)
	r.cut = calloc(o->repeat, sizeof *r.cut);
	if (!r.m || !r.status || !r.attr || !r.note || !r.cut) {
		runs_free(&r);
		jst_cli_error("out of memory");
		return JST_EXIT_RUN_FAIL;
	}
	int exit_status = 0, last = 0;
	jst_run_record_begin(out->rr);
	for (unsigned i = 0; i < o->repeat; i++) {
		last = run_once(meter, o, out, &r);
		if (last < 0)
			break;
		/* The first failure is the one to report, a later run that could not
		 * start (126, 127) included; a run not started because a signal came
		 * is no failure of the command. */
		if (last && !exit_status && (r.n > i || !jst_forward_received()))
			exit_status = last;
		if (r.n == i || jst_forward_received())
			break; /* not measured, or interrupted: report what was measured */
	}
	if (jst_forward_received() && r.n)
		jst_cli_error("got %s while the command ran: passed it on; the measurement "
		              "covers up to its end",
		              jst_forward_signal_name(jst_forward_received()));
	if (r.n == 0) {
		outputs_discard(out);
		runs_free(&r);
		return last < 0 ? JST_EXIT_RUN_FAIL : last;
	}
	struct jst_report rep = {
	    .command = o->command,
	    .exit_status = exit_status,
	    .runs = r.m,
	    .run_status = r.status,
	    .nruns = r.n,
	    .attribution = jst_cli_attrib_wanted(&o->attrib) ? r.attr : NULL,
	    .run_note = (const char *const *)r.note,
	    .run_cut = r.cut,
	};
	json_t *extra = jst_run_record_extra(out->rr, meter, &rep);
	rep.extra = extra;
	/* The measurements outlive the meter. Its sampler, still polling fast
	 * in the meter's first second, would otherwise go on while the outputs
	 * and the history are written: CPU for nothing, and a second thread to
	 * interrupt each time the record maps or unmaps memory. */
	jst_meter_close(meter);
	*meterp = NULL;
	jst_run_record_history(out->rr, &rep, extra);
	if (outputs_write(out, &rep) || last < 0)
		exit_status = JST_EXIT_RUN_FAIL;
	json_decref(extra);
	runs_free(&r);
	return exit_status;
}

/* identity.options: the settings this command line gave, by name. */
static json_t *options_json(const struct run_opts *o, const struct jst_run_record *rr)
{
	json_t *j = json_object();
	char buf[64];
	const struct jst_cli_common *c = &o->common;
	if (c->backends)
		json_object_set_new(j, "backends", jst_json_string(c->backends));
	if (c->gpus)
		json_object_set_new(j, "gpus", jst_json_string(c->gpus));
#define NUMBER(key, fmt, v)                                                                        \
	do {                                                                                       \
		snprintf(buf, sizeof buf, fmt, v);                                                 \
		json_object_set_new(j, key, json_string(buf));                                     \
	} while (0)
	if (c->period_ms)
		NUMBER("period_ms", "%u", c->period_ms);
	if (c->cross_validate)
		json_object_set_new(j, "cross_validate", json_string("1"));
	if (c->no_estimate)
		json_object_set_new(j, "estimate", json_string("0"));
	for (size_t i = 0; i < c->noptions; i++) {
		const char *eq = strchr(c->options[i], '=');
		char key[128];
		snprintf(key, sizeof key, "%.*s", (int)(eq - c->options[i]), c->options[i]);
		json_object_set_new(j, key, jst_json_string(eq + 1));
	}
	NUMBER("repeat", "%u", o->repeat);
	if (o->interval_ms)
		NUMBER("interval_ms", "%u", o->interval_ms);
	if (o->series)
		json_object_set_new(j, "series", json_string("1"));
	json_object_set_new(j, "history", json_string(o->no_history ? "0" : "1"));
	if (rr->carbon.set) {
		if (rr->carbon.region[0])
			json_object_set_new(j, "region", jst_json_string(rr->carbon.region));
		NUMBER("carbon_intensity", "%g", rr->carbon.intensity);
		NUMBER("pue", "%g", rr->carbon.pue);
		if (isfinite(rr->carbon.price))
			NUMBER("price", "%g", rr->carbon.price);
	}
#undef NUMBER
	return j;
}

/* --series keeps the whole invocation's readings: more than the default
 * ring of samples, unless the options say how many. */
static void series_capacity(struct run_opts *o)
{
	static char opt[64];
	const char *env = getenv("JOULESTAT_OPTIONS");
	if (!o->series || (env && strstr(env, "series_capacity")))
		return;
	for (size_t i = 0; i < o->common.noptions; i++)
		if (!strncmp(o->common.options[i], "series_capacity=", 16))
			return;
	if (o->common.noptions == JST_CLI_OPTIONS_MAX)
		return;
	snprintf(opt, sizeof opt, "series_capacity=%u", (unsigned)JST_SERIES_CAPACITY);
	/* First, so that a --option of the user's would still win. */
	memmove(&o->common.options[1], &o->common.options[0],
	        o->common.noptions * sizeof o->common.options[0]);
	o->common.options[0] = opt;
	o->common.noptions++;
}

int jst_cmd_run(int argc, char **argv)
{
	struct run_opts o = {.repeat = 1, .carbon = {.intensity = NAN, .pue = NAN, .price = NAN}};
	int rc = parse(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct jst_run_record rr = {.series = o.series, .history = !o.no_history};
	if (jst_carbon_resolve("run", &o.carbon, &rr.carbon))
		return JST_EXIT_USAGE;
	rr.options = options_json(&o, &rr);
	series_capacity(&o);

	jst_meter *meter = NULL;
	if ((rc = jst_cli_meter_open_measuring("run", &o.common, &meter)) == 0)
		jst_cli_warn_sensors(meter, o.interval_ms);
	if (rc) {
		jst_run_record_end(&rr);
		return rc == JST_EXIT_USAGE ? rc : JST_EXIT_RUN_FAIL;
	}
	struct outputs out;
	if (outputs_open(&o, &out)) {
		jst_meter_close(meter);
		jst_run_record_end(&rr);
		return JST_EXIT_RUN_FAIL;
	}
	out.rr = &rr;
	rc = measure(&meter, &o, &out);
	if (meter)
		jst_meter_close(meter);
	jst_run_record_end(&rr);
	return rc;
}
