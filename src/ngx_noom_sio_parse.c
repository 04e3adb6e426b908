
/*
 * Copyright (C) noom authors
 *
 * Socket.IO v5 packet prefix: <type>[<attachments>-][<nsp>,][<ack id>]<json>,
 * the checks on names people choose, and a scan of the JSON subset that the
 * hot events use.  All other JSON goes to jansson.
 */


#include "ngx_noom_parse.h"


static u_char *ngx_noom_json_value(u_char *p, u_char *last, ngx_uint_t depth,
    ngx_noom_json_tok_t *tok);
static u_char *ngx_noom_json_string(u_char *p, u_char *last,
    ngx_noom_json_tok_t *tok);
static u_char *ngx_noom_json_space(u_char *p, u_char *last);
static ngx_int_t ngx_noom_json_hex4(u_char *p);


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


/*
 * An event's JSON when it is an array of at most max elements in a subset
 * of JSON: strings without \u escapes, integers of at most 18 digits, true,
 * false, null, and objects and arrays of those at most
 * NGX_NOOM_JSON_MAX_DEPTH deep.  The text must be valid UTF-8 (the WebSocket
 * layer has checked it).  NGX_OK: jansson would read the same array, and
 * tok[0..n-1] are its elements as they are in the text.  NGX_DECLINED:
 * anything else, valid JSON or not, which is then jansson's to read.
 */

ngx_int_t
ngx_noom_json_scan(u_char *p, size_t len, ngx_noom_json_tok_t *tok,
    ngx_uint_t max, ngx_uint_t *n)
{
    u_char      *last;
    ngx_uint_t   i;

    last = p + len;
    i = 0;

    p = ngx_noom_json_space(p, last);

    if (p == last || *p != '[') {
        return NGX_DECLINED;
    }

    p = ngx_noom_json_space(p + 1, last);

    if (p < last && *p == ']') {
        p++;
        goto done;
    }

    for ( ;; ) {
        if (i == max) {
            return NGX_DECLINED;
        }

        p = ngx_noom_json_value(p, last, 2, &tok[i]);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        i++;

        p = ngx_noom_json_space(p, last);

        if (p == last) {
            return NGX_DECLINED;
        }

        if (*p == ']') {
            p++;
            break;
        }

        if (*p != ',') {
            return NGX_DECLINED;
        }

        p = ngx_noom_json_space(p + 1, last);
    }

done:

    if (ngx_noom_json_space(p, last) != last) {
        return NGX_DECLINED;
    }

    *n = i;

    return NGX_OK;
}


static u_char *
ngx_noom_json_value(u_char *p, u_char *last, ngx_uint_t depth,
    ngx_noom_json_tok_t *tok)
{
    u_char               *start;
    u_char                close;
    ngx_uint_t            digits;
    ngx_noom_json_tok_t   key;

    if (p == last) {
        return NULL;
    }

    start = p;
    tok->data = p;
    tok->type = NGX_NOOM_JSON_VALUE;

    switch (*p) {

    case '"':
        return ngx_noom_json_string(p, last, tok);

    case '{':
    case '[':
        if (depth > NGX_NOOM_JSON_MAX_DEPTH) {
            return NULL;
        }

        close = (*p == '{') ? '}' : ']';
        p = ngx_noom_json_space(p + 1, last);

        if (p < last && *p == close) {
            p++;
            break;
        }

        for ( ;; ) {
            if (close == '}') {
                if (p == last || *p != '"') {
                    return NULL;
                }

                p = ngx_noom_json_string(p, last, &key);
                if (p == NULL) {
                    return NULL;
                }

                p = ngx_noom_json_space(p, last);

                if (p == last || *p != ':') {
                    return NULL;
                }

                p = ngx_noom_json_space(p + 1, last);
            }

            p = ngx_noom_json_value(p, last, depth + 1, &key);
            if (p == NULL) {
                return NULL;
            }

            p = ngx_noom_json_space(p, last);

            if (p == last) {
                return NULL;
            }

            if (*p == close) {
                p++;
                break;
            }

            if (*p != ',') {
                return NULL;
            }

            p = ngx_noom_json_space(p + 1, last);
        }

        break;

    case 't':
    case 'f':
    case 'n':
        if (last - p >= 4 && ngx_strncmp(p, "true", 4) == 0) {
            p += 4;

        } else if (last - p >= 5 && ngx_strncmp(p, "false", 5) == 0) {
            p += 5;

        } else if (last - p >= 4 && ngx_strncmp(p, "null", 4) == 0) {
            tok->type = NGX_NOOM_JSON_NULL;
            p += 4;

        } else {
            return NULL;
        }

        if (p < last && ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')) {
            return NULL;
        }

        break;

    default:
        /* -?(0|[1-9][0-9]*), 18 digits at most: jansson's json_int_t */

        if (*p == '-') {
            p++;
        }

        digits = 0;

        while (p < last && *p >= '0' && *p <= '9') {
            if (digits == 18 || (digits == 1 && p[-1] == '0')) {
                return NULL;
            }

            digits++;
            p++;
        }

        if (digits == 0
            || (p < last && (*p == '.' || *p == 'e' || *p == 'E')))
        {
            return NULL;
        }
    }

    tok->len = p - start;

    return p;
}


