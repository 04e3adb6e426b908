#!/usr/bin/perl

# The bad-input catalogue: every malformed input we know, each with its
# defined outcome, while a healthy room on other workers keeps talking.
# Also the abuse limits: the event rate, connections per address
# (limit_conn) and the handshake rate (limit_req), and a flooding neighbour
# that does not slow a well-behaved pair down much.

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
    noom_max_signal_size 2k;
    limit_conn_zone $binary_remote_addr zone=addr:1m;
    limit_req_zone $binary_remote_addr zone=hs:1m rate=2r/s;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws {
            noom_rooms;
            noom_worker_header on;
            noom_event_rate 1000 burst=1000;
        }
        location /rl {
            noom_rooms;
            noom_event_rate 20 burst=40;
        }
        location /rlp {
            noom_rooms;
            noom_event_rate 20 burst=3;
            noom_ping_interval 300ms;
            noom_ping_timeout 10s;  # a loaded machine answers late
        }
        location /lim {
            noom_rooms;
            limit_conn addr 3;
        }
        location /hs {
            noom_rooms;
            limit_req zone=hs burst=2 nodelay;
        }
        location / {
            noom_rooms;
            noom_worker_header on;
            noom_event_rate off;
        }
        location /status { noom_status; }
    }
}
EOF

my $p1 = Noom::SIO->connect_on_worker($t, 0);
my $p2 = Noom::SIO->connect_on_worker($t, 1);
$p1->call('enter_room', 'healthy');
$p2->call('enter_room', 'healthy');
my $n = 0;

sub healthy {
    my ($what) = @_;
    $n++;
    $p1->emit('new_message', "m$n", 'healthy');
    my $m;
    do { $m = $p2->event('new_message', 5) } while ($m && $m->[0] ne "Anon: m$n");
    is($m && $m->[0], "Anon: m$n", "the healthy room still talks after $what");
}

sub sio { Noom::SIO->connect($t, @_) }
sub ws { Noom::WS->connect($t, @_) }

# frames

my $c = ws();
$c->raw("\x81\xfe\x00\x64" . "abcd" . 'x' x 10);
$c->close_socket;
healthy('a truncated frame and a vanished client');

$c = ws();
$c->raw("\x82\xff" . pack('Q>', 2**62) . "abcd");
is($c->wait_close, 1009, 'a frame claiming 2^62 bytes gets 1009');
healthy('a huge length');

$c = ws();
$c->raw("\x81\xff" . pack('Q>', 2**63) . "abcd");
is($c->wait_close, 1002, 'a length with the top bit set gets 1002');

$c = ws();
$c->send_frame(op => 'text', data => "4\xff");
is($c->wait_close, 1007, 'invalid UTF-8 gets 1007');

$c = ws();
$c->send_frame(op => 'binary', data => "\x00\x01");
is($c->wait_close, 1008, 'binary where text is expected gets 1008');
healthy('bad frames');

# Engine.IO and Socket.IO packets

$c = ws();
$c->send_text('');
is($c->wait_close, 1008, 'an empty Engine.IO packet gets 1008');

$c = sio();
$c->send_text('42[');
is($c->wait_close, 1008, 'invalid JSON gets 1008');

$c = sio();
$c->send_text('42["new_message",' . ('[' x 5000) . (']' x 5000) . ',"r"]');
is($c->wait_close, 1008, 'JSON nested 5000 deep gets 1008, not a crash');

