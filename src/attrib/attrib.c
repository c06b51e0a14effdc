/*
 * The attribution thread: one window of its own on the meter, rotated every
 * period; at each rotation the busy CPU time per package, each target's CPU
 * time and each GPU's per-process use since the last one; everything folded
 * into sums (attrib_model.c). See docs/attribution.md for the model.
 */
#include "attrib.h"
#include "attrib_gpu.h"
#include "attrib_model.h"
#include "attrib_track.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Each model's own error, added to the domain's class (docs/attribution.md). */
#define MODEL_CPU 0.10
#define MODEL_DRAM 0.20
#define MODEL_GPU 0.15

enum dom_type { DOM_CPU, DOM_DRAM, DOM_GPU };

struct dom {
	size_t index; /* in the measurements of the meter */
	enum dom_type type;
	int pkg; /* CPU, DRAM: the package; -1: every CPU (the estimate) */
	char uuid[96];
	double idle_given; /* NaN: not given */
	double uncertainty_j, accuracy, energy_j;
	struct jst_attr_sums sums;
	struct jst_gpu_tick {
		double busy; /* all processes' busy fraction, this tick */
		int known;
	} gpu;
	struct jst_attr_gpu_use use;
};

struct target {
	struct jst_attr_target t;
	char label[160];
	char *cgroup; /* a copy of t.cgroup */
	struct jst_attr_tracker tr;
	uint64_t cg_usec;
	int cg_have;
	double *work; /* per CPU, this tick, in clock ticks */
	struct jst_attr_target_sums sums[JST_ATTR_DOMAINS_MAX];
};

struct jst_attrib {
	jst_meter *meter;
	jst_window *w;
	struct jst_attr_settings s; /* its strings are copies, in strings */
	char *strings[5];
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop, thread_started;
	int error;
	double hz;
	size_t ncpu;
	int *pkg; /* package of each CPU */
	unsigned npkg;
	struct jst_attr_cpus prev;
	struct dom dom[JST_ATTR_DOMAINS_MAX];
	size_t ndom;
	struct target tg[JST_ATTR_TARGETS_MAX];
	size_t ntg;
	const struct jst_attr_gpu_source *gpu;
	void *gpu_state;
	unsigned ticks;
	int64_t read_ns; /* the middle of the last reading */
	double duration_s;
	char note[1024];
};

static void note_add(struct jst_attrib *a, const char *fmt, const char *arg)
{
	char line[512];
	snprintf(line, sizeof line, fmt, arg);
	if (strstr(a->note, line))
		return;
	size_t used = strlen(a->note);
	snprintf(a->note + used, sizeof a->note - used, "%s%s", used ? "; " : "", line);
}

int jst_attr_idle_lookup(const char *spec, const char *domain, double *idle_w)
{
	*idle_w = NAN;
	if (!spec || !*spec)
		return 0;
	double all = NAN;
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[128];
		if (len == 0 || len >= sizeof item)
			return -EINVAL;
		memcpy(item, p, len);
		item[len] = '\0';
		char *colon = strrchr(item, ':');
		const char *num = colon ? colon + 1 : item;
		char *nend;
		double v = strtod(num, &nend);
		if (nend == num || *nend || !(v >= 0) || !isfinite(v))
			return -EINVAL;
		if (!colon)
			all = v;
		else {
			*colon = '\0';
			if (!strcmp(item, domain))
				*idle_w = v;
		}
		p = end ? end + 1 : p + len;
	}
	if (isnan(*idle_w) && (!strncmp(domain, "package", 7) || !strcmp(domain, "cpu")))
		*idle_w = all; /* a bare figure is each CPU package's */
	return 0;
}

/* Which package a CPU-side device is: "cpu:package-N[...]" -> N; "cpu" (the
 * estimate, the whole machine) -> -1; -2 when it is no CPU package. */
