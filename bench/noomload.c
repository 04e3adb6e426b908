
/*
 * Copyright (C) noom authors
 *
 * noomload: a load generator for noom and its peers.
 *
 * One thread per process, one epoll, non-blocking sockets, no library
 * beyond libc and, with --tls, OpenSSL.  It speaks RFC 6455 (masked client frames, server frames
 * parsed and checked) and, with --proto sio, Engine.IO v4 / Socket.IO v5
 * with the Noom event set on top; --proto raw sends and receives plain
 * WebSocket text frames (nchan, the ceiling server).
 *
 * Connections are numbered; connection g is member g % M of room g / M.
 * Every message carries a token "~<kind><g>.<seq>.<ns>~" (kind m: chat
 * message, o/a/i: offer/answer/ice; g: the sender; seq: the sender's
 * sequence number; ns: the intended send time, CLOCK_MONOTONIC), so a
 * receiver measures end-to-end latency and counts losses, duplicates and
 * gaps per sender.  Open-loop senders (--rate) stamp the time a message
 * was due, not the time it went out, so a stalled server is charged for
 * the wait (no coordinated omission).  With --rate 0 the senders are
 * closed-loop instead: each keeps --window messages in flight, which is
 * how the saturation throughput is measured.
 *
 * --procs P forks P worker processes (each below the per-process file
 * limit, rooms never split between them); the parent synchronises their
 * phases, samples the servers' CPU and memory (--pids) and prints one
 * JSON line.
 *
 * --tls puts TLS under every connection (wss://, https://): OpenSSL's
 * defaults, no certificate check, and no session resumption, so every
 * connection is a full handshake.
 *
 * --mode recover measures `nginx -s reload` under a crowd with
 * noom_recovery, as bench/recovery.mjs does: member 0 of each room sends
 * "m <k>" once a second with an ack, every connection remembers its pid
 * (from the CONNECT answer) and the last offset it was sent, and a lost
 * transport comes back after socket.io-client's delay with
 * 40{"pid":...,"offset":...}: recovered if the answer has the same pid
 * and socket id, fresh (and in the room again) otherwise.  The parent
 * sends SIGHUP to --reload-pid --reload-at seconds into the chat and
 * tells the workers when; at the end every receiver's numbers are checked
 * against its sender's acknowledged ones (lost, duplicated, out of order).
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <openssl/err.h>
#include <openssl/ssl.h>


#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT  24
#endif

#define NL_MAX_PROCS        16
#define NL_MAX_PIDS         64
#define NL_EVENTS           512
#define NL_RBUF             (256 * 1024)
#define NL_SCRATCH          (128 * 1024)
#define NL_MAX_SIZE         (64 * 1024)
#define NL_OUT_LIMIT        (4 * 1024 * 1024)

/* the fixed key and its accept value (RFC 6455, section 1.3) */
#define NL_WS_KEY           "dGhlIHNhbXBsZSBub25jZQ=="
#define NL_WS_ACCEPT        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define NL_MODE_FANOUT      1
#define NL_MODE_IDLE        2
#define NL_MODE_SIGNAL      3
#define NL_MODE_CHURN       4
#define NL_MODE_RECOVER     5

#define NL_PROTO_SIO        1
#define NL_PROTO_RAW        2
#define NL_PROTO_HTTP       3

/* connection states */
#define NL_FREE             0
#define NL_CONNECTING       1
#define NL_UPGRADING        2
#define NL_EIO_OPEN         3
#define NL_SIO_CONNECT      4
#define NL_READY            5
#define NL_NICK             6
#define NL_JOINING          7
#define NL_JOINED           8
#define NL_LEAVING          9
#define NL_CLOSING          10
#define NL_DEAD             11
#define NL_AWAY             12      /* recover: waits to reconnect */

/* recover: what happened to a connection, and when */
#define NL_REC_CLOSE        0
#define NL_REC_RECOVERED    1
#define NL_REC_FRESH        2

/* process phases */
#define NL_PH_SETUP         0
#define NL_PH_WAIT          1
#define NL_PH_RUN           2
#define NL_PH_DRAIN         3
#define NL_PH_DONE          4

/* histogram: exact below 256 ns, then 128 sub-buckets per power of two */
#define NL_HIST_SUB_BITS    7
#define NL_HIST_SUB         (1 << NL_HIST_SUB_BITS)
#define NL_HIST_LEN         (NL_HIST_SUB * 36)


typedef struct {
    uint64_t                 n;
    uint64_t                 max;
    uint64_t                 min;
    uint64_t                 count[NL_HIST_LEN];
} nl_hist_t;


/* what a worker process reports to the parent */

typedef struct {
    uint64_t                 conns;
    uint64_t                 established;
    uint64_t                 failed;
    uint64_t                 alive;
    uint64_t                 unexpected_closes;
    uint64_t                 close_codes_bad;
    uint64_t                 sent;
    uint64_t                 sent_window;
    uint64_t                 acks;
    uint64_t                 errors;
    uint64_t                 late;
    uint64_t                 skipped;
    uint64_t                 expected;
    uint64_t                 got;
    uint64_t                 delivered;
    uint64_t                 delivered_window;
    uint64_t                 self;
    uint64_t                 dups;
    uint64_t                 gaps;
    uint64_t                 bad_tokens;
    uint64_t                 room_changes;
    uint64_t                 other_events;
    uint64_t                 frames_in;
    uint64_t                 bytes_in;
    uint64_t                 delivery_bytes;  /* payloads of deliveries */
    uint64_t                 proto_errors;
    uint64_t                 cycles;
    uint64_t                 cycles_window;
    uint64_t                 cycle_failures;
    uint64_t                 setup_ns;
    uint64_t                 gen_cpu_ns;
    uint64_t                 rec_closed;
    uint64_t                 rec_back;
    uint64_t                 rec_recovered;
    uint64_t                 rec_fresh;
    uint64_t                 rec_retries;     /* reconnections that failed */
    uint64_t                 rec_checked;
    uint64_t                 rec_lost;
    uint64_t                 rec_dups;
    uint64_t                 rec_disorder;
    uint64_t                 rec_same_ids;
    uint64_t                 rec_fresh_senders;
    uint64_t                 rss_kb;          /* the generator's own */
    nl_hist_t                lat;
    nl_hist_t                rtt;
    nl_hist_t                hs;
    nl_hist_t                cyc;
} nl_result_t;


/* recover: a connection's session, what it sent and what it got */

typedef struct {
    uint32_t                *got;       /* the numbers received, in order */
    uint32_t                 got_len;
    uint32_t                 got_cap;
    uint32_t                *acked;     /* a sender's acknowledged numbers */
    uint32_t                 acked_len;
    uint32_t                 acked_cap;
    uint32_t                 k;         /* a sender's next number */
    uint32_t                 wait_k;    /* the number whose ack it awaits */
    uint32_t                 wait_id;
    uint32_t                 tries;     /* reconnections since the loss */
    uint8_t                  waiting;
    uint8_t                  connected; /* answered CONNECT, this transport */
    uint8_t                  pid_len;
    uint64_t                 next_msg;
    char                     pid[32];
    char                     old_sid[32];
    char                     first_sid[32];
    char                     offset[17];
} nl_rec_t;


typedef struct {
    uint64_t                 t;
    uint32_t                 what;      /* NL_REC_CLOSE ... */
} nl_rec_ev_t;


typedef struct {
    int                      fd;
    uint8_t                  state;
    uint8_t                  close_sent;
    uint8_t                  ready_q;
    uint8_t                  sid_len;
    uint8_t                  dirty;
    uint8_t                  tls_hs;    /* TCP is up, TLS is not yet */
    SSL                     *ssl;
    uint32_t                 gidx;      /* global number */
    uint32_t                 room;      /* global room number */
    uint32_t                 slot;      /* member number in the room */
    uint32_t                 seq;       /* the next sequence number */
    uint32_t                 msgs;      /* messages of the scheduled kind */
    uint32_t                 ack_id;
    uint32_t                 heap;      /* position in the send heap + 1 */
    uint64_t                 dlv;       /* copies of its messages received */
    uint64_t                 copies;    /* copies of its messages expected */
    uint64_t                 t_start;   /* connect() time */
    uint64_t                 next_send;
    uint32_t                *next_seq;  /* per member of the room */
    nl_rec_t                *rec;       /* recover */
    uint8_t                 *in;        /* a partial frame */
    size_t                   in_len;
    uint8_t                 *out;       /* what the socket did not take */
    size_t                   out_pos;
    size_t                   out_len;
    size_t                   out_cap;
    uint8_t                 *frag;      /* a fragmented message */
    size_t                   frag_len;
    char                     sid[32];
} nl_conn_t;


typedef struct {
    int                      mode;
    int                      proto;
    const char              *host;
    int                      port;
    int                      port2;
    const char              *path;
    uint32_t                 conns;
    uint32_t                 room_size;
    uint32_t                 senders;
    double                   rate;
    uint32_t                 window;
    uint32_t                 size;
    double                   duration;
    double                   warmup;
    double                   drain;
    double                   hold;
    double                   setup_timeout;
    double                   stall;
    double                   connect_rate;
    uint32_t                 max_pending;
    uint32_t                 src_count;
    uint32_t                 procs;
    const char              *pids;
    const char              *redis_pids;
    const char              *label;
    const char              *tag;
    int                      nick;
    int                      ice;
    int                      quiet;
    int                      tls;
    pid_t                    reload_pid;
    double                   reload_at;
} nl_conf_t;


static nl_conf_t     conf;
static nl_result_t  *res;

/* this process's share: global connections [base, base + n) */
static uint32_t      base;
static uint32_t      nconns;
static nl_conn_t    *conns;
static int           ep = -1;
static int           ctl_in = -1;
static int           ctl_out = -1;
static int           phase;
static uint64_t      t_go;          /* senders start */
static uint64_t      t_m0;          /* measurement window */
static uint64_t      t_m1;
static uint64_t      t_end;         /* drain deadline */
static uint64_t      t_setup_end;
static uint64_t      cpu_m0;
static uint32_t      started;       /* connections started */
static uint32_t      pending;       /* handshakes in flight */
static uint32_t      settled;       /* ready, joined or dead in setup */
static uint64_t      t_progress;    /* the last connection that settled */
static uint64_t      interval_ns;
static uint32_t      receivers;     /* copies of one chat message */
static uint64_t      t_reload;      /* recover: SIGHUP sent, or 0 */
static nl_rec_ev_t  *rec_evs;       /* recover: closes and returns */
static uint32_t      rec_evs_len;
static uint32_t      rec_evs_cap;

static uint32_t     *heap;          /* senders by next_send */
static uint32_t      heap_len;
static uint32_t     *readyq;        /* closed-loop senders with room */
static uint32_t      readyq_len;
static uint32_t     *dirtyq;        /* connections with output to write */
static uint32_t      dirtyq_len;

static uint8_t      *rbuf;
static size_t        rbuf_cap;
static uint8_t      *scratch;
static uint8_t      *msgbuf;
static char         *pad;
static char          request[1024];
static size_t        request_len;
static struct sockaddr_in  dst;
static struct sockaddr_in  dst2;
static uint64_t      rnd = 0x9e3779b97f4a7c15ULL;
static SSL_CTX      *tls_ctx;


static void nl_fatal(const char *fmt, ...);
static uint64_t nl_now(void);
static uint64_t nl_cpu(void);
static void *nl_alloc(size_t n);
static void nl_hist_add(nl_hist_t *h, uint64_t v);
static void nl_hist_merge(nl_hist_t *d, nl_hist_t *s);
static uint64_t nl_hist_pct(nl_hist_t *h, double pct);
static void nl_hist_json(FILE *f, const char *name, nl_hist_t *h);
static void nl_worker(uint32_t from, uint32_t n, int in, int out);
static void nl_loop(void);
static void nl_connect_more(uint64_t now);
static int nl_connect(nl_conn_t *c);
static void nl_event(nl_conn_t *c, uint32_t events);
static void nl_read(nl_conn_t *c, uint32_t events);
static size_t nl_frames(nl_conn_t *c, uint8_t *p, size_t len);
static void nl_message(nl_conn_t *c, int op, uint8_t *p, size_t len);
static void nl_sio(nl_conn_t *c, uint8_t *p, size_t len);
static void nl_sio_ack(nl_conn_t *c, uint32_t id, uint8_t *p, size_t len);
static void nl_sio_event(nl_conn_t *c, uint8_t *p, size_t len);
static void nl_token(nl_conn_t *c, uint8_t *p, size_t len);
static void nl_ready(nl_conn_t *c);
static void nl_joined(nl_conn_t *c);
static void nl_settle(nl_conn_t *c);
static void nl_fail(nl_conn_t *c, int during_setup);
static void nl_close(nl_conn_t *c);
static void nl_cycle_done(nl_conn_t *c);
static void nl_send_frame(nl_conn_t *c, int op, const uint8_t *p,
    size_t len);
static void nl_send_text(nl_conn_t *c, const char *fmt, ...);
static void nl_write(nl_conn_t *c, const uint8_t *p, size_t len);
static void nl_flush(nl_conn_t *c);
static void nl_tls_init(void);
static int nl_tls_handshake(nl_conn_t *c);
static ssize_t nl_recv(nl_conn_t *c, uint8_t *p, size_t len);
static ssize_t nl_send(nl_conn_t *c, const uint8_t *p, size_t len);
static void nl_flush_dirty(void);
static void nl_send_message(nl_conn_t *c, int kind, uint64_t t,
    nl_conn_t *to, uint32_t track);
static void nl_join_all(void);
static void nl_phase_go(uint64_t go);
static void nl_timers(uint64_t now);
static void nl_closed_loop(void);
static int nl_can_send(nl_conn_t *c);
static void nl_heap_push(uint32_t i);
static uint32_t nl_heap_pop(void);
static void nl_heap_down(uint32_t pos);
static void nl_heap_up(uint32_t pos);
static void nl_report(void);
static int nl_all_done(void);
static void nl_parent(pid_t *pids, int *in, int *out);
static void nl_result_add(nl_result_t *sum, nl_result_t *r, int fd,
    uint32_t proc);
