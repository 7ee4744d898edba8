// My week, keyboard first: j/k (or arrows) move between leads, p/w/l/z pick the outcome,
// t the touch, n the note, Enter reports the row in place (fetch), ? the help.
// No inline scripts (CSP). Without this file every row is a plain form that posts and returns.
(function () {
  "use strict";

  let current = 0;
  const FIELDS = { won: "value", lost: "lost_reason", postponed: "postponed_until" };

  function rows() {
    return Array.from(document.querySelectorAll("#week-rows [data-row]"));
  }

  function typing(target) {
    return target && target.closest && target.closest("input, select, textarea, [contenteditable]");
  }

  function focusRow(index) {
    const list = rows();
    if (!list.length) return;
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach((row, i) => row.classList.toggle("current", i === current));
    list[current].focus({ preventScroll: true });
    list[current].scrollIntoView({ block: "nearest" });
  }

  function currentRow() {
    return rows()[current];
  }

  function reveal(form) {
    const status = form.querySelector("[data-status]").value;
    form.querySelectorAll("[data-needs]").forEach((field) => {
      field.hidden = field.dataset.needs !== status;
    });
    form.closest("[data-row]")?.setAttribute("data-outcome", status);
  }

  function choose(row, status) {
    const form = row.querySelector("[data-update-form]");
    form.querySelector("[data-status]").value = status;
    reveal(form);
    const needed = FIELDS[status];
    if (needed) form.querySelector(`[name="${needed}"]`).focus();
  }

  function setCounter(reported, owed) {
    document.querySelectorAll("[data-reported]").forEach((el) => (el.textContent = reported));
    document.querySelectorAll("[data-owed]").forEach((el) => (el.textContent = owed));
    const bar = document.querySelector("[data-progress]");
    if (bar) {
      bar.max = Number(owed) || 1;
      bar.value = Number(reported);
    }
  }

  async function submit(form) {
    const row = form.closest("[data-row]");
    const error = form.querySelector("[data-error]");
    const button = form.querySelector("[data-submit]");
    error.hidden = true;
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Requested-With": "fetch" },
        credentials: "same-origin",
      });
    } catch (e) {
      response = null;
    }
    button.removeAttribute("aria-busy");
    button.disabled = false;
    if (!response || !response.ok) {
      error.textContent = response ? await response.text() : "Could not reach LeadFlow; try again.";
      error.hidden = false;
      return;
    }
    const html = await response.text();
    const index = rows().indexOf(row);
    const status = form.querySelector("[data-status]").value;
    if (status !== "progress") {
      // Closed: nothing is owed for past weeks any more.
      document.querySelector(`[data-late-lead="${row.dataset.lead}"]`)?.remove();
    }
    row.remove();
    const list = document.querySelector("[data-done-list]");
    list.insertAdjacentHTML("afterbegin", html);
    setCounter(response.headers.get("X-Week-Reported"), response.headers.get("X-Week-Owed"));
    document.querySelectorAll("[data-todo-count]").forEach((el) => (el.textContent = rows().length));
    document.querySelectorAll("[data-done-count]").forEach((el) => (el.textContent = list.children.length));
    if (!rows().length) {
      document.querySelector("[data-all-done]").hidden = false;
      document.querySelector("[data-done]").open = true;
      return;
    }
    focusRow(Math.min(index, rows().length - 1));
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const help = document.getElementById("week-help");
    if (help && help.open) return;
    const field = typing(event.target);
    const row = currentRow();
    if (field) {
      if (event.key === "Escape") {
        event.target.blur();
        const own = event.target.closest("[data-row]");
        if (own) focusRow(rows().indexOf(own));
        event.preventDefault();
      } else if (event.key === "Enter" && event.target.tagName === "SELECT") {
        const form = event.target.closest("[data-update-form]");
        if (form) {
          event.preventDefault();
          form.requestSubmit();
        }
      }
      return;
    }
    switch (event.key) {
      case "j":
      case "ArrowDown":
        focusRow(current + 1);
        break;
      case "k":
      case "ArrowUp":
        focusRow(current - 1);
        break;
      case "p":
        if (row) choose(row, "progress");
        break;
      case "w":
        if (row) choose(row, "won");
        break;
      case "l":
        if (row) choose(row, "lost");
        break;
      case "z":
        if (row) choose(row, "postponed");
        break;
      case "t":
        if (row) row.querySelector("[data-touch]").focus();
        break;
      case "n":
        if (row) row.querySelector("[data-note]").focus();
        break;
      case "Enter":
        if (row && event.target.tagName !== "A" && event.target.tagName !== "BUTTON") {
          row.querySelector("[data-update-form]").requestSubmit();
        } else return;
        break;
      case "?":
        help.showModal();
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.documentElement.classList.add("js");
    document.querySelectorAll("[data-update-form]").forEach((form) => {
      reveal(form);
      form.querySelector("[data-status]").addEventListener("change", () => reveal(form));
      if (!form.closest("#week-rows")) return;
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        submit(form);
      });
    });
    rows().forEach((row, i) => {
      row.addEventListener("focusin", () => {
        current = i < rows().length ? rows().indexOf(row) : current;
        rows().forEach((r) => r.classList.toggle("current", r === row));
      });
    });
    document.querySelector("[data-close-help]")?.addEventListener("click", () => {
      document.getElementById("week-help").close();
    });
    document.addEventListener("keydown", onKey);
    if (rows().length) focusRow(0);
  });
})();
