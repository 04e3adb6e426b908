
/*
 * Copyright (C) noom authors
 *
 * The Noom event set, with the names and argument orders of the Node.js
 * app it replaces, and the tutorial's first phase: a plain WebSocket lobby
 * speaking {"type","payload"} JSON.  Every refusal is an error ack when the
 * client asked for an ack, an "error" event otherwise.
 */


#include "ngx_noom.h"


typedef void (*ngx_noom_app_handler_pt)(ngx_noom_ctx_t *ctx, json_t *args,
    int64_t ack, ngx_noom_bin_t *bin, const char *name);


typedef struct {
    const char                *name;
    ngx_noom_app_handler_pt    handler;
} ngx_noom_app_event_t;


static void ngx_noom_app_nickname(ngx_noom_ctx_t *ctx, json_t *args,
    int64_t ack, ngx_noom_bin_t *bin, const char *name);
static void ngx_noom_app_join(ngx_noom_ctx_t *ctx, json_t *args,
    int64_t ack, ngx_noom_bin_t *bin, const char *name);
static void ngx_noom_app_leave(ngx_noom_ctx_t *ctx, json_t *args,
    int64_t ack, ngx_noom_bin_t *bin, const char *name);
static void ngx_noom_app_message(ngx_noom_ctx_t *ctx, json_t *args,
    int64_t ack, ngx_noom_bin_t *bin, const char *name);
static void ngx_noom_app_signal(ngx_noom_ctx_t *ctx, json_t *args,
    int64_t ack, ngx_noom_bin_t *bin, const char *name);
static void ngx_noom_app_ice(ngx_noom_ctx_t *ctx, json_t *args,
    int64_t ack, ngx_noom_bin_t *bin, const char *name);
static void ngx_noom_app_limits(ngx_noom_ctx_t *ctx, json_t *args,
    int64_t ack, ngx_noom_bin_t *bin, const char *name);
static ngx_int_t ngx_noom_app_fast_message(ngx_noom_ctx_t *ctx,
    int64_t ack, ngx_noom_json_tok_t *text);
static ngx_int_t ngx_noom_app_fast_signal(ngx_noom_ctx_t *ctx, int64_t ack,
    const char *name, size_t len, ngx_noom_json_tok_t *tok, ngx_uint_t n);
static ngx_int_t ngx_noom_app_in_room(ngx_noom_ctx_t *ctx, json_t *room);
static ngx_int_t ngx_noom_app_room_is(ngx_noom_ctx_t *ctx, u_char *name,
    size_t len);
static u_char *ngx_noom_app_fold(ngx_noom_ctx_t *ctx, u_char *name,
    size_t len);
static void ngx_noom_app_leave_room(ngx_noom_ctx_t *ctx);
static json_t *ngx_noom_app_rooms(void);
static void ngx_noom_app_error(ngx_noom_ctx_t *ctx, int64_t ack,
    const char *event, const char *code, const char *message);
static json_t *ngx_noom_app_lines(ngx_str_t *hist);
static void ngx_noom_app_relay(ngx_noom_ctx_t *ctx, int64_t ack,
    const char *name, ngx_noom_msg_t *m, u_char *to, ngx_uint_t w,
    uint64_t serial);
static void ngx_noom_app_answer(ngx_noom_ctx_t *ctx, int64_t ack,
    const char *name, json_t *value);
static void ngx_noom_app_relay_failed(ngx_noom_ctx_t *ctx, int64_t ack,
    const char *event);
static void ngx_noom_app_remote_failed(ngx_noom_ctx_t *ctx, int64_t ack,
    const char *event);


static ngx_noom_app_event_t  ngx_noom_app_events[] = {
    { "nickname", ngx_noom_app_nickname },
    { "enter_room", ngx_noom_app_join },
    { "join_room", ngx_noom_app_join },
    { "leave_room", ngx_noom_app_leave },
    { "new_message", ngx_noom_app_message },
    { "list_rooms", ngx_noom_app_list },
    { "offer", ngx_noom_app_signal },
    { "answer", ngx_noom_app_signal },
    { "ice", ngx_noom_app_signal },
    { "media_state", ngx_noom_app_signal },
    { "ice_servers", ngx_noom_app_ice },
    { "limits", ngx_noom_app_limits },
    { NULL, NULL }
};


static ngx_str_t  ngx_noom_app_root = ngx_string("/");

static ngx_noom_peer_t  *ngx_noom_app_peers;
static ngx_str_t         ngx_noom_app_history;  /* its buffer */
static u_char           *ngx_noom_app_list_buf;
static size_t            ngx_noom_app_list_size;
static u_char           *ngx_noom_app_fold_buf;    /* noom_max_room_name */

/*
 * ,"ts":<ms>}] as the fast path last wrote it, and its millisecond (0
 * at first: the clock is never at 0)
 */
static uint64_t          ngx_noom_app_ts_ms;
static u_char            ngx_noom_app_ts[sizeof(",\"ts\":}]")
                                         + NGX_INT64_LEN];
static size_t            ngx_noom_app_ts_len;

static ngx_noom_log_limit_t  ngx_noom_app_relay_log;


void
ngx_noom_app_connect(ngx_noom_ctx_t *ctx)
{
    ngx_noom_local_add(ctx, NGX_NOOM_LIST_APP);
    ngx_noom_cluster_connect(ctx);

    if (ctx->asock[NGX_NOOM_NSP_APP]) {
        ngx_noom_admin_connected(ctx, NGX_NOOM_NSP_APP);
    }

    ngx_noom_app_ice(ctx, NULL, NGX_NOOM_SIO_NO_ACK, NULL, "ice_servers");
    ngx_noom_app_limits(ctx, NULL, NGX_NOOM_SIO_NO_ACK, NULL, "limits");
}


