#!/usr/bin/perl

# new_message and the signaling events have a path without jansson for the
# JSON subset clients send (ngx_noom_app_fast); everything else takes the
# jansson path.  Whichever path a packet takes, the others in the room must
# get the same values: here the same events go both ways, as raw packets
# written for one path or the other, from a nickname that needs escaping,
# across two workers.  Errors and invalid JSON keep their outcomes, and
# every event is counted once.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Encode qw(encode_utf8);
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_message_length 12;
    noom_max_signal_size 200;
    noom_room_events raise_hand;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
        location /status { noom_status; }
    }
}
EOF

my $J = Noom::SIO->json;
my $nick = "Zoë \"Z\" \\ ⚡";

my $alice = Noom::SIO->connect_on_worker($t, 0);
my $bob = Noom::SIO->connect_on_worker($t, 1);
my $carol = Noom::SIO->connect_on_worker($t, 1);

is_deeply($alice->call('nickname', $nick), [], 'a nickname with " and \\');
$_->call('enter_room', 'r1') for $alice, $bob, $carol;
$_->flush_events for $alice, $bob, $carol;

my $before = $t->status_json->{events_in};
my $sent = 0;
my $ack = 100;

# sends a raw packet with an ack id, returns the ack's arguments
sub raw_call {
    my ($s, $json) = @_;
    my $id = $ack++;
    $sent++;
    $s->send_text(encode_utf8("42$id$json"));
    return $s->ack($id);
}

# --- new_message ---

my @messages = (
    # raw JSON text,                         the text it means, path
    [ '"hi"',                                'hi',             'plain' ],
    [ '"hi"',                                'hi',             'compact' ],
    [ '"x\\",\\"r1"',                        'x","r1',         'the room inside' ],
    [ '"a\"b\\\\c\/d\n\t"',                  "a\"b\\c/d\n\t",  'escapes' ],
    [ '"déjà ⚡"',                           'déjà ⚡',        'UTF-8' ],
    [ '"caf\u00e9 \ud83d\ude00"',            "café 😀",        '\u: jansson' ],
    [ '"' . ('\\\\' x 12) . '"',           '\\' x 12,        'escapes to the limit' ],
);

for my $m (@messages) {
    my ($raw, $text, $what) = @$m;
    my $json = qq{["new_message",$raw,"r1"]};
    $json = qq{[ "new_message" ,\n$raw , "r1" ]} if $what eq 'plain';

    is_deeply(raw_call($alice, $json), [], "new_message ($what) is acked");

    my $e = $bob->event('new_message');
    is_deeply($e && $e->[0], "$nick: $text",
        "new_message ($what): the line on the other worker");
    is_deeply($e && [ @{ $e->[1] }{qw(id nickname text)} ],
        [ $alice->id, $nick, $text ], "new_message ($what): the details");
    like($e && $e->[1]{ts}, qr/^\d{13}$/, "new_message ($what): ts in ms");
    ok($carol->event('new_message'), "new_message ($what): carol too");
}

is(raw_call($alice, '["new_message","' . ('\\\\' x 13) . '","r1"]')
       ->[0]{error}, 'message_too_long',
   'the limit counts an escape as the one byte it means');
is(raw_call($alice, q{["new_message","hello","r2"]})->[0]{error},
   'not_in_room', 'another room: not_in_room');
is_deeply(raw_call($alice, q{["new_message","one","r\u0031"]}), [],
    'a room name written with \u is the same room');
is($bob->event('new_message')->[1]{text}, 'one', '... and it arrives');
is_deeply(raw_call($alice, q{["new_message","one+","R1"]}), [],
    'a room name in other case is the same room');
is($bob->event('new_message')->[1]{text}, 'one+', '... and it arrives');
is_deeply(raw_call($alice, q{["new_message","two","r1",{"x":1}]}), [],
    'an extra trailing argument is allowed');
is($bob->event('new_message')->[1]{text}, 'two', '... and it arrives');
is(raw_call($alice, q{["new_message",7,"r1"]})->[0]{error}, 'bad_request',
    'a text that is no string: bad_request');
ok($bob->no_event('new_message'), 'no refused message reached bob');
$carol->flush_events;

# --- signaling ---

my $offer = { type => 'offer', sdp => "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n",
              n => [ 1, -2, 0, JSON::PP::true(), JSON::PP::false(), undef ],
              e => {} };
