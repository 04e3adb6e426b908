// Emits through @socket.io/redis-emitter, in order, what the JSON list in
// the second argument says: [{ to: [...], except: [...], event, args }].
//   node t/js/redis_emit_each.mjs <redis port> '<json>'
// "to" and "except" take room names and socket ids alike, as in Socket.IO.

import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";

const [port, list] = process.argv.slice(2);

const client = createClient({ url: `redis://127.0.0.1:${port}` });
client.on("error", (err) => console.error(`redis: ${err.message}`));
await client.connect();

const emitter = new Emitter(client);

for (const e of JSON.parse(list)) {
  let op = emitter;
  if (e.to && e.to.length) {
    op = op.to(e.to);
  }
  if (e.except && e.except.length) {
    op = op.except(e.except);
  }
  op.emit(e.event, ...(e.args || []));
}

await client.quit();
console.log("emitted");
