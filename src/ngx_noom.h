
/*
 * Copyright (C) noom authors
 */


#ifndef _NGX_NOOM_H_INCLUDED_
#define _NGX_NOOM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>

#include "ngx_noom_parse.h"

/*
 * The module's own symbols are hidden: its files call each other directly,
 * not through the PLT, and the compiler may assume no other definition.
 * A dynamic module exports only what ngx_modules.c defines.
 */
#if (defined __GNUC__)
#pragma GCC visibility push(hidden)
#endif


/* noom_tls_takeover: OpenSSL 1.1.1 or later (ngx_noom_tls.c) */

#if (NGX_HTTP_SSL && defined TLS1_3_VERSION                                  \
     && OPENSSL_VERSION_NUMBER >= 0x10101000L                                \
     && !defined LIBRESSL_VERSION_NUMBER && !defined OPENSSL_IS_BORINGSSL)
#define NGX_NOOM_TLS13  1
#else
#define NGX_NOOM_TLS13  0
#endif


#define NGX_NOOM_VERSION            "0.1.0"

/* socket ids: base64url of 15 random bytes, as Socket.IO makes them */
#define NGX_NOOM_ID_LEN             20
#define NGX_NOOM_ID_RAW             15

/* what a location serves */
#define NGX_NOOM_MODE_ROOMS         1
#define NGX_NOOM_MODE_TEST_WS       2
#define NGX_NOOM_MODE_TEST_EIO      3
#define NGX_NOOM_MODE_TEST_SIO      4

/* what a connection speaks */
#define NGX_NOOM_KIND_PLAIN         1   /* the tutorial's JSON lobby */
#define NGX_NOOM_KIND_SIO           2   /* noom rooms over Socket.IO */
#define NGX_NOOM_KIND_WS_ECHO       3
#define NGX_NOOM_KIND_EIO_ECHO      4
#define NGX_NOOM_KIND_SIO_TEST      5
#define NGX_NOOM_KIND_PROXY         6   /* upgrades a polling session */

#define NGX_NOOM_NSP_MAX            2
#define NGX_NOOM_MAX_WORKERS        1024
#define NGX_NOOM_MAX_ATTACHMENTS    10
#define NGX_NOOM_MAX_ARGS           16

/* per-worker lists of local connections */
#define NGX_NOOM_LIST_ALL           0   /* every upgraded connection */
#define NGX_NOOM_LIST_APP           1   /* Socket.IO sockets on "/" */
#define NGX_NOOM_LIST_PLAIN         2   /* the plain WebSocket lobby */
#define NGX_NOOM_LIST_ADMIN         3   /* logged in /admin sockets */
#define NGX_NOOM_LISTS              4

/* the namespaces of a noom_rooms location */
#define NGX_NOOM_NSP_APP            0   /* "/" */
#define NGX_NOOM_NSP_ADMIN          1   /* "/admin", with noom_admin on */

/* why a room cannot be joined */
#define NGX_NOOM_ERR_FULL           -10
#define NGX_NOOM_ERR_ROOMS          -11
#define NGX_NOOM_ERR_NOMEM          -12
#define NGX_NOOM_ERR_CLUSTER        -13 /* Redis cannot be reached */

/* inter-worker records */
#define NGX_NOOM_REC_SKIP           0
#define NGX_NOOM_REC_ROOM           1   /* frames for a room's members */
#define NGX_NOOM_REC_UNICAST        2   /* frames for one member */
#define NGX_NOOM_REC_PLAIN          3   /* frames for the plain lobby */
#define NGX_NOOM_REC_ROOMS_CHANGED  4   /* send room_change to all */
#define NGX_NOOM_REC_ADMIN          5   /* frames for the admin sockets */
#define NGX_NOOM_REC_ACTION         6   /* an admin action on one socket */
#define NGX_NOOM_REC_POLL           7   /* to a polling session's owner */
#define NGX_NOOM_REC_PREQ           8   /* to a parked polling request */
#define NGX_NOOM_REC_PROXY          9   /* to an upgrading WebSocket */

/* admin actions, in the room field of an NGX_NOOM_REC_ACTION record */
#define NGX_NOOM_ACT_DISCONNECT     1   /* "41", as if the client left "/" */
#define NGX_NOOM_ACT_CLOSE          2   /* the same, then a WebSocket close */
#define NGX_NOOM_ACT_JOIN           3   /* enter_room(payload) */
#define NGX_NOOM_ACT_LEAVE          4   /* leave_room(payload) */
#define NGX_NOOM_ACT_EMIT           5   /* send the payload's frames */

#define NGX_NOOM_ADMIN_SESSIONS     32
#define NGX_NOOM_ADMIN_ADDR_LEN     64
#define NGX_NOOM_ADMIN_STR_LEN      256


/*
 * Why a session ends, as the layers above the transports say it.  The
 * values are WebSocket's close codes, which the WebSocket transport sends
 * as they are; HTTP long-polling ends the session with a close packet.
 */
#define NGX_NOOM_END_NORMAL         1000
#define NGX_NOOM_END_GOING_AWAY     1001
#define NGX_NOOM_END_UNSUPPORTED    1003
#define NGX_NOOM_END_BAD_DATA       1007
#define NGX_NOOM_END_POLICY         1008
#define NGX_NOOM_END_TOO_BIG        1009
#define NGX_NOOM_END_INTERNAL       1011


typedef struct ngx_noom_ctx_s       ngx_noom_ctx_t;
typedef struct ngx_noom_out_s       ngx_noom_out_t;
typedef struct ngx_noom_lroom_s     ngx_noom_lroom_t;
typedef struct ngx_noom_sess_s      ngx_noom_sess_t;
typedef struct ngx_noom_tls_s       ngx_noom_tls_t;


