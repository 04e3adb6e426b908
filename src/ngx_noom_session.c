
/*
 * Copyright (C) noom authors
 *
 * What a session has whatever carries it: messages (one or more complete
 * WebSocket frames, reference counted, shared by every queue that sends
 * them, the internal format of everything sent; the polling transport
 * takes the frames apart again), the outgoing queue with its byte cap,
 * the server's heartbeat, the token bucket, socket ids, and the end of a
 * session, which each transport carries out in its own way.
 */


#include "ngx_noom.h"
#include <sys/random.h>


#define NGX_NOOM_OUT_FREE_MAX      4096
#define NGX_NOOM_CHUNK             4096
#define NGX_NOOM_CHUNK_COPY        1024
#define NGX_NOOM_CHUNK_QUEUED      65536
#define NGX_NOOM_CHUNK_TRIM        10000
#define NGX_NOOM_MSG_SMALL         512
#define NGX_NOOM_MSG_SPARE_MAX     1024

/* a WebSocket's short frame, while its client keeps up, goes into a chunk */
#define ngx_noom_chunk_fits(ctx, len)                                         \
    ((ctx)->connection                                                        \
     && (len) <= NGX_NOOM_CHUNK_COPY                                          \
     && (ctx)->out_bytes < NGX_NOOM_CHUNK_QUEUED)


typedef struct {
    ngx_noom_out_t          *out;
    ngx_noom_msg_t          *msg;
} ngx_noom_spare_t;


static ngx_int_t ngx_noom_send_admit(ngx_noom_ctx_t *ctx, size_t len);
static ngx_noom_out_t *ngx_noom_out_get(ngx_noom_ctx_t *ctx);
static void ngx_noom_chunk_append(ngx_noom_ctx_t *ctx, u_char *p,
    size_t len);
static ngx_noom_out_t *ngx_noom_chunk_get(ngx_noom_ctx_t *ctx);
static ngx_int_t ngx_noom_chunk_grow(void);
static void ngx_noom_chunk_trim_handler(ngx_event_t *ev);
static void ngx_noom_ping_handler(ngx_event_t *ev);


static ngx_noom_out_t   *ngx_noom_out_free;
static ngx_uint_t        ngx_noom_out_nfree;

/* free chunks and their entries: an array, not a list through cold memory */
static ngx_noom_spare_t *ngx_noom_chunk_free;
static ngx_uint_t        ngx_noom_chunk_nfree;
static ngx_uint_t        ngx_noom_chunk_nalloc;
static ngx_uint_t        ngx_noom_chunk_unused;   /* the fewest free since
                                                     the last trim */
static ngx_event_t       ngx_noom_chunk_trim;

/* free small messages, linked through their pos */
static ngx_noom_msg_t   *ngx_noom_msg_spare;
static ngx_uint_t        ngx_noom_msg_nspare;

static uint64_t          ngx_noom_serial;


/*
 * A token bucket per connection, for the noom app and the lobby (not the
 * protocol test locations): noom_event_rate a second, up to burst at once.
 * What counts: a Socket.IO packet (not its attachments, not a CONNECT), a
 * lobby message, a WebSocket ping; never Engine.IO's heartbeat, so a busy
 * client is not cut off for a missing pong.  NGX_DECLINED: drop it (the
 * caller says so, ctx->dropped is 1 on the first of a series); a client
 * that goes on sending as many again is closed with 1008.
 */

ngx_int_t
ngx_noom_rate(ngx_noom_ctx_t *ctx)
{
    ngx_msec_t                 now, elapsed;
    ngx_uint_t                 max;
    ngx_http_noom_loc_conf_t  *lcf;

    lcf = ctx->conf;

    if (lcf->rate == 0
        || (ctx->kind != NGX_NOOM_KIND_SIO
            && ctx->kind != NGX_NOOM_KIND_PLAIN))
    {
        return NGX_OK;
    }

    now = ngx_current_msec;
    max = lcf->burst * 1000;

    if (ctx->rate_last == 0) {
        ctx->tokens = max;

    } else {
        elapsed = now - ctx->rate_last;

        if (elapsed > max / lcf->rate) {
            ctx->tokens = max;

        } else {
            ctx->tokens = ngx_min(max, ctx->tokens + elapsed * lcf->rate);
        }
    }

    ctx->rate_last = now;

    if (ctx->tokens >= 1000) {
        ctx->tokens -= 1000;
        ctx->dropped = 0;
        return NGX_OK;
    }

    if (ctx->dropped++ == 0) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: more than %ui events a second, dropping",
                      lcf->rate);

        ngx_noom_stat(rate_limited, 1);

    } else if (ctx->dropped > lcf->burst) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: client goes on over the event rate, "
                      "closing with 1008");

        ngx_noom_close(ctx, NGX_NOOM_WS_POLICY, "event rate exceeded");
    }

    return NGX_DECLINED;
}


