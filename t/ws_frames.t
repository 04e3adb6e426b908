#!/usr/bin/perl

# RFC 6455 framing on the raw WebSocket echo location (noom_protocol_test
# websocket): every frame rule with its close code, control frames between
# fragments, UTF-8 across fragments, the payload limit checked before a byte
# is stored, the closing handshake, frames that come with the handshake or
# byte by byte; then the close codes of the noom_rooms location.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
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
        location /echo { noom_protocol_test websocket; }
        location /small {
            noom_protocol_test websocket;
            noom_max_payload 1000;
        }
        location /quick {
            noom_protocol_test websocket;
            noom_close_timeout 500ms;
        }
        location /ws { noom_rooms; }
        location / { noom_rooms; }
    }
}
EOF

# a frame, always built by hand: Noom::WS::frame_bytes() hands final frames
# to Protocol::WebSocket, which makes a final "cont" frame a text frame
sub fb {
    my (%f) = @_;
    return Noom::WS::frame_bytes(len => length($f{data} // ''), %f);
}

sub echo {
    my (%o) = @_;
    my $ws = Noom::WS->connect($t, path => '/echo', %o);
    die "no 101 from the echo location" unless $ws->status == 101;
    return $ws;
}

# the close code of the server's close frame (0: one without a code),
# skipping data frames; 'eof' or 'timeout' when none came
sub close_code {
    my ($ws, $timeout) = @_;
    my $t0 = time;
    $timeout //= 3;
    for (;;) {
        my $f = $ws->recv_frame($timeout - (time - $t0));
        return 'timeout' unless $f;
        return 'eof' if $f->{op} eq 'eof';
        if ($f->{op} eq 'close') {
            $ws->{last_close} = $f;
            return $f->{code} // 0;
        }
    }
}

# a fresh echo connection that sends these bytes: the close code it gets
sub closes_with {
    my ($bytes, $path) = @_;
    my $ws = echo(path => $path // '/echo');
    $ws->raw($bytes);
    my $code = close_code($ws);
    $ws->close_socket;
    return $code;
}

# echo

my $ws = echo();
$ws->send_text('hello');
my $f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}, $f->{fin}], ['text', 'hello', 1],
    'a text message is echoed as one final text frame');
$ws->send_binary("\x00\x01\xff");
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['binary', "\x00\x01\xff"],
    'a binary message is echoed as binary');
$ws->send_text('');
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['text', ''], 'an empty text message is echoed');

# pings and pongs

$ws->send_frame(op => 'ping', data => 'are you there?');
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['pong', 'are you there?'],
    'a ping gets a pong with the same payload');
$ws->send_frame(op => 'ping', data => 'x' x 125);
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['pong', 'x' x 125],
    'a ping of 125 bytes gets its 125 bytes back');
$ws->send_frame(op => 'ping');
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['pong', ''],
    'an empty ping gets an empty pong');
$ws->send_frame(op => 'pong', data => 'unsolicited');
$ws->send_text('still here');
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['text', 'still here'],
    'an unsolicited pong is accepted and the connection keeps working');

# fragments

$ws->raw(fb(op => 'text', fin => 0, data => 'abc')
    . fb(op => 'ping', data => 'between')
    . fb(op => 'cont', fin => 0, data => 'def')
    . fb(op => 'pong', data => 'also')
    . fb(op => 'cont', fin => 1, data => 'ghi'));
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['pong', 'between'],
    'a ping between fragments is answered at once');
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}, $f->{fin}], ['text', 'abcdefghi', 1],
    'then the fragments are echoed as one reassembled message');

$ws->raw(fb(op => 'binary', fin => 0, data => "\x00")
    . fb(op => 'cont', fin => 0, data => '')
    . fb(op => 'cont', fin => 1, data => "\x01"));
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['binary', "\x00\x01"],
    'a fragmented binary message with an empty fragment is echoed');

$ws->raw(fb(op => 'text', fin => 0, data => "\xe2")
    . fb(op => 'cont', fin => 0, data => "\x82")
    . fb(op => 'cont', fin => 1, data => "\xac!"));
