#!/usr/bin/perl

# Socket.IO v5 on the location that plays the reference server of the
# official Socket.IO test suite (noom_protocol_test socket.io), with that
# suite's settings: CONNECT with and without auth, the /custom namespace,
# an invalid namespace, the connect timeout, events and acks (id 0 too),
# binary events and acks, DISCONNECT, and every packet that closes.  What
# takes a second or more runs on /calm/, the same with the default heartbeat,
# so that a pong sent late by a busy machine does not end it.

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
        location /socket.io/ {
            noom_protocol_test socket.io;
            noom_ping_interval 300ms;
            noom_ping_timeout 10s;    # a loaded machine answers late
            noom_connect_timeout 1s;
        }
        # the same with the default heartbeat, for what takes long and
        # should not fail for a pong that a busy machine sent late
        location /calm/ {
            noom_protocol_test socket.io;
            noom_connect_timeout 1s;
        }
    }
}
EOF

my $JSON = JSON::PP->new->canonical;

# a fresh connection, its open packet read, no namespace joined
sub sio {
    my ($loc) = @_;
    $loc //= '/socket.io/';
    my $c = Noom::SIO->connect($t, path => "$loc?EIO=4&transport=websocket",
        nsp => undef);
    die "no 101" unless $c->status == 101;
    return $c;
}

# the next frame that is not an Engine.IO ping (pings are answered):
# the text as it came, or [binary bytes], or 'close <code>' / 'eof' /
# 'timeout'
sub next_frame {
    my ($c, $timeout) = @_;
    my $t0 = time;
    $timeout //= 3;
    for (;;) {
        my $f = $c->recv_frame($timeout - (time - $t0));
        return 'timeout' unless $f;
        return 'eof' if $f->{op} eq 'eof';
        return 'close ' . ($f->{code} // '') if $f->{op} eq 'close';
        return [$f->{data}] if $f->{op} eq 'binary';
        if ($f->{data} eq '2') {
            $c->send_text('3');
            next;
        }
        return $f->{data};
    }
}

# sends the text; the close code it gets (pings answered meanwhile)
sub closes {
    my ($c, @texts) = @_;
    $c->send_text($_) for @texts;
    for (;;) {
        my $r = next_frame($c, 15);
        next if ref $r;
        if ($r =~ /^close (\d*)/) {
            $c->close_socket;
            return $1;
        }
        next if $r =~ /^4/;
        $c->close_socket;
        return $r;
    }
}

sub json_of {
    my ($s, $prefix) = @_;
    return undef unless defined $s && !ref $s && index($s, $prefix) == 0;
    return eval { decode_json(substr($s, length $prefix)) };
}

# CONNECT to /

my $c = sio();
my $eio_sid = $c->open_packet->{sid};
$c->send_text('40');
my $r = next_frame($c);
like($r, qr/^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/,
    '40 is answered 40{"sid":...} with only the key sid');
my $sid = json_of($r, '40') // {};
isnt($sid->{sid}, $eio_sid, 'the Socket.IO sid is not the Engine.IO sid');
is(next_frame($c), '42["auth",{}]', 'then comes 42["auth",{}]');

# events and acks

$c->send_text('42["message",1,"2",{"3":[true]}]');
is(next_frame($c), '42["message-back",1,"2",{"3":[true]}]',
    'message is answered with message-back and the same arguments');
$c->send_text('42456["message-with-ack",1,"2"]');
is(next_frame($c), '43456[1,"2"]',
    '42456["message-with-ack",1,"2"] gets the ack 43456[1,"2"]');
$c->send_text('420["message-with-ack","zero"]');
is(next_frame($c), '430["zero"]', 'the ack id 0 works');
$c->send_text('421["message-with-ack","y",null]');
is(next_frame($c), '431["y",null]', 'null arguments come back as null');
$c->send_text('42999999999999999["message-with-ack"]');
is(next_frame($c), '43999999999999999[]',
    'a 15-digit ack id comes back exactly');
$c->send_text('4200["message-with-ack"]');
is(next_frame($c), '430[]', 'the ack id 00 is the ack id 0');
$c->close_socket;

$c = sio();
$c->send_text('40');
next_frame($c) for 1 .. 2;
$c->send_text('42["message-with-ack",1]');
$c->send_text('42["message","after"]');
is(next_frame($c), '42["message-back","after"]',
    'message-with-ack without an ack id gets no ack');
$c->send_text('42[7,"numbered"]');
$c->send_text('42["message",{"a":0.5,"b":-3,"c":"\u00e9\ud83d\ude00"}]');
my $m = json_of(next_frame($c), '42');
is_deeply($m, ['message-back', { a => 0.5, b => -3, c => "\x{e9}\x{1f600}" }],
    'an event named by a number is accepted and JSON survives the trip');

$c->send_text('42["message",0.1,9223372036854775807,-9223372036854775808]');
$r = next_frame($c);
$m = json_of($r, '42') // [];
ok(@$m == 4 && $m->[1] == 0.1, '0.1 comes back as the same double')
    or diag $r;
like($r, qr/,9223372036854775807,-9223372036854775808\]$/,
    'and 64-bit integers keep their values');

