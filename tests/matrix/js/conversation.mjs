// Two officers converse through matrix-js-sdk (the SDK Element Web is built on) against a live
// Polaris server, then the endpoints Element Web calls at start are asked one by one.
//
// Input (environment): POLARIS_URL (http://127.0.0.1:port), POLARIS_PASSWORD (both officers'),
// POLARIS_LOGIN_TOKEN (a login token minted by hc.a1's browser session).
// Output: one JSON object on stdout (the pytest test, test_js_sdk.py, asserts it). Every wait is
// for a sync the SDK's own loop makes; WAIT_MS only bounds a failure.

// The SDK asks for Node 22; this machine has Node 20, which lacks only this (ES2024) helper.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new this((yes, no) => ((resolve = yes), (reject = no)));
  return { promise, resolve, reject };
};

const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");

logger.setLevel("silent");
for (const name of ["log", "info", "debug", "warn", "trace"]) console[name] = () => {};

const BASE = process.env.POLARIS_URL;
const PASSWORD = process.env.POLARIS_PASSWORD;
const LOGIN_TOKEN = process.env.POLARIS_LOGIN_TOKEN;
const ROOM_NAME = "थाना अ — समन्वय (FIR 12/2026)";
const WAIT_MS = 20000;
// A 1×1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

const out = { calls: {}, element: {}, checks: {} };

/** The path with ids replaced, so that calls group by endpoint. */
function shape(url) {
  const path = decodeURIComponent(new URL(url).pathname);
  return path
    .replace(/@[^/]+/g, "{userId}")
    .replace(/![^/]+/g, "{roomId}")
    .replace(/\$[^/]+/g, "{eventId}")
    .replace(/(\/(send|redact)\/[^/]+\/)[^/]+$/, "$1{txnId}")
    .replace(/\/(receipt\/[^/]+)\/\{eventId\}/, "/$1/{eventId}")
    .replace(/(\/filter\/)[^/]+$/, "$1{filterId}")
    .replace(/(\/(download|thumbnail)\/[^/]+\/)[^/]+.*$/, "$1{mediaId}");
}

/** fetch, with every call and its status (and errcode) recorded. */
async function traced(input, init) {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  const method = (init && init.method) || "GET";
  const response = await fetch(input, init);
  const key = `${method} ${shape(url)}`;
  let code = String(response.status);
  if (response.status >= 400) {
    try {
      code += " " + (await response.clone().json()).errcode;
    } catch {
      code += " (no JSON)";
    }
  }
  const seen = (out.calls[key] ??= []);
  if (!seen.includes(code)) seen.push(code);
  return response;
}

function check(name, value) {
  out.checks[name] = value;
}

