/* What the subcommands of the joulestat CLI share. */
#ifndef JST_CLI_H
#define JST_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <joulestat.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit statuses of joulestat itself (a measured command's own pass through). */
enum {
	JST_EXIT_FAIL = 1,  /* list/validate: could not do it (validate: or a method disagrees) */
	JST_EXIT_USAGE = 2, /* bad options */
	JST_EXIT_TOO_SHORT = 3,  /* validate: the workload was too short to compare methods */
	JST_EXIT_RUN_FAIL = 125, /* run: joulestat failed, so the command's status is unknown */
	JST_EXIT_NOEXEC = 126,   /* the command was found but could not be run */
	JST_EXIT_NOTFOUND = 127, /* the command was not found */
};

/* ---- options every measuring subcommand takes (list, run, validate) ----- */

#define JST_CLI_OPTIONS_MAX 32

struct jst_cli_common {
	const char *backends;
	const char *gpus;
	unsigned period_ms;
	int cross_validate;
	int no_estimate;
	/* --option KEY=VALUE, in command-line order: applied after the named
	 * options above, so they win over them, and a later one wins. */
	const char *options[JST_CLI_OPTIONS_MAX];
	size_t noptions;
};

enum {
	JST_OPT_BACKENDS = 1000,
	JST_OPT_GPUS,
	JST_OPT_PERIOD,
	JST_OPT_CROSS_VALIDATE,
	JST_OPT_NO_ESTIMATE,
	JST_OPT_OPTION,
	JST_OPT_HELP,
	JST_OPT_FIRST_OWN, /* a subcommand's own long-only options start here */
};

#define JST_CLI_COMMON_OPTIONS                                                                     \
	{"backends", required_argument, NULL, JST_OPT_BACKENDS},                                   \
	    {"gpus", required_argument, NULL, JST_OPT_GPUS},                                       \
	    {"period", required_argument, NULL, JST_OPT_PERIOD},                                   \
	    {"cross-validate", no_argument, NULL, JST_OPT_CROSS_VALIDATE},                         \
	    {"no-estimate", no_argument, NULL, JST_OPT_NO_ESTIMATE},                               \
	    {"option", required_argument, NULL, JST_OPT_OPTION},                                   \
	{                                                                                          \
		"help", no_argument, NULL, JST_OPT_HELP                                            \
	}

/* Handle opt if it is a common option: 1 handled, 0 not common, or -1 when its
 * argument is bad (already reported). */
int jst_cli_common_option(const char *cmd, int opt, const char *arg, struct jst_cli_common *c);

/* One getopt_long step with joulestat's diagnostics: returns the option, -1 at
 * the end of options, or '?' after reporting an unknown option or a missing argument. */
int jst_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                   const struct option *longopts);

/* Report a usage error: "joulestat: CMD: message" and a hint. Returns JST_EXIT_USAGE. */
int jst_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Report an error: "joulestat: message". */
void jst_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict numbers: the whole text, in range. 0 or -1 (reported as a usage error). */
int jst_cli_parse_uint(const char *cmd, const char *opt, const char *arg, unsigned min,
                       unsigned max, unsigned *out);
int jst_cli_parse_seconds(const char *cmd, const char *opt, const char *arg, double *out);
/* A decimal number from min to max (12, 0.25, 1e3): none of the other forms
 * strtod takes (0x10, inf, nan, leading blanks), which would be read as a
 * figure no one meant. what names it in the message ("--pue", "FILE: pue"). */
int jst_cli_parse_number(const char *cmd, const char *what, const char *arg, double min, double max,
                         double *out);
/* Whether arg is all one decimal number: [+-]digits[.digits][e[+-]digits]. */
int jst_cli_is_decimal(const char *arg);
/* A file name given to opt: one that is "--" or starts with it is almost
 * surely an option, the file name forgotten (`--json -- CMD`), and refused;
 * "./--x" names such a file. 0, or -1 (reported as a usage error). */
int jst_cli_parse_path(const char *cmd, const char *opt, const char *arg, const char **out);

/* Open a meter as the common options say. 0, or the exit status to use after
 * a reported failure (usage for a wrong setting, named by the library). */
int jst_cli_meter_open(const char *cmd, const struct jst_cli_common *c, jst_meter **out);
/* The slowest refresh among the meter's domains of one method (-1: any), in s
 * (0 when none is known), and which domain has it. */
