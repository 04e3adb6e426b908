
/*
 * Copyright (C) noom authors
 *
 * Delivery.  Locally, each worker keeps its connections in lists and its
 * room members in an rbtree of local rooms keyed by room uid, so a room
 * broadcast is one encoded message put on each local member's queue.
 * Between workers, a message goes once per worker that has members, as
 * ready-made frames, into that worker's bounded ring in the zone; an
 * eventfd per worker, rung only when its ring goes from quiet to pending,
 * wakes it.  Workers are named by their slot in the zone (ngx_noom_slot:
 * ngx_worker in the half of the slots that their configuration generation
 * has), which a respawned worker keeps, so nothing depends on process
 * slots, and old and new workers of a reload never share a ring.  While
 * a ring this worker writes to is over 3/4 full, the worker stops reading
 * its clients (for noom_worker_queue wait= at most); a full ring drops the
 * record, counts it, and the sender is told.  A worker that was waited
 * for in vain is not waited for again until its ring drains, and the
 * others are.
 */


#include "ngx_noom.h"
#include <sys/eventfd.h>


#define NGX_NOOM_DRAIN_BATCH       256

/* sockets that get a room list in one turn of the event loop */
#define NGX_NOOM_ROOM_CHANGE_SLICE 1024

#define NGX_NOOM_HOLD_NONE         0
#define NGX_NOOM_HOLD_ON           1


/* an event of this worker waiting behind its ring's records */

typedef struct {
    ngx_queue_t                queue;
    ngx_noom_msg_t            *msg;
    ngx_uint_t                 type;        /* NGX_NOOM_REC_ROOM, _UNICAST */
    uint64_t                   uid;
    uint64_t                   target;      /* the sender, or the member */
    size_t                     mark;        /* the ring's tail then */
} ngx_noom_later_t;


static void ngx_noom_relay_bell_handler(ngx_event_t *ev);
static void ngx_noom_relay_shutdown(void);
static void ngx_noom_relay_drain(void);
static void ngx_noom_relay_deliver(ngx_noom_rec_t *rec, u_char *payload);
static void ngx_noom_relay_members(ngx_queue_t *list, ngx_uint_t type,
    uint64_t target, ngx_noom_msg_t *m);
static ngx_int_t ngx_noom_relay_later_locked(ngx_noom_room_t *room,
    ngx_uint_t type, uint64_t uid, uint64_t target, ngx_noom_msg_t *m);
static void ngx_noom_relay_later_run(size_t head);
static void ngx_noom_relay_later_spare(void);
static void ngx_noom_relay_room_change_handler(ngx_event_t *ev);
static ngx_uint_t ngx_noom_relay_congested(void);
static void ngx_noom_relay_hold_handler(ngx_event_t *ev);
static void ngx_noom_relay_release(void);
static ngx_int_t ngx_noom_ring_put_rec_locked(ngx_uint_t w, ngx_uint_t type,
    uint64_t room, uint64_t target, uint64_t seq, u_char *p, size_t len);
static ngx_uint_t ngx_noom_relay_log_locked(ngx_noom_room_t *room,
    u_char *from, u_char *to, ngx_noom_msg_t *m);
static ngx_inline void ngx_noom_relay_mark_locked(ngx_noom_room_t *room,
    ngx_uint_t w, ngx_noom_msg_t *m);


static ngx_rbtree_t                ngx_noom_lrooms;
static ngx_rbtree_node_t           ngx_noom_lrooms_sentinel;
static ngx_queue_t                 ngx_noom_lists[NGX_NOOM_LISTS];
static ngx_connection_t           *ngx_noom_bell;
static ngx_event_t                 ngx_noom_room_change_ev;
static ngx_msec_t                  ngx_noom_room_change_last;
static ngx_msec_t                  ngx_noom_room_change_gap;
static ngx_noom_msg_t             *ngx_noom_room_change_msg;  /* going out */
static ngx_uint_t                  ngx_noom_room_change_again;
static ngx_event_t                 ngx_noom_hold_ev;
static ngx_queue_t                 ngx_noom_held;
static ngx_uint_t                  ngx_noom_hold_state;
static ngx_msec_t                  ngx_noom_hold_start;
static ngx_atomic_uint_t           ngx_noom_drops_seen;
static ngx_queue_t                 ngx_noom_later;      /* ngx_noom_later_t */
static ngx_queue_t                 ngx_noom_later_free;
static ngx_http_noom_main_conf_t  *ngx_noom_relay_mcf;
static ngx_noom_log_limit_t        ngx_noom_lobby_log;
static ngx_uint_t                  ngx_noom_bell_deferred;

ngx_uint_t                         ngx_noom_takeovers;


/*
 * In the master, before the workers are forked: a doorbell per slot of the
 * zone.  They live as long as the zone does, through reloads, so that the
 * workers of every generation that shares the zone hold all of them.  A
 * reload that makes a new zone (another size) makes new ones; the old ones
 * stay open in the master, which the workers of a failed reload would
 * still need.
 */

ngx_int_t
ngx_noom_relay_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i, n;
    ngx_noom_shm_t             *sh;
    ngx_http_noom_main_conf_t  *mcf, *old;

    static ngx_fd_t            *bells;
    static ngx_uint_t           nbells;
    static ngx_noom_shm_t      *zone;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_noom_module);

    if (mcf->kept) {
        /* the process, its zone and its doorbell go on */
        old = mcf->kept;
        mcf->wake = old->wake;
        mcf->nworkers = old->nworkers;
        return NGX_OK;
    }

    sh = ((ngx_slab_pool_t *) mcf->zone->shm.addr)->data;
    n = sh->nworkers;

    if (bells == NULL || zone != sh || nbells != n) {

        bells = ngx_alloc(n * sizeof(ngx_fd_t), cycle->log);
        if (bells == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < n; i++) {
            bells[i] = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);

            if (bells[i] == -1) {
                ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                              "noom: eventfd() failed");

                while (i--) {
                    (void) close(bells[i]);
                }

                ngx_free(bells);
                bells = NULL;
                return NGX_ERROR;
            }
        }

        nbells = n;
        zone = sh;
    }

    mcf->wake = bells;
    mcf->nworkers = n;

    return NGX_OK;
}


