/* joulestat validate: a workload measured by every method at once, each
 * method compared with the most accurate one of the same device. */
#include "burn.h"
#include "cli.h"
#include "command.h"
#include "forward.h"
#include "identity.h"
#include "validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct validate_opts {
	struct jst_cli_common common;
	double seconds;
	int seconds_set;
	unsigned threads;
	unsigned repeat;
	const char *json_path;
	char **command; /* NULL: the built-in burn */
};

static int parse(int argc, char **argv, struct validate_opts *o)
{
	enum { OPT_JSON = JST_OPT_FIRST_OWN, OPT_SECONDS, OPT_THREADS };
	static const struct option opts[] = {
	    JST_CLI_COMMON_OPTIONS,
	    {"json", required_argument, NULL, OPT_JSON},
	    {"seconds", required_argument, NULL, OPT_SECONDS},
	    {"threads", required_argument, NULL, OPT_THREADS},
	    {"repeat", required_argument, NULL, 'r'},
	    {0},
	};
	int opt;
	while ((opt = jst_cli_getopt("validate", argc, argv, "r:h", opts)) != -1) {
		int c = jst_cli_common_option("validate", opt, optarg, &o->common);
		if (c < 0)
			return JST_EXIT_USAGE;
		if (c > 0)
			continue;
		switch (opt) {
		case OPT_JSON:
			if (jst_cli_parse_path("validate", "--json", optarg, &o->json_path))
				return JST_EXIT_USAGE;
			break;
		case OPT_SECONDS:
			if (jst_cli_parse_seconds("validate", "--seconds", optarg, &o->seconds))
				return JST_EXIT_USAGE;
			o->seconds_set = 1;
			break;
		case OPT_THREADS:
			if (jst_cli_parse_uint("validate", "--threads", optarg, 1, 4096,
			                       &o->threads))
				return JST_EXIT_USAGE;
			break;
		case 'r':
			if (jst_cli_parse_uint("validate", "-r", optarg, 1, 10000, &o->repeat))
				return JST_EXIT_USAGE;
			break;
		case 'h':
		case JST_OPT_HELP:
			jst_cli_help(stdout, "validate");
			return -1;
		default:
			return JST_EXIT_USAGE;
		}
	}
	if (optind < argc)
		o->command = &argv[optind];
	if (o->command && (o->seconds_set || o->threads))
		return jst_cli_usage_error("validate",
		                           "--seconds and --threads are for the built-in "
		                           "burn, not with a command");
	return 0;
}

/* One measured run of the workload: 0, or the exit status to give up with. */
static int run_once(jst_meter *meter, const struct validate_opts *o, size_t k,
                    jst_measurement **out, int *status)
{
	char name[32];
	snprintf(name, sizeof name, "validate-%zu", k);
	jst_window *w;
	int rc = jst_window_begin(meter, name, &w);
	if (rc) {
		jst_cli_error("validate: cannot begin a measurement: %s", jst_strerror(rc));
		return JST_EXIT_FAIL;
	}
	*status = 0;
	if (o->command) {
		pid_t pid;
		rc = jst_command_start(o->command, &pid);
		if (rc) {
			jst_window_cancel(w);
			return jst_command_failure_status(rc);
		}
		*status = jst_command_wait(pid);
	} else if ((rc = jst_burn(o->seconds, o->threads, jst_forward_received))) {
		jst_window_cancel(w);
		jst_cli_error("validate: cannot start the burn: %s", strerror(-rc));
		return JST_EXIT_FAIL;
	}
	/* Settled: the workload has ended, its figure is worth a refresh's wait. */
	if ((rc = jst_window_end_settled(w, 0, out))) {
		jst_cli_error("validate: cannot end the measurement: %s", jst_strerror(rc));
		return JST_EXIT_FAIL;
	}
	return 0;
}

static void describe_workload(FILE *f, const struct validate_opts *o, json_t *doc)
{
	json_t *w = json_object();
	if (o->command) {
		json_t *cmd = json_array();
		fputs("joulestat validate: '", f);
		for (char **a = o->command; *a; a++) {
			if (a != o->command)
				fputc(' ', f);
			jst_sink_text_escaped(f, *a);
			json_array_append_new(cmd, jst_json_string(*a));
		}
		fputc('\'', f);
		json_object_set_new(w, "command", cmd);
	} else {
		unsigned threads = o->threads ? o->threads : jst_burn_default_threads();
		fprintf(f, "joulestat validate: built-in CPU burn, %.3g s on %u thread%s",
		        o->seconds, threads, threads == 1 ? "" : "s");
		json_object_set_new(w, "burn_seconds", jst_json_number(o->seconds));
		json_object_set_new(w, "burn_threads", json_integer(threads));
	}
	fprintf(f, ", %u run%s, every method of each device at once\n", o->repeat,
	        o->repeat == 1 ? "" : "s");
	json_object_set_new(doc, "workload", w);
}

/* The slowest refresh among the domains that are compared: those of a device
 * that more than one method measures. 0 when nothing is compared. */
