
/*
 * Copyright (C) noom authors
 *
 * The shared zone: rooms in an rbtree keyed by the CRC32 of their name (as
 * limit_req keys its nodes), each with its members and a count per worker,
 * a registry of the workers, and their inter-worker rings.  Everything is
 * done under the slab pool's own mutex, the one lock nginx releases when a
 * worker dies holding it; under it there are lookups, pointer updates and
 * copies, never parsing, allocation from the heap or a system call.
 *
 * nginx frees the lock of a dead worker but cannot know what it was doing
 * with the zone.  Every change marks the zone dirty with its pid until the
 * unlock; whoever takes the lock next and finds the mark repairs what a
 * change cut short can leave: the tree is rebuilt from the list of rooms,
 * every count is recounted from the member lists, and rooms left without
 * members are freed.  The lists themselves are the truth: a member is
 * linked before anything counts it and unlinked before its counts fall.
 */


#include "ngx_noom.h"


static ngx_int_t ngx_noom_zone_reuse(ngx_shm_zone_t *zone,
    ngx_http_noom_main_conf_t *mcf, ngx_http_noom_main_conf_t *old,
    ngx_uint_t n, size_t size);
static void ngx_noom_rooms_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_noom_room_t *ngx_noom_rooms_lookup(ngx_str_t *name,
    uint32_t hash);
static void ngx_noom_rooms_free_locked(ngx_noom_room_t *room);
static void ngx_noom_rooms_free_logs_locked(ngx_noom_room_t *room);
static void ngx_noom_rooms_purge(ngx_cycle_t *cycle, ngx_uint_t n);
static void ngx_noom_zone_repair_locked(void);
static void ngx_noom_zone_repaired(ngx_event_t *ev);
static void ngx_noom_shmtx_lock(ngx_shmtx_t *mtx);
static ngx_inline void ngx_noom_shmtx_unlock(ngx_shmtx_t *mtx);


ngx_noom_shm_t                     *ngx_noom_shm;
ngx_uint_t                          ngx_noom_slot;
ngx_slab_pool_t                    *ngx_noom_shpool;
static ngx_http_noom_main_conf_t   *ngx_noom_mcf;

/* a full zone refuses every join: a few lines a second say so */
static ngx_noom_log_limit_t         ngx_noom_join_log;

/* the room list changed under a repair: everybody is told, after it */
static ngx_event_t                  ngx_noom_repair_ev;


/*
 * The zone outlives reloads (nginx keeps a zone of the same name, size and
 * tag): rooms, members, away sessions and logs go on, and the old
 * generation's workers share it with the new one's until they exit.  They
 * must never share a ring or a count, so the zone has two slots for each
 * worker it was made for, and each generation takes the half the one
 * before it did not use.
 */

ngx_int_t
ngx_noom_zone_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_noom_main_conf_t *mcf = zone->data;

    size_t                      size, need;
    ngx_uint_t                  i, n;
    ngx_noom_shm_t             *sh;
    ngx_slab_pool_t            *shpool;
    ngx_core_conf_t            *ccf;
    ngx_http_noom_main_conf_t  *old;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    ccf = (ngx_core_conf_t *) ngx_get_conf(mcf->cycle->conf_ctx,
                                           ngx_core_module);

    n = (ccf->worker_processes > 0) ? (ngx_uint_t) ccf->worker_processes : 1;
    size = ngx_align(mcf->queue_size, 8);

    if (data) {
        old = data;

        if (!ccf->master) {
            /* kept through a reload with master_process off */
            mcf->kept = data;
            mcf->half = old->half;
            return NGX_OK;
        }

        return ngx_noom_zone_reuse(zone, mcf, old, n, size);
    }

    if (n > NGX_NOOM_MAX_WORKERS / 2) {
        ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                      "noom: at most %d worker processes are supported",
                      NGX_NOOM_MAX_WORKERS / 2);
        return NGX_ERROR;
    }

    /* the second half's queues come with the first reload */

    need = n * size + sizeof(ngx_noom_shm_t)
           + 2 * n * sizeof(ngx_noom_worker_t);

    if (need + 8 * ngx_pagesize > zone->shm.size) {
        ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                      "\"noom_zone\" of %uz bytes is too small for %ui "
                      "workers with \"noom_worker_queue\" %uz, "
                      "at least %uz bytes are needed",
                      zone->shm.size, n, mcf->queue_size,
                      need + 64 * ngx_pagesize);
        return NGX_ERROR;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_noom_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->workers = ngx_slab_calloc(shpool, 2 * n * sizeof(ngx_noom_worker_t));
    if (sh->workers == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        sh->workers[i].ring.size = size;
        sh->workers[i].ring.data = ngx_slab_alloc(shpool, size);

        if (sh->workers[i].ring.data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                          "\"noom_zone\" is too small for the queues of "
                          "%ui workers", n);
            return NGX_ERROR;
        }
    }

    sh->nworkers = 2 * n;
    sh->half = n;
    sh->queue_size = size;
    sh->max_nickname = mcf->max_nickname;
    mcf->half = 0;

    ngx_rbtree_init(&sh->rooms, &sh->sentinel, ngx_noom_rooms_insert);
    ngx_rbtree_init(&sh->uids, &sh->uid_sentinel, ngx_rbtree_insert_value);
    ngx_queue_init(&sh->order);
    ngx_queue_init(&sh->sockets);
    ngx_noom_recovery_init_zone(sh);
    sh->start = ngx_time();

    shpool->data = sh;

    shpool->log_ctx = ngx_slab_alloc(shpool, sizeof(" in noom zone"));
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in noom zone%Z");

    /* noom logs exhaustion itself, with what it means for the client */
    shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * A reload, in the master: the zone goes on, and the new generation takes
 * the other half of the slots.  What the zone's layout depends on cannot
 * change without a restart.
 */

