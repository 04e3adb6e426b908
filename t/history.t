#!/usr/bin/perl

# noom_room_history: the ack of enter_room (and join_room) gets a third
# argument, the room's last chat lines, oldest first, as
# [{id, nickname, text, ts}], on any worker; 0 turns it off and the ack is
# as it was.

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
    noom_room_history 3;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
    }
}
EOC

my $a = Noom::SIO->connect_on_worker($t, 0);
$a->call('nickname', 'ann');
my $ack = $a->call('enter_room', 'r');
is_deeply($ack, [1, [], []], 'a new room: no members, no history');

my @texts = ('one', '<b>two</b>', "three \x{1F600}", 'four');
$a->call('new_message', $_, 'r') for @texts;

my $b = Noom::SIO->connect_on_worker($t, 1);
$b->call('nickname', 'bob');
$ack = $b->call('enter_room', 'r');
is($ack->[0], 2, 'the count');
my $h = $ack->[2];
is(scalar @$h, 3, 'the last three lines (noom_room_history 3)');
is_deeply([map { $_->{text} } @$h], [@texts[1 .. 3]],
    'oldest first, as sent (markup is text)');
is($h->[0]{nickname}, 'ann', 'with the nickname');
is($h->[0]{id}, $a->id, 'the sender\'s id');
like($h->[0]{ts}, qr/^\d{13}$/, 'and the time in ms');

$ack = $b->call('join_room', 'r');
is(scalar @{ $ack->[2] }, 3, 'join_room of the same room: the same');

# lines of other sizes than the oldest's (whose place the newest takes when
# it is of the same size in the zone)

my @more = map { ($_ % 3 ? 'x' : 'y' x 2000) . " $_" } 1 .. 10;
$a->call('new_message', $_, 'r') for @more;
$ack = $b->call('join_room', 'r');
is_deeply([map { $_->{text} } @{ $ack->[2] }], [@more[7 .. 9]],
    'long and short lines: the last three, in order');

# a room emptied and made again starts with no history

$_->call('leave_room') for $a, $b;
$ack = $a->call('enter_room', 'r');
is_deeply($ack->[2], [], 'a room made again has no history');

$t->stop;

# off

my $t2 = Noom::Test->new(workers => 1);
$t2->write_conf(<<'EOC')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_room_history 0;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws { noom_rooms; }
    }
}
EOC

my $c = Noom::SIO->connect($t2);
is_deeply($c->call('enter_room', 'r'), [1, []],
    'noom_room_history 0: the ack has its two arguments');

$t2->done;
