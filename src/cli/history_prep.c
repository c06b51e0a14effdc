/* The run history's fixed cost, paid while the measured command runs. Opening
 * SQLite in a fresh process (its start, the WAL and its wal-index, the
 * schema, the statements) costs more than recording the run itself; while
 * the command runs joulestat only waits for it, so a thread does that then,
 * and the record after the command's end finds the connection ready
 * (BENCHMARKS.md, section 9). The thread blocks every signal, so that they
 * reach the thread that forwards them to the command as before; its failure
 * is reported by the record as it was when the record opened the file. */
#include "history_prep.h"
#include "prefault.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* SQLite's deepest calls here (the parser, the VDBE) use some tens of KiB. */
enum { STACK_BYTES = 256 << 10 };

static void *prep_main(void *arg)
{
	struct jst_history_prep *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->state)
		pthread_cond_wait(&p->cond, &p->lock);
	int go = p->state == 1;
	pthread_mutex_unlock(&p->lock);
	if (!go)
		return NULL;
	jst_prefault_history();
	p->rc = jst_history_open(p->path, 1, &p->h, p->err, sizeof p->err);
	if (!p->rc)
		(void)jst_history_prepare(p->h); /* else the record prepares them */
	return NULL;
}

int jst_history_prep_start(struct jst_history_prep *p, const char *path)
{
	*p = (struct jst_history_prep){.path = path};
	if (pthread_mutex_init(&p->lock, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&p->cond, NULL)) {
		pthread_mutex_destroy(&p->lock);
		return -ENOMEM;
	}
	/* The thread inherits the mask it is created under. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t a;
	int rc = pthread_attr_init(&a);
	if (!rc) {
		(void)pthread_attr_setstacksize(&a, STACK_BYTES);
		rc = pthread_create(&p->thread, &a, prep_main, p);
		pthread_attr_destroy(&a);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	p->started = !rc;
	if (rc) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
	}
	return -rc;
}

static void tell(struct jst_history_prep *p, int state)
{
	pthread_mutex_lock(&p->lock);
	if (!p->state)
		p->state = state;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void jst_history_prep_go(struct jst_history_prep *p)
{
	if (p->started)
		tell(p, 1);
}

static void join(struct jst_history_prep *p)
{
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	p->started = 0;
}

int jst_history_prep_take(struct jst_history_prep *p, jst_history **h, char *err, size_t errlen)
{
	if (!p->started)
		return jst_history_open(p->path, 1, h, err, errlen);
	tell(p, 1);
	join(p);
	*h = p->h;
	p->h = NULL;
	if (p->rc)
		snprintf(err, errlen, "%s", p->err);
	return p->rc;
}

void jst_history_prep_cancel(struct jst_history_prep *p)
{
	if (!p->started)
		return;
	tell(p, 2);
	join(p);
	jst_history_close(p->h);
	p->h = NULL;
}