my @signals = (
    # raw JSON,                             what it means,  path
    [ $J->encode($offer),                   $offer,         'object' ],
    [ 'null',                               undef,          'null' ],
    [ '{ "candidate" : "c" ,"sdpMLineIndex":0 }',
      { candidate => 'c', sdpMLineIndex => 0 },             'spaces' ],
    [ '{"x":1.5,"y":1e2,"z":12345678901234567}',
      { x => 1.5, y => 100, z => 12345678901234567 },       'numbers' ],
    [ '{"u":"\u00e9"}',                     { u => 'é' },   '\u' ],
    [ ('[' x 40) . (']' x 40),              [ ([]) ],       'deep' ],
);

for my $s (@signals) {
    my ($raw, $value, $what) = @$s;
    is_deeply(raw_call($alice, qq{["offer",$raw,"r1"]}), [],
        "offer ($what) is acked");
    my $e = $bob->event('offer');
    if ($what eq 'deep') {
        my $d = $e->[0];
        my $depth = 0;
        while (ref $d eq 'ARRAY' && @$d) { $d = $d->[0]; $depth++ }
        is($depth, 39, 'offer (deep): 40 levels arrive');
    } else {
        is_deeply($e && $e->[0], $value, "offer ($what): the payload");
    }
    is($e && $e->[1], $alice->id, "offer ($what): fromId");
    ok($carol->event('offer'), "offer ($what): carol too");
}

is_deeply(raw_call($alice, '["ice",{"c":1},"r1","' . $bob->id . '"]'), [],
    'ice with toId is acked');
is_deeply($bob->event('ice'), [ { c => 1 }, $alice->id ], 'bob gets it');
ok($carol->no_event('ice'), 'carol does not');
is_deeply(raw_call($alice, '["ice",{"c":2},"r1",null]'), [],
    'toId null is the room');
is($bob->event('ice')->[0]{c}, 2, 'bob gets it');
is($carol->event('ice')->[0]{c}, 2, 'carol gets it');
is(raw_call($alice, '["ice",{"c":3},"r1","AAAAAAAAAAAAAAAAAAAA"]')
       ->[0]{error}, 'no_such_member', 'an unknown toId: no_such_member');
is(raw_call($alice, '["ice",{"c":3},"r1",5]')->[0]{error}, 'bad_request',
    'a toId that is no string: bad_request');
is(raw_call($alice, '["ice",{"c":3},"r2"]')->[0]{error}, 'not_in_room',
    'signaling into another room: not_in_room');
is_deeply(raw_call($alice, '["raise_hand",true,"r1"]'), [],
    'an event of noom_room_events');
is_deeply($bob->event('raise_hand'), [ JSON::PP::true(), $alice->id ],
    '... is relayed');

# noom_max_signal_size 200: a frame over 200 + name + 64 bytes is refused;
# spaces inside the payload count only where jansson keeps them
my $pad = 'x' x 200;
is_deeply(raw_call($alice, qq{["media_state",{"p" : ${\(' ' x 100)}"$pad"},"r1"]}),
    [], 'spaces jansson drops do not count against the limit');
is($bob->event('media_state')->[0]{p}, $pad, '... and it arrives');
is($carol->event('media_state')->[0]{p}, $pad, '... to carol too');
is(raw_call($alice, qq{["media_state",{"p":"${pad}yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"},"r1"]})
       ->[0]{error}, 'signal_too_large', 'a payload over the limit');
ok($bob->no_event('media_state') && $carol->no_event('media_state', 0.1),
   'nothing refused reached the others');

my $js = $t->status_json;
is($js->{events_in} - $before, $sent, "each of the $sent events counted once");

# --- invalid JSON closes, whichever path looked first ---

for my $bad ('["new_message","x","r1"',
             '["new_message","x","r1"]x',
             qq{["new_message","a\x01b","r1"]},
             '["new_message","\\q","r1"]',
             '["offer",{"a":1,},"r1"]',
             '["offer",01,"r1"]',
             '["offer",tru,"r1"]')
{
    my $s = Noom::SIO->connect($t);
    $s->call('enter_room', 'r1');
    $s->send_text("42$bad");
    my $p = $s->next_packet(5);
    $p = $s->next_packet(5) while $p && $p->{type} =~ /^\d$/;
    ok($p && $p->{type} =~ /^(close|eof)$/, "invalid JSON $bad: closed");
}

is_deeply(raw_call($alice, '["new_message","still here","r1"]'), [],
    'the room goes on');
is($bob->event('new_message')->[1]{text}, 'still here', '... for everyone');

$t->check;
done_testing;
