
/*
 * Copyright (C) noom authors
 *
 * libFuzzer target for ngx_noom_utf8() and ngx_noom_ws_close_payload(),
 * differential against the code-point reference in t/unit/utf8_ref.h:
 *
 * - the verdict on the whole input (valid, a valid prefix cut inside a
 *   code point, invalid);
 * - fed a byte at a time, the state turns REJECT exactly at the first byte
 *   that no valid string has there (fail fast) and ends where the whole
 *   run ends;
 * - split at every position (at 32 spread positions past 64 bytes) and at
 *   the three positions the first bytes pick, the final state is the same;
 * - each piece is fed from its own heap buffer of exactly its size, so the
 *   8-byte ASCII path cannot read past a chunk unseen;
 * - a close payload is valid exactly when it is empty, or a code in
 *   1000-1003, 1007-1014, 3000-4999 with a complete UTF-8 reason.
 */


#include <stdio.h>
#include <stdlib.h>

#include "ngx_noom_parse.h"
#include "utf8_ref.h"


#define REJECT  NGX_NOOM_UTF8_REJECT
#define ACCEPT  NGX_NOOM_UTF8_ACCEPT


static uint32_t
feed(uint32_t state, const uint8_t *p, size_t len)
{
    u_char  *copy;

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, p, len);
    state = ngx_noom_utf8(state, copy, len);
    free(copy);

    return state;
}


static void
fail(const char *fmt, size_t a, uint32_t got, uint32_t want)
{
    fprintf(stderr, "utf8: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, ": state %08x, expected %08x\n", got, want);
    abort();
}


static void
check_close(const uint8_t *data, size_t size)
{
    u_char      *copy;
    unsigned     c;
    ngx_int_t    rc;
    ngx_uint_t   code;
    int          want;

    if (size == 0) {
        want = 1;
        c = 0;

    } else if (size == 1) {
        want = 0;
        c = 0;

    } else {
        c = ((unsigned) data[0] << 8) | data[1];
        want = ((c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014)
                || (c >= 3000 && c <= 4999))
               && utf8_ref(data + 2, size - 2).complete;
    }

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data, size);
    rc = ngx_noom_ws_close_payload(copy, size, &code);
    free(copy);

    if ((rc == NGX_OK) != want || (want && code != c)) {
        fprintf(stderr, "close payload of %zu bytes, code %u: rc %d, "
                "code %u\n", size, c, (int) rc, (unsigned) code);
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t      i, j, step, cut[3];
    uint32_t    whole, s;
    utf8_ref_t  ref;

    ref = utf8_ref(data, size);
    whole = feed(ACCEPT, data, size);

    if (ref.complete) {
        if (whole != ACCEPT) {
            fail("valid input of %zu bytes refused", size, whole, ACCEPT);
        }

    } else if (ref.bad < size) {
        if (whole != REJECT) {
            fail("invalid input (byte %zu) not rejected", ref.bad, whole,
                 REJECT);
        }

    } else if (whole == ACCEPT || whole == REJECT) {
        fail("input cut inside a code point at %zu", size, whole, 1);
    }

    s = ACCEPT;

    for (i = 0; i < size; i++) {
        s = ngx_noom_utf8(s, (u_char *) data + i, 1);

        if ((s == REJECT) != (i >= ref.bad)) {
            fail("byte by byte, after byte %zu", i, s,
                 i >= ref.bad ? REJECT : 0);
        }
    }

    if (s != whole) {
        fail("byte by byte, at the end (%zu bytes)", size, s, whole);
    }

    step = (size <= 64) ? 1 : size / 32;

    for (i = 0; i <= size; i += step) {
        s = feed(feed(ACCEPT, data, i), data + i, size - i);

        if (s != whole) {
            fail("split at %zu", i, s, whole);
        }
    }

    if (size >= 3) {
        cut[0] = data[0] % (size + 1);
        cut[1] = data[1] % (size + 1);
        cut[2] = data[2] % (size + 1);

        for (i = 0; i < 3; i++) {
            for (j = i + 1; j < 3; j++) {
                if (cut[j] < cut[i]) {
                    size_t  t = cut[i];
                    cut[i] = cut[j];
                    cut[j] = t;
                }
            }
        }

        s = feed(ACCEPT, data, cut[0]);
        s = feed(s, data + cut[0], cut[1] - cut[0]);
        s = feed(s, data + cut[1], cut[2] - cut[1]);
        s = feed(s, data + cut[2], size - cut[2]);

        if (s != whole) {
            fail("split in four at %zu...", cut[0], s, whole);
        }
    }

    check_close(data, size);

    return 0;
}
