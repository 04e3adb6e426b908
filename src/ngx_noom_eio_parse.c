
/*
 * Copyright (C) noom authors
 *
 * The payload of an Engine.IO v4 polling request: packets joined by the
 * record separator 0x1e, a binary one as "b" and its base64 (the standard
 * alphabet, padded).  Pure: no nginx connection, no allocation; fuzzed and
 * unit-tested on its own.
 */


#include "ngx_noom_parse.h"


static ngx_int_t ngx_noom_base64_value(u_char c);


/*
 * The packet at *pos: *p and *len are its text, or its bytes decoded in
 * place (base64 is longer than what it holds) with *binary set; *pos moves
 * past it and its separator.  NGX_DONE when nothing is left, NGX_ERROR for
 * an empty packet, invalid base64 or invalid UTF-8 in a text packet.
 */

ngx_int_t
ngx_noom_eio_payload_next(u_char **pos, u_char *last, u_char **p,
    size_t *len, ngx_uint_t *binary)
{
    u_char     *start, *end, *dst, *s;
    uint32_t    acc;
    ngx_int_t   v;
    ngx_uint_t  bits, pad;

    start = *pos;

    if (start >= last) {
        return NGX_DONE;
    }

    for (end = start; end < last && *end != 0x1e; end++) {
        /* void */
    }

    *pos = (end < last) ? end + 1 : end;

    if (end == start) {
        return NGX_ERROR;
    }

    if (start[0] != 'b') {
        if (ngx_noom_utf8(NGX_NOOM_UTF8_ACCEPT, start, end - start)
            != NGX_NOOM_UTF8_ACCEPT)
        {
            return NGX_ERROR;
        }

        *p = start;
        *len = end - start;
        *binary = 0;

        return NGX_OK;
    }

    /* base64: groups of four, '=' only at the end */

    if ((end - start - 1) % 4 != 0) {
        return NGX_ERROR;
    }

    dst = start;
    acc = 0;
    bits = 0;
    pad = 0;

    for (s = start + 1; s < end; s++) {

        if (*s == '=') {
            if (end - s > 2 || (end - s == 2 && s[1] != '=')) {
                return NGX_ERROR;
            }

            pad = end - s;
            break;
        }

        v = ngx_noom_base64_value(*s);
        if (v < 0) {
            return NGX_ERROR;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *dst++ = (u_char) (acc >> bits);
        }
    }

    if (pad && (acc & ((1u << bits) - 1)) != 0) {
        /* the bits under the padding must be zero */
        return NGX_ERROR;
    }

    *p = start;
    *len = dst - start;
    *binary = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_noom_base64_value(u_char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '+') {
        return 62;
    }

    if (c == '/') {
        return 63;
    }

    return -1;
}
