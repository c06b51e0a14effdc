/* dlopen of libcurl and FreeIPMI for the BMC backends (see bmc_lib.h). */
#include "bmc_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT, ipmi_once = PTHREAD_ONCE_INIT;
static struct jst_curl curl_tab;
static struct jst_freeipmi ipmi_tab;
static int curl_ok, ipmi_ok;
static char curl_why[256], ipmi_why[256];

static void *open_lib(const char *soname, char *why, size_t len)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *e = dlerror();
		snprintf(why, len, "cannot load %s (%s)", soname, e ? e : "not found");
	}
	return lib;
}

/* Resolve one symbol into a table's slot (POSIX's idiom for a function
 * pointer from dlsym); on a miss say which and give up on the library. */
#define SYM(lib, slot, name, why, fail)                                                            \
	do {                                                                                       \
		if (!(*(void **)&(slot) = dlsym(lib, name))) {                                     \
			snprintf(why, sizeof why, "the library lacks %s", name);                   \
			goto fail;                                                                 \
		}                                                                                  \
	} while (0)

static void curl_init(void)
{
	struct jst_curl *t = &curl_tab;
	void *l = open_lib("libcurl.so.4", curl_why, sizeof curl_why);
	if (!l)
		return;
	SYM(l, t->global_init, "curl_global_init", curl_why, bad);
	SYM(l, t->easy_init, "curl_easy_init", curl_why, bad);
	SYM(l, t->easy_cleanup, "curl_easy_cleanup", curl_why, bad);
	SYM(l, t->easy_setopt, "curl_easy_setopt", curl_why, bad);
	SYM(l, t->easy_perform, "curl_easy_perform", curl_why, bad);
	SYM(l, t->easy_getinfo, "curl_easy_getinfo", curl_why, bad);
	SYM(l, t->easy_strerror, "curl_easy_strerror", curl_why, bad);
	/* Once per process, before any handle: not thread-safe itself. */
	if (t->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(curl_why, sizeof curl_why, "curl_global_init failed");
		goto bad;
	}
	curl_ok = 1; /* kept loaded: the table points into it */
	return;
bad:
	dlclose(l);
}

static void ipmi_init(void)
{
	struct jst_freeipmi *t = &ipmi_tab;
	void *l = open_lib("libfreeipmi.so.17", ipmi_why, sizeof ipmi_why);
	if (!l)
		return;
	SYM(l, t->ctx_create, "ipmi_ctx_create", ipmi_why, bad);
	SYM(l, t->ctx_destroy, "ipmi_ctx_destroy", ipmi_why, bad);
	SYM(l, t->ctx_close, "ipmi_ctx_close", ipmi_why, bad);
	SYM(l, t->ctx_errnum, "ipmi_ctx_errnum", ipmi_why, bad);
	SYM(l, t->ctx_errormsg, "ipmi_ctx_errormsg", ipmi_why, bad);
	SYM(l, t->ctx_find_inband, "ipmi_ctx_find_inband", ipmi_why, bad);
	SYM(l, t->ctx_open_outofband_2_0, "ipmi_ctx_open_outofband_2_0", ipmi_why, bad);
	SYM(l, t->cmd_dcmi_get_power_reading, "ipmi_cmd_dcmi_get_power_reading", ipmi_why, bad);
	SYM(l, t->obj_create, "fiid_obj_create", ipmi_why, bad);
	SYM(l, t->obj_destroy, "fiid_obj_destroy", ipmi_why, bad);
	SYM(l, t->obj_clear, "fiid_obj_clear", ipmi_why, bad);
	SYM(l, t->obj_get, "FIID_OBJ_GET", ipmi_why, bad);
	SYM(l, t->tmpl_dcmi_get_power_reading_rs, "tmpl_cmd_dcmi_get_power_reading_rs", ipmi_why,
	    bad);
	ipmi_ok = 1;
	return;
bad:
	dlclose(l);
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