ngx_int_t
ngx_noom_relay_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i;
    ngx_event_t                *rev;
    ngx_connection_t           *c;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_noom_module);
    ngx_noom_relay_mcf = mcf;

    ngx_rbtree_init(&ngx_noom_lrooms, &ngx_noom_lrooms_sentinel,
                    ngx_rbtree_insert_value);

    for (i = 0; i < NGX_NOOM_LISTS; i++) {
        ngx_queue_init(&ngx_noom_lists[i]);
    }

    /*
     * A timer's debug line reads its data as a connection (for its fd):
     * events with no connection point at themselves.
     */

    ngx_noom_room_change_ev.handler = ngx_noom_relay_room_change_handler;
    ngx_noom_room_change_ev.data = &ngx_noom_room_change_ev;
    ngx_noom_room_change_ev.log = cycle->log;
    ngx_noom_room_change_ev.cancelable = 1;

    ngx_queue_init(&ngx_noom_held);
    ngx_queue_init(&ngx_noom_later);
    ngx_queue_init(&ngx_noom_later_free);
    ngx_noom_hold_ev.handler = ngx_noom_relay_hold_handler;
    ngx_noom_hold_ev.data = &ngx_noom_hold_ev;
    ngx_noom_hold_ev.log = cycle->log;
    ngx_noom_hold_ev.cancelable = 1;

    c = ngx_get_connection(mcf->wake[ngx_noom_slot], cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->pool = cycle->pool;

    rev = c->read;
    rev->log = cycle->log;
    rev->channel = 1;
    c->write->log = cycle->log;
    c->write->channel = 1;
    rev->handler = ngx_noom_relay_bell_handler;

    /*
     * Marked idle so that a graceful shutdown calls the handler at once
     * (ngx_close_idle_connections()): that is when the sockets are told
     * 1001, with no timer polling for ngx_exiting.
     */

    c->idle = 1;

    if (ngx_add_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_free_connection(c);
        return NGX_ERROR;
    }

    ngx_noom_bell = c;

    return NGX_OK;
}


void
ngx_noom_relay_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_noom_room_change_ev.timer_set) {
        ngx_del_timer(&ngx_noom_room_change_ev);
    }

    if (ngx_noom_room_change_ev.posted) {
        ngx_delete_posted_event(&ngx_noom_room_change_ev);
    }

    if (ngx_noom_room_change_msg) {
        ngx_noom_msg_release(ngx_noom_room_change_msg);
        ngx_noom_room_change_msg = NULL;
    }

    if (ngx_noom_hold_ev.timer_set) {
        ngx_del_timer(&ngx_noom_hold_ev);
    }
}


static void
ngx_noom_relay_bell_handler(ngx_event_t *ev)
{
    uint64_t           v;
    ngx_connection_t  *c;

    c = ev->data;

    if (c->close) {
        /* a graceful shutdown */
        c->close = 0;
        c->idle = 0;
        ngx_noom_relay_shutdown();
        return;
    }

    if (ngx_noom_takeovers && !ngx_noom_bell_deferred) {
        /*
         * A 101 went out in this turn of the loop and its takeover is
         * posted: the records for its socket, which another worker may
         * have sent once the client had the 101, wait behind it.
         */
        ngx_noom_bell_deferred = 1;
        ngx_post_event(ev, &ngx_posted_events);
        return;
    }

    ngx_noom_bell_deferred = 0;

    if (read(c->fd, &v, sizeof(v)) == -1 && ngx_errno != NGX_EAGAIN) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_errno,
                      "noom: read() from eventfd failed");
    }

    ngx_noom_shm->workers[ngx_noom_slot].ring.wake = 0;
    ngx_memory_barrier();

    ngx_noom_relay_drain();
}


static void
ngx_noom_relay_shutdown(void)
{
    ngx_queue_t     *q;
    ngx_noom_ctx_t  *ctx;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "noom: shutting down, closing websockets with 1001");

    if (ngx_noom_hook("quit", (u_char *) "0", ngx_worker == 0)) {
        /* a test: worker 0 dies holding the lock while the others close */
        ngx_noom_zone_lock();
        ngx_noom_zone_dirty();
        ngx_msleep(500);
        ngx_noom_hook_die();
    }

    for (q = ngx_queue_head(&ngx_noom_lists[NGX_NOOM_LIST_ALL]);
         q != ngx_queue_sentinel(&ngx_noom_lists[NGX_NOOM_LIST_ALL]);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, lists[NGX_NOOM_LIST_ALL]);

        if (ctx->sess && ctx->nsp[NGX_NOOM_NSP_APP].connected) {
            /*
             * Away at once: the client reconnects to a new worker as soon
             * as it sees the close, and must find its session detached.
             * What it sends until its own close is not read anyway.
             */
            ctx->nsp[NGX_NOOM_NSP_APP].connected = 0;
            ngx_noom_app_end(ctx);
        }

        ngx_noom_close(ctx, NGX_NOOM_END_GOING_AWAY, "server shutting down");
    }

    ngx_noom_poll_shutdown();

    /*
     * Called from the worker's quit handling, outside of the event loop:
     * the posted writes would otherwise wait for the next event or timer.
     */

    ngx_event_process_posted((ngx_cycle_t *) ngx_cycle, &ngx_posted_events);
}


/*
 * The next record of this worker's ring at or after *head and before tail,
 * or NULL: *head is moved to the record (past the ends of the ring's space
 * and the skips on the way), *next past it.
 */

