// The frame of every page, made nicer where scripts run (everything works without this file):
// the language switch applies as soon as a language is picked (without scripts, its button
// submits), and an open menu (<details class="menu">) closes on Escape, returning focus to its
// summary, or on a click elsewhere.

for (const select of document.querySelectorAll("select[data-submit-on-change]")) {
  select.addEventListener("change", () => select.form?.requestSubmit());
}

function menus() {
  return [...document.querySelectorAll("details.menu[open]")];
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of menus()) {
    menu.open = false;
    menu.querySelector("summary")?.focus();
  }
});

document.addEventListener("click", (event) => {
  for (const menu of menus()) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});
