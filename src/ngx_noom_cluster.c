
/*
 * Copyright (C) noom authors
 *
 * Several nginx nodes, one set of rooms, through Redis (noom_redis).
 *
 * Redis holds who is in which room: members with their node and nickname,
 * counts, the room list in creation order, the live nodes.  Every change
 * is one call of one Lua script (ngx_noom_cluster_lua), so the room cap
 * and noom_max_rooms hold across nodes however joins race, and the script
 * itself publishes what the rooms must be told (welcome, bye) and that the
 * list changed.  Each node's zone keeps its own members as before: it is
 * what the rings between its workers deliver by.
 *
 * Messages between nodes go over pub/sub, one channel per room
 * ("noom:r:<room>"), to which a worker subscribes while it has members in
 * the room: a node receives nothing of rooms it has nobody in.  A room
 * event goes to the sender's own node through the rings, as without
 * Redis, and to the other nodes as one PUBLISH on the worker's command
 * connection, so a sender's events keep their order.  The message is
 *
 *     noom1 <R|U> <skip node|-> <socket id|-> <JSON of the event>
 *
 * R goes to the room's members but the id, U to the member with the id,
 * and a node named as skip drops it (the sender's node had it through the
 * rings).  What comes from Redis is checked like what comes from a
 * client: a message of another form is dropped, counted and logged.
 *
 * The channels of @socket.io/redis-emitter ("socket.io#/#" and
 * "socket.io#/#<room>#") carry msgpack [uid, packet, opts]; their events
 * go to the members of the rooms named, or to every socket.  A socket id
 * is a room of one in Socket.IO, so each worker also subscribes to
 * "socket.io#/#<socket id>#" for each of its sockets: to(socketId)
 * reaches that socket on whatever node holds it, and no other node.
 *
 * Without a link to Redis a node works alone: events still reach its own
 * members, and the sender is told "busy" when the room had members on
 * other nodes; joins are refused with "busy", as the room cap cannot be
 * checked.  On every link up, each worker sends the list of its members
 * and Redis is made to agree with it ("resync"): members gone meanwhile
 * leave, members Redis lost come back.  Worker 0 of each node beats every
 * quarter of noom_redis_node_timeout; a node not heard of for that long is
 * dead, and whoever beats next removes its members, with bye to its rooms.
 */


#include "ngx_noom_cluster.h"
#include <msgpack.h>


#define NGX_NOOM_SUB_NONE           0
#define NGX_NOOM_SUB_ON             1   /* SUBSCRIBE sent */
#define NGX_NOOM_SUB_READY          2   /* confirmed */
#define NGX_NOOM_SUB_OFF            3   /* UNSUBSCRIBE sent */

#define NGX_NOOM_MP_DEPTH           32

/* an event from another node read without jansson: at most so many */
#define NGX_NOOM_CLUSTER_TOKENS     16


/* a room this worker has members in, or joins under way to */

typedef struct {
    ngx_str_node_t             sn;
    uint64_t                   uid;         /* in this node's zone */
    ngx_uint_t                 refs;
    ngx_uint_t                 state;
} ngx_noom_csub_t;


/* a Socket.IO socket of this worker, by its id */

typedef struct {
    ngx_str_node_t             sn;
    ngx_noom_ctx_t            *ctx;
    u_char                     id[NGX_NOOM_ID_LEN];
} ngx_noom_csock_t;


typedef struct {
    ngx_queue_t                queue;
    ngx_noom_ctx_t            *ctx;         /* NULL: the socket went */
    ngx_noom_csub_t           *sub;
    int64_t                    ack;
    const char                *event;
    ngx_uint_t                 sent;
    u_char                     id[NGX_NOOM_ID_LEN];
} ngx_noom_cjoin_t;


static ngx_noom_csub_t *ngx_noom_cluster_sub(u_char *name, size_t len,
    ngx_uint_t create);
static void ngx_noom_cluster_sub_send(ngx_noom_csub_t *sub,
    const char *cmd);
static void ngx_noom_cluster_unref(ngx_noom_csub_t *sub);
static ngx_noom_csock_t *ngx_noom_cluster_sock(u_char *id, size_t len);
static void ngx_noom_cluster_sock_send(ngx_noom_csock_t **socks,
    ngx_uint_t n, const char *cmd);
static void ngx_noom_cluster_socks_up(void);
static void ngx_noom_cluster_join_send(ngx_noom_cjoin_t *j);
static void ngx_noom_cluster_join_reply(redisReply *reply, void *data);
static void ngx_noom_cluster_join_fail(ngx_noom_cjoin_t *j, ngx_int_t rc);
static ngx_int_t ngx_noom_cluster_leave_send(u_char *room, size_t len,
    u_char *id);
static void ngx_noom_cluster_up(void);
static void ngx_noom_cluster_down(void);
static void ngx_noom_cluster_message(u_char *ch, size_t ch_len, u_char *p,
    size_t len);
static void ngx_noom_cluster_subscribed(u_char *ch, size_t len,
    ngx_uint_t on);
static void ngx_noom_cluster_room_message(u_char *room, size_t room_len,
    u_char *p, size_t len);
static void ngx_noom_cluster_deliver(ngx_noom_csub_t *sub, u_char *json,
    size_t len, u_char *id, ngx_uint_t unicast);
static void ngx_noom_cluster_emitter(u_char *room, size_t room_len,
    u_char *p, size_t len);
static void ngx_noom_cluster_emit_socket(ngx_noom_msg_t *m,
    msgpack_object *rooms, ngx_uint_t i, msgpack_object *except);
static json_t *ngx_noom_cluster_mp_json(msgpack_object *o,
    ngx_uint_t depth);
static msgpack_object *ngx_noom_cluster_mp_get(msgpack_object *map,
    const char *key);
static ngx_uint_t ngx_noom_cluster_mp_has(msgpack_object *list,
    u_char *s, size_t len);
static void ngx_noom_cluster_bad(const char *why, u_char *ch, size_t len);
static void ngx_noom_cluster_resync(void);
static void ngx_noom_cluster_fetch(void);
static void ngx_noom_cluster_fetch_handler(ngx_event_t *ev);
static void ngx_noom_cluster_list_reply(redisReply *reply, void *data);
static ngx_int_t ngx_noom_cluster_list_store(redisReply *reply);
static void ngx_noom_cluster_count(u_char *p, size_t len);
static size_t ngx_noom_cluster_list_used(void);
static void ngx_noom_cluster_beat_handler(ngx_event_t *ev);
static void ngx_noom_cluster_beat_reply(redisReply *reply, void *data);
static ngx_uint_t ngx_noom_cluster_remote(ngx_noom_room_t *room);


/*
 * The operations, ARGV[1] naming one.  Members are kept in
 * noom:m:<room> (id: node, worker, nickname) and noom:n:<node> (id:
 * worker, room); noom:count and noom:rooms (a sorted set by creation)
 * are the list; noom:nodes holds each node's last beat in ms.
 */

