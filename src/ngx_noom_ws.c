
/*
 * Copyright (C) noom authors
 *
 * RFC 6455 inside the content handler: the handshake and the 101, then the
 * connection itself.  Reading goes through one per-worker buffer and the
 * pure frame parser, so an idle connection holds no input buffer; writing
 * goes through a per-connection queue of shared, reference counted frames
 * with a byte cap.  Nothing here finalizes the request except the request's
 * own read and write handlers: everyone else marks the context and posts
 * its write event, so a connection never disappears under a loop that is
 * walking a list of connections.
 */


#include "ngx_noom.h"
#include <ngx_sha1.h>
#include <sys/random.h>


#define NGX_NOOM_RBUF_SIZE         65536
#define NGX_NOOM_READ_BUDGET       2
#define NGX_NOOM_IOV               64
#define NGX_NOOM_TLS_RECORD        16384


static void ngx_noom_ws_abandon(void *data);
static void ngx_noom_ws_takeover(ngx_event_t *ev);
static void ngx_noom_ws_close_early(ngx_noom_ctx_t *ctx,
    ngx_http_request_t *r);
static void ngx_noom_ws_read_event(ngx_event_t *rev);
static void ngx_noom_ws_write_event(ngx_event_t *wev);
static void ngx_noom_ws_read_handler(ngx_noom_ctx_t *ctx);
static void ngx_noom_ws_write_handler(ngx_noom_ctx_t *ctx);
static void ngx_noom_ws_finalize(ngx_noom_ctx_t *ctx);
static void ngx_noom_ws_input(ngx_noom_ctx_t *ctx, u_char *pos,
    u_char *last);
static ngx_int_t ngx_noom_ws_reserve(ngx_noom_ctx_t *ctx, size_t size);
static void ngx_noom_ws_msg_free(ngx_noom_ctx_t *ctx);
static void ngx_noom_ws_control(ngx_noom_ctx_t *ctx);
static void ngx_noom_ws_message(ngx_noom_ctx_t *ctx, ngx_uint_t opcode,
    u_char *p, size_t len);
static ngx_int_t ngx_noom_ws_flush(ngx_noom_ctx_t *ctx);
static void ngx_noom_ws_sent(ngx_noom_ctx_t *ctx, size_t sent);
static ssize_t ngx_noom_ws_send(ngx_noom_ctx_t *ctx);
#if (NGX_SSL)
static ssize_t ngx_noom_ws_send_tls(ngx_noom_ctx_t *ctx);
#endif
static void ngx_noom_ws_post_write(ngx_noom_ctx_t *ctx);
static void ngx_noom_ws_close(ngx_noom_ctx_t *ctx, ngx_uint_t code,
    const char *why);
static void ngx_noom_ws_abort(ngx_noom_ctx_t *ctx, const char *why);
static void ngx_noom_ws_resume(ngx_noom_ctx_t *ctx);
static void ngx_noom_ws_timer_handler(ngx_event_t *ev);
static void ngx_noom_ws_cleanup(void *data);
static ngx_int_t ngx_noom_ws_has_token(ngx_http_request_t *r, char *name,
    size_t len, char *token, size_t tlen);


static u_char           *ngx_noom_rbuf;

/* bytes of the messages this worker's connections are assembling */
static size_t            ngx_noom_msg_bytes;
static struct iovec      ngx_noom_iovs[NGX_NOOM_IOV];
#if (NGX_SSL)
static u_char            ngx_noom_tls_buf[NGX_NOOM_TLS_RECORD];
#endif

static u_char  ngx_noom_ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";


ngx_noom_transport_t  ngx_noom_ws_transport = {
    "websocket",
    ngx_noom_ws_post_write,
    ngx_noom_ws_close,
    ngx_noom_ws_abort,
    ngx_noom_ws_resume
};


ngx_int_t
ngx_noom_ws_handshake(ngx_http_request_t *r, ngx_http_noom_loc_conf_t *lcf,
    ngx_str_t *key)
{
    u_char      buf[32];
    ngx_str_t   value, decoded, *o;
    ngx_uint_t  n, i;

    if (r->method != NGX_HTTP_GET) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "noom: websocket handshake with method \"%V\"",
                      &r->method_name);
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (r->http_version != NGX_HTTP_VERSION_11) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "noom: websocket handshake needs HTTP/1.1");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_noom_ws_has_token(r, "Upgrade", 7, "websocket", 9) != NGX_OK
        || ngx_noom_ws_has_token(r, "Connection", 10, "upgrade", 7)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "noom: websocket handshake without \"Upgrade: "
                      "websocket\" and \"Connection: upgrade\"");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_noom_header(r, "Sec-WebSocket-Version", 21, &value, &n)
        != NGX_OK
        || n != 1 || value.len != 2 || ngx_strncmp(value.data, "13", 2) != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "noom: websocket handshake without "
                      "\"Sec-WebSocket-Version: 13\"");
        return NGX_NOOM_HTTP_UPGRADE_REQUIRED;
    }

    if (ngx_noom_header(r, "Sec-WebSocket-Key", 17, key, &n)
        != NGX_OK
        || n != 1 || key->len != 24)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "noom: websocket handshake needs one "
                      "\"Sec-WebSocket-Key\" of 16 bytes");
        return NGX_HTTP_BAD_REQUEST;
    }

    decoded.data = buf;

    if (ngx_decode_base64(&decoded, key) != NGX_OK || decoded.len != 16) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "noom: invalid \"Sec-WebSocket-Key\"");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "noom: websocket handshake with a request body");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (lcf->origins == NULL
        || ngx_noom_header(r, "Origin", 6, &value, &n) != NGX_OK)
    {
        return NGX_OK;
    }

    o = lcf->origins->elts;

    for (i = 0; i < lcf->origins->nelts; i++) {
        if (o[i].len == value.len
            && ngx_strncasecmp(o[i].data, value.data, value.len) == 0)
        {
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "noom: origin \"%V\" is not allowed", &value);

    return NGX_HTTP_FORBIDDEN;
}


