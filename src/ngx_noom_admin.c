
/*
 * Copyright (C) noom authors
 *
 * The server side of @socket.io/admin-ui 0.5 on the "/admin" namespace.
 * However many workers it has, noom shows as one server: every Socket.IO
 * socket is in a registry in the zone (kept only when a location serves
 * /admin), admin events reach the admin sockets of the other workers as
 * ring records, and so do the actions the UI asks for on a socket of
 * another worker.  With no admin logged in, a socket costs its registry
 * entry and nothing more.  bcrypt runs in a thread pool of its own
 * ("noom_bcrypt"), so a login never stops a worker nor waits for nginx's
 * file I/O, and the checks in flight per worker are bounded; failed logins
 * are counted per connection and per client address (ngx_noom_limit.c).
 */


#include "ngx_noom.h"
#include <crypt.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>

extern ngx_module_t  ngx_thread_pool_module;
#endif


#define NGX_NOOM_ADMIN_STATS_INTERVAL  2000
#define NGX_NOOM_ADMIN_SESSION_TTL     86400
#define NGX_NOOM_ADMIN_PASSWORD_MAX    256
#define NGX_NOOM_ADMIN_COUNTERS        6


/* a registry entry copied out of the zone, its room with it */

typedef struct {
    u_char                     id[NGX_NOOM_ID_LEN];
    u_char                     eio[NGX_NOOM_ID_LEN];
    uint64_t                   issued;
    ngx_uint_t                 nsp;
    ngx_uint_t                 secure;
    ngx_uint_t                 polling;
    size_t                     addr_len;
    size_t                     url_len;
    size_t                     ua_len;
    size_t                     nick_len;
    size_t                     room_len;
    u_char                    *nick;
    u_char                    *room;
    u_char                     addr[NGX_NOOM_ADMIN_ADDR_LEN];
    u_char                     url[NGX_NOOM_ADMIN_STR_LEN];
    u_char                     ua[NGX_NOOM_ADMIN_STR_LEN];
} ngx_noom_admin_info_t;


typedef struct {
    ngx_uint_t                 worker;
    uint64_t                   serial;
} ngx_noom_admin_target_t;


/* a bcrypt check, owned by the thread pool until it is done */

typedef struct {
    ngx_noom_ctx_t            *conn;        /* NULL: the client went */
    char                      *hash;
    ngx_uint_t                 ok;
    size_t                     key_len;
    u_char                     key[NGX_NOOM_LOGIN_KEY_LEN];
    char                       password[NGX_NOOM_ADMIN_PASSWORD_MAX + 1];
    struct crypt_data          data;
} ngx_noom_admin_auth_t;


static ngx_int_t ngx_noom_admin_check(ngx_noom_ctx_t *ctx, json_t *pass,
    u_char *key, size_t key_len);
static void ngx_noom_admin_fail(ngx_noom_ctx_t *ctx, const char *message);
#if (NGX_THREADS)
static void ngx_noom_admin_auth_thread(void *data, ngx_log_t *log);
static void ngx_noom_admin_auth_done(ngx_event_t *ev);
#endif
static void ngx_noom_admin_accept(ngx_noom_ctx_t *ctx,
    ngx_uint_t new_session);
static void ngx_noom_admin_refuse(ngx_noom_ctx_t *ctx, const char *message);
static ngx_int_t ngx_noom_admin_session_find(u_char *id, size_t len);
static ngx_int_t ngx_noom_admin_session_new(u_char *id);
static void ngx_noom_admin_all_sockets(ngx_noom_ctx_t *ctx);
static ngx_noom_msg_t *ngx_noom_admin_stats(ngx_uint_t with_events);
static void ngx_noom_admin_stats_handler(ngx_event_t *ev);
static void ngx_noom_admin_copy_locked(ngx_noom_asock_t *s,
    ngx_noom_admin_info_t *info);
static size_t ngx_noom_admin_info_size(void);
static json_t *ngx_noom_admin_socket_json(ngx_noom_admin_info_t *s);
static json_t *ngx_noom_admin_ts(void);
static void ngx_noom_admin_emit(ngx_noom_ctx_t *ctx, json_t *args);
static void ngx_noom_admin_broadcast(json_t *args, ngx_noom_ctx_t *except);
static ngx_uint_t ngx_noom_admin_targets(json_t *filter,
    ngx_noom_admin_target_t **targets);
static void ngx_noom_admin_act(ngx_noom_admin_target_t *t,
    ngx_uint_t action, u_char *p, size_t len);
static ngx_noom_ctx_t *ngx_noom_admin_local(uint64_t serial);
static void ngx_noom_admin_apply(ngx_noom_ctx_t *ctx, ngx_uint_t action,
    u_char *p, size_t len);


static ngx_str_t  ngx_noom_admin_nsps[] = {
    ngx_string("/"),
    ngx_string("/admin")
};

static const char  *ngx_noom_admin_features[] = {
    "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT",
    NULL
};

static const char  *ngx_noom_admin_event_types[] = {
    "rawConnection", "rawDisconnection", "packetsIn", "packetsOut",
    "bytesIn", "bytesOut"
};

static char  *ngx_noom_admin_week[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
                                        "Fri", "Sat" };

static char  *ngx_noom_admin_months[] = { "Jan", "Feb", "Mar", "Apr", "May",
                                          "Jun", "Jul", "Aug", "Sep", "Oct",
                                          "Nov", "Dec" };


static ngx_event_t                 ngx_noom_admin_stats_ev;
static ngx_http_noom_main_conf_t  *ngx_noom_admin_mcf;

/* bcrypt checks of this worker in the pool, running or queued */
static ngx_uint_t                  ngx_noom_admin_checks;

static ngx_noom_log_limit_t        ngx_noom_admin_refused_log;
static ngx_noom_log_limit_t        ngx_noom_admin_zone_log;

static ngx_str_t  ngx_noom_admin_pool = ngx_string("noom_bcrypt");

/* the zone's counters when this worker last sent server_stats */
static ngx_atomic_uint_t  ngx_noom_admin_last[NGX_NOOM_ADMIN_COUNTERS];


ngx_int_t
ngx_noom_admin_init_process(ngx_cycle_t *cycle)
{
    ngx_noom_admin_mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                     ngx_http_noom_module);

    ngx_noom_admin_stats_ev.handler = ngx_noom_admin_stats_handler;
    ngx_noom_admin_stats_ev.data = &ngx_noom_admin_stats_ev;
    ngx_noom_admin_stats_ev.log = cycle->log;
    ngx_noom_admin_stats_ev.cancelable = 1;

    return NGX_OK;
}


void
ngx_noom_admin_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_noom_admin_stats_ev.timer_set) {
        ngx_del_timer(&ngx_noom_admin_stats_ev);
    }
}


/*
 * CONNECT to /admin: an open panel, a known session, or a user name and a
 * password for bcrypt, in that order, as the reference server checks them.
 */

