
/*
 * Copyright (C) noom authors
 *
 * The messages of noom's own Redis channels, taken apart without trusting
 * them: whoever can publish on the Redis can send them.  Only the form is
 * checked here; that the JSON is an event is jansson's to say, in
 * ngx_noom_cluster.c.
 */


#include "ngx_noom_parse.h"


/* "noom1 <R|U> <skip node|-> <socket id|-> <JSON>" */

ngx_int_t
ngx_noom_node_msg_parse(u_char *p, size_t len, ngx_noom_node_msg_t *msg)
{
    u_char  *last;

    last = p + len;

    msg->skip = NULL;
    msg->id = NULL;

    if (len < 6 || ngx_strncmp(p, "noom1 ", 6) != 0) {
        msg->err = "not \"noom1\"";
        return NGX_ERROR;
    }

    p += 6;

    if (last - p < 2 || (p[0] != 'R' && p[0] != 'U') || p[1] != ' ') {
        msg->err = "unknown type";
        return NGX_ERROR;
    }

    msg->unicast = (p[0] == 'U');
    p += 2;

    if (last - p >= 2 && p[0] == '-' && p[1] == ' ') {
        p += 2;

    } else if (last - p > NGX_NOOM_NODE_LEN && p[NGX_NOOM_NODE_LEN] == ' ') {
        msg->skip = p;
        p += NGX_NOOM_NODE_LEN + 1;

    } else {
        msg->err = "bad node";
        return NGX_ERROR;
    }

    if (last - p >= 2 && p[0] == '-' && p[1] == ' ') {
        p += 2;

    } else if (last - p > NGX_NOOM_NODE_ID_LEN
               && p[NGX_NOOM_NODE_ID_LEN] == ' ')
    {
        msg->id = p;
        p += NGX_NOOM_NODE_ID_LEN + 1;

    } else {
        msg->err = "bad socket id";
        return NGX_ERROR;
    }

    if (msg->unicast && msg->id == NULL) {
        msg->err = "unicast without an id";
        return NGX_ERROR;
    }

    if (p == last || *p != '[') {
        msg->err = "not an array";
        return NGX_ERROR;
    }

    msg->json = p;
    msg->json_len = last - p;

    return NGX_OK;
}


/* "<version> <count> <room>", numbers in decimal, the room not empty */

ngx_int_t
ngx_noom_node_count_parse(u_char *p, size_t len, uint64_t *ver,
    ngx_uint_t *count, ngx_str_t *room)
{
    u_char      *last;
    uint64_t     n[2];
    ngx_uint_t   i;

    last = p + len;

    /* the unit tests link no nginx: no ngx_atoi() */

    for (i = 0; i < 2; i++) {
        n[i] = 0;

        if (p == last || *p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            if (n[i] > (NGX_MAX_INT_T_VALUE - 9) / 10) {
                return NGX_ERROR;
            }

            n[i] = n[i] * 10 + (*p++ - '0');
        }

        if (p == last || *p++ != ' ') {
            return NGX_ERROR;
        }
    }

    if (p == last) {
        return NGX_ERROR;
    }

    *ver = n[0];
    *count = (ngx_uint_t) n[1];
    room->data = p;
    room->len = last - p;

    return NGX_OK;
}
