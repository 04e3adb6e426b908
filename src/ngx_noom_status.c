
/*
 * Copyright (C) noom authors
 *
 * noom_status: the zone's figures as JSON, for people and for tests, or
 * in the Prometheus text exposition format (version 0.0.4) when asked by
 * "?format=prometheus" or by an Accept header that names text/plain or
 * OpenMetrics, as a Prometheus scraper's does.
 */


#include "ngx_noom.h"


#define NGX_NOOM_STATUS_JSON        0
#define NGX_NOOM_STATUS_PROMETHEUS  1


typedef struct {
    char                      *name;
    char                      *type;
    char                      *help;
    size_t                     offset;      /* in ngx_noom_stats_t */
} ngx_noom_status_counter_t;


typedef struct {
    char                      *name;
    char                      *type;
    char                      *help;
    ngx_uint_t                 field;
} ngx_noom_status_worker_t;


typedef struct {
    ngx_uint_t                 used;
    ngx_uint_t                 total;
    ngx_uint_t                 rooms;
    ngx_uint_t                 members;
    ngx_uint_t                 sockets;
    ngx_uint_t                 admin_sockets;
    ngx_uint_t                 redis;       /* noom_redis is set */
} ngx_noom_status_t;


static ngx_uint_t ngx_noom_status_format(ngx_http_request_t *r);
static ngx_buf_t *ngx_noom_status_json(ngx_http_request_t *r,
    ngx_noom_status_t *s);
static ngx_buf_t *ngx_noom_status_prometheus(ngx_http_request_t *r,
    ngx_noom_status_t *s);
static u_char *ngx_noom_status_metric(u_char *p, char *name, char *type,
    char *help);


#define ngx_noom_status_off(f)  offsetof(ngx_noom_stats_t, f)

