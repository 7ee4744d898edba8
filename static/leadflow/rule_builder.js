// The rule builder: show the inputs an operator takes (one or more values, a range, none),
// offer only the operators that suit the field's type, and suggest the values the data holds.
(function () {
  "use strict";
  // As Django's slugify names the lists: "custom.fleet_size" -> "customfleet_size".
  function slug(key) {
    return key.toLowerCase().replace(/[^\w\s-]/g, "").replace(/[-\s]+/g, "-").replace(/^[-_]+|[-_]+$/g, "");
  }
  function update(row) {
    var field = row.querySelector(".rule-field");
    var op = row.querySelector(".rule-op");
    var value = row.querySelector(".rule-value");
    var chosen = field.options[field.selectedIndex];
    var kind = (chosen && chosen.dataset.kind) || "text";
    Array.prototype.forEach.call(op.options, function (option) {
      var suits = (option.dataset.kinds || "").split(" ").indexOf(kind) >= 0;
      option.hidden = !suits;
      option.disabled = !suits;
    });
    if (op.selectedOptions[0] && op.selectedOptions[0].disabled) {
      var first = Array.prototype.find.call(op.options, function (o) { return !o.disabled; });
      if (first) { op.value = first.value; }
    }
    row.className = row.className.replace(/\bop-\S+/g, "").trim() + " op-" + op.value;
    var list = "values-" + slug(field.value);
    if (field.value && document.getElementById(list)) { value.setAttribute("list", list); }
    else { value.removeAttribute("list"); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".rule-row").forEach(function (row) {
      update(row);
      row.querySelector(".rule-field").addEventListener("change", function () { update(row); });
      row.querySelector(".rule-op").addEventListener("change", function () { update(row); });
    });
  });
})();