static ngx_int_t
ngx_noom_zone_reuse(ngx_shm_zone_t *zone, ngx_http_noom_main_conf_t *mcf,
    ngx_http_noom_main_conf_t *old, ngx_uint_t n, size_t size)
{
    ngx_int_t           rc;
    ngx_uint_t          i;
    ngx_noom_shm_t     *sh;
    ngx_slab_pool_t    *shpool;
    ngx_noom_worker_t  *w;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    sh = shpool->data;

    if (n > sh->half) {
        ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                      "noom: the zone was made for %ui worker processes, "
                      "%ui need a restart of nginx", sh->half, n);
        return NGX_ERROR;
    }

    if (size != sh->queue_size || mcf->max_nickname != sh->max_nickname) {
        ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                      "noom: \"noom_worker_queue\" and "
                      "\"noom_max_nickname_length\" cannot change on a "
                      "reload, restart nginx to change them");
        return NGX_ERROR;
    }

    mcf->half = 1 - old->half;

    rc = NGX_OK;

    ngx_noom_shmtx_lock(&shpool->mutex);

    for (i = 0; i < n; i++) {
        w = &sh->workers[mcf->half * sh->half + i];

        if (w->ring.data) {
            continue;
        }

        w->ring.size = size;
        w->ring.data = ngx_slab_alloc_locked(shpool, size);

        if (w->ring.data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                          "\"noom_zone\" has no room for the queues of the "
                          "new workers: a reload needs %uz bytes more, "
                          "or a restart", n * size);
            rc = NGX_ERROR;
            break;
        }
    }

    ngx_noom_shmtx_unlock(&shpool->mutex);

    return rc;
}