static double        base_cpu;
static long          base_rss;
static long          base_pss;
static uint32_t      src_rr;
static void nl_sample(double *cpu, long *rss, long *pss);
static double nl_cpu_of(const char *pids);
static double        sample_sys;    /* the kernel's part of nl_sample() */
static void nl_room_name(char *buf, size_t size, uint32_t room);
static void nl_usage(void);
static void nl_rec_timer(nl_conn_t *c, uint64_t t);
static void nl_rec_timers(uint64_t now);
static void nl_rec_send(nl_conn_t *c);
static void nl_rec_chat(nl_conn_t *c, uint64_t now);
static void nl_rec_open(nl_conn_t *c);
static void nl_rec_connect(nl_conn_t *c, uint8_t *p, size_t len);
static void nl_rec_event(nl_conn_t *c, uint8_t *p, size_t len);
static void nl_rec_ack(nl_conn_t *c, uint32_t id, uint8_t *p, size_t len);
static void nl_rec_lost(nl_conn_t *c);
static void nl_rec_note(uint64_t t, uint32_t what);
static void nl_rec_check(void);
static void nl_rec_report(void);
static void nl_rec_parent(pid_t *pids, int *in, int *out, uint64_t go);
static long nl_rss_kb(void);


static void
nl_fatal(const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    fprintf(stderr, "noomload: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}


static uint64_t
nl_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}


static uint64_t
nl_cpu(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}


static void *
nl_alloc(size_t n)
{
    void  *p;

    p = calloc(1, n ? n : 1);
    if (p == NULL) {
        nl_fatal("out of memory (%zu bytes)", n);
    }

    return p;
}


static uint64_t
nl_random(void)
{
    rnd ^= rnd << 13;
    rnd ^= rnd >> 7;
    rnd ^= rnd << 17;
    return rnd;
}


/* histograms */

static uint32_t
nl_hist_index(uint64_t v)
{
    int  msb, e;

    if (v < 2 * NL_HIST_SUB) {
        return (uint32_t) v;
    }

    msb = 63 - __builtin_clzll(v);
    e = msb - NL_HIST_SUB_BITS;

    if (e > 34) {
        return NL_HIST_LEN - 1;
    }

    return (uint32_t) (NL_HIST_SUB * (e + 1) + ((v >> e) - NL_HIST_SUB));
}


/* the middle of a bucket */

static uint64_t
nl_hist_value(uint32_t i)
{
    uint64_t  e, j;

    if (i < 2 * NL_HIST_SUB) {
        return i;
    }

    e = i / NL_HIST_SUB - 1;
    j = i % NL_HIST_SUB + NL_HIST_SUB;

    return (j << e) + ((1ULL << e) >> 1);
}


static void
nl_hist_add(nl_hist_t *h, uint64_t v)
{
    h->count[nl_hist_index(v)]++;

    if (h->n == 0 || v < h->min) {
        h->min = v;
    }

    if (v > h->max) {
        h->max = v;
    }

    h->n++;
}


static void
nl_hist_merge(nl_hist_t *d, nl_hist_t *s)
{
    uint32_t  i;

    if (s->n == 0) {
        return;
    }

    for (i = 0; i < NL_HIST_LEN; i++) {
        d->count[i] += s->count[i];
    }

    if (d->n == 0 || s->min < d->min) {
        d->min = s->min;
    }

    if (s->max > d->max) {
        d->max = s->max;
    }

    d->n += s->n;
}


static uint64_t
nl_hist_pct(nl_hist_t *h, double pct)
{
    uint32_t  i;
    uint64_t  want, seen, v;

    if (h->n == 0) {
        return 0;
    }

    want = (uint64_t) (pct / 100.0 * (double) h->n + 0.5);
    if (want < 1) {
        want = 1;
    }

    seen = 0;

    for (i = 0; i < NL_HIST_LEN; i++) {
        seen += h->count[i];

        if (seen >= want) {
            v = nl_hist_value(i);
            if (v > h->max) {
                v = h->max;
            }
            if (v < h->min) {
                v = h->min;
            }
            return v;
        }
    }

    return h->max;
}


static void
nl_hist_json(FILE *f, const char *name, nl_hist_t *h)
{
    fprintf(f, ",\"%s\":{\"n\":%llu,\"min\":%.1f,\"p50\":%.1f,"
            "\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
            name, (unsigned long long) h->n, h->min / 1000.0,
            nl_hist_pct(h, 50) / 1000.0, nl_hist_pct(h, 90) / 1000.0,
            nl_hist_pct(h, 99) / 1000.0, nl_hist_pct(h, 99.9) / 1000.0,
            h->max / 1000.0);
}


/* options */

static double
nl_atof(const char *s, const char *name)
{
    char    *end;
    double   v;

    v = strtod(s, &end);
    if (end == s || *end != '\0' || v < 0) {
        nl_fatal("bad value for --%s: \"%s\"", name, s);
    }

    return v;
}


static void
nl_usage(void)
{
    fprintf(stderr,
"usage: noomload [options]\n"
"  -m, --mode fanout|idle|signal|churn|recover   (fanout)\n"
"                      recover: member 0 of each room sends \"m <k>\"\n"
"                      once a second with an ack; lost transports come\n"
"                      back with their pid and offset (noom_recovery)\n"
"  -x, --proto sio|raw|http              (sio)\n"
"                      http: one GET, then the keepalive connection\n"
"                      is held (idle only)\n"
"  -H, --host 127.0.0.1  -P, --port 8080\n"
"      --port2 P       a second node: the senders of even rooms and the\n"
"                      receivers of odd rooms on --port, the others on\n"
"                      P, so every delivery crosses from node to node\n"
"      --path PATH     request path; %%r is the room name\n"
"                      (sio: /ws/?EIO=4&transport=websocket)\n"
"  -c, --conns N       connections (churn: concurrent slots)  (100)\n"
"  -r, --room-size M   members per room (signal: 2)           (10)\n"
"      --senders S     senders per room                       (M)\n"
"      --rate R        messages/s per sender, 0: closed loop  (0)\n"
"      --window W      closed loop: messages in flight/sender (8)\n"
"  -s, --size B        message text bytes                     (64)\n"
"  -d, --duration S    measured seconds                       (5)\n"
"      --warmup S      seconds before measuring               (1)\n"
"      --drain S       seconds to wait for the last messages  (5)\n"
"      --hold S        idle: seconds to hold                  (3)\n"
"      --setup-timeout S  connect and join within S seconds   (60)\n"
"      --stall S       fail the rest after S s without progress (10)\n"
"      --connect-rate C  new connections per second           (5000)\n"
"      --max-pending K   handshakes in flight per process     (256)\n"
"      --src N         source addresses 127.0.0.2..N+1        (8)\n"
"      --procs P       worker processes                       (1)\n"
"      --pids a,b,c    server processes to sample (CPU, RSS)\n"
"      --redis-pids a  more processes (Redis) whose CPU is reported\n"
"                      apart, as redis_cpu_s\n"
"      --label L  --tag T (room name prefix)\n"
"      --nick          fanout/signal: send a nickname first\n"
"      --no-ice        signal: offer/answer only\n"
"      --tls           TLS on every connection (wss://, https://)\n"
"      --reload-pid PID  recover: SIGHUP to PID (the nginx master)...\n"
"      --reload-at S     ...S seconds after the chat starts      (d/3)\n"
"                      recover runs -d seconds of chat, then waits\n"
"                      --drain (2) for the last returns and messages\n");
    exit(2);
}


static void
nl_options(int argc, char **argv)
{
    int  o, drain, reload_at;

    static struct option  opts[] = {
        { "mode", 1, NULL, 'm' },
        { "proto", 1, NULL, 'x' },
        { "host", 1, NULL, 'H' },
        { "port", 1, NULL, 'P' },
        { "port2", 1, NULL, 'Q' },
        { "path", 1, NULL, 'p' },
        { "conns", 1, NULL, 'c' },
        { "room-size", 1, NULL, 'r' },
        { "senders", 1, NULL, 'S' },
        { "rate", 1, NULL, 'R' },
        { "window", 1, NULL, 'W' },
        { "size", 1, NULL, 's' },
        { "duration", 1, NULL, 'd' },
        { "warmup", 1, NULL, 'w' },
        { "drain", 1, NULL, 'D' },
        { "hold", 1, NULL, 'h' },
        { "setup-timeout", 1, NULL, 'T' },
        { "stall", 1, NULL, 'Z' },
        { "connect-rate", 1, NULL, 'C' },
        { "max-pending", 1, NULL, 'K' },
        { "src", 1, NULL, 'a' },
        { "procs", 1, NULL, 'j' },
        { "pids", 1, NULL, 'i' },
        { "redis-pids", 1, NULL, 'E' },
        { "label", 1, NULL, 'l' },
        { "tag", 1, NULL, 't' },
        { "nick", 0, NULL, 'n' },
        { "no-ice", 0, NULL, 'I' },
        { "quiet", 0, NULL, 'q' },
        { "tls", 0, NULL, 'L' },
        { "reload-pid", 1, NULL, 'k' },
        { "reload-at", 1, NULL, 'e' },
        { "help", 0, NULL, '?' },
        { NULL, 0, NULL, 0 }
    };

    conf.mode = NL_MODE_FANOUT;
    conf.proto = NL_PROTO_SIO;
    conf.host = "127.0.0.1";
    conf.port = 8080;
    conf.conns = 100;
    conf.room_size = 10;
    conf.window = 8;
    conf.size = 64;
    conf.duration = 5;
    conf.warmup = 1;
    conf.drain = 5;
    conf.hold = 3;
    conf.setup_timeout = 60;
    conf.stall = 10;
    conf.connect_rate = 5000;
    conf.max_pending = 256;
    conf.src_count = 8;
    conf.procs = 1;
    conf.label = "";
    conf.tag = "nl";
    conf.ice = 1;
    drain = 0;
    reload_at = 0;

    while ((o = getopt_long(argc, argv, "m:x:H:P:c:r:s:d:q", opts, NULL))
           != -1)
    {
        switch (o) {

        case 'm':
            if (strcmp(optarg, "fanout") == 0) {
                conf.mode = NL_MODE_FANOUT;
            } else if (strcmp(optarg, "idle") == 0) {
                conf.mode = NL_MODE_IDLE;
            } else if (strcmp(optarg, "signal") == 0) {
                conf.mode = NL_MODE_SIGNAL;
            } else if (strcmp(optarg, "churn") == 0) {
                conf.mode = NL_MODE_CHURN;
            } else if (strcmp(optarg, "recover") == 0) {
                conf.mode = NL_MODE_RECOVER;
            } else {
                nl_fatal("unknown mode \"%s\"", optarg);
            }
            break;

        case 'x':
            if (strcmp(optarg, "sio") == 0) {
                conf.proto = NL_PROTO_SIO;
            } else if (strcmp(optarg, "raw") == 0) {
                conf.proto = NL_PROTO_RAW;
            } else if (strcmp(optarg, "http") == 0) {
                conf.proto = NL_PROTO_HTTP;
            } else {
                nl_fatal("unknown protocol \"%s\"", optarg);
            }
            break;

        case 'H': conf.host = optarg; break;
        case 'P': conf.port = (int) nl_atof(optarg, "port"); break;
        case 'Q': conf.port2 = (int) nl_atof(optarg, "port2"); break;
        case 'p': conf.path = optarg; break;
        case 'c': conf.conns = (uint32_t) nl_atof(optarg, "conns"); break;
        case 'r':
            conf.room_size = (uint32_t) nl_atof(optarg, "room-size");
            break;
        case 'S': conf.senders = (uint32_t) nl_atof(optarg, "senders");
            break;
        case 'R': conf.rate = nl_atof(optarg, "rate"); break;
        case 'W': conf.window = (uint32_t) nl_atof(optarg, "window"); break;
        case 's': conf.size = (uint32_t) nl_atof(optarg, "size"); break;
        case 'd': conf.duration = nl_atof(optarg, "duration"); break;
        case 'w': conf.warmup = nl_atof(optarg, "warmup"); break;
        case 'D':
            conf.drain = nl_atof(optarg, "drain");
            drain = 1;
            break;
        case 'h': conf.hold = nl_atof(optarg, "hold"); break;
        case 'T': conf.setup_timeout = nl_atof(optarg, "setup-timeout");
            break;
        case 'Z': conf.stall = nl_atof(optarg, "stall"); break;
        case 'C': conf.connect_rate = nl_atof(optarg, "connect-rate");
            break;
        case 'K': conf.max_pending = (uint32_t) nl_atof(optarg,
                                                        "max-pending");
            break;
        case 'a': conf.src_count = (uint32_t) nl_atof(optarg, "src"); break;
        case 'j': conf.procs = (uint32_t) nl_atof(optarg, "procs"); break;
        case 'i': conf.pids = optarg; break;
        case 'E': conf.redis_pids = optarg; break;
        case 'l': conf.label = optarg; break;
        case 't': conf.tag = optarg; break;
        case 'n': conf.nick = 1; break;
        case 'I': conf.ice = 0; break;
        case 'q': conf.quiet = 1; break;
        case 'L': conf.tls = 1; break;
        case 'k':
            conf.reload_pid = (pid_t) nl_atof(optarg, "reload-pid");
            break;
        case 'e':
            conf.reload_at = nl_atof(optarg, "reload-at");
            reload_at = 1;
            break;
        default: nl_usage();
        }
    }

    if (optind != argc) {
        nl_usage();
    }

    if (conf.path == NULL) {
        conf.path = (conf.proto == NL_PROTO_SIO)
                    ? "/ws/?EIO=4&transport=websocket" : "/%r";
    }

    if (conf.mode == NL_MODE_SIGNAL) {
        conf.room_size = 2;
    }

    if (conf.proto == NL_PROTO_HTTP && conf.mode != NL_MODE_IDLE) {
        nl_fatal("--proto http is for --mode idle");
    }

    if (conf.mode == NL_MODE_IDLE || conf.mode == NL_MODE_CHURN) {
        conf.room_size = 1;
    }

    if (conf.room_size < 1 || conf.room_size > 10000) {
        nl_fatal("--room-size must be 1 to 10000");
    }

    if (conf.mode == NL_MODE_FANOUT && conf.room_size < 2) {
        nl_fatal("fanout needs rooms of at least 2");
    }

    if (conf.senders == 0 || conf.senders > conf.room_size) {
        conf.senders = conf.room_size;
    }

    conf.conns -= conf.conns % conf.room_size;

    if (conf.conns == 0) {
        nl_fatal("--conns must be at least the room size");
    }

    if (conf.procs < 1 || conf.procs > NL_MAX_PROCS) {
        nl_fatal("--procs must be 1 to %d", NL_MAX_PROCS);
    }

    if (conf.conns / conf.room_size < conf.procs) {
        conf.procs = conf.conns / conf.room_size;
    }

    if (conf.size < 48 || conf.size > NL_MAX_SIZE) {
        nl_fatal("--size must be 48 to %d", NL_MAX_SIZE);
    }

    if (conf.window < 1) {
        conf.window = 1;
    }

    if (conf.src_count < 1 || conf.src_count > 250) {
        nl_fatal("--src must be 1 to 250");
    }

    if (conf.connect_rate <= 0) {
        conf.connect_rate = 1e9;
    }

    if (conf.max_pending < 1) {
        conf.max_pending = 1;
    }

    if (conf.mode == NL_MODE_SIGNAL && conf.rate <= 0) {
        nl_fatal("signal needs --rate (round trips/s per pair)");
    }

    if (conf.mode == NL_MODE_RECOVER) {
        if (conf.proto != NL_PROTO_SIO) {
            nl_fatal("recover is for --proto sio");
        }

        if (conf.room_size < 2) {
            nl_fatal("recover needs rooms of at least 2");
        }

        /* the chat starts at once; the reload a third of the way in */
        conf.warmup = 0;

        if (!drain) {
            conf.drain = 2;
        }

        if (!reload_at) {
            conf.reload_at = conf.duration / 3;
        }

        if (conf.reload_at >= conf.duration) {
            nl_fatal("--reload-at must be within the chat (-d)");
        }

    } else if (conf.reload_pid) {
        nl_fatal("--reload-pid is for --mode recover");
    }

    /* loopback only */

    memset(&dst, 0, sizeof(dst));
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t) conf.port);

    if (inet_pton(AF_INET, conf.host, &dst.sin_addr) != 1
        || (ntohl(dst.sin_addr.s_addr) >> 24) != 127)
    {
        nl_fatal("--host must be a 127.x.y.z address");
    }

    dst2 = dst;

    if (conf.port2) {
        if (conf.mode != NL_MODE_FANOUT) {
            nl_fatal("--port2 is for --mode fanout");
        }

        dst2.sin_port = htons((uint16_t) conf.port2);
    }
}


