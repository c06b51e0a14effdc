/*
 * libmicrohttpd, loaded with dlopen by `joulestat serve` only: linked, it and
 * its TLS stack (GnuTLS, p11-kit) cost every joulestat command some 6 ms of
 * start-up. Its header gives the types.
 */
#ifndef JST_MHD_LIB_H
#define JST_MHD_LIB_H

#include <microhttpd.h>
#include <stddef.h>

struct jst_mhd {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_is_feature_supported) *is_feature_supported;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_basic_auth_get_username_password) *basic_auth_get_username_password;
	__typeof__(MHD_queue_basic_auth_fail_response) *queue_basic_auth_fail_response;
	__typeof__(MHD_create_response_from_buffer_with_free_callback)
	    *create_response_from_buffer_with_free_callback;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
	__typeof__(MHD_free) *free;
	__typeof__(MHD_suspend_connection) *suspend_connection;
	__typeof__(MHD_resume_connection) *resume_connection;
	__typeof__(MHD_get_connection_info) *get_connection_info;
};

/* The library, loaded once, or NULL with the reason in why. */
const struct jst_mhd *jst_mhd_load(char *why, size_t len);

#endif
