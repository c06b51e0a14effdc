/* dlopen of libmicrohttpd for joulestat serve (see mhd_lib.h). */
#include "mhd_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct jst_mhd tab;
static int ok;
static char why_[256];

#define SYM(lib, slot, name)                                                                       \
	do {                                                                                       \
		if (!(*(void **)&(slot) = dlsym(lib, name))) {                                     \
			snprintf(why_, sizeof why_, "libmicrohttpd.so.12 lacks %s", name);         \
			dlclose(lib);                                                              \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static void load(void)
{
	void *l = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
	if (!l) {
		const char *e = dlerror();
		snprintf(why_, sizeof why_,
		         "cannot load libmicrohttpd.so.12 (%s): install "
		         "libmicrohttpd12",
		         e ? e : "not found");
		return;
	}
	SYM(l, tab.start_daemon, "MHD_start_daemon");
	SYM(l, tab.stop_daemon, "MHD_stop_daemon");
	SYM(l, tab.get_daemon_info, "MHD_get_daemon_info");
	SYM(l, tab.is_feature_supported, "MHD_is_feature_supported");
	SYM(l, tab.lookup_connection_value, "MHD_lookup_connection_value");
	SYM(l, tab.basic_auth_get_username_password, "MHD_basic_auth_get_username_password");
	SYM(l, tab.queue_basic_auth_fail_response, "MHD_queue_basic_auth_fail_response");
	SYM(l, tab.create_response_from_buffer_with_free_callback,
	    "MHD_create_response_from_buffer_with_free_callback");
	SYM(l, tab.add_response_header, "MHD_add_response_header");
	SYM(l, tab.queue_response, "MHD_queue_response");
	SYM(l, tab.destroy_response, "MHD_destroy_response");
	SYM(l, tab.free, "MHD_free");
	SYM(l, tab.suspend_connection, "MHD_suspend_connection");
	SYM(l, tab.resume_connection, "MHD_resume_connection");
	SYM(l, tab.get_connection_info, "MHD_get_connection_info");
	ok = 1; /* kept loaded: the table points into it */
}

const struct jst_mhd *jst_mhd_load(char *why, size_t len)
{
	pthread_once(&once, load);
	if (!ok)
		snprintf(why, len, "%s", why_);
	return ok ? &tab : NULL;
}
