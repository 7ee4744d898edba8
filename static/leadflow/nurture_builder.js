// The nurture program builder: drag a step to reorder (HTML5 drag and drop; the ↑ ↓ buttons
// are plain forms that work without this), and show only the fields a step's kind uses.
(function () {
  "use strict";

  function setUpDragging(list) {
    var form = document.getElementById("reorder-form");
    if (!form) { return; }
    var dragged = null;
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest(".builder-step");
      if (!dragged) { return; }
      dragged.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.dataset.stepId);
    });
    list.addEventListener("dragover", function (event) {
      if (!dragged) { return; }
      event.preventDefault();
      var over = event.target.closest(".builder-step");
      if (!over || over === dragged) { return; }
      var box = over.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (event) {
      event.preventDefault();
    });
    list.addEventListener("dragend", function () {
      if (!dragged) { return; }
      dragged.classList.remove("dragging");
      dragged = null;
      var order = Array.prototype.map.call(list.querySelectorAll(".builder-step"), function (item) {
        return item.dataset.stepId;
      });
      form.querySelector("input[name=order]").value = order.join(",");
      form.submit();
    });
  }

  function setUpKind(form) {
    var kind = form.querySelector("select[name=kind]");
    if (!kind) { return; }
    function show() {
      form.querySelectorAll("[class*=for-]").forEach(function (part) {
        part.hidden = !part.classList.contains("for-" + kind.value);
      });
    }
    kind.addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".builder-steps").forEach(setUpDragging);
    document.querySelectorAll(".step-form").forEach(setUpKind);
  });
})();
