/* Basic auth for `joulestat serve`, kept off the thread that serves requests.
 * bcrypt is slow on purpose (some 70 ms at cost 10): checked on the serving
 * thread, a peer sending wrong passwords on many connections made every other
 * request, Prometheus's scrapes included, wait behind its hashes. Here a
 * password already verified, or already refused, is answered at once from
 * memory; any other is hashed by a small pool of workers, at most a few at a
 * time for one peer, and a peer past that budget is refused at once. */
#ifndef JST_SERVE_AUTH_H
#define JST_SERVE_AUTH_H

#include "webconfig.h"

#include <stddef.h>

/* bcrypt workers, checks queued or running in all, and per peer address. */
enum { JST_AUTH_WORKERS = 2, JST_AUTH_QUEUE = 32, JST_AUTH_PER_PEER = 2 };
/* How long a refused (user, password) is answered from memory. */
#define JST_AUTH_FAILED_TTL_S 60.0
enum { JST_AUTH_FAILED_CACHE = 256 };

enum jst_auth_verdict {
	JST_AUTH_OK,      /* authorised */
	JST_AUTH_DENIED,  /* wrong or missing user or password: 401 */
	JST_AUTH_BUSY,    /* the peer's budget of checks is spent: 429, no hash */
	JST_AUTH_PENDING, /* a worker checks it: *result is set, then done(arg) called */
};

struct jst_auth;

/* Workers for wc's users (wc must outlive it). 0, or -errno. */
int jst_auth_open(const struct jst_webconfig *wc, struct jst_auth **out);
/* Finishes the checks queued (each calls its done) and joins the workers;
 * later checks that would need a hash are answered JST_AUTH_BUSY. */
void jst_auth_stop(struct jst_auth *a);
/* Stops it if need be and frees it, once nothing calls jst_auth_check. */
void jst_auth_close(struct jst_auth *a);
/* Decide on user and pass (either NULL when the request had none) from peer
 * (its address bytes): at once, or JST_AUTH_PENDING: then wait(arg) was
 * called before any worker could take the check (to suspend the request), and
 * a worker sets *result to JST_AUTH_OK or JST_AUTH_DENIED, then calls
 * done(arg). */
enum jst_auth_verdict jst_auth_check(struct jst_auth *a, const char *user, const char *pass,
                                     const void *peer, size_t peerlen, int *result,
                                     void (*wait)(void *arg), void (*done)(void *arg), void *arg);
/* bcrypt hashes computed so far (for tests and the harness). */
unsigned long jst_auth_hashes(struct jst_auth *a);

#endif
