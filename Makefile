# noom: build the nginx dynamic module against Debian 12's nginx (nginx-dev),
# run it, test it.  `make run` and `make test` install what is missing.

SHELL       := /bin/bash
TOP         := $(CURDIR)
NGX_SRC     ?= /usr/share/nginx/src
BUILD       := $(TOP)/build
NGX_TREE    := $(BUILD)/nginx
OBJS        := $(BUILD)/objs
MODULE      := $(OBJS)/ngx_http_noom_module.so
SRCS        := $(wildcard src/*.c src/*.h) config
NGINX       ?= /usr/sbin/nginx
PORT        ?= 8080
FUZZ_SECONDS ?= 60

.PHONY: all deps run stop test test-unit test-asan test-valgrind fuzz bench \
        admin-ui deb clean

all: $(MODULE)

# configure once, in a copy of Debian's configure tree (it is not ours to
# write into), with Debian's own flags: the module is binary compatible
# with /usr/sbin/nginx
$(OBJS)/Makefile: config
	@test -f $(NGX_SRC)/conf_flags || { \
	    echo "nginx-dev is missing: run 'make deps' (or apt-get install" \
	         "nginx-dev libjansson-dev)"; exit 1; }
	rm -rf $(NGX_TREE) && mkdir -p $(BUILD) && cp -a $(NGX_SRC) $(NGX_TREE)
	cd $(NGX_TREE) && . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="-g -O2 -Wextra -Wno-unused-parameter -DNGX_NOOM_HOOKS=1" \
	        --add-dynamic-module=$(TOP) --builddir=$(OBJS) >$(BUILD)/configure.log

$(MODULE): $(OBJS)/Makefile $(SRCS)
	$(MAKE) -f $(OBJS)/Makefile -C $(NGX_TREE) modules

deps:
	@.ci/deps

run: deps all
	@conf/run $(PORT)

stop:
	@conf/run stop

# the stock Socket.IO Admin UI, from npm, into build/admin-ui/
admin-ui: deps
	@admin/build

# libnginx-mod-http-noom and noom-web, with Debian's tooling, into build/deb/
deb: deps
	@.ci/deb

test: deps all
	@t/run-all

# the t/ suite on nginx and the module built with ASan + UBSan; not the
# browser tests, the files that call need_browser (slow, and the browser
# is not what is checked: t/lobby.t and the others drive the same paths
# without one), not the package test (it needs Debian's nginx), nor
# HTTP/2 polling: UBSan stops nginx's own HTTP/2 code at a misaligned
# store (ngx_http_v2_write_uint16 in ngx_http_v2_send_settings), not
# noom's; nor the TLS memory figure (wss_memory.t compares with nginx's
# own https connections, through modules the ASan build leaves out, and
# ASan's allocator would make any figure meaningless)
test-asan: deps
	@.ci/asan-nginx
	@TEST_NGINX_BINARY=$(BUILD)/asan/objs/nginx TEST_NOOM_MODULE=static \
	    TEST_NOOM_SANITIZER=1 \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    LSAN_OPTIONS=suppressions=$(TOP)/t/asan.supp \
	    UBSAN_OPTIONS=print_stacktrace=1 \
	    prove -I t/lib -j2 $$(grep -L need_browser t/*.t \
	        | grep -v -e bench_smoke -e polling_h2 -e deb\.t -e wss_memory)

# a reduced suite with nginx (master and workers) under valgrind's memcheck
test-valgrind: deps all
	@TEST_NOOM_VALGRIND=1 TEST_NOOM_SANITIZER=1 prove -I t/lib \
	    t/rooms.t t/lobby.t t/single.t t/limits.t t/ws_frames.t t/fast_path.t

test-unit: all
	@$(MAKE) -C t/unit

# the comparison with Node.js + Socket.IO, nchan and a bare epoll server
bench: deps all
	@$(MAKE) -C bench run

fuzz: all
	@$(MAKE) -C fuzz run SECONDS=$(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) t/servroot* fuzz/out
	@$(MAKE) -C t/unit clean >/dev/null 2>&1 || true
