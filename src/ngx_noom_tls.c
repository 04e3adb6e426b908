
/*
 * Copyright (C) noom authors
 *
 * noom_tls_takeover: a WebSocket over TLS 1.3 leaves OpenSSL after its
 * handshake and its 101.  OpenSSL's state for a connection is about 13 KB
 * (the SSL object with its record pipeline, two cipher contexts, the
 * session) and none of it can be freed while the connection lives; what a
 * WebSocket needs afterwards is the two directions' traffic secrets, keys,
 * IVs and record numbers (about 250 bytes).  So the module keeps those,
 * frees the SSL object, and seals and opens the records itself (RFC 8446,
 * section 5), with one cipher context for each direction in the worker.
 *
 * What it needs from OpenSSL, through public calls only:
 * - the traffic secrets: the key log callback (SSL_CTX_set_keylog_callback)
 *   hands over CLIENT_TRAFFIC_SECRET_0 and SERVER_TRAFFIC_SECRET_0;
 * - the record numbers: the message callback (SSL_CTX_set_msg_callback)
 *   reports every record's header, and each side's Finished message; the
 *   records after a side's Finished are those under its traffic keys.
 * A connection that OpenSSL must keep (TLS 1.2, a key update before the
 * upgrade, bytes OpenSSL holds, a cipher suite not known here) stays with
 * OpenSSL as before: tls_kept counts those.
 *
 * After the takeover the module handles, as RFC 8446 asks: application
 * data; close_notify (the end of the stream) and other alerts (the end of
 * the connection); KeyUpdate, with an update of its own before the next
 * record when the peer asks (requests that come together get one answer);
 * any other record is an error that ends the connection.  A handshake
 * message split over records is refused: the only one expected, KeyUpdate,
 * is 5 bytes.
 */


#include "ngx_noom.h"


#if (NGX_NOOM_TLS13)

#include <openssl/hmac.h>


#define NGX_NOOM_TLS_HEADER     5
#define NGX_NOOM_TLS_TAG        16
#define NGX_NOOM_TLS_PLAIN      16384
/* TLSInnerPlaintext is at most 2^14 + 1 bytes, and the tag is 16 */
#define NGX_NOOM_TLS_CIPHER     (NGX_NOOM_TLS_PLAIN + 1 + NGX_NOOM_TLS_TAG)
#define NGX_NOOM_TLS_SECRET     48

/* a KeyUpdate record, then a whole record of data */
#define NGX_NOOM_TLS_OBUF                                                    \
    (2 * NGX_NOOM_TLS_HEADER + 5 + 2 + 2 * NGX_NOOM_TLS_TAG                  \
     + NGX_NOOM_TLS_PLAIN)


/* what the callbacks learn of a TLS 1.3 connection, until the takeover */

typedef struct {
    u_char                     client[NGX_NOOM_TLS_SECRET];
    u_char                     server[NGX_NOOM_TLS_SECRET];
    uint64_t                   rseq;
    uint64_t                   wseq;
    size_t                     len;
    unsigned                   have_client:1;
    unsigned                   have_server:1;
    unsigned                   rapp:1;      /* the client's Finished read */
    unsigned                   wapp:1;      /* the server's written */
    unsigned                   unusable:1;  /* a KeyUpdate, a bad line */
} ngx_noom_tls_keys_t;


typedef struct {
    u_char                     secret[NGX_NOOM_TLS_SECRET];
    u_char                     key[32];
    u_char                     iv[12];
    uint64_t                   seq;
    uint64_t                   gen;         /* the key's, in the worker */
} ngx_noom_tls_dir_t;


/*
 * A cipher context of the worker and what it was last set up with: a new
 * cipher costs most (the provider's context is made again), a new key
 * less, a new nonce least (about 2.5, 0.9 and 0.5 us a small record).
 */

typedef struct {
    EVP_CIPHER_CTX            *ctx;
    const EVP_CIPHER          *cipher;
    uint64_t                   gen;
} ngx_noom_tls_cctx_t;


