
/*
 * Copyright (C) noom authors
 *
 * ceiling: the least a WebSocket room server can do, as the machine's
 * ceiling for noom's benchmarks.  One thread, one epoll, edge-triggered,
 * libc only.  GET /<room> upgrades and joins <room>; every text or binary
 * frame a member sends goes, as one unmasked frame built once, to every
 * other member of the room.  Pings are answered, a close is echoed; no
 * subprotocol, no extension, no fragmentation, no JSON, no heartbeat.
 * With -a, the sender of each frame also gets a 1-byte text frame "a":
 * the ack that a Socket.IO emit with a callback gets, and its write.
 * With -g N, a relayed frame shorter than N bytes is grown to N with
 * spaces after the sender's bytes: as long as the frame noom builds for
 * the same message, while reading only what the sender wrote.
 *
 *     ceiling [-a] [-g bytes] [-l 127.0.0.1] [-p 8090]
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>


#define CL_EVENTS        512
#define CL_RBUF          (256 * 1024)
#define CL_MAX_HEAD      4096
#define CL_MAX_FRAME     (1024 * 1024)
#define CL_MAX_OUT       (8 * 1024 * 1024)
#define CL_ROOM_HASH     65536
#define CL_WS_GUID       "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


typedef struct cl_room_s  cl_room_t;

typedef struct {
    int              fd;
    int              ws;
    int              dirty;
    cl_room_t       *room;
    uint32_t         slot;       /* index in room->members */
    uint8_t         *in;         /* a partial request or frame */
    size_t           in_len;
    uint8_t         *out;
    size_t           out_pos;
    size_t           out_len;
    size_t           out_cap;
} cl_conn_t;


struct cl_room_s {
    cl_room_t       *next;
    cl_conn_t      **members;
    uint32_t         n;
    uint32_t         cap;
    size_t           len;
    char             name[1];
};


static cl_room_t    *rooms[CL_ROOM_HASH];
static uint8_t      *rbuf;
static uint8_t      *fbuf;
static size_t        fbuf_cap;
static int           ep;
static int           cl_ack;          /* -a */
static size_t        cl_grow;         /* -g */
static cl_conn_t   **dirtyq;
static size_t        dirtyq_len;
static size_t        dirtyq_cap;


static int cl_flush(cl_conn_t *c);


static void *
cl_alloc(size_t n)
{
    void  *p;

    p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "ceiling: out of memory\n");
        exit(2);
    }

    return p;
}


/* SHA-1 (FIPS 180-4), enough for Sec-WebSocket-Accept */

#define CL_ROL(x, n)  (((x) << (n)) | ((x) >> (32 - (n))))

static void
cl_sha1_block(uint32_t *h, const uint8_t *p)
{
    int       i;
    uint32_t  w[80], a, b, c, d, e, f, k, t;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16
               | (uint32_t) p[4 * i + 2] << 8 | p[4 * i + 3];
    }

    for (i = 16; i < 80; i++) {
        w[i] = CL_ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }

    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];

    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }

        t = CL_ROL(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = CL_ROL(b, 30);
        b = a;
        a = t;
    }

    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}


static void
cl_sha1(const uint8_t *p, size_t len, uint8_t *out)
{
    int       i;
    size_t    n;
    uint8_t   blk[64];
    uint32_t  h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                       0xc3d2e1f0 };
    uint64_t  bits;

    bits = (uint64_t) len * 8;

    for (n = 0; n + 64 <= len; n += 64) {
        cl_sha1_block(h, p + n);
    }

    memset(blk, 0, 64);
    memcpy(blk, p + n, len - n);
    blk[len - n] = 0x80;

    if (len - n >= 56) {
        cl_sha1_block(h, blk);
        memset(blk, 0, 64);
    }

    for (i = 0; i < 8; i++) {
        blk[63 - i] = (uint8_t) (bits >> (8 * i));
    }

    cl_sha1_block(h, blk);

    for (i = 0; i < 20; i++) {
        out[i] = (uint8_t) (h[i / 4] >> (24 - 8 * (i % 4)));
    }
}


static void
cl_base64(const uint8_t *p, size_t len, char *out)
{
    size_t       i;
    uint32_t     v;
    const char  *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789+/";

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
        *out++ = t[v >> 18];
        *out++ = t[(v >> 12) & 63];
        *out++ = t[(v >> 6) & 63];
        *out++ = t[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) p[i] << 16;
        *out++ = t[v >> 18];
        *out++ = t[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';

    } else if (len - i == 2) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8;
        *out++ = t[v >> 18];
        *out++ = t[(v >> 12) & 63];
        *out++ = t[(v >> 6) & 63];
        *out++ = '=';
    }

    *out = '\0';
}


