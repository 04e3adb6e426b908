// The local media: microphone, camera, screen.  What goes out to the
// others is one audio track (the microphone; none while muted, so not a
// byte of sound leaves a muted page) and one
// video track (the screen while sharing, otherwise the camera, or nothing
// when the camera is off).  Changes are events:
//   "tracks"  the outgoing tracks changed (call.js swaps them in with
//             RTCRtpSender.replaceTrack, no renegotiation)
//   "state"   {audio, video, screen}, what the others are told
//   "devices" the camera and microphone lists changed

const CAMERA_KEY = "noom.camera";
const MIC_KEY = "noom.microphone";
// the pre-join choices, for next time
export const MUTED_KEY = "noom.join-muted";
export const CAM_OFF_KEY = "noom.join-camera-off";

function stored(key) {
    try {
        return localStorage.getItem(key) || "";
    } catch (err) {
        return "";
    }
}

export { stored, store };

function store(key, value) {
    try {
        localStorage.setItem(key, value);
    } catch (err) {
        // private mode: not remembered
    }
}

export class Media extends EventTarget {
    constructor() {
        super();
        // the stream id the others see with our tracks (a=msid)
        this.stream = new MediaStream();
        this.mic = null;
        this.cam = null;
        this.screen = null;
        this.audioOn = stored(MUTED_KEY) !== "1";
        this.videoOn = stored(CAM_OFF_KEY) !== "1";
        this.micId = stored(MIC_KEY);
        this.camId = stored(CAMERA_KEY);
        this.cams = [];
        this.mics = [];
        this.started = false;
        this.generation = 0;
        this.lastError = null;
        // one device operation at a time
        this.ops = Promise.resolve();

        const md = navigator.mediaDevices;
        if (md && md.addEventListener) {
            md.addEventListener("devicechange", () => this.listDevices());
        }
    }

    get available() {
        return !!(navigator.mediaDevices
            && navigator.mediaDevices.getUserMedia);
    }

    get canShareScreen() {
        return !!(navigator.mediaDevices
            && navigator.mediaDevices.getDisplayMedia);
    }

    get state() {
        return {
            audio: !!this.mic && this.audioOn,
            video: !!this.cam && this.videoOn,
            screen: !!this.screen,
        };
    }

    outgoing(kind) {
        if (kind === "audio") {
            return this.audioOn ? this.mic : null;
        }
        return this.screen || this.cam;
    }

    serial(fn) {
        const run = this.ops.then(fn);
        this.ops = run.catch(() => {});
        return run;
    }

    changed(what) {
        if (what.includes("tracks")) {
            this.dispatchEvent(new Event("tracks"));
        }
        this.dispatchEvent(new CustomEvent("state", { detail: this.state }));
    }

    audioConstraints(exact) {
        const c = { echoCancellation: true, noiseSuppression: true };
        if (this.micId) {
            c.deviceId = exact ? { exact: this.micId } : { ideal: this.micId };
        }
        return c;
    }

    videoConstraints(exact) {
        const c = {
            width: { ideal: 640 },
            height: { ideal: 480 },
            frameRate: { ideal: 24, max: 30 },
        };
        if (this.camId) {
            c.deviceId = exact ? { exact: this.camId } : { ideal: this.camId };
        }
        return c;
    }

    // the camera and the microphone, whichever of them we may have
    start() {
        const generation = this.generation;
        return this.serial(async () => {
            if (this.started || generation !== this.generation) {
                return;
            }
            this.started = true;
            if (!this.available) {
                this.lastError = new Error("this browser has no media devices");
                this.changed(["state"]);
                return;
            }

            const md = navigator.mediaDevices;
            let tracks = [];
            try {
                const s = await md.getUserMedia({
                    audio: this.audioConstraints(false),
                    video: this.videoOn ? this.videoConstraints(false) : false,
                });
                tracks = s.getTracks();
            } catch (err) {
                this.lastError = err;
                for (const kind of ["audio", "video"]) {
                    if (kind === "video" && !this.videoOn) {
                        continue;
                    }
                    try {
                        const s = await md.getUserMedia({
                            [kind]: kind === "audio"
                                ? this.audioConstraints(false)
                                : this.videoConstraints(false),
                        });
                        tracks.push(...s.getTracks());
                    } catch (err2) {
                        // without that one
                    }
                }
            }

            if (generation !== this.generation) {
                // stop() came while the browser was asking
                tracks.forEach((t) => t.stop());
                return;
            }

            for (const t of tracks) {
                this.adopt(t);
            }
            // what we could not open shows as off
            if (!this.cam) {
                this.videoOn = false;
            }
            if (!this.mic) {
                this.audioOn = false;
            }
            this.changed(["tracks", "state"]);
            await this.listDevices();
        });
    }

    adopt(track) {
        if (track.kind === "audio") {
            this.mic = track;
            track.enabled = this.audioOn;
        } else {
            this.cam = track;
            track.contentHint = "motion";
        }
        track.addEventListener("ended", () => {
            // unplugged: drop it, so the others see it off
            if (this.mic === track) {
                this.mic = null;
                this.changed(["tracks", "state"]);
            } else if (this.cam === track) {
                this.cam = null;
                this.changed(["tracks", "state"]);
            }
        });
    }