void
ngx_noom_app_disconnect(ngx_noom_ctx_t *ctx)
{
    if (ctx->member) {
        ngx_noom_app_leave_room(ctx);
    }

    ngx_noom_cluster_forget(ctx);
    if (ctx->sess) {
        ngx_noom_recovery_forget(ctx);
    }

    ngx_noom_local_del(ctx, NGX_NOOM_LIST_APP);

    if (ctx->asock[NGX_NOOM_NSP_APP]) {
        ngx_noom_admin_unregister(ctx, NGX_NOOM_NSP_APP);
    }
}


/*
 * The session's transport is gone: a recoverable socket goes away for the
 * window, its room keeping it; any other leaves.
 */

void
ngx_noom_app_end(ngx_noom_ctx_t *ctx)
{
    if (ctx->sess == NULL || ngx_noom_recovery_detach(ctx) != NGX_OK) {
        ngx_noom_app_disconnect(ctx);
        return;
    }

    ngx_noom_local_leave(ctx);
    ctx->member = NULL;

    ngx_noom_local_del(ctx, NGX_NOOM_LIST_APP);

    if (ctx->asock[NGX_NOOM_NSP_APP]) {
        ngx_noom_admin_unregister(ctx, NGX_NOOM_NSP_APP);
    }
}


void
ngx_noom_app_event(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin)
{
    ngx_str_t                  *e;
    ngx_uint_t                  i;
    const char                 *name;
    ngx_http_noom_main_conf_t  *mcf;

    name = json_string_value(json_array_get(args, 0));

    if (name == NULL) {
        ngx_noom_app_error(ctx, ack, "", "unknown_event",
                           "event names are strings");
        return;
    }

    for (i = 0; ngx_noom_app_events[i].name; i++) {
        if (ngx_strcmp(name, ngx_noom_app_events[i].name) == 0) {

            if (bin && ngx_noom_app_events[i].handler != ngx_noom_app_signal)
            {
                ngx_noom_app_error(ctx, ack, name, "bad_request",
                                   "binary attachments are relayed only "
                                   "with signaling events");
                return;
            }

            ngx_noom_app_events[i].handler(ctx, args, ack, bin, name);
            return;
        }
    }

    mcf = ctx->mcf;

    if (mcf->room_events) {
        e = mcf->room_events->elts;

        for (i = 0; i < mcf->room_events->nelts; i++) {
            if (ngx_strlen(name) == e[i].len
                && ngx_strncmp(name, e[i].data, e[i].len) == 0)
            {
                ngx_noom_app_signal(ctx, args, ack, bin, name);
                return;
            }
        }
    }

    ngx_noom_app_error(ctx, ack, name, "unknown_event",
                       "no such event");
}


/*
 * The hot events without jansson: new_message and the signaling events
 * when their JSON is in the subset that ngx_noom_json_scan() reads, and
 * the sender is in the room it names.  The relayed JSON is put together
 * from the tokens as they came: escaping is compositional, so a string's
 * content copied between quotes stays the same string.  Whatever is not
 * plainly well, errors included, is NGX_DECLINED and takes the jansson way
 * with the same outcome as before.
 */

ngx_int_t
ngx_noom_app_fast(ngx_noom_ctx_t *ctx, ngx_noom_sio_packet_t *pkt)
{
    u_char                     *name;
    size_t                      len;
    ngx_str_t                  *e;
    ngx_uint_t                  i, n;
    ngx_noom_room_t            *room;
    ngx_noom_json_tok_t         tok[4];
    ngx_http_noom_main_conf_t  *mcf;

    static ngx_str_t  message = ngx_string("new_message");

    if (ctx->member == NULL) {
        return NGX_DECLINED;
    }

    room = ctx->member->room;

    /* as socket.io-client sends it, only the text is read */

    if (ngx_noom_json_event_for(pkt->data, pkt->len, &message, room->name,
                                room->len, &tok[1])
        == NGX_OK)
    {
        return ngx_noom_app_fast_message(ctx, pkt->ack, &tok[1]);
    }

    if (ngx_noom_json_scan(pkt->data, pkt->len, tok, 4, &n) != NGX_OK
        || n < 3
        || tok[0].type != NGX_NOOM_JSON_STRING || tok[0].escaped
        || tok[2].type != NGX_NOOM_JSON_STRING || tok[2].escaped)
    {
        return NGX_DECLINED;
    }

    if (tok[2].slen != room->len
        || ngx_noom_app_room_is(ctx, tok[2].data + 1, tok[2].slen) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    name = tok[0].data + 1;
    len = tok[0].slen;

    if (len == message.len && ngx_memcmp(name, message.data, len) == 0) {
        return (n == 3) ? ngx_noom_app_fast_message(ctx, pkt->ack, &tok[1])
                        : NGX_DECLINED;
    }

    for (i = 0; ngx_noom_app_events[i].name; i++) {
        if (ngx_noom_app_events[i].handler == ngx_noom_app_signal
            && ngx_strncmp(name, ngx_noom_app_events[i].name, len) == 0
            && ngx_noom_app_events[i].name[len] == '\0')
        {
            return ngx_noom_app_fast_signal(ctx, pkt->ack,
                                            ngx_noom_app_events[i].name,
                                            len, tok, n);
        }
    }

    mcf = ctx->mcf;

    if (mcf->room_events) {
        e = mcf->room_events->elts;

        for (i = 0; i < mcf->room_events->nelts; i++) {
            if (e[i].len == len && ngx_strncmp(name, e[i].data, len) == 0) {
                return ngx_noom_app_fast_signal(ctx, pkt->ack,
                                                (char *) e[i].data, len,
                                                tok, n);
            }
        }
    }

    return NGX_DECLINED;
}


/* ngx_noom_app_message() for ["new_message","text","room"] */

static ngx_int_t
ngx_noom_app_fast_message(ngx_noom_ctx_t *ctx, int64_t ack,
    ngx_noom_json_tok_t *text)
{
    u_char          *p, *q, *json, *nick;
    size_t           size, nick_len;
    uint64_t         ms;
    ngx_time_t      *tp;
    ngx_noom_msg_t  *m;

    if (text->type != NGX_NOOM_JSON_STRING
        || text->slen > ctx->mcf->max_message)
    {
        return NGX_DECLINED;
    }

    size = sizeof("[\"new_message\",\": \",{\"id\":\"\",\"nickname\":\"\","
                  "\"text\":,\"ts\":}]")
           + 2 * 6 * ctx->nick_len + 2 * text->len + NGX_NOOM_ID_LEN
           + NGX_INT64_LEN;

    m = ngx_noom_sio_event_start(size, &json);
    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return NGX_OK;
    }

    ngx_noom_worker_stat(events_in);

    p = ngx_cpymem(json, "[\"new_message\",\"",
                   sizeof("[\"new_message\",\"") - 1);

    nick = p;
    p = ngx_noom_json_escape(p, ctx->nick, ctx->nick_len);
    nick_len = p - nick;

    *p++ = ':';
    *p++ = ' ';
    p = ngx_cpymem(p, text->data + 1, text->len - 2);

    p = ngx_cpymem(p, "\",{\"id\":\"", sizeof("\",{\"id\":\"") - 1);
    p = ngx_cpymem(p, ctx->nsp[0].id, NGX_NOOM_ID_LEN);
    p = ngx_cpymem(p, "\",\"nickname\":\"", sizeof("\",\"nickname\":\"") - 1);
    p = ngx_cpymem(p, nick, nick_len);
    p = ngx_cpymem(p, "\",\"text\":", sizeof("\",\"text\":") - 1);
    p = ngx_cpymem(p, text->data, text->len);

    tp = ngx_timeofday();
    ms = (uint64_t) tp->sec * 1000 + tp->msec;

    if (ms != ngx_noom_app_ts_ms) {
        q = ngx_cpymem(ngx_noom_app_ts, ",\"ts\":", sizeof(",\"ts\":") - 1);
        q = ngx_noom_sio_decimal(q, ms);
        *q++ = '}';
        *q++ = ']';

        ngx_noom_app_ts_ms = ms;
        ngx_noom_app_ts_len = q - ngx_noom_app_ts;
    }

    p = ngx_cpymem(p, ngx_noom_app_ts, ngx_noom_app_ts_len);

    ngx_noom_sio_event_end(m, p);

    m->chat = 1;

    ngx_noom_app_relay(ctx, ack, "new_message", m, NULL, 0, 0);

    return NGX_OK;
}


