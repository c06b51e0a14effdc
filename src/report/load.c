/* Where a report's JSON comes from: a file written by `joulestat run --json`
 * (a run of the history is the CLI's: src/cli/report_run.c). */
#include "report.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int jst_report_load_file(const char *path, json_t **doc, char *err, size_t errlen)
{
	json_error_t je;
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	*doc = NULL;
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	/* A file of NUL-free UTF-8 JSON, nothing after the one object. */
	*doc = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	if (f != stdin)
		fclose(f);
	if (!*doc) {
		if (je.line > 0)
			snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		else
			snprintf(err, errlen, "%s: %s", path, je.text);
		return -EINVAL;
	}
	return 0;
}