static ngx_noom_rec_t *
ngx_noom_relay_next(ngx_noom_ring_t *ring, size_t *head, size_t tail,
    size_t *next)
{
    size_t           pos, rem;
    ngx_noom_rec_t  *rec;

    while (*head < tail) {

        pos = *head % ring->size;
        rem = ring->size - pos;

        if (rem < sizeof(ngx_noom_rec_t)) {
            *head += rem;
            continue;
        }

        rec = (ngx_noom_rec_t *) (ring->data + pos);

        if (rec->type == NGX_NOOM_REC_SKIP) {
            *head += rem;
            continue;
        }

        *next = *head + ngx_align(sizeof(ngx_noom_rec_t) + rec->len, 8);

        return rec;
    }

    return NULL;
}


/*
 * A worker that takes a slot finds in its ring what was queued for the
 * process before it.  That was for the old process's connections, and goes,
 * but for the polling requests that other workers parked and sent on to
 * the sessions' owner: they are answered "Session ID unknown" now (this
 * worker has no session yet), and an upgrading WebSocket's proxy is
 * closed.  The requests the old process had already read are answered by
 * the workers holding them (ngx_noom_poll_watch_handler()).
 */

void
ngx_noom_relay_start(void)
{
    size_t            head, tail, next;
    ngx_noom_rec_t   *rec;
    ngx_noom_ring_t  *ring;

    ring = &ngx_noom_shm->workers[ngx_noom_slot].ring;

    ngx_noom_zone_lock();
    head = ring->head;
    tail = ring->tail;
    ngx_noom_zone_unlock();

    for ( ;; ) {
        rec = ngx_noom_relay_next(ring, &head, tail, &next);
        if (rec == NULL) {
            break;
        }

        if (rec->type == NGX_NOOM_REC_POLL) {
            ngx_noom_poll_record(rec, (u_char *) rec + sizeof(ngx_noom_rec_t));
        }

        head = next;
    }

    ngx_noom_zone_lock();
    ring->head = tail;
    ngx_noom_zone_unlock();
}


static void
ngx_noom_relay_drain(void)
{
    size_t            head, tail, next;
    ngx_uint_t        n;
    ngx_noom_rec_t   *rec;
    ngx_noom_ring_t  *ring;

    ring = &ngx_noom_shm->workers[ngx_noom_slot].ring;

    if (ring->drops != ngx_noom_drops_seen) {
        /* a room change may be among what did not fit */
        ngx_noom_drops_seen = ring->drops;
        ngx_noom_relay_rooms_changed_local();
    }

    ngx_noom_zone_lock();
    head = ring->head;
    tail = ring->tail;
    ngx_noom_zone_unlock();

    /* producers write only past tail: [head, tail) is the reader's alone */

    for (n = 0; n < NGX_NOOM_DRAIN_BATCH; n++) {

        rec = ngx_noom_relay_next(ring, &head, tail, &next);
        if (rec == NULL) {
            break;
        }

        /* this worker's own events that wait for the records before this */
        ngx_noom_relay_later_run(head);

        ngx_noom_relay_deliver(rec, (u_char *) rec + sizeof(ngx_noom_rec_t));

        head = next;
    }

    ngx_noom_relay_later_run(head);

    ngx_noom_zone_lock();
    ring->head = head;
    tail = ring->tail;
    ngx_noom_zone_unlock();

    if (head < tail) {
        /* the rest after the other connections of this worker had a turn */
        ngx_post_event(ngx_noom_bell->read, &ngx_posted_next_events);
    }
}


static void
ngx_noom_relay_deliver(ngx_noom_rec_t *rec, u_char *payload)
{
    ngx_queue_t       *list;
    ngx_noom_msg_t    *m;
    ngx_noom_lroom_t  *lr;

    if (rec->type == NGX_NOOM_REC_ROOMS_CHANGED) {
        ngx_noom_relay_rooms_changed_local();
        return;
    }

    if (rec->type >= NGX_NOOM_REC_POLL) {
        ngx_noom_poll_record(rec, payload);
        return;
    }

    if (rec->type == NGX_NOOM_REC_ADMIN || rec->type == NGX_NOOM_REC_ACTION)
    {
        ngx_noom_admin_deliver(rec, payload);
        return;
    }

    if (rec->type == NGX_NOOM_REC_PLAIN) {
        list = &ngx_noom_lists[NGX_NOOM_LIST_PLAIN];

    } else {
        lr = ngx_noom_local_room(rec->room);
        if (lr == NULL) {
            return;
        }

        list = &lr->members;
    }

    m = ngx_noom_msg_copy(payload, rec->len);
    if (m == NULL) {
        return;
    }

    m->seq = rec->seq;

    ngx_noom_relay_members(list, rec->type, rec->target, m);

    ngx_noom_msg_release(m);
}


/*
 * A room's members on this worker (but target, the sender), its member
 * target (NGX_NOOM_REC_UNICAST), or the plain lobby.
 */

static void
ngx_noom_relay_members(ngx_queue_t *list, ngx_uint_t type, uint64_t target,
    ngx_noom_msg_t *m)
{
    ngx_queue_t     *q;
    ngx_noom_ctx_t  *ctx;

    for (q = ngx_queue_head(list);
         q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        if (type == NGX_NOOM_REC_PLAIN) {
            ctx = ngx_queue_data(q, ngx_noom_ctx_t,
                                 lists[NGX_NOOM_LIST_PLAIN]);

        } else {
            ctx = ngx_queue_data(q, ngx_noom_ctx_t, room_queue);

            if (type == NGX_NOOM_REC_UNICAST) {
                if (ctx->serial != target) {
                    continue;
                }

                ngx_noom_send(ctx, m);
                break;
            }

            if (target && ctx->serial == target) {
                /* this worker's own event, in its turn: not to its sender */
                continue;
            }
        }

        ngx_noom_send(ctx, m);
    }
}


ngx_int_t
ngx_noom_ring_put_locked(ngx_uint_t w, ngx_uint_t type, uint64_t room,
    uint64_t target, u_char *p, size_t len)
{
    return ngx_noom_ring_put_rec_locked(w, type, room, target, 0, p, len);
}