void
ngx_noom_admin_connect(ngx_noom_ctx_t *ctx, json_t *auth)
{
    u_char                     key[NGX_NOOM_LOGIN_KEY_LEN];
    size_t                     key_len;
    json_t                    *sid, *user, *pass;
    ngx_int_t                  rc;
    ngx_http_noom_loc_conf_t  *lcf;

    lcf = ctx->conf;

    /* a CONNECT to /admin counts as an event for noom_event_rate */

    if (ngx_noom_rate(ctx) != NGX_OK) {
        ngx_noom_stat(admin_throttled, 1);

        if (!ctx->close_sent) {
            ngx_noom_sio_refuse(ctx, NGX_NOOM_NSP_ADMIN, "rate limited");
        }

        return;
    }

    if (lcf->admin_auth == 0) {
        ngx_noom_admin_accept(ctx, 0);
        return;
    }

    sid = json_object_get(auth, "sessionId");

    if (json_is_string(sid)
        && ngx_noom_admin_session_find((u_char *) json_string_value(sid),
                                       json_string_length(sid))
           == NGX_OK)
    {
        ngx_noom_admin_accept(ctx, 0);
        return;
    }

    /*
     * From here on the attempt counts against the client's address until
     * it succeeds: parallel connections cannot start more checks than the
     * burst allows.
     */

    key_len = ctx->connection ? ngx_noom_login_key(ctx->connection, key)
                              : ngx_noom_login_key_text(&ctx->addr, key);

    rc = ngx_noom_login_start(ctx->mcf, key, key_len);

    if (rc == NGX_BUSY) {
        ngx_noom_stat(admin_throttled, 1);
        ngx_noom_admin_fail(ctx, "too many failed logins");
        return;
    }

    if (rc != NGX_OK) {
        ngx_noom_admin_refuse(ctx, "server busy");
        return;
    }

    user = json_object_get(auth, "username");
    pass = json_object_get(auth, "password");

    if (json_is_string(user) && json_is_string(pass)
        && json_string_length(user) == lcf->admin_user.len
        && ngx_memcmp(json_string_value(user), lcf->admin_user.data,
                      lcf->admin_user.len)
           == 0)
    {
        rc = ngx_noom_admin_check(ctx, pass, key, key_len);

        if (rc == NGX_OK) {
            return;
        }

        if (rc == NGX_BUSY) {
            /* not the client's failure: the attempt is given back */
            ngx_noom_login_done(ctx->mcf, key, key_len, 1);
            ngx_noom_stat(admin_throttled, 1);
            ngx_noom_admin_refuse(ctx, "server busy");
            return;
        }
    }

    ngx_noom_admin_fail(ctx, "invalid credentials");
}


/*
 * A failed login: CONNECT_ERROR, and after noom_admin_login_limit's
 * connection= failures, the connection goes (1008).
 */

static void
ngx_noom_admin_fail(ngx_noom_ctx_t *ctx, const char *message)
{
    ngx_noom_admin_refuse(ctx, message);

    if (++ctx->admin_fails >= ctx->mcf->login_conn
        && ctx->mcf->login_conn
        && !ctx->close_sent)
    {
        ngx_noom_stat(protocol_closes, 1);
        ngx_noom_close(ctx, NGX_NOOM_WS_POLICY, "too many failed logins");
    }
}


static ngx_int_t
ngx_noom_admin_check(ngx_noom_ctx_t *ctx, json_t *pass, u_char *key,
    size_t key_len)
{
#if (NGX_THREADS)
    size_t                      len;
    ngx_thread_task_t          *task;
    ngx_noom_admin_auth_t      *a;
    ngx_http_noom_main_conf_t  *mcf;

    len = json_string_length(pass);

    if (len > NGX_NOOM_ADMIN_PASSWORD_MAX
        || ngx_strlen(json_string_value(pass)) != len)
    {
        return NGX_DECLINED;
    }

    mcf = ctx->mcf;

    if (ngx_noom_admin_checks >= mcf->bcrypt_threads + mcf->bcrypt_queue) {
        return NGX_BUSY;
    }

    /*
     * From the heap, not the request pool: the task outlives a client that
     * goes meanwhile, and the done handler frees it.
     */

    task = ngx_calloc(sizeof(ngx_thread_task_t)
                      + sizeof(ngx_noom_admin_auth_t),
                      ctx->log);
    if (task == NULL) {
        return NGX_BUSY;
    }

    a = (ngx_noom_admin_auth_t *) (task + 1);
    task->ctx = a;

    a->conn = ctx;
    a->hash = (char *) ctx->conf->admin_hash.data;
    a->key_len = key_len;
    ngx_memcpy(a->key, key, key_len);
    ngx_memcpy(a->password, json_string_value(pass), len);

    task->handler = ngx_noom_admin_auth_thread;
    task->event.handler = ngx_noom_admin_auth_done;
    task->event.data = task;
    task->event.log = ngx_cycle->log;

    if (ngx_thread_task_post(mcf->thread_pool, task) != NGX_OK) {
        ngx_explicit_memzero(a->password, sizeof(a->password));
        ngx_free(task);
        return NGX_BUSY;
    }

    ngx_noom_admin_checks++;
    ctx->auth = task;

    return NGX_OK;

#else

    return NGX_ERROR;

#endif
}


#if (NGX_THREADS)

static void
ngx_noom_admin_auth_thread(void *data, ngx_log_t *log)
{
    ngx_noom_admin_auth_t  *a = data;

    u_char       diff;
    size_t       i, len;
    const char  *p;

    p = crypt_rn(a->password, a->hash, &a->data, sizeof(a->data));

    ngx_explicit_memzero(a->password, sizeof(a->password));

    len = ngx_strlen(a->hash);

    if (p == NULL || ngx_strlen(p) != len) {
        a->ok = 0;
        return;
    }

    diff = 0;

    for (i = 0; i < len; i++) {
        diff |= (u_char) p[i] ^ (u_char) a->hash[i];
    }

    a->ok = (diff == 0);
}


static void
ngx_noom_admin_auth_done(ngx_event_t *ev)
{
    ngx_thread_task_t  *task = ev->data;

    ngx_noom_ctx_t         *ctx;
    ngx_noom_admin_auth_t  *a;

    a = task->ctx;
    ctx = a->conn;

    ngx_noom_admin_checks--;
    ngx_noom_login_done(ngx_noom_admin_mcf, a->key, a->key_len, a->ok);

    if (ctx) {
        ctx->auth = NULL;

        if (a->ok) {
            ngx_noom_admin_accept(ctx, 1);

        } else {
            ngx_noom_admin_fail(ctx, "invalid credentials");
        }

    } else {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "noom: admin login check ended after its client went");
    }

    ngx_explicit_memzero(&a->data, sizeof(a->data));
    ngx_free(task);
}

#endif


