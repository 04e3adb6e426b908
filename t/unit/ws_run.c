
/*
 * Copyright (C) noom authors
 *
 * See ws_run.h.  The invariants checked on every parser call:
 *
 * - the parser moves *pos forward only, never beyond the chunk;
 * - AGAIN consumed the whole chunk (the caller reuses its buffer);
 * - FRAME consumed exactly the header the first two bytes announce, for a
 *   valid opcode; a control frame is final and at most 125 bytes; a data
 *   frame fits the limit; msg_len never passes the limit;
 * - DATA is the run of bytes it consumed, non-empty, within the frame's
 *   declared length, and equals the input XOR the frame's mask at the
 *   right mask offset;
 * - END consumed nothing and came after all of the frame's payload;
 * - MESSAGE (with p->whole) is a final text or binary frame that opens its
 *   message, all of it consumed in this call, unmasked, and valid UTF-8
 *   for text; it is logged as FRAME, DATA and END would be;
 * - an invalid UTF-8 error in a payload fails fast: the text before the
 *   chunk is still a valid prefix, the chunk makes it invalid;
 * - the number of calls is bounded (no loop without progress).
 */


#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>

#include "ws_run.h"
#include "utf8_ref.h"


typedef struct {
    u_char     *p;
    size_t      len;
    size_t      size;
} ws_buf_t;


static void ws_buf_add(ws_buf_t *b, const void *p, size_t n);
static void ws_message(ngx_noom_ws_parser_t *p, const u_char *in, size_t len,
    size_t hdr_at, size_t at, u_char *data, size_t n, u_char *pos,
    ws_log_t *log);
static void ws_fail(ws_log_t *log, const char *fmt, ...);
static size_t ws_header_len(const u_char *in, size_t len, size_t at);
static uint64_t ws_payload_len(const u_char *in, size_t at);


const char  *ws_names[16] = {
    "cont", "text", "binary", "op3", "op4", "op5", "op6", "op7",
    "close", "ping", "pong", "op11", "op12", "op13", "op14", "op15"
};


void
ws_log_init(ws_log_t *log)
{
    memset(log, 0, sizeof(ws_log_t));
}


void
ws_log_free(ws_log_t *log)
{
    free(log->s);
    memset(log, 0, sizeof(ws_log_t));
}


