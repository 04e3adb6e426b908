#!/usr/bin/perl

# Memory: no growth per message (a worker's RSS after 200k echoed messages,
# and after 100k Socket.IO events, is that of after the first 10k), and a
# client that does not read is closed with 1008 "slow consumer" once its
# queue passes noom_send_buffer, with memory bounded and the other
# connections unaffected.  One worker, so that every connection is on it.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use Time::HiRes qw(time);
use Noom::Test;

my $t = Noom::Test->new(workers => 1);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location /echo { noom_protocol_test websocket; }
        location /socket.io/ { noom_protocol_test socket.io; }
        location /slow {
            noom_protocol_test websocket;
            noom_send_buffer 64k;
            noom_max_payload 16k;
        }
        location /ws {
            noom_rooms;
            noom_send_buffer 64k;
            noom_max_payload 32k;
            noom_event_rate off;    # these tests flood on purpose
        }
        location /status { noom_status; }
    }
}
EOF

my ($worker) = $t->worker_pids;
ok($worker, 'there is one worker');

sub rss {
    open my $fh, '<', "/proc/$worker/status" or return 0;
    while (<$fh>) {
        return $1 if /^VmRSS:\s+(\d+)\s+kB/;
    }
    return 0;
}

# writes all the bytes, then reads exactly $expect bytes back
sub exchange {
    my ($ws, $bytes, $expect) = @_;
    $ws->raw($bytes);
    my $s = $ws->{s};
    my $sel = IO::Select->new($s);
    my $got = '';
    while (length $got < $expect) {
        last unless $sel->can_read(5);
        my $n = sysread($s, $got, $expect - length $got, length $got);
        last unless $n;
    }
    return $got;
}

# a server frame as noom sends it
sub server_frame {
    my ($op, $data) = @_;
    my $len = length $data;
    return chr(0x80 | $op) . ($len < 126 ? chr($len)
        : chr(126) . pack('n', $len)) . $data;
}

# 200k echoed messages

{
    my $ws = Noom::WS->connect($t, path => '/echo');
    is($ws->status, 101, 'the echo connection is open');

    # 1000 messages of 1 to 300 bytes, text and binary, one batch
    my ($out, $in) = ('', '');
    for my $i (1 .. 1000) {
        my $data = chr(65 + $i % 26) x (1 + ($i * 37) % 300);
        my $op = $i % 3 ? 'text' : 'binary';
        $out .= Noom::WS::frame_bytes(op => $op, data => $data);
        $in .= server_frame($op eq 'text' ? 1 : 2, $data);
    }

    my $good = 0;
    my ($rss_10k, $rss_200k);
    for my $batch (1 .. 200) {
        $good++ if exchange($ws, $out, length $in) eq $in;
        $rss_10k = rss() if $batch == 10;
    }
    $rss_200k = rss();
    is($good, 200, '200k small messages are all echoed intact');
    ok($rss_10k > 0, "the worker's RSS can be read");
    note "RSS after 10k messages: $rss_10k kB, after 200k: $rss_200k kB";
    rss_ok($rss_200k - $rss_10k < 1024,
        'after 200k messages it has grown by less than 1 MB')
        or diag "RSS $rss_10k kB -> $rss_200k kB";
    $ws->close_socket;
}

# 100k Socket.IO events with acks