$f = $ws->recv_frame;
is($f->{data}, "\xe2\x82\xac!",
    'a valid character split across three fragments is fine');

$ws->raw(fb(op => 'text', fin => 0, data => "\xf0\x9f")
    . fb(op => 'cont', fin => 1, data => "\x98\x80"));
$f = $ws->recv_frame;
is($f->{data}, "\xf0\x9f\x98\x80", 'so is a 4-byte character split in two');

# several frames in one write, one frame byte by byte

$ws->raw(join '', map { fb(op => 'text', data => "m$_") } 1 .. 200);
my @got;
while (@got < 200) {
    $f = $ws->recv_frame(15) or last;
    push @got, $f->{data};
}
is_deeply(\@got, [map { "m$_" } 1 .. 200],
    '200 frames in one write are all echoed, in order');

setsockopt($ws->{s}, IPPROTO_TCP, TCP_NODELAY, 1);
my $bytes = fb(op => 'text', data => 'one byte at a time');
for my $i (0 .. length($bytes) - 1) {
    $ws->raw(substr($bytes, $i, 1));
    $ws->wait_read;
}
$f = $ws->recv_frame;
is($f && $f->{data}, 'one byte at a time',
    'a frame sent one byte per write is echoed');

my $big = join '', map { chr int rand 256 } 1 .. 200 * 1024;
$ws->send_binary($big);
$f = $ws->recv_frame(5);
ok($f && $f->{op} eq 'binary' && $f->{data} eq $big,
    'a 200 KB binary message is echoed intact');

my $big16 = 'y' x 70000;
$ws->raw(fb(op => 'text', fin => 0, data => $big16)
    . fb(op => 'cont', data => $big16));
$f = $ws->recv_frame(5);
ok($f && $f->{data} eq $big16 x 2,
    'a message of two 70000-byte fragments is echoed intact');

# the closing handshake

$ws->send_close(1000, 'bye');
$f = $ws->recv_frame;
is($f->{op}, 'close', 'a client close is answered with a close');
is($f->{code}, 1000, 'with the same code 1000');
ok($ws->wait_eof(1), 'and the server closes the TCP connection');

$ws = echo();
$ws->send_frame(op => 'close');
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['close', ''],
    'a close without payload is answered with an empty close');
ok($ws->wait_eof(1), 'and the TCP connection is closed');

for my $code (1001, 1003, 1011, 3000, 4999) {
    $ws = echo();
    $ws->send_close($code, 'reason');
    is(close_code($ws), $code, "a close with code $code is echoed");
    $ws->close_socket;
}

$ws = echo();
$ws->raw(fb(op => 'close', data => pack('n', 1000))
    . fb(op => 'text', data => 'after the close'));
$f = $ws->recv_frame;
is($f->{op}, 'close', 'data after a close frame is not echoed');
ok($ws->wait_eof(1), 'and the connection ends');

for my $code (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535) {
    is(closes_with(fb(op => 'close', data => pack('n', $code))), 1002,
        "the invalid close code $code gets close 1002");
}
is(closes_with(fb(op => 'close', data => "\x03")), 1002,
    'a close payload of one byte gets 1002');
is(closes_with(fb(op => 'close', data => pack('n', 1000) . "\xff")), 1002,
    'a close reason that is not UTF-8 gets 1002');

# frame rules: 1002

is(closes_with(fb(op => 'text', data => 'hi', mask => 0)), 1002,
    'an unmasked client frame gets close 1002');
for my $rsv (1, 2, 4, 7) {
    is(closes_with(fb(op => 'text', data => 'hi', rsv => $rsv)), 1002,
        "RSV bits $rsv get close 1002");
}
for my $op (3 .. 7, 11 .. 15) {
    is(closes_with(fb(op => $op, data => 'hi')), 1002,
        "the reserved opcode $op gets close 1002");
}
for my $op ('ping', 'pong', 'close') {
    is(closes_with(fb(op => $op, data => pack('n', 1000) . 'z' x 124)), 1002,
        "a $op frame of 126 bytes gets close 1002");
}
is(closes_with(fb(op => 'ping', fin => 0, data => 'p')), 1002,
    'a fragmented ping gets close 1002');