int
ws_run(ngx_noom_ws_parser_t *p, const u_char *in, size_t len,
    const size_t *cuts, size_t ncuts, ws_log_t *log)
{
    u_char     *buf, *pos, *last, *old, *data;
    size_t      c, from, to, n, base, at, limit, hdr, i, next;
    ngx_int_t   rc;
    ws_buf_t    frame, msg;
    utf8_ref_t  r1, r2;

    /* the frame being parsed */
    int         in_frame = 0, masked = 0, text = 0;
    uint64_t    flen = 0, got = 0;
    size_t      hdr_at = 0, pay_at = 0;
    u_char      mask[4] = { 0, 0, 0, 0 };

    memset(&frame, 0, sizeof(ws_buf_t));
    memset(&msg, 0, sizeof(ws_buf_t));

    limit = 3 * len + 2 * ncuts + 8;
    from = 0;

    for (c = 0; c <= ncuts && !log->failed && !log->dead; c++) {

        to = (c < ncuts) ? cuts[c] : len;

        if (to < from || to > len) {
            ws_fail(log, "bad cuts");
            break;
        }

        buf = malloc(to - from + 1);
        if (buf == NULL) {
            abort();
        }

        memcpy(buf, in + from, to - from);
        base = from;
        pos = buf;
        last = buf + (to - from);

        for ( ;; ) {
            old = pos;
            data = NULL;
            n = (size_t) -1;

            rc = ngx_noom_ws_parse(p, &pos, last, &data, &n);

            if (++log->calls > limit) {
                ws_fail(log, "no progress after %zu calls", log->calls);
                break;
            }

            if (pos < old || pos > last) {
                ws_fail(log, "pos moved out of the chunk (rc %d)", (int) rc);
                break;
            }

            if (p->msg_len > p->max) {
                ws_fail(log, "msg_len %llu over the limit %llu",
                        (unsigned long long) p->msg_len,
                        (unsigned long long) p->max);
                break;
            }

            at = base + (size_t) (pos - buf);

            if (rc == NGX_NOOM_WS_AGAIN) {
                if (pos != last) {
                    ws_fail(log, "AGAIN left %zu bytes of the chunk",
                            (size_t) (last - pos));
                }

                break;
            }

            if (rc == NGX_NOOM_WS_FRAME) {
                if (in_frame) {
                    ws_fail(log, "FRAME inside a frame at %zu", at);
                    break;
                }

                hdr = ws_header_len(in, len, hdr_at);

                if (hdr == 0 || at != hdr_at + hdr) {
                    ws_fail(log, "FRAME at %zu: the header at %zu is %zu "
                            "bytes", at, hdr_at, hdr);
                    break;
                }

                if (p->opcode != (ngx_uint_t) (in[hdr_at] & 0x0f)
                    || p->fin != (in[hdr_at] >> 7)
                    || p->masked != (in[hdr_at + 1] >> 7))
                {
                    ws_fail(log, "FRAME at %zu: opcode, fin or mask differ "
                            "from the header", at);
                    break;
                }

                if (p->opcode & 0x8) {
                    if (p->len > 125 || !p->fin || p->opcode > 0xa) {
                        ws_fail(log, "bad control frame accepted at %zu", at);
                        break;
                    }

                } else if (p->opcode > 2 || p->len > p->max) {
                    ws_fail(log, "bad data frame accepted at %zu", at);
                    break;
                }

                in_frame = 1;
                flen = p->len;
                got = 0;
                pay_at = at;
                masked = p->masked;

                if (masked) {
                    memcpy(mask, in + at - 4, 4);
                }

                if (p->opcode == NGX_NOOM_WS_TEXT
                    || p->opcode == NGX_NOOM_WS_BINARY)
                {
                    msg.len = 0;
                    text = (p->opcode == NGX_NOOM_WS_TEXT);
                }

                frame.len = 0;
                log->frames++;

                ws_log_add(log, "%s%s(%llu)", ws_names[p->opcode],
                           p->fin ? "" : "~", (unsigned long long) p->len);
                continue;
            }

            if (rc == NGX_NOOM_WS_DATA) {
                if (!in_frame) {
                    ws_fail(log, "DATA outside a frame at %zu", at);
                    break;
                }

                if (data != old || n == 0 || data + n != pos) {
                    ws_fail(log, "DATA at %zu is not the %zu bytes consumed",
                            at, (size_t) (pos - old));
                    break;
                }

                if (got + n > flen) {
                    ws_fail(log, "DATA beyond the frame length %llu",
                            (unsigned long long) flen);
                    break;
                }

                for (i = 0; i < n; i++) {
                    size_t  off = at - n + i;
                    u_char  want;

                    want = in[off];

                    if (masked) {
                        want ^= mask[(off - pay_at) & 3];
                    }

                    if (data[i] != want) {
                        ws_fail(log, "payload byte at %zu (frame offset "
                                "%zu) unmasked to %02x, not %02x", off,
                                off - pay_at, data[i], want);
                        break;
                    }
                }

                if (log->failed) {
                    break;
                }

                got += n;
                ws_buf_add(&frame, data, n);

                if (text && !(p->opcode & 0x8)) {
                    ws_buf_add(&msg, data, n);
                }

                continue;
            }

            if (rc == NGX_NOOM_WS_MESSAGE) {
                ws_message(p, in, len, hdr_at, at, data, n, pos, log);

                if (log->failed) {
                    break;
                }

                msg.len = 0;
                hdr_at = at;
                continue;
            }

            if (rc == NGX_NOOM_WS_END) {
                if (!in_frame || got != flen || pos != old) {
                    ws_fail(log, "END at %zu: %llu of %llu bytes", at,
                            (unsigned long long) got,
                            (unsigned long long) flen);
                    break;
                }

                if (frame.len) {
                    ws_log_data(log, frame.p, frame.len);
                }

                if (p->complete) {
                    ws_log_add(log, "end:%s", ws_names[p->complete & 0xf]);
                    msg.len = 0;

                } else {
                    ws_log_add(log, "end");
                }

                in_frame = 0;
                hdr_at = at;
                continue;
            }

            if (rc != NGX_NOOM_WS_ERROR) {
                ws_fail(log, "unknown return value %d", (int) rc);
                break;
            }

            log->errors++;

            if (p->close_code != 1002 && p->close_code != 1007
                && p->close_code != 1009)
            {
                ws_fail(log, "ERROR with close code %u",
                        (unsigned) p->close_code);
            }

            if (p->error == NULL) {
                ws_fail(log, "ERROR without a reason");
            }

            if (in_frame && got < flen) {
                /* invalid UTF-8 inside the payload: it must be in this
                 * chunk, and the text before it a valid prefix */

                r1 = utf8_ref(msg.p, msg.len);
                ws_buf_add(&msg, old, (size_t) (pos - old));
                r2 = utf8_ref(msg.p, msg.len);

                if (p->close_code != 1007 || !text || pos == old
                    || r1.bad != msg.len - (size_t) (pos - old)
                    || r2.bad == msg.len)
                {
                    ws_fail(log, "payload error %u at %zu is not a UTF-8 "
                            "error of this chunk", (unsigned) p->close_code,
                            at);
                }

                ws_log_add(log, "error:%u", (unsigned) p->close_code);

                /* the rest of the frame is skipped */
                next = pay_at + flen;

            } else {
                if (in_frame && frame.len) {
                    ws_log_data(log, frame.p, frame.len);
                }

                ws_log_add(log, "error:%u@%zu", (unsigned) p->close_code,
                           at);

                if (in_frame) {
                    /* at the end of a complete frame */
                    next = at;

                } else {
                    /* in a header: the frame it announces is skipped */
                    hdr = ws_header_len(in, len, hdr_at);
                    next = hdr ? hdr_at + hdr : (size_t) -1;

                    if (hdr) {
                        uint64_t  skip = ws_payload_len(in, hdr_at);

                        next = (skip > len - next) ? (size_t) -1
                                                   : next + (size_t) skip;
                    }
                }
            }

            if (p->dead) {
                /* a length that cannot be trusted: parsing ends here */
                ws_log_add(log, "dead");
                log->dead = 1;

                old = pos;
                rc = ngx_noom_ws_parse(p, &pos, last, &data, &n);

                if (rc != NGX_NOOM_WS_ERROR || pos != old) {
                    ws_fail(log, "a dead parser returned %d", (int) rc);
                }

                break;
            }

            /* the message is lost; parsing goes on after the frame */

            in_frame = 0;
            text = 0;
            msg.len = 0;
            frame.len = 0;
            hdr_at = next;
        }

        free(buf);
        from = to;
    }

    if (in_frame && frame.len && !log->dead && !log->failed) {
        ws_log_data(log, frame.p, frame.len);
    }

    free(frame.p);
    free(msg.p);

    if (log->s == NULL) {
        ws_log_add(log, "%s", "");
    }

    return log->failed ? -1 : 0;
}


