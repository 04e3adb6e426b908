
/*
 * Copyright (C) noom authors
 *
 * What one client must not be able to do to the others through the side
 * doors: fill the error log (a line said a thousand times a second is said
 * a few times, then counted), and guess the admin password (failed logins
 * are counted per client address in the zone, drained at a rate, as
 * limit_req drains requests, and refused without a bcrypt check past a
 * burst).
 */


#include "ngx_noom.h"


/* the addresses the zone keeps failed logins of; the oldest one goes */
#define NGX_NOOM_LOGIN_ADDRS       512

/* at most this many lines a second per call site, then a count */
#define NGX_NOOM_LOG_LINES         5
#define NGX_NOOM_LOG_WINDOW        1000


typedef struct {
    ngx_msec_t                 last;
    ngx_uint_t                 excess;      /* in thousandths */
    u_char                     len;
    u_char                     addr[NGX_NOOM_LOGIN_KEY_LEN];
} ngx_noom_login_addr_t;


struct ngx_noom_logins_s {
    ngx_uint_t                 n;
    ngx_noom_login_addr_t      addr[NGX_NOOM_LOGIN_ADDRS];
};


static ngx_noom_login_addr_t *ngx_noom_login_find_locked(
    ngx_http_noom_main_conf_t *mcf, u_char *key, size_t len);


/*
 * ngx_log_error() through a per-call-site budget: NGX_NOOM_LOG_LINES lines
 * a second, the others counted; the first line of the next second says how
 * many were not written.  Per worker: each worker has its own budget.
 */

void
ngx_noom_log_limited(ngx_noom_log_limit_t *ll, ngx_uint_t level,
    ngx_log_t *log, const char *fmt, ...)
{
    u_char      *p, line[NGX_MAX_ERROR_STR];
    va_list      args;
    ngx_msec_t   now;

    if (log->log_level < level) {
        return;
    }

    now = ngx_current_msec;

    if (now - ll->start >= NGX_NOOM_LOG_WINDOW) {
        ll->start = now;
        ll->lines = 0;
    }

    if (ll->lines >= NGX_NOOM_LOG_LINES) {
        ll->suppressed++;
        return;
    }

    ll->lines++;

    va_start(args, fmt);
    p = ngx_vslprintf(line, line + sizeof(line), fmt, args);
    va_end(args);

    if (ll->suppressed) {
        p = ngx_slprintf(p, line + sizeof(line),
                         " (and %ui similar lines not logged)",
                         ll->suppressed);
        ll->suppressed = 0;
    }

    ngx_log_error(level, log, 0, "%*s", p - line, line);
}


/*
 * Before a login is checked: NGX_OK, and the attempt already counts as a
 * failure of its address until ngx_noom_login_done() says otherwise (so
 * that parallel connections cannot start more checks than the burst);
 * NGX_BUSY: the address is over its burst; NGX_ERROR: the zone is full.
 */

ngx_int_t
ngx_noom_login_start(ngx_http_noom_main_conf_t *mcf, u_char *key,
    size_t len)
{
    ngx_int_t               rc;
    ngx_noom_login_addr_t  *a;

    if (mcf->login_burst == 0) {
        return NGX_OK;
    }

    ngx_noom_zone_lock();

    a = ngx_noom_login_find_locked(mcf, key, len);

    if (a == NULL) {
        rc = NGX_ERROR;

    } else if (a->excess >= mcf->login_burst * 1000) {
        rc = NGX_BUSY;

    } else {
        a->excess += 1000;
        rc = NGX_OK;
    }

    ngx_noom_zone_unlock();

    return rc;
}


/* the check ended: a success gives the attempt back */

void
ngx_noom_login_done(ngx_http_noom_main_conf_t *mcf, u_char *key, size_t len,
    ngx_uint_t ok)
{
    ngx_noom_login_addr_t  *a;

    if (mcf->login_burst == 0 || !ok) {
        return;
    }

    ngx_noom_zone_lock();

    a = ngx_noom_login_find_locked(mcf, key, len);

    if (a) {
        a->excess = (a->excess > 1000) ? a->excess - 1000 : 0;
    }

    ngx_noom_zone_unlock();
}