is(closes_with(fb(op => 'text', fin => 0, data => 'a')
        . fb(op => 'ping', fin => 0, data => 'p')), 1002,
    'a fragmented ping inside a fragmented message gets close 1002');
is(closes_with(fb(op => 'cont', data => 'orphan')), 1002,
    'a continuation frame without a message gets close 1002');
is(closes_with(fb(op => 'text', data => 'done')
        . fb(op => 'cont', data => 'late')), 1002,
    'a continuation after a complete message gets close 1002');
is(closes_with(fb(op => 'text', fin => 0, data => 'a')
        . fb(op => 'text', data => 'b')), 1002,
    'a new text message inside a fragmented one gets close 1002');
is(closes_with(fb(op => 'text', fin => 0, data => 'a')
        . fb(op => 'binary', data => 'b')), 1002,
    'a new binary message inside a fragmented one gets close 1002');

my $high = chr(0x82) . chr(0x80 | 127) . pack('NN', 0x80000000, 0)
    . 'mask';
is(closes_with($high), 1002,
    'a 64-bit length with the top bit set gets close 1002');

# UTF-8: 1007

is(closes_with(fb(op => 'text', data => "ok \xff")), 1007,
    'invalid UTF-8 in a text message gets close 1007');
is(closes_with(fb(op => 'text', data => "\xc0\xaf")), 1007,
    'an overlong UTF-8 form gets close 1007');
is(closes_with(fb(op => 'text', data => "\xed\xa0\x80")), 1007,
    'a UTF-16 surrogate in UTF-8 gets close 1007');
is(closes_with(fb(op => 'text', data => "\xf4\x90\x80\x80")), 1007,
    'a code point above U+10FFFF gets close 1007');
is(closes_with(fb(op => 'text', data => "ends in \xe2\x82")), 1007,
    'a text message that ends inside a character gets close 1007');
is(closes_with(fb(op => 'text', fin => 0, data => "a\xe2\x82")
        . fb(op => 'cont', data => '(')), 1007,
    'a bad sequence split across two fragments gets close 1007');
$ws = echo();
$ws->raw(fb(op => 'text', fin => 0, data => "a\xe2")
    . fb(op => 'cont', fin => 0, data => "\x82"));
is(close_code($ws, 0.3), 'timeout',
    'fragments that end inside a character are not judged yet');
$ws->raw(fb(op => 'cont', data => "\xac"));
$f = $ws->recv_frame;
is($f->{data}, "a\xe2\x82\xac", 'and the message is fine once it is complete');
$ws->close_socket;

$ws = echo();
$ws->raw(fb(op => 'binary', data => "\xff\xfe"));
$f = $ws->recv_frame;
is($f->{data}, "\xff\xfe", 'a binary message need not be UTF-8');
$ws->close_socket;

# the payload limit: 1009

$ws = echo(path => '/small');
$ws->send_text('x' x 1000);
$f = $ws->recv_frame;
is(length($f->{data}), 1000, 'a message of exactly noom_max_payload passes');
$ws->raw(fb(op => 'text', fin => 0, data => 'x' x 500)
    . fb(op => 'cont', data => 'x' x 500));
$f = $ws->recv_frame;
is(length($f->{data}), 1000, 'so do two fragments that add up to the limit');
$ws->close_socket;

is(closes_with(fb(op => 'text', data => 'x' x 1001), '/small'), 1009,
    'a message one byte over noom_max_payload gets close 1009');
is(closes_with(fb(op => 'binary', data => 'x' x 1001), '/small'), 1009,
    'a binary message over the limit gets close 1009');
is(closes_with(fb(op => 'text', fin => 0, data => 'x' x 600)
        . fb(op => 'cont', data => 'x' x 600), '/small'), 1009,
    'fragments that only together pass the limit get close 1009');
is(closes_with(fb(op => 'text', fin => 0, data => 'x' x 1000)
        . fb(op => 'cont', fin => 0, data => '')
        . fb(op => 'cont', data => 'x'), '/small'), 1009,
    'a last fragment of one byte over the limit gets close 1009');