/* rooms */

static uint32_t
cl_hash(const char *p, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ (uint8_t) p[i]) * 16777619u;
    }

    return h % CL_ROOM_HASH;
}


static int
cl_join(cl_conn_t *c, const char *name, size_t len)
{
    uint32_t    h;
    cl_room_t  *r;
    cl_conn_t **m;

    h = cl_hash(name, len);

    for (r = rooms[h]; r; r = r->next) {
        if (r->len == len && memcmp(r->name, name, len) == 0) {
            break;
        }
    }

    if (r == NULL) {
        r = malloc(sizeof(cl_room_t) + len);
        if (r == NULL) {
            return -1;
        }

        memcpy(r->name, name, len);
        r->name[len] = '\0';
        r->len = len;
        r->n = 0;
        r->cap = 0;
        r->members = NULL;
        r->next = rooms[h];
        rooms[h] = r;
    }

    if (r->n == r->cap) {
        m = realloc(r->members, (r->cap ? r->cap * 2 : 4) * sizeof(*m));
        if (m == NULL) {
            return -1;
        }
        r->members = m;
        r->cap = r->cap ? r->cap * 2 : 4;
    }

    c->room = r;
    c->slot = r->n;
    r->members[r->n++] = c;

    return 0;
}


static void
cl_leave(cl_conn_t *c)
{
    uint32_t    h;
    cl_room_t  *r, **pp;

    r = c->room;
    if (r == NULL) {
        return;
    }

    /* the last member takes the leaver's place */
    r->n--;
    r->members[c->slot] = r->members[r->n];
    r->members[c->slot]->slot = c->slot;
    c->room = NULL;

    if (r->n) {
        return;
    }

    h = cl_hash(r->name, r->len);

    for (pp = &rooms[h]; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }

    free(r->members);
    free(r);
}


/* connections */

static void
cl_close(cl_conn_t *c)
{
    cl_leave(c);
    close(c->fd);
    free(c->in);
    free(c->out);

    if (c->dirty) {
        /* still queued: freed when the queue is written */
        c->fd = -1;
        c->in = NULL;
        c->out = NULL;
        c->out_len = 0;
        c->out_pos = 0;
        return;
    }

    free(c);
}


static void
cl_flush_dirty(void)
{
    size_t      i;
    cl_conn_t  *c;

    for (i = 0; i < dirtyq_len; i++) {
        c = dirtyq[i];
        c->dirty = 0;

        if (c->fd == -1) {
            free(c);
            continue;
        }

        if (cl_flush(c) != 0) {
            cl_close(c);
        }
    }

    dirtyq_len = 0;
}


/*
 * Output is queued and written at the end of the turn of the event loop:
 * the frames a connection gets in one turn go out in one write().
 * Returns -1 for a slow consumer.
 */

static int
cl_send(cl_conn_t *c, const uint8_t *p, size_t len)
{
    size_t    need;
    uint8_t  *o;
    cl_conn_t **q;

    if (c->out_len - c->out_pos + len > CL_MAX_OUT) {
        return -1;
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
            need = need < 1024 ? 1024 : need * 2;
            o = realloc(c->out, need);
            if (o == NULL) {
                return -1;
            }
            c->out = o;
            c->out_cap = need;
        }
    }

    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;

    if (!c->dirty) {
        if (dirtyq_len == dirtyq_cap) {
            q = realloc(dirtyq, (dirtyq_cap ? dirtyq_cap * 2 : 1024)
                                * sizeof(cl_conn_t *));
            if (q == NULL) {
                return -1;
            }
            dirtyq = q;
            dirtyq_cap = dirtyq_cap ? dirtyq_cap * 2 : 1024;
        }

        c->dirty = 1;
        dirtyq[dirtyq_len++] = c;
    }

    return 0;
}


