// Injected by the browser tests (context.addInitScript), never served: a
// window into the page built from what any page can see, the DOM and the
// RTCPeerConnections it makes, so the client ships no debug global.
//
// window.noomTest: id(), connected(), room(), members(), peers(), media(),
// cams(), iceServers(), stats(), senders(), candidates(),
// restartIce(id, at), hold(on).  A peer connection belongs to the member
// whose tile shows the tracks it receives.
(() => {
    const pcs = [];
    const Native = window.RTCPeerConnection;

    class Watched extends Native {
        constructor(...args) {
            super(...args);
            this.t = { offersSent: 0, collisions: 0, endsSent: 0,
                endsReceived: 0, first: null };
            this.making = 0;    // our own descriptions being set
            this.addEventListener("icecandidate", (e) => {
                if (!e.candidate) {
                    this.t.endsSent += 1;
                }
            });
            pcs.push(this);
        }

        async setLocalDescription(...args) {
            this.making += 1;
            let r;
            try {
                r = await super.setLocalDescription(...args);
            } finally {
                this.making -= 1;
            }
            if (this.localDescription && this.localDescription.type === "offer") {
                this.t.offersSent += 1;
            }
            this.t.first = this.t.first || "local";
            return r;
        }

        async setRemoteDescription(desc, ...rest) {
            // an offer while ours is out or being made: the polite side
            // rolls its own back
            if (desc && desc.type === "offer"
                && (this.signalingState === "have-local-offer"
                    || this.making > 0))
            {
                this.t.collisions += 1;
            }
            this.t.first = this.t.first || "remote";
            return super.setRemoteDescription(desc, ...rest);
        }

        addIceCandidate(c, ...rest) {
            if (!c || !c.candidate) {
                this.t.endsReceived += 1;
            }
            return super.addIceCandidate(c, ...rest);
        }
    }
    window.RTCPeerConnection = Watched;

    // what the page's WebSockets receive can be held back, in order, and
    // let go at once (hold(true), hold(false)): two pages that hold their
    // signaling and restart ICE both make their offers before either sees
    // the other's, so the offers surely cross (glare)
    const NativeWebSocket = window.WebSocket;
    const sockets = [];
    let held = null;

    class HeldWebSocket extends NativeWebSocket {
        constructor(...args) {
            super(...args);
            sockets.push(this);
        }

        get onmessage() {
            return super.onmessage;
        }

        set onmessage(fn) {
            super.onmessage = typeof fn !== "function" ? fn : (ev) => {
                if (held) {
                    held.push(() => fn.call(this, ev));
                } else {
                    fn.call(this, ev);
                }
            };
        }
    }
    window.WebSocket = HeldWebSocket;

    const $ = (s) => document.querySelector(s);
    const open = () => pcs.filter((pc) => pc.signalingState !== "closed");

    // the member id of a peer connection: the tile that plays its tracks
    function idOf(pc) {
        const ids = new Set(pc.getReceivers().map((r) => r.track.id));
        for (const tile of document.querySelectorAll("#tiles .tile")) {
            const s = tile.querySelector("video").srcObject;
            if (s && s.getTracks().some((t) => ids.has(t.id))) {
                return tile.dataset.id;
            }
        }
        return null;
    }

    function byId() {
        const out = new Map();
        for (const pc of open()) {
            const id = idOf(pc);
            if (id && id !== "self") {
                out.set(id, pc);
            }
        }
        return out;
    }

    function ufrag(pc) {
        const sdp = pc.localDescription && pc.localDescription.sdp;
        return ((sdp && /a=ice-ufrag:(\S+)/.exec(sdp)) || [])[1] || null;
    }

    function selfTrack() {
        const v = $('#tiles .tile[data-id="self"] video');
        return (v && v.srcObject && v.srcObject.getVideoTracks()[0]) || null;
    }

    window.noomTest = {
        id: () => ($("#room") && $("#room").dataset.self) || null,
        connected: () => !!$("#status")
            && $("#status").dataset.state === "connected",
        room: () => ($("#room") && !$("#room").hidden
            && $("#room").dataset.room) || null,
        members: () => [...document.querySelectorAll("#people li")]
            .filter((li) => li.dataset.id !== "self")
            .map((li) => ({ id: li.dataset.id,
                nickname: li.querySelector(".name").textContent })),
        peers: () => [...byId().keys()],
        media: () => {
            const t = selfTrack();
            return { camLabel: t ? t.label : null,
                camId: t ? t.getSettings().deviceId : null,
                videoTrackId: t ? t.id : null };
        },
        cams: () => [...document.querySelectorAll("#camera-select option")]
            .map((o) => ({ id: o.value, label: o.textContent })),
        iceServers: () => {
            const pc = open()[0];
            return pc ? pc.getConfiguration().iceServers || [] : [];
        },
        async stats() {
            const out = [];
            for (const [id, pc] of byId()) {
                const item = { id, connectionState: pc.connectionState,
                    signalingState: pc.signalingState,
                    active: pc.t.first === "local", ...pc.t,
                    iceServers: pc.getConfiguration().iceServers || [],
                    localUfrag: ufrag(pc), video: null, audio: null,
                    sent: { audio: 0, video: 0 } };
                const report = await pc.getStats();
                report.forEach((s) => {
                    if (s.type === "inbound-rtp") {
                        item[s.kind] = {
                            bytesReceived: s.bytesReceived || 0,
                            framesDecoded: s.framesDecoded || 0,
                            frameWidth: s.frameWidth || 0,
                            frameHeight: s.frameHeight || 0,
                            totalAudioEnergy: s.totalAudioEnergy || 0,
                        };
                    } else if (s.type === "outbound-rtp") {
                        item.sent[s.kind] += s.bytesSent || 0;
                    }
                });
                out.push(item);
            }
            return out;
        },
        async candidates() {
            const out = [];
            for (const [id, pc] of byId()) {
                const report = await pc.getStats();
                let pair = null;
                report.forEach((s) => {
                    if (s.type === "transport" && s.selectedCandidatePairId) {
                        pair = report.get(s.selectedCandidatePairId);
                    }
                });
                const type = (cid) => (pair && report.get(cid)
                    ? report.get(cid).candidateType : null);
                out.push({ id, local: type(pair && pair.localCandidateId),
                    remote: type(pair && pair.remoteCandidateId) });
            }
            return out;
        },
        // holds what the WebSockets receive, or lets it go; the number of
        // open WebSockets (what is held: 0, the page is on polling)
        hold(on) {
            if (on) {
                held = held || [];
            } else if (held) {
                const q = held;
                held = null;
                for (const f of q) {
                    try {
                        f();
                    } catch (err) {
                        console.error(err);
                    }
                }
            }
            return sockets.filter((ws) => ws.readyState === 1).length;
        },
        // an ICE restart now, or at a given time
        restartIce: (id, at) => {
            const pc = byId().get(id);
            if (pc) {
                setTimeout(() => pc.restartIce(),
                    Math.max(0, (at || 0) - Date.now()));
            }
            return !!pc;
        },
    };
})();
