
/*
 * Copyright (C) noom authors
 *
 * Socket.IO v5 sessions: namespaces, CONNECT and its timeout, EVENT and ACK
 * with or without binary attachments, and the encoder every outgoing event
 * goes through.  A packet the reference parser would refuse closes the
 * whole connection, as the reference server does; a namespace noom does not
 * serve is refused with CONNECT_ERROR and the connection is kept.
 */


#include "ngx_noom.h"


#define NGX_NOOM_RECOVER_STEP   30      /* ms, doubled each time */
#define NGX_NOOM_RECOVER_TRIES  6       /* 30 + 60 + ... + 960 ms */

/* "4", the type, attachments, a namespace of up to 63 bytes, an ack id */
#define NGX_NOOM_SIO_PREFIX     (2 + NGX_INT64_LEN + 1 + 64 + NGX_INT64_LEN)


static ngx_int_t ngx_noom_sio_nsp(ngx_noom_ctx_t *ctx, ngx_str_t *name);
static void ngx_noom_sio_connect(ngx_noom_ctx_t *ctx,
    ngx_noom_sio_packet_t *pkt, ngx_int_t i);
static void ngx_noom_sio_connect_app(ngx_noom_ctx_t *ctx, json_t *auth);
static json_t *ngx_noom_sio_args(ngx_noom_ctx_t *ctx,
    ngx_noom_sio_packet_t *pkt);
static void ngx_noom_sio_dispatch(ngx_noom_ctx_t *ctx, ngx_uint_t nsp,
    json_t *args, ngx_noom_sio_packet_t *pkt, ngx_noom_bin_t *bin);
static void ngx_noom_sio_test_event(ngx_noom_ctx_t *ctx, ngx_uint_t nsp,
    json_t *args, int64_t ack, ngx_noom_bin_t *bin);
static void ngx_noom_sio_free_bin(ngx_noom_ctx_t *ctx);
static void ngx_noom_sio_invalid(ngx_noom_ctx_t *ctx, const char *why);
static ngx_int_t ngx_noom_sio_grow_scratch(size_t size);
static u_char *ngx_noom_sio_prefix(u_char *p, ngx_uint_t type,
    ngx_uint_t natt, ngx_str_t *nsp, int64_t ack);
static u_char *ngx_noom_sio_offset_slot(ngx_noom_msg_t *m, u_char *p);
static void ngx_noom_sio_long_nsp(ngx_noom_ctx_t *ctx, ngx_str_t *nsp);


/* "/admin" only where noom_admin is on */
static ngx_str_t  ngx_noom_sio_app_nsps[] = {
    ngx_string("/"),
    ngx_string("/admin"),
    ngx_null_string
};

static ngx_str_t  ngx_noom_sio_test_nsps[] = {
    ngx_string("/"),
    ngx_string("/custom"),
    ngx_null_string
};

static u_char  *ngx_noom_sio_scratch;
static size_t   ngx_noom_sio_scratch_size;

static const char  *ngx_noom_sio_reserved[] = {
    "connect", "connect_error", "disconnect", "disconnecting",
    "newListener", "removeListener", NULL
};


void
ngx_noom_sio_timeout(ngx_noom_ctx_t *ctx)
{
    ngx_uint_t  i;

    if (ctx->recovering) {
        ngx_noom_sio_connect_app(ctx, ctx->recovering);
        return;
    }

    for (i = 0; i < NGX_NOOM_NSP_MAX; i++) {
        if (ctx->nsp[i].connected) {
            return;
        }
    }

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: no namespace joined within %M ms, closing",
                  ctx->conf->connect_timeout);

    ngx_noom_close(ctx, NGX_NOOM_END_POLICY, "connect timeout");
    ctx->close_now = 1;
}


