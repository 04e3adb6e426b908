
/*
 * Copyright (C) noom authors
 *
 * A very small TAP producer for the unit tests: ok(), is_int(), is_mem(),
 * is_str(), diag() and done().  Each test program is one TAP stream; done()
 * prints the plan and returns the exit status.
 */


#ifndef _NOOM_TAP_H_INCLUDED_
#define _NOOM_TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>


static unsigned  tap_run;
static unsigned  tap_failed;


static inline void
tap_vreport(int pass, const char *file, int line, const char *fmt, va_list ap)
{
    tap_run++;

    if (!pass) {
        tap_failed++;
    }

    printf("%sok %u - ", pass ? "" : "not ", tap_run);
    vprintf(fmt, ap);
    printf("\n");

    if (!pass) {
        printf("#   Failed test at %s line %d.\n", file, line);
    }
}


static inline int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    tap_vreport(pass, file, line, fmt, ap);
    va_end(ap);

    return pass;
}


static inline int
tap_is_int(long long got, long long want, const char *file, int line,
    const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    tap_vreport(got == want, file, line, fmt, ap);
    va_end(ap);

    if (got != want) {
        printf("#          got: %lld\n#     expected: %lld\n", got, want);
    }

    return got == want;
}


static inline void
tap_hex(const char *label, const void *p, size_t len)
{
    size_t          i;
    const uint8_t  *b = p;

    printf("# %13s: (%zu bytes)", label, len);

    for (i = 0; i < len && i < 64; i++) {
        printf(" %02x", b[i]);
    }

    printf("%s\n", i < len ? " ..." : "");
}


static inline int
tap_is_mem(const void *got, size_t glen, const void *want, size_t wlen,
    const char *file, int line, const char *fmt, ...)
{
    int      pass;
    va_list  ap;

    pass = (glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0));

    va_start(ap, fmt);
    tap_vreport(pass, file, line, fmt, ap);
    va_end(ap);

    if (!pass) {
        tap_hex("got", got, glen);
        tap_hex("expected", want, wlen);
    }

    return pass;
}


static inline int
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *fmt, ...)
{
    int      pass;
    va_list  ap;

    pass = (got == want
            || (got != NULL && want != NULL && strcmp(got, want) == 0));

    va_start(ap, fmt);
    tap_vreport(pass, file, line, fmt, ap);
    va_end(ap);

    if (!pass) {
        printf("#          got: '%s'\n#     expected: '%s'\n",
               got ? got : "(null)", want ? want : "(null)");
    }

    return pass;
}


#define ok(cond, ...)                                                         \
    tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...)                                                \
    tap_is_int((long long) (got), (long long) (want), __FILE__, __LINE__,     \
               __VA_ARGS__)

#define is_mem(got, glen, want, wlen, ...)                                    \
    tap_is_mem(got, glen, want, wlen, __FILE__, __LINE__, __VA_ARGS__)

#define is_str(got, want, ...)                                                \
    tap_is_str(got, want, __FILE__, __LINE__, __VA_ARGS__)

#define diag(...)                                                             \
    do { printf("# "); printf(__VA_ARGS__); printf("\n"); } while (0)


static inline int
done(void)
{
    printf("1..%u\n", tap_run);

    if (tap_failed) {
        printf("# Looks like you failed %u test%s of %u.\n", tap_failed,
               tap_failed == 1 ? "" : "s", tap_run);
        return 1;
    }

    return 0;
}


#endif /* _NOOM_TAP_H_INCLUDED_ */
