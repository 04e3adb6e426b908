// The pre-join screen: the camera's preview, the microphone's level, the
// devices, and "join with the microphone off" / "with the camera off"
// before anybody sees or hears us.  The choices are remembered for next
// time; the devices it opened are the ones the call goes on with.

import { $, setText, show, showError, initial } from "./ui.js";
import { store, stored, MUTED_KEY, CAM_OFF_KEY } from "./media.js";
import { fill } from "./room.js";

export class Prejoin {
    constructor(media, levels) {
        this.media = media;
        this.levels = levels;
        this.room = null;
        this.nickname = "";
        this.onJoin = null;     // (room, nickname) => promise
        this.onBack = null;
        this.view = $("#prejoin");
        this.video = $("#preview-video");
        this.tile = $("#preview");
        this.meter = $("#mic-level");
        this.muted = $("#join-muted");
        this.camOff = $("#join-cam-off");
        this.camSelect = $("#pre-camera");
        this.micSelect = $("#pre-mic");
        this.joinButton = $("#join-now");
        this.errorEl = $("#prejoin-error");

        this.muted.addEventListener("change", () => {
            store(MUTED_KEY, this.muted.checked ? "1" : "0");
            this.media.setAudio(!this.muted.checked).catch((err) =>
                this.error(`Cannot start the microphone: ${err.message}`));
        });
        this.camOff.addEventListener("change", () => {
            store(CAM_OFF_KEY, this.camOff.checked ? "1" : "0");
            this.media.setVideo(!this.camOff.checked).catch((err) =>
                this.error(`Cannot start the camera: ${err.message}`));
        });
        this.camSelect.addEventListener("change", () => {
            this.media.switchCamera(this.camSelect.value).catch((err) =>
                this.error(`Cannot use that camera: ${err.message}`));
        });
        this.micSelect.addEventListener("change", () => {
            this.media.switchMic(this.micSelect.value).catch((err) =>
                this.error(`Cannot use that microphone: ${err.message}`));
        });
        this.joinButton.addEventListener("click", () => this.join());
        $("#prejoin-back").addEventListener("click", () => {
            if (this.onBack) {
                this.onBack();
            }
        });

        media.addEventListener("tracks", () => this.render());
        media.addEventListener("state", () => this.render());
        media.addEventListener("devices", () => this.render());
        levels.addEventListener("change", (e) => {
            if (!this.view.hidden) {
                const pct = Math.min(100, Math.round(e.detail.local * 400));
                this.meter.style.setProperty("--level", `${pct}%`);
                this.meter.setAttribute("aria-valuenow", String(pct));
            }
        });
    }

    get open() {
        return !this.view.hidden;
    }

    show(room, nickname) {
        this.room = room;
        this.nickname = nickname;
        this.error("");
        setText($("#prejoin-room"), room);
        setText($("#preview-name"), nickname);
        setText(this.tile.querySelector(".avatar"), initial(nickname));
        // what was chosen last time, not how the last call ended
        this.media.audioOn = stored(MUTED_KEY) !== "1";
        this.media.videoOn = stored(CAM_OFF_KEY) !== "1";
        this.muted.checked = !this.media.audioOn;
        this.camOff.checked = !this.media.videoOn;
        show(this.view, true);
        document.body.dataset.view = "prejoin";
        document.title = `Join ${room} – noom`;
        $("#prejoin-title").focus();
        this.levels.start();
        this.media.start().then(() => {
            if (this.media.lastError && !this.media.mic && !this.media.cam) {
                this.error("No camera or microphone: you can still join, "
                    + "watch, listen and chat.");
            }
            this.render();
        });
        this.render();
    }

    hide() {
        show(this.view, false);
        this.video.srcObject = null;
    }

    error(text) {
        showError(this.errorEl, text);
    }

    render() {
        if (this.view.hidden) {
            return;
        }
        const cam = this.media.cam;
        const current = this.video.srcObject
            && this.video.srcObject.getVideoTracks()[0];
        if ((current || null) !== cam) {
            this.video.srcObject = cam ? new MediaStream([cam]) : null;
            if (cam) {
                this.video.play().catch(() => {});
            }
        }
        this.tile.dataset.video = cam ? "on" : "off";
        this.muted.checked = !this.media.audioOn;
        this.camOff.checked = !this.media.videoOn;
        fill(this.camSelect, this.media.cams, this.media.camId, "Camera");
        fill(this.micSelect, this.media.mics, this.media.micId, "Microphone");
    }

    async join() {
        if (!this.onJoin || this.joinButton.disabled) {
            return;
        }
        this.joinButton.disabled = true;
        try {
            await this.onJoin(this.room, this.nickname);
        } finally {
            this.joinButton.disabled = false;
        }
    }
}
