// A reload of nginx under a crowd: N socket.io-client sockets in rooms of
// R, one sender per room chatting with acks, `nginx -s reload` in the
// middle.  Reports how long until every socket was back (recovered or
// not), how many were recovered, and what was lost or duplicated: every
// message the server acknowledged must reach every other member of its
// room once, in order.
//
// The sockets are split over P processes (whole rooms in each), so that
// the generator's own reconnection work is not one CPU's queue: the
// parent starts them, waits until all are in their rooms, reloads nginx
// when all have noted the time, and adds up what they saw.
//
// Usage: node bench/recovery.mjs <port> <nginx master pid> [N] [R] [secs]
//        [P]
// Prints one JSON line.

import { io } from "socket.io-client";
import { fork } from "node:child_process";

const port = +process.argv[2];
const master = +process.argv[3];
const N = +(process.argv[4] || 10000);
const R = +(process.argv[5] || 5);
const SECS = +(process.argv[6] || 12);
const P = +(process.argv[7] || 1);
const FIRST = +(process.env.NOOM_BENCH_FIRST || 0);  // a child's share
const COUNT = +(process.env.NOOM_BENCH_COUNT || N);
const url = `http://127.0.0.1:${port}`;

const tell = (m) => new Promise((r) => process.send(m, r));
const heard = (what) => new Promise((r) => {
    const f = (m) => {
        if (m.what === what) { process.off("message", f); r(m); }
    };
    process.on("message", f);
});

if (process.env.NOOM_BENCH_COUNT === undefined) {
    // the parent: P children with whole rooms each
    const per = Math.ceil(N / R / P) * R;
    const kids = [];
    for (let first = 0; first < N; first += per) {
        kids.push(fork(process.argv[1], process.argv.slice(2), {
            env: { ...process.env, NOOM_BENCH_FIRST: first,
                   NOOM_BENCH_COUNT: Math.min(per, N - first) } }));
    }
    for (const k of kids) {
        k.on("exit", (code, sig) => {
            if (k.done) return;
            console.error(`a generator process ended (${code ?? sig})`);
            kids.forEach((o) => o.kill());
            process.exit(1);
        });
    }
    const all = (what) => Promise.all(kids.map((k) => new Promise((r) => {
        const f = (m) => {
            if (m.what === what) { k.off("message", f); r(m); }
        };
        k.on("message", f);
    })));
    const send = (what) => kids.forEach((k) => k.send({ what }));

    await all("ready");
    send("chat");
    await new Promise((r) => setTimeout(r, (SECS / 3) * 1000));
    const armed = all("armed");
    send("arm");
    await armed;
    process.kill(master, "SIGHUP");
    await new Promise((r) => setTimeout(r, (2 * SECS / 3) * 1000));
    const results = all("result");
    send("stop");
    const res = (await results).map((m) => m.out);

    const sum = (k) => res.reduce((a, o) => a + o[k], 0);
    const backs = res.flatMap((o) => o.backs).sort((a, b) => a - b);
    const closes = res.flatMap((o) => o.closes).sort((a, b) => a - b);
    const pick = (a, q) => a.length
        ? a[Math.min(a.length - 1, Math.floor(a.length * q))] / 1000
        : null;
    const at = (q) => pick(backs, q);
    console.log(JSON.stringify({
        sockets: N, rooms: N / R, room_size: R, processes: kids.length,
        closed_by_reload: sum("closed"), back: sum("back"),
        recovered: sum("recovered"), fresh: sum("fresh"),
        seconds_until_all_back: at(1), seconds_until_half_back: at(0.5),
        seconds_until_99pct_back: at(0.99),
        seconds_until_half_closed: pick(closes, 0.5),
        seconds_until_all_closed: pick(closes, 1),
        messages_checked: sum("checked"), lost: sum("lost"),
        duplicated: sum("dup"), out_of_order: sum("disorder"),
        same_ids: sum("same_ids"), fresh_senders: sum("fresh_senders"),
        generator_rss_mb: sum("rss_mb"),
    }));
    kids.forEach((k) => { k.done = true; });
    send("exit");
    process.exit(0);
}

