/*
 * jst-sim-hwmon: hwmon (and L4T iio) sensor trees laid out as on real
 * machines, animated in real time from a power trace, with an exact truth:
 *   orin        Jetson Orin: hwmon ina238 (VDD_IN, power1_input uW) and hwmon
 *               ina3221 at 1-0040 (VDD_CPU_GPU_CV, VDD_SOC, NC; mV and mA)
 *   xavier-nx   Jetson Xavier NX, L4T 32: iio ina3221x at 7-0040 (rail_name_N,
 *               in_powerN_input mW)
 *   amd-energy  amd_energy: energyN_input uJ counters (Ecore000, Ecore001, Esocket0)
 *   grace       two ACPI power meters (power_meter): power1_average uW with
 *               power1_oem_info "CPU Power Socket 0" / "Module Power Socket 0"
 * See usage() for the options.
 */
#include "json_out.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum rail_kind { R_POWER, R_AVERAGE, R_VOLTCURR, R_COUNTER };

struct rail {
	const char *name; /* as joulestat names the domain */
	enum rail_kind kind;
	double scale;      /* rail power = scale x trace */
	double unit_w;     /* R_POWER, R_AVERAGE: watts per written unit */
	double volt_mv;    /* R_VOLTCURR: the bus voltage */
	double interval_s; /* R_AVERAGE: the averaging interval */
	int fd, fd2;       /* value (power, energy or mV) and mA */
	uint64_t base_uj;  /* R_COUNTER: value at trace time 0 */
	uint64_t reset_uj; /* R_COUNTER: counted when reset */
	double next_avg_s; /* R_AVERAGE: when the next average is due */
};

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static struct {
	const char *root, *layout, *trace_spec, *ready, *truth;
	double tick_s, duration_s, reset_after_s;
} opt = {.trace_spec = "const:20", .tick_s = 0.002};

/* Spells when the files showed an older tick than was due (due, shown; s):
 * tests widen their tolerance by these only. */
static double late_spell[4096][2];
static size_t nlate;
static struct rail rails[8];
static size_t nrails;
static struct sim_trace *trace;
static int reset_done;

static void usage(FILE *f)
{
	fprintf(f, "usage: jst-sim-hwmon --root DIR --layout orin|xavier-nx|amd-energy|grace\n"
	           "  --trace SPEC        module power trace (default const:20)\n"
	           "  --tick-ms MS        sensor refresh (default 2)\n"
	           "  --reset-after S     energy counters restart at 0 after S seconds\n"
	           "  --duration S        stop after S seconds (default: at SIGTERM)\n"
	           "  --ready FILE, --truth FILE  as jst-sim-powercap\n");
}

static int mkdirs(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) && errno != EEXIST ? -errno : 0;
}

static int put(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s/%s", opt.root, dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "jst-sim-hwmon: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = strlen(text);
	int rc = write(fd, text, n) == (ssize_t)n ? 0 : -1;
	close(fd);
	return rc;
}

/* A value file kept open and rewritten in place, readers pread offset 0. */
static int value_file(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s/%s", opt.root, dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fprintf(stderr, "jst-sim-hwmon: %s: %s\n", path, strerror(errno));
	return fd;
}

static void write_value(int fd, uint64_t v)
{
	char buf[32];
	/* Fixed width: a shorter value must not leave digits of a longer one. */
	int n = snprintf(buf, sizeof buf, "%020llu\n", (unsigned long long)v);
	if (pwrite(fd, buf, (size_t)n, 0) != n)
		perror("jst-sim-hwmon: pwrite");
}

static int dir_make(const char *rel)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", opt.root, rel);
	return mkdirs(path);
}

/* class/hwmon/hwmonN -> the device's hwmon directory, as the kernel links it. */
static int class_link(const char *devrel, unsigned n)
{
	char lnk[4096], target[4096];
	if (dir_make("class/hwmon"))
		return -1;
	snprintf(lnk, sizeof lnk, "%s/class/hwmon/hwmon%u", opt.root, n);
	snprintf(target, sizeof target, "../../%s", devrel);
	unlink(lnk);
	return symlink(target, lnk);
}

static struct rail *rail_new(const char *name, enum rail_kind kind, double scale)
{
	struct rail *r = &rails[nrails++];
	*r = (struct rail){.name = name, .kind = kind, .scale = scale, .fd = -1, .fd2 = -1};
	return r;
}

