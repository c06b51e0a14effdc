/*
 * ptd: node power through SPEC PTDaemon, the power analyser's daemon (a
 * Yokogawa WT-series or another SPEC-accepted meter). One domain per address
 * in ptd.address (several for a multi-channel analyser or several nodes), of
 * kind node (or platform), reported under `system` beside the components.
 *
 * A PTDaemon answers one line per command line. At probe each channel is
 * greeted ("Hello"), identified ("Identify"), given its ranges ("SR,V,..",
 * "SR,A,.."), asked its uncertainty ("Uncertainty"), its clock compared with
 * ours ("Time", several round trips, the shortest kept) and started
 * ("Go,<ms>,0,joulestat"). A thread per channel then asks for the last sample
 * ("RL") four times per sample interval, maps each new sample's end from the
 * PTD host's clock onto ours (offset and drift, re-measured every second) and
 * adds it to the channel's energy (or takes the analyser's own integrated
 * energy where the sample carries it, "Wh").
 *
 * The domain is a power meter whose readings are means over its refresh
 * (jst_domain_desc.power_mean), as a BMC's are: read() hands the core the
 * newest sample, once, stamped at the middle of its span, so that the core
 * integrates the step of the means (exact over the whole samples a window
 * holds) and states the share of a sample each edge cuts (power_edge.c). The
 * core places a window's edge at the reading's instant, not at the sample's
 * (read.c): the analyser never pulls the window's instants (the mean of every
 * backend's) back to a sample, and the edge is bridged from the sample and
 * settled once a later one is folded. The samples between two that read()
 * handed over are their energy (jst_raw.gap_j), known unless the poller
 * missed one and the analyser reports no Wh: then the core states the gap.
 *
 * Every command has a timeout; a server that stops answering makes readings
 * fail transiently (the core bridges them); one that refuses connections for
 * a second, or answers nothing useful for ten, is gone: the figure is partial,
 * with the reason.
 */
#include "backend.h"
#include "ptd_conn.h"
#include "ptd_proto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PTD_MAX_CHANNELS 16
#define PTD_CLASS 0.01     /* an analyser's class where it states no uncertainty */
#define PTD_CLOCK_PROBES 5 /* round trips at the start; the shortest is kept */
#define PTD_CLOCK_EVERY_NS 1000000000LL
#define PTD_REFUSED_GONE_NS 1000000000LL /* refused this long: the server is gone */
#define PTD_SILENT_GONE_NS 10000000000LL /* nothing useful this long: gone */
#define PTD_RETRY_NS 100000000LL
#define PTD_RECENT 32 /* recent spans: the shortest is the analyser's refresh */
/* Twice this is the timing error of a PTD host's clock assumed to agree with
 * ours (both NTP-synchronised, on a LAN: a few ms). */
#define PTD_NTP_ERR_NS 10000000LL

struct ptd_chan {
	char addr[96];
	char host[80];
	unsigned port;
	struct jst_ptd_conn conn;
	pthread_t thread;
	int started;
	char ident[64];

	/* The clock: server_ns = mono_ns + off_ns + drift * (mono_ns - off_at). */
	int64_t off_ns, off_at, min_rtt, rtt_ns, last_probe;
	double drift;
	int64_t prev_off_ns, prev_off_at; /* an earlier estimate, for the drift */
	int no_time; /* it does not answer Time: the clocks are assumed to agree */

	/* Shared with read(), under mu. */
	pthread_mutex_t mu;
	int have_sample;
	double last_server_s;
	int64_t last_mono;
	double energy_j;
	int have_wh;    /* the last sample carried the analyser's energy since Go */
	double wh_base; /* energy_j less that energy */
	double watts;
	int64_t t_err_ns;
	int64_t refresh_ns; /* the analyser's sample interval as seen */
	/* The interval the domain is declared at: the one asked for, or the
	 * slower one the probe saw the analyser keep. */
	int64_t declared_ns;
	int64_t go_at;    /* when Go was answered (the probe's) */
	int64_t last_ok;  /* the last useful reply */
	int64_t lost_at;  /* refused since, or 0 */
	int failing;      /* the last exchange failed */
	int failed_since; /* an exchange failed since the last sample */
	unsigned garbled; /* replies that were not readings */
	unsigned gaps;    /* samples the poller missed */
	/* What read() hands the core: the last sample, once (fresh), and the
	 * energy since the end of the last one it handed over (delivered_j, at
	 * that sample's end), unknown where the poller missed a sample and the
	 * analyser reports no integrated energy. */
	int fresh, delivered, gap_unknown;
	double delivered_j;
	int64_t span_ns[PTD_RECENT]; /* the recent samples' spans: the shortest is the refresh */
	unsigned nspan, ispan;
	int gone;
	char why[JST_ERROR_MAX];
};

