/* Chat page: sends each question to POST /api/chat with the settings of the form. The API key
   lives in this tab's sessionStorage and travels only in that request's JSON body. Answers are
   shown as text; full run ids become links built as DOM nodes (never parsed as HTML). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("chat-config").textContent);
  var form = document.getElementById("chat-form");
  var log = document.getElementById("chat-log");
  var send = document.getElementById("chat-send");
  var status = document.getElementById("chat-status");
  var fields = {
    question: document.getElementById("chat-question"),
    provider: document.getElementById("chat-provider"),
    model: document.getElementById("chat-model"),
    base_url: document.getElementById("chat-base-url"),
    api_key: document.getElementById("chat-key"),
  };
  var STORE_KEY = "chachaml.chat.";
  var RUN_ID = /\b[0-9a-f]{32}\b/g;

  function remembered(name) {
    try { return window.sessionStorage.getItem(STORE_KEY + name) || ""; } catch (e) { return ""; }
  }
  function remember(name, value) {
    try {
      if (value) window.sessionStorage.setItem(STORE_KEY + name, value);
      else window.sessionStorage.removeItem(STORE_KEY + name);
    } catch (e) { /* storage disabled: the value lives in the field only */ }
  }

  ["provider", "model", "base_url", "api_key"].forEach(function (name) {
    var saved = remembered(name);
    if (saved) fields[name].value = saved;
    fields[name].addEventListener("change", function () { remember(name, fields[name].value.trim()); });
  });
  function updatePlaceholder() {
    var model = (config.default_models || {})[fields.provider.value];
    fields.model.placeholder = model ? "default: " + model : "default";
  }
  fields.provider.addEventListener("change", updatePlaceholder);
  updatePlaceholder();
  document.getElementById("chat-forget").addEventListener("click", function () {
    fields.api_key.value = "";
    remember("api_key", "");
  });

  /* Text with every full run id turned into a link to its page. */
  function linked(text) {
    var out = document.createDocumentFragment();
    var last = 0;
    var match;
    RUN_ID.lastIndex = 0;
    while ((match = RUN_ID.exec(text)) !== null) {
      out.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = document.createElement("a");
      a.href = "/runs/" + match[0];
      a.className = "mono";
      a.textContent = match[0];
      out.appendChild(a);
      last = match.index + match[0].length;
    }
    out.appendChild(document.createTextNode(text.slice(last)));
    return out;
  }

  function entry(kind, label) {
    var box = document.createElement("div");
    box.className = "chat-entry chat-" + kind;
    var head = document.createElement("div");
    head.className = "chat-who muted small";
    head.textContent = label;
    box.appendChild(head);
    log.appendChild(box);
    return box;
  }

  function showAnswer(box, body) {
    var text = document.createElement("div");
    text.className = "chat-text";
    text.appendChild(linked(String(body.answer || "")));
    box.appendChild(text);
    var calls = body.tool_calls || [];
    if (calls.length) {
      var details = document.createElement("details");
      var summary = document.createElement("summary");
      summary.textContent = calls.length + " tool call" + (calls.length === 1 ? "" : "s") +
        " in " + (body.iterations || 0) + " step" + (body.iterations === 1 ? "" : "s");
      details.appendChild(summary);
      var list = document.createElement("ul");
      calls.forEach(function (call) {
        var li = document.createElement("li");
        var code = document.createElement("code");
        code.textContent = String(call.name) + "(" + JSON.stringify(call.arguments || {}) + ")";
        li.appendChild(code);
        if (call.error) li.appendChild(document.createTextNode(" → error: " + String(call.error)));
        list.appendChild(li);
      });
      details.appendChild(list);
      box.appendChild(details);
    }
  }

  function showError(box, message) {
    var err = document.createElement("div");
    err.className = "error-box";
    err.setAttribute("role", "alert");
    err.textContent = message;
    box.appendChild(err);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = fields.question.value.trim();
    if (!question) return;
    var body = { question: question, provider: fields.provider.value };
    ["model", "base_url", "api_key"].forEach(function (name) {
      var value = fields[name].value.trim();
      if (value) body[name] = value;
    });
    entry("question", "You").appendChild(linked(question));
    var box = entry("answer", "chachaml");
    send.disabled = true;
    status.textContent = "thinking…";
    fetch(config.api, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": window.chachaml.csrf(),
      },
      body: JSON.stringify(body),
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var msg = data && data.error ? data.error.message : "HTTP " + resp.status;
          showError(box, msg);
        } else {
          showAnswer(box, data);
          fields.question.value = "";
        }
      });
    }).catch(function (err) {
      showError(box, "the request failed: " + err.message);
    }).then(function () {
      send.disabled = false;
      status.textContent = "";
    });
  });

  send.disabled = false;
})();
