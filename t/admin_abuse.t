#!/usr/bin/perl

# Guessing the admin password: failed logins are limited per connection
# (noom_admin_login_limit connection=) and per client address across all
# workers (burst=, drained at rate=); an address over its burst is refused
# without a bcrypt check, a valid session still gets in; CONNECTs to /admin
# count for noom_event_rate; bcrypt runs in its own bounded pool
# (noom_admin_bcrypt) and a full queue is answered "server busy"; the
# refusals do not flood the error log.  Counts and answers are asserted,
# never timings.  Each part uses its own client address (127.0.0.x).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Noom::Test;

my $fast = bcrypt('s3cret', 5);
my $slow = bcrypt('slow', 13);
like($fast, qr/^\$2[aby]\$05\$/, 'a bcrypt hash for the test')
    or BAIL_OUT('no bcrypt hash: mkpasswd or python3 crypt');

# the directives

my $c = Noom::Test->new(workers => 1);
for my $case (
    [ 'noom_admin_login_limit rate=5x;',
      qr/invalid parameter "rate=5x" in "noom_admin_login_limit"/,
      'a bad rate is an error naming the directive' ],
    [ 'noom_admin_login_limit burst=0;',
      qr/invalid parameter "burst=0" in "noom_admin_login_limit"/,
      'burst=0 is an error' ],
    [ 'noom_admin_login_limit off; noom_admin_login_limit off;',
      qr/"noom_admin_login_limit" directive is duplicate/,
      'noom_admin_login_limit twice is an error' ],
    [ 'noom_admin_bcrypt threads=0;',
      qr/invalid parameter "threads=0" in "noom_admin_bcrypt"/,
      'threads=0 is an error' ],
    [ 'noom_log_level loud;',
      qr/invalid value "loud" in \S+nginx.conf:/,
      'a bad noom_log_level is an error' ],
) {
    my ($dirs, $re, $name) = @$case;
    $c->write_conf(conf_with($dirs, ''));
    my ($ok, $out) = $c->test_conf;
    ok(!$ok && $out =~ $re, $name) or diag $out;
}

$c->write_conf(conf_with("noom_admin_bcrypt threads=1 queue=0;\n"
    . "noom_admin_login_limit rate=10r/m burst=3 connection=2;\n"
    . "noom_log_level notice;", '', 'thread_pool noom_bcrypt threads=3;'));
my ($ok, $out) = $c->test_conf;
ok($ok || $out =~ /test is successful/,
    'a thread_pool noom_bcrypt of the configuration is taken as it is')
    or diag $out;

# four workers

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<"EOF")->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_admin_login_limit rate=1r/h burst=4 connection=2;
    noom_admin_bcrypt threads=1 queue=3;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws {
            noom_rooms;
            noom_admin on;
            noom_admin_auth admin '$fast';
            noom_worker_header on;
            noom_event_rate off;
        }
        location /slow {
            noom_rooms;
            noom_admin on;
            noom_admin_auth admin '$slow';
            noom_worker_header on;
            noom_event_rate off;
            # sockets wait their turn unread while bcrypt runs: no pings,
            # and no end to the wait for their CONNECT's answer
            noom_ping_interval 10m;
            noom_connect_timeout 10m;
        }
        location /open {
            noom_rooms;
            noom_admin on;
            noom_admin_auth off;
            noom_event_rate 2 burst=2;
        }
        location /status { noom_status; }
    }
}
EOF

my $WRONG = '40/admin,{"username":"admin","password":"guess"}';
my $RIGHT = '40/admin,{"username":"admin","password":"s3cret"}';

