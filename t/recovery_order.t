#!/usr/bin/perl

# noom_recovery's order across workers: with members of one room on both
# workers all talking at once, every member gets every other member's
# messages, each once, with offsets that only grow.  A worker that
# delivered its own member's message before an earlier one of the room
# still waiting in its ring would give a later offset first, and the
# earlier message, arriving after it, would be dropped as already seen.
# Rooms that have nothing waiting must not be held back by others: a
# second room on the same workers talks at the same time.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOC')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_recovery 30s;
    noom_event_rate off;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
    }
}
EOC

my $N = 300;        # messages from each member
my $BURST = 15;     # sent back to back before the next member's turn

my $HEX = qr/^[0-9a-f]{16}$/;

my (@all, %room_of);

for my $room (qw(r1 r2)) {
    for my $i (0 .. 3) {
        my $nick = "$room-m$i";
        my $c = Noom::SIO->connect_on_worker($t, $i % 2);
        $c->call('nickname', $nick);
        $c->call('enter_room', $room);
        $c->{nick} = $nick;
        $room_of{$nick} = $room;
        push @all, $c;
    }
}

$_->flush_events for @all;

# everyone talks: bursts from each member in turn, both rooms, both workers
for (my $k = 1; $k <= $N; $k += $BURST) {
    for my $c (@all) {
        for my $j ($k .. $k + $BURST - 1) {
            last if $j > $N;
            $c->emit('new_message', "$c->{nick} $j", $room_of{$c->{nick}});
        }
    }
}

for my $c (@all) {
    my $room = $room_of{$c->{nick}};
    my @others = grep { $room_of{$_} eq $room && $_ ne $c->{nick} }
        keys %room_of;
    my $want = $N * @others;
    my (%next, $last, $bad_offset, $bad_order, $dup);
    $next{$_} = 1 for @others;
    my $got = 0;

    while ($got < $want) {
        my $m = $c->event('new_message', 10) // last;
        my ($text, $off) = ($m->[0], $m->[-1]);
        $bad_offset++ unless defined $off && $off =~ $HEX;
        $bad_order++ if defined $last && hex $off <= hex $last;
        $last = $off;
        my ($from, $j) = $text =~ /^\S+: (\S+) (\d+)$/ or next;
        if (!exists $next{$from}) {
            $bad_order++;
        } elsif ($j < $next{$from}) {
            $dup++;
        } elsif ($j > $next{$from}) {
            $bad_order++;
        } else {
            $next{$from}++;
        }
        $got++;
    }

    is($got, $want, "$c->{nick}: every other member's messages arrived")
        or diag join ' ', map { "$_ at " . ($next{$_} - 1) } sort keys %next;
    ok(!$bad_offset, "$c->{nick}: each with an offset");
    ok(!$bad_order, "$c->{nick}: offsets grow and each sender's order holds");
    ok(!$dup, "$c->{nick}: none twice");
}

$_->close_socket for @all;

done_testing;
