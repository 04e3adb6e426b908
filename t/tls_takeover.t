#!/usr/bin/perl

# noom_tls_takeover: a WebSocket over TLS 1.3 leaves OpenSSL after its 101
# and the module seals and opens its records.  With OpenSSL's own client
# (t/c/tls_ws.c): messages both ways before and after KeyUpdates (the one
# that asks for the server's gets it), a 200,000-byte message over many
# records, the close with a close_notify; a record that does not decrypt
# ends the connection; TLS 1.2 and "noom_tls_takeover off" stay with OpenSSL
# (status counts both).  Then the Autobahn cases of sections 1-7 over wss://
# (t/conformance/wsconf.py), and Socket.IO chat between two wss:// clients.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $t = Noom::Test->new(workers => 2);

my $client = "$t->{dir}/tls_ws";
system('cc', '-O1', '-o', $client, "$Noom::Test::TOP/t/c/tls_ws.c",
    '-lssl', '-lcrypto') == 0
    or plan skip_all => 't/c/tls_ws.c does not build (libssl-dev?)';

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    # chat lines longer than a TLS record (16 KB)
    noom_max_message_length 30000;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /status { noom_status; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%% ssl reuseport;
        %%TLS%%
        location /echo { noom_protocol_test websocket; }
        location /echo64k {
            noom_protocol_test websocket;
            noom_max_payload 64k;
        }
        location /kept {
            noom_protocol_test websocket;
            noom_tls_takeover off;
        }
        location /ws/ { noom_rooms; }
    }
}
EOF

my $port = $t->extra_port(1);

sub run_client {
    my ($path, $mode) = @_;
    my $out = `$client $port $path $mode 2>&1`;
    return [split /\n/, $out];
}

sub stat_of { $t->status_json->{$_[0]} }

my $long = 'after a key update that asks for the server\'s';
is_deeply(run_client('/echo', 'keyupdate'), [
    'version TLSv1.3', 'status 101 Switchin', 'echo hello',
    "echo $long", 'echo after a key update of the client\'s only',
    'key updates from the server 1', 'big message 200000', 'close 1000',
    'then close_notify' ],
    'TLS 1.3 taken over: messages before and after key updates, the '
    . 'server\'s own when asked, a message of many records, a close_notify');
is(stat_of('tls_takeovers'), 1, 'the status counts the takeover');

is_deeply(run_client('/echo', 'tls12'), [
    'version TLSv1.2', 'status 101 Switchin', 'echo hello',
    'big message 200000', 'close 1000', 'then close_notify' ],
    'TLS 1.2 is served by OpenSSL as before');
is(stat_of('tls_kept'), 1, 'and counted as kept');

is_deeply(run_client('/kept', 'keyupdate'), [
    'version TLSv1.3', 'status 101 Switchin', 'echo hello',
    "echo $long", 'echo after a key update of the client\'s only',
    'key updates from the server 1', 'big message 200000', 'close 1000',
    'then close_notify' ],
    'noom_tls_takeover off: the same through OpenSSL');
is(stat_of('tls_kept'), 1, 'a location that does not take over is not '
    . 'counted as kept');
is(stat_of('tls_takeovers'), 1, 'nor as taken over');

is_deeply(run_client('/echo', 'tamper'), [
    'version TLSv1.3', 'status 101 Switchin', 'echo hello',
    'after a bad record: closed' ],
    'a record that does not decrypt ends the connection');
ok($t->wait_log(qr/noom: a TLS record failed to decrypt/),
    'and the log says why');

# RFC 6455 over the module's records: Autobahn's cases 1-7 (and 9.1-9.2,
# messages of up to 16 MB over many records, cut down)

SKIP: {
    my $python = '/usr/bin/python3';
    skip 'python3-autobahn is not installed', 2
        unless system($python, '-c', 'import autobahn.asyncio.websocket')
            == 0;

    local $ENV{TEST_NOOM_CONFORMANCE_CUT};
    open my $out, '-|', $python, "$Noom::Test::TOP/t/conformance/wsconf.py",
        '--url', "wss://127.0.0.1:$port/echo",
        '--small-url', "wss://127.0.0.1:$port/echo64k",
        '--cases', '1.*,2.*,3.*,4.*,5.*,6.*,7.*',
        '--time-scale', $ENV{TEST_NOOM_TIME_SCALE} // 4
        or die "wsconf.py: $!";
    my (@failed, $cases);
    while (my $l = <$out>) {
        if ($l =~ /^(\S+)\s+(OK|NON-STRICT|INFORMATIONAL|FAILED)\s/) {
            $cases++;
            push @failed, $l if $2 eq 'FAILED';
        }
    }
    close $out;
    cmp_ok($cases // 0, '>', 200, "Autobahn's cases ran over wss:// ("
        . ($cases // 0) . ')');
    is(scalar(@failed), 0, 'none FAILED') or diag(join '', @failed);
}

# Socket.IO over wss://: two clients in a room, chat both ways, a message
# longer than a TLS record

my $a = Noom::SIO->connect($t, tls => 1, port => $port);
my $b = Noom::SIO->connect($t, tls => 1, port => $port);
$a->call('nickname', 'ann');
$b->call('nickname', 'bob');
$a->call('enter_room', 'tls');
$b->call('enter_room', 'tls');
is(($a->event('welcome', 10) // [])->[0], 'bob',
    'ann sees bob come in, over the module\'s records');

my $text = 'x' x 20000;
$b->call('new_message', $text, 'tls');
is(($a->event('new_message', 10) // [])->[0], "bob: $text",
    'a chat line longer than a TLS record arrives whole');
$a->call('new_message', 'hi bob', 'tls');
is(($b->event('new_message', 10) // [])->[0], 'ann: hi bob',
    'and the other way');
cmp_ok(stat_of('tls_takeovers'), '>=', 3, 'both were taken over');

$t->done;
