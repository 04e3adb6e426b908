package Noom::Test;

# A small harness in the style of nginx's own test suite: each .t writes its
# nginx.conf inline, starts a real nginx (master and workers) in a private
# prefix, talks to it over real sockets, and at the end checks the error
# log holds no alert.  Clients: Noom::WS (RFC 6455, raw frames allowed),
# Noom::SIO (Engine.IO v4 + Socket.IO v5 on top of it), and raw HTTP
# requests (http(), get(); send_req(), read_resp() and req() for polling).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use Fcntl qw(:flock);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

our $TOP = abs_path(dirname(__FILE__) . '/../../..');

# A test must not vanish without ending its nginx: a write to a client or a
# child that went (SIGPIPE) is an error to handle; INT, TERM and HUP
# (prove interrupted, a timeout) and any way out of the program end the
# process groups of the nginx it started and did not stop.  Only SIGKILL
# escapes: t/leftovers catches that.
my %groups;     # pgid => the pid of the test process that started it

sub end_groups {
    # a forked child of the test (a flooding client) ends nothing
    kill 'KILL', -$_ for grep { $groups{$_} == $$ } keys %groups;
    %groups = ();
}

$SIG{PIPE} = 'IGNORE';
$SIG{$_} = sub { end_groups(); die "killed by SIG$_[0]\n" }
    for qw(INT TERM HUP);

END { end_groups() }
our $NGINX = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $MODULE = $ENV{TEST_NOOM_MODULE}
    || "$TOP/build/objs/ngx_http_noom_module.so";

sub new {
    my ($class, %opts) = @_;

    my $self = bless {
        workers => 4,
        %opts,
    }, $class;

    $self->{dir} = tempdir('noom-t-XXXXXX', TMPDIR => 1,
        CLEANUP => !$ENV{TEST_NOOM_KEEP});
    chmod 0755, $self->{dir};   # workers run as nobody
    make_path("$self->{dir}/logs", "$self->{dir}/conf", "$self->{dir}/tmp",
        "$self->{dir}/html");

    $self->{port} = free_port();
    return $self;
}

# Ports that cannot collide when test files run in parallel (prove -j8),
# here or in another checkout: each comes from a range below the kernel's
# ephemeral ports, so no outgoing connection takes it, and is held by an
# exclusive flock on /tmp/noom-ports/<port> for as long as the process that
# chose it lives.  The lock dies with the process, even with SIGKILL; a
# port some other process still listens on (an nginx a killed test left
# behind) fails the bind check and is skipped.

our $PORT_LOCKS = $ENV{TEST_NOOM_PORT_LOCKS} || '/tmp/noom-ports';
our ($PORT_FIRST, $PORT_LAST) = (20000, 29999);
my %held;

sub free_port {
    make_path($PORT_LOCKS, { mode => 01777 }) unless -d $PORT_LOCKS;
    my $n = $PORT_LAST - $PORT_FIRST + 1;
    my $start = int(rand($n));
    for my $i (0 .. $n - 1) {
        my $port = $PORT_FIRST + ($start + $i) % $n;
        next if $held{$port};
        open my $lock, '>>', "$PORT_LOCKS/$port" or next;
        unless (flock($lock, LOCK_EX | LOCK_NB)) {
            close $lock;
            next;
        }
        if (port_bindable($port)) {
            $held{$port} = $lock;
            return $port;
        }
        close $lock;
    }
    die "no free port in $PORT_FIRST-$PORT_LAST";
}

sub port_bindable {
    my ($port) = @_;
    for my $proto ('tcp', 'udp') {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $port, Proto => $proto,
            ($proto eq 'tcp' ? (Listen => 1, ReuseAddr => 1) : ()))
            or return 0;
        close $s;
    }
    return 1;
}

# A test that needs node and npm packages skips when they are missing
# (`npm install` brings them), instead of failing.
sub need_node_modules {
    my (@mods) = @_;
    plan skip_all => 'no node' unless `node --version 2>/dev/null`;
    for my $m (@mods) {
        plan skip_all => "no node module $m (npm install)"
            unless -d "$TOP/node_modules/$m";
    }
}