const char  *ngx_noom_cluster_lua =
"local op = ARGV[1]\n"
"local function count(room, n)\n"
"  local v = redis.call('INCR', 'noom:ver')\n"
"  redis.call('PUBLISH', 'noom:rooms', v .. ' ' .. n .. ' ' .. room)\n"
"end\n"
"local function nick_of(v)\n"
"  return string.match(v, '^[^\\t]*\\t[^\\t]*\\t(.*)$') or ''\n"
"end\n"
"local function note(room, skip, id, ev)\n"
"  redis.call('PUBLISH', 'noom:r:' .. room,\n"
"    'noom1 R ' .. skip .. ' ' .. id .. ' ' .. cjson.encode(ev))\n"
"end\n"
"local function now()\n"
"  local t = redis.call('TIME')\n"
"  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"end\n"
"local function remove(room, id, node, skip)\n"
"  local mk = 'noom:m:' .. room\n"
"  local v = redis.call('HGET', mk, id)\n"
"  redis.call('HDEL', 'noom:n:' .. node, id)\n"
"  if not v then return -1 end\n"
"  redis.call('HDEL', mk, id)\n"
"  local n = redis.call('HINCRBY', 'noom:count', room, -1)\n"
"  if n <= 0 then\n"
"    redis.call('HDEL', 'noom:count', room)\n"
"    redis.call('ZREM', 'noom:rooms', room)\n"
"    redis.call('DEL', mk)\n"
"    count(room, 0)\n"
"    return 0\n"
"  end\n"
"  count(room, n)\n"
"  note(room, skip, '-', {'bye', nick_of(v), n, id})\n"
"  return n\n"
"end\n"
"local function add(room, id, node, w, nick)\n"
"  if not redis.call('HGET', 'noom:count', room) then\n"
"    redis.call('ZADD', 'noom:rooms', redis.call('INCR', 'noom:seq'), room)\n"
"  end\n"
"  redis.call('HSET', 'noom:m:' .. room, id, node .. '\\t' .. w .. '\\t'\n"
"    .. nick)\n"
"  redis.call('HSET', 'noom:n:' .. node, id, w .. '\\t' .. room)\n"
"  local n = redis.call('HINCRBY', 'noom:count', room, 1)\n"
"  count(room, n)\n"
"  return n\n"
"end\n"
"local r = 0\n"
"if op == 'join' then\n"
"  local room, id = ARGV[2], ARGV[3]\n"
"  local all = redis.call('HGETALL', 'noom:m:' .. room)\n"
"  local peers, mine = {}, false\n"
"  for i = 1, #all, 2 do\n"
"    if all[i] == id then mine = true else\n"
"      peers[#peers + 1] = all[i]\n"
"      peers[#peers + 1] = nick_of(all[i + 1])\n"
"    end\n"
"  end\n"
"  local n = tonumber(redis.call('HGET', 'noom:count', room) or '0')\n"
"  if mine then return {1, n, peers} end\n"
"  if n == 0 then\n"
"    if redis.call('ZCARD', 'noom:rooms') >= tonumber(ARGV[8]) then\n"
"      return {-2, 0, {}}\n"
"    end\n"
"  elseif n >= tonumber(ARGV[7]) then\n"
"    return {-1, n, {}}\n"
"  end\n"
"  n = add(room, id, ARGV[4], ARGV[5], ARGV[6])\n"
"  note(room, '-', id, {'welcome', ARGV[6], n, id})\n"
"  r = {0, n, peers}\n"
"elseif op == 'leave' then\n"
"  r = remove(ARGV[2], ARGV[3], ARGV[4], '-')\n"
"elseif op == 'nick' then\n"
"  local mk = 'noom:m:' .. ARGV[2]\n"
"  if redis.call('HEXISTS', mk, ARGV[3]) == 1 then\n"
"    redis.call('HSET', mk, ARGV[3], ARGV[4] .. '\\t' .. ARGV[5] .. '\\t'\n"
"      .. ARGV[6])\n"
"  end\n"
"elseif op == 'list' then\n"
"  r = {tonumber(redis.call('GET', 'noom:ver') or '0')}\n"
"  for _, name in ipairs(redis.call('ZRANGE', 'noom:rooms', 0, -1)) do\n"
"    r[#r + 1] = name\n"
"    r[#r + 1] = tonumber(redis.call('HGET', 'noom:count', name) or '0')\n"
"  end\n"
"elseif op == 'beat' then\n"
"  local t = now()\n"
"  redis.call('ZADD', 'noom:nodes', t, ARGV[2])\n"
"  local dead = redis.call('ZRANGEBYSCORE', 'noom:nodes', '-inf',\n"
"    t - tonumber(ARGV[3]))\n"
"  local gone = 0\n"
"  for _, node in ipairs(dead) do\n"
"    local m = redis.call('HGETALL', 'noom:n:' .. node)\n"
"    for i = 1, #m, 2 do\n"
"      local room = string.match(m[i + 1], '^[^\\t]*\\t(.*)$')\n"
"      if room and remove(room, m[i], node, '-') >= 0 then\n"
"        gone = gone + 1\n"
"      end\n"
"    end\n"
"    redis.call('DEL', 'noom:n:' .. node)\n"
"    redis.call('ZREM', 'noom:nodes', node)\n"
"  end\n"
"  r = {redis.call('ZCARD', 'noom:nodes'), gone}\n"
"elseif op == 'resync' then\n"
"  local node, w = ARGV[2], ARGV[3]\n"
"  redis.call('ZADD', 'noom:nodes', now(), node)\n"
"  local want = {}\n"
"  for i = 4, #ARGV, 3 do want[ARGV[i]] = ARGV[i + 1] end\n"
"  local m = redis.call('HGETALL', 'noom:n:' .. node)\n"
"  for i = 1, #m, 2 do\n"
"    local mw, room = string.match(m[i + 1], '^([^\\t]*)\\t(.*)$')\n"
"    if mw == w and want[m[i]] ~= room then\n"
"      remove(room, m[i], node, node)\n"
"    end\n"
"  end\n"
"  for i = 4, #ARGV, 3 do\n"
"    if redis.call('HEXISTS', 'noom:m:' .. ARGV[i + 1], ARGV[i]) == 0 then\n"
"      add(ARGV[i + 1], ARGV[i], node, w, ARGV[i + 2])\n"
"    end\n"
"  end\n"
"end\n"
"return r\n";


static ngx_noom_redis_handler_t  ngx_noom_cluster_handler = {
    ngx_noom_cluster_up,
    ngx_noom_cluster_down,
    ngx_noom_cluster_message,
    ngx_noom_cluster_subscribed
};


static ngx_str_t                   ngx_noom_cluster_root = ngx_string("/");

static ngx_http_noom_main_conf_t  *ngx_noom_cluster_mcf;
static ngx_noom_redis_conf_t      *ngx_noom_cluster_rcf;
static ngx_rbtree_t                ngx_noom_cluster_subs;
static ngx_rbtree_node_t           ngx_noom_cluster_sentinel;
static ngx_rbtree_t                ngx_noom_cluster_socks;
static ngx_rbtree_node_t           ngx_noom_cluster_socks_sentinel;
static ngx_queue_t                 ngx_noom_cluster_joins;
static ngx_noom_peer_t            *ngx_noom_cluster_peers;
static u_char                     *ngx_noom_cluster_buf;
static size_t                      ngx_noom_cluster_buf_size;

/* the room list as Redis last gave it, in ngx_noom_rooms_list()'s form */
static u_char                     *ngx_noom_cluster_list;
static size_t                      ngx_noom_cluster_list_len;
static ngx_uint_t                  ngx_noom_cluster_list_n;
static ngx_uint_t                  ngx_noom_cluster_list_valid;
static ngx_uint_t                  ngx_noom_cluster_fetching;
static ngx_uint_t                  ngx_noom_cluster_fetch_again;
static uint64_t                    ngx_noom_cluster_list_ver;
static ngx_event_t                 ngx_noom_cluster_fetch_ev;
static ngx_event_t                 ngx_noom_cluster_beat_ev;

static ngx_noom_log_limit_t        ngx_noom_cluster_bad_log;
static ngx_noom_log_limit_t        ngx_noom_cluster_drop_log;


/* noom_redis address [password=...] [db=N] */

char *
ngx_noom_cluster_redis_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_noom_main_conf_t *mcf = conf;

    u_char                 *p;
    ngx_str_t              *value;
    ngx_url_t               u;
    ngx_uint_t              i;
    ngx_noom_redis_conf_t  *rcf;

    if (mcf->redis) {
        return "is duplicate";
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_noom_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    rcf->addr = value[1];
    rcf->max_pending = 65536;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            rcf->password.data = value[i].data + 9;
            rcf->password.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            rcf->db = ngx_atoi(value[i].data + 3, value[i].len - 3);

            if (rcf->db == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"noom_redis\": invalid \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"noom_redis\": unknown parameter \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (value[1].len > 5 && ngx_strncmp(value[1].data, "unix:", 5) == 0) {
        rcf->path.len = value[1].len - 5;
        rcf->path.data = ngx_pnalloc(cf->pool, rcf->path.len + 1);
        if (rcf->path.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(rcf->path.data, value[1].data + 5, rcf->path.len + 1);

    } else {
        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[1];
        u.default_port = 6379;

        /* resolved now: the workers never wait for a name server */

        if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"noom_redis\": %s in \"%V\"",
                               u.err ? u.err : "no address", &value[1]);
            return NGX_CONF_ERROR;
        }

        rcf->host.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (rcf->host.data == NULL) {
            return NGX_CONF_ERROR;
        }

        rcf->host.len = ngx_sock_ntop(u.addrs[0].sockaddr,
                                      u.addrs[0].socklen, rcf->host.data,
                                      NGX_SOCKADDR_STRLEN, 0);
        rcf->host.data[rcf->host.len] = '\0';
        rcf->port = ngx_inet_get_port(u.addrs[0].sockaddr);
    }

    /* a name for this node, new with every configuration */

    p = ngx_sprintf(rcf->node, "%08xD%08xD", (uint32_t) ngx_random(),
                    (uint32_t) (ngx_random() ^ ngx_pid));
    (void) p;

    mcf->redis = rcf;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_noom_cluster_init_process(ngx_cycle_t *cycle)
{
    size_t                      one;
    ngx_uint_t                  i;
    ngx_http_noom_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_noom_module);

    if (mcf->redis == NULL) {
        return NGX_OK;
    }

    ngx_noom_cluster_mcf = mcf;
    ngx_noom_cluster_rcf = mcf->redis;

    if (mcf->redis->node_timeout == 0) {
        mcf->redis->node_timeout = 10000;
    }

    ngx_rbtree_init(&ngx_noom_cluster_subs, &ngx_noom_cluster_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&ngx_noom_cluster_socks,
                    &ngx_noom_cluster_socks_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_noom_cluster_joins);

    one = sizeof(ngx_noom_peer_t) + mcf->max_nickname;

    ngx_noom_cluster_peers = ngx_alloc(mcf->max_members * one, cycle->log);
    if (ngx_noom_cluster_peers == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < mcf->max_members; i++) {
        ngx_noom_cluster_peers[i].nick = (u_char *) &ngx_noom_cluster_peers
                                             [mcf->max_members]
                                         + i * mcf->max_nickname;
    }

    /* a message's JSON, or a list of rooms: the largest of either */

    ngx_noom_cluster_buf_size = ngx_max(mcf->max_signal, mcf->max_message)
                                + 4096;
    ngx_noom_cluster_buf = ngx_alloc(ngx_noom_cluster_buf_size, cycle->log);
    if (ngx_noom_cluster_buf == NULL) {
        return NGX_ERROR;
    }

    ngx_noom_cluster_list_len = mcf->max_rooms
                                * ngx_align(sizeof(ngx_noom_room_info_t)
                                            + mcf->max_room_name + 1, 8);
    ngx_noom_cluster_list = ngx_alloc(ngx_noom_cluster_list_len,
                                      cycle->log);
    if (ngx_noom_cluster_list == NULL) {
        return NGX_ERROR;
    }

    ngx_noom_cluster_fetch_ev.handler = ngx_noom_cluster_fetch_handler;
    ngx_noom_cluster_fetch_ev.data = &ngx_noom_cluster_fetch_ev;
    ngx_noom_cluster_fetch_ev.log = cycle->log;
    ngx_noom_cluster_fetch_ev.cancelable = 1;

    ngx_noom_cluster_beat_ev.handler = ngx_noom_cluster_beat_handler;
    ngx_noom_cluster_beat_ev.data = &ngx_noom_cluster_beat_ev;
    ngx_noom_cluster_beat_ev.log = cycle->log;
    ngx_noom_cluster_beat_ev.cancelable = 1;

    return ngx_noom_redis_init_process(cycle, mcf->redis,
                                       &ngx_noom_cluster_handler);
}


