/* The scoped (context-manager) and wrapped (decorator) forms of a window. */
#include "joulestat.h"

#include <errno.h>

jst_scope jst_scope_begin(jst_meter *meter, const char *name, jst_measurement **out)
{
	jst_scope s = {.meter = meter, .name = name, .out = out};
	if (out)
		*out = NULL;
	s.status = jst_window_begin(meter, name);
	return s;
}

void jst_scope_end(jst_scope *s)
{
	if (s && s->status == 0)
		s->status = jst_window_end(s->meter, s->name, s->out);
}

int jst_measure_call(jst_meter *meter, const char *name, void (*fn)(void *arg), void *arg,
                     jst_measurement **out)
{
	if (!fn)
		return -EINVAL;
	int r = jst_window_begin(meter, name);
	if (r)
		return r;
	fn(arg);
	return jst_window_end(meter, name, out);
}