/* frames: a message with room for its header in front */

/*
 * Room for size bytes, none written yet.  An ack, a chat line for one
 * receiver, a record out of another worker's ring: most messages are
 * short and live for a turn, and the small ones are kept for the next
 * instead of a malloc() and a free() each.
 */

ngx_noom_msg_t *
ngx_noom_msg_alloc(size_t size, ngx_log_t *log)
{
    ngx_uint_t       small;
    ngx_noom_msg_t  *m;

    size += offsetof(ngx_noom_msg_t, data);

#if (NGX_DEBUG_PALLOC)
    /* as nginx's pools: exact sizes, so that the sanitizers see overruns */
    small = 0;
#else
    small = (size <= NGX_NOOM_MSG_SMALL);
#endif

    if (small && ngx_noom_msg_spare) {
        m = ngx_noom_msg_spare;
        ngx_noom_msg_spare = (ngx_noom_msg_t *) m->pos;
        ngx_noom_msg_nspare--;

    } else {
        m = ngx_alloc(small ? NGX_NOOM_MSG_SMALL : size, log);
        if (m == NULL) {
            return NULL;
        }
    }

    m->small = small;
    m->refs = 1;
    m->len = 0;
    m->pos = m->data;
    m->seq = 0;
    m->offset = NULL;
    m->chat = 0;

    return m;
}


ngx_noom_msg_t *
ngx_noom_msg_frame(ngx_uint_t opcode, size_t len, u_char **payload)
{
    size_t           h;
    ngx_noom_msg_t  *m;

    m = ngx_noom_msg_alloc(NGX_NOOM_WS_MAX_HEADER + len, ngx_cycle->log);
    if (m == NULL) {
        return NULL;
    }

    h = ngx_noom_ws_header(m->data, opcode, len);

    m->len = h + len;
    *payload = m->data + h;

    return m;
}


/* frames another worker built, copied out of its ring */

ngx_noom_msg_t *
ngx_noom_msg_copy(u_char *p, size_t len)
{
    ngx_noom_msg_t  *m;

    m = ngx_noom_msg_alloc(len, ngx_cycle->log);
    if (m == NULL) {
        return NULL;
    }

    m->len = len;
    ngx_memcpy(m->data, p, len);

    return m;
}


void
ngx_noom_msg_release(ngx_noom_msg_t *m)
{
    if (--m->refs) {
        return;
    }

    if (m->small && ngx_noom_msg_nspare < NGX_NOOM_MSG_SPARE_MAX) {
        m->pos = (u_char *) ngx_noom_msg_spare;
        ngx_noom_msg_spare = m;
        ngx_noom_msg_nspare++;
        return;
    }

    ngx_free(m);
}


ngx_int_t
ngx_noom_send_text(ngx_noom_ctx_t *ctx, u_char *p, size_t len)
{
    u_char          *payload;
    ngx_noom_msg_t  *m;

    m = ngx_noom_msg_frame(NGX_NOOM_WS_TEXT, len, &payload);
    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return NGX_ERROR;
    }

    ngx_memcpy(payload, p, len);
    ngx_noom_send(ctx, m);
    ngx_noom_msg_release(m);

    return NGX_OK;
}


void
ngx_noom_send(ngx_noom_ctx_t *ctx, ngx_noom_msg_t *m)
{
    if (ctx->close_sent || ctx->done) {
        return;
    }

    if (m->seq) {
        /* a logged event comes once, in the zone's order */

        if (m->seq <= ctx->last_seq) {
            return;
        }

        ctx->last_seq = m->seq;
    }

    if (ngx_noom_send_admit(ctx, m->len) != NGX_OK) {
        return;
    }

    ngx_noom_queue(ctx, m);
}


/*
 * A short frame of the caller's own (an ack): there is nothing to share,
 * so on a WebSocket it goes into a chunk even into an empty queue, and
 * costs no message.
 */

