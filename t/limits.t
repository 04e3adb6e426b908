#!/usr/bin/perl

# Every bound of the rooms: rooms, members per room, name and message
# lengths, signaling size, the zone itself, a worker's queue, and a slow
# consumer.  At a bound the client gets a clear error; nobody else notices.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_rooms 3;
    noom_max_room_members 2;
    noom_max_nickname_length 8;
    noom_max_room_name_length 6;
    noom_max_message_length 20;
    noom_max_signal_size 1k;
    noom_worker_queue 16k;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws {
            noom_rooms;
            noom_worker_header on;
            noom_send_buffer 64k;
            noom_max_payload 60k;
            noom_event_rate off;    # the slow consumer test floods
            noom_log_level notice;
        }
        location /status { noom_status; }
    }
}
EOF

my @c = map { Noom::SIO->connect_on_worker($t, $_ % 2) } 0 .. 6;

# the limits a client needs, pushed on connect and asked with an ack

my $limits = { nickname => 8, room_name => 6, message => 20,
    room_members => 2 };
is_deeply($c[0]->event('limits'), [$limits],
    'limits arrives on connect with the configured bounds');
is_deeply($c[1]->call('limits'), [$limits], 'and as the ack of limits');

# names

is($c[0]->call('nickname', 'x' x 8)->[0], undef, 'a nickname of the maximum '
    . 'length is fine');
is($c[0]->call('nickname', 'x' x 9)->[0]{error}, 'invalid_nickname',
    'one byte more is refused');
is($c[0]->call('nickname', "\x{e9}\x{e9}\x{e9}\x{e9}")->[0], undef,
    'the limit counts bytes: 4 two-byte characters fit in 8');
is($c[0]->call('enter_room', 'abcdefg')->[0]{error}, 'invalid_room_name',
    'a room name over noom_max_room_name_length is refused');
is($c[0]->call('enter_room', "a\x{85}b")->[0]{error}, 'invalid_room_name',
    'a room name with a C1 control character is refused');

# rooms and members

is($c[0]->call('enter_room', 'r1')->[0], 1, 'room 1');
is($c[1]->call('enter_room', 'r1')->[0], 2, 'room 1 is full with 2');
my $e = $c[2]->call('enter_room', 'r1');
is($e->[0]{error}, 'room_full', 'the third member is refused: room_full');
like($e->[0]{message}, qr/noom_max_room_members/, 'the message says why');
is($c[2]->call('enter_room', 'r2')->[0], 1, 'room 2');
is($c[3]->call('enter_room', 'r3')->[0], 1, 'room 3');
is($c[4]->call('enter_room', 'r4')->[0]{error}, 'too_many_rooms',
    'a fourth room is refused: too_many_rooms');
$c[3]->call('leave_room');
is($c[4]->call('enter_room', 'r4')->[0], 1, 'when a room goes, a new one can come');

# message and signal sizes

is($c[0]->call('new_message', 'y' x 20, 'r1')->[0], undef,
    'a message of noom_max_message_length is fine');
is($c[1]->event('new_message')->[1]{text}, 'y' x 20, 'and arrives');
is($c[0]->call('new_message', 'y' x 21, 'r1')->[0]{error}, 'message_too_long',
    'one byte more is refused');
ok($c[1]->no_event('new_message', 0.2), 'and does not arrive');

is($c[0]->call('offer', { sdp => 'z' x 900 }, 'r1')->[0], undef,
    'an offer under noom_max_signal_size is relayed');
ok($c[1]->event('offer'), 'and arrives');
is($c[0]->call('offer', { sdp => 'z' x 1100 }, 'r1')->[0]{error},
    'signal_too_large', 'a bigger one is refused');
ok($c[1]->no_event('offer', 0.2), 'and does not arrive');

# a worker's queue is full: the other worker is stopped, so nothing drains

$c[2]->call('leave_room');
$c[5]->call('enter_room', 'r5');
$c[6]->call('enter_room', 'r5');
isnt($c[5]->worker, $c[6]->worker, 'two members on different workers');

my $st = $t->status_json;
my $pid = $st->{workers}[ $c[6]->worker ]{pid};
kill 'STOP', $pid;

