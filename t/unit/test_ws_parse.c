
/*
 * Copyright (C) noom authors
 *
 * ngx_noom_ws_parse(): every RFC 6455 framing rule, payload unmasking at
 * every mask offset, the message size limit, UTF-8 in text messages.  Each
 * input is fed whole and then cut at every byte boundary (every pair of
 * boundaries for short inputs); ws_run.c checks the parser's invariants on
 * every call and that all the runs give the same events.
 */


#include <stdlib.h>

#include "tap.h"
#include "ws_run.h"


#define MAX_16M  (16 * 1024 * 1024)
#define NOMAX    ((uint64_t) -1)


typedef struct {
    u_char      *b;
    size_t       len;
    size_t       size;
    unsigned     key;
} wire_t;


static wire_t  w;


static void
w_reset(void)
{
    w.len = 0;
    w.key = 0;
}


static void
w_put(const void *p, size_t n)
{
    if (w.len + n > w.size) {
        w.size = (w.len + n) * 2;
        w.b = realloc(w.b, w.size);
        if (w.b == NULL) {
            abort();
        }
    }

    memcpy(w.b + w.len, p, n);
    w.len += n;
}


/*
 * A frame with a chosen first byte, length encoding (0: the shortest, 7, 16
 * or 64), declared length and actual payload (which may be shorter: the
 * input then ends inside the frame).  Mask keys vary from frame to frame.
 */

static void
w_raw(unsigned b0, int masked, int form, uint64_t declared, const void *data,
    size_t n)
{
    u_char          h[14], key[4], *m;
    size_t          hl, i;
    const u_char   *d = data;

    h[0] = (u_char) b0;
    hl = 2;

    if (form == 0) {
        form = declared < 126 ? 7 : (declared < 65536 ? 16 : 64);
    }

    if (form == 7) {
        h[1] = (u_char) declared;

    } else if (form == 16) {
        h[1] = 126;
        h[2] = (u_char) (declared >> 8);
        h[3] = (u_char) declared;
        hl = 4;

    } else {
        h[1] = 127;

        for (i = 0; i < 8; i++) {
            h[2 + i] = (u_char) (declared >> (56 - 8 * i));
        }

        hl = 10;
    }

    key[0] = (u_char) (0x37 + 17 * w.key);
    key[1] = (u_char) (0xfa - 5 * w.key);
    key[2] = (u_char) (0x21 + 77 * w.key);
    key[3] = (u_char) (0x3d ^ w.key);
    w.key++;

    if (masked) {
        h[1] |= 0x80;
        memcpy(h + hl, key, 4);
        hl += 4;
    }

    w_put(h, hl);

    if (n == 0) {
        return;
    }

    m = malloc(n);
    if (m == NULL) {
        abort();
    }

    for (i = 0; i < n; i++) {
        m[i] = masked ? d[i] ^ key[i & 3] : d[i];
    }

    w_put(m, n);
    free(m);
}


static void
w_frame(unsigned fin, unsigned op, const void *data, size_t n)
{
    w_raw((fin ? 0x80 : 0) | op, 1, 0, n, data, n);
}


static void
w_str(unsigned fin, unsigned op, const char *s)
{
    w_frame(fin, op, s, strlen(s));
}


/* the quoted payload as ws_run.c prints it */

static char *
quote(const void *data, size_t n)
{
    char          *s, *d;
    size_t         i;
    const u_char  *p = data;

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

    return s;
}


/*
 * The test: the events of the whole input are "want", and the same at
 * every cut.
 */

static void
expect_in(const char *name, const u_char *in, size_t len, uint64_t max,
    ngx_uint_t unmasked, const char *want)
{
    char      why[1024];
    ws_log_t  log;

    ws_log_init(&log);

    if (ws_run_whole(in, len, max, unmasked, &log) != 0) {
        ok(0, "%s", name);
        diag("%s", log.why);

    } else if (strlen(want) < 2000) {
        is_str(log.s, want, "%s", name);

    } else {
        ok(strcmp(log.s, want) == 0, "%s", name);
    }

    ws_log_free(&log);

    if (!ok(ws_run_splits(in, len, max, unmasked, 4096, 80, why,
                          sizeof(why)) == 0,
            "%s: the same at every cut", name))
    {
        diag("%s", why);
    }
}


static void
expect(const char *name, uint64_t max, const char *want)
{
    expect_in(name, w.b, w.len, max, 0, want);
}


/* the parser after the whole wire, for its fields and error text */

static ngx_int_t
parse_all(ngx_noom_ws_parser_t *p, uint64_t max, ngx_uint_t unmasked)
{
    u_char     *pos, *last, *data, *copy;
    size_t      n;
    ngx_int_t   rc;

    ngx_noom_ws_parser_init(p, max, unmasked);

    copy = malloc(w.len + 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, w.b, w.len);
    pos = copy;
    last = copy + w.len;

    do {
        rc = ngx_noom_ws_parse(p, &pos, last, &data, &n);
    } while (rc != NGX_NOOM_WS_AGAIN && rc != NGX_NOOM_WS_ERROR);

    free(copy);

    return rc;
}


static void
expect_error(const char *name, uint64_t max, ngx_uint_t code,
    const char *error)
{
    ngx_int_t              rc;
    ngx_noom_ws_parser_t   p;

    rc = parse_all(&p, max, 0);

    ok(rc == NGX_NOOM_WS_ERROR && p.close_code == code
       && p.error != NULL && strcmp(p.error, error) == 0,
       "%s: %u \"%s\"", name, (unsigned) code, error);

    if (rc != NGX_NOOM_WS_ERROR) {
        diag("rc %d", (int) rc);

    } else if (p.close_code != code || p.error == NULL
               || strcmp(p.error, error) != 0)
    {
        diag("got %u \"%s\"", (unsigned) p.close_code,
             p.error ? p.error : "(null)");
    }
}


