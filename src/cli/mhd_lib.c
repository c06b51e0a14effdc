/* dlopen of libmicrohttpd for joulestat serve (see mhd_lib.h). */
#include "mhd_lib.h"
#include "dl_table.h"

#include <pthread.h>
#include <stdio.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct jst_mhd tab;
static int ok;
static char why_[256];

static void load(void)
{
	const struct jst_dl_sym syms[] = {
	    {"MHD_start_daemon", (void **)&tab.start_daemon},
	    {"MHD_stop_daemon", (void **)&tab.stop_daemon},
	    {"MHD_get_daemon_info", (void **)&tab.get_daemon_info},
	    {"MHD_is_feature_supported", (void **)&tab.is_feature_supported},
	    {"MHD_lookup_connection_value", (void **)&tab.lookup_connection_value},
	    {"MHD_basic_auth_get_username_password",
	     (void **)&tab.basic_auth_get_username_password},
	    {"MHD_queue_basic_auth_fail_response", (void **)&tab.queue_basic_auth_fail_response},
	    {"MHD_create_response_from_buffer_with_free_callback",
	     (void **)&tab.create_response_from_buffer_with_free_callback},
	    {"MHD_add_response_header", (void **)&tab.add_response_header},
	    {"MHD_queue_response", (void **)&tab.queue_response},
	    {"MHD_destroy_response", (void **)&tab.destroy_response},
	    {"MHD_free", (void **)&tab.free},
	    {"MHD_suspend_connection", (void **)&tab.suspend_connection},
	    {"MHD_resume_connection", (void **)&tab.resume_connection},
	    {"MHD_get_connection_info", (void **)&tab.get_connection_info},
	};
	ok = !jst_dl_table("libmicrohttpd.so.12", syms, sizeof syms / sizeof syms[0],
	                   "install libmicrohttpd12", why_, sizeof why_);
}

const struct jst_mhd *jst_mhd_load(char *why, size_t len)
{
	pthread_once(&once, load);
	if (!ok)
		snprintf(why, len, "%s", why_);
	return ok ? &tab : NULL;
}
