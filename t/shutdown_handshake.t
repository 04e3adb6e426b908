#!/usr/bin/perl

# A handshake that an old worker accepted before a reload and reads only
# after it.  The worker told its sessions 1001 when it began to shut down;
# a session must not start there afterwards.  A new WebSocket, a polling
# handshake, and the WebSocket upgrade of a session that a new worker owns
# are each answered 503, and the old worker exits with no socket left open
# (a WebSocket taken over after the shutdown was never closed: nginx
# logged "open socket left in connection" and aborted).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 1);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws { noom_rooms; }
    }
}
EOF

my $ws_headers = "Host: localhost\r\nUpgrade: websocket\r\n"
    . "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

# Each connection: a whole request, answered (so the worker has accepted
# the connection), and the first bytes of the next, which the worker holds
# while it waits for the rest (not an idle connection: the shutdown does
# not close it).  The first request is 44 bytes, so that the second starts
# 4-aligned in nginx's buffer: nginx compares the method as a 32-bit word,
# and UBSan in the sanitizer pass stops a worker at a misaligned one.
sub held {
    my $s = $t->ka_conn;
    print $s "GET /nothing/x HTTP/1.1\r\nHost: localhost\r\n\r\n"
        . "GET /ws/?EIO=4&transport=";
    my ($st) = $t->ka_read($s, 10);
    is($st, 404, 'the old worker answered a first request');
    return $s;
}

my $ws = held();
my $poll = held();
my $upgrade = held();

my @old = $t->worker_pids;
$t->reload;

# a polling session on the new worker, for the upgrade
my ($st, $h, $body) = $t->req('GET', '/ws/?EIO=4&transport=polling');
is($st, 200, 'the new worker opens a polling session');
my ($sid) = $body =~ /"sid":"([^"]+)"/;
ok($sid, 'with a sid');

print $ws "websocket HTTP/1.1\r\n$ws_headers";
($st) = $t->read_resp($ws, 10);
is($st, 503, 'a WebSocket handshake read after the shutdown: 503');

print $poll "polling HTTP/1.1\r\nHost: localhost\r\n\r\n";
($st, $h, $body) = $t->read_resp($poll, 10);
is($st, 503, 'a polling handshake read after the shutdown: 503');

print $upgrade "websocket&sid=$sid HTTP/1.1\r\n$ws_headers";
($st) = $t->read_resp($upgrade, 10);
is($st, 503, "the upgrade of another worker's session: 503");

ok($t->wait_until(sub { !grep { kill 0, $_ } @old },
    'the old worker exited', 30), 'the old worker exits');

# the session on the new worker is untouched
($st, $h, $body) = $t->req('POST', "/ws/?EIO=4&transport=polling&sid=$sid",
    '40', 'Content-Type: text/plain;charset=UTF-8');
is($st, 200, 'the polling session of the new worker still takes a POST');
($st, $h, $body) = $t->req('GET', "/ws/?EIO=4&transport=polling&sid=$sid");
like($body, qr/^40\{"sid"/, 'and answers its CONNECT');

like($t->error_log, qr/\[info\].*handshake while the worker shuts down/,
    'the refusal is logged at info');

$t->done;