typedef struct {
    ngx_uint_t                 mode;
    ngx_msec_t                 ping_interval;
    ngx_msec_t                 ping_timeout;
    ngx_msec_t                 connect_timeout;
    ngx_msec_t                 close_timeout;
    size_t                     max_payload;
    size_t                     send_buffer;
    ngx_array_t               *origins;     /* ngx_str_t, NULL: any */
    ngx_flag_t                 worker_header;
    ngx_uint_t                 rate;        /* messages a second, 0: off */
    ngx_uint_t                 burst;
    ngx_flag_t                 admin;       /* serve "/admin" */
    ngx_flag_t                 admin_readonly;
    ngx_int_t                  admin_auth;  /* 0: off, 1: credentials */
    ngx_str_t                  admin_user;
    ngx_str_t                  admin_hash;  /* bcrypt, NUL-terminated */
    ngx_uint_t                 log_level;   /* of per-event failures */
    ngx_flag_t                 tls_takeover;
} ngx_http_noom_loc_conf_t;


typedef struct {
    ngx_array_t                urls;        /* ngx_str_t */
    ngx_flag_t                 turn;
} ngx_noom_ice_server_t;


/* noom_redis: where the rooms of several nodes meet (ngx_noom_cluster.c) */

typedef struct {
    ngx_str_t                  addr;        /* for the log */
    ngx_str_t                  host;        /* an IP address, NUL-ended */
    ngx_str_t                  path;        /* unix:, NUL-ended */
    ngx_str_t                  password;
    ngx_int_t                  port;
    ngx_int_t                  db;
    ngx_msec_t                 node_timeout;
    ngx_uint_t                 max_pending;
    u_char                     node[16];    /* this node's name, in hex */
} ngx_noom_redis_conf_t;


typedef struct {
    ngx_shm_zone_t            *zone;
    ngx_cycle_t               *cycle;
    size_t                     queue_size;
    ngx_msec_t                 queue_wait;  /* backpressure, at most */
    size_t                     max_nickname;
    size_t                     max_room_name;
    size_t                     max_message;
    size_t                     max_signal;
    ngx_uint_t                 max_rooms;
    ngx_uint_t                 max_members;
    ngx_msec_t                 room_change_interval;
    size_t                     room_change_rate;    /* bytes/s a socket */
    ngx_uint_t                 lobby_rate;  /* frames/s a lobby socket */
    size_t                     message_buffers;     /* per worker */
    ngx_msec_t                 message_timeout;
    ngx_array_t               *room_events; /* ngx_str_t */
    ngx_array_t               *ice_servers; /* ngx_noom_ice_server_t */
    ngx_str_t                  turn_secret;
    time_t                     turn_ttl;
    ngx_uint_t                 nworkers;    /* slots of the zone */
    ngx_uint_t                 half;        /* which half is this one's */
    ngx_fd_t                  *wake;        /* an eventfd per slot */
    void                      *kept;        /* the previous cycle's */
    ngx_flag_t                 enabled;
    ngx_flag_t                 admin;       /* a location serves /admin */
    void                      *thread_pool; /* bcrypt runs there */
    ngx_uint_t                 login_rate;  /* a minute, in thousandths */
    ngx_uint_t                 login_burst; /* 0: no limit */
    ngx_uint_t                 login_conn;  /* failures per connection */
    ngx_uint_t                 bcrypt_threads;
    ngx_uint_t                 bcrypt_queue;
    ngx_flag_t                 bcrypt_used;
    ngx_flag_t                 tls_takeover;        /* in a location */
    ngx_msec_t                 recovery;    /* the window, 0: off */
    ngx_uint_t                 recovery_log;        /* entries a room */
    size_t                     recovery_log_size;   /* bytes a room */
    ngx_uint_t                 recovery_sessions;   /* detached, at most */
    ngx_uint_t                 history;     /* chat lines a room keeps */
    ngx_noom_redis_conf_t     *redis;       /* NULL: one node */
    ngx_msec_t                 redis_node_timeout;
} ngx_http_noom_main_conf_t;


/* one or more complete frames, shared by every queue that sends them */

typedef struct {
    ngx_uint_t                 refs;
    size_t                     len;
    u_char                    *pos;
    uint64_t                   seq;         /* in the zone's order, or 0 */
    u_char                    *offset;      /* its 16 hex digits, or NULL */
    unsigned                   chat:1;      /* a new_message: history */
    unsigned                   small:1;     /* NGX_NOOM_MSG_SMALL bytes */
    u_char                     data[1];
} ngx_noom_msg_t;


struct ngx_noom_out_s {
    ngx_noom_out_t            *next;
    ngx_noom_msg_t            *msg;
    size_t                     sent;
    ngx_uint_t                 chunk;       /* msg is the queue's own copy */
};


typedef struct {
    u_char                     id[NGX_NOOM_ID_LEN];
    unsigned                   connected:1;
} ngx_noom_nsp_t;


/*
 * What carries a session's packets: a WebSocket (ngx_noom_ws.c) or HTTP
 * long-polling (ngx_noom_poll.c).  The layers above queue messages with
 * ngx_noom_send() and end sessions with ngx_noom_close() or
 * ngx_noom_abort(), and never learn which transport it is.
 */

typedef struct {
    const char                *name;
    void                     (*wake)(ngx_noom_ctx_t *ctx);
    void                     (*close)(ngx_noom_ctx_t *ctx, ngx_uint_t reason,
                                      const char *why);
    void                     (*abort)(ngx_noom_ctx_t *ctx, const char *why);
    void                     (*resume)(ngx_noom_ctx_t *ctx);
} ngx_noom_transport_t;


/* a BINARY_EVENT or BINARY_ACK waiting for its attachments */

typedef struct {
    ngx_noom_sio_packet_t      pkt;         /* its data is gone */
    json_t                    *args;
    ngx_uint_t                 nsp;
    ngx_uint_t                 have;
    size_t                     total;
    ngx_str_t                  att[NGX_NOOM_MAX_ATTACHMENTS];
} ngx_noom_bin_t;


/* shared memory: one ring per worker, rooms, members */

typedef struct {
    ngx_atomic_t               wake;
    ngx_atomic_t               drops;
    size_t                     size;
    size_t                     head;
    size_t                     tail;
    u_char                    *data;
} ngx_noom_ring_t;


