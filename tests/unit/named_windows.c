/* A test-only table of named window handles (see named_windows.h). */
#include "named_windows.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define TW_MAX 256

static struct {
	jst_meter *m;
	char name[64];
	jst_window *w;
	int busy; /* reserved while being begun or ended */
} tab[TW_MAX];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int find(jst_meter *m, const char *name)
{
	for (int i = 0; i < TW_MAX; i++)
		if (tab[i].m == m && !strcmp(tab[i].name, name))
			return i;
	return -1;
}

int tw_begin(jst_meter *m, const char *name)
{
	if (!name)
		return -EINVAL; /* nothing to find it by again */
	pthread_mutex_lock(&mu);
	if (find(m, name) >= 0) {
		pthread_mutex_unlock(&mu);
		return -EEXIST;
	}
	int k = find(NULL, "");
	if (k < 0) {
		pthread_mutex_unlock(&mu);
		return -ENOSPC;
	}
	tab[k].m = m;
	strncpy(tab[k].name, name, sizeof tab[k].name - 1);
	tab[k].busy = 1;
	pthread_mutex_unlock(&mu);
	jst_window *w;
	int r = jst_window_begin(m, name, &w);
	pthread_mutex_lock(&mu);
	if (r) {
		tab[k].m = NULL;
		tab[k].name[0] = 0;
	} else {
		tab[k].w = w;
	}
	tab[k].busy = 0;
	pthread_mutex_unlock(&mu);
	return r;
}

/* Take the handle out of the table (or NULL). */
static jst_window *take(jst_meter *m, const char *name)
{
	if (!name)
		return NULL;
	pthread_mutex_lock(&mu);
	int k = find(m, name);
	jst_window *w = NULL;
	if (k >= 0 && !tab[k].busy) {
		w = tab[k].w;
		memset(&tab[k], 0, sizeof tab[k]);
	}
	pthread_mutex_unlock(&mu);
	return w;
}

int tw_end(jst_meter *m, const char *name, jst_measurement **out)
{
	if (out)
		*out = NULL;
	jst_window *w = take(m, name);
	return w ? jst_window_end(w, out) : -ENOENT;
}

int tw_cancel(jst_meter *m, const char *name)
{
	jst_window *w = take(m, name);
	if (!w)
		return -ENOENT;
	jst_window_cancel(w);
	return 0;
}

void tw_forget(void)
{
	pthread_mutex_lock(&mu);
	memset(tab, 0, sizeof tab);
	pthread_mutex_unlock(&mu);
}
