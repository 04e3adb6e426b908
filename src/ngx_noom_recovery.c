
/*
 * Copyright (C) noom authors
 *
 * Connection state recovery (noom_recovery), as Socket.IO 4.6 defines it.
 * A socket of "/" gets a private id (pid) in the CONNECT answer, and every
 * event it receives ends with an offset: 16 hex digits, the number the
 * zone gave the last logged event the socket was sent.  Room events and
 * signaling get their numbers under the zone's lock, in one order for the
 * whole zone, and are kept in their room's log; every worker delivers them
 * in that order (ngx_noom_relay_room()).
 *
 * When a recoverable socket's transport goes, its record in the zone goes
 * "away" for the window: its member stays in its room, counted, and the
 * others are told nothing.  A CONNECT that names its pid and offset, on
 * any worker, takes the record back: the same socket id, nickname and
 * room, then the room's logged events after that offset that were meant
 * for it, in order.  Whatever cannot be replayed exactly (an unknown or
 * live pid, an offset the log no longer covers, an offset never given)
 * gives a fresh session; an away session whose owner came back and could
 * not be recovered ends at once, so its room hears "bye" now and not at the
 * window's end.
 */


#include "ngx_noom.h"


#define NGX_NOOM_SWEEP_INTERVAL     1000
#define NGX_NOOM_SWEEP_BATCH        64


static ngx_uint_t ngx_noom_recovery_end_locked(ngx_noom_sess_t *s,
    ngx_noom_gone_t *g);
static void ngx_noom_recovery_free_locked(ngx_noom_sess_t *s);
static ngx_int_t ngx_noom_recovery_nick_locked(ngx_noom_sess_t *s,
    ngx_noom_ctx_t *ctx);
static void ngx_noom_recovery_sweep(ngx_event_t *ev);
static ngx_int_t ngx_noom_recovery_offset(json_t *v, uint64_t *seq);
static ngx_uint_t ngx_noom_recovery_dead_locked(ngx_uint_t w);
static void ngx_noom_recovery_trim(ngx_noom_room_t *room, uint64_t seq,
    u_char *from);


ngx_msec_t                          ngx_noom_recovery;

static ngx_http_noom_main_conf_t   *ngx_noom_rmcf;
static ngx_event_t                  ngx_noom_sweep_ev;
static ngx_connection_t             ngx_noom_sweep_conn;  /* for logs */

/* a worker's copy of what a returning socket missed */
static u_char                      *ngx_noom_replay;
static size_t                       ngx_noom_replay_size;
static size_t                       ngx_noom_replay_len;
static uint64_t                     ngx_noom_replay_seq;

/* what a sweep tells the rooms of the sessions it ended */
static ngx_noom_gone_t             *ngx_noom_gone;

static ngx_noom_log_limit_t         ngx_noom_recovery_log;


ngx_int_t
ngx_noom_recovery_init_process(ngx_cycle_t *cycle)
{
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_noom_module);

    ngx_noom_rmcf = mcf;
    ngx_noom_recovery = mcf->recovery;

    if (ngx_noom_recovery == 0) {
        return NGX_OK;
    }

    /* each entry as (seq, length, frames), 8-byte aligned */

    ngx_noom_replay_size = mcf->recovery_log_size
                           + mcf->recovery_log * (2 * sizeof(uint64_t) + 8);

    ngx_noom_replay = ngx_alloc(ngx_noom_replay_size, cycle->log);
    if (ngx_noom_replay == NULL) {
        return NGX_ERROR;
    }

    ngx_noom_gone = ngx_noom_rooms_gone_alloc(NGX_NOOM_SWEEP_BATCH,
                                              cycle->log);
    if (ngx_noom_gone == NULL) {
        return NGX_ERROR;
    }

    ngx_noom_sweep_ev.handler = ngx_noom_recovery_sweep;
    ngx_noom_sweep_conn.fd = (ngx_socket_t) -1;
    ngx_noom_sweep_ev.data = &ngx_noom_sweep_conn;
    ngx_noom_sweep_ev.log = cycle->log;
    ngx_noom_sweep_ev.cancelable = 1;

    ngx_add_timer(&ngx_noom_sweep_ev, NGX_NOOM_SWEEP_INTERVAL);

    return NGX_OK;
}