typedef struct {
    uint32_t                   len;         /* payload bytes */
    uint16_t                   type;
    uint16_t                   src;         /* sending worker */
    uint64_t                   room;        /* room uid */
    uint64_t                   target;      /* serial, for unicast */
    uint64_t                   seq;         /* of a recoverable event */
} ngx_noom_rec_t;


typedef struct {
    ngx_pid_t                  pid;
    ngx_uint_t                 epoch;
    ngx_atomic_t               conns;
    ngx_atomic_t               polling;     /* sessions on polling */
    ngx_atomic_t               waiting;     /* of them, with a GET here */
    ngx_atomic_t               plain;
    ngx_atomic_t               admins;
    ngx_atomic_t               frames_out;  /* written by its worker only */
    ngx_atomic_t               events_in;   /* written by its worker only */
    ngx_atomic_t               bytes_in;    /* written by its worker only */
    ngx_atomic_t               bytes_out;   /* written by its worker only */
    ngx_uint_t                 members;
    ngx_atomic_t               stalled;     /* its writers stopped waiting */
    ngx_noom_ring_t            ring;
    ngx_atomic_t               redis_up;    /* its link to Redis */
} ngx_noom_worker_t;


typedef struct {
    ngx_atomic_t               connections;
    ngx_atomic_t               disconnections;
    ngx_atomic_t               handshakes_refused;
    ngx_atomic_t               relayed;
    ngx_atomic_t               relay_drops;
    ngx_atomic_t               relay_waits;
    ngx_atomic_t               slow_closes;
    ngx_atomic_t               protocol_closes;
    ngx_atomic_t               limit_errors;
    ngx_atomic_t               rate_limited;
    ngx_atomic_t               zone_errors;
    ngx_atomic_t               zone_repairs;
    ngx_atomic_t               recovered;
    ngx_atomic_t               recovery_failed;
    ngx_atomic_t               recovery_expired;
    ngx_atomic_t               recovery_refused;
    ngx_atomic_t               recovery_log_drops;
    ngx_atomic_t               recovery_waits;
    ngx_atomic_t               tls_takeovers;
    ngx_atomic_t               tls_kept;
    ngx_atomic_t               message_budget_closes;
    ngx_atomic_t               crashes;
    ngx_atomic_t               polling_requests;
    ngx_atomic_t               upgrades;
    ngx_atomic_t               admin_logins;
    ngx_atomic_t               admin_refused;
    ngx_atomic_t               admin_actions;
    ngx_atomic_t               admin_throttled;
    ngx_atomic_t               redis_in;    /* messages from Redis */
    ngx_atomic_t               redis_out;   /* published */
    ngx_atomic_t               redis_drops; /* refused: link down, full */
    ngx_atomic_t               redis_bad;   /* malformed, dropped */
    ngx_atomic_t               redis_reconnects;
    ngx_atomic_t               redis_reaped; /* dead nodes' members */
    ngx_atomic_t               redis_nodes; /* live, as Redis last said */
} ngx_noom_stats_t;


typedef struct ngx_noom_logins_s  ngx_noom_logins_t;


typedef struct {
    u_char                     id[NGX_NOOM_ID_LEN];
    time_t                     expires;
} ngx_noom_session_t;


typedef struct {
    ngx_pid_t                  dirty;       /* a change is under way */
    ngx_rbtree_t               rooms;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                order;       /* rooms by creation */
    ngx_uint_t                 nrooms;
    ngx_uint_t                 nmembers;
    uint64_t                   next_uid;
    ngx_uint_t                 nworkers;    /* slots: two per worker */
    ngx_uint_t                 half;        /* the workers it was made for */
    size_t                     queue_size;
    size_t                     max_nickname;
    ngx_noom_stats_t           stats;
    ngx_noom_worker_t         *workers;
    time_t                     start;
    ngx_atomic_t               admins;      /* logged in, on all workers */
    ngx_queue_t                sockets;     /* ngx_noom_asock_t */
    ngx_uint_t                 nsockets[NGX_NOOM_NSP_MAX];
    ngx_noom_session_t         sessions[NGX_NOOM_ADMIN_SESSIONS];
    ngx_noom_logins_t         *logins;      /* failed admin logins */

    /* connection state recovery */
    uint64_t                   seq;         /* of the last logged event */
    ngx_rbtree_t               uids;        /* rooms by uid */
    ngx_rbtree_node_t          uid_sentinel;
    ngx_rbtree_t               sess;        /* by a hash of the pid */
    ngx_rbtree_node_t          sess_sentinel;
    ngx_queue_t                live;
    ngx_queue_t                away;        /* detached, by expiry */
    ngx_uint_t                 nlive;
    ngx_uint_t                 naway;
    size_t                     log_bytes;
} ngx_noom_shm_t;


typedef struct {
    ngx_rbtree_node_t          node;        /* key: crc32 of the name */
    ngx_queue_t                order;
    ngx_queue_t                members;
    uint64_t                   uid;
    ngx_uint_t                 count;
    uint32_t                  *per_worker;
    size_t                    *ring_mark;   /* per worker: its ring's tail
                                               after its last record of
                                               this room */
    size_t                     len;
    u_char                    *name;
    ngx_rbtree_node_t          unode;       /* key: uid */
    ngx_queue_t                log;         /* ngx_noom_logent_t */
    ngx_uint_t                 nlog;
    size_t                     log_bytes;
    uint64_t                   trimmed;     /* the last seq not kept */
    uint64_t                   trimmed_other; /* ... not sent by: */
    u_char                     trimmed_by[NGX_NOOM_ID_LEN];
    ngx_queue_t                history;     /* ngx_noom_logent_t, chat */
    ngx_uint_t                 nhistory;
} ngx_noom_room_t;


/* an event of a room, kept for members that come back */

typedef struct {
    ngx_queue_t                queue;
    uint64_t                   seq;
    ngx_msec_t                 time;
    u_char                     to[NGX_NOOM_ID_LEN]; /* zeros: the room */
    u_char                     from[NGX_NOOM_ID_LEN]; /* not to it */
    size_t                     len;
    u_char                     data[1];
} ngx_noom_logent_t;


