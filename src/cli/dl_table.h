/* A library serve needs only when it runs (libmicrohttpd, GnuTLS), loaded
 * with dlopen rather than linked, so that no other joulestat command pays its
 * start-up: its functions looked up by name into a table of pointers. */
#ifndef JST_DL_TABLE_H
#define JST_DL_TABLE_H

#include <stddef.h>

struct jst_dl_sym {
	const char *name;
	void **slot; /* where the function's address goes */
};

/* Open soname and fill every slot; 0, or -1 with why (naming the library and
 * what it lacks, then hint where not NULL). The library stays loaded. */
int jst_dl_table(const char *soname, const struct jst_dl_sym *syms, size_t n, const char *hint,
                 char *why, size_t len);

#endif
