/* `joulestat report RUN_ID`: the run's document from the run history, in the
 * shape `run --json` wrote it, for the report to draw unchanged. */
#include "cli.h"
#include "history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int same(const json_t *a, const json_t *b, const char *key)
{
	return json_equal(json_object_get(a, key), json_object_get(b, key));
}

/* A run recorded before the history's schema 4 kept its -I rows without the
 * domains' source, by which the report finds each row's domain: each row is
 * given the source of the first repetition's domain of the same name,
 * device, backend and method, where that is one domain only. */
static void old_rows_sourced(json_t *doc)
{
	const json_t *doms =
	    json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "domains");
	size_t i, k, j;
	json_t *iv, *d;
	const json_t *r;
	json_array_foreach(json_object_get(doc, "intervals"), i, iv)
	{
		json_array_foreach(json_object_get(iv, "domains"), k, d)
		{
			if (json_object_get(d, "source"))
				continue;
			const json_t *found = NULL;
			size_t n = 0;
			json_array_foreach(doms, j, r)
			{
				if (same(d, r, "name") && same(d, r, "device") &&
				    same(d, r, "backend") && same(d, r, "method")) {
					found = r;
					n++;
				}
			}
			if (n == 1 && json_object_get(found, "source"))
				json_object_set(d, "source", json_object_get(found, "source"));
		}
	}
}

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
	if (!rc)
		old_rows_sourced(*doc);
	if (rc == -ENOENT)
		snprintf(err, errlen, "no run %lld in the history (`joulestat history` lists them)",
		         n);
	jst_history_close(h);
	return rc;
}
