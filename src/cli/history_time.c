/* The time bounds of `joulestat history` and `export` in the stored form of
 * runs.start. The starts are compared with them as text: the bound is brought
 * to the same fixed-width UTC form instead of the column being converted, so
 * that the comparison stays a plain one SQLite can answer from an index on
 * start, were there one. */
#include "history_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* n decimal digits at p as a number, or -1. */
static int digits(const char *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static int bad(char *why, size_t len, const char *text)
{
	snprintf(why, len, "%s", text);
	return -EINVAL;
}

int jst_history_time_bound(const char *arg, char out[JST_HISTORY_TIME_LEN], char *why,
                           size_t whylen)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t n = strlen(arg);
	if (n < 10 || arg[4] != '-' || arg[7] != '-')
		return bad(why, whylen, "not a date (YYYY-MM-DD) nor a time (YYYY-MM-DDTHH:MM...)");
	int y = digits(arg, 4), mo = digits(arg + 5, 2), d = digits(arg + 8, 2);
	if (y < 0 || mo < 0 || d < 0)
		return bad(why, whylen, "not a date (YYYY-MM-DD) nor a time (YYYY-MM-DDTHH:MM...)");
	if (mo < 1 || mo > 12)
		return bad(why, whylen, "no such month");
	int leap = mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
	if (d < 1 || d > mdays[mo - 1] + leap)
		return bad(why, whylen, "no such day");
	int h = 0, mi = 0, s = 0, frac_ms = 0, offset_min = 0;
	const char *p = arg + 10;
	if (*p) {
		/* T HH:MM [:SS [.fraction]] then Z or +HH:MM / -HH:MM (RFC 3339 allows
		 * a lower-case t and z; seconds may be left out, as ISO 8601 lets). */
		if ((*p != 'T' && *p != 't') || digits(p + 1, 2) < 0 || p[3] != ':' ||
		    digits(p + 4, 2) < 0)
			return bad(why, whylen,
			           "a time is YYYY-MM-DDTHH:MM[:SS[.fraction]] then Z or an "
			           "offset (+01:00)");
		h = digits(p + 1, 2);
		mi = digits(p + 4, 2);
		if (h > 23 || mi > 59)
			return bad(why, whylen, "no such time of day");
		p += 6;
		if (*p == ':') {
			s = digits(p + 1, 2);
			if (s < 0)
				return bad(why, whylen, "seconds are two digits (SS)");
			if (s > 60) /* 60: a leap second, the first instant of the next */
				return bad(why, whylen, "no such second");
			p += 3;
			if (*p == '.') {
				p++;
				if (!isdigit((unsigned char)*p))
					return bad(why, whylen,
					           "a fraction of a second needs digits");
				/* The starts are kept to the millisecond: a finer bound
				 * is rounded up to the next, which a start recorded to
				 * the millisecond reaches exactly when it reaches the
				 * bound itself. */
				int k = 0, finer = 0;
				for (; isdigit((unsigned char)*p); p++, k++) {
					if (k < 3)
						frac_ms = frac_ms * 10 + (*p - '0');
					else if (*p != '0')
						finer = 1;
				}
				for (; k < 3; k++)
					frac_ms *= 10;
				frac_ms += finer;
			}
		}
		if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
			offset_min = 0;
		} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
			int oh = digits(p + 1, 2), om = digits(p + 4, 2);
			if (oh < 0 || om < 0 || oh > 23 || om > 59)
				return bad(why, whylen, "an offset is +HH:MM or -HH:MM");
			offset_min = (*p == '-' ? -1 : 1) * (oh * 60 + om);
		} else if (*p == '\0') {
			return bad(why, whylen,
			           "a time needs its zone: Z for UTC, or an offset such as +01:00");
		} else {
			return bad(
			    why, whylen,
			    "a time ends in Z or an offset (+01:00) after HH:MM[:SS[.fraction]]");
		}
	}
	/* The instant at UTC: timegm folds the offset (and a leap second) into
	 * the fields; a fraction rounded up to 1000 ms carries into them. */
	struct tm tm = {.tm_year = y - 1900,
	                .tm_mon = mo - 1,
	                .tm_mday = d,
	                .tm_hour = h,
	                .tm_min = mi - offset_min,
	                .tm_sec = s + frac_ms / 1000};
	frac_ms %= 1000;
	time_t t = timegm(&tm);
	struct tm u;
	if (!gmtime_r(&t, &u) || u.tm_year < -1900 || u.tm_year > 9999 - 1900) {
		snprintf(why, whylen, "outside the years 0000 to 9999 in UTC");
		return -ERANGE;
	}
	/* Each field is within its width here; a scratch buffer of the width
	 * the compiler can prove spares the check of it. */
	char text[96];
	int len =
	    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", u.tm_year + 1900,
	             u.tm_mon + 1, u.tm_mday, u.tm_hour, u.tm_min, u.tm_sec, frac_ms);
	if (len != JST_HISTORY_TIME_LEN - 1)
		return bad(why, whylen, "not a time that can be written"); /* not reached */
	memcpy(out, text, JST_HISTORY_TIME_LEN);
	return 0;
}
