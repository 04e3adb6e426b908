#!/usr/bin/perl

# The web client (html/) in Debian's Chromium, driven by playwright-core
# (t/js/browser.mjs): a three-person mesh call through nginx with four
# workers, chat, the lobby's live counts, room_full, mute, camera off,
# camera switch, screen share, leaving, an nginx reload mid-call, and text
# from other people staying text.  Each line the script prints as
# "ok - ..." / "not ok - ..." becomes a test here.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Noom::Test;

my $top = $Noom::Test::TOP;

Noom::Test::need_browser();

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_room_members 3;
    # nothing answers there: the pages must still connect over host
    # candidates, with these in every RTCPeerConnection
    noom_ice_server stun:127.0.0.1:%%PORT_1%%;
    noom_ice_server turn:127.0.0.1:%%PORT_1%%?transport=udp;
    noom_turn_secret browser-test-secret;
    server {
        listen 127.0.0.1:%%PORT%%;
        %%WEB_CLIENT%%
        location /ws { noom_rooms; }
        location /status { noom_status; }
    }
}
EOF

my $t0 = time;
my $pid = open(my $out, '-|', 'node', "$top/t/js/browser.mjs", $t->port,
    $t->master_pid) or die "node: $!";

# the script's comments are notes (prove -v shows them), after a failure
# they are diagnostics
Noom::Test::relay_tap($out);
close $out;
my $rc = $? >> 8;

is($rc, 0, 'the browser script exits 0');
note(sprintf('the browser test took %.1f s', time - $t0));

$t->done;
