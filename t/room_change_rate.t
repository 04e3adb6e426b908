#!/usr/bin/perl

# room_change amplification (issue 15, point 1): one socket alternating
# enter_room between two rooms, inside the event rate, made every worker
# send the whole room list to every socket at each change.  With
# noom_room_change_interval a socket gets at most one room_change per
# interval, and the last one carries the final state; with the interval
# off (0), the same attack shows the amplification it would cause.  A long
# list stretches the interval: rate= bounds the bytes of room lists a
# socket gets a second (the lobby at scale: 1,000 rooms make lists of
# 20-140 KB).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Noom::Test;

sub attack {
    my ($interval, $nstay, $secs) = @_;
    $nstay //= 1;

    my $t = Noom::Test->new(workers => 4);
    # with the debug log on: a timer's debug line reads its event's data
    $t->write_conf(<<"EOF")->run;
%%TEST_GLOBALS%%
error_log %%DIR%%/logs/debug.log debug;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_room_change_interval $interval;
    # the timed attack changes rooms as fast as its acks come back: faster
    # than the event rate (50/s) lets a client, a worse case than one inside
    noom_event_rate off;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
        location /status { noom_status; }
    }
}
EOF

    my @watch = map { Noom::SIO->connect_on_worker($t, $_) } 0 .. 3;
    my $attacker = Noom::SIO->connect($t);
    $attacker->call('nickname', 'mallory');

    # rooms that stay, so the list is never empty; more make it long
    my @stay = map { Noom::SIO->connect($t) } 1 .. $nstay;
    $stay[$_ - 1]->call('enter_room', $nstay == 1 ? 'stay'
        : "stay-$_-" . ('x' x 56)) for 1 .. $nstay;
    for my $w (@watch) {
        1 while $w->event('room_change', 0.2);
        $w->flush_events;
    }

    my $bytes0 = $t->status_json->{bytes_out};
    my $t0 = time;
    # 120 changes, or as many as fit in $secs (ending in "b")
    my $i = 0;
    while ($secs ? time - $t0 < $secs || $i % 2 : $i < 120) {
        $attacker->call('enter_room', ++$i % 2 ? 'a' : 'b');
    }
    my $elapsed = time - $t0;
    my $bytes = $t->status_json->{bytes_out} - $bytes0;

    # every watcher gets the final state: the attacker in "b"
    my @counts;
    for my $w (@watch) {
        my ($n, $last, $len) = (0, undef, 0);
        for (1 .. 400) {
            my $rc = $w->event('room_change', 15) or last;
            $n++;
            $last = $rc;
            $len = length Noom::SIO->json->encode(['room_change', @$rc]);
            last if exists $rc->[1]{b} && !exists $rc->[1]{a};
        }
        # what came after that would be a change nobody made
        $n++ while $w->event('room_change', 0.7);
        push @counts, [$n, $last, $len];
    }

    $_->close_socket for @watch, $attacker, @stay;
    $t->check;

    return (\@counts, $elapsed, $bytes, $i);
}

my ($counts, $elapsed, $bytes) = attack('500ms');
for my $i (0 .. 3) {
    my ($n, $last) = @{ $counts->[$i] };
    is_deeply($last, [['stay', 'b'], { stay => 1, b => 1 }],
        "watcher on worker $i ends with the final state");
    cmp_ok($n, '<=', int($elapsed / 0.5) + 2,
        "and got $n room_change for 120 changes in "
        . sprintf('%.1f s', $elapsed) . ' (at most one per 500 ms)');
}
note "bytes out during the attack, interval 500ms: $bytes";

my ($off, $elapsed_off, $bytes_off) = attack('0');
my $n_off = $off->[0][0];
cmp_ok($n_off, '>', $counts->[0][0],
    "without the interval the same watcher got $n_off");
is_deeply($off->[0][1], [['stay', 'b'], { stay => 1, b => 1 }],
    'and the same final state');
note "bytes out during the attack, interval off: $bytes_off";

# a list of 10 rooms with long names is about 1.4 KB: at 256 bytes a
# second, one each 5 s or so, whatever the interval (100ms) says
my ($long, $elapsed_long, undef, $nlong) = attack('100ms rate=256', 10, 2);
for my $i (0 .. 3) {
    my ($n, $last, $len) = @{ $long->[$i] };
    ok(exists $last->[1]{b} && !exists $last->[1]{a}
        && keys %{ $last->[1] } == 11,
        "rate=256: watcher on worker $i ends with the final state");
    my $gap = $len / 256;
    cmp_ok($n, '<=', int($elapsed_long / $gap) + 2,
        "and got $n lists of $len bytes for $nlong changes in "
        . sprintf('%.1f s', $elapsed_long)
        . sprintf(' (at most one per %.1f s)', $gap));
}

done_testing();
