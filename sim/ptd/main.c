/*
 * jst-sim-ptd: a SPEC PTDaemon on loopback in front of a simulated power
 * analyser, with a known ground truth, for the ptd backend's tests.
 *
 *   jst-sim-ptd --trace SPEC [--port N] --ready FILE [--truth FILE]
 *               [--refresh MS] [--stall T+D] [--disconnect T] [--garbage RATE]
 *               [--drift PPM] [--offset S] [--uncertainty REL] [--energy]
 *               [--no-time] [--first MS] [--seed N]
 *
 * The analyser samples the trace (sim/common/trace.h) in intervals of the
 * length "Go,<ms>,..." asks for (or --refresh MS, an analyser that cannot go
 * faster), on its own clock: the host's realtime clock at start, plus
 * --offset seconds, running --drift ppm fast. Each sample's watts are the
 * trace's exact mean power over the real span of the sample, so the energy of
 * whole samples is exact and a client that places them on its clock
 * correctly measures the truth.
 *
 * --energy adds the analyser's integrator to every "RL" reply: "Wh,<energy
 * since Go>", exact, so a client that takes it loses nothing to a missed poll.
 *
 * --first MS: the first sample after Go ends MS after it, then every interval
 * (an analyser that samples on its own grid, whose update fell MS after Go:
 * that first sample's span began before Go). Without it the first ends one
 * interval after Go.
 *
 * --no-time answers "Time" with an error, as a PTDaemon that does not tell its
 * clock: a client must take the two hosts' clocks to agree.
 *
 * Faults: --stall T+D stops answering (connections stay open) from T to T+D
 * seconds; --disconnect T closes every connection at T (the analyser keeps
 * sampling); --garbage RATE replaces that share of "RL" replies by garbage
 * (truncated, binary, overlong, wrong fields), deterministically from --seed.
 * Killing the process is the test's own fault.
 *
 * --ready FILE is written once it listens: {"port", "start_ns" (the trace's
 * t = 0 on CLOCK_MONOTONIC), "trace", "drift_ppm", "offset_s", "pid"}; --truth
 * FILE the same at start and, at SIGTERM, with the counts of what was served:
 * "served" (RL replies), "garbled", "missed" (samples no RL reply carried,
 * between two that one did, since the last Go: under load a poll can come
 * after two samples; without --energy their spans can only be bridged).
 * Times in the tests are seconds of trace: (t_ns - start_ns) / 1e9.
 */
#include "trace.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 16
#define LINE_MAX_ 512

struct client {
	int fd;
	size_t have;
	char buf[LINE_MAX_];
};

static struct {
	struct sim_trace *tr;
	const char *spec, *ready, *truth;
	int port;
	double refresh_ms;
	double stall_at, stall_for;
	double disconnect_at;
	int disconnected;
	double garbage;
	double drift_ppm, offset_s;
	double uncertainty;
	int no_time; /* "Time" is an unknown command: the client must assume */
	int energy;  /* RL replies carry the analyser's integrated energy ("Wh") */
	uint64_t seed;
	int64_t start_ns;
	double base_s; /* realtime at start */
	/* The measurement. */
	int running;
	double first_ms;   /* > 0: the first sample ends this long after Go */
	double go_s;       /* server clock at Go */
	double grid_s;     /* server clock where the samples' grid starts */
	double interval_s; /* in server seconds */
	unsigned long served, garbled;
	/* Samples no RL reply carried, between two that one did (since Go):
	 * their spans a client without the integrator ("Wh") can only bridge. */
	long prev_k;
	unsigned long missed;
} S = {.port = 0, .stall_at = -1, .disconnect_at = -1, .uncertainty = NAN, .seed = 1};

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Trace seconds (real, since start) of now. */
static double now_t(void)
{
	return (double)(mono_ns() - S.start_ns) * 1e-9;
}

/* The analyser's clock at trace time t, and back. */
static double server_of(double t)
{
	return S.base_s + S.offset_s + t * (1 + S.drift_ppm * 1e-6);
}

static double t_of(double server)
{
	return (server - S.base_s - S.offset_s) / (1 + S.drift_ppm * 1e-6);
}

static uint64_t rnd(void)
{
	S.seed ^= S.seed << 13;
	S.seed ^= S.seed >> 7;
	S.seed ^= S.seed << 17;
	return S.seed;
}