static int ina3221_channel(const char *dir, int k, const char *label, double scale, double mv)
{
	char name[32];
	snprintf(name, sizeof name, "in%d_label", k);
	char text[64];
	snprintf(text, sizeof text, "%s\n", label);
	if (put(dir, name, text))
		return -1;
	snprintf(name, sizeof name, "shunt%d_resistor", k);
	if (put(dir, name, "5000\n"))
		return -1;
	if (scale <= 0)
		return 0; /* NC: labelled, nothing measured */
	struct rail *r = rail_new(label, R_VOLTCURR, scale);
	r->volt_mv = mv;
	snprintf(name, sizeof name, "in%d_input", k);
	r->fd = value_file(dir, name);
	snprintf(name, sizeof name, "curr%d_input", k);
	r->fd2 = value_file(dir, name);
	return r->fd < 0 || r->fd2 < 0 ? -1 : 0;
}

static int layout_orin(void)
{
	const char *ina238 = "devices/platform/bus@0/c250000.i2c/i2c-2/2-0044/hwmon/hwmon1";
	const char *ina3221 = "devices/platform/bus@0/c240000.i2c/i2c-1/1-0040/hwmon/hwmon2";
	if (dir_make(ina238) || dir_make(ina3221) || class_link(ina238, 1) ||
	    class_link(ina3221, 2) || dir_make("bus/i2c/drivers/ina3221"))
		return -1;
	if (put(ina238, "name", "ina238\n") || put(ina238, "label", "VDD_IN\n") ||
	    put(ina238, "update_interval", "2\n"))
		return -1;
	struct rail *r = rail_new("VDD_IN", R_POWER, 1.0);
	r->unit_w = 1e-6;
	if ((r->fd = value_file(ina238, "power1_input")) < 0)
		return -1;
	char lnk[4096];
	snprintf(lnk, sizeof lnk, "%s/bus/i2c/drivers/ina3221/1-0040", opt.root);
	unlink(lnk);
	if (symlink("../../../../devices/platform/bus@0/c240000.i2c/i2c-1/1-0040", lnk))
		return -1;
	if (put(ina3221, "name", "ina3221\n") || put(ina3221, "update_interval", "5\n"))
		return -1;
	return ina3221_channel(ina3221, 1, "VDD_CPU_GPU_CV", 0.55, 5072) ||
	       ina3221_channel(ina3221, 2, "VDD_SOC", 0.25, 5064) ||
	       ina3221_channel(ina3221, 3, "NC", 0, 0);
}

static int layout_xavier_nx(void)
{
	const char *dev = "bus/i2c/drivers/ina3221x/7-0040/iio:device0";
	static const char *names[] = {"VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"};
	static const double scales[] = {1.0, 0.45, 0.25};
	if (dir_make(dev) || put(dev, "name", "ina3221x\n"))
		return -1;
	for (int k = 0; k < 3; k++) {
		char name[48], text[48];
		snprintf(name, sizeof name, "rail_name_%d", k);
		snprintf(text, sizeof text, "%s\n", names[k]);
		if (put(dev, name, text))
			return -1;
		snprintf(name, sizeof name, "in_voltage%d_input", k);
		if (put(dev, name, "5000\n"))
			return -1;
		struct rail *r = rail_new(names[k], R_POWER, scales[k]);
		r->unit_w = 1e-3;
		snprintf(name, sizeof name, "in_power%d_input", k);
		if ((r->fd = value_file(dev, name)) < 0)
			return -1;
	}
	return 0;
}

static int layout_amd_energy(void)
{
	const char *dev = "devices/platform/amd_energy.0/hwmon/hwmon3";
	static const char *labels[] = {"Ecore000", "Ecore001", "Esocket0"};
	static const char *names[] = {"amd_energy-Ecore000", "amd_energy-Ecore001",
	                              "amd_energy-Esocket0"};
	static const double scales[] = {0.2, 0.15, 1.0};
	if (dir_make(dev) || class_link(dev, 3) || put(dev, "name", "amd_energy\n"))
		return -1;
	for (int k = 0; k < 3; k++) {
		char name[48], text[48];
		snprintf(name, sizeof name, "energy%d_label", k + 1);
		snprintf(text, sizeof text, "%s\n", labels[k]);
		if (put(dev, name, text))
			return -1;
		struct rail *r = rail_new(names[k], R_COUNTER, scales[k]);
		r->base_uj = 123456789012ull * (uint64_t)(k + 1);
		snprintf(name, sizeof name, "energy%d_input", k + 1);
		if ((r->fd = value_file(dev, name)) < 0)
			return -1;
	}
	return 0;
}

