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

my $local = 0;
$local += $_->status_json->{members} for @node;
is($local, 6, 'the nodes\' own zones hold six members between them');

$_->check for @node[1, 2];
$node[0]->done;

###############################################################################

sub wait_empty {
    for (1 .. 200) {
        return 1 if ($redis->cli('EXISTS', 'noom:m:cap') // '') eq '0';
        Time::HiRes::sleep(0.02);
    }
    return 0;
}
