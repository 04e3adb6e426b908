// An admin of noom through the official socket.io-client, driven by
// t/admin.t: it connects to the /admin namespace as @socket.io/admin-ui
// does (WebSocket only, the nginx location as the path, the credentials
// or a session id as auth), prints every event it gets as a JSON line on
// stdout and emits what comes as JSON lines on stdin.
//
//   node t/js/admin_client.mjs <port> <path> '<auth JSON>'
//
// stdout: {"ev":"connect","id":...} | {"ev":"connect_error","message":...}
//         | {"ev":"disconnect","reason":...} | {"ev":<name>,"args":[...]}
// stdin:  {"emit":[<event>, ...args]} | {"close":true}

import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const [port, path, auth] = process.argv.slice(2);

function out(o) {
  process.stdout.write(JSON.stringify(o) + "\n");
}

const socket = io(`http://127.0.0.1:${port}/admin`, {
  path,
  transports: ["websocket"],
  forceNew: true,
  reconnection: false,
  // a loaded machine (prove -j8) may take longer than the default 20 s
  timeout: 60000,
  auth: JSON.parse(auth || "{}"),
});

socket.on("connect", () => out({ ev: "connect", id: socket.id }));
socket.on("connect_error", (e) => out({ ev: "connect_error",
                                         message: e.message }));
socket.on("disconnect", (reason) => out({ ev: "disconnect", reason }));
socket.onAny((ev, ...args) => out({ ev, args }));

createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line);
  if (cmd.emit) {
    socket.emit(...cmd.emit);
  } else if (cmd.close) {
    // out once the DISCONNECT is written and the transport closed
    const engine = socket.io.engine;
    if (engine && engine.readyState !== "closed") {
      engine.once("close", () => process.exit(0));
    } else {
      process.exit(0);
    }
    socket.close();
  }
});

process.stdin.on("end", () => process.exit(0));

// never outlive the test
setTimeout(() => process.exit(2), 120000).unref();
