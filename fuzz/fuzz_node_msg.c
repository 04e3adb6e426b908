
/*
 * Copyright (C) noom authors
 *
 * libFuzzer target for the messages of noom's Redis channels:
 * ngx_noom_node_msg_parse() ("M" and the message) and
 * ngx_noom_node_count_parse() ("C" and the message), each from a heap copy
 * of exactly its size.  What they accept must point inside the message:
 * the node and the id at their lengths, the JSON to the end, starting
 * with "[".
 */


#include <stdio.h>
#include <stdlib.h>

#include "ngx_noom_parse.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char               *copy, *last;
    size_t                len;
    uint64_t              ver;
    ngx_int_t             rc;
    ngx_str_t             room;
    ngx_uint_t            count;
    ngx_noom_node_msg_t   msg;

    if (size < 1) {
        return 0;
    }

    len = size - 1;
    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data + 1, len);
    last = copy + len;

    if (data[0] == 'C') {
        rc = ngx_noom_node_count_parse(copy, len, &ver, &count, &room);

        if (rc == NGX_OK
            && (room.len == 0 || room.data <= copy
                || room.data + room.len != last))
        {
            fprintf(stderr, "count_parse: room out of the message\n");
            abort();
        }

    } else {
        rc = ngx_noom_node_msg_parse(copy, len, &msg);

        if (rc == NGX_OK
            && (msg.json < copy || msg.json + msg.json_len != last
                || msg.json_len == 0 || msg.json[0] != '['
                || (msg.skip && msg.skip + NGX_NOOM_NODE_LEN > msg.json)
                || (msg.id && msg.id + NGX_NOOM_NODE_ID_LEN > msg.json)
                || (msg.unicast && msg.id == NULL)))
        {
            fprintf(stderr, "msg_parse: accepted a bad message\n");
            abort();
        }

        if (rc != NGX_OK && (rc != NGX_ERROR || msg.err == NULL)) {
            fprintf(stderr, "msg_parse: refused without a reason\n");
            abort();
        }
    }

    free(copy);

    return 0;
}
