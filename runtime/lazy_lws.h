/*
 * lazy_lws.h — libwebsockets, opened on the first WebSocket connect.
 *
 * Included instead of <libwebsockets.h> (types, constants and the header's
 * inline helpers are the library's own). Each libwebsockets function glrun
 * calls is listed once in GL_LWS_FUNCS and redirected below to a pointer
 * that gl_lws_load() fills with dlsym; calling one before gl_lws_load()
 * returned 1 is a bug (a NULL call). A function used anywhere in the ws
 * client must be added to both lists, or the link fails (glrun is not
 * linked with libwebsockets).
 */
#ifndef GL_LAZY_LWS_H
#define GL_LAZY_LWS_H

#include <libwebsockets.h>
#include <stddef.h>

#define GL_LWS_SONAME "libwebsockets.so.17"

#define GL_LWS_FUNCS(X) \
    X(lws_add_http_header_by_name) X(lws_callback_on_writable) \
    X(lws_client_connect_via_info) X(lws_context_destroy) X(lws_create_context) \
    X(lws_create_vhost) X(lws_frame_is_binary) X(lws_hdr_copy) X(lws_hdr_total_length) \
    X(lws_http_client_http_response) X(lws_is_final_fragment) \
    X(lws_remaining_packet_payload) X(lws_rx_flow_control) X(lws_set_log_level) \
    X(lws_set_timeout) X(lws_set_wsi_user) X(lws_write)

typedef struct gl_lws_api {
#define GL_LWS_FIELD(f) __typeof__(f) *f;
    GL_LWS_FUNCS(GL_LWS_FIELD)
#undef GL_LWS_FIELD
} gl_lws_api;

extern gl_lws_api gl_lws;

/* Open libwebsockets once: 1, or 0 with why in err ("... cannot be loaded
 * (Debian package libwebsockets17): ..."); later calls repeat the answer. */
int gl_lws_load(char *err, size_t errlen);

#ifndef GL_LAZY_IMPL
#define lws_add_http_header_by_name (gl_lws.lws_add_http_header_by_name)
#define lws_callback_on_writable (gl_lws.lws_callback_on_writable)
#define lws_client_connect_via_info (gl_lws.lws_client_connect_via_info)
#define lws_context_destroy (gl_lws.lws_context_destroy)
#define lws_create_context (gl_lws.lws_create_context)
#define lws_create_vhost (gl_lws.lws_create_vhost)
#define lws_frame_is_binary (gl_lws.lws_frame_is_binary)
#define lws_hdr_copy (gl_lws.lws_hdr_copy)
#define lws_hdr_total_length (gl_lws.lws_hdr_total_length)
#define lws_http_client_http_response (gl_lws.lws_http_client_http_response)
#define lws_is_final_fragment (gl_lws.lws_is_final_fragment)
#define lws_remaining_packet_payload (gl_lws.lws_remaining_packet_payload)
#define lws_rx_flow_control (gl_lws.lws_rx_flow_control)
#define lws_set_log_level (gl_lws.lws_set_log_level)
#define lws_set_timeout (gl_lws.lws_set_timeout)
#define lws_set_wsi_user (gl_lws.lws_set_wsi_user)
#define lws_write (gl_lws.lws_write)
#endif

#endif