/* the parent */

int
main(int argc, char **argv)
{
    int       in[NL_MAX_PROCS], out[NL_MAX_PROCS], a[2], b[2];
    pid_t     pids[NL_MAX_PROCS];
    uint32_t  i, rooms, r0, r1;

    nl_options(argc, argv);

    signal(SIGPIPE, SIG_IGN);

    if (conf.tls) {
        nl_tls_init();
    }

    /* the servers' memory before the first connection */
    nl_sample(&base_cpu, &base_rss, &base_pss);

    rooms = conf.conns / conf.room_size;

    for (i = 0; i < conf.procs; i++) {
        r0 = (uint32_t) ((uint64_t) rooms * i / conf.procs);
        r1 = (uint32_t) ((uint64_t) rooms * (i + 1) / conf.procs);

        if (pipe(a) == -1 || pipe(b) == -1) {
            nl_fatal("pipe(): %s", strerror(errno));
        }

        pids[i] = fork();

        if (pids[i] == -1) {
            nl_fatal("fork(): %s", strerror(errno));
        }

        if (pids[i] == 0) {
            close(a[0]);
            close(b[1]);
            rnd ^= (uint64_t) getpid() * 0x2545f4914f6cdd1dULL;
            nl_worker(r0 * conf.room_size, (r1 - r0) * conf.room_size,
                      b[0], a[1]);
            exit(0);
        }

        close(a[1]);
        close(b[0]);
        in[i] = a[0];
        out[i] = b[1];
    }

    nl_parent(pids, in, out);

    return 0;
}


static ssize_t
nl_read_full(int fd, void *buf, size_t len)
{
    size_t   got;
    ssize_t  n;

    got = 0;

    while (got < len) {
        n = read(fd, (char *) buf + got, len - got);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            return -1;
        }

        got += n;
    }

    return (ssize_t) got;
}


static int
nl_write_full(int fd, const void *buf, size_t len)
{
    size_t   done;
    ssize_t  n;

    done = 0;

    while (done < len) {
        n = write(fd, (const char *) buf + done, len - done);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            return -1;
        }

        done += n;
    }

    return 0;
}


static void
nl_sleep_until(uint64_t t)
{
    uint64_t         now;
    struct timespec  ts;

    for ( ;; ) {
        now = nl_now();
        if (now >= t) {
            return;
        }

        ts.tv_sec = (t - now) / 1000000000ULL;
        ts.tv_nsec = (t - now) % 1000000000ULL;
        nanosleep(&ts, NULL);
    }
}


/* CPU seconds the whole machine spent busy (all CPUs, /proc/stat) */

static double
nl_machine_busy(void)
{
    FILE                *f;
    double               busy;
    unsigned long long   v[8];

    busy = 0;
    f = fopen("/proc/stat", "r");

    if (f) {
        memset(v, 0, sizeof(v));
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7])
            >= 7)
        {
            /* all but idle and iowait */
            busy = (double) (v[0] + v[1] + v[2] + v[5] + v[6] + v[7])
                   / sysconf(_SC_CLK_TCK);
        }
        fclose(f);
    }

    return busy;
}


/* CPU seconds summed over a list of processes ("1,2,3") */

static double
nl_cpu_of(const char *pids)
{
    char           path[64], line[512], *p, *list, *save, *tok;
    long           ticks;
    FILE          *f;
    double         cpu;
    unsigned long  ut, st;

    cpu = 0;

    if (pids == NULL) {
        return 0;
    }

    ticks = sysconf(_SC_CLK_TCK);

    list = strdup(pids);
    if (list == NULL) {
        nl_fatal("out of memory");
    }

    for (tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
    {
        snprintf(path, sizeof(path), "/proc/%s/stat", tok);
        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }

        if (fgets(line, sizeof(line), f)) {
            p = strrchr(line, ')');
            if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u "
                            "%*u %*u %*u %lu %lu", &ut, &st) == 2)
            {
                cpu += (double) (ut + st) / ticks;
            }
        }

        fclose(f);
    }

    free(list);

    return cpu;
}


/* CPU seconds, VmRSS and Pss (kB) summed over the --pids processes */

static void
nl_sample(double *cpu, long *rss, long *pss)
{
    int            k;
    long           v, ticks;
    char           path[64], line[512], *p, *list, *save, *tok;
    FILE          *f;
    unsigned long  ut, st;

    *cpu = 0;
    *rss = 0;
    *pss = 0;
    sample_sys = 0;

    if (conf.pids == NULL) {
        return;
    }

    ticks = sysconf(_SC_CLK_TCK);

    list = strdup(conf.pids);
    if (list == NULL) {
        nl_fatal("out of memory");
    }

    for (tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
    {
        snprintf(path, sizeof(path), "/proc/%s/stat", tok);
        f = fopen(path, "r");
        if (f) {
            if (fgets(line, sizeof(line), f)) {
                /* after "pid (comm) ": state is field 3 */
                p = strrchr(line, ')');
                if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u "
                                "%*u %*u %*u %lu %lu", &ut, &st) == 2)
                {
                    *cpu += (double) (ut + st) / ticks;
                    sample_sys += (double) st / ticks;
                }
            }
            fclose(f);
        }

        snprintf(path, sizeof(path), "/proc/%s/status", tok);
        f = fopen(path, "r");
        if (f) {
            while (fgets(line, sizeof(line), f)) {
                if (sscanf(line, "VmRSS: %ld", &v) == 1) {
                    *rss += v;
                }
            }
            fclose(f);
        }

        snprintf(path, sizeof(path), "/proc/%s/smaps_rollup", tok);
        f = fopen(path, "r");
        if (f) {
            k = 0;
            while (fgets(line, sizeof(line), f)) {
                if (k == 0 && sscanf(line, "Pss: %ld", &v) == 1) {
                    *pss += v;
                    k = 1;
                }
            }
            fclose(f);
        }
    }

    free(list);
}


/* reads worker process proc's result from fd into r and adds its counters
 * (those before the histograms) to sum */

static void
nl_result_add(nl_result_t *sum, nl_result_t *r, int fd, uint32_t proc)
{
    uint64_t  *dst, *src;

    if (nl_read_full(fd, r, sizeof(nl_result_t))
        != (ssize_t) sizeof(nl_result_t))
    {
        nl_fatal("no result from worker process %u", proc);
    }

    dst = (uint64_t *) sum;
    src = (uint64_t *) r;

    while ((char *) src < (char *) &r->lat) {
        *dst++ += *src++;
    }
}


static void
nl_parent(pid_t *pids, int *in, int *out)
{
    int           status, bad;
    long          rss0, pss0, rss1, pss1, rss_m, pss_m;
    char          c;
    double        cpu0, cpu1, dur, gen_cpu, busy0, busy1, sys0, sys1;
    double        rcpu0, rcpu1;
    uint32_t      i, rooms;
    uint64_t      go, m0, m1, setup_ns;
    nl_result_t  *r, *sum;
    FILE         *f;

    r = nl_alloc(sizeof(nl_result_t));
    sum = nl_alloc(sizeof(nl_result_t));

    rss0 = base_rss;
    pss0 = base_pss;
    bad = 0;

    /* every worker has finished its setup */

    for (i = 0; i < conf.procs; i++) {
        if (nl_read_full(in[i], &c, 1) != 1) {
            bad = 1;
        }
    }

    if (bad) {
        nl_fatal("a worker process failed during setup");
    }

    go = nl_now() + 50000000ULL;

    for (i = 0; i < conf.procs; i++) {
        if (nl_write_full(out[i], &go, sizeof(go)) != 0) {
            nl_fatal("a worker process is gone");
        }
    }

    if (conf.mode == NL_MODE_RECOVER) {
        nl_rec_parent(pids, in, out, go);
        return;
    }

    if (conf.mode == NL_MODE_IDLE) {
        m0 = go;
        m1 = go + (uint64_t) (conf.hold * 1e9);

    } else {
        m0 = go + (uint64_t) (conf.warmup * 1e9);
        m1 = m0 + (uint64_t) (conf.duration * 1e9);
    }

    nl_sleep_until(m0);
    nl_sample(&cpu0, &rss_m, &pss_m);
    sys0 = sample_sys;
    rcpu0 = nl_cpu_of(conf.redis_pids);
    busy0 = nl_machine_busy();

    nl_sleep_until(m1);
    nl_sample(&cpu1, &rss1, &pss1);
    sys1 = sample_sys;
    rcpu1 = nl_cpu_of(conf.redis_pids);
    busy1 = nl_machine_busy();

    setup_ns = 0;
    gen_cpu = 0;

    for (i = 0; i < conf.procs; i++) {
        nl_result_add(sum, r, in[i], i);

        if (r->setup_ns > setup_ns) {
            setup_ns = r->setup_ns;
        }

        gen_cpu += r->gen_cpu_ns / 1e9;

        nl_hist_merge(&sum->lat, &r->lat);
        nl_hist_merge(&sum->rtt, &r->rtt);
        nl_hist_merge(&sum->hs, &r->hs);
        nl_hist_merge(&sum->cyc, &r->cyc);
    }

    for (i = 0; i < conf.procs; i++) {
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            bad = 1;
        }
    }

    dur = (m1 - m0) / 1e9;
    rooms = conf.conns / conf.room_size;

    f = stdout;

    fprintf(f, "{\"label\":\"%s\",\"mode\":\"%s\",\"proto\":\"%s\","
            "\"port\":%d,\"conns\":%u,\"room_size\":%u,\"rooms\":%u,"
            "\"senders_per_room\":%u,\"rate\":%.3f,\"window\":%u,"
            "\"size\":%u,\"duration\":%.3f,\"procs\":%u,\"tls\":%s",
            conf.label,
            conf.mode == NL_MODE_FANOUT ? "fanout"
            : conf.mode == NL_MODE_IDLE ? "idle"
            : conf.mode == NL_MODE_SIGNAL ? "signal" : "churn",
            conf.proto == NL_PROTO_SIO ? "sio"
            : conf.proto == NL_PROTO_HTTP ? "http" : "raw",
            conf.port, conf.conns, conf.room_size, rooms,
            conf.senders, conf.rate, conf.rate > 0 ? 0 : conf.window,
            conf.size, dur, conf.procs, conf.tls ? "true" : "false");

    fprintf(f, ",\"established\":%llu,\"failed\":%llu,\"alive\":%llu,"
            "\"unexpected_closes\":%llu,\"bad_close_codes\":%llu,"
            "\"setup_s\":%.3f",
            (unsigned long long) sum->established,
            (unsigned long long) sum->failed,
            (unsigned long long) sum->alive,
            (unsigned long long) sum->unexpected_closes,
            (unsigned long long) sum->close_codes_bad,
            setup_ns / 1e9);

    fprintf(f, ",\"sent\":%llu,\"sent_per_s\":%.1f,\"acks\":%llu,"
            "\"errors\":%llu,\"late_sends\":%llu,\"skipped_sends\":%llu,"
            "\"expected\":%llu,\"delivered\":%llu,\"lost\":%llu,"
            "\"dups\":%llu,\"gaps\":%llu,\"bad_tokens\":%llu,"
            "\"self\":%llu,\"deliveries_window\":%llu,"
            "\"deliveries_per_s\":%.1f,\"room_changes\":%llu,"
            "\"other_events\":%llu,\"frames_in\":%llu,\"bytes_in\":%llu,"
            "\"bytes_per_delivery\":%.1f,\"protocol_errors\":%llu",
            (unsigned long long) sum->sent,
            sum->sent_window / dur,
            (unsigned long long) sum->acks,
            (unsigned long long) sum->errors,
            (unsigned long long) sum->late,
            (unsigned long long) sum->skipped,
            (unsigned long long) sum->expected,
            (unsigned long long) sum->delivered,
            (unsigned long long) (sum->expected > sum->got
                                  ? sum->expected - sum->got : 0),
            (unsigned long long) sum->dups,
            (unsigned long long) sum->gaps,
            (unsigned long long) sum->bad_tokens,
            (unsigned long long) sum->self,
            (unsigned long long) sum->delivered_window,
            sum->delivered_window / dur,
            (unsigned long long) sum->room_changes,
            (unsigned long long) sum->other_events,
            (unsigned long long) sum->frames_in,
            (unsigned long long) sum->bytes_in,
            sum->delivered ? (double) sum->delivery_bytes / sum->delivered
                           : 0.0,
            (unsigned long long) sum->proto_errors);

    fprintf(f, ",\"cycles\":%llu,\"cycles_per_s\":%.1f,"
            "\"cycle_failures\":%llu",
            (unsigned long long) sum->cycles,
            sum->cycles_window / dur,
            (unsigned long long) sum->cycle_failures);

    nl_hist_json(f, "lat_us", &sum->lat);
    nl_hist_json(f, "rtt_us", &sum->rtt);
    nl_hist_json(f, "handshake_us", &sum->hs);
    nl_hist_json(f, "cycle_us", &sum->cyc);

    fprintf(f, ",\"server_cpu_s\":%.3f,\"server_sys_s\":%.3f,"
            "\"server_cpu_util\":%.3f",
            cpu1 - cpu0, sys1 - sys0, (cpu1 - cpu0) / dur);

    if (conf.redis_pids) {
        fprintf(f, ",\"redis_cpu_s\":%.3f,\"redis_cpu_util\":%.3f",
                rcpu1 - rcpu0, (rcpu1 - rcpu0) / dur);

        if (sum->delivered_window) {
            fprintf(f, ",\"redis_cpu_s_per_100k\":%.4f",
                    (rcpu1 - rcpu0) / sum->delivered_window * 1e5);
        }
    }

    if (sum->delivered_window) {
        fprintf(f, ",\"server_cpu_s_per_100k\":%.4f",
                (cpu1 - cpu0) / sum->delivered_window * 1e5);
    }

    fprintf(f, ",\"server_rss_kb_before\":%ld,\"server_rss_kb\":%ld,"
            "\"server_pss_kb_before\":%ld,\"server_pss_kb\":%ld",
            rss0, rss1, pss0, pss1);

    if (conf.mode == NL_MODE_IDLE && sum->alive) {
        fprintf(f, ",\"rss_per_conn_bytes\":%.0f,"
                "\"pss_per_conn_bytes\":%.0f",
                (rss1 - rss0) * 1024.0 / sum->alive,
                (pss1 - pss0) * 1024.0 / sum->alive);
    }

    /* what else ran meanwhile: a noisy machine shows here */
    fprintf(f, ",\"gen_cpu_s\":%.3f,\"gen_cpu_util\":%.3f,"
            "\"machine_cpu_util\":%.3f,\"other_cpu_util\":%.3f,"
            "\"ok\":%s}\n",
            gen_cpu, gen_cpu / dur, (busy1 - busy0) / dur,
            (busy1 - busy0 - (cpu1 - cpu0) - gen_cpu) / dur,
            bad ? "false" : "true");

    fflush(f);

    free(r);
    free(sum);

    exit(bad ? 1 : 0);
}