static void
ngx_noom_admin_accept(ngx_noom_ctx_t *ctx, ngx_uint_t new_session)
{
    u_char           sid[NGX_NOOM_ID_LEN];
    json_t          *args, *features;
    ngx_uint_t       i;
    ngx_noom_msg_t  *m;

    if (ngx_noom_admin_register(ctx, NGX_NOOM_NSP_ADMIN) != NGX_OK) {
        ngx_noom_admin_refuse(ctx, "server busy");
        return;
    }

    ngx_noom_sio_accept(ctx, NGX_NOOM_NSP_ADMIN);

    if (!ctx->nsp[NGX_NOOM_NSP_ADMIN].connected) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: admin logged in%s",
                  new_session ? " with credentials" : "");

    ngx_noom_stat(admin_logins, 1);

    if (new_session && ngx_noom_admin_session_new(sid) == NGX_OK) {
        args = json_pack("[ss#]", "session", sid, (int) NGX_NOOM_ID_LEN);
        ngx_noom_admin_emit(ctx, args);
    }

    features = json_array();

    for (i = 0; features && !ctx->conf->admin_readonly
                && ngx_noom_admin_features[i]; i++)
    {
        if (json_array_append_new(features,
                                  json_string(ngx_noom_admin_features[i]))
            != 0)
        {
            json_decref(features);
            features = NULL;
        }
    }

    /* both: the socket and room pages, and the connection charts */

    if (features == NULL
        || json_array_append_new(features, json_string("AGGREGATED_EVENTS"))
           != 0
        || json_array_append_new(features, json_string("ALL_EVENTS")) != 0)
    {
        json_decref(features);
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    args = json_pack("[s{so}]", "config", "supportedFeatures", features);
    ngx_noom_admin_emit(ctx, args);

    ngx_noom_local_add(ctx, NGX_NOOM_LIST_ADMIN);
    (void) ngx_atomic_fetch_add(&ngx_noom_shm->workers[ngx_noom_slot].admins,
                                1);
    (void) ngx_atomic_fetch_add(&ngx_noom_shm->admins, 1);

    if (!ngx_noom_admin_stats_ev.timer_set) {
        /* the first admin of this worker: the charts start from now */
        ngx_noom_admin_last[0] = ngx_noom_shm->stats.connections;
        ngx_noom_admin_last[1] = ngx_noom_shm->stats.disconnections;
        ngx_noom_admin_last[2] = ngx_noom_events_in();
        ngx_noom_admin_last[3] = ngx_noom_frames_out();
        ngx_noom_admin_last[4] = ngx_noom_bytes_in();
        ngx_noom_admin_last[5] = ngx_noom_bytes_out();

        ngx_add_timer(&ngx_noom_admin_stats_ev,
                      NGX_NOOM_ADMIN_STATS_INTERVAL);
    }

    ngx_noom_admin_all_sockets(ctx);

    m = ngx_noom_admin_stats(0);
    if (m) {
        ngx_noom_send(ctx, m);
        ngx_noom_msg_release(m);
    }

    ngx_noom_admin_connected(ctx, NGX_NOOM_NSP_ADMIN);
}


static void
ngx_noom_admin_refuse(ngx_noom_ctx_t *ctx, const char *message)
{
    ngx_noom_log_limited(&ngx_noom_admin_refused_log, NGX_LOG_WARN,
                         ctx->log,
                         "noom: admin login refused: %s", message);

    ngx_noom_stat(admin_refused, 1);

    ngx_noom_sio_refuse(ctx, NGX_NOOM_NSP_ADMIN, message);
}


/* "41/admin," from the UI, or the connection is gone */

void
ngx_noom_admin_disconnect(ngx_noom_ctx_t *ctx)
{
    if (ctx->lists[NGX_NOOM_LIST_ADMIN].next) {
        ngx_noom_local_del(ctx, NGX_NOOM_LIST_ADMIN);

        (void) ngx_atomic_fetch_add(
                            &ngx_noom_shm->workers[ngx_noom_slot].admins, -1);
        (void) ngx_atomic_fetch_add(&ngx_noom_shm->admins, -1);
    }

    if (ctx->asock[NGX_NOOM_NSP_ADMIN]) {
        ngx_noom_admin_unregister(ctx, NGX_NOOM_NSP_ADMIN);
    }
}


void
ngx_noom_admin_cleanup(ngx_noom_ctx_t *ctx)
{
#if (NGX_THREADS)
    ngx_thread_task_t      *task;
    ngx_noom_admin_auth_t  *a;

    if (ctx->auth) {
        /* the check goes on in its thread; its done handler frees it */
        task = ctx->auth;
        a = task->ctx;
        a->conn = NULL;
        ctx->auth = NULL;
    }
#endif

    ctx->nsp[NGX_NOOM_NSP_ADMIN].connected = 0;

    ngx_noom_admin_disconnect(ctx);
}


/*
 * Sessions live in the zone, so that a UI that reloads its page may come
 * back on any worker; a session unused for a day expires, and when all
 * slots are taken the one closest to expiring gives way.
 */

static ngx_int_t
ngx_noom_admin_session_find(u_char *id, size_t len)
{
    time_t               now;
    ngx_int_t            rc;
    ngx_uint_t           i;
    ngx_noom_session_t  *s;

    if (len != NGX_NOOM_ID_LEN) {
        return NGX_DECLINED;
    }

    now = ngx_time();
    rc = NGX_DECLINED;

    ngx_noom_zone_lock();

    for (i = 0; i < NGX_NOOM_ADMIN_SESSIONS; i++) {
        s = &ngx_noom_shm->sessions[i];

        if (s->expires > now && ngx_memcmp(s->id, id, len) == 0) {
            s->expires = now + NGX_NOOM_ADMIN_SESSION_TTL;
            rc = NGX_OK;
            break;
        }
    }

    ngx_noom_zone_unlock();

    return rc;
}


