#!/usr/bin/perl

# Unfinished messages hold memory (issue 15, point 2): a client may declare
# a large frame and send part of it.  noom_message_buffers bounds what one
# worker holds for messages being assembled (a client that would pass it is
# closed with 1013, the others go on), and noom_message_timeout closes a
# client whose unfinished message stopped arriving, which frees its buffer.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 1);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_message_buffers 1m;
    # long enough that the first two stalled messages still hold the budget
    # when the third comes, and that nothing this test sends is taken for
    # stalled on a loaded machine (prove -j8 on two cores)
    noom_message_timeout 5s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /echo {
            noom_protocol_test websocket;
            noom_max_payload 600000;
            noom_send_buffer 2m;
        }
        location /status { noom_status; }
    }
}
EOF

sub echo_ws { Noom::WS->connect($t, path => '/echo') }

# a frame that announces 500,000 bytes and sends 1,000 of them
sub start_big {
    my ($ws) = @_;
    my $head = Noom::WS::frame_bytes(op => 'text', len => 500000,
        data => 'x' x 1000);
    $ws->raw($head);
}

my ($a, $b, $c) = map { echo_ws() } 1 .. 3;
is(scalar(grep { $_->status == 101 } $a, $b, $c), 3, 'three clients');
start_big($a);
start_big($b);

# the first two fit in 1m; a small message from $c shows they were read
$c->send_text('ping-through');
my $f = $c->recv_message(5);
is($f && $f->{data}, 'ping-through', 'small messages go on meanwhile');

start_big($c);
is($c->wait_close(5), 1013, 'a third unfinished 500,000 bytes: closed with '
    . '1013');
is($c->close_reason, 'server busy', 'server busy');
is($t->status_json->{message_budget_closes}, 1, 'counted');

my $d = echo_ws();
$d->send_text('still here');
$f = $d->recv_message(5);
is($f && $f->{data}, 'still here', 'a new client is served');

# the two unfinished messages stop: closed after noom_message_timeout

is($a->wait_close(10), 1008, 'a stalled message closes its client with 1008');
is($a->close_reason, 'message timeout', 'message timeout');
is($b->wait_close(10), 1008, 'the other too');

# their buffers are free again: a whole 500,000-byte message in fragments

# (in one write: at a load of 20 the second frame, made and written after
# the first, came more than the 1 s noom_message_timeout was then after it,
# and the message was closed as stalled)
my $e = echo_ws();
my $msg = 'y' x 500000;
$e->raw(Noom::WS::frame_bytes(op => 'text', fin => 0,
        data => substr($msg, 0, 250000))
    . Noom::WS::frame_bytes(op => 'cont', fin => 1,
        data => substr($msg, 250000)));
$f = $e->recv_message(10);
is(length($f ? $f->{data} : ''), 500000,
    'the budget is free again: a 500,000-byte message is assembled');

$t->done;
