
/*
 * Copyright (C) noom authors
 *
 * A reference UTF-8 checker for the tests and the fuzzers, written the
 * other way round from ngx_noom_utf8(): it decodes code points and reasons
 * about the values a partial sequence could still take, instead of tracking
 * byte ranges.  utf8_ref() tells where a byte string stops being the prefix
 * of any valid UTF-8 string (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF).
 */


#ifndef _NOOM_UTF8_REF_H_INCLUDED_
#define _NOOM_UTF8_REF_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct {
    size_t    bad;        /* index of the first byte no valid string has
                             there; the input length when there is none */
    int       complete;   /* no error and it ends on a code point boundary */
} utf8_ref_t;


/* can a sequence of n bytes, of which "have" are known and give the high
 * bits "cp", still decode to a Unicode scalar value of the right length? */

static int
utf8_ref_possible(uint32_t cp, unsigned n, unsigned have)
{
    unsigned  rem;
    uint32_t  lo, hi, a, b;

    static const uint32_t  min[5] = { 0, 0, 0x80, 0x800, 0x10000 };

    rem = 6 * (n - have);
    lo = cp << rem;
    hi = lo | ((1u << rem) - 1);

    a = lo > min[n] ? lo : min[n];
    b = hi < 0x10ffff ? hi : 0x10ffff;

    if (a > b) {
        return 0;
    }

    if (a >= 0xd800 && b <= 0xdfff) {
        return 0;
    }

    return 1;
}


static utf8_ref_t
utf8_ref(const uint8_t *p, size_t len)
{
    size_t      i;
    uint32_t    cp;
    unsigned    n, have;
    utf8_ref_t  r;

    i = 0;

    while (i < len) {

        if (p[i] < 0x80) {
            i++;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            n = 2;
            cp = p[i] & 0x1f;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 3;
            cp = p[i] & 0x0f;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 4;
            cp = p[i] & 0x07;

        } else {
            r.bad = i;
            r.complete = 0;
            return r;
        }

        if (!utf8_ref_possible(cp, n, 1)) {
            r.bad = i;
            r.complete = 0;
            return r;
        }

        for (have = 1; have < n; have++) {

            if (i + have == len) {
                r.bad = len;
                r.complete = 0;
                return r;
            }

            if ((p[i + have] & 0xc0) != 0x80) {
                r.bad = i + have;
                r.complete = 0;
                return r;
            }

            cp = (cp << 6) | (p[i + have] & 0x3f);

            if (!utf8_ref_possible(cp, n, have + 1)) {
                r.bad = i + have;
                r.complete = 0;
                return r;
            }
        }

        i += n;
    }

    r.bad = len;
    r.complete = 1;
    return r;
}


#endif /* _NOOM_UTF8_REF_H_INCLUDED_ */
