#!/usr/bin/perl

# What comes from Redis is not trusted: messages of a wrong form on noom's
# channels and on the emitter's are dropped, counted and logged, and the
# members get nothing of them; a well-formed one still arrives.  The node
# reaches Redis through its unix socket, with a password and a database;
# noom_redis's own mistakes stop the configuration.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

plan skip_all => 'no redis-server' unless Noom::Redis::available();

my $redis = Noom::Redis->new(password => 'pass word');
my $t = $redis->node(unix => 1, db => 3);

my $alice = Noom::SIO->connect_on_worker($t, 0);
my $bob = Noom::SIO->connect_on_worker($t, 1);
$alice->call('enter_room', 'r1');
$bob->call('enter_room', 'r1');
$alice->flush_events;

my $id = 'x' x 20;
my @bad = (
    ['noom:r:r1', 'hello'],
    ['noom:r:r1', 'noom1 X - - ["a"]'],
    ['noom:r:r1', 'noom1 R short - ["a"]'],
    ['noom:r:r1', 'noom1 R - shortid ["a"]'],
    ['noom:r:r1', 'noom1 U - - ["a"]'],
    ['noom:r:r1', 'noom1 R - - not json'],
    ['noom:r:r1', 'noom1 R - - {"a":1}'],
    ['noom:r:r1', 'noom1 R - - [1,2]'],
    ['noom:r:r1', 'noom1 R - - ["a",'],
    ['noom:r:r1', "noom1 R - - [\"\xff\xfe\"]"],
    ['noom:r:r1', 'noom1 R - - ["a",01]'],
    ['noom:r:r1', 'noom1 R - - ["a",tru]'],
    ['noom:r:r1', 'noom1 R - - ["a"],'],
    ['noom:r:r1', 'noom1 R - - ["a",{"k" 1}]'],
    ['noom:rooms', '1'],
    ['noom:rooms', 'x 1 r1'],
    ['noom:rooms', '99 -5 r1'],
    ['socket.io#/#r1#', 'not msgpack at all'],
    ['socket.io#/#r1#', "\x93\xa1a\x01\x02"],
    ['socket.io#/#', "\x93\xa7emitter\x82\xa4type\x02\xa4data\x91\xc4\x01x"
        . "\x80"],
);

for my $b (@bad) {
    is($redis->cli('PUBLISH', @$b), 2, "published to $b->[0]: both "
        . 'workers hear it');
}

ok($t->wait_log(qr/redis: .*dropped/), 'the drops are logged');
ok($alice->no_event('a') && $bob->no_event('a', 0.1),
    'the members got none of it');

my $st = $t->status_json->{redis};
is($st->{bad}, 2 * @bad, 'each worker counted each bad message');

is($redis->cli('PUBLISH', 'noom:r:r1', "noom1 U - $id [\"a\"]"), 2,
    'a unicast to an id that is nobody');
is($redis->cli('PUBLISH', 'noom:r:r1', 'noom1 R - - ["good",1]'), 2,
    'a well-formed event');
is_deeply($alice->event('good'), [1], 'arrives');
is_deeply($bob->event('good'), [1], 'at both workers');

# the scanner of the hot events reads most; jansson what it declines
is($redis->cli('PUBLISH', 'noom:r:r1',
    'noom1 R - - ["nested",{"k":[1,null,true,-2.5e3]},"\u00e9"]'), 2,
    'an event with an object, a number and an escape');
is_deeply($alice->event('nested'),
    [{ k => [1, undef, JSON::PP::true(), -2500] }, "\x{e9}"],
    'arrives whole');
ok($alice->no_event('a'), 'the unicast reached nobody');

is($t->status_json->{redis}{bad}, 2 * @bad, 'nothing more counted as bad');
is_deeply($alice->call('list_rooms'), [['r1'], { r1 => 2 }],
    'the room list is untouched');
is_deeply($alice->call('new_message', 'ok', 'r1'), [],
    'the room works on');
like($bob->event('new_message')->[0], qr/: ok$/, 'and delivers');

is($redis->cli('-n', 3, 'HLEN', 'noom:m:r1'), 2,
    'the members are in database 3');

# a Redis that forgot the script (SCRIPT FLUSH) gets it again

is($redis->cli('SCRIPT', 'FLUSH'), 'OK', 'the scripts are flushed');
is_deeply($alice->call('leave_room'), [], 'a leave after the flush');
is($alice->call('enter_room', 'r1')->[0], 2,
    'and a join work, with the count of Redis');
ok($t->wait_log(qr/script not loaded, sending it again/),
    'the script was sent again after NOSCRIPT');

# configuration mistakes name the directive

my $c = Noom::Test->new(workers => 1);
for my $bad (['127.0.0.1:6379 db=x', qr/"noom_redis": invalid "db=x"/],
    ['127.0.0.1:6379 user=x', qr/"noom_redis": unknown parameter "user=x"/],
    ['127.0.0.1:99999', qr/"noom_redis": invalid port/],
    ['127.0.0.1:6379; noom_recovery 2m',
        qr/"noom_recovery" cannot be used with "noom_redis"/])
{
    $c->write_conf(<<"EOF");
%%TEST_GLOBALS%%
events { }
http {
    noom_redis $bad->[0];
    server { listen 127.0.0.1:%%PORT%%; location /ws { noom_rooms; } }
}
EOF
    my ($ok, $out) = $c->test_conf;
    ok(!$ok && $out =~ $bad->[1], "noom_redis $bad->[0] is refused")
        or diag $out;
}

$t->done;