/* the value of a header and how many times it came */

ngx_int_t
ngx_noom_header(ngx_http_request_t *r, char *name, size_t len,
    ngx_str_t *value, ngx_uint_t *n)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    *n = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            if ((*n)++ == 0) {
                *value = h[i].value;
            }
        }
    }

    return *n ? NGX_OK : NGX_DECLINED;
}


/* a token in a comma separated list, in any of the headers of that name */

static ngx_int_t
ngx_noom_ws_has_token(ngx_http_request_t *r, char *name, size_t len,
    char *token, size_t tlen)
{
    u_char           *p, *last, *start;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != len
            || ngx_strncasecmp(h[i].key.data, (u_char *) name, len) != 0)
        {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;

        while (p < last) {

            while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }

            start = p;

            while (p < last && *p != ',' && *p != ' ' && *p != '\t') {
                p++;
            }

            if ((size_t) (p - start) == tlen
                && ngx_strncasecmp(start, (u_char *) token, tlen) == 0)
            {
                return NGX_OK;
            }

            while (p < last && *p != ',') {
                p++;
            }
        }
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_noom_ws_refuse_version(ngx_http_request_t *r)
{
    ngx_buf_t        *b;
    ngx_table_elt_t  *h;

    static u_char  body[] = "426 Upgrade Required: WebSocket version 13\n";

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Version");
    ngx_str_set(&h->value, "13");

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + sizeof(body) - 1;
    b->memory = 1;

    ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");

    return ngx_noom_http_send(r, 426, "text/plain", b);
}


ngx_int_t
ngx_noom_ws_upgrade(ngx_http_request_t *r, ngx_str_t *key, ngx_uint_t kind,
    ngx_str_t *sid, ngx_uint_t owner)
{
    u_char                     hash[20];
    ngx_int_t                  rc;
    ngx_str_t                  src, accept;
    ngx_sha1_t                 sha1;
    ngx_noom_ctx_t            *ctx;
    ngx_table_elt_t           *h;
    ngx_connection_t          *c;
    ngx_http_cleanup_t        *cln;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_noom_loc_conf_t  *lcf;
    ngx_http_noom_main_conf_t *mcf;

    c = r->connection;
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_noom_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_noom_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rc = ngx_noom_session_may_start(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /*
     * The context outlives the request: on the heap, with the nickname
     * after it, and the admin panel's copy of the handshake if it has one.
     */

    ctx = ngx_noom_session_alloc(ngx_noom_session_size(mcf, r), c->log);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        ngx_free(ctx);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_noom_ws_abandon;
    cln->data = ctx;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, key->data, key->len);
    ngx_sha1_update(&sha1, ngx_noom_ws_guid, sizeof(ngx_noom_ws_guid) - 1);
    ngx_sha1_final(hash, &sha1);

    src.data = hash;
    src.len = sizeof(hash);

    accept.len = ngx_base64_encoded_length(sizeof(hash));
    accept.data = ngx_pnalloc(r->pool, accept.len);
    if (accept.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_encode_base64(&accept, &src);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Accept");
    h->value = accept;

    if (lcf->worker_header) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "X-Noom-Worker");

        h->value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%ui", ngx_worker)
                       - h->value.data;
    }

    /* 101 has no body and the connection is not reused for HTTP */

    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    r->headers_out.content_length_n = -1;
    r->keepalive = 0;

#if (NGX_HTTP_SSL)

    /* small frames must not wait in the TLS buffer */

    if (c->ssl) {
        c->ssl->buffer = 0;
    }

