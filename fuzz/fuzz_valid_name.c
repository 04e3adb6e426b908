
/*
 * Copyright (C) noom authors
 *
 * libFuzzer target for ngx_noom_valid_name(), the check on the name
 * arguments of events (nickname, enter_room, join_room...).
 *
 * Input: one byte for the length limit (0-254 as is, 255: no limit), then
 * the name.  The name is checked from a heap copy of exactly its size.  When
 * it is valid UTF-8 (the WebSocket layer guarantees that for text), the
 * verdict must follow the rule of ngx_noom_valid_name() as written here
 * again, over an array of code points with look-behind and look-ahead
 * instead of a state machine.  Other bytes must simply not crash it.  The
 * room name fold is checked too: same length, idempotent, and only A-Z
 * changes in ASCII.
 */


#include <stdio.h>
#include <stdlib.h>

#include "ngx_noom_parse.h"
#include "utf8_ref.h"


static int
in(uint32_t c, uint32_t lo, uint32_t hi)
{
    return c >= lo && c <= hi;
}


static int
is_space(uint32_t c)
{
    return c == 0x20 || c == 0xa0 || c == 0x1680 || in(c, 0x2000, 0x200a)
           || c == 0x202f || c == 0x205f || c == 0x2800 || c == 0x3000;
}


static int
is_mark(uint32_t c)
{
    return in(c, 0x300, 0x36f) || in(c, 0x1ab0, 0x1aff)
           || in(c, 0x1dc0, 0x1dff) || in(c, 0x20d0, 0x20ff)
           || in(c, 0xfe20, 0xfe2f);
}


static int
is_pict(uint32_t c)
{
    return in(c, 0x2300, 0x23ff) || in(c, 0x2600, 0x27bf)
           || in(c, 0x2b00, 0x2bff) || in(c, 0x1f000, 0x1faff);
}


static int
is_vs(uint32_t c)
{
    return c == 0xfe0e || c == 0xfe0f;
}


static int
is_tag(uint32_t c)
{
    return in(c, 0xe0020, 0xe007f);
}


static int
is_bad(uint32_t c)
{
    static const uint32_t  one[] = { 0xad, 0x34f, 0x61c, 0x115f, 0x1160,
        0x17b4, 0x17b5, 0x3164, 0xfeff, 0xffa0 };
    static const uint32_t  range[][2] = { { 0, 0x1f }, { 0x7f, 0x9f },
        { 0x180b, 0x180f }, { 0x200b, 0x200c }, { 0x200e, 0x200f },
        { 0x2028, 0x202e }, { 0x2060, 0x206f }, { 0xfe00, 0xfe0d },
        { 0xfff0, 0xfffb }, { 0xfdd0, 0xfdef }, { 0x1bca0, 0x1bca3 },
        { 0x1d173, 0x1d17a }, { 0xe0000, 0xe001f }, { 0xe0080, 0xe0fff } };
    size_t  i;

    for (i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
        if (c == one[i]) {
            return 1;
        }
    }

    for (i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
        if (in(c, range[i][0], range[i][1])) {
            return 1;
        }
    }

    return (c & 0xffff) >= 0xfffe;
}


static int
is_emoji_base(uint32_t c)
{
    static const uint32_t  one[] = { '#', '*', 0xa9, 0xae, 0x203c, 0x2049,
        0x2122, 0x2139, 0x24c2, 0x25aa, 0x25ab, 0x25b6, 0x25c0, 0x3030,
        0x303d, 0x3297, 0x3299 };
    size_t  i;

    for (i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
        if (c == one[i]) {
            return 1;
        }
    }

    return is_pict(c) || in(c, '0', '9') || in(c, 0x2194, 0x21aa)
           || in(c, 0x25fb, 0x25fe);
}


static int
is_latin(uint32_t c)
{
    return in(c, 'A', 'Z') || in(c, 'a', 'z')
           || (in(c, 0xc0, 0xff) && c != 0xd7 && c != 0xf7);
}


