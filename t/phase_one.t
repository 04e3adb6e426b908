#!/usr/bin/perl

# The tutorial's first-phase page, served at "/" by the location that also
# takes its WebSocket (ws://<host>/, no path): two Chromium pages each see
# both people's lines, their own included, once.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $top = $Noom::Test::TOP;

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

my $out = `node $top/t/js/phase_one.mjs ${\ $t->port} 2>&1`;
my $rc = $?;
my @lines = split /\n/, $out;
diag($_) for grep { !/^ok / } @lines;
is($rc, 0, 'the phase-one page works in Chromium');
is(scalar(grep { /^ok / } @lines), 2, 'with both checks');

$t->done;