# A test that drives Chromium through playwright-core (t/js/lib.mjs) skips
# when Chromium, node or an npm package it needs is missing; then html/build
# puts socket.io-client where the web client imports it (html => 0: the
# test does not serve html/).
sub need_browser {
    my (%o) = @_;
    plan skip_all => 'no /usr/bin/chromium' unless -x '/usr/bin/chromium';
    need_node_modules('playwright-core', @{ $o{modules} // [] });
    return if exists $o{html} && !$o{html};
    system("$TOP/html/build") == 0 or BAIL_OUT('html/build failed');
}

# The lines a node script prints, read from $fh until it ends: "ok - name"
# and "not ok - name" (numbered or not) become tests here, named
# "$o{label}: name" with a label; "# text" and other lines are notes, or
# diagnostics once a test failed; a plan line is dropped.  $o{line}, if
# given, sees each line first and takes it by returning true (a request of
# the script's).  Returns the number of tests.
sub relay_tap {
    my ($fh, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $pre = defined $o{label} ? "$o{label}: " : '';
    my ($n, $failed) = (0, 0);
    while (my $l = <$fh>) {
        chomp $l;
        next if $o{line} && $o{line}->($l);
        if ($l =~ /^(not )?ok\b(?: \d+)?(?: - )?(.*)$/) {
            ok(!$1, $pre . $2);
            $failed ||= $1;
            $n++;
        } elsif ($l !~ /^1\.\.\d+$/) {
            my $text = $pre . ($l =~ /^# ?(.*)$/ ? $1 : $l);
            $failed ? diag($text) : note($text);
        }
    }
    return $n;
}

# Runs node t/js/$script @args to its end, as one test named $name: it
# exits 0; what it printed (stderr too) but its "ok" lines and its plan is
# a diagnostic.
# Returns its lines.
sub node_script {
    my ($name, $script, @args) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec 'node', "$TOP/t/js/$script", @args or exit 127;
    }
    my @lines = <$fh>;
    close $fh;
    my $rc = $?;
    chomp @lines;
    diag($_) for grep { !/^ok / && !/^1\.\.\d+$/ } @lines;
    is($rc, 0, $name);
    return @lines;
}

sub have_node_modules {
    my (@mods) = @_;
    return 0 unless `node --version 2>/dev/null`;
    return !grep { !-d "$TOP/node_modules/$_" } @mods;
}

# The one way a test polls: calls $cond until it returns true, for at most
# $timeout seconds (10 by default), and returns its value.  A $cond that
# dies counts as false (a status page read during a reload).  At the
# deadline it says what it waited for (a diag naming $what, and the last
# error) and returns 0, for the ok() or is() around or after it to fail.
# Use it only where nothing can be awaited (a status page, a process list,
# a log file, Redis's keys); a frame, an event or a port is awaited on its
# socket.  Called as a function or as a method of a Noom::Test.
sub wait_until {
    shift if ref $_[0] && ref $_[0] ne 'CODE';
    my ($cond, $what, $timeout) = @_;
    $timeout //= 10;
    my $end = time + $timeout;
    my ($pause, $err) = (0.001);
    for (;;) {
        my $v = eval { $cond->() };
        $err = $@;
        return $v if $v;
        last if time >= $end;
        sleep $pause;
        $pause *= 2 if $pause < 0.02;
    }
    chomp $err if $err;
    diag("gave up after $timeout s waiting until $what"
        . ($err ? " (last error: $err)" : ''));
    return 0;
}

sub port { $_[0]{port} }

sub extra_port {
    my ($self, $n) = @_;
    return $self->{ports}{$n} //= free_port();
}
sub dir { $_[0]{dir} }
sub url { "http://127.0.0.1:$_[0]{port}" }

# %%TEST_GLOBALS%%: load_module, pid, error_log, worker_processes
# %%TEST_GLOBALS_HTTP%%: temp paths and the access log
# %%PORT%%: the listening port, %%PORT_n%%: more free ports
# %%TLS%%: a server's certificate and key (tls_cert() makes them)
# %%WEB_CLIENT%%: a server's root, the web client (html/), and its types

our $WEB_CLIENT = <<'EOF';
types {
            text/html html;
            text/css css;
            text/javascript js;
            application/json map;
        }
        root %%TOP%%/html;
EOF
chomp $WEB_CLIENT;

sub write_conf {
    my ($self, $conf) = @_;

    my $d = $self->{dir};
    my $w = $self->{workers};
    # TEST_NOOM_MODULE=static: a binary with the module built in (ASan)
    my $load = $MODULE eq 'static' ? '' : "load_module $MODULE;";
    my $globals = <<"EOF";
$load
pid $d/logs/nginx.pid;
error_log $d/logs/error.log info;
worker_processes $w;
EOF
    $globals .= "master_process off;\n" if $self->{single};
    $globals .= "error_log $d/logs/debug.log debug;\n" if $ENV{TEST_NOOM_DEBUG};

    my $http = <<"EOF";
access_log $d/logs/access.log;
client_body_temp_path $d/tmp/body;
proxy_temp_path $d/tmp/proxy;
fastcgi_temp_path $d/tmp/fastcgi;
uwsgi_temp_path $d/tmp/uwsgi;
scgi_temp_path $d/tmp/scgi;
EOF

    $conf =~ s/%%TEST_GLOBALS%%/$globals/g;
    $conf =~ s/%%TEST_GLOBALS_HTTP%%/$http/g;
    $conf =~ s/%%PORT%%/$self->{port}/g;
    $conf =~ s/%%PORT_(\d+)%%/$self->extra_port($1)/ge;
    $conf =~ s/%%TLS%%/$self->tls_conf/ge;
    $conf =~ s/%%WEB_CLIENT%%/$WEB_CLIENT/g;
    $conf =~ s/%%DIR%%/$d/g;
    $conf =~ s/%%TOP%%/$TOP/g;

    open my $fh, '>', "$d/conf/nginx.conf" or die $!;
    print $fh $conf;
    close $fh;

    return $self;
}

# a self-signed certificate for localhost (P-256) and its key, made once:
# their paths, in the test's directory
sub tls_cert {
    my ($self) = @_;
    my ($cert, $key) = ("$self->{dir}/cert.pem", "$self->{dir}/key.pem");
    return ($cert, $key) if -s $cert && -s $key;
    system('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1'
        . " -nodes -subj /CN=localhost -keyout $key -out $cert -days 2"
        . ' 2>/dev/null') == 0
        or BAIL_OUT('openssl could not make a certificate');
    return ($cert, $key);
}

# TLS 1.3 as well: nginx 1.22 offers only up to 1.2 unless told (Debian's
# nginx.conf and nginx 1.23.4's default offer 1.3)
sub tls_conf {
    my ($self) = @_;
    my ($cert, $key) = $self->tls_cert;
    return "ssl_certificate $cert;\n        ssl_certificate_key $key;\n"
        . "        ssl_protocols TLSv1.2 TLSv1.3;";
}

sub write_file {
    my ($self, $name, $content) = @_;
    my $path = "$self->{dir}/$name";
    make_path(dirname($path));
    open my $fh, '>', $path or die "$path: $!";
    print $fh $content;
    close $fh;
    return $self;
}

# the line of the generated nginx.conf that matches, for checking that an
# error names it
sub conf_line {
    my ($self, $re) = @_;
    my @l = split /\n/, $self->read_file('conf/nginx.conf');
    for my $i (0 .. $#l) {
        return $i + 1 if $l[$i] =~ $re;
    }
    return 0;
}

sub test_conf {
    my ($self) = @_;
    # nginx -t leaves its cycle to exit(): not a leak worth reporting
    local $ENV{ASAN_OPTIONS} = 'detect_leaks=0';
    my $out = `$NGINX -p $self->{dir}/ -c conf/nginx.conf -e $self->{dir}/logs/error.log -t 2>&1`;
    return ($? == 0, $out);
}

sub run {
    my ($self) = @_;

    my $d = $self->{dir};
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        # its own process group: workers outlive a SIGKILLed master, and
        # stop() and DESTROY end them all with one kill
        POSIX::setpgid(0, 0);
        open STDOUT, '>', "$d/logs/stdout.log";
        open STDERR, '>', "$d/logs/stderr.log";
        my @vg;
        if ($ENV{TEST_NOOM_VALGRIND}) {
            # every process, the forked workers included, its own log
            @vg = ('valgrind', '-q', '--tool=memcheck', '--leak-check=full',
                '--show-leak-kinds=definite', '--num-callers=30',
                '--keep-debuginfo=yes',
                "--log-file=$d/logs/valgrind.%p.log");
        }
        exec(@vg, $NGINX, '-p', "$d/", '-c', 'conf/nginx.conf',
            '-e', "$d/logs/error.log", '-g', 'daemon off;')
            or die "exec: $!";
    }

    $self->{pid} = $pid;
    $self->{pgid} = $pid;
    $groups{$pid} = $$;
    $self->{owner} = $$;
    $self->wait_port($self->{port}) or do {
        my $err = $self->read_file('logs/error.log') . $self->read_file('logs/stderr.log');
        die "nginx did not start:\n$err";
    };

    # the workers are up once they all have registered with the zone
    $self->{single} || wait_until(
        sub { $self->worker_pids >= $self->{workers} },
        "nginx has its $self->{workers} workers", 30)
        or die "nginx did not start its workers";

    return $self;
}

# nginx listens on the port (0: it did not, or it exited)
sub wait_port {
    my ($self, $port) = @_;
    my $exited = 0;
    my $up = wait_until(sub {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $port, Proto => 'tcp');
        if ($s) { close $s; return 'up'; }
        $exited = waitpid($self->{pid}, WNOHANG) > 0;
        return $exited && 'exited';
    }, "nginx listens on port $port", 30);
    return $up eq 'up' ? 1 : 0;
}

sub master_pid { $_[0]{pid} }

# coturn on 127.0.0.1:$port with the TURN REST API secret; stopped with
# nginx.  Loopback relaying is allowed here only because the test's network
# is 127.0.0.1.
sub start_coturn {
    my ($self, $port, $secret) = @_;
    my $d = $self->{dir};
    $self->write_file('turnserver.conf', join "\n",
        'listening-ip=127.0.0.1', 'relay-ip=127.0.0.1',
        "listening-port=$port", 'min-port=49152', 'max-port=65535',
        'use-auth-secret', "static-auth-secret=$secret", 'realm=noom.test',
        'fingerprint', 'no-tls', 'no-dtls', 'no-cli',
        'allow-loopback-peers', 'no-multicast-peers',
        "log-file=$d/logs/turn.log", 'simple-log', 'verbose',
        "pidfile=$d/turn.pid", '');
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$d/logs/turn.out";
        open STDERR, '>&', \*STDOUT;
        exec '/usr/bin/turnserver', '-c', "$d/turnserver.conf";
        exit 127;
    }
    $self->{coturn} = $pid;
    return $self->wait_udp_turn($port);
}