struct ngx_noom_tls_s {
    ngx_noom_tls_dir_t         rd;
    ngx_noom_tls_dir_t         wr;
    u_char                    *in;          /* a record's first bytes */
    size_t                     in_len;
    u_char                    *out;         /* a record's last bytes */
    size_t                     out_pos;
    size_t                     out_len;
    unsigned                   suite:2;
    unsigned                   eof:1;       /* close_notify came */
    unsigned                   update_due:1;
};


typedef struct {
    const char                *cipher;
    const char                *digest;
    size_t                     key_len;
    size_t                     secret_len;
} ngx_noom_tls_suite_t;


static void ngx_noom_tls_keylog(const SSL *ssl, const char *line);
static void ngx_noom_tls_msg(int write_p, int version, int content_type,
    const void *buf, size_t len, SSL *ssl, void *arg);
static ngx_int_t ngx_noom_tls_init_worker(ngx_log_t *log);
static ngx_int_t ngx_noom_tls_dir_keys(ngx_noom_tls_t *t,
    ngx_noom_tls_dir_t *d);
static ngx_int_t ngx_noom_tls_expand(ngx_noom_tls_t *t, u_char *secret,
    const char *label, u_char *out, size_t len);
static int ngx_noom_tls_init(ngx_noom_tls_t *t, ngx_noom_tls_cctx_t *cc,
    ngx_noom_tls_dir_t *d, int enc);
static size_t ngx_noom_tls_seal(ngx_noom_tls_t *t, u_char type,
    u_char *in, size_t len, u_char *out);
static ngx_int_t ngx_noom_tls_open(ngx_noom_tls_t *t, u_char *rec,
    size_t len, size_t *plen, u_char *type);
static ngx_int_t ngx_noom_tls_records(ngx_noom_ctx_t *ctx, u_char *buf,
    u_char *last, u_char **plain_end, u_char **rest);
static ngx_int_t ngx_noom_tls_update(ngx_noom_tls_t *t,
    ngx_noom_tls_dir_t *d);
static size_t ngx_noom_tls_seal_update(ngx_noom_tls_t *t, u_char *out);
static ngx_int_t ngx_noom_tls_keep(ngx_noom_tls_t *t, ngx_connection_t *c,
    u_char *p, size_t n);


static ngx_noom_tls_suite_t  ngx_noom_tls_suites[] = {
    { "AES-128-GCM", "SHA256", 16, 32 },        /* 0x1301 */
    { "AES-256-GCM", "SHA384", 32, 48 },        /* 0x1302 */
    { "ChaCha20-Poly1305", "SHA256", 32, 32 }   /* 0x1303 */
};


static int                   ngx_noom_tls_index = -1;
static ngx_noom_tls_cctx_t   ngx_noom_tls_enc;
static ngx_noom_tls_cctx_t   ngx_noom_tls_dec;
static uint64_t              ngx_noom_tls_gen;
static const EVP_CIPHER *ngx_noom_tls_ciphers[3];
static const EVP_MD     *ngx_noom_tls_digests[3];
static u_char           *ngx_noom_tls_obuf;


/*
 * At configuration: every server{} of http{} with TLS gets the callbacks
 * (a server may be reached by SNI through another's listen socket).  They
 * cost a TLS 1.3 connection that is not a WebSocket about 130 bytes of its
 * pool, and a call for each record.
 */

