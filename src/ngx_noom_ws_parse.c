
/*
 * Copyright (C) noom authors
 *
 * RFC 6455 frame parser: a resumable state machine over bytes.  It unmasks
 * payload in place, checks every rule that does not need the application
 * (RSV bits, opcodes, masking, control frame rules, fragmentation order,
 * message size before any byte is stored, UTF-8 of text across fragments)
 * and reports payload as it arrives, so the caller never buffers a frame
 * header and never allocates what a length field merely claims.
 */


#include "ngx_noom_parse.h"


#define NGX_NOOM_WS_ST_HEADER      0
#define NGX_NOOM_WS_ST_PAYLOAD     1
#define NGX_NOOM_WS_ST_END         2
#define NGX_NOOM_WS_ST_SKIP        3


static ngx_int_t ngx_noom_ws_header_start(ngx_noom_ws_parser_t *p);
static ngx_int_t ngx_noom_ws_header_end(ngx_noom_ws_parser_t *p);
static ngx_int_t ngx_noom_ws_whole(ngx_noom_ws_parser_t *p, u_char **pos,
    u_char **data, size_t *n);
static ngx_inline void ngx_noom_ws_next_frame(ngx_noom_ws_parser_t *p);
static ngx_inline void ngx_noom_ws_message_end(ngx_noom_ws_parser_t *p);
static ngx_int_t ngx_noom_ws_fail(ngx_noom_ws_parser_t *p);
static ngx_int_t ngx_noom_ws_length(ngx_noom_ws_parser_t *p);
static ngx_uint_t ngx_noom_ws_unmask(ngx_noom_ws_parser_t *p, u_char *d,
    size_t n);


void
ngx_noom_ws_parser_init(ngx_noom_ws_parser_t *p, uint64_t max,
    ngx_uint_t unmasked)
{
    ngx_memzero(p, sizeof(ngx_noom_ws_parser_t));

    p->max = max;
    p->hdr_need = 2;
    p->unmasked = unmasked ? 1 : 0;
}