void
ngx_noom_cluster_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_noom_cluster_rcf == NULL) {
        return;
    }

    if (ngx_noom_cluster_fetch_ev.timer_set) {
        ngx_del_timer(&ngx_noom_cluster_fetch_ev);
    }

    if (ngx_noom_cluster_beat_ev.timer_set) {
        ngx_del_timer(&ngx_noom_cluster_beat_ev);
    }

    ngx_noom_redis_exit_process();

    ngx_free(ngx_noom_cluster_peers);
    ngx_free(ngx_noom_cluster_buf);
    ngx_free(ngx_noom_cluster_list);
    ngx_noom_cluster_rcf = NULL;
}


ngx_uint_t
ngx_noom_cluster_on(void)
{
    return ngx_noom_cluster_rcf != NULL;
}


static ngx_noom_csub_t *
ngx_noom_cluster_sub(u_char *name, size_t len, ngx_uint_t create)
{
    uint32_t          hash;
    ngx_str_t         s;
    ngx_noom_csub_t  *sub;

    s.data = name;
    s.len = len;
    hash = ngx_crc32_short(name, len);

    sub = (ngx_noom_csub_t *) ngx_str_rbtree_lookup(&ngx_noom_cluster_subs,
                                                    &s, hash);

    if (sub || !create) {
        return sub;
    }

    sub = ngx_alloc(sizeof(ngx_noom_csub_t) + len, ngx_cycle->log);
    if (sub == NULL) {
        return NULL;
    }

    sub->sn.node.key = hash;
    sub->sn.str.data = (u_char *) (sub + 1);
    sub->sn.str.len = len;
    ngx_memcpy(sub->sn.str.data, name, len);
    sub->uid = 0;
    sub->refs = 0;
    sub->state = NGX_NOOM_SUB_NONE;

    ngx_rbtree_insert(&ngx_noom_cluster_subs, &sub->sn.node);

    return sub;
}


/* the room's noom channel, then the emitter's: the last confirms both */

static void
ngx_noom_cluster_sub_send(ngx_noom_csub_t *sub, const char *cmd)
{
    u_char      *p;
    size_t       lens[2];
    const char  *chans[2];

    p = ngx_noom_cluster_buf;

    chans[0] = (char *) p;
    p = ngx_cpymem(p, "noom:r:", 7);
    p = ngx_cpymem(p, sub->sn.str.data, sub->sn.str.len);
    lens[0] = p - (u_char *) chans[0];

    chans[1] = (char *) p;
    p = ngx_cpymem(p, "socket.io#/#", 12);
    p = ngx_cpymem(p, sub->sn.str.data, sub->sn.str.len);
    *p++ = '#';
    lens[1] = p - (u_char *) chans[1];

    if (ngx_noom_redis_subscribe(cmd, 2, chans, lens) == NGX_OK) {
        sub->state = (cmd[0] == 'S') ? NGX_NOOM_SUB_ON : NGX_NOOM_SUB_OFF;
    }
}


static void
ngx_noom_cluster_unref(ngx_noom_csub_t *sub)
{
    if (--sub->refs) {
        return;
    }

    if (sub->state == NGX_NOOM_SUB_ON || sub->state == NGX_NOOM_SUB_READY)
    {
        ngx_noom_cluster_sub_send(sub, "UNSUBSCRIBE");

        if (sub->state == NGX_NOOM_SUB_OFF) {
            /* freed when Redis confirms */
            return;
        }
    }

    if (sub->state == NGX_NOOM_SUB_OFF) {
        return;
    }

    ngx_rbtree_delete(&ngx_noom_cluster_subs, &sub->sn.node);
    ngx_free(sub);
}


/*
 * enter_room with Redis: the worker first makes sure it hears the room,
 * then the script decides; the rest of the join (the zone, the ack) waits
 * for its answer in ngx_noom_cluster_join_reply().
 */

ngx_int_t
ngx_noom_cluster_join(ngx_noom_ctx_t *ctx, ngx_str_t *name, int64_t ack,
    const char *event)
{
    ngx_queue_t       *q;
    ngx_noom_csub_t   *sub;
    ngx_noom_cjoin_t  *j;

    if (ngx_noom_cluster_rcf == NULL) {
        return NGX_DECLINED;
    }

    for (q = ngx_queue_head(&ngx_noom_cluster_joins);
         q != ngx_queue_sentinel(&ngx_noom_cluster_joins);
         q = ngx_queue_next(q))
    {
        j = ngx_queue_data(q, ngx_noom_cjoin_t, queue);

        if (j->ctx == ctx && j->sub) {
            ngx_noom_app_joined(ctx, NGX_NOOM_ERR_CLUSTER, ack, event, name,
                                NULL, 0, 0, NULL, 0);
            return NGX_OK;
        }
    }

    if (!ngx_noom_redis_linked()) {
        ngx_noom_stat(redis_drops, 1);
        ngx_noom_app_joined(ctx, NGX_NOOM_ERR_CLUSTER, ack, event, name,
                            NULL, 0, 0, NULL, 0);
        return NGX_OK;
    }

    sub = ngx_noom_cluster_sub(name->data, name->len, 1);

    j = (sub == NULL) ? NULL : ngx_alloc(sizeof(ngx_noom_cjoin_t), ctx->log);
    if (j == NULL) {
        if (sub && sub->refs == 0 && sub->state == NGX_NOOM_SUB_NONE) {
            ngx_rbtree_delete(&ngx_noom_cluster_subs, &sub->sn.node);
            ngx_free(sub);
        }

        ngx_noom_app_joined(ctx, NGX_NOOM_ERR_NOMEM, ack, event, name,
                            NULL, 0, 0, NULL, 0);
        return NGX_OK;
    }

    j->ctx = ctx;
    j->sub = sub;
    j->ack = ack;
    j->event = (ngx_strcmp(event, "join_room") == 0) ? "join_room"
                                                     : "enter_room";
    j->sent = 0;
    ngx_memcpy(j->id, ctx->nsp[0].id, NGX_NOOM_ID_LEN);

    sub->refs++;

    if (sub->state == NGX_NOOM_SUB_NONE) {
        ngx_noom_cluster_sub_send(sub, "SUBSCRIBE");
    }

    ngx_queue_insert_tail(&ngx_noom_cluster_joins, &j->queue);

    if (sub->state == NGX_NOOM_SUB_READY) {
        ngx_noom_cluster_join_send(j);
    }

    /* otherwise sent when the subscription is confirmed */

    return NGX_OK;
}


static void
ngx_noom_cluster_join_send(ngx_noom_cjoin_t *j)
{
    u_char           mm[NGX_INT_T_LEN], mr[NGX_INT_T_LEN], w[NGX_INT_T_LEN];
    size_t           lens[8];
    const char      *argv[8];
    ngx_noom_ctx_t  *ctx;

    ctx = j->ctx;

    argv[0] = "join";
    argv[1] = (char *) j->sub->sn.str.data;
    argv[2] = (char *) j->id;
    argv[3] = (char *) ngx_noom_cluster_rcf->node;
    argv[4] = (char *) w;
    argv[5] = (char *) ctx->nick;
    argv[6] = (char *) mm;
    argv[7] = (char *) mr;

    lens[0] = 4;
    lens[1] = j->sub->sn.str.len;
    lens[2] = NGX_NOOM_ID_LEN;
    lens[3] = NGX_NOOM_NODE_LEN;
    lens[4] = ngx_sprintf(w, "%ui", ngx_noom_slot) - w;
    lens[5] = ctx->nick_len;
    lens[6] = ngx_sprintf(mm, "%ui", ngx_noom_cluster_mcf->max_members) - mm;
    lens[7] = ngx_sprintf(mr, "%ui", ngx_noom_cluster_mcf->max_rooms) - mr;

    if (ngx_noom_redis_script(ngx_noom_cluster_join_reply, j, 8, argv, lens)
        != NGX_OK)
    {
        ngx_noom_stat(redis_drops, 1);
        ngx_queue_remove(&j->queue);
        ngx_noom_cluster_join_fail(j, NGX_NOOM_ERR_CLUSTER);
        return;
    }

    j->sent = 1;
}


