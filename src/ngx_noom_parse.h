
/*
 * Copyright (C) noom authors
 *
 * The pure parts of noom: they take bytes and a state struct and touch no
 * nginx connection, pool or global, so t/unit and fuzz/ build them alone.
 */


#ifndef _NGX_NOOM_PARSE_H_INCLUDED_
#define _NGX_NOOM_PARSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

/* where SSE2 is there (every x86-64), plain bytes 16 at a time */
#if (defined __SSE2__ && defined __GNUC__)
#include <emmintrin.h>
#define NGX_NOOM_SSE2              1
#endif

#if (defined __GNUC__)
#pragma GCC visibility push(hidden)
#endif


/* RFC 6455 opcodes */
#define NGX_NOOM_WS_CONT           0x0
#define NGX_NOOM_WS_TEXT           0x1
#define NGX_NOOM_WS_BINARY         0x2
#define NGX_NOOM_WS_CLOSE          0x8
#define NGX_NOOM_WS_PING           0x9
#define NGX_NOOM_WS_PONG           0xa

/* close codes */
#define NGX_NOOM_WS_NORMAL         1000
#define NGX_NOOM_WS_GOING_AWAY     1001
#define NGX_NOOM_WS_PROTOCOL       1002
#define NGX_NOOM_WS_UNSUPPORTED    1003
#define NGX_NOOM_WS_BAD_DATA       1007
#define NGX_NOOM_WS_POLICY         1008
#define NGX_NOOM_WS_TOO_BIG        1009
#define NGX_NOOM_WS_INTERNAL       1011
#define NGX_NOOM_WS_TRY_AGAIN      1013

/* what ngx_noom_ws_parse() returns */
#define NGX_NOOM_WS_AGAIN          0
#define NGX_NOOM_WS_FRAME          1
#define NGX_NOOM_WS_DATA           2
#define NGX_NOOM_WS_END            3
#define NGX_NOOM_WS_MESSAGE        4        /* with whole: all of it */
#define NGX_NOOM_WS_ERROR         -1

#define NGX_NOOM_WS_MAX_HEADER     14

/* what ngx_noom_ws_header() writes for a payload of len bytes */
#define NGX_NOOM_WS_HEADER_LEN(len)                                           \
    ((len) < 126 ? 2 : ((len) < 65536 ? 4 : 10))


typedef struct {
    uint64_t                   len;         /* payload of this frame */
    uint64_t                   left;        /* payload still to come */
    uint64_t                   msg_len;     /* data message so far */
    uint64_t                   max;         /* data message limit */
    uint32_t                   utf8;
    ngx_uint_t                 state;
    ngx_uint_t                 opcode;
    ngx_uint_t                 msg_opcode;  /* 0: no message open */
    ngx_uint_t                 complete;    /* message ended: its opcode */
    ngx_uint_t                 close_code;  /* why NGX_NOOM_WS_ERROR */
    const char                *error;
    ngx_uint_t                 hdr_len;
    ngx_uint_t                 hdr_need;
    ngx_uint_t                 mask_pos;
    u_char                     hdr[NGX_NOOM_WS_MAX_HEADER];
    u_char                     mask[4];
    unsigned                   fin:1;
    unsigned                   masked:1;
    unsigned                   unmasked:1;  /* accept server frames */
    unsigned                   skip:1;      /* skipping a failed frame */
    unsigned                   dead:1;      /* no way to find the next */
    unsigned                   whole:1;     /* NGX_NOOM_WS_MESSAGE wanted */
    unsigned                   clear:1;     /* the payload is unmasked */
} ngx_noom_ws_parser_t;


void ngx_noom_ws_parser_init(ngx_noom_ws_parser_t *p, uint64_t max,
    ngx_uint_t unmasked);
ngx_int_t ngx_noom_ws_parse(ngx_noom_ws_parser_t *p, u_char **pos,
    u_char *last, u_char **data, size_t *n);
size_t ngx_noom_ws_header(u_char *p, ngx_uint_t opcode, uint64_t len);
ngx_int_t ngx_noom_ws_close_payload(u_char *p, size_t len,
    ngx_uint_t *code);

#define NGX_NOOM_UTF8_ACCEPT       0
#define NGX_NOOM_UTF8_REJECT       0xffffffff

uint32_t ngx_noom_utf8(uint32_t state, u_char *p, size_t len);


