/* joulestat top: a live view of every domain in the terminal (ncurses),
 * refreshed from the meter's sampler at an interval: no device is read for
 * the view itself. Keys: q quits, p / e / n sort by power, energy or name. */
#include "cli.h"
#include "live.h"
#include "top_view.h"

#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct top_opts {
	struct jst_cli_common common;
	unsigned interval_ms;
	enum jst_top_sort sort;
	unsigned iterations; /* 0: until q */
};

static int parse(int argc, char **argv, struct top_opts *o)
{
	enum { OPT_SORT = JST_OPT_FIRST_OWN, OPT_ITERATIONS };
	static const struct option opts[] = {
	    JST_CLI_COMMON_OPTIONS,
	    {"interval", required_argument, NULL, 'I'},
	    {"sort", required_argument, NULL, OPT_SORT},
	    {"iterations", required_argument, NULL, 'n'},
	    {0},
	};
	int opt;
	while ((opt = jst_cli_getopt("top", argc, argv, "I:n:h", opts)) != -1) {
		int r = jst_cli_common_option("top", opt, optarg, &o->common);
		if (r < 0)
			return JST_EXIT_USAGE;
		if (r > 0)
			continue;
		switch (opt) {
		case 'I':
			if (jst_cli_parse_uint("top", "--interval", optarg, 50, 3600000,
			                       &o->interval_ms))
				return JST_EXIT_USAGE;
			break;
		case 'n':
			if (jst_cli_parse_uint("top", "--iterations", optarg, 1, 1000000000,
			                       &o->iterations))
				return JST_EXIT_USAGE;
			break;
		case OPT_SORT:
			if (!strcmp(optarg, "power"))
				o->sort = JST_TOP_BY_POWER;
			else if (!strcmp(optarg, "energy"))
				o->sort = JST_TOP_BY_ENERGY;
			else if (!strcmp(optarg, "name"))
				o->sort = JST_TOP_BY_NAME;
			else
				return jst_cli_usage_error(
				    "top", "--sort is power, energy or name, not '%s'", optarg);
			break;
		case 'h':
		case JST_OPT_HELP:
			jst_cli_help(stdout, "top");
			return -1;
		default:
			return JST_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return jst_cli_usage_error("top", "unexpected argument '%s'", argv[optind]);
	return 0;
}

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void draw(struct jst_live *live, const struct top_opts *o, enum jst_top_sort sort,
                 double since, size_t *order)
{
	const struct jst_prom_snapshot *s = jst_live_snapshot(live);
	char line[256];
	/* Every line cut to the terminal's width: one that wrapped would write
	 * over the next (a 40-column terminal over SSH). */
	int width = COLS > 1 ? COLS - 1 : 1;
	erase();
	snprintf(line, sizeof line,
	         "joulestat top  %.0f s  every %u ms  sorted by %s   q quit  p/e/n sort",
	         now_s() - since, o->interval_ms, jst_top_sort_name(sort));
	mvaddnstr(0, 0, line, width);
	attron(A_REVERSE);
	snprintf(line, sizeof line, "%-*s",
	         width < (int)sizeof line - 1 ? width : (int)sizeof line - 1, jst_top_header());
	mvaddnstr(2, 0, line, width);
	attroff(A_REVERSE);
	jst_top_order(s, sort, order);
	int row = 3;
	for (size_t k = 0; k < s->ndomains && row < LINES - 2; k++) {
		jst_top_line(&s->domains[order[k]], line, sizeof line);
		mvaddnstr(row++, 0, line, width);
	}
	jst_top_total(s, line, sizeof line);
	attron(A_BOLD);
	mvaddnstr(row + 1 < LINES ? row + 1 : LINES - 1, 0, line, width);
	attroff(A_BOLD);
	int down = 0;
	for (size_t b = 0; b < s->nbackends; b++)
		down += !s->backends[b].up;
	if (down) {
		char msg[256] = "not measuring:";
		for (size_t b = 0; b < s->nbackends; b++)
			if (!s->backends[b].up) {
				size_t n = strlen(msg);
				snprintf(msg + n, sizeof msg - n, " %s", s->backends[b].name);
			}
		mvaddnstr(1, 0, msg, width);
	}
	refresh();
}

int jst_cmd_top(int argc, char **argv)
{
	struct top_opts o = {.interval_ms = 1000, .sort = JST_TOP_BY_POWER};
	int rc = parse(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		jst_cli_error("top: needs a terminal (for figures in a pipe: joulestat run -I MS, "
		              "or joulestat serve)");
		return JST_EXIT_USAGE;
	}
	/* Energy is counted from the meter's opening: the clock shown starts there. */
	double since = now_s();
	jst_meter *m = NULL;
	jst_cli_live_options(&o.common);
	rc = jst_cli_meter_open("top", &o.common, &m);
	if (rc)
		return rc;
	struct jst_live *live = NULL;
	size_t *order = calloc(jst_meter_domain_count(m) + 1, sizeof *order);
	if (!order || jst_live_open(m, &live)) {
		jst_cli_error("top: out of memory");
		free(order);
		jst_meter_close(m);
		return JST_EXIT_FAIL;
	}
	struct sigaction sa = {.sa_handler = on_stop};
	/* Ctrl-C too: the terminal is given back (endwin) before exiting. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	setlocale(LC_ALL, "");
	initscr();
	cbreak();
	noecho();
	curs_set(0);
	keypad(stdscr, TRUE);
	enum jst_top_sort sort = o.sort;
	double next = now_s();
	unsigned shown = 0;
	while (!stop_signal) {
		double now = now_s();
		if (now >= next) {
			draw(live, &o, sort, since, order);
			shown++;
			next += o.interval_ms * 1e-3;
			if (next < now)
				next = now + o.interval_ms * 1e-3;
			if (o.iterations && shown >= o.iterations)
				break;
		}
		/* Wait for a key until the next refresh; never a negative timeout,
		 * which would wait for a key for ever. */
		double wait_ms = (next - now_s()) * 1e3;
		timeout(wait_ms > 0 ? (int)wait_ms + 1 : 0);
		int ch = getch();
		if (ch == 'q' || ch == 'Q')
			break;
		enum jst_top_sort was = sort;
		if (ch == 'p' || ch == 'P')
			sort = JST_TOP_BY_POWER;
		else if (ch == 'e' || ch == 'E')
			sort = JST_TOP_BY_ENERGY;
		else if (ch == 'n' || ch == 'N')
			sort = JST_TOP_BY_NAME;
		if (sort != was || ch == KEY_RESIZE || ch == ' ')
			draw(live, &o, sort, since, order);
	}
	endwin();
	jst_live_close(live);
	free(order);
	jst_meter_close(m);
	return 0;
}
