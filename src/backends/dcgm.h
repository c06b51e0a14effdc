/*
 * What the dcgm backend offers beyond the backend interface: the energy each
 * GPU spent while a given process ran on it, from DCGM's process statistics
 * (dcgmWatchPidFields, dcgmGetPidInfo). Enabled by the dcgm.process-stats
 * option; DCGM needs accounting mode on the GPUs for it (root, or
 * nvidia-smi -am 1 beforehand).
 */
#ifndef JST_DCGM_H
#define JST_DCGM_H

#include <stddef.h>

struct jst_dcgm_pid_energy {
	unsigned gpu_id; /* DCGM's GPU id: the domain "gpu<gpu_id>" */
	double energy_j; /* what the GPU spent while the process ran on it */
	double start_s;  /* process start on the GPU, seconds since 1970 */
	double end_s;    /* its end, or 0 while it runs */
};

/* The energy per GPU of process pid, into out[0..max-1], *n of them. state is
 * the dcgm backend's (what its probe returned). Returns 0, -ENOTSUP when
 * process statistics are off or unsupported, -ESRCH when DCGM saw no such
 * process on the GPUs, or another negative code; reason says why. */
int jst_dcgm_pid_energy(void *state, unsigned pid, struct jst_dcgm_pid_energy *out, size_t max,
                        size_t *n, char *reason, size_t len);

#endif
