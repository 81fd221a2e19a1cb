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

  // What the script says, in the page's language: the page hands its translations in the form's
  // data-texts (views/partials/passkey-texts.ejs); English where it does not. '%s' marks a detail.
  var ENGLISH = {
    notUsed: 'The passkey was not used (cancelled or timed out). Try again, or use another way.',
    alreadyRegistered: 'This passkey is already registered for your account.',
    failedWith: 'That did not work: %s. Try again, or use another way.',
    failed: 'That did not work. Try again, or use another way.',
    notAllowedHere: 'this is not allowed from here',
    serverAnswered: 'the server answered %s',
    prompt: 'Follow your browser\u2019s prompt to use your passkey\u2026',
    checking: 'Checking\u2026',
    unsupported: 'This browser cannot use passkeys. Use another way.',
  };
  function textsOf(form) {
    var given = {};
    try { given = JSON.parse(form.getAttribute('data-texts') || '{}'); } catch (e) { given = {}; }
    var texts = {};
    Object.keys(ENGLISH).forEach(function (k) { texts[k] = typeof given[k] === 'string' ? given[k] : ENGLISH[k]; });
    return texts;
  }
  function fill(text, detail) { return text.replace('%s', detail); }

  function say(form, text) {
    var status = statusOf(form);
    if (status) status.textContent = text;
  }

  function explain(err, texts) {
    if (err && err.name === 'NotAllowedError') return texts.notUsed;
    if (err && err.name === 'InvalidStateError') return texts.alreadyRegistered;
    if (err && err.name === 'AbortError') return '';
    return err && err.message ? fill(texts.failedWith, err.message.replace(/[.\s]+$/, '')) : texts.failed;
  }

  function ceremony(form, autofill) {
    var csrf = form.querySelector('input[name=csrf]').value;
    var texts = textsOf(form);
    if (!autofill) say(form, texts.prompt);
    return fetch(form.getAttribute('data-options'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ csrf: csrf }).toString(),
    })
      .then(function (res) {
        // A refusal may come as a page (say, a network the policy does not allow): read it as no detail.
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (!res.ok) throw new Error(body && body.error ? body.error : res.status === 403 ? texts.notAllowedHere : fill(texts.serverAnswered, String(res.status)));
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
        say(form, texts.checking);
        form.submit();
      })
      .catch(function (err) {
        // The autofill request runs in the background: its failures are nobody's doing, so they stay silent.
        var text = autofill ? '' : explain(err, texts);
        if (text) say(form, text);
      });
  }

  Array.prototype.forEach.call(forms, function (form) {
    var button = form.querySelector('[data-needs-js]');
    var hint = form.querySelector('[data-no-js]');
    if (!supported) {
      if (hint) hint.textContent = textsOf(form).unsupported;
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
