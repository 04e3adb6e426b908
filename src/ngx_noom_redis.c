
/*
 * Copyright (C) noom authors
 *
 * A worker's link to Redis: two hiredis asynchronous contexts, one for
 * commands and scripts, one in subscribed mode for pub/sub, driven by
 * nginx's own event loop through a small adapter (hiredis asks for read
 * and write interest on its socket; the socket gets an ngx_connection_t
 * whose level-triggered events call hiredis back).  Nothing here blocks:
 * the connect is non-blocking to an address resolved when the
 * configuration was read, and every reply comes back through a callback.
 *
 * The two contexts are one link: both up is "linked", either lost takes
 * the other down and a timer reconnects both, after 100 ms, doubling up
 * to 3 s.  A command connection that leaves a command unanswered for
 * 3 s (a cut network gives no reset) is taken down the same way; a PING
 * every second keeps that true of an idle link.  Commands are bounded:
 * past max_pending unanswered ones, or 16 MB not yet written to the
 * socket, a command is refused, and the caller counts a drop.
 */


#include "ngx_noom_cluster.h"
#include <hiredis/sds.h>
#include <sys/ioctl.h>


#define NGX_NOOM_REDIS_BACKOFF_MIN  100
#define NGX_NOOM_REDIS_BACKOFF_MAX  3000
#define NGX_NOOM_REDIS_STALL        3000
#define NGX_NOOM_REDIS_TICK         1000

/* bytes written to hiredis but not yet to its socket, at most */
#define NGX_NOOM_REDIS_OBUF_MAX     (16 * 1024 * 1024)

#define NGX_NOOM_REDIS_CMD          0
#define NGX_NOOM_REDIS_SUB          1

/* hiredis reads 16 KB a call: so many calls a turn of the loop, at most */
#define NGX_NOOM_REDIS_READS        1024


typedef struct {
    redisAsyncContext         *ac;
    ngx_uint_t                 ready;
} ngx_noom_redis_conn_t;


/* a script call, kept whole to be sent again as EVAL after NOSCRIPT */

typedef struct {
    ngx_noom_redis_reply_pt    handler;
    void                      *data;
    int                        argc;
    const char               **argv;
    size_t                    *argvlen;
    ngx_uint_t                 retried;
} ngx_noom_redis_call_t;


static ngx_int_t ngx_noom_redis_connect(ngx_uint_t i);
static void ngx_noom_redis_add_read(void *data);
static void ngx_noom_redis_del_read(void *data);
static void ngx_noom_redis_add_write(void *data);
static void ngx_noom_redis_del_write(void *data);
static void ngx_noom_redis_cleanup(void *data);
static void ngx_noom_redis_read_handler(ngx_event_t *ev);
static void ngx_noom_redis_write_handler(ngx_event_t *ev);
static void ngx_noom_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_noom_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_noom_redis_lost(const redisAsyncContext *ac,
    const char *why);