static ngx_int_t
ngx_noom_ring_put_rec_locked(ngx_uint_t w, ngx_uint_t type, uint64_t room,
    uint64_t target, uint64_t seq, u_char *p, size_t len)
{
    size_t            need, pos, skip;
    ngx_noom_rec_t   *rec;
    ngx_noom_ring_t  *ring;

    ring = &ngx_noom_shm->workers[w].ring;

    if (ngx_noom_shm->workers[w].pid == 0) {
        /* a slot no worker holds: nothing would read it */
        return NGX_DECLINED;
    }

    need = ngx_align(sizeof(ngx_noom_rec_t) + len, 8);
    pos = ring->tail % ring->size;
    skip = 0;

    if (pos + need > ring->size) {
        skip = ring->size - pos;
    }

    if (need > ring->size / 2
        || skip + need > ring->size - (ring->tail - ring->head))
    {
        (void) ngx_atomic_fetch_add(&ring->drops, 1);
        ngx_noom_stat(relay_drops, 1);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "noom: worker %ui's queue has no room for %uz "
                       "bytes of type %ui", w, len, type);

        return NGX_DECLINED;
    }

    if (skip) {
        if (skip >= sizeof(ngx_noom_rec_t)) {
            rec = (ngx_noom_rec_t *) (ring->data + pos);
            rec->type = NGX_NOOM_REC_SKIP;
            rec->len = 0;
        }

        pos = 0;
    }

    rec = (ngx_noom_rec_t *) (ring->data + pos);
    rec->len = len;
    rec->type = type;
    rec->src = ngx_noom_slot;
    rec->room = room;
    rec->target = target;
    rec->seq = seq;

    if (len) {
        ngx_memcpy((u_char *) rec + sizeof(ngx_noom_rec_t), p, len);
    }

    ring->tail += skip + need;

    ngx_noom_stat(relayed, 1);

    return NGX_OK;
}


void
ngx_noom_relay_wake(ngx_uint_t w)
{
    uint64_t          one;
    ngx_noom_ring_t  *ring;

    ring = &ngx_noom_shm->workers[w].ring;

    if (!ngx_atomic_cmp_set(&ring->wake, 0, 1)) {
        return;
    }

    one = 1;

    if (write(ngx_noom_relay_mcf->wake[w], &one, sizeof(one)) == -1
        && ngx_errno != NGX_EAGAIN)
    {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "noom: write() to eventfd of worker %ui failed", w);
    }
}


/*
 * Backpressure.  A client's input is not read while a ring this worker
 * writes to is over 3/4 full: the connection waits in ngx_noom_held, and a
 * 1 ms timer lets everyone in again once the rings are below that.  A
 * consumer that does not drain within noom_worker_queue wait= (a stopped
 * or starved worker) does not stop this one: it is marked stalled, every
 * worker reads again, and its full ring drops what is meant for it, until
 * the ring is below 3/4 again.  The rings of the other workers are still
 * waited for: giving up on one worker must not turn their bursts into
 * drops.
 */

ngx_int_t
ngx_noom_relay_hold(ngx_noom_ctx_t *ctx)
{
    if (ngx_noom_hold_state == NGX_NOOM_HOLD_NONE) {

        if (ngx_noom_relay_mcf->queue_wait == 0
            || !ngx_noom_relay_congested())
        {
            return NGX_DECLINED;
        }

        ngx_noom_hold_state = NGX_NOOM_HOLD_ON;
        ngx_noom_hold_start = ngx_current_msec;
        ngx_add_timer(&ngx_noom_hold_ev, 1);

        ngx_noom_stat(relay_waits, 1);

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "noom: worker queues over 3/4, input waits");
    }

    if (!ctx->is_held) {
        ngx_queue_insert_tail(&ngx_noom_held, &ctx->held);
        ctx->is_held = 1;
    }

    return NGX_OK;
}


void
ngx_noom_relay_unhold(ngx_noom_ctx_t *ctx)
{
    if (ctx->is_held) {
        ngx_queue_remove(&ctx->held);
        ctx->is_held = 0;
    }
}


/*
 * A ring over 3/4 full whose worker is still waited for.  A worker that
 * was waited for in vain is marked stalled in the zone, so that the other
 * writers do not wait for it too; the mark goes when its ring is below 3/4
 * again.
 */

static ngx_uint_t
ngx_noom_relay_congested(void)
{
    ngx_uint_t          i;
    ngx_noom_ring_t    *ring;
    ngx_noom_worker_t  *w;

    for (i = 0; i < ngx_noom_shm->nworkers; i++) {

        if (i == ngx_noom_slot || ngx_noom_shm->workers[i].pid == 0) {
            /* this one's, or a slot no worker holds: nobody writes it */
            continue;
        }

        /* read without the lock: an estimate is enough */

        w = &ngx_noom_shm->workers[i];
        ring = &w->ring;

        if (ring->tail - ring->head <= ring->size / 4 * 3) {
            if (w->stalled) {
                w->stalled = 0;
            }

            continue;
        }

        if (!w->stalled) {
            return 1;
        }
    }

    return 0;
}


static void
ngx_noom_relay_hold_handler(ngx_event_t *ev)
{
    ngx_uint_t          i;
    ngx_msec_t          held;
    ngx_noom_worker_t  *w;

    held = ngx_current_msec - ngx_noom_hold_start;

    if (ngx_noom_relay_congested()) {

        if (held < ngx_noom_relay_mcf->queue_wait) {
            ngx_add_timer(ev, 1);
            return;
        }

        /* the workers that did not drain in time, and only those */

        for (i = 0; i < ngx_noom_shm->nworkers; i++) {
            w = &ngx_noom_shm->workers[i];

            if (i == ngx_noom_slot || w->pid == 0 || w->stalled
                || w->ring.tail - w->ring.head <= w->ring.size / 4 * 3)
            {
                continue;
            }

            w->stalled = 1;

            ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                          "noom: worker %ui's queue stayed over 3/4 full "
                          "for %M ms, reading clients again: messages to "
                          "it may be dropped", i, held);
        }
    }

    ngx_noom_hold_state = NGX_NOOM_HOLD_NONE;
    ngx_noom_relay_release();
}


