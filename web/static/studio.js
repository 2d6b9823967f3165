/* The lesson editor: EasyMDE's toolbar on the body (vendor/easymde, served from here), and
 * saving as one types. Each save (debounced) stores the draft and answers with the course
 * check's problems and the text part; the preview frame then reloads the draft as sent.
 * Without JavaScript the form still saves with its button. The CSP allows no inline script,
 * so the page's data comes from the <script type="application/json" id="studio-data"> block.
 */
(function () {
  "use strict";

  var form = document.getElementById("lesson-form");
  var dataBlock = document.getElementById("studio-data");
  if (!form || !dataBlock) {
    return;
  }
  var data = JSON.parse(dataBlock.textContent);
  var frame = document.getElementById("preview-frame");
  var state = document.getElementById("save-state");
  var body = document.getElementById("field-body");
  var editor = null;
  var timer = null;
  var saves = 0;
  // One save at a time, in order: a slow answer must never let older text overwrite newer.
  var saving = false;
  var again = false;

  // EasyMDE's own buttons, with Dutch names (title and aria-label).
  function toolbar(EasyMDE) {
    var button = function (name, action, icon, title) {
      return { name: name, action: action, className: "fa " + icon, title: title };
    };
    return [
      button("bold", EasyMDE.toggleBold, "fa-bold", "Vet"),
      button("italic", EasyMDE.toggleItalic, "fa-italic", "Cursief"),
      button("heading-2", EasyMDE.toggleHeading2, "fa-header fa-header-2", "Tussenkop"),
      button("heading-3", EasyMDE.toggleHeading3, "fa-header fa-header-3", "Kleine kop"),
      "|",
      button("unordered-list", EasyMDE.toggleUnorderedList, "fa-list-ul", "Opsomming"),
      button("ordered-list", EasyMDE.toggleOrderedList, "fa-list-ol", "Genummerde lijst"),
      button("quote", EasyMDE.toggleBlockquote, "fa-quote-left", "Citaat"),
      button("link", EasyMDE.drawLink, "fa-link", "Link (https://…)"),
      "|",
      button("undo", EasyMDE.undo, "fa-undo", "Ongedaan maken"),
      button("redo", EasyMDE.redo, "fa-repeat", "Opnieuw")
    ];
  }

  if (typeof window.EasyMDE === "function") {
    editor = new window.EasyMDE({
      element: body,
      autoDownloadFontAwesome: false, // no CDN: the toolbar labels come from studio.css
      spellChecker: false, // its dictionaries would come from a CDN
      nativeSpellcheck: true,
      forceSync: true, // the textarea always holds the text, so FormData sends it
      status: false,
      minHeight: "320px",
      toolbar: toolbar(window.EasyMDE)
    });
    editor.codemirror.on("change", schedule);
  }

  function list(id, items) {
    var target = document.getElementById(id);
    if (!target) {
      return;
    }
    target.textContent = "";
    (items || []).forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item;
      target.appendChild(li);
    });
  }

  // The whole course's problems: "label: message", the label a link to its settings field.
  function courseList(items) {
    var target = document.getElementById("course-problem-list");
    target.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      if (item.href) {
        var link = document.createElement("a");
        link.href = item.href;
        link.textContent = item.label;
        li.appendChild(link);
        li.appendChild(document.createTextNode(": " + item.message));
      } else {
        li.textContent = (item.label ? item.label + ": " : "") + item.message;
      }
      target.appendChild(li);
    });
    document.getElementById("course-problems").hidden = items.length === 0;
  }

  function show(result) {
    ["subject", "preheader", "teaser", "body"].forEach(function (name) {
      list("problems-" + name, result.by_field[name]);
    });
    courseList(result.course_wide);
    list("problem-list", result.problems);
    var live = document.getElementById("problems-live");
    if (live) {
      live.hidden = true;
    }
    document.getElementById("problems-none").hidden = result.problems.length > 0;
    document.getElementById("problems-some").hidden = result.problems.length === 0;
    document.getElementById("text-part").textContent = result.text;
    document.getElementById("preview-subject").textContent = result.subject;
    document.getElementById("preview-preheader").textContent = result.preheader;
    saves += 1;
    frame.src = data.preview + "?v=" + saves;
  }

  function save() {
    timer = null;
    if (saving) {
      again = true;
      return;
    }
    saving = true;
    if (editor) {
      editor.codemirror.save();
    }
    state.textContent = "Opslaan…";
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (result) {
        if (!response.ok || !result.saved) {
          state.textContent = result.error || "Niet opgeslagen. Laad de pagina opnieuw.";
          return;
        }
        state.textContent = "Opgeslagen in het concept.";
        document.getElementById("seen").value = result.seen;
        show(result);
      });
    }).catch(function () {
      state.textContent = "Niet opgeslagen: geen verbinding. Probeer het zo opnieuw.";
    }).then(function () {
      saving = false;
      if (again) {
        again = false;
        save();
      }
    });
  }

  function schedule() {
    if (timer) {
      window.clearTimeout(timer);
    }
    state.textContent = "Wijzigingen…";
    timer = window.setTimeout(save, 700);
  }

  function count(input) {
    var counter = document.getElementById("count-" + input.name);
    if (counter) {
      counter.textContent = input.value.length + " / " + input.dataset.limit;
      counter.classList.toggle("over", input.value.length > Number(input.dataset.limit));
    }
  }

  form.querySelectorAll("input[name]:not([type=hidden])").forEach(function (input) {
    input.addEventListener("input", function () {
      count(input);
      schedule();
    });
  });
  if (!editor) {
    body.addEventListener("input", schedule);
  }

  document.querySelectorAll(".preview-widths button").forEach(function (button) {
    button.addEventListener("click", function () {
      frame.classList.toggle("phone", button.dataset.width === "phone");
      frame.classList.toggle("desktop", button.dataset.width !== "phone");
      document.querySelectorAll(".preview-widths button").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other === button));
      });
    });
  });
})();