static void ngx_noom_redis_down_handler(ngx_event_t *ev);
static void ngx_noom_redis_down(void);
static void ngx_noom_redis_retry_handler(ngx_event_t *ev);
static void ngx_noom_redis_tick_handler(ngx_event_t *ev);
static void ngx_noom_redis_sent(void);
static void ngx_noom_redis_answered(void);
static void ngx_noom_redis_flush_handler(ngx_event_t *ev);
static void ngx_noom_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_noom_redis_ready(ngx_uint_t i);
static void ngx_noom_redis_reply(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_noom_redis_script_reply(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_noom_redis_sub_reply(redisAsyncContext *ac, void *r,
    void *data);


static ngx_noom_redis_conn_t      ngx_noom_redis_conns[2];
static ngx_noom_redis_conf_t     *ngx_noom_redis_rcf;
static ngx_noom_redis_handler_t  *ngx_noom_redis_h;
static ngx_event_t                ngx_noom_redis_retry_ev;
static ngx_event_t                ngx_noom_redis_down_ev;
static ngx_event_t                ngx_noom_redis_tick_ev;
static ngx_event_t                ngx_noom_redis_flush_ev;
static ngx_connection_t           ngx_noom_redis_nc;
static ngx_msec_t                 ngx_noom_redis_backoff;
static ngx_msec_t                 ngx_noom_redis_last_reply;
static ngx_uint_t                 ngx_noom_redis_pending;
static ngx_uint_t                 ngx_noom_redis_is_linked;
static ngx_uint_t                 ngx_noom_redis_exiting;
static ngx_uint_t                 ngx_noom_redis_writing;
static ngx_uint_t                 ngx_noom_redis_failures;
static char                       ngx_noom_redis_sha[41];
static ngx_log_t                 *ngx_noom_redis_log;


ngx_int_t
ngx_noom_redis_init_process(ngx_cycle_t *cycle, ngx_noom_redis_conf_t *rcf,
    ngx_noom_redis_handler_t *h)
{
    ngx_noom_redis_rcf = rcf;
    ngx_noom_redis_h = h;
    ngx_noom_redis_log = cycle->log;
    ngx_noom_redis_backoff = 0;

    /*
     * A timer's debug line reads its data as a connection: the timers
     * set here, before the loop runs, point at one with no socket.
     */

    ngx_noom_redis_nc.fd = (ngx_socket_t) -1;

    ngx_noom_redis_retry_ev.handler = ngx_noom_redis_retry_handler;
    ngx_noom_redis_retry_ev.data = &ngx_noom_redis_nc;
    ngx_noom_redis_retry_ev.log = cycle->log;
    ngx_noom_redis_retry_ev.cancelable = 1;

    ngx_noom_redis_down_ev.handler = ngx_noom_redis_down_handler;
    ngx_noom_redis_down_ev.data = &ngx_noom_redis_down_ev;
    ngx_noom_redis_down_ev.log = cycle->log;

    ngx_noom_redis_tick_ev.handler = ngx_noom_redis_tick_handler;
    ngx_noom_redis_tick_ev.data = &ngx_noom_redis_tick_ev;
    ngx_noom_redis_tick_ev.log = cycle->log;
    ngx_noom_redis_tick_ev.cancelable = 1;

    ngx_noom_redis_flush_ev.handler = ngx_noom_redis_flush_handler;
    ngx_noom_redis_flush_ev.data = &ngx_noom_redis_flush_ev;
    ngx_noom_redis_flush_ev.log = cycle->log;

    if (ngx_noom_shm) {
        ngx_noom_shm->workers[ngx_noom_slot].redis_up = 0;
    }

    /*
     * The first attempt in the first turn of the loop, not in init; a
     * timer, as a posted event waits for some other event to wake the
     * worker, and a respawned worker may have none.
     */

    ngx_add_timer(&ngx_noom_redis_retry_ev, 1);

    return NGX_OK;
}


void
ngx_noom_redis_exit_process(void)
{
    ngx_uint_t          i;
    redisAsyncContext  *ac;

    ngx_noom_redis_exiting = 1;

    if (ngx_noom_shm) {
        ngx_noom_shm->workers[ngx_noom_slot].redis_up = 0;
    }

    if (ngx_noom_redis_retry_ev.timer_set) {
        ngx_del_timer(&ngx_noom_redis_retry_ev);
    }

    if (ngx_noom_redis_tick_ev.timer_set) {
        ngx_del_timer(&ngx_noom_redis_tick_ev);
    }

    if (ngx_noom_redis_flush_ev.timer_set) {
        ngx_del_timer(&ngx_noom_redis_flush_ev);
    }

    if (ngx_noom_redis_down_ev.posted) {
        ngx_delete_posted_event(&ngx_noom_redis_down_ev);
    }

    for (i = 0; i < 2; i++) {
        ac = ngx_noom_redis_conns[i].ac;

        if (ac) {
            ngx_noom_redis_conns[i].ac = NULL;
            redisAsyncFree(ac);
        }
    }
}


ngx_uint_t
ngx_noom_redis_linked(void)
{
    return ngx_noom_redis_is_linked;
}


static ngx_int_t
ngx_noom_redis_connect(ngx_uint_t i)
{
    ngx_connection_t       *c;
    redisAsyncContext      *ac;
    ngx_noom_redis_conf_t  *rcf;

    rcf = ngx_noom_redis_rcf;

    if (rcf->path.len) {
        ac = redisAsyncConnectUnix((char *) rcf->path.data);

    } else {
        ac = redisAsyncConnect((char *) rcf->host.data, (int) rcf->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_noom_redis_log, 0,
                      "noom: redis: out of memory");
        return NGX_ERROR;
    }

    if (ac->err) {
        if (ngx_noom_redis_failures++ == 0) {
            ngx_log_error(NGX_LOG_ERR, ngx_noom_redis_log, 0,
                          "noom: redis: cannot connect to \"%V\": %s",
                          &rcf->addr, ac->errstr);
        }

        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    c = ngx_get_connection(ac->c.fd, ngx_noom_redis_log);
    if (c == NULL) {
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    c->data = ac;
    c->read->handler = ngx_noom_redis_read_handler;
    c->write->handler = ngx_noom_redis_write_handler;
    c->read->log = ngx_noom_redis_log;
    c->write->log = ngx_noom_redis_log;

    ac->ev.data = c;
    ac->ev.addRead = ngx_noom_redis_add_read;
    ac->ev.delRead = ngx_noom_redis_del_read;
    ac->ev.addWrite = ngx_noom_redis_add_write;
    ac->ev.delWrite = ngx_noom_redis_del_write;
    ac->ev.cleanup = ngx_noom_redis_cleanup;
    ac->data = (void *) (uintptr_t) i;

    (void) redisAsyncSetConnectCallback(ac, ngx_noom_redis_connected);
    (void) redisAsyncSetDisconnectCallback(ac, ngx_noom_redis_disconnected);

    ngx_noom_redis_conns[i].ac = ac;
    ngx_noom_redis_conns[i].ready = 0;

    /* queued until the connect completes: hiredis then writes them */

    if (rcf->password.len) {
        (void) redisAsyncCommand(ac, ngx_noom_redis_setup_reply, NULL,
                                 "AUTH %b", rcf->password.data,
                                 rcf->password.len);
    }

    if (rcf->db) {
        (void) redisAsyncCommand(ac, ngx_noom_redis_setup_reply, NULL,
                                 "SELECT %d", (int) rcf->db);
    }

    if (i == NGX_NOOM_REDIS_CMD) {
        (void) redisAsyncCommand(ac, ngx_noom_redis_setup_reply,
                                 (void *) 1, "SCRIPT LOAD %s",
                                 ngx_noom_cluster_lua);

    } else {
        /* the confirmation of the first channel makes it ready */
        (void) redisAsyncCommand(ac, ngx_noom_redis_sub_reply, NULL,
                                 "SUBSCRIBE noom:rooms socket.io#/#");
    }

    ngx_noom_redis_add_write(c);

    return NGX_OK;
}


/* the adapter: hiredis's interest in its socket, as nginx events */

static void
ngx_noom_redis_add_read(void *data)
{
    ngx_connection_t *c = data;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_noom_redis_del_read(void *data)
{
    ngx_connection_t *c = data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


/*
 * A connected link writes what was queued at the end of the turn, without
 * asking epoll first (two epoll_ctl calls a turn saved); only a write that
 * could not finish waits for the socket to be writable.
 */

static void
ngx_noom_redis_add_write(void *data)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    c = data;

    if (c->write->active) {
        return;
    }

    ac = c->data;

    if ((ac->c.flags & REDIS_CONNECTED) && !ngx_noom_redis_writing) {
        if (!c->write->posted) {
            ngx_post_event(c->write, &ngx_posted_events);
        }

        return;
    }

    (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
}


static void
ngx_noom_redis_del_write(void *data)
{
    ngx_connection_t *c = data;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/* hiredis frees its context and closes the socket: the events go first */

static void
ngx_noom_redis_cleanup(void *data)
{
    ngx_connection_t *c = data;

    ngx_noom_redis_del_read(c);
    ngx_noom_redis_del_write(c);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}


/*
 * One read of hiredis is 16 KB: a worker busy with its clients would take
 * 16 KB a turn from a pub/sub link carrying more, and Redis closes a
 * subscriber that falls 32 MB behind (client-output-buffer-limit pubsub).
 * The link also carries back every event the worker published to its
 * rooms, which nothing else paces: in one turn a worker can publish what
 * its clients sent in many buffers.  So the socket is read until it is
 * empty, up to 16 MB a turn (half of Redis's limit).
 */

static void
ngx_noom_redis_read_handler(ngx_event_t *ev)
{
    int                 avail;
    ngx_uint_t          n;
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    c = ev->data;
    ac = c->data;

    for (n = 0; n < NGX_NOOM_REDIS_READS; n++) {
        redisAsyncHandleRead(ac);

        /* the context may be gone: hiredis freed it on an error */

        if (ngx_noom_redis_conns[NGX_NOOM_REDIS_CMD].ac != ac
            && ngx_noom_redis_conns[NGX_NOOM_REDIS_SUB].ac != ac)
        {
            return;
        }

        if (ngx_noom_redis_down_ev.posted
            || ioctl(ac->c.fd, FIONREAD, &avail) == -1 || avail <= 0)
        {
            return;
        }
    }
}


static void
ngx_noom_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    ngx_noom_redis_writing = 1;
    redisAsyncHandleWrite(c->data);
    ngx_noom_redis_writing = 0;
}


static void
ngx_noom_redis_connected(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        /* hiredis frees the context after this */
        ngx_noom_redis_lost(ac, ac->errstr);
    }
}


static void
ngx_noom_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_noom_redis_lost(ac, status == REDIS_OK ? "closed" : ac->errstr);
}


/* a context that hiredis is freeing: the rest of the link goes too */

static void
ngx_noom_redis_lost(const redisAsyncContext *ac, const char *why)
{
    ngx_uint_t  i;

    for (i = 0; i < 2; i++) {
        if (ngx_noom_redis_conns[i].ac == ac) {
            ngx_noom_redis_conns[i].ac = NULL;
            ngx_noom_redis_conns[i].ready = 0;
            break;
        }
    }

    if (i == 2 || ngx_noom_redis_exiting) {
        /* one we took down ourselves */
        return;
    }

    if (ngx_noom_redis_failures++ == 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_noom_redis_log, 0,
                      "noom: redis: link to \"%V\" lost: %s",
                      &ngx_noom_redis_rcf->addr, why ? why : "error");
    }

    if (!ngx_noom_redis_down_ev.posted) {
        ngx_post_event(&ngx_noom_redis_down_ev, &ngx_posted_events);
    }
}


static void
ngx_noom_redis_down_handler(ngx_event_t *ev)
{
    ngx_noom_redis_down();
}


/* outside hiredis's callbacks: whatever is left of the link is freed */

static void
ngx_noom_redis_down(void)
{
    ngx_uint_t          i, was;
    redisAsyncContext  *ac;

    was = ngx_noom_redis_is_linked;
    ngx_noom_redis_is_linked = 0;

    if (ngx_noom_shm) {
        ngx_noom_shm->workers[ngx_noom_slot].redis_up = 0;
    }

    for (i = 0; i < 2; i++) {
        ac = ngx_noom_redis_conns[i].ac;

        if (ac) {
            ngx_noom_redis_conns[i].ac = NULL;
            ngx_noom_redis_conns[i].ready = 0;

            /* pending callbacks are called with no reply */
            redisAsyncFree(ac);
        }
    }

    ngx_noom_redis_pending = 0;
    ngx_noom_redis_answered();

    if (was) {
        ngx_noom_redis_h->down();
    }

    if (ngx_noom_redis_exiting || ngx_noom_redis_retry_ev.timer_set) {
        return;
    }

    ngx_noom_redis_backoff = ngx_noom_redis_backoff
                             ? ngx_min(2 * ngx_noom_redis_backoff,
                                       NGX_NOOM_REDIS_BACKOFF_MAX)
                             : NGX_NOOM_REDIS_BACKOFF_MIN;

    ngx_add_timer(&ngx_noom_redis_retry_ev, ngx_noom_redis_backoff);
}


static void
ngx_noom_redis_retry_handler(ngx_event_t *ev)
{
    if (ngx_noom_redis_exiting || ngx_exiting || ngx_quit) {
        return;
    }

    if (!ngx_noom_redis_tick_ev.timer_set) {
        ngx_add_timer(&ngx_noom_redis_tick_ev, NGX_NOOM_REDIS_TICK);
    }

    ngx_noom_redis_last_reply = ngx_current_msec;

    if (ngx_noom_redis_connect(NGX_NOOM_REDIS_CMD) != NGX_OK
        || ngx_noom_redis_connect(NGX_NOOM_REDIS_SUB) != NGX_OK)
    {
        ngx_noom_redis_down();
        return;
    }
}


/* every second: a stalled link goes down, an idle one is pinged */

static void
ngx_noom_redis_tick_handler(ngx_event_t *ev)
{
    redisAsyncContext  *ac;

    if (ngx_noom_redis_exiting) {
        return;
    }

    ngx_add_timer(ev, NGX_NOOM_REDIS_TICK);

    ac = ngx_noom_redis_conns[NGX_NOOM_REDIS_CMD].ac;

    if (ac == NULL || ngx_noom_redis_down_ev.posted) {
        return;
    }

    if (ngx_current_msec - ngx_noom_redis_last_reply
        >= NGX_NOOM_REDIS_STALL
        && (ngx_noom_redis_pending || !ngx_noom_redis_is_linked))
    {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "noom: redis: \"%V\" did not answer for %M ms",
                      &ngx_noom_redis_rcf->addr,
                      ngx_current_msec - ngx_noom_redis_last_reply);
        ngx_noom_redis_down();
        return;
    }

    if (ngx_noom_redis_is_linked && ngx_noom_redis_pending == 0) {
        (void) ngx_noom_redis_command(NULL, NULL, 1,
                                      (const char *[]) { "PING" },
                                      (const size_t[]) { 4 });
    }
}


static void
ngx_noom_redis_setup_reply(redisAsyncContext *ac, void *r, void *data)
{
    redisReply  *reply = r;

    if (reply == NULL) {
        return;
    }

    ngx_noom_redis_last_reply = ngx_current_msec;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_noom_redis_log, 0,
                      "noom: redis: \"%V\" refused the link: %*s",
                      &ngx_noom_redis_rcf->addr, (size_t) reply->len,
                      reply->str);

        if (!ngx_noom_redis_down_ev.posted) {
            ngx_post_event(&ngx_noom_redis_down_ev, &ngx_posted_events);
        }

        return;
    }

    if (data == NULL) {
        return;
    }

    /* SCRIPT LOAD: the script's SHA1 */

    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        return;
    }

    ngx_memcpy(ngx_noom_redis_sha, reply->str, 40);
    ngx_noom_redis_sha[40] = '\0';

    ngx_noom_redis_ready(NGX_NOOM_REDIS_CMD);
}


