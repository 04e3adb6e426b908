#!/usr/bin/perl

# The web client as people meet with it (t/js/client.mjs): six pages of
# Debian's Chromium in one room, at 1280x800 and 390x844: the pre-join
# screen, joining muted, the layout, the active speaker, a shared screen,
# pin and full screen, chat, duplicate names, a full room in the lobby,
# reload, Back, and contrast in both themes.  Each "ok - ..." line of the
# script becomes a test here.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Noom::Test;

my $top = $Noom::Test::TOP;

Noom::Test::need_browser();

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_room_members 6;
    # not the defaults: the page must learn them from the server
    noom_max_nickname_length 20;
    noom_max_message_length 2000;
    server {
        listen 127.0.0.1:%%PORT%%;
        %%WEB_CLIENT%%
        location /ws { noom_rooms; }
    }
}
EOF

my $t0 = time;
open(my $out, '-|', 'node', "$top/t/js/client.mjs", $t->port)
    or die "node: $!";

Noom::Test::relay_tap($out);
close $out;

is($? >> 8, 0, 'the client script exits 0');
note(sprintf('the client test took %.1f s', time - $t0));

$t->done;
