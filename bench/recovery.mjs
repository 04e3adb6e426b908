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
import { EventEmitter } from "node:events";
import WebSocket from "ws";

const port = +process.argv[2];
const master = +process.argv[3];
const N = +(process.argv[4] || 10000);
const R = +(process.argv[5] || 5);
const SECS = +(process.argv[6] || 12);
const P = +(process.argv[7] || 1);
const FIRST = +(process.env.NOOM_BENCH_FIRST || 0);  // a child's share
const COUNT = +(process.env.NOOM_BENCH_COUNT || N);
const url = `http://127.0.0.1:${port}`;
// CLIENT=raw: the lean client below instead of socket.io-client
const RAW = process.env.CLIENT === "raw";

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
        client: RAW ? "raw" : "socket.io-client",
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

/*
 * The lean client: the same protocol as socket.io-client over WebSocket
 * (Engine.IO v4, Socket.IO v5, recovery with pid and offset, the same
 * reconnection delays: 1 s +- 50%, then up to 2 s), without its layers,
 * so that the generator's CPU is not what the reload is measured by.
 */

class RawSock {
    constructor(wsurl) {
        this.ev = new EventEmitter();
        this.ev.setMaxListeners(0);
        this.wsurl = wsurl;
        this.acks = new Map();
        this.nextAck = 0;
        this.connected = false;
        this.recovered = false;
        this.id = undefined;
        this.pid = null;
        this.offset = null;
        this.tries = 0;
        this.open();
    }

    on(e, f) { this.ev.on(e, f); return this; }
    once(e, f) { this.ev.once(e, f); return this; }
    off(e, f) { this.ev.off(e, f); return this; }

    open() {
        const ws = this.ws = new WebSocket(this.wsurl,
                                           { perMessageDeflate: false });
        ws.on("message", (d) => this.packet(d.toString()));
        ws.on("close", () => this.lost());
        ws.on("error", () => {});
    }

    packet(p) {
        if (p[0] === "0") {
            const auth = this.pid ? { pid: this.pid } : null;
            if (auth && this.offset) auth.offset = this.offset;
            this.ws.send(auth ? "40" + JSON.stringify(auth) : "40");
        } else if (p[0] === "2") {
            this.ws.send("3");
        } else if (p[0] === "4") {
            this.sio(p.slice(1));
        }
    }

    sio(p) {
        let i = 1;
        while (i < p.length && p[i] >= "0" && p[i] <= "9") i++;
        const id = p.slice(1, i);
        const data = i < p.length ? JSON.parse(p.slice(i)) : undefined;

        if (p[0] === "0") {
            this.recovered = this.pid !== null && data.pid === this.pid;
            this.id = data.sid;
            this.pid = data.pid;
            this.connected = true;
            this.tries = 0;
            this.ev.emit("connect");
        } else if (p[0] === "2") {
            const last = data[data.length - 1];
            if (typeof last === "string" && /^[0-9a-f]{16}$/.test(last)) {
                this.offset = data.pop();
            }
            this.ev.emit(...data);
        } else if (p[0] === "3") {
            const f = this.acks.get(+id);
            this.acks.delete(+id);
            if (f) f(...data);
        } else if (p[0] === "4") {
            this.ev.emit("connect_error", new Error(JSON.stringify(data)));
        }
    }

    emit(name, ...args) {
        let id = "";
        if (typeof args[args.length - 1] === "function") {
            id = String(this.nextAck++);
            this.acks.set(+id, args.pop());
        }
        if (this.ws.readyState === WebSocket.OPEN) {
            this.ws.send("42" + id + JSON.stringify([name, ...args]));
        }
    }

    lost() {
        const was = this.connected;
        this.connected = false;
        this.acks.clear();
        if (this.done) return;
        if (was) this.ev.emit("disconnect");
        const delay = Math.min(2000, 1000 * 2 ** this.tries++);
        setTimeout(() => this.open(), delay * (0.5 + Math.random()));
    }

    disconnect() {
        this.done = true;
        this.ws.close();
    }
}

function connect(i) {
    return new Promise((resolve, reject) => {
        const s = RAW
            ? new RawSock(`ws://127.0.0.1:${port}/ws/?EIO=4&transport=websocket`)
            : io(url, { path: "/ws", transports: ["websocket"],
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
