/* The meter's one background thread: integrates power-only domains, keeps
 * wrapping counters read at least twice per wrap, records the time series. */
#include "meter_internal.h"

#include <errno.h>
#include <time.h>

static void *sampler_main(void *arg)
{
	struct jst_meter *m = arg;
	int64_t period = (int64_t)(m->period_s * 1e9);
	int64_t next = jst_now_ns();

	pthread_mutex_lock(&m->smu);
	while (!m->stop) {
		next += period;
		int64_t now = jst_now_ns();
		if (next <= now) /* fell behind (suspended, overloaded): skip, keep phase */
			next += ((now - next) / period + 1) * period;
		struct timespec ts = {.tv_sec = next / 1000000000LL,
		                      .tv_nsec = next % 1000000000LL};
		while (!m->stop && pthread_cond_timedwait(&m->scond, &m->smu, &ts) != ETIMEDOUT)
			;
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->smu);

		pthread_mutex_lock(&m->mu);
		jst_meter_read_locked(m, 1, 1);
		pthread_mutex_unlock(&m->mu);

		pthread_mutex_lock(&m->smu);
	}
	pthread_mutex_unlock(&m->smu);
	return NULL;
}

int jst_sampler_start(struct jst_meter *m)
{
	m->stop = 0;
	int r = pthread_create(&m->sampler, NULL, sampler_main, m);
	if (r)
		return -r;
	m->sampler_running = 1;
	return 0;
}

void jst_sampler_stop(struct jst_meter *m)
{
	if (!m->sampler_running)
		return;
	pthread_mutex_lock(&m->smu);
	m->stop = 1;
	pthread_cond_broadcast(&m->scond);
	pthread_mutex_unlock(&m->smu);
	pthread_join(m->sampler, NULL);
	m->sampler_running = 0;
}
