#!/usr/bin/perl

# The original app's flow through python-socketio (Debian's
# python3-socketio) with its default transports: HTTP long-polling, then
# the upgrade to a WebSocket, on four workers.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

plan(skip_all => 'python3-socketio missing')
    unless system('/usr/bin/python3 -c "import socketio, websocket, '
                  . 'requests" 2>/dev/null') == 0;

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOC')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /socket.io/ { noom_rooms; }
    }
}
EOC

my $out = `/usr/bin/python3 $Noom::Test::TOP/t/py/app_flow.py ${\ $t->port} 2>&1`;
my $rc = $?;
my @lines = split /\n/, $out;
diag($_) for grep { !/^ok / } @lines;
is($rc, 0, 'python-socketio runs the original app\'s flow');
ok(scalar(grep { /^ok / } @lines) >= 9, 'with all its checks');

$t->done;
