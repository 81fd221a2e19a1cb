// The IP whitelist editor of the security-policy pages (progressive enhancement). Without JavaScript the
// list is a textarea, one entry per line; with it, each entry is checked as it is added (an IPv4 or IPv6
// address or CIDR block, in the canonical form the server accepts) and the administrator's own address can
// be added with one button. The textarea stays the form's field: the list writes into it.
(function () {
  const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

  /** Hexadecimal groups only (the server refuses a dotted IPv4 part or a zone); the URL parser checks the rest. */
  function isIpv6(address) {
    if (!address.includes(':') || !/^[0-9a-fA-F:]+$/.test(address)) return false;
    try {
      new URL('http://[' + address + ']/');
      return true;
    } catch {
      return false;
    }
  }

  /** Whether an entry is an address or a CIDR block (the server checks again, network address included). */
  function valid(entry) {
    const [address, prefix, extra] = entry.split('/');
    if (extra !== undefined) return false;
    const v4 = IPV4.test(address);
    const v6 = !v4 && isIpv6(address);
    if (!v4 && !v6) return false;
    if (prefix === undefined) return true;
    return /^(0|[1-9]\d{0,2})$/.test(prefix) && Number(prefix) <= (v4 ? 32 : 128);
  }

  for (const box of document.querySelectorAll('.whitelist[data-field]')) {
    const textarea = document.getElementById(box.dataset.field);
    if (!textarea) continue;
    const text = (name) => box.dataset['text' + name];
    const entries = () => textarea.value.split(/[\s,]+/).filter(Boolean);
    const say = (template, entry) => template.replace('%s', entry);

    // The textarea and its label give way to the list, the entry field and its buttons.
    const label = box.querySelector('label[for="' + textarea.id + '"]');
    const list = document.createElement('ul');
    list.className = 'whitelist-entries';
    const caption = document.createElement('p');
    caption.id = textarea.id + '-caption';
    caption.className = 'whitelist-caption';
    caption.textContent = text('Caption');
    list.setAttribute('aria-labelledby', caption.id);
    const row = document.createElement('div');
    row.className = 'whitelist-add';
    const inputId = textarea.id + '-entry';
    const messageId = textarea.id + '-message';
    row.innerHTML = '<label for="' + inputId + '"></label><span class="whitelist-add-row"><input type="text" id="' + inputId + '" autocomplete="off" spellcheck="false" aria-describedby="' + messageId + ' ' + textarea.id + '-own"><button type="button" class="secondary-button"></button></span>';
    row.querySelector('label').textContent = text('Entry');
    row.querySelector('button').textContent = text('Add');
    const input = row.querySelector('input');
    const message = document.createElement('p');
    message.id = messageId;
    message.className = 'whitelist-message';
    message.setAttribute('aria-live', 'polite');

    const render = () => {
      list.replaceChildren();
      for (const entry of entries()) {
        const item = document.createElement('li');
        const code = document.createElement('code');
        code.textContent = entry;
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'link';
        remove.textContent = text('Remove');
        remove.setAttribute('aria-label', text('Remove') + ' ' + entry);
        remove.addEventListener('click', () => {
          textarea.value = entries().filter((e) => e !== entry).join('\n');
          message.classList.remove('invalid');
          message.textContent = say(text('Removed'), entry);
          render();
          input.focus();
        });
        item.append(code, ' ', remove);
        list.append(item);
      }
      if (!list.children.length) {
        const empty = document.createElement('li');
        empty.className = 'hint';
        empty.textContent = text('Empty');
        list.append(empty);
      }
    };

    const add = (entry) => {
      entry = entry.trim();
      let problem = null;
      if (!valid(entry)) problem = text('Invalid');
      else if (entries().includes(entry)) problem = text('Duplicate');
      message.classList.toggle('invalid', problem !== null);
      input.setAttribute('aria-invalid', problem ? 'true' : 'false');
      if (problem) {
        message.textContent = problem;
        return;
      }
      textarea.value = [...entries(), entry].join('\n');
      message.textContent = say(text('Added'), entry);
      input.value = '';
      render();
    };

    row.querySelector('button').addEventListener('click', () => add(input.value));
    input.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      add(input.value);
    });

    const own = box.dataset.ownAddress;
    const ownButton = document.createElement('button');
    ownButton.type = 'button';
    ownButton.className = 'secondary-button whitelist-own';
    ownButton.textContent = text('AddOwn');
    ownButton.hidden = !own || !valid(own);
    ownButton.addEventListener('click', () => add(own));

    label.hidden = true;
    textarea.hidden = true;
    textarea.before(caption, list, row, message);
    box.querySelector('#' + textarea.id + '-own').after(ownButton);
    render();
  }
})();
