// The directory's picker (the share form's, the chat page's person forms): as someone types part
// of a name, rank, unit or code, it asks /api/v1/directory/suggest (only the kinds named in
// data-kinds, when given) and lists what matches, but the entry named by data-exclude (the chat
// page's own user), as an ARIA combobox with a listbox. Choosing an entry fills the box's text
// field, ticks its kind (a subject_type radio, when the form has one) and puts "kind:id" in the
// box's hidden field, so the server acts on exactly that entry. Without this script the form
// still works: the server resolves what was typed (and offers the candidates when several match).

const WAIT_MS = 150;

function setUp(box) {
  const input = box.querySelector("input:not([type=hidden])");
  const ref = box.querySelector("input[type=hidden]");
  const kinds = (box.dataset.kinds || "").split(" ").filter(Boolean);
  const form = box.closest("form");
  const list = document.createElement("ul");
  list.id = `${input.id}-suggestions`;
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", box.dataset.list || "");
  list.hidden = true;
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("aria-live", "polite");
  box.append(list, status);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);

  let entries = [];
  let active = -1;
  let timer = 0;
  let asked = 0;

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    active = index;
    list.querySelectorAll("[role=option]").forEach((option, i) => {
      option.setAttribute("aria-selected", String(i === index));
      if (i === index) input.setAttribute("aria-activedescendant", option.id);
    });
  }

  function choose(entry) {
    input.value = entry.label;
    ref.value = entry.ref;
    const radio = form.querySelector(`input[name=subject_type][value=${entry.kind}]`);
    if (radio) radio.checked = true;
    close();
  }

  function show(found) {
    entries = found;
    list.replaceChildren();
    found.forEach((entry, i) => {
      const option = document.createElement("li");
      option.id = `${list.id}-${i}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.dataset.ref = entry.ref;
      const kind = box.dataset[`kind${entry.kind[0].toUpperCase()}${entry.kind.slice(1)}`] || "";
      const where = entry.unit ? ` · ${entry.unit}` : "";
      option.textContent = `${entry.label}${where} (${entry.handle}) · ${kind}`;
      option.addEventListener("mousedown", (event) => event.preventDefault());
      option.addEventListener("click", () => choose(entry));
      list.append(option);
    });
    if (!found.length) {
      const none = document.createElement("li");
      none.className = "none";
      none.textContent = box.dataset.none || "";
      list.append(none);
    }
    status.textContent = (box.dataset.count || "%(count)s").replace("%(count)s", found.length);
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    active = -1;
  }

  async function ask() {
    const typed = input.value.trim();
    const mine = ++asked;
    if (!typed) return close();
    const query = new URLSearchParams({ q: typed.slice(0, 200) });
    kinds.forEach((kind) => query.append("kind", kind));
    const url = `${box.dataset.suggest}?${query}`;
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (mine !== asked || !response.ok) return;
    const found = await response.json();
    show(found.filter((entry) => entry.ref !== box.dataset.exclude));
  }

  input.addEventListener("input", () => {
    ref.value = "";
    clearTimeout(timer);
    timer = setTimeout(ask, WAIT_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (list.hidden || !entries.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + entries.length) % entries.length);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      choose(entries[active]);
    } else if (event.key === "Escape") {
      close();
    }
  });
  // Leaving the box closes the list, and an answer still on its way must not open it again
  // over whatever the person went on to (the form's own button, on a phone).
  input.addEventListener("blur", () => {
    clearTimeout(timer);
    asked += 1;
    close();
  });
}

document.querySelectorAll(".picker[data-suggest]").forEach(setUp);
