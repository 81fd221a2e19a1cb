// Copy buttons of the console (progressive enhancement: without JavaScript the values are plain, selectable text).
for (const button of document.querySelectorAll('button.copy[data-copy]')) {
  if (!navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener('click', async () => {
    const text = document.getElementById(button.dataset.copy)?.textContent ?? '';
    await navigator.clipboard.writeText(text);
    button.dataset.copied = 'true';
    button.setAttribute('aria-live', 'polite');
  });
}