static void
ngx_noom_relay_release(void)
{
    ngx_queue_t     *q;
    ngx_noom_ctx_t  *ctx;

    while (!ngx_queue_empty(&ngx_noom_held)) {
        q = ngx_queue_head(&ngx_noom_held);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_noom_ctx_t, held);
        ctx->is_held = 0;

        ctx->transport->resume(ctx);
    }
}


/*
 * A room broadcast: a copy to each other worker that counts members in the
 * room, then the local members but the sender.  per_worker is the room's
 * live array (the sender is a member, so the room exists) or a snapshot
 * taken when the sender left.
 */

ngx_int_t
ngx_noom_relay_room(ngx_noom_ctx_t *sender, uint64_t uid,
    uint32_t *per_worker, ngx_noom_msg_t *m)
{
    ngx_int_t         rc;
    ngx_uint_t        w, n, self, woken[64];
    ngx_noom_room_t  *room;

    rc = NGX_OK;
    n = 0;
    self = 0;
    room = NULL;

    if (m->offset) {
        ngx_noom_relay_later_spare();
    }

    ngx_noom_zone_lock();

    if (m->offset || (m->chat && ngx_noom_relay_mcf->history)) {

        /* a member's room is known without a search of the zone's tree */

        room = (sender && sender->member && sender->member->room->uid == uid)
               ? sender->member->room : ngx_noom_rooms_by_uid_locked(uid);

        if (m->offset) {
            self = ngx_noom_relay_log_locked(room,
                       sender ? sender->nsp[NGX_NOOM_NSP_APP].id : NULL,
                       NULL, m);

            /* nobody here but the sender: nothing to hold back */
            if (per_worker[ngx_noom_slot] <= (sender ? 1 : 0)) {
                self = 0;
            }
        }

        if (room && m->chat && ngx_noom_relay_mcf->history) {
            ngx_noom_rooms_history_locked(room, m);
        }
    }

    for (w = 0; w < ngx_noom_shm->nworkers; w++) {

        if (w == ngx_noom_slot || per_worker[w] == 0) {
            continue;
        }

        if (ngx_noom_ring_put_rec_locked(w, NGX_NOOM_REC_ROOM, uid, 0,
                                         m->seq, m->pos, m->len)
            != NGX_OK)
        {
            rc = NGX_DECLINED;
            continue;
        }

        ngx_noom_relay_mark_locked(room, w, m);

        if (n < 64) {
            woken[n++] = w;

        } else {
            ngx_noom_relay_wake(w);
        }
    }

    if (self
        && ngx_noom_relay_later_locked(room, NGX_NOOM_REC_ROOM, uid,
                                       sender ? sender->serial : 0, m)
           != NGX_OK)
    {
        rc = NGX_DECLINED;
    }

    ngx_noom_zone_unlock();

    for (w = 0; w < n; w++) {
        ngx_noom_relay_wake(woken[w]);
    }

    if (self) {
        return rc;
    }

    ngx_noom_relay_room_local(sender, uid, m);

    return rc;
}


/*
 * A recoverable event gets the zone's next number, which goes into its
 * offset, and a place in its room's log.  Returns whether this worker's
 * own delivery must wait in its ring behind earlier events of the room:
 * its members must get the room's events in the zone's order, or the
 * earlier one, arriving after a later offset, would be taken for a
 * duplicate and lost.  Other rooms' records do not hold it back.
 */

static ngx_uint_t
ngx_noom_relay_log_locked(ngx_noom_room_t *room, u_char *from, u_char *to,
    ngx_noom_msg_t *m)
{
    ngx_noom_ring_t  *ring;

    m->seq = ++ngx_noom_shm->seq;
    (void) ngx_noom_sio_offset(m->offset, m->seq);

    ring = &ngx_noom_shm->workers[ngx_noom_slot].ring;

    if (room == NULL) {
        return ring->head != ring->tail;
    }

    ngx_noom_recovery_log_locked(room, from, to, m);

    if (room->ring_mark == NULL) {
        /* made before a reload turned recovery on */
        return ring->head != ring->tail;
    }

    return room->ring_mark[ngx_noom_slot] > ring->head;
}


/*
 * Where a numbered record of a room ends in worker w's ring.  The ring's
 * head and tail only grow (a slot taken over starts at its old tail), so
 * the mark stays behind the head once the record is read.
 */

static ngx_inline void
ngx_noom_relay_mark_locked(ngx_noom_room_t *room, ngx_uint_t w,
    ngx_noom_msg_t *m)
{
    if (room && room->ring_mark && m->seq) {
        room->ring_mark[w] = ngx_noom_shm->workers[w].ring.tail;
    }
}


/*
 * This worker's own event that must wait for records of its room in this
 * worker's ring waits here, in the worker's memory: the frames are shared,
 * not copied into the ring and out again, and nobody is woken.  It goes
 * out when the ring is read past where its tail was now (the records
 * before it, and none after), and the room's mark points there too, so
 * that the room's next events wait behind it.  A ring with records always
 * has a drain coming, so nothing waits for ever.
 */