int
ws_run_whole(const u_char *in, size_t len, uint64_t max, ngx_uint_t unmasked,
    ws_log_t *log)
{
    ngx_noom_ws_parser_t  p;

    ngx_noom_ws_parser_init(&p, max, unmasked);

    return ws_run(&p, in, len, NULL, 0, log);
}


static int
ws_run_compare(const u_char *in, size_t len, uint64_t max,
    ngx_uint_t unmasked, const size_t *cuts, size_t ncuts, ws_log_t *whole,
    char *why, size_t why_size)
{
    int                    rc;
    size_t                 i, k;
    ws_log_t               log;
    ngx_uint_t             w;
    ngx_noom_ws_parser_t   p;

    for (w = 0; w < 2; w++) {

        /* as it is, and with NGX_NOOM_WS_MESSAGE for whole messages */

        ngx_noom_ws_parser_init(&p, max, unmasked);
        p.whole = w;
        ws_log_init(&log);

        rc = ws_run(&p, in, len, cuts, ncuts, &log);

        if (rc != 0 || strcmp(log.s, whole->s) != 0) {
            break;
        }

        ws_log_free(&log);
    }

    if (w == 2) {
        return 0;
    }

    k = (size_t) snprintf(why, why_size, "%scut at",
                          w ? "whole messages, " : "");

    for (i = 0; i < ncuts && i < 8 && k < why_size; i++) {
        k += (size_t) snprintf(why + k, why_size - k, " %zu", cuts[i]);
    }

    if (k < why_size) {
        if (rc != 0) {
            snprintf(why + k, why_size - k, "%s: %s", ncuts > 8 ? "..." : "",
                     log.why);

        } else {
            snprintf(why + k, why_size - k, "%s: got '%.200s' whole '%.200s'",
                     ncuts > 8 ? "..." : "", log.s, whole->s);
        }
    }

    ws_log_free(&log);
    return -1;
}


