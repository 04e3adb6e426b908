
/*
 * Copyright (C) noom authors
 *
 * libFuzzer target for ngx_noom_ws_parse().
 *
 * Input: one byte of settings (bit 0: a server-side parser that expects
 * unmasked frames; bits 1-3: the message limit), one byte whose low 4 bits
 * count the chunk sizes that follow (a byte each), then the frame bytes.
 *
 * The frame bytes are fed whole, in the chunks the input asks for and (up
 * to 64 bytes) one byte at a time, each with and without whole messages
 * (NGX_NOOM_WS_MESSAGE); t/unit/ws_run.c checks the parser's invariants on
 * every call (consumed <= input, DATA inside the chunk, no payload beyond
 * the declared length, msg_len <= limit, unmasking, fail-fast UTF-8,
 * progress, a MESSAGE only for a whole valid message), and all runs must
 * give the same events as fuzz/ws_ref.c, a simple reading of RFC 6455.
 * Any difference aborts.
 */


#include <stdio.h>
#include <stdlib.h>

#include "ws_run.h"
#include "ws_ref.h"


static const uint64_t  limits[8] = {
    0, 1, 125, 126, 65535, 65536, 16 * 1024 * 1024, (uint64_t) -1
};


static void
fail(const char *what, const ws_log_t *got, const ws_log_t *want)
{
    fprintf(stderr, "ws_frame: %s\n", what);

    if (got) {
        fprintf(stderr, "  got:  %.2000s\n  why:  %s\n",
                got->s ? got->s : "(none)", got->why);
    }

    if (want) {
        fprintf(stderr, "  want: %.2000s\n", want->s ? want->s : "(none)");
    }

    abort();
}


static void
run_cuts(const u_char *in, size_t len, uint64_t max, int unmasked,
    const size_t *cuts, size_t ncuts, const ws_log_t *want, const char *what)
{
    ws_log_t              log;
    ngx_uint_t            whole;
    ngx_noom_ws_parser_t  p;

    /* as it is, and with NGX_NOOM_WS_MESSAGE for whole messages */

    for (whole = 0; whole < 2; whole++) {
        ngx_noom_ws_parser_init(&p, max, unmasked);
        p.whole = whole;
        ws_log_init(&log);

        if (ws_run(&p, in, len, cuts, ncuts, &log) != 0
            || strcmp(log.s, want->s) != 0)
        {
            fprintf(stderr, "ws_frame: whole messages %s\n",
                    whole ? "on" : "off");
            fail(what, &log, want);
        }

        ws_log_free(&log);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            unmasked;
    size_t         k, n, i, at, len, cuts[16], *bytes;
    uint64_t       max;
    ws_log_t       ref;
    const u_char  *in;

    if (size < 2) {
        return 0;
    }

    unmasked = data[0] & 1;
    max = limits[(data[0] >> 1) & 7];
    k = data[1] & 0x0f;

    if (size < 2 + k) {
        return 0;
    }

    /* chunk sizes from the input: cuts at the running sums */

    in = data + 2 + k;
    len = size - 2 - k;
    at = 0;
    n = 0;

    for (i = 0; i < k; i++) {
        at += data[2 + i];

        if (at > len) {
            at = len;
        }

        cuts[n++] = at;
    }

    ws_log_init(&ref);
    ws_ref(in, len, max, unmasked, &ref);

    run_cuts(in, len, max, unmasked, NULL, 0, &ref, "fed whole");
    run_cuts(in, len, max, unmasked, cuts, n, &ref, "cut by the input");

    if (len > 1 && len <= 64) {
        bytes = malloc(len * sizeof(size_t));
        if (bytes == NULL) {
            abort();
        }

        for (i = 0; i < len - 1; i++) {
            bytes[i] = i + 1;
        }

        run_cuts(in, len, max, unmasked, bytes, len - 1, &ref,
                 "one byte at a time");
        free(bytes);
    }

    ws_log_free(&ref);

    return 0;
}
