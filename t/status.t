#!/usr/bin/perl

# noom_status under a known load on two workers: the JSON figures, and the
# same figures in the Prometheus text format, asked for by query parameter
# or by Accept header, linted by promtool (Debian's prometheus package) and
# parsed here; a browser's Accept keeps the JSON.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

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

my $before = $t->status_json;

# the version: src/ngx_noom.h's, logged once at start and reported

my ($version) = slurp("$Noom::Test::TOP/src/ngx_noom.h")
    =~ /^#define NGX_NOOM_VERSION\s+"([^"]+)"/m;
like($version, qr/^\d+\.\d+\.\d+/, "the source's version is $version");
is(scalar(() = $t->error_log =~ m{\[notice\] \d+#\d+: noom/\Q$version\E$}mg),
    1, "noom/$version is logged once, at notice level");
is($before->{version}, $version, 'JSON: the version');

# the load: three Socket.IO clients and a lobby client, two rooms

my $a = Noom::SIO->connect_on_worker($t, 0);
my $b = Noom::SIO->connect_on_worker($t, 0);
my $c = Noom::SIO->connect_on_worker($t, 1);
my $lobby;
for (1 .. 400) {
    $lobby = Noom::WS->connect($t, path => '/ws/');
    last if $lobby->worker == 1;
    $lobby->close_socket;
}

$a->call('enter_room', 'one');
$b->call('enter_room', 'one');
$c->call('enter_room', 'two');
$a->call('new_message', "hi $_", 'one') for 1 .. 10;
is(scalar(() = map { $b->event('new_message') } 1 .. 10), 10,
    'ten messages went through');

my $js = $t->status_json;
my $w = $js->{workers};

is($js->{rooms}, 2, 'JSON: two rooms');
is($js->{members}, 3, 'three members');
is($w->[0]{members}, 2, 'two on worker 0');
is($w->[1]{members}, 1, 'one on worker 1');
is($w->[0]{connections}, 2, 'worker 0 has its two connections');
is($w->[1]{connections}, 2, 'worker 1 has its client and the lobby');
is($w->[1]{lobby}, 1, 'one of them in the lobby');
is($js->{events_in} - $before->{events_in}, 13,
    'events in: 3 enter_room and 10 new_message')
    or diag "$js->{events_in} - $before->{events_in}";
ok($js->{frames_out} - $before->{frames_out} >= 10 + 3 + 3,
    'frames out: acks, events, room changes');
is($js->{frames_out}, $w->[0]{frames_out} + $w->[1]{frames_out},
    'the workers\' frames add up');
is($js->{bytes_in}, $w->[0]{bytes_in} + $w->[1]{bytes_in},
    'the workers\' bytes in add up');
is($js->{bytes_out}, $w->[0]{bytes_out} + $w->[1]{bytes_out},
    'the workers\' bytes out add up');
ok($js->{connections_total} >= 4, 'connections_total');
is($js->{relay_drops}, 0, 'no relay drop');
is($js->{slow_consumer_closes}, 0, 'no slow consumer');
ok($js->{zone}{pages_used} > 0 && $js->{zone}{pages_used}
    < $js->{zone}{pages_total}, 'zone use');
is($w->[0]{queue}{size}, 1024 * 1024, 'the queue size (the default)');

# bytes, exactly: one event in; its ack and one delivery out.  On a loaded
# machine a frame of the set-up (a room_change, whose interval is 500 ms)
# can still go out in the window: then the window is tried again.

sub wire {
    my $n = length $_[0] // '';
    return $n + ($n < 126 ? 2 : $n < 65536 ? 4 : 10);
}

my ($ack, $got, $s0, $s1, $frame, $want);
for my $try (1 .. 5) {
    $_->flush_events for $a, $b;
    $s0 = $t->status_json;
    $frame = Noom::WS::frame_bytes(op => 'text',
        data => "42${try}9[\"new_message\",\"x\",\"one\"]");
    $a->raw($frame);
    $ack = $a->recv_frame(5);
    $got = $b->recv_frame(5);
    $s1 = $t->status_json;
    # a worker counts what it wrote after write() returns, and the status
    # may be answered by another worker in between: read it until the
    # count is in
    $want = wire($ack && $ack->{data}) + wire($got && $got->{data});
    $t->wait_until(sub {
        $s1->{bytes_out} - $s0->{bytes_out} >= $want
            or ($s1 = $t->status_json, 0)
    }, "the status counts the $want bytes written");
    last if $s1->{bytes_out} - $s0->{bytes_out} == $want
        && $s1->{bytes_in} - $s0->{bytes_in} == length $frame;
    diag("window $try was not quiet: "
        . ($s1->{bytes_out} - $s0->{bytes_out}) . " bytes out, $want sent");
}

like($ack && $ack->{data}, qr/^43\d9\[\]$/, 'the ack');
like($got && $got->{data}, qr/^42\["new_message"/, 'the delivery');
is($s1->{bytes_in} - $s0->{bytes_in}, length $frame,
    'bytes_in: the client\'s frame, header and mask included');
is($s1->{bytes_out} - $s0->{bytes_out}, $want,
    'bytes_out: the two frames sent');

# Prometheus

my ($st, $h, $body) = $t->get('/status?format=prometheus');
is($st, 200, '?format=prometheus is served');
like($h->{'content-type'}, qr{^text/plain; version=0\.0\.4},
    'as text/plain; version=0.0.4');

SKIP: {
    skip 'promtool is not installed (Debian: prometheus)', 2
        unless -x '/usr/bin/promtool';
    my $file = $t->dir . '/metrics.txt';
    open my $fh, '>', $file or die $!;
    print $fh $body;
    close $fh;
    my $out = `/usr/bin/promtool check metrics < $file 2>&1`;
    is($?, 0, 'promtool check metrics accepts it') or diag $out;
    is($out, '', 'without a lint warning') or diag $out;
}

my %m = parse_prometheus($body);

is($m{'noom_rooms'}, $js->{rooms}, 'noom_rooms');
is($m{'noom_room_members'}, $js->{members}, 'noom_room_members');
is($m{'noom_worker_connections{worker="0"}'}, 2,
    'noom_worker_connections{worker="0"}');
is($m{'noom_worker_connections{worker="1"}'}, 2,
    'noom_worker_connections{worker="1"}');
is($m{'noom_worker_lobby_connections{worker="1"}'}, 1,
    'noom_worker_lobby_connections');
is($m{'noom_worker_room_members{worker="0"}'}, 2, 'noom_worker_room_members');
ok($m{'noom_events_in_total'} >= $js->{events_in}, 'noom_events_in_total');
ok($m{'noom_frames_out_total'} >= $js->{frames_out}, 'noom_frames_out_total');
ok($m{'noom_received_bytes_total'} >= $s1->{bytes_in},
    'noom_received_bytes_total');
ok($m{'noom_sent_bytes_total'} >= $s1->{bytes_out}, 'noom_sent_bytes_total');
is($m{'noom_relay_drops_total'}, 0, 'noom_relay_drops_total');
is($m{'noom_slow_consumer_closes_total'}, 0,
    'noom_slow_consumer_closes_total');
is($m{'noom_worker_queue_size_bytes{worker="1"}'}, 1024 * 1024,
    'noom_worker_queue_size_bytes');
is($m{'noom_zone_size_bytes'},
    $js->{zone}{pages_total} * $js->{zone}{page_size}, 'noom_zone_size_bytes');
is($m{'noom_build_info{version="' . $version . '"}'}, 1,
    'noom_build_info carries the version');
is($m{'noom_workers'}, 2, 'noom_workers');
is($m{'noom_sockets{namespace="/"}'}, 0,
    'no socket registry without noom_admin');

my %types = $body =~ /^# TYPE (\S+) (\S+)$/mg;
my @bad = grep { ($types{$_} eq 'counter') != /_total$/ } keys %types;
is("@bad", '', 'counters and only counters end in _total');

for my $accept (
    'text/plain',
    'application/openmetrics-text;version=1.0.0,application/openmetrics-text;'
        . 'version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
)
{
    my ($s2, $h2, $b2) = $t->get('/status', "Accept: $accept");
    like($h2->{'content-type'}, qr{^text/plain},
        "Accept: " . substr($accept, 0, 30) . '... gets Prometheus text');
    like($b2, qr/^noom_rooms 2$/m, 'with the figures');
}

my (undef, $h3, $b3) = $t->get('/status',
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
is($h3->{'content-type'}, 'application/json', 'a browser gets JSON');
ok(eval { decode_json($b3) }, 'that parses');

(undef, $h3) = $t->get('/status?format=json', 'Accept: text/plain');
is($h3->{'content-type'}, 'application/json',
    '?format=json wins over the Accept header');

$_->close_socket for $a, $b, $c, $lobby;

$t->done;


# name{labels} => value, comments skipped
sub parse_prometheus {
    my ($text) = @_;
    my %m;
    for (split /\n/, $text) {
        next if /^#/ || !/\S/;
        my ($k, $v) = /^(\S+) (\S+)$/ or next;
        $m{$k} = $v;
    }
    return %m;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!";
    local $/;
    return <$fh>;
}
