// The ticket form suggests help articles while the subject is typed (GET /help/suggest).
(function () {
  "use strict";
  var input = document.querySelector("[data-suggest-url]");
  var box = document.getElementById("suggestions");
  if (!input || !box) { return; }
  var timer = null;
  var last = "";
  function show(articles) {
    var list = box.querySelector("ul");
    list.textContent = "";
    articles.forEach(function (a) {
      var li = document.createElement("li");
      var link = document.createElement("a");
      link.href = a.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = a.title;
      li.appendChild(link);
      list.appendChild(li);
    });
    box.hidden = articles.length === 0;
  }
  function ask() {
    var q = input.value.trim();
    if (q === last) { return; }
    last = q;
    if (q.length < 3) { show([]); return; }
    fetch(input.getAttribute("data-suggest-url") + "?q=" + encodeURIComponent(q), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {articles: []}; })
      .then(function (data) { if (input.value.trim() === q) { show(data.articles || []); } })
      .catch(function () { show([]); });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 250);
  });
})();