static void
ngx_noom_cluster_join_fail(ngx_noom_cjoin_t *j, ngx_int_t rc)
{
    ngx_str_t  name;

    name = j->sub->sn.str;

    if (j->ctx) {
        ngx_noom_app_joined(j->ctx, rc, j->ack, j->event, &name, NULL, 0, 0,
                            NULL, 0);
    }

    ngx_noom_cluster_unref(j->sub);
    ngx_free(j);
}


/* [status, count, [id, nickname, ...]]: 0 joined, 1 in it already */

static void
ngx_noom_cluster_join_reply(redisReply *reply, void *data)
{
    ngx_noom_cjoin_t *j = data;

    u_char           *p;
    size_t            len;
    ngx_int_t         rc, status;
    ngx_str_t         name, hist;
    ngx_uint_t        i, n, count, lcount;
    redisReply       *peers, *e;
    ngx_noom_ctx_t   *ctx;
    ngx_noom_peer_t  *peer;

    ngx_queue_remove(&j->queue);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || reply->element[1]->type != REDIS_REPLY_INTEGER
        || reply->element[2]->type != REDIS_REPLY_ARRAY)
    {
        ngx_noom_cluster_join_fail(j, NGX_NOOM_ERR_CLUSTER);
        return;
    }

    status = (ngx_int_t) reply->element[0]->integer;
    count = (ngx_uint_t) reply->element[1]->integer;
    peers = reply->element[2];
    ctx = j->ctx;
    name = j->sub->sn.str;

    if (status < 0) {
        ngx_noom_cluster_join_fail(j, status == -1 ? NGX_NOOM_ERR_FULL
                                                   : NGX_NOOM_ERR_ROOMS);
        return;
    }

    if (ctx == NULL) {
        /* the socket went while Redis decided */
        if (status == 0) {
            (void) ngx_noom_cluster_leave_send(name.data, name.len, j->id);
        }

        ngx_noom_cluster_unref(j->sub);
        ngx_free(j);
        return;
    }

    if (ctx->member
        && (ctx->member->room->len != name.len
            || ngx_memcmp(ctx->member->room->name, name.data, name.len) != 0))
    {
        /* one room at a time: this cannot be, and is not let be */
        if (status == 0) {
            (void) ngx_noom_cluster_leave_send(name.data, name.len, j->id);
        }

        ngx_noom_cluster_join_fail(j, NGX_NOOM_ERR_CLUSTER);
        return;
    }

    n = 0;
    ngx_noom_app_history_buf(ctx, j->ack, &hist);

    rc = ngx_noom_rooms_join(ctx, &name, NULL, &n, &lcount,
                             hist.data ? &hist : NULL);

    if (rc != NGX_OK && rc != NGX_DONE) {
        if (status == 0) {
            (void) ngx_noom_cluster_leave_send(name.data, name.len, j->id);
        }

        ngx_noom_cluster_join_fail(j, rc);
        return;
    }

    if (rc == NGX_DONE) {
        /* counted once already */
        j->sub->refs--;
    }

    j->sub->uid = ctx->member->room->uid;

    n = 0;

    for (i = 0; i + 1 < peers->elements; i += 2) {
        e = peers->element[i];

        if (n == ngx_noom_cluster_mcf->max_members
            || e->type != REDIS_REPLY_STRING || e->len != NGX_NOOM_ID_LEN
            || peers->element[i + 1]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        peer = &ngx_noom_cluster_peers[n++];
        ngx_memcpy(peer->id, e->str, NGX_NOOM_ID_LEN);

        len = ngx_min((size_t) peers->element[i + 1]->len,
                      ngx_noom_cluster_mcf->max_nickname);
        p = (u_char *) peers->element[i + 1]->str;
        peer->nick_len = len;
        ngx_memcpy(peer->nick, p, len);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "noom: redis: socket %uL joins \"%V\": %ui members",
                   ctx->serial, &name, count);

    /* the script told the room: the welcome is not sent again */

    ngx_noom_app_joined(ctx, rc, j->ack, j->event, &name,
                        ngx_noom_cluster_peers, n, count,
                        hist.data ? &hist : NULL, 0);

    ngx_free(j);
}


/*
 * Leaving, before the zone forgets the room: NGX_OK when Redis was asked
 * and will say bye to the room, everywhere; otherwise the caller says it
 * to this node's members, and the next resync to the others.
 */

ngx_int_t
ngx_noom_cluster_leave(ngx_noom_ctx_t *ctx)
{
    ngx_noom_room_t  *room;
    ngx_noom_csub_t  *sub;

    if (ngx_noom_cluster_rcf == NULL) {
        return NGX_DECLINED;
    }

    room = ctx->member->room;

    sub = ngx_noom_cluster_sub(room->name, room->len, 0);

    if (sub) {
        ngx_noom_cluster_unref(sub);
    }

    return ngx_noom_cluster_leave_send(room->name, room->len,
                                       ctx->nsp[0].id);
}


