#!/usr/bin/perl

# noom_recovery at the packet level: the private id and the offsets on the
# wire, a recovery on another worker with what was missed, and the defined
# outcome of everything else: a forged pid, somebody else's live pid, a
# quick reconnect before the old socket's close was read, an offset never
# given, a log that no longer holds what was missed, a window
# that ends, a DISCONNECT, a socket closed for breaking the rules.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOC')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    # a window the recoveries below surely come within: at a load of 20
    # finding a connection on the other worker took ann more than 3 s
    noom_recovery 15s log=8;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
        location /status { noom_status; }
    }
}
EOC

my $HEX = qr/^[0-9a-f]{16}$/;

sub offset_of { my ($args) = @_; return $args->[-1] }

# a client with a nickname in room $room, on worker $w
sub member {
    my ($nick, $room, $w) = @_;
    my $c = Noom::SIO->connect_on_worker($t, $w);
    $c->call('nickname', $nick);
    $c->call('enter_room', $room);
    return $c;
}

# a closed socket is away once the server has seen the close
sub wait_away {
    my ($n) = @_;
    return $t->wait_until(sub { $t->status_json->{recovery}{away} == $n },
        "the status counts $n away");
}

# a connection on worker $w, then a CONNECT with $auth
sub connect_on {
    my ($w, $auth) = @_;
    my $s;
    for (1 .. 400) {
        $s = Noom::SIO->connect($t, nsp => undef);
        last if defined $s->{worker} && $s->{worker} == $w;
        $s->close_socket;
    }
    $s->send_text('40' . Noom::SIO::json()->encode($auth));
    my $p = $s->next_packet(5) // die 'no CONNECT reply';
    $s->{sid} = Noom::SIO::data($p)->{sid};
    $s->{pid} = Noom::SIO::data($p)->{pid};
    return $s;
}

# a session that leaves for good: DISCONNECT, then the close
sub leave { $_[0]->send_text('41'); $_[0]->close_socket }

# what was last seen by a client: the offset of its last event
sub last_offset {
    my ($c) = @_;
    my $off;
    for my $p (@{ $c->{events} }) {
        my $d = Noom::SIO::data($p);
        $off = $d->[-1] if ref $d eq 'ARRAY' && !ref $d->[-1]
            && $d->[-1] =~ $HEX;
    }
    return $off;
}

# --- the wire

my $a = member('ann', 'r1', 0);
like($a->pid, qr/^[A-Za-z0-9_-]{20}$/, 'the CONNECT answer has a pid');
isnt($a->pid, $a->id, 'which is not the socket id');

my $b = member('bob', 'r1', 1);
my $w = $a->event('welcome');
is($w->[0], 'bob', 'welcome as before');
like(offset_of($w), $HEX, 'and an offset as its last argument');

my $rc = $a->event('room_change');
is(scalar @$rc, 2, 'room_change has no offset: its last argument is an '
    . 'array, never taken for one');

$b->emit('new_message', 'one', 'r1');
my $m1 = $a->event('new_message');
cmp_ok(hex offset_of($m1), '>', hex offset_of($w), 'offsets grow');

my $l = $a->call('limits');
ok(ref $l->[0] eq 'HASH', 'acks carry no offset');

# --- away, and back on the other worker with what it missed

my $seen = offset_of($m1);
$a->close_socket;
wait_away(1);

$b->emit('new_message', "m$_", 'r1') for 2 .. 4;
ok($b->no_event('bye', 0.5), 'the room is not told that ann went away');
is($t->status_json->{recovery}{away}, 1, 'one session is away');

my $a2 = connect_on(1, { pid => $a->pid, offset => $seen });
is($a2->id, $a->id, 'recovered on the other worker: the same socket id');
is($a2->pid, $a->pid, 'the same pid');
my @got = map { $a2->event('new_message')->[0] } 2 .. 4;
is_deeply(\@got, [map { "bob: m$_" } 2 .. 4],
    'the missed messages, in order');
ok($a2->no_event('new_message', 0.3), 'and nothing twice');