void
ngx_noom_recovery_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_noom_sweep_ev.timer_set) {
        ngx_del_timer(&ngx_noom_sweep_ev);
    }

    if (ngx_noom_replay) {
        ngx_free(ngx_noom_replay);
        ngx_noom_replay = NULL;
    }

    if (ngx_noom_gone) {
        ngx_free(ngx_noom_gone);
        ngx_noom_gone = NULL;
    }
}


/* the zone's part, from ngx_noom_zone_init() */

void
ngx_noom_recovery_init_zone(ngx_noom_shm_t *sh)
{
    ngx_rbtree_init(&sh->sess, &sh->sess_sentinel, ngx_rbtree_insert_value);
    ngx_queue_init(&sh->live);
    ngx_queue_init(&sh->away);
}


/* after a process died changing the zone: the tree from the lists */

void
ngx_noom_recovery_repair_locked(ngx_noom_shm_t *sh)
{
    ngx_uint_t        n;
    ngx_queue_t      *q;
    ngx_noom_sess_t  *s;

    ngx_rbtree_init(&sh->sess, &sh->sess_sentinel, ngx_rbtree_insert_value);

    n = 0;

    for (q = ngx_queue_head(&sh->live);
         q != ngx_queue_sentinel(&sh->live);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_noom_sess_t, queue);
        ngx_rbtree_insert(&sh->sess, &s->node);
        n++;
    }

    sh->nlive = n;
    n = 0;

    for (q = ngx_queue_head(&sh->away);
         q != ngx_queue_sentinel(&sh->away);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_noom_sess_t, queue);
        ngx_rbtree_insert(&sh->sess, &s->node);
        n++;
    }

    sh->naway = n;
}


/*
 * A CONNECT to "/" on a location with noom_recovery: the socket named by
 * auth's pid and offset comes back (NGX_DONE), or a new recoverable one is
 * made (NGX_OK).  Without room in the zone the socket is not recoverable,
 * which the answer shows by having no pid.  A pid still attached to a
 * socket is NGX_AGAIN while the caller may wait, then a new socket.
 */