int
ws_run_splits(const u_char *in, size_t len, uint64_t max, ngx_uint_t unmasked,
    size_t every_limit, size_t pair_limit, char *why, size_t why_size)
{
    int        rc;
    size_t     i, j, step, cuts[2], *bytes;
    ws_log_t   whole;

    ws_log_init(&whole);

    if (ws_run_whole(in, len, max, unmasked, &whole) != 0) {
        snprintf(why, why_size, "whole: %s", whole.why);
        ws_log_free(&whole);
        return -1;
    }

    rc = 0;

    /* every single cut, or the first and last 64 and 128 between */

    step = (len <= every_limit) ? 1 : len / 128 + 1;

    for (i = 0; i <= len && rc == 0; i++) {
        if (len > every_limit && i > 64 && i + 64 < len && i % step) {
            continue;
        }

        cuts[0] = i;
        rc = ws_run_compare(in, len, max, unmasked, cuts, 1, &whole,
                            why, why_size);
    }

    /* one byte at a time */

    if (rc == 0 && len > 1) {
        bytes = malloc(len * sizeof(size_t));
        if (bytes == NULL) {
            abort();
        }

        for (i = 0; i < len - 1; i++) {
            bytes[i] = i + 1;
        }

        rc = ws_run_compare(in, len, max, unmasked, bytes, len - 1, &whole,
                            why, why_size);
        free(bytes);
    }

    /* every pair of cuts */

    if (len <= pair_limit) {
        for (i = 1; i < len && rc == 0; i++) {
            for (j = i + 1; j < len && rc == 0; j++) {
                cuts[0] = i;
                cuts[1] = j;
                rc = ws_run_compare(in, len, max, unmasked, cuts, 2, &whole,
                                    why, why_size);
            }
        }
    }

    ws_log_free(&whole);

    return rc;
}


/*
 * MESSAGE, a whole message at once: only when asked for, outside a frame,
 * for the final text or binary frame at hdr_at that opens a message, all
 * of its payload just consumed, unmasked, and for text valid UTF-8.  It
 * is logged as FRAME, DATA and END would have been.
 */

