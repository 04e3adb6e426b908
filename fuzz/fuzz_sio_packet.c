
/*
 * Copyright (C) noom authors
 *
 * libFuzzer target for ngx_noom_sio_parse(), differential against a
 * reference written from the packet grammar in docs/protocol.md:
 *
 *   <type 0-6>[<attachments, 1-3 digits>-, types 5 and 6 only]
 *   [/<namespace up to the first comma or the end>[,]]
 *   [<ack id, 1-15 digits>]<data: the rest>
 *
 * The packet is parsed from a heap copy of exactly its size; the result
 * must point into it, and the data must run to its end.
 */


#include <stdio.h>
#include <stdlib.h>

#include "ngx_noom_parse.h"


typedef struct {
    int        ok;
    unsigned   type;
    unsigned   attachments;
    size_t     nsp_at;        /* (size_t) -1: the default "/" */
    size_t     nsp_len;
    int64_t    ack;
    size_t     data_at;
} ref_t;


static size_t
digits(const uint8_t *p, size_t at, size_t size)
{
    size_t  n;

    for (n = 0; at + n < size && p[at + n] >= '0' && p[at + n] <= '9'; n++) {
        /* void */
    }

    return n;
}


static ref_t
reference(const uint8_t *p, size_t size)
{
    size_t  at, n, i;
    ref_t   r;

    memset(&r, 0, sizeof(ref_t));
    r.nsp_at = (size_t) -1;
    r.ack = -1;

    if (size == 0 || p[0] < '0' || p[0] > '6') {
        return r;
    }

    r.type = p[0] - '0';
    at = 1;

    if (r.type == 5 || r.type == 6) {
        n = digits(p, at, size);

        if (n == 0 || n > 3 || at + n == size || p[at + n] != '-') {
            return r;
        }

        for (i = 0; i < n; i++) {
            r.attachments = r.attachments * 10 + (p[at + i] - '0');
        }

        at += n + 1;
    }

    if (at < size && p[at] == '/') {
        const uint8_t  *comma;

        comma = memchr(p + at, ',', size - at);
        r.nsp_at = at;
        r.nsp_len = (comma ? (size_t) (comma - p) : size) - at;
        at += r.nsp_len + (comma ? 1 : 0);
    }

    n = digits(p, at, size);

    if (n > NGX_NOOM_SIO_MAX_ACK_DIGITS) {
        return r;
    }

    if (n) {
        r.ack = 0;

        for (i = 0; i < n; i++) {
            r.ack = r.ack * 10 + (p[at + i] - '0');
        }

        at += n;
    }

    r.data_at = at;
    r.ok = 1;

    return r;
}


static void
fail(const char *what, const uint8_t *p, size_t size)
{
    fprintf(stderr, "sio_packet: %s for '%.*s'\n", what, (int) size,
            (const char *) p);
    abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                 *copy;
    ref_t                   r;
    ngx_int_t               rc;
    ngx_noom_sio_packet_t   pkt;

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data, size);
    memset(&pkt, 0x5a, sizeof(pkt));

    rc = ngx_noom_sio_parse(copy, size, &pkt);
    r = reference(data, size);

    if ((rc == NGX_OK) != r.ok || (rc != NGX_OK && rc != NGX_ERROR)) {
        fail(r.ok ? "refused" : "accepted", data, size);
    }

    if (rc == NGX_OK) {
        if (pkt.type != r.type || pkt.attachments != r.attachments) {
            fail("type or attachments differ", data, size);
        }

        if (pkt.ack != r.ack) {
            fail("ack id differs", data, size);
        }

        if (r.nsp_at == (size_t) -1) {
            if (pkt.nsp.len != 1 || pkt.nsp.data[0] != '/') {
                fail("namespace is not the default /", data, size);
            }

        } else if (pkt.nsp.data != copy + r.nsp_at
                   || pkt.nsp.len != r.nsp_len)
        {
            fail("namespace differs", data, size);
        }

        if (pkt.data != copy + r.data_at || pkt.len != size - r.data_at) {
            fail("data differs", data, size);
        }
    }

    free(copy);

    return 0;
}
