#!/usr/bin/perl

# Engine.IO v4 over WebSocket on the echo location (noom_protocol_test
# engine.io) with the settings of the official Engine.IO test suite: the
# open packet, message echo, the server's heartbeat and its timeout, the
# client close packet, and the packets that close the connection.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;
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
        location /engine.io/ {
            noom_protocol_test engine.io;
            noom_ping_interval 300ms;
            noom_ping_timeout 5s;   # a loaded machine answers late
        }
        # the default heartbeat, for a big payload on a busy machine
        location /calm/ { noom_protocol_test engine.io; }
        location /status { noom_status; }
    }
}
EOF

# a fresh connection and its open packet (a text frame, as it came)
sub eio {
    my ($loc) = @_;

    # before the server can have started a timer: lower bounds on timers
    # are measured from here, not from when the open packet was read
    my $start = time;
    my $ws = Noom::WS->connect($t,
        path => ($loc // '/engine.io/') . '?EIO=4&transport=websocket');
    die "no 101" unless $ws->status == 101;
    my $f = $ws->recv_frame(15);
    $ws->{open_at} = time;
    $ws->{start_at} = $start;
    $ws->{open} = $f;
    return $ws;
}

# the next data frame, with Engine.IO pings answered on the way
sub next_data {
    my ($ws, $timeout) = @_;
    my $t0 = time;
    $timeout //= 3;
    for (;;) {
        my $f = $ws->recv_frame($timeout - (time - $t0));
        return $f if !$f || $f->{op} ne 'text' || $f->{data} ne '2';
        $ws->send_text('3');
    }
}

# the code of the close frame that comes next (pings not answered)
sub close_code {
    my ($ws, $timeout) = @_;
    my $t0 = time;
    $timeout //= 10;
    for (;;) {
        my $f = $ws->recv_frame($timeout - (time - $t0));
        return 'timeout' unless $f;
        return 'eof' if $f->{op} eq 'eof';
        if ($f->{op} eq 'close') {
            $ws->{reason} = $f->{reason};
            return $f->{code} // 0;
        }
    }
}

# the open packet

my $ws = eio();
my $open = $ws->{open};
is($open->{op}, 'text', 'the open packet is a text frame');
like($open->{data},
    qr/^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\[\],"pingInterval":300,"pingTimeout":5000,"maxPayload":1000000\}$/,
    'the open packet is exactly 0{"sid":<20 chars>,"upgrades":[],'
    . '"pingInterval":300,"pingTimeout":5000,"maxPayload":1000000}');
my $o = eval { decode_json(substr($open->{data}, 1)) } // {};
is(length($o->{sid} // ''), 20, 'the sid has 20 characters');
is_deeply($o->{upgrades}, [], 'upgrades is an empty array');

my $other = eio();
my $o2 = eval { decode_json(substr($other->{open}{data}, 1)) } // {};
isnt($o2->{sid}, $o->{sid}, 'two connections get different sids');
$other->close_socket;

# messages (on the default heartbeat: a test that is descheduled for a
# while must not miss a pong)

$ws->close_socket;
$ws = eio('/calm/');
$ws->send_text('4hello');
my $f = next_data($ws);
is_deeply([$f->{op}, $f->{data}], ['text', '4hello'],
    'the message 4hello is echoed as 4hello');
$ws->send_text('4');
$f = next_data($ws);
is($f->{data}, '4', 'an empty message is echoed');
$ws->send_text("4\x{e9}t\x{e9}" =~ s/([\x80-\xff])/chr(0xc3) . chr(ord($1) - 0x40)/ger);
$f = next_data($ws);
is($f->{data}, "4\xc3\xa9t\xc3\xa9", 'a message with UTF-8 is echoed bytewise');
$ws->send_binary("\x01\x02\x03\x04");
$f = next_data($ws);
is_deeply([$f->{op}, $f->{data}], ['binary', "\x01\x02\x03\x04"],
    'a binary message is echoed as binary');
$ws->send_text('6');
$ws->send_text('4after noop');
$f = next_data($ws);
is($f->{data}, '4after noop', 'a noop 6 is ignored');

# the heartbeat: three rounds

$ws->close_socket;
$ws = eio();
my @gaps;
my $last = $ws->{start_at};
for my $round (1 .. 3) {
    $f = $ws->recv_frame(5);
    last unless $f && $f->{op} eq 'text' && $f->{data} eq '2';
    push @gaps, time - $last;
    $ws->send_text('3');
    $last = time;
}
is(scalar @gaps, 3, 'the server sends the ping 2 three times');

# lower bounds only: a timer does not fire early, a busy machine is late
ok($gaps[0] > 0.2, 'the first one pingInterval after the open packet')
    or diag "gaps: @gaps";
ok(!grep({ $_ < 0.2 } @gaps[1 .. $#gaps]),
    'the next ones pingInterval after the last pong')
    or diag "gaps: @gaps";
$ws->send_text('4still open');
$f = next_data($ws);
is($f->{data}, '4still open', 'after three rounds the connection is open');
$ws->send_text('1');
is(close_code($ws, 5), 1000, 'the close packet 1 gets close 1000');
ok($ws->wait_eof(5), 'and the connection is closed');

# without pongs

$ws = eio();
$f = $ws->recv_frame(5);
my $ping_at = time - $ws->{open_at};
is($f && $f->{data}, '2', 'a client that does not answer still gets a ping');
my $code = close_code($ws, 30);
my $closed_at = time - $ws->{start_at};
ok($code ne 'timeout', 'then the server closes the connection')
    or diag "got $code";
ok($ws->wait_eof(5), 'and the TCP connection ends');
ok($closed_at > 5.2,
    'pingInterval + pingTimeout after the open packet, not before')
    or diag "closed after $closed_at s, ping after $ping_at s";

$ws = eio();
$f = $ws->recv_frame(5);
$ws->send_text('3');
$f = $ws->recv_frame(5);
is($f && $f->{data}, '2', 'a second ping comes after a pong');
$ws->send_text('3');
$ws->send_text('3');
$ws->send_text('4extra pongs');
$f = next_data($ws);
is($f->{data}, '4extra pongs', 'an extra pong does no harm');
$ws->close_socket;

# a pong that is not alone: the heartbeat does not count it
$ws = eio();
$f = $ws->recv_frame(5);
$ws->send_text('3probe');
$code = close_code($ws, 30);
ok($code ne 'timeout', 'a 3probe is not taken for the pong');
$ws->close_socket;

# packets that close

for my $case (
    ['abc', 'an invalid packet abc'],
    ['2', 'a client ping 2'],
    ['2probe', 'a probe 2probe without polling'],
    ['5', 'an upgrade 5 without polling'],
    ['', 'an empty text message'],
    ['7', 'the unknown packet type 7'],
    ['0', 'an open packet from the client'],
) {
    my ($data, $what) = @$case;
    $ws = eio();
    $ws->send_text($data);
    is(close_code($ws), 1008, "$what gets close 1008");
    $ws->close_socket if $ws->{reason} eq '';
    like($ws->{reason}, qr/\S/, "with a reason for $what");
    $ws->close_socket;
}

$ws = eio('/calm/');    # no ping may come first on a busy machine
$ws->send_text('4' . 'x' x 1000000);
is(close_code($ws), 1009, 'a message of maxPayload + 1 bytes gets close 1009');
$ws->close_socket;

$ws = eio('/calm/');
$ws->send_binary('x' x 1000000);
$f = next_data($ws, 5);
ok($f && $f->{op} eq 'binary' && length $f->{data} == 1000000,
    'a binary message of exactly maxPayload is echoed');
$ws->close_socket;

my $st = $t->status_json('/status');
ok($st->{protocol_closes} >= 7, 'noom_status counts the protocol closes')
    or diag explain $st;

$t->done;
