/* Fuzz target: RAPL zone discovery (jst_rapl_zones_discover) over a powercap
 * tree built from the input, one entry a line:
 *   PATH=CONTENT   a file      PATH/   a directory      PATH@TARGET   a symlink
 * PATH is relative to class/powercap; a TARGET is relative to its link's
 * directory. The tree lives in memory (fakefs.h): the discovery's own open,
 * pread, opendir and readdir calls read it. Every domain found must be well
 * formed, and nothing may be left open but the counters the state keeps. */
#include "fakefs.h"
#include "fuzz.h"
#include "rapl.h"

#include <unistd.h>

#define MAX_ENTRIES 64

static void build(const char *text, size_t size)
{
	int entries = 0;
	fakefs_reset();
	for (const char *line = text, *end = text + size; line < end && entries < MAX_ENTRIES;
	     entries++) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
		size_t plen = 0;
		while (plen < len && line[plen] != '=' && line[plen] != '@')
			plen++;
		if (plen == len && plen && line[plen - 1] == '/')
			fakefs_add(line, plen, FAKEFS_DIR, NULL, 0);
		else if (plen < len && line[plen] == '=')
			fakefs_add(line, plen, FAKEFS_FILE, line + plen + 1, len - plen - 1);
		else if (plen < len)
			fakefs_add(line, plen, FAKEFS_LINK, line + plen + 1, len - plen - 1);
		if (!nl)
			break;
		line = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	build((const char *)data, size);
	struct rapl_state st = {0};
	char reason[512] = "";
	int rc = jst_rapl_zones_discover(FAKEFS_ROOT, &st, reason, sizeof reason);
	if (rc > 0 || strlen(reason) >= sizeof reason || st.n > st.cap)
		abort();
	for (size_t i = 0; i < st.n; i++) {
		const struct jst_domain_desc *d = &st.desc[i];
		if (rc == 0 && (d->modulus < 2 || !(d->max_power_w > 0) || d->parent >= (int)i ||
		                !d->name[0] || !d->device[0]))
			abort(); /* no wrap, no power bound, no name, or a parent after it */
		if (st.zone[i].fd >= 0)
			close(st.zone[i].fd);
		free(st.zone[i].path);
	}
	free(st.desc);
	free(st.zone);
	if (fakefs_open_count())
		abort(); /* a descriptor or directory stream the discovery lost */
	return 0;
}
