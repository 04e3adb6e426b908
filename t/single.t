#!/usr/bin/perl

# One process: worker_processes 1, and master_process off.  All delivery is
# local then; rooms, signaling and the lobby work the same.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

for my $mode ('worker_processes 1', 'master_process off') {
    my $t = Noom::Test->new(workers => 1,
        single => $mode =~ /master/ ? 1 : 0);

    $t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws { noom_rooms; }
        location / { noom_rooms; }
        location /status { noom_status; }
    }
}
EOF

    my $a = Noom::SIO->connect($t);
    my $b = Noom::SIO->connect($t);
    $a->call('nickname', 'ann');
    $b->call('nickname', 'ben');
    is_deeply($a->call('enter_room', 'one'), [1, [], []], "$mode: a room");
    is($b->call('enter_room', 'one')->[0], 2, "$mode: a second member");
    is_deeply($a->event('welcome'), ['ben', 2, $b->id], "$mode: welcome");
    $b->call('new_message', 'hello', 'one');
    is($a->event('new_message')->[0], 'ben: hello', "$mode: chat");
    $b->emit('ice', undef, 'one', $a->id);
    is_deeply($a->event('ice'), [undef, $b->id], "$mode: signaling with toId");

    my $p = Noom::WS->connect($t, path => '/');
    my $q = Noom::WS->connect($t, path => '/');
    $p->send_text('{"type":"new_message","payload":"yo"}');
    my $f = $q->recv_message(15);
    is($f && $f->{data}, 'Anon: yo', "$mode: the plain lobby");

    $b->close_socket;
    is_deeply($a->event('bye'), ['ben', 1, $b->id], "$mode: bye");

    is($t->status_json->{members}, 1, "$mode: the zone counts one member");

    if ($mode =~ /master/) {
        # one process: a reload happens inside it, and its connections go
        # on (nginx itself takes no new ones after a reload in this mode)
        my $c = Noom::SIO->connect($t);
        $c->call('enter_room', 'one');
        $a->event('welcome');
        kill 'HUP', $t->master_pid;
        ok($t->wait_log(qr/reconfiguring/), "$mode: a reload");
        $a->call('new_message', 'still', 'one');
        is($c->event('new_message')->[0], 'ann: still',
            "$mode: the connections from before still talk through the "
            . "zone they had");
        $c->close_socket;
        is_deeply($a->event('bye'), ['Anon', 1, $c->id],
            "$mode: and leave it");
        ok(kill(0, $t->master_pid), "$mode: the process is alive");
    }

    $t->check;
}

done_testing();
