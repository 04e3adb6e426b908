#!/usr/bin/perl

# A stopped worker costs only what is meant for its own sockets (issue 15,
# point 6).  Four workers, rooms across them; worker 3 is stopped (SIGSTOP)
# for good.  Its queue fills, the writers wait for it (noom_worker_queue
# wait=) and then give up on it: what does not fit is dropped, counted and
# answered "busy".  The running workers are still waited for: a running
# worker that falls behind (here worker 2, stopped for less than wait=)
# slows its writers down and loses nothing.  Before, giving up was global:
# while worker 3 was stopped, backpressure was off for every queue, and the
# running workers' queues dropped their bursts too.  Then worker 3 runs
# again: its sockets get what its queue held, in order, a fresh room list,
# and talk again.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $text = 'x' x 3000;
my $n = 200;

my $t = Noom::Test->new(workers => 4);
$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_signal_size 16k;
    noom_worker_queue 512k wait=10s;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws {
            noom_rooms;
            noom_worker_header on;
            noom_event_rate off;
            # sockets the test does not read for a while must not be
            # closed for a missing pong when a loaded machine makes the
            # test last more than 45 s
            noom_ping_interval 300s;
            noom_ping_timeout 300s;
        }
        location /status { noom_status; }
    }
}
EOF

# 512k queues: past 3/4 of one, a writer still has room for what one
# recv() (64 KB) brings; records of about 6 KB.  Timeouts are above wait=
# (10 s): a worker whose queue is still over 3/4 right after SIGCONT makes
# its writers wait for it, on a loaded machine for seconds.
#
# room "run": a (worker 0), b (worker 1), c (worker 2)
# room "mix": m0 (worker 0), m1 (worker 1), m3 (worker 3)
my %s;
for (['a', 0, 'run'], ['b', 1, 'run'], ['c', 2, 'run'],
    ['m0', 0, 'mix'], ['m1', 1, 'mix'], ['m3', 3, 'mix'])
{
    my ($name, $w, $room) = @$_;
    $s{$name} = Noom::SIO->connect_on_worker($t, $w);
    $s{$name}->call('enter_room', $room);
}
$_->flush_events for values %s;

my @pids = map { $_->{pid} } @{ $t->status_json->{workers} };
kill 'STOP', $pids[3] or die "SIGSTOP: $!";

# --- worker 3 stopped: m0 writes to it until it is given up on ---

my @ids = map { $s{m0}->emit_ack('new_message', "$_ $text", 'mix') } 1 .. $n;
my (@busy, @through);
for my $i (1 .. $n) {
    my $r = $s{m0}->ack($ids[$i - 1], 30);
    last unless $r;
    if (@$r && ref $r->[0] eq 'HASH' && $r->[0]{error} eq 'busy') {
        push @busy, $i;
    } else {
        push @through, $i;
    }
}
is(@busy + @through, $n, "m0's $n messages are all answered");
ok(@busy > 0, 'those that did not fit in worker 3\'s queue are refused "busy" ('
    . scalar(@busy) . ')');
ok($t->wait_log(qr/\[warn\] .*worker 3's queue stayed over 3\/4 full/, 15),
    'a warning names worker 3');
is_deeply([seqs($s{m1}, $n)], [1 .. $n],
    'm1, on a running worker in the same room, gets every one in order');

# a room appears while worker 3's queue is full: the record may not fit
my $late = Noom::SIO->connect_on_worker($t, 0);
$late->call('enter_room', 'late');

# --- worker 3 still stopped: a running worker is still waited for ---

kill 'STOP', $pids[2] or die "SIGSTOP: $!";
@ids = map { $s{a}->emit_ack('new_message', "$_ $text", 'run') } 1 .. $n;
my %acks;
for my $id (@ids) {
    my $r = $s{a}->ack($id, 1) // last;
    $acks{$id} = $r;
}
my $early = keys %acks;
ok($early < $n, "while worker 2 lags, a's input waits ($early of $n taken)");
kill 'CONT', $pids[2];

for my $id (@ids) {
    $acks{$id} //= $s{a}->ack($id, 20) // last;
}
is(scalar keys %acks, $n, 'worker 2 runs again: every message is answered');
is((grep { @$_ } values %acks), 0, 'none refused');
is_deeply([seqs($s{b}, $n)], [1 .. $n], 'b gets every one in order');
is_deeply([seqs($s{c}, $n)], [1 .. $n],
    'c, on the worker that lagged, too');

# --- worker 3 runs again ---

kill 'CONT', $pids[3];

is_deeply([seqs($s{m3}, scalar @through)], \@through,
    'm3 gets what its worker\'s queue held, in order');
ok(room_change_with($s{m3}, 'late'),
    'and a room list with the room made while it was stopped');
$s{m1}->emit('new_message', 'back', 'mix');
is(text($s{m3}->event('new_message', 15)), 'back',
    'm3 hears the room again');
$s{m3}->emit('new_message', 'here', 'mix');
is(join(' ', map { text($s{m0}->event('new_message', 15) // '') } 1 .. 2),
    'back here', 'and is heard');

my $js = $t->status_json;
my $d3 = $js->{workers}[3]{queue}{drops};
ok($d3 == @busy || $d3 == @busy + 1, "worker 3's queue counts its drops "
    . "($d3): one a \"busy\", and the room change if it did not fit");
is_deeply([map { $js->{workers}[$_]{queue}{drops} } 0 .. 2], [0, 0, 0],
    'the running workers\' queues dropped nothing');
is($js->{relay_drops}, $d3, 'relay_drops are worker 3\'s alone');

$t->done;

# the sequence numbers of the next $n new_message events of $s
sub seqs {
    my ($s, $n) = @_;
    my @seq;
    for (1 .. $n) {
        my $got = text($s->event('new_message', 20)) // last;
        my ($i, $body) = split / /, $got, 2;
        push @seq, $body eq $text ? $i : "bad $i";
    }
    return @seq;
}

sub text { $_[0] && $_[0][1]{text} }

# a room_change listing that room comes within 15 s
sub room_change_with {
    my ($s, $room) = @_;
    while (my $e = $s->event('room_change', 15)) {
        return 1 if grep { $_ eq $room } @{ $e->[0] };
    }
    return 0;
}
