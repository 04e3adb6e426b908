#!/usr/bin/perl

# Short messages queued behind others are copied into chunks of the
# connection's own (4 KB), a long one is queued by reference.  The server's
# send buffer is 8 KB and the client's receive buffer 16 KB, and every
# message is sent before any echo is read, so the echoes pile up in the
# queue: sizes on both sides of the copy limit (1 KB), runs of them that
# fill a chunk to its last byte and spill into the next, and frames
# between long ones all come back whole, once each and in order, over
# ws:// and wss://.  A client that does not read gets what was on its way
# whole, then the close frame 1008, also when the queue it drops is chunks.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 1);

$t->write_conf(<<'EOF2')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%% sndbuf=8k;
        listen 127.0.0.1:%%PORT_1%% ssl sndbuf=8k;
        %%TLS%%
        location /echo {
            noom_protocol_test websocket;
            noom_max_payload 64k;
            noom_send_buffer 16m;
        }
        location /slow {
            noom_protocol_test websocket;
            noom_max_payload 16k;
            noom_send_buffer 64k;
            noom_close_timeout 30s;   # the client reads its close frame
        }
    }
}
EOF2

# sizes from a fixed sequence: mostly short, around the copy limit, and
# now and then a long one
my @msgs;
my $x = 12345;
for my $i (0 .. 1999) {
    $x = ($x * 1103515245 + 12345) % 2147483648;
    my $r = $x % 100;
    my $size = $r < 60 ? 7 + $x % 200
        : $r < 80 ? 1000 + $x % 50
        : $r < 95 ? 2 + $x % 16
        : 1025 + $x % 9000;
    my $head = sprintf '%05d:', $i;
    $size = length $head if $size < length $head;
    push @msgs, $head . (chr(97 + $i % 26) x ($size - length $head));
}
my $total = 0;
$total += length for @msgs;

for my $tls (0, 1) {
    my $name = $tls ? 'wss' : 'ws';
    my $c = Noom::WS->connect($t, path => '/echo', tls => $tls,
        port => $tls ? $t->extra_port(1) : $t->port, rcvbuf => 16384);
    is($c->status, 101, "$name: a client with a 16 KB receive buffer");

    my $out = '';
    for my $i (0 .. $#msgs) {
        $out .= Noom::WS::frame_bytes(op => $i % 3 ? 'text' : 'binary',
            data => $msgs[$i]);
    }
    $c->raw($out);

    my ($got, $order, $whole, $bytes) = $c->recv_echoes(\@msgs,
        sub { $_[0] % 3 ? 'text' : 'binary' });

    is($got, scalar @msgs, "$name: every message is echoed ("
        . scalar(@msgs) . ", $total bytes)");
    is($order, scalar @msgs, "$name: in the order they were sent");
    is($whole, scalar @msgs, "$name: each byte for byte");
    is($bytes, $total, "$name: nothing more, nothing less");

    $c->send_close(1000);
    is($c->wait_close(5), 1000, "$name: and closes cleanly");

    # short messages only, none read: the queue is chunks when it is
    # dropped

    my $slow = Noom::WS->connect($t, path => '/slow', tls => $tls,
        port => $tls ? $t->extra_port(1) : $t->port, rcvbuf => 16384);
    is($slow->status, 101, "$name: a client that will not read");

    my ($sent, $seen) = (0, 0);
    my $log = length $t->error_log;
    while ($sent < 100000) {
        my $batch = '';
        for (1 .. 50) {
            $batch .= Noom::WS::frame_bytes(op => 'text',
                data => sprintf('%06d:', $sent++) . ('s' x 93));
        }
        last unless $slow->raw($batch);
        if (substr($t->error_log, $log) =~ /client does not read/) {
            $seen = 1;
            last;
        }
    }
    ok($seen, "$name: the server gives up on it") or diag "after $sent";

    my ($frames, $good, $code) = $slow->recv_until_close(sub {
        $_[0]{data} eq sprintf('%06d:', $_[1]) . ('s' x 93);
    });
    note "$name: $frames echoes were on their way";
    ok($frames > 0, "$name: some echoes were on their way");
    is($good, $frames, "$name: they are whole and in order");
    is($code, 1008, "$name: then the close frame 1008");
    $slow->close_socket;
}

$t->stop;
is($t->alerts, '', 'no alert or crit in the error log');

done_testing;