void
ngx_noom_send_frame(ngx_noom_ctx_t *ctx, u_char *p, size_t len)
{
    ngx_noom_msg_t  *m;

    if (ctx->close_sent || ctx->done
        || ngx_noom_send_admit(ctx, len) != NGX_OK)
    {
        return;
    }

    if (ngx_noom_chunk_fits(ctx, len)) {
        ngx_noom_chunk_append(ctx, p, len);
        return;
    }

    m = ngx_noom_msg_copy(p, len);
    if (m == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    ngx_noom_queue(ctx, m);
    ngx_noom_msg_release(m);
}


/* the queue's byte cap: a client over it is closed with 1008 */

static ngx_int_t
ngx_noom_send_admit(ngx_noom_ctx_t *ctx, size_t len)
{
    if (ctx->out_bytes + len > ctx->conf->send_buffer) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: client does not read, %uz bytes queued, "
                      "closing with 1008", ctx->out_bytes);

        ngx_noom_stat(slow_closes, 1);
        ngx_noom_drop_queue(ctx);
        ngx_noom_close(ctx, NGX_NOOM_WS_POLICY, "slow consumer");
        return NGX_DECLINED;
    }

    ngx_noom_worker_stat(frames_out);

    return NGX_OK;
}


/*
 * A message is queued by reference, shared with every other queue that
 * sends it.  On a WebSocket, a short one that finds others queued before
 * it is copied instead, into a chunk of the queue's own at its tail: the
 * messages a connection gets in one turn go out from one buffer (one
 * iovec), and each costs a copy, not a queue entry and a reference.
 * Past 64 KB queued the client is falling behind, and its messages are
 * shared again: a slow consumer does not hold noom_send_buffer of
 * copies.  Polling takes its queue apart message by message, and gets no
 * chunks.
 */

void
ngx_noom_queue(ngx_noom_ctx_t *ctx, ngx_noom_msg_t *m)
{
    ngx_noom_out_t  *out;

    if (ctx->out && ngx_noom_chunk_fits(ctx, m->len)) {
        ngx_noom_chunk_append(ctx, m->pos, m->len);
        return;
    }

    out = ngx_noom_out_get(ctx);
    if (out == NULL) {
        return;
    }

    out->next = NULL;
    out->msg = m;
    out->sent = 0;
    out->chunk = 0;
    m->refs++;

    *ctx->out_last = out;
    ctx->out_last = &out->next;
    ctx->chunk = NULL;

    ctx->out_bytes += m->len;

    ctx->transport->wake(ctx);
}


static void
ngx_noom_chunk_append(ngx_noom_ctx_t *ctx, u_char *p, size_t len)
{
    ngx_noom_out_t  *out;
    ngx_noom_msg_t  *c;

    /*
     * ctx->chunk and ctx->chunk_last spare a load of the tail's entry and
     * of the chunk's header, which are not in the cache when a message
     * goes to 99 queues: the copy only stores into them
     */

    c = ctx->chunk;

    if (c == NULL
        || (size_t) ((u_char *) c + NGX_NOOM_CHUNK - ctx->chunk_last) < len)
    {
        out = ngx_noom_chunk_get(ctx);
        if (out == NULL) {
            return;
        }

        *ctx->out_last = out;
        ctx->out_last = &out->next;

        c = out->msg;
        ctx->chunk = c;
        ctx->chunk_last = c->data;
    }

    ctx->chunk_last = ngx_cpymem(ctx->chunk_last, p, len);
    c->len = ctx->chunk_last - c->data;

    ctx->out_bytes += len;

    ctx->transport->wake(ctx);
}


static ngx_noom_out_t *
ngx_noom_out_get(ngx_noom_ctx_t *ctx)
{
    ngx_noom_out_t  *out;

    out = ngx_noom_out_free;

    if (out) {
        ngx_noom_out_free = out->next;
        ngx_noom_out_nfree--;
        return out;
    }

    out = ngx_alloc(sizeof(ngx_noom_out_t), ngx_cycle->log);
    if (out == NULL) {
        ngx_noom_abort(ctx, "out of memory");
    }

    return out;
}


/*
 * An empty chunk and its entry.  A chunk is only ever in one queue, and
 * its refs stay 1.  Chunks come and go by the thousand in every busy turn:
 * the free ones are kept, so that malloc() does not grow and trim the
 * heap for them turn after turn, and those that no turn needed for 10 s
 * are freed.
 */

