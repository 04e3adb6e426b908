#!/usr/bin/perl

# A room list goes out to 1,024 sockets a turn of the event loop, so that a
# lobby of tens of thousands does not hold every chat message and signal
# behind the whole of it (issue 18: a chat p99 of 1.3 s at 100,000 sockets
# and 50 room changes a second).  2,500 sockets of bench/noomload and three
# watchers that connected after them (so they are served in the last slice)
# on one worker: after a change every socket gets the list exactly once,
# and a change made while a list is on its way is followed by one more
# list, to everyone, with the final state.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use POSIX qw(setpgid);
use Noom::Test;

my $top = $Noom::Test::TOP;
my $gen = "$top/bench/noomload";

system("make -s -C $top/bench noomload >/dev/null 2>&1") == 0 && -x $gen
    or plan skip_all => 'bench/noomload does not build';

my $N = 2500;

my $t = Noom::Test->new(workers => 1);
$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    %%TEST_GLOBALS_HTTP%%
    access_log off;
    # no pings: every frame the worker writes below is counted
    noom_ping_interval 10m;
    noom_ping_timeout 10m;
    # a list at once for every change; one more after a list on its way
    noom_room_change_interval 0;
    noom_event_rate off;
    server {
        listen 127.0.0.1:%%PORT%% backlog=4096;
        location /ws { noom_rooms; }
        location /status { noom_status; }
    }
}
EOF

# the actor before the crowd, the watchers after it
my $actor = Noom::SIO->connect($t);

my $crowd = fork // die "fork: $!";
if (!$crowd) {
    setpgid(0, 0);
    open STDOUT, '>', '/dev/null';
    exec($gen, '-m', 'idle', '-x', 'sio', '-P', $t->port, '-c', $N,
        '--hold', 3600, '--src', 1, '--quiet', '--setup-timeout', 60)
        or die "exec: $!";
}

my $everyone = $N + 4;

# four frames a socket as it connects: the open packet, the CONNECT's
# answer, the ICE servers and the limits
ok(Noom::Test::wait_until(sub { $t->status_json->{frames_out} >= 4 * ($N + 1) },
    "$N sockets", 60), "$N sockets connected");
my @watch = map { Noom::SIO->connect($t) } 1 .. 3;
my $frames0 = $t->status_json->{frames_out};
is($frames0, 4 * $everyone, 'four frames a socket as it connects');

# one change: the ack, and one list to each socket
$actor->call('enter_room', 'first');
ok(Noom::Test::wait_until(sub {
    $t->status_json->{frames_out} - $frames0 >= $everyone + 1 },
    'the list went out', 60), 'the list went out');

for my $w (@watch) {
    my $rc = $w->event('room_change', 10);
    ok($rc && exists $rc->[1]{first}, 'a watcher of the last slice has it');
}

my $frames = $t->status_json->{frames_out} - $frames0;
is($frames, $everyone + 1, 'one ack, one list a socket');

# a change, and one more as soon as its ack is back: the list of the second
# is on its way then, or just went; the third's follows it (not lost, and
# not merged into a list that had started)
$frames0 += $frames;
$actor->call('enter_room', 'second');
$actor->call('enter_room', 'third');

for my $w (@watch) {
    my $last;
    while (my $rc = $w->event('room_change', 10)) {
        $last = $rc;
        last if exists $rc->[1]{third};
    }
    ok($last && exists $last->[1]{third} && !exists $last->[1]{second}
        && !exists $last->[1]{first}, 'a watcher ends with the last state');
}

# the watchers are the last slice of the last list: by now every list
# before it went out, and none twice
$frames = $t->status_json->{frames_out} - $frames0;
is($frames, 2 * $everyone + 2, 'two acks and two lists a socket, none '
    . 'skipped, none twice');

kill 'TERM', -$crowd;
waitpid($crowd, 0);

is($t->alerts, '', 'no alert or crit in the error log');

done_testing;