static ngx_noom_status_counter_t  ngx_noom_status_counters[] = {

    { "noom_connections_total", "counter",
      "Sessions opened (WebSocket or polling).",
      ngx_noom_status_off(connections) },

    { "noom_disconnections_total", "counter",
      "Sessions closed.",
      ngx_noom_status_off(disconnections) },

    { "noom_handshakes_refused_total", "counter",
      "Upgrade and Engine.IO requests refused.",
      ngx_noom_status_off(handshakes_refused) },

    { "noom_relayed_total", "counter",
      "Records put on the queues of other workers.",
      ngx_noom_status_off(relayed) },

    { "noom_relay_drops_total", "counter",
      "Records dropped because a worker queue was full.",
      ngx_noom_status_off(relay_drops) },

    { "noom_relay_waits_total", "counter",
      "Times a worker stopped reading its clients because a worker queue "
      "was over 3/4 full.",
      ngx_noom_status_off(relay_waits) },

    { "noom_slow_consumer_closes_total", "counter",
      "Connections closed because the client did not read.",
      ngx_noom_status_off(slow_closes) },

    { "noom_protocol_closes_total", "counter",
      "Connections closed for a protocol error.",
      ngx_noom_status_off(protocol_closes) },

    { "noom_limit_errors_total", "counter",
      "Events refused by a limit.",
      ngx_noom_status_off(limit_errors) },

    { "noom_rate_limited_total", "counter",
      "Events dropped by noom_event_rate.",
      ngx_noom_status_off(rate_limited) },

    { "noom_zone_errors_total", "counter",
      "Allocations the shared zone could not satisfy.",
      ngx_noom_status_off(zone_errors) },

    { "noom_worker_crashes_total", "counter",
      "Workers replaced after exiting abnormally.",
      ngx_noom_status_off(crashes) },

    { "noom_polling_requests_total", "counter",
      "HTTP long-polling requests (handshakes, GETs, POSTs, preflights).",
      ngx_noom_status_off(polling_requests) },

    { "noom_upgrades_total", "counter",
      "Polling sessions upgraded to a WebSocket.",
      ngx_noom_status_off(upgrades) },

    { "noom_message_budget_closes_total", "counter",
      "Connections closed because noom_message_buffers was taken.",
      ngx_noom_status_off(message_budget_closes) },

    { "noom_redis_messages_in_total", "counter",
      "Messages received from Redis pub/sub, the emitter's included.",
      ngx_noom_status_off(redis_in) },

    { "noom_redis_messages_out_total", "counter",
      "Room events published to the other nodes.",
      ngx_noom_status_off(redis_out) },

    { "noom_redis_drops_total", "counter",
      "Events and joins refused because Redis could not be reached or "
      "too many commands waited for it.",
      ngx_noom_status_off(redis_drops) },

    { "noom_redis_bad_messages_total", "counter",
      "Messages from Redis of a wrong form, dropped.",
      ngx_noom_status_off(redis_bad) },

    { "noom_redis_reconnects_total", "counter",
      "Links to Redis made again after being lost.",
      ngx_noom_status_off(redis_reconnects) },

    { "noom_redis_reaped_members_total", "counter",
      "Members of silent nodes removed by this node.",
      ngx_noom_status_off(redis_reaped) },

    { "noom_redis_nodes", "gauge",
      "Live nodes, as Redis last said.",
      ngx_noom_status_off(redis_nodes) },

    { "noom_zone_repairs_total", "counter",
      "Zone repairs after a process died while changing it.",
      ngx_noom_status_off(zone_repairs) },

    { "noom_recovered_total", "counter",
      "Sockets recovered by noom_recovery.",
      ngx_noom_status_off(recovered) },

    { "noom_recovery_failed_total", "counter",
      "Recoveries refused (unknown pid, offset no longer in the log): "
      "a fresh session instead.",
      ngx_noom_status_off(recovery_failed) },

    { "noom_recovery_waits_total", "counter",
      "CONNECTs whose pid was still attached to a socket, waited on.",
      ngx_noom_status_off(recovery_waits) },

    { "noom_tls_takeovers_total", "counter",
      "WebSockets over TLS 1.3 whose records the module took over from "
      "OpenSSL after the handshake (noom_tls_takeover).",
      ngx_noom_status_off(tls_takeovers) },

    { "noom_tls_kept_total", "counter",
      "WebSockets over TLS that stayed with OpenSSL (TLS 1.2, bytes OpenSSL "
      "held, an unknown cipher suite).",
      ngx_noom_status_off(tls_kept) },

    { "noom_recovery_expired_total", "counter",
      "Detached sockets whose recovery window ended.",
      ngx_noom_status_off(recovery_expired) },

    { "noom_recovery_refused_total", "counter",
      "Sockets that could not be kept for recovery (full zone, too many "
      "detached).",
      ngx_noom_status_off(recovery_refused) },

    { "noom_recovery_log_drops_total", "counter",
      "Room events not kept in a room's log.",
      ngx_noom_status_off(recovery_log_drops) },

    { "noom_admin_logins_total", "counter",
      "Logins to the admin namespace.",
      ngx_noom_status_off(admin_logins) },

    { "noom_admin_throttled_total", "counter",
      "Admin logins refused without a password check: too many failures "
      "or a full bcrypt queue.",
      ngx_noom_status_off(admin_throttled) },

    { "noom_admin_refused_total", "counter",
      "Logins to the admin namespace refused.",
      ngx_noom_status_off(admin_refused) },

    { "noom_admin_actions_total", "counter",
      "Actions asked for by admins.",
      ngx_noom_status_off(admin_actions) },

    { NULL, NULL, NULL, 0 }
};


static ngx_noom_status_worker_t  ngx_noom_status_workers[] = {

    { "noom_worker_connections", "gauge",
      "Open sessions of a worker (WebSocket or polling).", 0 },

    { "noom_worker_lobby_connections", "gauge",
      "Plain WebSocket lobby connections of a worker.", 1 },

    { "noom_worker_room_members", "gauge",
      "Room members on a worker.", 2 },

    { "noom_worker_admins", "gauge",
      "Admin sockets logged in on a worker.", 3 },

    { "noom_worker_queue_size_bytes", "gauge",
      "Size of a worker's inter-worker queue.", 4 },

    { "noom_worker_queue_used_bytes", "gauge",
      "Bytes waiting in a worker's inter-worker queue.", 5 },

    { "noom_worker_queue_drops_total", "counter",
      "Records dropped because a worker's queue was full.", 6 },

    { "noom_worker_frames_out_total", "counter",
      "Messages a worker queued for sending to its clients.", 7 },

    { "noom_worker_polling_sessions", "gauge",
      "Sessions of a worker on HTTP long-polling (the others are on "
      "WebSockets).", 8 },

    { "noom_worker_polling_waiting", "gauge",
      "Polling sessions of a worker with a GET waiting for packets.", 9 },

    { NULL, NULL, NULL, 0 }
};


