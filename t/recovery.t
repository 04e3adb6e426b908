#!/usr/bin/perl

# Connection state recovery (noom_recovery) through the official
# socket.io-client: three people chat in a room on four workers while
# their transports are taken away (closed by the client, a worker killed,
# a TCP connection that swallows everything for a while); each comes back
# recovered, with the same socket id, in the same room, and every message
# the server acknowledged reaches every other member once and in order.

use strict;
use warnings;

use lib 't/lib';
use IPC::Open2;
use Test::More;
use Noom::Test;

Noom::Test::need_node_modules('socket.io-client');

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOC')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_recovery 2m;
    # the chat is paced by its acks and deliveries, not by the clock: its
    # rate is not what this test is about
    noom_event_rate off;
    keepalive_timeout 0;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; }
        location /status { noom_status; }
    }
}
EOC

sub node {
    my ($name, @args) = @_;
    return Noom::Test::node_script($name, 'recovery.mjs', $t->port, @args);
}

# with a signal from the test: the script says when, the test says go

sub node_signal {
    my ($name, $transport, $who, $act) = @_;
    my $pid = open2(my $out, my $in, 'node',
        "$Noom::Test::TOP/t/js/recovery.mjs", $t->port, $transport,
        'signal', $who);
    my @lines;
    while (my $l = <$out>) {
        chomp $l;
        push @lines, $l;
        if ($l eq 'disrupt') {
            $act->();
            print $in "go\n";
            close $in;
        }
    }
    waitpid($pid, 0);
    my $rc = $?;
    diag($_) for grep { !/^ok / && $_ ne 'disrupt' } @lines;
    is($rc, 0, $name);
    return @lines;
}

for my $tr (qw(websocket polling)) {
    node("each client closes its $tr transport, and is recovered",
        $tr, 'close');
}

node('a TCP connection that swallows everything for 5 s, then breaks',
    'websocket', 'cut', 5000);

# the worker with the most room members: some of the three are on it (its
# connections may be sockets of the scenario before that are still closing)

node_signal('a worker is killed (kill -9) while the room chats', 'websocket',
    'some', sub {
        my ($w) = sort { $b->{members} <=> $a->{members} }
            @{ $t->status_json->{workers} };
        die "no worker has a member of the room" unless $w->{members};
        kill 'KILL', $w->{pid};
    });

# default: polling, then the upgrade to a WebSocket
for my $tr (qw(websocket polling default)) {
    node_signal("nginx -s reload while the room chats ($tr)", $tr, 'all',
        sub { $t->reload });
}

my $st = $t->status_json;
cmp_ok($st->{recovered}, '>', 0, "status counts recoveries ($st->{recovered})");

$t->done(allow => qr/exited on signal 9/);