static int
cl_flush(cl_conn_t *c)
{
    ssize_t  n;

    while (c->out_pos < c->out_len) {
        n = write(c->fd, c->out + c->out_pos, c->out_len - c->out_pos);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN ? 0 : -1;
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

    return 0;
}


static size_t
cl_frame_head(uint8_t *h, int op, size_t len)
{
    int  i;

    h[0] = (uint8_t) (0x80 | op);

    if (len < 126) {
        h[1] = (uint8_t) len;
        return 2;
    }

    if (len < 65536) {
        h[1] = 126;
        h[2] = (uint8_t) (len >> 8);
        h[3] = (uint8_t) len;
        return 4;
    }

    h[1] = 127;
    for (i = 0; i < 8; i++) {
        h[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
    }

    return 10;
}


/* the frame once, then to every other member */

static void
cl_broadcast(cl_conn_t *from, int op, const uint8_t *p, size_t len)
{
    size_t      h, n;
    uint32_t    i;
    cl_room_t  *r;
    cl_conn_t  *c;

    n = len < cl_grow ? cl_grow : len;

    if (n + 10 > fbuf_cap) {
        free(fbuf);
        fbuf_cap = n + 10;
        fbuf = cl_alloc(fbuf_cap);
    }

    h = cl_frame_head(fbuf, op, n);
    memcpy(fbuf + h, p, len);
    memset(fbuf + h + len, ' ', n - len);
    len = n;

    r = from->room;

    for (i = 0; i < r->n; i++) {
        c = r->members[i];

        if (c == from) {
            continue;
        }

        if (cl_send(c, fbuf, h + len) != 0) {
            /* dropped: closed at its next event (EPOLLHUP/ERR) */
            shutdown(c->fd, SHUT_RDWR);
        }
    }
}


static int
cl_handshake(cl_conn_t *c, uint8_t *p, size_t len, size_t *used)
{
    int       n;
    char     *end, *line, *next, *key, *path, *sp, buf[256];
    char      accept[32], resp[256];
    uint8_t   digest[20];
    size_t    klen;

    end = memmem(p, len, "\r\n\r\n", 4);

    if (end == NULL) {
        *used = 0;
        return len > CL_MAX_HEAD ? -1 : 0;
    }

    *end = '\0';
    *used = (uint8_t *) end + 4 - p;

    if (strncmp((char *) p, "GET /", 5) != 0) {
        return -1;
    }

    path = (char *) p + 5;
    sp = strchr(path, ' ');
    if (sp == NULL) {
        return -1;
    }
    *sp = '\0';

    key = NULL;

    for (line = strstr(sp + 1, "\r\n"); line; line = next) {
        line += 2;
        next = strstr(line, "\r\n");

        if (next) {
            *next = '\0';
        }

        if (strncasecmp(line, "Sec-WebSocket-Key:", 18) == 0) {
            key = line + 18;
            while (*key == ' ') {
                key++;
            }
        }
    }

    if (key == NULL || (klen = strlen(key)) > 64 || sp == path) {
        return -1;
    }

    n = snprintf(buf, sizeof(buf), "%s" CL_WS_GUID, key);
    cl_sha1((uint8_t *) buf, (size_t) n, digest);
    cl_base64(digest, 20, accept);

    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 101 Switching Protocols\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n", accept);

    if (cl_join(c, path, (size_t) (sp - path)) != 0) {
        return -1;
    }

    c->ws = 1;

    return cl_send(c, (uint8_t *) resp, (size_t) n);
}


/* the complete frames of [p, p + len); -1: close the connection */

static int
cl_frames(cl_conn_t *c, uint8_t *p, size_t len, size_t *used)
{
    int       op;
    size_t    off, h, i;
    uint8_t  *mask, *d, hd[10];
    uint64_t  plen;

    off = 0;

    while (len - off >= 2) {
        op = p[off] & 0x0f;

        if (!(p[off] & 0x80) || (p[off] & 0x70) || !(p[off + 1] & 0x80)) {
            /* fragmented, RSV bits or unmasked */
            return -1;
        }

        plen = p[off + 1] & 0x7f;
        h = 2;

        if (plen == 126) {
            if (len - off < 4) {
                break;
            }
            plen = (uint64_t) p[off + 2] << 8 | p[off + 3];
            h = 4;

        } else if (plen == 127) {
            if (len - off < 10) {
                break;
            }
            plen = 0;
            for (i = 2; i < 10; i++) {
                plen = plen << 8 | p[off + i];
            }
            h = 10;
        }

        if (plen > CL_MAX_FRAME) {
            return -1;
        }

        if (len - off < h + 4 + plen) {
            break;
        }

        mask = p + off + h;
        d = mask + 4;

        for (i = 0; i < plen; i++) {
            d[i] ^= mask[i & 3];
        }

        switch (op) {

        case 1:
        case 2:
            cl_broadcast(c, op, d, plen);

            if (cl_ack) {
                /* "a": the sender's ack, as an emit with a callback gets */
                h = cl_frame_head(hd, 1, 1);
                hd[h] = 'a';
                (void) cl_send(c, hd, h + 1);
            }

            break;

        case 8:
            h = cl_frame_head(hd, 8, plen > 2 ? 2 : plen);
            (void) cl_send(c, hd, h);
            (void) cl_send(c, d, plen > 2 ? 2 : plen);
            (void) cl_flush(c);
            return -1;

        case 9:
            if (plen > 125) {
                return -1;
            }
            h = cl_frame_head(hd, 10, plen);
            if (cl_send(c, hd, h) != 0 || cl_send(c, d, plen) != 0) {
                return -1;
            }
            break;

        case 10:
            break;

        default:
            return -1;
        }

        off = (size_t) (d - p) + plen;
    }

    *used = off;
    return 0;
}


static void
cl_read(cl_conn_t *c, uint32_t events)
{
    int      rc, eof;
    size_t   have, used, want;
    ssize_t  n;

    for ( ;; ) {
        have = 0;

        if (c->in_len) {
            memcpy(rbuf, c->in, c->in_len);
            have = c->in_len;
            free(c->in);
            c->in = NULL;
            c->in_len = 0;
        }

        want = CL_RBUF - have;
        n = read(c->fd, rbuf + have, want);
        eof = 0;

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN) {
                cl_close(c);
                return;
            }
            n = 0;
            eof = -1;

        } else if (n == 0) {
            eof = 1;
        }

        have += n;

        if (have) {
            used = 0;

            if (!c->ws) {
                rc = cl_handshake(c, rbuf, have, &used);

                if (rc == 0 && c->ws && used < have) {
                    size_t  u2;

                    rc = cl_frames(c, rbuf + used, have - used, &u2);
                    used += u2;
                }

            } else {
                rc = cl_frames(c, rbuf, have, &used);
            }

            if (rc != 0) {
                (void) cl_flush(c);
                cl_close(c);
                return;
            }

            if (used < have) {
                c->in_len = have - used;
                c->in = cl_alloc(c->in_len);
                memcpy(c->in, rbuf + used, c->in_len);
            }
        }

        if (eof == 1) {
            cl_close(c);
            return;
        }

        if (eof == -1) {
            return;
        }

        if ((size_t) n < want
            && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        {
            /* all there was: more data is a new edge */
            return;
        }
    }
}


int
main(int argc, char **argv)
{
    int                 lfd, fd, one, i, n, o, port;
    const char         *addr;
    cl_conn_t          *c;
    struct sockaddr_in  sin;
    struct epoll_event  ev, evs[CL_EVENTS];

    addr = "127.0.0.1";
    port = 8090;

    while ((o = getopt(argc, argv, "ag:l:p:")) != -1) {
        switch (o) {
        case 'a':
            cl_ack = 1;
            break;
        case 'g':
            cl_grow = (size_t) atol(optarg);
            if (cl_grow > CL_MAX_FRAME) {
                fprintf(stderr, "ceiling: -g is at most %d\n", CL_MAX_FRAME);
                return 2;
            }
            break;
        case 'l':
            addr = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        default:
            fprintf(stderr,
                    "usage: ceiling [-a] [-g bytes] [-l 127.0.0.1] "
                    "[-p 8090]\n");
            return 2;
        }
    }

    signal(SIGPIPE, SIG_IGN);

    rbuf = cl_alloc(CL_RBUF);
    fbuf_cap = 65536;
    fbuf = cl_alloc(fbuf_cap);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) port);

    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1
        || (ntohl(sin.sin_addr.s_addr) >> 24) != 127)
    {
        fprintf(stderr, "ceiling: listens on 127.x.y.z only\n");
        return 2;
    }

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    one = 1;

    if (lfd == -1
        || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))
        || bind(lfd, (struct sockaddr *) &sin, sizeof(sin)) == -1
        || listen(lfd, 4096) == -1)
    {
        perror("ceiling: listen");
        return 1;
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep == -1) {
        perror("ceiling: epoll_create1");
        return 1;
    }

    ev.events = EPOLLIN;
    ev.data.ptr = NULL;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
        perror("ceiling: epoll_ctl");
        return 1;
    }

    for ( ;; ) {
        n = epoll_wait(ep, evs, CL_EVENTS, -1);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            perror("ceiling: epoll_wait");
            return 1;
        }

        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;

            if (c == NULL) {
                for ( ;; ) {
                    fd = accept4(lfd, NULL, NULL,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd == -1) {
                        break;
                    }

                    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                                      sizeof(one));

                    c = calloc(1, sizeof(cl_conn_t));
                    if (c == NULL) {
                        close(fd);
                        continue;
                    }

                    c->fd = fd;
                    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
                    ev.data.ptr = c;

                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
                        close(fd);
                        free(c);
                    }
                }
                continue;
            }

            if (c->fd == -1) {
                continue;
            }

            if (evs[i].events & EPOLLOUT) {
                if (cl_flush(c) != 0) {
                    cl_close(c);
                    continue;
                }
            }

            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            {
                cl_read(c, evs[i].events);
            }
        }

        cl_flush_dirty();
    }
}
