// Drives the unmodified `phoenix` npm client against a running CMS server:
// a parent (token in params) and a tutor (token via `authToken`, i.e. the
// Sec-WebSocket-Protocol header) join one conversation, see each other in
// Presence, exchange messages, and the parent sees the tutor leave.
// Prints one JSON line; exits 0 on success. Run by tests/phoenix_js.rs.
import { Socket, Presence } from "phoenix";
import { WebSocket } from "ws";
import { randomUUID } from "node:crypto";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing ${k}`);
  return v;
};

const done = (result, code) => {
  console.log(JSON.stringify(result));
  process.exit(code);
};

const timer = setTimeout(() => done({ ok: false, error: "timed out after 15 s" }, 1), 15000);

// Resolves when `check()` holds, re-checked on every call of the returned poke.
function waitFor(check) {
  let resolve;
  const p = new Promise((r) => (resolve = r));
  const poke = () => { if (check()) resolve(); };
  return { promise: p, poke };
}

const push = (channel, event, payload) =>
  new Promise((resolve, reject) =>
    channel.push(event, payload)
      .receive("ok", resolve)
      .receive("error", (e) => reject(new Error(`${event}: ${JSON.stringify(e)}`)))
      .receive("timeout", () => reject(new Error(`${event}: timeout`))));

const join = (channel) =>
  new Promise((resolve, reject) =>
    channel.join()
      .receive("ok", resolve)
      .receive("error", (e) => reject(new Error(`join: ${JSON.stringify(e)}`)))
      .receive("timeout", () => reject(new Error("join: timeout"))));

async function main() {
  const url = env("CMS_URL").replace(/^http/, "ws") + "/socket";
  const [parentId, tutorId] = [env("PARENT_ID"), env("TUTOR_ID")];
  const topic = `conversation:${env("CONVERSATION_ID")}`;

  const parentSocket = new Socket(url, { params: { token: env("PARENT_TOKEN") }, transport: WebSocket });
  const tutorSocket = new Socket(url, { authToken: env("TUTOR_TOKEN"), transport: WebSocket });
  parentSocket.connect();
  tutorSocket.connect();

  const parent = parentSocket.channel(topic, {});
  const tutor = tutorSocket.channel(topic, {});
  const parentPresence = new Presence(parent);
  const tutorPresence = new Presence(tutor);
  const keys = (p) => p.list((id) => id).sort();
  const both = [parentId, tutorId].sort();
  const bothPresent = (p) => JSON.stringify(keys(p)) === JSON.stringify(both);

  const seen = waitFor(() => bothPresent(parentPresence) && bothPresent(tutorPresence));
  parentPresence.onSync(seen.poke);
  tutorPresence.onSync(seen.poke);

  let tutorGot, parentGot;
  const tutorInbox = waitFor(() => tutorGot !== undefined);
  const parentInbox = waitFor(() => parentGot !== undefined);
  tutor.on("message:new", (m) => { if (m.sender_id === parentId) { tutorGot = m; tutorInbox.poke(); } });
  parent.on("message:new", (m) => { if (m.sender_id === tutorId) { parentGot = m; parentInbox.poke(); } });

  await join(parent);
  await join(tutor);
  await seen.promise;

  const sent = await push(parent, "message:send", { client_msg_id: randomUUID(), body: "hello from phoenix.js" });
  await tutorInbox.promise;
  if (tutorGot.seq !== sent.message.seq) throw new Error("tutor saw another seq");
  const answer = await push(tutor, "message:send", { client_msg_id: randomUUID(), body: "hello back" });
  await parentInbox.promise;

  const gone = waitFor(() => !keys(parentPresence).includes(tutorId));
  parentPresence.onSync(gone.poke);
  tutor.leave();
  await gone.promise;

  const result = {
    ok: true,
    presence_both: true,
    tutor_got: tutorGot.body,
    parent_got: parentGot.body,
    seqs: [sent.message.seq, answer.message.seq],
    presence_after_leave: keys(parentPresence),
  };
  clearTimeout(timer);
  parentSocket.disconnect();
  tutorSocket.disconnect();
  done(result, 0);
}

main().catch((e) => done({ ok: false, error: String(e && e.message || e) }, 1));
