/* joulestat: the command-line front end over libjoulestat. */
#include "cli.h"
#include "forward.h"

#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	int meters; /* opens a meter, and gives up privileges once it has */
} commands[] = {
    {"list", jst_cmd_list, 1},
    {"run", jst_cmd_run, 1},
    {"validate", jst_cmd_validate, 1},
    {"burn", jst_cmd_burn, 0},
    {"report", jst_cmd_report, 0},
    /* the run history (cmd_history.c) */
    {"history", jst_cmd_history, 0},
    {"show", jst_cmd_show, 0},
    {"compare", jst_cmd_compare, 0},
    {"export", jst_cmd_export, 0},
    {"serve", jst_cmd_serve, 1},
    {"top", jst_cmd_top, 1},
};

static int help(int argc, char **argv)
{
	if (argc > 2)
		return jst_cli_usage_error(NULL, "help takes one command, not '%s'", argv[2]);
	if (jst_cli_help(stdout, argc < 2 ? NULL : argv[1]))
		return jst_cli_usage_error(NULL, "no help for '%s': it is not a command", argv[1]);
	return 0;
}

int main(int argc, char **argv)
{
	int rc;
	jst_forward_ignore_sigpipe();
	if (argc < 2) {
		jst_cli_help(stderr, NULL);
		return JST_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("joulestat %s (libjoulestat %s)\n", JST_VERSION, jst_version());
		return 0;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		return help(1, argv + 1);
	if (!strcmp(cmd, "help"))
		return help(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		/* A command that reads no counter needs no privilege at all. */
		if (!commands[i].meters && (rc = jst_cli_drop_privileges())) {
			jst_cli_error("cannot give up privileges: %s", strerror(-rc));
			return JST_EXIT_FAIL;
		}
		/* Each command parses its own argv, with its name as argv[0]. */
		return commands[i].fn(argc - 1, argv + 1);
	}
	if (cmd[0] == '-')
		return jst_cli_usage_error(NULL, "unknown option '%s' (options follow the command)",
		                           cmd);
	return jst_cli_usage_error(NULL, "unknown command '%s'", cmd);
}
