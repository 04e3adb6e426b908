// A Node.js back end emitting into noom's rooms the way Socket.IO apps
// do: @socket.io/redis-emitter on a node-redis client.
//   node t/js/redis_emit.mjs <redis port> <room> <other room>
// emits "announce" to the room, "to_both" to both rooms, "to_all" to
// every socket, and "not_other" to every socket outside the other room.

import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";

const [port, room, other] = process.argv.slice(2);

const client = createClient({ url: `redis://127.0.0.1:${port}` });
client.on("error", (err) => console.error(`redis: ${err.message}`));
await client.connect();

const emitter = new Emitter(client);

emitter.to(room).emit("announce", "hello", { n: 1, list: [true, null, 2.5] });
emitter.to([room, other]).emit("to_both", "é✓");
emitter.emit("to_all", -7);
emitter.except(other).emit("not_other", "x");

// the publishes go out before the client quits
await client.quit();
console.log("emitted");
