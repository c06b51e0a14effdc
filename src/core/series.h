/* A fixed-size ring of samples: memory stays constant however long it runs. */
#ifndef JST_SERIES_H
#define JST_SERIES_H

#include "joulestat.h"

#include <stddef.h>

struct jst_series {
	jst_sample *buf;
	size_t cap;
	size_t head;  /* next slot to write */
	size_t count; /* valid samples, <= cap */
};

int jst_series_init(struct jst_series *s, size_t cap);
void jst_series_free(struct jst_series *s);
void jst_series_push(struct jst_series *s, const jst_sample *sample);
/* Copy the newest min(count, n) samples, oldest first. Returns how many. */
size_t jst_series_copy(const struct jst_series *s, jst_sample *out, size_t n);

#endif
