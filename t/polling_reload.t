#!/usr/bin/perl

# Polling sessions through a reload and a crash: at nginx -s reload the old
# worker answers a waiting GET with a close packet and later requests for
# the old sid get 400 code 1 from the new workers; when a session's owner
# is killed, a GET waiting for it on another worker is told that the
# session is unknown once the worker holding it sees the owner's slot
# change hands (within a second of it), and the new worker serves new
# sessions.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
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
            # no ping may answer the GET that waits when its session's
            # worker is killed (it must be told the session is unknown)
            noom_ping_interval 10m;
        }
        location /wsr {
            noom_rooms;
            # no ping may answer the waiting GET before the reload does,
            # however slow the machine (at a load of 30 a reload took
            # longer than 3 s)
            noom_ping_interval 10m;
        }
        # keep-alive: the GET below waits on a connection whose worker
        # the test knows
        location /wsk {
            noom_rooms;
            noom_ping_interval 10m;
            keepalive_timeout 60s;
        }
        location /status { noom_status; }
    }
}
EOF

my $P = '/ws/?EIO=4&transport=polling';
my $PR = '/wsr/?EIO=4&transport=polling';
my $PK = '/wsk/?EIO=4&transport=polling';

# the worker a sid's session lives on (its owner)
sub owner { index('ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr($_[0], 2, 1)) }

# a session CONNECTed to "/" (through $p, or $P)
sub session {
    my ($p) = @_;
    $p //= $P;
    my (undef, undef, $body) = $t->req('GET', $p);
    my $sid = decode_json(substr($body, 1))->{sid};
    $t->req('POST', "$p&sid=$sid", '40');
    my (undef, undef, $c) = $t->req('GET', "$p&sid=$sid");
    die "no CONNECT answer: $c" unless $c =~ /^40/;
    return $sid;
}

sub wait_waiting {
    return $t->wait_until(sub { $t->status_json->{polling_waiting} },
        'the status counts a waiting GET');
}

# a reload

my $sid = session($PR);
my $get = $t->send_req('GET', "$PR&sid=$sid");
ok(wait_waiting(), 'a GET waits');
$t->reload;
my ($st, undef, $body) = $t->read_resp($get, 60);
is_deeply([$st, $body], [200, '1'],
    'at the reload the waiting GET gets a close packet');
($st) = $t->req('GET', "$PR&sid=$sid");
is($st, 400, 'the old sid is unknown to the new workers');
ok(session(), 'a new session opens');

# a crash of the owner, with the GET held by the other worker

$sid = session();
my $owner = owner($sid);
$get = $t->send_req('GET', "$P&sid=$sid");
ok(wait_waiting(), 'a GET waits for a session');
# the status lists the zone's slots that workers hold (a reload moves the
# workers to the other half of the slots)
my ($w) = grep { $_->{worker} == $owner } @{ $t->status_json->{workers} };
my $pid = $w->{pid};
kill 'KILL', $pid;
($st, undef, $body) = $t->read_resp($get, 15);
ok($st == 400 || ($st == 0 && $body eq ''),
    'when its owner dies the GET is told the session is unknown, or its '
    . 'connection ends with the worker that held it');
# (answered by the worker that takes the dead one's place, also when it was
# sent on to the owner as the owner died: the new worker answers what it
# finds queued for its predecessor; under load it may take seconds to start)
($st) = $t->read_resp($t->send_req('GET', "$P&sid=$sid"), 60);
is($st, 400, 'the session is gone');
ok(session(), 'new sessions are served');

# a GET held by one worker and sent on to the session's owner, which is
# then killed: the worker that holds it sees the owner's slot change hands
# and answers it (not the 10-minute heartbeat's bound)

# (after the reload the workers hold other slots of the zone)
my ($wa, $wb) = map { $_->{worker} } @{ $t->status_json->{workers} };

my ($k, $kw);
for (1 .. 100) {
    $k = $t->ka_conn;
    my (undef, undef, $b) = $t->ka($k, 'GET', $PK);
    $kw = owner(decode_json(substr($b, 1))->{sid});
    last if $kw == $wa;
}
is($kw, $wa, 'a keep-alive connection on one worker');

my $ksid;
for (1 .. 100) {
    $ksid = session($PK);
    last if owner($ksid) == $wb;
}
is(owner($ksid), $wb, 'a session on the other');

$t->ka_send($k, 'GET', "$PK&sid=$ksid");
ok(wait_waiting(), 'its GET, held by the one, waits at the other');
($w) = grep { $_->{worker} == $wb } @{ $t->status_json->{workers} };
kill 'KILL', $w->{pid};

($st, undef, $body) = $t->ka_read($k, 60);
is_deeply([$st, $body], [400, '{"code":1,"message":"Session ID unknown"}'],
    'the owner killed: the GET is told the session is unknown');
# (the line is written after the answers)
ok($t->wait_log(qr/polling requests answered 400: the worker that/),
    'the log says why');

$t->done(allow => qr/exited on signal 9/);
