/*
 * The NVML simulator's state: configured from JSTSIM_NVML_* at the first
 * nvmlInit_v2, immutable until the last nvmlShutdown. Every reading is a pure
 * function of this state and CLOCK_MONOTONIC, so no thread is needed and the
 * ground truth is exactly computable (see truth.c and jst-sim-truth).
 */
#ifndef JST_SIMNVML_H
#define JST_SIMNVML_H

#include "nvml_api.h"
#include "trace.h"

#include <stdint.h>
#include <sys/types.h>

#define SIM_MAX_GPUS 64
/* Defaults: the energy counter refreshes every 100 ms (as slowly as several
 * real GPU models do), power readings every 100 ms. */
#define SIM_COUNTER_TICK_NS 100000000LL
#define SIM_POWER_TICK_NS 100000000LL
#define SIM_BASE_MJ 123456789ULL /* counters start here: it must never reach a figure */
#define SIM_POWER_LIMIT_MW 700000u

/* A device handle: what nvmlDevice_t points at. MIG instances are handles too. */
struct nvmlDevice_st {
	unsigned index;
	int is_mig;
};

struct sim_gpu {
	double scale; /* power = trace x scale */
	uint64_t base_mj;
	int64_t lost_after_ns; /* INT64_MAX: never lost */
	int64_t reset_at_ns;   /* the counter restarts from 0 (driver reload); INT64_MAX: never */
	int64_t err_from_ns, err_until_ns; /* energy calls time out in [from, until) */
	int mig;
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	char mig_uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	char bus_id[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
};

/* A process on a GPU with a constant SM utilisation (JSTSIM_NVML_PROCS), for
 * nvmlDeviceGetProcessUtilization. */
#define SIM_MAX_PROCS 64
#define SIM_PROC_SAMPLE_NS 100000000LL /* a sample every 100 ms, as the driver takes them */
struct sim_proc {
	unsigned gpu, pid, sm;
};

struct sim_nvml {
	int64_t start_ns; /* CLOCK_MONOTONIC of trace t = 0: the first nvmlInit_v2 */
	pid_t pid;        /* only the process that initialised writes the truth */
	unsigned ngpus;
	int nocounter, noinstant;
	int64_t counter_tick_ns, power_tick_ns; /* JSTSIM_NVML_COUNTER_TICK_MS, _POWER_TICK_MS */
	/* JSTSIM_NVML_READ_US: each energy or power call lasts read_ns plus up to
	 * read_spread_ns, and its value is taken at a point inside it. */
	int64_t read_ns, read_spread_ns;
	/* JSTSIM_NVML_LATCH_JITTER_MS: counter latch k lies at k * tick plus a
	 * fixed pseudo-random displacement within +-latch_jitter_ns. */
	int64_t latch_jitter_ns;
	unsigned long long jitter_seed;
	char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE]; /* every GPU's nvmlDeviceGetName */
	unsigned arch;                              /* nvmlDeviceGetArchitecture */
	struct sim_trace *trace;
	char spec[512];
	char truth_path[1024];
	struct sim_proc proc[SIM_MAX_PROCS];
	unsigned nprocs;
	struct sim_gpu gpu[SIM_MAX_GPUS];
	struct nvmlDevice_st dev[SIM_MAX_GPUS];
	struct nvmlDevice_st mig_dev[SIM_MAX_GPUS];
};

int64_t sim_now_ns(void);
/* Read JSTSIM_NVML_* into s. Returns an NVML code (0 or an error). */
nvmlReturn_t sim_config_load(struct sim_nvml *s);
void sim_config_free(struct sim_nvml *s);

/* The instant of counter latch k (ns since t = 0): k ticks, displaced by
 * latch k's jitter. */
int64_t sim_latch_ns(const struct sim_nvml *s, int64_t k);
/* A call's delay (JSTSIM_NVML_READ_US): sleeps through its first part, up
 * to where the value is taken, and returns the instant the call ends (0: no
 * delay), for sim_read_delay_end to sleep to. */
int64_t sim_read_delay_begin(const struct sim_nvml *s);
void sim_read_delay_end(int64_t until_ns);

/* Readings at the instant now_ns (CLOCK_MONOTONIC). */
uint64_t sim_energy_mj(const struct sim_nvml *s, unsigned gpu, int64_t now_ns);
double sim_instant_w(const struct sim_nvml *s, unsigned gpu, int64_t now_ns);
/* 1 when GPU gpu's energy calls fail with NVML_ERROR_TIMEOUT at now_ns. */
int sim_energy_error(const struct sim_nvml *s, unsigned gpu, int64_t now_ns);
double sim_average_w(const struct sim_nvml *s, unsigned gpu, int64_t now_ns);

/* Write the truth file (JSTSIM_NVML_TRUTH) if one was asked for. */
void sim_truth_write(const struct sim_nvml *s, int64_t now_ns);

#endif