my ($sent, $busy) = (0, 0);
for my $i (1 .. 40) {
    my $r = $c[5]->call('offer', { sdp => 'q' x 900, n => $i }, 'r5');
    if ($r && $r->[0] && $r->[0]{error}) {
        is($r->[0]{error}, 'busy', 'a full queue is reported to the sender: busy');
        $busy = $i;
        last;
    }
    $sent = $i;
}
ok($busy, 'the queue filled up');
ok($sent >= 8, "$sent offers fit in a 16k queue first");
like($t->error_log, qr/\[notice\].*a worker queue is full, "offer" did not/,
    'the failure is logged at noom_log_level notice');
unlike($t->error_log, qr/\[warn\].*a worker queue is full/,
    'not at warn');

kill 'CONT', $pid;

$st = $t->status_json;
ok($st->{relay_drops} >= 1, 'the drop is counted');
ok($st->{workers}[ $c[6]->worker ]{queue}{drops} >= 1,
    'against the stopped worker\'s queue');

my @n;
while (my $o = $c[6]->event('offer', 2)) {
    push @n, $o->[0]{n};
}
is_deeply(\@n, [1 .. $sent], 'once running, the worker delivers what fit, '
    . 'in order');

# the zone runs out

my $z = Noom::Test->new(workers => 1);
$z->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_zone 512k;
    noom_worker_queue 16k;
    noom_max_signal_size 4k;
    noom_max_nickname_length 30k;
    noom_max_rooms 100;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws { noom_rooms; }
        location /status { noom_status; }
    }
}
EOF

my (@zc, $full);
for my $i (1 .. 40) {
    my $s = Noom::SIO->connect($z);
    push @zc, $s;
    # members keep their nicknames at their size: long ones fill the zone
    $s->call('nickname', "n$i-" . ('x' x 30000));
    my $r = $s->call('enter_room', "z$i");
    if ($r->[0] && ref $r->[0] && $r->[0]{error}) {
        $full = $r->[0];
        last;
    }
}
is($full && $full->{error}, 'busy', 'when the zone is full, enter_room gets busy');
like($z->error_log, qr/\[error\].*noom: zone is full, cannot join room/,
    'and the error log says so');
ok($z->status_json->{zone_errors} >= 1, 'the status counts it');
my $rn = $zc[0]->call('nickname', 'r' . ('y' x 30000));
is($rn->[0] && ref $rn->[0] && $rn->[0]{error}, 'busy',
    'a member\'s new nickname that does not fit: busy, the old one stays');

$_->close_socket for @zc[0 .. 4];
my $ok;
$z->wait_until(sub {
    $ok = $zc[-1]->call('enter_room', 'again');
    $ok->[0] && !ref $ok->[0]
}, 'a join is accepted again');
is($ok->[0], 1, 'once members leave, joining works again');
$z->check;

# a slow consumer in a room: it is closed, the room goes on

my $reader = Noom::SIO->connect_on_worker($t, 0);
my $talker = Noom::SIO->connect_on_worker($t, 0);   # local fan-out: no ring
my $other = Noom::SIO->connect_on_worker($t, 0);
$reader->call('leave_room');
$c[0]->call('leave_room');
$c[1]->call('leave_room');
$reader->call('enter_room', 'slow');
$talker->call('enter_room', 'slow');

# reader stops reading; what the talker sends piles up in the kernel's
# buffers, then in the server's queue for the reader, until its cap
my $big = { sdp => 'w' x 1000 };
my $closes = $t->status_json->{slow_consumer_closes};
my $closed;
for my $batch (1 .. 60) {
    $talker->emit('offer', $big, 'slow') for 1 .. 500;
    is($talker->call('new_message', 'sync', 'slow')->[0], undef,
        'the talker is not held up') if $batch == 1;
    $closed = $t->status_json->{slow_consumer_closes} > $closes and last;
}
ok($closed, 'the reader that did not read is closed and counted');
is($reader->wait_close(10), 1008, 'with 1008 at the end of what it got');
is($reader->close_reason, 'slow consumer', 'and the reason');

$other->call('enter_room', 'slow');
is($talker->event('welcome')->[0], 'Anon', 'the room goes on');

$t->done;