#endif

    ctx->request = r;
    ctx->connection = c;
    ctx->send_timeout = clcf->send_timeout;
    ctx->send_lowat = clcf->send_lowat;

    ngx_noom_session_init(ctx, &ngx_noom_ws_transport, c->log, lcf, kind);
    ngx_noom_ws_parser_init(&ctx->parser, lcf->max_payload, 0);
    ctx->parser.whole = 1;

    ctx->timer.handler = ngx_noom_ws_takeover;

    if (kind == NGX_NOOM_KIND_PROXY) {
        ngx_memcpy(ctx->eio_sid, sid->data, NGX_NOOM_ID_LEN);
        ctx->owner = owner;
    }

    if (kind == NGX_NOOM_KIND_PLAIN) {
        ngx_noom_relay_plain_count(1);
        ctx->plain_early = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_send_special(r, NGX_HTTP_FLUSH) == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (clcf->tcp_nodelay && ngx_tcp_nodelay(c) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * The request is done with once the content phase has returned: the
     * connection is taken over right after, in this turn of the loop.
     */

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_request_empty_handler;
    r->main->count++;

    ngx_post_event(&ctx->timer, &ngx_posted_events);
    ngx_noom_takeovers++;

#if (NGX_NOOM_HOOKS)
    if (kind == NGX_NOOM_KIND_PLAIN) {
        ngx_noom_relay_hook_upgraded(&r->uri);
    }
#endif

    return NGX_DONE;
}


/* the request went (a client gone at once) before the takeover */

static void
ngx_noom_ws_abandon(void *data)
{
    ngx_noom_ctx_t  *ctx = data;

    if (ctx->timer.posted) {
        ngx_delete_posted_event(&ctx->timer);
        ngx_noom_takeovers--;
    }

    if (ctx->plain_early) {
        ngx_noom_relay_plain_count(-1);
    }

    ngx_free(ctx);
}


/*
 * The HTTP request is freed, as nginx frees one between keepalive
 * requests: its pool, the header buffers, the request structure (about
 * 8 KB a connection).  The access log gets its line now, status 101.
 * From here the connection's own events drive the WebSocket, and a close
 * is ngx_http_close_connection().
 */

static void
ngx_noom_ws_takeover(ngx_event_t *ev)
{
    u_char                    *p, *pos, *last;
    size_t                     len;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl, *ln;
    ngx_noom_ctx_t            *ctx;
    ngx_noom_msg_t            *m;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_connection_t     *hc;

    ctx = ev->data;
    r = ctx->request;
    c = ctx->connection;
    hc = r->http_connection;

    ev->handler = ngx_noom_ws_timer_handler;
    ngx_noom_takeovers--;

    /* what the 101 left unsent goes out first */

    m = NULL;
    len = 0;

    for (cl = r->out; cl; cl = cl->next) {
        len += ngx_buf_in_memory(cl->buf) ? cl->buf->last - cl->buf->pos : 0;
    }

    if (len) {
        m = ngx_noom_msg_alloc(len, c->log);
        if (m == NULL) {
            ngx_noom_ws_close_early(ctx, r);
            return;
        }

        m->len = len;
        p = m->data;

        for (cl = r->out; cl; cl = cl->next) {
            if (ngx_buf_in_memory(cl->buf)) {
                p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
            }
        }
    }

    ngx_noom_keep_handshake(ctx, r);

    /* the frames that came with the handshake stay in the connection's pool */

    pos = r->header_in->pos;
    last = r->header_in->last;

    r->cleanup = NULL;

    if (r->pool->cleanup == NULL) {
        ngx_http_free_request(r, 0);
        ctx->request = NULL;
        c->destroyed = 0;

    } else {
        /*
         * A module tied something to the request's life: limit_conn counts
         * the connection until its pool goes.  The request stays, and is
         * freed with the connection.
         */

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "noom: the request is kept for its pool cleanups");
    }

#if (NGX_NOOM_TLS13)

    /*
     * After the access log's line (its $ssl_ variables read OpenSSL's
     * object), and before the first byte of the WebSocket: the 101 went
     * out whole, or OpenSSL would hold the record it is in.
     */

    if (c->ssl && m == NULL && ctx->conf->tls_takeover
        && ngx_noom_tls_takeover(ctx) == NGX_ERROR)
    {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "noom: the TLS takeover failed, the connection stays "
                      "with OpenSSL");
    }

#endif

    c->data = ctx;
    c->read->handler = ngx_noom_ws_read_event;
    c->write->handler = ngx_noom_ws_write_event;
    c->log->action = "serving websocket";

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_noom_local_add(ctx, NGX_NOOM_LIST_ALL);

    if (ctx->kind != NGX_NOOM_KIND_PROXY) {
        /* a proxy is its session's transport, not a session */
        ngx_noom_stat(connections, 1);
        (void) ngx_atomic_fetch_add(&ngx_noom_shm->workers[ngx_noom_slot].conns,
                                    1);
    }

    if (m) {
        ngx_noom_queue(ctx, m);
        ngx_noom_msg_release(m);
    }

    switch (ctx->kind) {

    case NGX_NOOM_KIND_PLAIN:
        ngx_noom_plain_open(ctx);
        ngx_noom_heartbeat(ctx, ctx->conf->ping_interval);
        break;

    case NGX_NOOM_KIND_WS_ECHO:
        break;

    case NGX_NOOM_KIND_PROXY:
        ngx_noom_poll_proxy_open(ctx);
        break;

    default:
        ngx_noom_eio_open(ctx);
    }

    if (pos < last) {
        ngx_noom_ws_input(ctx, pos, last);
    }

    if (ctx->request) {
        /* a request kept for its cleanups still points into its headers */
        goto done;
    }

    /* the header buffers are not needed any more */

    b = c->buffer;

    if (b && b->start && ngx_pfree(c->pool, b->start) == NGX_OK) {
        b->start = NULL;
        b->pos = NULL;
        b->last = NULL;
    }

    for (cl = hc->free; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->free = NULL;

    for (cl = hc->busy; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->busy = NULL;
    hc->nbusy = 0;

done:

    if (c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ctx->terminate = 1;
    }

    ngx_noom_ws_post_write(ctx);
}


/* a failure before the takeover: the request is still there to end */

static void
ngx_noom_ws_close_early(ngx_noom_ctx_t *ctx, ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, NGX_ERROR);
    ngx_http_run_posted_requests(r->connection);
}