ngx_int_t
ngx_noom_recovery_connect(ngx_noom_ctx_t *ctx, json_t *auth, ngx_uint_t wait)
{
    u_char             *p, *last;
    size_t              len;
    json_t             *pid, *offset;
    uint64_t            from, uid, trimmed;
    ngx_uint_t          has_from, bad, n;
    const char         *why;
    ngx_queue_t        *q;
    ngx_noom_room_t    *room;
    ngx_noom_sess_t    *s;
    ngx_noom_member_t  *mb;
    ngx_noom_logent_t  *e;

    pid = auth ? json_object_get(auth, "pid") : NULL;

    if (pid == NULL || !json_is_string(pid)) {
        return ngx_noom_recovery_new(ctx);
    }

    offset = json_object_get(auth, "offset");
    has_from = (offset != NULL && !json_is_null(offset));
    from = 0;

    bad = has_from && ngx_noom_recovery_offset(offset, &from) != NGX_OK;

    why = "unknown pid";
    uid = 0;

    ngx_noom_zone_lock();

    s = NULL;

    if (json_string_length(pid) == NGX_NOOM_ID_LEN) {
        p = (u_char *) json_string_value(pid);

        /* pids have unique hashes; the pid is compared in constant time */

        s = (ngx_noom_sess_t *)
            ngx_noom_rbtree_find(&ngx_noom_shm->sess,
                                 ngx_hash_key(p, NGX_NOOM_ID_LEN));

        if (s && !ngx_noom_id_equal(s->pid, p)) {
            s = NULL;
        }
    }

    if (s && s->worker != NGX_NOOM_AWAY
        && ngx_noom_recovery_dead_locked(s->worker))
    {
        /* its worker died, and its successor has not started yet */
        ngx_noom_zone_dirty();
        (void) ngx_noom_recovery_detach_worker_locked(s->worker);
    }

    if (s && s->worker != NGX_NOOM_AWAY) {

        /*
         * Still attached: most often to the socket its client has just
         * closed, on a worker that has not read the close yet.  The
         * caller asks again a little later, for a while.
         */

        ngx_noom_zone_unlock();

        if (wait) {
            return NGX_AGAIN;
        }

        why = "its socket is still connected";
        goto fresh;
    }

    if (s == NULL) {
        ngx_noom_zone_unlock();
        goto fresh;
    }

    why = "offset not in the log";

    if (bad || from > ngx_noom_shm->seq) {
        /* not an offset noom gave */
        goto failed;
    }

    mb = s->member;
    p = ngx_noom_replay;
    last = ngx_noom_replay + ngx_noom_replay_size;

    if (mb) {
        room = mb->room;

        if (!has_from || from < mb->joined) {
            from = mb->joined;
        }

        /* its own events, which a replay skips, do not count */

        trimmed = (ngx_memcmp(room->trimmed_by, s->id, NGX_NOOM_ID_LEN) == 0)
                  ? room->trimmed_other : room->trimmed;

        if (trimmed > from) {
            /* the log no longer holds all it missed */
            goto failed;
        }

        for (q = ngx_queue_head(&room->log);
             q != ngx_queue_sentinel(&room->log);
             q = ngx_queue_next(q))
        {
            e = ngx_queue_data(q, ngx_noom_logent_t, queue);

            if (e->seq <= from) {
                continue;
            }

            if (e->to[0] && ngx_memcmp(e->to, s->id, NGX_NOOM_ID_LEN) != 0) {
                continue;
            }

            if (e->from[0]
                && ngx_memcmp(e->from, s->id, NGX_NOOM_ID_LEN) == 0)
            {
                continue;
            }

            len = ngx_align(e->len, 8);

            if ((size_t) (last - p) < 2 * sizeof(uint64_t) + len) {
                goto failed;
            }

            ((uint64_t *) p)[0] = e->seq;
            ((uint64_t *) p)[1] = e->len;
            ngx_memcpy(p + 2 * sizeof(uint64_t), e->data, e->len);
            p += 2 * sizeof(uint64_t) + len;
        }

        uid = room->uid;
        room->per_worker[ngx_noom_slot]++;
        ngx_noom_shm->workers[ngx_noom_slot].members++;
        mb->worker = ngx_noom_slot;
        mb->serial = ctx->serial;
    }

    ngx_queue_remove(&s->queue);
    ngx_queue_insert_tail(&ngx_noom_shm->live, &s->queue);
    ngx_noom_shm->naway--;
    ngx_noom_shm->nlive++;

    s->worker = ngx_noom_slot;

    ngx_memcpy(ctx->nsp[NGX_NOOM_NSP_APP].id, s->id, NGX_NOOM_ID_LEN);
    ctx->nick_len = 0;

    if (s->nick) {
        ctx->nick_len = *(size_t *) s->nick;
        ngx_memcpy(ctx->nick, s->nick + sizeof(size_t), ctx->nick_len);
    }

    ctx->sess = s;
    ctx->member = mb;

    ngx_noom_replay_seq = ngx_noom_shm->seq;

    ngx_noom_zone_unlock();

    ngx_noom_replay_len = p - ngx_noom_replay;

    /*
     * The replay goes out after the CONNECT answer; what is logged from
     * now on, and what meets the socket in this worker's ring but was in
     * the copy, is told apart by its number.
     */

    ctx->last_seq = from;

    if (mb && ngx_noom_local_join(ctx, uid) != NGX_OK) {
        ngx_noom_replay_len = 0;
        return NGX_ERROR;
    }

    ngx_noom_stat(recovered, 1);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "noom: socket %uL recovers %*s after offset %uL",
                   ctx->serial, (size_t) NGX_NOOM_ID_LEN,
                   ctx->nsp[NGX_NOOM_NSP_APP].id, from);

    return NGX_DONE;

failed:

    /* its owner came back and cannot have it: it ends now, not at expiry */

    n = ngx_noom_recovery_end_locked(s, ngx_noom_gone);

    ngx_noom_zone_unlock();

    ngx_noom_rooms_byes(ngx_noom_gone, n);

fresh:

    ngx_noom_stat(recovery_failed, 1);

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: session not recovered (%s), a new one starts",
                  why);

    return ngx_noom_recovery_new(ctx);
}


/*
 * A worker that died: its pid is gone.  A system call under the lock, but
 * only when a CONNECT names a live session, which is a crash's race or a
 * guess.
 */