/** Resolve when ``test()`` holds, re-checked after every sync and timeline event of ``client``. */
function until(client, test, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out waiting for ${what}`));
    }, WAIT_MS);
    const probe = () => {
      let value;
      try {
        value = test();
      } catch (error) {
        stop();
        reject(error);
        return;
      }
      if (value) {
        stop();
        resolve(value);
      }
    };
    const events = [sdk.ClientEvent.Sync, sdk.RoomEvent.Timeline, sdk.RoomMemberEvent.Typing,
      sdk.RoomEvent.Receipt, sdk.RoomEvent.AccountData, sdk.RoomEvent.MyMembership,
      sdk.RoomMemberEvent.Membership];
    const stop = () => {
      clearTimeout(timer);
      for (const event of events) client.off(event, probe);
    };
    for (const event of events) client.on(event, probe);
    probe();
  });
}

function make(credentials) {
  return sdk.createClient({
    baseUrl: BASE,
    accessToken: credentials?.access_token,
    userId: credentials?.user_id,
    deviceId: credentials?.device_id,
    fetchFn: traced,
    timelineSupport: true,
  });
}

async function login(body) {
  return make().loginRequest(body);
}

function passwordLogin(user, device) {
  return login({
    type: "m.login.password",
    identifier: { type: "m.id.user", user },
    password: PASSWORD,
    initial_device_display_name: device,
  });
}

async function start(client, limit) {
  const prepared = until(client, () => client.getSyncState() === sdk.SyncState.Syncing, "sync");
  await client.startClient({ lazyLoadMembers: true, initialSyncLimit: limit, pollTimeout: 10000 });
  await prepared;
}

async function errcode(promise) {
  try {
    await promise;
    return "none";
  } catch (error) {
    return `${error.httpStatus} ${error.errcode}`;
  }
}

function bodies(room) {
  return room
    .getLiveTimeline()
    .getEvents()
    .filter((e) => e.getType() === "m.room.message")
    .map((e) => e.getContent().body);
}

async function raw(method, path, token, body) {
  const response = await traced(BASE + path, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: "manual",
  });
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  return { status: response.status, errcode: json?.errcode, json };
}

async function main() {
  // --- discovery and sign-in -----------------------------------------------------------------
  const wellKnown = (await raw("GET", "/.well-known/matrix/client")).json;
  const discovered = await sdk.AutoDiscovery.fromDiscoveryConfig(wellKnown);
  check("discovery", discovered["m.homeserver"].state);
  check("e2ee", wellKnown["io.element.e2ee"]);
  check("login_flows", (await make().loginFlows()).flows.map((f) => f.type));

  const credA = await passwordLogin("hc.a1", "js-sdk A");
  const credB = await passwordLogin("hc.b1", "js-sdk B");
  const a = make(credA);
  const b = make(credB);
  check("whoami", [(await a.whoami()).user_id, (await b.whoami()).user_id]);
  check("wrong_password", await errcode(login({
    type: "m.login.password", identifier: { type: "m.id.user", user: "hc.a1" }, password: "nope",
  })));
  const byToken = await login({ type: "m.login.token", token: LOGIN_TOKEN });
  check("token_login", byToken.user_id);
  check("token_reused", await errcode(login({ type: "m.login.token", token: LOGIN_TOKEN })));
  check("capabilities", await a.getCapabilities());

  // --- the SDK's own sync loop ----------------------------------------------------------------
  await start(a, 20);
  await start(b, 20);

  const { room_id: roomId } = await a.createRoom({
    name: ROOM_NAME,
    preset: sdk.Preset.PrivateChat,
    invite: [credB.user_id],
  });
  await until(b, () => b.getRoom(roomId)?.getMyMembership() === "invite", "the invitation");
  check("invited_room_name", b.getRoom(roomId).name);
  await b.joinRoom(roomId);
  const roomA = await until(
    a,
    () => a.getRoom(roomId)?.getMember(credB.user_id)?.membership === "join" && a.getRoom(roomId),
    "B's join",
  );
  const roomB = b.getRoom(roomId);
  check("room_name", [roomA.name, roomB.name]);
  check("joined_rooms", (await b.getJoinedRooms()).joined_rooms.includes(roomId));
  check("members", Object.keys((await a.getJoinedRoomMembers(roomId)).joined).sort());
  check("state_name", (await a.getStateEvent(roomId, "m.room.name", "")).name);

  // --- a conversation in Hindi and English ---------------------------------------------------
  const hindi = "नमस्ते, एफआईआर की प्रति भेजें।";
  const english = "Sending the FIR copy now.";
  await a.sendTextMessage(roomId, hindi);
  await until(b, () => bodies(roomB).includes(hindi), "A's message at B");
  await b.sendTextMessage(roomId, english);
  await until(a, () => bodies(roomA).includes(english), "B's message at A");

  // --- a repeated transaction id: sent once ----------------------------------------------------
  const repeated = "दोहराया गया संदेश (repeated)";
  const content = { msgtype: "m.text", body: repeated };
  const first = await a.sendEvent(roomId, "m.room.message", content, "polaris-js-txn-1");
  const again = await a.http.authedRequest(
    sdk.Method.Put,
    `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/polaris-js-txn-1`,
    undefined,
    content,
  );
  const after = "after the repeat";
  await a.sendTextMessage(roomId, after);
  await until(b, () => bodies(roomB).includes(after), "the message after the repeat");
  check("txn_same_event", first.event_id === again.event_id);
  check("txn_count_at_b", bodies(roomB).filter((body) => body === repeated).length);
  check("own_echo_count_at_a", bodies(roomA).filter((body) => body === repeated).length);
  // The sending device (only) is told its transaction id, in /messages and in /sync.
  const echo = async (client) =>
    (await client.createMessagesRequest(roomId, null, 10, sdk.Direction.Backward)).chunk;
  const txnOf = (events) => events.find((e) => e.event_id === first.event_id)?.unsigned?.transaction_id ?? null;
  const syncOnce = (client) =>
    client.http.authedRequest(sdk.Method.Get, "/sync", {
      filter: JSON.stringify({ room: { timeline: { limit: 10 } } }),
      timeout: "0",
    });
  check("txn_echo_messages", [
    txnOf(await echo(a)),
    txnOf(await echo(b)),
  ]);
  check("txn_echo_sync", [
    txnOf((await syncOnce(a)).rooms.join[roomId].timeline.events),
    txnOf((await syncOnce(b)).rooms.join[roomId].timeline.events),
  ]);

  // --- receipts and read markers ---------------------------------------------------------------
  const lastAtB = roomB.getLiveTimeline().getEvents().at(-1);
  await b.sendReadReceipt(lastAtB);
  await until(a, () => roomA.hasUserReadEvent(credB.user_id, lastAtB.getId()), "B's receipt");
  check("receipt_seen_by_a", true);
  await b.setRoomReadMarkers(roomId, lastAtB.getId());
  const marker = await b.getRoomAccountData?.(roomId, "m.fully_read") ?? await b.http.authedRequest(
    sdk.Method.Get,
    `/user/${encodeURIComponent(credB.user_id)}/rooms/${encodeURIComponent(roomId)}/account_data/m.fully_read`,
  );
  check("read_marker_stored", marker.event_id === lastAtB.getId());

  // --- typing ----------------------------------------------------------------------------------
  await a.sendTyping(roomId, true, 30000);
  await until(b, () => roomB.getMember(credA.user_id)?.typing === true, "A typing");
  await a.sendTyping(roomId, false, 0);
  await until(b, () => roomB.getMember(credA.user_id)?.typing === false, "A stopped typing");
  check("typing", true);
  // The marker reaches the SDK with the room's next change (typing here): docs/matrix.md, gaps.
  await until(
    b,
    () => roomB.getAccountData("m.fully_read")?.getContent().event_id === lastAtB.getId(),
    "B's read marker",
  );
  check("read_marker_synced", true);

  // --- an attachment ---------------------------------------------------------------------------
  const upload = await a.uploadContent(PNG, { name: "फोटो.png", type: "image/png" });
  await a.sendMessage(roomId, {
    msgtype: "m.image",
    body: "फोटो.png",
    url: upload.content_uri,
    info: { mimetype: "image/png", size: PNG.length },
  });
  const image = await until(
    b,
    () => roomB.getLiveTimeline().getEvents().find((e) => e.getContent().msgtype === "m.image"),
    "the image at B",
  );
  const mxc = image.getContent().url;
  const download = b.mxcUrlToHttp(mxc, undefined, undefined, undefined, false, true, true);
  const thumbnail = b.mxcUrlToHttp(mxc, 96, 96, "scale", false, true, true);
  const auth = { headers: { Authorization: `Bearer ${credB.access_token}` } };
  const got = Buffer.from(await (await traced(download, auth)).arrayBuffer());
  const thumb = await traced(thumbnail, auth);
  check("media_download_equal", got.equals(PNG));
  check("media_thumbnail", [thumb.status, thumb.headers.get("content-type")]);
  const anonymous = await traced(download, {});
  check("media_without_token", anonymous.status);

  // --- a second device of B: initial sync with a short timeline, then scrollback --------------
  for (let n = 1; n <= 12; n++) await a.sendTextMessage(roomId, `संदेश ${n} / message ${n}`);
  const credB2 = await passwordLogin("hc.b1", "js-sdk B2");
  const b2 = make(credB2);
  await start(b2, 5);
  const roomB2 = b2.getRoom(roomId);
  const before = bodies(roomB2).length;
  while (roomB2.getLiveTimeline().getPaginationToken(sdk.EventTimeline.BACKWARDS)) {
    const had = roomB2.getLiveTimeline().getEvents().length;
    await b2.scrollback(roomB2, 10);
    if (roomB2.getLiveTimeline().getEvents().length === had) break;
  }
  const all = bodies(roomB2);
  check("scrollback", {
    before,
    after: all.length,
    first: all[0],
    last: all.at(-1),
    ordered: all.slice(-12).every((body, i) => body === `संदेश ${i + 1} / message ${i + 1}`),
    create_reached: roomB2.getLiveTimeline().getEvents()[0].getType() === "m.room.create",
  });
  const messages = await b2.createMessagesRequest(roomId, null, 5, sdk.Direction.Backward);
  check("messages_page", messages.chunk.length);
  const context = await b2.http.authedRequest(
    sdk.Method.Get,
    `/rooms/${encodeURIComponent(roomId)}/context/${encodeURIComponent(lastAtB.getId())}`,
    { limit: "4" },
  );
  check("context", context.event.event_id === lastAtB.getId());
  await b2.logout(true);

  // --- profiles and the directory -------------------------------------------------------------
  check("profile", (await a.getProfileInfo(credB.user_id)).displayname);
  check("set_displayname", await errcode(a.setDisplayName("Someone else")));
  const found = await a.searchUserDirectory({ term: "hc.b" });
  check("directory", found.results.map((r) => r.user_id));

  // --- what Element Web asks at start (with A's token) ----------------------------------------
  const me = encodeURIComponent(credA.user_id);
  const tok = credA.access_token;
  const probes = [
    ["GET", "/_matrix/client/versions"],
    ["GET", "/.well-known/matrix/client"],
    ["GET", "/_matrix/client/v3/login"],
    ["GET", "/_matrix/client/v1/auth_metadata"],
    ["GET", "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"],
    ["GET", "/_matrix/client/v3/capabilities"],
    ["GET", "/_matrix/client/v3/pushrules/"],
    ["GET", "/_matrix/client/v3/pushers"],
    ["GET", "/_matrix/client/v3/thirdparty/protocols"],
    ["GET", "/_matrix/client/v3/voip/turnServer"],
    ["GET", "/_matrix/client/v3/account/3pid"],
    ["POST", "/_matrix/client/v3/keys/upload", {}],
    ["POST", "/_matrix/client/v3/keys/query", { device_keys: { [credB.user_id]: [] } }],
    ["GET", "/_matrix/client/v3/room_keys/version"],
    ["GET", "/_matrix/client/v3/devices"],
    ["GET", `/_matrix/client/v3/presence/${me}/status`],
    ["PUT", `/_matrix/client/v3/presence/${me}/status`, { presence: "online" }],
    ["GET", `/_matrix/client/v3/presence/${encodeURIComponent(credB.user_id)}/status`],
    ["GET", "/_matrix/client/v3/presence/%40nobody%3Apolaris.test/status"],
    ["PUT", `/_matrix/client/v3/presence/${encodeURIComponent(credB.user_id)}/status`, { presence: "online" }],
    ["GET", "/_matrix/client/v3/notifications?limit=20"],
    ["POST", "/_matrix/client/v3/publicRooms", { limit: 20 }],
    ["GET", "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports"],
    ["POST", "/_matrix/client/v3/keys/device_signing/upload", {}],
    ["POST", `/_matrix/client/v3/user/${me}/filter`, { room: { timeline: { limit: 20 } } }],
    ["GET", `/_matrix/client/v3/user/${me}/account_data/im.vector.setting.breadcrumbs`],
    ["GET", `/_matrix/client/v3/user/${me}/account_data/m.secret_storage.default_key`],
    ["GET", "/_matrix/client/v1/media/config"],
    ["GET", "/_matrix/client/v3/publicRooms"],
    ["GET", "/_matrix/client/v3/account/whoami"],
    ["GET", "/_matrix/media/v3/preview_url?url=https%3A%2F%2Fexample.org"],
  ];
  for (const [method, path, body] of probes) {
    const answer = await raw(method, path, tok, body);
    out.element[`${method} ${path.replace(me, "{me}").replace(encodeURIComponent(credB.user_id), "{other}")}`] = answer.errcode
      ? `${answer.status} ${answer.errcode}`
      : answer.status;
  }
  const sso = await raw(
    "GET",
    "/_matrix/client/v3/login/sso/redirect?redirectUrl=" + encodeURIComponent("https://element.example/#/"),
  );
  out.element["GET /_matrix/client/v3/login/sso/redirect"] = sso.status;

  // --- leave, log out --------------------------------------------------------------------------
  await b.leave(roomId);
  await until(a, () => roomA.getMember(credB.user_id)?.membership === "leave", "B's leave");
  check("leave_seen_by_a", true);
  a.stopClient();
  b.stopClient();
  await a.logout();
  await b.logout();
  check("after_logout", await errcode(a.whoami()));
}

try {
  await main();
  out.ok = true;
} catch (error) {
  out.ok = false;
  out.error = `${error.stack || error} ${error.httpStatus ?? ""} ${error.errcode ?? ""}`;
}
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
