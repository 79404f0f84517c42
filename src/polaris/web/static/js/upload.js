// Uploads from the folder page: file and folder buttons and a drop zone (files and whole folders),
// each file sent with the tus 1.0 protocol in 4 MiB pieces, with a progress bar, resuming from the
// server's offset after a dropped connection. No library: the protocol is four requests.
// Folders are made first (as `mkdir -p`: a folder already there is reused).

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

async function send(file, path, rootId, show) {
  const directories = path.split("/").slice(0, -1);
  const folderId = directories.length ? await folderFor(rootId, directories) : rootId;
  const created = await fetch("/api/v1/uploads", {
    method: "POST",
    headers: headers({
      "Upload-Length": String(file.size),
      // A file of the same name becomes its next version: versions are kept, nothing is lost.
      "Upload-Metadata":
        `filename ${base64(file.name)},parent_id ${base64(String(folderId))},` +
        `overwrite ${base64("true")}`,
    }),
  });
  if (created.status !== 201) throw new Error(await problemOf(created));
  if (created.headers.get("Polaris-Node-Id")) return; // an empty file is done at once
  const url = created.headers.get("Location");
  let offset = 0;
  let failures = 0;
  while (offset < file.size) {
    try {
      const response = await fetch(url, {
        method: "PATCH",
        headers: headers({
          "Upload-Offset": String(offset),
          "Content-Type": "application/offset+octet-stream",
        }),
        body: file.slice(offset, offset + PIECE),
      });
      if (response.status === 204) {
        offset = Number(response.headers.get("Upload-Offset"));
        failures = 0;
        show(offset / file.size, null);
      } else if (response.status === 409) {
        offset = await serverOffset(url);
      } else if (response.status >= 500 || response.status === 0) {
        throw new Error(await problemOf(response));
      } else {
        throw Object.assign(new Error(await problemOf(response)), { final: true });
      }
    } catch (error) {
      failures += 1;
      if (error.final || failures > MAX_RETRIES) throw error;
      show(offset / file.size, "retrying");
      await sleep(500 * 2 ** failures);
      offset = await serverOffset(url).catch(() => offset);
    }
  }
}

function start(box) {
  const folderId = box.dataset.folder;
  const list = box.querySelector("#progress");
  const input = box.querySelector("#files");
  const folderInput = box.querySelector("#folder-files");
  const drop = box.querySelector("#drop");

  // `entries` are {file, path}; folders in a path are made before their files are sent.
  async function uploadAll(entries) {
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
      try {
        await send(file, path, folderId, (fraction, state) => {
          bar.value = fraction;
          status.textContent = state === "retrying" ? box.dataset.failed : "";
        });
        bar.value = 1;
        status.textContent = box.dataset.done;
        return true;
      } catch (error) {
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
    await Promise.all(lanes);
    if (results.every(Boolean)) window.location.reload();
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