static ngx_int_t
ngx_noom_cluster_leave_send(u_char *room, size_t len, u_char *id)
{
    size_t       lens[4];
    const char  *argv[4];

    argv[0] = "leave";
    argv[1] = (char *) room;
    argv[2] = (char *) id;
    argv[3] = (char *) ngx_noom_cluster_rcf->node;

    lens[0] = 5;
    lens[1] = len;
    lens[2] = NGX_NOOM_ID_LEN;
    lens[3] = NGX_NOOM_NODE_LEN;

    if (ngx_noom_redis_script(NULL, NULL, 4, argv, lens) != NGX_OK) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a socket on "/": to(socketId) of the emitter reaches it here */

void
ngx_noom_cluster_connect(ngx_noom_ctx_t *ctx)
{
    ngx_noom_csock_t  *cs;

    if (ngx_noom_cluster_rcf == NULL
        || ngx_noom_cluster_sock(ctx->nsp[0].id, NGX_NOOM_ID_LEN))
    {
        return;
    }

    cs = ngx_alloc(sizeof(ngx_noom_csock_t), ctx->log);
    if (cs == NULL) {
        /* the emitter cannot name this socket: all else works */
        return;
    }

    ngx_memcpy(cs->id, ctx->nsp[0].id, NGX_NOOM_ID_LEN);
    cs->sn.str.data = cs->id;
    cs->sn.str.len = NGX_NOOM_ID_LEN;
    cs->sn.node.key = ngx_crc32_short(cs->id, NGX_NOOM_ID_LEN);
    cs->ctx = ctx;

    ngx_rbtree_insert(&ngx_noom_cluster_socks, &cs->sn.node);

    /* without a link, ngx_noom_cluster_up() subscribes it */
    ngx_noom_cluster_sock_send(&cs, 1, "SUBSCRIBE");
}


static ngx_noom_csock_t *
ngx_noom_cluster_sock(u_char *id, size_t len)
{
    ngx_str_t  s;

    if (len != NGX_NOOM_ID_LEN) {
        return NULL;
    }

    s.data = id;
    s.len = len;

    return (ngx_noom_csock_t *) ngx_str_rbtree_lookup(
                                    &ngx_noom_cluster_socks, &s,
                                    ngx_crc32_short(id, len));
}


static void
ngx_noom_cluster_sock_send(ngx_noom_csock_t **socks, ngx_uint_t n,
    const char *cmd)
{
    u_char       *p, buf[NGX_NOOM_REDIS_SUB_MAX * (NGX_NOOM_ID_LEN + 13)];
    size_t        lens[NGX_NOOM_REDIS_SUB_MAX];
    ngx_uint_t    i;
    const char   *chans[NGX_NOOM_REDIS_SUB_MAX];

    if (!ngx_noom_redis_linked()) {
        return;
    }

    p = buf;

    for (i = 0; i < n; i++) {
        chans[i] = (char *) p;
        p = ngx_cpymem(p, "socket.io#/#", 12);
        p = ngx_cpymem(p, socks[i]->id, NGX_NOOM_ID_LEN);
        *p++ = '#';
        lens[i] = p - (u_char *) chans[i];
    }

    (void) ngx_noom_redis_subscribe(cmd, (int) n, chans, lens);
}


/* the link is up: every socket's channel again, a batch a command */

static void
ngx_noom_cluster_socks_up(void)
{
    ngx_uint_t          n;
    ngx_noom_csock_t   *batch[NGX_NOOM_REDIS_SUB_MAX];
    ngx_rbtree_node_t  *node, *root, *sentinel;

    root = ngx_noom_cluster_socks.root;
    sentinel = ngx_noom_cluster_socks.sentinel;

    if (root == sentinel) {
        return;
    }

    n = 0;

    for (node = ngx_rbtree_min(root, sentinel);
         node;
         node = ngx_rbtree_next(&ngx_noom_cluster_socks, node))
    {
        batch[n++] = (ngx_noom_csock_t *) node;

        if (n == NGX_NOOM_REDIS_SUB_MAX) {
            ngx_noom_cluster_sock_send(batch, n, "SUBSCRIBE");
            n = 0;
        }
    }

    if (n) {
        ngx_noom_cluster_sock_send(batch, n, "SUBSCRIBE");
    }
}


/*
 * The socket goes: its channel is left, and a join under way for it finds
 * no socket to answer.
 */

void
ngx_noom_cluster_forget(ngx_noom_ctx_t *ctx)
{
    ngx_queue_t       *q;
    ngx_noom_csock_t  *cs;
    ngx_noom_cjoin_t  *j;

    if (ngx_noom_cluster_rcf == NULL) {
        return;
    }

    cs = ngx_noom_cluster_sock(ctx->nsp[0].id, NGX_NOOM_ID_LEN);

    if (cs && cs->ctx == ctx) {
        ngx_noom_cluster_sock_send(&cs, 1, "UNSUBSCRIBE");
        ngx_rbtree_delete(&ngx_noom_cluster_socks, &cs->sn.node);
        ngx_free(cs);
    }

    for (q = ngx_queue_head(&ngx_noom_cluster_joins);
         q != ngx_queue_sentinel(&ngx_noom_cluster_joins);
         q = ngx_queue_next(q))
    {
        j = ngx_queue_data(q, ngx_noom_cjoin_t, queue);

        if (j->ctx == ctx) {
            j->ctx = NULL;
        }
    }
}


void
ngx_noom_cluster_nick(ngx_noom_ctx_t *ctx)
{
    u_char           w[NGX_INT_T_LEN];
    size_t           lens[6];
    const char      *argv[6];
    ngx_noom_room_t *room;

    if (ngx_noom_cluster_rcf == NULL || ctx->member == NULL) {
        return;
    }

    room = ctx->member->room;

    argv[0] = "nick";
    argv[1] = (char *) room->name;
    argv[2] = (char *) ctx->nsp[0].id;
    argv[3] = (char *) ngx_noom_cluster_rcf->node;
    argv[4] = (char *) w;
    argv[5] = (char *) ctx->nick;

    lens[0] = 4;
    lens[1] = room->len;
    lens[2] = NGX_NOOM_ID_LEN;
    lens[3] = NGX_NOOM_NODE_LEN;
    lens[4] = ngx_sprintf(w, "%ui", ngx_noom_slot) - w;
    lens[5] = ctx->nick_len;

    (void) ngx_noom_redis_script(NULL, NULL, 6, argv, lens);
}


/*
 * A room event to the other nodes: the Socket.IO event's JSON out of the
 * frame the zone's rings carry (WebSocket, unmasked, text: "42[...]").
 * An event with binary attachments stays on this node.
 */

ngx_int_t
ngx_noom_cluster_relay(ngx_noom_ctx_t *ctx, ngx_noom_msg_t *m, u_char *to)
{
    u_char           *p, *last, *env;
    size_t            len, hlen, lens[3];
    const char       *argv[3];
    ngx_noom_room_t  *room;

    if (ngx_noom_cluster_rcf == NULL) {
        return NGX_OK;
    }

    room = ctx->member->room;

    if (!ngx_noom_redis_linked()) {
        if (to || ngx_noom_cluster_remote(room)) {
            ngx_noom_stat(redis_drops, 1);
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    p = m->pos;
    last = m->pos + m->len;

    if (m->len < 4 || p[0] != 0x81) {
        return NGX_DECLINED;
    }

    len = p[1] & 0x7f;
    hlen = 2;

    if (len == 126) {
        len = (p[2] << 8) | p[3];
        hlen = 4;

    } else if (len == 127) {
        len = 0;
        for (hlen = 2; hlen < 10; hlen++) {
            len = (len << 8) | p[hlen];
        }
    }

    p += hlen;

    if ((size_t) (last - p) != len || len < 3 || p[0] != '4' || p[1] != '2'
        || p[2] != '[')
    {
        /* binary attachments follow, or not an event */
        return to ? NGX_DECLINED : NGX_OK;
    }

    p += 2;
    len -= 2;

    env = ngx_alloc(len + 64, ctx->log);
    if (env == NULL) {
        return NGX_DECLINED;
    }

    if (to) {
        last = ngx_sprintf(env, "noom1 U - %*s ", (size_t) NGX_NOOM_ID_LEN,
                           to);

    } else {
        last = ngx_sprintf(env, "noom1 R %*s - ", (size_t) NGX_NOOM_NODE_LEN,
                           ngx_noom_cluster_rcf->node);
    }

    last = ngx_cpymem(last, p, len);

    p = ngx_noom_cluster_buf;
    argv[0] = "PUBLISH";
    lens[0] = 7;
    argv[1] = (char *) p;
    p = ngx_cpymem(p, "noom:r:", 7);
    p = ngx_cpymem(p, room->name, room->len);
    lens[1] = p - ngx_noom_cluster_buf;
    argv[2] = (char *) env;
    lens[2] = last - env;

    if (ngx_noom_redis_command(NULL, NULL, 3, argv, lens) != NGX_OK) {
        ngx_free(env);
        ngx_noom_stat(redis_drops, 1);

        ngx_noom_log_limited(&ngx_noom_cluster_drop_log, NGX_LOG_WARN,
                             ctx->log,
                             "noom: redis: link down or too many commands "
                             "waiting, an event of room \"%*s\" did not "
                             "reach the other nodes", room->len, room->name);
        return NGX_DECLINED;
    }

    ngx_free(env);
    ngx_noom_stat(redis_out, 1);

    return NGX_OK;
}


/* the room had members on other nodes, as far as this worker knows */

static ngx_uint_t
ngx_noom_cluster_remote(ngx_noom_room_t *room)
{
    u_char                *p;
    ngx_uint_t             i;
    ngx_noom_room_info_t  *info;

    p = ngx_noom_cluster_list;

    for (i = 0; i < ngx_noom_cluster_list_n; i++) {
        info = (ngx_noom_room_info_t *) p;
        p += sizeof(ngx_noom_room_info_t);

        if (info->len == room->len
            && ngx_memcmp(p, room->name, room->len) == 0)
        {
            /* read without the lock: an estimate is enough */
            return info->count > room->count;
        }

        p = ngx_align_ptr(p + info->len + 1, 8);
    }

    return 0;
}


ngx_int_t
ngx_noom_cluster_rooms_list(u_char *buf, size_t size, ngx_uint_t *n)
{
    if (ngx_noom_cluster_rcf == NULL || !ngx_noom_cluster_list_valid) {
        return NGX_DECLINED;
    }

    ngx_memcpy(buf, ngx_noom_cluster_list,
               ngx_min(size, ngx_noom_cluster_list_len));
    *n = ngx_noom_cluster_list_n;

    return NGX_OK;
}


/* the admin panel's server_stats: this node in the cluster */

ngx_int_t
ngx_noom_cluster_stats(json_t *stats)
{
    json_t            *c;
    ngx_noom_stats_t  *st;

    if (ngx_noom_cluster_rcf == NULL) {
        return NGX_OK;
    }

    st = &ngx_noom_shm->stats;

    c = json_pack("{ss#sbsIsIsIsIsIsIsI}",
                  "node", ngx_noom_cluster_rcf->node,
                  (int) NGX_NOOM_NODE_LEN,
                  "linked", (int) ngx_noom_redis_linked(),
                  "linkedWorkers",
                  (json_int_t) ngx_noom_workers_sum(
                      offsetof(ngx_noom_worker_t, redis_up)),
                  "nodes", (json_int_t) st->redis_nodes,
                  "messagesIn", (json_int_t) st->redis_in,
                  "messagesOut", (json_int_t) st->redis_out,
                  "drops", (json_int_t) st->redis_drops,
                  "reconnects", (json_int_t) st->redis_reconnects,
                  "reaped", (json_int_t) st->redis_reaped);

    if (c == NULL || json_object_set_new(stats, "cluster", c) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* while linked, room_change follows the list's changes in Redis */

ngx_int_t
ngx_noom_cluster_rooms_changed(void)
{
    if (ngx_noom_cluster_rcf == NULL || !ngx_noom_redis_linked()) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_noom_cluster_up(void)
{
    ngx_noom_csub_t    *sub;
    ngx_rbtree_node_t  *node, *root, *sentinel, *next;

    root = ngx_noom_cluster_subs.root;
    sentinel = ngx_noom_cluster_subs.sentinel;

    if (root != sentinel) {
        for (node = ngx_rbtree_min(root, sentinel); node; node = next) {
            next = ngx_rbtree_next(&ngx_noom_cluster_subs, node);
            sub = (ngx_noom_csub_t *) node;

            if (sub->refs == 0) {
                ngx_rbtree_delete(&ngx_noom_cluster_subs, &sub->sn.node);
                ngx_free(sub);
                continue;
            }

            ngx_noom_cluster_sub_send(sub, "SUBSCRIBE");
        }
    }

    ngx_noom_cluster_socks_up();
    ngx_noom_cluster_resync();

    /* a Redis that restarted counts its versions from 0 again */

    ngx_noom_cluster_list_ver = 0;
    ngx_noom_cluster_fetching = 0;
    ngx_noom_cluster_fetch_handler(&ngx_noom_cluster_fetch_ev);

    if (ngx_worker == 0 && !ngx_noom_cluster_beat_ev.timer_set) {
        ngx_add_timer(&ngx_noom_cluster_beat_ev, 1);
    }
}


static void
ngx_noom_cluster_down(void)
{
    ngx_str_t           name;
    ngx_queue_t        *q;
    ngx_noom_csub_t    *sub;
    ngx_noom_cjoin_t   *j;
    ngx_rbtree_node_t  *node, *root, *sentinel;

    ngx_noom_cluster_list_valid = 0;
    ngx_noom_cluster_fetching = 0;

    /* the joins sent were answered with no reply: these wait to be sent */

    while (!ngx_queue_empty(&ngx_noom_cluster_joins)) {
        q = ngx_queue_head(&ngx_noom_cluster_joins);
        ngx_queue_remove(q);
        j = ngx_queue_data(q, ngx_noom_cjoin_t, queue);

        if (j->sub) {
            name = j->sub->sn.str;

            if (j->ctx) {
                ngx_noom_app_joined(j->ctx, NGX_NOOM_ERR_CLUSTER, j->ack,
                                    j->event, &name, NULL, 0, 0, NULL, 0);
            }

            j->sub->refs--;
        }

        ngx_free(j);
    }

    root = ngx_noom_cluster_subs.root;
    sentinel = ngx_noom_cluster_subs.sentinel;

    if (root != sentinel) {
        for (node = ngx_rbtree_min(root, sentinel);
             node;
             node = ngx_rbtree_next(&ngx_noom_cluster_subs, node))
        {
            sub = (ngx_noom_csub_t *) node;
            sub->state = NGX_NOOM_SUB_NONE;
        }
    }

    /* the sockets see the rooms of this node until the link is back */
    ngx_noom_relay_rooms_changed_local();
}


static void
ngx_noom_cluster_subscribed(u_char *ch, size_t len, ngx_uint_t on)
{
    ngx_queue_t       *q, *next;
    ngx_noom_csub_t   *sub;
    ngx_noom_cjoin_t  *j;

    /* the emitter's channel of a room comes last: "socket.io#/#<room>#" */

    if (len < 14 || ngx_strncmp(ch, "socket.io#/#", 12) != 0) {
        return;
    }

    sub = ngx_noom_cluster_sub(ch + 12, len - 13, 0);
    if (sub == NULL) {
        return;
    }

    if (!on) {
        if (sub->state != NGX_NOOM_SUB_OFF) {
            return;
        }

        sub->state = NGX_NOOM_SUB_NONE;

        if (sub->refs == 0) {
            ngx_rbtree_delete(&ngx_noom_cluster_subs, &sub->sn.node);
            ngx_free(sub);
            return;
        }

        /* joined again meanwhile */
        ngx_noom_cluster_sub_send(sub, "SUBSCRIBE");
        return;
    }

    if (sub->state != NGX_NOOM_SUB_ON) {
        return;
    }

    sub->state = NGX_NOOM_SUB_READY;

    for (q = ngx_queue_head(&ngx_noom_cluster_joins);
         q != ngx_queue_sentinel(&ngx_noom_cluster_joins);
         q = next)
    {
        next = ngx_queue_next(q);
        j = ngx_queue_data(q, ngx_noom_cjoin_t, queue);

        if (j->sub != sub || j->sent) {
            continue;
        }

        if (j->ctx == NULL) {
            ngx_queue_remove(q);
            ngx_free(j);
            ngx_noom_cluster_unref(sub);
            continue;
        }

        ngx_noom_cluster_join_send(j);
    }
}


static void
ngx_noom_cluster_message(u_char *ch, size_t ch_len, u_char *p, size_t len)
{
    if (ch_len == 10 && ngx_strncmp(ch, "noom:rooms", 10) == 0) {
        ngx_noom_cluster_count(p, len);
        return;
    }

    ngx_noom_stat(redis_in, 1);

    if (ch_len > 7 && ngx_strncmp(ch, "noom:r:", 7) == 0) {
        ngx_noom_cluster_room_message(ch + 7, ch_len - 7, p, len);
        return;
    }

    if (ch_len >= 12 && ngx_strncmp(ch, "socket.io#/#", 12) == 0) {
        ngx_noom_cluster_emitter(ch + 12, ch_len - 12, p, len);
        return;
    }
}


static void
ngx_noom_cluster_room_message(u_char *room, size_t room_len, u_char *p,
    size_t len)
{
    ngx_noom_csub_t      *sub;
    ngx_noom_node_msg_t   msg;

    if (ngx_noom_node_msg_parse(p, len, &msg) != NGX_OK) {
        ngx_noom_cluster_bad(msg.err, room, room_len);
        return;
    }

    if (msg.skip
        && ngx_memcmp(msg.skip, ngx_noom_cluster_rcf->node,
                      NGX_NOOM_NODE_LEN)
           == 0)
    {
        return;
    }

    sub = ngx_noom_cluster_sub(room, room_len, 0);

    if (sub == NULL || sub->uid == 0) {
        return;
    }

    ngx_noom_cluster_deliver(sub, msg.json, msg.json_len, msg.id,
                             msg.unicast);
}


/*
 * The JSON must be an array of an event name and its arguments, in UTF-8:
 * checked whole, by the scanner of the hot events when it can read it
 * (no allocation), else by jansson, then framed as it came.
 */

static void
ngx_noom_cluster_deliver(ngx_noom_csub_t *sub, u_char *json, size_t len,
    u_char *id, ngx_uint_t unicast)
{
    json_t               *v;
    ngx_uint_t            same, n;
    ngx_queue_t          *q;
    json_error_t          err;
    ngx_noom_ctx_t       *ctx;
    ngx_noom_msg_t       *m;
    ngx_noom_lroom_t     *lr;
    ngx_noom_json_tok_t   tok[NGX_NOOM_CLUSTER_TOKENS];

    lr = ngx_noom_local_room(sub->uid);
    if (lr == NULL) {
        return;
    }

    if (len > ngx_noom_cluster_mcf->max_signal + 4096) {
        ngx_noom_cluster_bad("too long", sub->sn.str.data, sub->sn.str.len);
        return;
    }

    if (ngx_noom_utf8(NGX_NOOM_UTF8_ACCEPT, json, len)
        != NGX_NOOM_UTF8_ACCEPT)
    {
        ngx_noom_cluster_bad("not UTF-8", sub->sn.str.data, sub->sn.str.len);
        return;
    }

    if (ngx_noom_json_scan(json, len, tok, NGX_NOOM_CLUSTER_TOKENS, &n)
        != NGX_OK
        || n == 0 || tok[0].type != NGX_NOOM_JSON_STRING)
    {
        v = json_loadb((char *) json, len, JSON_ALLOW_NUL, &err);

        if (v == NULL || !json_is_array(v)
            || !json_is_string(json_array_get(v, 0)))
        {
            json_decref(v);
            ngx_noom_cluster_bad("not an event", sub->sn.str.data,
                                 sub->sn.str.len);
            return;
        }

        json_decref(v);
    }

    m = ngx_noom_sio_message(NGX_NOOM_SIO_EVENT, &ngx_noom_cluster_root,
                             NGX_NOOM_SIO_NO_ACK, json, len, NULL);
    if (m == NULL) {
        return;
    }

    for (q = ngx_queue_head(&lr->members);
         q != ngx_queue_sentinel(&lr->members);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, room_queue);

        same = (id && ngx_memcmp(ctx->nsp[0].id, id, NGX_NOOM_ID_LEN) == 0);

        if (unicast) {
            if (same) {
                ngx_noom_send(ctx, m);
                break;
            }

            continue;
        }

        if (!same) {
            ngx_noom_send(ctx, m);
        }
    }

    ngx_noom_msg_release(m);
}


/*
 * @socket.io/redis-emitter: msgpack [uid, {type, data, nsp}, {rooms,
 * except, flags}] on "socket.io#/#" or "socket.io#/#<room>#".  Events
 * (type 2) of the namespace "/" go to the members of the rooms named,
 * or with no room to every socket; a socket id in except, or the name of
 * its room, leaves it out.
 */

static void
ngx_noom_cluster_emitter(u_char *room, size_t room_len, u_char *p,
    size_t len)
{
    size_t              off;
    json_t             *data;
    ngx_uint_t          i, nrooms;
    ngx_queue_t        *q, *list;
    ngx_noom_ctx_t     *ctx;
    ngx_noom_msg_t     *m;
    msgpack_object     *o, *pkt, *opts, *type, *nsp, *d, *rooms, *except;
    msgpack_object     *r;
    ngx_noom_csub_t    *sub;
    ngx_noom_lroom_t   *lr;
    msgpack_unpacked    u;

    off = 0;
    data = NULL;
    m = NULL;

    msgpack_unpacked_init(&u);

    if (msgpack_unpack_next(&u, (char *) p, len, &off)
        != MSGPACK_UNPACK_SUCCESS)
    {
        ngx_noom_cluster_bad("emitter: not msgpack", room, room_len);
        goto done;
    }

    o = &u.data;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 3) {
        ngx_noom_cluster_bad("emitter: not [uid, packet, opts]", room,
                             room_len);
        goto done;
    }

    pkt = &o->via.array.ptr[1];
    opts = &o->via.array.ptr[2];

    type = ngx_noom_cluster_mp_get(pkt, "type");
    nsp = ngx_noom_cluster_mp_get(pkt, "nsp");
    d = ngx_noom_cluster_mp_get(pkt, "data");

    if (type == NULL || type->type != MSGPACK_OBJECT_POSITIVE_INTEGER
        || d == NULL || d->type != MSGPACK_OBJECT_ARRAY
        || d->via.array.size == 0
        || d->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
    {
        ngx_noom_cluster_bad("emitter: not an event", room, room_len);
        goto done;
    }

    if (type->via.u64 != 2
        || (nsp && (nsp->type != MSGPACK_OBJECT_STR
                    || nsp->via.str.size != 1 || nsp->via.str.ptr[0] != '/')))
    {
        /* another namespace, or binary: not noom's */
        goto done;
    }

    data = ngx_noom_cluster_mp_json(d, 0);
    if (data == NULL) {
        ngx_noom_cluster_bad("emitter: arguments that are not JSON", room,
                             room_len);
        goto done;
    }

    m = ngx_noom_sio_encode(NGX_NOOM_SIO_EVENT, &ngx_noom_cluster_root,
                            NGX_NOOM_SIO_NO_ACK, data, NULL);
    if (m == NULL) {
        goto done;
    }

    rooms = ngx_noom_cluster_mp_get(opts, "rooms");
    except = ngx_noom_cluster_mp_get(opts, "except");

    if (rooms && rooms->type != MSGPACK_OBJECT_ARRAY) {
        rooms = NULL;
    }

    if (except && except->type != MSGPACK_OBJECT_ARRAY) {
        except = NULL;
    }

    nrooms = rooms ? rooms->via.array.size : 0;

    if (nrooms == 0) {
        list = ngx_noom_local_list(NGX_NOOM_LIST_APP);

        for (q = ngx_queue_head(list);
             q != ngx_queue_sentinel(list);
             q = ngx_queue_next(q))
        {
            ctx = ngx_queue_data(q, ngx_noom_ctx_t,
                                 lists[NGX_NOOM_LIST_APP]);

            if (except
                && (ngx_noom_cluster_mp_has(except, ctx->nsp[0].id,
                                            NGX_NOOM_ID_LEN)
                    || (ctx->member
                        && ngx_noom_cluster_mp_has(except,
                                                   ctx->member->room->name,
                                                   ctx->member->room->len))))
            {
                continue;
            }

            ngx_noom_send(ctx, m);
        }

        goto done;
    }

    for (i = 0; i < nrooms; i++) {
        r = &rooms->via.array.ptr[i];

        if (r->type != MSGPACK_OBJECT_STR
            || (except && ngx_noom_cluster_mp_has(except,
                                                  (u_char *) r->via.str.ptr,
                                                  r->via.str.size)))
        {
            continue;
        }

        /* one room on its own channel, several on the common one */

        if (room_len > 1
            && (r->via.str.size != room_len - 1
                || ngx_memcmp(r->via.str.ptr, room, room_len - 1) != 0))
        {
            continue;
        }

        ngx_noom_cluster_emit_socket(m, rooms, i, except);

        sub = ngx_noom_cluster_sub((u_char *) r->via.str.ptr,
                                   r->via.str.size, 0);

        lr = (sub && sub->uid) ? ngx_noom_local_room(sub->uid) : NULL;
        if (lr == NULL) {
            continue;
        }

        for (q = ngx_queue_head(&lr->members);
             q != ngx_queue_sentinel(&lr->members);
             q = ngx_queue_next(q))
        {
            ctx = ngx_queue_data(q, ngx_noom_ctx_t, room_queue);

            if (except
                && ngx_noom_cluster_mp_has(except, ctx->nsp[0].id,
                                           NGX_NOOM_ID_LEN))
            {
                continue;
            }

            ngx_noom_send(ctx, m);
        }
    }

done:

    if (m) {
        ngx_noom_msg_release(m);
    }

    if (data) {
        json_decref(data);
    }

    msgpack_unpacked_destroy(&u);
}


/*
 * Room i of the emitter's list as a socket id of this worker: the socket
 * gets the event unless it is left out, or gets it through its room or an
 * earlier entry of the list.
 */

static void
ngx_noom_cluster_emit_socket(ngx_noom_msg_t *m, msgpack_object *rooms,
    ngx_uint_t i, msgpack_object *except)
{
    ngx_uint_t         k;
    msgpack_object    *r, *o;
    ngx_noom_ctx_t    *ctx;
    ngx_noom_room_t   *room;
    ngx_noom_csock_t  *cs;

    r = &rooms->via.array.ptr[i];

    cs = ngx_noom_cluster_sock((u_char *) r->via.str.ptr, r->via.str.size);
    if (cs == NULL) {
        return;
    }

    for (k = 0; k < i; k++) {
        o = &rooms->via.array.ptr[k];

        if (o->type == MSGPACK_OBJECT_STR
            && o->via.str.size == r->via.str.size
            && ngx_memcmp(o->via.str.ptr, r->via.str.ptr, r->via.str.size)
               == 0)
        {
            return;
        }
    }

    ctx = cs->ctx;
    room = ctx->member ? ctx->member->room : NULL;

    if (room
        && (ngx_noom_cluster_mp_has(rooms, room->name, room->len)
            || (except
                && ngx_noom_cluster_mp_has(except, room->name, room->len))))
    {
        return;
    }

    if (except
        && ngx_noom_cluster_mp_has(except, ctx->nsp[0].id, NGX_NOOM_ID_LEN))
    {
        return;
    }

    ngx_noom_send(ctx, m);
}


static json_t *
ngx_noom_cluster_mp_json(msgpack_object *o, ngx_uint_t depth)
{
    json_t          *v, *e;
    uint32_t         i;
    msgpack_object  *k;

    if (depth > NGX_NOOM_MP_DEPTH) {
        return NULL;
    }

    switch (o->type) {

    case MSGPACK_OBJECT_NIL:
        return json_null();

    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);

    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t) INT64_MAX) {
            return json_real((double) o->via.u64);
        }

        return json_integer((json_int_t) o->via.u64);

    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t) o->via.i64);

    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);

    case MSGPACK_OBJECT_STR:
        /* NULL when it is not UTF-8 */
        return json_stringn(o->via.str.ptr, o->via.str.size);

    case MSGPACK_OBJECT_ARRAY:
        v = json_array();

        for (i = 0; v && i < o->via.array.size; i++) {
            e = ngx_noom_cluster_mp_json(&o->via.array.ptr[i], depth + 1);

            if (e == NULL || json_array_append_new(v, e) != 0) {
                json_decref(v);
                return NULL;
            }
        }

        return v;

    case MSGPACK_OBJECT_MAP:
        v = json_object();

        for (i = 0; v && i < o->via.map.size; i++) {
            k = &o->via.map.ptr[i].key;

            if (k->type != MSGPACK_OBJECT_STR) {
                json_decref(v);
                return NULL;
            }

            e = ngx_noom_cluster_mp_json(&o->via.map.ptr[i].val, depth + 1);

            if (e == NULL
                || json_object_setn_new(v, k->via.str.ptr, k->via.str.size,
                                        e)
                   != 0)
            {
                json_decref(v);
                return NULL;
            }
        }

        return v;

    default:
        /* binary and extensions have no JSON form */
        return NULL;
    }
}