# the answer to the next CONNECT of /admin: its message, 'accepted',
# 'close <code> <reason>' or 'nothing'
sub answer {
    my ($s, $timeout) = @_;
    for (;;) {
        my $p = $s->next_packet($timeout // 10) or return 'nothing';
        return "close $p->{code} " . ($s->close_reason // '')
            if $p->{type} eq 'close';
        return 'eof' if $p->{type} eq 'eof';
        next unless $p->{type} =~ /^\d$/ && $p->{nsp} eq '/admin';
        return 'accepted' if $p->{type} == 0;
        return Noom::SIO::data($p)->{message} if $p->{type} == 4;
    }
}

sub admin_sock {
    my (%o) = @_;
    return Noom::SIO->connect($t, nsp => undef, %o);
}

# a login that works, for its session id (127.0.0.2)

my $adm = admin_sock(local => '127.0.0.2');
$adm->send_text($RIGHT);
is(answer($adm), 'accepted', 'the right password logs in');
my $session;
for (1 .. 20) {
    my $p = $adm->next_packet(5) or last;
    next unless $p->{type} =~ /^\d$/ && $p->{type} == 2;
    my $d = Noom::SIO::data($p);
    if ($d->[0] eq 'session') {
        $session = $d->[1];
        last;
    }
}
ok($session, 'and gets a session id');
$adm->close_socket;

# per connection (127.0.0.3): the second failure closes it

my $g = admin_sock(local => '127.0.0.3');
$g->send_text($WRONG);
is(answer($g), 'invalid credentials', 'a wrong password: invalid credentials');
$g->send_text($WRONG);
is(answer($g), 'invalid credentials', 'a second one too');
like(answer($g), qr/^close 1008 too many failed logins/,
    'and the connection is closed with 1008 after connection=2 failures');

# per address, across workers (127.0.0.3 has 2 failures of burst=4)

my $g2 = Noom::SIO->connect_on_worker($t, 1, nsp => undef,
    local => '127.0.0.3');
$g2->send_text($WRONG);
is(answer($g2), 'invalid credentials', 'a third failure, on another worker');
my $g3 = Noom::SIO->connect_on_worker($t, 2, nsp => undef,
    local => '127.0.0.3');
$g3->send_text($WRONG);
is(answer($g3), 'invalid credentials', 'a fourth, on a third worker');
my $g4 = Noom::SIO->connect_on_worker($t, 3, nsp => undef,
    local => '127.0.0.3');
$g4->send_text($RIGHT);
is(answer($g4), 'too many failed logins',
    'past burst=4 the address is refused, the right password too');
my $before = $t->status_json->{admin}{throttled};
ok($before >= 1, 'the status counts it as throttled');

my $s = Noom::SIO->connect_on_worker($t, 0, nsp => undef,
    local => '127.0.0.3');
$s->send_text('40/admin,{"sessionId":"' . ($session // '') . '"}');
is(answer($s), 'accepted', 'a valid session still gets in from there');
$s->close_socket;

my $other = admin_sock(local => '127.0.0.4');
$other->send_text($RIGHT);
is(answer($other), 'accepted', 'another address is not affected');
$other->close_socket;

# parallel connections cannot start more checks than the burst: 8 at once
# from a fresh address (127.0.0.5) against burst=4

my @par = map { admin_sock(local => '127.0.0.5') } 1 .. 8;
$_->send_text($WRONG) for @par;
my %seen;
$seen{ answer($_) }++ for @par;
is($seen{'invalid credentials'}, 4, 'of 8 parallel guesses, 4 are checked')
    or diag explain \%seen;
is($seen{'too many failed logins'}, 4, 'and 4 refused without a check');
$_->close_socket for @par;

# the log: refusals are counted, a few lines a second are written

my $log_before = () = $t->error_log =~ /admin login refused/g;
my $t0 = time;
my @flood = map { admin_sock(local => '127.0.0.5') } 1 .. 60;
$_->send_text($WRONG) for @flood;
my %flood;
$flood{ answer($_, 30) }++ for @flood;
my $took = time - $t0;
my $refused = $flood{'too many failed logins'} // 0;
$_->close_socket for @flood;
is($refused, 60, '60 more guesses are all refused') or diag explain \%flood;
my $lines = (() = $t->error_log =~ /admin login refused/g) - $log_before;

# at most 5 lines a second per worker, in every second the flood touched:
# a bound that grows with the time taken, so a slow machine cannot fail it
my $bound = 5 * 4 * (int($took) + 2);
ok($lines <= $bound, sprintf('the refusals wrote %d lines, at most %d in '
    . '%.1f s', $lines, $bound, $took));
SKIP: {
    skip "the flood took $took s: the bound does not prove it", 1
        if $bound >= $refused;
    cmp_ok($lines, '<', $refused, 'fewer lines than refusals');
}
like($t->error_log, qr/admin login refused: too many failed logins \(and \d+ similar lines not logged\)/,
    'a later line counts those not written')
    if $t->error_log =~ /similar lines not logged/;

# CONNECTs to /admin count for noom_event_rate (2 a second, burst 2)

my $r = admin_sock(path => '/open/?EIO=4&transport=websocket');
$r->send_text($_) for '40/admin,', '41/admin,', '40/admin,';
is(answer($r), 'accepted', 'an open panel is accepted');
is(answer($r), 'rate limited', 'a CONNECT after it and a DISCONNECT is '
    . 'past the burst of 2 events: refused as rate limited');
$r->close_socket;

# the bcrypt pool: threads=1 queue=3 per worker; more checks at once are
# answered "server busy" at once (a slow hash of cost 13; an address
# each, 127.0.0.11-16, or the address limit would answer first)

my @slow = map {
    Noom::SIO->connect_on_worker($t, 1, nsp => undef, local => "127.0.0.1$_",
        path => '/slow/?EIO=4&transport=websocket')
} 1 .. 6;
my $throttled = $t->status_json->{admin}{throttled};
$_->send_text('40/admin,{"username":"admin","password":"slow"}') for @slow;

# the worker may read the six in any order; four checks of cost 13 one
# after the other take a while on a busy machine
my %got;
$got{ answer($_, 90) }++ for @slow;
is($got{'server busy'}, 2,
    'with one check running and three queued, two more get "server busy"')
    or diag explain \%got;
is($got{accepted}, 4, 'the four checks in the pool log in');
is($t->status_json->{admin}{throttled}, $throttled + 2, 'counted');
my $again = Noom::SIO->connect_on_worker($t, 1, nsp => undef,
    local => '127.0.0.11', path => '/slow/?EIO=4&transport=websocket');
$again->send_text('40/admin,{"username":"admin","password":"slow"}');
is(answer($again, 60), 'accepted', 'and a later one has a place again');
$_->close_socket for @slow, $again;

$t->done;


sub conf_with {
    my ($http, $loc, $main) = @_;
    $main //= '';
    return <<"EOF";
%%TEST_GLOBALS%%
$main
events { worker_connections 64; }
http {
    %%TEST_GLOBALS_HTTP%%
    $http
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws { noom_rooms; noom_admin on;
                       noom_admin_auth admin '$fast'; $loc }
    }
}
EOF
}

sub bcrypt {
    my ($pw, $cost) = @_;
    $cost = sprintf '%02d', $cost;
    my $h = `mkpasswd -m bcrypt -R $cost '$pw' 2>/dev/null`;
    $h = `python3 -W ignore -c "import crypt; print(crypt.crypt('$pw', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**$cost)))" 2>/dev/null`
        unless $h && $h =~ /^\$2/;
    chomp $h;
    return $h;
}
