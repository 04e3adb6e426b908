// The lobby: a nickname (remembered), the open rooms with their live
// member counts (room_change, and list_rooms on every connect; a room at
// the server's member limit shows as full), and a form to create or join
// a room by name; /?room=name fills the form in.  Names are kept within
// the server's limits in UTF-8 bytes, with a word when one is cut.

import { $, el, setText, show, showError, errorText,
    limitInput } from "./ui.js";

const NICK_KEY = "noom.nickname";

export class Lobby {
    // onJoin(room, nickname): a promise, rejected with the server's refusal
    constructor(conn, onJoin) {
        this.conn = conn;
        this.onJoin = onJoin;
        this.view = $("#lobby");
        this.form = $("#join-form");
        this.nickInput = $("#nickname");
        this.roomInput = $("#room-name");
        this.joinButton = $("#join-button");
        this.errorEl = $("#lobby-error");
        this.roomsEl = $("#rooms");
        this.emptyEl = $("#rooms-empty");
        this.inviteEl = $("#invite");
        this.busy = false;
        this.rooms = { names: [], counts: {} };

        this.nickInput.value = remembered();
        const invited = new URL(location.href).searchParams.get("room");
        if (invited) {
            this.roomInput.value = invited;
            setText(this.inviteEl, `You are invited to the room “${invited}”. `
                + "Enter your name and join.");
            show(this.inviteEl, true);
        }

        const checkNick = limitInput(this.nickInput, $("#nickname-note"),
            () => this.conn.limits.nickname, "Names");
        const checkRoom = limitInput(this.roomInput, $("#room-note"),
            () => this.conn.limits.room_name, "Room names");
        conn.addEventListener("limits", () => {
            checkNick();
            checkRoom();
            this.render(this.rooms.names, this.rooms.counts);
        });

        this.form.addEventListener("submit", (e) => {
            e.preventDefault();
            this.join(this.roomInput.value);
        });

        conn.on("room_change", (names, counts) => this.render(names, counts));
        conn.on("connect", () => this.refresh());
    }

    refresh() {
        this.conn.request("list_rooms").then(([names, counts]) => {
            this.render(names, counts);
        }).catch(() => {});
    }

    show(focus = true) {
        show(this.view, true);
        document.body.dataset.view = "lobby";
        document.title = "noom";
        if (!focus) {
            return;
        }
        if (!this.nickInput.value) {
            this.nickInput.focus();
        } else {
            this.roomInput.focus();
        }
    }

    hide() {
        show(this.view, false);
    }

    // after leaving a call: the invitation is used up
    forgetInvite() {
        show(this.inviteEl, false);
        setText(this.inviteEl, "");
    }

    error(text) {
        showError(this.errorEl, text);
    }

    errorText() {
        return this.errorEl.hidden ? "" : this.errorEl.textContent;
    }

    isFull(name) {
        const max = this.conn.limits.room_members;
        return !!max && (Number(this.rooms.counts[name]) || 0) >= max;
    }

    render(names, counts) {
        if (!Array.isArray(names)) {
            return;
        }
        counts = counts && typeof counts === "object" ? counts : {};
        this.rooms = { names, counts };
        const items = names.map((name) => {
            const n = Number(counts[name]) || 0;
            const full = this.isFull(name);
            const people = n === 1 ? "1 person" : `${n} people`;
            return el("li", { attrs: { "data-room": name,
                "data-full": full ? "true" : "false" } },
                el("span", { class: "room-name", text: name }),
                el("span", { class: "members",
                    text: full ? `${people}, full` : people }),
                el("button", {
                    text: full ? "Full" : "Join",
                    attrs: { type: "button", disabled: full,
                        "aria-label": full ? `${name} is full` : `Join ${name}` },
                    on: { click: () => this.join(name) },
                }));
        });
        this.roomsEl.replaceChildren(...items);
        show(this.emptyEl, items.length === 0);
    }

    async join(roomName) {
        if (this.busy) {
            return;
        }
        const nickname = this.nickInput.value.trim();
        const room = String(roomName || "").trim();
        if (!nickname) {
            this.error("Enter your name first.");
            this.nickInput.focus();
            return;
        }
        if (!room) {
            this.error("Enter the name of a room to create or join.");
            this.roomInput.focus();
            return;
        }
        remember(nickname);
        this.error("");
        this.busy = true;
        this.joinButton.disabled = true;
        try {
            await this.onJoin(room, nickname);
        } catch (err) {
            this.error(errorText(err));
            if (err.code === "invalid_nickname") {
                this.nickInput.focus();
            } else {
                this.roomInput.focus();
            }
        } finally {
            this.busy = false;
            this.joinButton.disabled = false;
        }
    }
}

function remembered() {
    try {
        return localStorage.getItem(NICK_KEY) || "";
    } catch (err) {
        return "";
    }
}

function remember(nickname) {
    try {
        localStorage.setItem(NICK_KEY, nickname);
    } catch (err) {
        // not remembered
    }
}
