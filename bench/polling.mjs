// bench/polling.mjs: Engine.IO v4 HTTP long-polling clients speaking the
// Noom event set on the wire (no socket.io-client: the generator must cost
// less than the servers it measures).
//
//   node bench/polling.mjs mem  <port> <path> <n> <parked 0|1>
//       opens n sessions, each CONNECTed to "/"; with parked=1 each keeps
//       a GET waiting; prints {"sessions":n} and waits for SIGTERM
//   node bench/polling.mjs fan  <port> <path> <clients> <room size>
//                               <seconds> <messages per second>
//       rooms of <room size>; every client keeps a GET waiting and the
//       first of each room sends new_message at the rate; prints
//       {"sent":..,"delivered":..,"order_errors":..,"dup":..}
//
// Every client keeps at most one GET and one POST in flight, as browsers
// do; POSTs queue behind each other.

import http from "node:http";

const [mode, port, path, ...rest] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

// A keep-alive connection the server closed as the request went out is
// reset before any answer: the request is sent again on another one, as
// browsers do (Node.js's agent does not).
async function request(method, query, body) {
    for (let retry = 0; ; retry++) {
        try {
            return await request1(method, query, body);
        } catch (err) {
            if (!err.reused || err.code !== "ECONNRESET" || retry > 2) {
                throw err;
            }
        }
    }
}

function request1(method, query, body) {
    return new Promise((resolve, reject) => {
        const req = http.request({
            host: "127.0.0.1", port: Number(port), method, agent,
            path: `${path}?EIO=4&transport=polling${query}`,
            headers: body === undefined ? {}
                : { "Content-Type": "text/plain;charset=UTF-8",
                    "Content-Length": Buffer.byteLength(body) },
        }, (res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => resolve([res.statusCode,
                                         Buffer.concat(chunks).toString()]));
        });
        req.on("error", (err) => {
            err.reused = req.reusedSocket;
            reject(err);
        });
        if (body !== undefined) {
            req.write(body);
        }
        req.end();
    });
}

class Client {
    constructor(onPacket) {
        this.onPacket = onPacket;
        this.posts = [];
        this.posting = false;
        this.closed = false;
    }

    async open() {
        const [, body] = await request("GET", "");
        this.sid = JSON.parse(body.slice(1)).sid;
        this.q = `&sid=${this.sid}`;
        await this.post("40");
        // the CONNECT answer
        while (!(await this.poll()).some((p) => p.startsWith("40"))) {
            /* pings only */
        }
    }

    async poll() {
        const [status, body] = await request("GET", this.q);
        if (status !== 200) {
            this.closed = true;
            return [];
        }
        const packets = body.split("\x1e");
        for (const p of packets) {
            if (p === "2") {
                this.post("3");
            } else if (this.onPacket) {
                this.onPacket(p);
            }
        }
        return packets;
    }

    async loop() {
        while (!this.closed) {
            await this.poll();
        }
    }

    post(text) {
        return new Promise((resolve) => {
            this.posts.push([text, resolve]);
            this.drain();
        });
    }

    async drain() {
        if (this.posting || this.posts.length === 0) {
            return;
        }
        this.posting = true;
        // what queued meanwhile goes in one body, as engine.io-client does
        const batch = this.posts.splice(0);
        await request("POST", this.q, batch.map((b) => b[0]).join("\x1e"));
        this.posting = false;
        for (const [, resolve] of batch) {
            resolve();
        }
        this.drain();
    }
}

async function inBatches(n, size, make) {
    const out = [];
    for (let i = 0; i < n; i += size) {
        const batch = [];
        for (let k = i; k < Math.min(n, i + size); k++) {
            batch.push(make(k));
        }
        out.push(...await Promise.all(batch));
    }
    return out;
}

if (mode === "mem") {
    const [n, parked] = rest.map(Number);
    const clients = await inBatches(n, 100, async () => {
        const c = new Client(null);
        await c.open();
        return c;
    });
    if (parked) {
        clients.forEach((c) => c.loop());
    }
    console.log(JSON.stringify({ sessions: clients.length }));
    process.on("SIGTERM", () => process.exit(0));
    setInterval(() => {}, 1 << 30);

} else if (mode === "fan") {
    const [nclients, size, seconds, rate] = rest.map(Number);
    const stats = { sent: 0, delivered: 0, order_errors: 0, dup: 0 };
    const last = new Map();       // receiver:sender -> last sequence

    const clients = await inBatches(nclients, 100, async (i) => {
        const c = new Client((p) => {
            if (!p.startsWith('42["new_message"')) {
                return;
            }
            const m = /: (\d+):(\d+)"/.exec(p);
            if (!m) {
                return;
            }
            const key = `${i}:${m[1]}`;
            const seq = Number(m[2]);
            const prev = last.get(key) ?? -1;
            if (seq === prev) {
                stats.dup++;
            } else if (seq < prev) {
                stats.order_errors++;
            }
            last.set(key, seq);
            stats.delivered++;
        });
        await c.open();
        await c.post(`42["nickname","u${i}"]`);
        await c.post(`42["enter_room","r${Math.floor(i / size)}"]`);
        c.loop();
        return c;
    });

    // every member is in before anyone speaks
    await new Promise((r) => setTimeout(r, 500));

    const senders = clients.filter((c, i) => i % size === 0);
    const end = Date.now() + seconds * 1000;
    let seq = 0;
    const tick = 1000 / rate;

    while (Date.now() < end) {
        const t0 = Date.now();
        for (const [k, c] of senders.entries()) {
            c.post(`42["new_message","${k}:${seq}","r${k}"]`);
            stats.sent++;
        }
        seq++;
        const wait = tick - (Date.now() - t0);
        if (wait > 0) {
            await new Promise((r) => setTimeout(r, wait));
        }
    }

    // what is in flight arrives
    await new Promise((r) => setTimeout(r, 1000));
    console.log(JSON.stringify(stats));
    process.exit(0);
}
