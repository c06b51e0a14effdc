/* Forwarding SIGINT, SIGTERM, SIGHUP and SIGQUIT to the measured command. */
#include "forward.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* Handler state: a signal handler can reach nothing else. */
static volatile sig_atomic_t child_pid;
/* Atomic, not volatile sig_atomic_t: the burn's threads read it too. Lock-free,
 * so a handler may store it. */
static atomic_int last_signal;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free int");
static sigset_t original_mask;
static sigset_t handled;        /* those not ignored when joulestat started */
static int sigpipe_was_default; /* joulestat ignores it; the command must not */

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	int saved = errno;
	atomic_store_explicit(&last_signal, sig, memory_order_relaxed);
	pid_t pid = (pid_t)child_pid;
	/* The terminal (SI_KERNEL) signals the whole foreground group, the command
	 * included: passing Ctrl-C on would deliver it twice. */
	if (pid > 0 && si->si_code != SI_KERNEL && si->si_pid != pid)
		kill(pid, sig);
	errno = saved;
}

static void forwarded_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(set, forwarded[i]);
}

int jst_forward_install(void)
{
	pthread_sigmask(SIG_SETMASK, NULL, &original_mask);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigemptyset(&handled);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
		struct sigaction old;
		/* A signal ignored when joulestat started (nohup, `cmd &` in a script)
		 * stays ignored, for the command too. */
		if (sigaction(forwarded[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		if (sigaction(forwarded[i], &sa, NULL))
			return -errno;
		sigaddset(&handled, forwarded[i]);
	}
	return 0;
}

void jst_forward_block(void)
{
	sigset_t set;
	forwarded_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void jst_forward_unblock(void)
{
	sigset_t set;
	forwarded_set(&set);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void jst_forward_ignore_sigpipe(void)
{
	struct sigaction old, ign;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, NULL, &old) || old.sa_handler == SIG_IGN)
		return;
	if (sigaction(SIGPIPE, &ign, NULL) == 0)
		sigpipe_was_default = 1;
}

void jst_forward_child_attrs(sigset_t *mask, sigset_t *defaults)
{
	*mask = original_mask;
	*defaults = handled;
	if (sigpipe_was_default)
		sigaddset(defaults, SIGPIPE);
}

void jst_forward_set_child(pid_t pid)
{
	child_pid = pid;
}

int jst_forward_received(void)
{
	return atomic_load_explicit(&last_signal, memory_order_relaxed);
}

const char *jst_forward_signal_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	case SIGQUIT:
		return "SIGQUIT";
	default:
		return "a signal";
	}
}
