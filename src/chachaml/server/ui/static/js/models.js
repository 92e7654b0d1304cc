/* Model page: a stage change asks in a confirm dialog and then posts directly. Without
   JavaScript the same form opens the server's confirmation page instead. */
(function () {
  "use strict";

  function field(form, name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }

  function question(form, stage) {
    var text = "Move " + form.dataset.model + " v" + form.dataset.version + " from " +
      form.dataset.current + " to " + stage + "?";
    var live = form.dataset.production;
    if (stage === "production" && live && live !== form.dataset.version) {
      text += "\n\nv" + live + " is in production now and will be archived.";
    }
    return text;
  }

  function onSubmit(event) {
    var form = event.currentTarget;
    var select = form.querySelector("select[name=stage]");
    if (!select || !form.dataset.csrf) return; /* fall back to the confirmation page */
    event.preventDefault();
    var stage = select.value;
    if (!window.confirm(question(form, stage))) return;
    var post = document.createElement("form");
    post.method = "post";
    post.action = form.getAttribute("action");
    post.hidden = true;
    field(post, "csrf_token", form.dataset.csrf);
    field(post, "action", "promote");
    field(post, "version", form.dataset.version);
    field(post, "stage", stage);
    field(post, "confirm", "yes");
    document.body.appendChild(post);
    post.submit();
  }

  document.querySelectorAll("form.promote-form").forEach(function (form) {
    form.addEventListener("submit", onSubmit);
  });
})();