/* a worker process */

static void
nl_worker(uint32_t from, uint32_t n, int in, int out)
{
    uint32_t            i, m;
    uint64_t            now;
    nl_rec_t           *recs;
    nl_conn_t          *c;
    struct epoll_event  ev;

    base = from;
    nconns = n;
    ctl_in = in;
    ctl_out = out;

    res = nl_alloc(sizeof(nl_result_t));
    res->conns = n;

    conns = nl_alloc(n * sizeof(nl_conn_t));
    heap = nl_alloc(n * sizeof(uint32_t));
    readyq = nl_alloc(n * sizeof(uint32_t));
    dirtyq = nl_alloc(n * sizeof(uint32_t));
    rbuf_cap = NL_RBUF;
    rbuf = nl_alloc(rbuf_cap);
    scratch = nl_alloc(NL_SCRATCH);
    msgbuf = nl_alloc(NL_SCRATCH);
    pad = nl_alloc(NL_MAX_SIZE + 1);
    memset(pad, 'x', NL_MAX_SIZE);

    m = conf.room_size;
    receivers = m - 1;
    recs = NULL;

    if (conf.mode == NL_MODE_RECOVER) {
        recs = nl_alloc(n * sizeof(nl_rec_t));
    }

    for (i = 0; i < n; i++) {
        c = &conns[i];
        c->fd = -1;
        c->gidx = from + i;
        c->room = c->gidx / m;
        c->slot = c->gidx % m;

        if (conf.mode == NL_MODE_FANOUT || conf.mode == NL_MODE_SIGNAL) {
            c->next_seq = nl_alloc(m * sizeof(uint32_t));
        }

        if (recs) {
            c->rec = &recs[i];
        }
    }

    if (conf.rate > 0) {
        interval_ns = (uint64_t) (1e9 / conf.rate);
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep == -1) {
        nl_fatal("epoll_create1(): %s", strerror(errno));
    }

    ev.events = EPOLLIN;
    ev.data.u32 = UINT32_MAX;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, ctl_in, &ev) == -1) {
        nl_fatal("epoll_ctl(): %s", strerror(errno));
    }

    now = nl_now();
    t_setup_end = now + (uint64_t) (conf.setup_timeout * 1e9);
    t_m0 = UINT64_MAX;
    t_m1 = UINT64_MAX;
    t_end = UINT64_MAX;
    t_go = UINT64_MAX;
    phase = NL_PH_SETUP;

    nl_loop();

    nl_report();
}


static void
nl_report(void)
{
    uint32_t    i;
    nl_conn_t  *c;

    if (conf.mode == NL_MODE_RECOVER) {
        nl_rec_check();
    }

    for (i = 0; i < nconns; i++) {
        c = &conns[i];

        if (c->state >= NL_READY && c->state != NL_DEAD
            && c->state != NL_CLOSING && c->state != NL_AWAY)
        {
            res->alive++;
        }
    }

    for (i = 0; i < nconns; i++) {
        if (conns[i].fd != -1) {
            close(conns[i].fd);
            conns[i].fd = -1;
        }
    }

    if (nl_write_full(ctl_out, res, sizeof(nl_result_t)) != 0) {
        exit(1);
    }

    if (conf.mode == NL_MODE_RECOVER) {
        nl_rec_report();
    }
}


static void
nl_room_name(char *buf, size_t size, uint32_t room)
{
    if (conf.mode == NL_MODE_CHURN) {
        snprintf(buf, size, "%s-c%u", conf.tag, room);

    } else {
        snprintf(buf, size, "%s-%u", conf.tag, room);
    }
}


static void
nl_build_request(nl_conn_t *c)
{
    char         room[64], path[512];
    size_t       i, j, rl;
    const char  *p;

    nl_room_name(room, sizeof(room), c->room);
    rl = strlen(room);

    p = conf.path;
    j = 0;

    for (i = 0; p[i] && j < sizeof(path) - rl - 1; i++) {
        if (p[i] == '%' && p[i + 1] == 'r') {
            memcpy(path + j, room, rl);
            j += rl;
            i++;
            continue;
        }

        path[j++] = p[i];
    }

    path[j] = '\0';

    if (conf.proto == NL_PROTO_HTTP) {
        request_len = snprintf(request, sizeof(request),
                               "GET %s HTTP/1.1\r\n"
                               "Host: %s:%d\r\n"
                               "\r\n",
                               path, conf.host, conf.port);
        return;
    }

    request_len = snprintf(request, sizeof(request),
                           "GET %s HTTP/1.1\r\n"
                           "Host: %s:%d\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: " NL_WS_KEY "\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "\r\n",
                           path, conf.host, conf.port);
}


static int
nl_connect(nl_conn_t *c)
{
    int                 fd, one, rc;
    struct sockaddr_in  src, *to;
    struct epoll_event  ev;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }

    one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (conf.src_count > 0) {
        /* the port is chosen at connect(): 28k per source address */
        (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                          sizeof(one));

        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000002 + src_rr++ % conf.src_count);

        if (bind(fd, (struct sockaddr *) &src, sizeof(src)) == -1) {
            close(fd);
            return -1;
        }
    }

    /* with --port2, a room's senders on one node, its receivers on the
     * other, and the rooms alternate */
    to = &dst;

    if (conf.port2 && (c->slot < conf.senders) == (c->room & 1)) {
        to = &dst2;
    }

    rc = connect(fd, (struct sockaddr *) to, sizeof(*to));

    if (rc == -1 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }

    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u32 = (uint32_t) (c - conns);

    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
        close(fd);
        return -1;
    }

    c->fd = fd;
    c->state = NL_CONNECTING;
    c->close_sent = 0;
    c->ack_id = 0;
    c->sid_len = 0;
    c->in_len = 0;
    c->out_pos = 0;
    c->out_len = 0;
    c->frag_len = 0;
    c->t_start = nl_now();

    return 0;
}


/* opens what the connect rate and the pending limit allow */

static void
nl_connect_more(uint64_t now)
{
    static uint64_t  t0;
    uint64_t         allowed;
    nl_conn_t       *c;

    if (conf.mode == NL_MODE_CHURN || phase != NL_PH_SETUP) {
        return;
    }

    if (t0 == 0) {
        t0 = now;
    }

    allowed = (uint64_t) ((now - t0) / 1e9 * conf.connect_rate / conf.procs)
              + 1;

    while (started < nconns && started < allowed
           && pending < conf.max_pending)
    {
        c = &conns[started];
        started++;

        if (nl_connect(c) != 0) {
            nl_fail(c, 1);
            continue;
        }

        pending++;
    }
}


static void
nl_loop(void)
{
    int                 n, i;
    uint64_t            now, next, go, d;
    struct timespec     ts;
    struct epoll_event  evs[NL_EVENTS];

    for ( ;; ) {
        now = nl_now();

        nl_connect_more(now);
        nl_timers(now);
        nl_closed_loop();
        nl_flush_dirty();

        if (phase == NL_PH_DONE) {
            return;
        }

        /* until the next thing to do */

        next = now + 100000000ULL;

        if (phase == NL_PH_SETUP && started < nconns
            && conf.mode != NL_MODE_CHURN)
        {
            next = now + 1000000ULL;
        }

        if (heap_len && conns[heap[0]].next_send < next) {
            next = conns[heap[0]].next_send;
        }

        if (t_go > now && t_go < next) {
            next = t_go;
        }

        if (t_m0 > now && t_m0 < next) {
            next = t_m0;
        }

        if (t_m1 > now && t_m1 < next) {
            next = t_m1;
        }

        if (t_end > now && t_end < next) {
            next = t_end;
        }

        d = next > now ? next - now : 0;
        ts.tv_sec = d / 1000000000ULL;
        ts.tv_nsec = d % 1000000000ULL;

        n = epoll_pwait2(ep, evs, NL_EVENTS, &ts, NULL);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            nl_fatal("epoll_pwait2(): %s", strerror(errno));
        }

        for (i = 0; i < n; i++) {

            if (evs[i].data.u32 == UINT32_MAX) {
                if (nl_read_full(ctl_in, &go, sizeof(go)) != sizeof(go)) {
                    exit(1);
                }

                if (phase != NL_PH_WAIT) {
                    /* recover: when the parent sent SIGHUP */
                    t_reload = go;
                    (void) epoll_ctl(ep, EPOLL_CTL_DEL, ctl_in, NULL);
                    continue;
                }

                if (conf.mode != NL_MODE_RECOVER) {
                    (void) epoll_ctl(ep, EPOLL_CTL_DEL, ctl_in, NULL);
                }

                nl_phase_go(go);
                continue;
            }

            nl_event(&conns[evs[i].data.u32], evs[i].events);
        }
    }
}


static void
nl_setup_done(void)
{
    char  c;

    if (phase != NL_PH_SETUP) {
        return;
    }

    res->setup_ns = nl_now() - (t_setup_end
                                - (uint64_t) (conf.setup_timeout * 1e9));
    phase = NL_PH_WAIT;
    c = 'R';

    if (nl_write_full(ctl_out, &c, 1) != 0) {
        exit(1);
    }
}


static void
nl_phase_go(uint64_t go)
{
    uint32_t    i, k;
    nl_conn_t  *c;

    t_go = go;

    if (conf.mode == NL_MODE_IDLE) {
        t_m0 = go;
        t_m1 = go + (uint64_t) (conf.hold * 1e9);

    } else {
        t_m0 = go + (uint64_t) (conf.warmup * 1e9);
        t_m1 = t_m0 + (uint64_t) (conf.duration * 1e9);
    }

    phase = NL_PH_RUN;

    if (conf.mode == NL_MODE_RECOVER) {
        res->rss_kb = nl_rss_kb();

        for (i = 0; i < nconns; i++) {
            c = &conns[i];

            if (c->slot == 0 && c->state == NL_JOINED) {
                /* the first messages spread over a second */
                c->rec->k = 1;
                c->rec->next_msg = go + nl_random() % 1000000000ULL;
                nl_rec_timer(c, c->rec->next_msg);
            }
        }

        return;
    }

    if (conf.mode == NL_MODE_CHURN) {
        for (i = 0; i < nconns; i++) {
            c = &conns[i];
            if (nl_connect(c) != 0) {
                res->cycle_failures++;
                c->state = NL_DEAD;
            }
        }
        return;
    }

    if (conf.mode != NL_MODE_FANOUT && conf.mode != NL_MODE_SIGNAL) {
        return;
    }

    for (i = 0; i < nconns; i++) {
        c = &conns[i];

        if (c->state != NL_JOINED) {
            continue;
        }

        if (conf.mode == NL_MODE_SIGNAL ? c->slot != 0
                                        : c->slot >= conf.senders)
        {
            continue;
        }

        if (conf.rate > 0) {
            /* open loop: phases spread over one interval */
            k = (uint32_t) (nl_random() % (interval_ns ? interval_ns : 1));
            c->next_send = go + k;
            nl_heap_push(i);

        } else {
            c->ready_q = 1;
            readyq[readyq_len++] = i;
        }
    }
}