static void
ngx_noom_redis_ready(ngx_uint_t i)
{
    ngx_noom_redis_conns[i].ready = 1;

    if (!ngx_noom_redis_conns[0].ready || !ngx_noom_redis_conns[1].ready
        || ngx_noom_redis_is_linked)
    {
        return;
    }

    ngx_noom_redis_is_linked = 1;
    ngx_noom_redis_backoff = 0;

    if (ngx_noom_redis_failures) {
        ngx_noom_stat(redis_reconnects, 1);
    }

    ngx_noom_redis_failures = 0;
    ngx_noom_shm->workers[ngx_noom_slot].redis_up = 1;

    ngx_log_error(NGX_LOG_INFO, ngx_noom_redis_log, 0,
                  "noom: redis: linked to \"%V\"",
                  &ngx_noom_redis_rcf->addr);

    ngx_noom_redis_h->up();
}


ngx_int_t
ngx_noom_redis_command(ngx_noom_redis_reply_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    redisAsyncContext      *ac;
    ngx_noom_redis_call_t  *call;

    ac = ngx_noom_redis_conns[NGX_NOOM_REDIS_CMD].ac;

    if (ac == NULL || !ngx_noom_redis_is_linked
        || ngx_noom_redis_pending >= ngx_noom_redis_rcf->max_pending
        || sdslen(ac->c.obuf) > NGX_NOOM_REDIS_OBUF_MAX)
    {
        return NGX_DECLINED;
    }

    call = ngx_alloc(sizeof(ngx_noom_redis_call_t), ngx_noom_redis_log);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->handler = handler;
    call->data = data;
    call->argv = NULL;

    if (ngx_noom_redis_pending == 0) {
        ngx_noom_redis_last_reply = ngx_current_msec;
    }

    if (redisAsyncCommandArgv(ac, ngx_noom_redis_reply, call, argc, argv,
                              argvlen)
        != REDIS_OK)
    {
        ngx_free(call);
        return NGX_ERROR;
    }

    ngx_noom_redis_sent();

    return NGX_OK;
}