static int package_of(const char *device)
{
	if (!strcmp(device, "cpu"))
		return -1;
	if (strncmp(device, "cpu:package-", 12) != 0)
		return -2;
	char *end;
	long v = strtol(device + 12, &end, 10);
	return end == device + 12 || v < 0 || v > 4095 ? -2 : (int)v;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The domains a first measurement shows that can be attributed. */
static void pick_domains(struct jst_attrib *a, const jst_measurement *m)
{
	for (size_t i = 0; i < jst_measurement_domain_count(m) && a->ndom < JST_ATTR_DOMAINS_MAX;
	     i++) {
		jst_domain_energy d = {.size = sizeof d};
		if (jst_measurement_domain(m, i, &d) || !d.primary || d.parent >= 0)
			continue;
		struct dom x = {.index = i};
		if (d.kind == JST_KIND_GPU && !strncmp(d.device, "gpu:", 4)) {
			x.type = DOM_GPU;
			snprintf(x.uuid, sizeof x.uuid, "%s", d.device + 4);
		} else if ((d.kind == JST_KIND_PACKAGE || d.kind == JST_KIND_DRAM) &&
		           (x.pkg = package_of(d.device)) > -2) {
			x.type = d.kind == JST_KIND_DRAM ? DOM_DRAM : DOM_CPU;
		} else {
			note_add(a, "%s is not attributed (no model for it)", d.name);
			continue;
		}
		if (!strcmp(d.backend, "estimate"))
			note_add(a,
			         "%s is the estimate backend's model of the whole machine: its "
			         "figure covers every process, and only the share shown is the "
			         "targets'",
			         d.name);
		jst_attr_idle_lookup(a->s.idle, d.name, &x.idle_given);
		a->dom[a->ndom++] = x;
	}
}

/* Busy ticks of package pkg (-1: all CPUs) between two readings, and its CPUs. */
static double pkg_busy(const struct jst_attrib *a, const struct jst_attr_cpus *now, int pkg,
                       size_t *ncpus)
{
	double busy = 0;
	*ncpus = 0;
	for (size_t c = 0; c < now->n; c++) {
		if (!now->online[c] || (pkg >= 0 && (c >= a->ncpu || a->pkg[c] != pkg)))
			continue;
		(*ncpus)++;
		if (c < a->prev.n && a->prev.online[c] && now->busy[c] >= a->prev.busy[c])
			busy += (double)(now->busy[c] - a->prev.busy[c]);
	}
	return busy;
}

static double work_on(const struct jst_attrib *a, const struct target *t, int pkg)
{
	double w = 0;
	for (size_t c = 0; c < a->ncpu; c++)
		if (pkg < 0 || a->pkg[c] == pkg)
			w += t->work[c];
	return w;
}

/* Everything read at one reading: the CPUs' busy time before and after the
 * processes' and cgroups' files, taken again when the reading was slow. */
struct snapshot {
	struct jst_attr_cpus now; /* busy time at the middle of the reading */
	struct jst_attr_pid *all;
	size_t nall;
	pid_t *cg_pids[JST_ATTR_TARGETS_MAX];
	size_t cg_n[JST_ATTR_TARGETS_MAX];
	uint64_t cg_usec[JST_ATTR_TARGETS_MAX];
	int cg_rc[JST_ATTR_TARGETS_MAX];
	int64_t t_ns; /* the middle of the reading */
};

static void snapshot_free(struct snapshot *sn)
{
	jst_attr_cpus_free(&sn->now);
	free(sn->all);
	for (size_t i = 0; i < JST_ATTR_TARGETS_MAX; i++)
		free(sn->cg_pids[i]);
	*sn = (struct snapshot){0};
}

/* A reading slower than this was likely preempted between its files: it is
 * taken again (a few times at most), since the targets' time and the busy
 * time it is divided by must be read at one instant. */
#define READ_TIGHT_NS 3000000LL
#define READ_TRIES 4

static int snapshot_take(struct jst_attrib *a, struct snapshot *sn, char *why, size_t len)
{
	int rc = 0;
	for (int attempt = 0; attempt < READ_TRIES; attempt++) {
		snapshot_free(sn);
		int64_t t0 = now_ns();
		rc = jst_attr_cpus_read(a->s.procfs, &sn->now, why, len);
		if (!rc)
			rc = jst_attr_pids_scan(a->s.procfs, &sn->all, &sn->nall);
		for (size_t i = 0; !rc && i < a->ntg; i++) {
			if (a->tg[i].t.type != JST_ATTR_CGROUP)
				continue;
			if (jst_attr_cgroup_pids(a->s.cgroup_root, a->tg[i].t.cgroup,
			                         &sn->cg_pids[i], &sn->cg_n[i]))
				sn->cg_n[i] = 0;
			sn->cg_rc[i] = jst_attr_cgroup_usage(a->s.cgroup_root, a->tg[i].t.cgroup,
			                                     &sn->cg_usec[i]);
		}
		struct jst_attr_cpus after = {0};
		char w2[64];
		if (!rc && jst_attr_cpus_read(a->s.procfs, &after, w2, sizeof w2) == 0) {
			/* The busy time at the middle of the reading. */
			for (size_t c = 0; c < sn->now.n && c < after.n; c++)
				if (sn->now.online[c] && after.online[c] &&
				    after.busy[c] >= sn->now.busy[c])
					sn->now.busy[c] += (after.busy[c] - sn->now.busy[c]) / 2;
		}
		jst_attr_cpus_free(&after);
		int64_t t1 = now_ns();
		sn->t_ns = t0 + (t1 - t0) / 2;
		if (rc || t1 - t0 < READ_TIGHT_NS)
			break;
	}
	if (rc && !*why)
		snprintf(why, len, "cannot read %.200s: %s", a->s.procfs, strerror(-rc));
	return rc;
}

/* Every target's CPU ticks since the last reading, per CPU. */
static int read_targets(struct jst_attrib *a, const struct snapshot *sn, int first)
{
	int rc = 0;
	const struct jst_attr_cpus *now = &sn->now;
	for (size_t i = 0; i < a->ntg && !rc; i++) {
		struct target *t = &a->tg[i];
		memset(t->work, 0, a->ncpu * sizeof *t->work);
		if (t->t.type == JST_ATTR_TREE) {
			rc = jst_attr_track(&t->tr, sn->all, sn->nall, t->t.pid, NULL, 0, t->work,
			                    a->ncpu);
			continue;
		}
		rc = jst_attr_track(&t->tr, sn->all, sn->nall, 0, sn->cg_pids[i], sn->cg_n[i],
		                    t->work, a->ncpu);
		uint64_t usec = sn->cg_usec[i];
		if (sn->cg_rc[i]) {
			note_add(a, "%s: cpu.stat unreadable: its processes' own times counted",
			         t->label);
			t->cg_have = 0;
			continue;
		}
		if (!first && t->cg_have && usec >= t->cg_usec) {
			/* The cgroup's own count is exact (threads, processes gone
			 * unseen): its processes' times only say where it ran. */
			double ticks = (double)(usec - t->cg_usec) * 1e-6 * a->hz;
			double seen = 0;
			for (size_t c = 0; c < a->ncpu; c++)
				seen += t->work[c];
			for (size_t c = 0; c < a->ncpu; c++) {
				if (seen > 0) {
					t->work[c] = ticks * t->work[c] / seen;
				} else {
					/* Nothing seen of where: by each CPU's busy time. */
					double b = 0, all_b = 0;
					for (size_t k = 0; k < now->n && k < a->prev.n; k++) {
						double d =
						    now->busy[k] >= a->prev.busy[k]
						        ? (double)(now->busy[k] - a->prev.busy[k])
						        : 0;
						all_b += d;
						if (k == c)
							b = d;
					}
					t->work[c] = all_b > 0 ? ticks * b / all_b : 0;
				}
			}
		}
		t->cg_usec = usec;
		t->cg_have = 1;
	}
	return rc;
}

static void read_gpus(struct jst_attrib *a)
{
	for (size_t d = 0; d < a->ndom; d++) {
		struct dom *x = &a->dom[d];
		if (x->type != DOM_GPU)
			continue;
		struct jst_attr_gpu_use use;
		if (!a->gpu_state || a->gpu->use(a->gpu_state, x->uuid, &use)) {
			/* Its energy in such a tick is nobody's: said, not guessed. */
			if (a->gpu_state)
				note_add(
				    a,
				    "%s: per-process use unreadable in some ticks: their energy "
				    "above idle is no target's",
				    x->uuid);
			x->gpu.known = 0;
			continue;
		}
		/* No new sample (a tick shorter than the driver's sampling): the
		 * last one holds, as the use it measured goes on. */
		if (use.samples == 0)
			continue;
		x->use = use;
		x->gpu.busy = 0;
		for (size_t p = 0; p < x->use.n; p++)
			x->gpu.busy += x->use.busy[p];
		if (x->gpu.busy > 1)
			x->gpu.busy = 1;
		x->gpu.known = 1;
	}
}

/* One tick: the window's span m, and where everything stands now. */
static int tick(struct jst_attrib *a, jst_measurement *m)
{
	struct snapshot sn = {0};
	char why[256] = "";
	int rc = snapshot_take(a, &sn, why, sizeof why);
	if (rc) {
		note_add(a, "%s", why);
		snapshot_free(&sn);
		return rc;
	}
	pthread_mutex_lock(&a->mu);
	rc = read_targets(a, &sn, 0);
	pthread_mutex_unlock(&a->mu);
	struct jst_attr_cpus now = sn.now;
	sn.now = (struct jst_attr_cpus){0};
	double pdt = (double)(sn.t_ns - a->read_ns) * 1e-9;
	a->read_ns = sn.t_ns;
	snapshot_free(&sn);
	read_gpus(a);
	double dt = jst_measurement_duration(m);
	if (!(pdt > 0) || !(dt > 0))
		pdt = dt;
	a->duration_s += dt;
	a->ticks++;
	for (size_t d = 0; d < a->ndom && !rc; d++) {
		struct dom *x = &a->dom[d];
		jst_domain_energy e = {.size = sizeof e};
		if (jst_measurement_domain(m, x->index, &e))
			continue;
		x->energy_j += e.energy_j;
		x->uncertainty_j += e.uncertainty_j;
		x->accuracy = e.accuracy;
		struct jst_attr_tick tk = {.energy_j = e.energy_j, .dt_s = dt};
		if (x->type == DOM_GPU) {
			if (!x->gpu.known) {
				/* No sample: nothing is known of who used it; the
				 * tick's energy is in dynamic_j, nobody's share, and
				 * its use in no fit. */
				tk.capacity_s = dt;
				tk.u_res = INFINITY;
				jst_attr_sums_add(&x->sums, &tk);
				continue;
			}
			tk.busy_s = x->gpu.busy * dt;
			tk.capacity_s = dt;
			jst_attr_sums_add(&x->sums, &tk);
			for (size_t i = 0; i < a->ntg; i++) {
				double w = 0;
				for (size_t p = 0; p < x->use.n; p++)
					if (jst_attr_tracked(&a->tg[i].tr, x->use.pid[p]))
						w += x->use.busy[p];
				jst_attr_target_add(&a->tg[i].sums[d], &tk, w * dt);
			}
			continue;
		}
		/* CPU times cover the span between two readings, the energy the
		 * span between two rotations, a few ms earlier: each target is
		 * given the power of the tick over its readings' span, so that a
		 * short span (a reading delayed, the next one not) with its coarse
		 * counts weighs only as much as it lasted. */
		size_t ncpus;
		double busy = pkg_busy(a, &now, x->pkg, &ncpus) / a->hz;
		tk.busy_s = busy * dt / pdt;
		tk.capacity_s = (double)ncpus * dt;
		tk.u_res = 1.0 / (a->hz * pdt);
		jst_attr_sums_add(&x->sums, &tk);
		struct jst_attr_tick span = {.energy_j = e.energy_j * pdt / dt,
		                             .dt_s = pdt,
		                             .busy_s = busy,
		                             .capacity_s = (double)ncpus * pdt};
		for (size_t i = 0; i < a->ntg; i++)
			jst_attr_target_add(&a->tg[i].sums[d], &span,
			                    work_on(a, &a->tg[i], x->pkg) / a->hz);
	}
	jst_attr_cpus_free(&a->prev);
	a->prev = now;
	return rc;
}

static void *thread_main(void *arg)
{
	struct jst_attrib *a = arg;
	int64_t period = (int64_t)a->s.period_ms * 1000000LL;
	int64_t next = now_ns() + period;
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->stop && now_ns() < next) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t wait = next - now_ns();
			ts.tv_sec += wait / 1000000000LL;
			ts.tv_nsec += wait % 1000000000LL;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a->cond, &a->mu, &ts);
		}
		int last = a->stop;
		pthread_mutex_unlock(&a->mu);
		jst_measurement *m = NULL;
		int rc = last ? jst_window_end(a->w, &m) : jst_window_rotate(a->w, &m);
		if (!rc) {
			rc = tick(a, m);
			jst_measurement_free(m);
		}
		pthread_mutex_lock(&a->mu);
		if (rc && !a->error)
			a->error = rc;
		if (last)
			break;
		/* Ticks missed while starved are skipped, not caught up on. */
		next += period;
		if (next < now_ns())
			next = now_ns() + period;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

