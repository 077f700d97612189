// The case editor: rows added and removed, and the rules' findings shown beside their fields while the clerk
// types (the form is posted to /check half a second after the last keystroke). Field names are JSON pointers,
// the same pointers the findings carry. Without this script the form still saves and submits.
(function () {
  "use strict";
  var ROW = "__i__";

  function renumber(node, index) {
    // A copied blank row: its pointers get the row's number in place of ROW.
    node.querySelectorAll("[name], [id], [for], [data-pointer], [data-for]").forEach(function (el) {
      ["name", "id", "for", "data-pointer", "data-for"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value && value.indexOf(ROW) >= 0) el.setAttribute(attr, value.split(ROW).join(String(index)));
      });
    });
  }

  function addRow(rows) {
    var template = rows.querySelector(":scope > template");
    var list = rows.querySelector(":scope > .row-list");
    var max = parseInt(rows.dataset.max || "0", 10);
    if (max && list.children.length >= max) return;
    var index = parseInt(rows.dataset.next || "0", 10);
    rows.dataset.next = String(index + 1);
    var copy = template.content.firstElementChild.cloneNode(true);
    renumber(copy, index);
    list.appendChild(copy);
    var first = copy.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    if (button.classList.contains("add-row")) {
      addRow(button.closest(".rows"));
      changed();
    } else if (button.classList.contains("remove-row")) {
      button.closest(".row-item").remove();
      changed();
    }
  });

  document.querySelectorAll("form.delete-draft").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm("确定删除这份草稿吗?删除后不能恢复。")) event.preventDefault();
    });
  });

  var editor = document.getElementById("editor");
  if (!editor) return;
  var state = document.getElementById("check-state");
  var timer = null;
  var asked = 0;
  var touched = {};  // fields the clerk has been in: an empty field is not scolded before that

  function quiet(pointer) {
    // A finding about a field, object or list still empty that the clerk has not been in yet: a new form is all
    // empty fields, and each would say "缺少必填项". After a refused submission every finding shows.
    if (editor.dataset.all) return false;
    var holder = editor.querySelector('[data-pointer="' + CSS.escape(pointer) + '"]');
    if (!holder) return false;
    var inputs = holder.querySelectorAll("input[name], select[name], textarea[name]");
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (touched[input.name]) return false;
      if (input.type === "checkbox" ? input.checked : input.value.trim()) return false;
    }
    return true;
  }

  function changed() {
    if (!editor) return;
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 500);
  }

  function place(pointer) {
    // The finding's field, or the nearest object or list holding it, or the list for the whole case.
    var at = pointer;
    while (at) {
      var list = editor.querySelector('ul.findings[data-for="' + CSS.escape(at) + '"]');
      if (list) return list;
      at = at.substring(0, at.lastIndexOf("/"));
    }
    return document.getElementById("general-findings");
  }

  function show(findings) {
    editor.querySelectorAll("ul.findings").forEach(function (list) { list.innerHTML = ""; });
    editor.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    var unfilled = 0;
    findings.forEach(function (f) {
      if (quiet(f.pointer)) { unfilled += f.severity === "error" ? 1 : 0; return; }
      var item = document.createElement("li");
      item.className = f.severity;
      item.textContent = f.message;
      var list = place(f.pointer);
      list.appendChild(item);
      var holder = list.closest("[data-pointer]");
      if (holder && f.severity === "error") holder.classList.add("has-error");
    });
    var errors = findings.filter(function (f) { return f.severity === "error"; }).length;
    var wrong = errors - unfilled;
    state.textContent = !errors ? "检查通过,可以提交。"
      : (wrong ? wrong + " 处需要改正(见该项下面的红字)" : "") + (wrong && unfilled ? ",另有 " : "")
        + (unfilled ? unfilled + " 个必填项还没填" : "") + ";可以先保存草稿,以后接着填。";
    state.className = errors ? "hint pending" : "hint passed";
  }

  function check() {
    var mine = ++asked;
    fetch(editor.dataset.check, {method: "POST", body: new FormData(editor), credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer && mine === asked) show(answer.findings); })
      .catch(function () { state.textContent = "暂时无法检查(与工作台的连接中断),保存时会再检查。"; });
  }

  editor.addEventListener("input", changed);
  editor.addEventListener("change", changed);
  editor.addEventListener("focusout", function (event) {
    if (event.target.name) { touched[event.target.name] = true; changed(); }
  });
})();
