/* Reading Prometheus's web-config file (webconfig.h). The format is YAML; the
 * file has two levels of mappings with scalar values, so this reads that
 * subset (block mappings, plain and quoted scalars, comments) and says so when
 * a file uses more. */
#include "webconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(struct jst_webconfig *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct jst_webconfig *c, int line, const char *fmt, ...)
{
	va_list ap;
	int n = line ? snprintf(c->error, sizeof c->error, "line %d: ", line) : 0;
	va_start(ap, fmt);
	vsnprintf(c->error + n, sizeof c->error - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Unquote a scalar in place ('…' with '' for a quote; "…" with \" and \\);
 * a plain scalar ends at a comment. NULL when a quote is not closed. */
static char *scalar(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\'' || *s == '"') {
		char q = *s, *w = s, *r = s + 1;
		for (; *r; r++) {
			if (*r == q && q == '\'' && r[1] == '\'') {
				*w++ = *r++;
			} else if (*r == q) {
				*w = '\0';
				r++;
				while (*r == ' ' || *r == '\t')
					r++;
				return *r == '\0' || *r == '#' ? s : NULL;
			} else if (q == '"' && *r == '\\' && r[1]) {
				*w++ = *++r;
			} else {
				*w++ = *r;
			}
		}
		return NULL;
	}
	char *hash = s;
	while ((hash = strchr(hash, '#')) && hash != s && hash[-1] != ' ' && hash[-1] != '\t')
		hash++;
	if (hash)
		*hash = '\0';
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static char *resolve(const char *dir, const char *path)
{
	if (path[0] == '/' || !dir || !*dir)
		return strdup(path);
	size_t n = strlen(dir) + strlen(path) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, path);
	return p;
}

static const char *tls_version(const char *v)
{
	static const char *const known[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(v, known[i]))
			return known[i];
	return NULL;
}

static int tls_key(struct jst_webconfig *c, int line, const char *dir, const char *key,
                   const char *val)
{
	if (!strcmp(key, "cert_file") || !strcmp(key, "key_file")) {
		char **slot = key[0] == 'c' ? &c->cert_file : &c->key_file;
		free(*slot);
		*slot = resolve(dir, val);
		return *slot ? 0 : -ENOMEM;
	}
	if (!strcmp(key, "min_version") || !strcmp(key, "max_version")) {
		const char *v = tls_version(val);
		if (!v)
			return fail(c, line, "%s: '%s' is not TLS10, TLS11, TLS12 or TLS13", key,
			            val);
		*(key[1] == 'i' ? &c->min_version : &c->max_version) = v;
		return 0;
	}
	if (!strcmp(key, "client_auth_type")) {
		if (!strcmp(val, "NoClientCert") || !*val)
			return 0;
		return fail(c, line,
		            "client_auth_type: %s is not supported: joulestat serve does not "
		            "verify client certificates (only NoClientCert)",
		            val);
	}
	if (!strcmp(key, "client_ca_file") || !strcmp(key, "cipher_suites") ||
	    !strcmp(key, "curve_preferences") || !strcmp(key, "prefer_server_cipher_suites") ||
	    !strcmp(key, "client_allowed_sans"))
		return fail(c, line,
		            "tls_server_config.%s is not supported by joulestat serve "
		            "(libmicrohttpd); remove it",
		            key);
	return fail(c, line, "tls_server_config: unknown key '%s'", key);
}

/* Whether hash is a whole bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost
 * from 04 to 31, then 53 characters of bcrypt's base64 (22 of salt, 31 of
 * hash). Anything else never matches any password: refused at start rather
 * than leaving its user locked out in silence. */
static int bcrypt_hash(const char *h)
{
	if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) || h[3] != '$' ||
	    !isdigit((unsigned char)h[4]) || !isdigit((unsigned char)h[5]) || h[6] != '$')
		return 0;
	int cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (cost < 4 || cost > 31)
		return 0;
	for (const char *p = h + 7; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '/')
			return 0;
	return 1;
}