ngx_int_t
ngx_noom_tls_conf(ngx_conf_t *cf)
{
    ngx_uint_t                  s;
    ngx_http_ssl_srv_conf_t    *sscf;
    ngx_http_core_srv_conf_t  **cscfp;
    ngx_http_core_main_conf_t  *cmcf;

    if (ngx_noom_tls_index == -1) {
        /*
         * No free function: OpenSSL would call it for every SSL object
         * freed, and after a reload with a new copy of the module the
         * function could be gone.  The keys live in the connection's pool.
         */

        ngx_noom_tls_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        if (ngx_noom_tls_index == -1) {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "SSL_get_ex_new_index() failed");
            return NGX_ERROR;
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    cscfp = cmcf->servers.elts;

    for (s = 0; s < cmcf->servers.nelts; s++) {
        sscf = cscfp[s]->ctx->srv_conf[ngx_http_ssl_module.ctx_index];

        if (sscf == NULL || sscf->ssl.ctx == NULL) {
            continue;
        }

        SSL_CTX_set_keylog_callback(sscf->ssl.ctx, ngx_noom_tls_keylog);
        SSL_CTX_set_msg_callback(sscf->ssl.ctx, ngx_noom_tls_msg);
    }

    return NGX_OK;
}


static void
ngx_noom_tls_keylog(const SSL *ssl, const char *line)
{
    u_char               *dst, *p, *last;
    size_t                len;
    ngx_int_t             hi, lo;
    ngx_connection_t     *c;
    ngx_noom_tls_keys_t  *k;

    k = SSL_get_ex_data(ssl, ngx_noom_tls_index);

    if (ngx_strncmp(line, "SERVER_HANDSHAKE_TRAFFIC_SECRET ", 32) == 0) {
        /* the first line of a TLS 1.3 handshake */

        c = ngx_ssl_get_connection((SSL *) ssl);

        if (k == NULL && c && c->pool) {
            k = ngx_pcalloc(c->pool, sizeof(ngx_noom_tls_keys_t));
            if (k == NULL) {
                return;
            }

            (void) SSL_set_ex_data((SSL *) ssl, ngx_noom_tls_index, k);
        }

        return;
    }

    if (k == NULL) {
        return;
    }

    if (ngx_strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) {
        dst = k->client;
        k->have_client = 1;

    } else if (ngx_strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) {
        dst = k->server;
        k->have_server = 1;

    } else {
        return;
    }

    /* "LABEL <client random> <secret>", in hex */

    p = (u_char *) ngx_strchr(line + 24, ' ');
    if (p == NULL) {
        k->unusable = 1;
        return;
    }

    p++;
    last = p + ngx_strlen(p);
    len = (last - p) / 2;

    if (len * 2 != (size_t) (last - p) || len > NGX_NOOM_TLS_SECRET
        || (k->len && k->len != len))
    {
        k->unusable = 1;
        return;
    }

    k->len = len;

    for ( /* void */ ; p < last; p += 2) {
        hi = ngx_hextoi(p, 1);
        lo = ngx_hextoi(p + 1, 1);

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            k->unusable = 1;
            return;
        }

        *dst++ = (u_char) (hi << 4 | lo);
    }
}


/*
 * A record's header goes by before its contents: the header of a side's
 * Finished is counted before the Finished is seen, and every record after
 * it is one under that side's traffic keys.
 */

static void
ngx_noom_tls_msg(int write_p, int version, int content_type,
    const void *buf, size_t len, SSL *ssl, void *arg)
{
    const u_char         *p = buf;
    ngx_noom_tls_keys_t  *k;

    k = SSL_get_ex_data(ssl, ngx_noom_tls_index);

    if (k == NULL) {
        return;
    }

    if (content_type == SSL3_RT_HEADER) {

        if (write_p) {
            k->wseq += k->wapp;

        } else {
            k->rseq += k->rapp;
        }

        return;
    }

    if (content_type != SSL3_RT_HANDSHAKE || len == 0) {
        return;
    }

    switch (p[0]) {

    case SSL3_MT_FINISHED:

        if (write_p) {
            k->wapp = 1;

        } else {
            k->rapp = 1;
        }

        break;

    case SSL3_MT_KEY_UPDATE:
        k->unusable = 1;
        break;
    }
}


