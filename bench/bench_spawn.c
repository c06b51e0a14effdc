#include "bench_spawn.h"

#include "bench_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t bench_spawn(char *const argv[], char *const envp[], const char *log)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent) /* the parent died before prctl took effect */
		_exit(127);
	int fd = log ? open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
	             : open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	execve(argv[0], argv, envp ? envp : environ);
	fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int bench_reap(pid_t pid, int64_t t0_ns, struct bench_run *r)
{
	int st;
	struct rusage ru;
	pid_t got;
	while ((got = wait4(pid, &st, 0, &ru)) < 0 && errno == EINTR)
		;
	if (got < 0)
		return -errno;
	r->wall_s = (double)(bench_now_ns() - t0_ns) * 1e-9;
	r->cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
	r->maxrss_kb = ru.ru_maxrss;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

int bench_run(char *const argv[], char *const envp[], struct bench_run *r)
{
	int64_t t0 = bench_now_ns();
	pid_t pid = bench_spawn(argv, envp, NULL);
	if (pid < 0)
		return -errno;
	return bench_reap(pid, t0, r);
}

void bench_stop(pid_t pid, int grace_ms)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < grace_ms; i += 10) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