static void
test_rfc_examples(void)
{
    /* RFC 6455 5.7, server to client (unmasked) and client to server */

    static const u_char  hello_unmasked[] = {
        0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f
    };
    static const u_char  hello_masked[] = {
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    };
    static const u_char  fragmented[] = {
        0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f
    };
    static const u_char  ping[] = {
        0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f
    };
    static const u_char  pong[] = {
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
    };
    static const u_char  bin256[] = { 0x82, 0x7e, 0x01, 0x00 };
    static const u_char  bin64k[] = {
        0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00
    };

    expect_in("RFC 5.7: unmasked Hello from a server", hello_unmasked,
              sizeof(hello_unmasked), MAX_16M, 1,
              "text(5) \"Hello\" end:text");

    expect_in("RFC 5.7: masked Hello from a client", hello_masked,
              sizeof(hello_masked), MAX_16M, 0,
              "text(5) \"Hello\" end:text");

    expect_in("RFC 5.7: fragmented unmasked Hello", fragmented,
              sizeof(fragmented), MAX_16M, 1,
              "text~(3) \"Hel\" end cont(2) \"lo\" end:text");

    expect_in("RFC 5.7: unmasked ping", ping, sizeof(ping), MAX_16M, 1,
              "ping(5) \"Hello\" end");

    expect_in("RFC 5.7: masked pong", pong, sizeof(pong), MAX_16M, 0,
              "pong(5) \"Hello\" end");

    expect_in("RFC 5.7: 256-byte binary header (16-bit length)", bin256,
              sizeof(bin256), MAX_16M, 1, "binary(256)");

    expect_in("RFC 5.7: 64 KiB binary header (64-bit length)", bin64k,
              sizeof(bin64k), MAX_16M, 1, "binary(65536)");

    w_reset();
    w_put(hello_unmasked, sizeof(hello_unmasked));
    expect_error("an unmasked client frame", MAX_16M, 1002,
                 "client frame not masked");

    {
        ngx_int_t             rc;
        ngx_noom_ws_parser_t  p;

        w_reset();
        w_put(hello_masked, sizeof(hello_masked));
        ngx_noom_ws_parser_init(&p, MAX_16M, 1);
        rc = parse_all(&p, MAX_16M, 1);
        ok(rc == NGX_NOOM_WS_ERROR && p.close_code == 1002
           && strcmp(p.error, "server frame masked") == 0,
           "a masked frame where unmasked ones are expected: 1002");
    }

    expect_in("an unmasked client frame: error at its second byte",
              hello_unmasked, sizeof(hello_unmasked), MAX_16M, 0,
              "error:1002@2");
}


static void
test_lengths(void)
{
    u_char   *big;
    char     *q, *want;
    size_t    sizes[] = { 0, 1, 125, 126, 127, 128, 65535, 65536, 65537 };
    size_t    i, n;

    big = malloc(65537);
    want = malloc(4 * 65537 + 64);
    if (big == NULL || want == NULL) {
        abort();
    }

    for (i = 0; i < 65537; i++) {
        big[i] = (u_char) ('a' + i % 26);
    }

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        n = sizes[i];

        w_reset();
        w_frame(1, NGX_NOOM_WS_BINARY, big, n);
        q = quote(big, n);
        sprintf(want, "binary(%zu)%s%s end:binary", n, n ? " " : "", n ? q : "");
        free(q);

        {
            char  name[64];

            sprintf(name, "binary frame of %zu bytes", n);
            expect(name, MAX_16M, want);
        }
    }

    /* longer encodings than needed are accepted, as most servers do */

    w_reset();
    w_raw(0x81, 1, 16, 5, "hello", 5);
    expect("5 bytes in a 16-bit length", MAX_16M,
           "text(5) \"hello\" end:text");

    w_reset();
    w_raw(0x81, 1, 64, 5, "hello", 5);
    expect("5 bytes in a 64-bit length", MAX_16M,
           "text(5) \"hello\" end:text");

    w_reset();
    w_raw(0x82, 1, 64, 300, big, 300);
    q = quote(big, 300);
    sprintf(want, "binary(300) %s end:binary", q);
    free(q);
    expect("300 bytes in a 64-bit length", MAX_16M, want);

    /* the 64-bit length must not have its most significant bit set */

    w_reset();
    w_raw(0x82, 1, 64, 0x8000000000000000ULL, "abc", 3);
    expect("64-bit length 2^63: error, and no next frame to find", NOMAX,
           "error:1002@14 dead");
    expect_error("64-bit length 2^63", NOMAX, 1002,
                 "frame length with the high bit set");

    w_reset();
    w_raw(0x82, 1, 64, 0xffffffffffffffffULL, "abc", 3);
    expect("64-bit length 2^64-1: error", NOMAX, "error:1002@14 dead");

    w_reset();
    w_raw(0x82, 0, 64, 0x8000000000000001ULL, "abc", 3);
    expect_in("64-bit length with the high bit, unmasked server frame",
              w.b, w.len, NOMAX, 1, "error:1002@10 dead");

    w_reset();
    w_raw(0x82, 1, 64, 0x7fffffffffffffffULL, "abc", 3);
    expect("64-bit length 2^63-1 without a limit: accepted", NOMAX,
           "binary(9223372036854775807) \"abc\"");

    /* the input ends inside a frame: what arrived, and no end */

    w_reset();
    w_raw(0x81, 1, 0, 10, "hel", 3);
    expect("a frame cut short", MAX_16M, "text(10) \"hel\"");

    w_reset();
    w_raw(0x81, 1, 16, 1000, "", 0);
    w.len -= 3;
    expect("a header cut short", MAX_16M, "");

    expect_in("no input at all", (u_char *) "", 0, MAX_16M, 0, "");

    free(big);
    free(want);
}


