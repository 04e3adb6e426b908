#!/usr/bin/perl

# Polling over HTTP/2 with TLS (listen ... ssl http2), as browsers poll
# whenever a server offers HTTP/2: curl speaks it, one stream per request,
# several streams of one connection at once: a waiting GET and the POST
# that answers it, on four workers.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IPC::Run qw(start finish);
use JSON::PP;
use Noom::Test;

plan(skip_all => 'curl without HTTP/2')
    unless `curl --version 2>/dev/null` =~ /\bHTTP2\b/;

my $t = Noom::Test->new(workers => 4);

my $d = $t->dir;

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    log_format proto '$server_protocol $request_method $status';
    access_log %%DIR%%/logs/proto.log proto;
    server {
        listen 127.0.0.1:%%PORT%% ssl http2 reuseport;
        %%TLS%%
        location /engine.io/ {
            noom_protocol_test engine.io;
            # no heartbeat in the answers, however slow the machine
            noom_ping_interval 600s;
        }
    }
}
EOF

my $base = 'https://127.0.0.1:' . $t->port . '/engine.io/?EIO=4&transport=polling';

# curl over HTTP/2: (status, body)
sub h2 {
    my (@args) = @_;
    my $out = `curl -sk --http2 -w '\\n%{http_code} %{http_version}' @args`;
    my ($body, $code, $ver) = $out =~ /^(.*)\n(\d+) (\S+)$/s;
    return ($code // 0, $body // '', $ver // '');
}

my ($st, $body, $ver) = h2("'$base'");
is($ver, '2', 'the handshake is served over HTTP/2');
like($body, qr/^0\{"sid"/, 'with the open packet');
my $sid = decode_json(substr($body, 1))->{sid};

($st, $body) = h2('-d', "'4over h2'", "'$base&sid=$sid'");
is_deeply([$st, $body], [200, 'ok'], 'a POST over HTTP/2 is taken');
($st, $body) = h2("'$base&sid=$sid'");
is($body, '4over h2', 'and its message comes back on a GET');

# a waiting GET and the POST that answers it, two streams of one
# connection (curl --parallel multiplexes them)

my $out = `curl -sk --http2 --parallel --parallel-immediate -w '%{http_version} %{http_code}\\n' '$base&sid=$sid' -o $d/get.out --next -sk --http2 -w '%{http_version} %{http_code}\n' -d 4two '$base&sid=$sid' -o $d/post.out 2>/dev/null`;
is($t->read_file('get.out'), '4two',
    'the waiting GET is answered by the POST on the same connection');
is($t->read_file('post.out'), 'ok', 'which is answered ok');
is(scalar(() = $out =~ /^2 200$/mg), 2, 'both over HTTP/2');

my @lines = split /\n/, $t->read_file('logs/proto.log');
is(scalar(grep { !m{^HTTP/2\.0 } } @lines), 0,
    'nginx logged every polling request as HTTP/2.0');

$t->done;