static int
nl_all_done(void)
{
    if (conf.mode != NL_MODE_FANOUT && conf.mode != NL_MODE_SIGNAL) {
        return 1;
    }

    if (res->got < res->expected) {
        return 0;
    }

    /* and every ack */
    if (conf.proto == NL_PROTO_SIO && res->acks + res->errors < res->sent) {
        return 0;
    }

    return 1;
}


static void
nl_timers(uint64_t now)
{
    uint32_t    i;
    nl_conn_t  *c;

    if (phase == NL_PH_SETUP) {
        if (conf.mode == NL_MODE_CHURN) {
            nl_setup_done();
            return;
        }

        if (t_progress == 0) {
            t_progress = now;
        }

        if (now >= t_setup_end
            || now - t_progress > (uint64_t) (conf.stall * 1e9))
        {
            /* a server that stopped taking connections: the rest fail */
            for (i = 0; i < nconns; i++) {
                c = &conns[i];
                if (c->state == NL_FREE) {
                    started++;
                    nl_fail(c, 1);

                } else if (c->state < NL_READY || c->state == NL_NICK
                           || c->state == NL_JOINING)
                {
                    nl_fail(c, 1);
                }
            }
        }

        return;
    }

    if (conf.mode == NL_MODE_RECOVER) {
        nl_rec_timers(now);
        return;
    }

    if (phase == NL_PH_WAIT) {
        return;
    }

    if (t_m0 != UINT64_MAX && now >= t_m0 && cpu_m0 == 0) {
        cpu_m0 = nl_cpu();
    }

    if (phase == NL_PH_RUN) {

        /* open-loop senders that are due */

        while (heap_len && conns[heap[0]].next_send <= now) {
            i = heap[0];
            c = &conns[i];

            if (c->next_send >= t_m1 || c->state != NL_JOINED) {
                (void) nl_heap_pop();
                continue;
            }

            if (now - c->next_send > 1000000ULL) {
                res->late++;
            }

            if (c->out_len - c->out_pos > NL_OUT_LIMIT) {
                res->skipped++;

            } else {
                nl_send_message(c, conf.mode == NL_MODE_SIGNAL ? 'o' : 'm',
                                c->next_send, NULL, 0);

                if (conf.mode == NL_MODE_SIGNAL && conf.ice) {
                    nl_send_message(c, 'i', c->next_send, NULL, 0);
                }
            }

            c->next_send += interval_ns;
            nl_heap_down(0);
        }

        if (now >= t_m1) {
            res->gen_cpu_ns = nl_cpu() - cpu_m0;
            phase = NL_PH_DRAIN;
            heap_len = 0;
            readyq_len = 0;

            t_end = now + (uint64_t) (conf.drain * 1e9);

            if (conf.mode == NL_MODE_IDLE) {
                /* the parent samples memory now: hold a little longer */
                t_end = now + 500000000ULL;
            }

            if (conf.mode == NL_MODE_CHURN) {
                t_end = now + 2000000000ULL;
            }
        }
    }

    if (phase == NL_PH_DRAIN) {
        if (now >= t_end) {
            phase = NL_PH_DONE;
            return;
        }

        if (conf.mode == NL_MODE_IDLE) {
            return;
        }

        if (conf.mode == NL_MODE_CHURN) {
            for (i = 0; i < nconns; i++) {
                if (conns[i].state != NL_FREE
                    && conns[i].state != NL_DEAD)
                {
                    return;
                }
            }

            phase = NL_PH_DONE;
            return;
        }

        if (nl_all_done()) {
            phase = NL_PH_DONE;
        }
    }
}


/* closed loop: senders that have room in their window */

static int
nl_can_send(nl_conn_t *c)
{
    uint64_t  per;

    if (c->state != NL_JOINED || conf.mode == NL_MODE_RECOVER) {
        return 0;
    }

    per = receivers;

    return c->copies - c->dlv < (uint64_t) conf.window * per
           && c->out_len - c->out_pos < NL_OUT_LIMIT;
}


static void
nl_closed_loop(void)
{
    uint32_t    k, n, i;
    uint64_t    now;
    nl_conn_t  *c;

    if (phase != NL_PH_RUN || readyq_len == 0) {
        return;
    }

    now = nl_now();

    if (now < t_go) {
        return;
    }

    if (now >= t_m1) {
        return;
    }

    n = readyq_len;
    readyq_len = 0;

    for (k = 0; k < n; k++) {
        i = readyq[k];
        c = &conns[i];
        c->ready_q = 0;

        while (nl_can_send(c)) {
            nl_send_message(c, 'm', now, NULL, 0);
        }
    }
}


/* the send heap */

static void
nl_heap_swap(uint32_t a, uint32_t b)
{
    uint32_t  t;

    t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
    conns[heap[a]].heap = a + 1;
    conns[heap[b]].heap = b + 1;
}


static void
nl_heap_up(uint32_t pos)
{
    uint32_t  parent;

    while (pos > 0) {
        parent = (pos - 1) / 2;

        if (conns[heap[parent]].next_send <= conns[heap[pos]].next_send) {
            break;
        }

        nl_heap_swap(parent, pos);
        pos = parent;
    }
}


static void
nl_heap_down(uint32_t pos)
{
    uint32_t  l, r, m;

    for ( ;; ) {
        l = 2 * pos + 1;
        r = l + 1;
        m = pos;

        if (l < heap_len
            && conns[heap[l]].next_send < conns[heap[m]].next_send)
        {
            m = l;
        }

        if (r < heap_len
            && conns[heap[r]].next_send < conns[heap[m]].next_send)
        {
            m = r;
        }

        if (m == pos) {
            return;
        }

        nl_heap_swap(pos, m);
        pos = m;
    }
}


static void
nl_heap_push(uint32_t i)
{
    heap[heap_len] = i;
    conns[i].heap = heap_len + 1;
    heap_len++;
    nl_heap_up(heap_len - 1);
}


static uint32_t
nl_heap_pop(void)
{
    uint32_t  top;

    top = heap[0];
    conns[top].heap = 0;
    heap_len--;

    if (heap_len) {
        heap[0] = heap[heap_len];
        conns[heap[0]].heap = 1;
        nl_heap_down(0);
    }

    return top;
}


/* I/O */

static void
nl_event(nl_conn_t *c, uint32_t events)
{
    int        err;
    socklen_t  len;

    if (c->fd == -1) {
        return;
    }

    if (c->state == NL_CONNECTING && !c->tls_hs) {
        err = 0;
        len = sizeof(err);
        (void) getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);

        if (err || (events & (EPOLLERR | EPOLLHUP))) {
            nl_fail(c, 1);
            return;
        }

        if (!(events & EPOLLOUT)) {
            return;
        }

        if (conf.tls) {
            c->ssl = SSL_new(tls_ctx);

            if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
                nl_fatal("SSL_new() failed");
            }

            SSL_set_connect_state(c->ssl);
            c->tls_hs = 1;
        }
    }

    if (c->state == NL_CONNECTING) {

        if (c->tls_hs) {
            switch (nl_tls_handshake(c)) {
            case -1:
                nl_fail(c, 1);
                return;
            case 0:
                return;
            default:
                c->tls_hs = 0;
            }
        }

        nl_build_request(c);
        c->state = NL_UPGRADING;
        nl_write(c, (uint8_t *) request, request_len);

        if (c->fd == -1) {
            return;
        }
    }

    /* TLS may want to read in order to write, and the other way round */

    if (c->out_len && ((events & EPOLLOUT) || c->ssl)) {
        nl_flush(c);

        if (c->fd == -1) {
            return;
        }
    }

    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) || c->ssl) {
        nl_read(c, events);
    }
}


static void
nl_read(nl_conn_t *c, uint32_t events)
{
    size_t    have, used, want;
    ssize_t   n;
    uint8_t  *p, *end;
    uint64_t  now;

    for ( ;; ) {
        have = 0;

        if (c->in_len) {
            if (c->in_len > rbuf_cap / 2) {
                /* a frame bigger than half the buffer: grow it */
                while (c->in_len > rbuf_cap / 2) {
                    rbuf_cap *= 2;
                }
                free(rbuf);
                rbuf = nl_alloc(rbuf_cap);
            }

            memcpy(rbuf, c->in, c->in_len);
            have = c->in_len;
            free(c->in);
            c->in = NULL;
            c->in_len = 0;
        }

        want = rbuf_cap - have;
        n = nl_recv(c, rbuf + have, want);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            if (errno == EAGAIN) {
                n = 0;

            } else {
                n = -1;
            }

        } else if (n == 0) {
            n = -2;
        }

        if (n > 0) {
            res->bytes_in += n;
            have += n;
        }

        if (have) {
            p = rbuf;
            end = rbuf + have;

            if (c->state == NL_UPGRADING) {
                p = memmem(rbuf, have, "\r\n\r\n", 4);

                if (p == NULL) {
                    if (have > 8192) {
                        res->proto_errors++;
                        nl_fail(c, 1);
                        return;
                    }
                    used = 0;
                    goto keep;
                }

                p += 4;

                if (conf.proto == NL_PROTO_HTTP) {
                    /* a response without a body, and the connection kept */
                    if (have < 12 || memcmp(rbuf, "HTTP/1.1 204", 12) != 0) {
                        nl_fail(c, 1);
                        return;
                    }

                    nl_hist_add(&res->hs, nl_now() - c->t_start);
                    nl_ready(c);

                    if (c->fd == -1) {
                        return;
                    }

                    used = p - rbuf;
                    goto keep;
                }

                if (have < 12 || memcmp(rbuf, "HTTP/1.1 101", 12) != 0
                    || memmem(rbuf, p - rbuf, NL_WS_ACCEPT,
                              sizeof(NL_WS_ACCEPT) - 1) == NULL)
                {
                    if (!conf.quiet && res->failed + res->rec_retries < 3) {
                        fprintf(stderr, "noomload: handshake refused: "
                                "%.*s\n", (int) (p - rbuf > 200 ? 200
                                                  : p - rbuf), rbuf);
                    }
                    nl_fail(c, 1);
                    return;
                }

                now = nl_now();

                if (conf.mode == NL_MODE_CHURN) {
                    c->state = (conf.proto == NL_PROTO_SIO) ? NL_EIO_OPEN
                                                            : NL_READY;
                    if (conf.proto == NL_PROTO_RAW) {
                        nl_ready(c);
                    }

                } else if (conf.proto == NL_PROTO_SIO) {
                    c->state = NL_EIO_OPEN;

                } else {
                    nl_hist_add(&res->hs, now - c->t_start);
                    nl_ready(c);
                }

                if (c->fd == -1) {
                    return;
                }
            }

            used = (p - rbuf) + nl_frames(c, p, end - p);

            if (c->fd == -1) {
                return;
            }

        keep:

            if (used < have) {
                c->in_len = have - used;
                c->in = nl_alloc(c->in_len);
                memcpy(c->in, rbuf + used, c->in_len);
            }
        }

        if (n == 0) {
            return;
        }

        if (n > 0 && (size_t) n < want && c->ssl == NULL
            && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        {
            /*
             * A short read took all there was: data arriving later is a
             * new edge, no need for the read that would say EAGAIN.  Not
             * so with TLS, which returns a record at a time.
             */
            return;
        }

        if (n < 0) {
            /* EOF or an error */
            if (c->state == NL_CLOSING) {
                if (conf.mode == NL_MODE_CHURN) {
                    nl_cycle_done(c);
                    return;
                }

                nl_close(c);
                return;
            }

            nl_fail(c, c->state < NL_READY || phase == NL_PH_SETUP);
            return;
        }
    }
}


/* complete frames in [p, p + len); returns the bytes used */

static size_t
nl_frames(nl_conn_t *c, uint8_t *p, size_t len)
{
    int       op, fin;
    size_t    off, hdr;
    uint64_t  plen;

    off = 0;

    while (len - off >= 2) {
        fin = p[off] & 0x80;
        op = p[off] & 0x0f;

        if ((p[off] & 0x70) || (p[off + 1] & 0x80)) {
            /* RSV bits or a masked server frame */
            res->proto_errors++;
            nl_fail(c, phase == NL_PH_SETUP);
            return len;
        }

        plen = p[off + 1] & 0x7f;
        hdr = 2;

        if (plen == 126) {
            if (len - off < 4) {
                break;
            }
            plen = ((uint64_t) p[off + 2] << 8) | p[off + 3];
            hdr = 4;

        } else if (plen == 127) {
            if (len - off < 10) {
                break;
            }
            plen = 0;
            for (hdr = 2; hdr < 10; hdr++) {
                plen = (plen << 8) | p[off + hdr];
            }
            hdr = 10;

            if (plen > 256 * 1024 * 1024) {
                res->proto_errors++;
                nl_fail(c, phase == NL_PH_SETUP);
                return len;
            }
        }

        if (len - off < hdr + plen) {
            break;
        }

        res->frames_in++;

        if (op >= 8) {
            if (!fin || plen > 125) {
                res->proto_errors++;
                nl_fail(c, phase == NL_PH_SETUP);
                return len;
            }

            nl_message(c, op, p + off + hdr, plen);

        } else if (op == 0 || !fin) {
            /* a fragment */
            if ((op == 0) != (c->frag != NULL)) {
                res->proto_errors++;
                nl_fail(c, phase == NL_PH_SETUP);
                return len;
            }

            c->frag = realloc(c->frag, c->frag_len + plen + 1);
            if (c->frag == NULL) {
                nl_fatal("out of memory");
            }

            if (op) {
                c->frag[0] = (uint8_t) op;
                c->frag_len = 1;
            }

            memcpy(c->frag + c->frag_len, p + off + hdr, plen);
            c->frag_len += plen;

            if (fin) {
                nl_message(c, c->frag[0], c->frag + 1, c->frag_len - 1);

                if (c->fd != -1) {
                    free(c->frag);
                    c->frag = NULL;
                    c->frag_len = 0;
                }
            }

        } else {
            nl_message(c, op, p + off + hdr, plen);
        }

        if (c->fd == -1) {
            return len;
        }

        off += hdr + plen;
    }

    return off;
}