ngx_int_t
ngx_noom_ws_parse(ngx_noom_ws_parser_t *p, u_char **pos, u_char *last,
    u_char **data, size_t *n)
{
    u_char      *s;
    size_t       k;
    ngx_uint_t   ascii;

    if (p->dead) {
        return NGX_NOOM_WS_ERROR;
    }

    s = *pos;

    for ( ;; ) {

        switch (p->state) {

        case NGX_NOOM_WS_ST_HEADER:

            if (p->hdr_len == 0 && !p->skip
                && last - s >= NGX_NOOM_WS_MAX_HEADER)
            {
                /* a whole header at hand: its bytes at once */

                ngx_memcpy(p->hdr, s, NGX_NOOM_WS_MAX_HEADER);
                p->hdr_len = 2;
                s += 2;

                if (ngx_noom_ws_header_start(p) != NGX_OK) {
                    *pos = s;
                    return ngx_noom_ws_fail(p);
                }

                s += p->hdr_need - 2;
                p->hdr_len = p->hdr_need;

            } else {

                while (s < last && p->hdr_len < p->hdr_need) {
                    p->hdr[p->hdr_len++] = *s++;

                    if (p->hdr_len == 2 && !p->skip
                        && ngx_noom_ws_header_start(p) != NGX_OK)
                    {
                        *pos = s;
                        return ngx_noom_ws_fail(p);
                    }
                }

                if (p->hdr_len < p->hdr_need) {
                    *pos = s;
                    return NGX_NOOM_WS_AGAIN;
                }
            }

            if (p->skip) {
                /* the header of a frame that failed: skip its payload */
                p->skip = 0;

                if (ngx_noom_ws_length(p) != NGX_OK) {
                    p->dead = 1;
                    *pos = s;
                    return NGX_NOOM_WS_ERROR;
                }

                p->state = NGX_NOOM_WS_ST_SKIP;
                continue;
            }

            *pos = s;

            if (ngx_noom_ws_header_end(p) != NGX_OK) {
                return ngx_noom_ws_fail(p);
            }

            p->state = (p->left == 0) ? NGX_NOOM_WS_ST_END
                                      : NGX_NOOM_WS_ST_PAYLOAD;

            if (p->whole && p->fin && p->opcode != NGX_NOOM_WS_CONT
                && !(p->opcode & 0x8) && p->left <= (uint64_t) (last - s))
            {
                return ngx_noom_ws_whole(p, pos, data, n);
            }

            return NGX_NOOM_WS_FRAME;

        case NGX_NOOM_WS_ST_SKIP:

            k = (size_t) ngx_min((uint64_t) (last - s), p->left);
            s += k;
            p->left -= k;
            *pos = s;

            if (p->left) {
                return NGX_NOOM_WS_AGAIN;
            }

            ngx_noom_ws_next_frame(p);
            continue;

        case NGX_NOOM_WS_ST_PAYLOAD:

            if (s == last) {
                return NGX_NOOM_WS_AGAIN;
            }

            k = (size_t) ngx_min((uint64_t) (last - s), p->left);

            /* a masked payload is seen as it is unmasked: all ASCII? */

            ascii = p->masked && !p->clear
                    && ngx_noom_ws_unmask(p, s, k) == 0;
            p->clear = 0;

            p->left -= k;
            *pos = s + k;
            *data = s;
            *n = k;

            if (p->left == 0) {
                p->state = NGX_NOOM_WS_ST_END;
            }

            /* ASCII leaves UTF-8 between two characters where it was */

            if (p->msg_opcode == NGX_NOOM_WS_TEXT && !(p->opcode & 0x8)
                && !(ascii && p->utf8 == NGX_NOOM_UTF8_ACCEPT))
            {
                p->utf8 = ngx_noom_utf8(p->utf8, s, k);

                if (p->utf8 == NGX_NOOM_UTF8_REJECT) {
                    p->close_code = NGX_NOOM_WS_BAD_DATA;
                    p->error = "invalid UTF-8 in text message";
                    return ngx_noom_ws_fail(p);
                }
            }

            return NGX_NOOM_WS_DATA;

        default: /* NGX_NOOM_WS_ST_END */

            ngx_noom_ws_next_frame(p);
            p->complete = 0;

            if ((p->opcode & 0x8) || !p->fin) {
                return NGX_NOOM_WS_END;
            }

            if (p->msg_opcode == NGX_NOOM_WS_TEXT
                && p->utf8 != NGX_NOOM_UTF8_ACCEPT)
            {
                p->close_code = NGX_NOOM_WS_BAD_DATA;
                p->error = "text message ends inside a UTF-8 sequence";
                return ngx_noom_ws_fail(p);
            }

            ngx_noom_ws_message_end(p);

            return NGX_NOOM_WS_END;
        }
    }
}


/*
 * A final text or binary frame that is a whole message, all of it in the
 * buffer: unmasked, checked, and returned at once as NGX_NOOM_WS_MESSAGE,
 * instead of a FRAME, its DATA and an END, three calls.  A text that is
 * not valid UTF-8 goes on as a FRAME like any other (its payload already
 * unmasked), to fail where other frames fail.
 */

static ngx_int_t
ngx_noom_ws_whole(ngx_noom_ws_parser_t *p, u_char **pos, u_char **data,
    size_t *n)
{
    u_char      *s;
    size_t       k;
    ngx_uint_t   valid;

    s = *pos;
    k = (size_t) p->left;

    valid = (p->masked && ngx_noom_ws_unmask(p, s, k) == 0)
            || p->msg_opcode != NGX_NOOM_WS_TEXT
            || ngx_noom_utf8(NGX_NOOM_UTF8_ACCEPT, s, k)
               == NGX_NOOM_UTF8_ACCEPT;

    if (!valid) {
        p->clear = p->masked;
        return NGX_NOOM_WS_FRAME;
    }

    *pos = s + k;
    *data = s;
    *n = k;

    p->left = 0;

    ngx_noom_ws_next_frame(p);
    ngx_noom_ws_message_end(p);

    return NGX_NOOM_WS_MESSAGE;
}