ngx_int_t
ngx_noom_status_handler(ngx_http_request_t *r)
{
    char               *type;
    ngx_int_t           rc;
    ngx_buf_t          *b;
    ngx_uint_t          format;
    ngx_noom_status_t   s;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_noom_shm == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_noom_rooms_usage(&s.used, &s.total);

    ngx_noom_zone_lock();
    s.rooms = ngx_noom_shm->nrooms;
    s.members = ngx_noom_shm->nmembers;
    s.sockets = ngx_noom_shm->nsockets[NGX_NOOM_NSP_APP];
    s.admin_sockets = ngx_noom_shm->nsockets[NGX_NOOM_NSP_ADMIN];
    ngx_noom_zone_unlock();

    s.redis = ngx_noom_cluster_on();

    format = ngx_noom_status_format(r);

    if (format == NGX_NOOM_STATUS_PROMETHEUS) {
        b = ngx_noom_status_prometheus(r, &s);
        type = "text/plain; version=0.0.4; charset=utf-8";

    } else {
        b = ngx_noom_status_json(r, &s);
        type = "application/json";
    }

    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_noom_http_send(r, NGX_HTTP_OK, type, b);
}


static ngx_uint_t
ngx_noom_status_format(ngx_http_request_t *r)
{
    ngx_str_t   arg;
    ngx_uint_t  n;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK) {
        return (arg.len == 10
                && ngx_strncmp(arg.data, "prometheus", 10) == 0)
               ? NGX_NOOM_STATUS_PROMETHEUS : NGX_NOOM_STATUS_JSON;
    }

    /* a browser's "*" + "/" + "*" or text/html keeps the JSON */

    if (ngx_noom_header(r, "Accept", 6, &arg, &n) == NGX_OK
        && (ngx_strlcasestrn(arg.data, arg.data + arg.len,
                             (u_char *) "openmetrics", 11 - 1)
            != NULL
            || (arg.len >= 10
                && ngx_strncasecmp(arg.data, (u_char *) "text/plain", 10)
                   == 0)))
    {
        return NGX_NOOM_STATUS_PROMETHEUS;
    }

    return NGX_NOOM_STATUS_JSON;
}


