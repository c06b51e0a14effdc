/* The built-in CPU load of `joulestat burn` and `joulestat validate`: floating
 * point arithmetic that the compiler cannot remove, on every thread asked for. */
#include "burn.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct burner {
	pthread_t thread;
	int64_t until_ns;
	int (*stop)(void);
	double result;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *burn_main(void *arg)
{
	struct burner *b = arg;
	/* A rotation keeps the values bounded: no overflow, no denormals, no NaN,
	 * whose arithmetic could run at another speed. */
	const double c = 0.99999950000004167, s = 0.00099999983333334167; /* cos, sin 1e-3 */
	double x = 1.0, y = 0.0;
	while (now_ns() < b->until_ns && !(b->stop && b->stop())) {
		/* Enough work between clock reads that reading the clock (and the
		 * stop flag) costs nothing, little enough that a stop is prompt. */
		for (int i = 0; i < 100000; i++) {
			double nx = x * c - y * s;
			y = x * s + y * c;
			x = nx;
		}
	}
	b->result = x + y; /* the loop has an observable result */
	return NULL;
}

unsigned jst_burn_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

int jst_burn(double seconds, unsigned threads, int (*stop)(void))
{
	if (!threads)
		threads = jst_burn_default_threads();
	struct burner *b = calloc(threads, sizeof *b);
	if (!b)
		return -ENOMEM;
	int64_t until = now_ns() + (int64_t)(seconds * 1e9);
	unsigned started = 0;
	int rc = 0;
	for (; started < threads; started++) {
		b[started].until_ns = until;
		b[started].stop = stop;
		/* The calling thread burns too, as the last burner. */
		if (started + 1 == threads)
			break;
		if ((rc = -pthread_create(&b[started].thread, NULL, burn_main, &b[started])))
			break;
	}
	if (!rc)
		burn_main(&b[started]);
	for (unsigned i = 0; i < started; i++)
		pthread_join(b[i].thread, NULL);
	volatile double sink = 0;
	for (unsigned i = 0; i < threads; i++)
		sink += b[i].result;
	(void)sink;
	free(b);
	return rc;
}
