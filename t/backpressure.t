#!/usr/bin/perl

# Backpressure between workers.  Worker 1 is stopped (SIGSTOP), so its queue
# fills with what alice, on worker 0, sends to bob.  Past 3/4 of the queue,
# worker 0 stops reading alice instead of dropping her offers; when worker 1
# runs again, everything arrives, in order, and nothing was refused.  A
# second nginx with wait=300ms shows the bound: a worker that stays stopped
# does not stop the others for longer, the queue then drops and the sender
# is told "busy", as without backpressure.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $blob = 'x' x 8000;

sub server {
    my ($wait) = @_;
    my $t = Noom::Test->new(workers => 2);
    $t->write_conf(<<"EOF")->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_signal_size 16k;
    noom_worker_queue 512k wait=$wait;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws {
            noom_rooms;
            noom_worker_header on;
            noom_event_rate off;
        }
        location /status { noom_status; }
    }
}
EOF
    return $t;
}

# alice (worker 0) and bob (worker 1) in one room; worker 1 stopped; alice
# sends $n offers of 8 KB; returns the acks that came within a second each
sub flood {
    my ($t, $n) = @_;
    my $alice = Noom::SIO->connect_on_worker($t, 0);
    my $bob = Noom::SIO->connect_on_worker($t, 1);
    $alice->call('enter_room', 'bp');
    $bob->call('enter_room', 'bp');
    $alice->flush_events;

    my $w1 = $t->status_json->{workers}[1]{pid};
    kill 'STOP', $w1 or die "SIGSTOP: $!";

    my @ids = map { $alice->emit_ack('offer', { seq => $_, sdp => $blob },
        'bp') } 1 .. $n;
    my %acks;
    for my $id (@ids) {
        my $r = $alice->ack($id, 1) // last;
        $acks{$id} = $r;
    }
    return ($alice, $bob, $w1, \@ids, \%acks);
}

sub refused { scalar grep { @$_ && ref $_->[0] eq 'HASH' } values %{ $_[0] } }

# --- wait=10s: worker 0 waits for worker 1 ---

my $t = server('10s');
my ($alice, $bob, $w1, $ids, $acks) = flood($t, 120);
my $early = keys %$acks;

ok($early >= 20 && $early < 120,
    "while worker 1 is stopped, alice's input waits ($early of 120 taken)");
is(refused($acks), 0, 'none of those refused');

kill 'CONT', $w1;

for my $id (@$ids) {
    next if $acks->{$id};
    $acks->{$id} = $alice->ack($id, 5) // last;
}
is(scalar keys %$acks, 120, 'worker 1 runs again: every offer is acked');
is(refused($acks), 0, 'none refused');

my @seq;
for (1 .. 120) {
    my $e = $bob->event('offer', 5) // last;
    push @seq, $e->[0]{sdp} eq $blob ? $e->[0]{seq} : "bad $e->[0]{seq}";
}
is_deeply(\@seq, [1 .. 120], 'bob gets them all, whole and in order');

my $js = $t->status_json;
is($js->{relay_drops}, 0, 'no record dropped');
ok($js->{relay_waits} >= 1, "relay_waits counts the wait ($js->{relay_waits})");
$t->check;

# --- wait=300ms: a worker that stays stopped does not stop the others ---

$t = server('300ms');
my $c = Noom::SIO->connect_on_worker($t, 0);
($alice, $bob, $w1, $ids, $acks) = flood($t, 120);

is(scalar keys %$acks, 120, 'with wait=300ms alice is read again after it');
ok(refused($acks) > 0, 'and what does not fit is refused ('
    . refused($acks) . ')');
is((grep { @$_ && ref $_->[0] eq 'HASH' && $_->[0]{error} ne 'busy' }
    values %$acks), 0, 'with "busy"');

is_deeply($c->call('list_rooms'), [['bp'], { bp => 2 }],
    'worker 0 serves the others again, worker 1 still stopped');
ok($t->wait_log(qr/\[warn\] .*worker 1.s queue stayed over 3\/4 full for/, 5)
    && $t->error_log =~ /full for \d+ ms, reading clients again: messages to it/,
    'a warning says so');

kill 'CONT', $w1;

$js = $t->status_json;
ok($js->{relay_drops} > 0, 'the drops are counted');
$t->check;

done_testing;
