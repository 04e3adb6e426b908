#!/usr/bin/perl

# Redis stops for five seconds during a chat and comes back empty (no
# persistence), as after a restart.  Meanwhile no worker crashes or
# blocks; each node's own members still talk, an event that should have
# reached another node is refused with "busy", joins are refused with
# "busy".  When Redis is back, every worker re-registers its members: the
# rooms are whole again without the clients doing anything, and nothing
# is delivered twice.  Then Redis is stopped without closing its sockets
# (SIGSTOP): the silent link is given up after 3 s and made again.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;
use Time::HiRes qw(sleep time);

plan skip_all => 'no redis-server' unless Noom::Redis::available();

my $redis = Noom::Redis->new;
my @node = map { $redis->node } 1 .. 2;
my @pids = map { [sort $_->worker_pids] } @node;

my $alice = Noom::SIO->connect_on_worker($node[0], 0);
my $bob = Noom::SIO->connect_on_worker($node[0], 1);
my $carol = Noom::SIO->connect_on_worker($node[1], 0);
my $dave = Noom::SIO->connect_on_worker($node[1], 1);

$_->[0]->call('nickname', $_->[1])
    for [$alice, 'alice'], [$bob, 'bob'], [$carol, 'carol'], [$dave, 'dave'];

$alice->call('enter_room', 'r1');
$bob->call('enter_room', 'r1');
is($carol->call('enter_room', 'r1')->[0], 3, 'three in r1 on two nodes');
$alice->call('new_message', 'before', 'r1');
is($carol->event('new_message')->[0], 'alice: before', 'chat crosses');
$_->flush_events for $alice, $bob, $carol;

my $t0 = time;
$redis->stop;

ok($redis->wait_linked($_, 0), 'a node sees the link down') for @node;

my $r = $alice->call('new_message', 'during', 'r1');
is($r->[0]{error}, 'busy',
    'an event for a room with members on another node gets busy');
is($bob->event('new_message')->[0], 'alice: during',
    'the member on the same node gets it all the same');
ok($carol->no_event('new_message'), 'the other node does not');

is($bob->call('new_message', 'local', 'r1')->[0]{error}, 'busy',
    'from the other worker too');
is($alice->event('new_message')->[0], 'bob: local',
    'and the same node\'s member gets it');

is($alice->call('offer', {}, 'r1', $carol->id)->[0]{error}, 'busy',
    'an offer to a member of another node gets busy');

is($dave->call('enter_room', 'r1')->[0]{error}, 'busy',
    'joins are refused with busy while Redis is away');
is_deeply($dave->call('list_rooms'), [['r1'], { r1 => 1 }],
    'list_rooms shows this node\'s own members meanwhile');

# five seconds down, then back, empty: the time Redis is away is what this
# test is about, the one fixed wait of the suite

sleep(5 - (time - $t0)) if time - $t0 < 5;
$redis->start;

ok($redis->wait_linked($_), 'a node links again') for @node;
ok(wait_members(3), 'the members are registered again');

is_deeply($dave->call('list_rooms'), [['r1'], { r1 => 3 }],
    'list_rooms shows the whole room again');

is_deeply($alice->call('new_message', 'after', 'r1'), [],
    'chat is acked again');
is($carol->event('new_message')->[0], 'alice: after',
    'the other node gets the new line, not the refused one');
is($bob->event('new_message')->[0], 'alice: after',
    'the same node gets it once');
ok($carol->no_event('new_message') && $bob->no_event('new_message'),
    'nothing comes twice');

my $j = $dave->call('enter_room', 'r1');
is($j->[0], 4, 'a join works again, with the cluster\'s count');
is(scalar @{ $j->[1] }, 3, 'and lists the three members');

# Redis stops answering without closing (SIGSTOP, as a cut network):
# a link with a command unanswered for 3 s goes down and is made again

$_->flush_events for $alice, $bob, $carol, $dave;
kill 'STOP', $redis->{pid};
ok($redis->wait_linked($_, 0, 15), 'a node gives up a silent link')
    for @node;
is($alice->call('new_message', 'silent', 'r1')->[0]{error}, 'busy',
    'meanwhile an event for the other node gets busy');
kill 'CONT', $redis->{pid};
ok($redis->wait_linked($_), 'a node links again once Redis answers')
    for @node;
is_deeply($alice->call('new_message', 'awake', 'r1'), [],
    'chat is acked again');
is($carol->event('new_message')->[0], 'alice: awake',
    'and crosses to the other node');

is_deeply([map { [sort $_->worker_pids] } @node], \@pids,
    'no worker was replaced');
my $st = $node[0]->status_json;
is($st->{worker_crashes}, 0, 'no crash counted');
ok($st->{redis}{reconnects} >= 2, 'both workers counted a reconnect');
ok($st->{redis}{drops} >= 2, 'the refused events are counted');

$node[1]->check;
$node[0]->done(allow => qr/redis/);

###############################################################################

sub wait_members {
    my ($n) = @_;
    return Noom::Test::wait_until(
        sub { ($redis->cli('HLEN', 'noom:m:r1') // 0) == $n },
        "Redis has $n members of r1");
}
