#!/usr/bin/perl

# Engine.IO v4 over HTTP long-polling, and the upgrade to a WebSocket, on
# the echo location (noom_protocol_test engine.io) with the official test
# suite's settings: the cases of that suite (handshake, errors, messages
# plain, binary and batched, heartbeat, ping timeout, client close, a GET
# that goes away, the probe and the upgrade, requests and a second
# WebSocket after it), then what the suite does not try: overlapping
# GETs, a body over maxPayload, lying lengths, malformed payloads, CORS,
# HTTP/1.0, and four workers with every request on a new connection,
# where one session is seen served by several of them.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Noom::Test;

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    log_format sid '$pid $request_method $arg_sid $status';
    access_log %%DIR%%/logs/sid.log sid;
    keepalive_timeout 0;
    noom_worker_queue 4m;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /engine.io/ {
            noom_protocol_test engine.io;
            noom_ping_interval 300ms;
            noom_ping_timeout 200ms;
            noom_worker_header on;
        }
        location /calm/ {
            noom_protocol_test engine.io;
            noom_allowed_origins https://good.example;
        }
        location /beat/ {
            noom_protocol_test engine.io;
            noom_ping_interval 300ms;
            noom_ping_timeout 10s;
        }
        location /late/ {
            noom_protocol_test engine.io;
            noom_ping_interval 300ms;
            noom_ping_timeout 20s;
        }
        # a thousand sessions made one by one must all be there at the end,
        # however slow the machine (under a load of 10 making them took
        # longer than 120 s, and than a ping interval and timeout, 45 s)
        location /rooms/ {
            noom_rooms;
            noom_connect_timeout 30m;
            noom_ping_interval 10m;
        }
        location /brief/ { noom_rooms; noom_connect_timeout 200ms; }
        location /status { noom_status; }
    }
}
EOF

# the official suite's heartbeat (300 ms) only where it is tested: a busy
# machine must not turn a slow test into a ping timeout elsewhere
my $E = '/engine.io/?EIO=4&transport=polling';
my $C = '/calm/?EIO=4&transport=polling';

