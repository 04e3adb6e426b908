#!/usr/bin/perl

# WebSocket over TLS when the socket does not take everything at once: the
# server's send buffer is 8 KB (listen ... sndbuf=8k) and the client's
# receive buffer 16 KB, so noom's TLS writes stop half way (NGX_AGAIN) again
# and again.  Messages of 1 byte to 64 KB, around the 16 KB of a TLS
# record, come back whole, once each and in order; and a client that does
# not read gets, after the echoes already on their way, a close frame 1008
# that is itself whole (what OpenSSL holds is written again unchanged when
# the queue behind it is dropped).

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
        listen 127.0.0.1:%%PORT%% ssl sndbuf=8k;
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
EOF

# the messages: sizes around a TLS record and a frame header's steps,
# each starting with its number
my @sizes = (1, 125, 126, 127, 4000, 16369, 16370, 16383, 16384, 16385,
    16400, 32768, 40000, 65535, 65536);
my @msgs;
for my $i (0 .. 59) {
    my $size = $sizes[$i % @sizes];
    my $head = sprintf '%05d:', $i;
    $size = length $head if $size < length $head;
    push @msgs, $head . (chr(97 + $i % 26) x ($size - length $head));
}

my $total = 0;
$total += length for @msgs;

# every message sent before any is read: the echoes pile up in noom's queue
# and go out as the small buffers allow

{
    my $c = Noom::WS->connect($t, path => '/echo', tls => 1,
        rcvbuf => 16384);
    is($c->status, 101, 'a client with a 16 KB receive buffer gets 101');

    for my $i (0 .. $#msgs) {
        $c->raw(Noom::WS::frame_bytes(op => $i % 2 ? 'binary' : 'text',
            data => $msgs[$i]));
    }

    my ($got, $order, $whole, $bytes) = $c->recv_echoes(\@msgs,
        sub { $_[0] % 2 ? 'binary' : 'text' });

    is($got, scalar @msgs, 'every message is echoed ('
        . scalar(@msgs) . ", $total bytes)");
    is($order, scalar @msgs, 'in the order they were sent, none twice');
    is($whole, scalar @msgs, 'each byte for byte');
    is($bytes, $total, 'nothing more, nothing less');

    $c->send_text('after');
    my $f = $c->recv_frame(5);
    is($f && $f->{data}, 'after', 'the connection goes on after that');
    $c->send_close(1000);
    is($c->wait_close(5), 1000, 'and closes cleanly');
}

# a client that does not read: what is on its way arrives whole, then the
# close frame

{
    my $slow = Noom::WS->connect($t, path => '/slow', tls => 1,
        rcvbuf => 16384);
    is($slow->status, 101, 'a client that will not read is connected');

    # one message at a time, so that echoes are written (and stop half
    # way) before the queue passes noom_send_buffer
    my $sent = 0;
    my $seen = 0;
    while ($sent < 4096) {
        my $data = sprintf('%05d:', $sent % 16) . ('z' x 15994);
        last unless $slow->raw(Noom::WS::frame_bytes(op => 'binary',
            data => $data));
        $sent++;
        if ($t->error_log =~ /client does not read/) {
            $seen = 1;
            last;
        }
    }
    ok($seen, 'the server gives up on the client that does not read')
        or diag "after $sent messages";

    my ($frames, $good, $code, $reason) = $slow->recv_until_close(sub {
        my ($f, $i) = @_;
        $f->{op} eq 'binary' && length $f->{data} == 16000
            && substr($f->{data}, 0, 6) eq sprintf('%05d:', $i % 16)
            && substr($f->{data}, 6) eq 'z' x 15994;
    });
    note "$frames echoes were on their way";
    is($good, $frames, 'the echoes on their way are whole and in order');
    is($code, 1008, 'then the close frame 1008');
    is($reason, 'slow consumer', 'with the reason "slow consumer"');
    $slow->close_socket;
}

$t->stop;
is($t->alerts, '', 'no alert or crit in the error log');

done_testing;
