
/*
 * Copyright (C) noom authors
 *
 * ngx_noom_node_msg_parse() and ngx_noom_node_count_parse(): what other
 * nodes (or anyone who can publish on the Redis) send on noom's channels.
 * Each message is parsed from a heap copy of exactly its size, so a read
 * past the end is an ASan error.
 */


#include <stdlib.h>

#include "tap.h"
#include "ngx_noom_parse.h"


#define NODE  "0123456789abcdef"
#define ID    "ABCDEFGHIJ_-345678xy"


typedef struct {
    const char  *in;
    int          ok;
    int          unicast;
    const char  *skip;
    const char  *id;
    const char  *json;
} msg_case_t;


static const msg_case_t  msgs[] = {
    { "noom1 R - - [\"a\"]", 1, 0, NULL, NULL, "[\"a\"]" },
    { "noom1 R " NODE " - [\"a\",1]", 1, 0, NODE, NULL, "[\"a\",1]" },
    { "noom1 R - " ID " []", 1, 0, NULL, ID, "[]" },
    { "noom1 U - " ID " [\"offer\",{}]", 1, 1, NULL, ID, "[\"offer\",{}]" },
    { "noom1 U " NODE " " ID " [1]", 1, 1, NODE, ID, "[1]" },
    { "noom1 U - - [\"a\"]", 0, 0, NULL, NULL, NULL },
    { "noom1 X - - [\"a\"]", 0, 0, NULL, NULL, NULL },
    { "noom2 R - - [\"a\"]", 0, 0, NULL, NULL, NULL },
    { "noom1 R short - [\"a\"]", 0, 0, NULL, NULL, NULL },
    { "noom1 R - shortid [\"a\"]", 0, 0, NULL, NULL, NULL },
    { "noom1 R - - {\"a\":1}", 0, 0, NULL, NULL, NULL },
    { "noom1 R - - ", 0, 0, NULL, NULL, NULL },
    { "noom1 R - -", 0, 0, NULL, NULL, NULL },
    { "noom1 R - ", 0, 0, NULL, NULL, NULL },
    { "noom1 R -", 0, 0, NULL, NULL, NULL },
    { "noom1 R", 0, 0, NULL, NULL, NULL },
    { "noom1 ", 0, 0, NULL, NULL, NULL },
    { "noom1", 0, 0, NULL, NULL, NULL },
    { "", 0, 0, NULL, NULL, NULL },
    { "noom1 R " NODE, 0, 0, NULL, NULL, NULL },
    { "noom1 R - " ID, 0, 0, NULL, NULL, NULL },
};


typedef struct {
    const char  *in;
    int          ok;
    uint64_t     ver;
    ngx_uint_t   count;
    const char  *room;
} count_case_t;


static const count_case_t  counts[] = {
    { "1 3 r1", 1, 1, 3, "r1" },
    { "42 0 a room with spaces", 1, 42, 0, "a room with spaces" },
    { "7 1 \xc3\xa9t\xc3\xa9", 1, 7, 1, "\xc3\xa9t\xc3\xa9" },
    { "1", 0, 0, 0, NULL },
    { "1 2", 0, 0, 0, NULL },
    { "1 2 ", 0, 0, 0, NULL },
    { "x 1 r1", 0, 0, 0, NULL },
    { "1 x r1", 0, 0, 0, NULL },
    { "1 -5 r1", 0, 0, 0, NULL },
    { " 1 2 r1", 0, 0, 0, NULL },
    { "1  2 r1", 0, 0, 0, NULL },
    { "99999999999999999999999 1 r1", 0, 0, 0, NULL },
    { "", 0, 0, 0, NULL },
};


static int
same(u_char *p, size_t len, const char *want)
{
    if (want == NULL) {
        return p == NULL;
    }

    return p && ngx_strlen(want) <= len
           && memcmp(p, want, ngx_strlen(want)) == 0;
}


int
main(void)
{
    u_char               *copy;
    size_t                i, len;
    uint64_t              ver;
    ngx_int_t             rc;
    ngx_str_t             room;
    ngx_uint_t            count;
    ngx_noom_node_msg_t   msg;

    for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        len = strlen(msgs[i].in);
        copy = malloc(len ? len : 1);
        memcpy(copy, msgs[i].in, len);

        rc = ngx_noom_node_msg_parse(copy, len, &msg);

        if (!msgs[i].ok) {
            ok(rc == NGX_ERROR && msg.err != NULL, "refused: '%s' (%s)",
               msgs[i].in, rc == NGX_ERROR ? msg.err : "accepted");
            free(copy);
            continue;
        }

        ok(rc == NGX_OK
           && (ngx_uint_t) msgs[i].unicast == msg.unicast
           && same(msg.skip, NGX_NOOM_NODE_LEN, msgs[i].skip)
           && same(msg.id, NGX_NOOM_NODE_ID_LEN, msgs[i].id)
           && msg.json_len == strlen(msgs[i].json)
           && memcmp(msg.json, msgs[i].json, msg.json_len) == 0,
           "parsed: '%s'", msgs[i].in);

        free(copy);
    }

    for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        len = strlen(counts[i].in);
        copy = malloc(len ? len : 1);
        memcpy(copy, counts[i].in, len);

        rc = ngx_noom_node_count_parse(copy, len, &ver, &count, &room);

        if (!counts[i].ok) {
            ok(rc == NGX_ERROR, "count refused: '%s'", counts[i].in);

        } else {
            ok(rc == NGX_OK && ver == counts[i].ver
               && count == counts[i].count
               && room.len == strlen(counts[i].room)
               && memcmp(room.data, counts[i].room, room.len) == 0,
               "count parsed: '%s'", counts[i].in);
        }

        free(copy);
    }

    return done();
}