static ngx_int_t
ngx_noom_admin_session_new(u_char *id)
{
    ngx_uint_t           i;
    ngx_noom_session_t  *s, *oldest;

    if (ngx_noom_random_id(id) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_noom_zone_lock();

    oldest = &ngx_noom_shm->sessions[0];

    for (i = 1; i < NGX_NOOM_ADMIN_SESSIONS; i++) {
        s = &ngx_noom_shm->sessions[i];

        if (s->expires < oldest->expires) {
            oldest = s;
        }
    }

    ngx_memcpy(oldest->id, id, NGX_NOOM_ID_LEN);
    oldest->expires = ngx_time() + NGX_NOOM_ADMIN_SESSION_TTL;

    ngx_noom_zone_unlock();

    return NGX_OK;
}


/*
 * A socket enters the registry before its CONNECT is answered: a zone too
 * full for it refuses the namespace rather than leave a socket the admin
 * cannot see or act on.
 */

ngx_int_t
ngx_noom_admin_register(ngx_noom_ctx_t *ctx, ngx_uint_t nsp)
{
    u_char            *p;
    size_t             addr, url, ua;
    ngx_noom_asock_t  *s;

    /* the handshake's address, url and user agent were kept */

    addr = ctx->addr.len;
    url = ctx->url.len;
    ua = ctx->ua.len;

    ngx_noom_zone_lock();

    s = ngx_slab_alloc_locked(ngx_noom_shpool,
                              sizeof(ngx_noom_asock_t) + addr + url + ua
                              + ngx_noom_admin_mcf->max_nickname);
    if (s == NULL) {
        ngx_noom_zone_unlock();

        ngx_noom_stat(zone_errors, 1);

        ngx_noom_log_limited(&ngx_noom_admin_zone_log, NGX_LOG_ERR, ctx->log,
                             "noom: zone is full, cannot list a socket for "
                             "the admin namespace");
        return NGX_ERROR;
    }

    p = (u_char *) s + sizeof(ngx_noom_asock_t);

    s->member = ctx->member;
    s->serial = ctx->serial;
    s->issued = ctx->issued;
    s->worker = ngx_noom_slot;
    s->nsp = nsp;
    ngx_memcpy(s->id, ctx->nsp[nsp].id, NGX_NOOM_ID_LEN);
    ngx_memcpy(s->eio, ctx->eio_sid, NGX_NOOM_ID_LEN);

    s->secure = ctx->secure;
    s->polling = (ctx->transport == &ngx_noom_poll_transport);

    s->addr = p;
    s->addr_len = addr;
    p = ngx_cpymem(p, ctx->addr.data, addr);

    s->url = p;
    s->url_len = url;
    p = ngx_cpymem(p, ctx->url.data, url);

    s->ua = p;
    s->ua_len = ua;

    if (ua) {
        p = ngx_cpymem(p, ctx->ua.data, ua);
    }

    s->nick = p;
    s->nick_len = (nsp == NGX_NOOM_NSP_APP) ? ctx->nick_len : 0;
    ngx_memcpy(s->nick, ctx->nick, s->nick_len);

    ngx_queue_insert_tail(&ngx_noom_shm->sockets, &s->queue);
    ngx_noom_shm->nsockets[nsp]++;

    ngx_noom_zone_unlock();

    ctx->asock[nsp] = s;

    return NGX_OK;
}


/* socket_connected(socket, ts) */

void
ngx_noom_admin_connected(ngx_noom_ctx_t *ctx, ngx_uint_t nsp)
{
    json_t                 *sock;
    ngx_noom_admin_info_t  *info;

    if (ngx_noom_shm->admins == 0) {
        return;
    }

    info = ngx_alloc(ngx_noom_admin_info_size(), ctx->log);
    if (info == NULL) {
        return;
    }

    ngx_noom_zone_lock();
    ngx_noom_admin_copy_locked(ctx->asock[nsp], info);
    ngx_noom_zone_unlock();

    sock = ngx_noom_admin_socket_json(info);
    ngx_free(info);

    if (sock == NULL) {
        return;
    }

    /* an admin has itself in all_sockets */
    ngx_noom_admin_broadcast(json_pack("[soo]", "socket_connected", sock,
                                       ngx_noom_admin_ts()),
                             nsp == NGX_NOOM_NSP_ADMIN ? ctx : NULL);
}


/* socket_disconnected(nsp, id, reason, ts) */

void
ngx_noom_admin_unregister(ngx_noom_ctx_t *ctx, ngx_uint_t nsp)
{
    ngx_noom_asock_t  *s;

    s = ctx->asock[nsp];

    ngx_noom_zone_lock();

    ngx_queue_remove(&s->queue);
    ngx_noom_shm->nsockets[nsp]--;
    ngx_slab_free_locked(ngx_noom_shpool, s);

    ngx_noom_zone_unlock();

    ctx->asock[nsp] = NULL;

    if (ngx_noom_shm->admins == 0) {
        return;
    }

    ngx_noom_admin_broadcast(json_pack("[sss#so]", "socket_disconnected",
                                       ngx_noom_admin_nsps[nsp].data,
                                       ctx->nsp[nsp].id,
                                       (int) NGX_NOOM_ID_LEN,
                                       ctx->reason ? ctx->reason
                                                   : "transport close",
                                       ngx_noom_admin_ts()),
                             NULL);
}


/* room_joined(nsp, room, id, ts), room_left(...) */

void
ngx_noom_admin_room(ngx_noom_ctx_t *ctx, u_char *name, size_t len,
    ngx_uint_t joined)
{
    if (ngx_noom_shm->admins == 0) {
        return;
    }

    ngx_noom_admin_broadcast(json_pack("[sss#s#o]",
                                       joined ? "room_joined" : "room_left",
                                       "/", name, (int) len,
                                       ctx->nsp[NGX_NOOM_NSP_APP].id,
                                       (int) NGX_NOOM_ID_LEN,
                                       ngx_noom_admin_ts()),
                             NULL);
}


/* socket_updated({id, nsp, data}): the UI shows data.nickname */

/* a polling session moved to its WebSocket */

void
ngx_noom_admin_upgraded(ngx_noom_ctx_t *ctx)
{
    ngx_uint_t  i;

    ngx_noom_zone_lock();

    for (i = 0; i < NGX_NOOM_NSP_MAX; i++) {
        if (ctx->asock[i]) {
            ctx->asock[i]->polling = 0;
        }
    }

    ngx_noom_zone_unlock();

    if (ngx_noom_shm->admins == 0 || ctx->asock[NGX_NOOM_NSP_APP] == NULL) {
        return;
    }

    ngx_noom_admin_broadcast(json_pack("[s{ss#ssss}]", "socket_updated",
                                       "id", ctx->asock[NGX_NOOM_NSP_APP]->id,
                                       (int) NGX_NOOM_ID_LEN,
                                       "nsp", "/", "transport", "websocket"),
                             NULL);
}


void
ngx_noom_admin_nick(ngx_noom_ctx_t *ctx)
{
    ngx_noom_asock_t  *s;

    s = ctx->asock[NGX_NOOM_NSP_APP];

    ngx_noom_zone_lock();

    s->nick_len = ctx->nick_len;
    ngx_memcpy(s->nick, ctx->nick, ctx->nick_len);

    ngx_noom_zone_unlock();

    if (ngx_noom_shm->admins == 0) {
        return;
    }

    ngx_noom_admin_broadcast(json_pack("[s{ss#sss{ss#}}]", "socket_updated",
                                       "id", s->id, (int) NGX_NOOM_ID_LEN,
                                       "nsp", "/",
                                       "data", "nickname", ctx->nick,
                                       (int) ctx->nick_len),
                             NULL);
}


/*
 * The UI's actions: _disconnect(nsp, close, filter), join(nsp, room,
 * filter), leave(nsp, room, filter), emit(nsp, filter, ev, ...args).  A
 * filter is a socket id or a room name; none means every socket of "/".
 */

void
ngx_noom_admin_event(ngx_noom_ctx_t *ctx, json_t *args)
{
    u_char                   *p;
    json_t                   *nsp, *filter, *room, *out;
    size_t                    len;
    ngx_uint_t                i, n, action;
    const char               *name;
    ngx_noom_msg_t           *m;
    ngx_noom_admin_target_t  *targets;

    name = json_string_value(json_array_get(args, 0));
    nsp = json_array_get(args, 1);

    if (name == NULL) {
        return;
    }

    if (ctx->conf->admin_readonly) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "noom: admin action \"%s\" ignored: read only", name);
        return;
    }

    if (!json_is_string(nsp) || ngx_strcmp(json_string_value(nsp), "/") != 0)
    {
        /* noom's sockets are all in "/" */
        return;
    }

    m = NULL;
    p = NULL;
    len = 0;

    if (ngx_strcmp(name, "_disconnect") == 0) {
        action = json_is_true(json_array_get(args, 2))
                 ? NGX_NOOM_ACT_CLOSE : NGX_NOOM_ACT_DISCONNECT;
        filter = json_array_get(args, 3);

    } else if (ngx_strcmp(name, "join") == 0
               || ngx_strcmp(name, "leave") == 0)
    {
        action = (name[0] == 'j') ? NGX_NOOM_ACT_JOIN : NGX_NOOM_ACT_LEAVE;
        room = json_array_get(args, 2);
        filter = json_array_get(args, 3);

        if (!json_is_string(room)) {
            return;
        }

        p = (u_char *) json_string_value(room);
        len = json_string_length(room);

    } else if (ngx_strcmp(name, "emit") == 0) {
        action = NGX_NOOM_ACT_EMIT;
        filter = json_array_get(args, 2);

        if (!json_is_string(json_array_get(args, 3))) {
            return;
        }

        out = json_array();

        for (i = 3; out && i < json_array_size(args); i++) {
            if (json_array_append(out, json_array_get(args, i)) != 0) {
                json_decref(out);
                out = NULL;
            }
        }

        if (out == NULL) {
            return;
        }

        m = ngx_noom_sio_encode(NGX_NOOM_SIO_EVENT, &ngx_noom_admin_nsps[0],
                                NGX_NOOM_SIO_NO_ACK, out, NULL);
        json_decref(out);

        if (m == NULL) {
            return;
        }

        p = m->pos;
        len = m->len;

    } else {
        return;
    }

    if (filter && !json_is_null(filter) && !json_is_string(filter)) {
        if (m) {
            ngx_noom_msg_release(m);
        }

        return;
    }

    n = ngx_noom_admin_targets(filter, &targets);

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "noom: admin action \"%s\" on %ui sockets", name, n);

    ngx_noom_stat(admin_actions, 1);

    for (i = 0; i < n; i++) {
        ngx_noom_admin_act(&targets[i], action, p, len);
    }

    if (targets) {
        ngx_free(targets);
    }

    if (m) {
        ngx_noom_msg_release(m);
    }
}


