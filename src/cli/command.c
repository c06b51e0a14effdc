/* Starting the measured command with fork and execvp, as perf stat and shells
 * do. Not posix_spawnp: glibc's leaves its internal signals (32 and 33)
 * ignored in the child, and an ignored signal survives exec, so the command
 * would not start the way it starts without joulestat. */
#include "command.h"
#include "cli.h"
#include "forward.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the forked child of a threaded process: async-signal-safe calls only.
 * Report why exec failed on `report`; never returns. */
static void child_exec(char *const argv[], const sigset_t *mask, const sigset_t *defaults,
                       int report)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(defaults, sig) == 1)
			sigaction(sig, &dfl, NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	execvp(argv[0], argv);
	int err = errno;
	while (write(report, &err, sizeof err) < 0 && errno == EINTR)
		;
	_exit(JST_EXIT_NOTFOUND);
}

/* The errno the child reported, or 0 when exec closed the pipe. */
static int exec_result(int fd)
{
	int err = 0;
	ssize_t n;
	do
		n = read(fd, &err, sizeof err);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof err ? err : 0;
}

int jst_command_start(char *const argv[], pid_t *pid)
{
	sigset_t mask, defaults;
	jst_forward_child_attrs(&mask, &defaults);
	int report[2];
	if (pipe2(report, O_CLOEXEC)) {
		int err = errno;
		jst_cli_error("cannot run '%s': %s", argv[0], strerror(err));
		return -err;
	}
	/* Blocked across the start and the publication of the pid: a signal that
	 * arrives meanwhile is delivered after, and forwarded. */
	jst_forward_block();
	if (jst_forward_received()) {
		/* Asked to stop before the command started: do not start it. */
		jst_forward_unblock();
		close(report[0]);
		close(report[1]);
		return -EINTR;
	}
	pid_t child = fork();
	if (child == 0)
		child_exec(argv, &mask, &defaults, report[1]);
	int err = child < 0 ? errno : 0;
	close(report[1]);
	if (child > 0 && (err = exec_result(report[0]))) {
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	close(report[0]);
	if (!err) {
		*pid = child;
		jst_forward_set_child(child);
	}
	jst_forward_unblock();
	if (err) {
		jst_cli_error("cannot run '%s': %s", argv[0], strerror(err));
		return -err;
	}
	return 0;
}

int jst_command_failure_status(int rc)
{
	if (rc == -EINTR)
		return 128 + jst_forward_received();
	return rc == -ENOENT || rc == -ENOTDIR ? JST_EXIT_NOTFOUND : JST_EXIT_NOEXEC;
}

int jst_command_wait(pid_t pid)
{
	/* Wait without reaping first: until the child is reaped its pid cannot be
	 * reused, so the handler can never pass a signal on to a stranger. It is
	 * withdrawn, with the signals blocked, before the reaping. */
	siginfo_t si;
	int r;
	do
		r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
	while (r < 0 && errno == EINTR);
	jst_forward_block();
	jst_forward_set_child(0);
	int status = 0;
	pid_t w;
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	jst_forward_unblock();
	if (r < 0 || w < 0)
		return JST_EXIT_RUN_FAIL;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