static void attrib_free(struct jst_attrib *a)
{
	if (a->gpu_state)
		a->gpu->close(a->gpu_state);
	for (size_t i = 0; i < a->ntg; i++) {
		jst_attr_tracker_free(&a->tg[i].tr);
		free(a->tg[i].work);
		free(a->tg[i].cgroup);
	}
	jst_attr_cpus_free(&a->prev);
	free(a->pkg);
	for (size_t i = 0; i < 5; i++)
		free(a->strings[i]);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cond);
	free(a);
}

int jst_attrib_start(jst_meter *meter, const struct jst_attr_settings *s,
                     const struct jst_attr_target *targets, size_t n, struct jst_attrib **out,
                     char *why, size_t len)
{
	if (n == 0 || n > JST_ATTR_TARGETS_MAX) {
		snprintf(why, len, "at most %d targets", JST_ATTR_TARGETS_MAX);
		return -EINVAL;
	}
	struct jst_attrib *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	a->meter = meter;
	a->s = *s;
	const char **keep[] = {&a->s.procfs, &a->s.sysfs, &a->s.cgroup_root, &a->s.nvml_library,
	                       &a->s.idle};
	for (size_t i = 0; i < 5; i++) {
		if (!*keep[i])
			continue;
		if (!(a->strings[i] = strdup(*keep[i]))) {
			attrib_free(a);
			return -ENOMEM;
		}
		*keep[i] = a->strings[i];
	}
	s = &a->s;
	if (!a->s.period_ms)
		a->s.period_ms = 200;
	a->hz = jst_attr_hz();
	int rc = jst_attr_cpus_read(s->procfs, &a->prev, why, len);
	if (rc) {
		attrib_free(a);
		return rc;
	}
	a->ncpu = a->prev.n;
	a->pkg = calloc(a->ncpu, sizeof *a->pkg);
	if (!a->pkg) {
		attrib_free(a);
		return -ENOMEM;
	}
	a->npkg = jst_attr_topo_read(s->sysfs, a->pkg, a->ncpu);
	for (size_t i = 0; i < n; i++) {
		struct target *t = &a->tg[a->ntg++];
		t->t = targets[i];
		snprintf(t->label, sizeof t->label, "%s", targets[i].label);
		t->t.label = t->label;
		if (t->t.cgroup) {
			t->cgroup = strdup(t->t.cgroup);
			if (!t->cgroup) {
				attrib_free(a);
				return -ENOMEM;
			}
			t->t.cgroup = t->cgroup;
		}
		t->work = calloc(a->ncpu, sizeof *t->work);
		if (!t->work) {
			attrib_free(a);
			return -ENOMEM;
		}
		if (t->t.type == JST_ATTR_CGROUP) {
			uint64_t usec;
			rc = jst_attr_cgroup_usage(s->cgroup_root, t->t.cgroup, &usec);
			if (rc) {
				const char *rel = t->t.cgroup + strspn(t->t.cgroup, "/");
				snprintf(
				    why, len,
				    "cannot read %.200s/%.200s%scpu.stat: %s (a cgroup v2 "
				    "there? set attribute.cgroup-root or JOULESTAT_CGROUP_ROOT)",
				    s->cgroup_root, rel, *rel ? "/" : "", strerror(-rc));
				attrib_free(a);
				return rc;
			}
		} else if (t->t.pid > 0) {
			struct jst_attr_pid p;
			rc = jst_attr_pid_read(s->procfs, t->t.pid, &p);
			if (rc) {
				snprintf(why, len, "no process %ld in %.200s: %s", (long)t->t.pid,
				         s->procfs, strerror(-rc));
				attrib_free(a);
				return rc;
			}
		}
	}
	/* Where everything stands as the window begins. */
	struct snapshot sn = {0};
	rc = snapshot_take(a, &sn, why, len);
	if (!rc) {
		rc = read_targets(a, &sn, 1);
		a->read_ns = sn.t_ns;
		jst_attr_cpus_free(&a->prev);
		a->prev = sn.now;
		sn.now = (struct jst_attr_cpus){0};
	}
	snapshot_free(&sn);
	if (rc) {
		attrib_free(a);
		return rc;
	}
	rc = jst_window_begin(meter, "attribution", &a->w);
	if (rc) {
		snprintf(why, len, "cannot begin: %s", jst_strerror(rc));
		attrib_free(a);
		return rc;
	}
	/* The domains, from a measurement of no length. */
	jst_measurement *m0 = NULL;
	if (jst_window_rotate(a->w, &m0) == 0) {
		pick_domains(a, m0);
		jst_measurement_free(m0);
	}
	int want_gpu = 0;
	for (size_t d = 0; d < a->ndom; d++)
		want_gpu |= a->dom[d].type == DOM_GPU;
	if (want_gpu) {
		char gwhy[256] = "";
		a->gpu = &jst_attr_gpu_nvml;
		if (a->gpu->open(s->nvml_library, &a->gpu_state, gwhy, sizeof gwhy)) {
			a->gpu_state = NULL;
			note_add(a, "%s", gwhy);
		} else {
			read_gpus(a); /* the samples before the window are not the targets' */
		}
	}
	if (pthread_create(&a->thread, NULL, thread_main, a)) {
		jst_window_cancel(a->w);
		attrib_free(a);
		snprintf(why, len, "cannot start a thread");
		return -EAGAIN;
	}
	a->thread_started = 1;
	*out = a;
	return 0;
}

