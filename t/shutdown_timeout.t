#!/usr/bin/perl

# worker_shutdown_timeout ends what noom's own closing handshake would
# still wait for: after a reload the old worker tells its WebSocket 1001
# and would wait noom_close_timeout (1 h here) for the client's close
# frame, which this client never sends; nginx's timer marks the
# connection closed and calls its handler, and the old worker exits.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 1);

$t->write_conf(<<'EOF2')->run;
%%TEST_GLOBALS%%
worker_shutdown_timeout 1s;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { noom_rooms; noom_close_timeout 1h; }
    }
}
EOF2

my $ws = Noom::WS->connect($t, path => '/');
is($ws->status, 101, 'a lobby socket');
$ws->send_text('{"type":"new_message","payload":"hi"}');
is($ws->recv_message(10)->{data}, 'Anon: hi', 'served');

my @old = $t->worker_pids;
$t->reload;

my $f = $ws->recv_message(10);
is($f && $f->{code}, 1001, 'the old worker says 1001');

# no close frame back: only worker_shutdown_timeout ends the connection
$f = $ws->recv_frame(60);
is($f && $f->{op}, 'eof', 'the connection is closed without the client\'s '
    . 'close frame');
ok($t->wait_until(sub { !grep { kill 0, $_ } @old },
    'the old worker exits', 30), 'the old worker exits');

my $n = Noom::WS->connect($t, path => '/');
is($n->status, 101, 'the new worker serves');

$t->done;
