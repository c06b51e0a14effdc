/*
 * IPMI DCMI node meters: "Get Power Reading" (DCMI 1.5, section 6.6.1) through
 * FreeIPMI, from the BMC in-band (ipmi.host=local: /dev/ipmi0, KCS, SSIF) or
 * over the LAN (IPMI 2.0, RMCP+). The node's current power, a power domain of
 * kind node that the core integrates; polled on a thread of its own
 * (bmc_poll.h). docs/backends/bmc.md
 */
#include "bmc_cred.h"
#include "bmc_lib.h"
#include "bmc_poll.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IPMI_ACC 0.05

struct ipmi_state {
	const struct jst_freeipmi *fi; /* FreeIPMI, loaded at probe (bmc_lib.h) */
	ipmi_ctx_t ctx;
	int open;
	int inband;
	char host[256];
	struct jst_bmc_cred cred;
	unsigned cipher;
	uint8_t privilege;
	unsigned workarounds;
	unsigned timeout_ms;
	fiid_obj_t rs;
	char what[300];
	struct jst_bmc_poll *poll;
	struct jst_domain_desc desc;
};

static void ipmi_disconnect(struct ipmi_state *s)
{
	if (s->ctx) {
		if (s->open)
			s->fi->ctx_close(s->ctx);
		s->fi->ctx_destroy(s->ctx);
	}
	s->ctx = NULL;
	s->open = 0;
}

static int ipmi_connect(struct ipmi_state *s, char *err, size_t len)
{
	if (s->open)
		return 0;
	ipmi_disconnect(s);
	if (!(s->ctx = s->fi->ctx_create())) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	int r;
	if (s->inband) {
		r = s->fi->ctx_find_inband(s->ctx, NULL, 0, 0, 0, NULL, 0, 0);
		if (r == 0) {
			snprintf(err, len,
			         "no in-band IPMI interface (no /dev/ipmi0: load ipmi_si "
			         "and ipmi_devintf, or set ipmi.host to the BMC's address)");
			ipmi_disconnect(s);
			return -ENODEV;
		}
	} else {
		r = s->fi->ctx_open_outofband_2_0(
		    s->ctx, s->host, s->cred.user[0] ? s->cred.user : NULL,
		    s->cred.password[0] ? s->cred.password : NULL, NULL, 0, s->privilege,
		    (uint8_t)s->cipher, s->timeout_ms, s->timeout_ms / 4 ? s->timeout_ms / 4 : 1,
		    s->workarounds, 0);
	}
	if (r < 0) {
		int e = s->fi->ctx_errnum(s->ctx);
		snprintf(err, len, "%s", s->fi->ctx_errormsg(s->ctx));
		ipmi_disconnect(s);
		switch (e) {
		case IPMI_ERR_USERNAME_INVALID:
		case IPMI_ERR_PASSWORD_INVALID:
		case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
		case IPMI_ERR_PERMISSION:
			return -EACCES;
		case IPMI_ERR_SESSION_TIMEOUT:
		case IPMI_ERR_CONNECTION_TIMEOUT:
			return -ETIMEDOUT;
		default:
			return -EIO;
		}
	}
	s->open = 1;
	return 0;
}

/* One Get Power Reading: watts, or negative with err. */
static int ipmi_power(struct ipmi_state *s, double *watts, char *err, size_t len)
{
	int r = ipmi_connect(s, err, len);
	if (r)
		return r;
	s->fi->obj_clear(s->rs);
	if (s->fi->cmd_dcmi_get_power_reading(
	        s->ctx, IPMI_DCMI_POWER_READING_MODE_SYSTEM_POWER_STATISTICS, 0, s->rs) < 0) {
		int e = s->fi->ctx_errnum(s->ctx);
		snprintf(err, len, "Get Power Reading: %s", s->fi->ctx_errormsg(s->ctx));
		/* A lost session is opened again at the next poll. */
		ipmi_disconnect(s);
		if (e == IPMI_ERR_BAD_COMPLETION_CODE ||
		    e == IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED)
			return -EOPNOTSUPP;
		return e == IPMI_ERR_SESSION_TIMEOUT ? -ETIMEDOUT : -EIO;
	}
	uint64_t cur = 0, state = 0;
	if (s->fi->obj_get(s->rs, "current_power", &cur) < 0 ||
	    s->fi->obj_get(s->rs, "power_reading_state.power_measurement", &state) < 0) {
		snprintf(err, len, "Get Power Reading: a short reply");
		return -EPROTO;
	}
	if (state != IPMI_DCMI_POWER_READING_STATE_POWER_MEASUREMENT_ACTIVE) {
		snprintf(err, len, "Get Power Reading: the BMC's power measurement is not active");
		return -ENODATA;
	}
	*watts = (double)cur;
	return 0;
}