static void
ngx_noom_rooms_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_int_t           rc;
    ngx_noom_room_t    *a, *b;
    ngx_rbtree_node_t **p;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            a = (ngx_noom_room_t *) node;
            b = (ngx_noom_room_t *) temp;

            rc = ngx_memn2cmp(a->name, b->name, a->len, b->len);
            p = (rc < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_noom_room_t *
ngx_noom_rooms_lookup(ngx_str_t *name, uint32_t hash)
{
    ngx_int_t           rc;
    ngx_noom_room_t    *room;
    ngx_rbtree_node_t  *node, *sentinel;

    node = ngx_noom_shm->rooms.root;
    sentinel = ngx_noom_shm->rooms.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        room = (ngx_noom_room_t *) node;

        rc = ngx_memn2cmp(name->data, room->name, name->len, room->len);

        if (rc == 0) {
            return room;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/*
 * Joins a room, creating it if needed, and copies out the members already
 * there: at most *npeers of them, each nick into max_nickname bytes; and,
 * when history is given, the room's last chat frames, as many of the
 * newest as its buffer holds, each as (length, frames), 8-byte aligned.
 */

ngx_int_t
ngx_noom_rooms_join(ngx_noom_ctx_t *ctx, ngx_str_t *name,
    ngx_noom_peer_t *peers, ngx_uint_t *npeers, ngx_uint_t *count,
    ngx_str_t *history)
{
    u_char             *p;
    size_t              size, need;
    uint32_t            hash;
    ngx_int_t           rc;
    ngx_uint_t          n, max, created, marks;
    ngx_queue_t        *q, *first;
    ngx_noom_room_t    *room;
    ngx_noom_member_t  *mb, *m;
    ngx_noom_logent_t  *e;

    hash = ngx_crc32_short(name->data, name->len);
    created = 0;
    rc = NGX_OK;

    max = *npeers;

    ngx_noom_zone_lock();

    room = ngx_noom_rooms_lookup(name, hash);

    if (ctx->member && ctx->member->room == room) {
        mb = ctx->member;
        rc = NGX_DONE;
        goto copy;
    }

    if (room == NULL) {

        if (ngx_noom_shm->nrooms >= ngx_noom_mcf->max_rooms) {
            ngx_noom_zone_unlock();
            return NGX_NOOM_ERR_ROOMS;
        }

        ngx_noom_zone_dirty();

        /* the marks of the recovery's order only where it is on */
        marks = ngx_noom_recovery ? ngx_noom_shm->nworkers : 0;

        room = ngx_slab_alloc_locked(ngx_noom_shpool,
                                     sizeof(ngx_noom_room_t)
                                     + marks * sizeof(size_t)
                                     + ngx_noom_shm->nworkers
                                       * sizeof(uint32_t)
                                     + name->len);
        if (room == NULL) {
            goto nomem;
        }

        room->ring_mark = NULL;

        if (marks) {
            room->ring_mark = (size_t *) ((u_char *) room
                                          + sizeof(ngx_noom_room_t));
            ngx_memzero(room->ring_mark, marks * sizeof(size_t));
        }

        room->per_worker = (uint32_t *) ((u_char *) room
                                         + sizeof(ngx_noom_room_t)
                                         + marks * sizeof(size_t));
        ngx_memzero(room->per_worker,
                    ngx_noom_shm->nworkers * sizeof(uint32_t));

        room->name = (u_char *) &room->per_worker[ngx_noom_shm->nworkers];
        room->len = name->len;
        ngx_memcpy(room->name, name->data, name->len);

        room->node.key = hash;
        room->uid = ++ngx_noom_shm->next_uid;
        room->unode.key = room->uid;
        room->count = 0;
        ngx_queue_init(&room->members);
        ngx_queue_init(&room->log);
        ngx_queue_init(&room->history);
        room->nhistory = 0;
        room->nlog = 0;
        room->log_bytes = 0;
        room->trimmed = 0;
        room->trimmed_other = 0;
        room->trimmed_by[0] = '\0';

        ngx_rbtree_insert(&ngx_noom_shm->rooms, &room->node);
        ngx_rbtree_insert(&ngx_noom_shm->uids, &room->unode);
        ngx_queue_insert_tail(&ngx_noom_shm->order, &room->order);
        ngx_noom_shm->nrooms++;
        created = 1;

    } else if (room->count >= ngx_noom_mcf->max_members) {
        ngx_noom_zone_unlock();
        return NGX_NOOM_ERR_FULL;
    }

    ngx_noom_zone_dirty();

    /*
     * The member is a 128-byte slab chunk, its nickname another at its own
     * size: kept in the member at noom_max_nickname_length (64), it would
     * make every member 256 bytes.
     */

    mb = ngx_slab_alloc_locked(ngx_noom_shpool, sizeof(ngx_noom_member_t));

    if (mb) {
        mb->nick = ngx_slab_alloc_locked(ngx_noom_shpool,
                                         ngx_max(ctx->nick_len, 1));
        if (mb->nick == NULL) {
            ngx_slab_free_locked(ngx_noom_shpool, mb);
            mb = NULL;
        }
    }

    if (mb == NULL) {
        if (created) {
            ngx_noom_rooms_free_locked(room);
        }

        goto nomem;
    }

    mb->room = room;
    mb->worker = ngx_noom_slot;
    mb->serial = ctx->serial;
    mb->joined = ngx_noom_shm->seq;
    mb->sess = ctx->sess;
    ngx_memcpy(mb->id, ctx->nsp[0].id, NGX_NOOM_ID_LEN);
    mb->nick_len = ctx->nick_len;
    ngx_memcpy(mb->nick, ctx->nick, ctx->nick_len);

copy:

    n = 0;

    for (q = ngx_queue_head(&room->members);
         q != ngx_queue_sentinel(&room->members);
         q = ngx_queue_next(q))
    {
        m = ngx_queue_data(q, ngx_noom_member_t, queue);

        if (m == mb) {
            continue;
        }

        if (n == max) {
            break;
        }

        ngx_memcpy(peers[n].id, m->id, NGX_NOOM_ID_LEN);
        peers[n].nick_len = m->nick_len;
        ngx_memcpy(peers[n].nick, m->nick, m->nick_len);
        n++;
    }

    if (rc == NGX_OK) {
        ngx_queue_insert_tail(&room->members, &mb->queue);

        if (ngx_noom_hook("join", mb->nick, mb->nick_len)) {
            ngx_noom_hook_die();
        }

        room->count++;
        room->per_worker[ngx_noom_slot]++;
        ngx_noom_shm->nmembers++;
        ngx_noom_shm->workers[ngx_noom_slot].members++;
        ctx->member = mb;

        if (mb->sess) {
            mb->sess->member = mb;
        }

        /* what the room logged before is not this socket's */
        if (ctx->last_seq < mb->joined) {
            ctx->last_seq = mb->joined;
        }

        if (ctx->asock[NGX_NOOM_NSP_APP]) {
            ctx->asock[NGX_NOOM_NSP_APP]->member = mb;
        }
    }

    *npeers = n;
    *count = room->count;

    if (history) {
        /* the newest lines that fit, then oldest first */

        size = history->len;
        need = 0;
        first = ngx_queue_sentinel(&room->history);

        for (q = ngx_queue_last(&room->history);
             q != ngx_queue_sentinel(&room->history);
             q = ngx_queue_prev(q))
        {
            e = ngx_queue_data(q, ngx_noom_logent_t, queue);

            if (need + sizeof(uint64_t) + ngx_align(e->len, 8) > size) {
                break;
            }

            need += sizeof(uint64_t) + ngx_align(e->len, 8);
            first = q;
        }

        p = history->data;

        for (q = first;
             q != ngx_queue_sentinel(&room->history);
             q = ngx_queue_next(q))
        {
            e = ngx_queue_data(q, ngx_noom_logent_t, queue);

            *(uint64_t *) p = e->len;
            ngx_memcpy(p + sizeof(uint64_t), e->data, e->len);
            p += sizeof(uint64_t) + ngx_align(e->len, 8);
        }

        history->len = p - history->data;
    }

    ngx_noom_zone_unlock();

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "noom: socket %uL joins room \"%V\": %ui members, "
                   "created %ui, rc %i", ctx->serial, name, *count,
                   created, rc);

    return rc;

nomem:

    ngx_noom_zone_unlock();

    ngx_noom_stat(zone_errors, 1);

    ngx_noom_log_limited(&ngx_noom_join_log, NGX_LOG_ERR, ctx->log,
                         "noom: zone is full, cannot join room \"%V\"",
                         name);

    return NGX_NOOM_ERR_NOMEM;
}


/*
 * Leaves the room; what the others must be told goes into the snapshot:
 * the room's uid, the new count and which workers still have members.
 */

void
ngx_noom_rooms_leave(ngx_noom_ctx_t *ctx, ngx_noom_snapshot_t *snap)
{
    ngx_noom_room_t    *room;
    ngx_noom_member_t  *mb;

    mb = ctx->member;

    ngx_noom_zone_lock();
    ngx_noom_zone_dirty();

    room = mb->room;

    snap->uid = room->uid;
    snap->count = room->count - 1;
    ngx_memcpy(snap->per_worker, room->per_worker,
               ngx_noom_shm->nworkers * sizeof(uint32_t));
    snap->per_worker[ngx_noom_slot]--;

    if (ctx->asock[NGX_NOOM_NSP_APP]) {
        ctx->asock[NGX_NOOM_NSP_APP]->member = NULL;
    }

    ngx_noom_rooms_remove_member_locked(mb);

    ngx_noom_zone_unlock();

    ctx->member = NULL;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "noom: socket %uL leaves room %uL: %ui members left",
                   ctx->serial, snap->uid, snap->count);
}


void
ngx_noom_rooms_remove_member_locked(ngx_noom_member_t *mb)
{
    ngx_noom_room_t  *room;

    room = mb->room;

    ngx_queue_remove(&mb->queue);

    if (ngx_noom_hook("leave", mb->nick, mb->nick_len)) {
        ngx_noom_hook_die();
    }

    room->count--;
    ngx_noom_shm->nmembers--;

    if (mb->worker != NGX_NOOM_AWAY) {
        room->per_worker[mb->worker]--;
        ngx_noom_shm->workers[mb->worker].members--;
    }

    if (mb->sess) {
        mb->sess->member = NULL;
    }

    if (room->count == 0) {
        ngx_noom_rooms_free_locked(room);
    }

    ngx_slab_free_locked(ngx_noom_shpool, mb->nick);
    ngx_slab_free_locked(ngx_noom_shpool, mb);
}


static void
ngx_noom_rooms_free_locked(ngx_noom_room_t *room)
{
    ngx_rbtree_delete(&ngx_noom_shm->rooms, &room->node);
    ngx_rbtree_delete(&ngx_noom_shm->uids, &room->unode);
    ngx_queue_remove(&room->order);
    ngx_noom_shm->nrooms--;

    ngx_noom_rooms_free_logs_locked(room);

    ngx_slab_free_locked(ngx_noom_shpool, room);
}


static void
ngx_noom_rooms_free_logs_locked(ngx_noom_room_t *room)
{
    ngx_queue_t        *q;
    ngx_noom_logent_t  *e;

    while (!ngx_queue_empty(&room->log)) {
        ngx_noom_recovery_drop_locked(room,
            ngx_queue_data(ngx_queue_head(&room->log), ngx_noom_logent_t,
                           queue));
    }

    while (!ngx_queue_empty(&room->history)) {
        q = ngx_queue_head(&room->history);
        e = ngx_queue_data(q, ngx_noom_logent_t, queue);

        ngx_queue_remove(q);
        ngx_noom_shm->log_bytes -= ngx_noom_logent_size(e->len);
        ngx_slab_free_locked(ngx_noom_shpool, e);
    }

    room->nhistory = 0;
}


/*
 * A chat line for the room's history (noom_room_history), the oldest
 * making way; the zone's share for logs bounds it with the recovery logs.
 */

void
ngx_noom_rooms_history_locked(ngx_noom_room_t *room, ngx_noom_msg_t *m)
{
    size_t              size, old;
    ngx_queue_t        *q;
    ngx_noom_logent_t  *e;

    e = NULL;
    size = ngx_noom_logent_size(m->len);

    if (room->nhistory >= ngx_noom_mcf->history) {
        q = ngx_queue_head(&room->history);
        e = ngx_queue_data(q, ngx_noom_logent_t, queue);

        ngx_queue_remove(q);
        room->nhistory--;

        old = ngx_noom_logent_size(e->len);
        ngx_noom_shm->log_bytes -= old;

        /* the oldest line's chunk takes the new one if it is of its size */

        if (old != size) {
            ngx_slab_free_locked(ngx_noom_shpool, e);
            e = NULL;
        }
    }

    if (ngx_noom_shm->log_bytes + size > ngx_noom_zone_share()) {
        if (e) {
            ngx_slab_free_locked(ngx_noom_shpool, e);
        }

        return;
    }

    if (e == NULL) {
        e = ngx_slab_alloc_locked(ngx_noom_shpool,
                                  offsetof(ngx_noom_logent_t, data) + m->len);
        if (e == NULL) {
            return;
        }
    }

    e->seq = m->seq;
    e->time = ngx_current_msec;
    e->to[0] = '\0';
    e->from[0] = '\0';
    e->len = m->len;
    ngx_memcpy(e->data, m->pos, m->len);

    ngx_queue_insert_tail(&room->history, &e->queue);
    room->nhistory++;
    ngx_noom_shm->log_bytes += size;
}


/*
 * What the rooms' logs and chat histories may take of the zone together:
 * half of what its queues leave, the queues of every slot counted (the
 * second half's come with the first reload, and must find their room).
 */

size_t
ngx_noom_zone_share(void)
{
    size_t  total, queues;

    total = ngx_noom_shpool->end - ngx_noom_shpool->start;
    queues = ngx_noom_shm->nworkers * ngx_noom_shm->queue_size;

    return (total > queues) ? (total - queues) / 2 : 0;
}


/*
 * The zone's bytes for a log entry of len bytes: the slab allocator's
 * chunk, a power of two, or whole pages past half a page.
 */

size_t
ngx_noom_logent_size(size_t len)
{
    size_t  size;

    size = offsetof(ngx_noom_logent_t, data) + len;

    if (size > ngx_pagesize / 2) {
        return ngx_align(size, ngx_pagesize);
    }

    /* the next power of two (size is past the header, so never 0 or 1) */

#if (defined __GNUC__)
    return (size_t) 1 << (8 * sizeof(unsigned long) - __builtin_clzl(size - 1));
#else
    size--;
    size |= size >> 1;
    size |= size >> 2;
    size |= size >> 4;
    size |= size >> 8;
    size |= size >> 16;

    return ngx_max(size + 1, 8);
#endif
}


ngx_noom_room_t *
ngx_noom_rooms_by_uid_locked(uint64_t uid)
{
    ngx_rbtree_node_t  *node;

    node = ngx_noom_rbtree_find(&ngx_noom_shm->uids, uid);

    if (node == NULL) {
        return NULL;
    }

    return (ngx_noom_room_t *) ((u_char *) node
                                - offsetof(ngx_noom_room_t, unode));
}


ngx_int_t
ngx_noom_rooms_nick(ngx_noom_ctx_t *ctx, u_char *nick, size_t len)
{
    u_char             *p;
    ngx_noom_member_t  *mb;

    mb = ctx->member;

    ngx_noom_zone_lock();
    ngx_noom_zone_dirty();

    p = ngx_slab_alloc_locked(ngx_noom_shpool, len);
    if (p == NULL) {
        ngx_noom_zone_unlock();
        return NGX_ERROR;
    }

    ngx_memcpy(p, nick, len);
    ngx_slab_free_locked(ngx_noom_shpool, mb->nick);

    mb->nick = p;
    mb->nick_len = len;

    ngx_noom_zone_unlock();

    return NGX_OK;
}


/* a member of the caller's room, by socket id */

ngx_int_t
ngx_noom_rooms_find(ngx_noom_ctx_t *ctx, u_char *id, ngx_uint_t *worker,
    uint64_t *serial)
{
    ngx_int_t           rc;
    ngx_queue_t        *q;
    ngx_noom_room_t    *room;
    ngx_noom_member_t  *m;

    rc = NGX_DECLINED;

    ngx_noom_zone_lock();

    room = ctx->member->room;

    for (q = ngx_queue_head(&room->members);
         q != ngx_queue_sentinel(&room->members);
         q = ngx_queue_next(q))
    {
        m = ngx_queue_data(q, ngx_noom_member_t, queue);

        if (ngx_memcmp(m->id, id, NGX_NOOM_ID_LEN) == 0) {
            *worker = m->worker;
            *serial = m->serial;
            rc = NGX_OK;
            break;
        }
    }

    ngx_noom_zone_unlock();

    return rc;
}


/*
 * The rooms in creation order with their counts, copied into buf as
 * ngx_noom_room_info_t records followed by their NUL-terminated names.
 */

ngx_uint_t
ngx_noom_rooms_list(u_char *buf, size_t size)
{
    u_char                *p, *last;
    ngx_uint_t             n;
    ngx_queue_t           *q;
    ngx_noom_room_t       *room;
    ngx_noom_room_info_t  *info;

    p = buf;
    last = buf + size;
    n = 0;

    ngx_noom_zone_lock();

    for (q = ngx_queue_head(&ngx_noom_shm->order);
         q != ngx_queue_sentinel(&ngx_noom_shm->order);
         q = ngx_queue_next(q))
    {
        room = ngx_queue_data(q, ngx_noom_room_t, order);

        if ((size_t) (last - p)
            < ngx_align(sizeof(ngx_noom_room_info_t) + room->len + 1, 8))
        {
            break;
        }

        info = (ngx_noom_room_info_t *) p;
        info->count = room->count;
        info->len = room->len;
        p += sizeof(ngx_noom_room_info_t);
        p = ngx_cpymem(p, room->name, room->len);
        *p++ = '\0';
        p = ngx_align_ptr(p, 8);
        n++;
    }

    ngx_noom_zone_unlock();

    return n;
}


/*
 * A worker starts: it finds the zone, and if its slot still names a pid,
 * that predecessor died without cleaning up: its members are removed and
 * their rooms are told.
 */

void
ngx_noom_rooms_attach(ngx_cycle_t *cycle)
{
    ngx_noom_mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                       ngx_http_noom_module);

    ngx_noom_shpool = (ngx_slab_pool_t *) ngx_noom_mcf->zone->shm.addr;
    ngx_noom_shm = ngx_noom_shpool->data;

    ngx_noom_slot = ngx_noom_mcf->half * ngx_noom_shm->half + ngx_worker;
}


