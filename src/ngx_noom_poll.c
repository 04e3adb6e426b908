
/*
 * Copyright (C) noom authors
 *
 * Engine.IO v4 over HTTP long-polling, and the upgrade from it to a
 * WebSocket, on any worker.
 *
 * A polling session lives on the worker that answered its handshake, its
 * owner, whose number is in the first two bytes of the session id.  Its
 * requests, and the WebSocket that upgrades it, come to whichever worker
 * the kernel picks.  That worker parks the request (a "preq") and tells
 * the owner through the inter-worker rings (or directly, when it is the
 * owner); the owner answers the preq the same way.  A GET is answered
 * when the session has packets (its heartbeat sends one every
 * ping_interval); a POST once its packets are handed to the session.
 *
 * The upgrading WebSocket stays where it landed, as a proxy: what it
 * reads goes to the owner, which sends it the session's frames.  So the
 * session, its rooms, acks, ordering and heartbeat never move, and every
 * message between a session and its transport goes through one FIFO ring
 * between two workers, or through a direct call: nothing is reordered.
 */


#include "ngx_noom.h"


/* operations on a session, to its owner */
#define NGX_NOOM_POLL_GET          1    /* a GET waits: room = preq id */
#define NGX_NOOM_POLL_POST         2    /* a POST's body: room = preq id */
#define NGX_NOOM_POLL_GONE         3    /* a waiting GET went away */
#define NGX_NOOM_POLL_KILL         4    /* a POST was too large */
#define NGX_NOOM_POLL_WS_OPEN      5    /* a proxy: room = its serial */
#define NGX_NOOM_POLL_WS_TEXT      6    /* a text message it read */
#define NGX_NOOM_POLL_WS_BINARY    7    /* a binary one */
#define NGX_NOOM_POLL_WS_GONE      8    /* it closed */

#define NGX_NOOM_POLL_PROXIES      4096 /* buckets */
#define NGX_NOOM_POLL_WATCH        1000 /* ms: owners that changed */

/* operations on a proxy, from the owner */
#define NGX_NOOM_PROXY_OUT         1    /* frames to write */
#define NGX_NOOM_PROXY_CLOSE       2    /* close: the code, then why */

#define NGX_NOOM_POLL_NONE         ((ngx_uint_t) -1)


/* the polling transport of a session, on its owner; follows the ctx */

typedef struct {
    ngx_rbtree_node_t          node;        /* key: crc32 of the sid */
    ngx_noom_ctx_t            *ctx;
    ngx_log_t                  log;
    ngx_event_t                flush;
    ngx_event_t                end;
    ngx_uint_t                 get_worker;  /* the waiting GET */
    uint64_t                   get_id;
    ngx_uint_t                 ws_worker;   /* the probing WebSocket */
    uint64_t                   ws_serial;
    unsigned                   probed:1;
    unsigned                   upgraded:1;
} ngx_noom_poll_t;


/*
 * A request parked on the worker that accepted it.  A waiting GET on a
 * plain HTTP/1.1 keep-alive connection is not kept as an nginx request:
 * nginx finishes the request as if it had been answered, which frees its
 * pool and header buffer, and noom keeps the idle connection until the
 * answer, which it writes itself (see ngx_noom_preq_detach()).
 */

typedef struct {
    ngx_rbtree_node_t          node;        /* key: its id */
    ngx_http_request_t        *r;           /* NULL: a detached GET */
    ngx_event_t                timer;
    ngx_uint_t                 owner;
    ngx_pid_t                  owner_pid;   /* the owner's process then */
    u_char                     sid[NGX_NOOM_ID_LEN];
    unsigned                   get:1;
    unsigned                   done:1;
    unsigned                   taken:1;     /* the connection is ours */
} ngx_noom_preq_t;


typedef struct {
    ngx_noom_preq_t            preq;
    ngx_connection_t          *c;
    void                      *hc;          /* nginx's c->data */
    ngx_event_handler_pt       keepalive;   /* nginx's read handler */
    ngx_event_t                takeover;
    ngx_atomic_uint_t          number;      /* c->number, to know it again */
    ngx_msec_t                 keepalive_timeout;
    ngx_msec_t                 send_timeout;
    u_char                    *server;
    u_char                    *out;         /* the answer, while unsent */
    u_char                    *out_pos;
    u_char                    *out_last;
    size_t                     headers_len;
    u_char                     headers[1];  /* CORS, as header lines */
} ngx_noom_dget_t;


static ngx_int_t ngx_noom_poll_cors(ngx_http_request_t *r,
    ngx_http_noom_loc_conf_t *lcf);
static ngx_int_t ngx_noom_poll_header(ngx_http_request_t *r, char *key,
    u_char *value, size_t len);
static ngx_int_t ngx_noom_poll_handshake(ngx_http_request_t *r,
    ngx_http_noom_loc_conf_t *lcf, ngx_uint_t kind);
static void ngx_noom_poll_body(ngx_http_request_t *r);
static u_char *ngx_noom_poll_read_body(ngx_http_request_t *r, size_t *len);
static ngx_noom_preq_t *ngx_noom_preq_park(ngx_http_request_t *r,
    u_char *sid, ngx_uint_t owner, ngx_uint_t get);
static ngx_uint_t ngx_noom_preq_detachable(ngx_http_request_t *r);
static ngx_noom_preq_t *ngx_noom_preq_detach(ngx_http_request_t *r,
    u_char *sid, ngx_uint_t owner);
static void ngx_noom_preq_takeover(ngx_event_t *ev);
static void ngx_noom_preq_read_handler(ngx_event_t *rev);
static void ngx_noom_preq_write_handler(ngx_event_t *wev);
static void ngx_noom_preq_raw(ngx_noom_dget_t *dg, ngx_uint_t status,
    u_char *p, size_t len);
static void ngx_noom_preq_write(ngx_noom_dget_t *dg);
static void ngx_noom_preq_release(ngx_noom_dget_t *dg);
static void ngx_noom_preq_drop(ngx_noom_dget_t *dg);
static void ngx_noom_preq_free(ngx_noom_dget_t *dg);
static void ngx_noom_preq_cleanup(void *data);
static void ngx_noom_preq_timeout(ngx_event_t *ev);
static void ngx_noom_preq_answer(uint64_t id, ngx_uint_t status, u_char *p,
    size_t len);
static void ngx_noom_preq_respond(ngx_noom_preq_t *pr, ngx_uint_t status,
    u_char *p, size_t len);
static ngx_int_t ngx_noom_poll_to_owner(ngx_uint_t w, ngx_uint_t op,
    u_char *sid, uint64_t id, u_char *p, size_t len);
static ngx_int_t ngx_noom_poll_to_req(ngx_uint_t w, uint64_t id,
    ngx_uint_t status, u_char *p, size_t len);
static ngx_int_t ngx_noom_poll_to_proxy(ngx_uint_t w, uint64_t serial,
    ngx_uint_t op, ngx_noom_msg_t *m);
static void ngx_noom_poll_op(ngx_uint_t src, ngx_uint_t op, u_char *sid,
    uint64_t id, u_char *p, size_t len);
static void ngx_noom_poll_refuse(ngx_uint_t src, uint64_t id,
    ngx_uint_t code);
static void ngx_noom_poll_input(ngx_noom_ctx_t *ctx, u_char *p, size_t len);
static void ngx_noom_poll_ws_in(ngx_noom_poll_t *pl, ngx_uint_t opcode,
    u_char *p, size_t len);
static void ngx_noom_poll_proxy_op(uint64_t serial, ngx_uint_t op,
    ngx_noom_msg_t *m);
static ngx_noom_poll_t *ngx_noom_poll_find_key(ngx_rbtree_key_t key);
static ngx_noom_poll_t *ngx_noom_poll_find(u_char *sid);
static ngx_noom_ctx_t *ngx_noom_poll_proxy_find(uint64_t serial);
static void ngx_noom_poll_wake(ngx_noom_ctx_t *ctx);
static void ngx_noom_poll_flush_handler(ngx_event_t *ev);
static void ngx_noom_poll_answer_get(ngx_noom_poll_t *pl, u_char *extra,
    size_t extra_len);
static void ngx_noom_poll_detach_get(ngx_noom_poll_t *pl);
static void ngx_noom_poll_close(ngx_noom_ctx_t *ctx, ngx_uint_t reason,
    const char *why);
static void ngx_noom_poll_abort(ngx_noom_ctx_t *ctx, const char *why);
static void ngx_noom_poll_resume(ngx_noom_ctx_t *ctx);
static void ngx_noom_poll_end(ngx_noom_poll_t *pl);
static void ngx_noom_poll_end_handler(ngx_event_t *ev);
static void ngx_noom_poll_timer_handler(ngx_event_t *ev);
static void ngx_noom_wsp_wake(ngx_noom_ctx_t *ctx);
static void ngx_noom_wsp_close(ngx_noom_ctx_t *ctx, ngx_uint_t reason,
    const char *why);
