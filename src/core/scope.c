/* The scoped (context-manager) and wrapped (decorator) forms of a window. */
#include "joulestat.h"

#include <errno.h>

jst_scope jst_scope_begin(jst_meter *meter, const char *label, jst_measurement **out)
{
	jst_scope s = {.out = out};
	if (out)
		*out = NULL;
	s.status = jst_window_begin(meter, label, &s.window);
	return s;
}

void jst_scope_end(jst_scope *s)
{
	if (s && s->status == 0 && s->window) {
		s->status = jst_window_end(s->window, s->out);
		s->window = NULL;
	}
}

int jst_measure_call(jst_meter *meter, const char *label, void (*fn)(void *arg), void *arg,
                     jst_measurement **out)
{
	if (out)
		*out = NULL;
	if (!fn)
		return -EINVAL;
	jst_window *w;
	int r = jst_window_begin(meter, label, &w);
	if (r)
		return r;
	fn(arg);
	return jst_window_end(w, out);
}
