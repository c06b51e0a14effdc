/* dlopen and dlsym into a table (dl_table.h). */
#include "dl_table.h"

#include <dlfcn.h>
#include <stdio.h>

int jst_dl_table(const char *soname, const struct jst_dl_sym *syms, size_t n, const char *hint,
                 char *why, size_t len)
{
	void *l = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!l) {
		const char *e = dlerror();
		snprintf(why, len, "cannot load %s (%s)%s%s", soname, e ? e : "not found",
		         hint ? ": " : "", hint ? hint : "");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(*syms[i].slot = dlsym(l, syms[i].name))) {
			snprintf(why, len, "%s lacks %s", soname, syms[i].name);
			dlclose(l);
			return -1;
		}
	}
	return 0; /* kept loaded: the table points into it */
}
