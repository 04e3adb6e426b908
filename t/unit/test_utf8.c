
/*
 * Copyright (C) noom authors
 *
 * ngx_noom_utf8(): the vectors of utf8_vectors.txt (Autobahn 6.5-6.23,
 * from Markus Kuhn's stress test) whole, split at every position, a byte at
 * a time and inside ASCII at every alignment; every 1-, 2- and 3-byte
 * string and every 4-byte sequence against the reference checker in
 * utf8_ref.h; the same vectors as WebSocket text messages, whole and in
 * one-byte fragments.
 */


#include <stdlib.h>
#include <errno.h>

#include "tap.h"
#include "utf8_ref.h"
#include "ws_run.h"


#define REJECT   NGX_NOOM_UTF8_REJECT
#define ACCEPT   NGX_NOOM_UTF8_ACCEPT


typedef struct {
    char      id[16];
    int       valid;
    u_char    b[160];
    size_t    len;
    char      note[96];
} vector_t;


static vector_t  vectors[200];
static size_t    nvectors;


static uint32_t
utf8(uint32_t state, const void *p, size_t len)
{
    return ngx_noom_utf8(state, (u_char *) p, len);
}


static int
load_vectors(const char *path)
{
    FILE      *f;
    char       line[1024], hex[512], valid[16], *note;
    size_t     i;
    vector_t  *v;
    unsigned   byte;

    f = fopen(path, "r");
    if (f == NULL) {
        printf("Bail out! %s: %s\n", path, strerror(errno));
        return -1;
    }

    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }

        v = &vectors[nvectors];

        if (nvectors == sizeof(vectors) / sizeof(vectors[0])
            || sscanf(line, "%15s %15s %511s", v->id, valid, hex) != 3)
        {
            printf("Bail out! %s: bad line %s", path, line);
            fclose(f);
            return -1;
        }

        v->valid = (strcmp(valid, "valid") == 0);
        v->len = 0;

        if (strcmp(hex, "-") != 0) {
            for (i = 0; hex[i] && hex[i + 1]; i += 2) {
                if (sscanf(hex + i, "%2x", &byte) != 1
                    || v->len == sizeof(v->b))
                {
                    printf("Bail out! %s: bad hex in %s\n", path, v->id);
                    fclose(f);
                    return -1;
                }

                v->b[v->len++] = (u_char) byte;
            }
        }

        note = strchr(line, '#');
        snprintf(v->note, sizeof(v->note), "%s", note ? note + 2 : "");
        v->note[strcspn(v->note, "\n")] = '\0';

        nvectors++;
    }

    fclose(f);
    return 0;
}


/* whole, at every split, byte by byte (fail fast), inside ASCII */

