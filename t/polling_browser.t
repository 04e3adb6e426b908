#!/usr/bin/perl

# The web client on a network that blocks WebSockets: the location answers
# every upgrade with 403, and three Chromium pages still meet, see each
# other's video (peer to peer) and chat, with signaling over HTTP
# long-polling alone (t/js/polling_call.mjs).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $top = $Noom::Test::TOP;

Noom::Test::need_browser();

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    log_format tr '$arg_transport $status';
    access_log %%DIR%%/logs/transport.log tr;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        %%WEB_CLIENT%%
        location /ws {
            # what a proxy that blocks WebSockets does
            if ($http_upgrade) {
                return 403;
            }
            noom_rooms;
        }
    }
}
EOF

open(my $out, '-|', 'node', "$top/t/js/polling_call.mjs", $t->port)
    or die "node: $!";
Noom::Test::relay_tap($out);
close $out;
is($? >> 8, 0, 'the script exits 0');

my @log = split /\n/, $t->read_file('logs/transport.log');
ok(scalar(grep { /^websocket 403$/ } @log), 'the pages tried WebSockets '
    . 'and were refused');
is(scalar(grep { /^websocket 101$/ } @log), 0, 'none was accepted');
cmp_ok(scalar(grep { /^polling 200$/ } @log), '>', 10,
    'signaling went over polling');

$t->done;