void
ngx_noom_sio_text(ngx_noom_ctx_t *ctx, u_char *p, size_t len)
{
    json_t                 *args;
    ngx_int_t               i;
    ngx_noom_bin_t         *bin;
    ngx_noom_sio_packet_t   pkt;

    if (ctx->bin || ctx->skip_att) {
        ngx_noom_sio_invalid(ctx, "text packet while attachments are due");
        return;
    }

    if (ngx_noom_sio_parse(p, len, &pkt) != NGX_OK) {
        ngx_noom_sio_invalid(ctx, "invalid Socket.IO packet");
        return;
    }

    i = ngx_noom_sio_nsp(ctx, &pkt.nsp);

    if (pkt.type == NGX_NOOM_SIO_CONNECT) {
        ngx_noom_sio_connect(ctx, &pkt, i);
        return;
    }

    if (ctx->kind == NGX_NOOM_KIND_SIO && ngx_noom_rate(ctx) != NGX_OK) {

        /* an ack is answered every time, the rest once a series */

        if (!ctx->close_sent
            && (pkt.ack != NGX_NOOM_SIO_NO_ACK || ctx->dropped == 1))
        {
            ngx_noom_app_rate_limited(ctx, pkt.ack);
        }

        /* a dropped binary packet's attachments go with it */
        ctx->skip_att = ngx_min(pkt.attachments, NGX_NOOM_MAX_ATTACHMENTS);

        return;
    }

    if (i == NGX_ERROR || !ctx->nsp[i].connected) {
        ngx_noom_sio_invalid(ctx, "packet for a namespace not joined");
        return;
    }

    switch (pkt.type) {

    case NGX_NOOM_SIO_DISCONNECT:

        if (pkt.len || pkt.ack != NGX_NOOM_SIO_NO_ACK) {
            ngx_noom_sio_invalid(ctx, "invalid DISCONNECT");
            return;
        }

        ctx->nsp[i].connected = 0;

        if (ctx->kind == NGX_NOOM_KIND_SIO) {
            ctx->reason = "client namespace disconnect";

            if (i == NGX_NOOM_NSP_APP) {
                ngx_noom_app_disconnect(ctx);

            } else {
                ngx_noom_admin_disconnect(ctx);
            }
        }

        return;

    case NGX_NOOM_SIO_EVENT:
    case NGX_NOOM_SIO_BINARY_EVENT:
    case NGX_NOOM_SIO_ACK:
    case NGX_NOOM_SIO_BINARY_ACK:
        break;

    default:
        ngx_noom_sio_invalid(ctx, "unexpected Socket.IO packet type");
        return;
    }

    if (pkt.type == NGX_NOOM_SIO_EVENT
        && i == NGX_NOOM_NSP_APP
        && ctx->kind == NGX_NOOM_KIND_SIO
        && ngx_noom_app_fast(ctx, &pkt) == NGX_OK)
    {
        return;
    }

    args = ngx_noom_sio_args(ctx, &pkt);
    if (args == NULL) {
        return;
    }

    if (pkt.type == NGX_NOOM_SIO_EVENT || pkt.type == NGX_NOOM_SIO_ACK) {
        ngx_noom_sio_dispatch(ctx, i, args, &pkt, NULL);
        json_decref(args);
        return;
    }

    if (pkt.attachments == 0
        || pkt.attachments > NGX_NOOM_MAX_ATTACHMENTS)
    {
        json_decref(args);
        ngx_noom_sio_invalid(ctx, "invalid number of attachments");
        return;
    }

    bin = ngx_calloc(sizeof(ngx_noom_bin_t), ctx->log);
    if (bin == NULL) {
        json_decref(args);
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    bin->pkt = pkt;
    bin->nsp = i;
    bin->args = args;
    ctx->bin = bin;
}


void
ngx_noom_sio_binary(ngx_noom_ctx_t *ctx, u_char *p, size_t len)
{
    u_char          *copy;
    ngx_noom_bin_t  *bin;

    bin = ctx->bin;

    if (bin == NULL && ctx->skip_att) {
        ctx->skip_att--;
        return;
    }

    if (bin == NULL) {
        ngx_noom_sio_invalid(ctx, "binary message without a binary packet");
        return;
    }

    if (bin->total + len > ctx->conf->max_payload) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: attachments larger than %uz bytes, "
                      "closing with 1009", ctx->conf->max_payload);
        ngx_noom_stat(protocol_closes, 1);
        ngx_noom_close(ctx, NGX_NOOM_END_TOO_BIG, "attachments too large");
        return;
    }

    copy = ngx_alloc(len ? len : 1, ctx->log);
    if (copy == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    ngx_memcpy(copy, p, len);

    bin->att[bin->have].data = copy;
    bin->att[bin->have].len = len;
    bin->have++;
    bin->total += len;

    if (bin->have < bin->pkt.attachments) {
        return;
    }

    ngx_noom_sio_dispatch(ctx, bin->nsp, bin->args, &bin->pkt, bin);
    ngx_noom_sio_free_bin(ctx);
}


