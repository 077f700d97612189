// Scans for a package: files dropped on the box or chosen in the file input are listed, one row each, with a
// drop-down to say which checklist item each one is (posted in the files' order as "item"). Without this script
// the file input still works and one choice ("item-all") applies to every file.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form) return;
  var input = document.getElementById("files");
  var drop = document.getElementById("drop");
  var rows = document.getElementById("upload-rows");
  var body = rows.querySelector("tbody");
  var template = document.getElementById("upload-row");
  var fallback = document.getElementById("item-all-row");
  var chosen = [];  // File objects, in the order they are posted
  var items = [];  // the item chosen for each, kept while rows are redrawn

  function size(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function sync() {
    // The input posts exactly the files listed, in their order.
    var transfer = new DataTransfer();
    chosen.forEach(function (file) { transfer.items.add(file); });
    input.files = transfer.files;
    body.innerHTML = "";
    chosen.forEach(function (file, i) {
      var row = template.content.firstElementChild.cloneNode(true);
      row.querySelector(".name").textContent = file.name;
      row.querySelector(".size").textContent = size(file.size);
      var select = row.querySelector("select");
      select.value = items[i] || fallback.querySelector("select").value;
      select.id = "item-" + i;
      select.addEventListener("change", function () { items[i] = select.value; });
      items[i] = select.value;
      row.querySelector(".remove-file").addEventListener("click", function () {
        chosen.splice(i, 1);
        items.splice(i, 1);
        sync();
      });
      body.appendChild(row);
    });
    rows.hidden = chosen.length === 0;
    fallback.hidden = chosen.length > 0;
  }

  function add(files) {
    for (var i = 0; i < files.length; i++) chosen.push(files[i]);
    sync();
  }

  input.addEventListener("change", function () {
    // The browser's choice replaces the input's files: those listed before are kept, the new ones added.
    add(Array.prototype.slice.call(input.files));
  });
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function () { drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    add(event.dataTransfer.files);
  });
  form.addEventListener("submit", function () {
    var button = document.getElementById("upload-submit");
    button.disabled = true;
    button.textContent = "正在上传并重新成卷…";
  });
})();
