// Connection state recovery through the official socket.io-client: three
// people chat in a room while something takes their transports away; each
// comes back with the same socket id and in the same room
// (socket.recovered), and every message the server acknowledged reaches
// every other member exactly once, in each sender's order; nobody sees
// "bye".
//
// Usage: node recovery.mjs <port> <transport> <how> [arg]
//   how: close    each client's transport is closed by the client, in turn
//        signal   the test does something to nginx: the script prints
//                 "disrupt" and waits for "go" on stdin; arg "all" says
//                 every client must have been taken away and recovered,
//                 "some" at least one
//        cut      a TCP proxy in front of nginx swallows everything for
//                 arg ms (5000), then drops the connections
// Prints TAP lines; exits non-zero on failure.
//
// Nothing waits a fixed time but the cut's arg: the chat is paced by its
// acks and by its deliveries (a sender is at most WINDOW acked messages
// ahead of what each other member received, so an away member never misses
// more than the room's log keeps), and each disruption waits for the chat
// to have moved on (messages received by everyone), then for the connect
// events of the clients it took away.

import { io } from "socket.io-client";
import net from "node:net";
import readline from "node:readline";

const port = +process.argv[2];
const transport = process.argv[3] || "websocket";
const how = process.argv[4] || "close";
const arg = process.argv[5] || "";
// a room of its own per scenario: sockets of the scenario before, still
// closing, are not counted in this one's room
const ROOM = `recovery-${how}-${transport}${arg ? `-${arg}` : ""}`;
const SENDS = 40;
// how many of its acked messages a sender may be ahead of each other
// member: 3 x WINDOW stays well below the room log's 128 events
const WINDOW = 16;
let n = 0, failed = 0;

function ok(cond, name) {
    n++;
    if (!cond) failed++;
    console.log(`${cond ? "ok" : "not ok"} ${n} - ${name}`);
}

function timeout(p, ms, what) {
    let t;
    return Promise.race([p, new Promise((_, rej) => {
        t = setTimeout(() => { dump(what); rej(new Error(`timeout: ${what}`)); },
                       ms);
    })]).finally(() => clearTimeout(t));
}

// what each client had when a wait gave up, for finding where a chat stopped
function dump(what) {
    console.log(`# gave up waiting: ${what}`);
    try {
        for (const s of people) {
            console.log(`# ${s.name}: connected ${s.connected} id ${s.id} `
                        + `connects ${s.connects} recovered ${s.recoveries} `
                        + `fresh ${s.fresh} got ${s.got.length} `
                        + `last ${JSON.stringify(s.last)} `
                        + `acked up to ${acked[s.name].slice(-1)[0] ?? 0}`);
        }
    } catch (e) {
        // before the people and their acks exist
    }
}

// every change of the clients' state (a message received, a message acked,
// a connect) wakes what waits on a condition over it
const waiters = new Set();

function changed() {
    for (const w of [...waiters]) w();
}

function until(cond, ms, what) {
    if (cond()) return Promise.resolve();
    let w;
    return timeout(new Promise((resolve) => {
        w = () => { if (cond()) resolve(); };
        waiters.add(w);
    }), ms, what).finally(() => waiters.delete(w));
}

// a TCP proxy that can swallow traffic, then cut every connection
let proxy = null, swallow = false;
const pairs = new Set();

function startProxy() {
    return new Promise((resolve) => {
        proxy = net.createServer((c) => {
            const u = net.connect(port, "127.0.0.1");
            const pair = { c, u };
            pairs.add(pair);
            c.on("data", (d) => { if (!swallow) u.write(d); });
            u.on("data", (d) => { if (!swallow) c.write(d); });
            const end = () => { pairs.delete(pair); c.destroy(); u.destroy(); };
            c.on("close", end); u.on("close", end);
            c.on("error", end); u.on("error", end);
        });
        proxy.listen(0, "127.0.0.1", () => resolve(proxy.address().port));
    });
}