/* what a room must be told of a member removed without its socket */

typedef struct {
    uint64_t                   uid;
    ngx_uint_t                 count;
    size_t                     nick_len;
    u_char                     id[NGX_NOOM_ID_LEN];
    u_char                    *nick;
    uint32_t                  *per_worker;
} ngx_noom_gone_t;


typedef struct {
    ngx_queue_t                queue;
    ngx_noom_room_t           *room;
    ngx_uint_t                 worker;      /* NGX_NOOM_AWAY: detached */
    uint64_t                   serial;
    uint64_t                   joined;      /* the zone's seq then */
    ngx_noom_sess_t           *sess;
    u_char                     id[NGX_NOOM_ID_LEN];
    size_t                     nick_len;
    u_char                    *nick;        /* beside it, at its size */
} ngx_noom_member_t;


#define NGX_NOOM_AWAY               ((ngx_uint_t) -1)


/*
 * A socket that may come back (noom_recovery): its private id, and what it
 * gets back.  While its transport is gone it is "away": its member stays
 * in its room, counted, and reached only through the room's log.
 */

struct ngx_noom_sess_s {
    ngx_rbtree_node_t          node;        /* key: hash of pid */
    ngx_queue_t                queue;       /* live or away */
    ngx_noom_member_t         *member;
    u_char                    *nick;        /* its length, then it; or NULL */
    ngx_uint_t                 worker;      /* NGX_NOOM_AWAY: detached */
    ngx_msec_t                 expires;     /* 0: never away */
    u_char                     pid[NGX_NOOM_ID_LEN];
    u_char                     id[NGX_NOOM_ID_LEN];
};


/*
 * A Socket.IO socket as the admin namespace shows it, kept in the zone
 * only when a location serves /admin.  The strings follow the struct.
 */

typedef struct {
    ngx_queue_t                queue;
    ngx_noom_member_t         *member;      /* its room, or NULL */
    uint64_t                   serial;
    uint64_t                   issued;      /* ms */
    ngx_uint_t                 worker;
    ngx_uint_t                 nsp;
    u_char                     id[NGX_NOOM_ID_LEN];
    u_char                     eio[NGX_NOOM_ID_LEN];
    ngx_uint_t                 secure;
    ngx_uint_t                 polling;
    size_t                     addr_len;
    size_t                     url_len;
    size_t                     ua_len;
    size_t                     nick_len;
    u_char                    *addr;
    u_char                    *url;
    u_char                    *ua;
    u_char                    *nick;        /* max_nickname bytes */
} ngx_noom_asock_t;


/* what a leaving member's room must be told */

typedef struct {
    uint64_t                   uid;
    ngx_uint_t                 count;
    uint32_t                  *per_worker;
} ngx_noom_snapshot_t;


typedef struct {
    ngx_uint_t                 count;
    size_t                     len;
} ngx_noom_room_info_t;


/* a member as the app sees it, copied out of the zone */

typedef struct {
    u_char                     id[NGX_NOOM_ID_LEN];
    size_t                     nick_len;
    u_char                    *nick;
} ngx_noom_peer_t;


#define NGX_NOOM_CTX_ALIGN  128


struct ngx_noom_lroom_s {
    ngx_rbtree_node_t          node;        /* key: room uid */
    ngx_queue_t                members;     /* ngx_noom_ctx_t.room_queue */
};


/*
 * A session: Engine.IO, Socket.IO and the app's state, and its outgoing
 * queue.  A session born of a WebSocket handshake is that WebSocket too
 * (connection, parser, closing handshake), as it always stays on it; one
 * born of a polling handshake has no connection of its own.
 */

struct ngx_noom_ctx_s {

    /*
     * What a delivery to this session reads and writes, its local room's
     * link included, in the first 128 bytes: ngx_noom_session_alloc()
     * puts every session on that boundary (NGX_NOOM_CTX_ALIGN), and the CPU's
     * prefetcher fetches such a pair of cache lines together.  A message
     * to a room of 100 touches these two lines of each receiver's session
     * where it touched three, 700 bytes apart.
     */

    ngx_noom_transport_t      *transport;
    ngx_connection_t          *connection;  /* NULL: polling */
    ngx_http_noom_loc_conf_t  *conf;
    ngx_noom_out_t            *out;
    size_t                     out_bytes;
    ngx_noom_msg_t            *chunk;       /* the tail's, or NULL */
    u_char                    *chunk_last;  /* its end */
    unsigned                   close_sent:1;
    unsigned                   close_rcvd:1;
    unsigned                   terminate:1;
    unsigned                   pong_wait:1;
    unsigned                   close_now:1;
    unsigned                   done:1;
    unsigned                   is_held:1;
    unsigned                   proxy_closed:1;
    unsigned                   secure:1;
    unsigned                   room_change_due:1;
    unsigned                   plain_early:1;  /* counted before its 101 */
    unsigned                   recover_tries:3;

    ngx_queue_t                room_queue;  /* in its local room */
    ngx_noom_out_t           **out_last;
    uint64_t                   last_seq;    /* the last logged event sent */
    ngx_log_t                 *log;
    ngx_http_request_t        *request;     /* until the takeover */
    ngx_noom_tls_t            *tls;         /* records of our own */
    ngx_http_noom_main_conf_t *mcf;
    ngx_msec_t                 send_timeout;
    size_t                     send_lowat;

    ngx_noom_ws_parser_t       parser;

    u_char                    *msg;         /* a message in pieces */
    size_t                     msg_len;
    size_t                     msg_size;
    size_t                     ctrl_len;
    u_char                     ctrl[125];

    ngx_event_t                ping;        /* heartbeat */
    ngx_event_t                timer;       /* connect or close deadline */

    uint64_t                   serial;
    ngx_queue_t                lists[NGX_NOOM_LISTS];
    ngx_queue_t                held;        /* input waits: backpressure */
    ngx_noom_sess_t           *sess;        /* with noom_recovery */