static void
ngx_noom_redis_reply(redisAsyncContext *ac, void *r, void *data)
{
    ngx_noom_redis_call_t *call = data;

    if (r && ngx_noom_redis_pending) {
        ngx_noom_redis_pending--;
        ngx_noom_redis_last_reply = ngx_current_msec;
        ngx_noom_redis_answered();
    }

    if (call->handler) {
        call->handler(r, call->data);
    }

    ngx_free(call);
}


/*
 * EVALSHA of the script with its arguments; a server that lost its
 * scripts (a restart, SCRIPT FLUSH) answers NOSCRIPT, and the same call
 * goes again as EVAL with the script's text.
 */

ngx_int_t
ngx_noom_redis_script(ngx_noom_redis_reply_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    u_char                 *p;
    size_t                  size;
    ngx_int_t               i, n;
    redisAsyncContext      *ac;
    ngx_noom_redis_call_t  *call;

    ac = ngx_noom_redis_conns[NGX_NOOM_REDIS_CMD].ac;

    if (ac == NULL || !ngx_noom_redis_is_linked
        || ngx_noom_redis_pending >= ngx_noom_redis_rcf->max_pending
        || sdslen(ac->c.obuf) > NGX_NOOM_REDIS_OBUF_MAX)
    {
        return NGX_DECLINED;
    }

    /* "EVALSHA" sha "0" argv..., with room for it all in one block */

    n = argc + 3;
    size = sizeof(ngx_noom_redis_call_t) + n * (sizeof(char *)
                                                + sizeof(size_t));

    for (i = 0; i < argc; i++) {
        size += argvlen[i] + 1;
    }

    call = ngx_alloc(size, ngx_noom_redis_log);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->handler = handler;
    call->data = data;
    call->argc = (int) n;
    call->argv = (const char **) (call + 1);
    call->argvlen = (size_t *) (call->argv + n);
    call->retried = 0;

    call->argv[0] = "EVALSHA";
    call->argvlen[0] = 7;
    call->argv[1] = ngx_noom_redis_sha;
    call->argvlen[1] = 40;
    call->argv[2] = "0";
    call->argvlen[2] = 1;

    p = (u_char *) (call->argvlen + n);

    for (i = 0; i < argc; i++) {
        call->argv[i + 3] = (char *) p;
        call->argvlen[i + 3] = argvlen[i];
        p = ngx_cpymem(p, argv[i], argvlen[i]);
        *p++ = '\0';
    }

    if (ngx_noom_redis_pending == 0) {
        ngx_noom_redis_last_reply = ngx_current_msec;
    }

    if (redisAsyncCommandArgv(ac, ngx_noom_redis_script_reply, call,
                              call->argc, call->argv, call->argvlen)
        != REDIS_OK)
    {
        ngx_free(call);
        return NGX_ERROR;
    }

    ngx_noom_redis_sent();

    return NGX_OK;
}