static ngx_int_t ngx_noom_poll_sid_owner(u_char *sid, ngx_uint_t *w);
static void ngx_noom_poll_watch_handler(ngx_event_t *ev);
static size_t ngx_noom_poll_error_json(u_char *buf, ngx_uint_t code);
static u_char *ngx_noom_poll_scratch_get(size_t size);


ngx_noom_transport_t  ngx_noom_poll_transport = {
    "polling",
    ngx_noom_poll_wake,
    ngx_noom_poll_close,
    ngx_noom_poll_abort,
    ngx_noom_poll_resume
};


/* an upgraded polling session: its frames go to the proxy WebSocket */

static ngx_noom_transport_t  ngx_noom_wsp_transport = {
    "websocket",
    ngx_noom_wsp_wake,
    ngx_noom_wsp_close,
    ngx_noom_poll_abort,
    ngx_noom_poll_resume
};


static ngx_rbtree_t        ngx_noom_poll_sessions;
static ngx_rbtree_node_t   ngx_noom_poll_sessions_sentinel;
static ngx_rbtree_t        ngx_noom_poll_preqs;
static ngx_rbtree_node_t   ngx_noom_poll_preqs_sentinel;
static ngx_queue_t        *ngx_noom_poll_proxies;
static uint64_t            ngx_noom_poll_next_id;
static u_char             *ngx_noom_poll_scratch;
static size_t              ngx_noom_poll_scratch_size;
static ngx_event_t         ngx_noom_poll_watch;
static ngx_connection_t    ngx_noom_poll_watch_conn;    /* for logs */
static ngx_pid_t          *ngx_noom_poll_owners;    /* each slot's process */

static ngx_str_t  ngx_noom_poll_errors[] = {
    ngx_string("Transport unknown"),
    ngx_string("Session ID unknown"),
    ngx_string("Bad handshake method"),
    ngx_string("Bad request"),
    ngx_string("Forbidden"),
    ngx_string("Unsupported protocol version")
};


static u_char  ngx_noom_base64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


ngx_int_t
ngx_noom_poll_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t  i;

    ngx_rbtree_init(&ngx_noom_poll_sessions,
                    &ngx_noom_poll_sessions_sentinel,
                    ngx_rbtree_insert_value);
    ngx_rbtree_init(&ngx_noom_poll_preqs, &ngx_noom_poll_preqs_sentinel,
                    ngx_rbtree_insert_value);

    ngx_noom_poll_proxies = ngx_alloc(NGX_NOOM_POLL_PROXIES
                                      * sizeof(ngx_queue_t), cycle->log);
    if (ngx_noom_poll_proxies == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_NOOM_POLL_PROXIES; i++) {
        ngx_queue_init(&ngx_noom_poll_proxies[i]);
    }

    ngx_noom_poll_owners = ngx_alloc(ngx_noom_shm->nworkers
                                     * sizeof(ngx_pid_t), cycle->log);
    if (ngx_noom_poll_owners == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ngx_noom_shm->nworkers; i++) {
        ngx_noom_poll_owners[i] = ngx_noom_shm->workers[i].pid;
    }

    /* a debug log names the event's connection */
    ngx_noom_poll_watch_conn.fd = (ngx_socket_t) -1;
    ngx_noom_poll_watch.data = &ngx_noom_poll_watch_conn;
    ngx_noom_poll_watch.handler = ngx_noom_poll_watch_handler;
    ngx_noom_poll_watch.log = cycle->log;
    ngx_noom_poll_watch.cancelable = 1;
    ngx_add_timer(&ngx_noom_poll_watch, NGX_NOOM_POLL_WATCH);

    return NGX_OK;
}


/*
 * A request sent on to a session's owner that then died is answered by
 * nobody, and a new worker in its slot knows nothing of it.  Once a second
 * a worker looks for slots whose process changed, and tells the requests
 * it holds for their old processes that the session is unknown: the
 * sessions died with their owner (with noom_recovery their clients come
 * back recovered).
 */

static void
ngx_noom_poll_watch_handler(ngx_event_t *ev)
{
    u_char              buf[64];
    ngx_pid_t           pid;
    ngx_uint_t          w, changed, n;
    ngx_noom_preq_t    *pr;
    ngx_rbtree_node_t  *node, *next, *root, *sentinel;

    changed = 0;
    n = 0;

    for (w = 0; w < ngx_noom_shm->nworkers; w++) {
        pid = ngx_noom_shm->workers[w].pid;

        if (pid != ngx_noom_poll_owners[w]) {
            ngx_noom_poll_owners[w] = pid;
            changed = 1;
        }
    }

    root = ngx_noom_poll_preqs.root;
    sentinel = ngx_noom_poll_preqs.sentinel;

    if (changed && root != sentinel) {

        for (node = ngx_rbtree_min(root, sentinel); node; node = next) {
            next = ngx_rbtree_next(&ngx_noom_poll_preqs, node);

            pr = (ngx_noom_preq_t *) node;

            if (pr->owner == ngx_noom_slot
                || pr->owner_pid == ngx_noom_shm->workers[pr->owner].pid)
            {
                continue;
            }

            ngx_noom_preq_respond(pr, NGX_HTTP_BAD_REQUEST, buf,
                                  ngx_noom_poll_error_json(buf, 1));
            n++;
        }
    }

    if (n) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "noom: %ui polling requests answered 400: the worker "
                      "that owned their sessions is gone", n);
    }

    ngx_add_timer(ev, NGX_NOOM_POLL_WATCH);
}


/*
 * The most a POST body (and a GET answer) may hold: noom_max_payload, but
 * no more than a quarter of a worker's queue, which carries it to the
 * session's owner in one record.  The open packet says so (maxPayload),
 * and clients split what they send by it.
 */

size_t
ngx_noom_poll_max_payload(ngx_http_noom_loc_conf_t *lcf)
{
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                              ngx_http_noom_module);

    return ngx_min(lcf->max_payload, mcf->queue_size / 4);
}


/* a request with transport=polling */

