/*
 * jst-sim-powercap: build a powercap tree under --root and animate its energy
 * counters in real time from a power trace; joulestat then reads it with
 * JOULESTAT_SYSFS_ROOT=ROOT. See usage() for the options.
 */
#include "simpc.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: jst-sim-powercap --root DIR [options]\n"
	    "  --root DIR          write DIR/class/powercap/... (required)\n"
	    "  --packages N        CPU packages (default 2)\n"
	    "  --dies N            dies per package; >1 names zones package-N-die-M (default 1)\n"
	    "  --trace SPEC        per-package power trace (default const:50)\n"
	    "  --no-dram           no dram subzones\n"
	    "  --psys              add a psys zone (1.3 x packages + dram)\n"
	    "  --mmio              add intel-rapl-mmio:0, a duplicate of the first package\n"
	    "  --modulus-j J       counter range in joules (default 262143.328850)\n"
	    "  --tdp-w W           constraint_0_max_power_uw says W and constraint_1's says 0,\n"
	    "                      as on client CPUs whose turbo (PL2) runs far above it\n"
	    "  --max-power-uw TEXT constraint_0_max_power_uw holds TEXT as it is, such as\n"
	    "                      18446744073709551615 from broken firmware\n"
	    "  --start-near-wrap   counters start 3 J below their wrap\n"
	    "  --mode M            normal | unreadable | garbage | garbage-range | garbage-late\n"
	    "  --garbage-after S   garbage-late: when package-0 turns to garbage (default 1)\n"
	    "  --garbage-for S     garbage-late: package-0 reads again after S seconds (default "
	    "0:\n"
	    "                      never)\n"
	    "  --dram-scale X      dram zones draw X x the trace (default 0.2); they state no\n"
	    "                      constraint, as on most servers\n"
	    "  --replace-after S   from S on, package-0's energy_uj is a new file (renamed over\n"
	    "                      the old): a reader's open descriptor sees a counter that "
	    "stopped\n"
	    "  --tick-ms MS        counter refresh period (default 1)\n"
	    "  --duration S        stop after S seconds (default 0: at SIGTERM/SIGINT)\n"
	    "  --ready FILE        written once the tree is complete: {\"start_ns\": ...}\n"
	    "  --truth FILE        written at exit: the exact energy of every zone\n"
	    "The same counters through MSRs and perf (docs/backends/rapl-msr.md, rapl-perf.md):\n"
	    "  --procfs DIR        write DIR/cpuinfo and DIR/sys/kernel/perf_event_paranoid\n"
	    "  --devfs DIR         MSR files DIR/cpu/N/msr (8 bytes per register at its address)\n"
	    "  --perf DIR          the power PMU under ROOT/bus/event_source/devices/power and\n"
	    "                      its counts in DIR for sim/perf's stand-in (JSTSIM_PERF_DIR)\n"
	    "  --perf-refuse       sim/perf refuses every event with EACCES\n"
	    "  --no-powercap       no class/powercap tree (MSR and perf only)\n"
	    "  --vendor V          intel (default) or amd (package counter only)\n"
	    "  --cpu-model N       cpuinfo's model (default 158); Intel server models (85, 106,\n"
	    "                      143, ...) count DRAM in 2^-16 J whatever the unit register "
	    "says\n"
	    "  --esu N             energy status unit: counters count 2^-N J (default 14 Intel,\n"
	    "                      16 AMD); 27 makes the 32-bit counters wrap every 32 J\n"
	    "  --cpus-per-package N  CPUs per package-die in the topology (default 2)\n"
	    "  --msr-reset-after S the MSR counters restart at 0 after S seconds\n");
}

