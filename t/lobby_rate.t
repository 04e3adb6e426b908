#!/usr/bin/perl

# The plain lobby at scale (issue 15, point 1): every line goes to every
# lobby socket, so one client inside noom_event_rate made the server send
# 50 frames a second to each of 10,000 sockets (bench/lobby plain).  With
# noom_lobby_rate each sender has a share: a line costs as many frames as
# the lobby has sockets, and a sender's frames come at noom_lobby_rate a
# second (5 s of it at once).  Here: 10 sockets and noom_lobby_rate 20, so a
# sender may say 10 lines at once, then 2 a second; a flood gets no more
# through, and the others still talk.

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
    noom_lobby_rate 20;
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location / { noom_rooms; noom_event_rate off; }
        location /status { noom_status; }
    }
}
EOF

my @c = map { Noom::WS->connect($t, path => '/') } 1 .. 10;
is(scalar(grep { $_->status == 101 } @c), 10, 'ten lobby sockets');

# every socket counted in the lobby before the flood
ok($t->wait_until(sub {
    sum(map { $_->{lobby} } @{ $t->status_json->{workers} }) == 10
}, 'the status counts 10 lobby sockets'), 'the ten are in the lobby');

my ($flood, $watch, $other) = @c[0, 1, 2];
$flood->send_text('{"type":"nickname","payload":"flood"}');
$other->send_text('{"type":"nickname","payload":"other"}');

my $t0 = time;
$flood->send_text(qq({"type":"new_message","payload":"line $_"}))
    for 1 .. 100;
$other->send_text('{"type":"new_message","payload":"me too"}');

# what the watcher gets until 5 s pass without a line (a loaded machine
# can hold a line back for more than a second)
my ($n, $seen) = (0, 0);
while (my $f = $watch->recv_message(5)) {
    last if $f->{op} ne 'text';
    $n++ if $f->{data} =~ /^flood: line /;
    $seen++ if $f->{data} eq 'other: me too';
}
my $elapsed = time - $t0;

my $max = 10 + int(2 * $elapsed) + 1;
ok($n >= 10, "the flooder's first 10 lines go through ($n)");
ok($n <= $max, sprintf("then 2 a second: %d of 100 in %.1f s (at most %d)",
    $n, $elapsed, $max));
is($seen, 1, 'the other sender\'s line goes through the flood');

my $js = $t->status_json;
ok($js->{rate_limited} >= 100 - $max, "the dropped lines are counted "
    . "($js->{rate_limited})");

# a lobby of one: its lines are cheap
$_->close_socket for @c;
my $solo = Noom::WS->connect($t, path => '/');
ok($t->wait_until(sub {
    sum(map { $_->{lobby} } @{ $t->status_json->{workers} }) == 1
}, 'the status counts 1 lobby socket'), 'the one is alone in the lobby');
$solo->send_text(qq({"type":"new_message","payload":"alone $_"}))
    for 1 .. 50;
my $alone = 0;
while (my $f = $solo->recv_message(5)) {
    $alone++ if $f->{op} eq 'text' && $f->{data} =~ /^Anon: alone /;
}
is($alone, 50, 'alone in the lobby, all 50 lines come back');

$t->done;

sub sum { my $s = 0; $s += $_ for @_; $s }
