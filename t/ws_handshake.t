#!/usr/bin/perl

# The WebSocket handshake and the Engine.IO request checks: the 101 and its
# headers, every refused handshake with its status, allowed origins, the
# Engine.IO query errors as JSON, static files next to the WebSocket, and
# configuration errors that name the directive and its line.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Digest::SHA qw(sha1);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time);
use Noom::Test;

my $CONF = <<'EOF';
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { noom_rooms; root html; }
        location /ws { noom_rooms; }
        location /echo { noom_protocol_test websocket; }
        location /strict {
            noom_rooms;
            noom_allowed_origins https://good.example http://other.example;
        }
    }
}
EOF

my $t = Noom::Test->new(workers => 2);
$t->write_conf($CONF);
$t->write_file('html/index.html', "<p>noom static page</p>\n");

$t->run;

# the nginx that request() talks to
our $srv = $t;

my $EIO = '/ws/?EIO=4&transport=websocket';

sub accept_for {
    my ($key) = @_;
    return encode_base64(
        sha1($key . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '');
}

sub random_key {
    return encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
}

# one raw request on a fresh connection: (status, {headers}, body, head),
# the body read as far as Content-Length says (a 101 has none, nor has
# the answer to HEAD)
sub request {
    my ($raw) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $srv->port, Proto => 'tcp') or die "connect: $!";
    binmode $s;
    syswrite($s, $raw);
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $t0 = time;
    my ($head, $body, %h, $status);
    while (time - $t0 < 5) {
        if (!defined $head && $buf =~ /\r\n\r\n/) {
            ($head, $body) = split /\r\n\r\n/, $buf, 2;
            ($status) = $head =~ m{^HTTP/1\.[01] (\d+)};
            for (split /\r\n/, $head) {
                $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
            }
        }
        if (defined $head) {
            last if $status == 101 || $raw =~ /^HEAD /;
            last if defined $h{'content-length'}
                && length $body >= $h{'content-length'};
        }
        last unless $sel->can_read(5 - (time - $t0));
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
        $body .= $chunk if defined $head;
    }
    close $s;
    return ($status // 0, \%h, $body // '', $head // '');
}

# a WebSocket upgrade request with these headers changed: a header given
# as undef is left out, extra ones are added at the end
sub upgrade {
    my (%o) = @_;
    my $path = delete $o{path} // $EIO;
    my $line = delete $o{line} // "GET $path HTTP/1.1";
    my $body = delete $o{body} // '';
    my @order = ('Host', 'Upgrade', 'Connection', 'Sec-WebSocket-Key',
        'Sec-WebSocket-Version');
    my %h = (
        Host => '127.0.0.1',
        Upgrade => 'websocket',
        Connection => 'Upgrade',
        'Sec-WebSocket-Key' => random_key(),
        'Sec-WebSocket-Version' => '13',
    );
    my @extra = @{ delete $o{extra} // [] };
    for (keys %o) {
        die "unknown header $_" unless exists $h{$_};
        $h{$_} = $o{$_};
    }
    my $req = "$line\r\n";
    $req .= "$_: $h{$_}\r\n" for grep { defined $h{$_} } @order;
    $req .= "$_\r\n" for @extra;
    return request("$req\r\n$body");
}

# the 101

my $key = random_key();
my ($st, $h, $body, $head) = upgrade('Sec-WebSocket-Key' => $key);

is($st, 101, 'a well-formed upgrade gets 101');
like($head, qr{^HTTP/1\.1 101 Switching Protocols\r\n},
    'the status line is "101 Switching Protocols"');
is($h->{'sec-websocket-accept'}, accept_for($key),
    'Sec-WebSocket-Accept is base64(SHA-1(key + GUID))');
is(lc($h->{upgrade} // ''), 'websocket', 'the 101 says Upgrade: websocket');
is(lc($h->{connection} // ''), 'upgrade', 'the 101 says Connection: upgrade');
ok(!exists $h->{'content-length'}, 'the 101 has no Content-Length');
ok(!exists $h->{'transfer-encoding'}, 'the 101 has no Transfer-Encoding');
ok(!exists $h->{'sec-websocket-protocol'}, 'no subprotocol is chosen');
ok(!exists $h->{'sec-websocket-extensions'}, 'no extension is negotiated');

# the same key from RFC 6455 section 1.3
my $rfc = Noom::WS->connect($t, path => $EIO,
    key => 'dGhlIHNhbXBsZSBub25jZQ==');
is($rfc->header('Sec-WebSocket-Accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    'the accept value of the RFC example is the one the RFC gives');
my $f = $rfc->recv_frame(15);
like($f && $f->{data}, qr/^0\{"sid"/,
    'the first frame after the 101 is the Engine.IO open packet');
$rfc->close_socket;

($st) = upgrade(Connection => 'keep-alive, Upgrade');
is($st, 101, 'Connection: keep-alive, Upgrade is accepted');
($st) = upgrade(Connection => 'UPGRADE', Upgrade => 'WebSocket');
is($st, 101, 'the upgrade tokens are case-insensitive');
($st) = upgrade(extra => ['Sec-WebSocket-Extensions: permessage-deflate']);
is($st, 101, 'an offered extension does not stop the upgrade');

# refused handshakes

($st) = upgrade(line => "POST $EIO HTTP/1.1");
is($st, 405, 'a POST upgrade gets 405');
($st) = upgrade(line => "PUT /echo HTTP/1.1", path => '/echo');
is($st, 405, 'a PUT upgrade on the echo location gets 405');

($st) = upgrade(line => "HEAD $EIO HTTP/1.1");
is($st, 405, 'a HEAD upgrade gets 405');

($st) = upgrade(line => "GET $EIO HTTP/1.0");
is($st, 400, 'an HTTP/1.0 upgrade gets 400');

($st, $h, $body) = upgrade(Upgrade => undef);
is($st, 400, 'an Engine.IO request without Upgrade gets 400');
is_deeply(eval { decode_json($body) }, { code => 3, message => 'Bad request' },
    'with the Engine.IO "Bad request" body');

($st) = upgrade(Upgrade => 'h2c');
is($st, 400, 'Upgrade: h2c gets 400');
($st) = upgrade(Connection => 'keep-alive');
is($st, 400, 'a Connection header without the upgrade token gets 400');
($st) = upgrade(Connection => undef);
is($st, 400, 'no Connection header at all gets 400');
($st) = upgrade(Connection => 'upgrades');
is($st, 400, 'a token that only starts with "upgrade" is not "upgrade"');

($st) = upgrade(extra => ['Sec-WebSocket-Key: ' . random_key()]);
is($st, 400, 'two Sec-WebSocket-Key headers get 400');
($st) = upgrade('Sec-WebSocket-Key' => undef);
is($st, 400, 'no Sec-WebSocket-Key gets 400');
($st) = upgrade('Sec-WebSocket-Key' => encode_base64('short', ''));
is($st, 400, 'a key that is not 16 bytes gets 400');
($st) = upgrade('Sec-WebSocket-Key' => '!!!!!!!!!!!!!!!!!!!!!!==');
is($st, 400, 'a key that is not base64 gets 400');
($st) = upgrade('Sec-WebSocket-Key'
    => encode_base64('x' x 17, ''));
is($st, 400, 'a key of 17 bytes gets 400');

($st) = upgrade(extra => ['Content-Length: 5'], body => 'hello');
is($st, 400, 'an upgrade with a request body gets 400');
($st) = upgrade(extra => ['Content-Length: 0']);
is($st, 101, 'Content-Length: 0 is no body: 101');
($st) = upgrade(extra => ['Transfer-Encoding: chunked'],
    body => "5\r\nhello\r\n0\r\n\r\n");
is($st, 400, 'an upgrade with a chunked body gets 400');

# the same checks on the plain lobby and the echo location

($st) = upgrade(path => '/', Connection => 'keep-alive');
is($st, 400, 'the plain lobby refuses a Connection without upgrade');
($st) = upgrade(path => '/');
is($st, 101, 'the plain lobby upgrades a well-formed request');

# origins

($st) = upgrade(path => '/strict?EIO=4&transport=websocket',
    extra => ['Origin: https://evil.example']);
is($st, 403, 'an Origin not in noom_allowed_origins gets 403');
($st) = upgrade(path => '/strict?EIO=4&transport=websocket',
    extra => ['Origin: https://good.example']);
is($st, 101, 'an allowed Origin gets 101');
($st) = upgrade(path => '/strict?EIO=4&transport=websocket',
    extra => ['Origin: http://other.example']);
is($st, 101, 'the second allowed Origin gets 101 too');
($st) = upgrade(path => '/strict?EIO=4&transport=websocket',
    extra => ['Origin: https://good.example.evil.example']);
is($st, 403, 'an Origin that only starts with an allowed one gets 403');
($st) = upgrade(path => '/strict?EIO=4&transport=websocket',
    extra => ['Origin: http://good.example']);
is($st, 403, 'the allowed host with another scheme gets 403');
($st) = upgrade(path => '/strict?EIO=4&transport=websocket');
is($st, 101, 'a request without Origin gets 101');
($st) = upgrade(path => '/strict');
is($st, 101, 'the plain lobby of that location upgrades without Origin');
($st) = upgrade(path => '/strict', extra => ['Origin: https://evil.example']);
is($st, 403, 'and refuses a bad Origin with 403');
($st) = upgrade(extra => ['Origin: https://evil.example']);
is($st, 101, 'a location without noom_allowed_origins takes any Origin');

# Engine.IO query errors

sub eio_error {
    my ($uri, @headers) = @_;
    my ($st, $h, $body) = @headers
        ? upgrade(path => $uri, @headers) : $t->get($uri);
    return ($st, $h->{'content-type'}, eval { decode_json($body) });
}

my ($ct, $json);

($st, $ct, $json) = eio_error('/ws/?EIO=3&transport=websocket',
    Upgrade => 'websocket');
is($st, 400, 'EIO=3 gets 400');
is_deeply($json, { code => 5, message => 'Unsupported protocol version' },
    'EIO=3 gets code 5 "Unsupported protocol version"');
like($ct // '', qr{^application/json}, 'the error is application/json');

($st, undef, $json) = eio_error('/ws/?EIO=5&transport=websocket');
is_deeply([$st, $json],
    [400, { code => 5, message => 'Unsupported protocol version' }],
    'EIO=5 gets 400 code 5');
($st, undef, $json) = eio_error('/ws/?EIO=&transport=websocket');
is_deeply([$st, $json],
    [400, { code => 5, message => 'Unsupported protocol version' }],
    'an empty EIO gets 400 code 5');

($st, $ct, $body) = $t->get('/ws/?EIO=4&transport=polling');
is($st, 200, 'transport=polling opens a session (t/eio_polling.t has more)');
like($body, qr/^0\{"sid":"[\w-]{20}","upgrades":\["websocket"\]/,
    'its open packet offers the upgrade');
($st, undef, $body) = $t->get('/ws/?EIO=4&transport=polling&t=Nz5xK2a');
like($body, qr/^0\{"sid"/, 'so does a socket.io-client polling handshake');
($st, undef, $json) = eio_error('/ws/?EIO=4');
is_deeply([$st, $json], [400, { code => 0, message => 'Transport unknown' }],
    'no transport gets code 0');
($st, undef, $json) = eio_error('/ws/?EIO=4&transport=webtransport',
    Upgrade => 'websocket');
is_deeply([$st, $json], [400, { code => 0, message => 'Transport unknown' }],
    'transport=webtransport gets code 0, even as an upgrade');

($st, undef, $json) = eio_error('/ws/?EIO=4&transport=websocket&sid=x',
    Upgrade => 'websocket');
is_deeply([$st, $json], [400, { code => 1, message => 'Session ID unknown' }],
    'sid=x gets 400 code 1 "Session ID unknown"');

($st, undef, $json) = eio_error('/ws/?EIO=4&transport=websocket');
is_deeply([$st, $json], [400, { code => 3, message => 'Bad request' }],
    'transport=websocket without Upgrade gets 400 code 3');

($st) = upgrade(path => '/ws/?transport=websocket&t=1&EIO=4&b64=1');
is($st, 101, 'the query parameters may come in any order, with t and b64');

# static files next to the WebSocket

($st, $h, $body) = $t->get('/');
is($st, 200, 'a plain GET on the noom_rooms location is served by nginx');
is($body, "<p>noom static page</p>\n", 'it is the static index.html');
($st, $h, $body) = $t->get('/index.html');
is($body, "<p>noom static page</p>\n", 'so is /index.html');
($st) = $t->get('/missing.html');
is($st, 404, 'a missing static file is a 404, not a noom answer');

# Sec-WebSocket-Version, on a second nginx whose workers are watched

{
    my $v = Noom::Test->new(workers => 2);
    $v->write_conf($CONF)->run;
    local $srv = $v;
    my @before = $v->worker_pids;

    ($st, $h) = upgrade('Sec-WebSocket-Version' => '8');
    is($st, 426, 'Sec-WebSocket-Version 8 gets 426');
    is($h->{'sec-websocket-version'}, '13',
        'the 426 says Sec-WebSocket-Version: 13');
    ($st, $h) = upgrade('Sec-WebSocket-Version' => undef);
    is($st, 426, 'a missing Sec-WebSocket-Version gets 426');
    is($h->{'sec-websocket-version'}, '13', 'that 426 names version 13 too');
    ($st) = upgrade('Sec-WebSocket-Version' => '13, 8');
    is($st, 426, 'a version list is not exactly 13');
    ($st) = upgrade(path => '/echo', 'Sec-WebSocket-Version' => '8');
    is($st, 426, 'the echo location refuses version 8 with 426');

    ($st) = upgrade();
    is($st, 101, 'a good upgrade still works after the 426s');

    is_deeply([$v->worker_pids], \@before, 'no worker died answering 426');
    $v->stop;
    is($v->alerts, '', 'no alerts in the error log after the 426s');
}

# configuration errors name the directive and the line

# a directive in location /ws, or at the http level if it starts with "http "
sub conf_error {
    my ($directive) = @_;
    my $http = $directive =~ s/^http // ? $directive : '';
    my $loc = $http ? '' : $directive;
    my $c = Noom::Test->new(workers => 2);
    $c->write_conf(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    $http
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws {
            noom_rooms;
            $loc
        }
    }
}
EOF
    my $line = 0;
    my @lines = split /\n/, $c->read_file('conf/nginx.conf');
    for my $i (0 .. $#lines) {
        $line = $i + 1 if index($lines[$i], $directive) >= 0;
    }
    my ($ok, $out) = $c->test_conf;
    return ($ok, $out, $line);
}

for my $case (
    ['noom_ping_interval 0;', 'noom_ping_interval'],
    ['noom_ping_timeout 0ms;', 'noom_ping_timeout'],
    ['noom_max_payload abc;', 'noom_max_payload'],
    ['noom_send_buffer 0;', 'noom_send_buffer'],
    ['noom_close_timeout soon;', 'noom_close_timeout'],
    ['noom_protocol_test foo;', 'noom_protocol_test'],
    ['noom_allowed_origins evil;', 'noom_allowed_origins'],
    ['noom_allowed_origins https://good.example/;', 'noom_allowed_origins'],
    ['noom_worker_header maybe;', 'noom_worker_header'],
    ['http noom_worker_queue 0;', 'noom_worker_queue'],
    ['http noom_worker_queue 1m wait=soon;', 'noom_worker_queue'],
    ['http noom_worker_queue 1m 2s;', 'noom_worker_queue'],
) {
    my ($conf, $name) = @$case;
    my ($ok, $out, $line) = conf_error($conf);
    $conf =~ s/^http //;
    ok(!$ok, "\"$conf\" is refused by nginx -t");
    like($out, qr/\[emerg\].*\Q$name\E.*nginx\.conf:$line\b/,
        "the message for \"$conf\" names $name and nginx.conf:$line");
}

my ($ok, $out) = conf_error('noom_ping_interval 300ms;');
ok($ok, 'a good value passes nginx -t') or diag $out;
($ok, $out) = conf_error('http noom_worker_queue 2m wait=0;');
ok($ok, 'noom_worker_queue 2m wait=0 passes nginx -t') or diag $out;

$t->done;
