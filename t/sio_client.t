#!/usr/bin/perl

# Interoperability with the official socket.io-client (node, t/js/
# sio_client.mjs): acks, two clients exchanging messages, reconnection after
# a reload closed the transport; the same over TLS; and, from Perl over TLS,
# small frames that come back at once instead of waiting in a TLS buffer
# (a frame left in nginx's TLS buffer would never arrive: the waits below
# would time out; the round trips are printed, not asserted).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%PORT_1%% ssl;
        %%TLS%%
        location /ws { noom_rooms; noom_send_buffer 8m; }
    }
}
EOF

my $tls_port = $t->extra_port(1);

# runs the node script; its TAP lines become tests here
my $have_node = Noom::Test::have_node_modules('socket.io-client');

sub node_client {
    my ($label, @args) = @_;
    SKIP: {
        skip "$label: no node or no socket.io-client (npm install)", 1
            unless $have_node;
        run_node_client($label, @args);
    }
}

sub run_node_client {
    my ($label, @args) = @_;
    my $script = "$Noom::Test::TOP/t/js/sio_client.mjs";
    my $pid = open(my $fh, '-|', 'node', $script, @args);
    ok($pid, "node runs t/js/sio_client.mjs ($label)") or return;
    my $n = Noom::Test::relay_tap($fh, label => $label);
    close $fh;
    is($? >> 8, 0, "the $label script exits with 0");
    ok($n >= 18, "the $label script ran its tests") or diag "only $n";
}

# socket.io-client over TLS

node_client('socket.io-client over TLS', $tls_port, 'https');

# a Perl client over TLS: nothing waits in nginx's TLS buffer

my $c = Noom::WS::connect('Noom::SIO', $t, port => $tls_port, tls => 1);
is($c->status, 101, 'a Perl client gets 101 over TLS');
my $t0 = time;
my $f = $c->recv_frame(5);
my $open_rtt = time - $t0;
like($f && $f->{data}, qr/^0\{"sid"/, 'then the open packet');
note sprintf 'TLS: the open packet %.1f ms after the 101', $open_rtt * 1000;

$t0 = time;
$c->send_text('40');
my $p = $c->next_packet(5);
my $rtt = time - $t0;
is($p && $p->{type}, 0, 'CONNECT is answered over TLS');
note sprintf 'TLS: the CONNECT reply after %.1f ms', $rtt * 1000;

my @rtt;
my $acked = 0;
for my $i (1 .. 20) {
    $t0 = time;
    my $r = $c->call('nickname', "n$i");
    push @rtt, time - $t0;
    $acked++ if $r && ref $r eq 'ARRAY' && !@$r;
}
is($acked, 20, '20 small events over TLS are all acked');
my @sorted = sort { $a <=> $b } @rtt;
note sprintf 'TLS round trips: median %.1f ms, max %.1f ms',
    $sorted[10] * 1000, $sorted[-1] * 1000;

$c->send_frame(op => 'ping', data => 'tls');
$f = $c->recv_frame(5);
is_deeply([$f && $f->{op}, $f && $f->{data}], ['pong', 'tls'],
    'a WebSocket ping over TLS gets its pong');
close $c->{s};

# socket.io-client over plain HTTP, then a reload that closes the transport

node_client('socket.io-client', $t->port, 'http', $t->master_pid);

# A TLS client that does not read while 6 MB of offers queue up for it: the
# socket fills, OpenSSL takes bytes it cannot send yet, and when the client
# reads at last, every offer arrives once, whole and in order.

my $d = Noom::SIO->connect($t, port => $tls_port, tls => 1);
$d->call('enter_room', 'bulk');

my $sender = Noom::SIO->connect($t);
$sender->call('enter_room', 'bulk');

my $blob = join '', map { chr(65 + $_ % 26) } 1 .. 40_000;
my $acked_offers = 0;
for my $i (1 .. 150) {
    my $r = $sender->call('offer', { seq => $i, sdp => $blob }, 'bulk');
    $acked_offers++ if $r && ref $r eq 'ARRAY' && !@$r;
}
is($acked_offers, 150, '150 offers of 40 KB are relayed to a TLS client');

my @seq;
for (1 .. 150) {
    my $e = $d->event('offer', 10) // last;
    push @seq, $e->[0]{sdp} eq $blob ? $e->[0]{seq} : "bad $e->[0]{seq}";
}
is_deeply(\@seq, [1 .. 150],
    'the TLS client reads them all at last: whole, once, in order');
close $d->{s};

$t->done;
