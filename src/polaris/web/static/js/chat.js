// The chat page, live: new messages of the open room are added as they come, unread counts of the
// other rooms and in the header go up, the room is marked read, typing is shown, and a file can be
// uploaded into the drive and sent. Events come over the WebSocket (/api/v1/chat/ws); when it
// cannot open or drops, a plain fetch long-poll (/api/v1/chat/sync) carries them instead. Both
// resume from the change-stream position the page was rendered at, so nothing is missed or shown
// twice, and both carry who is typing in the open room when that changes (no polling). Everything else works without this script (forms post to the server).

const DATA = JSON.parse(document.getElementById("chat-data")?.textContent || "{}");
const TEXTS = DATA.texts || {};
const names = { ...(DATA.names || {}) };
let position = DATA.position;
const shown = new Set([...document.querySelectorAll("[data-event]")].map((el) => el.dataset.event));

function csrfToken() {
  const entry = document.cookie.split("; ").find((c) => c.startsWith("polaris_csrf="));
  return entry ? entry.slice("polaris_csrf=".length) : "";
}

function api(url, method, body) {
  return fetch(url, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

// Times as the server shows them (polaris.web.times): the instance's zone, its name after.
const TIME = DATA.time || { zone: "Asia/Kolkata", label: "IST", locale: "en-IN" };
const TIME_FORMAT = new Intl.DateTimeFormat(TIME.locale, {
  timeZone: TIME.zone, day: "numeric", month: "short", year: "numeric",
  hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

function istTime(iso) {
  return `${TIME_FORMAT.format(new Date(iso))} ${TIME.label}`;
}

function bump(counter, by) {
  if (!counter) return;
  const value = Math.max(0, Number(counter.dataset.unread || 0) + by);
  counter.dataset.unread = String(value);
  counter.lastChild.textContent = ` ${value.toLocaleString(document.documentElement.lang === "hi" ? "hi-IN" : "en-IN")}`;
  counter.hidden = value === 0;
}

// The actions the server renders beside a message (templates/chat.html), for one that arrived
// live: reply and edit are links to the page's own forms, delete is the same POST form. A
// moderator may delete any message, a sender their own within the window (the server decides
// again when the form is sent).
function actionsFor(event, sender) {
  if (!DATA.may_send && !DATA.moderator) return null;
  const own = event.sender_id === DATA.me;
  const room = `/chat/${DATA.room}`;
  const key = encodeURIComponent(event.event_id);
  const box = document.createElement("div");
  box.className = "msg-actions";
  if (DATA.may_send) {
    const reply = document.createElement("a");
    reply.href = `${room}?reply=${key}#send`;
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = ` ${(TEXTS.reply_to || "").replace("%(name)s", sender)}`;
    reply.append(TEXTS.reply || "", hidden);
    box.append(reply);
  }
  if (own && event.kind !== "attachment") {
    const edit = document.createElement("a");
    edit.href = `${room}?edit=${key}#m-${key}`;
    edit.textContent = TEXTS.edit || "";
    box.append(edit);
  }
  if (own || DATA.moderator) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = `${room}/delete/${key}`;
    const csrf = document.createElement("input");
    csrf.type = "hidden";
    csrf.name = "csrf";
    csrf.value = DATA.csrf || csrfToken();
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "link danger";
    button.textContent = TEXTS.delete || "";
    form.append(csrf, button);
    box.append(form);
  }
  return box.childElementCount ? box : null;
}

function replyLine(event) {
  const line = document.createElement("p");
  line.className = "reply-to";
  const link = document.createElement("a");
  link.href = `#m-${event.reply_to}`;
  link.textContent = TEXTS.in_reply_to || "";
  const target = document.querySelector(`[data-event="${CSS.escape(event.reply_to)}"]`);
  const who = target?.querySelector(".meta strong")?.textContent || "";
  const text = target?.querySelector(".body")?.textContent || "";
  line.append(link, " ", who && text ? `${who}: ${text.slice(0, 120)}` : TEXTS.earlier || "");
  return line;
}

function addMessage(event) {
  if (shown.has(event.event_id)) return;
  shown.add(event.event_id);
  const item = document.createElement("li");
  item.className = "msg";
  item.id = `m-${event.event_id}`;
  item.dataset.event = event.event_id;
  const meta = document.createElement("p");
  meta.className = "meta";
  const who = document.createElement("strong");
  who.textContent = names[event.sender_id] || "";
  const when = document.createElement("time");
  when.dateTime = event.created_at;
  when.textContent = istTime(event.created_at);
  meta.append(who, " ", when);
  item.dataset.seq = String(event.seq);
  item.append(meta);
  if (event.reply_to) item.append(replyLine(event));
  if (event.body) {
    const body = document.createElement("p");
    body.className = "body";
    body.textContent = event.body;
    item.append(body);
  }
  if (event.attachment) {
    const file = document.createElement("p");
    file.className = "file";
    const link = document.createElement("a");
    link.href = `/api/v1/chat/events/${encodeURIComponent(event.event_id)}/attachment`;
    link.textContent = event.attachment.name;
    file.append(link);
    item.append(file);
  }
  const actions = actionsFor(event, who.textContent);
  if (actions) item.append(actions);
  document.getElementById("timeline")?.append(item);
}

function replaceText(event) {
  const target = document.querySelector(`[data-event="${CSS.escape(event.edits || event.redacts || "")}"]`);
  if (!target) return;
  if (event.redacts) {
    target.replaceChildren();
    const note = document.createElement("p");
    note.className = "notice";
    note.textContent = TEXTS.deleted || "";
    target.append(note);
    return;
  }
  const body = target.querySelector(".body");
  if (body) body.textContent = event.body || "";
  const meta = target.querySelector(".meta");
  if (meta && !meta.querySelector(".label")) {
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = TEXTS.edited || "";
    meta.append(" ", label);
  }
}

// A broadcast's acknowledgement table (its moderators see it), redrawn when someone acknowledges:
// unit names in the page's language (the Hindi name where the unit has one, as the server draws
// them with ``unit_name``), counts in the page's digits, then the names.
const HINDI = document.documentElement.lang === "hi";
const count = (n) => n.toLocaleString(HINDI ? "hi-IN" : "en-IN");

function ackCell(people) {
  const cell = document.createElement("td");
  const names = people.map((person) => person.name).join(", ");
  cell.textContent = people.length ? `${count(people.length)}: ${names}` : count(0);
  return cell;
}

async function redrawAcks(messageKey) {
  const body = document.querySelector(`[data-event="${CSS.escape(messageKey)}"] table.acks tbody`);
  if (!body) return;
  const response = await fetch(`/api/v1/chat/events/${encodeURIComponent(messageKey)}/acknowledgements`);
  if (!response.ok) return;
  const rows = (await response.json()).map((unit) => {
    const row = document.createElement("tr");
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = (HINDI && unit.unit_name_hi) || unit.unit_name;
    row.append(head, ackCell(unit.acknowledged), ackCell(unit.pending));
    return row;
  });
  body.replaceChildren(...rows);
}

let readTimer = null;
function markRead(eventKey) {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    api(`/api/v1/chat/events/${encodeURIComponent(eventKey)}/read`, "POST");
  }, 300);
}

// Who else is typing in the open room, as the live channel last said. A notice lasts a few
// seconds and its end is not announced: the line clears itself unless a newer notice comes
// (a typist sends one every 3 s).
let typingSerial = null;
let typingClear = null;
const TYPING_SHOWN_MS = 7000;
function showTyping(notice) {
  const line = document.getElementById("typing");
  typingSerial = notice.serial;
  if (!line || notice.room_id !== DATA.room) return;
  const who = notice.user_ids.map((id) => names[id]).filter(Boolean);
  line.textContent = who.length ? `${TEXTS.typing || ""} ${who.join(", ")}` : "";
  clearTimeout(typingClear);
  if (who.length) typingClear = setTimeout(() => { line.textContent = ""; }, TYPING_SHOWN_MS);
}

function apply(page) {
  Object.assign(names, page.users || {});
  if (page.typing) showTyping(page.typing);
  for (const change of page.events) {
    const event = change.event;
    const mine = event && event.sender_id === DATA.me;
    const message = change.kind === "chat.message.sent";
    if (change.room_id === DATA.room && event) {
      if (message) addMessage(event);
      if (change.kind === "chat.message.edited" || change.kind === "chat.message.redacted") replaceText(event);
      if (message && !mine && document.visibilityState === "visible") markRead(event.event_id);
    } else if (change.room_id === DATA.room && change.kind === "chat.broadcast.acknowledged" && change.message) {
      redrawAcks(change.message);
    } else if (message && !mine) {
      bump(document.querySelector(`[data-room="${change.room_id}"] .unread`), 1);
      bump(document.getElementById("chat-unread"), 1);
    }
  }
  position = page.next;
}

async function longPoll() {
  for (;;) {
    try {
      const query = new URLSearchParams({ since: position, timeout: 25000 });
      if (DATA.room !== null) query.set("typing_room", DATA.room);
      if (typingSerial !== null) query.set("typing_serial", typingSerial);
      const response = await fetch(`/api/v1/chat/sync?${query}`);
      if (response.status === 410) { window.location.reload(); return; }
      if (!response.ok) throw new Error(String(response.status));
      apply(await response.json());
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}

function follow() {
  if (!("WebSocket" in window)) { longPoll(); return; }
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const room = DATA.room !== null ? `&typing=${DATA.room}` : "";
  const socket = new WebSocket(`${scheme}://${window.location.host}/api/v1/chat/ws?since=${position}${room}`);
  let opened = false;
  socket.addEventListener("open", () => { opened = true; });
  socket.addEventListener("message", (message) => apply(JSON.parse(message.data)));
  socket.addEventListener("close", () => {
    if (opened) setTimeout(follow, 1000); // dropped: open again from the last position
    else longPoll(); // never opened (a proxy without WebSockets): long-poll instead
  });
}

// Say this person is typing (at most every 3 s, for 6 s); the others' pages hear it through
// their live channel.
function typing() {
  const box = document.getElementById("body");
  if (!box || DATA.room === null) return;
  let last = 0;
  box.addEventListener("input", () => {
    const now = Date.now();
    if (now - last < 3000) return;
    last = now;
    api(`/api/v1/chat/rooms/${DATA.room}/typing`, "PUT", { typing: true, timeout_ms: 6000 });
  });
}

function uploads() {
  const input = document.getElementById("upload");
  const state = document.getElementById("upload-state");
  if (!input || !state) return;
  input.addEventListener("change", async () => {
    const file = input.files?.[0];
    if (!file) return;
    state.textContent = TEXTS.uploading || "";
    const folder = input.dataset.folder;
    const made = await fetch(`/api/v1/files?parent_id=${folder}&name=${encodeURIComponent(file.name)}`, {
      method: "POST", headers: { "X-CSRF-Token": csrfToken() }, body: file,
    });
    if (!made.ok) { state.textContent = TEXTS.failed || ""; return; }
    const node = await made.json();
    const sent = await api(`/api/v1/chat/rooms/${DATA.room}/attachments`, "POST", { node_id: node.id });
    state.textContent = sent.ok ? TEXTS.sent || "" : TEXTS.failed || "";
    if (sent.ok) input.value = "";
  });
}

if (DATA.room !== null) {
  const last = [...document.querySelectorAll("#timeline [data-event]")].pop();
  if (last) markRead(last.dataset.event);
}
typing();
uploads();
follow();