static ngx_buf_t *
ngx_noom_status_json(ngx_http_request_t *r, ngx_noom_status_t *s)
{
    char               *sep;
    u_char             *p;
    size_t              size;
    ngx_buf_t          *b;
    ngx_uint_t          i;
    ngx_noom_stats_t   *st;
    ngx_noom_worker_t  *w;

    st = &ngx_noom_shm->stats;

    size = 3584 + ngx_noom_shm->nworkers * (250 + 10 * NGX_ATOMIC_T_LEN);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NULL;
    }

    p = ngx_sprintf(b->last,
                    "{\"version\":\"" NGX_NOOM_VERSION "\","
                    "\"pid\":%P,\"worker\":%ui,"
                    "\"rooms\":%ui,\"members\":%ui,"
                    "\"zone\":{\"pages_used\":%ui,\"pages_total\":%ui,"
                    "\"page_size\":%ui},"
                    "\"connections_total\":%uA,"
                    "\"disconnections_total\":%uA,"
                    "\"handshakes_refused\":%uA,"
                    "\"events_in\":%uA,\"frames_out\":%uA,"
                    "\"bytes_in\":%uA,\"bytes_out\":%uA,"
                    "\"relayed\":%uA,\"relay_drops\":%uA,"
                    "\"relay_waits\":%uA,"
                    "\"slow_consumer_closes\":%uA,"
                    "\"protocol_closes\":%uA,\"limit_errors\":%uA,"
                    "\"rate_limited\":%uA,"
                    "\"zone_errors\":%uA,\"worker_crashes\":%uA,"
                    "\"zone_repairs\":%uA,\"message_budget_closes\":%uA,"
                    "\"polling\":%uA,\"polling_waiting\":%uA,"
                    "\"polling_requests\":%uA,\"upgrades\":%uA,"
                    "\"recovery\":{\"live\":%ui,\"away\":%ui,"
                    "\"log_bytes\":%uz},"
                    "\"recovered\":%uA,\"recovery_failed\":%uA,"
                    "\"recovery_expired\":%uA,\"recovery_refused\":%uA,"
                    "\"recovery_log_drops\":%uA,\"recovery_waits\":%uA,"
                    "\"tls_takeovers\":%uA,\"tls_kept\":%uA,"
                    "\"admin\":{\"admins\":%uA,\"sockets\":%ui,"
                    "\"admin_sockets\":%ui,\"logins\":%uA,"
                    "\"refused\":%uA,\"actions\":%uA,"
                    "\"throttled\":%uA},",
                    ngx_pid, ngx_worker, s->rooms, s->members,
                    s->used, s->total, ngx_pagesize,
                    st->connections, st->disconnections,
                    st->handshakes_refused,
                    ngx_noom_events_in(), ngx_noom_frames_out(),
                    ngx_noom_bytes_in(), ngx_noom_bytes_out(),
                    st->relayed, st->relay_drops, st->relay_waits,
                    st->slow_closes,
                    st->protocol_closes, st->limit_errors, st->rate_limited,
                    st->zone_errors, st->crashes, st->zone_repairs,
                    st->message_budget_closes,
                    ngx_noom_workers_sum(offsetof(ngx_noom_worker_t,
                                                  polling)),
                    ngx_noom_workers_sum(offsetof(ngx_noom_worker_t,
                                                  waiting)),
                    st->polling_requests, st->upgrades,
                    ngx_noom_shm->nlive, ngx_noom_shm->naway,
                    ngx_noom_shm->log_bytes,
                    st->recovered, st->recovery_failed, st->recovery_expired,
                    st->recovery_refused, st->recovery_log_drops,
                    st->recovery_waits, st->tls_takeovers, st->tls_kept,
                    ngx_noom_shm->admins, s->sockets, s->admin_sockets,
                    st->admin_logins, st->admin_refused, st->admin_actions,
                    st->admin_throttled);

    p = ngx_sprintf(p, "\"redis\":{\"configured\":%s,\"linked_workers\":%uA,"
                    "\"nodes\":%uA,\"messages_in\":%uA,"
                    "\"messages_out\":%uA,\"drops\":%uA,\"bad\":%uA,"
                    "\"reconnects\":%uA,\"reaped\":%uA},\"workers\":[",
                    s->redis ? "true" : "false",
                    ngx_noom_workers_sum(offsetof(ngx_noom_worker_t,
                                                  redis_up)),
                    st->redis_nodes, st->redis_in, st->redis_out,
                    st->redis_drops, st->redis_bad, st->redis_reconnects,
                    st->redis_reaped);
    sep = "";

    for (i = 0; i < ngx_noom_shm->nworkers; i++) {
        w = &ngx_noom_shm->workers[i];

        if (w->pid == 0) {
            /* a slot of no generation now */
            continue;
        }

        p = ngx_sprintf(p, "%s{\"worker\":%ui,\"pid\":%P,"
                        "\"connections\":%uA,\"polling\":%uA,"
                        "\"lobby\":%uA,"
                        "\"members\":%ui,\"admins\":%uA,"
                        "\"frames_out\":%uA,"
                        "\"bytes_in\":%uA,\"bytes_out\":%uA,"
                        "\"queue\":{\"size\":%uz,\"used\":%uz,"
                        "\"drops\":%uA}}",
                        sep, i, w->pid, w->conns, w->polling,
                        w->plain,
                        w->members, w->admins, w->frames_out, w->bytes_in,
                        w->bytes_out, w->ring.size,
                        w->ring.tail - w->ring.head, w->ring.drops);
        sep = ",";
    }

    b->last = ngx_sprintf(p, "]}\n");

    return b;
}