static ngx_inline void
ngx_noom_ws_next_frame(ngx_noom_ws_parser_t *p)
{
    p->state = NGX_NOOM_WS_ST_HEADER;
    p->hdr_len = 0;
    p->hdr_need = 2;
}


/* a data message ended well: its opcode in complete, none open */

static ngx_inline void
ngx_noom_ws_message_end(ngx_noom_ws_parser_t *p)
{
    p->complete = p->msg_opcode;
    p->msg_opcode = 0;
    p->msg_len = 0;
    p->utf8 = NGX_NOOM_UTF8_ACCEPT;
}


/*
 * A frame broke a rule.  The message it belonged to is lost, but the rest
 * of the frame can usually be skipped, so that the frames that follow (the
 * client's answer to our close above all) are still understood.  Only a
 * length that cannot be trusted ends the parsing for good.
 */

static ngx_int_t
ngx_noom_ws_fail(ngx_noom_ws_parser_t *p)
{
    p->clear = 0;
    p->msg_opcode = 0;
    p->msg_len = 0;
    p->utf8 = NGX_NOOM_UTF8_ACCEPT;
    p->complete = 0;

    switch (p->state) {

    case NGX_NOOM_WS_ST_HEADER:

        if (p->hdr_len == 0) {
            /* the frame was complete */
            break;
        }

        if (p->hdr_len < p->hdr_need) {
            /* found in the first two bytes: collect the rest first */
            p->skip = 1;
            break;
        }

        if (p->dead || ngx_noom_ws_length(p) != NGX_OK) {
            p->dead = 1;
            break;
        }

        p->state = NGX_NOOM_WS_ST_SKIP;
        break;

    case NGX_NOOM_WS_ST_PAYLOAD:
    case NGX_NOOM_WS_ST_END:
        p->state = NGX_NOOM_WS_ST_SKIP;
        break;
    }

    if (p->state == NGX_NOOM_WS_ST_SKIP && p->left == 0) {
        ngx_noom_ws_next_frame(p);
    }

    return NGX_NOOM_WS_ERROR;
}


/* the payload length of a complete header into p->len and p->left */

static ngx_int_t
ngx_noom_ws_length(ngx_noom_ws_parser_t *p)
{
    u_char      *h;
    uint64_t     len;
    ngx_uint_t   len7, i;

    h = p->hdr;
    len7 = h[1] & 0x7f;

    if (len7 == 126) {
        len = ((uint64_t) h[2] << 8) | h[3];

    } else if (len7 == 127) {
        if (h[2] & 0x80) {
            return NGX_ERROR;
        }

        len = 0;

        for (i = 2; i < 10; i++) {
            len = (len << 8) | h[i];
        }

    } else {
        len = len7;
    }

    p->len = len;
    p->left = len;

    return NGX_OK;
}


/* the first two bytes tell how long the header is */

