#!/usr/bin/perl

# A browser call forced through a real coturn (iceTransportPolicy "relay")
# with the credentials noom hands out carries video.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

plan skip_all => 'needs coturn' unless -x '/usr/bin/turnserver';
Noom::Test::need_browser();

my $t = Noom::Test->new(workers => 2);
my $turn = Noom::Test::free_port();
my $secret = 'relay-test-secret';

ok($t->start_coturn($turn, $secret), 'coturn is up');

$t->write_conf(<<"EOF")->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_ice_server turn:127.0.0.1:$turn?transport=udp;
    noom_turn_secret $secret;
    server {
        listen 127.0.0.1:%%PORT%%;
        %%WEB_CLIENT%%
        location /ws { noom_rooms; }
    }
}
EOF

Noom::Test::node_script('two browsers talk through the TURN relay',
    'turn_browser.mjs', $t->port);
$t->stop_coturn;
like($t->read_file('logs/turn.log'), qr/ALLOCATE processed, success/,
    'coturn made the allocations');
$t->done;
