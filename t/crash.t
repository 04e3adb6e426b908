#!/usr/bin/perl

# A worker dies (SIGSEGV): its replacement takes the same worker number,
# removes the dead process's members from the zone, their rooms get bye,
# the counts are right again and the survivors keep talking.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
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

my $alice = Noom::SIO->connect_on_worker($t, 0);
my $bob = Noom::SIO->connect_on_worker($t, 1);
my $bob2 = Noom::SIO->connect_on_worker($t, 1);
my $carol = Noom::SIO->connect_on_worker($t, 2);

$alice->call('nickname', 'alice');
$bob->call('nickname', 'bob');
$bob2->call('nickname', 'bob2');
$carol->call('nickname', 'carol');

$alice->call('enter_room', 'r1');
$bob->call('enter_room', 'r1');
$carol->call('enter_room', 'r1');
$bob2->call('enter_room', 'alone');

my $st = $t->status_json;
is($st->{members}, 4, 'four members before the crash');
is($st->{rooms}, 2, 'in two rooms');

my $victim = $st->{workers}[1]{pid};
ok($victim, 'worker 1 has a pid');

$alice->flush_events;
$carol->flush_events;

kill 'SEGV', $victim;

is_deeply($alice->event('bye', 10), ['bob', 2, $bob->id],
    'the room gets bye for the member of the dead worker');
ok($alice->no_event('bye', 0.5), 'and only for it');

my $rc;
for (1 .. 5) {
    $rc = $carol->event('room_change', 5) or last;
    last if $rc->[1]{r1} == 2 && !exists $rc->[1]{alone};
}
is_deeply($rc, [['r1'], { r1 => 2 }],
    'room_change: the count is right and the dead member\'s room is gone');

$st = $t->status_json;
is($st->{members}, 2, 'the zone counts two members');
is($st->{rooms}, 1, 'in one room');
is($st->{worker_crashes}, 1, 'the crash is counted');
isnt($st->{workers}[1]{pid}, $victim, 'worker 1 has a new process');
is($st->{workers}[1]{members}, 0, 'with no members');

ok($bob->wait_eof(5), 'the dead worker\'s connections are gone');

$alice->call('new_message', 'still here', 'r1');
is($carol->event('new_message')->[0], 'alice: still here',
    'the survivors keep talking across workers');

my $new = Noom::SIO->connect_on_worker($t, 1);
$new->call('nickname', 'bob');
is($new->call('enter_room', 'r1')->[0], 3,
    'the new worker 1 serves and its member joins the room');
is_deeply($alice->event('welcome'), ['bob', 3, $new->id],
    'and is welcomed across workers');
$new->call('new_message', 'back', 'r1');
is($carol->event('new_message')->[0], 'bob: back',
    'messages from the new worker arrive');

ok($t->error_log =~ /worker 1 replaces process $victim that exited abnormally, removing its 2 room members/,
    'the purge is logged');

# under ASan the SIGSEGV sent on purpose is reported too
$t->done(allow => qr/exited on signal 11|AddressSanitizer(: SEGV|:DEADLYSIGNAL| can not provide)/);