/*
 * The address's entry, drained to now, created if need be in place of the
 * entry seen longest ago.  The table is allocated from the zone at the
 * first login and has a fixed size: an attacker with many addresses evicts
 * entries, as with limit_req, but cannot make it grow.
 */

static ngx_noom_login_addr_t *
ngx_noom_login_find_locked(ngx_http_noom_main_conf_t *mcf, u_char *key,
    size_t len)
{
    ngx_uint_t              i, drained;
    ngx_msec_t              now, elapsed;
    ngx_noom_logins_t      *t;
    ngx_noom_login_addr_t  *a, *old;

    t = ngx_noom_shm->logins;

    if (t == NULL) {
        t = ngx_slab_calloc_locked(ngx_noom_shpool,
                                   sizeof(ngx_noom_logins_t));
        if (t == NULL) {
            return NULL;
        }

        ngx_noom_shm->logins = t;
    }

    now = ngx_current_msec;
    a = NULL;
    old = &t->addr[0];

    for (i = 0; i < t->n; i++) {
        if (t->addr[i].len == len
            && ngx_memcmp(t->addr[i].addr, key, len) == 0)
        {
            a = &t->addr[i];
            break;
        }

        if ((ngx_msec_int_t) (t->addr[i].last - old->last) < 0) {
            old = &t->addr[i];
        }
    }

    if (a == NULL) {
        a = (t->n < NGX_NOOM_LOGIN_ADDRS) ? &t->addr[t->n++] : old;

        a->len = (u_char) len;
        ngx_memcpy(a->addr, key, len);
        a->excess = 0;
        a->last = now;

        return a;
    }

    /*
     * Each worker reads its own cached clock: one that has not updated it
     * this turn can be behind the worker that wrote "last".  Such a
     * negative interval drains nothing (read as unsigned, it was taken
     * for more than an hour and emptied the bucket).
     */

    if ((ngx_msec_int_t) (now - a->last) <= 0) {
        return a;
    }

    elapsed = now - a->last;

    /* login_rate: failures a minute, in thousandths */
    drained = (elapsed > 3600000) ? a->excess
                                  : elapsed * mcf->login_rate / 60000;

    if (drained || elapsed > 3600000) {
        a->excess = (a->excess > drained) ? a->excess - drained : 0;
        a->last = now;
    }

    return a;
}


/* what a client is counted by: its IPv4 address or its IPv6 /64 */

size_t
ngx_noom_login_key(ngx_connection_t *c, u_char *key)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (c->sockaddr->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) c->sockaddr;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            ngx_memcpy(key, &sin6->sin6_addr.s6_addr[12], 4);
            return 4;
        }

        /* one host may have a whole /64 */
        ngx_memcpy(key, sin6->sin6_addr.s6_addr, 8);
        return 8;
#endif

    case AF_INET:
        sin = (struct sockaddr_in *) c->sockaddr;
        ngx_memcpy(key, &sin->sin_addr, 4);
        return 4;

    default:
        /* unix sockets: one key for all */
        return 0;
    }
}


/* the same key from the address as text: a polling session's is kept so */

size_t
ngx_noom_login_key_text(ngx_str_t *addr, u_char *key)
{
    in_addr_t   a;
#if (NGX_HAVE_INET6)
    u_char      a6[16];
#endif

    a = ngx_inet_addr(addr->data, addr->len);

    if (a != INADDR_NONE) {
        ngx_memcpy(key, &a, 4);
        return 4;
    }

#if (NGX_HAVE_INET6)

    if (ngx_inet6_addr(addr->data, addr->len, a6) == NGX_OK) {

        if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *) a6)) {
            ngx_memcpy(key, &a6[12], 4);
            return 4;
        }

        ngx_memcpy(key, a6, 8);
        return 8;
    }

#endif

    return 0;
}
