#!/usr/bin/perl

# Three nginx nodes of two workers each and one Redis: the Noom event set
# with clients on every node and worker, as rooms.t has it across workers
# of one nginx: counts, members, welcome and bye, room_change and
# list_rooms of the whole cluster, chat in order, signaling with toId
# across nodes, rooms kept apart.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

plan skip_all => 'no redis-server' unless Noom::Redis::available();

my $redis = Noom::Redis->new;
my @node = map {
    $redis->node(location => 'noom_admin on; noom_admin_auth off;')
} 1 .. 3;

# alice and bob on node 1, carol and dave on node 2, erin and frank on
# node 3, one per worker
my ($alice, $bob, $carol, $dave, $erin, $frank) = map {
    Noom::SIO->connect_on_worker($node[int($_ / 2)], $_ % 2)
} 0 .. 5;

my %nick;
@nick{ map { $_->id } $alice, $bob, $carol, $dave, $erin, $frank }
    = qw(alice bob carol dave erin frank);

for my $s ($alice, $bob, $carol, $dave, $erin, $frank) {
    $s->call('nickname', $nick{ $s->id });
}

ok(wait_nodes($node[0], 3), 'the status counts three live nodes');

# joins across nodes

is_deeply($alice->call('enter_room', 'r1'), [1, [], []],
    'the first member gets count 1 and no members');
ok(room_change($frank, [['r1'], { r1 => 1 }]),
    'a socket of another node sees the new room');

is_deeply($carol->call('enter_room', 'r1'), [2, [peer($alice)], []],
    'a member on node 2 gets count 2 and the member of node 1');
is_deeply($alice->event('welcome'), ['carol', 2, $carol->id],
    'welcome crosses from node 2 to node 1');

my $r = $erin->call('enter_room', 'R1');
is($r->[0], 3, 'a third member, on node 3, in another case, counts 3');
is_deeply(sorted($r->[1]), sorted([peer($alice), peer($carol)]),
    'and gets both members of the other nodes');
is_deeply($alice->event('welcome'), ['erin', 3, $erin->id],
    'node 1 sees welcome');
is_deeply($carol->event('welcome'), ['erin', 3, $erin->id],
    'node 2 sees welcome');
ok($erin->no_event('welcome'), 'the newcomer gets no welcome of its own');

is_deeply(joined($bob, 'r1'),
    [4, sorted([map { peer($_) } $alice, $carol, $erin])],
    'a member on the other worker of node 1 sees everyone');
is_deeply($erin->event('welcome'), ['bob', 4, $bob->id],
    'node 3 sees the welcome of node 1\'s second worker');
is_deeply($alice->event('welcome'), ['bob', 4, $bob->id],
    'the other worker of the same node sees it once');

is_deeply($dave->call('enter_room', 'r2'), [1, [], []],
    'another room on node 2 starts with one member');

ok(room_change($frank, [['r1', 'r2'], { r1 => 4, r2 => 1 }]),
    'room_change lists the cluster\'s rooms in creation order');
is_deeply($frank->call('list_rooms'), [['r1', 'r2'], { r1 => 4, r2 => 1 }],
    'list_rooms acks the same on any node');
is_deeply($dave->call('list_rooms'), [['r1', 'r2'], { r1 => 4, r2 => 1 }],
    'and on another');

is_deeply(joined($dave, 'r1'),
    [5, sorted([map { peer($_) } $alice, $bob, $carol, $erin])],
    'entering a second room leaves the first');
ok(room_change($frank, [['r1'], { r1 => 5 }]),
    'the emptied room goes from the list');
for my $s ($alice, $bob, $carol, $erin) {
    $s->event('welcome');
}

# chat

is_deeply($alice->call('new_message', 'hello', 'r1'), [],
    'new_message is acked');
for my $s ($bob, $carol, $dave, $erin) {
    my $m = $s->event('new_message');
    is($m->[0], 'alice: hello', 'the line reaches ' . $nick{ $s->id });
    is($m->[1]{id}, $alice->id, 'with the sender\'s id');
}
ok($alice->no_event('new_message'), 'the sender does not get its own line');
ok($frank->no_event('new_message'), 'a socket in no room gets nothing');

