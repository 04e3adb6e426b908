#!/usr/bin/perl

# kill -9 of a whole nginx node (master and workers): the nodes left notice
# its silence within noom_redis_node_timeout and remove its members from
# the rooms, with bye to the members left and room_change to everybody,
# the counts right.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

plan skip_all => 'no redis-server' unless Noom::Redis::available();

my $redis = Noom::Redis->new;
# a node is dead after 6 s of silence: with 2 s, a live node whose worker
# a loaded machine (prove -j8) did not run for that long was taken for dead
my @node = map { $redis->node(node_timeout => '6s') } 1 .. 3;

my $alice = Noom::SIO->connect_on_worker($node[0], 0);
my $bob = Noom::SIO->connect_on_worker($node[1], 1);
my $carol = Noom::SIO->connect_on_worker($node[2], 0);
my $dave = Noom::SIO->connect_on_worker($node[2], 1);
my $lobby = Noom::SIO->connect($node[1]);

$alice->call('nickname', 'alice');
$bob->call('nickname', 'bob');
$carol->call('nickname', 'carol');
$dave->call('nickname', 'dave');

$alice->call('enter_room', 'r1');
$bob->call('enter_room', 'r1');
$carol->call('enter_room', 'r1');
is($dave->call('enter_room', 'r2')->[0], 1, 'dave alone in r2');
$alice->flush_events;
$bob->flush_events;

is_deeply($lobby->call('list_rooms'), [['r1', 'r2'], { r1 => 3, r2 => 1 }],
    'three in r1, one in r2');

# one worker of node 1 killed: its successor tells Redis its predecessor's
# members are gone, and the other nodes get bye

my $erin = Noom::SIO->connect_on_worker($node[0], 1);
$erin->call('nickname', 'erin');
is($erin->call('enter_room', 'r1')->[0], 4, 'erin on node 1 worker 1');
$_->flush_events for $alice, $bob, $carol;

my $pid = $node[0]->status_json->{workers}[1]{pid};
kill 'KILL', $pid;
my $bye = $alice->event('bye', 20);
is_deeply([@$bye[0, 2]], ['erin', $erin->id],
    'the same node\'s other worker says bye, from its zone (with its '
    . 'count, not the cluster\'s)');
is_deeply($bob->event('bye', 20), ['erin', 3, $erin->id],
    'another node gets bye once the successor has spoken to Redis');
ok($redis->wait_linked($node[0]), 'the successor links to Redis');
is($redis->cli('HLEN', 'noom:m:r1'), 3, 'Redis counts three again');
ok($bob->no_event('bye') && $alice->no_event('bye', 0.1),
    'nobody gets a second bye');

# the whole of node 3, at once
ok($node[2]->kill_group >= 3, 'node 3\'s master and workers are killed');

is_deeply($alice->event('bye', 20), ['carol', 2, $carol->id],
    'node 1 gets bye for the dead node\'s member');
is_deeply($bob->event('bye', 20), ['carol', 2, $carol->id],
    'node 2 too');
ok(room_change($lobby, [['r1'], { r1 => 2 }]),
    'room_change: r1 counts two, r2 is gone');
is_deeply($lobby->call('list_rooms'), [['r1'], { r1 => 2 }],
    'list_rooms agrees');
is($redis->cli('ZCARD', 'noom:nodes'), 2, 'two nodes are left in Redis');

my $reaped_1 = $node[0]->status_json->{redis}{reaped};
my $reaped = $reaped_1 + $node[1]->status_json->{redis}{reaped};
is($reaped, 2, 'the two members were removed once, by one node');

is_deeply([sort map { $_->{nickname} }
    @{ $alice->call('enter_room', 'r1')->[1] }], ['bob'],
    'the room lists only the living');

# a graceful stop: the node's members leave as their sockets close

$alice->flush_events;
$node[1]->check;
is_deeply($alice->event('bye', 20), ['bob', 1, $bob->id],
    'a node stopped gracefully says bye for its members');
is($node[0]->status_json->{redis}{reaped}, $reaped_1,
    'itself: nobody had to remove them');

$node[0]->done(allow => qr/exited on signal 9/);

###############################################################################

sub room_change {
    my ($s, $want) = @_;
    require JSON::PP;
    my $j = JSON::PP->new->canonical;
    for (1 .. 50) {
        my $ev = $s->event('room_change', 20) // return 0;
        return 1 if $j->encode($ev) eq $j->encode($want);
    }
    return 0;
}