ngx_int_t
ngx_noom_poll_handler(ngx_http_request_t *r, ngx_http_noom_loc_conf_t *lcf,
    ngx_uint_t kind)
{
    ngx_int_t         rc;
    ngx_str_t         sid;
    ngx_uint_t        w;
    ngx_noom_preq_t  *pr;

    ngx_noom_stat(polling_requests, 1);

    rc = ngx_noom_poll_cors(r, lcf);

    if (rc == NGX_HTTP_FORBIDDEN) {
        return ngx_noom_eio_error(r, rc, 4);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        /* the preflight of a cross-origin POST */
        (void) ngx_http_discard_request_body(r);

        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->header_only = 1;
        r->headers_out.content_length_n = 0;

        return ngx_http_send_header(r);
    }

    if (ngx_http_arg(r, (u_char *) "sid", 3, &sid) != NGX_OK) {

        if (r->method != NGX_HTTP_GET) {
            return ngx_noom_eio_error(r, NGX_HTTP_BAD_REQUEST, 2);
        }

        return ngx_noom_poll_handshake(r, lcf, kind);
    }

    if (sid.len != NGX_NOOM_ID_LEN
        || ngx_noom_poll_sid_owner(sid.data, &w) != NGX_OK)
    {
        return ngx_noom_eio_error(r, NGX_HTTP_BAD_REQUEST, 1);
    }

    if (r->method == NGX_HTTP_GET) {
        (void) ngx_http_discard_request_body(r);

        if (ngx_noom_preq_detachable(r)) {
            pr = ngx_noom_preq_detach(r, sid.data, w);
            if (pr == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_noom_poll_to_owner(w, NGX_NOOM_POLL_GET, sid.data,
                                   pr->node.key, NULL, 0);

            /* the access log has it now: noom answers it later */

            r->headers_out.status = NGX_HTTP_OK;

            return NGX_DONE;
        }

        pr = ngx_noom_preq_park(r, sid.data, w, 1);
        if (pr == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->main->count++;

        ngx_noom_poll_to_owner(w, NGX_NOOM_POLL_GET, sid.data,
                               pr->node.key, NULL, 0);

        return NGX_DONE;
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_noom_eio_error(r, NGX_HTTP_BAD_REQUEST, 3);
    }

    if (r->headers_in.content_length_n
        > (off_t) ngx_noom_poll_max_payload(lcf))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "noom: polling body of %O bytes is over %uz",
                      r->headers_in.content_length_n,
                      ngx_noom_poll_max_payload(lcf));

        ngx_noom_poll_to_owner(w, NGX_NOOM_POLL_KILL, sid.data, 0, NULL, 0);

        r->keepalive = 0;
        (void) ngx_http_discard_request_body(r);

        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_noom_poll_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * Cross-origin pages: an Origin that noom_allowed_origins lists (any, if
 * it lists none) is echoed, with credentials; any other is refused as
 * engine.io refuses it.  Same-origin requests send no Origin for a GET.
 */

static ngx_int_t
ngx_noom_poll_cors(ngx_http_request_t *r, ngx_http_noom_loc_conf_t *lcf)
{
    ngx_str_t   origin, headers, *o;
    ngx_uint_t  i, n;

    if (ngx_noom_header(r, "Origin", 6, &origin, &n) != NGX_OK) {
        return NGX_OK;
    }

    if (lcf->origins) {
        o = lcf->origins->elts;

        for (i = 0; i < lcf->origins->nelts; i++) {
            if (o[i].len == origin.len
                && ngx_strncasecmp(o[i].data, origin.data, origin.len) == 0)
            {
                break;
            }
        }

        if (i == lcf->origins->nelts) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "noom: origin \"%V\" is not allowed", &origin);

            return NGX_HTTP_FORBIDDEN;
        }
    }

    if (ngx_noom_poll_header(r, "Access-Control-Allow-Origin", origin.data,
                             origin.len) != NGX_OK
        || ngx_noom_poll_header(r, "Access-Control-Allow-Credentials",
                                (u_char *) "true", 4) != NGX_OK
        || ngx_noom_poll_header(r, "Vary", (u_char *) "Origin", 6) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method != NGX_HTTP_OPTIONS) {
        return NGX_OK;
    }

    if (ngx_noom_poll_header(r, "Access-Control-Allow-Methods",
                             (u_char *) "GET, POST, OPTIONS", 18) != NGX_OK
        || ngx_noom_poll_header(r, "Access-Control-Max-Age",
                                (u_char *) "86400", 5) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_noom_header(r, "Access-Control-Request-Headers", 30, &headers,
                        &n) == NGX_OK
        && ngx_noom_poll_header(r, "Access-Control-Allow-Headers",
                                headers.data, headers.len) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_noom_poll_header(ngx_http_request_t *r, char *key, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


/* engine.io's errors: {"code":N,"message":"..."} */

static size_t
ngx_noom_poll_error_json(u_char *buf, ngx_uint_t code)
{
    return ngx_sprintf(buf, "{\"code\":%ui,\"message\":\"%V\"}", code,
                       &ngx_noom_poll_errors[code])
           - buf;
}


ngx_int_t
ngx_noom_eio_error(ngx_http_request_t *r, ngx_uint_t status, ngx_uint_t code)
{
    ngx_buf_t  *b;

    ngx_noom_stat(handshakes_refused, 1);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "noom: refused \"%V?%V\": %V", &r->uri, &r->args,
                  &ngx_noom_poll_errors[code]);

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, 64);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last += ngx_noom_poll_error_json(b->last, code);

    return ngx_noom_http_send(r, status, "application/json", b);
}


/* a new session on this worker, answered with its open packet */

static ngx_int_t
ngx_noom_poll_handshake(ngx_http_request_t *r, ngx_http_noom_loc_conf_t *lcf,
    ngx_uint_t kind)
{
    size_t                      size;
    ngx_int_t                   rc;
    ngx_noom_ctx_t             *ctx;
    ngx_noom_poll_t            *pl;
    ngx_noom_preq_t            *pr;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_noom_module);

    rc = ngx_noom_session_may_start(r);
    if (rc != NGX_OK) {
        return rc;
    }

    (void) ngx_http_discard_request_body(r);

    size = ngx_noom_session_size(mcf, r);

    size = ngx_align(size, 8);

    ctx = ngx_noom_session_alloc(size + sizeof(ngx_noom_poll_t),
                                 r->connection->log);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pl = (ngx_noom_poll_t *) ((u_char *) ctx + size);
    pl->ctx = ctx;
    pl->log = *ngx_cycle->log;
    pl->log.connection = 0;
    pl->log.handler = NULL;
    pl->log.data = NULL;
    pl->get_worker = NGX_NOOM_POLL_NONE;
    pl->ws_worker = NGX_NOOM_POLL_NONE;

    ngx_noom_session_init(ctx, &ngx_noom_poll_transport, &pl->log, lcf,
                          kind);

    ctx->poll = pl;
    ctx->timer.handler = ngx_noom_poll_timer_handler;

    pl->flush.handler = ngx_noom_poll_flush_handler;
    pl->flush.data = pl;
    pl->flush.log = &pl->log;
    pl->end.handler = ngx_noom_poll_end_handler;
    pl->end.data = pl;
    pl->end.log = &pl->log;

    do {
        if (ngx_noom_random_id(ctx->eio_sid) != NGX_OK) {
            ngx_free(ctx);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the owner in the first 3 characters, 18 bits; 102 random bits */

        ctx->eio_sid[0] = ngx_noom_base64url[(ngx_noom_slot >> 12) & 0x3f];
        ctx->eio_sid[1] = ngx_noom_base64url[(ngx_noom_slot >> 6) & 0x3f];
        ctx->eio_sid[2] = ngx_noom_base64url[ngx_noom_slot & 0x3f];

        pl->node.key = ngx_hash_key(ctx->eio_sid, NGX_NOOM_ID_LEN);

    } while (ngx_noom_poll_find_key(pl->node.key) != NULL);

    ngx_noom_keep_handshake(ctx, r);

    ngx_rbtree_insert(&ngx_noom_poll_sessions, &pl->node);

    ngx_noom_local_add(ctx, NGX_NOOM_LIST_ALL);
    ngx_noom_stat(connections, 1);
    (void) ngx_atomic_fetch_add(&ngx_noom_shm->workers[ngx_noom_slot].conns, 1);
    (void) ngx_atomic_fetch_add(&ngx_noom_shm->workers[ngx_noom_slot].polling,
                                1);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "noom: polling session %*s opened",
                   (size_t) NGX_NOOM_ID_LEN, ctx->eio_sid);

    /* the handshake is the session's first GET: the open packet answers */

    pr = ngx_noom_preq_park(r, ctx->eio_sid, ngx_noom_slot, 1);
    if (pr == NULL) {
        ngx_noom_poll_end(pl);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    pl->get_worker = ngx_noom_slot;
    pl->get_id = pr->node.key;
    (void) ngx_atomic_fetch_add(&ngx_noom_shm->workers[ngx_noom_slot].waiting,
                                1);

    ngx_noom_eio_open(ctx);

    return NGX_DONE;
}


/* a POST's body is in: the session gets it */

static void
ngx_noom_poll_body(ngx_http_request_t *r)
{
    u_char                    *p;
    size_t                     len;
    ngx_str_t                  sid;
    ngx_uint_t                 w;
    ngx_noom_preq_t           *pr;
    ngx_http_noom_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_noom_module);

    (void) ngx_http_arg(r, (u_char *) "sid", 3, &sid);
    (void) ngx_noom_poll_sid_owner(sid.data, &w);

    p = ngx_noom_poll_read_body(r, &len);

    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (len > ngx_noom_poll_max_payload(lcf)) {
        ngx_noom_poll_to_owner(w, NGX_NOOM_POLL_KILL, sid.data, 0, NULL, 0);
        r->keepalive = 0;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return;
    }

    pr = ngx_noom_preq_park(r, sid.data, w, 0);
    if (pr == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_noom_poll_to_owner(w, NGX_NOOM_POLL_POST, sid.data, pr->node.key,
                           p, len);
}


/* the body in one piece: in memory, or read back from its file */

static u_char *
ngx_noom_poll_read_body(ngx_http_request_t *r, size_t *len)
{
    u_char       *p, *last;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    *len = 0;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return (u_char *) "";
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        size += b->in_file ? (size_t) (b->file_last - b->file_pos)
                           : (size_t) (b->last - b->pos);
    }

    *len = size;

    if (size > ngx_noom_poll_max_payload(
                   ngx_http_get_module_loc_conf(r, ngx_http_noom_module)))
    {
        return (u_char *) "";
    }

    p = ngx_pnalloc(r->pool, size + 1);
    if (p == NULL) {
        return NULL;
    }

    last = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            last = ngx_cpymem(last, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, last, b->file_last - b->file_pos,
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            return NULL;
        }

        last += n;
    }

    return p;
}