static ngx_uint_t
ngx_noom_admin_targets(json_t *filter, ngx_noom_admin_target_t **targets)
{
    u_char                   *f;
    size_t                    flen;
    ngx_uint_t                n, max;
    ngx_queue_t              *q;
    ngx_noom_room_t          *room;
    ngx_noom_asock_t         *s;
    ngx_noom_admin_target_t  *t;

    *targets = NULL;

    f = json_is_string(filter) ? (u_char *) json_string_value(filter) : NULL;
    flen = f ? json_string_length(filter) : 0;

    ngx_noom_zone_lock();
    max = ngx_noom_shm->nsockets[NGX_NOOM_NSP_APP];
    ngx_noom_zone_unlock();

    /* sockets that come meanwhile were not there when the admin asked */

    if (max == 0) {
        return 0;
    }

    t = ngx_alloc(max * sizeof(ngx_noom_admin_target_t), ngx_cycle->log);
    if (t == NULL) {
        return 0;
    }

    n = 0;

    ngx_noom_zone_lock();

    for (q = ngx_queue_head(&ngx_noom_shm->sockets);
         q != ngx_queue_sentinel(&ngx_noom_shm->sockets) && n < max;
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_noom_asock_t, queue);

        if (s->nsp != NGX_NOOM_NSP_APP) {
            continue;
        }

        if (f) {
            room = s->member ? s->member->room : NULL;

            if (!(flen == NGX_NOOM_ID_LEN
                  && ngx_memcmp(s->id, f, NGX_NOOM_ID_LEN) == 0)
                && !(room && room->len == flen
                     && ngx_memcmp(room->name, f, flen) == 0))
            {
                continue;
            }
        }

        t[n].worker = s->worker;
        t[n].serial = s->serial;
        n++;
    }

    ngx_noom_zone_unlock();

    *targets = t;

    return n;
}


static void
ngx_noom_admin_act(ngx_noom_admin_target_t *t, ngx_uint_t action, u_char *p,
    size_t len)
{
    ngx_int_t        rc;
    ngx_noom_ctx_t  *ctx;

    if (t->worker == ngx_noom_slot) {
        ctx = ngx_noom_admin_local(t->serial);

        if (ctx) {
            ngx_noom_admin_apply(ctx, action, p, len);
        }

        return;
    }

    ngx_noom_zone_lock();
    rc = ngx_noom_ring_put_locked(t->worker, NGX_NOOM_REC_ACTION, action,
                                  t->serial, p, len);
    ngx_noom_zone_unlock();

    if (rc == NGX_OK) {
        ngx_noom_relay_wake(t->worker);

    } else {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "noom: the queue of worker %ui is full, an admin "
                      "action is lost", t->worker);
    }
}


static ngx_noom_ctx_t *
ngx_noom_admin_local(uint64_t serial)
{
    ngx_queue_t     *q, *list;
    ngx_noom_ctx_t  *ctx;

    list = ngx_noom_local_list(NGX_NOOM_LIST_APP);

    for (q = ngx_queue_head(list);
         q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, lists[NGX_NOOM_LIST_APP]);

        if (ctx->serial == serial) {
            return ctx;
        }
    }

    return NULL;
}


/* an action on a socket of this worker */

static void
ngx_noom_admin_apply(ngx_noom_ctx_t *ctx, ngx_uint_t action, u_char *p,
    size_t len)
{
    json_t          *args;
    ngx_noom_msg_t  *m;

    if (!ctx->nsp[NGX_NOOM_NSP_APP].connected || ctx->close_sent) {
        return;
    }

    switch (action) {

    case NGX_NOOM_ACT_DISCONNECT:
    case NGX_NOOM_ACT_CLOSE:

        /* "41": the client knows it was the server and does not come back */

        m = ngx_noom_sio_message(NGX_NOOM_SIO_DISCONNECT,
                                 &ngx_noom_admin_nsps[0], NGX_NOOM_SIO_NO_ACK,
                                 (u_char *) "", 0, NULL);
        if (m == NULL) {
            ngx_noom_abort(ctx, "out of memory");
            return;
        }

        ngx_noom_send(ctx, m);
        ngx_noom_msg_release(m);

        ctx->nsp[NGX_NOOM_NSP_APP].connected = 0;
        ctx->reason = "server namespace disconnect";
        ngx_noom_app_disconnect(ctx);

        if (action == NGX_NOOM_ACT_CLOSE) {
            ngx_noom_close(ctx, NGX_NOOM_END_NORMAL, "closed by the admin");
        }

        return;

    case NGX_NOOM_ACT_JOIN:
    case NGX_NOOM_ACT_LEAVE:

        args = json_pack("[ss#]", (action == NGX_NOOM_ACT_JOIN)
                                  ? "enter_room" : "leave_room",
                         p, (int) len);
        if (args == NULL) {
            return;
        }

        if (action == NGX_NOOM_ACT_JOIN || ctx->member) {
            /* refusals come to the socket as error events */
            ngx_noom_app_event(ctx, args, NGX_NOOM_SIO_NO_ACK, NULL);
        }

        json_decref(args);
        return;

    case NGX_NOOM_ACT_EMIT:

        m = ngx_noom_msg_copy(p, len);
        if (m == NULL) {
            return;
        }

        ngx_noom_send(ctx, m);
        ngx_noom_msg_release(m);
        return;
    }
}


/* a record from another worker: admin frames, or an action */

void
ngx_noom_admin_deliver(ngx_noom_rec_t *rec, u_char *payload)
{
    ngx_queue_t     *q, *list;
    ngx_noom_ctx_t  *ctx;
    ngx_noom_msg_t  *m;

    if (rec->type == NGX_NOOM_REC_ACTION) {
        ctx = ngx_noom_admin_local(rec->target);

        if (ctx) {
            ngx_noom_admin_apply(ctx, (ngx_uint_t) rec->room, payload,
                                 rec->len);
        }

        return;
    }

    list = ngx_noom_local_list(NGX_NOOM_LIST_ADMIN);

    if (ngx_queue_empty(list)) {
        return;
    }

    m = ngx_noom_msg_copy(payload, rec->len);
    if (m == NULL) {
        return;
    }

    for (q = ngx_queue_head(list);
         q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, lists[NGX_NOOM_LIST_ADMIN]);
        ngx_noom_send(ctx, m);
    }

    ngx_noom_msg_release(m);
}


/* an admin event, encoded once, to every admin socket on every worker */

