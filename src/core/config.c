/*
 * Configuration: generic "key=value" options (jst_config_set, the
 * environment), their validation with a message that names the setting and
 * what it accepts, and their resolution into what the core and the backends
 * see. Core keys are listed here; every other key is a backend's, declared in
 * its jst_backend_ops, so a new backend adds no field to the public header.
 */
#include "meter_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JST_DEFAULT_PERIOD_MS 100
#define JST_DEFAULT_SERIES 4096
#define JST_MAX_PERIOD_MS 3600000
#define JST_MAX_SERIES (1u << 24)
#define JST_OPTION_VALUE_MAX 511 /* a path, with room in the resolved buffers */

enum core_key { K_BACKENDS, K_GPUS, K_PERIOD, K_CROSS, K_ESTIMATE, K_SERIES, K_EDGE_READ, K_COUNT };
static const char *const core_keys[K_COUNT] = {
    "backends", "gpus", "period_ms", "cross_validate", "estimate", "series_capacity", "edge_read",
};

/* edge_read's values: "auto" holds a counter's value at a window edge where
 * no latch can have come since its last reading (read.c); "always" reads
 * every backend at every edge. */
static int parse_edge_read(const char *v, int *hold)
{
	if (!strcmp(v, "auto"))
		return *hold = 1, 0;
	if (!strcmp(v, "always"))
		return *hold = 0, 0;
	return -EINVAL;
}

void jst_config_init(jst_config *cfg)
{
	if (!cfg)
		return; /* void: nothing to report, but no crash either */
	*cfg = (jst_config){
	    .allow_estimate = 1,
	};
}

const char *jst_config_error(const jst_config *cfg)
{
	return cfg ? cfg->error_ : "";
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t len, const char *fmt, ...)
{
	if (err && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ---- which keys there are ------------------------------------------------ */

static int core_key_of(const char *key)
{
	for (int k = 0; k < K_COUNT; k++)
		if (!strcmp(core_keys[k], key))
			return k;
	return -1;
}

/* A backend's option by key, or NULL. */
static const struct jst_option_desc *backend_option(const char *key)
{
	for (size_t i = 0; i < jst_registry_count(); i++) {
		const struct jst_option_desc *o = jst_registry_get(i)->options;
		for (; o && o->key; o++)
			if (!strcmp(o->key, key))
				return o;
	}
	return NULL;
}

static void list_all_keys(char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int k = 0; k < K_COUNT; k++)
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", k ? ", " : "",
		                      core_keys[k]);
	for (size_t i = 0; i < jst_registry_count(); i++)
		for (const struct jst_option_desc *o = jst_registry_get(i)->options; o && o->key;
		     o++)
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, ", %s", o->key);
}

/* The keys to name beside an unknown key, in at most len bytes: those of the
 * backend its prefix names ("nvml.libary"), else every key where they fit,
 * else the core keys and each backend's family ("ptd.*"), so that the message
 * is never cut short however many backends there are. */
/* Append item to buf (holding n bytes of at most len) when it fits with room
 * for a closing word; 0 when it did not fit. */
static int put_item(char *buf, size_t len, size_t *n, const char *item, int ilen)
{
	static const size_t tail = sizeof "..., docs/api.md lists each";
	if (*n + (size_t)ilen + 2 + tail > len)
		return 0;
	*n += (size_t)snprintf(buf + *n, len - *n, "%.*s, ", ilen, item);
	return 1;
}

/* The keys to name beside an unknown key, in at most len bytes: those of the
 * backend its prefix names ("nvml.libary"), else every key where they fit,
 * else the core keys and each backend's family ("ptd.*") as far as they fit,
 * so that the message is never cut mid-word however many backends there are. */