void
ngx_noom_rooms_worker_start(ngx_cycle_t *cycle)
{
    ngx_pid_t           dead;
    ngx_uint_t          i, n, away;
    ngx_noom_worker_t  *w;

    w = &ngx_noom_shm->workers[ngx_noom_slot];

    /*
     * A worker of the generation before last may still be closing its
     * connections in the slot this one takes (reloads came faster than it
     * exits, which takes at most a second): it is waited for, then ended.
     */

    dead = 0;

    for (i = 0; i < 500; i++) {
        dead = w->pid;

        if (dead == 0 || dead == ngx_pid || kill(dead, 0) == -1) {
            break;
        }

        ngx_msleep(10);
    }

    if (i == 500) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "noom: process %P of an old generation still holds "
                      "slot %ui, ending it", dead, ngx_noom_slot);

        (void) kill(dead, SIGKILL);
    }

    ngx_noom_zone_lock();

    dead = w->pid;
    away = 0;

    if (dead && ngx_noom_recovery) {
        /* its sockets may come back: they go away, not out */
        ngx_noom_zone_dirty();
        away = ngx_noom_recovery_detach_worker_locked(ngx_noom_slot);
    }

    n = w->members;

    w->pid = ngx_pid;
    w->epoch++;
    ngx_noom_init_serial(w->epoch);
    w->conns = 0;
    w->plain = 0;

    ngx_noom_zone_unlock();

    /* what was queued for the process before: see ngx_noom_relay_start() */
    ngx_noom_relay_start();

    if (dead == 0) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "noom: worker %ui replaces process %P that exited "
                  "abnormally, removing its %ui room members, %ui "
                  "sockets may recover", ngx_noom_slot, dead, n, away);

    ngx_noom_stat(crashes, 1);

    /* the registry points at the members: it goes first */
    ngx_noom_admin_purge(cycle, 1);

    if (n) {
        ngx_noom_rooms_purge(cycle, n);
    }
}