static double compared_refresh(jst_meter *m, const char **name)
{
	double slowest = 0;
	size_t n = jst_meter_domain_count(m);
	for (size_t i = 0; i < n; i++) {
		jst_domain_info d = {.size = sizeof d}, e = {.size = sizeof e};
		if (jst_meter_domain(m, i, &d))
			continue;
		int compared = 0;
		for (size_t j = 0; j < n && !compared; j++)
			compared =
			    j != i && !jst_meter_domain(m, j, &e) && !strcmp(d.device, e.device);
		if (compared && d.refresh_s > slowest) {
			slowest = d.refresh_s;
			*name = d.name;
		}
	}
	return slowest;
}

/* Runs the workload and reports. The exit status: 0 when every method agrees,
 * 1 when one does not or the workload failed, 128 + N when forwarded signal N
 * stopped it (the report then covers the runs up to that one). */
static int validate(jst_meter *meter, const struct validate_opts *o, FILE *table,
                    struct jst_cli_output *json)
{
	jst_measurement **runs =
	    calloc(o->repeat, sizeof *runs); // NOLINT(bugprone-sizeof-expression)
	json_t *doc = json_object();
	size_t n = 0;
	int rc = 0, status = 0, first_bad = 0;
	if (!runs) {
		json_decref(doc);
		jst_cli_output_discard(json);
		jst_cli_error("out of memory");
		return JST_EXIT_FAIL;
	}
	json_object_set_new(doc, "joulestat", jst_json_string(jst_version()));
	struct timespec started; /* identity.start (identity.c) */
	clock_gettime(CLOCK_REALTIME, &started);
	describe_workload(table, o, doc);
	fflush(table);
	for (; n < o->repeat && !jst_forward_received(); n++) {
		if ((rc = run_once(meter, o, n + 1, &runs[n], &status)))
			break;
		first_bad = first_bad ? first_bad : status;
	}
	/* Taken once: the report and the exit status must tell the same story. */
	int sig = jst_forward_received();
	if (sig && n)
		jst_cli_error("validate: got %s: %s; the report covers %zu of %u run%s",
		              jst_forward_signal_name(sig),
		              o->command ? "passed it on" : "stopped the burn", n, o->repeat,
		              o->repeat == 1 ? "" : "s");
	/* Methods cannot be told apart over fewer than a few refreshes: that is
	 * no disagreement, and no agreement either. */
	const char *slow = NULL;
	double refresh = compared_refresh(meter, &slow);
	double shortest = INFINITY;
	for (size_t i = 0; i < n; i++)
		if (jst_measurement_duration(runs[i]) < shortest)
			shortest = jst_measurement_duration(runs[i]);
	int too_short = n && !sig && refresh > 0 && shortest < 3 * refresh;
	if (too_short) {
		jst_cli_error("validate: too short to compare: the workload ran %.1f ms, under 3 "
		              "refreshes of %s's sensor (%.0f ms); give it longer (--seconds, or a "
		              "longer command)",
		              shortest * 1e3, slow, refresh * 1e3);
		json_object_set_new(doc, "verdict", jst_json_string("too short to compare"));
	}
	struct jst_validation v = {0};
	if (n && jst_validation_compute(runs, n, &v) == 0) {
		if (first_bad)
			jst_cli_error("validate: the workload exited with status %d", first_bad);
		jst_validation_print(table, &v);
		if (json->f) {
			json_t *ms = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(ms, jst_sink_json_measurement(runs[i]));
			if (o->command)
				json_object_set_new(doc, "exit_status", json_integer(first_bad));
			json_object_set_new(doc, "signal", sig ? json_integer(sig) : json_null());
			json_object_set_new(doc, "runs", ms);
			jst_validation_json(doc, &v);
			struct timespec ended;
			clock_gettime(CLOCK_REALTIME, &ended);
			json_object_set_new(doc, "identity",
			                    jst_identity_json(meter, &started, &ended, NULL));
			if (jst_cli_output_finish(json, jst_sink_json_write(json->f, doc)))
				rc = rc ? rc : JST_EXIT_FAIL;
		}
		rc = rc                ? rc
		     : first_bad       ? JST_EXIT_FAIL
		     : too_short       ? JST_EXIT_TOO_SHORT
		     : v.disagreements ? JST_EXIT_FAIL
		                       : 0;
		jst_validation_free(&v);
	} else if (n) {
		jst_cli_error("out of memory");
		rc = JST_EXIT_FAIL;
	}
	/* Nothing measured: the file named keeps what it had. */
	jst_cli_output_discard(json);
	for (size_t i = 0; i < n; i++)
		jst_measurement_free(runs[i]);
	free(runs);
	json_decref(doc);
	/* As a shell reports a job a signal stopped: the verdict is incomplete. */
	return sig ? 128 + sig : rc;
}

int jst_cmd_validate(int argc, char **argv)
{
	struct validate_opts o = {.seconds = 3, .repeat = 1};
	int rc = parse(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	o.common.cross_validate = 1; /* the point of validate: every method, same windows */

	jst_meter *meter = NULL;
	if ((rc = jst_cli_meter_open_measuring("validate", &o.common, &meter)))
		return rc;
	/* The report goes to stdout, unless the JSON does. */
	struct jst_cli_output json = {0};
	if (o.json_path && jst_cli_output_open(&json, o.json_path, 0)) {
		jst_meter_close(meter);
		return JST_EXIT_FAIL;
	}
	FILE *table = json.f == stdout ? stderr : stdout;
	rc = validate(meter, &o, table, &json);
	jst_meter_close(meter);
	return rc;
}
