// Passkey ceremonies on the sign-in pages. Progressive: every form with data-passkey keeps its
// button disabled and a "needs JavaScript" hint until this script finds WebAuthn in the browser.
// The options come from the form's data-options endpoint (CSRF token in the body); the browser's
// answer is posted in the form's hidden `credential` field, so the server sees an ordinary form.
(function () {
  'use strict';
  var W = window.SimpleWebAuthnBrowser;
  var supported = !!(W && W.browserSupportsWebAuthn());
  var forms = document.querySelectorAll('form[data-passkey]');

  function statusOf(form) { return form.querySelector('[data-passkey-status]'); }

  function say(form, text) {
    var status = statusOf(form);
    if (status) status.textContent = text;
  }

  function explain(err) {
    if (err && err.name === 'NotAllowedError') return 'The passkey was not used (cancelled or timed out). Try again, or use another way.';
    if (err && err.name === 'InvalidStateError') return 'This passkey is already registered for your account.';
    if (err && err.name === 'AbortError') return '';
    return 'That did not work' + (err && err.message ? ': ' + err.message : '.') + ' Try again, or use another way.';
  }

  function ceremony(form, autofill) {
    var csrf = form.querySelector('input[name=csrf]').value;
    if (!autofill) say(form, 'Follow your browser\u2019s prompt to use your passkey\u2026');
    return fetch(form.getAttribute('data-options'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ csrf: csrf }).toString(),
    })
      .then(function (res) {
        // A refusal may come as a page (say, a network the policy does not allow): read it as no detail.
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (!res.ok) throw new Error(body && body.error ? body.error : res.status === 403 ? 'this is not allowed from here' : 'the server answered ' + res.status);
          return body;
        });
      })
      .then(function (optionsJSON) {
        return form.getAttribute('data-passkey') === 'register'
          ? W.startRegistration({ optionsJSON: optionsJSON })
          : W.startAuthentication({ optionsJSON: optionsJSON, useBrowserAutofill: !!autofill });
      })
      .then(function (credential) {
        form.querySelector('input[name=credential]').value = JSON.stringify(credential);
        say(form, 'Checking\u2026');
        form.submit();
      })
      .catch(function (err) {
        // The autofill request runs in the background: its failures are nobody's doing, so they stay silent.
        var text = autofill ? '' : explain(err);
        if (text) say(form, text);
      });
  }

  Array.prototype.forEach.call(forms, function (form) {
    var button = form.querySelector('[data-needs-js]');
    var hint = form.querySelector('[data-no-js]');
    if (!supported) {
      if (hint) hint.textContent = 'This browser cannot use passkeys. Use another way.';
      return;
    }
    if (hint) hint.hidden = true;
    if (button) button.disabled = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      ceremony(form, false);
    });
  });

  // Conditional UI: passkeys offered in the email field's autofill, where the browser supports it.
  var autofill = document.querySelector('form[data-passkey="authenticate"][data-autofill]');
  if (supported && autofill && W.browserSupportsWebAuthnAutofill) {
    W.browserSupportsWebAuthnAutofill().then(function (ok) {
      if (ok) ceremony(autofill, true);
    });
  }
})();
