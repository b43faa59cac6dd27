// The "Use a passkey" button of the two-factor code pages (/api-auth/login/code/ and
// /admin/login/code/). A file rather than an inline script: the CSP is `script-src 'self'`.
// It asks the page's options URL for the pending sign-in's request options, lets the browser's
// authenticator answer them, and posts the answer (credential.toJSON()) in the page's form;
// the server checks it as mfa/verify/ does. Without WebAuthn (or JavaScript) the button stays
// hidden and the code form works as before.
"use strict";

(() => {
  const form = document.getElementById("passkey-form");
  const supported =
    window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.prototype.toJSON === "function";
  if (!form || !supported) {
    return;
  }
  const button = document.getElementById("passkey-button");
  const errorBox = document.getElementById("passkey-error");

  const showError = (message) => {
    const line = document.createElement("p");
    line.className = errorBox.dataset.errorClass;
    line.textContent = message;
    errorBox.replaceChildren(line);
  };

  // Why navigator.credentials.get() gave up, in words for the page.
  const ceremonyError = (error) => {
    if (error.name === "NotAllowedError") {
      return "The passkey was not used (cancelled or timed out): try again, or enter a code.";
    }
    return `The passkey could not be used (${error.name}): try again, or enter a code.`;
  };

  const requestOptions = async () => {
    const response = await fetch(form.dataset.optionsUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "X-CSRFToken": form.elements.csrfmiddlewaretoken.value,
      },
    });
    let body = {};
    try {
      body = await response.json();
    } catch {
      // Not JSON (a proxy's error page, a CSRF refusal): the status says enough.
    }
    if (response.ok && body.request_options) {
      return body.request_options;
    }
    if (body.login_url) {
      // The sign-in expired or was completed elsewhere: the password page says so.
      window.location.assign(body.login_url);
      return null;
    }
    showError(body.detail || `The passkey step failed (HTTP ${response.status}): enter a code.`);
    return null;
  };

  button.addEventListener("click", async () => {
    button.disabled = true;
    errorBox.replaceChildren();
    try {
      const options = await requestOptions();
      if (options === null) {
        return;
      }
      let credential;
      try {
        credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
        });
      } catch (error) {
        showError(ceremonyError(error));
        return;
      }
      form.elements.credential.value = JSON.stringify(credential.toJSON());
      form.submit();
    } catch (error) {
      showError(`The passkey step failed (${error.message}): enter a code.`);
    } finally {
      button.disabled = false;
    }
  });

  form.hidden = false;
})();
