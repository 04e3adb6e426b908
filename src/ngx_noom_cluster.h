
/*
 * Copyright (C) noom authors
 */


#ifndef _NGX_NOOM_CLUSTER_H_INCLUDED_
#define _NGX_NOOM_CLUSTER_H_INCLUDED_


#include "ngx_noom.h"
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#if (defined __GNUC__)
#pragma GCC visibility push(hidden)
#endif


/* channels in one SUBSCRIBE or UNSUBSCRIBE */
#define NGX_NOOM_REDIS_SUB_MAX      32


typedef void (*ngx_noom_redis_reply_pt)(redisReply *reply, void *data);


/* what a link up or down, and every pub/sub message, is handed to */

typedef struct {
    void                     (*up)(void);
    void                     (*down)(void);
    void                     (*message)(u_char *channel, size_t channel_len,
                                        u_char *p, size_t len);
    void                     (*subscribed)(u_char *channel, size_t len,
                                           ngx_uint_t on);
} ngx_noom_redis_handler_t;


/*
 * ngx_noom_cluster.c: one script holds every operation on the shared rooms,
 * each atomic
 */
extern const char  *ngx_noom_cluster_lua;

/* ngx_noom_redis.c */
ngx_int_t ngx_noom_redis_init_process(ngx_cycle_t *cycle,
    ngx_noom_redis_conf_t *rcf, ngx_noom_redis_handler_t *h);
void ngx_noom_redis_exit_process(void);
ngx_uint_t ngx_noom_redis_linked(void);
ngx_int_t ngx_noom_redis_command(ngx_noom_redis_reply_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
ngx_int_t ngx_noom_redis_script(ngx_noom_redis_reply_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
ngx_int_t ngx_noom_redis_subscribe(const char *cmd, int argc,
    const char **argv, const size_t *argvlen);


#if (defined __GNUC__)
#pragma GCC visibility pop
#endif


#endif /* _NGX_NOOM_CLUSTER_H_INCLUDED_ */
