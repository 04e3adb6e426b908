#!/usr/bin/perl

# Socket.IO v5 over HTTP long-polling on the location that plays the
# reference server of the official Socket.IO test suite (noom_protocol_test
# socket.io), as that suite's polling cases do it: the handshake, CONNECT
# and its answer, events and acks, a binary event with its attachments as
# base64 packets, DISCONNECT, and a socket moving to a WebSocket mid-way.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Noom::Test;

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    keepalive_timeout 0;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /socket.io/ { noom_protocol_test socket.io; }
    }
}
EOF

my $P = '/socket.io/?EIO=4&transport=polling';

# the packets of the next GET that has any but pings (which get pongs)
sub packets {
    my ($sid) = @_;
    for (1 .. 5) {
        my ($st, undef, $body) = $t->req('GET', "$P&sid=$sid");
        return ("status $st") if $st != 200;
        my @p = grep { $_ ne '2' } split /\x1e/, $body;
        $t->req('POST', "$P&sid=$sid", '3')
            if grep { $_ eq '2' } split /\x1e/, $body;
        return @p if @p;
    }
    return ();
}

my ($st, undef, $body) = $t->req('GET', $P);
my $sid = decode_json(substr($body, 1))->{sid};
ok($sid, 'the polling handshake');

$t->req('POST', "$P&sid=$sid", '40');
my @p = packets($sid);
like($p[0], qr/^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/, 'CONNECT is answered');
my $id = decode_json(substr($p[0], 2))->{sid};
isnt($id, $sid, 'with a Socket.IO sid that is not the Engine.IO one');
@p = (@p[1 .. $#p], @p > 1 ? () : packets($sid));
is($p[0], '42["auth",{}]', 'then 42["auth",{}]');

$t->req('POST', "$P&sid=$sid", '42["message",1,"2"]' . "\x1e"
    . '42456["message-with-ack",1,"2"]');
@p = packets($sid);
push @p, packets($sid) if @p < 2;
is_deeply(\@p, ['42["message-back",1,"2"]', '43456[1,"2"]'],
    'two events in one POST: the event and the ack come back in order');

$t->req('POST', "$P&sid=$sid", '451-["message",{"_placeholder":true,"num":0}]'
    . "\x1ebAQID");
@p = packets($sid);
push @p, packets($sid) if @p < 2;
is_deeply(\@p, ['451-["message-back",{"_placeholder":true,"num":0}]',
    'bAQID'], 'a binary event and its attachment as a base64 packet');

# the same socket moves to a WebSocket

my $ws = Noom::WS->connect($t,
    path => "/socket.io/?EIO=4&transport=websocket&sid=$sid");
is($ws->status, 101, 'the upgrade WebSocket is accepted');
$ws->send_text('2probe');
is(next_text($ws), '3probe', '3probe');
$ws->send_text('5');
$ws->send_text('42["message","on ws"]');
is(next_text($ws), '42["message-back","on ws"]',
    'the socket goes on over the WebSocket');
$ws->send_text('41');
$ws->send_text('40');
like(next_text($ws), qr/^40\{"sid"/, 'DISCONNECT and a new CONNECT on it');
$ws->close_socket;

# DISCONNECT over polling

($st, undef, $body) = $t->req('GET', $P);
$sid = decode_json(substr($body, 1))->{sid};
$t->req('POST', "$P&sid=$sid", '40');
packets($sid);
$t->req('POST', "$P&sid=$sid", "41\x{1e}1");
($st) = $t->req('GET', "$P&sid=$sid");
is($st, 400, 'DISCONNECT and close: the session is gone');

$t->done;

sub next_text {
    my ($ws) = @_;
    for (;;) {
        my $f = $ws->recv_frame(15) or return undef;
        next if $f->{op} eq 'text' && $f->{data} eq '2'
            && $ws->send_text('3');
        return $f->{data};
    }
}
