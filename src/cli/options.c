/* Option parsing the subcommands share: diagnostics, strict numbers, common options. */
#include "cli.h"
#include "sinks.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A message quotes what it was given (options, paths, the command): it goes
 * out escaped, so that no control character in those reaches the terminal. */
static void message(const char *fmt, va_list ap)
{
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0) {
		fputs("(message lost: out of memory)", stderr);
		return;
	}
	jst_sink_text_escaped(stderr, text);
	free(text);
}

void jst_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("joulestat: ", stderr);
	message(fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void jst_cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("joulestat: warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int jst_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "joulestat: %s%s", cmd ? cmd : "", cmd ? ": " : "");
	message(fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "Try 'joulestat help %s' for more information.\n", cmd);
	else
		fputs("Try 'joulestat --help' for more information.\n", stderr);
	return JST_EXIT_USAGE;
}

int jst_cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                   const struct option *longopts)
{
	/* '+': options end at the command (`run sleep 1`); ':': report missing
	 * arguments ourselves, in one line with a hint. */
	char spec[64];
	snprintf(spec, sizeof spec, "+:%s", shortopts);
	opterr = 0;
	int opt = getopt_long(argc, argv, spec, longopts, NULL);
	if (opt != '?' && opt != ':')
		return opt;

	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	char name[64];
	if (strncmp(arg, "--", 2) == 0) {
		snprintf(name, sizeof name, "%s", arg);
		name[strcspn(name, "=")] = 0;
	} else if (optopt > 0 && optopt < 256) {
		snprintf(name, sizeof name, "-%c", optopt);
	} else {
		snprintf(name, sizeof name, "%s", arg);
	}
	if (opt == ':')
		jst_cli_usage_error(cmd, "option '%s' needs an argument", name);
	else if (optopt && strchr(arg, '=') && strncmp(arg, "--", 2) == 0)
		jst_cli_usage_error(cmd, "option '%s' takes no argument", name);
	else
		jst_cli_usage_error(cmd, "unknown option '%s'", name);
	return '?';
}

int jst_cli_parse_path(const char *cmd, const char *opt, const char *arg, const char **out)
{
	if (strncmp(arg, "--", 2) == 0) {
		jst_cli_usage_error(cmd,
		                    "%s wants a file name, not '%s' (was its file name left out? "
		                    "a file of that name is './%s')",
		                    opt, arg, arg);
		return -1;
	}
	*out = arg;
	return 0;
}

int jst_cli_parse_uint(const char *cmd, const char *opt, const char *arg, unsigned min,
                       unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || arg[0] == '-' || v < min || v > max) {
		jst_cli_usage_error(cmd, "%s wants a whole number from %u to %u, not '%s'", opt,
		                    min, max, arg);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int jst_cli_is_decimal(const char *arg)
{
	const char *p = arg + (*arg == '+' || *arg == '-');
	size_t whole = strspn(p, "0123456789"), frac = 0;
	p += whole;
	if (*p == '.') {
		frac = strspn(p + 1, "0123456789");
		p += 1 + frac;
	}
	if (!whole && !frac)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p += 1 + (p[1] == '+' || p[1] == '-');
		size_t exp = strspn(p, "0123456789");
		if (!exp)
			return 0;
		p += exp;
	}
	return *p == '\0';
}

int jst_cli_parse_number(const char *cmd, const char *what, const char *arg, double min, double max,
                         double *out)
{
	char *end;
	errno = 0;
	double v = jst_cli_is_decimal(arg) ? strtod(arg, &end) : NAN;
	if (!isfinite(v) || errno || v < min || v > max) {
		jst_cli_usage_error(cmd, "%s wants a decimal number from %g to %g, not '%s'", what,
		                    min, max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

int jst_cli_parse_seconds(const char *cmd, const char *opt, const char *arg, double *out)
{
	char *end;
	errno = 0;
	double v = jst_cli_is_decimal(arg) ? strtod(arg, &end) : NAN;
	if (!isfinite(v) || errno || v <= 0 || v > 1e6) {
		jst_cli_usage_error(cmd, "%s wants a number of seconds above 0, not '%s'", opt,
		                    arg);
		return -1;
	}
	*out = v;
	return 0;
}

int jst_cli_common_option(const char *cmd, int opt, const char *arg, struct jst_cli_common *c)
{
	switch (opt) {
	case JST_OPT_BACKENDS:
		if (!*arg) {
			jst_cli_usage_error(cmd, "--backends wants a list such as 'nvml,rapl'");
			return -1;
		}
		c->backends = arg;
		return 1;
	case JST_OPT_GPUS:
		c->gpus = arg;
		return 1;
	case JST_OPT_PERIOD:
		return jst_cli_parse_uint(cmd, "--period", arg, 1, 3600000, &c->period_ms) ? -1 : 1;
	case JST_OPT_CROSS_VALIDATE:
		c->cross_validate = 1;
		return 1;
	case JST_OPT_NO_ESTIMATE:
		c->no_estimate = 1;
		return 1;
	case JST_OPT_OPTION: {
		/* The key and value are the library's to check, when the meter opens. */
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg) {
			jst_cli_usage_error(cmd,
			                    "--option wants KEY=VALUE, such as "
			                    "nvml.library=/usr/lib/libnvidia-ml.so.1, not '%s'",
			                    arg);
			return -1;
		}
		if (c->noptions == JST_CLI_OPTIONS_MAX) {
			jst_cli_usage_error(cmd, "at most %d --option", JST_CLI_OPTIONS_MAX);
			return -1;
		}
		c->options[c->noptions++] = arg;
		return 1;
	}
	default:
		return 0;
	}
}

void jst_cli_trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	size_t lead = strspn(s, " \t");
	memmove(s, s + lead, n - lead + 1);
}