static void
ngx_noom_sio_dispatch(ngx_noom_ctx_t *ctx, ngx_uint_t nsp, json_t *args,
    ngx_noom_sio_packet_t *pkt, ngx_noom_bin_t *bin)
{
    if (pkt->type == NGX_NOOM_SIO_ACK
        || pkt->type == NGX_NOOM_SIO_BINARY_ACK)
    {
        /* noom asks clients for no acks: nothing waits for this one */
        return;
    }

    ngx_noom_worker_stat(events_in);

    if (ctx->kind == NGX_NOOM_KIND_SIO_TEST) {
        ngx_noom_sio_test_event(ctx, nsp, args, pkt->ack, bin);
        return;
    }

    if (nsp == NGX_NOOM_NSP_APP) {
        ngx_noom_app_event(ctx, args, pkt->ack, bin);

    } else if (bin == NULL) {
        ngx_noom_admin_event(ctx, args);
    }
}


static void
ngx_noom_sio_connect(ngx_noom_ctx_t *ctx, ngx_noom_sio_packet_t *pkt,
    ngx_int_t i)
{
    json_t          *auth, *data;
    json_error_t     err;
    ngx_noom_msg_t  *m;

    auth = NULL;

    if (pkt->len) {
        auth = ngx_noom_json_load(ctx, pkt->data, pkt->len, &err);

        if (auth == NULL || !json_is_object(auth)) {
            json_decref(auth);
            ngx_noom_sio_invalid(ctx, "CONNECT payload is not an object");
            return;
        }
    }

    if (pkt->ack != NGX_NOOM_SIO_NO_ACK) {
        json_decref(auth);
        ngx_noom_sio_invalid(ctx, "CONNECT with an ack id");
        return;
    }

    if (i == NGX_ERROR && pkt->nsp.len >= 64) {
        json_decref(auth);
        ngx_noom_sio_long_nsp(ctx, &pkt->nsp);
        return;
    }

    if (i == NGX_ERROR) {
        json_decref(auth);

        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: namespace \"%V\" is not served", &pkt->nsp);

        data = json_pack("{ss}", "message", "Invalid namespace");
        if (data == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        m = ngx_noom_sio_encode(NGX_NOOM_SIO_CONNECT_ERROR, &pkt->nsp,
                                NGX_NOOM_SIO_NO_ACK, data, NULL);
        json_decref(data);

        if (m == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        ngx_noom_send(ctx, m);
        ngx_noom_msg_release(m);
        return;
    }

    if (ctx->nsp[i].connected
        || (i == NGX_NOOM_NSP_ADMIN && ctx->auth)
        || (i == NGX_NOOM_NSP_APP && ctx->recovering))
    {
        json_decref(auth);
        ngx_noom_sio_invalid(ctx, "second CONNECT to a namespace");
        return;
    }

    if (ngx_noom_random_id(ctx->nsp[i].id) != NGX_OK) {
        json_decref(auth);
        ngx_noom_abort(ctx, "no random id");
        return;
    }

    if (ctx->kind == NGX_NOOM_KIND_SIO_TEST) {
        ngx_noom_sio_accept(ctx, i);

        data = json_pack("[so]", "auth", auth ? auth : json_object());
        if (data == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        ngx_noom_sio_emit(ctx, i, data);
        json_decref(data);
        return;
    }

    if (i == NGX_NOOM_NSP_ADMIN) {
        /* the CONNECT reply waits for the credentials to be checked */
        ngx_noom_admin_connect(ctx, auth);
        json_decref(auth);
        return;
    }

    ngx_noom_sio_connect_app(ctx, auth);
}


/*
 * A CONNECT to "/", which owns a reference to auth.  With noom_recovery a
 * pid still attached to a socket is looked up again after 30 ms, 60 ms and
 * so on, NGX_NOOM_RECOVER_TRIES times, about 2 s in all (the connect
 * deadline's timer does it; a count of tries, not a clock, so that a
 * loaded worker does not give up after fewer), before a new socket
 * starts: the socket it names is most often one its client has just
 * closed, on a worker that has not read the close yet.  Socket.IO's own
 * server would start a new socket at once, but it reads the close first,
 * being one process.
 */

static void
ngx_noom_sio_connect_app(ngx_noom_ctx_t *ctx, json_t *auth)
{
    ngx_int_t                   rc;
    ngx_uint_t                  wait;
    ngx_http_noom_main_conf_t  *mcf;

    rc = NGX_OK;

    if (ngx_noom_recovery && ctx->kind == NGX_NOOM_KIND_SIO) {
        wait = (ctx->recover_tries < NGX_NOOM_RECOVER_TRIES);
        rc = ngx_noom_recovery_connect(ctx, auth, wait);
    }

    if (rc == NGX_AGAIN) {

        if (ctx->recover_tries == 0) {
            ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                          "noom: the pid of a connected socket, waiting "
                          "about 2 s for it to go");

            ngx_noom_stat(recovery_waits, 1);
        }

        ctx->recovering = auth;

        if (ctx->timer.timer_set) {
            ngx_del_timer(&ctx->timer);
        }

        ngx_add_timer(&ctx->timer,
                      (ngx_msec_t) NGX_NOOM_RECOVER_STEP
                      << ctx->recover_tries++);
        return;
    }

    ctx->recovering = NULL;
    json_decref(auth);

    if (rc == NGX_ERROR) {
        ngx_noom_recovery_undo(ctx);
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    mcf = ctx->mcf;

    if (mcf->admin
        && ngx_noom_admin_register(ctx, NGX_NOOM_NSP_APP) != NGX_OK)
    {
        ngx_noom_recovery_undo(ctx);
        ngx_noom_sio_refuse(ctx, NGX_NOOM_NSP_APP, "server busy");
        return;
    }

    ngx_noom_sio_accept(ctx, NGX_NOOM_NSP_APP);

    if (!ctx->nsp[NGX_NOOM_NSP_APP].connected) {
        return;
    }

    if (rc == NGX_DONE) {
        /* back in its room, as far as this worker and the panel know */

        if (ctx->member && ctx->asock[NGX_NOOM_NSP_APP]) {
            ngx_noom_admin_room(ctx, ctx->member->room->name,
                                ctx->member->room->len, 1);
        }

        ngx_noom_recovery_replay(ctx);
    }

    ngx_noom_app_connect(ctx);
}


/* CONNECT answered with the socket id made for it */

void
ngx_noom_sio_accept(ngx_noom_ctx_t *ctx, ngx_uint_t i)
{
    json_t          *data;
    ngx_noom_msg_t  *m;

    ctx->nsp[i].connected = 1;

    if (ctx->timer.timer_set && !ctx->close_sent) {
        ngx_del_timer(&ctx->timer);
    }

    if (i == NGX_NOOM_NSP_APP && ctx->sess) {
        /* the private id that brings the socket back */
        data = json_pack("{ss#ss#}", "sid", ctx->nsp[i].id,
                         (int) NGX_NOOM_ID_LEN, "pid", ctx->sess->pid,
                         (int) NGX_NOOM_ID_LEN);

    } else {
        data = json_pack("{ss#}", "sid", ctx->nsp[i].id,
                         (int) NGX_NOOM_ID_LEN);
    }

    if (data == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_SIO_CONNECT, ngx_noom_sio_nsp_name(ctx, i),
                            NGX_NOOM_SIO_NO_ACK, data, NULL);
    json_decref(data);

    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    ngx_noom_send(ctx, m);
    ngx_noom_msg_release(m);
}


/* CONNECT_ERROR: the connection stays, the namespace is not joined */

void
ngx_noom_sio_refuse(ngx_noom_ctx_t *ctx, ngx_uint_t i, const char *message)
{
    json_t          *data;
    ngx_noom_msg_t  *m;

    data = json_pack("{ss}", "message", message);
    if (data == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_SIO_CONNECT_ERROR,
                            ngx_noom_sio_nsp_name(ctx, i),
                            NGX_NOOM_SIO_NO_ACK, data, NULL);
    json_decref(data);

    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    ngx_noom_send(ctx, m);
    ngx_noom_msg_release(m);
}


/* the JSON of an EVENT or an ACK, checked as the reference parser does */

static json_t *
ngx_noom_sio_args(ngx_noom_ctx_t *ctx, ngx_noom_sio_packet_t *pkt)
{
    json_t        *args, *name;
    const char    *s, **r;
    json_error_t   err;

    args = ngx_noom_json_load(ctx, pkt->data, pkt->len, &err);

    if (args == NULL || !json_is_array(args)) {
        json_decref(args);
        ngx_noom_sio_invalid(ctx, "payload is not a JSON array");
        return NULL;
    }

    if (pkt->type == NGX_NOOM_SIO_ACK || pkt->type == NGX_NOOM_SIO_BINARY_ACK)
    {
        if (pkt->ack == NGX_NOOM_SIO_NO_ACK) {
            json_decref(args);
            ngx_noom_sio_invalid(ctx, "ACK without an id");
            return NULL;
        }

        return args;
    }

    name = json_array_get(args, 0);

    if (json_is_string(name)) {
        s = json_string_value(name);

        for (r = ngx_noom_sio_reserved; *r; r++) {
            if (ngx_strcmp(s, *r) == 0) {
                json_decref(args);
                ngx_noom_sio_invalid(ctx, "reserved event name");
                return NULL;
            }
        }

    } else if (!json_is_number(name)) {
        json_decref(args);
        ngx_noom_sio_invalid(ctx, "event without a name");
        return NULL;
    }

    return args;
}


/* the reference servers of the Engine.IO and Socket.IO test suites */

static void
ngx_noom_sio_test_event(ngx_noom_ctx_t *ctx, ngx_uint_t nsp, json_t *args,
    int64_t ack, ngx_noom_bin_t *bin)
{
    const char      *name;
    ngx_noom_msg_t  *m;

    name = json_string_value(json_array_get(args, 0));

    if (nsp != 0 || name == NULL) {
        return;
    }

    if (ngx_strcmp(name, "message") == 0) {

        if (json_array_set_new(args, 0, json_string("message-back")) != 0) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        m = ngx_noom_sio_encode(NGX_NOOM_SIO_EVENT,
                                ngx_noom_sio_nsp_name(ctx, 0),
                                NGX_NOOM_SIO_NO_ACK, args, bin);

    } else if (ngx_strcmp(name, "message-with-ack") == 0
               && ack != NGX_NOOM_SIO_NO_ACK)
    {
        if (json_array_remove(args, 0) != 0) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        m = ngx_noom_sio_encode(NGX_NOOM_SIO_ACK, ngx_noom_sio_nsp_name(ctx, 0),
                                ack, args, bin);

    } else {
        return;
    }

    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    ngx_noom_send(ctx, m);
    ngx_noom_msg_release(m);
}


void
ngx_noom_sio_emit(ngx_noom_ctx_t *ctx, ngx_uint_t nsp, json_t *args)
{
    ngx_uint_t       type;
    ngx_noom_msg_t  *m;

    /* a recoverable socket's event says how far the socket has got */

    type = NGX_NOOM_SIO_EVENT;

    if (ctx->sess && nsp == NGX_NOOM_NSP_APP) {
        type |= NGX_NOOM_SIO_OFFSET;
    }

    m = ngx_noom_sio_encode(type, ngx_noom_sio_nsp_name(ctx, nsp),
                            NGX_NOOM_SIO_NO_ACK, args, NULL);
    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    if (m->offset) {
        (void) ngx_noom_sio_offset(m->offset, ctx->last_seq);
    }

    ngx_noom_send(ctx, m);
    ngx_noom_msg_release(m);
}


void
ngx_noom_sio_ack(ngx_noom_ctx_t *ctx, ngx_uint_t nsp, int64_t ack,
    json_t *args)
{
    u_char          *p, frame[2 + NGX_NOOM_SIO_PREFIX + 2];
    ngx_str_t       *name;
    ngx_noom_msg_t  *m;

    if (ack == NGX_NOOM_SIO_NO_ACK) {
        return;
    }

    name = ngx_noom_sio_nsp_name(ctx, nsp);

    /* an ACK always carries an array, "[]" when there is nothing to say */

    if (args == NULL) {
        /* a frame shorter than 126 bytes: its header is 2 */

        p = ngx_noom_sio_prefix(frame + 2, NGX_NOOM_SIO_ACK, 0, name, ack);
        *p++ = '[';
        *p++ = ']';

        (void) ngx_noom_ws_header(frame, NGX_NOOM_WS_TEXT, p - frame - 2);

        ngx_noom_send_frame(ctx, frame, p - frame);
        return;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_SIO_ACK, name, ack, args, NULL);

    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    ngx_noom_send(ctx, m);
    ngx_noom_msg_release(m);
}


static ngx_int_t
ngx_noom_sio_grow_scratch(size_t size)
{
    u_char  *p;

    size = ngx_max(ngx_align(size, 4096), 2 * ngx_noom_sio_scratch_size);

    p = ngx_alloc(size, ngx_cycle->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (ngx_noom_sio_scratch) {
        ngx_free(ngx_noom_sio_scratch);
    }

    ngx_noom_sio_scratch = p;
    ngx_noom_sio_scratch_size = size;

    return NGX_OK;
}


void
ngx_noom_sio_exit(void)
{
    if (ngx_noom_sio_scratch) {
        ngx_free(ngx_noom_sio_scratch);
        ngx_noom_sio_scratch = NULL;
        ngx_noom_sio_scratch_size = 0;
    }
}


/* the worker's scratch buffer, at least size bytes of it */

u_char *
ngx_noom_sio_scratch_get(size_t size)
{
    if (size > ngx_noom_sio_scratch_size
        && ngx_noom_sio_grow_scratch(size) != NGX_OK)
    {
        return NULL;
    }

    return ngx_noom_sio_scratch;
}


/* an offset as it goes on the wire: always 16 hex digits */

u_char *
ngx_noom_sio_offset(u_char *p, uint64_t seq)
{
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789abcdef";

    for (i = 16; i; i--) {
        p[i - 1] = hex[seq & 0xf];
        seq >>= 4;
    }

    return p + 16;
}


/* a packet whose JSON is data, dumped once into the scratch buffer */

ngx_noom_msg_t *
ngx_noom_sio_encode(ngx_uint_t type, ngx_str_t *nsp, int64_t ack,
    json_t *data, ngx_noom_bin_t *bin)
{
    size_t  json;

    json = json_dumpb(data, (char *) ngx_noom_sio_scratch,
                      ngx_noom_sio_scratch_size, JSON_COMPACT);

    if (json == 0) {
        return NULL;
    }

    if (json > ngx_noom_sio_scratch_size) {
        if (ngx_noom_sio_scratch_get(json) == NULL) {
            return NULL;
        }

        (void) json_dumpb(data, (char *) ngx_noom_sio_scratch,
                          ngx_noom_sio_scratch_size, JSON_COMPACT);
    }

    return ngx_noom_sio_message(type, nsp, ack, ngx_noom_sio_scratch, json,
                                bin);
}


/* "4<type>[<n>-][<nsp>,][<ack>]": at most NGX_NOOM_SIO_PREFIX bytes */

static u_char *
ngx_noom_sio_prefix(u_char *p, ngx_uint_t type, ngx_uint_t natt,
    ngx_str_t *nsp, int64_t ack)
{
    *p++ = '4';
    *p++ = (u_char) ('0' + type);

    if (natt) {
        p = ngx_noom_sio_decimal(p, natt);
        *p++ = '-';
    }

    if (nsp->len > 1 && nsp->len < 64) {
        p = ngx_cpymem(p, nsp->data, nsp->len);
        *p++ = ',';
    }

    if (ack != NGX_NOOM_SIO_NO_ACK) {
        p = ngx_noom_sio_decimal(p, (uint64_t) ack);
    }

    return p;
}


/*
 * One text frame "4<type>[<n>-][<nsp>,][<ack>]<json>", then a binary frame
 * per attachment, all in one message, so a relay carries them together.
 */

ngx_noom_msg_t *
ngx_noom_sio_message(ngx_uint_t type, ngx_str_t *nsp, int64_t ack,
    u_char *json, size_t len, ngx_noom_bin_t *bin)
{
    u_char          *p, prefix[NGX_NOOM_SIO_PREFIX];
    size_t           plen, total, text, olen;
    ngx_uint_t       i, natt;
    ngx_noom_msg_t  *m;

    natt = bin ? bin->pkt.attachments : 0;

    /* an event with room for its offset: the array gets a last string */

    olen = 0;

    if (type & NGX_NOOM_SIO_OFFSET) {
        type &= ~NGX_NOOM_SIO_OFFSET;

        if (len > 2 && json[len - 1] == ']') {
            len--;
            olen = NGX_NOOM_OFFSET_LEN_MAX + 1;
        }
    }

    if (natt) {
        type = (type == NGX_NOOM_SIO_ACK) ? NGX_NOOM_SIO_BINARY_ACK
                                          : NGX_NOOM_SIO_BINARY_EVENT;
    }

    plen = ngx_noom_sio_prefix(prefix, type, natt, nsp, ack) - prefix;
    text = plen + len + olen;
    total = NGX_NOOM_WS_MAX_HEADER + text;

    for (i = 0; i < natt; i++) {
        total += NGX_NOOM_WS_MAX_HEADER + bin->att[i].len;
    }

    m = ngx_noom_msg_alloc(total, ngx_cycle->log);
    if (m == NULL) {
        return NULL;
    }

    p = m->data + ngx_noom_ws_header(m->data, NGX_NOOM_WS_TEXT, text);
    p = ngx_cpymem(p, prefix, plen);
    p = ngx_cpymem(p, json, len);

    if (olen) {
        p = ngx_noom_sio_offset_slot(m, p);
    }

    for (i = 0; i < natt; i++) {
        p += ngx_noom_ws_header(p, NGX_NOOM_WS_BINARY, bin->att[i].len);
        p = ngx_cpymem(p, bin->att[i].data, bin->att[i].len);
    }

    m->len = p - m->data;

    return m;
}


/*
 * An app event whose JSON array the caller writes in place, up to size
 * bytes at *json, instead of into the scratch buffer to be copied; then
 * ngx_noom_sio_event_end() with where the array ends.
 */

ngx_noom_msg_t *
ngx_noom_sio_event_start(size_t size, u_char **json)
{
    ngx_noom_msg_t  *m;

    m = ngx_noom_msg_alloc(NGX_NOOM_WS_MAX_HEADER + 2 + size
                           + NGX_NOOM_OFFSET_LEN_MAX, ngx_cycle->log);
    if (m == NULL) {
        return NULL;
    }

    *json = m->data + NGX_NOOM_WS_MAX_HEADER + 2;

    return m;
}


/* "42" and the frame's header in front, the offset's place at the end */

void
ngx_noom_sio_event_end(ngx_noom_msg_t *m, u_char *last)
{
    u_char  *json;
    size_t   text;

    json = m->data + NGX_NOOM_WS_MAX_HEADER + 2;

    if (ngx_noom_recovery && last - json > 2 && last[-1] == ']') {
        last = ngx_noom_sio_offset_slot(m, last - 1);
    }

    json[-2] = '4';
    json[-1] = (u_char) ('0' + NGX_NOOM_SIO_EVENT);

    text = last - json + 2;

    m->pos = json - 2 - NGX_NOOM_WS_HEADER_LEN(text);
    m->len = ngx_noom_ws_header(m->pos, NGX_NOOM_WS_TEXT, text) + text;
}


/* an array's end with its last string the offset's 16 digits, 0 for now */

static u_char *
ngx_noom_sio_offset_slot(ngx_noom_msg_t *m, u_char *p)
{
    *p++ = ',';
    *p++ = '"';
    m->offset = p;
    p = ngx_noom_sio_offset(p, 0);
    *p++ = '"';
    *p++ = ']';

    return p;
}


void
ngx_noom_sio_cleanup(ngx_noom_ctx_t *ctx)
{
    if (ctx->recovering) {
        json_decref(ctx->recovering);
        ctx->recovering = NULL;
    }

    if (ctx->kind == NGX_NOOM_KIND_SIO) {
        if (ctx->nsp[NGX_NOOM_NSP_APP].connected) {
            ctx->nsp[NGX_NOOM_NSP_APP].connected = 0;
            ngx_noom_app_end(ctx);
        }

        ngx_noom_admin_cleanup(ctx);
    }

    ngx_noom_sio_free_bin(ctx);
}


static void
ngx_noom_sio_free_bin(ngx_noom_ctx_t *ctx)
{
    ngx_uint_t       i;
    ngx_noom_bin_t  *bin;

    bin = ctx->bin;

    if (bin == NULL) {
        return;
    }

    for (i = 0; i < bin->have; i++) {
        ngx_free(bin->att[i].data);
    }

    json_decref(bin->args);
    ngx_free(bin);

    ctx->bin = NULL;
}


static ngx_int_t
ngx_noom_sio_nsp(ngx_noom_ctx_t *ctx, ngx_str_t *name)
{
    ngx_str_t   *n;
    ngx_uint_t   i, max;

    if (ctx->kind == NGX_NOOM_KIND_SIO_TEST) {
        n = ngx_noom_sio_test_nsps;
        max = NGX_NOOM_NSP_MAX;

    } else {
        n = ngx_noom_sio_app_nsps;
        max = ctx->conf->admin ? NGX_NOOM_NSP_MAX : 1;
    }

    for (i = 0; i < max && n[i].len; i++) {
        if (n[i].len == name->len
            && ngx_strncmp(n[i].data, name->data, name->len) == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


ngx_str_t *
ngx_noom_sio_nsp_name(ngx_noom_ctx_t *ctx, ngx_uint_t i)
{
    return (ctx->kind == NGX_NOOM_KIND_SIO_TEST) ? &ngx_noom_sio_test_nsps[i]
                                                 : &ngx_noom_sio_app_nsps[i];
}


static void
ngx_noom_sio_invalid(ngx_noom_ctx_t *ctx, const char *why)
{
    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: %s, closing with 1008", why);

    ngx_noom_stat(protocol_closes, 1);
    ngx_noom_close(ctx, NGX_NOOM_END_POLICY, why);
}


/*
 * The CONNECT_ERROR of a namespace too long for the encoder's prefix: the
 * client must see which CONNECT failed, so its namespace is echoed whole
 * (it came in a message within noom_max_payload, so the answer fits
 * noom_send_buffer).
 */

static void
ngx_noom_sio_long_nsp(ngx_noom_ctx_t *ctx, ngx_str_t *nsp)
{
    u_char          *p;
    ngx_noom_msg_t  *m;

    static u_char  error[] = ",{\"message\":\"Invalid namespace\"}";

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: a namespace of %uz bytes is not served", nsp->len);

    m = ngx_noom_msg_frame(NGX_NOOM_WS_TEXT,
                           2 + nsp->len + sizeof(error) - 1, &p);
    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    *p++ = NGX_NOOM_EIO_MESSAGE;
    *p++ = '0' + NGX_NOOM_SIO_CONNECT_ERROR;
    p = ngx_cpymem(p, nsp->data, nsp->len);
    ngx_memcpy(p, error, sizeof(error) - 1);

    ngx_noom_send(ctx, m);
    ngx_noom_msg_release(m);
}
