// Uploads from the folder page: a file button and a drop zone, each file sent with the tus 1.0
// protocol in 4 MiB pieces, with a progress bar, resuming from the server's offset after a
// dropped connection. No library: the protocol is four requests.

const PIECE = 4 * 1024 * 1024;
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

async function problemOf(response) {
  try {
    const body = await response.json();
    return body.detail || body.code || String(response.status);
  } catch {
    return String(response.status);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function serverOffset(url) {
  const response = await fetch(url, { method: "HEAD", headers: headers({}) });
  if (!response.ok) throw new Error(String(response.status));
  return Number(response.headers.get("Upload-Offset"));
}

async function send(file, folderId, show) {
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
  const drop = box.querySelector("#drop");

  async function uploadAll(files) {
    const jobs = Array.from(files).map(async (file) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = file.name; // text, never HTML
      const bar = document.createElement("progress");
      bar.max = 1;
      bar.value = 0;
      bar.setAttribute("aria-label", file.name);
      const status = document.createElement("span");
      item.append(name, bar, status);
      list.append(item);
      try {
        await send(file, folderId, (fraction, state) => {
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
    });
    const results = await Promise.all(jobs);
    if (results.every(Boolean)) window.location.reload();
  }

  input.addEventListener("change", () => uploadAll(input.files));
  // One listener on the whole upload area: a drop on the zone inside bubbles up to it once.
  box.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  box.addEventListener("dragleave", () => drop.classList.remove("over"));
  box.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    uploadAll(event.dataTransfer.files);
  });
}

const box = document.getElementById("upload");
if (box) start(box);