static ngx_noom_preq_t *
ngx_noom_preq_park(ngx_http_request_t *r, u_char *sid, ngx_uint_t owner,
    ngx_uint_t get)
{
    ngx_noom_preq_t           *pr;
    ngx_pool_cleanup_t        *cln;
    ngx_http_noom_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_noom_module);

    pr = ngx_pcalloc(r->pool, sizeof(ngx_noom_preq_t));
    if (pr == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    pr->r = r;
    pr->owner = owner;
    pr->owner_pid = ngx_noom_shm->workers[owner].pid;
    pr->get = get;
    ngx_memcpy(pr->sid, sid, NGX_NOOM_ID_LEN);
    pr->node.key = ++ngx_noom_poll_next_id;

    ngx_rbtree_insert(&ngx_noom_poll_preqs, &pr->node);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "noom: polling %s %ui parked for worker %ui",
                   get ? "GET" : "POST", pr->node.key, owner);

    cln->handler = ngx_noom_preq_cleanup;
    cln->data = pr;

    /*
     * Should the owner never answer (its queue was full, it died), the
     * client is told its session is unknown once a ping would be overdue.
     */

    pr->timer.handler = ngx_noom_preq_timeout;
    pr->timer.data = pr;
    pr->timer.log = r->connection->log;
    ngx_add_timer(&pr->timer, lcf->ping_interval + lcf->ping_timeout);

    /* a client that goes away ends the request, and the cleanup tells */

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return pr;
}


/*
 * A GET that waits needs of its request only the connection: without TLS,
 * HTTP/2, a body or a pipelined request behind it, nginx may finish the
 * request (it logs it, frees its pool and the header buffer and keeps the
 * connection alive) and noom writes the answer on the idle connection.
 */

static ngx_uint_t
ngx_noom_preq_detachable(ngx_http_request_t *r)
{
#if (NGX_HTTP_V2)
    if (r->stream) {
        return 0;
    }
#endif

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        return 0;
    }
#endif

    return r->http_version == NGX_HTTP_VERSION_11
           && r->keepalive
           && r->main->count == 1
           && !r->discard_body
           && !r->connection->read->eof
           && r->headers_in.content_length_n <= 0
           && !r->headers_in.chunked
           && r->header_in->pos == r->header_in->last
           && !ngx_exiting
           && !ngx_terminate;
}


static ngx_noom_preq_t *
ngx_noom_preq_detach(ngx_http_request_t *r, u_char *sid, ngx_uint_t owner)
{
    u_char                    *p;
    size_t                     len;
    ngx_uint_t                 i;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h;
    ngx_noom_dget_t           *dg;
    ngx_connection_t          *c;
    ngx_http_noom_loc_conf_t  *lcf;
    ngx_http_core_loc_conf_t  *clcf;

    c = r->connection;
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_noom_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* the headers noom added (CORS) go with the answer */

    len = 0;
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash) {
            len += h[i].key.len + sizeof(": ") - 1 + h[i].value.len
                   + sizeof(CRLF) - 1;
        }
    }

    dg = ngx_alloc(sizeof(ngx_noom_dget_t) + len, c->log);
    if (dg == NULL) {
        return NULL;
    }

    ngx_memzero(dg, sizeof(ngx_noom_dget_t));

    p = dg->headers;
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash) {
            p = ngx_cpymem(p, h[i].key.data, h[i].key.len);
            *p++ = ':'; *p++ = ' ';
            p = ngx_cpymem(p, h[i].value.data, h[i].value.len);
            *p++ = CR; *p++ = LF;
        }
    }

    dg->headers_len = len;
    dg->c = c;
    dg->number = c->number;
    dg->keepalive_timeout = clcf->keepalive_timeout;
    dg->send_timeout = clcf->send_timeout;
    dg->server = (u_char *) (clcf->server_tokens == NGX_HTTP_SERVER_TOKENS_ON
                             ? NGINX_VER : "nginx");

    dg->preq.owner = owner;
    dg->preq.owner_pid = ngx_noom_shm->workers[owner].pid;
    dg->preq.get = 1;
    ngx_memcpy(dg->preq.sid, sid, NGX_NOOM_ID_LEN);
    dg->preq.node.key = ++ngx_noom_poll_next_id;

    ngx_rbtree_insert(&ngx_noom_poll_preqs, &dg->preq.node);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "noom: polling GET %ui detached for worker %ui",
                   dg->preq.node.key, owner);

    /* an owner on this worker answers every GET at once or in time */

    if (owner != ngx_noom_slot) {
        dg->preq.timer.handler = ngx_noom_preq_timeout;
        dg->preq.timer.data = &dg->preq;
        dg->preq.timer.log = c->log;
        ngx_add_timer(&dg->preq.timer,
                      lcf->ping_interval + lcf->ping_timeout);
    }

    /* nginx puts the connection to keep-alive first, then it is ours */

    dg->takeover.handler = ngx_noom_preq_takeover;
    dg->takeover.data = dg;
    dg->takeover.log = c->log;
    ngx_post_event(&dg->takeover, &ngx_posted_events);

    return &dg->preq;
}


static void
ngx_noom_preq_takeover(ngx_event_t *ev)
{
    ngx_noom_dget_t   *dg;
    ngx_connection_t  *c;

    dg = ev->data;
    c = dg->c;

    if (c->fd == (ngx_socket_t) -1 || c->number != dg->number
        || !c->destroyed || c->data == NULL)
    {
        /* nginx closed the connection instead */
        ngx_noom_preq_cleanup(&dg->preq);
        ngx_noom_preq_free(dg);
        return;
    }

    dg->hc = c->data;
    dg->keepalive = c->read->handler;

    c->data = dg;
    c->read->handler = ngx_noom_preq_read_handler;
    c->write->handler = ngx_noom_preq_write_handler;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    c->idle = 0;
    ngx_reusable_connection(c, 0);

    dg->preq.taken = 1;

    if (dg->preq.done) {
        if (dg->out == NULL) {
            ngx_noom_preq_drop(dg);
            return;
        }

        ngx_noom_preq_write(dg);
    }
}


/* while it waits, the client may only go away */

static void
ngx_noom_preq_read_handler(ngx_event_t *rev)
{
    u_char             buf[1];
    ssize_t            n;
    ngx_err_t          err;
    ngx_noom_dget_t   *dg;
    ngx_connection_t  *c;

    c = rev->data;
    dg = c->data;

    if (c->close || rev->timedout) {
        ngx_noom_preq_drop(dg);
        return;
    }

    n = recv(c->fd, buf, 1, MSG_PEEK);
    err = ngx_socket_errno;

    if (n > 0) {
        /* a pipelined request: nginx reads it after the answer */
        return;
    }

    if (n == -1 && (err == NGX_EAGAIN || err == NGX_EINTR)) {
        rev->ready = 0;

        if (ngx_handle_read_event(rev, 0) != NGX_OK) {
            ngx_noom_preq_drop(dg);
        }

        return;
    }

    rev->eof = 1;
    c->error = (n == -1);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, err,
                   "noom: the client of waiting GET %ui went away",
                   dg->preq.node.key);

    ngx_noom_preq_drop(dg);
}


static void
ngx_noom_preq_write_handler(ngx_event_t *wev)
{
    ngx_noom_dget_t   *dg;
    ngx_connection_t  *c;

    c = wev->data;
    dg = c->data;

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "client timed out");
        c->timedout = 1;
        ngx_noom_preq_drop(dg);
        return;
    }

    if (dg->out_pos < dg->out_last) {
        ngx_noom_preq_write(dg);
    }
}


/* the answer, as nginx's header filter would have written it */

static void
ngx_noom_preq_raw(ngx_noom_dget_t *dg, ngx_uint_t status, u_char *p,
    size_t len)
{
    u_char     *last;
    size_t      size;
    ngx_str_t  *line;

    static ngx_str_t  lines[] = {
        ngx_string("200 OK"),
        ngx_string("400 Bad Request"),
        ngx_string("500 Internal Server Error"),
        ngx_string("503 Service Temporarily Unavailable")
    };

    switch (status) {
    case NGX_HTTP_OK:
        line = &lines[0];
        break;
    case NGX_HTTP_BAD_REQUEST:
        line = &lines[1];
        break;
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        line = &lines[3];
        break;
    default:
        line = &lines[2];
    }

    size = sizeof("HTTP/1.1 " CRLF "Server: " CRLF "Date: " CRLF
                  "Content-Type: text/plain; charset=UTF-8" CRLF
                  "Content-Length: " CRLF "Connection: keep-alive" CRLF
                  CRLF) - 1
           + line->len + ngx_strlen(dg->server)
           + sizeof("Mon, 28 Sep 1970 06:00:00 GMT") - 1
           + NGX_SIZE_T_LEN + dg->headers_len + len;

    dg->out = ngx_alloc(size, dg->c->log);
    if (dg->out == NULL) {
        return;
    }

    last = ngx_sprintf(dg->out, "HTTP/1.1 %V" CRLF "Server: %s" CRLF
                       "Date: %V" CRLF "Content-Type: %s" CRLF
                       "Content-Length: %uz" CRLF
                       "Connection: keep-alive" CRLF,
                       line, dg->server, &ngx_cached_http_time,
                       status == NGX_HTTP_OK ? "text/plain; charset=UTF-8"
                                             : "application/json",
                       len);

    last = ngx_cpymem(last, dg->headers, dg->headers_len);
    *last++ = CR; *last++ = LF;
    last = ngx_cpymem(last, p, len);

    dg->out_pos = dg->out;
    dg->out_last = last;
}


