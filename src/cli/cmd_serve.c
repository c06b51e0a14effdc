/* joulestat serve: a Prometheus exporter. The meter's sampler reads the
 * devices at its own period; each scrape of /metrics formats the sampler's
 * latest samples (live.c), so scrapes never read a device and cost the same
 * however often they come. */
#include "cli.h"
#include "live.h"
#include "serve_http.h"
#include "webconfig.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define JST_SERVE_DEFAULT_LISTEN "127.0.0.1:9977"

struct serve_opts {
	struct jst_cli_common common;
	const char *listen;
	const char *web_config;
};

static int parse(int argc, char **argv, struct serve_opts *o)
{
	enum { OPT_LISTEN = JST_OPT_FIRST_OWN, OPT_WEB_CONFIG };
	static const struct option opts[] = {
	    JST_CLI_COMMON_OPTIONS,
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"web-config", required_argument, NULL, OPT_WEB_CONFIG},
	    {"web.config.file", required_argument, NULL, OPT_WEB_CONFIG},
	    {0},
	};
	int opt;
	while ((opt = jst_cli_getopt("serve", argc, argv, "h", opts)) != -1) {
		int r = jst_cli_common_option("serve", opt, optarg, &o->common);
		if (r < 0)
			return JST_EXIT_USAGE;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_WEB_CONFIG:
			if (jst_cli_parse_path("serve", "--web-config", optarg, &o->web_config))
				return JST_EXIT_USAGE;
			break;
		case 'h':
		case JST_OPT_HELP:
			jst_cli_help(stdout, "serve");
			return -1;
		default:
			return JST_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return jst_cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
	return 0;
}

int jst_cmd_serve(int argc, char **argv)
{
	struct serve_opts o = {.listen = JST_SERVE_DEFAULT_LISTEN};
	int rc = parse(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	char host[256], msg[512];
	unsigned port;
	if (jst_http_parse_listen(o.listen, host, sizeof host, &port, msg, sizeof msg))
		return jst_cli_usage_error("serve", "%s", msg);
	struct jst_webconfig wc = {0};
	if (o.web_config && jst_webconfig_load(o.web_config, &wc)) {
		jst_cli_error("serve: --web-config %s", wc.error);
		return JST_EXIT_USAGE;
	}
	/* What can be checked before the meter opens (which takes a second or
	 * two while counters' refreshes are measured) is checked first. */
	if (jst_http_check_tls(&wc, msg, sizeof msg)) {
		jst_cli_error("serve: --web-config %s: %s", o.web_config, msg);
		jst_webconfig_free(&wc);
		return JST_EXIT_USAGE;
	}
	rc = jst_http_check(host, port, msg, sizeof msg);
	if (rc) {
		jst_cli_error("serve: %s", msg);
		jst_webconfig_free(&wc);
		return rc == -EADDRINUSE ? JST_EXIT_FAIL : JST_EXIT_USAGE;
	}

	/* The signals that stop the server are taken by this thread alone, in
	 * sigwait: the sampler and the server's thread start with them blocked. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	jst_meter *m = NULL;
	struct jst_live *live = NULL;
	struct jst_http *http = NULL;
	jst_cli_live_options(&o.common);
	rc = jst_cli_meter_open("serve", &o.common, &m);
	if (rc)
		goto out;
	if (jst_meter_domain_count(m) == 0) {
		/* Served all the same: joulestat_up says 0 for each backend, which
		 * is what a monitoring system should see on such a node. */
		jst_cli_warn("serve: no energy domain is available here; serving joulestat_up "
		             "only:");
		jst_cli_explain_no_domain(stderr, m);
	}
	if (jst_live_open(m, &live)) {
		jst_cli_error("serve: out of memory");
		rc = JST_EXIT_FAIL;
		goto out;
	}
	if (jst_http_start(host, port, o.web_config ? &wc : NULL, live, &http, msg, sizeof msg)) {
		jst_cli_error("serve: %s", msg);
		rc = JST_EXIT_FAIL;
		goto out;
	}
	int v6 = strchr(host, ':') != NULL;
	fprintf(stderr, "joulestat: serving %zu domains on %s://%s%s%s:%u/metrics\n",
	        jst_meter_domain_count(m), wc.cert_file ? "https" : "http", v6 ? "[" : "",
	        *host ? host : "0.0.0.0", v6 ? "]" : "", jst_http_port(http));
	fflush(stderr);
	int sig = 0;
	sigwait(&stop, &sig);
	rc = 0;
out:
	jst_http_stop(http);
	jst_live_close(live);
	if (m)
		jst_meter_close(m);
	jst_webconfig_free(&wc);
	return rc;
}