static u_char *
ngx_noom_json_string(u_char *p, u_char *last, ngx_noom_json_tok_t *tok)
{
    u_char  *start;
    size_t   escapes;

    start = p++;
    escapes = 0;

    for ( /* void */ ; p < last; p++) {

        if (*p == '"') {
            tok->data = start;
            tok->len = p + 1 - start;
            tok->slen = tok->len - 2 - escapes;
            tok->type = NGX_NOOM_JSON_STRING;
            tok->escaped = (escapes != 0);

            return p + 1;
        }

        if (*p < 0x20) {
            return NULL;
        }

        if (*p == '\\') {
            if (last - p < 2) {
                return NULL;
            }

            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                break;
            default:
                /* \u and anything invalid */
                return NULL;
            }

            escapes++;
            p++;
        }
    }

    return NULL;
}


static u_char *
ngx_noom_json_space(u_char *p, u_char *last)
{
    while (p < last
           && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/*
 * A string's bytes as JSON string content: '"' and '\\' escaped, control
 * characters as \u00XX.  dst holds 6 * len bytes at most.
 */

u_char *
ngx_noom_json_escape(u_char *dst, u_char *src, size_t len)
{
    u_char  *last;

    static u_char  hex[] = "0123456789abcdef";

    for (last = src + len; src < last; src++) {

        if (*src == '"' || *src == '\\') {
            *dst++ = '\\';
            *dst++ = *src;

        } else if (*src < 0x20) {
            dst = ngx_cpymem(dst, "\\u00", 4);
            *dst++ = hex[*src >> 4];
            *dst++ = hex[*src & 0xf];

        } else {
            *dst++ = *src;
        }
    }

    return dst;
}


/*
 * Lone UTF-16 surrogate escapes in the strings of a JSON text become
 * "\ufffd", in place (six bytes for six bytes): a high surrogate escape not
 * followed by a low one, and a low one not preceded by a high one.
 * Browsers produce them when a string is cut inside a pair (slice()), and
 * jansson refuses them, which used to close the connection; U+FFFD is what
 * a browser's own decoders put in their place.  Text outside strings and
 * anything that is not JSON are left as they are, for the JSON parser to
 * judge.  Returns how many escapes were replaced.
 */

ngx_uint_t
ngx_noom_json_surrogates(u_char *p, size_t len)
{
    u_char      *last;
    ngx_int_t    c, lo;
    ngx_uint_t   n, in;

    n = 0;
    in = 0;
    last = p + len;

    while (p < last) {

        if (!in || *p == '"') {
            in ^= (*p == '"');
            p++;
            continue;
        }

        if (*p != '\\') {
            p++;
            continue;
        }

        if (last - p < 6 || p[1] != 'u') {
            p += (last - p < 2) ? 1 : 2;
            continue;
        }

        c = ngx_noom_json_hex4(p + 2);

        if (c < 0xd800 || c > 0xdfff) {
            p += (c < 0) ? 2 : 6;
            continue;
        }

        if (c <= 0xdbff && last - p >= 12 && p[6] == '\\' && p[7] == 'u') {
            lo = ngx_noom_json_hex4(p + 8);

            if (lo >= 0xdc00 && lo <= 0xdfff) {
                p += 12;
                continue;
            }
        }

        ngx_memcpy(p + 2, "fffd", 4);
        n++;
        p += 6;
    }

    return n;
}


static ngx_int_t
ngx_noom_json_hex4(u_char *p)
{
    u_char      ch;
    ngx_int_t   c;
    ngx_uint_t  i;

    c = 0;

    for (i = 0; i < 4; i++) {
        ch = p[i];

        if (ch >= '0' && ch <= '9') {
            c = c * 16 + ch - '0';

        } else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f') {
            c = c * 16 + (ch | 0x20) - 'a' + 10;

        } else {
            return -1;
        }
    }

    return c;
}