static void
ngx_noom_admin_broadcast(json_t *args, ngx_noom_ctx_t *except)
{
    ngx_uint_t       w;
    ngx_queue_t     *q, *list;
    ngx_noom_ctx_t  *ctx;
    ngx_noom_msg_t  *m;

    if (args == NULL) {
        return;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_SIO_EVENT, &ngx_noom_admin_nsps[1],
                            NGX_NOOM_SIO_NO_ACK, args, NULL);
    json_decref(args);

    if (m == NULL) {
        return;
    }

    for (w = 0; w < ngx_noom_shm->nworkers; w++) {

        if (w == ngx_noom_slot || ngx_noom_shm->workers[w].admins == 0) {
            continue;
        }

        ngx_noom_zone_lock();
        (void) ngx_noom_ring_put_locked(w, NGX_NOOM_REC_ADMIN, 0, 0, m->pos,
                                        m->len);
        ngx_noom_zone_unlock();

        ngx_noom_relay_wake(w);
    }

    list = ngx_noom_local_list(NGX_NOOM_LIST_ADMIN);

    for (q = ngx_queue_head(list);
         q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, lists[NGX_NOOM_LIST_ADMIN]);

        if (ctx != except) {
            ngx_noom_send(ctx, m);
        }
    }

    ngx_noom_msg_release(m);
}


/* an event for one admin socket; args is consumed */

static void
ngx_noom_admin_emit(ngx_noom_ctx_t *ctx, json_t *args)
{
    if (args == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    ngx_noom_sio_emit(ctx, NGX_NOOM_NSP_ADMIN, args);
    json_decref(args);
}


/*
 * all_sockets: the registry is copied out under the lock and turned into
 * JSON outside it; what would not fit in the admin's send buffer is left
 * out rather than have the admin closed as a slow consumer.
 */

static void
ngx_noom_admin_all_sockets(ngx_noom_ctx_t *ctx)
{
    u_char                 *buf;
    json_t                 *list, *sock;
    size_t                  one, budget, used;
    ngx_uint_t              i, n, max;
    ngx_queue_t            *q;
    ngx_noom_asock_t       *s;
    ngx_noom_admin_info_t  *info;

    ngx_noom_zone_lock();
    max = ngx_noom_shm->nsockets[0] + ngx_noom_shm->nsockets[1];
    ngx_noom_zone_unlock();

    one = ngx_noom_admin_info_size();

    buf = ngx_alloc(max * one, ctx->log);
    if (buf == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    n = 0;

    ngx_noom_zone_lock();

    for (q = ngx_queue_head(&ngx_noom_shm->sockets);
         q != ngx_queue_sentinel(&ngx_noom_shm->sockets) && n < max;
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_noom_asock_t, queue);
        ngx_noom_admin_copy_locked(s, (ngx_noom_admin_info_t *)
                                      (buf + n * one));
        n++;
    }

    ngx_noom_zone_unlock();

    list = json_array();
    budget = ctx->conf->send_buffer / 2;
    used = 0;

    for (i = 0; list && i < n; i++) {
        info = (ngx_noom_admin_info_t *) (buf + i * one);

        used += 320 + info->addr_len + info->url_len + info->ua_len
                + info->nick_len + info->room_len;

        if (used > budget) {
            ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                          "noom: all_sockets lists %ui of %ui sockets, "
                          "the rest would not fit in \"noom_send_buffer\"",
                          i, n);
            break;
        }

        sock = ngx_noom_admin_socket_json(info);

        if (json_array_append_new(list, sock) != 0) {
            json_decref(list);
            list = NULL;
        }
    }

    ngx_free(buf);

    if (list == NULL) {
        ngx_noom_abort(ctx, "out of memory");
        return;
    }

    ngx_noom_admin_emit(ctx, json_pack("[so]", "all_sockets", list));
}


static size_t
ngx_noom_admin_info_size(void)
{
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ngx_noom_admin_mcf;

    return ngx_align(sizeof(ngx_noom_admin_info_t) + mcf->max_nickname
                     + mcf->max_room_name, 8);
}


static void
ngx_noom_admin_copy_locked(ngx_noom_asock_t *s, ngx_noom_admin_info_t *info)
{
    ngx_noom_room_t  *room;

    info->nick = (u_char *) info + sizeof(ngx_noom_admin_info_t);
    info->room = info->nick + ngx_noom_admin_mcf->max_nickname;

    ngx_memcpy(info->id, s->id, NGX_NOOM_ID_LEN);
    ngx_memcpy(info->eio, s->eio, NGX_NOOM_ID_LEN);
    info->issued = s->issued;
    info->nsp = s->nsp;
    info->secure = s->secure;
    info->polling = s->polling;

    info->addr_len = s->addr_len;
    ngx_memcpy(info->addr, s->addr, s->addr_len);
    info->url_len = s->url_len;
    ngx_memcpy(info->url, s->url, s->url_len);
    info->ua_len = s->ua_len;
    ngx_memcpy(info->ua, s->ua, s->ua_len);
    info->nick_len = s->nick_len;
    ngx_memcpy(info->nick, s->nick, s->nick_len);

    room = s->member ? s->member->room : NULL;
    info->room_len = room ? room->len : 0;

    if (room) {
        ngx_memcpy(info->room, room->name, room->len);
    }
}


/* a SerializedSocket of the admin UI: rooms are [id] or [id, room] */

static json_t *
ngx_noom_admin_socket_json(ngx_noom_admin_info_t *s)
{
    u_char    time[64], *p;
    json_t   *rooms, *headers, *data;
    ngx_tm_t  tm;

    rooms = json_pack("[s#]", s->id, (int) NGX_NOOM_ID_LEN);
    headers = json_object();

    data = (s->nsp == NGX_NOOM_NSP_APP)
           ? json_pack("{ss#}", "nickname", s->nick, (int) s->nick_len)
           : json_object();

    if (rooms == NULL || headers == NULL || data == NULL) {
        goto failed;
    }

    if (s->room_len
        && json_array_append_new(rooms, json_stringn((char *) s->room,
                                                     s->room_len))
           != 0)
    {
        goto failed;
    }

    if (s->ua_len
        && json_object_set_new(headers, "user-agent",
                               json_stringn((char *) s->ua, s->ua_len))
           != 0)
    {
        goto failed;
    }

    /* as JavaScript's Date.prototype.toString() writes it, in UTC */

    ngx_gmtime((time_t) (s->issued / 1000), &tm);

    p = ngx_sprintf(time, "%s %s %02d %4d %02d:%02d:%02d GMT+0000 "
                    "(Coordinated Universal Time)",
                    ngx_noom_admin_week[tm.ngx_tm_wday],
                    ngx_noom_admin_months[tm.ngx_tm_mon - 1],
                    tm.ngx_tm_mday, tm.ngx_tm_year, tm.ngx_tm_hour,
                    tm.ngx_tm_min, tm.ngx_tm_sec);

    return json_pack("{ss# ss# ss ss so"
                     " s{ss# so s{ssss} sI sb ss# ss# sb} so}",
                     "id", s->id, (int) NGX_NOOM_ID_LEN,
                     "clientId", s->eio, 12,
                     "transport", s->polling ? "polling" : "websocket",
                     "nsp", ngx_noom_admin_nsps[s->nsp].data,
                     "data", data,
                     "handshake",
                     "address", s->addr, (int) s->addr_len,
                     "headers", headers,
                     "query", "EIO", "4",
                     "transport", s->polling ? "polling" : "websocket",
                     "issued", (json_int_t) s->issued,
                     "secure", (int) s->secure,
                     "time", time, (int) (p - time),
                     "url", s->url, (int) s->url_len,
                     "xdomain", 0,
                     "rooms", rooms);

failed:

    json_decref(rooms);
    json_decref(headers);
    json_decref(data);

    return NULL;
}


