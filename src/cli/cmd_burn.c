/* joulestat burn: a known CPU load to measure (make demo, validate). */
#include "burn.h"
#include "cli.h"

#include <string.h>

int jst_cmd_burn(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"seconds", required_argument, NULL, 's'},
	    {"threads", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	double seconds = 2;
	unsigned threads = 0;
	int opt;
	while ((opt = jst_cli_getopt("burn", argc, argv, "s:t:h", opts)) != -1) {
		switch (opt) {
		case 's':
			if (jst_cli_parse_seconds("burn", "--seconds", optarg, &seconds))
				return JST_EXIT_USAGE;
			break;
		case 't':
			if (jst_cli_parse_uint("burn", "--threads", optarg, 1, 4096, &threads))
				return JST_EXIT_USAGE;
			break;
		case 'h':
			jst_cli_help(stdout, "burn");
			return 0;
		default:
			return JST_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return jst_cli_usage_error("burn", "unexpected argument '%s'", argv[optind]);
	int rc = jst_burn(seconds, threads, NULL);
	if (rc) {
		jst_cli_error("burn: cannot start its threads: %s", strerror(-rc));
		return JST_EXIT_FAIL;
	}
	return 0;
}
