/* Child processes: the simulators, the CLI, and the commands it is compared with. */
#ifndef JST_BENCH_SPAWN_H
#define JST_BENCH_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

struct bench_run {
	int status;    /* exit code; 128 + signal when killed */
	double wall_s; /* spawn to reaped */
	double cpu_s;  /* user + system of the child and every child it waited for */
	long maxrss_kb;
};

/* Start argv[0] (a path) with environment envp (NULL: ours) and stdout and
 * stderr going to log (NULL: /dev/null). The child dies with us, so a crashed
 * benchmark leaves no simulator behind. */
pid_t bench_spawn(char *const argv[], char *const envp[], const char *log);
/* Reap pid, filling r; t0_ns is when it was spawned. */
int bench_reap(pid_t pid, int64_t t0_ns, struct bench_run *r);
/* Spawn and reap. */
int bench_run(char *const argv[], char *const envp[], struct bench_run *r);
/* SIGTERM, then SIGKILL after grace_ms; reaps it. */
void bench_stop(pid_t pid, int grace_ms);

#endif