/* ngx_noom_app_signal() for [name,payload,"room"[,"toId"|null]] */

static ngx_int_t
ngx_noom_app_fast_signal(ngx_noom_ctx_t *ctx, int64_t ack, const char *name,
    size_t len, ngx_noom_json_tok_t *tok, ngx_uint_t n)
{
    u_char                     *p, *json;
    uint64_t                    serial;
    ngx_uint_t                  w;
    ngx_noom_msg_t             *m;
    ngx_noom_json_tok_t        *to;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ctx->mcf;

    w = 0;
    serial = 0;

    to = (n == 4 && tok[3].type != NGX_NOOM_JSON_NULL) ? &tok[3] : NULL;

    if (to
        && (to->type != NGX_NOOM_JSON_STRING || to->escaped
            || to->slen != NGX_NOOM_ID_LEN
            || ngx_noom_rooms_find(ctx, to->data + 1, &w, &serial)
               != NGX_OK))
    {
        return NGX_DECLINED;
    }

    /* ["<name>",<payload>,"<fromId>"] */

    m = ngx_noom_sio_event_start(len + tok[1].len + NGX_NOOM_ID_LEN + 8,
                                 &json);
    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return NGX_OK;
    }

    p = json;
    *p++ = '[';
    *p++ = '"';
    p = ngx_cpymem(p, name, len);
    *p++ = '"';
    *p++ = ',';
    p = ngx_cpymem(p, tok[1].data, tok[1].len);
    *p++ = ',';
    *p++ = '"';
    p = ngx_cpymem(p, ctx->nsp[0].id, NGX_NOOM_ID_LEN);
    *p++ = '"';
    *p++ = ']';

    ngx_noom_sio_event_end(m, p);

    if (m->len > mcf->max_signal + len + 64 + NGX_NOOM_OFFSET_LEN(m)) {
        /* jansson's compact form may be shorter: let it decide */
        ngx_noom_msg_release(m);
        return NGX_DECLINED;
    }

    ngx_noom_worker_stat(events_in);

    ngx_noom_app_relay(ctx, ack, name, m, to ? to->data + 1 : NULL, w,
                       serial);

    return NGX_OK;
}


/* nickname(nick[, ack]) */

static void
ngx_noom_app_nickname(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin, const char *name)
{
    json_t                     *nick;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ctx->mcf;

    nick = json_array_get(args, 1);

    if (!json_is_string(nick)
        || ngx_noom_valid_name((u_char *) json_string_value(nick),
                               json_string_length(nick), mcf->max_nickname)
           != NGX_OK)
    {
        ngx_noom_stat(limit_errors, 1);
        ngx_noom_app_error(ctx, ack, name, "invalid_nickname",
                           "a nickname is 1 to noom_max_nickname_length "
                           "bytes without control characters");
        return;
    }

    if (ctx->member
        && ngx_noom_rooms_nick(ctx, (u_char *) json_string_value(nick),
                               json_string_length(nick))
           != NGX_OK)
    {
        ngx_noom_app_error(ctx, ack, name, "busy",
                           "the server is out of room memory");
        return;
    }

    ctx->nick_len = json_string_length(nick);
    ngx_memcpy(ctx->nick, json_string_value(nick), ctx->nick_len);

    if (ctx->member) {
        ngx_noom_cluster_nick(ctx);
    }

    if (ctx->sess) {
        ngx_noom_recovery_nick(ctx);
    }

    if (ctx->asock[NGX_NOOM_NSP_APP]) {
        ngx_noom_admin_nick(ctx);
    }

    ngx_noom_sio_ack(ctx, 0, ack, NULL);
}


