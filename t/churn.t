#!/usr/bin/perl

# 1,000 clients churn through rooms on four workers (connect, nickname,
# enter_room, chat, leave or just disconnect); afterwards the zone is back
# to its baseline: no room, no member, the same pages in use.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 2048; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_room_members 10;
    # a round's sockets read nothing until its messages: on a loaded machine
    # a round took longer than a ping interval and timeout (45 s), and the
    # server closed ten of them for pongs they never sent
    noom_ping_interval 10m;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; }
        location /status { noom_status; }
    }
}
EOF

my $base = $t->status_json;

my ($joined, $heard) = (0, 0);

for my $round (1 .. 10) {
    my @c = map { Noom::SIO->connect($t) } 1 .. 100;

    for my $i (0 .. $#c) {
        $c[$i]->emit('nickname', "u$round-$i");
        my $r = $c[$i]->call('enter_room', 'room' . ($i % 10));
        $joined++ if $r && $r->[0] && !ref $r->[0];
    }

    # one message per room, heard by the room's other members
    for my $i (0 .. 9) {
        $c[$i]->emit('new_message', "round $round", 'room' . $i);
    }
    for my $i (10 .. 19) {
        my $m = $c[$i]->event('new_message', 10);
        my $want = "u$round-" . ($i - 10) . ": round $round";
        if ($m && $m->[0] eq $want) {
            $heard++;
            next;
        }
        # what came instead, for the next time this fails
        diag("round $round, client $i: wanted \"$want\", got "
            . ($m ? Noom::SIO->json->encode($m) : 'nothing in 10 s')
            . '; other events: ' . Noom::SIO->json->encode(
                [map { $_->{name} // $_->{type} } @{ $c[$i]->{events} }]));
    }

    # half leave politely, the others just go away
    for my $i (0 .. $#c) {
        $c[$i]->call('leave_room') if $i % 2;
        $c[$i]->close_socket;
    }
}

is($joined, 1000, '1,000 clients joined rooms of ten');
is($heard, 100, 'and heard the messages of their rooms');

my $st;
$t->wait_until(sub {
    $st = $t->status_json;
    $st->{members} == 0 && !grep { $_->{connections} } @{ $st->{workers} }
}, 'the status counts no member and no connection');

is($st->{rooms}, 0, 'no room is left');
is($st->{members}, 0, 'no member is left');
is_deeply([map { $_->{connections} } @{ $st->{workers} }], [0, 0, 0, 0],
    'no connection is counted on any worker');
is($st->{zone}{pages_used}, $base->{zone}{pages_used},
    'the zone uses as many pages as before');
is($st->{relay_drops}, 0, 'no worker queue overflowed');

$t->done;