static void
ngx_noom_preq_write(ngx_noom_dget_t *dg)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = dg->c;

    while (dg->out_pos < dg->out_last) {

        n = c->send(c, dg->out_pos, dg->out_last - dg->out_pos);

        if (n == NGX_ERROR) {
            c->error = 1;
            ngx_noom_preq_drop(dg);
            return;
        }

        if (n == NGX_AGAIN) {
            ngx_add_timer(c->write, dg->send_timeout);

            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_noom_preq_drop(dg);
            }

            return;
        }

        dg->out_pos += n;
    }

    c->sent += dg->out_last - dg->out;

    ngx_noom_preq_release(dg);
}


/* answered: the connection is nginx's again, idle as nginx left it */

static void
ngx_noom_preq_release(ngx_noom_dget_t *dg)
{
    ngx_msec_t         timeout;
    ngx_event_t       *rev, *wev;
    ngx_connection_t  *c;

    c = dg->c;
    rev = c->read;
    wev = c->write;
    timeout = dg->keepalive_timeout;

    c->data = dg->hc;
    rev->handler = dg->keepalive;
    wev->handler = ngx_http_empty_handler;

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    ngx_noom_preq_free(dg);

    if (ngx_exiting || ngx_terminate) {
        ngx_http_close_connection(c);
        return;
    }

    if (wev->active && (ngx_event_flags & NGX_USE_LEVEL_EVENT)) {
        if (ngx_del_event(wev, NGX_WRITE_EVENT, 0) != NGX_OK) {
            ngx_http_close_connection(c);
            return;
        }
    }

    c->idle = 1;
    ngx_reusable_connection(c, 1);

    ngx_add_timer(rev, timeout);

    if (rev->ready) {
        ngx_post_event(rev, &ngx_posted_events);
    }
}


/* the client went away, or the connection failed: no answer */

static void
ngx_noom_preq_drop(ngx_noom_dget_t *dg)
{
    ngx_connection_t  *c;

    c = dg->c;
    c->data = dg->hc;

    ngx_noom_preq_cleanup(&dg->preq);
    ngx_noom_preq_free(dg);

    ngx_http_close_connection(c);
}


static void
ngx_noom_preq_free(ngx_noom_dget_t *dg)
{
    if (dg->takeover.posted) {
        ngx_delete_posted_event(&dg->takeover);
    }

    if (dg->preq.timer.timer_set) {
        ngx_del_timer(&dg->preq.timer);
    }

    if (dg->out) {
        ngx_free(dg->out);
    }

    ngx_free(dg);
}


static void
ngx_noom_preq_cleanup(void *data)
{
    uint64_t          id;
    ngx_noom_preq_t  *pr;

    pr = data;

    if (pr->timer.timer_set) {
        ngx_del_timer(&pr->timer);
    }

    if (pr->done) {
        return;
    }

    pr->done = 1;

    /* ngx_rbtree_delete() zeroes the key */

    id = pr->node.key;
    ngx_rbtree_delete(&ngx_noom_poll_preqs, &pr->node);

    if (pr->get && ngx_noom_shm) {
        ngx_noom_poll_to_owner(pr->owner, NGX_NOOM_POLL_GONE, pr->sid, id,
                               NULL, 0);
    }
}


static void
ngx_noom_preq_timeout(ngx_event_t *ev)
{
    ngx_noom_preq_t  *pr;
    u_char            buf[64];

    pr = ev->data;

    ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                  "noom: no answer from worker %ui for a polling request",
                  pr->owner);

    ngx_noom_preq_respond(pr, NGX_HTTP_BAD_REQUEST, buf,
                          ngx_noom_poll_error_json(buf, 1));
}


/* an answer from a session's owner, to a request parked here */

static void
ngx_noom_preq_answer(uint64_t id, ngx_uint_t status, u_char *p, size_t len)
{
    ngx_rbtree_node_t  *node;

    node = ngx_noom_rbtree_find(&ngx_noom_poll_preqs, id);

    if (node) {
        ngx_noom_preq_respond((ngx_noom_preq_t *) node, status, p, len);
    }

    /* else the client went away meanwhile: the owner was told */
}


static void
ngx_noom_preq_respond(ngx_noom_preq_t *pr, ngx_uint_t status, u_char *p,
    size_t len)
{
    ngx_buf_t           *b;
    ngx_http_request_t  *r;

    r = pr->r;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "noom: polling request %ui answered %ui, %uz bytes",
                   pr->node.key, status, len);

    pr->done = 1;
    ngx_rbtree_delete(&ngx_noom_poll_preqs, &pr->node);

    if (pr->timer.timer_set) {
        ngx_del_timer(&pr->timer);
    }

    if (r == NULL) {
        ngx_noom_preq_raw((ngx_noom_dget_t *) pr, status, p, len);

        /* before nginx let go of the connection, the takeover writes */

        if (pr->taken) {
            if (((ngx_noom_dget_t *) pr)->out == NULL) {
                ngx_noom_preq_drop((ngx_noom_dget_t *) pr);
                return;
            }

            ngx_noom_preq_write((ngx_noom_dget_t *) pr);
        }

        return;
    }

    r->read_event_handler = ngx_http_block_reading;

    b = ngx_create_temp_buf(r->pool, ngx_max(len, 1));
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->last = ngx_cpymem(b->last, p, len);

    ngx_http_finalize_request(r, ngx_noom_http_send(r, status,
                                  status == NGX_HTTP_OK
                                  ? "text/plain; charset=UTF-8"
                                  : "application/json", b));
}


/* messages between workers, or calls when both ends are here */

static ngx_int_t
ngx_noom_poll_to_owner(ngx_uint_t w, ngx_uint_t op, u_char *sid,
    uint64_t id, u_char *p, size_t len)
{
    u_char     *buf;
    ngx_int_t   rc;
    u_char      err[64];

    if (w == ngx_noom_slot) {
        ngx_noom_poll_op(w, op, sid, id, p, len);
        return NGX_OK;
    }

    if (ngx_noom_shm->workers[w].pid == 0) {
        /* a slot of no worker now: its sessions went with an old one */

        if (op == NGX_NOOM_POLL_GET || op == NGX_NOOM_POLL_POST) {
            ngx_noom_preq_answer(id, NGX_HTTP_BAD_REQUEST, err,
                                 ngx_noom_poll_error_json(err, 1));
        }

        return NGX_ERROR;
    }

    buf = ngx_noom_poll_scratch_get(NGX_NOOM_ID_LEN + len);
    if (buf == NULL) {
        rc = NGX_ERROR;
        goto failed;
    }

    ngx_memcpy(buf, sid, NGX_NOOM_ID_LEN);

    if (len) {
        ngx_memcpy(buf + NGX_NOOM_ID_LEN, p, len);
    }

    ngx_noom_zone_lock();
    rc = ngx_noom_ring_put_locked(w, NGX_NOOM_REC_POLL, id, op, buf,
                                  NGX_NOOM_ID_LEN + len);
    ngx_noom_zone_unlock();

    if (rc == NGX_OK) {
        ngx_noom_relay_wake(w);
        return NGX_OK;
    }

failed:

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "noom: the queue of worker %ui is full, a polling "
                  "request is refused", w);

    if (op == NGX_NOOM_POLL_GET || op == NGX_NOOM_POLL_POST) {
        ngx_noom_preq_answer(id, NGX_HTTP_SERVICE_UNAVAILABLE,
                             (u_char *) "{}", 2);
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_noom_poll_to_req(ngx_uint_t w, uint64_t id, ngx_uint_t status,
    u_char *p, size_t len)
{
    ngx_int_t  rc;

    if (w == ngx_noom_slot) {
        ngx_noom_preq_answer(id, status, p, len);
        return NGX_OK;
    }

    ngx_noom_zone_lock();
    rc = ngx_noom_ring_put_locked(w, NGX_NOOM_REC_PREQ, id, status, p, len);
    ngx_noom_zone_unlock();

    if (rc == NGX_OK) {
        ngx_noom_relay_wake(w);
        return NGX_OK;
    }

    /* the request is told by its own timer */

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "noom: the queue of worker %ui is full, a polling "
                  "answer is lost", w);

    return NGX_ERROR;
}