static void
ngx_noom_redis_script_reply(redisAsyncContext *ac, void *r, void *data)
{
    ngx_noom_redis_call_t *call = data;

    redisReply  *reply = r;

    if (reply && ngx_noom_redis_pending) {
        ngx_noom_redis_pending--;
        ngx_noom_redis_last_reply = ngx_current_msec;
        ngx_noom_redis_answered();
    }

    if (reply && reply->type == REDIS_REPLY_ERROR && !call->retried
        && reply->len >= 8 && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && !(ac->c.flags & (REDIS_DISCONNECTING|REDIS_FREEING)))
    {
        call->retried = 1;
        call->argv[0] = "EVAL";
        call->argvlen[0] = 4;
        call->argv[1] = ngx_noom_cluster_lua;
        call->argvlen[1] = ngx_strlen(ngx_noom_cluster_lua);

        ngx_log_error(NGX_LOG_INFO, ngx_noom_redis_log, 0,
                      "noom: redis: script not loaded, sending it again");

        if (redisAsyncCommandArgv(ac, ngx_noom_redis_script_reply, call,
                                  call->argc, call->argv, call->argvlen)
            == REDIS_OK)
        {
            ngx_noom_redis_sent();
            return;
        }

        reply = NULL;
    }

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_noom_redis_log, 0,
                      "noom: redis: script \"%s\" failed: %*s",
                      call->argv[3], (size_t) reply->len, reply->str);
    }

    if (call->handler) {
        call->handler(reply, call->data);
    }

    ngx_free(call);
}