sub stop_coturn {
    my ($self) = @_;
    my $pid = delete $self->{coturn} or return;
    kill 'TERM', $pid;
    waitpid($pid, 0);
}

# a STUN binding request answered on a UDP port: the TURN server is up
sub wait_udp_turn {
    my ($self, $port) = @_;
    require IO::Socket::INET;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'udp') or return 0;
    my $req = pack('nnN', 0x0001, 0, 0x2112A442) . pack('N3', 1, 2, 3);
    # UDP: the request again until an answer comes
    return wait_until(sub {
        $s->send($req);
        IO::Select->new($s)->can_read(0.1) or return 0;
        $s->recv(my $buf, 1500);
        return length $buf >= 20 && unpack('n', $buf) == 0x0101;
    }, "coturn answers a STUN binding request on UDP port $port", 10)
        ? 1 : 0;
}

sub worker_pids {
    my ($self) = @_;
    return () if $self->{single};
    my @p;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $fh, '<', $stat or next;
        my $l = <$fh> // next;
        close $fh;
        # pid (comm) state ppid
        if ($l =~ /^(\d+) \((.*)\) \S+ (\d+)/ && $3 == $self->{pid}) {
            my $pid = $1;
            open my $c, '<', "/proc/$pid/cmdline" or next;
            my $cmd = <$c> // '';
            push @p, $pid if $cmd =~ /worker process/;
        }
    }
    @p = sort { $a <=> $b } @p;
    return @p;
}

# nginx -s reload: returns when the new workers run and every old one has
# either exited or taken the shutdown signal (its title says so; it closes
# its listening sockets in the same step), so that no new connection can
# reach an old worker any more.  Before that an old worker still accepts,
# and what it accepts goes with it.
sub reload {
    my ($self) = @_;
    my %old = map { $_ => 1 } $self->worker_pids;
    kill 'HUP', $self->{pid};
    wait_until(sub {
        (grep { !$old{$_} } $self->worker_pids) >= $self->{workers}
    }, "the reload's $self->{workers} new workers run", 30)
        or die "reload: new workers did not start";
    wait_until(sub {
        !grep { !_shutting_down($_) } grep { $old{$_} } $self->worker_pids
    }, 'the old workers stop accepting', 30)
        or die "reload: old workers did not take the signal";
    return $self;
}

sub _shutting_down {
    my ($pid) = @_;
    open my $c, '<', "/proc/$pid/cmdline" or return 1;
    my $cmd = <$c> // '';
    return $cmd =~ /shutting down/;
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'QUIT', $self->{pid};
    if (wait_until(sub { waitpid($self->{pid}, WNOHANG) > 0 },
            'nginx exits after QUIT', 15)) {
        delete $self->{pid};
        return $self->kill_group == 0;
    }
    $self->kill_group;
    waitpid($self->{pid}, 0);
    delete $self->{pid};
    return 0;
}

# SIGKILL to every process left in nginx's group (workers of a dead master,
# a stuck master, valgrind wrappers); returns how many there were
sub kill_group {
    my ($self) = @_;
    my $g = $self->{pgid} or return 0;
    my $n = 0;
    wait_until(sub {
        my @left = group_pids($g);
        return 1 unless @left;
        unless ($n) {
            $n = @left;
            $self->{left} = join ', ', map { describe_pid($_) } @left;
        }
        kill 'KILL', -$g;
        waitpid($self->{pid}, WNOHANG) if $self->{pid};
        return 0;
    }, "nginx's process group $g is gone", 5);
    delete $groups{$g} unless group_pids($g);
    return $n;
}

