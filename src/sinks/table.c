/* Aligned text tables for the human-readable output. */
#include "table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct jst_table {
	char align[32];
	size_t ncols;
	char **cells;           /* row-major, ncols per row; a gap row is all NULL */
	size_t nrows, cap, col; /* col: cells filled in the current (last) row */
	int open;               /* the last row is still being filled */
};

struct jst_table *jst_table_new(const char *align)
{
	struct jst_table *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	snprintf(t->align, sizeof t->align, "%s", align);
	t->ncols = strlen(t->align);
	return t;
}

void jst_table_free(struct jst_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

static int add_row(struct jst_table *t)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof *t->cells);
	t->nrows++;
	t->col = 0;
	return 0;
}

void jst_table_cell(struct jst_table *t, const char *fmt, ...)
{
	if (!t || (!t->open && add_row(t)))
		return;
	t->open = 1;
	if (t->col >= t->ncols)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	t->cells[(t->nrows - 1) * t->ncols + t->col++] = s;
}

void jst_table_end_row(struct jst_table *t)
{
	if (t)
		t->open = 0;
}

void jst_table_gap(struct jst_table *t)
{
	if (!t)
		return;
	t->open = 0;
	add_row(t);
}

size_t jst_text_width(const char *s)
{
	size_t w = 0;
	for (; s && *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80; /* count lead bytes only */
	return w;
}

void jst_table_print(const struct jst_table *t, FILE *f, const char *indent)
{
	if (!t)
		return;
	size_t width[32] = {0};
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = jst_text_width(t->cells[r * t->ncols + c]);
			width[c] = w > width[c] ? w : width[c];
		}
	for (size_t r = 0; r < t->nrows; r++) {
		char *const *row = &t->cells[r * t->ncols];
		size_t last = t->ncols;
		while (last > 0 && (!row[last - 1] || !*row[last - 1]))
			last--;
		if (last > 0)
			fputs(indent, f);
		for (size_t c = 0; c < last; c++) {
			const char *s = row[c] ? row[c] : "";
			size_t pad = width[c] - jst_text_width(s);
			if (t->align[c] == 'r')
				fprintf(f, "%*s%s", (int)pad, "", s);
			else
				fprintf(f, "%s%*s", s, c + 1 < last ? (int)pad : 0, "");
			if (c + 1 < last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
}