static ngx_int_t
ngx_noom_tls_init_worker(ngx_log_t *log)
{
    ngx_uint_t  i;

    if (ngx_noom_tls_obuf) {
        return NGX_OK;
    }

    for (i = 0; i < 3; i++) {
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
        /* fetched once: an implicit fetch at every record costs */
        ngx_noom_tls_ciphers[i] = EVP_CIPHER_fetch(NULL,
                                      ngx_noom_tls_suites[i].cipher, NULL);
        ngx_noom_tls_digests[i] = EVP_MD_fetch(NULL,
                                      ngx_noom_tls_suites[i].digest, NULL);
#else
        ngx_noom_tls_ciphers[i] = EVP_get_cipherbyname(
                                      ngx_noom_tls_suites[i].cipher);
        ngx_noom_tls_digests[i] = EVP_get_digestbyname(
                                      ngx_noom_tls_suites[i].digest);
#endif
    }

    ngx_noom_tls_enc.ctx = EVP_CIPHER_CTX_new();
    ngx_noom_tls_dec.ctx = EVP_CIPHER_CTX_new();
    ngx_noom_tls_obuf = ngx_alloc(NGX_NOOM_TLS_OBUF, log);

    if (ngx_noom_tls_enc.ctx == NULL || ngx_noom_tls_dec.ctx == NULL
        || ngx_noom_tls_obuf == NULL)
    {
        ngx_noom_tls_exit();
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_noom_tls_exit(void)
{
    ngx_uint_t  i;

    if (ngx_noom_tls_enc.ctx) {
        EVP_CIPHER_CTX_free(ngx_noom_tls_enc.ctx);
    }

    if (ngx_noom_tls_dec.ctx) {
        EVP_CIPHER_CTX_free(ngx_noom_tls_dec.ctx);
    }

    ngx_memzero(&ngx_noom_tls_enc, sizeof(ngx_noom_tls_cctx_t));
    ngx_memzero(&ngx_noom_tls_dec, sizeof(ngx_noom_tls_cctx_t));

    if (ngx_noom_tls_obuf) {
        ngx_free(ngx_noom_tls_obuf);
        ngx_noom_tls_obuf = NULL;
    }

    for (i = 0; i < 3; i++) {
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
        EVP_CIPHER_free((EVP_CIPHER *) ngx_noom_tls_ciphers[i]);
        EVP_MD_free((EVP_MD *) ngx_noom_tls_digests[i]);
#endif
        ngx_noom_tls_ciphers[i] = NULL;
        ngx_noom_tls_digests[i] = NULL;
    }
}


/*
 * Right after the 101: NGX_OK, the connection is the module's and OpenSSL's
 * object is freed; NGX_DECLINED, it stays with OpenSSL; NGX_ERROR.
 */

ngx_int_t
ngx_noom_tls_takeover(ngx_noom_ctx_t *ctx)
{
    SSL                  *ssl;
    ngx_uint_t            id;
    const char           *why;
    ngx_noom_tls_t       *t;
    ngx_connection_t     *c;
    const SSL_CIPHER     *cipher;
    ngx_noom_tls_keys_t  *k;

    c = ctx->connection;
    ssl = c->ssl->connection;
    k = SSL_get_ex_data(ssl, ngx_noom_tls_index);
    cipher = SSL_get_current_cipher(ssl);
    id = cipher ? SSL_CIPHER_get_id(cipher) & 0xffff : 0;

    if (SSL_version(ssl) != TLS1_3_VERSION || k == NULL) {
        why = "not TLS 1.3";

    } else if (!k->have_client || !k->have_server || !k->rapp || !k->wapp
               || k->unusable)
    {
        why = "the keys are not known";

    } else if (SSL_has_pending(ssl) || c->buffered) {
        why = "OpenSSL holds bytes";

    } else if (id < 0x1301 || id > 0x1303
               || k->len != ngx_noom_tls_suites[id - 0x1301].secret_len)
    {
        why = "the cipher suite is not known";

    } else {
        why = NULL;
    }

    if (why == NULL && ngx_noom_tls_init_worker(c->log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (why == NULL && (ngx_noom_tls_ciphers[id - 0x1301] == NULL
                        || ngx_noom_tls_digests[id - 0x1301] == NULL))
    {
        why = "OpenSSL lacks the cipher";
    }

    if (why) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "noom: the connection stays with OpenSSL: %s", why);
        ngx_noom_stat(tls_kept, 1);
        return NGX_DECLINED;
    }

    t = ngx_calloc(sizeof(ngx_noom_tls_t), c->log);
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->suite = id - 0x1301;

    ngx_memcpy(t->rd.secret, k->client, k->len);
    ngx_memcpy(t->wr.secret, k->server, k->len);

    if (ngx_noom_tls_dir_keys(t, &t->rd) != NGX_OK
        || ngx_noom_tls_dir_keys(t, &t->wr) != NGX_OK)
    {
        ngx_noom_tls_free(ctx, t);
        return NGX_ERROR;
    }

    t->rd.seq = k->rseq;
    t->wr.seq = k->wseq;

    OPENSSL_cleanse(k, sizeof(ngx_noom_tls_keys_t));

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "noom: TLS taken over, suite %ui, records %uL/%uL",
                   id, t->rd.seq, t->wr.seq);

    /* as after a close_notify both ways: the session stays resumable */

    SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN|SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl);

    c->ssl = NULL;
    c->recv = ngx_recv;
    c->send = ngx_send;
    c->recv_chain = ngx_recv_chain;
    c->send_chain = ngx_send_chain;

    ctx->tls = t;

    ngx_noom_stat(tls_takeovers, 1);

    return NGX_OK;
}


