#!/usr/bin/perl

# The original app's flow through the official socket.io-client (node).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

Noom::Test::need_node_modules('socket.io-client');

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOC')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; }
    }
}
EOC

my $out = `node $Noom::Test::TOP/t/js/app_flow.mjs ${\ $t->port} 2>&1`;
my $rc = $?;
my @lines = split /\n/, $out;
diag($_) for grep { !/^ok / } @lines;
is($rc, 0, 'socket.io-client runs the original app\'s flow');
ok(scalar(grep { /^ok / } @lines) >= 12, 'with all its checks');

$t->done;