static void
ngx_noom_rooms_purge(ngx_cycle_t *cycle, ngx_uint_t n)
{
    ngx_uint_t          k, removed, last;
    ngx_queue_t        *q, *mq, *next;
    ngx_noom_gone_t    *g;
    ngx_noom_room_t    *room;
    ngx_noom_member_t  *m;

    /* nobody adds members for a dead worker: n cannot grow meanwhile */

    g = ngx_noom_rooms_gone_alloc(n, cycle->log);
    if (g == NULL) {
        return;
    }

    k = 0;
    removed = 0;

    ngx_noom_zone_lock();
    ngx_noom_zone_dirty();

    for (q = ngx_queue_head(&ngx_noom_shm->order);
         q != ngx_queue_sentinel(&ngx_noom_shm->order) && removed < n;
         q = next)
    {
        next = ngx_queue_next(q);
        room = ngx_queue_data(q, ngx_noom_room_t, order);

        for (mq = ngx_queue_head(&room->members);
             mq != ngx_queue_sentinel(&room->members) && removed < n;
             /* void */)
        {
            m = ngx_queue_data(mq, ngx_noom_member_t, queue);
            mq = ngx_queue_next(mq);

            if (m->worker != ngx_noom_slot) {
                continue;
            }

            /* the room goes with its last member */
            last = (room->count == 1);

            k += ngx_noom_rooms_leave_locked(m, &g[k]);
            removed++;

            if (last) {
                break;
            }
        }
    }

    ngx_noom_zone_unlock();

    ngx_noom_rooms_byes(g, k);

    ngx_free(g);
}


