/* The meter's one background thread: integrates power-only domains, keeps
 * wrapping counters read at least twice per wrap, records the time series.
 * In the meter's first moments it also polls fast, between its periodic
 * readings, while a counter's refresh is being measured (sensor.h). */
#include "meter_internal.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

/* How long measuring may take: enough for a dozen changes of a counter
 * refreshed every 100 ms. */
#define JST_MEASURE_FOR_NS 1500000000LL

int jst_sampler_measures = 1;

int jst_meter_measure_step(struct jst_meter *m, int64_t now)
{
	int done = 1;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->ndoms; i++) {
		struct jst_sensor *s = &m->doms[i].sensor;
		if (!s->measuring)
			continue;
		if (!s->measure_start_ns)
			s->measure_start_ns = now;
		if (!jst_sensor_measure_enough(s) &&
		    now - s->measure_start_ns < JST_MEASURE_FOR_NS) {
			done = 0;
			continue;
		}
		/* A machine too busy for the measuring reads to bracket the changes
		 * tries again, a few times, while figures go on with the refresh
		 * assumed (and their uncertainty widened for it). */
		if (!jst_sensor_measure_finish(s, JST_FAST_POLL_NS) && ++s->attempts < 4) {
			s->measuring = 1;
			s->nmeas = 0;
			s->measure_start_ns = now;
			done = 0;
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (done) {
		pthread_mutex_lock(&m->smu);
		m->settled = 1;
		pthread_cond_broadcast(&m->scond);
		pthread_mutex_unlock(&m->smu);
	}
	return done;
}

/* Wait until t or stop; 1 when stopping. Called with smu held. */
static int wait_until(struct jst_meter *m, int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
	while (!m->stop && pthread_cond_timedwait(&m->scond, &m->smu, &ts) != ETIMEDOUT)
		;
	return m->stop;
}

static void *sampler_main(void *arg)
{
	struct jst_meter *m = arg;
	int64_t period = (int64_t)(m->period_s * 1e9);
	int64_t start = jst_real_now_ns(), next = start;
	int measuring = !m->settled && jst_sampler_measures;

	pthread_mutex_lock(&m->smu);
	while (!m->stop) {
		next += period;
		int64_t now = jst_real_now_ns();
		if (next <= now) /* fell behind (suspended, overloaded): skip, keep phase */
			next += ((now - next) / period + 1) * period;
		/* Measuring reads fill the time up to the next periodic one. */
		while (measuring && !m->stop) {
			int64_t t = jst_real_now_ns() + JST_FAST_POLL_NS;
			if (t >= next)
				break;
			if (wait_until(m, t))
				break;
			pthread_mutex_unlock(&m->smu);
			jst_meter_read(m, 0, NULL);
			measuring = !jst_meter_measure_step(m, jst_real_now_ns());
			pthread_mutex_lock(&m->smu);
		}
		if (wait_until(m, next))
			break;
		pthread_mutex_unlock(&m->smu);
		jst_meter_read(m, JST_READ_SAMPLER | JST_READ_TELE, NULL);
		/* A period at or below the fast poll's measures the refresh by itself. */
		if (measuring)
			measuring = !jst_meter_measure_step(m, jst_real_now_ns());
		pthread_mutex_lock(&m->smu);
	}
	if (jst_sampler_measures)
		m->settled = 1; /* nobody waits for a stopped sampler */
	pthread_cond_broadcast(&m->scond);
	pthread_mutex_unlock(&m->smu);
	return NULL;
}

int jst_sampler_start(struct jst_meter *m)
{
	m->stop = 0;
	/* Signals are the application's: the sampler takes none of them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&m->sampler, NULL, sampler_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
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