double jst_cli_slowest_refresh(jst_meter *m, int method, const char **name);
/* Warn where the options ask more than the sensors give: --interval below
 * three refreshes of a counter, --period slower than a power reading changes. */
void jst_cli_warn_sensors(jst_meter *m, unsigned interval_ms);
/* Report a warning: "joulestat: warning: message". */
void jst_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Say why nothing can measure: one line per backend with its reason. */
void jst_cli_explain_no_domain(FILE *f, jst_meter *meter);
/* For the subcommands that measure a workload (run, validate): install the
 * signal forwarding, open the meter with the forwarded signals blocked, and
 * make sure it has a domain (else explain why not). 0, JST_EXIT_USAGE, or
 * JST_EXIT_FAIL after a reported failure. */
int jst_cli_meter_open_measuring(const char *cmd, const struct jst_cli_common *c, jst_meter **out);

/* An output named on the command line: "-" is stdout. A regular file is
 * written to a temporary beside it (".NAME.XXXXXX") that the commit renames
 * over it, so that the file holds either its previous content or the whole
 * new one; pipes and devices are written in place. */
struct jst_cli_output {
	const char *path;
	FILE *f;      /* where to write; NULL when not open */
	char *tmp;    /* the temporary, or NULL when written in place */
	char *target; /* what the temporary replaces: path, or where its symlink leads */
};
/* Open it (zeroed first); 0, or -1 after reporting. live: rows are written as
 * they come (--interval) for a reader to follow, so the file is written in
 * place rather than replaced at the end. */
int jst_cli_output_open(struct jst_cli_output *o, const char *path, int live);
/* Finish it: close (never stdout) and put the temporary in place. 0, or -1
 * after reporting a write error (the file named then keeps what it had).
 * Nothing to do when it is not open. */
int jst_cli_output_commit(struct jst_cli_output *o);
/* Give it up: the file named keeps what it had. */
void jst_cli_output_discard(struct jst_cli_output *o);
/* Finish it after a sink wrote it: write_rc 0 commits it; a -errno is reported
 * and the output discarded. 0, or -1 after reporting. */
int jst_cli_output_finish(struct jst_cli_output *o, int write_rc);

/* Whether two output paths ("-" is stdout) would write the same file: the
 * same inode now (st_dev, st_ino, through any path or link), or the same name
 * in the same directory for files not yet there. Devices may be shared. */
int jst_cli_output_same(const char *a, const char *b);

/* ---- privileged installs (privilege.c) ------------------------------------- */

/* Whether the kernel started joulestat with more privilege than its user has
 * (setuid, setgid, file capabilities: AT_SECURE). */
int jst_cli_privileged(void);
/* Whether the environment variable NAME (its first len characters) is one of
 * joulestat's settings that this process reads: JOULESTAT_* and
 * CUDA_VISIBLE_DEVICES, less those a privileged process ignores. */
int jst_cli_env_applies(const char *name, size_t len);
/* In such a process, say which JOULESTAT_* overrides are set and ignored. */
void jst_cli_warn_ignored_overrides(void);
/* Become the user who ran joulestat, for good: real uid and gid, no
 * capability (root who ran it stays root). 0 or -errno. */
int jst_cli_drop_privileges(void);

/* ---- help ---------------------------------------------------------------- */

/* Print the help of a subcommand (NULL: the overview); -1 if there is no such command. */
int jst_cli_help(FILE *f, const char *cmd);

/* ---- commands ------------------------------------------------------------ */

int jst_cmd_list(int argc, char **argv);
int jst_cmd_run(int argc, char **argv);
int jst_cmd_burn(int argc, char **argv);
int jst_cmd_validate(int argc, char **argv);
/* Strip white space from both ends of s, in place (options.c). */
void jst_cli_trim(char *s);
int jst_cmd_report(int argc, char **argv);
/* The document of run id (a number) from the run history, for the report
 * (report_run.c). 0 and *doc (a new reference), or -errno with err. */
int jst_cli_report_run(const char *id, json_t **doc, char *err, size_t errlen);
/* The run history (cmd_history.c). */
int jst_cmd_history(int argc, char **argv);
int jst_cmd_show(int argc, char **argv);
int jst_cmd_compare(int argc, char **argv);
int jst_cmd_export(int argc, char **argv);
int jst_cmd_serve(int argc, char **argv); /* cmd_serve.c: the Prometheus exporter */
int jst_cmd_top(int argc, char **argv);   /* cmd_top.c: the live ncurses view */

#endif
