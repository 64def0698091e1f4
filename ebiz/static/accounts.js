// Registration: show only the fields of the chosen kind of account.
// Without JavaScript every fieldset stays visible and the server checks the chosen kind.
(function () {
  "use strict";
  var form = document.getElementById("register-form");
  if (!form) { return; }
  var radios = form.querySelectorAll('input[name="kind"]');
  var sets = form.querySelectorAll("fieldset[data-kind]");
  function update() {
    var chosen = form.querySelector('input[name="kind"]:checked');
    var kind = chosen ? chosen.value : "individual";
    sets.forEach(function (fs) {
      var show = fs.getAttribute("data-kind") === kind;
      fs.hidden = !show;
      fs.disabled = !show;
    });
  }
  radios.forEach(function (r) { r.addEventListener("change", update); });
  update();
}());