static int
reference(const uint8_t *p, size_t len, size_t max)
{
    size_t     i, n, k;
    uint32_t   cp[1024], c, prev, next;
    int        visible;

    if (len == 0 || len > max || len > sizeof(cp) / sizeof(cp[0])) {
        return len != 0 && len <= max ? -1 : 0;
    }

    for (i = 0, k = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            cp[k] = p[i];
            n = 1;

        } else if (p[i] < 0xe0) {
            cp[k] = ((uint32_t) (p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f);
            n = 2;

        } else if (p[i] < 0xf0) {
            cp[k] = ((uint32_t) (p[i] & 0x0f) << 12)
                    | ((uint32_t) (p[i + 1] & 0x3f) << 6) | (p[i + 2] & 0x3f);
            n = 3;

        } else {
            cp[k] = ((uint32_t) (p[i] & 0x07) << 18)
                    | ((uint32_t) (p[i + 1] & 0x3f) << 12)
                    | ((uint32_t) (p[i + 2] & 0x3f) << 6) | (p[i + 3] & 0x3f);
            n = 4;
        }

        k++;
    }

    visible = 0;

    for (i = 0; i < k; i++) {
        c = cp[i];
        prev = i ? cp[i - 1] : 0;
        next = (i + 1 < k) ? cp[i + 1] : 0;

        if (is_space(c)) {
            if (i == 0 || i == k - 1 || is_space(next)) {
                return 0;
            }

        } else if (is_mark(c)) {
            if (i == 0 || is_space(prev)
                || (c <= 0x36f && is_latin(prev))
                || (i >= 2 && is_mark(prev) && is_mark(cp[i - 2])))
            {
                return 0;
            }

        } else if (c == 0x200d) {
            if (i == 0 || !(is_pict(prev) || prev == 0xfe0f)
                || i == k - 1 || !is_pict(next))
            {
                return 0;
            }

        } else if (is_vs(c)) {
            if (i == 0 || !is_emoji_base(prev)) {
                return 0;
            }

        } else if (is_tag(c)) {
            if (i == 0 || !(prev == 0x1f3f4 || is_tag(prev))) {
                return 0;
            }

        } else if (is_bad(c)) {
            return 0;

        } else {
            visible = 1;
        }
    }

    return visible;
}


static void
check_fold(const uint8_t *p, size_t len)
{
    u_char  *a, *b;
    size_t   i;

    a = malloc(len ? len : 1);
    b = malloc(len ? len : 1);
    if (a == NULL || b == NULL) {
        abort();
    }

    ngx_noom_fold_name(a, (u_char *) p, len);
    memcpy(b, a, len);
    ngx_noom_fold_name(b, b, len);

    if (memcmp(a, b, len) != 0) {
        fprintf(stderr, "fold_name: not idempotent on '%.*s'\n", (int) len,
                (const char *) p);
        abort();
    }

    for (i = 0; i < len; i++) {
        if (p[i] < 0x80
            && a[i] != ((p[i] >= 'A' && p[i] <= 'Z') ? (p[i] | 0x20) : p[i]))
        {
            fprintf(stderr, "fold_name: byte %zu of '%.*s'\n", i, (int) len,
                    (const char *) p);
            abort();
        }
    }

    if (utf8_ref(a, len).complete != utf8_ref(p, len).complete) {
        fprintf(stderr, "fold_name: '%.*s' folds to broken UTF-8\n",
                (int) len, (const char *) p);
        abort();
    }

    free(a);
    free(b);
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

    check_fold(data + 1, len);

    if (utf8_ref(data + 1, len).complete
        && reference(data + 1, len, max) >= 0
        && (rc == NGX_OK) != reference(data + 1, len, max))
    {
        fprintf(stderr, "valid_name: '%.*s' (limit %zu): %s\n", (int) len,
                (const char *) data + 1, max,
                rc == NGX_OK ? "accepted" : "refused");
        abort();
    }

    return 0;
}