/* a close_notify if it can go at once, and the state, wiped */

void
ngx_noom_tls_free(ngx_noom_ctx_t *ctx, ngx_noom_tls_t *t)
{
    size_t             n;
    ngx_connection_t  *c;

    c = ctx->connection;

    if (ctx->tls == t && !c->error && t->out == NULL && ngx_noom_tls_obuf) {
        n = ngx_noom_tls_seal(t, 21, (u_char *) "\1\0", 2, ngx_noom_tls_obuf);
        (void) ngx_send(c, ngx_noom_tls_obuf, n);
    }

    if (t->in) {
        ngx_free(t->in);
    }

    if (t->out) {
        ngx_free(t->out);
    }

    if (ctx->tls == t) {
        ctx->tls = NULL;
    }

    OPENSSL_cleanse(t, sizeof(ngx_noom_tls_t));
    ngx_free(t);
}


/*
 * Reads into buf (at least a record's size): the application data of the
 * whole records read, moved to the start of buf; 0 at the end of the
 * stream; NGX_AGAIN; NGX_ERROR.  The first bytes of a record not read in
 * full are kept until the rest comes.
 */

ssize_t
ngx_noom_tls_recv(ngx_noom_ctx_t *ctx, u_char *buf, size_t size)
{
    u_char            *last, *plain, *rest;
    size_t             held;
    ssize_t            n;
    ngx_noom_tls_t    *t;
    ngx_connection_t  *c;

    t = ctx->tls;
    c = ctx->connection;

    for ( ;; ) {

        if (t->eof) {
            return 0;
        }

        held = t->in_len;

        if (held) {
            ngx_memcpy(buf, t->in, held);
        }

        n = ngx_recv(c, buf + held, size - held);

        if (n == NGX_AGAIN || n == NGX_ERROR) {
            return n;
        }

        if (n == 0) {
            if (held) {
                ngx_log_error(NGX_LOG_INFO, c->log, 0,
                              "noom: the client closed the connection "
                              "inside a TLS record");
            }

            return 0;
        }

        if (t->in) {
            ngx_free(t->in);
            t->in = NULL;
            t->in_len = 0;
        }

        last = buf + held + n;

        if (ngx_noom_tls_records(ctx, buf, last, &plain, &rest) != NGX_OK) {
            c->error = 1;
            return NGX_ERROR;
        }

        if (rest < last && !t->eof) {
            t->in = ngx_alloc(last - rest, c->log);
            if (t->in == NULL) {
                return NGX_ERROR;
            }

            t->in_len = last - rest;
            ngx_memcpy(t->in, rest, t->in_len);
        }

        if (t->update_due) {
            ngx_post_event(c->write, &ngx_posted_events);
        }

        if (plain > buf) {
            return plain - buf;
        }

        if (!c->read->ready) {
            return t->eof ? 0 : NGX_AGAIN;
        }
    }
}


/*
 * The whole records in [buf, last), opened in place: their application
 * data is moved down to buf (a record's data is shorter than the record,
 * so it never overtakes what is still to be opened).
 */