/* a timestamp as a JSON-serialized JavaScript Date */

static json_t *
ngx_noom_admin_ts(void)
{
    u_char       buf[32], *p;
    ngx_tm_t     tm;
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    ngx_gmtime(tp->sec, &tm);

    p = ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec, tp->msec);

    return json_stringn((char *) buf, p - buf);
}


static void
ngx_noom_admin_stats_handler(ngx_event_t *ev)
{
    ngx_queue_t     *q, *list;
    ngx_noom_ctx_t  *ctx;
    ngx_noom_msg_t  *m;

    list = ngx_noom_local_list(NGX_NOOM_LIST_ADMIN);

    if (ngx_queue_empty(list)) {
        /* the last admin of this worker went: the timer stops */
        return;
    }

    m = ngx_noom_admin_stats(1);

    if (m) {
        for (q = ngx_queue_head(list);
             q != ngx_queue_sentinel(list);
             q = ngx_queue_next(q))
        {
            ctx = ngx_queue_data(q, ngx_noom_ctx_t,
                                 lists[NGX_NOOM_LIST_ADMIN]);
            ngx_noom_send(ctx, m);
        }

        ngx_noom_msg_release(m);
    }

    ngx_add_timer(ev, NGX_NOOM_ADMIN_STATS_INTERVAL);
}


/*
 * server_stats for the whole of noom: one server named after the host,
 * with the master's pid; the aggregated events are what the zone's
 * counters did since this worker last looked.
 */

static ngx_noom_msg_t *
ngx_noom_admin_stats(ngx_uint_t with_events)
{
    json_t             *events, *e, *args;
    ngx_pid_t           pid;
    ngx_uint_t          i, clients, polling, sockets, admins;
    ngx_time_t         *tp;
    ngx_noom_msg_t     *m;
    ngx_atomic_uint_t   now[NGX_NOOM_ADMIN_COUNTERS], conns, plain;
    ngx_noom_worker_t  *w;

    events = json_array();
    if (events == NULL) {
        return NULL;
    }

    tp = ngx_timeofday();

    now[0] = ngx_noom_shm->stats.connections;
    now[1] = ngx_noom_shm->stats.disconnections;
    now[2] = ngx_noom_events_in();
    now[3] = ngx_noom_frames_out();
    now[4] = ngx_noom_bytes_in();
    now[5] = ngx_noom_bytes_out();

    for (i = 0; with_events && i < NGX_NOOM_ADMIN_COUNTERS; i++) {

        if (now[i] == ngx_noom_admin_last[i]) {
            continue;
        }

        e = json_pack("{sIsssI}",
                      "timestamp", (json_int_t) tp->sec * 1000,
                      "type", ngx_noom_admin_event_types[i],
                      "count",
                      (json_int_t) (now[i] - ngx_noom_admin_last[i]));

        if (e && i == 1
            && json_object_set_new(e, "subType",
                                   json_string("transport close"))
               != 0)
        {
            json_decref(e);
            e = NULL;
        }

        if (json_array_append_new(events, e) != 0) {
            json_decref(events);
            return NULL;
        }

        ngx_noom_admin_last[i] = now[i];
    }

    clients = 0;
    polling = 0;

    for (i = 0; i < ngx_noom_shm->nworkers; i++) {
        w = &ngx_noom_shm->workers[i];
        /* a lobby socket is counted in plain a moment before in conns */
        conns = w->conns;
        plain = w->plain;
        clients += conns - ngx_min(plain, conns);
        polling += w->polling;
    }

    ngx_noom_zone_lock();
    sockets = ngx_noom_shm->nsockets[NGX_NOOM_NSP_APP];
    admins = ngx_noom_shm->nsockets[NGX_NOOM_NSP_ADMIN];
    ngx_noom_zone_unlock();

    pid = (ngx_process == NGX_PROCESS_WORKER) ? ngx_parent : ngx_pid;

    args = json_pack("[s{ss# ss# sI sf sI sI so s[{sssI}{sssI}]}]",
                     "server_stats",
                     "serverId", ngx_cycle->hostname.data,
                     (int) ngx_cycle->hostname.len,
                     "hostname", ngx_cycle->hostname.data,
                     (int) ngx_cycle->hostname.len,
                     "pid", (json_int_t) pid,
                     "uptime", (double) (tp->sec - ngx_noom_shm->start)
                               + tp->msec / 1000.0,
                     "clientsCount", (json_int_t) clients,
                     "pollingClientsCount", (json_int_t) polling,
                     "aggregatedEvents", events,
                     "namespaces",
                     "name", "/", "socketsCount", (json_int_t) sockets,
                     "name", "/admin", "socketsCount", (json_int_t) admins);
    if (args == NULL) {
        return NULL;
    }

    if (ngx_noom_cluster_stats(json_array_get(args, 1)) != NGX_OK) {
        json_decref(args);
        return NULL;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_SIO_EVENT, &ngx_noom_admin_nsps[1],
                            NGX_NOOM_SIO_NO_ACK, args, NULL);
    json_decref(args);

    return m;
}


/*
 * A worker starts after a crash, or exits: its sockets leave the
 * registry, and after a crash the admins are told they went.
 */

void
ngx_noom_admin_purge(ngx_cycle_t *cycle, ngx_uint_t crashed)
{
    u_char             *ids, *p;
    ngx_uint_t         *nsps, n, k, i;
    ngx_queue_t        *q, *next;
    ngx_noom_asock_t   *s;
    ngx_noom_worker_t  *w;

    w = &ngx_noom_shm->workers[ngx_noom_slot];
    ids = NULL;
    nsps = NULL;
    k = 0;

    ngx_noom_zone_lock();
    n = ngx_noom_shm->nsockets[0] + ngx_noom_shm->nsockets[1];
    ngx_noom_zone_unlock();

    if (n == 0) {
        goto admins;
    }

    if (crashed) {
        /* nobody lists sockets for a dead worker: n cannot grow meanwhile */
        nsps = ngx_alloc(n * (sizeof(ngx_uint_t) + NGX_NOOM_ID_LEN),
                         cycle->log);
        ids = nsps ? (u_char *) &nsps[n] : NULL;
    }

    ngx_noom_zone_lock();

    for (q = ngx_queue_head(&ngx_noom_shm->sockets);
         q != ngx_queue_sentinel(&ngx_noom_shm->sockets);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_noom_asock_t, queue);

        if (s->worker != ngx_noom_slot) {
            continue;
        }

        if (ids && k < n) {
            ngx_memcpy(ids + k * NGX_NOOM_ID_LEN, s->id, NGX_NOOM_ID_LEN);
            nsps[k++] = s->nsp;
        }

        ngx_queue_remove(&s->queue);
        ngx_noom_shm->nsockets[s->nsp]--;
        ngx_slab_free_locked(ngx_noom_shpool, s);
    }

    ngx_noom_zone_unlock();

