/*
 * Windows: handles begun and ended from any thread, nested and overlapping,
 * rotated so that consecutive spans tile time. A window's figures are
 * differences of two edges (each domain's state as one reading folded it),
 * with the uncertainty the sensor model gives each edge.
 */
#include "measurement_internal.h"
#include "meter_internal.h"
#include "process.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A window shorter than this many refreshes of a counter says so. */
#define JST_SHORT_REFRESHES 3
#define JST_STR_(x) #x
#define JST_STR(x) JST_STR_(x)

/* Room for a label kept inline: most labels fit, so that a spare window
 * serves the next begin whatever its label. */
#define JST_LABEL_INLINE 48

static char *label_in(const struct jst_window *w)
{
	return (char *)(w->rows_j + w->meter->ndoms);
}

/* One allocation: the per-domain state, the end and row scratch, and the
 * label it began with (a relabelled window's label is allocated apart). The
 * meter's spare, the last window freed, where the label fits: windows begun
 * one after another then allocate nothing. */
static struct jst_window *window_new(struct jst_meter *m, const char *label)
{
	size_t n = m->ndoms, len = strlen(label) + 1;
	struct jst_window *w = atomic_exchange_explicit(&m->spare, NULL, memory_order_acquire);
	if (w && w->label_room < len) {
		free(w);
		w = NULL;
	}
	if (!w) {
		size_t room = len > JST_LABEL_INLINE ? len : JST_LABEL_INLINE;
		size_t body =
		    sizeof(struct jst_window) +
		    n * (sizeof(struct jst_wdom) + sizeof(struct jst_edge) + sizeof(double));
		if (!(w = malloc(body + room)))
			return NULL;
		w->meter = m;
		w->label_room = room;
		w->end = (struct jst_edge *)(w->dom + n);
		w->rows_j = (double *)(w->end + n);
	}
	w->prev = w->next = NULL;
	w->rotated = 0;
	w->label = memcpy(label_in(w), label, len);
	return w;
}

static int label_inline(const struct jst_window *w)
{
	return w->label == label_in(w);
}

void jst_window_free(struct jst_window *w)
{
	if (w) {
		if (!label_inline(w))
			free(w->label);
		free(w);
	}
}

/* A window ended or cancelled: kept as its meter's spare where there is none. */
static void window_release(struct jst_window *w)
{
	struct jst_meter *m = w->meter;
	if (!label_inline(w)) {
		free(w->label);
		w->label = label_in(w);
	}
	struct jst_window *none = NULL;
	if (!atomic_compare_exchange_strong_explicit(&m->spare, &none, w, memory_order_release,
	                                             memory_order_relaxed))
		free(w);
}

int jst_window_relabel(jst_window *w, const char *label)
{
	if (!w || !label)
		return -EINVAL;
	char *l = strdup(label);
	if (!l)
		return -ENOMEM;
	if (!label_inline(w))
		free(w->label);
	w->label = l;
	return 0;
}

/* Start a span at the edges in e (read at t); under mu. A rotation keeps the
 * origin and adds what the span that ended reported (reported_j, per domain).
 * Each field is written as such: a literal of the whole would be built and
 * copied on every begin. The origin is read only once the window has rotated:
 * a window's first begin copies it only where the begin may be settled later
 * (and so differ from it); the first rotation copies the others from the begin
 * they still are. */
static void span_start(struct jst_window *w, const struct jst_edge *e, int64_t t,
                       const double *reported_j)
{
	int first_rotation = reported_j && !w->rotated;
	w->begin_ns = t;
	w->rotated = reported_j != NULL;
	for (size_t i = 0; i < w->meter->ndoms; i++) {
		struct jst_wdom *wd = &w->dom[i];
		if (reported_j) {
			if (first_rotation && !wd->origin_apart)
				wd->origin = wd->begin;
			wd->reported_j += reported_j[i];
		} else {
			/* The edge as read: the begin may be settled later. */
			wd->origin_apart = e[i].unsettled;
			if (wd->origin_apart)
				wd->origin = e[i];
			wd->reported_j = 0;
			wd->origin_j = NAN;
		}
		wd->begin = e[i];
		/* A power reading at the edge belongs to the window. */
		wd->peak_w = e[i].power_w;
		wd->samples = 0;
		wd->tel = (struct jst_wtel){.temp_max = NAN, .power_limit = NAN};
	}
}

/* Under mu, as the begin edge's reading folds: the window opens on it. */
static void begin_at(struct jst_meter *m, void *arg, int64_t t)
{
	struct jst_window *w = arg;
	span_start(w, w->end, t, NULL);
	w->next = m->windows;
	if (m->windows)
		m->windows->prev = w;
	m->windows = w;
}

int jst_window_begin(jst_meter *m, const char *label, jst_window **out)
{
	if (out)
		*out = NULL;
	if (!m || !out)
		return -EINVAL;
	if (m->pid != jst_self_pid())
		return -ECHILD; /* a forked child: the sampler and locks are the parent's */
	if (m->ndoms == 0)
		return -ENODEV;
	struct jst_window *w = window_new(m, label ? label : "");
	if (!w)
		return -ENOMEM;
	jst_meter_read_then(m, JST_READ_HOLD, w->end, begin_at, w);
	*out = w;
	return 0;
}

/* Under mu, as a reading of dom folds: where it is the first to show a value
 * latched after lazy edge e, that value, its change's bracket and latch into
 * the edge, to be placed on the grid as the edge is (edge_energy). */
