// The triage inbox, keyboard first: j/k move, x select, e open, a/d/n/c/v bulk actions.
// No inline scripts (CSP); state lives in the DOM, so an htmx swap simply resets it.
(function () {
  "use strict";

  let current = 0;

  function rows() {
    return Array.from(document.querySelectorAll("#inbox [data-row]"));
  }

  function bulkForm() {
    return document.getElementById("inbox-bulk");
  }

  function selectedIds() {
    return Array.from(document.querySelectorAll('#inbox-bulk input[name="ids"]:checked')).map(
      (box) => box.value
    );
  }

  function allMatching() {
    const box = document.querySelector('#inbox-bulk input[name="all_matching"]');
    return Boolean(box && box.checked);
  }

  function focusRow(index) {
    const list = rows();
    if (!list.length) return;
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach((row, i) => row.classList.toggle("current", i === current));
    list[current].focus({ preventScroll: true });
    list[current].scrollIntoView({ block: "nearest" });
  }

  function refresh() {
    const form = bulkForm();
    if (!form) return;
    const ids = selectedIds();
    const counter = form.querySelector("[data-selected-count]");
    if (counter) counter.textContent = allMatching() ? "All" : String(ids.length);
    rows().forEach((row) => {
      const box = row.querySelector('input[name="ids"]');
      row.classList.toggle("selected", Boolean(box && box.checked));
    });
    const merge = form.querySelector("[data-merge]");
    if (merge) merge.hidden = allMatching() || ids.length < 2;
    const exportLink = form.querySelector("[data-export]");
    if (exportLink) {
      const base = form.dataset.exportUrl;
      exportLink.href =
        ids.length && !allMatching()
          ? base + "?ids=" + ids.join(",")
          : base + "?" + (form.dataset.query || "");
    }
  }

  function toggleCurrent() {
    const row = rows()[current];
    if (!row) return;
    const box = row.querySelector('input[name="ids"]');
    box.checked = !box.checked;
    refresh();
  }

  function togglePage() {
    const boxes = Array.from(document.querySelectorAll('#inbox-bulk input[name="ids"]'));
    const all = boxes.length && boxes.every((box) => box.checked);
    boxes.forEach((box) => {
      box.checked = !all;
    });
    const head = document.querySelector("#inbox-bulk [data-select-page]");
    if (head) head.checked = !all;
    refresh();
  }

  function clickAction(action) {
    const form = bulkForm();
    if (!form) return;
    const button = form.querySelector('button[name="action"][value="' + action + '"]');
    if (button) button.click();
  }

  // a/d/c focus the bulk action's choice; Enter on it runs the action.
  function focusChoice(action) {
    const form = bulkForm();
    const select = form && form.querySelector('[data-bulk-select="' + action + '"]');
    if (select) select.focus();
  }

  function typing(target) {
    return (
      target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) &&
      !(target.tagName === "INPUT" && target.type === "checkbox")
    );
  }

  document.addEventListener("keydown", (event) => {
    if (!document.getElementById("inbox")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLSelectElement && target.dataset.bulkSelect) {
      if (event.key === "Enter" && target.value) {
        event.preventDefault();
        clickAction(target.dataset.bulkSelect);
      } else if (event.key === "Escape") {
        focusRow(current);
      }
      return;
    }
    if (typing(target)) {
      if (event.key === "Escape") {
        target.blur();
        focusRow(current);
      }
      return;
    }
    const help = document.getElementById("inbox-help");
    switch (event.key) {
      case "j":
        focusRow(current + 1);
        break;
      case "k":
        focusRow(current - 1);
        break;
      case "x":
        toggleCurrent();
        break;
      case "X":
        togglePage();
        break;
      case "m": {
        const box = document.querySelector('#inbox-bulk input[name="all_matching"]');
        if (box) box.checked = !box.checked;
        refresh();
        break;
      }
      case "e":
      case "Enter": {
        const row = rows()[current];
        const link = row && row.querySelector("[data-open]");
        if (!link) return;
        window.location.href = link.href;
        break;
      }
      case "a":
        focusChoice("assign");
        break;
      case "d":
        focusChoice("disqualify");
        break;
      case "c":
        focusChoice("add_to_campaign");
        break;
      case "n":
        clickAction("nurture");
        break;
      case "v": {
        const link = document.querySelector("#inbox-bulk [data-export]");
        if (link) link.click();
        break;
      }
      case "/":
        document.getElementById("inbox-q")?.focus();
        break;
      case "?":
        if (help && !help.open) help.showModal();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.matches("#inbox-bulk [data-select-page]")) {
      document.querySelectorAll('#inbox-bulk input[name="ids"]').forEach((box) => {
        box.checked = target.checked;
      });
    }
    if (target.closest("#inbox-bulk")) refresh();
  });

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLElement)) return;
    if (target.matches("[data-close-help]")) {
      document.getElementById("inbox-help")?.close();
    }
    if (target.matches("#inbox-bulk [data-merge]")) {
      const form = bulkForm();
      window.location.href = form.dataset.mergeUrl + "?ids=" + selectedIds().join(",");
    }
    const row = target.closest("#inbox [data-row]");
    if (row) {
      current = rows().indexOf(row);
      rows().forEach((r, i) => r.classList.toggle("current", i === current));
    }
  });

  // Refusals come back as 400/409 with the errors in the fragment: show them where they happened.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    if (status === 400 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Untouched filters mean "any": leave them out of the request and of the address bar.
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt.id !== "inbox-filters") return;
    const params = event.detail.parameters;
    const keys = params instanceof FormData ? Array.from(new Set(params.keys())) : Object.keys(params);
    keys.forEach((key) => {
      const value = params instanceof FormData ? params.get(key) : params[key];
      if (value === "" || value === null) {
        if (params instanceof FormData) params.delete(key);
        else delete params[key];
      }
    });
  });

  document.addEventListener("htmx:afterSettle", () => {
    current = 0;
    refresh();
    if (rows().length) rows()[0].classList.add("current");
  });

  document.addEventListener("DOMContentLoaded", () => {
    // Settling would copy an (empty) style attribute onto swapped inputs: refused by the CSP.
    if (window.htmx) window.htmx.config.attributesToSettle = ["class", "width", "height"];
    refresh();
    if (rows().length) rows()[0].classList.add("current");
  });
})();
