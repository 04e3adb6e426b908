// The mesh: one RTCPeerConnection per remote member of the room.
//
// Who offers: the newcomer.  The ack of join_room lists the members already
// there; the newcomer makes an "active" Peer for each (it adds one audio and
// one video transceiver, so negotiationneeded sends the offer).  The members
// already there make a "passive" Peer when they hear of the newcomer
// (welcome, or its first offer) and answer with their own tracks on the
// transceivers the offer created.
//
// Perfect negotiation (W3C webrtc-pc, with isSettingRemoteAnswerPending)
// settles any later collision, e.g. two ICE restarts at once: the polite
// side of a pair is the one with the smaller socket id.  Trickle ICE, the
// final null candidate included.  Everything is addressed with toId.
//
// A reconnect that the server recovers (same socket id, still in the room)
// changes nothing here: the peer connections go on, nothing is
// renegotiated.  Only a fresh session (start() again) rebuilds the mesh.

const RESTART_DELAY = 2500;  // "disconnected" for this long: restart ICE
const MAX_BACKOFF = 16000;

// /?ice=relay: media only through the TURN relay (hides the addresses of
// the people in a call from each other; also how the relay is tested)
const RELAY_ONLY = new URLSearchParams(location.search).get("ice") === "relay";

export class Peer {
    constructor(call, id, { active }) {
        this.call = call;
        this.id = id;
        this.polite = call.selfId < id;
        this.active = active;
        this.closed = false;
        this.makingOffer = false;
        this.ignoreOffer = false;
        this.answerPending = false;
        this.restarts = 0;
        this.restartTimer = null;
        this.queue = Promise.resolve();
        this.stream = new MediaStream();
        this.senders = { audio: null, video: null };

        const pc = new RTCPeerConnection({ iceServers: call.iceServers(),
            iceTransportPolicy: RELAY_ONLY ? "relay" : "all" });
        this.pc = pc;

        pc.addEventListener("negotiationneeded", () => this.offer());
        pc.addEventListener("icecandidate", ({ candidate }) => {
            this.send("ice", candidate ? candidate.toJSON() : null);
        });
        pc.addEventListener("track", ({ track }) => {
            if (!this.stream.getTracks().includes(track)) {
                this.stream.addTrack(track);
            }
            call.emit("track", this);
        });
        pc.addEventListener("connectionstatechange", () => this.watch());

        if (active) {
            for (const kind of ["audio", "video"]) {
                const t = pc.addTransceiver(call.media.outgoing(kind) || kind, {
                    direction: "sendrecv",
                    streams: [call.media.stream],
                });
                this.senders[kind] = t.sender;
            }
        }
    }

    send(event, payload) {
        if (!this.closed) {
            this.call.signal(this, event, payload);
        }
    }

    // one signaling message at a time, in arrival order
    enqueue(fn) {
        this.queue = this.queue.then(fn).catch((err) => {
            if (!this.closed) {
                console.warn(`noom: peer ${this.id}:`, err);
            }
        });
        return this.queue;
    }

    async offer() {
        if (this.closed) {
            return;
        }
        try {
            this.makingOffer = true;
            await this.pc.setLocalDescription();
            this.send("offer", this.pc.localDescription.toJSON());
        } catch (err) {
            console.warn(`noom: offer to ${this.id}:`, err);
        } finally {
            this.makingOffer = false;
        }
    }

    onDescription(desc) {
        return this.enqueue(async () => {
            if (this.closed || !desc || !desc.type) {
                return;
            }
            const pc = this.pc;
            const readyForOffer = !this.makingOffer
                && (pc.signalingState === "stable" || this.answerPending);
            const collision = desc.type === "offer" && !readyForOffer;
            this.ignoreOffer = !this.polite && collision;
            if (this.ignoreOffer) {
                return;
            }
            this.answerPending = desc.type === "answer";
            try {
                await pc.setRemoteDescription({ type: desc.type, sdp: desc.sdp });
            } finally {
                this.answerPending = false;
            }
            if (desc.type === "offer") {
                this.attachLocal();
                await pc.setLocalDescription();
                this.send("answer", pc.localDescription.toJSON());
            }
        });
    }

    onCandidate(candidate) {
        return this.enqueue(async () => {
            if (this.closed) {
                return;
            }
            try {
                // null: the end of the remote candidates
                await this.pc.addIceCandidate(candidate || undefined);
            } catch (err) {
                if (!this.ignoreOffer) {
                    throw err;
                }
            }
        });
    }

    // on the answering side: our tracks onto the transceivers the remote
    // offer made, before the answer is made, so no renegotiation follows
    attachLocal() {
        const media = this.call.media;
        for (const kind of ["audio", "video"]) {
            if (this.senders[kind]) {
                continue;
            }
            const t = this.pc.getTransceivers().find((tr) =>
                !tr.stopped && tr.receiver.track.kind === kind);
            if (!t) {
                continue;
            }
            this.senders[kind] = t.sender;
            t.direction = "sendrecv";
            t.sender.setStreams(media.stream);
            const track = media.outgoing(kind);
            if (track) {
                t.sender.replaceTrack(track).catch(() => {});
            }
        }
    }