static void
test_rsv(void)
{
    char       name[80];
    unsigned   rsv, k;
    unsigned   ops[] = { NGX_NOOM_WS_TEXT, NGX_NOOM_WS_BINARY,
                         NGX_NOOM_WS_PING, NGX_NOOM_WS_PONG,
                         NGX_NOOM_WS_CLOSE, NGX_NOOM_WS_CONT };

    for (rsv = 1; rsv <= 7; rsv++) {
        for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
            w_reset();
            w_raw(0x80 | (rsv << 4) | ops[k], 1, 0, 5, "Hello", 5);
            sprintf(name, "RSV %u on opcode %u", rsv, ops[k]);
            expect(name, MAX_16M, "error:1002@2");
        }
    }

    w_reset();
    w_raw(0xc1, 1, 0, 2, "hi", 2);
    expect_error("RSV1 (no extension negotiated)", MAX_16M, 1002,
                 "RSV bits set without an extension");

    /* a valid message first: its events come before the error */

    w_reset();
    w_str(1, NGX_NOOM_WS_TEXT, "Hello");
    w_raw(0xa1, 1, 0, 5, "Hello", 5);
    expect("valid text, then RSV2", MAX_16M,
           "text(5) \"Hello\" end:text error:1002@13");

    w_reset();
    w_str(1, NGX_NOOM_WS_TEXT, "Hello");
    w_raw(0xf9, 1, 0, 0, "", 0);
    w_str(1, NGX_NOOM_WS_PING, "");
    expect("valid text, then a ping with RSV 7, then a ping: the bad "
           "frame is skipped", MAX_16M,
           "text(5) \"Hello\" end:text error:1002@13 ping(0) end");

    /* RSV bits on a second fragment */

    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "Hel");
    w_raw(0x90, 1, 0, 2, "lo", 2);
    expect("RSV1 on a continuation", MAX_16M,
           "text~(3) \"Hel\" end error:1002@11");
}


static void
test_opcodes(void)
{
    char      name[64];
    unsigned  op;

    for (op = 3; op <= 15; op++) {
        if (op >= 8 && op <= 10) {
            continue;
        }

        w_reset();
        w_raw(0x80 | op, 1, 0, 0, "", 0);
        sprintf(name, "reserved opcode %u, empty", op);
        expect(name, MAX_16M, "error:1002@2");

        w_reset();
        w_raw(0x80 | op, 1, 0, 7, "reserved", 7);
        sprintf(name, "reserved opcode %u, with payload", op);
        expect(name, MAX_16M, "error:1002@2");

        w_reset();
        w_raw(op, 1, 0, 0, "", 0);
        sprintf(name, "reserved opcode %u, not final", op);
        expect(name, MAX_16M, "error:1002@2");
    }

    w_reset();
    w_raw(0x83, 1, 0, 0, "", 0);
    expect_error("opcode 3", MAX_16M, 1002, "reserved opcode");

    w_reset();
    w_str(1, NGX_NOOM_WS_TEXT, "Hello");
    w_raw(0x85, 1, 0, 0, "", 0);
    w_str(1, NGX_NOOM_WS_PING, "");
    expect("valid text, then opcode 5, then a ping", MAX_16M,
           "text(5) \"Hello\" end:text error:1002@13 ping(0) end");

    w_reset();
    w_str(1, NGX_NOOM_WS_TEXT, "Hello");
    w_raw(0x8b, 1, 0, 5, "Hello", 5);
    expect("valid text, then opcode 11", MAX_16M,
           "text(5) \"Hello\" end:text error:1002@13");
}


static void
test_control_frames(void)
{
    u_char  payload[127];
    char   *q, want[1024], name[80];
    size_t  n;

    memset(payload, '*', sizeof(payload));
    q = quote(payload, 125);

    w_reset();
    w_frame(1, NGX_NOOM_WS_PING, payload, 125);
    sprintf(want, "ping(125) %s end", q);
    expect("ping of 125 bytes", MAX_16M, want);

    w_reset();
    w_frame(1, NGX_NOOM_WS_PONG, payload, 125);
    sprintf(want, "pong(125) %s end", q);
    expect("pong of 125 bytes", MAX_16M, want);

    free(q);

    for (n = 126; n <= 127; n++) {
        w_reset();
        w_frame(1, NGX_NOOM_WS_PING, payload, n);
        sprintf(name, "ping of %zu bytes", n);
        expect(name, MAX_16M, "error:1002@2");

        w_reset();
        w_frame(1, NGX_NOOM_WS_CLOSE, payload, n);
        sprintf(name, "close of %zu bytes", n);
        expect(name, MAX_16M, "error:1002@2");
    }

    w_reset();
    w_frame(1, NGX_NOOM_WS_PONG, payload, 126);
    expect_error("pong of 126 bytes", MAX_16M, 1002,
                 "control frame longer than 125 bytes");

    /* a control frame of 125 bytes or less in a 16-bit length: the rule
     * is on the 7-bit field */

    w_reset();
    w_raw(0x89, 1, 16, 5, "Hello", 5);
    expect("ping with a 16-bit length field", MAX_16M, "error:1002@2");

    w_reset();
    w_raw(0x89, 1, 64, 5, "Hello", 5);
    expect("ping with a 64-bit length field", MAX_16M, "error:1002@2");

    /* fragmented control frames */

    w_reset();
    w_raw(0x09, 1, 0, 5, "Hello", 5);
    w_raw(0x80, 1, 0, 5, "Hello", 5);
    expect("ping in two fragments (the second is a stray continuation)",
           MAX_16M, "error:1002@2 error:1002@13");

    w_reset();
    w_raw(0x0a, 1, 0, 5, "Hello", 5);
    expect("pong not final", MAX_16M, "error:1002@2");

    w_reset();
    w_raw(0x08, 1, 0, 2, "\x03\xe8", 2);
    expect("close not final", MAX_16M, "error:1002@2");

    w_reset();
    w_raw(0x09, 1, 0, 0, "", 0);
    expect_error("empty ping not final", MAX_16M, 1002,
                 "fragmented control frame");

    /* empty control frames, and controls do not count toward the limit */

    w_reset();
    w_str(1, NGX_NOOM_WS_PING, "");
    w_str(1, NGX_NOOM_WS_PONG, "");
    w_str(1, NGX_NOOM_WS_CLOSE, "");
    expect("empty ping, pong and close", 0,
           "ping(0) end pong(0) end close(0) end");

    w_reset();
    w_frame(1, NGX_NOOM_WS_CLOSE, "\x03\xe8" "bye", 5);
    expect("close with a code and a reason", 0,
           "close(5) \"\\x03\\xe8bye\" end");

    /* control frames are not UTF-8 checked by the parser */

    w_reset();
    w_frame(1, NGX_NOOM_WS_PING, "\xff\xfe", 2);
    expect("ping with bytes that are not UTF-8", MAX_16M,
           "ping(2) \"\\xff\\xfe\" end");
}


