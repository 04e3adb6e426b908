#!/usr/bin/perl

# The fast path writes new_message and the signaling events straight into
# their frame, and puts the WebSocket header in front once the length is
# known: 2 bytes up to 125, 4 up to 65,535, 10 past it.  Each size must
# arrive whole, across two workers, with the sender's ack; under
# noom_recovery the offset goes in as well.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

for my $recovery (0, 1) {
    my $t = Noom::Test->new(workers => 2);
    my $rec = $recovery ? 'noom_recovery 2m;' : '';

    $t->write_conf(<<"EOF")->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_max_signal_size 100k;
    noom_max_message_length 60k;
    $rec
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; }
    }
}
EOF

    my $tag = $recovery ? 'recovery' : 'no recovery';
    my $a = Noom::SIO->connect_on_worker($t, 0);
    my $b = Noom::SIO->connect_on_worker($t, 1);
    my $c = Noom::SIO->connect_on_worker($t, 0);

    $a->call('nickname', 'ann');
    $_->call('enter_room', 'r') for $a, $b, $c;
    $_->flush_events for $a, $b, $c;

    # 2-, 4- and 10-byte headers, and the edges between them
    for my $n (1, 60, 110, 125, 126, 300, 65000, 65535, 65536, 70000) {
        my $sdp = 'v' x $n;

        is_deeply($a->call('offer', { sdp => $sdp }, 'r'), [],
            "$tag: offer of $n bytes: acked");

        for my $to ($b, $c) {
            my $ev = $to->event('offer');
            ok($ev && $ev->[0]{sdp} eq $sdp && $ev->[1] eq $a->id,
                "$tag: offer of $n bytes: whole");
        }
    }

    for my $n (1, 100, 126, 1000, 60000) {
        my $text = 't' x $n;

        is_deeply($a->call('new_message', $text, 'r'), [],
            "$tag: new_message of $n bytes: acked");

        my $ev = $b->event('new_message');
        ok($ev && $ev->[0] eq "ann: $text" && $ev->[1]{text} eq $text
           && $ev->[1]{ts} =~ /^\d{13}$/,
            "$tag: new_message of $n bytes: whole");
        $c->event('new_message');
    }

    $t->stop;
}

done_testing();