    u_char                     eio_sid[NGX_NOOM_ID_LEN];

    ngx_str_t                  url;         /* for the admin panel */
    ngx_str_t                  ua;
    ngx_str_t                  addr;
    uint64_t                   issued;

    ngx_noom_asock_t          *asock[NGX_NOOM_NSP_MAX];
    void                      *auth;        /* a bcrypt check under way */
    void                      *recovering;  /* the auth of a CONNECT whose
                                               pid is still attached */
    const char                *reason;      /* for socket_disconnected */

    ngx_uint_t                 close_code;

    void                      *poll;        /* a polling session's */
    ngx_uint_t                 owner;       /* a proxy's session's worker */

    ngx_msec_t                 lobby_last;  /* its share of the lobby */
    ngx_uint_t                 lobby_tokens;    /* in thousandths */

    ngx_uint_t                 admin_fails; /* failed logins */

    /*
     * what reading each message touches, together, and last: the nickname's
     * bytes follow the struct
     */

    ngx_uint_t                 kind;
    ngx_noom_member_t         *member;
    ngx_noom_lroom_t          *lroom;
    ngx_noom_bin_t            *bin;
    u_char                    *nick;
    size_t                     nick_len;
    ngx_uint_t                 dropped;     /* in a row */
    ngx_uint_t                 skip_att;    /* of a dropped packet */
    ngx_noom_nsp_t             nsp[NGX_NOOM_NSP_MAX];
    ngx_msec_t                 rate_last;   /* token bucket */
    ngx_uint_t                 tokens;      /* in thousandths */
};


extern ngx_module_t  ngx_http_noom_module;

extern ngx_noom_shm_t  *ngx_noom_shm;
extern ngx_uint_t       ngx_noom_slot;   /* this worker's, in the zone */
extern ngx_slab_pool_t *ngx_noom_shpool;


/* ngx_http_noom_module.c */
ngx_int_t ngx_noom_http_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, ngx_buf_t *b);
ngx_int_t ngx_noom_eio_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t code);

/* ngx_noom_session.c */
void ngx_noom_session_init(ngx_noom_ctx_t *ctx, ngx_noom_transport_t *tp,
    ngx_log_t *log, ngx_http_noom_loc_conf_t *lcf, ngx_uint_t kind);
ngx_int_t ngx_noom_session_may_start(ngx_http_request_t *r);
void *ngx_noom_session_alloc(size_t size, ngx_log_t *log);
size_t ngx_noom_session_size(ngx_http_noom_main_conf_t *mcf,
    ngx_http_request_t *r);
void ngx_noom_session_cleanup(ngx_noom_ctx_t *ctx);
void ngx_noom_session_exit(void);
ngx_noom_msg_t *ngx_noom_msg_alloc(size_t size, ngx_log_t *log);
ngx_noom_msg_t *ngx_noom_msg_frame(ngx_uint_t opcode, size_t len,
    u_char **payload);
ngx_noom_msg_t *ngx_noom_msg_copy(u_char *p, size_t len);
void ngx_noom_msg_release(ngx_noom_msg_t *m);
void ngx_noom_send(ngx_noom_ctx_t *ctx, ngx_noom_msg_t *m);
void ngx_noom_send_frame(ngx_noom_ctx_t *ctx, u_char *p, size_t len);
ngx_int_t ngx_noom_send_text(ngx_noom_ctx_t *ctx, u_char *p, size_t len);
void ngx_noom_queue(ngx_noom_ctx_t *ctx, ngx_noom_msg_t *m);
void ngx_noom_out_put(ngx_noom_out_t *out);
void ngx_noom_drop_queue(ngx_noom_ctx_t *ctx);
void ngx_noom_close(ngx_noom_ctx_t *ctx, ngx_uint_t reason, const char *why);
void ngx_noom_abort(ngx_noom_ctx_t *ctx, const char *why);
void ngx_noom_heartbeat(ngx_noom_ctx_t *ctx, ngx_msec_t delay);
void ngx_noom_heartbeat_due(ngx_noom_ctx_t *ctx);
ngx_int_t ngx_noom_rate(ngx_noom_ctx_t *ctx);
void ngx_noom_init_serial(ngx_uint_t epoch);
ngx_int_t ngx_noom_random_id(u_char *id);
ngx_rbtree_node_t *ngx_noom_rbtree_find(ngx_rbtree_t *tree,
    ngx_rbtree_key_t key);
ngx_uint_t ngx_noom_id_equal(u_char *a, u_char *b);

/* ngx_noom_ws.c */
#define NGX_NOOM_HTTP_UPGRADE_REQUIRED  426

extern ngx_noom_transport_t  ngx_noom_ws_transport;

ngx_int_t ngx_noom_ws_refuse_version(ngx_http_request_t *r);
ngx_int_t ngx_noom_header(ngx_http_request_t *r, char *name, size_t len,
    ngx_str_t *value, ngx_uint_t *n);
ngx_int_t ngx_noom_ws_handshake(ngx_http_request_t *r,
    ngx_http_noom_loc_conf_t *lcf, ngx_str_t *key);
ngx_int_t ngx_noom_ws_upgrade(ngx_http_request_t *r, ngx_str_t *key,
    ngx_uint_t kind, ngx_str_t *sid, ngx_uint_t owner);
void ngx_noom_ws_exit(void);

#if (NGX_NOOM_TLS13)
ngx_int_t ngx_noom_tls_conf(ngx_conf_t *cf);
ngx_int_t ngx_noom_tls_takeover(ngx_noom_ctx_t *ctx);
void ngx_noom_tls_free(ngx_noom_ctx_t *ctx, ngx_noom_tls_t *t);
ssize_t ngx_noom_tls_recv(ngx_noom_ctx_t *ctx, u_char *buf, size_t size);
ssize_t ngx_noom_tls_send(ngx_noom_ctx_t *ctx, u_char *data, size_t len);
ngx_int_t ngx_noom_tls_flush(ngx_noom_ctx_t *ctx);
ngx_uint_t ngx_noom_tls_pending(ngx_noom_ctx_t *ctx);
void ngx_noom_tls_exit(void);
#endif
void ngx_noom_keep_handshake(ngx_noom_ctx_t *ctx, ngx_http_request_t *r);

