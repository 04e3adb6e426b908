#!/usr/bin/perl

# ICE servers and TURN REST API credentials: each socket gets its list with
# a username "<expiry>:<socket id>" and base64(HMAC-SHA1(secret, username))
# right after connecting, and fresh ones on request; a real coturn started
# here with use-auth-secret accepts them and refuses wrong or expired ones.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Digest::SHA qw(hmac_sha1_base64);
use POSIX qw(:sys_wait_h);
use Noom::Test;

sub password {
    my ($secret, $user) = @_;
    my $p = hmac_sha1_base64($user, $secret);
    return $p . '=' x ((4 - length($p) % 4) % 4);
}

# the HMAC itself, against RFC 2202 test case 1 and a key over 64 bytes
is(password("\x0b" x 20, 'Hi There'), 'thcxhlUFcmTii8C2+zeMjvFGvgA=',
    'the reference HMAC-SHA1 agrees with RFC 2202');

my $long = 'k' x 100;
my $t = Noom::Test->new(workers => 2);
$t->write_file('turn.secret', "  $long  \nnot this line\n");

my $turn_port = Noom::Test::free_port();

$t->write_conf(<<"EOF")->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_ice_server stun:127.0.0.1:$turn_port;
    noom_ice_server turn:127.0.0.1:$turn_port?transport=udp
                    turn:127.0.0.1:$turn_port?transport=tcp;
    noom_turn_secret file=%%DIR%%/turn.secret;
    noom_turn_ttl 10m;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws { noom_rooms; }
    }
}
EOF

my $c = Noom::SIO->connect($t);
my $list = $c->event('ice_servers')->[0];

is(scalar @$list, 2, 'two ICE servers arrive right after connecting');
is_deeply($list->[0], { urls => ["stun:127.0.0.1:$turn_port"] },
    'the STUN server has no credentials');
is_deeply($list->[1]{urls}, ["turn:127.0.0.1:$turn_port?transport=udp",
    "turn:127.0.0.1:$turn_port?transport=tcp"], 'the TURN server its URLs');

my ($exp, $id) = split /:/, $list->[1]{username}, 2;
is($id, $c->id, 'the username names the socket');
ok(abs($exp - time - 600) <= 30, 'and expires after noom_turn_ttl');
is($list->[1]{credential}, password($long, $list->[1]{username}),
    'the credential is base64(HMAC-SHA1(secret, username)), with the '
    . 'secret from the first line of the file');

my $again = $c->call('ice_servers')->[0];
is($again->[1]{credential}, password($long, $again->[1]{username}),
    'ice_servers with an ack gives fresh credentials');

# a real coturn

SKIP: {
    skip 'coturn is not installed', 5 unless -x '/usr/bin/turnserver';

    ok($t->start_coturn($turn_port, $long), 'coturn is up');

    my $uclient = sub {
        my ($user, $pass) = @_;
        return scalar `timeout 20 turnutils_uclient -p $turn_port -u '$user' -w '$pass' -n 3 -y 127.0.0.1 2>&1`;
    };

    my $u = $list->[1]{username};
    my $out = $uclient->($u, $list->[1]{credential});
    like($out, qr/tot_recv_msgs=[1-9]/, 'coturn relays with noom\'s credentials');
    unlike($out, qr/Cannot complete Allocation/, 'the allocation succeeds');

    like($uclient->($u, password('wrong', $u)), qr/Cannot complete Allocation/,
        'a credential made with another secret is refused');

    my $old = (time - 60) . ':' . $c->id;
    like($uclient->($old, password($long, $old)),
        qr/Cannot complete Allocation/, 'an expired one is refused');

    $t->stop_coturn;
}

# configuration errors

my $bad = Noom::Test->new(workers => 1);
$bad->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    noom_ice_server http://example.com;
    server { listen 127.0.0.1:%%PORT%%; location /ws { noom_rooms; } }
}
EOF
my ($ok, $msg) = $bad->test_conf;
ok(!$ok, 'an ICE URL of another scheme is a configuration error');
my $line = $bad->conf_line(qr/noom_ice_server http/);
like($msg, qr/invalid ICE server URL .* in "noom_ice_server" directive.*nginx\.conf:$line\n/,
    'naming the directive, file and line');

$t->done;
