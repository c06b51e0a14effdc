/* The `joulestat run` JSON document (docs/output.md) written in pieces: a run
 * of hours at a short --interval must not keep every interval until the end.
 * Each top-level member, and each interval, is dumped by jansson on its own
 * and indented to its depth, so the whole reads as one json_dumpf of it. */
#include "sinks.h"

#include <errno.h>
#include <string.h>

enum { INDENT = 2 };

struct indenter {
	FILE *f;
	int depth; /* spaces after each line break */
};

/* jansson's dump callback: pass the text on, each line break indented. */
static int indented(const char *buf, size_t size, void *data)
{
	const struct indenter *in = data;
	while (size) {
		const char *nl = memchr(buf, '\n', size);
		size_t n = nl ? (size_t)(nl - buf) + 1 : size;
		if (fwrite(buf, 1, n, in->f) != n)
			return -1;
		if (nl && fprintf(in->f, "%*s", in->depth, "") < 0)
			return -1;
		buf += n;
		size -= n;
	}
	return 0;
}

static void fail(struct jst_json_stream *s)
{
	if (!s->err)
		s->err = errno > 0 ? -errno : -EIO;
}

/* Dump v (stolen) at depth spaces; a failure is kept in s. */
static void dump(struct jst_json_stream *s, json_t *v, int depth)
{
	struct indenter in = {s->f, depth};
	if (!v) {
		s->err = s->err ? s->err : -ENOMEM;
		return;
	}
	errno = 0;
	if (json_dump_callback(v, indented, &in,
	                       JSON_INDENT(INDENT) | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY) ||
	    ferror(s->f))
		fail(s);
	json_decref(v);
}

/* A top-level member: the first follows the document's opening brace. */
static void member(struct jst_json_stream *s, int first, const char *key, json_t *v)
{
	if (s->err) {
		json_decref(v);
		return;
	}
	errno = 0;
	if (fprintf(s->f, "%s\n%*s\"%s\": ", first ? "" : ",", INDENT, "", key) < 0) {
		fail(s);
		json_decref(v);
		return;
	}
	dump(s, v, INDENT);
}

void jst_sink_json_stream_begin(struct jst_json_stream *s, FILE *f, char *const *command,
                                int intervals)
{
	*s = (struct jst_json_stream){.f = f, .command = command, .intervals = intervals};
}

/* The head, written with the first interval or at the end, not before: a run
 * that measures nothing writes nothing, even to standard output. */
static void head(struct jst_json_stream *s)
{
	if (s->head)
		return;
	s->head = 1;
	json_t *cmd = json_array();
	for (char *const *a = s->command; cmd && a && *a; a++)
		json_array_append_new(cmd, jst_json_string(*a));
	errno = 0;
	if (fputc('{', s->f) == EOF)
		fail(s);
	member(s, 1, "joulestat", jst_json_string(jst_version()));
	member(s, 0, "command", cmd);
	if (s->intervals && !s->err) {
		errno = 0;
		if (fprintf(s->f, ",\n%*s\"intervals\": [", INDENT, "") < 0)
			fail(s);
	}
}

void jst_sink_json_stream_interval(struct jst_json_stream *s, const jst_measurement *m, size_t run)
{
	if (!s->intervals)
		return;
	head(s);
	if (s->err)
		return;
	json_t *o = jst_sink_json_measurement(m);
	if (o)
		json_object_set_new(o, "run", json_integer((json_int_t)run));
	errno = 0;
	if (fprintf(s->f, "%s\n%*s", s->n ? "," : "", 2 * INDENT, "") < 0) {
		fail(s);
		json_decref(o);
		return;
	}
	dump(s, o, 2 * INDENT);
	s->n++;
}

int jst_sink_json_stream_end(struct jst_json_stream *s, const struct jst_report *r)
{
	head(s);
	if (s->intervals && !s->err) {
		errno = 0;
		/* An empty array is "[]", as jansson writes it. */
		if ((s->n ? fprintf(s->f, "\n%*s]", INDENT, "") : fprintf(s->f, "]")) < 0)
			fail(s);
	}
	json_t *runs = json_array();
	int partial = 0;
	for (size_t i = 0; runs && i < r->nruns; i++) {
		json_t *m = jst_sink_json_measurement(r->runs[i]);
		if (m && r->run_status)
			json_object_set_new(m, "exit_status", json_integer(r->run_status[i]));
		if (m && r->run_note && r->run_note[i] && *r->run_note[i])
			json_object_set_new(m, "note", jst_json_string(r->run_note[i]));
		if (m && r->run_cut && r->run_cut[i])
			json_object_set_new(m, "interrupted", json_true());
		if (m && r->attribution && r->attribution[i])
			json_object_set_new(m, "attribution",
			                    jst_sink_json_attribution(r->attribution[i]));
		json_array_append_new(runs, m);
		partial |= jst_measurement_partial(r->runs[i]);
	}
	member(s, 0, "exit_status", json_integer(r->exit_status));
	member(s, 0, "partial", json_boolean(partial));
	member(s, 0, "runs", runs);
	if (r->nruns > 1)
		member(s, 0, "summary", jst_sink_json_summary(r->runs, r->nruns, r->run_cut));
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)r->extra, key, v)
	{
		member(s, 0, key, json_incref(v));
	}
	if (!s->err) {
		errno = 0;
		if (fputs("\n}\n", s->f) == EOF || fflush(s->f))
			fail(s);
	}
	return s->err;
}