async function connect(name, target) {
    const s = io(`http://127.0.0.1:${target}`, {
        path: "/ws",
        transports: transport === "default" ? undefined : [transport],
        reconnectionDelay: 100,
        reconnectionDelayMax: 500,
        randomizationFactor: 0,
    });
    s.name = name;
    s.got = [];        // [from, k] of every new_message, as received
    s.byes = 0;
    s.recoveries = 0;
    s.fresh = 0;
    s.connects = 0;
    s.last = {};       // from => the highest k received from it
    s.on("connect", () => {
        s.connects++;
        if (s.connects > 1) {
            if (s.recovered) s.recoveries++; else s.fresh++;
        }
        changed();
    });
    s.on("new_message", (line) => {
        const m = /^(\w+): (\w+) (\d+)$/.exec(line);
        if (m) {
            s.got.push([m[2], +m[3]]);
            s.last[m[2]] = Math.max(s.last[m[2]] ?? 0, +m[3]);
            changed();
        }
    });
    s.on("bye", () => { s.byes++; });
    await timeout(new Promise((r) => s.once("connect", r)), 10000,
                  `${name} connects`);
    return s;
}

function call(s, ...args) {
    return timeout(new Promise((r) => s.emit(...args, (...res) => r(res))),
                   10000, `ack of ${args[0]}`);
}

const target = how === "cut" ? await startProxy() : port;
const people = [];

for (const name of ["ann", "bob", "cid"]) {
    const s = await connect(name, target);
    await call(s, "nickname", name);
    const [count] = await call(s, "enter_room", ROOM);
    ok(count === people.length + 1, `${name} enters the room (${count})`);
    people.push(s);
}

const ids = people.map((s) => s.id);
const pids = people.map((s) => s._pid);
ok(pids.every((p) => typeof p === "string" && p.length === 20),
   "the CONNECT answers carry a private id");

// each person sends SENDS messages, one at a time, each acknowledged;
// what was acknowledged must arrive, once, at the two others

const acked = { ann: [], bob: [], cid: [] };

// the chat goes on until the disruption is over, and SENDS messages at least
let settled = false;

// before s sends k: its last acked message WINDOW or more behind k has
// reached every other member (one that got a fresh session never gets it,
// and fails the checks below)
function caughtUp(s, k) {
    const a = acked[s.name];
    let i = a.length - 1;
    while (i >= 0 && a[i] > k - WINDOW) i--;
    if (i < 0) return true;
    return people.every((o) => o === s || o.fresh > 0
                        || (o.last[s.name] ?? 0) >= a[i]);
}

// every client has received n more messages than when it was called
function progress(n, what) {
    const base = people.map((s) => s.got.length);
    return until(() => people.every((s, i) => s.got.length >= base[i] + n),
                 20000, what);
}

async function chatter(s) {
    for (let k = 1; k <= SENDS || !settled; k++) {
        for (;;) {
            await until(() => caughtUp(s, k), 20000,
                        `${s.name}'s messages before ${k} delivered`);
            if (!s.connected) {
                await new Promise((r) => s.once("connect", r));
            }
            const p = new Promise((resolve) => {
                const off = () => resolve(null);
                s.once("disconnect", off);
                s.emit("new_message", `${s.name} ${k}`, ROOM, (res) => {
                    s.off("disconnect", off);
                    resolve(res === undefined ? "ok" : res);
                });
            });
            const res = await timeout(p, 20000, `${s.name} sends ${k}`);
            if (res === null) {
                // lost with the transport before its ack: not counted,
                // sent again under the next number
                k++;
                if (k > SENDS && settled) return;
                continue;
            }
            if (res === "ok") {
                acked[s.name].push(k);
                changed();
            }
            break;
        }
    }
}