static void edge_pin_next(const struct jst_dom *dom, struct jst_edge *e)
{
	if (!e->lazy || e->pin_ns || dom->hist_max_ns <= e->hi_ns)
		return;
	e->pin_ns = dom->interp_latch;
	e->pin_lo = dom->interp_lo;
	e->pin_hi = dom->interp_hi;
	e->pin_err = dom->interp_err;
	e->pin_j = dom->counter_j;
}

/* Under mu: what the sampler and edge readings add to open windows. */
void jst_windows_fold(struct jst_meter *m, size_t i, unsigned how)
{
	const struct jst_dom *dom = &m->doms[i];
	for (struct jst_window *w = m->windows; w; w = w->next) {
		struct jst_wdom *wd = &w->dom[i];
		/* Only power over a span inside the window is its peak. */
		if (dom->peak_fresh && dom->peak_cand_ns >= w->begin_ns &&
		    !(dom->peak_cand_w <= wd->peak_w))
			wd->peak_w = dom->peak_cand_w;
		/* A counter's begin (and a rotated window's origin) keeps the
		 * value latched first after it: a window longer than the latch
		 * history would find it gone from there when it ends. */
		if (dom->interp_lazy) {
			edge_pin_next(dom, &wd->begin);
			if (w->rotated)
				edge_pin_next(dom, &wd->origin);
		}
		/* A begin bridged from an older power reading: settled once a
		 * later one is in (a rotated span's rests on what was reported). */
		if (jst_power_edge_open(&wd->begin) && !w->rotated)
			jst_power_edge_settle(dom, &wd->begin);
		if (!(how & JST_READ_SAMPLER) || dom->failed)
			continue;
		wd->samples++;
		if (!(how & JST_READ_TELE))
			continue;
		/* Only the sampler's readings count: they are evenly spaced, so a
		 * plain mean of them is a mean over time. */
		const jst_sample *s = &dom->latest;
		struct jst_wtel *t = &wd->tel;
		if (!(s->temperature_c <= t->temp_max) && !isnan(s->temperature_c))
			t->temp_max = s->temperature_c;
		if (!isnan(s->utilization_pct)) {
			t->util_sum += s->utilization_pct;
			t->util_n++;
		}
		if (!isnan(s->clock_mhz)) {
			t->clock_sum += s->clock_mhz;
			t->clock_n++;
		}
		if (!isnan(s->power_limit_w))
			t->power_limit = s->power_limit_w;
	}
}

static int fig_has_note(const struct fig_notes *f)
{
	return f->failed0 || f->failed || f->cut_ns || f->outage_pre_s > 0 || f->short_window ||
	       f->stuck || f->bridges || f->transient || f->settle_miss || f->declared_s > 0 ||
	       f->jitter_s > 0;
}

/* A note that quotes no state of the meter's (a failure, an error, an instant)
 * waits until the measurement is read: most are never read. */
static int fig_note_deferred(const struct fig_notes *f)
{
	return !f->failed0 && !f->failed && !f->cut_ns && !f->transient;
}

/* Append text to a note as far as it fits. */
static void note_put(char *note, size_t *len, const char *text)
{
	size_t k = strlen(text);
	if (k > JST_MNOTE_MAX - 1 - *len)
		k = JST_MNOTE_MAX - 1 - *len;
	memcpy(note + *len, text, k);
	*len += k;
	note[*len] = 0;
}

/* Append one clause of plain text, "; " before it if the note has one: the
 * common clauses without printf, which costs more than the rest of a short
 * window's end. */
static void note_clause(char *note, size_t *len, const char *text)
{
	if (*len)
		note_put(note, len, "; ");
	note_put(note, len, text);
}

