/* joulestat list: every backend with its status, every domain with its method. */
#include "cli.h"
#include "identity.h"
#include "sinks.h"
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Enough for any backend reason (the library keeps 1 KiB of one). */
#define JST_CLI_REASON_MAX 1024

static int parse(int argc, char **argv, struct jst_cli_common *c, int *json)
{
	enum { OPT_JSON = JST_OPT_FIRST_OWN };
	static const struct option opts[] = {
	    JST_CLI_COMMON_OPTIONS,
	    {"json", no_argument, NULL, OPT_JSON},
	    {0},
	};
	int opt;
	while ((opt = jst_cli_getopt("list", argc, argv, "h", opts)) != -1) {
		int r = jst_cli_common_option("list", opt, optarg, c);
		if (r < 0)
			return JST_EXIT_USAGE;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_JSON:
			*json = 1;
			break;
		case 'h':
		case JST_OPT_HELP:
			jst_cli_help(stdout, "list");
			return -1;
		default:
			return JST_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return jst_cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
	return 0;
}

static const char *parent_name(jst_meter *meter, int parent, char *buf, size_t len)
{
	jst_domain_info p = {.size = sizeof p};
	if (parent < 0 || jst_meter_domain(meter, (size_t)parent, &p))
		return NULL;
	snprintf(buf, len, "%s", p.name);
	return buf;
}

/* The width to wrap at: the terminal's, or 100 columns when not a terminal. */
static size_t line_width(FILE *f)
{
	struct winsize ws;
	if (isatty(fileno(f)) && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col < 40 ? 40 : ws.ws_col;
	return 100;
}

/* Columns a word takes: UTF-8 continuation bytes take none. */
static size_t columns(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Print text (escaped for the terminal) from column col on, wrapped at spaces
 * to width; each further line starts at column indent. A word longer than a
 * line (a path) stays whole on its own line, for people to copy or grep. */
static void put_wrapped(FILE *f, const char *text, size_t col, size_t indent, size_t width)
{
	char *esc = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&esc, &len);
	if (!m) {
		fprintf(f, "%s\n", text);
		return;
	}
	jst_sink_text_escaped(m, text);
	fclose(m);
	int first = 1;
	for (const char *p = esc; *p;) {
		size_t gap = strspn(p, " ");
		p += gap;
		size_t n = strcspn(p, " ");
		if (!n)
			break;
		size_t w = columns(p, n);
		if (!first && col + gap + w > width) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else if (!first) {
			fprintf(f, "%*s", (int)gap, "");
			col += gap;
		}
		fwrite(p, 1, n, f);
		col += w;
		first = 0;
		p += n;
	}
	fputc('\n', f);
	free(esc);
}

static void list_text(FILE *f, jst_meter *meter)
{
	size_t line = line_width(f);
	size_t width = 0;
	for (size_t i = 0; i < jst_meter_backend_count(meter); i++) {
		jst_backend_info b = {.size = sizeof b};
		if (!jst_meter_backend(meter, i, &b) && strlen(b.name) > width)
			width = strlen(b.name);
	}
	fputs("backends (most accurate first):\n", f);
	for (size_t i = 0; i < jst_meter_backend_count(meter); i++) {
		jst_backend_info b = {.size = sizeof b};
		if (jst_meter_backend(meter, i, &b))
			continue;
		/* Wrapped to the line, under the text's first column: a reason runs
		 * to hundreds of characters (what to do, and where it is documented). */
		char text[JST_CLI_REASON_MAX + 256];
		if (!b.available)
			snprintf(text, sizeof text, "unavailable: %s", b.reason);
		else
			snprintf(text, sizeof text, "available  ± %.0f%%  %s%s%s%s",
			         100 * b.accuracy, b.description, b.reason[0] ? " (" : "", b.reason,
			         b.reason[0] ? ")" : "");
		fprintf(f, "  %-*s  ", (int)width, b.name);
		put_wrapped(f, text, width + 4, width + 4, line);
	}

	struct jst_table *t;
	size_t n = jst_meter_domain_count(meter);
	if (n == 0) {
		fputs("\nno energy domain is available: the reasons are above.\n", f);
		return;
	}
	t = jst_table_new("llllrlllrrl");
	fputs("\ndomains:\n", f);
	const char *head[] = {"name",    "kind",   "backend", "method",  "accuracy", "device",
	                      "primary", "parent", "period",  "refresh", "note"};
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		jst_table_cell(t, "%s", head[i]);
	jst_table_end_row(t);
	int estimates = 0;
	for (size_t i = 0; i < n; i++) {
		jst_domain_info d = {.size = sizeof d};
		char pbuf[64];
		if (jst_meter_domain(meter, i, &d))
			continue;
		const char *parent = parent_name(meter, d.parent, pbuf, sizeof pbuf);
		jst_table_cell(t, "%s", d.name);
		jst_table_cell(t, "%s", jst_kind_name(d.kind));
		jst_table_cell(t, "%s", d.backend);
		jst_table_cell(t, "%s (%s)%s", jst_method_name(d.method), d.source,
		               d.method == JST_METHOD_ESTIMATE ? " [estimate]" : "");
		jst_table_cell(t, "± %.0f%%", 100 * d.accuracy);
		jst_table_cell(t, "%s", d.device);
		jst_table_cell(t, "%s", d.primary ? "yes" : "no");
		jst_table_cell(t, "%s", parent ? parent : "-");
		jst_table_cell(t, "%.3f s", d.sample_period_s);
		if (d.refresh_source == JST_REFRESH_UNKNOWN)
			jst_table_cell(t, "measuring");
		else
			jst_table_cell(t, "%.3g ms%s", d.refresh_s * 1e3,
			               d.refresh_source == JST_REFRESH_MEASURED ? " (measured)"
			                                                        : "");
		jst_table_cell(t, "%s", d.note);
		jst_table_end_row(t);
		estimates |= d.method == JST_METHOD_ESTIMATE;
	}
	jst_table_print(t, f, "  ");
	jst_table_free(t);
	if (estimates)
		fputs(
		    "\n[estimate]: modelled, not measured: nothing better measures the device here "
		    "(see the backends above).\n",
		    f);
}

static json_t *list_json(jst_meter *meter)
{
	json_t *doc = json_object(), *backends = json_array(), *domains = json_array();
	for (size_t i = 0; i < jst_meter_backend_count(meter); i++) {
		jst_backend_info b = {.size = sizeof b};
		if (jst_meter_backend(meter, i, &b))
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "name", jst_json_string(b.name));
		json_object_set_new(o, "description", jst_json_string(b.description));
		json_object_set_new(o, "accuracy", jst_json_number(b.accuracy));
		json_object_set_new(o, "available", json_boolean(b.available));
		json_object_set_new(o, "reason", jst_json_string(b.reason));
		json_array_append_new(backends, o);
	}
	for (size_t i = 0; i < jst_meter_domain_count(meter); i++) {
		jst_domain_info d = {.size = sizeof d};
		char pbuf[64];
		if (jst_meter_domain(meter, i, &d))
			continue;
		const char *parent = parent_name(meter, d.parent, pbuf, sizeof pbuf);
		json_t *o = json_object();
		json_object_set_new(o, "name", jst_json_string(d.name));
		json_object_set_new(o, "kind", jst_json_string(jst_kind_name(d.kind)));
		json_object_set_new(o, "device", jst_json_string(d.device));
		json_object_set_new(o, "backend", jst_json_string(d.backend));
		json_object_set_new(o, "method", jst_json_string(jst_method_name(d.method)));
		json_object_set_new(o, "source", jst_json_string(d.source));
		json_object_set_new(o, "accuracy", jst_json_number(d.accuracy));
		json_object_set_new(o, "primary", json_boolean(d.primary));
		json_object_set_new(o, "counted", json_boolean(d.counted));
		json_object_set_new(o, "parent", parent ? jst_json_string(parent) : json_null());
		json_object_set_new(o, "sample_period_s", jst_json_number(d.sample_period_s));
		json_object_set_new(o, "refresh_s",
		                    d.refresh_source == JST_REFRESH_UNKNOWN
		                        ? json_null()
		                        : jst_json_number(d.refresh_s));
		json_object_set_new(o, "refresh_measured",
		                    json_boolean(d.refresh_source == JST_REFRESH_MEASURED));
		json_object_set_new(o, "resolution_j", jst_json_number(d.resolution_j));
		json_object_set_new(o, "max_power_w", jst_json_number(d.max_power_w));
		json_object_set_new(o, "note", jst_json_string(d.note));
		json_array_append_new(domains, o);
	}
	json_object_set_new(doc, "joulestat", jst_json_string(jst_version()));
	json_object_set_new(doc, "backends", backends);
	json_object_set_new(doc, "domains", domains);
	struct timespec now; /* identity.c: a listing is an instant */
	clock_gettime(CLOCK_REALTIME, &now);
	json_object_set_new(doc, "identity", jst_identity_json(meter, &now, &now, NULL));
	return doc;
}

int jst_cmd_list(int argc, char **argv)
{
	struct jst_cli_common c = {0};
	int json = 0;
	int rc = parse(argc, argv, &c, &json);
	if (rc)
		return rc < 0 ? 0 : rc;
	jst_meter *meter = NULL;
	if ((rc = jst_cli_meter_open("list", &c, &meter)))
		return rc;
	if (json) {
		json_t *doc = list_json(meter);
		rc = jst_sink_json_write(stdout, doc);
		json_decref(doc);
	} else {
		list_text(stdout, meter);
		rc = fflush(stdout) ? -errno : 0;
	}
	/* A reader that stopped reading (`| head`) wanted no more: no failure. */
	if (rc == -EPIPE)
		rc = 0;
	if (rc)
		jst_cli_error("cannot write the list: %s", strerror(-rc));
	jst_meter_close(meter);
	return rc ? JST_EXIT_FAIL : 0;
}
