
/*
 * Copyright (C) noom authors
 *
 * noom_status: the zone's figures as JSON, for people and for tests.
 */


#include "ngx_noom.h"


ngx_int_t
ngx_noom_status_handler(ngx_http_request_t *r)
{
    u_char             *p;
    size_t              size;
    ngx_int_t           rc;
    ngx_buf_t          *b;
    ngx_uint_t          i, used, total, rooms, members;
    ngx_chain_t         out;
    ngx_noom_stats_t   *st;
    ngx_noom_worker_t  *w;

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

    ngx_noom_rooms_usage(&used, &total);

    ngx_shmtx_lock(&ngx_noom_shpool->mutex);
    rooms = ngx_noom_shm->nrooms;
    members = ngx_noom_shm->nmembers;
    ngx_shmtx_unlock(&ngx_noom_shpool->mutex);

    st = &ngx_noom_shm->stats;

    size = 1024 + ngx_noom_shm->nworkers * (160 + 6 * NGX_ATOMIC_T_LEN);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last,
                    "{\"version\":\"" NGX_NOOM_VERSION "\","
                    "\"pid\":%P,\"worker\":%ui,"
                    "\"rooms\":%ui,\"members\":%ui,"
                    "\"zone\":{\"pages_used\":%ui,\"pages_total\":%ui,"
                    "\"page_size\":%ui},"
                    "\"connections_total\":%uA,"
                    "\"handshakes_refused\":%uA,"
                    "\"events_in\":%uA,\"frames_out\":%uA,"
                    "\"relayed\":%uA,\"relay_drops\":%uA,"
                    "\"slow_consumer_closes\":%uA,"
                    "\"protocol_closes\":%uA,\"limit_errors\":%uA,"
                    "\"rate_limited\":%uA,"
                    "\"zone_errors\":%uA,\"worker_crashes\":%uA,"
                    "\"workers\":[",
                    ngx_pid, ngx_worker, rooms, members,
                    used, total, ngx_pagesize,
                    st->connections, st->handshakes_refused,
                    st->events_in, st->events_out,
                    st->relayed, st->relay_drops, st->slow_closes,
                    st->protocol_closes, st->limit_errors, st->rate_limited,
                    st->zone_errors, st->crashes);

    for (i = 0; i < ngx_noom_shm->nworkers; i++) {
        w = &ngx_noom_shm->workers[i];

        p = ngx_sprintf(p, "%s{\"worker\":%ui,\"pid\":%P,"
                        "\"connections\":%uA,\"lobby\":%uA,"
                        "\"members\":%ui,"
                        "\"queue\":{\"size\":%uz,\"used\":%uz,"
                        "\"drops\":%uA}}",
                        i ? "," : "", i, w->pid, w->conns, w->plain,
                        w->members, w->ring.size,
                        w->ring.tail - w->ring.head, w->ring.drops);
    }

    p = ngx_sprintf(p, "]}\n");

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
