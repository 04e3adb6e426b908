// The official socket.io-client against a noom_rooms location at /ws:
// connect over WebSocket only, acks, two clients exchanging new_message,
// and (with a master pid) reconnection after the server closes the
// transport on a reload.  Prints TAP lines; exits non-zero on a failure.
//
//   node t/js/sio_client.mjs <port> [http|https] [<nginx master pid>]

import { io } from "socket.io-client";
import { isDeepStrictEqual, inspect } from "node:util";

const port = process.argv[2];
const scheme = process.argv[3] || "http";
const masterPid = process.argv[4] ? Number(process.argv[4]) : 0;
const url = `${scheme}://127.0.0.1:${port}`;

let n = 0;
let failed = 0;

function ok(cond, name, diag) {
  n++;
  console.log(`${cond ? "ok" : "not ok"} ${n} - ${name}`);
  if (!cond) {
    failed++;
    if (diag !== undefined) console.log(`# ${diag}`);
  }
  return cond;
}

function is(got, expected, name) {
  return ok(isDeepStrictEqual(got, expected), name,
    `got ${inspect(got, { depth: 5 })}, expected ${inspect(expected, { depth: 5 })}`);
}

function connect() {
  const s = io(url, {
    path: "/ws",
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    rejectUnauthorized: false,
  });
  // listening from the start: the events may come in any order
  s.connected1 = once(s, "connect", 5000);
  s.iceServers = once(s, "ice_servers", 5000);
  return s;
}

// the arguments of the next event, or an Error after ms
function once(s, ev, ms = 3000) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      s.off(ev, handler);
      resolve(new Error(`no ${ev} within ${ms} ms`));
    }, ms);
    function handler(...args) {
      clearTimeout(timer);
      resolve(args);
    }
    s.once(ev, handler);
  });
}

// an emit with an ack: the ack's arguments, or an Error
function call(s, ev, ...args) {
  return new Promise((resolve) => {
    s.timeout(3000).emit(ev, ...args, (err, ...res) => resolve(err || res));
  });
}

const watchdog = setTimeout(() => {
  ok(false, "the script finished within 15 s");
  console.log(`1..${n}`);
  process.exit(1);
}, 15000);

const alice = connect();
const bob = connect();

let r = await alice.connected1;
is(r, [], `alice connects to ${scheme}://127.0.0.1/ws over WebSocket`);
ok(alice.io.engine.transport.name === "websocket", "with the websocket transport");
ok(typeof alice.id === "string" && alice.id.length === 20,
  "her socket id has 20 characters", alice.id);
r = await bob.connected1;
is(r, [], "bob connects too");
ok(alice.id !== bob.id, "with another socket id");

is(await alice.iceServers, [[]], "ice_servers([]) arrives right after connecting");

is(await call(alice, "nickname", "alice"), [], "nickname is acked with no arguments");
is(await call(bob, "nickname", "bob"), [], "bob's nickname is acked");

is(await call(alice, "enter_room", "r1"), [1, [], []],
  "enter_room acks (count 1, no members) for the first member");

const welcome = once(alice, "welcome");
is(await call(bob, "enter_room", "r1"), [2, [{ id: alice.id, nickname: "alice" }], []],
  "the second member gets (2, [{id, nickname}] of the first)");
is(await welcome, ["bob", 2, bob.id], "alice gets welcome(bob, 2, id)");

is(await call(alice, "list_rooms"), [["r1"], { r1: 2 }],
  "list_rooms acks (names, counts)");

let got = once(alice, "new_message");
is(await call(bob, "new_message", "hi alice", "r1"), [], "new_message is acked");
r = await got;
ok(Array.isArray(r) && r[0] === "bob: hi alice", "alice gets \"bob: hi alice\"",
  inspect(r));
const meta = (Array.isArray(r) && r[1]) || {};
is([meta.id, meta.nickname, meta.text], [bob.id, "bob", "hi alice"],
  "with {id, nickname, text}");
ok(Math.abs(meta.ts - Date.now()) < 60000, "and a ts in ms near now", meta.ts);

got = once(bob, "new_message");
alice.emit("new_message", "hello bob", "r1");
r = await got;
is(r && r[0], "alice: hello bob", "bob gets alice's message without an ack asked");

r = await call(alice, "new_message", "x".repeat(5000), "r1");
is(r && r[0] && r[0].error, "message_too_long", "a refused event gets an error ack");

if (masterPid) {
  const oldId = alice.id;
  const gone = once(alice, "disconnect", 5000);
  const back = once(alice, "connect", 8000);
  alice.iceServers = once(alice, "ice_servers", 8000);
  process.kill(masterPid, "SIGHUP");
  r = await gone;
  is(r && r[0], "transport close",
    "a reload closes the transport: disconnect(\"transport close\")");
  r = await back;
  is(r, [], "the client reconnects by itself");
  ok(alice.connected && alice.id !== oldId, "with a new socket id", alice.id);
  is(await alice.iceServers, [[]], "and gets ice_servers again");
  is(await call(alice, "enter_room", "after"), [1, [], []],
    "events work after the reconnection");
}

alice.close();
bob.close();
clearTimeout(watchdog);
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
