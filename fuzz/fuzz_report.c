/* Fuzz target: a run's JSON, what `joulestat report` reads, to jst_report_parse,
 * and what it accepts drawn as SVG and HTML. A refusal says why; whatever is
 * drawn has every tag closed, every value quoted, a finite number in every
 * coordinate and figure attribute, and one <svg> and one </svg>. */
#include "fuzz.h"
#include "report.h"

#include <errno.h>

/* Attributes that hold numbers (or a path of them). */
static const char *const numeric[] = {
    "x",
    "y",
    "width",
    "height",
    "cx",
    "cy",
    "x1",
    "x2",
    "y1",
    "y2",
    "d",
    "data-energy-j",
    "data-uncertainty-j",
    "data-lo-j",
    "data-hi-j",
    "data-p-lo-w",
    "data-p-hi-w",
    "data-e-lo-j",
    "data-e-hi-j",
    "data-t-lo-s",
    "data-t-hi-s",
};

static int is_numeric(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof numeric / sizeof *numeric; i++)
		if (strlen(numeric[i]) == len && !memcmp(numeric[i], name, len))
			return 1;
	return 0;
}

/* Walk the markup: outside tags no '<' can come from the input (it is
 * escaped), inside an attribute's value no '"'. Each numeric attribute's
 * value must be numbers; tags must open and close. */
static void check(const char *out)
{
	size_t svg_open = 0, svg_close = 0;
	const char *p = out;
	while ((p = strchr(p, '<'))) {
		p++;
		if (!strncmp(p, "svg", 3))
			svg_open++;
		if (!strncmp(p, "/svg>", 5))
			svg_close++;
		while (*p && *p != '>') {
			if (*p != '=') {
				p++;
				continue;
			}
			const char *name_end = p, *name = p;
			while (name > out && name[-1] != ' ' && name[-1] != '<')
				name--;
			if (p[1] != '"')
				abort(); /* every value is quoted */
			const char *v = p + 2, *q = strchr(v, '"');
			if (!q)
				abort();
			if (is_numeric(name, (size_t)(name_end - name)) &&
			    strspn(v, "0123456789.eE+- ML") != (size_t)(q - v))
				abort();
			p = q + 1;
		}
		if (!*p)
			abort(); /* a tag left open */
	}
	if (svg_open != 1 || svg_close != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!doc)
		return 0;
	struct jst_report *r;
	char err[256] = "";
	int rc = jst_report_parse(doc, &r, err, sizeof err);
	json_decref(doc);
	if (rc) {
		if (rc != -ENOMEM && (rc != -EINVAL || !err[0]))
			abort();
		return 0;
	}
	for (int html = 0; html < 2; html++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		if (!f)
			break;
		rc = html ? jst_report_write_html(r, f) : jst_report_write_svg(r, f, 1);
		if (fclose(f) == 0 && rc == 0)
			check(buf);
		free(buf);
	}
	jst_report_free(r);
	return 0;
}
