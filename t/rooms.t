#!/usr/bin/perl

# The Noom event set across four workers: every event with its counts, room
# lists, acks and errors; signaling in order between workers, with null
# candidates and toId; nothing reaches another room or the lobby.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_room_events raise_hand;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
        location /status { noom_status; }
    }
}
EOF

my $alice = Noom::SIO->connect_on_worker($t, 0);
my $bob = Noom::SIO->connect_on_worker($t, 1);
my $carol = Noom::SIO->connect_on_worker($t, 2);
my $dave = Noom::SIO->connect_on_worker($t, 3);

isnt($alice->worker, $bob->worker, 'alice and bob are on different workers');

# ice_servers comes right after connecting, empty without noom_ice_server
is_deeply($alice->event('ice_servers'), [[]], 'ice_servers arrives on connect');

# nickname

is_deeply($alice->call('nickname', 'alice'), [], 'nickname is acked');
is_deeply($bob->call('nickname', 'bob'), [], 'second nickname is acked');
is($dave->call('nickname', "d\x{1}ave")->[0]{error}, 'invalid_nickname',
    'a nickname with a control character gets an error ack');
is($dave->call('nickname', '   ')->[0]{error}, 'invalid_nickname',
    'a nickname of spaces gets an error ack');
is($dave->call('nickname', 42)->[0]{error}, 'invalid_nickname',
    'a nickname that is no string gets an error ack');
$dave->emit('nickname', '');
is($dave->event('error')->[0]{error}, 'invalid_nickname',
    'without an ack the error comes as an error event');

# enter_room

my $r = $alice->call('enter_room', 'r1');
is_deeply($r, [1, [], []], 'the first member gets count 1 and no members');

is_deeply($carol->event('room_change'), [['r1'], { r1 => 1 }],
    'a socket in the lobby on another worker sees the new room');

$r = $bob->call('enter_room', 'r1');
is_deeply($r, [2, [{ id => $alice->id, nickname => 'alice' }], []],
    'the second member gets count 2 and the first one');

is_deeply($alice->event('welcome'), ['bob', 2, $bob->id],
    'welcome(nickname, count, id) reaches the other worker');
is_deeply($carol->event('room_change'), [['r1'], { r1 => 2 }],
    'the lobby sees the count change');
ok($bob->no_event('welcome'), 'the newcomer gets no welcome of its own');

# a second room

is_deeply($dave->call('join_room', 'r2'), [1, [], []],
    'join_room is the same as enter_room');
is_deeply($carol->event('room_change'), [['r1', 'r2'], { r1 => 2, r2 => 1 }],
    'room_change lists the rooms in creation order with their counts');
is_deeply($alice->call('list_rooms'), [['r1', 'r2'], { r1 => 2, r2 => 1 }],
    'list_rooms acks the same');

# new_message

$alice->flush_events;
$bob->flush_events;
$carol->flush_events;
$dave->flush_events;

is_deeply($bob->call('new_message', 'hi', 'r1'), [],
    'new_message is acked');
my $m = $alice->event('new_message');
is($m->[0], 'bob: hi', 'the others get "<nickname>: <text>"');
is($m->[1]{id}, $bob->id, 'with the sender id');
is($m->[1]{nickname}, 'bob', 'the nickname');
is($m->[1]{text}, 'hi', 'and the text');
like($m->[1]{ts}, qr/^\d{13}$/, 'and a timestamp in ms');
ok($bob->no_event('new_message'), 'the sender does not get its message');
ok($carol->no_event('new_message', 0.2), 'the lobby does not get it');
ok($dave->no_event('new_message', 0.2), 'another room does not get it');

is($bob->call('new_message', 'hi', 'r2')->[0]{error}, 'not_in_room',
    'a message into a room the sender is not in is refused');
ok($dave->no_event('new_message', 0.2), 'and reaches nobody');
is($carol->call('new_message', 'hi', 'r1')->[0]{error}, 'not_in_room',
    'a message from the lobby is refused');
is($bob->call('new_message', { x => 1 }, 'r1')->[0]{error}, 'bad_request',
    'a message that is no string is refused');

my $u = "\x{e9}t\x{e9} \x{1f600}";
$bob->call('new_message', $u, 'r1');
is($alice->event('new_message')->[1]{text}, $u, 'UTF-8 text arrives intact');

# signaling

my $sdp = { type => 'offer', sdp => "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n" };
$bob->emit('offer', $sdp, 'r1');
is_deeply($alice->event('offer'), [$sdp, $bob->id],
    'offer reaches the room as offer(sdp, fromId)');