/*
 * Room for n members' "bye": each entry with its nickname and a copy of
 * its room's per-worker counts.
 */

ngx_noom_gone_t *
ngx_noom_rooms_gone_alloc(ngx_uint_t n, ngx_log_t *log)
{
    u_char           *p;
    size_t            one;
    ngx_uint_t        i, nw;
    ngx_noom_gone_t  *g;

    nw = ngx_noom_shm->nworkers;
    one = ngx_align(nw * sizeof(uint32_t) + ngx_noom_mcf->max_nickname, 8);

    g = ngx_alloc(n * (sizeof(ngx_noom_gone_t) + one), log);
    if (g == NULL) {
        return NULL;
    }

    p = (u_char *) &g[n];

    for (i = 0; i < n; i++) {
        g[i].per_worker = (uint32_t *) p;
        g[i].nick = p + nw * sizeof(uint32_t);
        p += one;
    }

    return g;
}


/*
 * A member is removed without its socket (a dead worker's, a session
 * whose recovery window ended): if anybody is left in its room, g says
 * what they must be told, and 1 is returned.
 */

ngx_uint_t
ngx_noom_rooms_leave_locked(ngx_noom_member_t *mb, ngx_noom_gone_t *g)
{
    ngx_noom_room_t  *room;

    room = mb->room;

    if (room->count == 1) {
        ngx_noom_rooms_remove_member_locked(mb);
        return 0;
    }

    g->uid = room->uid;
    g->count = room->count - 1;
    g->nick_len = mb->nick_len;
    ngx_memcpy(g->nick, mb->nick, mb->nick_len);
    ngx_memcpy(g->id, mb->id, NGX_NOOM_ID_LEN);

    ngx_noom_rooms_remove_member_locked(mb);

    /* the room stays: it has the others */

    ngx_memcpy(g->per_worker, room->per_worker,
               ngx_noom_shm->nworkers * sizeof(uint32_t));

    return 1;
}