static int layout_grace(void)
{
	static const char *devs[] = {"devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/NVDA2008:00",
	                             "devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/NVDA2008:01"};
	static const char *labels[] = {"CPU Power Socket 0", "Module Power Socket 0"};
	static const char *names[] = {"power_meter-CPU_Power_Socket_0",
	                              "power_meter-Module_Power_Socket_0"};
	static const double scales[] = {0.6, 1.0};
	for (unsigned k = 0; k < 2; k++) {
		char hw[512], lnk[4096], text[64];
		snprintf(hw, sizeof hw, "%s/hwmon/hwmon%u", devs[k], 4 + k);
		if (dir_make(hw) || class_link(hw, 4 + k) || put(hw, "name", "power_meter\n"))
			return -1;
		snprintf(lnk, sizeof lnk, "%s/%s/device", opt.root, hw);
		unlink(lnk);
		if (symlink("../..", lnk))
			return -1;
		snprintf(text, sizeof text, "%s\n", labels[k]);
		if (put(devs[k], "power1_oem_info", text) ||
		    put(devs[k], "power1_average_interval", "50\n"))
			return -1;
		struct rail *r = rail_new(names[k], R_AVERAGE, scales[k]);
		r->unit_w = 1e-6;
		r->interval_s = 0.05;
		if ((r->fd = value_file(devs[k], "power1_average")) < 0)
			return -1;
	}
	return 0;
}