static ngx_int_t
ngx_noom_ws_header_start(ngx_noom_ws_parser_t *p)
{
    u_char      *h;
    ngx_uint_t   len7;

    h = p->hdr;
    len7 = h[1] & 0x7f;

    p->fin = (h[0] & 0x80) ? 1 : 0;
    p->opcode = h[0] & 0x0f;
    p->masked = (h[1] & 0x80) ? 1 : 0;
    p->hdr_need = 2 + (len7 == 126 ? 2 : (len7 == 127 ? 8 : 0))
                  + (p->masked ? 4 : 0);
    p->close_code = NGX_NOOM_WS_PROTOCOL;

    if (h[0] & 0x70) {
        p->error = "RSV bits set without an extension";
        return NGX_ERROR;
    }

    switch (p->opcode) {

    case NGX_NOOM_WS_CONT:
        if (p->msg_opcode == 0) {
            p->error = "continuation frame outside a message";
            return NGX_ERROR;
        }
        break;

    case NGX_NOOM_WS_TEXT:
    case NGX_NOOM_WS_BINARY:
        if (p->msg_opcode != 0) {
            p->error = "new message inside a fragmented message";
            return NGX_ERROR;
        }

        p->msg_opcode = p->opcode;
        break;

    case NGX_NOOM_WS_CLOSE:
    case NGX_NOOM_WS_PING:
    case NGX_NOOM_WS_PONG:
        if (!p->fin) {
            p->error = "fragmented control frame";
            return NGX_ERROR;
        }

        if (len7 > 125) {
            p->error = "control frame longer than 125 bytes";
            return NGX_ERROR;
        }
        break;

    default:
        p->error = "reserved opcode";
        return NGX_ERROR;
    }

    if (!p->masked && !p->unmasked) {
        p->error = "client frame not masked";
        return NGX_ERROR;
    }

    if (p->masked && p->unmasked) {
        p->error = "server frame masked";
        return NGX_ERROR;
    }

    p->close_code = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_noom_ws_header_end(ngx_noom_ws_parser_t *p)
{
    size_t  m;

    if (ngx_noom_ws_length(p) != NGX_OK) {
        p->close_code = NGX_NOOM_WS_PROTOCOL;
        p->error = "frame length with the high bit set";
        p->dead = 1;
        return NGX_ERROR;
    }

    if (p->masked) {
        m = p->hdr_need - 4;
        ngx_memcpy(p->mask, &p->hdr[m], 4);
    }

    if (!(p->opcode & 0x8)) {
        if (p->len > p->max || p->msg_len > p->max - p->len) {
            p->close_code = NGX_NOOM_WS_TOO_BIG;
            p->error = "message larger than the limit";
            return NGX_ERROR;
        }

        p->msg_len += p->len;
    }

    p->mask_pos = 0;

    return NGX_OK;
}


/*
 * Unmasks n bytes at d in place, 16 at a time where SSE2 is there, else 8.
 * Returns 1 if a byte unmasked is not ASCII, 0 if all are.
 */

static ngx_uint_t
ngx_noom_ws_unmask(ngx_noom_ws_parser_t *p, u_char *d, size_t n)
{
    size_t     i;
    uint32_t   k;
    uint64_t   m, w, seen;
#if (NGX_NOOM_SSE2)
    __m128i    v, mv, sv;
#endif

    /*
     * m: the key from mask_pos on, twice, as 8 bytes in memory, made in
     * registers (bytes stored and read back as a word stall the load)
     */

    ngx_memcpy(&k, p->mask, 4);
    m = (uint64_t) k << 32 | k;

#if (NGX_HAVE_LITTLE_ENDIAN)
    k = (uint32_t) (m >> (8 * p->mask_pos));
#else
    k = (uint32_t) (m >> (32 - 8 * p->mask_pos));
#endif

    m = (uint64_t) k << 32 | k;
    seen = 0;
    i = 0;

#if (NGX_NOOM_SSE2)
    if (n >= 16) {
        mv = _mm_set1_epi64x((long long) m);
        sv = _mm_setzero_si128();

        for ( /* void */ ; i + 16 <= n; i += 16) {
            v = _mm_xor_si128(_mm_loadu_si128((__m128i *) (d + i)), mv);
            _mm_storeu_si128((__m128i *) (d + i), v);
            sv = _mm_or_si128(sv, v);
        }

        seen = _mm_movemask_epi8(sv) ? 0x80 : 0;
    }
#endif

    for ( /* void */ ; i + 8 <= n; i += 8) {
        ngx_memcpy(&w, d + i, 8);
        w ^= m;
        ngx_memcpy(d + i, &w, 8);
        seen |= w;
    }

    for ( /* void */ ; i < n; i++) {
#if (NGX_HAVE_LITTLE_ENDIAN)
        d[i] ^= (u_char) (m >> (8 * (i & 7)));
#else
        d[i] ^= (u_char) (m >> (56 - 8 * (i & 7)));
#endif
        seen |= d[i];
    }

    p->mask_pos = (p->mask_pos + n) & 3;

    return (seen & 0x8080808080808080ULL) != 0;
}


size_t
ngx_noom_ws_header(u_char *p, ngx_uint_t opcode, uint64_t len)
{
    ngx_uint_t  i;

    p[0] = (u_char) (0x80 | opcode);

    if (len < 126) {
        p[1] = (u_char) len;
        return 2;
    }

    if (len < 65536) {
        p[1] = 126;
        p[2] = (u_char) (len >> 8);
        p[3] = (u_char) len;
        return 4;
    }

    p[1] = 127;

    for (i = 0; i < 8; i++) {
        p[9 - i] = (u_char) (len >> (8 * i));
    }

    return 10;
}


/*
 * A close frame carries nothing, or a code and a UTF-8 reason.  Codes a peer
 * may send: 1000-1003, 1007-1014 and 3000-4999 (RFC 6455 7.4 and the IANA
 * registry); 1004-1006 and 1015 are reserved for local use.
 */

ngx_int_t
ngx_noom_ws_close_payload(u_char *p, size_t len, ngx_uint_t *code)
{
    ngx_uint_t  c;

    *code = 0;

    if (len == 0) {
        return NGX_OK;
    }

    if (len == 1) {
        return NGX_ERROR;
    }

    c = ((ngx_uint_t) p[0] << 8) | p[1];

    if (!((c >= 1000 && c <= 1003)
          || (c >= 1007 && c <= 1014)
          || (c >= 3000 && c <= 4999)))
    {
        return NGX_ERROR;
    }

    if (ngx_noom_utf8(NGX_NOOM_UTF8_ACCEPT, p + 2, len - 2)
        != NGX_NOOM_UTF8_ACCEPT)
    {
        return NGX_ERROR;
    }

    *code = c;

    return NGX_OK;
}


/*
 * Incremental UTF-8 check (RFC 3629): no overlong forms, no surrogates,
 * nothing above U+10FFFF.  The state packs the number of continuation bytes
 * still expected with the range the next one must fall in, so a sequence may
 * be split anywhere between calls.
 */

#define ngx_noom_utf8_state(need, lo, hi)                                     \
    ((uint32_t) (need) | ((uint32_t) (lo) << 8) | ((uint32_t) (hi) << 16))

uint32_t
ngx_noom_utf8(uint32_t state, u_char *p, size_t len)
{
    u_char      *last;
    uint64_t     w;
    ngx_uint_t   need, lo, hi, c;

    if (state == NGX_NOOM_UTF8_REJECT) {
        return state;
    }

    need = state & 0xff;
    lo = (state >> 8) & 0xff;
    hi = (state >> 16) & 0xff;

    last = p + len;

    while (p < last) {

        if (need == 0) {

#if (NGX_NOOM_SSE2)
            while (last - p >= 16
                   && _mm_movemask_epi8(_mm_loadu_si128((__m128i *) p)) == 0)
            {
                p += 16;
            }
#endif

            while (last - p >= 8) {
                ngx_memcpy(&w, p, 8);

                if (w & 0x8080808080808080ULL) {
                    break;
                }

                p += 8;
            }

            while (p < last && *p < 0x80) {
                p++;
            }

            if (p == last) {
                break;
            }

            c = *p++;

            lo = 0x80;
            hi = 0xbf;

            if (c < 0xc2) {
                return NGX_NOOM_UTF8_REJECT;

            } else if (c < 0xe0) {
                need = 1;

            } else if (c < 0xf0) {
                need = 2;

                if (c == 0xe0) {
                    lo = 0xa0;

                } else if (c == 0xed) {
                    hi = 0x9f;
                }

            } else if (c < 0xf5) {
                need = 3;

                if (c == 0xf0) {
                    lo = 0x90;

                } else if (c == 0xf4) {
                    hi = 0x8f;
                }

            } else {
                return NGX_NOOM_UTF8_REJECT;
            }

            continue;
        }

        c = *p++;

        if (c < lo || c > hi) {
            return NGX_NOOM_UTF8_REJECT;
        }

        need--;
        lo = 0x80;
        hi = 0xbf;
    }

    if (need == 0) {
        return NGX_NOOM_UTF8_ACCEPT;
    }

    return ngx_noom_utf8_state(need, lo, hi);
}
