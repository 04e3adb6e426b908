
/*
 * Copyright (C) noom authors
 *
 * Socket.IO v5 packet prefix: <type>[<attachments>-][<nsp>,][<ack id>]<json>
 * and the checks on names people choose.  The JSON itself goes to jansson.
 */


#include "ngx_noom_parse.h"


ngx_int_t
ngx_noom_sio_parse(u_char *p, size_t len, ngx_noom_sio_packet_t *pkt)
{
    u_char      *last, *start;
    int64_t      ack;
    ngx_uint_t   n;

    ngx_memzero(pkt, sizeof(ngx_noom_sio_packet_t));

    pkt->ack = NGX_NOOM_SIO_NO_ACK;
    ngx_str_set(&pkt->nsp, "/");

    if (len == 0 || p[0] < '0' || p[0] > '6') {
        return NGX_ERROR;
    }

    last = p + len;
    pkt->type = p[0] - '0';
    p++;

    if (pkt->type == NGX_NOOM_SIO_BINARY_EVENT
        || pkt->type == NGX_NOOM_SIO_BINARY_ACK)
    {
        n = 0;
        start = p;

        while (p < last && *p >= '0' && *p <= '9') {
            if (p - start == 3) {
                return NGX_ERROR;
            }

            n = n * 10 + (*p++ - '0');
        }

        if (p == start || p == last || *p != '-') {
            return NGX_ERROR;
        }

        pkt->attachments = n;
        p++;
    }

    if (p < last && *p == '/') {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        pkt->nsp.data = start;
        pkt->nsp.len = p - start;

        if (p < last) {
            p++;
        }
    }

    if (p < last && *p >= '0' && *p <= '9') {
        ack = 0;
        start = p;

        while (p < last && *p >= '0' && *p <= '9') {
            if (p - start == NGX_NOOM_SIO_MAX_ACK_DIGITS) {
                return NGX_ERROR;
            }

            ack = ack * 10 + (*p++ - '0');
        }

        pkt->ack = ack;
    }

    pkt->data = p;
    pkt->len = last - p;

    return NGX_OK;
}


/*
 * A nickname or a room name: 1 to max bytes of UTF-8 (the WebSocket layer
 * has checked the encoding), no C0 or C1 control characters and no DEL, and
 * not only spaces.
 */

ngx_int_t
ngx_noom_valid_name(u_char *p, size_t len, size_t max)
{
    u_char      *last;
    ngx_uint_t   visible;

    if (len == 0 || len > max) {
        return NGX_ERROR;
    }

    visible = 0;
    last = p + len;

    for ( /* void */ ; p < last; p++) {

        if (*p < 0x20 || *p == 0x7f) {
            return NGX_ERROR;
        }

        if (*p == 0xc2 && p + 1 < last && p[1] >= 0x80 && p[1] <= 0x9f) {
            return NGX_ERROR;
        }

        if (*p != ' ') {
            visible = 1;
        }
    }

    return visible ? NGX_OK : NGX_ERROR;
}