$alice->emit('answer', { type => 'answer', sdp => 'v=0' }, 'r1', $bob->id);
is_deeply($bob->event('answer'), [{ type => 'answer', sdp => 'v=0' },
    $alice->id], 'answer with toId reaches that member on another worker');

for my $i (1 .. 50) {
    $bob->emit('ice', { candidate => "candidate:$i", sdpMid => '0',
        sdpMLineIndex => 0 }, 'r1', $alice->id);
}
$bob->emit('ice', undef, 'r1', $alice->id);

my @got;
for (1 .. 51) {
    my $e = $alice->event('ice') or last;
    push @got, $e;
}
is(scalar @got, 51, 'all 51 candidates arrive across workers');
is_deeply([map { $_->[0] ? $_->[0]{candidate} : 'null' } @got],
    [(map { "candidate:$_" } 1 .. 50), 'null'],
    'in the order they were sent, the null candidate last and kept null');
is($got[0][1], $bob->id, 'each with the sender id');

is($bob->call('offer', $sdp, 'r1', $dave->id)->[0]{error}, 'no_such_member',
    'toId of a socket in another room is refused');
ok($dave->no_event('offer', 0.2), 'and nothing reaches it');
is($bob->call('offer', $sdp, 'r1', 'x' x 20)->[0]{error}, 'no_such_member',
    'toId of nobody is refused');
is($bob->call('offer', $sdp, 'r2')->[0]{error}, 'not_in_room',
    'signaling into another room is refused');

# app events from noom_room_events, media_state

$bob->emit('raise_hand', { up => JSON::PP::true() }, 'r1');
is_deeply($alice->event('raise_hand'), [{ up => JSON::PP::true() }, $bob->id],
    'an event listed in noom_room_events is relayed');
$bob->emit('media_state', { audio => JSON::PP::false() }, 'r1');
is_deeply($alice->event('media_state'), [{ audio => JSON::PP::false() },
    $bob->id], 'media_state is relayed');
is($bob->call('lower_hand', 1, 'r1')->[0]{error}, 'unknown_event',
    'an event noom does not know is refused');

# nickname while in a room

$bob->call('nickname', 'bobby');
$carol->call('nickname', 'carol');
$r = $carol->call('enter_room', 'r1');
is($r->[0], 3, 'a third member makes 3');
is_deeply([sort map { $_->{nickname} } @{ $r->[1] }], ['alice', 'bobby'],
    'the member list shows the new nickname');

# entering the room one is in (once carol's first welcome has arrived:
# a flush with a time limit could miss it on a busy machine)

for my $s ($alice, $bob) {
    my $w;
    do { $w = $s->event('welcome', 10) } while ($w && $w->[2] ne $carol->id);
}
$alice->flush_events;
$bob->flush_events;
is($carol->call('enter_room', 'r1')->[0], 3,
    'entering the same room again acks the count');
ok($alice->no_event('welcome', 0.2), 'and welcomes nobody');

# leave_room

is_deeply($carol->call('leave_room', 'r1'), [], 'leave_room is acked');
is_deeply($alice->event('bye'), ['carol', 2, $carol->id],
    'the others get bye(nickname, count, id)');
is($carol->call('leave_room')->[0]{error}, 'not_in_room',
    'leaving again is refused');
is($bob->call('leave_room', 'r2')->[0]{error}, 'not_in_room',
    'leaving a room one is not in is refused');

# one room at a time

$alice->flush_events;
$bob->flush_events;
$dave->flush_events;
is($bob->call('enter_room', 'r2')->[0], 2, 'entering another room');
is_deeply($alice->event('bye'), ['bobby', 1, $bob->id],
    'leaves the first one with bye');
is_deeply($dave->event('welcome'), ['bobby', 2, $bob->id],
    'and is welcomed in the second');

# disconnect

$alice->flush_events;
$carol->flush_events;
$bob->close_socket;
is_deeply($dave->event('bye'), ['bobby', 1, $bob->id],
    'a disconnect says bye to the room');
my $rc = $carol->event('room_change');
is_deeply($rc, [['r1', 'r2'], { r1 => 1, r2 => 1 }],
    'and room_change to everybody');

$dave->send_text('41');
is_deeply($carol->event('room_change'), [['r1'], { r1 => 1 }],
    'a Socket.IO DISCONNECT leaves the room, which goes with its last member');

$alice->close_socket;
is_deeply($carol->event('room_change'), [[], {}], 'no rooms are left');

my $st = $t->status_json;
is($st->{rooms}, 0, 'the zone has no rooms');
is($st->{members}, 0, 'and no members');

$t->done;
