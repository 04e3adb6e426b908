// The Socket.IO connection to noom: one socket for the page's lifetime.
// socket.io-client reconnects by itself after a dropped connection or an
// nginx reload (close 1001); whoever needs to rejoin listens to "connect",
// which fires again after every reconnect.
//
// With connection state recovery on the server (noom_recovery: its CONNECT
// answer carries a pid), a reconnect within the window comes back as the
// same session: the same socket id, nickname and room, the missed events
// replayed, and socket.recovered true; only a fresh session (recovered
// false) needs the rejoin.  Every event of a recoverable session ends with
// an offset (a string that socket.io-client keeps); the listeners added
// with on() never see it.  Requests made while such a session is away wait
// for it to come back.

import { io } from "../vendor/socket.io.esm.min.js";

const REQUEST_TIMEOUT = 8000;
const ICE_TIMEOUT = 3000;
// how long a request made while the session is away waits for it: a
// reconnection on a busy server or a slow network takes longer than an
// answer does, and a chat line typed then should not be lost to that
const AWAY_TIMEOUT = 30000;

// socket.io-client's own events: no offset, nothing to take off
const RESERVED = new Set(["connect", "connect_error", "disconnect",
    "disconnecting"]);
// the one event noom sends without an offset
const NO_OFFSET = new Set(["room_change"]);
const CONNECT = 0;   // Socket.IO packet type

export class NoomError extends Error {
    constructor(code, message, event) {
        super(message || code);
        this.code = code;
        this.event = event;
    }
}

// a refused event is acked with a single {error, message, event} object
function refusal(args) {
    const first = args[0];
    if (first && typeof first === "object" && !Array.isArray(first)
        && typeof first.error === "string")
    {
        return new NoomError(first.error, first.message, first.event);
    }
    return null;
}

export class Connection extends EventTarget {
    constructor(path = "/ws") {
        super();
        this.iceServers = [];
        // the server's limits (bytes, members), from the "limits" event
        this.limits = {};
        this.state = "connecting";
        this.everConnected = false;
        // the session has a pid: events carry offsets, an absence can be
        // recovered
        this.recoverable = false;
        // requests waiting for an away session: {resolve, reject, timer}
        this.waiting = new Set();
        // listener -> its wrapper, per event
        this.wrapped = new Map();

        // Socket.IO's own transports: polling first, then the WebSocket,
        // so that a network that blocks WebSockets still gets a call
        this.socket = io({
            path,
            reconnectionDelay: 500,
            reconnectionDelayMax: 4000,
            timeout: 8000,
        });

        // the CONNECT answer says whether the server keeps sessions (pid)
        this.socket.io.on("packet", (packet) => {
            if (packet && packet.type === CONNECT && packet.nsp === "/") {
                this.recoverable = !!(packet.data && packet.data.pid);
            }
        });

        this.socket.on("connect", () => {
            this.everConnected = true;
            this.setState("connected");
            // a recovered session takes the waiting requests on; a fresh
            // one has nothing they could apply to
            this.release(this.recovered);
            this.fetchIceServers();
        });

        // the page goes away: leave for good now (a DISCONNECT), rather
        // than as an absence the others would wait out; back from the
        // back/forward cache: connect again
        window.addEventListener("pagehide", () => {
            if (this.socket.connected) {
                this.socket.disconnect();
            }
        });
        window.addEventListener("pageshow", (e) => {
            if (e.persisted && !this.socket.connected) {
                this.socket.connect();
            }
        });

        this.socket.on("disconnect", (reason) => {
            this.setState("reconnecting");
            // the server dropped us from the namespace on purpose: the
            // manager does not reconnect by itself then
            if (reason === "io server disconnect") {
                this.socket.connect();
            }
        });

        this.socket.on("connect_error", () => {
            this.setState(this.everConnected ? "reconnecting" : "unreachable");
        });

        // pushed by the server right after connecting
        this.on("ice_servers", (servers) => this.setIceServers(servers));
        this.on("limits", (limits) => this.setLimits(limits));

        // refusals of events sent without an ack
        this.on("error", (err) => {
            this.dispatchEvent(new CustomEvent("refused", {
                detail: new NoomError(err && err.error, err && err.message,
                    err && err.event),
            }));
        });
    }

    get id() {
        return this.socket.id;
    }

    get connected() {
        return this.socket.connected;
    }

