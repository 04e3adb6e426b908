#!/usr/bin/perl

# A Node.js script with @socket.io/redis-emitter emits into noom's rooms
# through Redis: the members of the room get the event on every node and
# worker, a room list and except are followed, an event to everybody
# reaches every socket, and to(socketId) reaches that one socket on
# whatever node holds it.

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

# to(socketId): in Socket.IO a socket id is a room of one; the worker that
# holds the socket listens to its channel, on whatever node it is
my @all = ($alice, $bob, $carol, $dave, $lobby);
ok(subscribed($redis, $_->id, 1), 'the channel of socket ' . $_->id
    . ' is listened to') for @all;

emit_each($redis,
    { to => [$carol->id], event => 'direct', args => ['for carol'] },
    { to => [$lobby->id], event => 'direct', args => ['for the lobby'] },
    { to => [$bob->id, 'r1'], event => 'mixed', args => [1] },
    { to => [$alice->id], except => ['r1'], event => 'left_out' },
    { to => [$dave->id], except => [$dave->id], event => 'left_out' },
    { to => [$bob->id, $bob->id, $alice->id], event => 'twice' },
    { event => 'after' });

is_deeply($carol->event('direct'), ['for carol'],
    'to(socketId) reaches a member of a room on the other node');
is_deeply($lobby->event('direct'), ['for the lobby'],
    'and a socket in no room');

# an event to all sockets, emitted last, comes after the others on every
# worker's link: what has not come before it does not come
for my $s (@all) {
    ok($s->event('after'), 'the last event reaches ' . $s->id);
}
is(kept($_, 'direct'), 0,
    'no other socket gets an event to one socket id') for @all;
is(kept($_, 'mixed'), 1,
    'to(socketId, room) reaches the socket and the members once each')
    for $alice, $bob, $carol, $dave;
is(kept($lobby, 'mixed'), 0, 'and nobody else');
is(kept($_, 'left_out'), 0, 'except(room) and except(socketId) are followed')
    for @all;
is(kept($bob, 'twice'), 1, 'a socket id named twice gets the event once');
is(kept($alice, 'twice'), 1, 'a socket id in a list of ids gets it');
is(kept($_, 'twice'), 0, 'the others do not') for $carol, $dave, $lobby;

# a socket that goes leaves its channel
my $gone = $dave->id;
$dave->send_text('41');
$dave->close_socket;
ok(subscribed($redis, $gone, 0), 'a closed socket\'s channel is left');

$node[1]->check;
$node[0]->done;


# Helpers.

# the channel of a socket id has that many subscribers (awaited)
sub subscribed {
    my ($redis, $id, $want) = @_;
    return Noom::Test::wait_until(sub {
        my $out = $redis->cli('PUBSUB', 'NUMSUB', "socket.io#/#$id#") // '';
        $out =~ /\n(\d+)\z/ && $1 == $want;
    }, "$want subscriber(s) on ${id}'s channel") ? 1 : 0;
}

sub emit_each {
    my ($redis, @list) = @_;
    my $json = JSON::PP->new->canonical->encode(\@list);
    my $out = `node $Noom::Test::TOP/t/js/redis_emit_each.mjs @{[
        $redis->port ]} '$json' 2>&1`;
    is($?, 0, 'the emitter script ran') or diag $out;
}

# how many events of that name the socket has received and kept
sub kept {
    my ($s, $name) = @_;
    return scalar grep { $_->{type} == 2 && defined $_->{name}
        && $_->{name} eq $name } @{ $s->{events} };
}