static void
test_fragmentation(void)
{
    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "Hel");
    w_str(0, NGX_NOOM_WS_CONT, "lo");
    w_str(1, NGX_NOOM_WS_CONT, ", world");
    expect("text in three fragments", MAX_16M,
           "text~(3) \"Hel\" end cont~(2) \"lo\" end cont(7) \", world\" "
           "end:text");

    w_reset();
    w_str(0, NGX_NOOM_WS_BINARY, "ab");
    w_str(1, NGX_NOOM_WS_CONT, "cd");
    expect("binary in two fragments", MAX_16M,
           "binary~(2) \"ab\" end cont(2) \"cd\" end:binary");

    /* continuation with nothing to continue */

    w_reset();
    w_str(1, NGX_NOOM_WS_CONT, "x");
    expect("final continuation without a message", MAX_16M,
           "error:1002@2");
    expect_error("continuation without a message", MAX_16M, 1002,
                 "continuation frame outside a message");

    w_reset();
    w_str(0, NGX_NOOM_WS_CONT, "x");
    expect("continuation (not final) without a message", MAX_16M,
           "error:1002@2");

    w_reset();
    w_str(0, NGX_NOOM_WS_CONT, "");
    w_str(1, NGX_NOOM_WS_CONT, "");
    expect("empty continuations without a message", MAX_16M,
           "error:1002@2 error:1002@8");

    w_reset();
    w_str(1, NGX_NOOM_WS_TEXT, "done");
    w_str(1, NGX_NOOM_WS_CONT, "more");
    expect("continuation after a complete message", MAX_16M,
           "text(4) \"done\" end:text error:1002@12");

    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "a");
    w_str(1, NGX_NOOM_WS_CONT, "b");
    w_str(1, NGX_NOOM_WS_CONT, "c");
    expect("continuation after a fragmented message ended", MAX_16M,
           "text~(1) \"a\" end cont(1) \"b\" end:text error:1002@16");

    /* a new message while one is open */

    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "Hel");
    w_str(1, NGX_NOOM_WS_TEXT, "lo");
    expect("text inside a fragmented text", MAX_16M,
           "text~(3) \"Hel\" end error:1002@11");
    expect_error("text inside a fragmented text", MAX_16M, 1002,
                 "new message inside a fragmented message");

    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "Hel");
    w_str(0, NGX_NOOM_WS_BINARY, "lo");
    expect("binary inside a fragmented text", MAX_16M,
           "text~(3) \"Hel\" end error:1002@11");

    w_reset();
    w_str(0, NGX_NOOM_WS_BINARY, "Hel");
    w_str(1, NGX_NOOM_WS_TEXT, "lo");
    expect("text inside a fragmented binary", MAX_16M,
           "binary~(3) \"Hel\" end error:1002@11");

    /* control frames between fragments */

    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "Hel");
    w_str(1, NGX_NOOM_WS_PING, "ping");
    w_str(1, NGX_NOOM_WS_CONT, "lo");
    expect("ping between fragments", MAX_16M,
           "text~(3) \"Hel\" end ping(4) \"ping\" end cont(2) \"lo\" "
           "end:text");

    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "fragment1");
    w_str(1, NGX_NOOM_WS_PING, "");
    w_str(0, NGX_NOOM_WS_CONT, "fragment2");
    w_str(1, NGX_NOOM_WS_PONG, "x");
    w_str(1, NGX_NOOM_WS_PING, "y");
    w_str(1, NGX_NOOM_WS_CONT, "fragment3");
    expect("pings and a pong between three fragments", MAX_16M,
           "text~(9) \"fragment1\" end ping(0) end "
           "cont~(9) \"fragment2\" end pong(1) \"x\" end ping(1) \"y\" end "
           "cont(9) \"fragment3\" end:text");

    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "a");
    w_frame(1, NGX_NOOM_WS_CLOSE, "\x03\xe8", 2);
    w_str(1, NGX_NOOM_WS_CONT, "b");
    expect("close between fragments (the parser goes on, the caller "
           "stops)", MAX_16M,
           "text~(1) \"a\" end close(2) \"\\x03\\xe8\" end cont(1) \"b\" "
           "end:text");

    /* zero-length frames */

    w_reset();
    w_str(1, NGX_NOOM_WS_TEXT, "");
    w_str(1, NGX_NOOM_WS_BINARY, "");
    expect("empty text and empty binary", 0,
           "text(0) end:text binary(0) end:binary");

    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "");
    w_str(0, NGX_NOOM_WS_CONT, "");
    w_str(1, NGX_NOOM_WS_CONT, "");
    expect("text in three empty fragments", 0,
           "text~(0) end cont~(0) end cont(0) end:text");

    w_reset();
    w_str(0, NGX_NOOM_WS_TEXT, "");
    w_str(0, NGX_NOOM_WS_CONT, "abc");
    w_str(1, NGX_NOOM_WS_CONT, "");
    expect("empty first and last fragments", MAX_16M,
           "text~(0) end cont~(3) \"abc\" end cont(0) end:text");

    w_reset();
    w_raw(0x81, 0, 0, 0, "", 0);
    w_raw(0x82, 0, 0, 0, "", 0);
    w_raw(0x89, 0, 0, 0, "", 0);
    expect_in("empty unmasked frames", w.b, w.len, 0, 1,
              "text(0) end:text binary(0) end:binary ping(0) end");

    {
        ngx_int_t             rc;
        ngx_noom_ws_parser_t  p;

        w_reset();
        w_str(0, NGX_NOOM_WS_TEXT, "ab");
        w_str(1, NGX_NOOM_WS_PING, "");
        rc = parse_all(&p, MAX_16M, 0);
        ok(rc == NGX_NOOM_WS_AGAIN && p.msg_opcode == NGX_NOOM_WS_TEXT
           && p.msg_len == 2 && p.opcode == NGX_NOOM_WS_PING
           && p.complete == 0,
           "after a fragment and a ping the text message is still open");

        w_reset();
        w_str(0, NGX_NOOM_WS_TEXT, "ab");
        w_str(1, NGX_NOOM_WS_CONT, "cde");
        rc = parse_all(&p, MAX_16M, 0);
        ok(rc == NGX_NOOM_WS_AGAIN && p.msg_opcode == 0 && p.msg_len == 0
           && p.complete == NGX_NOOM_WS_TEXT,
           "after the last fragment no message is open");
    }
}


