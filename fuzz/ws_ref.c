
/*
 * Copyright (C) noom authors
 *
 * A reference for ngx_noom_ws_parse(): RFC 6455 framing read the simple
 * way, from a whole buffer, frame after frame.  It writes the event line of
 * t/unit/ws_run.h, so the fuzzer can compare the two parsers.  Checks, in
 * the order the real parser must make them:
 *
 *   at the 2nd header byte (1002): RSV bits, reserved opcodes, continuation
 *   without a message, a new message inside one, a control frame that is
 *   not final or has a 7-bit length over 125, the mask bit not what the
 *   side expects;
 *   at the end of the header: the 64-bit length's top bit (1002), then
 *   the data message size against the limit (1009);
 *   in the payload: a text message that can no longer be UTF-8 (1007);
 *   at the end of a final text frame: UTF-8 cut short (1007).
 *
 * After an error the message is forgotten and the failed frame skipped
 * (by the length its header gives); a length with the top bit set leaves
 * no way to find the next frame ("dead").
 */


#include <stdlib.h>

#include "ws_run.h"
#include "utf8_ref.h"
#include "ws_ref.h"


void
ws_ref(const u_char *in, size_t len, uint64_t max, int unmasked,
    ws_log_t *log)
{
    u_char     *text, *pay;
    size_t      pos, hl, avail, tlen, i;
    uint64_t    flen, msg_len;
    unsigned    b0, b1, fin, op, masked, len7, msg_op, bad, high;
    utf8_ref_t  r;

    text = malloc(len + 1);
    pay = malloc(len + 1);
    if (text == NULL || pay == NULL) {
        abort();
    }

    tlen = 0;
    msg_op = 0;
    msg_len = 0;
    pos = 0;

    while (len - pos >= 2) {
        b0 = in[pos];
        b1 = in[pos + 1];
        fin = b0 >> 7;
        op = b0 & 0x0f;
        masked = b1 >> 7;
        len7 = b1 & 0x7f;

        hl = 2 + (len7 == 126 ? 2 : (len7 == 127 ? 8 : 0)) + (masked ? 4 : 0);
        high = (len7 == 127 && len - pos >= 3 && (in[pos + 2] & 0x80));

        flen = 0;

        if (len - pos >= hl) {
            if (len7 == 126) {
                flen = ((uint64_t) in[pos + 2] << 8) | in[pos + 3];

            } else if (len7 == 127) {
                for (i = 0; i < 8; i++) {
                    flen = (flen << 8) | in[pos + 2 + i];
                }

            } else {
                flen = len7;
            }
        }

        bad = (b0 & 0x70)
              || (op > 2 && op < 8) || op > 10
              || (op == 0 && msg_op == 0)
              || ((op == 1 || op == 2) && msg_op != 0)
              || (op >= 8 && (!fin || len7 > 125))
              || masked == (unsigned) (unmasked != 0);

        if (bad) {
            ws_log_add(log, "error:1002@%zu", pos + 2);
            msg_op = 0;
            msg_len = 0;
            tlen = 0;

            if (len - pos < hl) {
                goto done;
            }

            if (high) {
                ws_log_add(log, "error:1002@%zu dead", pos + hl);
                goto done;
            }

            goto skip;
        }

        if (len - pos < hl) {
            goto done;
        }

        if (high) {
            ws_log_add(log, "error:1002@%zu dead", pos + hl);
            goto done;
        }

        if (op == 1 || op == 2) {
            msg_op = op;
            msg_len = 0;
            tlen = 0;
        }

        if (op < 8) {
            if (flen > max || msg_len > max - flen) {
                ws_log_add(log, "error:1009@%zu", pos + hl);
                msg_op = 0;
                msg_len = 0;
                tlen = 0;
                goto skip;
            }

            msg_len += flen;
        }

        ws_log_add(log, "%s%s(%llu)", ws_names[op], fin ? "" : "~",
                   (unsigned long long) flen);

        avail = len - pos - hl;

        if ((uint64_t) avail > flen) {
            avail = (size_t) flen;
        }

        for (i = 0; i < avail; i++) {
            pay[i] = in[pos + hl + i];

            if (masked) {
                pay[i] ^= in[pos + hl - 4 + (i & 3)];
            }
        }

        if (op < 8 && msg_op == 1) {
            memcpy(text + tlen, pay, avail);
            tlen += avail;
            r = utf8_ref(text, tlen);

            if (r.bad < tlen) {
                ws_log_add(log, "error:1007");
                msg_op = 0;
                msg_len = 0;
                tlen = 0;
                goto skip;
            }
        }

        if (avail) {
            ws_log_data(log, pay, avail);
        }

        if ((uint64_t) avail < flen) {
            goto done;
        }

        pos += hl + avail;

        if (op >= 8 || !fin) {
            ws_log_add(log, "end");
            continue;
        }

        if (msg_op == 1 && !utf8_ref(text, tlen).complete) {
            ws_log_add(log, "error:1007@%zu", pos);
            msg_op = 0;
            msg_len = 0;
            tlen = 0;
            continue;
        }

        ws_log_add(log, "end:%s", ws_names[msg_op]);
        msg_op = 0;
        msg_len = 0;
        tlen = 0;
        continue;

    skip:

        /* the failed frame is skipped whole */

        if (flen > (uint64_t) (len - pos - hl)) {
            goto done;
        }

        pos += hl + (size_t) flen;
    }

done:

    if (log->s == NULL) {
        ws_log_add(log, "%s", "");
    }

    free(text);
    free(pay);
}