    // the outgoing tracks changed (mute, camera, device, screen)
    async updateTracks() {
        const media = this.call.media;
        for (const kind of ["audio", "video"]) {
            const sender = this.senders[kind];
            const track = media.outgoing(kind);
            if (sender && sender.track !== track && !this.closed) {
                try {
                    await sender.replaceTrack(track);
                } catch (err) {
                    console.warn(`noom: replaceTrack to ${this.id}:`, err);
                }
            }
        }
    }

    setIceServers(servers) {
        try {
            this.pc.setConfiguration({ ...this.pc.getConfiguration(),
                iceServers: servers });
        } catch (err) {
            // an old browser that cannot change it: keep the old ones
        }
    }

    // connection problems: "failed" restarts ICE at once (then with a
    // growing delay), "disconnected" after a grace period
    watch() {
        const state = this.pc.connectionState;
        this.call.emit("state", this);
        clearTimeout(this.restartTimer);
        this.restartTimer = null;
        if (this.closed) {
            return;
        }
        if (state === "connected") {
            this.restarts = 0;
        } else if (state === "failed") {
            const delay = this.restarts === 0 ? 0
                : Math.min(1000 * 2 ** this.restarts, MAX_BACKOFF);
            this.restartTimer = setTimeout(() => this.restartIce(), delay);
        } else if (state === "disconnected") {
            this.restartTimer = setTimeout(() => this.restartIce(),
                RESTART_DELAY);
        }
    }

    restartIce() {
        if (this.closed || this.pc.connectionState === "connected") {
            return;
        }
        this.restarts += 1;
        this.setIceServers(this.call.iceServers());
        this.pc.restartIce();
    }

    close() {
        if (this.closed) {
            return;
        }
        this.closed = true;
        clearTimeout(this.restartTimer);
        this.pc.close();
        this.stream.getTracks().forEach((t) => t.stop());
    }
}


export class Call extends EventTarget {
    constructor(conn, media) {
        super();
        this.conn = conn;
        this.media = media;
        this.peers = new Map();
        this.room = null;
        this.selfId = null;

        media.addEventListener("tracks", () => {
            for (const peer of this.peers.values()) {
                peer.updateTracks();
            }
        });

        conn.addEventListener("iceservers", (e) => {
            for (const peer of this.peers.values()) {
                peer.setIceServers(e.detail);
            }
        });

        // (conn.on takes the recovery offset off: fromId is the sender's
        // id, or undefined from a server that did not say)
        conn.on("offer", (desc, fromId) => {
            if (typeof fromId !== "string" || !fromId) {
                return;
            }
            const peer = this.peerFor(fromId, true);
            if (peer) {
                peer.onDescription(desc);
            }
        });
        conn.on("answer", (desc, fromId) => {
            const peer = this.peers.get(fromId);
            if (peer && this.room) {
                peer.onDescription(desc);
            }
        });
        conn.on("ice", (candidate, fromId) => {
            const peer = this.peers.get(fromId);
            if (peer && this.room) {
                peer.onCandidate(candidate);
            }
        });
    }

    emit(type, peer) {
        this.dispatchEvent(new CustomEvent(type, { detail: peer }));
    }

    iceServers() {
        return this.conn.iceServers || [];
    }

    // (re)starts in a room with our current socket id: every old peer goes
    start(room, selfId) {
        this.closeAll();
        this.room = room;
        this.selfId = selfId;
    }

    stop() {
        this.closeAll();
        this.room = null;
    }

    // the newcomer's side: we offer
    connect(id) {
        this.drop(id);
        const peer = new Peer(this, id, { active: true });
        this.peers.set(id, peer);
        this.emit("peer", peer);
        return peer;
    }

    // the other side: a peer that waits for the newcomer's offer
    peerFor(id, fromOffer) {
        if (!this.room || id === this.selfId) {
            return null;
        }
        let peer = this.peers.get(id);
        if (!peer) {
            peer = new Peer(this, id, { active: false });
            this.peers.set(id, peer);
            this.emit("peer", peer);
            if (fromOffer) {
                this.emit("newpeer-offer", peer);
            }
        }
        return peer;
    }

    drop(id) {
        const peer = this.peers.get(id);
        if (peer) {
            this.peers.delete(id);
            peer.close();
            this.emit("gone", peer);
        }
    }

    closeAll() {
        for (const id of [...this.peers.keys()]) {
            this.drop(id);
        }
    }

    // while a recoverable session is away the request waits for it (a
    // candidate gathered meanwhile is not lost); otherwise, disconnected,
    // it fails at once and the rejoin makes the call again
    signal(peer, event, payload) {
        if (!this.room) {
            return;
        }
        this.conn.request(event, payload, this.room, peer.id).catch((err) => {
            if (err.code === "no_such_member" && this.peers.get(peer.id) === peer) {
                // gone from the room: its bye is on the way or was missed
                this.drop(peer.id);
            }
        });
    }
}