static ngx_noom_out_t *
ngx_noom_chunk_get(ngx_noom_ctx_t *ctx)
{
    ngx_uint_t       n;
    ngx_noom_out_t  *out;
    ngx_noom_msg_t  *c;

    n = ngx_noom_chunk_nfree;

    if (n) {
        n--;
        out = ngx_noom_chunk_free[n].out;
        c = ngx_noom_chunk_free[n].msg;

        ngx_noom_chunk_nfree = n;

        if (n < ngx_noom_chunk_unused) {
            ngx_noom_chunk_unused = n;
        }

    } else {
        c = ngx_noom_msg_alloc(NGX_NOOM_CHUNK
                               - offsetof(ngx_noom_msg_t, data),
                               ngx_cycle->log);
        if (c == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return NULL;
        }

        out = ngx_noom_out_get(ctx);
        if (out == NULL) {
            ngx_free(c);
            return NULL;
        }

        /* a timer that is not a connection's, as in the relay */
        ngx_noom_chunk_trim.handler = ngx_noom_chunk_trim_handler;
        ngx_noom_chunk_trim.data = &ngx_noom_chunk_trim;
        ngx_noom_chunk_trim.log = ngx_cycle->log;
        ngx_noom_chunk_trim.cancelable = 1;
    }

    out->next = NULL;
    out->msg = c;
    out->sent = 0;
    out->chunk = 1;

    return out;
}


void
ngx_noom_out_put(ngx_noom_out_t *out)
{
    if (out->chunk) {
        if (ngx_noom_chunk_nfree == ngx_noom_chunk_nalloc
            && ngx_noom_chunk_grow() != NGX_OK)
        {
            ngx_free(out->msg);
            ngx_free(out);
            return;
        }

        ngx_noom_chunk_free[ngx_noom_chunk_nfree].out = out;
        ngx_noom_chunk_free[ngx_noom_chunk_nfree].msg = out->msg;
        ngx_noom_chunk_nfree++;

        if (!ngx_noom_chunk_trim.timer_set) {
            ngx_noom_chunk_unused = ngx_noom_chunk_nfree;
            ngx_add_timer(&ngx_noom_chunk_trim, NGX_NOOM_CHUNK_TRIM);
        }

        return;
    }

    ngx_noom_msg_release(out->msg);

    if (ngx_noom_out_nfree >= NGX_NOOM_OUT_FREE_MAX) {
        ngx_free(out);
        return;
    }

    out->next = ngx_noom_out_free;
    ngx_noom_out_free = out;
    ngx_noom_out_nfree++;
}


/* as many places as the most chunks that were ever free at once */

static ngx_int_t
ngx_noom_chunk_grow(void)
{
    ngx_uint_t         n;
    ngx_noom_spare_t  *a;

    n = ngx_noom_chunk_nalloc ? 2 * ngx_noom_chunk_nalloc : 1024;

    a = ngx_alloc(n * sizeof(ngx_noom_spare_t), ngx_cycle->log);
    if (a == NULL) {
        return NGX_ERROR;
    }

    if (ngx_noom_chunk_free) {
        ngx_memcpy(a, ngx_noom_chunk_free,
                   ngx_noom_chunk_nfree * sizeof(ngx_noom_spare_t));
        ngx_free(ngx_noom_chunk_free);
    }

    ngx_noom_chunk_free = a;
    ngx_noom_chunk_nalloc = n;

    return NGX_OK;
}


static void
ngx_noom_chunk_trim_handler(ngx_event_t *ev)
{
    ngx_uint_t  n;

    for (n = ngx_noom_chunk_unused; n; n--) {
        ngx_noom_chunk_nfree--;
        ngx_free(ngx_noom_chunk_free[ngx_noom_chunk_nfree].msg);
        ngx_free(ngx_noom_chunk_free[ngx_noom_chunk_nfree].out);
    }

    if (ngx_noom_chunk_nfree) {
        ngx_noom_chunk_unused = ngx_noom_chunk_nfree;
        ngx_add_timer(ev, NGX_NOOM_CHUNK_TRIM);
    }
}


/* everything queued but a frame already half on the wire */

void
ngx_noom_drop_queue(ngx_noom_ctx_t *ctx)
{
    ngx_noom_out_t  *out, *next, **keep;

    keep = &ctx->out;

    if (ctx->out && ctx->out->sent) {
        keep = &ctx->out->next;
    }

    for (out = *keep; out; out = next) {
        next = out->next;
        ctx->out_bytes -= out->msg->len;
        ngx_noom_out_put(out);
    }

    *keep = NULL;
    ctx->out_last = keep;
    ctx->chunk = NULL;
}


/* a pong came: the next ping after delay */

