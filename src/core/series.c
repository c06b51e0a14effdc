#include "series.h"

#include <errno.h>
#include <stdlib.h>

int jst_series_init(struct jst_series *s, size_t cap)
{
	*s = (struct jst_series){0};
	if (cap == 0)
		return -EINVAL;
	s->buf = calloc(cap, sizeof *s->buf);
	if (!s->buf)
		return -ENOMEM;
	s->cap = cap;
	return 0;
}

void jst_series_free(struct jst_series *s)
{
	free(s->buf);
	*s = (struct jst_series){0};
}

void jst_series_push(struct jst_series *s, const jst_sample *sample)
{
	s->buf[s->head] = *sample;
	s->head = (s->head + 1) % s->cap;
	if (s->count < s->cap)
		s->count++;
}

size_t jst_series_copy(const struct jst_series *s, jst_sample *out, size_t n)
{
	size_t k = n < s->count ? n : s->count;
	size_t start = (s->head + s->cap - k) % s->cap;
	for (size_t i = 0; i < k; i++)
		out[i] = s->buf[(start + i) % s->cap];
	return k;
}
