/*
 * libcurl and FreeIPMI, loaded with dlopen when a BMC backend is configured,
 * not linked: linked, they and what they pull in (GnuTLS, Kerberos, LDAP,
 * p11-kit) cost every program that loads libjoulestat some 15 ms of start-up,
 * most of which never talks to a BMC. Their headers give the types.
 */
#ifndef JST_BMC_LIB_H
#define JST_BMC_LIB_H

#include <curl/curl.h>
#include <freeipmi/freeipmi.h>
#include <stddef.h>

struct jst_curl {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_strerror) *easy_strerror;
};

struct jst_freeipmi {
	__typeof__(ipmi_ctx_create) *ctx_create;
	__typeof__(ipmi_ctx_destroy) *ctx_destroy;
	__typeof__(ipmi_ctx_close) *ctx_close;
	__typeof__(ipmi_ctx_errnum) *ctx_errnum;
	__typeof__(ipmi_ctx_errormsg) *ctx_errormsg;
	__typeof__(ipmi_ctx_find_inband) *ctx_find_inband;
	__typeof__(ipmi_ctx_open_outofband_2_0) *ctx_open_outofband_2_0;
	__typeof__(ipmi_cmd_dcmi_get_power_reading) *cmd_dcmi_get_power_reading;
	__typeof__(fiid_obj_create) *obj_create;
	__typeof__(fiid_obj_destroy) *obj_destroy;
	__typeof__(fiid_obj_clear) *obj_clear;
	__typeof__(FIID_OBJ_GET) *obj_get;
	fiid_field_t *tmpl_dcmi_get_power_reading_rs;
};

/* The library, loaded once (later calls return the same table), or NULL with
 * the reason in why: which library could not be found or lacks what. */
const struct jst_curl *jst_curl_load(char *why, size_t len);
const struct jst_freeipmi *jst_freeipmi_load(char *why, size_t len);

#endif
