#!/usr/bin/perl

# Fifty clients spread over three nginx nodes enter one room capped at six
# (noom_max_room_members, the default) all at once: the Lua script in Redis
# decides each join alone, so exactly six get in, whichever node they are
# on, and the others get room_full.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

plan skip_all => 'no redis-server' unless Noom::Redis::available();

my $redis = Noom::Redis->new;
my @node = map { $redis->node } 1 .. 3;

my @c = map { Noom::SIO->connect($node[$_ % 3]) } 0 .. 49;

for my $i (0 .. $#c) {
    $c[$i]->call('nickname', "n$i");
}

# every request on the wire before any answer is read
my @id = map { $_->emit_ack('enter_room', 'cap') } @c;
my @r = map { $c[$_]->ack($id[$_], 10) } 0 .. $#c;

my @in = grep { ref $r[$_][0] eq '' } 0 .. $#c;
my @full = grep { ref $r[$_][0] eq 'HASH'
    && $r[$_][0]{error} eq 'room_full' } 0 .. $#c;

is(scalar @r, 50, 'all fifty got an answer');
is(scalar @in, 6, 'exactly six got in');
is(scalar @full, 44, 'the other forty-four got room_full');

my %nodes = map { ($_ % 3) => 1 } @in;
diag 'members on nodes ' . join(',', sort keys %nodes);

is_deeply([sort { $a <=> $b } map { $r[$_][0] } @in], [1 .. 6],
    'the six were counted 1 to 6, each count once');
is($redis->cli('HLEN', 'noom:m:cap'), 6, 'Redis holds six members');
is_deeply($c[$full[0]]->call('list_rooms'), [['cap'], { cap => 6 }],
    'list_rooms says six, on any node');

# again with every node already hearing the room: one member on each,
# then the forty-seven others race for the three places left

$c[$_]->call('leave_room') for @in;
ok(wait_empty(), 'the room is gone once the six left');

is($c[$_]->call('enter_room', 'cap')->[0], $_ + 1,
    "a member on node $_ first") for 0 .. 2;

@id = map { $c[$_]->emit_ack('enter_room', 'cap') } 3 .. 49;
@r = map { $c[$_ + 3]->ack($id[$_], 10) } 0 .. $#id;
@in = grep { ref $r[$_][0] eq '' } 0 .. $#r;
is(scalar @in, 3, 'three of the forty-seven racing get in');
%nodes = map { (($_ + 3) % 3) => 1 } @in;
diag 'the three on nodes ' . join(',', sort keys %nodes);
is($redis->cli('HGET', 'noom:count', 'cap'), 6, 'Redis counts six');

# sockets that go while Redis decides leave nothing behind; a socket that
# asks twice before the answer is refused the second time

$c[$_]->call('leave_room') for 0 .. 49;
ok(wait_empty(), 'everybody left');

for my $i (0 .. 9) {
    $c[$i]->emit('enter_room', 'gone');
    $c[$i]->close_socket;
}
my $two = $c[10];
my @two = ($two->{ack_id}++, $two->{ack_id}++);
# both in one write: the second is read before Redis can answer the first
$two->raw(join '', map {
    Noom::WS::frame_bytes(data => "42$two[$_]"
        . Noom::SIO->json->encode(['enter_room', qw(one two)[$_]]))
} 0, 1);
my @ans = map { $two->ack($_, 10) } @two;
is($ans[0][0], 1, 'the first of two quick joins gets in');
is($ans[1][0]{error}, 'busy', 'the second is refused: one at a time');
ok(wait_empty('gone'), 'the joins of sockets that went are undone');
is_deeply($c[11]->call('list_rooms'), [['one'], { one => 1 }],
    'the list has only the room of the socket still there');
$two->call('leave_room');
ok(wait_empty('one'), 'and it goes too');

my $local = 0;
$local += $_->status_json->{members} for @node;
is($local, 0, 'the nodes\' own zones hold no member');

# noom_max_rooms holds for the cluster: two nodes of another database,
# two rooms at most between them

my @small = map { $redis->node(db => 1, http => 'noom_max_rooms 2;') } 1, 2;
my @s = map { Noom::SIO->connect($small[$_ % 2]) } 0 .. 3;
is($s[0]->call('enter_room', 'a')->[0], 1, 'room a on one node');
is($s[1]->call('enter_room', 'b')->[0], 1, 'room b on the other');
is($s[2]->call('enter_room', 'c')->[0]{error}, 'too_many_rooms',
    'a third room is refused on the first node');
is($s[3]->call('enter_room', 'd')->[0]{error}, 'too_many_rooms',
    'and on the second');
is($s[3]->call('enter_room', 'a')->[0], 2, 'an existing room can be joined');
$_->check for @small;

$_->check for @node[1, 2];
$node[0]->done;

###############################################################################

sub wait_empty {
    my ($room) = @_;
    $room //= 'cap';
    return Noom::Test::wait_until(
        sub { ($redis->cli('EXISTS', "noom:m:$room") // '') eq '0' },
        "Redis has no members of room $room");
}