static ngx_int_t
ngx_noom_relay_later_locked(ngx_noom_room_t *room, ngx_uint_t type,
    uint64_t uid, uint64_t target, ngx_noom_msg_t *m)
{
    ngx_queue_t       *q;
    ngx_noom_ring_t   *ring;
    ngx_noom_later_t  *e;

    if (ngx_queue_empty(&ngx_noom_later_free)) {
        /* its spare could not be allocated */
        return NGX_DECLINED;
    }

    q = ngx_queue_head(&ngx_noom_later_free);
    ngx_queue_remove(q);
    e = ngx_queue_data(q, ngx_noom_later_t, queue);

    ring = &ngx_noom_shm->workers[ngx_noom_slot].ring;

    e->msg = m;
    e->type = type;
    e->uid = uid;
    e->target = target;
    e->mark = ring->tail;

    m->refs++;

    ngx_queue_insert_tail(&ngx_noom_later, &e->queue);

    if (room && room->ring_mark) {
        room->ring_mark[ngx_noom_slot] = ring->tail;
    }

    return NGX_OK;
}


/* an entry for an event that may have to wait, before the lock is taken */

static void
ngx_noom_relay_later_spare(void)
{
    ngx_noom_later_t  *e;

    if (!ngx_queue_empty(&ngx_noom_later_free)) {
        return;
    }

    e = ngx_alloc(sizeof(ngx_noom_later_t), ngx_cycle->log);

    if (e) {
        ngx_queue_insert_head(&ngx_noom_later_free, &e->queue);
    }
}


/* the ring is read up to head: the events that waited for that go out */

static void
ngx_noom_relay_later_run(size_t head)
{
    ngx_queue_t       *q;
    ngx_noom_later_t  *e;
    ngx_noom_lroom_t  *lr;

    while (!ngx_queue_empty(&ngx_noom_later)) {
        q = ngx_queue_head(&ngx_noom_later);
        e = ngx_queue_data(q, ngx_noom_later_t, queue);

        if (e->mark > head) {
            return;
        }

        ngx_queue_remove(q);

        lr = ngx_noom_local_room(e->uid);

        if (lr) {
            ngx_noom_relay_members(&lr->members, e->type, e->target, e->msg);
        }

        ngx_noom_msg_release(e->msg);
        ngx_queue_insert_head(&ngx_noom_later_free, q);
    }
}


void
ngx_noom_relay_room_local(ngx_noom_ctx_t *sender, uint64_t uid,
    ngx_noom_msg_t *m)
{
    ngx_queue_t       *q;
    ngx_noom_ctx_t    *ctx;
    ngx_noom_lroom_t  *lr;

    lr = (sender && sender->lroom && sender->lroom->node.key == uid)
         ? sender->lroom : ngx_noom_local_room(uid);

    if (lr == NULL) {
        return;
    }

    for (q = ngx_queue_head(&lr->members);
         q != ngx_queue_sentinel(&lr->members);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, room_queue);

        if (ctx != sender) {
            ngx_noom_send(ctx, m);
        }
    }
}


ngx_int_t
ngx_noom_relay_unicast(ngx_uint_t w, uint64_t uid, uint64_t serial,
    u_char *to, ngx_noom_msg_t *m)
{
    ngx_int_t         rc;
    ngx_uint_t        self;
    ngx_noom_room_t  *room;
    ngx_noom_lroom_t *lr;

    if (m->offset) {
        ngx_noom_relay_later_spare();

        ngx_noom_zone_lock();

        room = ngx_noom_rooms_by_uid_locked(uid);
        self = ngx_noom_relay_log_locked(room, NULL, to, m);

        if (w == NGX_NOOM_AWAY) {
            /* the member is away: the log keeps it for its return */
            ngx_noom_zone_unlock();
            return NGX_OK;
        }

        if (w == ngx_noom_slot && self) {
            rc = ngx_noom_relay_later_locked(room, NGX_NOOM_REC_UNICAST, uid,
                                             serial, m);
            ngx_noom_zone_unlock();
            return rc;
        }

        if (w != ngx_noom_slot) {
            rc = ngx_noom_ring_put_rec_locked(w, NGX_NOOM_REC_UNICAST, uid,
                                              serial, m->seq, m->pos,
                                              m->len);
            if (rc == NGX_OK) {
                ngx_noom_relay_mark_locked(room, w, m);
            }

            ngx_noom_zone_unlock();

            if (rc == NGX_OK) {
                ngx_noom_relay_wake(w);
            }

            return rc;
        }

        ngx_noom_zone_unlock();
    }

    if (w == NGX_NOOM_AWAY) {
        return NGX_OK;
    }

    if (w == ngx_noom_slot) {
        lr = ngx_noom_local_room(uid);

        if (lr) {
            ngx_noom_relay_members(&lr->members, NGX_NOOM_REC_UNICAST,
                                   serial, m);
        }

        return NGX_OK;
    }

    ngx_noom_zone_lock();
    rc = ngx_noom_ring_put_locked(w, NGX_NOOM_REC_UNICAST, uid, serial,
                                  m->pos, m->len);
    ngx_noom_zone_unlock();

    if (rc == NGX_OK) {
        ngx_noom_relay_wake(w);
    }

    return rc;
}


/* the plain lobby: every other socket of it, on every worker */

ngx_int_t
ngx_noom_relay_plain(ngx_noom_msg_t *m)
{
    ngx_int_t        rc;
    ngx_uint_t       w;
    ngx_queue_t     *q;
    ngx_noom_ctx_t  *ctx;

    rc = NGX_OK;

    for (w = 0; w < ngx_noom_shm->nworkers; w++) {

        if (w == ngx_noom_slot || ngx_noom_shm->workers[w].plain == 0) {
            continue;
        }

        ngx_noom_zone_lock();

        if (ngx_noom_ring_put_locked(w, NGX_NOOM_REC_PLAIN, 0, 0, m->pos,
                                     m->len)
            != NGX_OK)
        {
            rc = NGX_DECLINED;
        }

        ngx_noom_zone_unlock();

        ngx_noom_relay_wake(w);
    }

    for (q = ngx_queue_head(&ngx_noom_lists[NGX_NOOM_LIST_PLAIN]);
         q != ngx_queue_sentinel(&ngx_noom_lists[NGX_NOOM_LIST_PLAIN]);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, lists[NGX_NOOM_LIST_PLAIN]);

        /* the sender too: the tutorial's page shows its lines from this */
        ngx_noom_send(ctx, m);
    }

    return rc;
}