static int ipmi_fetch(void *arg, struct jst_bmc_value *v, size_t n, char *err, size_t len)
{
	struct ipmi_state *s = arg;
	double w;
	int r = ipmi_power(s, &w, err, len);
	if (r)
		return r;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct jst_bmc_value){.power_w = w};
	return 0;
}

static void ipmi_close(void *state)
{
	struct ipmi_state *s = state;
	if (!s)
		return;
	jst_bmc_poll_stop(s->poll);
	ipmi_disconnect(s);
	if (s->rs)
		s->fi->obj_destroy(s->rs);
	jst_bmc_cred_clear(&s->cred);
	free(s);
}

static int ipmi_number(const struct jst_backend_ctx *ctx, const char *key, const char *dflt,
                       double lo, double hi, double *out, char *reason, size_t len)
{
	const char *v = jst_backend_option(ctx, key, dflt);
	char *end;
	double x = strtod(v, &end);
	if (end == v || *end || !(x >= lo && x <= hi)) {
		snprintf(reason, len, "%s=%s: want a number from %g to %g", key, v, lo, hi);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

/* FreeIPMI's workarounds for BMCs that bend RMCP+ (ipmitool and ipmi-* take
 * the same names): "+"-separated. */
static int ipmi_workarounds(const char *list, unsigned *out, char *reason, size_t len)
{
	static const struct {
		const char *name;
		unsigned flag;
	} known[] = {
	    {"authcap", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_AUTHENTICATION_CAPABILITIES},
	    {"intel20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_INTEL_2_0_SESSION},
	    {"supermicro20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUPERMICRO_2_0_SESSION},
	    {"sun20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUN_2_0_SESSION},
	    {"opensesspriv", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE},
	    {"integritycheckvalue",
	     IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NON_EMPTY_INTEGRITY_CHECK_VALUE},
	    {"nochecksumcheck", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NO_CHECKSUM_CHECK},
	};
	*out = 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, "+");
		size_t k = 0;
		while (k < sizeof known / sizeof known[0] &&
		       (strlen(known[k].name) != n || strncmp(known[k].name, p, n) != 0))
			k++;
		if (k == sizeof known / sizeof known[0]) {
			snprintf(
			    reason, len,
			    "ipmi.workarounds=%s: want names from authcap, intel20, supermicro20, "
			    "sun20, opensesspriv, integritycheckvalue, nochecksumcheck, joined by "
			    "+",
			    list);
			return -EINVAL;
		}
		*out |= known[k].flag;
		p += n + (p[n] == '+');
	}
	return 0;
}

static int ipmi_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	const char *host = jst_backend_option(ctx, "ipmi.host", "");
	if (!host[0]) {
		snprintf(reason, len,
		         "not configured: set ipmi.host=local for this node's BMC "
		         "in-band, or ipmi.host=BMC[:PORT] (and ipmi.credentials=FILE)");
		return -ENODEV;
	}
	const struct jst_freeipmi *fi = jst_freeipmi_load(reason, len);
	if (!fi)
		return -ENODEV;
	struct ipmi_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->fi = fi;
	double refresh = 1, timeout = 2, cipher = 3, max_power = 0;
	int r = ipmi_number(ctx, "ipmi.refresh", "1", 0.01, 3600, &refresh, reason, len);
	if (!r)
		r = ipmi_number(ctx, "ipmi.timeout", "2", 0.01, 60, &timeout, reason, len);
	if (!r)
		r = ipmi_number(ctx, "ipmi.cipher", "3", 0, 17, &cipher, reason, len);
	if (!r)
		r = ipmi_number(ctx, "ipmi.max_power", "0", 0, 1e6, &max_power, reason, len);
	if (!r && cipher != floor(cipher)) {
		snprintf(reason, len, "ipmi.cipher: want a cipher suite id from 0 to 17");
		r = -EINVAL;
	}
	/* DCMI asks for User; some BMCs (and ipmi_sim's modules) want more. */
	const char *priv = jst_backend_option(ctx, "ipmi.privilege", "user");
	s->privilege = !strcmp(priv, "user")       ? IPMI_PRIVILEGE_LEVEL_USER
	               : !strcmp(priv, "operator") ? IPMI_PRIVILEGE_LEVEL_OPERATOR
	               : !strcmp(priv, "admin")    ? IPMI_PRIVILEGE_LEVEL_ADMIN
	                                           : 0;
	if (!r && !s->privilege) {
		snprintf(reason, len, "ipmi.privilege=%s: want user, operator or admin", priv);
		r = -EINVAL;
	}
	if (!r)
		r = ipmi_workarounds(jst_backend_option(ctx, "ipmi.workarounds", ""),
		                     &s->workarounds, reason, len);
	s->inband = !strcmp(host, "local");
	snprintf(s->host, sizeof s->host, "%s", host);
	s->cipher = (unsigned)cipher;
	s->timeout_ms = (unsigned)llround(timeout * 1e3);
	const char *cpath = jst_backend_option(ctx, "ipmi.credentials", "");
	if (!r && cpath[0] && !s->inband)
		r = jst_bmc_cred_read(cpath, "ipmi.credentials", &s->cred, reason, len);
	if (!r && !s->inband && !cpath[0]) {
		snprintf(reason, len,
		         "ipmi.host=%s: over the LAN a BMC wants a user: set "
		         "ipmi.credentials=FILE (user:password, chmod 600)",
		         host);
		r = -EINVAL;
	}
	snprintf(s->what, sizeof s->what, "ipmi %s", host);
	if (!r && !(s->rs = s->fi->obj_create(s->fi->tmpl_dcmi_get_power_reading_rs)))
		r = -ENOMEM;
	double w = NAN;
	char err[JST_ERROR_MAX];
	int64_t t0 = jst_backend_now_ns(), t1 = t0;
	if (!r && (r = ipmi_power(s, &w, err, sizeof err), t1 = jst_backend_now_ns(), r) != 0) {
		snprintf(reason, len, "%s: %s", s->what, err);
		if (r != -EACCES)
			r = -ENODEV;
	}
	if (!r) {
		struct jst_domain_desc *d = &s->desc;
		d->parent = -1;
		d->kind = JST_KIND_NODE;
		d->method = JST_METHOD_POWER;
		d->power_mean = 1; /* as bmc_poll.c stamps it: a mean over the refresh */
		d->accuracy = IPMI_ACC;
		d->refresh_s = refresh;
		/* DCMI states no capacity: what unseen time can hide is bounded by
		 * the power supplies' rating where the user gives it. */
		d->max_power_w = max_power;
		snprintf(d->name, sizeof d->name, "ipmi-dcmi");
		snprintf(d->source, sizeof d->source, "dcmi-power-reading");
		char dev[JST_DEVICE_MAX / 2];
		snprintf(dev, sizeof dev, "%s", s->inband ? "local" : host);
		/* The port is no part of the node: ':' separates an identity's parts. */
		char *colon = strrchr(dev, ':');
		if (colon && !strchr(dev, ']') && colon == strchr(dev, ':'))
			*colon = 0;
		for (char *p = dev; *p; p++)
			if (*p == ':')
				*p = '.';
		snprintf(d->device, sizeof d->device, "node:bmc:%s", dev);
		struct jst_bmc_value first = {.power_w = w};
		if (!(s->poll = jst_bmc_poll_start(1, refresh, ipmi_fetch, s, &first,
		                                   t0 + (t1 - t0) / 2)))
			r = -ENOMEM;
	}
	if (r) {
		ipmi_close(s);
		return r;
	}
	*state = s;
	return 0;
}

static size_t ipmi_domains(void *state, const struct jst_domain_desc **out)
{
	struct ipmi_state *s = state;
	*out = &s->desc;
	return 1;
}

static int ipmi_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct ipmi_state *s = state;
	jst_bmc_poll_fill(s->poll, &s->desc, out, n, flags, s->what);
	return 0;
}

static const struct jst_option_desc ipmi_options[] = {
    {"ipmi.host", NULL, "", "local (in-band), or the BMC's HOST[:PORT] over the LAN"},
    {"ipmi.credentials", NULL, "", "a file only you can read: user:password"},
    {"ipmi.cipher", NULL, "3", "the RMCP+ cipher suite id (0 to 17)"},
    {"ipmi.privilege", NULL, "user", "the session's privilege: user, operator or admin"},
    {"ipmi.workarounds", NULL, "", "FreeIPMI's RMCP+ workarounds, joined by +: opensesspriv, ..."},
    {"ipmi.refresh", NULL, "1", "seconds between the BMC's power updates"},
    {"ipmi.max_power", NULL, "0", "the node's power supply rating in W (0: unknown)"},
    {"ipmi.timeout", NULL, "2", "seconds a request may take"},
    {0},
};

const struct jst_backend_ops jst_backend_ipmi = {
    .name = "ipmi",
    .description = "BMC node power over IPMI DCMI (FreeIPMI, in-band or LAN), integrated",
    .accuracy = IPMI_ACC,
    .options = ipmi_options,
    .probe = ipmi_probe,
    .domains = ipmi_domains,
    .read = ipmi_read,
    .close = ipmi_close,
};
