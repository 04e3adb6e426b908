#!/usr/bin/perl

# The module's .so exports what nginx's ngx_load_module() looks up and
# nothing else: noom's own functions and globals are hidden, so calls
# between its files are direct (no PLT, no GOT) and no other library can
# stand in for one of them.  And nginx loads that module.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Noom::Test;

my $so = $Noom::Test::MODULE;

plan skip_all => 'the module is built into nginx' if $so eq 'static';

my @syms = map { (split)[2] }
    grep { /^\s*[0-9a-f]*\s+[A-Za-z]\s+\S+$/ } `nm -D --defined-only $so`;

is($?, 0, 'nm read the module');
is_deeply([sort @syms], [qw(ngx_module_names ngx_module_order ngx_modules)],
    'the module exports ngx_modules and its two companions only');

my @all = `nm --defined-only $so`;
ok(scalar(grep { /\bngx_noom_relay_room\b/ } @all),
   'noom\'s functions are in the symbol table (for profilers), hidden');

my $t = Noom::Test->new(workers => 2);

$t->write_conf(<<'EOF')->run;
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location /ws { noom_rooms; }
    }
}
EOF

my ($status, undef, $body) = $t->get('/ws/?EIO=4&transport=polling');
is($status, 200, 'nginx loads the module');
like($body, qr/^0\{"sid":"[^"]+"/, 'and it answers a handshake');

done_testing();
