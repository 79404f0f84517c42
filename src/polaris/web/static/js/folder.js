// The folder page's menus, drop zone, inline rename and drag-to-move. The page works without it:
// the menus are <details>, rename is a link to `?rename=<id>`, moving is the destination picker.
// Uploads themselves are js/upload.js's: the drop zone here is inside its `#upload` box, so a
// drop on it reaches upload.js's own listener.

const MESSAGES = JSON.parse(document.getElementById("folder-messages")?.textContent || "{}");
const NODE_TYPE = "application/x-polaris-node";

function csrfToken() {
  const entry = document.cookie.split("; ").find((c) => c.startsWith("polaris_csrf="));
  return entry ? entry.slice("polaris_csrf=".length) : "";
}

function fill(template, values) {
  return (template || "").replace(/%\((\w+)\)s/g, (_, key) => values[key] ?? "");
}

// --- Menus: one open at a time; arrows, Home/End and Escape inside; right-click and
// Shift+F10 or the context-menu key on a row open that row's menu. ---

const items = (menu) => Array.from(menu.querySelectorAll('[role="menuitem"]'));

function closeMenus(except) {
  for (const open of document.querySelectorAll("details.menu[open]")) {
    if (open !== except) open.open = false;
  }
}

function openMenu(menu, focusFirst) {
  closeMenus(menu);
  menu.open = true;
  if (focusFirst) items(menu)[0]?.focus();
}

function closeMenu(menu) {
  menu.open = false;
  menu.querySelector("summary").focus();
}

for (const menu of document.querySelectorAll("details.row-menu")) {
  menu.addEventListener("toggle", () => {
    if (menu.open) closeMenus(menu);
  });
  menu.querySelector("summary").addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      openMenu(menu, true);
      if (event.key === "ArrowUp") items(menu).at(-1)?.focus();
    }
  });
  menu.querySelector('[role="menu"]').addEventListener("keydown", (event) => {
    const list = items(menu);
    const at = list.indexOf(document.activeElement);
    const go = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: list.length - 1 }[event.key];
    if (go !== undefined) {
      event.preventDefault();
      list[(go + list.length) % list.length].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeMenu(menu);
    } else if (event.key === "Tab") {
      menu.open = false;
    }
  });
}

document.addEventListener("click", (event) => {
  if (!event.target.closest("details.menu")) closeMenus(null);
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const open = document.querySelector("details.menu[open]");
  if (open) closeMenu(open);
});

function rowMenu(target) {
  const row = target.closest?.("tr[data-id]");
  return row ? row.querySelector("details.row-menu") : null;
}

document.addEventListener("contextmenu", (event) => {
  const menu = rowMenu(event.target);
  if (!menu || event.target.closest("input, .rename-form")) return;
  event.preventDefault();
  openMenu(menu, true);
});
document.addEventListener("keydown", (event) => {
  const asked = (event.key === "F10" && event.shiftKey) || event.key === "ContextMenu";
  const menu = asked ? rowMenu(event.target) : null;
  if (!menu || event.target.closest(".rename-form")) return;
  event.preventDefault();
  openMenu(menu, true);
});

// --- Inline rename: the row's own form, no wider than the name's cell. A refused name comes
// back from the server as this page with the row's form open, what was typed and the reason
// (drive.views.rename, the new-folder form's way); Cancel hides the reason with the form. ---

function showRename(row, shown) {
  const form = row.querySelector(".rename-form");
  if (!form) return;
  form.hidden = !shown;
  const reason = row.querySelector(".name > .form-error");
  if (reason) reason.hidden = !shown;
  row.classList.toggle("renaming", shown);
  if (shown) {
    const input = form.querySelector('input[name="name"]');
    input.focus();
    // A name given back refused: the caret after what was typed; else the name before its
    // extension selected, ready to be replaced.
    const dot = reason ? -1 : input.value.lastIndexOf(".");
    const end = reason ? input.value.length : 0;
    input.setSelectionRange(end, dot > 0 ? dot : input.value.length);
  }
}

for (const link of document.querySelectorAll("[data-rename]")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    const row = link.closest("tr");
    row.querySelector("details.row-menu").open = false;
    showRename(row, true);
  });
}
for (const form of document.querySelectorAll(".rename-form")) {
  const row = form.closest("tr");
  if (!form.hidden) showRename(row, true); // opened by ?rename=<id>
  const cancel = (event) => {
    event.preventDefault();
    showRename(row, false);
    row.querySelector("details.row-menu summary").focus();
  };
  form.querySelector(".rename-cancel").addEventListener("click", cancel);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      cancel(event);
    }
  });
}

// --- Drop anywhere: files dragged over the page show the drop zone over it. ---

const upload = document.getElementById("upload");
const zone = document.getElementById("drop");
const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");

if (upload && zone) {
  document.addEventListener("dragenter", (event) => {
    if (carriesFiles(event)) zone.hidden = false;
  });
  document.addEventListener("dragover", (event) => {
    // Outside the zone (before it shows) the browser must not open the file instead.
    if (carriesFiles(event)) event.preventDefault();
  });
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) zone.hidden = true;
  });
  document.addEventListener("drop", (event) => {
    zone.hidden = true;
    if (carriesFiles(event)) event.preventDefault();
  });
}

// --- Drag a row onto a folder row or a breadcrumb: moved through the JSON API, which decides;
// a refusal is said in the status line, and the row stays. ---

const status = document.getElementById("move-status");

function say(text, isError) {
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

async function reasonOf(response) {
  let code = "";
  try {
    code = (await response.json()).code || "";
  } catch {
    // Not a problem document: the generic message.
  }
  return MESSAGES[code] || MESSAGES.generic || String(response.status);
}

async function move(row, target) {
  const name = row.dataset.name;
  const folder = target.closest("tr")?.dataset.name || target.textContent.trim();
  if (row.dataset.id === target.dataset.dropFolder) {
    say(fill(MESSAGES.refused, { name, reason: MESSAGES.move_into_itself }), true);
    return;
  }
  const response = await fetch(`/api/v1/nodes/${row.dataset.id}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify({ parent_id: Number(target.dataset.dropFolder) }),
  });
  if (response.ok) {
    row.remove();
    say(fill(MESSAGES.moved, { name, folder }), false);
  } else {
    say(fill(MESSAGES.refused, { name, reason: await reasonOf(response) }), true);
  }
}

let dragged = null;
for (const row of document.querySelectorAll("tr[draggable='true']")) {
  row.addEventListener("dragstart", (event) => {
    dragged = row;
    event.dataTransfer.setData(NODE_TYPE, row.dataset.id);
    event.dataTransfer.setData("text/plain", row.dataset.name);
    event.dataTransfer.effectAllowed = "move";
    row.classList.add("dragging");
  });
  row.addEventListener("dragend", () => {
    row.classList.remove("dragging");
    dragged = null;
  });
}

const movesHere = (event) => Array.from(event.dataTransfer?.types || []).includes(NODE_TYPE);
for (const target of document.querySelectorAll("[data-drop-folder]")) {
  target.addEventListener("dragover", (event) => {
    if (!movesHere(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    target.classList.add("drop-target");
  });
  target.addEventListener("dragleave", () => target.classList.remove("drop-target"));
  target.addEventListener("drop", (event) => {
    if (!movesHere(event)) return;
    event.preventDefault();
    target.classList.remove("drop-target");
    const id = event.dataTransfer.getData(NODE_TYPE);
    const row = dragged || document.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (row) move(row, target);
  });
}
