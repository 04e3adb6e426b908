#!/usr/bin/perl

# A worker killed inside the zone's critical section (a test hook of the
# -DNGX_NOOM_HOOKS build sends it SIGKILL at the chosen line): the next
# process to take the lock repairs the zone, so no member stays linked
# without being counted, no count stays too high, no empty room stays
# listed, and a full room's member list cannot overflow a buffer.  Also: a
# failed allocation while a fragmented message is assembled discards the
# rest of that message instead of writing past its buffer.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

# the next room_change whose counts satisfy $ok, or the last one seen
sub room_change_until {
    my ($c, $ok) = @_;
    my $rc;
    for (1 .. 10) {
        $rc = $c->event('room_change', 10) or last;
        return $rc if $ok->($rc->[1]);
    }
    return $rc;
}

sub conf {
    my ($hook, $extra) = @_;
    return <<"EOF";
%%TEST_GLOBALS%%
env NOOM_HOOK=$hook;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    $extra
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
        location /status { noom_status; }
    }
}
EOF
}

my $killed = qr/exited on signal 9|died while changing the zone|zone "noom" was locked by/;

# killed in ngx_noom_rooms_join: the member is linked, nothing counts it

{
    my $t = Noom::Test->new(workers => 2);
    $t->write_conf(conf('join:victim', 'noom_max_room_members 2;'))->run;

    my $watch = Noom::SIO->connect_on_worker($t, 0);
    $watch->call('nickname', 'watch');
    $watch->call('enter_room', 'doomed');
    $watch->flush_events;

    my $pid = $t->status_json->{workers}[1]{pid};

    my $victim = Noom::SIO->connect_on_worker($t, 1);
    $victim->call('nickname', 'victim');
    $victim->emit('enter_room', 'doomed');

    ok($victim->wait_eof(10), 'the worker dies inside the join');

    my $rc = room_change_until($watch, sub { $_[0]{doomed} == 1 });
    is_deeply($rc, [['doomed'], { doomed => 1 }],
        'after the repair and the purge the room counts its one member');

    my $st = $t->status_json;
    isnt($st->{workers}[1]{pid}, $pid, 'worker 1 was replaced');
    is($st->{members}, 1, 'the zone counts one member');
    is($st->{workers}[1]{members}, 0, 'none of them on the dead worker');
    is($st->{zone_repairs}, 1, 'one repair is counted');

    # with a ghost left behind the room would be full here, and its peer
    # list longer than the buffer it is copied into
    my $new = Noom::SIO->connect_on_worker($t, 1);
    $new->call('nickname', 'new');
    my $ack = $new->call('enter_room', 'doomed');
    is($ack->[0], 2, 'a newcomer gets in: two members');
    is_deeply($watch->event('welcome'), ['new', 2, $new->id],
        'the survivor welcomes the newcomer');
    my $third = Noom::SIO->connect_on_worker($t, 0);
    $third->call('nickname', 'third');
    is($third->call('enter_room', 'doomed')->[0]{error}, 'room_full',
        'the cap of 2 holds');

    like($t->error_log, qr/zone repaired: 1 rooms, 2 members, 0 empty rooms freed/,
        'the repair is logged with what it found');

    $t->check(allow => $killed);
}

# killed in the leave: the member is unlinked, its room still counts it

{
    my $t = Noom::Test->new(workers => 2);
    $t->write_conf(conf('leave:victim', ''))->run;

    my $watch = Noom::SIO->connect_on_worker($t, 0);
    $watch->call('nickname', 'watch');
    $watch->call('enter_room', 'stay');

    my $victim = Noom::SIO->connect_on_worker($t, 1);
    $victim->call('nickname', 'victim');
    is($victim->call('enter_room', 'gone')->[0], 1, 'alone in "gone"');
    $watch->flush_events;

    $victim->emit('leave_room');
    ok($victim->wait_eof(10), 'the worker dies inside the leave');

    my $rc = room_change_until($watch, sub { !exists $_[0]{gone} });
    is_deeply($rc, [['stay'], { stay => 1 }],
        'the emptied room is freed, the other one is intact');

    my $st = $t->status_json;
    is($st->{rooms}, 1, 'one room left');
    is($st->{members}, 1, 'one member left');

    my $again = Noom::SIO->connect_on_worker($t, 1);
    $again->call('nickname', 'again');
    is($again->call('enter_room', 'gone')->[0], 1,
        'the room can be made again, empty');

    $t->check(allow => $killed);
}

# a fragmented message whose buffer cannot grow, and no close frame either

{
    my $t = Noom::Test->new(workers => 2);
    $t->write_conf(conf('alloc:ws', ''))->run;

    my $a = Noom::SIO->connect_on_worker($t, 1);
    my $b = Noom::SIO->connect_on_worker($t, 1);
    $a->call('nickname', 'a');
    $b->call('nickname', 'b');
    $a->call('enter_room', 'r');
    $b->call('enter_room', 'r');

    my $msg = '42["new_message","' . ('x' x 4000) . '","r"]';
    $a->send_frame(op => 'text', fin => 0, data => substr($msg, 0, 10));
    $a->send_frame(op => 'cont', fin => 1, data => substr($msg, 10));

    ok($a->wait_eof(10), 'the connection ends when its message cannot grow');

    my $c = Noom::SIO->connect_on_worker($t, 1);
    $c->call('nickname', 'c');
    $c->call('enter_room', 'r');
    $b->flush_events;
    $c->call('new_message', 'hello', 'r');
    is($b->event('new_message')->[0], 'c: hello',
        'the same worker goes on serving the others');
    is($t->status_json->{worker_crashes}, 0, 'no worker died');

    $t->check;
}

done_testing();