static void
test_limit(void)
{
    u_char  ten[16];

    memset(ten, 'x', sizeof(ten));

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, ten, 10);
    expect("10 bytes, limit 10", 10,
           "text(10) \"xxxxxxxxxx\" end:text");

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, ten, 11);
    expect("11 bytes, limit 10: refused at the header", 10, "error:1009@6");
    expect_error("11 bytes, limit 10", 10, 1009,
                 "message larger than the limit");

    w_reset();
    w_frame(1, NGX_NOOM_WS_BINARY, ten, 11);
    expect("11 binary bytes, limit 10", 10, "error:1009@6");

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, ten, 1);
    expect("1 byte, limit 0", 0, "error:1009@6");

    /* refused before any payload: the payload need not even arrive */

    w_reset();
    w_raw(0x82, 1, 64, 1ULL << 62, "", 0);
    expect("2^62 bytes announced, limit 16 MiB: refused at once", MAX_16M,
           "error:1009@14");

    w_reset();
    w_raw(0x82, 1, 64, MAX_16M + 1, "", 0);
    expect("16 MiB + 1 announced, limit 16 MiB", MAX_16M, "error:1009@14");

    w_reset();
    w_raw(0x82, 1, 64, MAX_16M, "", 0);
    expect("16 MiB announced, limit 16 MiB: accepted", MAX_16M,
           "binary(16777216)");

    w_reset();
    w_raw(0x82, 1, 16, 65535, "", 0);
    expect("65535 announced, limit 65534", 65534, "error:1009@8");

    w_reset();
    w_raw(0x82, 1, 16, 65535, "", 0);
    expect("65535 announced, limit 65535", 65535, "binary(65535)");

    /* the limit is on the message: fragments add up */

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, ten, 5);
    w_frame(1, NGX_NOOM_WS_CONT, ten, 5);
    expect("5 + 5 bytes, limit 10", 10,
           "text~(5) \"xxxxx\" end cont(5) \"xxxxx\" end:text");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, ten, 5);
    w_frame(1, NGX_NOOM_WS_CONT, ten, 6);
    expect("5 + 6 bytes, limit 10: refused at the second header", 10,
           "text~(5) \"xxxxx\" end error:1009@17");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, ten, 4);
    w_frame(0, NGX_NOOM_WS_CONT, ten, 0);
    w_frame(0, NGX_NOOM_WS_CONT, ten, 4);
    w_frame(1, NGX_NOOM_WS_CONT, ten, 3);
    expect("4 + 0 + 4 + 3 bytes, limit 10", 10,
           "text~(4) \"xxxx\" end cont~(0) end cont~(4) \"xxxx\" end "
           "error:1009@32");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, ten, 5);
    w_frame(1, NGX_NOOM_WS_PING, ten, 16);
    w_frame(1, NGX_NOOM_WS_CONT, ten, 5);
    expect("a ping between fragments does not count", 10,
           "text~(5) \"xxxxx\" end ping(16) \"xxxxxxxxxxxxxxxx\" end "
           "cont(5) \"xxxxx\" end:text");

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, ten, 10);
    w_frame(1, NGX_NOOM_WS_BINARY, ten, 10);
    w_frame(0, NGX_NOOM_WS_TEXT, ten, 10);
    w_frame(1, NGX_NOOM_WS_CONT, ten, 0);
    expect("the count starts again with each message", 10,
           "text(10) \"xxxxxxxxxx\" end:text "
           "binary(10) \"xxxxxxxxxx\" end:binary "
           "text~(10) \"xxxxxxxxxx\" end cont(0) end:text");

    {
        ngx_int_t             rc;
        ngx_noom_ws_parser_t  p;

        w_reset();
        w_frame(0, NGX_NOOM_WS_TEXT, ten, 7);
        w_frame(0, NGX_NOOM_WS_CONT, ten, 2);
        rc = parse_all(&p, 10, 0);
        ok(rc == NGX_NOOM_WS_AGAIN && p.msg_len == 9,
           "msg_len counts the fragments so far");

        w_reset();
        w_raw(0x02, 1, 0, 7, ten, 3);
        rc = parse_all(&p, 10, 0);
        ok(rc == NGX_NOOM_WS_AGAIN && p.msg_len == 7 && p.left == 4,
           "msg_len counts a frame from its header");
    }

    /* a limit near 2^64: no overflow in the sum */

    w_reset();
    w_raw(0x02, 1, 64, 0x7fffffffffffffffULL, "", 0);
    expect("2^63-1 bytes announced, limit 2^64-1", NOMAX,
           "binary~(9223372036854775807)");
}


/* after an error the parser skips the failed frame and reads on, so that
 * the client's close frame is still understood */

