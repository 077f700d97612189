// Keeps the inbox page current without reloading: fetch the sections every two seconds and swap them in.
(function () {
  var box = document.getElementById("live");
  if (!box) return;
  function refresh() {
    if (document.hidden) return;
    fetch(box.dataset.src, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) {
        if (r.redirected || !r.ok) { window.location.reload(); return null; }  // session ended: show the login page
        return r.text();
      })
      .then(function (html) { if (html !== null && html !== box.innerHTML) box.innerHTML = html; })
      .catch(function () { box.classList.add("offline"); });
  }
  setInterval(refresh, 2000);
})();
