// Uploads from the folder page: file and folder buttons and a drop zone (files and whole folders),
// each file sent with the tus 1.0 protocol in 4 MiB pieces, resuming from the server's offset
// after a dropped connection. No library: the protocol is four requests.
// Folders are made first (as `mkdir -p`: a folder already there is reused).
// A name already in the folder is never silently overwritten: a dialog asks to replace it (a new
// version), keep both (the server numbers the new one: `conflict=rename`) or skip it.
// Progress: a bar per file and one for all of them, moved by the browser's upload progress
// events (every few KiB), not only after each piece; leaving the page while uploads run warns.

const PIECE = 4 * 1024 * 1024;
const PARALLEL_FILES = 3;
const MAX_RETRIES = 6;

function csrfToken() {
  const entry = document.cookie.split("; ").find((c) => c.startsWith("polaris_csrf="));
  return entry ? entry.slice("polaris_csrf=".length) : "";
}

function base64(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function headers(extra) {
  return { "Tus-Resumable": "1.0.0", "X-CSRF-Token": csrfToken(), ...extra };
}

// Translated messages by error code, from the page (a JSON block: data, never run).
const MESSAGES = JSON.parse(document.getElementById("upload-messages")?.textContent || "{}");

async function problemOf(response) {
  let code = "";
  try {
    code = (await response.json()).code || "";
  } catch {
    // Not a problem document (a proxy's page): fall back to the generic message.
  }
  return MESSAGES[code] || MESSAGES.generic || String(response.status);
}

async function makeFolder(parent, name) {
  const response = await fetch(`/api/v1/nodes/${parent}/folders`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify({ name, exist_ok: true }),
  });
  if (!response.ok) throw Object.assign(new Error(await problemOf(response)), { final: true });
  return (await response.json()).id;
}

// Make (or reuse) the folders of a relative path below `rootId`; returns the innermost id.
// Files of one folder share one request for it (the promise is kept, not just its result).
const folderIds = new Map();
async function folderFor(rootId, directories) {
  let parent = rootId;
  let key = String(rootId);
  for (const name of directories) {
    key += "/" + name;
    if (!folderIds.has(key)) {
      const made = makeFolder(parent, name);
      made.catch(() => folderIds.delete(key)); // a later file may try again
      folderIds.set(key, made);
    }
    parent = await folderIds.get(key);
  }
  return parent;
}

// Every file under a dropped folder entry, with its path ("a/b/c.pdf").
async function filesOfEntry(entry, path) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [{ file, path: path + file.name }];
  }
  const reader = entry.createReader();
  const found = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break; // readEntries gives at most 100 at a time
    for (const child of batch) found.push(...(await filesOfEntry(child, `${path}${entry.name}/`)));
  }
  return found;
}

async function droppedFiles(transfer) {
  const entries = Array.from(transfer.items || [])
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null))
    .filter(Boolean);
  if (entries.length === 0) {
    return Array.from(transfer.files).map((file) => ({ file, path: file.name }));
  }
  const lists = await Promise.all(entries.map((entry) => filesOfEntry(entry, "")));
  return lists.flat();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function serverOffset(url) {
  const response = await fetch(url, { method: "HEAD", headers: headers({}) });
  if (!response.ok) throw new Error(String(response.status));
  return Number(response.headers.get("Upload-Offset"));
}

// Ask what to do with a name already in the folder: "replace", "rename" or "skip". One dialog at
// a time (uploads run side by side); "the same for the others" answers the rest of this upload.
let asking = Promise.resolve();
function askConflict(name, batch) {
  const answer = asking.then(() => (batch.choice ? batch.choice : conflictDialog(name, batch)));
  asking = answer.catch(() => undefined);
  return answer;
}

function conflictDialog(name, batch) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "conflict-dialog";
    dialog.setAttribute("aria-labelledby", "conflict-title");
    const title = document.createElement("h2");
    title.id = "conflict-title";
    title.textContent = MESSAGES.conflict_title;
    const file = document.createElement("p");
    file.className = "conflict-name";
    file.textContent = name; // text, never HTML
    const question = document.createElement("p");
    question.textContent = MESSAGES.conflict_question;
    const all = document.createElement("label");
    const allBox = document.createElement("input");
    allBox.type = "checkbox";
    all.append(allBox, " ", MESSAGES.conflict_all);
    const buttons = document.createElement("div");
    buttons.className = "conflict-buttons";
    for (const [choice, key, kind] of [
      ["replace", "conflict_replace", ""],
      ["rename", "conflict_keep", ""],
      ["skip", "conflict_skip", "secondary"],
    ]) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.choice = choice;
      button.textContent = MESSAGES[key];
      if (kind) button.className = kind;
      button.addEventListener("click", () => {
        if (allBox.checked) batch.choice = choice;
        dialog.close();
        dialog.remove();
        resolve(choice);
      });
      buttons.append(button);
    }
    // Escape skips the file: nothing is overwritten without a choice.
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      dialog.close();
      dialog.remove();
      resolve("skip");
    });
    dialog.append(title, file, question, all, buttons);
    document.body.append(dialog);
    dialog.showModal();
  });
}

async function codeOf(response) {
  try {
    return (await response.clone().json()).code || "";
  } catch {
    return "";
  }
}

// Start a tus upload; asks on a name in use. Returns the response, or null when skipped.
async function createUpload(file, folderId, batch) {
  const create = (conflict) =>
    fetch("/api/v1/uploads", {
      method: "POST",
      headers: headers({
        "Upload-Length": String(file.size),
        "Upload-Metadata":
          `filename ${base64(file.name)},parent_id ${base64(String(folderId))}` +
          (conflict ? `,conflict ${base64(conflict)}` : ""),
      }),
    });
  let created = await create(null);
  if (created.status === 409 && (await codeOf(created)) === "name_taken") {
    const choice = await askConflict(file.name, batch);
    if (choice === "skip") return null;
    created = await create(choice);
  }
  if (created.status !== 201) throw new Error(await problemOf(created));
  return created;
}