static void
test_recovery(void)
{
    u_char  big[300];

    memset(big, 'b', sizeof(big));

    w_reset();
    w_raw(0xc1, 1, 0, 2, "hi", 2);
    w_frame(1, NGX_NOOM_WS_CLOSE, "\x03\xe8", 2);
    expect("RSV1 text, then a close: the close is read", MAX_16M,
           "error:1002@2 close(2) \"\\x03\\xe8\" end");

    w_reset();
    w_raw(0xc2, 1, 16, 300, big, 300);
    w_frame(1, NGX_NOOM_WS_CLOSE, "\x03\xe8", 2);
    expect("RSV1 binary of 300 bytes (16-bit length) skipped, then a close",
           MAX_16M, "error:1002@2 close(2) \"\\x03\\xe8\" end");

    w_reset();
    w_raw(0x89, 1, 16, 200, big, 200);
    w_frame(1, NGX_NOOM_WS_PONG, "p", 1);
    expect("ping of 200 bytes skipped, then a pong", MAX_16M,
           "error:1002@2 pong(1) \"p\" end");

    w_reset();
    w_raw(0x81, 0, 0, 5, "Hello", 5);
    w_frame(1, NGX_NOOM_WS_CLOSE, "", 0);
    expect("an unmasked frame skipped, then a close", MAX_16M,
           "error:1002@2 close(0) end");

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, big, 11);
    w_frame(1, NGX_NOOM_WS_CLOSE, "\x03\xe8", 2);
    expect("a message over the limit skipped, then a close", 10,
           "error:1009@6 close(2) \"\\x03\\xe8\" end");

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, "a\xff" "bcdef", 6);
    w_frame(1, NGX_NOOM_WS_CLOSE, "\x03\xe8", 2);
    expect("invalid UTF-8: the rest of the frame skipped, then a close",
           MAX_16M, "text(6) error:1007 close(2) \"\\x03\\xe8\" end");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, "ab", 2);
    w_raw(0x90, 1, 0, 1, "c", 1);
    w_frame(1, NGX_NOOM_WS_CONT, "d", 1);
    w_frame(1, NGX_NOOM_WS_TEXT, "new", 3);
    expect("the message of a failed frame is lost: its next fragment is a "
           "stray continuation, a new message is fine", MAX_16M,
           "text~(2) \"ab\" end error:1002@10 error:1002@17 "
           "text(3) \"new\" end:text");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, big, 8);
    w_raw(0x80, 1, 0, 3, "xyz", 3);
    w_frame(1, NGX_NOOM_WS_TEXT, big, 10);
    expect("the size count starts again after a failed message", 10,
           "text~(8) \"bbbbbbbb\" end error:1009@20 "
           "text(10) \"bbbbbbbbbb\" end:text");

    w_reset();
    w_raw(0x82, 1, 64, 0x8000000000000000ULL, "", 0);
    w_frame(1, NGX_NOOM_WS_CLOSE, "", 0);
    expect("a length with the high bit: nothing after it is read", MAX_16M,
           "error:1002@14 dead");

    w_reset();
    w_raw(0xa2, 1, 64, 0x8000000000000000ULL, "", 0);
    w_frame(1, NGX_NOOM_WS_CLOSE, "", 0);
    expect("RSV2 and a length with the high bit: an error, then dead",
           MAX_16M, "error:1002@2 error:1002@14 dead");

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, "ab\xce", 3);
    w_frame(1, NGX_NOOM_WS_CLOSE, "\x03\xe8", 2);
    expect("a message ending inside a code point, then a close", MAX_16M,
           "text(3) \"ab\\xce\" error:1007@9 close(2) \"\\x03\\xe8\" end");

    {
        ngx_int_t             rc;
        ngx_noom_ws_parser_t  p;
        u_char               *pos, *data;
        size_t                n;

        w_reset();
        w_raw(0x82, 1, 64, 0x8000000000000000ULL, "", 0);
        ngx_noom_ws_parser_init(&p, MAX_16M, 0);
        pos = w.b;

        while ((rc = ngx_noom_ws_parse(&p, &pos, w.b + w.len, &data, &n))
               != NGX_NOOM_WS_ERROR && rc != NGX_NOOM_WS_AGAIN)
        {
            /* void */
        }

        ok(rc == NGX_NOOM_WS_ERROR && p.dead, "a dead parser says so");

        pos = w.b;
        rc = ngx_noom_ws_parse(&p, &pos, w.b + w.len, &data, &n);
        ok(rc == NGX_NOOM_WS_ERROR && pos == w.b,
           "a dead parser consumes nothing and stays in error");
    }
}


/* unmasking: every payload length 0..40, every mask, every cut */

static void
test_unmask(void)
{
    u_char    payload[64];
    char     *q, want[512], name[64];
    size_t    n, i;

    for (i = 0; i < sizeof(payload); i++) {
        payload[i] = (u_char) (i * 37 + 11);
    }

    for (n = 0; n <= 40; n++) {
        w_reset();
        w.key = (unsigned) n;
        w_frame(1, NGX_NOOM_WS_BINARY, payload, n);
        w_frame(1, NGX_NOOM_WS_BINARY, payload + 3, n);

        q = quote(payload, n);
        strcpy(want, "binary(");
        sprintf(want + strlen(want), "%zu)%s%s end:binary", n, n ? " " : "",
                n ? q : "");
        free(q);
        q = quote(payload + 3, n);
        sprintf(want + strlen(want), " binary(%zu)%s%s end:binary", n,
                n ? " " : "", n ? q : "");
        free(q);

        sprintf(name, "two frames of %zu bytes unmasked", n);
        expect(name, MAX_16M, want);
    }

    /* mask bytes of 0x00 and 0xff, and a mask that is its own rotation */

    {
        static const u_char  masks[][4] = {
            { 0, 0, 0, 0 }, { 0xff, 0xff, 0xff, 0xff },
            { 0x01, 0x02, 0x04, 0x08 }, { 0xaa, 0x55, 0xaa, 0x55 }
        };

        for (i = 0; i < 4; i++) {
            u_char  f[6 + 33];
            size_t  k;

            f[0] = 0x82;
            f[1] = 0x80 | 33;
            memcpy(f + 2, masks[i], 4);

            for (k = 0; k < 33; k++) {
                f[6 + k] = payload[k] ^ masks[i][k & 3];
            }

            q = quote(payload, 33);
            sprintf(want, "binary(33) %s end:binary", q);
            free(q);
            sprintf(name, "mask %02x%02x%02x%02x", masks[i][0], masks[i][1],
                    masks[i][2], masks[i][3]);
            expect_in(name, f, sizeof(f), MAX_16M, 0, want);
        }
    }
}