static void
ws_message(ngx_noom_ws_parser_t *p, const u_char *in, size_t len,
    size_t hdr_at, size_t at, u_char *data, size_t n, u_char *pos,
    ws_log_t *log)
{
    size_t      hdr, i;
    u_char      want;
    uint64_t    flen;
    ngx_uint_t  op;

    if (!p->whole) {
        ws_fail(log, "MESSAGE at %zu, not asked for", at);
        return;
    }

    hdr = ws_header_len(in, len, hdr_at);
    flen = hdr ? ws_payload_len(in, hdr_at) : 0;
    op = in[hdr_at] & 0x0f;

    if (hdr == 0 || at != hdr_at + hdr + flen || n != flen
        || data != pos - n || flen > p->max)
    {
        ws_fail(log, "MESSAGE at %zu is not the frame at %zu", at, hdr_at);
        return;
    }

    if (!(in[hdr_at] & 0x80) || (op != NGX_NOOM_WS_TEXT
                                 && op != NGX_NOOM_WS_BINARY)
        || p->complete != op || p->msg_opcode != 0 || p->msg_len != 0)
    {
        ws_fail(log, "MESSAGE at %zu for a frame that is no whole message",
                hdr_at);
        return;
    }

    for (i = 0; i < n; i++) {
        want = in[hdr_at + hdr + i];

        if (in[hdr_at + 1] & 0x80) {
            want ^= in[hdr_at + hdr - 4 + (i & 3)];
        }

        if (data[i] != want) {
            ws_fail(log, "MESSAGE at %zu: byte %zu unmasked to %02x, not "
                    "%02x", hdr_at, i, data[i], want);
            return;
        }
    }

    if (op == NGX_NOOM_WS_TEXT && !utf8_ref(data, n).complete) {
        ws_fail(log, "MESSAGE at %zu: not UTF-8", hdr_at);
        return;
    }

    log->frames++;

    ws_log_add(log, "%s(%llu)", ws_names[op], (unsigned long long) flen);

    if (n) {
        ws_log_data(log, data, n);
    }

    ws_log_add(log, "end:%s", ws_names[op]);
}


/* the length of the header that starts at "at", 0 if the input has less */

static size_t
ws_header_len(const u_char *in, size_t len, size_t at)
{
    size_t  n;

    if (at + 2 > len) {
        return 0;
    }

    n = 2;

    if ((in[at + 1] & 0x7f) == 126) {
        n += 2;

    } else if ((in[at + 1] & 0x7f) == 127) {
        n += 8;
    }

    if (in[at + 1] & 0x80) {
        n += 4;
    }

    return (at + n <= len) ? n : 0;
}


/* the payload length of the complete header at "at" */

static uint64_t
ws_payload_len(const u_char *in, size_t at)
{
    size_t    i;
    uint64_t  len;

    len = in[at + 1] & 0x7f;

    if (len == 126) {
        len = ((uint64_t) in[at + 2] << 8) | in[at + 3];

    } else if (len == 127) {
        len = 0;

        for (i = 0; i < 8; i++) {
            len = (len << 8) | in[at + 2 + i];
        }
    }

    return len;
}


static void
ws_buf_add(ws_buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->size) {
        b->size = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->size);
        if (b->p == NULL) {
            abort();
        }
    }

    if (n) {
        memcpy(b->p + b->len, p, n);
    }

    b->len += n;
    b->p[b->len] = '\0';
}


void
ws_log_add(ws_log_t *log, const char *fmt, ...)
{
    int      n;
    char     tmp[256];
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);

    if (log->len + n + 2 > log->size) {
        log->size = (log->len + n + 2) * 2;
        log->s = realloc(log->s, log->size);
        if (log->s == NULL) {
            abort();
        }
    }

    if (log->len && n) {
        log->s[log->len++] = ' ';
    }

    memcpy(log->s + log->len, tmp, n + 1);
    log->len += n;
}


void
ws_log_data(ws_log_t *log, const u_char *p, size_t n)
{
    char    *s, *d;
    size_t   i;

    s = malloc(4 * n + 3);
    if (s == NULL) {
        abort();
    }

    d = s;
    *d++ = '"';

    for (i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
            *d++ = (char) p[i];

        } else {
            d += sprintf(d, "\\x%02x", p[i]);
        }
    }

    *d++ = '"';
    *d = '\0';

    if (log->len + (d - s) + 2 > log->size) {
        log->size = (log->len + (d - s) + 2) * 2;
        log->s = realloc(log->s, log->size);
        if (log->s == NULL) {
            abort();
        }
    }

    if (log->len) {
        log->s[log->len++] = ' ';
    }

    memcpy(log->s + log->len, s, (d - s) + 1);
    log->len += d - s;

    free(s);
}


static void
ws_fail(ws_log_t *log, const char *fmt, ...)
{
    va_list  ap;

    if (log->failed) {
        return;
    }

    log->failed = 1;

    va_start(ap, fmt);
    vsnprintf(log->why, sizeof(log->why), fmt, ap);
    va_end(ap);
}