static ngx_uint_t
ngx_noom_recovery_dead_locked(ngx_uint_t w)
{
    ngx_pid_t  pid;

    pid = ngx_noom_shm->workers[w].pid;

    return pid > 0 && pid != ngx_pid && kill(pid, 0) == -1
           && ngx_errno == NGX_ESRCH;
}


/* "0123456789abcdef": what ngx_noom_sio_offset() writes */

static ngx_int_t
ngx_noom_recovery_offset(json_t *v, uint64_t *seq)
{
    u_char      c;
    uint64_t    n;
    ngx_uint_t  i;
    const char *p;

    if (!json_is_string(v) || json_string_length(v) != 16) {
        return NGX_ERROR;
    }

    p = json_string_value(v);
    n = 0;

    for (i = 0; i < 16; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            n = (n << 4) | (c - '0');

        } else if (c >= 'a' && c <= 'f') {
            n = (n << 4) | (c - 'a' + 10);

        } else {
            return NGX_ERROR;
        }
    }

    *seq = n;

    return NGX_OK;
}


/* a new recoverable socket: its record, with a pid, in the zone */

ngx_int_t
ngx_noom_recovery_new(ngx_noom_ctx_t *ctx)
{
    u_char             pid[NGX_NOOM_ID_LEN];
    ngx_noom_sess_t   *s;
    ngx_rbtree_key_t   key;

    for ( ;; ) {
        if (ngx_noom_random_id(pid) != NGX_OK) {
            return NGX_OK;
        }

        key = ngx_hash_key(pid, NGX_NOOM_ID_LEN);

        ngx_noom_zone_lock();

        if (ngx_noom_rbtree_find(&ngx_noom_shm->sess, key) == NULL) {
            break;
        }

        /* a pid whose hash another one has is drawn again */

        ngx_noom_zone_unlock();
    }

    s = ngx_slab_alloc_locked(ngx_noom_shpool, sizeof(ngx_noom_sess_t));

    if (s) {
        s->nick = NULL;

        if (ngx_noom_recovery_nick_locked(s, ctx) != NGX_OK) {
            ngx_slab_free_locked(ngx_noom_shpool, s);
            s = NULL;
        }
    }

    if (s == NULL) {
        ngx_noom_zone_unlock();

        ngx_noom_stat(recovery_refused, 1);

        ngx_noom_log_limited(&ngx_noom_recovery_log, NGX_LOG_ERR, ctx->log,
                             "noom: zone is full, this socket cannot be "
                             "recovered");
        return NGX_OK;
    }

    ngx_memcpy(s->pid, pid, NGX_NOOM_ID_LEN);
    ngx_memcpy(s->id, ctx->nsp[NGX_NOOM_NSP_APP].id, NGX_NOOM_ID_LEN);
    s->member = NULL;
    s->worker = ngx_noom_slot;
    s->expires = 0;
    s->node.key = key;

    ngx_rbtree_insert(&ngx_noom_shm->sess, &s->node);
    ngx_queue_insert_tail(&ngx_noom_shm->live, &s->queue);
    ngx_noom_shm->nlive++;

    ngx_noom_zone_unlock();

    ctx->sess = s;

    return NGX_OK;
}


/* after the CONNECT answer of a recovered socket: what it missed */

void
ngx_noom_recovery_replay(ngx_noom_ctx_t *ctx)
{
    u_char          *p, *last;
    size_t           len;
    ngx_uint_t       n;
    ngx_noom_msg_t  *m;

    p = ngx_noom_replay;
    last = ngx_noom_replay + ngx_noom_replay_len;
    n = 0;

    while (p < last) {
        len = ((uint64_t *) p)[1];

        m = ngx_noom_msg_copy(p + 2 * sizeof(uint64_t), len);
        if (m == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            break;
        }

        m->seq = ((uint64_t *) p)[0];

        ngx_noom_send(ctx, m);
        ngx_noom_msg_release(m);

        p += 2 * sizeof(uint64_t) + ngx_align(len, 8);
        n++;
    }

    ngx_noom_replay_len = 0;

    if (ctx->last_seq < ngx_noom_replay_seq) {
        ctx->last_seq = ngx_noom_replay_seq;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "noom: socket %uL gets %ui missed events", ctx->serial, n);
}


