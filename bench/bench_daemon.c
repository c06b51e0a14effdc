/*
 * joulestatd (docs/daemon.md) against reading the counters directly, on the
 * powercap simulator (2 packages, 8 domains):
 *  - a window pair (begin + end) through the daemon backend, beside the same
 *    pair on the rapl backend reading the files itself;
 *  - one raw READ round trip with 1, 10 and 100 clients each polling at
 *    10 Hz, and the daemon's CPU meanwhile (its scheduler time, exact),
 *    beside a direct read of the same files (pread + parse, 8 zones).
 * Prints a Markdown section for BENCHMARKS.md.
 */
#include "bench_env.h"
#include "bench_spawn.h"
#include "bench_stats.h"
#include "daemon_proto.h"
#include "joulestat.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRIALS ((size_t)41)
#define PAIRS ((size_t)200)
#define LOAD_S 4.0
#define MAX_CLIENTS 100

static char sock_path[100];
static pid_t daemon_pid = -1;

static int start_daemon(const struct bench_powercap *sim)
{
	char opt[160], pidfile[128], uid[32], log[128];
	snprintf(sock_path, sizeof sock_path, "%s/joulestat.sock", sim->dir);
	snprintf(opt, sizeof opt, "sysfs.root=%s", sim->root);
	snprintf(pidfile, sizeof pidfile, "%s/joulestatd.pid", sim->dir);
	snprintf(log, sizeof log, "%s/joulestatd.log", sim->dir);
	/* As root, the unprivileged pairs run as nobody. */
	snprintf(uid, sizeof uid, "%u", getuid() == 0 ? 65534u : (unsigned)getuid());
	char *argv[] = {BENCH_JOULESTATD_PATH,
	                "--foreground",
	                "--socket",
	                sock_path,
	                "--option",
	                opt,
	                "--pidfile",
	                pidfile,
	                "--allow-user",
	                uid,
	                "--backends",
	                "rapl",
	                NULL};
	daemon_pid = bench_spawn(argv, NULL, log);
	for (int i = 0; i < 3000; i++) {
		if (access(pidfile, F_OK) == 0)
			return 0;
		usleep(2000);
	}
	fprintf(stderr, "bench_daemon: joulestatd did not start (see %s)\n", log);
	return -1;
}

/* The daemon's time on a CPU so far (ns), from the scheduler: exact, where
 * utime + stime count in ticks. */
static int64_t daemon_cpu_ns(void)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/schedstat", (int)daemon_pid);
	FILE *f = fopen(path, "r");
	long long ns = 0;
	if (f) {
		if (fscanf(f, "%lld", &ns) != 1)
			ns = 0;
		fclose(f);
	}
	return ns;
}

/* ---- a raw protocol client ----------------------------------------------------- */

struct client {
	int fd;
	uint32_t seq, n;
	uint16_t version;
};

static int client_open(struct client *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa))
		return -1;
	uint8_t req[JST_DPROTO_REQ_MAX], buf[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	struct jst_dproto_hello h;
	size_t len = jst_dproto_hello_req(req, ++c->seq);
	if (send(c->fd, req, len, 0) != (ssize_t)len)
		return -1;
	ssize_t r = recv(c->fd, buf, sizeof buf, 0);
	if (r <= 0 || jst_dproto_hello_parse(buf, (size_t)r, c->seq, &h, err))
		return -1;
	c->n = h.ndomains;
	c->version = h.version;
	return 0;
}

