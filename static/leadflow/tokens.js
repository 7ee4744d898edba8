// A new API token's "Copy token" button: shown only where the clipboard can be written
// (HTTPS or localhost); elsewhere the text says how to copy by hand.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.status);
    if (!field) continue;
    field.addEventListener("focus", () => field.select());
    if (!navigator.clipboard || !window.isSecureContext) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
        status.textContent = "Copied. Paste it where it will be kept.";
      } catch {
        status.textContent = "Could not copy: select it and press Ctrl+C (⌘C on a Mac).";
      }
    });
  }
});