/* ngx_noom_poll.c */
extern ngx_noom_transport_t  ngx_noom_poll_transport;

ngx_int_t ngx_noom_poll_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_noom_poll_handler(ngx_http_request_t *r,
    ngx_http_noom_loc_conf_t *lcf, ngx_uint_t kind);
size_t ngx_noom_poll_max_payload(ngx_http_noom_loc_conf_t *lcf);
ngx_int_t ngx_noom_poll_proxy_sid(ngx_str_t *sid, ngx_uint_t *w);
void ngx_noom_poll_proxy_open(ngx_noom_ctx_t *ctx);
void ngx_noom_poll_proxy_message(ngx_noom_ctx_t *ctx, ngx_uint_t opcode,
    u_char *p, size_t len);
void ngx_noom_poll_proxy_cleanup(ngx_noom_ctx_t *ctx);
void ngx_noom_poll_record(ngx_noom_rec_t *rec, u_char *payload);
void ngx_noom_poll_shutdown(void);
void ngx_noom_poll_exit(void);

/* ngx_noom_eio.c */
void ngx_noom_eio_open(ngx_noom_ctx_t *ctx);
void ngx_noom_eio_message(ngx_noom_ctx_t *ctx, ngx_uint_t opcode,
    u_char *p, size_t len);
void ngx_noom_eio_ping(ngx_noom_ctx_t *ctx);

/* ngx_noom_sio.c */
void ngx_noom_sio_text(ngx_noom_ctx_t *ctx, u_char *p, size_t len);
void ngx_noom_sio_binary(ngx_noom_ctx_t *ctx, u_char *p, size_t len);
void ngx_noom_sio_cleanup(ngx_noom_ctx_t *ctx);
void ngx_noom_sio_exit(void);
void ngx_noom_sio_timeout(ngx_noom_ctx_t *ctx);
ngx_noom_msg_t *ngx_noom_sio_encode(ngx_uint_t type, ngx_str_t *nsp,
    int64_t ack, json_t *data, ngx_noom_bin_t *bin);
ngx_noom_msg_t *ngx_noom_sio_message(ngx_uint_t type, ngx_str_t *nsp,
    int64_t ack, u_char *json, size_t len, ngx_noom_bin_t *bin);
u_char *ngx_noom_sio_scratch_get(size_t size);
u_char *ngx_noom_sio_offset(u_char *p, uint64_t seq);
ngx_noom_msg_t *ngx_noom_sio_event_start(size_t size, u_char **json);
void ngx_noom_sio_event_end(ngx_noom_msg_t *m, u_char *last);
void ngx_noom_sio_emit(ngx_noom_ctx_t *ctx, ngx_uint_t nsp, json_t *args);
void ngx_noom_sio_ack(ngx_noom_ctx_t *ctx, ngx_uint_t nsp, int64_t ack,
    json_t *args);
void ngx_noom_sio_accept(ngx_noom_ctx_t *ctx, ngx_uint_t i);
void ngx_noom_sio_refuse(ngx_noom_ctx_t *ctx, ngx_uint_t i,
    const char *message);
ngx_str_t *ngx_noom_sio_nsp_name(ngx_noom_ctx_t *ctx, ngx_uint_t i);

/* ngx_noom_app.c */
void ngx_noom_app_connect(ngx_noom_ctx_t *ctx);
void ngx_noom_app_event(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin);
void ngx_noom_app_disconnect(ngx_noom_ctx_t *ctx);
void ngx_noom_app_end(ngx_noom_ctx_t *ctx);
ngx_int_t ngx_noom_app_fast(ngx_noom_ctx_t *ctx, ngx_noom_sio_packet_t *pkt);
void ngx_noom_app_rate_limited(ngx_noom_ctx_t *ctx, int64_t ack);
void ngx_noom_app_exit(void);
void ngx_noom_app_bye(uint64_t uid, uint32_t *per_worker, u_char *nick,
    size_t nick_len, u_char *id, ngx_uint_t count);
ngx_noom_msg_t *ngx_noom_app_room_change(void);
void ngx_noom_app_list(ngx_noom_ctx_t *ctx, json_t *args, int64_t ack,
    ngx_noom_bin_t *bin, const char *name);
void ngx_noom_app_joined(ngx_noom_ctx_t *ctx, ngx_int_t rc, int64_t ack,
    const char *name, ngx_str_t *rname, ngx_noom_peer_t *peers, ngx_uint_t n,
    ngx_uint_t count, ngx_str_t *hist, ngx_uint_t announce);
void ngx_noom_app_history_buf(ngx_noom_ctx_t *ctx, int64_t ack,
    ngx_str_t *hist);
void ngx_noom_plain_open(ngx_noom_ctx_t *ctx);
void ngx_noom_plain_message(ngx_noom_ctx_t *ctx, u_char *p, size_t len);
json_t *ngx_noom_json_load(ngx_noom_ctx_t *ctx, u_char *p, size_t len,
    json_error_t *err);

/* ngx_noom_rooms.c */
ngx_int_t ngx_noom_zone_init(ngx_shm_zone_t *zone, void *data);
void ngx_noom_rooms_attach(ngx_cycle_t *cycle);
void ngx_noom_rooms_worker_start(ngx_cycle_t *cycle);
void ngx_noom_rooms_worker_exit(ngx_cycle_t *cycle);
ngx_int_t ngx_noom_rooms_join(ngx_noom_ctx_t *ctx, ngx_str_t *name,
    ngx_noom_peer_t *peers, ngx_uint_t *npeers, ngx_uint_t *count,
    ngx_str_t *history);
void ngx_noom_rooms_history_locked(ngx_noom_room_t *room,
    ngx_noom_msg_t *m);
