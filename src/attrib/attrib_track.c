/* Process sets followed across procfs readings (see attrib_track.h). */
#include "attrib_track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct jst_attr_rec *find(const struct jst_attr_tracker *t, pid_t pid, uint64_t start)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->rec[i].pid == pid && t->rec[i].start == start)
			return &t->rec[i];
	return NULL;
}

int jst_attr_tracked(const struct jst_attr_tracker *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->rec[i].pid == pid)
			return 1;
	return 0;
}

/* Whether process i of all is a member: listed, a known member, or (tree)
 * descended from root. in[] holds what is decided so far (-1: undecided). */
static int member(const struct jst_attr_tracker *t, const struct jst_attr_pid *all, size_t nall,
                  size_t i, pid_t root, const pid_t *pids, size_t npids, signed char *in)
{
	if (in[i] >= 0)
		return in[i];
	const struct jst_attr_pid *p = &all[i];
	int yes = find(t, p->pid, p->starttime) != NULL;
	if (root == 0)
		for (size_t k = 0; k < npids && !yes; k++)
			yes = pids[k] == p->pid;
	else if (!yes && p->pid == root)
		yes = 1;
	in[i] = 0; /* a cycle in ppid (a garbled tree) ends here */
	if (!yes && root > 0 && p->ppid > 0)
		for (size_t k = 0; k < nall; k++)
			if (all[k].pid == p->ppid) {
				yes = member(t, all, nall, k, root, pids, npids, in);
				break;
			}
	in[i] = (signed char)yes;
	return yes;
}

int jst_attr_track(struct jst_attr_tracker *t, const struct jst_attr_pid *all, size_t nall,
                   pid_t root, const pid_t *pids, size_t npids, double *work, size_t cpus)
{
	signed char *in = malloc(nall ? nall : 1);
	struct jst_attr_rec *next = malloc((nall ? nall : 1) * sizeof *next);
	if (!in || !next) {
		free(in);
		free(next);
		return -ENOMEM;
	}
	memset(in, -1, nall ? nall : 1);
	size_t n = 0;
	for (size_t i = 0; i < nall; i++) {
		if (!member(t, all, nall, i, root, pids, npids, in))
			continue;
		const struct jst_attr_pid *p = &all[i];
		next[n++] = (struct jst_attr_rec){.pid = p->pid,
		                                  .ppid = p->ppid,
		                                  .start = p->starttime,
		                                  .own = p->utime + p->stime,
		                                  .child = p->cutime + p->cstime,
		                                  .cpu = p->processor};
	}
	if (t->primed) {
		for (size_t i = 0; i < n; i++) {
			struct jst_attr_rec *r = &next[i];
			const struct jst_attr_rec *was = find(t, r->pid, r->start);
			uint64_t d_own = r->own, d_child = r->child;
			if (was) {
				d_own = r->own > was->own ? r->own - was->own : 0;
				d_child = r->child > was->child ? r->child - was->child : 0;
			}
			/* Members gone since, whose parent this is: their time was
			 * counted up to the last reading; reaped, it is in cutime. */
			uint64_t credit = 0;
			for (size_t k = 0; k < t->n; k++) {
				const struct jst_attr_rec *g = &t->rec[k];
				int alive = 0;
				for (size_t j = 0; j < n && !alive; j++)
					alive = next[j].pid == g->pid && next[j].start == g->start;
				if (!alive && g->ppid == r->pid)
					credit += g->own + g->child;
			}
			d_child = d_child > credit ? d_child - credit : 0;
			size_t cpu = r->cpu >= 0 && (size_t)r->cpu < cpus ? (size_t)r->cpu : 0;
			if (cpus)
				work[cpu] += (double)(d_own + d_child);
		}
	}
	free(in);
	free(t->rec);
	t->rec = next;
	t->n = n;
	t->primed = 1;
	return 0;
}

void jst_attr_tracker_free(struct jst_attr_tracker *t)
{
	free(t->rec);
	*t = (struct jst_attr_tracker){0};
}