/* enter_room(room, ack), join_room(room[, ack]) */

static void
ngx_noom_app_join(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin, const char *name)
{
    json_t                     *room;
    ngx_int_t                   rc;
    ngx_str_t                   rname, hist;
    ngx_uint_t                  i, n, count;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ctx->mcf;

    room = json_array_get(args, 1);

    if (!json_is_string(room)
        || ngx_noom_valid_name((u_char *) json_string_value(room),
                               json_string_length(room), mcf->max_room_name)
           != NGX_OK)
    {
        ngx_noom_stat(limit_errors, 1);
        ngx_noom_app_error(ctx, ack, name, "invalid_room_name",
                           "a room name is 1 to noom_max_room_name_length "
                           "bytes without control, format or "
                           "bidirectional characters");
        return;
    }

    /* "Team" and "team" are one room, shown as "team" */

    rname.len = json_string_length(room);
    rname.data = ngx_noom_app_fold(ctx, (u_char *) json_string_value(room),
                                   rname.len);
    if (rname.data == NULL) {
        ngx_noom_app_error(ctx, ack, name, "busy", "out of memory");
        return;
    }

    if (ctx->member
        && (ctx->member->room->len != rname.len
            || ngx_memcmp(ctx->member->room->name, rname.data, rname.len)
               != 0))
    {
        /* one room at a time: entering another leaves the first */
        ngx_noom_app_leave_room(ctx);
    }

    if (ngx_noom_app_peers == NULL) {
        ngx_noom_app_peers = ngx_alloc(mcf->max_members
                                       * (sizeof(ngx_noom_peer_t)
                                          + mcf->max_nickname),
                                       ngx_cycle->log);
        if (ngx_noom_app_peers == NULL) {
            ngx_noom_app_error(ctx, ack, name, "busy", "out of memory");
            return;
        }

        for (i = 0; i < mcf->max_members; i++) {
            ngx_noom_app_peers[i].nick = (u_char *) &ngx_noom_app_peers
                                             [mcf->max_members]
                                         + i * mcf->max_nickname;
        }
    }

    ngx_noom_app_history_buf(ctx, ack, &hist);

    /* with noom_redis, the rest when Redis has decided */

    if (ngx_noom_cluster_join(ctx, &rname, ack, name) == NGX_OK) {
        return;
    }

    n = mcf->max_members;

    rc = ngx_noom_rooms_join(ctx, &rname, ngx_noom_app_peers, &n, &count,
                             hist.data ? &hist : NULL);

    ngx_noom_app_joined(ctx, rc, ack, name, &rname, ngx_noom_app_peers, n,
                        count, hist.data ? &hist : NULL, 1);
}


/* where a join copies the room's chat out, when it is asked with an ack */

void
ngx_noom_app_history_buf(ngx_noom_ctx_t *ctx, int64_t ack, ngx_str_t *hist)
{
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ctx->mcf;

    hist->len = 0;
    hist->data = NULL;

    if (mcf->history && ack != NGX_NOOM_SIO_NO_ACK) {

        if (ngx_noom_app_history.data == NULL) {
            ngx_noom_app_history.len = ngx_min(mcf->history
                                               * (2 * mcf->max_message
                                                  + 4 * mcf->max_nickname
                                                  + 256),
                                               1024 * 1024);
            ngx_noom_app_history.data = ngx_alloc(ngx_noom_app_history.len,
                                                  ngx_cycle->log);
        }

        *hist = ngx_noom_app_history;
    }
}


/*
 * The end of a join: its refusal, or the ack with the members already
 * there and, when announce is set, welcome to them.
 */