void ngx_noom_rooms_leave(ngx_noom_ctx_t *ctx, ngx_noom_snapshot_t *snap);
ngx_int_t ngx_noom_rooms_nick(ngx_noom_ctx_t *ctx, u_char *nick,
    size_t len);
ngx_int_t ngx_noom_rooms_find(ngx_noom_ctx_t *ctx, u_char *id,
    ngx_uint_t *worker, uint64_t *serial);
ngx_uint_t ngx_noom_rooms_list(u_char *buf, size_t size);
void ngx_noom_zone_lock(void);
void ngx_noom_zone_unlock(void);
void ngx_noom_rooms_remove_member_locked(ngx_noom_member_t *mb);
ngx_noom_gone_t *ngx_noom_rooms_gone_alloc(ngx_uint_t n, ngx_log_t *log);
ngx_uint_t ngx_noom_rooms_leave_locked(ngx_noom_member_t *mb,
    ngx_noom_gone_t *g);
void ngx_noom_rooms_byes(ngx_noom_gone_t *g, ngx_uint_t n);
ngx_noom_room_t *ngx_noom_rooms_by_uid_locked(uint64_t uid);
size_t ngx_noom_zone_share(void);
size_t ngx_noom_logent_size(size_t len);

/*
 * Marks the zone as being changed until the unlock: a process that dies
 * in between leaves the mark, and the next one to lock repairs the zone.
 */
#define ngx_noom_zone_dirty()  ngx_noom_shm->dirty = ngx_pid
ngx_atomic_uint_t ngx_noom_workers_sum(size_t offset);

#define ngx_noom_frames_out()                                                 \
    ngx_noom_workers_sum(offsetof(ngx_noom_worker_t, frames_out))
#define ngx_noom_events_in()                                                  \
    ngx_noom_workers_sum(offsetof(ngx_noom_worker_t, events_in))
#define ngx_noom_bytes_in()                                                   \
    ngx_noom_workers_sum(offsetof(ngx_noom_worker_t, bytes_in))
#define ngx_noom_bytes_out()                                                  \
    ngx_noom_workers_sum(offsetof(ngx_noom_worker_t, bytes_out))

/* a worker's own counter: one writer, no atomic operation on a hot path */
#define ngx_noom_worker_stat(name)                                            \
    ngx_noom_shm->workers[ngx_noom_slot].name++
void ngx_noom_rooms_usage(ngx_uint_t *used, ngx_uint_t *total);

/* ngx_noom_relay.c */
extern ngx_uint_t  ngx_noom_takeovers;  /* posted by ngx_noom_ws_upgrade() */

ngx_int_t ngx_noom_relay_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_noom_relay_init_process(ngx_cycle_t *cycle);
void ngx_noom_relay_exit_process(ngx_cycle_t *cycle);
void ngx_noom_relay_start(void);
void ngx_noom_local_add(ngx_noom_ctx_t *ctx, ngx_uint_t list);
void ngx_noom_local_del(ngx_noom_ctx_t *ctx, ngx_uint_t list);
void ngx_noom_local_remove(ngx_noom_ctx_t *ctx);
ngx_int_t ngx_noom_local_join(ngx_noom_ctx_t *ctx, uint64_t uid);
ngx_noom_lroom_t *ngx_noom_local_room(uint64_t uid);
void ngx_noom_local_leave(ngx_noom_ctx_t *ctx);
ngx_queue_t *ngx_noom_local_list(ngx_uint_t list);
ngx_int_t ngx_noom_relay_room(ngx_noom_ctx_t *sender, uint64_t uid,
    uint32_t *per_worker, ngx_noom_msg_t *m);
void ngx_noom_relay_room_local(ngx_noom_ctx_t *sender, uint64_t uid,
    ngx_noom_msg_t *m);
ngx_int_t ngx_noom_relay_unicast(ngx_uint_t w, uint64_t uid,
    uint64_t serial, u_char *to, ngx_noom_msg_t *m);
ngx_int_t ngx_noom_relay_plain(ngx_noom_msg_t *m);
void ngx_noom_relay_plain_count(ngx_int_t n);
#if (NGX_NOOM_HOOKS)
void ngx_noom_relay_hook_upgraded(ngx_str_t *uri);
#endif
ngx_int_t ngx_noom_relay_plain_share(ngx_noom_ctx_t *ctx);
void ngx_noom_relay_rooms_changed(void);
void ngx_noom_relay_rooms_changed_local(void);
ngx_int_t ngx_noom_ring_put_locked(ngx_uint_t w, ngx_uint_t type,
    uint64_t room, uint64_t target, u_char *p, size_t len);
void ngx_noom_relay_wake(ngx_uint_t w);
ngx_int_t ngx_noom_relay_hold(ngx_noom_ctx_t *ctx);
void ngx_noom_relay_unhold(ngx_noom_ctx_t *ctx);

/* ngx_noom_recovery.c */
extern ngx_msec_t  ngx_noom_recovery;

/* the app's events to its sockets: with an offset under noom_recovery */
#define NGX_NOOM_APP_EVENT                                                    \
    (NGX_NOOM_SIO_EVENT | (ngx_noom_recovery ? NGX_NOOM_SIO_OFFSET : 0))

/* what an offset adds to an event: ,"<16 hex digits>" */
#define NGX_NOOM_OFFSET_LEN_MAX  19
#define NGX_NOOM_OFFSET_LEN(m)   ((m)->offset ? NGX_NOOM_OFFSET_LEN_MAX : 0)

ngx_int_t ngx_noom_recovery_init_process(ngx_cycle_t *cycle);
void ngx_noom_recovery_exit_process(ngx_cycle_t *cycle);
void ngx_noom_recovery_init_zone(ngx_noom_shm_t *sh);
void ngx_noom_recovery_repair_locked(ngx_noom_shm_t *sh);
ngx_int_t ngx_noom_recovery_connect(ngx_noom_ctx_t *ctx, json_t *auth,
    ngx_uint_t wait);
