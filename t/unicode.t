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

# names that impersonate: refused for nicknames and room names alike

sub answer {
    my ($s, $event, $name) = @_;
    my $r = $s->call($event, $name);
    return 'no answer' unless ref $r eq 'ARRAY';
    return ref $r->[0] eq 'HASH' ? $r->[0]{error} : 'accepted';
}

my $carol = Noom::SIO->connect_on_worker($t, 0);

for my $case (
    ["\x{202e}evil", 'a right-to-left override'],
    ["a\x{200b}b", 'a zero width space inside'],
    ["\x{200b}", 'a zero width space alone'],
    ["\x{feff}", 'a byte order mark alone'],
    ["\x{feff}bob", 'a byte order mark first'],
    ["bob\x{2028}", 'a line separator'],
    ["a\x{2029}b", 'a paragraph separator'],
    ["\x{a0}", 'a no-break space alone'],
    ["\x{3000}", 'an ideographic space alone'],
    ["\x{a0}\x{3000}", 'only non-ASCII spaces'],
    [" bob", 'a space first'],
    ["bob ", 'a space last'],
    ["bo  b", 'two spaces'],
    ["a\x{2066}b\x{2069}", 'bidirectional isolates'],
    ["bo\x{ad}b", 'a soft hyphen'],
    ["a\x{200d}b", 'a zero width joiner between letters'],
    ["e\x{301}ve", 'a decomposed letter (NFD)'],
    ["\x{3164}", 'a Hangul filler'],
) {
    my ($name, $what) = @$case;
    is(answer($carol, 'nickname', $name), 'invalid_nickname',
        "a nickname with $what is refused");
    is(answer($carol, 'enter_room', $name), 'invalid_room_name',
        "a room name with $what is refused");
}

for my $case (
    ["\x{e9}ve", 'a composed letter (NFC)'],
    ["Mary Ann", 'a space between words'],
    ["\x{1f469}\x{200d}\x{1f4bb}", 'an emoji ZWJ sequence'],
    ["\x{2764}\x{fe0f}", 'an emoji with its variation selector'],
    ["\x{65e5}\x{672c}", 'CJK'],
    ["\x{5e9}\x{5dc}\x{5d5}\x{5dd}", 'Hebrew, right to left by itself'],
) {
    my ($name, $what) = @$case;
    is(answer($carol, 'nickname', $name), 'accepted',
        "a nickname with $what is accepted");
}
is(answer($carol, 'enter_room', "\x{e9}ve"), 'accepted',
    'a room name of a composed letter is accepted');
$carol->call('leave_room');

# room names that differ only by case are one room

my $dan = Noom::SIO->connect_on_worker($t, 0);
my $erin = Noom::SIO->connect_on_worker($t, 1);
is_deeply($dan->call('enter_room', 'Team Blue'), [1, [], []],
    'Team Blue is created');
is(($erin->call('enter_room', 'team BLUE') // [])->[0], 2,
    'team BLUE enters the same room');
my $list = $carol->call('list_rooms') // [[], {}];
is_deeply([grep { /team/i } @{ $list->[0] }], ['team blue'],
    'the lobby shows one room, its name in small letters');
is($list->[1]{'team blue'}, 2, 'with both members');
my $greek = Noom::SIO->connect($t);
is(($greek->call('enter_room', "\x{3a9}\x{e9}\x{c9}\x{416}") // [])->[0],
    1, 'a room of capitals in Greek, Latin-1 and Cyrillic');
my $greek2 = Noom::SIO->connect($t);
is(($greek2->call('enter_room', "\x{3c9}\x{c9}\x{e9}\x{436}") // [])->[0],
    2, 'is the room of the same small letters');
$greek->close_socket;
$greek2->close_socket;

$dan->flush_events;
is_deeply($erin->call('new_message', 'hi', 'Team Blue'), [],
    'a message to the room as the client named it');
is(($dan->event('new_message') // [])->[0], 'Anon: hi',
    'arrives in the room');
$erin->send_text('42["new_message","fast","TEAM blue"]');
is(($dan->event('new_message') // [])->[0], 'Anon: fast',
    'so does one in any case (the fast path)');
is_deeply($erin->call('offer', { sdp => 'x' }, 'TEAM BLUE'), [],
    'and an offer');
is_deeply($erin->call('leave_room', 'Team blue'), [],
    'leave_room in another case');

$t->done;
