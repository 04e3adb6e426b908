#!/usr/bin/perl

# The benchmark load generator (bench/noomload) against noom for a few
# seconds: chat rooms spread over two workers, then signaling pairs.  Only
# correctness is asserted (every connection up, deliveries, no loss, no
# duplicate, no reordering, no error); no timing.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP;
use Test::More;
use Noom::Test;

my $top = $Noom::Test::TOP;
my $gen = "$top/bench/noomload";

system("make -s -C $top/bench noomload >/dev/null 2>&1") == 0 && -x $gen
    or plan skip_all => 'bench/noomload does not build';

my $t = Noom::Test->new(workers => 2)->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events {
    worker_connections 1024;
}
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_room_members 16;
    noom_event_rate off;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws/ {
            noom_rooms;
        }
    }
}
EOF

my $pids = join ',', $t->master_pid, $t->worker_pids;

sub load {
    my (@args) = @_;
    my $cmd = join ' ', $gen, '-P', $t->port, '--src', 2, '--quiet',
        '--setup-timeout', 5, '--pids', $pids, @args;
    my $out = `$cmd 2>&1`;
    my ($line) = grep { /^\{/ } split /\n/, $out;
    my $r = eval { decode_json($line // '') };
    diag("$cmd\n$out") unless $r && $r->{ok};
    return $r // {};
}

# 48 connections in 6 rooms of 8, every member sending 40 messages/s
my $r = load('-m', 'fanout', '-c', 48, '-r', 8, '--rate', 40, '-d', 2,
    '--warmup', 0.5, '--drain', 3, '--tag', 'smoke');

ok($r->{ok}, 'fanout: the run completed');
is($r->{established}, 48, 'fanout: every connection joined its room');
is($r->{failed}, 0, 'fanout: no connection failed');
cmp_ok($r->{delivered} // 0, '>', 0, 'fanout: messages were delivered');
is($r->{delivered}, $r->{expected}, 'fanout: every copy was delivered');
is($r->{lost}, 0, 'fanout: no loss');
is($r->{dups}, 0, 'fanout: no duplicate');
is($r->{gaps}, 0, 'fanout: no gap in any sender\'s sequence');
is($r->{bad_tokens}, 0, 'fanout: every delivery parsed');
is($r->{errors}, 0, 'fanout: no error ack or error event');
is($r->{acks}, $r->{sent}, 'fanout: every message was acked');
is($r->{unexpected_closes}, 0, 'fanout: no connection closed');
is($r->{protocol_errors}, 0, 'fanout: no protocol error');
cmp_ok($r->{bytes_per_delivery} // 0, '>', 2 * 64,
    'fanout: bytes_per_delivery counts the event, which holds the text twice');

# 10 pairs: offer and ice to toId, answers back
$r = load('-m', 'signal', '-c', 20, '--rate', 20, '-d', 1, '--warmup', 0.3,
    '--drain', 3, '--tag', 'smokesig');

ok($r->{ok}, 'signal: the run completed');
is($r->{established}, 20, 'signal: every connection joined its pair');
cmp_ok($r->{rtt_us}{n} // 0, '>', 0, 'signal: round trips were measured');
is($r->{delivered}, $r->{expected}, 'signal: every event was delivered');
is($r->{lost} + $r->{dups} + $r->{gaps}, 0,
    'signal: no loss, duplicate or gap');
is($r->{errors}, 0, 'signal: no error');

$t->done;
