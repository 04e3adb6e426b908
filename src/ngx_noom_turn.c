
/*
 * Copyright (C) noom authors
 *
 * ICE servers for the browsers, with short-lived TURN credentials in the
 * TURN REST API scheme coturn implements (use-auth-secret): the username is
 * "<expiry unix time>:<socket id>", the password base64(HMAC-SHA1(secret,
 * username)).  No TURN password ever ships in JavaScript.
 */


#include "ngx_noom.h"
#include <ngx_sha1.h>


#define NGX_NOOM_SHA1_BLOCK        64
#define NGX_NOOM_SHA1_LEN          20


char *
ngx_noom_turn_ice_server(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    ngx_str_t               *value, *u;
    ngx_uint_t               i;
    ngx_noom_ice_server_t   *s;

    if (mcf->ice_servers == NULL) {
        mcf->ice_servers = ngx_array_create(cf->pool, 2,
                                            sizeof(ngx_noom_ice_server_t));
        if (mcf->ice_servers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    s = ngx_array_push(mcf->ice_servers);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&s->urls, cf->pool, cf->args->nelts - 1,
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    s->turn = 0;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "turn:", 5) == 0
            || ngx_strncmp(value[i].data, "turns:", 6) == 0)
        {
            s->turn = 1;

        } else if (ngx_strncmp(value[i].data, "stun:", 5) != 0
                   && ngx_strncmp(value[i].data, "stuns:", 6) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid ICE server URL \"%V\" in \"%V\" "
                               "directive, it must start with \"stun:\", "
                               "\"stuns:\", \"turn:\" or \"turns:\"",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        u = ngx_array_push(&s->urls);
        if (u == NULL) {
            return NGX_CONF_ERROR;
        }

        *u = value[i];
    }

    return NGX_CONF_OK;
}


/* noom_turn_secret <secret> | file=<path> */

char *
ngx_noom_turn_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    u_char     *p, *last;
    ssize_t     n;
    ngx_str_t  *value, path;
    ngx_file_t  file;
    u_char      buf[4096];

    if (mcf->turn_secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "file=", 5) != 0) {
        mcf->turn_secret = value[1];
        return NGX_CONF_OK;
    }

    path.data = value[1].data + 5;
    path.len = value[1].len - 5;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, buf, sizeof(buf), 0);

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &path);
    }

    if (n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    /* the first line, without surrounding white space */

    p = buf;
    last = buf + n;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    for (n = 0; p + n < last && p[n] != '\n' && p[n] != '\r'; n++) {
        /* void */
    }

    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }

    if (n == 0 || (size_t) n == sizeof(buf)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no secret in the first line of \"%V\"", &path);
        return NGX_CONF_ERROR;
    }

    mcf->turn_secret.len = n;
    mcf->turn_secret.data = ngx_pnalloc(cf->pool, n);
    if (mcf->turn_secret.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(mcf->turn_secret.data, p, n);
    ngx_explicit_memzero(buf, sizeof(buf));

    return NGX_CONF_OK;
}


/* HMAC-SHA1 (RFC 2104) over nginx's SHA-1 */

static void
ngx_noom_hmac_sha1(u_char *out, ngx_str_t *key, u_char *msg, size_t len)
{
    u_char      k[NGX_NOOM_SHA1_BLOCK], inner[NGX_NOOM_SHA1_LEN];
    ngx_uint_t  i;
    ngx_sha1_t  sha1;

    ngx_memzero(k, sizeof(k));

    if (key->len > NGX_NOOM_SHA1_BLOCK) {
        ngx_sha1_init(&sha1);
        ngx_sha1_update(&sha1, key->data, key->len);
        ngx_sha1_final(k, &sha1);

    } else {
        ngx_memcpy(k, key->data, key->len);
    }

    for (i = 0; i < NGX_NOOM_SHA1_BLOCK; i++) {
        k[i] ^= 0x36;
    }

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, k, NGX_NOOM_SHA1_BLOCK);
    ngx_sha1_update(&sha1, msg, len);
    ngx_sha1_final(inner, &sha1);

    for (i = 0; i < NGX_NOOM_SHA1_BLOCK; i++) {
        k[i] ^= 0x36 ^ 0x5c;
    }

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, k, NGX_NOOM_SHA1_BLOCK);
    ngx_sha1_update(&sha1, inner, NGX_NOOM_SHA1_LEN);
    ngx_sha1_final(out, &sha1);

    ngx_explicit_memzero(k, sizeof(k));
}


/* [{urls}, {urls, username, credential}] for one socket */

json_t *
ngx_noom_turn_servers(ngx_http_noom_main_conf_t *mcf, u_char *id)
{
    u_char                  user[NGX_TIME_T_LEN + 1 + NGX_NOOM_ID_LEN];
    u_char                  mac[NGX_NOOM_SHA1_LEN], pass[32];
    size_t                  ulen;
    json_t                 *list, *entry, *urls;
    ngx_str_t              *u, src, dst;
    ngx_uint_t              i, j;
    ngx_noom_ice_server_t  *s;

    list = json_array();

    if (list == NULL || mcf->ice_servers == NULL) {
        return list;
    }

    s = mcf->ice_servers->elts;

    for (i = 0; i < mcf->ice_servers->nelts; i++) {

        urls = json_array();
        entry = json_pack("{so}", "urls", urls);

        if (entry == NULL || json_array_append_new(list, entry) != 0) {
            json_decref(list);
            return NULL;
        }

        u = s[i].urls.elts;

        for (j = 0; j < s[i].urls.nelts; j++) {
            if (json_array_append_new(urls,
                                      json_stringn((char *) u[j].data,
                                                   u[j].len))
                != 0)
            {
                json_decref(list);
                return NULL;
            }
        }

        if (!s[i].turn || mcf->turn_secret.len == 0) {
            continue;
        }

        ulen = ngx_sprintf(user, "%T:%*s", ngx_time() + mcf->turn_ttl,
                           (size_t) NGX_NOOM_ID_LEN, id)
               - user;

        ngx_noom_hmac_sha1(mac, &mcf->turn_secret, user, ulen);

        src.data = mac;
        src.len = sizeof(mac);
        dst.data = pass;
        ngx_encode_base64(&dst, &src);

        if (json_object_set_new(entry, "username",
                                json_stringn((char *) user, ulen))
            != 0
            || json_object_set_new(entry, "credential",
                                   json_stringn((char *) pass, dst.len))
               != 0)
        {
            json_decref(list);
            return NULL;
        }
    }

    return list;
}