const socks = [];
const sent = new Map();      // room -> acked numbers
let closed = 0, back = 0, recovered = 0, fresh = 0;
let reloadAt = 0, lastBack = 0;
const backs = [];
const closes = [];                       // when each lost its transport

function connect(i) {
    return new Promise((resolve, reject) => {
        const s = io(url, { path: "/ws", transports: ["websocket"],
                            reconnectionDelay: 1000,
                            reconnectionDelayMax: 2000 });
        s.room = `room${Math.floor(i / R)}`;
        s.sender = i % R === 0;
        s.got = [];
        s.on("new_message", (line) => {
            const k = +line.slice(line.lastIndexOf(" ") + 1);
            s.got.push(k);
        });
        s.on("disconnect", () => {
            if (reloadAt) {
                closed++;
                closes.push(Date.now() - reloadAt);
            }
        });
        s.on("connect", () => {
            if (!reloadAt || s.first === undefined) {
                s.first = s.id;
                return;
            }
            back++;
            lastBack = Date.now();
            backs.push(lastBack - reloadAt);
            if (s.recovered) recovered++; else fresh++;
        });
        s.once("connect", () => {
            s.emit("enter_room", s.room, (count) => {
                if (typeof count !== "number") reject(new Error("join"));
                else resolve(s);
            });
        });
        // socket.io-client tries again after a failed first connection
        let errors = 0;
        s.on("connect_error", (e) => { if (++errors === 5) reject(e); });
    });
}

// connect in batches: the handshakes are the generator's work here
const END = FIRST + COUNT;
for (let i = FIRST; i < END; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(END, i + 500); j++) batch.push(connect(j));
    socks.push(...await Promise.all(batch));
}
const go = heard("chat");
await tell({ what: "ready" });
await go;

const mem0 = process.memoryUsage().rss;
const senders = socks.filter((s) => s.sender);
let stop = false;

async function chatter(s) {
    const acked = [];
    sent.set(s.room, acked);
    for (let k = 1; !stop; k++) {
        if (!s.connected) {
            await new Promise((r) => s.once("connect", r));
        }
        const res = await new Promise((resolve) => {
            const off = () => resolve(null);
            s.once("disconnect", off);
            s.emit("new_message", `m ${k}`, s.room, (r) => {
                s.off("disconnect", off);
                resolve(r === undefined ? "ok" : r);
            });
        });
        if (res === "ok") acked.push(k);
        await new Promise((r) => setTimeout(r, 1000));
    }
}

const chats = senders.map(chatter);

await heard("arm");
reloadAt = Date.now();
const stopped = heard("stop");
await tell({ what: "armed" });
await stopped;
stop = true;
await Promise.all(chats);
await new Promise((r) => setTimeout(r, 2000));

let lost = 0, dup = 0, disorder = 0, checked = 0;
for (const s of socks) {
    if (s.sender) continue;
    const acked = sent.get(s.room) || [];
    const seen = new Set(s.got);
    dup += s.got.length - seen.size;
    for (let j = 1; j < s.got.length; j++) {
        if (s.got[j] <= s.got[j - 1]) disorder++;
    }
    for (const k of acked) {
        checked++;
        if (!seen.has(k)) lost++;
    }
}

const out = {
    closed, back, recovered, fresh, backs, closes, checked, lost, dup, disorder,
    same_ids: socks.filter((s) => s.id === s.first).length,
    fresh_senders: socks.filter((s) => s.sender && s.id !== s.first).length,
    rss_mb: Math.round(mem0 / 1048576),
};
const bye = heard("exit");
await tell({ what: "result", out });
await bye;
for (const s of socks) s.disconnect();
process.exit(0);
