/* dlopen of libcurl and FreeIPMI for the BMC backends (see bmc_lib.h). */
#include "bmc_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* One symbol and the table slot it fills: a function pointer, written as
 * POSIX's idiom for dlsym allows (through a void *). */
struct sym {
	const char *name;
	void **slot;
};

/* Open soname and fill every slot; 0, or -1 with why (the library is then
 * closed again). Kept open on success: the table points into it. */
static int load(const char *soname, const struct sym *syms, size_t n, char *why, size_t len)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *e = dlerror();
		snprintf(why, len, "cannot load %s (%s)", soname, e ? e : "not found");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!(*syms[i].slot = dlsym(lib, syms[i].name))) {
			snprintf(why, len, "%s lacks %s", soname, syms[i].name);
			dlclose(lib);
			return -1;
		}
	return 0;
}

#define SYM(tab, field, name)                                                                      \
	{                                                                                          \
		name, (void **)&(tab).field                                                        \
	}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT, ipmi_once = PTHREAD_ONCE_INIT;
static struct jst_curl curl_tab;
static struct jst_freeipmi ipmi_tab;
static int curl_ok, ipmi_ok;
static char curl_why[256], ipmi_why[256];

static void curl_init(void)
{
	const struct sym syms[] = {
	    SYM(curl_tab, global_init, "curl_global_init"),
	    SYM(curl_tab, easy_init, "curl_easy_init"),
	    SYM(curl_tab, easy_cleanup, "curl_easy_cleanup"),
	    SYM(curl_tab, easy_setopt, "curl_easy_setopt"),
	    SYM(curl_tab, easy_perform, "curl_easy_perform"),
	    SYM(curl_tab, easy_getinfo, "curl_easy_getinfo"),
	    SYM(curl_tab, easy_strerror, "curl_easy_strerror"),
	};
	if (load("libcurl.so.4", syms, sizeof syms / sizeof syms[0], curl_why, sizeof curl_why))
		return;
	/* Once per process, before any handle: not thread-safe itself. */
	if (curl_tab.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(curl_why, sizeof curl_why, "curl_global_init failed");
		return;
	}
	curl_ok = 1;
}

static void ipmi_init(void)
{
	const struct sym syms[] = {
	    SYM(ipmi_tab, ctx_create, "ipmi_ctx_create"),
	    SYM(ipmi_tab, ctx_destroy, "ipmi_ctx_destroy"),
	    SYM(ipmi_tab, ctx_close, "ipmi_ctx_close"),
	    SYM(ipmi_tab, ctx_errnum, "ipmi_ctx_errnum"),
	    SYM(ipmi_tab, ctx_errormsg, "ipmi_ctx_errormsg"),
	    SYM(ipmi_tab, ctx_find_inband, "ipmi_ctx_find_inband"),
	    SYM(ipmi_tab, ctx_open_outofband_2_0, "ipmi_ctx_open_outofband_2_0"),
	    SYM(ipmi_tab, cmd_dcmi_get_power_reading, "ipmi_cmd_dcmi_get_power_reading"),
	    SYM(ipmi_tab, obj_create, "fiid_obj_create"),
	    SYM(ipmi_tab, obj_destroy, "fiid_obj_destroy"),
	    SYM(ipmi_tab, obj_clear, "fiid_obj_clear"),
	    SYM(ipmi_tab, obj_get, "FIID_OBJ_GET"),
	    SYM(ipmi_tab, tmpl_dcmi_get_power_reading_rs, "tmpl_cmd_dcmi_get_power_reading_rs"),
	};
	ipmi_ok = load("libfreeipmi.so.17", syms, sizeof syms / sizeof syms[0], ipmi_why,
	               sizeof ipmi_why) == 0;
}

const struct jst_curl *jst_curl_load(char *why, size_t len)
{
	pthread_once(&curl_once, curl_init);
	if (!curl_ok)
		snprintf(why, len, "libcurl: %s", curl_why);
	return curl_ok ? &curl_tab : NULL;
}

const struct jst_freeipmi *jst_freeipmi_load(char *why, size_t len)
{
	pthread_once(&ipmi_once, ipmi_init);
	if (!ipmi_ok)
		snprintf(why, len, "FreeIPMI: %s", ipmi_why);
	return ipmi_ok ? &ipmi_tab : NULL;
}