sub describe_pid {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return "$pid (gone)";
    my $l = <$fh> // '';
    my ($comm, $state) = $l =~ /\((.*)\) (\S)/;
    return "$pid ($comm, $state)";
}

sub group_pids {
    my ($g) = @_;
    my @p;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $fh, '<', $stat or next;
        my $l = <$fh> // next;
        close $fh;
        # pid (comm) state ppid pgrp; zombies are dead already
        push @p, $1 if $l =~ /^(\d+) \(.*\) ([^Z]) \d+ (\d+)/ && $3 == $g;
    }
    return @p;
}

# what valgrind found: any memory error, and definitely lost blocks whose
# stacks pass through noom (nginx's own exit-time leaks are not ours)
sub valgrind_errors {
    my ($self) = @_;
    my @out;
    for my $f (glob "$self->{dir}/logs/valgrind.*.log") {
        open my $fh, '<', $f or next;
        local $/ = '';   # records are separated by blank lines
        while (my $rec = <$fh>) {
            $rec =~ s/^==\d+== ?//mg;
            next unless $rec =~ /\S/;
            if ($rec =~ /definitely lost/) {
                push @out, $rec if $rec =~ /noom/;
            } elsif ($rec =~ /Invalid (read|write|free)|uninitialised|Mismatched|overlap/) {
                push @out, $rec;
            }
        }
    }
    return join "\n", @out;
}