/* what the admin panel shows of the handshake, copied out of the request */

void
ngx_noom_keep_handshake(ngx_noom_ctx_t *ctx, ngx_http_request_t *r)
{
    u_char  *p;

    ctx->issued = (uint64_t) r->start_sec * 1000 + r->start_msec;

#if (NGX_HTTP_SSL)
    ctx->secure = (r->connection->ssl != NULL);
#endif

    if (!ctx->mcf->admin) {
        return;
    }

    p = ctx->nick + ctx->mcf->max_nickname;

    ctx->url.data = p;
    ctx->url.len = ngx_min(r->unparsed_uri.len, NGX_NOOM_ADMIN_STR_LEN);
    p = ngx_cpymem(p, r->unparsed_uri.data, ctx->url.len);

    ctx->ua.data = p;

    if (r->headers_in.user_agent) {
        ctx->ua.len = ngx_min(r->headers_in.user_agent->value.len,
                              NGX_NOOM_ADMIN_STR_LEN);
        p = ngx_cpymem(p, r->headers_in.user_agent->value.data,
                       ctx->ua.len);
    }

    ctx->addr.data = p;
    ctx->addr.len = ngx_min(r->connection->addr_text.len,
                            NGX_NOOM_ADMIN_ADDR_LEN);
    ngx_memcpy(p, r->connection->addr_text.data, ctx->addr.len);
}


static void
ngx_noom_ws_read_event(ngx_event_t *rev)
{
    ngx_noom_ctx_t    *ctx;
    ngx_connection_t  *c;

    c = rev->data;
    ctx = c->data;

    /*
     * worker_shutdown_timeout; nginx sets c->close only on the way out, and
     * ngx_exiting first spares a load of the connection's fourth cache line
     */

    if (ngx_exiting && c->close) {
        ngx_noom_ws_finalize(ctx);
        return;
    }

    ngx_noom_ws_read_handler(ctx);
}


static void
ngx_noom_ws_write_event(ngx_event_t *wev)
{
    ngx_noom_ctx_t    *ctx;
    ngx_connection_t  *c;

    c = wev->data;
    ctx = c->data;

    if (ngx_exiting && c->close) {
        ngx_noom_ws_finalize(ctx);
        return;
    }

    ngx_noom_ws_write_handler(ctx);
}


static void
ngx_noom_ws_read_handler(ngx_noom_ctx_t *ctx)
{
    ssize_t            n;
    ngx_uint_t         i;
    ngx_event_t       *rev;
    ngx_connection_t  *c;

    c = ctx->connection;
    rev = c->read;

    if (ctx->terminate) {
        ngx_noom_ws_finalize(ctx);
        return;
    }

    if (rev->timedout) {
        /* a message stopped arriving: its buffer goes, the client too */
        rev->timedout = 0;

        if (ctx->msg) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "noom: no byte of an unfinished message for %M ms, "
                          "closing with 1008", ctx->mcf->message_timeout);
            ngx_noom_ws_msg_free(ctx);
            ngx_noom_stat(protocol_closes, 1);
            ngx_noom_close(ctx, NGX_NOOM_WS_POLICY, "message timeout");
        }
    }

    if (ngx_noom_rbuf == NULL) {
        ngx_noom_rbuf = ngx_alloc(NGX_NOOM_RBUF_SIZE, ngx_cycle->log);
        if (ngx_noom_rbuf == NULL) {
            ngx_noom_ws_finalize(ctx);
            return;
        }
    }

    for (i = 0; i < NGX_NOOM_READ_BUDGET; i++) {

        if ((ctx->kind == NGX_NOOM_KIND_SIO
             || ctx->kind == NGX_NOOM_KIND_PLAIN)
            && !ctx->close_sent
            && ngx_noom_relay_hold(ctx) == NGX_OK)
        {
            /*
             * another worker's queue is nearly full: this input can wait;
             * an unfinished message is not late while it is not read
             */

            if (rev->timer_set) {
                ngx_del_timer(rev);
            }

            return;
        }

#if (NGX_NOOM_TLS13)
        n = ctx->tls ? ngx_noom_tls_recv(ctx, ngx_noom_rbuf, NGX_NOOM_RBUF_SIZE)
                     : c->recv(c, ngx_noom_rbuf, NGX_NOOM_RBUF_SIZE);
#else
        n = c->recv(c, ngx_noom_rbuf, NGX_NOOM_RBUF_SIZE);
#endif

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "noom: client closed the connection");
            c->error = 1;
            ngx_noom_ws_finalize(ctx);
            return;
        }

        ngx_noom_shm->workers[ngx_noom_slot].bytes_in += n;

        if (ctx->close_rcvd || ctx->parser.dead) {
            /* after a close, or an error past recovery, input is discarded */
            continue;
        }

        ngx_noom_ws_input(ctx, ngx_noom_rbuf, ngx_noom_rbuf + n);

        if (ctx->terminate) {
            ngx_noom_ws_finalize(ctx);
            return;
        }
    }

    /* an unfinished message must go on arriving */

    if (ctx->msg && !ctx->close_sent) {
        ngx_add_timer(rev, ctx->mcf->message_timeout);

    } else if (rev->timer_set) {
        ngx_del_timer(rev);
    }

    if (i == NGX_NOOM_READ_BUDGET && rev->ready && !rev->posted) {
        /*
         * let the other connections of this worker in: the posted_next
         * queue waits for the next turn of the event loop, the posted one
         * would not
         */
        ngx_post_event(rev, &ngx_posted_next_events);
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_noom_ws_finalize(ctx);
    }
}


