
/*
 * Copyright (C) noom authors
 *
 * Directives, configuration, the shared zone and the content handler that
 * decides what an incoming request is: a Socket.IO session, the plain
 * WebSocket lobby, a protocol test, an error, or a plain request left to
 * the rest of nginx.
 */


#include "ngx_noom.h"


#define NGX_NOOM_ZONE_BASE         (16 * 1024 * 1024)
#define NGX_NOOM_QUEUE_SIZE        (1024 * 1024)
#define NGX_NOOM_QUEUE_WAIT        500


static ngx_int_t ngx_http_noom_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_noom_eio_request(ngx_http_request_t *r,
    ngx_http_noom_loc_conf_t *lcf, ngx_uint_t upgrade, ngx_uint_t *kind);

static void *ngx_http_noom_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_noom_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_noom_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_noom_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_noom_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_noom_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_noom_init_process(ngx_cycle_t *cycle);
static void ngx_http_noom_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_noom_rooms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_protocol_test(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_room_events(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_worker_queue(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_room_change(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_event_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_recovery(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_noom_admin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_noom_turn_warn(ngx_conf_t *cf,
    ngx_http_noom_main_conf_t *mcf);
static ngx_int_t ngx_http_noom_add_zone(ngx_conf_t *cf,
    ngx_http_noom_main_conf_t *mcf, size_t size);
static char *ngx_http_noom_positive(ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_noom_positive_msec(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_noom_positive_sec(ngx_conf_t *cf, void *post,
    void *data);


static ngx_conf_post_handler_pt  ngx_http_noom_positive_p =
    ngx_http_noom_positive;
static ngx_conf_post_handler_pt  ngx_http_noom_positive_msec_p =
    ngx_http_noom_positive_msec;
static ngx_conf_post_handler_pt  ngx_http_noom_positive_sec_p =
    ngx_http_noom_positive_sec;

static ngx_str_t  ngx_http_noom_zone_name = ngx_string("noom");

static ngx_conf_enum_t  ngx_http_noom_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_noom_history_bounds = {
    ngx_conf_check_num_bounds, 0, 1000
};


static ngx_command_t  ngx_http_noom_commands[] = {

    { ngx_string("noom_rooms"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_noom_rooms,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_protocol_test"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_noom_protocol_test,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_noom_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_noom_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_worker_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_noom_worker_queue,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_recovery"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_noom_recovery,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_room_history"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, history),
      &ngx_http_noom_history_bounds },

    { ngx_string("noom_room_change_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_noom_room_change,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_message_buffers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, message_buffers),
      NULL },

    { ngx_string("noom_message_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, message_timeout),
      NULL },

    { ngx_string("noom_lobby_rate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, lobby_rate),
      NULL },

    { ngx_string("noom_max_rooms"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, max_rooms),
      &ngx_http_noom_positive_p },

    { ngx_string("noom_max_room_members"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, max_members),
      &ngx_http_noom_positive_p },

    { ngx_string("noom_max_nickname_length"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, max_nickname),
      &ngx_http_noom_positive_p },

    { ngx_string("noom_max_room_name_length"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, max_room_name),
      &ngx_http_noom_positive_p },

    { ngx_string("noom_max_message_length"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, max_message),
      &ngx_http_noom_positive_p },

    { ngx_string("noom_max_signal_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, max_signal),
      &ngx_http_noom_positive_p },

    { ngx_string("noom_room_events"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_noom_room_events,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_ice_server"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_noom_turn_ice_server,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_turn_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_noom_turn_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_turn_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, turn_ttl),
      &ngx_http_noom_positive_sec_p },

    { ngx_string("noom_ping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, ping_interval),
      &ngx_http_noom_positive_msec_p },

    { ngx_string("noom_ping_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, ping_timeout),
      &ngx_http_noom_positive_msec_p },

    { ngx_string("noom_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, connect_timeout),
      &ngx_http_noom_positive_msec_p },

    { ngx_string("noom_close_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, close_timeout),
      &ngx_http_noom_positive_msec_p },

    { ngx_string("noom_max_payload"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, max_payload),
      &ngx_http_noom_positive_p },

    { ngx_string("noom_send_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, send_buffer),
      &ngx_http_noom_positive_p },

    { ngx_string("noom_allowed_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_noom_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_event_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_noom_event_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_noom_admin,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, admin),
      NULL },

    { ngx_string("noom_admin_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_noom_admin_auth_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_admin_readonly"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, admin_readonly),
      NULL },

    { ngx_string("noom_worker_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, worker_header),
      NULL },

    { ngx_string("noom_tls_takeover"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, tls_takeover),
      NULL },

    { ngx_string("noom_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_noom_loc_conf_t, log_level),
      &ngx_http_noom_log_levels },

    { ngx_string("noom_admin_login_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_noom_admin_login_limit_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_admin_bcrypt"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_noom_admin_bcrypt_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_noom_cluster_redis_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("noom_redis_node_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_noom_main_conf_t, redis_node_timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_noom_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_noom_postconfiguration,       /* postconfiguration */

    ngx_http_noom_create_main_conf,        /* create main configuration */
    ngx_http_noom_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_noom_create_loc_conf,         /* create location configuration */
    ngx_http_noom_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_noom_module = {
    NGX_MODULE_V1,
    &ngx_http_noom_module_ctx,             /* module context */
    ngx_http_noom_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_noom_init_module,             /* init module */
    ngx_http_noom_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_noom_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_noom_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  key, eio, value, sid;
    ngx_uint_t                 kind, upgrade, n, owner;
    ngx_http_noom_loc_conf_t  *lcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_noom_module);

    kind = NGX_NOOM_KIND_SIO;
    upgrade = (ngx_noom_header(r, "Upgrade", 7, &value, &n) == NGX_OK);

    if (lcf->mode == NGX_NOOM_MODE_TEST_WS) {
        if (!upgrade) {
            return NGX_DECLINED;
        }

        kind = NGX_NOOM_KIND_WS_ECHO;

    } else if (ngx_http_arg(r, (u_char *) "EIO", 3, &eio) != NGX_OK) {

        /*
         * No Engine.IO: in a rooms location an upgrade is the tutorial's
         * plain WebSocket lobby and anything else is for the rest of nginx,
         * static files above all.
         */

        if (lcf->mode != NGX_NOOM_MODE_ROOMS) {
            return ngx_noom_eio_error(r, NGX_HTTP_BAD_REQUEST, 5);
        }

        if (!upgrade) {
            return NGX_DECLINED;
        }

        kind = NGX_NOOM_KIND_PLAIN;

    } else {
        rc = ngx_http_noom_eio_request(r, lcf, upgrade, &kind);
        if (kind == 0) {
            /* refused, the response is out */
            return rc;
        }

        if (ngx_http_arg(r, (u_char *) "transport", 9, &value) == NGX_OK
            && value.len == 7
            && ngx_strncmp(value.data, "polling", 7) == 0)
        {
            return ngx_noom_poll_handler(r, lcf, kind);
        }
    }

    owner = 0;

    if (ngx_http_arg(r, (u_char *) "sid", 3, &sid) == NGX_OK) {
        /* the upgrade of a polling session, that may live elsewhere */

        if (ngx_noom_poll_proxy_sid(&sid, &owner) != NGX_OK) {
            return ngx_noom_eio_error(r, NGX_HTTP_BAD_REQUEST, 1);
        }

        kind = NGX_NOOM_KIND_PROXY;
    }

    rc = ngx_noom_ws_handshake(r, lcf, &key);

    if (rc != NGX_OK) {
        ngx_noom_stat(handshakes_refused, 1);

        if (rc == NGX_NOOM_HTTP_UPGRADE_REQUIRED) {
            return ngx_noom_ws_refuse_version(r);
        }

        return rc;
    }

    return ngx_noom_ws_upgrade(r, &key, kind, &sid, owner);
}


static ngx_int_t
ngx_http_noom_eio_request(ngx_http_request_t *r,
    ngx_http_noom_loc_conf_t *lcf, ngx_uint_t upgrade, ngx_uint_t *kind)
{
    ngx_str_t  eio, transport;

    *kind = 0;

    (void) ngx_http_arg(r, (u_char *) "EIO", 3, &eio);

    if (eio.len != 1 || eio.data[0] != '4') {
        return ngx_noom_eio_error(r, NGX_HTTP_BAD_REQUEST, 5);
    }

    if (ngx_http_arg(r, (u_char *) "transport", 9, &transport) != NGX_OK
        || !((transport.len == 9
              && ngx_strncmp(transport.data, "websocket", 9) == 0)
             || (transport.len == 7
                 && ngx_strncmp(transport.data, "polling", 7) == 0)))
    {
        return ngx_noom_eio_error(r, NGX_HTTP_BAD_REQUEST, 0);
    }

    if (transport.len == 9 && !upgrade) {
        return ngx_noom_eio_error(r, NGX_HTTP_BAD_REQUEST, 3);
    }

    switch (lcf->mode) {

    case NGX_NOOM_MODE_TEST_EIO:
        *kind = NGX_NOOM_KIND_EIO_ECHO;
        break;

    case NGX_NOOM_MODE_TEST_SIO:
        *kind = NGX_NOOM_KIND_SIO_TEST;
        break;

    default:
        *kind = NGX_NOOM_KIND_SIO;
    }

    return NGX_OK;
}


/* a small response whose body is in b */

ngx_int_t
ngx_noom_http_send(ngx_http_request_t *r, ngx_uint_t status, char *type,
    ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static void *
ngx_http_noom_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_noom_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->zone = NULL;
     *     mcf->room_events = NULL;
     *     mcf->wake = NULL;
     */

    mcf->cycle = cf->cycle;
    mcf->queue_size = NGX_CONF_UNSET_SIZE;
    mcf->queue_wait = NGX_CONF_UNSET_MSEC;
    mcf->max_nickname = NGX_CONF_UNSET_SIZE;
    mcf->max_room_name = NGX_CONF_UNSET_SIZE;
    mcf->max_message = NGX_CONF_UNSET_SIZE;
    mcf->max_signal = NGX_CONF_UNSET_SIZE;
    mcf->max_rooms = NGX_CONF_UNSET_UINT;
    mcf->room_change_interval = NGX_CONF_UNSET_MSEC;
    mcf->room_change_rate = NGX_CONF_UNSET_SIZE;
    mcf->lobby_rate = NGX_CONF_UNSET_UINT;
    mcf->message_buffers = NGX_CONF_UNSET_SIZE;
    mcf->message_timeout = NGX_CONF_UNSET_MSEC;
    mcf->max_members = NGX_CONF_UNSET_UINT;
    mcf->turn_ttl = NGX_CONF_UNSET;
    mcf->login_rate = NGX_CONF_UNSET_UINT;
    mcf->login_burst = NGX_CONF_UNSET_UINT;
    mcf->login_conn = NGX_CONF_UNSET_UINT;
    mcf->bcrypt_threads = NGX_CONF_UNSET_UINT;
    mcf->bcrypt_queue = NGX_CONF_UNSET_UINT;
    mcf->recovery = NGX_CONF_UNSET_MSEC;
    mcf->recovery_log = NGX_CONF_UNSET_UINT;
    mcf->recovery_log_size = NGX_CONF_UNSET_SIZE;
    mcf->recovery_sessions = NGX_CONF_UNSET_UINT;
    mcf->history = NGX_CONF_UNSET_UINT;
    mcf->redis_node_timeout = NGX_CONF_UNSET_MSEC;

    return mcf;
}


static char *
ngx_http_noom_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    ngx_conf_init_size_value(mcf->queue_size, NGX_NOOM_QUEUE_SIZE);
    ngx_conf_init_msec_value(mcf->queue_wait, NGX_NOOM_QUEUE_WAIT);
    ngx_conf_init_size_value(mcf->max_nickname, 64);
    ngx_conf_init_size_value(mcf->max_room_name, 64);
    ngx_conf_init_size_value(mcf->max_message, 4096);
    ngx_conf_init_size_value(mcf->max_signal, 65536);
    ngx_conf_init_uint_value(mcf->max_rooms, 1000);
    ngx_conf_init_msec_value(mcf->room_change_interval, 500);
    ngx_conf_init_size_value(mcf->room_change_rate, 16384);
    ngx_conf_init_uint_value(mcf->lobby_rate, 200);
    ngx_conf_init_size_value(mcf->message_buffers, 64 * 1024 * 1024);
    ngx_conf_init_msec_value(mcf->message_timeout, 10000);
    ngx_conf_init_uint_value(mcf->max_members, 6);
    ngx_conf_init_value(mcf->turn_ttl, 3600);
    ngx_conf_init_msec_value(mcf->recovery, 0);
    ngx_conf_init_uint_value(mcf->recovery_log, 128);
    ngx_conf_init_size_value(mcf->recovery_log_size, 128 * 1024);
    ngx_conf_init_uint_value(mcf->recovery_sessions, 10000);
    ngx_conf_init_uint_value(mcf->history, 50);
    ngx_conf_init_msec_value(mcf->redis_node_timeout, 10000);

    if (mcf->redis) {
        mcf->redis->node_timeout = mcf->redis_node_timeout;

        if (mcf->recovery) {
            /* away sessions, room logs and offsets are one node's */
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"noom_recovery\" cannot be used with "
                               "\"noom_redis\"");
            return NGX_CONF_ERROR;
        }
    }

    if (mcf->turn_secret.len == 0 && mcf->ice_servers) {
        ngx_http_noom_turn_warn(cf, mcf);
    }

    if (mcf->queue_size < 2 * mcf->max_signal + 4096) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"noom_worker_queue\" %uz must hold two "
                           "signaling messages of \"noom_max_signal_size\" "
                           "%uz", mcf->queue_size, mcf->max_signal);
        return NGX_CONF_ERROR;
    }

    return ngx_noom_admin_init_main_conf(cf, mcf);
}


static void *
ngx_http_noom_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_noom_loc_conf_t  *lcf;

    lcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_noom_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lcf->mode = 0;
     */

    lcf->ping_interval = NGX_CONF_UNSET_MSEC;
    lcf->ping_timeout = NGX_CONF_UNSET_MSEC;
    lcf->connect_timeout = NGX_CONF_UNSET_MSEC;
    lcf->close_timeout = NGX_CONF_UNSET_MSEC;
    lcf->max_payload = NGX_CONF_UNSET_SIZE;
    lcf->send_buffer = NGX_CONF_UNSET_SIZE;
    lcf->origins = NGX_CONF_UNSET_PTR;
    lcf->worker_header = NGX_CONF_UNSET;
    lcf->rate = NGX_CONF_UNSET_UINT;
    lcf->log_level = NGX_CONF_UNSET_UINT;
    lcf->tls_takeover = NGX_CONF_UNSET;
    lcf->burst = NGX_CONF_UNSET_UINT;
    lcf->admin = NGX_CONF_UNSET;
    lcf->admin_readonly = NGX_CONF_UNSET;
    lcf->admin_auth = NGX_CONF_UNSET;

    return lcf;
}


static char *
ngx_http_noom_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_noom_loc_conf_t *prev = parent;
    ngx_http_noom_loc_conf_t *conf = child;

    ngx_http_noom_main_conf_t  *mcf;

    ngx_conf_merge_msec_value(conf->ping_interval, prev->ping_interval,
                              25000);
    ngx_conf_merge_msec_value(conf->ping_timeout, prev->ping_timeout, 20000);
    ngx_conf_merge_msec_value(conf->connect_timeout, prev->connect_timeout,
                              45000);
    ngx_conf_merge_msec_value(conf->close_timeout, prev->close_timeout,
                              5000);
    ngx_conf_merge_size_value(conf->max_payload, prev->max_payload,
                              1000000);
    ngx_conf_merge_size_value(conf->send_buffer, prev->send_buffer,
                              1024 * 1024);
    ngx_conf_merge_ptr_value(conf->origins, prev->origins, NULL);
    ngx_conf_merge_value(conf->worker_header, prev->worker_header, 0);
    ngx_conf_merge_uint_value(conf->rate, prev->rate, 50);
    ngx_conf_merge_uint_value(conf->burst, prev->burst, 200);
    ngx_conf_merge_value(conf->admin, prev->admin, 0);
    ngx_conf_merge_value(conf->admin_readonly, prev->admin_readonly, 0);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level,
                              NGX_LOG_WARN);
    ngx_conf_merge_value(conf->tls_takeover, prev->tls_takeover, 1);

    if (conf->mode && conf->tls_takeover) {
        mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_noom_module);
        mcf->tls_takeover = 1;
    }

    if (conf->admin_auth == NGX_CONF_UNSET) {
        conf->admin_auth = prev->admin_auth;
        conf->admin_user = prev->admin_user;
        conf->admin_hash = prev->admin_hash;
    }

    if (conf->admin && conf->mode != NGX_NOOM_MODE_ROOMS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"noom_admin\" needs \"noom_rooms\" in the "
                           "same location");
        return NGX_CONF_ERROR;
    }

    if (conf->admin && conf->admin_auth == NGX_CONF_UNSET) {
        /* an admin panel open to all must be asked for */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"noom_admin\" needs \"noom_admin_auth\": "
                           "a user name and a bcrypt hash, or \"off\"");
        return NGX_CONF_ERROR;
    }

    if (conf->mode && conf->send_buffer < conf->max_payload + 16) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"noom_send_buffer\" %uz is smaller than "
                           "\"noom_max_payload\" %uz plus a frame header",
                           conf->send_buffer, conf->max_payload);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_noom_postconfiguration(ngx_conf_t *cf)
{
    ngx_int_t                   n;
    ngx_core_conf_t            *ccf;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_noom_module);

#if (NGX_NOOM_TLS13)

    if (mcf->tls_takeover && ngx_noom_tls_conf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

#endif

    if (mcf->zone || !mcf->enabled) {
        return NGX_OK;
    }

    /*
     * A noom location without noom_zone: 16m for rooms, members and the
     * admin registry, and a queue for each worker.  Pages of shared memory
     * that are never used are never touched, so erring high costs nothing.
     * worker_processes is known here when it comes before http {}, as it
     * usually does; otherwise a worker per CPU is assumed.
     */

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    n = ccf->worker_processes;

    if (n == NGX_CONF_UNSET || n < ngx_ncpu) {
        n = ngx_max(ngx_ncpu, 1);
    }

    /* two queues a worker: old and new workers share the zone on reloads */

    return ngx_http_noom_add_zone(cf, mcf,
                                  NGX_NOOM_ZONE_BASE + 2 * n * mcf->queue_size);
}


static ngx_int_t
ngx_http_noom_init_module(ngx_cycle_t *cycle)
{
    ngx_http_noom_main_conf_t  *mcf;

    /* beside nginx's own "nginx/x.y.z": which noom a binary has loaded */
    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "noom/" NGX_NOOM_VERSION);

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_noom_module);

    if (mcf == NULL || mcf->zone == NULL) {
        return NGX_OK;
    }

    return ngx_noom_relay_init_module(cycle);
}


static ngx_int_t
ngx_http_noom_init_process(ngx_cycle_t *cycle)
{
    ngx_http_noom_main_conf_t  *mcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_noom_module);

    if (mcf == NULL || mcf->zone == NULL) {
        return NGX_OK;
    }

    ngx_noom_rooms_attach(cycle);

    if (ngx_noom_relay_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_noom_poll_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_noom_admin_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_noom_recovery_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_noom_rooms_worker_start(cycle);

    return ngx_noom_cluster_init_process(cycle);
}


static void
ngx_http_noom_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_noom_module);

    if (mcf == NULL || mcf->zone == NULL || ngx_noom_shm == NULL) {
        return;
    }

    ngx_noom_cluster_exit_process(cycle);
    ngx_noom_relay_exit_process(cycle);
    ngx_noom_admin_exit_process(cycle);
    ngx_noom_rooms_worker_exit(cycle);
    ngx_noom_recovery_exit_process(cycle);
    ngx_noom_app_exit();
    ngx_noom_sio_exit();
    ngx_noom_ws_exit();
    ngx_noom_poll_exit();
}


static char *
ngx_http_noom_set_handler(ngx_conf_t *cf, ngx_http_noom_loc_conf_t *lcf,
    ngx_uint_t mode)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_noom_main_conf_t  *mcf;

    if (lcf->mode) {
        return "is duplicate";
    }

    lcf->mode = mode;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_noom_handler;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_noom_module);
    mcf->enabled = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_noom_rooms(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_noom_set_handler(cf, conf, NGX_NOOM_MODE_ROOMS);
}


static char *
ngx_http_noom_protocol_test(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t   *value;
    ngx_uint_t   mode;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "websocket") == 0) {
        mode = NGX_NOOM_MODE_TEST_WS;

    } else if (ngx_strcmp(value[1].data, "engine.io") == 0) {
        mode = NGX_NOOM_MODE_TEST_EIO;

    } else if (ngx_strcmp(value[1].data, "socket.io") == 0) {
        mode = NGX_NOOM_MODE_TEST_SIO;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be \"websocket\", \"engine.io\" or "
                           "\"socket.io\"", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return ngx_http_noom_set_handler(cf, conf, mode);
}


static char *
ngx_http_noom_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_noom_main_conf_t  *mcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_noom_status_handler;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_noom_module);
    mcf->enabled = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_noom_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (mcf->zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (64 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone size \"%V\" is too small, "
                           "at least %uzk is needed",
                           &value[1], 64 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_noom_add_zone(cf, mcf, size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_noom_add_zone(ngx_conf_t *cf, ngx_http_noom_main_conf_t *mcf,
    size_t size)
{
    ngx_http_noom_main_conf_t  *old;

    mcf->zone = ngx_shared_memory_add(cf, &ngx_http_noom_zone_name, size,
                                      &ngx_http_noom_module);
    if (mcf->zone == NULL) {
        return NGX_ERROR;
    }

    /*
     * The zone goes on through reloads when its size stays the same
     * (ngx_noom_zone_init()); another size makes a new one, and the old
     * workers finish with theirs.
     */

    mcf->zone->init = ngx_noom_zone_init;
    mcf->zone->data = mcf;

    if (ngx_process != NGX_PROCESS_SINGLE
        || ngx_is_init_cycle(cf->cycle->old_cycle))
    {
        return NGX_OK;
    }

    /*
     * A reload with master_process off: the one process goes on with its
     * connections, which point into the zone, and no init_process runs
     * again.  It must keep its zone.
     */

    old = ngx_http_cycle_get_module_main_conf(cf->cycle->old_cycle,
                                              ngx_http_noom_module);

    if (old && old->zone && old->zone->shm.size != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the noom zone cannot change its size on a "
                           "reload with \"master_process off\", restart "
                           "nginx instead");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_noom_origins(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_loc_conf_t *lcf = conf;

    ngx_str_t   *value, *o;
    ngx_uint_t   i;

    if (lcf->origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && value[1].len == 1 && value[1].data[0] == '*')
    {
        lcf->origins = NULL;
        return NGX_CONF_OK;
    }

    lcf->origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                    sizeof(ngx_str_t));
    if (lcf->origins == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "http://", 7) != 0
            && ngx_strncmp(value[i].data, "https://", 8) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\" in \"%V\" directive, "
                               "it must be \"*\" or like "
                               "\"https://example.com\"", &value[i],
                               &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (value[i].data[value[i].len - 1] == '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\" in \"%V\" directive, "
                               "an origin has no path", &value[i],
                               &cmd->name);
            return NGX_CONF_ERROR;
        }

        o = ngx_array_push(lcf->origins);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        *o = value[i];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_noom_room_events(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    u_char       *p;
    ngx_str_t    *value, *e;
    ngx_uint_t    i;
    const char  **t;

    static const char  *taken[] = {
        "nickname", "enter_room", "join_room", "leave_room", "new_message",
        "list_rooms", "offer", "answer", "ice", "media_state",
        "ice_servers", "limits", "welcome", "bye",
        "room_change", "error", "connect", "connect_error", "disconnect",
        "disconnecting", "newListener", "removeListener", NULL
    };

    if (mcf->room_events == NULL) {
        mcf->room_events = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (mcf->room_events == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        for (p = value[i].data; p < value[i].data + value[i].len; p++) {
            if (!(*p == '_' || *p == '-' || *p == ':' || *p == '.'
                  || (*p >= '0' && *p <= '9')
                  || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid event name \"%V\" in \"%V\" "
                                   "directive", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }
        }

        for (t = taken; *t; t++) {
            if (ngx_strcmp(value[i].data, *t) == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "event name \"%V\" in \"%V\" directive "
                                   "is already an event of noom or "
                                   "Socket.IO", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }
        }

        e = ngx_array_push(mcf->room_events);
        if (e == NULL) {
            return NGX_CONF_ERROR;
        }

        *e = value[i];
    }

    return NGX_CONF_OK;
}


/* noom_admin on|off: the /admin namespace, and the registry it needs */

static char *
ngx_http_noom_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_loc_conf_t *lcf = conf;

    char                       *rv;
    ngx_http_noom_main_conf_t  *mcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK && lcf->admin) {
        mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_noom_module);
        mcf->admin = 1;
    }

    return rv;
}


/* noom_worker_queue <size> [wait=<time>] */

static char *
ngx_http_noom_worker_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    ssize_t     size;
    ngx_str_t  *value, s;
    ngx_msec_t  wait;

    if (mcf->queue_size != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid size \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    mcf->queue_size = size;

    if (cf->args->nelts == 3) {
        wait = (ngx_msec_t) NGX_ERROR;

        if (ngx_strncmp(value[2].data, "wait=", 5) == 0) {
            s.data = value[2].data + 5;
            s.len = value[2].len - 5;
            wait = ngx_parse_time(&s, 0);
        }

        if (wait == (ngx_msec_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\" "
                               "directive, it must be \"wait=<time>\"",
                               &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }

        mcf->queue_wait = wait;
    }

    return NGX_CONF_OK;
}


/*
 * noom_recovery <time> [log=<number>] [log_size=<size>]
 *               [sessions=<number>] | off
 */

static char *
ngx_http_noom_recovery(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    ssize_t      size;
    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_uint_t   i;
    ngx_msec_t   t;

    if (mcf->recovery != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes no parameters with \"off\"";
        }

        mcf->recovery = 0;
        return NGX_CONF_OK;
    }

    t = ngx_parse_time(&value[1], 0);

    if (t == (ngx_msec_t) NGX_ERROR || t == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid window \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    mcf->recovery = t;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "log=", 4) == 0) {
            n = ngx_atoi(value[i].data + 4, value[i].len - 4);

            if (n <= 0) {
                goto invalid;
            }

            mcf->recovery_log = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "log_size=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;
            size = ngx_parse_size(&s);

            if (size <= 0) {
                goto invalid;
            }

            mcf->recovery_log_size = size;
            continue;
        }

        if (ngx_strncmp(value[i].data, "sessions=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (n <= 0) {
                goto invalid;
            }

            mcf->recovery_sessions = n;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* noom_room_change_interval <time> [rate=<size>] */

static char *
ngx_http_noom_room_change(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    ssize_t     rate;
    ngx_str_t  *value, s;
    ngx_msec_t  interval;

    if (mcf->room_change_interval != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    interval = ngx_parse_time(&value[1], 0);

    if (interval == (ngx_msec_t) NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    mcf->room_change_interval = interval;

    if (cf->args->nelts == 3) {
        rate = NGX_ERROR;

        if (ngx_strncmp(value[2].data, "rate=", 5) == 0) {
            s.data = value[2].data + 5;
            s.len = value[2].len - 5;
            rate = ngx_parse_size(&s);
        }

        if (rate == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\" "
                               "directive, it must be \"rate=<size>\"",
                               &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }

        mcf->room_change_rate = rate;
    }

    return NGX_CONF_OK;
}


/* noom_event_rate <number> [burst=<number>] | off */

static char *
ngx_http_noom_event_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_loc_conf_t *lcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (lcf->rate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no burst when off";
        }

        lcf->rate = 0;
        lcf->burst = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n <= 0 || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\" in \"%V\" directive, it "
                           "must be a number of events a second or \"off\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    lcf->rate = n;
    lcf->burst = n;

    if (cf->args->nelts == 3) {
        n = -1;

        if (ngx_strncmp(value[2].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[2].data + 6, value[2].len - 6);
        }

        if (n <= 0 || n > 1000000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid burst \"%V\" in \"%V\" directive",
                               &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }

        lcf->burst = n;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_noom_positive(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    if (*sp == 0) {
        return "must be greater than zero";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_noom_positive_msec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *mp = data;

    if (*mp == 0) {
        return "must be greater than zero";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_noom_positive_sec(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *tp = data;

    if (*tp <= 0) {
        return "must be greater than zero";
    }

    return NGX_CONF_OK;
}


/* TURN without a secret gives browsers a relay they cannot log into */

static void
ngx_http_noom_turn_warn(ngx_conf_t *cf, ngx_http_noom_main_conf_t *mcf)
{
    ngx_uint_t              i;
    ngx_noom_ice_server_t  *s;

    s = mcf->ice_servers->elts;

    for (i = 0; i < mcf->ice_servers->nelts; i++) {
        if (s[i].turn) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "a TURN server in \"noom_ice_server\" "
                               "without \"noom_turn_secret\": browsers "
                               "get no credentials for it");
            return;
        }
    }
}


#if (NGX_NOOM_HOOKS)

ngx_int_t
ngx_noom_hook(const char *point, u_char *arg, size_t len)
{
    size_t   n;
    u_char  *v;

    v = (u_char *) getenv("NOOM_HOOK");
    if (v == NULL) {
        return 0;
    }

    n = ngx_strlen(point);

    return ngx_strlen(v) == n + 1 + len
           && ngx_strncmp(v, point, n) == 0
           && v[n] == ':'
           && ngx_strncmp(v + n + 1, arg, len) == 0;
}

#endif
