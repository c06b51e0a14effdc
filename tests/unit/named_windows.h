/* Windows found by name, for tests written around names: a small table of
 * open handles (thread safe), so that one thread may end what another began. */
#ifndef JST_NAMED_WINDOWS_H
#define JST_NAMED_WINDOWS_H

#include "joulestat.h"

/* 0, -EEXIST when a window of that name is open, or jst_window_begin's error. */
int tw_begin(jst_meter *m, const char *name);
/* 0, -ENOENT when none is open, or jst_window_end's error. */
int tw_end(jst_meter *m, const char *name, jst_measurement **out);
/* 0, or -ENOENT. */
int tw_cancel(jst_meter *m, const char *name);
/* Forget every entry (after the meter that held them closed). */
void tw_forget(void);

#endif
