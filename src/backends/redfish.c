/*
 * Redfish node meters: each Chassis's power (Power.PowerControl[0]
 * .PowerConsumedWatts, or EnvironmentMetrics.PowerWatts where the BMC has only
 * the newer schema) as a power domain of kind node that the core integrates,
 * and, with --cross-validate, the BMC's own energy counter
 * (EnvironmentMetrics.EnergykWh) beside it. HTTPS with libcurl, certificates
 * checked unless told otherwise, credentials from a private file; polled on a
 * thread of its own (bmc_poll.h). docs/backends/bmc.md
 */
#include "bmc_cred.h"
#include "bmc_lib.h"
#include "bmc_poll.h"
#include "redfish_json.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RF_ACC 0.05
#define RF_MAX_CHASSIS 16
/* Seconds each request of the discovery at open may take, at least. */
#define RF_DISCOVER_TIMEOUT_S 10.0
#define RF_BODY_MAX (1u << 20)
/* The counter's raw unit: one mWh. */
#define RF_UNIT_J 3.6

struct rf_body {
	char *p;
	size_t n, cap;
};

struct rf_chassis {
	struct jst_redfish_chassis c;
	int power_dom, energy_dom; /* indices among the domains, or -1 */
};

struct rf_state {
	const struct jst_curl *cu; /* libcurl, loaded at probe (bmc_lib.h) */
	CURL *curl;
	char base[512]; /* scheme://host[:port], no trailing '/' */
	char what[600]; /* "redfish https://host" for messages */
	char curl_err[CURL_ERROR_SIZE];
	struct rf_body body;
	/* Set once the poller runs, whose first fetch may already read it
	 * (rf_progress): atomic. */
	struct jst_bmc_poll *_Atomic poll;
	struct rf_chassis ch[RF_MAX_CHASSIS];
	size_t nch;
	struct jst_domain_desc desc[2 * RF_MAX_CHASSIS];
	size_t ndesc;
};

static size_t rf_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct rf_body *b = arg;
	size_t n = size * nmemb;
	if (b->n + n + 1 > RF_BODY_MAX)
		return 0; /* a reply this large is no Redfish document: abort */
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 8192;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = 0;
	return n;
}

/* A fetch in flight gives up as soon as the meter closes. */
static int rf_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	struct rf_state *s = arg;
	return s->poll && jst_bmc_poll_stopping(s->poll);
}

/* GET base + path into s->body. 0, or negative with err. */
static int rf_get(struct rf_state *s, const char *path, char *err, size_t len)
{
	char url[1024];
	snprintf(url, sizeof url, "%s%s", s->base, path);
	if (!s->body.p) {
		/* An empty reply is an empty string, never a NULL document. */
		if (!(s->body.p = malloc(8192))) {
			snprintf(err, len, "GET %s: out of memory", path);
			return -ENOMEM;
		}
		s->body.cap = 8192;
	}
	s->body.n = 0;
	s->body.p[0] = 0;
	s->curl_err[0] = 0;
	s->cu->easy_setopt(s->curl, CURLOPT_URL, url);
	CURLcode c = s->cu->easy_perform(s->curl);
	if (c != CURLE_OK) {
		snprintf(err, len, "GET %s: %s", path,
		         s->curl_err[0] ? s->curl_err : s->cu->easy_strerror(c));
		switch (c) {
		case CURLE_OPERATION_TIMEDOUT:
			return -ETIMEDOUT;
		case CURLE_COULDNT_CONNECT:
			return -ECONNREFUSED;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
			return -EPERM;
		case CURLE_WRITE_ERROR:
			return -EFBIG;
		default:
			return -EIO;
		}
	}
	long code = 0;
	s->cu->easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		snprintf(err, len, "GET %s: HTTP %ld%s", path, code,
		         code == 401 || code == 403 ? " (credentials refused)" : "");
		return code == 401 || code == 403 ? -EACCES : -EIO;
	}
	return 0;
}

static int rf_chassis_values(struct rf_state *s, struct rf_chassis *c, struct jst_bmc_value *v,
                             char *err, size_t len)
{
	double w = NAN, kwh = NAN;
	char perr[128] = "";
	int r;
	if (c->c.power[0]) {
		if ((r = rf_get(s, c->c.power, err, len)))
			return r;
		if ((r = jst_redfish_power_watts(s->body.p, s->body.n, &w, NULL, perr,
		                                 sizeof perr)) &&
		    r != -ENODATA) {
			snprintf(err, len, "%s: %s", c->c.power, perr);
			return r;
		}
	}
	if (c->c.env[0] && (isnan(w) || c->energy_dom >= 0)) {
		double ew;
		if ((r = rf_get(s, c->c.env, err, len)))
			return r;
		if ((r = jst_redfish_env_metrics(s->body.p, s->body.n, &ew, &kwh, perr,
		                                 sizeof perr)) &&
		    r != -ENODATA) {
			snprintf(err, len, "%s: %s", c->c.env, perr);
			return r;
		}
		if (isnan(w))
			w = ew;
	}
	if (c->power_dom >= 0) {
		if (isnan(w)) {
			snprintf(err, len, "%s: no power reading", c->c.self);
			return -ENODATA;
		}
		v[c->power_dom].power_w = w;
	}
	if (c->energy_dom >= 0) {
		if (isnan(kwh) || kwh * 1e6 >= 1.8e19) {
			snprintf(err, len, "%s: no EnergykWh reading", c->c.env);
			return -ENODATA;
		}
		v[c->energy_dom].counter = (uint64_t)llround(kwh * 1e6);
		v[c->energy_dom].have_counter = 1;
	}
	return 0;
}

