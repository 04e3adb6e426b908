#!/usr/bin/python3
# The original app's flow through python-socketio (Debian's
# python3-socketio), with its default transports: polling, then the
# upgrade to a WebSocket.  Prints TAP.  Usage: app_flow.py <port> [path]

import queue
import sys

import socketio

url = "http://127.0.0.1:%s" % sys.argv[1]
path = sys.argv[2] if len(sys.argv) > 2 else "socket.io"
n = 0
failed = 0


def ok(cond, name, got=None):
    global n, failed
    n += 1
    if not cond:
        failed += 1
        print("# got: %r" % (got,))
    print("%s %d - %s" % ("ok" if cond else "not ok", n, name))


def client():
    sio = socketio.Client(reconnection=False)
    sio.events = queue.Queue()

    @sio.on("*")
    def any_event(event, *args):
        sio.events.put((event, list(args)))

    sio.connect(url, socketio_path=path, wait_timeout=5)
    return sio


def next_event(sio, name, timeout=5):
    while True:
        event, args = sio.events.get(timeout=timeout)
        if event == name:
            return args


try:
    alice = client()
    bob = client()
    ok(alice.get_sid() != bob.get_sid(), "two sessions")

    alice.emit("nickname", "alice")
    bob.emit("nickname", "bob")

    res = alice.call("enter_room", "py", timeout=5)
    ok(res[0] == 1 and res[1] == [], "enter_room is acked: 1, []", res)

    res = bob.call("enter_room", "py", timeout=5)
    ok(res[0] == 2 and res[1] == [{"id": alice.get_sid(), "nickname": "alice"}],
       "the second sees the first", res)
    args = next_event(alice, "welcome")
    ok(args == ["bob", 2, bob.get_sid()], "welcome(bob, 2, id)", args)

    bob.call("new_message", ("hi from python", "py"), timeout=5)
    args = next_event(alice, "new_message")
    ok(args[0] == "bob: hi from python", "new_message arrives", args)

    bob.emit("offer", ({"type": "offer", "sdp": "v=0"}, "py", alice.get_sid()))
    args = next_event(alice, "offer")
    ok(args == [{"type": "offer", "sdp": "v=0"}, bob.get_sid()],
       "an offer reaches its toId", args)

    ok(alice.transport() == "websocket" and bob.transport() == "websocket",
       "both upgraded to websocket", (alice.transport(), bob.transport()))

    bob_sid = bob.get_sid()
    bob.disconnect()
    args = next_event(alice, "bye")
    ok(args == ["bob", 1, bob_sid], "bye(bob, 1, id)", args)

    res = alice.call("list_rooms", timeout=5)
    ok(list(res) == [["py"], {"py": 1}], "list_rooms", res)
    alice.disconnect()

except Exception as e:
    n += 1
    failed += 1
    print("not ok %d - %s: %s" % (n, type(e).__name__, e))

print("1..%d" % n)
sys.exit(1 if failed else 0)
