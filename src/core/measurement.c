/* Measurement accessors. */
#include "measurement_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct jst_measurement *jst_measurement_new(const char *name, size_t n)
{
	struct jst_measurement *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->name = strdup(name);
	m->doms = calloc(n ? n : 1, sizeof *m->doms);
	if (!m->name || !m->doms) {
		jst_measurement_free(m);
		return NULL;
	}
	m->n = n;
	return m;
}

void jst_measurement_free(jst_measurement *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->doms);
	free(m);
}

const char *jst_measurement_name(const jst_measurement *m)
{
	return m ? m->name : NULL;
}

double jst_measurement_duration(const jst_measurement *m)
{
	return m ? (double)(m->end_ns - m->begin_ns) * 1e-9 : NAN;
}

int64_t jst_measurement_begin_ns(const jst_measurement *m)
{
	return m ? m->begin_ns : 0;
}

int64_t jst_measurement_end_ns(const jst_measurement *m)
{
	return m ? m->end_ns : 0;
}

int jst_measurement_partial(const jst_measurement *m)
{
	return m ? m->partial : 0;
}

size_t jst_measurement_domain_count(const jst_measurement *m)
{
	return m ? m->n : 0;
}

int jst_measurement_domain(const jst_measurement *m, size_t index, jst_domain_energy *out)
{
	if (!m || !out || index >= m->n)
		return -EINVAL;
	*out = m->doms[index].pub;
	return 0;
}

int jst_measurement_total(const jst_measurement *m, jst_total_kind which, jst_total *out)
{
	if (!m || !out || (unsigned)which >= JST_TOTAL_COUNT_)
		return -EINVAL;
	*out = m->totals[which];
	return 0;
}
