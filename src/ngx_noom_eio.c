
/*
 * Copyright (C) noom authors
 *
 * Engine.IO v4: the open packet and the packet types, whatever the
 * transport.  One Engine.IO packet per WebSocket message (or per record of
 * a polling payload, see ngx_noom_poll.c); a binary message is a message
 * packet carrying bytes.
 */


#include "ngx_noom.h"


void
ngx_noom_eio_open(ngx_noom_ctx_t *ctx)
{
    u_char                     buf[256], *p;
    ngx_http_noom_loc_conf_t  *lcf;

    lcf = ctx->conf;

    /* a polling session is opened, a WebSocket one cannot be upgraded */

    if (ctx->connection == NULL) {
        p = ngx_snprintf(buf, sizeof(buf),
                         "0{\"sid\":\"%*s\",\"upgrades\":[\"websocket\"],"
                         "\"pingInterval\":%M,\"pingTimeout\":%M,"
                         "\"maxPayload\":%uz}",
                         (size_t) NGX_NOOM_ID_LEN, ctx->eio_sid,
                         lcf->ping_interval, lcf->ping_timeout,
                         ngx_noom_poll_max_payload(lcf));

    } else {
        if (ngx_noom_random_id(ctx->eio_sid) != NGX_OK) {
            ngx_noom_abort(ctx, "no random id");
            return;
        }

        p = ngx_snprintf(buf, sizeof(buf),
                         "0{\"sid\":\"%*s\",\"upgrades\":[],"
                         "\"pingInterval\":%M,\"pingTimeout\":%M,"
                         "\"maxPayload\":%uz}",
                         (size_t) NGX_NOOM_ID_LEN, ctx->eio_sid,
                         lcf->ping_interval, lcf->ping_timeout,
                         lcf->max_payload);
    }

    if (ngx_noom_send_text(ctx, buf, p - buf) != NGX_OK) {
        return;
    }

    ngx_noom_heartbeat(ctx, lcf->ping_interval);

    if (ctx->kind != NGX_NOOM_KIND_EIO_ECHO) {
        ngx_add_timer(&ctx->timer, lcf->connect_timeout);
    }
}


void
ngx_noom_eio_ping(ngx_noom_ctx_t *ctx)
{
    (void) ngx_noom_send_text(ctx, (u_char *) "2", 1);
}


void
ngx_noom_eio_message(ngx_noom_ctx_t *ctx, ngx_uint_t opcode, u_char *p,
    size_t len)
{
    u_char          *payload;
    ngx_noom_msg_t  *m;

    if (opcode == NGX_NOOM_WS_BINARY) {

        if (ctx->kind != NGX_NOOM_KIND_EIO_ECHO) {
            ngx_noom_sio_binary(ctx, p, len);
            return;
        }

        m = ngx_noom_msg_frame(NGX_NOOM_WS_BINARY, len, &payload);
        if (m == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        ngx_memcpy(payload, p, len);
        ngx_noom_send(ctx, m);
        ngx_noom_msg_release(m);
        return;
    }

    if (len == 0) {
        goto invalid;
    }

    switch (p[0]) {

    case NGX_NOOM_EIO_MESSAGE:

        if (ctx->kind == NGX_NOOM_KIND_EIO_ECHO) {

            if (ngx_noom_hook("busy", p + 1, len - 1)) {
                /* a test holds the worker away from its events */
                ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                              "noom: test hook: busy for 3 s");
                ngx_msleep(3000);
            }

            (void) ngx_noom_send_text(ctx, p, len);
            return;
        }

        ngx_noom_sio_text(ctx, p + 1, len - 1);
        return;

    case NGX_NOOM_EIO_PONG:

        if (len == 1 && ctx->pong_wait) {
            ngx_noom_heartbeat(ctx, ctx->conf->ping_interval);
        }

        return;

    case NGX_NOOM_EIO_CLOSE:

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "noom: engine.io close packet");

        ngx_noom_close(ctx, NGX_NOOM_END_NORMAL, NULL);
        ctx->close_now = 1;
        return;

    case NGX_NOOM_EIO_NOOP:
        return;

    case NGX_NOOM_EIO_PING:
        /* Engine.IO v4: the server pings, never the client */
    default:
        break;
    }

invalid:

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: invalid Engine.IO packet, closing with 1008");

    ngx_noom_stat(protocol_closes, 1);
    ngx_noom_close(ctx, NGX_NOOM_END_POLICY, "invalid Engine.IO packet");
}