/* the one place a WebSocket ends: ctx and the connection are gone after */

static void
ngx_noom_ws_finalize(ngx_noom_ctx_t *ctx)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    c = ctx->connection;
    r = ctx->request;

    ngx_noom_ws_cleanup(ctx);

#if (NGX_NOOM_TLS13)
    if (ctx->tls) {
        ngx_noom_tls_free(ctx, ctx->tls);
    }
#endif

    ngx_free(ctx);

    if (r) {
        ngx_http_free_request(r, 0);
    }

    ngx_http_close_connection(c);
}


static void
ngx_noom_ws_input(ngx_noom_ctx_t *ctx, u_char *pos, u_char *last)
{
    u_char                *data, *whole;
    size_t                 n, whole_len;
    ngx_int_t              rc;
    ngx_noom_ws_parser_t  *p;

    p = &ctx->parser;
    whole = NULL;
    whole_len = 0;

    for ( ;; ) {

        rc = ngx_noom_ws_parse(p, &pos, last, &data, &n);

        switch (rc) {

        case NGX_NOOM_WS_AGAIN:
            return;

        case NGX_NOOM_WS_FRAME:

            if (p->opcode & 0x8) {
                ctx->ctrl_len = 0;
                break;
            }

            if (ctx->close_sent) {
                /* only the client's close frame matters now */
                break;
            }

            if (ctx->msg_len == 0 && p->fin
                && (uint64_t) (last - pos) >= p->len)
            {
                /* the whole message is here: no copy */
                whole = NULL;
                break;
            }

            rc = ngx_noom_ws_reserve(ctx, ctx->msg_len + p->len);

            if (rc != NGX_OK) {
                /* the rest of the message is read past, never stored */
                ngx_noom_ws_msg_free(ctx);

                if (rc == NGX_DECLINED) {
                    ngx_noom_close(ctx, NGX_NOOM_WS_TRY_AGAIN,
                                   "server busy");

                } else {
                    ngx_noom_close(ctx, NGX_NOOM_WS_INTERNAL,
                                   "out of memory");
                }

                if (ctx->terminate) {
                    return;
                }
            }

            break;

        case NGX_NOOM_WS_DATA:

            if (p->opcode & 0x8) {
                ngx_memcpy(ctx->ctrl + ctx->ctrl_len, data, n);
                ctx->ctrl_len += n;
                break;
            }

            if (ctx->close_sent || ctx->terminate) {
                break;
            }

            if (ctx->msg == NULL && p->fin && n == p->len) {
                whole = data;
                whole_len = n;
                break;
            }

            if (n > ctx->msg_size - ctx->msg_len) {
                /* cannot be: every frame's bytes are reserved first */
                ngx_noom_abort(ctx, "message buffer overrun");
                return;
            }

            ngx_memcpy(ctx->msg + ctx->msg_len, data, n);
            ctx->msg_len += n;
            break;

        case NGX_NOOM_WS_MESSAGE:

            /* a message in one frame, all here: its DATA, then its END */

            whole = data;
            whole_len = n;

            /* fall through */

        case NGX_NOOM_WS_END:

            if (p->opcode & 0x8) {
                ngx_noom_ws_control(ctx);

                if (ctx->close_rcvd || ctx->terminate) {
                    return;
                }

                break;
            }

            if (!p->complete || ctx->close_sent) {
                whole = NULL;
                break;
            }

            if (whole == NULL && p->len == 0 && ctx->msg_len == 0) {
                whole = (u_char *) "";
                whole_len = 0;
            }

            if (whole) {
                ngx_noom_ws_message(ctx, p->complete, whole, whole_len);
                whole = NULL;

            } else {
                ngx_noom_ws_message(ctx, p->complete, ctx->msg,
                                    ctx->msg_len);
                ngx_noom_ws_msg_free(ctx);
            }

            if (ctx->terminate) {
                return;
            }

            break;

        default: /* NGX_NOOM_WS_ERROR */

            ngx_noom_ws_msg_free(ctx);

            whole = NULL;

            if (!ctx->close_sent) {
                ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                              "noom: %s, closing with %ui",
                              p->error, p->close_code);

                ngx_noom_stat(protocol_closes, 1);
                ngx_noom_close(ctx, p->close_code, p->error);
            }

            if (p->opcode == NGX_NOOM_WS_CLOSE) {
                /* the client has said its close, broken as it was */
                ctx->close_now = 1;
            }

            if (p->dead || p->left > ctx->conf->max_payload) {
                /*
                 * No close frame can be read past this: the stream is lost,
                 * or more is announced than would be read.  The TCP
                 * connection closes once our close frame is out.
                 */
                p->dead = 1;
                ctx->close_now = 1;
                return;
            }

            /* look on for the client's close frame */
            break;
        }
    }
}