# binary

$c->send_text('452-["message",{"_placeholder":true,"num":0},'
    . '{"_placeholder":true,"num":1}]');
$c->send_binary("\x01\x02\x03");
$c->send_binary("\x04\x05\x06");
$r = next_frame($c);
like($r, qr/^452-\[/, 'a binary event is answered with a binary event');
is_deeply(json_of($r, '452-'), ['message-back',
    { _placeholder => JSON::PP::true, num => 0 },
    { _placeholder => JSON::PP::true, num => 1 }],
    'it is 452-["message-back",<placeholder 0>,<placeholder 1>]');
is_deeply(next_frame($c), ["\x01\x02\x03"], 'then the first attachment');
is_deeply(next_frame($c), ["\x04\x05\x06"], 'then the second attachment');

$c->send_text('452-789["message-with-ack",{"_placeholder":true,"num":0},'
    . '{"_placeholder":true,"num":1}]');
$c->send_binary("\xff");
$c->send_binary('');
$r = next_frame($c);
like($r, qr/^462-789\[/,
    'a binary message-with-ack is answered 462-789[...]');
is_deeply(json_of($r, '462-789'), [
    { _placeholder => JSON::PP::true, num => 0 },
    { _placeholder => JSON::PP::true, num => 1 }],
    'with the placeholders');
is_deeply(next_frame($c), ["\xff"], 'then its first attachment');
is_deeply(next_frame($c), [''], 'and its empty second attachment');

# DISCONNECT, and a new CONNECT on the same connection

$c->send_text('41');
$r = $c->recv_frame(5);
is($r && $r->{data}, '2', 'after 41 nothing comes but the next ping 2');
$c->send_text('3');
is($c->recv_frame(0.1), undef, 'and nothing right after it either');
$c->send_text('40');
like(next_frame($c), qr/^40\{"sid"/, 'after 41 a new 40 connects again');
is(next_frame($c), '42["auth",{}]', 'with its auth event');

# auth

$c = sio();
$c->send_text('40{"token":"123"}');
like(next_frame($c), qr/^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/,
    '40{"token":"123"} connects');
is(next_frame($c), '42["auth",{"token":"123"}]',
    'and the auth payload comes back in 42["auth",{"token":"123"}]');
$c->close_socket;

# /custom

$c = sio();
$c->send_text('40/custom,{"token":"abc"}');
$r = next_frame($c);
like($r, qr{^40/custom,\{"sid":"[A-Za-z0-9_-]{20}"\}$},
    '40/custom,{"token":"abc"} is answered 40/custom,{"sid":...}');
is(next_frame($c), '42/custom,["auth",{"token":"abc"}]',
    'then 42/custom,["auth",{"token":"abc"}]');
$c->send_text('40');
my $root = next_frame($c);
like($root, qr/^40\{"sid"/, 'the same connection can join / as well');
isnt(json_of($root, '40')->{sid}, json_of($r, '40/custom,')->{sid},
    'with another socket id');
is(next_frame($c), '42["auth",{}]', 'and its auth event');
$c->send_text('41/custom,');
$c->send_text('42["message","still"]');
is(next_frame($c), '42["message-back","still"]',
    'after 41/custom, the namespace / keeps working');
$c->close_socket;

for my $form ('40/custom', '40/custom,') {
    $c = sio();
    $c->send_text($form);
    like(next_frame($c), qr{^40/custom,\{"sid":"[A-Za-z0-9_-]{20}"\}$},
        "$form connects to /custom");
    is(next_frame($c), '42/custom,["auth",{}]', "$form gets an empty auth");
    $c->send_text('41/custom');
    $c->send_text('40/custom');
    like(next_frame($c), qr{^40/custom,\{"sid"}, "after 41/custom, $form "
        . 'can connect again');
    $c->close_socket;
}

# an invalid namespace

$c = sio();
$c->send_text('40/random');
is(next_frame($c), '44/random,{"message":"Invalid namespace"}',
    '40/random gets 44/random,{"message":"Invalid namespace"}');
$c->send_text('40/random,{"token":"x"}');
is(next_frame($c), '44/random,{"message":"Invalid namespace"}',
    'so does 40/random, with a payload');
$c->send_text('40');
like(next_frame($c), qr/^40\{"sid"/,
    'the connection stays and a later 40 works');
$c->close_socket;

# the connect timeout

my $opened = time;     # before the server starts the timer
$c = sio('/calm/');
my $code = closes($c);
my $took = time - $opened;
is($code, 1008, 'without CONNECT the connection is closed with 1008');
ok($took > 0.5, 'by noom_connect_timeout 1s, not at once (a lower '
    . 'bound only)') or diag "closed after $took s";

$c = sio('/calm/');
$c->send_text('40/random');
is(next_frame($c), '44/random,{"message":"Invalid namespace"}',
    'a refused namespace');
$code = closes($c);
is($code, 1008, 'does not stop the connect timeout');

$c = sio('/calm/');
$c->send_text('40');
next_frame($c) for 1 .. 2;
$c->send_text('41');
$r = next_frame($c, 1.5);
is($r, 'timeout', 'after 41 with no namespace left the connection stays');
$c->close_socket;

# packets that close the connection

my @closing = (
    [['4abc'], 'an invalid packet 4abc as the first packet'],
    [['42["message","early"]'], 'an EVENT before CONNECT'],
    [['40{"a"'], 'a CONNECT with broken JSON'],
    [['40[1]'], 'a CONNECT whose payload is not an object'],
    [['40"str"'], 'a CONNECT whose payload is a string'],
    [['401{}'], 'a CONNECT with an ack id'],
    [['40', '4abc'], 'the packet 4abc after CONNECT'],
    [['40', '42{}'], 'an EVENT whose payload is not an array'],
    [['40', '42[]'], 'an EVENT with an empty array'],
    [['40', '42[{}]'], 'an EVENT whose name is an object'],
    [['40', '42[null]'], 'an EVENT whose name is null'],
    [['40', '42'], 'an EVENT without payload'],
    [['40', '42abc["message"]'], 'an EVENT with the ack id abc'],
    [['40', '42["message"'], 'an EVENT with broken JSON'],
    [['40', '42["disconnect"]'], 'the reserved event name disconnect'],
    [['40', '42["connect"]'], 'the reserved event name connect'],
    [['40', '42["connect_error"]'], 'the reserved event name connect_error'],
    [['40', '42["disconnecting"]'], 'the reserved event name disconnecting'],
    [['40', '42["newListener"]'], 'the reserved event name newListener'],
    [['40', '42["removeListener"]'], 'the reserved event name removeListener'],
    [['40', '42/custom,["message"]'], 'an EVENT for a namespace not joined'],
    [['40', '41/custom,'], 'a DISCONNECT for a namespace not joined'],
    [['40', '42/random,["message"]'], 'an EVENT for an unknown namespace'],
    [['40', '40'], 'a second 40'],
    [['40/custom', '40/custom,'], 'a second CONNECT to /custom'],
    [['40', '49'], 'the unknown packet type 9'],
    [['40', '47[]'], 'the unknown packet type 7'],
    [['40', '44{"message":"x"}'], 'a client CONNECT_ERROR'],
    [['40', '43["no id"]'], 'an ACK without an id'],
    [['40', '43{}'], 'an ACK whose payload is not an array'],
    [['40', '4'], 'an empty Socket.IO packet'],
    [['40', '42["message",18446744073709551616]'],
        'an integer beyond 64 bits'],
    [['40', '45-["message"]'], 'a binary event without a count'],
    [['40', '450-["message"]'], 'a binary event with 0 attachments'],
    [['40', '4511-["message"]'], 'a binary event with 11 attachments'],
    [['40', '45x-["message"]'], 'a binary event with the count x'],
    [['40', '452-["message",{"_placeholder":true,"num":0}]', '42["x"]'],
        'a text packet while attachments are due'],
);

for my $case (@closing) {
    my ($texts, $what) = @$case;
    $c = sio();
    is(closes($c, @$texts), 1008, "$what closes with 1008");
}

$c = sio('/calm/');
$c->send_text('40');
next_frame($c) for 1 .. 2;
$c->send_text('452-["message",{"_placeholder":true,"num":0},'
    . '{"_placeholder":true,"num":1}]');
$c->send_binary('a' x 600000);
$c->send_binary('b' x 600000);
is(closes($c), 1009,
    'attachments that together pass maxPayload close with 1009');

$c = sio();
$c->send_text('40');
next_frame($c) for 1 .. 2;
$c->send_binary('stray');
is(closes($c), 1008, 'a binary message nobody announced closes with 1008');

$t->done;
