/* joulestat list: every backend with its status, every domain with its method. */
#include "cli.h"
#include "sinks.h"
#include "table.h"

#include <string.h>

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

static void list_text(FILE *f, jst_meter *meter)
{
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
		/* A reason stays on its backend's line, however long: people grep for it. */
		fprintf(f, "  %-*s  ", (int)width, b.name);
		if (!b.available)
			fprintf(f, "unavailable: %s\n", b.reason);
		else
			fprintf(f, "available  ± %.0f%%  %s%s%s%s\n", 100 * b.accuracy,
			        b.description, b.reason[0] ? " (" : "", b.reason,
			        b.reason[0] ? ")" : "");
	}

	struct jst_table *t;
	size_t n = jst_meter_domain_count(meter);
	if (n == 0) {
		fputs("\nno energy domain is available: the reasons are above.\n", f);
		return;
	}
	t = jst_table_new("llllrlllrl");
	fputs("\ndomains:\n", f);
	const char *head[] = {"name",   "kind",    "backend", "method", "accuracy",
	                      "device", "primary", "parent",  "period", "note"};
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
		json_object_set_new(o, "parent", parent ? jst_json_string(parent) : json_null());
		json_object_set_new(o, "sample_period_s", jst_json_number(d.sample_period_s));
		json_object_set_new(o, "note", jst_json_string(d.note));
		json_array_append_new(domains, o);
	}
	json_object_set_new(doc, "joulestat", jst_json_string(jst_version()));
	json_object_set_new(doc, "backends", backends);
	json_object_set_new(doc, "domains", domains);
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
		if (rc)
			jst_cli_error("cannot write the list: %s", strerror(-rc));
	} else {
		list_text(stdout, meter);
		rc = fflush(stdout) ? -1 : 0;
	}
	jst_meter_close(meter);
	return rc ? JST_EXIT_FAIL : 0;
}
