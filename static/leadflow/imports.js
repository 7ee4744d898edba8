/*
 * The CSV import pages, progressively enhanced (they work without this file).
 *
 * Upload: a file over the limit is refused before it is sent, and the button
 * shows that the upload is under way. Mapping: the inputs of a "new custom
 * field" are sent only for columns set to one, so a file with hundreds of
 * columns stays under Django's limit on the number of form fields.
 */
(function () {
  "use strict";

  function enhanceUpload(form) {
    var input = form.querySelector("input[type=file][data-max-bytes]");
    var warning = form.querySelector("[data-upload-too-large]");
    var button = form.querySelector("button[type=submit]");
    if (!input) {
      return;
    }
    var limit = parseInt(input.dataset.maxBytes, 10);
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var tooLarge = Boolean(file && limit && file.size > limit);
      if (warning) {
        warning.hidden = !tooLarge;
      }
      input.setAttribute("aria-invalid", tooLarge ? "true" : "false");
    });
    form.addEventListener("submit", function (event) {
      var file = input.files && input.files[0];
      if (file && limit && file.size > limit) {
        event.preventDefault();
        if (warning) {
          warning.hidden = false;
        }
        return;
      }
      if (button) {
        button.setAttribute("aria-busy", "true");
        button.textContent = "Uploading and reading…";
      }
    });
  }

  function enhanceMapping(form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("[data-mapping-target]").forEach(function (select) {
        var row = select.closest(".mapping-row");
        var fieldset = row && row.querySelector("[data-new-field]");
        if (fieldset) {
          fieldset.disabled = select.value !== "new";
        }
      });
    });
    // Back from the next page, the browser may restore the disabled state.
    window.addEventListener("pageshow", function () {
      form.querySelectorAll("[data-new-field]").forEach(function (fieldset) {
        fieldset.disabled = false;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-upload-form]").forEach(enhanceUpload);
    document.querySelectorAll("[data-mapping-form]").forEach(enhanceMapping);
  });
})();
