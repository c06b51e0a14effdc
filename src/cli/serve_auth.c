/* Basic auth checks for joulestat serve (serve_auth.h): caches of verified
 * and refused passwords, a per-peer budget, and bcrypt on worker threads. */
#include "serve_auth.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PEER_MAX = 16 };

struct job {
	int used, running;
	size_t user;
	char *pass;
	unsigned char peer[PEER_MAX];
	size_t peerlen;
	int *result;
	void (*done)(void *);
	void *arg;
	uint64_t seq; /* first come, first checked */
};

struct failed {
	size_t user;
	char *pass;
	double t;
};

struct jst_auth {
	const struct jst_webconfig *wc;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t workers[JST_AUTH_WORKERS];
	size_t nworkers;
	int stopping;
	struct job jobs[JST_AUTH_QUEUE];
	uint64_t seq;
	/* Per user, the last password that matched its hash, then compared in
	 * constant time. */
	char *verified[JST_WEBCONFIG_USERS_MAX];
	/* Refused pairs, newest over oldest: a peer repeating a wrong password
	 * costs no hash. */
	struct failed failed[JST_AUTH_FAILED_CACHE];
	size_t failed_next;
	unsigned long hashes;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Equal strings, in time that depends on a's length only. */
static int same(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	unsigned char d = na != nb;
	for (size_t i = 0; i < na; i++)
		d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
	return d == 0;
}

static int bcrypt_ok(const char *pass, const char *hash)
{
	/* crypt_rn: it fails with NULL rather than a "*" hash, and sanitizer
	 * runtimes that wrap crypt_r (not always soundly) leave it alone. */
	struct crypt_data *cd = calloc(1, sizeof *cd);
	const char *h = cd ? crypt_rn(pass, hash, cd, (int)sizeof *cd) : NULL;
	int ok = h && h[0] != '*' && same(h, hash);
	free(cd);
	return ok;
}

/* The oldest queued job, or NULL. Called with mu held. */
static struct job *next_job(struct jst_auth *a)
{
	struct job *best = NULL;
	for (size_t i = 0; i < JST_AUTH_QUEUE; i++) {
		struct job *j = &a->jobs[i];
		if (j->used && !j->running && (!best || j->seq < best->seq))
			best = j;
	}
	return best;
}

static void remember(struct jst_auth *a, size_t user, const char *pass, int ok)
{
	if (ok) {
		free(a->verified[user]);
		a->verified[user] = strdup(pass);
		return;
	}
	struct failed *f = &a->failed[a->failed_next];
	a->failed_next = (a->failed_next + 1) % JST_AUTH_FAILED_CACHE;
	free(f->pass);
	*f = (struct failed){.user = user, .pass = strdup(pass), .t = now_s()};
}

static void *worker(void *arg)
{
	struct jst_auth *a = arg;
	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct job *j = next_job(a);
		if (!j) {
			if (a->stopping)
				break;
			pthread_cond_wait(&a->cv, &a->mu);
			continue;
		}
		j->running = 1;
		size_t user = j->user;
		pthread_mutex_unlock(&a->mu);
		int ok = bcrypt_ok(j->pass, a->wc->users[user].hash);
		pthread_mutex_lock(&a->mu);
		a->hashes++;
		remember(a, user, j->pass, ok);
		int *result = j->result;
		void (*done)(void *) = j->done;
		void *darg = j->arg;
		free(j->pass);
		*j = (struct job){0};
		pthread_mutex_unlock(&a->mu);
		*result = ok ? JST_AUTH_OK : JST_AUTH_DENIED;
		done(darg);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int jst_auth_open(const struct jst_webconfig *wc, struct jst_auth **out)
{
	struct jst_auth *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->wc = wc;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	/* The workers start with every signal blocked: serve's main thread
	 * takes SIGINT, SIGTERM and SIGHUP in sigwait. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = 0;
	for (; a->nworkers < JST_AUTH_WORKERS; a->nworkers++) {
		rc = -pthread_create(&a->workers[a->nworkers], NULL, worker, a);
		if (rc)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		jst_auth_close(a);
		return rc;
	}
	*out = a;
	return 0;
}

void jst_auth_stop(struct jst_auth *a)
{
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	for (size_t i = 0; i < a->nworkers; i++)
		pthread_join(a->workers[i], NULL);
	a->nworkers = 0;
}

void jst_auth_close(struct jst_auth *a)
{
	if (!a)
		return;
	jst_auth_stop(a);
	for (size_t i = 0; i < JST_WEBCONFIG_USERS_MAX; i++)
		free(a->verified[i]);
	for (size_t i = 0; i < JST_AUTH_FAILED_CACHE; i++)
		free(a->failed[i].pass);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

unsigned long jst_auth_hashes(struct jst_auth *a)
{
	pthread_mutex_lock(&a->mu);
	unsigned long n = a->hashes;
	pthread_mutex_unlock(&a->mu);
	return n;
}

/* Called with mu held. */
static enum jst_auth_verdict decide(struct jst_auth *a, size_t user, const char *pass,
                                    const void *peer, size_t peerlen, int *result,
                                    void (*wait)(void *), void (*done)(void *), void *arg)
{
	if (a->verified[user] && same(a->verified[user], pass))
		return JST_AUTH_OK;
	double now = now_s();
	for (size_t i = 0; i < JST_AUTH_FAILED_CACHE; i++) {
		const struct failed *f = &a->failed[i];
		if (f->pass && f->user == user && now - f->t < JST_AUTH_FAILED_TTL_S &&
		    same(f->pass, pass))
			return JST_AUTH_DENIED;
	}
	if (peerlen > PEER_MAX)
		peerlen = PEER_MAX;
	struct job *slot = NULL;
	size_t mine = 0;
	for (size_t i = 0; i < JST_AUTH_QUEUE; i++) {
		struct job *j = &a->jobs[i];
		if (!j->used)
			slot = slot ? slot : j;
		else if (j->peerlen == peerlen && !memcmp(j->peer, peer, peerlen))
			mine++;
	}
	if (!slot || mine >= JST_AUTH_PER_PEER || a->stopping)
		return JST_AUTH_BUSY;
	char *copy = strdup(pass);
	if (!copy)
		return JST_AUTH_BUSY;
	*slot = (struct job){.used = 1,
	                     .user = user,
	                     .pass = copy,
	                     .peerlen = peerlen,
	                     .result = result,
	                     .done = done,
	                     .arg = arg,
	                     .seq = a->seq++};
	memcpy(slot->peer, peer, peerlen);
	/* Under the lock: no worker can take the job, and call done, before the
	 * caller is ready for it. */
	wait(arg);
	pthread_cond_signal(&a->cv);
	return JST_AUTH_PENDING;
}

enum jst_auth_verdict jst_auth_check(struct jst_auth *a, const char *user, const char *pass,
                                     const void *peer, size_t peerlen, int *result,
                                     void (*wait)(void *arg), void (*done)(void *arg), void *arg)
{
	if (!user || !pass)
		return JST_AUTH_DENIED;
	size_t u = 0;
	while (u < a->wc->nusers && strcmp(a->wc->users[u].user, user) != 0)
		u++;
	if (u == a->wc->nusers)
		return JST_AUTH_DENIED;
	pthread_mutex_lock(&a->mu);
	enum jst_auth_verdict v = decide(a, u, pass, peer, peerlen, result, wait, done, arg);
	pthread_mutex_unlock(&a->mu);
	return v;
}
