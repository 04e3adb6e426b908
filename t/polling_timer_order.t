#!/usr/bin/perl

# A polling GET that comes in the same turn of the event loop in which its
# session's ping timeout is due.  nginx handles what the connections
# bring before it runs its timers; engine.io runs the timers first, and
# the official test suite ("closes the session upon ping timeout") asks a
# GET sent after pingInterval + pingTimeout for a 400.  On a loaded
# machine a turn can end after the timeout fell due, and the next one
# then brings the GET; here it always does: a test hook holds the only
# worker for 3 s inside another session's message (NOOM_HOOK=busy:busy,
# "4busy"), the timeout falls due meanwhile, and the GET is sent while
# the worker is held.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 1);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
env NOOM_HOOK=busy:busy;
events { worker_connections 64; }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /eio/ {
            noom_protocol_test engine.io;
            # the first GET waits for the ping: a ping due before the GET
            # came (a slow test process) would end the session first
            noom_ping_interval 2s;
            noom_ping_timeout 1s;
        }
    }
}
EOF

my $q = '/eio/?EIO=4&transport=polling';

# one keep-alive connection for the whole session
my $s = $t->ka_conn;

$t->ka_send($s, 'GET', $q);
my ($st, undef, $body) = $t->ka_read($s);
my ($sid) = $body =~ /"sid":"([^"]+)"/;
ok($sid, 'a session');

# the GET waits until the ping, 2 s after the handshake
$t->ka_send($s, 'GET', "$q&sid=$sid");
($st, undef, $body) = $t->ka_read($s, 10);
is_deeply([$st, $body], [200, '2'], 'the ping comes on the GET');

# another session, whose message will hold the worker: made only now, so
# that a loaded machine cannot let its own ping time out before its POST
my $other = $t->ka_conn;
$t->ka_send($other, 'GET', $q);
my (undef, undef, $obody) = $t->ka_read($other);
my ($osid) = $obody =~ /"sid":"([^"]+)"/;

# nobody answers it: the timeout falls due (1 s) while the other
# session's message holds the worker (3 s), and the request is in its
# socket by then
$t->ka_send($other, 'POST', "$q&sid=$osid", '4busy');
ok($t->wait_log(qr/test hook: busy/, 10), 'the test hook holds the worker');

$t->ka_send($s, 'GET', "$q&sid=$sid");

my ($ost) = $t->ka_read($other, 30);
is($ost, 200, 'the other message held the worker');
close $other;

($st, undef, $body) = $t->ka_read($s, 10);

is_deeply([$st, $body],
    [400, '{"code":1,"message":"Session ID unknown"}'],
    'the ping timeout went first, the GET finds no session');

close $s;

like($t->error_log, qr/no pong within 1000 ms/, 'the log says why');

$t->done;
