#!/usr/bin/perl

# Reload (SIGHUP): the old workers close their WebSockets with 1001 at once,
# so clients reconnect; the old workers exit; the new generation starts with
# an empty zone; the master's file descriptors do not grow over reloads.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
        location / { noom_rooms; }
        location /status { noom_status; }
    }
}
EOF

my $a = Noom::SIO->connect_on_worker($t, 0);
my $b = Noom::SIO->connect_on_worker($t, 1);
my $plain = Noom::WS->connect($t, path => '/');
my $mute = Noom::SIO->connect($t);

is($plain->status, 101, 'a plain lobby socket is open');

$a->call('enter_room', 'r1');
$b->call('enter_room', 'r1');
is($t->status_json->{members}, 2, 'two members before the reload');

my @old = $t->worker_pids;
$t->reload;

is($a->wait_close(10), 1001, 'a Socket.IO client gets close 1001');
is($a->close_reason, 'server shutting down', 'with a reason');
is($b->wait_close(15), 1001, 'so does one on the other worker');
is($plain->wait_close(15), 1001, 'and the plain lobby socket');

# a client that never answers the close frame is dropped all the same
my $f;
do { $f = $mute->recv_frame(15) } while ($f && $f->{op} !~ /^(close|eof)$/);
is($f && $f->{code}, 1001, 'a client that does not answer gets 1001 too');
ok($mute->wait_eof(15), 'and is closed without its answer');

my $gone = $t->wait_until(sub { !grep { kill 0, $_ } @old },
    'the old workers exited');
ok($gone, 'the old workers exit');

my $st = $t->status_json;
is($st->{rooms}, 0, 'the new generation starts with no rooms');
is($st->{members}, 0, 'and no members');

my $c = Noom::SIO->connect($t);
is($c->call('enter_room', 'r1')->[0], 1, 'clients reconnect and rejoin');

# the master's descriptors over reloads

sub fds { my @f = glob "/proc/$_[0]/fd/*"; scalar @f }

# the master's children, the zombies among them
sub children {
    my ($ppid) = @_;
    my $n = 0;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $fh, '<', $stat or next;
        my $l = <$fh> // next;
        $n++ if $l =~ /^\d+ \(.*\) \S (\d+)/ && $1 == $ppid;
    }
    return $n;
}

# the master asleep in sigsuspend() (where /proc cannot tell: taken as yes)
sub asleep {
    open my $fh, '<', "/proc/$_[0]/wchan" or return 1;
    my $w = <$fh> // '';
    return $w =~ /sigsuspend/ || $w !~ /[a-z]/;
}

# The master's descriptors once it is at rest: no child but the current
# workers, and the master back in sigsuspend().  It reaps an old worker in
# its SIGCHLD handler and closes the worker's channel only after, in its
# loop, before it sleeps again: a count taken between the two (under load,
# the master may wait long for the CPU there) has one channel too many.
sub settled_fds {
    my $m = $t->master_pid;
    my $n;
    $t->wait_until(sub {
        return 0 unless children($m) == $t->{workers} && asleep($m);
        $n = fds($m);
        return children($m) == $t->{workers} && asleep($m);
    }, 'the master at rest with only its current workers', 30);
    return $n;
}

my $before = settled_fds();
$t->reload for 1 .. 10;

# the master closes an old worker's channel when it reaps it
my $after = settled_fds();
is($after, $before, 'the master holds no more descriptors after 10 reloads');

$c->wait_close(3);

unlike($t->error_log, qr/open socket/, 'no socket was left open');

$t->done;