/* One READ round trip; its latency in seconds, or a negative number. */
static double client_read(struct client *c)
{
	static struct jst_dproto_reading rd[JST_DPROTO_DOMAINS_MAX];
	uint8_t req[JST_DPROTO_REQ_MAX], buf[JST_DPROTO_REPLY_MAX];
	char err[JST_DPROTO_ERROR_TEXT];
	int64_t t0 = bench_now_ns();
	size_t len = jst_dproto_read_req(req, ++c->seq);
	if (send(c->fd, req, len, 0) != (ssize_t)len)
		return -1;
	ssize_t r = recv(c->fd, buf, sizeof buf, 0);
	int64_t t1 = bench_now_ns();
	if (r <= 0 || jst_dproto_read_parse(buf, (size_t)r, c->seq, c->version, rd, c->n, err))
		return -1;
	return (double)(t1 - t0) * 1e-9;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ---- the IPC floor: a process that only echoes ------------------------------------ */

static int echo_fd = -1;
static pid_t echo_pid = -1;

/* A child answering each packet with a reply as long as a READ reply: what
 * any daemon costs before it reads anything. */
static void echo_start(size_t reply_len)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		exit(1);
	echo_pid = fork();
	if (echo_pid == 0) {
		close(sv[0]);
		uint8_t buf[JST_DPROTO_REPLY_MAX] = {0};
		while (recv(sv[1], buf, sizeof buf, 0) > 0)
			if (send(sv[1], buf, reply_len, 0) < 0)
				break;
		_exit(0);
	}
	close(sv[1]);
	echo_fd = sv[0];
}

/* Two round trips (a window's two edges), PAIRS times; per-pair seconds. */
static void echo_pairs(double *out)
{
	uint8_t req[JST_DPROTO_REQ_MAX] = {0}, buf[JST_DPROTO_REPLY_MAX];
	for (size_t i = 0; i < PAIRS; i++) {
		int64_t t0 = bench_now_ns();
		for (int k = 0; k < 2; k++)
			if (send(echo_fd, req, JST_DPROTO_HDR_LEN, 0) < 0 ||
			    recv(echo_fd, buf, sizeof buf, 0) <= 0)
				exit(1);
		out[i] = (double)(bench_now_ns() - t0) * 1e-9;
	}
}

/* ---- window pairs ------------------------------------------------------------ */

static jst_meter *open_meter(const struct bench_powercap *sim, int through_daemon)
{
	jst_config cfg;
	jst_config_init(&cfg);
	jst_config_set(&cfg, "period_ms", "60000"); /* the sampler must not contend */
	jst_config_set(&cfg, "sysfs.root", sim->root);
	jst_config_set(&cfg, "backends", through_daemon ? "daemon" : "rapl");
	jst_config_set(&cfg, "daemon.mode", "always");
	jst_config_set(&cfg, "daemon.socket", sock_path);
	jst_meter *m = NULL;
	if (jst_meter_open(&cfg, &m) || jst_meter_domain_count(m) == 0) {
		fprintf(stderr, "bench_daemon: no meter (%s)\n",
		        through_daemon ? "daemon" : "rapl");
		exit(1);
	}
	return m;
}

/* Per-pair times (s) of PAIRS pairs into out. */
static void pairs(jst_meter *m, double *out)
{
	for (size_t i = 0; i < PAIRS; i++) {
		jst_window *w;
		jst_measurement *r;
		int64_t t0 = bench_now_ns();
		jst_window_begin(m, "b", &w);
		jst_window_end(w, &r);
		out[i] = (double)(bench_now_ns() - t0) * 1e-9;
		jst_measurement_free(r);
	}
}

struct pair_figures {
	size_t ndom;
	double d50, d99, v50, v99, e50, e99, ratio;
};

/* Window pairs direct and through the daemon, and the IPC floor, trials
 * alternating so that the machine's noise falls on all three. */
