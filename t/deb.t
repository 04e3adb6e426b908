#!/usr/bin/perl

# The Debian packages (make deb, docs/install.md): built from the sources with
# Debian's tooling, what they contain and depend on, what lintian says; then
# installed on this machine with apt, the example site enabled on a free
# port, Debian's nginx started the way its service starts it, with the
# distribution's nginx.conf, and the app flow run through socket.io-client;
# a reinstall and an upgrade; a purge that leaves /etc/nginx as it was.
#
# It installs packages: it needs root and a free dpkg, and is skipped
# otherwise.  Its nginx has its own pid file, logs and port, and none of the
# distribution's sites (the default one would take port 80); the packages'
# dpkg trigger would reload a system nginx, so policy-rc.d forbids that for
# the test's duration.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Digest::MD5 qw(md5_hex);
use File::Find qw(find);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);
use Noom::Test;

my $TOP = $Noom::Test::TOP;
my $NGINX = '/usr/sbin/nginx';
my $ETC = '/etc/nginx';
my $MOD = 'libnginx-mod-http-noom';
my $WEB = 'noom-web';
my $POLICY = '/usr/sbin/policy-rc.d';

plan skip_all => 'tests Debian\'s nginx, not TEST_NGINX_BINARY'
    if $ENV{TEST_NGINX_BINARY};
plan skip_all => 'installs packages: needs root' if $> != 0;
plan skip_all => 'needs dpkg and apt-get'
    unless -x '/usr/bin/dpkg' && -x '/usr/bin/apt-get';
plan skip_all => 'needs nginx, nginx-dev and lintian (make deps)'
    unless -x $NGINX && -f '/usr/share/nginx/src/conf_flags'
    && -x '/usr/bin/lintian';
plan skip_all => 'dpkg is locked by another process' if dpkg_locked();
plan skip_all => "$MOD or $WEB is installed here: the test could not leave "
    . 'the machine as it found it'
    if installed($MOD) || installed($WEB);
plan skip_all => "the distribution's configuration fails nginx -t already"
    if system("$NGINX -t -q >/dev/null 2>&1") != 0;

my ($version) = slurp("$TOP/src/ngx_noom.h")
    =~ /^#define NGX_NOOM_VERSION\s+"([^"]+)"/m;
my $next = "$version+test1";
chomp(my $arch = `dpkg --print-architecture`);
my ($abi) = slurp('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
    =~ /^nginx:abi=(\S+)$/m;

my $t = Noom::Test->new;
my $dir = $t->dir;
my $port = $t->port;
my $site = "$ETC/sites-enabled/noom-test-$$";
my ($installed, $our_policy);

END { cleanup() }
$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP);


# building

my $t0 = time;
my $out = `make -s -C $TOP deb 2>&1`;
is($?, 0, 'make deb builds the packages') or diag $out;
diag(sprintf 'make deb: %.0f s', time - $t0);

my %deb = debs($version);
ok(-f $deb{mod} && -f $deb{web}, "$MOD and $WEB $version are in build/deb/")
    or die "no packages: $out";

is(field($deb{mod}, 'Architecture'), $arch, "$MOD is for $arch");
like(field($deb{mod}, 'Depends'), qr/(^|, )\Q$abi\E(,|$)/,
    "$MOD depends on $abi, as Debian's module packages do");
like(field($deb{mod}, 'Depends'), qr/\blibjansson4\b/,
    'and on the libraries it links');
like(field($deb{mod}, 'Depends'), qr/\blibhiredis0\.14\b/,
    'hiredis among them');
like(field($deb{mod}, 'Depends'), qr/\blibmsgpackc2\b/,
    'and msgpack');
is(field($deb{web}, 'Architecture'), 'all', "$WEB is for all");
like(field($deb{web}, 'Depends'), qr/\b\Q$MOD\E \(>= \Q$version\E\)/,
    "$WEB depends on the module");

# the module: exactly the .so, its load_module line and the docs