/* Append one clause to a note, "; " between clauses. */
static void note_add(char *note, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note_add(char *note, size_t *len, const char *fmt, ...)
{
	if (*len >= JST_MNOTE_MAX - 1)
		return;
	if (*len) {
		snprintf(note + *len, JST_MNOTE_MAX - *len, "; ");
		*len = strlen(note);
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(note + *len, JST_MNOTE_MAX - *len, fmt, ap);
	va_end(ap);
	*len = strlen(note);
}

static void write_note(const struct jst_dom *dom, const struct jst_domstr *s,
                       const struct jst_window *w, const struct fig_notes *f, char *note)
{
	size_t len = 0;
	note[0] = 0;
	if (f->failed0) {
		snprintf(note, JST_MNOTE_MAX, "failed before the window began: %s", dom->failure);
		return;
	}
	/* The domain's own caveat first: the figure's notes add to it. */
	if (s->note[0])
		note_clause(note, &len, s->note);
	if (f->failed) {
		note_add(note, &len, "%s", dom->failure);
		/* A last good reading before the window measured none of it. */
		note_add(note, &len, "figure ends %.3f s into the window",
		         fmax(0, (double)(dom->failed_t_ns - w->begin_ns) * 1e-9));
	}
	/* Wraps a gap left ambiguous have a clause of their own (dom is NULL
	 * for a deferred note: the modulus comes with f). */
	double range_j = f->wrap_range_j;
	if (f->bridges > f->wrap_gaps)
		note_add(note, &len,
		         "%.3f J bridged from power over %u reset(s), jump(s) or gap(s)",
		         f->bridged_j - range_j * f->wrap_taken, f->bridges - f->wrap_gaps);
	if (f->wrap_gaps)
		note_add(note, &len,
		         "counter's wraps ambiguous over %u gap(s) of %.3f s in all: 0 to %u "
		         "wrap(s) of %.3f J possible, %u taken from the power before and after, "
		         "the uncertainty covers them all",
		         f->wrap_gaps, f->wrap_gap_s, f->wrap_max, range_j, f->wrap_taken);
	if (f->stuck)
		note_add(note, &len, "counter stopped changing while the device drew power: %s",
		         f->reopened ? "reopened" : "energy since then is missing");
	if (f->outage_pre_s > 0)
		note_add(note, &len,
		         "began while its readings failed with no power known, %.3f s after the "
		         "last good one: the counter's rise since then shared by time, the share "
		         "before the window stated up to what the bound allows",
		         f->outage_pre_s);
	if (f->cut_ns)
		note_add(note, &len,
		         "%u failed reading(s) (last: %s) and no power known to bridge them: "
		         "figure ends %.3f s into the window, at the last good reading",
		         f->transient, dom->transient_error,
		         /* The begin's own reading may precede the window's
		          * instant, the mean of every domain's. */
		         fmax(0, (double)(f->cut_ns - w->begin_ns) * 1e-9));
	else if (f->transient)
		note_add(note, &len, "%u failed reading(s) skipped, the time bridged (last: %s)",
		         f->transient, dom->transient_error);
	if (f->short_window) {
		/* The refresh in whole ms, without printf (see note_clause). */
		char ms[24], *p = ms + sizeof ms;
		unsigned long long v = (unsigned long long)llround(f->refresh_s * 1e3);
		*--p = 0;
		do
			*--p = (char)('0' + v % 10);
		while ((v /= 10) && p > ms);
		note_clause(
		    note, &len,
		    "shorter than " JST_STR(JST_SHORT_REFRESHES) " refreshes of the sensor (");
		note_put(note, &len, p);
		/* Means (a BMC's, a power analyser's samples): what the window
		 * holds of those its edges cut is their mean x its share of them,
		 * and the figure states it anywhere from none of their energy to
		 * all of it, within the bound (power_edge.c). */
		note_put(note, &len,
		         f->power_mean ? " ms): the means its edges cut taken for their "
		                         "share of time, stated for none to all of them"
		         : f->power_readings
		             ? " ms): the power between its refreshes is unseen"
		             : " ms): energy between refreshes interpolated from power");
	}
	if (f->settle_miss)
		note_clause(note, &len, jst_settle_miss_text(f->settle_miss));
	if (f->declared_s > 0)
		note_add(
		    note, &len,
		    "updates seen every %.3g s, slower than the %.3g s declared: stated for %.3g s",
		    f->refresh_s, f->declared_s, f->refresh_s);
	if (f->jitter_s > 0)
		note_add(note, &len,
		         "the counter's updates stray up to %.3g ms from a regular %.3g ms: no "
		         "latch grid, each edge stated for %.3g ms",
		         f->jitter_s * 1e3, f->refresh_s * 1e3,
		         (f->refresh_s + 2 * f->jitter_s) * 1e3);
}

/* How an edge is evaluated (edge_energy's flags). */
enum {
	/* Between latches, interpolate with the least power the device drew
	 * lately, not the latest: a rotated span's end, which a later evaluation
	 * (the next row's, once the next value is known) must not fall below, or
	 * rows reported could not be taken back and would not add up to the window
	 * around them. The power the sensor knows at an edge is the sampler's
	 * last reading: a burst that ended since would be counted on to the edge. */
	EDGE_FLOOR = 1u,
	/* The uncertainty of the edge as it was evaluated when it was read (a
	 * rotated span's begin, reported by the span before), not as it is now. */
	EDGE_AS_READ = 2u,
};

/* An edge's energy as the sensor knows it now: an interpolated counter's edges
 * are evaluated with the latest latch grid, the same for both edges of a
 * window, so that a grid learnt after the window began (or narrowed since)
 * does not count a shift of the grid as energy. An edge read before the power
 * was known takes the power known now. *u_j, when given, receives the edge's
 * uncertainty where it is evaluated here (else it is left alone): one count,
 * how far interpolation can miss, the read's own timing and, where the read fell
 * within the grid's width of a latch so that two grid points fit, a refresh's
 * energy (what taking the other would change). (The grid's own width moves both edges
 * of a window alike: see fill_domain.) */
/* The latch the grid gives an edge's bracket, kept for the span's other edge:
 * both edges of a short window usually show the same value, and the grid is
 * the same for both while a figure is formed. */
struct edge_latch {
	int valid;
	int64_t lo, hi, fallback, seen, l, other;
};

static int64_t edge_latch_of(const struct jst_sensor *s, const struct jst_edge *e,
                             struct edge_latch *memo, int64_t *other)
{
	int64_t seen = jst_edge_seen(e);
	if (memo && memo->valid && memo->lo == e->lo_ns && memo->hi == e->hi_ns &&
	    memo->fallback == e->latch_ns && memo->seen == seen) {
		*other = memo->other;
		return memo->l;
	}
	int64_t l =
	    jst_sensor_latch_of(s, e->lo_ns, e->hi_ns, e->lo_err_ns, seen, e->latch_ns, other);
	if (memo)
		*memo = (struct edge_latch){1, e->lo_ns, e->hi_ns, e->latch_ns, seen, l, *other};
	return l;
}

/* Is a value latched at nl the one after an edge's, latched at l (r the
 * refresh)? More than half a refresh later, or, where no grid places l
 * (unknown), after the edge's bracket (hi). */
static inline int later_latch(int64_t nl, int64_t l, double r, int unknown, int64_t hi)
{
	return unknown ? nl > hi : (double)(nl - l) * 1e-9 > 0.5 * r;
}

/* An edge extrapolated from its latch where another grid point fits its
 * bracket (w x r in its uncertainty), for the window whose two edges both are
 * (edge_energy's part): from the same latch with the same value, taking the
 * other moves them alike. */
struct edge_part {
	int extrap;  /* so evaluated, its time since the latch not capped */
	int64_t l;   /* the latch */
	double w, r; /* the power, the refresh */
};

static double edge_energy(const struct jst_dom *dom, const struct jst_edge *e, double *u_j,
                          unsigned how, struct edge_latch *memo, struct edge_part *part)
{
	if (part)
		part->extrap = 0;
	if (!e->lazy)
		return e->energy_j;
	const struct jst_sensor *s = &dom->sensor;
	double w = isnan(e->interp_w) ? s->power_w : e->interp_w;
	if (isnan(w))
		return e->energy_j;
	int64_t other;
	int64_t l = edge_latch_of(s, e, memo, &other);
	double r = jst_sensor_refresh(s);
	/* Two grid points fit the edge's bracket, and a value above the edge's
	 * was latched at the one taken (or before it): the edge's value is the
	 * latch's before, a refresh earlier (a slow call took it before the
	 * latch its call straddled, and the later point, nearer the call, looked
	 * the likelier). */
	if (other != INT64_MIN && other < l) {
		for (unsigned k = 0; k < dom->nhist; k++)
			if (dom->hist[k].counter_j > e->counter_j &&
			    (double)(dom->hist[k].latch_ns - l) * 1e-9 <= 0.5 * r) {
				l = other;
				other = INT64_MIN;
				break;
			}
	}
	/* No grid yet (the refresh is not known): the latch lies anywhere in its
	 * change's bracket, b wide, and was taken at its middle (read.c). A
	 * rotation's end takes the bracket's end, the latest it can be, for the
	 * reason it takes the least power: extrapolated from a latch placed too
	 * early, a row would report energy the next evaluation does not show. */
	double b = 0;
	int unknown = s->refresh_ns == 0;
	if (unknown) {
		b = (double)(e->hi_ns - e->lo_ns) * 1e-9;
		b = b < r ? b : r;
	}
	if (unknown && (how & EDGE_FLOOR) && e->hi_ns > l)
		l = e->hi_ns < e->t_ns ? e->hi_ns : e->t_ns;
	/* On a grid, the latch lies within the grid's interval about its point
	 * (and in the bracket): a rotation's end from the interval's end, the
	 * latest it can be, and so stated (a grid started again from a wide
	 * bracket is as wide as it). */
	double late = 0;
	if (!unknown && (how & (EDGE_FLOOR | EDGE_AS_READ)) && s->have_ref) {
		int64_t h = jst_sensor_grid_width(s, l) / 2;
		int64_t top = l + h < e->hi_ns ? l + h : e->hi_ns;
		int64_t bot = l - h > e->lo_ns ? l - h : e->lo_ns;
		if (top > e->t_ns)
			top = e->t_ns;
		if (top > l && (how & EDGE_FLOOR))
			l = top;
		if (top > bot)
			late = (double)(top - bot) * 1e-9;
	}
	double dt = (double)(e->t_ns - l) * 1e-9, cap = r + (double)e->extra_ns * 1e-9;
	int clamped = dt < 0 || dt > cap;
	dt = dt < 0 ? 0 : dt > cap ? cap : dt;
	/* Where the counter's next value is known by now, between the two: exact
	 * at constant power, and never out of order whatever the power did. The
	 * next value is the earliest latched more than half a refresh after this
	 * edge's latch, and no more than one and a half; one latched later still
	 * (a sampler slower than the refresh saw none between) bounds the edge
	 * only. */
	int next = -1;
	/* None can be where even the latest latch is not far enough (the test
	 * below is monotonic in the latch): the usual edge, the latest value's.
	 * Without a grid, any value latched after the edge's bracket is the next
	 * (no grid point's width to keep clear of). */
	unsigned nh =
	    dom->nhist && later_latch(dom->hist_max_ns, l, r, unknown, e->hi_ns) ? dom->nhist : 0;
	for (unsigned k = 0; k < nh; k++) {
		int64_t nl = dom->hist[k].latch_ns;
		if (later_latch(nl, l, r, unknown, e->hi_ns) &&
		    dom->hist[k].counter_j > e->counter_j &&
		    (next < 0 || nl < dom->hist[next].latch_ns))
			next = (int)k;
	}
	int64_t next_ns = next >= 0 ? dom->hist[next].latch_ns : 0;
	double next_j = next >= 0 ? dom->hist[next].counter_j : 0;
	/* Gone from the history (a window longer than it): the value pinned,
	 * where the history holds only later ones, its latch placed on the grid
	 * as the edge's is. */
	if (e->pin_ns && (next < 0 || next_j > e->pin_j) && e->pin_j >= e->counter_j) {
		int64_t po;
		int64_t pl =
		    jst_sensor_latch_of(s, e->pin_lo, e->pin_hi, e->pin_err, 0, e->pin_ns, &po);
		if (later_latch(pl, l, r, unknown, e->hi_ns)) {
			next = 0;
			next_ns = pl;
			next_j = e->pin_j;
		}
	}
	double f = 0, span = 0, v;
	if (next >= 0) {
		span = (double)(next_ns - l) * 1e-9;
		f = (double)(e->t_ns - l) * 1e-9 / span;
		f = f < 0 ? 0 : f > 1 ? 1 : f;
	}
	double gain = next >= 0 ? next_j - e->counter_j : 0;
	/* A held edge (read.c) stood on no latch coming before it: where one
	 * did come (the grid was wrong), the value at the edge is not known to
	 * be the one held, and the edge is extrapolated from it as formed, with
	 * the uncertainty of that, never the line to a value latched before it. */
	int broken = e->held && next >= 0 && next_ns <= e->t_ns;
	if (broken)
		next = -1;
	int between = next >= 0 && span < 1.5 * r;
	/* The next value's bracket held two grid points (a reading once a
	 * refresh, near its latches, can see a value a latch late and miss
	 * one, and the likelier point is then the wrong one): at the other, the
	 * line to it, or the extrapolation where it is too far. What the two
	 * make of the edge differ by is stated. */
	double alt_v = NAN;
	if (between && dom->hist[next].alt_ns && dom->hist[next].latch_ns == next_ns) {
		double span2 = (double)(dom->hist[next].alt_ns - l) * 1e-9;
		if (span2 > 0.5 * r && span2 < 1.5 * r) {
			double f2 = (double)(e->t_ns - l) * 1e-9 / span2;
			alt_v = e->counter_j + gain * (f2 < 0 ? 0 : f2 > 1 ? 1 : f2);
		} else {
			alt_v = e->counter_j + w * dt;
		}
	}
	if (between) {
		v = e->counter_j + gain * f;
	} else {
		if (how & EDGE_FLOOR) {
			double lo = jst_sensor_power_floor(s);
			if (lo < w)
				w = lo;
		}
		v = e->counter_j + w * dt;
	}
	if (u_j) {
		double spread = isnan(e->interp_w) ? jst_sensor_power_spread(s) : e->spread_w;
		/* Extrapolated from the latch, the power may have been anywhere in
		 * its range since: spread x time. Between two known values, the
		 * truth lies between them and the line between them misses by at
		 * most spread x span x f(1 - f) (the power at one end of its range
		 * before the edge, at the other after it); an edge extrapolated
		 * although a later value is known is no further from the truth than
		 * that plus its distance from the line. */
		double miss = spread * dt;
		if (next >= 0 && (between || gain > 0) && !(how & EDGE_AS_READ)) {
			double line = spread * span * f * (1 - f) +
			              (between ? 0 : fabs(v - e->counter_j - gain * f));
			if (line < miss)
				miss = line;
		}
		/* Where in its bracket the latch lies: half of it either way of
		 * the middle, all of it from the end (a rotation's end, and so a
		 * rotated span's begin). */
		miss += w * (how & (EDGE_FLOOR | EDGE_AS_READ) ? b : 0.5 * b) + w * late;
		/* Where the reading itself lies in time, as its backend could tell,
		 * and how far its latch may stray from its grid point. */
		*u_j = s->resolution_j + miss + w * (double)(e->t_err_ns + s->jitter_ns) * 1e-9;
		if (other != INT64_MIN)
			*u_j += w * r; /* the other is a refresh away */
		if (!isnan(alt_v))
			*u_j += fabs(alt_v - v);
		if (part && other != INT64_MIN && !between && !clamped)
			*part = (struct edge_part){.extrap = 1, .l = l, .w = w, .r = r};
	}
	return v;
}

/* The energy of a span of domain i ending at edge e: since the window's origin
 * less what its earlier spans reported (the begin edge itself for a window
 * never rotated), never below 0 (edges interpolated with different powers may
 * cross in a span shorter than a refresh; a later span then makes up for it).
 * how: EDGE_FLOOR for a span that a rotation ends. *ub and *ue receive the
 * edges' uncertainties where evaluated here. */
static double span_energy(const struct jst_dom *dom, const struct jst_wdom *wd, int rotated,
                          const struct jst_edge *e, unsigned how, double *ub, double *ue,
                          double *o_out)
{
	if (wd->begin.failed)
		return 0;
	/* A rotated span's begin was reported, as evaluated then, by the span
	 * before: its uncertainty is that evaluation's. */
	struct edge_latch memo = {0};
	struct edge_part pb = {0}, pe = {0};
	double b = edge_energy(dom, &wd->begin, ub, rotated ? EDGE_AS_READ : 0, &memo,
	                       rotated ? NULL : &pb);
	/* A window never rotated has its origin at its begin. */
	double o = rotated ? edge_energy(dom, &wd->origin, NULL, 0, &memo, NULL) : b;
	/* The origin evaluated apart from where the rows before stood (a grid
	 * learnt or narrowed since, a latch known now on its other side): this
	 * span takes the difference, and states it. */
	if (rotated && ub && !isnan(wd->origin_j))
		*ub += fabs(o - wd->origin_j);
	if (o_out)
		*o_out = o;
	double v = edge_energy(dom, e, ue, how, &memo, rotated ? NULL : &pe) - o - wd->reported_j;
	/* Both edges extrapolated from the same latch and value (a window
	 * between two latches) where another grid point fits it: taking the
	 * other moves both edges alike, and changes the window by no more than
	 * its length at the power and the edges' powers' difference over a
	 * refresh, not by a refresh's energy at each edge. */
	if (!rotated && ub && ue && pb.extrap && pe.extrap && pb.l == pe.l &&
	    wd->begin.counter_j == e->counter_j && e->t_ns >= wd->begin.t_ns) {
		double len = (double)(e->t_ns - wd->begin.t_ns) * 1e-9, dw = fabs(pe.w - pb.w);
		*ub -= pb.w * pb.r;
		*ue += pe.w * len + dw * pe.r - pe.w * pe.r;
	}
	return v >= 0 ? v : 0;
}

/* What a figure of domain i will say besides its numbers: which notes it has
 * decides the measurement's size before any figure is formed. */
static void fig_notes_of(const struct jst_meter *m, const struct jst_window *w, size_t i,
                         const struct jst_edge *e, double duration, struct fig_notes *f)
{
	const struct jst_dom *dom = &m->doms[i];
	const struct jst_edge *b = &w->dom[i].begin;
	*f = (struct fig_notes){
	    .failed0 = b->failed,
	    .failed = e->failed && !b->failed,
	    /* Its last good reading may be the begin's own, or before it. */
	    .cut_ns = b->failed || e->failed || !e->cut_ns ? 0
	              : e->cut_ns > b->t_ns                ? e->cut_ns
	                                                   : b->t_ns,
	    /* Begun in an outage, ended on a good reading: the rise since the
	     * last good one spans time before the window (fill_domain). */
	    .outage_pre_s = !b->failed && !e->failed && !e->cut_ns && b->cut_ns &&
	                            b->t_ns > b->cut_ns && e->t_ns > b->t_ns
	                        ? (double)(b->t_ns - b->cut_ns) * 1e-9
	                        : 0,
	    .bridges = e->bridges - b->bridges,
	    .bridged_j = e->bridged_j - b->bridged_j,
	    .wrap_gaps = e->wrap_gaps - b->wrap_gaps,
	    .wrap_max = e->wrap_max - b->wrap_max,
	    .wrap_taken = e->wrap_taken - b->wrap_taken,
	    .wrap_gap_s = e->wrap_gap_s - b->wrap_gap_s,
	    .wrap_range_j = (double)dom->desc.modulus * dom->desc.unit_j,
	    .transient = e->transient - b->transient,
	    .stuck = e->stucks != b->stucks || dom->stuck_now,
	    .reopened = e->reopened - b->reopened,
	    .refresh_s = jst_sensor_refresh(&dom->sensor),
	    .settle_miss = e->settle,
	};
	/* Power readings too: between two readings of one refresh, the power
	 * they both show may be stale. Not means over the refresh (a BMC's):
	 * power_edge.c states what those hide. */
	f->power_readings = dom->desc.method == JST_METHOD_POWER;
	/* A backend saw the device update slower than declared (read.c). */
	if (dom->sensor.refresh_source == JST_REFRESH_MEASURED && dom->desc.refresh_s > 0 &&
	    dom->sensor.refresh_s > dom->desc.refresh_s)
		f->declared_s = dom->desc.refresh_s;
	if (dom->sensor.grid_none)
		f->jitter_s = (double)dom->sensor.jitter_ns * 1e-9;
	f->power_mean = dom->desc.power_mean;
	f->short_window = dom->desc.method != JST_METHOD_ESTIMATE && !b->failed &&
	                  duration < JST_SHORT_REFRESHES * f->refresh_s;
}

/* Domain i's figure, formed in place in the measurement. */
static void fill_domain(const struct jst_meter *m, const struct jst_window *w, size_t i,
                        const struct jst_edge *e, unsigned how, double duration, int64_t end_ns,
                        jst_domain_energy *p, const struct fig_notes *f)
{
	const struct jst_dom *dom = &m->doms[i];
	const struct jst_domain_desc *d = &dom->desc;
	const struct jst_domstr *s = &m->tab->dom[i];
	const struct jst_wdom *wd = &w->dom[i];
	const struct jst_edge *b = &wd->begin;
	double ub = b->u_j, ue = e->u_j;
	double energy = span_energy(dom, wd, w->rotated, e, how, &ub, &ue, NULL);
	/* Begun in an outage that no known power could bridge (read.c): the
	 * begin stands on the last good reading, so the counter's rise counts
	 * the outage's time before the window too. It is shared by time (as
	 * if the power had been steady across it), and the part before the
	 * window stated as far as the bound allows it to be either way. */
	double outage_u = 0;
	if (f->outage_pre_s > 0 && energy > 0) {
		double in_s = (double)(e->t_ns - b->t_ns) * 1e-9, pre_s = f->outage_pre_s;
		double reach_w = 1.5 * dom->sensor.bound_w;
		double pre = energy * pre_s / (pre_s + in_s);
		double lo = fmax(0, energy - reach_w * in_s), hi = fmin(energy, reach_w * pre_s);
		outage_u = fmax(pre - lo, hi - pre);
		energy -= pre;
	}
	/* Both edges on the same grid: an error in the grid's phase moves them
	 * alike, and shows only as far as their powers differ. */
	double grid_u = 0;
	if (b->lazy && e->lazy) {
		const struct jst_sensor *sn = &dom->sensor;
		double r = jst_sensor_refresh(sn);
		double g =
		    sn->have_ref && (double)sn->ref_w * 1e-9 < r ? (double)sn->ref_w * 1e-9 : r;
		double wb = isnan(b->interp_w) ? sn->power_w : b->interp_w;
		double we = isnan(e->interp_w) ? sn->power_w : e->interp_w;
		if (!isnan(wb) && !isnan(we))
			grid_u = 0.5 * g * fabs(we - wb);
	}
	/* A figure that ended early is a mean over the span it measured: from its
	 * own reading at the begin (the window's instant is every domain's mean,
	 * which a preempted read moves) to its last good one. A domain gone
	 * before the window began measured none of it: no mean power, not 0 W
	 * over the time between its last good reading and its failure. */
	double span = b->failed   ? 0
	              : f->failed ? fmax(0, (double)(dom->failed_t_ns - b->t_ns) * 1e-9)
	              : f->cut_ns ? (double)(f->cut_ns - b->t_ns) * 1e-9
	                          : duration;
	double cls = d->accuracy * energy;
	double var = e->var_j2 - b->var_j2;
	double u =
	    b->failed
	        ? 0
	        : sqrt(cls * cls + ub * ub + ue * ue + grid_u * grid_u + (var > 0 ? var : 0)) +
	              (e->bridge_u_j - b->bridge_u_j) + outage_u;
	double avg = span > 0 ? energy / span : NAN;
	/* Power readings in a window shorter than a few of their refreshes may
	 * all show a value the device took before the power moved: as far as
	 * its updates of the last refreshes ranged, over as much of the window
	 * as one refresh covers. */
	if (f->short_window && f->power_readings && !f->power_mean && !b->failed && span > 0) {
		const struct jst_sensor *sn = &dom->sensor;
		double spread = jst_sensor_power_spread(sn);
		/* Until the range holds as many updates as it keeps, it says
		 * little of where the device goes next (a meter opened at a
		 * level held for a few refreshes, before the first step): the
		 * power may then be anywhere up to the bound. */
		if (sn->nrecent < JST_RECENT_POWER) {
			double away =
			    jst_sensor_power_away(sn, isnan(sn->power_w) ? 0 : sn->power_w);
			if (away > spread)
				spread = away;
		}
		double stale = spread * (span < f->refresh_s ? span : f->refresh_s);
		u = sqrt(u * u + stale * stale);
	}
	/* Power readings state no more than the bound allows: the truth lies
	 * between 0 and the bound over the span (and the method's class beside
	 * it), whatever the readings showed
	 * (a step dated up to a refresh before the reading that showed it
	 * states that refresh too, which a row shorter than it cannot hold). */
	if (f->power_readings && !f->power_mean && !b->failed && span > 0) {
		double most = dom->sensor.bound_w * span * (1 + d->accuracy);
		double cap = most - energy > energy ? most - energy : energy;
		if (u > cap)
			u = cap;
	}
	/* Readings inside it were stamped on a refresh the backend has since
	 * moved (a BMC slower than declared, read.c): the steps between its
	 * means stood up to the move off in time (a 5 s mean read as a 1 s one
	 * starts 4 s late), which shifts energy across the begin and the move
	 * by as much as the means' range over that time. */
	if (d->power_mean && !b->failed && dom->refresh_moved_ns > b->t_ns)
		u += jst_power_mean_shift(dom, (int64_t)llround(2e9 * dom->refresh_lag_s));
	/* The figure is of this domain's own readings; the window's instants are
	 * the mean of every domain's: what lies between them is stated too. */
	if (!b->failed && !f->failed && span > 0) {
		int64_t db = llabs(b->t_ns - w->begin_ns), de = llabs(e->t_ns - end_ns);
		u += avg * (double)(db + de) * 1e-9;
	}
	double peak = wd->peak_w;
	/* A model never peaks above its own maximum; no window peaks below its mean. */
	if (d->method == JST_METHOD_ESTIMATE && d->max_power_w > 0 && peak > d->max_power_w)
		peak = d->max_power_w;
	if (!isnan(peak) && avg > peak)
		peak = avg;

	/* Field by field: a literal would clear the whole figure first. */
	p->size = 0;
	p->name = s->name;
	p->device = s->device;
	p->backend = s->backend;
	p->source = s->source;
	p->kind = d->kind;
	p->method = d->method;
	p->accuracy = d->accuracy;
	p->energy_j = energy;
	p->uncertainty_j = u;
	p->avg_power_w = avg;
	p->peak_power_w = peak;
	p->samples = wd->samples;
	p->note = s->note;
	p->temperature_max_c = wd->tel.temp_max;
	p->utilization_mean_pct = wd->tel.util_n ? wd->tel.util_sum / wd->tel.util_n : NAN;
	p->clock_mean_mhz = wd->tel.clock_n ? wd->tel.clock_sum / wd->tel.clock_n : NAN;
	p->power_limit_w = wd->tel.power_limit;
	p->parent = dom->parent;
	p->primary = dom->primary;
	p->partial = f->failed0 || f->failed || f->cut_ns || (f->stuck && !f->reopened);
	p->short_window = f->short_window;
	/* Failed readings skipped bridge their time too (the note says so). */
	p->bridged = f->bridges > 0 || f->transient > 0 || f->outage_pre_s > 0;
}

/* llround(x) for the nanoseconds of a window's duration, without the call:
 * halves away from zero. x's fraction x - trunc(x) is exact in a double. */
static int64_t round_ns(double x)
{
	if (!(fabs(x) < 0x1p62))
		return (int64_t)llround(x); /* beyond where the fraction is kept */
	int64_t i = (int64_t)x;
	double frac = x - (double)i;
	return frac >= 0.5 ? i + 1 : frac <= -0.5 ? i - 1 : i;
}

/* The measurement of w's span ending at the edges e read at end; under mu.
 * how: edge_energy's flags for the end edges. */
static struct jst_measurement *measure(const struct jst_meter *m, const struct jst_window *w,
                                       const struct jst_edge *e, unsigned how, int64_t end)
{
	size_t n = m->ndoms;
	/* The figures' notes first: they decide the measurement's size; then
	 * each figure is formed in place. The notes are on the stack for the few
	 * domains of most machines. */
	enum { STACK_DOMS = 16 };
	struct fig_notes f_stack[STACK_DOMS];
	struct fig_notes *f = f_stack;
	if (n > STACK_DOMS && !(f = malloc(n * sizeof *f)))
		return NULL;
	size_t nnotes = 0, npending = 0;
	double duration = (double)(end - w->begin_ns) * 1e-9;
	/* The window's end as every figure measures from it: the same for all. */
	int64_t end_ns = w->begin_ns + round_ns(duration * 1e9);
	for (size_t i = 0; i < n; i++) {
		fig_notes_of(m, w, i, &e[i], duration, &f[i]);
		nnotes += fig_has_note(&f[i]);
		npending += fig_has_note(&f[i]) && fig_note_deferred(&f[i]);
	}
	struct jst_measurement *ms = jst_measurement_new(m->tab, w->label, n, nnotes, npending);
	if (!ms) {
		if (f != f_stack)
			free(f);
		return NULL;
	}
	ms->begin_ns = w->begin_ns;
	ms->end_ns = end;
	ms->partial = 0;
	for (size_t i = 0, k = 0, q = 0; i < n; i++) {
		jst_domain_energy *p = &ms->doms[i];
		fill_domain(m, w, i, &e[i], how, duration, end_ns, p, &f[i]);
		if (fig_has_note(&f[i])) {
			if (fig_note_deferred(&f[i]))
				ms->pending[q++] =
				    (struct jst_mnote_pending){.dom = i, .note = k, .f = f[i]};
			else
				write_note(&m->doms[i], &m->tab->dom[i], w, &f[i], ms->notes[k]);
			p->note = ms->notes[k++];
		}
		ms->partial |= p->partial;
	}
	if (f != f_stack)
		free(f);
	return ms;
}

static void unlink_window(struct jst_meter *m, struct jst_window *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		m->windows = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

void jst_note_write_pending(const struct jst_domstr *s, const struct fig_notes *f, char *note)
{
	/* No clause of a deferred note reads the domain or the window: those
	 * that would (a failure, failed readings, a cut) are never deferred. */
	struct fig_notes g = *f;
	g.failed0 = g.failed = 0;
	g.cut_ns = 0;
	g.transient = 0;
	write_note(NULL, s, NULL, &g, note);
}

struct span_end_ctx {
	struct jst_window *w;
	int want, rotate; /* want: a measurement is asked for */
	struct jst_measurement *ms;
	int rc;
	int64_t end; /* a settled end's instant */
};

/* Under mu, as the end edge's reading folds: the span's figures, then the
 * next span begun on the same reading or the window closed. */
static void end_at(struct jst_meter *m, void *arg, int64_t end)
{
	struct span_end_ctx *c = arg;
	struct jst_window *w = c->w;
	/* A rotation's rows are final as they are reported: their ends never
	 * count more than a later evaluation will (see EDGE_FLOOR). */
	unsigned how = c->rotate ? EDGE_FLOOR : 0;
	if (c->want && !(c->ms = measure(m, w, w->end, how, end))) {
		c->rc = -ENOMEM; /* the window stays as it was: the caller may retry */
		return;
	}
	if (c->rotate) {
		/* What this span reported, reported or not: the rows add up. */
		for (size_t i = 0; i < m->ndoms; i++)
			w->rows_j[i] = span_energy(&m->doms[i], &w->dom[i], w->rotated, &w->end[i],
			                           how, NULL, NULL, &w->dom[i].origin_j);
		span_start(w, w->end, end, w->rows_j);
	} else {
		unlink_window(m, w);
	}
}

/* End w's current span at a fresh reading; with rotate, the next span begins
 * on that same reading. */
static int span_end(struct jst_window *w, jst_measurement **out, int rotate)
{
	struct span_end_ctx c = {.w = w, .want = out != NULL, .rotate = rotate};
	jst_meter_read_then(w->meter, JST_READ_HOLD, w->end, end_at, &c);
	if (c.rc)
		return c.rc;
	if (!rotate)
		window_release(w);
	if (out)
		*out = c.ms; /* its totals are formed when first read (measurement.c) */
	return 0;
}

int jst_window_end(jst_window *w, jst_measurement **out)
{
	if (out)
		*out = NULL;
	if (!w)
		return -EINVAL;
	if (w->meter->pid != jst_self_pid())
		return -ECHILD;
	return span_end(w, out, 0);
}

int jst_window_rotate(jst_window *w, jst_measurement **out)
{
	if (out)
		*out = NULL;
	if (!w)
		return -EINVAL;
	if (w->meter->pid != jst_self_pid())
		return -ECHILD;
	return span_end(w, out, 1);
}

/* Under mu, as a settled end's reading folds: the window closes on it (no
 * later reading adds to it), its figures wait for the counters' next values. */
static void end_mark(struct jst_meter *m, void *arg, int64_t end)
{
	struct span_end_ctx *c = arg;
	c->end = end;
	unlink_window(m, c->w);
}

int jst_window_end_settled(jst_window *w, unsigned timeout_ms, jst_measurement **out)
{
	if (out)
		*out = NULL;
	if (!w)
		return -EINVAL;
	struct jst_meter *m = w->meter;
	if (m->pid != jst_self_pid())
		return -ECHILD;
	if (!out)
		return span_end(w, NULL, 0); /* nothing to evaluate: nothing to wait for */
	struct span_end_ctx c = {.w = w, .want = 1};
	jst_meter_read_then(m, 0, w->end, end_mark, &c);
	jst_settle_wait(m, w->end, c.end, timeout_ms);
	pthread_mutex_lock(&m->mu);
	/* The instant, duration and edges are those of the end read at c.end:
	 * only the evaluation has waited. */
	c.ms = measure(m, w, w->end, 0, c.end);
	if (!c.ms) {
		/* Open again, as an immediate end leaves it: the caller may retry. */
		w->prev = NULL;
		w->next = m->windows;
		if (m->windows)
			m->windows->prev = w;
		m->windows = w;
	}
	pthread_mutex_unlock(&m->mu);
	if (!c.ms)
		return -ENOMEM;
	window_release(w);
	*out = c.ms;
	return 0;
}

void jst_window_cancel(jst_window *w)
{
	if (!w || w->meter->pid != jst_self_pid())
		return;
	struct jst_meter *m = w->meter;
	pthread_mutex_lock(&m->mu);
	unlink_window(m, w);
	pthread_mutex_unlock(&m->mu);
	window_release(w);
}

const char *jst_window_label(const jst_window *w)
{
	return w ? w->label : "";
}