/*
 * This worker's count of lobby sockets ("plain"), by n.  A lobby socket is
 * counted before its 101 goes out (ctx->plain_early), so that a line that
 * another worker relays as soon as the client has the 101 does not skip
 * this worker; ngx_noom_local_add() puts it in the list at the takeover
 * without counting it again.  A request gone before that takes the count
 * back (ngx_noom_ws_abandon()), as ngx_noom_local_del() does later.
 */

void
ngx_noom_relay_plain_count(ngx_int_t n)
{
    (void) ngx_atomic_fetch_add(&ngx_noom_shm->workers[ngx_noom_slot].plain,
                                n);
}


#if (NGX_NOOM_HOOKS)

/*
 * A test's worker stalled between a lobby socket's 101 and its takeover
 * (NOOM_HOOK=upgraded:<worker><uri>): it waits for a record in its ring
 * (up to 10 s), then rings its own bell as if the record's wakeup had come
 * in the same turn of the loop.
 */

void
ngx_noom_relay_hook_upgraded(ngx_str_t *uri)
{
    u_char           *p, hook[NGX_INT_T_LEN + 64];
    size_t            head, tail;
    ngx_uint_t        i;
    ngx_noom_ring_t  *ring;

    p = ngx_snprintf(hook, sizeof(hook), "%ui%V", ngx_worker, uri);

    if (!ngx_noom_hook("upgraded", hook, p - hook)) {
        return;
    }

    ring = &ngx_noom_shm->workers[ngx_noom_slot].ring;

    for (i = 0; i < 1000; i++) {
        ngx_noom_zone_lock();
        head = ring->head;
        tail = ring->tail;
        ngx_noom_zone_unlock();

        if (head != tail) {
            break;
        }

        ngx_msleep(10);
    }

    ngx_noom_bell->read->handler(ngx_noom_bell->read);
}

#endif


/*
 * A lobby line costs one frame per lobby socket.  Each sender has a bucket
 * of frames, filled at noom_lobby_rate a second (up to 5 s of it, and
 * always room for one line), and a line takes as many as the lobby has
 * sockets: one client costs at most noom_lobby_rate frames a second
 * whatever the lobby's size, and a lobby socket gets at most that many
 * lines a second however many talk.  A line over its sender's share is
 * dropped and counted (rate_limited); the sender does not get it back.
 */

ngx_int_t
ngx_noom_relay_plain_share(ngx_noom_ctx_t *ctx)
{
    ngx_uint_t  i, n, rate, max;
    ngx_msec_t  now, elapsed;

    rate = ngx_noom_relay_mcf->lobby_rate;

    if (rate == 0) {
        return NGX_OK;
    }

    /* read without the lock: an estimate is enough */

    n = 0;

    for (i = 0; i < ngx_noom_shm->nworkers; i++) {
        n += ngx_noom_shm->workers[i].plain;
    }

    n = ngx_max(n, 1);
    max = ngx_max(n, 5 * rate) * 1000;
    now = ngx_current_msec;
    elapsed = now - ctx->lobby_last;

    if (ctx->lobby_last == 0 || elapsed >= max / rate) {
        ctx->lobby_tokens = max;

    } else {
        ctx->lobby_tokens = ngx_min(max, ctx->lobby_tokens + elapsed * rate);
    }

    ctx->lobby_last = now;

    if (ctx->lobby_tokens >= n * 1000) {
        ctx->lobby_tokens -= n * 1000;
        return NGX_OK;
    }

    ngx_noom_stat(rate_limited, 1);

    ngx_noom_log_limited(&ngx_noom_lobby_log, NGX_LOG_INFO, ctx->log,
                         "noom: a lobby line over its sender's share of "
                         "noom_lobby_rate (%ui sockets), dropped", n);

    return NGX_DECLINED;
}


/*
 * Rooms appeared, went or changed their counts: every worker sends its
 * Socket.IO sockets one room_change, built once per worker, at most once
 * per noom_room_change_interval however many changes there were.
 */

void
ngx_noom_relay_rooms_changed(void)
{
    ngx_uint_t  w;

    if (ngx_noom_cluster_rooms_changed() == NGX_OK) {
        /* Redis tells every worker of every node */
        return;
    }

    for (w = 0; w < ngx_noom_shm->nworkers; w++) {

        if (w == ngx_noom_slot || ngx_noom_shm->workers[w].conns == 0) {
            continue;
        }

        ngx_noom_zone_lock();
        (void) ngx_noom_ring_put_locked(w, NGX_NOOM_REC_ROOMS_CHANGED, 0, 0,
                                        NULL, 0);
        ngx_noom_zone_unlock();

        ngx_noom_relay_wake(w);
    }

    ngx_noom_relay_rooms_changed_local();
}


/*
 * At most one room_change per noom_room_change_interval on each worker: the
 * first change of a quiet spell goes out in this turn of the loop, the
 * changes after it wait for the interval's end and go out as one, with the
 * state of that moment.  Whatever clients do, a socket gets at most one
 * room list per interval, and always the last one.  A long list stretches
 * the interval to keep within rate= bytes a second for each socket: with
 * 1,000 rooms a list is 20-140 KB, twice a second to every socket.
 */

void
ngx_noom_relay_rooms_changed_local(void)
{
    ngx_msec_t  gap, elapsed;

    if (ngx_noom_room_change_msg) {
        /* a list is on its way: the next one follows it */
        ngx_noom_room_change_again = 1;
        return;
    }

    if (ngx_noom_room_change_ev.posted
        || ngx_noom_room_change_ev.timer_set
        || ngx_queue_empty(&ngx_noom_lists[NGX_NOOM_LIST_APP]))
    {
        return;
    }

    gap = ngx_noom_room_change_gap;
    elapsed = ngx_current_msec - ngx_noom_room_change_last;

    if (gap == 0 || elapsed >= gap) {
        ngx_post_event(&ngx_noom_room_change_ev, &ngx_posted_events);
        return;
    }

    ngx_add_timer(&ngx_noom_room_change_ev, gap - elapsed);
}