my @docs = map { s/\n//r } grep { /\S/ }
    split /^/, slurp("$TOP/debian/$MOD.docs");
is_deeply([ files($deb{mod}) ], [ sort(
    '/usr/lib/nginx/modules/ngx_http_noom_module.so',
    '/usr/share/nginx/modules-available/mod-http-noom.conf',
    "/usr/share/lintian/overrides/$MOD",
    map({ "/usr/share/doc/$MOD/" . s{.*/}{}r } @docs,
        'changelog', 'copyright'),
) ], "$MOD holds the module, its load_module file, its docs, nothing else");
is(member($deb{mod}, '/usr/share/nginx/modules-available/mod-http-noom.conf'),
    "load_module modules/ngx_http_noom_module.so;\n",
    'mod-http-noom.conf loads the module from nginx\'s modules path');
like(member($deb{mod}, '/usr/lib/nginx/modules/ngx_http_noom_module.so'),
    qr{noom/\Q$version\E\0}, "the module is noom $version");

# the web client: html/ as in the tree, the Socket.IO client, the site

my @html;
find({ no_chdir => 1, wanted => sub {
    push @html, $File::Find::name =~ s{^\Q$TOP\E/html}{/usr/share/noom/html}r
        if -f && !m{^\Q$TOP\E/html/(build|vendor/)};
} }, "$TOP/html");
is_deeply([ files($deb{web}) ], [ sort(@html,
    '/usr/share/noom/html/vendor/socket.io.esm.min.js',
    '/usr/share/noom/html/vendor/socket.io.esm.min.js.map',
    '/etc/nginx/sites-available/noom',
    "/usr/share/lintian/overrides/$WEB",
    map({ "/usr/share/doc/$WEB/$_" } 'changelog', 'client.md', 'copyright'),
) ], "$WEB holds the page, the Socket.IO client, the site, nothing else");
is(member($deb{web}, '/usr/share/noom/html/vendor/socket.io.esm.min.js'),
    slurp("$TOP/node_modules/socket.io-client/dist/socket.io.esm.min.js"),
    'the Socket.IO client is npm\'s socket.io-client');
is(`dpkg-deb -I $deb{web} conffiles`, "/etc/nginx/sites-available/noom\n",
    'the site is a conffile');

my @all = (files($deb{mod}), files($deb{web}));
is(join(' ', grep { m{build|obj-|node_modules|/src/|/t/|debian/|\.[cho]$} }
    @all), '', 'nothing from the build tree or the sources');

# lintian: nothing, but for the tags docs/install.md explains

my ($changes) = "$TOP/build/deb/noom_${version}_$arch.changes";
$out = `lintian --pedantic -E -I --show-overrides $changes 2>&1`;
is($?, 0, 'lintian --pedantic passes') or diag $out;
is(join("\n", grep { /^[A-MP-Z]: / } split /\n/, $out), '',
    'without a tag but the overridden ones');

my %overridden = map { /^O: \S+ (\S+)/ ? ($1 => 1) : () } split /\n/, $out;
my ($why) = slurp("$TOP/docs/install.md")
    =~ /^## What lintian says\n(.*?)^## /ms;
my %explained = map { $_ => 1 } ($why // '') =~ /^- `([a-z0-9-]+)`/mg;
is(join(' ', sort keys %overridden), join(' ', sort keys %explained),
    'the overridden tags are the ones docs/install.md explains');

# a newer version, for the upgrade: the same packages repacked as $next (a
# second dpkg-buildpackage of the same sources would cost the suite a minute)

my %newer = map { $_ => repack($deb{$_}, $next) } keys %deb;
is(field($newer{mod}, 'Version'), $next, "$MOD is repacked as $next");
is(field($newer{web}, 'Version'), $next, "$WEB is repacked as $next");


# installing

my %before = etc_state();

unless (-e $POLICY) {
    write_file($POLICY, "#!/bin/sh\n# t/deb.t: no service action\nexit 101\n");
    chmod 0755, $POLICY;
    $our_policy = 1;
}

$installed = 1;
$out = apt_ok("apt-get install $MOD and $WEB", 'install', $deb{mod},
    $deb{web});
like($out, qr/^Processing triggers for nginx\b/m,
    'which triggers nginx\'s reload, as Debian\'s module packages do');
is(installed($MOD), $version, "$MOD $version is installed");
is(installed($WEB), $version, "$WEB $version is installed");

is(readlink("$ETC/modules-enabled/50-mod-http-noom.conf"),
    '/usr/share/nginx/modules-available/mod-http-noom.conf',
    'the module is enabled in modules-enabled/');
is_deeply(etc_state('sites-enabled'), $before{'sites-enabled'},
    'the site is not enabled');

my $avail = slurp("$ETC/sites-available/noom");
like($avail, qr{^\s*location /ws \{\s*noom_rooms;}m, 'the site has /ws');
like($avail, qr{^\s*location\ /status\ \{\s*noom_status;
    \s*allow\ 127\.0\.0\.1;\s*allow\ ::1;\s*deny\ all;}mx,
    'and /status for localhost only');
like($avail, qr/^#noom_ice_server turn:/m, 'and commented TURN lines');
unlike($avail, qr/^\s*noom_(ice_server|turn_secret)/m,
    'but no TURN directive in effect');

# the example site, with a free port instead of 80, in sites-enabled/; an
# nginx.conf that is the distribution's but for its pid file, its logs and
# the other sites

my $enabled = $avail;
is($enabled =~ s/^(\s*)listen 80;$/$1listen 127.0.0.1:$port;/mg, 1,
    'the site listens on port 80');
$enabled =~ s/^\s*listen \[::\]:80;\n//m;
write_file($site, $enabled);

my $conf = nginx_conf($site);

start_nginx('Debian\'s nginx starts with the module and the site');
like(slurp("$dir/error.log"), qr{\[notice\] \d+#\d+: noom/\Q$version\E$}m,
    "noom/$version is in the error log");

my ($st, $h, $body) = $t->get('/');
is($st, 200, 'the page is served');
like($body, qr{<script type="module" src="js/main\.js">},
    'from /usr/share/noom/html');
like($h->{'content-security-policy'} // '', qr/default-src 'self'/,
    'with its Content-Security-Policy');
($st) = $t->get('/vendor/socket.io.esm.min.js');
is($st, 200, 'and the Socket.IO client');
is($t->status_json->{version}, $version, '/status from 127.0.0.1');
is(status_from('127.0.0.2'), 403, '/status from another address: 403');

app_flow('the app flow through socket.io-client');

# reinstalling the same version

apt_ok("apt-get install --reinstall $version", 'install', '--reinstall',
    $deb{mod}, $deb{web});
is(installed($MOD), $version, "$MOD $version is installed");
ok(-l "$ETC/modules-enabled/50-mod-http-noom.conf", 'still enabled');
restart_nginx('nginx restarts after the reinstall');
app_flow('the app flow after the reinstall');

# upgrading

apt_ok("apt-get install $next", 'install', $newer{mod}, $newer{web});
is(installed($MOD), $next, "$MOD $next is installed");
is(installed($WEB), $next, "$WEB $next is installed");
ok(-l "$ETC/modules-enabled/50-mod-http-noom.conf", 'still enabled');

# docs/install.md: a reload keeps the old module, a restart loads the new
my $so = '/usr/lib/nginx/modules/ngx_http_noom_module.so';
my %old = map { $_ => 1 } workers();
$out = `$NGINX -g 'daemon on; master_process on;' -c $conf -s reload 2>&1`;
is($?, 0, 'nginx -s reload, as the service reloads') or diag $out;
my @new;
Noom::Test::wait_until(sub { @new = grep { !$old{$_} } workers() },
    'the reload\'s new workers run');
like(maps($new[0]), qr{\Q$so\E \(deleted\)},
    'after a reload, the new workers still run the replaced module');
restart_nginx('nginx restarts after the upgrade');
my @w;
Noom::Test::wait_until(sub { @w = workers() }, 'nginx has workers');
my $maps = maps($w[0]);
ok($maps =~ /^\Q$so\E$/m && $maps !~ /^\Q$so\E \(deleted\)/m,
    'after a restart, they run the new one');
app_flow('the app flow after the upgrade');

# purging, the site disabled first as docs/install.md says

stop_nginx();
unlink $site;
apt_ok("apt-get purge $MOD $WEB", 'purge', $MOD, $WEB);
ok(!installed($MOD) && !installed($WEB), 'the packages are gone');
$installed = 0;
is_deeply({ etc_state() }, \%before,
    'modules-enabled/ and sites-enabled/ are as they were');
ok(!-e "$ETC/sites-available/noom", 'the example site is purged');
ok(!-e '/usr/lib/nginx/modules/ngx_http_noom_module.so',
    'and so is the module');

is(system("$NGINX -t -q"), 0,
    'the distribution\'s configuration passes nginx -t');

write_file("$dir/plain.conf",
    "server { listen 127.0.0.1:$port; location / { return 204; } }\n");
$conf = nginx_conf("$dir/plain.conf");
start_nginx('and Debian\'s nginx starts');
($st) = $t->get('/');
is($st, 204, 'and serves');
stop_nginx();

done_testing();


# the distribution's nginx.conf with the test's pid file and logs, and one
# file instead of sites-enabled/*

sub nginx_conf {
    my ($sites) = @_;
    my $c = slurp("$ETC/nginx.conf");
    my %n;
    $n{pid} = $c =~ s{^(\s*)pid\s+[^;]+;}{$1pid $dir/nginx.pid;}mg;
    $n{error_log} = $c =~ s{^(\s*)error_log\s+[^;]+;}
        {$1error_log $dir/error.log notice;}mg;
    $n{access_log} = $c =~ s{^(\s*)access_log\s+[^;]+;}
        {$1access_log $dir/access.log;}mg;
    $n{sites} = $c =~ s{^(\s*)include /etc/nginx/sites-enabled/\*;}
        {$1include $sites;}mg;
    $n{modules} = () =
        $c =~ m{^\s*include /etc/nginx/modules-enabled/\*\.conf;}mg;
    my @bad = grep { $n{$_} != 1 } sort keys %n;
    die "$ETC/nginx.conf is not the distribution's: @bad\n" if @bad;
    write_file("$dir/nginx.conf", $c);
    return "$dir/nginx.conf";
}

# as nginx.service does: ExecStartPre, then ExecStart
sub start_nginx {
    my ($name) = @_;
    my $g = 'daemon on; master_process on;';
    my $out = `$NGINX -t -q -g '$g' -c $conf 2>&1`;
    is($?, 0, "$name: nginx -t") or diag $out;
    $out = `$NGINX -g '$g' -c $conf 2>&1`;
    my $rc = $?;
    ok($rc == 0 && Noom::Test::wait_until(
        sub { -s "$dir/nginx.pid" && port_open() },
        'nginx wrote its pid and listens'), $name) or diag $out . slurp("$dir/error.log");
}

# as ExecStop does: QUIT, then wait for the master to be gone
sub stop_nginx {
    my $pid = slurp("$dir/nginx.pid") =~ s/\s+//gr or return;
    kill 'QUIT', $pid;
    Noom::Test::wait_until(sub { !-e "$dir/nginx.pid" && !alive($pid) },
        'nginx exits after QUIT', 15) or kill 'KILL', $pid;
}

sub restart_nginx {
    my ($name) = @_;
    stop_nginx();
    start_nginx($name);
}

sub app_flow {
    my ($name) = @_;
    my $out = `node $TOP/t/js/app_flow.mjs $port 2>&1`;
    my $rc = $?;
    my @lines = split /\n/, $out;
    ok($rc == 0 && (grep { /^ok / } @lines) >= 12, $name)
        or diag(join "\n", grep { !/^ok / } @lines);
}

sub apt_ok {
    my ($name, @args) = @_;
    my $out = `DEBIAN_FRONTEND=noninteractive apt-get -y -q \\
        -o DPkg::Lock::Timeout=300 @args 2>&1`;
    is($?, 0, $name) or diag $out;
    return $out;
}

# a GET /status from another local address than 127.0.0.1
sub status_from {
    my ($addr) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        LocalAddr => $addr, Proto => 'tcp') or return "connect: $!";
    print $s "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $resp = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(5)) {
        sysread($s, my $buf, 4096) or last;
        $resp .= $buf;
    }
    return $resp =~ m{^HTTP/1\.\d (\d+)} ? $1 : 0;
}

# modules-enabled/ and sites-enabled/: name => where a link points, or the
# digest of a file
sub etc_state {
    my (@dirs) = @_ ? @_ : ('modules-enabled', 'sites-enabled');
    my %s;
    for my $d (@dirs) {
        opendir my $dh, "$ETC/$d" or next;
        for my $f (sort grep { !/^\.\.?$/ } readdir $dh) {
            my $p = "$ETC/$d/$f";
            $s{$d}{$f} = -l $p ? '-> ' . readlink($p) : md5_hex(slurp($p));
        }
        $s{$d} //= {};
    }
    return @_ ? $s{ $_[0] } // {} : %s;
}

sub debs {
    my ($v) = @_;
    return (mod => "$TOP/build/deb/${MOD}_${v}_$arch.deb",
        web => "$TOP/build/deb/${WEB}_${v}_all.deb");
}

# the package again, as version $v, in the test's directory
sub repack {
    my ($deb, $v) = @_;
    my $tree = "$dir/repack";
    my $new = "$dir/" . ($deb =~ s{.*/}{}r =~ s/_\Q$version\E_/_${v}_/r);
    system('rm', '-rf', $tree);
    return '' if system('dpkg-deb', '-R', $deb, $tree) != 0;
    my $control = slurp("$tree/DEBIAN/control");
    $control =~ s/^Version: .*$/Version: $v/m;
    write_file("$tree/DEBIAN/control", $control);
    return '' if system("dpkg-deb --root-owner-group -b $tree $new"
        . ' >/dev/null') != 0;
    return $new;
}

sub field {
    my ($deb, $f) = @_;
    my $v = $deb ? `dpkg-deb -f $deb $f 2>/dev/null` : '';
    chomp $v;
    return $v;
}

# the regular files and links of a package, .gz of dh_compress dropped
sub files {
    my ($deb) = @_;
    return sort map { m{^[-l]\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\.(/\S+)}
        ? $1 =~ s/\.gz$//r : () } `dpkg-deb -c $deb`;
}

sub member {
    my ($deb, $path) = @_;
    return scalar `dpkg-deb --fsys-tarfile $deb | tar -xOf - .$path`;
}

# the installed version, or ''
sub installed {
    my ($pkg) = @_;
    my $f = '${db:Status-Status} ${Version}';
    my $s = `dpkg-query -W -f='$f' $pkg 2>/dev/null`;
    return $s =~ /^installed (\S+)/ ? $1 : '';
}

# dpkg's lock files held (fcntl locks, as /proc/locks lists them)
sub dpkg_locked {
    my %ino;
    for my $f ('/var/lib/dpkg/lock-frontend', '/var/lib/dpkg/lock') {
        my @st = stat $f or next;
        $ino{ $st[1] } = 1;
    }
    open my $fh, '<', '/proc/locks' or return 0;
    while (<$fh>) {
        return 1 if /\s[0-9a-f]+:[0-9a-f]+:(\d+)\s/ && $ino{$1};
    }
    return 0;
}

# the worker processes of the test's nginx
sub workers {
    my $master = slurp("$dir/nginx.pid") =~ s/\s+//gr or return ();
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $l = slurp($stat);
        next unless $l =~ /^(\d+) \(.*\) [^Z] (\d+)/ && $2 == $master;
        my $pid = $1;
        push @w, $pid if slurp("/proc/$pid/cmdline") =~ /worker process/;
    }
    return sort { $a <=> $b } @w;
}

# the files a process has mapped, one a line
sub maps {
    my ($pid) = @_;
    return '' unless $pid;
    my %f = map { m{\s(/.*)$} ? ($1 => 1) : () }
        split /\n/, slurp("/proc/$pid/maps");
    return join '', map { "$_\n" } sort keys %f;
}

sub port_open {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or return 0;
    close $s;
    return 1;
}

sub alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    return (<$fh> // '') !~ /^\d+ \(.*\) Z/;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    binmode $fh;
    local $/;
    return scalar <$fh>;
}

sub write_file {
    my ($path, $content) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $content;
    close $fh;
}

# the machine as it was, whatever failed: our nginx stopped, our site file
# gone, the packages purged, policy-rc.d only if it was ours
sub cleanup {
    return unless defined $dir;
    local $?;
    stop_nginx() if -e "$dir/nginx.pid";
    unlink $site if defined $site && -e $site;
    if ($installed && (installed($MOD) || installed($WEB))) {
        system('DEBIAN_FRONTEND=noninteractive apt-get -y -q '
            . "-o DPkg::Lock::Timeout=300 purge $MOD $WEB >/dev/null 2>&1");
    }
    unlink $POLICY if $our_policy;
}
