// The Noom event set on Node.js + Socket.IO 4.8 (WebSocket only, or the
// transports SIO_TRANSPORTS lists, e.g. "polling,websocket"):
// the peer noom is measured against.  One process; the same names,
// argument orders, acks and errors as docs/protocol.md (the parts the
// benchmarks use, and the rest of the event set for completeness).
//
//   node bench/peers/sio-server.mjs [port] [host]
//
// With SIO_TLS_CERT and SIO_TLS_KEY (PEM files) it serves https and wss.
//
// With SIO_REDIS (e.g. redis://127.0.0.1:6379) it is one server of a
// cluster: @socket.io/redis-adapter (createAdapter, node-redis clients)
// carries the room events to the other servers, as the adapter's docs set
// it up.  The room list and counts stay this server's own (enough for the
// benchmarks, which measure the events between servers).

import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import { Server } from "socket.io";

const port = Number(process.argv[2] || 3000);
const host = process.argv[3] || "127.0.0.1";

const MAX_NICK = 64;
const MAX_ROOM = 64;
const MAX_MESSAGE = 4096;
const MAX_MEMBERS = 1000;
const MAX_ROOMS = 20000;
const SIGNALS = ["offer", "answer", "ice", "media_state"];

function notFound(req, res) {
  res.writeHead(404);
  res.end();
}

const httpServer = process.env.SIO_TLS_CERT
  ? https.createServer({
      cert: fs.readFileSync(process.env.SIO_TLS_CERT),
      key: fs.readFileSync(process.env.SIO_TLS_KEY),
    }, notFound)
  : http.createServer(notFound);

const opts = {
  path: "/ws",
  transports: (process.env.SIO_TRANSPORTS || "websocket").split(","),
  serveClient: false,
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  cors: { origin: true },
};

const io = new Server(httpServer, opts);

if (process.env.SIO_REDIS) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  // node-redis gives up on a command not sent within 5 s by default, and
  // the adapter does not catch it: under the benchmark's closed loop both
  // servers died of that unhandled rejection.  No timeout here.
  const pubClient = createClient({
    url: process.env.SIO_REDIS,
    commandOptions: { timeout: undefined },
  });
  const subClient = pubClient.duplicate();
  pubClient.on("error", (err) => console.error(`redis: ${err.message}`));
  subClient.on("error", (err) => console.error(`redis: ${err.message}`));
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}

// rooms in creation order: name -> Set of socket ids
const rooms = new Map();

function validName(s, max) {
  return typeof s === "string" && s.length > 0
    && Buffer.byteLength(s) <= max && s.trim().length > 0
    && !/[\u0000-\u001f\u007f]/.test(s);
}

function publicRooms() {
  const names = [];
  const counts = {};
  for (const [name, set] of rooms) {
    names.push(name);
    counts[name] = set.size;
  }
  return [names, counts];
}

// several changes in one turn of the event loop give one room_change
let roomChangePending = false;

function roomsChanged() {
  if (roomChangePending) {
    return;
  }
  roomChangePending = true;
  setImmediate(() => {
    roomChangePending = false;
    io.emit("room_change", ...publicRooms());
  });
}