/*
 * A list goes to NGX_NOOM_ROOM_CHANGE_SLICE sockets a turn of the event
 * loop: with tens of thousands of sockets in the lobby, writing them all in
 * one turn kept every chat message and signal that arrived meanwhile
 * waiting for the whole of it (a p99 of 1.3 s at 100,000 sockets and 50
 * room changes a second).  The sockets still due are the head of the list:
 * each one served moves to its tail, where sockets that arrive meanwhile
 * join too (they are not due; the next list is theirs).
 */

static void
ngx_noom_relay_room_change_handler(ngx_event_t *ev)
{
    ngx_uint_t                  n;
    ngx_msec_t                  gap;
    ngx_queue_t                *q, *list;
    ngx_noom_ctx_t             *ctx;
    ngx_noom_msg_t             *m;
    ngx_http_noom_main_conf_t  *mcf;

    list = &ngx_noom_lists[NGX_NOOM_LIST_APP];
    m = ngx_noom_room_change_msg;

    if (m == NULL) {
        ngx_noom_room_change_last = ngx_current_msec;

        m = ngx_noom_app_room_change();
        if (m == NULL) {
            return;
        }

        mcf = ngx_noom_relay_mcf;
        gap = mcf->room_change_interval;

        if (mcf->room_change_rate
            && (uint64_t) m->len * 1000 / mcf->room_change_rate > gap)
        {
            gap = (ngx_msec_t) ((uint64_t) m->len * 1000
                                / mcf->room_change_rate);
        }

        ngx_noom_room_change_gap = gap;

        for (q = ngx_queue_head(list);
             q != ngx_queue_sentinel(list);
             q = ngx_queue_next(q))
        {
            ctx = ngx_queue_data(q, ngx_noom_ctx_t, lists[NGX_NOOM_LIST_APP]);
            ctx->room_change_due = 1;
        }

        ngx_noom_room_change_msg = m;
    }

    for (n = 0; !ngx_queue_empty(list); n++) {

        q = ngx_queue_head(list);
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, lists[NGX_NOOM_LIST_APP]);

        if (!ctx->room_change_due) {
            break;
        }

        if (n == NGX_NOOM_ROOM_CHANGE_SLICE) {
            /* the rest after the next turn's I/O */
            ngx_post_event(ev, &ngx_posted_next_events);
            return;
        }

        ctx->room_change_due = 0;
        ngx_queue_remove(q);
        ngx_queue_insert_tail(list, q);

        ngx_noom_send(ctx, m);
    }

    ngx_noom_msg_release(m);
    ngx_noom_room_change_msg = NULL;

    if (ngx_noom_room_change_again) {
        ngx_noom_room_change_again = 0;
        ngx_noom_relay_rooms_changed_local();
    }
}


void
ngx_noom_local_add(ngx_noom_ctx_t *ctx, ngx_uint_t list)
{
    ngx_queue_insert_tail(&ngx_noom_lists[list], &ctx->lists[list]);

    if (list == NGX_NOOM_LIST_APP) {
        /* not due for a list on its way: see the room_change handler */
        ctx->room_change_due = 0;
    }

    if (list == NGX_NOOM_LIST_PLAIN) {
        /* in the list now: ngx_noom_local_del() takes the count back */

        if (ctx->plain_early) {
            ctx->plain_early = 0;

        } else {
            ngx_noom_relay_plain_count(1);
        }
    }
}


void
ngx_noom_local_del(ngx_noom_ctx_t *ctx, ngx_uint_t list)
{
    if (ctx->lists[list].next == NULL) {
        return;
    }

    ngx_queue_remove(&ctx->lists[list]);
    ctx->lists[list].next = NULL;

    if (list == NGX_NOOM_LIST_PLAIN) {
        ngx_noom_relay_plain_count(-1);
    }
}


void
ngx_noom_local_remove(ngx_noom_ctx_t *ctx)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_NOOM_LISTS; i++) {
        ngx_noom_local_del(ctx, i);
    }

    ngx_noom_local_leave(ctx);
}


ngx_noom_lroom_t *
ngx_noom_local_room(uint64_t uid)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = ngx_noom_lrooms.root;
    sentinel = ngx_noom_lrooms.sentinel;

    while (node != sentinel) {

        if (uid == node->key) {
            return (ngx_noom_lroom_t *) node;
        }

        node = (uid < node->key) ? node->left : node->right;
    }

    return NULL;
}


ngx_int_t
ngx_noom_local_join(ngx_noom_ctx_t *ctx, uint64_t uid)
{
    ngx_noom_lroom_t  *lr;

    lr = ngx_noom_local_room(uid);

    if (lr == NULL) {
        lr = ngx_alloc(sizeof(ngx_noom_lroom_t), ctx->log);
        if (lr == NULL) {
            return NGX_ERROR;
        }

        lr->node.key = uid;
        ngx_queue_init(&lr->members);
        ngx_rbtree_insert(&ngx_noom_lrooms, &lr->node);
    }

    ngx_queue_insert_tail(&lr->members, &ctx->room_queue);
    ctx->lroom = lr;

    return NGX_OK;
}


void
ngx_noom_local_leave(ngx_noom_ctx_t *ctx)
{
    ngx_noom_lroom_t  *lr;

    lr = ctx->lroom;

    if (lr == NULL) {
        return;
    }

    ngx_queue_remove(&ctx->room_queue);
    ctx->lroom = NULL;

    if (ngx_queue_empty(&lr->members)) {
        ngx_rbtree_delete(&ngx_noom_lrooms, &lr->node);
        ngx_free(lr);
    }
}


ngx_queue_t *
ngx_noom_local_list(ngx_uint_t list)
{
    return &ngx_noom_lists[list];
}
