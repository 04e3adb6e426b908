
/*
 * Copyright (C) noom authors
 *
 * libFuzzer target for ngx_noom_eio_payload_next(), differential against
 * a reference written from the Engine.IO v4 payload rules: records split
 * at every 0x1e; an empty record is an error; "b" and base64 (standard
 * alphabet, length a multiple of four, at most two '=' at the end, zero
 * bits under them) is binary; anything else must be UTF-8 (checked here
 * by a decoder of its own).  The payload is parsed from a heap copy of
 * exactly its size.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_noom_parse.h"


static int
b64(unsigned char c)
{
    const char  *a, *p;

    a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    p = c ? strchr(a, c) : NULL;

    return p ? (int) (p - a) : -1;
}


static int
utf8_ok(const unsigned char *s, size_t n)
{
    size_t    i, k, need;
    uint32_t  cp, min;

    for (i = 0; i < n; /* void */) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }

        if ((s[i] & 0xe0) == 0xc0) {
            need = 1; cp = s[i] & 0x1f; min = 0x80;
        } else if ((s[i] & 0xf0) == 0xe0) {
            need = 2; cp = s[i] & 0x0f; min = 0x800;
        } else if ((s[i] & 0xf8) == 0xf0) {
            need = 3; cp = s[i] & 0x07; min = 0x10000;
        } else {
            return 0;
        }

        for (k = 1; k <= need; k++) {
            if (i + k >= n || (s[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (s[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }

        i += need + 1;
    }

    return 1;
}


/* one record: 1 and the decoded bytes in out, or 0 */

static int
ref_record(const unsigned char *s, size_t n, unsigned char *out,
    size_t *olen, int *binary)
{
    size_t    i, pad;
    uint32_t  acc;
    int       bits, v;

    if (n == 0) {
        return 0;
    }

    if (s[0] != 'b') {
        if (!utf8_ok(s, n)) {
            return 0;
        }

        memcpy(out, s, n);
        *olen = n;
        *binary = 0;
        return 1;
    }

    s++;
    n--;

    if (n % 4) {
        return 0;
    }

    pad = 0;

    while (pad < n && pad < 3 && s[n - 1 - pad] == '=') {
        pad++;
    }

    if (pad > 2) {
        return 0;
    }

    acc = 0;
    bits = 0;
    *olen = 0;

    for (i = 0; i < n - pad; i++) {
        v = b64(s[i]);
        if (v < 0) {
            return 0;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[(*olen)++] = (unsigned char) (acc >> bits);
        }
    }

    if (pad && (acc & ((1u << bits) - 1)) != 0) {
        return 0;
    }

    *binary = 1;
    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char         *copy, *pos, *p, *ref;
    size_t          n, rlen, at, end;
    ngx_int_t       rc;
    ngx_uint_t      binary;
    int             rbin, rok;

    copy = malloc(size ? size : 1);
    ref = malloc(size ? size : 1);
    memcpy(copy, data, size);

    pos = copy;
    at = 0;

    for ( ;; ) {
        rc = ngx_noom_eio_payload_next(&pos, copy + size, &p, &n, &binary);

        if (at >= size) {
            if (rc != NGX_DONE) {
                abort();
            }

            break;
        }

        for (end = at; end < size && data[end] != 0x1e; end++) {
            /* void */
        }

        rok = ref_record(data + at, end - at, ref, &rlen, &rbin);

        if (!rok) {
            if (rc != NGX_ERROR) {
                abort();
            }

            break;
        }

        if (rc != NGX_OK || p < copy || p + n > copy + size
            || n != rlen || (int) binary != rbin || memcmp(p, ref, n) != 0)
        {
            abort();
        }

        at = (end < size) ? end + 1 : end;

        if (pos != copy + at) {
            abort();
        }
    }

    free(copy);
    free(ref);

    return 0;
}
