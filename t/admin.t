#!/usr/bin/perl

# The /admin namespace (docs/admin.md) across four workers: an admin through
# the official socket.io-client (t/js/admin_client.mjs) logs in with a
# bcrypt password and sees session, config, all_sockets, server_stats and
# the events of clients on other workers connecting, renaming, joining,
# leaving and going; a second admin comes back with the session id and
# disconnects, closes, moves and messages sockets of other workers; wrong
# credentials, read-only mode, a location without the panel, bcrypt that
# does not stop the worker, a client that goes while its password is
# checked, the registry when the zone is full, and the directives' errors.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IPC::Open2;
use Time::HiRes qw(time);
use Noom::Test;

Noom::Test::need_node_modules('socket.io-client');

my $JSON = JSON::PP->new->canonical;

my $hash = bcrypt('s3cret', 10);
my $slow = bcrypt('slow', 13);
like($hash, qr/^\$2[aby]\$10\$[.\/A-Za-z0-9]{53}$/,
    'a bcrypt hash for the test');

# the directives' errors name the directive, the file and the line

my $c = Noom::Test->new(workers => 1);
for my $case (
    [ 'noom_admin on;', qr/"noom_admin" needs "noom_admin_auth"/,
      'noom_admin without noom_admin_auth is an error' ],
    [ "noom_admin on; noom_admin_auth admin '\$2b\$10\$short';",
      qr/invalid bcrypt hash "\$2b\$10\$short" in "noom_admin_auth" directive.* in \S+nginx.conf:\d+/,
      'a bad hash is an error naming the directive, the file and the line' ],
    [ 'noom_admin on; noom_admin_auth maybe;',
      qr/invalid value "maybe" in "noom_admin_auth" directive.* in \S+nginx.conf:\d+/,
      'a bad noom_admin_auth value is an error' ],
    [ 'noom_admin on; noom_admin_auth off; noom_admin_readonly yes;',
      qr/invalid value "yes" in "noom_admin_readonly" directive/,
      'a bad noom_admin_readonly value is an error' ],
    [ 'noom_admin sure; noom_admin_auth off;',
      qr/invalid value "sure" in "noom_admin" directive/,
      'a bad noom_admin value is an error' ],
    [ 'noom_admin_auth off; noom_admin_auth off;',
      qr/"noom_admin_auth" directive is duplicate/,
      'noom_admin_auth twice is an error' ],
)
{
    my ($dirs, $re, $name) = @$case;
    $c->write_conf(conf_with("location /ws { noom_rooms; $dirs }"));
    my ($ok, $out) = $c->test_conf;
    ok(!$ok && $out =~ $re, $name) or diag $out;
}

$c->write_conf(conf_with(
    'location /x { noom_admin on; noom_admin_auth off; }'));
my ($ok, $out) = $c->test_conf;
ok(!$ok && $out =~ /"noom_admin" needs "noom_rooms"/,
    'noom_admin without noom_rooms is an error') or diag $out;

$c->write_conf(conf_with("noom_admin_auth admin '$hash';\n"
    . "location /ws { noom_rooms; noom_admin on; }"));
($ok, $out) = $c->test_conf;
ok($ok || $out =~ /test is successful/,   # nginx -t leaks under ASan
    'noom_admin_auth is inherited from the server level') or diag $out;

# four workers

my $t = Noom::Test->new(workers => 4);

$t->write_conf(<<"EOF")->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        noom_worker_header on;
        location /ws {
            noom_rooms;
            noom_admin on;
            noom_admin_auth admin '$hash';
        }
        location /ro {
            noom_rooms;
            noom_admin on;
            noom_admin_auth off;
            noom_admin_readonly on;
        }
        location /slow {
            noom_rooms;
            noom_admin on;
            noom_admin_auth admin '$slow';
        }
        location /plain { noom_rooms; }
        location /status { noom_status; }
    }
}
EOF

# wrong credentials

for my $case (
    [ { username => 'admin', password => 'wrong' }, 'a wrong password' ],
    [ { username => 'root', password => 's3cret' }, 'a wrong user name' ],
    [ { sessionId => 'x' x 20 }, 'an unknown session id' ],
    [ undef, 'no credentials' ],
)
{
    my ($auth, $what) = @$case;
    my $s = Noom::SIO->connect($t, nsp => undef);
    $s->send_text('40/admin,' . (defined $auth ? $JSON->encode($auth) : ''));
    my $p = $s->next_packet(5);
    is($p && $p->{raw}, '4/admin,{"message":"invalid credentials"}',
        "$what is refused with CONNECT_ERROR \"invalid credentials\"");
    $s->send_text('40');
    $p = $s->next_packet(5);
    is($p && $p->{type}, 0, "after $what the connection stays open for \"/\"");
    $s->close_socket;
}