static msgpack_object *
ngx_noom_cluster_mp_get(msgpack_object *map, const char *key)
{
    size_t           len;
    uint32_t         i;
    msgpack_object  *k;

    if (map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }

    len = ngx_strlen(key);

    for (i = 0; i < map->via.map.size; i++) {
        k = &map->via.map.ptr[i].key;

        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len
            && ngx_memcmp(k->via.str.ptr, key, len) == 0)
        {
            return &map->via.map.ptr[i].val;
        }
    }

    return NULL;
}


static ngx_uint_t
ngx_noom_cluster_mp_has(msgpack_object *list, u_char *s, size_t len)
{
    uint32_t         i;
    msgpack_object  *e;

    for (i = 0; i < list->via.array.size; i++) {
        e = &list->via.array.ptr[i];

        if (e->type == MSGPACK_OBJECT_STR && e->via.str.size == len
            && ngx_memcmp(e->via.str.ptr, s, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static void
ngx_noom_cluster_bad(const char *why, u_char *ch, size_t len)
{
    ngx_noom_stat(redis_bad, 1);

    ngx_noom_log_limited(&ngx_noom_cluster_bad_log, NGX_LOG_WARN,
                         ngx_cycle->log,
                         "noom: redis: a message on the channel of \"%*s\" "
                         "dropped: %s", len, ch, why);
}


/* Redis made to agree with this worker's members */

static void
ngx_noom_cluster_resync(void)
{
    u_char           w[NGX_INT_T_LEN];
    size_t          *lens;
    ngx_uint_t       n, i;
    const char     **argv;
    ngx_queue_t     *q, *list;
    ngx_noom_ctx_t  *ctx;

    list = ngx_noom_local_list(NGX_NOOM_LIST_APP);
    n = 0;

    for (q = ngx_queue_head(list);
         q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        n++;
    }

    argv = ngx_alloc((3 + 3 * n) * (sizeof(char *) + sizeof(size_t)),
                     ngx_cycle->log);
    if (argv == NULL) {
        return;
    }

    lens = (size_t *) (argv + 3 + 3 * n);

    argv[0] = "resync";
    lens[0] = 6;
    argv[1] = (char *) ngx_noom_cluster_rcf->node;
    lens[1] = NGX_NOOM_NODE_LEN;
    argv[2] = (char *) w;
    lens[2] = ngx_sprintf(w, "%ui", ngx_noom_slot) - w;

    i = 3;

    for (q = ngx_queue_head(list);
         q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_noom_ctx_t, lists[NGX_NOOM_LIST_APP]);

        if (ctx->member == NULL) {
            continue;
        }

        argv[i] = (char *) ctx->nsp[0].id;
        lens[i++] = NGX_NOOM_ID_LEN;
        argv[i] = (char *) ctx->member->room->name;
        lens[i++] = ctx->member->room->len;
        argv[i] = (char *) ctx->nick;
        lens[i++] = ctx->nick_len;
    }

    (void) ngx_noom_redis_script(NULL, NULL, (int) i, argv, lens);

    ngx_free(argv);
}


/*
 * list_rooms while linked asks Redis, so that a client sees the rooms as
 * they are now, its own join included; the answer refreshes the list
 * that room_change is built from.
 */

ngx_int_t
ngx_noom_cluster_list_rooms(ngx_noom_ctx_t *ctx, int64_t ack)
{
    size_t             lens[1];
    const char        *argv[1];
    ngx_noom_cjoin_t  *j;

    if (ngx_noom_cluster_rcf == NULL || !ngx_noom_redis_linked()) {
        return NGX_DECLINED;
    }

    j = ngx_alloc(sizeof(ngx_noom_cjoin_t), ctx->log);
    if (j == NULL) {
        return NGX_DECLINED;
    }

    j->ctx = ctx;
    j->sub = NULL;
    j->ack = ack;

    argv[0] = "list";
    lens[0] = 4;

    if (ngx_noom_redis_script(ngx_noom_cluster_list_reply, j, 1, argv, lens)
        != NGX_OK)
    {
        ngx_free(j);
        return NGX_DECLINED;
    }

    ngx_queue_insert_tail(&ngx_noom_cluster_joins, &j->queue);

    return NGX_OK;
}


/*
 * The whole list: when the link comes up, and when a change was missed.
 * Between two, each change anywhere comes on "noom:rooms" as "<version>
 * <count> <room>" and is applied to the list as it is (a count of 0: the
 * room went; a room not in the list: a new one, the newest).
 */

static void
ngx_noom_cluster_fetch(void)
{
    if (ngx_noom_cluster_fetching) {
        ngx_noom_cluster_fetch_again = 1;
        return;
    }

    ngx_noom_cluster_fetch_handler(&ngx_noom_cluster_fetch_ev);
}


static void
ngx_noom_cluster_fetch_handler(ngx_event_t *ev)
{
    size_t       lens[1];
    const char  *argv[1];

    argv[0] = "list";
    lens[0] = 4;

    ngx_noom_cluster_fetch_again = 0;

    if (ngx_noom_redis_script(ngx_noom_cluster_list_reply, NULL, 1, argv,
                              lens)
        == NGX_OK)
    {
        ngx_noom_cluster_fetching = 1;
    }
}


static void
ngx_noom_cluster_list_reply(redisReply *reply, void *data)
{
    ngx_noom_cjoin_t *j = data;

    if (j) {
        ngx_queue_remove(&j->queue);
        ngx_noom_cluster_list_store(reply);

        if (j->ctx) {
            ngx_noom_app_list(j->ctx, NULL, j->ack, NULL, "list_rooms");
        }

        ngx_free(j);
        return;
    }

    ngx_noom_cluster_fetching = 0;

    if (ngx_noom_cluster_list_store(reply) != NGX_OK) {
        return;
    }

    ngx_noom_relay_rooms_changed_local();

    if (ngx_noom_cluster_fetch_again) {
        ngx_noom_cluster_fetch();
    }
}


static ngx_int_t
ngx_noom_cluster_list_store(redisReply *reply)
{
    u_char                *p, *last;
    uint64_t               ver;
    ngx_uint_t             i, n;
    redisReply            *name, *count;
    ngx_noom_room_info_t  *info;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        return NGX_DECLINED;
    }

    ver = (uint64_t) reply->element[0]->integer;

    if (ngx_noom_cluster_list_valid && ver < ngx_noom_cluster_list_ver) {
        /* changes that came since are newer than this list */
        return NGX_OK;
    }

    p = ngx_noom_cluster_list;
    last = p + ngx_noom_cluster_list_len;
    n = 0;

    for (i = 1; i + 1 < reply->elements; i += 2) {
        name = reply->element[i];
        count = reply->element[i + 1];

        if (name->type != REDIS_REPLY_STRING
            || count->type != REDIS_REPLY_INTEGER
            || name->len > ngx_noom_cluster_mcf->max_room_name
            || (size_t) (last - p)
               < ngx_align(sizeof(ngx_noom_room_info_t) + name->len + 1, 8))
        {
            continue;
        }

        info = (ngx_noom_room_info_t *) p;
        info->count = (ngx_uint_t) count->integer;
        info->len = name->len;
        p += sizeof(ngx_noom_room_info_t);
        p = ngx_cpymem(p, name->str, name->len);
        *p++ = '\0';
        p = ngx_align_ptr(p, 8);
        n++;
    }

    ngx_noom_cluster_list_n = n;
    ngx_noom_cluster_list_ver = ver;
    ngx_noom_cluster_list_valid = 1;

    return NGX_OK;
}


/* "<version> <count> <room>": one room's new count */

static void
ngx_noom_cluster_count(u_char *p, size_t len)
{
    u_char                *last, *e;
    size_t                 one, rest;
    uint64_t               ver;
    ngx_str_t              room;
    ngx_uint_t             i, count;
    ngx_noom_room_info_t  *info;

    if (ngx_noom_node_count_parse(p, len, &ver, &count, &room) != NGX_OK
        || room.len > ngx_noom_cluster_mcf->max_room_name)
    {
        ngx_noom_cluster_bad("bad count", (u_char *) "noom:rooms", 10);
        return;
    }

    if (!ngx_noom_cluster_list_valid || ver <= ngx_noom_cluster_list_ver) {
        /* the list to come has it */
        return;
    }

    if (ver != ngx_noom_cluster_list_ver + 1) {
        ngx_noom_cluster_fetch();
    }

    ngx_noom_cluster_list_ver = ver;

    e = room.data;
    len = room.len;
    p = ngx_noom_cluster_list;
    last = p + ngx_noom_cluster_list_len;

    for (i = 0; i < ngx_noom_cluster_list_n; i++) {
        info = (ngx_noom_room_info_t *) p;
        one = ngx_align(sizeof(ngx_noom_room_info_t) + info->len + 1, 8);

        if (info->len == len
            && ngx_memcmp(p + sizeof(ngx_noom_room_info_t), e, len) == 0)
        {
            if (count) {
                info->count = count;
                goto changed;
            }

            /* the room went: the rooms after it move up */

            rest = ngx_noom_cluster_list_used() - (p + one
                                                  - ngx_noom_cluster_list);
            ngx_memmove(p, p + one, rest);
            ngx_noom_cluster_list_n--;
            goto changed;
        }

        p += one;
    }

    one = ngx_align(sizeof(ngx_noom_room_info_t) + len + 1, 8);

    if (count == 0 || (size_t) (last - p) < one) {
        return;
    }

    info = (ngx_noom_room_info_t *) p;
    info->count = count;
    info->len = len;
    p = ngx_cpymem(p + sizeof(ngx_noom_room_info_t), e, len);
    *p = '\0';
    ngx_noom_cluster_list_n++;

changed:

    ngx_noom_relay_rooms_changed_local();
}


static size_t
ngx_noom_cluster_list_used(void)
{
    u_char                *p;
    ngx_uint_t             i;
    ngx_noom_room_info_t  *info;

    p = ngx_noom_cluster_list;

    for (i = 0; i < ngx_noom_cluster_list_n; i++) {
        info = (ngx_noom_room_info_t *) p;
        p += ngx_align(sizeof(ngx_noom_room_info_t) + info->len + 1, 8);
    }

    return p - ngx_noom_cluster_list;
}


/* worker 0: this node is alive, and nodes that are not are cleaned up */

static void
ngx_noom_cluster_beat_handler(ngx_event_t *ev)
{
    u_char       t[NGX_INT_T_LEN];
    size_t       lens[3];
    const char  *argv[3];

    if (!ngx_noom_redis_linked()) {
        return;
    }

    argv[0] = "beat";
    lens[0] = 4;
    argv[1] = (char *) ngx_noom_cluster_rcf->node;
    lens[1] = NGX_NOOM_NODE_LEN;
    argv[2] = (char *) t;
    lens[2] = ngx_sprintf(t, "%M", ngx_noom_cluster_rcf->node_timeout) - t;

    (void) ngx_noom_redis_script(ngx_noom_cluster_beat_reply, NULL, 3, argv,
                                 lens);

    ngx_add_timer(ev, ngx_max(ngx_noom_cluster_rcf->node_timeout / 4, 50));
}


static void
ngx_noom_cluster_beat_reply(redisReply *reply, void *data)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || reply->element[1]->type != REDIS_REPLY_INTEGER)
    {
        return;
    }

    ngx_noom_shm->stats.redis_nodes = reply->element[0]->integer;

    if (reply->element[1]->integer) {
        ngx_noom_stat(redis_reaped, reply->element[1]->integer);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "noom: redis: %L members of nodes silent for %M ms "
                      "removed", (int64_t) reply->element[1]->integer,
                      ngx_noom_cluster_rcf->node_timeout);
    }
}