static int user_key(struct jst_webconfig *c, int line, const char *user, const char *hash)
{
	if (c->nusers == JST_WEBCONFIG_USERS_MAX)
		return fail(c, line, "basic_auth_users: more than %d users",
		            JST_WEBCONFIG_USERS_MAX);
	if (strncmp(hash, "$2", 2) != 0)
		return fail(c, line,
		            "basic_auth_users: %s's password must be a bcrypt hash ($2b$, $2y$ or "
		            "$2a$), as Prometheus's (htpasswd -nBC 10 '' | tr -d ':\\n')",
		            user);
	if (!bcrypt_hash(hash))
		return fail(
		    c, line,
		    "basic_auth_users: %s's hash '%.80s' is not a whole bcrypt hash "
		    "($2b$NN$ with a cost NN of 04 to 31, then 53 characters of ./A-Za-z0-9): "
		    "no password would match it",
		    user, hash);
	for (size_t i = 0; i < c->nusers; i++)
		if (!strcmp(c->users[i].user, user))
			return fail(c, line, "basic_auth_users: %s given twice", user);
	c->users[c->nusers].user = strdup(user);
	c->users[c->nusers].hash = strdup(hash);
	if (!c->users[c->nusers].user || !c->users[c->nusers].hash)
		return -ENOMEM;
	c->nusers++;
	return 0;
}

/* 0..3 for TLS10..TLS13; the default, as exporter-toolkit's, where not given. */
static int version_index(const char *v, int dflt)
{
	return v ? v[4] - '0' : dflt;
}

/* GnuTLS would be handed an empty range and fail only when the server
 * starts, after the meter has opened: said here, with the keys. */
static int check_versions(struct jst_webconfig *c)
{
	int lo = version_index(c->min_version, 2), hi = version_index(c->max_version, 3);
	if (lo <= hi)
		return 0;
	return fail(
	    c, 0, "tls_server_config: min_version %s%s is above max_version %s%s",
	    c->min_version ? c->min_version : "TLS12", c->min_version ? "" : " (the default)",
	    c->max_version ? c->max_version : "TLS13", c->max_version ? "" : " (the default)");
}

int jst_webconfig_parse(const char *text, const char *dir, struct jst_webconfig *c)
{
	*c = (struct jst_webconfig){0};
	char *copy = strdup(text), *save = NULL;
	if (!copy)
		return -ENOMEM;
	enum { NONE, TLS, USERS, HTTP } section = NONE;
	int rc = 0, line = 0, child_indent = -1;
	for (char *p = copy; p && !rc; p = save) {
		save = strchr(p, '\n');
		if (save)
			*save++ = '\0';
		line++;
		size_t n = strlen(p);
		if (n && p[n - 1] == '\r')
			p[--n] = '\0';
		int indent = (int)strspn(p, " ");
		char *s = p + indent;
		if (*s == '\t') {
			rc = fail(c, line, "tabs cannot indent YAML");
			break;
		}
		if (!*s || *s == '#' || !strcmp(s, "---"))
			continue;
		if (*s == '-' || *s == '[' || *s == '{' || *s == '&' || *s == '*') {
			rc = fail(c, line, "only mappings of plain values are understood here");
			break;
		}
		/* key: value (a key may be quoted, as a user name may need) */
		char *key = s, *colon;
		if (*s == '"' || *s == '\'') {
			char *end = s + 1;
			for (; *end; end++) {
				/* '' is a quote inside '...'; \ escapes inside "..." */
				int escaped = *s == '\'' ? end[0] == '\'' && end[1] == '\''
				                         : end[0] == '\\' && end[1];
				if (escaped)
					end++;
				else if (*end == *s)
					break;
			}
			colon = *end ? end + 1 : NULL;
			if (!colon || *colon != ':') {
				rc = fail(c, line, "expected \"key\": value");
				break;
			}
			*colon = '\0';
			key = scalar(s);
		} else {
			colon = strstr(s, ": ");
			if (!colon && n && p[n - 1] == ':')
				colon = p + n - 1;
			if (!colon) {
				rc = fail(c, line, "expected key: value");
				break;
			}
			char *k = colon;
			while (k > s && k[-1] == ' ')
				k--;
			*k = '\0';
		}
		*colon = '\0';
		char *val = scalar(colon + 1);
		if (!val) {
			rc = fail(c, line, "a quoted value is not closed");
			break;
		}
		if (indent == 0) {
			if (*val && strcmp(val, "{}") != 0 && strcmp(val, "null") != 0 &&
			    strcmp(val, "~") != 0) {
				rc =
				    fail(c, line, "%s: expected a mapping on the lines below", key);
				break;
			}
			child_indent = -1;
			if (!strcmp(key, "tls_server_config"))
				section = TLS;
			else if (!strcmp(key, "basic_auth_users"))
				section = USERS;
			else if (!strcmp(key, "http_server_config"))
				section = HTTP;
			else
				rc = fail(c, line,
				          "unknown key '%s' (tls_server_config, "
				          "basic_auth_users, http_server_config)",
				          key);
			continue;
		}
		if (section == NONE) {
			rc = fail(c, line, "indented before any section");
			break;
		}
		if (child_indent < 0)
			child_indent = indent;
		if (indent != child_indent) {
			rc = fail(c, line, "only two levels of mapping are understood here");
			break;
		}
		if (!*val)
			rc = fail(c, line,
			          "%s: no value (only two levels of mapping are understood "
			          "here)",
			          key);
		else if (section == TLS)
			rc = tls_key(c, line, dir, key, val);
		else if (section == USERS)
			rc = user_key(c, line, key, val);
		else if (!strcmp(key, "http2") && (!strcmp(val, "false") || !strcmp(val, "true")))
			rc = 0; /* libmicrohttpd speaks HTTP/1.1: Prometheus scrapes that either way
			         */
		else
			rc = fail(c, line,
			          "http_server_config.%s is not supported by joulestat serve", key);
	}
	free(copy);
	if (!rc && (!c->cert_file) != (!c->key_file))
		rc = fail(c, 0, "tls_server_config needs both cert_file and key_file");
	if (!rc)
		rc = check_versions(c);
	if (rc)
		jst_webconfig_free(c); /* keeps error */
	return rc;
}