for my $i (1 .. 20) {
    $erin->emit('new_message', "m$i", 'r1');
}
my @got = map { ($alice->event('new_message') // [''])->[0] } 1 .. 20;
is_deeply(\@got, [map { "erin: m$_" } 1 .. 20],
    'twenty lines from node 3 arrive at node 1 in order');
@got = map { ($carol->event('new_message') // [''])->[0] } 1 .. 20;
is_deeply(\@got, [map { "erin: m$_" } 1 .. 20], 'and at node 2 in order');
$_->flush_events for $bob, $dave;

is($frank->call('new_message', 'x', 'r1')->[0]{error}, 'not_in_room',
    'a socket outside the room cannot write into it');

# signaling

is_deeply($alice->call('offer', { sdp => 'v=0' }, 'r1', $erin->id), [],
    'an offer to a member of another node is acked');
is_deeply($erin->event('offer'), [{ sdp => 'v=0' }, $alice->id],
    'only that member gets it, with the sender\'s id');
ok($carol->no_event('offer', 0.2) && $bob->no_event('offer', 0.2),
    'the others do not');

is_deeply($erin->call('answer', { sdp => 'v=0 a' }, 'r1', $alice->id), [],
    'the answer goes back');
is_deeply($alice->event('answer'), [{ sdp => 'v=0 a' }, $erin->id],
    'and arrives');

$bob->call('offer', { sdp => 'bob' }, 'r1', $alice->id);
is_deeply($alice->event('offer'), [{ sdp => 'bob' }, $bob->id],
    'toId on the same node takes the rings');
ok($erin->no_event('offer', 0.2), 'and does not leave the node');

is_deeply($carol->call('ice', { candidate => 'c1' }, 'r1'), [],
    'an ice candidate to the room is acked');
for my $s ($alice, $bob, $dave, $erin) {
    is_deeply($s->event('ice'), [{ candidate => 'c1' }, $carol->id],
        'the candidate reaches ' . $nick{ $s->id });
}

is_deeply($alice->call('ice', undef, 'r1', $carol->id), [],
    'a null candidate with toId is acked');
is_deeply($carol->event('ice'), [undef, $alice->id], 'and arrives');

# leaving

is_deeply($erin->call('leave_room'), [], 'leave_room is acked');
for my $s ($alice, $bob, $carol, $dave) {
    is_deeply($s->event('bye'), ['erin', 4, $erin->id],
        'bye with the cluster\'s count reaches ' . $nick{ $s->id });
}
ok(room_change($frank, [['r1'], { r1 => 4 }]), 'the count falls everywhere');

$carol->close_socket;
for my $s ($alice, $bob, $dave) {
    is_deeply($s->event('bye'), ['carol', 3, $carol->id],
        'a closed socket of node 2 says bye to ' . $nick{ $s->id });
}

is_deeply($bob->call('nickname', 'bobby'), [], 'bob renames himself');
$nick{ $bob->id } = 'bobby';

is_deeply(joined($erin, 'r1'),
    [4, sorted([map { peer($_) } $alice, $bob, $dave])],
    'the room is whole: everyone in it is listed, by their new names');

my $st = $node[1]->status_json->{redis};
ok($st->{messages_out} > 0 && $st->{messages_in} > 0,
    'node 2 counts messages out to and in from Redis');
is($st->{bad}, 0, 'and no bad ones');

my $admin = Noom::SIO->connect($node[2], nsp => '/admin');
my $cl = $admin->event('server_stats')->[0]{cluster};
is($cl->{nodes}, 3, 'the admin panel\'s server_stats shows three nodes');
ok($cl->{linked} && $cl->{linkedWorkers} == 2, 'and the link up');
like($cl->{node}, qr/^[0-9a-f]{16}$/, 'and the node\'s name');

my (undef, undef, $prom) = $node[2]->get('/status?format=prometheus');
like($prom, qr/^noom_redis_nodes 3$/m, 'Prometheus: three nodes');
like($prom, qr/^noom_redis_linked_workers 2$/m,
    'Prometheus: both workers linked');
like($prom, qr/^noom_redis_messages_out_total [1-9]/m,
    'Prometheus: messages out');

$_->check for @node[1, 2];
$node[0]->done;

###############################################################################

sub peer {
    my ($s) = @_;
    return { id => $s->id, nickname => $nick{ $s->id } };
}

sub sorted {
    my ($l) = @_;
    return [sort { $a->{id} cmp $b->{id} } @$l];
}

# the ack of a join, its members sorted: Redis keeps them in no order
sub joined {
    my ($s, $room) = @_;
    my $r = $s->call('enter_room', $room);
    return [$r->[0], sorted($r->[1])];
}

# room_change events until one says this (the cluster's list settles)
sub room_change {
    my ($s, $want) = @_;
    require JSON::PP;
    my $t0 = Time::HiRes::time();
    while (Time::HiRes::time() - $t0 < 5) {
        my $ev = $s->event('room_change', 5 - (Time::HiRes::time() - $t0))
            // return 0;
        return 1 if JSON::PP->new->canonical->encode($ev)
            eq JSON::PP->new->canonical->encode($want);
    }
    return 0;
}

sub wait_nodes {
    my ($t, $n) = @_;
    return $t->wait_until(sub { $t->status_json->{redis}{nodes} == $n },
        "the status counts $n Redis nodes");
}