static ngx_int_t
ngx_noom_tls_records(ngx_noom_ctx_t *ctx, u_char *buf, u_char *last,
    u_char **plain_end, u_char **rest)
{
    u_char            *p, *out, *data, type;
    size_t             len, plen;
    ngx_noom_tls_t    *t;
    ngx_connection_t  *c;

    t = ctx->tls;
    c = ctx->connection;
    p = buf;
    out = buf;

    while (last - p >= NGX_NOOM_TLS_HEADER) {

        len = (size_t) p[3] << 8 | p[4];

        if (p[0] != 23 || len > NGX_NOOM_TLS_CIPHER
            || len <= NGX_NOOM_TLS_TAG)
        {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "noom: a TLS record of type %d and length %uz "
                          "after the handshake", p[0], len);
            return NGX_ERROR;
        }

        if ((size_t) (last - p) < NGX_NOOM_TLS_HEADER + len) {
            break;
        }

        if (ngx_noom_tls_open(t, p, len, &plen, &type) != NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "noom: a TLS record failed to decrypt");
            return NGX_ERROR;
        }

        data = p + NGX_NOOM_TLS_HEADER;
        p += NGX_NOOM_TLS_HEADER + len;

        switch (type) {

        case 23:
            ngx_memmove(out, data, plen);
            out += plen;
            break;

        case 21:
            if (plen == 2 && data[1] == 0) {
                ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                               "noom: TLS close_notify");
                t->eof = 1;
                *plain_end = out;
                *rest = last;
                return NGX_OK;
            }

            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "noom: the client sent the TLS alert %d",
                          plen == 2 ? data[1] : -1);
            return NGX_ERROR;

        case 22:
            /* KeyUpdate: type 24, length 1, update_requested 0 or 1 */

            if (plen == 5 && data[0] == 24 && data[1] == 0 && data[2] == 0
                && data[3] == 1 && data[4] <= 1)
            {
                if (ngx_noom_tls_update(t, &t->rd) != NGX_OK) {
                    return NGX_ERROR;
                }

                t->update_due |= data[4];

                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                               "noom: TLS KeyUpdate, requested: %d", data[4]);
                break;
            }

            /* fall through */

        default:
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "noom: an unexpected TLS message (record type %d, "
                          "%uz bytes) after the handshake", type, plen);
            return NGX_ERROR;
        }
    }

    *plain_end = out;
    *rest = p;

    return NGX_OK;
}


/*
 * One record of at most 16 KB of data, preceded by a KeyUpdate of ours if
 * one is due.  It counts as sent once sealed: what the socket did not take
 * is kept and goes out first (ngx_noom_tls_flush()).  Returns len or
 * NGX_ERROR; the caller flushed first.
 */