static ngx_int_t
ngx_noom_ws_reserve(ngx_noom_ctx_t *ctx, size_t size)
{
    u_char  *p;

    if (size <= ctx->msg_size) {
        return NGX_OK;
    }

    /*
     * Fragments each ask for just their own bytes: growing by half at
     * least keeps a message in many small fragments from being copied
     * over and over.  The parser has checked size against the limit.
     */

    size = ngx_max(size, ctx->msg_size + ctx->msg_size / 2);
    size = ngx_min(size, (size_t) ctx->conf->max_payload);

    if (ngx_noom_msg_bytes - ctx->msg_size + size
        > ctx->mcf->message_buffers)
    {
        ngx_noom_stat(message_budget_closes, 1);
        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "noom: \"noom_message_buffers\" %uz of this worker "
                      "are taken by unfinished messages, closing with 1013",
                      ctx->mcf->message_buffers);
        return NGX_DECLINED;
    }

    if (ctx->msg && ngx_noom_hook("alloc", (u_char *) "ws", 2)) {
        return NGX_ERROR;
    }

    p = ngx_alloc(size, ctx->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (ctx->msg) {
        ngx_memcpy(p, ctx->msg, ctx->msg_len);
        ngx_free(ctx->msg);
    }

    ngx_noom_msg_bytes += size - ctx->msg_size;

    ctx->msg = p;
    ctx->msg_size = size;

    return NGX_OK;
}


static void
ngx_noom_ws_msg_free(ngx_noom_ctx_t *ctx)
{
    if (ctx->msg == NULL) {
        return;
    }

    ngx_noom_msg_bytes -= ctx->msg_size;

    ngx_free(ctx->msg);
    ctx->msg = NULL;
    ctx->msg_len = 0;
    ctx->msg_size = 0;
}


static void
ngx_noom_ws_control(ngx_noom_ctx_t *ctx)
{
    u_char           *payload;
    ngx_uint_t        code;
    ngx_noom_msg_t   *m;

    switch (ctx->parser.opcode) {

    case NGX_NOOM_WS_PING:

        if (ctx->close_sent || ngx_noom_rate(ctx) != NGX_OK) {
            return;
        }

        m = ngx_noom_msg_frame(NGX_NOOM_WS_PONG, ctx->ctrl_len, &payload);
        if (m == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        ngx_memcpy(payload, ctx->ctrl, ctx->ctrl_len);
        ngx_noom_send(ctx, m);
        ngx_noom_msg_release(m);
        return;

    case NGX_NOOM_WS_PONG:

        if (ctx->kind == NGX_NOOM_KIND_PLAIN && ctx->pong_wait) {
            ngx_noom_heartbeat(ctx, ctx->conf->ping_interval);
        }

        return;

    default: /* NGX_NOOM_WS_CLOSE */

        if (ngx_noom_ws_close_payload(ctx->ctrl, ctx->ctrl_len, &code)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                          "noom: invalid close frame, closing with 1002");
            ngx_noom_stat(protocol_closes, 1);
            ngx_noom_close(ctx, NGX_NOOM_WS_PROTOCOL, "invalid close frame");
            ctx->close_rcvd = 1;
            ngx_noom_ws_post_write(ctx);
            return;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "noom: close frame %ui", code);

        if (!ctx->close_sent) {
            /* echo the code, or an empty close for an empty one */
            ngx_noom_close(ctx, code, NULL);
        }

        ctx->close_rcvd = 1;
        ngx_noom_ws_post_write(ctx);
        return;
    }
}


