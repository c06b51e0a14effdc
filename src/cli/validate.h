/* joulestat validate: the same windows measured by every method, compared
 * per device against the most accurate method present. */
#ifndef JST_VALIDATE_H
#define JST_VALIDATE_H

#include "sinks.h"

#include <joulestat.h>

/* One method of one device group: its domains' energy summed per run. */
struct jst_vmethod {
	char backend[32], source[32];
	char names[256]; /* its domains, "package-0+package-1" */
	jst_method method;
	double accuracy; /* its class (the largest of its domains') */
	int primary;     /* one of its domains is counted in totals */
	int partial;     /* one of its figures ended early in some run */
	int reference;   /* the most accurate method of the group */
	double *energy;  /* per run */
	double *diff;    /* per run: (energy - reference) / reference; NaN for the reference */
	struct jst_stat e, d;
	double tolerance; /* reference's class + this method's */
	int agrees;       /* |mean diff| <= tolerance */
	size_t agreed_runs;
};

/* Domains of one kind whose devices one identity covers ("cpu" covers
 * "cpu:package-0" and "cpu:package-1"), one method per backend/source. */
struct jst_vgroup {
	char device[128]; /* the covering identity */
	char label[64];   /* a domain name for people: "gpu0", "cpu" */
	jst_kind kind;
	int covered; /* some domains are parts of the identity (packages under "cpu") */
	struct jst_vmethod *methods;
	size_t n;
};

/* A whole-platform or whole-node meter next to the sum of the components it
 * contains: a node meter holds every component (the total); a platform (RAPL
 * psys) holds the CPU packages and DRAM, not a discrete GPU. One per method of
 * a platform or of the node (every node-kind domain is of the one node: a
 * power analyser's channels, a BMC), its reference first. */
struct jst_vsystem {
	char name[256], device[128], backend[32], source[32];
	const char *components; /* "total" or "cpu+dram" */
	double accuracy;
	int components_estimated;
	struct jst_stat meter_j, components_j, rest_j, rest_fraction;
	int reference;    /* the most accurate meter of its platform or of the node */
	int partial;      /* one of its figures ended early in some run */
	size_t meters;    /* the meters of its platform or of the node (methods) */
	double allowed_j; /* mean of what both sides' accuracy classes allow */
	int inconsistent; /* the components exceed the meter beyond that */
};

struct jst_validation {
	size_t nruns;
	struct jst_vgroup *groups;
	size_t ngroups;
	struct jst_vsystem *systems;
	size_t nsystems;
	size_t disagreements; /* methods that disagree, and inconsistent systems */
};

/* Compare the methods of runs (measurements of one cross-validating meter). */
int jst_validation_compute(jst_measurement *const *runs, size_t n, struct jst_validation *out);
void jst_validation_free(struct jst_validation *v);

/* Text table per group, systems, and a verdict. */
void jst_validation_print(FILE *f, const struct jst_validation *v);
/* "groups", "systems", "disagreements", "agree" added to doc. */
void jst_validation_json(json_t *doc, const struct jst_validation *v);

#endif