void
ngx_noom_heartbeat(ngx_noom_ctx_t *ctx, ngx_msec_t delay)
{
    if (ctx->close_sent) {
        return;
    }

    ctx->pong_wait = 0;

    /* ngx_add_timer() would keep a pending one due within 300 ms */

    if (ctx->ping.timer_set) {
        ngx_del_timer(&ctx->ping);
    }

    ngx_add_timer(&ctx->ping, delay);
}


/*
 * A request of the session came in the turn in which its ping timeout is
 * due.  nginx handles I/O before it expires timers, engine.io the other
 * way round: the timeout goes first, and the request finds no session.
 */

void
ngx_noom_heartbeat_due(ngx_noom_ctx_t *ctx)
{
    if (ctx->pong_wait
        && ctx->ping.timer_set
        && (ngx_msec_int_t) (ctx->ping.timer.key - ngx_current_msec) <= 0)
    {
        ngx_del_timer(&ctx->ping);
        ngx_noom_ping_handler(&ctx->ping);
    }
}


static void
ngx_noom_ping_handler(ngx_event_t *ev)
{
    u_char          *payload;
    ngx_noom_ctx_t  *ctx;
    ngx_noom_msg_t  *m;

    ctx = ev->data;

    if (ctx->pong_wait) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: no pong within %M ms, closing",
                      ctx->conf->ping_timeout);
        ngx_noom_close(ctx, NGX_NOOM_WS_GOING_AWAY, "ping timeout");
        ctx->close_now = 1;
        return;
    }

    if (ctx->kind == NGX_NOOM_KIND_PLAIN) {
        m = ngx_noom_msg_frame(NGX_NOOM_WS_PING, 0, &payload);
        if (m == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        ngx_noom_send(ctx, m);
        ngx_noom_msg_release(m);

    } else {
        ngx_noom_eio_ping(ctx);
    }

    ctx->pong_wait = 1;
    ngx_add_timer(&ctx->ping, ctx->conf->ping_timeout);
}


/*
 * Connection serials start from the worker's epoch: after a crash the new
 * process never reuses a serial its predecessor's members still carried.
 */

void
ngx_noom_init_serial(ngx_uint_t epoch)
{
    ngx_noom_serial = (uint64_t) epoch << 40;
}


ngx_int_t
ngx_noom_random_id(u_char *id)
{
    u_char     raw[NGX_NOOM_ID_RAW];
    ngx_str_t  src, dst;

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw)) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "noom: getrandom() failed");
        return NGX_ERROR;
    }

    src.data = raw;
    src.len = sizeof(raw);
    dst.data = id;

    ngx_encode_base64url(&dst, &src);

    return NGX_OK;
}



/* a new session, whatever its transport: ctx is zeroed */

void
ngx_noom_session_init(ngx_noom_ctx_t *ctx, ngx_noom_transport_t *tp,
    ngx_log_t *log, ngx_http_noom_loc_conf_t *lcf, ngx_uint_t kind)
{
    ctx->transport = tp;
    ctx->log = log;
    ctx->conf = lcf;
    ctx->mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                   ngx_http_noom_module);
    ctx->kind = kind;
    ctx->out_last = &ctx->out;
    ctx->serial = ++ngx_noom_serial;
    ctx->nick = (u_char *) ctx + sizeof(ngx_noom_ctx_t);
    ctx->nick_len = ngx_min(ctx->mcf->max_nickname, 4);
    ngx_memcpy(ctx->nick, "Anon", ctx->nick_len);

    ngx_queue_init(&ctx->room_queue);

    ctx->ping.handler = ngx_noom_ping_handler;
    ctx->ping.data = ctx;
    ctx->ping.log = log;
    ctx->timer.data = ctx;
    ctx->timer.log = log;
}


/*
 * Whether a session may start on this worker now: NGX_OK, or the status
 * that refuses its handshake.  A worker that shuts down told its sessions
 * 1001 at once (ngx_noom_relay_shutdown()); a handshake it had accepted
 * before and reads only now must not start one there.  A WebSocket
 * would never be told, and one without a timer (a proxy) would be left
 * open when the worker exits.
 */

ngx_int_t
ngx_noom_session_may_start(ngx_http_request_t *r)
{
    if (ngx_noom_shm == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "noom: zone is not ready");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_exiting || ngx_terminate) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "noom: a handshake while the worker shuts down");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    return NGX_OK;
}


/*
 * A zeroed session of size bytes (the struct and what follows it), on the
 * boundary that puts the fields of a delivery in one pair of cache lines.
 */

