/* Who measured what, where and when: the identity block of every output
 * (docs/output.md, schema 2). */
#ifndef JST_IDENTITY_H
#define JST_IDENTITY_H

#include <jansson.h>
#include <joulestat.h>
#include <stddef.h>
#include <time.h>

/* The version of the documents' shape: identity.schema. */
#define JST_OUTPUT_SCHEMA 2

/* ts as RFC 3339 in UTC with milliseconds ("2026-12-01T22:13:36.123Z"). */
void jst_identity_rfc3339(const struct timespec *ts, char *buf, size_t len);
/* The machine's name ("" when it has none). */
void jst_identity_hostname(char *buf, size_t len);
/* The identity object: start and end (wall clock), host, CPU and GPU models,
 * driver versions of the backends in use, joulestat's version, and options
 * (stolen; NULL: none). meter may be NULL (no GPUs, no drivers then). */
json_t *jst_identity_json(jst_meter *meter, const struct timespec *start,
                          const struct timespec *end, json_t *options);

#endif