io.on("connection", (socket) => {
  socket.data.nickname = "Anon";
  socket.data.room = null;

  const refuse = (ack, event, error, message) => {
    const e = { error, message, event };
    if (ack) {
      ack(e);
    } else {
      socket.emit("error", e);
    }
  };

  const on = (name, fn) => {
    socket.on(name, (...args) => {
      const ack = typeof args[args.length - 1] === "function"
        ? args.pop() : null;
      fn(args, ack, name);
    });
  };

  const leave = () => {
    const room = socket.data.room;
    const set = rooms.get(room);
    socket.data.room = null;
    socket.leave(room);
    if (set) {
      set.delete(socket.id);
      if (set.size === 0) {
        rooms.delete(room);
      } else {
        socket.to(room).emit("bye", socket.data.nickname, set.size,
          socket.id);
      }
    }
    roomsChanged();
  };

  const members = (set) => {
    const list = [];
    for (const id of set) {
      if (id !== socket.id) {
        const s = io.sockets.sockets.get(id);
        list.push({ id, nickname: s ? s.data.nickname : "Anon" });
      }
    }
    return list;
  };

  on("nickname", ([nick], ack, ev) => {
    if (!validName(nick, MAX_NICK)) {
      return refuse(ack, ev, "invalid_nickname",
        "a nickname is 1 to 64 bytes without control characters");
    }
    socket.data.nickname = nick;
    if (ack) {
      ack();
    }
  });

  const join = ([room], ack, ev) => {
    if (!validName(room, MAX_ROOM)) {
      return refuse(ack, ev, "invalid_room_name",
        "a room name is 1 to 64 bytes without control characters");
    }

    if (socket.data.room === room) {
      const set = rooms.get(room);
      if (ack) {
        ack(set.size, members(set));
      }
      return;
    }

    let set = rooms.get(room);

    if (set && set.size >= MAX_MEMBERS) {
      return refuse(ack, ev, "room_full", "the room is full");
    }

    if (!set && rooms.size >= MAX_ROOMS) {
      return refuse(ack, ev, "too_many_rooms", "too many rooms");
    }

    if (socket.data.room) {
      leave();
    }

    if (!set) {
      set = new Set();
      rooms.set(room, set);
    }

    const others = members(set);
    set.add(socket.id);
    socket.join(room);
    socket.data.room = room;

    if (ack) {
      ack(set.size, others);
    }

    socket.to(room).emit("welcome", socket.data.nickname, set.size,
      socket.id);
    roomsChanged();
  };

  on("enter_room", join);
  on("join_room", join);

  on("leave_room", ([room], ack, ev) => {
    if (!socket.data.room || (room != null && room !== socket.data.room)) {
      return refuse(ack, ev, "not_in_room", "the socket is not in that room");
    }
    leave();
    if (ack) {
      ack();
    }
  });

  on("new_message", ([text, room], ack, ev) => {
    if (typeof text !== "string") {
      return refuse(ack, ev, "bad_request", "new_message(text, room)");
    }
    if (Buffer.byteLength(text) > MAX_MESSAGE) {
      return refuse(ack, ev, "message_too_long", "at most 4096 bytes");
    }
    if (!socket.data.room || room !== socket.data.room) {
      return refuse(ack, ev, "not_in_room",
        "messages go only into the sender's room");
    }
    const nick = socket.data.nickname;
    socket.to(room).emit("new_message", `${nick}: ${text}`,
      { id: socket.id, nickname: nick, text, ts: Date.now() });
    if (ack) {
      ack();
    }
  });

  for (const name of SIGNALS) {
    on(name, ([payload, room, toId], ack, ev) => {
      if (payload === undefined
          || (toId != null && typeof toId !== "string")) {
        return refuse(ack, ev, "bad_request", "event(payload, room[, toId])");
      }
      if (!socket.data.room || room !== socket.data.room) {
        return refuse(ack, ev, "not_in_room",
          "signaling goes only into the sender's room");
      }
      if (typeof toId === "string") {
        const set = rooms.get(room);
        if (!set || !set.has(toId) || toId === socket.id) {
          return refuse(ack, ev, "no_such_member",
            "toId is not a member of the room");
        }
        socket.to(toId).emit(ev, payload, socket.id);
      } else {
        socket.to(room).emit(ev, payload, socket.id);
      }
      if (ack) {
        ack();
      }
    });
  }

  on("list_rooms", (args, ack) => {
    if (ack) {
      ack(...publicRooms());
    } else {
      socket.emit("room_change", ...publicRooms());
    }
  });

  on("ice_servers", (args, ack) => {
    if (ack) {
      ack([]);
    }
  });

  socket.on("disconnecting", () => {
    if (socket.data.room) {
      leave();
    }
  });

  socket.emit("ice_servers", []);
});

httpServer.listen(port, host, () => {
  console.log(`sio-server: pid ${process.pid} on ${host}:${port}`);
});

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