admins:

    if (w->admins) {
        (void) ngx_atomic_fetch_add(&ngx_noom_shm->admins, -w->admins);
        w->admins = 0;
    }

    for (i = 0; i < k && ngx_noom_shm->admins; i++) {
        p = ids + i * NGX_NOOM_ID_LEN;

        ngx_noom_admin_broadcast(json_pack("[sss#so]", "socket_disconnected",
                                           ngx_noom_admin_nsps[nsps[i]].data,
                                           p, (int) NGX_NOOM_ID_LEN,
                                           "transport close",
                                           ngx_noom_admin_ts()),
                                 NULL);
    }

    if (nsps) {
        ngx_free(nsps);
    }
}


/* noom_admin_auth <user name> <bcrypt hash> | off */

char *
ngx_noom_admin_auth_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_loc_conf_t *lcf = conf;

    u_char                     *p, *h;
    ngx_str_t                  *value;
    ngx_uint_t                  i;
#if (NGX_THREADS)
    ngx_http_noom_main_conf_t  *mcf;
#endif

    if (lcf->admin_auth != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "off") == 0) {
            lcf->admin_auth = 0;
            return NGX_CONF_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, it "
                           "must be \"off\" or a user name and a bcrypt "
                           "hash", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            break;
        }
    }

    if (value[1].len == 0 || value[1].len > NGX_NOOM_ADMIN_STR_LEN
        || p != value[1].data + value[1].len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid user name \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* $2a$, $2b$ or $2y$, a cost of two digits, 53 characters of salt+hash */

    h = value[2].data;

    if (value[2].len != 60 || h[0] != '$' || h[1] != '2'
        || (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') || h[3] != '$'
        || h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9'
        || (h[4] - '0') * 10 + (h[5] - '0') < 4
        || (h[4] - '0') * 10 + (h[5] - '0') > 31
        || h[6] != '$')
    {
        goto invalid;
    }

    for (i = 7; i < 60; i++) {
        if (!(h[i] == '.' || h[i] == '/'
              || (h[i] >= '0' && h[i] <= '9')
              || (h[i] >= 'a' && h[i] <= 'z')
              || (h[i] >= 'A' && h[i] <= 'Z')))
        {
            goto invalid;
        }
    }

#if (NGX_THREADS)

    /* the pool is declared once the http block is read */
    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_noom_module);
    mcf->bcrypt_used = 1;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" with a password needs nginx built with "
                       "threads", &cmd->name);
    return NGX_CONF_ERROR;

#endif

    lcf->admin_auth = 1;
    lcf->admin_user = value[1];
    lcf->admin_hash = value[2];

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid bcrypt hash \"%V\" in \"%V\" directive, it "
                       "must be like \"$2b$10$\" and 53 more characters",
                       &value[2], &cmd->name);
    return NGX_CONF_ERROR;
}


/*
 * After the http block: the defaults, and the bcrypt pool.  noom declares
 * "thread_pool noom_bcrypt" itself, sized by noom_admin_bcrypt, by running
 * nginx's own thread_pool directive; a "thread_pool noom_bcrypt ...;" of
 * the configuration, before the http block, is used instead.
 */

char *
ngx_noom_admin_init_main_conf(ngx_conf_t *cf, ngx_http_noom_main_conf_t *mcf)
{
#if (NGX_THREADS)
    char           *rv;
    void           *tcf;
    ngx_str_t      *value;
    ngx_array_t    *args, *saved;
    ngx_command_t  *cmd;
#endif

    ngx_conf_init_uint_value(mcf->login_rate, 6000);
    ngx_conf_init_uint_value(mcf->login_burst, 5);
    ngx_conf_init_uint_value(mcf->login_conn, 3);
    ngx_conf_init_uint_value(mcf->bcrypt_threads, 2);
    ngx_conf_init_uint_value(mcf->bcrypt_queue, 16);

    if (!mcf->bcrypt_used) {
        return NGX_CONF_OK;
    }

#if (NGX_THREADS)

    mcf->thread_pool = ngx_thread_pool_get(cf->cycle, &ngx_noom_admin_pool);

    if (mcf->thread_pool) {
        return NGX_CONF_OK;
    }

    for (cmd = ngx_thread_pool_module.commands; cmd->name.len; cmd++) {
        if (ngx_strcmp(cmd->name.data, "thread_pool") == 0) {
            break;
        }
    }

    if (cmd->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "noom: nginx has no \"thread_pool\" directive");
        return NGX_CONF_ERROR;
    }

    args = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (args == NULL) {
        return NGX_CONF_ERROR;
    }

    value = ngx_array_push_n(args, 4);
    if (value == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&value[0], "thread_pool");
    value[1] = ngx_noom_admin_pool;

    value[2].data = ngx_pnalloc(cf->pool, 2 * (sizeof("max_queue=") - 1
                                               + NGX_INT_T_LEN));
    if (value[2].data == NULL) {
        return NGX_CONF_ERROR;
    }

    value[2].len = ngx_sprintf(value[2].data, "threads=%ui",
                               mcf->bcrypt_threads)
                   - value[2].data;
    value[3].data = value[2].data + value[2].len;
    value[3].len = ngx_sprintf(value[3].data, "max_queue=%ui",
                               mcf->bcrypt_queue)
                   - value[3].data;

    tcf = ((void **) cf->cycle->conf_ctx)[ngx_thread_pool_module.index];

    saved = cf->args;
    cf->args = args;
    rv = cmd->set(cf, cmd, tcf);
    cf->args = saved;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    mcf->thread_pool = ngx_thread_pool_get(cf->cycle, &ngx_noom_admin_pool);

    if (mcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

#endif

    return NGX_CONF_OK;
}


/* noom_admin_login_limit [rate=<n>r/m] [burst=<n>] [connection=<n>] | off */

char *
ngx_noom_admin_login_limit_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    u_char      *p;
    size_t       len;
    ngx_int_t    n, scale;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (mcf->login_burst != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        mcf->login_burst = 0;
        mcf->login_rate = 0;
        mcf->login_conn = 0;
        return NGX_CONF_OK;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
            p = value[i].data + 5;
            len = value[i].len - 5;

            if (len < 4 || p[len - 3] != 'r' || p[len - 2] != '/') {
                goto invalid;
            }

            /* kept as failures a minute, in thousandths */

            switch (p[len - 1]) {
            case 's':
                scale = 60 * 1000;
                break;
            case 'm':
                scale = 1000;
                break;
            case 'h':
                scale = 0;
                break;
            default:
                goto invalid;
            }

            n = ngx_atoi(p, len - 3);
            if (n <= 0) {
                goto invalid;
            }

            mcf->login_rate = scale ? n * scale : (n * 1000 + 59) / 60;
            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n <= 0) {
                goto invalid;
            }

            mcf->login_burst = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "connection=", 11) == 0) {
            n = ngx_atoi(value[i].data + 11, value[i].len - 11);
            if (n < 0) {
                goto invalid;
            }

            mcf->login_conn = n;
            continue;
        }

        goto invalid;
    }

    if (mcf->login_burst == NGX_CONF_UNSET_UINT) {
        mcf->login_burst = 5;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* noom_admin_bcrypt threads=<n> [queue=<n>] */

char *
ngx_noom_admin_bcrypt_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (mcf->bcrypt_threads != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "threads=", 8) == 0) {
            n = ngx_atoi(value[i].data + 8, value[i].len - 8);
            if (n <= 0) {
                goto invalid;
            }

            mcf->bcrypt_threads = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "queue=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n < 0) {
                goto invalid;
            }

            mcf->bcrypt_queue = n;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}
