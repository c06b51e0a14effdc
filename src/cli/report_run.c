/* `joulestat report RUN_ID`: the run's document from the run history, in the
 * shape `run --json` wrote it, for the report to draw unchanged. */
#include "cli.h"
#include "history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int jst_cli_report_run(const char *id, json_t **doc, char *err, size_t errlen)
{
	*doc = NULL;
	char *end;
	errno = 0;
	long long n = strtoll(id, &end, 10);
	if (!*id || *end || errno || n <= 0) {
		snprintf(err, errlen,
		         "'%s' is neither a file nor a run id (a number `joulestat history` lists)",
		         id);
		return -EINVAL;
	}
	char path[4096];
	if (jst_history_path(path, sizeof path)) {
		snprintf(err, errlen, "no run history: neither XDG_DATA_HOME nor HOME is set");
		return -ENOENT;
	}
	jst_history *h;
	int rc = jst_history_open(path, 0, &h, err, errlen);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "no run %lld: no run has been recorded yet (%s)", n, path);
		return rc;
	}
	if (rc)
		return rc;
	rc = jst_history_document(h, (int64_t)n, doc, err, errlen);
	if (rc == -ENOENT)
		snprintf(err, errlen, "no run %lld in the history (`joulestat history` lists them)",
		         n);
	jst_history_close(h);
	return rc;
}