static void run_pairs(const struct bench_powercap *sim, struct pair_figures *f)
{
	jst_meter *direct = open_meter(sim, 0), *viad = open_meter(sim, 1);
	f->ndom = jst_meter_domain_count(viad);
	echo_start(JST_DPROTO_HDR_LEN + 4 + f->ndom * JST_DPROTO_READING_LEN);
	static double dp[TRIALS * PAIRS], vp[TRIALS * PAIRS], ep[TRIALS * PAIRS];
	double ratio[TRIALS];
	for (size_t t = 0; t < TRIALS; t++) {
		pairs(direct, dp + t * PAIRS);
		pairs(viad, vp + t * PAIRS);
		echo_pairs(ep + t * PAIRS);
		ratio[t] =
		    bench_median(vp + t * PAIRS, PAIRS) / bench_median(dp + t * PAIRS, PAIRS);
	}
	jst_meter_close(direct);
	jst_meter_close(viad);
	f->v50 = bench_percentile(vp, TRIALS * PAIRS, 50) * 1e6;
	f->v99 = bench_percentile(vp, TRIALS * PAIRS, 99) * 1e6;
	f->d50 = bench_percentile(dp, TRIALS * PAIRS, 50) * 1e6;
	f->d99 = bench_percentile(dp, TRIALS * PAIRS, 99) * 1e6;
	f->e50 = bench_percentile(ep, TRIALS * PAIRS, 50) * 1e6;
	f->e99 = bench_percentile(ep, TRIALS * PAIRS, 99) * 1e6;
	f->ratio = bench_median(ratio, TRIALS);
	close(echo_fd);
	bench_stop(echo_pid, 1000);
}

/* The same as a user other than root, whose readings the daemon limits and
 * hands over in its shared page: in a child that became nobody. */