struct ptd_state {
	size_t n;
	struct ptd_chan *ch;
	struct jst_domain_desc *desc;
	int interval_ms;
	double volts, amps;
	int wake[2]; /* a pipe: closing it wakes every wait */
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	int stop;
};

static int64_t now_ns(void)
{
	return jst_backend_now_ns();
}

static int64_t mono_of(const struct ptd_chan *c, double server_s)
{
	int64_t s = (int64_t)llround(server_s * 1e9);
	/* server = mono + off + drift (mono - at)  =>  mono = (server - off + drift at) / (1 +
	 * drift) */
	double m = ((double)(s - c->off_ns) + c->drift * (double)c->off_at) / (1 + c->drift);
	return (int64_t)llround(m);
}

/* One round trip of "Time": the server's clock against the middle of it. */
static int clock_probe(struct ptd_chan *c, int64_t *est, int64_t *rtt)
{
	char reply[JST_PTD_LINE_MAX];
	int64_t t0 = now_ns();
	int r = jst_ptd_conn_cmd(&c->conn, "Time", reply, sizeof reply);
	int64_t t1 = now_ns();
	if (r)
		return r;
	double s;
	int p = jst_ptd_parse_time_reply(reply, &s);
	if (p)
		return p;
	*est = (int64_t)llround(s * 1e9) - (t0 + (t1 - t0) / 2);
	*rtt = t1 - t0;
	return 0;
}

/* Take an estimate of the offset: the first ones set it, later ones (if their
 * round trip was short enough to trust) move it and, a second or more after
 * the previous, give the drift. */
static void clock_take(struct ptd_chan *c, int64_t est, int64_t rtt, int64_t at)
{
	if (!c->min_rtt || rtt < c->min_rtt)
		c->min_rtt = rtt;
	if (rtt > 2 * c->min_rtt + 200000)
		return;
	if (c->off_at && at - c->prev_off_at >= PTD_CLOCK_EVERY_NS && c->prev_off_at) {
		double d = (double)(est - c->prev_off_ns) / (double)(at - c->prev_off_at);
		if (fabs(d) < 1e-3) /* beyond 1000 ppm it is a step, not a drift */
			c->drift = d;
	}
	if (!c->prev_off_at || at - c->prev_off_at >= PTD_CLOCK_EVERY_NS) {
		c->prev_off_ns = est;
		c->prev_off_at = at;
	}
	/* Kept in the form mono_of reads: the offset at `at`. */
	c->off_ns = est;
	c->off_at = at;
	c->rtt_ns = rtt;
}

static void printable(char *dst, size_t len, const char *src)
{
	size_t k = 0;
	for (; *src && k + 1 < len; src++)
		dst[k++] = isprint((unsigned char)*src) ? *src : '?';
	dst[k] = 0;
}

/* Greet, set up and start one channel on an open connection. full: the first
 * time (ranges, uncertainty); a reconnection only restarts the sampling. */