async function disrupt() {
    if (how === "close") {
        for (const s of people) {
            await progress(6, `the chat before ${s.name}'s close`);
            s.io.engine.close();
            await timeout(new Promise((r) => s.once("connect", r)), 10000,
                          `${s.name} comes back`);
        }
    } else if (how === "signal") {
        await progress(6, "the chat before the signal");
        console.log("disrupt");
        const rl = readline.createInterface({ input: process.stdin });
        await timeout(new Promise((r) => rl.once("line", r)), 30000,
                      "the test's go");
        rl.close();
        // until the clients the signal took away are back
        const back = (s) => s.connected && s.connects > 1;
        await until(() => arg === "all" ? people.every(back)
                                        : people.some(back),
                    30000, `${arg} of the clients back`);
    } else if (how === "cut") {
        await progress(6, "the chat before the cut");
        swallow = true;
        await new Promise((r) => setTimeout(r, +arg || 5000));
        swallow = false;
        for (const p of [...pairs]) { p.c.destroy(); p.u.destroy(); }
    }
}

await Promise.all([...people.map(chatter),
                   disrupt().then(() => { settled = true; })]);

// everyone is back (a last message from each tells the others they are done)
for (const s of people) {
    if (!s.connected) {
        await timeout(new Promise((r) => s.once("connect", r)), 15000,
                      `${s.name} is back`);
    }
}

const done = people.map((s) => new Promise((resolve) => {
    const want = new Set(people.filter((o) => o !== s).map((o) => o.name));
    s.want = want;
    const f = (line) => {
        const m = /^(\w+): (\w+) done$/.exec(line);
        if (m) want.delete(m[2]);
        if (want.size === 0) { s.off("new_message", f); resolve(); }
    };
    s.on("new_message", f);
}));
for (const s of people) {
    await call(s, "new_message", `${s.name} done`, ROOM);
}
try {
    await timeout(Promise.all(done), 15000, "everyone's last message");
} catch (e) {
    for (const s of people) {
        console.log(`# ${s.name}: connected ${s.connected} id ${s.id} `
                    + `(was ${ids[people.indexOf(s)]}) connects `
                    + `${s.connects} recovered ${s.recoveries} `
                    + `fresh ${s.fresh} waits for ${[...s.want]} `
                    + `last got ${JSON.stringify(s.got.slice(-3))}`);
    }
    throw e;
}

for (const [i, s] of people.entries()) {
    ok(s.id === ids[i], `${s.name} has the same socket id`);
    ok(s.fresh === 0, `${s.name} never got a fresh session`);
    ok(s.byes === 0, `${s.name} saw nobody leave`);
    if (how !== "signal" || s.connects > 1) {
        ok(s.recoveries >= 1, `${s.name} was recovered (${s.recoveries})`);
    }
    const own = s.got.filter(([f]) => f === s.name).length;
    ok(own === 0, `${s.name} never got its own messages back (${own})`);
    for (const o of people) {
        if (o === s) continue;
        const from = s.got.filter(([f]) => f === o.name).map(([, k]) => k);
        const seen = new Set(from);
        const missing = acked[o.name].filter((k) => !seen.has(k));
        const dup = from.length - seen.size;
        const ordered = from.every((k, j) => j === 0 || from[j - 1] < k);
        ok(missing.length === 0 && dup === 0 && ordered,
           `${s.name} got ${o.name}'s ${acked[o.name].length} acked `
           + `messages once and in order`
           + (missing.length ? ` (missing ${missing})` : "")
           + (dup ? ` (${dup} twice)` : "")
           + (ordered ? "" : ` (order ${from})`));
    }
}

const total = people.reduce((a, s) => a + s.recoveries, 0);
console.log(`# recoveries ${total}`);
if (how === "signal") {
    // "all": a reload takes every transport away; "some": a killed worker
    ok(arg === "all" ? people.every((s) => s.recoveries >= 1) : total >= 1,
       `${arg === "all" ? "every" : "some"} client was taken away and `
       + `recovered (${total})`);
}

// a DISCONNECT ends a session for good: it must reach the server
await Promise.all(people.map((s) => new Promise((resolve) => {
    s.io.engine.once("close", resolve);
    s.disconnect();
})));
if (proxy) proxy.close();
process.exit(failed ? 1 : 0);