// One PATCH with the browser's upload progress (fetch has none): resolves with the status and
// the server's new offset.
function patchPiece(url, offset, piece, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PATCH", url);
    const sent = headers({
      "Upload-Offset": String(offset),
      "Content-Type": "application/offset+octet-stream",
    });
    for (const [name, value] of Object.entries(sent)) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => onProgress(event.loaded));
    request.addEventListener("load", () =>
      resolve({
        status: request.status,
        offset: Number(request.getResponseHeader("Upload-Offset")),
        response: new Response(request.responseText || null, {
          status: request.status === 204 ? 200 : request.status,
          headers: { "Content-Type": request.getResponseHeader("Content-Type") || "" },
        }),
      }),
    );
    request.addEventListener("error", () => reject(new Error("network")));
    request.send(piece);
  });
}

// Send one file; `show(bytesDone, state)`. Returns false when the person chose to skip it.
async function send(file, path, rootId, show, batch) {
  const directories = path.split("/").slice(0, -1);
  const folderId = directories.length ? await folderFor(rootId, directories) : rootId;
  const created = await createUpload(file, folderId, batch);
  if (created === null) return false;
  if (created.headers.get("Polaris-Node-Id")) return true; // an empty file is done at once
  const url = created.headers.get("Location");
  let offset = 0;
  let failures = 0;
  while (offset < file.size) {
    try {
      const piece = file.slice(offset, offset + PIECE);
      const base = offset;
      const answer = await patchPiece(url, offset, piece, (loaded) => show(base + loaded, null));
      if (answer.status === 204) {
        offset = answer.offset;
        failures = 0;
        show(offset, null);
      } else if (answer.status === 409) {
        offset = await serverOffset(url);
      } else if (answer.status >= 500 || answer.status === 0) {
        throw new Error(await problemOf(answer.response));
      } else {
        throw Object.assign(new Error(await problemOf(answer.response)), { final: true });
      }
    } catch (error) {
      failures += 1;
      if (error.final || failures > MAX_RETRIES) throw error;
      show(offset, "retrying");
      await sleep(500 * 2 ** failures);
      offset = await serverOffset(url).catch(() => offset);
    }
  }
  return true;
}

function start(box) {
  const folderId = box.dataset.folder;
  const list = box.querySelector("#progress");
  const input = box.querySelector("#files");
  const folderInput = box.querySelector("#folder-files");
  const drop = box.querySelector("#drop");

  // The overall bar: bytes sent of every file of every running upload.
  let totalBytes = 0;
  let doneBytes = 0;
  let running = 0;
  const overall = document.createElement("progress");
  overall.id = "upload-total";
  overall.max = 1;
  overall.value = 0;
  overall.setAttribute("aria-label", MESSAGES.overall || "");
  overall.hidden = true;
  list.before(overall);
  const showOverall = () => {
    overall.value = totalBytes ? doneBytes / totalBytes : 1;
  };
  // Leaving the page stops the uploads: the browser asks first while any runs.
  window.addEventListener("beforeunload", (event) => {
    if (running > 0) {
      event.preventDefault();
      event.returnValue = MESSAGES.leave_warning || "";
    }
  });

  // `entries` are {file, path}; folders in a path are made before their files are sent.
  async function uploadAll(entries) {
    const batch = { choice: null };
    running += 1;
    overall.hidden = false;
    totalBytes += entries.reduce((sum, { file }) => sum + file.size, 0);
    showOverall();
    const uploadOne = async ({ file, path }) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = path; // text, never HTML
      const bar = document.createElement("progress");
      bar.max = 1;
      bar.value = 0;
      bar.setAttribute("aria-label", path);
      const status = document.createElement("span");
      item.append(name, bar, status);
      list.append(item);
      let counted = 0; // this file's bytes already in `doneBytes`
      const count = (bytes) => {
        doneBytes += bytes - counted;
        counted = bytes;
        showOverall();
      };
      try {
        const sent = await send(
          file,
          path,
          folderId,
          (bytes, state) => {
            bar.value = file.size ? bytes / file.size : 1;
            count(bytes);
            status.textContent = state === "retrying" ? box.dataset.failed : "";
          },
          batch,
        );
        count(file.size); // a skipped file counts as done for the overall bar
        bar.value = 1;
        status.textContent = sent ? box.dataset.done : MESSAGES.skipped;
        return true;
      } catch (error) {
        count(file.size);
        status.textContent = `${box.dataset.gaveUp}: ${error.message}`;
        return false;
      }
    };
    // A few files at a time: a folder of thousands must not open thousands of uploads at once.
    const queue = entries.slice();
    const results = [];
    const lanes = Array.from({ length: PARALLEL_FILES }, async () => {
      while (queue.length) results.push(await uploadOne(queue.shift()));
    });
    try {
      await Promise.all(lanes);
    } finally {
      running -= 1;
    }
    if (running === 0 && results.every(Boolean)) window.location.reload();
  }

  const picked = (files) =>
    Array.from(files).map((file) => ({ file, path: file.webkitRelativePath || file.name }));
  input.addEventListener("change", () => uploadAll(picked(input.files)));
  folderInput?.addEventListener("change", () => uploadAll(picked(folderInput.files)));
  // One listener on the whole upload area: a drop on the zone inside bubbles up to it once.
  box.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  box.addEventListener("dragleave", () => drop.classList.remove("over"));
  box.addEventListener("drop", async (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    uploadAll(await droppedFiles(event.dataTransfer));
  });
}

const box = document.getElementById("upload");
if (box) start(box);
