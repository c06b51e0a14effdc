/*
 * Apple Silicon energy from IOReport's "Energy Model" channels: the channel
 * parsing and arithmetic shared by every platform (ioreport_model.c, tested on
 * Linux against recorded-format fixtures), and the macOS-only sampler
 * (ioreport_macos.c, built on macOS only) that reads them from the system.
 */
#ifndef JST_IOREPORT_H
#define JST_IOREPORT_H

#include "backend.h"

#define JST_IOR_MAX_CHANNELS 256
#define JST_IOR_MAX_DOMAINS 32

/* One channel of one sample, as IOReport gives it: values are cumulative. */
struct jst_ior_channel {
	char group[48];
	char subgroup[48];
	char name[48];
	char unit[8]; /* "mJ", "uJ", "nJ" */
	int64_t value;
};

/* Which domains a machine's channels make, and the channel each one reads. */
struct jst_ior_model {
	struct jst_domain_desc desc[JST_IOR_MAX_DOMAINS];
	char channel[JST_IOR_MAX_DOMAINS][48]; /* the full channel name, "DIE_1_CPU Energy" */
	size_t n;
};

/* Joules per unit of an IOReport unit label; 0 when it is no energy unit. */
double jst_ior_unit_j(const char *label);

/* Declare the domains one sample's channels make (group "Energy Model"): CPU
 * Energy (a package per die), its clusters (ECPU, PCPU, PACC0_CPU... inside
 * it), GPU Energy, ANE and DRAM. Returns the number declared (0: nothing
 * known) or negative errno. */
int jst_ior_model_build(struct jst_ior_model *m, const struct jst_ior_channel *ch, size_t n);

/* Each domain's cumulative value from a sample into out[i].counter; a channel
 * missing from the sample or negative sets out[i].status. */
void jst_ior_model_read(const struct jst_ior_model *m, const struct jst_ior_channel *ch, size_t n,
                        struct jst_raw *out);

/* A recording: lines "group<TAB>subgroup<TAB>channel<TAB>unit<TAB>value", one
 * sample after each line "# t=SECONDS". Parse sample k (from 0) into out;
 * returns its channel count, or negative errno (-ENOENT: no sample k). */
int jst_ior_recording_sample(const char *text, size_t k, struct jst_ior_channel *out, size_t max,
                             double *t_s);

/* macOS only (ioreport_macos.c): a subscription to the Energy Model group. */
struct jst_ior_session;
int jst_ior_session_open(struct jst_ior_session **out, char *reason, size_t len);
/* One sample now; returns the channel count or negative errno. */
int jst_ior_session_sample(struct jst_ior_session *s, struct jst_ior_channel *out, size_t max);
void jst_ior_session_close(struct jst_ior_session *s);

#endif
