/* joulestat run's attribution options and settings (attribute.c). */
#ifndef JST_CLI_ATTRIBUTE_H
#define JST_CLI_ATTRIBUTE_H

#include "attrib.h"
#include "cli.h"

enum {
	JST_CLI_OPT_ATTRIBUTE = JST_OPT_FIRST_OWN + 100,
	JST_CLI_OPT_PID,
	JST_CLI_OPT_CGROUP,
};

#define JST_CLI_ATTRIB_OPTIONS                                                                     \
	{"attribute", no_argument, NULL, JST_CLI_OPT_ATTRIBUTE},                                   \
	    {"pid", required_argument, NULL, JST_CLI_OPT_PID},                                     \
	{                                                                                          \
		"cgroup", required_argument, NULL, JST_CLI_OPT_CGROUP                              \
	}

struct jst_cli_attrib {
	int command; /* --attribute: the command's process tree */
	pid_t pids[JST_ATTR_TARGETS_MAX];
	size_t npids;
	const char *cgroups[JST_ATTR_TARGETS_MAX];
	size_t ncgroups;
	const char *options[16]; /* --option attribute.*=... */
	size_t noptions;
};

/* 1 when opt is one of these (or --option attribute.*), 0 when not, -1 after
 * reporting a bad argument. */
int jst_cli_attrib_option(struct jst_cli_attrib *a, int opt, const char *arg);
int jst_cli_attrib_wanted(const struct jst_cli_attrib *a);
/* Start attributing; 0 or the exit status after a reported failure. */
int jst_cli_attrib_start(const struct jst_cli_attrib *a, const struct jst_cli_common *c,
                         jst_meter *meter, struct jst_attrib **out);

/* Whether the estimate's figure was mostly the command's: the share of the
 * machine's busy CPU time its children used over a run. */
struct jst_cli_busy {
	int estimate;
	const char *procfs;
	double busy0, own0;
	char buf[1024];
};
void jst_cli_busy_begin(struct jst_cli_busy *b, const struct jst_cli_common *c, jst_meter *m);
/* The command's share (0..1), or -1 when not known or no estimate is used. */
double jst_cli_busy_end(struct jst_cli_busy *b);

#endif