void jst_attrib_set_command(struct jst_attrib *a, pid_t pid)
{
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->ntg; i++)
		if (a->tg[i].t.type == JST_ATTR_TREE && a->tg[i].t.pid == 0)
			a->tg[i].t.pid = pid;
	pthread_mutex_unlock(&a->mu);
}

/* Each model in one line. */
static const char *model_of(enum dom_type t)
{
	switch (t) {
	case DOM_CPU:
		return "package energy above idle, shared by busy CPU time on the package per "
		       "tick (/proc/stat, /proc/PID/stat, cgroup cpu.stat)";
	case DOM_DRAM:
		return "a model: DRAM energy above idle, shared as its package's busy CPU time "
		       "(memory traffic is not measured per process)";
	default:
		return "GPU energy above idle, shared by the processes' SM utilisation samples "
		       "(nvmlDeviceGetProcessUtilization) per tick";
	}
}

static void result_of(struct jst_attrib *a, struct jst_attribution *r)
{
	char unseparated[256] = "";
	r->duration_s = a->duration_s;
	r->ticks = a->ticks;
	r->ndomains = a->ndom;
	r->ntargets = a->ntg;
	for (size_t i = 0; i < a->ntg; i++)
		snprintf(r->target[i], sizeof r->target[i], "%s", a->tg[i].label);
	for (size_t d = 0; d < a->ndom; d++) {
		struct dom *x = &a->dom[d];
		struct jst_attr_domain *o = &r->domain[d];
		jst_domain_energy e = {.size = sizeof e};
		/* Names from the meter: the same order as every measurement. */
		jst_domain_info info = {.size = sizeof info};
		if (jst_meter_domain(a->meter, x->index, &info) == 0) {
			snprintf(o->name, sizeof o->name, "%s", info.name);
			snprintf(o->device, sizeof o->device, "%s", info.device);
			snprintf(o->backend, sizeof o->backend, "%s", info.backend);
			o->kind = info.kind;
		}
		(void)e;
		double idle = x->idle_given;
		o->idle_source = "given";
		if (isnan(idle)) {
			o->idle_source = jst_attr_idle_fit(&x->sums, &idle) ? "none" : "fit";
			if (!strcmp(o->idle_source, "none"))
				idle = NAN;
		}
		o->idle_w = idle;
		o->energy_j = x->energy_j;
		o->busy_s = x->sums.busy_s;
		o->capacity_s = x->sums.capacity_s;
		o->model = model_of(x->type);
		if (isnan(idle)) {
			size_t used = strlen(unseparated);
			snprintf(unseparated + used, sizeof unseparated - used, "%s%s",
			         used ? ", " : "", o->name);
		}
		double model = x->type == DOM_CPU    ? MODEL_CPU
		               : x->type == DOM_DRAM ? MODEL_DRAM
		                                     : MODEL_GPU;
		double rel = x->energy_j > 0 ? x->uncertainty_j / x->energy_j : x->accuracy;
		for (size_t i = 0; i < a->ntg; i++) {
			struct jst_attr_result res;
			jst_attr_result(&x->sums, &a->tg[i].sums[d], idle, &res);
			o->dynamic_j = res.dynamic_j;
			o->idle_j = res.idle_j;
			struct jst_attr_figure *f = &r->figure[i * a->ndom + d];
			f->energy_j = res.energy_j;
			f->idle_j = res.idle_share_j;
			f->share = res.share;
			f->work_s = a->tg[i].sums[d].work_s;
			f->accuracy = x->accuracy + model;
			/* The time counts' resolution: a clock tick at each end,
			 * at the energy a busy CPU second cost. */
			double quant = 0;
			if (x->type != DOM_GPU && x->sums.busy_s > 0)
				quant = 2.0 / a->hz * res.dynamic_j / x->sums.busy_s;
			double idle_u =
			    !strcmp(o->idle_source, "fit") ? 0.2 * res.idle_j * res.share : 0;
			f->uncertainty_j = res.energy_j * (rel + model) + quant + idle_u;
			struct jst_attr_figure *tot = &r->total[i];
			tot->energy_j += f->energy_j;
			tot->idle_j += f->idle_j;
			tot->uncertainty_j += f->uncertainty_j;
			tot->accuracy += f->accuracy * f->energy_j;
			tot->work_s += f->work_s;
		}
		if (a->ntg == 0) {
			o->dynamic_j = x->energy_j;
		}
	}
	if (*unseparated)
		note_add(
		    a,
		    "idle power not separated for %s (use did not vary enough, or power did not "
		    "follow it, to fit it; give attribute.idle-w): their shares include idle "
		    "power",
		    unseparated);
	for (size_t i = 0; i < a->ntg; i++) {
		struct jst_attr_figure *tot = &r->total[i];
		tot->accuracy = tot->energy_j > 0 ? tot->accuracy / tot->energy_j : NAN;
		tot->share = NAN;
		tot->work_s = NAN;
	}
	snprintf(r->note, sizeof r->note, "%s", a->note);
}

int jst_attrib_stop(struct jst_attrib *a, struct jst_attribution **out)
{
	*out = NULL;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	int rc = a->error;
	struct jst_attribution *r = calloc(1, sizeof *r);
	if (!r)
		rc = -ENOMEM;
	else
		result_of(a, r);
	attrib_free(a);
	*out = r;
	return rc;
}