static int rf_fetch(void *arg, struct jst_bmc_value *v, size_t n, char *err, size_t len)
{
	struct rf_state *s = arg;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct jst_bmc_value){.power_w = NAN};
	for (size_t i = 0; i < s->nch; i++) {
		int r = rf_chassis_values(s, &s->ch[i], v, err, len);
		if (r)
			return r;
	}
	return 0;
}

/* Parse a number option; 0 or -EINVAL with reason. */
static int rf_seconds(const struct jst_backend_ctx *ctx, const char *key, const char *dflt,
                      double lo, double hi, double *out, char *reason, size_t len)
{
	const char *v = jst_backend_option(ctx, key, dflt);
	char *end;
	double x = strtod(v, &end);
	if (end == v || *end || !(x >= lo && x <= hi)) {
		snprintf(reason, len, "%s=%s: want seconds from %g to %g", key, v, lo, hi);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int rf_truthy(const char *v)
{
	return !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on");
}

static int rf_falsy(const char *v)
{
	return !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off");
}

static void rf_close(void *state)
{
	struct rf_state *s = state;
	if (!s)
		return;
	jst_bmc_poll_stop(s->poll);
	if (s->curl)
		s->cu->easy_cleanup(s->curl);
	free(s->body.p);
	free(s);
}

/* scheme://host[:port] from the option, and the host alone for the device. */
static int rf_base(struct rf_state *s, const char *url, char *host, size_t hlen, int *https,
                   char *reason, size_t len)
{
	*https = !strncmp(url, "https://", 8);
	const char *h = *https ? url + 8 : !strncmp(url, "http://", 7) ? url + 7 : NULL;
	size_t hl = h ? strcspn(h, "/?#") : 0;
	if (!h || hl == 0 || (size_t)(h - url) + hl >= sizeof s->base || strchr(url, ' ')) {
		snprintf(reason, len, "redfish.url=%s: want https://HOST[:PORT] (the BMC)", url);
		return -EINVAL;
	}
	snprintf(s->base, sizeof s->base, "%.*s", (int)((size_t)(h - url) + hl), url);
	/* The host without its port (or an IPv6 literal's brackets). */
	const char *e = h[0] == '[' ? memchr(h, ']', hl) : memchr(h, ':', hl);
	size_t n = e ? (size_t)(e - h) + (h[0] == '[') : hl;
	snprintf(host, hlen, "%.*s", (int)n, h);
	for (char *p = host; *p; p++)
		if (*p == ':')
			*p = '.'; /* ':' separates a device identity's parts */
	return 0;
}

static int rf_setup_curl(struct rf_state *s, const struct jst_backend_ctx *ctx,
                         const struct jst_bmc_cred *cred, double timeout, char *reason, size_t len)
{
	if (!(s->curl = s->cu->easy_init())) {
		snprintf(reason, len, "libcurl failed to initialise");
		return -ENOMEM;
	}
	CURL *c = s->curl;
	long ms = (long)llround(timeout * 1e3);
	s->cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	s->cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
	s->cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
	s->cu->easy_setopt(c, CURLOPT_ERRORBUFFER, s->curl_err);
	s->cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, rf_write);
	s->cu->easy_setopt(c, CURLOPT_WRITEDATA, &s->body);
	s->cu->easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	s->cu->easy_setopt(c, CURLOPT_XFERINFOFUNCTION, rf_progress);
	s->cu->easy_setopt(c, CURLOPT_XFERINFODATA, s);
	s->cu->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	s->cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
#endif
	const char *insecure = jst_backend_option(ctx, "redfish.insecure", "0");
	if (rf_truthy(insecure)) {
		s->cu->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		s->cu->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (!rf_falsy(insecure)) {
		snprintf(reason, len, "redfish.insecure=%s: want 0 or 1", insecure);
		return -EINVAL;
	}
	const char *ca = jst_backend_option(ctx, "redfish.cafile", "");
	if (ca[0])
		s->cu->easy_setopt(c, CURLOPT_CAINFO, ca);
	if (cred->user[0]) {
		s->cu->easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		s->cu->easy_setopt(c, CURLOPT_USERNAME, cred->user);
		s->cu->easy_setopt(c, CURLOPT_PASSWORD, cred->password); /* curl keeps a copy */
	}
	return 0;
}

static void rf_describe(struct rf_state *s, struct rf_chassis *c, const char *host, int counter)
{
	struct jst_domain_desc d = {.parent = -1, .kind = JST_KIND_NODE, .accuracy = RF_ACC};
	snprintf(d.device, sizeof d.device, "node:bmc:%s:%s", host, c->c.id);
	if (!counter) {
		snprintf(d.name, sizeof d.name, "redfish-%.48s", c->c.id);
		d.method = JST_METHOD_POWER;
		/* The BMC's mean over its refresh (bmc_poll.c stamps it so). */
		d.power_mean = 1;
		snprintf(d.source, sizeof d.source, "%s",
		         c->c.power[0] ? "redfish-power" : "redfish-envmetrics");
		c->power_dom = (int)s->ndesc;
	} else {
		snprintf(d.name, sizeof d.name, "redfish-%.40s-energy", c->c.id);
		d.method = JST_METHOD_COUNTER;
		snprintf(d.source, sizeof d.source, "redfish-energy");
		d.unit_j = RF_UNIT_J;
		/* A BMC's kWh has three decimals at best: one Wh a count. */
		d.resolution_j = 3600;
		snprintf(d.note, sizeof d.note, "the BMC's own kWh counter: coarse (1 Wh)");
		c->energy_dom = (int)s->ndesc;
	}
	s->desc[s->ndesc++] = d;
}

/* The chassis with a power reading, and their readings now. */
static int rf_discover(struct rf_state *s, const struct jst_backend_ctx *ctx, const char *host,
                       struct jst_bmc_value *first, char *reason, size_t len)
{
	char err[JST_REASON_MAX];
	int r = rf_get(s, "/redfish/v1/Chassis", err, sizeof err);
	if (r) {
		snprintf(reason, len, "%s: %s", s->what, err);
		return r == -ETIMEDOUT || r == -ECONNREFUSED ? -ENODEV : r;
	}
	char(*members)[JST_REDFISH_PATH_MAX] = calloc(RF_MAX_CHASSIS, sizeof *members);
	if (!members)
		return -ENOMEM;
	size_t nm = 0;
	r = jst_redfish_members(s->body.p, s->body.n, members, RF_MAX_CHASSIS, &nm, err,
	                        sizeof err);
	if (r) {
		snprintf(reason, len, "%s: /redfish/v1/Chassis: %s", s->what, err);
		free(members);
		return -EPROTO;
	}
	for (size_t i = 0; i < nm && i < RF_MAX_CHASSIS; i++) {
		struct rf_chassis *c = &s->ch[s->nch];
		c->power_dom = c->energy_dom = -1;
		if (rf_get(s, members[i], err, sizeof err) ||
		    jst_redfish_chassis_parse(s->body.p, s->body.n, &c->c, err, sizeof err))
			continue;
		if (!c->c.id[0])
			snprintf(c->c.id, sizeof c->c.id, "%zu", i);
		if (!c->c.self[0])
			snprintf(c->c.self, sizeof c->c.self, "%s", members[i]);
		double w = NAN, kwh = NAN, ew = NAN, cap = NAN;
		char perr[128];
		if (c->c.power[0] && !rf_get(s, c->c.power, err, sizeof err))
			jst_redfish_power_watts(s->body.p, s->body.n, &w, &cap, perr, sizeof perr);
		if (c->c.env[0] && !rf_get(s, c->c.env, err, sizeof err))
			jst_redfish_env_metrics(s->body.p, s->body.n, &ew, &kwh, perr, sizeof perr);
		if (isnan(w))
			c->c.power[0] = 0; /* read from EnvironmentMetrics, if anywhere */
		if (isnan(w) && isnan(ew))
			continue; /* no meter on this chassis */
		size_t at = s->ndesc;
		rf_describe(s, c, host, 0);
		/* The power supplies' capacity bounds what unseen time can hide. */
		if (cap > 0)
			s->desc[at].max_power_w = cap;
		first[at] = (struct jst_bmc_value){.power_w = isnan(w) ? ew : w};
		if (!isnan(kwh) && ctx->cross_validate) {
			rf_describe(s, c, host, 1);
			first[at + 1] =
			    (struct jst_bmc_value){.power_w = NAN,
			                           .counter = (uint64_t)llround(kwh * 1e6),
			                           .have_counter = 1};
		}
		s->nch++;
	}
	free(members);
	/* A chassis inside another one measured is part of it, never added to it. */
	for (size_t i = 0; i < s->nch; i++)
		for (size_t j = 0; j < s->nch; j++)
			if (i != j && s->ch[i].c.contained_by[0] &&
			    !strcmp(s->ch[i].c.contained_by, s->ch[j].c.self)) {
				s->desc[s->ch[i].power_dom].parent = s->ch[j].power_dom;
				if (s->ch[i].energy_dom >= 0)
					s->desc[s->ch[i].energy_dom].parent = s->ch[j].power_dom;
			}
	if (s->nch == 0) {
		snprintf(reason, len,
		         "%s: none of its %zu chassis has a power reading (Power.PowerControl or "
		         "EnvironmentMetrics.PowerWatts)",
		         s->what, nm);
		return -ENODEV;
	}
	return 0;
}

static int rf_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	const char *url = jst_backend_option(ctx, "redfish.url", "");
	if (!url[0]) {
		snprintf(reason, len,
		         "not configured: set redfish.url=https://BMC (and "
		         "redfish.credentials=FILE)");
		return -ENODEV;
	}
	const struct jst_curl *cu = jst_curl_load(reason, len);
	if (!cu)
		return -ENODEV;
	struct rf_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->cu = cu;
	char host[JST_DEVICE_MAX / 2];
	int https = 0;
	double refresh = 1, timeout = 2;
	struct jst_bmc_cred cred = {0};
	int r = rf_base(s, url, host, sizeof host, &https, reason, len);
	if (!r)
		r = rf_seconds(ctx, "redfish.refresh", "1", 0.01, 3600, &refresh, reason, len);
	if (!r)
		r = rf_seconds(ctx, "redfish.timeout", "2", 0.01, 60, &timeout, reason, len);
	const char *cpath = jst_backend_option(ctx, "redfish.credentials", "");
	if (!r && cpath[0])
		r = jst_bmc_cred_read(cpath, "redfish.credentials", &cred, reason, len);
	if (!r && cred.user[0] && !https) {
		snprintf(reason, len,
		         "redfish.url=%s: credentials are sent over https only, never in clear",
		         url);
		r = -EINVAL;
	}
	snprintf(s->what, sizeof s->what, "redfish %s", s->base);
	if (!r)
		r = rf_setup_curl(s, ctx, &cred, timeout, reason, len);
	jst_bmc_cred_clear(&cred);
	struct jst_bmc_value first[2 * RF_MAX_CHASSIS];
	/* Discovery, once at open, is given longer than a poll: a busy BMC's
	 * first answers (a TLS handshake, a cold Chassis collection) can take
	 * seconds, and failing them loses the whole run. A poll that long would
	 * leave the reading stale: polls keep redfish.timeout. */
	long poll_ms = (long)llround(timeout * 1e3);
	long open_ms = (long)llround(fmax(timeout, RF_DISCOVER_TIMEOUT_S) * 1e3);
	if (!r) {
		s->cu->easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, open_ms);
		s->cu->easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, open_ms);
		r = rf_discover(s, ctx, host, first, reason, len);
		s->cu->easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, poll_ms);
		s->cu->easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, poll_ms);
	}
	for (size_t i = 0; !r && i < s->ndesc; i++)
		s->desc[i].refresh_s = refresh;
	if (!r) {
		struct jst_bmc_poll *poll =
		    jst_bmc_poll_start(s->ndesc, refresh, rf_fetch, s, first, jst_backend_now_ns());
		if (poll)
			s->poll = poll;
		else
			r = -ENOMEM;
	}
	if (r) {
		rf_close(s);
		return r;
	}
	*state = s;
	return 0;
}

static size_t rf_domains(void *state, const struct jst_domain_desc **out)
{
	struct rf_state *s = state;
	*out = s->desc;
	return s->ndesc;
}

static int rf_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct rf_state *s = state;
	jst_bmc_poll_fill(s->poll, s->desc, out, n, flags, s->what);
	return 0;
}

static const struct jst_option_desc rf_options[] = {
    {"redfish.url", NULL, "", "the BMC's https://HOST[:PORT]"},
    {"redfish.credentials", NULL, "", "a file only you can read: user:password"},
    {"redfish.cafile", NULL, "", "a PEM file of the CAs that sign the BMC's certificate"},
    {"redfish.insecure", NULL, "0", "1 to skip the certificate check (0 by default)"},
    {"redfish.refresh", NULL, "1", "seconds between the BMC's power updates"},
    {"redfish.timeout", NULL, "2", "seconds a request may take"},
    {0},
};

const struct jst_backend_ops jst_backend_redfish = {
    .name = "redfish",
    .description = "BMC node power over Redfish (HTTPS), integrated",
    .accuracy = RF_ACC,
    .options = rf_options,
    .probe = rf_probe,
    .domains = rf_domains,
    .read = rf_read,
    .close = rf_close,
};
