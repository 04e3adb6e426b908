// The Socket.IO connection to noom: one socket for the page's lifetime.
// socket.io-client reconnects by itself after a dropped connection or an
// nginx reload (close 1001); whoever needs to rejoin listens to "connect",
// which fires again after every reconnect, with a new socket id.

import { io } from "../vendor/socket.io.esm.min.js";

const REQUEST_TIMEOUT = 8000;
const ICE_TIMEOUT = 3000;

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

        // Socket.IO's own transports: polling first, then the WebSocket,
        // so that a network that blocks WebSockets still gets a call
        this.socket = io({
            path,
            reconnectionDelay: 500,
            reconnectionDelayMax: 4000,
            timeout: 8000,
        });

        this.socket.on("connect", () => {
            this.everConnected = true;
            this.setState("connected");
            this.fetchIceServers();
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
        this.socket.on("ice_servers", (servers) => this.setIceServers(servers));
        this.socket.on("limits", (limits) => this.setLimits(limits));

        // refusals of events sent without an ack
        this.socket.on("error", (err) => {
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

    on(event, fn) {
        this.socket.on(event, fn);
    }

    off(event, fn) {
        this.socket.off(event, fn);
    }

    // emits with an ack; resolves with the ack's arguments, rejects with a
    // NoomError (the server's refusal, "offline" or "timeout").  Nothing is
    // queued while disconnected: a request made then fails at once.
    request(event, ...args) {
        return this.requestWithin(REQUEST_TIMEOUT, event, ...args);
    }

    requestWithin(timeout, event, ...args) {
        if (!this.socket.connected) {
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