/*
 * The session keeps its nickname beside it, at its own size, so that the
 * record itself is a 128-byte slab chunk: a nickname of the default 64
 * bytes kept in it would double that for every socket.
 */

void
ngx_noom_recovery_nick(ngx_noom_ctx_t *ctx)
{
    ngx_int_t  rc;

    ngx_noom_zone_lock();
    rc = ngx_noom_recovery_nick_locked(ctx->sess, ctx);
    ngx_noom_zone_unlock();

    if (rc == NGX_OK) {
        return;
    }

    /* the old nickname would come back: the socket cannot be recovered */

    ngx_noom_stat(recovery_refused, 1);

    ngx_noom_log_limited(&ngx_noom_recovery_log, NGX_LOG_ERR, ctx->log,
                         "noom: zone is full, this socket cannot be "
                         "recovered");

    ngx_noom_recovery_forget(ctx);
}


static ngx_int_t
ngx_noom_recovery_nick_locked(ngx_noom_sess_t *s, ngx_noom_ctx_t *ctx)
{
    u_char  *nick;

    ngx_noom_zone_dirty();

    nick = NULL;

    if (ctx->nick_len) {
        nick = ngx_slab_alloc_locked(ngx_noom_shpool,
                                     sizeof(size_t) + ctx->nick_len);
        if (nick == NULL) {
            return NGX_ERROR;
        }

        *(size_t *) nick = ctx->nick_len;
        ngx_memcpy(nick + sizeof(size_t), ctx->nick, ctx->nick_len);
    }

    if (s->nick) {
        ngx_slab_free_locked(ngx_noom_shpool, s->nick);
    }

    s->nick = nick;

    return NGX_OK;
}


/*
 * The session's transport is gone: the socket goes away for the window,
 * its member staying in its room (NGX_OK), unless the end was the
 * client's own doing or there are too many away already (NGX_DECLINED).
 */

ngx_int_t
ngx_noom_recovery_detach(ngx_noom_ctx_t *ctx)
{
    ngx_noom_sess_t  *s;

    switch (ctx->close_code) {

    case NGX_NOOM_END_UNSUPPORTED:
    case NGX_NOOM_END_BAD_DATA:
    case NGX_NOOM_END_POLICY:
    case NGX_NOOM_END_TOO_BIG:
    case NGX_NOOM_END_INTERNAL:
        return NGX_DECLINED;
    }

    s = ctx->sess;

    ngx_noom_zone_lock();

    if (ngx_noom_shm->naway >= ngx_noom_rmcf->recovery_sessions) {
        ngx_noom_zone_unlock();

        ngx_noom_stat(recovery_refused, 1);

        ngx_noom_log_limited(&ngx_noom_recovery_log, NGX_LOG_WARN, ctx->log,
                             "noom: %ui sessions are away already "
                             "(noom_recovery sessions=), this one ends",
                             ngx_noom_rmcf->recovery_sessions);
        return NGX_DECLINED;
    }

    ngx_noom_zone_dirty();

    ngx_noom_recovery_away_locked(s);

    ngx_noom_zone_unlock();

    if (ctx->asock[NGX_NOOM_NSP_APP]) {
        ctx->asock[NGX_NOOM_NSP_APP]->member = NULL;
    }

    ctx->sess = NULL;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "noom: socket %uL (%*s) is away",
                   ctx->serial, (size_t) NGX_NOOM_ID_LEN,
                   ctx->nsp[NGX_NOOM_NSP_APP].id);

    return NGX_OK;
}


/* away until the window ends; its member's count leaves its worker */

void
ngx_noom_recovery_away_locked(ngx_noom_sess_t *s)
{
    ngx_noom_member_t  *mb;

    mb = s->member;

    if (mb && mb->worker != NGX_NOOM_AWAY) {
        mb->room->per_worker[mb->worker]--;
        ngx_noom_shm->workers[mb->worker].members--;
        mb->worker = NGX_NOOM_AWAY;
    }

    ngx_queue_remove(&s->queue);
    ngx_queue_insert_tail(&ngx_noom_shm->away, &s->queue);
    ngx_noom_shm->nlive--;
    ngx_noom_shm->naway++;

    s->worker = NGX_NOOM_AWAY;
    s->expires = ngx_current_msec + ngx_noom_recovery;
}


