#!/usr/bin/perl

# Text people type, as browsers send it: lone UTF-16 surrogate escapes
# (a string cut inside an emoji) in chat text, nicknames, SDP, CONNECT
# payloads and lobby messages cost a U+FFFD, not the connection; and names
# that impersonate (invisible, bidirectional controls, format characters,
# look-alike rooms) are refused.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws {
            noom_rooms;
            noom_worker_header on;
        }
        location / {
            noom_rooms;
            noom_worker_header on;
        }
    }
}
EOF

my $FFFD = "\x{fffd}";
my $FFFD_UTF8 = "\xef\xbf\xbd";

# lone surrogates

my $alice = Noom::SIO->connect_on_worker($t, 0);
my $bob = Noom::SIO->connect_on_worker($t, 1);
$alice->call('enter_room', 'cut');
$bob->call('enter_room', 'cut');
$alice->flush_events;

$bob->send_text('421["new_message","half \ud83d","cut"]');
is_deeply($bob->ack(1), [], 'a chat text with a lone high surrogate is acked');
my $m = $alice->event('new_message');
is($m && $m->[1]{text}, "half $FFFD",
    'the others get it with U+FFFD in its place');
is($m && $m->[0], "Anon: half $FFFD", 'in the line too');

$bob->send_text('422["new_message","\ude00 \ud83d\ude00 \ud83d","cut"]');
is_deeply($bob->ack(2), [], 'a lone low surrogate, a pair and a high');
$m = $alice->event('new_message');
is($m && $m->[1]{text}, "$FFFD \x{1f600} $FFFD",
    'lone halves replaced, the pair kept');

$bob->send_text('423["new_message","\\\\ud83d","cut"]');
is_deeply($bob->ack(3), [], 'an escaped backslash before ud83d');
$m = $alice->event('new_message');
is($m && $m->[1]{text}, "\\ud83d", 'is six characters of text, untouched');

$bob->send_text('424["nickname","b\ud83do\udc00b"]');
is_deeply($bob->ack(4), [], 'a nickname with lone surrogates is accepted');
$bob->emit('new_message', 'hi', 'cut');
$m = $alice->event('new_message');
is($m && $m->[1]{nickname}, "b${FFFD}o${FFFD}b", 'with U+FFFD in their place');

$bob->send_text('425["offer",{"type":"offer","sdp":"v=0 \ud83d"},"cut"]');
is_deeply($bob->ack(5), [], 'an SDP with a lone surrogate is relayed');
$m = $alice->event('offer');
is($m && $m->[0]{sdp}, "v=0 $FFFD", 'with U+FFFD');

is_deeply($bob->call('list_rooms'), [['cut'], { cut => 2 }],
    'the sender is still connected');

my $c = Noom::SIO->connect($t, nsp => undef);
$c->send_text('40{"token":"\ud83d"}');
my $p = $c->next_packet(5);
is($p && $p->{type}, 0, 'a CONNECT payload with a lone surrogate connects');

my @lobby = map { Noom::WS->connect_on_worker($t, $_, path => '/') } 0, 1;
$lobby[0]->send_text('{"type":"nickname","payload":"\ud83dz"}');
$lobby[0]->send_text('{"type":"new_message","payload":"x\udfff"}');
my $f = $lobby[1]->recv_message(5);
is($f && $f->{data}, "${FFFD_UTF8}z: x$FFFD_UTF8",
    'the lobby: nickname and message with U+FFFD');
$_->close_socket for @lobby;

$t->done;