static void
test_utf8_in_text(void)
{
    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
            11);
    expect("valid UTF-8 text", MAX_16M,
           "text(11) \"\\xce\\xba\\xe1\\xbd\\xb9\\xcf\\x83\\xce\\xbc\\xce"
           "\\xb5\" end:text");

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, "ab\xff" "cd", 5);
    expect("invalid byte in a text frame: 1007", MAX_16M, "text(5) error:1007");
    expect_error("invalid byte in a text frame", MAX_16M, 1007,
                 "invalid UTF-8 in text message");

    w_reset();
    w_frame(1, NGX_NOOM_WS_BINARY, "ab\xff" "cd", 5);
    expect("the same bytes in a binary frame: fine", MAX_16M,
           "binary(5) \"ab\\xffcd\" end:binary");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, "\xce", 1);
    w_frame(1, NGX_NOOM_WS_CONT, "\xba", 1);
    expect("a code point split across fragments", MAX_16M,
           "text~(1) \"\\xce\" end cont(1) \"\\xba\" end:text");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, "\xf0\x90", 2);
    w_frame(1, NGX_NOOM_WS_PING, "\xff", 1);
    w_frame(0, NGX_NOOM_WS_CONT, "\x80", 1);
    w_frame(1, NGX_NOOM_WS_PONG, "\xc0", 1);
    w_frame(1, NGX_NOOM_WS_CONT, "\x80", 1);
    expect("a 4-byte code point across fragments with controls between",
           MAX_16M,
           "text~(2) \"\\xf0\\x90\" end ping(1) \"\\xff\" end "
           "cont~(1) \"\\x80\" end pong(1) \"\\xc0\" end "
           "cont(1) \"\\x80\" end:text");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, "\xce", 1);
    w_frame(1, NGX_NOOM_WS_CONT, "a", 1);
    expect("a code point broken across fragments: 1007", MAX_16M,
           "text~(1) \"\\xce\" end cont(1) error:1007");

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, "ab\xce", 3);
    expect("text ends inside a code point: 1007 at its end", MAX_16M,
           "text(3) \"ab\\xce\" error:1007@9");
    expect_error("text ends inside a code point", MAX_16M, 1007,
                 "text message ends inside a UTF-8 sequence");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, "ab\xe2\x82", 4);
    w_frame(1, NGX_NOOM_WS_CONT, "", 0);
    expect("empty last fragment after a partial code point: 1007",
           MAX_16M,
           "text~(4) \"ab\\xe2\\x82\" end cont(0) error:1007@16");

    w_reset();
    w_frame(0, NGX_NOOM_WS_TEXT, "ab\xe2\x82", 4);
    expect("a fragment may end inside a code point", MAX_16M,
           "text~(4) \"ab\\xe2\\x82\" end");

    w_reset();
    w_frame(1, NGX_NOOM_WS_TEXT, "ab\xce", 3);
    w_frame(1, NGX_NOOM_WS_TEXT, "\xba", 1);
    expect("a code point cannot span two messages", MAX_16M,
           "text(3) \"ab\\xce\" error:1007@9 text(1) error:1007");

    w_reset();
    w_frame(0, NGX_NOOM_WS_BINARY, "\xce", 1);
    w_frame(1, NGX_NOOM_WS_CONT, "\xff", 1);
    w_frame(1, NGX_NOOM_WS_TEXT, "ok", 2);
    expect("binary continuations are not checked", MAX_16M,
           "binary~(1) \"\\xce\" end cont(1) \"\\xff\" end:binary "
           "text(2) \"ok\" end:text");

    /* fail fast: the error comes with the first invalid byte, before the
     * rest of the frame has arrived */

    w_reset();
    w_raw(0x81, 1, 0, 100, "hello\xed\xa0\x80", 8);
    expect("surrogate in a frame that has not fully arrived: 1007 at once",
           MAX_16M, "text(100) error:1007");

    w_reset();
    w_raw(0x81, 1, 0, 100, "hello\xf4\x90", 7);
    expect("above U+10FFFF, found at its second byte", MAX_16M,
           "text(100) error:1007");

    w_reset();
    w_raw(0x81, 1, 0, 100, "hello\xe0\x80", 7);
    expect("overlong 3-byte form, found at its second byte", MAX_16M,
           "text(100) error:1007");

    w_reset();
    w_raw(0x81, 1, 0, 100, "hello\xe0", 6);
    expect("a lead byte alone is still a valid prefix", MAX_16M,
           "text(100) \"hello\\xe0\"");
}


/*
 * A masked text frame of n bytes, with its key, gives the events "want"
 * whole, cut anywhere once and byte by byte: 0 if so, else 1 and a
 * diagnostic.
 */

static ngx_uint_t
text_frame_is(const u_char *text, size_t n, unsigned key, const char *want)
{
    char        why[1024];
    ws_log_t    log;
    ngx_uint_t  failed;

    w_reset();
    w.key = key;
    w_frame(1, NGX_NOOM_WS_TEXT, text, n);

    ws_log_init(&log);

    failed = ws_run_whole(w.b, w.len, MAX_16M, 0, &log) != 0
             || strcmp(log.s, want) != 0
             || ws_run_splits(w.b, w.len, MAX_16M, 0, 4096, 0, why,
                              sizeof(why)) != 0;

    if (failed) {
        diag("want %s, got %s", want, log.s);
    }

    ws_log_free(&log);

    return failed;
}


/*
 * A masked text frame is unmasked 16 bytes at a time, and when they are all
 * ASCII the UTF-8 check is skipped: a byte that is not ASCII at every place
 * of frames of 1 to 48 bytes, invalid (0xff) and valid (a 2-byte character),
 * with the frame whole, cut anywhere once and byte by byte.
 */

static void
test_utf8_every_place(void)
{
    char        *q, want[512];
    u_char       text[48];
    size_t       n, j;
    ngx_uint_t   good, bad;

    good = 0;
    bad = 0;

    for (n = 1; n <= sizeof(text); n++) {
        for (j = 0; j < n; j++) {

            /* 0xff at j: 1007 */

            memset(text, 'a', n);
            text[j] = 0xff;

            sprintf(want, "text(%zu) error:1007", n);
            bad += text_frame_is(text, n, (unsigned) (n + j), want);

            if (j + 1 == n) {
                continue;
            }

            /* U+00E9 at j: unmasked as it was */

            text[j] = 0xc3;
            text[j + 1] = 0xa9;

            q = quote(text, n);
            sprintf(want, "text(%zu) %s end:text", n, q);
            free(q);

            good += text_frame_is(text, n, (unsigned) (n * j), want);
        }
    }

    ok(bad == 0, "0xff at every place of text frames of 1 to 48 bytes: 1007");
    ok(good == 0, "U+00E9 at every place of text frames of 1 to 48 bytes");
}


