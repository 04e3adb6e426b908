#!/usr/bin/perl

# The tutorial's first-phase page, served at "/" by the location that also
# takes its WebSocket (ws://<host>/, no path): two Chromium pages each see
# both people's lines, their own included, once.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

# the page is t/js/phase_one's, not html/
Noom::Test::need_browser(html => 0);

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    types { text/html html; text/javascript js; }
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location / {
            noom_rooms;
            root %%TOP%%/t/js/phase_one;
        }
    }
}
EOF

my @lines = Noom::Test::node_script('the phase-one page works in Chromium',
    'phase_one.mjs', $t->port);
is(scalar(grep { /^ok / } @lines), 2, 'with both checks');

$t->done;
