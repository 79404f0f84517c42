// While a file's preview is being drawn on the server, ask now and then whether it is ready,
// and reload the page when it is (or when drawing it failed, to show that).
const pending = document.getElementById("preview-pending");
if (pending) {
  const url = pending.dataset.statusUrl;
  let delay = 1000;
  const check = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        const { state } = await response.json();
        if (state !== "pending") {
          window.location.reload();
          return;
        }
      }
    } catch {
      // The connection dropped: try again later.
    }
    delay = Math.min(delay * 1.5, 15000);
    window.setTimeout(check, delay);
  };
  window.setTimeout(check, delay);
}
