/* joulestat serve's basic-auth checks (src/cli/serve_auth.c) with real bcrypt
 * hashes: a verified password and a refused one answered from memory without
 * a hash, a peer's budget of checks in flight (the next answered busy at
 * once), another peer's own budget, and stopping with checks queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <crypt.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "serve_auth.h"
#include "webconfig.h"

struct waiter {
	sem_t done;
	int waited, result;
};

static void on_wait(void *arg)
{
	((struct waiter *)arg)->waited = 1;
}

static void on_done(void *arg)
{
	sem_post(&((struct waiter *)arg)->done);
}

/* A bcrypt hash of pass at cost (2^cost rounds). */
static char *hash_of(const char *pass, unsigned long cost)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	assert_non_null(crypt_gensalt_rn("$2b$", cost, NULL, 0, salt, sizeof salt));
	struct crypt_data cd = {0};
	const char *h = crypt_rn(pass, salt, &cd, (int)sizeof cd);
	assert_non_null(h);
	return strdup(h);
}

static enum jst_auth_verdict check(struct jst_auth *a, const char *user, const char *pass,
                                   const char *peer, struct waiter *w)
{
	sem_init(&w->done, 0, 0);
	w->waited = 0;
	return jst_auth_check(a, user, pass, peer, strlen(peer), &w->result, on_wait, on_done, w);
}

static int finish(struct waiter *w)
{
	sem_wait(&w->done);
	sem_destroy(&w->done);
	return w->result;
}

static void test_caches_and_budget(void **st)
{
	(void)st;
	/* Cost 12: a hash takes a few hundred ms, far longer than the few
	 * calls made while two are in flight. */
	struct jst_webconfig wc = {.nusers = 1};
	wc.users[0].user = "prometheus";
	wc.users[0].hash = hash_of("s3cret", 12);
	struct jst_auth *a;
	assert_int_equal(jst_auth_open(&wc, &a), 0);
	struct waiter w[4];

	/* No user, an unknown user: refused with no hash. */
	assert_int_equal(check(a, NULL, NULL, "A", &w[0]), JST_AUTH_DENIED);
	assert_int_equal(check(a, "carol", "s3cret", "A", &w[0]), JST_AUTH_DENIED);
	assert_int_equal(jst_auth_hashes(a), 0);

	/* Peer A: two checks in flight, the third busy at once; peer B has its own. */
	assert_int_equal(check(a, "prometheus", "wrong1", "A", &w[0]), JST_AUTH_PENDING);
	assert_int_equal(check(a, "prometheus", "wrong2", "A", &w[1]), JST_AUTH_PENDING);
	assert_int_equal(w[0].waited && w[1].waited, 1);
	assert_int_equal(check(a, "prometheus", "wrong3", "A", &w[2]), JST_AUTH_BUSY);
	assert_int_equal(check(a, "prometheus", "s3cret", "B", &w[3]), JST_AUTH_PENDING);
	assert_int_equal(finish(&w[0]), JST_AUTH_DENIED);
	assert_int_equal(finish(&w[1]), JST_AUTH_DENIED);
	assert_int_equal(finish(&w[3]), JST_AUTH_OK);
	sem_destroy(&w[2].done);
	assert_int_equal(jst_auth_hashes(a), 3);

	/* From memory now: the refused pair and the verified one, no hash. */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(check(a, "prometheus", "wrong1", "A", &w[0]), JST_AUTH_DENIED);
		sem_destroy(&w[0].done);
		assert_int_equal(check(a, "prometheus", "s3cret", "A", &w[0]), JST_AUTH_OK);
		sem_destroy(&w[0].done);
	}
	assert_int_equal(jst_auth_hashes(a), 3);
	/* A password that only starts like the right one is hashed, and refused. */
	assert_int_equal(check(a, "prometheus", "s3cret!", "A", &w[0]), JST_AUTH_PENDING);
	assert_int_equal(finish(&w[0]), JST_AUTH_DENIED);

	/* Stopping finishes what is queued (each done called), then refuses
	 * new work without hashing. */
	assert_int_equal(check(a, "prometheus", "x1", "C", &w[0]), JST_AUTH_PENDING);
	assert_int_equal(check(a, "prometheus", "x2", "C", &w[1]), JST_AUTH_PENDING);
	jst_auth_stop(a);
	assert_int_equal(finish(&w[0]), JST_AUTH_DENIED);
	assert_int_equal(finish(&w[1]), JST_AUTH_DENIED);
	assert_int_equal(check(a, "prometheus", "x3", "D", &w[2]), JST_AUTH_BUSY);
	sem_destroy(&w[2].done);
	assert_int_equal(check(a, "prometheus", "s3cret", "D", &w[2]), JST_AUTH_OK);
	sem_destroy(&w[2].done);
	jst_auth_close(a);
	free(wc.users[0].hash);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_caches_and_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
