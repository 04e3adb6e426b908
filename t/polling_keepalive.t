#!/usr/bin/perl

# Polling GETs that wait on HTTP/1.1 keep-alive connections: nginx ends
# the request when it parks (its pool and header buffer are freed) and
# noom writes the answer on the idle connection.  The answer is a whole
# HTTP response with the CORS headers, the connection then carries the
# next request, the heartbeat comes on it, a client that goes away ends
# the session, an answer from another worker arrives the same way,
# answers larger than the socket takes at once are written as it drains
# (and the 800 KB POSTs that make them are read whole, not after their
# request is freed), a waiting GET costs a worker a few kilobytes (it
# was 11 KB as an nginx request), and a reload answers it with a close
# packet.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
worker_rlimit_nofile 4096;
events { worker_connections 2048; }
http {
    %%TEST_GLOBALS_HTTP%%
    log_format st '$request_method $arg_sid $status';
    access_log %%DIR%%/logs/st.log st;
    keepalive_timeout 60s;
    noom_worker_queue 4m;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /eio/ {
            noom_protocol_test engine.io;
            noom_allowed_origins https://good.example;
        }
        location /beat/ {
            noom_protocol_test engine.io;
            noom_ping_interval 300ms;
            noom_ping_timeout 3s;
        }
        location /big/ {
            noom_protocol_test engine.io;
            noom_max_payload 900k;
            noom_send_buffer 2m;
            noom_ping_interval 60s;
        }
        # 600 sessions are made one by one: on a loaded machine that can
        # take longer than a ping interval, and nobody answers the pings
        location /ws { noom_rooms; noom_ping_interval 120s; }
        location /status { noom_status; }
    }
}
EOF

my $E = '/eio/?EIO=4&transport=polling';

# a waiting GET is answered on its keep-alive connection

my $s = $t->ka_conn;
my ($st, $h, $body) = $t->ka($s, 'GET', $E);
my $sid = decode_json(substr($body, 1))->{sid};
ok($sid, 'a handshake on a keep-alive connection');

$t->ka_send($s, 'GET', "$E&sid=$sid", undef, 'Origin: https://good.example');
wait_parked();
my ($st2, undef, $b2) = $t->req('POST', "$E&sid=$sid", '4hello');
is($b2, 'ok', 'a POST on another connection');
($st, $h, $body) = $t->ka_read($s);
is_deeply([$st, $body], [200, '4hello'], 'the waiting GET gets the message');
like($h->{'content-type'}, qr{^text/plain; charset=UTF-8$},
    'as text/plain; charset=UTF-8');
is($h->{'content-length'}, 6, 'with its length');
ok($h->{date} && $h->{server}, 'a Date and a Server header');
is($h->{'access-control-allow-origin'}, 'https://good.example',
    'the allowed origin is echoed');
is($h->{'access-control-allow-credentials'}, 'true', 'with credentials');
is($h->{vary}, 'Origin', 'and Vary: Origin');

$t->ka_send($s, 'GET', "$E&sid=$sid");
wait_parked();
$t->req('POST', "$E&sid=$sid", "4a\x{1e}4b");
($st, $h, $body) = $t->ka_read($s);
is_deeply([$st, $body], [200, "4a\x{1e}4b"],
    'the same connection carries the next GET, and it waits too');
ok(!exists $h->{'access-control-allow-origin'},
    'no CORS headers without an Origin');

($st, undef, $body) = $t->ka($s, 'POST', "$E&sid=$sid", '4c');
is_deeply([$st, $body], [200, 'ok'], 'and then a POST');
($st, undef, $body) = $t->ka($s, 'GET', "$E&sid=$sid");
is($body, '4c', 'and a GET answered at once');

my $log = $t->read_file('logs/st.log');
like($log, qr/^GET $sid 200$/m, 'a waiting GET is in the access log');

# the heartbeat comes on the waiting GET

$s = $t->ka_conn;
(undef, undef, $body) = $t->ka($s, 'GET', '/beat/?EIO=4&transport=polling');
my $bsid = decode_json(substr($body, 1))->{sid};
($st, undef, $body) = $t->ka($s, 'GET',
    "/beat/?EIO=4&transport=polling&sid=$bsid");
is_deeply([$st, $body], [200, '2'], 'the ping comes on the waiting GET');
($st, undef, $body) = $t->ka($s, 'POST',
    "/beat/?EIO=4&transport=polling&sid=$bsid", '3');
is($body, 'ok', 'the pong on the same connection');
close $s;

# a client that goes away while its GET waits ends the session

$s = $t->ka_conn;
(undef, undef, $body) = $t->ka($s, 'GET', $E);
my $gsid = decode_json(substr($body, 1))->{sid};
$t->ka_send($s, 'GET', "$E&sid=$gsid");
wait_parked();
close $s;
ok($t->wait_log(qr/the client closed its polling request/, 5),
    'the owner is told the GET went away');
($st) = $t->req('GET', "$E&sid=$gsid");
is($st, 400, 'and the session is gone');

# the GET waits on one worker, the session lives on the other