int jst_webconfig_load(const char *path, struct jst_webconfig *c)
{
	*c = (struct jst_webconfig){0};
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(c->error, sizeof c->error, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	char buf[4096];
	size_t n;
	int rc = m ? 0 : -ENOMEM;
	while (!rc && (n = fread(buf, 1, sizeof buf, f)) > 0)
		if (fwrite(buf, 1, n, m) != n)
			rc = -ENOMEM;
	if (ferror(f))
		rc = -EIO;
	fclose(f);
	if (m)
		fclose(m);
	if (!rc && len > 1 << 20)
		rc = -EFBIG;
	if (!rc && memchr(text, '\0', len))
		rc = -EINVAL;
	if (rc) {
		free(text);
		snprintf(c->error, sizeof c->error, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	if (dir)
		*(slash ? slash : dir) = '\0';
	struct jst_webconfig tmp;
	rc = jst_webconfig_parse(text, dir, &tmp);
	*c = tmp;
	if (rc) {
		char msg[sizeof c->error];
		snprintf(msg, sizeof msg, "%s", tmp.error);
		snprintf(c->error, sizeof c->error, "%.200s: %.300s", path, msg);
	}
	free(dir);
	free(text);
	return rc;
}

void jst_webconfig_free(struct jst_webconfig *c)
{
	free(c->cert_file);
	free(c->key_file);
	for (size_t i = 0; i < c->nusers; i++) {
		free(c->users[i].user);
		free(c->users[i].hash);
	}
	c->cert_file = c->key_file = NULL;
	c->nusers = 0;
}

void jst_webconfig_priorities(const struct jst_webconfig *c, char *buf, size_t len)
{
	static const char *const names[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
	static const char *const gnutls[] = {"VERS-TLS1.0", "VERS-TLS1.1", "VERS-TLS1.2",
	                                     "VERS-TLS1.3"};
	/* exporter-toolkit's default minimum is TLS 1.2. */
	int lo = 2, hi = 3;
	for (int i = 0; i < 4; i++) {
		if (c->min_version && !strcmp(c->min_version, names[i]))
			lo = i;
		if (c->max_version && !strcmp(c->max_version, names[i]))
			hi = i;
	}
	size_t off = (size_t)snprintf(buf, len, "NORMAL:-VERS-ALL");
	for (int i = lo; i <= hi && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, ":+%s", gnutls[i]);
}
