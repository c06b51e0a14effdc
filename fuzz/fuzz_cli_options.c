/* Fuzz target: the CLI's option parsing (src/cli/options.c): the input, split
 * at NULs, is an argument vector run through jst_cli_getopt with `run`'s
 * options, each value through the parser that option uses (common options,
 * whole numbers, seconds), as the subcommands do. A value accepted must be in
 * its range. */
#include "cli.h"
#include "fuzz.h"

#include <math.h>

#define MAX_ARGS 32

enum { OPT_JSON = JST_OPT_FIRST_OWN, OPT_CSV, OPT_INTERVAL, OPT_SECONDS };

static void value(int opt, const char *arg, struct jst_cli_common *c)
{
	unsigned u = 0;
	double d = 0;
	int rc = jst_cli_common_option("run", opt, arg, c);
	if (rc > 0 && opt == JST_OPT_PERIOD && (c->period_ms < 1 || c->period_ms > 3600000))
		abort();
	if (rc != 0)
		return;
	switch (opt) {
	case 'r':
		if (!jst_cli_parse_uint("run", "-r", arg, 1, 100000, &u) && (u < 1 || u > 100000))
			abort();
		break;
	case 'I':
	case OPT_INTERVAL:
		if (!jst_cli_parse_uint("run", "--interval", arg, 1, 3600000, &u) &&
		    (u < 1 || u > 3600000))
			abort();
		break;
	case OPT_SECONDS:
		if (!jst_cli_parse_seconds("validate", "--seconds", arg, &d) &&
		    (!isfinite(d) || d <= 0 || d > 1e6))
			abort();
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct option opts[] = {
	    JST_CLI_COMMON_OPTIONS,
	    {"json", required_argument, NULL, OPT_JSON},
	    {"csv", required_argument, NULL, OPT_CSV},
	    {"repeat", required_argument, NULL, 'r'},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"seconds", required_argument, NULL, OPT_SECONDS},
	    {"output", required_argument, NULL, 'o'},
	    {"quiet", no_argument, NULL, 'q'},
	    {0},
	};
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	char *argv[MAX_ARGS + 2] = {"joulestat-run"};
	int argc = 1;
	for (size_t i = 0; i < size && argc <= MAX_ARGS; argc++) {
		argv[argc] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;

	FILE *saved = fuzz_quiet_begin();
	struct jst_cli_common c = {0};
	optind = 0; /* getopt starts afresh for every input */
	int opt;
	while ((opt = jst_cli_getopt("run", argc, argv, "r:o:qI:h", opts)) != -1) {
		if (opt == '?')
			continue;
		if (optarg)
			value(opt, optarg, &c);
	}
	if (optind < 0 || optind > argc)
		abort();
	/* The value parsers on their own, with the first argument whatever it is. */
	if (argc > 1) {
		value('r', argv[1], &c);
		value(OPT_SECONDS, argv[1], &c);
		value(JST_OPT_PERIOD, argv[1], &c);
	}
	fuzz_quiet_end(saved);
	free(buf);
	return 0;
}
