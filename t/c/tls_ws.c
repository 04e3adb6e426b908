/*
 * A WebSocket client over TLS through OpenSSL, for t/tls_takeover.t: what
 * Perl's TLS cannot do (a KeyUpdate, a TLS 1.2 connection by choice, a
 * record that is not one).  Against an echo location (noom_protocol_test
 * websocket) it prints a line per step; the test compares them.
 *
 *   tls_ws PORT PATH MODE
 *
 * MODE: "keyupdate"  messages before and after KeyUpdates (one asking for
 *                    the server's), a 200,000-byte message, a close;
 *       "tls12"      the same with TLS 1.2, no KeyUpdate;
 *       "tamper"     a message, then a record that fails to decrypt.
 */

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


static int  key_updates_read;


static void
msg_cb(int write_p, int version, int type, const void *buf, size_t len,
    SSL *ssl, void *arg)
{
    if (!write_p && type == SSL3_RT_HANDSHAKE && len
        && ((const unsigned char *) buf)[0] == SSL3_MT_KEY_UPDATE)
    {
        key_updates_read++;
    }
}


static void
die(const char *what)
{
    printf("error %s\n", what);
    ERR_print_errors_fp(stdout);
    exit(1);
}


static void
send_frame(SSL *s, int op, const unsigned char *data, size_t len)
{
    size_t          i, n;
    unsigned char  *f, mask[4] = { 0x12, 0x34, 0x56, 0x78 };

    f = malloc(len + 14);
    if (f == NULL) {
        die("malloc");
    }

    n = 0;
    f[n++] = 0x80 | op;

    if (len < 126) {
        f[n++] = 0x80 | len;

    } else if (len < 65536) {
        f[n++] = 0x80 | 126;
        f[n++] = len >> 8;
        f[n++] = len & 0xff;

    } else {
        f[n++] = 0x80 | 127;
        for (i = 0; i < 8; i++) {
            f[n++] = (unsigned char) ((unsigned long long) len >> (56 - 8 * i));
        }
    }

    memcpy(f + n, mask, 4);
    n += 4;

    for (i = 0; i < len; i++) {
        f[n++] = data[i] ^ mask[i % 4];
    }

    if (SSL_write(s, f, n) != (int) n) {
        die("SSL_write");
    }

    free(f);
}


static void
read_full(SSL *s, unsigned char *buf, size_t len)
{
    int  n;

    while (len) {
        n = SSL_read(s, buf, len);
        if (n <= 0) {
            die("SSL_read");
        }

        buf += n;
        len -= n;
    }
}


/* one frame (no fragments from the echo): its opcode, its data in *data */

static int
recv_frame(SSL *s, unsigned char **data, size_t *len)
{
    int            i;
    size_t         n;
    unsigned char  h[2], x[8];

    read_full(s, h, 2);
    n = h[1] & 0x7f;

    if (n == 126) {
        read_full(s, x, 2);
        n = x[0] << 8 | x[1];

    } else if (n == 127) {
        read_full(s, x, 8);
        n = 0;
        for (i = 0; i < 8; i++) {
            n = n << 8 | x[i];
        }
    }

    *data = malloc(n + 1);
    if (*data == NULL) {
        die("malloc");
    }

    read_full(s, *data, n);
    (*data)[n] = '\0';
    *len = n;

    return h[0] & 0x0f;
}


static void
echo(SSL *s, const char *text)
{
    size_t          len;
    unsigned char  *data;

    send_frame(s, 1, (const unsigned char *) text, strlen(text));

    if (recv_frame(s, &data, &len) != 1 || strcmp((char *) data, text) != 0) {
        die("echo");
    }

    printf("echo %s\n", text);
    free(data);
}


int
main(int argc, char **argv)
{
    int                  fd, n;
    char                 req[512], head[4096];
    SSL                 *s;
    size_t               len, i, big_len;
    SSL_CTX             *ctx;
    unsigned char       *data, *big;
    struct sockaddr_in   sin;

    if (argc != 4) {
        fprintf(stderr, "usage: tls_ws PORT PATH MODE\n");
        return 2;
    }

    setvbuf(stdout, NULL, _IOLBF, 0);

    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_msg_callback(ctx, msg_cb);

    if (strcmp(argv[3], "tls12") == 0) {
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);

    } else {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    }

    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(atoi(argv[1]));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        die("connect");
    }

    s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    SSL_set_tlsext_host_name(s, "localhost");

    if (SSL_connect(s) != 1) {
        die("SSL_connect");
    }

    printf("version %s\n", SSL_get_version(s));

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: localhost\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n", argv[2]);

    if (SSL_write(s, req, n) != n) {
        die("SSL_write");
    }

    /* the 101's head, a byte at a time: no frame is read with it */

    for (len = 0; len < sizeof(head) - 1; len++) {
        read_full(s, (unsigned char *) head + len, 1);

        if (len >= 3 && memcmp(head + len - 3, "\r\n\r\n", 4) == 0) {
            break;
        }
    }

    head[len] = '\0';
    printf("status %.12s\n", head + 9);

    echo(s, "hello");

    if (strcmp(argv[3], "tamper") == 0) {
        /* a record that cannot be opened, straight on the socket */
        unsigned char  rec[5 + 32] = { 23, 3, 3, 0, 32 };

        if (write(fd, rec, sizeof(rec)) != sizeof(rec)) {
            die("write");
        }

        n = SSL_read(s, head, sizeof(head));
        printf("after a bad record: %s\n", n > 0 ? "data" : "closed");
        return 0;
    }

    if (strcmp(argv[3], "keyupdate") == 0) {
        if (SSL_key_update(s, SSL_KEY_UPDATE_REQUESTED) != 1) {
            die("SSL_key_update");
        }

        echo(s, "after a key update that asks for the server's");

        if (SSL_key_update(s, SSL_KEY_UPDATE_NOT_REQUESTED) != 1) {
            die("SSL_key_update");
        }

        echo(s, "after a key update of the client's only");
        printf("key updates from the server %d\n", key_updates_read);
    }

    /* many records each way */

    big_len = 200000;
    big = malloc(big_len);
    if (big == NULL) {
        die("malloc");
    }

    for (i = 0; i < big_len; i++) {
        big[i] = (unsigned char) (i * 7 + (i >> 8));
    }

    send_frame(s, 2, big, big_len);

    if (recv_frame(s, &data, &len) != 2 || len != big_len
        || memcmp(data, big, len) != 0)
    {
        die("the big message");
    }

    printf("big message %zu\n", len);
    free(data);

    send_frame(s, 8, (const unsigned char *) "\x03\xe8", 2);

    if (recv_frame(s, &data, &len) != 8 || len < 2) {
        die("close");
    }

    printf("close %d\n", data[0] << 8 | data[1]);

    n = SSL_read(s, head, sizeof(head));
    printf("then %s\n", n == 0 && (SSL_get_shutdown(s) & SSL_RECEIVED_SHUTDOWN)
                        ? "close_notify" : "no close_notify");

    return 0;
}
