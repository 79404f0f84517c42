// Progress of an administration job (a user import, a verify run): polls the job's status URL
// and moves the bar; when the job ends, reloads the page, which then shows the outcome. The page
// works without this script: reloading it shows how far the job got.

const INTERVAL_MS = 1000;

function formatter() {
  const lang = document.documentElement.lang || "en";
  try {
    return new Intl.NumberFormat(`${lang}-IN`);
  } catch {
    return new Intl.NumberFormat();
  }
}

function follow(box) {
  const bar = box.querySelector("progress");
  const text = box.querySelector(".job-progress-text");
  const numbers = formatter();
  let failures = 0;
  // The text is a live region: say it again only every tenth of the way, not every second.
  let spokenStep = -1;

  async function poll() {
    let status;
    try {
      const response = await fetch(box.dataset.statusUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok || !response.headers.get("content-type")?.includes("json")) {
        throw new Error(String(response.status));
      }
      status = await response.json();
      failures = 0;
    } catch {
      failures += 1;
      if (failures < 5) setTimeout(poll, INTERVAL_MS * 2 ** failures);
      return; // the "Reload" link still works
    }
    if (status.finished) {
      window.location.reload();
      return;
    }
    if (status.total) {
      bar.max = status.total;
      bar.value = status.done;
      const step = Math.floor((10 * status.done) / status.total);
      if (step !== spokenStep) {
        spokenStep = step;
        text.textContent = box.dataset.progressText
          .replace("%(done)s", numbers.format(status.done))
          .replace("%(total)s", numbers.format(status.total));
      }
    } else {
      text.textContent = box.dataset.waitingText;
    }
    setTimeout(poll, INTERVAL_MS);
  }

  setTimeout(poll, INTERVAL_MS);
}

document.querySelectorAll(".job-progress[data-status-url]").forEach(follow);
