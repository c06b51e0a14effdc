/* Where a report's JSON comes from: a file written by `joulestat run --json`,
 * or a run of the history. */
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

/* The seam to the run history (`joulestat show ID`): it returns the run as the
 * JSON `run --json` writes, and the report is drawn from that unchanged. The
 * history is not in this build yet. */
int jst_report_load_run(const char *id, json_t **doc, char *err, size_t errlen)
{
	*doc = NULL;
	snprintf(err, errlen,
	         "'%s' is not a file, and reading runs from the history is not built in yet: "
	         "give the JSON file of the run (joulestat run --json FILE)",
	         id);
	return -ENOSYS;
}