ngx_int_t ngx_noom_recovery_new(ngx_noom_ctx_t *ctx);
void ngx_noom_recovery_replay(ngx_noom_ctx_t *ctx);
void ngx_noom_recovery_nick(ngx_noom_ctx_t *ctx);
ngx_int_t ngx_noom_recovery_detach(ngx_noom_ctx_t *ctx);
void ngx_noom_recovery_away_locked(ngx_noom_sess_t *s);
ngx_uint_t ngx_noom_recovery_detach_worker_locked(ngx_uint_t w);
void ngx_noom_recovery_forget(ngx_noom_ctx_t *ctx);
void ngx_noom_recovery_undo(ngx_noom_ctx_t *ctx);
void ngx_noom_recovery_log_locked(ngx_noom_room_t *room, u_char *from,
    u_char *to, ngx_noom_msg_t *m);
void ngx_noom_recovery_drop_locked(ngx_noom_room_t *room,
    ngx_noom_logent_t *e);

/* ngx_noom_admin.c */
ngx_int_t ngx_noom_admin_init_process(ngx_cycle_t *cycle);
void ngx_noom_admin_exit_process(ngx_cycle_t *cycle);
void ngx_noom_admin_connect(ngx_noom_ctx_t *ctx, json_t *auth);
void ngx_noom_admin_event(ngx_noom_ctx_t *ctx, json_t *args);
void ngx_noom_admin_disconnect(ngx_noom_ctx_t *ctx);
void ngx_noom_admin_cleanup(ngx_noom_ctx_t *ctx);
ngx_int_t ngx_noom_admin_register(ngx_noom_ctx_t *ctx, ngx_uint_t nsp);
void ngx_noom_admin_connected(ngx_noom_ctx_t *ctx, ngx_uint_t nsp);
void ngx_noom_admin_unregister(ngx_noom_ctx_t *ctx, ngx_uint_t nsp);
void ngx_noom_admin_room(ngx_noom_ctx_t *ctx, u_char *name, size_t len,
    ngx_uint_t joined);
void ngx_noom_admin_nick(ngx_noom_ctx_t *ctx);
void ngx_noom_admin_upgraded(ngx_noom_ctx_t *ctx);
void ngx_noom_admin_deliver(ngx_noom_rec_t *rec, u_char *payload);
void ngx_noom_admin_purge(ngx_cycle_t *cycle, ngx_uint_t crashed);
char *ngx_noom_admin_init_main_conf(ngx_conf_t *cf,
    ngx_http_noom_main_conf_t *mcf);
char *ngx_noom_admin_login_limit_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_noom_admin_bcrypt_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_noom_admin_auth_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_noom_turn.c */
char *ngx_noom_turn_ice_server(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_noom_turn_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
json_t *ngx_noom_turn_servers(ngx_http_noom_main_conf_t *mcf, u_char *id);

/* ngx_noom_limit.c */
typedef struct {
    ngx_msec_t                 start;
    ngx_uint_t                 lines;
    ngx_uint_t                 suppressed;
} ngx_noom_log_limit_t;

void ngx_noom_log_limited(ngx_noom_log_limit_t *ll, ngx_uint_t level,
    ngx_log_t *log, const char *fmt, ...);
#define NGX_NOOM_LOGIN_KEY_LEN     8

size_t ngx_noom_login_key(ngx_connection_t *c, u_char *key);
size_t ngx_noom_login_key_text(ngx_str_t *addr, u_char *key);
ngx_int_t ngx_noom_login_start(ngx_http_noom_main_conf_t *mcf, u_char *key,
    size_t len);
void ngx_noom_login_done(ngx_http_noom_main_conf_t *mcf, u_char *key,
    size_t len, ngx_uint_t ok);

/* ngx_noom_status.c */
ngx_int_t ngx_noom_status_handler(ngx_http_request_t *r);

/* ngx_noom_cluster.c: the hooks of the layers above into Redis */
char *ngx_noom_cluster_redis_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_noom_cluster_init_process(ngx_cycle_t *cycle);
ngx_uint_t ngx_noom_cluster_on(void);
void ngx_noom_cluster_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_noom_cluster_join(ngx_noom_ctx_t *ctx, ngx_str_t *name,
    int64_t ack, const char *event);
ngx_int_t ngx_noom_cluster_leave(ngx_noom_ctx_t *ctx);
void ngx_noom_cluster_connect(ngx_noom_ctx_t *ctx);
void ngx_noom_cluster_forget(ngx_noom_ctx_t *ctx);
void ngx_noom_cluster_nick(ngx_noom_ctx_t *ctx);
ngx_int_t ngx_noom_cluster_relay(ngx_noom_ctx_t *ctx, ngx_noom_msg_t *m,
    u_char *to);
ngx_int_t ngx_noom_cluster_rooms_list(u_char *buf, size_t size,
    ngx_uint_t *n);
ngx_int_t ngx_noom_cluster_rooms_changed(void);
ngx_int_t ngx_noom_cluster_list_rooms(ngx_noom_ctx_t *ctx, int64_t ack);
ngx_int_t ngx_noom_cluster_stats(json_t *stats);


/*
 * Test builds only (-DNGX_NOOM_HOOKS=1): the environment variable
 * NOOM_HOOK="point:arg", passed on by an "env NOOM_HOOK;" line, makes
 * ngx_noom_hook(point, arg) true, so that a test can fail an allocation
 * or kill a worker at a chosen place.
 */
#if (NGX_NOOM_HOOKS)
ngx_int_t ngx_noom_hook(const char *point, u_char *arg, size_t len);
#else
#define ngx_noom_hook(point, arg, len)  0
#endif
#define ngx_noom_hook_die()  (void) kill(ngx_pid, SIGKILL)


#define ngx_noom_stat(name, n)                                               \
    if (ngx_noom_shm) {                                                      \
        (void) ngx_atomic_fetch_add(&ngx_noom_shm->stats.name, n);           \
    }


#if (defined __GNUC__)
#pragma GCC visibility pop
#endif


#endif /* _NGX_NOOM_H_INCLUDED_ */