$c = sio(nsp => undef);
$c->send_text('40/' . ('n' x 500000) . ',');
my $f = $c->recv_frame(10);
ok($f && $f->{data} eq '44/' . ('n' x 500000)
    . ',{"message":"Invalid namespace"}',
    'a namespace of 500,000 bytes gets its CONNECT_ERROR, naming it whole')
    or diag 'got ' . length($f->{data} // '') . ' bytes: '
        . substr($f->{data} // '', 0, 20);
$c->send_text('40');
my $p = $c->next_packet(5);
is($p && $p->{type}, 0, 'and the connection stays: "/" connects after it');

$c = sio();
$c->send_text('42{"a":1}');
is($c->wait_close, 1008, 'an EVENT that is not an array gets 1008');

$c = sio();
$c->send_text('4511-["offer",{},"r"]');
is($c->wait_close, 1008, 'eleven attachments get 1008');

$c = sio();
$c->send_text('42["disconnect"]');
is($c->wait_close, 1008, 'a reserved event name gets 1008');
healthy('bad packets');

# events

$c = sio();
is($c->call('new_message', { not => 'text' }, 'healthy')->[0]{error},
    'bad_request', 'a message of the wrong type gets bad_request');
is($c->call('enter_room', [1, 2])->[0]{error}, 'invalid_room_name',
    'a room name of the wrong type gets invalid_room_name');
is($c->call('nickname', 'n' x 65536)->[0]{error}, 'invalid_nickname',
    'a 64 KB nickname gets invalid_nickname');
is($c->call('teleport', 'healthy')->[0]{error}, 'unknown_event',
    'an unknown event gets unknown_event');
is($c->call('new_message', 'sneak', 'healthy')->[0]{error}, 'not_in_room',
    'a message into a room one is not in gets not_in_room');
ok($p2->no_event('new_message', 0.2), 'and does not arrive');

$c->call('enter_room', 'elsewhere');
is($c->call('offer', { sdp => 'x' }, 'elsewhere', $p2->id)->[0]{error},
    'no_such_member', 'toId of a socket in another room gets no_such_member');
ok($p2->no_event('offer', 0.2), 'and nothing reaches it');
is($c->call('offer', { sdp => 'x' x 3000 }, 'elsewhere')->[0]{error},
    'signal_too_large', 'an oversized SDP gets signal_too_large');
healthy('bad events');

# the plain lobby

$c = ws(path => '/');
$c->send_text('{"type":');
is($c->wait_close, 1007, 'invalid JSON in the lobby gets 1007');
healthy('a bad lobby message');

# the event rate

my $flood = sio(path => '/rl/?EIO=4&transport=websocket');
$flood->call('enter_room', 'healthy');
$flood->emit('new_message', "f$_", 'healthy') for 1 .. 30;
my $err = $flood->event('error', 5);
ok(!$err, 'a burst within noom_event_rate is fine');
$p2->flush_events;

$flood->emit('new_message', "g$_", 'healthy') for 1 .. 60;
$err = $flood->event('error', 5);
is($err && $err->[0]{error}, 'rate_limited', 'past the burst: rate_limited');
# enough that the bucket cannot refill meanwhile on a slow machine
$flood->emit('new_message', 'h', 'healthy') for 1 .. 1000;
is($flood->wait_close(10), 1008, 'going on past it gets 1008');
is($flood->close_reason, 'event rate exceeded', 'with the reason');

my $acked = sio(path => '/rl/?EIO=4&transport=websocket');
my @ids = map { $acked->emit_ack('list_rooms') } 1 .. 60;
my %seen;
for my $id (@ids) {
    my $r = $acked->ack($id);
    my $e = $r && ref $r->[0] eq 'HASH' ? $r->[0]{error} // '' : '';
    $seen{ !$r ? 'none' : $e eq 'rate_limited' ? 'limited'
           : ref $r->[0] eq 'ARRAY' ? 'answered' : "other: $e" }++;
}
is_deeply([sort keys %seen], [qw(answered limited)], 'every event with an '
    . 'ack is answered, also those over the rate') or diag explain \%seen;
ok(($seen{answered} // 0) >= 1 && ($seen{limited} // 0) >= 1,
   'those within it with the rooms, those over it with a rate_limited '
   . 'error ack');

# the heartbeat does not count: a client just under the rate, with pings
# every 300 ms, is not cut off for a pong
my $steady = sio(path => '/rlp/?EIO=4&transport=websocket');
my ($good, $bad) = (0, 0);
for my $i (1 .. 54) {
    my $t0 = time;
    my $r = $steady->call('list_rooms');
    ($r && ref $r->[0] eq 'ARRAY') ? $good++ : $bad++;
    my $rest = 1 / 18 - (time - $t0);
    select undef, undef, undef, $rest if $rest > 0;
}
is($bad, 0, 'a client at 18 events a second under a limit of 20 answers '
    . 'its pings and loses nothing');
ok($t->status_json->{rate_limited} >= 1, 'the status counts it');
healthy('a flood');

# connections per address: nginx's own limit_conn on the location

my @keep = map { sio(path => '/lim/?EIO=4&transport=websocket') } 1 .. 3;
is(scalar(grep { $_->status == 101 } @keep), 3, 'three connections are fine');
my $fourth = ws(path => '/lim/?EIO=4&transport=websocket');
is($fourth->status, 503, 'limit_conn refuses the fourth with 503');
$_->close_socket for @keep;

# handshakes per second: limit_req

my @codes = map { ws(path => '/hs/?EIO=4&transport=websocket')->status } 1 .. 6;
is($codes[0], 101, 'the first handshake passes limit_req');
ok((grep { $_ == 503 } @codes) >= 2, 'a burst of handshakes gets 503s');

# a flooding neighbour on the same worker as the pair

sub rtt_p99 {
    my @d;
    for my $i (1 .. 100) {
        my $t0 = time;
        $p1->emit('new_message', "p$i", 'healthy');
        my $m;
        do { $m = $p2->event('new_message', 30) or return undef }
            while ($m->[0] ne "Anon: p$i");
        push @d, time - $t0;
    }
    @d = sort { $a <=> $b } @d;
    return $d[98];
}

$p2->flush_events;
my $quiet = rtt_p99();

my $noisy = Noom::SIO->connect_on_worker($t, 0,
    path => '/?EIO=4&transport=websocket');
my $pid = fork() // die;
if ($pid == 0) {
    # a client that sends as fast as it can and never reads
    for (1 .. 20000) {
        $noisy->send_text('42["new_message","flood","nowhere"]') or last;
    }
    exit 0;
}
my $loud = rtt_p99();
kill 'KILL', $pid;
waitpid($pid, 0);

ok(defined $quiet && defined $loud, 'the pair exchanged 100 messages alone '
    . 'and 100 next to a flood');
diag(sprintf "pair p99: %.1f ms alone, %.1f ms next to a flood",
    ($quiet // 0) * 1000, ($loud // 0) * 1000);
SKIP: {
    skip 'timing under a sanitizer', 1 if $ENV{TEST_NOOM_SANITIZER};
    skip 'a timing (TEST_NOOM_TIMING=1 asserts it)', 1
        unless $ENV{TEST_NOOM_TIMING};
    ok(defined $loud && $loud < 5 * $quiet + 0.05,
        'a flooding neighbour does not slow the pair down much (loosely)');
}

$t->done;
