#!/usr/bin/perl

# Connection state recovery in the web client (html/), in Debian's
# Chromium through playwright-core (t/js/recovery_browser.mjs): three
# people in a call on nginx with four workers and noom_recovery on, and
# three reloads of nginx during the call.  Each page comes back with the
# same socket id and session (the CONNECT answers), the video keeps
# flowing on every link, no RTCPeerConnection is made again and no ICE
# restart or renegotiation happens, a chat message sent while away arrives
# once at each of the others; a late joiner gets the room's last messages
# from the join_room ack and shows them as text; a page that goes away
# leaves at once (DISCONNECT), without waiting out the window.
#
# The script prints "reload <n>" when it wants a reload; this test sends
# HUP to the master, waits for the new workers and answers
# "reloaded <n>".  Its "ok - ..." / "not ok - ..." lines become tests here.

use strict;
use warnings;

use lib 't/lib';
use IPC::Open2;
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
    # longer than the test waits for the bye of a page that went away
    noom_recovery 5m;
    noom_room_history 50;
    server {
        listen 127.0.0.1:%%PORT%%;
        %%WEB_CLIENT%%
        location /ws { noom_rooms; }
        location /status { noom_status; }
    }
}
EOF

my $t0 = time;
my $pid = open2(my $out, my $in, 'node', "$top/t/js/recovery_browser.mjs",
    $t->port) or die "node: $!";
$in->autoflush(1);

my $reloads = 0;
Noom::Test::relay_tap($out, line => sub {
    $_[0] =~ /^reload (\d+)$/ or return 0;
    my $r0 = time;
    $t->reload;
    $reloads++;
    note(sprintf('reload %d: new workers in %.2f s', $1, time - $r0));
    print $in "reloaded $1\n";
    return 1;
});
close $in;
waitpid($pid, 0);
my $rc = $? >> 8;

is($rc, 0, 'the browser script exits 0') or do {
    my @log = grep { /noom|\[(?:warn|error|crit|alert)\]/ }
        split /\n/, $t->error_log;
    diag("error.log: $_") for @log > 60 ? @log[-60 .. -1] : @log;
};
is($reloads, 3, 'nginx was reloaded three times');
note(sprintf('the recovery browser test took %.1f s', time - $t0));

$t->done;
