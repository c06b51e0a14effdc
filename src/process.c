/* The process id cache behind jst_self_pid (see process.h). */
#include "process.h"

#include <pthread.h>
#include <unistd.h>

/* Written before any thread of the library runs (at load) and in a fork's
 * child (which has one thread then); read everywhere else. */
static pid_t self_pid;

static void after_fork_in_child(void)
{
	self_pid = getpid();
}

__attribute__((constructor)) static void process_init(void)
{
	self_pid = getpid();
	pthread_atfork(NULL, NULL, after_fork_in_child);
}

pid_t jst_self_pid(void)
{
	return self_pid;
}
