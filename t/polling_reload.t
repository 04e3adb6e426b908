#!/usr/bin/perl

# Polling sessions through a reload and a crash: at nginx -s reload the old
# worker answers a waiting GET with a close packet and later requests for
# the old sid get 400 code 1 from the new workers; when a session's owner
# is killed, a GET waiting for it on another worker is told within the
# heartbeat's bound that the session is unknown, and the new worker serves
# new sessions.

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
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 0;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws {
            noom_rooms;
            noom_ping_interval 1s;
            noom_ping_timeout 1s;
        }
        location /status { noom_status; }
    }
}
EOF

my $P = '/ws/?EIO=4&transport=polling';

sub send_req {
    my ($method, $uri, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port, Proto => 'tcp') or die "connect: $!";
    my $len = defined $body ? "Content-Length: " . length($body) . "\r\n"
        : '';
    print $s "$method $uri HTTP/1.1\r\nHost: localhost\r\n$len\r\n"
        . ($body // '');
    return $s;
}

sub read_resp {
    my ($s, $timeout) = @_;
    my $resp = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read($timeout // 10)) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $resp .= $buf;
    }
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    my ($st) = ($head // '') =~ m{^HTTP/1\.1 (\d+)};
    return ($st // 0, $body // '');
}

sub req { read_resp(send_req(@_)) }

# a session CONNECTed to "/", its owner worker, and a GET waiting for it
sub session {
    my (undef, $body) = req('GET', $P);
    my $sid = decode_json(substr($body, 1))->{sid};
    req('POST', "$P&sid=$sid", '40');
    my (undef, $c) = req('GET', "$P&sid=$sid");
    die "no CONNECT answer: $c" unless $c =~ /^40/;
    return $sid;
}

sub wait_waiting {
    for (1 .. 500) {
        return 1 if $t->status_json->{polling_waiting};
    }
    return 0;
}

# a reload

my $sid = session();
my $get = send_req('GET', "$P&sid=$sid");
ok(wait_waiting(), 'a GET waits');
$t->reload;
my ($st, $body) = read_resp($get);
is_deeply([$st, $body], [200, '1'],
    'at the reload the waiting GET gets a close packet');
($st) = req('GET', "$P&sid=$sid");
is($st, 400, 'the old sid is unknown to the new workers');
ok(session(), 'a new session opens');

# a crash of the owner, with the GET held by the other worker

$sid = session();
my $owner = index('ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr($sid, 2, 1));
$get = send_req('GET', "$P&sid=$sid");
ok(wait_waiting(), 'a GET waits for a session');
# the status lists the zone's slots that workers hold (a reload moves the
# workers to the other half of the slots)
my ($w) = grep { $_->{worker} == $owner } @{ $t->status_json->{workers} };
my $pid = $w->{pid};
kill 'KILL', $pid;
($st, $body) = read_resp($get, 15);
ok($st == 400 || ($st == 0 && $body eq ''),
    'when its owner dies the GET is told the session is unknown, or its '
    . 'connection ends with the worker that held it');
($st) = req('GET', "$P&sid=$sid");
is($st, 400, 'the session is gone');
ok(session(), 'new sessions are served');

$t->done(allow => qr/exited on signal 9/);