static void
ngx_noom_ws_message(ngx_noom_ctx_t *ctx, ngx_uint_t opcode, u_char *p,
    size_t len)
{
    u_char          *payload;
    ngx_noom_msg_t  *m;

    if (ctx->close_sent
        || (ctx->kind == NGX_NOOM_KIND_PLAIN && ngx_noom_rate(ctx) != NGX_OK))
    {
        return;
    }

    switch (ctx->kind) {

    case NGX_NOOM_KIND_WS_ECHO:
        m = ngx_noom_msg_frame(opcode, len, &payload);
        if (m == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        ngx_memcpy(payload, p, len);
        ngx_noom_send(ctx, m);
        ngx_noom_msg_release(m);
        return;

    case NGX_NOOM_KIND_PLAIN:
        if (opcode != NGX_NOOM_WS_TEXT) {
            ngx_noom_close(ctx, NGX_NOOM_WS_UNSUPPORTED,
                           "binary message in the plain lobby");
            return;
        }

        ngx_noom_plain_message(ctx, p, len);
        return;

    case NGX_NOOM_KIND_PROXY:
        ngx_noom_poll_proxy_message(ctx, opcode, p, len);
        return;

    default:
        ngx_noom_eio_message(ctx, opcode, p, len);
    }
}


static void
ngx_noom_ws_close(ngx_noom_ctx_t *ctx, ngx_uint_t code, const char *why)
{
    size_t           len;
    u_char          *payload;
    ngx_msec_t       timeout;
    ngx_noom_msg_t  *m;

    if (ctx->close_sent || ctx->done) {
        return;
    }

    len = 0;

    if (code) {
        len = 2 + (why ? ngx_min(ngx_strlen(why), 123) : 0);
    }

    m = NULL;
    payload = NULL;

    if (!ngx_noom_hook("alloc", (u_char *) "ws", 2)) {
        m = ngx_noom_msg_frame(NGX_NOOM_WS_CLOSE, len, &payload);
    }

    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    if (code) {
        payload[0] = (u_char) (code >> 8);
        payload[1] = (u_char) code;
        ngx_memcpy(payload + 2, why, len - 2);
    }

    /* a close frame goes out whatever the cap says */

    ngx_noom_queue(ctx, m);
    ngx_noom_msg_release(m);

    ctx->close_sent = 1;
    ctx->close_code = code;

    if (ctx->ping.timer_set) {
        ngx_del_timer(&ctx->ping);
    }

    timeout = ctx->conf->close_timeout;

    if (ngx_exiting && timeout > 1000) {
        timeout = 1000;
    }

    ngx_add_timer(&ctx->timer, timeout);
}


static void
ngx_noom_ws_abort(ngx_noom_ctx_t *ctx, const char *why)
{
    if (ctx->done) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: closing the connection: %s", why);

    ctx->terminate = 1;
    ngx_noom_ws_post_write(ctx);
}


/* input held back for another worker's queue may be read again */

static void
ngx_noom_ws_resume(ngx_noom_ctx_t *ctx)
{
    if (!ctx->connection->read->posted) {
        ngx_post_event(ctx->connection->read, &ngx_posted_events);
    }
}


static void
ngx_noom_ws_post_write(ngx_noom_ctx_t *ctx)
{
    ngx_event_t  *wev;

    wev = ctx->connection->write;

    if (!wev->posted && !ctx->done) {
        ngx_post_event(wev, &ngx_posted_events);
    }
}


static void
ngx_noom_ws_write_handler(ngx_noom_ctx_t *ctx)
{
    ngx_int_t          rc;
    ngx_event_t       *wev;
    ngx_connection_t  *c;

    c = ctx->connection;
    wev = c->write;

    if (ctx->terminate) {
        ngx_noom_ws_finalize(ctx);
        return;
    }

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "noom: client timed out");
        c->timedout = 1;
        ngx_noom_ws_finalize(ctx);
        return;
    }

    rc = ngx_noom_ws_flush(ctx);

    if (rc == NGX_ERROR) {
        ngx_noom_ws_finalize(ctx);
        return;
    }

    if (rc == NGX_OK) {
        if (wev->timer_set) {
            ngx_del_timer(wev);
        }

        if (ctx->close_sent && (ctx->close_rcvd || ctx->close_now)) {
            /* the closing handshake is complete, or not to be waited for */
            ngx_noom_ws_finalize(ctx);
            return;
        }

    } else if (rc == NGX_DONE || !wev->timer_set) {
        /* progress was made, or the first wait: (re)start the clock */
        ngx_add_timer(wev, ctx->send_timeout);
    }

    if (ngx_handle_write_event(wev, ctx->send_lowat) != NGX_OK) {
        ngx_noom_ws_finalize(ctx);
    }
}


/*
 * NGX_OK: all sent; NGX_DONE: some sent, more to go; NGX_AGAIN: nothing
 * could be sent
 */

static ngx_int_t
ngx_noom_ws_flush(ngx_noom_ctx_t *ctx)
{
    ssize_t            sent;
    ngx_uint_t         progress;
    ngx_connection_t  *c;

    c = ctx->connection;
    progress = 0;

#if (NGX_NOOM_TLS13)

    /* the rest of a record, or a KeyUpdate, goes before any other byte */

    if (ctx->tls) {
        switch (ngx_noom_tls_flush(ctx)) {

        case NGX_OK:
            break;

        case NGX_AGAIN:
            return NGX_AGAIN;

        default:
            c->error = 1;
            return NGX_ERROR;
        }
    }

#endif

    while (ctx->out) {

        if (!c->write->ready) {
            return progress ? NGX_DONE : NGX_AGAIN;
        }

        sent = ngx_noom_ws_send(ctx);

        if (sent == NGX_ERROR) {
            c->error = 1;
            return NGX_ERROR;
        }

        if (sent == 0) {
            return progress ? NGX_DONE : NGX_AGAIN;
        }

        progress = 1;
        ngx_noom_shm->workers[ngx_noom_slot].bytes_out += sent;

        ngx_noom_ws_sent(ctx, sent);
    }

#if (NGX_NOOM_TLS13)
    if (ctx->tls && ngx_noom_tls_pending(ctx)) {
        return progress ? NGX_DONE : NGX_AGAIN;
    }
#endif

    return NGX_OK;
}


/* the messages sent, and where the first one not sent stopped */

static void
ngx_noom_ws_sent(ngx_noom_ctx_t *ctx, size_t sent)
{
    size_t           n;
    ngx_noom_out_t  *out;

    ctx->out_bytes -= sent;

    while (sent) {
        out = ctx->out;
        n = ngx_min(sent, out->msg->len - out->sent);
        out->sent += n;
        sent -= n;

        if (out->sent < out->msg->len) {
            break;
        }

        ctx->out = out->next;

        if (ctx->out == NULL) {
            ctx->out_last = &ctx->out;
            ctx->chunk = NULL;
        }

        ngx_noom_out_put(out);
    }
}


/*
 * One writev() of the first NGX_NOOM_IOV queued messages, straight from
 * the queue, or on TLS one record of them.  The bytes taken, 0 when none
 * were; wev->ready is 0 when the socket took fewer than offered.
 */