/* Engine.IO v4 packet types */
#define NGX_NOOM_EIO_OPEN          '0'
#define NGX_NOOM_EIO_CLOSE         '1'
#define NGX_NOOM_EIO_PING          '2'
#define NGX_NOOM_EIO_PONG          '3'
#define NGX_NOOM_EIO_MESSAGE       '4'
#define NGX_NOOM_EIO_UPGRADE       '5'
#define NGX_NOOM_EIO_NOOP          '6'

ngx_int_t ngx_noom_eio_payload_next(u_char **pos, u_char *last, u_char **p,
    size_t *len, ngx_uint_t *binary);


/* Socket.IO v5 packet types */
#define NGX_NOOM_SIO_CONNECT       0
#define NGX_NOOM_SIO_DISCONNECT    1
#define NGX_NOOM_SIO_EVENT         2
#define NGX_NOOM_SIO_ACK           3
#define NGX_NOOM_SIO_CONNECT_ERROR 4
#define NGX_NOOM_SIO_BINARY_EVENT  5
#define NGX_NOOM_SIO_BINARY_ACK    6

/* ngx_noom_sio_message(): an EVENT that ends with its offset */
#define NGX_NOOM_SIO_OFFSET        0x100

#define NGX_NOOM_SIO_NO_ACK        -1
#define NGX_NOOM_SIO_MAX_ACK_DIGITS 15


typedef struct {
    ngx_uint_t                 type;
    ngx_uint_t                 attachments;
    ngx_str_t                  nsp;
    int64_t                    ack;         /* NGX_NOOM_SIO_NO_ACK */
    u_char                    *data;        /* JSON, may be empty */
    size_t                     len;
} ngx_noom_sio_packet_t;


ngx_int_t ngx_noom_sio_parse(u_char *p, size_t len,
    ngx_noom_sio_packet_t *pkt);
ngx_int_t ngx_noom_valid_name(u_char *p, size_t len, size_t max);
void ngx_noom_fold_name(u_char *dst, u_char *src, size_t len);


/* the JSON subset of the hot events, read without jansson */
#define NGX_NOOM_JSON_STRING       1
#define NGX_NOOM_JSON_NULL         2
#define NGX_NOOM_JSON_VALUE        3        /* any other value */

#define NGX_NOOM_JSON_MAX_DEPTH    32


typedef struct {
    u_char                    *data;        /* as it is in the text */
    size_t                     len;
    size_t                     slen;        /* a string, unescaped */
    ngx_uint_t                 type;
    ngx_uint_t                 escaped;     /* a string with escapes */
} ngx_noom_json_tok_t;


ngx_int_t ngx_noom_json_scan(u_char *p, size_t len, ngx_noom_json_tok_t *tok,
    ngx_uint_t max, ngx_uint_t *n);
ngx_int_t ngx_noom_json_event_for(u_char *p, size_t len, ngx_str_t *name,
    u_char *room, size_t room_len, ngx_noom_json_tok_t *tok);
u_char *ngx_noom_json_escape(u_char *dst, u_char *src, size_t len);
u_char *ngx_noom_sio_decimal(u_char *p, uint64_t n);
ngx_uint_t ngx_noom_json_surrogates(u_char *p, size_t len);


/*
 * What nodes say to each other through Redis (ngx_noom_cluster_parse.c):
 * "noom1 <R|U> <skip node|-> <socket id|-> <JSON>" on a room's channel,
 * "<version> <count> <room>" on "noom:rooms".
 */

#define NGX_NOOM_NODE_LEN          16
#define NGX_NOOM_NODE_ID_LEN       20

typedef struct {
    ngx_uint_t                 unicast;
    u_char                    *skip;        /* a node, or NULL */
    u_char                    *id;          /* a socket id, or NULL */
    u_char                    *json;
    size_t                     json_len;
    const char                *err;         /* why it is refused */
} ngx_noom_node_msg_t;

ngx_int_t ngx_noom_node_msg_parse(u_char *p, size_t len,
    ngx_noom_node_msg_t *msg);
ngx_int_t ngx_noom_node_count_parse(u_char *p, size_t len, uint64_t *ver,
    ngx_uint_t *count, ngx_str_t *room);


#if (defined __GNUC__)
#pragma GCC visibility pop
#endif


#endif /* _NGX_NOOM_PARSE_H_INCLUDED_ */