static void
nl_message(nl_conn_t *c, int op, uint8_t *p, size_t len)
{
    unsigned  code;
    uint64_t  delivered;

    switch (op) {

    case 1:
        delivered = res->delivered;

        if (conf.proto == NL_PROTO_SIO) {
            nl_sio(c, p, len);

        } else if (len == 1 && p[0] == 'a') {
            /* a raw server's ack (ceiling -a) */
            res->acks++;

        } else if (c->state == NL_JOINED || c->state == NL_READY) {
            nl_token(c, p, len);

        } else {
            res->other_events++;
        }

        /* a frame is one delivery at most: its whole payload counts */
        res->delivery_bytes += (res->delivered - delivered) * len;
        return;

    case 2:
        res->other_events++;
        return;

    case 8:
        code = len >= 2 ? ((unsigned) p[0] << 8) | p[1] : 1005;

        if (c->state == NL_CLOSING) {
            if (code != 1000) {
                res->close_codes_bad++;
            }

            if (conf.mode == NL_MODE_CHURN) {
                /* the server closes the TCP connection */
                return;
            }

            nl_close(c);
            return;
        }

        if (conf.mode == NL_MODE_RECOVER && phase != NL_PH_SETUP) {
            /* the reload: the connection comes back (nl_rec_lost()) */
            nl_fail(c, 0);
            return;
        }

        if (!conf.quiet) {
            fprintf(stderr, "noomload: connection %u closed by the server: "
                    "%u %.*s\n", c->gidx, code,
                    (int) (len > 2 ? len - 2 : 0), p + 2);
        }

        res->close_codes_bad++;
        nl_send_frame(c, 8, p, len >= 2 ? 2 : 0);

        if (c->fd != -1) {
            nl_fail(c, c->state < NL_READY || phase == NL_PH_SETUP);
        }
        return;

    case 9:
        nl_send_frame(c, 10, p, len);
        return;

    case 10:
        return;

    default:
        res->proto_errors++;
        nl_fail(c, phase == NL_PH_SETUP);
    }
}


/* Engine.IO and Socket.IO */

static void
nl_sio(nl_conn_t *c, uint8_t *p, size_t len)
{
    char      room[64];
    uint8_t  *q, *end;
    uint32_t  id;

    if (len == 0) {
        res->proto_errors++;
        return;
    }

    switch (p[0]) {

    case '0':
        if (c->state != NL_EIO_OPEN) {
            res->proto_errors++;
            return;
        }

        c->state = NL_SIO_CONNECT;

        if (conf.mode == NL_MODE_RECOVER) {
            nl_rec_open(c);
            return;
        }

        nl_send_frame(c, 1, (uint8_t *) "40", 2);
        return;

    case '1':
        nl_fail(c, phase == NL_PH_SETUP);
        return;

    case '2':
        if (len == 1) {
            nl_send_frame(c, 1, (uint8_t *) "3", 1);
        }
        return;

    case '3':
    case '6':
        return;

    case '4':
        break;

    default:
        res->proto_errors++;
        return;
    }

    if (len < 2) {
        res->proto_errors++;
        return;
    }

    end = p + len;

    switch (p[1]) {

    case '0':
        if (c->state != NL_SIO_CONNECT) {
            res->proto_errors++;
            return;
        }

        q = memmem(p, len, "\"sid\":\"", 7);

        if (q) {
            q += 7;
            while (q < end && *q != '"'
                   && c->sid_len < sizeof(c->sid) - 1)
            {
                c->sid[c->sid_len++] = *q++;
            }
            c->sid[c->sid_len] = '\0';
        }

        if (c->sid_len == 0) {
            res->proto_errors++;
        }

        if (conf.mode == NL_MODE_RECOVER) {
            nl_rec_connect(c, p, len);
            return;
        }

        if (conf.mode == NL_MODE_CHURN) {
            c->state = NL_NICK;
            nl_room_name(room, sizeof(room), c->room);
            nl_send_text(c, "42%u[\"nickname\",\"u%u\"]", c->ack_id++,
                         c->gidx);
            return;
        }

        nl_hist_add(&res->hs, nl_now() - c->t_start);
        nl_ready(c);
        return;

    case '1':
        nl_fail(c, phase == NL_PH_SETUP);
        return;

    case '2':
        q = p + 2;
        while (q < end && *q >= '0' && *q <= '9') {
            q++;
        }
        nl_sio_event(c, q, end - q);
        return;

    case '3':
        q = p + 2;
        id = 0;
        while (q < end && *q >= '0' && *q <= '9') {
            id = id * 10 + (*q++ - '0');
        }

        if (conf.mode == NL_MODE_RECOVER) {
            nl_rec_ack(c, id, q, end - q);
            return;
        }

        nl_sio_ack(c, id, q, end - q);
        return;

    case '4':
        if (!conf.quiet) {
            fprintf(stderr, "noomload: CONNECT_ERROR: %.*s\n", (int) len, p);
        }
        nl_fail(c, phase == NL_PH_SETUP);
        return;

    default:
        res->other_events++;
    }
}


static int
nl_is_error(uint8_t *p, size_t len)
{
    return len >= 10 && memcmp(p, "[{\"error\":", 10) == 0;
}


static void
nl_sio_ack(nl_conn_t *c, uint32_t id, uint8_t *p, size_t len)
{
    char  room[64];

    if (nl_is_error(p, len)) {
        res->errors++;

        if (!conf.quiet && res->errors < 4) {
            fprintf(stderr, "noomload: error ack: %.*s\n",
                    (int) (len > 200 ? 200 : len), p);
        }

        if (c->state == NL_JOINING || c->state == NL_NICK
            || c->state == NL_LEAVING)
        {
            if (conf.mode == NL_MODE_CHURN) {
                res->cycle_failures++;
            }
            nl_fail(c, phase == NL_PH_SETUP);
        }
        return;
    }

    switch (c->state) {

    case NL_NICK:
        nl_room_name(room, sizeof(room), c->room);

        if (conf.mode == NL_MODE_CHURN) {
            c->state = NL_JOINING;
            nl_send_text(c, "42%u[\"enter_room\",\"%s\"]", c->ack_id++, room);
            return;
        }

        c->state = NL_JOINING;
        nl_send_text(c, "42%u[\"enter_room\",\"%s\"]", c->ack_id++, room);
        return;

    case NL_JOINING:
        if (conf.mode == NL_MODE_CHURN) {
            nl_room_name(room, sizeof(room), c->room);
            c->state = NL_LEAVING;
            nl_send_text(c, "42%u[\"leave_room\",\"%s\"]", c->ack_id++,
                         room);
            return;
        }

        nl_joined(c);
        return;

    case NL_LEAVING:
        c->state = NL_CLOSING;
        nl_send_frame(c, 8, (uint8_t *) "\x03\xe8", 2);
        c->close_sent = 1;
        return;

    case NL_JOINED:
        (void) id;
        res->acks++;
        return;

    default:
        res->other_events++;
    }
}


static void
nl_sio_event(nl_conn_t *c, uint8_t *p, size_t len)
{
    uint8_t  *name, *q, *end;
    size_t    n;

    end = p + len;

    if (len < 3 || p[0] != '[' || p[1] != '"') {
        res->proto_errors++;
        return;
    }

    if (conf.mode == NL_MODE_RECOVER) {
        nl_rec_event(c, p, len);
        return;
    }

    name = p + 2;
    q = memchr(name, '"', end - name);

    if (q == NULL) {
        res->proto_errors++;
        return;
    }

    n = q - name;

    if ((n == 11 && memcmp(name, "new_message", 11) == 0)
        || (n == 5 && memcmp(name, "offer", 5) == 0)
        || (n == 6 && memcmp(name, "answer", 6) == 0)
        || (n == 3 && memcmp(name, "ice", 3) == 0))
    {
        if (c->state == NL_JOINED) {
            nl_token(c, q, end - q);
        } else {
            res->other_events++;
        }
        return;
    }

    if (n == 11 && memcmp(name, "room_change", 11) == 0) {
        res->room_changes++;
        return;
    }

    if (n == 5 && memcmp(name, "error", 5) == 0) {
        res->errors++;
        if (!conf.quiet && res->errors < 4) {
            fprintf(stderr, "noomload: error event: %.*s\n",
                    (int) (len > 200 ? 200 : len), p);
        }
        return;
    }

    res->other_events++;
}


static uint64_t
nl_number(uint8_t **pp, uint8_t *end, int *ok)
{
    uint8_t   *p;
    uint64_t   v;

    p = *pp;
    v = 0;

    if (p >= end || *p < '0' || *p > '9') {
        *ok = 0;
        return 0;
    }

    while (p < end && *p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
    }

    *pp = p;
    return v;
}


/* a delivery: "~<kind><sender>.<seq>.<ns>~" somewhere in [p, p + len) */

static void
nl_token(nl_conn_t *c, uint8_t *p, size_t len)
{
    int         ok, kind;
    uint8_t    *q, *end;
    uint32_t    slot, seq, gidx;
    uint64_t    t, now;
    nl_conn_t  *s;

    end = p + len;
    q = memchr(p, '~', len);
    ok = 1;

    if (q == NULL || end - q < 8) {
        res->bad_tokens++;
        return;
    }

    q++;
    kind = *q++;
    gidx = (uint32_t) nl_number(&q, end, &ok);
    if (q < end && *q == '.') {
        q++;
    } else {
        ok = 0;
    }
    seq = (uint32_t) nl_number(&q, end, &ok);
    if (q < end && *q == '.') {
        q++;
    } else {
        ok = 0;
    }
    t = nl_number(&q, end, &ok);

    if (!ok || q >= end || *q != '~' || gidx < base || gidx >= base + nconns)
    {
        res->bad_tokens++;
        return;
    }

    if (gidx == c->gidx) {
        /* a pub/sub server echoing to the publisher */
        res->self++;
        return;
    }

    s = &conns[gidx - base];

    if (s->room != c->room) {
        res->bad_tokens++;
        return;
    }

    now = nl_now();
    slot = s->slot;

    res->delivered++;

    if (now >= t_m0 && now < t_m1) {
        res->delivered_window++;
    }

    /* per-sender order */

    if (seq == c->next_seq[slot]) {
        c->next_seq[slot] = seq + 1;
        res->got++;

    } else if (seq > c->next_seq[slot]) {
        res->gaps++;
        c->next_seq[slot] = seq + 1;
        res->got++;

    } else {
        res->dups++;
        return;
    }

    s->dlv++;

    if (kind == 'a') {
        /* an answer: the round trip from the offer */
        if (t >= t_m0 && t < t_m1) {
            nl_hist_add(&res->rtt, now - t);
        }
        return;
    }

    if (t >= t_m0 && t < t_m1) {
        nl_hist_add(&res->lat, now - t);
    }

    if (kind == 'o' && phase != NL_PH_DONE) {
        /* the callee answers the caller at once */
        nl_send_message(c, 'a', t, s, 0);
        return;
    }

    if (conf.rate == 0 && !s->ready_q && phase == NL_PH_RUN
        && nl_can_send(s))
    {
        s->ready_q = 1;
        readyq[readyq_len++] = gidx - base;
    }
}


/*
 * A message from c: kind m (chat, to the room), o/i (to the other member
 * of the pair), a (an answer to "to").
 */

static void
nl_send_message(nl_conn_t *c, int kind, uint64_t t, nl_conn_t *to,
    uint32_t track)
{
    int          n, tok;
    char         room[64], token[80];
    uint32_t     i;
    const char  *ev;
    nl_conn_t   *peer;

    (void) track;

    if (c->state != NL_JOINED) {
        return;
    }

    tok = snprintf(token, sizeof(token), "~%c%u.%u.%llu~", kind, c->gidx,
                   c->seq, (unsigned long long) t);

    /* pad the token to the message size */
    i = conf.size > (uint32_t) tok ? conf.size - tok : 0;

    peer = to;

    if (peer == NULL && kind != 'm') {
        /* the other member of the pair */
        peer = &conns[c - conns + (c->slot == 0 ? 1 : -1)];
    }

    if (conf.proto == NL_PROTO_RAW) {
        n = snprintf((char *) msgbuf, NL_SCRATCH, "%s%.*s", token, (int) i,
                     pad);

    } else {
        nl_room_name(room, sizeof(room), c->room);

        ev = kind == 'm' ? "new_message" : kind == 'o' ? "offer"
             : kind == 'a' ? "answer" : "ice";

        if (kind == 'm') {
            n = snprintf((char *) msgbuf, NL_SCRATCH,
                         "42%u[\"%s\",\"%s%.*s\",\"%s\"]", c->ack_id++, ev,
                         token, (int) i, pad, room);

        } else {
            n = snprintf((char *) msgbuf, NL_SCRATCH,
                         "42%u[\"%s\",\"%s%.*s\",\"%s\",\"%s\"]",
                         c->ack_id++, ev, token, (int) i, pad, room,
                         peer->sid);
        }
    }

    c->seq++;

    if (kind == 'm') {
        c->msgs++;
        c->copies += receivers;
        res->expected += receivers;

    } else {
        c->copies++;
        res->expected++;
    }

    res->sent++;

    if (t >= t_m0 && t < t_m1) {
        res->sent_window++;
    }

    nl_send_frame(c, 1, msgbuf, (size_t) n);
}


