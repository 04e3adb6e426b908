// Who is speaking: the microphone's level through Web Audio, the others'
// from getStats() (the energy of the audio received from each peer over
// the last interval).  Somebody speaks while their level is over the
// threshold, and for a moment after, so the pauses between words do not
// make the highlight flicker.  The active speaker is the one who spoke
// last, and stays so until somebody else speaks.
//
// Events: "change" {speaking: Set of ids ("self" for us), active, local}
// "local" is the microphone's level, 0..1, for the pre-join meter.

const INTERVAL = 250;       // the microphone; the others every other time
const HOLD = 1500;          // ms a speaker stays speaking after a sound
const THRESHOLD = 0.01;     // RMS level, 0..1

export class Levels extends EventTarget {
    constructor(call, media) {
        super();
        this.call = call;
        this.media = media;
        this.ctx = null;
        this.analyser = null;
        this.source = null;
        this.sourceTrack = null;
        this.buf = null;
        this.energy = new Map();    // id -> {energy, duration}
        this.loud = new Map();      // id -> last time over the threshold
        this.speaking = new Set();
        this.active = null;
        this.local = 0;
        this.timer = null;
        this.polling = false;
        this.ticks = 0;

        // an AudioContext may start suspended until the page is used
        const resume = () => {
            if (this.ctx && this.ctx.state === "suspended") {
                this.ctx.resume().catch(() => {});
            }
        };
        document.addEventListener("click", resume);
        document.addEventListener("keydown", resume);
        media.addEventListener("tracks", () => this.attachMic());
    }

    start() {
        if (!this.timer) {
            this.timer = setInterval(() => this.poll(), INTERVAL);
            this.attachMic();
        }
    }

    stop() {
        clearInterval(this.timer);
        this.timer = null;
        this.loud.clear();
        this.energy.clear();
        this.speaking.clear();
        this.active = null;
        this.local = 0;
        this.detach();
    }

    detach() {
        if (this.source) {
            this.source.disconnect();
        }
        this.source = null;
        this.sourceTrack = null;
    }

    // the microphone, whether or not it goes out (the meter shows it muted)
    attachMic() {
        const track = this.media.mic;
        if (track === this.sourceTrack) {
            return;
        }
        this.detach();
        if (!track || !this.timer) {
            return;
        }
        try {
            if (!this.ctx) {
                this.ctx = new AudioContext();
                this.analyser = this.ctx.createAnalyser();
                // a third of a second: a window longer than the poll,
                // so no short sound falls between two looks
                this.analyser.fftSize = 16384;
                this.buf = new Float32Array(this.analyser.fftSize);
            }
            this.source = this.ctx.createMediaStreamSource(
                new MediaStream([track]));
            this.source.connect(this.analyser);
            this.sourceTrack = track;
            if (this.ctx.state === "suspended") {
                this.ctx.resume().catch(() => {});
            }
        } catch (err) {
            this.source = null;     // no Web Audio: no local level
        }
    }

    micLevel() {
        if (!this.source || !this.sourceTrack.enabled) {
            return 0;
        }
        this.analyser.getFloatTimeDomainData(this.buf);
        let sum = 0;
        for (const v of this.buf) {
            sum += v * v;
        }
        return Math.sqrt(sum / this.buf.length);
    }

    // the RMS level of what each peer sent since the last poll
    async remoteLevels() {
        const out = new Map();
        for (const [id, peer] of this.call.peers) {
            let report;
            try {
                report = await peer.pc.getStats();
            } catch (err) {
                continue;
            }
            report.forEach((s) => {
                if (s.type !== "inbound-rtp" || s.kind !== "audio") {
                    return;
                }
                const now = { energy: s.totalAudioEnergy || 0,
                    duration: s.totalSamplesDuration || 0 };
                const was = this.energy.get(id);
                this.energy.set(id, now);
                if (was && now.duration > was.duration) {
                    out.set(id, Math.sqrt((now.energy - was.energy)
                        / (now.duration - was.duration)));
                }
            });
        }
        return out;
    }

    async poll() {
        if (this.polling) {
            return;
        }
        this.polling = true;
        try {
            const now = Date.now();
            this.local = this.micLevel();
            this.ticks += 1;
            const levels = this.ticks % 2 ? new Map()
                : await this.remoteLevels();
            if (this.media.state.audio) {
                levels.set("self", this.local);
            }
            for (const [id, level] of levels) {
                if (level > THRESHOLD) {
                    this.loud.set(id, now);
                }
            }
            const speaking = new Set();
            let latest = null;
            for (const [id, t] of this.loud) {
                if (!this.call.peers.has(id) && id !== "self") {
                    this.loud.delete(id);
                    continue;
                }
                if (id === "self" && !this.media.state.audio) {
                    continue;
                }
                if (now - t < HOLD) {
                    speaking.add(id);
                    if (!latest || t > this.loud.get(latest)) {
                        latest = id;
                    }
                }
            }
            if (latest && latest !== this.active
                && !speaking.has(this.active))
            {
                this.active = latest;
            }
            if (this.active && this.active !== "self"
                && !this.call.peers.has(this.active))
            {
                this.active = null;
            }
            this.speaking = speaking;
            this.dispatchEvent(new CustomEvent("change", { detail: {
                speaking, active: this.active, local: this.local } }));
        } finally {
            this.polling = false;
        }
    }
}