$ws = echo(path => '/small');
$ws->raw(fb(op => 'binary', len => 2**62));
is(close_code($ws, 5), 1009,
    'a frame that declares 2^62 bytes gets close 1009, without the bytes '
    . 'being sent');
$ws->close_socket;

$ws = echo();
$ws->raw(fb(op => 'text', len => 1000001));
is(close_code($ws, 2), 1009,
    'the default limit of 1000000 bytes is checked from the header too');
$ws->close_socket;

# frames that came with the handshake

$ws = echo(preload => fb(op => 'text', data => 'early')
    . fb(op => 'ping', data => 'early ping'));
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['text', 'early'],
    'a frame sent together with the handshake is echoed');
$f = $ws->recv_frame;
is_deeply([$f->{op}, $f->{data}], ['pong', 'early ping'],
    'and a ping sent with it is answered');
$ws->close_socket;

$ws = echo(preload => fb(op => 'text', data => 'x', mask => 0));
is(close_code($ws), 1002,
    'a bad frame sent with the handshake gets close 1002');
$ws->close_socket;

# after a protocol error the connection ends

$ws = echo(path => '/quick');
$ws->send_frame(op => 'text', data => 'x', mask => 0);
my $t0 = time;
is(close_code($ws), 1002, 'a client that does not answer the close gets 1002');
ok($ws->wait_eof(10), 'and its TCP connection is closed');
my $took = time - $t0;

# a timer never fires early by more than nginx's cached time lags (a few
# ms): a lower bound only, no upper one (a busy machine is slow, not wrong)
ok($took > 0.25, 'by noom_close_timeout 500ms, not at once')
    or diag "took $took s";

$ws = echo();
$ws->send_frame(op => 'text', data => 'x', mask => 0);
is(close_code($ws), 1002, 'a client that answers the close gets 1002');
$ws->send_close(1002);
ok($ws->wait_eof(5), 'the server closes the TCP connection once the '
    . 'client answers the close');
$ws->close_socket;

# the close codes of a noom_rooms location

my $sio = Noom::SIO->connect($t, path => '/ws/?EIO=4&transport=websocket',
    nsp => undef);
$sio->send_binary("\x01\x02");
is(close_code($sio), 1008,
    'a binary message nobody announced on a Socket.IO connection gets 1008');
$sio->close_socket;

$sio = Noom::SIO->connect($t, path => '/ws/?EIO=4&transport=websocket');
$sio->send_binary("\x01\x02");
is(close_code($sio), 1008, 'also after CONNECT');
$sio->close_socket;

$sio = Noom::SIO->connect($t, path => '/ws/?EIO=4&transport=websocket',
    nsp => undef);
$sio->send_text('abc');
is(close_code($sio), 1008, 'an invalid Engine.IO packet gets 1008');
like($sio->{last_close}{reason}, qr/\S/, 'with a reason');
$sio->close_socket;

$sio = Noom::SIO->connect($t, path => '/ws/?EIO=4&transport=websocket',
    nsp => undef);
$sio->send_frame(op => 'text', data => '40', mask => 0);
is(close_code($sio), 1002,
    'an unmasked frame on a Socket.IO connection gets 1002');
$sio->close_socket;

$sio = Noom::SIO->connect($t, path => '/ws/?EIO=4&transport=websocket',
    nsp => undef);
$sio->send_text('4' . 'x' x 1000000);
is(close_code($sio), 1009,
    'a message over maxPayload on a Socket.IO connection gets 1009');
$sio->close_socket;

my $plain = Noom::WS->connect($t, path => '/');
is($plain->status, 101, 'an upgrade without EIO opens the plain lobby');
$plain->send_binary('bin');
is(close_code($plain), 1003, 'a binary frame in the plain lobby gets 1003');
$plain->close_socket;

$plain = Noom::WS->connect($t, path => '/');
$plain->send_text('not json');
is(close_code($plain), 1007, 'text that is not JSON in the lobby gets 1007');
$plain->close_socket;

$plain = Noom::WS->connect($t, path => '/');
$plain->send_text('{"type":"dance","payload":"x"}');
is(close_code($plain), 1008, 'an unknown lobby type gets 1008');
$plain->close_socket;

$t->done;