static int write_json(const char *path, int final)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f,
	        "{\"port\": %d, \"start_ns\": %lld, \"trace\": \"%s\", \"drift_ppm\": %.9g, "
	        "\"offset_s\": %.9g, \"pid\": %d, \"final\": %s, \"served\": %lu, "
	        "\"garbled\": %lu, \"missed\": %lu, \"energy\": %s}\n",
	        S.port, (long long)S.start_ns, S.spec, S.drift_ppm, S.offset_s, (int)getpid(),
	        final ? "true" : "false", S.served, S.garbled, S.missed,
	        S.energy ? "true" : "false");
	if (fclose(f))
		return -1;
	return rename(tmp, path);
}

/* The last complete sample at trace time t: 0, or -1 when there is none yet. */
static int last_sample(double t, double *end_server, double *watts, long *index)
{
	if (!S.running)
		return -1;
	double k = floor((server_of(t) - S.grid_s) / S.interval_s + 1e-12);
	if (k < 1)
		return -1;
	double e1 = S.grid_s + k * S.interval_s;
	double t0 = t_of(e1 - S.interval_s), t1 = t_of(e1);
	if (t0 < 0)
		t0 = 0;
	*end_server = e1;
	*index = (long)k;
	*watts = t1 > t0 ? sim_trace_energy(S.tr, t0, t1) / (t1 - t0) : 0;
	return 0;
}

static const char *garbage(char *out, size_t len)
{
	static const char *const kinds[] = {
	    "Time,",
	    "Watts,12x.5,Volts,230",
	    "Time,1764626000.1,Watts",
	    "Time,yesterday,Watts,100.0",
	    "Time,1764626000.1,Watts,nan",
	    "Time,1764626000.1,Watts,1e300",
	    "\x01\x02\xff\xfe binary",
	    "Watts,100,Watts,200",
	    "",
	};
	unsigned k = (unsigned)(rnd() % (sizeof kinds / sizeof kinds[0] + 1));
	if (k == sizeof kinds / sizeof kinds[0]) {
		/* Longer than any reply: a client must discard it whole. */
		size_t n = len - 1 < 2000 ? len - 1 : 2000;
		memset(out, 'x', n);
		out[n] = 0;
		return out;
	}
	snprintf(out, len, "%s", kinds[k]);
	return out;
}

static void answer(const char *cmd, char *out, size_t len)
{
	double t = now_t();
	double end_s, w;
	if (strcmp(cmd, "Hello") == 0) {
		snprintf(out, len, "Hello, PTDaemon here!");
	} else if (strcmp(cmd, "Identify") == 0) {
		snprintf(out, len, "jst-sim-ptd,WT310-like analyser,1.0");
	} else if (strcmp(cmd, "RR") == 0) {
		snprintf(out, len, "Ranges,1,20.0,1,300.0");
	} else if (strncmp(cmd, "SR,V,", 5) == 0 || strncmp(cmd, "SR,A,", 5) == 0) {
		char *end;
		double v = strtod(cmd + 5, &end);
		if (strcmp(cmd + 5, "Auto") == 0 || (*end == 0 && v > 0))
			snprintf(out, len, "Range %c changed", cmd[3]);
		else
			snprintf(out, len, "Error: invalid range '%s'", cmd + 5);
	} else if (strcmp(cmd, "Uncertainty") == 0) {
		if (isnan(S.uncertainty))
			snprintf(out, len, "Error: uncertainty not available");
		else
			snprintf(out, len, "Uncertainty,%.6g", S.uncertainty);
	} else if (strncmp(cmd, "Go,", 3) == 0) {
		char *end;
		long ms = strtol(cmd + 3, &end, 10);
		if (ms < 10 || *end != ',') {
			snprintf(out, len, "Error: invalid Go command");
			return;
		}
		double iv = S.refresh_ms > 0 ? S.refresh_ms : (double)ms;
		S.interval_s = iv * 1e-3;
		S.go_s = server_of(t);
		S.grid_s = S.go_s;
		if (S.first_ms > 0 && S.first_ms < iv)
			S.grid_s -= S.interval_s - S.first_ms * 1e-3;
		S.running = 1;
		S.prev_k = -1;
		snprintf(out, len,
		         "Starting untimed measurement, maximum 500000 samples at %gms with 0 "
		         "rampup samples",
		         iv);
	} else if (strcmp(cmd, "Stop") == 0) {
		S.running = 0;
		snprintf(out, len, "Stopping untimed measurement");
	} else if (strcmp(cmd, "Time") == 0) {
		if (S.no_time)
			snprintf(out, len, "Error: unknown command 'Time'");
		else
			snprintf(out, len, "Time,%.6f", server_of(t));
	} else if (strcmp(cmd, "RL") == 0 || strcmp(cmd, "Watts") == 0) {
		long k;
		if (last_sample(t, &end_s, &w, &k)) {
			snprintf(out, len, "Error: no sample yet");
			return;
		}
		S.served++;
		if (cmd[0] == 'R' && S.garbage > 0 && (double)(rnd() % 1000000) < S.garbage * 1e6) {
			S.garbled++;
			garbage(out, len);
			return;
		}
		if (cmd[0] == 'R') {
			/* A sample the client never saw: between two it was sent. */
			if (S.prev_k >= 0 && k > S.prev_k + 1)
				S.missed += (unsigned long)(k - S.prev_k - 1);
			S.prev_k = k;
		}
		if (cmd[0] == 'W') {
			snprintf(out, len, "Watts,%.6f", w);
			return;
		}
		int n = snprintf(
		    out, len,
		    "Time,%.6f,Watts,%.6f,Volts,230.000,Amps,%.6f,PF,0.9500,Mark,joulestat", end_s,
		    w, w / (230 * 0.95));
		if (!isnan(S.uncertainty) && n > 0 && (size_t)n < len)
			n += snprintf(out + n, len - (size_t)n, ",Uncertainty,%.6g", S.uncertainty);
		if (S.energy && n > 0 && (size_t)n < len) {
			/* The integrator: exact energy from Go to the sample's end, in Wh. */
			double g = t_of(S.go_s), e = t_of(end_s);
			double wh = sim_trace_energy(S.tr, g < 0 ? 0 : g, e) / 3600;
			snprintf(out + n, len - (size_t)n, ",Wh,%.12f", wh);
		}
	} else {
		snprintf(out, len, "Error: unknown command '%.64s'", cmd);
	}
}