/*
 * A worker died or exits with sockets it did not close: they go away as
 * if their transports had gone.  Returns how many.
 */

ngx_uint_t
ngx_noom_recovery_detach_worker_locked(ngx_uint_t w)
{
    ngx_uint_t        n;
    ngx_queue_t      *q, *next;
    ngx_noom_sess_t  *s;

    n = 0;

    for (q = ngx_queue_head(&ngx_noom_shm->live);
         q != ngx_queue_sentinel(&ngx_noom_shm->live);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_noom_sess_t, queue);

        if (s->worker == w) {
            ngx_noom_recovery_away_locked(s);
            n++;
        }
    }

    return n;
}


/* a CONNECT that was not answered after all: the session is as before */

void
ngx_noom_recovery_undo(ngx_noom_ctx_t *ctx)
{
    if (ctx->sess == NULL) {
        return;
    }

    if (ctx->member == NULL && ctx->sess->member == NULL
        && ctx->sess->expires == 0)
    {
        /* made for this CONNECT */
        ngx_noom_recovery_forget(ctx);
        return;
    }

    ngx_noom_local_leave(ctx);

    ngx_noom_zone_lock();
    ngx_noom_zone_dirty();
    ngx_noom_recovery_away_locked(ctx->sess);
    ngx_noom_zone_unlock();

    ctx->member = NULL;
    ctx->sess = NULL;
}


/* the socket left for good (DISCONNECT, or a close that ends it) */

void
ngx_noom_recovery_forget(ngx_noom_ctx_t *ctx)
{
    ngx_noom_sess_t  *s;

    s = ctx->sess;
    ctx->sess = NULL;

    ngx_noom_zone_lock();
    ngx_noom_zone_dirty();

    if (s->member) {
        s->member->sess = NULL;
    }

    ngx_rbtree_delete(&ngx_noom_shm->sess, &s->node);
    ngx_queue_remove(&s->queue);
    ngx_noom_shm->nlive--;
    ngx_noom_recovery_free_locked(s);

    ngx_noom_zone_unlock();
}


/*
 * An away session ends: its member leaves its room, and g says what the
 * room must be told (returns 1), if anybody is left in it.
 */

static ngx_uint_t
ngx_noom_recovery_end_locked(ngx_noom_sess_t *s, ngx_noom_gone_t *g)
{
    ngx_uint_t          n;
    ngx_noom_member_t  *mb;

    ngx_noom_zone_dirty();

    n = 0;
    mb = s->member;

    if (mb) {
        mb->sess = NULL;
        n = ngx_noom_rooms_leave_locked(mb, g);
    }

    ngx_rbtree_delete(&ngx_noom_shm->sess, &s->node);
    ngx_queue_remove(&s->queue);
    ngx_noom_shm->naway--;
    ngx_noom_recovery_free_locked(s);

    return n;
}


static void
ngx_noom_recovery_free_locked(ngx_noom_sess_t *s)
{
    if (s->nick) {
        ngx_slab_free_locked(ngx_noom_shpool, s->nick);
    }

    ngx_slab_free_locked(ngx_noom_shpool, s);
}


/* every second, on every worker: the sessions whose window ended */

static void
ngx_noom_recovery_sweep(ngx_event_t *ev)
{
    ngx_uint_t        n, k;
    ngx_queue_t      *q;
    ngx_noom_sess_t  *s;

    n = 0;
    k = 0;

    if (ngx_noom_shm->naway) {

        ngx_noom_zone_lock();

        while (!ngx_queue_empty(&ngx_noom_shm->away)
               && k < NGX_NOOM_SWEEP_BATCH)
        {
            q = ngx_queue_head(&ngx_noom_shm->away);
            s = ngx_queue_data(q, ngx_noom_sess_t, queue);

            if ((ngx_msec_int_t) (s->expires - ngx_current_msec) > 0) {
                break;
            }

            n += ngx_noom_recovery_end_locked(s, &ngx_noom_gone[n]);
            k++;
        }

        ngx_noom_zone_unlock();
    }

    if (k) {
        ngx_noom_stat(recovery_expired, k);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "noom: %ui away sessions expired", k);

        ngx_noom_rooms_byes(ngx_noom_gone, n);
    }

    if (!ngx_exiting) {
        ngx_add_timer(ev, k == NGX_NOOM_SWEEP_BATCH
                          ? 1 : NGX_NOOM_SWEEP_INTERVAL);
    }
}