static void
test_header_encoder(void)
{
    u_char   h[NGX_NOOM_WS_MAX_HEADER + 2];
    size_t   n;

    static const struct {
        uint64_t     len;
        size_t       hlen;
        const char  *bytes;
    } cases[] = {
        { 0, 2, "\x81\x00" },
        { 1, 2, "\x81\x01" },
        { 125, 2, "\x81\x7d" },
        { 126, 4, "\x81\x7e\x00\x7e" },
        { 127, 4, "\x81\x7e\x00\x7f" },
        { 65535, 4, "\x81\x7e\xff\xff" },
        { 65536, 10, "\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00" },
        { 16777216, 10, "\x81\x7f\x00\x00\x00\x00\x01\x00\x00\x00" },
        { 0x7fffffffffffffffULL, 10,
          "\x81\x7f\x7f\xff\xff\xff\xff\xff\xff\xff" },
    };

    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(h, 0xee, sizeof(h));
        n = ngx_noom_ws_header(h, NGX_NOOM_WS_TEXT, cases[i].len);
        is_mem(h, n, cases[i].bytes, cases[i].hlen,
               "header for %llu bytes", (unsigned long long) cases[i].len);
        ok(h[n] == 0xee, "header for %llu bytes writes only %zu bytes",
           (unsigned long long) cases[i].len, n);
    }

    n = ngx_noom_ws_header(h, NGX_NOOM_WS_CLOSE, 2);
    is_mem(h, n, "\x88\x02", 2, "close header");

    n = ngx_noom_ws_header(h, NGX_NOOM_WS_PONG, 125);
    is_mem(h, n, "\x8a\x7d", 2, "pong header");

    n = ngx_noom_ws_header(h, NGX_NOOM_WS_BINARY, 70000);
    is_mem(h, n, "\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10,
           "binary header, 70000 bytes");

    /* what the encoder writes, the parser reads back (as a server frame) */

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ngx_int_t             rc;
        ngx_noom_ws_parser_t  p;
        u_char               *pos, *data;
        size_t                dn;

        n = ngx_noom_ws_header(h, NGX_NOOM_WS_BINARY, cases[i].len);
        ngx_noom_ws_parser_init(&p, NOMAX, 1);
        pos = h;
        rc = ngx_noom_ws_parse(&p, &pos, h + n, &data, &dn);
        ok(rc == NGX_NOOM_WS_FRAME && p.len == cases[i].len
           && pos == h + n && p.fin && p.opcode == NGX_NOOM_WS_BINARY,
           "the parser reads the header of %llu bytes back",
           (unsigned long long) cases[i].len);
    }
}


static void
test_close_payload(void)
{
    char        buf[256], name[64];
    size_t      i;
    ngx_int_t   rc;
    ngx_uint_t  code;

    static const unsigned  valid[] = {
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
        1014, 3000, 3999, 4000, 4999
    };
    static const unsigned  invalid[] = {
        0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
        65535
    };

    rc = ngx_noom_ws_close_payload((u_char *) "", 0, &code);
    ok(rc == NGX_OK && code == 0, "empty close payload: fine, no code");

    code = 7;
    rc = ngx_noom_ws_close_payload((u_char *) "\x03", 1, &code);
    ok(rc == NGX_ERROR, "close payload of 1 byte: error");

    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        buf[0] = (char) (valid[i] >> 8);
        buf[1] = (char) valid[i];
        rc = ngx_noom_ws_close_payload((u_char *) buf, 2, &code);
        sprintf(name, "close code %u is valid", valid[i]);
        ok(rc == NGX_OK && code == valid[i], "%s", name);
    }

    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        buf[0] = (char) (invalid[i] >> 8);
        buf[1] = (char) invalid[i];
        rc = ngx_noom_ws_close_payload((u_char *) buf, 2, &code);
        ok(rc == NGX_ERROR, "close code %u is invalid", invalid[i]);
    }

    /* the whole 16-bit range against the rule */

    {
        unsigned  c, wrong = 0;

        for (c = 0; c < 65536; c++) {
            int  want;

            want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014)
                   || (c >= 3000 && c <= 4999);
            buf[0] = (char) (c >> 8);
            buf[1] = (char) c;
            rc = ngx_noom_ws_close_payload((u_char *) buf, 2, &code);

            if ((rc == NGX_OK) != want || (want && code != c)) {
                if (wrong++ == 0) {
                    diag("code %u: rc %d", c, (int) rc);
                }
            }
        }

        ok(wrong == 0, "every close code from 0 to 65535");
    }

    memcpy(buf, "\x03\xe8" "bye", 5);
    rc = ngx_noom_ws_close_payload((u_char *) buf, 5, &code);
    ok(rc == NGX_OK && code == 1000, "code and ASCII reason");

    memcpy(buf, "\x03\xe8" "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 13);
    rc = ngx_noom_ws_close_payload((u_char *) buf, 13, &code);
    ok(rc == NGX_OK && code == 1000, "code and UTF-8 reason");

    memcpy(buf, "\x03\xe8" "a\xff", 4);
    rc = ngx_noom_ws_close_payload((u_char *) buf, 4, &code);
    ok(rc == NGX_ERROR, "reason with an invalid byte: error");

    memcpy(buf, "\x03\xe8" "a\xce", 4);
    rc = ngx_noom_ws_close_payload((u_char *) buf, 4, &code);
    ok(rc == NGX_ERROR, "reason ending inside a code point: error");

    memcpy(buf, "\x03\xe8" "\xed\xa0\x80", 5);
    rc = ngx_noom_ws_close_payload((u_char *) buf, 5, &code);
    ok(rc == NGX_ERROR, "reason with a surrogate: error");

    memcpy(buf, "\x03\xe9", 2);
    memset(buf + 2, 'r', 123);
    rc = ngx_noom_ws_close_payload((u_char *) buf, 125, &code);
    ok(rc == NGX_OK && code == 1001, "123-byte reason");

    memcpy(buf, "\x0f\xa0" "a\x00b", 5);
    rc = ngx_noom_ws_close_payload((u_char *) buf, 5, &code);
    ok(rc == NGX_OK && code == 4000, "a NUL in the reason is UTF-8");
}


int
main(void)
{
    test_rfc_examples();
    test_lengths();
    test_rsv();
    test_opcodes();
    test_control_frames();
    test_fragmentation();
    test_limit();
    test_recovery();
    test_unmask();
    test_utf8_in_text();
    test_utf8_every_place();
    test_header_encoder();
    test_close_payload();

    free(w.b);

    return done();
}
