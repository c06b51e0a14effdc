/*
 * Parsing what a PTDaemon says (see ptd_proto.h). Every reply comes from the
 * network: nothing is trusted, every number is checked for range, and a reply
 * that is not exactly a reading is refused rather than half-read.
 */
#include "ptd_proto.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most power a node analyser's channel may report: a rack is below this. */
#define PTD_WATTS_MAX 1e7
/* Seconds since the epoch: 2000 to 2200. Outside, the clock is not a clock. */
#define PTD_TIME_MIN 946684800.0
#define PTD_TIME_MAX 7258118400.0

int jst_ptd_reply_is_error(const char *line)
{
	while (*line == ' ')
		line++;
	return strncasecmp(line, "error", 5) == 0;
}

/* A whole field as a finite number (spaces around allowed). */
static int number(const char *s, size_t len, double *out)
{
	char buf[64];
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (!len || len >= sizeof buf)
		return -EBADMSG;
	memcpy(buf, s, len);
	buf[len] = 0;
	/* strtod also reads hex, "inf" and "nan": none is an analyser's number. */
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789+-.eE", buf[i]))
			return -EBADMSG;
	char *end;
	errno = 0;
	double v = strtod(buf, &end);
	if (errno || end == buf || *end || !isfinite(v))
		return -EBADMSG;
	*out = v;
	return 0;
}

int jst_ptd_parse_time(const char *text, double *out_s)
{
	size_t len = strlen(text);
	double v;
	if (number(text, len, &v) == 0) {
		if (v < PTD_TIME_MIN || v > PTD_TIME_MAX)
			return -EBADMSG;
		*out_s = v;
		return 0;
	}
	/* PTDaemon's log form: MM-DD-YYYY HH:MM:SS.mmm */
	int mo, d, y, h, mi, s, n = 0;
	char frac[16] = "";
	if (sscanf(text, " %2d-%2d-%4d %2d:%2d:%2d%n", &mo, &d, &y, &h, &mi, &s, &n) != 6)
		return -EBADMSG;
	const char *p = text + n;
	if (*p == '.') {
		size_t k = 0;
		p++;
		while (isdigit((unsigned char)*p) && k < sizeof frac - 1)
			frac[k++] = *p++;
		frac[k] = 0;
		if (!k)
			return -EBADMSG;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || y < 2000 || y > 2199 || h > 23 ||
	    mi > 59 || s > 60 || h < 0 || mi < 0 || s < 0)
		return -EBADMSG;
	struct tm tm = {.tm_year = y - 1900,
	                .tm_mon = mo - 1,
	                .tm_mday = d,
	                .tm_hour = h,
	                .tm_min = mi,
	                .tm_sec = s};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EBADMSG;
	double f = frac[0] ? strtod(frac, NULL) / pow(10, (double)strlen(frac)) : 0;
	*out_s = (double)t + f;
	return 0;
}

/* The next field of a comma-separated line: [*p, end), *p moved past it. */
static int field(const char **p, const char **start, size_t *len)
{
	if (!*p)
		return 0;
	*start = *p;
	const char *comma = strchr(*p, ',');
	if (comma) {
		*len = (size_t)(comma - *p);
		*p = comma + 1;
	} else {
		*len = strlen(*p);
		*p = NULL;
	}
	return 1;
}

static int key_is(const char *k, size_t len, const char *name)
{
	while (len && isspace((unsigned char)*k)) {
		k++;
		len--;
	}
	while (len && isspace((unsigned char)k[len - 1]))
		len--;
	return len == strlen(name) && strncasecmp(k, name, len) == 0;
}

/* A relative uncertainty: "0.0023" or "0.23%". */
static int relative(const char *v, size_t len, double *out)
{
	while (len && isspace((unsigned char)v[len - 1]))
		len--;
	int pct = len && v[len - 1] == '%';
	double x;
	if (number(v, len - (size_t)pct, &x))
		return -EBADMSG;
	if (pct)
		x /= 100;
	if (!(x > 0 && x < 1))
		return -EBADMSG;
	*out = x;
	return 0;
}

