/* joulestat report: a run's JSON (a file, or a run of the history by its id)
 * drawn as one self-contained HTML page or, for -o X.svg, the figure alone. */
#include "cli.h"
#include "report.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

enum format { FORMAT_AUTO, FORMAT_HTML, FORMAT_SVG };

struct args {
	const char *input;
	const char *output;
	enum format format;
};

static int parse(int argc, char **argv, struct args *a)
{
	enum { OPT_FORMAT = JST_OPT_FIRST_OWN };
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"help", no_argument, NULL, JST_OPT_HELP},
	    {0},
	};
	int opt;
	const char *pos[2] = {NULL, NULL};
	size_t npos = 0;
	for (;;) {
		/* Options go before or after the run (`report FILE -o X.html`); "--"
		 * ends them, for a file whose name starts with '-'. */
		opt = jst_cli_getopt("report", argc, argv, "o:h", opts);
		if (opt == -1) {
			if (optind >= argc)
				break;
			if (!strcmp(argv[optind - 1], "--")) {
				while (optind < argc && npos < 2)
					pos[npos++] = argv[optind++];
				npos += (size_t)(argc - optind);
				break;
			}
			if (npos < 2)
				pos[npos] = argv[optind];
			npos++;
			optind++;
			continue;
		}
		switch (opt) {
		case 'o':
			if (jst_cli_parse_path("report", "-o", optarg, &a->output))
				return JST_EXIT_USAGE;
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "html"))
				a->format = FORMAT_HTML;
			else if (!strcmp(optarg, "svg"))
				a->format = FORMAT_SVG;
			else {
				jst_cli_usage_error("report", "--format is html or svg, not '%s'",
				                    optarg);
				return JST_EXIT_USAGE;
			}
			break;
		case 'h':
		case JST_OPT_HELP:
			jst_cli_help(stdout, "report");
			return -1;
		default:
			return JST_EXIT_USAGE;
		}
	}
	if (!npos || !pos[0]) {
		jst_cli_usage_error("report", "give the run: a JSON file or a run id");
		return JST_EXIT_USAGE;
	}
	if (npos > 1) {
		jst_cli_usage_error("report", "one run at a time, not also '%s'", pos[1]);
		return JST_EXIT_USAGE;
	}
	a->input = pos[0];
	if (a->format == FORMAT_AUTO) {
		size_t n = strlen(a->output);
		a->format =
		    n >= 4 && !strcasecmp(a->output + n - 4, ".svg") ? FORMAT_SVG : FORMAT_HTML;
	}
	return 0;
}

/* A file when it is one (or "-", or looks like a path); else a run id. */
static int is_file(const char *input)
{
	struct stat st;
	size_t n = strlen(input);
	return !strcmp(input, "-") || stat(input, &st) == 0 || strchr(input, '/') ||
	       (n >= 5 && !strcasecmp(input + n - 5, ".json"));
}

int jst_cmd_report(int argc, char **argv)
{
	struct args a = {.output = "-"};
	int rc = parse(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;

	char err[512] = "";
	json_t *doc = NULL;
	rc = is_file(a.input) ? jst_report_load_file(a.input, &doc, err, sizeof err)
	                      : jst_cli_report_run(a.input, &doc, err, sizeof err);
	if (rc) {
		jst_cli_error("report: %s", err);
		return JST_EXIT_FAIL;
	}
	struct jst_report *r;
	rc = jst_report_parse(doc, &r, err, sizeof err);
	json_decref(doc);
	if (rc) {
		jst_cli_error("report: %s: %s", a.input, err);
		return JST_EXIT_FAIL;
	}

	/* Written to a temporary and renamed over the file once whole. */
	struct jst_cli_output out;
	if (jst_cli_output_open(&out, a.output, 0)) {
		jst_report_free(r);
		return JST_EXIT_FAIL;
	}
	rc = a.format == FORMAT_SVG ? jst_report_write_svg(r, out.f, 1)
	                            : jst_report_write_html(r, out.f);
	if (!rc && fflush(out.f))
		rc = -errno;
	jst_report_free(r);
	return jst_cli_output_finish(&out, rc) ? JST_EXIT_FAIL : 0;
}
