// The page: one connection, the lobby or a room, and the connection state
// in the banner.

import { Connection } from "./connection.js";
import { Media } from "./media.js";
import { Call } from "./call.js";
import { Room, roomLink } from "./room.js";
import { Lobby } from "./lobby.js";
import { $, setText } from "./ui.js";

const STATUS = {
    connecting: "Connecting to the server…",
    connected: "Connected",
    reconnecting: "Connection lost. Reconnecting…",
    unreachable: "The server cannot be reached. Retrying…",
};

const conn = new Connection("/ws");
const media = new Media();
const call = new Call(conn, media);
const room = new Room(conn, media, call);
const lobby = new Lobby(conn, async (name, nickname) => {
    await room.enter(name, nickname);
    lobby.hide();
    history.replaceState(null, "", roomLink(name));
});

room.addEventListener("left", (e) => {
    history.replaceState(null, "", "/");
    lobby.error(e.detail.reason || "");
    lobby.show();
    lobby.refresh();
});

const statusEl = $("#status");

function renderStatus(state) {
    statusEl.dataset.state = state;
    setText(statusEl, STATUS[state] || state);
    document.body.dataset.connection = state;
}

let connectionError = "";

conn.addEventListener("state", (e) => {
    const state = e.detail;
    renderStatus(state);
    if (state === "reconnecting" || state === "unreachable") {
        connectionError = STATUS[state];
        if (room.inRoom) {
            room.system(connectionError, true);
        } else {
            lobby.error(connectionError);
        }
    } else if (state === "connected" && connectionError) {
        if (!room.inRoom && lobby.errorText() === connectionError) {
            lobby.error("");
        }
        connectionError = "";
    }
});
renderStatus(conn.state);

// every (re)connect: the same nickname and room again
conn.on("connect", () => {
    if (room.inRoom) {
        room.rejoin();
    }
});

lobby.show();

// a small window into the call, for the browser test and for debugging
window.noomDebug = {
    id: () => conn.id,
    connected: () => conn.connected,
    room: () => room.name,
    members: () => [...room.members.values()].map((m) => ({
        id: m.id, nickname: m.nickname, state: m.state })),
    peers: () => [...call.peers.keys()],
    media: () => ({
        ...media.state,
        camLabel: media.cam ? media.cam.label : null,
        camId: media.cam ? media.cam.getSettings().deviceId : null,
        videoTrackId: (media.outgoing("video") || {}).id || null,
    }),
    cams: () => media.cams.map((d) => ({ id: d.deviceId, label: d.label })),
    iceServers: () => conn.iceServers,
    stats: () => call.stats(),
    candidates: () => call.candidates(),
    // an ICE restart now, or at a given time (two pages at once: glare)
    restartIce: (id, at) => {
        const peer = call.peers.get(id);
        if (peer) {
            setTimeout(() => peer.restartIce(true),
                Math.max(0, (at || 0) - Date.now()));
        }
        return !!peer;
    },
};