int jst_ptd_parse_sample(const char *line, struct jst_ptd_sample *out)
{
	*out = (struct jst_ptd_sample){
	    .time_s = NAN,
	    .watts = NAN,
	    .volts = NAN,
	    .amps = NAN,
	    .pf = NAN,
	    .energy_j = NAN,
	    .uncertainty = NAN,
	};
	if (jst_ptd_reply_is_error(line))
		return -EPROTO;
	if (strlen(line) >= JST_PTD_LINE_MAX)
		return -EBADMSG;
	const char *p = line, *k, *v;
	size_t klen, vlen;
	int seen_watts = 0;
	while (field(&p, &k, &klen)) {
		if (!field(&p, &v, &vlen))
			return -EBADMSG; /* a key without its value: truncated */
		double x;
		if (key_is(k, klen, "Time")) {
			char t[48];
			if (vlen >= sizeof t || out->has_time)
				return -EBADMSG;
			memcpy(t, v, vlen);
			t[vlen] = 0;
			if (jst_ptd_parse_time(t, &out->time_s))
				return -EBADMSG;
			out->has_time = 1;
		} else if (key_is(k, klen, "Mark")) {
			if (vlen >= sizeof out->mark)
				return -EBADMSG;
			memcpy(out->mark, v, vlen);
			out->mark[vlen] = 0;
			for (size_t i = 0; i < vlen; i++)
				if (!isprint((unsigned char)out->mark[i]))
					return -EBADMSG;
		} else if (key_is(k, klen, "Uncertainty")) {
			if (relative(v, vlen, &out->uncertainty))
				return -EBADMSG;
		} else {
			double *dst = key_is(k, klen, "Watts")   ? &out->watts
			              : key_is(k, klen, "Volts") ? &out->volts
			              : key_is(k, klen, "Amps")  ? &out->amps
			              : key_is(k, klen, "PF")    ? &out->pf
			              : key_is(k, klen, "Wh")    ? &out->energy_j
			                                         : NULL;
			if (number(v, vlen, &x))
				return -EBADMSG;
			if (!dst)
				continue; /* a quantity joulestat does not use */
			if (!isnan(*dst))
				return -EBADMSG; /* said twice: which one? */
			if (dst == &out->energy_j) {
				if (x < 0 || x > PTD_WATTS_MAX * 1e6 / 3600)
					return -EBADMSG;
				x *= 3600; /* Wh */
			}
			*dst = x;
			seen_watts |= dst == &out->watts;
		}
	}
	if (!seen_watts)
		return -EBADMSG;
	if (out->watts < 0)
		return -ERANGE;
	if (out->watts > PTD_WATTS_MAX)
		return -EBADMSG;
	return 0;
}

int jst_ptd_parse_time_reply(const char *line, double *out_s)
{
	if (jst_ptd_reply_is_error(line))
		return -EPROTO;
	const char *p = line;
	while (isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, "Time,", 5) == 0)
		p += 5;
	return jst_ptd_parse_time(p, out_s);
}

int jst_ptd_parse_uncertainty(const char *line, double *out)
{
	if (jst_ptd_reply_is_error(line))
		return -EPROTO;
	const char *p = line;
	while (isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, "Uncertainty,", 12) == 0)
		p += 12;
	return relative(p, strlen(p), out);
}

int jst_ptd_parse_address(const char *text, char *host, size_t hostlen, unsigned *port, char *err,
                          size_t errlen)
{
	const char *h = text, *colon;
	size_t hl;
	if (*text == '[') {
		const char *close = strchr(text, ']');
		if (!close) {
			snprintf(err, errlen, "'%.64s': an IPv6 address without its ']'", text);
			return -EINVAL;
		}
		h = text + 1;
		hl = (size_t)(close - h);
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] && !colon) {
			snprintf(err, errlen, "'%.64s': ':PORT' expected after ']'", text);
			return -EINVAL;
		}
	} else {
		colon = strrchr(text, ':');
		if (colon && strchr(text, ':') != colon) {
			snprintf(err, errlen,
			         "'%.64s': an IPv6 address goes in brackets: [ADDR]:PORT", text);
			return -EINVAL;
		}
		hl = colon ? (size_t)(colon - text) : strlen(text);
	}
	if (!hl || hl >= hostlen) {
		snprintf(err, errlen, "'%.64s': no host, or a host name too long", text);
		return -EINVAL;
	}
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)h[i]) && !strchr(".-_:%", h[i])) {
			snprintf(err, errlen, "'%.64s': not a host name or address", text);
			return -EINVAL;
		}
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = JST_PTD_DEFAULT_PORT;
	if (colon) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || v == 0 || v > 65535 ||
		    !isdigit((unsigned char)colon[1])) {
			snprintf(err, errlen, "'%.64s': the port is not a number from 1 to 65535",
			         text);
			return -EINVAL;
		}
		*port = (unsigned)v;
	}
	return 0;
}

int jst_ptd_parse_ranges(const char *text, double *volts, double *amps)
{
	if (strcasecmp(text, "auto") == 0 || !*text) {
		*volts = *amps = 0;
		return 0;
	}
	const char *comma = strchr(text, ',');
	if (!comma)
		return -EINVAL;
	double v, a;
	if (number(text, (size_t)(comma - text), &v) || number(comma + 1, strlen(comma + 1), &a) ||
	    !(v > 0) || !(a > 0) || v > 1e5 || a > 1e4)
		return -EINVAL;
	*volts = v;
	*amps = a;
	return 0;
}
