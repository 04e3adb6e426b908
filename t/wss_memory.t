#!/usr/bin/perl

# Memory per idle Socket.IO connection over wss://.  Taken over from
# OpenSSL after the handshake (noom_tls_takeover, the default), less than
# half of what it costs with OpenSSL's state kept ("noom_tls_takeover off").
# Kept, no more than nginx's own idle https keepalive connection (TLS
# state, no request, no buffers) plus what noom's connection costs over
# ws://, with 4 KB of slack (the
# three figures move by up to 2 KB from run to run on a loaded machine:
# wss:// came out 1.3 KB over the two others once with 1 KB of slack).  A
# TLS write buffer kept per connection (nginx's 16 KB ssl_buffer_size,
# which the 101 would allocate), or a request and its header buffers kept
# after the upgrade (8 KB and more), would cost more than that.  Each
# figure is the growth of one fresh worker's RSS over 1000 connections, made
# by bench/noomload at 250 a second (at thousands a second the handshakes
# in flight together, about 30 KB each, set the figure); no timing is
# asserted.

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

my $N = 1000;

my $t = Noom::Test->new(workers => 1);

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 2048; }
http {
    %%TEST_GLOBALS_HTTP%%
    access_log off;
    keepalive_timeout 600s;
    noom_event_rate off;
    server {
        listen 127.0.0.1:%%PORT%% ssl;
        %%TLS%%
        location /ws/ { noom_rooms; }
        location /kept/ { noom_rooms; noom_tls_takeover off; }
        location / { return 204; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /ws/ { noom_rooms; }
    }
}
EOF

my $ws = idle('ws://', '-x', 'sio', '-P', $t->extra_port(1));
my $wss = idle('wss://', '-x', 'sio', '-P', $t->port, '--tls');
my $kept = idle('wss:// kept by OpenSSL', '-x', 'sio', '-P', $t->port,
    '--tls', '--path', "'/kept/?EIO=4&transport=websocket'");
my $https = idle('https keepalive', '-x', 'http', '-P', $t->port,
    '--path', '/', '--tls');

note sprintf 'bytes per idle connection: ws:// %d, wss:// %d (kept by '
    . 'OpenSSL %d), nginx\'s https keepalive %d', $ws, $wss, $kept, $https;

SKIP: {
    skip 'RSS under a sanitizer', 3 if $ENV{TEST_NOOM_SANITIZER};

    ok($kept > $ws, 'a wss:// connection kept by OpenSSL costs more than a '
        . 'ws:// one') or diag "ws:// $ws, wss:// $kept";
    cmp_ok($kept, '<', $https + $ws + 4096, 'and no more than nginx\'s own '
        . 'idle https connection and noom\'s ws:// connection together');
    cmp_ok($wss, '<', $kept / 2, 'taken over, less than half of that');
}

is($t->alerts, '', 'no alert or crit in the error log');

done_testing;


# N idle connections to a fresh worker: its RSS growth per connection
sub idle {
    my ($name, @args) = @_;

    $t->run;
    my ($worker) = $t->worker_pids;

    my $cmd = join ' ', $gen, '-m', 'idle', '-c', $N, '--hold', 1,
        '--src', 2, '--quiet', '--setup-timeout', 30, '--pids', $worker,
        '--connect-rate', 250,
        @args;
    my $out = `$cmd 2>&1`;
    my ($line) = grep { /^\{/ } split /\n/, $out;
    my $r = eval { decode_json($line // '') } // {};

    is($r->{alive}, $N, "$name: $N connections are up and idle")
        or diag "$cmd\n$out";

    $t->stop;

    return $r->{rss_per_conn_bytes} // 0;
}
