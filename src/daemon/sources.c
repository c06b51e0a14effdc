/*
 * joulestatd's sources: the library's own backends (powercap, then the perf
 * PMU, then MSRs: the same counters, other ways), probed with the daemon's
 * privileges before it drops them. Their descriptors stay open; a read is the
 * backend's own read, nothing more.
 */
#include "joulestatd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jstd_sources {
	const struct jst_backend_ops *ops;
	void *state;
	size_t n;
	struct jst_dproto_domain dom[JST_DPROTO_DOMAINS_MAX];
	struct jst_raw raw[JST_DPROTO_DOMAINS_MAX];
};

static const struct jst_backend_ops *backend_named(const char *name)
{
	for (size_t i = 0; i < jst_registry_count(); i++)
		if (!strcmp(jst_registry_get(i)->name, name))
			return jst_registry_get(i);
	return NULL;
}

int jstd_sources_open(const struct jstd_settings *s, struct jstd_sources **out)
{
	struct jstd_sources *src = calloc(1, sizeof *src);
	if (!src)
		return -ENOMEM;
	struct jst_backend_ctx ctx = {.options = s->options};
	char list[256], reason[JST_REASON_MAX];
	/* Every name checked first: a typo is an error even behind one that works. */
	snprintf(list, sizeof list, "%s", s->backends);
	for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		/* Serving itself, or a model, is never what a client asks the daemon for. */
		if (!backend_named(tok) || !strcmp(tok, "daemon") || !strcmp(tok, "estimate")) {
			fprintf(stderr, "joulestatd: %s: not a backend joulestatd serves\n", tok);
			free(src);
			return -EINVAL;
		}
	}
	snprintf(list, sizeof list, "%s", s->backends);
	for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		const struct jst_backend_ops *ops = backend_named(tok);
		void *state = NULL;
		reason[0] = 0;
		int rc = ops->probe(&ctx, &state, reason, sizeof reason);
		if (rc < 0) {
			fprintf(stderr, "joulestatd: %s: %s\n", tok,
			        reason[0] ? reason : strerror(-rc));
			continue;
		}
		const struct jst_domain_desc *d;
		size_t n = ops->domains(state, &d);
		if (n == 0) {
			ops->close(state);
			fprintf(stderr, "joulestatd: %s: no devices found\n", tok);
			continue;
		}
		if (n > JST_DPROTO_DOMAINS_MAX) {
			fprintf(stderr, "joulestatd: %s: %zu domains, serving the first %d\n", tok,
			        n, JST_DPROTO_DOMAINS_MAX);
			n = JST_DPROTO_DOMAINS_MAX;
		}
		src->ops = ops;
		src->state = state;
		src->n = n;
		for (size_t i = 0; i < n; i++) {
			src->dom[i].desc = d[i];
			/* A parent beyond what is served would point nowhere. */
			if (d[i].parent >= (int)n)
				src->dom[i].desc.parent = -1;
			snprintf(src->dom[i].via, sizeof src->dom[i].via, "%s", ops->name);
		}
		*out = src;
		return 0;
	}
	free(src);
	return -ENODEV;
}

size_t jstd_sources_count(const struct jstd_sources *src)
{
	return src->n;
}

const struct jst_dproto_domain *jstd_sources_domain(const struct jstd_sources *src, size_t i)
{
	return i < src->n ? &src->dom[i] : NULL;
}

void jstd_sources_read(struct jstd_sources *src, struct jst_dproto_reading *out, int64_t *t_ns)
{
	for (size_t i = 0; i < src->n; i++)
		jst_raw_clear(&src->raw[i]);
	int64_t t0 = jstd_now_ns();
	int rc = src->ops->read(src->state, src->raw, src->n, 0);
	int64_t t1 = jstd_now_ns();
	for (size_t i = 0; i < src->n; i++) {
		const struct jst_raw *r = &src->raw[i];
		out[i].status = rc < 0 ? rc : r->status;
		out[i].counter = r->counter;
		out[i].power_w = r->power_w;
		/* Where the backend did not stamp its value: the middle of its read. */
		t_ns[i] = r->t_ns > 0 ? r->t_ns : t0 + (t1 - t0) / 2;
		out[i].t_err_ns = r->t_ns > 0 ? r->t_err_ns : (t1 - t0) / 2;
	}
}

void jstd_sources_close(struct jstd_sources *src)
{
	if (!src)
		return;
	if (src->ops)
		src->ops->close(src->state);
	free(src);
}