/*
 * Under the lock, from the relay: a recoverable event of a room (to a
 * member, when "to" is set; sent by member "from", if not NULL) goes into
 * the room's log, older entries making
 * way for it by age, number and size.  What cannot be kept is marked as
 * the room's "trimmed", so that nobody is recovered across it.
 */

void
ngx_noom_recovery_log_locked(ngx_noom_room_t *room, u_char *from,
    u_char *to, ngx_noom_msg_t *m)
{
    ngx_queue_t        *q;
    ngx_noom_logent_t  *e;

    /*
     * Each worker's clock is the time of its last event loop turn: an
     * entry another worker made may look younger than "now" here, and an
     * unsigned difference would make it ages old.
     */

    while (!ngx_queue_empty(&room->log)) {
        q = ngx_queue_head(&room->log);
        e = ngx_queue_data(q, ngx_noom_logent_t, queue);

        if (room->nlog < ngx_noom_rmcf->recovery_log
            && room->log_bytes + m->len <= ngx_noom_rmcf->recovery_log_size
            && (ngx_msec_int_t) (ngx_current_msec - e->time)
               < (ngx_msec_int_t) ngx_noom_recovery)
        {
            break;
        }

        ngx_noom_recovery_trim(room, e->seq, e->from);
        ngx_noom_recovery_drop_locked(room, e);
    }

    if (m->len > ngx_noom_rmcf->recovery_log_size
        || ngx_noom_shm->log_bytes + ngx_noom_logent_size(m->len)
           > ngx_noom_zone_share())
    {
        goto drop;
    }

    e = ngx_slab_alloc_locked(ngx_noom_shpool,
                              offsetof(ngx_noom_logent_t, data) + m->len);
    if (e == NULL) {
        goto drop;
    }

    e->seq = m->seq;
    e->time = ngx_current_msec;
    e->len = m->len;

    if (to) {
        ngx_memcpy(e->to, to, NGX_NOOM_ID_LEN);

    } else {
        e->to[0] = '\0';
    }

    /* a sender does not get its own event back in a replay */

    if (from) {
        ngx_memcpy(e->from, from, NGX_NOOM_ID_LEN);

    } else {
        e->from[0] = '\0';
    }

    ngx_memcpy(e->data, m->pos, m->len);

    ngx_queue_insert_tail(&room->log, &e->queue);
    room->nlog++;
    room->log_bytes += m->len;
    ngx_noom_shm->log_bytes += ngx_noom_logent_size(m->len);

    return;

drop:

    ngx_noom_recovery_trim(room, m->seq, from ? from : (u_char *) "");
    ngx_noom_stat(recovery_log_drops, 1);
}


/*
 * A room keeps the last number it could not keep, and the last one not
 * sent by that event's sender: a sender whose offset lags behind its own
 * events (it received nothing while it talked) still recovers, since a
 * replay would skip them anyway.  A gap of events to others counts for
 * all: it is a hole for somebody, and which is not known here.
 */

static void
ngx_noom_recovery_trim(ngx_noom_room_t *room, uint64_t seq, u_char *from)
{
    if (from[0] == '\0') {
        room->trimmed_other = seq;
        room->trimmed_by[0] = '\0';

    } else if (ngx_memcmp(room->trimmed_by, from, NGX_NOOM_ID_LEN) != 0) {
        room->trimmed_other = room->trimmed;
        ngx_memcpy(room->trimmed_by, from, NGX_NOOM_ID_LEN);
    }

    room->trimmed = seq;
}


void
ngx_noom_recovery_drop_locked(ngx_noom_room_t *room, ngx_noom_logent_t *e)
{
    ngx_queue_remove(&e->queue);
    room->nlog--;
    room->log_bytes -= e->len;
    ngx_noom_shm->log_bytes -= ngx_noom_logent_size(e->len);
    ngx_slab_free_locked(ngx_noom_shpool, e);
}
