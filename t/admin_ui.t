#!/usr/bin/perl

# The stock admin panel in Chromium (t/js/admin_ui.mjs): nginx serves
# @socket.io/admin-ui 0.5.1 as admin/build copies it, the panel logs into
# /admin on two workers, lists three clients with their nicknames and
# rooms, refuses a wrong password, and disconnects a client for real.
# TEST_NOOM_ADMIN_SCREENSHOT=docs/admin-ui.png keeps a screenshot.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

Noom::Test::need_browser(html => 0,
    modules => ['socket.io-client', '@socket.io/admin-ui']);
plan skip_all => 'npm install has not brought @socket.io/admin-ui'
    unless -f "$Noom::Test::TOP/node_modules/\@socket.io/admin-ui/ui/dist/index.html";

my $t = Noom::Test->new(workers => 2);
my $dir = $t->dir;

system("$Noom::Test::TOP/admin/build", "$dir/admin-ui") == 0
    or BAIL_OUT('admin/build failed');
ok(-f "$dir/admin-ui/index.html", 'admin/build copies the UI');

my $hash = `mkpasswd -m bcrypt -R 10 'pan3l' 2>/dev/null`;
$hash = `python3 -W ignore -c "import crypt; print(crypt.crypt('pan3l', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))" 2>/dev/null`
    unless $hash && $hash =~ /^\$2/;
chomp $hash;

$t->write_conf(<<"EOF")->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    include /etc/nginx/mime.types;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws {
            noom_rooms;
            noom_admin on;
            noom_admin_auth admin '$hash';
        }
        location /admin-ui/ { alias %%DIR%%/admin-ui/; }
    }
}
EOF

my (undef, $h) = $t->get('/admin-ui/');
like($h->{'content-type'} // '', qr{^text/html}, 'nginx serves the panel');

my @args = ($t->port, 'admin', 'pan3l');
push @args, $ENV{TEST_NOOM_ADMIN_SCREENSHOT}
    if $ENV{TEST_NOOM_ADMIN_SCREENSHOT};

my $pid = open(my $fh, '-|', 'node', "$Noom::Test::TOP/t/js/admin_ui.mjs",
    @args);
ok($pid, 'node runs t/js/admin_ui.mjs');
my $n = Noom::Test::relay_tap($fh, label => 'admin UI');
close $fh;
is($? >> 8, 0, 'the script exits with 0');
ok($n >= 14, 'the script ran its checks') or diag "only $n";

like($t->error_log, qr/admin login refused: invalid credentials/,
    'the wrong password is in the log');

$t->done;
