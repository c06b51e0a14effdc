/*
 * The DCGM simulator's state: configured from JSTSIM_DCGM_* at the first
 * dcgmInit, immutable (but for its groups and watches) until the last
 * dcgmShutdown. Every value is a pure function of this state and
 * CLOCK_MONOTONIC, so no thread is needed and the ground truth is exactly
 * computable. GPUs are those of sim/nvml: same UUIDs, scales and bases, so
 * that both simulators can stand for the same machine.
 */
#ifndef JST_SIMDCGM_H
#define JST_SIMDCGM_H

#include "dcgm_api.h"
#include "trace.h"

#include <stdint.h>
#include <sys/types.h>

#define SIM_MAX_GPUS DCGM_MAX_NUM_DEVICES
#define SIM_MAX_GROUPS 64
#define SIM_BASE_MJ 123456789ULL /* counters start here: it must never reach a figure */
#define SIM_POWER_LIMIT_W 700.0

struct sim_gpu {
	double scale; /* power = trace x scale */
	uint64_t base_mj;
	int64_t lost_after_ns;             /* INT64_MAX: never */
	int64_t reset_at_ns;               /* the counter restarts from 0; INT64_MAX: never */
	int64_t err_from_ns, err_until_ns; /* energy samples are blank in [from, until) */
	int watched;                       /* how many watches cover it */
	char uuid[96];
};

struct sim_group {
	int used;
	char name[128];
	unsigned n;
	unsigned ids[SIM_MAX_GPUS];
};

struct sim_dcgm {
	int64_t start_ns;    /* CLOCK_MONOTONIC of trace t = 0: the first dcgmInit */
	int64_t start_rt_us; /* CLOCK_REALTIME of the same instant, for value timestamps */
	pid_t pid;           /* only the process that initialised writes the truth */
	unsigned ngpus;
	int nocounter;
	int64_t counter_tick_ns, power_tick_ns; /* the GPU's own refreshes */
	int64_t watch_ns;      /* the fastest watch's period (0: none): DCGM samples no faster */
	int64_t disconnect_ns; /* a remote connection is lost at this trace time; INT64_MAX */
	int64_t pid_watch_ns;  /* dcgmWatchPidFields' instant; INT64_MAX: not watched */
	char hostengine[256];  /* the address nv-hostengine listens on, "" = none */
	char name[96];         /* every GPU's DCGM_FI_DEV_NAME */
	int remote;            /* connected rather than embedded */
	int engine;            /* a host engine is started or connected */
	struct sim_trace *trace;
	char spec[512];
	char truth_path[1024];
	struct sim_gpu gpu[SIM_MAX_GPUS];
	struct sim_group groups[SIM_MAX_GROUPS];  /* GPU groups, handle = index + 1 */
	struct sim_group fgroups[SIM_MAX_GROUPS]; /* field groups: ids are field ids */
};

int64_t sim_now_ns(void);
dcgmReturn_t sim_config_load(struct sim_dcgm *s);
void sim_config_free(struct sim_dcgm *s);

/* Values at the instant now_ns (CLOCK_MONOTONIC), and the instant of the
 * sample they show (the last refresh at or before now_ns). */
uint64_t sim_energy_mj(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns, int64_t *at_ns);
double sim_power_w(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns, int64_t *at_ns);
double sim_average_w(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns);
int sim_energy_blank(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns);
int sim_lost(const struct sim_dcgm *s, unsigned gpu, int64_t now_ns);

/* How often the energy field's cached value changes: the GPU's counter
 * refresh or the watch's period, whichever is slower. */
int64_t sim_energy_tick_ns(const struct sim_dcgm *s);

void sim_truth_write(const struct sim_dcgm *s, int64_t now_ns);

#endif