$b->emit('new_message', 'after', 'r1');
is($a2->event('new_message')->[0], 'bob: after', 'the room goes on');
$a2->emit('new_message', 'back', 'r1');
is($b->event('new_message')->[0], 'ann: back', 'both ways');

my $st = $t->status_json;
is($st->{members}, 2, 'two members, as before');
cmp_ok($st->{recovered}, '>=', 1, 'status counts the recovery');

# --- a forged pid, and somebody else's live one

my $f = Noom::SIO->connect($t, auth => { pid => 'A' x 20,
                                         offset => '0' x 16 });
ok($f->pid && $f->pid ne 'A' x 20, 'a forged pid: a fresh session, with '
    . 'a pid of its own');

# (the pid is waited for about 2 s, more on a loaded machine)
my $h = Noom::SIO->connect($t, nsp => undef);
$h->send_text('40' . Noom::SIO::json()->encode({ pid => $b->pid,
                                                 offset => $seen }));
my $hp = $h->next_packet(30);
$h->{sid} = $hp && Noom::SIO::data($hp)->{sid};
ok($h->id && $h->id ne $b->id, 'a live session\'s pid: a fresh session');
like($t->error_log, qr/not recovered \(its socket is still connected\)/,
    'the log says why');
$a2->emit('new_message', 'still', 'r1');
is($b->event('new_message')->[0], 'ann: still', 'and the live one goes on');
leave($h);
leave($f);

# --- a reconnect on the other worker before the worker of the socket it
# left has read the close (stopped here): the pid is waited for, and the
# socket recovered once that worker has caught up

my $q = member('quick', 'rq', 0);
my $r = member('rita', 'rq', 1);
$r->emit('new_message', 'hi', 'rq');
my $qseen = offset_of($q->event('new_message'));
my ($w0) = map { $_->{pid} } grep { $_->{worker} == 0 }
    @{ $t->status_json->{workers} };
my $back = Noom::SIO->connect_on_worker($t, 1, nsp => undef);
my $waits = () = $t->error_log =~ /waiting about 2 s/g;

kill 'STOP', $w0;
$q->close_socket;
$r->emit('new_message', 'missed', 'rq');
$back->send_text('40' . Noom::SIO::json()->encode({ pid => $q->pid,
                                                 offset => $qseen }));
ok($t->wait_until(sub {
        (() = $t->error_log =~ /waiting about 2 s/g) > $waits },
    'the CONNECT waits'), 'the pid is still attached: the CONNECT waits');
kill 'CONT', $w0;

my $p = $back->next_packet(30);
is(Noom::SIO::data($p)->{sid}, $q->id,
    'recovered once its old worker has read the close');
is($back->event('new_message')->[0], 'rita: missed', 'with what it missed');
$back->{sid} = $q->id;
leave($back);
leave($r);

# --- an offset noom never gave: a fresh session, and the old one ends now

$b->close_socket;
wait_away(1);
my $b2 = Noom::SIO->connect($t, auth => { pid => $b->pid,
                                          offset => 'f' x 16 });
isnt($b2->id, $b->id, 'an offset from the future: a fresh session');
my $bye = $a2->event('bye', 5);
is($bye->[0], 'bob', 'and the room hears bye at once');
leave($b2);

# --- a log that no longer holds what was missed

my $c = member('cid', 'r1', 1);
$a2->flush_events;
$a2->call('limits');
my $seen_c = last_offset($c) // '0' x 16;
$c->close_socket;
wait_away(1);
$a2->emit('new_message', "flood $_", 'r1') for 1 .. 12;
$a2->call('limits');
my $c2 = Noom::SIO->connect($t, auth => { pid => $c->pid,
                                          offset => $seen_c });
isnt($c2->id, $c->id, 'more missed than the log holds: a fresh session');
is($a2->event('bye', 5)->[0], 'cid', 'and the room hears bye at once');
leave($c2);

# --- a sender whose offset lags behind its own events still recovers:
# what the log let go was its own, which a replay skips

