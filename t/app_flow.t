#!/usr/bin/perl

# The original app's flow through the official socket.io-client (node):
# over WebSocket only, over HTTP long-polling only, and with the client's
# defaults (polling, then the upgrade), on four workers where every HTTP
# request comes on a new connection, so that one session's requests land
# on several workers (nginx's access log shows which).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

Noom::Test::need_node_modules('socket.io-client');

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOC')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    log_format sid '$pid $arg_transport $arg_sid $status';
    access_log %%DIR%%/logs/sid.log sid;
    keepalive_timeout 0;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; }
        location /socket.io/ { noom_rooms; }
        location /status { noom_status; }
    }
}
EOC

for my $mode (qw(websocket polling default)) {
    my @lines = Noom::Test::node_script(
        "socket.io-client ($mode) runs the original app's flow",
        'app_flow.mjs', $t->port, $mode, '/socket.io');
    ok(scalar(grep { /^ok / } @lines) >= 13, "with all its checks ($mode)");
}

# which workers served each polling session

my (%workers, %upgraded);
for (split /\n/, $t->read_file('logs/sid.log')) {
    my ($pid, $transport, $sid, $status) = split / /;
    next if $sid eq '-' || $sid eq '';
    $workers{$sid}{$pid} = 1;
    $upgraded{$sid} = 1 if $transport eq 'websocket' && $status == 101;
}
my $spread = grep { keys %{ $workers{$_} } > 1 } keys %workers;
cmp_ok($spread, '>', 0, "$spread polling sessions were served by more "
    . 'than one worker');
cmp_ok(scalar keys %upgraded, '>=', 3, 'the default client upgraded its '
    . 'sessions to WebSockets');

# the clients have exited (a polling client that exits before its close
# packet is sent leaves its session to the ping timeout, as engine.io does)

my $st;
$t->wait_until(sub { ($st = $t->status_json)->{members} == 0 },
    'the status counts no member');
is($st->{members}, 0, 'no room member is left');

$t->done;