my $s = Noom::SIO->connect($t, nsp => undef, path => '/plain/?EIO=4&transport=websocket');
$s->send_text('40/admin,{}');
is($s->next_packet(5)->{raw}, '4/admin,{"message":"Invalid namespace"}',
    'a location without noom_admin does not serve /admin');
$s->close_socket;

# an admin through socket.io-client

my $admin = Admin->start($t->port, '/ws',
    { username => 'admin', password => 's3cret' });
ok($admin->wait('connect', 60),
    'socket.io-client logs into /admin with the password');
my $session = $admin->wait('session');
like($session && $session->[0], qr/^[A-Za-z0-9_-]{20}$/,
    'and gets a session id');
my $config = $admin->wait('config');
is_deeply($config && $config->[0]{supportedFeatures},
    [qw(EMIT JOIN LEAVE DISCONNECT MJOIN MLEAVE MDISCONNECT
        AGGREGATED_EVENTS ALL_EVENTS)],
    'config names every feature');
my $all = $admin->wait('all_sockets');
is(scalar @{ $all->[0] // [] }, 1, 'all_sockets lists the admin alone');
is($all->[0][0]{nsp}, '/admin', 'in the /admin namespace');
my $stats = $admin->wait('server_stats');
ok($stats, 'server_stats comes at once');
my $st = $stats->[0];
like($st->{serverId}, qr/\S/, 'with a serverId');
is($st->{serverId}, $st->{hostname}, 'the host name: one aggregate server');
is($st->{pid}, $t->master_pid, 'with the master pid');
ok($st->{uptime} > 0, 'and an uptime');
is_deeply($st->{namespaces}, [{ name => '/', socketsCount => 0 },
    { name => '/admin', socketsCount => 1 }], 'and the namespaces');
is($st->{pollingClientsCount}, 0, 'no polling client ever');

# clients on three workers

my @c = map { client($t, $_) } 0 .. 2;
my ($alice, $bob, $carol) = @c;

my %seen;
for my $i (0 .. 2) {
    my $e = $admin->wait('socket_connected', 5, id_is($c[$i]->id));
    ok($e, "socket_connected for the client on worker $i");
    next unless $e;
    my $sock = $e->[0];
    is($sock->{nsp}, '/', 'in "/"');
    is($sock->{clientId}, substr($c[$i]->open_packet->{sid}, 0, 12),
        'clientId is the start of the Engine.IO sid');
    is($sock->{transport}, 'websocket', 'over websocket');
    is_deeply($sock->{data}, { nickname => 'Anon' }, 'data shows the nickname');
    is_deeply($sock->{rooms}, [$c[$i]->id], 'rooms: its own');
    is($sock->{handshake}{address}, '127.0.0.1', 'the address');
    is($sock->{handshake}{url}, '/ws/?EIO=4&transport=websocket', 'the url');
    like($e->[1], qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
        'and a timestamp as a JSON Date');
}

is_deeply($alice->call('nickname', 'alice'), [], 'alice renames herself');
my $u = $admin->wait('socket_updated');
is_deeply($u && $u->[0], { id => $alice->id, nsp => '/',
    data => { nickname => 'alice' } }, 'socket_updated shows the nickname');

$alice->call('enter_room', 'r1');
is_deeply([@{ $admin->wait('room_joined') // [] }[0 .. 2]],
    ['/', 'r1', $alice->id], 'room_joined(nsp, room, id) for alice');
$bob->call('nickname', 'bob');
$bob->call('enter_room', 'r1');
my $j = $admin->wait('room_joined');
is_deeply([@{ $j // [] }[0 .. 2]], ['/', 'r1', $bob->id],
    'room_joined for bob on another worker');
$carol->call('enter_room', 'r2');
$j = $admin->wait('room_joined');
is_deeply([@{ $j // [] }[0 .. 2]], ['/', 'r2', $carol->id],
    'room_joined for carol');
$carol->call('leave_room', 'r2');
my $l = $admin->wait('room_left');
is_deeply([@{ $l // [] }[0 .. 2]], ['/', 'r2', $carol->id],
    'room_left(nsp, room, id) for carol');

# (on a loaded machine the next server_stats may be one built before the
# last sockets came: the one that counts them comes within a few more)
$stats = $admin->wait('server_stats', 30, sub {
    my $n = $_[0][0]{namespaces};
    $n && $n->[0]{socketsCount} == 3
});
ok($stats, 'server_stats again, every 2 s');
is_deeply($stats && $stats->[0]{namespaces},
    [{ name => '/', socketsCount => 3 }, { name => '/admin', socketsCount => 1 }],
    'counting the sockets of every worker');
ok($stats && $stats->[0]{clientsCount} >= 4, 'clientsCount counts them all');

# the counts are per interval: the events above may fall into two of them
# (or into one seen earlier) on a busy machine, so they are added up over
# the next intervals until they are all there
my %agg;
for my $round (1 .. 6) {
    for my $e (@{ $stats ? $stats->[0]{aggregatedEvents} : [] }) {
        $agg{ $e->{type} }{count} += $e->{count};
    }
    last if ($agg{packetsIn}{count} // 0) >= 6
        && ($agg{rawConnection}{count} // 0) >= 3
        && ($agg{bytesOut}{count} // 0) > 6 * 20;
    $stats = $admin->wait('server_stats', 5);
}
ok($agg{rawConnection} && $agg{rawConnection}{count} >= 3,
    'aggregatedEvents counts the connections');
ok($agg{packetsIn} && $agg{packetsIn}{count} >= 6,
    'and the events that came in');
ok($agg{bytesIn} && $agg{bytesIn}{count} > 6 * 20
    && $agg{bytesOut} && $agg{bytesOut}{count} > 6 * 20,
    'and the bytes in and out');

# a second admin on worker 3, back with the session id

my $adm2 = Noom::SIO->connect_on_worker($t, 3, nsp => undef);
$adm2->send_text('40/admin,' . $JSON->encode({ sessionId => $session->[0] }));
my $p = $adm2->next_packet(5);
is($p && $p->{type}, 0, 'the session id lets a second admin in');
$adm2->{sid} = $p ? Noom::SIO::data($p)->{sid} : '';
ok($adm2->event('config'), 'it gets config');
ok($adm2->no_event('session', 0.2), 'and no new session');
$all = $adm2->event('all_sockets');
my %by = map { $_->{id} => $_ } @{ $all ? $all->[0] : [] };
is(scalar keys %by, 5, 'all_sockets lists the 3 clients and the 2 admins');
is_deeply($by{ $alice->id }{rooms}, [$alice->id, 'r1'],
    'a member\'s rooms: its id and its room');
is_deeply($by{ $alice->id }{data}, { nickname => 'alice' },
    'with its nickname');
my $c2 = $admin->wait('socket_connected', 5, id_is($adm2->id));
is($c2 && $c2->[0]{nsp}, '/admin', 'the first admin sees the second one come');

sub act { $adm2->send_text('42/admin,' . $JSON->encode([@_])) }

# join and leave act as enter_room and leave_room

$carol->flush_events;
act('join', '/', 'r9', $carol->id);
is_deeply([@{ $admin->wait('room_joined') // [] }[0 .. 2]],
    ['/', 'r9', $carol->id], 'join puts carol (another worker) in r9');
my $rc = $carol->event('room_change');
is_deeply($rc && $rc->[1], { r1 => 2, r9 => 1 }, 'and every socket sees r9');
act('leave', '/', 'r9', $carol->id);
is_deeply([@{ $admin->wait('room_left') // [] }[0 .. 2]],
    ['/', 'r9', $carol->id], 'leave takes her out again');

# emit

act('emit', '/', $carol->id, 'hello', { from => 'admin' });
is_deeply($carol->event('hello'), [{ from => 'admin' }],
    'emit reaches one socket on another worker');
ok($alice->no_event('hello', 0.2), 'and nobody else');

# _disconnect: 41 and a disconnect from "/"

$bob->flush_events;
act('_disconnect', '/', JSON::PP::false(), $alice->id);
$p = until_41($alice);
is($p && $p->{raw}, '1', 'alice gets 41');
is_deeply($bob->event('bye'), ['alice', 1, $alice->id],
    'her room gets bye');
my $d = $admin->wait('socket_disconnected', 5, sub { $_[0][1] eq $alice->id });
is_deeply([@{ $d // [] }[0 .. 2]],
    ['/', $alice->id, 'server namespace disconnect'],
    'socket_disconnected with the reason');
$alice->send_text('42["list_rooms"]');
$p = $alice->next_packet(10);
is($p && $p->{type}, 'close', 'alice is out of "/": an event there closes');

# _disconnect with close: the WebSocket goes too

act('_disconnect', '/', JSON::PP::true(), $bob->id);
$p = until_41($bob);
is($p && $p->{raw}, '1', 'bob gets 41');
$p = $bob->next_packet(5);
is_deeply([$p && $p->{type}, $p && $p->{code}], ['close', 1000],
    'then a close frame');
$d = $admin->wait('socket_disconnected', 5, sub { $_[0][1] eq $bob->id });
ok($d, 'and the admin sees bob go');

# a filter that names a room

my $dave = client($t, 1);
$dave->call('enter_room', 'r5');
$carol->call('enter_room', 'r5');
act('_disconnect', '/', JSON::PP::false(), 'r5');
is((until_41($dave) // {})->{raw}, '1', 'a room filter reaches dave');
is((until_41($carol) // {})->{raw}, '1', 'and carol');

# a read-only admin, without credentials

my $ro = Admin->start($t->port, '/ro', {});
ok($ro->wait('connect', 60), 'noom_admin_auth off lets anybody in');
is_deeply(($ro->wait('config') // [{}])->[0]{supportedFeatures},
    ['AGGREGATED_EVENTS', 'ALL_EVENTS'],
    'read-only: no action among the features');
my $erin = client($t, 2);
$ro->wait('socket_connected', 5, id_is($erin->id));
$ro->send({ emit => ['_disconnect', '/', JSON::PP::false(), $erin->id] });
ok($erin->no_event('x', 0.5) && !$erin->{eof},
    'a read-only admin cannot disconnect');
is_deeply($erin->call('list_rooms'), [[], {}], 'erin is still in "/"');
$ro->close;

# an admin that leaves

$adm2->send_text('41/admin,');
$d = $admin->wait('socket_disconnected', 5, sub { $_[0][1] eq $adm2->id });
is_deeply([@{ $d // [] }[0 .. 2]], ['/admin', $adm2->id,
    'client namespace disconnect'], 'an admin leaving is seen too');

# bcrypt runs in the thread pool: the worker keeps answering

my $w0 = client($t, 0);
my $login = Noom::SIO->connect_on_worker($t, 0, nsp => undef,
    path => '/slow/?EIO=4&transport=websocket');
my $t0 = time;
$login->send_text('40/admin,{"username":"admin","password":"slow"}');
my $r = $w0->call('list_rooms');
ok($r, 'an event on the same worker during a slow bcrypt check');
ok(!defined $login->next_packet(0),
    'is answered before the check ends (the worker did not wait for it)');
$p = $login->next_packet(30);
is($p && $p->{type}, 0, 'and the slow login succeeds later');
note sprintf 'bcrypt cost 13: %.2f s', time - $t0;

my $gone = Noom::SIO->connect_on_worker($t, 0, nsp => undef,
    path => '/slow/?EIO=4&transport=websocket');
$gone->send_text('40/admin,{"username":"admin","password":"slow"}');
$gone->close_socket;
ok($t->wait_log(qr/admin login check ended after its client went/, 30),
    'the check of a client gone meanwhile ends');
ok($w0->ack($w0->emit_ack('list_rooms'), 30),
    'a client gone during its check leaves the worker well')
    or diag 'w0: ' . ($w0->{eof} ? 'closed' : 'no answer') . ', log: '
        . join(' | ', grep { defined } (grep { /noom/ } split /\n/,
            $t->error_log)[-20 .. -1]);

# a worker that dies: its replacement takes its sockets off the registry

# (on a worker without an admin: the watching admin must survive)
my ($vw) = grep { $t->status_json->{workers}[$_]{admins} == 0 } 0 .. 3;
my $victim = client($t, $vw);
$victim->call('enter_room', 'doomed');
$admin->wait('room_joined', 5, sub { $_[0][2] eq $victim->id });
my $pid = $t->status_json->{workers}[$vw]{pid};
kill 'SEGV', $pid;
$d = $admin->wait('socket_disconnected', 10,
    sub { $_[0][1] eq $victim->id });
is_deeply([@{ $d // [] }[0 .. 2]], ['/', $victim->id, 'transport close'],
    'a crashed worker\'s sockets are gone from the panel');
my $after = $t->status_json;
isnt($after->{workers}[$vw]{pid}, $pid, 'after the worker was replaced');

# the replacement purges its predecessor's members once it runs
$t->wait_until(sub { ($after = $t->status_json)->{rooms} == 0 },
    'the status counts no room');
is($after->{rooms}, 0, 'its room went with it');

# read while the admin is still logged in: its close may be seen first
my $js = $t->status_json;
$admin->close;

ok($js->{admin}{admins} >= 1, 'the status counts the admins logged in');
ok($js->{admin}{refused} >= 4, 'and the refused logins');
ok($js->{admin}{actions} >= 6, 'and the actions');

$t->check(allow => qr/exited on signal 11|AddressSanitizer/);

# the registry when the zone is full

my $z = Noom::Test->new(workers => 1);
$z->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_zone 256k;
    noom_worker_queue 8k;
    noom_max_signal_size 1k;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws { noom_rooms; noom_admin on; noom_admin_auth off; }
    }
}
EOF

my $pad = 'p' x 200;
my ($busy, @keep);
for my $i (1 .. 400) {
    my $s = Noom::SIO->connect($z, nsp => undef,
        path => "/ws/?EIO=4&transport=websocket&pad=$pad",
        headers => ["User-Agent: " . ('u' x 250)]);
    $s->send_text('40');
    my $p = $s->next_packet(5);
    if ($p && $p->{type} == 4) {
        $busy = $p;
        last;
    }
    push @keep, $s;
}
is($busy && $busy->{raw}, '4{"message":"server busy"}',
    'a zone too full for the registry refuses "/" with "server busy"');
ok(@keep > 10, 'after some sockets were listed') or diag scalar @keep;
ok($z->error_log =~ /zone is full, cannot list a socket/,
    'and says so in the log');
$_->close_socket for @keep;
$z->done;


# helpers

# a client on worker w that connects to "/" once it is there: the tries
# that land elsewhere never show in the admin's events
sub client {
    my ($t, $w) = @_;
    my $s = Noom::SIO->connect_on_worker($t, $w, nsp => undef);
    $s->send_text('40');
    my $p = $s->next_packet(5) // die 'no CONNECT reply';
    $s->{sid} = Noom::SIO::data($p)->{sid};
    return $s;
}

sub id_is {
    my ($id) = @_;
    return sub { $_[0][0]{id} eq $id };
}

# the packets up to a "41", which is returned
sub until_41 {
    my ($s) = @_;
    for (1 .. 50) {
        my $p = $s->next_packet(5) // return undef;
        return $p if ($p->{raw} // '') eq '1' || $p->{type} !~ /^\d$/;
    }
    return undef;
}

sub conf_with {
    my ($loc) = @_;
    return <<"EOF";
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        $loc
    }
}
EOF
}

sub bcrypt {
    my ($pw, $cost) = @_;
    my $h = `mkpasswd -m bcrypt -R $cost '$pw' 2>/dev/null`;
    $h = `python3 -W ignore -c "import crypt; print(crypt.crypt('$pw', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**$cost)))" 2>/dev/null`
        unless $h && $h =~ /^\$2/;
    chomp $h;
    return $h;
}

# t/js/admin_client.mjs as a child: events as JSON lines
package Admin;

sub start {
    my ($class, $port, $path, $auth) = @_;
    my $script = "$Noom::Test::TOP/t/js/admin_client.mjs";
    my $pid = IPC::Open2::open2(my $out, my $in, 'node', $script, $port,
        $path, $JSON->encode($auth));
    $in->autoflush(1);
    return bless { pid => $pid, out => $out, in => $in, buf => '',
        events => [] }, $class;
}

sub send {
    my ($self, $cmd) = @_;
    print { $self->{in} } $JSON->encode($cmd) . "\n";
}

# the arguments of the next event of that name (for which match() is
# true), others kept
sub wait {
    my ($self, $name, $timeout, $match) = @_;
    $timeout //= 5;
    $match //= sub { 1 };
    for my $i (0 .. $#{ $self->{events} }) {
        my $e = $self->{events}[$i];
        if ($e->{ev} eq $name && $match->($e->{args} // [$e])) {
            my $e = splice @{ $self->{events} }, $i, 1;
            return $e->{args} // [$e];
        }
    }
    my $t0 = Time::HiRes::time();
    my $sel = IO::Select->new($self->{out});
    while (Time::HiRes::time() - $t0 < $timeout) {
        while ($self->{buf} =~ s/^(.*)\n//) {
            my $e = $JSON->decode($1);
            return $e->{args} // [$e]
                if $e->{ev} eq $name && $match->($e->{args} // [$e]);
            push @{ $self->{events} }, $e;
        }
        next unless $sel->can_read(0.1);
        my $n = sysread($self->{out}, my $buf, 65536);
        last unless $n;
        $self->{buf} .= $buf;
    }
    return undef;
}

sub close {
    my ($self) = @_;
    return unless $self->{pid};
    $self->send({ close => 1 });
    close $self->{in};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

sub DESTROY {
    my ($self) = @_;
    if ($self->{pid}) {
        kill 'KILL', $self->{pid};
        waitpid($self->{pid}, 0);
    }
}
