#!/usr/bin/perl

# The admin panel (noom_admin) sees polling sessions as they are: the
# socket list says "polling" for a socket on HTTP long-polling, server_stats
# counts it in pollingClientsCount, and its upgrade comes as socket_updated
# with the new transport, after which it counts no more.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_admin on; noom_admin_auth off; }
        location /status { noom_status; }
    }
}
EOF

my $P = '/ws/?EIO=4&transport=polling';

# a polling client in "/"
my (undef, undef, $body) = $t->req('GET', $P);
my $sid = decode_json(substr($body, 1))->{sid};
$t->req('POST', "$P&sid=$sid", '40');
my (undef, undef, $connect) = $t->req('GET', "$P&sid=$sid");
like($connect, qr/^40\{"sid"/, 'a polling client joins "/"');
my $id = decode_json((split /\x1e/, substr($connect, 2))[0])->{sid};

my $admin = Noom::SIO->connect($t, nsp => '/admin',
    path => '/ws/?EIO=4&transport=websocket');
my $all = $admin->event('all_sockets');
my ($sock) = grep { $_->{id} eq $id } @{ $all ? $all->[0] : [] };
is($sock && $sock->{transport}, 'polling', 'the panel lists it on polling');
is($sock && $sock->{handshake}{query}{transport}, 'polling',
    'and so does its handshake');
my $stats = $admin->event('server_stats');
is($stats && $stats->[0]{pollingClientsCount}, 1,
    'server_stats counts one polling client');

# the upgrade

my $ws = Noom::WS->connect($t, path => "/ws/?EIO=4&transport=websocket&sid=$sid");
$ws->send_text('2probe');
my $f = $ws->recv_frame(15);
is($f && $f->{data}, '3probe', 'the client probes a WebSocket');
$ws->send_text('5');

my $u = $admin->event('socket_updated');
is_deeply($u && $u->[0], { id => $id, nsp => '/', transport => 'websocket' },
    'socket_updated tells the panel its new transport');

# the next server_stats after the upgrade counts it no more
for (1 .. 5) {
    $stats = $admin->event('server_stats', 5);
    last if !$stats || $stats->[0]{pollingClientsCount} == 0;
}
is($stats && $stats->[0]{pollingClientsCount}, 0,
    'after the upgrade no polling client is counted');
is($t->status_json->{upgrades}, 1, 'the status counts the upgrade');

$ws->close_socket;
$t->done;
