
/*
 * Copyright (C) noom authors
 *
 * ngx_noom_eio_payload_next(): Engine.IO v4 polling payloads, packets
 * joined by 0x1e, binary ones as "b" and base64.  Each payload is parsed
 * from a heap copy of exactly its size, so a read past the end is an ASan
 * error; the expected packets are written as "t:<text>" or "b:<hex>",
 * joined by "|", then "!" if the payload ends in an error.
 */


#include <stdlib.h>

#include "tap.h"
#include "ngx_noom_parse.h"


typedef struct {
    const char  *in;
    size_t       len;          /* 0: strlen(in) */
    const char  *want;
} payload_case_t;


static const payload_case_t  cases[] = {
    { "4hello", 0, "t:4hello" },
    { "4test1\x1e" "4test2\x1e" "4test3", 0, "t:4test1|t:4test2|t:4test3" },
    { "bAQIDBA==", 0, "b:01020304" },
    { "4hello\x1e" "bAQIDBA==", 0, "t:4hello|b:01020304" },
    { "bAA==", 0, "b:00" },
    { "bAQ==", 0, "b:01" },
    { "bAR==", 0, "!" },
    { "bAA=", 0, "!" },
    { "bAAA", 0, "!" },
    { "bAAAA", 0, "b:000000" },
    { "bAAA=", 0, "b:0000" },
    { "bAAB=", 0, "!" },
    { "b", 0, "b:" },
    { "bAQ=A", 0, "!" },
    { "b====", 0, "!" },
    { "b!!!!", 0, "!" },
    { "b-_AA", 0, "!" },
    { "b+/AA", 0, "b:fbf000" },
    { "4a\x1e\x1e" "4b", 0, "t:4a|!" },
    { "\x1e", 0, "!" },
    { "4a\x1e", 0, "t:4a" },
    { "", 0, "" },
    { "4caf\xc3\xa9", 0, "t:4caf\xc3\xa9" },
    { "4\xff", 0, "!" },
    { "4\xc3", 0, "!" },
    { "2\x1e" "3\x1e" "1", 0, "t:2|t:3|t:1" },
};


static void
describe(char *out, const char *p, size_t len, ngx_uint_t binary)
{
    size_t  i;

    if (!binary) {
        out += sprintf(out, "t:");
        memcpy(out, p, len);
        out[len] = '\0';
        return;
    }

    out += sprintf(out, "b:");

    for (i = 0; i < len; i++) {
        out += sprintf(out, "%02x", (unsigned char) p[i]);
    }
}


static void
test_case(const payload_case_t *c)
{
    u_char      *copy, *pos, *p;
    char         got[512], one[256];
    size_t       len, n, used;
    ngx_int_t    rc;
    ngx_uint_t   binary;

    len = c->len ? c->len : strlen(c->in);
    copy = malloc(len ? len : 1);
    memcpy(copy, c->in, len);

    pos = copy;
    got[0] = '\0';
    used = 0;

    for ( ;; ) {
        rc = ngx_noom_eio_payload_next(&pos, copy + len, &p, &n, &binary);

        if (rc == NGX_DONE) {
            break;
        }

        if (used) {
            got[used++] = '|';
        }

        if (rc == NGX_ERROR) {
            got[used++] = '!';
            break;
        }

        ok(p >= copy && p + n <= copy + len, "the packet lies in the input");

        describe(one, (char *) p, n, binary);
        n = binary ? strlen(one) : 2 + n;
        memcpy(got + used, one, n);
        used += n;
    }

    got[used] = '\0';

    ok(used == strlen(c->want) && memcmp(got, c->want, used) == 0,
       "payload %zu bytes: %s", len, c->want);

    free(copy);
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_case(&cases[i]);
    }

    return done();
}