static void
nl_ready(nl_conn_t *c)
{
    char  room[64];

    if (phase == NL_PH_SETUP && c->state < NL_READY) {
        pending--;
        res->established++;
    }

    c->state = NL_READY;

    switch (conf.mode) {

    case NL_MODE_IDLE:
        nl_settle(c);
        return;

    case NL_MODE_CHURN:
        if (conf.proto == NL_PROTO_RAW) {
            /* a raw server has nothing to join: close at once */
            c->state = NL_CLOSING;
            nl_send_frame(c, 8, (uint8_t *) "\x03\xe8", 2);
            c->close_sent = 1;
        }
        return;

    default:
        break;
    }

    if (conf.proto == NL_PROTO_RAW) {
        /* the room is in the request path */
        nl_joined(c);
        return;
    }

    /* Socket.IO: everybody joins together once connected */

    nl_settle(c);

    (void) room;
}


static void
nl_joined(nl_conn_t *c)
{
    c->state = NL_JOINED;

    if (conf.proto == NL_PROTO_SIO) {
        /* acks of new_message count from 0 after the join */
        c->msgs = 0;
        c->ack_id = 0;
    }

    nl_settle(c);
}


/* a connection reached its setup goal, or failed */

static void
nl_settle(nl_conn_t *c)
{
    (void) c;

    if (phase != NL_PH_SETUP) {
        return;
    }

    settled++;
    t_progress = nl_now();

    if (settled < nconns) {
        return;
    }

    if (conf.proto == NL_PROTO_SIO
        && (conf.mode == NL_MODE_FANOUT || conf.mode == NL_MODE_SIGNAL
            || conf.mode == NL_MODE_RECOVER))
    {
        uint32_t  i, joining;

        joining = 0;

        for (i = 0; i < nconns; i++) {
            if (conns[i].state == NL_READY || conns[i].state == NL_JOINING)
            {
                joining++;
            }
        }

        if (joining) {
            nl_join_all();
            return;
        }
    }

    nl_setup_done();
}


/* all enter_room (or nickname first) at once: few room_change rounds */

static void
nl_join_all(void)
{
    char        room[64];
    uint32_t    i;
    nl_conn_t  *c;

    settled = 0;

    for (i = 0; i < nconns; i++) {
        c = &conns[i];

        if (c->state != NL_READY) {
            settled++;
            continue;
        }

        if (conf.nick) {
            c->state = NL_NICK;
            nl_send_text(c, "42%u[\"nickname\",\"u%u\"]", c->ack_id++,
                         c->gidx);
            continue;
        }

        c->state = NL_JOINING;
        nl_room_name(room, sizeof(room), c->room);
        nl_send_text(c, "42%u[\"enter_room\",\"%s\"]", c->ack_id++, room);
    }

    if (settled == nconns) {
        nl_setup_done();
    }
}


static void
nl_drop(nl_conn_t *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }

    c->tls_hs = 0;

    if (c->fd != -1) {
        (void) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }

    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    free(c->out);
    c->out = NULL;
    c->out_len = 0;
    c->out_pos = 0;
    c->out_cap = 0;
    free(c->frag);
    c->frag = NULL;
    c->frag_len = 0;
}


static void
nl_fail(nl_conn_t *c, int during_setup)
{
    int  was;

    was = c->state;

    nl_drop(c);

    if (conf.mode == NL_MODE_CHURN) {
        if (was != NL_DEAD) {
            res->cycle_failures++;
        }

        c->state = NL_DEAD;

        if (phase == NL_PH_RUN && nl_now() < t_m1 && nl_connect(c) != 0) {
            c->state = NL_DEAD;
        }
        return;
    }

    if (was == NL_DEAD) {
        return;
    }

    if (conf.mode == NL_MODE_RECOVER && phase != NL_PH_SETUP
        && phase != NL_PH_DONE)
    {
        nl_rec_lost(c);
        return;
    }

    c->state = NL_DEAD;

    if (during_setup && phase == NL_PH_SETUP) {
        if (was < NL_READY) {
            if (was != NL_FREE) {
                pending--;
            }
            res->failed++;
        }
        nl_settle(c);
        return;
    }

    res->unexpected_closes++;
}


static void
nl_close(nl_conn_t *c)
{
    nl_drop(c);
    c->state = NL_DEAD;
}


static void
nl_cycle_done(nl_conn_t *c)
{
    uint64_t  now;

    now = nl_now();
    nl_drop(c);

    res->cycles++;

    if (now >= t_m0 && now < t_m1) {
        res->cycles_window++;
        nl_hist_add(&res->cyc, now - c->t_start);
    }

    c->state = NL_FREE;

    if (phase == NL_PH_RUN && now < t_m1) {
        /* a new room each cycle */
        c->room += nconns * conf.procs;

        if (nl_connect(c) != 0) {
            res->cycle_failures++;
            c->state = NL_DEAD;
        }
    }
}


/*
 * recover: the reload under a chat.  One timer per connection in the
 * send heap: a reconnection when it is away, its next message when it is
 * a sender in its room.
 */

static void
nl_rec_timer(nl_conn_t *c, uint64_t t)
{
    c->next_send = t;

    if (c->heap == 0) {
        nl_heap_push((uint32_t) (c - conns));
        return;
    }

    nl_heap_up(c->heap - 1);
    nl_heap_down(c->heap - 1);
}


static void
nl_rec_timers(uint64_t now)
{
    nl_conn_t  *c;

    if (phase != NL_PH_RUN && phase != NL_PH_DRAIN) {
        return;
    }

    while (heap_len && conns[heap[0]].next_send <= now) {
        c = &conns[nl_heap_pop()];

        if (c->state == NL_AWAY) {
            if (nl_connect(c) != 0) {
                nl_rec_lost(c);
            }
            continue;
        }

        if (c->state == NL_JOINED && c->slot == 0 && !c->rec->waiting
            && now < t_m1)
        {
            nl_rec_send(c);
        }
    }

    if (phase == NL_PH_RUN && now >= t_m1) {
        phase = NL_PH_DRAIN;
        t_end = now + (uint64_t) (conf.drain * 1e9);
    }

    if (phase == NL_PH_DRAIN && now >= t_end) {
        phase = NL_PH_DONE;
    }
}


static void
nl_rec_send(nl_conn_t *c)
{
    char       room[64];
    nl_rec_t  *r;

    r = c->rec;

    nl_room_name(room, sizeof(room), c->room);

    r->wait_id = c->ack_id++;
    r->wait_k = r->k++;
    r->waiting = 1;
    res->sent++;

    nl_send_text(c, "42%u[\"new_message\",\"m %u\",\"%s\"]", r->wait_id,
                 r->wait_k, room);
}


/* a sender in its room: the next message when it is due */

static void
nl_rec_chat(nl_conn_t *c, uint64_t now)
{
    nl_rec_t  *r;

    r = c->rec;

    if (c->slot != 0 || c->state != NL_JOINED || r->waiting
        || phase != NL_PH_RUN)
    {
        return;
    }

    nl_rec_timer(c, r->next_msg > now ? r->next_msg : now);
}


/* the Engine.IO open packet: the CONNECT, with the pid and offset if any */

static void
nl_rec_open(nl_conn_t *c)
{
    nl_rec_t  *r;

    r = c->rec;

    if (r->pid_len == 0) {
        nl_send_frame(c, 1, (uint8_t *) "40", 2);

    } else if (r->offset[0]) {
        nl_send_text(c, "40{\"pid\":\"%s\",\"offset\":\"%s\"}", r->pid,
                     r->offset);

    } else {
        nl_send_text(c, "40{\"pid\":\"%s\"}", r->pid);
    }
}


/* the CONNECT answer, 40{"sid":"...","pid":"..."}, c->sid read already */

static void
nl_rec_connect(nl_conn_t *c, uint8_t *p, size_t len)
{
    char       room[64], pid[32];
    size_t     n;
    uint8_t   *q, *end;
    uint32_t   recovered;
    uint64_t   now;
    nl_rec_t  *r;

    r = c->rec;
    end = p + len;
    now = nl_now();
    n = 0;

    q = memmem(p, len, "\"pid\":\"", 7);

    if (q) {
        q += 7;
        while (q < end && *q != '"' && *q != '\\' && n < sizeof(pid) - 1) {
            pid[n++] = *q++;
        }
    }

    pid[n] = '\0';

    recovered = r->pid_len && n == r->pid_len
                && memcmp(pid, r->pid, n) == 0
                && strcmp(c->sid, r->old_sid) == 0;

    memcpy(r->pid, pid, n + 1);
    r->pid_len = (uint8_t) n;
    r->connected = 1;
    r->tries = 0;

    if (phase == NL_PH_SETUP) {
        memcpy(r->first_sid, c->sid, sizeof(c->sid));
        nl_hist_add(&res->hs, now - c->t_start);
        nl_ready(c);
        return;
    }

    /* back after a loss */

    nl_rec_note(now, recovered ? NL_REC_RECOVERED : NL_REC_FRESH);

    if (recovered) {
        /* in its room still */
        c->state = NL_JOINED;
        nl_rec_chat(c, now);
        return;
    }

    c->state = NL_JOINING;
    nl_room_name(room, sizeof(room), c->room);
    nl_send_text(c, "42%u[\"enter_room\",\"%s\"]", c->ack_id++, room);
}


/*
 * An event, [p, p + len) a JSON array: a last argument of 16 lowercase
 * hex digits is the offset to remember; of new_message, the number at the
 * end of the text ("<nick>: m <k>") is recorded.
 */

static void
nl_rec_event(nl_conn_t *c, uint8_t *p, size_t len)
{
    size_t     i;
    uint8_t   *q, *end;
    uint32_t   k, m, *a;
    nl_rec_t  *r;

    r = c->rec;
    end = p + len;

    /*
     * ...,"<16 hex>"]: after a comma the quote opens a string (in a string
     * it would be escaped), and the last quote closes the array's last one
     */

    if (len >= 21 && p[len - 1] == ']' && p[len - 2] == '"'
        && p[len - 19] == '"' && p[len - 20] == ',')
    {
        for (i = len - 18; i < len - 2; i++) {
            if ((p[i] < '0' || p[i] > '9') && (p[i] < 'a' || p[i] > 'f')) {
                break;
            }
        }

        if (i == len - 2) {
            memcpy(r->offset, p + len - 18, 16);
            r->offset[16] = '\0';
        }
    }

    if (len < 16 || memcmp(p, "[\"new_message\",\"", 16) != 0) {
        res->other_events++;
        return;
    }

    /* the end of the text */

    for (q = p + 16; q < end && *q != '"'; q++) {
        if (*q == '\\') {
            q++;
        }
    }

    if (q >= end) {
        res->proto_errors++;
        return;
    }

    k = 0;
    m = 1;

    while (q > p + 16 && q[-1] >= '0' && q[-1] <= '9') {
        k += (uint32_t) (q[-1] - '0') * m;
        m *= 10;
        q--;
    }

    if (m == 1 || q == p + 16 || q[-1] != ' ') {
        res->bad_tokens++;
        return;
    }

    res->delivered++;

    if (r->got_len == r->got_cap) {
        r->got_cap = r->got_cap ? 2 * r->got_cap : 16;
        a = realloc(r->got, r->got_cap * sizeof(uint32_t));
        if (a == NULL) {
            nl_fatal("out of memory");
        }
        r->got = a;
    }

    r->got[r->got_len++] = k;
}


/* an ack: of enter_room, or of the message a sender waits for */

static void
nl_rec_ack(nl_conn_t *c, uint32_t id, uint8_t *p, size_t len)
{
    int        error;
    uint32_t  *a;
    uint64_t   now;
    nl_rec_t  *r;

    r = c->rec;
    error = nl_is_error(p, len);
    now = nl_now();

    if (error) {
        res->errors++;

        if (!conf.quiet && res->errors < 4) {
            fprintf(stderr, "noomload: error ack: %.*s\n",
                    (int) (len > 200 ? 200 : len), p);
        }
    }

    if (c->state == NL_JOINING) {
        if (error) {
            if (phase == NL_PH_SETUP) {
                nl_fail(c, 1);

            } else {
                /* connected, but in no room */
                c->state = NL_READY;
            }
            return;
        }

        if (phase == NL_PH_SETUP) {
            nl_joined(c);
            return;
        }

        c->state = NL_JOINED;
        nl_rec_chat(c, now);
        return;
    }

    if (c->state != NL_JOINED || !r->waiting || id != r->wait_id) {
        res->other_events++;
        return;
    }

    r->waiting = 0;
    r->next_msg = now + 1000000000ULL;

    if (!error) {
        res->acks++;

        if (r->acked_len == r->acked_cap) {
            r->acked_cap = r->acked_cap ? 2 * r->acked_cap : 16;
            a = realloc(r->acked, r->acked_cap * sizeof(uint32_t));
            if (a == NULL) {
                nl_fatal("out of memory");
            }
            r->acked = a;
        }

        r->acked[r->acked_len++] = r->wait_k;
    }

    nl_rec_chat(c, now);
}


/*
 * A transport is gone (nl_fail(), the connection dropped), or a
 * reconnection failed: the next try after socket.io-client's delay,
 * min(2 s, 1 s * 2^tries) * (0.5 + random[0, 1)).  A message without its
 * ack is not counted, and the next one goes a second later.
 */

static void
nl_rec_lost(nl_conn_t *c)
{
    uint64_t   now, d;
    nl_rec_t  *r;

    r = c->rec;
    now = nl_now();

    if (r->connected) {
        r->connected = 0;
        memcpy(r->old_sid, c->sid, sizeof(c->sid));
        nl_rec_note(now, NL_REC_CLOSE);

        if (r->waiting) {
            r->waiting = 0;
            r->next_msg = now + 1000000000ULL;
        }

    } else {
        res->rec_retries++;
    }

    d = r->tries < 1 ? 1000000000ULL : 2000000000ULL;
    r->tries++;

    d = d / 2 + nl_random() % d;

    c->state = NL_AWAY;
    nl_rec_timer(c, now + d);
}


static void
nl_rec_note(uint64_t t, uint32_t what)
{
    nl_rec_ev_t  *e;

    if (rec_evs_len == rec_evs_cap) {
        rec_evs_cap = rec_evs_cap ? 2 * rec_evs_cap : 1024;
        e = realloc(rec_evs, rec_evs_cap * sizeof(nl_rec_ev_t));
        if (e == NULL) {
            nl_fatal("out of memory");
        }
        rec_evs = e;
    }

    rec_evs[rec_evs_len].t = t;
    rec_evs[rec_evs_len].what = what;
    rec_evs_len++;
}