void
ngx_noom_app_joined(ngx_noom_ctx_t *ctx, ngx_int_t rc, int64_t ack,
    const char *name, ngx_str_t *rname, ngx_noom_peer_t *peers, ngx_uint_t n,
    ngx_uint_t count, ngx_str_t *hist, ngx_uint_t announce)
{
    json_t             *list, *reply, *peer;
    ngx_uint_t          i;
    ngx_noom_msg_t     *m;
    ngx_noom_member_t  *mb;

    switch (rc) {

    case NGX_OK:
    case NGX_DONE:
        break;

    case NGX_NOOM_ERR_FULL:
        ngx_noom_stat(limit_errors, 1);
        ngx_noom_app_error(ctx, ack, name, "room_full",
                           "the room has noom_max_room_members members");
        return;

    case NGX_NOOM_ERR_ROOMS:
        ngx_noom_stat(limit_errors, 1);
        ngx_noom_app_error(ctx, ack, name, "too_many_rooms",
                           "there are noom_max_rooms rooms already");
        return;

    case NGX_NOOM_ERR_CLUSTER:
        ngx_noom_app_error(ctx, ack, name, "busy",
                           "the rooms of the cluster cannot be reached");
        return;

    default:
        ngx_noom_app_error(ctx, ack, name, "busy",
                           "the server is out of room memory");
        return;
    }

    mb = ctx->member;

    if (rc == NGX_OK && ctx->asock[NGX_NOOM_NSP_APP]) {
        ngx_noom_admin_room(ctx, rname->data, rname->len, 1);
    }

    if (rc == NGX_OK && ngx_noom_local_join(ctx, mb->room->uid) != NGX_OK) {
        ngx_noom_app_leave_room(ctx);
        ngx_noom_app_error(ctx, ack, name, "busy", "out of memory");
        return;
    }

    if (ack != NGX_NOOM_SIO_NO_ACK) {
        list = json_array();

        for (i = 0; list && i < n; i++) {
            peer = json_pack("{ss#ss#}",
                             "id", peers[i].id, (int) NGX_NOOM_ID_LEN,
                             "nickname", peers[i].nick,
                             (int) peers[i].nick_len);

            if (json_array_append_new(list, peer) != 0) {
                json_decref(list);
                list = NULL;
            }
        }

        reply = list ? json_pack("[Io]", (json_int_t) count, list) : NULL;

        if (reply && hist
            && json_array_append_new(reply, ngx_noom_app_lines(hist)) != 0)
        {
            json_decref(reply);
            reply = NULL;
        }

        if (reply == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        ngx_noom_sio_ack(ctx, 0, ack, reply);
        json_decref(reply);
    }

    if (rc == NGX_DONE) {
        return;
    }

    if (!announce) {
        ngx_noom_relay_rooms_changed();
        return;
    }

    reply = json_pack("[ss#Is#]", "welcome",
                      ctx->nick, (int) ctx->nick_len, (json_int_t) count,
                      mb->id, (int) NGX_NOOM_ID_LEN);
    if (reply == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_APP_EVENT, &ngx_noom_app_root,
                            NGX_NOOM_SIO_NO_ACK, reply, NULL);
    json_decref(reply);

    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    (void) ngx_noom_relay_room(ctx, mb->room->uid, mb->room->per_worker, m);
    ngx_noom_msg_release(m);

    ngx_noom_relay_rooms_changed();
}


/*
 * The room's chat as enter_room's ack gives it: [{id, nickname, text, ts}],
 * the third argument of each new_message frame the join copied out.
 */

static json_t *
ngx_noom_app_lines(ngx_str_t *hist)
{
    u_char        *p, *last, *pl;
    size_t         len, n;
    json_t        *lines, *ev, *line;
    json_error_t   err;

    lines = json_array();
    if (lines == NULL) {
        return NULL;
    }

    p = hist->data;
    last = hist->data + hist->len;

    while (p < last) {
        len = *(uint64_t *) p;
        pl = p + sizeof(uint64_t);
        p += sizeof(uint64_t) + ngx_align(len, 8);

        /* a text frame from the server: no mask, "42" then the array */

        n = pl[1] & 0x7f;
        n = (n < 126) ? 2 : (n == 126) ? 4 : 10;

        if (len < n + 2) {
            continue;
        }

        ev = json_loadb((char *) pl + n + 2, len - n - 2, 0, &err);
        line = json_array_get(ev, 2);

        if (json_is_object(line)) {
            (void) json_array_append(lines, line);
        }

        json_decref(ev);
    }

    return lines;
}


/* leave_room([room][, ack]) */

static void
ngx_noom_app_leave(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin, const char *name)
{
    json_t  *room;

    room = json_array_get(args, 1);

    if (ctx->member == NULL
        || (room && !json_is_null(room)
            && ngx_noom_app_in_room(ctx, room) != NGX_OK))
    {
        ngx_noom_app_error(ctx, ack, name, "not_in_room",
                           "the socket is not in that room");
        return;
    }

    ngx_noom_app_leave_room(ctx);

    ngx_noom_sio_ack(ctx, 0, ack, NULL);
}


static void
ngx_noom_app_leave_room(ngx_noom_ctx_t *ctx)
{
    ngx_int_t            told;
    ngx_noom_snapshot_t  snap;
    uint32_t             per_worker[NGX_NOOM_MAX_WORKERS];

    snap.per_worker = per_worker;

    if (ctx->asock[NGX_NOOM_NSP_APP]) {
        /* the name is the room's, and the room may go with the member */
        ngx_noom_admin_room(ctx, ctx->member->room->name,
                            ctx->member->room->len, 0);
    }

    /* NGX_OK: Redis says bye to the room, on every node */
    told = ngx_noom_cluster_leave(ctx);

    ngx_noom_local_leave(ctx);
    ngx_noom_rooms_leave(ctx, &snap);

    if (snap.count && told != NGX_OK) {
        ngx_noom_app_bye(snap.uid, snap.per_worker, ctx->nick, ctx->nick_len,
                         ctx->nsp[0].id, snap.count);
    }

    ngx_noom_relay_rooms_changed();
}


/* bye(nickname, count, id) to a room that somebody left */

void
ngx_noom_app_bye(uint64_t uid, uint32_t *per_worker, u_char *nick,
    size_t nick_len, u_char *id, ngx_uint_t count)
{
    json_t          *args;
    ngx_noom_msg_t  *m;

    args = json_pack("[ss#Is#]", "bye", nick, (int) nick_len,
                     (json_int_t) count, id, (int) NGX_NOOM_ID_LEN);
    if (args == NULL) {
        return;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_APP_EVENT, &ngx_noom_app_root,
                            NGX_NOOM_SIO_NO_ACK, args, NULL);
    json_decref(args);

    if (m == NULL) {
        return;
    }

    (void) ngx_noom_relay_room(NULL, uid, per_worker, m);
    ngx_noom_msg_release(m);
}


/* new_message(text, room, ack) */

static void
ngx_noom_app_message(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin, const char *name)
{
    u_char                     *line;
    json_t                     *text, *out;
    size_t                      len;
    ngx_time_t                 *tp;
    ngx_noom_msg_t             *m;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ctx->mcf;

    text = json_array_get(args, 1);

    if (!json_is_string(text)) {
        ngx_noom_app_error(ctx, ack, name, "bad_request",
                           "new_message(text, room)");
        return;
    }

    len = json_string_length(text);

    if (len > mcf->max_message) {
        ngx_noom_stat(limit_errors, 1);
        ngx_noom_app_error(ctx, ack, name, "message_too_long",
                           "a message is at most noom_max_message_length "
                           "bytes");
        return;
    }

    if (ngx_noom_app_in_room(ctx, json_array_get(args, 2)) != NGX_OK) {
        ngx_noom_app_error(ctx, ack, name, "not_in_room",
                           "messages go only into the sender's room");
        return;
    }

    line = ngx_alloc(ctx->nick_len + 2 + len, ctx->log);
    if (line == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    ngx_memcpy(line, ctx->nick, ctx->nick_len);
    ngx_memcpy(line + ctx->nick_len, ": ", 2);
    ngx_memcpy(line + ctx->nick_len + 2, json_string_value(text), len);

    tp = ngx_timeofday();

    out = json_pack("[ss#{ss#ss#sOsI}]", "new_message",
                    line, (int) (ctx->nick_len + 2 + len),
                    "id", ctx->nsp[0].id, (int) NGX_NOOM_ID_LEN,
                    "nickname", ctx->nick, (int) ctx->nick_len,
                    "text", text,
                    "ts", (json_int_t) tp->sec * 1000 + tp->msec);

    ngx_free(line);

    if (out == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_APP_EVENT, &ngx_noom_app_root,
                            NGX_NOOM_SIO_NO_ACK, out, NULL);
    json_decref(out);

    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    m->chat = 1;

    ngx_noom_app_relay(ctx, ack, name, m, NULL, 0, 0);
}


/*
 * The end of a relayed event: m to the sender's room, or to member to,
 * (w, serial), then the sender's ack, or its "busy" error.
 */

static void
ngx_noom_app_relay(ngx_noom_ctx_t *ctx, int64_t ack, const char *name,
    ngx_noom_msg_t *m, u_char *to, ngx_uint_t w, uint64_t serial)
{
    ngx_int_t         rc, remote;
    ngx_noom_room_t  *room;

    room = ctx->member->room;

    rc = to ? ngx_noom_relay_unicast(w, room->uid, serial, to, m)
            : ngx_noom_relay_room(ctx, room->uid, room->per_worker, m);

    remote = to ? NGX_OK : ngx_noom_cluster_relay(ctx, m, NULL);

    ngx_noom_msg_release(m);

    if (rc != NGX_OK) {
        ngx_noom_app_relay_failed(ctx, ack, name);
        return;
    }

    if (remote != NGX_OK) {
        ngx_noom_app_remote_failed(ctx, ack, name);
        return;
    }

    ngx_noom_sio_ack(ctx, 0, ack, NULL);
}


/* list_rooms(ack) */

void
ngx_noom_app_list(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin, const char *name)
{
    json_t  *rooms;

    /* with noom_redis, the answer when Redis gives the list (no args) */

    if (args && ngx_noom_cluster_list_rooms(ctx, ack) == NGX_OK) {
        return;
    }

    rooms = ngx_noom_app_rooms();
    if (rooms == NULL) {
        ngx_noom_app_error(ctx, ack, name, "busy", "out of memory");
        return;
    }

    if (ack != NGX_NOOM_SIO_NO_ACK) {
        ngx_noom_sio_ack(ctx, 0, ack, rooms);

    } else if (json_array_insert_new(rooms, 0, json_string("room_change"))
               == 0)
    {
        ngx_noom_sio_emit(ctx, 0, rooms);
    }

    json_decref(rooms);
}


/*
 * offer(sdp, room[, toId]), answer(...), ice(candidate, room[, toId]) and
 * the events of noom_room_events: the others in the room, or member toId,
 * get event(payload, fromId).
 */

static void
ngx_noom_app_signal(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin, const char *name)
{
    json_t                     *payload, *to, *out;
    uint64_t                    serial;
    ngx_int_t                   rc;
    ngx_uint_t                  w;
    ngx_noom_msg_t             *m;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ctx->mcf;

    payload = json_array_get(args, 1);
    to = json_array_get(args, 3);

    if (payload == NULL || (to && !json_is_null(to) && !json_is_string(to)))
    {
        ngx_noom_app_error(ctx, ack, name, "bad_request",
                           "event(payload, room[, toId])");
        return;
    }

    if (ngx_noom_app_in_room(ctx, json_array_get(args, 2)) != NGX_OK) {
        ngx_noom_app_error(ctx, ack, name, "not_in_room",
                           "signaling goes only into the sender's room");
        return;
    }

    out = json_pack("[sOs#]", name, payload, ctx->nsp[0].id,
                    (int) NGX_NOOM_ID_LEN);
    if (out == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_APP_EVENT, &ngx_noom_app_root,
                            NGX_NOOM_SIO_NO_ACK, out, bin);
    json_decref(out);

    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    if (m->len > mcf->max_signal + ngx_strlen(name) + 64
                 + NGX_NOOM_OFFSET_LEN(m))
    {
        ngx_noom_msg_release(m);
        ngx_noom_stat(limit_errors, 1);
        ngx_noom_app_error(ctx, ack, name, "signal_too_large",
                           "a signaling payload is at most "
                           "noom_max_signal_size bytes");
        return;
    }

    if (to && json_is_string(to)) {

        if (json_string_length(to) != NGX_NOOM_ID_LEN
            || ngx_noom_rooms_find(ctx, (u_char *) json_string_value(to),
                                   &w, &serial)
               != NGX_OK)
        {
            if (json_string_length(to) == NGX_NOOM_ID_LEN
                && ngx_noom_cluster_on())
            {
                /* perhaps on another node: the room's channel finds it */
                rc = ngx_noom_cluster_relay(ctx, m,
                                            (u_char *) json_string_value(to));
                ngx_noom_msg_release(m);

                if (rc != NGX_OK) {
                    ngx_noom_app_remote_failed(ctx, ack, name);
                    return;
                }

                ngx_noom_sio_ack(ctx, 0, ack, NULL);
                return;
            }

            ngx_noom_msg_release(m);
            ngx_noom_app_error(ctx, ack, name, "no_such_member",
                               "toId is not a member of the room");
            return;
        }

        ngx_noom_app_relay(ctx, ack, name, m,
                           (u_char *) json_string_value(to), w, serial);
        return;
    }

    ngx_noom_app_relay(ctx, ack, name, m, NULL, 0, 0);
}


/* ice_servers(ack), and the same unasked right after connecting */

static void
ngx_noom_app_ice(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin, const char *name)
{
    json_t                     *servers;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ctx->mcf;

    servers = ngx_noom_turn_servers(mcf, ctx->nsp[0].id);

    ngx_noom_app_answer(ctx, ack, name, servers);
}


/*
 * limits(ack), and the same unasked after ice_servers: what a client must
 * know to refuse too long a name or message before the server does
 */

static void
ngx_noom_app_limits(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin, const char *name)
{
    json_t                     *limits;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ctx->mcf;

    limits = json_pack("{sIsIsIsI}",
                       "nickname", (json_int_t) mcf->max_nickname,
                       "room_name", (json_int_t) mcf->max_room_name,
                       "message", (json_int_t) mcf->max_message,
                       "room_members", (json_int_t) mcf->max_members);

    ngx_noom_app_answer(ctx, ack, name, limits);
}


/* one value: the ack of the asking event, or an event of that name */

static void
ngx_noom_app_answer(ngx_noom_ctx_t *ctx, int64_t ack, const char *name,
    json_t *value)
{
    json_t  *out;

    if (value == NULL) {
        out = NULL;

    } else if (ack == NGX_NOOM_SIO_NO_ACK) {
        out = json_pack("[so]", name, value);

    } else {
        out = json_pack("[o]", value);
    }

    if (out == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    if (ack == NGX_NOOM_SIO_NO_ACK) {
        ngx_noom_sio_emit(ctx, 0, out);

    } else {
        ngx_noom_sio_ack(ctx, 0, ack, out);
    }

    json_decref(out);
}


static ngx_int_t
ngx_noom_app_in_room(ngx_noom_ctx_t *ctx, json_t *room)
{
    if (ctx->member == NULL || !json_is_string(room)) {
        return NGX_DECLINED;
    }

    return ngx_noom_app_room_is(ctx, (u_char *) json_string_value(room),
                                json_string_length(room));
}


/* the socket's room, named as the client may: in any case */

static ngx_int_t
ngx_noom_app_room_is(ngx_noom_ctx_t *ctx, u_char *name, size_t len)
{
    u_char           *folded;
    ngx_noom_room_t  *room;

    room = ctx->member->room;

    if (len != room->len) {
        return NGX_DECLINED;
    }

    if (ngx_memcmp(name, room->name, len) == 0) {
        return NGX_OK;
    }

    folded = ngx_noom_app_fold(ctx, name, len);

    if (folded == NULL || ngx_memcmp(folded, room->name, len) != 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a room name with its case folded, in a buffer of the worker's */

static u_char *
ngx_noom_app_fold(ngx_noom_ctx_t *ctx, u_char *name, size_t len)
{
    if (len > ctx->mcf->max_room_name) {
        return NULL;
    }

    if (ngx_noom_app_fold_buf == NULL) {
        ngx_noom_app_fold_buf = ngx_alloc(ctx->mcf->max_room_name,
                                          ctx->log);
        if (ngx_noom_app_fold_buf == NULL) {
            return NULL;
        }
    }

    ngx_noom_fold_name(ngx_noom_app_fold_buf, name, len);

    return ngx_noom_app_fold_buf;
}


/* room_change(names, counts), built once for every socket of a worker */

ngx_noom_msg_t *
ngx_noom_app_room_change(void)
{
    json_t          *args;
    ngx_noom_msg_t  *m;

    args = ngx_noom_app_rooms();
    if (args == NULL) {
        return NULL;
    }

    if (json_array_insert_new(args, 0, json_string("room_change")) != 0) {
        json_decref(args);
        return NULL;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_SIO_EVENT, &ngx_noom_app_root,
                            NGX_NOOM_SIO_NO_ACK, args, NULL);
    json_decref(args);

    return m;
}


/* [names, {name: count}] */

static json_t *
ngx_noom_app_rooms(void)
{
    u_char                     *p;
    json_t                     *names, *counts;
    ngx_uint_t                  i, n;
    ngx_noom_room_info_t       *info;
    ngx_http_noom_main_conf_t  *mcf;

    if (ngx_noom_app_list_buf == NULL) {
        mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                  ngx_http_noom_module);

        ngx_noom_app_list_size = mcf->max_rooms
                                 * ngx_align(sizeof(ngx_noom_room_info_t)
                                             + mcf->max_room_name + 1, 8);

        ngx_noom_app_list_buf = ngx_alloc(ngx_noom_app_list_size,
                                          ngx_cycle->log);
        if (ngx_noom_app_list_buf == NULL) {
            return NULL;
        }
    }

    if (ngx_noom_cluster_rooms_list(ngx_noom_app_list_buf,
                                    ngx_noom_app_list_size, &n)
        != NGX_OK)
    {
        n = ngx_noom_rooms_list(ngx_noom_app_list_buf,
                                ngx_noom_app_list_size);
    }

    names = json_array();
    counts = json_object();

    if (names == NULL || counts == NULL) {
        goto failed;
    }

    p = ngx_noom_app_list_buf;

    for (i = 0; i < n; i++) {
        info = (ngx_noom_room_info_t *) p;
        p += sizeof(ngx_noom_room_info_t);

        if (json_array_append_new(names, json_stringn((char *) p, info->len))
            != 0
            || json_object_set_new(counts, (char *) p,
                                   json_integer(info->count))
               != 0)
        {
            goto failed;
        }

        p = ngx_align_ptr(p + info->len + 1, 8);
    }

    return json_pack("[oo]", names, counts);

failed:

    json_decref(names);
    json_decref(counts);

    return NULL;
}


static void
ngx_noom_app_error(ngx_noom_ctx_t *ctx, int64_t ack, const char *event,
    const char *code, const char *message)
{
    json_t  *err, *args;

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: \"%s\" refused: %s", event, code);

    err = json_pack("{ssssss}", "error", code, "message", message,
                    "event", event);
    if (err == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    if (ack != NGX_NOOM_SIO_NO_ACK) {
        args = json_pack("[o]", err);
        if (args) {
            ngx_noom_sio_ack(ctx, 0, ack, args);
            json_decref(args);
        }

        return;
    }

    args = json_pack("[so]", "error", err);
    if (args) {
        ngx_noom_sio_emit(ctx, 0, args);
        json_decref(args);
    }
}


/* the packet was not even parsed: the event's name is not known */

void
ngx_noom_app_rate_limited(ngx_noom_ctx_t *ctx, int64_t ack)
{
    if (ctx->nsp[0].connected) {
        ngx_noom_app_error(ctx, ack, "", "rate_limited",
                           "more than noom_event_rate events a second: "
                           "events are dropped");
    }
}


static void
ngx_noom_app_relay_failed(ngx_noom_ctx_t *ctx, int64_t ack,
    const char *event)
{
    ngx_noom_log_limited(&ngx_noom_app_relay_log, ctx->conf->log_level,
                         ctx->log,
                         "noom: a worker queue is full, \"%s\" did not "
                         "reach every member", event);

    ngx_noom_app_error(ctx, ack, event, "busy",
                       "a worker queue is full: the event did not reach "
                       "every member");
}


/* Redis did not take it: ngx_noom_cluster_relay() counted and logged it */

static void
ngx_noom_app_remote_failed(ngx_noom_ctx_t *ctx, int64_t ack,
    const char *event)
{
    ngx_noom_app_error(ctx, ack, event, "busy",
                       "the other nodes could not be reached: the event "
                       "did not reach every member");
}


void
ngx_noom_app_exit(void)
{
    if (ngx_noom_app_peers) {
        ngx_free(ngx_noom_app_peers);
        ngx_noom_app_peers = NULL;
    }

    if (ngx_noom_app_history.data) {
        ngx_free(ngx_noom_app_history.data);
        ngx_noom_app_history.data = NULL;
    }

    if (ngx_noom_app_list_buf) {
        ngx_free(ngx_noom_app_list_buf);
        ngx_noom_app_list_buf = NULL;
    }

    if (ngx_noom_app_fold_buf) {
        ngx_free(ngx_noom_app_fold_buf);
        ngx_noom_app_fold_buf = NULL;
    }
}


/* the tutorial's first phase: {"type":"nickname"|"new_message"} */

void
ngx_noom_plain_open(ngx_noom_ctx_t *ctx)
{
    ngx_noom_local_add(ctx, NGX_NOOM_LIST_PLAIN);
}


void
ngx_noom_plain_message(ngx_noom_ctx_t *ctx, u_char *p, size_t len)
{
    u_char                     *payload;
    json_t                     *msg, *type, *data;
    size_t                      n;
    const char                 *t;
    ngx_noom_msg_t             *m;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ctx->mcf;

    msg = ngx_noom_json_load(ctx, p, len, NULL);
    type = json_object_get(msg, "type");
    data = json_object_get(msg, "payload");

    if (!json_is_string(type) || !json_is_string(data)) {
        json_decref(msg);
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: invalid lobby message, closing with 1007");
        ngx_noom_stat(protocol_closes, 1);
        ngx_noom_close(ctx, NGX_NOOM_END_BAD_DATA,
                       "expected {\"type\":...,\"payload\":\"...\"}");
        return;
    }

    t = json_string_value(type);
    n = json_string_length(data);

    if (ngx_strcmp(t, "nickname") == 0) {

        if (ngx_noom_valid_name((u_char *) json_string_value(data), n,
                                mcf->max_nickname)
            != NGX_OK)
        {
            json_decref(msg);
            ngx_noom_stat(limit_errors, 1);
            ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                          "noom: invalid lobby nickname, closing with 1008");
            ngx_noom_close(ctx, NGX_NOOM_END_POLICY, "invalid nickname");
            return;
        }

        ctx->nick_len = n;
        ngx_memcpy(ctx->nick, json_string_value(data), n);
        json_decref(msg);
        return;
    }

    if (ngx_strcmp(t, "new_message") != 0 || n > mcf->max_message) {
        json_decref(msg);
        ngx_noom_stat(limit_errors, 1);
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: unknown or too long lobby message, "
                      "closing with 1008");
        ngx_noom_close(ctx, NGX_NOOM_END_POLICY,
                       "unknown type or message too long");
        return;
    }

    ngx_noom_worker_stat(events_in);

    if (ngx_noom_relay_plain_share(ctx) != NGX_OK) {
        json_decref(msg);
        return;
    }

    m = ngx_noom_msg_frame(NGX_NOOM_WS_TEXT, ctx->nick_len + 2 + n,
                           &payload);
    if (m == NULL) {
        json_decref(msg);
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    payload = ngx_cpymem(payload, ctx->nick, ctx->nick_len);
    *payload++ = ':';
    *payload++ = ' ';
    ngx_memcpy(payload, json_string_value(data), n);

    json_decref(msg);

    if (ngx_noom_relay_plain(m) != NGX_OK) {
        ngx_noom_log_limited(&ngx_noom_app_relay_log, ctx->conf->log_level,
                             ctx->log,
                             "noom: a worker queue is full, a lobby message "
                             "did not reach everybody");
    }

    ngx_noom_msg_release(m);
}


/*
 * Every JSON text a client sends goes to jansson through here: lone UTF-16
 * surrogate escapes become U+FFFD first (ngx_noom_json_surrogates()), so a
 * chat line cut inside an emoji costs one replacement character, not the
 * connection.  The text is rewritten in place (it is the client's message,
 * in the read buffer or in its own assembly buffer).
 */

json_t *
ngx_noom_json_load(ngx_noom_ctx_t *ctx, u_char *p, size_t len,
    json_error_t *err)
{
    ngx_uint_t  n;

    n = ngx_noom_json_surrogates(p, len);

    if (n) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "noom: %ui lone surrogate escapes became U+FFFD", n);
    }

    return json_loadb((char *) p, len, JSON_ALLOW_NUL, err);
}