static int parse_double(const char *arg, const char *opt, double lo, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= lo) || isinf(v)) {
		fprintf(stderr, "jst-sim-powercap: bad value for %s: '%s'\n", opt, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_mode(const char *arg, enum simpc_mode *out)
{
	static const char *names[] = {"normal", "unreadable", "garbage", "garbage-range",
	                              "garbage-late"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!strcmp(arg, names[i])) {
			*out = (enum simpc_mode)i;
			return 0;
		}
	}
	fprintf(stderr, "jst-sim-powercap: unknown mode '%s'\n", arg);
	return -EINVAL;
}

static int parse_opts(int argc, char **argv, struct simpc_opts *o)
{
	enum {
		O_ROOT = 256,
		O_PKG,
		O_DIES,
		O_TRACE,
		O_NODRAM,
		O_PSYS,
		O_MMIO,
		O_MOD,
		O_TDP,
		O_MAX_POWER_UW,
		O_NEAR,
		O_MODE,
		O_GAFTER,
		O_TICK,
		O_GFOR,
		O_DRAMSCALE,
		O_REPLACE,
		O_DUR,
		O_READY,
		O_TRUTH,
		O_PROCFS,
		O_DEVFS,
		O_PERF,
		O_PREFUSE,
		O_NOPC,
		O_VENDOR,
		O_MODEL,
		O_ESU,
		O_CPP,
		O_MRESET,
		O_HELP
	};
	static const struct option longopts[] = {
	    {"root", required_argument, 0, O_ROOT},
	    {"packages", required_argument, 0, O_PKG},
	    {"dies", required_argument, 0, O_DIES},
	    {"trace", required_argument, 0, O_TRACE},
	    {"no-dram", no_argument, 0, O_NODRAM},
	    {"psys", no_argument, 0, O_PSYS},
	    {"mmio", no_argument, 0, O_MMIO},
	    {"modulus-j", required_argument, 0, O_MOD},
	    {"tdp-w", required_argument, 0, O_TDP},
	    {"max-power-uw", required_argument, 0, O_MAX_POWER_UW},
	    {"start-near-wrap", no_argument, 0, O_NEAR},
	    {"mode", required_argument, 0, O_MODE},
	    {"garbage-after", required_argument, 0, O_GAFTER},
	    {"tick-ms", required_argument, 0, O_TICK},
	    {"garbage-for", required_argument, 0, O_GFOR},
	    {"dram-scale", required_argument, 0, O_DRAMSCALE},
	    {"replace-after", required_argument, 0, O_REPLACE},
	    {"duration", required_argument, 0, O_DUR},
	    {"ready", required_argument, 0, O_READY},
	    {"truth", required_argument, 0, O_TRUTH},
	    {"procfs", required_argument, 0, O_PROCFS},
	    {"devfs", required_argument, 0, O_DEVFS},
	    {"perf", required_argument, 0, O_PERF},
	    {"perf-refuse", no_argument, 0, O_PREFUSE},
	    {"no-powercap", no_argument, 0, O_NOPC},
	    {"vendor", required_argument, 0, O_VENDOR},
	    {"cpu-model", required_argument, 0, O_MODEL},
	    {"esu", required_argument, 0, O_ESU},
	    {"cpus-per-package", required_argument, 0, O_CPP},
	    {"msr-reset-after", required_argument, 0, O_MRESET},
	    {"help", no_argument, 0, O_HELP},
	    {0, 0, 0, 0},
	};
	*o = (struct simpc_opts){.packages = 2,
	                         .dies = 1,
	                         .trace_spec = "const:50",
	                         .dram = 1,
	                         .modulus_j = 262143.328850,
	                         .garbage_after_s = 1,
	                         .dram_scale = 0.2,
	                         .tick_s = 0.001,
	                         .cpu_model = 158,
	                         .cpus_per_package = 2};
	int esu_set = 0;
	int c;
	double v;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int rc = 0;
		switch (c) {
		case O_ROOT:
			o->root = optarg;
			break;
		case O_PKG:
		case O_DIES:
			if (!(rc = parse_double(optarg, c == O_PKG ? "--packages" : "--dies", 1,
			                        &v))) {
				if (v != floor(v) || v > 64) {
					fprintf(stderr, "jst-sim-powercap: bad count '%s'\n",
					        optarg);
					return -EINVAL;
				}
				*(c == O_PKG ? &o->packages : &o->dies) = (unsigned)v;
			}
			break;
		case O_TRACE:
			o->trace_spec = optarg;
			break;
		case O_NODRAM:
			o->dram = 0;
			break;
		case O_PSYS:
			o->psys = 1;
			break;
		case O_MMIO:
			o->mmio = 1;
			break;
		case O_MOD:
			rc = parse_double(optarg, "--modulus-j", 1e-3, &o->modulus_j);
			break;
		case O_TDP:
			rc = parse_double(optarg, "--tdp-w", 1, &o->tdp_w);
			break;
		case O_MAX_POWER_UW:
			o->max_power_uw = optarg;
			break;
		case O_NEAR:
			o->start_near_wrap = 1;
			break;
		case O_MODE:
			rc = parse_mode(optarg, &o->mode);
			break;
		case O_GAFTER:
			rc = parse_double(optarg, "--garbage-after", 0, &o->garbage_after_s);
			break;
		case O_GFOR:
			rc = parse_double(optarg, "--garbage-for", 0, &o->garbage_for_s);
			break;
		case O_DRAMSCALE:
			rc = parse_double(optarg, "--dram-scale", 0, &o->dram_scale);
			break;
		case O_REPLACE:
			rc = parse_double(optarg, "--replace-after", 0, &o->replace_after_s);
			break;
		case O_TICK:
			if (!(rc = parse_double(optarg, "--tick-ms", 0.01, &v)))
				o->tick_s = v * 1e-3;
			break;
		case O_DUR:
			rc = parse_double(optarg, "--duration", 0, &o->duration_s);
			break;
		case O_READY:
			o->ready_path = optarg;
			break;
		case O_TRUTH:
			o->truth_path = optarg;
			break;
		case O_PROCFS:
			o->procfs = optarg;
			break;
		case O_DEVFS:
			o->devfs = optarg;
			break;
		case O_PERF:
			o->perf = optarg;
			break;
		case O_PREFUSE:
			o->perf_refuse = 1;
			break;
		case O_NOPC:
			o->no_powercap = 1;
			break;
		case O_VENDOR:
			if (strcmp(optarg, "intel") != 0 && strcmp(optarg, "amd") != 0) {
				fprintf(stderr, "jst-sim-powercap: unknown vendor '%s'\n", optarg);
				return -EINVAL;
			}
			o->amd = !strcmp(optarg, "amd");
			break;
		case O_MODEL:
		case O_ESU:
		case O_CPP:
			if (!(rc = parse_double(optarg, "a count", c == O_MODEL ? 0 : 1, &v))) {
				if (v != floor(v) || v > (c == O_ESU ? 31 : 255)) {
					fprintf(stderr, "jst-sim-powercap: bad count '%s'\n",
					        optarg);
					return -EINVAL;
				}
				if (c == O_MODEL)
					o->cpu_model = (unsigned)v;
				else if (c == O_ESU)
					o->esu = (unsigned)v, esu_set = 1;
				else
					o->cpus_per_package = (unsigned)v;
			}
			break;
		case O_MRESET:
			rc = parse_double(optarg, "--msr-reset-after", 0, &o->msr_reset_after);
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (rc)
			return rc;
	}
	if (!esu_set)
		o->esu = o->amd ? 16 : 14;
	if (o->perf && o->packages * o->dies > SIMPC_MAX_TOPS) {
		fprintf(stderr, "jst-sim-powercap: --perf serves at most %d package-dies\n",
		        SIMPC_MAX_TOPS);
		return -EINVAL;
	}
	if (optind < argc || !o->root) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Remember a late spell; past the cap only the count and the maximum are kept. */
static void note_late(struct simpc *s, int64_t from_ns, int64_t to_ns)
{
	if (s->nlate == s->late_cap) {
		size_t cap = s->late_cap ? 2 * s->late_cap : 64;
		if (cap > 65536)
			return;
		void *p = realloc(s->late, cap * sizeof *s->late);
		if (!p)
			return;
		s->late = p;
		s->late_cap = cap;
	}
	s->late[s->nlate][0] = from_ns;
	s->late[s->nlate][1] = to_ns;
	s->nlate++;
}

/* Tick k writes the counters for trace time k x tick. A tick that comes late
 * writes the latest due time, as hardware that refreshes on its own clock would. */
static void run_ticks(struct simpc *s)
{
	int64_t tick_ns = (int64_t)llround(s->o.tick_s * 1e9);
	int64_t k = 0;
	int spoiled = 0, replaced = 0;
	while (!stop_requested) {
		k++;
		int64_t due = s->start_ns + k * tick_ns;
		struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
		int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (r == EINTR || stop_requested)
			break;
		int64_t late = (now_ns() - s->start_ns) / tick_ns;
		if (late > k)
			k = late;
		double t = (double)k * s->o.tick_s;
		if (s->o.duration_s > 0 && t > s->o.duration_s)
			break;
		if (s->o.mode == SIMPC_GARBAGE_LATE && !spoiled && t >= s->o.garbage_after_s) {
			simpc_tree_spoil(s);
			spoiled = 1;
		}
		if (spoiled == 1 && s->o.garbage_for_s > 0 &&
		    t >= s->o.garbage_after_s + s->o.garbage_for_s) {
			simpc_tree_unspoil(s);
			spoiled = 2;
		}
		if (s->o.replace_after_s > 0 && !replaced && t >= s->o.replace_after_s) {
			simpc_tree_replace(s);
			replaced = 1;
		}
		simpc_tree_tick(s, t);
		s->last_tick_s = t;
		/* How long after its due time a tick's values became readable: the
		 * one way this simulator differs from hardware, so it is reported. */
		int64_t lag = now_ns() - due; /* due: the oldest tick not yet shown */
		if (lag > s->max_lag_ns)
			s->max_lag_ns = lag;
		if (lag > tick_ns) {
			s->late_ticks++;
			note_late(s, due - s->start_ns, due - s->start_ns + lag);
		}
	}
}

int main(int argc, char **argv)
{
	struct simpc s = {0};
	char err[256];
	if (parse_opts(argc, argv, &s.o))
		return 2;
	if (!(s.trace = sim_trace_parse(s.o.trace_spec, err, sizeof err))) {
		fprintf(stderr, "jst-sim-powercap: %s\n", err);
		return 2;
	}
	/* Hardware refreshes its counters on time whatever the load; a simulator
	 * preempted by busy tests would show stale values for milliseconds. Real-time
	 * priority where allowed (root, CAP_SYS_NICE); the lag is in the truth file
	 * either way. It sleeps between ticks, so it cannot starve anything. */
	struct sched_param sp = {.sched_priority = 10};
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		s.realtime = 0;
	else
		s.realtime = 1;
	/* A test that dies must not leave its simulator running. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int rc = simpc_layout(&s);
	if (!rc)
		rc = simpc_tree_create(&s);
	if (rc) {
		fprintf(stderr, "jst-sim-powercap: cannot build the tree under %s: %s\n", s.o.root,
		        strerror(-rc));
		simpc_tree_close(&s);
		sim_trace_free(s.trace);
		return 1;
	}
	/* Trace time 0 is now: every counter holds its base. */
	s.start_ns = now_ns();
	if (simpc_write_ready(&s))
		rc = 1;
	else
		run_ticks(&s);
	s.end_s = (double)(now_ns() - s.start_ns) * 1e-9;
	if (s.o.duration_s > 0 && s.end_s > s.o.duration_s)
		s.end_s = s.o.duration_s;
	if (simpc_write_truth(&s))
		rc = 1;
	simpc_tree_close(&s);
	sim_trace_free(s.trace);
	free(s.late);
	return rc ? 1 : 0;
}
