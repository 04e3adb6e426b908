// A reload of nginx under a crowd: N socket.io-client sockets in rooms of
// R, one sender per room chatting with acks, `nginx -s reload` in the
// middle.  Reports how long until every socket was back (recovered or
// not), how many were recovered, and what was lost or duplicated: every
// message the server acknowledged must reach every other member of its
// room once, in order.
//
// Usage: node bench/recovery.mjs <port> <nginx master pid> [N] [R] [secs]
// Prints one JSON line.

import { io } from "socket.io-client";

const port = +process.argv[2];
const master = +process.argv[3];
const N = +(process.argv[4] || 10000);
const R = +(process.argv[5] || 5);
const SECS = +(process.argv[6] || 12);
const url = `http://127.0.0.1:${port}`;

const socks = [];
const sent = new Map();      // room -> acked numbers
let closed = 0, back = 0, recovered = 0, fresh = 0;
let reloadAt = 0, lastBack = 0;
const backs = [];

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
        s.on("disconnect", () => { if (reloadAt) closed++; });
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
        s.once("connect_error", reject);
    });
}

// connect in batches: the handshakes are the generator's work here
for (let i = 0; i < N; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 500); j++) batch.push(connect(j));
    socks.push(...await Promise.all(batch));
}

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

await new Promise((r) => setTimeout(r, (SECS / 3) * 1000));
reloadAt = Date.now();
process.kill(master, "SIGHUP");
await new Promise((r) => setTimeout(r, (2 * SECS / 3) * 1000));
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
    sockets: N, rooms: N / R, room_size: R,
    closed_by_reload: closed, back, recovered, fresh,
    seconds_until_all_back: lastBack ? (lastBack - reloadAt) / 1000 : null,
    seconds_until_half_back: backs.length
        ? backs.sort((a, b) => a - b)[backs.length >> 1] / 1000 : null,
    seconds_until_99pct_back: backs.length
        ? backs[Math.floor(backs.length * 0.99)] / 1000 : null,
    messages_checked: checked, lost, duplicated: dup, out_of_order: disorder,
    same_ids: socks.filter((s) => s.id === s.first).length,
    fresh_senders: socks.filter((s) => s.sender && s.id !== s.first).length,
    generator_rss_mb: Math.round(mem0 / 1048576),
};
console.log(JSON.stringify(out));
for (const s of socks) s.disconnect();
process.exit(0);