static void tick(double t)
{
	double e = sim_trace_energy(trace, 0, t);
	int reset_now = opt.reset_after_s > 0 && !reset_done && t >= opt.reset_after_s;
	reset_done |= reset_now;
	for (size_t i = 0; i < nrails; i++) {
		struct rail *r = &rails[i];
		double p = r->scale * sim_trace_power(trace, t);
		switch (r->kind) {
		case R_POWER:
			write_value(r->fd, (uint64_t)llround(p / r->unit_w));
			break;
		case R_VOLTCURR:
			write_value(r->fd, (uint64_t)llround(r->volt_mv));
			write_value(r->fd2, (uint64_t)llround(p / r->volt_mv * 1e6));
			break;
		case R_AVERAGE:
			/* The firmware's mean over its last interval, replaced once per interval.
			 */
			if (t + 1e-9 >= r->next_avg_s) {
				double t0 = t > r->interval_s ? t - r->interval_s : 0;
				double avg =
				    t > t0 ? r->scale * sim_trace_energy(trace, t0, t) / (t - t0)
				           : p;
				write_value(r->fd, (uint64_t)llround(avg / r->unit_w));
				r->next_avg_s = t + r->interval_s;
			}
			break;
		case R_COUNTER: {
			uint64_t counted = (uint64_t)floor(r->scale * e * 1e6);
			if (reset_now)
				r->reset_uj = counted;
			write_value(r->fd,
			            reset_done ? counted - r->reset_uj : r->base_uj + counted);
			break;
		}
		}
	}
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int write_json(const char *path, int64_t start_ns, double end_s)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "{\"start_ns\": %lld, \"tick_s\": %.9g, \"trace\": ", (long long)start_ns,
	        opt.tick_s);
	sim_json_string(f, opt.trace_spec);
	fprintf(f, ", \"layout\": ");
	sim_json_string(f, opt.layout);
	if (end_s >= 0) {
		static const char *kinds[] = {"power", "average", "volt-curr", "counter"};
		fprintf(f, ", \"end_s\": %.9f, \"rails\": [", end_s);
		for (size_t i = 0; i < nrails; i++) {
			fprintf(f, "%s{\"name\": ", i ? ", " : "");
			sim_json_string(f, rails[i].name);
			fprintf(f,
			        ", \"kind\": \"%s\", \"scale\": %.17g, \"interval_s\": %.9g, "
			        "\"max_power_w\": %.9g, \"energy_j\": %.9f}",
			        kinds[rails[i].kind], rails[i].scale, rails[i].interval_s,
			        rails[i].scale * sim_trace_max_power(trace),
			        rails[i].scale * sim_trace_energy(trace, 0, end_s));
		}
		fprintf(f, "], \"late\": [");
		for (size_t i = 0; i < nlate; i++)
			fprintf(f, "%s[%.6f, %.6f]", i ? ", " : "", late_spell[i][0],
			        late_spell[i][1]);
		fprintf(f, "]");
	}
	fprintf(f, "}\n");
	int bad = ferror(f);
	if (fclose(f) || bad || rename(tmp, path))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"root", required_argument, 0, 'r'},
	                                   {"layout", required_argument, 0, 'l'},
	                                   {"trace", required_argument, 0, 't'},
	                                   {"tick-ms", required_argument, 0, 'k'},
	                                   {"reset-after", required_argument, 0, 'x'},
	                                   {"duration", required_argument, 0, 'd'},
	                                   {"ready", required_argument, 0, 'y'},
	                                   {"truth", required_argument, 0, 'u'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			opt.root = optarg;
			break;
		case 'l':
			opt.layout = optarg;
			break;
		case 't':
			opt.trace_spec = optarg;
			break;
		case 'k':
			opt.tick_s = atof(optarg) * 1e-3;
			break;
		case 'x':
			opt.reset_after_s = atof(optarg);
			break;
		case 'd':
			opt.duration_s = atof(optarg);
			break;
		case 'y':
			opt.ready = optarg;
			break;
		case 'u':
			opt.truth = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!opt.root || !opt.layout || !(opt.tick_s > 0)) {
		usage(stderr);
		return 2;
	}
	char err[256];
	if (!(trace = sim_trace_parse(opt.trace_spec, err, sizeof err))) {
		fprintf(stderr, "jst-sim-hwmon: %s\n", err);
		return 2;
	}
	int rc;
	const char *layout = opt.layout ? opt.layout : "";
	if (!strcmp(layout, "orin"))
		rc = layout_orin();
	else if (!strcmp(layout, "xavier-nx"))
		rc = layout_xavier_nx();
	else if (!strcmp(layout, "amd-energy"))
		rc = layout_amd_energy();
	else if (!strcmp(layout, "grace"))
		rc = layout_grace();
	else {
		fprintf(stderr, "jst-sim-hwmon: unknown layout '%s'\n", opt.layout);
		return 2;
	}
	if (rc) {
		fprintf(stderr, "jst-sim-hwmon: cannot build the %s tree under %s\n", opt.layout,
		        opt.root);
		return 1;
	}
	/* As jst-sim-powercap: sensors refresh on time however busy the tests are. */
	struct sched_param sp = {.sched_priority = 10};
	(void)sched_setscheduler(0, SCHED_FIFO, &sp);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	tick(0);
	int64_t start = now_ns();
	if (opt.ready && write_json(opt.ready, start, -1))
		return 1;
	int64_t tick_ns = llround(opt.tick_s * 1e9);
	for (int64_t k = 1; !stop_requested; k++) {
		int64_t due = start + k * tick_ns;
		struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR ||
		    stop_requested)
			break;
		int64_t late = (now_ns() - start) / tick_ns;
		if (late > k)
			k = late;
		double t = (double)k * opt.tick_s;
		if (opt.duration_s > 0 && t > opt.duration_s)
			break;
		tick(t);
		int64_t lag = now_ns() - due;
		if (lag > tick_ns && nlate < sizeof late_spell / sizeof late_spell[0]) {
			late_spell[nlate][0] = (double)(due - start) * 1e-9;
			late_spell[nlate][1] = (double)(due - start + lag) * 1e-9;
			nlate++;
		}
	}
	double end_s = (double)(now_ns() - start) * 1e-9;
	if (opt.duration_s > 0 && end_s > opt.duration_s)
		end_s = opt.duration_s;
	rc = opt.truth ? write_json(opt.truth, start, end_s) : 0;
	for (size_t i = 0; i < nrails; i++) {
		if (rails[i].fd >= 0)
			close(rails[i].fd);
		if (rails[i].fd2 >= 0)
			close(rails[i].fd2);
	}
	sim_trace_free(trace);
	return rc ? 1 : 0;
}