static ssize_t
ngx_noom_ws_send(ngx_noom_ctx_t *ctx)
{
    ssize_t            n;
    ngx_uint_t         i;
    ngx_iovec_t        vec;
    ngx_noom_out_t    *out;
    ngx_connection_t  *c;

    c = ctx->connection;

#if (NGX_SSL)

    /* c->ssl, or ctx->tls after the takeover; not read off c->ssl's line */

    if (ctx->secure) {
        return ngx_noom_ws_send_tls(ctx);
    }

#endif

    vec.iovs = ngx_noom_iovs;
    vec.nalloc = NGX_NOOM_IOV;
    vec.size = 0;
    i = 0;

    for (out = ctx->out; out && i < NGX_NOOM_IOV; out = out->next) {
        ngx_noom_iovs[i].iov_base = out->msg->pos + out->sent;
        ngx_noom_iovs[i].iov_len = out->msg->len - out->sent;
        vec.size += ngx_noom_iovs[i].iov_len;
        i++;
    }

    vec.count = i;

    n = ngx_writev(c, &vec);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (n == NGX_AGAIN) {
        n = 0;
    }

    if ((size_t) n < vec.size) {
        c->write->ready = 0;
    }

    c->sent += n;

    return n;
}


#if (NGX_SSL)

/*
 * The queued messages go out as one TLS record of up to 16 KB, put
 * together in a buffer of the worker: one SSL_write() and one write() for
 * what would be a record and a write() per message through
 * c->send_chain, and no 16 KB buffer per connection.
 *
 * A write that OpenSSL could not finish (NGX_AGAIN, on SSL_ERROR_WANT_WRITE
 * or _WANT_READ) has the bytes in a record of its own already, and must be
 * called again with the same bytes, or more after them.  The queue alone
 * cannot promise that: a slow consumer's queue is dropped but for the
 * message half on the wire.  So the messages offered become one message
 * of their own at the head of the queue, half on the wire: its first byte
 * is not part of the stream and counts as sent, and the bytes after it are
 * what the next write starts with.
 */

static ssize_t
ngx_noom_ws_send_tls(ngx_noom_ctx_t *ctx)
{
    u_char            *p;
    size_t             n, size;
    ssize_t            sent;
    ngx_noom_out_t    *out, *held;
    ngx_noom_msg_t    *m;
    ngx_connection_t  *c;

    c = ctx->connection;
    p = ngx_noom_tls_buf;
    size = 0;

    for (out = ctx->out; out && size < NGX_NOOM_TLS_RECORD; out = out->next) {
        n = ngx_min(out->msg->len - out->sent, NGX_NOOM_TLS_RECORD - size);
        p = ngx_cpymem(p, out->msg->pos + out->sent, n);
        size += n;
    }

#if (NGX_NOOM_TLS13)
    if (ctx->tls) {
        return ngx_noom_tls_send(ctx, ngx_noom_tls_buf, size);
    }
#endif

    sent = ngx_ssl_write(c, ngx_noom_tls_buf, size);

    if (sent != NGX_AGAIN) {
        return sent;
    }

    out = ctx->out;

    if (out->sent && size <= out->msg->len - out->sent) {
        /* the head is on the wire already, and nothing else was offered */
        return 0;
    }

    /*
     * The bytes offered and the rest of the message they end in: a message
     * is whole frames, so no frame is left half on the wire behind the one
     * message that a dropped queue keeps.
     */

    n = 0;

    for (out = ctx->out; n < size; out = out->next) {
        n += out->msg->len - out->sent;
    }

    size = n;

    m = ngx_noom_msg_alloc(1 + size, c->log);
    if (m == NULL) {
        return NGX_ERROR;
    }

    held = ngx_alloc(sizeof(ngx_noom_out_t), c->log);
    if (held == NULL) {
        ngx_free(m);
        return NGX_ERROR;
    }

    m->len = 1 + size;
    m->data[0] = '\0';

    p = m->data + 1;

    for (out = ctx->out; p < m->data + 1 + size; out = out->next) {
        p = ngx_cpymem(p, out->msg->pos + out->sent,
                       out->msg->len - out->sent);
    }

    ngx_noom_ws_sent(ctx, size);

    held->msg = m;
    held->sent = 1;
    held->chunk = 0;
    held->next = ctx->out;

    if (ctx->out == NULL) {
        ctx->out_last = &held->next;
    }

    ctx->out = held;
    ctx->out_bytes += size;

    return 0;
}

#endif


static void
ngx_noom_ws_timer_handler(ngx_event_t *ev)
{
    ngx_noom_ctx_t  *ctx;

    ctx = ev->data;

    if (ctx->close_sent) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "noom: no close frame from the client in time");
        ctx->terminate = 1;
        ngx_noom_ws_post_write(ctx);
        return;
    }

    ngx_noom_sio_timeout(ctx);
}


static void
ngx_noom_ws_cleanup(void *data)
{
    ngx_noom_ctx_t  *ctx = data;

    if (ctx->done) {
        return;
    }

    ctx->done = 1;

    if (ctx->kind == NGX_NOOM_KIND_PROXY) {
        ngx_noom_poll_proxy_cleanup(ctx);
    }

    ngx_noom_session_cleanup(ctx);

    ngx_noom_ws_msg_free(ctx);
}


/* the worker's own buffers, at its exit */

void
ngx_noom_ws_exit(void)
{
    ngx_noom_session_exit();

#if (NGX_NOOM_TLS13)
    ngx_noom_tls_exit();
#endif

    if (ngx_noom_rbuf) {
        ngx_free(ngx_noom_rbuf);
        ngx_noom_rbuf = NULL;
    }
}