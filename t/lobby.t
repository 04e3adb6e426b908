#!/usr/bin/perl

# The tutorial's first phase: new WebSocket("ws://" + location.host) on a
# noom location, {"type","payload"} JSON, "<nickname>: <payload>" to every
# socket on every worker, the sender's own once (the tutorial's page shows
# your lines only from that echo); ordinary requests fall through to static
# files on the same location.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 4);

$t->write_file('html/index.html', "<p>phase one</p>\n");

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_message_length 100;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location / {
            noom_rooms;
            noom_worker_header on;
            root %%DIR%%/html;
        }
        location /ws { noom_rooms; }
    }
}
EOF

my ($status, $h, $body) = $t->get('/');
is($status, 200, 'a plain GET on the noom location is served by nginx');
is($body, "<p>phase one</p>\n", 'from the static files');

my @c = map { Noom::WS->connect_on_worker($t, $_, path => '/') } 0 .. 3;
is(scalar(grep { $_->status == 101 } @c), 4,
    'four lobby sockets, one on each worker');

# a loaded machine (prove -j8) took more than 3 s to bring one here
sub text_of {
    my ($ws) = @_;
    my $f = $ws->recv_message(15);
    return $f && $f->{op} eq 'text' ? $f->{data} : undef;
}

$c[0]->send_text('{"type":"new_message","payload":"hello"}');
is(text_of($_), 'Anon: hello', "worker $_->{worker} gets the default nickname")
    for @c[0 .. 3];

$c[1]->send_text('{"type":"nickname","payload":"bob"}');
$c[1]->send_text('{"type":"new_message","payload":"hi all"}');
is(text_of($_), 'bob: hi all', 'the nickname is used') for @c[0 .. 3];

$c[1]->send_text('{"type":"new_message","payload":"once"}');
text_of($_) for @c[0, 2, 3];
is(text_of($c[1]), 'bob: once', 'the sender gets its own line');
my $f = $c[1]->recv_message(0.3);
ok(!$f, 'once');

# a socket.io client on the other location is not in the lobby
my $sio = Noom::SIO->connect($t);
$c[2]->send_text('{"type":"new_message","payload":"lobby only"}');
text_of($_) for @c[0 .. 3];
ok($sio->no_event('new_message', 0.3), 'Socket.IO sockets do not get it');

# bad input: each closes only its own connection

my $x = Noom::WS->connect($t, path => '/');
$x->send_text('not json');
is($x->wait_close, 1007, 'invalid JSON closes with 1007');

$x = Noom::WS->connect($t, path => '/');
$x->send_text('{"type":"new_message","payload":5}');
is($x->wait_close, 1007, 'a payload that is no string closes with 1007');

$x = Noom::WS->connect($t, path => '/');
$x->send_text('{"type":"shout","payload":"x"}');
is($x->wait_close, 1008, 'an unknown type closes with 1008');

$x = Noom::WS->connect($t, path => '/');
$x->send_text('{"type":"new_message","payload":"' . ('x' x 101) . '"}');
is($x->wait_close, 1008, 'a message over noom_max_message_length closes '
    . 'with 1008');

$x = Noom::WS->connect($t, path => '/');
$x->send_text('{"type":"nickname","payload":"a\u0007b"}');
is($x->wait_close, 1008, 'an invalid nickname closes with 1008');

$x = Noom::WS->connect($t, path => '/');
$x->send_binary('{"type":"new_message","payload":"x"}');
is($x->wait_close, 1003, 'a binary message closes with 1003');

$c[3]->send_text('{"type":"new_message","payload":"still fine"}');
is(text_of($_), 'Anon: still fine', 'the others keep talking') for @c[0 .. 2];

$t->done;
