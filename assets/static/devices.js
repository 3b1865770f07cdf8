// The device page's buttons: each calls the devices API with the session cookie and
// reloads or shows the outcome. No framework; a page without JavaScript still lists.
(function () {
  "use strict";
  var page = document.getElementById("devices");
  if (!page) { return; }
  var status = document.getElementById("devices-status");

  function say(text, link) {
    status.textContent = text + " ";
    if (link) {
      var a = document.createElement("a");
      a.href = page.dataset.signInAgain;
      a.textContent = "Sign in again";
      status.appendChild(a);
    }
  }

  function call(method, url, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      if (response.status === 204) { return { ok: true, data: null }; }
      return response.json().then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      }, function () { return { ok: response.ok, status: response.status, data: null }; });
    });
  }

  function failed(result) {
    var data = result.data || {};
    if (data.code === "reauthentication_required") {
      say(data.detail || "Please sign in again first.", true);
    } else if (data.name) {
      say(String(data.name));
    } else {
      say(data.detail || "That did not work (" + result.status + ").");
    }
  }

  document.querySelectorAll("form.device-rename").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = form.elements.name.value.trim();
      call("PATCH", form.dataset.api, { name: name }).then(function (result) {
        if (result.ok) { say("Renamed to " + name + "."); } else { failed(result); }
      });
    });
  });

  document.querySelectorAll("button.device-remove").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!window.confirm("Remove " + button.dataset.name + "? You will no longer be able to sign in with it.")) { return; }
      call("DELETE", button.dataset.api).then(function (result) {
        if (result.ok) { window.location.reload(); } else { failed(result); }
      });
    });
  });

  document.querySelectorAll("button.device-regenerate").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!window.confirm("Replace your recovery codes? The old ones stop working.")) { return; }
      call("POST", button.dataset.api).then(function (result) {
        if (!result.ok) { failed(result); return; }
        var list = document.getElementById("new-codes-list");
        list.textContent = "";
        (result.data.token_set || []).forEach(function (token) {
          var item = document.createElement("li");
          var code = document.createElement("code");
          code.textContent = token.token;
          item.appendChild(code);
          list.appendChild(item);
        });
        document.getElementById("new-codes").hidden = false;
        say("New recovery codes are below.");
      });
    });
  });
}());
