/* Escaping for the report's XML and HTML, and the axes of its plots. */
#include "report.h"

#include <math.h>

/* Length of the UTF-8 sequence at s (1-4), or 0 when it is not one XML allows. */
static size_t utf8_len(const unsigned char *s, unsigned *cp)
{
	size_t n;
	unsigned c = s[0], min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond Unicode, and the two non-characters XML forbids. */
	if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff || c == 0xfffe || c == 0xffff)
		return 0;
	*cp = c;
	return n;
}

void jst_report_xml_text(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		unsigned cp;
		size_t n = utf8_len(p, &cp);
		if (!n) {
			fputs("\xef\xbf\xbd", f); /* U+FFFD for a byte that is not UTF-8 */
			p++;
			continue;
		}
		switch (cp) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			/* XML 1.0 has no way to write the other C0 controls, even escaped. */
			if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
				break;
			fwrite(p, 1, n, f);
		}
		p += n;
	}
}

void jst_report_axis_nice(double lo, double hi, int target, struct jst_report_axis *a)
{
	if (!isfinite(lo) || !isfinite(hi) || hi < lo)
		lo = hi = 0;
	if (target < 1)
		target = 1;
	if (hi - lo <= 0) {
		/* One value: an axis around it (from 0 when it is positive). */
		double v = hi;
		hi = v > 0 ? v : v + 1;
		lo = v > 0 ? 0 : v;
		if (v == 0)
			lo = 0, hi = 1;
	}
	double raw = (hi - lo) / target;
	double mag = pow(10, floor(log10(raw)));
	double f = raw / mag;
	double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	a->step = step;
	a->lo = floor(lo / step + 1e-9) * step;
	a->hi = ceil(hi / step - 1e-9) * step;
	a->nticks = (int)lround((a->hi - a->lo) / step) + 1;
}

double jst_report_axis_map(const struct jst_report_axis *a, double v, double px0, double px1)
{
	if (!(a->hi > a->lo) || isnan(v))
		return px0;
	/* Far outside the plot is as good as at its edge plus a screen: a
	 * coordinate stays a number SVG can hold. */
	double px = px0 + (v - a->lo) / (a->hi - a->lo) * (px1 - px0);
	double span = fabs(px1 - px0) + 1e4;
	return fmin(fmax(px, fmin(px0, px1) - span), fmax(px0, px1) + span);
}
