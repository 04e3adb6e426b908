#!/usr/bin/perl

# A lobby line relayed to another worker as soon as a client there has its
# 101 must reach that client, though its worker has not taken the socket
# over yet (the takeover is a posted event after the 101).  A test hook
# stalls worker 1 right after the 101 of a socket on /late, until a record
# is in its ring, then rings its bell in that same turn of the loop: the
# line must neither be skipped (worker 1 had no lobby socket counted) nor
# drained before the socket is in the lobby.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF2')->run;
%%TEST_GLOBALS%%
env NOOM_HOOK=upgraded:1/late;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location / { noom_rooms; noom_worker_header on; }
    }
}
EOF2

sub text_of {
    my ($ws, $timeout) = @_;
    my $f = $ws->recv_message($timeout // 15);
    return $f && $f->{op} eq 'text' ? $f->{data} : undef;
}

my $a = Noom::WS->connect_on_worker($t, 0, path => '/');
my $b = Noom::WS->connect_on_worker($t, 1, path => '/late');
is($b->status, 101, 'a lobby socket on worker 1, its takeover held back');

$a->send_text('{"type":"new_message","payload":"first"}');
is(text_of($a), 'Anon: first', 'the sender gets its line');
is(text_of($b), 'Anon: first',
    'the socket whose worker had not taken it over yet gets it too');

$a->send_text('{"type":"new_message","payload":"second"}');
is(text_of($a), 'Anon: second', 'the sender gets its next line');
is(text_of($b), 'Anon: second', 'and so does the other');
ok(!$b->recv_message(0.3), 'once each');

$b->send_text('{"type":"new_message","payload":"back"}');
is(text_of($a), 'Anon: back', 'it talks to the lobby');
is(text_of($b), 'Anon: back', 'and gets its own line');

$t->done;