{
    my $c = Noom::SIO->connect($t, path => '/socket.io/?EIO=4&transport=websocket');
    ok($c->id, 'a Socket.IO connection has joined /');
    $c->flush_events;

    my ($out, $in) = ('', '');
    for my $i (1 .. 500) {
        my $args = qq(["message-with-ack",$i,"text $i",{"k":[true,null,$i]}]);
        (my $ack = $args) =~ s/^\["message-with-ack",/[/;
        $out .= Noom::WS::frame_bytes(op => 'text', data => "42$i$args");
        $in .= server_frame(1, "43$i$ack");
    }

    my $good = 0;
    my ($rss_10k, $rss_100k);
    for my $batch (1 .. 200) {
        $good++ if exchange($c, $out, length $in) eq $in;
        $rss_10k = rss() if $batch == 20;
    }
    $rss_100k = rss();
    is($good, 200, '100k events with acks are all acked with their arguments');
    rss_ok($rss_100k - $rss_10k < 1024,
        'the RSS after 100k events is within 1 MB of that after 10k')
        or diag "RSS $rss_10k kB -> $rss_100k kB";
    $c->close_socket;
}

# a client that does not read: the echo location

{
    my $other = Noom::WS->connect($t, path => '/slow');
    my $slow = Noom::WS->connect($t, path => '/slow');
    is($slow->status, 101, 'a client that will not read is connected');

    my $before = rss();
    my $st0 = $t->status_json('/status');
    my $msg = Noom::WS::frame_bytes(op => 'binary', data => 'z' x 16000);
    my $batch = $msg x 16;
    my ($sent, $seen, $other_ok) = (0, 0, 0);
    my $max_rss = $before;

    while ($sent < 64 * 1024 * 1024) {
        last unless $slow->raw($batch);
        $sent += length $batch;
        my $r = rss();
        $max_rss = $r if $r > $max_rss;
        if (!$other_ok) {
            $other->send_text('are you there?');
            my $f = $other->recv_frame(2);
            $other_ok = $f && $f->{data} eq 'are you there?';
        }
        if ($t->error_log =~ /client does not read/) {
            $seen = 1;
            last;
        }
    }
    ok($seen, 'the server gives up on the client that does not read')
        or diag "sent $sent bytes";
    ok($other_ok, 'another connection is echoed meanwhile')
        or diag "sent $sent bytes";
    rss_ok($max_rss - $before < 2048,
        'the worker grew by less than 2 MB while the client did not read')
        or diag "RSS $before kB -> $max_rss kB after $sent bytes";

    # now read: the echoes the kernel holds, then the close frame
    my ($code, $reason, $frames) = (undef, '', 0);
    for (;;) {
        my $f = $slow->recv_frame(5) or last;
        last if $f->{op} eq 'eof';
        if ($f->{op} eq 'close') {
            ($code, $reason) = ($f->{code}, $f->{reason});
            last;
        }
        $frames++;
    }
    is($code, 1008, 'the client that did not read gets close 1008');
    is($reason, 'slow consumer', 'with the reason "slow consumer"');
    $slow->send_close(1008);
    ok($slow->wait_eof(2), 'and is disconnected');

    my $st = $t->status_json('/status');
    is($st->{slow_consumer_closes} - $st0->{slow_consumer_closes}, 1,
        'noom_status counts one slow consumer close');

    $other->send_text('still there?');
    my $f = $other->recv_frame(2);
    is($f && $f->{data}, 'still there?', 'the other connection still works');
    rss_ok(rss() - $before < 2048, 'and the worker is back within 2 MB');
    $other->close_socket;
}

# a chat member that does not read while another floods the room

{
    my $reader = Noom::SIO->connect($t, path => '/ws/?EIO=4&transport=websocket');
    my $sender = Noom::SIO->connect($t, path => '/ws/?EIO=4&transport=websocket');
    my $third = Noom::SIO->connect($t, path => '/ws/?EIO=4&transport=websocket');
    is_deeply($reader->call('enter_room', 'flood'), [1, [], []],
        'the member that will not read enters the room');
    is($sender->call('enter_room', 'flood')->[0], 2, 'the sender enters it');
    $sender->flush_events;

    my $before = rss();
    my $st0 = $t->status_json('/status');
    my $text = 'w' x 4000;
    my $frame = Noom::WS::frame_bytes(op => 'text',
        data => '42' . $sender->json->encode(['new_message', $text, 'flood']));
    my $batch = $frame x 16;
    my ($sent, $seen) = (0, 0);
    my $max_rss = $before;
    $t->new_log;

    while ($sent < 64 * 1024 * 1024) {
        last unless $sender->raw($batch);
        $sent += length $batch;
        my $r = rss();
        $max_rss = $r if $r > $max_rss;
        if ($t->new_log =~ /client does not read/) {
            $seen = 1;
            last;
        }
    }
    ok($seen, 'the member that does not read is given up on')
        or diag "sent $sent bytes";
    rss_ok($max_rss - $before < 2048, 'the worker grew by less than 2 MB')
        or diag "RSS $before kB -> $max_rss kB after $sent bytes";

    my $code;
    for (;;) {
        my $f = $reader->recv_frame(5) or last;
        last if $f->{op} eq 'eof';
        if ($f->{op} eq 'close') {
            $code = $f->{code};
            last;
        }
    }
    is($code, 1008, 'it gets close 1008');
    $reader->close_socket;

    my $bye = $sender->event('bye', 5);
    is_deeply($bye && [@$bye[1, 2]], [1, $reader->id],
        'the sender gets bye for it, with the count 1');
    is_deeply($sender->call('new_message', 'ok?', 'flood'), [],
        'the sender can still send');
    is_deeply($third->call('list_rooms'), [['flood'], { flood => 1 }],
        'and a third socket sees one member left');

    my $st = $t->status_json('/status');
    is($st->{slow_consumer_closes} - $st0->{slow_consumer_closes}, 1,
        'noom_status counts that slow consumer close');
    $sender->close_socket;
    $third->close_socket;
}

$t->done;

# memory figures mean nothing under ASan, whose quarantine holds freed blocks
sub rss_ok {
    my ($cond, $name) = @_;
    if ($ENV{TEST_NOOM_SANITIZER}) {
        SKIP: { skip "RSS under a sanitizer: $name", 1 }
        return 1;
    }
    return ok($cond, $name);
}