ssize_t
ngx_noom_tls_send(ngx_noom_ctx_t *ctx, u_char *data, size_t len)
{
    size_t             n;
    ssize_t            sent;
    ngx_noom_tls_t    *t;
    ngx_connection_t  *c;

    t = ctx->tls;
    c = ctx->connection;

    n = 0;

    if (t->update_due) {
        n = ngx_noom_tls_seal_update(t, ngx_noom_tls_obuf);

        if (n == 0) {
            return NGX_ERROR;
        }
    }

    n += ngx_noom_tls_seal(t, 23, data, len, ngx_noom_tls_obuf + n);

    sent = ngx_send(c, ngx_noom_tls_obuf, n);

    if (sent == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (sent == NGX_AGAIN) {
        sent = 0;
    }

    if ((size_t) sent < n) {
        if (ngx_noom_tls_keep(t, c, ngx_noom_tls_obuf + sent, n - sent)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        c->write->ready = 0;
    }

    return len;
}


/*
 * NGX_OK: nothing of a record waits and no KeyUpdate is due (it went),
 * NGX_AGAIN, NGX_ERROR
 */

ngx_int_t
ngx_noom_tls_flush(ngx_noom_ctx_t *ctx)
{
    size_t             n;
    ssize_t            sent;
    ngx_noom_tls_t    *t;
    ngx_connection_t  *c;

    t = ctx->tls;
    c = ctx->connection;

    for ( ;; ) {

        if (t->out == NULL) {

            if (!t->update_due) {
                return NGX_OK;
            }

            n = ngx_noom_tls_seal_update(t, ngx_noom_tls_obuf);

            if (n == 0) {
                return NGX_ERROR;
            }

            if (ngx_noom_tls_keep(t, c, ngx_noom_tls_obuf, n) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        if (!c->write->ready) {
            return NGX_AGAIN;
        }

        sent = ngx_send(c, t->out + t->out_pos, t->out_len - t->out_pos);

        if (sent == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (sent == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        t->out_pos += sent;

        if (t->out_pos == t->out_len) {
            ngx_free(t->out);
            t->out = NULL;
        }
    }
}


/* ciphertext the socket did not take waits in t->out */

static ngx_int_t
ngx_noom_tls_keep(ngx_noom_tls_t *t, ngx_connection_t *c, u_char *p,
    size_t n)
{
    t->out = ngx_alloc(n, c->log);
    if (t->out == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(t->out, p, n);
    t->out_pos = 0;
    t->out_len = n;

    return NGX_OK;
}


ngx_uint_t
ngx_noom_tls_pending(ngx_noom_ctx_t *ctx)
{
    return ctx->tls->out != NULL || ctx->tls->update_due;
}


/* our KeyUpdate (update_not_requested), then our keys move on */

static size_t
ngx_noom_tls_seal_update(ngx_noom_tls_t *t, u_char *out)
{
    size_t  n;

    n = ngx_noom_tls_seal(t, 22, (u_char *) "\x18\0\0\1\0", 5, out);

    if (ngx_noom_tls_update(t, &t->wr) != NGX_OK) {
        return 0;
    }

    t->update_due = 0;

    return n;
}


static ngx_int_t
ngx_noom_tls_update(ngx_noom_tls_t *t, ngx_noom_tls_dir_t *d)
{
    u_char  next[NGX_NOOM_TLS_SECRET];

    if (ngx_noom_tls_expand(t, d->secret, "traffic upd", next,
                            ngx_noom_tls_suites[t->suite].secret_len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(d->secret, next, sizeof(next));
    OPENSSL_cleanse(next, sizeof(next));

    return ngx_noom_tls_dir_keys(t, d);
}


static ngx_int_t
ngx_noom_tls_dir_keys(ngx_noom_tls_t *t, ngx_noom_tls_dir_t *d)
{
    d->seq = 0;
    d->gen = ++ngx_noom_tls_gen;

    if (ngx_noom_tls_expand(t, d->secret, "key", d->key,
                            ngx_noom_tls_suites[t->suite].key_len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_noom_tls_expand(t, d->secret, "iv", d->iv, sizeof(d->iv));
}


/*
 * HKDF-Expand-Label(secret, label, "", len) of RFC 8446: len is at most
 * the hash's size here, so the expansion is a single HMAC.
 */

static ngx_int_t
ngx_noom_tls_expand(ngx_noom_tls_t *t, u_char *secret, const char *label,
    u_char *out, size_t len)
{
    u_char        info[64], md[EVP_MAX_MD_SIZE], *p;
    size_t        n;
    unsigned int  md_len;

    n = ngx_strlen(label);

    p = info;
    *p++ = (u_char) (len >> 8);
    *p++ = (u_char) len;
    *p++ = (u_char) (sizeof("tls13 ") - 1 + n);
    p = ngx_cpymem(p, "tls13 ", sizeof("tls13 ") - 1);
    p = ngx_cpymem(p, label, n);
    *p++ = 0;
    *p++ = 1;

    if (HMAC(ngx_noom_tls_digests[t->suite], secret,
             ngx_noom_tls_suites[t->suite].secret_len, info, p - info,
             md, &md_len)
        == NULL || md_len < len)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(out, md, len);
    OPENSSL_cleanse(md, sizeof(md));

    return NGX_OK;
}


/* the worker's context set up for the next record of d: 1 or 0 */

static int
ngx_noom_tls_init(ngx_noom_tls_t *t, ngx_noom_tls_cctx_t *cc,
    ngx_noom_tls_dir_t *d, int enc)
{
    int                rc;
    u_char             nonce[12];
    ngx_uint_t         i;
    const u_char      *key;
    const EVP_CIPHER  *cipher;

    ngx_memcpy(nonce, d->iv, 12);

    for (i = 0; i < 8; i++) {
        nonce[11 - i] ^= (u_char) (d->seq >> (8 * i));
    }

    d->seq++;

    cipher = ngx_noom_tls_ciphers[t->suite];

    if (cc->cipher == cipher) {
        key = (cc->gen == d->gen) ? NULL : d->key;
        cipher = NULL;

    } else {
        key = d->key;
    }

    rc = EVP_CipherInit_ex(cc->ctx, cipher, NULL, key, nonce, enc);

    if (rc == 1) {
        cc->cipher = ngx_noom_tls_ciphers[t->suite];
        cc->gen = d->gen;

    } else {
        cc->cipher = NULL;
    }

    return rc;
}


/* the record of in[len] with its inner type, into out: the record's size */

static size_t
ngx_noom_tls_seal(ngx_noom_tls_t *t, u_char type, u_char *in, size_t len,
    u_char *out)
{
    int              n;
    size_t           clen;
    EVP_CIPHER_CTX  *ctx;

    ctx = ngx_noom_tls_enc.ctx;
    clen = len + 1 + NGX_NOOM_TLS_TAG;

    out[0] = 23;
    out[1] = 3;
    out[2] = 3;
    out[3] = (u_char) (clen >> 8);
    out[4] = (u_char) clen;

    /* in and out are apart: the data is encrypted without a copy */

    if (ngx_noom_tls_init(t, &ngx_noom_tls_enc, &t->wr, 1) != 1
        || EVP_EncryptUpdate(ctx, NULL, &n, out, NGX_NOOM_TLS_HEADER) != 1
        || EVP_EncryptUpdate(ctx, out + NGX_NOOM_TLS_HEADER, &n, in, len)
           != 1
        || EVP_EncryptUpdate(ctx, out + NGX_NOOM_TLS_HEADER + len, &n,
                             &type, 1) != 1
        || EVP_EncryptFinal_ex(ctx, out + NGX_NOOM_TLS_HEADER + len + 1, &n)
           != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, NGX_NOOM_TLS_TAG,
                               out + NGX_NOOM_TLS_HEADER + len + 1) != 1)
    {
        /* not for these ciphers once initialized; the peer would refuse */
        ngx_ssl_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "noom: sealing a TLS record failed");
    }

    return NGX_NOOM_TLS_HEADER + clen;
}


static ngx_int_t
ngx_noom_tls_open(ngx_noom_tls_t *t, u_char *rec, size_t len, size_t *plen,
    u_char *type)
{
    int              n;
    u_char          *data;
    size_t           dlen;
    EVP_CIPHER_CTX  *ctx;

    ctx = ngx_noom_tls_dec.ctx;
    data = rec + NGX_NOOM_TLS_HEADER;
    dlen = len - NGX_NOOM_TLS_TAG;

    if (ngx_noom_tls_init(t, &ngx_noom_tls_dec, &t->rd, 0) != 1
        || EVP_DecryptUpdate(ctx, NULL, &n, rec, NGX_NOOM_TLS_HEADER) != 1
        || EVP_DecryptUpdate(ctx, data, &n, data, dlen) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, NGX_NOOM_TLS_TAG,
                               data + dlen) != 1
        || EVP_DecryptFinal_ex(ctx, data + dlen, &n) != 1)
    {
        return NGX_ERROR;
    }

    /* the inner type is the last byte that is not padding */

    while (dlen && data[dlen - 1] == 0) {
        dlen--;
    }

    if (dlen == 0 || dlen - 1 > NGX_NOOM_TLS_PLAIN) {
        return NGX_ERROR;
    }

    *type = data[dlen - 1];
    *plen = dlen - 1;

    return NGX_OK;
}

#endif