static ngx_int_t
ngx_noom_poll_to_proxy(ngx_uint_t w, uint64_t serial, ngx_uint_t op,
    ngx_noom_msg_t *m)
{
    ngx_int_t  rc;

    if (w == ngx_noom_slot) {
        ngx_noom_poll_proxy_op(serial, op, m);
        return NGX_OK;
    }

    ngx_noom_zone_lock();
    rc = ngx_noom_ring_put_locked(w, NGX_NOOM_REC_PROXY, serial, op,
                                  m ? m->pos : NULL, m ? m->len : 0);
    ngx_noom_zone_unlock();

    if (rc == NGX_OK) {
        ngx_noom_relay_wake(w);
    }

    return rc;
}


/* what the rings bring for this module */

void
ngx_noom_poll_record(ngx_noom_rec_t *rec, u_char *payload)
{
    ngx_noom_msg_t  *m;

    switch (rec->type) {

    case NGX_NOOM_REC_POLL:

        if (rec->len < NGX_NOOM_ID_LEN) {
            return;
        }

        ngx_noom_poll_op(rec->src, rec->target, payload, rec->room,
                         payload + NGX_NOOM_ID_LEN,
                         rec->len - NGX_NOOM_ID_LEN);
        return;

    case NGX_NOOM_REC_PREQ:
        ngx_noom_preq_answer(rec->room, rec->target, payload, rec->len);
        return;

    default: /* NGX_NOOM_REC_PROXY */

        if (rec->len == 0) {
            ngx_noom_poll_proxy_op(rec->room, rec->target, NULL);
            return;
        }

        m = ngx_noom_msg_copy(payload, rec->len);
        if (m == NULL) {
            return;
        }

        ngx_noom_poll_proxy_op(rec->room, rec->target, m);
        ngx_noom_msg_release(m);
    }
}


/* on the owner: a request or a proxy's news about one of its sessions */

static void
ngx_noom_poll_op(ngx_uint_t src, ngx_uint_t op, u_char *sid, uint64_t id,
    u_char *p, size_t len)
{
    ngx_noom_ctx_t   *ctx;
    ngx_noom_poll_t  *pl;

    pl = ngx_noom_poll_find(sid);

    if (pl != NULL && op == NGX_NOOM_POLL_GET) {
        ngx_noom_heartbeat_due(pl->ctx);
    }

    if (pl == NULL || pl->ctx->close_sent) {

        switch (op) {

        case NGX_NOOM_POLL_GET:
        case NGX_NOOM_POLL_POST:
            ngx_noom_poll_refuse(src, id, 1);
            return;

        case NGX_NOOM_POLL_WS_OPEN:
        case NGX_NOOM_POLL_WS_TEXT:
        case NGX_NOOM_POLL_WS_BINARY:
            ngx_noom_poll_to_proxy(src, id, NGX_NOOM_PROXY_CLOSE, NULL);
            return;

        default:
            return;
        }
    }

    ctx = pl->ctx;

    switch (op) {

    case NGX_NOOM_POLL_GET:

        if (pl->upgraded) {
            ngx_noom_poll_refuse(src, id, 3);
            return;
        }

        if (pl->get_worker != NGX_NOOM_POLL_NONE) {
            ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                          "noom: overlapping polling GETs, closing");
            ngx_noom_poll_refuse(src, id, 3);
            ngx_noom_stat(protocol_closes, 1);
            ngx_noom_close(ctx, NGX_NOOM_END_POLICY, "overlapping GETs");
            return;
        }

        pl->get_worker = src;
        pl->get_id = id;
        (void) ngx_atomic_fetch_add(
                   &ngx_noom_shm->workers[ngx_noom_slot].waiting, 1);

        if (pl->probed) {
            /* the client upgrades once this GET is over: no waiting */
            ngx_noom_poll_answer_get(pl, (u_char *) "6", 1);
            return;
        }

        if (ctx->out) {
            ngx_noom_poll_wake(ctx);
        }

        return;

    case NGX_NOOM_POLL_POST:

        if (pl->upgraded) {
            ngx_noom_poll_refuse(src, id, 3);
            return;
        }

        /*
         * The packets first: a POST parked here is freed with its body
         * once its answer is written.
         */

        ngx_noom_poll_input(ctx, p, len);
        ngx_noom_poll_to_req(src, id, NGX_HTTP_OK, (u_char *) "ok", 2);
        return;

    case NGX_NOOM_POLL_GONE:

        if (pl->get_worker == src && pl->get_id == id) {
            ngx_noom_poll_detach_get(pl);

            ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                          "noom: the client closed its polling request");

            ngx_noom_poll_end(pl);
        }

        return;

    case NGX_NOOM_POLL_KILL:
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: polling body too large, closing");
        ngx_noom_stat(protocol_closes, 1);
        ngx_noom_close(ctx, NGX_NOOM_END_TOO_BIG, "payload too large");
        return;

    case NGX_NOOM_POLL_WS_OPEN:

        if (pl->upgraded || pl->ws_worker != NGX_NOOM_POLL_NONE) {
            /* one WebSocket per session */
            ngx_noom_poll_to_proxy(src, id, NGX_NOOM_PROXY_CLOSE, NULL);
            return;
        }

        pl->ws_worker = src;
        pl->ws_serial = id;
        return;

    case NGX_NOOM_POLL_WS_TEXT:
    case NGX_NOOM_POLL_WS_BINARY:

        if (pl->ws_worker != src || pl->ws_serial != id) {
            ngx_noom_poll_to_proxy(src, id, NGX_NOOM_PROXY_CLOSE, NULL);
            return;
        }

        ngx_noom_poll_ws_in(pl, op == NGX_NOOM_POLL_WS_BINARY
                                ? NGX_NOOM_WS_BINARY : NGX_NOOM_WS_TEXT,
                            p, len);
        return;

    default: /* NGX_NOOM_POLL_WS_GONE */

        if (pl->ws_worker != src || pl->ws_serial != id) {
            return;
        }

        pl->ws_worker = NGX_NOOM_POLL_NONE;
        pl->probed = 0;

        if (pl->upgraded) {
            ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                          "noom: client closed the connection");
            ngx_noom_poll_end(pl);
        }
    }
}


static void
ngx_noom_poll_refuse(ngx_uint_t src, uint64_t id, ngx_uint_t code)
{
    u_char  buf[64];

    ngx_noom_poll_to_req(src, id, NGX_HTTP_BAD_REQUEST, buf,
                         ngx_noom_poll_error_json(buf, code));
}


/* a POST's packets, handed to the session one by one */

static void
ngx_noom_poll_input(ngx_noom_ctx_t *ctx, u_char *p, size_t len)
{
    u_char     *pos, *last, *data;
    size_t      n;
    ngx_int_t   rc;
    ngx_uint_t  binary;

    pos = p;
    last = p + len;

    while (!ctx->close_sent && !ctx->done) {

        rc = ngx_noom_eio_payload_next(&pos, last, &data, &n, &binary);

        if (rc == NGX_DONE) {
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                          "noom: invalid polling payload, closing");

            ngx_noom_stat(protocol_closes, 1);
            ngx_noom_close(ctx, NGX_NOOM_END_POLICY, "invalid payload");
            return;
        }

        ngx_noom_eio_message(ctx, binary ? NGX_NOOM_WS_BINARY
                                         : NGX_NOOM_WS_TEXT, data, n);
    }
}


/* what the upgrading WebSocket read */

static void
ngx_noom_poll_ws_in(ngx_noom_poll_t *pl, ngx_uint_t opcode, u_char *p,
    size_t len)
{
    u_char          *payload;
    ngx_noom_ctx_t  *ctx;
    ngx_noom_msg_t  *m;

    ctx = pl->ctx;

    if (pl->upgraded) {
        ngx_noom_eio_message(ctx, opcode, p, len);
        return;
    }

    if (opcode == NGX_NOOM_WS_TEXT && len == 6
        && ngx_strncmp(p, "2probe", 6) == 0)
    {
        m = ngx_noom_msg_frame(NGX_NOOM_WS_TEXT, 6, &payload);
        if (m == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        ngx_memcpy(payload, "3probe", 6);
        ngx_noom_poll_to_proxy(pl->ws_worker, pl->ws_serial,
                               NGX_NOOM_PROXY_OUT, m);
        ngx_noom_msg_release(m);

        /*
         * The client waits for its GET to end before it upgrades: the
         * one waiting now, or the one on its way, gets a noop at once.
         */

        pl->probed = 1;
        ngx_noom_poll_answer_get(pl, (u_char *) "6", 1);
        return;
    }

    if (opcode == NGX_NOOM_WS_TEXT && len == 1 && p[0] == '5') {

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "noom: session %*s upgraded to websocket",
                       (size_t) NGX_NOOM_ID_LEN, ctx->eio_sid);

        ngx_noom_poll_answer_get(pl, (u_char *) "6", 1);

        pl->upgraded = 1;
        ctx->transport = &ngx_noom_wsp_transport;

        ngx_noom_stat(upgrades, 1);
        (void) ngx_atomic_fetch_add(
                   &ngx_noom_shm->workers[ngx_noom_slot].polling, -1);

        ngx_noom_admin_upgraded(ctx);

        if (ctx->out) {
            ngx_noom_wsp_wake(ctx);
        }

        return;
    }

    /* nothing else is said before the upgrade */

    ngx_noom_poll_to_proxy(pl->ws_worker, pl->ws_serial, NGX_NOOM_PROXY_CLOSE,
                           NULL);
    pl->ws_worker = NGX_NOOM_POLL_NONE;
    pl->probed = 0;
}