void *
ngx_noom_session_alloc(size_t size, ngx_log_t *log)
{
    void  *p;

    p = ngx_memalign(NGX_NOOM_CTX_ALIGN, size, log);
    if (p == NULL) {
        return NULL;
    }

    ngx_memzero(p, size);

    return p;
}


/*
 * How much a session takes on the heap: the struct, the nickname, and with
 * an admin panel the handshake's URL, user agent and address, each as long
 * as it is (up to its cap), as ngx_noom_keep_handshake() copies them.
 */

size_t
ngx_noom_session_size(ngx_http_noom_main_conf_t *mcf, ngx_http_request_t *r)
{
    size_t  size;

    size = sizeof(ngx_noom_ctx_t) + mcf->max_nickname;

    if (mcf->admin) {
        size += ngx_min(r->unparsed_uri.len, NGX_NOOM_ADMIN_STR_LEN)
                + ngx_min(r->connection->addr_text.len,
                          NGX_NOOM_ADMIN_ADDR_LEN);

        if (r->headers_in.user_agent) {
            size += ngx_min(r->headers_in.user_agent->value.len,
                            NGX_NOOM_ADMIN_STR_LEN);
        }
    }

    return size;
}


void
ngx_noom_close(ngx_noom_ctx_t *ctx, ngx_uint_t reason, const char *why)
{
    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "noom: session %uL ends on %s: %ui %s", ctx->serial,
                   ctx->transport->name, reason, why ? why : "");

    ctx->transport->close(ctx, reason, why);
}


void
ngx_noom_abort(ngx_noom_ctx_t *ctx, const char *why)
{
    ctx->transport->abort(ctx, why);
}


/* what every session does as it ends, whatever carried it */

void
ngx_noom_session_cleanup(ngx_noom_ctx_t *ctx)
{
    ngx_noom_out_t  *out, *next;

    if (ctx->ping.timer_set) {
        ngx_del_timer(&ctx->ping);
    }

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    if (ctx->ping.posted) {
        ngx_delete_posted_event(&ctx->ping);
    }

    if (ctx->timer.posted) {
        ngx_delete_posted_event(&ctx->timer);
    }

    if (ctx->lists[NGX_NOOM_LIST_ALL].next == NULL) {
        /* never got past the handshake */
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "noom: session %uL on %s is gone, %uz bytes unsent",
                   ctx->serial, ctx->transport->name, ctx->out_bytes);

    ngx_noom_relay_unhold(ctx);

    if (ctx->kind == NGX_NOOM_KIND_SIO || ctx->kind == NGX_NOOM_KIND_SIO_TEST)
    {
        ngx_noom_sio_cleanup(ctx);
    }

    ngx_noom_local_remove(ctx);

    for (out = ctx->out; out; out = next) {
        next = out->next;
        ngx_noom_out_put(out);
    }

    ctx->out = NULL;
    ctx->out_last = &ctx->out;
    ctx->out_bytes = 0;
    ctx->chunk = NULL;

    if (ctx->kind != NGX_NOOM_KIND_PROXY) {
        ngx_noom_stat(disconnections, 1);
        (void) ngx_atomic_fetch_add(
                   &ngx_noom_shm->workers[ngx_noom_slot].conns, -1);
    }
}


/* the worker's own free lists, at its exit */

void
ngx_noom_session_exit(void)
{
    ngx_noom_out_t  *out;

    while (ngx_noom_out_free) {
        out = ngx_noom_out_free;
        ngx_noom_out_free = out->next;
        ngx_free(out);
    }

    ngx_noom_out_nfree = 0;
}


/* trees keyed by unique numbers: preq ids, sid and pid hashes */

ngx_rbtree_node_t *
ngx_noom_rbtree_find(ngx_rbtree_t *tree, ngx_rbtree_key_t key)
{
    ngx_rbtree_node_t  *node;

    for (node = tree->root; node != tree->sentinel; /* void */) {

        if (key == node->key) {
            return node;
        }

        node = (key < node->key) ? node->left : node->right;
    }

    return NULL;
}


/* in constant time: a sid or a pid is its session's only secret */

ngx_uint_t
ngx_noom_id_equal(u_char *a, u_char *b)
{
    u_char      d;
    ngx_uint_t  i;

    d = 0;

    for (i = 0; i < NGX_NOOM_ID_LEN; i++) {
        d |= a[i] ^ b[i];
    }

    return d == 0;
}
