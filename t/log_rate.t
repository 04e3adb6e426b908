#!/usr/bin/perl

# A full zone refuses every new socket ("server busy", with noom_admin on
# each socket needs a registry entry): the refusals are counted in the
# status, and the error log gets a few lines a second, not one a socket.
# The bound on the lines grows with the time the flood took, so a slow
# machine cannot fail it.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Noom::Test;

my $t = Noom::Test->new(workers => 1);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_zone 512k;
    noom_worker_queue 16k;
    noom_max_signal_size 4k;
    noom_max_nickname_length 30k;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws {
            noom_rooms;
            noom_admin on;
            noom_admin_auth off;
        }
        location /status { noom_status; }
    }
}
EOF

# fill the zone: a registry entry holds room for a 30k nickname

my @keep;
for (1 .. 40) {
    my $s = Noom::SIO->connect($t, nsp => undef);
    $s->send_text('40');
    my $p = $s->next_packet(5);
    push @keep, $s;
    last if $p && $p->{type} == 4;
}
my $errors0 = $t->status_json->{zone_errors};
ok($errors0 >= 1, 'the zone is full');

my $t0 = time;
my @more = map { Noom::SIO->connect($t, nsp => undef) } 1 .. 100;
$_->send_text('40') for @more;
my $refused = 0;
for my $s (@more) {
    my $p = $s->next_packet(5);
    $refused++ if $p && $p->{type} == 4
        && Noom::SIO::data($p)->{message} eq 'server busy';
}
my $took = time - $t0;
is($refused, 100, '100 more sockets are refused: "server busy"');
is($t->status_json->{zone_errors} - $errors0, 100, 'each one is counted');

my $lines = () = $t->error_log =~ /\[error\].*zone is full, cannot list/g;
my $bound = 5 * (int($took) + 2);
ok($lines <= $bound, sprintf('the error log has %d lines of it, at most %d '
    . 'in %.1f s', $lines, $bound, $took));
SKIP: {
    skip "the flood took $took s: the bound does not prove it", 1
        if $bound >= $refused;
    cmp_ok($lines, '<', $refused, 'not one a socket');
}

$_->close_socket for @keep, @more;

$t->done;
