
/*
 * Copyright (C) noom authors
 *
 * libFuzzer target for ngx_noom_valid_name(), the check on the name
 * arguments of events (nickname, enter_room, join_room...).
 *
 * Input: one byte for the length limit (0-254 as is, 255: no limit), then
 * the name.  The name is checked from a heap copy of exactly its size.  When
 * it is valid UTF-8 (the WebSocket layer guarantees that for text), the
 * verdict must follow the rule read as code points: 1 to limit bytes, no
 * U+0000-U+001F, U+007F or U+0080-U+009F, and some code point other than
 * U+0020.  Other bytes must simply not crash it.
 */


#include <stdio.h>
#include <stdlib.h>

#include "ngx_noom_parse.h"
#include "utf8_ref.h"


static int
reference(const uint8_t *p, size_t len, size_t max)
{
    size_t    i, n;
    uint32_t  cp;
    int       visible;

    if (len == 0 || len > max) {
        return 0;
    }

    visible = 0;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            cp = p[i];
            n = 1;

        } else if (p[i] < 0xe0) {
            cp = ((uint32_t) (p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f);
            n = 2;

        } else if (p[i] < 0xf0) {
            cp = ((uint32_t) (p[i] & 0x0f) << 12)
                 | ((uint32_t) (p[i + 1] & 0x3f) << 6) | (p[i + 2] & 0x3f);
            n = 3;

        } else {
            cp = ((uint32_t) (p[i] & 0x07) << 18)
                 | ((uint32_t) (p[i + 1] & 0x3f) << 12)
                 | ((uint32_t) (p[i + 2] & 0x3f) << 6) | (p[i + 3] & 0x3f);
            n = 4;
        }

        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            return 0;
        }

        if (cp != 0x20) {
            visible = 1;
        }
    }

    return visible;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     *copy;
    size_t      max, len;
    ngx_int_t   rc;

    if (size < 1) {
        return 0;
    }

    max = (data[0] == 255) ? (size_t) -1 : data[0];
    len = size - 1;

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data + 1, len);
    rc = ngx_noom_valid_name(copy, len, max);
    free(copy);

    if (rc != NGX_OK && rc != NGX_ERROR) {
        fprintf(stderr, "valid_name: returned %d\n", (int) rc);
        abort();
    }

    if (utf8_ref(data + 1, len).complete
        && (rc == NGX_OK) != reference(data + 1, len, max))
    {
        fprintf(stderr, "valid_name: '%.*s' (limit %zu): %s\n", (int) len,
                (const char *) data + 1, max,
                rc == NGX_OK ? "accepted" : "refused");
        abort();
    }

    return 0;
}