/*
 * Every receiver against its room's sender (member 0, in this process):
 * every acknowledged number received, once, in increasing order.
 */

static void
nl_rec_check(void)
{
    uint8_t    *seen;
    uint32_t    i, j, kmax, k;
    nl_rec_t   *r, *s;
    nl_conn_t  *c;

    kmax = 0;

    for (i = 0; i < nconns; i++) {
        if (conns[i].slot == 0 && conns[i].rec->k > kmax) {
            kmax = conns[i].rec->k;
        }
    }

    seen = nl_alloc(kmax + 1);

    for (i = 0; i < nconns; i++) {
        c = &conns[i];
        r = c->rec;

        if (strcmp(c->sid, r->first_sid) == 0) {
            res->rec_same_ids++;

        } else if (c->slot == 0) {
            res->rec_fresh_senders++;
        }

        if (c->slot == 0) {
            continue;
        }

        s = conns[i - c->slot].rec;
        memset(seen, 0, kmax + 1);

        for (j = 0; j < r->got_len; j++) {
            k = r->got[j];

            if (j > 0 && k <= r->got[j - 1]) {
                res->rec_disorder++;
            }

            if (k > kmax) {
                continue;
            }

            if (seen[k]) {
                res->rec_dups++;
            }

            seen[k] = 1;
        }

        for (j = 0; j < s->acked_len; j++) {
            res->rec_checked++;

            if (!seen[s->acked[j]]) {
                res->rec_lost++;
            }
        }
    }

    free(seen);

    /* what happened after the reload */

    for (i = 0; i < rec_evs_len; i++) {
        if (t_reload == 0 || rec_evs[i].t < t_reload) {
            continue;
        }

        switch (rec_evs[i].what) {
        case NL_REC_CLOSE:
            res->rec_closed++;
            break;
        case NL_REC_RECOVERED:
            res->rec_back++;
            res->rec_recovered++;
            break;
        default:
            res->rec_back++;
            res->rec_fresh++;
        }
    }
}


/* after the result: the times since the reload of returns, then closes */

static void
nl_rec_report(void)
{
    int        w;
    uint32_t   i, n;
    uint64_t  *t;

    t = nl_alloc((rec_evs_len + 1) * sizeof(uint64_t));

    for (w = 0; w < 2; w++) {
        n = 0;

        for (i = 0; i < rec_evs_len; i++) {
            if (t_reload == 0 || rec_evs[i].t < t_reload
                || (rec_evs[i].what == NL_REC_CLOSE) != (w == 1))
            {
                continue;
            }

            t[n++] = rec_evs[i].t - t_reload;
        }

        if (nl_write_full(ctl_out, &n, sizeof(n)) != 0
            || nl_write_full(ctl_out, t, n * sizeof(uint64_t)) != 0)
        {
            exit(1);
        }
    }

    free(t);
}


static long
nl_rss_kb(void)
{
    long   pages, rss;
    FILE  *f;

    rss = 0;
    f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%*s %ld", &pages) == 1) {
            rss = pages * (sysconf(_SC_PAGESIZE) / 1024);
        }
        fclose(f);
    }

    return rss;
}


static int
nl_cmp64(const void *a, const void *b)
{
    uint64_t  x, y;

    x = *(const uint64_t *) a;
    y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}


/* the element recovery.mjs picks: a[min(n - 1, floor(n * q))] */

static void
nl_rec_pick(FILE *f, const char *name, uint64_t *a, uint32_t n, double q)
{
    uint32_t  i;

    if (n == 0) {
        fprintf(f, ",\"%s\":null", name);
        return;
    }

    i = (uint32_t) (n * q);

    if (i > n - 1) {
        i = n - 1;
    }

    fprintf(f, ",\"%s\":%.3f", name, a[i] / 1e9);
}


/*
 * The parent in recover mode: SIGHUP to the nginx master at its time, the
 * time to every worker, then one JSON line with recovery.mjs's keys.
 */

static void
nl_rec_parent(pid_t *pids, int *in, int *out, uint64_t go)
{
    int           status, bad;
    FILE         *f;
    uint32_t      i, w, n, nt[2];
    uint64_t      t, *times[2];
    nl_result_t  *r, *sum;

    r = nl_alloc(sizeof(nl_result_t));
    sum = nl_alloc(sizeof(nl_result_t));
    bad = 0;

    if (conf.reload_pid) {
        nl_sleep_until(go + (uint64_t) (conf.reload_at * 1e9));

        t = nl_now();

        if (kill(conf.reload_pid, SIGHUP) == -1) {
            fprintf(stderr, "noomload: kill(%d, SIGHUP): %s\n",
                    (int) conf.reload_pid, strerror(errno));
            bad = 1;

        } else {
            for (i = 0; i < conf.procs; i++) {
                if (nl_write_full(out[i], &t, sizeof(t)) != 0) {
                    nl_fatal("a worker process is gone");
                }
            }
        }
    }

    times[0] = NULL;
    times[1] = NULL;
    nt[0] = 0;
    nt[1] = 0;

    for (i = 0; i < conf.procs; i++) {
        nl_result_add(sum, r, in[i], i);

        /* the returns' times, then the closes' */

        for (w = 0; w < 2; w++) {
            if (nl_read_full(in[i], &n, sizeof(n)) != sizeof(n)) {
                nl_fatal("no result from worker process %u", i);
            }

            times[w] = realloc(times[w], (nt[w] + n + 1) * sizeof(uint64_t));
            if (times[w] == NULL) {
                nl_fatal("out of memory");
            }

            if (n && nl_read_full(in[i], times[w] + nt[w],
                                  n * sizeof(uint64_t))
                     != (ssize_t) (n * sizeof(uint64_t)))
            {
                nl_fatal("no result from worker process %u", i);
            }

            nt[w] += n;
        }
    }

    for (i = 0; i < conf.procs; i++) {
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            bad = 1;
        }
    }

    qsort(times[0], nt[0], sizeof(uint64_t), nl_cmp64);
    qsort(times[1], nt[1], sizeof(uint64_t), nl_cmp64);

    f = stdout;

    fprintf(f, "{\"client\":\"c\",\"sockets\":%u,\"rooms\":%u,"
            "\"room_size\":%u,\"processes\":%u,\"closed_by_reload\":%llu,"
            "\"back\":%llu,\"recovered\":%llu,\"fresh\":%llu",
            conf.conns, conf.conns / conf.room_size, conf.room_size,
            conf.procs, (unsigned long long) sum->rec_closed,
            (unsigned long long) sum->rec_back,
            (unsigned long long) sum->rec_recovered,
            (unsigned long long) sum->rec_fresh);

    nl_rec_pick(f, "seconds_until_all_back", times[0], nt[0], 1);
    nl_rec_pick(f, "seconds_until_half_back", times[0], nt[0], 0.5);
    nl_rec_pick(f, "seconds_until_99pct_back", times[0], nt[0], 0.99);
    nl_rec_pick(f, "seconds_until_half_closed", times[1], nt[1], 0.5);
    nl_rec_pick(f, "seconds_until_all_closed", times[1], nt[1], 1);

    fprintf(f, ",\"messages_checked\":%llu,\"lost\":%llu,"
            "\"duplicated\":%llu,\"out_of_order\":%llu,\"same_ids\":%llu,"
            "\"fresh_senders\":%llu,\"generator_rss_mb\":%.0f}\n",
            (unsigned long long) sum->rec_checked,
            (unsigned long long) sum->rec_lost,
            (unsigned long long) sum->rec_dups,
            (unsigned long long) sum->rec_disorder,
            (unsigned long long) sum->rec_same_ids,
            (unsigned long long) sum->rec_fresh_senders,
            sum->rss_kb / 1024.0);

    fflush(f);

    if (!conf.quiet && (sum->rec_retries || sum->failed
                        || sum->proto_errors || sum->errors))
    {
        fprintf(stderr, "noomload: failed at setup %llu, reconnections "
                "failed %llu, protocol errors %llu, error acks %llu\n",
                (unsigned long long) sum->failed,
                (unsigned long long) sum->rec_retries,
                (unsigned long long) sum->proto_errors,
                (unsigned long long) sum->errors);
    }

    free(times[0]);
    free(times[1]);
    free(r);
    free(sum);

    exit(bad ? 1 : 0);
}


/* writing */

static void
nl_send_text(nl_conn_t *c, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf((char *) msgbuf, NL_SCRATCH, fmt, ap);
    va_end(ap);

    if (n < 0 || n >= NL_SCRATCH) {
        nl_fatal("message too long");
    }

    nl_send_frame(c, 1, msgbuf, (size_t) n);
}


static void
nl_send_frame(nl_conn_t *c, int op, const uint8_t *p, size_t len)
{
    size_t    i, h;
    uint8_t  *f, mask[4];
    uint32_t  m;

    if (c->fd == -1 || len + 14 > NL_SCRATCH) {
        return;
    }

    f = scratch;
    f[0] = (uint8_t) (0x80 | op);

    if (len < 126) {
        f[1] = (uint8_t) (0x80 | len);
        h = 2;

    } else if (len < 65536) {
        f[1] = 0x80 | 126;
        f[2] = (uint8_t) (len >> 8);
        f[3] = (uint8_t) len;
        h = 4;

    } else {
        f[1] = 0x80 | 127;
        for (i = 0; i < 8; i++) {
            f[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
        }
        h = 10;
    }

    m = (uint32_t) nl_random();
    memcpy(mask, &m, 4);
    memcpy(f + h, mask, 4);
    h += 4;

    for (i = 0; i < len; i++) {
        f[h + i] = p[i] ^ mask[i & 3];
    }

    nl_write(c, f, h + len);
}


/*
 * Output is collected and written once per turn of the loop, so that the
 * frames of one turn for one connection go out in one write().
 */

static void
nl_write(nl_conn_t *c, const uint8_t *p, size_t len)
{
    size_t    need;
    uint8_t  *o;

    if (c->fd == -1) {
        return;
    }

    if (c->out_pos && c->out_pos == c->out_len) {
        c->out_pos = 0;
        c->out_len = 0;
    }

    need = c->out_len + len;

    if (need > c->out_cap) {
        if (c->out_pos) {
            memmove(c->out, c->out + c->out_pos, c->out_len - c->out_pos);
            c->out_len -= c->out_pos;
            c->out_pos = 0;
            need = c->out_len + len;
        }

        if (need > c->out_cap) {
            need = need < 512 ? 512 : need * 2;
            o = realloc(c->out, need);
            if (o == NULL) {
                nl_fatal("out of memory");
            }
            c->out = o;
            c->out_cap = need;
        }
    }

    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;

    if (!c->dirty) {
        c->dirty = 1;
        dirtyq[dirtyq_len++] = (uint32_t) (c - conns);
    }
}


static void
nl_flush_dirty(void)
{
    uint32_t    k, n;
    nl_conn_t  *c;

    n = dirtyq_len;
    dirtyq_len = 0;

    for (k = 0; k < n; k++) {
        c = &conns[dirtyq[k]];
        c->dirty = 0;

        if (c->fd != -1 && c->state != NL_CONNECTING) {
            nl_flush(c);
        }
    }
}


static void
nl_flush(nl_conn_t *c)
{
    ssize_t  n;

    while (c->out_pos < c->out_len) {
        n = nl_send(c, c->out + c->out_pos, c->out_len - c->out_pos);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            if (errno == EAGAIN) {
                return;
            }

            nl_fail(c, phase == NL_PH_SETUP);
            return;
        }

        c->out_pos += n;
    }

    c->out_pos = 0;
    c->out_len = 0;

    if (c->out_cap > 16384) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }

    if (conf.rate == 0 && phase == NL_PH_RUN && !c->ready_q
        && nl_can_send(c))
    {
        c->ready_q = 1;
        readyq[readyq_len++] = (uint32_t) (c - conns);
    }
}


/* TLS */

static void
nl_tls_init(void)
{
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (tls_ctx == NULL) {
        nl_fatal("SSL_CTX_new() failed");
    }

    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(tls_ctx, SSL_OP_NO_TICKET
                                 | SSL_OP_IGNORE_UNEXPECTED_EOF);

    /*
     * SSL_write() behaves like write(): it may take part of the bytes, and
     * the bytes it did not take may have moved (nl_write() compacts and
     * reallocates the output) when it is called again.
     */

    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                              | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                              | SSL_MODE_RELEASE_BUFFERS);
}


/* 1: done, 0: again, -1: failed */

static int
nl_tls_handshake(nl_conn_t *c)
{
    int  n;

    ERR_clear_error();

    n = SSL_do_handshake(c->ssl);

    if (n == 1) {
        return 1;
    }

    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return 0;
    default:
        if (!conf.quiet && res->failed < 3) {
            fprintf(stderr, "noomload: TLS handshake failed: %s\n",
                    ERR_reason_error_string(ERR_peek_last_error()));
        }
        return -1;
    }
}


/* read() and write(), or their TLS equivalents with errno as they set it */

static ssize_t
nl_recv(nl_conn_t *c, uint8_t *p, size_t len)
{
    int  n;

    if (c->ssl == NULL) {
        return read(c->fd, p, len);
    }

    if (c->tls_hs || c->state == NL_CONNECTING) {
        errno = EAGAIN;
        return -1;
    }

    ERR_clear_error();
    errno = 0;

    n = SSL_read(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int) len);

    if (n > 0) {
        return n;
    }

    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0) {
            return 0;
        }
        if (errno == EAGAIN || errno == EINTR) {
            errno = ECONNRESET;
        }
        return -1;
    default:
        errno = EPROTO;
        return -1;
    }
}


static ssize_t
nl_send(nl_conn_t *c, const uint8_t *p, size_t len)
{
    int  n;

    if (c->ssl == NULL) {
        return write(c->fd, p, len);
    }

    ERR_clear_error();
    errno = 0;

    n = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int) len);

    if (n > 0) {
        return n;
    }

    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    default:
        errno = EPIPE;
        return -1;
    }
}