static void list_keys(char *buf, size_t len, const char *key)
{
	size_t plen = strcspn(key, ".");
	for (size_t i = 0; key[plen] == '.' && i < jst_registry_count(); i++) {
		const struct jst_backend_ops *b = jst_registry_get(i);
		if (!b->options || strlen(b->name) != plen || strncmp(b->name, key, plen) != 0)
			continue;
		size_t n = (size_t)snprintf(buf, len, "%s's keys:", b->name);
		for (const struct jst_option_desc *o = b->options; o->key; o++)
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s %s",
			                      o == b->options ? "" : ",", o->key);
		return;
	}
	char all[2048];
	list_all_keys(all, sizeof all);
	if (strlen(all) + 7 < len) {
		snprintf(buf, len, "known: %s", all);
		return;
	}
	size_t n = (size_t)snprintf(buf, len, "known: ");
	int fits = 1;
	for (int k = 0; fits && k < K_COUNT; k++)
		fits = put_item(buf, len, &n, core_keys[k], (int)strlen(core_keys[k]));
	const char *prev = "";
	size_t prevlen = 0;
	for (size_t i = 0; fits && i < jst_registry_count(); i++)
		for (const struct jst_option_desc *o = jst_registry_get(i)->options;
		     fits && o && o->key; o++) {
			size_t fl = strcspn(o->key, ".");
			if (fl == prevlen && !strncmp(o->key, prev, fl))
				continue; /* the family is named already */
			/* A family of one key is named by the key. */
			char fam[JST_NAME_MAX];
			int one = !o[1].key || strncmp(o[1].key, o->key, fl + 1) != 0;
			if (one)
				snprintf(fam, sizeof fam, "%s", o->key);
			else
				snprintf(fam, sizeof fam, "%.*s.*", (int)fl, o->key);
			fits = put_item(buf, len, &n, fam, (int)strlen(fam));
			prev = o->key;
			prevlen = fl;
		}
	snprintf(buf + n, len - n, "%sdocs/api.md lists each", fits ? "" : "..., ");
}

static void list_backends(char *buf, size_t len, const struct jst_backend_ops *const *ops,
                          size_t nops)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < nops; i++)
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", i ? ", " : "",
		                      ops[i]->name);
}

/* ---- values -------------------------------------------------------------- */

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (!strcasecmp(v, yes[i]))
			return *out = 1, 0;
		if (!strcasecmp(v, no[i]))
			return *out = 0, 0;
	}
	return -EINVAL;
}