static void drop(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->have = 0;
}

static void serve(struct client *c)
{
	ssize_t got = recv(c->fd, c->buf + c->have, sizeof c->buf - 1 - c->have, 0);
	if (got <= 0) {
		drop(c);
		return;
	}
	c->have += (size_t)got;
	char *nl;
	while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->have))) {
		size_t n = (size_t)(nl - c->buf);
		char cmd[LINE_MAX_];
		memcpy(cmd, c->buf, n);
		cmd[n] = 0;
		if (n && cmd[n - 1] == '\r')
			cmd[n - 1] = 0;
		c->have -= n + 1;
		memmove(c->buf, nl + 1, c->have);
		char out[4096];
		answer(cmd, out, sizeof out);
		size_t ol = strlen(out);
		out[ol++] = '\r';
		out[ol++] = '\n';
		if (send(c->fd, out, ol, MSG_NOSIGNAL) != (ssize_t)ol)
			drop(c);
	}
	if (c->fd >= 0 && c->have == sizeof c->buf - 1)
		drop(c); /* no command is this long */
}

static int parse_d(const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*out) ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: jst-sim-ptd --trace SPEC --ready FILE [--truth FILE] [--port N]\n"
	                "       [--refresh MS] [--stall T+D] [--disconnect T] [--garbage RATE]\n"
	                "       [--drift PPM] [--offset S] [--uncertainty REL] [--energy] "
	                "[--no-time] [--first MS] [--seed N]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"trace", required_argument, 0, 'T'},
	    {"port", required_argument, 0, 'p'},
	    {"ready", required_argument, 0, 'y'},
	    {"truth", required_argument, 0, 't'},
	    {"refresh", required_argument, 0, 'r'},
	    {"stall", required_argument, 0, 's'},
	    {"disconnect", required_argument, 0, 'd'},
	    {"garbage", required_argument, 0, 'g'},
	    {"drift", required_argument, 0, 'D'},
	    {"offset", required_argument, 0, 'o'},
	    {"uncertainty", required_argument, 0, 'u'},
	    {"seed", required_argument, 0, 'S'},
	    {"energy", no_argument, 0, 'E'},
	    {"no-time", no_argument, 0, 'N'},
	    {"first", required_argument, 0, 'F'},
	    {0, 0, 0, 0},
	};
	int c, bad = 0;
	double v;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'T':
			S.spec = optarg;
			break;
		case 'y':
			S.ready = optarg;
			break;
		case 't':
			S.truth = optarg;
			break;
		case 'p':
			bad |= parse_d(optarg, &v) || v < 0 || v > 65535;
			S.port = (int)v;
			break;
		case 'r':
			bad |= parse_d(optarg, &S.refresh_ms) || S.refresh_ms < 1;
			break;
		case 's': {
			char *plus = strchr(optarg, '+');
			if (!plus) {
				bad = 1;
				break;
			}
			*plus = 0;
			bad |= parse_d(optarg, &S.stall_at) || parse_d(plus + 1, &S.stall_for) ||
			       S.stall_at < 0 || S.stall_for <= 0;
			break;
		}
		case 'd':
			bad |= parse_d(optarg, &S.disconnect_at) || S.disconnect_at < 0;
			break;
		case 'g':
			bad |= parse_d(optarg, &S.garbage) || S.garbage < 0 || S.garbage > 1;
			break;
		case 'D':
			bad |= parse_d(optarg, &S.drift_ppm) || fabs(S.drift_ppm) > 1e4;
			break;
		case 'o':
			bad |= parse_d(optarg, &S.offset_s);
			break;
		case 'u':
			bad |= parse_d(optarg, &S.uncertainty) || !(S.uncertainty > 0) ||
			       S.uncertainty >= 1;
			break;
		case 'E':
			S.energy = 1;
			break;
		case 'N':
			S.no_time = 1;
			break;
		case 'F':
			bad |= parse_d(optarg, &S.first_ms) || S.first_ms <= 0;
			break;
		case 'S':
			bad |= parse_d(optarg, &v) || v < 1;
			S.seed = (uint64_t)v;
			break;
		default:
			bad = 1;
		}
	}
	if (bad || !S.spec || !S.ready || optind < argc) {
		usage();
		return 2;
	}
	char err[256];
	S.tr = sim_trace_parse(S.spec, err, sizeof err);
	if (!S.tr) {
		fprintf(stderr, "jst-sim-ptd: %s\n", err);
		return 2;
	}
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)S.port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 16) ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl)) {
		perror("jst-sim-ptd: listen");
		return 1;
	}
	S.port = ntohs(sa.sin_port);
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	S.start_ns = mono_ns();
	S.base_s = (double)rt.tv_sec + (double)rt.tv_nsec * 1e-9;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	if ((S.truth && write_json(S.truth, 0)) || write_json(S.ready, 0)) {
		perror("jst-sim-ptd: ready/truth file");
		return 1;
	}
	struct client cl[MAX_CLIENTS];
	for (int i = 0; i < MAX_CLIENTS; i++)
		cl[i].fd = -1;
	while (!stopping) {
		double t = now_t();
		if (S.disconnect_at >= 0 && !S.disconnected && t >= S.disconnect_at) {
			S.disconnected = 1;
			for (int i = 0; i < MAX_CLIENTS; i++)
				if (cl[i].fd >= 0)
					drop(&cl[i]);
		}
		int stalled = S.stall_at >= 0 && t >= S.stall_at && t < S.stall_at + S.stall_for;
		struct pollfd p[MAX_CLIENTS + 1];
		int map[MAX_CLIENTS + 1], n = 0;
		if (!stalled) {
			p[n] = (struct pollfd){.fd = ls, .events = POLLIN};
			map[n++] = -1;
			for (int i = 0; i < MAX_CLIENTS; i++)
				if (cl[i].fd >= 0) {
					p[n] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN};
					map[n++] = i;
				}
		}
		int r = poll(p, (nfds_t)n, 5);
		if (r < 0 && errno != EINTR)
			break;
		for (int k = 0; r > 0 && k < n; k++) {
			if (!p[k].revents)
				continue;
			if (map[k] < 0) {
				int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
				int slot = -1;
				for (int i = 0; i < MAX_CLIENTS && fd >= 0; i++)
					if (cl[i].fd < 0) {
						slot = i;
						break;
					}
				if (slot < 0) {
					if (fd >= 0)
						close(fd);
					continue;
				}
				cl[slot].fd = fd;
				cl[slot].have = 0;
			} else {
				serve(&cl[map[k]]);
			}
		}
	}
	if (S.truth)
		write_json(S.truth, 1);
	sim_trace_free(S.tr);
	return 0;
}