/* on the proxy's worker: frames to write, or the end */

static void
ngx_noom_poll_proxy_op(uint64_t serial, ngx_uint_t op, ngx_noom_msg_t *m)
{
    u_char           why[124];
    size_t           n;
    ngx_noom_ctx_t  *ctx;

    ctx = ngx_noom_poll_proxy_find(serial);

    if (ctx == NULL) {
        return;
    }

    if (op == NGX_NOOM_PROXY_OUT) {
        if (m) {
            ngx_noom_send(ctx, m);
        }

        return;
    }

    ctx->proxy_closed = 1;

    if (m == NULL || m->len < 2) {
        ngx_noom_close(ctx, NGX_NOOM_END_POLICY, "session closed");
        return;
    }

    n = ngx_min(m->len - 2, sizeof(why) - 1);
    ngx_memcpy(why, m->pos + 2, n);
    why[n] = '\0';

    ngx_noom_close(ctx, (m->pos[0] << 8) | m->pos[1], (char *) why);
}


/* a WebSocket with the sid of a polling session */

ngx_int_t
ngx_noom_poll_proxy_sid(ngx_str_t *sid, ngx_uint_t *w)
{
    if (sid->len != NGX_NOOM_ID_LEN
        || ngx_noom_poll_sid_owner(sid->data, w) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


void
ngx_noom_poll_proxy_open(ngx_noom_ctx_t *ctx)
{
    /* a proxy is in no room: its room link is its link in the table */

    ngx_queue_insert_tail(
        &ngx_noom_poll_proxies[ctx->serial % NGX_NOOM_POLL_PROXIES],
        &ctx->room_queue);

    ngx_noom_poll_to_owner(ctx->owner, NGX_NOOM_POLL_WS_OPEN, ctx->eio_sid,
                           ctx->serial, NULL, 0);
}


void
ngx_noom_poll_proxy_message(ngx_noom_ctx_t *ctx, ngx_uint_t opcode,
    u_char *p, size_t len)
{
    if (ngx_noom_poll_to_owner(ctx->owner,
                               opcode == NGX_NOOM_WS_BINARY
                               ? NGX_NOOM_POLL_WS_BINARY
                               : NGX_NOOM_POLL_WS_TEXT,
                               ctx->eio_sid, ctx->serial, p, len)
        != NGX_OK)
    {
        ngx_noom_abort(ctx, "a worker queue is full");
    }
}


void
ngx_noom_poll_proxy_cleanup(ngx_noom_ctx_t *ctx)
{
    if (ngx_queue_empty(&ctx->room_queue)) {
        return;
    }

    ngx_queue_remove(&ctx->room_queue);
    ngx_queue_init(&ctx->room_queue);

    if (!ctx->proxy_closed) {
        ngx_noom_poll_to_owner(ctx->owner, NGX_NOOM_POLL_WS_GONE,
                               ctx->eio_sid, ctx->serial, NULL, 0);
    }
}


/*
 * Sessions by a 64-bit hash of their sid, unique among this worker's
 * sessions (a new sid that would share it is drawn again); the sid itself
 * is then compared in constant time.
 */

static ngx_noom_poll_t *
ngx_noom_poll_find_key(ngx_rbtree_key_t key)
{
    return (ngx_noom_poll_t *) ngx_noom_rbtree_find(&ngx_noom_poll_sessions,
                                                    key);
}


static ngx_noom_poll_t *
ngx_noom_poll_find(u_char *sid)
{
    ngx_noom_poll_t  *pl;

    pl = ngx_noom_poll_find_key(ngx_hash_key(sid, NGX_NOOM_ID_LEN));

    if (pl && ngx_noom_id_equal(pl->ctx->eio_sid, sid)) {
        return pl;
    }

    return NULL;
}


static ngx_noom_ctx_t *
ngx_noom_poll_proxy_find(uint64_t serial)
{
    ngx_queue_t     *q, *b;
    ngx_noom_ctx_t  *ctx;

    b = &ngx_noom_poll_proxies[serial % NGX_NOOM_POLL_PROXIES];

    for (q = ngx_queue_head(b); q != ngx_queue_sentinel(b);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, room_queue);

        if (ctx->serial == serial) {
            return ctx;
        }
    }

    return NULL;
}


/* the polling transport's side of the session */

static void
ngx_noom_poll_wake(ngx_noom_ctx_t *ctx)
{
    ngx_noom_poll_t  *pl;

    pl = ctx->poll;

    if (pl->get_worker != NGX_NOOM_POLL_NONE && !pl->flush.posted) {
        /* what the rest of this loop turn queues goes with it */
        ngx_post_event(&pl->flush, &ngx_posted_events);
    }
}


static void
ngx_noom_poll_flush_handler(ngx_event_t *ev)
{
    ngx_noom_poll_t  *pl;

    pl = ev->data;

    if (pl->ctx->out && !pl->upgraded) {
        ngx_noom_poll_answer_get(pl, NULL, 0);
    }
}


/*
 * The waiting GET gets what is queued, as Engine.IO packets joined by the
 * record separator (binary ones in base64 behind "b"), up to the payload
 * limit but at least one message, then extra, if any.
 */

static void
ngx_noom_poll_answer_get(ngx_noom_poll_t *pl, u_char *extra,
    size_t extra_len)
{
    u_char          *buf, *p, *data, *hdr;
    size_t           size, max, n;
    uint64_t         len;
    ngx_int_t        rc;
    ngx_str_t        src, dst;
    ngx_uint_t       opcode;
    ngx_noom_out_t  *out;
    ngx_noom_ctx_t  *ctx;

    ctx = pl->ctx;

    if (pl->get_worker == NGX_NOOM_POLL_NONE) {
        return;
    }

    max = ngx_noom_poll_max_payload(ctx->conf);
    size = extra_len + 1;

    for (out = ctx->out; out; out = out->next) {
        n = out->msg->len / 3 * 4 + 8;

        if (size > extra_len + 1 && size + n > max) {
            break;
        }

        size += n;
    }

    buf = ngx_noom_poll_scratch_get(size);
    if (buf == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    p = buf;

    while (ctx->out && (size_t) (p - buf) + ctx->out->msg->len / 3 * 4 + 8
                       <= size - extra_len)
    {
        out = ctx->out;

        /* the message's frames, as this worker itself made them */

        hdr = out->msg->pos;

        while (hdr < out->msg->pos + out->msg->len) {
            opcode = hdr[0] & 0x0f;
            len = hdr[1] & 0x7f;
            data = hdr + 2;

            if (len == 126) {
                len = ((uint64_t) hdr[2] << 8) | hdr[3];
                data = hdr + 4;

            } else if (len == 127) {
                len = 0;

                for (n = 2; n < 10; n++) {
                    len = (len << 8) | hdr[n];
                }

                data = hdr + 10;
            }

            hdr = data + len;

            if (opcode == NGX_NOOM_WS_TEXT) {
                if (p > buf) {
                    *p++ = 0x1e;
                }

                p = ngx_cpymem(p, data, len);

            } else if (opcode == NGX_NOOM_WS_BINARY) {
                if (p > buf) {
                    *p++ = 0x1e;
                }

                *p++ = 'b';
                src.data = data;
                src.len = len;
                dst.data = p;
                ngx_encode_base64(&dst, &src);
                p += dst.len;
            }
        }

        ctx->out = out->next;
        ctx->out_bytes -= out->msg->len;
        ngx_noom_out_put(out);
    }

    if (ctx->out == NULL) {
        ctx->out_last = &ctx->out;
    }

    if (extra_len) {
        if (p > buf) {
            *p++ = 0x1e;
        }

        p = ngx_cpymem(p, extra, extra_len);
    }

    ngx_noom_shm->workers[ngx_noom_slot].bytes_out += p - buf;

    rc = ngx_noom_poll_to_req(pl->get_worker, pl->get_id, NGX_HTTP_OK, buf,
                              p - buf);

    ngx_noom_poll_detach_get(pl);

    if (rc != NGX_OK && !ctx->close_sent) {
        /* what it held is lost: the client must not go on without it */
        ngx_noom_abort(ctx, "a worker queue is full");
    }
}


static void
ngx_noom_poll_detach_get(ngx_noom_poll_t *pl)
{
    pl->get_worker = NGX_NOOM_POLL_NONE;
    (void) ngx_atomic_fetch_add(&ngx_noom_shm->workers[ngx_noom_slot].waiting,
                                -1);
}


/*
 * The end of a polling session: a waiting GET gets what is queued and a
 * close packet; later requests are told the session is unknown.
 */

static void
ngx_noom_poll_close(ngx_noom_ctx_t *ctx, ngx_uint_t reason, const char *why)
{
    ngx_noom_poll_t  *pl;

    if (ctx->close_sent || ctx->done) {
        return;
    }

    pl = ctx->poll;

    ctx->close_sent = 1;
    ctx->close_code = reason;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "noom: polling session %*s closes",
                   (size_t) NGX_NOOM_ID_LEN, ctx->eio_sid);

    /* a client's own close packet is answered with a noop */

    if (why == NULL && reason == NGX_NOOM_END_NORMAL) {
        ngx_noom_poll_answer_get(pl, (u_char *) "6", 1);

    } else {
        ngx_noom_poll_answer_get(pl, (u_char *) "1", 1);
    }

    ngx_noom_poll_end(pl);
}


static void
ngx_noom_poll_abort(ngx_noom_ctx_t *ctx, const char *why)
{
    ngx_noom_poll_t  *pl;

    if (ctx->done) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: closing the session: %s", why);

    pl = ctx->poll;

    if (pl->get_worker != NGX_NOOM_POLL_NONE) {
        ngx_noom_poll_refuse(pl->get_worker, pl->get_id, 1);
        ngx_noom_poll_detach_get(pl);
    }

    ctx->close_sent = 1;
    ngx_noom_poll_end(pl);
}


static void
ngx_noom_poll_resume(ngx_noom_ctx_t *ctx)
{
    /* a POST's packets are taken whole: nothing was held */
}


/* the session is freed in a turn of its own, never under its callers */

static void
ngx_noom_poll_end(ngx_noom_poll_t *pl)
{
    ngx_noom_ctx_t  *ctx;

    ctx = pl->ctx;
    ctx->close_sent = 1;

    if (pl->ws_worker != NGX_NOOM_POLL_NONE) {
        ngx_noom_poll_to_proxy(pl->ws_worker, pl->ws_serial,
                               NGX_NOOM_PROXY_CLOSE, NULL);
        pl->ws_worker = NGX_NOOM_POLL_NONE;
    }

    if (pl->get_worker != NGX_NOOM_POLL_NONE) {
        ngx_noom_poll_answer_get(pl, (u_char *) "1", 1);
    }

    if (ctx->ping.timer_set) {
        ngx_del_timer(&ctx->ping);
    }

    if (!pl->end.posted) {
        ngx_post_event(&pl->end, &ngx_posted_events);
    }
}


static void
ngx_noom_poll_end_handler(ngx_event_t *ev)
{
    ngx_noom_ctx_t   *ctx;
    ngx_noom_poll_t  *pl;

    pl = ev->data;
    ctx = pl->ctx;

    if (pl->flush.posted) {
        ngx_delete_posted_event(&pl->flush);
    }

    ngx_rbtree_delete(&ngx_noom_poll_sessions, &pl->node);

    if (!pl->upgraded) {
        (void) ngx_atomic_fetch_add(
                   &ngx_noom_shm->workers[ngx_noom_slot].polling, -1);
    }

    ctx->done = 1;
    ngx_noom_session_cleanup(ctx);

    ngx_free(ctx);
}


static void
ngx_noom_poll_timer_handler(ngx_event_t *ev)
{
    ngx_noom_ctx_t  *ctx;

    ctx = ev->data;

    if (!ctx->close_sent) {
        ngx_noom_sio_timeout(ctx);
    }
}


/* an upgraded session: its frames go to the proxy as they are */

static void
ngx_noom_wsp_wake(ngx_noom_ctx_t *ctx)
{
    ngx_int_t         rc;
    ngx_noom_out_t   *out;
    ngx_noom_poll_t  *pl;

    pl = ctx->poll;

    rc = NGX_OK;

    while (ctx->out) {
        out = ctx->out;

        if (pl->ws_worker != NGX_NOOM_POLL_NONE && rc == NGX_OK) {
            rc = ngx_noom_poll_to_proxy(pl->ws_worker, pl->ws_serial,
                                        NGX_NOOM_PROXY_OUT, out->msg);
        }

        ctx->out = out->next;
        ctx->out_bytes -= out->msg->len;
        ngx_noom_out_put(out);
    }

    ctx->out_last = &ctx->out;

    if (rc != NGX_OK) {
        ngx_noom_abort(ctx, "a worker queue is full");
    }
}


static void
ngx_noom_wsp_close(ngx_noom_ctx_t *ctx, ngx_uint_t reason, const char *why)
{
    size_t            len;
    ngx_noom_msg_t   *m;
    ngx_noom_poll_t  *pl;

    if (ctx->close_sent || ctx->done) {
        return;
    }

    pl = ctx->poll;

    if (pl->ws_worker != NGX_NOOM_POLL_NONE) {
        /* the code, then why: the proxy closes with them */

        len = why ? ngx_min(ngx_strlen(why), 123) : 0;

        m = ngx_noom_msg_alloc(2 + len, ctx->log);

        if (m) {
            m->len = 2 + len;
            m->data[0] = (u_char) (reason >> 8);
            m->data[1] = (u_char) reason;
            ngx_memcpy(m->data + 2, why, len);
        }

        ngx_noom_poll_to_proxy(pl->ws_worker, pl->ws_serial,
                               NGX_NOOM_PROXY_CLOSE, m);

        if (m) {
            ngx_noom_msg_release(m);
        }

        pl->ws_worker = NGX_NOOM_POLL_NONE;
    }

    ngx_noom_poll_end(pl);
}


/*
 * Session ids of polling sessions name their owner in their first three
 * characters; only the owner knows whether the rest is right.
 */

static ngx_int_t
ngx_noom_poll_sid_owner(u_char *sid, ngx_uint_t *w)
{
    ngx_uint_t  i, v;
    u_char      c;

    v = 0;

    for (i = 0; i < 3; i++) {
        c = sid[i];

        if (c >= 'A' && c <= 'Z') {
            c -= 'A';

        } else if (c >= 'a' && c <= 'z') {
            c = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            c = c - '0' + 52;

        } else if (c == '-') {
            c = 62;

        } else if (c == '_') {
            c = 63;

        } else {
            return NGX_ERROR;
        }

        v = (v << 6) | c;
    }

    if (ngx_noom_shm == NULL || v >= ngx_noom_shm->nworkers) {
        return NGX_ERROR;
    }

    *w = v;

    return NGX_OK;
}


static u_char *
ngx_noom_poll_scratch_get(size_t size)
{
    u_char  *p;

    if (size <= ngx_noom_poll_scratch_size) {
        return ngx_noom_poll_scratch;
    }

    size = ngx_max(size, 4096);

    p = ngx_alloc(size, ngx_cycle->log);
    if (p == NULL) {
        return NULL;
    }

    if (ngx_noom_poll_scratch) {
        ngx_free(ngx_noom_poll_scratch);
    }

    ngx_noom_poll_scratch = p;
    ngx_noom_poll_scratch_size = size;

    return p;
}


/* a worker that stops answers what waits here, and frees its buffers */

void
ngx_noom_poll_shutdown(void)
{
    u_char              buf[64];
    ngx_rbtree_node_t  *node;

    while (ngx_noom_poll_preqs.root != ngx_noom_poll_preqs.sentinel) {
        node = ngx_rbtree_min(ngx_noom_poll_preqs.root,
                              ngx_noom_poll_preqs.sentinel);

        if (((ngx_noom_preq_t *) node)->get) {
            ngx_noom_preq_respond((ngx_noom_preq_t *) node, NGX_HTTP_OK,
                                  (u_char *) "1", 1);

        } else {
            ngx_noom_preq_respond((ngx_noom_preq_t *) node,
                                  NGX_HTTP_BAD_REQUEST, buf,
                                  ngx_noom_poll_error_json(buf, 1));
        }
    }
}


void
ngx_noom_poll_exit(void)
{
    if (ngx_noom_poll_owners) {
        ngx_free(ngx_noom_poll_owners);
        ngx_noom_poll_owners = NULL;
    }

    if (ngx_noom_poll_proxies) {
        ngx_free(ngx_noom_poll_proxies);
        ngx_noom_poll_proxies = NULL;
    }

    if (ngx_noom_poll_scratch) {
        ngx_free(ngx_noom_poll_scratch);
        ngx_noom_poll_scratch = NULL;
        ngx_noom_poll_scratch_size = 0;
    }
}