$s = $t->ka_conn;
(undef, undef, $body) = $t->ka($s, 'GET', $E);
my $osid = decode_json(substr($body, 1))->{sid};
my ($other, $osid2);
for (1 .. 50) {
    my $c = $t->ka_conn;
    (undef, undef, $body) = $t->ka($c, 'GET', $E);
    $osid2 = decode_json(substr($body, 1))->{sid};
    if (substr($osid2, 0, 3) ne substr($osid, 0, 3)) {
        $other = $c;
        last;
    }
    close $c;
}

SKIP: {
    skip 'every connection went to one worker', 2 unless $other;

    $t->ka_send($other, 'GET', "$E&sid=$osid");
    wait_parked();
    $t->ka($s, 'POST', "$E&sid=$osid", '4far');
    ($st, undef, $body) = $t->ka_read($other);
    is_deeply([$st, $body], [200, '4far'],
        'a GET waiting away from its session gets the answer');
    ($st, undef, $body) = $t->ka($other, 'POST', "$E&sid=$osid2", '4x');
    is_deeply([$st, $body], [200, 'ok'], 'and that connection goes on');
}

# answers larger than the socket takes at once are written as it drains:
# the client reads none of up to 7 answers of 800 KB (more than the
# kernel's largest send buffer, 4 MB by default) until all are asked for

{
    my $B = '/big/?EIO=4&transport=polling';
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port, Proto => 'tcp') or die "connect: $!";
    binmode $c;
    $c->autoflush(1);
    (undef, undef, $body) = $t->ka($c, 'GET', $B);
    my $bsid2 = decode_json(substr($body, 1))->{sid};
    my (@sent, $unread);
    for my $i (1 .. 7) {
        $t->ka_send($c, 'GET', "$B&sid=$bsid2");
        # once the answers fill the socket, nginx reads no further GET
        unless (wait_parked(100)) {
            $unread = 1;
            last;
        }
        my $big = '4' . ($i x 800000);
        ($st, undef, $body) = $t->req('POST', "$B&sid=$bsid2", $big);
        push @sent, $big;
    }
    my @got;
    for (@sent) {
        ($st, undef, $body) = $t->ka_read($c, 10);
        push @got, $body;
    }
    ok(@sent >= 5 && (grep { $got[$_] eq $sent[$_] } 0 .. $#sent) == @sent,
        scalar(@sent) . ' answers of 800 KB arrive whole and in order');
    $t->ka_send($c, 'GET', "$B&sid=$bsid2") unless $unread;
    wait_parked();
    $t->req('POST', "$B&sid=$bsid2", '4after');
    ($st, undef, $body) = $t->ka_read($c);
    is_deeply([$st, $body], [200, '4after'],
        'then the GET behind them waits on the same connection');
    close $c;
}

# memory: many sessions, each with a GET waiting on its connection

my $n = 600;
my @socks;
{
    my $c = $t->ka_conn;
    (undef, undef, $body) = $t->ka($c, 'GET', '/ws?EIO=4&transport=polling');
    close $c;
}
my %rss0 = map { $_ => rss($_) } $t->worker_pids;
for (1 .. $n) {
    my $c = $t->ka_conn;
    (undef, undef, $body) = $t->ka($c, 'GET', '/ws?EIO=4&transport=polling');
    my $id = decode_json(substr($body, 1))->{sid} or last;
    $t->ka($c, 'POST', "/ws?EIO=4&transport=polling&sid=$id", '40');
    (undef, undef, $body) = $t->ka($c, 'GET',
        "/ws?EIO=4&transport=polling&sid=$id");
    $t->ka_send($c, 'GET', "/ws?EIO=4&transport=polling&sid=$id");
    push @socks, $c;
}
$t->wait_until(sub { $t->status_json->{polling_waiting} >= $n },
    "$n GETs waiting", 60);
is($t->status_json->{polling_waiting}, $n, "$n GETs wait");
my $grew = 0;
for my $pid (keys %rss0) {
    $grew += rss($pid) - $rss0{$pid};
}
my $per = int($grew * 1024 / $n);
diag("$per bytes a session with a GET waiting ($n sessions)");
SKIP: {
    skip 'RSS under a sanitizer', 1 if $ENV{TEST_NOOM_SANITIZER};
    cmp_ok($per, '<', 5000, 'a session with a waiting GET costs under 5 KB');
}
close $_ for @socks;

# a reload answers a waiting GET with a close packet

$s = $t->ka_conn;
(undef, undef, $body) = $t->ka($s, 'GET', $E);
my $rsid = decode_json(substr($body, 1))->{sid};
$t->ka_send($s, 'GET', "$E&sid=$rsid");
wait_parked();
$t->reload;
($st, undef, $body) = $t->ka_read($s, 10);
is_deeply([$st, $body], [200, '1'], 'a reload sends the close packet');

$t->done;

# helpers

sub wait_parked {
    my ($tries) = @_;
    for (1 .. $tries // 500) {
        return 1 if $t->status_json->{polling_waiting};
    }
    return 0;
}

sub rss {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (my $l = <$fh>) {
        return $1 if $l =~ /^VmRSS:\s+(\d+)\s+kB/;
    }
    return 0;
}