void
ngx_noom_rooms_byes(ngx_noom_gone_t *g, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        ngx_noom_app_bye(g[i].uid, g[i].per_worker, g[i].nick, g[i].nick_len,
                         g[i].id, g[i].count);
    }

    ngx_noom_relay_rooms_changed();
}


void
ngx_noom_rooms_worker_exit(ngx_cycle_t *cycle)
{
    ngx_queue_t        *q, *mq, *next;
    ngx_noom_room_t    *room;
    ngx_noom_member_t  *m;
    ngx_noom_worker_t  *w;

    w = &ngx_noom_shm->workers[ngx_noom_slot];

    ngx_noom_admin_purge(cycle, 0);

    ngx_noom_zone_lock();
    ngx_noom_zone_dirty();

    if (ngx_noom_recovery) {
        (void) ngx_noom_recovery_detach_worker_locked(ngx_noom_slot);
    }

    /* members whose connections were never closed, as after SIGTERM */

    for (q = ngx_queue_head(&ngx_noom_shm->order);
         q != ngx_queue_sentinel(&ngx_noom_shm->order) && w->members;
         q = next)
    {
        next = ngx_queue_next(q);
        room = ngx_queue_data(q, ngx_noom_room_t, order);

        for (mq = ngx_queue_head(&room->members);
             mq != ngx_queue_sentinel(&room->members);
             /* void */)
        {
            m = ngx_queue_data(mq, ngx_noom_member_t, queue);
            mq = ngx_queue_next(mq);

            if (m->worker == ngx_noom_slot) {
                if (room->count == 1) {
                    ngx_noom_rooms_remove_member_locked(m);
                    break;
                }

                ngx_noom_rooms_remove_member_locked(m);
            }
        }
    }

    w->pid = 0;

    ngx_noom_zone_unlock();
}


/*
 * The zone's lock, taken through ngx_noom_shmtx_lock(); a change that a
 * dead holder left half done (the zone marked dirty) is repaired first.
 */

void
ngx_noom_zone_lock(void)
{
    ngx_noom_shmtx_lock(&ngx_noom_shpool->mutex);

    if (ngx_noom_shm->dirty) {
        ngx_noom_zone_repair_locked();
    }
}


void
ngx_noom_zone_unlock(void)
{
    ngx_noom_shm->dirty = 0;

    ngx_noom_shmtx_unlock(&ngx_noom_shpool->mutex);
}


/*
 * nginx's master frees the lock of a worker that died holding it, but only
 * for the zones of its current configuration: after a reload, an old
 * worker that dies holding the old zone's lock would leave the other old
 * workers waiting for ever, out of reach of worker_shutdown_timeout.  So
 * noom takes the lock itself: spinning, then yielding, and now and then
 * looking whether the holder is still alive; a dead holder's lock is
 * forced open.  Every taker of the zone's lock, the master's included,
 * spins here and never sleeps on the lock's semaphore, as ngx_shmtx_lock()
 * may: so its release need not wake anybody (ngx_noom_shmtx_unlock()).
 */