static int
check_bytes(const u_char *b, size_t len, char *why, size_t why_size)
{
    u_char      buf[400];
    size_t      i, j, k;
    uint32_t    whole, s, t;
    utf8_ref_t  ref;

    ref = utf8_ref(b, len);
    whole = utf8(ACCEPT, b, len);

    if (ref.complete ? whole != ACCEPT
                     : (ref.bad < len ? whole != REJECT
                                      : (whole == ACCEPT || whole == REJECT)))
    {
        snprintf(why, why_size, "whole: state %08x, reference bad at %zu "
                 "of %zu, complete %d", whole, ref.bad, len, ref.complete);
        return -1;
    }

    for (i = 0; i <= len; i++) {
        s = utf8(ACCEPT, b, i);
        t = utf8(s, b + i, len - i);

        if (t != whole) {
            snprintf(why, why_size, "split at %zu: %08x, whole %08x", i, t,
                     whole);
            return -1;
        }

        for (j = i; j <= len && len <= 24; j++) {
            t = utf8(utf8(s, b + i, j - i), b + j, len - j);

            if (t != whole) {
                snprintf(why, why_size, "split at %zu and %zu: %08x, whole "
                         "%08x", i, j, t, whole);
                return -1;
            }
        }
    }

    s = ACCEPT;

    for (i = 0; i < len; i++) {
        s = utf8(s, b + i, 1);

        if ((s == REJECT) != (i >= ref.bad)) {
            snprintf(why, why_size, "byte by byte: state %08x after byte "
                     "%zu, the reference says the first bad byte is %zu",
                     s, i, ref.bad);
            return -1;
        }
    }

    if (s != whole) {
        snprintf(why, why_size, "byte by byte: %08x, whole %08x", s, whole);
        return -1;
    }

    /* after 0..16 ASCII bytes and before some, so that the 8-byte ASCII
     * path meets the sequence at every alignment */

    if (len + 40 <= sizeof(buf)) {
        for (k = 0; k <= 16; k++) {
            memset(buf, 'a', k);
            memcpy(buf + k, b, len);
            memset(buf + k + len, 'z', 20);

            t = utf8(ACCEPT, buf, k + len);

            if (t != whole) {
                snprintf(why, why_size, "after %zu ASCII bytes: %08x, "
                         "alone %08x", k, t, whole);
                return -1;
            }

            t = utf8(ACCEPT, buf, k + len + 20);

            if (ref.complete ? t != ACCEPT : t != REJECT) {
                snprintf(why, why_size, "after %zu and before 20 ASCII "
                         "bytes: %08x", k, t);
                return -1;
            }
        }
    }

    return 0;
}


static void
test_vectors(void)
{
    char      why[256];
    size_t    i;
    uint32_t  s;

    for (i = 0; i < nvectors; i++) {
        vector_t  *v = &vectors[i];

        s = utf8(ACCEPT, v->b, v->len);

        ok((s == ACCEPT) == v->valid, "%s %s: %s", v->id,
           v->valid ? "valid" : "invalid", v->note);

        if (!ok(check_bytes(v->b, v->len, why, sizeof(why)) == 0,
                "%s: the same at every split, fails at the first bad byte",
                v->id))
        {
            diag("%s", why);
        }
    }
}


static void
test_exhaustive(void)
{
    u_char    b[4];
    unsigned  a, c, d, e, wrong;
    uint32_t  s;

    wrong = 0;

    for (a = 0; a < 256; a++) {
        b[0] = (u_char) a;
        s = utf8(ACCEPT, b, 1);

        if ((s == ACCEPT) != (a < 0x80)
            || (s == REJECT) != (utf8_ref(b, 1).bad < 1))
        {
            wrong++;
        }
    }

    ok(wrong == 0, "every single byte");

    wrong = 0;

    for (a = 0; a < 65536; a++) {
        utf8_ref_t  r;

        b[0] = (u_char) (a >> 8);
        b[1] = (u_char) a;
        s = utf8(ACCEPT, b, 2);
        r = utf8_ref(b, 2);

        if ((s == ACCEPT) != r.complete || (s == REJECT) != (r.bad < 2)
            || utf8(utf8(ACCEPT, b, 1), b + 1, 1) != s)
        {
            if (wrong++ == 0) {
                diag("%02x %02x: %08x", b[0], b[1], s);
            }
        }
    }

    ok(wrong == 0, "every 2-byte string, whole and split");

    /* every 3-byte string that starts with a lead byte (the others are
     * covered above) */

    wrong = 0;

    for (a = 0xc0; a < 0x100; a++) {
        for (c = 0; c < 256; c++) {
            for (d = 0; d < 256; d++) {
                utf8_ref_t  r;

                b[0] = (u_char) a;
                b[1] = (u_char) c;
                b[2] = (u_char) d;
                s = utf8(ACCEPT, b, 3);
                r = utf8_ref(b, 3);

                if ((s == ACCEPT) != r.complete
                    || (s == REJECT) != (r.bad < 3)
                    || utf8(utf8(ACCEPT, b, 2), b + 2, 1) != s)
                {
                    if (wrong++ == 0) {
                        diag("%02x %02x %02x: %08x", a, c, d, s);
                    }
                }
            }
        }
    }

    ok(wrong == 0, "every 3-byte string from a lead byte, whole and split");

    /* every 4-byte sequence from a 4-byte lead with continuation bytes,
     * and the edges of each continuation range */

    wrong = 0;

    for (a = 0xf0; a < 0xf8; a++) {
        for (c = 0x7f; c <= 0xc0; c++) {
            for (d = 0x7f; d <= 0xc0; d++) {
                for (e = 0x7f; e <= 0xc0; e++) {
                    utf8_ref_t  r;

                    b[0] = (u_char) a;
                    b[1] = (u_char) c;
                    b[2] = (u_char) d;
                    b[3] = (u_char) e;
                    s = utf8(ACCEPT, b, 4);
                    r = utf8_ref(b, 4);

                    if ((s == ACCEPT) != r.complete
                        || (s == REJECT) != (r.bad < 4)
                        || utf8(utf8(ACCEPT, b, 1), b + 1, 3) != s
                        || utf8(utf8(ACCEPT, b, 3), b + 3, 1) != s)
                    {
                        if (wrong++ == 0) {
                            diag("%02x %02x %02x %02x: %08x", a, c, d, e, s);
                        }
                    }
                }
            }
        }
    }

    ok(wrong == 0, "every 4-byte sequence F0-F7 with bytes 7F-C0 after it");
}


