/* Opening the run history ahead, on a thread of its own, while the measured
 * command runs and joulestat only waits for it (history_prep.c). */
#ifndef JST_HISTORY_PREP_H
#define JST_HISTORY_PREP_H

#include "history.h"

#include <pthread.h>
#include <stddef.h>

struct jst_history_prep {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started;      /* the thread runs, or ran: take or cancel joins it */
	int state;        /* 0 waiting, 1 go, 2 cancelled */
	const char *path; /* the history's path: the caller's, kept until take */
	jst_history *h;   /* what the thread opened, or NULL */
	int rc;           /* jst_history_open's result */
	char err[512];    /* and its reason */
};

/* Start the thread that will open path (jst_history_open, created if need
 * be, and jst_history_prepare) once told to go; it blocks every signal.
 * 0, or -errno when no thread could be started: take then opens it itself. */
int jst_history_prep_start(struct jst_history_prep *p, const char *path);

/* Let the thread open the history now. */
void jst_history_prep_go(struct jst_history_prep *p);

/* Wait for the thread and take what it opened: jst_history_open's result,
 * *h and err as jst_history_open gives them. Without a thread started, opens
 * it here (jst_prefault_history is then the caller's). */
int jst_history_prep_take(struct jst_history_prep *p, jst_history **h, char *err, size_t errlen);

/* No record after all: stop the thread (at once when it was not told to go)
 * and close what it opened. */
void jst_history_prep_cancel(struct jst_history_prep *p);

#endif
