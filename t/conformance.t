#!/usr/bin/perl

# RFC 6455 conformance of the raw WebSocket echo (noom_protocol_test
# websocket): t/conformance/wsconf.py runs the cases of the Autobahn
# testsuite's sections 1-7, 9 and 10 (and noom's own N.* cases) with
# Debian's python3-autobahn, graded as Autobahn grades them; any FAILED case
# fails this test.  TEST_NOOM_CONFORMANCE_REPORT=path writes the table
# (docs/conformance.md); TEST_NOOM_CONFORMANCE_CASES='1.*,2.*' picks cases;
# TEST_NOOM_CONFORMANCE_CUT=1 makes section 9's fragmented messages smaller.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $python = '/usr/bin/python3';

plan skip_all => 'python3-autobahn is not installed'
    unless system($python, '-c', 'import autobahn.asyncio.websocket') == 0;

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    # Autobahn's client masks its 16 MB messages in Python: on a busy
    # machine it may send nothing for longer than the default 10 s
    noom_message_timeout 300s;
    # nor read: at a load of 20 nginx could send nothing of 9.2.5's 8 MB
    # echo for the default 60 s of send_timeout ("client timed out"), the
    # Python client stalled (and likely the kernel's retransmissions to its
    # full receive queue backed off, TcpExt TCPRcvQDrop); an echo that never
    # comes still fails the case at its own 100 s (x time scale)
    send_timeout 300s;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /echo {
            noom_protocol_test websocket;
            noom_max_payload 16m;
            noom_send_buffer 20m;
        }
        location /echo64k {
            noom_protocol_test websocket;
            noom_max_payload 64k;
        }
    }
}
EOF

my @cmd = ($python, "$Noom::Test::TOP/t/conformance/wsconf.py",
    '--url', 'ws://127.0.0.1:' . $t->port . '/echo',
    '--small-url', 'ws://127.0.0.1:' . $t->port . '/echo64k',
    # the timeouts scaled for a loaded machine (prove -j8 on two cores)
    '--time-scale', $ENV{TEST_NOOM_TIME_SCALE} // 4);
push @cmd, '--full' unless $ENV{TEST_NOOM_CONFORMANCE_CUT};
push @cmd, '--cases', $ENV{TEST_NOOM_CONFORMANCE_CASES}
    if $ENV{TEST_NOOM_CONFORMANCE_CASES};
push @cmd, '--report', $ENV{TEST_NOOM_CONFORMANCE_REPORT}
    if $ENV{TEST_NOOM_CONFORMANCE_REPORT};

open my $out, '-|', @cmd or die "wsconf.py: $!";
my (@failed, $summary, $cases);
while (my $l = <$out>) {
    chomp $l;
    if ($l =~ /^(\S+)\s+(OK|NON-STRICT|INFORMATIONAL|FAILED)\s/) {
        $cases++;
        push @failed, $l if $2 eq 'FAILED';
    }
    $summary = $l if $l =~ /^\d+ OK, /;
}
close $out;
my $rc = $? >> 8;

ok($cases, "the runner ran cases ($cases)");
diag($summary) if $summary;
is(scalar(@failed), 0, 'no case FAILED') or diag(join "\n", @failed);
is($rc, @failed ? 1 : 0, 'the runner agrees');

$t->done;
