/*
 * Apple Silicon: CPU, GPU, ANE and DRAM energy from IOReport's "Energy Model"
 * channels (no root needed). The channels are read by the macOS-only sampler
 * (ioreport_macos.c) and turned into domains by code every platform shares
 * and tests (ioreport_model.c). Elsewhere `list` says "not macOS".
 * docs/backends/apple.md
 */
#include "ioreport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct apple_state {
	struct jst_ior_model model;
	struct jst_ior_session *session;
	struct jst_ior_channel ch[JST_IOR_MAX_CHANNELS];
};

static void apple_close(void *state)
{
	struct apple_state *st = state;
	if (!st)
		return;
#ifdef __APPLE__
	if (st->session)
		jst_ior_session_close(st->session);
#endif
	free(st);
}

static int apple_probe(const struct jst_backend_ctx *ctx, void **state, char *reason, size_t len)
{
	(void)ctx;
#ifndef __APPLE__
	(void)state;
	snprintf(reason, len,
	         "not macOS: Apple Silicon energy comes from IOReport, a macOS system library");
	return -ENOTSUP;
#else
	struct apple_state *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	int r = jst_ior_session_open(&st->session, reason, len);
	if (r == 0) {
		r = jst_ior_session_sample(st->session, st->ch, JST_IOR_MAX_CHANNELS);
		if (r < 0)
			snprintf(reason, len, "cannot sample IOReport: %s", strerror(-r));
	}
	if (r >= 0 && jst_ior_model_build(&st->model, st->ch, (size_t)r) == 0) {
		snprintf(
		    reason, len,
		    "IOReport has no \"Energy Model\" channel: not Apple Silicon (an Intel Mac "
		    "has RAPL, which macOS does not expose)");
		r = -ENODEV;
	}
	if (r < 0) {
		apple_close(st);
		return r;
	}
	*state = st;
	return 0;
#endif
}

static size_t apple_domains(void *state, const struct jst_domain_desc **out)
{
	struct apple_state *st = state;
	*out = st->model.desc;
	return st->model.n;
}

static int apple_read(void *state, struct jst_raw *out, size_t n, unsigned flags)
{
	struct apple_state *st = state;
	(void)flags;
	(void)n; /* the core passes the count it was given */
#ifdef __APPLE__
	int r = jst_ior_session_sample(st->session, st->ch, JST_IOR_MAX_CHANNELS);
	if (r < 0)
		return r;
	jst_ior_model_read(&st->model, st->ch, (size_t)r, out);
	return 0;
#else
	(void)st;
	(void)out;
	return -ENOTSUP;
#endif
}

const struct jst_backend_ops jst_backend_apple = {
    .name = "apple",
    .description = "Apple Silicon CPU, GPU, ANE and DRAM energy (IOReport Energy Model)",
    .accuracy = 0.10,
    .probe = apple_probe,
    .domains = apple_domains,
    .read = apple_read,
    .close = apple_close,
};
