#!/usr/bin/perl

# A Node.js script with @socket.io/redis-emitter emits into noom's rooms
# through Redis: the members of the room get the event on every node and
# worker, a room list and except are followed, and an event to everybody
# reaches every socket.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

plan skip_all => 'no redis-server' unless Noom::Redis::available();
Noom::Test::need_node_modules('redis', '@socket.io/redis-emitter');

my $redis = Noom::Redis->new;
my @node = map { $redis->node } 1 .. 2;

my $alice = Noom::SIO->connect_on_worker($node[0], 0);
my $bob = Noom::SIO->connect_on_worker($node[0], 1);
my $carol = Noom::SIO->connect_on_worker($node[1], 0);
my $dave = Noom::SIO->connect_on_worker($node[1], 1);
my $lobby = Noom::SIO->connect($node[1]);

$alice->call('enter_room', 'r1');
$carol->call('enter_room', 'r1');
$dave->call('enter_room', 'r1');
$bob->call('enter_room', 'r2');
$_->flush_events for $alice, $bob, $carol, $dave, $lobby;

my $port = $redis->port;
my $out = `node $Noom::Test::TOP/t/js/redis_emit.mjs $port r1 r2 2>&1`;
is($?, 0, 'the emitter script ran') or diag $out;

for my $s ([$alice, 'node 1'], [$carol, 'node 2'], [$dave, 'node 2 w1']) {
    is_deeply($s->[0]->event('announce'),
        ['hello', { n => 1, list => [JSON::PP::true(), undef, 2.5] }],
        "a member of the room on $s->[1] gets the event and its arguments");
}
ok($bob->no_event('announce') && $lobby->no_event('announce', 0.1),
    'others do not');

is_deeply($bob->event('to_both'), ["\x{e9}\x{2713}"],
    'an event to two rooms reaches the other room');
is_deeply($carol->event('to_both'), ["\x{e9}\x{2713}"],
    'and the first');

for my $s ($alice, $bob, $carol, $dave, $lobby) {
    is_deeply($s->event('to_all'), [-7], 'an event to all reaches a socket');
}

is_deeply($lobby->event('not_other'), ['x'],
    'except(room) keeps sockets outside that room');
is_deeply($alice->event('not_other'), ['x'], 'in another room too');
ok($bob->no_event('not_other'), 'and leaves out the members of that room');

my $in = 0;
$in += $_->status_json->{redis}{messages_in} for @node;
ok($in >= 4, 'the nodes count the emitter\'s messages in');

$node[1]->check;
$node[0]->done;