my $fay = member('fay', 'r3', 0);
my $gus = member('gus', 'r3', 1);
my $seen_f = offset_of($fay->event('welcome'));
$fay->emit('new_message', "talk $_", 'r3') for 1 .. 12;
$fay->call('limits');
is($gus->event('new_message')->[0], 'fay: talk 1', 'fay talks');
$gus->flush_events;
$fay->close_socket;
wait_away(1);
$gus->emit('new_message', 'while away', 'r3');
$gus->call('limits');
my $fay2 = Noom::SIO->connect($t, auth => { pid => $fay->pid,
                                            offset => $seen_f });
is($fay2->id, $fay->id, 'more of its own than the log holds: recovered');
is($fay2->event('new_message')->[0], 'gus: while away',
    'with what the other said');
ok($fay2->no_event('new_message', 0.3), 'and none of its own');
ok($gus->no_event('bye', 0.3), 'nobody heard bye');
leave($fay2);
leave($gus);

# --- the nickname comes back, also for a socket in no room (the session
# keeps it beside its record) and after a rename

my $o = member('olga', 'r4', 0);
my $n = Noom::SIO->connect_on_worker($t, 0);
$n->call('nickname', 'nia');
$n->call('nickname', 'nina');
$n->close_socket;
wait_away(1);
my $n2 = connect_on(1, { pid => $n->pid });
is($n2->id, $n->id, 'a socket in no room: recovered');
$n2->call('enter_room', 'r4');
is($o->event('welcome')->[0], 'nina', 'with its last nickname');
$n2->call('nickname', 'nika');
$n2->close_socket;
wait_away(1);
my $n3 = connect_on(0, { pid => $n->pid, offset => last_offset($n2) });
is($n3->id, $n->id, 'in a room: recovered');
$o->emit('new_message', 'hi', 'r4');
is($n3->event('new_message')->[0], 'olga: hi', 'back in its room');
$n3->emit('new_message', 'hello', 'r4');
is($o->event('new_message')->[0], 'nika: hello',
    'with the nickname it had when it went');
leave($n3);
leave($o);

# --- the window ends

my $d = member('dan', 'r2', 0);
my $e = member('eve', 'r2', 1);
$d->event('welcome');
$d->close_socket;
ok(wait_away(1), 'dan is away');
ok($e->no_event('bye', 1), 'no bye within the window');
is($e->event('bye', 30)->[0], 'dan', 'bye when the window ends');
my $d2 = Noom::SIO->connect($t, auth => { pid => $d->pid,
                                          offset => '0' x 16 });
isnt($d2->id, $d->id, 'after the window: a fresh session');
leave($d2);

# --- a DISCONNECT ends a session for good

my $g = member('gus', 'r2', 0);
$e->event('welcome');
$g->send_text('41');
is($e->event('bye', 5)->[0], 'gus', 'DISCONNECT: bye at once');
$g->close_socket;
my $g2 = Noom::SIO->connect($t, auth => { pid => $g->pid,
                                          offset => '0' x 16 });
isnt($g2->id, $g->id, 'and its pid recovers nothing');
leave($g2);

# --- a socket closed for breaking the rules is not kept

my $k = member('kim', 'r2', 1);
$e->event('welcome');
$k->send_text('4x');
is($k->wait_close, 1008, 'a packet that is not Socket.IO: closed with 1008');
is($e->event('bye', 5)->[0], 'kim', 'and bye at once');

my (undef, undef, $prom) = $t->get('/status?format=prometheus');
like($prom, qr/^noom_recovered_total [1-9]/m, 'Prometheus: recoveries');
like($prom, qr/^noom_recovery_waits_total [2-9]/m,
    'Prometheus: the two CONNECTs that waited for their pid');
like($prom, qr/^noom_recovery_away_sessions \d+$/m,
    'Prometheus: the sessions away');

$st = $t->status_json;
cmp_ok($st->{recovery_failed}, '>=', 4, 'status counts the refusals');
cmp_ok($st->{recovery_expired}, '>=', 1, 'and the expiries');

$t->done;