ngx_int_t
ngx_noom_redis_subscribe(const char *cmd, int argc, const char **argv,
    const size_t *argvlen)
{
    int                 i;
    size_t              vlen[NGX_NOOM_REDIS_SUB_MAX + 1];
    const char         *v[NGX_NOOM_REDIS_SUB_MAX + 1];
    redisAsyncContext  *ac;

    ac = ngx_noom_redis_conns[NGX_NOOM_REDIS_SUB].ac;

    if (ac == NULL || !ngx_noom_redis_is_linked
        || argc > NGX_NOOM_REDIS_SUB_MAX)
    {
        return NGX_DECLINED;
    }

    v[0] = cmd;
    vlen[0] = ngx_strlen(cmd);

    for (i = 0; i < argc; i++) {
        v[i + 1] = argv[i];
        vlen[i + 1] = argvlen[i];
    }

    if (redisAsyncCommandArgv(ac, ngx_noom_redis_sub_reply, NULL, argc + 1,
                              v, vlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A worker that shuts down leaves when no timer that cannot be cancelled
 * is left: one such timer keeps it, 1 s at most, until Redis has answered
 * what its closing sockets sent (their leaves), so that the other nodes
 * see them go now, not after noom_redis_node_timeout.
 */

static void
ngx_noom_redis_sent(void)
{
    ngx_noom_redis_pending++;

    if (ngx_exiting && !ngx_noom_redis_flush_ev.timer_set) {
        ngx_add_timer(&ngx_noom_redis_flush_ev, 1000);
    }
}


static void
ngx_noom_redis_answered(void)
{
    if (ngx_noom_redis_pending == 0 && ngx_noom_redis_flush_ev.timer_set) {
        ngx_del_timer(&ngx_noom_redis_flush_ev);
    }
}


static void
ngx_noom_redis_flush_handler(ngx_event_t *ev)
{
    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "noom: redis: exiting with %ui commands unanswered",
                  ngx_noom_redis_pending);
}


/* everything that comes on the subscribed connection */

static void
ngx_noom_redis_sub_reply(redisAsyncContext *ac, void *r, void *data)
{
    redisReply  *reply = r;
    redisReply  *type, *ch;

    if (reply == NULL || ngx_noom_redis_exiting) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_noom_redis_log, 0,
                      "noom: redis: subscription refused: %*s",
                      (size_t) reply->len, reply->str);

        if (!ngx_noom_redis_down_ev.posted) {
            ngx_post_event(&ngx_noom_redis_down_ev, &ngx_posted_events);
        }

        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    type = reply->element[0];
    ch = reply->element[1];

    if (type->len == 7 && ngx_strncmp(type->str, "message", 7) == 0) {

        if (reply->element[2]->type != REDIS_REPLY_STRING) {
            return;
        }

        ngx_noom_redis_h->message((u_char *) ch->str, ch->len,
                                  (u_char *) reply->element[2]->str,
                                  reply->element[2]->len);
        return;
    }

    if (type->len == 9 && ngx_strncmp(type->str, "subscribe", 9) == 0) {

        if (!ngx_noom_redis_conns[NGX_NOOM_REDIS_SUB].ready) {
            if (ch->len == 10 && ngx_strncmp(ch->str, "noom:rooms", 10) == 0)
            {
                ngx_noom_redis_ready(NGX_NOOM_REDIS_SUB);
            }

            return;
        }

        ngx_noom_redis_h->subscribed((u_char *) ch->str, ch->len, 1);
        return;
    }

    if (type->len == 11 && ngx_strncmp(type->str, "unsubscribe", 11) == 0) {
        ngx_noom_redis_h->subscribed((u_char *) ch->str, ch->len, 0);
    }
}