static int handshake(struct ptd_state *st, struct ptd_chan *c, int full, double *uncertainty,
                     char *err, size_t errlen)
{
	char reply[JST_PTD_LINE_MAX], cmd[96];
	int r = jst_ptd_conn_cmd(&c->conn, "Hello", reply, sizeof reply);
	if (r) {
		snprintf(err, errlen, "%s: no answer to Hello: %s", c->addr, strerror(-r));
		return r;
	}
	if (!strstr(reply, "PTDaemon")) {
		char q[48];
		printable(q, sizeof q, reply);
		snprintf(err, errlen, "%s is not a PTDaemon (it answered Hello with '%s')", c->addr,
		         q);
		return -EPROTO;
	}
	if (full) {
		r = jst_ptd_conn_cmd(&c->conn, "Identify", reply, sizeof reply);
		if (r) {
			snprintf(err, errlen, "%s: no answer to Identify: %s", c->addr,
			         strerror(-r));
			return r;
		}
		printable(c->ident, sizeof c->ident, reply);
		const char *which[2] = {"V", "A"};
		double val[2] = {st->volts, st->amps};
		for (int i = 0; i < 2; i++) {
			if (val[i] > 0)
				snprintf(cmd, sizeof cmd, "SR,%s,%g", which[i], val[i]);
			else
				snprintf(cmd, sizeof cmd, "SR,%s,Auto", which[i]);
			r = jst_ptd_conn_cmd(&c->conn, cmd, reply, sizeof reply);
			if (r || jst_ptd_reply_is_error(reply)) {
				char q[64];
				printable(q, sizeof q, r ? strerror(-r) : reply);
				snprintf(err, errlen, "%s refused '%s': %s", c->addr, cmd, q);
				return r ? r : -EPROTO;
			}
		}
		*uncertainty = NAN;
		r = jst_ptd_conn_cmd(&c->conn, "Uncertainty", reply, sizeof reply);
		if (r) {
			snprintf(err, errlen, "%s: no answer to Uncertainty: %s", c->addr,
			         strerror(-r));
			return r;
		}
		double u;
		if (jst_ptd_parse_uncertainty(reply, &u) == 0)
			*uncertainty = u;
		for (int i = 0; i < PTD_CLOCK_PROBES && !c->no_time; i++) {
			int64_t est, rtt;
			r = clock_probe(c, &est, &rtt);
			if (r == -EPROTO && i == 0) {
				/* It does not tell its time: the hosts' clocks are taken to
				 * agree (NTP, as MLPerf Power requires), and said to be. */
				struct timespec rt;
				clock_gettime(CLOCK_REALTIME, &rt);
				int64_t mono = now_ns();
				clock_take(c, (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec - mono,
				           PTD_NTP_ERR_NS, mono);
				c->no_time = 1;
			} else if (r) {
				snprintf(err, errlen, "%s: cannot compare clocks (Time: %s)",
				         c->addr, strerror(-r));
				return r;
			} else {
				clock_take(c, est, rtt, now_ns());
			}
		}
		c->last_probe = now_ns();
	}
	/* After a reconnection, a measurement the daemon still runs goes on: its
	 * integrator (Wh) then still counts from the same Go, and the samples
	 * missed while the server was silent cost nothing. Only one that is not
	 * running (the daemon restarted, or stopped it) is started again. */
	if (!full) {
		struct jst_ptd_sample s;
		if (jst_ptd_conn_cmd(&c->conn, "RL", reply, sizeof reply) == 0 &&
		    jst_ptd_parse_sample(reply, &s) == 0)
			return 0;
		(void)jst_ptd_conn_cmd(&c->conn, "Stop", reply, sizeof reply);
	}
	snprintf(cmd, sizeof cmd, "Go,%d,0,joulestat", st->interval_ms);
	r = jst_ptd_conn_cmd(&c->conn, cmd, reply, sizeof reply);
	if (r || jst_ptd_reply_is_error(reply)) {
		char q[64];
		printable(q, sizeof q, r ? strerror(-r) : reply);
		snprintf(err, errlen, "%s refused '%s': %s", c->addr, cmd, q);
		return r ? r : -EPROTO;
	}
	c->go_at = now_ns();
	return 0;
}

/* The refresh the core models (power_edge.c): the interval declared, or
 * the one the analyser keeps where it was seen to sample slower only once
 * running (jst_raw.refresh_s). */
static int64_t model_refresh(const struct ptd_chan *c)
{
	int64_t iv = c->declared_ns;
	return c->refresh_ns > iv + iv / 10 ? c->refresh_ns : iv;
}

/* A new sample: its energy added, its end mapped onto our clock. */
static void take_sample(struct ptd_chan *c, const struct jst_ptd_sample *s)
{
	int64_t now = now_ns();
	pthread_mutex_lock(&c->mu);
	c->last_ok = now;
	c->lost_at = 0;
	c->failing = 0;
	if (!s->has_time || (c->have_sample && s->time_s <= c->last_server_s)) {
		pthread_mutex_unlock(&c->mu);
		return; /* the sample we have already */
	}
	int64_t mono = mono_of(c, s->time_s);
	if (mono > now)
		mono = now; /* within the clock's error: not in the future */
	if (c->have_sample && mono <= c->last_mono) {
		pthread_mutex_unlock(&c->mu);
		return; /* placed no later than the last (a clock estimate moved) */
	}
	/* The analyser's refresh: the shortest recent span (a longer one held a
	 * sample the poller missed); the asked interval until two samples are
	 * seen, and never below it. Measured on the analyser's clock, in whole
	 * ms as analysers keep them: a span mapped onto ours moves by
	 * microseconds with each clock estimate, and the core would take each
	 * move for a new refresh. */
	int64_t iv = c->declared_ns, r = iv;
	int64_t span = c->have_sample ? mono - c->last_mono : 0;
	int64_t own =
	    c->have_sample ? llround((s->time_s - c->last_server_s) * 1e3) * 1000000LL : 0;
	/* A span across failed exchanges (a stall, a reconnection) may hold
	 * samples no poll saw: no measure of the refresh. */
	if (span && own > 0 && !c->failed_since) {
		c->span_ns[c->ispan] = own;
		c->ispan = (c->ispan + 1) % PTD_RECENT;
		if (c->nspan < PTD_RECENT)
			c->nspan++;
	}
	for (unsigned i = 0; i < c->nspan; i++)
		if (i == 0 || c->span_ns[i] < r)
			r = c->span_ns[i];
	c->refresh_ns = r > iv ? r : iv;
	/* The energy at the sample's end: the analyser's integrator (Wh, since
	 * Go) where it reports one, exact whatever polls were missed; else the
	 * sample's mean over its span, and a span that held samples the poller
	 * missed (a loaded host, a stalled server) is not known. */
	double gain =
	    c->have_wh && !isnan(s->energy_j) ? c->wh_base + s->energy_j - c->energy_j : NAN;
	if (span && (double)span > 1.5 * (double)c->refresh_ns) {
		c->gaps++;
		if (!(gain >= 0))
			c->gap_unknown = 1;
	}
	if (gain >= 0)
		c->energy_j += gain;
	else if (span)
		c->energy_j += s->watts * (double)span * 1e-9;
	c->have_wh = !isnan(s->energy_j);
	if (c->have_wh)
		c->wh_base = c->energy_j - s->energy_j;
	c->last_mono = mono;
	c->last_server_s = s->time_s;
	c->watts = s->watts;
	c->t_err_ns = c->rtt_ns / 2;
	c->have_sample = 1;
	c->failed_since = 0;
	c->fresh = 1;
	pthread_mutex_unlock(&c->mu);
}

static void chan_fail(struct ptd_chan *c, int refused, const char *fmt, const char *what)
{
	int64_t now = now_ns();
	pthread_mutex_lock(&c->mu);
	c->failing = 1;
	c->failed_since = 1;
	snprintf(c->why, sizeof c->why, fmt, c->addr, what);
	/* Gone once refused for a second without a break: a server that
	 * accepts again (and then stalls) is not refusing. */
	if (!refused)
		c->lost_at = 0;
	else if (!c->lost_at)
		c->lost_at = now;
	if ((c->lost_at && now - c->lost_at >= PTD_REFUSED_GONE_NS) ||
	    now - c->last_ok >= PTD_SILENT_GONE_NS)
		c->gone = 1;
	pthread_mutex_unlock(&c->mu);
}

/* Wait until the deadline or until told to stop; 1 when stopping. */
static int nap(struct ptd_state *st, int64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t t = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + ns;
	ts.tv_sec = t / 1000000000LL;
	ts.tv_nsec = t % 1000000000LL;
	pthread_mutex_lock(&st->stop_mu);
	while (!st->stop && pthread_cond_timedwait(&st->stop_cv, &st->stop_mu, &ts) == 0)
		;
	int stop = st->stop;
	pthread_mutex_unlock(&st->stop_mu);
	return stop;
}

struct ptd_arg {
	struct ptd_state *st;
	struct ptd_chan *c;
};

static void *poller(void *p)
{
	struct ptd_state *st = ((struct ptd_arg *)p)->st;
	struct ptd_chan *c = ((struct ptd_arg *)p)->c;
	free(p);
	int64_t period = c->declared_ns / 4;
	if (period < 5000000)
		period = 5000000;
	char reply[JST_PTD_LINE_MAX], err[JST_ERROR_MAX];
	for (;;) {
		pthread_mutex_lock(&c->mu);
		int gone = c->gone;
		pthread_mutex_unlock(&c->mu);
		if (gone)
			break;
		if (c->conn.fd < 0) {
			double u;
			int r = jst_ptd_conn_open(&c->conn, c->host, c->port, err, sizeof err);
			if (r == 0)
				r = handshake(st, c, 0, &u, err, sizeof err);
			if (r) {
				jst_ptd_conn_close(&c->conn);
				if (r == -ECANCELED)
					break;
				chan_fail(c,
				          r == -ECONNREFUSED || r == -EHOSTUNREACH ||
				              r == -ENETUNREACH || r == -ECONNRESET,
				          "%.0s%s", err);
				if (nap(st, PTD_RETRY_NS))
					break;
				continue;
			}
		}
		int64_t t = now_ns();
		if (!c->no_time && t - c->last_probe >= PTD_CLOCK_EVERY_NS) {
			int64_t est, rtt;
			c->last_probe = t;
			int r = clock_probe(c, &est, &rtt);
			if (r == 0)
				clock_take(c, est, rtt, now_ns());
			else if (r == -ECANCELED)
				break;
			if (c->conn.fd < 0) {
				/* The probe's failure closed the connection: that is
				 * the exchange that failed (a stall times it out),
				 * not a refusal to be counted towards "gone". */
				chan_fail(c, r == -ECONNRESET, "%s: %s", strerror(-r));
				if (nap(st, period))
					break;
				continue;
			}
		}
		int r = jst_ptd_conn_cmd(&c->conn, "RL", reply, sizeof reply);
		if (r == -ECANCELED)
			break;
		struct jst_ptd_sample s;
		if (r == 0 && (r = jst_ptd_parse_sample(reply, &s)) == 0) {
			take_sample(c, &s);
		} else if (r == -EBADMSG || r == -EPROTO || r == -ERANGE || r == -EMSGSIZE) {
			char q[48];
			printable(q, sizeof q, reply);
			pthread_mutex_lock(&c->mu);
			c->garbled++;
			pthread_mutex_unlock(&c->mu);
			chan_fail(c, 0, "%s sent what is not a reading: '%s'",
			          r == -EMSGSIZE ? "an overlong line" : q);
		} else {
			chan_fail(c, r == -ECONNRESET, "%s: %s", strerror(-r));
		}
		if (nap(st, period))
			break;
	}
	return NULL;
}

static const char *option(const struct jst_backend_ctx *ctx, const char *key)
{
	return jst_backend_option(ctx, key, "");
}

static void ptd_close(void *state);

static int parse_options(const struct jst_backend_ctx *ctx, struct ptd_state *st, int *timeout,
                         jst_kind *kind, char *reason, size_t len)
{
	char *end;
	const char *iv = option(ctx, "ptd.interval");
	long v = strtol(iv, &end, 10);
	if (!*iv || *end || v < 10 || v > 60000) {
		snprintf(reason, len,
		         "ptd.interval '%.32s' is not a sample interval in ms (10-60000)", iv);
		return -EINVAL;
	}
	st->interval_ms = (int)v;
	const char *to = option(ctx, "ptd.timeout");
	v = strtol(to, &end, 10);
	if (!*to || *end || v < 10 || v > 60000) {
		snprintf(reason, len, "ptd.timeout '%.32s' is not a time in ms (10-60000)", to);
		return -EINVAL;
	}
	*timeout = (int)v;
	if (jst_ptd_parse_ranges(option(ctx, "ptd.ranges"), &st->volts, &st->amps)) {
		snprintf(reason, len, "ptd.ranges '%.64s' is neither 'auto' nor 'VOLTS,AMPS'",
		         option(ctx, "ptd.ranges"));
		return -EINVAL;
	}
	const char *k = option(ctx, "ptd.kind");
	if (strcmp(k, "node") == 0) {
		*kind = JST_KIND_NODE;
	} else if (strcmp(k, "platform") == 0) {
		*kind = JST_KIND_PLATFORM;
	} else {
		snprintf(reason, len, "ptd.kind '%.32s' is neither 'node' nor 'platform'", k);
		return -EINVAL;
	}
	return 0;
}

/* How long after Go the probe waits for the first sample: two intervals
 * asked for, or the interval and 2 s, whichever is longer (an analyser that
 * cannot sample as fast as asked: a WT210 keeps 1 s whatever Go says), and
 * the timeout. Only a server that gives no sample waits it whole. */
static int64_t first_wait_ns(const struct ptd_state *st, int timeout_ms)
{
	int64_t iv = (int64_t)st->interval_ms * 1000000LL, slow = iv + 2000000000LL;
	return (2 * iv > slow ? 2 * iv : slow) + (int64_t)timeout_ms * 1000000LL;
}

/* Poll RL until a sample newer than after (if any) comes, or the deadline. */
static int next_sample(struct ptd_chan *c, const struct jst_ptd_sample *after, int64_t deadline,
                       struct jst_ptd_sample *s)
{
	char reply[JST_PTD_LINE_MAX];
	while (now_ns() < deadline) {
		int r = jst_ptd_conn_cmd(&c->conn, "RL", reply, sizeof reply);
		if (r)
			return r;
		if (jst_ptd_parse_sample(reply, s) == 0 && s->has_time &&
		    (!after || s->time_s > after->time_s))
			return 0;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

/* Wait for a channel's first sample: a figure starts on a real one (the
 * window's begin is bridged from it). One that came later than one and a
 * half intervals after Go is from an analyser slower than asked: the next
 * one is waited for too, and the span between their stamps (the analyser's
 * own clock) is the interval it keeps, which the domain is declared at from
 * the start (declared_ns), as if ptd.interval had said it. */
static int first_sample(struct ptd_state *st, struct ptd_chan *c, int timeout_ms)
{
	int64_t iv = (int64_t)st->interval_ms * 1000000LL;
	struct jst_ptd_sample s1, s2;
	c->declared_ns = iv;
	int r = next_sample(c, NULL, c->go_at + first_wait_ns(st, timeout_ms), &s1);
	if (r)
		return r;
	take_sample(c, &s1);
	int64_t late = now_ns() - c->go_at;
	if (late <= iv + iv / 2)
		return 0;
	/* No second sample within twice that: it stays at the asked interval,
	 * and the poller measures the one it keeps (model_refresh). */
	if (next_sample(c, &s1, now_ns() + 2 * late + (int64_t)timeout_ms * 1000000LL, &s2))
		return 0;
	int64_t span = llround((s2.time_s - s1.time_s) * 1e3) * 1000000LL;
	if (span > iv + iv / 10)
		c->declared_ns = span;
	take_sample(c, &s2);
	return 0;
}

static int chan_probe(struct ptd_state *st, size_t i, const char *addr, int timeout, jst_kind kind,
                      char *reason, size_t len)
{
	struct ptd_chan *c = &st->ch[i];
	char err[JST_REASON_MAX];
	pthread_mutex_init(&c->mu, NULL);
	jst_ptd_conn_init(&c->conn, timeout, st->wake[0]);
	snprintf(c->addr, sizeof c->addr, "%s", addr);
	if (jst_ptd_parse_address(addr, c->host, sizeof c->host, &c->port, err, sizeof err)) {
		snprintf(reason, len, "ptd.address: %s", err);
		return -EINVAL;
	}
	double u = NAN;
	c->declared_ns = (int64_t)st->interval_ms * 1000000LL;
	int r = jst_ptd_conn_open(&c->conn, c->host, c->port, err, sizeof err);
	if (r == 0)
		r = handshake(st, c, 1, &u, err, sizeof err);
	if (r == 0 && (r = first_sample(st, c, timeout)) != 0)
		snprintf(err, sizeof err, "%s gave no sample within %lld ms of Go", c->addr,
		         (long long)(first_wait_ns(st, timeout) / 1000000));
	if (r) {
		snprintf(reason, len, "%s", err);
		return r;
	}
	c->last_ok = now_ns();
	struct jst_domain_desc *d = &st->desc[i];
	snprintf(d->name, sizeof d->name, "ptd%zu", i);
	d->kind = kind;
	snprintf(d->device, sizeof d->device, "node:ptd:%s", c->addr);
	d->method = JST_METHOD_POWER;
	snprintf(d->source, sizeof d->source, "ptdaemon");
	d->accuracy = isnan(u) ? PTD_CLASS : u;
	d->parent = -1;
	/* Ranges fixed by ptd.ranges bound what the analyser can measure;
	 * Auto leaves the core's bound for the kind. */
	d->max_power_w = st->volts > 0 && st->amps > 0 ? st->volts * st->amps : 0;
	/* Each sample is the analyser's mean power over its interval: the
	 * whole samples a window holds are exact, and the core states the
	 * share of the samples its edges cut (power_edge.c). */
	d->power_mean = 1;
	d->refresh_s = (double)c->declared_ns * 1e-9;
	char kept[48] = "";
	if (c->declared_ns != (int64_t)st->interval_ms * 1000000LL)
		snprintf(kept, sizeof kept, " (asked for %d ms: the analyser's own)",
		         st->interval_ms);
	snprintf(d->note, sizeof d->note, "PTDaemon %.40s (%.32s), %lld ms samples%s%s%s", c->addr,
	         c->ident, (long long)(c->declared_ns / 1000000), kept,
	         isnan(u) ? ", class 1% (none stated)" : "",
	         c->no_time ? ", clocks assumed in sync" : "");
	return 0;
}

static int ptd_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	const char *list = option(ctx, "ptd.address");
	if (!*list) {
		snprintf(reason, len, "no PTDaemon configured (set ptd.address=HOST:PORT)");
		return -ENODEV;
	}
	struct ptd_state *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->wake[0] = st->wake[1] = -1;
	pthread_mutex_init(&st->stop_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->stop_cv, &ca);
	pthread_condattr_destroy(&ca);
	int timeout = 0;
	jst_kind kind = JST_KIND_NODE;
	int r = parse_options(ctx, st, &timeout, &kind, reason, len);
	if (r) {
		ptd_close(st);
		return r;
	}
	char tmp[1024];
	snprintf(tmp, sizeof tmp, "%s", list);
	char *addrs[PTD_MAX_CHANNELS];
	size_t n = 0;
	for (char *save = NULL, *tok = strtok_r(tmp, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		if (n == PTD_MAX_CHANNELS) {
			snprintf(reason, len, "ptd.address: at most %d addresses",
			         PTD_MAX_CHANNELS);
			ptd_close(st);
			return -EINVAL;
		}
		addrs[n++] = tok;
	}
	if (!n) {
		snprintf(reason, len, "ptd.address '%.64s' holds no address", list);
		ptd_close(st);
		return -EINVAL;
	}
	st->ch = calloc(n, sizeof *st->ch);
	st->desc = calloc(n, sizeof *st->desc);
	if (!st->ch || !st->desc || pipe2(st->wake, O_CLOEXEC)) {
		ptd_close(st);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		st->n = i + 1;
		r = chan_probe(st, i, addrs[i], timeout, kind, reason, len);
		if (r) {
			ptd_close(st);
			return r == -EINVAL ? r : -ENODEV;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct ptd_arg *a = malloc(sizeof *a);
		if (!a) {
			ptd_close(st);
			return -ENOMEM;
		}
		*a = (struct ptd_arg){st, &st->ch[i]};
		if (pthread_create(&st->ch[i].thread, NULL, poller, a)) {
			free(a);
			ptd_close(st);
			return -EAGAIN;
		}
		st->ch[i].started = 1;
	}
	*state = st;
	return 0;
}

static size_t ptd_domains(void *state, const struct jst_domain_desc **out)
{
	struct ptd_state *st = state;
	*out = st->desc;
	return st->n;
}

static int ptd_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	(void)flags;
	struct ptd_state *st = state;
	int64_t now = now_ns();
	for (size_t i = 0; i < n && i < st->n; i++) {
		struct ptd_chan *c = &st->ch[i];
		struct jst_raw *o = &out[i];
		pthread_mutex_lock(&c->mu);
		if (c->gone) {
			o->status = -ENODEV;
			snprintf(o->error, sizeof o->error, "%.16s: PTDaemon lost: %.280s",
			         st->desc[i].name, c->why);
		} else if (!c->have_sample) {
			o->status = -EAGAIN;
			snprintf(o->error, sizeof o->error, "%s: no sample yet", st->desc[i].name);
		} else if (c->failing && now - c->last_mono > 2 * c->declared_ns) {
			/* Samples are late: say why rather than show a stale value. */
			o->status = -ETIMEDOUT;
			snprintf(o->error, sizeof o->error, "%.16s: %.280s", st->desc[i].name,
			         c->why);
		} else if (!c->fresh) {
			o->status = JST_RAW_UNCHANGED; /* nothing new */
		} else {
			/* At every reading, a window's edge too: the core places the
			 * edge at the reading's instant, not at the sample's, and
			 * bridges it from the sample (read.c). The sample is its
			 * mean power over its refresh, stamped at the refresh's
			 * middle; samples since the last one handed over are the
			 * gap's energy, where known. */
			int64_t r = model_refresh(c);
			o->power_w = c->watts;
			o->t_ns = c->last_mono - r / 2;
			o->t_err_ns = c->t_err_ns;
			o->telemetry_power_w = c->watts;
			if (r > c->declared_ns)
				o->refresh_s = (double)r * 1e-9;
			if (c->delivered && !c->gap_unknown)
				o->gap_j =
				    c->energy_j - c->watts * (double)r * 1e-9 - c->delivered_j;
			c->delivered = 1;
			c->delivered_j = c->energy_j;
			c->gap_unknown = 0;
			c->fresh = 0;
		}
		pthread_mutex_unlock(&c->mu);
	}
	return 0;
}

static void ptd_close(void *state)
{
	struct ptd_state *st = state;
	if (!st)
		return;
	pthread_mutex_lock(&st->stop_mu);
	st->stop = 1;
	pthread_cond_broadcast(&st->stop_cv);
	pthread_mutex_unlock(&st->stop_mu);
	if (st->wake[1] >= 0) {
		close(st->wake[1]); /* the read end turns readable: every wait ends */
		st->wake[1] = -1;
	}
	for (size_t i = 0; i < st->n; i++) {
		struct ptd_chan *c = &st->ch[i];
		if (c->started)
			pthread_join(c->thread, NULL);
		if (c->conn.fd >= 0) {
			/* Stop the analyser's logging, briefly: a dead server costs no wait. */
			char reply[JST_PTD_LINE_MAX];
			c->conn.wake_fd = -1;
			c->conn.timeout_ms = c->conn.timeout_ms < 200 ? c->conn.timeout_ms : 200;
			(void)jst_ptd_conn_cmd(&c->conn, "Stop", reply, sizeof reply);
		}
		jst_ptd_conn_close(&c->conn);
		pthread_mutex_destroy(&c->mu);
	}
	if (st->wake[0] >= 0)
		close(st->wake[0]);
	pthread_cond_destroy(&st->stop_cv);
	pthread_mutex_destroy(&st->stop_mu);
	free(st->ch);
	free(st->desc);
	free(st);
}

static const struct jst_option_desc ptd_options[] = {
    {"ptd.address", "JOULESTAT_PTD_ADDRESS", "",
     "HOST:PORT of a PTDaemon, or several separated by commas"},
    {"ptd.interval", NULL, "100", "the analyser's sample interval in ms (10-60000)"},
    {"ptd.ranges", NULL, "auto", "'auto' or 'VOLTS,AMPS' for the analyser's ranges"},
    {"ptd.timeout", NULL, "500", "the time in ms a PTDaemon has to answer a command"},
    {"ptd.kind", NULL, "node", "'node' or 'platform': what the analyser measures"},
    {0},
};

const struct jst_backend_ops jst_backend_ptd = {
    .name = "ptd",
    .options = ptd_options,
    .description = "a power analyser through SPEC PTDaemon (whole node, ~1%)",
    .accuracy = PTD_CLASS,
    .probe = ptd_probe,
    .domains = ptd_domains,
    .read = ptd_read,
    .close = ptd_close,
};