    // the last connect brought the same session back
    get recovered() {
        return this.socket.connected && this.socket.recovered === true;
    }

    // away, but the server may still hold the session for us
    get away() {
        return !this.socket.connected && this.recoverable && this.everConnected;
    }

    setState(state) {
        if (this.state === state) {
            return;
        }
        this.state = state;
        this.dispatchEvent(new CustomEvent("state", { detail: state }));
    }

    setIceServers(servers) {
        if (!Array.isArray(servers)) {
            return;
        }
        this.iceServers = servers.filter((s) => s && s.urls);
        this.dispatchEvent(new CustomEvent("iceservers",
            { detail: this.iceServers }));
    }

    setLimits(limits) {
        if (!limits || typeof limits !== "object") {
            return;
        }
        const out = {};
        for (const k of ["nickname", "room_name", "message", "room_members"]) {
            const n = Number(limits[k]);
            if (Number.isInteger(n) && n > 0) {
                out[k] = n;
            }
        }
        this.limits = out;
        this.dispatchEvent(new CustomEvent("limits", { detail: out }));
    }

    // asks again, in case the pushed copy was missed; a server without
    // ice_servers (or one that does not answer) leaves what we have
    async fetchIceServers() {
        try {
            const [servers] = await this.requestWithin(ICE_TIMEOUT,
                "ice_servers");
            this.setIceServers(servers);
        } catch (err) {
            // keep the last list, [] at first
        }
    }

    // a listener for a server event gets its arguments without the offset
    on(event, fn) {
        if (RESERVED.has(event)) {
            this.socket.on(event, fn);
            return;
        }
        let byEvent = this.wrapped.get(event);
        if (!byEvent) {
            byEvent = new Map();
            this.wrapped.set(event, byEvent);
        }
        let w = byEvent.get(fn);
        if (!w) {
            w = (...args) => fn(...this.withoutOffset(event, args));
            byEvent.set(fn, w);
        }
        this.socket.on(event, w);
    }

    off(event, fn) {
        const byEvent = this.wrapped.get(event);
        const w = byEvent && byEvent.get(fn);
        if (w) {
            byEvent.delete(fn);
            this.socket.off(event, w);
        } else {
            this.socket.off(event, fn);
        }
    }

    // what socket.io-client takes for the offset: the last argument, when
    // it is a string, of every event but room_change
    withoutOffset(event, args) {
        if (this.recoverable && !NO_OFFSET.has(event) && args.length > 0
            && typeof args[args.length - 1] === "string")
        {
            return args.slice(0, -1);
        }
        return args;
    }

    // the requests that waited for an away session: on if it came back,
    // "offline" if it did not
    release(recovered) {
        for (const w of this.waiting) {
            clearTimeout(w.timer);
            if (recovered) {
                w.resolve();
            } else {
                w.reject();
            }
        }
        this.waiting.clear();
    }

    whenBack(timeout, event) {
        return new Promise((resolve, reject) => {
            const w = { resolve, reject: () => reject(new NoomError("offline",
                "not connected", event)) };
            w.timer = setTimeout(() => {
                this.waiting.delete(w);
                w.reject();
            }, timeout);
            this.waiting.add(w);
        });
    }

    // emits with an ack; resolves with the ack's arguments, rejects with a
    // NoomError (the server's refusal, "offline" or "timeout").  While a
    // recoverable session is away a request waits (up to AWAY_TIMEOUT) for
    // it to come back, and is sent then if it was recovered; otherwise
    // nothing is queued while disconnected: a request made then fails at
    // once.
    request(event, ...args) {
        return this.requestWithin(REQUEST_TIMEOUT, event, ...args);
    }

    requestWithin(timeout, event, ...args) {
        if (!this.socket.connected) {
            if (this.away) {
                return this.whenBack(AWAY_TIMEOUT, event).then(() =>
                    this.requestWithin(timeout, event, ...args));
            }
            return Promise.reject(new NoomError("offline",
                "not connected", event));
        }

        return new Promise((resolve, reject) => {
            this.socket.timeout(timeout).emit(event, ...args, (err, ...res) => {
                if (err) {
                    // no answer in time, or the socket closed meanwhile
                    reject(new NoomError(this.socket.connected
                        ? "timeout" : "offline", err.message, event));
                    return;
                }
                const refused = refusal(res);
                if (refused) {
                    reject(refused);
                } else {
                    resolve(res);
                }
            });
        });
    }
}