static int run_pairs_unprivileged(struct bench_powercap *sim, struct pair_figures *f)
{
	if (getuid() != 0) {
		run_pairs(sim, f);
		return 0;
	}
	int p[2];
	if (pipe(p))
		return -1;
	chmod(sim->dir, 0755); /* nobody reaches the socket and the (0444) counters */
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(1);
		run_pairs(sim, f);
		_exit(write(p[1], f, sizeof *f) == (ssize_t)sizeof *f ? 0 : 1);
	}
	close(p[1]);
	ssize_t got = read(p[0], f, sizeof *f);
	close(p[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	return got == (ssize_t)sizeof *f && WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

int main(void)
{
	struct bench_powercap sim;
	if (bench_powercap_start(&sim, BENCH_PACKAGES, BENCH_TRACE) || start_daemon(&sim))
		return 1;
	struct pair_figures user = {0}, root = {0};
	if (run_pairs_unprivileged(&sim, &user)) {
		fprintf(stderr, "bench_daemon: the unprivileged window pairs failed\n");
		return 1;
	}
	if (getuid() == 0)
		run_pairs(&sim, &root);
	size_t ndom = user.ndom;

	/* The direct read's floor: the same files, pread + parse. */
	int fds[64];
	char names[64][64];
	size_t nf = bench_rapl_open(sim.root, fds, names, 64);
	static double fl[20000];
	for (size_t i = 0; i < 20000; i++) {
		int64_t t0 = bench_now_ns();
		bench_rapl_read(fds, nf);
		fl[i] = (double)(bench_now_ns() - t0) * 1e-9;
	}
	double f50 = bench_percentile(fl, 20000, 50) * 1e6;
	double f99 = bench_percentile(fl, 20000, 99) * 1e6;

	/* Clients polling at 10 Hz, staggered over the period as independent
	 * programs would be. */
	static const int counts[] = {1, 10, 100};
	struct row {
		int n;
		size_t reads;
		double p50, p99, cpu_pct;
	} rows[3];
	static double lat[MAX_CLIENTS * 64];
	for (int k = 0; k < 3; k++) {
		int n = counts[k];
		static struct client cl[MAX_CLIENTS];
		for (int i = 0; i < n; i++) {
			cl[i] = (struct client){0};
			if (client_open(&cl[i])) {
				fprintf(stderr, "bench_daemon: client %d cannot connect\n", i);
				return 1;
			}
		}
		size_t nl = 0;
		int64_t period = 100000000LL, t0 = bench_now_ns(), c0 = daemon_cpu_ns();
		int rounds = (int)(LOAD_S * 10);
		for (int r = 0; r < rounds; r++)
			for (int i = 0; i < n; i++) {
				sleep_until(t0 + r * period + i * period / n);
				double l = client_read(&cl[i]);
				if (l >= 0 && nl < sizeof lat / sizeof lat[0])
					lat[nl++] = l;
			}
		int64_t wall = bench_now_ns() - t0, cpu = daemon_cpu_ns() - c0;
		for (int i = 0; i < n; i++)
			close(cl[i].fd);
		rows[k] = (struct row){n, nl, bench_percentile(lat, nl, 50) * 1e6,
		                       bench_percentile(lat, nl, 99) * 1e6,
		                       100.0 * (double)cpu / (double)wall};
	}

	printf("## 9. joulestatd: RAPL through the daemon, beside a direct read\n\n");
	printf("The powercap simulator (%d packages, %zu domains) read by joulestatd "
	       "(`--backends rapl`, resolution 10 ms). Window pair = one `jst_window_begin` + "
	       "`jst_window_end` through the `daemon` backend, beside the same pair on the `rapl` "
	       "backend reading the files itself (%zu alternating trials of %zu pairs; percentiles "
	       "over every pair). As nobody, whose readings the daemon limits, the backend reads "
	       "the page the daemon rewrites once per resolution; as root (unlimited) each edge is "
	       "a READ: one request and its reply with every domain's counter, freshly read.\n\n",
	       BENCH_PACKAGES, ndom, TRIALS, PAIRS);
	printf("| reader | path | window pair p50 | p99 | ratio to direct (median of trials) |\n");
	printf("|---|---|---:|---:|---:|\n");
	printf("| nobody | direct (`rapl`, pread of %zu files) | %.1f µs | %.1f µs | 1.00x |\n", nf,
	       user.d50, user.d99);
	printf("| nobody | through joulestatd (`daemon`): its shared page, no system call | "
	       "**%.1f µs** | %.1f µs | %.2fx |\n",
	       user.v50, user.v99, user.ratio);
	if (root.ndom) {
		printf("| root | direct (`rapl`) | %.1f µs | %.1f µs | 1.00x |\n", root.d50,
		       root.d99);
		printf("| root | through joulestatd (`daemon`, `daemon.mode=always`): a READ per "
		       "edge, "
		       "unlimited | %.1f µs | %.1f µs | %.2fx |\n",
		       root.v50, root.v99, root.ratio);
		printf(
		    "| root | IPC floor: 2 round trips to a process that only echoes | %.1f µs | "
		    "%.1f µs | |\n",
		    root.e50, root.e99);
	}
	printf("\n");
	printf("Clients at 10 Hz: raw protocol clients of this process (root when it runs as "
	       "root: unlimited, so every READ reads the %zu files: the daemon's most expensive "
	       "request), each on its own connection, staggered over the 100 ms period, for %.0f "
	       "s. joulestatd's CPU is its run time from `/proc/PID/schedstat` over that time; "
	       "the direct read is one pread + parse of the same files.\n\n",
	       nf, LOAD_S);
	printf("| clients at 10 Hz | reads | READ round trip p50 | p99 | joulestatd CPU "
	       "(one core) | direct read p50 / p99 |\n");
	printf("|---:|---:|---:|---:|---:|---:|\n");
	for (int k = 0; k < 3; k++)
		printf("| %d | %zu | %.1f µs | %.1f µs | %.3f%% | %.1f / %.1f µs |\n", rows[k].n,
		       rows[k].reads, rows[k].p50, rows[k].p99, rows[k].cpu_pct, f50, f99);
	printf("\nTarget (a window pair through the daemon <= 30 µs at p50): %s (%.1f µs, a user "
	       "other than root).\n\n",
	       bench_verdict(user.v50 <= 30.0), user.v50);

	bench_stop(daemon_pid, 2000);
	bench_powercap_stop(&sim);
	return 0;
}