static void
ngx_noom_shmtx_lock(ngx_shmtx_t *mtx)
{
#if (NGX_HAVE_ATOMIC_OPS)
    ngx_uint_t  n, i;
    ngx_pid_t   pid;

    for (n = 0; !ngx_shmtx_trylock(mtx); n++) {

        if (n < 16 && ngx_ncpu > 1) {
            for (i = 0; i < (ngx_uint_t) 1 << n && i < 2048; i++) {
                ngx_cpu_pause();
            }

            continue;
        }

        if (n % 256 == 0) {
            pid = (ngx_pid_t) *mtx->lock;

            if (pid > 0 && pid != ngx_pid && kill(pid, 0) == -1
                && ngx_errno == NGX_ESRCH
                && ngx_shmtx_force_unlock(mtx, pid))
            {
                ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                              "noom: process %P died holding the zone's "
                              "lock, taking it", pid);
                continue;
            }
        }

        ngx_sched_yield();
    }
#else
    ngx_shmtx_lock(mtx);
#endif
}


/*
 * The release is a store with release order, a plain store on x86:
 * ngx_shmtx_unlock()'s compare-and-swap would also wait until every store
 * of the critical section has reached the cache: with a chat line just
 * copied into a history entry not in the cache, that wait was 9% of a busy
 * worker's user time at rooms of 2.  No process sleeps on the semaphore
 * to be woken.
 */

static ngx_inline void
ngx_noom_shmtx_unlock(ngx_shmtx_t *mtx)
{
#if (NGX_HAVE_ATOMIC_OPS && defined __ATOMIC_RELEASE)
    __atomic_store_n(mtx->lock, 0, __ATOMIC_RELEASE);
#else
    ngx_shmtx_unlock(mtx);
#endif
}


static void
ngx_noom_zone_repaired(ngx_event_t *ev)
{
    ngx_noom_relay_rooms_changed();
}


static void
ngx_noom_zone_repair_locked(void)
{
    ngx_uint_t          i, nrooms, nmembers, freed;
    ngx_queue_t        *q, *mq, *next;
    ngx_noom_room_t    *room;
    ngx_noom_shm_t     *sh;
    ngx_noom_member_t  *m;

    sh = ngx_noom_shm;

    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                  "noom: process %P died while changing the zone, "
                  "repairing it", sh->dirty);

    ngx_rbtree_init(&sh->rooms, &sh->sentinel, ngx_noom_rooms_insert);
    ngx_rbtree_init(&sh->uids, &sh->uid_sentinel, ngx_rbtree_insert_value);

    for (i = 0; i < sh->nworkers; i++) {
        sh->workers[i].members = 0;
    }

    nrooms = 0;
    nmembers = 0;
    freed = 0;

    for (q = ngx_queue_head(&sh->order);
         q != ngx_queue_sentinel(&sh->order);
         q = next)
    {
        next = ngx_queue_next(q);
        room = ngx_queue_data(q, ngx_noom_room_t, order);

        if (ngx_queue_empty(&room->members)) {
            ngx_queue_remove(&room->order);
            ngx_noom_rooms_free_logs_locked(room);
            ngx_slab_free_locked(ngx_noom_shpool, room);
            freed++;
            continue;
        }

        room->count = 0;
        ngx_memzero(room->per_worker, sh->nworkers * sizeof(uint32_t));

        for (mq = ngx_queue_head(&room->members);
             mq != ngx_queue_sentinel(&room->members);
             mq = ngx_queue_next(mq))
        {
            m = ngx_queue_data(mq, ngx_noom_member_t, queue);

            room->count++;

            if (m->worker != NGX_NOOM_AWAY) {
                room->per_worker[m->worker]++;
                sh->workers[m->worker].members++;
            }
        }

        nmembers += room->count;
        nrooms++;

        ngx_rbtree_insert(&sh->rooms, &room->node);
        ngx_rbtree_insert(&sh->uids, &room->unode);
    }

    sh->nrooms = nrooms;
    sh->nmembers = nmembers;

    ngx_noom_recovery_repair_locked(sh);

    sh->dirty = 0;

    ngx_noom_stat(zone_repairs, 1);

    /*
     * The next loop turn, not this one's posted events: a new worker may
     * be repairing from its init, before anything would wake it up.
     */

    if (!ngx_noom_repair_ev.posted) {
        ngx_noom_repair_ev.handler = ngx_noom_zone_repaired;
        ngx_noom_repair_ev.data = &ngx_noom_repair_ev;
        ngx_noom_repair_ev.log = ngx_cycle->log;
        ngx_post_event(&ngx_noom_repair_ev, &ngx_posted_next_events);
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "noom: zone repaired: %ui rooms, %ui members, "
                  "%ui empty rooms freed", nrooms, nmembers, freed);
}


/* a counter of ngx_noom_worker_t, summed over the workers */

ngx_atomic_uint_t
ngx_noom_workers_sum(size_t offset)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  n;

    n = 0;

    for (i = 0; i < ngx_noom_shm->nworkers; i++) {
        n += *(ngx_atomic_t *) ((u_char *) &ngx_noom_shm->workers[i]
                                + offset);
    }

    return n;
}


void
ngx_noom_rooms_usage(ngx_uint_t *used, ngx_uint_t *total)
{
    ngx_noom_zone_lock();

    *total = (ngx_noom_shpool->end - ngx_noom_shpool->start)
             >> ngx_pagesize_shift;
    *used = *total - ngx_noom_shpool->pfree;

    ngx_noom_zone_unlock();
}