sub handshake {
    my ($loc) = @_;
    my ($st, $h, $body) = $t->req('GET', ($loc // '/engine.io/')
        . '?EIO=4&transport=polling');
    $body =~ /^0(.*)/ or return;
    return decode_json($1)->{sid};
}

# the handshake

my ($st, $h, $body) = $t->req('GET', $E);
is($st, 200, 'handshake: 200');
like($h->{'content-type'}, qr{^text/plain; charset=UTF-8}i,
    'text/plain; charset=UTF-8');
like($body, qr/^0\{/, 'the body is the open packet');
my $open = decode_json(substr($body, 1));
is_deeply([@{$open}{qw(upgrades pingInterval pingTimeout maxPayload)}],
    [['websocket'], 300, 200, 1000000],
    'upgrades ["websocket"], the heartbeat and maxPayload');
is(length $open->{sid}, 20, 'a 20-character sid');

($st, undef, $body) = $t->req('GET', '/engine.io/?EIO=3&transport=polling');
is_deeply([$st, $body], [400,
    '{"code":5,"message":"Unsupported protocol version"}'],
    'EIO=3: unsupported protocol version');
($st, undef, $body) = $t->req('GET', '/engine.io/?EIO=4&transport=carrier');
is_deeply([$st, $body], [400, '{"code":0,"message":"Transport unknown"}'],
    'an unknown transport');
($st, undef, $body) = $t->req('POST', $E, '40');
is_deeply([$st, $body], [400,
    '{"code":2,"message":"Bad handshake method"}'],
    'a handshake must be a GET');
($st, undef, $body) = $t->req('PUT', $E, '40');
is($st, 400, 'a PUT handshake too');
($st, undef, $body) = $t->req('GET', "$E&sid=AAAAAAAAAAAAAAAAAAAA");
is_deeply([$st, $body], [400, '{"code":1,"message":"Session ID unknown"}'],
    'an unknown sid on a live worker');
($st, undef, $body) = $t->req('GET', "$E&sid=_____AAAAAAAAAAAAAAA");
is($st, 400, 'a sid naming no worker');
($st, undef, $body) = $t->req('GET', "$E&sid=short");
is($st, 400, 'a sid of the wrong length');

# messages

my $sid = handshake('/calm/');
($st, undef, $body) = $t->req('POST', "$C&sid=$sid", '4hello');
is_deeply([$st, $body], [200, 'ok'], 'a POST is answered ok');
($st, undef, $body) = $t->req('GET', "$C&sid=$sid");
is($body, '4hello', 'a plain text message comes back');

($st, undef, $body) = $t->req('POST', "$C&sid=$sid", 'bAQIDBA==');
($st, undef, $body) = $t->req('GET', "$C&sid=$sid");
is($body, 'bAQIDBA==', 'a binary message comes back in base64');

$t->req('POST', "$C&sid=$sid", "4test1\x{1e}4test2\x{1e}4test3");
($st, undef, $body) = $t->req('GET', "$C&sid=$sid");
is($body, "4test1\x{1e}4test2\x{1e}4test3",
    'several messages come back joined by the record separator');

$t->req('POST', "$C&sid=$sid", "4caf\x{c3}\x{a9}");
($st, undef, $body) = $t->req('GET', "$C&sid=$sid");
is($body, "4caf\x{c3}\x{a9}", 'UTF-8 text comes back as it was');

# the heartbeat: the server's ping goes out on a GET (a ping timeout of
# 10 s: on a loaded machine the pong may come seconds after it)

my $B = '/beat/?EIO=4&transport=polling';
$sid = handshake('/beat/');

for my $i (1 .. 2) {
    ($st, undef, $body) = $t->req('GET', "$B&sid=$sid");
    is($body, '2', "ping $i comes on a GET");
    ($st, undef, $body) = $t->req('POST', "$B&sid=$sid", '3');
    is($body, 'ok', "pong $i is taken");
}

# no pong: the session ends after pingInterval + pingTimeout (20 s, so that
# the GET after the ping is surely waiting when it ends: under prove -j8 the
# test's own process once took more than 2 s to send it, and once more
# than 8 s, and got 400 for a session already over)

my $L = '/late/?EIO=4&transport=polling';
$sid = handshake('/late/');
($st, undef, $body) = $t->req('GET', "$L&sid=$sid");
is($body, '2', 'a ping');
($st, undef, $body) = $t->read_resp($t->send_req('GET', "$L&sid=$sid"), 30);
is($body, '1', 'unanswered, the next GET gets a close packet');
($st, undef, $body) = $t->req('GET', "$L&sid=$sid");
is($st, 400, 'and the session is gone');

# the client's close packet: the waiting GET gets a noop

$sid = handshake('/calm/');
my $get = $t->send_req('GET', "$C&sid=$sid");
wait_parked();
($st, undef, $body) = $t->req('POST', "$C&sid=$sid", '1');
is($body, 'ok', 'the close packet is taken');
($st, undef, $body) = $t->read_resp($get);
is_deeply([$st, $body], [200, '6'], 'the waiting GET gets a noop');
($st) = $t->req('GET', "$C&sid=$sid");
is($st, 400, 'and the session is gone');

# a GET that goes away ends the session

$sid = handshake('/calm/');
$get = $t->send_req('GET', "$C&sid=$sid");
wait_parked();
my $from = length $t->error_log;
close $get;
# the worker that took the GET sees it go (nginx's line), or tells the
# session's owner, which says so
ok($t->wait_until(sub {
    substr($t->error_log, $from) =~ /client prematurely closed connection, (?#
        ).*"GET [^"]*sid=\Q$sid\E |the client closed its polling request/
}, "the error log says the GET of $sid went"), 'the GET\'s close is seen');
($st) = $t->req('GET', "$C&sid=$sid");
is($st, 400, 'a cancelled GET ends the session');

# two GETs at once end the session: the first gets a close packet

$sid = handshake('/calm/');
$get = $t->send_req('GET', "$C&sid=$sid");
wait_parked();
($st, undef, $body) = $t->req('GET', "$C&sid=$sid");
is_deeply([$st, $body], [400, '{"code":3,"message":"Bad request"}'],
    'a second concurrent GET is refused');
($st, undef, $body) = $t->read_resp($get);
is($body, '1', 'the first one gets a close packet');
($st) = $t->req('POST', "$C&sid=$sid", '4x');
is($st, 400, 'and the session is gone');

# bodies over maxPayload, lying lengths, malformed payloads

$sid = handshake('/calm/');
($st) = $t->req('POST', "$C&sid=$sid", '4' . ('x' x 1000001));
is($st, 413, 'a body over maxPayload: 413');
($st) = $t->req('GET', "$C&sid=$sid");
is($st, 400, 'and the session is closed');

$sid = handshake('/calm/');
my $s = $t->send_req('POST', "$C&sid=$sid", undef, 'Content-Length: 2000000');
($st) = $t->read_resp($s);
is($st, 413, 'a length over maxPayload is refused before any is read');

$sid = handshake('/calm/');
$s = $t->send_req('POST', "$C&sid=$sid", undef, 'Content-Length: 100');
print $s '4short';
shutdown $s, 1;
($st) = $t->read_resp($s);
isnt($st, 200, 'a body shorter than its length is not taken');

for my $bad ("4a\x{1e}\x{1e}4b", "b!!!!", "4\x{ff}\x{fe}", "9", "2") {
    $sid = handshake('/calm/');
    $t->req('POST', "$C&sid=$sid", $bad);
    ($st, undef, $body) = $t->req('GET', "$C&sid=$sid");
    ok($st == 400 || $body =~ /(^|\x{1e})1$/,
        'a malformed payload ends its session: ' . quotemeta($bad));
}

# the upgrade to a WebSocket, on whatever worker it lands

for my $round (1 .. 3) {
    $sid = handshake('/calm/');
    $get = $t->send_req('GET', "$C&sid=$sid");
    wait_parked();

    my $ws = Noom::WS->connect($t,
        path => "/calm/?EIO=4&transport=websocket&sid=$sid");
    is($ws->status, 101, "upgrade $round: the WebSocket is accepted");
    $ws->send_text('2probe');
    my $f = $ws->recv_frame(15);
    is($f && $f->{data}, '3probe', "upgrade $round: 3probe");
    ($st, undef, $body) = $t->read_resp($get);
    is($body, '6', "upgrade $round: the waiting GET gets a noop");

    $t->req('POST', "$C&sid=$sid", '4before');
    $ws->send_text('5');
    $f = next_text($ws);
    is($f, '4before', "upgrade $round: what was sent before comes on the "
        . 'WebSocket');
    $ws->send_text('4after');
    is(next_text($ws), '4after', "upgrade $round: messages echo on it");
    $ws->send_binary("\x01\x02");
    $f = next_frame($ws);
    is_deeply([$f->{op}, $f->{data}], ['binary', "\x01\x02"],
        "upgrade $round: binary too");

    ($st, undef, $body) = $t->req('GET', "$C&sid=$sid");
    is($st, 400, "upgrade $round: a GET after the upgrade is refused");
    ($st) = $t->req('POST', "$C&sid=$sid", '4x');
    is($st, 400, "upgrade $round: a POST too");

    my $ws2 = Noom::WS->connect($t,
        path => "/calm/?EIO=4&transport=websocket&sid=$sid");
    ok($ws2->wait_close(15) || $ws2->wait_eof(15),
        "upgrade $round: a second WebSocket for the sid is closed");

    $ws->send_text('4still');
    is(next_text($ws), '4still', "upgrade $round: the first goes on");
    $ws->close_socket;
}

# the heartbeat goes on over the upgraded WebSocket, and ends it unanswered

# (the ping timeout of 10 s: a loaded machine may read a ping seconds late)
$sid = handshake('/beat/');
my $ws = Noom::WS->connect($t,
    path => "/beat/?EIO=4&transport=websocket&sid=$sid");
$ws->send_text('2probe');
$ws->recv_frame(15);
$ws->send_text('5');
my $f = $ws->recv_frame(15);
is($f && $f->{data}, '2', 'the session pings on its WebSocket');
$ws->send_text('3');
$f = $ws->recv_frame(15);
is($f && $f->{data}, '2', 'and again after a pong');
ok(defined $ws->wait_close(30), 'and closes the WebSocket without a pong');

# a WebSocket for an unknown session

$ws = Noom::WS->connect($t,
    path => "/engine.io/?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA");
ok($ws->status != 101 || defined $ws->wait_close(15) || $ws->wait_eof(15),
    'a WebSocket for an unknown sid is closed');

# CORS

($st, $h) = $t->req('GET', '/calm/?EIO=4&transport=polling',
    undef, 'Origin: https://good.example');
is($h->{'access-control-allow-origin'}, 'https://good.example',
    'an allowed origin is echoed');
is($h->{'access-control-allow-credentials'}, 'true', 'with credentials');
($st, $h) = $t->req('OPTIONS', '/calm/?EIO=4&transport=polling&sid=x',
    undef, 'Origin: https://good.example',
    'Access-Control-Request-Headers: content-type');
is($st, 204, 'the preflight is answered');
like($h->{'access-control-allow-methods'}, qr/POST/, 'POST is allowed');
is($h->{'access-control-allow-headers'}, 'content-type',
    'the asked headers too');
($st, undef, $body) = $t->req('GET', '/calm/?EIO=4&transport=polling',
    undef, 'Origin: https://evil.example');
is_deeply([$st, $body], [403, '{"code":4,"message":"Forbidden"}'],
    'another origin is forbidden');
($st, $h) = $t->req('GET', $E);
ok(!exists $h->{'access-control-allow-origin'},
    'no CORS headers without an Origin');

# HTTP/1.0

{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port, Proto => 'tcp') or die;
    print $s "GET $E HTTP/1.0\r\n\r\n";
    my ($st, undef, $body) = $t->read_resp($s);
    like($body, qr/^0\{"sid"/, 'HTTP/1.0 gets the open packet');
}

# one session, many workers

$sid = handshake('/calm/');
for (1 .. 12) {
    $t->req('POST', "/calm/?EIO=4&transport=polling&sid=$sid", "4m$_");
    my ($st, undef, $body) = $t->req('GET',
        "/calm/?EIO=4&transport=polling&sid=$sid");
    last if $body ne "4m$_";
}
my %pids;
for (split /\n/, $t->read_file('logs/sid.log')) {
    my ($pid, $m, $s, $code) = split / /;
    $pids{$pid}++ if $s eq $sid && $code == 200;
}
cmp_ok(scalar keys %pids, '>', 1,
    'the requests of one session were served by '
    . scalar(keys %pids) . ' workers (nginx\'s access log)');
($st, undef, $body) = $t->req('POST', "/calm/?EIO=4&transport=polling&sid=$sid",
    '4last');
($st, undef, $body) = $t->req('GET', "/calm/?EIO=4&transport=polling&sid=$sid");
is($body, '4last', 'and every echo came back in order');

# a thousand sessions that never CONNECT are held without disturbing
# anyone, and such sessions end at noom_connect_timeout

my $before = $t->status_json->{polling};
for (1 .. 1000) {
    $t->req('GET', '/rooms/?EIO=4&transport=polling');
}
# (sessions of earlier cases may end meanwhile, by their ping timeout)
cmp_ok($t->status_json->{polling}, '>=', $before + 990,
    'a thousand half-open sessions are held');
$sid = handshake('/calm/');
$t->req('POST', "$C&sid=$sid", '4busy');
($st, undef, $body) = $t->req('GET', "$C&sid=$sid");
is($body, '4busy', 'another session is served meanwhile');

my $held = $t->status_json->{polling};
for (1 .. 50) {
    $t->req('GET', '/brief/?EIO=4&transport=polling');
}
my $left;
$t->wait_until(sub { ($left = $t->status_json->{polling}) <= $held },
    "the status counts $held polling sessions at most", 20);
cmp_ok($left, '<=', $held, 'sessions that never CONNECT end at the '
    . 'connect timeout');

my $status = $t->status_json;
cmp_ok($status->{polling_requests}, '>', 50, 'polling requests are counted');
cmp_ok($status->{upgrades}, '>=', 4, 'upgrades are counted');

$t->done;

# helpers

# until the session's GET waits at its owner, which may be another
# worker than the one that took it: the owner counts it in the zone
sub wait_parked {
    return $t->wait_until(sub { $t->status_json->{polling_waiting} },
        'the status counts a waiting GET');
}

sub next_frame {
    my ($ws) = @_;
    for (;;) {
        my $f = $ws->recv_frame(15) or return {};
        if ($f->{op} eq 'text' && $f->{data} eq '2') {
            $ws->send_text('3');
            next;
        }
        return $f;
    }
}

sub next_text { my $f = next_frame($_[0]); return $f->{data} }