sub read_file {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{dir}/$name" or return '';
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub error_log { $_[0]->read_file('logs/error.log') }

# the lines of error.log written since the last call
sub new_log {
    my ($self) = @_;
    my $log = $self->error_log;
    my $from = $self->{log_pos} // 0;
    $self->{log_pos} = length $log;
    return substr($log, $from);
}

# the error log has a line that matches (1), or not within the time (0)
sub wait_log {
    my ($self, $re, $timeout) = @_;
    return wait_until(sub { $self->error_log =~ $re },
        "the error log matches $re", $timeout // 5) ? 1 : 0;
}

# the end of every test file: stop nginx, then no alerts, no sanitizer
# reports, no "open socket left"
sub done {
    my ($self, %opts) = @_;
    $self->check(%opts);
    done_testing();
}

sub check {
    my ($self, %opts) = @_;
    my $stopped = $self->stop;
    ok($stopped, 'nginx stopped gracefully')
        or diag 'left in its process group: ' . ($self->{left} // 'none')
            . ' (pgid ' . ($self->{pgid} // '?') . ')';
    my $log = $self->error_log . $self->read_file('logs/stderr.log');
    my @bad = grep { /\[(alert|crit|emerg)\]|Sanitizer|runtime error:|open socket #/ }
        split /\n/, $log;
    @bad = grep { $_ !~ $opts{allow} } @bad if $opts{allow};
    is(join("\n", @bad), '', 'no alerts in the error log');
    if ($ENV{TEST_NOOM_VALGRIND}) {
        is($self->valgrind_errors, '', 'valgrind: no memory errors, no '
            . 'leaks of noom');
    }
}

# the lines of error.log and stderr that done() counts as bad (alerts,
# sanitizer reports, "open socket left"), for checking a second nginx of
# the same file, which cannot end with done()
sub alerts {
    my ($self) = @_;
    my $log = $self->error_log . $self->read_file('logs/stderr.log');
    return join "\n",
        grep { /\[(alert|crit|emerg)\]|Sanitizer|runtime error:|open socket #/ }
        split /\n/, $log;
}

sub DESTROY {
    my ($self) = @_;
    return if ($self->{owner} // $$) != $$;   # a copy in a forked child
    local ($?, $!, $@);
    # a signal now must not cut the cleanup short
    local @SIG{qw(INT TERM HUP)} = ('IGNORE') x 3;
    $self->stop_coturn;
    $self->kill_group;
    if ($self->{pid}) {
        kill 'KILL', $self->{pid};
        waitpid($self->{pid}, 0);
    }
}

# an HTTP request over a fresh connection; returns (status, headers, body)
sub http {
    my ($self, $request) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp') or die "connect: $!";
    $s->autoflush(1);
    print $s $request;
    my $resp = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(5)) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $resp .= $buf;
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    $head //= '';
    my ($status) = $head =~ m{^HTTP/1\.[01] (\d+)};
    my %h;
    for (split /\r\n/, $head) {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($status // 0, \%h, $body // '', $head);
}

# Raw HTTP/1.1 requests for the polling tests, one connection each (a
# request held by the server must not hold up the next): send_req() writes
# the request and returns the socket, read_resp() reads its answer up to
# Content-Length (or the end of the connection) and closes it, req() does
# both.  The answer is (status, {headers}, body), (0, {}, '') when none
# came within the timeout (5 s).
sub send_req {
    my ($self, $method, $uri, $body, @headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp') or die "connect: $!";
    binmode $s;
    $s->autoflush(1);
    my $h = join '', map { "$_\r\n" } @headers;
    my $len = defined $body ? 'Content-Length: ' . length($body) . "\r\n"
        : '';
    print $s "$method $uri HTTP/1.1\r\nHost: localhost\r\n$len$h\r\n"
        . ($body // '');
    return $s;
}

sub read_resp {
    my ($self, $s, $timeout) = @_;
    my $resp = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read($timeout // 5)) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $resp .= $buf;
        my ($head, $body) = split /\r\n\r\n/, $resp, 2;
        last if defined $body && $head =~ /^Content-Length: (\d+)/mi
            && length $body >= $1;
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    return (0, {}, '') unless $head;
    my ($status) = $head =~ m{^HTTP/1\.[01] (\d+)};
    my %h;
    for (split /\r\n/, $head) {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($status // 0, \%h, $body // '');
}

sub req {
    my ($self, @req) = @_;
    return $self->read_resp($self->send_req(@req));
}

# The same on a keep-alive connection that stays open: ka_conn() opens it,
# ka_send() writes a request on it, ka_read() reads one response up to its
# Content-Length and keeps what follows for the next one, ka() does both.
my %ka_rest;

sub ka_conn {
    my ($self) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp') or die "connect: $!";
    binmode $c;
    $c->autoflush(1);
    return $c;
}

sub ka_send {
    my ($self, $c, $method, $uri, $body, @headers) = @_;
    my $hd = join '', map { "$_\r\n" } @headers;
    my $len = defined $body ? 'Content-Length: ' . length($body) . "\r\n"
        : '';
    print $c "$method $uri HTTP/1.1\r\nHost: localhost\r\n$len$hd\r\n"
        . ($body // '');
}

sub ka_read {
    my ($self, $c, $timeout) = @_;
    my $resp = delete $ka_rest{$c} // '';
    my $sel = IO::Select->new($c);
    my ($head, $rest, $len);
    for (;;) {
        ($head, $rest) = split /\r\n\r\n/, $resp, 2;
        if (defined $rest && $head =~ /^Content-Length: (\d+)/mi
            && length $rest >= $1)
        {
            $len = $1;
            last;
        }
        last unless $sel->can_read($timeout // 5);
        my $got = sysread($c, my $buf, 65536);
        last unless $got;
        $resp .= $buf;
    }
    return (0, {}, '') unless $head && defined $len;
    $ka_rest{$c} = substr($rest, $len) if length $rest > $len;
    $rest = substr($rest, 0, $len);
    my ($code) = $head =~ m{^HTTP/1\.1 (\d+)};
    my %hd;
    for (split /\r\n/, $head) {
        $hd{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($code // 0, \%hd, $rest);
}

sub ka {
    my ($self, $c, @req) = @_;
    $self->ka_send($c, @req);
    return $self->ka_read($c);
}

sub get {
    my ($self, $uri, @headers) = @_;
    my $h = join '', map { "$_\r\n" } @headers;
    return $self->http("GET $uri HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\n$h\r\n");
}

sub status_json {
    my ($self, $uri) = @_;
    require JSON::PP;
    my (undef, undef, $body) = $self->get($uri // '/status');
    return JSON::PP::decode_json($body);
}


package Noom::WS;

# An RFC 6455 client that can also break the rules on purpose.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use Protocol::WebSocket::Frame;
use Socket qw(IPPROTO_TCP SOL_SOCKET SO_RCVBUF TCP_NODELAY);
use Time::HiRes qw(time);

my %OP = (cont => 0, text => 1, binary => 2, close => 8, ping => 9,
    pong => 10);
my %NAME = reverse %OP;

# tls => 1: over TLS (a server with %%TLS%%, its certificate not checked);
# rcvbuf => bytes: the socket's receive buffer; nodelay => 0: Nagle's
# algorithm on (browsers and Node's ws turn it off, and so does this
# client by default: with it, a second small write waits for the server's
# delayed ACK of the first, 40 ms here)
sub connect {
    my ($class, $t, %o) = @_;

    my $path = $o{path} // '/ws/?EIO=4&transport=websocket';
    my $key = $o{key} // 'dGhlIHNhbXBsZSBub25jZQ==';
    # local => '127.0.0.2': another client address (all of 127/8 is local)
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $o{port} // $t->port, Proto => 'tcp',
        ($o{local} ? (LocalAddr => $o{local}) : ())) or die "connect: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, $o{rcvbuf}) if $o{rcvbuf};
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1) if $o{nodelay} // 1;
    if ($o{tls}) {
        require IO::Socket::SSL;
        IO::Socket::SSL->start_SSL($s, SSL_verify_mode => 0,
            SSL_hostname => 'localhost')
            or die "TLS: $IO::Socket::SSL::SSL_ERROR";
    }
    $s->autoflush(1);
    binmode $s;

    my $req = $o{request} // join('',
        "GET $path HTTP/1.1\r\n",
        "Host: 127.0.0.1\r\n",
        "Upgrade: websocket\r\n",
        "Connection: Upgrade\r\n",
        "Sec-WebSocket-Key: $key\r\n",
        "Sec-WebSocket-Version: 13\r\n",
        (map { "$_\r\n" } @{ $o{headers} // [] }),
        "\r\n");

    my $self = bless { s => $s, buf => '', t => $t, tls => $o{tls} },
        $class;
    $self->raw($req . ($o{preload} // ''));

    # the response head
    my $t0 = time;
    while ($self->{buf} !~ /\r\n\r\n/) {
        last unless $self->_fill(5 - (time - $t0));
    }
    my ($head, $rest) = split /\r\n\r\n/, $self->{buf}, 2;
    $self->{buf} = $rest // '';
    $self->{head} = $head // '';
    ($self->{status}) = ($head // '') =~ m{^HTTP/1\.1 (\d+)};
    $self->{status} //= 0;
    for (split /\r\n/, $head // '') {
        $self->{headers}{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    $self->{worker} = $self->{headers}{'x-noom-worker'};
    return $self;
}

# a connection whose 101 came from worker $w (needs noom_worker_header and
# "listen ... reuseport" for the kernel to spread connections)
sub connect_on_worker {
    my ($class, $t, $w, %o) = @_;
    for (1 .. 400) {
        my $c = $class->connect($t, %o);
        return $c if defined $c->{worker} && $c->{worker} == $w;
        $c->close_socket;
    }
    die "no connection landed on worker $w";
}

sub status { $_[0]{status} }
sub header { $_[0]{headers}{lc $_[1]} }
sub worker { $_[0]{worker} }
sub body_rest { $_[0]{buf} }

sub _fill {
    my ($self, $timeout) = @_;
    return 0 if $self->{eof};
    $timeout = 0 if $timeout < 0;
    my $s = $self->{s};
    # over TLS, data may wait inside the TLS layer where select() does not
    # see it
    unless ($self->{tls} && $s->pending) {
        return 0 unless IO::Select->new($s)->can_read($timeout);
    }
    my $n = sysread($s, my $buf, 262144);
    if (!defined $n && $self->{tls}
        && $IO::Socket::SSL::SSL_ERROR == IO::Socket::SSL::SSL_WANT_READ()) {
        return 1;   # a TLS record not whole yet
    }
    if (!$n) {
        $self->{eof} = 1;
        return 0;
    }
    $self->{buf} .= $buf;
    return 1;
}

sub raw {
    my ($self, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    return syswrite($self->{s}, $bytes) unless $self->{tls};
    # a TLS write takes a record at most: every byte, or false once the
    # server is gone
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($self->{s}, $bytes, length($bytes) - $off, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}

# a frame, by default masked and final; opcode by name or number; len
# overrides the length field, mask => 0 sends it unmasked
sub frame_bytes {
    my (%f) = @_;
    my $op = $f{op} // 'text';
    $op = $OP{$op} if exists $OP{$op};
    my $data = $f{data} // '';
    my $fin = exists $f{fin} ? $f{fin} : 1;
    my $rsv = $f{rsv} // 0;
    my $masked = exists $f{mask} ? $f{mask} : 1;
    my $len = $f{len} // length $data;

    if ($masked && !defined $f{len} && !$rsv && $fin && ($op == 1 || $op == 2)) {
        # the well-formed common case, through Protocol::WebSocket
        my $type = $NAME{$op};
        return Protocol::WebSocket::Frame->new(buffer => $data,
            type => $type, masked => 1, max_payload_size => 0)->to_bytes;
    }

    my $b = chr(($fin ? 0x80 : 0) | ($rsv << 4) | $op);
    my $m = $masked ? 0x80 : 0;
    if ($len < 126) {
        $b .= chr($m | $len);
    } elsif ($len < 65536) {
        $b .= chr($m | 126) . pack('n', $len);
    } else {
        $b .= chr($m | 127) . pack('Q>', $len);
    }
    if ($masked) {
        my $key = pack('N', int(rand(2**32)));
        $b .= $key;
        my $mask = substr($key x (int(length($data) / 4) + 1), 0, length $data);
        $data = $data ^ $mask;
    }
    return $b . $data;
}

sub send_frame {
    my ($self, %f) = @_;
    return $self->raw(frame_bytes(%f));
}

sub send_text { $_[0]->send_frame(op => 'text', data => $_[1]) }
sub send_binary { $_[0]->send_frame(op => 'binary', data => $_[1]) }

sub send_close {
    my ($self, $code, $reason) = @_;
    my $data = defined $code ? pack('n', $code) . ($reason // '') : '';
    return $self->send_frame(op => 'close', data => $data);
}

# the next frame from the server: { op, fin, data, code, reason }, undef on
# timeout, { op => 'eof' } when the server closed the connection
sub recv_frame {
    my ($self, $timeout) = @_;
    $timeout //= 5;
    my $t0 = time;

    for (;;) {
        my $f = $self->_parse;
        return $f if $f;
        if (!$self->_fill($timeout - (time - $t0))) {
            return { op => 'eof' } if $self->{eof};
            return undef;
        }
    }
}

sub _parse {
    my ($self) = @_;
    my $b = \$self->{buf};
    return undef if length $$b < 2;
    my ($b0, $b1) = unpack('CC', $$b);
    my $len = $b1 & 0x7f;
    my $off = 2;
    if ($len == 126) {
        return undef if length $$b < 4;
        $len = unpack('n', substr($$b, 2, 2));
        $off = 4;
    } elsif ($len == 127) {
        return undef if length $$b < 10;
        $len = unpack('Q>', substr($$b, 2, 8));
        $off = 10;
    }
    die "server frame is masked" if $b1 & 0x80;
    die "server frame has RSV bits" if $b0 & 0x70;
    return undef if length $$b < $off + $len;
    my $data = substr($$b, $off, $len);
    substr($$b, 0, $off + $len) = '';
    my $op = $b0 & 0x0f;
    my $f = { op => $NAME{$op} // $op, fin => ($b0 & 0x80) ? 1 : 0,
        data => $data };
    if ($op == 8 && length $data >= 2) {
        $f->{code} = unpack('n', $data);
        $f->{reason} = substr($data, 2);
    }
    return $f;
}

# the echoes of @$msgs, sent in that order, each starting with its number
# as '%05d:'; $op->($i) is the opcode message $i went with.  Returns how
# many came, how many in their place, how many whole, and their bytes.
sub recv_echoes {
    my ($self, $msgs, $op, $timeout) = @_;
    my ($got, $whole, $order, $bytes) = (0, 0, 0, 0);
    while ($got < @$msgs) {
        my $f = $self->recv_frame($timeout // 10) or last;
        last if $f->{op} eq 'eof' || $f->{op} eq 'close';
        $whole++ if $f->{data} eq $msgs->[$got] && $f->{op} eq $op->($got);
        $order++ if substr($f->{data}, 0, 6) eq sprintf('%05d:', $got);
        $bytes += length $f->{data};
        $got++;
    }
    return ($got, $order, $whole, $bytes);
}

# the frames up to the close frame: how many, how many $good->($frame, $i)
# says are right, and the close frame's code and reason
sub recv_until_close {
    my ($self, $good, $timeout) = @_;
    my ($frames, $ok, $code, $reason) = (0, 0, undef, '');
    for (;;) {
        my $f = eval { $self->recv_frame($timeout // 5) };
        if (!$f) {
            Test::More::diag("no frame: $@") if $@;
            last;
        }
        last if $f->{op} eq 'eof';
        if ($f->{op} eq 'close') {
            ($code, $reason) = ($f->{code}, $f->{reason});
            last;
        }
        $ok++ if $good->($f, $frames);
        $frames++;
    }
    return ($frames, $ok, $code, $reason);
}

# the next data frame, answering and skipping pings
sub recv_message {
    my ($self, $timeout) = @_;
    for (;;) {
        my $f = $self->recv_frame($timeout);
        return $f if !$f || $f->{op} ne 'ping';
        $self->send_frame(op => 'pong', data => $f->{data});
    }
}

# waits for the server's close frame (answering it) and then for the end
# of the TCP connection; returns the close code (0: close frame without
# one, undef: no close frame)
sub wait_close {
    my ($self, $timeout) = @_;
    $timeout //= 5;
    my $t0 = time;
    my $code;
    for (;;) {
        my $f = $self->recv_frame($timeout - (time - $t0));
        last if !$f;
        if ($f->{op} eq 'close') {
            $code = $f->{code} // 0;
            $self->{close_reason} = $f->{reason};
            $self->send_frame(op => 'close', data => substr($f->{data}, 0, 2))
                unless $self->{closing};
            next;
        }
        last if $f->{op} eq 'eof';
    }
    $self->{closed_at} = time;
    return $code;
}

sub close_reason { $_[0]{close_reason} }

# until nginx has read every byte sent so far: the receive queue of its end
# of the connection (/proc/net/tcp) is empty.  For sending a frame a byte
# per read without a pause between the writes.
sub wait_read {
    my ($self) = @_;
    my $line = sprintf '^\s*\d+: [0-9A-F]{8}:%04X [0-9A-F]{8}:%04X '
        . '[0-9A-F]{2} [0-9A-F]{8}:([0-9A-F]{8}) ',
        $self->{s}->peerport, $self->{s}->sockport;
    my $re = qr/$line/;
    return Noom::Test::wait_until(sub {
        open my $fh, '<', '/proc/net/tcp' or die "/proc/net/tcp: $!";
        while (my $l = <$fh>) {
            return hex($1) == 0 if $l =~ $re;
        }
        return 1;   # the connection is gone: nothing left to read
    }, 'nginx read what the client sent');
}

# true when the server closed the TCP connection within the time
sub wait_eof {
    my ($self, $timeout) = @_;
    $timeout //= 5;
    my $t0 = time;
    while (time - $t0 < $timeout) {
        return 1 if $self->{eof};
        $self->{buf} = '';
        $self->_fill($timeout - (time - $t0));
    }
    return $self->{eof} ? 1 : 0;
}

sub close_socket {
    my ($self) = @_;
    close $self->{s} if $self->{s};
    delete $self->{s};
}


package Noom::SIO;

# Engine.IO v4 + Socket.IO v5 over Noom::WS.

use strict;
use warnings;

use JSON::PP;
use Time::HiRes qw(time);

our @ISA = ('Noom::WS');

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub json { $JSON }

# connects, reads the open packet, joins "/" (unless nsp => undef)
sub connect {
    my ($class, $t, %o) = @_;
    my $self = Noom::WS::connect($class, $t, %o);
    return $self if $self->{status} != 101;

    my $f = $self->recv_frame(5);
    die "no open packet" unless $f && $f->{op} eq 'text' && $f->{data} =~ /^0/;
    $self->{open} = $JSON->decode(substr($f->{data}, 1));
    $self->{events} = [];
    $self->{acks} = {};
    $self->{ack_id} = 0;

    if (!exists $o{nsp} || defined $o{nsp}) {
        my $auth = defined $o{auth} ? $JSON->encode($o{auth}) : '';
        my $nsp = $o{nsp} // '/';
        $self->send_text('40' . ($nsp eq '/' ? '' : "$nsp,") . $auth);
        my $p = $self->next_packet(5) // die "no CONNECT reply";
        die "CONNECT refused: $p->{raw}" unless $p->{type} == 0;
        $self->{sid} = data($p)->{sid};
        $self->{pid} = data($p)->{pid};
    }
    return $self;
}

sub connect_on_worker {
    my ($class, $t, $w, %o) = @_;
    for (1 .. 400) {
        my $s = $class->connect($t, %o);
        return $s if defined $s->{worker} && $s->{worker} == $w;
        # gone for good, not away for noom_recovery's window
        $s->send_text('41') if $s->{sid};
        $s->close_socket;
    }
    die "no connection landed on worker $w";
}

sub id { $_[0]{sid} }
sub pid { $_[0]{pid} }     # noom_recovery's private id
sub open_packet { $_[0]{open} }

# the next Socket.IO packet (Engine.IO pings answered on the way):
# { type, nsp, id, data, raw }, or undef, or { type => 'close', code }
sub next_packet {
    my ($self, $timeout) = @_;
    my $p = $self->_next($timeout);
    data($p) if $p && defined $p->{json};
    return $p;
}

# the same, the JSON left undecoded until data() asks for it
sub _next {
    my ($self, $timeout) = @_;
    $timeout //= 5;
    my $t0 = time;
    for (;;) {
        my $f = $self->recv_frame($timeout - (time - $t0));
        return undef unless $f;
        return { type => 'eof' } if $f->{op} eq 'eof';
        if ($f->{op} eq 'close') {
            $self->{close_reason} = $f->{reason};
            return { type => 'close', code => $f->{code} };
        }
        if ($f->{op} eq 'ping') {
            $self->send_frame(op => 'pong', data => $f->{data});
            next;
        }
        if ($f->{op} eq 'binary') {
            return { type => 'binary', data => $f->{data} };
        }
        my $d = $f->{data};
        if ($d eq '2') {
            $self->send_text('3') unless $self->{no_pong};
            next;
        }
        return { type => 'eio', raw => $d } unless $d =~ /^4/;
        return parse_packet(substr($d, 1));
    }
}

sub parse_packet {
    my ($s) = @_;
    my $p = { raw => $s };
    $s =~ s/^(\d)// or return $p;
    $p->{type} = $1;
    $p->{attachments} = $1 if $s =~ s/^(\d+)-//;
    $p->{nsp} = '/';
    if ($s =~ s{^(/[^,]*),?}{}) {
        $p->{nsp} = $1;
    }
    $p->{id} = $1 if $s =~ s/^(\d+)//;
    $p->{json} = $s;
    $p->{name} = $1 if $s =~ /^\["((?:[^"\\]|\\.)*)"/;
    return $p;
}

# the JSON of a packet, decoded when first asked for: a client that waits
# for one event among thousands does not decode the others
sub data {
    my ($p) = @_;
    $p->{data} = length $p->{json} ? $JSON->decode($p->{json}) : undef
        unless exists $p->{data};
    return $p->{data};
}

sub event_args {
    my ($p) = @_;
    my $d = data($p);
    return [ @{$d}[1 .. $#$d] ];
}

sub emit {
    my ($self, @args) = @_;
    $self->send_text('42' . $JSON->encode(\@args));
}

# an event with an ack id; returns the id
sub emit_ack {
    my ($self, @args) = @_;
    my $id = $self->{ack_id}++;
    $self->send_text("42$id" . $JSON->encode(\@args));
    return $id;
}

# the arguments of the ack with that id, other packets kept for later
sub ack {
    my ($self, $id, $timeout) = @_;
    return delete $self->{acks}{$id} if exists $self->{acks}{$id};
    my $t0 = time;
    $timeout //= 5;
    for (;;) {
        my $p = $self->_next($timeout - (time - $t0)) // return undef;
        return undef if $p->{type} !~ /^\d$/;
        if ($p->{type} == 3 && $p->{id} == $id) {
            return data($p);
        }
        $self->_keep($p);
    }
}

sub call {
    my ($self, @args) = @_;
    return $self->ack($self->emit_ack(@args));
}

sub _keep {
    my ($self, $p) = @_;
    if ($p->{type} == 3) {
        $self->{acks}{$p->{id}} = data($p);
    } else {
        push @{ $self->{events} }, $p;
    }
}

# the next event with that name (others kept); returns its arguments
sub event {
    my ($self, $name, $timeout) = @_;
    $timeout //= 5;
    for my $i (0 .. $#{ $self->{events} }) {
        my $p = $self->{events}[$i];
        if ($p->{type} == 2 && defined $p->{name} && $p->{name} eq $name) {
            splice @{ $self->{events} }, $i, 1;
            return event_args($p);
        }
    }
    my $t0 = time;
    for (;;) {
        my $p = $self->_next($timeout - (time - $t0)) // return undef;
        return undef if $p->{type} !~ /^\d$/;
        if ($p->{type} == 2 && defined $p->{name} && $p->{name} eq $name) {
            return event_args($p);
        }
        $self->_keep($p);
    }
}

# no event with that name arrives within the time
sub no_event {
    my ($self, $name, $timeout) = @_;
    return !defined $self->event($name, $timeout // 0.3);
}

# drop what was kept
sub flush_events {
    my ($self) = @_;
    $self->{events} = [];
    while (my $p = $self->_next(0.05)) {
        last if $p->{type} !~ /^\d$/;
    }
    $self->{events} = [];
}

package Noom::Redis;

# A redis-server of the test's own, on a free port (Noom::Test::free_port,
# held by its flock for the whole test), in a temporary directory, without
# persistence: a restart starts empty, as after a lost machine.  It is
# killed when the object goes or the test exits.  Tests skip when Debian's
# redis-server is not installed.

use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);

our $SERVER = '/usr/bin/redis-server';
our $CLI = '/usr/bin/redis-cli';
my %alive;

END { local $?; kill 'KILL', keys %alive; }

sub available { -x $SERVER && -x $CLI }

sub new {
    my ($class, %o) = @_;
    my $self = bless {
        port => Noom::Test::free_port(),
        dir => tempdir('noom-redis-XXXXXX', TMPDIR => 1,
            CLEANUP => !$ENV{TEST_NOOM_KEEP}),
        %o,
    }, $class;
    chmod 0755, $self->{dir};   # nginx's workers run as nobody
    return $self->start;
}

sub port { $_[0]{port} }
sub address { "127.0.0.1:$_[0]{port}" }

sub start {
    my ($self) = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        open STDOUT, '>>', "$self->{dir}/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec $SERVER, '--port', $self->{port}, '--bind', '127.0.0.1',
            '--save', '', '--appendonly', 'no', '--dir', $self->{dir},
            '--daemonize', 'no', '--protected-mode', 'no',
            '--unixsocket', "$self->{dir}/redis.sock",
            '--unixsocketperm', '777',
            ($self->{password} ? ('--requirepass', $self->{password}) : ())
            or exit 127;
    }
    $self->{pid} = $pid;
    $alive{$pid} = 1;
    my $up = Noom::Test::wait_until(sub {
        return 'up' if ($self->cli('PING') // '') eq 'PONG';
        return waitpid($pid, WNOHANG) > 0 && 'exited';
    }, "redis-server answers PING on port $self->{port}", 30);
    return $self if $up eq 'up';
    die $up ? "redis-server exited" : "redis-server did not start";
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    local ($?, $!);
    kill 'KILL', $pid;
    waitpid($pid, 0);
    delete $alive{$pid};
}

# one command through redis-cli; its output without the last newline
sub cli {
    my ($self, @args) = @_;
    open my $null, '>', '/dev/null';
    open my $err, '>&', \*STDERR;
    open STDERR, '>&', $null;
    my @auth = $self->{password}
        ? ('-a', $self->{password}, '--no-auth-warning') : ();
    open my $fh, '-|', $CLI, '-p', $self->{port}, @auth, '--raw', @args;
    open STDERR, '>&', $err;
    return undef unless $fh;
    local $/;
    my $out = <$fh>;
    close $fh;
    return undef unless defined $out;
    $out =~ s/\n\z//;
    return $out;
}

# an nginx node of the cluster: its own prefix and port, 2 workers unless
# told, noom_redis to this server; waits until every worker is linked.
# Its pings come every 300 s unless the location says otherwise: a test
# blocked in redis-cli (a few seconds a call at a load of 30 or more) reads
# none of its clients' sockets, and with the 25 s default their pongs came
# too late and the node ended them, rooms and subscriptions with them.
sub node {
    my ($self, %o) = @_;
    my $t = Noom::Test->new(workers => $o{workers} // 2);
    my $timeout = $o{node_timeout} // '10s';
    my $extra = $o{http} // '';
    my $loc = $o{location} // '';
    $loc .= ' noom_ping_interval 300s;' unless $loc =~ /noom_ping_interval/;
    # unix => 1: through the unix socket; password and db= as the server
    my $addr = $o{unix} ? "unix:$self->{dir}/redis.sock" : $self->address;
    $addr .= qq{ "password=$self->{password}"} if $self->{password};
    $addr .= " db=$o{db}" if $o{db};
    $t->write_conf(<<"EOF")->run;
%%TEST_GLOBALS%%
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    noom_redis $addr;
    noom_redis_node_timeout $timeout;
    $extra
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location /ws { noom_rooms; noom_worker_header on; $loc }
        location /status { noom_status; }
    }
}
EOF
    $self->wait_linked($t) or die "node not linked to redis";
    return $t;
}

# every worker of the node linked to Redis (the status says)
sub wait_linked {
    my ($self, $t, $want, $timeout) = @_;
    $want //= $t->{workers};
    return $t->wait_until(
        sub { $t->status_json->{redis}{linked_workers} == $want },
        "$want workers of the node on port ${\ $t->port} are linked to Redis",
        $timeout // 15) ? 1 : 0;
}

sub DESTROY { $_[0]->stop }

1;
