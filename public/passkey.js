// Tessera's passkey ceremonies (WebAuthn), the one part of the site that
// needs JavaScript. A button with data-passkey="create" or "get" carries the
// server's options (JSON) in data-passkey-options; its answer goes into the
// form's hidden field marked data-passkey-answer and the form is sent as if
// by a submit button, so it works whether or not the page is hydrated.
"use strict";
(function () {
  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    return Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); });
  }
  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withIds(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBytes(c.id) }); });
  }

  async function create(options) {
    var pk = options.publicKey;
    pk.challenge = toBytes(pk.challenge);
    pk.user.id = toBytes(pk.user.id);
    pk.excludeCredentials = withIds(pk.excludeCredentials);
    var cred = await navigator.credentials.create({ publicKey: pk });
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toText(cred.response.attestationObject),
        clientDataJSON: toText(cred.response.clientDataJSON),
        transports: cred.response.getTransports ? cred.response.getTransports() : [],
      },
      extensions: cred.getClientExtensionResults(),
    };
  }

  // The username field's autofill request, pending until a passkey is
  // picked there or a button asks the browser itself.
  var autofill = null;

  async function get(options, conditional) {
    var pk = options.publicKey;
    pk.challenge = toBytes(pk.challenge);
    pk.allowCredentials = withIds(pk.allowCredentials);
    var request = { publicKey: pk };
    if (conditional) {
      autofill = new AbortController();
      request.mediation = "conditional";
      request.signal = autofill.signal;
    } else if (autofill) {
      autofill.abort();
      autofill = null;
    }
    var cred = await navigator.credentials.get(request);
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toText(cred.response.authenticatorData),
        clientDataJSON: toText(cred.response.clientDataJSON),
        signature: toText(cred.response.signature),
        userHandle: toText(cred.response.userHandle),
      },
      extensions: cred.getClientExtensionResults(),
    };
  }

  function say(form, words) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) status.textContent = words;
  }

  // The sign-in page offers its passkeys in the username field's autofill
  // (conditional mediation), where the browser can.
  async function offerAutofill() {
    var form = document.querySelector("form[data-passkey-autofill]");
    var button = form && form.querySelector("button[data-passkey]");
    var field = form && form.querySelector("input[data-passkey-answer]");
    if (!button || !field || autofill || !window.PublicKeyCredential) return;
    if (!PublicKeyCredential.isConditionalMediationAvailable) return;
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    try {
      var answer = await get(JSON.parse(button.getAttribute("data-passkey-options")), true);
      autofill = null;
      field.value = JSON.stringify(answer);
      form.requestSubmit();
    } catch (e) {
      autofill = null; // aborted for a button, or refused: the button stays
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", offerAutofill);
  } else {
    offerAutofill();
  }
  // A sign-in page reached without a page load (the app's own navigation).
  document.addEventListener("focusin", function (event) {
    var ac = event.target && event.target.getAttribute && event.target.getAttribute("autocomplete");
    if (ac && ac.indexOf("webauthn") !== -1) offerAutofill();
  });

  document.addEventListener("click", async function (event) {
    var button = event.target.closest && event.target.closest("button[data-passkey]");
    if (!button) return;
    event.preventDefault();
    var form = button.closest("form");
    var field = form && form.querySelector("input[data-passkey-answer]");
    if (!field) return;
    if (!window.PublicKeyCredential) {
      say(form, "This browser cannot use passkeys. Use another way to sign in, or another browser.");
      return;
    }
    say(form, "Follow your browser to use your passkey…");
    button.disabled = true;
    try {
      var options = JSON.parse(button.getAttribute("data-passkey-options"));
      var answer = button.getAttribute("data-passkey") === "create" ? await create(options) : await get(options, false);
      field.value = JSON.stringify(answer);
      say(form, "");
      button.disabled = false;
      form.requestSubmit();
    } catch (e) {
      button.disabled = false;
      say(form, e && e.name === "NotAllowedError"
        ? "The passkey request was cancelled or timed out. Press the button to try again."
        : "Your browser could not use a passkey here" + (e && e.message ? ": " + e.message : "."));
    }
  });
})();