static int parse_count(const char *v, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-' || v[0] == '+' || n < 1 || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

/* Are the names in a backend list all among ops? Else say which is not. */
static int check_backends(const char *what, const char *list,
                          const struct jst_backend_ops *const *ops, size_t nops, char *err,
                          size_t len)
{
	char known[256], tmp[256];
	list_backends(known, sizeof known, ops, nops);
	if (strlen(list) >= sizeof tmp)
		return fail(err, len, "%s: at most %zu characters", what, sizeof tmp - 1);
	snprintf(tmp, sizeof tmp, "%s", list);
	int names = 0;
	for (char *save = NULL, *tok = strtok_r(tmp, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save), names++) {
		size_t i = 0;
		while (i < nops && strcmp(ops[i]->name, tok) != 0)
			i++;
		if (i == nops)
			return fail(err, len, "%s: unknown backend '%s' (known: %s)", what, tok,
			            known);
	}
	if (!names)
		return fail(err, len, "%s: want backend names separated by commas (known: %s)",
		            what, known);
	return 0;
}

static int registry_ops(const struct jst_backend_ops **ops, size_t cap)
{
	size_t n = jst_registry_count();
	for (size_t i = 0; i < n && i < cap; i++)
		ops[i] = jst_registry_get(i);
	return (int)(n < cap ? n : cap);
}

/* Check one option's value. where prefixes the message ("" or
 * "JOULESTAT_OPTIONS: "). For numeric core keys *num receives the value. */
static int check_value(const char *where, const char *key, const char *value, unsigned long *num,
                       char *err, size_t len)
{
	int k = core_key_of(key);
	const struct jst_option_desc *o = k < 0 ? backend_option(key) : NULL;
	if (k < 0 && !o) {
		/* Room for the keys: the message less its own words and the key. */
		char keys[JST_CONFIG_ERROR_MAX];
		size_t used = strlen(where) + strlen(key) + 32;
		list_keys(keys, used < sizeof keys ? sizeof keys - used : 1, key);
		return fail(err, len, "%sunknown option '%s' (%s)", where, key, keys);
	}
	int b;
	switch (k) {
	case K_BACKENDS: {
		char what[64];
		const struct jst_backend_ops *ops[32];
		int n = registry_ops(ops, 32);
		snprintf(what, sizeof what, "%sbackends", where);
		return check_backends(what, value, ops, (size_t)n, err, len);
	}
	case K_GPUS: {
		char out[1024];
		if (strlen(value) >= sizeof out ||
		    jst_gpu_selection_resolve(value, NULL, out, sizeof out) < 0)
			return fail(
			    err, len,
			    "%sgpus: want GPU indices or UUIDs separated by commas, such as "
			    "'0,2', not '%s'",
			    where, value);
		return 0;
	}
	case K_PERIOD:
		if (parse_count(value, JST_MAX_PERIOD_MS, num))
			return fail(
			    err, len,
			    "%speriod_ms: want a whole number of milliseconds from 1 to %d, "
			    "not '%s'",
			    where, JST_MAX_PERIOD_MS, value);
		return 0;
	case K_SERIES:
		if (parse_count(value, JST_MAX_SERIES, num))
			return fail(
			    err, len,
			    "%sseries_capacity: want a whole number of samples from 1 to %u, "
			    "not '%s'",
			    where, JST_MAX_SERIES, value);
		return 0;
	case K_EDGE_READ:
		if (parse_edge_read(value, &b))
			return fail(err, len, "%sedge_read: want auto or always, not '%s'", where,
			            value);
		return 0;
	case K_CROSS:
	case K_ESTIMATE:
		if (parse_bool(value, &b))
			return fail(err, len,
			            "%s%s: want 0 or 1 (or true/false, yes/no, on/off), not '%s'",
			            where, key, value);
		if (num)
			*num = (unsigned long)b;
		return 0;
	default:
		if (!*value || strlen(value) > JST_OPTION_VALUE_MAX)
			return fail(err, len, "%s%s: want %s, of 1 to %d characters", where, key,
			            o ? o->accepts : "a value", JST_OPTION_VALUE_MAX);
		return 0;
	}
}

/* ---- the stored options: "key=value\0...\0" --------------------------------- */

static char *store_find(char *store, const char *key)
{
	size_t n = strlen(key);
	for (char *p = store; *p; p += strlen(p) + 1)
		if (!strncmp(p, key, n) && p[n] == '=')
			return p;
	return NULL;
}

static const char *store_get(const char *store, const char *key)
{
	const char *p =
	    store_find((char *)store, key); // NOLINT(cppcoreguidelines-pro-type-const-cast)
	return p ? p + strlen(key) + 1 : NULL;
}

static size_t store_used(const char *store)
{
	const char *p = store;
	while (*p)
		p += strlen(p) + 1;
	return (size_t)(p - store);
}

static void store_remove(char *store, const char *key)
{
	char *p = store_find(store, key);
	if (!p)
		return;
	size_t n = strlen(p) + 1;
	memmove(p, p + n, store_used(p + n) + 1);
}

/* Set key to value, replacing its entry; a value that does not fit changes nothing. */
static int store_put(char *store, size_t cap, const char *key, const char *value)
{
	const char *old = store_find(store, key);
	size_t used = store_used(store) - (old ? strlen(old) + 1 : 0);
	size_t need = strlen(key) + 1 + strlen(value) + 1;
	if (used + need + 1 > cap)
		return -ENOSPC;
	store_remove(store, key);
	snprintf(store + used, need, "%s=%s", key, value);
	store[used + need] = '\0';
	return 0;
}

/* ---- jst_config_set ----------------------------------------------------------- */

static void unset(jst_config *cfg, int k, const char *key)
{
	store_remove(cfg->options_, key);
	switch (k) {
	case K_BACKENDS:
		cfg->backends = NULL;
		break;
	case K_GPUS:
		cfg->gpus = NULL;
		break;
	case K_PERIOD:
		cfg->sample_period_ms = 0;
		break;
	case K_CROSS:
		cfg->cross_validate = 0;
		break;
	case K_ESTIMATE:
		cfg->allow_estimate = 1;
		break;
	case K_SERIES:
		cfg->series_capacity = 0;
		break;
	default:
		break;
	}
}

int jst_config_set(jst_config *cfg, const char *key, const char *value)
{
	if (!cfg)
		return -EINVAL;
	char *err = cfg->error_;
	err[0] = '\0';
	if (!key || !*key)
		return fail(err, JST_CONFIG_ERROR_MAX, "an option needs a key");
	int k = core_key_of(key);
	if (!value) {
		if (k < 0 && !backend_option(key))
			return check_value("", key, "", NULL, err, JST_CONFIG_ERROR_MAX);
		unset(cfg, k, key);
		return 0;
	}
	unsigned long num = 0;
	int r = check_value("", key, value, &num, err, JST_CONFIG_ERROR_MAX);
	if (r)
		return r;
	switch (k) {
	case K_PERIOD:
		cfg->sample_period_ms = (unsigned)num;
		return 0;
	case K_CROSS:
		cfg->cross_validate = (int)num;
		return 0;
	case K_ESTIMATE:
		cfg->allow_estimate = (int)num;
		return 0;
	case K_SERIES:
		cfg->series_capacity = num;
		return 0;
	case K_BACKENDS:
		cfg->backends = NULL; /* the option wins over the field set before */
		break;
	case K_GPUS:
		cfg->gpus = NULL;
		break;
	default:
		break;
	}
	if (store_put(cfg->options_, sizeof cfg->options_, key, value))
		return snprintf(err, JST_CONFIG_ERROR_MAX,
		                "%s: no room left for it (options hold at most %d bytes in all)",
		                key, JST_CONFIG_OPTIONS_MAX),
		       -ENOSPC;
	return 0;
}

/* ---- the environment ------------------------------------------------------------ */

/* JOULESTAT_OPTIONS="k=v,k=v": a piece with no '=' continues the value before
 * it, so that "gpus=0,2,period_ms=50" means what it says. Every pair is
 * checked as jst_config_set checks it. */
static int env_options(char *store, size_t cap, char *err, size_t len)
{
	const char *env = secure_getenv("JOULESTAT_OPTIONS");
	store[0] = '\0';
	if (!env || !*env)
		return 0;
	char tmp[JST_CONFIG_OPTIONS_MAX];
	if (strlen(env) >= sizeof tmp)
		return fail(err, len, "JOULESTAT_OPTIONS: at most %zu characters", sizeof tmp - 1);
	snprintf(tmp, sizeof tmp, "%s", env);
	/* A comma ends a pair only where the piece after it has an '='. */
	char *pairs[64];
	size_t n = 0;
	for (char *p = tmp;;) {
		while (*p == ' ')
			p++;
		if (n == sizeof pairs / sizeof pairs[0])
			return fail(err, len, "JOULESTAT_OPTIONS: at most 64 options");
		pairs[n++] = p;
		char *end = strchr(p, ',');
		while (end && !memchr(end + 1, '=', strcspn(end + 1, ",")))
			end = strchr(end + 1, ','); /* the piece after continues this value */
		if (!end)
			break;
		*end = '\0';
		p = end + 1;
	}
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(pairs[i], '=');
		if (!eq)
			return fail(err, len,
			            "JOULESTAT_OPTIONS: want key=value pairs separated by "
			            "commas, not '%s'",
			            pairs[i]);
		*eq = '\0';
		unsigned long num;
		int r = check_value("JOULESTAT_OPTIONS: ", pairs[i], eq + 1, &num, err, len);
		if (r)
			return r;
		if (store_put(store, cap, pairs[i], eq + 1))
			return fail(err, len, "JOULESTAT_OPTIONS: too long");
	}
	return 0;
}

