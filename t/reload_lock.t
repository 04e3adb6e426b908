#!/usr/bin/perl

# After a reload the old workers share the zone with the new ones: if one
# of them dies holding its lock (here worker 0, through a test hook), the
# others must not wait for ever (nginx's master frees the lock of a dead
# process of any generation for a zone of its configuration, and noom's
# lock looks for a dead holder itself, for a zone that a reload replaced).  Here worker 0 takes the lock as it starts to shut down and dies
# with it half a second later, while worker 1 closes its sockets, which
# needs the lock.  noom's lock looks for a dead holder, forces the lock
# open and repairs the zone; the old generation exits.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
env NOOM_HOOK=quit:0;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
        location /status { noom_status; }
    }
}
EOF

my @c = map { Noom::SIO->connect_on_worker($t, $_) } 0 .. 1;
$_->call('enter_room', 'r') for @c;
my @old = $t->worker_pids;
is(scalar @old, 2, 'two workers');

$t->reload;

# the old generation is gone once no old pid is left
my @left = @old;
$t->wait_until(sub { !(@left = grep { kill 0, $_ } @old) },
    'the old workers exited', 20);
is(scalar @left, 0, 'both old workers exited, though one died holding the '
    . 'old zone\'s lock');
like($t->error_log, qr/died holding the zone's lock, taking it|(?#
    )zone "noom" was locked by/, 'the lock of the dead one was freed');
like($t->error_log, qr/zone repaired/, 'and repaired what it left');

my $n = Noom::SIO->connect($t);
is($n->call('enter_room', 'fresh')->[0], 1, 'the new workers serve');

# at the end the new worker 0 dies the same way (the hook is for all)
$t->done(allow => qr/exited on signal 9|died holding the zone's lock|died (?#
    )while changing the zone|was locked by/);
