// Shows each <time data-local> in the reader's own time zone, in the page's language. The server writes
// UTC (it does not know the zone); without JavaScript that text stays, saying "UTC".
(function () {
  var lang = document.documentElement.lang || undefined;
  var styles = { 'date-time': { dateStyle: 'medium', timeStyle: 'short' }, date: { dateStyle: 'long' } };
  function localize() {
    document.querySelectorAll('time[data-local]').forEach(function (el) {
      var when = new Date(el.getAttribute('datetime'));
      var style = styles[el.getAttribute('data-local')];
      if (isNaN(when.getTime()) || !style) return;
      try {
        el.textContent = new Intl.DateTimeFormat(lang, style).format(when);
        el.title = when.toISOString();
      } catch (e) { /* keep the server's UTC text */ }
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', localize);
  else localize();
})();