/* ---- resolution ------------------------------------------------------------------ */

static int copy_to(char *dst, size_t len, const char *what, const char *v, char *err, size_t errlen)
{
	if (strlen(v) >= len)
		return fail(err, errlen, "%s: at most %zu characters", what, len - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int jst_list_contains(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		while (l && *p == ' ')
			p++, l--;
		while (l && p[l - 1] == ' ')
			l--;
		if (l == n && !strncmp(p, name, n))
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

/* A number option: the field when set there, else the environment's, else dflt. */
static unsigned long number(unsigned long field, const char *env_store, const char *key,
                            unsigned long dflt)
{
	if (field)
		return field;
	const char *v = store_get(env_store, key);
	unsigned long n;
	return v && !parse_count(v, ~0ul, &n) ? n : dflt;
}

static int flag(int field, int field_default, const char *env_store, const char *key)
{
	const char *v = store_get(env_store, key);
	int b;
	if (field != field_default || !v || parse_bool(v, &b))
		return field;
	return b;
}

int jst_config_resolve_checked(const jst_config *cfg, const struct jst_backend_ops *const *ops,
                               size_t nops, struct jst_resolved_config *out, char *err, size_t len)
{
	jst_config dflt;
	if (!cfg) {
		jst_config_init(&dflt);
		cfg = &dflt;
	}
	if (err && len)
		err[0] = '\0';
	*out = (struct jst_resolved_config){0};
	char envs[JST_CONFIG_OPTIONS_MAX];
	int rc = env_options(envs, sizeof envs, err, len);
	if (rc)
		return rc;

	/* Every backend's options: the caller's, its own variable, JOULESTAT_OPTIONS,
	 * its default. The environment through secure_getenv: in a setuid or
	 * file-capability process (AT_SECURE) an override would let any user point a
	 * privileged reader at other files, or load a library of theirs into it;
	 * there it is ignored. */
	size_t used = 0;
	for (size_t i = 0; i < jst_registry_count(); i++)
		for (const struct jst_option_desc *o = jst_registry_get(i)->options; o && o->key;
		     o++) {
			const char *v = store_get(cfg->options_, o->key);
			const char *var = o->env ? secure_getenv(o->env) : NULL;
			if (!v && var && *var) {
				if (strlen(var) > JST_OPTION_VALUE_MAX)
					return fail(err, len, "%s: want %s, of 1 to %d characters",
					            o->env, o->accepts, JST_OPTION_VALUE_MAX);
				v = var;
			}
			if (!v)
				v = store_get(envs, o->key);
			if (!v)
				v = o->dflt;
			size_t need = strlen(o->key) + 1 + strlen(v) + 1;
			if (used + need + 1 > sizeof out->options)
				return fail(err, len, "%s: too long", o->key);
			snprintf(out->options + used, need, "%s=%s", o->key, v);
			used += need;
		}
	out->options[used] = '\0';

	const char *gpus = cfg->gpus ? cfg->gpus : store_get(cfg->options_, "gpus");
	if (!gpus)
		gpus = store_get(envs, "gpus");
	const char *cuda = getenv("CUDA_VISIBLE_DEVICES");
	rc = jst_gpu_selection_resolve(gpus, cuda, out->gpus, sizeof out->gpus);
	if (rc < 0) {
		if (gpus)
			return fail(err, len,
			            "gpus: want GPU indices or UUIDs separated by commas, such as "
			            "'0,2', not '%s'",
			            gpus);
		return fail(err, len,
		            "CUDA_VISIBLE_DEVICES: want GPU indices or UUIDs separated by commas, "
		            "not '%s'",
		            cuda ? cuda : "");
	}
	out->gpus_set = rc; /* 0, JST_GPUS_EXPLICIT or JST_GPUS_FROM_ENV */

	const char *backends = cfg->backends ? cfg->backends : store_get(cfg->options_, "backends");
	if (!backends)
		backends = store_get(envs, "backends");
	if (backends && *backends && ops &&
	    (rc = check_backends("backends", backends, ops, nops, err, len)))
		return rc;
	if ((rc = copy_to(out->backends, sizeof out->backends, "backends", backends ? backends : "",
	                  err, len)))
		return rc;
	out->backends_set = out->backends[0] != '\0';

	/* The struct's fields take what the options take: a value past it is
	 * refused by name, as jst_config_set would refuse it, where the caller's
	 * settings are checked (jst_meter_open, with the registry in ops). */
	if (ops && cfg->sample_period_ms > JST_MAX_PERIOD_MS)
		return fail(err, len,
		            "sample_period_ms: want a whole number of milliseconds from 1 to %d "
		            "(0: the default), not %u",
		            JST_MAX_PERIOD_MS, cfg->sample_period_ms);
	if (ops && cfg->series_capacity > JST_MAX_SERIES)
		return fail(err, len,
		            "series_capacity: want a whole number of samples from 1 to %u "
		            "(0: the default), not %zu",
		            JST_MAX_SERIES, (size_t)cfg->series_capacity);
	out->allow_estimate = flag(cfg->allow_estimate, 1, envs, "estimate");
	/* No field of jst_config's: the caller's option, else the environment's. */
	const char *edge = store_get(cfg->options_, "edge_read");
	if (!edge)
		edge = store_get(envs, "edge_read");
	out->edge_hold = 1;
	if (edge && parse_edge_read(edge, &out->edge_hold))
		return fail(err, len, "edge_read: want auto or always, not '%s'", edge);
	out->cross_validate = flag(cfg->cross_validate, 0, envs, "cross_validate");
	out->period_s =
	    (double)number(cfg->sample_period_ms, envs, "period_ms", JST_DEFAULT_PERIOD_MS) / 1e3;
	out->series_capacity =
	    number(cfg->series_capacity, envs, "series_capacity", JST_DEFAULT_SERIES);
	return 0;
}

int jst_config_resolve(const jst_config *cfg, struct jst_resolved_config *out)
{
	return jst_config_resolve_checked(cfg, NULL, 0, out, NULL, 0);
}