static void
test_boundaries(void)
{
    size_t    i, k;
    u_char    buf[64];
    unsigned  wrong;

    static const struct {
        const char  *bytes;
        int          valid;
        const char  *name;
    } cases[] = {
        { "\xc2\x80", 1, "U+0080" },
        { "\xc1\xbf", 0, "C1 BF (overlong U+007F)" },
        { "\xdf\xbf", 1, "U+07FF" },
        { "\xe0\xa0\x80", 1, "U+0800" },
        { "\xe0\x9f\xbf", 0, "E0 9F BF (overlong U+07FF)" },
        { "\xed\x9f\xbf", 1, "U+D7FF" },
        { "\xed\xa0\x80", 0, "U+D800" },
        { "\xed\xbf\xbf", 0, "U+DFFF" },
        { "\xee\x80\x80", 1, "U+E000" },
        { "\xef\xbf\xbf", 1, "U+FFFF" },
        { "\xf0\x90\x80\x80", 1, "U+10000" },
        { "\xf0\x8f\xbf\xbf", 0, "F0 8F BF BF (overlong U+FFFF)" },
        { "\xf4\x8f\xbf\xbf", 1, "U+10FFFF" },
        { "\xf4\x90\x80\x80", 0, "U+110000" },
        { "\xf5\x80\x80\x80", 0, "F5 lead byte" },
        { "\xe2\x82\xac", 1, "euro sign" },
        { "\xe2\x82", 0, "euro sign without its last byte" },
        { "\xe2\x28\xa1", 0, "bad second byte" },
        { "\xe2\x82\x28", 0, "bad third byte" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t  n = strlen(cases[i].bytes);

        ok((utf8(ACCEPT, cases[i].bytes, n) == ACCEPT) == cases[i].valid,
           "%s is %s", cases[i].name, cases[i].valid ? "valid" : "invalid");
    }

    ok(utf8(REJECT, "a", 1) == REJECT, "REJECT stays REJECT");
    ok(utf8(REJECT, "", 0) == REJECT, "REJECT stays REJECT on no input");
    ok(utf8(ACCEPT, "", 0) == ACCEPT, "no input is valid");
    ok(utf8(ACCEPT, "\xe2", 1) != ACCEPT && utf8(ACCEPT, "\xe2", 1) != REJECT,
       "a lead byte alone: a state between");
    ok(utf8(utf8(ACCEPT, "\xe2", 1), "", 0) == utf8(ACCEPT, "\xe2", 1),
       "no input keeps a state between");

    /* one bad byte in a run of ASCII, at every position */

    wrong = 0;

    for (k = 0; k < 40; k++) {
        memset(buf, 'x', 40);
        buf[k] = 0xff;

        if (utf8(ACCEPT, buf, 40) != REJECT
            || utf8(ACCEPT, buf, k) != ACCEPT)
        {
            wrong++;
        }

        buf[k] = 0x80;

        if (utf8(ACCEPT, buf, 40) != REJECT) {
            wrong++;
        }

        buf[k] = 0xce;

        if (utf8(ACCEPT, buf, k + 1) == ACCEPT
            || utf8(ACCEPT, buf, k + 1) == REJECT)
        {
            wrong++;
        }

        buf[k] = 0x7f;

        if (utf8(ACCEPT, buf, 40) != ACCEPT) {
            wrong++;
        }
    }

    ok(wrong == 0, "one bad byte among 40 ASCII bytes, at every position");
}


/* the vectors as WebSocket text messages */

static void
test_vectors_in_frames(void)
{
    u_char   frames[200 * 7 + 16];
    char     why[1024], want[1024];
    size_t   i, k, n;
    ws_log_t log;

    for (i = 0; i < nvectors; i++) {
        vector_t  *v = &vectors[i];

        /* one masked frame, mask 00 00 00 00 (the parser's XOR is tested
         * elsewhere): the bytes are the payload */

        frames[0] = 0x81;
        frames[1] = 0x80 | (u_char) v->len;
        memset(frames + 2, 0, 4);
        memcpy(frames + 6, v->b, v->len);
        n = 6 + v->len;

        ws_log_init(&log);
        ws_run_whole(frames, n, 1 << 20, 0, &log);

        if (v->valid) {
            ok(strncmp(log.s, "text(", 5) == 0
               && strstr(log.s, " end:text") != NULL && !log.failed,
               "%s in one frame: echoed", v->id);

        } else {
            ok(strstr(log.s, "error:1007") != NULL && !log.failed,
               "%s in one frame: 1007", v->id);
        }

        ws_log_free(&log);

        if (!ok(ws_run_splits(frames, n, 1 << 20, 0, 256, 0, why,
                              sizeof(why)) == 0,
                "%s in one frame: the same at every cut", v->id))
        {
            diag("%s", why);
        }

        /* one byte per fragment */

        n = 0;

        for (k = 0; k < v->len; k++) {
            frames[n++] = (k == 0 ? 0x01 : 0x00)
                          | (k + 1 == v->len ? 0x80 : 0x00);
            frames[n++] = 0x81;
            memset(frames + n, 0, 4);
            n += 4;
            frames[n++] = v->b[k];
        }

        if (v->len == 0) {
            continue;
        }

        ws_log_init(&log);
        ws_run_whole(frames, n, 1 << 20, 0, &log);

        if (v->valid) {
            ok(strstr(log.s, " end:text") != NULL && !log.failed,
               "%s in 1-byte fragments: echoed", v->id);

        } else {
            utf8_ref_t  r = utf8_ref(v->b, v->len);

            /* invalid at byte r.bad, or incomplete at the end */

            if (r.bad < v->len) {
                sprintf(want, "error:1007");

            } else {
                sprintf(want, "error:1007@%zu", n);
            }

            ok(strstr(log.s, want) != NULL && !log.failed
               && (r.bad == v->len || log.frames == r.bad + 1),
               "%s in 1-byte fragments: %s in fragment %zu", v->id, want,
               r.bad + 1);
        }

        ws_log_free(&log);
    }
}


int
main(int argc, char **argv)
{
    if (load_vectors(argc > 1 ? argv[1] : "utf8_vectors.txt") != 0) {
        return 1;
    }

    ok(nvectors == 132, "132 vectors in utf8_vectors.txt");

    test_vectors();
    test_exhaustive();
    test_boundaries();
    test_vectors_in_frames();

    return done();
}