static ngx_buf_t *
ngx_noom_status_prometheus(ngx_http_request_t *r, ngx_noom_status_t *s)
{
    u_char                     *p;
    size_t                      size;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, k, v;
    ngx_atomic_t               *a;
    ngx_noom_worker_t          *w;
    ngx_noom_status_worker_t   *wm;
    ngx_noom_status_counter_t  *c;

    size = 10240 + ngx_noom_shm->nworkers * 8 * (64 + NGX_ATOMIC_T_LEN);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NULL;
    }

    p = ngx_noom_status_metric(b->last, "noom_build_info", "gauge",
                               "The version of noom, always 1.");
    p = ngx_sprintf(p, "noom_build_info{version=\"" NGX_NOOM_VERSION
                    "\"} 1\n");

    for (c = ngx_noom_status_counters; c->name; c++) {
        a = (ngx_atomic_t *) ((u_char *) &ngx_noom_shm->stats + c->offset);

        p = ngx_noom_status_metric(p, c->name, c->type, c->help);
        p = ngx_sprintf(p, "%s %uA\n", c->name, *a);
    }

    p = ngx_noom_status_metric(p, "noom_redis_linked_workers", "gauge",
                               "Workers with a link to Redis.");
    p = ngx_sprintf(p, "noom_redis_linked_workers %uA\n",
                    ngx_noom_workers_sum(offsetof(ngx_noom_worker_t,
                                                  redis_up)));

    p = ngx_noom_status_metric(p, "noom_events_in_total", "counter",
                               "Socket.IO events and lobby messages "
                               "received.");
    p = ngx_sprintf(p, "noom_events_in_total %uA\n", ngx_noom_events_in());

    p = ngx_noom_status_metric(p, "noom_frames_out_total", "counter",
                               "Messages queued for sending to clients.");
    p = ngx_sprintf(p, "noom_frames_out_total %uA\n", ngx_noom_frames_out());

    p = ngx_noom_status_metric(p, "noom_received_bytes_total", "counter",
                               "Bytes read from WebSocket clients.");
    p = ngx_sprintf(p, "noom_received_bytes_total %uA\n", ngx_noom_bytes_in());

    p = ngx_noom_status_metric(p, "noom_sent_bytes_total", "counter",
                               "Bytes written to WebSocket clients.");
    p = ngx_sprintf(p, "noom_sent_bytes_total %uA\n", ngx_noom_bytes_out());

    p = ngx_noom_status_metric(p, "noom_rooms", "gauge", "Rooms.");
    p = ngx_sprintf(p, "noom_rooms %ui\n", s->rooms);

    p = ngx_noom_status_metric(p, "noom_room_members", "gauge",
                               "Members of all rooms.");
    p = ngx_sprintf(p, "noom_room_members %ui\n", s->members);

    p = ngx_noom_status_metric(p, "noom_sockets", "gauge",
                               "Socket.IO sockets in the admin registry, "
                               "by namespace.");
    p = ngx_sprintf(p, "noom_sockets{namespace=\"/\"} %ui\n"
                    "noom_sockets{namespace=\"/admin\"} %ui\n",
                    s->sockets, s->admin_sockets);

    p = ngx_noom_status_metric(p, "noom_admins", "gauge",
                               "Admin sockets logged in.");
    p = ngx_sprintf(p, "noom_admins %uA\n", ngx_noom_shm->admins);

    p = ngx_noom_status_metric(p, "noom_recovery_away_sessions", "gauge",
                               "Sockets kept for noom_recovery while their "
                               "transport is gone.");
    p = ngx_sprintf(p, "noom_recovery_away_sessions %ui\n",
                    ngx_noom_shm->naway);

    p = ngx_noom_status_metric(p, "noom_recovery_log_bytes", "gauge",
                               "Bytes of the rooms' logs and chat history "
                               "in the zone.");
    p = ngx_sprintf(p, "noom_recovery_log_bytes %uz\n",
                    ngx_noom_shm->log_bytes);

    p = ngx_noom_status_metric(p, "noom_zone_used_bytes", "gauge",
                               "Pages of the shared zone in use, in bytes.");
    p = ngx_sprintf(p, "noom_zone_used_bytes %ui\n", s->used * ngx_pagesize);

    p = ngx_noom_status_metric(p, "noom_zone_size_bytes", "gauge",
                               "Pages of the shared zone, in bytes.");
    p = ngx_sprintf(p, "noom_zone_size_bytes %ui\n",
                    s->total * ngx_pagesize);

    for (wm = ngx_noom_status_workers; wm->name; wm++) {
        p = ngx_noom_status_metric(p, wm->name, wm->type, wm->help);

        for (i = 0; i < ngx_noom_shm->nworkers; i++) {
            w = &ngx_noom_shm->workers[i];

            if (w->pid == 0) {
                continue;
            }

            switch (wm->field) {
            case 0:  v = w->conns; break;
            case 1:  v = w->plain; break;
            case 2:  v = w->members; break;
            case 3:  v = w->admins; break;
            case 4:  v = w->ring.size; break;
            case 5:  v = w->ring.tail - w->ring.head; break;
            case 6:  v = w->ring.drops; break;
            case 7:  v = w->frames_out; break;
            case 8:  v = w->polling; break;
            default: v = w->waiting;
            }

            p = ngx_sprintf(p, "%s{worker=\"%ui\"} %ui\n", wm->name, i, v);
        }
    }

    k = 0;

    for (i = 0; i < ngx_noom_shm->nworkers; i++) {
        k += (ngx_noom_shm->workers[i].pid != 0);
    }

    p = ngx_noom_status_metric(p, "noom_workers", "gauge",
                               "Worker processes attached to the zone.");
    b->last = ngx_sprintf(p, "noom_workers %ui\n", k);

    return b;
}


static u_char *
ngx_noom_status_metric(u_char *p, char *name, char *type, char *help)
{
    return ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                       name, help, name, type);
}