    stop() {
        this.started = false;
        this.generation += 1;
        for (const t of [this.mic, this.cam, this.screen]) {
            if (t) {
                t.stop();
            }
        }
        this.mic = this.cam = this.screen = null;
        this.changed(["tracks", "state"]);
    }

    setAudio(on) {
        this.audioOn = on;
        if (this.mic) {
            this.mic.enabled = on;
            this.changed(["tracks", "state"]);
            return Promise.resolve();
        }
        if (!on || !this.started) {
            this.changed(["state"]);
            return Promise.resolve();
        }
        // no microphone yet (refused or missing at first): ask again
        return this.serial(async () => {
            try {
                const s = await navigator.mediaDevices.getUserMedia(
                    { audio: this.audioConstraints(false) });
                if (this.mic) {
                    s.getTracks().forEach((t) => t.stop());
                } else {
                    this.adopt(s.getAudioTracks()[0]);
                }
            } catch (err) {
                this.audioOn = false;
                this.changed(["state"]);
                throw err;
            }
            this.changed(["tracks", "state"]);
            await this.listDevices();
        });
    }

    // camera off stops the camera (its light goes off); on opens it again
    setVideo(on) {
        return this.serial(async () => {
            this.videoOn = on;
            if (!on) {
                if (this.cam) {
                    this.cam.stop();
                    this.cam = null;
                }
                this.changed(["tracks", "state"]);
                return;
            }
            if (!this.cam && this.started) {
                try {
                    const s = await navigator.mediaDevices.getUserMedia(
                        { video: this.videoConstraints(false) });
                    this.adopt(s.getVideoTracks()[0]);
                } catch (err) {
                    this.videoOn = false;
                    this.changed(["state"]);
                    throw err;
                }
            }
            this.changed(["tracks", "state"]);
            await this.listDevices();
        });
    }

    switchCamera(deviceId) {
        return this.serial(async () => {
            const previous = this.camId;
            this.camId = deviceId;
            store(CAMERA_KEY, deviceId);
            if (!this.cam) {
                return;
            }
            // phones cannot open two cameras at once: the old one first
            this.cam.stop();
            try {
                const s = await navigator.mediaDevices.getUserMedia(
                    { video: this.videoConstraints(true) });
                this.cam = null;
                this.adopt(s.getVideoTracks()[0]);
            } catch (err) {
                this.camId = previous;
                this.cam = null;
                try {
                    const s = await navigator.mediaDevices.getUserMedia(
                        { video: this.videoConstraints(false) });
                    this.adopt(s.getVideoTracks()[0]);
                } catch (err2) {
                    this.videoOn = false;
                }
                this.changed(["tracks", "state"]);
                throw err;
            }
            this.changed(["tracks", "state"]);
        });
    }

    switchMic(deviceId) {
        return this.serial(async () => {
            const previous = this.micId;
            this.micId = deviceId;
            store(MIC_KEY, deviceId);
            if (!this.mic) {
                return;
            }
            let s;
            try {
                s = await navigator.mediaDevices.getUserMedia(
                    { audio: this.audioConstraints(true) });
            } catch (err) {
                this.micId = previous;
                throw err;
            }
            const old = this.mic;
            this.adopt(s.getAudioTracks()[0]);
            old.stop();
            this.changed(["tracks", "state"]);
        });
    }

    // the shared screen replaces the camera for everyone until the share
    // ends, from our button or from the browser's own "stop sharing"
    startScreen() {
        return this.serial(async () => {
            if (this.screen) {
                return;
            }
            const s = await navigator.mediaDevices.getDisplayMedia({
                video: { frameRate: { ideal: 15, max: 30 } },
                audio: false,
            });
            const track = s.getVideoTracks()[0];
            track.contentHint = "detail";
            track.addEventListener("ended", () => {
                if (this.screen === track) {
                    this.screen = null;
                    this.changed(["tracks", "state"]);
                }
            });
            this.screen = track;
            this.changed(["tracks", "state"]);
        });
    }

    stopScreen() {
        return this.serial(async () => {
            if (!this.screen) {
                return;
            }
            this.screen.stop();
            this.screen = null;
            this.changed(["tracks", "state"]);
        });
    }

    async listDevices() {
        const md = navigator.mediaDevices;
        if (!md || !md.enumerateDevices) {
            return;
        }
        let devices = [];
        try {
            devices = await md.enumerateDevices();
        } catch (err) {
            return;
        }
        this.cams = devices.filter((d) => d.kind === "videoinput");
        this.mics = devices.filter((d) => d.kind === "audioinput");
        // what is open now, which may be the default rather than the stored
        const camId = this.cam && this.cam.getSettings().deviceId;
        const micId = this.mic && this.mic.getSettings().deviceId;
        if (camId) {
            this.camId = camId;
        }
        if (micId) {
            this.micId = micId;
        }
        this.dispatchEvent(new Event("devices"));
    }
}
